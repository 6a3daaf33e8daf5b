// Compiles the addon for one cross target from binding.gyp's own description (targets, source lists,
// defines, include dirs, cflags, the conditions of the target's OS), so a prebuild and a node-gyp build use
// the same inputs. Called by scripts/prebuild-all.sh, which supplies the target's compilers and static libraries
// (docs/build.md, "Prebuilt binaries").
// Usage: node scripts/prebuild-compile.mjs --cc CC --cxx CXX --ar AR --objdir DIR --out FILE --libs "a.a b.a"
//        [--cflags "extra flags after binding.gyp's"] [--jobs N] [--os linux|mac (gyp's OS name; linux)]
import { readFileSync, writeFileSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { privatize } from './macho.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const opt = {};
for (let i = 2; i < process.argv.length; i += 2) opt[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['cc', 'cxx', 'ar', 'objdir', 'out', 'libs']) {
  if (opt[k] === undefined) throw new Error(`prebuild-compile: --${k} is required`);
}
const jobs = Number(opt.jobs ?? 2);
const os = opt.os ?? 'linux';
if (os !== 'linux' && os !== 'mac') throw new Error(`prebuild-compile: --os ${os}: linux or mac`);

// binding.gyp is a Python literal: drop '#' comments (none sit inside its strings) and read it as JSON.
const gypText = readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '').replace(/,(\s*[}\]])/g, '$1');
const gyp = JSON.parse(gypText);

// Expands <!@(cmd) and <!(cmd) the way gyp does (run in the package root), skipping commands that only
// make sense for the host build (find-static-libs.sh: the target's libraries come from --libs).
function expand(list) {
  const out = [];
  for (const item of list ?? []) {
    const m = /^<!@?\((.*)\)$/.exec(item);
    if (!m) { out.push(item); continue; }
    if (m[1].includes('find-static-libs.sh')) continue;
    const text = execFileSync('sh', ['-c', m[1]], { cwd: root, encoding: 'utf8' }).trim();
    out.push(...(item.startsWith('<!@') ? text.split(/\s+/).filter(Boolean) : [text]));
  }
  return out;
}

// Merges target_defaults, the target and its OS=='<os>' conditions; "key!" lists remove entries.
function settings(target) {
  const s = {};
  const add = (obj) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'conditions' || !Array.isArray(v)) continue;
      if (k.endsWith('!')) continue;
      s[k] = [...(s[k] ?? []), ...expand(v)];
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k.endsWith('!') && Array.isArray(v)) s[k.slice(0, -1)] = (s[k.slice(0, -1)] ?? []).filter((x) => !v.includes(x));
    }
    for (const [cond, then] of obj.conditions ?? []) if (cond === `OS=='${os}'`) add(then);
  };
  add(gyp.target_defaults ?? {});
  add(target);
  return s;
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

