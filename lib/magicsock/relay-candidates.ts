/**
 * Which peers may serve this node as a peer relay (docs/protocol/peer-relay.md §1): a peer claiming
 * capability version 121 or more that the packet filter grants `tailscale.com/cap/relay-target` toward us.
 * As Tailscale's client decides it: the peer's first single-IP address against our first single-IP address
 * of the same family, and never a peer marked UnsignedPeerAPIOnly.
 */
import { capsGranted, type CompiledFilter } from '../wire/filter.js';
import type { Node } from '../wire/tailcfg.js';

export const RELAY_CAPABLE_VERSION = 121;
export const PEER_CAP_RELAY_TARGET = 'tailscale.com/cap/relay-target';

export interface RelayCandidate {
  readonly nodeKey: string;
  readonly discoKey: string;
  /** The relay node's home DERP region (allocation requests go there); 0 when unknown. */
  readonly homeDERP: number;
}

type Addressed = Pick<Node, 'Addresses'>;

function singleIPs(n: Addressed): string[] {
  const out: string[] = [];
  for (const p of n.Addresses ?? []) {
    const slash = p.lastIndexOf('/');
    if (slash < 0) continue;
    const ip = p.slice(0, slash);
    const bits = Number(p.slice(slash + 1));
    if (bits === (ip.includes(':') ? 128 : 32)) out.push(ip);
  }
  return out;
}

/** Whether the filter grants `cap` from src's node to dst's node. */
export function nodeHasPeerCap(filter: CompiledFilter | null, src: Addressed & Pick<Node, 'UnsignedPeerAPIOnly'>, dst: Addressed, cap: string): boolean {
  if (!filter || src.UnsignedPeerAPIOnly) return false;
  for (const s of singleIPs(src)) {
    for (const d of singleIPs(dst)) {
      if (s.includes(':') === d.includes(':')) return Object.prototype.hasOwnProperty.call(capsGranted(filter, s, d), cap);
    }
  }
  return false;
}

/** The peers that may relay for `self`, in netmap order. */
export function relayCandidates(filter: CompiledFilter | null, self: Addressed, peers: readonly Node[]): RelayCandidate[] {
  const out: RelayCandidate[] = [];
  for (const p of peers) {
    if ((p.Cap ?? 0) < RELAY_CAPABLE_VERSION || !p.DiscoKey) continue;
    if (!nodeHasPeerCap(filter, p, self, PEER_CAP_RELAY_TARGET)) continue;
    out.push({ nodeKey: p.Key, discoKey: p.DiscoKey, homeDERP: p.HomeDERP ?? 0 });
  }
  return out;
}
