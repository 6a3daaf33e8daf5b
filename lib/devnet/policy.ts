/**
 * The tailnet policy file: the common shapes of Tailscale's ACL policy
 * (HuJSON): `groups`, `tagOwners`, `hosts`, `acls`, `grants` (network `ip`
 * and application `app` capabilities), `nodeAttrs` and `tests`. Other
 * top-level sections (`ssh`, `autoApprovers`, ...) are accepted and ignored.
 *
 * `parsePolicy` checks the structure and every selector, so mistakes are
 * reported when the policy is set, not when a node joins.
 */
import { parseHuJSON, type HuJSONValue } from './hujson.js';
import { isIPSpec } from '../wire/ip.js';
import type { JSONValue } from '../wire/tailcfg.js';

export interface PolicyACL {
  action: 'accept';
  src: string[];
  /** "selector:ports", ports = "*", "22", "80,443", "1000-2000". */
  dst: string[];
  /** "tcp", "udp", "icmp", ... or an IP protocol number. */
  proto?: string | number;
}

export interface PolicyGrant {
  src: string[];
  dst: string[];
  /** "*", "443", "tcp:443", "udp:1000-2000", "icmp:*". */
  ip?: string[];
  /** Application capabilities: capability name → list of JSON values. */
  app?: Record<string, JSONValue[]>;
}

export interface PolicyNodeAttr {
  target: string[];
  attr?: string[];
  app?: Record<string, JSONValue[]>;
}

/** One entry of the `tests` section (checked by policy-tests.ts when the policy is set). */
export interface PolicyTestSpec {
  src: string;
  proto?: string | number;
  /** "destination:port" entries that must be reachable. */
  accept?: string[];
  /** "destination:port" entries that must not be reachable. */
  deny?: string[];
}

export interface Policy {
  groups?: Record<string, string[]>;
  tagOwners?: Record<string, string[]>;
  hosts?: Record<string, string>;
  acls?: PolicyACL[];
  grants?: PolicyGrant[];
  nodeAttrs?: PolicyNodeAttr[];
  tests?: PolicyTestSpec[];
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** Tailscale's default: everyone may reach everything. */
export const DEFAULT_POLICY: Policy = { acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }] };

const AUTOGROUPS_SRC = new Set(['autogroup:member', 'autogroup:tagged']);
const AUTOGROUPS_DST = new Set(['autogroup:member', 'autogroup:tagged', 'autogroup:self', 'autogroup:internet']);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new PolicyError(`${where} must be a list of strings`);
  return v as string[];
}

function appMap(v: unknown, where: string): Record<string, JSONValue[]> {
  if (!isObject(v)) throw new PolicyError(`${where} must be an object of capability → list of values`);
  const out: Record<string, JSONValue[]> = {};
  for (const [k, vals] of Object.entries(v)) {
    if (!k || !Array.isArray(vals)) throw new PolicyError(`${where}[${JSON.stringify(k)}] must be a list of JSON values`);
    out[k] = vals as JSONValue[];
  }
  return out;
}

/** Splits "host:ports" at the last colon (the host part may be an IPv6 prefix). */
export function splitHostPorts(dst: string): { host: string; ports: string } | null {
  const i = dst.lastIndexOf(':');
  if (i <= 0 || i === dst.length - 1) return null;
  return { host: dst.slice(0, i), ports: dst.slice(i + 1) };
}

export interface PortRangeSpec {
  first: number;
  last: number;
}

/** Parses "*", "22", "80,443", "1000-2000" (lists may mix). */
export function parsePorts(text: string): PortRangeSpec[] | null {
  if (text === '*') return [{ first: 0, last: 65535 }];
  const out: PortRangeSpec[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
    if (!m) return null;
    const first = Number(m[1]);
    const last = m[2] !== undefined ? Number(m[2]) : first;
    if (first > 65535 || last > 65535 || first > last) return null;
    out.push({ first, last });
  }
  return out;
}

const PROTOCOLS: Record<string, number[]> = {
  tcp: [6],
  udp: [17],
  icmp: [1, 58],
  ipv6icmp: [58],
  'ipv6-icmp': [58],
  icmpv6: [58],
  sctp: [132],
  igmp: [2],
  gre: [47],
  esp: [50],
  ah: [51],
};

/** IP protocol numbers for a policy proto name or number. */
export function parseProto(p: string | number): number[] | null {
  if (typeof p === 'number') return Number.isInteger(p) && p >= 0 && p <= 255 ? [p] : null;
  const named = PROTOCOLS[p.toLowerCase()];
  if (named) return named;
  if (/^\d{1,3}$/.test(p) && Number(p) <= 255) return [Number(p)];
  return null;
}

