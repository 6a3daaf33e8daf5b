// node bench/derp-real.mjs: relayed (DERP) throughput of our nodes against Go tsnet (Tailscale's own
// implementation) through a real Tailscale derper, in one run, loopback only (docs/performance.md).
//   go-derper          two Go tsnet nodes (`tsinterop bench`, TS_DEBUG_ALWAYS_USE_DERP) through the real derper
//   tsnet-derper       two of our Server nodes (alwaysUseDERP) through the same derper
//   tsnet-devnet-relay two of our Server nodes through the development tailnet's own relay (reference)
//   go-devnet-relay    two Go tsnet nodes through our relay: attributes the gap to client or relay
//   tsnet-relay-q32, go-relay-q32   the same through our relay holding 32 packets per client (derper's
//                      queue depth; ours holds 256 by default): isolates what derper's drops cost each stack
// Control for all of them is our development tailnet (lib/devnet): the Go nodes join it with an auth key.
// Needs Go (GO names it, else `go`); scripts/interop.sh builds the Go programs into build-interop/. Knobs: DERP_BYTES (default 64 MiB per stream), DERP_ROUNDS (default 2; rows alternate within a
// round), DERP_ONLY (comma-separated row names), DERP_PINGS (1-byte round trips per row, default 300).
import { spawn, execFileSync } from 'node:child_process';
import * as readline from 'node:readline';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as https from 'node:https';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const buildDir = path.join(root, 'build-interop');
const BYTES = Number(process.env.DERP_BYTES ?? 64 * 1024 ** 2);
const ROUNDS = Number(process.env.DERP_ROUNDS ?? 2);
const PINGS = Number(process.env.DERP_PINGS ?? 300);
const only = process.env.DERP_ONLY?.split(',').filter(Boolean);
const ROWS = ['go-derper', 'tsnet-derper', 'tsnet-devnet-relay', 'go-devnet-relay', 'tsnet-relay-q32', 'go-relay-q32', 'go-to-tsnet-derper', 'tsnet-to-go-derper'].filter((r) => !only || only.includes(r));
// Every step is bounded: a stalled relay fails the row instead of hanging the run.
const STEP_MS = Number(process.env.DERP_STEP_MS ?? 120_000);

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function withTimeout(p, what, ms = STEP_MS) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

class Proc {
  constructor(name, cmd, args, env = {}) {
    this.name = name;
    this.p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.add(this.p);
    this.exited = new Promise((r) => this.p.once('exit', (code, sig) => { children.delete(this.p); r({ code, sig }); }));
    this.stderr = '';
    this.p.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); if (process.env.DERP_VERBOSE) process.stderr.write(`[${name}] ${d}`); });
    this.it = readline.createInterface({ input: this.p.stdout })[Symbol.asyncIterator]();
  }
  async next(what = 'line') {
    const r = await withTimeout(this.it.next(), `${this.name} ${what}`);
    if (r.done) throw new Error(`${this.name} exited: ${this.stderr.split('\n').slice(-5).join(' | ')}`);
    const o = JSON.parse(r.value);
    if (o.error) throw new Error(`${this.name}: ${o.error}`);
    return o;
  }
  call(cmd) { this.p.stdin.write(JSON.stringify(cmd) + '\n'); return this.next(cmd.op); }
  async stop() {
    this.p.stdin.write('{"op":"exit"}\n');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
    this.p.kill('SIGKILL');
  }
}

