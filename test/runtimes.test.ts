// The built package under every runtime its users have: Node 20, 22 and 24, Deno and Bun (installed from
// the npm registry by scripts/runtimes.sh). The development tailnet runs here, in Node; each runtime runs
// test/fixtures/runtime/nodes.mjs, a user's program: two Server nodes join, serve and fetch HTTP by MagicDNS
// name with whoIs, move 1 MiB through a dialed connection and back, and two WireGuard-mode nodes move 4 MiB.
// Bun gets as far as joining: its net.Socket cannot adopt the socketpair descriptor a tailnet connection
// is (docs/status.md, "Runtimes").
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

function run(name: string, mode: 'all' | 'join'): Promise<Record<string, unknown>> {
  const [cmd, ...pre] = runtimes.get(name)!;
  return new Promise((resolve, reject) =>
    execFile(cmd!, [...pre, fixture, devnet.controlURL, authKey, name, mode], { timeout: 60_000, cwd: root }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name}: ${err.message}\n${stderr.slice(-2000)}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
      } catch {
        reject(new Error(`${name}: no result line\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    }));
}

for (const [name, engine] of [['node20', 'inline'], ['node22', 'inline'], ['node24', 'inline'], ['deno', 'thread']] as const) {
  test(`${name}: two nodes join, HTTP with whoIs, a 1 MiB echo, WireGuard mode 4 MiB`, { timeout: 70_000 }, async () => {
    const r = await run(name, 'all');
    assert.match(String(r.runtime), name.startsWith('node') ? new RegExp(`^node ${name.slice(4)}\\.`) : /^deno 2\./);
    // Deno has no libuv to drive: the engine gets its own thread (native/addon/host_loop.cc).
    assert.equal(r.engine, engine);
    assert.equal(r.status, 200);
    assert.match(String(r.caller), new RegExp(`^client-${name}\\.`));
    assert.equal(r.echo, true, '1 MiB came back intact');
    assert.equal(r.wireguard, true, '4 MiB arrived intact in WireGuard mode');
  });
}

test('bun: the addon loads without a host libuv, and two nodes join with the engine on its own thread', { timeout: 70_000 }, async () => {
  const r = await run('bun', 'join');
  assert.match(String(r.runtime), /^bun 1\./);
  assert.equal(r.engine, 'thread');
  assert.equal(r.addresses, 2);
});
