/**
 * ControlClient: the long-running control-plane client. Connects (GET /key,
 * ts2021 upgrade, HTTP/2), registers (auth key or interactive AuthURL),
 * runs the map poll with the watchdog, pushes lite updates, answers pings,
 * and reconnects with jittered backoff while keeping the last netmap.
 *
 * Events:
 *   'state'        (state: ControlState)
 *   'netmap'       (netmap: NetworkMap, config: EngineConfig, diff: EngineConfigDiff)   diff vs. the previous config
 *   'authURL'      (url: string)                 interactive login needed
 *   'popBrowserURL'(url: string)
 *   'pingRequest'  (request: PingRequest)        data-plane pings (disco/TSMP/ICMP/peerapi)
 *   'earlyPayload' (payload: EarlyNoise)
 *   'controlError' (err: Error)                  a connection attempt or session failed (will retry)
 *   'fatal'        (err: Error)                  the client stopped (e.g. control refused the auth key)
 */
import { EventEmitter } from 'node:events';
import { Backoff, sleep, type BackoffOptions } from '../util/backoff.js';
import { createLogger, type Logger } from '../util/log.js';
import { dialTs2021, type DialTLSOptions } from './dial.js';
import { engineConfigFromNetmap, type EngineConfig } from '../wire/engine-config.js';
import { diffEngineConfig } from './engine-diff.js';
import { ControlError, isControlError } from '../wire/errors.js';
import { defaultHostinfo, defaultHostname } from './hostinfo.js';
import { ControlHttp2Client } from './http2-client.js';
import {
  deleteNodeProfile,
  loadNodeProfile,
  loadOrCreateMachineKey,
  newNodeProfile,
  rememberSelf,
  saveNodeProfile,
  wipeNodeProfile,
  type NodeProfile,
} from './identity.js';
import {
  generateKeyPair,
  keyPairFromPrivate,
  nodePublicToText,
  publicFromPrivate,
  generatePrivateKey,
  type KeyPair,
} from '../wire/keys.js';
import { buildMapRequest, runMapPoll, sendLiteUpdate } from './map-poll.js';
import { sameEndpoints, sameNetInfo } from './unchanged.js';
import type { NetworkMap } from '../wire/netmap.js';
import { answerPing, pingKind } from './ping.js';
import type { C2NContext, C2NVIPServices } from './c2n.js';
import { LOGOUT_EXPIRY, buildRegisterRequest, classifyRegisterResponse, registerRetryDelayMs } from './register.js';
import { fetchServerKey } from './server-key.js';
import type { Store } from './store.js';
import type { EarlyNoise, Hostinfo, MapRequest, NetInfo, PingRequest, RegisterResponse } from '../wire/tailcfg.js';
import { ownCopy } from '../util/own-buffer.js';

/**
 * Capability version this client claims: the highest whose obligations the node meets (docs/protocol/capver.md;
 * test/capver.test.ts refuses a higher one without the tests for it).
 */
export const CAPABILITY_VERSION = 142;
export const REGISTER_PATH = '/machine/register';

export type ControlState = 'NoState' | 'NeedsLogin' | 'NeedsMachineAuth' | 'Starting' | 'Running' | 'Stopped';

export interface Endpoint {
  /** "ip:port" */
  addr: string;
  /** EndpointType value (1 local, 2 STUN, ...). */
  type: number;
}

export interface ControlClientOptions {
  controlURL: string;
  store: Store;
  hostname?: string;
  /** Used only when the node is not registered yet (or forceReauth). */
  authKey?: string;
  ephemeral?: boolean;
  advertiseTags?: readonly string[];
  /** User-facing messages (the AuthURL). Default: console.log. */
  userLogf?: (msg: string) => void;
  /** Verbose log as text lines (every level). Default: discard. Ignored when `log` is given. */
  logf?: (msg: string) => void;
  /** Leveled, structured log (lib/util/log.ts); component "control". */
  log?: Logger;
  capabilityVersion?: number;
  /** Extra Hostinfo fields merged over the defaults. */
  hostinfo?: Partial<Hostinfo>;
  tls?: DialTLSOptions;
  /** Re-register (new node key) even if a registered node is stored. */
  forceReauth?: boolean;
  watchdogMs?: number;
  backoff?: BackoffOptions;
  maxMapFrame?: number;
  dialTimeoutMs?: number;
  /** Disco private key (fresh random by default; never persisted). */
  discoPrivate?: Uint8Array;
  /** What c2n's debug handlers report (netmap, health, metrics, prefs); absent ones answer 501. */
  c2n?: C2NContext;
}

