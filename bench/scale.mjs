// node bench/scale.mjs: the scale items of issue 17 (docs/performance.md, "Scale: many nodes, many
// connections"), measured, not timed tests. Loopback only.
//   nodes   SCALE_NODES (default 100) Server nodes in one process on a development tailnet (its own process):
//           time to bring them all up, RSS and descriptors per node, and whether they work (the last node
//           dials the first over the tailnet and gets a byte echoed; every node then dials node 0). Then the
//           same number of Go tsnet nodes in one Go process (`tsinterop bench-nodes`, the interop tier's
//           program), for RSS per node and time to bring them up (in the bench's namespace only: as root).
//   conns   SCALE_CONNS (default 10 000) TCP connections from one node to another (WireGuard mode, two
//           processes), once with TSNET_BRIDGE=fd and once with stream: descriptors and RSS per connection on
//           each side, time to open them all.
// As root it runs in a network namespace it makes (bench/netns.mjs). Knobs: SCALE_ONLY (nodes|conns), SCALE_NODES, SCALE_CONNS, SCALE_NOFILE (the children's descriptor limit,
// set by the shell's ulimit; default: inherited), SCALE_GO=0 (no Go nodes), SCALE_RESULTS=0 (write no files), SCALE_SETTLE_S (idle seconds before each
// RSS reading, both runtimes; default 0). Prints JSON lines and a summary; writes bench/results/scale.json and
// bench/results/<date>-scale-<host>.json.
import { Proc, keypair } from './proc.mjs';
import { inBenchNetns } from './netns.mjs';
import { smapsByKind, v8Spaces } from './mem-detail.mjs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(import.meta.url);
// Counting needs a descriptor of its own: one held in reserve, so a process at its limit can still count.
let spare = fs.openSync('/dev/null', 'r');
const fdCount = () => {
  fs.closeSync(spare);
  const n = fs.readdirSync('/proc/self/fd').length - 1; // the directory being read
  spare = fs.openSync('/dev/null', 'r');
  return n;
};
const rssKiB = () => process.memoryUsage().rss / 1024;
// RSS after a GC, once it stops falling: V8 hands the pages a GC freed (a shrunk young generation, emptied
// heap pages) back to the system from a background thread, so a reading taken at once counts some of them or
// none (the spread of "RSS per further idle node" between runs: docs/performance.md, "An idle node under
// 1 MiB"). Three equal readings 100 ms apart, at most 5 s.
const settledRssKiB = async () => {
  globalThis.gc?.();
  let last = rssKiB(), same = 0;
  for (let i = 0; i < 50 && same < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = rssKiB();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
};
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const connected = (s) => new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); });

