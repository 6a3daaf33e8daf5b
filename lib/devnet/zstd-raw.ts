/**
 * Zstandard frames made of raw (stored, uncompressed) blocks, RFC 8878
 * §3.1.1. Real Tailscale clients ask for `"Compress":"zstd"` map responses;
 * a frame whose blocks are all Raw_Block is a valid zstd frame that any
 * decoder accepts, so no compressor is needed.
 *
 * Layout written by `encodeZstdRawFrame`:
 *   Magic_Number            4 bytes LE 0xFD2FB528
 *   Frame_Header_Descriptor 1 byte: FCS_Flag (bits 7-6), Single_Segment_Flag
 *                           (bit 5) = 1, Unused (4), Reserved (3) = 0,
 *                           Content_Checksum_Flag (2) = 0, Dictionary_ID_Flag (1-0) = 0
 *   (no Window_Descriptor, since Single_Segment_Flag = 1; no Dictionary_ID)
 *   Frame_Content_Size      1, 2, 4 or 8 bytes LE (the 2-byte form stores size - 256)
 *   Blocks                  3-byte LE header: Last_Block (bit 0), Block_Type (bits 1-2,
 *                           0 = Raw_Block), Block_Size (bits 3-23); then Block_Size bytes
 *
 * With Single_Segment_Flag the window size equals the content size, and a
 * block may hold at most min(window, 128 KiB) bytes.
 *
 * `decodeZstdSimpleFrame` is the matching reader for raw and RLE blocks only
 * (for tests and for our own client); it refuses compressed blocks.
 */

export const ZSTD_MAGIC = 0xfd2fb528;
/** Block_Maximum_Size: 128 KiB. */
export const ZSTD_MAX_BLOCK = 128 * 1024;

export const ZSTD_BLOCK_RAW = 0;
export const ZSTD_BLOCK_RLE = 1;
export const ZSTD_BLOCK_COMPRESSED = 2;

function fcsFieldFor(size: number): { flag: number; len: number } {
  if (size <= 0xff) return { flag: 0, len: 1 }; // needs Single_Segment_Flag
  if (size <= 0xffff + 256) return { flag: 1, len: 2 };
  if (size <= 0xffff_ffff) return { flag: 2, len: 4 };
  return { flag: 3, len: 8 };
}

/** Wraps `content` in one zstd frame of raw blocks (≤ 128 KiB each). */
export function encodeZstdRawFrame(content: Uint8Array, maxBlock = ZSTD_MAX_BLOCK): Buffer {
  if (!Number.isInteger(maxBlock) || maxBlock < 1 || maxBlock > ZSTD_MAX_BLOCK) {
    throw new RangeError(`zstd block size must be 1..${ZSTD_MAX_BLOCK}`);
  }
  const size = content.length;
  const fcs = fcsFieldFor(size);
  const nBlocks = Math.max(1, Math.ceil(size / maxBlock));
  const out = Buffer.allocUnsafe(4 + 1 + fcs.len + nBlocks * 3 + size);
  let off = out.writeUInt32LE(ZSTD_MAGIC, 0);
  out[off++] = (fcs.flag << 6) | (1 << 5);
  switch (fcs.len) {
    case 1:
      out[off++] = size;
      break;
    case 2:
      off = out.writeUInt16LE(size - 256, off);
      break;
    case 4:
      off = out.writeUInt32LE(size, off);
      break;
    default:
      off = out.writeBigUInt64LE(BigInt(size), off);
  }
  let pos = 0;
  for (let i = 0; i < nBlocks; i++) {
    const n = Math.min(maxBlock, size - pos);
    const last = i === nBlocks - 1 ? 1 : 0;
    const header = last | (ZSTD_BLOCK_RAW << 1) | (n << 3);
    out[off++] = header & 0xff;
    out[off++] = (header >>> 8) & 0xff;
    out[off++] = (header >>> 16) & 0xff;
    out.set(content.subarray(pos, pos + n), off);
    off += n;
    pos += n;
  }
  return out;
}

export class ZstdFormatError extends Error {
  override name = 'ZstdFormatError';
}

export interface ZstdFrameInfo {
  singleSegment: boolean;
  contentSize: number | null;
  windowSize: number;
  checksum: boolean;
  blocks: Array<{ type: number; size: number; last: boolean }>;
}

