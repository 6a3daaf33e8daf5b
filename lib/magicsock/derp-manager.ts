/**
 * One DERP transport per region: dials (derp-dial.ts), hands the engine a
 * byte pipe to the TLS socket, keeps the home region connected and tears
 * everything down on close(). The engine speaks DERP itself; this module never
 * looks at the bytes.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { Backoff } from '../util/backoff.js';
import type { EngineDERPRegion } from '../wire/engine-config.js';
import { dialDERPRegion } from './derp-dial.js';
import type { DERPEngineTLS } from './derp-engine-tls.js';
import { forwardBatched } from './derp-forward.js';

export interface DERPManagerOptions {
  /** Called once per established connection: returns the engine's end of the byte pipe for this region. */
  attach(regionID: number, serverKey: Buffer | null, hostName: string): Duplex;
  /** Injectable for tests. */
  dial?: typeof dialDERPRegion;
  /** The engine's TLS record layer (derp-engine-tls.ts): the engine dials and, after Node's handshake, carries
   * the connection itself; `attach` is then not called. */
  engineTLS?: DERPEngineTLS;
  logf?: (m: string) => void;
  /** Home reconnect backoff (ms): first step (default 100), cap (default 5000), reset after a connection lived this long (default 10 000). */
  reconnect?: { initialMs?: number; maxMs?: number; resetAfterMs?: number; random?: () => number };
}

export interface DERPManagerEvents {
  /** engineTLS: the engine carries the connection's TLS records (derp-engine-tls.ts). */
  connected: [regionID: number, engineTLS: boolean];
  /** After a connection ends, or a dial fails (error set). */
  disconnected: [regionID: number, error: Error | null];
}

interface Conn {
  socket: tls.TLSSocket;
  engine: Duplex;
  /** Detaches the two forwarders (derp-forward.ts). */
  unwire: () => void;
  since: number;
  done: boolean;
}

interface RegionState {
  readonly id: number;
  region: EngineDERPRegion;
  /** Nodes as JSON: a changed definition forces a reconnect. */
  shape: string;
  conn: Conn | null;
  dialing: AbortController | null;
  retry: NodeJS.Timeout | null;
  readonly backoff: Backoff;
}

