/**
 * ts2021 Noise IK handshake (both roles) and record cipher, sans-I/O
 * (docs/protocol/control.md §4, §5). The byte-stream wrapper is in noise-stream.ts.
 *
 * Noise_IK_25519_ChaChaPoly_BLAKE2s, prologue "Tailscale Control Protocol v<N>",
 * all-zero handshake nonces, big-endian transport nonce counter.
 */
import { loadNative } from '../native.js';
import { ControlError } from '../wire/errors.js';
import { KEY_LEN, generateKeyPair, keyPairFromPrivate, publicFromPrivate, x25519, type KeyPair } from '../wire/keys.js';
import { ownCopy } from '../util/own-buffer.js';

export const PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_BLAKE2s';
export const PROLOGUE_PREFIX = 'Tailscale Control Protocol v';

export const MSG_TYPE_INITIATION = 0x01;
export const MSG_TYPE_RESPONSE = 0x02;
export const MSG_TYPE_ERROR = 0x03;
export const MSG_TYPE_RECORD = 0x04;

export const TAG_LEN = 16;
export const HEADER_LEN = 3;
/** Initiation: version u16 BE, type, len u16 BE = 96, e(32), enc s(48), tag(16). */
export const INITIATION_LEN = 101;
export const INITIATION_PAYLOAD_LEN = 96;
/** Response: type, len u16 BE = 48, e(32), tag(16). */
export const RESPONSE_LEN = 51;
export const RESPONSE_PAYLOAD_LEN = 48;
export const MAX_FRAME_LEN = 4096;
export const MAX_CIPHERTEXT_LEN = MAX_FRAME_LEN - HEADER_LEN; // 4093
export const MAX_PLAINTEXT_LEN = MAX_CIPHERTEXT_LEN - TAG_LEN; // 4077

const ZERO_NONCE = Buffer.alloc(12);
const EMPTY = Buffer.alloc(0);
const NONCE_LIMIT = 0xffff_ffff_ffff_ffffn; // counter value 2^64-1 is never used

// BLAKE2s and ChaCha20-Poly1305 come from the addon's libsodium and libb2, not node:crypto: Electron's
// BoringSSL and Bun have neither (docs/dependencies.md, "Noise crypto").
function blake2s(...parts: Uint8Array[]): Buffer {
  return loadNative().crypto.blake2s(parts);
}

/** Noise HKDF with HMAC-BLAKE2s, two outputs. */
export function hkdf2(chainingKey: Uint8Array, ikm: Uint8Array): [Buffer, Buffer] {
  const out = loadNative().crypto.kdf2(chainingKey, ikm);
  return [out.subarray(0, KEY_LEN), out.subarray(KEY_LEN)];
}

export function seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Buffer {
  return loadNative().crypto.chachaSeal(key, nonce, ad, plaintext);
}

/** Returns null when authentication fails. */
export function open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Buffer | null {
  return loadNative().crypto.chachaOpen(key, nonce, ad, ciphertext);
}

export function prologue(version: number): Buffer {
  return Buffer.from(PROLOGUE_PREFIX + String(version), 'ascii');
}

/** Noise SymmetricState for this one protocol. */
class SymmetricState {
  h: Buffer;
  ck: Buffer;
  private k: Buffer | null = null;

  constructor(version: number, responderStatic: Uint8Array) {
    // The protocol name is 33 bytes, longer than HASHLEN: h = HASH(name).
    this.h = blake2s(Buffer.from(PROTOCOL_NAME, 'ascii'));
    this.ck = Buffer.from(this.h);
    this.mixHash(prologue(version));
    this.mixHash(responderStatic);
  }

  mixHash(data: Uint8Array): void {
    this.h = blake2s(this.h, data);
  }

  mixDH(priv: Uint8Array, pub: Uint8Array): void {
    const [ck, k] = hkdf2(this.ck, x25519(priv, pub));
    this.ck = ck;
    this.k = k;
  }

  /** Each derived key is used once, so the nonce is always zero. */
  encryptAndHash(plaintext: Uint8Array): Buffer {
    if (!this.k) throw new Error('noise: encrypt without key');
    const ct = seal(this.k, ZERO_NONCE, this.h, plaintext);
    this.mixHash(ct);
    return ct;
  }

  decryptAndHash(ciphertext: Uint8Array): Buffer {
    if (!this.k) throw new Error('noise: decrypt without key');
    const pt = open(this.k, ZERO_NONCE, this.h, ciphertext);
    if (!pt) throw new ControlError('ERR_NOISE_DECRYPT', 'noise handshake: authentication failed');
    this.mixHash(ciphertext);
    return pt;
  }

