#!/usr/bin/env bash
# The project's test command (README "Set up"): installs the independent verifiers the tests
# call (Python OpenTimestamps client, into target/py-tools), starts a local S3 server for the
# blob contract tests (moto, into target/moto; stopped again on exit), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER_PY_TOOLS="$(./scripts/python-tools.sh)"
export LEDGER_PY_TOOLS
# Reuse a server that was already running (and leave it running); stop one started here.
if ! LEDGER_TEST_S3_ENDPOINT="$(./scripts/s3-server.sh status)"; then
  LEDGER_TEST_S3_ENDPOINT="$(./scripts/s3-server.sh start)"
  trap './scripts/s3-server.sh stop' EXIT
fi
export LEDGER_TEST_S3_ENDPOINT
cargo test --workspace --locked "$@"
