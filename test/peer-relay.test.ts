import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../lib/devnet/policy.js';
import { compileFilter as compilePolicy, type PolicyNode } from '../lib/devnet/acl-compile.js';
import { PEER_CAP_RELAY, relayTargetRule } from '../lib/devnet/peer-relay-grants.js';
import { compileFilter } from '../lib/wire/filter.js';
import { nodeHasPeerCap, relayCandidates, PEER_CAP_RELAY_TARGET } from '../lib/magicsock/relay-candidates.js';
import type { FilterRule, Node } from '../lib/wire/tailcfg.js';
import { startDevnet } from '../lib/devnet/index.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

// Peer relays (docs/protocol/peer-relay.md §1): the devnet's grants and the client's choice of relay candidates.

const nodes: PolicyNode[] = [
  { id: 1, addresses: ['100.64.0.1', 'fd7a:115c:a1e0::6440:1'], user: 'alice@example.com', tags: [] },
  { id: 2, addresses: ['100.64.0.2', 'fd7a:115c:a1e0::6440:2'], user: 'bob@example.com', tags: [] },
  { id: 3, addresses: ['100.64.0.3', 'fd7a:115c:a1e0::6440:3'], user: 'alice@example.com', tags: ['tag:relay'] },
];
const RELAY_GRANT = '{"src": ["autogroup:member"], "dst": ["tag:relay"], "app": {"tailscale.com/cap/relay": []}}';

test('peer relay: a cap/relay grant gives the relays relay-target toward the clients', () => {
  const rules = compilePolicy(parsePolicy(`{"tagOwners": {"tag:relay": ["alice@example.com"]}, "grants": [${RELAY_GRANT}]}`), nodes);
  assert.deepEqual(rules, [
    {
      SrcIPs: ['100.64.0.1', '100.64.0.2', 'fd7a:115c:a1e0::6440:1', 'fd7a:115c:a1e0::6440:2'],
      CapGrant: [{ Dsts: ['100.64.0.3/32', 'fd7a:115c:a1e0::6440:3/128'], CapMap: { [PEER_CAP_RELAY]: [] } }],
    },
    {
      SrcIPs: ['100.64.0.3', 'fd7a:115c:a1e0::6440:3'],
      CapGrant: [
        {
          Dsts: ['100.64.0.1/32', '100.64.0.2/32', 'fd7a:115c:a1e0::6440:1/128', 'fd7a:115c:a1e0::6440:2/128'],
          CapMap: { [PEER_CAP_RELAY_TARGET]: [] },
        },
      ],
    },
  ]);
  // Other application capabilities get no companion; a wildcard source becomes all-address prefixes.
  assert.equal(relayTargetRule({ 'example.com/cap/x': [] }, ['100.64.0.3'], ['100.64.0.1/32']), null);
  assert.equal(relayTargetRule({ [PEER_CAP_RELAY]: [] }, [], ['100.64.0.1/32']), null);
  const wild = compilePolicy(parsePolicy(`{"grants": [{"src": ["*"], "dst": ["100.64.0.3"], "app": {"tailscale.com/cap/relay": []}}]}`), nodes);
  assert.deepEqual(wild[1], { SrcIPs: ['100.64.0.3'], CapGrant: [{ Dsts: ['0.0.0.0/0', '::/0'], CapMap: { [PEER_CAP_RELAY_TARGET]: [] } }] });
});

const peer = (id: number, cap: number, extra: Partial<Node> = {}): Node => ({
  ID: id,
  Key: `nodekey:${String(id).repeat(64).slice(0, 64)}`,
  DiscoKey: `discokey:${String(id).repeat(64).slice(0, 64)}`,
  Addresses: [`100.64.0.${id}/32`, `fd7a:115c:a1e0::6440:${id}/128`],
  HomeDERP: 900 + id,
  Cap: cap,
  ...extra,
});

