// lib/wire/ip.ts: the one IP module (addresses, prefixes, ranges) and the one "host:port" parser that the
// control client, the data plane, the sockets and the devnet share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareIP,
  ipFromBigInt,
  ipToBigInt,
  ipToString,
  isIPSpec,
  joinHostPort,
  parseAddrPort,
  parseIP,
  parsePrefix,
  splitHostPort,
} from '../lib/wire/ip.js';

test('ip: parse and format round trips; zones and short forms are refused', () => {
  for (const s of ['0.0.0.0', '100.64.0.1', '255.255.255.255', '::', '::1', 'fd7a:115c:a1e0::6440:1', '2001:db8::1:0:0:1', '1:2:3:4:5:6:7:8']) {
    assert.equal(ipToString(parseIP(s)!), s);
  }
  assert.equal(ipToString(parseIP('::ffff:1.2.3.4')!), '::ffff:102:304');
  assert.equal(parseIP('1.2.3'), null);
  assert.equal(parseIP('fe80::1%eth0'), null);
});

test('ip: prefixes clear host bits, or refuse them when strict', () => {
  assert.equal(parsePrefix('100.64.0.1/10')!.text, '100.64.0.0/10');
  assert.equal(parsePrefix('100.64.0.1/10', true), null, 'host bits set');
  assert.equal(parsePrefix('100.64.0.0/10', true)!.family, 4);
  assert.equal(parsePrefix('100.64.0.0/33'), null);
  assert.equal(parsePrefix('fd7a:115c:a1e0::/48')!.text, 'fd7a:115c:a1e0::/48');
});

test('ip: integer form, order and address specs', () => {
  const a = parseIP('100.64.0.255')!;
  assert.equal(ipToBigInt(a), 0x644000ffn);
  assert.equal(ipToString(ipFromBigInt(ipToBigInt(a) + 1n, 4)), '100.64.1.0');
  assert.equal(ipToString(ipFromBigInt(1n, 16)), '::1');
  assert.ok(compareIP(parseIP('10.0.0.2')!, parseIP('10.0.0.10')!) < 0);
  assert.ok(compareIP(parseIP('255.255.255.255')!, parseIP('::')!) < 0, 'IPv4 first');
  assert.equal(compareIP(parseIP('::1')!, parseIP('0::1')!), 0);
  for (const ok of ['100.64.0.1', '100.64.0.0/10', 'fd7a::/16', '10.0.0.1-10.0.0.9']) assert.ok(isIPSpec(ok), ok);
  for (const bad of ['100.64.0.1/10', '10.0.0.9-10.0.0.1', '10.0.0.1-::1', 'host', '*']) assert.ok(!isIPSpec(bad), bad);
});

test('host:port: one parser for "host:port", "[v6]:port" and ":port", with errors that say what is wrong', () => {
  assert.deepEqual(splitHostPort('100.64.0.1:80'), { host: '100.64.0.1', port: '80' });
  assert.deepEqual(splitHostPort('[fd7a::1]:443'), { host: 'fd7a::1', port: '443' });
  assert.deepEqual(splitHostPort(':53'), { host: '', port: '53' });
  assert.deepEqual(splitHostPort('web:http'), { host: 'web', port: 'http' });
  assert.throws(() => splitHostPort('100.64.0.1'), { name: 'TypeError', message: /missing ":port"/ });
  assert.throws(() => splitHostPort('fd7a::1:80'), { name: 'TypeError', message: /need brackets/ });
  assert.throws(() => splitHostPort('[fd7a::1]80'), { name: 'TypeError', message: /expected "\[v6\]:port"/ });
  assert.throws(() => splitHostPort(80 as unknown as string), { name: 'TypeError', message: /must be a string/ });
  assert.equal(joinHostPort('fd7a::1', 41641), '[fd7a::1]:41641');
  assert.equal(joinHostPort('1.2.3.4', 41641), '1.2.3.4:41641');
  assert.equal(joinHostPort('web', 'http'), 'web:http');
});

test('host:port: parseAddrPort takes an IP literal and a decimal port only', () => {
  assert.deepEqual(parseAddrPort('1.2.3.4:41641'), { ip: '1.2.3.4', port: 41641 });
  assert.deepEqual(parseAddrPort('[fd7a::1]:0'), { ip: 'fd7a::1', port: 0 });
  for (const bad of ['web:80', '1.2.3.4:http', '1.2.3.4:65536', '1.2.3.4', 'fd7a::1:80', '[1.2.3]:1', '']) {
    assert.equal(parseAddrPort(bad), null, bad);
  }
});
