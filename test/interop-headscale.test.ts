// Interop tier, scenario (c) (docs/interop.md): our node joins Headscale (github.com/juanfont/headscale,
// pinned in test/interop/headscale/go.mod) with a policy that allows the user's nodes to reach each other on
// ports 8080 and 8082 only, and exchanges data both ways with a real tsnet node registered on the same
// Headscale, whose DERP map points at Tailscale's derper in the hub. The policy is checked from both ends: the
// tsnet node cannot reach our node's port 8081 (our packet filter, compiled from Headscale's rules, drops it)
// and we cannot reach its 8081.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIRECT, HUB_SERVICE, PORT, WARM_PORT, Scene, buildPrograms, fetchBlob, interopSkip, ok, type Control, type Node } from './interop/harness.js';

const skip = interopSkip();
const HS_PORT = 18080; // inside the hub namespace: nothing else listens there
const DENIED_PORT = 8081;
let scene: Scene | undefined;
let headscale: ChildProcess | undefined;
let control: Control | undefined;
let hsLog = '';

/**
 * The derper's map as Headscale's DERP YAML: tailcfg field names in lower case, region IDs as integer keys
 * (which JSON, otherwise a subset of YAML, cannot express).
 */
function yaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) return v.map((x) => `\n${indent}- ${yaml(x, `${indent}  `).trimStart()}`).join('');
  if (v && typeof v === 'object') {
    return Object.entries(v).map(([k, x]) => {
      const inner = yaml(x, `${indent}  `);
      return `\n${indent}${k.toLowerCase()}:${inner.startsWith('\n') ? inner : ` ${inner}`}`;
    }).join('');
  }
  return JSON.stringify(v);
}

/** Runs the Headscale CLI against the running server (over its unix socket); returns stdout. */
let cli: (args: string[]) => string = () => '';

