/**
 * The network edge of the development coordination server:
 *
 *   plain HTTP (node:http, loopback)
 *     GET  /key?v=N           the Noise public key (docs/protocol/control.md §2)
 *     POST /ts2021 (Upgrade)  Noise IK responder + early payload, then HTTP/2 (§3-§6)
 *     GET/POST /register/<id> interactive approval page
 *   HTTP/2 over each Noise connection (node:http2, one server object per connection)
 *     POST /machine/register  (§8; Followup long-poll)
 *     POST /machine/map       (§9-§11; streaming or lite)
 *
 * Every malformed input ends in an HTTP error or a closed stream; nothing
 * here throws into the event loop.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { acceptTs2021Upgrade, HANDSHAKE_HEADER, TS2021_PATH, UPGRADE_PROTOCOL } from '../control/upgrade-server.js';
import { challengePublicToText, machinePublicToText, publicFromPrivate } from '../wire/keys.js';
import { errorMessage, INITIATION_LEN, initiationVersion } from '../control/noise.js';
import type { NoiseStream } from '../control/noise-stream.js';
import { approvalPage, approvedPage, notFoundPage, REGISTER_PATH_PREFIX, registrationIdFrom } from './approval-page.js';
import { BodyTooLargeError, MAX_REQUEST_BODY, parseJSONBody, readBody, sendJSON, sendText } from './http-util.js';
import { encodeMapResponseFrame, type MapSink } from './map-session.js';
import { MapStreams } from './map-streams.js';
import { FollowupWaiters } from './followups.js';
import { validateMapRequest } from './map-request.js';
import { buildView, fullMapResponse, type NetmapConfig } from './netmap.js';
import { parseHTTPResponse, PING_RESPONSE_PATH, PingRegistry, serializeHTTPRequest, type C2NReply, type C2NRequestSpec } from './pings.js';
import { followupResult, handleRegister, validateRegisterRequest } from './register.js';
import { StateError, type DevnetState } from './state.js';
import { PreAuthGate, type PreAuthStats, type PreAuthTicket } from './pre-auth-gate.js';
import type { DevnetNode } from './types.js';

export const MIN_CAPABILITY_VERSION = 100;
export const CURRENT_CAPABILITY_VERSION = 145;

export interface ServerConfig {
  /** Lowest accepted capability version (default 100). */
  minCapVersion: number;
  /** Highest accepted capability version (default: no upper bound). */
  maxCapVersion: number;
  keepAliveMs: number;
  followupTimeoutMs: number;
  ephemeralTimeoutMs: number;
  defaultUser: string;
  /** Most Noise connections of known clients open at once. */
  maxConnections: number;
  /** A Noise connection without any HTTP/2 traffic for this long is closed. */
  idleTimeoutMs: number;
  /** Caps on connections whose client is not known yet (docs/architecture.md, "Development tailnet limits"). */
  preAuthPerIP: number;
  preAuthTotal: number;
  /** A Noise connection whose client is still unknown after this long, with no request in progress, is closed. */
  preAuthTimeoutMs: number;
  /** HTTP request headers must arrive within this. */
  headersTimeoutMs: number;
  /** Plain HTTP: idle between requests. */
  keepAliveTimeoutMs: number;
  /** Plain HTTP: no traffic at all (e.g. a connection that never sends a request). */
  httpIdleTimeoutMs: number;
  logf: (msg: string) => void;
  netmap: () => NetmapConfig;
  now: () => Date;
  /** /machine/set-dns (set-dns.ts): null when done, else [HTTP status, message]; absent: 501. */
  setDNS?: (machineKey: string, body: Record<string, unknown>) => [number, string] | null;
}

interface ConnInfo {
  machineKey: string;
  version: number;
  /** The client is known: its machine key belongs to a node of this tailnet. */
  known: boolean;
  /** Requests being served on this connection. */
  inFlight: number;
  /** Marks the client known (leaves the pre-auth gate, stops the pre-auth timer). */
  promote: () => void;
}

/** What the control server's connection limits have done (docs/architecture.md, "Development tailnet limits"). */
export interface ConnectionStats {
  /** Noise connections of known clients. */
  noiseKnown: number;
  /** TCP connections whose client is not known yet (plain HTTP and Noise). */
  preAuth: number;
  /** Unknown-client connections closed to make room for newer ones. */
  preAuthEvicted: number;
  /** Noise connections closed because their client stayed unknown for the pre-auth timeout. */
  preAuthTimedOut: number;
}

