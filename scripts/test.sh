#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the addon and the TypeScript, runs the C tests
# (plain, ASan+UBSan, time-boxed fuzzing), the socket tests against an ASan+UBSan build of the addon, and
# every TypeScript test. `npm test` and .ci/run call this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/test-deps.sh
[ -d node_modules/node-gyp-build ] || npm install --ignore-scripts --no-audit --no-fund
npx node-gyp rebuild >build-gyp.log 2>&1 || { tail -40 build-gyp.log; echo "native build failed"; exit 1; }
npm run -s build:ts
# The prebuilds test/prebuilds.test.ts, test/package.test.ts and test/windows.test.ts (under Wine) run:
# linux-x64 and linux-arm64 (glibc 2.17 floor) and win32-x64 with zig; quick when its cache holds the
# toolchain and the target libraries (docs/build.md).
bash scripts/prebuild-all.sh linux-x64-glibc linux-arm64-glibc win32-x64 >build-prebuilds.log 2>&1 ||
  { tail -40 build-prebuilds.log; echo "prebuild failed"; exit 1; }
bash scripts/test-c.sh
bash scripts/test-asan-addon.sh
npm run -s test:ts
