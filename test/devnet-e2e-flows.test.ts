import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevnet } from '../lib/devnet/index.js';
import { ControlClient } from '../lib/control/client.js';
import { MemoryStore } from '../lib/control/store.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import type { MapRequest } from '../lib/wire/tailcfg.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

async function waitFor<T>(fn: () => T | undefined | false | null, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('e2e: interactive login — AuthURL, Followup long-poll, approval through the web page', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL, { hostname: 'laptop' });
  t.after(() => c.close());
  const r = await c.register();
  assert.ok(r.AuthURL?.startsWith(`${net.controlURL}/register/`), r.AuthURL);
  assert.equal(net.pendingLogins().length, 1);

  // The client waits on the Followup...
  const waiting = c.register({ Followup: r.AuthURL! });
  // ...while a person opens the page and approves.
  const page = await fetch(r.AuthURL!);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /laptop.*wants to join/s);
  // Approve only once the Followup is held, so the held request is what gets answered.
  await net.waitFor(() => net.pendingLogins()[0]?.waiting);
  const post = await fetch(r.AuthURL!, { method: 'POST', body: new URLSearchParams({ user: 'erin@example.com' }) });
  assert.equal(post.status, 200);
  assert.match(await post.text(), /logged in as <code>erin@example.com/);

  const done = await waiting;
  assert.equal(done.AuthURL, undefined);
  assert.equal(done.MachineAuthorized, true);
  assert.equal(done.Login?.LoginName, 'erin@example.com');
  const m = await c.map();
  const first = await m.next();
  assert.equal(first.Node?.Name, 'laptop.devnet.internal.');
  assert.equal(first.UserProfiles?.[0]?.LoginName, 'erin@example.com');
  assert.deepEqual(net.nodes().map((n) => [n.name, n.user, n.online]), [['laptop.devnet.internal', 'erin@example.com', true]]);
  // The page for a finished login no longer approves anything.
  assert.equal((await fetch(r.AuthURL!)).status, 404);
});

test('e2e: programmatic approve(url) and a Followup that times out asks again', async (t) => {
  const net = await startDevnet({ followupTimeoutMs: 100 });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  const seen = net.waitFor(() => net.pendingLogins()[0]);
  const r = await c.register();
  assert.equal((await seen).url, r.AuthURL);
  const again = await c.register({ Followup: r.AuthURL! });
  assert.equal(again.AuthURL, r.AuthURL, 'not approved yet: same URL');
  const waiting = c.register({ Followup: r.AuthURL! });
  const node = net.approve(r.AuthURL!, { user: 'frank@example.com', tags: ['tag:kiosk'] });
  assert.deepEqual(node.tags, ['tag:kiosk']);
  const done = await waiting;
  assert.equal(done.MachineAuthorized, true);
  assert.throws(() => net.approve('http://x/register/nope'), /not an approval URL/);
});

test('e2e: ephemeral nodes are removed after they disconnect', async (t) => {
  const net = await startDevnet({ ephemeralTimeoutMs: 100 });
  t.after(() => net.close());
  const key = net.createAuthKey({ ephemeral: true, reusable: true });
  const watcher = await MiniClient.connect(net.controlURL, { hostname: 'watcher' });
  t.after(() => watcher.close());
  await watcher.register({ Auth: { AuthKey: key } });
  const wm = await watcher.map();
  await wm.next();
  const e = await MiniClient.connect(net.controlURL, { hostname: 'eph' });
  await e.register({ Auth: { AuthKey: key } });
  const em = await e.map({ Compress: 'zstd' });
  await em.next();
  const id = net.nodes().find((n) => n.hostname === 'eph')!.id;
  await wm.until((m) => !!m.PeersChanged?.some((p) => p.ID === id));
  e.close();
  await wm.until((m) => !!m.PeersChangedPatch?.some((p) => p.NodeID === id && p.Online === false));
  const gone = await wm.until((m) => !!m.PeersRemoved?.includes(id));
  assert.deepEqual(gone.PeersRemoved, [id]);
  assert.equal(net.nodes().some((n) => n.id === id), false);
});

test('e2e: policy changes reach connected nodes as a new PacketFilter', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  await c.register({ Auth: { AuthKey: net.createAuthKey({ user: 'alice@example.com' }) } });
  const m = await c.map();
  const first = await m.next();
  assert.deepEqual(first.PacketFilter?.[0]?.SrcIPs, ['*']);
  net.setPolicy(`{
    // only alice, only ssh
    "acls": [{"action": "accept", "src": ["alice@example.com"], "dst": ["alice@example.com:22"]},],
  }`);
  const upd = await m.until((x) => x.PacketFilter !== undefined);
  assert.deepEqual(upd.PacketFilter, [
    {
      SrcIPs: ['100.64.0.1', 'fd7a:115c:a1e0::6440:1'],
      DstPorts: [
        { IP: '100.64.0.1', Ports: { First: 22, Last: 22 } },
        { IP: 'fd7a:115c:a1e0::6440:1', Ports: { First: 22, Last: 22 } },
      ],
    },
  ]);
  assert.throws(() => net.setPolicy('{"acls": [{"src": ["group:x"], "dst": ["*:*"]}]}'), /unknown group/);
});

