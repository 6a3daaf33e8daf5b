/**
 * Control-initiated pings (docs/protocol/control.md §14): the server puts a
 * PingRequest in a node's map stream and the node answers at the URL it was
 * given — HEAD for a liveness ping, POST with a serialized HTTP/1.1 response
 * for c2n ("control to node") requests. This file keeps the outstanding pings
 * and serializes/parses the HTTP/1.1 messages; server.ts routes the answers.
 */
import { randomBytes } from 'node:crypto';

export const PING_RESPONSE_PATH = '/machine/ping-response';
/** At most this many pings wait for answers at once. */
export const MAX_OUTSTANDING_PINGS = 256;

export interface PingAnswer {
  method: string;
  body: Buffer;
}

interface Outstanding {
  resolve: (a: PingAnswer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class PingRegistry {
  private readonly waiting = new Map<string, Outstanding>();

  /** Registers a ping; returns its ID and a promise of the node's answer. */
  create(timeoutMs: number): { id: string; answer: Promise<PingAnswer> } {
    if (this.waiting.size >= MAX_OUTSTANDING_PINGS) throw new Error('too many outstanding pings');
    const id = randomBytes(12).toString('hex');
    const answer = new Promise<PingAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`ping ${id} was not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this.waiting.set(id, { resolve, reject, timer });
    });
    return { id, answer };
  }

  /** Delivers an answer; false if the ID is unknown (or already answered). */
  answer(id: string, a: PingAnswer): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(a);
    return true;
  }

  cancel(id: string, err: Error): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.reject(err);
  }

  cancelAll(err: Error): void {
    for (const id of [...this.waiting.keys()]) this.cancel(id, err);
  }
}

export interface C2NRequestSpec {
  method?: string;
  /** Path on the node, e.g. "/echo". */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface C2NReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Serializes a c2n request as HTTP/1.1 (Content-Length body). */
export function serializeHTTPRequest(r: C2NRequestSpec): Buffer {
  const method = (r.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new RangeError(`invalid HTTP method ${JSON.stringify(r.method)}`);
  if (!r.path.startsWith('/') || /[\s]/.test(r.path)) throw new RangeError(`c2n path must start with "/" and hold no spaces`);
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  let head = `${method} ${r.path} HTTP/1.1\r\nHost: node\r\n`;
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) throw new RangeError('c2n header names and values must not contain CR, LF or ":" (names)');
    head += `${k}: ${v}\r\n`;
  }
  head += `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Parses a serialized HTTP/1.x response (Content-Length, chunked, or to the end). */
export function parseHTTPResponse(raw: Buffer): C2NReply {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('c2n response has no header terminator');
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`c2n response status line is malformed: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error('c2n response header line is malformed');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    let off = 0;
    for (;;) {
      const nl = body.indexOf('\r\n', off);
      if (nl < 0) throw new Error('c2n chunked body is truncated');
      const size = parseInt(body.subarray(off, nl).toString('latin1').split(';')[0]!, 16);
      if (!Number.isFinite(size)) throw new Error('c2n chunk size is malformed');
      off = nl + 2;
      if (size === 0) break;
      if (off + size > body.length) throw new Error('c2n chunked body is truncated');
      parts.push(body.subarray(off, off + size));
      off += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (!Number.isInteger(n) || n < 0 || n > body.length) throw new Error('c2n Content-Length does not match the body');
    body = body.subarray(0, n);
  }
  return { status: Number(m[1]), headers, body: Buffer.from(body) };
}
