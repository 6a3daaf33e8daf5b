// Disco pings on demand (Tailscale's `ping` of type disco): the engine pings every candidate address of a
// peer and, through DERP, the peer itself; the first pong answers. Each ping has a tag the pongs carry.
import type { NativeEvent } from '../native.js';

export interface DiscoPong {
  /** Round trip in ms. */
  ms: number;
  /** The direct address that answered ("ip:port"), or "" when the pong came through relay `region`. */
  direct: string;
  region: number;
  publicKey: Buffer;
}

type PongEvent = Extract<NativeEvent, { type: 'disco-pong' }>;

export class DiscoPings {
  readonly #waiting = new Map<number, (p: DiscoPong) => void>();
  #next = 1;

  /** Sends with `send(tag)`; resolves with the first pong, rejects with the signal's reason. */
  ping(send: (tag: number) => void, signal: AbortSignal): Promise<DiscoPong> {
    const tag = this.#next;
    this.#next = this.#next >= 0xffff_ffff ? 1 : this.#next + 1;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiting.delete(tag);
        reject(signal.reason);
      };
      this.#waiting.set(tag, (p) => {
        this.#waiting.delete(tag);
        signal.removeEventListener('abort', onAbort);
        resolve(p);
      });
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        send(tag);
      } catch (err) {
        this.#waiting.delete(tag);
        signal.removeEventListener('abort', onAbort);
        reject(err);
      }
    });
  }

  pong(ev: PongEvent): void {
    const d = ev.direct;
    const direct = d ? (d.family === 'IPv6' ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`) : '';
    this.#waiting.get(ev.id)?.({ ms: ev.latencyMs, direct, region: ev.region, publicKey: ev.publicKey });
  }
}
