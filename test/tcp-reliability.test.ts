// TCP under real conditions (docs/architecture.md, "TCP memory" and "TCP connections over time"): many
// simultaneous bulk flows, many nodes all to all, connection churn, ports that differ between processes, and
// peers that restart. Every byte is checked by SHA-256. Sized for CI; `npm run soak` (bench/soak.mts) runs the
// large versions.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { WireGuard, Server } from '../lib/index.js';
import { startDevnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { generateKeyPair } from '../lib/wire/keys.js';
import { bulkFlows, churn, meshAllToAll } from './fixtures/tcp/load.js';

const b64 = (b: Buffer) => b.toString('base64');
const open: Array<{ close(): Promise<void> }> = [];
const children = new Set<ChildProcess>();
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const o of open.reverse()) await o.close();
});

async function pair(): Promise<{ A: WireGuard; B: WireGuard }> {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.7.0.1/32'] });
  open.push(A);
  await A.start();
  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: A.publicKey, endpoint: `127.0.0.1:${A.listenPort}`, allowedIPs: ['10.7.0.1/32'] }] });
  open.push(B);
  await B.start();
  await A.addPeer({ publicKey: B.publicKey, endpoint: `127.0.0.1:${B.listenPort}`, allowedIPs: ['10.7.0.2/32'] });
  return { A, B };
}

test('300 simultaneous 1 MiB downloads between two nodes all arrive intact (none stalls)', { timeout: 120_000 }, async () => {
  const { A, B } = await pair();
  const r = await bulkFlows(A, B, '10.7.0.1', { flows: 300, bytes: 1 << 20 });
  assert.equal(r.failed.length, 0, `failed: ${r.failed.slice(0, 5).join(', ')}`);
  assert.equal(r.intact, 300);
});

/** On `port` of A, the first `stalled` connections get `stalledBytes` and are dialed by B and paused once data
 * arrives; then one more connection downloads 8 MiB. Returns the paused sockets and what the download got. */
async function besideStalledReaders(A: WireGuard, B: WireGuard, port: number, stalled: number, stalledBytes: number) {
  const big = Buffer.alloc(stalledBytes, 1);
  const blob = Buffer.alloc(8 << 20, 2);
  let n = 0;
  A.listen('tcp', `:${port}`).on('connection', (s) => { s.on('error', () => {}); s.end(n++ < stalled ? big : blob); });
  const paused = await Promise.all(Array.from({ length: stalled }, async () => {
    const s = await B.dial('tcp', `10.7.0.1:${port}`);
    s.pause();
    await once(s, 'readable');
    return s;
  }));
  const s = await B.dial('tcp', `10.7.0.1:${port}`);
  let got = 0;
  s.on('data', (d: Buffer) => { got += d.length; });
  await once(s, 'end');
  return { paused, got };
}

test('paused readers holding full windows do not starve other connections', { timeout: 60_000 }, async () => {
  const { A, B } = await pair();
  // 8 readers that never read, 16 MiB each on the way: 8 full 4 MiB windows would be three times the pbuf
  // pool that every device of the process shares for arriving packets.
  const { paused, got } = await besideStalledReaders(A, B, 9003, 8, 16 << 20);
  assert.equal(got, 8 << 20);
  // And the paused ones still get everything once they read.
  await Promise.all(paused.map(async (p) => {
    let total = 0; // what the stream buffered comes out as 'data' too
    const all = new Promise<void>((resolve) => p.on('end', resolve));
    p.on('data', (d: Buffer) => { total += d.length; });
    p.resume();
    await all;
    assert.equal(total, 16 << 20);
  }));
});

test('80 peers that stop reading do not stall the sender\'s other connections', { timeout: 60_000 }, async () => {
  // Each stalled connection keeps up to 256 KiB queued in the sender's stack; 80 of them fill its 16 MiB
  // device budget, and before the per-connection floor (TS_TCP_SND_FLOOR) every other connection waited.
  const { A, B } = await pair();
  const { paused, got } = await besideStalledReaders(A, B, 9004, 80, 6 << 20);
  assert.equal(got, 8 << 20);
  for (const p of paused) p.destroy();
});

test('20 Server nodes on the devnet, all to all: 380 transfers of 256 KiB arrive intact', { timeout: 180_000 }, async () => {
  const devnet = await startDevnet();
  open.push(devnet);
  const authKey = devnet.createAuthKey({ reusable: true });
  const nodes = Array.from({ length: 20 }, (_, i) => new Server({ hostname: `n${i}`, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ephemeral: true }));
  // Closed before the devnet (open is closed in reverse).
  for (const n of nodes) open.push(n);
  const r = await meshAllToAll(nodes, 256 << 10);
  assert.deepEqual(r.bad, []);
});

