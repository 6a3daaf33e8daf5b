/**
 * Connection limits of the development tailnet (docs/architecture.md, "Development tailnet limits"): floods
 * of unproven connections (idle Noise, DERP before ClientInfo) displace themselves while real nodes register
 * and relay; oversized pre-login DERP frames are refused from their header; pre-login and plain HTTP
 * connections that stay silent are closed. Loopback only; the limits are made small through options so
 * nothing waits long.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { PreAuthGate } from '../lib/devnet/pre-auth-gate.js';
import { startDerpServer } from '../lib/devnet/derp/server.js';
import { NoiseInitiator } from '../lib/control/noise.js';
import { generatePrivateKey, parseMachinePublic } from '../lib/wire/keys.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';
import { TestDerpClient } from './fixtures/devnet-derp/client.js';

async function tcp(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

function closed(s: Socket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve();
    const t = setTimeout(() => reject(new Error('socket was not closed by the server')), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    s.resume();
  });
}

/** A Noise connection with the handshake done and nothing sent after it (no credentials). */
async function idleNoise(net: Devnet, localAddress = '127.0.0.1'): Promise<Socket> {
  const url = new URL(net.controlURL);
  const ini = new NoiseInitiator({ version: 145, machinePrivate: generatePrivateKey(), controlPublic: parseMachinePublic(net.publicKey) });
  const s = await tcp(Number(url.port), localAddress);
  s.write(
    `POST /ts2021 HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n` +
      `X-Tailscale-Handshake: ${ini.initiation.toString('base64')}\r\nContent-Length: 0\r\n\r\n`,
  );
  const [d] = (await once(s, 'data')) as [Buffer];
  assert.match(d.toString('latin1'), /^HTTP\/1\.1 101 /);
  return s;
}

