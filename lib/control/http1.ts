/**
 * The two HTTP/1.1 exchanges before Noise (GET /key and the POST /ts2021 upgrade, docs/protocol/control.md
 * §2–3) on a plain net/tls socket. node:http costs about 4 ms of CPU to load and first use, a tenth of up()
 * (docs/performance.md, "Time to up()"); these two requests need only a request line, a few headers and a
 * response whose body is framed by Content-Length, chunked coding or the end of the connection.
 */
import * as net from 'node:net';
import { ControlError, type ControlErrorCode } from '../wire/errors.js';
import { isIP } from '../wire/ip-literal.js';

/** Where to connect: scheme, host (no brackets) and port. */
export interface Http1Target {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
}

/** TLS options for https targets (e.g. a test CA), as node:https takes them. */
export interface Http1TLSOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface Http1RequestOptions {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  tls?: Http1TLSOptions;
  signal?: AbortSignal;
  /** A 101 answer hands the socket over (Http1Upgraded) instead of reading a body. */
  upgrade?: boolean;
  /** Largest body kept; a longer one fails with ERR_BODY_TOO_LARGE (unless `truncate`). */
  maxBody: number;
  /** Keep the first maxBody bytes of a longer body instead of failing (error texts). */
  truncate?: boolean;
  /** The code of the error for a response that is not HTTP/1.x. */
  errorCode: ControlErrorCode;
}

export interface Http1Response {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
}

export interface Http1Upgraded {
  status: 101;
  headers: Map<string, string>;
  /** Paused; the caller resumes it once it listens. */
  socket: net.Socket;
  /** Bytes the server sent after the 101's header block. */
  head: Buffer;
}

const MAX_HEADER = 64 * 1024;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function hostHeader(t: Http1Target): string {
  const h = t.hostname.includes(':') ? `[${t.hostname}]` : t.hostname;
  const dflt = t.protocol === 'https:' ? 443 : 80;
  return t.port === dflt ? h : `${h}:${t.port}`;
}

function connectTo(t: Http1Target, tlsOpts: Http1TLSOptions | undefined): net.Socket {
  if (t.protocol === 'http:') return net.connect({ host: t.hostname, port: t.port });
  // node:tls loads only for https control servers.
  const tls = require('node:tls') as typeof import('node:tls');
  const servername = tlsOpts?.servername ?? (isIP(t.hostname) ? undefined : t.hostname);
  return tls.connect({ host: t.hostname, port: t.port, ...(servername ? { servername } : {}), ...(tlsOpts?.ca ? { ca: tlsOpts.ca } : {}), ...(tlsOpts?.rejectUnauthorized !== undefined ? { rejectUnauthorized: tlsOpts.rejectUnauthorized } : {}) });
}

/** Parses a header block (without its blank line): status and headers, or null if it is not HTTP/1.x. */
export function parseHeaderBlock(block: string): { status: number; headers: Map<string, string> } | null {
  const lines = block.split('\r\n');
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) return null;
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return null;
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

/** Chunked transfer coding: the decoded body once complete, 'more' while incomplete, null if malformed. */
export function decodeChunked(buf: Buffer, max: number): Buffer | 'more' | 'large' | null {
  const parts: Buffer[] = [];
  let off = 0;
  let total = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) return buf.length - off > 1024 ? null : 'more';
    const m = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(buf.toString('latin1', off, eol));
    if (!m) return null;
    const size = parseInt(m[1]!, 16);
    off = eol + 2;
    if (size === 0) {
      // Trailers, then the blank line.
      const end = buf.indexOf('\r\n\r\n', off - 2);
      if (end < 0) return buf.length - off > MAX_HEADER ? null : 'more';
      return Buffer.concat(parts);
    }
    total += size;
    if (total > max) return 'large';
    if (buf.length < off + size + 2) return 'more';
    if (buf[off + size] !== 0x0d || buf[off + size + 1] !== 0x0a) return null;
    parts.push(buf.subarray(off, off + size));
    off += size + 2;
  }
}

