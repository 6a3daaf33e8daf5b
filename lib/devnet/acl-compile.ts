/**
 * Compiles a Policy against the current set of nodes into packet-filter rules
 * (tailcfg.FilterRule, docs/protocol/filter.md §1) and node capability maps. Pure: the
 * same policy and nodes always give the same rules.
 *
 * Selector meaning (as in Tailscale's policy file):
 *   "*"                 any source / any destination address
 *   "alice@example.com" the user's untagged nodes
 *   "group:x"           untagged nodes of the group's users
 *   "tag:x"             nodes carrying the tag
 *   "autogroup:member"  all untagged nodes (every user of this tailnet is a member)
 *   "autogroup:tagged"  all tagged nodes
 *   "autogroup:self"    (destination only) the source user's own untagged nodes
 *   host alias, IP, CIDR, "a-b" range: those addresses
 */
import type { CapMap, FilterRule, NetPortRange } from '../wire/tailcfg.js';
import { parseIP } from '../wire/ip.js';
import { relayTargetRule } from './peer-relay-grants.js';
import { DEFAULT_POLICY, parseGrantIP, parsePorts, parseProto, splitHostPorts, type Policy, type PortRangeSpec } from './policy.js';

/** What the compiler needs to know about a node. */
export interface PolicyNode {
  id: number;
  /** Bare addresses, e.g. ["100.64.0.1", "fd7a:115c:a1e0::6440:1"]. */
  addresses: string[];
  /** Owner's login name (ignored for tagged nodes). */
  user: string;
  tags: string[];
}

interface Resolved {
  wildcard: boolean;
  nodes: Set<number>;
  /** Literal IPs/prefixes/ranges. */
  literals: Set<string>;
}

function emptyResolved(): Resolved {
  return { wildcard: false, nodes: new Set(), literals: new Set() };
}

function isTagged(n: PolicyNode): boolean {
  return n.tags.length > 0;
}

class Resolver {
  constructor(
    private readonly policy: Policy,
    private readonly nodes: readonly PolicyNode[],
  ) {}

  usersOf(sel: string): Set<string> | null {
    if (sel.startsWith('group:')) return new Set(this.policy.groups?.[sel] ?? []);
    if (sel.includes('@') && !sel.includes(':')) return new Set([sel]);
    return null;
  }

  into(out: Resolved, sel: string): void {
    if (sel === '*') {
      out.wildcard = true;
      return;
    }
    const add = (pred: (n: PolicyNode) => boolean): void => {
      for (const n of this.nodes) if (pred(n)) out.nodes.add(n.id);
    };
    if (sel === 'autogroup:member') return add((n) => !isTagged(n));
    if (sel === 'autogroup:tagged') return add(isTagged);
    if (sel === 'autogroup:internet' || sel === 'autogroup:self') return; // self is handled per user; internet needs exit nodes
    if (sel.startsWith('tag:')) return add((n) => n.tags.includes(sel));
    if (sel.startsWith('group:')) {
      const members = this.policy.groups?.[sel] ?? [];
      if (members.includes('autogroup:member')) return add((n) => !isTagged(n));
      const users = new Set(members.map((m) => m.toLowerCase()));
      return add((n) => !isTagged(n) && users.has(n.user.toLowerCase()));
    }
    if (sel.includes('@')) return add((n) => !isTagged(n) && n.user.toLowerCase() === sel.toLowerCase());
    const host = this.policy.hosts?.[sel];
    out.literals.add(host ?? sel);
  }

  resolve(sels: readonly string[]): Resolved {
    const out = emptyResolved();
    for (const s of sels) this.into(out, s);
    return out;
  }

  /** Bare node addresses and literals, sorted; ["*"] for a wildcard. */
  ips(r: Resolved, asPrefixes = false): string[] {
    if (r.wildcard) return asPrefixes ? ['0.0.0.0/0', '::/0'] : ['*'];
    const out = new Set<string>();
    for (const n of this.nodes) {
      if (!r.nodes.has(n.id)) continue;
      for (const a of n.addresses) out.add(asPrefixes ? hostPrefix(a) : a);
    }
    for (const l of r.literals) out.add(asPrefixes && !l.includes('/') && !l.includes('-') ? hostPrefix(l) : l);
    return sortAddrs([...out]);
  }
}

function hostPrefix(ip: string): string {
  const a = parseIP(ip);
  return a ? `${ip}/${a.length * 8}` : ip;
}

function sortAddrs(list: string[]): string[] {
  // IPv4 before IPv6, then text order: stable and readable.
  return list.sort((a, b) => {
    const fa = a.includes(':') ? 1 : 0;
    const fb = b.includes(':') ? 1 : 0;
    return fa - fb || (a < b ? -1 : a > b ? 1 : 0);
  });
}

function portRanges(ips: string[], ports: PortRangeSpec[]): NetPortRange[] {
  const out: NetPortRange[] = [];
  for (const ip of ips) for (const p of ports) out.push({ IP: ip, Ports: { First: p.first, Last: p.last } });
  return out;
}

/** Users that own untagged nodes, in node order. */
function usersWithNodes(nodes: readonly PolicyNode[]): string[] {
  const seen = new Set<string>();
  for (const n of nodes) if (!isTagged(n)) seen.add(n.user);
  return [...seen];
}

/**
 * Rules for one (src, dst-with-ports) pair; handles autogroup:self by
 * emitting one rule per user whose nodes are both source and destination.
 */
