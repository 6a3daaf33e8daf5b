// npm run bench: ours against Go tsnet (tailscale.com v1.102.5, the interop tier's program: `tsinterop bench`,
// test/interop/go/bench.go, built and cached by scripts/interop.sh), every number next to its Go baseline from
// the same run, because these machines are shared and noisy (docs/performance.md, "Against Go tsnet").
//   pairs (two processes, ours ↔ ours and Go ↔ Go, on our development tailnet in its own process):
//     direct    disco's direct UDP path: one stream, 8 parallel streams, 1-byte round trip, new connections
//               per second, idle RSS of the serving process, time to up()
//     derper    both ends forced onto DERP (alwaysUseDERP / TS_DEBUG_ALWAYS_USE_DERP) through Tailscale's own
//               DERP server (`tsinterop derper`: tailscale.com/derp/derpserver)
//     relay     the same through our devnet's relay
//   reference rows: plain Node TCP over loopback (the ceiling), ours in WireGuard mode (no control), and
//   wireguard-go + Linux TCP in two namespaces (history; needs root, wireguard-go, wg, iperf3).
// Rounds alternate which implementation goes first. As root the whole run happens in a network namespace it
// creates (loopback plus a veth pair inside it, so Go's link monitor sees an interface up) and removes;
// otherwise on the host's loopback, without the Go direct rows (Go would also offer the host's own addresses).
// Knobs: BENCH_ROUNDS (3), BENCH_BYTES (256 MiB per direct stream; 8 streams share it), BENCH_RELAY_BYTES
// (32 MiB), BENCH_PINGS (1000), BENCH_CONN_SECONDS (2), BENCH_ONLY (comma-separated: direct, derper, relay,
// ceiling, wireguard, wireguard-go, memory, nodes), BENCH_NODES (11: nodes in one process for the per-node row), BENCH_NODES_SETTLE_S (20), BENCH_NETNS=0 (stay on the host), BENCH_DERP_REAL=1 (also run
// bench/derp-real.mjs and keep its summary), BENCH_STEP_MS (a step's time limit). Results:
// bench/results/<date>-<host>.json and latest.json; bench/table.mjs renders the README table from them.
import { Proc, keypair } from './proc.mjs';
import { render } from './table.mjs';
import { inBenchNetns } from './netns.mjs';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const BYTES = Number(env.BENCH_BYTES ?? 256 * 1024 ** 2);
const RELAY_BYTES = Number(env.BENCH_RELAY_BYTES ?? 32 * 1024 ** 2);
const PINGS = Number(env.BENCH_PINGS ?? 1000);
const CONN_SECONDS = Number(env.BENCH_CONN_SECONDS ?? 2);
const STREAMS = 8;
const only = env.BENCH_ONLY?.split(',').filter(Boolean);
const want = (name) => !only || only.includes(name);
const isRoot = process.getuid?.() === 0;

// ---- the network namespace (bench/netns.mjs): re-run this script inside one, then remove it
const inNetns = inBenchNetns();

const median = (xs) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined; };
const stat = (xs) => { const s = xs.filter(Number.isFinite); return s.length ? { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length, each: s } : undefined; };
const log = (m) => process.stderr.write(m + '\n');

const node = (arg, extraEnv) => new Proc(process.execPath, [path.join(here, 'node.mjs'), arg], extraEnv);

// ---- the Go program (built once, then cached by its stamp)
const tsinterop = path.join(root, 'build-interop', 'tsinterop');
const goWanted = ['direct', 'derper', 'relay'].some(want);
let goVersion;
if (goWanted) {
  execFileSync('bash', [path.join(root, 'scripts', 'interop.sh'), 'tsinterop'], { stdio: ['ignore', 'inherit', 'inherit'] });
  goVersion = execFileSync(env.GO ?? 'go', ['version'], { encoding: 'utf8' }).trim().replace(/^go version /, '');
}
const goTsnet = /tailscale\.com (v\S+)/.exec(fs.readFileSync(path.join(root, 'test', 'interop', 'go', 'go.mod'), 'utf8'))?.[1];

