/**
 * Builds what one node sees (docs/protocol/control.md §11, §12): its own Node, its
 * peers, the packet filter, DNS config, DERP map and user profiles. Pure
 * functions of the state; map-session.ts turns successive views into deltas.
 */
import type { CapMap, DERPMap, DNSConfig, DNSRecord, FilterRule, MapResponse, Node, UserProfile } from '../wire/tailcfg.js';
import { DERP_MAGIC_IP, ZERO_TIME } from '../wire/tailcfg.js';
import { compileFilter, compileNodeCapMap, type PolicyNode } from './acl-compile.js';
import { ingressRules, withFunnelAttrs, withFunnelCertDomains } from './funnel-grants.js';
import { filterForNode, mutuallyVisible, parseAddrs } from './peer-visibility.js';
import { TAGGED_DEVICES_LOGIN, type DevnetState } from './state.js';
import type { DevnetNode } from './types.js';

export interface NetmapConfig {
  /** Tailnet DNS domain, e.g. "devnet.internal" (no trailing dot). */
  domain: string;
  derpMap: DERPMap;
  /** Extra upstream resolvers handed to clients (optional). */
  nameservers?: string[];
  /** Extra DNS records served by MagicDNS (name → address). */
  extraRecords?: DNSRecord[];
  /** Whether MagicDNS is on (default true). */
  magicDNS?: boolean;
  /**
   * Send each node only the peers it may talk to (either direction) and only
   * the filter rules that have it as a destination, like Tailscale (default
   * true). With false every node gets every peer and the whole filter.
   */
  trimByPolicy?: boolean;
  /** Hand each node its MagicDNS name in DNSConfig.CertDomains (HTTPS certificates on; acme.ts). */
  certDomains?: boolean;
}

/** One node's complete view. */
export interface NetmapView {
  self: Node;
  peers: Node[];
  filter: FilterRule[];
  dns: DNSConfig;
  domain: string;
  derpMap: DERPMap;
  userProfiles: UserProfile[];
}

export function policyNodes(state: DevnetState): PolicyNode[] {
  return state.allNodes().map((n) => ({
    id: n.id,
    addresses: [n.ipv4, n.ipv6],
    user: state.user(n.userId)?.loginName ?? '',
    tags: n.tags,
  }));
}

export function fqdn(n: DevnetNode, domain: string): string {
  return `${n.dnsLabel}.${domain}.`;
}

/** The user ID shown for a node: tagged nodes belong to "tagged-devices". */
export function wireUserId(n: DevnetNode, taggedUserId: number): number {
  return n.tags.length ? taggedUserId : n.userId;
}

export interface NodeViewContext {
  domain: string;
  taggedUserId: number;
  now: Date;
  capMap: CapMap | null;
}

/** The tailcfg.Node for a devnet node (as self or as a peer). */
export function toWireNode(state: DevnetState, n: DevnetNode, ctx: NodeViewContext): Node {
  const addrs = [`${n.ipv4}/32`, `${n.ipv6}/128`];
  const out: Node = {
    ID: n.id,
    StableID: n.stableId,
    Name: fqdn(n, ctx.domain),
    User: wireUserId(n, ctx.taggedUserId),
    Key: n.nodeKey,
    KeyExpiry: n.keyExpiry ?? ZERO_TIME,
    Machine: n.machineKey,
    Addresses: addrs,
    AllowedIPs: addrs,
    Endpoints: n.endpoints,
    Hostinfo: n.hostinfo,
    Created: n.created,
    Cap: n.capVersion,
    MachineAuthorized: n.authorized,
    Online: n.online,
  };
  if (n.discoKey) out.DiscoKey = n.discoKey;
  if (n.homeDERP > 0) {
    out.HomeDERP = n.homeDERP;
    out.DERP = `${DERP_MAGIC_IP}:${n.homeDERP}`;
  }
  if (n.tags.length) out.Tags = [...n.tags];
  if (n.lastSeen && !n.online) out.LastSeen = n.lastSeen;
  if (state.isKeyExpired(n, ctx.now)) out.Expired = true;
  if (ctx.capMap) out.CapMap = ctx.capMap;
  return out;
}

export function dnsConfig(cfg: NetmapConfig): DNSConfig {
  const magic = cfg.magicDNS ?? true;
  const out: DNSConfig = {
    Resolvers: (cfg.nameservers ?? []).map((Addr) => ({ Addr })),
    Domains: magic ? [cfg.domain] : [],
    Proxied: magic,
  };
  if (magic) out.Routes = {};
  if (cfg.extraRecords?.length) out.ExtraRecords = cfg.extraRecords;
  return out;
}

