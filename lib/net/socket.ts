// A TCP connection over the tailnet, as a real net.Socket, so http, tls, stream.pipeline and every other
// consumer of net.Socket work unchanged. Two transports (lib/net/bridge.ts):
//  - fd: the socket's handle is a socketpair whose other end the engine pumps into lwIP. What a socketpair
//    cannot know (the tailnet addresses, Nagle, keepalive, reset) is forwarded to the engine.
//  - stream (fd -1): no handle. Received bytes arrive as 'data' events and are pushed into the Readable;
//    the engine delivers at most its credit ahead of what the reader consumed (tcpRead gives it back when
//    push() has room, or when _read asks again). Writes go to the engine with tcpWrite; their callbacks run
//    while at most WRITE_CREDIT bytes wait for lwIP's send budget, and later on its 'written' events.
import * as net from 'node:net';
import * as os from 'node:os';
import { Duplex } from 'node:stream';
import type * as tlsModule from 'node:tls';
import type { NativeAddress, NativeEvent } from '../native.js';
import type { Device } from './device.js';
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
/** Stream transport: bytes handed to the engine and not yet reported taken by lwIP before writes wait (as
 * the kernel buffer of a socketpair bounds them in the fd transport). The engine reports in steps of half
 * its credit (TS_TCP_STREAM_CREDIT, native/core/stack/tcp_bridge.h), which must not exceed twice this. */
const WRITE_CREDIT = 512 * 1024;
/** Consumed bytes are given back to the engine in batches of this much: its credit (512 KiB) then never
 * runs out while JavaScript keeps up, and a small message costs no call back. */
const READ_ACK = 128 * 1024;

type Callback = (err?: Error | null) => void;
// The parts of net.Socket's internals a handle-less socket keeps in step (Node's; Bun's socket lacks some).
interface SocketInternals {
  _unrefTimer?: () => void;
}

// Not `implements EventSink`: onNativeEvent is internal and stays out of the published types (stripInternal).
export class TailnetSocket extends net.Socket {
  readonly #device: Device;
  readonly #id: number;
  readonly #ends: Endpoints = {};
  readonly #target: { address: string; port: number } | undefined;
  readonly #onDestroy: ((socket: TailnetSocket) => void) | undefined;
  readonly #stream: boolean;
  #settled = false;
  // Stream transport:
  #unacked = 0; // written to the engine, not yet taken by lwIP
  #heldWrite: Callback | null = null; // a write callback waiting for 'written'
  #heldRead = 0; // delivered bytes not acknowledged yet (push() said the buffer is full)
  #consumed = 0; // delivered bytes taken by the Readable, not yet given back to the engine
  #bytesRead = 0;
  #bytesWritten = 0;
  #closedNative = false;

  constructor(init: TailnetSocketInit) {
    const stream = init.fd < 0;
    super(stream ? { allowHalfOpen: init.allowHalfOpen ?? false } : { fd: init.fd, readable: true, writable: true, allowHalfOpen: init.allowHalfOpen ?? false });
    this.#stream = stream;
    this.#device = init.device;
    this.#id = init.id;
    this.#target = init.target;
    this.#onDestroy = init.onDestroy;
    init.device.register(init.id, this);
    if (stream) answerThroughTls();
    const handle = stream ? null : (this as unknown as { _handle: AddressHandle | null })._handle;
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

  /** Which transport carries this connection's bytes (lib/net/bridge.ts). */
  get bridge(): 'fd' | 'stream' {
    return this.#stream ? 'stream' : 'fd';
  }

  /** @internal bookkeeping on destroy, instead of 'close' listeners that would count against the user's */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(#device in this)) {
      super._destroy(err, cb); // net.Socket's constructor failed, before ours ran
      return;
    }
    this.#device.unregister(this.#id);
    this.#onDestroy?.(this);
    if (!this.#stream) {
      super._destroy(err, cb);
      return;
    }
    if (!this.#closedNative) {
      this.#closedNative = true;
      this.#heldWrite = null;
      // Closing with received bytes unread resets the connection, as a kernel does. A net.Socket reads its
      // kernel buffer into the Readable up to highWaterMark even while paused, so what stands for the kernel
      // buffer here is what arrived beyond that (push() refused it) and what the engine still holds.
      if (this.#heldRead > 0) this.#device.tcpReset(this.#id);
      else this.#device.tcpClose(this.#id);
    }
    // net.Socket#_destroy without a handle emits 'close' without hadError; with one, as here, it says.
    setConnecting(this, false);
    this.setTimeout(0);
    cb(err);
    process.nextTick(() => this.emit('close', Boolean(err)));
  }

  // ---- the stream transport's Duplex side (the fd transport keeps net.Socket's own) ----
  override _read(size: number): void {
    if (!TailnetSocket.#streamOf(this)) {
      super._read(size);
      return;
    }
    if (this.#heldRead > 0) {
      this.#consumed += this.#heldRead;
      this.#heldRead = 0;
      this.#giveBack();
    }
  }

  #giveBack(): void {
    if (this.#consumed < READ_ACK) return;
    this.#device.tcpRead(this.#id, this.#consumed);
    this.#consumed = 0;
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, cb: Callback): void {
    if (!TailnetSocket.#streamOf(this)) {
      super._write(chunk, encoding, cb);
      return;
    }
    this.#send([typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, cb: Callback): void {
    if (!TailnetSocket.#streamOf(this)) {
      (net.Socket.prototype as unknown as { _writev(c: typeof chunks, cb: Callback): void })._writev.call(this, chunks, cb);
      return;
    }
    this.#send(chunks.map((c) => (typeof c.chunk === 'string' ? Buffer.from(c.chunk, c.encoding) : c.chunk)), cb);
  }

  // net.Socket's constructor may call _read (fd transport: read(0)) before this class's fields and private
  // methods exist, so this is a static method.
  static #streamOf(s: TailnetSocket): boolean {
    return #stream in s && s.#stream;
  }

