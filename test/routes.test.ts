// Subnet routes and exit nodes on the bundled devnet (docs/services.md): a router advertises a route and a
// default route, an admin approves them, and a peer that accepts routes (or picks the router as exit node)
// dials addresses behind it; the router's fallback TCP handler answers with the destination it saw. The
// "subnet" and the "internet" are the handler itself: no packet leaves the tunnel between the two nodes,
// which talk over loopback.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import type { Policy } from '../lib/devnet/policy.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, type AddrPort } from '../lib/server.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import type { EngineConfig, EnginePeer } from '../lib/wire/engine-config.js';
import { Foreign } from '../lib/server/foreign.js';

let devnet: Devnet;
let router: Server;
let client: Server;
const seen: Array<{ src: AddrPort; dst: AddrPort; socket?: string }> = [];

before(async () => {
  devnet = await startDevnet();
  const key = devnet.createAuthKey({ reusable: true });
  router = new Server({ hostname: 'router', controlURL: devnet.controlURL, authKey: key, store: new MemoryStore(), advertiseRoutes: ['10.99.0.0/24', '0.0.0.0/0', '::/0'] });
  client = new Server({ hostname: 'roaming', controlURL: devnet.controlURL, authKey: key, store: new MemoryStore(), acceptRoutes: true });
  router.registerFallbackTCPHandler((src, dst) => {
    if (dst.port === 9) return undefined; // not intercepted: reset
    const entry: { src: AddrPort; dst: AddrPort; socket?: string } = { src, dst };
    seen.push(entry);
    return (s) => {
      entry.socket = s.bridge;
      s.end(`${dst.address}:${dst.port}`);
    };
  });
  await Promise.all([router.up(), client.up()]);
});

after(async () => {
  await Promise.allSettled([router.close(), client.close()]);
  await devnet.close();
});

function netmapWhere(s: Server, check: (nm: NetworkMap) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const on = (nm: NetworkMap): void => {
      if (check(nm)) {
        s.off('netmap', on);
        resolve();
      }
    };
    s.on('netmap', on);
  });
}

const routerAllows = (prefix: string) => (nm: NetworkMap): boolean =>
  nm.peers.some((p) => (p.Name ?? '').startsWith('router.') && (p.AllowedIPs ?? []).includes(prefix));

