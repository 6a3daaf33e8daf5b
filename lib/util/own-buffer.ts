// Long-lived small buffers (keys, hashes) in ArrayBuffers of their own. Buffer.from, Buffer.alloc­Unsafe and
// their kin carve buffers under 4 KiB out of Node's shared 8 KiB pool, and one retained slice keeps its whole
// pool chunk alive: a node's keys, kept for its lifetime, each pinned a chunk (docs/performance.md, "An idle
// node under 1 MiB").

/** A copy of `b` in an ArrayBuffer of its own. */
export function ownCopy(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  out.set(b);
  return out;
}

/** Hex text decoded into an ArrayBuffer of its own; `hex` must be valid hex of even length. */
export function ownFromHex(hex: string): Buffer {
  const out = Buffer.allocUnsafeSlow(hex.length >>> 1);
  out.write(hex, 'hex');
  return out;
}
