/**
 * A relay connection's byte stream to the engine without a descriptor (the stream transport,
 * lib/net/bridge.ts): what the engine's DERP client sends arrives as 'derp-data' events and is pushed to
 * the Readable side (the engine sends at most its credit ahead of what was passed on: derpAck gives it
 * back); what the relay sends is written to the engine with derpWrite, processed before the call returns.
 * DERPManager pipes it to the TLS socket exactly as it does the socketpair of the fd transport.
 */
import { Duplex } from 'node:stream';
import type { NativeEvent } from '../native.js';
import type { Device, EventSink } from '../net/device.js';

/** Bytes passed on are acknowledged in batches of this much, a quarter of the engine's credit
 * (TS_DERP_STREAM_CREDIT, native/core/bind/derp_conn.h): one engine call per 64 KiB, not per event. */
const ACK_BATCH = 64 * 1024;

export class DERPStream extends Duplex implements EventSink {
  readonly #device: Device;
  readonly #id: number;
  #held = 0;
  #passed = 0;
  #closed = false;

  /** Registers for the device's events under a fresh id; derpAttach(…, stream.id) then starts it. */
  constructor(device: Device) {
    super({ allowHalfOpen: false });
    this.#device = device;
    this.#id = device.allocId();
    device.register(this.#id, this);
  }

  get id(): number {
    return this.#id;
  }

  /** @internal engine events for this stream */
  onNativeEvent(ev: NativeEvent): void {
    if (ev.type === 'derp-data') {
      if (this.destroyed) return;
      if (this.push(ev.data)) this.#ack(ev.data.length);
      else this.#held += ev.data.length;
    } else if (ev.type === 'derp-end') {
      this.#closed = true; // the engine's side is gone already
      if (!this.destroyed) this.push(null);
    }
  }

  override _read(): void {
    const n = this.#held;
    this.#held = 0;
    if (n > 0) this.#ack(n);
  }

  #ack(n: number): void {
    this.#passed += n;
    if (this.#passed < ACK_BATCH || this.#closed) return;
    this.#device.derpAck(this.#id, this.#passed);
    this.#passed = 0;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      if (!this.#closed) this.#device.derpWrite(this.#id, chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#close();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#device.unregister(this.#id);
    this.#close();
    cb(err);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#device.derpClose(this.#id);
    } catch {
      /* the device closed: the relay connection went with it */
    }
  }
}
