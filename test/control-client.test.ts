import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPABILITY_VERSION, ControlClient, type ControlClientOptions } from '../lib/control/client.js';
import { FileStore, MemoryStore } from '../lib/control/store.js';
import { nodePublicToText } from '../lib/wire/keys.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import type { EngineConfig } from '../lib/wire/engine-config.js';
import { FakeControl } from './fixtures/control/fake-control.js';

function client(fc: FakeControl, extra: Partial<ControlClientOptions> = {}): ControlClient {
  return new ControlClient({
    controlURL: fc.url,
    store: new MemoryStore(),
    hostname: 'node',
    userLogf: () => {},
    backoff: { initialMs: 20, maxMs: 200 },
    ...extra,
  });
}

/** Resolves once cond() holds, checking now and after each `event` (no fixed waits; the test's timeout bounds it). */
async function until(emitter: EventEmitter, event: string, cond: () => boolean): Promise<void> {
  while (!cond()) await once(emitter, event);
}

function waitFor<T>(c: ControlClient, pred: (nm: NetworkMap, cfg: EngineConfig) => T | undefined, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      c.off('netmap', on);
      reject(new Error('timed out waiting for netmap condition'));
    }, ms);
    const on = (nm: NetworkMap, cfg: EngineConfig): void => {
      const v = pred(nm, cfg);
      if (v !== undefined && v !== false) {
        clearTimeout(t);
        c.off('netmap', on);
        resolve(v);
      }
    };
    c.on('netmap', on);
    if (c.netmap && c.engineConfig) on(c.netmap, c.engineConfig);
  });
}

test('auth key: two nodes register over ts2021 and see each other; lite updates carry endpoints', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('tskey-auth-good');
  const a = client(fc, { hostname: 'alpha', authKey: 'tskey-auth-good', advertiseTags: ['tag:web'], ephemeral: true });
  const b = client(fc, { hostname: 'beta', authKey: 'tskey-auth-good' });
  const early: unknown[] = [];
  a.on('earlyPayload', (p) => early.push(p));
  try {
    const nmA = await a.up(AbortSignal.timeout(5000));
    assert.equal(a.state, 'Running');
    assert.equal(nmA.self.Name, 'alpha.fake.example.');
    assert.deepEqual(early, [{ nodeKeyChallenge: 'chalpub:' + '22'.repeat(32) }]);
    await b.up(AbortSignal.timeout(5000));
    const peerOfA = await waitFor(a, (_nm, cfg) => cfg.peers.find((p) => p.name === 'beta.fake.example'));
    assert.deepEqual(peerOfA.nodeKey, b.nodePublic);
    assert.equal(peerOfA.homeDERP, 1);
    assert.deepEqual(peerOfA.allowedIPs, peerOfA.addresses);
    const peerOfB = await waitFor(b, (_nm, cfg) => cfg.peers.find((p) => p.name === 'alpha.fake.example'));
    assert.deepEqual(peerOfB.nodeKey, a.nodePublic);
    // What the server saw.
    const regA = fc.registerRequests.find((r) => r.NodeKey === nodePublicToText(a.nodePublic!))!;
    assert.equal(regA.Version, CAPABILITY_VERSION);
    assert.deepEqual(regA.Auth, { AuthKey: 'tskey-auth-good' });
    assert.equal(regA.Ephemeral, true);
    assert.deepEqual(regA.Hostinfo?.RequestTags, ['tag:web']);
    assert.equal(regA.Hostinfo?.Package, 'tsnet');
    const stream = fc.mapRequests.find((r) => r.NodeKey === regA.NodeKey && r.Stream)!;
    assert.equal(stream.KeepAlive, true);
    assert.equal(stream.Compress, undefined, 'no compression requested');
    assert.match(stream.DiscoKey ?? '', /^discokey:[0-9a-f]{64}$/);
    // Endpoint change → lite update (Stream false, OmitPeers) → patch reaches the other node.
    a.setEndpoints([{ addr: '127.0.0.1:41641', type: 1 }]);
    const eps = await waitFor(b, (_nm, cfg) => {
      const p = cfg.peers.find((x) => x.name === 'alpha.fake.example');
      return p && p.endpoints.length ? p.endpoints : undefined;
    });
    assert.deepEqual(eps, ['127.0.0.1:41641']);
    const lite = fc.mapRequests.filter((r) => r.NodeKey === regA.NodeKey && r.Stream === false && r.Endpoints);
    assert.ok(lite.length >= 1);
    assert.equal(lite.at(-1)!.OmitPeers, true);
    assert.deepEqual(lite.at(-1)!.EndpointTypes, [1]);
  } finally {
    await a.close();
    await b.close();
    await fc.close();
  }
});

