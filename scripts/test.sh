#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the addon and the TypeScript, runs the C tests
# (plain, ASan+UBSan, time-boxed fuzzing), the socket tests against an ASan+UBSan build of the addon, and
# every TypeScript test. `npm test` and .ci/run call this. A build failure stops it at once; the test parts
# all run and their failures are reported together at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/test-deps.sh
[ -d node_modules/node-gyp-build ] || npm install --ignore-scripts --no-audit --no-fund
npx node-gyp rebuild >build-gyp.log 2>&1 || { tail -40 build-gyp.log; echo "native build failed"; exit 1; }
npm run -s build:ts
# The prebuilds test/prebuilds.test.ts, test/package.test.ts and test/windows.test.ts (under Wine) run, for
# every target, with zig: about 10 s to 2.5 min when its cache holds the toolchain and the target libraries,
# about 35 min on a new machine (docs/build.md, "Measured"). The tests fail, rather than skip, a target named
# here whose file is missing.
export TSNET_PREBUILT_TARGETS="linux-x64-glibc linux-arm64-glibc linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64 win32-x64"
# shellcheck disable=SC2086
bash scripts/prebuild-all.sh $TSNET_PREBUILT_TARGETS >build-prebuilds.log 2>&1 ||
  { tail -40 build-prebuilds.log; echo "prebuild failed"; exit 1; }
# The three test parts run whatever the others did, and the suite reports every failed part together.
# Each part's output is also kept in build-test-<n>.log; a failed part's last lines are printed again at the end,
# where a CI summary that keeps only the tail of the output still shows what failed.
failed=()
logs=()
parts=0
part() { # <label> <command...>
  local label=$1 log; shift
  parts=$((parts + 1))
  log=build-test-$parts.log
  echo "=== $label"
  if ! "$@" 2>&1 | tee "$log"; then failed+=("$label"); logs+=("$log"); echo "=== $label FAILED"; fi
}
part "C tests and fuzzing (scripts/test-c.sh)" bash scripts/test-c.sh
part "addon under ASan+UBSan (scripts/test-asan-addon.sh)" bash scripts/test-asan-addon.sh
part "TypeScript tests (npm run test:ts)" npm run -s test:ts
if [ ${#failed[@]} -gt 0 ]; then
  for i in "${!failed[@]}"; do
    echo "=== the end of ${failed[$i]}:"
    grep -vE '^(✔|▶|ℹ) ' "${logs[$i]}" | tail -n 30 || true
  done
  printf 'test suite FAILED in %d part(s):\n' ${#failed[@]}
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
echo "test suite passed: every part"
