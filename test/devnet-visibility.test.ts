import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterForNode, mutuallyVisible, parseAddrs, specMatches } from '../lib/devnet/peer-visibility.js';
import type { FilterRule } from '../lib/wire/tailcfg.js';
import { startDevnet } from '../lib/devnet/index.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

const A = parseAddrs(['100.64.0.1', 'fd7a:115c:a1e0::6440:1']);
const B = parseAddrs(['100.64.0.2/32', 'fd7a:115c:a1e0::6440:2/128']);
const C = parseAddrs(['100.64.0.3']);

test('visibility: address specs', () => {
  assert.equal(specMatches('*', A), true);
  assert.equal(specMatches('100.64.0.1', A), true);
  assert.equal(specMatches('100.64.0.2', A), false);
  assert.equal(specMatches('100.64.0.0/30', A), true);
  assert.equal(specMatches('fd7a:115c:a1e0::/48', B), true);
  assert.equal(specMatches('100.64.0.2-100.64.0.9', C), true);
  assert.equal(specMatches('100.64.0.4-100.64.0.9', C), false);
  assert.equal(specMatches('garbage', C), false);
});

test('visibility: either direction makes peers visible; filters are trimmed to the node', () => {
  const rules: FilterRule[] = [
    { SrcIPs: ['100.64.0.1'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 22, Last: 22 } }, { IP: '100.64.0.9', Ports: { First: 1, Last: 1 } }] },
    { SrcIPs: ['100.64.0.3'], CapGrant: [{ Dsts: ['100.64.0.1/32'], CapMap: { 'x/cap': [] } }] },
  ];
  assert.equal(mutuallyVisible(rules, A, B), true);
  assert.equal(mutuallyVisible(rules, B, A), true);
  assert.equal(mutuallyVisible(rules, B, C), false);
  assert.equal(mutuallyVisible(rules, C, A), true, 'app grants count too');
  assert.deepEqual(filterForNode(rules, B), [{ SrcIPs: ['100.64.0.1'], DstPorts: [{ IP: '100.64.0.2', Ports: { First: 22, Last: 22 } }] }]);
  assert.deepEqual(filterForNode(rules, A), [rules[1]]);
  assert.deepEqual(filterForNode(rules, C), []);
});

test('e2e: nodes see only peers the policy lets them talk to, and learn of new ones when it changes', async (t) => {
  const net = await startDevnet({
    policy: `{
      "tagOwners": {"tag:server": ["alice@example.com"]},
      "acls": [{"action": "accept", "src": ["alice@example.com"], "dst": ["tag:server:22"]}],
    }`,
  });
  t.after(() => net.close());
  const join = async (hostname: string, opts: Parameters<typeof net.createAuthKey>[0]) => {
    const c = await MiniClient.connect(net.controlURL, { hostname });
    t.after(() => c.close());
    await c.register({ Auth: { AuthKey: net.createAuthKey(opts) } });
    const m = await c.map();
    return { c, m, first: await m.next() };
  };
  const server = await join('server', { user: 'alice@example.com', tags: ['tag:server'] });
  const alice = await join('alice', { user: 'alice@example.com' });
  const bob = await join('bob', { user: 'bob@example.com' });
  assert.deepEqual(alice.first.Peers?.map((p) => p.Name), ['server.devnet.internal.']);
  assert.deepEqual(bob.first.Peers, []);
  assert.deepEqual(bob.first.PacketFilter, []);
  // The server learns of alice (who may reach it) and holds the rule; alice holds none.
  const s = await server.m.until((m) => !!m.PeersChanged?.some((p) => p.Name === 'alice.devnet.internal.'));
  assert.ok(s);
  assert.equal(alice.first.PacketFilter?.length, 0);
  const serverFilter = server.first.PacketFilter ?? (await server.m.until((m) => m.PacketFilter !== undefined)).PacketFilter;
  assert.ok(serverFilter);

  net.setPolicy(`{
    "tagOwners": {"tag:server": ["alice@example.com"]},
    "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:server:22"]}],
  }`);
  const b = await bob.m.until((m) => !!m.PeersChanged?.length);
  assert.deepEqual(b.PeersChanged?.map((p) => p.Name), ['server.devnet.internal.']);
  // Alice and bob still cannot reach each other: neither sees the other.
  assert.ok(!b.PeersChanged?.some((p) => p.Name === 'alice.devnet.internal.'));
});
