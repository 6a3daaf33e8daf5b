// The built package under every runtime its users have: Node 20, 22 and 24, Deno and Bun (installed from
// the npm registry by scripts/runtimes.sh). The development tailnet runs here, in Node; each runtime runs
// test/fixtures/runtime/nodes.mjs, a user's program: two Server nodes join, serve and fetch HTTP by MagicDNS
// name with whoIs, move 1 MiB through a dialed connection and back, and two WireGuard-mode nodes move 4 MiB.
// Bun's net.Socket cannot adopt a socketpair descriptor, so there tailnet sockets use the stream transport
// (docs/architecture.md, "The bridge to JavaScript"); Node runs it too, with TSNET_BRIDGE=stream.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';

const root = path.join(__dirname, '..');
const fixture = path.join(__dirname, 'fixtures', 'runtime', 'nodes.mjs');
let devnet: Devnet;
let authKey: string;
let runtimes: Map<string, string[]>;

before(async () => {
  const out = execFileSync('bash', [path.join(root, 'scripts', 'runtimes.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  runtimes = new Map(out.trim().split('\n').map((l) => { const [name, ...cmd] = l.split(' '); return [name!, cmd]; }));
  devnet = await startDevnet();
  authKey = devnet.createAuthKey({ reusable: true });
});
after(() => devnet?.close());

function run(name: string, mode: 'all' | 'join', env: Record<string, string> = {}, tag = name): Promise<Record<string, unknown>> {
  const [cmd, ...pre] = runtimes.get(name)!;
  return new Promise((resolve, reject) =>
    execFile(cmd!, [...pre, fixture, devnet.controlURL, authKey, tag, mode], { timeout: 60_000, cwd: root, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name}: ${err.message}\n${stderr.slice(-2000)}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
      } catch {
        reject(new Error(`${name}: no result line\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    }));
}

for (const [name, engine, bridge] of [['node20', 'inline', 'fd'], ['node22', 'inline', 'fd'], ['node24', 'inline', 'fd'], ['deno', 'thread', 'fd'], ['bun', 'thread', 'stream']] as const) {
  test(`${name}: two nodes join, HTTP with whoIs, a 1 MiB echo, WireGuard mode 4 MiB`, { timeout: 70_000 }, async () => {
    const r = await run(name, 'all');
    assert.match(String(r.runtime), name.startsWith('node') ? new RegExp(`^node ${name.slice(4)}\\.`) : name === 'bun' ? /^bun 1\./ : /^deno 2\./);
    // Deno and Bun have no libuv to drive: the engine gets its own thread (native/addon/host_loop.cc).
    assert.equal(r.engine, engine);
    // Bun's net.Socket cannot adopt a socketpair: the stream transport is its default.
    assert.equal(r.bridge, bridge);
    assert.equal(r.status, 200);
    assert.match(String(r.caller), new RegExp(`^client-${name}\\.`));
    assert.equal(r.echo, true, '1 MiB came back intact');
    assert.equal(r.wireguard, true, '4 MiB arrived intact in WireGuard mode');
  });
}

// The stream transport where fd is the default: Node (with the engine on a thread too) and Deno.
for (const [name, env, engine] of [
  ['node20', { TSNET_BRIDGE: 'stream', TSNET_ENGINE: 'thread' }, 'thread'],
  ['node24', { TSNET_BRIDGE: 'stream' }, 'inline'],
  ['deno', { TSNET_BRIDGE: 'stream' }, 'thread'],
] as const) {
  test(`${name} with ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}: the same program`, { timeout: 70_000 }, async () => {
    const tag = `${name}s`;
    const r = await run(name, 'all', env, tag);
    assert.equal(r.engine, engine);
    assert.equal(r.bridge, 'stream');
    assert.equal(r.status, 200);
    assert.match(String(r.caller), new RegExp(`^client-${tag}\\.`));
    assert.equal(r.echo, true, '1 MiB came back intact');
    assert.equal(r.wireguard, true, '4 MiB arrived intact in WireGuard mode');
  });
}

test('bun with every packet through the DERP relay (TS_DEBUG_ALWAYS_USE_DERP): the relay stream carries it all', { timeout: 70_000 }, async () => {
  const r = await run('bun', 'all', { TS_DEBUG_ALWAYS_USE_DERP: '1' }, 'bunrelay');
  assert.equal(r.bridge, 'stream');
  assert.equal(r.status, 200);
  assert.match(String(r.caller), /^client-bunrelay\./);
  assert.equal(r.echo, true, '1 MiB came back intact through the relay');
});
