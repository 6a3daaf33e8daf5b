// TCP under packet loss and reordering (issue 11), run by root: `sudo node bench/loss.mjs` after `npm run build`.
// Two network namespaces joined by a veth pair; the script creates and removes them. Loss is an nftables rule
// at each namespace's veth ingress (`numgen random mod 100 < N drop`, both directions, TCP and UDP alike);
// reordering is test/netns/reorder-proxy.mjs on the WireGuard path (this kernel has no netem). Rows:
//   ours        two WireGuard-mode nodes (bench/node.mjs), one TCP stream through the tunnel
//   linux-tcp   iperf3 over the veth (loss rows) or over wireguard-go through the same proxy (reorder rows)
// Each number is MB/s over LOSS_SECONDS (default 6) of one stream; "slowdown" is the same path's clean rate
// divided by it. LOSS_ONLY=ours or =linux runs one side; LOSS_CASES picks cases (comma-separated names).
// LOSS_STOCK=<another checkout, built, with this bench/node.mjs copied in> adds its nodes as a "stock" row
// (e.g. main before the loss recovery patch), measured in the same run.
import { Proc, children, keypair } from './proc.mjs';
import { spawn, execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';

const here = path.dirname(new URL(import.meta.url).pathname);
const SECONDS = Number(process.env.LOSS_SECONDS ?? 6);
const only = process.env.LOSS_ONLY;
const t = String(process.pid % 100000);
const nsA = `tsl${t}a`, nsB = `tsl${t}b`, vA = `vl${t}a`, vB = `vl${t}b`;
const ADDR_A = '10.216.0.1', ADDR_B = '10.216.0.2';
const WG_PORT = 41641, PROXY_PORT = 41700;
const sh = (...a) => execFileSync(a[0], a.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const inNs = (ns, ...a) => sh('ip', 'netns', 'exec', ns, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) { console.error('bench/loss.mjs: run as root (network namespaces)'); process.exit(2); }

const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  for (const ns of [nsA, nsB]) { try { sh('ip', 'netns', 'del', ns); } catch { /* not there */ } }
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

// A bench process inside a namespace.
const procIn = (ns, cmd, args, env) => new Proc('ip', ['netns', 'exec', ns, cmd, ...args], env);


// Packets seen and dropped by the loss rules since they were last set (LOSS_DEBUG prints them per case).
function lossCounters() {
  let seen = 0, dropped = 0;
  for (const ns of [nsA, nsB]) {
    try {
      const c = [...inNs(ns, 'nft', 'list', 'table', 'inet', 'tsnet_loss').matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      seen += c[0] ?? 0; dropped += c[1] ?? 0;
    } catch { /* no rules */ }
  }
  return { seen, dropped };
}

function setLoss(pct) {
  for (const [ns, dev] of [[nsA, vA], [nsB, vB]]) {
    try { inNs(ns, 'nft', 'delete', 'table', 'inet', 'tsnet_loss'); } catch { /* none yet */ }
    if (pct > 0) {
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: `
        table inet tsnet_loss {
          chain input {
            type filter hook input priority filter; policy accept;
            iifname "${dev}" meta l4proto { tcp, udp } counter
            iifname "${dev}" meta l4proto { tcp, udp } numgen random mod 100 < ${pct} counter drop
          }
        }` });
    }
  }
}

const CASES = [
  { name: '0%', path: 'direct', loss: 0 },
  { name: '1% loss', path: 'direct', loss: 1 },
  { name: '5% loss', path: 'direct', loss: 5 },
  { name: 'proxy, clean', path: 'proxy', loss: 0, fraction: 0 },
  { name: '1% loss, relay', path: 'proxy', loss: 1, fraction: 0 },
  { name: '5% loss, relay', path: 'proxy', loss: 5, fraction: 0 },
  { name: '10% reorder +5 ms', path: 'proxy', loss: 0, fraction: 0.1, delayMs: 5 },
  { name: '5% loss + 10% reorder', path: 'proxy', loss: 5, fraction: 0.1, delayMs: 5 },
].filter((c) => !process.env.LOSS_CASES || process.env.LOSS_CASES.split(',').includes(c.name) || c.fraction === 0 || c.name === '0%');

// ---- namespaces
cleanup();
sh('ip', 'netns', 'add', nsA); sh('ip', 'netns', 'add', nsB);
sh('ip', 'link', 'add', vA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vB, 'netns', nsB);
sh('ip', '-n', nsA, 'addr', 'add', `${ADDR_A}/24`, 'dev', vA);
sh('ip', '-n', nsB, 'addr', 'add', `${ADDR_B}/24`, 'dev', vB);
// gso_max_segs 1: the senders' GSO batches (our UDP_SEGMENT sends, Linux TCP's TSO) are cut into single
// packets before the veth, so the drop rule sees, and drops, individual packets rather than whole bursts.
for (const [ns, dev] of [[nsA, vA], [nsB, vB]]) {
  sh('ip', '-n', ns, 'link', 'set', dev, 'gso_max_segs', '1');
  sh('ip', '-n', ns, 'link', 'set', 'lo', 'up'); sh('ip', '-n', ns, 'link', 'set', dev, 'up');
}

const proxy = procIn(nsA, process.execPath, [path.join(here, '..', 'test', 'netns', 'reorder-proxy.mjs'), `127.0.0.1:${PROXY_PORT}`, `${ADDR_B}:${WG_PORT}`, ADDR_A]);
await proxy.next();
const results = []; // { side, name, mbps }

// A fresh pair of nodes for every case: a stream ended by destroy() may still be flushing its buffer.
async function runOurs(pathName, cases, side = 'ours', benchDir = here) {
  for (const c of cases) {
    const ka = keypair(), kb = keypair();
    const b = procIn(nsB, process.execPath, [path.join(benchDir, 'node.mjs'), JSON.stringify({ privateKey: kb.priv, address: ['10.66.0.2/32'],
      listenPort: WG_PORT, peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] })]);
    await b.next();
    const endpoint = pathName === 'direct' ? `${ADDR_B}:${WG_PORT}` : `127.0.0.1:${PROXY_PORT}`;
    const a = procIn(nsA, process.execPath, [path.join(benchDir, 'node.mjs'), JSON.stringify({ privateKey: ka.priv, address: ['10.66.0.1/32'],
      listenPort: 0, peers: [{ publicKey: kb.pub, endpoint, allowedIPs: ['10.66.0.2/32'] }] })], { ROLE: 'client' });
    await a.next();
    try {
      setLoss(0);
      await proxy.call({ op: 'set', fraction: c.fraction ?? 0, delayMs: c.delayMs ?? 0 });
      await a.call({ op: 'stream', host: '10.66.0.2' }); // connects without loss (handshake and SYN)
      setLoss(c.loss);
      const c0 = (await b.call({ op: 'count' })).bytes;
      await sleep(SECONDS * 1000);
      const c1 = (await b.call({ op: 'count' })).bytes;
      if (process.env.LOSS_DEBUG) console.error('loss rules:', JSON.stringify(lossCounters()), 'sender:', JSON.stringify((await a.call({ op: 'tcpstats' })).tcp));
      setLoss(0);
      const udpErr = (ns) => { const l = inNs(ns, 'cat', '/proc/net/snmp').split('\n').filter((x) => x.startsWith('Udp:')); const k = l[0].split(/\s+/), v = l[1].split(/\s+/); return `rcvbuf=${v[k.indexOf('RcvbufErrors')]} sndbuf=${v[k.indexOf('SndbufErrors')]}`; };
      if (process.env.LOSS_DEBUG) console.error(`udp errors: a ${udpErr(nsA)}, b ${udpErr(nsB)}`);
      results.push({ side, name: c.name, mbps: (c1 - c0) / SECONDS / 1e6 });
      console.error(`${side} ${c.name}: ${((c1 - c0) / SECONDS / 1e6).toFixed(2)} MB/s`);
    } finally {
      await a.stop(); await b.stop();
    }
  }
}