const shapeOf = (r: EngineDERPRegion): string => JSON.stringify(r.nodes);

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export class DERPManager extends EventEmitter<DERPManagerEvents> {
  private readonly states = new Map<number, RegionState>();
  private home = 0;
  private closed = false;
  private readonly attachFn: DERPManagerOptions['attach'];
  private readonly dial: typeof dialDERPRegion;
  private readonly engineTLS: DERPEngineTLS | undefined;
  private readonly logf: (m: string) => void;
  private readonly resetAfterMs: number;
  private readonly backoffOpts: { initialMs: number; maxMs: number; random?: () => number };

  constructor(opts: DERPManagerOptions) {
    super();
    this.attachFn = opts.attach;
    this.dial = opts.dial ?? dialDERPRegion;
    this.engineTLS = opts.engineTLS;
    this.logf = opts.logf ?? ((): void => {});
    const r = opts.reconnect ?? {};
    this.resetAfterMs = r.resetAfterMs ?? 10_000;
    this.backoffOpts = { initialMs: r.initialMs ?? 100, maxMs: r.maxMs ?? 5000, ...(r.random ? { random: r.random } : {}) };
  }

  /** The current DERP map. Regions no longer in it are closed; a redefined region is closed (and redialled if it is home). */
  setRegions(regions: readonly EngineDERPRegion[]): void {
    if (this.closed) return;
    const next = new Map(regions.map((r) => [r.id, r]));
    for (const st of [...this.states.values()]) {
      const r = next.get(st.id);
      if (!r) {
        this.states.delete(st.id);
        this.stop(st, null);
      } else if (shapeOf(r) !== st.shape) {
        st.region = r;
        st.shape = shapeOf(r);
        this.stop(st, null);
        if (st.id === this.home) this.connect(st);
      }
    }
    for (const r of regions) {
      if (!this.states.has(r.id)) this.states.set(r.id, { id: r.id, region: r, shape: shapeOf(r), conn: null, dialing: null, retry: null, backoff: new Backoff(this.backoffOpts) });
    }
    this.ensureHome();
  }

  /** The home region (0 = none) is kept connected. A previous home stays connected but is no longer redialled. */
  setHome(regionID: number): void {
    if (this.closed) return;
    this.home = regionID;
    this.ensureHome();
  }

  /** The engine needs this region: dial it unless connected or dialling. False if the region is not in the map (or closed). */
  want(regionID: number): boolean {
    const st = this.states.get(regionID);
    if (this.closed || !st) return false;
    if (!st.conn && !st.dialing) this.connect(st);
    return true;
  }

  connected(regionID: number): boolean {
    return this.states.get(regionID)?.conn != null;
  }

  /** Closes every connection and dial; no reconnects afterwards. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const st of this.states.values()) this.stop(st, null);
    this.states.clear();
  }

  private ensureHome(): void {
    const st = this.states.get(this.home);
    if (st && !st.conn && !st.dialing && !st.retry) this.connect(st);
  }

  /** Ends the region's connection, dial and retry timer. */
  private stop(st: RegionState, err: Error | null): void {
    if (st.retry) clearTimeout(st.retry);
    st.retry = null;
    st.dialing?.abort();
    st.dialing = null;
    if (st.conn) this.teardown(st, st.conn, err);
  }

  private connect(st: RegionState): void {
    if (st.retry) clearTimeout(st.retry);
    st.retry = null;
    const ac = new AbortController();
    st.dialing = ac;
    this.dial(st.region, { signal: ac.signal, logf: this.logf, ...(this.engineTLS ? { engineTLS: this.engineTLS } : {}) }).then(
      (t) => {
        if (st.dialing !== ac) {
          // Superseded (closed, region removed or redefined) while dialling.
          t.socket.destroy();
          t.engineStream?.destroy();
          return;
        }
        st.dialing = null;
        if (t.engineStream) {
          this.wire(st, t.socket, t.engineStream, false);
          return;
        }
        let engine: Duplex;
        try {
          engine = this.attachFn(st.id, t.serverKey, t.node.hostName);
        } catch (e) {
          t.socket.destroy();
          this.gone(st, asError(e), 0);
          return;
        }
        this.wire(st, t.socket, engine);
      },
      (e: unknown) => {
        if (st.dialing !== ac) return;
        st.dialing = null;
        this.logf(`derp: region ${st.id}: ${asError(e).message}`);
        this.gone(st, asError(e), 0);
      },
    );
  }

  /** Pipes both ways with backpressure; whichever side ends, errors or closes first takes the other down. */
  private wire(st: RegionState, socket: tls.TLSSocket, engine: Duplex, forward = true): void {
    const conn: Conn = { socket, engine, unwire: () => {}, since: Date.now(), done: false };
    st.conn = conn;
    // The error listeners stay for good: a destroyed stream may still report an error later.
    socket.on('error', (e: Error) => this.teardown(st, conn, e));
    engine.on('error', (e: Error) => this.teardown(st, conn, e));
    // Engine TLS (forward false): the engine carries the connection; its stream ends when the connection does,
    // and the TLS socket that did the handshake only waits to be destroyed.
    for (const s of forward ? [socket, engine] : [engine]) {
      s.once('end', () => this.teardown(st, conn, null));
      s.once('close', () => this.teardown(st, conn, null));
    }
    if (!forward) {
      this.emit('connected', st.id, true);
      return;
    }
    // Not pipe(): one write per event-loop turn instead of one per TLS record (derp-forward.ts).
    const up = forwardBatched(socket, engine);
    const down = forwardBatched(engine, socket);
    conn.unwire = () => {
      up();
      down();
    };
    this.emit('connected', st.id, false);
  }

  private teardown(st: RegionState, conn: Conn, err: Error | null): void {
    if (conn.done) return;
    conn.done = true;
    conn.unwire();
    conn.socket.destroy();
    conn.engine.destroy();
    if (st.conn === conn) st.conn = null;
    this.gone(st, err, Date.now() - conn.since);
  }

  /** A connection ended or a dial failed: report it, and schedule a redial if this is still the home region. */
  private gone(st: RegionState, err: Error | null, livedMs: number): void {
    if (livedMs >= this.resetAfterMs) st.backoff.reset();
    const live = !this.closed && this.states.get(st.id) === st;
    if (live && st.id === this.home && !st.conn && !st.dialing && !st.retry) {
      const delay = st.backoff.next();
      this.logf(`derp: home region ${st.id} down (${err?.message ?? 'closed'}); redial in ${delay} ms`);
      st.retry = setTimeout(() => {
        st.retry = null;
        if (!this.closed && st.id === this.home && !st.conn && !st.dialing) this.connect(st);
      }, delay);
      // The engine's own handles keep the process alive while a node runs; a pending redial should not.
      st.retry.unref();
    }
    this.emit('disconnected', st.id, err);
  }
}
