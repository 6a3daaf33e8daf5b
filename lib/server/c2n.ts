// What a Server lends control's c2n debug requests (lib/control/c2n.ts): its netmap, health and metrics.
import { netmapDebugJSON, type C2NContext } from '../control/c2n.js';
import type { NetworkMap } from '../wire/netmap.js';
import type { HealthWarning } from './types.js';

// Whether a warning means peers cannot reach us or we cannot reach them (Tailscale's ImpactsConnectivity).
const IMPACTS_CONNECTIVITY: ReadonlySet<HealthWarning['code']> = new Set(['needs-login', 'needs-approval', 'relay-unreachable']);

/** Health warnings in the shape of Tailscale's health.State (null Warnings: healthy). */
export function healthState(warnings: readonly HealthWarning[]): { Warnings: Record<string, unknown> | null } {
  if (warnings.length === 0) return { Warnings: null };
  return {
    Warnings: Object.fromEntries(
      warnings.map((w) => [
        w.code,
        {
          WarnableCode: w.code,
          Severity: IMPACTS_CONNECTIVITY.has(w.code) ? 'high' : 'medium',
          Title: w.code,
          Text: w.message,
          BrokenSince: w.since.toISOString(),
          ...(IMPACTS_CONNECTIVITY.has(w.code) ? { ImpactsConnectivity: true } : {}),
        },
      ]),
    ),
  };
}

export function serverC2N(src: { netmap(): NetworkMap | null; health(): HealthWarning[]; metrics(): string }): C2NContext {
  return {
    netmap: () => {
      const nm = src.netmap();
      return nm ? netmapDebugJSON(nm) : null;
    },
    health: () => healthState(src.health()),
    metrics: () => src.metrics(),
  };
}
