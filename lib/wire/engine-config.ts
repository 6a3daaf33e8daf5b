/**
 * Netmap → a plain structure the data plane can take: peers (WireGuard and
 * disco keys, allowed IPs, endpoints, home DERP), own addresses, the compiled
 * packet filter, and MagicDNS names.
 */
import { selfNodeAttrs, type SelfNodeAttrs } from './node-attrs.js';
import { ControlError } from './errors.js';
import { compileFilter, type CompiledFilter } from './filter.js';
import { parsePrefix } from './ip.js';
import { isLowOrderKey, isZeroKey, parseDiscoPublic, parseNodePublic } from './keys.js';
import type { NetworkMap } from './netmap.js';
import type { DERPMap, DNSRecord, FilterRule, Node, NodeID } from './tailcfg.js';

export interface EnginePeer {
  readonly id: NodeID;
  readonly stableID: string;
  /** FQDN without trailing dot ("" if none). */
  readonly name: string;
  /** WireGuard public key (32 bytes). */
  readonly nodeKey: Buffer;
  readonly nodeKeyText: string;
  /** Disco public key, or null if the peer has none (no disco: DERP only / WireGuard-only). */
  readonly discoKey: Buffer | null;
  /** Routes to this peer ("ip/bits"); defaults to its addresses. */
  readonly allowedIPs: readonly string[];
  /** The peer's own addresses ("ip/bits"). */
  readonly addresses: readonly string[];
  /** UDP candidates "ip:port". */
  readonly endpoints: readonly string[];
  /** Home DERP region (0 = unknown). */
  readonly homeDERP: number;
  readonly online: boolean | null;
  readonly keyExpiry: string | null;
  readonly isWireGuardOnly: boolean;
  readonly tags: readonly string[];
  readonly user: number;
}

export interface EngineDERPNode {
  readonly name: string;
  readonly regionID: number;
  readonly hostName: string;
  /** Fixed IPv4 to dial, or null to resolve hostName. */
  readonly ipv4: string | null;
  /** False when the map says "none" for IPv4. */
  readonly useIPv4: boolean;
  readonly ipv6: string | null;
  readonly useIPv6: boolean;
  /** TLS port (DERPPort 0 ⇒ 443). */
  readonly derpPort: number;
  /** STUN port (0 ⇒ 3478), or null when the node has no STUN (-1). */
  readonly stunPort: number | null;
  readonly stunOnly: boolean;
  /** Expected certificate name ("" = hostName); may be "sha256-raw:<hex>". */
  readonly certName: string;
  readonly insecureForTests: boolean;
  readonly canPort80: boolean;
}

export interface EngineDERPRegion {
  readonly id: number;
  readonly code: string;
  readonly name: string;
  readonly avoid: boolean;
  readonly noMeasureNoHome: boolean;
  /** Nodes in preference order (the first is preferred). */
  readonly nodes: readonly EngineDERPNode[];
}

export interface MagicDNSName {
  /** Lower-case FQDN without trailing dot. */
  readonly name: string;
  /** Bare IP addresses. */
  readonly addrs: readonly string[];
}

export interface EngineConfig {
  readonly selfID: NodeID;
  readonly selfName: string;
  /** Own addresses as "ip/bits". */
  readonly addresses: readonly string[];
  readonly peers: readonly EnginePeer[];
  /** Peers left out (expired key, bad key) with the reason. */
  readonly skippedPeers: ReadonlyArray<{ id: NodeID; reason: string }>;
  readonly derpMap: DERPMap | null;
  /** The DERP map as a sorted list with defaults applied. */
  readonly derpRegions: readonly EngineDERPRegion[];
  readonly filter: CompiledFilter;
  readonly magicDNSSuffix: string;
  /** FQDN → addresses for self and peers; short names (first label) too when unique. */
  readonly dnsNames: readonly MagicDNSName[];
  readonly extraRecords: readonly DNSRecord[];
  /** MagicDNS enabled by control (DNSConfig.Proxied). */
  readonly magicDNS: boolean;
  readonly certDomains: readonly string[];
  /** Our own node attributes that change what the data plane does (lib/wire/node-attrs.ts). */
  readonly nodeAttrs: SelfNodeAttrs;
  /** Destinations served without being own addresses (service VIPs, advertised routes; lib/server/foreign.ts). */
  readonly foreign?: readonly string[];
}

// Netmap deltas that do not touch the filter keep the same rules array: compile once per array.
const compiledFilters = new WeakMap<readonly FilterRule[], CompiledFilter>();

function compiled(rules: readonly FilterRule[]): CompiledFilter {
  let f = compiledFilters.get(rules);
  if (!f) {
    f = compileFilter(rules);
    compiledFilters.set(rules, f);
  }
  return f;
}

