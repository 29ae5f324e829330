#!/usr/bin/env bash
# Installs the Debian tools the API tests and benchmark call, when missing: pdftoppm and
# pdftotext (poppler-utils) to render the PDF receipt, wrk for load, nginx as the static-file
# baseline of the proof-retrieval benchmark. Idempotent; quiet when everything is present.
set -euo pipefail
need=()
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "api-tools: need ${need[*]} (Debian packages) and am not root: install them first" >&2
    exit 1
  fi
  echo "api-tools: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q "${need[@]}" >/dev/null
  }
fi
