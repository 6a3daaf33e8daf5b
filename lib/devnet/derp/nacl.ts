/**
 * NaCl crypto_box (Curve25519 + XSalsa20-Poly1305) for the development DERP
 * relay's ClientInfo/ServerInfo boxes (docs/protocol/derp.md §3). Node has no
 * XSalsa20-Poly1305, so this is a small TypeScript implementation written
 * from the published definitions (Salsa20 spec, "Cryptography in NaCl",
 * RFC 8439 §2.5 for Poly1305). It only carries a few hundred bytes per
 * DERP connection, so it favours clarity over speed (Poly1305 uses BigInt).
 *
 * Verified against the classic NaCl box vector and Tailscale's own boxes
 * (test/devnet-derp-codec.test.ts). X25519 comes from node:crypto.
 */
import { timingSafeEqual } from 'node:crypto';
import { x25519 } from '../../wire/keys.js';

export const BOX_NONCE_LEN = 24;
export const BOX_OVERHEAD = 16;
export const BOX_KEY_LEN = 32;

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

function rd32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

const rotl = (v: number, n: number): number => ((v << n) | (v >>> (32 - n))) >>> 0;

/** The 20-round Salsa20 permutation of `x` in place (no feed-forward). */
function salsaRounds(x: Uint32Array): void {
  const qr = (a: number, b: number, c: number, d: number): void => {
    x[b] = x[b]! ^ rotl((x[a]! + x[d]!) >>> 0, 7);
    x[c] = x[c]! ^ rotl((x[b]! + x[a]!) >>> 0, 9);
    x[d] = x[d]! ^ rotl((x[c]! + x[b]!) >>> 0, 13);
    x[a] = x[a]! ^ rotl((x[d]! + x[c]!) >>> 0, 18);
  };
  for (let i = 0; i < 10; i++) {
    // column round
    qr(0, 4, 8, 12);
    qr(5, 9, 13, 1);
    qr(10, 14, 2, 6);
    qr(15, 3, 7, 11);
    // row round
    qr(0, 1, 2, 3);
    qr(5, 6, 7, 4);
    qr(10, 11, 8, 9);
    qr(15, 12, 13, 14);
  }
}

/** Initial Salsa20 state: constants, 32-byte key, 16-byte input (nonce ‖ counter). */
function salsaState(key: Uint8Array, input16: Uint8Array): Uint32Array {
  const s = new Uint32Array(16);
  s[0] = SIGMA[0]!;
  s[5] = SIGMA[1]!;
  s[10] = SIGMA[2]!;
  s[15] = SIGMA[3]!;
  for (let i = 0; i < 4; i++) {
    s[1 + i] = rd32(key, 4 * i);
    s[11 + i] = rd32(key, 16 + 4 * i);
    s[6 + i] = rd32(input16, 4 * i);
  }
  return s;
}

/** HSalsa20(key, 16-byte input) → 32-byte key. */
export function hsalsa20(key: Uint8Array, input16: Uint8Array): Uint8Array {
  if (key.length !== 32 || input16.length !== 16) throw new RangeError('hsalsa20: key 32 bytes, input 16 bytes');
  const x = salsaState(key, input16);
  salsaRounds(x);
  const out = new Uint8Array(32);
  [0, 5, 10, 15, 6, 7, 8, 9].forEach((w, i) => wr32(out, 4 * i, x[w]!));
  return out;
}

/** XOR `data` with the XSalsa20 key stream starting at stream byte `skip` (a multiple of 64 or 32 handled). */
function xsalsa20Xor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, skip: number): Uint8Array {
  const sub = hsalsa20(key, nonce.subarray(0, 16));
  const input = new Uint8Array(16);
  input.set(nonce.subarray(16, 24), 0);
  const out = new Uint8Array(data.length);
  const block = new Uint8Array(64);
  let pos = -skip; // stream position of data[0] is `skip`
  let counter = 0;
  while (pos < data.length) {
    // counter as u64 LE in input[8..16]
    wr32(input, 8, counter >>> 0);
    wr32(input, 12, Math.floor(counter / 0x100000000));
    const init = salsaState(sub, input);
    const x = init.slice();
    salsaRounds(x);
    for (let i = 0; i < 16; i++) wr32(block, 4 * i, (x[i]! + init[i]!) >>> 0);
    for (let i = 0; i < 64; i++) {
      const j = pos + i;
      if (j >= 0 && j < data.length) out[j] = data[j]! ^ block[i]!;
    }
    pos += 64;
    counter++;
  }
  return out;
}