// The interop tier's programs (scripts/interop.sh, cached in build-interop/): our Go program's `bench` node and
// Tailscale's own cmd/derper, both from tailscale.com at the tier's pinned version.
function buildGo() {
  execFileSync('bash', [path.join(root, 'scripts', 'interop.sh'), 'tsinterop', 'derper'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

const freePort = () => new Promise((res, rej) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  s.once('error', rej);
});

async function waitTCP(port, proc) {
  for (;;) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (ok) return;
    if (proc.p.exitCode !== null) throw new Error(`derper exited: ${proc.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// derper's own counters (expvar at /debug/varz, open to loopback): what it forwarded and dropped, and why.
function derperVars(port) {
  return new Promise((res) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/debug/varz', rejectUnauthorized: false, timeout: 5000 }, (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => {
        const v = {};
        for (const line of body.split('\n')) {
          const m = /^(derp_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
          if (m) v[m[1]] = Number(m[2]);
        }
        res(v);
      });
    });
    req.on('error', () => res({}));
  });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'derp-real-'));
let seq = 0;
function goNode(name, controlURL, authKey, role) {
  const dir = path.join(tmp, `${name}-${++seq}`);
  fs.mkdirSync(dir);
  return new Proc(name, path.join(buildDir, 'tsinterop'), ['bench', '{}'], {
    CONTROL_URL: controlURL, AUTH_KEY: authKey, HOSTNAME: `${name}-${seq}`, STATE_DIR: dir,
    TS_DEBUG_ALWAYS_USE_DERP: '1', ...(role === 'client' ? { ROLE: 'client' } : {}),
  });
}
function ourNode(name, controlURL, authKey, role) {
  const o = { server: { controlURL, authKey, hostname: `${name}-${++seq}`, alwaysUseDERP: true } };
  return new Proc(name, process.execPath, [path.join(here, 'node.mjs'), JSON.stringify(o)], role === 'client' ? { ROLE: 'client' } : {});
}

// Our relay's counters, from its devnet process: forwarded and dropped (queue full) packets.
async function relayVars(dn) {
  const st = await dn.proc.call({ op: 'stats' });
  return { forwarded: st.packetsForwarded, dropped: st.packetsDroppedQueueFull };
}

async function measure(row, mkClient, mkServer, dn, derpPort) {
  const { controlURL, authKey } = dn;
  const b = mkServer(`${row}-b`, controlURL, authKey, 'server');
  const host = `${row}-b-${seq}`;
  try {
    await b.next('ready');
    const a = mkClient(`${row}-a`, controlURL, authKey, 'client');
    try {
      await a.next('ready');
      const vars = () => (derpPort ? derperVars(derpPort) : relayVars(dn));
      const before = await vars();
      const send = await a.call({ op: 'send', host, bytes: BYTES });
      const after = await vars();
      const sink = await b.call({ op: 'sinkstats' });
      const pp = PINGS > 0 ? await a.call({ op: 'pingpong', host, count: PINGS }) : {};
      const delta = {};
      for (const [k, v] of Object.entries(after)) {
        if (/^derp_(packets|bytes)_(dropped|sent|recv)|^forwarded$|^dropped$/.test(k) && v - (before[k] ?? 0)) delta[k] = v - (before[k] ?? 0);
      }
      // Packets the relay delivered and dropped while the stream ran (both directions: data and ACKs).
      const sum = (re) => Object.entries(delta).filter(([k]) => re.test(k)).reduce((m, [, v]) => m + v, 0);
      const relay = derpPort
        ? { forwarded: sum(/^derp_packets_sent/), dropped: sum(/^derp_packets_dropped/), counters: delta }
        : { forwarded: delta.forwarded ?? 0, dropped: delta.dropped ?? 0 };
      return { mbps: (send.bytes * 8) / send.seconds / 1e6, seconds: send.seconds, p50us: pp.p50us, p99us: pp.p99us, relay, sink };
    } finally { await a.stop(); }
  } finally { await b.stop(); }
}

buildGo();
const derpPort = await freePort();
const certDir = path.join(buildDir, 'derper-certs');
// -certmode manual with an IP host name: derper makes itself a self-signed certificate for that IP.
const derper = new Proc('derper', path.join(buildDir, 'derper'), [
  '-a', `127.0.0.1:${derpPort}`, '-certmode', 'manual', '-certdir', certDir, '-hostname', '127.0.0.1',
  '-http-port', '-1', '-stun=false',
]);
await waitTCP(derpPort, derper);
const realMap = { Regions: { 901: { RegionID: 901, RegionCode: 'derper', RegionName: 'real derper (loopback)', Nodes: [
  { Name: '901a', RegionID: 901, HostName: '127.0.0.1', IPv4: '127.0.0.1', IPv6: 'none', DERPPort: derpPort, STUNPort: -1, InsecureForTests: true },
] } } };
async function devnet(name, opts) {
  const proc = new Proc(name, process.execPath, [path.join(here, 'devnet.mjs'), JSON.stringify(opts)]);
  return { proc, ...(await proc.next('ready')) };
}
const real = await devnet('devnet-derper', { derpMap: realMap });
const own = await devnet('devnet-relay', {});
const q32 = await devnet('devnet-relay-q32', { relay: { sendQueuePackets: 32 } });

// row: [sender (client), receiver (server), devnet, derper port or 0 for our relay]
const plan = {
  'go-derper': [goNode, goNode, real, derpPort],
  'tsnet-derper': [ourNode, ourNode, real, derpPort],
  'tsnet-devnet-relay': [ourNode, ourNode, own, 0],
  'go-devnet-relay': [goNode, goNode, own, 0],
  'tsnet-relay-q32': [ourNode, ourNode, q32, 0],
  'go-relay-q32': [goNode, goNode, q32, 0],
  'go-to-tsnet-derper': [goNode, ourNode, real, derpPort],
  'tsnet-to-go-derper': [ourNode, goNode, real, derpPort],
};
const runs = Object.fromEntries(ROWS.map((r) => [r, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so no row always runs first (or last) on a shared, noisy machine.
  const order = round % 2 ? [...ROWS].reverse() : ROWS;
  for (const row of order) {
    const [mkClient, mkServer, dn, port] = plan[row];
    try {
      const r = await measure(row, mkClient, mkServer, dn, port);
      runs[row].push(r);
      console.error(`round ${round + 1} ${row}: ${r.mbps.toFixed(1)} Mbit/s, RTT p50 ${r.p50us?.toFixed(0)} µs, relay forwarded ${r.relay.forwarded} dropped ${r.relay.dropped} packets, receiver stalls ${r.sink.stalls} (${r.sink.stallMs.toFixed(0)} ms, longest ${r.sink.maxGapMs.toFixed(0)} ms${r.sink.gapsMs?.length ? `: ${r.sink.gapsMs.join(' ')}` : ''})`);
    } catch (err) {
      runs[row].push({ error: String(err.message ?? err).split('\n')[0] });
      console.error(`round ${round + 1} ${row}: failed: ${err.message}`);
    }
  }
}
for (const { proc } of [real, own, q32]) { proc.p.stdin.end(); await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 3000))]); }
derper.p.kill('SIGTERM');
await Promise.race([derper.exited, new Promise((r) => setTimeout(r, 3000))]);
fs.rmSync(tmp, { recursive: true, force: true });

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined; };
const f = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '-');
const summary = {};
console.log(`\nrelayed TCP, one stream, ${BYTES / 1024 ** 2} MiB, ${ROUNDS} round(s), ${new Date().toISOString()}, ${process.version}, ${os.cpus().length} CPUs\n`);
console.log('| path | Mbit/s (median) | each run | RTT p50 µs | RTT p99 µs | relay drops / forwarded packets (all runs) | receiver stalls ≥ 50 ms: count, ms (all runs) |');
console.log('|---|---|---|---|---|---|---|');
for (const row of ROWS) {
  const ok = runs[row].filter((r) => !r.error);
  const drops = ok.reduce((n, r) => n + r.relay.dropped, 0), fwd = ok.reduce((n, r) => n + r.relay.forwarded, 0);
  const stalls = ok.reduce((n, r) => n + r.sink.stalls, 0), stallMs = ok.reduce((n, r) => n + r.sink.stallMs, 0);
  summary[row] = { mbps: median(ok.map((r) => r.mbps)), p50us: median(ok.map((r) => r.p50us).filter(Number.isFinite)), p99us: median(ok.map((r) => r.p99us).filter(Number.isFinite)) };
  const errs = runs[row].filter((r) => r.error).map((r) => r.error);
  console.log(`| ${row} | ${f(summary[row].mbps)} | ${ok.map((r) => f(r.mbps)).join(', ')}${errs.length ? ` (failed: ${errs.join('; ')})` : ''} | ${f(summary[row].p50us, 0)} | ${f(summary[row].p99us, 0)} | ${drops} / ${fwd} | ${stalls}, ${stallMs.toFixed(0)} |`);
}
const ratio = (a, b) => (summary[a]?.mbps && summary[b]?.mbps ? `${(summary[a].mbps / summary[b].mbps).toFixed(2)}x` : '-');
console.log(`\nours / Go through the real derper: ${ratio('tsnet-derper', 'go-derper')}`);
console.log(`ours through the real derper / through our relay: ${ratio('tsnet-derper', 'tsnet-devnet-relay')}`);
console.log(`Go through our relay / through the real derper: ${ratio('go-devnet-relay', 'go-derper')}`);
console.log(`ours / Go through our relay holding 32 packets per client: ${ratio('tsnet-relay-q32', 'go-relay-q32')}`);
console.log(`through the real derper, our sender to a Go receiver / a Go sender to our receiver: ${ratio('tsnet-to-go-derper', 'go-to-tsnet-derper')}`);
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
fs.writeFileSync(path.join(here, 'results', 'derp-real.json'), JSON.stringify({ date: new Date().toISOString(), bytes: BYTES, runs, summary }, null, 2));
