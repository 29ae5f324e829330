#!/usr/bin/env bash
# Installs the independent tools the tests call into a venv under target/py-tools, from PyPI:
# the OpenTimestamps reference client (`ots`) and its `opentimestamps` library, and
# Schemathesis (`schemathesis`, `st`), which fuzzes the HTTP API against its OpenAPI document;
# and, for the tenant verification guide (docs/verification.md, run by cli/tests/guide.rs),
# `rfc8785` (Trail of Bits' RFC 8785 canonicaliser) and `cryptography` (ES256 signatures);
# and, for the JSON Schemas in schemas/ (scripts/validate-json.py, testkit::schema), `jsonschema`
# with `rfc3339-validator`, so that `format: date-time` is checked, not only annotated.
# Idempotent: each is installed only when missing. Prints the venv's bin directory. Tests find
# it at target/py-tools/bin or at $LEDGER_PY_TOOLS.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/py-tools"
ots="opentimestamps-client==0.7.2"
schemathesis="schemathesis==4.32.5"
guide=("rfc8785==0.1.4" "cryptography==50.0.2")
schemas=("jsonschema==4.26.0" "rfc3339-validator==0.1.4")
pip() { "$venv/bin/pip" --disable-pip-version-check "$@"; }
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/ots" ] || ! pip show opentimestamps-client >/dev/null 2>&1; then
  pip install --quiet "$ots"
fi
if [ ! -x "$venv/bin/schemathesis" ] || ! pip show schemathesis >/dev/null 2>&1; then
  pip install --quiet "$schemathesis"
fi
if ! pip show rfc8785 cryptography >/dev/null 2>&1; then
  pip install --quiet "${guide[@]}"
fi
# Checked by exact version: Schemathesis brings some jsonschema of its own, and the schema
# checks must run with the versions pinned here.
pinned() { [ "$(pip show "${1%%==*}" 2>/dev/null | sed -n 's/^Version: //p')" = "${1#*==}" ]; }
if ! pinned "${schemas[0]}" || ! pinned "${schemas[1]}"; then
  pip install --quiet "${schemas[@]}"
fi
"$venv/bin/ots" --version >&2
"$venv/bin/schemathesis" --version >&2
echo "$PWD/$venv/bin"
