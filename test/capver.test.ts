/**
 * The capability version guard (docs/protocol/capver.md, "The guard"): the version the client sends is the one
 * the table backs, every version up to it is done or not needed, and every done row names tests that exist.
 * Plus the small obligations that have no other home: Hostinfo fields (113, 118) and node attributes (143).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import * as dgram from 'node:dgram';
import path from 'node:path';
import { CAPABILITY_VERSION, ControlClient } from '../lib/control/client.js';
import { defaultHostinfo } from '../lib/control/hostinfo.js';
import { MemoryStore } from '../lib/control/store.js';
import { CURRENT_CAPABILITY_VERSION, MIN_CAPABILITY_VERSION, startDevnet, type Policy } from '../lib/devnet/index.js';
import { NODE_ATTRS, selfNodeAttrs } from '../lib/wire/node-attrs.js';
import { engineConfigFromNetmap } from '../lib/wire/engine-config.js';
import { NetmapState } from '../lib/wire/netmap.js';
import { registerRetryDelayMs } from '../lib/control/register.js';
import { FakeControl } from './fixtures/control/fake-control.js';
import type { Socket } from 'node:net';
import { Server, dataPlaneOf } from '../lib/server.js';

const ROOT = path.join(__dirname, '..');
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');

/** Tailscale's newest CurrentCapabilityVersion the table was brought up to (main, 2026-08). */
const NEWEST_KNOWN = 145;
/** Headscale's next release refuses clients below this. */
const HEADSCALE_NEXT_MIN = 116;

/**
 * Version → the tests that show its obligation is met: [file, test name] (a `test('…')` in a .ts file, a
 * `RUN(…)` in a C test). Every row the table marks done needs an entry here, and nothing else may have one.
 */
const GUARDS: Readonly<Record<number, ReadonlyArray<readonly [string, string]>>> = {
  113: [['test/capver.test.ts', '113, 118: Hostinfo leaves IngressEnabled unset (no Funnel) and reports StateEncrypted']],
  115: [['test/magicsock-js.test.ts', 'chooseHomeRegion: lowest scaled latency, excluded regions, hysteresis (10 ms, 2/3, heard recently), keep-alive fallback']],
  117: [['test/control-map.test.ts', 'UserProfiles merge by ID; DisplayMessages is a patch map with "*": null']],
  118: [['test/capver.test.ts', '113, 118: Hostinfo leaves IngressEnabled unset (no Funnel) and reports StateEncrypted']],
  120: [
    ['native/test/test_ms_relay.c', 'test_a_allocates_both_bind'],
    ['native/test/test_disco_relay.c', 'test_handshake'],
    ['test/interop-peer-relay.test.ts', 'peer relay: our two nodes without a direct path relay through a granted tsnet peer relay, not DERP'],
    ['test/interop-peer-relay.test.ts', 'peer relay: our node and a tsnet node relay through a tsnet peer relay'],
  ],
  121: [
    ['native/test/test_ms_relay.c', 'test_both_allocate_one_endpoint'],
    ['test/interop-peer-relay.test.ts', 'peer relay: our node and a tsnet node relay through a tsnet peer relay'],
  ],
  124: [['native/test/test_magicsock.c', 'test_many_peers']],
  126: [
    ['test/rekey.test.ts', 'after a node key renewal both directions work again, direct paths allowed; a TCP connection opened before survives'],
    ['test/rekey.test.ts', 'after a node key renewal both directions work again through the relay (alwaysUseDERP); a TCP connection opened before survives'],
  ],
  127: [
    ['test/control-engine.test.ts', 'c2n: routing as Tailscale answers it, and the debug handlers'],
    ['test/first-hour.test.ts', "control's debug requests (c2n) see the node's netmap, health and metrics"],
  ],
  128: [['test/first-hour.test.ts', "control's debug requests (c2n) see the node's netmap, health and metrics"]],
  137: [['test/capver.test.ts', '137: HTTP 429 on register waits as Retry-After says (seconds or a date), else 5-10 s, and retries']],
  140: [
    ['native/test/test_udp.c', 'offload_switches'],
    ['test/capver.test.ts', "140, 141: node attributes switch the UDP socket's GSO and GRO off, and never-gso-equal-tail ends equal GSO runs with a sentinel that peers drop"],
  ],
  141: [
    ['native/test/test_udp.c', 'offload_switches'],
    ['test/capver.test.ts', "140, 141: node attributes switch the UDP socket's GSO and GRO off, and never-gso-equal-tail ends equal GSO runs with a sentinel that peers drop"],
  ],
  138: [['test/control-engine.test.ts', 'c2n: /debug/tka/log says tailnet lock is not active; /remoteapi/localapi/* is refused (remote config is off), as Tailscale answers']],
  142: [['test/control-engine.test.ts', 'c2n: /debug/tka/log says tailnet lock is not active; /remoteapi/localapi/* is refused (remote config is off), as Tailscale answers']],
  143: [['test/capver.test.ts', '143: unknown node attributes are ignored; only-tcp-443 is read into the engine config']],
};

