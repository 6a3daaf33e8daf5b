// node bench/bridge.mjs: the two transports between the engine and JavaScript (docs/architecture.md, "The
// bridge to JavaScript") side by side, in one run: fd (a socketpair per connection) and stream (no
// descriptor; bytes in engine events and Device calls). Two devices joined by the in-process memory link,
// so the rows measure the bridge and the TCP stack, not WireGuard. Each row runs in its own process
// (TSNET_BRIDGE is per process); rounds alternate the transports.
//   throughput   one TCP stream, BRIDGE_MB MiB (default 256) written in 64 KiB chunks, read and dropped
//   rtt          1-byte request/response round trips (BRIDGE_PINGS, default 2000), median and p99
//   fds          file descriptors per open connection with N = 1000 and 5000 connections (both ends in
//                this process: a connection is a dialed and an accepted socket)
// Knobs: BRIDGE_ROUNDS (default 2), BRIDGE_ENGINE (inline|thread, default: the addon's default),
// BRIDGE_CONNS (default "1000,5000").
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(import.meta.url);

if (process.argv[2] === '--child') {
  const [, , , what, arg] = process.argv;
  const { Netstack } = require(path.join(here, '..', 'dist', 'net', 'netstack.js'));
  const a = new Netstack();
  const b = new Netstack();
  a.addAddress('100.64.0.1');
  b.addAddress('100.64.0.2');
  a.device.linkMemory(b.device);
  const fdCount = () => fs.readdirSync('/proc/self/fd').length;
  const out = { bridge: null };
  if (what === 'throughput') {
    const bytes = Number(arg) * 1024 * 1024;
    const ln = b.listen('tcp', ':5001');
    const done = new Promise((resolve) => ln.on('connection', (s) => {
      let got = 0;
      s.on('data', (c) => { got += c.length; if (got >= bytes) resolve(); });
    }));
    const s = await a.dial('tcp', '100.64.0.2:5001');
    out.bridge = s.bridge;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const t0 = process.hrtime.bigint();
    let sent = 0;
    const pump = () => { while (sent < bytes) { sent += chunk.length; if (!s.write(chunk)) { s.once('drain', pump); return; } } };
    pump();
    await done;
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    out.mbitps = Math.round((bytes * 8) / sec / 1e6);
    s.destroy();
  } else if (what === 'rtt') {
    const n = Number(arg);
    const ln = b.listen('tcp', ':5002');
    ln.on('connection', (s) => { s.setNoDelay(true); s.on('data', (c) => s.write(c)); });
    const s = await a.dial('tcp', '100.64.0.2:5002');
    s.setNoDelay(true);
    out.bridge = s.bridge;
    const times = [];
    const one = Buffer.from([1]);
    for (let i = 0; i < n + 100; i++) {
      const t0 = process.hrtime.bigint();
      s.write(one);
      await once(s, 'data');
      if (i >= 100) times.push(Number(process.hrtime.bigint() - t0) / 1e3); // the first 100 warm up
    }
    times.sort((x, y) => x - y);
    out.rttMedianUs = Math.round(times[times.length >> 1]);
    out.rttP99Us = Math.round(times[Math.floor(times.length * 0.99)]);
    s.destroy();
  } else if (what === 'fds') {
    const n = Number(arg);
    const ln = b.listen('tcp', ':5003', { backlog: n });
    const accepted = [];
    ln.on('connection', (s) => { s.on('error', () => {}); accepted.push(s); });
    const before = fdCount();
    const t0 = process.hrtime.bigint();
    const socks = [];
    try {
      for (let i = 0; i < n; i += 500) {
        const batch = [];
        for (let k = i; k < Math.min(n, i + 500); k++) {
          const s = a.connect('tcp', '100.64.0.2:5003');
          batch.push(new Promise((resolve, reject) => { s.on('error', reject); s.once('connect', () => resolve(s)); }));
        }
        socks.push(...(await Promise.all(batch)));
        if (accepted.length + 500 < socks.length) throw Object.assign(new Error('accepts failed'), { code: 'ECONNRESET' });
      }
    } catch (err) {
      // The fd transport runs out of descriptors first (4 per connection with both ends here: RLIMIT_NOFILE).
      const limit = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
      console.log(JSON.stringify({ bridge: process.env.TSNET_BRIDGE, failed: `${err.code} after ${socks.length} connections, RLIMIT_NOFILE ${limit}`, fdsPerConn: Number(((fdCount() - before) / Math.max(1, socks.length)).toFixed(2)) }));
      process.exit(0);
    }
    while (accepted.length < n) {
      const r = await Promise.race([once(ln, 'connection'), new Promise((resolve) => setImmediate(resolve, 'idle'))]);
      if (r === 'idle' && socks.some((s) => s.destroyed)) {
        console.log(JSON.stringify({ bridge: process.env.TSNET_BRIDGE, failed: `accepts failed: ${accepted.length} of ${n} (RLIMIT_NOFILE)`, fdsPerConn: Number(((fdCount() - before) / Math.max(1, accepted.length)).toFixed(2)) }));
        process.exit(0);
      }
    }
    out.bridge = socks[0].bridge;
    out.connectMs = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
    out.fdsPerConn = Number(((fdCount() - before) / n).toFixed(2));
    out.rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    for (const s of socks) s.destroy();
  }
  a.close();
  b.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}

const ROUNDS = Number(process.env.BRIDGE_ROUNDS ?? 2);
const MB = Number(process.env.BRIDGE_MB ?? 256);
const PINGS = Number(process.env.BRIDGE_PINGS ?? 2000);
const CONNS = (process.env.BRIDGE_CONNS ?? '1000,5000').split(',').map(Number);
const rows = [['throughput', MB], ['rtt', PINGS], ...CONNS.map((n) => ['fds', n])];
const results = {};
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 ? ['stream', 'fd'] : ['fd', 'stream'];
  for (const [what, arg] of rows) {
    for (const mode of order) {
      const env = { ...process.env, TSNET_BRIDGE: mode };
      if (process.env.BRIDGE_ENGINE) env.TSNET_ENGINE = process.env.BRIDGE_ENGINE;
      const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', what, String(arg)], { env, encoding: 'utf8', timeout: 300_000 });
      const line = r.stdout.trim().split('\n').pop();
      let o;
      try { o = JSON.parse(line); } catch { o = { error: (r.stderr || r.stdout || '').slice(-300) }; }
      const key = `${what}${what === 'fds' ? ` N=${arg}` : ''} ${mode}`;
      (results[key] ??= []).push(o);
      console.error(`round ${round + 1} ${key}: ${JSON.stringify(o)}`);
    }
  }
}
console.log(`engine: ${process.env.BRIDGE_ENGINE ?? 'default'}, node ${process.versions.node}, ${ROUNDS} rounds`);
for (const [key, list] of Object.entries(results)) {
  const pick = (f) => list.map((o) => o[f]).filter((v) => v !== undefined).join(' / ');
  const fields = ['mbitps', 'rttMedianUs', 'rttP99Us', 'fdsPerConn', 'connectMs', 'rssMiB', 'failed', 'error'].filter((f) => list.some((o) => o[f] !== undefined));
  console.log(`${key.padEnd(20)} ${fields.map((f) => `${f} ${pick(f)}`).join('  ')}`);
}
