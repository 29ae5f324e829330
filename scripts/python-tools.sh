#!/usr/bin/env bash
# Installs the independent verifiers the tests call into a venv under target/py-tools:
# the OpenTimestamps reference client (`ots`) and its `opentimestamps` library, from PyPI.
# Idempotent; prints the venv's bin directory. Tests find it at target/py-tools/bin or at
# $LEDGER_PY_TOOLS.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/py-tools"
want="opentimestamps-client==0.7.2"
if [ ! -x "$venv/bin/ots" ] || ! "$venv/bin/pip" show opentimestamps-client >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$want"
fi
"$venv/bin/ots" --version >&2
echo "$PWD/$venv/bin"
