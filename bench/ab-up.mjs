// node bench/ab-up.mjs TREE [TREE...]: the "time to up()" row of bench/run.mjs for each built checkout TREE
// (npm run build:ts in each; "go" is Go tsnet, the bench's tsinterop program), alternating the trees' order each
// round, on one development tailnet in its own process (bench/devnet.mjs). Per round and tree, as the bench
// does: a serving node comes up, then a client node (which then waits for its peer); the row is their mean.
// Our nodes also report the CPU time up() took (this process, all threads), the measure a shared machine's load
// moves least. BENCH_ROUNDS (10). docs/performance.md, "Time to up()".
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Proc } from './proc.mjs';

const self = new URL(import.meta.url).pathname;
const here = path.dirname(self);

if (process.argv[2] === '--child') {
  const [tree, opts] = process.argv.slice(3);
  const { Server } = await import(pathToFileURL(path.join(tree, 'dist/index.js')).href);
  const srv = new Server({ ...JSON.parse(opts), ephemeral: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await srv.up();
  const upMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  while (process.env.ROLE === 'client' && !(srv.status()?.peers.length)) await new Promise((r) => srv.once('peers', r));
  process.stdout.write(JSON.stringify({ ready: true, upMs, cpuMs: (c.user + c.system) / 1000 }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', async () => { await srv.close(); process.exit(0); });
  process.stdin.on('data', () => { void srv.close().then(() => process.exit(0)); });
} else {
  const trees = process.argv.slice(2);
  if (!trees.length) throw new Error('usage: node bench/ab-up.mjs TREE [TREE...] (a built checkout, or "go")');
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
  const dnProc = new Proc(process.execPath, [path.join(here, 'devnet.mjs')]);
  const dn = await dnProc.next('ready');
  const tsinterop = path.resolve(here, '..', 'build-interop', 'tsinterop');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbench-up-'));
  let seq = 0;
  const start = (tree, client) => {
    const hostname = `up-${++seq}`;
    if (tree === 'go') {
      const dir = path.join(tmp, hostname);
      fs.mkdirSync(dir);
      return new Proc(tsinterop, ['bench', JSON.stringify({ controlURL: dn.controlURL, authKey: dn.authKey, hostname, dir, client })]);
    }
    return new Proc(process.execPath, [self, '--child', path.resolve(tree), JSON.stringify({ controlURL: dn.controlURL, authKey: dn.authKey, hostname })], client ? { ROLE: 'client' } : {});
  };
  const res = new Map(trees.map((t) => [t, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...trees].reverse() : trees;
    for (const tree of order) {
      const b = start(tree, false);
      const rb = await b.next('ready');
      const a = start(tree, true);
      const ra = await a.next('ready');
      await a.stop();
      await b.stop();
      const row = { upMs: (rb.upMs + ra.upMs) / 2, cpuMs: rb.cpuMs === undefined ? undefined : (rb.cpuMs + ra.cpuMs) / 2 };
      res.get(tree).push(row);
      process.stderr.write(`round ${r + 1} ${tree}: ${JSON.stringify(row)}\n`);
    }
  }
  await dnProc.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  const median = (xs) => { const s = xs.filter(Number.isFinite).sort((x, y) => x - y); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
  for (const [tree, rows] of res) {
    const up = rows.map((x) => x.upMs);
    const cpu = rows.map((x) => x.cpuMs);
    console.log(`${tree}: time to up() median ${median(up).toFixed(1)} ms (${Math.min(...up).toFixed(1)}–${Math.max(...up).toFixed(1)})` +
      (Number.isFinite(median(cpu)) ? `, CPU in up() median ${median(cpu).toFixed(1)} ms` : '') + `, ${rows.length} rounds`);
  }
  process.exit(0);
}
