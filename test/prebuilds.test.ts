// The prebuilt binaries in prebuilds/ (scripts/prebuild-all.sh; scripts/test.sh builds linux-x64 and
// linux-arm64 glibc before the suite). Each one present is checked as an ELF file (architecture, libc
// floor, nothing exported but the Node-API entry points); the ones that can run here run
// test/fixtures/runtime/nodes.mjs, a user's two-node program, against a development tailnet in this Node:
// linux-x64 glibc under this Node, linux-arm64 glibc under Node 20 for arm64 in qemu-user (which shares
// the host's loopback). PREBUILDS_ONLY=1 makes node-gyp-build skip build/Release, so the prebuild is what
// loads. No musl Node runs here: each musl build is loaded by musl's own dynamic linker (Debian's musl;
// for arm64 under qemu-user) through a host program that stands in for Node's Node-API symbols, and asked
// for its Node-API version (docs/build.md, "Prebuilt binaries").
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
const present = (file: string) => fs.existsSync(path.join(root, file));
const absent = (file: string) => !present(file) && `${file} absent (bash scripts/prebuild-all.sh builds it)`;
const arm64 = targets[1]!;
const x64 = targets[0]!;

let devnet: Devnet | undefined;
let authKey = '';
let qemuNode: string[] = [];
let muslArm64Root = '';
before(async () => {
  if (targets.some((t) => present(t.file))) {
    const out = execFileSync('bash', [path.join(root, 'scripts', 'prebuild-runtimes.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = out.trim().split('\n');
    qemuNode = lines.find((l) => l.startsWith('node20-arm64 '))!.split(' ').slice(1);
    muslArm64Root = lines.find((l) => l.startsWith('musl-arm64-root '))!.split(' ')[1]!;
  }
  if (present(arm64.file) || present(x64.file)) {
    devnet = await startDevnet();
    authKey = devnet.createAuthKey({ reusable: true });
  }
});
after(() => devnet?.close());

const env = { ...process.env, PREBUILDS_ONLY: '1', QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' };

function run(cmd: string[], args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd[0]!, [...cmd.slice(1), ...args], { timeout: 90_000, cwd: root, env }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd.join(' ')}: ${err.message}\n${stderr.slice(-2000)}`)) : resolve(stdout)));
}

async function twoNodes(cmd: string[], tag: string): Promise<Record<string, unknown>> {
  const out = await run(cmd, [fixture, devnet!.controlURL, authKey, tag, 'all']);
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