/**
 * Decodes one zstd frame consisting of raw and RLE blocks (no compressed
 * blocks, no dictionary). The content checksum, if present, is skipped
 * (not verified). Refuses output beyond `maxOutput`.
 */
export function decodeZstdSimpleFrame(frame: Uint8Array, maxOutput = 64 * 1024 * 1024): { content: Buffer; info: ZstdFrameInfo } {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  const need = (n: number, at: number, what: string): void => {
    if (at + n > b.length) throw new ZstdFormatError(`zstd: truncated ${what}`);
  };
  need(5, 0, 'frame header');
  if (b.readUInt32LE(0) !== ZSTD_MAGIC) throw new ZstdFormatError('zstd: bad magic number');
  const fhd = b[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = ((fhd >> 5) & 1) === 1;
  if ((fhd >> 3) & 1) throw new ZstdFormatError('zstd: reserved bit set');
  const checksum = ((fhd >> 2) & 1) === 1;
  const dictFlag = fhd & 3;
  let off = 5;
  let windowSize = 0;
  if (!singleSegment) {
    need(1, off, 'window descriptor');
    const wd = b[off++]!;
    const exp = wd >> 3;
    const mant = wd & 7;
    const base = 2 ** (10 + exp);
    windowSize = base + (base / 8) * mant;
  }
  const dictLen = [0, 1, 2, 4][dictFlag]!;
  need(dictLen, off, 'dictionary id');
  if (dictLen) {
    let id = 0;
    for (let i = dictLen - 1; i >= 0; i--) id = id * 256 + b[off + i]!;
    if (id !== 0) throw new ZstdFormatError('zstd: dictionaries are not supported');
  }
  off += dictLen;
  const fcsLen = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  need(fcsLen, off, 'frame content size');
  let contentSize: number | null = null;
  if (fcsLen === 1) contentSize = b[off]!;
  else if (fcsLen === 2) contentSize = b.readUInt16LE(off) + 256;
  else if (fcsLen === 4) contentSize = b.readUInt32LE(off);
  else if (fcsLen === 8) {
    const v = b.readBigUInt64LE(off);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZstdFormatError('zstd: content size too large');
    contentSize = Number(v);
  }
  off += fcsLen;
  if (singleSegment) windowSize = contentSize ?? 0;
  if (contentSize !== null && contentSize > maxOutput) throw new ZstdFormatError(`zstd: content of ${contentSize} bytes exceeds ${maxOutput}`);
  const blockMax = Math.min(Math.max(windowSize, singleSegment ? 0 : 1024), ZSTD_MAX_BLOCK);
  const parts: Buffer[] = [];
  const blocks: ZstdFrameInfo['blocks'] = [];
  let total = 0;
  for (;;) {
    need(3, off, 'block header');
    const h = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16);
    off += 3;
    const last = (h & 1) === 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    blocks.push({ type, size, last });
    if (size > blockMax) throw new ZstdFormatError(`zstd: block of ${size} bytes exceeds the maximum of ${blockMax}`);
    if (type === ZSTD_BLOCK_RAW) {
      need(size, off, 'raw block');
      parts.push(b.subarray(off, off + size));
      off += size;
    } else if (type === ZSTD_BLOCK_RLE) {
      need(1, off, 'RLE block');
      parts.push(Buffer.alloc(size, b[off]!));
      off += 1;
    } else if (type === ZSTD_BLOCK_COMPRESSED) {
      throw new ZstdFormatError('zstd: compressed blocks are not supported by this decoder');
    } else {
      throw new ZstdFormatError('zstd: reserved block type');
    }
    total += size;
    if (total > maxOutput) throw new ZstdFormatError(`zstd: content exceeds ${maxOutput} bytes`);
    if (last) break;
  }
  if (checksum) {
    need(4, off, 'content checksum');
    off += 4;
  }
  if (off !== b.length) throw new ZstdFormatError(`zstd: ${b.length - off} trailing bytes after the frame`);
  if (contentSize !== null && contentSize !== total) {
    throw new ZstdFormatError(`zstd: frame content size ${contentSize} does not match the ${total} bytes decoded`);
  }
  return { content: Buffer.concat(parts, total), info: { singleSegment, contentSize, windowSize, checksum, blocks } };
}