// ---- one pair: a serving node b and a client a; what each path measures
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbench-'));
let seq = 0;
function mkNode(kind, dn, alwaysUseDERP, client) {
  const hostname = `${kind}-${++seq}`;
  if (kind === 'ours') {
    return { hostname, p: node(JSON.stringify({ server: { controlURL: dn.controlURL, authKey: dn.authKey, hostname, alwaysUseDERP } }), client ? { ROLE: 'client' } : {}) };
  }
  const dir = path.join(tmp, hostname);
  fs.mkdirSync(dir);
  return { hostname, p: new Proc(tsinterop, ['bench', JSON.stringify({ controlURL: dn.controlURL, authKey: dn.authKey, hostname, dir, client, alwaysUseDERP })]) };
}

async function relayForwarded(dn) {
  if (dn.derper) return (await dn.derper.call({ op: 'stats' })).packetsSent ?? 0;
  return (await dn.proc.call({ op: 'stats' })).packetsForwarded ?? 0;
}

async function measure(kind, pathName, dn) {
  const relayed = pathName !== 'direct';
  const b = mkNode(kind, dn, relayed, false);
  let a;
  try {
    const rb = await b.p.next('ready');
    a = mkNode(kind, dn, relayed, true);
    const ra = await a.p.next('ready');
    const r = { upMs: (rb.upMs + ra.upMs) / 2 };
    if (!relayed) {
      // Idle: up, listening, nothing sent yet.
      r.idleRssMiB = (await b.p.call({ op: 'rss' })).rssKiB / 1024;
      // A warm-up stream lets disco settle the direct path before anything is timed.
      await a.p.call({ op: 'send', host: b.hostname, bytes: 8 * 1024 ** 2 });
    }
    const before = await relayForwarded(dn);
    // CPU time both processes spend on the stream: what it costs, whatever share of the CPUs it got.
    const cpu = async () => (await a.p.call({ op: 'cpu' })).seconds + (await b.p.call({ op: 'cpu' })).seconds;
    const cpu0 = await cpu();
    const one = await a.p.call({ op: 'send', host: b.hostname, bytes: relayed ? RELAY_BYTES : BYTES });
    r.cpuSecPerGiB = ((await cpu()) - cpu0) / (one.bytes / 1024 ** 3);
    r.relayPackets = (await relayForwarded(dn)) - before;
    if (relayed) r.mbps = (one.bytes * 8) / one.seconds / 1e6;
    else {
      r.gbps = (one.bytes * 8) / one.seconds / 1e9;
      const par = await a.p.call({ op: 'send', host: b.hostname, bytes: Math.ceil(BYTES / STREAMS), streams: STREAMS });
      r.gbps8 = (par.bytes * 8) / par.seconds / 1e9;
      const pp = await a.p.call({ op: 'pingpong', host: b.hostname, count: PINGS });
      Object.assign(r, { p50us: pp.p50us, p99us: pp.p99us });
      r.connsPerSec = (await a.p.call({ op: 'connrate', host: b.hostname, seconds: CONN_SECONDS })).perSecond;
    }
    return r;
  } finally {
    await a?.p.stop();
    await b.p.stop();
  }
}

async function devnet(opts) {
  const proc = new Proc(process.execPath, [path.join(here, 'devnet.mjs'), JSON.stringify(opts)]);
  return { proc, ...(await proc.next('ready')) };
}

