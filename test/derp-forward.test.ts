import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { once } from 'node:events';
import { forwardBatched } from '../lib/magicsock/derp-forward.js';

/** A destination that records each write it is asked to make (a _writev batch counts as one). */
function recorder(opts: { slow?: boolean } = {}): { dst: Writable; writes: Buffer[][]; release: () => void } {
  const writes: Buffer[][] = [];
  let pending: (() => void)[] = [];
  const done = (cb: () => void): void => {
    if (opts.slow) pending.push(cb);
    else cb();
  };
  const dst = new Writable({
    write(chunk: Buffer, _e, cb) {
      writes.push([chunk]);
      done(cb);
    },
    writev(chunks, cb) {
      writes.push(chunks.map((c) => c.chunk as Buffer));
      done(cb);
    },
  });
  const release = (): void => {
    const p = pending;
    pending = [];
    for (const cb of p) cb();
  };
  return { dst, writes, release };
}

test('chunks read in one turn leave in one write, in order', async () => {
  const src = new PassThrough();
  const { dst, writes } = recorder();
  forwardBatched(src, dst as unknown as Duplex);
  // A TLS socket emits one 'data' per record within one read callback: emulate three in one turn.
  src.emit('data', Buffer.from('a'));
  src.emit('data', Buffer.from('bc'));
  src.emit('data', Buffer.from('def'));
  assert.equal(writes.length, 0, 'nothing leaves before the turn ends');
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  assert.equal(Buffer.concat(writes[0]!).toString(), 'abcdef');
  // A later turn is a write of its own.
  src.emit('data', Buffer.from('g'));
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 2);
  assert.equal(Buffer.concat(writes[1]!).toString(), 'g');
});

test('a full destination pauses the source until drain', async () => {
  const src = new PassThrough();
  const { dst, writes, release } = recorder({ slow: true });
  forwardBatched(src, dst as unknown as Duplex);
  const big = Buffer.alloc(300 * 1024, 1);
  src.emit('data', big);
  src.emit('data', big);
  assert.equal(src.isPaused(), false, 'within the turn the source flows');
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1, 'one write for the turn');
  assert.equal(src.isPaused(), true, "past the destination's high-water mark the source is paused");
  const drained = once(dst, 'drain');
  release();
  await drained;
  assert.equal(src.isPaused(), false, 'drain resumes it');
  assert.equal(writes.flat().reduce((n, b) => n + b.length, 0), 2 * big.length);
});

test('detaching stops forwarding and leaves nothing corked', async () => {
  const src = new PassThrough();
  const { dst, writes } = recorder();
  const stop = forwardBatched(src, dst as unknown as Duplex);
  src.emit('data', Buffer.from('x'));
  stop();
  assert.equal(writes.length, 1, 'what the turn collected is written when detached');
  src.emit('data', Buffer.from('y'));
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1, 'nothing after detaching');
});
