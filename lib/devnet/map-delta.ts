/**
 * Turns successive netmap views of one node into MapResponse deltas
 * (docs/protocol/control.md §11): new or reshaped peers go out whole in PeersChanged,
 * peers whose only changes are endpoints, disco key, online state, last seen,
 * home DERP, key, key expiry or capabilities go out as PeersChangedPatch,
 * vanished peers as PeersRemoved. Self node, filter, DNS, domain, DERP map and
 * user profiles are re-sent only when they change. Pure.
 */
import type { MapResponse, Node, PeerChange } from '../wire/tailcfg.js';
import { fullMapResponse, type NetmapView } from './netmap.js';

export interface SentState {
  self: string;
  peers: Map<number, Node>;
  filter: string;
  dns: string;
  domain: string;
  derp: string;
  profiles: Map<number, string>;
}

/** What the client knows after receiving `fullMapResponse(view)`. */
export function sentStateOf(view: NetmapView): SentState {
  return {
    self: JSON.stringify(view.self),
    peers: new Map(view.peers.map((p) => [p.ID, p])),
    filter: JSON.stringify(view.filter),
    dns: JSON.stringify(view.dns),
    domain: view.domain,
    derp: JSON.stringify(view.derpMap),
    profiles: new Map(view.userProfiles.map((u) => [u.ID, JSON.stringify(u)])),
  };
}

export function initialMessage(view: NetmapView, now: Date): { message: MapResponse; sent: SentState } {
  return { message: fullMapResponse(view, now), sent: sentStateOf(view) };
}

const PATCHABLE = ['Endpoints', 'DiscoKey', 'Online', 'LastSeen', 'HomeDERP', 'DERP', 'Key', 'KeyExpiry', 'Cap', 'CapMap'] as const;

function withoutPatchable(n: Node): string {
  const c: Record<string, unknown> = { ...n };
  for (const k of PATCHABLE) delete c[k];
  return JSON.stringify(c);
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * A PeerChange carrying the difference between two versions of a peer, or
 * null if the difference cannot be expressed as a patch (PeerChange fields
 * only overwrite with non-zero values, so nothing can be cleared).
 */
export function peerPatch(prev: Node, next: Node): PeerChange | null {
  if (withoutPatchable(prev) !== withoutPatchable(next)) return null;
  const pc: PeerChange = { NodeID: next.ID };
  let any = false;
  if (!same(prev.Endpoints, next.Endpoints)) {
    if (!next.Endpoints?.length) return null;
    pc.Endpoints = next.Endpoints;
    any = true;
  }
  if (prev.DiscoKey !== next.DiscoKey) {
    if (!next.DiscoKey) return null;
    pc.DiscoKey = next.DiscoKey;
    any = true;
  }
  if (prev.Online !== next.Online) {
    if (typeof next.Online !== 'boolean') return null;
    pc.Online = next.Online;
    any = true;
  }
  if (prev.LastSeen !== next.LastSeen && next.LastSeen) {
    // A cleared LastSeen (node back online) is not expressible and does not matter once Online is true.
    pc.LastSeen = next.LastSeen;
    any = true;
  }
  if (prev.HomeDERP !== next.HomeDERP || prev.DERP !== next.DERP) {
    if (!next.HomeDERP) return null;
    pc.DERPRegion = next.HomeDERP;
    any = true;
  }
  if (prev.Key !== next.Key) {
    pc.Key = next.Key;
    any = true;
  }
  if (prev.KeyExpiry !== next.KeyExpiry) {
    if (!next.KeyExpiry) return null;
    pc.KeyExpiry = next.KeyExpiry;
    any = true;
  }
  if (prev.Cap !== next.Cap) {
    if (!next.Cap) return null;
    pc.Cap = next.Cap;
    any = true;
  }
  if (!same(prev.CapMap, next.CapMap)) {
    if (!next.CapMap) return null;
    pc.CapMap = next.CapMap;
    any = true;
  }
  return any ? pc : null;
}

/** The delta from what the client has (`prev`) to `view`; message is null when nothing changed. */
export function diffView(prev: SentState, view: NetmapView): { message: MapResponse | null; sent: SentState } {
  const msg: MapResponse = {};
  let any = false;
  const next = sentStateOf(view);
  if (next.self !== prev.self) {
    msg.Node = view.self;
    any = true;
  }
  const changed: Node[] = [];
  const patches: PeerChange[] = [];
  for (const p of view.peers) {
    const old = prev.peers.get(p.ID);
    if (!old) {
      changed.push(p);
      continue;
    }
    if (same(old, p)) continue;
    const patch = peerPatch(old, p);
    if (patch) patches.push(patch);
    else changed.push(p);
  }
  const removed = [...prev.peers.keys()].filter((id) => !next.peers.has(id)).sort((a, b) => a - b);
  if (changed.length) {
    msg.PeersChanged = changed.sort((a, b) => a.ID - b.ID);
    any = true;
  }
  if (patches.length) {
    msg.PeersChangedPatch = patches.sort((a, b) => a.NodeID - b.NodeID);
    any = true;
  }
  if (removed.length) {
    msg.PeersRemoved = removed;
    any = true;
  }
  if (next.filter !== prev.filter) {
    msg.PacketFilter = view.filter;
    any = true;
  }
  if (next.dns !== prev.dns) {
    msg.DNSConfig = view.dns;
    any = true;
  }
  if (next.domain !== prev.domain) {
    msg.Domain = view.domain;
    any = true;
  }
  if (next.derp !== prev.derp) {
    msg.DERPMap = view.derpMap;
    any = true;
  }
  const profiles = view.userProfiles.filter((u) => prev.profiles.get(u.ID) !== next.profiles.get(u.ID));
  if (profiles.length) {
    msg.UserProfiles = profiles;
    any = true;
  }
  // Profiles the client holds stay valid; keep remembering them.
  for (const [id, s] of prev.profiles) if (!next.profiles.has(id)) next.profiles.set(id, s);
  return { message: any ? msg : null, sent: next };
}
