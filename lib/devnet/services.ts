/**
 * Tailscale Services, subnet routes and exit nodes on the devnet (lib/devnet/README.md, "Services and
 * routes"): service definitions with VIP addresses, approval of service hosts and of advertised routes, and
 * what the netmap says about them (tailcfg): a host's AllowedIPs gain the VIPs it serves and its approved
 * routes, PrimaryRoutes its subnet routes, the host's own CapMap `service-host` maps each service to its VIPs,
 * and MagicDNS answers `<service>.<domain>` with the VIPs.
 *
 * A host says which services it offers as Tailscale's client does: Hostinfo.ServicesHash changes, and control
 * fetches the list with c2n GET /vip-services (tailcfg.C2NVIPServicesResponse).
 */
import type { DNSRecord, Node } from '../wire/tailcfg.js';
import { parseIP, parsePrefix } from '../wire/ip.js';
import { parseHuJSON } from './hujson.js';
import { internetPrefixes } from './internet.js';
import type { NetmapView } from './netmap.js';
import type { C2NReply, C2NRequestSpec } from './pings.js';
import type { DevnetState } from './state.js';
import type { DevnetNode } from './types.js';

export interface DevnetServiceInfo {
  /** "svc:web" */
  name: string;
  /** The VIP addresses: IPv4 and IPv6. */
  addresses: string[];
  /** Nodes that advertise the service and are approved to host it. */
  hosts: number[];
}

export interface DevnetServicesOptions {
  domain: string;
  c2n: (id: number, r: C2NRequestSpec) => Promise<C2NReply>;
  /** Approve every tagged host that advertises a defined service (default false: approveServiceHost). */
  autoApproveServices?: boolean;
  /** Approve every advertised route, exit routes included (default false: approveRoutes). */
  autoApproveRoutes?: boolean;
  logf?: (m: string) => void;
}

/** What the devnet's state directory keeps of services and routes (lib/devnet/persist.ts). */
export interface ServicesSnapshot {
  services: Array<{ name: string; addresses: string[]; approved: number[] }>;
  /** [node ID, approved routes] */
  approvedRoutes: Array<[number, string[]]>;
}

const SERVICE_NAME = /^svc:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks DevnetOptions.services before anything starts (RangeError/TypeError). */
export function checkServiceDefinitions(list: unknown): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new TypeError('devnet services must be an array of { name, addresses? }');
  const seen = new Set<string>();
  for (const s of list as Array<{ name?: unknown; addresses?: unknown }>) {
    if (typeof s?.name !== 'string' || !SERVICE_NAME.test(s.name)) throw new RangeError(`devnet service name must be "svc:" and a DNS label, got ${JSON.stringify(s?.name)}`);
    if (seen.has(s.name)) throw new RangeError(`devnet service ${s.name} is listed twice`);
    seen.add(s.name);
    if (s.addresses !== undefined && (!Array.isArray(s.addresses) || s.addresses.some((a) => typeof a !== 'string' || !parseIP(a)))) {
      throw new RangeError(`devnet service ${s.name}: addresses must be IP addresses`);
    }
  }
}
const EXIT = new Set(['0.0.0.0/0', '::/0']);

export class DevnetServices {
  readonly #state: DevnetState;
  readonly #o: DevnetServicesOptions;
  readonly #services = new Map<string, { addresses: string[]; approved: Set<number> }>();
  /** node → services it advertises (from its last /vip-services answer) */
  readonly #advertised = new Map<number, Set<string>>();
  /** node → the ServicesHash last fetched */
  readonly #fetched = new Map<number, string>();
  readonly #approvedRoutes = new Map<number, Set<string>>();
  readonly #cache = [new Map<Node, { key: string; node: Node }>(), new Map<Node, { key: string; node: Node }>()];
  readonly #unsubscribe: () => void;
  #nextVIP = 1;

  constructor(state: DevnetState, o: DevnetServicesOptions) {
    this.#state = state;
    this.#o = o;
    this.#unsubscribe = state.subscribe(() => this.#poll());
  }

  close(): void {
    this.#unsubscribe();
  }