/** Requests in progress, and body size, for a Noise connection whose client is not known yet. */
const UNKNOWN_MAX_IN_FLIGHT = 4;
const UNKNOWN_MAX_BODY = 64 * 1024;

const h2Settings: http2.Settings = {
  maxConcurrentStreams: 64,
  maxHeaderListSize: 64 * 1024,
  initialWindowSize: 1024 * 1024,
};

export class DevnetServer {
  readonly http: http.Server;
  private readonly controlPublicText: string;
  private readonly streams: MapStreams;
  private readonly followups = new FollowupWaiters(() => this.state.followupWaitChanged());

  /** Whether a client's Followup request for pending login `id` is held now. */
  followupWaiting(id: string): boolean {
    return this.followups.waiting(id);
  }
  private readonly h2sessions = new Set<Http2Session>();
  private readonly noiseConns = new Set<Duplex>();
  private readonly plainSockets = new Set<Socket>();
  private readonly gate: PreAuthGate;
  private readonly tickets = new WeakMap<Duplex, PreAuthTicket>();
  private knownNoise = 0;
  private preAuthTimedOut = 0;
  private closing = false;
  private baseURL = '';
  private readonly pings = new PingRegistry();

  constructor(
    private readonly state: DevnetState,
    private readonly controlPrivate: Buffer,
    private readonly cfg: ServerConfig,
  ) {
    this.controlPublicText = machinePublicToText(publicFromPrivate(controlPrivate));
    this.gate = new PreAuthGate({ perIP: cfg.preAuthPerIP, total: cfg.preAuthTotal });
    this.http = http.createServer(
      { maxHeaderSize: 32 * 1024, connectionsCheckingInterval: Math.max(100, Math.min(1000, cfg.headersTimeoutMs / 2)) },
      (req, res) => this.onPlainRequest(req, res),
    );
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('connection', (s: Socket) => {
      this.plainSockets.add(s);
      const ticket = this.gate.admit(s.remoteAddress, () => s.destroy());
      this.tickets.set(s, ticket);
      // A connection that never sends a request (or goes quiet after one) is closed; Node's own timeouts
      // cover partial headers and keep-alive. The upgrade turns this off (Noise has its own timers).
      s.setTimeout(cfg.httpIdleTimeoutMs, () => s.destroy());
      s.once('close', () => {
        this.plainSockets.delete(s);
        ticket.release();
      });
    });
    this.http.on('clientError', (_err, socket: Duplex) => {
      if (!socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    this.streams = new MapStreams(state, cfg);
    // Long-polls and map streams run over Noise (upgraded sockets), which these do not cover.
    this.http.headersTimeout = cfg.headersTimeoutMs;
    this.http.requestTimeout = Math.max(cfg.headersTimeoutMs, 30_000);
    this.http.keepAliveTimeout = cfg.keepAliveTimeoutMs;
  }

  get controlURL(): string {
    return this.baseURL;
  }

  get connectionStats(): ConnectionStats {
    const g: PreAuthStats = this.gate.stats;
    return { noiseKnown: this.knownNoise, preAuth: g.open, preAuthEvicted: g.evicted, preAuthTimedOut: this.preAuthTimedOut };
  }

  get publicKeyText(): string {
    return this.controlPublicText;
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error): void => reject(e);
      this.http.once('error', onErr);
      this.http.listen(port, host, () => {
        this.http.off('error', onErr);
        resolve();
      });
    });
    const addr = this.http.address();
    if (!addr || typeof addr === 'string') throw new Error('devnet: server has no TCP address');
    const h = addr.family === 'IPv6' || addr.family === (6 as unknown as string) ? `[${addr.address}]` : addr.address;
    this.baseURL = `http://${h}:${addr.port}`;
  }

  authURL(id: string): string {
    return `${this.baseURL}${REGISTER_PATH_PREFIX}${id}`;
  }

