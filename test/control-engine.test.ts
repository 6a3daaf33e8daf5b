import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetmapState } from '../lib/wire/netmap.js';
import { engineConfigFromNetmap } from '../lib/wire/engine-config.js';
import { buildRegisterRequest, classifyRegisterResponse, LOGOUT_EXPIRY, retryAfterMs } from '../lib/control/register.js';
import { Backoff } from '../lib/util/backoff.js';
import { dialCandidates, isPrivateHost } from '../lib/control/dial.js';
import { parseServerKeyResponse } from '../lib/control/server-key.js';
import { EarlyPayloadParser, encodeEarlyPayload } from '../lib/control/early-payload.js';
import { generateKeyPair } from '../lib/wire/keys.js';
import { c2nNotFoundResponse, pingKind } from '../lib/control/ping.js';
import type { MapResponse, Node } from '../lib/wire/tailcfg.js';

const samples = JSON.parse(readFileSync(join(__dirname, 'fixtures/control/map-samples.json'), 'utf8')) as Record<string, MapResponse>;

test('engine config from the recorded go-b map: peer keys, allowed IPs, endpoints, home DERP, filter', () => {
  const s = new NetmapState();
  s.apply(structuredClone(samples['mapResponseFirstForB']!));
  const cfg = engineConfigFromNetmap(s.netmap()!);
  assert.deepEqual(cfg.addresses, ['100.64.0.2/32', 'fd7a:115c:a1e0:ab12:4843:cd96:6240:2/128']);
  assert.equal(cfg.peers.length, 1);
  const p = cfg.peers[0]!;
  assert.equal(p.nodeKey.toString('hex'), '8dcc035481c7956a7eae3f760dea7b434d3d208b7dd311f33bd501e2ec020158');
  assert.equal(p.discoKey?.toString('hex'), 'f523736ffbf7e44ae77a2fea0e6caf48e8446b6ae26709d3aaa246528ef7ab26');
  assert.deepEqual(p.allowedIPs, ['100.64.0.1/32', 'fd7a:115c:a1e0:ab12:4843:cd96:6240:1/128']);
  assert.deepEqual(p.endpoints, ['127.0.0.1:44370', '198.18.0.1:44370']);
  assert.equal(p.homeDERP, 1);
  assert.equal(p.keyExpiry, null);
  assert.equal(cfg.filter.matches.length, 1);
  assert.equal(cfg.filter.capGrants.length, 1);
  assert.equal(cfg.derpMap?.Regions?.['1']?.Nodes?.[0]?.InsecureForTests, true);
});

test('engine config: peers with a low-order node key are skipped (no handshake could succeed), with the reason', () => {
  const s = new NetmapState();
  const mk = (id: number, key: string): Node => ({
    ID: id,
    Key: `nodekey:${key}`,
    Name: `host${id}.tail.example.`,
    Addresses: [`100.64.0.${id}/32`],
  });
  const order8 = 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800';
  const pPlus1 = `ee${'ff'.repeat(30)}7f`;
  const good = generateKeyPair().publicKey.toString('hex');
  s.apply({ Node: mk(1, generateKeyPair().publicKey.toString('hex')), Peers: [mk(2, order8), mk(3, good), mk(4, pPlus1), mk(5, '00'.repeat(32))] });
  const cfg = engineConfigFromNetmap(s.netmap()!);
  assert.deepEqual(cfg.peers.map((p) => p.id), [3]);
  assert.deepEqual(cfg.skippedPeers, [
    { id: 2, reason: 'low-order node key' },
    { id: 4, reason: 'low-order node key' },
    { id: 5, reason: 'zero node key' },
  ]);
});