  split(): [Buffer, Buffer] {
    return hkdf2(this.ck, EMPTY);
  }
}

/** One direction of the transport: ChaCha20-Poly1305 with a big-endian 64-bit counter nonce. */
export class CipherState {
  private readonly key: Buffer;
  private counter = 0n;
  private readonly nonce = Buffer.alloc(12);

  constructor(key: Uint8Array) {
    if (key.length !== KEY_LEN) throw new ControlError('ERR_KEY_INVALID', 'cipher key must be 32 bytes');
    this.key = Buffer.from(key);
  }

  /** Next nonce value to be used (for tests and diagnostics). */
  get nonceCounter(): bigint {
    return this.counter;
  }

  private nextNonce(): Buffer {
    if (this.counter >= NONCE_LIMIT) {
      throw new ControlError('ERR_NOISE_NONCE_EXHAUSTED', 'noise cipher nonce exhausted; reconnect');
    }
    this.nonce.writeBigUInt64BE(this.counter, 4);
    this.counter += 1n;
    return this.nonce;
  }

  encrypt(plaintext: Uint8Array): Buffer {
    return seal(this.key, this.nextNonce(), EMPTY, plaintext);
  }

  /** Throws ERR_NOISE_DECRYPT on authentication failure. */
  decrypt(ciphertext: Uint8Array): Buffer {
    const pt = open(this.key, this.nextNonce(), EMPTY, ciphertext);
    if (!pt) throw new ControlError('ERR_NOISE_DECRYPT', 'noise record: authentication failed');
    return pt;
  }
}

export interface HandshakeResult {
  /** Cipher for records this side sends. */
  readonly tx: CipherState;
  /** Cipher for records this side receives. */
  readonly rx: CipherState;
  /** The final handshake hash h. */
  readonly handshakeHash: Buffer;
  /** The peer's static public key (the machine key on the responder side, the control key on the initiator). */
  readonly peerStatic: Buffer;
  /** Protocol (capability) version from the initiation. */
  readonly version: number;
}

export interface InitiatorOptions {
  /** Protocol version = client capability version (uint16). */
  version: number;
  /** Machine private key (the client's Noise static key). */
  machinePrivate: Uint8Array;
  /** Control server's Noise public key (from GET /key). */
  controlPublic: Uint8Array;
  /** Ephemeral private key; random when absent (set only in tests). */
  ephemeralPrivate?: Uint8Array;
}

/**
 * Initiator (client) role. `initiation` is the 101-byte message 1; feed the
 * server's 51-byte reply to `finish`.
 */
export class NoiseInitiator {
  readonly initiation: Buffer;
  private readonly ss: SymmetricState;
  private readonly eph: KeyPair;
  private readonly machinePrivate: Buffer;
  private readonly controlPublic: Buffer;
  private readonly version: number;
  private done = false;

  constructor(opts: InitiatorOptions) {
    checkVersion(opts.version);
    this.version = opts.version;
    this.machinePrivate = Buffer.from(opts.machinePrivate);
    this.controlPublic = Buffer.from(opts.controlPublic);
    if (this.controlPublic.length !== KEY_LEN) throw new ControlError('ERR_KEY_INVALID', 'control key must be 32 bytes');
    this.eph = opts.ephemeralPrivate ? keyPairFromPrivate(opts.ephemeralPrivate) : generateKeyPair();
    const ss = new SymmetricState(opts.version, this.controlPublic);
    ss.mixHash(this.eph.publicKey);
    ss.mixDH(this.eph.privateKey, this.controlPublic);
    const encStatic = ss.encryptAndHash(publicFromPrivate(this.machinePrivate));
    ss.mixDH(this.machinePrivate, this.controlPublic);
    const tag = ss.encryptAndHash(EMPTY);
    this.ss = ss;

    const msg = Buffer.alloc(INITIATION_LEN);
    msg.writeUInt16BE(opts.version, 0);
    msg[2] = MSG_TYPE_INITIATION;
    msg.writeUInt16BE(INITIATION_PAYLOAD_LEN, 3);
    this.eph.publicKey.copy(msg, 5);
    encStatic.copy(msg, 37);
    tag.copy(msg, 85);
    this.initiation = msg;
  }

