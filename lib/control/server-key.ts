/**
 * GET <control>/key?v=<capver> (docs/protocol/control.md §2): the server's Noise public key.
 */
import http from 'node:http';
import https from 'node:https';
import { ControlError } from '../wire/errors.js';
import { isZeroKey, parseMachinePublic } from '../wire/keys.js';
import type { DialTLSOptions } from './dial.js';

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

export function fetchServerKey(opts: FetchServerKeyOptions): Promise<Buffer> {
  const base = typeof opts.controlURL === 'string' ? new URL(opts.controlURL) : opts.controlURL;
  const url = new URL(`/key?v=${opts.version}`, base);
  const mod = url.protocol === 'https:' ? https : http;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = mod.get(
      url,
      { agent: false, ...(opts.signal ? { signal: opts.signal } : {}), ...(url.protocol === 'https:' ? (opts.tls ?? {}) : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (d: Buffer) => {
          n += d.length;
          if (n > MAX_KEY_RESPONSE) {
            req.destroy(new ControlError('ERR_BODY_TOO_LARGE', `/key response exceeds ${MAX_KEY_RESPONSE} bytes`));
            return;
          }
          chunks.push(d);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new ControlError('ERR_HTTP_STATUS', `GET /key: HTTP ${res.statusCode}: ${body.slice(0, 300).trim()}`, { status: res.statusCode ?? 0 }));
            return;
          }
          try {
            resolve(parseServerKeyResponse(body));
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new ControlError('ERR_TIMEOUT', `GET /key timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
