/**
 * Packet-filter compiler (docs/protocol/filter.md §1): tailcfg FilterRules → a flat
 * structure a native filter can walk, plus a reference matcher in JS.
 *
 * Rules only allow. Per rule: sources (prefixes and/or `cap:` node
 * capabilities), destination prefixes with port ranges, IP protocols
 * (default TCP, UDP, ICMPv4, ICMPv6). CapGrant rules carry application
 * capabilities (for WhoIs) and never allow packets.
 */
import type { CapMap, FilterRule } from './tailcfg.js';
import { parseIP, parseIPOrPrefix, parsePrefix, prefixContains, rangeToPrefixes, type IPPrefix } from './ip.js';

export const PROTO_ICMPV4 = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;
export const PROTO_SCTP = 132;
export const PROTO_TSMP = 99;
export const DEFAULT_PROTOCOLS: readonly number[] = [PROTO_TCP, PROTO_UDP, PROTO_ICMPV4, PROTO_ICMPV6];

export interface DstPortRange {
  readonly net: IPPrefix;
  readonly first: number;
  readonly last: number;
}

/** One allow rule. A packet matches if proto ∈ protocols, src ∈ srcs (or the source node has one of srcCaps), dst ∈ dsts with port in range. */
export interface FilterMatch {
  readonly protocols: readonly number[];
  readonly srcs: readonly IPPrefix[];
  readonly srcCaps: readonly string[];
  readonly dsts: readonly DstPortRange[];
}

/** Application capabilities granted from srcs toward dsts (WhoIs CapMap). */
export interface CapGrantMatch {
  readonly srcs: readonly IPPrefix[];
  readonly srcCaps: readonly string[];
  readonly dsts: readonly IPPrefix[];
  readonly caps: CapMap;
}

export interface CompiledFilter {
  readonly matches: readonly FilterMatch[];
  readonly capGrants: readonly CapGrantMatch[];
  /** Problems found; bad entries are skipped, the rest still applies (as Tailscale does). */
  readonly errors: readonly string[];
  /** True when a rule used deprecated SrcBits/Bits: Tailscale then refuses the whole filter (matches is empty). */
  readonly rejected: boolean;
}

const ALL_V4 = parsePrefix('0.0.0.0/0')!;
const ALL_V6 = parsePrefix('::/0')!;

/** Parses a SrcIPs / DstPorts.IP entry: "*", "ip", "ip/bits" (no host bits), "a-b". */
export function parseIPSet(s: string): IPPrefix[] | string {
  if (s === '*') return [ALL_V4, ALL_V6];
  const dash = s.indexOf('-');
  if (dash > 0 && !s.includes('/')) {
    const from = parseIP(s.slice(0, dash));
    const to = parseIP(s.slice(dash + 1));
    if (!from || !to) return `invalid IP range ${JSON.stringify(s)}`;
    const r = rangeToPrefixes(from, to);
    return r ?? `invalid IP range ${JSON.stringify(s)}`;
  }
  if (s.includes('/')) {
    const p = parsePrefix(s, true);
    if (!p) return parsePrefix(s) ? `prefix ${JSON.stringify(s)} has host bits set` : `invalid prefix ${JSON.stringify(s)}`;
    return [p];
  }
  const p = parseIPOrPrefix(s);
  return p ? [p] : `invalid IP ${JSON.stringify(s)}`;
}

function protocolsOf(r: FilterRule): number[] {
  if (!r.IPProto || r.IPProto.length === 0) return [...DEFAULT_PROTOCOLS];
  const out: number[] = [];
  for (const p of r.IPProto) if (Number.isInteger(p) && p >= 0 && p <= 255 && !out.includes(p)) out.push(p);
  return out;
}

function sourcesOf(r: FilterRule, errors: string[]): { srcs: IPPrefix[]; srcCaps: string[] } {
  const srcs: IPPrefix[] = [];
  const srcCaps: string[] = [];
  for (const s of r.SrcIPs ?? []) {
    if (typeof s !== 'string') {
      errors.push('non-string SrcIPs entry');
      continue;
    }
    if (s.startsWith('cap:')) {
      srcCaps.push(s.slice(4));
      continue;
    }
    const set = parseIPSet(s);
    if (typeof set === 'string') errors.push(`SrcIPs: ${set}`);
    else srcs.push(...set);
  }
  return { srcs, srcCaps };
}