/**
 * One request on a new connection. Resolves with the response (its body read) or, with `upgrade`, with the
 * upgraded socket on a 101. Rejects with the socket's error, ERR_BODY_TOO_LARGE, `errorCode` for a response
 * that is not HTTP/1.x, or the signal's reason.
 */
export function http1Request(t: Http1Target, o: Http1RequestOptions): Promise<Http1Response | Http1Upgraded> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(abortReason(o.signal));
    const socket = connectTo(t, o.tls);
    let buf: Buffer = Buffer.alloc(0);
    let head: { status: number; headers: Map<string, string>; bodyStart: number } | null = null;
    let done = false;
    const finish = (err: Error | null, value?: Http1Response | Http1Upgraded): void => {
      if (done) return;
      done = true;
      socket.off('data', onData);
      socket.off('end', onEnd);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const bad = (why: string): void => finish(new ControlError(o.errorCode, `${o.method} ${o.path}: ${why}`));
    const tooLarge = (): void => finish(new ControlError('ERR_BODY_TOO_LARGE', `${o.method} ${o.path}: response body exceeds ${o.maxBody} bytes`));
    const respond = (body: Buffer): void => {
      finish(null, { status: head!.status, headers: head!.headers, body });
      socket.destroy();
    };
    // Returns true once the response is complete (or failed).
    const parse = (eof: boolean): boolean => {
      while (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_HEADER) bad('response header too large');
          else if (eof) bad('connection closed before the response header');
          return done;
        }
        const h = parseHeaderBlock(buf.toString('latin1', 0, end));
        if (!h) {
          bad('malformed HTTP response');
          return true;
        }
        if (h.status === 101 && o.upgrade) {
          socket.pause();
          finish(null, { status: 101, headers: h.headers, socket, head: Buffer.from(buf.subarray(end + 4)) });
          return true;
        }
        if (h.status >= 100 && h.status < 200) {
          buf = buf.subarray(end + 4); // an interim answer (100 Continue): the real one follows
          continue;
        }
        head = { ...h, bodyStart: end + 4 };
      }
      const body = buf.subarray(head.bodyStart);
      if (o.method === 'GET' && (head.status === 204 || head.status === 304)) {
        respond(Buffer.alloc(0));
        return true;
      }
      if (/\bchunked\b/i.test(head.headers.get('transfer-encoding') ?? '')) {
        const r = decodeChunked(body, o.maxBody);
        if (r === 'large') o.truncate ? respond(body.subarray(0, o.maxBody)) : tooLarge();
        else if (r === null) bad('malformed chunked body');
        else if (r !== 'more') respond(r);
        else if (eof) bad('connection closed inside a chunked body');
        return done;
      }
      const cl = head.headers.get('content-length');
      if (cl !== undefined) {
        if (!/^\d{1,15}$/.test(cl)) {
          bad('malformed Content-Length');
          return true;
        }
        const n = Number(cl);
        if (n > o.maxBody && !o.truncate) tooLarge();
        else if (body.length >= Math.min(n, o.maxBody)) respond(body.subarray(0, Math.min(n, o.maxBody)));
        else if (eof) bad('connection closed inside the body');
        return done;
      }
      // No framing: the body ends with the connection.
      if (body.length > o.maxBody) o.truncate ? respond(body.subarray(0, o.maxBody)) : tooLarge();
      else if (eof) respond(Buffer.from(body));
      return done;
    };
    const onData = (d: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      parse(false);
    };
    const onEnd = (): void => {
      parse(true);
    };
    const onAbort = (): void => finish(abortReason(o.signal!));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', (err) => finish(err));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const lines = [`${o.method} ${o.path} HTTP/1.1`, `Host: ${hostHeader(t)}`];
    for (const [k, v] of Object.entries(o.headers ?? {})) lines.push(`${k}: ${v}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  });
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const err = new Error('The operation was aborted', { cause: r }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}
