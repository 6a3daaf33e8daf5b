/**
 * The relay core (sans I/O, fake clock), the STUN codec and responder, and
 * the self-signed certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { X509Certificate } from 'node:crypto';
import { generatePrivateKey, publicFromPrivate } from '../lib/wire/keys.js';
import { FrameType, decodeFrame, encodeFrame, encodeRawFrame, splitFrames, type Frame } from '../lib/devnet/derp/frames.js';
import { boxOpen, boxSeal } from '../lib/devnet/derp/nacl.js';
import { DerpRelay, type RelayConn } from '../lib/devnet/derp/relay.js';
import { buildBindingRequest, buildBindingResponse, parseBindingRequest, parseBindingResponse } from '../lib/devnet/derp/stun.js';
import { startStunServer } from '../lib/devnet/derp/stun-server.js';
import { generateSelfSignedCert } from '../lib/devnet/derp/cert.js';

interface Peer {
  conn: RelayConn;
  priv: Buffer;
  pub: Buffer;
  closed: string | null;
}

function out(c: RelayConn): Frame[] {
  return c.takeOutput().flatMap((b) => splitFrames(b).map((r) => decodeFrame(r.frameType, r.payload)));
}

function join(relay: DerpRelay, now: number, info: object = { version: 2, CanAckPings: true }, priv = generatePrivateKey()): Peer {
  const conn = relay.open('test', now);
  const p: Peer = { conn, priv, pub: publicFromPrivate(priv), closed: null };
  conn.onClose = (r) => (p.closed = r);
  const [sk] = out(conn);
  assert.equal(sk!.type, 'ServerKey');
  const nonce = Buffer.alloc(24, 3);
  conn.receive(encodeFrame({ type: 'ClientInfo', key: p.pub, nonce, box: boxSeal(Buffer.from(JSON.stringify(info)), nonce, relay.publicKey, priv) }), now);
  return p;
}

test('relay core: handshake, ServerInfo sealed to the client, forwarding, keep-alives on the clock', () => {
  const relay = new DerpRelay({ privateKey: generatePrivateKey(), keepAliveMs: 60_000, keepAliveJitterMs: 0 });
  const a = join(relay, 0);
  const b = join(relay, 0);
  const [si] = out(a.conn);
  assert.equal(si!.type, 'ServerInfo');
  if (si!.type !== 'ServerInfo') return;
  assert.deepEqual(JSON.parse(Buffer.from(boxOpen(si.box, si.nonce, relay.publicKey, a.priv)!).toString()), { version: 2 });
  out(b.conn);
  a.conn.receive(encodeFrame({ type: 'SendPacket', dst: b.pub, packet: Buffer.from('hi') }), 10);
  const [rp] = out(b.conn);
  assert.ok(rp!.type === 'RecvPacket' && Buffer.from(rp.src).equals(a.pub) && Buffer.from(rp.packet).toString() === 'hi');
  relay.tick(59_000);
  assert.equal(out(a.conn).length, 0);
  relay.tick(60_001);
  assert.deepEqual(out(a.conn), [{ type: 'KeepAlive' }]);
  relay.tick(60_002);
  assert.equal(out(a.conn).length, 0, 'next keep-alive a period later');
  // With jitter, each connection's period is 60 s plus up to 5 s.
  const jr = new DerpRelay({ privateKey: generatePrivateKey(), keepAliveMs: 60_000, random: (n) => Buffer.alloc(n, 0xff) });
  const j = join(jr, 0);
  out(j.conn);
  jr.tick(64_000);
  assert.equal(out(j.conn).length, 0);
  jr.tick(65_000);
  assert.deepEqual(out(j.conn), [{ type: 'KeepAlive' }]);
  // Unknown frame types are skipped; Pong and KeepAlive from clients ignored.
  a.conn.receive(Buffer.concat([encodeRawFrame(0x7e, Buffer.from('future')), encodeFrame({ type: 'Pong', data: Buffer.alloc(8) }), encodeFrame({ type: 'NotePreferred', preferred: true })]), 61_000);
  assert.equal(a.conn.state, 'active');
  assert.equal(a.conn.preferred, true);
});

test('relay core: login timeout, liveness pings and idle close', () => {
  const relay = new DerpRelay({ privateKey: generatePrivateKey(), loginTimeoutMs: 10_000, idleTimeoutMs: 100_000, keepAliveMs: 1e9 });
  const lazy = relay.open('lazy', 0);
  let lazyClosed = '';
  lazy.onClose = (r) => (lazyClosed = r);
  relay.tick(9_999);
  assert.equal(lazy.state, 'login');
  relay.tick(10_000);
  assert.equal(lazy.state, 'closed');
  assert.match(lazyClosed, /login/);

  const a = join(relay, 0);
  const old = join(relay, 0, { version: 2 }); // cannot ack pings: never idled out
  out(a.conn);
  relay.tick(49_999);
  assert.equal(out(a.conn).length, 0);
  relay.tick(50_000);
  const [ping] = out(a.conn);
  assert.equal(ping!.type, 'Ping');
  // Answering keeps it alive.
  if (ping!.type === 'Ping') a.conn.receive(encodeFrame({ type: 'Pong', data: ping.data }), 60_000);
  relay.tick(100_000);
  assert.equal(a.conn.state, 'active');
  relay.tick(160_000);
  assert.equal(a.conn.state, 'closed');
  assert.match(a.closed ?? '', /idle/);
  assert.equal(old.conn.state, 'active');
});

test('relay core: per-client packet queue drops the oldest when full; PeerGone(NotHere) is rate-limited', () => {
  const relay = new DerpRelay({ privateKey: generatePrivateKey(), sendQueuePackets: 2 });
  const a = join(relay, 0);
  const b = join(relay, 0);
  out(a.conn);
  out(b.conn);
  for (let i = 0; i < 5; i++) a.conn.receive(encodeFrame({ type: 'SendPacket', dst: b.pub, packet: Buffer.of(i) }), 1);
  assert.equal(relay.stats.packetsDroppedQueueFull, 3);
  assert.equal(b.conn.dropped, 3);
  assert.ok(relay.stats.queuedBytes > 0);
  const got = out(b.conn).map((f) => (f.type === 'RecvPacket' ? f.packet[0] : -1));
  assert.deepEqual(got, [3, 4]);
  assert.equal(relay.stats.queuedBytes, 0);

  const nobody = Buffer.alloc(32, 0xee);
  for (let i = 0; i < 10; i++) a.conn.receive(encodeFrame({ type: 'SendPacket', dst: nobody, packet: Buffer.of(i) }), 1000);
  const gone = out(a.conn).filter((f) => f.type === 'PeerGone');
  assert.equal(gone.length, 3, 'burst of 3');
  assert.equal(relay.stats.packetsDroppedUnknownDest, 10);
  a.conn.receive(encodeFrame({ type: 'SendPacket', dst: nobody, packet: Buffer.of(0) }), 2500);
  assert.equal(out(a.conn).filter((f) => f.type === 'PeerGone').length, 1, 'refilled over time');
});

test('relay core: a second connection with the same key replaces the first (Health), mesh frames close, shutdown sends Restarting', () => {
  const relay = new DerpRelay({ privateKey: generatePrivateKey() });
  const priv = generatePrivateKey();
  const first = join(relay, 0, undefined, priv);
  out(first.conn);
  const second = join(relay, 0, undefined, priv);
  assert.equal(first.conn.state, 'closed');
  const left = out(first.conn);
  assert.ok(left.some((f) => f.type === 'Health' && /replaced/.test(f.problem)));
  assert.equal(relay.stats.clients, 1);
  assert.equal(relay.client(priv), undefined);
  assert.equal(relay.client(publicFromPrivate(priv)), second.conn);

  const m = join(relay, 0);
  m.conn.receive(encodeFrame({ type: 'WatchConns' }), 1);
  assert.equal(m.conn.state, 'closed');
  assert.match(m.closed ?? '', /mesh/);

  out(second.conn);
  relay.shutdown(2000, 30_000);
  const fs = out(second.conn);
  assert.ok(fs.some((f) => f.type === 'Health'));
  assert.deepEqual(fs.find((f) => f.type === 'Restarting'), { type: 'Restarting', reconnectInMs: 2000, tryForMs: 30_000 });
  assert.equal(second.conn.state, 'closed');
  assert.equal(relay.open('late', 5).state, 'closed', 'no new connections while shutting down');
});

test('relay core: verifyClient sees the key and ClientInfo; a throwing hook rejects', () => {
  const calls: unknown[] = [];
  const relay = new DerpRelay({
    privateKey: generatePrivateKey(),
    verifyClient: (k, info) => {
      calls.push(info);
      if (info.AppName === 'boom') throw new Error('boom');
      return info.AppName === 'ok';
    },
  });
  assert.equal(join(relay, 0, { version: 2, AppName: 'ok' }).conn.state, 'active');
  assert.equal(join(relay, 0, { version: 2, AppName: 'no' }).conn.state, 'closed');
  assert.equal(join(relay, 0, { version: 2, AppName: 'boom' }).conn.state, 'closed');
  assert.equal(relay.stats.clientsRejected, 2);
  assert.equal(calls.length, 3);
});

// --- STUN ---------------------------------------------------------------------

/** A binding request built by hand (RFC 5389 §6, §15.5; docs/protocol/magicsock.md §4). */
function handBuiltRequest(txId: Buffer): Buffer {
  const msg = Buffer.concat([
    Buffer.from('0001' + '0014' + '2112a442', 'hex'), // Binding request, 20 bytes of attributes, magic cookie
    txId,
    Buffer.from('8022' + '0008', 'hex'),
    Buffer.from('tailnode'),
  ]);
  // FINGERPRINT: CRC-32 of the message before the attribute (whose 8 bytes the header length already counts) ^ 0x5354554e.
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((zlib.crc32(msg) ^ 0x5354554e) >>> 0);
  return Buffer.concat([msg, Buffer.from('8028' + '0004', 'hex'), fp]);
}