test('peer relay: candidates are peers at 121 or more holding relay-target toward us', () => {
  const rules: FilterRule[] = [
    { SrcIPs: ['100.64.0.3', '100.64.0.4', '100.64.0.5', 'fd7a:115c:a1e0::6440:6'], CapGrant: [{ Dsts: ['100.64.0.1/32', 'fd7a:115c:a1e0::6440:1/128'], CapMap: { [PEER_CAP_RELAY_TARGET]: [] } }] },
    { SrcIPs: ['100.64.0.7'], CapGrant: [{ Dsts: ['100.64.0.1/32'], CapMap: { [PEER_CAP_RELAY]: [] } }] },
  ];
  const f = compileFilter(rules);
  const self = { Addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::6440:1/128'] };
  const peers = [
    peer(2, 130), // no grant
    peer(3, 121), // yes
    peer(4, 120), // too old to relay
    peer(5, 145, { UnsignedPeerAPIOnly: true }), // never holds peer capabilities
    peer(6, 145), // granted on its IPv6 address only: Tailscale checks the first address of a family, IPv4
    peer(7, 145), // holds cap/relay (it may use us), not relay-target
    peer(8, 145, { DiscoKey: undefined }), // no disco key: nothing to talk to
  ];
  assert.deepEqual(relayCandidates(f, self, peers), [{ nodeKey: peers[1]!.Key, discoKey: peers[1]!.DiscoKey, homeDERP: 903 }]);
  assert.equal(relayCandidates(null, self, peers).length, 0);
  assert.equal(nodeHasPeerCap(f, peer(6, 145, { Addresses: ['fd7a:115c:a1e0::6440:6/128'] }), self, PEER_CAP_RELAY_TARGET), true);
  assert.equal(nodeHasPeerCap(f, peer(3, 145, { Addresses: ['100.64.0.0/24'] }), self, PEER_CAP_RELAY_TARGET), false, 'not a single IP');
});

test('e2e: the devnet hands a relay grant to both sides and the client finds the relay', async (t) => {
  const net = await startDevnet({
    policy: `{
      "tagOwners": {"tag:relay": ["alice@example.com"]},
      "grants": [{"src": ["autogroup:member"], "dst": ["autogroup:member"], "ip": ["*"]}, ${RELAY_GRANT}],
    }`,
  });
  t.after(() => net.close());
  const join = async (hostname: string, opts: Parameters<typeof net.createAuthKey>[0], version = 145) => {
    const c = await MiniClient.connect(net.controlURL, { hostname, version });
    t.after(() => c.close());
    await c.register({ Auth: { AuthKey: net.createAuthKey(opts) } });
    const m = await c.map();
    return { c, m, first: await m.next() };
  };
  const relay = await join('relay', { user: 'alice@example.com', tags: ['tag:relay'] });
  const alice = await join('alice', { user: 'alice@example.com' });
  // The relay learns of alice, with the rule granting alice cap/relay toward it.
  const r = await relay.m.until((m) => !!m.PeersChanged?.some((p) => p.Name === 'alice.devnet.internal.') && m.PacketFilter !== undefined);
  const relaySelf = relay.first.Node!;
  const aliceSelf = alice.first.Node!;
  const aliceNode = r.PeersChanged!.find((p) => p.Name === 'alice.devnet.internal.')!;
  assert.equal(nodeHasPeerCap(compileFilter(r.PacketFilter ?? []), aliceNode, relaySelf, PEER_CAP_RELAY), true);
  // Alice holds the companion rule and picks the relay as a candidate.
  const aliceFilter = compileFilter(alice.first.PacketFilter ?? []);
  const cands = relayCandidates(aliceFilter, aliceSelf, alice.first.Peers ?? []);
  assert.deepEqual(cands.map((c) => c.nodeKey), [relaySelf.Key]);
  assert.equal(cands[0]!.discoKey, relaySelf.DiscoKey);
});
