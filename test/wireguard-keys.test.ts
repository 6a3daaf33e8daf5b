// Key hygiene of the WireGuard mode: the private key is held in one Buffer, zeroed once the engine has it and
// at close; low-order peer keys are refused when configured (constructor, wg-quick file, addPeer) with a coded
// error instead of timing out later.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { WireGuard } from '../lib/index.js';
import { privateKeyBufferOf } from '../lib/wireguard.js';
import { generateKeyPair, isLowOrderKey, x25519 } from '../lib/wire/keys.js';

const b64 = (b: Buffer) => b.toString('base64');
const open: WireGuard[] = [];
after(async () => {
  for (const w of open) await w.close();
});

// Public constants (RFC 7748 section 6.1; libsodium's blocklist): u = 0, and a point of order 8.
const ZERO = Buffer.alloc(32);
const ORDER8 = Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex');
// p - 1 with the top bit set: X25519 ignores that bit, so this is low order too.
const PM1_HI = Buffer.from(`ec${'ff'.repeat(30)}ff`, 'hex');

test('isLowOrderKey matches exactly the keys whose X25519 with a private key is all zeros', () => {
  const k = generateKeyPair();
  for (const bad of [ZERO, ORDER8, PM1_HI]) {
    assert.equal(isLowOrderKey(bad), true);
    assert.throws(() => x25519(k.privateKey, bad), { code: 'ERR_KEY_INVALID' });
  }
  for (let i = 0; i < 20; i++) {
    const pub = generateKeyPair().publicKey;
    assert.equal(isLowOrderKey(pub), false);
    assert.equal(x25519(k.privateKey, pub).length, 32);
  }
});

test('a low-order peer key is refused at configuration time with ERR_TSNET_LOW_ORDER_KEY', async () => {
  const ka = generateKeyPair();
  const base = { privateKey: b64(ka.privateKey), address: ['10.8.0.1/32'] };
  for (const bad of [ZERO, ORDER8, PM1_HI]) {
    assert.throws(() => new WireGuard({ ...base, peers: [{ publicKey: b64(bad), allowedIPs: ['10.8.0.2/32'] }] }),
      { name: 'TypeError', code: 'ERR_TSNET_LOW_ORDER_KEY', message: /peers\[0\]\.publicKey/ });
    const conf = `[Interface]\nPrivateKey = ${base.privateKey}\nAddress = 10.8.0.1/32\n\n[Peer]\nPublicKey = ${b64(bad)}\nAllowedIPs = 10.8.0.2/32\n`;
    assert.throws(() => WireGuard.fromConfig(conf), { code: 'ERR_TSNET_LOW_ORDER_KEY' });
  }
  const w = new WireGuard(base);
  open.push(w);
  await w.start();
  await assert.rejects(w.addPeer({ publicKey: b64(ORDER8), allowedIPs: ['10.8.0.2/32'], endpoint: '127.0.0.1:9' }),
    { name: 'TypeError', code: 'ERR_TSNET_LOW_ORDER_KEY' });
  assert.deepEqual(w.stats(), [], 'nothing was configured');
  await w.addPeer({ publicKey: b64(generateKeyPair().publicKey), allowedIPs: ['10.8.0.3/32'] });
  assert.equal(w.stats().length, 1);
});

test('the private key Buffer is zeroed once the engine has it and at close; the object exposes no copy', async () => {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.8.1.1/32'] });
  open.push(A);
  const held = privateKeyBufferOf(A)!;
  assert.deepEqual(held, ka.privateKey, 'one Buffer holds the key before start');
  const shown = inspect(A, { showHidden: true, depth: Infinity });
  assert.ok(!shown.includes(b64(ka.privateKey)) && !shown.includes(ka.privateKey.toString('hex')));
  await A.start();
  assert.ok(held.every((b) => b === 0), 'zeroed after start');
  // A key given as bytes is copied: the caller's Buffer is left alone, the node's copy is zeroed.
  const mine = Buffer.from(kb.privateKey);
  const B = new WireGuard({ privateKey: mine, address: ['10.8.1.2/32'],
    peers: [{ publicKey: A.publicKey, endpoint: `127.0.0.1:${A.listenPort}`, allowedIPs: ['10.8.1.1/32'] }] });
  open.push(B);
  assert.equal(B.publicKey, b64(kb.publicKey));
  await B.start();
  await A.addPeer({ publicKey: B.publicKey, allowedIPs: ['10.8.1.2/32'] });
  // The engine's copy still works: a TCP connection completes a handshake.
  const ln = A.listen('tcp', '10.8.1.1:9');
  const accepted = new Promise((r) => ln.once('connection', r));
  const s = await B.dial('tcp', '10.8.1.1:9');
  await accepted;
  s.destroy();
  ln.close();
  assert.deepEqual(mine, kb.privateKey);
  const heldB = privateKeyBufferOf(B)!;
  assert.ok(heldB !== mine && heldB.every((b) => b === 0));
  // Closing a node that never started zeroes its key too.
  const C = new WireGuard({ privateKey: b64(generateKeyPair().privateKey), address: ['10.8.1.3/32'] });
  const heldC = privateKeyBufferOf(C)!;
  assert.ok(heldC.some((b) => b !== 0));
  await C.close();
  assert.ok(heldC.every((b) => b === 0), 'zeroed at close');
  await A.close();
  assert.ok(held.every((b) => b === 0));
  assert.throws(() => new WireGuard({ privateKey: Buffer.alloc(31), address: ['10.8.1.4/32'] }), TypeError);
});
