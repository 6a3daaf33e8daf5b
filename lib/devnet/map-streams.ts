/**
 * The live map streams of all nodes: one MapSession per node (a new poll
 * replaces the old one without an offline blip), online/offline bookkeeping,
 * removal of ephemeral nodes some time after their last stream closed, and
 * the timer that wakes streams when a node key crosses its expiry.
 */
import { MapSession, type MapSink } from './map-session.js';
import { buildView, type NetmapConfig } from './netmap.js';
import type { DevnetState } from './state.js';
import type { DevnetNode } from './types.js';

export interface MapStreamsConfig {
  keepAliveMs: number;
  ephemeralTimeoutMs: number;
  logf: (msg: string) => void;
  netmap: () => NetmapConfig;
  now: () => Date;
}

export class MapStreams {
  private readonly sessions = new Set<MapSession>();
  private readonly byNode = new Map<number, Set<MapSession>>();
  private readonly ephemeralTimers = new Map<number, NodeJS.Timeout>();
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;
  private closing = false;

  constructor(
    private readonly state: DevnetState,
    private readonly cfg: MapStreamsConfig,
  ) {
    this.unsubscribe = state.subscribe((kind) => {
      if (kind === 'netmap') this.armExpiryTimer();
    });
    this.armExpiryTimer();
  }

  /** Starts streaming to `node` on `sink`; the node is online until its last stream closes. */
  open(node: DevnetNode, sink: MapSink, o: { zstd: boolean; keepAlive: boolean }): MapSession {
    const session = new MapSession(this.state, node, sink, {
      zstd: o.zstd,
      keepAliveMs: o.keepAlive ? this.cfg.keepAliveMs : 0,
      view: (n, t) => buildView(this.state, n, this.cfg.netmap(), t),
      now: this.cfg.now,
      onClose: (s) => this.onClosed(s),
    });
    this.sessions.add(session);
    let set = this.byNode.get(node.id);
    if (!set) {
      set = new Set();
      this.byNode.set(node.id, set);
    }
    const older = [...set];
    set.add(session);
    for (const old of older) old.close(true);
    this.cancelEphemeralRemoval(node.id);
    if (!node.online) this.cfg.logf(`devnet: node ${node.dnsLabel} (${node.id}) is online`);
    this.state.setOnline(node, true, this.cfg.now());
    session.start();
    return session;
  }

  /** The node's current stream, if any. */
  current(nodeId: number): MapSession | undefined {
    const list = [...(this.byNode.get(nodeId) ?? [])];
    return list[list.length - 1];
  }

  get count(): number {
    return this.sessions.size;
  }

  /** Ends every stream of a node. */
  disconnect(nodeId: number): void {
    for (const s of [...(this.byNode.get(nodeId) ?? [])]) s.close(true);
  }

  /** A node (re)registered: it is not to be removed as a stale ephemeral node. */
  cancelEphemeralRemoval(id: number): void {
    const t = this.ephemeralTimers.get(id);
    if (t) {
      clearTimeout(t);
      this.ephemeralTimers.delete(id);
    }
  }

  /** After a restart: ephemeral nodes that do not come back are removed like any disconnected one. */
  sweepEphemeral(): void {
    for (const n of this.state.allNodes()) if (n.ephemeral && !this.byNode.get(n.id)?.size) this.scheduleEphemeralRemoval(n.id);
  }

  private onClosed(s: MapSession): void {
    this.sessions.delete(s);
    const set = this.byNode.get(s.nodeId);
    set?.delete(s);
    if (set && set.size) return;
    this.byNode.delete(s.nodeId);
    const node = this.state.node(s.nodeId);
    if (!node) return;
    this.state.setOnline(node, false, this.cfg.now());
    if (this.closing) return;
    this.cfg.logf(`devnet: node ${node.dnsLabel} (${node.id}) went offline`);
    if (node.ephemeral) this.scheduleEphemeralRemoval(node.id);
  }

  private scheduleEphemeralRemoval(id: number): void {
    this.cancelEphemeralRemoval(id);
    const t = setTimeout(() => {
      this.ephemeralTimers.delete(id);
      const n = this.state.node(id);
      if (n && n.ephemeral && !this.byNode.get(id)?.size) {
        this.cfg.logf(`devnet: removing ephemeral node ${n.dnsLabel} (${id}) after disconnect`);
        this.state.removeNode(id);
      }
    }, this.cfg.ephemeralTimeoutMs);
    t.unref?.();
    this.ephemeralTimers.set(id, t);
  }

  /** Key expiry changes what nodes see: wake the streams when the next key crosses its expiry. */
  private armExpiryTimer(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.closing) return;
    const now = this.cfg.now().getTime();
    let next = Infinity;
    for (const n of this.state.allNodes()) {
      const t = n.keyExpiry ? Date.parse(n.keyExpiry) : NaN;
      if (t > now && t < next) next = t;
    }
    if (!Number.isFinite(next)) return;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.state.touch();
    }, Math.min(next - now + 1, 0x7fffffff));
    this.expiryTimer.unref?.();
  }

  /** Ends all streams and timers. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.unsubscribe();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    for (const t of this.ephemeralTimers.values()) clearTimeout(t);
    this.ephemeralTimers.clear();
    for (const s of [...this.sessions]) s.close(true);
  }
}