test('a bad auth key is fatal and up() rejects with ERR_REGISTER', async () => {
  const fc = new FakeControl();
  await fc.start();
  const c = client(fc, { authKey: 'tskey-auth-wrong' });
  try {
    await assert.rejects(c.up(AbortSignal.timeout(5000)), { code: 'ERR_REGISTER', message: /invalid auth key/ });
  } finally {
    await c.close();
    await fc.close();
  }
});

test('a bad auth key answered with HTTP 401 (Headscale style) is fatal too', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeyErrorsAsHTTP = true;
  const c = client(fc, { authKey: 'tskey-auth-wrong' });
  try {
    await assert.rejects(c.up(AbortSignal.timeout(5000)), { code: 'ERR_REGISTER', status: 401, message: /invalid pre auth key/ });
  } finally {
    await c.close();
    await fc.close();
  }
});

test('interactive login: AuthURL to userLogf, Followup long-poll until approved', async () => {
  const fc = new FakeControl();
  await fc.start();
  const logs: string[] = [];
  const c = client(fc, { userLogf: (m) => logs.push(m) });
  try {
    const upP = c.up(AbortSignal.timeout(5000));
    const [url] = (await once(c, 'authURL')) as [string];
    assert.match(url, /\/a\/1$/);
    assert.equal(c.state, 'NeedsLogin');
    assert.ok(logs.some((l) => l.includes(url)));
    await until(fc.events, 'register', () => fc.registerRequests.some((r) => r.Followup === url));
    const followups = fc.registerRequests.filter((r) => r.Followup === url);
    assert.equal(followups.length, 1, 'the Followup request is being held');
    assert.equal(followups[0]!.NodeKey, fc.registerRequests[0]!.NodeKey, 'same node key');
    fc.approve(url);
    const nm = await upP;
    assert.equal(nm.self.Key, fc.registerRequests[0]!.NodeKey);
  } finally {
    await c.close();
    await fc.close();
  }
});

test('NeedsMachineAuth until the admin authorizes the machine', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('k');
  fc.requireMachineAuth = true;
  const c = client(fc, { authKey: 'k' });
  try {
    c.start();
    await waitFor(c, (nm) => nm.self.MachineAuthorized === false || undefined);
    assert.equal(c.state, 'NeedsMachineAuth');
    const upP = c.up(AbortSignal.timeout(5000));
    fc.authorize(nodePublicToText(c.nodePublic!));
    await upP;
    assert.equal(c.state, 'Running');
  } finally {
    await c.close();
    await fc.close();
  }
});

test('identity persists across restarts: same machine and node key, no auth key re-sent', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('k');
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-control-client-'));
  try {
    const c1 = client(fc, { store: new FileStore(dir), authKey: 'k' });
    await c1.up(AbortSignal.timeout(5000));
    const nk = c1.nodePublic!;
    const mk = c1.machinePublic!;
    const disco1 = c1.discoPublic;
    await c1.close();
    const n = fc.registerRequests.length;
    const c2 = client(fc, { store: new FileStore(dir), authKey: 'k' });
    const nm = await c2.up(AbortSignal.timeout(5000));
    assert.deepEqual(c2.nodePublic, nk);
    assert.deepEqual(c2.machinePublic, mk);
    assert.notDeepEqual(c2.discoPublic, disco1, 'disco key is fresh per start');
    assert.equal(nm.self.Key, nodePublicToText(nk));
    const refresh = fc.registerRequests.slice(n);
    assert.equal(refresh.length, 1);
    assert.equal(refresh[0]!.Auth, undefined, 'registered node: auth key not sent');
    await c2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await fc.close();
  }
});

