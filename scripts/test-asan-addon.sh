#!/usr/bin/env bash
# The native addon under AddressSanitizer and UndefinedBehaviorSanitizer, driven by the JavaScript tests that
# reach the engine, the socket bridge (both transports), the WireGuard link, magicsock, the DERP transport, the Device's
# setters (allowed-ips, wireguard) and the Noise crypto glue (host) (which the C unit
# tests cannot reach without a Node around them). The addon is built in a scratch copy of the native tree,
# loaded through TSNET_PREBUILD, and node runs with the ASan runtime preloaded (leak checking off: V8 and
# Node keep memory until exit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build-addon-asan
CLANG=${CLANG:-clang-14}
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r binding.gyp package.json native scripts "$OUT/"
ln -s "$ROOT/deps" "$OUT/deps"
ln -s "$ROOT/node_modules" "$OUT/node_modules"
SAN="-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -g"
(cd "$OUT" && CC=$CLANG CXX=${CLANG/clang/clang++} CFLAGS="$SAN" CXXFLAGS="$SAN" LDFLAGS="$SAN" \
  npx node-gyp rebuild >build.log 2>&1) || { tail -30 "$OUT/build.log"; exit 1; }
RT=$($CLANG -print-file-name=libclang_rt.asan-x86_64.so)
echo "== JavaScript tests against the ASan+UBSan addon"
export TSNET_PREBUILD=$OUT LD_PRELOAD=$RT ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The engine inline (the default) and on its own thread; engine-mode.test.ts runs children in both modes
# and with workers (they inherit the sanitized addon through the environment).
node --import tsx --test --test-reporter=spec test/netstack.test.ts test/magicsock.test.ts test/engine-mode.test.ts test/tcp-reliability.test.ts \
  test/allowed-ips.test.ts test/shared-addresses.test.ts test/host.test.ts test/wireguard.test.ts test/services.test.ts test/routes.test.ts "$@"
echo "== again with the engine on its own thread (TSNET_ENGINE=thread)"
TSNET_ENGINE=thread node --import tsx --test --test-reporter=spec test/netstack.test.ts "$@"
echo "== the stream transport (TSNET_BRIDGE=stream: tcpWrite/tcpRead/tcpEnd/tcpClose, the relay's derpWrite/derpAck), inline and on a thread"
TSNET_BRIDGE=stream node --import tsx --test --test-reporter=spec test/netstack.test.ts test/compat.test.ts test/magicsock.test.ts test/routes.test.ts "$@"
TSNET_BRIDGE=stream TSNET_ENGINE=thread node --import tsx --test --test-reporter=spec test/netstack.test.ts "$@"