/** The first `n` bytes of the XSalsa20 key stream (tests). */
export function xsalsa20Stream(key: Uint8Array, nonce: Uint8Array, n: number): Uint8Array {
  return xsalsa20Xor(key, nonce, new Uint8Array(n), 0);
}

function leBig(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

const P1305 = (1n << 130n) - 5n;

/** One-time authenticator Poly1305(key, msg) → 16-byte tag (RFC 8439 §2.5). */
export function poly1305(key: Uint8Array, msg: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError('poly1305: key must be 32 bytes');
  const r = leBig(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = leBig(key.subarray(16, 32));
  let acc = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const chunk = msg.subarray(i, Math.min(i + 16, msg.length));
    const n = leBig(chunk) | (1n << BigInt(8 * chunk.length));
    acc = ((acc + n) * r) % P1305;
  }
  acc = (acc + s) & ((1n << 128n) - 1n);
  const tag = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    tag[i] = Number(acc & 0xffn);
    acc >>= 8n;
  }
  return tag;
}

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== BOX_NONCE_LEN) throw new RangeError(`nonce must be ${BOX_NONCE_LEN} bytes`);
}

/** crypto_secretbox: tag[16] ‖ XSalsa20(key, nonce) ⊕ msg (stream bytes 32.. encrypt; bytes 0..32 key Poly1305). */
export function secretboxSeal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  if (key.length !== BOX_KEY_LEN) throw new RangeError('secretbox key must be 32 bytes');
  checkNonce(nonce);
  const polyKey = xsalsa20Stream(key, nonce, 32);
  const ct = xsalsa20Xor(key, nonce, msg, 32);
  const out = new Uint8Array(BOX_OVERHEAD + ct.length);
  out.set(poly1305(polyKey, ct), 0);
  out.set(ct, BOX_OVERHEAD);
  return out;
}

/** Opens a secretbox; null if it is too short or fails authentication. */
export function secretboxOpen(key: Uint8Array, nonce: Uint8Array, box: Uint8Array): Uint8Array | null {
  if (key.length !== BOX_KEY_LEN) throw new RangeError('secretbox key must be 32 bytes');
  checkNonce(nonce);
  if (box.length < BOX_OVERHEAD) return null;
  const polyKey = xsalsa20Stream(key, nonce, 32);
  const ct = box.subarray(BOX_OVERHEAD);
  const want = poly1305(polyKey, ct);
  if (!timingSafeEqual(want, box.subarray(0, BOX_OVERHEAD))) return null;
  return xsalsa20Xor(key, nonce, ct, 32);
}

/** crypto_box_beforenm: HSalsa20(X25519(priv, pub), 0). Throws for a low-order public key. */
export function boxBeforeNm(theirPublic: Uint8Array, ourPrivate: Uint8Array): Uint8Array {
  return hsalsa20(x25519(ourPrivate, theirPublic), new Uint8Array(16));
}

/** crypto_box: tag ‖ ciphertext (no nonce prefix). */
export function boxSeal(msg: Uint8Array, nonce: Uint8Array, theirPublic: Uint8Array, ourPrivate: Uint8Array): Uint8Array {
  return secretboxSeal(boxBeforeNm(theirPublic, ourPrivate), nonce, msg);
}

/** crypto_box_open; null if authentication fails (or the public key is unusable). */
export function boxOpen(box: Uint8Array, nonce: Uint8Array, theirPublic: Uint8Array, ourPrivate: Uint8Array): Uint8Array | null {
  let k: Uint8Array;
  try {
    k = boxBeforeNm(theirPublic, ourPrivate);
  } catch {
    return null;
  }
  return secretboxOpen(k, nonce, box);
}