/** A DERP connection upgraded but without ClientInfo (TLS when given the relay's certificate). */
async function idleDerp(port: number, localAddress = '127.0.0.1', ca?: string): Promise<Socket> {
  let s: Socket;
  if (ca) {
    const t = tls.connect({ socket: await tcp(port, localAddress), host: '127.0.0.1', ca });
    t.on('error', () => {});
    await once(t, 'secureConnect');
    s = t;
  } else s = await tcp(port, localAddress);
  s.write('GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
  const [d] = (await once(s, 'data')) as [Buffer];
  assert.match(d.toString('latin1'), /^HTTP\/1\.1 101 /);
  return s;
}

async function idleDerpRequest(port: number, ca: string): Promise<Socket> {
  const t = tls.connect({ host: '127.0.0.1', port, ca });
  t.on('error', () => {});
  await once(t, 'secureConnect');
  return t;
}

async function register(net: Devnet): Promise<MiniClient> {
  const c = await MiniClient.connect(net.controlURL);
  const r = await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  assert.equal(r.MachineAuthorized, true);
  return c;
}

test('limits: the pre-auth gate closes the oldest unproven connection of the address at its cap, else of the heaviest address', () => {
  const g = new PreAuthGate({ perIP: 2, total: 3 });
  const evicted: string[] = [];
  const admit = (ip: string, name: string): ReturnType<PreAuthGate['admit']> => g.admit(ip, () => evicted.push(name));
  const a1 = admit('10.0.0.1', 'a1');
  admit('10.0.0.1', 'a2');
  admit('::ffff:10.0.0.1', 'a3'); // same address: a1 goes
  assert.deepEqual(evicted, ['a1']);
  assert.equal(a1.active, false);
  const b1 = admit('10.0.0.2', 'b1');
  assert.deepEqual(g.stats, { open: 3, evicted: 1 });
  admit('10.0.0.3', 'c1'); // total cap: the oldest of 10.0.0.1 (which holds the most) goes
  assert.deepEqual(evicted, ['a1', 'a2']);
  b1.release();
  b1.release(); // idempotent
  assert.deepEqual(g.stats, { open: 2, evicted: 2 });
  assert.throws(() => new PreAuthGate({ perIP: 0, total: 1 }), RangeError);
});

test('limits: bad limit options are refused', async () => {
  await assert.rejects(startDevnet({ limits: { preAuthTotal: -1 } }), RangeError);
  await assert.rejects(startDevnet({ limits: { httpIdleTimeoutMs: 1.5 } }), RangeError);
});

test('limits: idle Noise connections beyond the caps displace each other; real nodes register; unknown clients do not use maxConnections', async (t) => {
  const net = await startDevnet({ relay: false, maxConnections: 3, limits: { preAuthPerIP: 6, preAuthTotal: 9, preAuthTimeoutMs: 60_000 } });
  t.after(() => net.close());
  const flood: Socket[] = [];
  for (let i = 0; i < 9; i++) flood.push(await idleNoise(net));
  // Six per address: the three oldest were closed by the server to make room.
  await Promise.all(flood.slice(0, 3).map((s) => closed(s)));
  assert.equal(flood.filter((s) => !s.destroyed).length, 6);
  // From other addresses, the global cap (9) applies: the flooding address loses its oldest.
  const other = [await idleNoise(net, '127.0.0.2'), await idleNoise(net, '127.0.0.2'), await idleNoise(net, '127.0.0.3'), await idleNoise(net, '127.0.0.3'), await idleNoise(net, '127.0.0.4')];
  await closed(flood[3]!);
  await closed(flood[4]!);
  assert.ok(other.every((s) => !s.destroyed), 'connections from the lighter addresses stay');
  // Real nodes from the flooding address still register, more of them than maxConnections minus the flood.
  const clients = [await register(net), await register(net), await register(net)];
  const st = net.connectionStats();
  assert.equal(st.noiseKnown, 3);
  assert.ok(st.preAuthEvicted >= 5, JSON.stringify(st));
  assert.equal(st.preAuthTimedOut, 0);
  for (const c of clients) c.close();
  for (const s of [...flood, ...other]) s.destroy();
});

test('limits: a Noise client still unknown after the pre-auth timeout is dropped; a registered one stays', async (t) => {
  const net = await startDevnet({ relay: false, limits: { preAuthTimeoutMs: 300 } });
  t.after(() => net.close());
  const c = await register(net);
  t.after(() => c.close());
  const idle = await idleNoise(net);
  const t0 = Date.now();
  await closed(idle);
  assert.ok(Date.now() - t0 >= 250);
  assert.equal(net.connectionStats().preAuthTimedOut, 1);
  // The registered client's connection (older than the dropped one) is still usable.
  const r = await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  assert.equal(r.MachineAuthorized, true);
  assert.equal(net.connectionStats().noiseKnown, 1);
});

test('limits: before registering, request bodies are capped at 64 KiB; afterwards at 1 MiB', async (t) => {
  const net = await startDevnet({ relay: false });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  const big = Buffer.alloc(100 << 10, 0x20); // valid JSON whitespace, no object
  assert.equal((await c.post('/machine/register', big)).status, 413);
  const r = await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  assert.equal(r.MachineAuthorized, true);
  assert.equal((await c.post('/machine/register', big)).status, 400); // read, then found not to be a request
});

test('limits: an unknown client gets at most 4 requests at a time (interactive login long-polls count); a 5th gets 429', async (t) => {
  const net = await startDevnet({ relay: false, limits: { preAuthTimeoutMs: 200 } });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  const first = await c.register({});
  assert.ok(first.AuthURL);
  const waits = Array.from({ length: 4 }, () => c.register({ Followup: first.AuthURL! }));
  const fifth = await c.post('/machine/register', { Version: 145, NodeKey: c.nodeKey, Followup: first.AuthURL });
  assert.equal(fifth.status, 429);
  // An idle connection opened after the long-polls times out; the long-polling one, whose timer ran out
  // first, was kept because requests were in progress.
  await closed(await idleNoise(net));
  assert.equal(net.connectionStats().preAuthTimedOut, 1);
  net.approve(first.AuthURL!);
  // The first answered long-poll takes the approval; the others are told to ask again.
  const answers = await Promise.all(waits);
  assert.equal(answers.filter((r) => r.MachineAuthorized).length, 1);
  assert.equal(net.connectionStats().noiseKnown, 1);
});

test('limits: pre-login DERP frames are checked from their header: too long, wrong type and too short close at once', async (t) => {
  const s = await startDerpServer({ tls: false });
  t.after(() => s.close());
  const header = (type: number, len: number): Buffer => {
    const h = Buffer.alloc(5);
    h[0] = type;
    h.writeUInt32BE(len, 1);
    return h;
  };
  // 256 KiB + 1 (Tailscale's ClientInfo limit is 256 KiB), a SendPacket before ClientInfo, a ClientInfo too
  // short for key and nonce: each is refused from the 5-byte header, before any payload arrives.
  for (const h of [header(0x02, (256 << 10) + 1), header(0x04, 100), header(0x02, 10), header(0x02, 0xffffffff)]) {
    const sock = await idleDerp(s.port);
    sock.write(h);
    await closed(sock);
  }
  assert.equal(s.stats().protocolErrors, 4);
});

test('limits: partial ClientInfo frames share a byte budget; over it the connection holding the most is closed', async (t) => {
  const s = await startDerpServer({ tls: false, loginBufferBytes: 512 << 10 });
  t.after(() => s.close());
  const hdr = Buffer.from([0x02, 0, 4, 0, 0]); // declares 256 KiB, Tailscale's limit
  const socks: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const sock = await idleDerp(s.port);
    sock.write(Buffer.concat([hdr, Buffer.alloc(200 << 10, 0x41)]));
    socks.push(sock);
  }
  await Promise.race(socks.map((x) => closed(x)));
  const st = s.stats();
  assert.ok(st.loginBufferEvictions >= 1, JSON.stringify(st));
  assert.ok(st.loginBufferedBytes <= 512 << 10, JSON.stringify(st));
  // A real client's ClientInfo (a few hundred bytes) still gets through.
  const c = await TestDerpClient.connect({ host: '127.0.0.1', port: s.port });
  c.close();
  for (const x of socks) x.destroy();
});

