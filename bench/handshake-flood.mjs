// Handshake flood: TCP throughput between two WireGuard-mode nodes over loopback UDP, with and without a
// flood of handshake initiations (valid mac1, random body: what anyone who knows the node's public key can
// send) aimed at the receiving node from loopback by bench/wg_flood.c. Clean and flooded transfers
// alternate, BENCH_REPEAT times, so both see the same machine load.
//   BENCH_BYTES     bytes per transfer (default 128 MiB)
//   BENCH_REPEAT    rounds of (clean, flooded) per tree (default 3)
//   BENCH_FLOOD_PPS flooder pace in datagrams/s (default 50000; 0: as fast as it can, which on a 2-core
//                   machine mostly measures the flooder taking a core from the two nodes)
//   BENCH_BASELINE  another checkout of this repo, built (node-gyp + build:ts), measured in the same run
//                   (its own bench/node.mjs, rounds interleaved with this tree's): the "before" of a change
// First, for each tree, the flood alone against an idle node: how many datagrams the kernel dropped at the
// node's socket (/proc/net/udp*), the node's CPU time per datagram it did read (/proc/<pid>/stat), and the
// share answered with a cookie reply that reached the flooder (its own socket drops some). The flooder is built here with cmake if
// build-bench/wg_flood is missing.
import { Proc, keypair } from './proc.mjs';
import { spawn, execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.dirname(here);
const BYTES = Number(process.env.BENCH_BYTES ?? 128 * 1024 ** 2);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const PPS = Number(process.env.BENCH_FLOOD_PPS ?? 50000);
const MAX_FLOOD = 50_000_000, MAX_FLOOD_SECONDS = 120; // hard bounds on one flood
const FLOOD_ONLY_SECONDS = 3;

const flooder = path.join(root, 'build-bench', 'wg_flood');
if (!fs.existsSync(flooder)) {
  execFileSync('cmake', ['-S', root, '-B', path.join(root, 'build-bench'), '-DTS_BENCH=ON', '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'inherit' });
  execFileSync('cmake', ['--build', path.join(root, 'build-bench'), '--target', 'wg_flood', '-j2'], { stdio: 'inherit' });
}



// User + system CPU seconds of a process so far.
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

// Datagrams the kernel dropped at a UDP socket bound to this port (its receive buffer was full).
function socketDrops(port) {
  let n = 0;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 12 && parseInt(c[1].split(':')[1], 16) === port) n += Number(c[c.length - 1]);
    }
  }
  return n;
}

async function flood(port, pub) {
  const p = spawn(flooder, [String(port), pub, String(MAX_FLOOD), String(MAX_FLOOD_SECONDS), String(PPS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(p);
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  const done = new Promise((r) => p.once('exit', () => { children.delete(p); r(out.trim() ? JSON.parse(out) : {}); }));
  return { stop: () => { p.kill('SIGTERM'); return done; } };
}

async function startPair(label, benchDir) {
  const nodeJs = path.join(benchDir, 'node.mjs');
  const ka = keypair(), kb = keypair();
  const b = new Proc(process.execPath, [nodeJs, JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'], listenPort: 0,
    peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] })]);
  const hb = await b.next();
  const a = new Proc(process.execPath, [nodeJs, JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'], listenPort: 0,
    peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${hb.port}`, allowedIPs: ['10.66.0.2/32'] }] })], { ROLE: 'client' });
  await a.next();
  await a.call({ op: 'send', host: '10.66.0.2', bytes: 1024 * 1024 }); // handshake and warm-up
  return { label, a, b, port: hb.port, pub: kb.pub };
}

// The flood alone against an idle node for FLOOD_ONLY_SECONDS: the node's CPU per flood datagram, and
// how many cookie replies came back (the node kept up if that is close to what was sent).
async function floodOnly(pair) {
  const drops0 = socketDrops(pair.port);
  const f = await flood(pair.port, pair.pub);
  const cpu0 = cpuSeconds(pair.b.p.pid);
  await new Promise((r) => setTimeout(r, FLOOD_ONLY_SECONDS * 1000));
  const cpu = cpuSeconds(pair.b.p.pid) - cpu0;
  const fr = await f.stop();
  return { label: pair.label, nodeCpu: cpu, flood: fr, dropped: socketDrops(pair.port) - drops0 };
}

async function transfer(pair, flooded) {
  const drops0 = socketDrops(pair.port);
  const f = flooded ? await flood(pair.port, pair.pub) : null;
  const s = await pair.a.call({ op: 'send', host: '10.66.0.2', bytes: BYTES });
  const fr = f ? await f.stop() : null;
  return { label: pair.label, flooded, mbps: s.bytes / s.seconds / 1e6, seconds: s.seconds, flood: fr,
    dropped: socketDrops(pair.port) - drops0 };
}

const pairs = [];
if (process.env.BENCH_BASELINE) pairs.push(await startPair('baseline', path.join(path.resolve(process.env.BENCH_BASELINE), 'bench')));
pairs.push(await startPair('this tree', here));
const alone = [], all = [];
for (const p of pairs) alone.push(await floodOnly(p));
// Trees and clean/flooded alternate, so all see the same machine load.
for (let i = 0; i < REPEAT; i++) for (const p of pairs) for (const flooded of [false, true]) all.push(await transfer(p, flooded));
for (const p of pairs) { await p.a.stop(); await p.b.stop(); }
const trees = pairs.map((p) => [p.label]);

const f = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nhandshake flood  ${new Date().toISOString()}  ${BYTES / 1024 ** 2} MiB per transfer, ${REPEAT} rounds, flooder ${PPS || 'unpaced'}, ${(await import('node:os')).cpus().length} CPUs\n`);
console.log(`flood alone, ${FLOOD_ONLY_SECONDS} s against an idle node:\n`);
console.log('| tree | flood datagrams/s | dropped by the kernel at the node | node CPU µs per datagram it read | cookie replies back |');
console.log('|---|---|---|---|---|');
for (const r of alone) {
  const fr = r.flood;
  console.log(`| ${r.label} | ${f(fr.sent / fr.seconds, 0)} | ${f((100 * r.dropped) / fr.sent, 0)}% | ${f((r.nodeCpu * 1e6) / (fr.sent - r.dropped), 2)} | ${f((100 * fr.cookieReplies) / fr.sent, 0)}% |`);
}
console.log('\ntransfers:\n');
console.log('| tree | flood | MB/s | flood datagrams/s | datagrams dropped by the kernel at the node |');
console.log('|---|---|---|---|---|');
for (const r of all) {
  const fr = r.flood;
  console.log(`| ${r.label} | ${r.flooded ? 'yes' : 'no'} | ${f(r.mbps)} | ${fr ? f(fr.sent / fr.seconds, 0) : '-'} | ${r.dropped} |`);
}
console.log('');
for (const [label] of trees) {
  const med = (flooded) => {
    const v = all.filter((r) => r.label === label && r.flooded === flooded).map((r) => r.mbps).sort((x, y) => x - y);
    return v[Math.floor(v.length / 2)];
  };
  console.log(`${label}: median ${f(med(false))} MB/s clean, ${f(med(true))} MB/s flooded (${f((100 * med(true)) / med(false), 0)}%)`);
}