  /**
   * Processes the server's reply. Throws ERR_NOISE_SERVER_ERROR with the server's
   * text for an Error frame, ERR_NOISE_MESSAGE for malformed input, ERR_NOISE_DECRYPT
   * when authentication fails.
   */
  finish(reply: Uint8Array): HandshakeResult {
    try {
      return this.#finish(reply);
    } finally {
      this.wipe();
    }
  }

  /** Zeroes the private keys this initiator copied (finish does it; call it when abandoning a handshake). */
  wipe(): void {
    this.machinePrivate.fill(0);
    this.eph.privateKey.fill(0);
  }

  #finish(reply: Uint8Array): HandshakeResult {
    if (this.done) throw new ControlError('ERR_NOISE_MESSAGE', 'noise handshake already finished');
    const msg = Buffer.from(reply.buffer, reply.byteOffset, reply.length);
    if (msg.length >= HEADER_LEN && msg[0] === MSG_TYPE_ERROR) {
      const n = msg.readUInt16BE(1);
      const text = msg.subarray(HEADER_LEN, HEADER_LEN + n).toString('utf8');
      throw new ControlError('ERR_NOISE_SERVER_ERROR', `control server refused the handshake: ${text}`);
    }
    if (msg.length !== RESPONSE_LEN) {
      throw new ControlError('ERR_NOISE_MESSAGE', `noise response must be ${RESPONSE_LEN} bytes, got ${msg.length}`);
    }
    if (msg[0] !== MSG_TYPE_RESPONSE) {
      throw new ControlError('ERR_NOISE_MESSAGE', `unexpected noise message type ${msg[0]} (want response)`);
    }
    if (msg.readUInt16BE(1) !== RESPONSE_PAYLOAD_LEN) {
      throw new ControlError('ERR_NOISE_MESSAGE', 'noise response has a bad length field');
    }
    const re = msg.subarray(3, 35);
    const tag = msg.subarray(35, 51);
    const ss = this.ss;
    ss.mixHash(re);
    ss.mixDH(this.eph.privateKey, re);
    ss.mixDH(this.machinePrivate, re);
    ss.decryptAndHash(tag);
    this.done = true;
    const [c2s, s2c] = ss.split();
    return {
      tx: new CipherState(c2s),
      rx: new CipherState(s2c),
      handshakeHash: ownCopy(ss.h),
      peerStatic: ownCopy(this.controlPublic),
      version: this.version,
    };
  }
}

export interface ResponderOptions {
  /** Control server's static private key. */
  controlPrivate: Uint8Array;
  /** Ephemeral private key; random when absent (set only in tests). */
  ephemeralPrivate?: Uint8Array;
}

export interface ResponderResult extends HandshakeResult {
  /** The 51-byte response message to send. */
  readonly response: Buffer;
  /** The client's machine public key (= peerStatic). */
  readonly machinePublic: Buffer;
}

/** Reads the protocol version of an initiation without processing it. */
export function initiationVersion(init: Uint8Array): number {
  if (init.length < 2) throw new ControlError('ERR_NOISE_MESSAGE', 'noise initiation too short');
  return (init[0]! << 8) | init[1]!;
}

/**
 * Responder (server) role: processes a 101-byte initiation and returns the
 * response plus transport ciphers. Throws ControlError for malformed or
 * unauthenticated input; callers may send `errorMessage(...)` then close.
 */
export function respondToInitiation(init: Uint8Array, opts: ResponderOptions): ResponderResult {
  const msg = Buffer.from(init.buffer, init.byteOffset, init.length);
  if (msg.length !== INITIATION_LEN) {
    throw new ControlError('ERR_NOISE_MESSAGE', `noise initiation must be ${INITIATION_LEN} bytes, got ${msg.length}`);
  }
  const version = msg.readUInt16BE(0);
  if (msg[2] !== MSG_TYPE_INITIATION) {
    throw new ControlError('ERR_NOISE_MESSAGE', `unexpected noise message type ${msg[2]} (want initiation)`);
  }
  if (msg.readUInt16BE(3) !== INITIATION_PAYLOAD_LEN) {
    throw new ControlError('ERR_NOISE_MESSAGE', 'noise initiation has a bad length field');
  }
  const s = keyPairFromPrivate(opts.controlPrivate);
  const ss = new SymmetricState(version, s.publicKey);
  const re = msg.subarray(5, 37);
  ss.mixHash(re);
  ss.mixDH(s.privateKey, re);
  const machinePublic = ss.decryptAndHash(msg.subarray(37, 85));
  ss.mixDH(s.privateKey, machinePublic);
  ss.decryptAndHash(msg.subarray(85, 101));

  const e = opts.ephemeralPrivate ? keyPairFromPrivate(opts.ephemeralPrivate) : generateKeyPair();
  ss.mixHash(e.publicKey);
  ss.mixDH(e.privateKey, re);
  ss.mixDH(e.privateKey, machinePublic);
  const tag = ss.encryptAndHash(EMPTY);
  const response = Buffer.alloc(RESPONSE_LEN);
  response[0] = MSG_TYPE_RESPONSE;
  response.writeUInt16BE(RESPONSE_PAYLOAD_LEN, 1);
  e.publicKey.copy(response, 3);
  tag.copy(response, 35);
  const [c2s, s2c] = ss.split();
  return {
    response,
    machinePublic: Buffer.from(machinePublic),
    tx: new CipherState(s2c),
    rx: new CipherState(c2s),
    handshakeHash: ownCopy(ss.h),
    peerStatic: Buffer.from(machinePublic),
    version,
  };
}

