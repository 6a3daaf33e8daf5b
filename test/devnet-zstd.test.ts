import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { encodeZstdRawFrame, decodeZstdSimpleFrame, ZSTD_MAGIC, ZSTD_MAX_BLOCK, ZstdFormatError } from '../lib/devnet/zstd-raw.js';

function blockHeader(b: Buffer, off: number): { last: boolean; type: number; size: number } {
  const h = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16);
  return { last: (h & 1) === 1, type: (h >> 1) & 3, size: h >>> 3 };
}

test('zstd: small frame, byte by byte (RFC 8878 §3.1.1)', () => {
  const content = Buffer.from('{"KeepAlive":true}');
  const f = encodeZstdRawFrame(content);
  // Magic_Number, little-endian.
  assert.deepEqual([...f.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  assert.equal(f.readUInt32LE(0), ZSTD_MAGIC);
  // Frame_Header_Descriptor: FCS_Flag 0, Single_Segment 1, Unused 0, Reserved 0, Checksum 0, Dict_ID_Flag 0.
  const fhd = f[4]!;
  assert.equal(fhd >> 6, 0, 'FCS_Flag');
  assert.equal((fhd >> 5) & 1, 1, 'Single_Segment_Flag');
  assert.equal((fhd >> 4) & 1, 0, 'Unused');
  assert.equal((fhd >> 3) & 1, 0, 'Reserved');
  assert.equal((fhd >> 2) & 1, 0, 'Content_Checksum_Flag');
  assert.equal(fhd & 3, 0, 'Dictionary_ID_Flag');
  // No Window_Descriptor (single segment); Frame_Content_Size is 1 byte.
  assert.equal(f[5], content.length);
  // One block: Last_Block 1, Raw_Block, size = content length.
  assert.deepEqual(blockHeader(f, 6), { last: true, type: 0, size: content.length });
  assert.deepEqual(f.subarray(9), content);
  assert.equal(f.length, 4 + 1 + 1 + 3 + content.length);
});

test('zstd: content size field widths (1, 2 with -256 offset, 4 bytes)', () => {
  const f300 = encodeZstdRawFrame(Buffer.alloc(300, 7));
  assert.equal(f300[4]! >> 6, 1);
  assert.equal(f300.readUInt16LE(5), 300 - 256);
  assert.deepEqual(blockHeader(f300, 7), { last: true, type: 0, size: 300 });

  const f255 = encodeZstdRawFrame(Buffer.alloc(255));
  assert.equal(f255[4]! >> 6, 0);
  assert.equal(f255[5], 255);

  const f65791 = encodeZstdRawFrame(Buffer.alloc(65791));
  assert.equal(f65791[4]! >> 6, 1);
  assert.equal(f65791.readUInt16LE(5), 0xffff);

  const f65792 = encodeZstdRawFrame(Buffer.alloc(65792));
  assert.equal(f65792[4]! >> 6, 2);
  assert.equal(f65792.readUInt32LE(5), 65792);
});

test('zstd: large content is split into 128 KiB raw blocks, only the last marked', () => {
  const content = Buffer.alloc(ZSTD_MAX_BLOCK * 2 + 1000);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
  const f = encodeZstdRawFrame(content);
  assert.equal(f[4]! >> 6, 2);
  assert.equal(f.readUInt32LE(5), content.length);
  let off = 9;
  const sizes: number[] = [];
  for (;;) {
    const h = blockHeader(f, off);
    assert.equal(h.type, 0);
    sizes.push(h.size);
    off += 3 + h.size;
    if (h.last) break;
  }
  assert.deepEqual(sizes, [ZSTD_MAX_BLOCK, ZSTD_MAX_BLOCK, 1000]);
  assert.equal(off, f.length);
  assert.deepEqual(decodeZstdSimpleFrame(f).content, content);
});

test('zstd: empty content is one empty last raw block', () => {
  const f = encodeZstdRawFrame(Buffer.alloc(0));
  assert.deepEqual([...f], [0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00]);
  assert.equal(decodeZstdSimpleFrame(f).content.length, 0);
});

test('zstd: the reference zstd tool decodes our frames', (t) => {
  let hasZstd = true;
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
  } catch {
    hasZstd = false;
  }
  if (!hasZstd) return t.skip('zstd CLI not installed');
  for (const n of [0, 1, 255, 256, 300, 70000, ZSTD_MAX_BLOCK * 3 + 5]) {
    const content = Buffer.alloc(n);
    for (let i = 0; i < n; i++) content[i] = (i * 7 + 3) & 0xff;
    const out = execFileSync('zstd', ['-d', '-c', '-q'], { input: encodeZstdRawFrame(content) });
    assert.deepEqual(out, content, `size ${n}`);
  }
});

test('zstd: the decoder reads frames from the real zstd tool when they hold raw/RLE blocks, and refuses garbage', () => {
  assert.throws(() => decodeZstdSimpleFrame(Buffer.from([1, 2, 3, 4, 5])), ZstdFormatError);
  const good = encodeZstdRawFrame(Buffer.from('hello'));
  assert.throws(() => decodeZstdSimpleFrame(good.subarray(0, good.length - 1)), /truncated/);
  assert.throws(() => decodeZstdSimpleFrame(Buffer.concat([good, Buffer.from([0])])), /trailing/);
  const lying = Buffer.from(good);
  lying[5] = 4; // content size says 4, block holds 5
  assert.throws(() => decodeZstdSimpleFrame(lying), /exceeds|does not match/);
  const compressed = Buffer.from(good);
  compressed[6] = compressed[6]! | (2 << 1);
  assert.throws(() => decodeZstdSimpleFrame(compressed), /compressed blocks/);
  assert.throws(() => decodeZstdSimpleFrame(encodeZstdRawFrame(Buffer.alloc(1000)), 999), /exceeds/);
  // An RLE block (hand-built): window descriptor form, no content size.
  const rle = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, (1 | (1 << 1) | (5 << 3)) & 0xff, 0, 0, 0x41]);
  assert.equal(decodeZstdSimpleFrame(rle).content.toString(), 'AAAAA');
});
