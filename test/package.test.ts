// The package's shape: the native addon loads, `require` and `import` give the same implementation, a
// missing binary gives a coded error that says what to do, and a packed tarball installs from its prebuild.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadNative, NATIVE_ABI, packageRoot } from '../lib/native.js';

const node = process.execPath;
const run = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(node, args, { encoding: 'utf8', cwd: opts.cwd ?? packageRoot, env: opts.env ?? process.env });

test('the native addon loads and speaks the expected interface', () => {
  assert.equal(loadNative().abi, NATIVE_ABI);
});

test('require and import resolve the package to one implementation', () => {
  const r = run([
    '--input-type=module',
    '-e',
    `import { createRequire } from 'node:module';
     import * as esm from 'tsnet';
     const cjs = createRequire(import.meta.url)('tsnet');
     if (esm.loadNative !== cjs.loadNative) throw new Error('two implementations');
     console.log(esm.loadNative().abi, Object.keys(cjs).length > 0);`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${NATIVE_ABI} true`);
});

test('tsnet/devnet is its own entry: one implementation for require and import; the main entry loads neither it nor undici', () => {
  const r = run([
    '--input-type=module',
    '-e',
    `import { createRequire } from 'node:module';
     import * as path from 'node:path';
     const require = createRequire(import.meta.url);
     require('tsnet');
     const devnetDir = path.join('dist', 'devnet') + path.sep;
     const loaded = () => Object.keys(require.cache).filter((k) => k.includes(devnetDir)).length;
     const before = loaded();
     const undici = Object.keys(require.cache).some((k) => k.includes(path.join('node_modules', 'undici') + path.sep));
     const esm = await import('tsnet/devnet');
     const cjs = require('tsnet/devnet');
     if (esm.startDevnet !== cjs.startDevnet) throw new Error('two implementations');
     console.log(before, undici, typeof cjs.startDevnet, loaded() > 0, 'startDevnet' in require('tsnet'));`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0 false function true false');
});

test('a missing native binary gives ERR_TSNET_NATIVE_MISSING with what to run', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-empty-'));
  try {
    // node-gyp-build looks in $TSNET_PREBUILD instead of the package root when it is set.
    const r = run(
      ['-e', `try { require('./dist/index.js').loadNative(); } catch (e) { console.log(e.code + '|' + e.message); }`],
      { env: { ...process.env, TSNET_PREBUILD: empty } },
    );
    assert.equal(r.status, 0, r.stderr);
    const [code, message] = r.stdout.trim().split('|');
    assert.equal(code, 'ERR_TSNET_NATIVE_MISSING');
    assert.match(message ?? '', /npm run build:native/);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('the prebuild is self-contained and a packed tarball installs from it without compiling', { timeout: 300_000 }, () => {
  // This machine's target (quick when scripts/test.sh built it already; docs/build.md, "Prebuilt binaries").
  execFileSync('bash', ['scripts/prebuild-all.sh', 'linux-x64-glibc'], { cwd: packageRoot, stdio: 'pipe' });
  const binary = path.join(packageRoot, 'prebuilds', 'linux-x64', 'node.napi.glibc.node');
  assert.ok(fs.existsSync(binary), 'scripts/prebuild-all.sh wrote prebuilds/linux-x64/node.napi.glibc.node');
  // libsodium and libb2 are linked statically and privately: only libc-level libraries are needed.
  const ldd = execFileSync('ldd', [binary], { encoding: 'utf8' });
  assert.doesNotMatch(ldd, /sodium|libb2/);
  const exported = execFileSync('nm', ['-D', '--defined-only', binary], { encoding: 'utf8' });
  assert.doesNotMatch(exported, /crypto_|blake2s|sodium|ChaCha20|poly1305|OPENSSL_|ts_ossl_/, 'third-party symbols stay private');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-pack-'));
  try {
    // TSNET_PREBUILDS=skip: prepack packs prebuilds/ as it is instead of building every target.
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: packageRoot, encoding: 'utf8', env: { ...process.env, TSNET_PREBUILDS: 'skip' } })
      .trim()
      .split('\n')
      .pop()!;
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    // PATH without a compiler would be the strict test; instead assert that no build/ directory appears.
    // --prefer-offline, not --offline: the dependencies' metadata is in npm's cache only if some `npm install`
    // ran on this machine before (`npm ci` keeps tarballs, not metadata); a fresh CI machine must fetch it.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, tgz)], { cwd: app, stdio: 'pipe' });
    const installed = path.join(app, 'node_modules', 'tsnet');
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'install did not compile');
    // What the install step runs when no prebuild fits ships too (scripts/install.js and what it calls).
    for (const f of ['scripts/install.js', 'scripts/deps.sh', 'scripts/openssl-asm.sh', 'scripts/find-static-libs.sh', 'scripts/sources.js', 'binding.gyp']) {
      assert.ok(fs.existsSync(path.join(installed, f)), `${f} is in the tarball`);
    }
    const r = run(['-e', `console.log(require('node-gyp-build').resolve(${JSON.stringify(installed)})); console.log(require('tsnet').loadNative().abi); console.log(typeof require('tsnet/identity-federation').enableIdentityFederation); console.log(typeof require('tsnet/devnet').startDevnet)`], { cwd: app });
    assert.equal(r.status, 0, r.stderr);
    const [resolved, abi, federation, devnet] = r.stdout.trim().split('\n');
    assert.match(resolved ?? '', /prebuilds\/linux-x64\/node\.napi\.glibc\.node$/);
    assert.equal(Number(abi), NATIVE_ABI);
    assert.equal(federation, 'function', 'the tsnet/identity-federation subpath export loads');
    assert.equal(devnet, 'function', 'the tsnet/devnet subpath export loads');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('with no prebuild and no sources, install fails with one message naming the platform and what to do, and never runs apt', () => {
  // A copy of the package's scripts and native sources with no deps/ (as the tarball has), and an apt-get
  // on PATH that records being called.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-nosrc-'));
  try {
    for (const d of ['scripts', 'native']) fs.cpSync(path.join(packageRoot, d), path.join(tmp, d), { recursive: true });
    fs.copyFileSync(path.join(packageRoot, 'package.json'), path.join(tmp, 'package.json'));
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['apt-get', 'apt', 'sudo']) {
      fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "$0 $*" >> ${path.join(tmp, 'called')}\nexit 1\n`, { mode: 0o755 });
    }
    const r = spawnSync(node, [path.join(tmp, 'scripts', 'install.js')], {
      encoding: 'utf8',
      cwd: tmp,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, npm_config_node_gyp: '' },
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^tsnet: no prebuilt binary for ${process.platform}-${process.arch}`));
    assert.match(r.stderr, /lwIP 2\.1\.3 source/);
    assert.match(r.stderr, /libuv 1\.44 source/);
    assert.match(r.stderr, /npm rebuild tsnet/);
    assert.ok(!fs.existsSync(path.join(tmp, 'called')), 'no apt-get, apt or sudo was run');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
