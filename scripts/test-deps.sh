#!/usr/bin/env bash
# Installs what the test suite needs beyond the build: clang with its sanitizer and libFuzzer runtimes, and
# the real WireGuard peer for the interop tests (wireguard-go and wg, run inside network namespaces the
# tests create), with the tools those tests drive, and headless Chromium for the status page tests
# (test/status-page.test.ts). The JavaScript runtimes come from scripts/runtimes.sh.
# Idempotent and quick when everything is present.
set -euo pipefail
pkgs=(clang-14 libclang-rt-14-dev wireguard-go wireguard-tools iproute2 iputils-ping curl python3 iperf3 zstd nftables chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "scripts/test-deps.sh: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) and re-run" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "scripts/test-deps.sh: installed ${missing[*]}"