test('engine config: expired and malformed peers are skipped; MagicDNS names', () => {
  const s = new NetmapState();
  const mk = (id: number, extra: Partial<Node> = {}): Node => ({
    ID: id,
    Key: 'nodekey:' + id.toString(16).padStart(2, '0').repeat(32),
    Name: `host${id}.tail.example.`,
    Addresses: [`100.64.0.${id}/32`, `fd7a:115c:a1e0::${id}/128`],
    ...extra,
  });
  s.apply({
    Node: mk(1, { Name: 'Me.tail.example.' }),
    Peers: [mk(2), mk(3, { KeyExpiry: '2000-01-01T00:00:00Z' }), mk(4, { Key: 'nodekey:bad' }), mk(5, { KeyExpiry: '0001-01-01T00:00:00Z' }), mk(6, { Name: 'other.elsewhere.' })],
    DNSConfig: { Proxied: true, ExtraRecords: [{ Name: 'svc.tail.example', Value: '100.100.1.1' }], CertDomains: ['me.tail.example'] },
  });
  const cfg = engineConfigFromNetmap(s.netmap()!, new Date('2026-01-01T00:00:00Z'));
  assert.deepEqual(cfg.peers.map((p) => p.id), [2, 5, 6]);
  assert.deepEqual(cfg.skippedPeers.map((p) => p.id), [3, 4]);
  assert.equal(cfg.magicDNSSuffix, 'tail.example');
  assert.equal(cfg.magicDNS, true);
  const names = new Map(cfg.dnsNames.map((n) => [n.name, n.addrs]));
  assert.deepEqual(names.get('me.tail.example'), ['100.64.0.1', 'fd7a:115c:a1e0::1']);
  assert.deepEqual(names.get('me'), ['100.64.0.1', 'fd7a:115c:a1e0::1']);
  assert.deepEqual(names.get('host2'), ['100.64.0.2', 'fd7a:115c:a1e0::2']);
  assert.ok(names.has('other.elsewhere'));
  assert.ok(!names.has('other'));
  assert.deepEqual(cfg.extraRecords, [{ Name: 'svc.tail.example', Value: '100.100.1.1' }]);
  assert.deepEqual(cfg.certDomains, ['me.tail.example']);
});

test('register request/response handling', () => {
  const nk = generateKeyPair().publicKey;
  const req = buildRegisterRequest({ version: 113, nodePublic: nk, hostinfo: { Hostname: 'h' }, authKey: 'tskey-auth-x', ephemeral: true, nlPublicHex: 'ab'.repeat(32) });
  assert.equal(req.Version, 113);
  assert.equal(req.OldNodeKey, 'nodekey:' + '00'.repeat(32));
  assert.deepEqual(req.Auth, { AuthKey: 'tskey-auth-x' });
  assert.equal(req.Ephemeral, true);
  assert.equal(req.NLKey, 'nlpub:' + 'ab'.repeat(32));
  assert.equal(req.Followup, undefined);
  const logout = buildRegisterRequest({ version: 113, nodePublic: nk, hostinfo: {}, expiry: LOGOUT_EXPIRY });
  assert.equal(logout.Expiry, '1970-01-01T00:02:03Z');
  assert.equal(logout.Auth, undefined);
  assert.equal(logout.Ephemeral, undefined);
  assert.deepEqual(classifyRegisterResponse({ MachineAuthorized: true }).kind, 'registered');
  const na = classifyRegisterResponse({ MachineAuthorized: false });
  assert.ok(na.kind === 'registered' && !na.machineAuthorized);
  assert.deepEqual(classifyRegisterResponse({ AuthURL: 'https://x/a/1' }), { kind: 'authURL', url: 'https://x/a/1', response: { AuthURL: 'https://x/a/1' } });
  assert.equal(classifyRegisterResponse({ NodeKeyExpired: true }).kind, 'nodeKeyExpired');
  assert.throws(() => classifyRegisterResponse({ Error: 'invalid key' }), { code: 'ERR_REGISTER', message: /invalid key/ });
  assert.equal(retryAfterMs('7'), 7000);
  assert.equal(retryAfterMs('9999'), 60000);
  assert.equal(retryAfterMs(undefined), null);
});

