// What the control client compares before pushing a lite update: magicsock reports its endpoints and NetInfo
// after every netcheck (every 20-26 s), and an idle node's are the same each time. As Go's control client
// does, an unchanged report sends nothing (docs/performance.md, "An idle node under 1 MiB").
import type { NetInfo } from '../wire/tailcfg.js';

/** Same addresses and types in the same order. */
export function sameEndpoints(a: ReadonlyArray<{ addr: string; type: number }>, b: ReadonlyArray<{ addr: string; type: number }>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.addr !== b[i]!.addr || a[i]!.type !== b[i]!.type) return false;
  return true;
}

/** Same fields and values; DERPLatency compared entry by entry. */
export function sameNetInfo(a: NetInfo, b: NetInfo): boolean {
  const ka = Object.keys(a) as Array<keyof NetInfo>;
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (k === 'DERPLatency') {
      const x = a.DERPLatency, y = b.DERPLatency;
      if (!x || !y) { if (x !== y) return false; continue; }
      const kx = Object.keys(x);
      if (kx.length !== Object.keys(y).length || kx.some((r) => x[r] !== y[r])) return false;
    } else if (a[k] !== b[k]) return false;
  }
  return true;
}
