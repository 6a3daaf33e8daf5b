import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, PolicyError, parsePorts, parseGrantIP, splitHostPorts } from '../lib/devnet/policy.js';
import { compileFilter, compileNodeCapMap, userOwnsTag, type PolicyNode } from '../lib/devnet/acl-compile.js';

const nodes: PolicyNode[] = [
  { id: 1, addresses: ['100.64.0.1', 'fd7a:115c:a1e0::6440:1'], user: 'alice@example.com', tags: [] },
  { id: 2, addresses: ['100.64.0.2', 'fd7a:115c:a1e0::6440:2'], user: 'bob@example.com', tags: [] },
  { id: 3, addresses: ['100.64.0.3', 'fd7a:115c:a1e0::6440:3'], user: 'alice@example.com', tags: ['tag:server'] },
  { id: 4, addresses: ['100.64.0.4', 'fd7a:115c:a1e0::6440:4'], user: 'carol@example.com', tags: [] },
];
const A = ['100.64.0.1', 'fd7a:115c:a1e0::6440:1'];
const B = ['100.64.0.2', 'fd7a:115c:a1e0::6440:2'];
const S = ['100.64.0.3', 'fd7a:115c:a1e0::6440:3'];
const C = ['100.64.0.4', 'fd7a:115c:a1e0::6440:4'];
const sortIPs = (l: string[]): string[] => [...l].sort((x, y) => (x.includes(':') ? 1 : 0) - (y.includes(':') ? 1 : 0) || (x < y ? -1 : 1));
const ports = (ips: string[], first: number, last = first) => ips.map((IP) => ({ IP, Ports: { First: first, Last: last } }));

test('acl: ports, grant ip specs and host:port splitting', () => {
  assert.deepEqual(parsePorts('*'), [{ first: 0, last: 65535 }]);
  assert.deepEqual(parsePorts('22'), [{ first: 22, last: 22 }]);
  assert.deepEqual(parsePorts('80,443,8000-8999'), [{ first: 80, last: 80 }, { first: 443, last: 443 }, { first: 8000, last: 8999 }]);
  for (const bad of ['', '65536', '10-5', 'http', '1-2-3', '-1']) assert.equal(parsePorts(bad), null, bad);
  assert.deepEqual(parseGrantIP('tcp:443'), { protos: [6], ports: [{ first: 443, last: 443 }] });
  assert.deepEqual(parseGrantIP('udp:*'), { protos: [17], ports: [{ first: 0, last: 65535 }] });
  assert.deepEqual(parseGrantIP('icmp:*'), { protos: [1, 58], ports: [{ first: 0, last: 65535 }] });
  assert.deepEqual(parseGrantIP('53'), { protos: [], ports: [{ first: 53, last: 53 }] });
  assert.equal(parseGrantIP('bogus:1'), null);
  assert.deepEqual(splitHostPorts('fd7a:115c:a1e0::/48:22'), { host: 'fd7a:115c:a1e0::/48', ports: '22' });
  assert.deepEqual(splitHostPorts('tag:server:80,443'), { host: 'tag:server', ports: '80,443' });
});

test('acl: no policy means allow all', () => {
  assert.deepEqual(compileFilter(null, nodes), [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }]);
});

test('acl: users, groups, tags, autogroup:member, ports and ranges', () => {
  const p = parsePolicy(`{
    "groups": {"group:eng": ["alice@example.com", "bob@example.com"]},
    "tagOwners": {"tag:server": ["group:eng"]},
    "hosts": {"db": "192.168.7.0/24"},
    "acls": [
      // engineers reach the servers on web ports and a range
      {"action": "accept", "src": ["group:eng"], "dst": ["tag:server:80,443", "tag:server:8000-8999"]},
      // bob reaches alice over ssh
      {"action": "accept", "src": ["bob@example.com"], "dst": ["alice@example.com:22"]},
      // members reach the db subnet on udp
      {"action": "accept", "src": ["autogroup:member"], "dst": ["db:5432"], "proto": "udp"},
      // servers reach anything
      {"action": "accept", "src": ["tag:server"], "dst": ["*:*"]},
    ],
  }`);
  const rules = compileFilter(p, nodes);
  assert.equal(rules.length, 4);
  assert.deepEqual(rules[0], {
    SrcIPs: sortIPs([...A, ...B]),
    DstPorts: [...ports([S[0]!], 80), ...ports([S[0]!], 443), ...ports([S[1]!], 80), ...ports([S[1]!], 443), ...ports(S, 8000, 8999)],
  });
  // Alice's tagged server is not "alice" any more.
  assert.deepEqual(rules[1], { SrcIPs: B, DstPorts: ports(A, 22) });
  assert.deepEqual(rules[2], { SrcIPs: sortIPs([...A, ...B, ...C]), DstPorts: ports(['192.168.7.0/24'], 5432), IPProto: [17] });
  assert.deepEqual(rules[3], { SrcIPs: S, DstPorts: ports(['*'], 0, 65535) });
});

