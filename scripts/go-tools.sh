#!/usr/bin/env bash
# Installs what the tile interoperability test (proofs/tests/go_tlog.rs) runs: Debian's Go
# toolchain (golang-go) and golang.org/x/mod (golang-golang-x-mod-dev), whose sumdb/tlog
# package is an RFC 6962 tile reader nobody on this project wrote; then builds
# proofs/tests/tlogcheck (GOPATH mode against Debian's copy, nothing downloaded) into
# target/go-tools, again only when its source changed. Idempotent. Prints the bin directory;
# tests find it at target/go-tools or at $LEDGER_GO_TOOLS.
set -euo pipefail
cd "$(dirname "$0")/.."
gopath=/usr/share/gocode
if ! command -v go >/dev/null 2>&1 || [ ! -d "$gopath/src/golang.org/x/mod/sumdb/tlog" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "go-tools: need golang-go and golang-golang-x-mod-dev (Debian) and am not root" >&2
    exit 1
  fi
  echo "go-tools: installing golang-go golang-golang-x-mod-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q golang-go golang-golang-x-mod-dev >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q golang-go golang-golang-x-mod-dev >/dev/null
  }
fi
out="$PWD/target/go-tools"
src=proofs/tests/tlogcheck/main.go
mkdir -p "$out"
if [ ! -x "$out/tlogcheck" ] || [ "$src" -nt "$out/tlogcheck" ]; then
  (cd proofs/tests/tlogcheck &&
    GO111MODULE=off GOPATH="$gopath" GOCACHE="$out/cache" go build -o "$out/tlogcheck" .)
fi
echo "$out"
