// node bench/idle-nodes.mjs: where the RSS of idle Server nodes goes, as a timeline (docs/performance.md,
// "An idle node under 1 MiB"). One process holds the nodes, the development tailnet runs in another
// (bench/devnet.mjs). Steps of IDLE_STEPS (default "1,6,11") nodes; after each step a GC, then the nodes sit
// idle for IDLE_SECONDS (30) and the process reports every IDLE_EVERY_S (5) seconds: RSS right after a GC and
// once it stops falling (as bench/scale.mjs reads it), V8's committed spaces, what V8 allocated in that window
// (from GC statistics, so garbage counts too), and at the end of each step /proc/self/smaps grouped by
// mapping. IDLE_GC=0: no forced GC before each report (a user's process gets none). IDLE_NODE_ARGS: flags for
// the nodes' process (e.g. "--no-opt --no-sparkplug": without V8's compilers). Prints JSON lines and, per
// step, RSS, smaps and V8's spaces per further node from the steps' last readings, and the allocation rate of
// the step's last window. As root it runs in a network namespace it makes (bench/netns.mjs).
import { Proc } from './proc.mjs';
import { inBenchNetns } from './netns.mjs';
import { smapsByKind, v8Spaces } from './mem-detail.mjs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const KiB = (b) => Math.round(b / 1024);

if (process.argv[2] === '--child') {
  const require = createRequire(import.meta.url);
  const { Server } = require(path.join(here, '..', 'dist', 'index.js'));
  const { controlURL, authKey, steps, seconds, every, gc } = JSON.parse(process.argv[3]);
  // Bytes V8 allocated: the GC statistics give, per GC, used heap before and after; what was allocated between
  // two GCs is the next one's "before" less the last one's "after".
  let prof = new v8.GCProfiler();
  prof.start();
  let lastUsed = v8.getHeapStatistics().used_heap_size;
  const allocated = () => {
    const st = prof.stop();
    let a = 0, gcs = 0;
    for (const g of st.statistics) { a += g.beforeGC.heapStatistics.usedHeapSize - lastUsed; lastUsed = g.afterGC.heapStatistics.usedHeapSize; gcs++; }
    const now = v8.getHeapStatistics().used_heap_size;
    a += now - lastUsed;
    lastUsed = now;
    prof = new v8.GCProfiler();
    prof.start();
    return { allocatedKiB: KiB(a), gcs };
  };
  const nodes = [];
  for (const n of steps) {
    while (nodes.length < n) {
      const s = new Server({ controlURL, authKey, hostname: `idle-${nodes.length}`, ephemeral: true });
      await s.up();
      nodes.push(s);
    }
    // As bench/scale.mjs does: a GC first, which arms V8's memory reducer, then idle time, a GC, the reading.
    if (gc) globalThis.gc();
    allocated();
    const t0 = Date.now();
    for (let t = every; t <= seconds; t += every) {
      await new Promise((r) => setTimeout(r, t0 + t * 1000 - Date.now()));
      const a = allocated();
      if (gc) globalThis.gc(); // after the allocation count: the GC's own statistics go to the next one
      // RSS right after the GC, and once it stops falling (V8 unmaps the freed pages from a background thread;
      // bench/scale.mjs reads the second).
      const rssAtGcKiB = KiB(process.memoryUsage().rss);
      let rss = rssAtGcKiB, same = 0;
      for (let i = 0; i < 50 && same < 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const now = KiB(process.memoryUsage().rss);
        same = now === rss ? same + 1 : 0;
        rss = now;
      }
      out({ nodes: n, t, rssAtGcKiB, rssKiB: rss, heapUsedKiB: KiB(process.memoryUsage().heapUsed), ...a, v8: v8Spaces(), ...(t + every > seconds ? { smaps: smapsByKind() } : {}) });
    }
  }
  out({ done: true });
  await Promise.all(nodes.map((s) => s.close()));
  process.exit(0);
}

inBenchNetns(); // as root: in a network namespace of its own (bench/netns.mjs)
const steps = (process.env.IDLE_STEPS ?? '1,6,11').split(',').map(Number);
const seconds = Number(process.env.IDLE_SECONDS ?? 30), every = Number(process.env.IDLE_EVERY_S ?? 5);
const gc = process.env.IDLE_GC !== '0';
const dn = new Proc(process.execPath, [path.join(here, 'devnet.mjs')]);
const { controlURL, authKey } = await dn.next('ready');
const c = new Proc(process.execPath, ['--expose-gc', ...(process.env.IDLE_NODE_ARGS ?? '').split(' ').filter(Boolean), new URL(import.meta.url).pathname, '--child', JSON.stringify({ controlURL, authKey, steps, seconds, every, gc })]);
const last = {};
for (;;) {
  const o = await c.next('reading');
  if (o.done) break;
  console.log(JSON.stringify(o));
  last[o.nodes] = o;
}
await c.stop();
dn.p.stdin.end();
await new Promise((r) => { dn.p.once('exit', r); setTimeout(r, 3000); });
const first = last[steps[0]];
for (const n of steps.slice(1)) {
  const o = last[n];
  const per = (a, b) => ((a - b) / (n - steps[0])).toFixed(0);
  const smaps = Object.keys(o.smaps).map((k) => `${k} ${per(o.smaps[k], first.smaps[k] ?? 0)}`).join(', ');
  const sp = Object.keys(o.v8).map((k) => `${k} ${per(o.v8[k], first.v8[k] ?? 0)}`).join(', ');
  console.log(`${n} nodes: ${per(o.rssKiB, first.rssKiB)} KiB RSS per further node (smaps: ${smaps}; V8: ${sp}); idle: ${(o.allocatedKiB / n / every * 60).toFixed(0)} KiB allocated per node per minute`);
}
