/**
 * Curve25519 keys used by the control protocol (docs/protocol/control.md §1) and their
 * text forms: prefix + 64 lower-case hex characters.
 *
 * Keys are plain 32-byte Buffers; the functions below name the role.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { loadNative } from '../native.js';
import { ControlError } from './errors.js';
import { ownCopy, ownFromHex } from '../util/own-buffer.js';

export const KEY_LEN = 32;

export const PREFIX_MACHINE_PUBLIC = 'mkey:';
export const PREFIX_NODE_PUBLIC = 'nodekey:';
export const PREFIX_DISCO_PUBLIC = 'discokey:';
export const PREFIX_PRIVATE = 'privkey:';
export const PREFIX_CHALLENGE_PUBLIC = 'chalpub:';

export type KeyPrefix =
  | typeof PREFIX_MACHINE_PUBLIC
  | typeof PREFIX_NODE_PUBLIC
  | typeof PREFIX_DISCO_PUBLIC
  | typeof PREFIX_PRIVATE
  | typeof PREFIX_CHALLENGE_PUBLIC;

export interface KeyPair {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

function checkLen(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== KEY_LEN) {
    throw new ControlError('ERR_KEY_INVALID', `${what} must be ${KEY_LEN} bytes`);
  }
}

/** Clamps a Curve25519 private key (copy). */
export function clampPrivateKey(raw: Uint8Array): Buffer {
  checkLen(raw, 'private key');
  const b = ownCopy(raw); // kept for a node's lifetime: not a slice of Buffer's pool (util/own-buffer.ts)
  b[0] = b[0]! & 248;
  b[31] = (b[31]! & 127) | 64;
  return b;
}

/** A new clamped private key from `random` (32 bytes) or from the system CSPRNG. */
export function generatePrivateKey(random?: Uint8Array): Buffer {
  return clampPrivateKey(random ?? randomBytes(KEY_LEN));
}

/** The X25519 public key of a private key (from the addon's libsodium; docs/dependencies.md, "Noise crypto"). */
export function publicFromPrivate(priv: Uint8Array): Buffer {
  checkLen(priv, 'private key');
  return loadNative().crypto.x25519Public(priv);
}

export function keyPairFromPrivate(priv: Uint8Array): KeyPair {
  const privateKey = clampPrivateKey(priv);
  return { privateKey, publicKey: publicFromPrivate(privateKey) };
}

export function generateKeyPair(random?: Uint8Array): KeyPair {
  return keyPairFromPrivate(generatePrivateKey(random));
}

/** X25519(priv, pub). Throws ERR_KEY_INVALID for a low-order public key (all-zero result). */
export function x25519(priv: Uint8Array, pub: Uint8Array): Buffer {
  checkLen(priv, 'private key');
  checkLen(pub, 'public key');
  const out = loadNative().crypto.x25519(priv, pub);
  if (!out) throw new ControlError('ERR_KEY_INVALID', 'X25519 produced an all-zero shared secret (low-order public key)');
  return out;
}

export function isZeroKey(k: Uint8Array | undefined | null): boolean {
  if (!k) return true;
  for (const b of k) if (b !== 0) return false;
  return true;
}

export const ZERO_KEY: Readonly<Buffer> = Buffer.alloc(KEY_LEN);

// The u-coordinates of Curve25519's points of small order (on the curve or its twist) and their non-canonical
// encodings: 0, 1, the two points of order 8, p-1, p and p+1 (p = 2^255-19), as RFC 7748 section 6.1 warns and
// libsodium blocklists. X25519 with any clamped private key (a multiple of 8) maps them to zero.
const P25519 = 2n ** 255n - 19n;
const LOW_ORDER: readonly Buffer[] = [
  0n,
  1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  P25519 - 1n,
  P25519,
  P25519 + 1n,
].map((u) => {
  const b = Buffer.alloc(KEY_LEN);
  for (let i = 0; i < KEY_LEN; i++, u >>= 8n) b[i] = Number(u & 0xffn);
  return b;
});

/**
 * True for a public key whose X25519 with every private key is all zeros (a low-order point): no shared
 * secret, so no WireGuard handshake or disco box can ever succeed with it. The top bit is ignored, as X25519
 * ignores it.
 */
export function isLowOrderKey(pub: Uint8Array): boolean {
  checkLen(pub, 'public key');
  const k = Buffer.from(pub);
  k[31] = k[31]! & 0x7f;
  let hit = false;
  for (const p of LOW_ORDER) hit = timingSafeEqual(k, p) || hit;
  return hit;
}

/** prefix + lower-case hex. */
export function keyToText(prefix: KeyPrefix, key: Uint8Array): string {
  checkLen(key, prefix.slice(0, -1));
  return prefix + Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex');
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Parses `prefix + 64 hex`. With `allowBare`, a bare 64-hex string is accepted too
 * (legacy `/key` format). Throws ERR_KEY_FORMAT on anything else.
 */
export function parseKeyText(prefix: KeyPrefix, text: unknown, allowBare = false): Buffer {
  if (typeof text !== 'string') throw new ControlError('ERR_KEY_FORMAT', `expected a ${prefix} key string`);
  let hex: string;
  if (text.startsWith(prefix)) hex = text.slice(prefix.length);
  else if (allowBare && HEX64.test(text)) hex = text;
  else throw new ControlError('ERR_KEY_FORMAT', `key ${JSON.stringify(text.slice(0, 80))} lacks prefix ${prefix}`);
  if (!HEX64.test(hex)) {
    throw new ControlError('ERR_KEY_FORMAT', `key with prefix ${prefix} must have exactly 64 hex characters`);
  }
  return ownFromHex(hex);
}

export const machinePublicToText = (k: Uint8Array): string => keyToText(PREFIX_MACHINE_PUBLIC, k);
export const nodePublicToText = (k: Uint8Array): string => keyToText(PREFIX_NODE_PUBLIC, k);
export const discoPublicToText = (k: Uint8Array): string => keyToText(PREFIX_DISCO_PUBLIC, k);
export const privateToText = (k: Uint8Array): string => keyToText(PREFIX_PRIVATE, k);
export const challengePublicToText = (k: Uint8Array): string => keyToText(PREFIX_CHALLENGE_PUBLIC, k);

export const parseMachinePublic = (t: unknown, allowBare = false): Buffer =>
  parseKeyText(PREFIX_MACHINE_PUBLIC, t, allowBare);
export const parseNodePublic = (t: unknown): Buffer => parseKeyText(PREFIX_NODE_PUBLIC, t);
export const parseDiscoPublic = (t: unknown): Buffer => parseKeyText(PREFIX_DISCO_PUBLIC, t);
export const parsePrivate = (t: unknown): Buffer => parseKeyText(PREFIX_PRIVATE, t);
export const parseChallengePublic = (t: unknown): Buffer => parseKeyText(PREFIX_CHALLENGE_PUBLIC, t);
