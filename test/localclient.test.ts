// Lifecycle parity with Go's tsnet (listen, listenPacket and dial start the node and wait for it; a node
// dials its own address) and the LocalClient beyond whoIs/status: TSMP ping, prefs, the IPN bus, logout.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';
import type { IPNNotify } from '../lib/server/ipn-bus.js';

let devnet: Devnet;
let authKey: string;
const nodes: Server[] = [];

function node(hostname: string, store = new MemoryStore()): Server {
  const s = new Server({ hostname, controlURL: devnet.controlURL, authKey, store, logLevel: 'error' });
  nodes.push(s);
  return s;
}

before(async () => {
  devnet = await startDevnet();
  authKey = devnet.createAuthKey({ reusable: true });
});

after(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  await devnet.close();
});

test('listen, listenPacket and dial before up() start the node and wait for it; a node dials itself', { timeout: 60_000 }, async () => {
  const a = node('early-a');
  // A node restarted from its store knows its address before it is up (listenPacket needs one of its IPs).
  const store = new MemoryStore();
  const first = node('early-b', store);
  const bIP = (await first.up()).tailscaleIPs[0]!;
  await first.close();
  const b = node('early-b', store);
  // No up(): listen returns a listener at once and binds when the node is up.
  const ln = a.listen('tcp', ':7001');
  assert.equal(ln.listening, false);
  const udp = b.listenPacket('udp', `${bIP}:7002`);
  await Promise.all([once(ln, 'listening'), once(udp, 'listening')]);
  assert.equal(ln.listening, true);
  assert.equal(ln.address().port, 7001);
  ln.on('connection', (s) => s.end('hello from a'));

  const aIP = a.tailscaleIPs()[0]!;
  assert.equal(b.tailscaleIPs()[0], bIP);
  // UDP through the socket opened before up.
  const got = once(udp, 'message');
  const sender = a.listenPacket('udp', `${aIP}:0`);
  sender.send('dgram', 7002, bIP);
  const [msg] = (await got) as [Buffer];
  assert.equal(msg.toString(), 'dgram');
  sender.close();
  udp.close();

  // dial from a node that was never started: it starts, waits, connects.
  const c = node('early-c');
  const sock = await c.dial('tcp', `${aIP}:7001`);
  const chunks: Buffer[] = [];
  for await (const d of sock) chunks.push(d as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hello from a');

  // fetch from a node that was never started, as Go's HTTPClient.
  a.listen('tcp', ':7003').serve(http.createServer((req, res) => res.end(`fetched ${req.url}`)));
  const e = node('early-e');
  assert.equal(await (await e.fetch(`http://${aIP}:7003/x`)).text(), 'fetched /x');

  // The node's own address, from the node itself (lwIP delivers it to its own netif).
  const self = await a.dial('tcp', `${aIP}:7001`, { timeout: 5000 });
  const own: Buffer[] = [];
  for await (const d of self) own.push(d as Buffer);
  assert.equal(Buffer.concat(own).toString(), 'hello from a');
  const self6 = await a.dial('tcp', `[${a.tailscaleIPs()[1]!}]:7001`, { timeout: 5000 });
  const own6: Buffer[] = [];
  for await (const d of self6) own6.push(d as Buffer);
  assert.equal(Buffer.concat(own6).toString(), 'hello from a');
  // UDP to itself as well.
  const u1 = a.listenPacket('udp4', `${aIP}:7004`);
  const u2 = a.listenPacket('udp4', `${aIP}:0`);
  const echoed = once(u1, 'message');
  u2.send('to myself', 7004, aIP);
  assert.equal(((await echoed) as [Buffer])[0].toString(), 'to myself');
  u1.close();
  u2.close();
  ln.close();
});

test('a listener made before up reports a node that cannot come up with error and close', { timeout: 20_000 }, async () => {
  const s = node('doomed');
  const ln = s.listen('tcp', ':80');
  const err = once(ln, 'error');
  await s.close();
  const [e] = (await err) as [Error & { code?: string }];
  assert.equal(e.code, 'ERR_TSNET_CLOSED');
  assert.equal(ln.listening, false);
});

test('LocalClient: TSMP and disco pings, prefs, IPN bus, logout', { timeout: 60_000 }, async () => {
  const a = node('lc-a');
  const b = node('lc-b');
  await Promise.all([a.up(), b.up()]);
  const lc = a.localClient();

  const r = await lc.ping(b.tailscaleIPs()[0]!);
  assert.equal(r.ip, b.tailscaleIPs()[0]);
  assert.equal(r.publicKey, b.status()!.self.Key);
  assert.ok(r.latencyMs >= 0);
  // Disco: magicsock pings every path of the peer; the first pong says which answered.
  const d = await lc.ping('lc-b', { type: 'disco' });
  assert.equal(d.ip, b.tailscaleIPs()[0]);
  assert.equal(d.publicKey, b.status()!.self.Key);
  assert.ok(d.latencyMs >= 0 && d.latencyMs < 5000);
  assert.ok(d.direct !== '' ? /^(\d+\.){3}\d+:\d+$|^\[[0-9a-f:]+\]:\d+$/.test(d.direct) : d.relay !== '', JSON.stringify(d));
  await assert.rejects(lc.ping('100.100.100.100', { type: 'disco', timeout: 500 }), { code: 'EHOSTUNREACH' });
  await assert.rejects(lc.ping('lc-b', { type: 'ICMP' as 'TSMP' }), { code: 'ERR_INVALID_ARG_VALUE' });

  const prefs = await lc.getPrefs();
  assert.equal(prefs.ControlURL, devnet.controlURL);
  assert.equal(prefs.Hostname, 'lc-a');
  assert.equal(prefs.WantRunning, true);
  assert.equal(prefs.LoggedOut, false);

  // The bus: the first message has the version and the asked-for initial state; a new peer brings a NetMap.
  const w = lc.watchIPNBus({ initialState: true, initialNetMap: true, initialPrefs: true, initialHealth: true });
  const it = w[Symbol.asyncIterator]();
  const first = (await it.next()).value as IPNNotify;
  assert.match(first.Version!, /tsnet/);
  assert.equal(first.State, 6); // Running
  assert.equal(first.NetMap?.self.Key, a.status()!.self.Key);
  assert.equal(first.Prefs?.Hostname, 'lc-a');
  assert.deepEqual(first.Health?.Warnings, {});
  const c = node('lc-c');
  await c.up();
  const cKey = c.status()!.self.Key;
  for (;;) {
    const n = (await it.next()).value as IPNNotify;
    if (n.NetMap?.peers.some((p) => p.Key === cKey)) break;
  }

  // Logout: control expires the key; the node goes to NeedsLogin and the bus says so (State 2).
  const aKey = a.status()!.self.Key;
  await lc.logout();
  for (;;) {
    const n = (await it.next()).value as IPNNotify;
    if (n.State === 2) break;
  }
  w.close();
  assert.equal((await it.next()).done, true);
  assert.equal(a.status(), null);
  assert.equal((await lc.getPrefs()).LoggedOut, true);
  // The other nodes see a's key expire (control marks it expired or drops it from their netmaps).
  while (b.status()!.peers.some((p) => p.publicKey === aKey && p.online !== false)) await once(b, 'netmap');
});
