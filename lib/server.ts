// The tsnet Server: a node that joins a tailnet (the ts2021 control client) and listens and dials over it
// (the userspace network with WireGuard keyed by node keys).
//
// Stage: the data plane reaches peers over direct UDP at the endpoints they report to control. DERP relays,
// disco NAT traversal and the packet filter are not wired yet, so peers must be directly reachable (for
// example every node on one machine with the bundled development tailnet); see docs/status.md.
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlClient, type Endpoint } from './control/client.js';
import type { EngineConfig, EnginePeer } from './control/engine-config.js';
import type { CompiledFilter } from './control/filter.js';
import { parseIP, type IPPrefix } from './control/ip.js';
import type { NativeFilterRule, NativePrefix } from './native.js';
import type { EngineConfigDiff } from './control/engine-diff.js';
import type { NetworkMap } from './control/netmap.js';
import { FileStore, MemoryStore, type Store } from './control/store.js';
import type { Node, UserProfile } from './control/tailcfg.js';
import { closedError } from './net/errors.js';
import { Netstack } from './net/netstack.js';
import { TailnetNode } from './node.js';

export const DEFAULT_CONTROL_URL = 'https://controlplane.tailscale.com';

export interface ServerOptions {
  /** Node name on the tailnet; default: the program's name. */
  hostname?: string;
  /**
   * State directory; default: <user config dir>/tsnet-<program>, or tsnet-<program>-<hostname> when a hostname
   * is given (so several Servers of one program keep separate identities). Ignored when `store` is given.
   */
  dir?: string;
  /** Where the node keeps its identity; default: a file store in `dir` (a memory store when ephemeral). */
  store?: Store;
  /** Auth key; default: TS_AUTHKEY, then TS_AUTH_KEY, then an interactive login URL through userLogf. */
  authKey?: string;
  /** Coordination server; default: TS_CONTROL_URL or Tailscale's. */
  controlURL?: string;
  ephemeral?: boolean;
  advertiseTags?: string[];
  /** Diagnostic log; quiet by default. */
  logf?: (message: string) => void;
  /** Messages for a person (the login URL); default: console.error. */
  userLogf?: (message: string) => void;
}

export interface Status {
  backendState: string;
  tailscaleIPs: string[];
  self: Node;
}

export interface WhoIs {
  node: Node;
  userProfile: UserProfile | null;
}

const programName = (): string => path.basename(process.argv[1] ?? 'node').replace(/\.[cm]?[jt]s$/, '') || 'node';

