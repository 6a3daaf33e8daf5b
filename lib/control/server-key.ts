/**
 * GET <control>/key?v=<capver> (docs/protocol/control.md §2): the server's Noise public key.
 */
import { ControlError } from '../wire/errors.js';
import { isZeroKey, parseMachinePublic } from '../wire/keys.js';
import type { DialTLSOptions } from './dial.js';
import { http1Request, type Http1Response } from './http1.js';

export const MAX_KEY_RESPONSE = 64 * 1024;

/** Parses a /key response body. Returns the Noise key; throws ERR_SERVER_KEY for old or broken servers. */
export function parseServerKeyResponse(body: string): Buffer {
  // Very old servers answer bare hex (which may even parse as a JSON number):
  // a legacy key only, no Noise support.
  if (/^[0-9a-fA-F]{64}$/.test(body.trim())) {
    throw new ControlError('ERR_SERVER_KEY', 'control server too old: it has no Noise (ts2021) key');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ControlError('ERR_SERVER_KEY', 'control /key response is neither JSON nor a key');
  }
  if (parsed === null || typeof parsed !== 'object') throw new ControlError('ERR_SERVER_KEY', 'control /key response is not an object');
  const pk = (parsed as { publicKey?: unknown }).publicKey;
  if (pk === undefined || pk === null || pk === '') {
    throw new ControlError('ERR_SERVER_KEY', 'control server too old: /key has no publicKey');
  }
  let key: Buffer;
  try {
    key = parseMachinePublic(pk, true);
  } catch (cause) {
    throw new ControlError('ERR_SERVER_KEY', `control /key publicKey is malformed`, { cause });
  }
  if (isZeroKey(key)) throw new ControlError('ERR_SERVER_KEY', 'control server too old: zero Noise key');
  return key;
}

export interface FetchServerKeyOptions {
  controlURL: string | URL;
  version: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  tls?: DialTLSOptions;
}

export async function fetchServerKey(opts: FetchServerKeyOptions): Promise<Buffer> {
  const base = typeof opts.controlURL === 'string' ? new URL(opts.controlURL) : opts.controlURL;
  const url = new URL(`/key?v=${opts.version}`, base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ControlError('ERR_SERVER_KEY', `unsupported control URL scheme ${url.protocol}`);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let res: Http1Response;
  try {
    res = (await http1Request(
      { protocol: url.protocol, hostname, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 },
      {
        method: 'GET',
        path: url.pathname + url.search,
        headers: { Connection: 'close' },
        signal,
        maxBody: MAX_KEY_RESPONSE,
        errorCode: 'ERR_SERVER_KEY',
        ...(url.protocol === 'https:' && opts.tls ? { tls: opts.tls } : {}),
      },
    )) as Http1Response;
  } catch (err) {
    if (timeout.aborted && !opts.signal?.aborted) throw new ControlError('ERR_TIMEOUT', `GET /key timed out after ${timeoutMs} ms`);
    throw err;
  }
  const body = res.body.toString('utf8');
  if (res.status !== 200) {
    throw new ControlError('ERR_HTTP_STATUS', `GET /key: HTTP ${res.status}: ${body.slice(0, 300).trim()}`, { status: res.status });
  }
  return parseServerKeyResponse(body);
}
