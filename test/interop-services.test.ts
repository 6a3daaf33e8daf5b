// Tailscale Services, subnet routes and exit nodes against real Tailscale code (docs/services.md), in the
// interop tier's namespaces (docs/interop.md) on our devnet: a real tsnet v1.102.5 node runs ListenService
// (our devnet fetches its /vip-services, approves it and hands it the service-host capability) and our node
// reaches the service by name; our node hosts a service a tsnet node reaches; and a tsnet node is the subnet
// router and exit node our node's dials go through, answered by its RegisterFallbackTCPHandler. The
// "subnet" and "internet" addresses exist only inside the tunnel between the namespaces.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { Scene, interopSkip, ok, type Control, withDevnetScene } from './interop/harness.js';
import type { LineChild } from './netns/topology.js';

const skip = interopSkip();
let scene: Scene | undefined;
let control: (Control & { domain: string }) | undefined;
let devnet: LineChild | undefined;

withDevnetScene(skip, (s) => ({ scene, control, devnet } = s));

test('a tsnet node hosts a service with ListenService on our devnet; our node reaches it by name and VIP', { skip, timeout: 180_000 }, async () => {
  const s = scene!;
  s.topo.allowUdpBetweenNodes();
  const tagged = String(ok(await devnet!.call({ op: 'authKey', tags: ['tag:svc'] }), 'tagged key').authKey);
  const [go, ours] = await Promise.all([
    s.node('go', s.topo.b, 'svc-go', { ...control!, authKey: tagged }, { tags: ['tag:svc'] }),
    s.node('ours', s.topo.a, 'svc-ours', control!),
  ]);
  const vips = ok(await devnet!.call({ op: 'defineService', name: 'svc:gosvc' }), 'define').addresses as string[];
  const ln = ok(await go.child.call({ op: 'listenService', name: 'svc:gosvc', port: 7000 }), 'tsnet ListenService');
  assert.equal(ln.fqdn, `gosvc.${control!.domain}`);
  // The devnet learns of it from the Go client's ServicesHash and its c2n /vip-services answer.
  ok(await devnet!.call({ op: 'approveServiceHost', name: 'svc:gosvc', host: 'svc-go' }, 30_000), 'approve host');
  for (const address of [`gosvc.${control!.domain}:7000`, `${vips[0]}:7000`]) {
    const r = ok(await ours.child.call({ op: 'ask', address, timeoutMs: 30_000 }, 35_000), `ours asks ${address}`);
    assert.equal(r.text, 'go-service svc:gosvc');
  }
  // HTTP mode: tsnet serves it through its serve config's reverse proxy.
  ok(await devnet!.call({ op: 'defineService', name: 'svc:goweb' }), 'define');
  ok(await go.child.call({ op: 'listenService', name: 'svc:goweb', port: 80, mode: 'http' }), 'tsnet ListenService http');
  ok(await devnet!.call({ op: 'approveServiceHost', name: 'svc:goweb', host: 'svc-go' }, 30_000), 'approve host');
  const web = ok(await ours.child.call({ op: 'get', url: `http://goweb.${control!.domain}/`, timeoutMs: 30_000 }, 35_000), 'ours fetches the http service');
  assert.equal(web.status, 200);
  assert.equal(web.text, 'go-service svc:goweb');
  await Promise.all([go.child.stop(), ours.child.stop()]);
});

test('our node hosts a service; a tsnet node reaches it by name', { skip, timeout: 180_000 }, async () => {
  const s = scene!;
  s.topo.allowUdpBetweenNodes();
  const tagged = String(ok(await devnet!.call({ op: 'authKey', tags: ['tag:svc'] }), 'tagged key').authKey);
  const [ours, go] = await Promise.all([
    s.node('ours', s.topo.a, 'svc-ours2', { ...control!, authKey: tagged }, { tags: ['tag:svc'] }),
    s.node('go', s.topo.b, 'svc-go2', control!),
  ]);
  ok(await devnet!.call({ op: 'defineService', name: 'svc:ourssvc' }), 'define');
  const ln = ok(await ours.child.call({ op: 'listenService', name: 'svc:ourssvc', port: 7001 }), 'our listenService');
  assert.equal(ln.fqdn, `ourssvc.${control!.domain}`);
  ok(await devnet!.call({ op: 'approveServiceHost', name: 'svc:ourssvc', host: 'svc-ours2' }, 30_000), 'approve host');
  await s.waitPeer(go, ours);
  // The tsnet node learns the name from the devnet's DNS records; its netmap may lag the approval by one
  // map message, which its dial retries cover (ask on the Go side is one dial: retried here on failure).
  let r: Record<string, unknown> = {};
  for (let i = 0; i < 20; i++) {
    r = await go.child.call({ op: 'ask', address: `ourssvc.${control!.domain}:7001`, timeoutMs: 5000 }, 10_000);
    if (!r.error) break;
  }
  assert.equal(ok(r, 'tsnet asks our service').text, 'ours-service svc:ourssvc');
  await Promise.all([go.child.stop(), ours.child.stop()]);
});

