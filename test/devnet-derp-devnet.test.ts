/**
 * startDevnet with its bundled DERP relay and STUN responder: the DERP map
 * nodes receive points at them, only the devnet's nodes may use the relay,
 * and close() stops both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { startDevnet } from '../lib/devnet/index.js';
import { buildBindingRequest, parseBindingResponse } from '../lib/devnet/derp/stun.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';
import { TestDerpClient } from './fixtures/devnet-derp/client.js';

test('devnet: DERP map points at the bundled relay and STUN; two registered nodes relay packets; strangers are refused', async (t) => {
  const dn = await startDevnet();
  t.after(() => dn.close());
  assert.ok(dn.relay);
  const region = dn.derpMap.Regions?.['900'];
  const node = region?.Nodes?.[0];
  assert.ok(node);
  assert.equal(node.HostName, '127.0.0.1');
  assert.equal(node.IPv4, '127.0.0.1');
  assert.equal(node.DERPPort, dn.relay.derp.port);
  assert.equal(node.STUNPort, dn.relay.stun?.port);
  assert.equal(node.InsecureForTests, true);

  const key = dn.createAuthKey({ reusable: true });
  const a = await MiniClient.connect(dn.controlURL, { hostname: 'alpha' });
  t.after(() => a.close());
  await a.register({ Auth: { AuthKey: key } });
  const b = await MiniClient.connect(dn.controlURL, { hostname: 'bravo' });
  t.after(() => b.close());
  await b.register({ Auth: { AuthKey: key } });
  const ma = await a.map({});
  const first = await ma.next();
  const mapNode = first.DERPMap?.Regions?.['900']?.Nodes?.[0];
  assert.equal(mapNode?.DERPPort, dn.relay.derp.port, 'the map nodes get names the relay');

  // A real client would not verify (InsecureForTests); ours trusts the self-signed cert.
  const host = mapNode!.HostName;
  const port = mapNode!.DERPPort!;
  const ca = dn.relay.derp.certificate;
  const da = await TestDerpClient.connect({ host, port, ca, privateKey: a.nodePrivate });
  t.after(() => da.close());
  const db = await TestDerpClient.connect({ host, port, ca, privateKey: b.nodePrivate });
  t.after(() => db.close());
  da.sendPacket(db.publicKey, Buffer.from('via the devnet relay'));
  const got = await db.next('RecvPacket');
  assert.equal(Buffer.from(got.packet).toString(), 'via the devnet relay');
  assert.deepEqual(dn.relay.derp.clients().sort(), [a.nodeKey, b.nodeKey].sort());

  const stranger = await TestDerpClient.connect({ host, port, ca, noWaitServerInfo: true });
  await stranger.waitClosed();
  assert.equal(dn.relay.derp.stats().clientsRejected, 1);

  // An expired node may no longer use the relay.
  const bid = dn.nodes().find((n) => n.hostname === 'bravo')!.id;
  dn.expireNode(bid);
  // Its open relay connection is closed too, with a Health note.
  await db.waitClosed();
  assert.ok(db.frames.some((f) => f.type === 'Health' && f.problem.length > 0));
  assert.deepEqual(dn.relay.derp.clients(), [a.nodeKey]);
  const late = await TestDerpClient.connect({ host, port, ca, privateKey: b.nodePrivate, noWaitServerInfo: true });
  await late.waitClosed();
  assert.equal(dn.relay.derp.stats().clientsRejected, 2);

  // STUN at the map's STUNPort.
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
  const tx = Buffer.alloc(12, 5);
  sock.send(buildBindingRequest(tx), mapNode!.STUNPort!, '127.0.0.1');
  assert.deepEqual(parseBindingResponse(await reply), { txId: tx, ip: '127.0.0.1', port: sock.address().port });
});

test('devnet: close() stops the relay and STUN; relay:false and external derp options start none', async () => {
  const dn = await startDevnet({ relay: { pinCertificate: true } });
  const r = dn.relay!;
  const node = dn.derpMap.Regions?.['900']?.Nodes?.[0];
  assert.equal(node?.InsecureForTests, undefined);
  assert.equal(node?.CertName, r.derp.certName);
  // The pin is the SHA-256 of the certificate the relay presents.
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: r.derp.port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().raw);
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(node?.CertName, `sha256-raw:${createHash('sha256').update(raw).digest('hex')}`);
  await dn.close();
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = net.connect(r.derp.port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    }),
    /ECONNREFUSED/,
  );
  // The STUN port is free again.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(r.stun!.port, '127.0.0.1', () => resolve());
  });
  sock.close();

  const off = await startDevnet({ relay: false });
  assert.equal(off.relay, null);
  assert.deepEqual(off.derpMap, { Regions: {} });
  await off.close();
  const ext = await startDevnet({ derp: { derpPort: 3340 } });
  assert.equal(ext.relay, null);
  assert.equal(ext.derpMap.Regions?.['900']?.Nodes?.[0]?.DERPPort, 3340);
  await ext.close();
  const noStun = await startDevnet({ relay: { stun: false, regionId: 901 } });
  assert.equal(noStun.relay?.stun, null);
  assert.equal(noStun.derpMap.Regions?.['901']?.Nodes?.[0]?.STUNPort, -1);
  await noStun.close();
});

test('devnet on ::1: relay and STUN listen there and the map says IPv6', async (t) => {
  let dn;
  try {
    dn = await startDevnet({ host: '::1' });
  } catch {
    t.skip('no IPv6 loopback');
    return;
  }
  t.after(() => dn.close());
  const node = dn.derpMap.Regions?.['900']?.Nodes?.[0];
  assert.equal(node?.IPv6, '::1');
  assert.equal(node?.IPv4, 'none');
  assert.equal(node?.STUNTestIP, undefined);
  const c = await TestDerpClient.connect({ host: '::1', port: node!.DERPPort!, ca: dn.relay!.derp.certificate, noWaitServerInfo: true });
  await c.waitClosed();
});
