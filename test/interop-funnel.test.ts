// Interop tier (docs/interop.md): a real tsnet v1.102.5 node (test/interop/go, op "listenfunnel") runs Go's
// ListenFunnel with FunnelTLSConfig on our development tailnet, and a public TLS client in the hub reaches it
// through our devnet's Funnel ingress. This checks our ingress (the SNI routing, the funnel grants, the
// POST /v0/ingress with its Tailscale-Ingress-Src/Target headers) against Tailscale's peerAPI ingress handler.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { Scene, interopSkip, ok, type Control, withDevnetScene } from './interop/harness.js';
import type { LineChild } from './netns/topology.js';
import { selfSigned } from './fixtures/self-signed.js';

const skip = interopSkip();
let scene: Scene | undefined;
let control: (Control & { domain: string }) | undefined;
let devnet: LineChild | undefined;

withDevnetScene(skip, (s) => ({ scene, control, devnet } = s));

test('a public client reaches Go tsnet ListenFunnel through our devnet ingress', { skip, timeout: 180_000 }, async () => {
  const s = scene!;
  ok(await devnet!.call({ op: 'policy', policy: { acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }], nodeAttrs: [{ target: ['*'], attr: ['funnel'] }] } }), 'policy');
  const go = await s.node('go', s.topo.a, 'gofunnel', control!);
  const name = `gofunnel.${control!.domain}`;
  const { key, cert } = selfSigned(name);
  const r = ok(await go.child.call({ op: 'listenfunnel', port: 443, certPEM: cert, keyPEM: key }), 'Go ListenFunnel');
  assert.equal(r.ok, true);
  // The ingress waits until control has shown it the Go node with ingress on (Hostinfo WireIngress) and its peerAPI.
  ok(await devnet!.call({ op: 'funnel', name }, 60_000), 'start the ingress');
  const got = await devnet!.call({ op: 'funnelGet', port: 443, name, ca: cert }, 30_000);
  assert.equal(got.subject, name, `the client sees the Go node's FunnelTLSConfig certificate: ${JSON.stringify(got)}`);
  assert.match(String(got.line), /^hello from go funnel=true src=\S+ remote=\S+$/);
  assert.equal(/src=(\S+)/.exec(String(got.line))![1], got.local, 'Go sees the public client as the FunnelConn source');
  await go.child.stop();
});
