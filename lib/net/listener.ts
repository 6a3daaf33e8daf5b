// A TCP listener on the tailnet with node:net's Server shape: 'listening', 'connection', 'close' and
// 'error' events, address(), close(), plus async iteration over accepted sockets and serve(server) to hand
// connections to an http/https/express server.
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type { NativeEvent } from '../native.js';
import type { Device } from './device.js';
import { TailnetSocket } from './socket.js';
import { systemError } from './errors.js';

export interface ListenerInit {
  device: Device;
  id: number;
  host: string;
  family: 0 | 4 | 6;
  port: number;
  allowHalfOpen?: boolean;
  /** Decides whether an accepted connection belongs to this listener (address filtering); default all. */
  accepts?: (local: { address: string; port: number }) => boolean;
}

// The parts of net.Server that serve() fills in: the handle net.Server consults for listening, address()
// and close(), and the connection count that decides when 'close' is emitted.
interface ServerInternals {
  _handle: { close(): void; getsockname(out: Record<string, unknown>): number; ref(): void; unref(): void } | null;
  _connections: number;
  _emitCloseIfDrained?(): void;
}

/** A TailnetListener's events, as net.Server's. */
export interface TailnetListenerEvents {
  listening: [];
  connection: [socket: TailnetSocket];
  close: [];
  error: [err: Error];
}

// The listener that took over a socket another one accepted (adopt): its count is the one the socket leaves.
const adopted = new WeakMap<TailnetSocket, TailnetListener>();

// Not `implements EventSink`: onNativeEvent is internal and stays out of the published types (stripInternal).
export class TailnetListener extends EventEmitter<TailnetListenerEvents> implements AsyncIterable<TailnetSocket> {
  #init: ListenerInit;
  #open = true;
  // A listener made before its node was up (lib/server/pending.ts): bound later by bindLate().
  #pending: boolean;
  #connections = new Set<TailnetSocket>();
  #waiters: Array<(r: IteratorResult<TailnetSocket>) => void> = [];
  #backlog: TailnetSocket[] = [];
  #iterating = false;

  /** @internal created by Netstack.listen */
  constructor(init: ListenerInit, pending = false) {
    super();
    this.#init = init;
    this.#pending = pending;
    if (pending) return;
    init.device.register(init.id, this);
    process.nextTick(() => this.#open && this.emit('listening'));
  }

  get listening(): boolean {
    return this.#open && !this.#pending;
  }

  /** @internal Binds a pending listener to a listener the node's stack made for it (which it replaces). */
  bindLate(init: ListenerInit): void {
    this.#init = init;
    this.#pending = false;
    if (!this.#open) {
      try {
        init.device.tcpListenerClose(init.id);
      } catch {
        /* the device is already gone */
      }
      return;
    }
    init.device.register(init.id, this);
    this.emit('listening');
  }

  /** @internal A pending listener whose node could not come up: 'error', then 'close'. */
  failLate(err: Error): void {
    if (!this.#open) return;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.close();
  }

  address(): net.AddressInfo {
    const { host, family, port } = this.#init;
    const v6 = family === 6 || (family === 0 && host.includes(':'));
    return { address: host || (family === 4 ? '0.0.0.0' : '::'), family: v6 || (family === 0 && !host) ? 'IPv6' : 'IPv4', port };
  }

  /**
   * Hands every accepted connection to server (an http.Server, https.Server, express app's server or any
   * net.Server) and makes the server behave as if it were listening here: 'listening' fires, address()
   * answers, getConnections() counts, and server.close() stops this listener, closes idle keep-alive
   * connections and emits 'close' once the last connection is gone, as it does for a real port.
   */
  serve<S extends net.Server>(server: S): S {
    const s = server as unknown as ServerInternals;
    if (s._handle) throw new Error('serve(server): the server is already listening');
    s._handle = {
      close: () => this.close(),
      getsockname: (out: Record<string, unknown>) => {
        Object.assign(out, this.address());
        return 0;
      },
      ref: () => {},
      unref: () => {},
    };
    s._connections = 0;
    this.on('connection', (socket: TailnetSocket) => {
      s._connections++;
      socket.on('close', () => {
        s._connections--;
        s._emitCloseIfDrained?.(); // Node's; Bun's net.Server has none
      });
      server.emit('connection', socket);
    });
    // The listener closing on its own (the device closed) closes the server too.
    this.once('close', () => {
      if (s._handle) server.close();
    });
    if (this.#pending) this.once('listening', () => server.emit('listening'));
    else {
      process.nextTick(() => {
        if (this.#open) server.emit('listening');
      });
    }
    return server;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.#connections.size);
    return this;
  }

  /** Stops accepting; open connections stay open (as net.Server#close). */
  close(cb?: (err?: Error) => void): this {
    if (!this.#open) {
      if (cb) {
        const err = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
        process.nextTick(cb, err);
      }
      return this;
    }
    this.#open = false;
    if (!this.#pending) {
      this.#init.device.unregister(this.#init.id);
      try {
        this.#init.device.tcpListenerClose(this.#init.id);
      } catch {
        /* the device is already gone */
      }
    }
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
    if (cb) this.once('close', () => cb());
    process.nextTick(() => this.emit('close'));
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** @internal the native listener id */
  get nativeId(): number {
    return this.#init.id;
  }

  /** @internal takes a connection that listener `from` accepted (lib/server/foreign.ts: service VIPs) */
  adopt(socket: TailnetSocket, from: TailnetListener): void {
    from.#connections.delete(socket);
    adopted.set(socket, this);
    this.#deliver(socket);
  }

  /** @internal engine events for this listener */
  onNativeEvent(ev: NativeEvent): void {
    if (ev.type === 'listen-error') {
      // As net.Server when accept fails (EMFILE): 'error', with the listener still open.
      this.emit('error', systemError('accept', ev.code));
      return;
    }
    if (ev.type !== 'accept') return;
    const socket = new TailnetSocket({
      device: this.#init.device,
      id: ev.id,
      fd: ev.fd,
      allowHalfOpen: this.#init.allowHalfOpen ?? false,
      endpoints: { local: ev.local, remote: ev.remote },
      onDestroy: (s) => (adopted.get(s) ?? this).#connections.delete(s),
    });
    if (this.#init.accepts && !this.#init.accepts(ev.local)) {
      socket.resetAndDestroy();
      return;
    }
    this.#deliver(socket);
  }

  #deliver(socket: TailnetSocket): void {
    this.#connections.add(socket);
    if (this.#iterating) {
      const w = this.#waiters.shift();
      if (w) w({ value: socket, done: false });
      else this.#backlog.push(socket);
    }
    this.emit('connection', socket);
  }

  [Symbol.asyncIterator](): AsyncIterator<TailnetSocket> {
    this.#iterating = true;
    return {
      next: () => {
        const s = this.#backlog.shift();
        if (s) return Promise.resolve({ value: s, done: false });
        if (!this.#open) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