/** What every viewer shares for one state version: the compiled filter and the wire form of each node. */
interface SharedView {
  version: number;
  domain: string;
  derpMap: DERPMap;
  filter: FilterRule[];
  wire: Map<number, Node>;
  addrs: Map<number, Uint8Array[]>;
}

const sharedViews = new WeakMap<DevnetState, SharedView>();

function sharedView(state: DevnetState, cfg: NetmapConfig, now: Date): SharedView {
  const c = sharedViews.get(state);
  if (c && c.version === state.netmapVersion && c.domain === cfg.domain && c.derpMap === cfg.derpMap) return c;
  const nodes = state.allNodes();
  const pnodes = policyNodes(state);
  const tagged = state.allUsers().find((u) => u.loginName === TAGGED_DEVICES_LOGIN);
  const taggedUserId = tagged?.id ?? 0;
  const wire = new Map<number, Node>();
  const addrs = new Map<number, Uint8Array[]>();
  nodes.forEach((n, i) => {
    addrs.set(n.id, parseAddrs([n.ipv4, n.ipv6]));
    const capMap = withFunnelAttrs(compileNodeCapMap(state.policy, pnodes, pnodes[i]!));
    wire.set(n.id, toWireNode(state, n, { domain: cfg.domain, taggedUserId, now, capMap }));
  });
  const v: SharedView = {
    version: state.netmapVersion,
    domain: cfg.domain,
    derpMap: cfg.derpMap,
    // Funnel: the devnet's ingress node reaches funnel nodes (lib/devnet/funnel-grants.ts).
    filter: [...compileFilter(state.policy, pnodes), ...ingressRules(state, wire)],
    wire,
    addrs,
  };
  sharedViews.set(state, v);
  return v;
}

/**
 * Everything a node may see. Unauthorized or expired nodes see no peers and
 * an empty (deny-all) filter. The parts common to all viewers are computed
 * once per state version; results must be treated as read-only.
 */
export function buildView(state: DevnetState, selfNode: DevnetNode, cfg: NetmapConfig, now: Date): NetmapView {
  const sh = sharedView(state, cfg, now);
  const self = sh.wire.get(selfNode.id) ?? toWireNode(state, selfNode, { domain: cfg.domain, taggedUserId: 0, now, capMap: null });
  const visible = selfNode.authorized && !state.isKeyExpired(selfNode, now);
  const trim = cfg.trimByPolicy ?? true;
  const selfAddrs = sh.addrs.get(selfNode.id) ?? parseAddrs([selfNode.ipv4, selfNode.ipv6]);
  const peers: Node[] = [];
  if (visible) {
    for (const n of state.allNodes()) {
      if (n.id === selfNode.id || !n.authorized) continue;
      if (trim && !mutuallyVisible(sh.filter, selfAddrs, sh.addrs.get(n.id)!)) continue;
      peers.push(sh.wire.get(n.id)!);
    }
  }
  const userIds = new Set<number>([self.User ?? 0, ...peers.map((p) => p.User ?? 0)]);
  const userProfiles: UserProfile[] = [];
  for (const id of [...userIds].sort((a, b) => a - b)) {
    const u = state.user(id);
    if (u) userProfiles.push({ ID: u.id, LoginName: u.loginName, DisplayName: u.displayName, ProfilePicURL: '' });
  }
  return {
    self,
    peers,
    filter: !visible ? [] : trim ? filterForNode(sh.filter, selfAddrs) : sh.filter,
    dns: withFunnelCertDomains(cfg.certDomains ? { ...dnsConfig(cfg), CertDomains: [fqdn(selfNode, cfg.domain).replace(/\.$/, '')] } : dnsConfig(cfg), self),
    domain: cfg.domain,
    derpMap: cfg.derpMap,
    userProfiles,
  };
}

/** The first message of a map stream (or a one-shot map response): the whole view. */
export function fullMapResponse(v: NetmapView, now: Date): MapResponse {
  return {
    Node: v.self,
    DERPMap: v.derpMap,
    Peers: v.peers,
    DNSConfig: v.dns,
    Domain: v.domain,
    CollectServices: true,
    PacketFilter: v.filter,
    UserProfiles: v.userProfiles,
    ControlTime: now.toISOString(),
  };
}
