/**
 * The map-poll response stream, sans-I/O: bytes in (u32 LE framed JSON),
 * events out (netmap snapshots, keep-alives, ping requests, browser URLs).
 */
import { ControlError } from '../wire/errors.js';
import { DEFAULT_MAX_MAP_FRAME, MapFrameReader, parseMapResponse } from './framing.js';
import { NetmapState, type NetworkMap } from '../wire/netmap.js';
import type { MapResponse, PingRequest } from '../wire/tailcfg.js';

export type MapEvent =
  | { type: 'netmap'; netmap: NetworkMap; response: MapResponse }
  | { type: 'keepAlive'; response: MapResponse }
  | { type: 'pingRequest'; request: PingRequest }
  | { type: 'popBrowserURL'; url: string };

export interface MapStreamDecoderOptions {
  maxFrame?: number;
  lastPingURL?: string;
  /** Clock for PeerSeenChange (tests). */
  now?: () => Date;
}

export class MapStreamDecoder {
  readonly state: NetmapState;
  private readonly reader: MapFrameReader;
  private readonly now: () => Date;
  /** Messages decoded so far (including keep-alives). */
  messages = 0;

  constructor(opts: MapStreamDecoderOptions = {}) {
    this.reader = new MapFrameReader(opts.maxFrame ?? DEFAULT_MAX_MAP_FRAME);
    this.state = new NetmapState(opts.lastPingURL !== undefined ? { lastPingURL: opts.lastPingURL } : {});
    this.now = opts.now ?? (() => new Date());
  }

  /** Feeds stream bytes. Throws ControlError on framing, JSON or protocol errors. */
  push(chunk: Uint8Array): MapEvent[] {
    const out: MapEvent[] = [];
    for (const frame of this.reader.push(chunk)) out.push(...this.message(parseMapResponse(frame)));
    return out;
  }

  /** Applies one already-decoded message. */
  message(resp: MapResponse): MapEvent[] {
    this.messages++;
    const out: MapEvent[] = [];
    const wasFirst = !this.state.hasSelf;
    const r = this.state.apply(resp, this.now());
    if (r.pingRequest) out.push({ type: 'pingRequest', request: r.pingRequest });
    if (r.popBrowserURL) out.push({ type: 'popBrowserURL', url: r.popBrowserURL });
    if (r.keepAlive) {
      out.push({ type: 'keepAlive', response: resp });
      return out;
    }
    if (wasFirst && !this.state.hasSelf) {
      throw new ControlError('ERR_BAD_MESSAGE', 'first map response lacks the self Node');
    }
    out.push({ type: 'netmap', netmap: this.state.netmap()!, response: resp });
    return out;
  }

  /** End of stream: throws ERR_FRAME_TRUNCATED if it stopped inside a frame. */
  end(): void {
    this.reader.end();
  }
}
