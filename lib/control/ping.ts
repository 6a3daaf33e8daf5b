/**
 * Answering a control PingRequest (docs/protocol/control.md §14): liveness (`Types`
 * empty → HEAD <URL>, over Noise if URLIsNoise) and c2n (answered with a
 * c2n.ts; POSTed over Noise). Disco/TSMP/ICMP/peerapi
 * pings need the data plane and are handed to the caller.
 */
import type * as Http from 'node:http';
import { answerC2NPayload, serializeC2NResponse, type C2NContext } from './c2n.js';
import { ControlError } from '../wire/errors.js';
import type { DialTLSOptions } from './dial.js';
import type { RequestOptions } from './http2-client.js';
import type { IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { PingRequest } from '../wire/tailcfg.js';

export const PING_TIMEOUT_MS = 15_000;

export interface NoiseRequester {
  request(path: string, opts: RequestOptions): Promise<{ status: number; headers: IncomingHttpHeaders; stream: Readable }>;
}

export type PingKind = 'liveness' | 'c2n' | 'data-plane';

export function pingKind(pr: PingRequest): PingKind {
  const t = (pr.Types ?? '').trim();
  if (t === '') return 'liveness';
  if (t === 'c2n') return 'c2n';
  return 'data-plane';
}

/** Serialized HTTP/1.1 404 for c2n requests we do not handle. */
export function c2nNotFoundResponse(): Buffer {
  return serializeC2NResponse({ status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'not implemented\n' });
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url.startsWith('/') ? url : '/' + url;
  }
}

async function overNoise(noise: NoiseRequester | null, pr: PingRequest, method: string, body?: Buffer): Promise<number> {
  if (!noise) throw new ControlError('ERR_CLOSED', 'no Noise session to answer the ping over');
  const res = await noise.request(pathOf(pr.URL), {
    method,
    ...(body ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}),
    signal: AbortSignal.timeout(PING_TIMEOUT_MS),
  });
  res.stream.resume();
  return res.status;
}

function plainHead(url: string, tls?: DialTLSOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // Loaded here, not at startup: node:http(s) cost a few ms of CPU that up() does not need (docs/performance.md).
    const mod = (u.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof Http;
    const req = mod.request(u, { method: 'HEAD', agent: false, timeout: PING_TIMEOUT_MS, ...(u.protocol === 'https:' ? (tls ?? {}) : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new ControlError('ERR_TIMEOUT', 'ping HEAD timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Answers a liveness or c2n PingRequest. Returns the HTTP status of the
 * answer, or null for data-plane pings (not answered here).
 */
export async function answerPing(
  pr: PingRequest,
  noise: NoiseRequester | null,
  tls?: DialTLSOptions,
  c2n?: C2NContext,
): Promise<number | null> {
  switch (pingKind(pr)) {
    case 'liveness':
      return pr.URLIsNoise ? overNoise(noise, pr, 'HEAD') : plainHead(pr.URL, tls);
    case 'c2n':
      return overNoise(noise, pr, 'POST', answerC2NPayload(pr.Payload, c2n));
    default:
      return null;
  }
}
