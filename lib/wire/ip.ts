/**
 * Small IP address / prefix helpers (no dependencies): parsing to bytes,
 * prefix containment, and range → prefix conversion.
 */
import { isIP } from 'node:net';

export interface IPPrefix {
  readonly family: 4 | 6;
  /** Network address bytes (4 or 16), host bits zero. */
  readonly addr: Uint8Array;
  readonly bits: number;
  /** Canonical "ip/bits" text. */
  readonly text: string;
}

/** Parses an IPv4 or IPv6 literal (no zone) to bytes; null if invalid. */
export function parseIP(s: string): Uint8Array | null {
  const fam = isIP(s);
  if (fam === 4) return Uint8Array.from(s.split('.').map(Number));
  if (fam !== 6) return null;
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
 * Parses "ip/bits". With `strict`, host bits must be zero. Returns null if invalid.
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

function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function fromBig(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The minimal list of prefixes covering [from, to] (same family, from ≤ to); null if invalid. */
export function rangeToPrefixes(from: Uint8Array, to: Uint8Array): IPPrefix[] | null {
  if (from.length !== to.length) return null;
  const width = BigInt(from.length * 8);
  let lo = toBig(from);
  const hi = toBig(to);
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
    out.push(makePrefix(fromBig(lo, from.length), Number(width - size)));
    lo += 1n << size;
  }
  return out;
}
