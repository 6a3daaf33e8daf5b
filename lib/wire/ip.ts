/**
 * The one IP module of lib/ (control client, data plane, devnet): addresses as bytes (4 or 16), one prefix
 * type, prefix containment, ranges, and the one "host:port" parser.
 */
import { isIP } from './ip-literal.js';

export interface IPPrefix {
  readonly family: 4 | 6;
  /** Network address bytes (4 or 16), host bits zero. */
  readonly addr: Uint8Array;
  readonly bits: number;
  /** Canonical "ip/bits" text. */
  readonly text: string;
}

/** Parses an IPv4 or IPv6 literal to bytes; null if invalid or if it has a zone ("fe80::1%eth0"). */
export function parseIP(s: string): Uint8Array | null {
  const fam = isIP(s);
  if (fam === 4) return Uint8Array.from(s.split('.').map(Number));
  if (fam !== 6 || s.includes('%')) return null;
  let str = s;
  let tail: number[] = [];
  const lastColon = str.lastIndexOf(':');
  const maybeV4 = str.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    tail = maybeV4.split('.').map(Number);
    str = str.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = str.includes('::') ? (str.split('::') as [string, string]) : [str, undefined];
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** Canonical text (RFC 5952 for IPv6: the first longest run of two or more zero groups becomes "::"). */
export function ipToString(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // Longest run of zero groups (length ≥ 2) becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

function maskBytes(addr: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

export function makePrefix(addr: Uint8Array, bits: number): IPPrefix {
  const family = addr.length === 4 ? 4 : 6;
  const a = maskBytes(addr, bits);
  return { family, addr: a, bits, text: `${ipToString(a)}/${bits}` };
}

/**
 * Parses "ip/bits". Host bits are cleared, or with `strict` must already be zero. Returns null if invalid.
 */
export function parsePrefix(s: string, strict = false): IPPrefix | null {
  const i = s.indexOf('/');
  if (i < 0) return null;
  const addr = parseIP(s.slice(0, i));
  const bitsText = s.slice(i + 1);
  if (!addr || !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  if (bits > addr.length * 8) return null;
  const p = makePrefix(addr, bits);
  if (strict && !bytesEqual(p.addr, addr)) return null;
  return p;
}

/** An IP literal as a full-length prefix, or a prefix; null if neither. */
export function parseIPOrPrefix(s: string): IPPrefix | null {
  if (s.includes('/')) return parsePrefix(s);
  const a = parseIP(s);
  return a ? makePrefix(a, a.length * 8) : null;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function prefixContains(p: IPPrefix, ip: Uint8Array): boolean {
  if (ip.length !== p.addr.length) return false;
  return bytesEqual(maskBytes(ip, p.bits), p.addr);
}

/** Orders addresses: IPv4 before IPv6, then by value. */
export function compareIP(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** The address as an unsigned integer (32 or 128 bits), for arithmetic on ranges. */
export function ipToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** The address of an unsigned integer, `len` bytes long (4 or 16). */
export function ipFromBigInt(v: bigint, len: 4 | 16): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** True if text is an IP, a prefix without host bits, or a range "a-b" of one family (low to high). */
export function isIPSpec(text: string): boolean {
  if (parseIP(text) || parsePrefix(text, true)) return true;
  const dash = text.indexOf('-');
  if (dash <= 0) return false;
  const a = parseIP(text.slice(0, dash));
  const b = parseIP(text.slice(dash + 1));
  return !!a && !!b && a.length === b.length && compareIP(a, b) <= 0;
}

/** The minimal list of prefixes covering [from, to] (same family, from ≤ to); null if invalid. */
export function rangeToPrefixes(from: Uint8Array, to: Uint8Array): IPPrefix[] | null {
  if (from.length !== to.length) return null;
  const width = BigInt(from.length * 8);
  let lo = ipToBigInt(from);
  const hi = ipToBigInt(to);
  if (lo > hi) return null;
  const out: IPPrefix[] = [];
  while (lo <= hi) {
    // Largest block aligned at lo that fits in [lo, hi].
    let size = 0n;
    while (size < width) {
      const next = size + 1n;
      const block = 1n << next;
      if ((lo & (block - 1n)) !== 0n || lo + block - 1n > hi) break;
      size = next;
    }
    out.push(makePrefix(ipFromBigInt(lo, from.length as 4 | 16), Number(width - size)));
    lo += 1n << size;
  }
  return out;
}

/** A "host:port" split in two texts, neither checked beyond the syntax. */
export interface HostPortText {
  /** '' for ":port". */
  host: string;
  port: string;
}

/**
 * The one "host:port" parser (Go's net.SplitHostPort): "host:port", "[v6]:port" or ":port". IPv6 hosts need
 * brackets. Throws a TypeError that names what is malformed.
 */
export function splitHostPort(address: string): HostPortText {
  if (typeof address !== 'string') throw new TypeError(`address must be a string like "100.64.0.1:80", got ${typeof address}`);
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    if (end < 0 || address[end + 1] !== ':') throw new TypeError(`malformed address "${address}": expected "[v6]:port"`);
    return { host: address.slice(1, end), port: address.slice(end + 2) };
  }
  const i = address.lastIndexOf(':');
  if (i < 0) throw new TypeError(`malformed address "${address}": missing ":port"`);
  const host = address.slice(0, i);
  const port = address.slice(i + 1);
  if (host.includes(':')) throw new TypeError(`malformed address "${address}": IPv6 hosts need brackets, "[${host}]:${port}"`);
  return { host, port };
}

/** "host:port", with brackets around an IPv6 host. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An IP literal and a decimal port ("1.2.3.4:41641", "[fd7a::1]:41641"), or null. The IP is as written. */
export function parseAddrPort(s: string): { ip: string; port: number } | null {
  let hp: HostPortText;
  try {
    hp = splitHostPort(s);
  } catch {
    return null;
  }
  if (!/^\d{1,5}$/.test(hp.port) || isIP(hp.host.replace(/%.*$/, '')) === 0) return null;
  const port = Number(hp.port);
  return port > 65535 ? null : { ip: hp.host, port };
}