interface Conn {
  h2: ControlHttp2Client;
}

export class ControlClient extends EventEmitter {
  private readonly opts: ControlClientOptions;
  private readonly version: number;
  private readonly userLogf: (msg: string) => void;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private disco: KeyPair;
  private discoWiped = false;

  private machinePrivate: Buffer | null = null;
  private profile: NodeProfile | null = null;
  private serverKey: Buffer | null = null;
  private conn: Conn | null = null;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private pollActive = false;
  private pendingAuthURL = '';
  private forceReauth: boolean;
  private lastPingURL = '';
  private vipServices: C2NVIPServices = { VIPServices: [], ServicesHash: '' };
  private endpoints: Endpoint[] = [];
  private netInfo: NetInfo | undefined;
  private extraHostinfo: Partial<Hostinfo>;
  private liteTimer: NodeJS.Immediate | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private needRotation = false;
  private saving: Promise<void> = Promise.resolve();
  /** Set when control rejected a map poll: re-send the registration before polling again. */
  private refreshRegistration = false;

  private _state: ControlState = 'NoState';
  private _netmap: NetworkMap | null = null;
  private _config: EngineConfig | null = null;
  private _fatal: Error | null = null;

  constructor(opts: ControlClientOptions) {
    super();
    this.opts = opts;
    this.version = opts.capabilityVersion ?? CAPABILITY_VERSION;
    if (this.version < 113) throw new ControlError('ERR_NOISE_VERSION', 'capability version must be ≥ 113');
    this.userLogf = opts.userLogf ?? ((m) => console.log(m));
    this.log = opts.log ?? createLogger({ logf: opts.logf, logLevel: 'debug' }, 'control');
    this.backoff = new Backoff(opts.backoff);
    this.disco = opts.discoPrivate ? keyPairFromPrivate(opts.discoPrivate) : generateKeyPair();
    this.forceReauth = opts.forceReauth === true;
    this.extraHostinfo = { ...(opts.hostinfo ?? {}) };
  }

  get state(): ControlState {
    return this._state;
  }
  /** The last netmap (kept while control is unreachable). */
  get netmap(): NetworkMap | null {
    return this._netmap;
  }
  get engineConfig(): EngineConfig | null {
    return this._config;
  }
  get machinePublic(): Buffer | null {
    return this.machinePrivate ? publicFromPrivate(this.machinePrivate) : null;
  }
  /** A copy of the current node private key (the WireGuard static key): zero it (fill(0)) after use. */
  get nodePrivate(): Buffer | null {
    return this.profile ? ownCopy(this.profile.nodePrivate) : null;
  }
  get nodePublic(): Buffer | null {
    return this.profile ? publicFromPrivate(this.profile.nodePrivate) : null;
  }
  /** A copy of the disco private key: zero it after use. */
  get discoPrivate(): Buffer {
    return ownCopy(this.disco.privateKey);
  }
  get discoPublic(): Buffer {
    return Buffer.from(this.disco.publicKey);
  }
  /** A fatal error that stopped the client (e.g. control refused the auth key). */
  get fatalError(): Error | null {
    return this._fatal;
  }

  private setState(s: ControlState): void {
    if (s === this._state) return;
    this.log.info('state', { state: s, from: this._state });
    this._state = s;
    this.emit('state', s);
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    if (this.loop) return;
    if (this.discoWiped) {
      this.disco = generateKeyPair();
      this.discoWiped = false;
    }
    this._fatal = null;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.loop = this.run(signal).catch((err: unknown) => {
      if (!signal.aborted) {
        this._fatal = err instanceof Error ? err : new Error(String(err));
        this.log.error('stopped', { error: this._fatal.message, code: (this._fatal as { code?: unknown }).code });
        this.emit('fatal', this._fatal);
      }
    });
  }

