// The environment's one native context: creates devices and routes engine events to the objects that own
// them (sockets by connection id, listeners by listener id). Keeps the Node event loop alive exactly while
// at least one device is open, like an open net.Server does.
import * as fs from 'node:fs';
import { loadNative, type NativeContext, type NativeEvent } from '../native.js';

export interface EventSink {
  onNativeEvent(ev: NativeEvent): void;
}

const JS_IDS = 2 ** 50;
const DEVICE_EVENTS = new Set<NativeEvent['type']>(['derp-want', 'derp-state', 'stun']);

class SharedContext {
  readonly native: NativeContext;
  private readonly sinks = new Map<number, EventSink>(); // connection and listener ids share one space
  private nextDevice = 1;
  private nextId = JS_IDS; // ids allocated in JavaScript; the engine numbers accepted connections from 1
  private openDevices = 0;

  constructor() {
    // TSNET_ENGINE is read by the addon when the process's engine starts (docs/api.md, "Engine").
    const mode = process.env.TSNET_ENGINE;
    if (mode !== undefined && mode !== '' && mode !== 'inline' && mode !== 'thread') {
      throw Object.assign(new Error(`TSNET_ENGINE must be "inline" or "thread", not ${JSON.stringify(mode)}`), {
        code: 'ERR_TSNET_ENGINE',
      });
    }
    this.native = new (loadNative().Context)((events) => this.dispatch(events));
  }

  allocDevice(): number {
    if (this.openDevices++ === 0) this.native.ref();
    const id = this.nextDevice++;
    this.native.deviceCreate(id);
    return id;
  }

  releaseDevice(id: number): void {
    this.native.deviceClose(id);
    if (--this.openDevices === 0) this.native.unref();
  }

  allocId(): number {
    return this.nextId++;
  }

  /** Engine-assigned ids (accepted connections) are per device; keep them distinct from JavaScript's. */
  key(device: number, id: number): number {
    return id >= JS_IDS ? id : device * 2 ** 32 + id;
  }

  register(device: number, id: number, sink: EventSink): void {
    this.sinks.set(this.key(device, id), sink);
  }

  unregister(device: number, id: number): void {
    this.sinks.delete(this.key(device, id));
  }

  private dispatch(events: NativeEvent[]): void {
    for (const ev of events) {
      // Device-level events (relays, STUN) go to the sink registered with id 0; their id is a region.
      const target = ev.type === 'accept' ? ev.listener : DEVICE_EVENTS.has(ev.type) ? 0 : ev.id;
      const sink = this.sinks.get(this.key(ev.device, target));
      if (sink) sink.onNativeEvent(ev);
      else if (ev.type === 'accept') {
        // The listener closed while the connection was on its way: refuse it.
        this.native.tcpReset(ev.device, ev.id);
        closeFd(ev.fd);
      }
    }
  }
}

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

let shared: SharedContext | undefined;

export function context(): SharedContext {
  shared ??= new SharedContext();
  return shared;
}

export type { SharedContext };
