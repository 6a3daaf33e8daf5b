// Handshake flood: TCP throughput between two WireGuard-mode nodes over loopback UDP, with and without a
// flood of handshake initiations (valid mac1, random body: what anyone who knows the node's public key can
// send) aimed at the receiving node from loopback by bench/wg_flood.c. Clean and flooded transfers
// alternate, BENCH_REPEAT times, so both see the same machine load.
//   BENCH_BYTES     bytes per transfer (default 64 MiB)
//   BENCH_REPEAT    rounds of (clean, flooded) per tree (default 3)
//   BENCH_FLOOD_PPS flooder pace in datagrams/s (default 0: as fast as it can)
//   BENCH_BASELINE  another checkout of this repo, built (node-gyp + build:ts), measured first in the same
//                   run with its own bench/node.mjs: the "before" of a change
// Also printed: the flooded node's CPU time per flood datagram (from /proc), and what the flooder saw come
// back (cookie replies). The flooder is built here with cmake if build-bench/wg_flood is missing.
import { spawn, execFileSync } from 'node:child_process';
import * as readline from 'node:readline';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.dirname(here);
const BYTES = Number(process.env.BENCH_BYTES ?? 64 * 1024 ** 2);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const PPS = Number(process.env.BENCH_FLOOD_PPS ?? 0);
const MAX_FLOOD = 50_000_000, MAX_FLOOD_SECONDS = 120; // hard bounds on one flood

const flooder = path.join(root, 'build-bench', 'wg_flood');
if (!fs.existsSync(flooder)) {
  execFileSync('cmake', ['-S', root, '-B', path.join(root, 'build-bench'), '-DTS_BENCH=ON', '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'inherit' });
  execFileSync('cmake', ['--build', path.join(root, 'build-bench'), '--target', 'wg_flood', '-j2'], { stdio: 'inherit' });
}

function keypair() {
  const { privateKey } = generateKeyPairSync('x25519');
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const pub = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  return { priv: priv.toString('base64'), pub: pub.toString('base64') };
}

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

class Proc {
  constructor(cmd, args, env = {}) {
    this.p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    children.add(this.p);
    this.p.once('exit', () => children.delete(this.p));
    this.it = readline.createInterface({ input: this.p.stdout })[Symbol.asyncIterator]();
  }
  async next() {
    const r = await this.it.next();
    if (r.done) throw new Error('bench process exited');
    const o = JSON.parse(r.value);
    if (o.error) throw new Error(o.error);
    return o;
  }
  call(cmd) { this.p.stdin.write(JSON.stringify(cmd) + '\n'); return this.next(); }
  async stop() { this.p.stdin.write('{"op":"exit"}\n'); await new Promise((r) => { this.p.once('exit', r); setTimeout(r, 3000); }); this.p.kill(); }
}

// User + system CPU seconds of a process so far.
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function flood(port, pub) {
  const p = spawn(flooder, [String(port), pub, String(MAX_FLOOD), String(MAX_FLOOD_SECONDS), String(PPS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(p);
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  const done = new Promise((r) => p.once('exit', () => { children.delete(p); r(out.trim() ? JSON.parse(out) : {}); }));
  return { stop: () => { p.kill('SIGTERM'); return done; } };
}

async function measureTree(label, benchDir) {
  const nodeJs = path.join(benchDir, 'node.mjs');
  const ka = keypair(), kb = keypair();
  const b = new Proc(process.execPath, [nodeJs, JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'], listenPort: 0,
    peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] })]);
  const hb = await b.next();
  const a = new Proc(process.execPath, [nodeJs, JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'], listenPort: 0,
    peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${hb.port}`, allowedIPs: ['10.66.0.2/32'] }] })], { ROLE: 'client' });
  await a.next();
  await a.call({ op: 'send', host: '10.66.0.2', bytes: 1024 * 1024 }); // handshake and warm-up
  const rows = [];
  for (let i = 0; i < REPEAT; i++) {
    for (const flooded of [false, true]) {
      const f = flooded ? await flood(hb.port, kb.pub) : null;
      const cpu0 = cpuSeconds(b.p.pid);
      const s = await a.call({ op: 'send', host: '10.66.0.2', bytes: BYTES });
      const cpu = cpuSeconds(b.p.pid) - cpu0;
      const fr = f ? await f.stop() : null;
      rows.push({ label, flooded, mbps: s.bytes / s.seconds / 1e6, seconds: s.seconds, nodeCpu: cpu, flood: fr });
    }
  }
  await a.stop();
  await b.stop();
  return rows;
}

const trees = [];
if (process.env.BENCH_BASELINE) trees.push(['baseline', path.join(path.resolve(process.env.BENCH_BASELINE), 'bench')]);
trees.push(['this tree', here]);
const all = [];
for (const [label, dir] of trees) all.push(...(await measureTree(label, dir)));

const f = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nhandshake flood  ${new Date().toISOString()}  ${BYTES / 1024 ** 2} MiB per transfer, ${REPEAT} rounds, flooder ${PPS || 'unpaced'}, ${(await import('node:os')).cpus().length} CPUs\n`);
console.log('| tree | flood | MB/s | flood datagrams/s | cookie replies back | flooded node CPU s | node CPU µs per flood datagram |');
console.log('|---|---|---|---|---|---|---|');
for (const r of all) {
  const fr = r.flood;
  const rate = fr ? fr.sent / fr.seconds : undefined;
  console.log(`| ${r.label} | ${r.flooded ? 'yes' : 'no'} | ${f(r.mbps)} | ${f(rate, 0)} | ${fr ? fr.cookieReplies : '-'} | ${f(r.nodeCpu, 2)} | ${fr ? f((r.nodeCpu * 1e6) / fr.sent, 2) : '-'} |`);
}
console.log('');
for (const [label] of trees) {
  const med = (flooded) => {
    const v = all.filter((r) => r.label === label && r.flooded === flooded).map((r) => r.mbps).sort((x, y) => x - y);
    return v[Math.floor(v.length / 2)];
  };
  console.log(`${label}: median ${f(med(false))} MB/s clean, ${f(med(true))} MB/s flooded (${f((100 * med(true)) / med(false), 0)}%)`);
}