  /** Starts and resolves with the netmap once Running; rejects on a fatal error or abort. */
  up(signal?: AbortSignal): Promise<NetworkMap> {
    this.start();
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this._state === 'Running' && this._netmap) {
          cleanup();
          resolve(this._netmap);
          return true;
        }
        return false;
      };
      const onFatal = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal!.reason);
      };
      const onState = (): void => {
        check();
      };
      const cleanup = (): void => {
        this.off('state', onState);
        this.off('netmap', onState);
        this.off('fatal', onFatal);
        signal?.removeEventListener('abort', onAbort);
      };
      if (this._fatal) return reject(this._fatal);
      if (check()) return;
      this.on('state', onState);
      this.on('netmap', onState);
      this.on('fatal', onFatal);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** New magicsock endpoints: pushed to control with a lite update (none when unchanged). */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    if (sameEndpoints(this.endpoints, endpoints)) return;
    this.endpoints = endpoints.map((e) => ({ ...e }));
    this.scheduleLiteUpdate();
  }

  setNetInfo(ni: NetInfo): void {
    if (this.netInfo && sameNetInfo(this.netInfo, ni)) return;
    this.netInfo = { ...ni };
    this.scheduleLiteUpdate();
  }

  setHostinfo(partial: Partial<Hostinfo>): void {
    this.extraHostinfo = { ...this.extraHostinfo, ...partial };
    this.scheduleLiteUpdate();
  }

  /**
   * The services this node hosts (docs/services.md): answered to control's c2n GET /vip-services, and
   * announced by their hash in Hostinfo.ServicesHash, which tells control to fetch them again.
   */
  setVIPServices(v: C2NVIPServices): void {
    this.vipServices = v;
    this.setHostinfo({ ServicesHash: v.ServicesHash });
  }

  /** Current Hostinfo as sent to control. */
  hostinfo(): Hostinfo {
    const hi: Hostinfo = {
      ...defaultHostinfo({
        hostname: this.opts.hostname ?? defaultHostname(),
        backendLogID: this.profile?.backendLogID ?? '',
        stateEncrypted: this.opts.store.encrypted === true,
        ...(this.opts.advertiseTags ? { requestTags: this.opts.advertiseTags } : {}),
      }),
      ...this.extraHostinfo,
    };
    if (this.netInfo) hi.NetInfo = this.netInfo;
    return hi;
  }

  /** Forces a new login (new node key; auth key if configured, else interactive). */
  async login(): Promise<void> {
    this.forceReauth = true;
    this.pendingAuthURL = '';
    await this.restart();
  }

  /** Logs out: expires the node key at control, forgets the node (keeps the machine key), stops. */
  async logout(): Promise<void> {
    const conn = this.conn;
    const profile = this.profile;
    // Stop the map poll first, keeping the connection (an aborted loop leaves it open): control ends the poll
    // once the key expires, and the loop's answer to that, dropping the connection, would cut off the reply.
    this.abort?.abort(new ControlError('ERR_CLOSED', 'logging out'));
    await this.loop;
    if (conn && !conn.h2.closed && profile) {
      const req = buildRegisterRequest({
        version: this.version,
        nodePublic: publicFromPrivate(profile.nodePrivate),
        hostinfo: this.hostinfo(),
        expiry: LOGOUT_EXPIRY,
        nlPublicHex: profile.nlPublicHex,
      });
      try {
        await conn.h2.postJSON<RegisterResponse>(REGISTER_PATH, req, { lbNodeKey: req.NodeKey, signal: AbortSignal.timeout(15_000) });
      } catch (err) {
        this.log.warn('logout request failed', { error: (err as Error).message });
      }
    }
    await this.stopLoop();
    await deleteNodeProfile(this.opts.store);
    wipeNodeProfile(this.profile);
    this.profile = null;
    this._netmap = null;
    this._config = null;
    this.setState('NeedsLogin');
  }

  /**
   * POSTs JSON to a Noise endpoint (e.g. /machine/set-dns) on the current
   * control connection. Rejects with ERR_CLOSED when not connected.
   */
  async postJSON<T>(path: string, body: object, signal?: AbortSignal): Promise<T> {
    const conn = this.conn;
    const nodePub = this.nodePublic;
    if (!conn || conn.h2.closed || !nodePub) throw new ControlError('ERR_CLOSED', 'not connected to control');
    const r = await conn.h2.postJSON<T>(path, body, { lbNodeKey: nodePublicToText(nodePub), ...(signal ? { signal } : {}) });
    return r.body;
  }

  /**
   * Stops, and zeroes the private keys held in memory (machine, node, disco); a later start() reloads the
   * machine and node keys from the store and makes a new disco key.
   */
  async close(): Promise<void> {
    await this.stopLoop();
    this.machinePrivate?.fill(0);
    this.machinePrivate = null;
    wipeNodeProfile(this.profile);
    this.profile = null;
    this.disco.privateKey.fill(0);
    this.discoWiped = true;
    this.setState('Stopped');
  }

  private async restart(): Promise<void> {
    await this.stopLoop();
    this.start();
  }

  private async stopLoop(): Promise<void> {
    this.abort?.abort(new ControlError('ERR_CLOSED', 'control client closed'));
    this.dropConn();
    if (this.liteTimer) clearImmediate(this.liteTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.liteTimer = null;
    this.expiryTimer = null;
    const loop = this.loop;
    this.loop = null;
    await loop;
    await this.saving;
  }

  private dropConn(): void {
    const c = this.conn;
    this.conn = null;
    this.pollActive = false;
    if (c) c.h2.destroy();
  }

  // ---------------------------------------------------------------------------

  private async run(signal: AbortSignal): Promise<void> {
    const store = this.opts.store;
    const machine = await loadOrCreateMachineKey(store);
    this.machinePrivate?.fill(0);
    this.machinePrivate = machine;
    let profile = await loadNodeProfile(store);
    if (!profile || (profile.controlURL && profile.controlURL !== this.opts.controlURL)) {
      wipeNodeProfile(profile);
      profile = { ...newNodeProfile(), controlURL: this.opts.controlURL };
      await saveNodeProfile(store, profile);
    }
    // The profile of a previous run (restart, login) is replaced: its keys are no longer used.
    if (this.profile && this.profile.nodePrivate !== profile.nodePrivate) wipeNodeProfile(this.profile);
    this.profile = profile;
    if (this._state === 'NoState' || this._state === 'Stopped') this.setState(profile.registered ? 'Starting' : 'NeedsLogin');

    while (!signal.aborted) {
      try {
        const conn = await this.connect(signal);
        await this.register(conn, signal);
        await this.poll(conn, signal);
      } catch (err) {
        if (signal.aborted) break;
        this.dropConn();
        if (isControlError(err, 'ERR_REGISTER')) throw err;
        if (isControlError(err, 'ERR_HTTP_STATUS') && err.status !== undefined && err.status >= 400 && err.status < 500) {
          // Control may have forgotten this node: register again before the next poll.
          this.refreshRegistration = true;
        }
        const e = err instanceof Error ? err : new Error(String(err));
        this.emit('controlError', e);
        const delay = this.backoff.next();
        if (isControlError(err, 'ERR_NOISE_DECRYPT') || isControlError(err, 'ERR_NOISE_SERVER_ERROR') || isControlError(err, 'ERR_UPGRADE')) {
          this.serverKey = null;
        }
        this.log.warn('connection failed; retrying', { error: e.message, code: (e as { code?: unknown }).code, retryInMs: delay });
        try {
          await sleep(delay, signal);
        } catch {
          break;
        }
      }
    }
  }

  private async connect(signal: AbortSignal): Promise<Conn> {
    if (this.conn && !this.conn.h2.closed) return this.conn;
    this.dropConn();
    const url = new URL(this.opts.controlURL);
    if (!this.serverKey) {
      this.serverKey = await fetchServerKey({
        controlURL: url,
        version: this.version,
        signal,
        ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      });
    }
    const noise = await dialTs2021({
      controlURL: url,
      version: this.version,
      machinePrivate: this.machinePrivate!,
      controlPublic: this.serverKey,
      signal,
      ...(this.opts.dialTimeoutMs !== undefined ? { timeoutMs: this.opts.dialTimeoutMs } : {}),
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
    });
    if (noise.earlyPayload) this.emit('earlyPayload', noise.earlyPayload);
    noise.on('earlyPayload', (p: EarlyNoise) => this.emit('earlyPayload', p));
    const h2 = new ControlHttp2Client(noise, url.host);
    const conn = { h2 };
    this.conn = conn;
    h2.session.on('close', () => {
      if (this.conn === conn) this.conn = null;
    });
    return conn;
  }

  private nodeKeyExpired(): boolean {
    const exp = this.profile?.keyExpiry;
    if (!exp || exp.startsWith('0001-01-01')) return false;
    const t = Date.parse(exp);
    return Number.isFinite(t) && t <= Date.now();
  }

  private async rotateNodeKey(): Promise<void> {
    const p = this.profile!;
    const next: NodeProfile = { ...p, oldNodePrivate: p.nodePrivate, nodePrivate: generatePrivateKey(), registered: false };
    delete next.keyExpiry;
    this.profile = next;
    await saveNodeProfile(this.opts.store, next);
  }

  /** Runs registration until the node key is accepted (or throws). */
  private async register(conn: Conn, signal: AbortSignal): Promise<void> {
    let p = this.profile!;
    const rotate = this.forceReauth || this.needRotation || (p.registered && this.nodeKeyExpired());
    if (rotate && !this.pendingAuthURL) {
      await this.rotateNodeKey();
      this.forceReauth = false;
      this.needRotation = false;
      p = this.profile!;
    } else if (p.registered && !this.pendingAuthURL && this._state === 'Running' && !this.refreshRegistration) {
      return; // Reconnect of a running node: nothing to (re)register.
    }
    this.refreshRegistration = false;
    let expiredRetry = false;
    let triedAuthKeyAfterURL = false;
    for (;;) {
      p = this.profile!;
      const nodePub = publicFromPrivate(p.nodePrivate);
      const useAuthKey = !p.registered && !this.pendingAuthURL && !!this.opts.authKey;
      const req = buildRegisterRequest({
        version: this.version,
        nodePublic: nodePub,
        oldNodePublic: p.oldNodePrivate ? publicFromPrivate(p.oldNodePrivate) : null,
        nlPublicHex: p.nlPublicHex,
        hostinfo: this.hostinfo(),
        ...(useAuthKey ? { authKey: this.opts.authKey! } : {}),
        ...(this.opts.ephemeral ? { ephemeral: true } : {}),
        ...(this.pendingAuthURL ? { followup: this.pendingAuthURL } : {}),
      });
      let resp: RegisterResponse;
      try {
        const r = await conn.h2.postJSON<RegisterResponse>(REGISTER_PATH, req, {
          lbNodeKey: [req.OldNodeKey, req.NodeKey],
          signal: this.pendingAuthURL ? signal : AbortSignal.any([signal, AbortSignal.timeout(60_000)]),
        });
        resp = r.body;
      } catch (err) {
        if (isControlError(err) && err.status === 429) {
          const wait = registerRetryDelayMs(err.retryAfter);
          this.log.warn('register rate-limited', { retryInMs: wait });
          await sleep(wait, signal);
          continue;
        }
        if (isControlError(err) && (err.status === 401 || err.status === 403) && useAuthKey) {
          // Headscale answers a bad or spent pre-auth key with 401 and a message.
          throw new ControlError('ERR_REGISTER', `control refused the auth key: ${err.message}`, { cause: err, status: err.status });
        }
        if (isControlError(err) && err.status === 404 && this.pendingAuthURL) {
          // The login URL expired on the server: start a new interactive login.
          this.pendingAuthURL = '';
          continue;
        }
        throw err;
      }
      const out = classifyRegisterResponse(resp);
      switch (out.kind) {
        case 'nodeKeyExpired':
          if (expiredRetry) throw new ControlError('ERR_REGISTER', 'control reports the new node key as expired');
          expiredRetry = true;
          this.pendingAuthURL = '';
          await this.rotateNodeKey();
          continue;
        case 'needsSignature':
          throw new ControlError('ERR_REGISTER', 'tailnet lock requires a node-key signature; not supported by this client');
        case 'authURL': {
          if (p.registered && this.opts.authKey && !triedAuthKeyAfterURL && !this.pendingAuthURL) {
            // Control forgot the node: log in again with the auth key and a fresh node key.
            triedAuthKeyAfterURL = true;
            await this.rotateNodeKey();
            continue;
          }
          if (!this.pendingAuthURL || this.pendingAuthURL !== out.url) {
            this.pendingAuthURL = out.url;
            this.setState('NeedsLogin');
            this.userLogf(`To authenticate this node, visit: ${out.url}`);
            this.emit('authURL', out.url);
          }
          continue; // Followup long-poll with the same key.
        }
        case 'registered': {
          this.pendingAuthURL = '';
          const next: NodeProfile = { ...this.profile!, registered: true };
          delete next.oldNodePrivate;
          if (resp.User) next.user = { ID: resp.User.ID, ...(resp.User.DisplayName ? { DisplayName: resp.User.DisplayName } : {}) };
          if (resp.Login?.LoginName && next.user) next.user.LoginName = resp.Login.LoginName;
          this.profile = next;
          await saveNodeProfile(this.opts.store, next);
          this.setState(out.machineAuthorized ? 'Starting' : 'NeedsMachineAuth');
          return;
        }
      }
    }
  }

  private mapRequest(): MapRequest {
    return buildMapRequest({
      version: this.version,
      nodePublic: this.nodePublic!,
      discoPublic: this.disco.publicKey,
      hostinfo: this.hostinfo(),
      endpoints: this.endpoints,
    });
  }

  private async poll(conn: Conn, signal: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let first = true;
    try {
      this.pollActive = true;
      await runMapPoll(conn.h2, {
        request: this.mapRequest(),
        lbNodeKey: nodePublicToText(this.nodePublic!),
        signal: ac.signal,
        lastPingURL: this.lastPingURL,
        ...(this.opts.watchdogMs !== undefined ? { watchdogMs: this.opts.watchdogMs } : {}),
        ...(this.opts.maxMapFrame !== undefined ? { maxFrame: this.opts.maxMapFrame } : {}),
        onEvent: (ev, decoder) => {
          this.lastPingURL = decoder.state.lastPingURL;
          switch (ev.type) {
            case 'netmap':
              this.onNetmap(ev.netmap);
              if (first) {
                first = false;
                this.backoff.reset();
                // Stream=true is read-only for capver ≥ 68: push Hostinfo/endpoints separately.
                this.scheduleLiteUpdate();
              }
              if (this.needRotation) ac.abort(new ControlError('ERR_NEEDS_LOGIN', 'node key expired; re-registering'));
              break;
            case 'pingRequest':
              this.onPing(ev.request, conn);
              break;
            case 'popBrowserURL':
              this.userLogf(`Control asks to open: ${ev.url}`);
              this.emit('popBrowserURL', ev.url);
              break;
            case 'keepAlive':
              break;
          }
        },
      });
    } finally {
      this.pollActive = false;
      signal.removeEventListener('abort', onAbort);
    }
  }

  private onNetmap(nm: NetworkMap): void {
    this._netmap = nm;
    const prevConfig = this._config;
    this._config = engineConfigFromNetmap(nm);
    const diff = diffEngineConfig(prevConfig, this._config);
    const p = this.profile!;
    if (p.nodeID !== nm.self.ID || p.name !== nm.self.Name || p.keyExpiry !== nm.self.KeyExpiry) {
      this.profile = rememberSelf(p, nm.self);
      const profile = this.profile;
      this.saving = this.saving
        .then(() => saveNodeProfile(this.opts.store, profile))
        .catch((err: Error) => this.log.error('saving state failed', { error: err.message }));
    }
    this.armExpiryTimer();
    if (this.nodeKeyExpired()) this.needRotation = true;
    this.setState(nm.self.MachineAuthorized === false ? 'NeedsMachineAuth' : 'Running');
    this.emit('netmap', nm, this._config, diff);
  }

  private armExpiryTimer(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const exp = this.profile?.keyExpiry;
    if (!exp || exp.startsWith('0001-01-01')) return;
    const ms = Date.parse(exp) - Date.now();
    if (!Number.isFinite(ms) || ms <= 0 || ms > 2 ** 31 - 1) return;
    this.expiryTimer = setTimeout(() => {
      this.needRotation = true;
      this.dropConn(); // the loop re-registers with a new key
    }, ms);
    this.expiryTimer.unref();
  }

  private onPing(pr: PingRequest, conn: Conn): void {
    if (pingKind(pr) === 'data-plane') {
      this.emit('pingRequest', pr);
      return;
    }
    answerPing(pr, conn.h2, this.opts.tls, { ...this.opts.c2n, vipServices: () => this.vipServices }).then(
      (status) => this.log.debug('answered ping', { type: pr.Types || 'liveness', status }),
      (err: Error) => this.log.warn('answering ping failed', { error: err.message }),
    );
  }

  private scheduleLiteUpdate(): void {
    if (this.liteTimer || !this.pollActive) return;
    this.liteTimer = setImmediate(() => {
      this.liteTimer = null;
      const conn = this.conn;
      if (!conn || !this.pollActive || !this.profile) return;
      const req = this.mapRequest();
      sendLiteUpdate(conn.h2, req, req.NodeKey, AbortSignal.timeout(30_000)).catch((err: Error) =>
        this.log.warn('lite update failed', { error: err.message }),
      );
    });
  }
}