test('STUN codec: parses a hand-built Tailscale request; our request builder matches it; responses match RFC 5769 samples', () => {
  const tx = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');
  const req = handBuiltRequest(tx);
  assert.deepEqual(buildBindingRequest(tx), req);
  const r = parseBindingRequest(req);
  assert.ok(r.ok);
  if (r.ok) {
    assert.deepEqual(r.request.txId, tx);
    assert.equal(r.request.software, 'tailnode');
    assert.equal(r.request.hasFingerprint, true);
  }
  const bad = Buffer.from(req);
  bad[bad.length - 1]! ^= 1;
  assert.deepEqual(parseBindingRequest(bad), { ok: false, reason: 'bad FINGERPRINT' });
  assert.equal(parseBindingRequest(Buffer.from('hello world, not stun at all')).ok, false);
  assert.equal(parseBindingRequest(req.subarray(0, 30)).ok, false);
  // RFC 5769 §2.2 / §2.3: 192.0.2.1:32853 and [2001:db8:1234:5678:11:2233:4455:6677]:32853 with this transaction ID.
  const v4 = buildBindingResponse(tx, '192.0.2.1', 32853);
  assert.equal(v4.toString('hex'), '0101000c2112a442' + tx.toString('hex') + '00200008' + '0001a147e112a643');
  const v6 = buildBindingResponse(tx, '2001:db8:1234:5678:11:2233:4455:6677', 32853);
  assert.equal(v6.toString('hex'), '010100182112a442' + tx.toString('hex') + '00200014' + '0002a147' + '0113a9faa5d3f179bc25f4b5bed2b9d9');
  assert.deepEqual(parseBindingResponse(v6), { txId: tx, ip: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  assert.deepEqual(parseBindingResponse(buildBindingResponse(tx, '::ffff:10.1.2.3', 7)), { txId: tx, ip: '10.1.2.3', port: 7 });
});

test('STUN responder on 127.0.0.1: hand-built binding request → XOR-MAPPED-ADDRESS of our socket', async () => {
  const srv = await startStunServer();
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const tx = Buffer.from('0102030405060708090a0b0c', 'hex');
    const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    sock.send(Buffer.from('not stun'), srv.port, '127.0.0.1');
    sock.send(handBuiltRequest(tx), srv.port, '127.0.0.1');
    const m = await reply;
    assert.equal(m.readUInt16BE(0), 0x0101, 'binding success');
    assert.equal(m.readUInt32BE(4), 0x2112a442);
    assert.deepEqual(m.subarray(8, 20), tx);
    assert.equal(m.readUInt16BE(20), 0x0020, 'XOR-MAPPED-ADDRESS');
    assert.equal(m[25], 0x01, 'IPv4');
    const port = m.readUInt16BE(26) ^ 0x2112;
    const ip = [0, 1, 2, 3].map((i) => m[28 + i]! ^ [0x21, 0x12, 0xa4, 0x42][i]!).join('.');
    assert.equal(ip, '127.0.0.1');
    assert.equal(port, sock.address().port);
    const st = srv.stats();
    assert.equal(st.requests, 1);
    assert.equal(st.ignored, 1);
  } finally {
    sock.close();
    await srv.close();
  }
});

test('STUN responder on ::1 answers with an IPv6 XOR-MAPPED-ADDRESS', async (t) => {
  let srv;
  try {
    srv = await startStunServer({ host: '::1' });
  } catch {
    t.skip('no IPv6 loopback');
    return;
  }
  const sock = dgram.createSocket('udp6');
  try {
    await new Promise<void>((r) => sock.bind(0, '::1', () => r()));
    const tx = Buffer.alloc(12, 7);
    const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    sock.send(buildBindingRequest(tx), srv.port, '::1');
    const got = parseBindingResponse(await reply);
    assert.deepEqual(got, { txId: tx, ip: '0:0:0:0:0:0:0:1', port: sock.address().port });
  } finally {
    sock.close();
    await srv.close();
  }
});

// --- certificate ------------------------------------------------------------------

test('self-signed certificate: parses, verifies, names the hosts, and TLS clients trusting it connect', async () => {
  const c = generateSelfSignedCert({ names: ['127.0.0.1', 'derp.devnet.internal'], notBefore: new Date('2049-12-31T00:00:00Z'), days: 2 });
  const x = new X509Certificate(c.cert);
  assert.ok(x.verify(x.publicKey), 'self-signature verifies');
  assert.equal(x.subject, 'CN=derp.devnet.internal');
  assert.equal(x.subjectAltName, 'IP Address:127.0.0.1, DNS:derp.devnet.internal');
  assert.equal(x.ca, false);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(new Date(x.validTo).getUTCFullYear(), 2050, 'GeneralizedTime after 2049');
  assert.equal(x.fingerprint256.replace(/:/g, '').toLowerCase(), c.certName.slice('sha256-raw:'.length));

  const now = generateSelfSignedCert({ names: ['127.0.0.1'] });
  const server = tls.createServer({ cert: now.cert, key: now.key }, (s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as { port: number }).port;
    const text = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: now.cert }, () => {
        let d = '';
        s.on('data', (b: Buffer) => (d += b.toString()));
        s.on('end', () => resolve(d));
      });
      s.on('error', reject);
    });
    assert.equal(text, 'ok');
  } finally {
    server.close();
  }
});