/** An unauthenticated Error frame (type 0x03) a server may send instead of a response. */
export function errorMessage(text: string): Buffer {
  let body = Buffer.from(text, 'utf8');
  if (body.length > 0xffff) body = body.subarray(0, 0xffff);
  const out = Buffer.alloc(HEADER_LEN + body.length);
  out[0] = MSG_TYPE_ERROR;
  out.writeUInt16BE(body.length, 1);
  body.copy(out, HEADER_LEN);
  return out;
}

function checkVersion(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new ControlError('ERR_NOISE_VERSION', `protocol version must be a uint16, got ${v}`);
  }
}

/**
 * Encrypts `data` into record frames (type 0x04, u16 BE length, ciphertext),
 * splitting at MAX_PLAINTEXT_LEN. Empty input gives no frames.
 */
export function encodeRecords(tx: CipherState, data: Uint8Array): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_PLAINTEXT_LEN) {
    const chunk = data.subarray(off, Math.min(data.length, off + MAX_PLAINTEXT_LEN));
    const ct = tx.encrypt(chunk);
    const frame = Buffer.alloc(HEADER_LEN + ct.length);
    frame[0] = MSG_TYPE_RECORD;
    frame.writeUInt16BE(ct.length, 1);
    ct.copy(frame, HEADER_LEN);
    frames.push(frame);
  }
  return frames;
}

/**
 * Incremental record-frame parser and decrypter. Buffers at most one frame
 * (≤ 4096 bytes) plus the unparsed tail of the last input chunk.
 */
export class RecordDecoder {
  private buf: Buffer = EMPTY;

  constructor(private readonly rx: CipherState) {}

  /** Bytes received but not yet forming a whole frame. */
  get pending(): number {
    return this.buf.length;
  }

  /**
   * Feeds bytes; returns decrypted plaintexts of all complete frames.
   * Throws ERR_NOISE_FRAME / ERR_NOISE_DECRYPT (the connection must then be dropped).
   */
  push(chunk: Uint8Array): Buffer[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    let off = 0;
    while (this.buf.length - off >= HEADER_LEN) {
      const type = this.buf[off]!;
      const len = this.buf.readUInt16BE(off + 1);
      if (type !== MSG_TYPE_RECORD) {
        if (type === MSG_TYPE_ERROR) {
          const text = this.buf.subarray(off + HEADER_LEN, off + HEADER_LEN + len).toString('utf8');
          throw new ControlError('ERR_NOISE_FRAME', `noise: peer sent an error frame after the handshake: ${text}`);
        }
        throw new ControlError('ERR_NOISE_FRAME', `noise: unexpected frame type ${type} after the handshake`);
      }
      if (len > MAX_CIPHERTEXT_LEN) {
        throw new ControlError('ERR_NOISE_FRAME', `noise: record of ${len} bytes exceeds ${MAX_CIPHERTEXT_LEN}`);
      }
      if (len < TAG_LEN) throw new ControlError('ERR_NOISE_FRAME', `noise: record of ${len} bytes is shorter than a tag`);
      if (this.buf.length - off < HEADER_LEN + len) break;
      out.push(this.rx.decrypt(this.buf.subarray(off + HEADER_LEN, off + HEADER_LEN + len)));
      off += HEADER_LEN + len;
    }
    this.buf = off === this.buf.length ? EMPTY : Buffer.from(this.buf.subarray(off));
    return out;
  }
}
