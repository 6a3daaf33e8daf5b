/**
 * The development DERP relay end to end on loopback: TLS with the self-signed
 * certificate made at start, two clients written with the relay's codec,
 * forwarding, PeerGone, rejection of unknown clients, oversized frames,
 * slow readers, the HTTP endpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import https from 'node:https';
import http from 'node:http';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { generatePrivateKey, publicFromPrivate } from '../lib/wire/keys.js';
import { FrameReader, FrameType, MAX_PACKET_SIZE, decodeFrame, encodeFrame, encodeRawFrame, type Frame } from '../lib/devnet/derp/frames.js';
import { boxSeal } from '../lib/devnet/derp/nacl.js';
import { startDerpServer, type DerpServer } from '../lib/devnet/derp/server.js';
import { TestDerpClient } from './fixtures/devnet-derp/client.js';

function connect(s: DerpServer, o: Partial<Parameters<typeof TestDerpClient.connect>[0]> = {}): Promise<TestDerpClient> {
  return TestDerpClient.connect({ host: s.host, port: s.port, ca: s.certificate, ...o });
}

test('TLS end to end: handshake, packets both ways, ping/pong, PeerGone on disconnect', async () => {
  const s = await startDerpServer();
  try {
    assert.ok(s.certificate && s.certName);
    const x = new X509Certificate(s.certificate);
    assert.equal(s.certName, `sha256-raw:${createHash('sha256').update(x.raw).digest('hex')}`);
    assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);

    const a = await connect(s);
    const b = await connect(s);
    // The 101 response and the ServerKey frame name the same key.
    assert.match(a.responseHead, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(a.responseHead, /\r\nUpgrade: DERP\r\n/i);
    assert.match(a.responseHead, /\r\nDerp-Version: 2\r\n/i);
    assert.ok(a.responseHead.includes(`Derp-Public-Key: ${s.publicKey.toString('hex')}`));
    assert.deepEqual(a.serverKey, s.publicKey);
    assert.deepEqual(a.serverInfo, { version: 2 });
    a.send({ type: 'NotePreferred', preferred: true });

    a.sendPacket(b.publicKey, Buffer.from('packet from a to b'));
    const rb = await b.next('RecvPacket');
    assert.deepEqual(Buffer.from(rb.src), a.publicKey);
    assert.equal(Buffer.from(rb.packet).toString(), 'packet from a to b');

    const big = Buffer.alloc(MAX_PACKET_SIZE, 0x5a);
    b.sendPacket(a.publicKey, big);
    const ra = await a.next('RecvPacket');
    assert.deepEqual(Buffer.from(ra.src), b.publicKey);
    assert.deepEqual(Buffer.from(ra.packet), big, 'a full 64 KiB packet passes');

    a.send({ type: 'Ping', data: Buffer.from('0102030405060708', 'hex') });
    const pong = await a.next('Pong');
    assert.equal(Buffer.from(pong.data).toString('hex'), '0102030405060708');

    assert.deepEqual(s.clients().sort(), [`nodekey:${a.publicKey.toString('hex')}`, `nodekey:${b.publicKey.toString('hex')}`].sort());
    // b received from a, so when b leaves, a is told.
    b.close();
    const gone = await a.next('PeerGone');
    assert.deepEqual(Buffer.from(gone.key), b.publicKey);
    assert.equal(gone.reason, 0x00);

    // Sending to a key that is not here: PeerGone(NotHere).
    a.sendPacket(b.publicKey, Buffer.from('anyone?'));
    const notHere = await a.next('PeerGone');
    assert.deepEqual(Buffer.from(notHere.key), b.publicKey);
    assert.equal(notHere.reason, 0x01);
    const st = s.stats();
    assert.equal(st.packetsForwarded, 2);
    assert.equal(st.packetsDroppedUnknownDest, 1);
    a.close();
  } finally {
    await s.close();
  }
});

test('only clients verifyClient accepts may connect', async () => {
  const allowed = generatePrivateKey();
  const allowedPub = publicFromPrivate(allowed);
  const seen: string[] = [];
  const s = await startDerpServer({
    verifyClient: (k) => {
      seen.push(Buffer.from(k).toString('hex'));
      return Buffer.from(k).equals(allowedPub);
    },
  });
  try {
    const ok = await connect(s, { privateKey: allowed });
    assert.deepEqual(ok.serverInfo, { version: 2 });
    const stranger = await connect(s, { noWaitServerInfo: true });
    await stranger.waitClosed();
    assert.equal(stranger.frames.filter((f) => f.type === 'ServerInfo').length, 0, 'no ServerInfo for a rejected client');
    assert.equal(s.stats().clientsRejected, 1);
    assert.equal(seen.length, 2);
    assert.deepEqual(s.clients(), [`nodekey:${allowedPub.toString('hex')}`]);
    ok.close();
  } finally {
    await s.close();
  }
});

test('a ClientInfo box sealed to the wrong key, or a first frame that is not ClientInfo, closes the connection', async () => {
  const s = await startDerpServer({ tls: false });
  try {
    const c = await TestDerpClient.connect({ host: s.host, port: s.port, noWaitServerInfo: true, clientInfo: { version: 2 } });
    await c.next('ServerInfo');
    c.close();
    // Raw: ClientInfo whose box does not open.
    const raw = net.connect(s.port, s.host);
    raw.on('error', () => {});
    raw.resume();
    raw.write('GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
    raw.write(encodeRawFrame(FrameType.ClientInfo, Buffer.alloc(32, 9), Buffer.alloc(24), Buffer.alloc(40)));
    await new Promise((r) => raw.on('close', r));
    const raw2 = net.connect(s.port, s.host);
    raw2.on('error', () => {});
    raw2.resume();
    raw2.write('GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
    raw2.write(encodeRawFrame(FrameType.SendPacket, Buffer.alloc(32), Buffer.from('early')));
    await new Promise((r) => raw2.on('close', r));
    assert.equal(s.stats().protocolErrors, 2);
  } finally {
    await s.close();
  }
});

test('a frame larger than 64 KiB + key is refused and the connection closed', async () => {
  const s = await startDerpServer();
  try {
    const a = await connect(s);
    const b = await connect(s);
    // Header only: the relay must refuse before the payload arrives.
    a.socket.write(Buffer.from([FrameType.SendPacket, 0, 1, 0, 0x21]));
    await a.waitClosed();
    assert.equal(s.stats().protocolErrors, 1);
    // b is unaffected.
    b.send({ type: 'Ping', data: Buffer.alloc(8, 1) });
    await b.next('Pong');
    b.close();
  } finally {
    await s.close();
  }
});

test('a ClientInfo frame declaring more than 1 MiB is refused during the handshake', async () => {
  const s = await startDerpServer({ tls: false });
  try {
    const raw = net.connect(s.port, s.host);
    raw.on('error', () => {});
    raw.resume();
    raw.write('GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
    raw.write(Buffer.from([FrameType.ClientInfo, 0x00, 0x10, 0x00, 0x39])); // 1 MiB + 57
    await new Promise((r) => raw.on('close', r));
    assert.equal(s.stats().protocolErrors, 1);
  } finally {
    await s.close();
  }
});

test('slow reader: its queue stays bounded, overflow is dropped and counted, other clients keep working', async () => {
  const s = await startDerpServer({ tls: false, sendQueuePackets: 16 });
  try {
    const a = await connect(s);
    const slow = await connect(s);
    const c = await connect(s);
    slow.socket.pause(); // stops reading: TCP back-pressure reaches the relay
    const pkt = Buffer.alloc(60_000, 1);
    const perFrame = pkt.length + 32 + 5;
    let maxQueued = 0;
    for (let i = 0; i < 1500; i++) {
      a.sendPacket(slow.publicKey, pkt);
      if (i % 50 === 49) {
        await new Promise((r) => setImmediate(r));
        maxQueued = Math.max(maxQueued, s.stats().queuedBytes);
      }
    }
    // Wait until the relay has read everything a sent.
    const deadline = Date.now() + 20_000;
    while (s.stats().packetsForwarded + s.stats().packetsDroppedUnknownDest < 1500 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      maxQueued = Math.max(maxQueued, s.stats().queuedBytes);
    }
    const st = s.stats();
    assert.equal(st.packetsForwarded, 1500);
    assert.ok(st.packetsDroppedQueueFull > 0, `drops counted (${st.packetsDroppedQueueFull})`);
    assert.ok(maxQueued <= 16 * perFrame, `queued bytes ${maxQueued} bounded by 16 frames`);
    // Others are unaffected while the slow reader is stuck.
    c.sendPacket(a.publicKey, Buffer.from('still here'));
    assert.equal(Buffer.from((await a.next('RecvPacket')).packet).toString(), 'still here');
    // The slow reader gets what was kept once it reads again, newest last.
    slow.socket.resume();
    const got = await slow.next('RecvPacket');
    assert.equal(got.packet.length, pkt.length);
    const deadline2 = Date.now() + 20_000;
    while (s.stats().queuedBytes > 0 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.stats().queuedBytes, 0);
    for (const x of [a, slow, c]) x.close();
  } finally {
    await s.close();
  }
});

test('close(): clients get Health and Restarting, then the connection ends', async () => {
  const s = await startDerpServer();
  const a = await connect(s);
  await s.close();
  await a.waitClosed();
  const health = a.frames.find((f) => f.type === 'Health');
  const restarting = a.frames.find((f) => f.type === 'Restarting');
  assert.ok(health && health.type === 'Health' && health.problem.length > 0);
  assert.ok(restarting && restarting.type === 'Restarting' && restarting.reconnectInMs > 0 && restarting.tryForMs > 0);
});

function get(s: DerpServer, path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: s.host, port: s.port, path, method: o.method ?? 'GET', headers: o.headers ?? {}, ca: s.certificate ?? undefined },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('HTTP endpoints: /derp/probe, /derp/latency-check, /generate_204, /derp without upgrade, WebSocket', async () => {
  const s = await startDerpServer();
  try {
    const p = await get(s, '/derp/probe');
    assert.equal(p.status, 200);
    assert.equal(p.headers['access-control-allow-origin'], '*');
    assert.equal((await get(s, '/derp/latency-check', { method: 'HEAD' })).status, 200);
    assert.equal((await get(s, '/derp/probe', { method: 'POST' })).status, 405);
    const g = await get(s, '/generate_204', { headers: { 'X-Tailscale-Challenge': 'ts_abc-123:x.y' } });
    assert.equal(g.status, 204);
    assert.equal(g.headers['x-tailscale-response'], 'response ts_abc-123:x.y');
    const bad = await get(s, '/generate_204', { headers: { 'X-Tailscale-Challenge': 'bad challenge!' } });
    assert.equal(bad.status, 204);
    assert.equal(bad.headers['x-tailscale-response'], undefined);
    assert.equal((await get(s, '/derp')).status, 426);
    assert.equal((await get(s, '/nope')).status, 404);
    // Upgrade requests go through the upgrade path: WebSocket is not served, other upgrades get 426.
    for (const [up, want] of [['websocket', 501], ['h2c', 426]] as const) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = https.request({ host: s.host, port: s.port, path: '/derp', ca: s.certificate ?? undefined, headers: { Connection: 'Upgrade', Upgrade: up } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('upgrade', () => reject(new Error('unexpected upgrade')));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, want, up);
    }
  } finally {
    await s.close();
  }
});

test('Derp-Fast-Start: no HTTP response, frames start at once', async () => {
  const s = await startDerpServer({ tls: false });
  try {
    const raw = net.connect(s.port, s.host);
    const chunks: Buffer[] = [];
    raw.on('data', (d: Buffer) => chunks.push(d));
    raw.write('GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nDerp-Fast-Start: 1\r\n\r\n');
    const deadline = Date.now() + 5000;
    while (Buffer.concat(chunks).length < 45 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const got = Buffer.concat(chunks);
    assert.equal(got[0], FrameType.ServerKey);
    assert.deepEqual(got.subarray(13, 45), s.publicKey);
    raw.destroy();
  } finally {
    await s.close();
  }
});

test('TLS chain carries the DERP meta certificate (CN derpkey<hex>, serial 2); a fast-start client using that key gets straight to ServerInfo', async (t) => {
  const s = await startDerpServer();
  t.after(() => s.close());
  // The chain as sent, read with openssl when it is installed (Node exposes only linked chains).
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${s.port}`, '-showcerts'], { input: '', encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    t.diagnostic('openssl not available: chain not inspected');
  } else {
    const pems = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.equal(pems.length, 2);
    const [leaf, meta] = pems.map((p) => new X509Certificate(p));
    assert.equal(leaf!.fingerprint256, new X509Certificate(s.certificate!).fingerprint256, 'leaf first');
    assert.equal(meta!.subject, `CN=derpkey${s.publicKey.toString('hex')}`);
    assert.equal(meta!.serialNumber, '02');
  }
  // Fast start: ClientInfo right behind the request, no HTTP response expected.
  const sock = tls.connect({ host: '127.0.0.1', port: s.port, ca: s.certificate! });
  await new Promise((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  const reader = new FrameReader();
  const frames: Frame[] = [];
  sock.on('data', (d: Buffer) => {
    reader.push(d);
    for (let f = reader.next(); f; f = reader.next()) frames.push(decodeFrame(f.frameType, f.payload));
  });
  const priv = generatePrivateKey();
  const nonce = Buffer.alloc(24, 1);
  sock.write('GET /derp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nDerp-Fast-Start: 1\r\n\r\n');
  sock.write(encodeFrame({ type: 'ClientInfo', key: publicFromPrivate(priv), nonce, box: boxSeal(Buffer.from('{"version":2,"CanAckPings":true}'), nonce, s.publicKey, priv) }));
  const deadline = Date.now() + 5000;
  while (frames.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.deepEqual(
    frames.map((f) => f.type),
    ['ServerKey', 'ServerInfo'],
  );
  sock.destroy();
});
