/**
 * Differences between two EngineConfigs, so the data plane can be updated
 * incrementally (add/remove/update peers) instead of being rebuilt.
 */
import type { EngineConfig, EnginePeer } from '../wire/engine-config.js';
import type { NodeID } from '../wire/tailcfg.js';

export interface EngineConfigDiff {
  /** Peers new in `next` (by node key: a re-keyed node is a removal plus an addition). */
  readonly added: readonly EnginePeer[];
  /** Node IDs (with their old key) gone from `next`. */
  readonly removed: ReadonlyArray<{ id: NodeID; nodeKey: Buffer }>;
  /** Same node and key, something the data plane uses changed (endpoints, allowed IPs, disco key, home DERP). */
  readonly changed: readonly EnginePeer[];
  readonly addressesChanged: boolean;
  readonly filterChanged: boolean;
  readonly derpMapChanged: boolean;
  readonly dnsChanged: boolean;
  /** True when nothing relevant to the data plane changed. */
  readonly empty: boolean;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function peerKey(p: EnginePeer): string {
  return `${p.id}/${p.nodeKeyText}`;
}

function peerChanged(a: EnginePeer, b: EnginePeer): boolean {
  return (
    !sameList(a.endpoints, b.endpoints) ||
    !sameList(a.allowedIPs, b.allowedIPs) ||
    a.homeDERP !== b.homeDERP ||
    (a.discoKey === null) !== (b.discoKey === null) ||
    (a.discoKey !== null && b.discoKey !== null && !a.discoKey.equals(b.discoKey)) ||
    a.isWireGuardOnly !== b.isWireGuardOnly
  );
}

export function diffEngineConfig(prev: EngineConfig | null, next: EngineConfig): EngineConfigDiff {
  const before = new Map<string, EnginePeer>();
  for (const p of prev?.peers ?? []) before.set(peerKey(p), p);
  const added: EnginePeer[] = [];
  const changed: EnginePeer[] = [];
  const seen = new Set<string>();
  for (const p of next.peers) {
    const k = peerKey(p);
    seen.add(k);
    const old = before.get(k);
    if (!old) added.push(p);
    else if (peerChanged(old, p)) changed.push(p);
  }
  const removed: Array<{ id: NodeID; nodeKey: Buffer }> = [];
  for (const [k, p] of before) if (!seen.has(k)) removed.push({ id: p.id, nodeKey: p.nodeKey });
  const addressesChanged = !prev || !sameList(prev.addresses, next.addresses);
  const filterChanged = !prev || prev.filter !== next.filter;
  const derpMapChanged = !prev || prev.derpMap !== next.derpMap;
  const dnsChanged =
    !prev ||
    prev.magicDNS !== next.magicDNS ||
    prev.magicDNSSuffix !== next.magicDNSSuffix ||
    prev.dnsNames.length !== next.dnsNames.length ||
    prev.dnsNames.some((n, i) => n.name !== next.dnsNames[i]!.name || !sameList(n.addrs, next.dnsNames[i]!.addrs)) ||
    JSON.stringify(prev.extraRecords) !== JSON.stringify(next.extraRecords);
  const empty = !added.length && !removed.length && !changed.length && !addressesChanged && !filterChanged && !derpMapChanged && !dnsChanged;
  return { added, removed, changed, addressesChanged, filterChanged, derpMapChanged, dnsChanged, empty };
}
