/**
 * The network map and the MapResponse delta rules (docs/protocol/control.md §11),
 * as a sans-I/O state machine: one NetmapState per map-poll session (a new
 * stream starts from scratch, as the first response carries everything).
 *
 * Stored node objects are never mutated in place, so a NetworkMap snapshot
 * handed out earlier stays valid after further deltas.
 */
import type {
  DERPMap,
  DNSConfig,
  DisplayMessage,
  FilterRule,
  JSONValue,
  MapResponse,
  Node,
  NodeID,
  PingRequest,
  UserID,
  UserProfile,
} from './tailcfg.js';
import { DERP_MAGIC_IP } from './tailcfg.js';
import { parseAddrPort } from './ip.js';

export interface NetworkMap {
  /** Self node (normalized: HomeDERP from legacy DERP, AllowedIPs defaulted, Capabilities folded into CapMap). */
  readonly self: Node;
  /** Peers sorted by ID (normalized like `self`). */
  readonly peers: readonly Node[];
  readonly derpMap: DERPMap | null;
  readonly dns: DNSConfig | null;
  /** Tailnet name ("" if never sent). */
  readonly domain: string;
  readonly collectServices: boolean;
  /** Effective filter: the named chunks concatenated in name order. */
  readonly packetFilter: readonly FilterRule[];
  /** True once any PacketFilter/PacketFilters was received (before that, nothing is allowed in). */
  readonly packetFilterKnown: boolean;
  readonly userProfiles: ReadonlyMap<UserID, UserProfile>;
  readonly sshPolicy: JSONValue | null;
  readonly health: readonly string[];
  readonly displayMessages: ReadonlyMap<string, DisplayMessage>;
  readonly tkaInfo: JSONValue | null;
  readonly domainAuditLogID: string;
  readonly controlTime: string | null;
  /** Self node's Name minus its first label, no trailing dot (e.g. "tail1234.ts.net"). */
  readonly magicDNSSuffix: string;
}

export interface ApplyResult {
  /** The message was a keep-alive (only PingRequest, ControlTime, PopBrowserURL were looked at). */
  readonly keepAlive: boolean;
  /** The netmap changed (a non-keep-alive message was applied). */
  readonly changed: boolean;
  /** A PingRequest whose URL differs from the previous one. */
  readonly pingRequest?: PingRequest;
  /** A PopBrowserURL different from the previous one. */
  readonly popBrowserURL?: string;
}

function parseLegacyDERP(s: string): number {
  const ap = parseAddrPort(s);
  return ap && ap.ip === DERP_MAGIC_IP ? ap.port : 0;
}

/** Fills modern fields from deprecated ones (a copy; input untouched). */
export function normalizeNode(n: Node, isSelf = false): Node {
  const out: Node = { ...n };
  if (out.DERP !== undefined && out.DERP !== '') {
    if (!out.HomeDERP) {
      const region = parseLegacyDERP(out.DERP);
      if (region) out.HomeDERP = region;
    }
    delete out.DERP;
  }
  if (out.AllowedIPs === undefined || out.AllowedIPs === null) out.AllowedIPs = out.Addresses ? [...out.Addresses] : [];
  if (isSelf && out.Capabilities && out.Capabilities.length) {
    const cm = { ...(out.CapMap ?? {}) };
    for (const c of out.Capabilities) if (!(c in cm)) cm[c] = null;
    out.CapMap = cm;
  }
  return out;
}

