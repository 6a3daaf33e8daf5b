import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MapFrameReader, encodeMapFrame, encodeMapMessage, parseMapResponse } from '../lib/control/framing.js';
import { MapStreamDecoder, type MapEvent } from '../lib/control/map-stream.js';
import { NetmapState, magicDNSSuffixOf, normalizeNode } from '../lib/wire/netmap.js';
import type { MapRequest, MapResponse, Node } from '../lib/wire/tailcfg.js';

const samples = JSON.parse(readFileSync(join(__dirname, 'fixtures/control/map-samples.json'), 'utf8')) as {
  mapRequestStream: MapRequest;
  mapRequestLiteUpdate: MapRequest;
  mapRequestLiteUpdateWithEndpoints: MapRequest;
  mapResponseFirstForB: MapResponse;
  mapResponseForAAfterBJoined: MapResponse;
};

function node(id: number, extra: Partial<Node> = {}): Node {
  const h = id.toString(16).padStart(2, '0');
  return {
    ID: id,
    Key: 'nodekey:' + h.repeat(32),
    Addresses: [`100.64.0.${id}/32`],
    Name: `n${id}.tail.example.`,
    ...extra,
  };
}

function self(extra: Partial<Node> = {}): Node {
  return node(100, { Name: 'me.tail.example.', ...extra });
}

// ---------------------------------------------------------------------------
// framing

test('framing: u32 little-endian length prefix, partial input byte by byte', () => {
  const a = encodeMapMessage({ KeepAlive: true });
  assert.equal(a.readUInt32LE(0), a.length - 4);
  assert.equal(a.subarray(4).toString(), '{"KeepAlive":true}');
  const b = encodeMapFrame('{"Domain":"x"}');
  const stream = Buffer.concat([a, b, encodeMapFrame('')]);
  const r = new MapFrameReader();
  const got: string[] = [];
  for (const byte of stream) for (const f of r.push(Buffer.from([byte]))) got.push(f.toString());
  assert.deepEqual(got, ['{"KeepAlive":true}', '{"Domain":"x"}', '']);
  assert.equal(r.pending, 0);
  r.end();
  // All at once, and split in odd places.
  const r2 = new MapFrameReader();
  assert.equal(r2.push(stream).length, 3);
  const r3 = new MapFrameReader();
  const parts = [stream.subarray(0, 3), stream.subarray(3, 25), stream.subarray(25)];
  assert.deepEqual(parts.flatMap((p) => r3.push(p)).map((f) => f.toString()), ['{"KeepAlive":true}', '{"Domain":"x"}', '']);
});

test('framing: oversized frames are refused from the header alone; truncation is reported', () => {
  const r = new MapFrameReader(1024);
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32LE(1025);
  assert.throws(() => r.push(hdr), { code: 'ERR_FRAME_TOO_LARGE' });
  const huge = Buffer.alloc(4);
  huge.writeUInt32LE(0xffffffff);
  assert.throws(() => new MapFrameReader().push(huge), { code: 'ERR_FRAME_TOO_LARGE' });
  const ok = new MapFrameReader(1024);
  ok.push(encodeMapFrame('x'.repeat(1024)).subarray(0, 500));
  assert.equal(ok.pending, 496);
  assert.throws(() => ok.end(), { code: 'ERR_FRAME_TRUNCATED' });
  const half = new MapFrameReader();
  half.push(Buffer.from([1, 0]));
  assert.throws(() => half.end(), { code: 'ERR_FRAME_TRUNCATED' });
});

