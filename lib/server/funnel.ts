/**
 * Funnel (docs/api.md, "Funnel"): `server.listenFunnel('tcp', ':443')` as Go's tsnet ListenFunnel. The node checks
 * its attributes (`https`, `funnel`, and the port in `funnel-ports?ports=`), turns Funnel on for "<name>:<port>"
 * in its serve config (local, as Tailscale's), tells control it wants ingress (Hostinfo.WireIngress and
 * IngressEnabled) and starts its peerAPI, whose ingress handler delivers public connections here. Every
 * connection, public or (without funnelOnly) from the tailnet, is served TLS with `tlsConfig` or the node's
 * own certificate (funnel-cert.ts).
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { CapMap, Hostinfo } from '../wire/tailcfg.js';
import type { TailnetListener } from '../net/listener.js';
import type { TailnetSocket } from '../net/socket.js';
import { PeerAPI, type PeerAPIHost } from '../peerapi/server.js';
import { argumentError, checkKnownOptions, invalidArgType } from '../util/errors.js';
import { closedError } from '../net/errors.js';
import { splitHostPort } from '../wire/ip.js';
import type { Logger } from '../util/log.js';
import { nodeCertificate, type CertSource } from './funnel-cert.js';

export const NODE_ATTR_FUNNEL = 'funnel';
export const NODE_ATTR_HTTPS = 'https';
export const CAP_FUNNEL_PORTS = 'https://tailscale.com/cap/funnel-ports';

export interface FunnelOptions {
  /** Only connections through Funnel: the tailnet cannot connect to this listener (Go's FunnelOnly). */
  funnelOnly?: boolean;
  /** TLS settings for every connection (Go's FunnelTLSConfig); default: the node's own certificate. */
  tlsConfig?: tls.TlsOptions;
}
const FUNNEL_OPTIONS = ['funnelOnly', 'tlsConfig'] as const;

/** What the Server lends the Funnel code. */
export interface FunnelHost {
  /** Waits for the node to be up (as Go's ListenFunnel starts the node). */
  up(): Promise<unknown>;
  selfCapMap(): CapMap;
  /** The names the node may hold certificates for (the netmap's CertDomains). */
  certDomains(): string[];
  /** The node's own certificate for a domain (its certificate client), when it has one. */
  certPair?: CertSource;
  listen(network: 'tcp', address: string): TailnetListener;
  peerCaps(ip: string): CapMap | null;
  setHostinfo(partial: Partial<Hostinfo>): void;
  log: Logger;
}

type FunnelError = Error & { code: string };

function funnelError(code: string, message: string): FunnelError {
  return Object.assign(new Error(message), { code });
}

/**
 * Go's ipn.CheckFunnelAccess: null when this node may Funnel on `port`, else the coded error naming what is
 * missing.
 */
export function checkFunnelAccess(port: number, caps: CapMap): FunnelError | null {
  const missing = [NODE_ATTR_HTTPS, NODE_ATTR_FUNNEL].filter((a) => !(a in caps));
  if (missing.length) {
    return funnelError('ERR_TSNET_FUNNEL_NOT_ALLOWED', `Funnel not available: the node lacks the ${missing.map((m) => `"${m}"`).join(' and ')} node attribute${missing.length > 1 ? 's' : ''} (grant "funnel" in the tailnet policy's nodeAttrs)`);
  }
  const attr = Object.keys(caps).find((k) => k.startsWith(`${CAP_FUNNEL_PORTS}?`));
  const allowed = attr ? new URLSearchParams(attr.slice(CAP_FUNNEL_PORTS.length + 1)).get('ports') ?? '' : '';
  for (const part of allowed.split(',')) {
    const [first, last = first] = part.split('-');
    const lo = Number(first);
    const hi = Number(last);
    if (part && Number.isInteger(lo) && Number.isInteger(hi) && port >= lo && port <= hi) return null;
  }
  return funnelError('ERR_TSNET_FUNNEL_PORT', `port ${port} is not allowed for Funnel${allowed ? `; allowed ports are: ${allowed}` : ' (the node has no funnel-ports attribute)'}`);
}

/** A Funnel listener's events: 'connection' carries a TLS socket after its handshake. */
export interface FunnelListenerEvents {
  listening: [];
  connection: [socket: tls.TLSSocket];
  /** A connection whose TLS handshake failed (as tls.Server's). */
  tlsClientError: [err: Error, socket: net.Socket];
  close: [];
  error: [err: Error];
}

const HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * A listener of TLS sockets on one Funnel port. Public clients' sockets report the client's address as
 * remoteAddress/remotePort (from the ingress's Tailscale-Ingress-Src) and `funnel: true` in `socket.funnel`.
 */
export class FunnelListener extends EventEmitter<FunnelListenerEvents> implements AsyncIterable<tls.TLSSocket> {
  readonly port: number;
  readonly #ctx: tls.SecureContext;
  readonly #opts: tls.TlsOptions;
  readonly #tailnet: TailnetListener | null;
  readonly #onClose: () => void;
  readonly #conns = new Set<net.Socket>();
  #open = true;
  #waiters: Array<(r: IteratorResult<tls.TLSSocket>) => void> = [];
  #backlog: tls.TLSSocket[] = [];
  #iterating = false;

  /** @internal created by Server.listenFunnel */
  constructor(port: number, tlsOptions: tls.TlsOptions, tailnet: TailnetListener | null, onClose: () => void) {
    super();
    this.port = port;
    this.#opts = tlsOptions;
    this.#ctx = tls.createSecureContext(tlsOptions);
    this.#tailnet = tailnet;
    this.#onClose = onClose;
    tailnet?.on('connection', (s) => this.handle(s, null));
    tailnet?.on('error', (e) => this.emit('error', e));
    process.nextTick(() => this.#open && this.emit('listening'));
  }

  get listening(): boolean {
    return this.#open;
  }

  address(): net.AddressInfo {
    return { address: '::', family: 'IPv6', port: this.port };
  }

  /** @internal A raw connection (from the tailnet, or from the ingress with its public source) to serve TLS on. */
  handle(raw: TailnetSocket, src: { ip: string; port: number } | null): void {
    if (!this.#open) {
      raw.destroy();
      return;
    }
    this.#conns.add(raw);
    raw.once('close', () => this.#conns.delete(raw));
    const o = this.#opts;
    const t = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.#ctx,
      ...(o.requestCert !== undefined ? { requestCert: o.requestCert } : {}),
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
      ...(o.ALPNProtocols !== undefined ? { ALPNProtocols: o.ALPNProtocols } : {}),
      ...(o.SNICallback !== undefined ? { SNICallback: o.SNICallback } : {}),
    });
    if (src) {
      // What a public client is to the application: its own address, not the ingress node's.
      const family = src.ip.includes(':') ? 'IPv6' : 'IPv4';
      for (const [k, v] of [['remoteAddress', src.ip], ['remotePort', src.port], ['remoteFamily', family], ['funnel', true]] as const) {
        Object.defineProperty(t, k, { value: v, configurable: true, enumerable: true });
      }
    }
    const timer = setTimeout(() => t.destroy(Object.assign(new Error('TLS handshake timeout'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' })), HANDSHAKE_TIMEOUT_MS);
    let secure = false;
    t.once('secure', () => {
      secure = true;
      clearTimeout(timer);
      if (!this.#open) return void t.destroy();
      this.#deliver(t);
    });
    t.on('error', (err) => {
      clearTimeout(timer);
      if (!secure) {
        // As tls.Server: a failed handshake is the client's problem, reported, never thrown.
        if (this.listenerCount('tlsClientError')) this.emit('tlsClientError', err, raw);
        t.destroy();
        raw.destroy();
      }
    });
    t.once('close', () => clearTimeout(timer));
  }

  #deliver(t: tls.TLSSocket): void {
    if (this.#iterating) {
      const w = this.#waiters.shift();
      if (w) w({ value: t, done: false });
      else this.#backlog.push(t);
    }
    this.emit('connection', t);
  }

  /** Hands every TLS connection to `server` (an http.Server, express app's server, ...) and returns it. */
  serve<S extends net.Server>(server: S): S {
    this.on('connection', (s) => server.emit('connection', s));
    return server;
  }

  /** Stops accepting (and turns Funnel off for this port); open connections stay open, as net.Server#close. */
  close(cb?: (err?: Error) => void): this {
    if (!this.#open) {
      if (cb) process.nextTick(cb, Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' }));
      return this;
    }
    this.#open = false;
    this.#tailnet?.close();
    this.#onClose();
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
    if (cb) this.once('close', () => cb());
    process.nextTick(() => this.emit('close'));
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterator<tls.TLSSocket> {
    this.#iterating = true;
    return {
      next: () => {
        const s = this.#backlog.shift();
        if (s) return Promise.resolve({ value: s, done: false });
        if (!this.#open) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** The Server's Funnel state: its serve config's AllowFunnel entries, their listeners, and the peerAPI. */
export class Funnel {
  readonly #host: FunnelHost;
  #peerAPI: PeerAPI | null = null;
  /** AllowFunnel: "name:port" → the listener serving it. */
  readonly #allow = new Map<string, FunnelListener>();
  #closed = false;

  constructor(host: FunnelHost) {
    this.#host = host;
  }

  /** The node's peerAPI, once started (by the first listenFunnel). */
  get peerAPI(): PeerAPI | null {
    return this.#peerAPI;
  }

  async listen(network: unknown, address: unknown, options: FunnelOptions = {}): Promise<FunnelListener> {
    if (network !== 'tcp') throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', `listenFunnel: only "tcp" is supported, got ${JSON.stringify(network)}`);
    if (typeof address !== 'string') throw invalidArgType('address', 'a string like ":443"', address);
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    checkKnownOptions('listenFunnel(network, address, options)', options, FUNNEL_OPTIONS);
    if (options.funnelOnly !== undefined && typeof options.funnelOnly !== 'boolean') throw invalidArgType('options.funnelOnly', 'a boolean', options.funnelOnly);
    if (options.tlsConfig !== undefined && (typeof options.tlsConfig !== 'object' || options.tlsConfig === null)) {
      throw invalidArgType('options.tlsConfig', 'TLS options (key and cert, pfx, or SNICallback)', options.tlsConfig);
    }
    const { host, port: portText } = splitHostPort(address);
    if (host !== '') throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', `listenFunnel("tcp", "${address}"): the host must be empty, as ":443"`);
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw argumentError('RangeError', 'ERR_OUT_OF_RANGE', `listenFunnel: the port must be 1..65535, got "${portText}"`);

    await this.#host.up();
    if (this.#closed) throw closedError('Server.listenFunnel');
    const denied = checkFunnelAccess(port, this.#host.selfCapMap());
    if (denied) throw denied;
    const domain = this.#host.certDomains()[0];
    // As Go's: no cert domains means HTTPS is off for the tailnet.
    if (!domain) throw funnelError('ERR_TSNET_FUNNEL_NOT_ALLOWED', 'Funnel not available: HTTPS is not enabled (control sent no cert domains)');
    const hp = `${domain}:${port}`;
    if (this.#allow.has(hp)) throw funnelError('EADDRINUSE', `listenFunnel: Funnel on port ${port} is already in use by this node`);
    const tlsOptions = options.tlsConfig ?? (await nodeCertificate(domain, this.#host.certPair));
    if (this.#closed) throw closedError('Server.listenFunnel');
    if (this.#allow.has(hp)) throw funnelError('EADDRINUSE', `listenFunnel: Funnel on port ${port} is already in use by this node`);
    // Without funnelOnly, the tailnet reaches the same listener on the node's own port.
    const tailnet = options.funnelOnly ? null : this.#host.listen('tcp', `:${port}`);
    let ln: FunnelListener;
    try {
      ln = new FunnelListener(port, tlsOptions, tailnet, () => {
        if (this.#allow.get(hp) === ln) this.#allow.delete(hp);
        this.#advertise();
      });
    } catch (err) {
      tailnet?.close();
      throw err;
    }
    this.#ensurePeerAPI();
    this.#allow.set(hp, ln);
    this.#advertise();
    return ln;
  }

  #ensurePeerAPI(): void {
    if (this.#peerAPI) return;
    const h = this.#host;
    const host: PeerAPIHost = { listen: (n, a) => h.listen(n, a), peerCaps: (ip) => h.peerCaps(ip), log: h.log.child('peerapi') };
    this.#peerAPI = new PeerAPI(host);
    // Tailscale's HandleIngressTCPConn: only a target in AllowFunnel, and only to a listener on its port.
    this.#peerAPI.setIngressHandler((src, target) => {
      const ln = this.#allow.get(`${target.host.toLowerCase()}:${target.port}`);
      if (!ln?.listening) return null;
      return (conn) => ln.handle(conn, src);
    });
  }

  /** What control learns (Hostinfo): the peerAPI's port, and whether the node wants ingress. */
  #advertise(): void {
    const on = this.#allow.size > 0 && !this.#closed;
    this.#host.setHostinfo({
      ...(this.#peerAPI ? { Services: this.#peerAPI.services() } : {}),
      WireIngress: on,
      IngressEnabled: on,
    });
  }

  close(): void {
    this.#closed = true;
    for (const ln of [...this.#allow.values()]) ln.close();
    this.#peerAPI?.close();
  }
}
