/**
 * Control-to-node (c2n) requests (docs/protocol/control.md §14): control sends a
 * serialized HTTP/1.x request in PingRequest.Payload; the node answers with a
 * serialized HTTP/1.x response POSTed over Noise. Pure parsing/serializing and
 * the handlers; what they report comes from the node through a C2NContext.
 */
import { ControlError } from '../wire/errors.js';
import type { NetworkMap } from '../wire/netmap.js';

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

const REASONS: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error', 501: 'Not Implemented',
};

export function serializeC2NResponse(r: C2NResponse): Buffer {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  const headers = { ...(r.headers ?? {}), 'Content-Length': String(body.length) };
  let head = `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? 'Status'}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]);
}

/**
 * What the node lends c2n's debug handlers (the Server fills it in). Each is optional: a handler whose source
 * is absent answers 501, as Tailscale's client does for a feature left out of its build.
 */
export interface C2NContext {
  /** The current network map as JSON-able data (it holds no private keys). */
  netmap?(): Record<string, unknown> | null;
  /** Health warnings, in the shape of Tailscale's health.State: { Warnings: { code: UnhealthyState } }. */
  health?(): { Warnings: Record<string, unknown> | null };
  /** Metrics in Prometheus text format. */
  metrics?(): string;
  /** The node's preferences as JSON-able data. */
  prefs?(): Record<string, unknown>;
  /** The services the node hosts (docs/services.md), for GET /vip-services. */
  vipServices?(): C2NVIPServices;
}

/** What GET /vip-services answers (tailcfg.C2NVIPServicesResponse): the services this node hosts. */
export interface C2NVIPServices {
  VIPServices: Array<{ Name: string; Ports: Array<{ Proto: number; Ports: { First: number; Last: number } }>; Active: boolean }>;
  ServicesHash: string;
}

type Handler = (req: C2NRequest, ctx: C2NContext) => C2NResponse;
const JSON_TYPE = { 'Content-Type': 'application/json' };
const TEXT_TYPE = { 'Content-Type': 'text/plain; charset=utf-8' };
const json = (v: unknown): C2NResponse => ({ status: 200, headers: JSON_TYPE, body: JSON.stringify(v) + '\n' });
const text = (status: number, msg: string): C2NResponse => ({ status, headers: TEXT_TYPE, body: msg + '\n' });
const unavailable = (): C2NResponse => text(501, 'feature unavailable');

/** /debug/netmap: GET, or POST with { omitFields } (Tailscale's C2NDebugNetmapRequest). */
function debugNetmap(req: C2NRequest, ctx: C2NContext): C2NResponse {
  if (req.method !== 'GET' && req.method !== 'POST') return text(405, 'method not allowed');
  if (!ctx.netmap) return unavailable();
  let omit: string[] = [];
  if (req.method === 'POST') {
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch (err) {
      return text(400, `failed to decode request body: ${(err as Error).message}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return text(400, 'failed to decode request body: not an object');
    const b = body as { omitFields?: unknown; candidate?: unknown };
    // Building a netmap from a candidate MapResponse is a debugging aid for control's own changes; not offered.
    if (b.candidate !== undefined && b.candidate !== null) return text(501, 'candidate netmaps are not supported');
    if (b.omitFields !== undefined && b.omitFields !== null) {
      if (!Array.isArray(b.omitFields) || !b.omitFields.every((f): f is string => typeof f === 'string')) {
        return text(400, 'failed to decode request body: omitFields must be strings');
      }
      omit = b.omitFields;
    }
  }
  const nm = ctx.netmap();
  const current: Record<string, unknown> | null = nm ? { ...nm } : null;
  if (current) for (const f of omit) delete current[f];
  return json({ current });
}

/**
 * A netmap with the field names of Tailscale's netmap.NetworkMap, for /debug/netmap (its JSON form is not a
 * stable interface, so this follows it where we hold the same facts). The node's private key is never in it.
 */
export function netmapDebugJSON(nm: NetworkMap): Record<string, unknown> {
  return {
    SelfNode: nm.self,
    NodeKey: nm.self.Key,
    MachineKey: nm.self.Machine,
    Peers: nm.peers,
    DNS: nm.dns ?? {},
    PacketFilterRules: nm.packetFilter,
    SSHPolicy: nm.sshPolicy,
    CollectServices: nm.collectServices,
    DERPMap: nm.derpMap,
    DisplayMessages: Object.fromEntries(nm.displayMessages),
    TKAEnabled: nm.tkaInfo !== null,
    Domain: nm.domain,
    DomainAuditLogID: nm.domainAuditLogID,
    UserProfiles: Object.fromEntries(nm.userProfiles),
  };
}

// Method and path as Tailscale's client registers them: "GET /x" for one method, "/x" for all.
const HANDLERS = new Map<string, Handler>([
  ['/echo', (req) => ({ status: 200, body: req.body })],
  ['GET /vip-services', (_req, ctx) => json(ctx.vipServices?.() ?? { VIPServices: [], ServicesHash: '' })],
  ['/debug/netmap', debugNetmap],
  ['/debug/health', (_req, ctx) => (ctx.health ? json(ctx.health()) : unavailable())],
  ['/debug/metrics', (_req, ctx) => (ctx.metrics ? { status: 200, headers: TEXT_TYPE, body: ctx.metrics() } : unavailable())],
  ['/debug/prefs', (_req, ctx) => (ctx.prefs ? json(ctx.prefs()) : unavailable())],
  // Tailscale answers this when tailnet lock is not active on the node; this node has no tailnet lock.
  ['/debug/tka/log', () => text(400, 'tailnet lock not active')],
]);

// Control's proxy to the LocalAPI. Tailscale serves it only when the node's owner enabled remote configuration
// (a local preference, off by default); this node has no such preference, so it is always refused.
const REMOTE_LOCALAPI = '/remoteapi/localapi/';
const PATHS = new Set([...HANDLERS.keys()].map((k) => k.slice(k.indexOf('/'))));

/**
 * Answers a c2n request: the exact method and path first, then the path for any method; a known path with
 * another method gets 405 and an unknown path 400, as Tailscale's client answers.
 */
export function handleC2N(req: C2NRequest, ctx: C2NContext = {}): C2NResponse {
  const path = req.path.split('?')[0]!;
  if (path.startsWith(REMOTE_LOCALAPI)) return text(403, 'remote config not enabled by local machine');
  const h = HANDLERS.get(`${req.method} ${path}`) ?? HANDLERS.get(path);
  if (h) return h(req, ctx);
  return PATHS.has(path) ? text(405, 'bad method') : text(400, 'unknown c2n path');
}

/** Answers a base64 c2n payload; malformed requests get a 400. */
export function answerC2NPayload(payloadBase64: string | null | undefined, ctx: C2NContext = {}): Buffer {
  let req: C2NRequest;
  try {
    req = parseC2NRequest(Buffer.from(payloadBase64 ?? '', 'base64'));
  } catch (err) {
    return serializeC2NResponse({ status: 400, body: (err as Error).message + '\n' });
  }
  return serializeC2NResponse(handleC2N(req, ctx));
}