export interface GrantIPSpec {
  /** Empty = the client default (TCP, UDP, ICMP). */
  protos: number[];
  ports: PortRangeSpec[];
}

/** Parses one grant `ip` entry: "*", "443", "tcp:443", "udp:*", "icmp:*". */
export function parseGrantIP(text: string): GrantIPSpec | null {
  if (text === '*') return { protos: [], ports: [{ first: 0, last: 65535 }] };
  const i = text.indexOf(':');
  if (i < 0) {
    const ports = parsePorts(text);
    return ports ? { protos: [], ports } : null;
  }
  const protos = parseProto(text.slice(0, i));
  const ports = parsePorts(text.slice(i + 1));
  return protos && ports ? { protos, ports } : null;
}

function looksLikeUser(s: string): boolean {
  return /^[^\s:@]+@[^\s:]*$/.test(s);
}

/** Checks that a selector names something the compiler understands. */
function checkSelector(sel: string, p: Policy, role: 'src' | 'dst' | 'target', where: string): void {
  if (sel === '*') return;
  if (sel.startsWith('autogroup:')) {
    const ok = role === 'dst' ? AUTOGROUPS_DST : AUTOGROUPS_SRC;
    if (!ok.has(sel)) throw new PolicyError(`${where}: ${sel} is not supported as a ${role}`);
    return;
  }
  if (sel.startsWith('group:')) {
    if (!p.groups || !Object.prototype.hasOwnProperty.call(p.groups, sel)) throw new PolicyError(`${where}: unknown group ${sel}`);
    return;
  }
  if (sel.startsWith('tag:')) {
    if (!/^tag:[A-Za-z0-9][A-Za-z0-9_-]*$/.test(sel)) throw new PolicyError(`${where}: invalid tag ${sel}`);
    return;
  }
  if (looksLikeUser(sel)) return;
  if (isIPSpec(sel)) return;
  // A Tailscale Service as a destination: its VIP addresses (lib/devnet/services.ts).
  if (role === 'dst' && /^svc:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(sel)) return;
  if (p.hosts && Object.prototype.hasOwnProperty.call(p.hosts, sel)) return;
  throw new PolicyError(`${where}: unknown selector ${JSON.stringify(sel)} (expected *, a user, group:, tag:, autogroup:, host alias or IP)`);
}

/**
 * Parses and validates a policy given as HuJSON text or as an object.
 * Throws PolicyError (or HuJSONError for syntax) with the location of the problem.
 */
