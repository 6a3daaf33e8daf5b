/**
 * DERP frame codec (docs/protocol/derp.md §2-§4), sans I/O: frames to bytes and
 * bytes to frames. Frame = type u8 · payload length u32 BE · payload.
 *
 * `FrameReader` splits a byte stream into frames and refuses any frame longer
 * than its limit before buffering it (so a peer cannot make us hold more than
 * the limit). `decodeFrame` turns one frame into a typed value; `encodeFrame`
 * is its inverse, byte for byte for every frame Tailscale's own code writes
 * (checked against test/fixtures/devnet-derp/vectors.json).
 */

/** "DERP🔑" */
export const DERP_MAGIC: Readonly<Uint8Array> = Uint8Array.from([0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91]);
export const PROTOCOL_VERSION = 2;
export const FRAME_HEADER_LEN = 5;
export const KEY_LEN = 32;
export const NONCE_LEN = 24;
/** Largest packet in a SendPacket/RecvPacket frame. */
export const MAX_PACKET_SIZE = 64 << 10;
/** Largest ClientInfo/ServerInfo JSON box. */
export const MAX_INFO_LEN = 1 << 20;
/**
 * Longest ClientInfo frame (key, nonce and box) a server reads from a client it does not know yet; longer
 * ones are refused from the header alone, as Tailscale's server does (docs/architecture.md, "Development
 * tailnet limits").
 */
export const MAX_CLIENT_INFO_FRAME_LEN = 256 << 10;
/** Clients and servers reject frames longer than this. */
export const MAX_FRAME_LEN = 1 << 20;

export const FrameType = {
  ServerKey: 0x01,
  ClientInfo: 0x02,
  ServerInfo: 0x03,
  SendPacket: 0x04,
  RecvPacket: 0x05,
  KeepAlive: 0x06,
  NotePreferred: 0x07,
  PeerGone: 0x08,
  PeerPresent: 0x09,
  ForwardPacket: 0x0a,
  WatchConns: 0x10,
  ClosePeer: 0x11,
  Ping: 0x12,
  Pong: 0x13,
  Health: 0x14,
  Restarting: 0x15,
} as const;
export type FrameTypeName = keyof typeof FrameType;

export const PeerGoneReason = {
  Disconnected: 0x00,
  NotHere: 0x01,
} as const;

export const PeerPresentFlags = {
  Regular: 1,
  MeshPeer: 2,
  Prober: 4,
  NotIdeal: 8,
} as const;

export type Frame =
  | { type: 'ServerKey'; key: Uint8Array; /** bytes after the key (future use; kept for re-encoding) */ rest: Uint8Array }
  | { type: 'ClientInfo'; key: Uint8Array; nonce: Uint8Array; box: Uint8Array }
  | { type: 'ServerInfo'; nonce: Uint8Array; box: Uint8Array }
  | { type: 'SendPacket'; dst: Uint8Array; packet: Uint8Array }
  | { type: 'RecvPacket'; src: Uint8Array; packet: Uint8Array }
  | { type: 'KeepAlive' }
  | { type: 'NotePreferred'; preferred: boolean }
  | { type: 'PeerGone'; key: Uint8Array; /** absent in old servers' frames */ reason?: number }
  | {
      type: 'PeerPresent';
      key: Uint8Array;
      /** IPv6 or v4-mapped address (16 bytes) and port, when sent */
      endpoint?: { ip: Uint8Array; port: number };
      flags?: number;
    }
  | { type: 'ForwardPacket'; src: Uint8Array; dst: Uint8Array; packet: Uint8Array }
  | { type: 'WatchConns' }
  | { type: 'ClosePeer'; key: Uint8Array }
  | { type: 'Ping'; data: Uint8Array }
  | { type: 'Pong'; data: Uint8Array }
  | { type: 'Health'; problem: string }
  | { type: 'Restarting'; reconnectInMs: number; tryForMs: number }
  | { type: 'Unknown'; frameType: number; payload: Uint8Array };

