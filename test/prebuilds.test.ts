// The prebuilt binaries in prebuilds/ (scripts/prebuild-all.sh; scripts/test.sh builds the targets it
// names in TSNET_PREBUILT_TARGETS before the suite, and a target named there whose file is missing fails
// instead of skipping). Each Linux one present is checked as an ELF file (architecture, libc floor,
// nothing exported but the Node-API entry points), each macOS one as a Mach-O file (CPU, minimum macOS,
// libSystem only, Node-API looked up in the host, code signature); the ones that can run here run
// test/fixtures/runtime/nodes.mjs, a user's two-node program, against a development tailnet: linux-x64
// glibc under this Node, linux-arm64 glibc under Node 20 for arm64 in qemu-user (which shares the host's
// loopback), the musl ones under Bun's musl builds (arm64 in qemu-user). PREBUILDS_ONLY=1 makes node-gyp-build skip
// build/Release, so the prebuild is what loads. Each musl build is also loaded by musl's own dynamic linker
// (Debian's musl; for arm64 under qemu-user) through a host program that stands in for Node's Node-API
// symbols, and asked for its Node-API version. No macOS runs here: those files are only checked
// (docs/build.md, "Prebuilt binaries").
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';

const root = path.join(__dirname, '..');
const fixture = path.join(__dirname, 'fixtures', 'runtime', 'nodes.mjs');
const GLIBC_FLOOR = '2.17';
const targets = [
  { name: 'linux-x64-glibc', file: 'prebuilds/linux-x64/node.napi.glibc.node', machine: 'Advanced Micro Devices X86-64' },
  { name: 'linux-arm64-glibc', file: 'prebuilds/linux-arm64/node.napi.glibc.node', machine: 'AArch64' },
  { name: 'linux-x64-musl', file: 'prebuilds/linux-x64/node.napi.musl.node', machine: 'Advanced Micro Devices X86-64' },
  { name: 'linux-arm64-musl', file: 'prebuilds/linux-arm64/node.napi.musl.node', machine: 'AArch64' },
];
const darwin = [
  { name: 'darwin-x64', file: 'prebuilds/darwin-x64/node.napi.node', cpu: 'X86_64', arch: 'x64', minos: '10.15' },
  { name: 'darwin-arm64', file: 'prebuilds/darwin-arm64/node.napi.node', cpu: 'ARM64', arch: 'arm64', minos: '11.0' },
];
// The targets scripts/test.sh built: their files must be there.
const required = new Set((process.env.TSNET_PREBUILT_TARGETS ?? '').split(/\s+/).filter(Boolean));
const requiredFiles = new Set([...targets, ...darwin].filter((t) => required.has(t.name)).map((t) => t.file));
const present = (file: string) => fs.existsSync(path.join(root, file));
const absent = (file: string) => !present(file) && !requiredFiles.has(file) && `${file} absent (bash scripts/prebuild-all.sh builds it)`;
const arm64 = targets[1]!;
const x64 = targets[0]!;