  // -- plain HTTP ---------------------------------------------------------

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handlePlain(req, res).catch((err: unknown) => {
      this.cfg.logf(`devnet: ${req.method} ${req.url}: ${(err as Error).message}`);
      sendText(res, 500, 'internal error');
    });
  }

  private async handlePlain(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://devnet.invalid');
    const path = url.pathname;
    if (path === '/key') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'use GET');
      const v = url.searchParams.get('v');
      if (v !== null && !/^\d{1,5}$/.test(v)) return sendText(res, 400, 'bad v parameter: want a capability version number');
      return sendJSON(res, 200, { legacyPublicKey: `mkey:${'0'.repeat(64)}`, publicKey: this.controlPublicText });
    }
    if (path === TS2021_PATH) {
      return sendText(res, 400, `${TS2021_PATH} needs "Upgrade: ${UPGRADE_PROTOCOL}" and an ${HANDSHAKE_HEADER} header`);
    }
    if (path.startsWith(REGISTER_PATH_PREFIX)) return this.handleApprovalPage(req, res, path);
    if (path === PING_RESPONSE_PATH) return this.handlePingAnswer(req, res, url.searchParams.get('id') ?? '');
    if (path === '/' || path === '/health') {
      return sendText(res, 200, 'tsnet development control server: for development and tests only (production uses Tailscale or Headscale)\n');
    }
    return sendText(res, 404, 'not found');
  }

  private async handleApprovalPage(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const id = registrationIdFrom(path);
    const p = id ? this.state.pendingById(id) : undefined;
    if (!id || !p) return sendText(res, 404, notFoundPage(), 'text/html; charset=utf-8');
    if (req.method === 'GET' || req.method === 'HEAD') return sendText(res, 200, approvalPage(p, this.cfg.defaultUser), 'text/html; charset=utf-8');
    if (req.method !== 'POST') return sendText(res, 405, 'use GET or POST');
    let body: Buffer;
    try {
      body = await readBody(req, 64 * 1024);
    } catch (e) {
      return sendText(res, e instanceof BodyTooLargeError ? 413 : 400, (e as Error).message);
    }
    const ctype = String(req.headers['content-type'] ?? '');
    let user = this.cfg.defaultUser;
    let tags: string[] = [];
    if (ctype.includes('application/json')) {
      const o = parseJSONBody(body);
      if (typeof o === 'string') return sendText(res, 400, o);
      if (typeof o['user'] === 'string' && o['user']) user = o['user'];
      if (Array.isArray(o['tags'])) tags = o['tags'].filter((t): t is string => typeof t === 'string');
    } else {
      const form = new URLSearchParams(body.toString('utf8'));
      user = form.get('user')?.trim() || user;
      tags = (form.get('tags') ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    }
    try {
      const node = this.approve(id, user, tags);
      if (ctype.includes('application/json')) return sendJSON(res, 200, { nodeId: node.id, user });
      return sendText(res, 200, approvedPage(node.hostinfo.Hostname ?? '', user), 'text/html; charset=utf-8');
    } catch (e) {
      return sendText(res, e instanceof StateError ? 400 : 500, (e as Error).message);
    }
  }

  private async handlePingAnswer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, id: string): Promise<void> {
    if (req.method !== 'HEAD' && req.method !== 'POST') return sendText(res, 405, 'use HEAD or POST');
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (e) {
      return sendText(res, e instanceof BodyTooLargeError ? 413 : 400, (e as Error).message);
    }
    if (!this.pings.answer(id, { method: req.method, body })) return sendText(res, 404, 'unknown or expired ping');
    return sendText(res, 200, 'ok');
  }

  /** Puts a PingRequest into the node's live map stream and waits for the answer. */
  private async sendPing(nodeId: number, fields: { Types?: string; Payload?: string }, timeoutMs: number): Promise<{ method: string; body: Buffer }> {
    const session = this.streams.current(nodeId);
    if (!session) throw new Error(`node ${nodeId} has no map stream open`);
    const { id, answer } = this.pings.create(timeoutMs);
    const url = `${this.baseURL}${PING_RESPONSE_PATH}?id=${id}`;
    if (!session.send({ PingRequest: { URL: url, URLIsNoise: true, ...fields } })) {
      this.pings.cancel(id, new Error(`node ${nodeId}'s map stream closed`));
    }
    return answer;
  }

  /** Liveness ping through control: resolves with the round trip in ms. */
  async pingNode(nodeId: number, timeoutMs = 15_000): Promise<number> {
    const t0 = Date.now();
    await this.sendPing(nodeId, {}, timeoutMs);
    return Date.now() - t0;
  }

  /** Sends an HTTP request to the node over c2n and returns its response. */
  async c2n(nodeId: number, r: C2NRequestSpec, timeoutMs = 15_000): Promise<C2NReply> {
    const payload = serializeHTTPRequest(r).toString('base64');
    const a = await this.sendPing(nodeId, { Types: 'c2n', Payload: payload }, timeoutMs);
    return parseHTTPResponse(a.body);
  }

  /** Approves a waiting interactive registration and wakes its Followup long-poll. */
  approve(id: string, user: string, tags: string[] = []): DevnetNode {
    const node = this.state.approvePending(id, user, this.cfg.now(), tags);
    this.followups.wake(id);
    return node;
  }

  // -- ts2021 upgrade -------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const path = (req.url ?? '').split('?')[0];
    if (path !== TS2021_PATH || req.method !== 'POST') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    // Only known clients count here; unknown ones are bounded by the pre-auth gate.
    if (this.closing || this.knownNoise >= this.cfg.maxConnections) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    // Reject versions above the limit here; acceptTs2021Upgrade checks the lower bound.
    const hdr = req.headers[HANDSHAKE_HEADER.toLowerCase()];
    if (typeof hdr === 'string') {
      const init = Buffer.from(hdr, 'base64');
      if (init.length === INITIATION_LEN && initiationVersion(init) > this.cfg.maxCapVersion) {
        socket.end(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${UPGRADE_PROTOCOL}\r\nConnection: upgrade\r\n\r\n`),
            errorMessage(`unsupported client version ${initiationVersion(init)} (this server accepts ${this.cfg.minCapVersion}..${this.cfg.maxCapVersion})`),
          ]),
        );
        return;
      }
    }
    let accepted;
    try {
      accepted = acceptTs2021Upgrade(req, socket, head, {
        controlPrivate: this.controlPrivate,
        minVersion: this.cfg.minCapVersion,
        earlyPayload: { nodeKeyChallenge: challengePublicToText(randomBytes(32)) },
      });
    } catch (e) {
      this.cfg.logf(`devnet: ts2021 upgrade failed: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    if (!accepted) return;
    if ('setNoDelay' in socket && typeof (socket as Socket).setNoDelay === 'function') (socket as Socket).setNoDelay(true);
    if ('setTimeout' in socket && typeof (socket as Socket).setTimeout === 'function') (socket as Socket).setTimeout(0);
    this.serveNoise(accepted.stream, machinePublicToText(accepted.machinePublic), accepted.version, this.tickets.get(socket));
  }

  private serveNoise(noise: NoiseStream, machineKey: string, version: number, ticket: PreAuthTicket | undefined): void {
    this.noiseConns.add(noise);
    let timer: NodeJS.Timeout | null = null;
    const info: ConnInfo = {
      machineKey,
      version,
      known: false,
      inFlight: 0,
      promote: () => {
        if (info.known) return;
        info.known = true;
        this.knownNoise++;
        ticket?.release();
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
    // The Noise handshake proved the machine key: a node's own machine is known at once. Anyone else must
    // register (or wait for approval) while a short timer runs; an interactive login's Followup long-poll
    // is a request in progress and keeps it open.
    if (this.state.nodeByMachineKey(machineKey)) info.promote();
    else {
      const check = (): void => {
        timer = null;
        if (info.known || noise.destroyed) return;
        if (info.inFlight > 0) {
          timer = setTimeout(check, this.cfg.preAuthTimeoutMs);
          return;
        }
        this.preAuthTimedOut++;
        noise.destroy();
      };
      timer = setTimeout(check, this.cfg.preAuthTimeoutMs);
    }
    noise.on('error', (e: Error) => this.cfg.logf(`devnet: noise connection from ${info.machineKey.slice(0, 16)}…: ${e.message}`));
    // HTTP/2 starts with the client's first bytes (its connection preface): a connection that never sends
    // costs a Noise stream, not an HTTP/2 session. A silent connection is closed after idleTimeoutMs like an
    // idle session (an unknown client's usually sooner, by the pre-auth timer).
    const silent = setTimeout(() => noise.destroy(), this.cfg.idleTimeoutMs);
    noise.once('close', () => {
      this.noiseConns.delete(noise);
      if (timer) clearTimeout(timer);
      timer = null;
      clearTimeout(silent);
      if (info.known) this.knownNoise--;
      ticket?.release();
    });
    noise.once('data', (first: Buffer) => {
      noise.pause();
      noise.unshift(first);
      clearTimeout(silent);
      this.startHTTP2(noise, info);
    });
  }

  private startHTTP2(noise: NoiseStream, info: ConnInfo): void {
    const h2 = http2.createServer({ settings: h2Settings, maxSessionMemory: 32, maxHeaderListPairs: 256 }, (req, res) => {
      this.onNoiseRequest(req, res, info);
    });
    h2.on('session', (s: Http2Session) => {
      this.h2sessions.add(s);
      s.on('error', () => {});
      s.once('close', () => {
        this.h2sessions.delete(s);
        if (!noise.destroyed) noise.destroy();
      });
    });
    h2.on('sessionError', (e: Error) => this.cfg.logf(`devnet: HTTP/2 session error: ${e.message}`));
    // A connection with no HTTP/2 traffic at all (not even keep-alives or a long-poll ending) is dropped.
    // (With no 'timeout' listener, node:http2 destroys the idle session.)
    h2.setTimeout(this.cfg.idleTimeoutMs);
    h2.on('unknownProtocol', () => noise.destroy());
    h2.emit('connection', noise);
  }

  // -- requests over Noise ------------------------------------------------

  private onNoiseRequest(req: Http2ServerRequest, res: Http2ServerResponse, info: ConnInfo): void {
    res.on('error', () => {});
    req.on('error', () => {});
    // Before its client is known a connection gets a few small requests at a time (registering needs one).
    if (!info.known && info.inFlight >= UNKNOWN_MAX_IN_FLIGHT) {
      sendText(res, 429, `at most ${UNKNOWN_MAX_IN_FLIGHT} requests at a time before registering`);
      return;
    }
    info.inFlight++;
    req.stream.once('close', () => info.inFlight--);
    this.handleNoise(req, res, info).catch((err: unknown) => {
      this.cfg.logf(`devnet: ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      sendText(res, 500, 'internal error');
    });
  }

  private async handleNoise(req: Http2ServerRequest, res: Http2ServerResponse, info: ConnInfo): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/machine/register' || path === '/machine/map') {
      if (req.method !== 'POST') return sendText(res, 405, `${path} needs POST`);
      let body: Buffer;
      try {
        body = await readBody(req, info.known ? MAX_REQUEST_BODY : UNKNOWN_MAX_BODY);
      } catch (e) {
        return sendText(res, e instanceof BodyTooLargeError ? 413 : 400, (e as Error).message);
      }
      const obj = parseJSONBody(body);
      if (typeof obj === 'string') return sendText(res, 400, obj);
      const version = obj['Version'];
      if (typeof version === 'number' && (version < this.cfg.minCapVersion || version > this.cfg.maxCapVersion)) {
        return sendText(res, 400, `unsupported capability version ${version} (this server accepts ${this.cfg.minCapVersion}..${this.cfg.maxCapVersion})`);
      }
      return path === '/machine/register' ? this.handleRegister(req, res, info, obj) : this.handleMap(res, info, obj);
    }
    if (path === PING_RESPONSE_PATH) {
      return this.handlePingAnswer(req, res, new URL(req.url ?? '/', 'http://devnet.invalid').searchParams.get('id') ?? '');
    }
    if (path === '/machine/set-dns' && this.cfg.setDNS && info.known) {
      if (req.method !== 'POST') return sendText(res, 405, `${path} needs POST`);
      const obj = parseJSONBody(await readBody(req, UNKNOWN_MAX_BODY).catch(() => Buffer.alloc(0)));
      const err = typeof obj === 'string' ? ([400, obj] as const) : this.cfg.setDNS(info.machineKey, obj);
      return err ? sendText(res, err[0], err[1]) : sendJSON(res, 200, {});
    }
    if (path.startsWith('/machine/')) return sendText(res, 501, `${path} is not implemented by the development server`);
    return sendText(res, 404, 'not found');
  }

  private async handleRegister(req: Http2ServerRequest, res: Http2ServerResponse, info: ConnInfo, body: Record<string, unknown>): Promise<void> {
    const r = validateRegisterRequest(body);
    if (typeof r === 'string') return sendText(res, 400, r);
    const now = this.cfg.now();
    let outcome;
    try {
      outcome = handleRegister(this.state, info.machineKey, r, { now, authURL: (id) => this.authURL(id) });
    } catch (e) {
      if (e instanceof StateError || e instanceof RangeError) return sendText(res, 503, e.message);
      throw e;
    }
    if (outcome.kind === 'error') {
      this.cfg.logf(`devnet: register refused (${outcome.status}): ${outcome.message}`);
      return sendText(res, outcome.status, outcome.message);
    }
    if (outcome.kind === 'response') {
      const rr = outcome.response;
      if (outcome.node) {
        if (outcome.node.machineKey === info.machineKey) info.promote();
        this.streams.cancelEphemeralRemoval(outcome.node.id);
        this.cfg.logf(`devnet: node ${outcome.node.dnsLabel} (${outcome.node.id}, ${outcome.node.ipv4}) registered`);
      } else if (rr.Error) {
        this.cfg.logf(`devnet: register failed: ${rr.Error}`);
      } else if (rr.AuthURL && !r.Followup) {
        this.cfg.logf(`devnet: login for ${r.Hostinfo?.Hostname ?? 'a node'} waits for approval at ${rr.AuthURL}`);
      }
      return sendJSON(res, 200, rr);
    }
    // Followup: hold the request until approved, the client leaves, or the timeout.
    const pending = outcome.pending;
    const why = await this.followups.wait(pending.id, this.cfg.followupTimeoutMs, req);
    const result = why === 'gone' ? null : followupResult(this.state, pending);
    if (result && this.state.nodeByMachineKey(info.machineKey)) info.promote();
    if (result && !res.stream.destroyed) sendJSON(res, 200, result);
  }

  private handleMap(res: Http2ServerResponse, info: ConnInfo, body: Record<string, unknown>): void {
    const v = validateMapRequest(body);
    if (typeof v === 'string') return sendText(res, 400, v);
    const node = this.state.nodeByNodeKey(v.req.NodeKey);
    if (!node || node.machineKey !== info.machineKey) {
      return sendText(res, 401, 'node key is not registered with this machine key; register first');
    }
    info.promote();
    const now = this.cfg.now();
    this.state.updateFromMapRequest(node, {
      ...(v.discoKey !== undefined ? { discoKey: v.discoKey } : {}),
      ...(v.hostinfo !== undefined ? { hostinfo: v.hostinfo } : {}),
      ...(v.endpoints !== undefined ? { endpoints: v.endpoints } : {}),
      capVersion: v.req.Version,
    });
    const cfg = this.cfg.netmap();
    if (!v.req.Stream) {
      // One message, then the body ends. Lite updates (OmitPeers) only need the status.
      const view = buildView(this.state, node, cfg, now);
      const msg = v.req.OmitPeers ? { Node: view.self, ControlTime: now.toISOString() } : fullMapResponse(view, now);
      if (res.stream.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(encodeMapResponseFrame(msg, v.zstd));
      return;
    }
    if (res.stream.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const sink: MapSink = {
      write: (c) => res.write(c),
      end: () => res.end(),
      once: (e, fn) => res.once(e, fn),
      get destroyed() {
        return res.stream.destroyed || res.writableEnded;
      },
    };
    const session = this.streams.open(node, sink, { zstd: v.zstd, keepAlive: v.req.KeepAlive !== false });
    res.once('close', () => session.close(false));
  }

  /** After a restart: ephemeral nodes that do not come back are removed like any disconnected one. */
  sweepEphemeral(): void {
    this.streams.sweepEphemeral();
  }

  /** Number of open map streams (for tests and status). */
  get mapStreams(): number {
    return this.streams.count;
  }

  /** Ends every map stream of a node (e.g. after removing it). */
  disconnectNode(id: number): void {
    this.streams.disconnect(id);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.pings.cancelAll(new Error('devnet closed'));
    this.followups.wakeAll();
    this.streams.close();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const s of this.h2sessions) s.destroy();
    for (const n of this.noiseConns) n.destroy();
    for (const s of this.plainSockets) s.destroy();
    await closed;
  }
}
