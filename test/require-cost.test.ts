// Requiring the package loads only what declaring its classes needs: HTTP, HTTP/2, TLS and DNS, and the control,
// data-plane and loopback layers load when a node starts (docs/performance.md, "What requiring the package costs").
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const HEAVY_BUILTINS = ['http', 'https', 'http2', 'tls', 'dns/promises', 'zlib'];
const LATER_LAYERS = ['control/client', 'magicsock/', 'loopback/', 'net/netstack', 'net/http', 'devnet/',
  // What a constructed or started Server, or an OAuth secret, needs (lib/server/layers.ts).
  'server/foreign', 'server/pending', 'server/pcap', 'server/disco-ping', 'server/local-client', 'oauth-key.ts', 'control/identity'];

/** Builtins and lib/ modules a fresh process gained by requiring `entry` (under tsx, as the tests run lib/). */
function loadedBy(entry: string, after = ''): { builtins: string[]; modules: string[] } {
  const child = `
    const before = new Set(process.moduleLoadList);
    const cached = new Set(Object.keys(require.cache));
    const m = require(${JSON.stringify(entry)});
    ${after}
    const builtins = process.moduleLoadList.filter((x) => !before.has(x) && x.startsWith('NativeModule ')).map((x) => x.slice(13));
    const modules = Object.keys(require.cache).filter((k) => !cached.has(k)).map((k) => k.split(require('node:path').sep).join('/'));
    process.stdout.write(JSON.stringify({ builtins, modules }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', child], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { builtins: string[]; modules: string[] };
}

test('requiring tsnet loads no HTTP, TLS or DNS and none of the layers a node loads when it starts', () => {
  const { builtins, modules } = loadedBy('./lib/index.ts');
  assert.ok(modules.some((m) => m.endsWith('lib/server.ts')), 'the entry was loaded');
  assert.deepEqual(builtins.filter((b) => HEAVY_BUILTINS.includes(b)), []);
  assert.deepEqual(modules.filter((m) => LATER_LAYERS.some((l) => m.includes(`/lib/${l}`))), []);
  // node-gyp-build loads with the addon, in loadNative().
  assert.deepEqual(modules.filter((m) => m.includes('/node-gyp-build/')), []);
});

test('the layers load when they are first needed', () => {
  // Constructing a Server does not start it (nothing here reaches any network); an HTTP agent loads the HTTP
  // clients.
  const { builtins, modules } = loadedBy('./lib/index.ts', "new m.Server({ hostname: 'x', ephemeral: true }).httpAgent();");
  assert.ok(builtins.includes('http'), 'httpAgent() loaded the HTTP clients');
  assert.ok(modules.some((m) => m.endsWith('lib/net/http.ts')));
});
