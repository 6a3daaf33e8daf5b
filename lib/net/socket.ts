// A TCP connection over the tailnet, as a real net.Socket: the bytes flow through a socketpair whose other
// end the engine pumps into lwIP, so http, tls, stream.pipeline and every other consumer of net.Socket work
// unchanged. What a socketpair cannot know (the tailnet addresses, Nagle, keepalive, reset) is forwarded to
// the engine.
import * as net from 'node:net';
import type { NativeAddress, NativeEvent } from '../native.js';
import type { EventSink, SharedContext } from './context.js';
import { abortError, systemError } from './errors.js';

interface Endpoints {
  local?: NativeAddress;
  remote?: NativeAddress;
}

export interface TailnetSocketInit {
  ctx: SharedContext;
  device: number;
  id: number;
  fd: number;
  allowHalfOpen?: boolean;
  /** Present for accepted sockets, which are connected from the start. */
  endpoints?: { local: NativeAddress; remote: NativeAddress };
  /** For dialed sockets: what the error message names. */
  target?: { address: string; port: number };
}

export class TailnetSocket extends net.Socket implements EventSink {
  readonly #ctx: SharedContext;
  readonly #device: number;
  readonly #id: number;
  readonly #ends: Endpoints = {};
  readonly #target: { address: string; port: number } | undefined;
  #settled = false;

  constructor(init: TailnetSocketInit) {
    super({ fd: init.fd, readable: true, writable: true, allowHalfOpen: init.allowHalfOpen ?? false });
    this.#ctx = init.ctx;
    this.#device = init.device;
    this.#id = init.id;
    this.#target = init.target;
    init.ctx.register(init.device, init.id, this);
    if (init.endpoints) {
      this.#ends.local = init.endpoints.local;
      this.#ends.remote = init.endpoints.remote;
      this.#settled = true;
    } else {
      // Dialing: behave as net.connect() does until the handshake completes (writes queue, 'connect' later).
      setConnecting(this, true);
    }
    this.once('close', () => this.#ctx.unregister(this.#device, this.#id));
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
    if (this.#settled) return;
    this.#settled = true;
    this.#ctx.native.tcpReset(this.#device, this.#id);
    this.destroy(abortError(reason));
  }

  override setNoDelay(noDelay = true): this {
    if (!this.destroyed) this.#ctx.native.tcpSetNoDelay(this.#device, this.#id, noDelay);
    return this;
  }

  override setKeepAlive(enable = false, initialDelay = 0): this {
    if (!this.destroyed) this.#ctx.native.tcpSetKeepAlive(this.#device, this.#id, enable, Math.max(0, initialDelay | 0));
    return this;
  }

  // net.Socket answers remoteAddress, remotePort, remoteFamily, localAddress and localPort from these two
  // internal methods; a socketpair would report nothing useful, so they report the tailnet endpoints.
  /** @internal */
  _getpeername(): Partial<NativeAddress> {
    return this.#ends.remote ?? {};
  }

  /** @internal */
  _getsockname(): Partial<NativeAddress> {
    return this.#ends.local ?? {};
  }

  /** Closes with a TCP RST instead of a FIN, as net.Socket#resetAndDestroy does. */
  override resetAndDestroy(): this {
    if (!this.destroyed) this.#ctx.native.tcpReset(this.#device, this.#id);
    this.destroy();
    return this;
  }
}


// net.Socket's `connecting` is typed read-only but is a plain field that net.connect() itself toggles.
function setConnecting(s: net.Socket, v: boolean): void {
  (s as { connecting: boolean }).connecting = v;
}
