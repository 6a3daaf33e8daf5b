// DERP relaying and disco path choice between Server nodes on the development tailnet, over loopback (issue 5,
// scenarios a, c, d; scenario b, UDP blocked between namespaces, is test/magicsock-netns.test.ts).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import type * as net from 'node:net';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { startDevnetRelay, type DevnetRelay } from '../lib/devnet/derp/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, dataPlaneOf, type PathChange, type PeerStatus } from '../lib/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function pair(devnet: Devnet, opts: { alwaysUseDERP?: boolean } = {}): Promise<[Server, Server]> {
  const authKey = devnet.createAuthKey({ reusable: true });
  const mk = (hostname: string) =>
    new Server({ hostname, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ...opts });
  const a = mk('alpha');
  const b = mk('bravo');
  cleanups.push(() => a.close(), () => b.close());
  await Promise.all([a.up(), b.up()]);
  return [a, b];
}

/** Serves `size` deterministic bytes to every connection on port 7000. */
function serveBlob(s: Server, size: number): { sha256: string } {
  const block = crypto.randomBytes(64 * 1024);
  const h = crypto.createHash('sha256');
  for (let n = 0; n < size; n += block.length) h.update(block.subarray(0, Math.min(block.length, size - n)));
  const ln = s.listen('tcp', ':7000');
  ln.on('connection', (c: net.Socket) => {
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        const chunk = block.subarray(0, Math.min(block.length, size - sent));
        sent += chunk.length;
        if (!c.write(chunk)) return void c.once('drain', pump);
      }
      c.end();
    };
    pump();
  });
  return { sha256: h.digest('hex') };
}

/** Fetches the blob; onProgress sees the byte count as it grows. */
async function fetchBlob(s: Server, host: string, onProgress?: (n: number) => void): Promise<{ sha256: string; bytes: number }> {
  const c = await s.dial('tcp', `${host}:7000`, { timeout: 20_000 });
  const h = crypto.createHash('sha256');
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    c.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
      onProgress?.(bytes);
    });
    c.on('end', () => resolve());
    c.on('error', reject);
  });
  c.destroy();
  return { sha256: h.digest('hex'), bytes };
}

function peer(s: Server): PeerStatus {
  const p = s.status()?.peers[0];
  assert.ok(p, 'the node has a peer');
  return p;
}

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('(a) traffic starts over DERP and moves to the direct path; the data arrives intact', async () => {
  const devnet = await startDevnet();
  cleanups.push(() => devnet.close());
  const [a, b] = await pair(devnet);
  // Once bravo knows alpha's home relay (from control, after alpha's first STUN round), a first packet has a
  // path before any direct address is proven.
  await until("alpha's home region known", 5000, () => peer(b).relay !== '');
  // The 'path' event says when bravo's packets to alpha go direct.
  const wentDirect = new Promise<PathChange>((resolve) => {
    const on = (c: PathChange) => {
      if (!c.dnsName.startsWith('alpha') || c.direct === '') return;
      b.off('path', on);
      resolve(c);
    };
    b.on('path', on);
  });
  const blob = serveBlob(a, 8 << 20);
  const got = await fetchBlob(b, 'alpha');
  assert.equal(got.bytes, 8 << 20);
  assert.equal(got.sha256, blob.sha256);
  // The first packets had no proven path: they went through the relay.
  assert.ok(peer(b).txRelayPackets > 0, `bravo sent through DERP first (${JSON.stringify(peer(b))})`);
  await until('both directions direct', 5000, () => peer(a).curAddr !== '' && peer(b).curAddr !== '');
  assert.match(peer(b).curAddr, /^127\.0\.0\.1:\d+$|^\[::1\]:\d+$|^\d+\.\d+\.\d+\.\d+:\d+$/);
  const change = await wentDirect;
  assert.equal(change.publicKey, peer(b).publicKey);
  assert.equal(change.relay, '');
  assert.match(change.direct, /:\d+$/);
  // Once direct, new traffic does not touch the relay.
  const relayed = peer(b).txRelayPackets;
  const again = await fetchBlob(b, 'alpha');
  assert.equal(again.sha256, blob.sha256);
  assert.equal(peer(b).txRelayPackets, relayed);
  assert.ok(peer(b).txDirectPackets > 0);
});

