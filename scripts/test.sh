#!/usr/bin/env bash
# The project's test command (README "Set up"): installs the independent verifiers the tests
# call (Python OpenTimestamps client, into target/py-tools), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER_PY_TOOLS="$(./scripts/python-tools.sh)"
export LEDGER_PY_TOOLS
cargo test --workspace --locked "$@"