async function ask(address: string): Promise<string> {
  const sock = await client.dial('tcp', address);
  const chunks: Buffer[] = [];
  for await (const c of sock) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('advertised routes wait for approval; then a peer that accepts routes reaches the router\'s fallback handler', { timeout: 30_000 }, async () => {
  const routerNode = await devnet.waitFor(() => devnet.nodes().find((n) => n.hostname === 'router'));
  // Not approved: no route to the subnet.
  await assert.rejects(client.dial('tcp', '10.99.0.5:80'), { code: 'EHOSTUNREACH' });
  const approved = netmapWhere(client, routerAllows('10.99.0.0/24'));
  devnet.approveRoutes(routerNode.id, ['10.99.0.0/24']);
  await approved;
  assert.equal(await ask('10.99.0.5:80'), '10.99.0.5:80');
  const last = seen.at(-1)!;
  assert.equal(last.socket, (await import('../lib/net/bridge.js')).bridgeMode(), 'the catch-all listener uses the process\'s bridge transport');
  assert.deepEqual(last.dst, { address: '10.99.0.5', port: 80 });
  assert.equal(last.src.address, client.tailscaleIPs()[0]);
  // Not intercepted: reset.
  const other = await client.dial('tcp', '10.99.0.5:9');
  await assert.rejects(async () => {
    for await (const _ of other) void _;
  }, { code: 'ECONNRESET' });
  // acceptRoutes off: the route is no longer used.
  client.editPrefs({ acceptRoutes: false });
  await assert.rejects(client.dial('tcp', '10.99.0.5:80'), { code: 'EHOSTUNREACH' });
  const prefs = await client.localClient().editPrefs({ acceptRoutes: true });
  assert.equal(prefs.acceptRoutes, true);
  assert.equal(await ask('10.99.0.6:81'), '10.99.0.6:81');
});

test('an approved exit node carries traffic for addresses outside the tailnet once chosen', { timeout: 30_000 }, async () => {
  const routerNode = devnet.nodes().find((n) => n.hostname === 'router')!;
  const approved = netmapWhere(client, routerAllows('0.0.0.0/0'));
  devnet.approveRoutes(routerNode.id, ['0.0.0.0/0', '::/0']);
  await approved;
  // 192.0.2.0/24 is TEST-NET-1: the exit node's handler answers it; nothing is sent outside the tunnel.
  await assert.rejects(client.dial('tcp', '192.0.2.10:443'), { code: 'EHOSTUNREACH' });
  client.editPrefs({ exitNode: 'router' });
  assert.equal(await ask('192.0.2.10:443'), '192.0.2.10:443');
  assert.equal(await ask('[2001:db8::7]:8443'), '2001:db8::7:8443');
  client.editPrefs({ exitNode: null });
  await assert.rejects(client.dial('tcp', '192.0.2.10:443'), { code: 'EHOSTUNREACH' });
});

test('route preferences are checked', () => {
  assert.throws(() => client.editPrefs({ advertiseRoutes: ['10.0.0.0/33'] }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => client.editPrefs({ acceptRoutes: 'yes' as unknown as boolean }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Server({ advertiseRoutes: ['nope'] }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('policy autoApprovers approve a tagged router\'s routes inside an approved prefix, and nothing else', { timeout: 30_000 }, async () => {
  const policy = {
    acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
    tagOwners: { 'tag:router': ['autogroup:member'] },
    autoApprovers: { routes: { '10.98.0.0/16': ['tag:router'] }, exitNode: ['tag:nobody'] },
  } as unknown as Policy;
  devnet.setPolicy(policy);
  const key = devnet.createAuthKey({ reusable: true, tags: ['tag:router'] });
  const approved = netmapWhere(client, (nm) => nm.peers.some((p) => (p.Name ?? '').startsWith('router2.') && (p.AllowedIPs ?? []).includes('10.98.1.0/24')));
  const router2 = new Server({ hostname: 'router2', controlURL: devnet.controlURL, authKey: key, advertiseTags: ['tag:router'], store: new MemoryStore(), advertiseRoutes: ['10.98.1.0/24', '10.97.0.0/24', '0.0.0.0/0'] });
  router2.registerFallbackTCPHandler((_src, dst) => (s) => s.end(`router2 ${dst.address}:${dst.port}`));
  try {
    await router2.up();
    await approved;
    const n = devnet.nodes().find((x) => x.hostname === 'router2')!;
    assert.deepEqual(n.approvedRoutes, ['10.98.1.0/24']); // 10.97.0.0/24 is outside, the exit route not approved
    assert.equal(await ask('10.98.1.20:22'), 'router2 10.98.1.20:22');
    await assert.rejects(client.dial('tcp', '10.97.0.1:22'), { code: 'EHOSTUNREACH' });
  } finally {
    await router2.close();
    devnet.setPolicy(null);
  }
});

test('which peer prefixes are used: own addresses and single Tailscale IPs always, subnets with acceptRoutes, a default route for the exit node only', () => {
  const host = { stack: () => null, setVIPServices: () => {}, setRoutableIPs: () => {}, reapply: () => {} };
  const peer = (id: number, name: string, allowedIPs: string[]): EnginePeer => ({
    id, stableID: `n${id}`, name, nodeKey: Buffer.alloc(32), nodeKeyText: '', discoKey: null, allowedIPs,
    addresses: allowedIPs.slice(0, 1), endpoints: [], homeDERP: 0, online: true, keyExpiry: null, isWireGuardOnly: false, tags: [], user: 1,
  });
  const cfg = {
    addresses: ['100.64.0.1/32'],
    peers: [
      peer(1, 'a.devnet.internal', ['100.64.0.2/32', '100.127.254.9/32', '10.0.0.5/32', '10.1.0.0/16', '0.0.0.0/0']),
      peer(2, 'b.devnet.internal', ['100.64.0.3/32', '0.0.0.0/0', '::/0']),
    ],
  } as unknown as EngineConfig;
  const nm = { self: {} } as unknown as NetworkMap;
  const f = new Foreign(host, {});
  const used = (): string[][] => f.adjust(cfg, nm).peers.map((p) => [...p.allowedIPs]);
  assert.deepEqual(used(), [['100.64.0.2/32', '100.127.254.9/32'], ['100.64.0.3/32']]);
  f.editPrefs({ acceptRoutes: true });
  assert.deepEqual(used(), [['100.64.0.2/32', '100.127.254.9/32', '10.0.0.5/32', '10.1.0.0/16'], ['100.64.0.3/32']]);
  f.editPrefs({ exitNode: 'b' });
  assert.deepEqual(used()[1], ['100.64.0.3/32', '0.0.0.0/0', '::/0']);
  f.editPrefs({ exitNode: '100.64.0.2' }); // by IP: a
  assert.deepEqual(used(), [['100.64.0.2/32', '100.127.254.9/32', '10.0.0.5/32', '10.1.0.0/16', '0.0.0.0/0'], ['100.64.0.3/32']]);
  f.editPrefs({ exitNode: 'n2' }); // by stable ID: b
  assert.deepEqual(used()[1], ['100.64.0.3/32', '0.0.0.0/0', '::/0']);
});

test('a policy naming a route prefix as destination reaches the router\'s filter and admits only that port', { timeout: 30_000 }, async () => {
  const routerFilter = new Promise<string[]>((resolve) => {
    const on = (nm: NetworkMap): void => {
      const dsts = nm.packetFilter.flatMap((r) => (r.DstPorts ?? []).map((d) => `${d.IP}:${d.Ports.First}-${d.Ports.Last}`));
      if (dsts.length === 1) {
        router.off('netmap', on);
        resolve(dsts);
      }
    };
    router.on('netmap', on);
  });
  devnet.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['10.99.0.0/24:80'] }] } as unknown as Policy);
  try {
    assert.deepEqual(await routerFilter, ['10.99.0.0/24:80-80']);
    assert.equal(await ask('10.99.0.8:80'), '10.99.0.8:80');
  } finally {
    devnet.setPolicy(null);
  }
});

test('autogroup:internet: a restrictive policy that grants it lets traffic through the exit node, and nothing else of the router', { timeout: 30_000 }, async () => {
  const routerFilter = new Promise<string[]>((resolve) => {
    const on = (nm: NetworkMap): void => {
      const dsts = nm.packetFilter.flatMap((r) => (r.DstPorts ?? []).map((d) => d.IP));
      if (dsts.length && !dsts.includes('10.99.0.0/24')) {
        router.off('netmap', on);
        resolve(dsts);
      }
    };
    router.on('netmap', on);
  });
  devnet.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['autogroup:internet:*'] }] } as unknown as Policy);
  try {
    const dsts = await routerFilter;
    assert.ok(dsts.includes('192.0.0.0/9') && dsts.includes('2000::/3'), `internet prefixes in the exit node's filter: ${dsts.slice(0, 5).join(' ')}...`);
    assert.ok(!dsts.some((d) => d.startsWith('100.64.') || d.startsWith('10.') || d.startsWith('fd7a:')), 'no tailnet or private destinations');
    client.editPrefs({ exitNode: 'router' });
    assert.equal(await ask('192.0.2.11:443'), '192.0.2.11:443');
  } finally {
    client.editPrefs({ exitNode: null });
    devnet.setPolicy(null);
  }
});

