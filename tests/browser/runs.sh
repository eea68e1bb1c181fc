#!/usr/bin/env bash
# runs.sh BIN DATA - the runs panel (web/runs.js) in headless Chromium with
# two real runs under one runs root: "first" trains a little and stops
# (SIGTERM), then "second" is served; runs.mjs ticks both and reads both
# series back from the chart. Prints the test's "N passed, N failed".
set -u
bin=$1
data=$2
cd "$(dirname "$0")/../.."
root=$(mktemp -d "${TMPDIR:-/tmp}/ganlive-browser-runs.XXXXXX")
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -f "$log"; rm -rf "$root"' EXIT
start() {   # start NAME: serve run NAME on a free port; sets pid and port
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin" serve --port "$port" --data "$data" --config tests/config-test.json \
        --runs-root "$root" --run-name "$1" "${@:2}" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/api/status" >/dev/null 2>&1 && return 0
        kill -0 $pid 2>/dev/null || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
        sleep 0.2
    done
}
start first
sleep 4
kill $pid; wait $pid; pid=
start second --batch 8
sleep 3
node tests/browser/runs.mjs "http://127.0.0.1:$port"