test('(c) the DERP relay restarts in the middle of a relayed transfer; the transfer completes intact', async () => {
  const relayKey = crypto.randomBytes(32);
  const start = (port = 0, stunPort = 0): Promise<DevnetRelay> =>
    startDevnetRelay('127.0.0.1', { port, stunPort, privateKey: relayKey, allowUnknownClients: true }, () => true, () => {});
  let relay = await start();
  cleanups.push(() => relay.close());
  const devnet = await startDevnet({ derp: relay.derpMapOptions });
  cleanups.push(() => devnet.close());
  const [a, b] = await pair(devnet, { alwaysUseDERP: true });
  const size = 48 << 20;
  const blob = serveBlob(a, size);
  let restarted: Promise<void> | null = null;
  const got = await fetchBlob(b, 'alpha', (n) => {
    if (n > 4 << 20 && !restarted) {
      const { derpPort, stunPort } = relay.derpMapOptions;
      restarted = (async () => {
        await relay.close();
        relay = await start(derpPort, stunPort !== undefined && stunPort > 0 ? stunPort : 0);
      })();
    }
  });
  assert.ok(restarted, 'the relay restarted during the transfer');
  await restarted;
  assert.equal(got.bytes, size);
  assert.equal(got.sha256, blob.sha256);
  // The new relay instance carried the rest of the transfer: both nodes reconnected to it.
  assert.ok(relay.derp.stats().packetsForwarded > 1000, `forwarded by the restarted relay: ${JSON.stringify(relay.derp.stats())}`);
  assert.equal(peer(b).curAddr, '', 'relayed only');
  assert.equal(peer(b).txDirectPackets, 0);
  assert.notEqual(peer(b).relay, '');
});

test('(d) a node moves to a new UDP port and its peer follows', async () => {
  const devnet = await startDevnet();
  cleanups.push(() => devnet.close());
  const [a, b] = await pair(devnet);
  const blob = serveBlob(a, 1 << 20);
  assert.equal((await fetchBlob(b, 'alpha')).sha256, blob.sha256);
  await until('direct path', 5000, () => peer(b).curAddr !== '');
  const plane = dataPlaneOf(a);
  assert.ok(plane);
  const oldPort = plane.port;
  const newPort = plane.rebind();
  assert.notEqual(newPort, oldPort);
  // Traffic keeps flowing (through DERP while the new address is unproven), then goes direct to the new port.
  assert.equal((await fetchBlob(b, 'alpha')).sha256, blob.sha256);
  await until(`bravo uses alpha's new port ${newPort}`, 10_000, () => peer(b).curAddr.endsWith(`:${newPort}`));
  assert.equal((await fetchBlob(b, 'alpha')).sha256, blob.sha256);
});

test('a relay other than home is dialed on demand and closed when idle', async () => {
  const { Netstack } = await import('../lib/net/netstack.js');
  const { generateKeyPair } = await import('../lib/wire/keys.js');
  const tls = await import('node:tls');
  const netmod = await import('node:net');
  const relay = await startDevnetRelay('127.0.0.1', { allowUnknownClients: true, regionId: 901 }, () => true, () => {});
  cleanups.push(() => relay.close());
  const stack = new Netstack();
  cleanups.push(async () => stack.close());
  const { device } = stack;
  const events: Array<{ type: string; id: number; connected?: boolean }> = [];
  device.onLinkEvent((ev) => void events.push(ev));
  stack.addAddress('100.64.0.1');
  device.startWireGuard(generateKeyPair().privateKey, 0);
  device.startMagicsock(generateKeyPair().privateKey, { derpOnly: false, derpIdleMs: 300 });
  device.setSelf([], 900);
  const peer = generateKeyPair();
  device.setPeers([{ publicKey: peer.publicKey, discoKey: generateKeyPair().publicKey, homeRegion: 901, endpoints: [], allowedIPs: ['100.64.0.2/32'] }]);
  const waitFor = async (what: string, f: () => boolean): Promise<void> => until(what, 5000, f);
  // A dial to the peer needs region 901, which nobody dialed yet: the engine asks for it.
  const sock = stack.connect('tcp', '100.64.0.2:80');
  sock.on('error', () => {});
  cleanups.push(async () => sock.destroy());
  await waitFor('derp-want 901', () => events.some((e) => e.type === 'derp-want' && e.id === 901));
  const fd = device.derpAttach(901, '127.0.0.1', null);
  const engineEnd = new netmod.Socket({ fd, readable: true, writable: true });
  const t = tls.connect({ host: '127.0.0.1', port: relay.derp.port, rejectUnauthorized: false });
  engineEnd.pipe(t).pipe(engineEnd);
  const ended = new Promise<void>((r) => engineEnd.once('close', () => r()));
  engineEnd.on('error', () => {});
  t.on('error', () => {});
  await waitFor('region 901 connected', () => events.some((e) => e.type === 'derp-state' && e.id === 901 && e.connected === true));
  assert.equal(device.magicsockStats().regions.find((r) => r.region === 901)?.connected, true);
  // Nothing but the dial's retransmissions (every few seconds) uses it: after 300 ms idle it is closed.
  await waitFor('region 901 closed', () => events.some((e) => e.type === 'derp-state' && e.id === 901 && e.connected === false));
  await ended;
  t.destroy();
  assert.equal(device.magicsockStats().regions.find((r) => r.region === 901)?.connected, false);
});
