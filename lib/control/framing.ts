/**
 * Map-response stream framing (docs/protocol/control.md §10): each message is a u32
 * little-endian length followed by that many payload bytes (raw JSON when the
 * client asked for no compression).
 *
 * Sans-I/O: feed bytes with `push`, get whole payloads back.
 */
import { ControlError } from '../wire/errors.js';
import type { MapResponse } from '../wire/tailcfg.js';

export const FRAME_HEADER_LEN = 4;
/** Default cap on one map message; larger frames are refused without being buffered. */
export const DEFAULT_MAX_MAP_FRAME = 32 * 1024 * 1024;

/** Length-prefixes a payload. */
export function encodeMapFrame(payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > 0xffff_ffff) throw new ControlError('ERR_FRAME_TOO_LARGE', 'map frame exceeds 4 GiB');
  const out = Buffer.alloc(FRAME_HEADER_LEN + body.length);
  out.writeUInt32LE(body.length, 0);
  out.set(body, FRAME_HEADER_LEN);
  return out;
}

/** Encodes a message as one frame of JSON. */
export function encodeMapMessage(msg: object): Buffer {
  return encodeMapFrame(JSON.stringify(msg));
}

/**
 * Incremental frame reader. Memory held is at most one frame (≤ maxFrame) plus
 * the 4-byte header; a header announcing more than `maxFrame` throws
 * ERR_FRAME_TOO_LARGE before any body byte is stored.
 */
export class MapFrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // body length of the frame being read, -1 while reading the header
  readonly maxFrame: number;

  constructor(maxFrame = DEFAULT_MAX_MAP_FRAME) {
    this.maxFrame = maxFrame;
  }

  /** Bytes held that do not yet form a whole frame. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < FRAME_HEADER_LEN) break;
        const len = this.take(FRAME_HEADER_LEN).readUInt32LE(0);
        if (len > this.maxFrame) {
          this.chunks = [];
          this.buffered = 0;
          throw new ControlError('ERR_FRAME_TOO_LARGE', `map frame of ${len} bytes exceeds the limit of ${this.maxFrame}`);
        }
        this.need = len;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** Call at end of stream; throws ERR_FRAME_TRUNCATED if a frame was cut off. */
  end(): void {
    if (this.need >= 0 || this.buffered > 0) {
      const have = this.buffered;
      const want = this.need >= 0 ? `${this.need}-byte frame` : 'frame header';
      this.chunks = [];
      this.buffered = 0;
      this.need = -1;
      throw new ControlError('ERR_FRAME_TRUNCATED', `map stream ended inside a ${want} (${have} bytes buffered)`);
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      // Copy so the caller owns the bytes (the input chunk may be reused).
      out = Buffer.from(first.subarray(0, n));
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

/** Parses one frame as a JSON object; ERR_BAD_JSON / ERR_BAD_MESSAGE on failure. */
export function parseJSONObject(payload: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  } catch (cause) {
    throw new ControlError('ERR_BAD_JSON', `${what}: invalid JSON (${(cause as Error).message})`, { cause });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ControlError('ERR_BAD_MESSAGE', `${what}: expected a JSON object`);
  }
  return v as Record<string, unknown>;
}

/**
 * Parses a MapResponse frame. Validates the top-level shape of the fields the
 * netmap code walks (arrays are arrays, objects are objects), so a hostile or
 * broken server yields ERR_BAD_MESSAGE rather than a TypeError later.
 */
export function parseMapResponse(payload: Uint8Array): MapResponse {
  const o = parseJSONObject(payload, 'MapResponse');
  const arrays = ['Peers', 'PeersChanged', 'PeersRemoved', 'PeersChangedPatch', 'PacketFilter', 'UserProfiles', 'Health'];
  const objects = ['Node', 'DERPMap', 'PeerSeenChange', 'OnlineChange', 'DNSConfig', 'PacketFilters', 'PingRequest', 'DisplayMessages'];
  for (const k of arrays) {
    const v = o[k];
    if (v !== undefined && v !== null && !Array.isArray(v)) throw new ControlError('ERR_BAD_MESSAGE', `MapResponse.${k} must be an array`);
  }
  for (const k of objects) {
    const v = o[k];
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) {
      throw new ControlError('ERR_BAD_MESSAGE', `MapResponse.${k} must be an object`);
    }
  }
  for (const k of ['Peers', 'PeersChanged'] as const) {
    const list = o[k] as unknown[] | undefined | null;
    if (!list) continue;
    for (const n of list) checkNode(n, `MapResponse.${k}[]`);
  }
  if (o['Node'] != null) checkNode(o['Node'], 'MapResponse.Node');
  const patch = o['PeersChangedPatch'] as unknown[] | undefined | null;
  if (patch) {
    for (const p of patch) {
      if (p === null || typeof p !== 'object' || typeof (p as { NodeID?: unknown }).NodeID !== 'number') {
        throw new ControlError('ERR_BAD_MESSAGE', 'MapResponse.PeersChangedPatch[] needs a numeric NodeID');
      }
    }
  }
  const removed = o['PeersRemoved'] as unknown[] | undefined | null;
  if (removed && removed.some((id) => typeof id !== 'number')) {
    throw new ControlError('ERR_BAD_MESSAGE', 'MapResponse.PeersRemoved must hold node IDs');
  }
  return o as MapResponse;
}

function checkNode(n: unknown, where: string): void {
  if (n === null || typeof n !== 'object' || Array.isArray(n)) {
    throw new ControlError('ERR_BAD_MESSAGE', `${where} must be an object`);
  }
  const node = n as { ID?: unknown; Key?: unknown; Addresses?: unknown; AllowedIPs?: unknown; Endpoints?: unknown };
  if (typeof node.ID !== 'number') throw new ControlError('ERR_BAD_MESSAGE', `${where}.ID must be a number`);
  for (const k of ['Addresses', 'AllowedIPs', 'Endpoints'] as const) {
    const v = node[k];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
      throw new ControlError('ERR_BAD_MESSAGE', `${where}.${k} must be a list of strings`);
    }
  }
}