test('limits: a DERP connection without ClientInfo is dropped after the login timeout, a partial ClientInfo too', async (t) => {
  const net = await startDevnet({ relay: { insecureHTTP: true, tickMs: 50 }, limits: { preAuthTimeoutMs: 300 } });
  t.after(() => net.close());
  const port = net.relay!.derp.port;
  const silent = await idleDerp(port);
  const partial = await idleDerp(port);
  partial.write(Buffer.concat([Buffer.from([0x02, 0, 4, 0, 0]), Buffer.alloc(1000)])); // declares 256 KiB, sends 1000 bytes
  await closed(silent);
  await closed(partial);
  assert.equal(net.relay!.derp.stats().loginTimeouts, 2);
  assert.equal(net.relay!.derp.stats().protocolErrors, 0);
});

test('limits: real nodes relay through DERP while idle pre-login connections flood it; those do not count against maxConnections', async (t) => {
  const net = await startDevnet({ relay: { maxConnections: 3 }, limits: { preAuthPerIP: 6, preAuthTotal: 10 } });
  t.after(() => net.close());
  const derp = net.relay!.derp;
  const ca = derp.certificate!;
  const [ma, mb, mc] = [await register(net), await register(net), await register(net)];
  t.after(() => [ma, mb, mc].forEach((m) => m.close()));
  const a = await TestDerpClient.connect({ host: '127.0.0.1', port: derp.port, ca, privateKey: ma!.nodePrivate });
  t.after(() => a.close());
  // A logged-in client has left the gate (its TLS socket was matched to its TCP connection).
  assert.equal(derp.stats().preAuthConnections, 0);
  const flood: Socket[] = [];
  for (let i = 0; i < 20; i++) flood.push(await idleDerp(derp.port, i % 2 ? '127.0.0.1' : '127.0.0.5', ca));
  // Joining during the flood (same address as half of it): still let in, and packets pass both ways.
  const b = await TestDerpClient.connect({ host: '127.0.0.1', port: derp.port, ca, privateKey: mb!.nodePrivate });
  const c = await TestDerpClient.connect({ host: '127.0.0.1', port: derp.port, ca, privateKey: mc!.nodePrivate });
  t.after(() => [b, c].forEach((x) => x.close()));
  a.sendPacket(b.publicKey, Buffer.from('a to b during the flood'));
  assert.equal(Buffer.from((await b.next('RecvPacket')).packet).toString(), 'a to b during the flood');
  c.sendPacket(a.publicKey, Buffer.from('c to a'));
  assert.equal(Buffer.from((await a.next('RecvPacket')).packet).toString(), 'c to a');
  const st = derp.stats();
  assert.equal(st.clients, 3);
  assert.ok(st.preAuthConnections <= 10, JSON.stringify(st));
  assert.ok(st.preAuthEvicted >= 10, JSON.stringify(st));
  await Promise.all(flood.slice(0, 10).map((s) => closed(s)));
  // A fourth client is over maxConnections (3): 503 at the upgrade; the others stay.
  const d = await idleDerpRequest(derp.port, ca);
  d.write('GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
  const [refused] = (await once(d, 'data')) as [Buffer];
  assert.match(refused.toString('latin1'), /^HTTP\/1\.1 503 /);
  await closed(d);
  b.sendPacket(c.publicKey, Buffer.from('still here'));
  await c.next('RecvPacket');
  for (const s of flood) s.destroy();
});

test('limits: plain HTTP connections that stay silent, stop mid-headers or idle after a response are closed', async (t) => {
  const limits = { httpIdleTimeoutMs: 300, headersTimeoutMs: 300, keepAliveTimeoutMs: 300 };
  const net = await startDevnet({ relay: { insecureHTTP: true }, limits });
  t.after(() => net.close());
  const port = Number(new URL(net.controlURL).port);
  for (const p of [port, net.relay!.derp.port]) {
    const silent = await tcp(p);
    const partial = await tcp(p);
    partial.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    await Promise.all([closed(silent), closed(partial)]);
  }
  // Keep-alive after a response (Node adds a second to keepAliveTimeout).
  const kept = await tcp(port);
  kept.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const [resp] = (await once(kept, 'data')) as [Buffer];
  assert.match(resp.toString('latin1'), /^HTTP\/1\.1 200 /);
  await closed(kept);
});
