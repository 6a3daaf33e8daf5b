/**
 * HTTP/2 (h2c, prior knowledge) over a ts2021 Noise stream (docs/protocol/control.md §6):
 * node:http2 `connect` with `createConnection` returning the Noise duplex.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { ControlError } from '../wire/errors.js';
import { parseJSONObject } from './framing.js';
import type { NoiseStream } from './noise-stream.js';
import { LB_HEADER } from '../wire/tailcfg.js';

export interface RequestOptions {
  method?: string;
  /** JSON body (serialized) or raw bytes. */
  body?: object | Buffer;
  /** Node key text(s) for the Ts-Lb load-balancer hint (register sends the old key too, first). */
  lbNodeKey?: string | readonly string[];
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface StreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  stream: ClientHttp2Stream;
}

export interface JSONResponse<T> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
}

/** Connection-level HTTP/2 receive window (map responses can be megabytes). */
export const CONNECTION_WINDOW = 16 * 1024 * 1024;

/** Default cap for JSON (non-streaming) response bodies. */
export const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

export class ControlHttp2Client {
  readonly session: ClientHttp2Session;
  readonly noise: NoiseStream;
  private closedErr: Error | null = null;

  /** `authority` is the control host (e.g. "controlplane.tailscale.com" or "127.0.0.1:8080"). */
  constructor(noise: NoiseStream, authority: string) {
    this.noise = noise;
    this.session = http2.connect(`https://${authority}`, {
      createConnection: () => noise,
      // Control sends big map responses; let it.
      settings: { initialWindowSize: 4 * 1024 * 1024 },
    });
    this.session.once('connect', () => {
      // Raise the connection-level receive window too (the settings above are per stream).
      try {
        this.session.setLocalWindowSize(CONNECTION_WINDOW);
      } catch {
        /* session already gone */
      }
    });
    this.session.on('error', (err) => {
      this.closedErr = err;
    });
    this.session.on('close', () => {
      this.closedErr ??= new ControlError('ERR_CLOSED', 'control HTTP/2 session closed');
    });
    // Silence errors that surface on the stream after the session owns it.
    noise.on('error', () => {});
  }

  get closed(): boolean {
    return this.closedErr !== null || this.session.closed || this.session.destroyed;
  }

  /** Starts a request and waits for its response headers. */
  request(path: string, opts: RequestOptions = {}): Promise<StreamResponse> {
    if (this.closed) return Promise.reject(this.closedErr ?? new ControlError('ERR_CLOSED', 'control session closed'));
    const method = opts.method ?? (opts.body !== undefined ? 'POST' : 'GET');
    const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, ...opts.headers };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(JSON.stringify(opts.body), 'utf8');
      if (!Buffer.isBuffer(opts.body)) headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const lb = typeof opts.lbNodeKey === 'string' ? [opts.lbNodeKey] : (opts.lbNodeKey ?? []);
    const lbValues = lb.filter((k) => k !== '' && !/^nodekey:0{64}$/.test(k));
    if (lbValues.length === 1) headers[LB_HEADER.toLowerCase()] = lbValues[0]!;
    else if (lbValues.length > 1) headers[LB_HEADER.toLowerCase()] = [...lbValues];
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.session.request(headers, opts.signal ? { signal: opts.signal } : {});
      } catch (err) {
        reject(err);
        return;
      }
      // A stream error after the caller took over must never become an uncaught
      // 'error' event: keep a no-op listener; callers add their own.
      stream.on('error', () => {});
      const onError = (err: Error): void => reject(err);
      stream.once('error', onError);
      stream.once('response', (h) => {
        stream.off('error', onError);
        resolve({ status: Number(h[':status'] ?? 0), headers: h, stream });
      });
      stream.once('close', () => reject(new ControlError('ERR_CLOSED', `control stream for ${path} closed before a response`)));
      stream.end(payload);
      // The listeners above keep this scope alive as long as the stream (a map poll's: the session's), and the
      // body may be a slice of Buffer's shared pool, which it would pin (docs/performance.md, "An idle node
      // under 1 MiB").
      payload = undefined;
    });
  }

  /** Request with a bounded body read fully; the body is returned raw. */
  async requestBuffer(path: string, opts: RequestOptions & { maxBytes?: number; timeoutMs?: number } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const res = await this.request(path, opts);
    const body = await readBounded(res.stream, opts.maxBytes ?? DEFAULT_MAX_BODY, `${path} response`);
    return { status: res.status, headers: res.headers, body };
  }

  /** POSTs JSON and parses a JSON object reply; non-2xx gives ERR_HTTP_STATUS with the body text. */
  async postJSON<T>(path: string, body: object, opts: Omit<RequestOptions, 'body'> & { maxBytes?: number } = {}): Promise<JSONResponse<T>> {
    const res = await this.requestBuffer(path, { ...opts, body });
    if (res.status < 200 || res.status > 299) {
      const ra = res.headers['retry-after'];
      throw new ControlError('ERR_HTTP_STATUS', `${path}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 500).trim()}`, {
        status: res.status,
        ...(typeof ra === 'string' ? { retryAfter: ra } : {}),
      });
    }
    return { status: res.status, headers: res.headers, body: parseJSONObject(res.body, path) as T };
  }

  close(): void {
    if (!this.session.destroyed) this.session.close();
    // A server may hold streams open (map poll); don't wait for it.
    setTimeout(() => {
      if (!this.session.destroyed) this.session.destroy();
    }, 1000).unref();
  }

  destroy(err?: Error): void {
    this.session.destroy(err);
    this.noise.destroy();
  }
}

/** Reads a stream fully, refusing (ERR_BODY_TOO_LARGE) beyond maxBytes. */
export function readBounded(stream: NodeJS.ReadableStream & { destroy(err?: Error): void }, maxBytes: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    stream.on('data', (d: Buffer) => {
      n += d.length;
      if (n > maxBytes) {
        const err = new ControlError('ERR_BODY_TOO_LARGE', `${what} exceeds ${maxBytes} bytes`);
        stream.destroy(err);
        reject(err);
        return;
      }
      chunks.push(d);
    });
    let ended = false;
    stream.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    stream.on('error', reject);
    // A session destroyed without an error closes its streams with neither 'end' nor 'error'.
    stream.on('close', () => {
      if (!ended) reject(new ControlError('ERR_CLOSED', `${what}: connection closed before the body ended`));
    });
  });
}
