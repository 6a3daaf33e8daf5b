import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { NoiseInitiator, encodeRecords } from '../lib/control/noise.js';
import { generatePrivateKey, parseMachinePublic } from '../lib/wire/keys.js';
import { dialTs2021 } from '../lib/control/dial.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

/** Raw HTTP upgrade + Noise handshake over a plain socket; returns the socket and the transport keys. */
async function rawNoise(net: Devnet, version = 145): Promise<{ sock: Socket; reply: Buffer; tx?: ReturnType<NoiseInitiator['finish']>['tx'] }> {
  const ini = new NoiseInitiator({ version, machinePrivate: generatePrivateKey(), controlPublic: parseMachinePublic(net.publicKey) });
  const url = new URL(net.controlURL);
  const sock = connect(Number(url.port), url.hostname);
  await once(sock, 'connect');
  sock.write(
    `POST /ts2021 HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n` +
      `X-Tailscale-Handshake: ${ini.initiation.toString('base64')}\r\nContent-Length: 0\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  for (;;) {
    const [d] = (await once(sock, 'data')) as [Buffer];
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf('\r\n\r\n');
    if (end >= 0 && buf.length >= end + 4 + 3) {
      const rest = buf.subarray(end + 4);
      const need = rest[0] === 2 ? 51 : 3 + rest.readUInt16BE(1);
      if (rest.length >= need) {
        const reply = rest.subarray(0, need);
        if (reply[0] === 2) return { sock, reply, tx: ini.finish(reply).tx };
        return { sock, reply };
      }
    }
  }
}

function closed(sock: Socket, ms = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return resolve();
    const t = setTimeout(() => reject(new Error('socket was not closed')), ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    sock.on('error', () => {});
    sock.resume();
  });
}

async function stillWorks(net: Devnet): Promise<void> {
  const c = await MiniClient.connect(net.controlURL);
  try {
    const r = await c.register({ Auth: { AuthKey: net.createAuthKey() } });
    assert.equal(r.MachineAuthorized, true);
  } finally {
    c.close();
  }
}

test('robust: plain HTTP errors (/key, /ts2021 without upgrade, unknown paths, bad upgrades)', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const key = await fetch(`${net.controlURL}/key?v=145`);
  assert.equal(key.status, 200);
  const body = (await key.json()) as { publicKey: string; legacyPublicKey: string };
  assert.equal(body.publicKey, net.publicKey);
  assert.equal(body.legacyPublicKey, `mkey:${'0'.repeat(64)}`);
  assert.equal((await fetch(`${net.controlURL}/key?v=abc`)).status, 400);
  assert.equal((await fetch(`${net.controlURL}/ts2021`, { method: 'POST' })).status, 400);
  assert.equal((await fetch(`${net.controlURL}/nope`)).status, 404);
  assert.match(await (await fetch(`${net.controlURL}/`)).text(), /for development and tests only/);

  // Upgrade with a malformed handshake header: 400.
  const url = new URL(net.controlURL);
  for (const hdr of ['X-Tailscale-Handshake: AAAA\r\n', '']) {
    const sock = connect(Number(url.port), url.hostname);
    await once(sock, 'connect');
    sock.write(`POST /ts2021 HTTP/1.1\r\nHost: x\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n${hdr}\r\n`);
    const [d] = (await once(sock, 'data')) as [Buffer];
    assert.match(d.toString(), /^HTTP\/1.1 400/);
    await closed(sock);
  }
  // WebSocket upgrade is not offered.
  const ws = connect(Number(url.port), url.hostname);
  await once(ws, 'connect');
  ws.write('GET /ts2021 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
  const [w] = (await once(ws, 'data')) as [Buffer];
  assert.match(w.toString(), /^HTTP\/1.1 404/);
  ws.destroy();
  await stillWorks(net);
});

test('robust: capability versions below 100 get a Noise error; 100..145 and newer are served', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const old = await rawNoise(net, 99);
  assert.equal(old.reply[0], 3, 'error frame');
  assert.match(old.reply.subarray(3).toString(), /unsupported client version 99/);
  await closed(old.sock);
  for (const v of [100, 113, 145, 150]) {
    const c = await MiniClient.connect(net.controlURL, { version: v });
    const r = await c.register({ Auth: { AuthKey: net.createAuthKey() } });
    assert.equal(r.MachineAuthorized, true, `version ${v}`);
    c.close();
  }
  // A request body claiming a version below the minimum is refused too.
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  const r = await c.post('/machine/register', { Version: 42, NodeKey: c.nodeKey });
  assert.equal(r.status, 400);
  assert.match(r.text, /unsupported capability version 42/);
});

test('robust: maxCapVersion limits newer clients', async (t) => {
  const net = await startDevnet({ maxCapVersion: 145 });
  t.after(() => net.close());
  const r = await rawNoise(net, 146);
  assert.equal(r.reply[0], 3);
  assert.match(r.reply.subarray(3).toString(), /unsupported client version 146/);
  r.sock.destroy();
});

test('robust: garbage, oversized and forged Noise records close the connection only', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  // Unknown frame type.
  const a = await rawNoise(net);
  a.sock.write(Buffer.from([0x07, 0x00, 0x01, 0x00]));
  await closed(a.sock);
  // Record longer than 4096 bytes.
  const b = await rawNoise(net);
  b.sock.write(Buffer.from([0x04, 0xff, 0xff]));
  await closed(b.sock);
  // Record that fails authentication.
  const c = await rawNoise(net);
  c.sock.write(Buffer.concat([Buffer.from([0x04, 0x00, 0x20]), Buffer.alloc(32, 9)]));
  await closed(c.sock);
  // Valid records that are not HTTP/2.
  const d = await rawNoise(net);
  for (const f of encodeRecords(d.tx!, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10)))) d.sock.write(f);
  await closed(d.sock);
  // A client that disappears mid-handshake.
  const e = await rawNoise(net);
  e.sock.destroy();
  await stillWorks(net);
});

test('robust: bad requests over Noise give clear HTTP errors', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  const cases: Array<[string, object | Buffer, number, RegExp]> = [
    ['/machine/register', Buffer.from('{not json'), 400, /invalid JSON/],
    ['/machine/register', Buffer.from('[1,2]'), 400, /JSON object/],
    ['/machine/register', { Version: 145, NodeKey: 'nodekey:12' }, 400, /NodeKey/],
    ['/machine/register', Buffer.alloc(2 * 1024 * 1024, 0x20), 413, /exceeds/],
    ['/machine/map', { Version: 145, NodeKey: c.nodeKey, Stream: true }, 401, /not registered/],
    ['/machine/map', { Version: 145, NodeKey: c.nodeKey, Compress: 'gzip' }, 400, /unsupported MapRequest.Compress/],
    ['/machine/map', { Version: 145, NodeKey: c.nodeKey, Endpoints: ['not-an-endpoint'] }, 400, /Endpoints/],
    ['/machine/map', { Version: 145, NodeKey: c.nodeKey, DiscoKey: 'discokey:zz' }, 400, /DiscoKey/],
    ['/machine/whoami', {}, 501, /not implemented/],
    ['/elsewhere', {}, 404, /not found/],
  ];
  for (const [path, body, status, re] of cases) {
    const r = await c.post(path, body);
    assert.equal(r.status, status, `${path} ${r.text}`);
    assert.match(r.text, re);
  }
  const get = await c.h2.requestBuffer('/machine/map', { method: 'GET' });
  assert.equal(get.status, 405);
  // Someone else's node key: refused.
  await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  const other = await MiniClient.connect(net.controlURL);
  t.after(() => other.close());
  const stolen = await other.post('/machine/map', { Version: 145, NodeKey: c.nodeKey, Stream: true });
  assert.equal(stolen.status, 401);
  const stolenReg = await other.post('/machine/register', { Version: 145, NodeKey: c.nodeKey });
  assert.equal(stolenReg.status, 403);
  await stillWorks(net);
});

test('robust: a map stream that is never read does not grow server memory without bound', async (t) => {
  const net = await startDevnet({ keepAliveMs: 5 });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  const m = await c.map();
  await m.next();
  m.stream.pause();
  // Many big state changes while the reader is paused: once the HTTP/2 window is full the
  // server holds at most one pending message and folds later changes into it.
  const big = (i: number) => ({ acls: [{ action: 'accept' as const, src: ['*'], dst: [...Array.from({ length: 1500 }, (_, j) => `*:${j + 1}`), `*:${40000 + i}`] }] });
  const changes = 80;
  for (let i = 0; i < changes; i++) {
    net.setPolicy(big(i));
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 100));
  m.stream.resume();
  const marker = `"First":${40000 + changes - 1}`;
  const last = await m.until((x) => JSON.stringify(x.PacketFilter ?? []).includes(marker), 10000);
  assert.ok(last);
  const filterMessages = m.rawFrames.length - 1;
  assert.ok(filterMessages < changes, `expected coalesced deltas, got ${filterMessages} messages for ${changes} changes`);
});

test('robust: close() ends streams and pending long-polls promptly', async () => {
  const net = await startDevnet();
  const c = await MiniClient.connect(net.controlURL);
  const r = await c.register();
  const waiting = c.register({ Followup: r.AuthURL! }).catch((e: Error) => e);
  const d = await MiniClient.connect(net.controlURL);
  await d.register({ Auth: { AuthKey: net.createAuthKey() } });
  const m = await d.map();
  await m.next();
  const t0 = Date.now();
  await net.close();
  assert.ok(Date.now() - t0 < 5000);
  await waiting;
  await assert.rejects(m.next(2000), /ended|closed|cancel/i);
  c.close();
  d.close();
  await assert.rejects(dialTs2021({ controlURL: net.controlURL, version: 145, machinePrivate: generatePrivateKey(), controlPublic: parseMachinePublic(net.publicKey), timeoutMs: 1000 }));
});

test('robust: idle Noise connections are closed; a map stream with keep-alives stays', async (t) => {
  const net = await startDevnet({ idleTimeoutMs: 300, keepAliveMs: 50 });
  t.after(() => net.close());
  const idle = await rawNoise(net);
  const t0 = Date.now();
  await closed(idle.sock, 3000);
  assert.ok(Date.now() - t0 >= 200);
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  const m = await c.map();
  await m.next();
  // Sixteen keep-alives 50 ms apart outlast the 300 ms idle timeout more than twice over.
  for (let i = 0; i < 16; i++) assert.deepEqual(await m.next(1000, true), { KeepAlive: true });
  assert.equal(net.nodes()[0]!.online, true);
});
