// node bench/up-instructions.mjs TREE [TREE...]: instructions one Server.up() costs in its process, for each
// built checkout TREE (npm run build:ts in each), counted by valgrind's callgrind, which a shared machine's load
// does not move (wall and CPU time do, by 2× and more). Per tree and round: a process that loads the package
// and makes a Server, and one that also brings it up against a development tailnet (bench/devnet.mjs, its own
// process, not counted); the difference is up()'s cost. About 30 s per process. BENCH_ROUNDS (2).
// docs/performance.md, "Time to up()".
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Proc } from './proc.mjs';

const self = new URL(import.meta.url).pathname;

if (process.argv[2] === '--child') {
  const [tree, controlURL, authKey, up] = process.argv.slice(3);
  const { Server } = await import(pathToFileURL(path.join(tree, 'dist/index.js')).href);
  const srv = new Server({ controlURL, authKey, hostname: `instr-${process.pid}`, ephemeral: true });
  if (up === 'up') await srv.up();
  process.exit(0);
} else {
  const trees = process.argv.slice(2);
  if (!trees.length) throw new Error('usage: node bench/up-instructions.mjs TREE [TREE...] (built checkouts)');
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
  const dnProc = new Proc(process.execPath, [path.join(path.dirname(self), 'devnet.mjs')]);
  const dn = await dnProc.next('ready');
  const count = (tree, up) => {
    // --smc-check: V8 writes and rewrites machine code in place.
    const r = spawnSync('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', '--callgrind-out-file=/dev/null',
      process.execPath, self, '--child', path.resolve(tree), dn.controlURL, dn.authKey, up], { encoding: 'utf8' });
    const m = /Collected : (\d+)/.exec(r.stderr);
    if (r.status !== 0 || !m) throw new Error(`callgrind run failed (${tree} ${up}): ${r.stderr.slice(-500)}`);
    return Number(m[1]);
  };
  const res = new Map(trees.map((t) => [t, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const tree of r % 2 ? [...trees].reverse() : trees) {
      const base = count(tree, 'no');
      const all = count(tree, 'up');
      res.get(tree).push(all - base);
      process.stderr.write(`round ${r + 1} ${tree}: up() ${((all - base) / 1e6).toFixed(1)} M instructions (process ${(all / 1e6).toFixed(1)} M, without up() ${(base / 1e6).toFixed(1)} M)\n`);
    }
  }
  await dnProc.stop();
  for (const [tree, xs] of res) {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`${tree}: up() ${(mean / 1e6).toFixed(1)} M instructions (mean of ${xs.length}: ${xs.map((x) => (x / 1e6).toFixed(1)).join(', ')})`);
  }
  process.exit(0);
}
