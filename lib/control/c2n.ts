/**
 * Control-to-node (c2n) requests (docs/protocol/control.md §14): control sends a
 * serialized HTTP/1.x request in PingRequest.Payload; the node answers with a
 * serialized HTTP/1.x response POSTed over Noise. Pure parsing/serializing
 * here; only a few handlers exist (others answer 404).
 */
import { ControlError } from '../wire/errors.js';

export interface C2NRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface C2NResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const MAX_C2N_REQUEST = 1 << 20;

/** Parses a serialized HTTP/1.x request (Content-Length bodies only). */
export function parseC2NRequest(raw: Uint8Array): C2NRequest {
  if (raw.length > MAX_C2N_REQUEST) throw new ControlError('ERR_BAD_MESSAGE', 'c2n request too large');
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) throw new ControlError('ERR_BAD_MESSAGE', 'c2n request has no header terminator');
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!m) throw new ControlError('ERR_BAD_MESSAGE', 'c2n request line is malformed');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new ControlError('ERR_BAD_MESSAGE', 'c2n header line is malformed');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(end + 4);
  const cl = headers['content-length'];
  if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) throw new ControlError('ERR_BAD_MESSAGE', 'c2n Content-Length is malformed');
    body = body.subarray(0, Number(cl));
  }
  let path = m[2]!;
  try {
    path = new URL(path, 'http://c2n').pathname + new URL(path, 'http://c2n').search;
  } catch {
    /* keep as is */
  }
  return { method: m[1]!, path, headers, body: Buffer.from(body) };
}

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error' };

export function serializeC2NResponse(r: C2NResponse): Buffer {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  const headers = { ...(r.headers ?? {}), 'Content-Length': String(body.length) };
  let head = `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? 'Status'}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]);
}

/**
 * The built-in handlers: `/echo` (body echoed, as Tailscale's client does for
 * control's connectivity checks) and `/vip-services` (the services the node hosts; docs/services.md).
 */
/** What GET /vip-services answers (tailcfg.C2NVIPServicesResponse): the services this node hosts. */
export interface C2NVIPServices {
  VIPServices: Array<{ Name: string; Ports: Array<{ Proto: number; Ports: { First: number; Last: number } }>; Active: boolean }>;
  ServicesHash: string;
}

const NO_SERVICES: C2NVIPServices = { VIPServices: [], ServicesHash: '' };

export function handleC2N(req: C2NRequest, vip: C2NVIPServices = NO_SERVICES): C2NResponse {
  const json = { 'Content-Type': 'application/json' };
  switch (req.path.split('?')[0]) {
    case '/echo':
      return { status: 200, body: req.body };
    case '/vip-services':
      if (req.method !== 'GET') return { status: 405 };
      return { status: 200, headers: json, body: JSON.stringify(vip) };
    default:
      return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'not implemented\n' };
  }
}

/** Answers a base64 c2n payload; malformed requests get a 400. */
export function answerC2NPayload(payloadBase64: string | null | undefined, vip?: C2NVIPServices): Buffer {
  let req: C2NRequest;
  try {
    req = parseC2NRequest(Buffer.from(payloadBase64 ?? '', 'base64'));
  } catch (err) {
    return serializeC2NResponse({ status: 400, body: (err as Error).message + '\n' });
  }
  return serializeC2NResponse(handleC2N(req, vip));
}
