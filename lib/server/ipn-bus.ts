// LocalClient.watchIPNBus: the node's changes as ipn.Notify-shaped messages (State, NetMap, BrowseToURL,
// Health, Prefs), as Tailscale's LocalClient.WatchIPNBus delivers them; an EventEmitter ('notify') and an
// async iterator. docs/api.md, "LocalClient", says which fields are filled.
import { EventEmitter } from 'node:events';
import type { NetworkMap } from '../wire/netmap.js';
import type { HealthWarning, Prefs } from './types.js';

/** ipn.State's numbers, as the Notify's State field carries them. */
export const IPN_STATES: Record<string, number> = { NoState: 0, InUseOtherUser: 1, NeedsLogin: 2, NeedsMachineAuth: 3, Stopped: 4, Starting: 5, Running: 6 };

/** One message of the IPN bus (a subset of Tailscale's ipn.Notify; absent fields did not change). */
export interface IPNNotify {
  /** Sent first, with the initial state: the node's version. */
  Version?: string;
  /** ipn.State number (2 NeedsLogin, 3 NeedsMachineAuth, 4 Stopped, 5 Starting, 6 Running). */
  State?: number;
  /** The new network map. */
  NetMap?: NetworkMap;
  /** An interactive login waits at this URL. */
  BrowseToURL?: string;
  /** The node's health warnings (all of them, empty when healthy). */
  Health?: { Warnings: Record<string, { Code: string; Text: string; Since: string }> };
  Prefs?: Prefs;
}

/** What to send first (Tailscale's NotifyInitialState, NotifyInitialNetMap, NotifyInitialPrefs, NotifyInitialHealthState). */
export interface WatchOptions {
  initialState?: boolean;
  initialNetMap?: boolean;
  initialPrefs?: boolean;
  initialHealth?: boolean;
}

/** The events a watched node emits (the Server's, structurally). */
export interface BusSource {
  on(event: 'state', fn: (s: string) => void): unknown;
  on(event: 'netmap', fn: (nm: NetworkMap) => void): unknown;
  on(event: 'authURL', fn: (url: string) => void): unknown;
  on(event: 'health', fn: (w: HealthWarning[]) => void): unknown;
  off(event: string, fn: (...a: never[]) => void): unknown;
}

export interface BusSnapshot {
  version: string;
  state: string;
  netmap: NetworkMap | null;
  prefs: Prefs;
  health: HealthWarning[];
}

const QUEUE_MAX = 256;

export function healthNotify(ws: HealthWarning[]): NonNullable<IPNNotify['Health']> {
  return { Warnings: Object.fromEntries(ws.map((w) => [w.code, { Code: w.code, Text: w.message, Since: w.since.toISOString() }])) };
}

export class IPNBusWatcher extends EventEmitter<{ notify: [n: IPNNotify]; close: [] }> implements AsyncIterable<IPNNotify> {
  readonly #queue: IPNNotify[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #detach: () => void;

  /** @internal made by LocalClient.watchIPNBus */
  constructor(src: BusSource, snap: BusSnapshot, opts: WatchOptions) {
    super();
    const onState = (s: string) => this.#push({ State: IPN_STATES[s] ?? 0 });
    const onNetmap = (nm: NetworkMap) => this.#push({ NetMap: nm });
    const onURL = (url: string) => this.#push({ BrowseToURL: url });
    const onHealth = (w: HealthWarning[]) => this.#push({ Health: healthNotify(w) });
    src.on('state', onState);
    src.on('netmap', onNetmap);
    src.on('authURL', onURL);
    src.on('health', onHealth);
    this.#detach = () => {
      src.off('state', onState);
      src.off('netmap', onNetmap);
      src.off('authURL', onURL);
      src.off('health', onHealth);
    };
    // As ipnlocal: the first message carries the version and whatever initial parts were asked for.
    const first: IPNNotify = { Version: snap.version };
    if (opts.initialState) first.State = IPN_STATES[snap.state] ?? 0;
    if (opts.initialNetMap && snap.netmap) first.NetMap = snap.netmap;
    if (opts.initialPrefs) first.Prefs = snap.prefs;
    if (opts.initialHealth) first.Health = healthNotify(snap.health);
    this.#push(first);
  }

  #push(n: IPNNotify): void {
    if (this.#closed) return;
    this.#queue.push(n);
    // A watcher used only as an EventEmitter is never drained: keep the newest messages only.
    if (this.#queue.length > QUEUE_MAX) this.#queue.shift();
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
    // Emitted on the next tick, so a listener attached right after watchIPNBus() sees the first message.
    process.nextTick(() => this.emit('notify', n));
  }

  /** Stops watching; the iterator ends (messages not yet read are dropped). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
    this.#queue.length = 0; // the iterator ends now, not after what was still queued
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
    process.nextTick(() => this.emit('close'));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<IPNNotify> {
    try {
      for (;;) {
        const n = this.#queue.shift();
        if (n) yield n;
        else if (this.#closed) return;
        else await new Promise<void>((r) => (this.#wake = r));
      }
    } finally {
      this.close();
    }
  }
}
