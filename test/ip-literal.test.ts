// lib/wire/ip-literal.ts answers exactly as node:net's isIP/isIPv4/isIPv6 (it replaces them to keep Node's
// IPv6 pattern out of up(); docs/performance.md, "Time to up()").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { isIP, isIPv4, isIPv6 } from '../lib/wire/ip-literal.js';

// A seeded generator, so a failure names an input that reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function same(s: string): void {
  assert.equal(isIP(s), net.isIP(s), `isIP(${JSON.stringify(s)})`);
  assert.equal(isIPv4(s), net.isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
  assert.equal(isIPv6(s), net.isIPv6(s), `isIPv6(${JSON.stringify(s)})`);
}

test('ip-literal: hand-picked literals answer as node:net', () => {
  const cases = [
    '', '0.0.0.0', '127.0.0.1', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1.2.3.4 ', ' 1.2.3.4',
    '1..2.3', '1.2.3.', '.1.2.3', '1.2.3.04', '100.64.0.1', '::', '::1', '1::', '1::2', ':::', '1:::2', '1::2::3', ':1::2',
    '1::2:', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '::1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5::1.2.3.4', '::ffff:1.2.3.4', '::1.2.3.4', '1.2.3.4::', '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6::1.2.3.4', 'fe80::1%eth0', 'fe80::1%', 'fe80::1%a%b', 'fe80::1%a.b-c:d', 'fe80::1%a b', '%eth0',
    '1:2:3:4:5:6:7:8%a::b', 'fd7a:115c:a1e0::6440:1', 'FD7A:115C:A1E0::1', '12345::', 'g::1', '1:2:3:4:5:6:7:8:', ':1:2:3:4:5:6:7:8',
    '::ffff:1.2.3', '::ffff:256.1.2.3', '::a.1.2.3', '[::1]', '1.2.3.4%eth0', '0::0', '0000:0000::', '00000::', 'localhost',
  ];
  for (const s of cases) same(s);
});

test('ip-literal: generated near-literals answer as node:net', () => {
  const r = rng(17);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const hex = '0123456789abcdefABCDEFg';
  const group = (): string => Array.from({ length: 1 + Math.floor(r() * 5) }, () => pick([...hex])).join('');
  const octet = (): string => pick(['0', '1', '9', '10', '99', '100', '199', '200', '249', '250', '255', '256', '01', '001', '1000']);
  const v4 = (): string => Array.from({ length: pick([3, 4, 4, 4, 5]) }, octet).join('.');
  const zone = (): string => (r() < 0.8 ? '' : '%' + pick(['eth0', '', 'a.b', 'x:y', 'a b', 'a%b', '-']));
  let n = 0;
  for (let i = 0; i < 20000; i++) {
    let s: string;
    const kind = r();
    if (kind < 0.2) {
      s = v4();
    } else {
      const groups = Array.from({ length: Math.floor(r() * 10) }, group);
      if (r() < 0.3) groups.push(v4());
      s = groups.join(':');
      // zero, one or two "::" at random places; sometimes a stray colon
      for (let k = 0; k < pick([0, 1, 1, 1, 2]); k++) {
        const at = Math.floor(r() * (s.length + 1));
        s = s.slice(0, at) + pick(['::', ':', ':::']) + s.slice(at);
      }
      s += zone();
    }
    same(s);
    n++;
  }
  assert.equal(n, 20000);
});