test('backoff grows with jitter to the 30 s cap and resets', () => {
  const b = new Backoff({ initialMs: 1000, random: () => 1 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  b.reset();
  const low = new Backoff({ initialMs: 1000, random: () => 0 });
  assert.equal(low.next(), 500);
});

test('dial candidates follow Tailscale port rules', () => {
  const c = (u: string) => dialCandidates(new URL(u)).map((x) => `${x.protocol}${x.port}`);
  assert.deepEqual(c('https://controlplane.tailscale.com'), ['http:80', 'https:443']);
  assert.deepEqual(c('https://hs.example.com:8443'), ['https:8443']);
  assert.deepEqual(c('http://hs.example.com:8080'), ['http:8080', 'https:443']);
  assert.deepEqual(c('http://127.0.0.1:8080'), ['http:8080']);
  assert.deepEqual(c('http://localhost'), ['http:80']);
  assert.deepEqual(c('http://[::1]:9'), ['http:9']);
  assert.ok(isPrivateHost('192.168.1.1') && isPrivateHost('10.1.2.3') && isPrivateHost('fd00::1') && !isPrivateHost('8.8.8.8'));
});

test('/key response parsing', () => {
  const k = 'mkey:' + '11'.repeat(32);
  assert.equal(parseServerKeyResponse(JSON.stringify({ legacyPublicKey: 'mkey:' + '00'.repeat(32), publicKey: k })).toString('hex'), '11'.repeat(32));
  assert.throws(() => parseServerKeyResponse('11'.repeat(32)), { code: 'ERR_SERVER_KEY', message: /too old/ });
  assert.throws(() => parseServerKeyResponse('{"legacyPublicKey":"x"}'), { code: 'ERR_SERVER_KEY' });
  assert.throws(() => parseServerKeyResponse(JSON.stringify({ publicKey: 'mkey:' + '00'.repeat(32) })), { code: 'ERR_SERVER_KEY' });
  assert.throws(() => parseServerKeyResponse('<html>'), { code: 'ERR_SERVER_KEY' });
});

test('early payload: parsed when present, passed through when not, bounded', () => {
  const ep = encodeEarlyPayload({ nodeKeyChallenge: 'chalpub:' + 'aa'.repeat(32) });
  assert.deepEqual(ep.subarray(0, 5), Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53]));
  const p = new EarlyPayloadParser();
  const all = Buffer.concat([ep, Buffer.from('PRI * HTTP/2.0')]);
  let data: Buffer[] = [];
  let payload;
  for (const b of all) {
    const step = p.push(Buffer.from([b]));
    data = data.concat(step.data);
    payload ??= step.payload;
  }
  assert.deepEqual(payload, { nodeKeyChallenge: 'chalpub:' + 'aa'.repeat(32) });
  assert.equal(Buffer.concat(data).toString(), 'PRI * HTTP/2.0');
  const q = new EarlyPayloadParser();
  assert.equal(Buffer.concat(q.push(Buffer.from('PRI * HTTP/2.0\r\n')).data).toString(), 'PRI * HTTP/2.0\r\n');
  const big = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0x01, 0, 0, 0]);
  assert.throws(() => new EarlyPayloadParser().push(big), { code: 'ERR_EARLY_PAYLOAD' });
  const bad = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0, 0, 0, 2, 0x7b, 0x7b]);
  assert.throws(() => new EarlyPayloadParser().push(bad), { code: 'ERR_EARLY_PAYLOAD' });
});

test('ping kinds and the c2n placeholder answer', () => {
  assert.equal(pingKind({ URL: 'x' }), 'liveness');
  assert.equal(pingKind({ URL: 'x', Types: 'c2n' }), 'c2n');
  assert.equal(pingKind({ URL: 'x', Types: 'disco,TSMP' }), 'data-plane');
  assert.match(c2nNotFoundResponse().toString(), /^HTTP\/1\.1 404 Not Found\r\n/);
});

test('engine config diff: added, removed, re-keyed, changed peers and other parts', async () => {
  const { diffEngineConfig } = await import('../lib/control/engine-diff.js');
  const mk = (id: number, extra: Partial<Node> = {}): Node => ({
    ID: id,
    Key: 'nodekey:' + id.toString(16).padStart(2, '0').repeat(32),
    Name: `h${id}.t.example.`,
    Addresses: [`100.64.0.${id}/32`],
    ...extra,
  });
  const s = new NetmapState();
  s.apply({ Node: mk(1), Peers: [mk(2), mk(3), mk(4)], PacketFilter: [] });
  const c1 = engineConfigFromNetmap(s.netmap()!);
  const first = diffEngineConfig(null, c1);
  assert.equal(first.added.length, 3);
  assert.ok(first.filterChanged && first.addressesChanged && first.derpMapChanged);
  s.apply({ OnlineChange: { '2': true } });
  const c2 = engineConfigFromNetmap(s.netmap()!);
  assert.equal(diffEngineConfig(c1, c2).empty, true, 'Online is not data-plane relevant');
  s.apply({
    PeersRemoved: [3],
    PeersChangedPatch: [{ NodeID: 2, Endpoints: ['1.2.3.4:5'] }, { NodeID: 4, Key: 'nodekey:' + 'ee'.repeat(32) }],
    PeersChanged: [mk(5)],
  });
  const c3 = engineConfigFromNetmap(s.netmap()!);
  const d = diffEngineConfig(c2, c3);
  assert.deepEqual(d.added.map((p) => p.id).sort(), [4, 5]);
  assert.deepEqual(d.removed.map((p) => p.id).sort(), [3, 4]);
  assert.deepEqual(d.changed.map((p) => p.id), [2]);
  assert.equal(d.filterChanged, false);
  assert.equal(d.derpMapChanged, false);
  assert.equal(d.dnsChanged, true);
});