function rulesFor(
  r: Resolver,
  nodes: readonly PolicyNode[],
  src: readonly string[],
  dsts: Array<{ host: string; ports: PortRangeSpec[] }>,
  protos: number[],
): FilterRule[] {
  const out: FilterRule[] = [];
  const srcRes = r.resolve(src);
  const srcIPs = r.ips(srcRes);
  const plainDst: NetPortRange[] = [];
  const selfPorts: PortRangeSpec[] = [];
  for (const d of dsts) {
    if (d.host === 'autogroup:self') {
      selfPorts.push(...d.ports);
      continue;
    }
    plainDst.push(...portRanges(r.ips(r.resolve([d.host])), d.ports));
  }
  const withProto = (rule: FilterRule): FilterRule => (protos.length ? { ...rule, IPProto: protos } : rule);
  if (srcIPs.length && plainDst.length) out.push(withProto({ SrcIPs: srcIPs, DstPorts: plainDst }));
  if (selfPorts.length) {
    for (const user of usersWithNodes(nodes)) {
      const own = nodes.filter((n) => !isTagged(n) && n.user === user);
      const srcNodes = own.filter((n) => srcRes.wildcard || srcRes.nodes.has(n.id));
      if (!srcNodes.length) continue;
      const s = sortAddrs(srcNodes.flatMap((n) => n.addresses));
      const d = sortAddrs(own.flatMap((n) => n.addresses));
      out.push(withProto({ SrcIPs: s, DstPorts: portRanges(d, selfPorts) }));
    }
  }
  return out;
}

/** The packet filter every node receives. A missing policy means allow-all. */
export function compileFilter(policy: Policy | null | undefined, nodes: readonly PolicyNode[]): FilterRule[] {
  const p = policy ?? DEFAULT_POLICY;
  const r = new Resolver(p, nodes);
  const rules: FilterRule[] = [];
  for (const acl of p.acls ?? []) {
    const dsts = acl.dst.map((d) => {
      const hp = splitHostPorts(d)!;
      return { host: hp.host, ports: parsePorts(hp.ports)! };
    });
    const protos = acl.proto !== undefined ? parseProto(acl.proto)! : [];
    rules.push(...rulesFor(r, nodes, acl.src, dsts, protos));
  }
  for (const g of p.grants ?? []) {
    if (g.ip) {
      // One rule per distinct protocol set.
      const byProto = new Map<string, { protos: number[]; ports: PortRangeSpec[] }>();
      for (const spec of g.ip.map((x) => parseGrantIP(x)!)) {
        const key = spec.protos.join(',');
        const e = byProto.get(key) ?? { protos: spec.protos, ports: [] };
        e.ports.push(...spec.ports);
        byProto.set(key, e);
      }
      for (const { protos, ports } of byProto.values()) {
        rules.push(...rulesFor(r, nodes, g.src, g.dst.map((host) => ({ host, ports })), protos));
      }
    }
    if (g.app) {
      const capMap: CapMap = {};
      for (const [k, v] of Object.entries(g.app)) capMap[k] = v;
      const srcRes = r.resolve(g.src);
      const srcIPs = r.ips(srcRes);
      const plain = g.dst.filter((d) => d !== 'autogroup:self');
      const dsts = r.ips(r.resolve(plain), true);
      if (srcIPs.length && dsts.length) rules.push({ SrcIPs: srcIPs, CapGrant: [{ Dsts: dsts, CapMap: capMap }] });
      // Peer relays: the relays' companion grant toward the clients (peer-relay-grants.ts).
      const relayTarget = srcIPs.length && dsts.length ? relayTargetRule(capMap, r.ips(r.resolve(plain)), r.ips(srcRes, true)) : null;
      if (relayTarget) rules.push(relayTarget);
      if (g.dst.includes('autogroup:self')) {
        for (const user of usersWithNodes(nodes)) {
          const own = nodes.filter((n) => !isTagged(n) && n.user === user);
          const srcNodes = own.filter((n) => srcRes.wildcard || srcRes.nodes.has(n.id));
          if (!srcNodes.length) continue;
          rules.push({
            SrcIPs: sortAddrs(srcNodes.flatMap((n) => n.addresses)),
            CapGrant: [{ Dsts: sortAddrs(own.flatMap((n) => n.addresses.map(hostPrefix))), CapMap: capMap }],
          });
        }
      }
    }
  }
  return rules;
}

/** Node attributes (nodeAttrs) for one node, as a CapMap; null when none apply. */
export function compileNodeCapMap(policy: Policy | null | undefined, nodes: readonly PolicyNode[], node: PolicyNode): CapMap | null {
  const p = policy ?? DEFAULT_POLICY;
  if (!p.nodeAttrs?.length) return null;
  const r = new Resolver(p, nodes);
  const out: CapMap = {};
  let any = false;
  for (const na of p.nodeAttrs) {
    const res = r.resolve(na.target);
    const hit = res.wildcard || res.nodes.has(node.id) || node.addresses.some((a) => res.literals.has(a));
    if (!hit) continue;
    for (const a of na.attr ?? []) {
      out[a] = out[a] ?? null;
      any = true;
    }
    for (const [k, v] of Object.entries(na.app ?? {})) {
      out[k] = [...(out[k] ?? []), ...v];
      any = true;
    }
  }
  return any ? out : null;
}

/**
 * Whether `user` may apply `tag` to its node (tagOwners). Owners are users,
 * groups, autogroup:member, or other tags (not followed here: a tag owner
 * that is a tag does not make a user an owner).
 */
export function userOwnsTag(policy: Policy | null | undefined, user: string, tag: string): boolean {
  const owners = policy?.tagOwners?.[tag];
  if (!owners) return false;
  const u = user.toLowerCase();
  for (const o of owners) {
    if (o === 'autogroup:member') return true;
    if (o.toLowerCase() === u) return true;
    if (o.startsWith('group:')) {
      const members = policy?.groups?.[o] ?? [];
      if (members.includes('autogroup:member') || members.some((m) => m.toLowerCase() === u)) return true;
    }
  }
  return false;
}
