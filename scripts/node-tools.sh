#!/usr/bin/env bash
# Builds the Node package (bindings/node, napi-rs): the addon crate `ledger-anchors-node` as a
# debug cdylib in the workspace's target directory (`cargo build -p … --locked`, so an
# unchanged tree is a no-op), copied to bindings/node/ledger_anchors.node (gitignored) when it
# changed. Node itself comes from the machine (Debian's `nodejs` is installed when missing and
# this runs as root); nothing is fetched from npm. Idempotent. Prints the package directory;
# `node --test bindings/node/test/` and `require("./bindings/node")` use what it built.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "node-tools: need Node.js >= 18 (Debian: nodejs) and am not root" >&2
    exit 1
  fi
  echo "node-tools: installing nodejs" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q nodejs >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q nodejs >/dev/null
  }
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
  echo "node-tools: Node.js $(node --version) is too old: node --test needs >= 18" >&2
  exit 1
fi
pkg="$PWD/bindings/node"
# The library cargo built, named by cargo itself (any target directory, any platform).
lib="$(cargo build -p ledger-anchors-node --locked --message-format=json-render-diagnostics |
  node -e '
    let found = "";
    require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
      const m = JSON.parse(l);
      if (m.reason === "compiler-artifact" && m.target.name === "ledger_anchors_node") {
        found = m.filenames.find((f) => /\.(so|dylib|dll)$/.test(f)) || found;
      }
    }).on("close", () => {
      if (!found) { console.error("node-tools: cargo built no ledger_anchors_node library"); process.exit(1); }
      console.log(found);
    });')"
if ! cmp -s "$lib" "$pkg/ledger_anchors.node"; then
  cp "$lib" "$pkg/ledger_anchors.node.tmp"
  mv "$pkg/ledger_anchors.node.tmp" "$pkg/ledger_anchors.node"
fi
echo "$pkg"