test('framing: bad JSON and wrong shapes give coded errors', () => {
  assert.throws(() => parseMapResponse(Buffer.from('{"Peers":[')), { code: 'ERR_BAD_JSON' });
  assert.throws(() => parseMapResponse(Buffer.from('')), { code: 'ERR_BAD_JSON' });
  assert.throws(() => parseMapResponse(Buffer.from('\xff\xfe')), { code: 'ERR_BAD_JSON' });
  assert.throws(() => parseMapResponse(Buffer.from('[1,2]')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('null')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('{"Peers":{}}')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('{"Peers":[{"Key":"nodekey:00"}]}')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('{"Node":[]}')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('{"PeersRemoved":["x"]}')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('{"PeersChangedPatch":[{}]}')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseMapResponse(Buffer.from('{"PeersChanged":[{"ID":1,"Endpoints":"1.2.3.4:5"}]}')), { code: 'ERR_BAD_MESSAGE' });
  assert.deepEqual(parseMapResponse(Buffer.from('{"KeepAlive":true}')), { KeepAlive: true });
  const dec = new MapStreamDecoder();
  assert.throws(() => dec.push(encodeMapFrame('{nope')), { code: 'ERR_BAD_JSON' });
});

// ---------------------------------------------------------------------------
// real samples

test('samples: the first MapResponse for go-b becomes a netmap', () => {
  const dec = new MapStreamDecoder();
  const evs = dec.push(encodeMapMessage(samples.mapResponseFirstForB));
  const nmEv = evs.find((e): e is Extract<MapEvent, { type: 'netmap' }> => e.type === 'netmap');
  assert.ok(nmEv);
  const nm = nmEv.netmap;
  assert.equal(nm.self.Name, 'go-b');
  assert.deepEqual(nm.self.Addresses, ['100.64.0.2/32', 'fd7a:115c:a1e0:ab12:4843:cd96:6240:2/128']);
  assert.deepEqual(Object.keys(nm.self.CapMap ?? {}).sort(), ['debug-disable-upnp', 'funnel', 'https', 'https://tailscale.com/cap/funnel-ports?ports=8080,443'].sort());
  assert.equal(nm.peers.length, 1);
  const a = nm.peers[0]!;
  assert.equal(a.ID, 1);
  assert.equal(a.HomeDERP, 1, 'legacy DERP "127.3.3.40:1" → HomeDERP 1');
  assert.equal(a.DERP, undefined);
  assert.deepEqual(a.Endpoints, ['127.0.0.1:44370', '198.18.0.1:44370']);
  assert.equal(nm.domain, 'fake-control.example.net');
  assert.equal(nm.collectServices, true);
  assert.equal(nm.packetFilter.length, 2);
  assert.equal(nm.packetFilterKnown, true);
  assert.equal(nm.userProfiles.get(1)?.LoginName, 'user-1@fake-control.example.net');
  assert.equal(nm.derpMap?.Regions?.['1']?.Nodes?.[0]?.DERPPort, 33927);
  assert.equal(nm.controlTime, '2020-08-03T00:00:00.000000001Z');
  assert.equal(nm.magicDNSSuffix, '');
  // The second capture (go-a after go-b joined) replaces the peer list.
  const evs2 = dec.push(encodeMapMessage(samples.mapResponseForAAfterBJoined));
  const nm2 = (evs2.find((e) => e.type === 'netmap') as Extract<MapEvent, { type: 'netmap' }>).netmap;
  assert.deepEqual(nm2.peers.map((p) => p.ID), [2]);
  assert.equal(nm2.self.ID, 1);
  // The old snapshot is unaffected.
  assert.deepEqual(nm.peers.map((p) => p.ID), [1]);
});

test('samples: the recorded MapRequests parse as our MapRequest type', () => {
  const r = samples.mapRequestLiteUpdateWithEndpoints;
  assert.equal(r.Stream, false);
  assert.equal(r.OmitPeers, true);
  assert.deepEqual(r.EndpointTypes, [2, 1]);
  assert.equal(r.Hostinfo?.NetInfo?.PreferredDERP, 1);
  assert.equal(samples.mapRequestStream.Stream, true);
});

test('first non-keep-alive message must carry Node', () => {
  const dec = new MapStreamDecoder();
  assert.deepEqual(dec.push(encodeMapMessage({ KeepAlive: true })).map((e) => e.type), ['keepAlive']);
  assert.throws(() => dec.push(encodeMapMessage({ Peers: [node(1)] })), { code: 'ERR_BAD_MESSAGE' });
});

// ---------------------------------------------------------------------------
// docs/protocol/control.md §11 delta rules, one by one

function start(extra: MapResponse = {}): NetmapState {
  const s = new NetmapState();
  s.apply({ Node: self(), Peers: [node(1), node(2), node(3)], ...extra });
  return s;
}
const ids = (s: NetmapState): number[] => s.netmap()!.peers.map((p) => p.ID);
const peer = (s: NetmapState, id: number): Node => s.netmap()!.peers.find((p) => p.ID === id)!;

test('KeepAlive: everything but PingRequest, ControlTime, PopBrowserURL is ignored', () => {
  const s = start({ Domain: 'd1' });
  const r = s.apply({
    KeepAlive: true,
    Peers: [node(9)],
    Domain: 'd2',
    Node: self({ Name: 'other.x.' }),
    ControlTime: '2030-01-01T00:00:00Z',
    PingRequest: { URL: 'https://c/ping/1' },
    PopBrowserURL: 'https://c/pop',
  });
  assert.equal(r.keepAlive, true);
  assert.equal(r.changed, false);
  assert.equal(r.pingRequest?.URL, 'https://c/ping/1');
  assert.equal(r.popBrowserURL, 'https://c/pop');
  const nm = s.netmap()!;
  assert.deepEqual(ids(s), [1, 2, 3]);
  assert.equal(nm.domain, 'd1');
  assert.equal(nm.self.Name, 'me.tail.example.');
  assert.equal(nm.controlTime, '2030-01-01T00:00:00Z');
});

test('PingRequest and PopBrowserURL are deduplicated against the previous one', () => {
  const s = start();
  assert.ok(s.apply({ PingRequest: { URL: 'u1' } }).pingRequest);
  assert.equal(s.apply({ PingRequest: { URL: 'u1' } }).pingRequest, undefined);
  assert.ok(s.apply({ KeepAlive: true, PingRequest: { URL: 'u2' } }).pingRequest);
  assert.ok(s.apply({ PingRequest: { URL: 'u1' } }).pingRequest, 'only the last URL is remembered');
  assert.equal(s.apply({ PopBrowserURL: 'p' }).popBrowserURL, 'p');
  assert.equal(s.apply({ PopBrowserURL: 'p' }).popBrowserURL, undefined);
  // Ping dedup carries across sessions via lastPingURL.
  const s2 = new NetmapState({ lastPingURL: s.lastPingURL });
  assert.equal(s2.apply({ PingRequest: { URL: 'u1' } }).pingRequest, undefined);
});

test('Node: nil = unchanged; present = replaced (and normalized)', () => {
  const s = start();
  s.apply({ Domain: 'x' });
  assert.equal(s.netmap()!.self.Name, 'me.tail.example.');
  s.apply({ Node: self({ Name: 'me2.tail.example.', DERP: '127.3.3.40:7', AllowedIPs: null, Capabilities: ['https'], CapMap: { funnel: null } }) });
  const me = s.netmap()!.self;
  assert.equal(me.Name, 'me2.tail.example.');
  assert.equal(me.HomeDERP, 7);
  assert.deepEqual(me.AllowedIPs, ['100.64.0.100/32']);
  assert.deepEqual(me.CapMap, { funnel: null, https: null });
  assert.equal(s.netmap()!.magicDNSSuffix, 'tail.example');
});

test('Peers: non-empty is the complete list (sorted), and deltas in the same message are ignored', () => {
  const s = start();
  s.apply({ Peers: [node(5), node(4)], PeersRemoved: [4], PeersChanged: [node(6)], OnlineChange: { '5': true } });
  assert.deepEqual(ids(s), [4, 5]);
  assert.equal(peer(s, 5).Online, undefined);
  // Empty Peers is not "no peers": nothing changes.
  s.apply({ Peers: [] });
  assert.deepEqual(ids(s), [4, 5]);
});

test('PeersChanged upserts whole nodes; PeersRemoved deletes; removed-then-changed ends present', () => {
  const s = start();
  s.apply({ PeersChanged: [node(2, { Endpoints: ['1.2.3.4:5'], Online: true }), node(7)] });
  assert.deepEqual(ids(s), [1, 2, 3, 7]);
  assert.deepEqual(peer(s, 2).Endpoints, ['1.2.3.4:5']);
  s.apply({ PeersChanged: [node(2)] });
  assert.equal(peer(s, 2).Endpoints, undefined, 'full replacement, not a merge');
  assert.equal(peer(s, 2).Online, undefined);
  s.apply({ PeersRemoved: [1, 99] });
  assert.deepEqual(ids(s), [2, 3, 7]);
  s.apply({ PeersRemoved: [3], PeersChanged: [node(3, { Name: 'back.' })] });
  assert.equal(peer(s, 3).Name, 'back.');
});

test('PeersChangedPatch: each present field overwrites; unknown node IDs are ignored', () => {
  const s = start();
  const before = s.netmap()!;
  s.apply({
    PeersChangedPatch: [
      {
        NodeID: 1,
        DERPRegion: 3,
        Cap: 113,
        Endpoints: ['9.9.9.9:1'],
        Key: 'nodekey:' + 'ab'.repeat(32),
        DiscoKey: 'discokey:' + 'cd'.repeat(32),
        Online: true,
        LastSeen: '2026-01-01T00:00:00Z',
        KeyExpiry: '2027-01-01T00:00:00Z',
        KeySignature: 'c2ln',
        CapMap: { 'x:y': [1] },
      },
      { NodeID: 2, DERPRegion: 0, Cap: 0 },
      { NodeID: 42, Online: true },
    ],
  });
  const p = peer(s, 1);
  assert.equal(p.HomeDERP, 3);
  assert.equal(p.Cap, 113);
  assert.deepEqual(p.Endpoints, ['9.9.9.9:1']);
  assert.equal(p.Key, 'nodekey:' + 'ab'.repeat(32));
  assert.equal(p.DiscoKey, 'discokey:' + 'cd'.repeat(32));
  assert.equal(p.Online, true);
  assert.equal(p.LastSeen, '2026-01-01T00:00:00Z');
  assert.equal(p.KeyExpiry, '2027-01-01T00:00:00Z');
  assert.equal(p.KeySignature, 'c2ln');
  assert.deepEqual(p.CapMap, { 'x:y': [1] });
  assert.equal(p.Name, 'n1.tail.example.', 'untouched fields stay');
  assert.equal(peer(s, 2).HomeDERP, undefined, 'zero values do not overwrite');
  assert.deepEqual(ids(s), [1, 2, 3], 'unknown NodeID not added');
  assert.equal(before.peers[0]!.HomeDERP, undefined, 'earlier snapshot unchanged');
  // Empty endpoint list is a value (clears), absent is not.
  s.apply({ PeersChangedPatch: [{ NodeID: 1, Endpoints: [] }] });
  assert.deepEqual(peer(s, 1).Endpoints, []);
  s.apply({ PeersChangedPatch: [{ NodeID: 1 }] });
  assert.deepEqual(peer(s, 1).Endpoints, []);
  assert.equal(peer(s, 1).Online, true);
});

test('PeerSeenChange: true = LastSeen now, false = cleared; OnlineChange sets Online', () => {
  const s = start();
  const now = new Date('2026-05-05T05:05:05.000Z');
  s.apply({ PeerSeenChange: { '1': true, '2': false, '77': true } }, now);
  assert.equal(peer(s, 1).LastSeen, now.toISOString());
  s.apply({ PeersChangedPatch: [{ NodeID: 2, LastSeen: '2020-01-01T00:00:00Z' }] });
  s.apply({ PeerSeenChange: { '2': false } });
  assert.equal(peer(s, 2).LastSeen, undefined);
  s.apply({ OnlineChange: { '1': true, '3': false, '77': true } });
  assert.equal(peer(s, 1).Online, true);
  assert.equal(peer(s, 3).Online, false);
  assert.deepEqual(ids(s), [1, 2, 3]);
});

test('DERPMap: nil unchanged; nil Regions/HomeParams/RegionScore keep previous; null regions dropped', () => {
  const r1 = { RegionID: 1, Nodes: [{ Name: '1a', RegionID: 1, HostName: 'd1' }] };
  const r2 = { RegionID: 2, Nodes: [{ Name: '2a', RegionID: 2, HostName: 'd2' }] };
  const s = start({ DERPMap: { Regions: { '1': r1, '2': null }, HomeParams: { RegionScore: { '1': 0.5 } }, omitDefaultRegions: true } });
  let dm = s.netmap()!.derpMap!;
  assert.deepEqual(Object.keys(dm.Regions!), ['1']);
  s.apply({ Domain: 'x' });
  assert.deepEqual(s.netmap()!.derpMap, dm);
  s.apply({ DERPMap: { HomeParams: {} } });
  dm = s.netmap()!.derpMap!;
  assert.deepEqual(Object.keys(dm.Regions!), ['1'], 'Regions nil → previous');
  assert.equal(dm.omitDefaultRegions, true, 'with previous OmitDefaultRegions');
  assert.deepEqual(dm.HomeParams?.RegionScore, { '1': 0.5 }, 'RegionScore nil → previous');
  s.apply({ DERPMap: { Regions: { '2': r2 } } });
  dm = s.netmap()!.derpMap!;
  assert.deepEqual(Object.keys(dm.Regions!), ['2'], 'present Regions replace');
  assert.equal(dm.omitDefaultRegions, undefined);
  assert.deepEqual(dm.HomeParams?.RegionScore, { '1': 0.5 }, 'HomeParams nil → previous');
  s.apply({ DERPMap: { HomeParams: { RegionScore: { '2': 2 } } } });
  assert.deepEqual(s.netmap()!.derpMap!.HomeParams?.RegionScore, { '2': 2 });
  assert.deepEqual(Object.keys(s.netmap()!.derpMap!.Regions!), ['2']);
});

test('DNSConfig, Domain, CollectServices, SSHPolicy, Health, TKAInfo, audit log ID: absent = unchanged', () => {
  const s = start({
    DNSConfig: { Proxied: true, Domains: ['a'] },
    Domain: 'tailnet-1',
    CollectServices: true,
    SSHPolicy: { rules: [] },
    Health: ['h1'],
    TKAInfo: { Head: 'x' },
    DomainDataPlaneAuditLogID: 'log1',
  });
  s.apply({ Domain: '', DNSConfig: null, CollectServices: '', Health: null });
  let nm = s.netmap()!;
  assert.deepEqual(nm.dns, { Proxied: true, Domains: ['a'] });
  assert.equal(nm.domain, 'tailnet-1');
  assert.equal(nm.collectServices, true);
  assert.deepEqual(nm.sshPolicy, { rules: [] });
  assert.deepEqual(nm.health, ['h1']);
  assert.deepEqual(nm.tkaInfo, { Head: 'x' });
  assert.equal(nm.domainAuditLogID, 'log1');
  s.apply({ DNSConfig: { Proxied: false }, Domain: 'tailnet-2', CollectServices: false, Health: [] });
  nm = s.netmap()!;
  assert.deepEqual(nm.dns, { Proxied: false }, 'replaced, not merged');
  assert.equal(nm.domain, 'tailnet-2');
  assert.equal(nm.collectServices, false);
  assert.deepEqual(nm.health, []);
  s.apply({ CollectServices: 'true' });
  assert.equal(s.netmap()!.collectServices, true);
});

test('PacketFilter: nil unchanged, [] = deny all; PacketFilters chunks, "*": null clears, order by name', () => {
  const rule = (n: number) => ({ SrcIPs: [`100.64.0.${n}`], DstPorts: [{ IP: '*', Ports: { First: n, Last: n } }] });
  const s = new NetmapState();
  s.apply({ Node: self() });
  assert.equal(s.netmap()!.packetFilterKnown, false);
  s.apply({ PacketFilter: [rule(1)] });
  assert.deepEqual(s.netmap()!.packetFilter, [rule(1)]);
  s.apply({ Domain: 'x' });
  assert.deepEqual(s.netmap()!.packetFilter, [rule(1)], 'nil = unchanged');
  s.apply({ PacketFilter: [] });
  assert.deepEqual(s.netmap()!.packetFilter, [], 'non-nil empty = deny all');
  assert.equal(s.netmap()!.packetFilterKnown, true);
  s.apply({ PacketFilter: [rule(1)], PacketFilters: { zeta: [rule(3)], alpha: [rule(2)] } });
  assert.deepEqual(s.netmap()!.packetFilter, [rule(2), rule(1), rule(3)], 'alpha, base, zeta');
  s.apply({ PacketFilters: { alpha: null } });
  assert.deepEqual(s.netmap()!.packetFilter, [rule(1), rule(3)]);
  s.apply({ PacketFilters: { '*': null, mid: [rule(4)] } });
  assert.deepEqual(s.netmap()!.packetFilter, [rule(4)], '"*": null clears all chunks (base too) first');
  s.apply({ PacketFilter: [rule(5)], PacketFilters: { '*': null } });
  assert.deepEqual(s.netmap()!.packetFilter, [], 'PacketFilter is applied before PacketFilters');
  s.apply({ PacketFilters: { base: [rule(6)] } });
  assert.deepEqual(s.netmap()!.packetFilter, [rule(6)], 'PacketFilters can set "base"');
});

test('UserProfiles merge by ID; DisplayMessages is a patch map with "*": null', () => {
  const s = start({ UserProfiles: [{ ID: 1, LoginName: 'a' }, { ID: 2, LoginName: 'b' }] });
  s.apply({ UserProfiles: [{ ID: 2, LoginName: 'b2' }, { ID: 3, LoginName: 'c' }] });
  const up = s.netmap()!.userProfiles;
  assert.deepEqual([...up.keys()].sort(), [1, 2, 3]);
  assert.equal(up.get(2)?.LoginName, 'b2');
  s.apply({ DisplayMessages: { m1: { Title: 't1' }, m2: { Title: 't2' } } });
  s.apply({ DisplayMessages: { m1: null, m3: { Title: 't3' } } });
  assert.deepEqual([...s.netmap()!.displayMessages.keys()].sort(), ['m2', 'm3']);
  s.apply({ DisplayMessages: { '*': null, m4: { Title: 't4' } } });
  assert.deepEqual([...s.netmap()!.displayMessages.keys()], ['m4']);
});

test('AllowedIPs null/absent means Addresses; legacy DERP parsed only with the magic IP', () => {
  assert.deepEqual(normalizeNode(node(1)).AllowedIPs, ['100.64.0.1/32']);
  assert.deepEqual(normalizeNode(node(1, { AllowedIPs: ['10.0.0.0/8'] })).AllowedIPs, ['10.0.0.0/8']);
  assert.deepEqual(normalizeNode(node(1, { AllowedIPs: [] })).AllowedIPs, []);
  assert.equal(normalizeNode(node(1, { DERP: '127.3.3.40:12' })).HomeDERP, 12);
  assert.equal(normalizeNode(node(1, { DERP: '127.3.3.40:12', HomeDERP: 4 })).HomeDERP, 4);
  assert.equal(normalizeNode(node(1, { DERP: '1.2.3.4:12' })).HomeDERP, undefined);
  assert.equal(magicDNSSuffixOf('host.tail-scale.ts.net.'), 'tail-scale.ts.net');
  assert.equal(magicDNSSuffixOf('host'), '');
});

test('stream decoder: keep-alives, pings and netmaps come out as events', () => {
  const dec = new MapStreamDecoder({ now: () => new Date(0) });
  const bytes = Buffer.concat([
    encodeMapMessage({ Node: self(), Peers: [node(1)] }),
    encodeMapMessage({ KeepAlive: true, PingRequest: { URL: 'https://c/p', Types: '' } }),
    encodeMapMessage({ PeersRemoved: [1] }),
  ]);
  const evs = dec.push(bytes);
  assert.deepEqual(evs.map((e) => e.type), ['netmap', 'pingRequest', 'keepAlive', 'netmap']);
  const last = evs[3] as Extract<MapEvent, { type: 'netmap' }>;
  assert.equal(last.netmap.peers.length, 0);
  assert.equal(dec.messages, 3);
});

test('the effective filter array is reused until a filter field arrives (cheap engine updates)', () => {
  const s = new NetmapState();
  s.apply({ Node: self(), PacketFilter: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }] });
  const f1 = s.netmap()!.packetFilter;
  s.apply({ OnlineChange: { '1': true }, Domain: 'x' });
  assert.equal(s.netmap()!.packetFilter, f1);
  s.apply({ PacketFilters: { extra: [] } });
  assert.notEqual(s.netmap()!.packetFilter, f1);
  assert.deepEqual(s.netmap()!.packetFilter, f1);
});