async function iperf(host, c) {
  setLoss(0);
  await proxy.call({ op: 'set', fraction: c.fraction ?? 0, delayMs: c.delayMs ?? 0 });
  setLoss(c.loss); // iperf3's control connection is set up before data flows; loss starts with it (see docs)
  const cli = spawn('ip', ['netns', 'exec', nsA, 'iperf3', '-c', host, '-t', String(SECONDS), '-J'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(cli);
  let out = '';
  cli.stdout.on('data', (d) => { out += d; });
  await new Promise((r) => cli.once('exit', r));
  if (process.env.LOSS_DEBUG) console.error('loss rules:', JSON.stringify(lossCounters()));
  setLoss(0);
  const j = JSON.parse(out);
  return j.end.sum_received.bytes / j.end.sum_received.seconds / 1e6;
}

async function runLinux(pathName, cases) {
  let host = ADDR_B, bindB = ADDR_B;
  const procs = [];
  if (pathName === 'proxy') {
    const ka = keypair(), kb = keypair();
    const env = { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
    for (const [ns, ifc, k, peer, mine, theirs, ep, port] of [
      [nsA, `wl${t}a`, ka, kb, '10.98.9.1', '10.98.9.2', `127.0.0.1:${PROXY_PORT}`, '51820'],
      [nsB, `wl${t}b`, kb, ka, '10.98.9.2', '10.98.9.1', null, String(WG_PORT)]]) {
      const p = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifc], { stdio: 'ignore', env });
      children.add(p); procs.push(p);
      for (let i = 0; i < 100 && !fs.existsSync(`/var/run/wireguard/${ifc}.sock`); i++) await sleep(50);
      const kf = `/tmp/${ifc}.key`;
      fs.writeFileSync(kf, k.priv + '\n', { mode: 0o600 });
      inNs(ns, 'wg', 'set', ifc, 'private-key', kf, 'listen-port', port, 'peer', peer.pub, 'allowed-ips', `${theirs}/32`, ...(ep ? ['endpoint', ep] : []));
      fs.rmSync(kf);
      sh('ip', '-n', ns, 'addr', 'add', `${mine}/24`, 'dev', ifc);
      sh('ip', '-n', ns, 'link', 'set', ifc, 'up');
    }
    host = bindB = '10.98.9.2';
    inNs(nsA, 'ping', '-c', '3', '-i', '0.2', '-W', '5', host); // handshake before the clock starts
  }
  const srv = procIn(nsB, 'iperf3', ['-s', '-B', bindB]);
  procs.push(srv.p);
  for (let i = 0; i < 100 && !inNs(nsB, 'ss', '-ltnH', 'sport = 5201').trim(); i++) await sleep(50);
  try {
    for (const c of cases) {
      const mbps = await iperf(host, c);
      results.push({ side: 'linux', name: c.name, mbps });
      console.error(`linux ${c.name}: ${mbps.toFixed(2)} MB/s`);
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

for (const p of ['direct', 'proxy']) {
  const cs = CASES.filter((c) => c.path === p);
  if (!cs.length) continue;
  if (only !== 'linux') await runOurs(p, cs);
  if (only !== 'linux' && process.env.LOSS_STOCK) await runOurs(p, cs, 'stock', path.join(process.env.LOSS_STOCK, 'bench'));
  if (only !== 'ours') await runLinux(p, cs);
}
await proxy.stop();

const base = (side, c) => results.find((r) => r.side === side && r.name === (c.path === 'direct' ? '0%' : 'proxy, clean'))?.mbps;
console.log(`\ntsnet loss bench  ${new Date().toISOString()}  ${SECONDS} s per case, ${process.version}\n`);
const stock = process.env.LOSS_STOCK;
console.log(`| case | path | ours MB/s | ours slowdown | Linux TCP MB/s | Linux slowdown | ours/Linux slowdown |${stock ? ' stock MB/s | stock slowdown |' : ''}`);
console.log(`|---|---|---|---|---|---|---|${stock ? '---|---|' : ''}`);
const f = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
for (const c of CASES) {
  const o = results.find((r) => r.side === 'ours' && r.name === c.name)?.mbps;
  const l = results.find((r) => r.side === 'linux' && r.name === c.name)?.mbps;
  const so = o ? base('ours', c) / o : undefined, sl = l ? base('linux', c) / l : undefined;
  const st = results.find((r) => r.side === 'stock' && r.name === c.name)?.mbps;
  const sst = st ? base('stock', c) / st : undefined;
  console.log(`| ${c.name} | ${c.path === 'direct' ? 'veth' : 'reorder proxy, WireGuard'} | ${f(o)} | ${f(so, 1)}x | ${f(l)} | ${f(sl, 1)}x | ${f(so && sl ? so / sl : undefined, 1)} |${stock ? ` ${f(st)} | ${f(sst, 1)}x |` : ''}`);
}
fs.mkdirSync(path.join(here, 'results'), { recursive: true });
fs.writeFileSync(path.join(here, 'results', 'loss.json'), JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, results }, null, 2));
