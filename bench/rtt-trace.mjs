// Where a 1-byte round trip's tail comes from (docs/performance.md, "Round trip: the tail and the hops"): runs the
// pingpong of bench/node.mjs with every sample kept, and sets the slow ones beside the GC pauses both
// processes had meanwhile (BENCH_TRACE=1 in the children).
//   node bench/rtt-trace.mjs [plain|wg|server|go]...   (default: plain wg server)
//     plain   Node TCP over loopback          wg   our WireGuard mode (no control), two processes
//     server  two Server nodes on our development tailnet, direct path (as `npm run bench`'s direct row)
//     go      two Go tsnet nodes (build-interop/tsinterop, scripts/interop.sh) on the same tailnet
// Knobs: COUNT (5000 round trips per pair), ROUNDS (1), WARM_BYTES (8 MiB sent before timing, Server pairs),
// SLOW (a sample slower than this many µs is "slow"; default 3 × the pair's p50), and every TSNET_* knob.
// As root it runs inside a network namespace of its own (bench/netns.mjs), as `npm run bench` does.
import { Proc, keypair } from './proc.mjs';
import { inBenchNetns } from './netns.mjs';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';

inBenchNetns();
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const COUNT = Number(process.env.COUNT ?? 5000);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const WARM_BYTES = Number(process.env.WARM_BYTES ?? 8 * 1024 ** 2);
const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['plain', 'wg', 'server'];
const traceEnv = { BENCH_TRACE: '1' };
const node = (arg, env = {}) => new Proc(process.execPath, [path.join(here, 'node.mjs'), arg], { ...traceEnv, ...env });
const tsinterop = path.join(root, 'build-interop', 'tsinterop');

let devnet;
async function tailnet() {
  if (!devnet) {
    const proc = new Proc(process.execPath, [path.join(here, 'devnet.mjs'), '{}']);
    devnet = { proc, ...(await proc.next('ready')) };
  }
  return devnet;
}

