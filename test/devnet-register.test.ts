import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DevnetState, sanitizeDNSLabel } from '../lib/devnet/state.js';
import { handleRegister, followupResult, validateRegisterRequest, type RegisterOutcome } from '../lib/devnet/register.js';
import { parsePolicy } from '../lib/devnet/policy.js';
import type { RegisterRequest } from '../lib/wire/tailcfg.js';

const hex = (n: number): string => n.toString(16).padStart(64, '0');
const MK = (n: number): string => `mkey:${hex(n)}`;
const NK = (n: number): string => `nodekey:${hex(n)}`;
const DAY = 24 * 3600 * 1000;
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);

function setup(expiryMs = 180 * DAY) {
  const state = new DevnetState({ nodeKeyExpiryMs: expiryMs });
  const ctx = (now = t0) => ({ now, authURL: (id: string) => `http://127.0.0.1:1/register/${id}` });
  const reg = (mk: number, req: Partial<RegisterRequest>, now = t0): RegisterOutcome =>
    handleRegister(state, MK(mk), { Version: 145, NodeKey: NK(mk), OldNodeKey: NK(0), Hostinfo: { Hostname: `host${mk}` }, ...req }, ctx(now));
  return { state, reg, ctx };
}

function response(o: RegisterOutcome) {
  assert.equal(o.kind, 'response', JSON.stringify(o));
  return (o as Extract<RegisterOutcome, { kind: 'response' }>).response;
}

test('register: request validation', () => {
  assert.match(String(validateRegisterRequest(null)), /JSON object/);
  assert.match(String(validateRegisterRequest({ Version: 145, NodeKey: 'nodekey:xyz' })), /NodeKey/);
  assert.match(String(validateRegisterRequest({ Version: 145, NodeKey: NK(0) })), /non-zero/);
  assert.match(String(validateRegisterRequest({ Version: '145', NodeKey: NK(1) })), /Version/);
  assert.match(String(validateRegisterRequest({ Version: 145, NodeKey: NK(1), Auth: 'x' })), /Auth/);
  assert.match(String(validateRegisterRequest({ Version: 145, NodeKey: NK(1), Expiry: 'soon' })), /Expiry/);
  assert.equal(typeof validateRegisterRequest({ Version: 145, NodeKey: NK(1), Unknown: 1 }), 'object');
});

test('register: single-use auth key works once; reusable keys many times', () => {
  const { state, reg } = setup();
  const once = state.createAuthKey({}, t0).key;
  assert.match(once, /^tskey-auth-k[a-z0-9]+-[0-9a-f]{48}$/);
  const r1 = response(reg(1, { Auth: { AuthKey: once } }));
  assert.equal(r1.MachineAuthorized, true);
  assert.equal(r1.Login?.LoginName, 'dev@example.com');
  assert.match(response(reg(2, { Auth: { AuthKey: once } })).Error ?? '', /already used/);
  const multi = state.createAuthKey({ reusable: true, user: 'alice@example.com' }, t0).key;
  for (const i of [3, 4, 5]) assert.equal(response(reg(i, { Auth: { AuthKey: multi } })).User?.DisplayName, 'alice');
  assert.equal(state.allNodes().length, 4);
  assert.match(response(reg(6, { Auth: { AuthKey: 'tskey-auth-bogus' } })).Error ?? '', /invalid auth key/);
});

test('register: expired and revoked keys are refused', () => {
  const { state, reg } = setup();
  const k = state.createAuthKey({ expiryMs: 1000 }, t0).key;
  assert.match(response(reg(1, { Auth: { AuthKey: k } }, at(2000))).Error ?? '', /expired/);
  const k2 = state.createAuthKey({}, t0).key;
  state.revokeAuthKey(k2);
  assert.match(response(reg(1, { Auth: { AuthKey: k2 } })).Error ?? '', /revoked/);
});

test('register: tagged, ephemeral and not-preauthorized keys', () => {
  const { state, reg } = setup();
  const k = state.createAuthKey({ tags: ['tag:ci'], ephemeral: true, preauthorized: false }, t0).key;
  const r = response(reg(1, { Auth: { AuthKey: k } }));
  assert.equal(r.MachineAuthorized, false);
  assert.equal(r.User?.LoginName, 'tagged-devices');
  const n = state.allNodes()[0]!;
  assert.deepEqual(n.tags, ['tag:ci']);
  assert.equal(n.ephemeral, true);
  assert.equal(n.keyExpiry, null, 'tagged nodes do not expire');
  assert.throws(() => state.createAuthKey({ tags: ['ci'] }, t0), /invalid tag/);
});

