// Health warnings derived from a node's status, for the LocalAPI's status ("Health", as ipnstate.Status
// has), `tsnet status` and the status page. Empty means healthy.
import type { LoopbackHost, LoopbackStatus } from './host.js';

/** The node's own warnings (LoopbackHost.health) first, then what its status shows. */
export function healthWarnings(st: LoopbackStatus | null, host?: Pick<LoopbackHost, 'health'>): string[] {
  const own = (host?.health?.() ?? []).map((w) => w.message);
  if (!st) return [...own, 'no network map yet: the node is not logged in (or control is unreachable)'];
  const out: string[] = [...own];
  if (st.backendState !== 'Running') out.push(`backend state is ${st.backendState}, not Running`);
  const drops = Object.entries(st.drops ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0);
  if (drops.length) {
    const total = drops.reduce((a, [, n]) => a + n, 0);
    out.push(`WireGuard dropped ${total} packet${total === 1 ? '' : 's'} (${drops.map(([k, n]) => `${k}: ${n}`).join(', ')})`);
  }
  for (const p of st.skippedPeers ?? []) out.push(`peer ${p.id} left out of the data plane: ${p.reason}`);
  return out;
}
