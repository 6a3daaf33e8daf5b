// A TCP connection over the tailnet, as a real net.Socket: the bytes flow through a socketpair whose other
// end the engine pumps into lwIP, so http, tls, stream.pipeline and every other consumer of net.Socket work
// unchanged. What a socketpair cannot know (the tailnet addresses, Nagle, keepalive, reset) is forwarded to
// the engine.
import * as net from 'node:net';
import * as os from 'node:os';
import type { NativeAddress, NativeEvent } from '../native.js';
import type { Device, EventSink } from './device.js';
import { abortError, systemError } from './errors.js';

interface Endpoints {
  local?: NativeAddress;
  remote?: NativeAddress;
}

export interface TailnetSocketInit {
  device: Device;
  id: number;
  fd: number;
  allowHalfOpen?: boolean;
  /** Present for accepted sockets, which are connected from the start. */
  endpoints?: { local: NativeAddress; remote: NativeAddress };
  /** For dialed sockets: what the error message names. */
  target?: { address: string; port: number };
  /** Called once when the socket is destroyed (its owner's bookkeeping), without adding a 'close' listener. */
  onDestroy?: (socket: TailnetSocket) => void;
}

// The socketpair's handle is a Pipe, which has no peer address. Node asks the handle (net.Socket, and
// TLSWrap through its parent handle for https and tls.connect({ socket })), so the handle itself answers
// with the tailnet endpoints. Before a dial completes it reports ENOTCONN, which Node does not cache.
interface AddressHandle {
  getpeername?: (out: Record<string, unknown>) => number;
  getsockname?: (out: Record<string, unknown>) => number;
}
const ENOTCONN = -((os.constants.errno as Record<string, number>).ENOTCONN ?? 107);

export class TailnetSocket extends net.Socket implements EventSink {
  readonly #device: Device;
  readonly #id: number;
  readonly #ends: Endpoints = {};
  readonly #target: { address: string; port: number } | undefined;
  readonly #onDestroy: ((socket: TailnetSocket) => void) | undefined;
  #settled = false;

  constructor(init: TailnetSocketInit) {
    super({ fd: init.fd, readable: true, writable: true, allowHalfOpen: init.allowHalfOpen ?? false });
    this.#device = init.device;
    this.#id = init.id;
    this.#target = init.target;
    this.#onDestroy = init.onDestroy;
    init.device.register(init.id, this);
    const handle = (this as unknown as { _handle: AddressHandle | null })._handle;
    if (handle) {
      const answer = (which: 'local' | 'remote') => (out: Record<string, unknown>): number => {
        const a = this.#ends[which];
        if (!a) return ENOTCONN;
        out.address = a.address;
        out.family = a.family;
        out.port = a.port;
        return 0;
      };
      handle.getpeername = answer('remote');
      handle.getsockname = answer('local');
    }
    if (init.endpoints) {
      this.#ends.local = init.endpoints.local;
      this.#ends.remote = init.endpoints.remote;
      this.#settled = true;
    } else {
      // Dialing: behave as net.connect() does until the handshake completes (writes queue, 'connect' later).
      setConnecting(this, true);
    }
  }

  /** @internal bookkeeping on destroy, instead of 'close' listeners that would count against the user's */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#device.unregister(this.#id);
    this.#onDestroy?.(this);
    super._destroy(err, cb);
  }

  /** @internal engine events for this connection */
  onNativeEvent(ev: NativeEvent): void {
    if (ev.type === 'connected') {
      this.#ends.local = ev.local;
      this.#ends.remote = ev.remote;
      this.#settled = true;
      setConnecting(this, false);
      this.emit('connect');
      this.emit('ready');
    } else if (ev.type === 'error') {
      const t = this.#target ?? this.#ends.remote;
      const err = systemError(this.#settled ? 'read' : 'connect', ev.code, t?.address, t?.port);
      this.#settled = true;
      this.destroy(err);
    }
  }

  /** @internal aborts a pending dial (AbortSignal). */
  abortDial(reason?: unknown): void {
    this.failDial(abortError(reason));
  }

  /** @internal ends a pending dial with err (a timeout or an abort); no-op once settled. */
  failDial(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#device.tcpReset(this.#id);
    this.destroy(err);
  }

  override setNoDelay(noDelay = true): this {
    if (!this.destroyed) this.#device.tcpSetNoDelay(this.#id, Boolean(noDelay));
    return this;
  }

  override setKeepAlive(enable = false, initialDelay = 0): this {
    if (!this.destroyed) this.#device.tcpSetKeepAlive(this.#id, Boolean(enable), Math.max(0, initialDelay | 0));
    return this;
  }

  /** Closes with a TCP RST instead of a FIN, as net.Socket#resetAndDestroy does. */
  override resetAndDestroy(): this {
    if (!this.destroyed) this.#device.tcpReset(this.#id);
    this.destroy();
    return this;
  }
}


// net.Socket's `connecting` is typed read-only but is a plain field that net.connect() itself toggles.
function setConnecting(s: net.Socket, v: boolean): void {
  (s as { connecting: boolean }).connecting = v;
}
