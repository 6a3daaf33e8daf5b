// The tsnet Server: a node that joins a tailnet (the ts2021 control client) and listens and dials over it
// (the userspace network with WireGuard keyed by node keys).
//
// Peers are reached directly when disco proves a UDP path, else through DERP relays (lib/magicsock/data-plane.ts).
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { ControlClient } from './control/client.js';
import type { EngineConfig } from './wire/engine-config.js';
import type { EngineConfigDiff } from './control/engine-diff.js';
import type { DataPlane } from './magicsock/data-plane.js';
import type { NetworkMap } from './wire/netmap.js';
import { FileStore, MemoryStore } from './control/store.js';
import { joinHostPort, parseAddrPort, splitHostPort } from './wire/ip.js';
import { loadNative } from './native.js';
import { nodePublicToText } from './wire/keys.js';
import { abortError, closedError, systemError } from './net/errors.js';
import { argumentError, checkKnownOptions, invalidArgType } from './util/errors.js';
import type { ControlState } from './control/client.js';
import { createLogger, LOG_LEVELS, type Logger } from './util/log.js';
import type { Foreign, FallbackTCPHandler, RoutePrefs, ServiceListener, ServiceModeOptions, ServiceTLSListener } from './server/foreign.js';
import type { Netstack, UdpNetworkName } from './net/netstack.js';
import { bridgeMode } from './net/bridge.js';
import type { TailnetPacketSocket } from './net/packet.js';
import type { Loopback, LoopbackInfo } from './loopback/index.js';
import type { Forwarder } from './loopback/forward.js';
import { TailnetNode } from './node.js';
import { validateHostname } from './hostname.js';
import { noDrops, readDrops } from './wg-drops.js';
import { c2nLayer, certLayer, controlLayer, dataPlaneLayer, forwardLayer, funnelLayer, loopbackLayer, metricsLayer, oauthKeyLayer } from './server/layers.js';
import { discoPingLayer, filterLayer, foreignLayer, hostinfoLayer, localClientLayer, pcapLayer, pendingLayer } from './server/layers.js';
import type { Funnel, FunnelListener, FunnelOptions } from './server/funnel.js';
import type { CertManager, CertEvent, CertPair } from './server/cert.js';
import { TLSListener, type ListenTLSOptions } from './server/tls.js';

import { DEFAULT_CONTROL_URL, SERVER_OPTIONS, defaultDir, programName, type ServerOptions } from './server/options.js';
import type { PcapCapture } from './server/pcap.js';
import { preloadDataPlane } from './server/preload.js';
import type { TailnetListener } from './net/listener.js';
import type { TailnetSocket } from './net/socket.js';
import type { DialOptions, ListenOptions, TcpNetworkName } from './net/netstack.js';
import type {
  HealthWarning, LocalClient, NetcheckResult, PathChange, PeerInfo, PeersChange, PeerStatus, PingResult, Prefs, ServerEvents,
  Status, WhoIs,
} from './server/types.js';

export { DEFAULT_CONTROL_URL, type ServerOptions };
export type { CertEvent, CertPair, FunnelListener, FunnelOptions, ListenTLSOptions, TLSListener };
export type { AddrPort, FallbackTCPHandler, RoutePrefs, ServiceListener, ServiceModeOptions, ServiceTLSListener } from './server/foreign.js';
export type {
  HealthWarning, LocalClient, NetcheckResult, PathChange, PeerInfo, PeersChange, PeerStatus, PingResult, Prefs, ServerEvents,
  Status, WhoIs,
};

// Past this, key expiry and certificate checks go wrong in ways that are hard to see.
const CLOCK_SKEW_MS = 60_000;

// Tests reach a Server's data plane (to move it to a new UDP port, for example) without a public API for it.
const planes = new WeakMap<Server, DataPlane>();
/** @internal The Server's data plane, once up. Not part of the package's API. */
export function dataPlaneOf(s: Server): DataPlane | undefined {
  return planes.get(s);
}

export class Server extends TailnetNode<ServerEvents> {
  readonly #opts: ServerOptions;
  #control: ControlClient | undefined;
  #plane: DataPlane | undefined;
  #closed = false;
  #ready: Promise<void> | undefined;
  #loopback: Promise<Loopback> | undefined;
  readonly #skipLogged = new Set<string>();
  readonly #health = new Map<HealthWarning['code'], HealthWarning>();
  readonly #log: Logger;
  readonly #forwarders = new Set<Forwarder>();
  #funnel: Funnel | undefined;
  #certs: CertManager | undefined;
  #newCerts: (() => CertManager) | undefined;
  readonly #pcaps = new Set<PcapCapture>();
  // Services, routes, exit nodes, fallback handler (lib/server/foreign.ts).
  readonly #foreign: Foreign;

