import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, filterAllows, capsGranted, parseIPSet, PROTO_TCP, PROTO_UDP, PROTO_ICMPV4 } from '../lib/wire/filter.js';
import { parseIP, ipToString, rangeToPrefixes, parsePrefix } from '../lib/wire/ip.js';
import type { FilterRule } from '../lib/wire/tailcfg.js';

const texts = (v: ReturnType<typeof parseIPSet>): string[] | string => (typeof v === 'string' ? v : v.map((p) => p.text));

test('ip helpers: parse/format v4 and v6, ranges to prefixes', () => {
  assert.equal(ipToString(parseIP('fd7a:115c:a1e0:ab12:4843:cd96:6240:2')!), 'fd7a:115c:a1e0:ab12:4843:cd96:6240:2');
  assert.equal(ipToString(parseIP('fd7a:115c:a1e0::')!), 'fd7a:115c:a1e0::');
  assert.equal(ipToString(parseIP('::ffff:1.2.3.4')!), '::ffff:102:304');
  assert.equal(ipToString(parseIP('::')!), '::');
  assert.equal(parseIP('1.2.3'), null);
  assert.deepEqual(rangeToPrefixes(parseIP('10.0.0.0')!, parseIP('10.0.0.255')!)!.map((p) => p.text), ['10.0.0.0/24']);
  assert.deepEqual(rangeToPrefixes(parseIP('10.0.0.1')!, parseIP('10.0.0.6')!)!.map((p) => p.text), [
    '10.0.0.1/32',
    '10.0.0.2/31',
    '10.0.0.4/31',
    '10.0.0.6/32',
  ]);
  assert.deepEqual(rangeToPrefixes(parseIP('0.0.0.0')!, parseIP('255.255.255.255')!)!.map((p) => p.text), ['0.0.0.0/0']);
  assert.equal(rangeToPrefixes(parseIP('10.0.0.2')!, parseIP('10.0.0.1')!), null);
  assert.equal(parsePrefix('10.0.0.1/24')!.text, '10.0.0.0/24');
  assert.equal(parsePrefix('10.0.0.1/24', true), null);
});

test('parseIPSet: *, IP, CIDR (no host bits), range', () => {
  assert.deepEqual(texts(parseIPSet('*')), ['0.0.0.0/0', '::/0']);
  assert.deepEqual(texts(parseIPSet('100.64.0.1')), ['100.64.0.1/32']);
  assert.deepEqual(texts(parseIPSet('fd7a:115c:a1e0::1')), ['fd7a:115c:a1e0::1/128']);
  assert.deepEqual(texts(parseIPSet('100.64.0.0/10')), ['100.64.0.0/10']);
  assert.match(texts(parseIPSet('100.64.0.1/10')) as string, /host bits/);
  assert.deepEqual(texts(parseIPSet('100.64.0.0-100.64.0.3')), ['100.64.0.0/30']);
  assert.equal(typeof parseIPSet('nonsense'), 'string');
  assert.equal(typeof parseIPSet('1.2.3.4-::1'), 'string');
});

test('compileFilter: protocols default, sources, caps, destinations with ports; bad entries skipped', () => {
  const rules: FilterRule[] = [
    { SrcIPs: ['100.64.0.1', 'cap:admin', 'bogus'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 22, Last: 22 } }, { IP: '1.2.3.4/8', Ports: { First: 1, Last: 2 } }] },
    { SrcIPs: ['*'], DstPorts: [{ IP: '*', Bits: null, Ports: { First: 0, Last: 65535 } }], IPProto: [17, 300, -1, 17] },
  ];
  const f = compileFilter(rules);
  assert.equal(f.rejected, false);
  assert.equal(f.matches.length, 2);
  assert.deepEqual(f.matches[0]!.protocols, [6, 17, 1, 58]);
  assert.deepEqual(f.matches[0]!.srcs.map((p) => p.text), ['100.64.0.1/32']);
  assert.deepEqual(f.matches[0]!.srcCaps, ['admin']);
  assert.deepEqual(f.matches[0]!.dsts.map((d) => [d.net.text, d.first, d.last]), [['100.64.0.2/32', 22, 22]]);
  assert.deepEqual(f.matches[1]!.protocols, [17]);
  assert.equal(f.errors.length, 2);
});

