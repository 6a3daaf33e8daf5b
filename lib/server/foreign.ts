/**
 * Traffic to addresses that are not the node's own (docs/services.md): the catch-all listener and its
 * dispatch (listeners on explicit addresses, then Tailscale Services on their VIPs, then fallback TCP
 * handlers), the services' advertisement, and the routing prefs applied to each netmap. The pieces:
 * route-prefs.ts (which routes are used), service-listener.ts, service-http.ts (HTTP-mode headers).
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { C2NVIPServices } from '../control/c2n.js';
import type { EngineConfig, EnginePeer } from '../wire/engine-config.js';
import { parseIP } from '../wire/ip.js';
import type { NetworkMap } from '../wire/netmap.js';
import type { Netstack } from '../net/netstack.js';
import type { NativePrefix } from '../native.js';
import { bridgeMode } from '../net/bridge.js';
import { TailnetListener } from '../net/listener.js';
import type { TailnetSocket } from '../net/socket.js';
import { codedError } from '../util/errors.js';
import { checkRoutes, findExitNode, prefixHas, prefixOf, usedAllowedIPs, type Prefix, type RoutePrefs } from './route-prefs.js';
import { checkServiceName, ServiceListener, type ServiceModeOptions } from './service-listener.js';
import { ServiceTLSListener } from './service-tls.js';
import type { CertPair } from './cert.js';
import type { WhoIs } from './types.js';

export type { RoutePrefs } from './route-prefs.js';
export { checkServiceName, ServiceListener, type ServiceModeOptions } from './service-listener.js';
export { ServiceTLSListener } from './service-tls.js';

/** An address and port, as Go's netip.AddrPort. */
export interface AddrPort {
  address: string;
  port: number;
}

/** Go's FallbackTCPHandler: a handler for the connection, or undefined when not intercepted (it is reset). */
export type FallbackTCPHandler = (src: AddrPort, dst: AddrPort) => ((socket: TailnetSocket) => void) | undefined | null;

function nativePrefix(p: Prefix): NativePrefix {
  return { family: p.addr.length === 4 ? 4 : 6, bits: p.bits, addr: p.addr } as NativePrefix;
}

/** What Server hands the foreign-traffic layer. */
export interface ForeignHost {
  /** The node's netstack, or null before the data plane is up. */
  stack(): Netstack | null;
  setVIPServices(v: C2NVIPServices): void;
  setRoutableIPs(routes: string[]): void;
  /** Re-applies the current netmap (prefs changed). */
  reapply(): void;
  /** Who is at the other end of a socket (HTTP-mode identity headers). */
  whoIs?: (s: net.Socket) => WhoIs | null;
  /** The node's certificate for a domain (TLS services: service-tls.ts). */
  certPair?: (domain: string) => Promise<CertPair>;
}

export class Foreign {
  readonly #host: ForeignHost;
  #prefs: { advertiseRoutes: string[]; acceptRoutes: boolean; exitNode: string | null } = { advertiseRoutes: [], acceptRoutes: false, exitNode: null };
  /** service name → port → listener */
  readonly #services = new Map<string, Map<number, ServiceListener>>();
  readonly #fallbacks = new Set<FallbackTCPHandler>();
  /** Listeners on explicit foreign addresses ("ip|port"). */
  readonly #at = new Map<string, TailnetListener>();
  /** VIP address → service name (from the self node's service-host capability). */
  #vips = new Map<string, string>();
  #catch: TailnetListener | null = null;
  #catchStack: Netstack | null = null;
  #foreignKey = '';
  #own: string[] = [];

  constructor(host: ForeignHost, prefs: RoutePrefs) {
    this.#host = host;
    this.editPrefs(prefs, false);
  }

  get prefs(): Readonly<{ advertiseRoutes: readonly string[]; acceptRoutes: boolean; exitNode: string | null }> {
    return this.#prefs;
  }