async function pool(tasks) {
  let next = 0;
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

// Node-API headers of the Node running this script (what node-gyp uses with nodedir); they are the same for
// every architecture.
const nodeHeaders = path.join(path.dirname(process.execPath), '..', 'include', 'node');
rmSync(opt.objdir, { recursive: true, force: true });
const archives = new Map();
let main;
for (const target of gyp.targets) {
  const s = settings(target);
  const flags = [
    ...(s.defines ?? []).map((d) => `-D${d}`),
    ...(s.include_dirs ?? []).map((d) => `-I${path.resolve(root, d)}`),
    `-I${nodeHeaders}`,
    // The target's libsodium and libb2 headers sit beside their archives (prefix/lib/x.a, prefix/include).
    ...opt.libs.split(/\s+/).filter(Boolean).map((a) => `-I${path.join(path.dirname(path.dirname(a)), 'include')}`),
    '-fPIC',
    ...(s.cflags ?? []),
    ...(opt.cflags ?? '').split(/\s+/).filter(Boolean),
  ];
  const dir = path.join(opt.objdir, target.target_name);
  mkdirSync(dir, { recursive: true });
  const objs = [];
  const tasks = (s.sources ?? []).map((src) => {
    const cxx = /\.(cc|cpp)$/.test(src);
    const obj = path.join(dir, src.replace(/[/.]/g, '_') + '.o');
    objs.push(obj);
    const args = [...flags, ...(cxx ? s.cflags_cc ?? [] : s.cflags_c ?? []), '-c', src, '-o', obj];
    return () => run(cxx ? opt.cxx : opt.cc, args);
  });
  await pool(tasks);
  if (target.type === 'static_library') {
    const lib = path.join(opt.objdir, `${target.target_name}.a`);
    await run(opt.ar, ['crs', lib, ...objs]);
    archives.set(target.target_name, lib);
  } else {
    main = { target, s, objs };
  }
}
// Every static library binding.gyp declares, in one group: the order of their dependencies does not matter.
const deps = [...archives.values()];
mkdirSync(path.dirname(opt.out), { recursive: true });
if (os === 'mac') {
  // zig's Mach-O linker drops -exported_symbols_list, so every archive (binding.gyp's, libsodium, libb2, and
  // the libc++ and libc++abi zig builds for the target, named by a verbose link of an empty C++ file) is
  // copied and its symbols made private (scripts/macho.mjs): only the two Node-API entry points are
  // exported. Node-API comes from the host process at load time, as node-gyp links addons on macOS.
  const probe = path.join(opt.objdir, 'probe.cc');
  writeFileSync(probe, 'int probe;\n');
  const p = spawnSync(opt.cxx, ['-O2', '-shared', '-o', `${probe}.dylib`, probe],
    { cwd: root, encoding: 'utf8', env: { ...process.env, ZIG_VERBOSE_LINK: '1' } });
  const link = p.stderr.split('\n').find((l) => l.startsWith('zig ld ')) ?? '';
  const cxxLibs = ['libc++abi.a', 'libc++.a'].map((n) => link.split(' ').find((w) => path.basename(w) === n));
  if (p.status !== 0 || cxxLibs.includes(undefined)) throw new Error(`prebuild-compile: no libc++ in zig's link line: ${p.stderr.slice(-500)}`);
  const keep = new Set(['_napi_register_module_v1', '_node_api_module_get_api_version_v1']);
  const privDir = path.join(opt.objdir, 'private');
  mkdirSync(privDir, { recursive: true });
  const privatized = [...deps, ...opt.libs.split(/\s+/).filter(Boolean), ...cxxLibs].map((a, i) => {
    const copy = path.join(privDir, `${i}-${path.basename(a)}`);
    copyFileSync(a, copy);
    privatize(copy, keep);
    return copy;
  });
  for (const o of main.objs) privatize(o, keep);
  await run(opt.cxx, [
    '-O2', '-shared', '-nostdlib++', '-s', '-Wl,-dead_strip', '-o', opt.out, '-Wl,-undefined,dynamic_lookup',
    `-Wl,-install_name,@rpath/${path.basename(opt.out)}`, ...main.objs, ...privatized,
  ]);
} else {
  // zig's linker has no --exclude-libs (binding.gyp's way to keep lwIP, libuv, libsodium, libb2 private); a
  // version script does more: only the two Node-API entry points are exported, so the static C++ runtime
  // stays private as well. -s strips.
  const versionScript = path.join(opt.objdir, 'exports.map');
  writeFileSync(versionScript, '{ global: napi_register_module_v1; node_api_module_get_api_version_v1; local: *; };\n');
  await run(opt.cxx, [
    '-shared', '-s', '-o', opt.out, `-Wl,-soname=${path.basename(opt.out)}`, `-Wl,--version-script=${versionScript}`,
    ...main.objs, '-Wl,--start-group', ...deps, ...opt.libs.split(/\s+/).filter(Boolean),
    '-Wl,--end-group', '-lpthread', '-ldl',
  ]);
}
