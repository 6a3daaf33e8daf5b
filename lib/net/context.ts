// The environment's one native context: makes devices and hands each engine event to the Device it belongs
// to. Keeps the Node event loop alive exactly while at least one device is open, like an open net.Server.
import * as fs from 'node:fs';
import { loadNative, type NativeContext, type NativeDevice, type NativeEvent } from '../native.js';
import { bridgeMode } from './bridge.js';
import type { Device } from './device.js';

export type { EventSink } from './device.js';

const JS_IDS = 2 ** 50; // ids allocated in JavaScript; the engine numbers accepted connections from 1

class SharedContext {
  readonly #native: NativeContext;
  readonly #devices = new Map<number, Device>();
  #nextId = JS_IDS;

  constructor() {
    // TSNET_ENGINE is read by the addon when the process's engine starts (docs/api.md, "Engine").
    const mode = process.env.TSNET_ENGINE;
    if (mode !== undefined && mode !== '' && mode !== 'inline' && mode !== 'thread') {
      throw Object.assign(new Error(`TSNET_ENGINE must be "inline" or "thread", not ${JSON.stringify(mode)}`), {
        code: 'ERR_TSNET_ENGINE',
      });
    }
    bridgeMode(); // TSNET_BRIDGE checked now, so a bad value fails the first use, not a later dial
    this.#native = new (loadNative().Context)((events) => this.#dispatch(events));
  }

  /** @internal Device's constructor: a native device routed to `owner`. */
  openDevice(owner: Device): NativeDevice {
    const d = this.#native.createDevice();
    if (this.#devices.size === 0) this.#native.ref();
    this.#devices.set(d.id, owner);
    return d;
  }

  /** @internal Device#close */
  closeDevice(owner: Device, d: NativeDevice): void {
    d.close();
    if (this.#devices.get(d.id) === owner && this.#devices.delete(d.id) && this.#devices.size === 0) this.#native.unref();
  }

  allocId(): number {
    return this.#nextId++;
  }

  #dispatch(events: NativeEvent[]): void {
    for (const ev of events) {
      const d = this.#devices.get(ev.device);
      try {
        if (d) d.dispatch(ev);
        else if (ev.type === 'accept' && ev.fd >= 0) fs.close(ev.fd, () => {}); // the device closed while it was on its way
      } catch (err) {
        // A listener's exception is the process's uncaught exception (as on Node's own sockets), but the rest
        // of the batch (other connections' data, closes) is still delivered.
        process.nextTick(() => { throw err; });
      }
    }
  }
}

let shared: SharedContext | undefined;

export function context(): SharedContext {
  shared ??= new SharedContext();
  return shared;
}

export type { SharedContext };