export function parsePolicy(input: string | object): Policy {
  const raw: HuJSONValue | object = typeof input === 'string' ? parseHuJSON(input) : input;
  if (!isObject(raw)) throw new PolicyError('policy must be a JSON object');
  const p: Policy = {};
  if (raw['groups'] !== undefined) {
    if (!isObject(raw['groups'])) throw new PolicyError('groups must be an object');
    p.groups = {};
    for (const [g, members] of Object.entries(raw['groups'])) {
      if (!g.startsWith('group:') || g.length <= 6) throw new PolicyError(`groups: ${JSON.stringify(g)} must start with "group:"`);
      p.groups[g] = stringList(members, `groups[${g}]`);
    }
  }
  if (raw['tagOwners'] !== undefined) {
    if (!isObject(raw['tagOwners'])) throw new PolicyError('tagOwners must be an object');
    p.tagOwners = {};
    for (const [t, owners] of Object.entries(raw['tagOwners'])) {
      if (!/^tag:[A-Za-z0-9][A-Za-z0-9_-]*$/.test(t)) throw new PolicyError(`tagOwners: invalid tag ${JSON.stringify(t)}`);
      p.tagOwners[t] = stringList(owners, `tagOwners[${t}]`);
    }
  }
  if (raw['hosts'] !== undefined) {
    if (!isObject(raw['hosts'])) throw new PolicyError('hosts must be an object');
    p.hosts = {};
    for (const [h, ip] of Object.entries(raw['hosts'])) {
      if (typeof ip !== 'string' || !isIPSpec(ip)) throw new PolicyError(`hosts[${h}] must be an IP address or prefix`);
      if (h.includes(':') || h.includes('@')) throw new PolicyError(`hosts: invalid name ${JSON.stringify(h)}`);
      p.hosts[h] = ip;
    }
  }
  // Group members are users (or the autogroup of all members).
  for (const [g, members] of Object.entries(p.groups ?? {})) {
    for (const m of members) {
      if (!looksLikeUser(m) && m !== 'autogroup:member') throw new PolicyError(`groups[${g}]: member ${JSON.stringify(m)} must be a user login name`);
    }
  }
  for (const [t, owners] of Object.entries(p.tagOwners ?? {})) {
    for (const o of owners) {
      if (o.startsWith('tag:')) continue;
      checkSelector(o, p, 'src', `tagOwners[${t}]`);
    }
  }
  if (raw['acls'] !== undefined) {
    if (!Array.isArray(raw['acls'])) throw new PolicyError('acls must be a list');
    p.acls = raw['acls'].map((a: unknown, i: number): PolicyACL => {
      const where = `acls[${i}]`;
      if (!isObject(a)) throw new PolicyError(`${where} must be an object`);
      const action = a['action'] ?? 'accept';
      if (action !== 'accept') throw new PolicyError(`${where}.action must be "accept"`);
      const src = stringList(a['src'], `${where}.src`);
      const dst = stringList(a['dst'], `${where}.dst`);
      for (const s of src) checkSelector(s, p, 'src', `${where}.src`);
      for (const d of dst) {
        const hp = splitHostPorts(d);
        if (!hp) throw new PolicyError(`${where}.dst: ${JSON.stringify(d)} must be "selector:ports"`);
        checkSelector(hp.host, p, 'dst', `${where}.dst`);
        if (!parsePorts(hp.ports)) throw new PolicyError(`${where}.dst: invalid ports in ${JSON.stringify(d)}`);
      }
      const out: PolicyACL = { action: 'accept', src, dst };
      const proto = a['proto'];
      if (proto !== undefined) {
        if ((typeof proto !== 'string' && typeof proto !== 'number') || !parseProto(proto)) {
          throw new PolicyError(`${where}.proto: unknown protocol ${JSON.stringify(proto)}`);
        }
        out.proto = proto;
      }
      return out;
    });
  }
  if (raw['grants'] !== undefined) {
    if (!Array.isArray(raw['grants'])) throw new PolicyError('grants must be a list');
    p.grants = raw['grants'].map((g: unknown, i: number): PolicyGrant => {
      const where = `grants[${i}]`;
      if (!isObject(g)) throw new PolicyError(`${where} must be an object`);
      for (const k of ['via', 'srcPosture']) {
        if (g[k] !== undefined) throw new PolicyError(`${where}.${k} is not supported by the development server`);
      }
      const src = stringList(g['src'], `${where}.src`);
      const dst = stringList(g['dst'], `${where}.dst`);
      for (const s of src) checkSelector(s, p, 'src', `${where}.src`);
      for (const d of dst) checkSelector(d, p, 'dst', `${where}.dst`);
      const out: PolicyGrant = { src, dst };
      if (g['ip'] !== undefined) {
        out.ip = stringList(g['ip'], `${where}.ip`);
        for (const x of out.ip) if (!parseGrantIP(x)) throw new PolicyError(`${where}.ip: invalid entry ${JSON.stringify(x)}`);
      }
      if (g['app'] !== undefined) out.app = appMap(g['app'], `${where}.app`);
      if (!out.ip && !out.app) throw new PolicyError(`${where} needs "ip" or "app"`);
      return out;
    });
  }
  if (raw['nodeAttrs'] !== undefined) {
    if (!Array.isArray(raw['nodeAttrs'])) throw new PolicyError('nodeAttrs must be a list');
    p.nodeAttrs = raw['nodeAttrs'].map((n: unknown, i: number): PolicyNodeAttr => {
      const where = `nodeAttrs[${i}]`;
      if (!isObject(n)) throw new PolicyError(`${where} must be an object`);
      const target = stringList(n['target'], `${where}.target`);
      for (const t of target) checkSelector(t, p, 'target', `${where}.target`);
      const out: PolicyNodeAttr = { target };
      if (n['attr'] !== undefined) out.attr = stringList(n['attr'], `${where}.attr`);
      if (n['app'] !== undefined) out.app = appMap(n['app'], `${where}.app`);
      return out;
    });
  }
  if (raw['tests'] !== undefined) {
    if (!Array.isArray(raw['tests'])) throw new PolicyError('tests must be a list');
    p.tests = raw['tests'].map((t: unknown, i: number): PolicyTestSpec => {
      const where = `tests[${i}]`;
      if (!isObject(t)) throw new PolicyError(`${where} must be an object`);
      if (typeof t['src'] !== 'string') throw new PolicyError(`${where}.src must be a string`);
      const out: PolicyTestSpec = { src: t['src'] };
      if (t['accept'] !== undefined) out.accept = stringList(t['accept'], `${where}.accept`);
      if (t['deny'] !== undefined) out.deny = stringList(t['deny'], `${where}.deny`);
      const proto = t['proto'];
      if (proto !== undefined) {
        if ((typeof proto !== 'string' && typeof proto !== 'number') || !parseProto(proto)) throw new PolicyError(`${where}.proto: unknown protocol`);
        out.proto = proto;
      }
      return out;
    });
  }
  return p;
}