// ---- children
const role = process.argv[2];
if (role === '--nodes') {
  const { Server } = require(path.join(here, '..', 'dist', 'index.js'));
  const { controlURL, authKey, n, settleSeconds = 0 } = JSON.parse(process.argv[3]);
  // A GC first: V8 gives back its grown young generation only once a full GC has armed its memory reducer.
  const settle = () => { if (settleSeconds) globalThis.gc?.(); return new Promise((res) => setTimeout(res, settleSeconds * 1000)); };
  const r = { n };
  // One node first: what every process pays once (the addon, lwIP's pools, the engine) is not per node.
  const first = new Server({ controlURL, authKey, hostname: 'scale-0', ephemeral: true });
  await first.up();
  const echo = first.listen('tcp', ':7');
  echo.on('connection', (s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
  await settle();
  r.rssOneKiB = await settledRssKiB();
  r.detailOne = { smaps: smapsByKind(), v8: v8Spaces() };
  r.fdsOne = fdCount();
  const nodes = [first];
  const upMs = [];
  const t0 = performance.now();
  try {
    for (let i = 1; i < n; i++) {
      const s = new Server({ controlURL, authKey, hostname: `scale-${i}`, ephemeral: true });
      const t = performance.now();
      await s.up();
      upMs.push(performance.now() - t);
      nodes.push(s);
    }
  } catch (err) {
    r.error = `node ${nodes.length}: ${err.code ?? ''} ${err.message}`;
  }
  r.up = nodes.length;
  r.upSeconds = (performance.now() - t0) / 1000;
  // Each up() joins a tailnet one node bigger: the first and the last ten show how that grows.
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  r.upMsFirst10 = avg(upMs.slice(0, 10));
  r.upMsLast10 = avg(upMs.slice(-10));
  await settle();
  r.rssAllKiB = await settledRssKiB();
  r.detailAll = { smaps: smapsByKind(), v8: v8Spaces() };
  r.fdsAll = fdCount();
  r.perNodeKiB = (r.rssAllKiB - r.rssOneKiB) / (nodes.length - 1);
  r.fdsPerNode = (r.fdsAll - r.fdsOne) / (nodes.length - 1);
  // Does it work: every other node dials node 0 by name (its netmap has to name it) and gets its byte back.
  const t1 = performance.now();
  let ok = 0;
  const failures = [];
  await Promise.all(nodes.slice(1).map(async (s, i) => {
    try {
      for (let tries = 0; !s.status()?.peers.some((p) => p.hostName === 'scale-0'); tries++) {
        if (tries > 600) throw new Error('scale-0 never appeared in the netmap');
        await new Promise((res) => setTimeout(res, 50));
      }
      const c = s.connect('tcp', 'scale-0:7');
      await connected(c);
      const got = new Promise((res, rej) => { c.once('data', res); c.once('error', rej); });
      c.write(Buffer.from([i & 255]));
      const b = await got;
      if (b[0] !== (i & 255)) throw new Error('wrong byte echoed');
      c.destroy();
      ok++;
    } catch (err) {
      failures.push(`${s.hostname ?? i}: ${err.code ?? ''} ${err.message}`);
    }
  }));
  r.echoOk = ok;
  r.echoSeconds = (performance.now() - t1) / 1000;
  r.echoFailures = failures.slice(0, 5);
  r.rssAfterEchoKiB = rssKiB();
  out(r);
  const t2 = performance.now();
  await Promise.all(nodes.map((s) => s.close()));
  out({ closeSeconds: (performance.now() - t2) / 1000 });
  process.exit(0);
}
if (role === '--conn-server' || role === '--conn-client') {
  const { WireGuard } = require(path.join(here, '..', 'dist', 'index.js'));
  const cfg = JSON.parse(process.argv[3]);
  const wg = new WireGuard(cfg.wg);
  await wg.start();
  const base = { fds: fdCount(), rssKiB: rssKiB() };
  const socks = [];
  if (role === '--conn-server') {
    const ln = wg.listen('tcp', ':80');
    ln.on('connection', (s) => { s.on('error', () => {}); socks.push(s); });
    out({ ready: true, port: wg.listenPort });
    for await (const line of (await import('node:readline')).createInterface({ input: process.stdin })) {
      const cmd = JSON.parse(line);
      if (cmd.op === 'wait') {
        for (let i = 0; socks.length < cmd.n && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
        globalThis.gc?.();
        out({ accepted: socks.length, fds: fdCount() - base.fds, rssKiB: rssKiB() - base.rssKiB });
      } else { for (const s of socks) s.destroy(); await wg.close(); out({}); process.exit(0); }
    }
  } else {
    out({ ready: true });
    const t0 = performance.now();
    let error;
    // 64 dials in flight at a time.
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < cfg.n && !error) {
        next++;
        try { const s = await wg.dial('tcp', cfg.target); s.on('error', () => {}); socks.push(s); } catch (err) { error ??= `${err.code ?? ''} ${err.message}`; }
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    globalThis.gc?.();
    out({ opened: socks.length, seconds, dialError: error, fds: fdCount() - base.fds, rssKiB: rssKiB() - base.rssKiB });
    for await (const _ of (await import('node:readline')).createInterface({ input: process.stdin })) {
      for (const s of socks) s.destroy();
      await wg.close();
      out({});
      process.exit(0);
    }
  }
}

// ---- driver
const inNetns = inBenchNetns();
const only = process.env.SCALE_ONLY;
const N_NODES = Number(process.env.SCALE_NODES ?? 100);
const N_CONNS = Number(process.env.SCALE_CONNS ?? 10_000);
const NOFILE = process.env.SCALE_NOFILE ?? '';
const SETTLE_S = Number(process.env.SCALE_SETTLE_S ?? 0);
// A child under another descriptor limit, if asked for (the shell's ulimit).
const child = (args, env = {}) => NOFILE
  ? new Proc('sh', ['-c', `ulimit -n ${Number(NOFILE)} && exec "$0" "$@"`, process.execPath, '--expose-gc', ...args], env)
  : new Proc(process.execPath, ['--expose-gc', ...args], env);
const me = new URL(import.meta.url).pathname;
const results = { date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, node: process.version, nofile: Number(NOFILE) || Number((await import('node:child_process')).execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' })) };

if (!only || only === 'nodes') {
  const dn = new Proc(process.execPath, [path.join(here, 'devnet.mjs')]);
  const { controlURL, authKey } = await dn.next('ready');
  const c = child([me, '--nodes', JSON.stringify({ controlURL, authKey, n: N_NODES, settleSeconds: SETTLE_S })]);
  try {
    results.nodes = await c.next('nodes');
    results.nodes.close = await c.next('close');
  } catch (err) {
    results.nodes = { error: String(err.message).split('\n')[0] };
  }
  await c.stop();
  dn.p.stdin.end();
  await new Promise((r) => { dn.p.once('exit', r); setTimeout(r, 3000); });
  console.log(JSON.stringify({ nodes: results.nodes }));
  if (inNetns && process.env.SCALE_GO !== '0') {
    const root = path.resolve(here, '..');
    execFileSync('bash', [path.join(root, 'scripts', 'interop.sh'), 'tsinterop'], { stdio: ['ignore', 'inherit', 'inherit'] });
    const dn2 = new Proc(process.execPath, [path.join(here, 'devnet.mjs')]);
    const d = await dn2.next('ready');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsscale-'));
    const g = new Proc(path.join(root, 'build-interop', 'tsinterop'), ['bench-nodes', JSON.stringify({ controlURL: d.controlURL, authKey: d.authKey, dir, n: N_NODES, settleSeconds: SETTLE_S })]);
    try { results.goNodes = await g.next('nodes'); } catch (err) { results.goNodes = { error: String(err.message).split('\n')[0] }; }
    await g.stop();
    dn2.p.stdin.end();
    await new Promise((r) => { dn2.p.once('exit', r); setTimeout(r, 3000); });
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(JSON.stringify({ goNodes: results.goNodes }));
  }
}

if (!only || only === 'conns') {
  results.conns = {};
  for (const bridge of ['fd', 'stream']) {
    const ka = keypair(), kb = keypair();
    const srv = child([me, '--conn-server', JSON.stringify({ wg: { privateKey: kb.priv, address: ['10.67.0.2/32'], listenPort: 0, peers: [{ publicKey: ka.pub, allowedIPs: ['10.67.0.1/32'] }] } })], { TSNET_BRIDGE: bridge });
    const r = {};
    let cli;
    try {
      const { port } = await srv.next('ready');
      cli = child([me, '--conn-client', JSON.stringify({ n: N_CONNS, target: '10.67.0.2:80', wg: { privateKey: ka.priv, address: ['10.67.0.1/32'], listenPort: 0, peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${port}`, allowedIPs: ['10.67.0.2/32'] }] } })], { TSNET_BRIDGE: bridge });
      await cli.next('ready');
      r.client = await cli.next('opened');
      r.server = await srv.call({ op: 'wait', n: r.client.opened });
    } catch (err) {
      r.error = String(err.message).split('\n')[0];
    }
    await cli?.stop();
    await srv.stop();
    results.conns[bridge] = r;
    console.log(JSON.stringify({ bridge, ...r }));
  }
}

const f = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '-');
const n = results.nodes;
if (n && !n.error) {
  console.log(`\n${n.up} of ${n.n} Server nodes up in one process in ${f(n.upSeconds)} s${n.error ? ` (then ${n.error})` : ''}: ` +
    `${f(n.perNodeKiB, 0)} KiB RSS and ${f(n.fdsPerNode, 1)} descriptors per node after the first (${f(n.rssOneKiB / 1024)} MiB with one); ` +
    `${n.echoOk} of ${n.up - 1} dialed node 0 and got their byte back in ${f(n.echoSeconds)} s; up() took ${f(n.upMsFirst10, 0)} ms on average for nodes 2-11, ${f(n.upMsLast10, 0)} ms for the last ten`);
}
const g = results.goNodes;
if (g && !g.error) console.log(`Go tsnet: ${g.up} of ${g.n} nodes up in one process in ${f(g.upSeconds)} s: ${f(g.perNodeKiB, 0)} KiB RSS per node after the first (${f(g.rssOneKiB / 1024)} MiB with one); up() took ${f(g.upMsFirst10, 0)} ms on average for nodes 2-11, ${f(g.upMsLast10, 0)} ms for the last ten`);
else if (g) console.log(`Go tsnet nodes: failed: ${g.error}`);
for (const [bridge, r] of Object.entries(results.conns ?? {})) {
  if (r.error) { console.log(`${bridge}: failed: ${r.error}`); continue; }
  const c = r.client, s = r.server;
  console.log(`TSNET_BRIDGE=${bridge}: ${c.opened} of ${N_CONNS} connections in ${f(c.seconds, 2)} s${c.dialError ? ` (then ${c.dialError})` : ''}; ` +
    `dialing node ${f(c.fds / Math.max(c.opened, 1), 2)} descriptors and ${f(c.rssKiB / Math.max(c.opened, 1), 1)} KiB RSS per connection, ` +
    `accepting node ${f(s.fds / Math.max(s.accepted, 1), 2)} descriptors and ${f(s.rssKiB / Math.max(s.accepted, 1), 1)} KiB per connection (${s.accepted} accepted)`);
}
// SCALE_RESULTS=0: print only (bench/run.mjs's per-node row runs this with a few nodes).
if (process.env.SCALE_RESULTS !== '0') {
  fs.mkdirSync(path.join(here, 'results'), { recursive: true });
  const json = JSON.stringify(results, null, 2) + '\n';
  fs.writeFileSync(path.join(here, 'results', 'scale.json'), json);
  fs.writeFileSync(path.join(here, 'results', `${results.date.slice(0, 19).replace(/:/g, '-')}-scale-${os.hostname()}.json`), json);
}