test('a tsnet node as subnet router and exit node: our node\'s dials reach its fallback handler', { skip, timeout: 180_000 }, async () => {
  const s = scene!;
  s.topo.allowUdpBetweenNodes();
  const [router, ours] = await Promise.all([
    s.node('go', s.topo.b, 'rt-go', control!),
    s.node('ours', s.topo.a, 'rt-ours', control!),
  ]);
  ok(await router.child.call({ op: 'routes', routes: ['10.99.0.0/24', '0.0.0.0/0', '::/0'] }), 'tsnet advertises routes');
  ok(await devnet!.call({ op: 'approveRoutes', host: 'rt-go', routes: ['10.99.0.0/24'] }, 30_000), 'approve subnet');
  ok(await ours.child.call({ op: 'editPrefs', prefs: { acceptRoutes: true } }), 'accept routes');
  const sub = ok(await ours.child.call({ op: 'ask', address: '10.99.0.5:80', timeoutMs: 30_000 }, 35_000), 'ours dials into the subnet');
  assert.equal(sub.text, '10.99.0.5:80');
  ok(await devnet!.call({ op: 'approveRoutes', host: 'rt-go', routes: ['0.0.0.0/0', '::/0'] }, 30_000), 'approve exit');
  ok(await ours.child.call({ op: 'editPrefs', prefs: { exitNode: router.ip } }), 'choose the exit node');
  const out = ok(await ours.child.call({ op: 'ask', address: '192.0.2.10:443', timeoutMs: 30_000 }, 35_000), 'ours dials through the exit node');
  assert.equal(out.text, '192.0.2.10:443');
  await Promise.all([router.child.stop(), ours.child.stop()]);
});

test('our node as subnet router and exit node for a tsnet node: its dials reach our fallback handler', { skip, timeout: 180_000 }, async () => {
  const s = scene!;
  s.topo.allowUdpBetweenNodes();
  const [router, go] = await Promise.all([
    s.node('ours', s.topo.a, 'rt-ours2', control!),
    s.node('go', s.topo.b, 'rt-go2', control!),
  ]);
  ok(await router.child.call({ op: 'routes', routes: ['10.96.0.0/24', '0.0.0.0/0', '::/0'] }), 'ours advertises routes');
  ok(await devnet!.call({ op: 'approveRoutes', host: 'rt-ours2', routes: ['10.96.0.0/24', '0.0.0.0/0', '::/0'] }, 30_000), 'approve');
  ok(await go.child.call({ op: 'usePrefs', routeAll: true, exitNodeIP: '' }), 'tsnet accepts routes');
  // The tsnet node's netmap may trail the approval by a map message: one dial each, tried again on failure.
  const askGo = async (address: string): Promise<Record<string, unknown>> => {
    let r: Record<string, unknown> = {};
    for (let i = 0; i < 20; i++) {
      r = await go.child.call({ op: 'ask', address, timeoutMs: 3000 }, 10_000);
      if (!r.error) break;
    }
    return ok(r, `tsnet asks ${address}`);
  };
  assert.equal((await askGo('10.96.0.7:80')).text, 'ours 10.96.0.7:80');
  ok(await go.child.call({ op: 'usePrefs', routeAll: true, exitNodeIP: router.ip }), 'tsnet picks our exit node');
  assert.equal((await askGo('192.0.2.20:443')).text, 'ours 192.0.2.20:443');
  await Promise.all([router.child.stop(), go.child.stop()]);
});
