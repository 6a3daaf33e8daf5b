// listenTLS: a tailnet TCP listener whose connections are TLS server sockets, with the node's certificates
// (cert.ts) chosen by SNI and fetched on first need. certContexts() is the same certificate source for other
// TLS servers (Funnel, an https.Server): docs/api.md, "Certificates and listenTLS".
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { TailnetListener } from '../net/listener.js';
import type { TailnetSocket } from '../net/socket.js';
import type { CertPair } from './cert.js';

// node:tls loads with the first listener or context, not with the package (docs/performance.md, "What requiring the
// package costs").
const tlsModule = (): typeof tls => require('node:tls') as typeof tls;

/** Gets the certificate for a domain (Server.certPair). */
export type CertSource = (domain: string) => Promise<CertPair>;

/** TLS settings listenTLS passes on (the certificate ones are its own). */
export type ListenTLSOptions = Omit<tls.TlsOptions, 'SNICallback' | 'cert' | 'key' | 'pfx' | 'secureContext'>;

/**
 * Secure contexts for the node's certificate domains: `sniCallback` fits tls.createServer's SNICallback (short
 * names expand to the matching cert domain), `context(domain?)` resolves the context for a domain (default: the
 * first cert domain). Contexts are cached per certificate, so a renewed one is picked up on the next handshake.
 */
export function certContexts(source: CertSource, certDomains: () => string[], options: ListenTLSOptions = {}): {
  context: (domain?: string) => Promise<tls.SecureContext>;
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;
} {
  const cache = new Map<string, { cert: string; ctx: tls.SecureContext }>();
  const context = async (domain?: string): Promise<tls.SecureContext> => {
    const all = certDomains();
    let name = (domain ?? all[0] ?? '').replace(/\.$/, '').toLowerCase();
    if (name && !name.includes('.')) name = all.find((d) => d.startsWith(`${name}.`)) ?? name;
    const pair = await source(name);
    const hit = cache.get(name);
    if (hit && hit.cert === pair.cert) return hit.ctx;
    const ctx = tlsModule().createSecureContext({ ...pickContextOptions(options), cert: pair.cert, key: pair.key });
    cache.set(name, { cert: pair.cert, ctx });
    return ctx;
  };
  return {
    context,
    sniCallback: (servername, cb) => {
      context(servername).then(
        (ctx) => cb(null, ctx),
        (err: Error) => cb(err),
      );
    },
  };
}

function pickContextOptions(o: ListenTLSOptions): tls.SecureContextOptions {
  const { ALPNProtocols: _a, requestCert: _r, rejectUnauthorized: _u, handshakeTimeout: _h, sessionTimeout: _s, ...ctx } = o;
  return ctx;
}

export interface TLSListenerEvents {
  listening: [];
  /** A TLS connection whose handshake finished. */
  connection: [socket: tls.TLSSocket];
  close: [];
  error: [err: Error];
  /** A handshake failed, or no certificate could be had for it (as tls.Server's event). */
  tlsClientError: [err: Error, socket: TailnetSocket];
}

interface ServerInternals {
  _handle: { close(): void; getsockname(out: Record<string, unknown>): number; ref(): void; unref(): void } | null;
  _connections: number;
  _emitCloseIfDrained?(): void;
}

/** A listener of TLS sockets over the tailnet, shaped like TailnetListener (net.Server's events and methods). */
export class TLSListener extends EventEmitter<TLSListenerEvents> implements AsyncIterable<tls.TLSSocket> {
  readonly #inner: TailnetListener;
  readonly #tls: tls.Server;
  readonly #contexts: ReturnType<typeof certContexts>;
  readonly #backlog: tls.TLSSocket[] = [];
  readonly #waiters: Array<(r: IteratorResult<tls.TLSSocket>) => void> = [];
  readonly #connections = new Set<tls.TLSSocket>();
  readonly #source: CertSource;
  readonly #certDomains: () => string[];
  readonly #options: ListenTLSOptions;
  #defaultCert = '';
  #iterating = false;

  /** @internal made by Server.listenTLS */
  constructor(inner: TailnetListener, source: CertSource, certDomains: () => string[], options: ListenTLSOptions = {}) {
    super();
    this.#inner = inner;
    this.#source = source;
    this.#certDomains = certDomains;
    this.#options = options;
    this.#contexts = certContexts(source, certDomains, options);
    this.#tls = tlsModule().createServer({ ...options, SNICallback: this.#contexts.sniCallback });
    this.#tls.on('secureConnection', (s: tls.TLSSocket) => {
      this.#connections.add(s);
      s.once('close', () => this.#connections.delete(s));
      if (this.#iterating) {
        const w = this.#waiters.shift();
        if (w) w({ value: s, done: false });
        else this.#backlog.push(s);
      }
      this.emit('connection', s);
    });
    this.#tls.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
      this.emit('tlsClientError', err, s as unknown as TailnetSocket);
      s.destroy();
    });
    inner.on('connection', (raw: TailnetSocket) => this.#accept(raw));
    inner.on('listening', () => this.emit('listening'));
    inner.on('error', (e: Error) => this.emit('error', e));
    inner.on('close', () => {
      for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
      this.emit('close');
    });
  }

  // Without SNI a client gets the first cert domain's certificate: the server's default context, set (and
  // replaced after a renewal) before the handshake begins.
  #accept(raw: TailnetSocket): void {
    const domain = this.#certDomains()[0] ?? '';
    this.#source(domain).then(
      (pair) => {
        if (raw.destroyed) return;
        if (pair.cert !== this.#defaultCert) {
          this.#tls.setSecureContext({ ...pickContextOptions(this.#options), cert: pair.cert, key: pair.key });
          this.#defaultCert = pair.cert;
        }
        this.#tls.emit('connection', raw);
      },
      (err: Error) => {
        this.emit('tlsClientError', err, raw);
        raw.destroy();
      },
    );
  }

  get listening(): boolean {
    return this.#inner.listening;
  }

  address(): net.AddressInfo {
    return this.#inner.address();
  }

  /** Gets (or renews) the certificate now rather than at the first connection; resolves when it is ready. */
  async prefetch(domain?: string): Promise<void> {
    await this.#contexts.context(domain);
  }

  /** Hands every TLS connection to `server` (an http.Server, for HTTPS) as TailnetListener.serve does. */
  serve<S extends net.Server>(server: S): S {
    const s = server as unknown as ServerInternals;
    if (s._handle) throw new Error('serve(server): the server is already listening');
    s._handle = {
      close: () => this.close(),
      getsockname: (out) => {
        Object.assign(out, this.address());
        return 0;
      },
      ref: () => {},
      unref: () => {},
    };
    s._connections = 0;
    this.on('connection', (socket) => {
      s._connections++;
      socket.on('close', () => {
        s._connections--;
        s._emitCloseIfDrained?.();
      });
      server.emit('connection', socket);
    });
    this.once('close', () => {
      if (s._handle) server.close();
    });
    process.nextTick(() => {
      if (this.listening) server.emit('listening');
    });
    return server;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.#connections.size);
    return this;
  }

  /** Stops accepting; open connections stay open. */
  close(cb?: (err?: Error) => void): this {
    this.#inner.close(cb);
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterator<tls.TLSSocket> {
    this.#iterating = true;
    return {
      next: () => {
        const s = this.#backlog.shift();
        if (s) return Promise.resolve({ value: s, done: false });
        if (!this.listening) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