/** MagicDNS suffix from a self node name: drop the first label and the trailing dot. */
export function magicDNSSuffixOf(name: string | undefined): string {
  if (!name) return '';
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const i = n.indexOf('.');
  return i < 0 ? '' : n.slice(i + 1);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export interface NetmapStateOptions {
  /** URL of the last PingRequest answered (dedup carries across sessions). */
  lastPingURL?: string;
}

export class NetmapState {
  private self: Node | null = null;
  private readonly peers = new Map<NodeID, Node>();
  private derpMap: DERPMap | null = null;
  private dns: DNSConfig | null = null;
  private domain = '';
  private collectServices = false;
  private readonly filterChunks = new Map<string, FilterRule[]>();
  private filterKnown = false;
  /** Effective filter, recomputed only when a filter field arrives (same array otherwise). */
  private effectiveFilter: FilterRule[] = [];
  private readonly userProfiles = new Map<UserID, UserProfile>();
  private sshPolicy: JSONValue | null = null;
  private health: string[] = [];
  private readonly displayMessages = new Map<string, DisplayMessage>();
  private tkaInfo: JSONValue | null = null;
  private domainAuditLogID = '';
  private controlTime: string | null = null;
  private lastPopBrowserURL = '';
  /** URL of the last PingRequest seen. */
  lastPingURL: string;
  /** Number of non-keep-alive messages applied. */
  applied = 0;

  constructor(opts: NetmapStateOptions = {}) {
    this.lastPingURL = opts.lastPingURL ?? '';
  }

  get hasSelf(): boolean {
    return this.self !== null;
  }

  /** Applies one MapResponse. `now` is used for PeerSeenChange=true. */
  apply(resp: MapResponse, now: Date = new Date()): ApplyResult {
    let pingRequest: PingRequest | undefined;
    let popBrowserURL: string | undefined;
    const pr = resp.PingRequest;
    if (isObj(pr) && typeof pr.URL === 'string' && pr.URL !== '' && pr.URL !== this.lastPingURL) {
      this.lastPingURL = pr.URL;
      pingRequest = pr;
    }
    if (typeof resp.ControlTime === 'string' && resp.ControlTime !== '') this.controlTime = resp.ControlTime;
    if (typeof resp.PopBrowserURL === 'string' && resp.PopBrowserURL !== '' && resp.PopBrowserURL !== this.lastPopBrowserURL) {
      this.lastPopBrowserURL = resp.PopBrowserURL;
      popBrowserURL = resp.PopBrowserURL;
    }
    const effects = {
      ...(pingRequest ? { pingRequest } : {}),
      ...(popBrowserURL ? { popBrowserURL } : {}),
    };
    if (resp.KeepAlive === true) return { keepAlive: true, changed: false, ...effects };

    this.applyPeers(resp, now);
    if (isObj(resp.Node)) this.self = normalizeNode(resp.Node, true);
    for (const up of resp.UserProfiles ?? []) {
      if (isObj(up) && typeof up.ID === 'number') this.userProfiles.set(up.ID, up);
    }
    if (isObj(resp.DERPMap)) this.applyDERPMap(resp.DERPMap);
    this.applyFilters(resp);
    if (isObj(resp.DNSConfig)) this.dns = resp.DNSConfig;
    if (resp.SSHPolicy !== undefined && resp.SSHPolicy !== null) this.sshPolicy = resp.SSHPolicy;
    const cs = resp.CollectServices;
    if (cs === true || cs === 'true') this.collectServices = true;
    else if (cs === false || cs === 'false') this.collectServices = false;
    if (typeof resp.Domain === 'string' && resp.Domain !== '') this.domain = resp.Domain;
    if (typeof resp.DomainDataPlaneAuditLogID === 'string' && resp.DomainDataPlaneAuditLogID !== '') {
      this.domainAuditLogID = resp.DomainDataPlaneAuditLogID;
    }
    if (Array.isArray(resp.Health)) this.health = resp.Health.filter((h): h is string => typeof h === 'string');
    if (isObj(resp.DisplayMessages)) {
      const dm = resp.DisplayMessages;
      if ('*' in dm && dm['*'] === null) this.displayMessages.clear();
      for (const [k, v] of Object.entries(dm)) {
        if (k === '*') continue;
        if (v === null || v === undefined) this.displayMessages.delete(k);
        else this.displayMessages.set(k, v);
      }
    }
    if (resp.TKAInfo !== undefined && resp.TKAInfo !== null) this.tkaInfo = resp.TKAInfo;
    this.applied++;
    return { keepAlive: false, changed: true, ...effects };
  }

  private applyPeers(resp: MapResponse, now: Date): void {
    const full = resp.Peers;
    if (Array.isArray(full) && full.length > 0) {
      // A complete list: replaces everything; deltas in the same message are ignored.
      const keep = new Set<NodeID>();
      for (const n of full) {
        keep.add(n.ID);
        this.peers.set(n.ID, normalizeNode(n));
      }
      for (const id of [...this.peers.keys()]) if (!keep.has(id)) this.peers.delete(id);
      return;
    }
    for (const id of resp.PeersRemoved ?? []) this.peers.delete(id);
    for (const n of resp.PeersChanged ?? []) this.peers.set(n.ID, normalizeNode(n));
    if (isObj(resp.PeerSeenChange)) {
      for (const [k, seen] of Object.entries(resp.PeerSeenChange)) {
        const id = Number(k);
        const p = this.peers.get(id);
        if (!p) continue;
        const np: Node = { ...p };
        if (seen) np.LastSeen = now.toISOString();
        else delete np.LastSeen;
        this.peers.set(id, np);
      }
    }
    if (isObj(resp.OnlineChange)) {
      for (const [k, online] of Object.entries(resp.OnlineChange)) {
        const id = Number(k);
        const p = this.peers.get(id);
        if (!p) continue;
        this.peers.set(id, { ...p, Online: online === true });
      }
    }
    for (const pc of resp.PeersChangedPatch ?? []) {
      const p = this.peers.get(pc.NodeID);
      if (!p) continue;
      const np: Node = { ...p };
      if (typeof pc.DERPRegion === 'number' && pc.DERPRegion !== 0) np.HomeDERP = pc.DERPRegion;
      if (typeof pc.Cap === 'number' && pc.Cap !== 0) np.Cap = pc.Cap;
      if (Array.isArray(pc.Endpoints)) np.Endpoints = [...pc.Endpoints];
      if (typeof pc.Key === 'string') np.Key = pc.Key;
      if (typeof pc.DiscoKey === 'string') np.DiscoKey = pc.DiscoKey;
      if (typeof pc.Online === 'boolean') np.Online = pc.Online;
      if (typeof pc.LastSeen === 'string') np.LastSeen = pc.LastSeen;
      if (typeof pc.KeyExpiry === 'string') np.KeyExpiry = pc.KeyExpiry;
      if (typeof pc.KeySignature === 'string') np.KeySignature = pc.KeySignature;
      if (isObj(pc.CapMap)) np.CapMap = pc.CapMap;
      this.peers.set(pc.NodeID, np);
    }
  }

  private applyDERPMap(dm: DERPMap): void {
    let regions: DERPMap['Regions'] = dm.Regions;
    if (isObj(regions)) {
      const clean: Record<string, NonNullable<(typeof regions)[string]>> = {};
      for (const [id, r] of Object.entries(regions)) if (r !== null && r !== undefined) clean[id] = r;
      regions = clean;
    }
    const next: DERPMap = { ...dm };
    if (regions !== undefined && regions !== null) next.Regions = regions;
    const prev = this.derpMap;
    if (prev) {
      if (regions === undefined || regions === null) {
        if (prev.Regions !== undefined) next.Regions = prev.Regions;
        if (prev.omitDefaultRegions !== undefined) next.omitDefaultRegions = prev.omitDefaultRegions;
        else delete next.omitDefaultRegions;
      }
      if (dm.HomeParams === undefined || dm.HomeParams === null) {
        if (prev.HomeParams !== undefined) next.HomeParams = prev.HomeParams;
      } else if (prev.HomeParams) {
        const hp = { ...dm.HomeParams };
        if (hp.RegionScore === undefined || hp.RegionScore === null) {
          if (prev.HomeParams.RegionScore !== undefined) hp.RegionScore = prev.HomeParams.RegionScore;
        }
        next.HomeParams = hp;
      }
    }
    this.derpMap = next;
  }

  private applyFilters(resp: MapResponse): void {
    if (!Array.isArray(resp.PacketFilter) && !isObj(resp.PacketFilters)) return;
    this.applyFilterChunks(resp);
    const names = [...this.filterChunks.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.effectiveFilter = names.flatMap((n) => this.filterChunks.get(n)!);
  }

  private applyFilterChunks(resp: MapResponse): void {
    if (Array.isArray(resp.PacketFilter)) {
      this.filterKnown = true;
      this.filterChunks.set('base', resp.PacketFilter);
    }
    const named = resp.PacketFilters;
    if (isObj(named)) {
      this.filterKnown = true;
      if ('*' in named && named['*'] === null) this.filterChunks.clear();
      for (const [k, v] of Object.entries(named)) {
        if (k === '*') continue;
        if (Array.isArray(v)) this.filterChunks.set(k, v);
        else this.filterChunks.delete(k);
      }
    }
  }

  /** Effective packet filter (chunks concatenated in name order); the same array until the filter changes. */
  packetFilter(): readonly FilterRule[] {
    return this.effectiveFilter;
  }

  /** A snapshot of the current map. Null until the self node is known. */
  netmap(): NetworkMap | null {
    if (!this.self) return null;
    const peers = [...this.peers.values()].sort((a, b) => a.ID - b.ID);
    return {
      self: this.self,
      peers,
      derpMap: this.derpMap,
      dns: this.dns,
      domain: this.domain,
      collectServices: this.collectServices,
      packetFilter: this.packetFilter(),
      packetFilterKnown: this.filterKnown,
      userProfiles: new Map(this.userProfiles),
      sshPolicy: this.sshPolicy,
      health: [...this.health],
      displayMessages: new Map(this.displayMessages),
      tkaInfo: this.tkaInfo,
      domainAuditLogID: this.domainAuditLogID,
      controlTime: this.controlTime,
      magicDNSSuffix: magicDNSSuffixOf(this.self.Name),
    };
  }
}
