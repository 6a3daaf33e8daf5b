/**
 * Per-node trimming, as Tailscale's coordination server does it: a node sees
 * only peers it may talk to in either direction under the packet filter, and
 * receives only the filter rules (and destination entries) that name one of
 * its own addresses as a destination. Pure.
 */
import type { CapGrant, FilterRule, NetPortRange } from '../wire/tailcfg.js';
import { bytesEqual, compareIP, parseIP, parsePrefix, prefixContains, type IPPrefix } from '../wire/ip.js';

/**
 * A node's address, or a prefix it serves without owning it (a service VIP is a single address; an approved
 * subnet route a prefix: lib/devnet/services.ts), so rules naming them reach the node and make it visible.
 */
export type NodeAddr = Uint8Array | IPPrefix;

const isPrefix = (a: NodeAddr): a is IPPrefix => !(a instanceof Uint8Array);

/** Whether prefix p and node address a share an address. */
function overlaps(p: IPPrefix, a: NodeAddr): boolean {
  if (!isPrefix(a)) return prefixContains(p, a);
  return prefixContains(p, a.addr) || prefixContains(a, p.addr);
}

/** Whether an address spec ("*", IP, CIDR, "a-b" range) covers any of `addrs`. */
export function specMatches(spec: string, addrs: readonly NodeAddr[]): boolean {
  if (spec === '*') return true;
  if (spec.includes('/')) {
    const p = parsePrefix(spec);
    return !!p && addrs.some((a) => overlaps(p, a));
  }
  const dash = spec.indexOf('-');
  if (dash > 0) {
    const lo = parseIP(spec.slice(0, dash));
    const hi = parseIP(spec.slice(dash + 1));
    const inRange = (a: Uint8Array): boolean => !!lo && !!hi && a.length === lo.length && compareIP(a, lo) >= 0 && compareIP(a, hi) <= 0;
    return addrs.some((a) => (isPrefix(a) ? inRange(a.addr) || (!!lo && prefixContains(a, lo)) : inRange(a)));
  }
  const ip = parseIP(spec);
  return !!ip && addrs.some((a) => (isPrefix(a) ? prefixContains(a, ip) : bytesEqual(a, ip)));
}

export function parseAddrs(addresses: readonly string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const a of addresses) {
    const ip = parseIP(a.split('/')[0]!);
    if (ip) out.push(ip);
  }
  return out;
}

function srcMatches(rule: FilterRule, addrs: readonly NodeAddr[]): boolean {
  return (rule.SrcIPs ?? []).some((s) => !s.startsWith('cap:') && specMatches(s, addrs));
}

function dstMatches(rule: FilterRule, addrs: readonly NodeAddr[]): boolean {
  if ((rule.DstPorts ?? []).some((d) => specMatches(d.IP, addrs))) return true;
  return (rule.CapGrant ?? []).some((g) => (g.Dsts ?? []).some((d) => specMatches(d, addrs)));
}

/** True if some rule lets `from` reach `to`. */
export function allows(rules: readonly FilterRule[], from: readonly NodeAddr[], to: readonly NodeAddr[]): boolean {
  return rules.some((r) => srcMatches(r, from) && dstMatches(r, to));
}

/** Peers may see each other if either may reach the other. */
export function mutuallyVisible(rules: readonly FilterRule[], a: readonly NodeAddr[], b: readonly NodeAddr[]): boolean {
  return allows(rules, a, b) || allows(rules, b, a);
}

/** The rules relevant to a node as a destination, with other destinations removed. */
export function filterForNode(rules: readonly FilterRule[], self: readonly NodeAddr[]): FilterRule[] {
  const out: FilterRule[] = [];
  for (const r of rules) {
    if (r.CapGrant?.length) {
      const grants: CapGrant[] = r.CapGrant.filter((g) => (g.Dsts ?? []).some((d) => specMatches(d, self)));
      if (grants.length) out.push({ ...r, CapGrant: grants });
      continue;
    }
    const dsts: NetPortRange[] = (r.DstPorts ?? []).filter((d) => specMatches(d.IP, self));
    if (dsts.length) out.push({ ...r, DstPorts: dsts });
  }
  return out;
}