function fqdn(name: string | undefined): string {
  if (!name) return '';
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

function bareIPs(prefixes: readonly string[] | null | undefined): string[] {
  const out: string[] = [];
  for (const p of prefixes ?? []) {
    const pre = parsePrefix(p);
    if (pre && pre.bits === pre.addr.length * 8) out.push(p.slice(0, p.lastIndexOf('/')));
  }
  return out;
}

function isExpired(n: Node, now: Date): boolean {
  if (n.Expired) return true;
  if (!n.KeyExpiry || n.KeyExpiry.startsWith('0001-01-01')) return false;
  const t = Date.parse(n.KeyExpiry);
  return Number.isFinite(t) && t <= now.getTime();
}

function ipField(v: string | undefined): { ip: string | null; use: boolean } {
  if (v === 'none') return { ip: null, use: false };
  if (!v) return { ip: null, use: true };
  return { ip: v, use: true };
}

/** DERP map → regions sorted by ID, nodes with port defaults (docs/protocol/derp.md §5). */
export function derpRegionsFrom(dm: DERPMap | null): EngineDERPRegion[] {
  const out: EngineDERPRegion[] = [];
  for (const [key, r] of Object.entries(dm?.Regions ?? {})) {
    if (!r) continue;
    const id = r.RegionID || Number(key);
    if (!Number.isSafeInteger(id) || id <= 0) continue;
    const nodes: EngineDERPNode[] = [];
    for (const n of r.Nodes ?? []) {
      if (!n || typeof n.HostName !== 'string') continue;
      const v4 = ipField(n.IPv4);
      const v6 = ipField(n.IPv6);
      const stun = n.STUNPort ?? 0;
      nodes.push({
        name: n.Name ?? '',
        regionID: id,
        hostName: n.HostName,
        ipv4: v4.ip,
        useIPv4: v4.use,
        ipv6: v6.ip,
        useIPv6: v6.use,
        derpPort: n.DERPPort && n.DERPPort > 0 ? n.DERPPort : 443,
        stunPort: stun < 0 ? null : stun === 0 ? 3478 : stun,
        stunOnly: n.STUNOnly === true,
        certName: n.CertName ?? '',
        insecureForTests: n.InsecureForTests === true,
        canPort80: n.CanPort80 === true,
      });
    }
    out.push({
      id,
      code: r.RegionCode ?? '',
      name: r.RegionName ?? '',
      avoid: r.Avoid === true,
      noMeasureNoHome: r.NoMeasureNoHome === true,
      nodes,
    });
  }
  return out.sort((a, b) => a.id - b.id);
}

const derpCache = new WeakMap<DERPMap, EngineDERPRegion[]>();

function derpRegionsCached(dm: DERPMap | null): EngineDERPRegion[] {
  if (!dm) return [];
  let r = derpCache.get(dm);
  if (!r) {
    r = derpRegionsFrom(dm);
    derpCache.set(dm, r);
  }
  return r;
}

export function engineConfigFromNetmap(nm: NetworkMap, now: Date = new Date()): EngineConfig {
  const peers: EnginePeer[] = [];
  const skipped: Array<{ id: NodeID; reason: string }> = [];
  for (const p of nm.peers) {
    let nodeKey: Buffer;
    try {
      nodeKey = parseNodePublic(p.Key);
    } catch (err) {
      skipped.push({ id: p.ID, reason: `bad node key: ${(err as ControlError).message}` });
      continue;
    }
    if (isZeroKey(nodeKey)) {
      skipped.push({ id: p.ID, reason: 'zero node key' });
      continue;
    }
    if (isLowOrderKey(nodeKey)) {
      // No handshake can succeed with it: leave it out rather than let dials to it time out.
      skipped.push({ id: p.ID, reason: 'low-order node key' });
      continue;
    }
    if (isExpired(p, now)) {
      skipped.push({ id: p.ID, reason: 'node key expired' });
      continue;
    }
    let discoKey: Buffer | null = null;
    if (p.DiscoKey) {
      try {
        const k = parseDiscoPublic(p.DiscoKey);
        discoKey = isZeroKey(k) ? null : k;
      } catch {
        discoKey = null;
      }
    }
    peers.push({
      id: p.ID,
      stableID: p.StableID ?? '',
      name: fqdn(p.Name),
      nodeKey,
      nodeKeyText: p.Key,
      discoKey,
      allowedIPs: [...(p.AllowedIPs ?? p.Addresses ?? [])],
      addresses: [...(p.Addresses ?? [])],
      endpoints: [...(p.Endpoints ?? [])],
      homeDERP: p.HomeDERP ?? 0,
      online: p.Online ?? null,
      keyExpiry: p.KeyExpiry && !p.KeyExpiry.startsWith('0001-01-01') ? p.KeyExpiry : null,
      isWireGuardOnly: p.IsWireGuardOnly === true,
      tags: [...(p.Tags ?? [])],
      user: p.User ?? 0,
    });
  }

  const dnsNames: MagicDNSName[] = [];
  const suffix = nm.magicDNSSuffix.toLowerCase();
  const shortCount = new Map<string, number>();
  const entries: Array<{ name: string; addrs: string[] }> = [];
  for (const n of [nm.self, ...nm.peers]) {
    const name = fqdn(n.Name);
    if (!name) continue;
    const addrs = bareIPs(n.Addresses);
    entries.push({ name, addrs });
    if (suffix && name.endsWith('.' + suffix)) {
      const short = name.slice(0, -(suffix.length + 1));
      if (!short.includes('.')) shortCount.set(short, (shortCount.get(short) ?? 0) + 1);
    }
  }
  for (const e of entries) {
    dnsNames.push(e);
    if (suffix && e.name.endsWith('.' + suffix)) {
      const short = e.name.slice(0, -(suffix.length + 1));
      if (!short.includes('.') && shortCount.get(short) === 1) dnsNames.push({ name: short, addrs: e.addrs });
    }
  }

  return {
    selfID: nm.self.ID,
    selfName: fqdn(nm.self.Name),
    addresses: [...(nm.self.Addresses ?? [])],
    peers,
    skippedPeers: skipped,
    derpMap: nm.derpMap,
    derpRegions: derpRegionsCached(nm.derpMap),
    filter: compiled(nm.packetFilter),
    magicDNSSuffix: suffix,
    dnsNames,
    extraRecords: [...(nm.dns?.ExtraRecords ?? [])],
    magicDNS: nm.dns?.Proxied === true,
    certDomains: [...(nm.dns?.CertDomains ?? [])],
    nodeAttrs: selfNodeAttrs(nm.self.CapMap),
  };
}
