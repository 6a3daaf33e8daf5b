/**
 * What the engine needs to use peer relays (docs/protocol/peer-relay.md): the node keys of the peers that may
 * relay for us (relayCandidates, §1) and of the peers we may reach through one. As Tailscale's client, those
 * are the peers claiming capability version 121 or more; `allPeers` widens it to every peer with a disco key
 * (our own nodes claim less, docs/protocol/capver.md).
 */
import type { CompiledFilter } from '../wire/filter.js';
import type { NetworkMap } from '../wire/netmap.js';
import { RELAY_CAPABLE_VERSION, relayCandidates } from './relay-candidates.js';

export interface PeerRelayLists {
  servers: Buffer[];
  targets: Buffer[];
}

function keyBytes(k: string | undefined): Buffer | null {
  if (!k?.startsWith('nodekey:')) return null;
  const b = Buffer.from(k.slice(8), 'hex');
  return b.length === 32 ? b : null;
}

export function peerRelayLists(filter: CompiledFilter | null, nm: NetworkMap, allPeers: boolean): PeerRelayLists {
  const servers = relayCandidates(filter, nm.self, nm.peers).map((c) => keyBytes(c.nodeKey)).filter((k): k is Buffer => k !== null);
  const targets = nm.peers
    .filter((p) => p.DiscoKey && (allPeers || (p.Cap ?? 0) >= RELAY_CAPABLE_VERSION))
    .map((p) => keyBytes(p.Key))
    .filter((k): k is Buffer => k !== null);
  return { servers, targets };
}
