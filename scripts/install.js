// The package's install step when no prebuilt binary fits (package.json "install" runs it through
// node-gyp-build, which finds a prebuild or an earlier build first). Installed from npm, it builds from source
// only with what is already installed, never runs apt or asks for root, and otherwise fails with one message
// that names the platform and what to do.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const libc = process.platform === 'linux' ? (process.report?.getReport().header.glibcVersionRuntime ? ' (glibc)' : ' (musl)') : '';
const target = `${process.platform}-${process.arch}${libc}, Node-API ${process.versions.napi ?? '?'}`;

// A git checkout is a developer's build (README: npm install && npm run demo): scripts/deps.sh may fetch the
// sources and install Debian's packages there, as the build and test scripts do. An installed package never.
const checkout = fs.existsSync(path.join(root, '.git'));
if (checkout && spawnSync('bash', [path.join(root, 'scripts', 'deps.sh')], { cwd: root, stdio: 'inherit' }).status !== 0) {
  process.exit(1);
}

const missing = [];
const has = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
if (!has(process.env.CC || 'cc', ['--version'])) missing.push('a C compiler (cc, or $CC)');
if (!has(process.env.CXX || 'c++', ['--version'])) missing.push('a C++ compiler (c++, or $CXX)');
if (!has('bash', ['--version'])) missing.push('bash');
else {
  const check = spawnSync('bash', [path.join(root, 'scripts', 'deps.sh'), '--check'], { cwd: root, encoding: 'utf8' });
  if (check.status !== 0) {
    const lines = check.stdout.split('\n').filter(Boolean);
    missing.push(...(lines.length ? lines : [`what scripts/deps.sh --check needs (it failed: ${check.stderr.trim().split('\n').pop()})`]));
  }
}

if (missing.length) {
  process.stderr.write(
    `tsnet: no prebuilt binary for ${target}, and it cannot be built from source here: missing\n` +
      missing.map((m) => `  - ${m}\n`).join('') +
      `To build it, install those (on Debian or Ubuntu, as root: bash ${path.join(root, 'scripts', 'deps.sh')}) ` +
      `and run "npm rebuild tsnet"; or use a platform tsnet ships binaries for (README.md, "Platforms").\n`,
  );
  process.exit(1);
}
// npm runs install scripts with its own node-gyp reachable: npm_config_node_gyp names it.
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
  : spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
