import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffView, initialMessage, peerPatch } from '../lib/devnet/map-delta.js';
import type { NetmapView } from '../lib/devnet/netmap.js';
import type { Node } from '../lib/wire/tailcfg.js';

const node = (id: number, extra: Partial<Node> = {}): Node => ({
  ID: id,
  Name: `n${id}.devnet.internal.`,
  Key: `nodekey:${String(id).padStart(64, '0')}`,
  Addresses: [`100.64.0.${id}/32`],
  Endpoints: [],
  Online: false,
  ...extra,
});

const view = (peers: Node[], extra: Partial<NetmapView> = {}): NetmapView => ({
  self: node(1, { Online: true }),
  peers,
  filter: [],
  dns: { Domains: ['devnet.internal'] },
  domain: 'devnet.internal',
  derpMap: { Regions: {} },
  userProfiles: [{ ID: 1, LoginName: 'a@example.com' }],
  ...extra,
});

test('delta: patchable changes become PeersChangedPatch', () => {
  const a = node(2);
  assert.deepEqual(peerPatch(a, { ...a, Endpoints: ['1.2.3.4:5'], Online: true, HomeDERP: 900, DERP: '127.3.3.40:900' }), {
    NodeID: 2,
    Endpoints: ['1.2.3.4:5'],
    Online: true,
    DERPRegion: 900,
  });
  assert.deepEqual(peerPatch(a, { ...a, LastSeen: '2026-01-01T00:00:00Z' }), { NodeID: 2, LastSeen: '2026-01-01T00:00:00Z' });
  // Clearing endpoints cannot be patched; neither can a renamed node.
  assert.equal(peerPatch({ ...a, Endpoints: ['1.2.3.4:5'] }, a), null);
  assert.equal(peerPatch(a, { ...a, Name: 'other.' }), null);
  assert.equal(peerPatch(a, a), null);
});

test('delta: joins, changes, leaves, and unchanged views', () => {
  const { message: first, sent } = initialMessage(view([node(2)]), new Date(0));
  assert.equal(first.Peers?.length, 1);
  assert.ok(first.Node && first.DERPMap && first.DNSConfig && first.PacketFilter && first.UserProfiles);

  assert.equal(diffView(sent, view([node(2)])).message, null, 'nothing changed');

  const joined = diffView(sent, view([node(2), node(3)], { userProfiles: [{ ID: 1, LoginName: 'a@example.com' }, { ID: 2, LoginName: 'b@example.com' }] }));
  assert.deepEqual(joined.message?.PeersChanged?.map((p) => p.ID), [3]);
  assert.deepEqual(joined.message?.UserProfiles, [{ ID: 2, LoginName: 'b@example.com' }]);
  assert.equal(joined.message?.Node, undefined);

  const moved = diffView(joined.sent, view([node(2, { Endpoints: ['9.9.9.9:1'] }), node(3)]));
  assert.deepEqual(moved.message, { PeersChangedPatch: [{ NodeID: 2, Endpoints: ['9.9.9.9:1'] }] });

  const left = diffView(moved.sent, view([node(3)], { filter: [{ SrcIPs: ['*'] }] }));
  assert.deepEqual(left.message?.PeersRemoved, [2]);
  assert.deepEqual(left.message?.PacketFilter, [{ SrcIPs: ['*'] }]);

  const renamed = diffView(left.sent, view([node(3, { Name: 'renamed.devnet.internal.' })], { filter: [{ SrcIPs: ['*'] }], domain: 'x.example' }));
  assert.equal(renamed.message?.PeersChanged?.[0]?.Name, 'renamed.devnet.internal.');
  assert.equal(renamed.message?.Domain, 'x.example');
});
