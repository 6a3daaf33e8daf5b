// node bench/ab-derper.mjs TREE [TREE...|go]: the relayed path through Tailscale's own DERP server (the
// `tsinterop derper` of scripts/interop.sh, tailscale.com/derp/derpserver v1.102.5) for each built checkout
// TREE (its bench/node.mjs and dist/; TREE@thread: the engine on its own thread), and "go" for Go tsnet ↔
// Go tsnet, alternating the order each round. Per run: one stream of BENCH_RELAY_BYTES (default 64 MiB)
// between two nodes forced onto DERP; Mbit/s, the CPU seconds per GiB both nodes used and what the derper
// used for it (/proc/<pid>/stat, all threads: on a shared 2-core machine the relay competes with both
// nodes, so both costs matter), packets the derper sent per MiB, the sender's loss recovery counters and
// the receiver's stalls, then BENCH_PINGS (300) 1-byte round trips (p50 / p99). BENCH_ROUNDS (3);
// BENCH_PERF=FILE also samples the three processes with `perf record -g` during each timed stream
// (NODE_EXTRA=--perf-basic-prof names JavaScript frames); BENCH_PERF_EVENTS=EV[,EV] records those events
// instead (e.g. syscalls:sys_enter_sendto: the sizes of the engine's writes towards the relay).
// As root it runs in its own network namespace (bench/netns.mjs). docs/performance.md, "The relayed path
// through derper (issue 17, part 3)".
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import { Proc } from './proc.mjs';
import { inBenchNetns } from './netns.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
inBenchNetns();
const trees = process.argv.slice(2);
if (!trees.length) throw new Error('usage: node bench/ab-derper.mjs TREE|go [TREE|go...]');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BYTES = Number(process.env.BENCH_RELAY_BYTES ?? 64 * 1024 ** 2);
const PINGS = Number(process.env.BENCH_PINGS ?? 300);
const tsinterop = path.join(root, 'build-interop', 'tsinterop');
execFileSync('bash', [path.join(root, 'scripts', 'interop.sh'), 'tsinterop'], { stdio: ['ignore', 'inherit', 'inherit'] });

// utime + stime in clock ticks (100 per second on Linux), all threads.
const ticks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};

