// The netmap's packet filter in the native filter's shape: capability sources ("cap:...") expand to the
// addresses of the nodes that hold the capability.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compileFilter } from '../lib/wire/filter.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import type { Node } from '../lib/wire/tailcfg.js';
import { capHolders, nativeRules } from '../lib/magicsock/data-plane.js';

const node = (id: number, addrs: string[], caps: string[] = []): Node =>
  ({ ID: id, Addresses: addrs, CapMap: Object.fromEntries(caps.map((c) => [c, null])) }) as unknown as Node;

test('capability sources become the holders\' addresses; rules with no holder admit nothing', () => {
  const nm = {
    self: node(1, ['100.64.0.1/32']),
    peers: [node(2, ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128'], ['example.com/cap/admin']), node(3, ['100.64.0.3/32'])],
  } as unknown as NetworkMap;
  const f = compileFilter([
    { SrcIPs: ['cap:example.com/cap/admin'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 22 } }] },
    { SrcIPs: ['cap:example.com/cap/nobody'], DstPorts: [{ IP: '*', Ports: { First: 80, Last: 80 } }] },
    { SrcIPs: ['100.64.0.3'], DstPorts: [{ IP: '*', Ports: { First: 443, Last: 443 } }] },
  ]);
  const rules = nativeRules(f, capHolders(nm));
  assert.equal(rules.length, 2, 'the rule whose capability nobody holds is dropped');
  const admin = rules.find((r) => r.dsts.some((d) => d.first === 22));
  assert.ok(admin);
  const text = admin.srcs.map((s) => `${Buffer.from(s.addr).toString('hex')}/${s.bits}`).sort();
  assert.deepEqual(text, ['64400002/32', 'fd7a115ca1e000000000000000000002/128']);
  assert.ok(rules.some((r) => r.dsts.some((d) => d.first === 443)));
});