export function compileFilter(rules: readonly FilterRule[]): CompiledFilter {
  const matches: FilterMatch[] = [];
  const capGrants: CapGrantMatch[] = [];
  const errors: string[] = [];
  for (const r of rules) {
    if (r === null || typeof r !== 'object') {
      errors.push('filter rule is not an object');
      continue;
    }
    if (Array.isArray(r.SrcBits) && r.SrcBits.length > 0) {
      return { matches: [], capGrants: [], errors: ['filter uses deprecated SrcBits; whole filter refused'], rejected: true };
    }
    const { srcs, srcCaps } = sourcesOf(r, errors);
    if (r.DstPorts && r.DstPorts.length) {
      const dsts: DstPortRange[] = [];
      for (const d of r.DstPorts) {
        if (d === null || typeof d !== 'object') continue;
        if (d.Bits !== undefined && d.Bits !== null) {
          return { matches: [], capGrants: [], errors: ['filter uses deprecated DstPorts.Bits; whole filter refused'], rejected: true };
        }
        const set = typeof d.IP === 'string' ? parseIPSet(d.IP) : 'missing DstPorts.IP';
        if (typeof set === 'string') {
          errors.push(`DstPorts: ${set}`);
          continue;
        }
        const first = d.Ports?.First ?? 0;
        const last = d.Ports?.Last ?? 0;
        if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last > 65535 || first > last) {
          errors.push(`DstPorts: invalid port range ${first}-${last}`);
          continue;
        }
        for (const net of set) dsts.push({ net, first, last });
      }
      matches.push({ protocols: protocolsOf(r), srcs, srcCaps, dsts });
    }
    for (const g of r.CapGrant ?? []) {
      if (g === null || typeof g !== 'object') continue;
      const dsts: IPPrefix[] = [];
      for (const d of g.Dsts ?? []) {
        const p = typeof d === 'string' ? parseIPOrPrefix(d) : null;
        if (p) dsts.push(p);
        else errors.push(`CapGrant.Dsts: invalid prefix ${JSON.stringify(d)}`);
      }
      const caps: CapMap = { ...(g.CapMap ?? {}) };
      for (const c of g.Caps ?? []) if (!(c in caps)) caps[c] = null;
      capGrants.push({ srcs, srcCaps, dsts, caps });
    }
  }
  return { matches, capGrants, errors, rejected: false };
}

export interface PacketInfo {
  proto: number;
  src: string;
  dst: string;
  /** Destination port (TCP/UDP/SCTP); ignored for ICMP. */
  dstPort?: number;
  /** Node capabilities the source node holds (for `cap:` sources). */
  srcNodeCaps?: readonly string[];
}

function srcMatches(m: { srcs: readonly IPPrefix[]; srcCaps: readonly string[] }, src: Uint8Array, caps: readonly string[]): boolean {
  return m.srcs.some((p) => prefixContains(p, src)) || m.srcCaps.some((c) => caps.includes(c));
}

/**
 * Reference evaluation of the rule-match step for a new inbound flow (TCP SYN,
 * UDP without recent outbound state, ICMP request, other protocols). The
 * stateful parts of docs/protocol/filter.md §1 (non-SYN TCP, UDP reply tracking, ICMP replies, local
 * address check) belong to the packet path.
 */
export function filterAllows(f: CompiledFilter, pkt: PacketInfo): boolean {
  const src = parseIP(pkt.src);
  const dst = parseIP(pkt.dst);
  if (!src || !dst) return false;
  const caps = pkt.srcNodeCaps ?? [];
  const portless = pkt.proto === PROTO_ICMPV4 || pkt.proto === PROTO_ICMPV6;
  const knownPorts = pkt.proto === PROTO_TCP || pkt.proto === PROTO_UDP || pkt.proto === PROTO_SCTP;
  for (const m of f.matches) {
    if (!m.protocols.includes(pkt.proto)) continue;
    if (!srcMatches(m, src, caps)) continue;
    for (const d of m.dsts) {
      if (!prefixContains(d.net, dst)) continue;
      if (portless) return true;
      if (knownPorts) {
        const port = pkt.dstPort ?? 0;
        if (port >= d.first && port <= d.last) return true;
      } else if (d.first === 0 && d.last === 65535) {
        // Other protocols: only rules covering all ports.
        return true;
      }
    }
  }
  return false;
}

/** Application capabilities granted to `src` toward `dst` (union of matching CapGrants). */
export function capsGranted(f: CompiledFilter, src: string, dst: string, srcNodeCaps: readonly string[] = []): CapMap {
  const s = parseIP(src);
  const d = parseIP(dst);
  const out: CapMap = {};
  if (!s || !d) return out;
  for (const g of f.capGrants) {
    if (!srcMatches(g, s, srcNodeCaps)) continue;
    if (!g.dsts.some((p) => prefixContains(p, d))) continue;
    for (const [k, v] of Object.entries(g.caps)) {
      const prev = out[k];
      out[k] = v === null ? (prev ?? null) : [...(prev ?? []), ...v];
    }
  }
  return out;
}
