/**
 * Small HTTP helpers shared by the plain HTTP side and the HTTP/2-over-Noise
 * side: bounded body reads and JSON / text replies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** Noise request bodies are capped (Headscale uses 1 MiB too). */
export const MAX_REQUEST_BODY = 1024 * 1024;

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** Reads a request body, refusing more than `max` bytes without buffering them. */
export function readBody(req: AnyRequest, max = MAX_REQUEST_BODY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      reject(new BodyTooLargeError(`request body of ${declared} bytes exceeds ${max}`));
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const onData = (d: Buffer): void => {
      if (done) return;
      n += d.length;
      if (n > max) {
        done = true;
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLargeError(`request body exceeds ${max} bytes`));
        return;
      }
      chunks.push(d);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.once('error', (e: Error) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
    req.once('aborted', () => {
      if (!done) {
        done = true;
        reject(new Error('request aborted'));
      }
    });
  });
}

/** Writes a whole response; a peer that already went away is not an error. */
function reply(res: AnyResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent || res.writableEnded) return;
  try {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } catch {
    // stream closed under us
  }
}

export function sendJSON(res: AnyResponse, status: number, body: unknown): void {
  reply(res, status, 'application/json', JSON.stringify(body));
}

export function sendText(res: AnyResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  reply(res, status, contentType, text.endsWith('\n') || contentType.startsWith('text/html') ? text : text + '\n');
}

/** Parses a JSON object body; returns an error message instead of throwing. */
export function parseJSONBody(body: Buffer): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'expected a JSON object';
  return v as Record<string, unknown>;
}

/**
 * An admin request's JSON object body with only the `allowed` fields, or null once it has answered 400 (too
 * large, not JSON, not an object, an unknown field).
 */
export async function readJSONObject(req: AnyRequest, res: AnyResponse, max: number, allowed: readonly string[]): Promise<Record<string, unknown> | null> {
  let o: Record<string, unknown> | string;
  try {
    o = parseJSONBody(await readBody(req, max));
  } catch (e) {
    return sendJSON(res, 400, { error: (e as Error).message }), null;
  }
  if (typeof o === 'string') return sendJSON(res, 400, { error: o }), null;
  const unknown = Object.keys(o).find((k) => !allowed.includes(k));
  if (unknown) return sendJSON(res, 400, { error: `unknown field "${unknown}"` }), null;
  return o;
}
