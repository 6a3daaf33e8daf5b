/**
 * STUN binding (RFC 5389) as Tailscale's netcheck uses it (docs/protocol/magicsock.md §4),
 * sans I/O: parse a binding request, build the success response carrying
 * XOR-MAPPED-ADDRESS.
 *
 * Tailscale's request: 20-byte header (type 0x0001, magic cookie 2112A442,
 * 12-byte transaction ID), SOFTWARE "tailnode", FINGERPRINT last. Tailscale's
 * own servers answer only requests carrying that SOFTWARE value and a valid
 * trailing FINGERPRINT; this development responder is lenient (any
 * well-formed binding request; a FINGERPRINT, if present, must be right) so
 * generic STUN tools work against it too. The response is the header plus
 * one XOR-MAPPED-ADDRESS attribute, as Tailscale's servers send.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const STUN_HEADER_LEN = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_BINDING_SUCCESS = 0x0101;
export const STUN_ATTR_MAPPED_ADDRESS = 0x0001;
export const STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020;
export const STUN_ATTR_XOR_MAPPED_ADDRESS_ALT = 0x8020;
export const STUN_ATTR_SOFTWARE = 0x8022;
export const STUN_ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;

export interface StunBindingRequest {
  txId: Buffer;
  software?: string;
  hasFingerprint: boolean;
}

export type StunParseResult = { ok: true; request: StunBindingRequest } | { ok: false; reason: string };

let crcTable: Uint32Array | null = null;
/** CRC-32 (IEEE 802.3, as zlib). */
export function crc32(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Is this datagram a STUN message (first two bits 0, magic cookie)? */
export function isStun(b: Uint8Array): boolean {
  return b.length >= STUN_HEADER_LEN && (b[0]! & 0xc0) === 0 && Buffer.from(b.buffer, b.byteOffset, b.length).readUInt32BE(4) === STUN_MAGIC_COOKIE;
}

export function parseBindingRequest(datagram: Uint8Array): StunParseResult {
  const b = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length);
  if (!isStun(b)) return { ok: false, reason: 'not STUN' };
  if (b.readUInt16BE(0) !== STUN_BINDING_REQUEST) return { ok: false, reason: 'not a binding request' };
  const len = b.readUInt16BE(2);
  if (len % 4 !== 0 || STUN_HEADER_LEN + len > b.length) return { ok: false, reason: 'bad message length' };
  const req: StunBindingRequest = { txId: Buffer.from(b.subarray(8, 20)), hasFingerprint: false };
  let off = STUN_HEADER_LEN;
  const end = STUN_HEADER_LEN + len;
  while (off < end) {
    if (off + 4 > end) return { ok: false, reason: 'truncated attribute header' };
    const type = b.readUInt16BE(off);
    const alen = b.readUInt16BE(off + 2);
    const padded = (alen + 3) & ~3;
    if (off + 4 + padded > end) return { ok: false, reason: 'truncated attribute' };
    const val = b.subarray(off + 4, off + 4 + alen);
    if (type === STUN_ATTR_SOFTWARE) req.software = val.toString('utf8');
    if (type === STUN_ATTR_FINGERPRINT) {
      if (alen !== 4 || off + 8 !== end) return { ok: false, reason: 'FINGERPRINT must be the last attribute' };
      // CRC over the message up to the attribute, with the header length covering it.
      const want = (crc32(b.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0;
      if (val.readUInt32BE(0) !== want) return { ok: false, reason: 'bad FINGERPRINT' };
      req.hasFingerprint = true;
    }
    off += 4 + padded;
  }
  return { ok: true, request: req };
}

/** Tailscale-style binding request (tests, tools): SOFTWARE "tailnode" + FINGERPRINT. */
export function buildBindingRequest(txId: Uint8Array): Buffer {
  if (txId.length !== 12) throw new RangeError('STUN transaction ID must be 12 bytes');
  const software = Buffer.from('tailnode');
  const b = Buffer.alloc(STUN_HEADER_LEN + 4 + software.length + 8);
  b.writeUInt16BE(STUN_BINDING_REQUEST, 0);
  b.writeUInt16BE(b.length - STUN_HEADER_LEN, 2);
  b.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  b.set(txId, 8);
  b.writeUInt16BE(STUN_ATTR_SOFTWARE, 20);
  b.writeUInt16BE(software.length, 22);
  software.copy(b, 24);
  const fpAt = 24 + software.length;
  b.writeUInt16BE(STUN_ATTR_FINGERPRINT, fpAt);
  b.writeUInt16BE(4, fpAt + 2);
  b.writeUInt32BE((crc32(b.subarray(0, fpAt)) ^ FINGERPRINT_XOR) >>> 0, fpAt + 4);
  return b;
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new TypeError(`not an IP address: ${ip}`);
  // Expand "::" and an embedded IPv4 tail.
  let s = ip.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}

/**
 * Success response: header + XOR-MAPPED-ADDRESS of `ip:port`. An IPv4-mapped
 * IPv6 source (::ffff:a.b.c.d, as dual-stack sockets report) is answered as
 * IPv4.
 */
export function buildBindingResponse(txId: Uint8Array, ip: string, port: number): Buffer {
  if (txId.length !== 12) throw new RangeError('STUN transaction ID must be 12 bytes');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = ipBytes(mapped ? mapped[1]! : ip);
  const family = addr.length === 4 ? 0x01 : 0x02;
  const attrLen = 4 + addr.length;
  const b = Buffer.alloc(STUN_HEADER_LEN + 4 + attrLen);
  b.writeUInt16BE(STUN_BINDING_SUCCESS, 0);
  b.writeUInt16BE(4 + attrLen, 2);
  b.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  b.set(txId, 8);
  b.writeUInt16BE(STUN_ATTR_XOR_MAPPED_ADDRESS, 20);
  b.writeUInt16BE(attrLen, 22);
  b[24] = 0;
  b[25] = family;
  b.writeUInt16BE((port ^ (STUN_MAGIC_COOKIE >>> 16)) & 0xffff, 26);
  const xorKey = b.subarray(4, 20); // cookie ‖ transaction ID
  for (let i = 0; i < addr.length; i++) b[28 + i] = addr[i]! ^ xorKey[i]!;
  return b;
}

/** Parses a binding success response's (XOR-)MAPPED-ADDRESS (tests, tools). */
export function parseBindingResponse(datagram: Uint8Array): { txId: Buffer; ip: string; port: number } | null {
  const b = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length);
  if (!isStun(b) || b.readUInt16BE(0) !== STUN_BINDING_SUCCESS) return null;
  const end = Math.min(b.length, STUN_HEADER_LEN + b.readUInt16BE(2));
  let off = STUN_HEADER_LEN;
  let fallback: { txId: Buffer; ip: string; port: number } | null = null;
  while (off + 4 <= end) {
    const type = b.readUInt16BE(off);
    const alen = b.readUInt16BE(off + 2);
    const v = b.subarray(off + 4, off + 4 + alen);
    const xor = type === STUN_ATTR_XOR_MAPPED_ADDRESS || type === STUN_ATTR_XOR_MAPPED_ADDRESS_ALT;
    if ((xor || type === STUN_ATTR_MAPPED_ADDRESS) && v.length >= 8) {
      const n = v[1] === 1 ? 4 : 16;
      if (v.length >= 4 + n) {
        const key = b.subarray(4, 20);
        const port = xor ? v.readUInt16BE(2) ^ 0x2112 : v.readUInt16BE(2);
        const a = Buffer.alloc(n);
        for (let i = 0; i < n; i++) a[i] = xor ? v[4 + i]! ^ key[i]! : v[4 + i]!;
        const ip = n === 4 ? [...a].join('.') : (a.toString('hex').match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, '')).join(':');
        const r = { txId: Buffer.from(b.subarray(8, 20)), ip, port };
        if (xor) return r;
        fallback = r;
      }
    }
    off += 4 + ((alen + 3) & ~3);
  }
  return fallback;
}