test('compileFilter: deprecated SrcBits / Bits refuse the whole filter', () => {
  assert.equal(compileFilter([{ SrcIPs: ['*'], SrcBits: [32], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }]).rejected, true);
  const f = compileFilter([{ SrcIPs: ['*'], DstPorts: [{ IP: '1.2.3.4', Bits: 32, Ports: { First: 0, Last: 1 } }] }]);
  assert.equal(f.rejected, true);
  assert.equal(f.matches.length, 0);
});

test('filterAllows: rule matching per protocol, port ranges, cap sources; empty filter denies', () => {
  const f = compileFilter([
    { SrcIPs: ['100.64.0.1'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 80, Last: 90 } }] },
    { SrcIPs: ['cap:ops'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 22 } }] },
    { SrcIPs: ['100.64.0.9'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 0, Last: 65535 } }], IPProto: [47] },
  ]);
  const pkt = { proto: PROTO_TCP, src: '100.64.0.1', dst: '100.64.0.2', dstPort: 80 };
  assert.ok(filterAllows(f, pkt));
  assert.ok(filterAllows(f, { ...pkt, proto: PROTO_UDP, dstPort: 90 }));
  assert.ok(!filterAllows(f, { ...pkt, dstPort: 91 }));
  assert.ok(!filterAllows(f, { ...pkt, src: '100.64.0.3' }));
  assert.ok(!filterAllows(f, { ...pkt, dst: '100.64.0.4' }));
  assert.ok(filterAllows(f, { ...pkt, proto: PROTO_ICMPV4, dstPort: 0 }), 'ICMP ignores ports');
  assert.ok(filterAllows(f, { proto: PROTO_TCP, src: '100.64.0.77', dst: '100.64.0.5', dstPort: 22, srcNodeCaps: ['ops'] }));
  assert.ok(!filterAllows(f, { proto: PROTO_TCP, src: '100.64.0.77', dst: '100.64.0.5', dstPort: 22 }));
  assert.ok(filterAllows(f, { proto: 47, src: '100.64.0.9', dst: '100.64.0.2' }), 'other protocols need an all-ports rule');
  assert.ok(!filterAllows(f, { proto: 47, src: '100.64.0.1', dst: '100.64.0.2' }));
  assert.ok(!filterAllows(compileFilter([]), pkt), 'empty rules = deny all');
});

test('capsGranted: CapGrant rules (Caps folded into CapMap), union over matches', () => {
  const f = compileFilter([
    { SrcIPs: ['*'], CapGrant: [{ Dsts: ['0.0.0.0/0', '::/0'], Caps: ['https://tailscale.com/cap/ingress'] }] },
    { SrcIPs: ['100.64.0.1'], CapGrant: [{ Dsts: ['100.64.0.2/32'], CapMap: { 'example.com/cap/x': [{ a: 1 }] } }] },
    { SrcIPs: ['100.64.0.1'], CapGrant: [{ Dsts: ['100.64.0.2/32'], CapMap: { 'example.com/cap/x': [{ b: 2 }] } }] },
  ]);
  assert.equal(f.matches.length, 0, 'CapGrant rules allow no packets');
  assert.deepEqual(capsGranted(f, '100.64.0.1', '100.64.0.2'), {
    'https://tailscale.com/cap/ingress': null,
    'example.com/cap/x': [{ a: 1 }, { b: 2 }],
  });
  assert.deepEqual(capsGranted(f, '100.64.0.3', '100.64.0.2'), { 'https://tailscale.com/cap/ingress': null });
});
