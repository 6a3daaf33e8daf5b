// node bench/ab-direct.mjs TREE [TREE...]: the direct path (two WireGuard-mode processes over loopback UDP,
// engine inline unless a TREE ends in "@thread"; "@stream" sets TSNET_BRIDGE=stream, "@thread+stream" both)
// for each built checkout TREE (npm run build in each), alternating the trees' order each round. Per run:
// one stream and 8 parallel streams of BENCH_BYTES (default 512 MiB) in all, Gbit/s and the CPU seconds per
// GB both processes used (/proc/<pid>/stat), the measure a shared machine's load moves least.
// BENCH_ROUNDS (3), BENCH_STREAMS ("1,8").
// docs/performance.md, "The direct path per byte".
import * as path from 'node:path';
import * as readline from 'node:readline';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Proc, keypair } from './proc.mjs';

const self = new URL(import.meta.url).pathname;

if (process.argv[2] === '--child') {
  // A node of one tree: argv tree, options JSON; ROLE=client dials, otherwise a sink on :5001 that answers
  // the byte count at EOF.
  const [tree, opts] = process.argv.slice(3);
  const { WireGuard } = await import(pathToFileURL(path.join(tree, 'dist/index.js')).href);
  const wg = new WireGuard(JSON.parse(opts));
  await wg.start();
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
  if (process.env.ROLE !== 'client') {
    const sink = wg.listen('tcp', ':5001');
    sink.on('connection', (s) => {
      let n = 0;
      s.on('error', () => {});
      s.on('data', (d) => { n += d.length; });
      s.on('end', () => s.end(String(n)));
    });
    if (!sink.listening) await new Promise((r) => sink.once('listening', r));
  }
  out({ ready: true, port: wg.listenPort });
  const one = async (host, bytes) => {
    const s = wg.connect('tcp', `${host}:5001`);
    await new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); });
    const chunk = Buffer.alloc(256 * 1024, 0x5a);
    let sent = 0;
    await new Promise((resolve) => {
      const pump = () => {
        while (sent < bytes) { sent += chunk.length; if (!s.write(chunk)) return void s.once('drain', pump); }
        s.end();
        resolve();
      };
      pump();
    });
    let reply = '';
    s.on('data', (d) => { reply += d; });
    await new Promise((r) => s.once('end', r));
    if (Number(reply) !== sent) throw new Error(`sink counted ${reply}, sent ${sent}`);
    s.destroy();
    return sent;
  };
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const c = JSON.parse(line);
    if (c.op === 'exit') { await wg.close(); process.exit(0); }
    try {
      const t0 = process.hrtime.bigint();
      const parts = await Promise.all(Array.from({ length: c.streams }, () => one(c.host, Math.floor(c.bytes / c.streams))));
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      out({ bytes: parts.reduce((a, b) => a + b, 0), seconds });
    } catch (err) {
      out({ error: String(err?.stack ?? err) });
    }
  }
} else {
  const trees = process.argv.slice(2);
  if (!trees.length) throw new Error('usage: node bench/ab-direct.mjs TREE[@thread] [TREE[@thread]...]');
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
  const BYTES = Number(process.env.BENCH_BYTES ?? 512 * 1024 ** 2);
  const STREAMS = (process.env.BENCH_STREAMS ?? '1,8').split(',').map(Number);
  // utime + stime in clock ticks (100 per second on Linux), all threads.
  const ticks = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const gbps = {}, cpu = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const tt of r % 2 ? [...trees].reverse() : trees) {
      const [tree, mode] = tt.split('@');
      const env = {};
      for (const m of (mode ?? '').split('+')) {
        if (m === 'thread') env.TSNET_ENGINE = 'thread';
        else if (m === 'stream' || m === 'fd') env.TSNET_BRIDGE = m;
        else if (m) throw new Error(`unknown mode ${m} (thread, stream, fd; joined with +)`);
      }
      const ka = keypair(), kb = keypair();
      const b = new Proc(process.execPath, [self, '--child', path.resolve(tree), JSON.stringify({ privateKey: kb.priv,
        address: ['10.66.0.2/32'], listenPort: 0, peers: [{ publicKey: ka.pub, allowedIPs: ['10.66.0.1/32'] }] })], env);
      const hb = await b.next();
      const a = new Proc(process.execPath, [self, '--child', path.resolve(tree), JSON.stringify({ privateKey: ka.priv,
        address: ['10.66.0.1/32'], listenPort: 0,
        peers: [{ publicKey: kb.pub, endpoint: `127.0.0.1:${hb.port}`, allowedIPs: ['10.66.0.2/32'] }] })], { ...env, ROLE: 'client' });
      await a.next();
      for (const streams of STREAMS) {
        const c0 = ticks(a.p.pid) + ticks(b.p.pid);
        const res = await a.call({ op: 'send', host: '10.66.0.2', bytes: BYTES, streams });
        const c1 = ticks(a.p.pid) + ticks(b.p.pid);
        const key = `${tt} x${streams}`;
        (gbps[key] ??= []).push((res.bytes * 8) / res.seconds / 1e9);
        (cpu[key] ??= []).push((c1 - c0) / 100 / (res.bytes / 1e9));
        console.log(`round ${r + 1} ${key}: ${gbps[key].at(-1).toFixed(2)} Gbit/s, ${cpu[key].at(-1).toFixed(2)} CPU-s/GB`);
      }
      await Promise.all([a.stop(), b.stop()]);
    }
  }
  const med = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  const f = (v) => v.map((x) => x.toFixed(2)).join(' ');
  for (const key of Object.keys(gbps)) {
    console.log(`${key}: ${med(gbps[key]).toFixed(2)} Gbit/s (${f(gbps[key])}), ${med(cpu[key]).toFixed(2)} CPU-s/GB (${f(cpu[key])})`);
  }
}
