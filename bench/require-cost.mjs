// What `require('tsnet')` costs a bare Node process: modules loaded and RSS added (docs/performance.md).
//   node bench/require-cost.mjs [runs=9] [packageRoot...]
// Each run is a fresh `node -e` child that notes process.memoryUsage().rss, requires the package's main entry
// (dist/index.js, run `npm run -s build:ts` first) and counts the modules require.cache gained: all of them,
// those of the package (dist/, the addon) and those of the development tailnet (dist/devnet/). Prints medians.
// With several package roots (e.g. a worktree and main) the runs alternate between them, so both see the same
// machine load.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const runs = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 9;
const roots = (args.length ? args : [path.join(here, '..')]).map((r) => path.resolve(r));

const child = `
const before = process.memoryUsage().rss;
const seen = new Set(Object.keys(require.cache));
require(process.argv[1]);
const after = process.memoryUsage().rss;
const root = process.argv[2] + require('node:path').sep;
const added = Object.keys(require.cache).filter((k) => !seen.has(k));
const pkg = added.filter((k) => k.startsWith(root) && !k.includes('node_modules'));
const devnet = pkg.filter((k) => k.includes(require('node:path').join('dist', 'devnet') + require('node:path').sep));
process.stdout.write(JSON.stringify({ rssBefore: before, rssAfter: after, modules: added.length, pkg: pkg.length, devnet: devnet.length }));
`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const MiB = 1024 * 1024;
const samples = new Map(roots.map((r) => [r, []]));
for (let i = 0; i < runs; i++) {
  for (const root of roots) {
    const r = spawnSync(process.execPath, ['-e', child, path.join(root, 'dist', 'index.js'), root], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child failed for ${root}: ${r.stderr}`);
    samples.get(root).push(JSON.parse(r.stdout));
  }
}
for (const [root, s] of samples) {
  const out = {
    root,
    runs,
    modules: median(s.map((x) => x.modules)),
    packageModules: median(s.map((x) => x.pkg)),
    devnetModules: median(s.map((x) => x.devnet)),
    rssBeforeMiB: +(median(s.map((x) => x.rssBefore)) / MiB).toFixed(1),
    rssAfterMiB: +(median(s.map((x) => x.rssAfter)) / MiB).toFixed(1),
    rssAddedMiB: +(median(s.map((x) => x.rssAfter - x.rssBefore)) / MiB).toFixed(1),
    rssAddedMiBRange: [Math.min(...s.map((x) => x.rssAfter - x.rssBefore)), Math.max(...s.map((x) => x.rssAfter - x.rssBefore))].map((v) => +(v / MiB).toFixed(1)),
  };
  console.log(JSON.stringify(out));
}
