/**
 * One streaming /machine/map response (docs/protocol/control.md §10): sends the full
 * view first, then deltas whenever the state changes, plus keep-alives. At
 * most one message waits for the HTTP/2 stream to drain; changes that arrive
 * meanwhile are folded into the next delta, so a slow reader costs no memory.
 */
import { encodeMapFrame } from '../control/framing.js';
import type { MapResponse } from '../wire/tailcfg.js';
import { diffView, initialMessage, type SentState } from './map-delta.js';
import type { NetmapView } from './netmap.js';
import type { DevnetState } from './state.js';
import type { DevnetNode } from './types.js';
import { encodeZstdRawFrame } from './zstd-raw.js';

/** The writable side of a map response (an Http2ServerResponse fits). */
export interface MapSink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: 'drain', fn: () => void): unknown;
  readonly destroyed: boolean;
}

/** Encodes one MapResponse as a length-prefixed frame, zstd-wrapped if asked. */
export function encodeMapResponseFrame(msg: MapResponse, zstd: boolean): Buffer {
  const json = Buffer.from(JSON.stringify(msg), 'utf8');
  return encodeMapFrame(zstd ? encodeZstdRawFrame(json) : json);
}

export interface MapSessionOptions {
  zstd: boolean;
  /** Keep-alive period in ms; 0 = none. A random jitter of up to 1/5 is added. */
  keepAliveMs: number;
  view: (node: DevnetNode, now: Date) => NetmapView;
  now: () => Date;
  onClose: (s: MapSession) => void;
}

export class MapSession {
  readonly nodeId: number;
  readonly nodeKey: string;
  private sent: SentState | null = null;
  private closed = false;
  private draining = false;
  private dirty = false;
  private scheduled = false;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;
  /** Messages written (for tests and logs). */
  messages = 0;

  constructor(
    private readonly state: DevnetState,
    node: DevnetNode,
    private readonly sink: MapSink,
    private readonly opts: MapSessionOptions,
  ) {
    this.nodeId = node.id;
    this.nodeKey = node.nodeKey;
    this.unsubscribe = state.subscribe((kind) => {
      if (kind === 'netmap') this.schedule();
    });
  }

  start(): void {
    const node = this.state.node(this.nodeId);
    if (!node) {
      this.close(true);
      return;
    }
    const now = this.opts.now();
    const { message, sent } = initialMessage(this.opts.view(node, now), now);
    this.sent = sent;
    this.write(message);
    this.armKeepAlive();
  }

  private armKeepAlive(): void {
    if (!this.opts.keepAliveMs || this.closed) return;
    const period = this.opts.keepAliveMs + Math.floor(Math.random() * (this.opts.keepAliveMs / 5));
    this.keepAliveTimer = setTimeout(() => {
      this.keepAliveTimer = null;
      if (this.closed) return;
      if (!this.draining) this.write({ KeepAlive: true });
      this.armKeepAlive();
    }, period);
    this.keepAliveTimer.unref?.();
  }

  private schedule(): void {
    if (this.closed || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Sends what changed since the last message, if anything. */
  flush(): void {
    if (this.closed || !this.sent) return;
    if (this.draining) {
      this.dirty = true;
      return;
    }
    const node = this.state.node(this.nodeId);
    if (!node || node.nodeKey !== this.nodeKey) {
      // Deleted, or re-registered with another key: the client must poll again.
      this.close(true);
      return;
    }
    const now = this.opts.now();
    const { message, sent } = diffView(this.sent, this.opts.view(node, now));
    this.sent = sent;
    if (message) {
      message.ControlTime = now.toISOString();
      this.write(message);
    }
  }

  private write(msg: MapResponse): void {
    if (this.closed || this.sink.destroyed) {
      this.close(false);
      return;
    }
    this.messages++;
    const ok = this.sink.write(encodeMapResponseFrame(msg, this.opts.zstd));
    if (!ok) {
      this.draining = true;
      this.sink.once('drain', () => {
        this.draining = false;
        if (this.dirty) {
          this.dirty = false;
          this.flush();
        }
      });
    }
  }

  /** Sends an extra message now (e.g. a PingRequest); false if the session is gone. */
  send(msg: MapResponse): boolean {
    if (this.closed || !this.sent || this.sink.destroyed) return false;
    this.write(msg);
    return true;
  }

  /** Ends the session; with `endStream` also ends the HTTP response. */
  close(endStream: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    if (endStream && !this.sink.destroyed) {
      try {
        this.sink.end();
      } catch {
        // already gone
      }
    }
    this.opts.onClose(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