const t0 = Date.now();
const loadStart = os.loadavg();
const pairs = {};
const paths = ['direct', 'derper', 'relay'].filter(want);
if (paths.length) {
  const nets = {};
  let derper;
  if (paths.includes('direct') || paths.includes('relay')) nets.own = await devnet({});
  if (paths.includes('derper')) {
    derper = new Proc(tsinterop, ['derper', JSON.stringify({ host: '127.0.0.1' })]);
    const d = await derper.next('ready');
    const derpMap = { Regions: { 901: { RegionID: 901, RegionCode: 'derper', RegionName: 'derpserver (loopback)', Nodes: [
      { Name: '901a', RegionID: 901, HostName: '127.0.0.1', IPv4: '127.0.0.1', IPv6: 'none', DERPPort: d.derpPort, STUNPort: d.stunPort, InsecureForTests: true },
    ] } } };
    nets.derper = { ...(await devnet({ derpMap })), derper };
  }
  const netOf = { direct: nets.own, relay: nets.own, derper: nets.derper };
  const runs = Object.fromEntries(paths.map((p) => [p, { ours: [], go: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of paths) {
      const kinds = (round + paths.indexOf(p)) % 2 ? ['go', 'ours'] : ['ours', 'go'];
      for (const kind of kinds) {
        if (kind === 'go' && p === 'direct' && !inNetns) { runs[p].go.push({ error: 'needs the bench netns (root): Go would offer the host addresses' }); continue; }
        try {
          const r = await measure(kind, p, netOf[p]);
          runs[p][kind].push(r);
          log(`round ${round + 1} ${p} ${kind}: ${JSON.stringify(r, (k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}`);
        } catch (err) {
          runs[p][kind].push({ error: String(err.message ?? err).split('\n')[0] });
          log(`round ${round + 1} ${p} ${kind}: failed: ${err.message}`);
        }
      }
    }
  }
  for (const n of Object.values(nets)) { n.proc.p.stdin.end(); await new Promise((r) => { n.proc.p.once('exit', r); setTimeout(r, 3000); }); }
  if (derper) await derper.stop();
  for (const p of paths) {
    pairs[p] = {};
    for (const kind of ['ours', 'go']) {
      const ok = runs[p][kind].filter((r) => !r.error);
      const keys = new Set(ok.flatMap((r) => Object.keys(r)));
      pairs[p][kind] = Object.fromEntries([...keys].map((k) => [k, stat(ok.map((r) => r[k]))]));
      const errors = runs[p][kind].filter((r) => r.error).map((r) => r.error);
      if (errors.length) pairs[p][kind].errors = errors;
    }
  }
}
fs.rmSync(tmp, { recursive: true, force: true });

// ---- reference rows: plain Node TCP (the ceiling), our WireGuard mode, wireguard-go (history)
const ceiling = {};
async function measurePair(name, server, client, host) {
  await server.next('ready');
  await client.next('ready');
  try {
    const send = await client.call({ op: 'send', host, bytes: BYTES });
    const par = await client.call({ op: 'send', host, bytes: Math.ceil(BYTES / STREAMS), streams: STREAMS });
    const pp = await client.call({ op: 'pingpong', host, count: PINGS });
    const cr = await client.call({ op: 'connrate', host, seconds: CONN_SECONDS });
    ceiling[name] = { gbps: (send.bytes * 8) / send.seconds / 1e9, gbps8: (par.bytes * 8) / par.seconds / 1e9, p50us: pp.p50us, p99us: pp.p99us, connsPerSec: cr.perSecond };
  } catch (err) {
    ceiling[name] = { error: String(err.message).split('\n')[0] };
  } finally {
    await client.stop();
    await server.stop();
  }
}
if (want('ceiling')) await measurePair('node-tcp-loopback', node('plain'), node('plain', { ROLE: 'client' }), '127.0.0.1');
if (want('wireguard')) {
  const ka = keypair(), kb = keypair();
  const b = node(JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'], listenPort: 0,
    peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] }));
  const hb = await b.next('ready');
  const a = node(JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'], listenPort: 0,
    peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${hb.port}`, allowedIPs: ['10.66.0.2/32'] }] }), { ROLE: 'client' });
  b.next = (() => { let first = true; const orig = Proc.prototype.next.bind(b); return (w) => (first ? (first = false, Promise.resolve(hb)) : orig(w)); })();
  await measurePair('tsnet-wireguard', b, a, '10.66.0.2');
}

const have = (c) => { try { execFileSync('sh', ['-c', `command -v ${c}`]); return true; } catch { return false; } };
if (!want('wireguard-go')) {
  // not asked for
} else if (!isRoot || !have('wireguard-go') || !have('wg') || !have('iperf3') || !have('ip')) {
  ceiling['wireguard-go-linux-tcp'] = { skipped: 'needs root, wireguard-go, wg, iperf3 (scripts/test-deps.sh)' };
} else {
  const t = String(process.pid % 100000);
  const nsA = `tsb${t}a`, nsB = `tsb${t}b`, ifA = `wb${t}a`, ifB = `wb${t}b`;
  const sh = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8' });
  const procs = [];
  try {
    sh('ip', 'netns', 'add', nsA); sh('ip', 'netns', 'add', nsB);
    sh('ip', 'link', 'add', `vb${t}a`, 'netns', nsA, 'type', 'veth', 'peer', 'name', `vb${t}b`, 'netns', nsB);
    sh('ip', '-n', nsA, 'addr', 'add', '10.214.0.1/24', 'dev', `vb${t}a`);
    sh('ip', '-n', nsB, 'addr', 'add', '10.214.0.2/24', 'dev', `vb${t}b`);
    for (const [ns, dev] of [[nsA, `vb${t}a`], [nsB, `vb${t}b`]]) { sh('ip', '-n', ns, 'link', 'set', 'lo', 'up'); sh('ip', '-n', ns, 'link', 'set', dev, 'up'); }
    const ka = keypair(), kb = keypair();
    const wenv = { ...env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
    for (const [ns, ifc, k, peer, mine, theirs, ep] of [[nsA, ifA, ka, kb, '10.98.7.1', '10.98.7.2', '10.214.0.2'], [nsB, ifB, kb, ka, '10.98.7.2', '10.98.7.1', '10.214.0.1']]) {
      procs.push(spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifc], { stdio: 'ignore', env: wenv }));
      for (let i = 0; i < 100 && !fs.existsSync(`/var/run/wireguard/${ifc}.sock`); i++) await new Promise((r) => setTimeout(r, 50));
      const kf = path.join(os.tmpdir(), `${ifc}.key`);
      fs.writeFileSync(kf, k.priv + '\n', { mode: 0o600 });
      sh('ip', 'netns', 'exec', ns, 'wg', 'set', ifc, 'private-key', kf, 'listen-port', '51820', 'peer', peer.pub, 'allowed-ips', `${theirs}/32`, 'endpoint', `${ep}:51820`);
      fs.rmSync(kf);
      sh('ip', '-n', ns, 'addr', 'add', `${mine}/24`, 'dev', ifc);
      sh('ip', '-n', ns, 'link', 'set', ifc, 'up');
    }
    procs.push(spawn('ip', ['netns', 'exec', nsB, 'iperf3', '-s', '-1', '-B', '10.98.7.2'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 500));
    const seconds = Math.max(3, Math.min(10, Math.round(BYTES / 125e6)));
    const j = JSON.parse(sh('ip', 'netns', 'exec', nsA, 'iperf3', '-c', '10.98.7.2', '-t', String(seconds), '-J'));
    const gbps = j.end.sum_received.bits_per_second / 1e9;
    const inNs = (ns, arg, e) => new Proc('ip', ['netns', 'exec', ns, process.execPath, path.join(here, 'node.mjs'), arg], e);
    const srv = inNs(nsB, 'plain', { BIND: '10.98.7.2' });
    const cli = inNs(nsA, 'plain', { ROLE: 'client' });
    await srv.next('ready'); await cli.next('ready');
    const pp = await cli.call({ op: 'pingpong', host: '10.98.7.2', count: PINGS });
    const cr = await cli.call({ op: 'connrate', host: '10.98.7.2', seconds: CONN_SECONDS });
    await cli.stop(); await srv.stop();
    ceiling['wireguard-go-linux-tcp'] = { gbps, p50us: pp.p50us, p99us: pp.p99us, connsPerSec: cr.perSecond };
  } catch (err) {
    ceiling['wireguard-go-linux-tcp'] = { error: String(err.message).split('\n')[0] };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    for (const ns of [nsA, nsB]) { try { sh('ip', 'netns', 'del', ns); } catch {} }
  }
}

// ---- memory of WireGuard-mode devices in one process (bench/mem.mjs); Server nodes: bench/scale.mjs
let mem;
// A bare Node process's RSS: what every "ours" process pays before loading anything.
if (want('direct')) ceiling.bareNodeRssMiB = Number(execFileSync(process.execPath, ['-e', 'setImmediate(() => console.log(process.memoryUsage().rss / 1048576))'], { encoding: 'utf8' }));
if (want('memory')) try {
  mem = JSON.parse(execFileSync(process.execPath, ['--expose-gc', path.join(here, 'mem.mjs')], { encoding: 'utf8' }).trim().split('\n').pop());
} catch (err) {
  mem = { error: String(err.message).split('\n')[0] };
}

// ---- idle RSS per further node: N Server nodes in one process, and N Go tsnet nodes in one Go process
// (bench/scale.mjs's nodes part, with BENCH_NODES nodes, default 11: what the 2nd to Nth node each added). Each
// RSS reading follows BENCH_NODES_SETTLE_S (20) idle seconds, in both runtimes: idle, not just started (V8 gives
// back its grown young generation after a few idle seconds; docs/performance.md, "Memory (issue 17, part 4)"),
// taken once RSS stops falling after the GC (docs/performance.md, "An idle node under 1 MiB").
if (want('nodes')) {
  const N = Number(env.BENCH_NODES ?? 11);
  const r = spawnSync(process.execPath, [path.join(here, 'scale.mjs')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, SCALE_ONLY: 'nodes', SCALE_NODES: String(N), SCALE_RESULTS: '0', SCALE_SETTLE_S: env.BENCH_NODES_SETTLE_S ?? '20', SCALE_GO: inNetns ? '1' : '0' },
  });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const ours = lines.find((l) => l.nodes)?.nodes, go = lines.find((l) => l.goNodes)?.goNodes;
  const perNode = (x) => (x && !x.error && x.up > 1 ? { perNodeMiB: stat([x.perNodeKiB / 1024]), nodes: x.up } : { errors: [x?.error ?? `bench/scale.mjs exit ${r.status}`] });
  pairs.nodes = { ours: perNode(ours), ...(inNetns ? { go: perNode(go) } : {}), settleSeconds: Number(env.BENCH_NODES_SETTLE_S ?? 20) };
}

// ---- bench/derp-real.mjs's rows (Tailscale's cmd/derper, more row kinds), when asked for
let derpReal;
if (env.BENCH_DERP_REAL === '1') {
  const r = spawnSync(process.execPath, [path.join(here, 'derp-real.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
  try { derpReal = r.status === 0 ? JSON.parse(fs.readFileSync(path.join(here, 'results', 'derp-real.json'), 'utf8')).summary : { error: `exit ${r.status}` }; } catch (err) { derpReal = { error: err.message }; }
}

const cpus = os.cpus();
const doc = {
  date: new Date().toISOString(), seconds: (Date.now() - t0) / 1000, rounds: ROUNDS, bytes: BYTES, relayBytes: RELAY_BYTES,
  pings: PINGS, connSeconds: CONN_SECONDS, streams: STREAMS, netns: inNetns, goTsnet,
  machine: { host: os.hostname(), cpus: cpus.length, cpuModel: cpus[0]?.model.trim(), memGiB: Math.round(os.totalmem() / 1024 ** 3), kernel: os.release(), node: process.version, go: goVersion, loadavgStart: loadStart, loadavgEnd: os.loadavg() },
  // Our nodes' own knobs, inherited by every child (docs/architecture.md).
  tsnetEnv: Object.fromEntries(Object.entries(env).filter(([k]) => /^TSNET_/.test(k) && k !== 'TSNET_NETNS_LOG')),
  pairs, ceiling, mem, derpReal,
};
console.log('\n' + render(doc));
if (mem && !mem.error) console.log(`\nWireGuard-mode devices in one process: ${mem.perDeviceKiB.toFixed(0)} KiB RSS per idle device (${mem.devices}), ${mem.perConnectionPairKiB.toFixed(1)} KiB per open connection pair (${mem.connections})`);
for (const [p, k] of Object.entries(pairs)) for (const [kind, v] of Object.entries(k)) if (v.errors) console.log(`${p} ${kind}: ${v.errors.length} failed: ${v.errors[0]}`);
if (derpReal) console.log(`\nbench/derp-real.mjs: ${JSON.stringify(derpReal)}`);
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
const json = JSON.stringify(doc, null, 2) + '\n';
const file = path.join(here, 'results', `${doc.date.slice(0, 19).replace(/:/g, '-')}-${os.hostname()}.json`);
fs.writeFileSync(file, json);
fs.writeFileSync(path.join(here, 'results', 'latest.json'), json);
console.log(`\n${doc.seconds.toFixed(0)} s; results in ${path.relative(root, file)} and bench/results/latest.json (node bench/table.mjs --readme ${path.relative(root, file)} puts the table in README.md)`);