let seq = 0;
async function pair(kind) {
  if (kind === 'plain') {
    const b = node('plain');
    await b.next('ready');
    const a = node('plain', { ROLE: 'client' });
    await a.next('ready');
    return { a, b, host: '127.0.0.1', gc: true };
  }
  if (kind === 'wg') {
    const ka = keypair(), kb = keypair();
    const b = node(JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'], peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] }));
    const { port } = await b.next('ready');
    const a = node(JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'], peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${port}`, allowedIPs: ['10.66.0.2/32'] }] }), { ROLE: 'client' });
    await a.next('ready');
    return { a, b, host: '10.66.0.2', gc: true };
  }
  const dn = await tailnet();
  const mk = (client) => {
    const hostname = `${kind}-${++seq}`;
    if (kind === 'server') {
      return { hostname, p: node(JSON.stringify({ server: { controlURL: dn.controlURL, authKey: dn.authKey, hostname } }), client ? { ROLE: 'client' } : {}) };
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtt-trace-'));
    return { hostname, p: new Proc(tsinterop, ['bench', JSON.stringify({ controlURL: dn.controlURL, authKey: dn.authKey, hostname, dir, client })]) };
  };
  const b = mk(false);
  await b.p.next('ready');
  const a = mk(true);
  await a.p.next('ready');
  await a.p.call({ op: 'send', host: b.hostname, bytes: WARM_BYTES });
  return { a: a.p, b: b.p, host: b.hostname, gc: kind === 'server' };
}

// Clock ticks (1/100 s) of CPU time, user + system, of a whole process.
const cpuTicks = (pid) => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const q = (s, f) => s[Math.min(s.length - 1, Math.floor(s.length * f))];
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');

for (let round = 1; round <= ROUNDS; round++) {
  for (const kind of kinds) {
    const { a, b, host, gc } = await pair(kind);
    // BENCH_LIKE=1: as `npm run bench` times it: one stream of BENCH_BYTES (256 MiB), 8 streams sharing as
    // many, then the round trips on a fresh connection with no warm-up round trips of its own.
    if (process.env.BENCH_LIKE) {
      const bytes = Number(process.env.BENCH_BYTES ?? 256 * 1024 ** 2);
      await a.call({ op: 'send', host, bytes });
      await a.call({ op: 'send', host, bytes: Math.ceil(bytes / 8), streams: 8 });
    } else await a.call({ op: 'pingpong', host, count: 500 }); // handshake, warm-up
    if (gc) { await a.call({ op: 'gclog' }); await b.call({ op: 'gclog' }); }
    // PERF_SCHED=file: `perf sched record` of the whole machine around the timed round trips (for
    // `perf sched timehist -i file`: how long each wake-up waited for a CPU).
    let perf;
    if (process.env.PERF_SCHED) {
      const { spawn } = await import('node:child_process');
      perf = spawn('perf', ['sched', 'record', '-a', '-o', `${process.env.PERF_SCHED}.${kind}.${round}`], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1000));
    }
    const c0 = [cpuTicks(a.p.pid), cpuTicks(b.p.pid)];
    const r = await a.call({ op: 'pingpong', host, count: COUNT, trace: true });
    const cpuUs = [cpuTicks(a.p.pid) - c0[0], cpuTicks(b.p.pid) - c0[1]].map((t) => (t * 1e4) / COUNT);
    if (perf) { perf.kill('SIGINT'); await new Promise((r) => perf.once('exit', r)); }
    // ATTACH='strace -f -tt -T -o /tmp/rtt.{role} -p {pid}' (or perf record ...): a tool attached to both
    // processes for ATTACH_COUNT (200) more round trips after the timed ones.
    if (process.env.ATTACH) {
      const { spawn } = await import('node:child_process');
      const tools = [['client', a], ['server', b]].map(([role, p]) =>
        spawn('sh', ['-c', 'exec ' + process.env.ATTACH.replaceAll('{pid}', String(p.p.pid)).replaceAll('{role}', role)], { stdio: 'inherit' }));
      await new Promise((r) => setTimeout(r, 1500));
      await a.call({ op: 'pingpong', host, count: Number(process.env.ATTACH_COUNT ?? 200) });
      for (const t of tools) { t.kill('SIGINT'); await new Promise((r) => t.once('exit', r)); }
    }
    const gcs = gc ? [...(await a.call({ op: 'gclog' })).gc.map((g) => ['client', ...g]), ...(await b.call({ op: 'gclog' })).gc.map((g) => ['server', ...g])] : [];
    await a.stop();
    await b.stop();
    const samples = r.samples;
    if (!samples) { // Go's bench node reports its percentiles only
      console.log(`\n## ${kind}, round ${round}: ${COUNT} round trips\nCPU per round trip: client ${f0(cpuUs[0])} µs, server ${f0(cpuUs[1])} µs\np50 ${f0(r.p50us)}  p99 ${f0(r.p99us)} µs`);
      continue;
    }
    const sorted = samples.map((s) => s[1]).sort((x, y) => x - y);
    const p50 = q(sorted, 0.5);
    const slowUs = Number(process.env.SLOW ?? 3 * p50);
    const t0 = samples[0][0];
    const span = samples.at(-1)[0] - t0;
    const slow = samples.filter((s) => s[1] > slowUs);
    const firstSlow = samples.map((s, i) => (s[1] > slowUs ? i : -1)).filter((i) => i >= 0);
    const overlaps = (s) => gcs.filter((g) => g[1] < s[0] + s[1] / 1000 && g[1] + g[2] > s[0]);
    const withGc = slow.filter((s) => overlaps(s).length);
    const gcMs = gcs.reduce((n, g) => n + g[2], 0);
    console.log(`\n## ${kind}, round ${round}: ${COUNT} round trips in ${span.toFixed(0)} ms` +
      Object.entries(process.env).filter(([k]) => k.startsWith('TSNET_')).map(([k, v]) => ` ${k}=${v}`).join(''));
    console.log(`CPU per round trip: client ${f0(cpuUs[0])} µs, server ${f0(cpuUs[1])} µs (all threads, /proc)`);
    console.log(`p50 ${f0(p50)}  p90 ${f0(q(sorted, 0.9))}  p99 ${f0(q(sorted, 0.99))}  p99.9 ${f0(q(sorted, 0.999))}  max ${f0(sorted.at(-1))} µs`);
    console.log(`slow (> ${f0(slowUs)} µs): ${slow.length} (${((100 * slow.length) / COUNT).toFixed(2)} %), their time ${f0(slow.reduce((n, s) => n + s[1], 0) / 1000)} ms`);
    if (gc) {
      const kindsSeen = {};
      for (const g of gcs) kindsSeen[`${g[0]}:${g[3]}`] = (kindsSeen[`${g[0]}:${g[3]}`] ?? 0) + 1;
      console.log(`GC pauses: ${gcs.length} (${JSON.stringify(kindsSeen)}), ${gcMs.toFixed(1)} ms; slow samples overlapping one: ${withGc.length}`);
    }
    // When the slow ones happened: ms since the first sample, with their µs; periodic work shows as a rhythm.
    console.log('slowest 25 (ms since start: µs [gc]):', slow.sort((x, y) => y[1] - x[1]).slice(0, 25).sort((x, y) => x[0] - y[0])
      .map((s) => `${(s[0] - t0).toFixed(1)}:${f0(s[1])}${overlaps(s).map((g) => ` [${g[0]} gc ${g[2].toFixed(2)}ms]`).join('')}`).join(', '));
    console.log('first 12 samples (µs):', samples.slice(0, 12).map((s) => f0(s[1])).join(' '));
    console.log('indices of slow samples (first 40):', firstSlow.slice(0, 40).join(' '));
    // A coarse histogram, 25 µs buckets to 1 ms.
    const buckets = new Map();
    for (const v of sorted) { const k = v >= 1000 ? '1000+' : `${Math.floor(v / 25) * 25}`; buckets.set(k, (buckets.get(k) ?? 0) + 1); }
    console.log('histogram (µs bucket: n):', [...buckets].map(([k, n]) => `${k}:${n}`).join(' '));
  }
}
await devnet?.proc.stop();
