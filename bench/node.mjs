// A benchmark node in its own process: a tsnet WireGuard device (argv[2] = options JSON, "plain" for the
// kernel-TCP baseline, {"server": {...}} for a tsnet Server) that answers line commands on stdin with JSON lines on stdout.
//   (unless ROLE=client)
//   sink      listens on 5001: counts bytes until EOF, then writes the count back
//   echo      listens on 5002: echoes
//   {"op":"send","host","bytes","streams"?}  `streams` (default 1) parallel streams of `bytes` each to host:5001;
//                                      reply { seconds, bytes } (bytes: all streams together)
//   {"op":"pingpong","host","count"}   1-byte round trips to host:5002; reply { p50us, p99us }
//                                      (with "trace": true also samples: [[start, µs]...], start in epoch ms)
//   {"op":"gclog"}                     with BENCH_TRACE=1: GC pauses since the last call, [[start, ms, kind]...]
//   {"op":"connrate","host","seconds"} connect+close loop to host:5002; reply { perSecond }
//   {"op":"sinkstats"}                 the last sink stream's receive stalls; reply { stalls, stallMs, maxGapMs, gapsMs }
//   {"op":"stream","host"}             starts one endless stream to host:5001 (bench/loss.mjs); reply once connected
//   {"op":"unstream"}                  ends it
//   {"op":"count"}                     bytes the sink has received so far, over all connections; reply { bytes }
//   {"op":"rss"}                       { rssKiB }: this process's resident set now
//   {"op":"cpu"}                       { seconds }: CPU time this process has used, all threads (user + system)
//   {"op":"tcpstats"}                  the process's TCP loss recovery counters (docs/tcp.md), if the addon has them
import * as net from 'node:net';
import * as readline from 'node:readline';
import { Server, WireGuard, loadNative } from '../dist/index.js';

const arg = process.argv[2] ?? 'plain';
let iface;
let upMs; // how long Server.up() took (Server nodes only), in the ready line as Go's bench node reports it
if (arg.startsWith('{"server"')) {
  // A tsnet Server on a development tailnet: {"server": {controlURL, authKey, hostname, alwaysUseDERP}}.
  const o = JSON.parse(arg).server;
  const srv = new Server({ ...o, ephemeral: true });
  const t0 = performance.now();
  await srv.up();
  upMs = performance.now() - t0;
  // The client dials its peer by name: wait until control has told it about one.
  while (process.env.ROLE === 'client' && !(srv.status()?.peers.length)) await new Promise((r) => setTimeout(r, 20));
  iface = { listen: (n, a) => srv.listen(n, a), connect: (n, a) => srv.connect(n, a), port: undefined, wg: srv };
} else if (arg === 'plain') {
  iface = {
    listen: (_n, addr) => net.createServer().listen(Number(addr.split(':').pop()), process.env.BIND ?? '127.0.0.1'),
    connect: (_n, addr) => { const [h, p] = addr.split(':'); return net.connect(Number(p), h); },
    port: undefined,
  };
} else {
  const wg = new WireGuard(JSON.parse(arg));
  await wg.start();
  iface = { listen: (n, a) => wg.listen(n, a), connect: (n, a) => wg.connect(n, a), port: wg.listenPort, wg };
}

// BENCH_TRACE=1: this process's GC pauses, for bench/rtt-trace.mjs to set beside slow round trips.
const gcLog = [];
if (process.env.BENCH_TRACE) {
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) gcLog.push([performance.timeOrigin + e.startTime, e.duration, e.detail?.kind ?? e.kind]);
  }).observe({ entryTypes: ['gc'] });
}

