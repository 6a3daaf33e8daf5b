// Renders npm run bench's results (bench/results/*.json, written by bench/run.mjs) as the Markdown table the
// README shows. `node bench/table.mjs [results.json]` prints it (default: bench/results/latest.json);
// `--readme` also puts it into README.md between the bench-table markers.
import * as fs from 'node:fs';
import * as path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);

// Each comparison row: what it measures, its unit, and whether more is better. The ratio is always "ours per
// Go" in the better direction, so above 1 means ours is ahead.
export const ROWS = [
  ['direct', 'gbps', 'direct path, one TCP stream', 'Gbit/s', true],
  ['direct', 'gbps8', 'direct path, 8 parallel streams (sum)', 'Gbit/s', true],
  ['direct', 'cpuSecPerGiB', 'CPU time per GiB, one direct stream (both processes)', 's', false],
  ['derper', 'mbps', "through a real derper (Tailscale's derpserver)", 'Mbit/s', true],
  ['relay', 'mbps', "through our devnet's DERP relay", 'Mbit/s', true],
  ['derper', 'cpuSecPerGiB', 'CPU time per GiB through the derper (both nodes, not the relay)', 's', false],
  ['direct', 'p50us', '1-byte round trip p50, direct', 'µs', false],
  ['direct', 'p99us', '1-byte round trip p99, direct', 'µs', false],
  ['direct', 'connsPerSec', 'new connections per second, direct', '/s', true],
  ['direct', 'idleRssMiB', 'idle RSS of a one-node process', 'MiB', false],
  ['nodes', 'perNodeMiB', 'idle RSS per further node (N nodes in one process, bench/scale.mjs)', 'MiB', false],
  ['direct', 'upMs', 'time to up()', 'ms', false],
];

const f = (x) => (typeof x !== 'number' || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const spread = (s) => (s && s.n > 1 ? ` (${f(s.min)}–${f(s.max)})` : '');

export function render(doc) {
  const m = doc.machine ?? {};
  const lines = [];
  lines.push(`Run ${doc.date} on ${m.host ?? '?'}: ${m.cpus ?? '?'} × ${m.cpuModel ?? '?'}, ${m.memGiB ?? '?'} GiB, Linux ${m.kernel ?? '?'}, ` +
    `Node ${m.node ?? '?'}, ${m.go ?? 'Go ?'}, tsnet ${doc.goTsnet ?? '?'}; ${doc.rounds} rounds (ours and Go alternate), ` +
    `${doc.bytes / 1024 ** 2} MiB per direct stream, ${doc.relayBytes / 1024 ** 2} MiB per relayed stream${doc.netns ? ', in a network namespace the bench made (loopback only)' : ', host loopback'}. ` +
    `${Object.keys(doc.tsnetEnv ?? {}).length ? `Ours with ${Object.entries(doc.tsnetEnv).map(([k, v]) => `${k}=${v}`).join(' ')}. ` : ''}Medians, with the range over rounds in parentheses.${m.loadavgStart ? ` Load average ${m.loadavgStart[0].toFixed(1)} at the start, ${m.loadavgEnd[0].toFixed(1)} at the end.` : ''}`);
  lines.push('');
  lines.push('| what | ours | Go tsnet | ours vs Go (> 1: ours ahead) |');
  lines.push('|---|---|---|---|');
  for (const [pathName, key, label, unit, higher] of ROWS) {
    const o = doc.pairs?.[pathName]?.ours?.[key], g = doc.pairs?.[pathName]?.go?.[key];
    const ratio = o?.median && g?.median ? (higher ? o.median / g.median : g.median / o.median) : undefined;
    lines.push(`| ${label} (${unit}) | ${f(o?.median)}${spread(o)} | ${f(g?.median)}${spread(g)} | ${ratio ? ratio.toFixed(2) + '×' : '-'} |`);
  }
  const c = doc.ceiling;
  const rss = doc.pairs?.direct?.ours?.idleRssMiB?.median;
  if (c?.bareNodeRssMiB && rss) {
    lines.push('');
    lines.push(`Idle RSS: a bare Node process is ${f(c.bareNodeRssMiB)} MiB, so our one node adds ${f(rss - c.bareNodeRssMiB)} MiB to it (require('tsnet'), the addon, one Server up and listening).`);
  }
  const nodes = doc.pairs?.nodes;
  if (nodes?.ours?.nodes) {
    lines.push('');
    lines.push(`Per further node: ${nodes.ours.nodes} Server nodes in one process, and as many Go tsnet nodes in one Go process; the row is (RSS with all − RSS with one) / (N − 1), each read after a GC, ${doc.pairs.nodes.settleSeconds ?? 0} s idle and a GC.`);
  }
  if (c) {
    lines.push('');
    lines.push('| reference (same run) | one stream Gbit/s | 8 streams Gbit/s | RTT p50 µs | conns/s |');
    lines.push('|---|---|---|---|---|');
    for (const [name, label] of [['node-tcp-loopback', 'plain Node TCP over loopback (ceiling)'], ['tsnet-wireguard', 'ours, WireGuard mode (no control), two processes'],
      ['wireguard-go-linux-tcp', 'wireguard-go + Linux TCP (history)']]) {
      const r = c[name];
      if (!r) continue;
      if (r.skipped || r.error) { lines.push(`| ${label} | ${r.skipped ? 'skipped' : 'failed'}: ${r.skipped ?? r.error} | | | |`); continue; }
      lines.push(`| ${label} | ${f(r.gbps)} | ${f(r.gbps8)} | ${f(r.p50us)} | ${f(r.connsPerSec)} |`);
    }
  }
  const dr = doc.derpReal;
  if (dr) {
    lines.push('');
    if (dr.error) lines.push(`bench/derp-real.mjs (BENCH_DERP_REAL=1): failed: ${dr.error}`);
    else {
      lines.push('| bench/derp-real.mjs row (cmd/derper; BENCH_DERP_REAL=1) | Mbit/s | RTT p50 µs |');
      lines.push('|---|---|---|');
      for (const [row, v] of Object.entries(dr)) lines.push(`| ${row} | ${f(v.mbps)} | ${f(v.p50us)} |`);
    }
  }
  return lines.join('\n');
}

const START = '<!-- bench-table:start (node bench/table.mjs --readme) -->';
const END = '<!-- bench-table:end -->';

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--')) ?? path.join(here, 'results', 'latest.json');
  const table = render(JSON.parse(fs.readFileSync(file, 'utf8')));
  console.log(table);
  if (args.includes('--readme')) {
    const readme = path.join(here, '..', 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const a = text.indexOf(START), b = text.indexOf(END);
    if (a < 0 || b < a) throw new Error(`README.md has no ${START} … ${END} section`);
    fs.writeFileSync(readme, text.slice(0, a + START.length) + '\n' + table + '\n' + text.slice(b));
  }
}