test('e2e: a real v1.72-style client (capver 104, zstd) gets valid zstd map frames', async (t) => {
  const samples = JSON.parse(readFileSync(join(__dirname, 'fixtures/control/map-samples.json'), 'utf8')) as Record<string, MapRequest>;
  const net = await startDevnet({ derp: { derpPort: 443, host: '127.0.0.1', stunPort: 3478 } });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL, { version: 104 });
  t.after(() => c.close());
  const reg = await c.register({ Auth: { AuthKey: net.createAuthKey() }, Hostinfo: samples['mapRequestStream']!.Hostinfo! });
  assert.equal(reg.MachineAuthorized, true);
  const req = { ...samples['mapRequestStream']!, NodeKey: c.nodeKey, DiscoKey: c.discoKey };
  const m = await c.map(req);
  assert.equal(m.zstd, true);
  const first = await m.next();
  assert.equal(first.Node?.Hostinfo?.Hostname, 'go-b');
  // Every top-level field Tailscale's own test server sends, and every Node field it sets, is there too.
  const sample = (samples as unknown as Record<string, Record<string, unknown>>)['mapResponseFirstForB']!;
  for (const k of Object.keys(sample)) assert.ok(k in first, `MapResponse.${k} missing`);
  const sampleNode = sample['Node'] as Record<string, unknown>;
  for (const k of Object.keys(sampleNode)) {
    if (k === 'Capabilities' || k === 'Endpoints' || k === 'DERP') continue; // deprecated / only once known
    assert.ok(k in (first.Node as object), `Node.${k} missing`);
  }
  assert.equal(first.Node?.DiscoKey, c.discoKey);
  assert.equal(m.rawFrames[0]!.readUInt32LE(0), 0xfd2fb528, 'payload is a zstd frame');
  const lite = { ...samples['mapRequestLiteUpdateWithEndpoints']!, NodeKey: c.nodeKey, DiscoKey: c.discoKey };
  const r = await c.post('/machine/map', lite);
  assert.equal(r.status, 200);
  await waitFor(() => net.nodes()[0]!.endpoints.length === 2, 2000, 'endpoints');
  assert.equal(net.nodes()[0]!.homeDERP, 1);
  const self = await m.until((x) => !!x.Node);
  assert.deepEqual(self.Node?.Endpoints, ['127.0.0.1:52095', '198.18.0.1:52095']);
  assert.equal(self.Node?.HomeDERP, 1);
  assert.equal(self.Node?.DERP, '127.3.3.40:1');
});

test('e2e: lib/control ControlClient joins the devnet and sees a peer', async (t) => {
  const net = await startDevnet({ ephemeralTimeoutMs: 100 });
  t.after(() => net.close());
  const key = net.createAuthKey({ reusable: true });
  const mk = (hostname: string) =>
    new ControlClient({ controlURL: net.controlURL, store: new MemoryStore(), hostname, authKey: key, userLogf: () => {} });
  const a = mk('cc-a');
  t.after(() => a.close());
  const nm = await a.up();
  assert.equal(nm.self.Name, 'cc-a.devnet.internal.');
  assert.equal(nm.magicDNSSuffix, 'devnet.internal');
  const b = mk('cc-b');
  t.after(() => b.close());
  await b.up();
  const seen = await waitFor(() => a.netmap?.peers.find((p) => p.Name === 'cc-b.devnet.internal.' && p.Online === true), 5000, 'peer cc-b online');
  assert.equal(seen.Key, b.nodePublic ? `nodekey:${b.nodePublic.toString('hex')}` : '');
  await b.close();
  await waitFor(() => a.netmap?.peers.find((p) => p.ID === seen.ID && p.Online === false), 5000, 'peer offline');
  const ids = net.nodes().map((n) => n.id);
  assert.equal(ids.length, 2);
  let last: NetworkMap | null = null;
  a.on('netmap', (m: NetworkMap) => (last = m));
  net.removeNode(seen.ID);
  await waitFor(() => last && !(last as NetworkMap).peers.some((p) => p.ID === seen.ID), 5000, 'peer removed');
});