test('fallback handlers also get flows to the node\'s own ports that no listener takes; unregistering restores the refusal', { timeout: 30_000 }, async () => {
  const clientIP = client.tailscaleIPs()[0]!;
  const refused = await router.dial('tcp', `${clientIP}:5555`).then(() => 'connected', (err: NodeJS.ErrnoException) => err.code);
  assert.equal(refused, 'ECONNREFUSED');
  const got: AddrPort[] = [];
  const off = client.registerFallbackTCPHandler((_src, dst) => {
    got.push(dst);
    return (s) => s.end('own-port fallback');
  });
  const sock = await router.dial('tcp', `${clientIP}:5555`);
  const chunks: Buffer[] = [];
  for await (const c of sock) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'own-port fallback');
  assert.deepEqual(got, [{ address: clientIP, port: 5555 }]);
  // A real listener still wins over the fallback.
  const ln = client.listen('tcp', ':5556');
  ln.on('connection', (s) => s.end('listener'));
  const sock2 = await router.dial('tcp', `${clientIP}:5556`);
  const chunks2: Buffer[] = [];
  for await (const c of sock2) chunks2.push(c as Buffer);
  assert.equal(Buffer.concat(chunks2).toString(), 'listener');
  ln.close();
  off();
  const again = await router.dial('tcp', `${clientIP}:5555`).then(() => 'connected', (err: NodeJS.ErrnoException) => err.code);
  assert.equal(again, 'ECONNREFUSED');
});

