// Credential checks shared by the SOCKS5 proxy and the LocalAPI.
import * as crypto from 'node:crypto';

/** Equal strings, in time that depends only on the lengths (the credentials' length is no secret). */
export function safeEqual(a: Buffer | string, b: string): boolean {
  const x = Buffer.isBuffer(a) ? a : Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    crypto.timingSafeEqual(y, y);
    return false;
  }
  return crypto.timingSafeEqual(x, y);
}
