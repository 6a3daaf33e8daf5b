// npm run bench: one run, every number next to its baseline from the same run (these machines are noisy).
//   TCP throughput, single stream:  ours (two processes, WireGuard over loopback UDP)
//                                   vs wireguard-go + Linux TCP in two network namespaces (iperf3)
//                                   vs plain Node TCP over loopback
//   1-byte TCP round trip (p50/p99), new connections per second, memory per device and per connection.
// tsnet-wireguard-engine-thread is the same pair with TSNET_ENGINE=thread (docs/architecture.md).
// Set BENCH_BYTES (default 1 GiB) to move more or less data, BENCH_ONLY (a comma-separated list of row
// names, or prefixes such as "tsnet-server") to run only some rows. The wireguard-go baseline needs root,
// wireguard-go, wg and iperf3 (scripts/test-deps.sh); without them its rows say why.
import { Proc, keypair } from './proc.mjs';
import { spawn, execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';

const here = path.dirname(new URL(import.meta.url).pathname);
const BYTES = Number(process.env.BENCH_BYTES ?? 1024 ** 3);
const results = {};
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const want = (name) => !only || only.some((o) => name.startsWith(o));
const wantGroup = (prefix) => !only || only.some((o) => o.startsWith(prefix) || prefix.startsWith(o));



async function measurePair(name, server, client, host, bytes = BYTES) {
  await server.next();
  await client.next();
  const send = await client.call({ op: 'send', host, bytes });
  const pp = await client.call({ op: 'pingpong', host, count: 2000 });
  const cr = await client.call({ op: 'connrate', host, seconds: 3 });
  results[name] = { gbps: (send.bytes * 8) / send.seconds / 1e9, p50us: pp.p50us, p99us: pp.p99us, connsPerSec: cr.perSecond };
  await client.stop();
  await server.stop();
}

const node = (arg, env, ns) => ns
  ? new Proc('ip', ['netns', 'exec', ns, process.execPath, path.join(here, 'node.mjs'), arg], env)
  : new Proc(process.execPath, [path.join(here, 'node.mjs'), arg], env);

// ---- plain Node TCP over loopback
if (want('node-tcp-loopback')) await measurePair('node-tcp-loopback', node('plain'), node('plain', { ROLE: 'client' }), '127.0.0.1');

// ---- ours: two processes, WireGuard over loopback; the engine inline (default) and on its own thread
async function wgPair(name, env = {}) {
  const ka = keypair(), kb = keypair();
  const b = node(JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'], listenPort: 0,
    peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] }), env);
  const hb = await b.next();
  const a = node(JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'], listenPort: 0,
    peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${hb.port}`, allowedIPs: ['10.66.0.2/32'] }] }), { ...env, ROLE: 'client' });
  b.next = (() => { let first = true; const orig = Proc.prototype.next.bind(b); return () => (first ? (first = false, Promise.resolve(hb)) : orig()); })();
  await measurePair(name, b, a, '10.66.0.2');
}
if (want('tsnet-wireguard')) await wgPair('tsnet-wireguard');
if (want('tsnet-wireguard-engine-thread')) await wgPair('tsnet-wireguard-engine-thread', { TSNET_ENGINE: 'thread' });

// ---- ours: two Server nodes on a development tailnet (its own process), direct (disco) and through DERP
if (wantGroup('tsnet-server')) {
  const dn = new Proc(process.execPath, [path.join(here, 'devnet.mjs')]);
  const { controlURL, authKey } = await dn.next();
  for (const [name, alwaysUseDERP] of [['tsnet-server-direct', false], ['tsnet-server-derp', true]]) {
    if (!want(name)) continue;
    const srv = (hostname, env) => node(JSON.stringify({ server: { controlURL, authKey, hostname, alwaysUseDERP } }), env);
    const b = srv(`${name}-b`);
    await b.next();
    const first = Promise.resolve({ ready: true });
    const orig = Proc.prototype.next.bind(b);
    let used = false;
    b.next = () => (used ? orig() : ((used = true), first));
    // The relay path is the fallback and slower: a quarter of the bytes keeps the run short.
    await measurePair(name, b, srv(`${name}-a`, { ROLE: 'client' }), `${name}-b`, alwaysUseDERP ? BYTES / 4 : BYTES);
  }
  dn.p.stdin.end();
  await new Promise((r) => { dn.p.once('exit', r); setTimeout(r, 3000); });
}

// ---- wireguard-go + Linux TCP in two namespaces
const have = (c) => { try { execFileSync('sh', ['-c', `command -v ${c}`]); return true; } catch { return false; } };
if (!want('wireguard-go-linux-tcp')) {
  // not asked for
} else if (process.getuid?.() !== 0 || !have('wireguard-go') || !have('wg') || !have('iperf3') || !have('ip')) {
  results['wireguard-go-linux-tcp'] = { skipped: 'needs root, wireguard-go, wg, iperf3 (scripts/test-deps.sh)' };
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
    const env = { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
    for (const [ns, ifc, k, peer, mine, theirs, ep] of [[nsA, ifA, ka, kb, '10.98.7.1', '10.98.7.2', '10.214.0.2'], [nsB, ifB, kb, ka, '10.98.7.2', '10.98.7.1', '10.214.0.1']]) {
      procs.push(spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifc], { stdio: 'ignore', env }));
      for (let i = 0; i < 100 && !fs.existsSync(`/var/run/wireguard/${ifc}.sock`); i++) await new Promise((r) => setTimeout(r, 50));
      const kf = `/tmp/${ifc}.key`;
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
    // Round trip and connection rate with Node over Linux TCP through the wireguard-go tunnel.
    const srv = node('plain', { BIND: '10.98.7.2' }, nsB);
    const cli = node('plain', { ROLE: 'client' }, nsA);
    await srv.next(); await cli.next();
    const pp = await cli.call({ op: 'pingpong', host: '10.98.7.2', count: 2000 });
    const cr = await cli.call({ op: 'connrate', host: '10.98.7.2', seconds: 3 });
    await cli.stop(); await srv.stop();
    results['wireguard-go-linux-tcp'] = { gbps, p50us: pp.p50us, p99us: pp.p99us, connsPerSec: cr.perSecond };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    for (const ns of [nsA, nsB]) { try { sh('ip', 'netns', 'del', ns); } catch {} }
  }
}

// ---- memory
let mem = {};
if (want('memory')) try {
  mem = JSON.parse(execFileSync(process.execPath, ['--expose-gc', path.join(here, 'mem.mjs')], { encoding: 'utf8' }).trim().split('\n').pop());
} catch (err) {
  mem = { error: String(err.message).split('\n')[0] };
}

const f = (x, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '-');
console.log(`\ntsnet bench  ${new Date().toISOString()}  ${BYTES / 1024 ** 2} MiB per stream, ${process.version}, ${(await import('node:os')).cpus().length} CPUs\n`);
console.log('| path | single-stream Gbit/s | RTT p50 µs | RTT p99 µs | new conns/s |');
console.log('|---|---|---|---|---|');
for (const [k, v] of Object.entries(results)) {
  if (v.skipped) console.log(`| ${k} | skipped: ${v.skipped} | | | |`);
  else console.log(`| ${k} | ${f(v.gbps)} | ${f(v.p50us, 0)} | ${f(v.p99us, 0)} | ${f(v.connsPerSec, 0)} |`);
}
const ours = results['tsnet-wireguard'], wgo = results['wireguard-go-linux-tcp'];
if (ours && wgo?.gbps) console.log(`\ntsnet / wireguard-go throughput: ${(ours.gbps / wgo.gbps).toFixed(2)}x`);
const derp = results['tsnet-server-derp'];
if (derp?.gbps && ours?.gbps) console.log(`tsnet through DERP / direct: ${(derp.gbps / ours.gbps).toFixed(2)}x`);
if (ours && results['node-tcp-loopback']) console.log(`tsnet / plain Node TCP throughput: ${(ours.gbps / results['node-tcp-loopback'].gbps).toFixed(2)}x`);
if (!want('memory')) { /* not asked for */ } else if (mem.error) console.log(`memory: failed: ${mem.error}`);
else console.log(`memory: ${f(mem.perDeviceKiB, 0)} KiB RSS per idle device (${mem.devices} devices), ${f(mem.perConnectionPairKiB, 1)} KiB RSS per open connection pair (${mem.connections})`);
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
fs.writeFileSync(path.join(here, 'results', 'latest.json'), JSON.stringify({ date: new Date().toISOString(), bytes: BYTES, results, mem }, null, 2));
