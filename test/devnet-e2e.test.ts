import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevnet } from '../lib/devnet/index.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

test('e2e: register with an auth key, stream a map, see a peer join, change and leave', async (t) => {
  const net = await startDevnet({ derp: { derpPort: 3340 }, ephemeralTimeoutMs: 50 });
  t.after(() => net.close());
  assert.match(net.controlURL, /^http:\/\/127\.0\.0\.1:\d+$/);
  const key = net.createAuthKey({ reusable: true });

  const a = await MiniClient.connect(net.controlURL, { hostname: 'alpha' });
  t.after(() => a.close());
  const ra = await a.register({ Auth: { AuthKey: key } });
  assert.equal(ra.MachineAuthorized, true);
  assert.equal(ra.AuthURL ?? '', '');
  assert.equal(ra.Login?.LoginName, 'dev@example.com');

  const ma = await a.map({ Compress: 'zstd' });
  const first = await ma.next();
  assert.equal(first.Node?.Name, 'alpha.devnet.internal.');
  assert.deepEqual(first.Node?.Addresses, ['100.64.0.1/32', 'fd7a:115c:a1e0::6440:1/128']);
  assert.deepEqual(first.Peers, []);
  assert.equal(first.Domain, 'devnet.internal');
  assert.equal(first.DERPMap?.Regions?.['900']?.Nodes?.[0]?.DERPPort, 3340);
  assert.ok(Array.isArray(first.PacketFilter));
  assert.equal(first.DNSConfig?.Proxied, true);

  // Second node joins (uncompressed stream).
  const b = await MiniClient.connect(net.controlURL, { hostname: 'bravo' });
  t.after(() => b.close());
  await b.register({ Auth: { AuthKey: key } });
  const mb = await b.map();
  const firstB = await mb.next();
  assert.equal(firstB.Peers?.length, 1);
  assert.equal(firstB.Peers?.[0]?.Name, 'alpha.devnet.internal.');

  const joined = await ma.until((m) => !!m.PeersChanged?.length);
  assert.equal(joined.PeersChanged?.[0]?.Name, 'bravo.devnet.internal.');
  assert.equal(joined.PeersChanged?.[0]?.Key, b.nodeKey);

  // b sends a lite update with endpoints: a sees a patch.
  const lite = await b.post('/machine/map', {
    Version: 145, NodeKey: b.nodeKey, DiscoKey: b.discoKey, Stream: false, OmitPeers: true,
    Hostinfo: b.hostinfo(), Endpoints: ['127.0.0.1:41641', '192.168.1.2:41641'], EndpointTypes: [2, 1],
  });
  assert.equal(lite.status, 200);
  const patched = await ma.until((m) => !!m.PeersChangedPatch?.some((p) => p.Endpoints?.length));
  assert.deepEqual(patched.PeersChangedPatch?.[0]?.Endpoints, ['127.0.0.1:41641', '192.168.1.2:41641']);
  assert.equal(patched.PeersChanged, undefined);

  // b goes away: a sees it offline.
  mb.close();
  const offline = await ma.until((m) => m.PeersChangedPatch?.some((p) => p.Online === false) === true);
  assert.ok(offline.PeersChangedPatch?.[0]?.LastSeen);

  // Removed by the admin: a sees PeersRemoved.
  const bid = net.nodes().find((n) => n.hostname === 'bravo')!.id;
  net.removeNode(bid);
  const removed = await ma.until((m) => !!m.PeersRemoved?.length);
  assert.deepEqual(removed.PeersRemoved, [bid]);
});

