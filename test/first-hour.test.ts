// What a new user hits in the first hour (issue 15): an up() that cannot reach control or waits for approval
// says so, bad arguments are coded errors, failures of connect()/fetch() behave as Node's own.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, type HealthWarning, type NetcheckResult } from '../lib/server.js';
import { WireGuard } from '../lib/wireguard.js';
import { createLogger, formatRecord, type LogRecord } from '../lib/util/log.js';

let devnet: Devnet;
let node: Server;

before(async () => {
  devnet = await startDevnet();
  node = new Server({ hostname: 'first', controlURL: devnet.controlURL, authKey: devnet.createAuthKey(), store: new MemoryStore() });
  await node.up();
});

after(async () => {
  await node.close().catch(() => undefined);
  await devnet.close();
});

/** A loopback port nothing listens on: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Resolves with the first 'health' report that satisfies pred. */
function healthWhere(s: Server, pred: (w: HealthWarning[]) => boolean): Promise<HealthWarning[]> {
  return new Promise((resolve) => {
    const on = (w: HealthWarning[]) => {
      if (!pred(w)) return;
      s.off('health', on);
      resolve(w);
    };
    s.on('health', on);
  });
}

test('up() against an unreachable control server reports health (ECONNREFUSED); its signal rejects with ABORT_ERR', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const s = new Server({ hostname: 'lost', controlURL: url, authKey: 'tskey-auth-x', store: new MemoryStore(), userLogf: () => {} });
  const ac = new AbortController();
  const pending = s.up({ signal: ac.signal });
  const warnings = await healthWhere(s, (w) => w.some((x) => x.code === 'control-unreachable'));
  const w = warnings.find((x) => x.code === 'control-unreachable')!;
  assert.equal(w.error, 'ECONNREFUSED');
  assert.ok(w.since instanceof Date && w.message.includes(url), w.message);
  assert.deepEqual(s.health().map((x) => x.code), ['control-unreachable']);
  ac.abort();
  await assert.rejects(pending, { name: 'AbortError', code: 'ABORT_ERR' });
  await s.close();
});

test('while control stays unreachable, a person is told once, not at every retry', async () => {
  // A "control server" that hangs up on every connection: each retry of the client is one connection here.
  const tries = new EventEmitter();
  let count = 0;
  const srv = net.createServer((c) => {
    c.destroy();
    tries.emit('try', ++count);
  }).listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  const lines: string[] = [];
  const s = new Server({ hostname: 'lost2', controlURL: url, authKey: 'tskey-auth-x', store: new MemoryStore(), userLogf: (m) => lines.push(m) });
  const ac = new AbortController();
  const pending = s.up({ signal: ac.signal }).catch((e: Error) => e);
  while (count < 3) await once(tries, 'try');
  const told = lines.filter((l) => l.includes('cannot reach the control server'));
  assert.equal(told.length, 1, lines.join('\n'));
  assert.ok(told[0]!.includes(url) && told[0]!.includes('controlURL'), told[0]);
  ac.abort();
  assert.equal(((await pending) as Error & { code?: string }).code, 'ABORT_ERR');
  await s.close();
  srv.close();
});