test('e2e: state persists in a directory across restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const net1 = await startDevnet({ stateDir: dir, policy: '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:22"]}]}' });
  const key = net1.createAuthKey({ reusable: true });
  const c = await MiniClient.connect(net1.controlURL, { hostname: 'keeper' });
  await c.register({ Auth: { AuthKey: key } });
  const pub = net1.publicKey;
  c.close();
  await net1.close();

  const net2 = await startDevnet({ stateDir: dir });
  t.after(() => net2.close());
  assert.equal(net2.publicKey, pub, 'same Noise key');
  assert.deepEqual(net2.nodes().map((n) => [n.name, n.addresses[0], n.online]), [['keeper.devnet.internal', '100.64.0.1', false]]);
  // The reusable key still works, and the policy came back.
  const d = await MiniClient.connect(net2.controlURL, { hostname: 'second' });
  t.after(() => d.close());
  await d.register({ Auth: { AuthKey: key } });
  const m = await d.map();
  const first = await m.next();
  assert.equal(first.Node?.Addresses?.[0], '100.64.0.2/32');
  assert.deepEqual(first.PacketFilter?.[0]?.DstPorts?.[0]?.Ports, { First: 22, Last: 22 });
  assert.equal(first.Peers?.[0]?.Name, 'keeper.devnet.internal.');
});

test('e2e: services, their approved hosts and approved routes persist across restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-svc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const net1 = await startDevnet({ stateDir: dir, services: [{ name: 'svc:db' }] });
  const c = await MiniClient.connect(net1.controlURL, { hostname: 'router' });
  await c.register({ Auth: { AuthKey: net1.createAuthKey({ tags: ['tag:srv'] }) } });
  c.close();
  const id = net1.nodes()[0]!.id;
  const web = net1.defineService('svc:web');
  net1.approveServiceHost('svc:web', id);
  net1.approveRoutes(id, ['10.9.0.0/16']);
  await net1.close();

  // Started again with the same services option: svc:db is not defined twice, and nothing was lost.
  const net2 = await startDevnet({ stateDir: dir, services: [{ name: 'svc:db' }] });
  t.after(() => net2.close());
  const saved = JSON.parse(readFileSync(join(dir, 'devnet-state.json'), 'utf8')) as { services: { services: Array<{ name: string; approved: number[] }>; approvedRoutes: Array<[number, string[]]> } };
  assert.deepEqual(saved.services.services.map((s) => [s.name, s.approved]), [['svc:db', []], ['svc:web', [id]]]);
  assert.deepEqual(saved.services.approvedRoutes, [[id, ['10.9.0.0/16']]]);
  assert.deepEqual(net2.services().map((s) => [s.name, s.addresses]), [['svc:db', net1.services().find((s) => s.name === 'svc:db')!.addresses], ['svc:web', web.addresses]]);
  // A new service gets a VIP of its own, not one a restored service holds.
  const third = net2.defineService('svc:cache');
  assert.ok(!third.addresses.some((a) => web.addresses.includes(a) || net2.services()[0]!.addresses.includes(a)), JSON.stringify(net2.services()));
});

test('e2e: ephemeral nodes left over from a previous run are removed after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-eph-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const net1 = await startDevnet({ stateDir: dir });
  const c = await MiniClient.connect(net1.controlURL, { hostname: 'temp' });
  await c.register({ Auth: { AuthKey: net1.createAuthKey({ ephemeral: true }) } });
  const d = await MiniClient.connect(net1.controlURL, { hostname: 'stays' });
  await d.register({ Auth: { AuthKey: net1.createAuthKey() } });
  c.close();
  d.close();
  await net1.close();
  const net2 = await startDevnet({ stateDir: dir, ephemeralTimeoutMs: 50, trimPeersByPolicy: false, magicDNS: false });
  t.after(() => net2.close());
  assert.equal(net2.nodes().length, 2);
  await net2.waitFor(() => net2.nodes().length === 1, 3000);
  assert.equal(net2.nodes()[0]!.hostname, 'stays');
  await net2.flush();
  const saved = JSON.parse(readFileSync(join(dir, 'devnet-state.json'), 'utf8')) as { state: { nodes: unknown[] } };
  assert.equal(saved.state.nodes.length, 1);
});

test('e2e: ControlClient interactive login (authURL event → approve)', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const client = new ControlClient({ controlURL: net.controlURL, store: new MemoryStore(), hostname: 'interactive', userLogf: () => {} });
  t.after(() => client.close());
  const urls: string[] = [];
  client.on('authURL', (u: string) => {
    urls.push(u);
    if (urls.length === 1) setTimeout(() => net.approve(u, { user: 'gina@example.com' }), 20);
  });
  const nm = await client.up(AbortSignal.timeout(10000));
  assert.equal(urls.length, 1);
  assert.ok(urls[0]!.startsWith(`${net.controlURL}/register/`));
  assert.equal(nm.self.Name, 'interactive.devnet.internal.');
  assert.equal(nm.userProfiles.get(nm.self.User!)?.LoginName, 'gina@example.com');
  await client.close();
  const n = await net.waitFor(() => net.nodes().find((x) => !x.online), 5000);
  assert.equal(n.hostname, 'interactive');
  assert.equal(n.user, 'gina@example.com');
});