before(async () => {
  if (skip) return;
  const { tsinterop, headscale: hsExe } = buildPrograms('tsinterop', 'headscale');
  scene = new Scene(tsinterop!);
  const { derpMap } = await scene.derper();
  const dir = scene.dir('headscale');
  fs.writeFileSync(path.join(dir, 'derp.yaml'), yaml(derpMap));
  fs.writeFileSync(path.join(dir, 'policy.hujson'), JSON.stringify({
    acls: [{ action: 'accept', src: ['interop@'], dst: [`interop@:${PORT},${WARM_PORT}`] }],
  }));
  // Everything Headscale would fetch from the internet is off: update checks, the default DERP map, logtail.
  const config = {
    server_url: `http://${HUB_SERVICE}:${HS_PORT}`,
    listen_addr: `${HUB_SERVICE}:${HS_PORT}`,
    metrics_listen_addr: '127.0.0.1:19090',
    grpc_listen_addr: '127.0.0.1:50443',
    noise: { private_key_path: path.join(dir, 'noise_private.key') },
    prefixes: { v4: '100.64.0.0/10', v6: 'fd7a:115c:a1e0::/48', allocation: 'sequential' },
    derp: { server: { enabled: false }, urls: [], paths: [path.join(dir, 'derp.yaml')], auto_update_enabled: false },
    disable_check_updates: true,
    database: { type: 'sqlite', sqlite: { path: path.join(dir, 'db.sqlite') } },
    log: { level: 'info', format: 'text' },
    policy: { mode: 'file', path: path.join(dir, 'policy.hujson') },
    dns: { magic_dns: true, base_domain: 'hs.test', override_local_dns: false, nameservers: { global: [] } },
    unix_socket: path.join(dir, 'headscale.sock'),
    unix_socket_permission: '0770',
    logtail: { enabled: false },
  };
  const cfgPath = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfgPath, JSON.stringify(config));
  headscale = spawn('ip', ['netns', 'exec', scene.topo.hub, hsExe!, 'serve', '-c', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Ready once it logs that it serves HTTP: it opens the CLI's unix socket before that (hscontrol/app.go).
  let serving: () => void = () => {};
  const ready = new Promise<void>((resolve) => (serving = resolve));
  for (const s of [headscale.stdout!, headscale.stderr!]) {
    s.on('data', (d: Buffer) => {
      hsLog = (hsLog + d.toString()).slice(-4000);
      if (/listening and serving HTTP on/.test(hsLog)) serving();
    });
  }
  cli = (args) => execFileSync(hsExe!, ['-c', cfgPath, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  const exited = once(headscale, 'exit').then(() => { throw new Error(`headscale exited: ${hsLog}`); });
  await Promise.race([ready, exited]);
  const user = JSON.parse(cli(['users', 'create', 'interop', '-o', 'json'])) as { id: number | string };
  const key = JSON.parse(cli(['preauthkeys', 'create', '--user', String(user.id), '--reusable', '--ephemeral', '-o', 'json'])) as { key: string };
  assert.ok(key.key, 'Headscale made a pre-auth key');
  control = { controlURL: config.server_url, authKey: key.key };
});

after(async () => {
  headscale?.kill('SIGKILL');
  await scene?.close();
});

test('(c) Headscale: our node and a tsnet node on the same Headscale exchange 8 MiB both ways; its policy is enforced at both ends', { skip, timeout: 240_000 }, async (t) => {
  const s = scene!;
  const [ours, go, go2] = await Promise.all([
    s.node('ours', s.topo.a, 'hs-ours', control!),
    s.node('go', s.topo.b, 'hs-go', control!),
    s.node('go', s.topo.a, 'hs-go2', control!),
  ]);
  await Promise.all([s.waitPeer(ours, go), s.waitPeer(go, ours), s.waitPeer(go2, go)]);
  // Headscale lists a node before it has reported its home DERP region; until the update arrives its peers
  // can reach it neither through DERP nor with a CallMeMaybe (the first transfer then waited out one 5 s
  // WireGuard handshake retry). Rates are measured once every node knows where the others live.
  const t0 = Date.now();
  const homes = await Promise.all([[ours, go], [go, ours], [go2, go], [go, go2]].map(([a, b]) => s.settledPath(a!, b!, { relay: true }, 20_000)));
  assert.ok(homes.every((h) => h.relay === 'interop'), `every node learned the others' home DERP region: ${JSON.stringify(homes)}`);
  t.diagnostic(`home DERP regions known ${Date.now() - t0} ms after the nodes saw each other`);
  await s.warmDirect(ours, go);
  await s.warmDirect(go2, go);
  const nodes = JSON.parse(cli(['nodes', 'list', '-o', 'json'])) as { name?: string; given_name?: string; online?: boolean }[];
  assert.equal(nodes.length, 3, `Headscale lists the three nodes: ${JSON.stringify(nodes.map((n) => n.given_name ?? n.name))}`);
  await fetchBlob(t, 'Headscale', ours, go);
  await fetchBlob(t, 'Headscale', go, ours);
  await fetchBlob(t, 'Headscale, Go↔Go baseline', go2, go);
  const p = await s.path(ours, go);
  assert.match(String(p.curAddr), DIRECT, `our node reaches the tsnet node directly: ${JSON.stringify(p)}`);

  // The policy allows ports 8080 and 8082 only: a third port on each side stays closed to the other.
  ok(await ours.child.call({ op: 'serve', port: DENIED_PORT, bytes: 1024 }), 'ours serve 8081');
  ok(await go.child.call({ op: 'serve', port: DENIED_PORT, bytes: 1024 }), 'go serve 8081');
  const intoOurs = await go.child.call({ op: 'fetch', host: ours.ip, port: DENIED_PORT, timeoutMs: 3000 }, 10_000);
  assert.ok(intoOurs.error !== undefined, `our node's filter (from Headscale's policy) refused port ${DENIED_PORT}: ${JSON.stringify(intoOurs)}`);
  const intoGo = await ours.child.call({ op: 'fetch', host: go.ip, port: DENIED_PORT, timeoutMs: 3000 }, 10_000);
  assert.ok(intoGo.error !== undefined, `the tsnet node refused port ${DENIED_PORT}: ${JSON.stringify(intoGo)}`);
  // And port 8080 still works after the refusals (nothing got wedged).
  await fetchBlob(t, 'Headscale, after the refusals', ours, go);
});