test('up() with an already aborted signal rejects with ABORT_ERR and starts nothing', async () => {
  const lines: string[] = [];
  const s = new Server({ hostname: 'never', controlURL: devnet.controlURL, authKey: devnet.createAuthKey(), store: new MemoryStore(), userLogf: (m) => lines.push(m) });
  await assert.rejects(s.up({ signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
  assert.equal(s.status(), null);
  assert.equal(devnet.nodes().some((n) => n.hostname === 'never'), false, 'the node did not register');
  await assert.rejects(s.up({ signal: 'soon' as unknown as AbortSignal }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  await s.close();
});

test('a key that is not preauthorized: needs-approval in health and one line for a person, then Running once approved', async () => {
  const lines: string[] = [];
  const s = new Server({ hostname: 'waiting', controlURL: devnet.controlURL, authKey: devnet.createAuthKey({ preauthorized: false }), store: new MemoryStore(), userLogf: (m) => lines.push(m) });
  const up = s.up();
  await healthWhere(s, (w) => w.some((x) => x.code === 'needs-approval'));
  assert.equal(lines.filter((l) => l.includes('approve')).length, 1, lines.join('\n'));
  // The LocalAPI's status (and so `tsnet status` and the status page) carries the node's own warning.
  const lb = await s.loopback();
  const res = await fetch(`http://${lb.address}/localapi/v0/status`, {
    headers: { 'Sec-Tailscale': 'localapi', Authorization: `Basic ${Buffer.from(`:${lb.localAPICredential}`).toString('base64')}` },
  });
  const body = (await res.json()) as { Health: string[] };
  assert.ok(body.Health.some((h) => h.includes('approve')), JSON.stringify(body.Health));
  const id = devnet.nodes().find((n) => n.hostname === 'waiting')!.id;
  const healthy = healthWhere(s, (w) => w.length === 0);
  assert.equal(devnet.authorizeNode(id), true);
  assert.equal((await up).backendState, 'Running');
  await healthy;
  await s.close();
});

test('options: a typo is refused with the name it meant; wrong types are coded TypeErrors/RangeErrors', () => {
  assert.throws(() => new Server({ authkey: 'k' } as never), (e: Error & { code?: string }) =>
    e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE' && /unknown option "authkey" \(did you mean "authKey"\?\)/.test(e.message));
  assert.throws(() => new Server({ controlUrl: 'http://x' } as never), /did you mean "controlURL"/);
  assert.throws(() => new Server({ zzz: 1 } as never), (e: Error) => /unknown option "zzz"$/.test(e.message));
  assert.throws(() => new Server({ hostname: 42 } as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Server({ ephemeral: 'yes' } as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Server({ logf: 'console' } as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Server({ port: 70000 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Server({ controlURL: 'ftp://x' }), { name: 'TypeError', code: 'ERR_INVALID_URL' });
  assert.throws(() => new Server(null as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('dial/listen with arguments of the wrong type: coded TypeErrors that name the argument, not internals', async () => {
  await assert.rejects(node.dial('tcp', 42 as never), (e: Error & { code?: string }) =>
    e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && /"address" argument must be a string/.test(e.message) && !/lastIndexOf/.test(e.message));
  assert.throws(() => node.listen(undefined as never, ':80'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => node.connect('tcp', {} as never), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('connect() to a name that does not resolve: an error event, as net.connect; http.get with the agent reports it on the request', async () => {
  const sock = node.connect('tcp', 'no-such-peer:80');
  const [err] = (await once(sock, 'error')) as [Error & { code?: string }];
  assert.equal(err.code, 'ENOTFOUND');
  const req = http.get('http://no-such-peer/', { agent: node.httpAgent() });
  const [reqErr] = (await once(req, 'error')) as [Error & { code?: string }];
  assert.equal(reqErr.code, 'ENOTFOUND');
});

test('fetch() failures carry the code on the error itself, not only in cause', async () => {
  await assert.rejects(node.fetch('http://no-such-peer/'), (e: Error & { code?: string }) => e.code === 'ENOTFOUND');
});

test('logging: quiet by default; leveled, structured records to logger and the same as text to logf', async () => {
  const records: LogRecord[] = [];
  const lines: string[] = [];
  const s = new Server({ hostname: 'chatty', controlURL: devnet.controlURL, authKey: devnet.createAuthKey(), store: new MemoryStore(),
    logger: (r) => records.push(r), logf: (m) => lines.push(m), logLevel: 'debug' });
  await s.up();
  await s.close();
  const state = records.find((r) => r.component === 'control' && r.msg === 'state' && r.state === 'Running');
  assert.ok(state, JSON.stringify(records.map((r) => `${r.component}:${r.msg}`)));
  assert.equal(state.level, 'info');
  assert.ok(state.time instanceof Date);
  const up = records.find((r) => r.component === 'tsnet' && r.msg === 'data plane up');
  assert.ok(up && typeof up.udpPort === 'number' && Array.isArray(up.addresses));
  assert.equal(lines.length, records.length, 'logf gets every record, as text');
  assert.ok(lines.includes(formatRecord(state)));
  assert.match(formatRecord(state), /^info control: state state=Running from=\w+$/);

  // The default level drops debug records; warn keeps only warnings and errors.
  const quiet: LogRecord[] = [];
  const log = createLogger({ logger: (r) => quiet.push(r), logLevel: 'warn' }, 'x');
  log.debug('a');
  log.info('b');
  log.warn('c', { n: 1 });
  log.error('d');
  assert.deepEqual(quiet.map((r) => [r.level, r.msg]), [['warn', 'c'], ['error', 'd']]);
  assert.equal(quiet[0]!.n, 1);
  assert.throws(() => new Server({ logLevel: 'verbose' as never }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test("netcheck(): UDP, our mapped address and the relay's latency, after a 'netcheck' event", async () => {
  const s = new Server({ hostname: 'probe', controlURL: devnet.controlURL, authKey: devnet.createAuthKey(), store: new MemoryStore() });
  const first = once(s, 'netcheck') as Promise<[NetcheckResult]>;
  await s.up();
  const [r] = await first;
  assert.equal(r.udp, true);
  assert.ok(r.mappedAddresses.some((a) => a.startsWith('127.0.0.1:')), r.mappedAddresses.join());
  assert.ok(r.homeRegion.id > 0 && r.homeRegion.code !== '');
  assert.equal(typeof r.latencyMs[r.homeRegion.code], 'number');
  assert.deepEqual(s.netcheck(), r);
  await s.close();
});

test('health: a home relay that cannot be reached, and a clock that differs from control by minutes', async () => {
  const dead = await closedPort();
  const skewed = await startDevnet({ derp: { derpPort: dead, regionCode: 'dead' }, clockOffsetMs: 5 * 60_000 });
  try {
    const s = new Server({ hostname: 'skewed', controlURL: skewed.controlURL, authKey: skewed.createAuthKey(), store: new MemoryStore() });
    const relayDown = healthWhere(s, (w) => w.some((x) => x.code === 'relay-unreachable'));
    const skew = healthWhere(s, (w) => w.some((x) => x.code === 'clock-skew'));
    await s.up();
    const [w1, w2] = await Promise.all([relayDown, skew]);
    const relay = w1.find((x) => x.code === 'relay-unreachable')!;
    assert.match(relay.message, /region dead/);
    const clock = w2.find((x) => x.code === 'clock-skew')!;
    assert.ok(clock.skewMs! > 4 * 60_000 && clock.skewMs! < 6 * 60_000, String(clock.skewMs));
    assert.match(clock.message, /behind control's/);
    await s.close();
  } finally {
    await skewed.close();
  }
});

test('a listener out of descriptors says so: error EMFILE (syscall accept), as net.Server, and keeps listening', { timeout: 60_000 }, () => {
  const fixture = path.join(__dirname, 'fixtures', 'emfile', 'accept.mts');
  const r = spawnSync('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" --import tsx "${fixture}"`], {
    encoding: 'utf8', env: { ...process.env, TSNET_BRIDGE: 'fd' }, timeout: 50_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { errors: Array<{ code: string; syscall: string }>; listening: boolean };
  assert.deepEqual(out.errors[0], { code: 'EMFILE', syscall: 'accept' });
  assert.equal(out.listening, true);
});

test('a low open-file limit is reported once at start, with the connections it allows', { timeout: 60_000 }, () => {
  const fixture = path.join(__dirname, 'fixtures', 'emfile', 'limit.mts');
  const run = (limit: number) => spawnSync('sh', ['-c', `ulimit -n ${limit} && exec "${process.execPath}" --import tsx "${fixture}"`], {
    encoding: 'utf8', env: { ...process.env, TSNET_BRIDGE: 'fd' }, timeout: 50_000,
  });
  const low = run(512);
  assert.equal(low.status, 0, low.stderr);
  const recs = JSON.parse(low.stdout.trim().split('\n').at(-1)!) as Array<{ level: string; limit: number; maxConnections: number }>;
  assert.equal(recs.length, 1);
  assert.equal(recs[0]!.level, 'warn');
  assert.equal(recs[0]!.limit, 512);
  assert.equal(recs[0]!.maxConnections, 256);
  const high = run(4096);
  assert.equal(high.status, 0, high.stderr);
  assert.deepEqual(JSON.parse(high.stdout.trim().split('\n').at(-1)!), []);
});

test('logging: a completed WireGuard handshake is logged, at info the first time per peer', async () => {
  const { generateKeyPairSync, createPublicKey } = await import('node:crypto');
  const kp = () => {
    const { privateKey } = generateKeyPairSync('x25519');
    return {
      priv: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64'),
      pub: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
    };
  };
  const ka = kp();
  const kb = kp();
  const recA: LogRecord[] = [];
  let handshook: () => void = () => {};
  const logged = new Promise<void>((r) => (handshook = r));
  const a = new WireGuard({ privateKey: ka.priv, address: ['10.61.0.1/32'], peers: [{ publicKey: kb.pub, allowedIPs: ['10.61.0.2/32'] }], logger: (r) => {
    recA.push(r);
    if (r.msg === 'handshake completed') handshook();
  } });
  await a.start();
  const b = new WireGuard({ privateKey: kb.priv, address: ['10.61.0.2/32'], peers: [{ publicKey: ka.pub, endpoint: `127.0.0.1:${a.listenPort}`, allowedIPs: ['10.61.0.1/32'] }] });
  await b.start();
  try {
    a.listen('tcp', ':80').serve(http.createServer((_req, res) => res.end('hi')));
    assert.equal(await (await b.fetch('http://10.61.0.1/')).text(), 'hi');
    await logged;
    const hs = recA.filter((r) => r.msg === 'handshake completed');
    assert.equal(hs.length, 1, JSON.stringify(recA));
    assert.equal(hs[0]!.level, 'info');
    assert.equal(hs[0]!.component, 'wireguard');
    assert.equal(hs[0]!.peer, kb.pub);
  } finally {
    await a.close();
    await b.close();
  }
});

test("control's debug requests (c2n) see the node's netmap, health and metrics", async () => {
  const id = devnet.nodes().find((n) => n.hostname === 'first')!.id;
  const nm = await devnet.c2n(id, { path: '/debug/netmap' }, 10_000);
  assert.equal(nm.status, 200);
  const current = (JSON.parse(nm.body.toString()) as { current: { SelfNode: { Name: string }; NodeKey: string; Domain: string } }).current;
  assert.match(current.SelfNode.Name, /^first\./);
  assert.equal(current.NodeKey, node.status()!.self.Key);
  const slim = await devnet.c2n(id, { method: 'POST', path: '/debug/netmap', body: JSON.stringify({ omitFields: ['SelfNode', 'DERPMap'] }) }, 10_000);
  const slimCurrent = (JSON.parse(slim.body.toString()) as { current: Record<string, unknown> }).current;
  assert.ok(!('SelfNode' in slimCurrent) && !('DERPMap' in slimCurrent) && 'Peers' in slimCurrent);
  const health = await devnet.c2n(id, { path: '/debug/health' }, 10_000);
  assert.deepEqual(node.health(), []);
  assert.deepEqual(JSON.parse(health.body.toString()), { Warnings: null }, 'a healthy node, in the shape of health.State');
  const metrics = await devnet.c2n(id, { path: '/debug/metrics' }, 10_000);
  assert.equal(metrics.status, 200);
  assert.equal(metrics.body.toString().split('\n')[0], node.metrics().split('\n')[0]);
});
