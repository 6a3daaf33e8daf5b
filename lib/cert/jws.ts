// JSON Web Signatures as ACME uses them (RFC 8555 §6.2, RFC 7515 flattened JSON): ES256 (P-256) and RS256.
import { createHash, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

export function fromB64u(s: unknown, what: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new TypeError(`${what} is not base64url`);
  return Buffer.from(s, 'base64url');
}

export type JwsAlg = 'ES256' | 'RS256';

/** The public JWK of an account key, with only the members its thumbprint uses (RFC 7638). */
export function publicJwk(key: KeyObject): { alg: JwsAlg; jwk: JsonWebKey } {
  const j = createPublicKey(key).export({ format: 'jwk' });
  if (j.kty === 'EC' && j.crv === 'P-256') return { alg: 'ES256', jwk: { crv: j.crv, kty: 'EC', x: j.x, y: j.y } };
  if (j.kty === 'RSA') return { alg: 'RS256', jwk: { e: j.e, kty: 'RSA', n: j.n } };
  throw new TypeError('ACME account keys are ECDSA P-256 or RSA');
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, base64url. */
export function thumbprint(jwk: JsonWebKey): string {
  const canon =
    jwk.kty === 'EC'
      ? JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y })
      : JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  return b64u(createHash('sha256').update(canon).digest());
}

/** The DNS-01 TXT value for a challenge token (RFC 8555 §8.4). */
export function dns01Value(token: string, jwk: JsonWebKey): string {
  return b64u(createHash('sha256').update(`${token}.${thumbprint(jwk)}`).digest());
}

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** Signs `payload` (an object, or "" for POST-as-GET) with the account key. */
export function signJws(
  key: KeyObject,
  header: { url: string; nonce: string; kid?: string },
  payload: object | '',
): FlattenedJws {
  const { alg, jwk } = publicJwk(key);
  const prot = { alg, nonce: header.nonce, url: header.url, ...(header.kid ? { kid: header.kid } : { jwk }) };
  const p = b64u(JSON.stringify(prot));
  const body = payload === '' ? '' : b64u(JSON.stringify(payload));
  const input = Buffer.from(`${p}.${body}`, 'ascii');
  const sig = alg === 'ES256' ? sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', input, key);
  return { protected: p, payload: body, signature: b64u(sig) };
}

/** A JWS whose protected header parsed; its signature is checked by verifyJws with the right key. */
export interface ParsedJws {
  alg: string;
  nonce: string;
  url: string;
  kid?: string;
  jwk?: JsonWebKey;
  /** The decoded payload: null for POST-as-GET (empty payload). */
  payload: Record<string, unknown> | null;
  signingInput: Buffer;
  signature: Buffer;
}

/** Parses a flattened JWS; throws TypeError with a reason on anything malformed. */
export function parseJws(body: unknown): ParsedJws {
  if (typeof body !== 'object' || body === null) throw new TypeError('the request body is not a JWS object');
  const o = body as Record<string, unknown>;
  if (typeof o['protected'] !== 'string' || typeof o['payload'] !== 'string' || typeof o['signature'] !== 'string') {
    throw new TypeError('a flattened JWS needs "protected", "payload" and "signature" strings');
  }
  const prot: unknown = JSON.parse(fromB64u(o['protected'], 'protected').toString('utf8'));
  if (typeof prot !== 'object' || prot === null) throw new TypeError('the protected header is not an object');
  const h = prot as Record<string, unknown>;
  if (typeof h['alg'] !== 'string') throw new TypeError('the protected header has no "alg"');
  if (typeof h['nonce'] !== 'string') throw new TypeError('the protected header has no "nonce"');
  if (typeof h['url'] !== 'string') throw new TypeError('the protected header has no "url"');
  if ((h['kid'] === undefined) === (h['jwk'] === undefined)) throw new TypeError('the protected header needs exactly one of "jwk" and "kid"');
  if (h['kid'] !== undefined && typeof h['kid'] !== 'string') throw new TypeError('"kid" is not a string');
  if (h['jwk'] !== undefined && (typeof h['jwk'] !== 'object' || h['jwk'] === null)) throw new TypeError('"jwk" is not an object');
  let payload: Record<string, unknown> | null = null;
  if (o['payload'] !== '') {
    const p: unknown = JSON.parse(fromB64u(o['payload'], 'payload').toString('utf8'));
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new TypeError('the payload is not a JSON object');
    payload = p as Record<string, unknown>;
  }
  return {
    alg: h['alg'],
    nonce: h['nonce'],
    url: h['url'],
    ...(typeof h['kid'] === 'string' ? { kid: h['kid'] } : {}),
    ...(h['jwk'] ? { jwk: h['jwk'] as JsonWebKey } : {}),
    payload,
    signingInput: Buffer.from(`${o['protected']}.${o['payload']}`, 'ascii'),
    signature: fromB64u(o['signature'], 'signature'),
  };
}

/** A public key from a JWK, for the algorithms we accept; throws TypeError otherwise. */
export function keyFromJwk(jwk: JsonWebKey, alg: string): KeyObject {
  if (alg === 'ES256' && (jwk.kty !== 'EC' || jwk.crv !== 'P-256')) throw new TypeError('ES256 needs an EC P-256 key');
  if (alg === 'RS256' && jwk.kty !== 'RSA') throw new TypeError('RS256 needs an RSA key');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new TypeError('RSA keys must be at least 2048 bits');
  return key;
}

/** Whether the JWS signature verifies with `key` under `alg` (ES256 signatures are r||s, 64 bytes). */
export function verifyJws(j: ParsedJws, key: KeyObject): boolean {
  if (j.alg === 'ES256') {
    if (j.signature.length !== 64) return false;
    return verify('sha256', j.signingInput, { key, dsaEncoding: 'ieee-p1363' }, j.signature);
  }
  if (j.alg === 'RS256') return verify('sha256', j.signingInput, key, j.signature);
  return false;
}
