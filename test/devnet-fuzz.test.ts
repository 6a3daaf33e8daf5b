import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevnet } from '../lib/devnet/index.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * (depth > 2 ? 6 : 8));
  switch (k) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor(r() * 2 ** 33) - 2 ** 32;
    case 3: return ['', 'x', 'nodekey:zz', '1.2.3.4:5', '0001-01-01T00:00:00Z', 'tag:x', '💥', 'a'.repeat(300)][Math.floor(r() * 8)];
    case 4: return r() * 1e6;
    case 5: return {};
    case 6: return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < 3; i++) o[['Hostname', 'NetInfo', 'PreferredDERP', 'RequestTags', 'AuthKey', 'Services', 'x'][Math.floor(r() * 7)]!] = randomValue(r, depth + 1);
      return o;
    }
  }
}

/** Replaces one or two fields of a valid request with random values. */
function mutate(base: Record<string, unknown>, r: () => number): Record<string, unknown> {
  const out: Record<string, unknown> = JSON.parse(JSON.stringify(base));
  const keys = [...Object.keys(out), 'Hostinfo', 'Auth', 'Endpoints', 'EndpointTypes', 'Followup', 'Expiry', 'Compress', 'OmitPeers', 'Stream', 'DiscoKey', 'Version'];
  for (let i = 0; i < 1 + Math.floor(r() * 2); i++) {
    const k = keys[Math.floor(r() * keys.length)]!;
    if (k === 'Hostinfo' && r() < 0.7) {
      out[k] = { ...(out[k] as object), ...(randomValue(r, 0) as object) };
      const hi = out[k] as Record<string, unknown>;
      hi[['Hostname', 'NetInfo', 'RequestTags', 'Services', 'OS'][Math.floor(r() * 5)]!] = randomValue(r, 1);
    } else {
      out[k] = randomValue(r);
    }
  }
  return out;
}

test('fuzz: mutated register and map requests never cause a 500 or a crash', async (t) => {
  const logs: string[] = [];
  const net = await startDevnet({ followupTimeoutMs: 50, logf: (m) => logs.push(m) });
  t.after(() => net.close());
  const c = await MiniClient.connect(net.controlURL, { hostname: 'fuzz' });
  t.after(() => c.close());
  const key = net.createAuthKey({ reusable: true });
  await c.register({ Auth: { AuthKey: key } });
  const regBase = { Version: 145, NodeKey: c.nodeKey, OldNodeKey: `nodekey:${'0'.repeat(64)}`, Hostinfo: c.hostinfo(), Auth: { AuthKey: key } };
  const mapBase = { Version: 145, NodeKey: c.nodeKey, DiscoKey: c.discoKey, Stream: false, OmitPeers: true, Hostinfo: c.hostinfo(), Endpoints: ['1.2.3.4:5'] };
  const r = rng(12345);
  const statuses = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const reg = i % 2 === 0;
    const body = mutate(reg ? regBase : mapBase, r);
    if (!reg && body['Stream'] === true) body['Stream'] = false; // keep requests short
    const res = await c.post(reg ? '/machine/register' : '/machine/map', body);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.notEqual(res.status, 500, `${JSON.stringify(body).slice(0, 400)} → ${res.text} ${logs.slice(-1)}`);
  }
  assert.ok((statuses.get(200) ?? 0) > 50, JSON.stringify([...statuses]));
  assert.ok((statuses.get(400) ?? 0) > 20, JSON.stringify([...statuses]));
  // The node's stored state is still usable: a normal map poll works.
  await c.register({ Auth: { AuthKey: key }, Hostinfo: c.hostinfo() });
  const m = await c.map();
  const first = await m.next();
  assert.ok(first.Node);
  JSON.stringify(net.nodes());
});

test('fuzz: the HuJSON and policy parsers only ever throw their own errors', async () => {
  const { parseHuJSON, HuJSONError } = await import('../lib/devnet/hujson.js');
  const { parsePolicy, PolicyError } = await import('../lib/devnet/policy.js');
  const { compileFilter } = await import('../lib/devnet/acl-compile.js');
  const tokens = ['{', '}', '[', ']', ',', ':', '"acls"', '"src"', '"dst"', '"*"', '"*:*"', '"group:a"', '"groups"', '"grants"', '"ip"', '"app"',
    '"tag:x"', '"tagOwners"', '"hosts"', '"h"', '"1.2.3.4"', '"a@b"', '"h:22"', '"nodeAttrs"', '"target"', '"attr"', '"proto"', '"tcp"',
    '1', '-2.5e3', 'true', 'null', '// c\n', '/* c */', ' ', '\n', '"\\u0041"', '"\\x"', '/'];
  const r = rng(777);
  let parsed = 0;
  for (let i = 0; i < 5000; i++) {
    let s = '';
    const n = 1 + Math.floor(r() * 30);
    for (let j = 0; j < n; j++) s += tokens[Math.floor(r() * tokens.length)];
    try {
      parseHuJSON(s);
      parsed++;
    } catch (e) {
      assert.ok(e instanceof HuJSONError, `${JSON.stringify(s)}: ${(e as Error).stack}`);
    }
  }
  assert.ok(parsed > 0);
  const nodes = [{ id: 1, addresses: ['100.64.0.1', 'fd7a:115c:a1e0::6440:1'], user: 'a@b', tags: ['tag:x'] }];
  for (let i = 0; i < 3000; i++) {
    const pol: Record<string, unknown> = {};
    for (const k of ['acls', 'grants', 'groups', 'tagOwners', 'hosts', 'nodeAttrs']) if (r() < 0.4) pol[k] = randomValue(r);
    if (r() < 0.5) pol['acls'] = [{ action: 'accept', src: [randomValue(r)], dst: ['*:*'] }];
    if (r() < 0.3) pol['grants'] = [{ src: ['*'], dst: ['*'], ip: [randomValue(r)], app: randomValue(r) }];
    try {
      compileFilter(parsePolicy(pol), nodes);
    } catch (e) {
      assert.ok(e instanceof PolicyError || e instanceof HuJSONError, `${JSON.stringify(pol)}: ${(e as Error).stack}`);
    }
  }
});