  /** Changes routing preferences (only the fields given); re-applies the netmap. */
  editPrefs(p: RoutePrefs, apply = true): void {
    if (typeof p !== 'object' || p === null) throw codedError('ERR_INVALID_ARG_TYPE', 'prefs must be an object', TypeError);
    const next = { ...this.#prefs };
    if (p.advertiseRoutes !== undefined) next.advertiseRoutes = checkRoutes(p.advertiseRoutes, 'advertiseRoutes');
    if (p.acceptRoutes !== undefined) {
      if (typeof p.acceptRoutes !== 'boolean') throw codedError('ERR_INVALID_ARG_TYPE', 'acceptRoutes must be a boolean', TypeError);
      next.acceptRoutes = p.acceptRoutes;
    }
    if (p.exitNode !== undefined) {
      if (p.exitNode !== null && (typeof p.exitNode !== 'string' || !p.exitNode)) throw codedError('ERR_INVALID_ARG_TYPE', 'exitNode must be a node ID, IP or name, or null', TypeError);
      next.exitNode = p.exitNode;
    }
    this.#prefs = next;
    this.#host.setRoutableIPs(next.advertiseRoutes);
    if (apply) this.#host.reapply();
  }

  registerFallbackTCPHandler(cb: FallbackTCPHandler): () => void {
    if (typeof cb !== 'function') throw codedError('ERR_INVALID_ARG_TYPE', 'the fallback handler must be a function', TypeError);
    this.#fallbacks.add(cb);
    this.#resync();
    return () => {
      this.#fallbacks.delete(cb);
      this.#resync();
    };
  }

  /**
   * Go's Listen with an explicit address that is not the node's own ("10.0.0.5:80" inside an advertised
   * route, a service VIP): connections to exactly that address and port, ahead of services and fallback
   * handlers. Nothing arrives unless the node serves the address.
   */
  listenAt(address: string, port: number, stack: Netstack): TailnetListener {
    const key = `${address}|${port}`;
    if (this.#at.has(key)) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${address}:${port}`), { code: 'EADDRINUSE', syscall: 'listen', address, port });
    const device = stack.device;
    const ln = new TailnetListener({ device, id: device.allocId(), host: address, family: net.isIPv6(address) ? 6 : 4, port });
    this.#at.set(key, ln);
    ln.once('close', () => {
      if (this.#at.get(key) === ln) this.#at.delete(key);
    });
    return ln;
  }

  /** Whether ip is inside an advertised route or is a hosted service's VIP. */
  serves(ip: string): boolean {
    if (this.#vips.has(ip)) return true;
    const a = parseIP(ip);
    return !!a && this.#prefs.advertiseRoutes.some((r) => prefixHas(prefixOf(r)!, a));
  }

  #resync(): void {
    const stack = this.#host.stack();
    if (stack) this.sync(stack);
  }

  /** Go's ListenService, once the node is up: checks, advertises, and returns the listener. */
  listenService(name: string, mode: ServiceModeOptions, nm: NetworkMap, stack: Netstack): ServiceListener | ServiceTLSListener {
    checkServiceName(name);
    if (typeof mode !== 'object' || mode === null) throw codedError('ERR_INVALID_ARG_TYPE', 'mode must be { mode: "tcp" | "http", port }', TypeError);
    if (mode.mode !== 'tcp' && mode.mode !== 'http') throw codedError('ERR_INVALID_ARG_VALUE', `mode.mode must be "tcp" or "http", got ${JSON.stringify(mode.mode)}`, RangeError);
    if (!Number.isInteger(mode.port) || mode.port < 1 || mode.port > 65535) throw codedError('ERR_INVALID_ARG_VALUE', 'mode.port must be an integer 1-65535 (a service needs a port to advertise)', RangeError);
    if (mode.https !== undefined && (typeof mode.https !== 'boolean' || (mode.https && mode.mode !== 'http'))) throw codedError('ERR_INVALID_ARG_VALUE', 'mode.https is a boolean for mode "http" (TCP mode has terminateTLS)', RangeError);
    if (mode.terminateTLS !== undefined && (typeof mode.terminateTLS !== 'boolean' || (mode.terminateTLS && mode.mode !== 'tcp'))) throw codedError('ERR_INVALID_ARG_VALUE', 'mode.terminateTLS is a boolean for mode "tcp" (HTTP mode has https)', RangeError);
    const tls = mode.https === true || mode.terminateTLS === true;
    if (!(nm.self.Tags ?? []).length) throw codedError('ERR_TSNET_UNTAGGED_SERVICE_HOST', 'listenService: service hosts must be tagged nodes (give the node tags with advertiseTags)');
    const ports = this.#services.get(name) ?? new Map<number, ServiceListener>();
    if (ports.has(mode.port)) throw codedError('ERR_TSNET_SERVICE_PORT_IN_USE', `listenService: ${name} already has a listener on port ${mode.port}`);
    const fqdn = `${name.slice(4)}.${nm.magicDNSSuffix.replace(/\.$/, '')}`;
    const device = stack.device;
    const ln = new ServiceListener({ device, id: device.allocId(), host: '', family: 0, port: mode.port }, fqdn, name, mode.mode, () => {
      const m = this.#services.get(name);
      if (m?.get(mode.port) === ln) m.delete(mode.port);
      if (m && !m.size) this.#services.delete(name);
      this.#advertise();
    }, this.#host.whoIs);
    ports.set(mode.port, ln);
    this.#services.set(name, ports);
    this.#advertise();
    this.#host.reapply();
    if (!tls) return ln;
    const certPair = this.#host.certPair ?? ((): Promise<CertPair> => Promise.reject(codedError('ERR_TSNET_CERT_DOMAIN', 'this node has no certificates')));
    return new ServiceTLSListener(ln, certPair, this.#host.whoIs);
  }

  /** Go's VIPServices: one entry per service with its ports, hashed as Hostinfo.ServicesHash. */
  #advertise(): void {
    const list = [...this.#services.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, ports]) => ({
        Name: name,
        Ports: [...ports.keys()].sort((a, b) => a - b).map((p) => ({ Proto: 6, Ports: { First: p, Last: p } })),
        Active: true,
      }));
    const hash = list.length ? createHash('sha256').update(JSON.stringify(list) + '\n').digest('hex') : '';
    this.#host.setVIPServices({ VIPServices: list, ServicesHash: hash });
  }

  /**
   * The netmap as this node uses it: peers' subnet routes only with acceptRoutes, a default route only for
   * the chosen exit node (as Tailscale's route manager does), and the foreign destinations (hosted VIPs,
   * advertised routes) added to the filter's local set.
   */
  adjust(cfg: EngineConfig, nm: NetworkMap): EngineConfig {
    this.#vips = serviceHostVIPs(nm);
    const exit = this.#prefs.exitNode ? findExitNode(cfg.peers, this.#prefs.exitNode) : null;
    const peers = cfg.peers.map((p): EnginePeer => {
      const allowed = usedAllowedIPs(p, this.#prefs.acceptRoutes, exit);
      return allowed.length === p.allowedIPs.length ? p : { ...p, allowedIPs: allowed };
    });
    const foreign = [...new Set([...this.#vips.keys()].map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`)).concat(this.#prefs.advertiseRoutes))];
    this.#own = cfg.addresses.map((a) => a.split('/')[0]!);
    return { ...cfg, peers, foreign };
  }

  /** After the data plane applied a netmap: the native foreign destinations and the catch-all listener. */
  sync(stack: Netstack): void {
    const foreign = [...this.#vips.keys()].map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`)).concat(this.#prefs.advertiseRoutes).sort();
    if (this.#catchStack !== stack) {
      this.#catch = null;
      this.#foreignKey = '';
    }
    // Fallback handlers also get flows to own addresses that no listener takes, as in Go.
    const unmatched = this.#fallbacks.size > 0;
    if (!this.#catch && (foreign.length || unmatched)) {
      const device = stack.device;
      const id = device.allocId();
      const port = device.tcpListen(id, 0, 0, 4096, bridgeMode() === 'stream');
      const ln = new TailnetListener({ device, id, host: '', family: 0, port });
      ln.on('connection', (s) => this.#dispatch(s, ln));
      this.#catch = ln;
      this.#catchStack = stack;
    }
    const key = `${foreign.join(',')} ${unmatched}`;
    if (key === this.#foreignKey || !this.#catch) return;
    const list = foreign.map((f) => prefixOf(f)).filter((p): p is Prefix => p !== null).map(nativePrefix);
    stack.device.setForeign(list, this.#catch.nativeId, unmatched);
    this.#foreignKey = key;
  }

  #dispatch(s: TailnetSocket, from: TailnetListener): void {
    const dst = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
    const src = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    const at = this.#at.get(`${dst.address}|${dst.port}`);
    if (at?.listening) return at.adopt(s, from);
    // Own addresses (a port no listener has, or the catch-all listener's own) go to fallback handlers only.
    const own = this.#own.includes(dst.address);
    const svc = own ? undefined : this.#vips.get(dst.address);
    const ln = svc ? this.#services.get(svc)?.get(dst.port) : undefined;
    if (ln && ln.listening) return ln.adopt(s, from);
    for (const cb of this.#fallbacks) {
      let h: ((socket: TailnetSocket) => void) | undefined | null;
      try {
        h = cb(src, dst);
      } catch {
        h = null;
      }
      if (typeof h === 'function') return h(s);
    }
    s.resetAndDestroy();
  }

  close(): void {
    for (const ports of [...this.#services.values()]) for (const ln of [...ports.values()]) ln.close();
    for (const ln of [...this.#at.values()]) ln.close();
    this.#catch?.close();
    this.#catch = null;
  }
}

/** The self node's service-host capability: VIP → service name (tailcfg.ServiceIPMappings, merged in order). */
function serviceHostVIPs(nm: NetworkMap): Map<string, string> {
  const out = new Map<string, string>();
  const vals = (nm.self.CapMap ?? {})['service-host'] ?? [];
  for (const v of vals as unknown[]) {
    if (typeof v !== 'object' || v === null) continue;
    for (const [svc, addrs] of Object.entries(v as Record<string, unknown>)) {
      if (!Array.isArray(addrs)) continue;
      for (const a of addrs) if (typeof a === 'string' && net.isIP(a)) out.set(a, svc);
    }
  }
  return out;
}

