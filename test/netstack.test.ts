// The userspace network stack and the socket bridge, on two devices joined by a memory link inside one
// engine (no WireGuard yet): what the JavaScript user sees must be a node:net socket in every respect.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { Netstack } from '../lib/net/netstack.js';
import type { TailnetSocket } from '../lib/net/socket.js';

let a: Netstack;
let b: Netstack;

before(() => {
  a = new Netstack();
  b = new Netstack();
  a.addAddress('100.64.0.1');
  a.addAddress('fd7a:115c:a1e0::1');
  b.addAddress('100.64.0.2');
  b.addAddress('fd7a:115c:a1e0::2');
  a.device.linkMemory(b.device);
});

after(() => {
  a.close();
  b.close();
});

// Reads to the end without destroying the stream (for-await would destroy it, closing the write side too).
const collect = (s: NodeJS.ReadableStream): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });

test('http over the stack: request, response and the peer addresses', async () => {
  const ln = b.listen('tcp', ':80');
  await once(ln, 'listening');
  const server = ln.serve(http.createServer((req, res) => {
    res.end(JSON.stringify({ from: req.socket.remoteAddress, family: req.socket.remoteFamily, local: req.socket.localAddress, lport: req.socket.localPort }));
  }));
  const agent = new http.Agent();
  agent.createConnection = ((opts: { host?: string; port?: number }) => a.connect('tcp', `${opts.host}:${opts.port}`)) as typeof agent.createConnection;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get({ host: '100.64.0.2', port: 80, path: '/', agent }, resolve).on('error', reject));
  const body = JSON.parse((await collect(res)).toString());
  assert.equal(res.statusCode, 200);
  assert.deepEqual(body, { from: '100.64.0.1', family: 'IPv4', local: '100.64.0.2', lport: 80 });
  agent.destroy();
  server.close();
  ln.close();
});

for (const [family, dst] of [['IPv4', '100.64.0.2'], ['IPv6', '[fd7a:115c:a1e0::2]']] as const) {
  test(`32 MiB each way over ${family} arrive intact and in order (pipeline, sha256)`, async () => {
    const ln = b.listen('tcp', ':7001');
    ln.on('connection', (s: TailnetSocket) => s.pipe(s)); // echo
    const payload = randomBytes(32 * 1024 * 1024);
    const s = await a.dial('tcp', `${dst}:7001`);
    assert.equal(s.remoteFamily, family);
    const received = collect(s);
    await pipeline(Readable.from([payload.subarray(0, 1 << 20), payload.subarray(1 << 20)]), new Writable({
      write(chunk, _enc, cb) { s.write(chunk, cb); },
      final(cb) { s.end(); cb(); },
    }));
    const echoed = await received;
    assert.equal(echoed.length, payload.length);
    assert.equal(createHash('sha256').update(echoed).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    ln.close();
  });
}

test('half-close: the client ends, still reads the server reply (allowHalfOpen)', async () => {
  const ln = b.listen('tcp', ':7002', { allowHalfOpen: true });
  ln.on('connection', async (s: TailnetSocket) => {
    const req = await collect(s); // until the client's FIN
    s.end(`got ${req.length} bytes`);
  });
  const s = await a.dial('tcp', '100.64.0.2:7002', { allowHalfOpen: true });
  s.end(Buffer.alloc(1000, 1));
  assert.equal((await collect(s)).toString(), 'got 1000 bytes');
  ln.close();
});

test('connection refused: ECONNREFUSED with address and port', async () => {
  await assert.rejects(a.dial('tcp', '100.64.0.2:9'), (err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, '100.64.0.2');
    assert.equal(err.port, 9);
    return true;
  });
});

test('reset: resetAndDestroy on one side gives ECONNRESET on the other', async () => {
  const ln = b.listen('tcp', ':7003');
  const accepted = once(ln, 'connection') as Promise<[TailnetSocket]>;
  const s = await a.dial('tcp', '100.64.0.2:7003');
  const [peer] = await accepted;
  const errored = once(s, 'error');
  peer.resetAndDestroy();
  const [err] = (await errored) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  ln.close();
});

test('abort: a signal aborts a pending dial with ABORT_ERR', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(a.dial('tcp', '100.64.0.2:80', { signal: ac.signal }), { code: 'ABORT_ERR', name: 'AbortError' });
});

test('EADDRINUSE for a second listener on the same port; bad arguments throw TypeError/RangeError', () => {
  const ln = b.listen('tcp', ':7004');
  assert.throws(() => b.listen('tcp', ':7004'), { code: 'EADDRINUSE' });
  assert.throws(() => b.listen('udp' as 'tcp', ':1'), TypeError);
  assert.throws(() => b.listen('tcp', 'nonsense'), TypeError);
  assert.throws(() => b.listen('tcp', ':70000'), RangeError);
  assert.throws(() => a.connect('tcp', '100.64.0.2:0'), RangeError);
  assert.throws(() => b.listen('tcp', '100.64.0.9:80'), { code: 'EADDRNOTAVAIL' });
  ln.close();
});