type Status = 'done' | 'not needed' | 'partial' | 'missing';

function table(): Map<number, { status: Status; asks: string }> {
  const rows = new Map<number, { status: Status; asks: string }>();
  for (const line of read('docs/protocol/capver.md').split('\n')) {
    const m = /^\| (\d+) \| (.+?) \| (done|not needed|partial|missing) \| (.+) \|$/.exec(line);
    if (!m) continue;
    const v = Number(m[1]);
    assert.ok(!rows.has(v), `capver.md lists ${v} twice`);
    rows.set(v, { asks: m[2]!, status: m[3] as Status });
  }
  return rows;
}

function testExists(file: string, name: string): boolean {
  const src = read(file);
  if (file.endsWith('.c')) return src.includes(`RUN(${name});`);
  const names = new Set<string>();
  for (const m of src.matchAll(/\btest\(\s*(['"`])((?:(?!\1).)*)\1/g)) names.add(m[2]!);
  return names.has(name);
}

test('capver.md has a row for every version from 113 to the newest known, with a status', () => {
  const rows = table();
  for (let v = 113; v <= NEWEST_KNOWN; v++) assert.ok(rows.has(v), `capver.md has no row for ${v}`);
  assert.equal(rows.size, NEWEST_KNOWN - 113 + 1, 'capver.md has rows outside 113..newest');
  assert.match(read('docs/protocol/capver.md'), new RegExp(`\\*\\*We claim ${CAPABILITY_VERSION}\\*\\*`), 'the prose names the claimed version');
});

test('the claim is backed: every version up to it is done or not needed, and every done row has existing tests', () => {
  const rows = table();
  assert.ok(CAPABILITY_VERSION >= HEADSCALE_NEXT_MIN, "below Headscale's next minimum");
  assert.ok(CAPABILITY_VERSION <= NEWEST_KNOWN, 'the table does not reach the claimed version');
  for (let v = 113; v <= CAPABILITY_VERSION; v++) {
    const s = rows.get(v)!.status;
    assert.ok(s === 'done' || s === 'not needed', `claimed ${CAPABILITY_VERSION}, but ${v} is ${s}: ${rows.get(v)!.asks}`);
  }
  for (const [v, row] of rows) {
    if (row.status === 'done') assert.ok(GUARDS[v]?.length, `${v} is marked done but names no test in GUARDS`);
    else assert.equal(GUARDS[v], undefined, `${v} is ${row.status} but GUARDS names tests for it`);
  }
  for (const [v, tests] of Object.entries(GUARDS)) {
    for (const [file, name] of tests) assert.ok(testExists(file, name), `${v}: no test "${name}" in ${file}`);
  }
});

test('the version sent is CAPABILITY_VERSION, and a devnet refusing anything below Headscale-next accepts it', async (t) => {
  // The devnet and the table know the same newest version, and the devnet's default range holds our claim.
  assert.equal(CURRENT_CAPABILITY_VERSION, NEWEST_KNOWN);
  assert.ok(MIN_CAPABILITY_VERSION <= CAPABILITY_VERSION && CAPABILITY_VERSION <= CURRENT_CAPABILITY_VERSION);
  const net = await startDevnet({ minCapVersion: HEADSCALE_NEXT_MIN });
  t.after(() => net.close());
  const c = new ControlClient({
    controlURL: net.controlURL,
    store: new MemoryStore(),
    hostname: 'capver',
    authKey: net.createAuthKey(),
    userLogf: () => {},
    backoff: { initialMs: 20, maxMs: 200 },
  });
  t.after(() => c.close());
  await c.up(AbortSignal.timeout(10_000));
  const node = net.nodes().find((n) => n.hostname === 'capver');
  assert.equal(node?.capVersion, CAPABILITY_VERSION);

  // One version higher and the same devnet turns us away: the number it checked is the one we send.
  const strict = await startDevnet({ minCapVersion: CAPABILITY_VERSION + 1 });
  t.after(() => strict.close());
  const d = new ControlClient({ controlURL: strict.controlURL, store: new MemoryStore(), authKey: strict.createAuthKey(), userLogf: () => {}, backoff: { initialMs: 20, maxMs: 200 } });
  t.after(() => d.close());
  const refused = once(d, 'controlError');
  void d.up(AbortSignal.timeout(10_000)).catch(() => {});
  const [err] = (await refused) as [Error];
  assert.match(err.message, new RegExp(`unsupported client version ${CAPABILITY_VERSION}\\b`));
});

test('113, 118: Hostinfo leaves IngressEnabled unset (no Funnel) and reports StateEncrypted', () => {
  const plain = defaultHostinfo({ hostname: 'h', backendLogID: 'ab'.repeat(32) });
  assert.equal(plain.StateEncrypted, false);
  assert.equal(plain.IngressEnabled, undefined);
  assert.equal(plain.WireIngress, undefined);
  const enc = defaultHostinfo({ hostname: 'h', backendLogID: 'ab'.repeat(32), stateEncrypted: true });
  assert.equal(enc.StateEncrypted, true);
  // On the wire: a JSON boolean, as Tailscale's opt.Bool marshals.
  assert.match(JSON.stringify(plain), /"StateEncrypted":false/);
  // The client takes it from its Store.
  const store = Object.assign(new MemoryStore(), { encrypted: true });
  const c = new ControlClient({ controlURL: 'http://127.0.0.1:9', store, userLogf: () => {} });
  try {
    assert.equal(c.hostinfo().StateEncrypted, true);
  } finally {
    void c.close();
  }
});

test('143: unknown node attributes are ignored; only-tcp-443 is read into the engine config', () => {
  assert.deepEqual(selfNodeAttrs(null), { onlyTCP443: false, randomizeClientPort: false, disableUDPGSO: false, disableUDPGRO: false, neverGSOEqualTail: false, unknown: [] });
  const a = selfNodeAttrs({
    'only-tcp-443': null,
    'conn25-whatever': null,
    'zz-new-attr': [{ x: 1 }],
    'https://tailscale.com/cap/file-sharing': null,
    'disable-relay-client': null,
  });
  assert.equal(a.onlyTCP443, true);
  assert.deepEqual(a.unknown, ['conn25-whatever', 'zz-new-attr']);
  assert.equal(selfNodeAttrs({ 'disable-udp-gso': null }).onlyTCP443, false);
  assert.deepEqual(
    [selfNodeAttrs({ 'disable-udp-gso': null }).disableUDPGSO, selfNodeAttrs({ 'disable-udp-gro': null }).disableUDPGRO, selfNodeAttrs({ 'never-gso-equal-tail': null }).neverGSOEqualTail],
    [true, true, true],
  );
  assert.equal(selfNodeAttrs({ 'randomize-client-port': null }).randomizeClientPort, true);
  for (const [k, info] of NODE_ATTRS) assert.ok(info.note.length > 0 && !k.includes('://'), k);

  const s = new NetmapState();
  const self = { ID: 1, StableID: 's1', Name: 'me.t.', Key: `nodekey:${'11'.repeat(32)}`, Addresses: ['100.64.0.1/32'], CapMap: { 'only-tcp-443': null, 'conn25-x': null } };
  s.apply({ Node: self });
  const cfg = engineConfigFromNetmap(s.netmap()!);
  assert.equal(cfg.nodeAttrs.onlyTCP443, true);
  assert.deepEqual(cfg.nodeAttrs.unknown, ['conn25-x']);
  s.apply({ Node: { ...self, CapMap: {} } });
  assert.equal(engineConfigFromNetmap(s.netmap()!).nodeAttrs.onlyTCP443, false);
});

test('137: HTTP 429 on register waits as Retry-After says (seconds or a date), else 5-10 s, and retries', async () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(registerRetryDelayMs('3', now), 3000);
  assert.equal(registerRetryDelayMs(' 1 ', now), 1000);
  assert.equal(registerRetryDelayMs('Thu, 01 Jan 2026 00:00:07 GMT', now), 7000);
  for (const bad of [undefined, '', '0', '-4', 'soon', '3601', 'Wed, 31 Dec 2025 23:00:00 GMT']) {
    assert.equal(registerRetryDelayMs(bad, now, () => 0), 5000, String(bad));
    assert.equal(registerRetryDelayMs(bad, now, () => 0.999), 9995, String(bad));
  }

  // The client waits the second the server asks for, then registers.
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('tskey-auth-good');
  fc.registerRateLimit = { count: 1, retryAfter: '1' };
  const c = new ControlClient({ controlURL: fc.url, store: new MemoryStore(), hostname: 'n', authKey: 'tskey-auth-good', userLogf: () => {} });
  try {
    const t0 = Date.now();
    await c.up(AbortSignal.timeout(8000));
    assert.equal(fc.registerRequests.length, 2);
    assert.ok(Date.now() - t0 >= 950, 'retried before Retry-After');
  } finally {
    await c.close();
    await fc.close();
  }
});

test('node attribute only-tcp-443: the node publishes no endpoints, sends no disco over UDP, and is reached through DERP', { timeout: 30_000 }, async (t) => {
  const net = await startDevnet({
    policy: {
      tagOwners: { 'tag:tcp443': ['autogroup:member'] },
      acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
      nodeAttrs: [{ target: ['tag:tcp443'], attr: ['only-tcp-443'] }],
    },
  });
  t.after(() => net.close());
  const narrow = new Server({ hostname: 'narrow', controlURL: net.controlURL, authKey: net.createAuthKey({ tags: ['tag:tcp443'] }), store: new MemoryStore() });
  const wide = new Server({ hostname: 'wide', controlURL: net.controlURL, authKey: net.createAuthKey(), store: new MemoryStore() });
  t.after(() => Promise.allSettled([narrow.close(), wide.close()]));
  await Promise.all([narrow.up(), wide.up()]);

  // Control hears our home region (after a netcheck round without STUN) and no endpoints; the other node lists its own.
  const info = (h: string) => net.nodes().find((n) => n.hostname === h)!;
  await net.waitFor(() => info('narrow').homeDERP !== 0 && info('wide').endpoints.length > 0);
  assert.deepEqual(info('narrow').endpoints, []);
  assert.ok(dataPlaneOf(narrow), 'narrow has a data plane');

  // A TCP exchange both ways works, through the relay.
  const ln = narrow.listen('tcp', ':7443');
  ln.on('connection', (s: Socket) => s.pipe(s));
  const s = await wide.dial('tcp', 'narrow:7443');
  s.end('over tcp 443 only');
  let echoed = '';
  for await (const d of s) echoed += String(d);
  assert.equal(echoed, 'over tcp 443 only');
  ln.close();
  const peer = dataPlaneOf(narrow)!.stats().peers[0]!;
  assert.equal(peer.best, '');
  const seen = dataPlaneOf(wide)!.stats().peers[0]!;
  assert.equal(seen.pingsReceived, 0, 'no disco ping reached the other node from a node without UDP');
  assert.ok(peer.txRelay > 0 && peer.txDirect === 0, `relayed only (direct ${peer.txDirect}, relay ${peer.txRelay})`);
});

async function freeUDPPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '0.0.0.0');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('node attribute randomize-client-port: a fixed UDP port is ignored while control says so', { timeout: 30_000 }, async (t) => {
  const policy = (target: string[]): Policy => ({
    tagOwners: { 'tag:rnd': ['autogroup:member'] },
    acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
    nodeAttrs: [{ target, attr: ['randomize-client-port'] }],
  });
  const net = await startDevnet({ policy: policy(['tag:rnd']) });
  t.after(() => net.close());
  const [pa, pb] = [await freeUDPPort(), await freeUDPPort()];
  const a = new Server({ hostname: 'rnd', controlURL: net.controlURL, authKey: net.createAuthKey({ tags: ['tag:rnd'] }), store: new MemoryStore(), port: pa });
  const b = new Server({ hostname: 'fixed', controlURL: net.controlURL, authKey: net.createAuthKey(), store: new MemoryStore(), port: pb });
  t.after(() => Promise.allSettled([a.close(), b.close()]));
  await Promise.all([a.up(), b.up()]);
  assert.notEqual(dataPlaneOf(a)!.port, pa, 'the attribute overrides the fixed port');
  assert.equal(dataPlaneOf(b)!.port, pb, 'without it the fixed port holds');

  // The attribute arrives later for b: it moves to a random port, and its endpoints follow.
  net.setPolicy(policy(['*']));
  while (dataPlaneOf(b)!.port === pb) await once(b, 'netmap');
  const moved = dataPlaneOf(b)!.port;
  await net.waitFor(() => net.nodes().find((n) => n.hostname === 'fixed')!.endpoints.some((e) => e.endsWith(`:${moved}`)));
  // And back to the fixed port when it goes.
  net.setPolicy(policy(['tag:rnd']));
  while (dataPlaneOf(b)!.port !== pb) await once(b, 'netmap');
});

test("140, 141: node attributes switch the UDP socket's GSO and GRO off, and never-gso-equal-tail ends equal GSO runs with a sentinel that peers drop", { timeout: 60_000 }, async (t) => {
  const policy = (attrs: Array<{ target: string[]; attr: string[] }>): Policy => ({
    tagOwners: { 'tag:off': ['autogroup:member'], 'tag:guard': ['autogroup:member'] },
    acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
    nodeAttrs: attrs,
  });
  const withAttrs = policy([
    { target: ['tag:off'], attr: ['disable-udp-gso', 'disable-udp-gro'] },
    { target: ['tag:guard'], attr: ['never-gso-equal-tail'] },
  ]);
  const net = await startDevnet({ policy: withAttrs });
  t.after(() => net.close());
  const a = new Server({ hostname: 'off', controlURL: net.controlURL, authKey: net.createAuthKey({ tags: ['tag:off'] }), store: new MemoryStore() });
  const b = new Server({ hostname: 'guard', controlURL: net.controlURL, authKey: net.createAuthKey({ tags: ['tag:guard'] }), store: new MemoryStore() });
  t.after(() => Promise.allSettled([a.close(), b.close()]));
  await Promise.all([a.up(), b.up()]);
  const offload = (s: Server) => dataPlaneOf(s)!.stack.device.udpOffload();
  assert.equal(offload(a).gso, false);
  assert.equal(offload(a).gro, false);
  assert.equal(offload(a).equalTailGuard, false);
  assert.equal(offload(b).equalTailGuard, true);

  // b sends a bulk stream to a: its GSO runs of full-size packets carry a sentinel; a drops those quietly.
  const ln = await a.listen('tcp', ':7000');
  const got = new Promise<number>((resolve) => {
    ln.once('connection', (s: Socket) => {
      let n = 0;
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('end', () => resolve(n));
    });
  });
  const dropsBefore = a.status()!.drops;
  const conn = await b.dial('tcp', `${a.tailscaleIPs()[0]}:7000`);
  const chunk = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < 128; i++) if (!conn.write(chunk)) await once(conn, 'drain');
  conn.end();
  assert.equal(await got, 128 * chunk.length);
  t.diagnostic(`b: ${JSON.stringify(offload(b))}; a: ${JSON.stringify(offload(a))}`);
  if (offload(b).gso) {
    // Where the kernel offers GSO at all (Linux), equal runs happened and each got its tail.
    assert.ok(offload(b).txGsoSentinels > 0, 'sentinels sent');
    assert.ok(offload(a).rxSentinels > 0, 'sentinels received and dropped');
  }
  assert.deepEqual(a.status()!.drops, dropsBefore, 'no WireGuard drop counts the sentinels');
  assert.equal(offload(a).txGsoSends, 0, 'a sent nothing with GSO');
  await ln.close();

  // Control takes the switches back: GSO and GRO return where the kernel had them.
  net.setPolicy(policy([]));
  while (offload(b).equalTailGuard) await once(b, 'netmap');
  while (!offload(a).gso && offload(b).gso) await once(a, 'netmap');
  assert.equal(offload(a).gro, offload(b).gro, 'GRO is back as the kernel offered it at open');
});
