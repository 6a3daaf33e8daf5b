import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateAddresses, ipv6ForIPv4 } from '../lib/devnet/addresses.js';
import { parseIP, parsePrefix, prefixContains } from '../lib/wire/ip.js';

test('addresses: sequential from 100.64.0.1 with the paired IPv6', () => {
  const used = new Set<string>();
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = allocateAddresses(used);
    used.add(a.ipv4);
    got.push(`${a.ipv4} ${a.ipv6}`);
  }
  assert.deepEqual(got, ['100.64.0.1 fd7a:115c:a1e0::6440:1', '100.64.0.2 fd7a:115c:a1e0::6440:2', '100.64.0.3 fd7a:115c:a1e0::6440:3']);
  // A freed address is reused.
  used.delete('100.64.0.2');
  assert.equal(allocateAddresses(used).ipv4, '100.64.0.2');
});

test('addresses: all within 100.64.0.0/10 and fd7a:115c:a1e0::/48; reserved ranges skipped', () => {
  const v4 = parsePrefix('100.64.0.0/10')!;
  const v6 = parsePrefix('fd7a:115c:a1e0::/48')!;
  const a = allocateAddresses(new Set(), '100.100.100.0/23');
  // 100.100.100.0/24 holds quad-100: skipped, so the first is in 100.100.101.0/24
  assert.equal(a.ipv4, '100.100.101.0');
  assert.ok(prefixContains(v4, parseIP(a.ipv4)!));
  assert.ok(prefixContains(v6, parseIP(a.ipv6)!));
  assert.equal(ipv6ForIPv4('100.127.255.254'), 'fd7a:115c:a1e0::647f:fffe');
  assert.equal(allocateAddresses(new Set(), '100.115.92.0/22').ipv4, '100.115.94.0');
});

test('addresses: a full range is an error', () => {
  const used = new Set(['100.64.0.1', '100.64.0.2']);
  assert.throws(() => allocateAddresses(used, '100.64.0.0/30'), /exhausted/);
});