let devnet: Devnet | undefined;
let authKey = '';
let qemuNode: string[] = [];
let muslArm64Root = '';
let bunMusl = { lib: '', bun: '' };
let bunMuslArm64: string[] = [];
const muslX64 = targets[2]!;
before(async () => {
  if (targets.some((t) => present(t.file))) {
    const out = execFileSync('bash', [path.join(root, 'scripts', 'prebuild-runtimes.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = out.trim().split('\n');
    qemuNode = lines.find((l) => l.startsWith('node20-arm64 '))!.split(' ').slice(1);
    muslArm64Root = lines.find((l) => l.startsWith('musl-arm64-root '))!.split(' ')[1]!;
    const [lib, bun] = lines.find((l) => l.startsWith('bun-musl-x64 '))!.split(' ').slice(1);
    bunMusl = { lib: lib!, bun: bun! };
    bunMuslArm64 = lines.find((l) => l.startsWith('bun-musl-arm64 '))!.split(' ').slice(1);
  }
  if (present(arm64.file) || present(x64.file) || present(muslX64.file) || present(targets[3]!.file)) {
    devnet = await startDevnet();
    authKey = devnet.createAuthKey({ reusable: true });
  }
});
after(() => devnet?.close());

const env = { ...process.env, PREBUILDS_ONLY: '1', QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' };

function run(cmd: string[], args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd[0]!, [...cmd.slice(1), ...args], { timeout: 90_000, cwd: root, env: { ...env, ...extraEnv } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd.join(' ')}: ${err.message}\n${stderr.slice(-2000)}`)) : resolve(stdout)));
}

async function twoNodes(cmd: string[], tag: string, extraEnv: Record<string, string> = {}, mode = 'all'): Promise<Record<string, unknown>> {
  const out = await run(cmd, [fixture, devnet!.controlURL, authKey, tag, mode], extraEnv);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

// What the addon resolves to, the arch of the process that loaded it, and an X25519 public key computed by
// the addon's libsodium (compared with this process's addon: same key, same answer).
const probe = `const ngb = require('node-gyp-build');
const n = require('./dist/native.js').loadNative();
console.log(JSON.stringify({ arch: process.arch, file: ngb.resolve('.'), abi: n.abi, pub: n.crypto.x25519Public(Buffer.alloc(32, 7)).toString('hex') }));`;

for (const t of targets) {
  test(`${t.name}: ${t.machine}, exports only the Node-API entry points, libc floor`, { skip: absent(t.file) }, () => {
    const f = path.join(root, t.file);
    assert.match(execFileSync('readelf', ['-h', f], { encoding: 'utf8' }), new RegExp(`Machine:\\s+${t.machine}`));
    const exported = execFileSync('nm', ['-D', '--defined-only', f], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' ').pop()).sort();
    assert.deepEqual(exported, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    const dyn = execFileSync('objdump', ['-T', f], { encoding: 'utf8' });
    const versions = [...dyn.matchAll(/GLIBC_([0-9.]+)/g)].map((m) => m[1]!);
    const needed = [...execFileSync('readelf', ['-d', f], { encoding: 'utf8' }).matchAll(/\(NEEDED\).*\[(.*)\]/g)].map((m) => m[1]!);
    assert.ok(!needed.some((n) => /stdc\+\+|sodium|b2|uv/.test(n)), `needs only libc: ${needed.join(' ')}`);
    if (t.name.endsWith('glibc')) {
      const newer = versions.filter((v) => v.localeCompare(GLIBC_FLOOR, undefined, { numeric: true }) > 0);
      assert.deepEqual(newer, [], `no symbol newer than GLIBC_${GLIBC_FLOOR}`);
    } else {
      assert.deepEqual(versions, [], 'a musl build references no glibc symbol version');
      assert.deepEqual(needed, ['libc.so'], 'a musl build needs only musl libc');
    }
  });
}

test('linux-x64 glibc: this Node loads the prebuild; two nodes join, HTTP with whoIs, a 1 MiB echo, WireGuard mode 4 MiB', { skip: absent(x64.file), timeout: 120_000 }, async () => {
  const p = JSON.parse(await run([process.execPath], ['-e', probe])) as Record<string, unknown>;
  assert.equal(p.file, path.join(root, x64.file));
  const r = await twoNodes([process.execPath], 'x64');
  assert.equal(r.status, 200);
  assert.match(String(r.caller), /^client-x64\./);
  assert.equal(r.echo, true, '1 MiB came back intact');
  assert.equal(r.wireguard, true, '4 MiB arrived intact in WireGuard mode');
});

test('linux-arm64 glibc under qemu-user: Node 20 for arm64 loads the prebuild; two nodes join, HTTP with whoIs, a 1 MiB echo, WireGuard mode 4 MiB', { skip: absent(arm64.file), timeout: 180_000 }, async () => {
  const host = JSON.parse(execFileSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8' })) as Record<string, unknown>;
  const p = JSON.parse(await run(qemuNode, ['-e', probe])) as Record<string, unknown>;
  assert.equal(p.arch, 'arm64');
  assert.equal(p.file, path.join(root, arm64.file));
  assert.equal(p.abi, host.abi);
  assert.equal(p.pub, host.pub, 'the arm64 libsodium computes the same X25519 key');
  const r = await twoNodes(qemuNode, 'arm64');
  assert.match(String(r.runtime), /^node 20\./);
  assert.equal(r.status, 200);
  assert.match(String(r.caller), /^client-arm64\./);
  assert.equal(r.echo, true, '1 MiB came back intact');
  assert.equal(r.wireguard, true, '4 MiB arrived intact in WireGuard mode');
});

// A stand-in for Node under musl: defines every Node-API function the addon imports (as a stub that fails),
// dlopens the addon with RTLD_NOW (musl binds everything at load, so any libc symbol musl lacks fails here),
// runs its constructors, and calls its Node-API version entry point. linux-x64: built with Debian's musl-gcc
// and run by Debian's musl loader; linux-arm64: built with the zig wrapper scripts/prebuild-all.sh left in
// build-prebuilds/bin/ and run under qemu-user by Debian's arm64 musl loader.
function muslHost(imports: string[], extra: string[] = []): string {
  return [
    '#include <dlfcn.h>',
    '#include <stdio.h>',
    ...imports.map((n) => `int ${n}(void) { return 9; }`),
    ...extra,
    'int main(int argc, char **argv) {',
    '  (void)argc;',
    '  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);',
    '  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }',
    '  int (*version)(void) = (int (*)(void))dlsym(h, "node_api_module_get_api_version_v1");',
    '  void *reg = dlsym(h, "napi_register_module_v1");',
    '  void *priv = dlsym(h, "sodium_init");',
    '  printf("%d %d %d\\n", version ? version() : -1, reg != 0, priv != 0);',
    '  return 0;',
    '}',
  ].join('\n');
}

for (const [t, arch] of [[targets[2]!, 'x64'], [targets[3]!, 'arm64']] as const) {
  const zigCC = path.join(root, 'build-prebuilds', 'bin', 'linux-arm64-musl', 'cc');
  const skip = absent(t.file) || (arch === 'arm64' && !fs.existsSync(zigCC) && 'build-prebuilds/bin/linux-arm64-musl/cc absent (scripts/prebuild-all.sh linux-arm64-musl writes it)');
  test(`linux-${arch} musl: musl's dynamic linker loads the prebuild, binds every symbol, and it reports Node-API 8`, { skip, timeout: 120_000 }, () => {
    const f = path.join(root, t.file);
    const imports = execFileSync('nm', ['-D', '--undefined-only', f], { encoding: 'utf8' }).split('\n')
      .map((l) => l.trim().split(/\s+/).pop()!).filter((n) => /^(napi_|node_api_)/.test(n));
    assert.ok(imports.length > 20, `imports Node-API: ${imports.length}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-musl-'));
    try {
      const host = path.join(dir, 'host');
      // The musl floor: every libc symbol the addon imports is in Debian's musl 1.2.3 (Alpine 3.17).
      const libc = arch === 'x64' ? '/usr/lib/x86_64-linux-musl/libc.so' : path.join(muslArm64Root, 'lib', 'aarch64-linux-musl', 'libc.so');
      const musl = new Set(execFileSync('nm', ['-D', '--defined-only', libc], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/).pop()));
      const libcImports = execFileSync('nm', ['-D', '--undefined-only', f], { encoding: 'utf8' }).split('\n')
        .map((l) => l.trim().split(/\s+/).pop()!).filter((n) => n && !/^(napi_|node_api_)/.test(n));
      assert.deepEqual(libcImports.filter((n) => !musl.has(n)), [], `imports only what ${libc} exports`);
      // zig's musl start-up code (the arm64 host only) references statx, which musl 1.2.3 lacks: the host
      // defines it (the addon does not import it, checked just above).
      fs.writeFileSync(`${host}.c`, muslHost(imports, arch === 'arm64' ? ['int statx(void) { return -1; }'] : []));
      if (arch === 'x64') execFileSync('musl-gcc', ['-rdynamic', '-o', host, `${host}.c`], { stdio: 'pipe' });
      else execFileSync(zigCC, ['-dynamic', '-rdynamic', '-o', host, `${host}.c`], { stdio: 'pipe' });
      assert.match(execFileSync('readelf', ['-l', host], { encoding: 'utf8' }), arch === 'x64' ? /ld-musl-x86_64\.so\.1/ : /ld-musl-aarch64\.so\.1/);
      const out = arch === 'x64'
        ? execFileSync(host, [f], { encoding: 'utf8' })
        : execFileSync('qemu-aarch64-static', [host, f], { encoding: 'utf8', env: { ...process.env, QEMU_LD_PREFIX: muslArm64Root } });
      assert.equal(out.trim(), '8 1 0', 'Node-API 8, the register entry point found, libsodium not visible');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

// Bun's musl build (npm @oven/bun-linux-x64-musl) is a musl process: musl's dynamic linker loads it and,
// through Bun's Node-API, the musl prebuild (LIBC=musl picks node.napi.musl.node; Debian has no
// /etc/alpine-release for node-gyp-build to guess it from). Bun itself also needs a libstdc++.so.6, which
// Debian has only for glibc: scripts/prebuild-runtimes.sh bridges it (test/fixtures/musl/glibc-compat.c).
// The addon links no libstdc++ (its libc++ is static), so that bridge is not on the addon's path. Two
// nodes join; TCP over the tailnet does not work in Bun yet, glibc or musl (docs/status.md, "Runtimes").
test('linux-x64 musl in Bun\'s musl build: Noise vectors from the addon\'s crypto; two nodes join the tailnet', { skip: absent(muslX64.file), timeout: 180_000 }, async () => {
  assert.ok(present(muslX64.file), `${muslX64.file}: scripts/test.sh built linux-x64-musl`);
  const muslEnv = { LIBC: 'musl', LD_LIBRARY_PATH: bunMusl.lib };
  assert.match(execFileSync('readelf', ['-l', bunMusl.bun], { encoding: 'utf8' }), /ld-musl-x86_64\.so\.1/, 'Bun\'s musl build asks for musl\'s loader');
  const v = JSON.parse(await run([bunMusl.bun], [path.join(__dirname, 'fixtures', 'musl', 'noise-vectors.cjs')], muslEnv)) as Record<string, unknown>;
  assert.deepEqual(v.mapped, [path.join(root, muslX64.file)], 'the musl prebuild is the one addon mapped');
  for (const k of ['keys', 'initiation', 'response', 'handshakeHash', 'records', 'split5000']) assert.equal(v[k], true, `Noise vector: ${k}`);
  const r = await twoNodes([bunMusl.bun], 'musl', muslEnv, 'join');
  assert.match(String(r.runtime), /^bun 1\.4\.5/);
  assert.equal(r.engine, 'thread', 'the engine runs on its own thread');
  assert.equal(r.addresses, 2, 'the node got its IPv4 and IPv6 tailnet addresses');
});

const arm64MuslCC = path.join(root, 'build-prebuilds', 'bin', 'linux-arm64-musl', 'cc');
// Bun's arm64 musl build under qemu-user, in the arm64 musl root (QEMU_LD_PREFIX): the same bridge for
// Debian's arm64 libstdc++, built with the zig wrapper and preloaded (that libstdc++ names no ld-linux).
test('linux-arm64 musl in Bun\'s arm64 musl build under qemu-user: Noise vectors from the addon\'s crypto; two nodes join the tailnet', { skip: absent(targets[3]!.file) || (!fs.existsSync(arm64MuslCC) && 'build-prebuilds/bin/linux-arm64-musl/cc absent (scripts/prebuild-all.sh linux-arm64-musl writes it)'), timeout: 240_000 }, async () => {
  const t = targets[3]!;
  assert.ok(present(t.file), `${t.file}: scripts/test.sh built linux-arm64-musl`);
  const zigCC = arm64MuslCC;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-bun-arm64-'));
  try {
    const compat = path.join(dir, 'glibc-compat.so');
    execFileSync(zigCC, ['-O2', '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', '-o', compat, path.join(__dirname, 'fixtures', 'musl', 'glibc-compat.c')], { stdio: 'pipe' });
    const muslEnv = { LIBC: 'musl', QEMU_LD_PREFIX: muslArm64Root, QEMU_SET_ENV: `LD_PRELOAD=${compat}` };
    const v = JSON.parse(await run(bunMuslArm64, [path.join(__dirname, 'fixtures', 'musl', 'noise-vectors.cjs')], muslEnv)) as Record<string, unknown>;
    assert.deepEqual(v.mapped, [path.join(root, t.file)], 'the arm64 musl prebuild is the one addon mapped');
    for (const k of ['keys', 'initiation', 'response', 'handshakeHash', 'records', 'split5000']) assert.equal(v[k], true, `Noise vector: ${k}`);
    const r = await twoNodes(bunMuslArm64, 'muslarm', muslEnv, 'join');
    assert.match(String(r.runtime), /^bun 1\.4\.5/);
    assert.equal(r.addresses, 2, 'the node got its IPv4 and IPv6 tailnet addresses');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The macOS builds cannot run here. They are checked with LLVM's Mach-O tools (Debian's llvm-14, which
// scripts/prebuild-all.sh installs when it builds them) and scripts/macho.mjs, for what macOS's loader
// requires or what would make them misbehave inside Node or Electron.
const objdump = (args: string[]) => execFileSync('llvm-objdump-14', ['--macho', ...args], { encoding: 'utf8' });
for (const t of darwin) {
  test(`${t.name}: a Mach-O ${t.cpu} dylib for macOS ${t.minos}+ that loads only libSystem, looks up only Node-API in its host and exports only the entry points`, { skip: absent(t.file) }, () => {
    assert.ok(present(t.file), `${t.file}: scripts/test.sh built ${t.name}`);
    const f = path.join(root, t.file);
    const hdr = objdump(['--private-header', f]).split('\n').find((l) => l.startsWith('MH_MAGIC_64'))!.trim().split(/\s+/);
    assert.equal(hdr[1], t.cpu);
    assert.equal(hdr[4], 'DYLIB');
    assert.ok(!hdr.includes('WEAK_DEFINES') && !hdr.includes('BINDS_TO_WEAK'), `no weak definitions to merge with the host's: ${hdr.join(' ')}`);
    // Load commands: "cmd NAME" starts one; its fields follow as "key value" lines.
    const cmds: Array<Record<string, string>> = [];
    for (const line of objdump(['--private-headers', f]).split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k === 'cmd') cmds.push({ cmd: v! });
      else if (k && v !== undefined && cmds.length) cmds[cmds.length - 1]![k] ??= v;
    }
    const build = cmds.find((c) => c.cmd === 'LC_BUILD_VERSION')!;
    assert.deepEqual([build.platform, build.minos], ['macos', t.minos]);
    const dylibs = cmds.filter((c) => /^LC_(LOAD|LOAD_WEAK|REEXPORT|LAZY_LOAD|LOAD_UPWARD)_DYLIB$/.test(c.cmd!)).map((c) => c.name);
    assert.deepEqual(dylibs, ['/usr/lib/libSystem.B.dylib'], 'libc++ is linked in, not loaded');
    const exported = objdump(['--exports-trie', f]).split('\n').filter((l) => l.startsWith('0x')).map((l) => l.trim().split(/\s+/)[1]).sort();
    // zig's linker also names the image's own header (each image has its own: they clash with nothing).
    assert.deepEqual(exported, ['___dso_handle', '__mh_dylib_header', '_napi_register_module_v1', '_node_api_module_get_api_version_v1']);
    const binds = objdump(['--bind', '--lazy-bind', f]).split('\n').filter((l) => l.startsWith('__')).map((l) => l.trim().split(/\s+/).slice(-2) as [string, string]);
    const flat = binds.filter(([d]) => d === 'flat-namespace').map(([, n]) => n);
    assert.ok(flat.length > 20 && flat.every((n) => /^_(napi|node_api)_/.test(n)), `looked up in the host: Node-API only (${flat.filter((n) => !/^_(napi|node_api)_/.test(n)).join(' ')})`);
    assert.deepEqual(binds.filter(([d]) => d !== 'flat-namespace' && d !== 'libSystem'), [], 'everything else binds to libSystem');
    assert.ok(binds.some(([d, n]) => d === 'libSystem' && n === '_socket'), 'binds libSystem by name (two-level namespace)');
    const weak = execFileSync('llvm-nm-14', ['-m', '-u', f], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('weak'));
    assert.ok(weak.every((l) => l.includes('___darwin_check_fd_set_overflow')), `no weak imports but the one FD_SET tests for: ${weak.join('; ')}`);
  });
}

test('darwin-arm64: ad-hoc code signature whose every page hash matches; one changed byte fails the check', { skip: absent(darwin[1]!.file) }, () => {
  const f = path.join(root, darwin[1]!.file);
  const check = (file: string) => execFileSync(process.execPath, [path.join(root, 'scripts', 'macho.mjs'), 'verify-signature', file], { encoding: 'utf8', stdio: 'pipe' });
  assert.match(check(f), /ad-hoc signature "node\.napi\.node": \d+ pages of 16384 bytes, SHA-256, all match/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-macho-'));
  try {
    const bytes = fs.readFileSync(f);
    bytes[0x4000 + 123] ^= 1; // inside __TEXT, page 1
    fs.writeFileSync(path.join(dir, 'changed.node'), bytes);
    assert.throws(() => check(path.join(dir, 'changed.node')), /page 1 does not match its signed hash/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('node-gyp-build on macOS resolves prebuilds/darwin-<arch>/node.napi.node', { skip: darwin.every((t) => absent(t.file)) && 'no darwin prebuild' }, () => {
  for (const t of darwin.filter((d) => present(d.file))) {
    const resolved = execFileSync(process.execPath, ['-e', 'console.log(require("node-gyp-build").resolve(process.argv[1]))', root],
      { encoding: 'utf8', env: { ...process.env, PREBUILDS_ONLY: '1', npm_config_platform: 'darwin', npm_config_arch: t.arch } }).trim();
    assert.equal(resolved, path.join(root, t.file));
  }
});
