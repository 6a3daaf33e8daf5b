// A minimal ASN.1 DER writer and reader: enough for PKCS#10 requests and X.509 certificates (node:crypto
// parses certificates but cannot build either; docs/certificates.md says why there is no dependency).

export class DerError extends Error {
  readonly code = 'ERR_TSNET_DER';
}

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV. */
export function tlv(tag: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

export const seq = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export const octets = (b: Uint8Array): Buffer => tlv(0x04, b);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
/** BIT STRING with no unused bits. */
export const bits = (b: Uint8Array): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
/** [n] EXPLICIT (constructed context tag). */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);

/** INTEGER from unsigned big-endian bytes (minimal, positive). */
export function uint(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = Buffer.from(b.subarray(i));
  if (v.length === 0) v = Buffer.from([0]);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

export function int(n: number): Buffer {
  const hex = n.toString(16);
  return uint(Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex'));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack: number[] = [p & 0x7f];
    for (let v = p >>> 7; v > 0; v >>>= 7) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime before 2050, GeneralizedTime after (RFC 5280 §4.1.2.5). */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z'); // YYYYMMDDhhmmssZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

/** A parsed TLV: its tag, its body, and the whole encoding (for signatures over it). */
export interface Node {
  tag: number;
  body: Buffer;
  raw: Buffer;
}

/** Reads one TLV at `off`; throws DerError on anything malformed or truncated. */
export function read(buf: Buffer, off = 0): Node & { end: number } {
  if (off + 2 > buf.length) throw new DerError('DER: truncated');
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('DER: multi-byte tags are not supported');
  let l = buf[off + 1]!;
  let p = off + 2;
  if (l & 0x80) {
    const n = l & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new DerError('DER: bad length');
    l = 0;
    for (let i = 0; i < n; i++) l = l * 256 + buf[p + i]!;
    p += n;
  }
  if (p + l > buf.length) throw new DerError('DER: truncated');
  return { tag, body: buf.subarray(p, p + l), raw: buf.subarray(off, p + l), end: p + l };
}

/** The elements of a constructed value. */
export function children(n: Node): Node[] {
  const out: Node[] = [];
  for (let off = 0; off < n.body.length; ) {
    const c = read(n.body, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

export function expectTag(n: Node | undefined, tag: number, what: string): Node {
  if (!n || n.tag !== tag) throw new DerError(`DER: ${what}: expected tag 0x${tag.toString(16)}`);
  return n;
}

export function oidText(n: Node): string {
  const b = expectTag(n, 0x06, 'OBJECT IDENTIFIER').body;
  if (b.length === 0) throw new DerError('DER: empty OID');
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (const x of b.subarray(1)) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
} as const;

/** A Name with one CN (and optionally O). */
export function name(cn: string, org?: string): Buffer {
  const rdns = [set(seq(oid(OID.commonName), utf8(cn)))];
  if (org) rdns.unshift(set(seq(oid(OID.organization), utf8(org))));
  return seq(...rdns);
}

/** subjectAltName extension value with dNSName entries and iPAddress entries (4 or 16 bytes). */
export function sanValue(dns: readonly string[], ips: readonly Uint8Array[] = []): Buffer {
  return seq(...dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))), ...ips.map((ip) => tlv(0x87, ip)));
}

export function pem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${type}-----\n${b64}-----END ${type}-----\n`;
}

/** Every block of `type` in a PEM text, decoded. */
export function pemBlocks(text: string, type: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${type}-----([\\s\\S]*?)-----END ${type}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
