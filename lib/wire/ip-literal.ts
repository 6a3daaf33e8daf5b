// IP literal checks with node:net's exact answers, without its regular expressions: the first isIP() of an
// IPv6 string compiles Node's IPv6 pattern, which cost 3 to 30 ms of CPU inside up() (docs/performance.md,
// "Time to up()"). test/ip-literal.test.ts compares these with node:net over generated inputs.

const DOT = 0x2e;
const COLON = 0x3a;
const PERCENT = 0x25;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Dotted quad s[from, to): four decimal parts 0–255 without leading zeros. */
function v4At(s: string, from: number, to: number): boolean {
  let parts = 0;
  let i = from;
  for (;;) {
    const start = i;
    let v = 0;
    while (i < to && isDigit(s.charCodeAt(i))) {
      v = v * 10 + (s.charCodeAt(i) - 0x30);
      i++;
      if (i - start > 3) return false;
    }
    const len = i - start;
    if (len === 0 || v > 255 || (len > 1 && s.charCodeAt(start) === 0x30)) return false;
    parts++;
    if (parts === 4) return i === to;
    if (i >= to || s.charCodeAt(i) !== DOT) return false;
    i++;
  }
}

/** Zone suffix ("%eth0"): one or more of [0-9A-Za-z.:-]. */
function zoneAt(s: string, from: number): boolean {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === DOT || c === COLON;
    if (!ok) return false;
  }
  return true;
}

/**
 * Colon-separated groups s[from, to) (no "::" inside): how many 16-bit units they make, the last group may be a
 * dotted quad (two units); -1 if malformed. An empty range is zero units.
 */
function unitsAt(s: string, from: number, to: number): number {
  if (from === to) return 0;
  let units = 0;
  let i = from;
  for (;;) {
    const start = i;
    while (i < to && isHex(s.charCodeAt(i))) i++;
    if (i < to && s.charCodeAt(i) === DOT) {
      // A dotted quad ends the address.
      return v4At(s, start, to) ? units + 2 : -1;
    }
    const len = i - start;
    if (len === 0 || len > 4) return -1;
    units++;
    if (i === to) return units;
    if (s.charCodeAt(i) !== COLON) return -1;
    i++;
    if (i === to) return -1; // a trailing single colon
  }
}

/** node:net isIPv4. */
export function isIPv4(input: string): boolean {
  const s = String(input);
  return v4At(s, 0, s.length);
}

/** node:net isIPv6: eight units, or fewer around one "::"; a dotted quad may end it; an optional %zone. */
export function isIPv6(input: string): boolean {
  const s = String(input);
  let end = s.indexOf('%');
  if (end >= 0) {
    if (!zoneAt(s, end + 1)) return false;
  } else {
    end = s.length;
  }
  const gap = s.indexOf('::');
  if (gap < 0 || gap >= end) return unitsAt(s, 0, end) === 8;
  if (s.indexOf('::', gap + 1) >= 0 && s.indexOf('::', gap + 1) < end) return false;
  const left = unitsAt(s, 0, gap);
  const right = unitsAt(s, gap + 2, end);
  if (left < 0 || right < 0) return false;
  // A dotted quad may only end the address, never sit left of the "::".
  if (gap > 0 && s.lastIndexOf('.', gap) >= 0) return false;
  return left + right <= 7;
}

/** node:net isIP: 4, 6 or 0. */
export function isIP(input: string): 0 | 4 | 6 {
  if (isIPv4(input)) return 4;
  if (isIPv6(input)) return 6;
  return 0;
}