function defaultDir(hostname: string | undefined): string {
  const base =
    process.env.XDG_CONFIG_HOME ??
    (process.platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Application Support') : path.join(os.homedir(), '.config'));
  const prog = programName();
  const name = hostname && hostname !== prog ? `${prog}-${hostname.replace(/[^\w.-]/g, '_')}` : prog;
  return path.join(base, `tsnet-${name}`);
}

export class Server extends TailnetNode {
  readonly #opts: ServerOptions;
  #control: ControlClient | undefined;
  #stack: Netstack | undefined;
  #port = 0;
  #peers = new Map<string, EnginePeer>(); // by node key text
  #closed = false;
  #ready: Promise<void> | undefined;
  #filter: CompiledFilter | undefined;

  constructor(options: ServerOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new TypeError('new Server(options): options must be an object');
    for (const k of ['hostname', 'dir', 'authKey', 'controlURL'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'string') throw new TypeError(`${k} must be a string`);
    }
    if (options.controlURL !== undefined && !/^https?:\/\//.test(options.controlURL)) {
      throw new TypeError(`controlURL must be an http(s) URL, got "${options.controlURL}"`);
    }
    if (options.advertiseTags !== undefined && (!Array.isArray(options.advertiseTags) || options.advertiseTags.some((t) => !/^tag:[\w-]+$/.test(t)))) {
      throw new TypeError('advertiseTags must be an array like ["tag:web"]');
    }
    this.#opts = { ...options };
  }

  /** Connects to control and brings the data plane up as soon as the node has a netmap. Idempotent. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('Server.start'));
    this.#ready ??= this.#start();
    return this.#ready;
  }

  async #start(): Promise<void> {
    const o = this.#opts;
    const store = o.store ?? (o.ephemeral ? new MemoryStore() : new FileStore(o.dir ?? defaultDir(o.hostname)));
    const authKey = o.authKey ?? process.env.TS_AUTHKEY ?? process.env.TS_AUTH_KEY;
    const control = new ControlClient({
      controlURL: o.controlURL ?? process.env.TS_CONTROL_URL ?? DEFAULT_CONTROL_URL,
      store,
      hostname: o.hostname ?? programName(),
      ...(authKey ? { authKey } : {}),
      ...(o.ephemeral ? { ephemeral: true } : {}),
      ...(o.advertiseTags ? { advertiseTags: o.advertiseTags } : {}),
      // As tsnet: an enrolled node ignores the auth key unless TSNET_FORCE_LOGIN=1.
      ...(process.env.TSNET_FORCE_LOGIN === '1' ? { forceReauth: true } : {}),
      userLogf: o.userLogf ?? ((m: string) => console.error(m)),
      logf: o.logf ?? (() => {}),
    });
    this.#control = control;
    control.on('state', (s: string) => this.emit('state', s));
    control.on('authURL', (url: string) => this.emit('authURL', url));
    control.on('netmap', (nm: NetworkMap, cfg: EngineConfig, diff: EngineConfigDiff | null) => {
      try {
        this.#apply(cfg, nm);
      } catch (err) {
        o.logf?.(`tsnet: applying the netmap failed: ${(err as Error).message}`);
      }
      this.emit('netmap', nm, diff);
    });
    control.start();
  }

  /** Waits until the node is registered and has a netmap; resolves to its status. */
  async up(options: { signal?: AbortSignal } = {}): Promise<Status> {
    await this.start();
    const nm = await this.#control!.up(options.signal);
    return this.#status(nm);
  }

  #status(nm: NetworkMap): Status {
    return {
      backendState: this.#control?.state ?? 'NoState',
      tailscaleIPs: (nm.self.Addresses ?? []).map((a) => a.split('/')[0]!),
      self: nm.self,
    };
  }

  /** The current status (backend state, addresses, self node), or null before the first netmap. */
  status(): Status | null {
    const nm = this.#control?.netmap;
    return nm ? this.#status(nm) : null;
  }

  /** DNS names this node may get TLS certificates for (from control; empty without HTTPS enabled). */
  certDomains(): string[] {
    return [...(this.#control?.engineConfig?.certDomains ?? [])];
  }

  /** This node's Tailscale addresses (empty until up). */
  tailscaleIPs(): string[] {
    const nm = this.#control?.netmap;
    return nm ? this.#status(nm).tailscaleIPs : [];
  }

  #apply(cfg: EngineConfig, nm: NetworkMap): void {
    if (this.#closed) return;
    if (!this.#stack) {
      const priv = this.#control!.nodePrivate;
      if (!priv) return;
      const stack = new Netstack();
      for (const a of cfg.addresses) stack.addAddress(a.split('/')[0]!);
      this.#port = stack.ctx.native.wgStart(stack.device, priv, '', 0);
      // Until control sends a packet filter, nothing new gets in (replies to our own flows still do).
      stack.ctx.native.wgFilterSet(stack.device, [], localPrefixes(cfg));
      this.#stack = stack;
      this.#control!.setEndpoints(localEndpoints(this.#port));
      this.#opts.logf?.(`tsnet: data plane up on UDP port ${this.#port}, addresses ${cfg.addresses.join(', ')}`);
    }
    const stack = this.#stack;
    const seen = new Set<string>();
    for (const p of cfg.peers) {
      seen.add(p.nodeKeyText);
      const prev = this.#peers.get(p.nodeKeyText);
      if (prev && sameRoute(prev, p)) continue;
      const ep = chooseEndpoint(p.endpoints);
      stack.ctx.native.wgPeerSet(stack.device, p.nodeKey, null, ep?.ip ?? null, ep?.port ?? 0, 0);
      for (const c of p.allowedIPs) stack.ctx.native.wgPeerAllow(stack.device, p.nodeKey, c);
      this.#peers.set(p.nodeKeyText, p);
    }
    for (const [k, p] of this.#peers) {
      if (!seen.has(k)) {
        stack.ctx.native.wgPeerRemove(stack.device, p.nodeKey);
        this.#peers.delete(k);
      }
    }
    if (nm.packetFilterKnown && cfg.filter !== this.#filter) {
      this.#filter = cfg.filter;
      stack.ctx.native.wgFilterSet(stack.device, nativeRules(cfg.filter), localPrefixes(cfg));
    }
  }

  protected override netstack(what: string): Netstack {
    return this.#live(what);
  }

  /** MagicDNS names (short or FQDN) become the peer's address. */
  protected override dialAddress(address: string): string {
    return this.#target(address);
  }

  #live(what: string): Netstack {
    if (this.#closed) throw closedError(what);
    if (!this.#stack) {
      const err = new Error(`${what}: the node is not up yet (await server.up())`) as Error & { code: string };
      err.code = 'ERR_TSNET_NOT_UP';
      throw err;
    }
    return this.#stack;
  }

  /** Resolves a MagicDNS name (short or FQDN) to a peer address; IP literals pass through. */
  #resolve(host: string): string {
    if (net.isIP(host)) return host;
    const name = host.replace(/\.$/, '').toLowerCase();
    const cfg = this.#control?.engineConfig;
    for (const n of cfg?.dnsNames ?? []) {
      if (n.name.replace(/\.$/, '').toLowerCase() === name) {
        const pick = n.addrs.find((a) => net.isIPv4(a)) ?? n.addrs[0];
        if (pick) return pick;
      }
    }
    const err = new Error(`getaddrinfo ENOTFOUND ${host}`) as Error & { code: string; hostname: string };
    err.code = 'ENOTFOUND';
    err.hostname = host;
    throw err;
  }

  #target(address: string): string {
    const i = address.lastIndexOf(':');
    if (i < 0) throw new TypeError(`malformed address "${address}": missing ":port"`);
    const host = address.slice(0, i).replace(/^\[|\]$/g, '');
    const ip = this.#resolve(host);
    return `${net.isIPv6(ip) ? `[${ip}]` : ip}${address.slice(i)}`;
  }

  /** Who is at a tailnet address (or the remote end of a socket): the node and its user. */
  whoIs(addressOrSocket: string | net.Socket): WhoIs | null {
    const addr = typeof addressOrSocket === 'string' ? addressOrSocket : addressOrSocket.remoteAddress ?? '';
    const ip = addr.includes(':') && !net.isIPv6(addr) ? addr.slice(0, addr.lastIndexOf(':')).replace(/^\[|\]$/g, '') : addr;
    const nm = this.#control?.netmap;
    if (!nm) return null;
    for (const n of [nm.self, ...nm.peers]) {
      if ((n.Addresses ?? []).some((a) => a.split('/')[0] === ip)) {
        return { node: n, userProfile: (n.User !== undefined ? nm.userProfiles.get(n.User) : undefined) ?? null };
      }
    }
    return null;
  }

  /** Leaves the tailnet (an ephemeral node logs out first) and frees everything. */
  async close(): Promise<void> {
    if (this.#closed) {
      throw closedError('Server.close');
    }
    this.#closed = true;
    await this.#ready?.catch(() => undefined);
    if (this.#opts.ephemeral) await this.#control?.logout().catch(() => undefined);
    await this.closeClients();
    await this.#control?.close();
    this.#stack?.close();
    this.#stack = undefined;
  }
}

/** The compiled netmap filter in the native filter's shape. Rules whose sources are only capabilities
 * (srcCaps) are not expanded yet, so they admit nothing. A rejected filter admits nothing new. */
function nativeRules(f: CompiledFilter): NativeFilterRule[] {
  if (f.rejected) return [];
  const prefix = (p: IPPrefix): NativePrefix => ({ family: p.family, bits: p.bits, addr: p.addr });
  return f.matches
    .filter((m) => m.srcs.length > 0 && m.dsts.length > 0)
    .map((m) => ({
      protos: [...m.protocols],
      srcs: m.srcs.map(prefix),
      dsts: m.dsts.map((d) => ({ ...prefix(d.net), first: d.first, last: d.last })),
    }));
}

function localPrefixes(cfg: EngineConfig): NativePrefix[] {
  const out: NativePrefix[] = [];
  for (const a of cfg.addresses) {
    const addr = parseIP(a.split('/')[0]!);
    if (addr) out.push({ family: addr.length === 4 ? 4 : 6, bits: addr.length * 8, addr });
  }
  return out;
}

function sameRoute(a: EnginePeer, b: EnginePeer): boolean {
  return a.endpoints.join() === b.endpoints.join() && a.allowedIPs.join() === b.allowedIPs.join();
}

/** Until disco proves a path, prefer a loopback endpoint (same machine), then the first one. */
function chooseEndpoint(eps: readonly string[]): { ip: string; port: number } | null {
  const parsed = eps
    .map((e) => {
      const i = e.lastIndexOf(':');
      return { ip: e.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(e.slice(i + 1)) };
    })
    .filter((e) => net.isIP(e.ip) && e.port > 0);
  return parsed.find((e) => e.ip === '127.0.0.1' || e.ip === '::1') ?? parsed[0] ?? null;
}

/** The UDP endpoints to report: loopback and every interface address (EndpointType 1, local). */
function localEndpoints(port: number): Endpoint[] {
  const out: Endpoint[] = [{ addr: `127.0.0.1:${port}`, type: 1 }];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || a.family !== 'IPv4') continue;
      out.push({ addr: `${a.address}:${port}`, type: 1 });
    }
  }
  return out;
}