test('e2e: keep-alives, DERP map updates, custom domain, key expiry pushed to streams', async (t) => {
  const net = await startDevnet({ domain: 'corp.example', keepAliveMs: 30, nodeKeyExpiryMs: 400 });
  t.after(() => net.close());
  // By default the DERP map points at the devnet's own relay and STUN responder.
  const own = Object.values(net.derpMap.Regions ?? {});
  assert.equal(own.length, 1);
  assert.ok(net.relay, 'the relay runs by default');
  assert.equal(own[0]!.Nodes?.[0]?.DERPPort, net.relay.derpMapOptions.derpPort);
  const key = net.createAuthKey({ reusable: true });
  const a = await MiniClient.connect(net.controlURL, { hostname: 'Alpha_Box' });
  t.after(() => a.close());
  await a.register({ Auth: { AuthKey: key } });
  const ma = await a.map({ Compress: 'zstd' });
  const first = await ma.next();
  assert.equal(first.Node?.Name, 'alpha-box.corp.example.');
  assert.deepEqual(first.DNSConfig?.Domains, ['corp.example']);
  const ka = await ma.next(2000, true);
  assert.deepEqual(ka, { KeepAlive: true });

  net.setDERPMap({ Regions: { '7': { RegionID: 7, RegionCode: 'x', Nodes: [{ Name: '7a', RegionID: 7, HostName: 'localhost', DERPPort: 4443, InsecureForTests: true }] } } });
  const d = await ma.until((m) => !!m.DERPMap);
  assert.equal(d.DERPMap?.Regions?.['7']?.Nodes?.[0]?.DERPPort, 4443);

  const b = await MiniClient.connect(net.controlURL, { hostname: 'beta' });
  t.after(() => b.close());
  await b.register({ Auth: { AuthKey: key } });
  await ma.until((m) => !!m.PeersChanged?.length);
  // Both keys expire after 400 ms: a's own Node says so and its peers and filter are withdrawn.
  const expired = await ma.until((m) => m.Node?.Expired === true, 3000);
  assert.ok(Date.parse(expired.Node!.KeyExpiry!) <= Date.now());
  assert.ok(expired.PeersRemoved?.length === 1 || (await ma.until((m) => !!m.PeersRemoved?.length)));
  assert.equal(net.nodes()[0]!.expired, true);
  // Re-registering without auth now needs a login.
  const again = await a.register();
  assert.ok(again.AuthURL);
});

test('e2e: forty nodes join; everyone converges on the full peer list', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const key = net.createAuthKey({ reusable: true });
  const N = 40;
  const clients: MiniClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  const readers = [];
  const started = Date.now();
  for (let i = 0; i < N; i++) {
    const c = await MiniClient.connect(net.controlURL, { hostname: `n${i}` });
    clients.push(c);
    await c.register({ Auth: { AuthKey: key } });
    readers.push(await c.map({ Compress: i % 2 ? 'zstd' : '' }));
  }
  await net.waitFor(() => net.nodes().filter((n) => n.online).length === N);
  // Replay each stream's messages into a peer set and check it is complete.
  await Promise.all(
    readers.map(async (r, i) => {
      const peers = new Set<number>();
      for (;;) {
        const m = await r.next(10000);
        for (const p of m.Peers ?? []) peers.add(p.ID);
        for (const p of m.PeersChanged ?? []) peers.add(p.ID);
        for (const id of m.PeersRemoved ?? []) peers.delete(id);
        if (peers.size === N - 1) break;
      }
      assert.equal(peers.size, N - 1, `client ${i}`);
    }),
  );
  assert.ok(Date.now() - started < 20000);
});

test('e2e: a second map poll from the same node replaces the first without an offline blip', async (t) => {
  const net = await startDevnet();
  t.after(() => net.close());
  const key = net.createAuthKey({ reusable: true });
  const a = await MiniClient.connect(net.controlURL, { hostname: 'watch' });
  t.after(() => a.close());
  await a.register({ Auth: { AuthKey: key } });
  const b = await MiniClient.connect(net.controlURL, { hostname: 'flappy' });
  t.after(() => b.close());
  await b.register({ Auth: { AuthKey: key } });
  const mb1 = await b.map();
  await mb1.next();
  const ma = await a.map();
  const first = await ma.next();
  assert.equal(first.Peers?.[0]?.Online, true);
  const mb2 = await b.map();
  await mb2.next();
  await assert.rejects(mb1.until(() => false, 2000), /ended/);
  // No Online:false patch reached the watcher.
  await assert.rejects(ma.until((m) => !!m.PeersChangedPatch?.some((p) => p.Online === false), 300), /timed out/);
  assert.equal(net.nodes().find((n) => n.hostname === 'flappy')?.online, true);
});