let sinkBytes = 0;
let stream;
if (process.env.ROLE !== 'client') {
  const sink = iface.listen('tcp', ':5001');
  sink.on('connection', (s) => {
    let n = 0;
    s.on('error', () => {});
    const g = (lastSink = { last: 0, stalls: 0, stallMs: 0, maxGapMs: 0, gapsMs: [] });
    s.on('data', (d) => {
      n += d.length;
      sinkBytes += d.length;
      const now = performance.now();
      if (g.last) noteGap(g, now - g.last);
      g.last = now;
    });
    s.on('end', () => s.end(String(n)));
  });
  const echo = iface.listen('tcp', ':5002');
  echo.on('connection', (s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
  // Kernel listeners bind asynchronously: announce readiness only once both accept connections.
  for (const l of [sink, echo]) if (!l.listening) await new Promise((r) => l.once('listening', r));
}

// The last sink stream's receive gaps: a gap of 50 ms or more is a stall (a retransmission timeout; lwIP's
// shortest is 100 ms, lwipopts.h), reported by {"op":"sinkstats"} so relayed runs can show what loss cost.
function noteGap(g, ms) {
  if (ms >= 50) { g.stalls++; g.stallMs += ms; if (g.gapsMs.length < 100) g.gapsMs.push(Math.round(ms)); }
  if (ms > g.maxGapMs) g.maxGapMs = ms;
}
let lastSink = null;

const connected = (s) => new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
out({ ready: true, port: iface.port, upMs, rssKiB: process.memoryUsage().rss / 1024 });

// One stream of `bytes` on a connected socket s to host's sink; the sink's count must match.
async function sendOne(s, bytes) {
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const t0 = process.hrtime.bigint();
  let sent = 0;
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
      resolve();
    };
    pump();
  });
  let reply = '';
  s.on('data', (d) => { reply += d; });
  await new Promise((r) => s.once('end', r));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (Number(reply) !== sent) throw new Error(`sink counted ${reply}, sent ${sent}`);
  s.destroy();
  return { seconds, bytes: sent };
}
async function dialed(host) {
  const s = iface.connect('tcp', `${host}:5001`);
  await connected(s);
  return s;
}
const ops = {
  async send({ host, bytes, streams = 1 }) {
    if (streams === 1) return sendOne(await dialed(host), bytes);
    const socks = await Promise.all(Array.from({ length: streams }, () => dialed(host)));
    const t0 = process.hrtime.bigint();
    const done = await Promise.all(socks.map((s) => sendOne(s, bytes)));
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes: done.reduce((n, d) => n + d.bytes, 0) };
  },
  async rss() {
    return { rssKiB: process.memoryUsage().rss / 1024 };
  },
  async cpu() {
    const u = process.cpuUsage();
    return { seconds: (u.user + u.system) / 1e6 };
  },
  async pingpong({ host, count, trace }) {
    const s = iface.connect('tcp', `${host}:5002`);
    await connected(s);
    s.setNoDelay(true);
    const times = [];
    const starts = trace ? [] : undefined;
    const one = Buffer.from([1]);
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      if (starts) starts.push(performance.timeOrigin + performance.now());
      const got = new Promise((r) => s.once('data', r));
      s.write(one);
      await got;
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    s.destroy();
    const samples = starts?.map((t, i) => [t, times[i]]);
    times.sort((a, b) => a - b);
    return { p50us: times[Math.floor(times.length * 0.5)], p99us: times[Math.floor(times.length * 0.99)], samples };
  },
  async gclog() {
    return { gc: gcLog.splice(0) };
  },
  async connrate({ host, seconds }) {
    const end = Date.now() + seconds * 1000;
    let n = 0;
    while (Date.now() < end) {
      const s = iface.connect('tcp', `${host}:5002`);
      await connected(s);
      s.destroy();
      n++;
    }
    return { perSecond: n / seconds };
  },
  async sinkstats() {
    if (!lastSink) throw new Error('no sink stream yet');
    return { stalls: lastSink.stalls, stallMs: lastSink.stallMs, maxGapMs: lastSink.maxGapMs, gapsMs: lastSink.gapsMs };
  },
  async stream({ host }) {
    const s = iface.connect('tcp', `${host}:5001`);
    await connected(s);
    s.on('error', () => {});
    const chunk = Buffer.alloc(256 * 1024, 0x5a);
    stream = s;
    const pump = () => { while (stream === s && s.write(chunk)); if (stream === s) s.once('drain', pump); };
    pump();
    return { streaming: true };
  },
  async unstream() {
    stream?.destroy();
    stream = undefined;
    return {};
  },
  async count() {
    return { bytes: sinkBytes };
  },
  async tcpstats() {
    return { tcp: loadNative().tcpRecoveryStats?.() ?? null };
  },
  async exit() {
    await iface.wg?.close();
    setImmediate(() => process.exit(0));
    return {};
  },
};

for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  try {
    out(await ops[cmd.op](cmd));
  } catch (err) {
    out({ error: String(err?.stack ?? err) });
  }
}