const derper = new Proc(tsinterop, ['derper', JSON.stringify({ host: '127.0.0.1' })]);
const d = await derper.next('ready');
// BENCH_PIN=D/N: the derper on CPU list D and both nodes on N (`taskset -a -p`, all threads), e.g. 0/1.
const [pinDerper, pinNodes] = (process.env.BENCH_PIN ?? '').split('/');
const pin = (pid, cpus) => { if (cpus) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }); };
pin(derper.p.pid, pinDerper);
// BENCH_DELAY_MS=N: the nodes reach the derper through a loopback proxy that holds every chunk N ms each
// way, so a round trip through the relay gains 4N ms (a distant relay; tc's netem is not on every kernel).
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 0);
let derpPort = d.derpPort;
if (DELAY_MS > 0) {
  const srv = net.createServer((c) => {
    const u = net.connect(d.derpPort, '127.0.0.1');
    const end = () => { c.destroy(); u.destroy(); };
    for (const [from, to] of [[c, u], [u, c]]) {
      from.on('data', (b) => setTimeout(() => to.write(b), DELAY_MS));
      from.on('error', end);
      from.on('close', () => setTimeout(end, DELAY_MS));
    }
  });
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  srv.unref();
  derpPort = srv.address().port;
}
const derpMap = { Regions: { 901: { RegionID: 901, RegionCode: 'derper', RegionName: 'derpserver (loopback)', Nodes: [
  { Name: '901a', RegionID: 901, HostName: '127.0.0.1', IPv4: '127.0.0.1', IPv6: 'none', DERPPort: derpPort, STUNPort: d.stunPort, InsecureForTests: true },
] } } };
// BENCH_DEVNET_RELAY=1: through our devnet's own relay (its default 256-packet queue per client) instead;
// the "derper" columns are then the devnet process and its relay's counters.
const ownRelay = Boolean(process.env.BENCH_DEVNET_RELAY);
const dnp = new Proc(process.execPath, [path.join(here, 'devnet.mjs'), ...(ownRelay ? [] : [JSON.stringify({ derpMap })])]);
const dn = await dnp.next('ready');
const relayProc = ownRelay ? dnp : derper;
const relayStats = async () => {
  if (!ownRelay) return derper.call({ op: 'stats' });
  const st = await dnp.call({ op: 'stats' });
  return { packetsSent: st.packetsForwarded ?? 0, dropped: { 'reason="queue_full"': st.packetsDroppedQueueFull ?? 0 } };
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsab-'));

let seq = 0;
function mkNode(tree, client) {
  const hostname = `n-${++seq}`;
  if (tree === 'go') {
    const dir = path.join(tmp, hostname);
    fs.mkdirSync(dir);
    return { hostname, p: new Proc(tsinterop, ['bench', JSON.stringify({ controlURL: dn.controlURL, authKey: dn.authKey, hostname, dir, client, alwaysUseDERP: true })]) };
  }
  const [dir, mode] = tree.split('@'); // TREE@thread: the engine on its own thread (TSNET_ENGINE)
  // TREE@K=V,K=V: environment for both nodes (an experiment's knobs)
  const extra = mode && mode.includes('=') ? Object.fromEntries(mode.split(',').map((kv) => kv.split('='))) : {};
  const env = { ...(client ? { ROLE: 'client' } : {}), ...(mode === 'thread' ? { TSNET_ENGINE: 'thread' } : {}), ...extra };
  const opts = JSON.stringify({ server: { controlURL: dn.controlURL, authKey: dn.authKey, hostname, alwaysUseDERP: true } });
  return { hostname, p: new Proc(process.execPath, [...(process.env.NODE_EXTRA ? process.env.NODE_EXTRA.split(' ') : []), path.join(dir, 'bench', 'node.mjs'), opts], env) };
}

const res = Object.fromEntries(trees.map((t) => [t, { mbps: [], nodeCpu: [], derpCpu: [], p50: [], p99: [], drops: [], rex: [] }]));
const x_ = (t) => res[t];
for (let r = 0; r < ROUNDS; r++) {
  for (const tree of r % 2 ? [...trees].reverse() : trees) {
    const b = mkNode(tree, false);
    await b.p.next('ready');
    const a = mkNode(tree, true);
    await a.p.next('ready');
    pin(a.p.p.pid, pinNodes);
    pin(b.p.p.pid, pinNodes);
    try {
      await a.p.call({ op: 'send', host: b.hostname, bytes: 1024 * 1024 }); // warm-up
      const st0 = await relayStats();
      const pk0 = st0.packetsSent;
      const tcp0 = tree === 'go' ? null : (await a.p.call({ op: 'tcpstats' })).tcp;
      const t0 = [ticks(a.p.p.pid), ticks(b.p.p.pid), ticks(relayProc.p.pid)];
      // BENCH_PERF=FILE: samples the three processes during the timed stream (perf record -g).
      const perf = process.env.BENCH_PERF ? spawn('perf', ['record', ...(process.env.BENCH_PERF_EVENTS ? ['-e', process.env.BENCH_PERF_EVENTS] : ['-g']), '-o', `${process.env.BENCH_PERF}.${path.basename(tree).replace('@', '-')}.${r}`, '-p', [a.p.p.pid, b.p.p.pid, derper.p.pid].join(',')], { stdio: 'ignore' }) : null;
      const one = await a.p.call({ op: 'send', host: b.hostname, bytes: BYTES });
      const t1 = [ticks(a.p.p.pid), ticks(b.p.p.pid), ticks(relayProc.p.pid)];
      if (perf) { perf.kill('SIGINT'); await new Promise((res) => perf.once('exit', res)); }
      const gib = one.bytes / 1024 ** 3;
      const st1 = await relayStats();
      const pk = st1.packetsSent - pk0;
      // derper's drops by reason (queue_head: the receiver's queue was full) and its writer's frames per flush
      const drops = Object.entries(st1.dropped ?? {}).map(([k, v]) => [k.replace(/.*reason="([^"]*)".*/, '$1'), v - (st0.dropped?.[k] ?? 0)]).filter(([, v]) => v > 0);
      const wb = st1.writeBatches && st0.writeBatches ? Object.keys(st1.writeBatches).filter((k) => k !== 'sum' && k !== 'count').map((k) => `${k}:${st1.writeBatches[k] - st0.writeBatches[k]}`).join(' ') : '';
      const dropN = drops.reduce((n, [, v]) => n + v, 0);
      x_(tree).drops.push(dropN);
      const tcp1 = tree === 'go' ? null : (await a.p.call({ op: 'tcpstats' })).tcp;
      if (tcp1 && tcp0) x_(tree).rex.push(tcp1.rackRexmit - tcp0.rackRexmit + tcp1.rto - tcp0.rto);
      const rex = tcp1 && tcp0 ? ` sender rto ${tcp1.rto - tcp0.rto} rack ${tcp1.rackRexmit - tcp0.rackRexmit} tlp ${tcp1.tlp - tcp0.tlp}` : '';
      const sink = await b.p.call({ op: 'sinkstats' }).catch(() => null);
      const pp = PINGS > 0 ? await a.p.call({ op: 'pingpong', host: b.hostname, count: PINGS }) : null;
      if (pp) { x_(tree).p50.push(pp.p50us); x_(tree).p99.push(pp.p99us); }
      const x = res[tree];
      x.mbps.push((one.bytes * 8) / one.seconds / 1e6);
      x.nodeCpu.push((t1[0] - t0[0] + t1[1] - t0[1]) / 100 / gib);
      x.derpCpu.push((t1[2] - t0[2]) / 100 / gib);
      console.error(`round ${r + 1} ${tree}: ${x.mbps.at(-1).toFixed(0)} Mbit/s, nodes ${x.nodeCpu.at(-1).toFixed(1)} s/GiB (a ${((t1[0] - t0[0]) / 100 / gib).toFixed(1)}, b ${((t1[1] - t0[1]) / 100 / gib).toFixed(1)}), derper ${x.derpCpu.at(-1).toFixed(1)} s/GiB, relayed ${(pk / (one.bytes / 1024 ** 2)).toFixed(0)} packets/MiB${rex}, derper drops ${dropN} (${drops.map(([k, v]) => `${k} ${v}`).join(', ')})${process.env.BENCH_WRITE_BATCHES ? `, writer frames per flush ${wb}` : ''}${sink ? `, stalls ${sink.stalls} (${Math.round(sink.stallMs)} ms)` : ''}${pp ? `, 1-byte round trip p50 ${Math.round(pp.p50us)} / p99 ${Math.round(pp.p99us)} µs` : ''}`);
    } finally {
      await a.p.stop();
      await b.p.stop();
    }
  }
}
dnp.p.stdin.end();
await derper.stop();
fs.rmSync(tmp, { recursive: true, force: true });
const med = (xs) => [...xs].sort((p, q) => p - q)[Math.floor((xs.length - 1) / 2)];
for (const t of trees) {
  const x = res[t];
  console.log(`${t}: median ${med(x.mbps).toFixed(0)} Mbit/s, nodes ${med(x.nodeCpu).toFixed(1)} s/GiB, derper ${med(x.derpCpu).toFixed(1)} s/GiB, derper drops ${med(x.drops)}${x.rex.length ? `, retransmits ${med(x.rex)}` : ''}${x.p50.length ? `, round trip p50 ${Math.round(med(x.p50))} / p99 ${Math.round(med(x.p99))} µs` : ''}  [${x.mbps.map((v) => v.toFixed(0)).join(' ')}]`);
}
process.exit(0);