  #send(bufs: Buffer[], cb: Callback): void {
    if (this.#closedNative) {
      cb(systemError('write', 'EPIPE'));
      return;
    }
    let n = 0;
    for (const b of bufs) n += b.length;
    this.#device.tcpWrite(this.#id, bufs);
    this.#bytesWritten += n;
    this.#unacked += n;
    (this as SocketInternals)._unrefTimer?.();
    if (this.#unacked <= WRITE_CREDIT) cb();
    else this.#heldWrite = cb;
  }

  override _final(cb: Callback): void {
    if (!TailnetSocket.#streamOf(this)) {
      (net.Socket.prototype as unknown as { _final(cb: Callback): void })._final.call(this, cb);
      return;
    }
    if (!this.#closedNative) this.#device.tcpEnd(this.#id); // queued behind every write: FIN comes last
    cb();
  }

  #onData(data: Buffer): void {
    if (this.destroyed) return;
    this.#bytesRead += data.length;
    (this as SocketInternals)._unrefTimer?.();
    if (this.push(data)) {
      this.#consumed += data.length;
      this.#giveBack();
    } else {
      this.#heldRead += data.length;
    }
  }

  #onWritten(bytes: number): void {
    this.#unacked -= bytes;
    const cb = this.#heldWrite;
    if (cb && this.#unacked <= WRITE_CREDIT) {
      this.#heldWrite = null;
      cb();
    }
  }

  /** @internal Node asks these for remoteAddress, address() and the rest (the stream transport's answer). */
  _getpeername(): Record<string, unknown> {
    if (!TailnetSocket.#streamOf(this)) return (net.Socket.prototype as unknown as { _getpeername(): Record<string, unknown> })._getpeername.call(this);
    return this.#ends.remote && !this.connecting ? { ...this.#ends.remote } : {};
  }

  /** @internal */
  _getsockname(): Record<string, unknown> {
    if (!TailnetSocket.#streamOf(this)) return (net.Socket.prototype as unknown as { _getsockname(): Record<string, unknown> })._getsockname.call(this);
    return this.#ends.local ? { ...this.#ends.local } : {};
  }

  override address(): net.AddressInfo | Record<string, never> {
    return TailnetSocket.#streamOf(this) ? (this._getsockname() as net.AddressInfo | Record<string, never>) : super.address();
  }

  override ref(): this {
    return TailnetSocket.#streamOf(this) ? this : super.ref(); // the engine's device keeps the loop alive, not the socket
  }

  override unref(): this {
    return TailnetSocket.#streamOf(this) ? this : super.unref();
  }

  // Getters net.Socket answers from its handle; a handle-less socket answers them itself.
  static {
    const base = (name: string): ((this: net.Socket) => unknown) | undefined => {
      for (let p: object | null = net.Socket.prototype; p; p = Object.getPrototypeOf(p) as object | null) {
        const d = Object.getOwnPropertyDescriptor(p, name);
        if (d) return d.get;
      }
      return undefined;
    };
    // A runtime whose net.Socket keeps these as plain fields (Bun assigns some in its constructor) gets its
    // value kept aside and answered outside the stream transport.
    const kept = Symbol('kept');
    type Kept = { [kept]?: Record<string, unknown> };
    const define = (name: string, get: (s: TailnetSocket) => unknown): void => {
      const fallback = base(name);
      Object.defineProperty(TailnetSocket.prototype, name, {
        configurable: true,
        get(this: TailnetSocket & Kept) {
          if (TailnetSocket.#streamOf(this)) return get(this);
          const own = this[kept];
          return own && name in own ? own[name] : fallback?.call(this);
        },
        set(this: TailnetSocket & Kept, v: unknown) {
          (this[kept] ??= {})[name] = v;
        },
      });
    };
    define('bytesRead', (s) => s.#bytesRead);
    define('bytesWritten', (s) => s.#bytesWritten);
    define('pending', (s) => s.connecting);
    define('remoteAddress', (s) => (s.connecting ? undefined : s.#ends.remote?.address));
    define('remotePort', (s) => (s.connecting ? undefined : s.#ends.remote?.port));
    define('remoteFamily', (s) => (s.connecting ? undefined : s.#ends.remote?.family));
    define('localAddress', (s) => s.#ends.local?.address);
    define('localPort', (s) => s.#ends.local?.port);
    define('localFamily', (s) => s.#ends.local?.family);
    // node:tls wraps a handle-less net.Socket as "connecting" until it emits 'connect' (TLSSocket#_init;
    // tls.connect({ socket }) only starts its handshake then, and an https.Server's TLSSocket holds its
    // writes). A connected stream socket answers a 'connect' listener added late at once, on the next tick.
    for (const name of ['on', 'once', 'addListener'] as const) {
      const add = net.Socket.prototype[name] as (this: net.Socket, ev: string | symbol, fn: (...args: unknown[]) => void) => net.Socket;
      Object.defineProperty(TailnetSocket.prototype, name, {
        configurable: true,
        writable: true,
        value(this: TailnetSocket, ev: string | symbol, fn: (...args: unknown[]) => void) {
          if (ev === 'connect' && TailnetSocket.#streamOf(this) && this.#settled && !this.connecting && !this.destroyed) {
            process.nextTick(() => fn.call(this));
            return this;
          }
          return add.call(this, ev, fn);
        },
      });
    }
  }

  /** @internal engine events for this connection */
  onNativeEvent(ev: NativeEvent): void {
    if (ev.type === 'data') this.#onData(ev.data);
    else if (ev.type === 'written') this.#onWritten(ev.bytes);
    else if (ev.type === 'end') {
      if (this.destroyed) return;
      this.push(null);
      this.read(0); // as net.Socket does at EOF: 'end' comes without a reader once the buffer is empty
    } else if (ev.type === 'connected') {
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
    this.#closedNative = true;
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
    if (!this.destroyed) {
      this.#device.tcpReset(this.#id);
      this.#closedNative = true;
    }
    this.destroy();
    return this;
  }
}


// node:tls wraps a handle-less socket in a JSStreamSocket, whose native handle (a JSStream) has no peer
// address, so a TLSSocket over a stream-transport socket (an https.Server's request socket) would report no
// remoteAddress. The JSStream prototype, reached once through a throwaway TLSSocket, learns to answer for
// the TailnetSocket it carries (the handle's owner, a JSStreamSocket, holds it as `stream`); for any other
// stream it answers ENOTCONN, which Node does not cache. Without node:tls internals (Bun) nothing changes.
let tlsPatched = false;
function answerThroughTls(): void {
  if (tlsPatched) return;
  tlsPatched = true;
  let proto: Record<string, unknown> | undefined;
  try {
    const tls = require('node:tls') as typeof tlsModule; // on first need: requiring the package loads no TLS
    const probe = new tls.TLSSocket(new Duplex({ read() {}, write(_c, _e, cb: Callback) { cb(); } }) as unknown as net.Socket);
    const parent = (probe as unknown as { _handle?: { _parent?: object } | null })._handle?._parent;
    proto = parent ? (Object.getPrototypeOf(parent) as Record<string, unknown>) : undefined;
    probe.destroy();
  } catch {
    return;
  }
  if (!proto || 'getpeername' in proto) return;
  const carried = (h: object): TailnetSocket | undefined => {
    for (const sym of Object.getOwnPropertySymbols(h)) {
      const owner = (h as Record<symbol, unknown>)[sym] as { stream?: unknown } | null;
      if (owner && typeof owner === 'object' && owner.stream instanceof TailnetSocket) return owner.stream;
    }
    return undefined;
  };
  const answer = (which: '_getpeername' | '_getsockname') =>
    function (this: object, out: Record<string, unknown>): number {
      const a = carried(this)?.[which]();
      if (!a || a.address === undefined) return ENOTCONN;
      Object.assign(out, a);
      return 0;
    };
  proto.getpeername = answer('_getpeername');
  proto.getsockname = answer('_getsockname');
}

// net.Socket's `connecting` is typed read-only but is a plain field that net.connect() itself toggles.
function setConnecting(s: net.Socket, v: boolean): void {
  (s as { connecting: boolean }).connecting = v;
}