test('our MapRequest and Hostinfo use only field names a real client sends (recorded tsnet v1.72.1)', async () => {
  const { buildMapRequest } = await import('../lib/control/map-poll.js');
  const { defaultHostinfo } = await import('../lib/control/hostinfo.js');
  const real = samples as unknown as Record<string, Record<string, unknown>>;
  const realKeys = new Set(['mapRequestStream', 'mapRequestLiteUpdate', 'mapRequestLiteUpdateWithEndpoints'].flatMap((k) => Object.keys(real[k]!)));
  const realHostinfoKeys = new Set(
    ['mapRequestStream', 'mapRequestLiteUpdateWithEndpoints'].flatMap((k) => Object.keys(real[k]!['Hostinfo'] as object)),
  );
  const hi = defaultHostinfo({ hostname: 'h', backendLogID: 'ab'.repeat(32) });
  const req = buildMapRequest({
    version: 113,
    nodePublic: generateKeyPair().publicKey,
    discoPublic: generateKeyPair().publicKey,
    hostinfo: hi,
    endpoints: [{ addr: '127.0.0.1:1', type: 1 }],
  });
  for (const k of Object.keys(req)) assert.ok(realKeys.has(k), `MapRequest.${k} not in the recorded requests`);
  // Fields newer than the recording, with the capability version that asks for them (docs/protocol/capver.md).
  const newer = new Set(['StateEncrypted' /* 118 */]);
  for (const k of Object.keys(hi)) assert.ok(realHostinfoKeys.has(k) || newer.has(k), `Hostinfo.${k} not in the recorded requests`);
  assert.match(req.NodeKey, /^nodekey:[0-9a-f]{64}$/);
  assert.match(req.DiscoKey!, /^discokey:[0-9a-f]{64}$/);
  assert.deepEqual(req.EndpointTypes, [1]);
});

test('DERP regions for the engine: sorted, defaults applied, "none" honoured', async () => {
  const { derpRegionsFrom } = await import('../lib/wire/engine-config.js');
  const s = new NetmapState();
  s.apply(structuredClone(samples['mapResponseFirstForB']!));
  const cfg = engineConfigFromNetmap(s.netmap()!);
  assert.deepEqual(cfg.derpRegions, [
    {
      id: 1,
      code: 'test',
      name: 'Loopback test region',
      avoid: false,
      noMeasureNoHome: false,
      nodes: [
        {
          name: 't1',
          regionID: 1,
          hostName: '127.0.0.1',
          ipv4: '127.0.0.1',
          useIPv4: true,
          ipv6: null,
          useIPv6: false,
          derpPort: 33927,
          stunPort: 46357,
          stunOnly: false,
          certName: '',
          insecureForTests: true,
          canPort80: false,
        },
      ],
    },
  ]);
  const r = derpRegionsFrom({
    Regions: {
      '9': { RegionID: 9, Nodes: [{ Name: '9a', RegionID: 9, HostName: 'd9.example', STUNPort: -1 }] },
      '2': { RegionID: 2, Nodes: [{ Name: '2a', RegionID: 2, HostName: 'd2.example', CertName: 'sha256-raw:00' }] },
      '3': null,
    },
  });
  assert.deepEqual(r.map((x) => x.id), [2, 9]);
  assert.equal(r[0]!.nodes[0]!.derpPort, 443);
  assert.equal(r[0]!.nodes[0]!.stunPort, 3478);
  assert.equal(r[0]!.nodes[0]!.certName, 'sha256-raw:00');
  assert.equal(r[0]!.nodes[0]!.ipv4, null);
  assert.equal(r[0]!.nodes[0]!.useIPv4, true);
  assert.equal(r[1]!.nodes[0]!.stunPort, null);
});

