/**
 * Validation of MapRequest bodies (docs/protocol/control.md §9) before they touch the
 * state: key formats, compression, endpoint lists. Unknown fields are
 * ignored (newer clients send more).
 */
import type { Hostinfo, MapRequest } from '../wire/tailcfg.js';
import { checkHostinfo, normalizeHostinfo } from './hostinfo-check.js';

export const MAX_ENDPOINTS = 64;

const NODEKEY_RE = /^nodekey:[0-9a-f]{64}$/;
const DISCOKEY_RE = /^discokey:[0-9a-f]{64}$/;
const ZERO_DISCO = `discokey:${'0'.repeat(64)}`;

export interface ValidMapRequest {
  req: MapRequest;
  zstd: boolean;
  /** The disco key if present and non-zero. */
  discoKey: string | undefined;
  hostinfo: Hostinfo | undefined;
  endpoints: string[] | undefined;
}

function isAddrPort(s: string): boolean {
  return /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.%a-zA-Z]+\]):\d{1,5}$/.test(s);
}

export function validateMapRequest(body: Record<string, unknown>): ValidMapRequest | string {
  if (typeof body['Version'] !== 'number' || !Number.isInteger(body['Version'])) return 'MapRequest.Version must be an integer';
  const nk = body['NodeKey'];
  if (typeof nk !== 'string' || !NODEKEY_RE.test(nk)) return 'MapRequest.NodeKey must be "nodekey:<64 hex>"';
  const compress = body['Compress'];
  if (compress !== undefined && compress !== null && compress !== '' && compress !== 'zstd') {
    return `unsupported MapRequest.Compress ${JSON.stringify(compress)} (supported: "zstd" or none)`;
  }
  let discoKey: string | undefined;
  const dk = body['DiscoKey'];
  if (dk !== undefined && dk !== null && dk !== '') {
    if (typeof dk !== 'string' || !DISCOKEY_RE.test(dk)) return 'MapRequest.DiscoKey must be "discokey:<64 hex>"';
    if (dk !== ZERO_DISCO) discoKey = dk;
  }
  let hostinfo: Hostinfo | undefined;
  if (body['Hostinfo'] !== undefined && body['Hostinfo'] !== null) {
    const bad = checkHostinfo(body['Hostinfo'], 'MapRequest.Hostinfo');
    if (bad) return bad;
    hostinfo = normalizeHostinfo(body['Hostinfo'] as Record<string, unknown>);
  }
  let endpoints: string[] | undefined;
  const eps = body['Endpoints'];
  if (eps !== undefined && eps !== null) {
    if (!Array.isArray(eps) || !eps.every((e) => typeof e === 'string' && isAddrPort(e))) return 'MapRequest.Endpoints must be a list of "ip:port"';
    if (eps.length > MAX_ENDPOINTS) return `MapRequest.Endpoints has more than ${MAX_ENDPOINTS} entries`;
    endpoints = eps as string[];
  }
  for (const k of ['Stream', 'OmitPeers', 'KeepAlive', 'ReadOnly'] as const) {
    const v = body[k];
    if (v !== undefined && v !== null && typeof v !== 'boolean') return `MapRequest.${k} must be a boolean`;
  }
  return { req: body as unknown as MapRequest, zstd: compress === 'zstd', discoKey, hostinfo, endpoints };
}
