// Re-runs the calling bench script inside a network namespace it creates and removes (as root, unless
// BENCH_NETNS=0): loopback plus a veth pair with both ends inside, because Go's link monitor reports the
// network down with loopback alone. Inside, every address a node can offer belongs to the namespace, so Go
// tsnet's disco pings to "its own addresses" stay in it. Returns true when already inside one.
import { execFileSync, spawnSync } from 'node:child_process';

export function inBenchNetns() {
  if (process.env.TSBENCH_NETNS) return true;
  if (process.getuid?.() !== 0 || process.env.BENCH_NETNS === '0') return false;
  const ns = `tsbench${process.pid}`;
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'inherit'] });
  ip('netns', 'add', ns);
  let code = 1;
  try {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'add', 'tsb0', 'type', 'veth', 'peer', 'name', 'tsb1');
    ip('-n', ns, 'addr', 'add', '10.254.0.1/30', 'dev', 'tsb0');
    ip('-n', ns, 'link', 'set', 'tsb0', 'up');
    ip('-n', ns, 'link', 'set', 'tsb1', 'up');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, process.argv[1], ...process.argv.slice(2)],
      { stdio: 'inherit', env: { ...process.env, TSBENCH_NETNS: ns } });
    code = r.status ?? 1;
  } finally {
    try { ip('netns', 'del', ns); } catch {}
  }
  process.exit(code);
}
