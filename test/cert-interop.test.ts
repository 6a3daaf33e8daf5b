// Interop tier (docs/interop.md): HTTPS certificates against real Tailscale code. A real tsnet v1.102.5 node joins
// our development tailnet (in the hub namespace) and gets its certificate from our devnet's ACME server with
// tsnet's own ACME code (TS_DEBUG_ACME_DIRECTORY_URL; the DNS-01 record through our control's set-dns), serves
// ListenTLS, and our node fetches from it over https verifying the certificate against the devnet CA. The other
// way round, our node's listenTLS is verified by Go's crypto/tls.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HUB_SERVICE, Scene, buildPrograms, interopSkip, ok, type Node } from './interop/harness.js';
import type { LineChild } from './netns/topology.js';

const skip = interopSkip();
const ROOT = path.join(__dirname, '..');
let scene: Scene | undefined;
let devnet: LineChild | undefined;
let env: string[] = [];
let control = { controlURL: '', authKey: '', domain: '' };

before(async () => {
  if (skip) return;
  const { tsinterop } = buildPrograms('tsinterop');
  scene = new Scene(tsinterop!);
  devnet = scene.spawn(scene.topo.hub, [process.execPath, '--import', 'tsx', path.join(ROOT, 'test', 'fixtures', 'netns', 'devnet.ts'),
    JSON.stringify({ host: HUB_SERVICE, acme: true })], 'devnet');
  const r = ok(await devnet.next(30_000), 'devnet');
  const acme = r.acme as { directoryURL: string; caPEM: string };
  const caFile = path.join(scene.dir('ca'), 'devnet-ca.pem');
  fs.writeFileSync(caFile, acme.caPEM);
  // The same two variables for both implementations: the ACME directory, and the roots to trust.
  env = ['env', `TS_DEBUG_ACME_DIRECTORY_URL=${acme.directoryURL}`, `SSL_CERT_FILE=${caFile}`];
  control = { controlURL: String(r.controlURL), authKey: String(r.authKey), domain: String(r.domain) };
});

after(async () => {
  await scene?.close();
});

async function node(impl: 'ours' | 'go', ns: string, name: string): Promise<Node> {
  const s = scene!;
  const cfg = JSON.stringify({ controlURL: control.controlURL, authKey: control.authKey, hostname: name, dir: s.dir(name) });
  const args = impl === 'go' ? [s.exe, 'node', cfg] : [process.execPath, '--import', 'tsx', path.join(ROOT, 'test', 'fixtures', 'netns', 'node.ts'), cfg];
  const child = s.spawn(ns, [...env, ...args], `${impl} node ${name}`);
  const hello = ok(await child.next(90_000), `${name} up`);
  assert.equal(hello.ready, true);
  const ip = (hello.ips as string[]).find((x) => !x.includes(':'))!;
  return { child, name, impl, ip, sha256: '' };
}

test('a tsnet node gets its certificate from the devnet ACME server and serves ListenTLS; ours verifies it, and the other way round', { skip, timeout: 240_000 }, async () => {
  const s = scene!;
  s.topo.allowUdpBetweenNodes();
  const [go, ours] = await Promise.all([node('go', s.topo.b, 'tls-go'), node('ours', s.topo.a, 'tls-ours')]);
  await Promise.all([s.waitPeer(go, ours), s.waitPeer(ours, go)]);
  const goName = `tls-go.${control.domain}`;
  const oursName = `tls-ours.${control.domain}`;

  const l = ok(await go.child.call({ op: 'listentls', port: 443 }), 'go listentls');
  assert.deepEqual(l.certDomains, [goName], 'tsnet reads CertDomains from our netmap');
  // The first handshake makes tsnet run ACME: account, order, set-dns, challenge, finalize, download.
  const got = ok(await ours.child.call({ op: 'httpsGet', host: goName, port: 443, timeoutMs: 90_000 }, 100_000), 'ours httpsGet');
  assert.equal(got.status, 200);
  assert.equal(got.body, `hello from ${goName}`);
  assert.equal(got.authorized, true, 'verified against the devnet CA');
  assert.match(String(got.issuer), /tsnet devnet test CA/);
  const again = ok(await ours.child.call({ op: 'httpsGet', host: goName, port: 443, timeoutMs: 30_000 }, 40_000), 'ours httpsGet again');
  assert.equal(again.body, `hello from ${goName}`);
  const afterGo = ok(await devnet!.call({ op: 'acme' }), 'acme stats').stats as { orders: number; certificates: number };
  assert.equal(afterGo.certificates, 1, 'tsnet got one certificate and reused it');

  const m = ok(await ours.child.call({ op: 'listenTLS', port: 443 }), 'ours listenTLS');
  assert.deepEqual(m.certDomains, [oursName]);
  const back = ok(await go.child.call({ op: 'tlsfetch', host: oursName, port: 443, timeoutMs: 90_000 }, 100_000), 'go tlsfetch');
  assert.equal(back.status, 200, JSON.stringify(back));
  assert.equal(back.body, `hello from ${oursName}`);
  assert.equal(back.issuer, 'tsnet devnet test CA');
  const stats = ok(await devnet!.call({ op: 'acme' }), 'acme stats').stats as { orders: number; certificates: number };
  assert.equal(stats.certificates, 2);
  await Promise.all([go.child.stop(), ours.child.stop()]);
});