export class DerpFrameError extends Error {
  readonly code: 'ERR_DERP_FRAME_TOO_LARGE' | 'ERR_DERP_FRAME_MALFORMED';
  constructor(code: DerpFrameError['code'], message: string) {
    super(message);
    this.name = 'DerpFrameError';
    this.code = code;
  }
}

/** A frame as it came off the wire: its type byte and payload. */
export interface RawFrame {
  frameType: number;
  payload: Uint8Array;
}

function header(frameType: number, len: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_LEN);
  h[0] = frameType;
  h.writeUInt32BE(len, 1);
  return h;
}

/** One frame from its type byte and payload parts. */
export function encodeRawFrame(frameType: number, ...parts: Uint8Array[]): Buffer {
  if (!Number.isInteger(frameType) || frameType < 0 || frameType > 255) throw new RangeError('frame type must be a byte');
  let len = 0;
  for (const p of parts) len += p.length;
  if (len > 0xffffffff) throw new RangeError('frame too long');
  return Buffer.concat([header(frameType, len), ...parts], FRAME_HEADER_LEN + len);
}

function need(cond: boolean, what: string): void {
  if (!cond) throw new DerpFrameError('ERR_DERP_FRAME_MALFORMED', what);
}

function key32(k: Uint8Array, what: string): Uint8Array {
  if (k.length !== KEY_LEN) throw new RangeError(`${what} must be ${KEY_LEN} bytes`);
  return k;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** Encodes a frame (header included). */
export function encodeFrame(f: Frame): Buffer {
  switch (f.type) {
    case 'ServerKey':
      return encodeRawFrame(FrameType.ServerKey, DERP_MAGIC, key32(f.key, 'server key'), f.rest);
    case 'ClientInfo':
      if (f.nonce.length !== NONCE_LEN) throw new RangeError('nonce must be 24 bytes');
      return encodeRawFrame(FrameType.ClientInfo, key32(f.key, 'client key'), f.nonce, f.box);
    case 'ServerInfo':
      if (f.nonce.length !== NONCE_LEN) throw new RangeError('nonce must be 24 bytes');
      return encodeRawFrame(FrameType.ServerInfo, f.nonce, f.box);
    case 'SendPacket':
      if (f.packet.length > MAX_PACKET_SIZE) throw new RangeError('packet too large');
      return encodeRawFrame(FrameType.SendPacket, key32(f.dst, 'destination key'), f.packet);
    case 'RecvPacket':
      if (f.packet.length > MAX_PACKET_SIZE) throw new RangeError('packet too large');
      return encodeRawFrame(FrameType.RecvPacket, key32(f.src, 'source key'), f.packet);
    case 'KeepAlive':
      return encodeRawFrame(FrameType.KeepAlive);
    case 'NotePreferred':
      return encodeRawFrame(FrameType.NotePreferred, Uint8Array.of(f.preferred ? 1 : 0));
    case 'PeerGone':
      return f.reason === undefined
        ? encodeRawFrame(FrameType.PeerGone, key32(f.key, 'peer key'))
        : encodeRawFrame(FrameType.PeerGone, key32(f.key, 'peer key'), Uint8Array.of(f.reason));
    case 'PeerPresent': {
      const parts: Uint8Array[] = [key32(f.key, 'peer key')];
      if (f.endpoint || f.flags !== undefined) {
        const ep = Buffer.alloc(18);
        if (f.endpoint) {
          if (f.endpoint.ip.length !== 16) throw new RangeError('PeerPresent ip must be 16 bytes');
          ep.set(f.endpoint.ip, 0);
          ep.writeUInt16BE(f.endpoint.port, 16);
        }
        parts.push(ep);
      }
      if (f.flags !== undefined) parts.push(Uint8Array.of(f.flags));
      return encodeRawFrame(FrameType.PeerPresent, ...parts);
    }
    case 'ForwardPacket':
      return encodeRawFrame(FrameType.ForwardPacket, key32(f.src, 'source key'), key32(f.dst, 'destination key'), f.packet);
    case 'WatchConns':
      return encodeRawFrame(FrameType.WatchConns);
    case 'ClosePeer':
      return encodeRawFrame(FrameType.ClosePeer, key32(f.key, 'peer key'));
    case 'Ping':
    case 'Pong':
      if (f.data.length !== 8) throw new RangeError(`${f.type} data must be 8 bytes`);
      return encodeRawFrame(FrameType[f.type], f.data);
    case 'Health':
      return encodeRawFrame(FrameType.Health, Buffer.from(f.problem, 'utf8'));
    case 'Restarting':
      return encodeRawFrame(FrameType.Restarting, u32(f.reconnectInMs), u32(f.tryForMs));
    case 'Unknown':
      return encodeRawFrame(f.frameType, f.payload);
  }
}

/**
 * Decodes one frame's payload. Throws DerpFrameError(ERR_DERP_FRAME_MALFORMED)
 * when a known frame type is too short; unknown types come back as
 * `Unknown` (receivers skip them). The returned byte arrays are views into
 * `payload`.
 */
export function decodeFrame(frameType: number, payload: Uint8Array): Frame {
  const p = payload;
  switch (frameType) {
    case FrameType.ServerKey:
      need(p.length >= DERP_MAGIC.length + KEY_LEN, 'ServerKey frame too short');
      need(Buffer.from(p.subarray(0, 8)).equals(DERP_MAGIC), 'ServerKey frame lacks the DERP magic');
      return { type: 'ServerKey', key: p.subarray(8, 40), rest: p.subarray(40) };
    case FrameType.ClientInfo:
      need(p.length >= KEY_LEN + NONCE_LEN, 'ClientInfo frame too short');
      return { type: 'ClientInfo', key: p.subarray(0, 32), nonce: p.subarray(32, 56), box: p.subarray(56) };
    case FrameType.ServerInfo:
      need(p.length >= NONCE_LEN, 'ServerInfo frame too short');
      return { type: 'ServerInfo', nonce: p.subarray(0, 24), box: p.subarray(24) };
    case FrameType.SendPacket:
      need(p.length >= KEY_LEN, 'SendPacket frame too short');
      need(p.length - KEY_LEN <= MAX_PACKET_SIZE, 'SendPacket packet larger than 64 KiB');
      return { type: 'SendPacket', dst: p.subarray(0, 32), packet: p.subarray(32) };
    case FrameType.RecvPacket:
      need(p.length >= KEY_LEN, 'RecvPacket frame too short');
      return { type: 'RecvPacket', src: p.subarray(0, 32), packet: p.subarray(32) };
    case FrameType.KeepAlive:
      return { type: 'KeepAlive' };
    case FrameType.NotePreferred:
      need(p.length >= 1, 'NotePreferred frame too short');
      return { type: 'NotePreferred', preferred: p[0] !== 0 };
    case FrameType.PeerGone:
      need(p.length >= KEY_LEN, 'PeerGone frame too short');
      return p.length > KEY_LEN ? { type: 'PeerGone', key: p.subarray(0, 32), reason: p[32]! } : { type: 'PeerGone', key: p.subarray(0, 32) };
    case FrameType.PeerPresent: {
      need(p.length >= KEY_LEN, 'PeerPresent frame too short');
      const f: Frame = { type: 'PeerPresent', key: p.subarray(0, 32) };
      if (p.length >= KEY_LEN + 18) {
        f.endpoint = { ip: p.subarray(32, 48), port: (p[48]! << 8) | p[49]! };
        if (p.length >= KEY_LEN + 19) f.flags = p[50]!;
      }
      return f;
    }
    case FrameType.ForwardPacket:
      need(p.length >= 2 * KEY_LEN, 'ForwardPacket frame too short');
      return { type: 'ForwardPacket', src: p.subarray(0, 32), dst: p.subarray(32, 64), packet: p.subarray(64) };
    case FrameType.WatchConns:
      return { type: 'WatchConns' };
    case FrameType.ClosePeer:
      need(p.length >= KEY_LEN, 'ClosePeer frame too short');
      return { type: 'ClosePeer', key: p.subarray(0, 32) };
    case FrameType.Ping:
    case FrameType.Pong:
      need(p.length >= 8, 'Ping/Pong frame too short');
      return { type: frameType === FrameType.Ping ? 'Ping' : 'Pong', data: p.subarray(0, 8) };
    case FrameType.Health:
      return { type: 'Health', problem: Buffer.from(p).toString('utf8') };
    case FrameType.Restarting: {
      need(p.length >= 8, 'Restarting frame too short');
      const b = Buffer.from(p.buffer, p.byteOffset, p.length);
      return { type: 'Restarting', reconnectInMs: b.readUInt32BE(0), tryForMs: b.readUInt32BE(4) };
    }
    default:
      return { type: 'Unknown', frameType, payload: p };
  }
}

/**
 * Incremental frame splitter. `push` bytes as they arrive, then call `next`
 * until it returns null. A frame whose declared length exceeds the current
 * `maxFrameLen` throws DerpFrameError(ERR_DERP_FRAME_TOO_LARGE) as soon as its
 * header is seen, before any of its payload is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  maxFrameLen: number;

  constructor(maxFrameLen: number = MAX_FRAME_LEN) {
    this.maxFrameLen = maxFrameLen;
  }

  /** Bytes held but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.buffered += chunk.length;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) {
      const all = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [all];
    }
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }

  /** The next frame's type and declared length once its header is here (nothing is consumed). */
  header(): { frameType: number; len: number } | null {
    if (this.buffered < FRAME_HEADER_LEN) return null;
    const h = this.peek(FRAME_HEADER_LEN);
    return { frameType: h[0]!, len: h.readUInt32BE(1) };
  }

  /** Drops everything buffered (the connection is gone). */
  clear(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  next(): RawFrame | null {
    if (this.buffered < FRAME_HEADER_LEN) return null;
    const h = this.peek(FRAME_HEADER_LEN);
    const frameType = h[0]!;
    const len = h.readUInt32BE(1);
    if (len > this.maxFrameLen) {
      throw new DerpFrameError('ERR_DERP_FRAME_TOO_LARGE', `frame of type 0x${frameType.toString(16)} declares ${len} bytes (limit ${this.maxFrameLen})`);
    }
    if (this.buffered < FRAME_HEADER_LEN + len) return null;
    this.take(FRAME_HEADER_LEN);
    // Copy so the payload does not pin a large shared buffer.
    const payload = len === 0 ? Buffer.alloc(0) : Buffer.from(this.take(len));
    return { frameType, payload };
  }
}

/** Splits a complete byte string into frames (tests, fixtures). */
export function splitFrames(bytes: Uint8Array, maxFrameLen: number = MAX_FRAME_LEN): RawFrame[] {
  const r = new FrameReader(maxFrameLen);
  r.push(bytes);
  const out: RawFrame[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  if (r.bufferedBytes !== 0) throw new DerpFrameError('ERR_DERP_FRAME_MALFORMED', `${r.bufferedBytes} trailing bytes after the last frame`);
  return out;
}

/** ClientInfo JSON (docs/protocol/derp.md §3). */
export interface ClientInfo {
  version?: number;
  CanAckPings?: boolean;
  meshKey?: string;
  IsProber?: boolean;
  AppName?: string;
}

/** ServerInfo JSON. */
export interface ServerInfo {
  version: number;
  TokenBucketBytesPerSecond?: number;
  TokenBucketBytesBurst?: number;
}