test('acl: autogroup:self gives one rule per user', () => {
  const p = parsePolicy({ acls: [{ action: 'accept', src: ['autogroup:member'], dst: ['autogroup:self:*'] }] });
  const rules = compileFilter(p, nodes);
  assert.deepEqual(rules, [
    { SrcIPs: A, DstPorts: ports(A, 0, 65535) },
    { SrcIPs: B, DstPorts: ports(B, 0, 65535) },
    { SrcIPs: C, DstPorts: ports(C, 0, 65535) },
  ]);
});

test('acl: grants with ip protocols and app capabilities', () => {
  const p = parsePolicy(`{
    "grants": [
      {"src": ["alice@example.com"], "dst": ["tag:server"], "ip": ["tcp:443", "udp:53", "tcp:22"]},
      {"src": ["*"], "dst": ["autogroup:member"], "ip": ["*"]},
      {"src": ["group:admins"], "dst": ["tag:server"], "app": {"example.com/cap/admin": [{"role": "admin"}]}},
    ],
    "groups": {"group:admins": ["carol@example.com"]},
  }`);
  const rules = compileFilter(p, nodes);
  assert.deepEqual(rules[0], { SrcIPs: A, DstPorts: [...ports([S[0]!], 443), ...ports([S[0]!], 22), ...ports([S[1]!], 443), ...ports([S[1]!], 22)], IPProto: [6] });
  assert.deepEqual(rules[1], { SrcIPs: A, DstPorts: [...ports(S, 53)], IPProto: [17] });
  assert.deepEqual(rules[2], { SrcIPs: ['*'], DstPorts: ports(sortIPs([...A, ...B, ...C]), 0, 65535) });
  assert.deepEqual(rules[3], {
    SrcIPs: C,
    CapGrant: [{ Dsts: ['100.64.0.3/32', 'fd7a:115c:a1e0::6440:3/128'], CapMap: { 'example.com/cap/admin': [{ role: 'admin' }] } }],
  });
  assert.equal(rules.length, 4);
});

test('acl: rules that match no node are dropped', () => {
  const p = parsePolicy({ acls: [{ action: 'accept', src: ['tag:nobody'], dst: ['*:*'] }] });
  assert.deepEqual(compileFilter(p, nodes), []);
});

test('acl: nodeAttrs and tagOwners', () => {
  const p = parsePolicy({
    groups: { 'group:ops': ['bob@example.com'] },
    tagOwners: { 'tag:ci': ['group:ops'], 'tag:any': ['autogroup:member'] },
    nodeAttrs: [
      { target: ['tag:server'], attr: ['funnel', 'https'] },
      { target: ['*'], app: { 'example.com/cap/x': [1] } },
    ],
  });
  assert.deepEqual(compileNodeCapMap(p, nodes, nodes[2]!), { funnel: null, https: null, 'example.com/cap/x': [1] });
  assert.deepEqual(compileNodeCapMap(p, nodes, nodes[0]!), { 'example.com/cap/x': [1] });
  assert.equal(userOwnsTag(p, 'bob@example.com', 'tag:ci'), true);
  assert.equal(userOwnsTag(p, 'alice@example.com', 'tag:ci'), false);
  assert.equal(userOwnsTag(p, 'alice@example.com', 'tag:any'), true);
  assert.equal(userOwnsTag(p, 'alice@example.com', 'tag:unknown'), false);
});

test('acl: invalid policies are rejected with a location', () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /must be a JSON object/],
    [{ acls: {} }, /acls must be a list/],
    [{ acls: [{ action: 'drop', src: ['*'], dst: ['*:*'] }] }, /acls\[0\]\.action/],
    [{ acls: [{ action: 'accept', src: ['group:nope'], dst: ['*:*'] }] }, /unknown group group:nope/],
    [{ acls: [{ action: 'accept', src: ['*'], dst: ['*'] }] }, /must be "selector:ports"/],
    [{ acls: [{ action: 'accept', src: ['*'], dst: ['*:99999'] }] }, /invalid ports/],
    [{ acls: [{ action: 'accept', src: ['*'], dst: ['*:*'], proto: 'carrier-pigeon' }] }, /unknown protocol/],
    [{ acls: [{ action: 'accept', src: ['somehost'], dst: ['*:*'] }] }, /unknown selector "somehost"/],
    [{ acls: [{ action: 'accept', src: ['autogroup:self'], dst: ['*:*'] }] }, /not supported as a src/],
    [{ grants: [{ src: ['*'], dst: ['*'] }] }, /needs "ip" or "app"/],
    [{ grants: [{ src: ['*'], dst: ['*'], ip: ['tcp:x'] }] }, /grants\[0\]\.ip: invalid entry/],
    [{ grants: [{ src: ['*'], dst: ['*'], ip: ['*'], via: ['tag:x'] }] }, /via is not supported/],
    [{ groups: { eng: [] } }, /must start with "group:"/],
    [{ hosts: { db: 'not-an-ip' } }, /hosts\[db\]/],
    [{ tagOwners: { 'tag:x': ['nobody'] } }, /unknown selector/],
  ];
  for (const [p, re] of bad) assert.throws(() => parsePolicy(p as object), (e: unknown) => e instanceof PolicyError && re.test(e.message), JSON.stringify(p));
  assert.throws(() => parsePolicy('{"acls": [,]}'), /line 1/);
});

