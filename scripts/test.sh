#!/usr/bin/env bash
# The project's test command (README "Set up"): installs the independent tools the tests
# call (Python OpenTimestamps client, Schemathesis and jsonschema, into target/py-tools; poppler-utils,
# wrk and nginx from Debian), starts a local S3 server for the blob contract tests (moto,
# into target/moto; stopped again on exit), checks infra/ (scripts/check-infra.sh), then runs
# every test. Go's tlog package (golang.org/x/mod, Debian) checks the tiles (scripts/go-tools.sh);
# Node runs the Node package's tests (scripts/node-tools.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER_PY_TOOLS="$(./scripts/python-tools.sh)"
export LEDGER_PY_TOOLS
./scripts/api-tools.sh
LEDGER_GO_TOOLS="$(./scripts/go-tools.sh)"   # Go and golang.org/x/mod's tlog (tile interop)
export LEDGER_GO_TOOLS
./scripts/node-tools.sh >/dev/null   # Node and the Node package's addon (cli/tests/node.rs)
./scripts/check-infra.sh >/dev/null   # infra/: YAML, k8s schemas, systemd-analyze, hadolint, JSON
# Reuse a server that was already running (and leave it running); stop one started here.
if ! LEDGER_TEST_S3_ENDPOINT="$(./scripts/s3-server.sh status)"; then
  LEDGER_TEST_S3_ENDPOINT="$(./scripts/s3-server.sh start)"
  trap './scripts/s3-server.sh stop' EXIT
fi
export LEDGER_TEST_S3_ENDPOINT
cargo test --workspace --locked "$@"
