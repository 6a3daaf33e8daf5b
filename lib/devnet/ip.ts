/**
 * Small IP address helpers: parse and format IPv4/IPv6, prefixes and
 * containment. Addresses are held as bigint (IPv4 in 32 bits, IPv6 in 128).
 */
import { isIP } from 'node:net';

export interface IPAddr {
  family: 4 | 6;
  value: bigint;
}

export interface IPPrefix {
  addr: IPAddr;
  bits: number;
}

export function parseIP(text: string): IPAddr | null {
  const fam = isIP(text);
  if (fam === 4) {
    let v = 0n;
    for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (fam === 6) {
    if (text.includes('%')) return null;
    let t = text;
    // Embedded IPv4 tail (::ffff:1.2.3.4).
    const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
    if (m) {
      const v4 = parseIP(m[2]!)!.value;
      t = `${m[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head, tail] = t.includes('::') ? (t.split('::') as [string, string]) : [t, undefined];
    const h = head ? head.split(':') : [];
    const tl = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
    if (groups.length !== 8) return null;
    let v = 0n;
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
    return { family: 6, value: v };
  }
  return null;
}

export function formatIP(a: IPAddr): string {
  if (a.family === 4) {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function familyBits(f: 4 | 6): number {
  return f === 4 ? 32 : 128;
}

/** Parses "ip/bits" (host bits must be zero unless `allowHostBits`). */
export function parsePrefix(text: string, allowHostBits = false): IPPrefix | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const addr = parseIP(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  if (bits > familyBits(addr.family)) return null;
  if (!allowHostBits && (addr.value & hostMask(addr.family, bits)) !== 0n) return null;
  return { addr, bits };
}

/** Bits outside the prefix, as ones. */
function hostMask(f: 4 | 6, bits: number): bigint {
  const total = familyBits(f);
  return (1n << BigInt(total - bits)) - 1n;
}

export function prefixContains(p: IPPrefix, a: IPAddr): boolean {
  if (p.addr.family !== a.family) return false;
  const hm = hostMask(p.addr.family, p.bits);
  return (p.addr.value & ~hm) === (a.value & ~hm);
}

export function formatPrefix(p: IPPrefix): string {
  return `${formatIP(p.addr)}/${p.bits}`;
}

/** True if text is an IP, a prefix without host bits, or a range "a-b" of one family. */
export function isIPSpec(text: string): boolean {
  if (parseIP(text)) return true;
  if (parsePrefix(text)) return true;
  const dash = text.indexOf('-');
  if (dash > 0) {
    const a = parseIP(text.slice(0, dash));
    const b = parseIP(text.slice(dash + 1));
    return !!a && !!b && a.family === b.family && a.value <= b.value;
  }
  return false;
}
