// Long-lived keys do not pin chunks of Node's shared Buffer pool (lib/util/own-buffer.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownCopy, ownFromHex } from '../lib/util/own-buffer.js';
import { parseNodePublic, parseDiscoPublic, nodePublicToText } from '../lib/wire/keys.js';
import { MemoryStore } from '../lib/control/store.js';

const owns = (b: Buffer): boolean => b.byteOffset === 0 && b.buffer.byteLength === b.length;

test('ownCopy and ownFromHex give buffers with ArrayBuffers of their own', () => {
  const pooled = Buffer.from('00112233', 'hex');
  assert.ok(!owns(pooled), 'Buffer.from of 4 bytes is a slice of the pool (else this test proves nothing)');
  const c = ownCopy(pooled);
  assert.ok(owns(c));
  assert.deepEqual([...c], [0, 0x11, 0x22, 0x33]);
  c[0] = 9;
  assert.equal(pooled[0], 0, 'a copy');
  const h = ownFromHex('a1b2');
  assert.ok(owns(h));
  assert.deepEqual([...h], [0xa1, 0xb2]);
});

test('parsed keys and stored values own their memory', async () => {
  const k = parseNodePublic(nodePublicToText(Buffer.alloc(32, 7)));
  assert.ok(owns(k));
  assert.ok(k.equals(Buffer.alloc(32, 7)));
  assert.ok(owns(parseDiscoPublic('discokey:' + 'ab'.repeat(32))));
  const s = new MemoryStore();
  await s.set('k', Buffer.from('hello'));
  const v = (await s.get('k'))!;
  assert.ok(owns(v));
  assert.equal(v.toString(), 'hello');
});
