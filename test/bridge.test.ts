// The stream transport between the engine and JavaScript (docs/architecture.md, "The bridge to
// JavaScript"): TCP without a descriptor per connection, for runtimes that cannot adopt a socketpair (Bun,
// Windows). This file forces it for its own process; the socket, compatibility, Server and relay tests then
// run again under TSNET_BRIDGE=stream in child processes (the transport is chosen once per process).
process.env.TSNET_BRIDGE = 'stream';

import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { once } from 'node:events';
import { Netstack } from '../lib/net/netstack.js';
import { bridgeMode, defaultBridgeMode } from '../lib/net/bridge.js';
import type { TailnetSocket } from '../lib/net/socket.js';

const root = path.join(__dirname, '..');
let a: Netstack;
let b: Netstack;

before(() => {
  a = new Netstack();
  b = new Netstack();
  a.addAddress('100.64.0.1');
  b.addAddress('100.64.0.2');
  a.device.linkMemory(b.device);
});

after(() => {
  a.close();
  b.close();
});

const sha = (x: Buffer): string => createHash('sha256').update(x).digest('hex');

/** Runs node with args in the repository, env added; resolves with its exit code and output. */
function child(args: string[], env: Record<string, string>, timeout = 300_000): Promise<{ code: number; out: string }> {
  const full: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete full.NODE_TEST_CONTEXT; // a test run of its own, not a subtest of this one
  return new Promise((resolve) =>
    execFile(process.execPath, args, { cwd: root, env: full, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` })));
}

test('the transport is chosen per process: TSNET_BRIDGE, else fd (stream on Bun and Windows); a bad value is a coded error', async () => {
  assert.equal(bridgeMode(), 'stream');
  assert.equal(defaultBridgeMode(), 'fd'); // Node on Linux, where this runs
  const bad = await child(['--import', 'tsx', '-e', "const { Netstack } = require('./lib/net/netstack.ts'); try { new Netstack(); } catch (e) { console.log('code=' + e.code); }"], { TSNET_BRIDGE: 'pipes' });
  assert.match(bad.out, /code=ERR_TSNET_BRIDGE/);
});

test('stream sockets are net.Sockets without a descriptor: 500 connections open no file descriptor', async () => {
  const ln = b.listen('tcp', ':7101', { backlog: 1000 });
  const accepted: TailnetSocket[] = [];
  ln.on('connection', (s: TailnetSocket) => accepted.push(s));
  const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;
  await a.dial('tcp', '100.64.0.2:7101').then((s) => s.destroy()); // the engine's own descriptors exist now
  while (accepted.length < 1) await once(ln, 'connection');
  accepted.pop()!.destroy();
  const before = fdCount();
  const socks = await Promise.all(Array.from({ length: 500 }, () => a.dial('tcp', '100.64.0.2:7101')));
  while (accepted.length < 500) await once(ln, 'connection');
  assert.equal(fdCount() - before, 0, 'descriptors opened for 500 connections');
  const s = socks[0]!;
  assert.ok(s instanceof net.Socket);
  assert.equal(s.bridge, 'stream');
  assert.equal((s as unknown as { _handle: unknown })._handle, null);
  assert.equal(s.remoteAddress, '100.64.0.2');
  assert.equal(s.remotePort, 7101);
  assert.equal(s.localAddress, '100.64.0.1');
  assert.deepEqual(s.address(), { address: '100.64.0.1', family: 'IPv4', port: s.localPort });
  assert.equal(s.pending, false);
  assert.equal(accepted[0]!.remoteAddress, '100.64.0.1');
  // Every connection still carries bytes both ways.
  accepted.forEach((p) => p.on('data', (c: Buffer) => p.end(c)));
  const replies = await Promise.all(socks.map(async (t, i) => {
    const got: Buffer[] = [];
    t.on('data', (c: Buffer) => got.push(c));
    t.write(`hello ${i}`);
    await once(t, 'end');
    t.destroy();
    return Buffer.concat(got).toString();
  }));
  assert.deepEqual(replies, socks.map((_, i) => `hello ${i}`));
  ln.close();
});

test('bytes written before the handshake completes go out first, in order', async () => {
  const ln = b.listen('tcp', ':7102');
  const got = new Promise<Buffer>((resolve) => ln.on('connection', (p: TailnetSocket) => {
    const parts: Buffer[] = [];
    p.on('data', (c: Buffer) => parts.push(c));
    p.on('end', () => resolve(Buffer.concat(parts)));
  }));
  const data = randomBytes(3 << 20); // beyond the write credit: some of it waits for 'written' events
  const s = a.connect('tcp', '100.64.0.2:7102');
  assert.equal(s.pending, true);
  assert.equal(s.remoteAddress, undefined);
  s.write(data.subarray(0, 1000));
  s.end(data.subarray(1000));
  assert.equal(sha(await got), sha(data));
  await once(s, 'close');
  ln.close();
});

test('a slow reader holds at most the engine\'s credit in JavaScript, and every byte arrives in order', async () => {
  const ln = b.listen('tcp', ':7103');
  const accepted = once(ln, 'connection') as Promise<[TailnetSocket]>;
  const s = await a.dial('tcp', '100.64.0.2:7103');
  const [peer] = await accepted;
  const data = randomBytes(16 << 20);
  s.end(data);
  const parts: Buffer[] = [];
  let most = 0;
  // Read a little per 'readable', yielding to the event loop between reads: a reader slower than the sender.
  await new Promise<void>((resolve) => {
    const step = (): void => {
      most = Math.max(most, peer.readableLength);
      const c = peer.read(16384) as Buffer | null;
      if (c) {
        parts.push(c);
        setImmediate(step);
      } else if (peer.readableEnded) resolve();
      else peer.once('readable', step);
    };
    peer.once('end', resolve);
    peer.once('readable', step);
  });
  parts.push(...((): Buffer[] => { const r: Buffer[] = []; let c; while ((c = peer.read() as Buffer | null)) r.push(c); return r; })());
  assert.equal(sha(Buffer.concat(parts)), sha(data));
  // The Readable's own highWaterMark plus at most one event's payload (the engine's credit, 512 KiB).
  assert.ok(most <= peer.readableHighWaterMark + 512 * 1024, `JavaScript held ${most} bytes`);
  peer.destroy();
  ln.close();
});

// The tests that touch sockets, again under the stream transport (and the engine on its own thread, as on
// Bun and Deno). tcp-reliability's longest tests stay fd-only to keep the suite's time.
const MATRIX: Array<{ name: string; env: Record<string, string>; args: string[] }> = [
  { name: 'netstack, compat, server, magicsock (relay streams)', env: { TSNET_BRIDGE: 'stream' }, args: ['test/netstack.test.ts', 'test/compat.test.ts', 'test/server.test.ts', 'test/magicsock.test.ts'] },
  { name: 'netstack with the engine on its own thread', env: { TSNET_BRIDGE: 'stream', TSNET_ENGINE: 'thread' }, args: ['test/netstack.test.ts'] },
  {
    name: 'tcp-reliability: many connections, paused readers, a restarting listener',
    env: { TSNET_BRIDGE: 'stream' },
    args: ['--test-name-pattern=simultaneous|paused readers|stop reading|restarts mid-transfer', 'test/tcp-reliability.test.ts'],
  },
];
for (const m of MATRIX) {
  test(`under TSNET_BRIDGE=stream: ${m.name}`, { timeout: 400_000 }, async () => {
    const r = await child(['--import', 'tsx', '--test', '--test-reporter=tap', ...m.args], m.env, 390_000);
    const summary: string[] = r.out.match(/^# (pass|fail) \d+$/gm) ?? [];
    assert.equal(r.code, 0, `${summary.join(', ')}\n${r.out.split('\n').filter((l) => /^not ok|Error|expected|actual/.test(l)).slice(0, 40).join('\n')}`);
    assert.ok(summary.includes('# fail 0') && !summary.includes('# pass 0'), summary.join(', '));
  });
}
