/**
 * POST /machine/map over the Noise HTTP/2 session: the streaming poll (with
 * the 120 s watchdog) and lite updates (docs/protocol/control.md §9, §10).
 */
import type { IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import { ControlError } from '../wire/errors.js';
import { readBounded, type RequestOptions } from './http2-client.js';
import { MapStreamDecoder, type MapEvent } from './map-stream.js';
import { discoPublicToText, nodePublicToText } from '../wire/keys.js';
import type { Hostinfo, MapRequest } from '../wire/tailcfg.js';

export const MAP_PATH = '/machine/map';

export interface MapRequestInput {
  version: number;
  nodePublic: Uint8Array;
  discoPublic: Uint8Array;
  hostinfo: Hostinfo;
  endpoints?: ReadonlyArray<{ addr: string; type: number }>;
}

/** The MapRequest this client sends (Stream/OmitPeers are set by runMapPoll / sendLiteUpdate). */
export function buildMapRequest(i: MapRequestInput): MapRequest {
  const req: MapRequest = {
    Version: i.version,
    KeepAlive: true,
    NodeKey: nodePublicToText(i.nodePublic),
    DiscoKey: discoPublicToText(i.discoPublic),
    Hostinfo: i.hostinfo,
  };
  if (i.endpoints && i.endpoints.length) {
    req.Endpoints = i.endpoints.map((e) => e.addr);
    req.EndpointTypes = i.endpoints.map((e) => e.type);
  }
  return req;
}
export const DEFAULT_WATCHDOG_MS = 120_000;

/** What the poll needs from the HTTP/2 client (ControlHttp2Client fits). */
export interface MapTransport {
  request(path: string, opts: RequestOptions): Promise<{ status: number; headers: IncomingHttpHeaders; stream: Readable }>;
}

export interface MapPollOptions {
  request: MapRequest;
  lbNodeKey: string;
  watchdogMs?: number;
  maxFrame?: number;
  lastPingURL?: string;
  signal?: AbortSignal;
  onEvent(ev: MapEvent, decoder: MapStreamDecoder): void;
}

/**
 * Runs one streaming map session until it fails, the server ends it, or the
 * signal aborts. Always rejects: ERR_WATCHDOG, ERR_CLOSED (stream ended),
 * ERR_HTTP_STATUS, framing/JSON errors, or the abort reason.
 */
export async function runMapPoll(t: MapTransport, opts: MapPollOptions): Promise<never> {
  const req: MapRequest = { ...opts.request, Stream: true, KeepAlive: true };
  delete req.Compress;
  delete req.OmitPeers;
  const res = await t.request(MAP_PATH, { body: req, lbNodeKey: opts.lbNodeKey, ...(opts.signal ? { signal: opts.signal } : {}) });
  if (res.status !== 200) {
    const body = await readBounded(res.stream as Readable & { destroy(e?: Error): void }, 64 * 1024, 'map error body').catch(() => Buffer.alloc(0));
    throw new ControlError('ERR_HTTP_STATUS', `${MAP_PATH}: HTTP ${res.status}: ${body.toString('utf8').slice(0, 500).trim()}`, { status: res.status });
  }
  const decoder = new MapStreamDecoder({
    ...(opts.maxFrame !== undefined ? { maxFrame: opts.maxFrame } : {}),
    ...(opts.lastPingURL !== undefined ? { lastPingURL: opts.lastPingURL } : {}),
  });
  const watchdogMs = opts.watchdogMs ?? DEFAULT_WATCHDOG_MS;
  const stream = res.stream;
  return new Promise<never>((_resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: unknown): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      stream.on('error', () => {});
      stream.destroy();
      reject(err);
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(
        () => finish(new ControlError('ERR_WATCHDOG', `no map message for ${Math.round(watchdogMs / 1000)} s; re-polling`)),
        watchdogMs,
      );
    };
    const onData = (chunk: Buffer): void => {
      let events: MapEvent[];
      const before = decoder.messages;
      try {
        events = decoder.push(chunk);
      } catch (err) {
        finish(err);
        return;
      }
      if (decoder.messages !== before) arm();
      for (const ev of events) {
        try {
          opts.onEvent(ev, decoder);
        } catch (err) {
          finish(err);
          return;
        }
      }
    };
    const onEnd = (): void => {
      try {
        decoder.end();
      } catch (err) {
        finish(err);
        return;
      }
      finish(new ControlError('ERR_CLOSED', 'control ended the map stream'));
    };
    const onError = (err: Error): void => finish(err);
    const onClose = (): void => finish(new ControlError('ERR_CLOSED', 'control closed the map stream'));
    const onAbort = (): void => finish(opts.signal!.reason);
    if (opts.signal?.aborted) {
      finish(opts.signal.reason);
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    arm();
  });
}

/** A lite update (Stream=false, OmitPeers=true): pushes Hostinfo/endpoints; the body is discarded. */
export async function sendLiteUpdate(t: MapTransport, request: MapRequest, lbNodeKey: string, signal?: AbortSignal): Promise<void> {
  const req: MapRequest = { ...request, Stream: false, OmitPeers: true };
  delete req.Compress;
  const res = await t.request(MAP_PATH, { body: req, lbNodeKey, ...(signal ? { signal } : {}) });
  const body = await readBounded(res.stream as Readable & { destroy(e?: Error): void }, 8 * 1024 * 1024, 'lite update response').catch(() => Buffer.alloc(0));
  if (res.status !== 200) {
    throw new ControlError('ERR_HTTP_STATUS', `${MAP_PATH} (lite): HTTP ${res.status}: ${body.toString('utf8').slice(0, 300).trim()}`, { status: res.status });
  }
}