test('c2n: request parsing, handlers and response serialization', async () => {
  const { parseC2NRequest, serializeC2NResponse, answerC2NPayload } = await import('../lib/control/c2n.js');
  const r = parseC2NRequest(Buffer.from('POST /echo?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nC2n-Handler-Timeout: 5s\r\n\r\nabcdef'));
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/echo?x=1');
  assert.equal(r.headers['c2n-handler-timeout'], '5s');
  assert.equal(r.body.toString(), 'abc');
  assert.throws(() => parseC2NRequest(Buffer.from('garbage')), { code: 'ERR_BAD_MESSAGE' });
  assert.throws(() => parseC2NRequest(Buffer.from('GET / HTTP/1.1\r\nbad\r\n\r\n')), { code: 'ERR_BAD_MESSAGE' });
  assert.equal(serializeC2NResponse({ status: 200, body: 'hi' }).toString(), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
  assert.match(answerC2NPayload(Buffer.from('not http').toString('base64')).toString(), /^HTTP\/1\.1 400 Bad Request/);
  assert.match(answerC2NPayload(null).toString(), /^HTTP\/1\.1 400/);
});

test('c2n: routing as Tailscale answers it, and the debug handlers', async () => {
  const { handleC2N } = await import('../lib/control/c2n.js');
  const req = (method: string, path: string, body = '') => ({ method, path, headers: {}, body: Buffer.from(body) });
  assert.equal(handleC2N(req('GET', '/nope')).status, 400);
  assert.equal(handleC2N(req('POST', '/vip-services')).status, 405, 'a known path with another method');
  assert.equal(handleC2N(req('GET', '/vip-services?x=1')).status, 200);
  assert.equal(handleC2N(req('GET', '/debug/health')).status, 501, 'no source lent');
  const nm = { SelfNode: { ID: 1 }, Peers: [], Domain: 'd' };
  const ctx = { netmap: () => nm, health: () => ({ Warnings: null }), metrics: () => 'm 1\n' };
  const got = handleC2N(req('GET', '/debug/netmap'), ctx);
  assert.equal(got.status, 200);
  assert.deepEqual(JSON.parse(String(got.body)), { current: nm });
  const omitted = handleC2N(req('POST', '/debug/netmap', JSON.stringify({ omitFields: ['Peers', 'NoSuchField'] })), ctx);
  assert.deepEqual(JSON.parse(String(omitted.body)), { current: { SelfNode: { ID: 1 }, Domain: 'd' } });
  assert.deepEqual(nm.Peers, [], 'omitting fields leaves the netmap given alone');
  for (const bad of ['{', '[]', '{"omitFields":[1]}', 'null']) {
    assert.equal(handleC2N(req('POST', '/debug/netmap', bad), ctx).status, 400, bad);
  }
  assert.equal(handleC2N(req('POST', '/debug/netmap', '{"candidate":{}}'), ctx).status, 501);
  assert.equal(handleC2N(req('PUT', '/debug/netmap'), ctx).status, 405);
  assert.deepEqual(JSON.parse(String(handleC2N(req('GET', '/debug/health'), ctx).body)), { Warnings: null });
  assert.equal(String(handleC2N(req('GET', '/debug/metrics'), ctx).body), 'm 1\n');
});

test('c2n: /debug/tka/log says tailnet lock is not active; /remoteapi/localapi/* is refused (remote config is off), as Tailscale answers', async () => {
  const { handleC2N } = await import('../lib/control/c2n.js');
  const req = (method: string, path: string) => ({ method, path, headers: {}, body: Buffer.alloc(0) });
  const tka = handleC2N(req('GET', '/debug/tka/log?limit=10'));
  assert.deepEqual([tka.status, String(tka.body)], [400, 'tailnet lock not active\n']);
  for (const p of ['/remoteapi/localapi/v0/status', '/remoteapi/localapi/v0/prefs']) {
    const r = handleC2N(req('PATCH', p));
    assert.deepEqual([r.status, String(r.body)], [403, 'remote config not enabled by local machine\n']);
  }
  assert.equal(handleC2N(req('GET', '/remoteapi/other')).status, 400, 'only the LocalAPI prefix is the proxy');
});
