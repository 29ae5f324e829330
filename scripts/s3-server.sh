#!/usr/bin/env bash
# A local S3 server for the blob contract tests and the blob bench: moto's server, from PyPI,
# in a venv under target/moto (installed once; later runs reuse it).
#
#   scripts/s3-server.sh          start one on a free port on 127.0.0.1 (or reuse the one
#                                 already running from target/moto/server.pid) and print its
#                                 URL, http://127.0.0.1:PORT, on stdout
#   scripts/s3-server.sh status   exit 0 and print the URL if one is running, else exit 1
#   scripts/s3-server.sh stop     stop the one whose pid is in target/moto/server.pid
#
# It runs moto's own server (what `moto_server` runs) with requests serialised: see below.
# Moto accepts any credentials; sign requests for region us-east-1. Its log is
# target/moto/server.log. Everything but the URL goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="target/moto"
want="moto[server]==5.2.5"
pidfile="$dir/server.pid"
urlfile="$dir/server.url"
log="$dir/server.log"

running() {
  [ -f "$pidfile" ] && [ -f "$urlfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "${1:-start}" in
  stop)
    if running; then
      kill "$(cat "$pidfile")"
      echo "s3-server: stopped pid $(cat "$pidfile")" >&2
    fi
    rm -f "$pidfile" "$urlfile"
    exit 0
    ;;
  status)
    if running; then cat "$urlfile"; exit 0; fi
    exit 1
    ;;
  start) ;;
  *)
    echo "usage: $0 [start|status|stop]" >&2
    exit 2
    ;;
esac

if running; then
  cat "$urlfile"
  exit 0
fi

if [ ! -x "$dir/bin/moto_server" ] || ! "$dir/bin/pip" show moto >/dev/null 2>&1; then
  echo "s3-server: installing $want into $dir" >&2
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$want" >&2
fi

# A free port: bind port 0, read the number, close. Another process could take it in the
# moment before moto binds it; the wait below then fails loudly rather than hanging.
port="$("$dir/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
# `moto_server -H 127.0.0.1 -p PORT`, with one change: requests are served one at a time.
# Moto checks `If-None-Match: *` and then stores the object as two separate steps, and its
# server is threaded, so two concurrent create-only PUTs can both succeed (the blob contract
# test `concurrent_*_writes_*` saw it within a dozen runs). S3 and R2 make the check and the
# write one atomic step; a lock around each request gives moto the same guarantee while
# keeping its threaded, keep-alive HTTP/1.1 server.
serve='
import os, sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def one_at_a_time(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)
'
nohup "$dir/bin/python" -c "$serve" 127.0.0.1 "$port" >"$log" 2>&1 </dev/null &
echo $! >"$pidfile"

# Wait (up to 30 s) until it answers an HTTP request.
for _ in $(seq 1 150); do
  if "$dir/bin/python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/moto-api/', timeout=1)" "$url" 2>/dev/null; then
    echo "$url" >"$urlfile"
    echo "s3-server: moto $("$dir/bin/pip" show moto | sed -n 's/^Version: //p') on $url (pid $(cat "$pidfile"), log $log)" >&2
    echo "$url"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
echo "s3-server: moto did not answer on $url; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
kill "$(cat "$pidfile")" 2>/dev/null || true
rm -f "$pidfile" "$urlfile"
exit 1
