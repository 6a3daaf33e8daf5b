/**
 * Per-node trimming, as Tailscale's coordination server does it: a node sees
 * only peers it may talk to in either direction under the packet filter, and
 * receives only the filter rules (and destination entries) that name one of
 * its own addresses as a destination. Pure.
 */
import type { CapGrant, FilterRule, NetPortRange } from '../wire/tailcfg.js';
import { bytesEqual, compareIP, parseIP, parsePrefix, prefixContains } from '../wire/ip.js';

/** Whether an address spec ("*", IP, CIDR, "a-b" range) covers any of `addrs`. */
export function specMatches(spec: string, addrs: readonly Uint8Array[]): boolean {
  if (spec === '*') return true;
  if (spec.includes('/')) {
    const p = parsePrefix(spec);
    return !!p && addrs.some((a) => prefixContains(p, a));
  }
  const dash = spec.indexOf('-');
  if (dash > 0) {
    const lo = parseIP(spec.slice(0, dash));
    const hi = parseIP(spec.slice(dash + 1));
    return !!lo && !!hi && addrs.some((a) => a.length === lo.length && compareIP(a, lo) >= 0 && compareIP(a, hi) <= 0);
  }
  const ip = parseIP(spec);
  return !!ip && addrs.some((a) => bytesEqual(a, ip));
}

export function parseAddrs(addresses: readonly string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const a of addresses) {
    const ip = parseIP(a.split('/')[0]!);
    if (ip) out.push(ip);
  }
  return out;
}

function srcMatches(rule: FilterRule, addrs: readonly Uint8Array[]): boolean {
  return (rule.SrcIPs ?? []).some((s) => !s.startsWith('cap:') && specMatches(s, addrs));
}

function dstMatches(rule: FilterRule, addrs: readonly Uint8Array[]): boolean {
  if ((rule.DstPorts ?? []).some((d) => specMatches(d.IP, addrs))) return true;
  return (rule.CapGrant ?? []).some((g) => (g.Dsts ?? []).some((d) => specMatches(d, addrs)));
}

/** True if some rule lets `from` reach `to`. */
export function allows(rules: readonly FilterRule[], from: readonly Uint8Array[], to: readonly Uint8Array[]): boolean {
  return rules.some((r) => srcMatches(r, from) && dstMatches(r, to));
}

/** Peers may see each other if either may reach the other. */
export function mutuallyVisible(rules: readonly FilterRule[], a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return allows(rules, a, b) || allows(rules, b, a);
}

/** The rules relevant to a node as a destination, with other destinations removed. */
export function filterForNode(rules: readonly FilterRule[], self: readonly Uint8Array[]): FilterRule[] {
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
