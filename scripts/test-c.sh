#!/usr/bin/env bash
# C core tests: the unit tests built plainly and under ASan+UBSan, then each libFuzzer target for a bounded
# time (FUZZ_SECONDS per target, default 20; 0 skips fuzzing). Build trees live in build-c*/ (ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=$(nproc 2>/dev/null || echo 2)
CLANG=${CLANG:-clang-14}
status=0
failures=() # "<name> (<label>)", with each one's output in build-c-logs/ for the summary at the end
mkdir -p build-c-logs

run_tests() { # dir label
  local dir=$1 label=$2 t
  for t in $(node scripts/sources.js proto_tests tests); do
    local name log; name=$(basename "$t" .c)
    log=build-c-logs/$name-${label//[^a-z]/}.log
    echo "== C tests ($label): $name"
    if ! "$dir/$name" 2>&1 | tee "$log"; then status=1; failures+=("$name ($label)|$log"); fi
  done
}

cmake -S . -B build-c -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-c -j"$JOBS" >/dev/null
# The WireGuard core against the real wireguard-go (namespaces; needs root) runs once, in the plain build.
TS_WG_INTEROP=$([ "$(id -u)" = 0 ] && echo 1 || echo 0) run_tests build-c plain

cmake -S . -B build-c-asan -DTS_SANITIZE=ON -DCMAKE_C_COMPILER="$CLANG" >/dev/null
cmake --build build-c-asan -j"$JOBS" >/dev/null
TS_WG_INTEROP=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_tests build-c-asan asan+ubsan

fuzzers=$(node scripts/sources.js fuzz)
if [ "$FUZZ_SECONDS" != 0 ] && [ -n "$fuzzers" ]; then
  cmake -S . -B build-c-fuzz -DTS_FUZZ=ON -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_CXX_COMPILER="${CLANG/clang/clang++}" >/dev/null
  cmake --build build-c-fuzz -j"$JOBS" >/dev/null
  fuzz_one() { # <source>: one target for FUZZ_SECONDS; prints its result when done
    local name corpus seeds
    name=$(basename "$1" .c)
    corpus=.fuzz/$name; mkdir -p "$corpus"
    seeds=native/fuzz/corpus/$name
    # -max_total_time bounds the run; a crash writes the input to .fuzz/ and fails the suite.
    if ! build-c-fuzz/"$name" -max_total_time="$FUZZ_SECONDS" -artifact_prefix=.fuzz/"$name"- \
        -print_final_stats=1 "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) > .fuzz/"$name".log 2>&1; then
      echo "== fuzz: $name for ${FUZZ_SECONDS}s"
      tail -40 .fuzz/"$name".log
      echo "fuzz target $name FAILED (input saved under .fuzz/)"
      touch .fuzz/"$name".failed
      return 1
    fi
    echo "== fuzz: $name for ${FUZZ_SECONDS}s"
    grep -E '^stat::number_of_executed_units' .fuzz/"$name".log | sed "s/^/   $name /" || true
  }
  rm -f .fuzz/*.failed
  # A fuzzer uses one core: JOBS of them run at once, so each still gets FUZZ_SECONDS of a core to itself.
  pids=()
  for f in $fuzzers; do
    fuzz_one "$f" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then
      wait "${pids[0]}" || status=1
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
fi
for m in .fuzz/*.failed; do
  [ -e "$m" ] || continue
  echo "== fuzz target FAILED: $(basename "$m" .failed); its last lines:"
  tail -n 15 "${m%.failed}.log" || true
done
for f in "${failures[@]}"; do
  echo "== C test FAILED: ${f%%|*}; its last lines:"
  tail -n 15 "${f##*|}" || true
done
exit $status