  /** Defines a service and gives it VIP addresses (chosen unless given). */
  define(name: string, options: { addresses?: string[] } = {}): DevnetServiceInfo {
    if (typeof name !== 'string' || !SERVICE_NAME.test(name)) throw new RangeError(`service name must be "svc:" and a DNS label, got ${JSON.stringify(name)}`);
    if (this.#services.has(name)) throw new RangeError(`service ${name} is already defined`);
    const n = this.#nextVIP++;
    if (n > 254) throw new RangeError('the devnet has room for 254 services');
    if (options.addresses && options.addresses.some((a) => typeof a !== 'string' || !parseIP(a))) throw new RangeError(`service ${name}: addresses must be IP addresses`);
    const addresses = options.addresses ?? [`100.127.254.${n}`, `fd7a:115c:a1e0:ab::${n.toString(16)}`];
    this.#services.set(name, { addresses: [...addresses], approved: new Set() });
    this.#state.touch({ save: true });
    return this.#info(name)!;
  }

  has(name: string): boolean {
    return this.#services.has(name);
  }

  /** Definitions and admin approvals (what a restart must keep; advertisements come again from the nodes). */
  snapshot(): ServicesSnapshot {
    return {
      services: [...this.#services].map(([name, v]) => ({ name, addresses: [...v.addresses], approved: [...v.approved] })),
      approvedRoutes: [...this.#approvedRoutes].map(([id, set]) => [id, [...set]]),
    };
  }

  /** Loads a snapshot saved by an earlier run; entries that no longer parse are skipped. */
  restore(s: ServicesSnapshot): void {
    for (const v of Array.isArray(s.services) ? s.services : []) {
      if (typeof v?.name !== 'string' || !SERVICE_NAME.test(v.name) || !Array.isArray(v.addresses) || !v.addresses.every((a) => typeof a === 'string' && parseIP(a))) continue;
      const approved = Array.isArray(v.approved) ? v.approved.filter((id) => Number.isInteger(id)) : [];
      this.#services.set(v.name, { addresses: [...v.addresses], approved: new Set(approved) });
      // Chosen VIPs are 100.127.254.<n>: the next one follows the highest in use.
      for (const a of v.addresses) {
        const m = /^100\.127\.254\.(\d+)$/.exec(a);
        if (m) this.#nextVIP = Math.max(this.#nextVIP, Number(m[1]) + 1);
      }
    }
    for (const e of Array.isArray(s.approvedRoutes) ? s.approvedRoutes : []) {
      if (!Array.isArray(e) || !Number.isInteger(e[0]) || !Array.isArray(e[1])) continue;
      this.#approvedRoutes.set(e[0], new Set(e[1].filter((r) => typeof r === 'string' && parsePrefix(r))));
    }
    this.#state.touch();
  }

  /** Approves a node as a host of a service (it must still advertise it). */
  approveHost(name: string, nodeId: number): void {
    const s = this.#services.get(name);
    if (!s) throw new RangeError(`no service ${name} is defined`);
    s.approved.add(nodeId);
    this.#state.touch({ save: true });
  }

  /** Approves routes a node advertises (Hostinfo.RoutableIPs); "0.0.0.0/0" and "::/0" make it an exit node. */
  approveRoutes(nodeId: number, routes: string[]): void {
    for (const r of routes) if (typeof r !== 'string' || !parsePrefix(r)) throw new RangeError(`route ${JSON.stringify(r)} is not an "ip/bits" prefix`);
    const set = this.#approvedRoutes.get(nodeId) ?? new Set<string>();
    for (const r of routes) set.add(r);
    this.#approvedRoutes.set(nodeId, set);
    this.#state.touch({ save: true });
  }

  /** Service name → VIPs (policy "svc:" destinations). */
  addressMap(): Map<string, string[]> {
    return new Map([...this.#services].map(([name, v]) => [name, [...v.addresses]]));
  }

  /** What node n serves without owning it: the VIPs of its services, its approved subnet routes, and for an
   * exit node the internet's prefixes. */
  served(n: DevnetNode): string[] {
    const vips = [...this.#services.keys()].filter((name) => this.#hosts(n, name)).flatMap((name) => this.#services.get(name)!.addresses.map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`)));
    const routes = this.routesOf(n);
    // An exit node serves autogroup:internet (not 0.0.0.0/0: that would make every rule its own).
    const internet = internetPrefixes().filter((p) => (p.includes(':') ? routes.includes('::/0') : routes.includes('0.0.0.0/0')));
    return [...vips, ...routes.filter((r) => !EXIT.has(r)), ...internet];
  }

  /** The FQDNs (no trailing dot) of the services node n hosts: its certificate names besides its own. */
  certNames(n: DevnetNode): string[] {
    return [...this.#services.keys()].filter((name) => this.#hosts(n, name)).map((name) => `${name.slice(4)}.${this.#o.domain.replace(/\.$/, '')}`);
  }

  list(): DevnetServiceInfo[] {
    return [...this.#services.keys()].map((n) => this.#info(n)!);
  }

  /** The routes of a node that are advertised and approved (by an admin, the option, or autoApprovers). */
  routesOf(n: DevnetNode): string[] {
    const adv = n.hostinfo.RoutableIPs ?? [];
    const ok = this.#approvedRoutes.get(n.id);
    const auto = this.#autoApprovers();
    return adv.filter((r) => this.#o.autoApproveRoutes || ok?.has(r) || auto.route(n, r));
  }

  /**
   * The policy's autoApprovers, as Tailscale reads them: `routes` maps a prefix to the owners whose nodes may
   * advertise it or any prefix inside it, `exitNode` lists who may offer an exit node, `services` maps a
   * service name to who may host it. Owners are tags, users, groups and autogroup:member/tagged.
   */
  #autoApprovers(): { route: (n: DevnetNode, r: string) => boolean; service: (n: DevnetNode, name: string) => boolean } {
    const text = this.#state.policyText;
    if (text !== this.#aaText) {
      this.#aaText = text;
      this.#aa = null;
      try {
        const p = text ? parseHuJSON(text) : null;
        const aa = p && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>)['autoApprovers'] : undefined;
        if (aa && typeof aa === 'object' && !Array.isArray(aa)) this.#aa = aa as AutoApprovers;
        this.#groups = p && typeof p === 'object' && !Array.isArray(p) ? ((p as Record<string, unknown>)['groups'] as Record<string, string[]> | undefined) ?? {} : {};
      } catch {
        this.#aa = null; // the policy parsed when it was set; a HuJSON detail we cannot read leaves approval to admins
      }
    }
    const aa = this.#aa;
    const owns = (n: DevnetNode, owners: unknown): boolean => Array.isArray(owners) && owners.some((o) => typeof o === 'string' && this.#owner(n, o));
    return {
      route: (n, r) => {
        if (!aa) return false;
        if (EXIT.has(r)) return owns(n, aa.exitNode);
        return Object.entries(aa.routes ?? {}).some(([pfx, owners]) => within(r, pfx) && owns(n, owners));
      },
      service: (n, name) => !!aa && owns(n, (aa.services ?? {})[name]),
    };
  }

  #aaText: string | null | undefined = undefined;
  #aa: AutoApprovers | null = null;
  #groups: Record<string, string[]> = {};

  #owner(n: DevnetNode, o: string): boolean {
    if (o.startsWith('tag:')) return n.tags.includes(o);
    if (o === 'autogroup:tagged') return n.tags.length > 0;
    if (n.tags.length) return false;
    const login = (this.#state.user(n.userId)?.loginName ?? '').toLowerCase();
    if (o === 'autogroup:member') return true;
    if (o.startsWith('group:')) return (this.#groups[o] ?? []).some((u) => u.toLowerCase() === login);
    return o.toLowerCase() === login;
  }

  #info(name: string): DevnetServiceInfo | undefined {
    const s = this.#services.get(name);
    if (!s) return undefined;
    const hosts = this.#state.allNodes().filter((n) => this.#hosts(n, name)).map((n) => n.id);
    return { name, addresses: [...s.addresses], hosts };
  }

  #hosts(n: DevnetNode, name: string): boolean {
    const s = this.#services.get(name);
    if (!s || !n.tags.length || !this.#advertised.get(n.id)?.has(name)) return false;
    return this.#o.autoApproveServices === true || s.approved.has(n.id) || this.#autoApprovers().service(n, name);
  }

  /** Fetches /vip-services from nodes whose ServicesHash changed. */
  #poll(): void {
    for (const n of this.#state.allNodes()) {
      const hash = n.hostinfo.ServicesHash ?? '';
      if (!n.online || (this.#fetched.get(n.id) ?? '') === hash) continue;
      this.#fetched.set(n.id, hash);
      if (!hash) {
        this.#advertised.delete(n.id);
        this.#state.touch();
        continue;
      }
      this.#o.c2n(n.id, { method: 'GET', path: '/vip-services' }).then(
        (r) => {
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          const body = JSON.parse(r.body.toString('utf8')) as { VIPServices?: Array<{ Name?: unknown; Active?: unknown }> };
          const names = new Set((body.VIPServices ?? []).filter((v) => v.Active === true && typeof v.Name === 'string').map((v) => v.Name as string));
          this.#advertised.set(n.id, names);
          this.#state.touch();
        },
        (err: Error) => {
          this.#fetched.delete(n.id); // asked again with the next change
          this.#o.logf?.(`devnet: fetching /vip-services from node ${n.id} failed: ${err.message}`);
        },
      ).catch((err: Error) => this.#o.logf?.(`devnet: /vip-services from node ${n.id}: ${err.message}`));
    }
  }

  /** A node's wire form with its VIPs and approved routes (the same object while nothing changes). */
  #node(wire: Node, n: DevnetNode | undefined, self: boolean): Node {
    if (!n) return wire;
    const svcs = [...this.#services.keys()].filter((name) => this.#hosts(n, name));
    // A subnet route goes to one router (its primary), exit routes to every exit node (clients pick one).
    const routes = this.routesOf(n).filter((r) => EXIT.has(r) || this.#primary(r) === n.id);
    if (!svcs.length && !routes.length) return wire;
    const vips = svcs.flatMap((s) => this.#services.get(s)!.addresses.map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`)));
    const key = JSON.stringify([self, svcs, routes]);
    const cache = this.#cache[self ? 1 : 0]!;
    const c = cache.get(wire);
    if (c && c.key === key) return c.node;
    const out: Node = { ...wire, AllowedIPs: [...(wire.AllowedIPs ?? wire.Addresses ?? []), ...vips, ...routes] };
    const primary = routes.filter((r) => !EXIT.has(r));
    if (primary.length) out.PrimaryRoutes = primary;
    if (self && svcs.length) {
      const mapping: Record<string, string[]> = {};
      for (const s of svcs) mapping[s] = [...this.#services.get(s)!.addresses];
      out.CapMap = { ...(wire.CapMap ?? {}), 'service-host': [mapping] };
    }
    cache.set(wire, { key, node: out });
    return out;
  }

  /** The primary router of a subnet route: the online router with the lowest ID, else the lowest ID. */
  #primary(route: string): number | undefined {
    const routers = this.#state.allNodes().filter((n) => this.routesOf(n).includes(route));
    return (routers.find((n) => n.online) ?? routers[0])?.id;
  }

  /** Adds what services and routes change to one node's view (NetmapConfig.decorate). */
  decorate(v: NetmapView, self: DevnetNode): NetmapView {
    if (!this.#services.size && !this.#state.allNodes().some((n) => n.hostinfo.RoutableIPs?.length)) return v;
    const byId = new Map(this.#state.allNodes().map((n) => [n.id, n]));
    const records: DNSRecord[] = [];
    for (const [name, s] of this.#services) {
      if (!this.#state.allNodes().some((n) => this.#hosts(n, name))) continue;
      // Type "": A or AAAA by the address (Tailscale's client skips records with any other Type).
      for (const a of s.addresses) records.push({ Name: `${name.slice(4)}.${this.#o.domain}`, Value: a });
    }
    let dns = records.length ? { ...v.dns, ExtraRecords: [...(v.dns.ExtraRecords ?? []), ...records] } : v.dns;
    // With HTTPS on (CertDomains given), a service host may also hold certificates for its services' names,
    // as Tailscale's control lists them in the host's CertDomains (docs/services.md, "HTTPS services").
    const certNames = v.dns.CertDomains?.length ? this.certNames(self).filter((d) => !v.dns.CertDomains!.includes(d)) : [];
    if (certNames.length) dns = { ...dns, CertDomains: [...v.dns.CertDomains!, ...certNames] };
    return {
      ...v,
      self: this.#node(v.self, self, true),
      peers: v.peers.map((p) => this.#node(p, byId.get(p.ID), false)),
      dns,
    };
  }
}

interface AutoApprovers {
  routes?: Record<string, unknown>;
  exitNode?: unknown;
  services?: Record<string, unknown>;
}

/** Whether prefix `inner` lies inside prefix `outer` (same family; both "ip/bits"). */
function within(inner: string, outer: string): boolean {
  const a = parsePrefix(inner);
  const b = parsePrefix(outer);
  if (!a || !b || a.addr.length !== b.addr.length || a.bits < b.bits) return false;
  for (let i = 0; i < b.bits; i++) {
    const bit = (x: Uint8Array): number => (x[i >> 3]! >> (7 - (i & 7))) & 1;
    if (bit(a.addr) !== bit(b.addr)) return false;
  }
  return true;
}