test('acl: unknown top-level sections (ssh, tests) are ignored', () => {
  const p = parsePolicy('{"ssh": [{"action": "check"}], "tests": [], "acls": []}');
  assert.deepEqual(compileFilter(p, nodes), []);
});

test('acl: a full example policy file (fixture) parses and compiles', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const text = readFileSync(join(__dirname, 'fixtures/devnet/policy.hujson'), 'utf8');
  const p = parsePolicy(text);
  const ns: PolicyNode[] = [
    { id: 1, addresses: ['100.64.0.1', 'fd7a:115c:a1e0::6440:1'], user: 'alice@example.com', tags: [] },
    { id: 2, addresses: ['100.64.0.2', 'fd7a:115c:a1e0::6440:2'], user: 'alice@example.com', tags: ['tag:web'] },
    { id: 3, addresses: ['100.64.0.3', 'fd7a:115c:a1e0::6440:3'], user: 'carol@example.com', tags: ['tag:db'] },
    { id: 4, addresses: ['100.64.0.4', 'fd7a:115c:a1e0::6440:4'], user: 'carol@example.com', tags: [] },
  ];
  const rules = compileFilter(p, ns);
  const find = (pred: (r: (typeof rules)[number]) => boolean) => rules.filter(pred);
  // autogroup:self: one rule for alice's untagged node, one for carol's.
  assert.equal(find((r) => r.SrcIPs?.[0] === '100.64.0.1' && r.DstPorts?.[0]?.IP === '100.64.0.1').length, 1);
  // dev → web on three port ranges × two addresses.
  assert.deepEqual(find((r) => r.DstPorts?.some((d) => d.Ports.First === 8000) === true)[0]?.DstPorts?.length, 6);
  // web → db.
  assert.ok(find((r) => r.SrcIPs?.[0] === '100.64.0.2' && r.DstPorts?.[0]?.Ports.First === 5432).length === 1);
  // CI has no nodes: no ICMP rule.
  assert.equal(find((r) => !!r.IPProto?.includes(1)).length, 0);
  // Printer and LAN literals.
  assert.ok(find((r) => r.DstPorts?.some((d) => d.IP === '192.168.10.7' && d.Ports.First === 631) === true).length === 1);
  assert.ok(find((r) => r.DstPorts?.some((d) => d.IP === '192.168.10.0/24') === true).length === 1);
  // App grant and DNS grant (one rule per protocol).
  assert.deepEqual(find((r) => !!r.CapGrant)[0]?.CapGrant?.[0]?.CapMap, { 'example.com/cap/admin-ui': [{ role: 'owner' }] });
  assert.deepEqual(find((r) => r.DstPorts?.[0]?.Ports.First === 53).map((r) => r.IPProto), [[17], [6]]);
  assert.deepEqual(compileNodeCapMap(p, ns, ns[1]!), { funnel: null });
});

test('acl: the policy tests section is checked when a policy is set', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parseAndTestPolicy, runPolicyTests } = await import('../lib/devnet/policy-tests.js');
  const text = readFileSync(join(__dirname, 'fixtures/devnet/policy.hujson'), 'utf8');
  assert.ok(parseAndTestPolicy(text).tests?.length === 1);
  const p = parsePolicy(text);
  const failures = runPolicyTests(p, [
    { src: 'bob@example.com', accept: ['tag:web:9000', 'tag:web:8080', 'tag:web:443'], deny: ['tag:db:5432', 'alice@example.com:22'] },
    { src: 'tag:web', accept: ['tag:db:5432', 'tag:db:53'], deny: ['tag:db:5433'] },
    { src: 'tag:web', proto: 'udp', accept: ['tag:db:53'] },
    { src: 'carol@example.com', accept: ['printer:631', '192.168.10.50:9100', 'alice@example.com:22'] },
    { src: 'group:dev', accept: ['tag:web:80'] },
    { src: 'alice@example.com', accept: ['alice@example.com:22'] },
  ]);
  assert.deepEqual(failures, [
    'tests[0]: bob@example.com → tag:web:9000 is denied, but the test expects it accepted',
  ]);
  assert.deepEqual(runPolicyTests(p, [{ src: 'nobody', accept: ['x:1'] }, { src: 'tag:web', accept: ['tag:db:1-2'] }]), [
    'tests[0]: cannot test with "nobody" (want a user, group, tag, host or IP)',
    'tests[1]: "tag:db:1-2" must be "destination:port" with one port',
  ]);
  assert.throws(
    () => parseAndTestPolicy({ acls: [], tests: [{ src: 'a@b.c', accept: ['d@e.f:22'] }] }),
    (e: unknown) => e instanceof PolicyError && /policy tests failed:\n  tests\[0\]: a@b.c → d@e.f:22 is denied/.test(e.message),
  );
  assert.throws(() => parsePolicy({ tests: [{ accept: [] }] }), /tests\[0\]\.src/);
});