test('flow control: a reader that stops reading stops the writer, and nothing is lost', async () => {
  const ln = b.listen('tcp', ':7005');
  const accepted = once(ln, 'connection') as Promise<[TailnetSocket]>;
  const s = await a.dial('tcp', '100.64.0.2:7005');
  const [peer] = await accepted;
  peer.pause();
  const chunk = Buffer.alloc(64 * 1024, 0xab);
  let written = 0;
  // Write whenever the socket drains, until it stays blocked: the paused reader must stop the writer.
  for (;;) {
    while (s.write(chunk)) written += chunk.length;
    written += chunk.length;
    const drained = await Promise.race([once(s, 'drain').then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
    if (!drained) break;
    assert.ok(written < 256 * 1024 * 1024, 'the writer never blocked');
  }
  // Bounded: socket buffers plus the TCP window, far below what an unbounded queue would hold.
  assert.ok(written < 64 * 1024 * 1024, `wrote ${written} bytes before backpressure`);
  s.end();
  const got = await collect(peer.resume());
  assert.equal(got.length, written);
  ln.close();
});

test('socket options and properties behave as node:net', async () => {
  const ln = b.listen('tcp', ':7006');
  ln.on('connection', (s: TailnetSocket) => s.end('bye'));
  const s = await a.dial('tcp', '100.64.0.2:7006');
  assert.equal(s.setNoDelay(true), s);
  assert.equal(s.setKeepAlive(true, 1000), s);
  assert.equal(s.remoteAddress, '100.64.0.2');
  assert.equal(s.remotePort, 7006);
  assert.equal(s.localAddress, '100.64.0.1');
  assert.ok((s.localPort ?? 0) > 0);
  s.write('hi');
  assert.equal((await collect(s)).toString(), 'bye');
  assert.equal(s.bytesWritten, 2);
  assert.equal(s.bytesRead, 3);
  let timedOut = false;
  const t = await a.dial('tcp', '100.64.0.2:7006');
  t.setTimeout(50, () => { timedOut = true; t.destroy(); });
  t.pause();
  await once(t, 'close');
  assert.ok(timedOut, "setTimeout fired on an idle socket");
  ln.close();
});

test('listener: address(), async iteration, close semantics', async () => {
  const ln = b.listen('tcp4', ':0');
  const port = ln.address().port;
  assert.ok(port > 0);
  assert.equal(ln.address().family, 'IPv4');
  const it = ln[Symbol.asyncIterator]();
  const c1 = a.connect('tcp', `100.64.0.2:${port}`);
  const first = await it.next();
  assert.equal(first.done, false);
  assert.equal(first.value!.remoteAddress, '100.64.0.1');
  first.value!.destroy();
  c1.destroy();
  ln.close();
  assert.equal((await it.next()).done, true);
  await new Promise<void>((resolve) => ln.close((err) => { assert.equal((err as NodeJS.ErrnoException).code, 'ERR_SERVER_NOT_RUNNING'); resolve(); }));
});

test('UDP: listenPacket echo, connected dialPacket, fragmented 8000-byte datagram, rinfo', async () => {
  const server = b.listenPacket('udp', ':5300');
  await once(server, 'listening');
  assert.equal(server.address().port, 5300);
  server.on('message', (msg: Buffer, rinfo: { address: string; port: number }) => server.send(msg, rinfo.port, rinfo.address));

  const client = await a.dial('udp', '100.64.0.2:5300'); // a connected datagram socket
  const got = once(client, 'message') as Promise<[Buffer, { address: string; port: number; size: number; family: string }]>;
  client.send('ping');
  const [msg, rinfo] = await got;
  assert.equal(msg.toString(), 'ping');
  assert.deepEqual({ ...rinfo }, { address: '100.64.0.2', family: 'IPv4', port: 5300, size: 4 });

  const big = randomBytes(8000); // over the 1280-byte MTU: IP fragmentation and reassembly
  const gotBig = once(client, 'message') as Promise<[Buffer]>;
  client.send(big);
  assert.ok((await gotBig)[0].equals(big));

  const v6 = a.listenPacket('udp6', ':0');
  const got6 = once(v6, 'message') as Promise<[Buffer, { address: string; family: string }]>;
  v6.send(['he', Buffer.from('llo')], 5300, 'fd7a:115c:a1e0::2');
  const [m6, r6] = await got6;
  assert.equal(m6.toString(), 'hello');
  assert.equal(r6.address, 'fd7a:115c:a1e0::2');
  assert.equal(r6.family, 'IPv6');

  assert.throws(() => client.send('x', 0, '100.64.0.2'), RangeError);
  assert.throws(() => v6.send('x'), TypeError); // not connected
  assert.throws(() => b.listenPacket('udp', ':5300'), { code: 'EADDRINUSE' });
  for (const s of [server, client, v6]) s.close();
  await once(v6, 'close');
});

test('ports are per device; a listener can come back while its old connections live (SO_REUSEADDR semantics)', async () => {
  const la = a.listen('tcp', ':7010');
  const lb = b.listen('tcp', ':7010'); // another device, same port
  const ua = a.listenPacket('udp', ':5310');
  const ub = b.listenPacket('udp', ':5310');
  const accepted = once(lb, 'connection') as Promise<[TailnetSocket]>;
  const s = await a.dial('tcp', '100.64.0.2:7010');
  const [peer] = await accepted;
  lb.close();
  const lb2 = b.listen('tcp', ':7010'); // the accepted connection still holds port 7010
  assert.throws(() => b.listen('tcp', ':7010'), { code: 'EADDRINUSE' });
  s.write('still here');
  assert.equal(((await once(peer, 'data')) as [Buffer])[0].toString(), 'still here');
  for (const x of [s, peer]) x.destroy();
  for (const l of [la, lb2]) l.close();
  for (const u of [ua, ub]) u.close();
});
