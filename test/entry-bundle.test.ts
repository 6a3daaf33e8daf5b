// The built entry (dist/, after `npm run build:ts`): what `require('tsnet')` loads sits in one file,
// dist/entry-bundle.js (scripts/bundle-entry.mjs), the modules it replaced still give the same exports to what loads
// later, and requiring it leaves V8's optimizing compiler unused (docs/performance.md, "Memory (issue 17, part 4)").
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });

test('requiring the built entry loads the entry and its bundle, nothing else of the package', () => {
  const r = node(['-e', `
    const before = new Set(Object.keys(require.cache));
    require(${JSON.stringify(path.join(dist, 'index.js'))});
    process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => !before.has(k))));`]);
  assert.equal(r.status, 0, r.stderr);
  const added = (JSON.parse(r.stdout) as string[]).map((f) => path.relative(root, f).split(path.sep).join('/'));
  assert.deepEqual(added.sort(), ['dist/entry-bundle.js', 'dist/index.js']);
});

test('a module loaded later gets the bundle\'s exports: one class, one module state', () => {
  // dist/server/pending.js is outside the bundle (it loads on first listen before up) and requires
  // dist/net/listener.js and dist/net/packet.js, which are inside it.
  const r = node(['-e', `
    const d = ${JSON.stringify(dist)};
    const m = require(d + '/index.js');
    require(d + '/server/pending.js');
    const listener = require(d + '/net/listener.js');
    const layers = require(d + '/server/layers.js');
    const out = {
      sameListener: listener.TailnetListener === m.TailnetListener,
      sameSocket: require(d + '/net/socket.js').TailnetSocket === m.TailnetSocket,
      sameServer: require(d + '/server.js').Server === m.Server,
      layerLoads: typeof layers.pendingLayer().pendingListen,
    };
    process.stdout.write(JSON.stringify(out));`]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { sameListener: true, sameSocket: true, sameServer: true, layerLoads: 'function' });
});

test('requiring the built entry optimizes no function (the optimizing compiler\'s first use costs 3.5 MiB of RSS)', () => {
  const optimized = (code: string): string[] => {
    const r = node(['--trace-opt', '-e', code]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => /completed (optimizing|compiling)/.test(l));
  };
  // The trace does name what a hot loop gets optimized (so an empty list below means something).
  assert.notDeepEqual(optimized('function f(x) { return x + 1; } let s = 0; for (let i = 0; i < 1e6; i++) s += f(i);'), []);
  assert.deepEqual(optimized(`require(${JSON.stringify(path.join(dist, 'index.js'))})`), []);
});

test('an ES module that imports a bundled file directly gets its named exports', () => {
  const r = node(['--input-type=module', '-e', `
    import { WireGuard, Server, TailnetSocket } from ${JSON.stringify(path.join(dist, 'index.js'))};
    import { TailnetListener } from ${JSON.stringify(path.join(dist, 'net', 'listener.js'))};
    import * as m from ${JSON.stringify(path.join(dist, 'index.js'))};
    console.log([WireGuard, Server, TailnetSocket, TailnetListener].map((x) => typeof x).join(), TailnetListener === m.TailnetListener);`]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'function,function,function,function true');
});