test('listen on an explicit address inside an advertised route takes that address and port ahead of the fallback handler', { timeout: 30_000 }, async () => {
  const r = new Server({ hostname: 'router4', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ reusable: true }), store: new MemoryStore(), advertiseRoutes: ['10.95.0.0/24'] });
  r.registerFallbackTCPHandler((_src, dst) => (s) => s.end(`fallback ${dst.address}:${dst.port}`));
  try {
    await r.up();
    const id = devnet.nodes().find((n) => n.hostname === 'router4')!.id;
    const approved = netmapWhere(client, (nm) => nm.peers.some((p) => (p.Name ?? '').startsWith('router4.') && (p.AllowedIPs ?? []).includes('10.95.0.0/24')));
    devnet.approveRoutes(id, ['10.95.0.0/24']);
    await approved;
    const ln = r.listen('tcp', '10.95.0.7:80');
    assert.equal(ln.address().address, '10.95.0.7');
    ln.on('connection', (s) => s.end(`listener ${s.localAddress}:${s.localPort}`));
    assert.equal(await ask('10.95.0.7:80'), 'listener 10.95.0.7:80');
    assert.equal(await ask('10.95.0.7:81'), 'fallback 10.95.0.7:81');
    assert.equal(await ask('10.95.0.8:80'), 'fallback 10.95.0.8:80');
    assert.throws(() => r.listen('tcp', '10.95.0.7:80'), { code: 'EADDRINUSE' });
    ln.close();
    assert.equal(await ask('10.95.0.7:80'), 'fallback 10.95.0.7:80');
  } finally {
    await r.close();
  }
});

test('two routers of one subnet: the netmap gives it to one (the primary); when it goes offline the other takes over', { timeout: 60_000 }, async () => {
  const key = devnet.createAuthKey({ reusable: true });
  const router3 = new Server({ hostname: 'router3', controlURL: devnet.controlURL, authKey: key, store: new MemoryStore(), advertiseRoutes: ['10.99.0.0/24'] });
  router3.registerFallbackTCPHandler((_src, dst) => (s) => s.end(`router3 ${dst.address}:${dst.port}`));
  try {
    await router3.up();
    const id3 = devnet.nodes().find((n) => n.hostname === 'router3')!.id;
    const standby = netmapWhere(client, (nm) => nm.peers.some((p) => (p.Name ?? '').startsWith('router3.')));
    devnet.approveRoutes(id3, ['10.99.0.0/24']);
    await standby;
    assert.equal(await ask('10.99.0.9:80'), '10.99.0.9:80'); // still the first router
    const failover = netmapWhere(client, (nm) => nm.peers.some((p) => (p.Name ?? '').startsWith('router3.') && (p.PrimaryRoutes ?? []).includes('10.99.0.0/24')));
    await router.close();
    await failover;
    assert.equal(await ask('10.99.0.9:80'), 'router3 10.99.0.9:80');
  } finally {
    await router3.close();
  }
});

test('listen on an address the node neither owns nor serves stays EADDRNOTAVAIL', () => {
  assert.throws(() => client.listen('tcp', '10.95.0.7:80'), { code: 'EADDRNOTAVAIL' });
});