test('reconnect with backoff keeps the last netmap; re-login rotates the node key; logout expires it', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('k');
  const c = client(fc, { authKey: 'k' });
  const errors: Error[] = [];
  c.on('controlError', (e: Error) => errors.push(e));
  try {
    const nm1 = await c.up(AbortSignal.timeout(5000));
    const upgrades = fc.upgrades;
    const noticed = once(c, 'controlError');
    fc.dropAll();
    await noticed;
    assert.equal(c.netmap, nm1, 'last netmap kept while control is away');
    await waitFor(c, (nm) => (nm !== nm1 ? nm : undefined));
    assert.ok(fc.upgrades > upgrades, 'reconnected');
    assert.ok(errors.length >= 1);
    assert.equal(c.state, 'Running');

    const oldKey = c.nodePublic!;
    await c.login();
    await waitFor(c, (nm) => (nm.self.Key !== nodePublicToText(oldKey) ? nm : undefined));
    const rot = fc.registerRequests.at(-1)!;
    assert.equal(rot.OldNodeKey, nodePublicToText(oldKey));
    assert.notEqual(rot.NodeKey, rot.OldNodeKey);

    const key = nodePublicToText(c.nodePublic!);
    await c.logout();
    const lo = fc.registerRequests.at(-1)!;
    assert.equal(lo.NodeKey, key);
    assert.equal(lo.Expiry, '1970-01-01T00:02:03Z');
    assert.equal(c.state, 'NeedsLogin');
    assert.equal(c.netmap, null);
  } finally {
    await c.close();
    await fc.close();
  }
});

test('watchdog: a silent map stream is torn down and re-polled', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('k');
  const c = client(fc, { authKey: 'k', watchdogMs: 150 });
  const errors: Error[] = [];
  c.on('controlError', (e: Error) => errors.push(e));
  try {
    await c.up(AbortSignal.timeout(5000));
    fc.silentMaps = true;
    fc.dropAll();
    const isWatchdog = (e: Error) => (e as { code?: string }).code === 'ERR_WATCHDOG';
    await until(c, 'controlError', () => errors.some(isWatchdog));
    fc.silentMaps = false;
    fc.keepAliveMs = 50;
    const stale = c.netmap;
    await waitFor(c, (nm) => (nm !== stale ? nm : undefined));
    // Eight keep-alives 50 ms apart span more than twice the 150 ms watchdog: none of it may fire meanwhile.
    const n = errors.length;
    let kept = 0;
    await until(fc.events, 'keepAlive', () => ++kept > 8);
    assert.equal(errors.length, n, 'keep-alives feed the watchdog');
  } finally {
    await c.close();
    await fc.close();
  }
});

test('PingRequest: liveness HEAD and c2n answered over Noise', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('k');
  const c = client(fc, { authKey: 'k' });
  try {
    await c.up(AbortSignal.timeout(5000));
    const key = nodePublicToText(c.nodePublic!);
    const u1 = new URL(fc.ping(key));
    const u2 = new URL(fc.ping(key, 'c2n', Buffer.from('GET /vip-services HTTP/1.1\r\nHost: x\r\n\r\n')));
    const u3 = new URL(fc.ping(key, 'c2n', Buffer.from('POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')));
    const u4 = new URL(fc.ping(key, 'c2n', Buffer.from('GET /debug/nope HTTP/1.1\r\n\r\n')));
    await until(fc.events, 'ping', () => fc.pingAnswers.length >= 4);
    assert.deepEqual(
      fc.pingAnswers.sort(),
      [
        `HEAD ${u1.pathname}`,
        `POST ${u2.pathname} HTTP/1.1 200 OK`,
        `POST ${u3.pathname} HTTP/1.1 200 OK`,
        `POST ${u4.pathname} HTTP/1.1 400 Bad Request`,
      ].sort(),
    );
    assert.match(fc.pingBodies.get(u2.pathname)!, /\r\n\r\n\{"VIPServices":\[\],"ServicesHash":""\}\n$/);
    assert.match(fc.pingBodies.get(u3.pathname)!, /Content-Length: 5\r\n\r\nhello$/);
  } finally {
    await c.close();
    await fc.close();
  }
});

test('control forgets the node: the map poll is refused, the client registers again with its auth key', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('k');
  const c = client(fc, { authKey: 'k' });
  try {
    await c.up(AbortSignal.timeout(5000));
    const oldKey = nodePublicToText(c.nodePublic!);
    fc.forget(oldKey);
    fc.dropAll();
    const nm = await waitFor(c, (m) => (m.self.Key !== oldKey ? m : undefined));
    assert.equal(nm.self.Key, nodePublicToText(c.nodePublic!));
    const last = fc.registerRequests.at(-1)!;
    assert.deepEqual(last.Auth, { AuthKey: 'k' });
    assert.equal(last.OldNodeKey, oldKey);
    assert.equal(c.state, 'Running');
  } finally {
    await c.close();
    await fc.close();
  }
});
