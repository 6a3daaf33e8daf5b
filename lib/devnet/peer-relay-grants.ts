/**
 * Peer-relay grants (docs/protocol/peer-relay.md §1). A policy grants `tailscale.com/cap/relay` from the
 * clients to the relay nodes; Tailscale's coordination server then also gives the relay nodes
 * `tailscale.com/cap/relay-target` toward those clients (a client asks only nodes holding it toward itself),
 * so a policy names only the first. The devnet does the same.
 */
import type { CapMap, FilterRule } from '../wire/tailcfg.js';

export const PEER_CAP_RELAY = 'tailscale.com/cap/relay';
export const PEER_CAP_RELAY_TARGET = 'tailscale.com/cap/relay-target';

/**
 * The companion rule of a grant with application capabilities `app` from clients to relays: relays (as
 * source addresses, or ['*']) get relay-target toward the clients (as prefixes). Null when the grant does
 * not carry the relay capability or either side is empty.
 */
export function relayTargetRule(app: CapMap, relaySrcIPs: readonly string[], clientDsts: readonly string[]): FilterRule | null {
  if (!Object.prototype.hasOwnProperty.call(app, PEER_CAP_RELAY)) return null;
  if (!relaySrcIPs.length || !clientDsts.length) return null;
  return { SrcIPs: [...relaySrcIPs], CapGrant: [{ Dsts: [...clientDsts], CapMap: { [PEER_CAP_RELAY_TARGET]: [] } }] };
}
