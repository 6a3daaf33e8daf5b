// UDP on the tailnet with node:dgram's shape: send(msg, port, address[, cb]) / send(msg[, cb]) when
// connected, 'message' (msg, rinfo), 'listening', 'close', 'error', address(), close().
import { EventEmitter } from 'node:events';
import type * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { NativeEvent } from '../native.js';
import type { Device } from './device.js';
import { closedError, systemError } from './errors.js';

export interface PacketSocketInit {
  device: Device;
  id: number;
  family: 0 | 4 | 6;
  host: string;
  port: number;
  /** A connected socket sends to and accepts from this peer only. */
  remote?: { address: string; port: number };
}

type SendCallback = (error: Error | null, bytes: number) => void;

/** A TailnetPacketSocket's events, as dgram.Socket's. */
export interface TailnetPacketSocketEvents {
  listening: [];
  message: [msg: Buffer, rinfo: dgram.RemoteInfo];
  close: [];
  error: [err: Error];
}

// Not `implements EventSink`: onNativeEvent is internal and stays out of the published types (stripInternal).
export class TailnetPacketSocket extends EventEmitter<TailnetPacketSocketEvents> {
  #init: PacketSocketInit;
  #open = true;
  // A socket made before its node was up (lib/server/pending.ts): sends wait here until bindLate().
  #pending: Array<() => void> | null;

  /** @internal created by Netstack.listenPacket / dialPacket */
  constructor(init: PacketSocketInit, pending = false) {
    super();
    this.#init = init;
    this.#pending = pending ? [] : null;
    if (pending) return;
    init.device.register(init.id, this);
    process.nextTick(() => this.#open && this.emit('listening'));
  }

  /** @internal Binds a pending socket to the port the node's stack opened for it. */
  bindLate(init: PacketSocketInit): void {
    this.#init = init;
    const queued = this.#pending ?? [];
    this.#pending = null;
    if (!this.#open) {
      try {
        init.device.udpClose(init.id);
      } catch {
        /* the device is gone already */
      }
      return;
    }
    init.device.register(init.id, this);
    this.emit('listening');
    for (const send of queued) send();
  }

  /** @internal A pending socket whose node could not come up: 'error', then 'close'. */
  failLate(err: Error): void {
    if (!this.#open) return;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.close();
  }

  address(): net.AddressInfo {
    const { host, family, port } = this.#init;
    return { address: host || (family === 4 ? '0.0.0.0' : '::'), family: family === 4 || net.isIPv4(host) ? 'IPv4' : 'IPv6', port };
  }

  remoteAddress(): net.AddressInfo {
    const r = this.#init.remote;
    if (!r) {
      const err = new Error('Not connected') as Error & { code: string };
      err.code = 'ERR_SOCKET_DGRAM_NOT_CONNECTED';
      throw err;
    }
    return { address: r.address, port: r.port, family: net.isIPv6(r.address) ? 'IPv6' : 'IPv4' };
  }

  /**
   * send(msg, port, address[, callback]) or, on a connected socket, send(msg[, callback]).
   * msg: Buffer, Uint8Array, string, or an array of them (concatenated into one datagram).
   */
  send(msg: string | Uint8Array | ReadonlyArray<string | Uint8Array>, ...rest: unknown[]): void {
    let port: number | undefined;
    let address: string | undefined;
    let cb: SendCallback | undefined;
    if (typeof rest[0] === 'number') {
      port = rest[0];
      if (typeof rest[1] !== 'string') throw new TypeError('send(msg, port, address): address must be an IP string');
      address = rest[1];
      cb = rest[2] as SendCallback | undefined;
    } else {
      cb = rest[0] as SendCallback | undefined;
      const r = this.#init.remote;
      if (!r) throw new TypeError('send(msg, port, address): this socket is not connected, so port and address are required');
      port = r.port;
      address = r.address;
    }
    if (cb !== undefined && typeof cb !== 'function') throw new TypeError('send: callback must be a function');
    if (!net.isIP(address)) throw new TypeError(`send: address must be an IP literal, got "${address}"`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError('send: port must be 1..65535');
    const data = toBuffer(msg);
    if (this.#pending && this.#open) {
      this.#pending.push(() => this.send(data, port, address, cb));
      return;
    }
    if (!this.#open) {
      const err = closedError('send');
      if (cb) process.nextTick(cb, err, 0);
      else process.nextTick(() => this.emit('error', err));
      return;
    }
    this.#init.device.udpSend(this.#init.id, address, port, data);
    if (cb) process.nextTick(cb, null, data.length);
  }

  close(cb?: () => void): this {
    if (!this.#open) {
      if (cb) process.nextTick(cb);
      return this;
    }
    this.#open = false;
    if (!this.#pending) {
      this.#init.device.unregister(this.#init.id);
      try {
        this.#init.device.udpClose(this.#init.id);
      } catch {
        /* the device is gone already */
      }
    }
    this.#pending = null;
    if (cb) this.once('close', cb);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** @internal */
  onNativeEvent(ev: NativeEvent): void {
    if (ev.type === 'message') {
      const r = this.#init.remote;
      if (r && (ev.remote.address !== r.address || ev.remote.port !== r.port)) return; // connected: others ignored
      const rinfo: dgram.RemoteInfo = { address: ev.remote.address, family: ev.remote.family, port: ev.remote.port, size: ev.data.length };
      this.emit('message', ev.data, rinfo);
    } else if (ev.type === 'udp-error') {
      this.emit('error', systemError('send', ev.code));
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<[Buffer, dgram.RemoteInfo]> {
    const queue: Array<[Buffer, dgram.RemoteInfo]> = [];
    let wake: (() => void) | undefined;
    const onMessage = (m: Buffer, r: dgram.RemoteInfo) => { queue.push([m, r]); wake?.(); };
    const onClose = () => wake?.();
    this.on('message', onMessage);
    this.on('close', onClose);
    try {
      for (;;) {
        const item = queue.shift();
        if (item) yield item;
        else if (!this.#open) return;
        else await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.off('message', onMessage);
      this.off('close', onClose);
    }
  }
}

function toBuffer(msg: string | Uint8Array | ReadonlyArray<string | Uint8Array>): Buffer {
  if (typeof msg === 'string') return Buffer.from(msg);
  if (msg instanceof Uint8Array) return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  if (Array.isArray(msg)) return Buffer.concat(msg.map((m) => (typeof m === 'string' ? Buffer.from(m) : m)));
  throw new TypeError('send: msg must be a string, Buffer, Uint8Array or an array of them');
}