// A node in a child process (test/fixtures/tcp/node.mts) that we can kill and start again with the same key
// and UDP port, as a process restart does.
function child(args: string[]): Promise<{ p: ChildProcess; lines: AsyncIterator<string> }> {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'tcp', 'node.mts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(p);
  p.once('exit', () => children.delete(p));
  p.stdout!.setEncoding('utf8');
  const lines = (async function* () {
    let buf = '';
    for await (const chunk of p.stdout!) {
      buf += chunk;
      let k;
      while ((k = buf.indexOf('\n')) >= 0) { yield buf.slice(0, k); buf = buf.slice(k + 1); }
    }
  })();
  return Promise.resolve({ p, lines });
}

async function line(it: AsyncIterator<string>): Promise<string> {
  const r = await it.next();
  if (r.done) throw new Error('child ended');
  return r.value;
}

test('20,000 HTTP requests answered with Connection: close, server in its own process, are none refused', { timeout: 180_000 }, async () => {
  // Before: the server's TIME-WAIT pcbs filled its pool and the client's ports came round to 4-tuples the
  // server still held, which it answered with RST (ECONNREFUSED) from about the 16,000th request on.
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const srv = await child(['http', b64(ka.privateKey), b64(kb.publicKey)]);
  const port = await line(srv.lines);
  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: b64(ka.publicKey), endpoint: `127.0.0.1:${port}`, allowedIPs: ['10.7.0.1/32'] }] });
  open.push(B);
  await B.start();
  const r = await churn(B, '10.7.0.1', { requests: 20_000, concurrency: 32 });
  assert.deepEqual(r.errors, {});
  assert.equal(r.ok, 20_000);
  srv.p.kill();
});

test('ephemeral ports are random: two processes dialing the same listener use different ports', { timeout: 60_000 }, async () => {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.7.0.1/32'], peers: [{ publicKey: b64(kb.publicKey), allowedIPs: ['10.7.0.2/32'] }] });
  open.push(A);
  await A.start();
  const ports: number[] = [];
  A.listen('tcp', ':80').on('connection', (s) => { ports.push(s.remotePort!); s.on('error', () => {}); s.end('x'); });
  for (let run = 0; run < 2; run++) {
    const c = await child(['dial', b64(kb.privateKey), A.publicKey, `127.0.0.1:${A.listenPort}`, '3']);
    assert.equal(await line(c.lines), 'done');
    c.p.kill();
    await once(c.p, 'exit');
  }
  assert.equal(ports.length, 6);
  for (const p of ports) assert.ok(p >= 49152 && p <= 65535, `port ${p}`);
  // Before, every process started at the same port (rand() unseeded): 3 and 3 identical.
  assert.notDeepEqual(ports.slice(0, 3), ports.slice(3));
});

test('a dialing process that restarts can dial again at once while the peer still holds its old connections', { timeout: 60_000 }, async () => {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const A = new WireGuard({ privateKey: b64(ka.privateKey), address: ['10.7.0.1/32'], peers: [{ publicKey: b64(kb.publicKey), allowedIPs: ['10.7.0.2/32'] }] });
  open.push(A);
  await A.start();
  let accepted = 0;
  A.listen('tcp', ':80').on('connection', (s) => { accepted++; s.on('error', () => {}); s.write('x'); });
  const first = await child(['dial', b64(kb.privateKey), A.publicKey, `127.0.0.1:${A.listenPort}`, '100', 'hold']);
  assert.equal(await line(first.lines), 'done');
  first.p.kill('SIGKILL');
  await once(first.p, 'exit');
  // Same key, same address: the listener still holds 100 established connections from the first run.
  const second = await child(['dial', b64(kb.privateKey), A.publicKey, `127.0.0.1:${A.listenPort}`, '100']);
  assert.equal(await line(second.lines), 'done');
  second.p.kill();
  assert.equal(accepted, 200);
});

test('a listener that restarts mid-transfer: the client gets ECONNRESET, not a hang', { timeout: 90_000 }, async () => {
  const ka = generateKeyPair();
  const kb = generateKeyPair();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const serve = ['serve', b64(ka.privateKey), b64(kb.publicKey), String(port)];
  let srv = await child(serve);
  assert.equal(await line(srv.lines), 'ready');
  const B = new WireGuard({ privateKey: b64(kb.privateKey), address: ['10.7.0.2/32'],
    peers: [{ publicKey: b64(ka.publicKey), endpoint: `127.0.0.1:${port}`, allowedIPs: ['10.7.0.1/32'] }] });
  open.push(B);
  await B.start();
  const s = await B.dial('tcp', '10.7.0.1:80');
  const failed = new Promise<NodeJS.ErrnoException>((resolve) => s.on('error', resolve));
  let got = 0;
  let restarted = false;
  const restart = async () => {
    srv.p.kill('SIGKILL');
    await once(srv.p, 'exit');
    srv = await child(serve);
    assert.equal(await line(srv.lines), 'ready');
    // The client sends once more: TCP keeps retransmitting it, WireGuard re-handshakes with the new process
    // when its packets go unanswered, and the new stack, which has no such connection, answers RST.
    s.write('more');
  };
  s.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= 4 << 20 && !restarted) { restarted = true; void restart(); }
  });
  const err = await failed;
  assert.equal(err.code, 'ECONNRESET');
  assert.ok(got >= 4 << 20);
});