test('e2e: DNS options (nameservers, extra records) reach the node', async (t) => {
  const net = await startDevnet({ nameservers: ['1.1.1.1'], extraRecords: [{ Name: 'db.devnet.internal', Value: '100.64.0.99' }] });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  await c.register({ Auth: { AuthKey: net.createAuthKey() } });
  const m = await c.map();
  const first = await m.next();
  assert.deepEqual(first.DNSConfig, {
    Resolvers: [{ Addr: '1.1.1.1' }],
    Domains: ['devnet.internal'],
    Proxied: true,
    Routes: {},
    ExtraRecords: [{ Name: 'db.devnet.internal', Value: '100.64.0.99' }],
  });
});

test('e2e: control pings (liveness and c2n) answered by lib/control ControlClient', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const client = new ControlClient({ controlURL: net.controlURL, store: new MemoryStore(), hostname: 'pingme', authKey: net.createAuthKey(), userLogf: () => {} });
  t.after(() => client.close());
  await client.up(AbortSignal.timeout(10000));
  const id = net.nodes()[0]!.id;
  const rtt = await net.pingNode(id, 5000);
  assert.ok(rtt >= 0 && rtt < 5000);
  const echo = await net.c2n(id, { method: 'POST', path: '/echo', body: 'hello node' }, 5000);
  assert.equal(echo.status, 200);
  assert.equal(echo.body.toString(), 'hello node');
  const missing = await net.c2n(id, { path: '/no-such-handler' }, 5000);
  assert.equal(missing.status, 400, 'an unknown path is a bad request, as Tailscale answers');
  const noSource = await net.c2n(id, { path: '/debug/netmap' }, 5000);
  assert.equal(noSource.status, 501, 'a bare ControlClient lends no netmap to c2n');
  await client.close();
  await net.waitFor(() => !net.nodes()[0]!.online);
  await assert.rejects(net.pingNode(id, 500), /no map stream/);
});

test('e2e: a node from a non-preauthorized key waits for authorizeNode', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const a = await MiniClient.connect(net.controlURL, { hostname: 'old' });
  t.after(() => a.close());
  await a.register({ Auth: { AuthKey: net.createAuthKey() } });
  const ma = await a.map();
  await ma.next();
  const client = new ControlClient({ controlURL: net.controlURL, store: new MemoryStore(), hostname: 'newbie', authKey: net.createAuthKey({ preauthorized: false }), userLogf: () => {} });
  t.after(() => client.close());
  const states: string[] = [];
  client.on('state', (s: string) => states.push(s));
  client.start();
  const n = await net.waitFor(() => net.nodes().find((x) => x.hostname === 'newbie' && x.online));
  assert.equal(n.authorized, false);
  await waitFor(() => states.includes('NeedsMachineAuth'), 5000, 'NeedsMachineAuth');
  assert.equal(client.netmap?.peers.length ?? 0, 0);
  // The authorized node does not see it yet.
  await assert.rejects(ma.until((m) => !!m.PeersChanged?.length, 300), /timed out/);
  net.authorizeNode(n.id);
  const nm = await client.up(AbortSignal.timeout(5000));
  assert.equal(nm.self.MachineAuthorized, true);
  await waitFor(() => client.netmap?.peers.some((p) => p.Name === 'old.devnet.internal.'), 5000, 'peer old');
  const seen = await ma.until((m) => !!m.PeersChanged?.some((p) => p.ID === n.id));
  assert.ok(seen);
});

test('persistence: a corrupt state file is a clear error, not a silent reset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'devnet-state.json'), '{"format": "tsnet-devnet", "controlPrivate": ');
  await assert.rejects(startDevnet({ stateDir: dir }), /not valid JSON/);
  writeFileSync(join(dir, 'devnet-state.json'), '{"format": "something-else"}');
  await assert.rejects(startDevnet({ stateDir: dir }), /unexpected shape/);
});

test('e2e: the server also listens on ::1', async (t) => {
  let net;
  try {
    net = await startDevnet({ host: '::1' });
  } catch (e) {
    return t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
  }
  t.after(() => net.close());
  assert.match(net.controlURL, /^http:\/\/\[::1\]:\d+$/);
  const c = await MiniClient.connect(net.controlURL);
  t.after(() => c.close());
  const r = await c.register();
  assert.ok(r.AuthURL?.startsWith(`${net.controlURL}/register/`));
});