  constructor(options: ServerOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    checkKnownOptions('new Server(options)', options, SERVER_OPTIONS);
    for (const k of ['hostname', 'dir', 'authKey', 'clientSecret', 'clientID', 'idToken', 'audience', 'controlURL'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'string') throw invalidArgType(`options.${k}`, 'a string', options[k]);
    }
    for (const k of ['ephemeral', 'alwaysUseDERP'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'boolean') throw invalidArgType(`options.${k}`, 'a boolean', options[k]);
    }
    for (const k of ['logf', 'logger', 'userLogf'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'function') throw invalidArgType(`options.${k}`, 'a function', options[k]);
    }
    if (options.store !== undefined && (typeof options.store !== 'object' || options.store === null || typeof options.store.get !== 'function')) {
      throw invalidArgType('options.store', 'a Store (get/set/delete)', options.store);
    }
    if (options.logLevel !== undefined && !LOG_LEVELS.includes(options.logLevel)) {
      throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', `options.logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(options.logLevel)}`);
    }
    if (options.hostname !== undefined) validateHostname(options.hostname);
    for (const k of ['acmeDirectoryURL', 'acmeCA'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'string') throw invalidArgType(`options.${k}`, 'a string', options[k]);
    }
    if (options.acmeDirectoryURL !== undefined && !/^https?:\/\//.test(options.acmeDirectoryURL)) {
      throw argumentError('TypeError', 'ERR_INVALID_URL', `options.acmeDirectoryURL must be an http(s) URL, got "${options.acmeDirectoryURL}"`);
    }
    if (options.controlURL !== undefined && !/^https?:\/\//.test(options.controlURL)) {
      throw argumentError('TypeError', 'ERR_INVALID_URL', `options.controlURL must be an http(s) URL, got "${options.controlURL}"`);
    }
    if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
      throw argumentError('RangeError', 'ERR_OUT_OF_RANGE', `options.port must be an integer 0..65535, got ${String(options.port)}`);
    }
    if (options.advertiseTags !== undefined && (!Array.isArray(options.advertiseTags) || options.advertiseTags.some((t) => !/^tag:[\w-]+$/.test(t)))) {
      throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', 'options.advertiseTags must be an array like ["tag:web"]');
    }
    this.#foreign = new (foreignLayer().Foreign)({
      stack: () => this.#plane?.stack ?? null,
      setVIPServices: (v) => this.#control?.setVIPServices(v),
      setRoutableIPs: (r) => this.#control?.setHostinfo({ RoutableIPs: r }),
      whoIs: (sock) => this.whoIs(sock),
      certPair: (d) => this.certPair(d),
      reapply: () => {
        const c = this.#control;
        if (c?.netmap && c.engineConfig) this.#apply(c.engineConfig, c.netmap);
      },
    }, { advertiseRoutes: options.advertiseRoutes, acceptRoutes: options.acceptRoutes, exitNode: options.exitNode });
    this.#opts = { ...options };
    this.#log = createLogger({ logf: options.logf, logger: options.logger, logLevel: options.logLevel });
  }

  /** Connects to control and brings the data plane up as soon as the node has a netmap. Idempotent. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('Server.start'));
    this.#ready ??= this.#start();
    return this.#ready;
  }

  async #start(): Promise<void> {
    const o = this.#opts;
    // Without a native binary nothing can work (the control client's Noise needs it too): fail here, loudly,
    // with ERR_TSNET_NATIVE_MISSING, instead of joining the tailnet with no data plane.
    loadNative();
    this.#checkDescriptorLimit();
    const store = o.store ?? (o.ephemeral ? new MemoryStore() : new FileStore(o.dir ?? defaultDir(o.hostname)));
    const controlURL = o.controlURL ?? process.env.TS_CONTROL_URL ?? DEFAULT_CONTROL_URL;
    // authKey, TS_AUTHKEY, TS_AUTH_KEY, else an OAuth client secret exchanged for a key (lib/oauth-key.ts), else
    // workload identity federation if enabled (lib/identity-federation.ts).
    const authKey = await oauthKeyLayer().chooseAuthKey({
      authKey: o.authKey,
      clientSecret: o.clientSecret,
      clientID: o.clientID,
      idToken: o.idToken,
      audience: o.audience,
      tags: o.advertiseTags,
      store,
      controlURL,
      signal: AbortSignal.timeout(60_000),
      logf: (m) => this.#log.info(m),
    });
    if (this.#closed) throw closedError('Server.start');
    const userLogf = o.userLogf ?? ((m: string) => console.error(m));
    const control = new (controlLayer().ControlClient)({
      controlURL,
      store,
      hostname: o.hostname ?? programName(),
      ...(authKey ? { authKey } : {}),
      ...(o.ephemeral ? { ephemeral: true } : {}),
      ...(o.advertiseTags ? { advertiseTags: o.advertiseTags } : {}),
      // As tsnet: an enrolled node ignores the auth key unless TSNET_FORCE_LOGIN=1.
      ...(process.env.TSNET_FORCE_LOGIN === '1' ? { forceReauth: true } : {}),
      // Testing only: claim another capability version (e.g. 121 to interoperate with Go peers over peer relays
      // before we claim it, docs/protocol/capver.md "Peer relays").
      ...(/^\d+$/.test(process.env.TSNET_DEBUG_CAPABILITY_VERSION ?? '') ? { capabilityVersion: Number(process.env.TSNET_DEBUG_CAPABILITY_VERSION) } : {}),
      userLogf,
      log: this.#log.child('control'),
      c2n: c2nLayer().serverC2N({ netmap: () => this.#control?.netmap ?? null, health: () => this.health(), metrics: () => this.metrics() }),
    });
    this.#control = control;
    // Made on first use: its module is not needed to come up (docs/performance.md, "Time to up()").
    this.#newCerts = () => certLayer().serverCertManager(o, store, control, () => this.certDomains(), this.#log.child('cert'), (e) => this.emit('cert', e));
    this.#foreign.editPrefs({}, false); // advertised routes into the first Hostinfo
    control.on('state', (s: ControlState) => {
      if (s === 'NeedsMachineAuth' && !this.#health.has('needs-approval')) {
        // A key that is not preauthorized waits for an admin: say so once, where a person reads.
        userLogf(`tsnet: this node is registered and waits for an admin of the tailnet to approve it (${controlURL})`);
      }
      this.#setHealth('needs-approval', s === 'NeedsMachineAuth' ? { message: 'the node waits for an admin to approve it' } : null);
      if (s !== 'NeedsLogin') this.#setHealth('needs-login', null);
      this.emit('state', s);
    });
    control.on('authURL', (url: string) => {
      this.#setHealth('needs-login', { message: `an interactive login is waiting at ${url}`, url });
      this.emit('authURL', url);
    });
    control.on('controlError', (err: Error) => {
      const code = (err as { code?: unknown }).code;
      const error = typeof code === 'string' ? code : 'ERR_CONTROL';
      if (!this.#health.has('control-unreachable') && !control.netmap) {
        // Before the first netmap nothing else would tell a person why up() does not return (a forgotten
        // controlURL, a typo in it, no network): one line per outage, not one per retry.
        userLogf(`tsnet: cannot reach the control server at ${controlURL} (${error}: ${err.message}); retrying. ` +
          'Set controlURL or TS_CONTROL_URL if this is not the server you meant.');
      }
      this.#setHealth('control-unreachable', { message: `control server ${controlURL}: ${err.message}`, error });
    });
    control.on('netmap', (nm: NetworkMap, cfg: EngineConfig, diff: EngineConfigDiff | null) => {
      this.#setHealth('control-unreachable', null);
      const controlNow = nm.controlTime ? Date.parse(nm.controlTime) : NaN;
      if (Number.isFinite(controlNow)) {
        const skewMs = controlNow - Date.now();
        const off = Math.abs(skewMs) > CLOCK_SKEW_MS;
        // Rounded to seconds, so the warning does not change (and re-fire) with every message.
        const secs = Math.round(skewMs / 1000);
        this.#setHealth('clock-skew', off ? { message: `this machine's clock is ${Math.abs(secs)} s ${secs > 0 ? 'behind' : 'ahead of'} control's`, skewMs: secs * 1000 } : null);
      }
      for (const p of cfg.skippedPeers) {
        const k = `${p.id} ${p.reason}`;
        if (!this.#skipLogged.has(k)) this.#log.warn('peer left out', { peer: p.id, reason: p.reason });
        this.#skipLogged.add(k);
      }
      try {
        this.#apply(cfg, nm);
      } catch (err) {
        this.#log.error('applying the netmap failed', { error: (err as Error).message });
      }
      this.emit('netmap', nm, diff);
      const change = peersChange(cfg, diff);
      if (change) this.emit('peers', change);
    });
    // Registered: the map request is in flight and the process waits for control (docs/performance.md).
    const preload = (s: ControlState): void => {
      if (s !== 'Starting' && s !== 'Running') return;
      control.off('state', preload);
      preloadDataPlane();
    };
    control.on('state', preload);
    control.start();
  }

  /**
   * Waits until the node is registered and has a netmap; resolves to its status. Rejects with ABORT_ERR when
   * `signal` fires (an already aborted signal starts nothing). Meanwhile 'health' says what it waits for.
   */
  async up(options: { signal?: AbortSignal } = {}): Promise<Status> {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', signal);
    if (signal?.aborted) throw abortError(signal.reason);
    await this.start();
    try {
      return this.#status(await this.#control!.up(signal));
    } catch (err) {
      // The signal's reason is a DOMException (numeric code); Node's own APIs reject with code ABORT_ERR.
      if (signal?.aborted) throw abortError(signal.reason);
      throw err;
    }
  }

  /**
   * With the fd transport every TCP connection holds a socketpair (two descriptors while both ends live in
   * this process). A low open-file limit then caps connections long before memory does: say so once.
   */
  #checkDescriptorLimit(): void {
    if (bridgeMode() !== 'fd' || process.platform !== 'linux') return;
    let soft = Infinity;
    try {
      const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
      if (m && m[1] !== 'unlimited') soft = Number(m[1]);
    } catch {
      return;
    }
    if (soft < 4096) {
      this.#log.warn('low open-file limit: each TCP connection holds two descriptors', {
        limit: soft, maxConnections: Math.floor(soft / 2), hint: 'raise it (ulimit -n) or set TSNET_BRIDGE=stream',
      });
    }
  }

  /**
   * Pings a peer (a Tailscale IP or MagicDNS name) through the tunnel with TSMP, as `tailscale ping --tsmp`:
   * the answer proves the peer's WireGuard and its in-tunnel stack. Rejects with ENOTFOUND (unknown name),
   * EHOSTUNREACH (no peer has the address), ETIMEDOUT (no answer within `timeout` ms, default 5000) or
   * ABORT_ERR (`signal`).
   */
  async ping(target: string, options: { timeout?: number; signal?: AbortSignal } = {}): Promise<PingResult> {
    if (typeof target !== 'string') throw invalidArgType('target', 'a string (an IP or a MagicDNS name)', target);
    const { timeout = 5000, signal } = options;
    if (!Number.isFinite(timeout) || timeout <= 0) throw argumentError('RangeError', 'ERR_OUT_OF_RANGE', `options.timeout must be a positive number of ms, got ${String(timeout)}`);
    if (signal?.aborted) throw abortError(signal.reason);
    const plane = this.#plane;
    if (this.#closed) throw closedError('Server.ping');
    if (!plane) this.#live('ping');
    const ip = this.#resolve(target);
    const own = this.tailscaleIPs().find((a) => net.isIP(a) === net.isIP(ip));
    if (!own) throw systemError('ping', 'EHOSTUNREACH', ip);
    const timer = new AbortController();
    const t = setTimeout(() => timer.abort(systemError('ping', 'ETIMEDOUT', ip)), timeout);
    const onAbort = () => timer.abort(abortError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { from, ms } = await plane!.tsmpPing(own, ip, timer.signal).catch((err: unknown) => {
        const code = (err as { code?: unknown }).code;
        throw code === 'EHOSTUNREACH' || code === 'EINVAL' ? systemError('ping', 'EHOSTUNREACH', ip) : err;
      });
      const publicKey = `nodekey:${from.toString('hex')}`;
      const peer = this.status()?.peers.find((p) => p.publicKey === publicKey);
      return { latencyMs: ms, ip, publicKey, dnsName: peer?.dnsName ?? '', direct: peer?.curAddr ?? '', relay: peer?.curAddr ? '' : peer?.relay ?? '' };
    } finally {
      clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The node's metrics in Prometheus' text format: health, peers by path, bytes and packets per peer, WireGuard
   * drops by reason. The LocalAPI serves the same at /localapi/v0/usermetrics (docs/api.md, "Metrics").
   */
  metrics(): string {
    return metricsLayer().metricsText(this.status(), this.#health.size);
  }

  /** What the last netcheck round found (UDP, our mapped address, relay latencies), or null before the first. */
  netcheck(): NetcheckResult | null {
    const r = this.#plane?.lastReport;
    if (!r) return null;
    const regions = this.#control?.engineConfig?.derpRegions ?? [];
    const code = (id: number): string => regions.find((x) => x.id === id)?.code ?? String(id);
    return {
      udp: r.latencies.size > 0,
      mappedAddresses: [...r.mapped],
      homeRegion: { id: this.#plane!.homeRegion, code: this.#plane!.homeRegion ? code(this.#plane!.homeRegion) : '' },
      latencyMs: Object.fromEntries([...r.latencies].map(([id, ms]) => [code(id), ms])),
    };
  }

  /** What keeps the node from working as it should (empty: nothing); the 'health' event reports changes. */
  health(): HealthWarning[] {
    return [...this.#health.values()].map((w) => ({ ...w }));
  }

  #setHealth(code: HealthWarning['code'], w: Omit<HealthWarning, 'code' | 'since'> | null): void {
    const had = this.#health.get(code);
    if (!w) {
      if (!had) return;
      this.#health.delete(code);
    } else {
      if (had && had.message === w.message && had.error === w.error && had.url === w.url && had.skewMs === w.skewMs) return;
      this.#health.set(code, { code, since: had?.since ?? new Date(), ...w });
    }
    if (w) this.#log.warn('health: ' + w.message, { health: code, ...(w.error ? { error: w.error } : {}) });
    else this.#log.info('health: resolved', { health: code });
    this.emit('health', this.health());
  }

  #status(nm: NetworkMap): Status {
    return {
      backendState: this.#control?.state ?? 'NoState',
      tailscaleIPs: (nm.self.Addresses ?? []).map((a) => a.split('/')[0]!),
      self: nm.self,
      peers: this.#peerStatus(nm),
      drops: this.#plane ? readDrops(this.#plane.stack.device) : noDrops(),
      skippedPeers: (this.#control?.engineConfig?.skippedPeers ?? []).map((p) => ({ id: p.id, reason: p.reason })),
    };
  }

  #peerStatus(nm: NetworkMap): PeerStatus[] {
    const plane = this.#plane;
    const ms = plane?.stats();
    const wg = plane ? plane.stack.device.peerStats() : [];
    const regions = this.#control?.engineConfig?.derpRegions ?? [];
    return nm.peers.map((n) => {
      const key = n.Key ?? '';
      const raw = key.startsWith('nodekey:') ? Buffer.from(key.slice(8), 'hex') : Buffer.alloc(0);
      const m = ms?.peers.find((p) => p.nodeKey.equals(raw));
      const w = wg.find((p) => p.publicKey.equals(raw));
      const direct = m?.trusted ? m.best : '';
      const region = m?.derpRegion ?? 0;
      return {
        publicKey: key,
        hostName: n.Hostinfo?.Hostname ?? n.ComputedName ?? '',
        dnsName: (n.Name ?? '').replace(/\.$/, ''),
        tailscaleIPs: (n.Addresses ?? []).map((a) => a.split('/')[0]!),
        online: n.Online ?? null,
        curAddr: direct,
        relay: region ? (regions.find((r) => r.id === region)?.code ?? String(region)) : '',
        latencyMs: m?.latencyMs ?? 0,
        rxBytes: w?.rxBytes ?? 0,
        txBytes: w?.txBytes ?? 0,
        lastHandshake: w?.lastHandshake ? new Date(w.lastHandshake) : null,
        txDirectPackets: m?.txDirect ?? 0,
        txRelayPackets: m?.txRelay ?? 0,
        peerRelay: !direct && m?.peerRelay ? `${m.peerRelay}:vni:${m.peerRelayVni}` : '',
        txPeerRelayPackets: m?.txPeerRelay ?? 0,
      };
    });
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

  // -- HTTPS certificates (lib/server/cert.ts, lib/server/tls.ts; docs/api.md, "Certificates and listenTLS") --

  /**
   * The HTTPS certificate chain and private key (PEM) for `domain` (default: the first of certDomains()), as
   * tailscaled gets them: cached in the store, renewed ahead of expiry. Rejects with ERR_TSNET_CERT_DOMAIN
   * (not a cert domain of this node), ERR_TSNET_ACME (the ACME exchange failed; `problem` holds the server's
   * problem document) or ERR_TSNET_NOT_UP.
   */
  async certPair(domain?: string): Promise<CertPair> {
    if (domain !== undefined && typeof domain !== 'string') throw invalidArgType('domain', 'a string', domain);
    if (!this.#newCerts || !this.#control?.netmap) this.#live('certPair');
    const d = domain ?? this.certDomains()[0];
    if (d === undefined) throw certLayer().certDomainError('', []);
    this.#certs ??= this.#newCerts!();
    return this.#certs.get(d);
  }

  /**
   * A TLS listener on the tailnet (Go tsnet's ListenTLS): connections are tls.TLSSocket after the handshake,
   * with this node's certificate for the name the client asked for (SNI; default the first cert domain),
   * fetched on first need. A connection whose certificate cannot be had emits 'tlsClientError'.
   */
  listenTLS(network: TcpNetworkName | '', address: string, options: ListenTLSOptions = {}): TLSListener {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const inner = this.listen(network, address);
    return new TLSListener(inner, (d) => this.certPair(d), () => this.certDomains(), options);
  }

  /** This node's Tailscale addresses (empty until up). */
  tailscaleIPs(): string[] {
    const nm = this.#control?.netmap;
    return nm ? this.#status(nm).tailscaleIPs : [];
  }

  #apply(cfg: EngineConfig, nm: NetworkMap): void {
    if (this.#closed) return;
    const control = this.#control!;
    if (!this.#plane) {
      const priv = control.nodePrivate;
      if (!priv) return;
      const disco = control.discoPrivate;
      try {
        this.#plane = new (dataPlaneLayer().DataPlane)(cfg, {
          nodePrivate: priv,
          discoPrivate: disco,
          log: this.#log,
          onEndpoints: (eps) => control.setEndpoints(eps),
          onNetInfo: (ni) => {
            control.setNetInfo(ni);
            const r = this.netcheck();
            if (r) this.emit('netcheck', r);
          },
          onPath: (nodeKey, direct, region, peerRelay) => {
            const publicKey = `nodekey:${nodeKey.toString('hex')}`;
            const cfg = this.#control?.engineConfig;
            const peer = cfg?.peers.find((p) => p.nodeKeyText === publicKey);
            const relay = direct ? '' : region ? (cfg?.derpRegions.find((r) => r.id === region)?.code ?? String(region)) : '';
            const change: PathChange = { publicKey, dnsName: peer?.name.replace(/\.$/, '') ?? '', direct, relay, peerRelay };
            this.#log.info('path changed', { peer: change.dnsName || publicKey, ...(direct ? { direct } : peerRelay ? { peerRelay } : { relay }) });
            this.emit('path', change);
          },
          onHomeRelay: (region, up, error) => {
            const code = this.#control?.engineConfig?.derpRegions.find((r) => r.id === region)?.code ?? String(region);
            this.#setHealth('relay-unreachable', up ? null : { message: `the home relay (DERP region ${code}) cannot be reached: ${error ?? 'closed'}`, ...(error ? { error } : {}) });
          },
          ...(this.#opts.alwaysUseDERP !== undefined ? { alwaysUseDERP: this.#opts.alwaysUseDERP } : {}),
          ...(this.#opts.port !== undefined ? { port: this.#opts.port } : {}),
        });
      } finally {
        // Copies made for the engine, which keeps its own.
        priv.fill(0);
        disco.fill(0);
      }
      planes.set(this, this.#plane);
      this.#log.info('data plane up', { udpPort: this.#plane.port, addresses: cfg.addresses });
    } else {
      this.#renewKey(nm);
    }
    const adjusted = this.#foreign.adjust(cfg, nm);
    this.#plane.apply(adjusted, nm);
    this.#foreign.sync(this.#plane.stack);
  }

  // ---- Services, routes, exit nodes (lib/server/foreign.ts, docs/services.md) ----

  /**
   * Go's ListenService: hosts the Tailscale Service `name` ("svc:web") on `mode.port` of its VIP addresses.
   * Starts the node and waits for it. The node must be tagged (else ERR_TSNET_UNTAGGED_SERVICE_HOST); control
   * must approve it as a host before peers can reach it. With `https` (HTTP mode) or `terminateTLS` (TCP mode)
   * the connections are TLS sockets with the service FQDN's certificate (lib/server/service-tls.ts).
   */
  async listenService(name: string, mode: ServiceModeOptions & ({ https: true } | { terminateTLS: true })): Promise<ServiceTLSListener>;
  async listenService(name: string, mode: ServiceModeOptions & { https?: false; terminateTLS?: false }): Promise<ServiceListener>;
  async listenService(name: string, mode: ServiceModeOptions): Promise<ServiceListener | ServiceTLSListener>;
  async listenService(name: string, mode: ServiceModeOptions): Promise<ServiceListener | ServiceTLSListener> {
    foreignLayer().checkServiceName(name);
    await this.up();
    const nm = this.#control!.netmap!;
    return this.#foreign.listenService(name, mode, nm, this.#live('listenService'));
  }

  /**
   * Listens ("tcp", ":80"). Before up() the node starts and the listener binds once it is up ('listening'), as
   * Go's Listen waits (lib/server/pending.ts). Once up, an explicit IP that is not the node's own but one it
   * serves (inside an advertised route, a hosted service's VIP) listens for connections to exactly that address,
   * as Go's Listen does; other addresses stay EADDRNOTAVAIL (docs/services.md).
   */
  override listen(network: TcpNetworkName | '', address: string, options: ListenOptions = {}): TailnetListener {
    if (!this.#plane && !this.#closed && typeof network === 'string' && typeof address === 'string') {
      return pendingLayer().pendingListen(this.up(), () => this.#live('listen'), network, address, options);
    }
    let hp: { host: string; port: string } | null = null;
    try {
      hp = typeof address === 'string' ? splitHostPort(address) : null;
    } catch {
      hp = null; // malformed: TailnetNode#listen says why
    }
    if (hp) {
      const { host, port } = hp;
      const bare = host.replace(/^\[|\]$/g, '');
      const stack = net.isIP(bare) && bare !== '0.0.0.0' && bare !== '::' ? this.#live('listen') : null;
      if (stack && !stack.addresses.includes(bare) && this.#foreign.serves(bare)) {
        const p = Number(port);
        if (!Number.isInteger(p) || p < 1 || p > 65535) throw argumentError('RangeError', 'ERR_SOCKET_BAD_PORT', `listen: a port 1-65535 is needed with a foreign address, got "${port}"`);
        return this.#foreign.listenAt(bare, p, stack);
      }
    }
    return super.listen(network, address, options);
  }

  /** Go's RegisterFallbackTCPHandler: TCP to advertised routes (or as an exit node) that no listener takes. */
  registerFallbackTCPHandler(cb: FallbackTCPHandler): () => void {
    return this.#foreign.registerFallbackTCPHandler(cb);
  }

  /** Changes routing preferences (advertiseRoutes, acceptRoutes, exitNode); the fields given only. */
  editPrefs(prefs: RoutePrefs): Readonly<RoutePrefs> {
    this.#foreign.editPrefs(prefs);
    return { ...this.#foreign.prefs };
  }

  /**
   * The control client renewed the node key (expiry, login()): once control has accepted it (this netmap is
   * for the new key), the running data plane switches to it (docs/protocol/capver.md, "Seamless key renewal").
   * Until then it keeps the old key, which peers still know.
   */
  #renewKey(nm: NetworkMap): void {
    const control = this.#control!;
    const plane = this.#plane!;
    const pub = control.nodePublic;
    if (!pub || pub.equals(plane.nodePublic) || nm.self.Key !== nodePublicToText(pub)) return;
    const priv = control.nodePrivate;
    if (!priv) return;
    try {
      plane.setNodeKey(priv);
      this.#log.info('node key renewed; the data plane uses the new key', { nodeKey: nm.self.Key });
    } finally {
      priv.fill(0);
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
    if (!this.#plane) {
      loadNative(); // a missing addon is the reason, not the node's state: ERR_TSNET_NATIVE_MISSING
      const err = new Error(`${what}: the node is not up yet (await server.up())`) as Error & { code: string };
      err.code = 'ERR_TSNET_NOT_UP';
      throw err;
    }
    return this.#plane.stack;
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
    // Control's extra records (service names: docs/services.md), IPv4 first.
    const recs = (cfg?.extraRecords ?? []).filter((r) => r.Name.replace(/\.$/, '').toLowerCase() === name && net.isIP(r.Value));
    const rec = recs.find((r) => net.isIPv4(r.Value)) ?? recs[0];
    if (rec) return rec.Value;
    const err = new Error(`getaddrinfo ENOTFOUND ${host}`) as Error & { code: string; hostname: string };
    err.code = 'ENOTFOUND';
    err.hostname = host;
    throw err;
  }

  #target(address: string): string {
    const { host, port } = splitHostPort(address);
    return joinHostPort(this.#resolve(host), port);
  }

  /** A UDP socket; as tsnet, the address must name one of this node's IPs ("100.64.0.1:53"). */
  override listenPacket(network: UdpNetworkName, address: string): TailnetPacketSocket {
    const { host } = splitHostPort(address);
    if (!net.isIP(host) || host === '0.0.0.0' || host === '::') {
      throw new TypeError(`listenPacket: the address must include one of this node's IPs, like "100.64.0.1:53" (got "${address}")`);
    }
    // Before up: bound once the node is up, as Go's ListenPacket waits (lib/server/pending.ts).
    if (!this.#plane && !this.#closed) return pendingLayer().pendingListenPacket(this.up(), () => this.#live('listenPacket'), network, address);
    return super.listenPacket(network, address);
  }

  /** fetch() over the tailnet; before up() it starts the node and waits for it, as Go's HTTPClient dials do. */
  override fetch(...args: Parameters<TailnetNode['fetch']>): ReturnType<TailnetNode['fetch']> {
    if (this.#plane || this.#closed) return super.fetch(...args);
    const signal = args[1]?.signal ?? undefined;
    return this.up(signal ? { signal } : {}).then(() => super.fetch(...args));
  }

  /** Dials over the tailnet; before up() it starts the node and waits for it (options.signal aborts the wait). */
  override dial(network: TcpNetworkName, address: string, options?: DialOptions): Promise<TailnetSocket>;
  override dial(network: UdpNetworkName, address: string, options?: DialOptions): Promise<TailnetPacketSocket>;
  override dial(network: string, address: string, options?: DialOptions): Promise<TailnetSocket | TailnetPacketSocket>;
  override dial(network: string, address: string, options: DialOptions = {}): Promise<TailnetSocket | TailnetPacketSocket> {
    if (this.#plane || this.#closed) return super.dial(network, address, options);
    return this.up(options.signal ? { signal: options.signal } : {}).then(() => super.dial(network, address, options));
  }

  /** tsnet's LocalClient: whoIs and status, from this node's state. */
  localClient(): LocalClient {
    if (this.#closed) throw closedError('Server.localClient');
    return {
      whoIs: async (a) => this.whoIs(a),
      status: async () => this.status(),
      certPair: (domain) => this.certPair(domain),
      editPrefs: async (p) => this.editPrefs(p),
      ...localClientLayer().localClientExtras({
        logout: () => this.#logout(),
        ping: (t, o) => this.ping(t, o),
        discoPing: async (t, o) => {
          if (!this.#plane) this.#live('ping');
          const regions = this.#control?.engineConfig?.derpRegions ?? [];
          const code = (id: number) => regions.find((r) => r.id === id)?.code ?? String(id);
          return discoPingLayer().discoPingPeer(this.#plane!, this.#resolve(t), this.status()?.peers ?? [], code, o.timeout ?? 5000, o.signal);
        },
        prefs: () => this.#prefs(),
        snapshot: () => ({ version: `${hostinfoLayer().CLIENT_VERSION}-tsnet-node`, state: this.#control?.state ?? 'NoState', netmap: this.#control?.netmap ?? null, prefs: this.#prefs(), health: this.health() }),
        bus: this,
      }),
    };
  }

  // LocalClient.logout: control expires the node key (as tailscaled's logout); the data plane goes away.
  async #logout(): Promise<void> {
    if (this.#closed) throw closedError('LocalClient.logout');
    await this.#control?.logout();
    // Control answered; whatever the polls said while the key was being expired no longer applies.
    this.#setHealth('control-unreachable', null);
    this.#plane?.close();
    this.#plane = undefined;
    planes.delete(this);
  }

  #prefs(): Prefs {
    const o = this.#opts;
    const state = this.#control?.state ?? 'NoState';
    const routes = this.#foreign.prefs;
    return {
      ControlURL: o.controlURL ?? process.env.TS_CONTROL_URL ?? DEFAULT_CONTROL_URL, RouteAll: routes.acceptRoutes, ExitNodeID: routes.exitNode ?? '', CorpDNS: false,
      WantRunning: !this.#closed, LoggedOut: state === 'NeedsLogin', Hostname: o.hostname ?? programName(),
      AdvertiseTags: [...(o.advertiseTags ?? [])], AdvertiseRoutes: [...routes.advertiseRoutes],
    };
  }

  /** Who is at a tailnet address (or the remote end of a socket): the node and its user. */
  whoIs(addressOrSocket: string | net.Socket): WhoIs | null {
    const addr = typeof addressOrSocket === 'string' ? addressOrSocket : addressOrSocket.remoteAddress ?? '';
    const ip = (parseAddrPort(addr)?.ip ?? addr).replace(/^::ffff:(?=\d+\.)/i, '');
    const nm = this.#control?.netmap;
    if (!nm) return null;
    for (const n of [nm.self, ...nm.peers]) {
      const addrs = (n.Addresses ?? []).map((a) => a.split('/')[0]!);
      if (!addrs.includes(ip)) continue;
      // Grants are evaluated from the node's first address toward ours of the same family (docs/protocol/filter.md §2).
      const src = addrs[0]!;
      const dst = (nm.self.Addresses ?? []).map((a) => a.split('/')[0]!).find((a) => net.isIP(a) === net.isIP(src));
      const filter = this.#control?.engineConfig?.filter;
      const capMap = filter && dst ? filterLayer().capsGranted(filter, src, dst, Object.keys(n.CapMap ?? {})) : {};
      return { node: n, userProfile: (n.User !== undefined ? nm.userProfiles.get(n.User) : undefined) ?? null, capMap };
    }
    return null;
  }

  /**
   * tsnet's Loopback(): a 127.0.0.1 listener serving a SOCKS5 proxy onto the tailnet and the LocalAPI (status,
   * whois) over HTTP and a status page; started once, later calls return the same address and credentials
   * (lib/loopback/index.ts). With a state directory (`dir`, or the default one of a node with a file store), the
   * address and LocalAPI credential are written to <dir>/localapi.json (mode 0600) for `tsnet status`.
   */
  async loopback(options: { socketPath?: string } = {}): Promise<LoopbackInfo> {
    if (this.#closed) throw closedError('Server.loopback');
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    if (options.socketPath !== undefined && (typeof options.socketPath !== 'string' || options.socketPath === '')) throw invalidArgType('options.socketPath', 'a path', options.socketPath);
    // Assigned before any await, so close() always finds (and closes) a listener being started.
    // Its address and credential go to the state directory (for `tsnet status`), if the node has one on disk.
    const dir = this.rootPath() || undefined;
    this.#loopback ??= this.start().then(() => loopbackLayer().Loopback.start(this, dir, options.socketPath)).catch((err: unknown) => {
      this.#loopback = undefined;
      throw err;
    });
    return (await this.#loopback).info;
  }

  /**
   * The node's state directory (Go's GetRootPath): `dir`, or the default one of a node with a file store; ""
   * when the node keeps its state elsewhere (a `store` of its own, or ephemeral in memory).
   */
  rootPath(): string {
    const o = this.#opts;
    return o.dir ?? (o.store || o.ephemeral ? '' : defaultDir(o.hostname));
  }

  /**
   * A local port forwarder (as `ssh -L`): connections to the returned 127.0.0.1 address are dialed to `target`
   * ("host:port", a MagicDNS name or an IP) over the tailnet, for clients that take neither a socket nor a proxy
   * (grpc-js: `new Client(forwarder.address, ...)`). Any local process can use it; close() it, or close the node.
   */
  async forward(target: string, options: { port?: number } = {}): Promise<Forwarder> {
    if (this.#closed) throw closedError('Server.forward');
    if (typeof target !== 'string') throw invalidArgType('target', 'a string such as "db:5432"', target);
    splitHostPort(target); // a malformed target is a TypeError now, not a failure of every connection later
    const { port = 0 } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw argumentError('RangeError', 'ERR_OUT_OF_RANGE', `options.port must be an integer 0..65535, got ${String(port)}`);
    const f = await forwardLayer().startForward(this, target, port);
    const forwarders = this.#forwarders;
    const tracked: Forwarder = {
      address: f.address,
      port: f.port,
      close: async () => {
        forwarders.delete(tracked);
        await f.close();
      },
    };
    forwarders.add(tracked);
    if (this.#closed) await tracked.close();
    return tracked;
  }

  // -- Funnel (lib/server/funnel.ts) --
  /**
   * Go's ListenFunnel: a listener of TLS sockets on port 443, 8443 or 10000 that the public internet reaches
   * through Tailscale's Funnel ingress (and, unless `funnelOnly`, the tailnet too). Starts the node and waits
   * for it; rejects with ERR_TSNET_FUNNEL_NOT_ALLOWED or ERR_TSNET_FUNNEL_PORT when control has not granted it.
   */
  listenFunnel(network: 'tcp', address: string, options: FunnelOptions = {}): Promise<FunnelListener> {
    if (this.#closed) return Promise.reject(closedError('Server.listenFunnel'));
    this.#funnel ??= new (funnelLayer().Funnel)({
      up: () => this.up(),
      selfCapMap: () => this.#control?.netmap?.self.CapMap ?? {},
      certDomains: () => this.certDomains(),
      listen: (n, a) => this.listen(n, a),
      peerCaps: (ip) => this.whoIs(ip)?.capMap ?? null,
      setHostinfo: (hi) => this.#control?.setHostinfo(hi),
      certPair: (domain) => this.certPair(domain),
      log: this.#log.child('funnel'),
    });
    return this.#funnel.listen(network, address, options);
  }

  /**
   * Writes the node's decrypted IP packets, both directions, to `file` in pcap format (LINKTYPE_RAW) until the
   * returned capture is closed, `signal` fires or the node closes (lib/server/pcap.ts). As Go's CapturePcap.
   */
  async capturePcap(file: string, options: { signal?: AbortSignal } = {}): Promise<PcapCapture> {
    if (typeof file !== 'string' || file === '') throw invalidArgType('file', 'a path', file);
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal.reason);
    if (!this.#plane) await this.up(signal ? { signal } : {});
    const cap = await pcapLayer().startPcap(this.#live('capturePcap').device, file);
    this.#pcaps.add(cap);
    const stop = () => void cap.close().finally(() => this.#pcaps.delete(cap));
    signal?.addEventListener('abort', stop, { once: true });
    return cap;
  }

  /** Leaves the tailnet (an ephemeral node logs out first) and frees everything. */
  async close(): Promise<void> {
    if (this.#closed) {
      throw closedError('Server.close');
    }
    this.#closed = true;
    await this.#ready?.catch(() => undefined);
    if (this.#opts.ephemeral) await this.#control?.logout().catch(() => undefined);
    await this.#loopback?.then((lb) => lb.close(), () => undefined);
    this.#foreign.close();
    await Promise.all([...this.#forwarders].map((f) => f.close()));
    this.#funnel?.close();
    await this.closeClients();
    await Promise.all([...this.#pcaps].map((c) => c.close()));
    await this.#control?.close();
    this.#plane?.close();
    this.#plane = undefined;
  }
}

function peerInfo(p: EngineConfig['peers'][number]): PeerInfo {
  return { publicKey: p.nodeKeyText, dnsName: p.name, tailscaleIPs: p.addresses.map((a) => a.split('/')[0]!) };
}

/** The peer part of a netmap change, or null when no peer changed. */
function peersChange(cfg: EngineConfig, diff: EngineConfigDiff | null): PeersChange | null {
  if (!diff) return cfg.peers.length ? { added: cfg.peers.map(peerInfo), removed: [], changed: [] } : null;
  if (!diff.added.length && !diff.removed.length && !diff.changed.length) return null;
  return {
    added: diff.added.map(peerInfo),
    removed: diff.removed.map((r) => `nodekey:${r.nodeKey.toString('hex')}`),
    changed: diff.changed.map(peerInfo),
  };
}