test('relay core: random and mutated input never throws, and every connection ends active or closed with bounded buffers', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const relay = new DerpRelay({ privateKey: generatePrivateKey(), sendQueuePackets: 4, random: (n) => Buffer.alloc(n, 1) });
  const target = join(relay, 0);
  out(target.conn);
  const templates = [
    encodeFrame({ type: 'SendPacket', dst: target.pub, packet: Buffer.from('abc') }),
    encodeFrame({ type: 'Ping', data: Buffer.alloc(8, 2) }),
    encodeFrame({ type: 'NotePreferred', preferred: true }),
    encodeRawFrame(FrameType.PeerGone, Buffer.alloc(32)),
  ];
  for (let i = 0; i < 300; i++) {
    const p = i % 2 === 0 ? join(relay, i) : { conn: relay.open('fuzz', i) };
    let bytes: Buffer;
    if (rnd(3) === 0) {
      bytes = Buffer.alloc(1 + rnd(200));
      for (let k = 0; k < bytes.length; k++) bytes[k] = rnd(256);
    } else {
      bytes = Buffer.concat([templates[rnd(templates.length)]!, templates[rnd(templates.length)]!]);
      for (let k = 0; k < 3; k++) bytes[rnd(bytes.length)] = rnd(256);
    }
    // Feed in random chunk sizes.
    for (let off = 0; off < bytes.length; ) {
      const n = 1 + rnd(16);
      p.conn.receive(bytes.subarray(off, off + n), i);
      off += n;
    }
    assert.ok(p.conn.state === 'active' || p.conn.state === 'closed' || p.conn.state === 'login');
    assert.ok(target.conn.queuedPackets <= 4);
    p.conn.takeOutput();
    if (rnd(2) === 0) p.conn.close('done');
  }
  out(target.conn);
  relay.tick(1e9);
  assert.equal(relay.stats.queuedBytes, 0);
});