test('register: refresh with the same key, rotation with OldNodeKey, expiry needs a new login', () => {
  const { state, reg } = setup(10 * DAY);
  const k = state.createAuthKey({}, t0).key;
  response(reg(1, { Auth: { AuthKey: k } }));
  const node = state.allNodes()[0]!;
  assert.equal(node.keyExpiry, at(10 * DAY).toISOString());
  // Refresh: no auth needed.
  assert.equal(response(reg(1, {}, at(DAY))).MachineAuthorized, true);
  // Rotation: new key, old key still valid: same node.
  const rot = handleRegister(state, MK(1), { Version: 145, NodeKey: NK(101), OldNodeKey: NK(1) }, { now: at(2 * DAY), authURL: (id) => id });
  assert.equal(response(rot).MachineAuthorized, true);
  assert.equal(state.allNodes().length, 1);
  assert.equal(node.nodeKey, NK(101));
  assert.equal(node.keyExpiry, at(12 * DAY).toISOString());
  // After expiry, the same key needs a login (AuthURL).
  const late = handleRegister(state, MK(1), { Version: 145, NodeKey: NK(101), OldNodeKey: NK(0) }, { now: at(13 * DAY), authURL: (id) => `u/${id}` });
  assert.match(response(late).AuthURL ?? '', /^u\//);
});

test('register: a node key owned by another machine is refused', () => {
  const { state, reg } = setup();
  const k = state.createAuthKey({ reusable: true }, t0).key;
  response(reg(1, { Auth: { AuthKey: k } }));
  const o = handleRegister(state, MK(2), { Version: 145, NodeKey: NK(1), OldNodeKey: NK(0) }, { now: t0, authURL: (id) => id });
  assert.equal(o.kind, 'error');
  assert.equal((o as { status: number }).status, 403);
});

test('register: logout expires the key; ephemeral nodes are deleted', () => {
  const { state, reg } = setup();
  const k = state.createAuthKey({ reusable: true }, t0).key;
  const e = state.createAuthKey({ ephemeral: true }, t0).key;
  response(reg(1, { Auth: { AuthKey: k } }));
  response(reg(2, { Auth: { AuthKey: e } }));
  assert.equal(response(reg(1, { Expiry: new Date(123_000).toISOString() }, at(1000))).NodeKeyExpired, true);
  assert.equal(state.isKeyExpired(state.nodeByNodeKey(NK(1))!, at(1000)), true);
  response(reg(2, { Expiry: new Date(123_000).toISOString() }, at(1000)));
  assert.equal(state.nodeByNodeKey(NK(2)), undefined);
});

test('register: interactive login with Followup and approval', () => {
  const { state, reg } = setup();
  const r = response(reg(7, {}));
  assert.match(r.AuthURL ?? '', /^http:\/\/127\.0\.0\.1:1\/register\/[0-9a-f]{24}$/);
  // Asking again without Followup gives the same URL.
  assert.equal(response(reg(7, {})).AuthURL, r.AuthURL);
  const wait = reg(7, { Followup: r.AuthURL! });
  assert.equal(wait.kind, 'wait');
  const pending = (wait as Extract<RegisterOutcome, { kind: 'wait' }>).pending;
  // Not yet approved: the client is told to keep waiting.
  assert.equal(followupResult(state, pending).AuthURL, r.AuthURL);
  state.approvePending(pending.id, 'bob@example.com', t0);
  const done = followupResult(state, pending);
  assert.equal(done.AuthURL, undefined);
  assert.equal(done.MachineAuthorized, true);
  assert.equal(done.User?.LoginName, 'bob@example.com');
  assert.equal(state.allNodes()[0]!.hostinfo.Hostname, 'host7');
  // A Followup for an unknown URL starts over with a fresh URL.
  const again = response(reg(8, { Followup: 'http://127.0.0.1:1/register/000000000000000000000000' }));
  assert.match(again.AuthURL ?? '', /register\//);
});

test('register: RequestTags are granted only as tagOwners allow', () => {
  const { state, reg } = setup();
  state.setPolicy(parsePolicy({ tagOwners: { 'tag:web': ['alice@example.com'] } }), null);
  const alice = state.createAuthKey({ user: 'alice@example.com', reusable: true }, t0).key;
  const bob = state.createAuthKey({ user: 'bob@example.com', reusable: true }, t0).key;
  response(reg(1, { Auth: { AuthKey: alice }, Hostinfo: { Hostname: 'w', RequestTags: ['tag:web'] } }));
  assert.deepEqual(state.nodeByNodeKey(NK(1))!.tags, ['tag:web']);
  assert.match(response(reg(2, { Auth: { AuthKey: bob }, Hostinfo: { RequestTags: ['tag:web'] } })).Error ?? '', /not permitted/);
});

test('state: unique MagicDNS labels', () => {
  const { state, reg } = setup();
  const k = state.createAuthKey({ reusable: true }, t0).key;
  for (const i of [1, 2, 3]) response(reg(i, { Auth: { AuthKey: k }, Hostinfo: { Hostname: 'My Laptop.local' } }));
  assert.deepEqual(state.allNodes().map((n) => n.dnsLabel), ['my-laptop', 'my-laptop-1', 'my-laptop-2']);
  assert.equal(sanitizeDNSLabel(''), 'node');
  assert.equal(sanitizeDNSLabel('x'.repeat(100)).length, 63);
});

test('register: interactive approval applies RequestTags the approver owns, and tagged nodes belong to tagged-devices', () => {
  const { state, reg } = setup();
  state.setPolicy(parsePolicy({ tagOwners: { 'tag:kiosk': ['alice@example.com'] } }), null);
  const r = response(reg(1, { Hostinfo: { Hostname: 'k', RequestTags: ['tag:kiosk'] } }));
  const id = r.AuthURL!.split('/').pop()!;
  assert.throws(() => state.approvePending(id, 'bob@example.com', t0), /may not apply tag:kiosk/);
  const n = state.approvePending(id, 'alice@example.com', t0);
  assert.deepEqual(n.tags, ['tag:kiosk']);
  assert.equal(n.keyExpiry, null);
  const tagged = state.allUsers().find((u) => u.loginName === 'tagged-devices');
  assert.ok(tagged);
  // Explicit tags from the approver win over RequestTags.
  const r2 = response(reg(2, {}));
  const n2 = state.approvePending(r2.AuthURL!.split('/').pop()!, 'bob@example.com', t0, ['tag:other']);
  assert.deepEqual(n2.tags, ['tag:other']);
});
