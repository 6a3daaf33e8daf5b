/**
 * Registration (docs/protocol/control.md §8): request building and response
 * classification are pure; the caller drives the loop (auth key,
 * interactive AuthURL + Followup long-poll, NodeKeyExpired retry, logout).
 */
import { ControlError } from '../wire/errors.js';
import { isZeroKey, nodePublicToText, ZERO_KEY } from '../wire/keys.js';
import type { Hostinfo, RegisterRequest, RegisterResponse } from '../wire/tailcfg.js';

/** The client sends this expiry to log out (Unix time 123). */
export const LOGOUT_EXPIRY = new Date(123 * 1000).toISOString().replace('.000Z', 'Z');

export interface RegisterInput {
  version: number;
  nodePublic: Uint8Array;
  /** Previous node key during rotation (or null). */
  oldNodePublic?: Uint8Array | null;
  /** Tailnet-lock public key (raw ed25519, hex). */
  nlPublicHex?: string;
  hostinfo: Hostinfo;
  authKey?: string;
  ephemeral?: boolean;
  /** AuthURL being waited on. */
  followup?: string;
  /** RFC 3339 expiry; LOGOUT_EXPIRY to log out. */
  expiry?: string;
  tailnet?: string;
}

export function buildRegisterRequest(i: RegisterInput): RegisterRequest {
  const req: RegisterRequest = {
    Version: i.version,
    NodeKey: nodePublicToText(i.nodePublic),
    OldNodeKey: nodePublicToText(i.oldNodePublic && !isZeroKey(i.oldNodePublic) ? i.oldNodePublic : ZERO_KEY),
    Hostinfo: i.hostinfo,
  };
  if (i.nlPublicHex) req.NLKey = `nlpub:${i.nlPublicHex}`;
  if (i.authKey) req.Auth = { AuthKey: i.authKey };
  if (i.expiry) req.Expiry = i.expiry;
  if (i.followup) req.Followup = i.followup;
  if (i.ephemeral) req.Ephemeral = true;
  if (i.tailnet) req.Tailnet = i.tailnet;
  return req;
}

export type RegisterOutcome =
  /** Done: the node key is accepted. `machineAuthorized` false ⇒ NeedsMachineAuth. */
  | { kind: 'registered'; machineAuthorized: boolean; response: RegisterResponse }
  /** The user must visit `url`; then send a Followup request with the same key. */
  | { kind: 'authURL'; url: string; response: RegisterResponse }
  /** Control says the key expired: generate a new one and retry (once). */
  | { kind: 'nodeKeyExpired'; response: RegisterResponse }
  /** Tailnet lock wants a node-key signature; this client cannot sign. */
  | { kind: 'needsSignature'; response: RegisterResponse };

export function classifyRegisterResponse(resp: RegisterResponse): RegisterOutcome {
  if (typeof resp.Error === 'string' && resp.Error !== '') {
    throw new ControlError('ERR_REGISTER', `control refused registration: ${resp.Error}`);
  }
  if (resp.NodeKeyExpired === true) return { kind: 'nodeKeyExpired', response: resp };
  if (typeof resp.NodeKeySignature === 'string' && resp.NodeKeySignature !== '') {
    return { kind: 'needsSignature', response: resp };
  }
  if (typeof resp.AuthURL === 'string' && resp.AuthURL !== '') return { kind: 'authURL', url: resp.AuthURL, response: resp };
  return { kind: 'registered', machineAuthorized: resp.MachineAuthorized === true, response: resp };
}

/** Parses an HTTP Retry-After value (seconds or date) into ms, capped. */
export function retryAfterMs(value: string | string[] | undefined, capMs = 60_000, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Math.min(capMs, Number(v.trim()) * 1000);
  const t = Date.parse(v);
  if (Number.isFinite(t)) return Math.max(0, Math.min(capMs, t - now));
  return null;
}

/**
 * How long to wait after HTTP 429 on /machine/register (capability 137): the Retry-After header in seconds or
 * as an HTTP date; missing, unparsable, past or over an hour, 5-10 s at random (as Tailscale's client).
 */
export function registerRetryDelayMs(retryAfter: string | undefined, now = Date.now(), random = Math.random): number {
  let ms = NaN;
  const v = retryAfter?.trim() ?? '';
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else if (v) ms = Date.parse(v) - now;
  if (!(ms > 0 && ms <= 3_600_000)) ms = 5_000 + Math.floor(random() * 5_000);
  return ms;
}
