// Deterministic test content: block i is the AES-128-CTR keystream under a key derived from i, so both ends
// of a transfer can produce or check any amount of data without storing it.
import { createCipheriv, createHash } from 'node:crypto';

export const BLOCK = 65536;
const ZERO = Buffer.alloc(BLOCK);

export function blockOf(i: number): Buffer {
  const key = createHash('sha256').update(`tsnet test block ${i}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(ZERO);
}

/** sha256 of the first `mib` MiB of the stream (16 blocks per MiB). */
export function blobSha256(mib: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < mib * 16; i++) h.update(blockOf(i));
  return h.digest('hex');
}
