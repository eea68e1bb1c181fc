#!/usr/bin/env bash
# runs.sh BIN DATA - the runs overlay, Compare digits and the New run dialog
# (web/runs.js, charts.js, compare.js, controls.js) in headless Chromium with
# two real runs under one runs root: "first" (preset classic) trains a
# little and stops (SIGTERM), then "second" (preset fast) is served; both
# keep timeline snapshots and quality passes (a small config beside the test
# one). runs.mjs overlays "first" on this server's charts and reads both
# series back, compares the two runs' grids, and starts a third run from the
# dialog (the server restarts itself in place). Prints "N passed, N failed".
set -u
bin=$1
data=$2
cd "$(dirname "$0")/../.."
root=$(mktemp -d "${TMPDIR:-/tmp}/ganlive-browser-runs.XXXXXX")
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -f "$log"; rm -rf "$root"' EXIT
# the test model, with a quality pass every 20 iterations (of 200 samples)
/usr/bin/python3 - "$root/config.json" <<'PY'
import json, sys
c = json.load(open("tests/config-test.json"))
c["quality"] = {"every": 20, "samples": 200}
json.dump(c, open(sys.argv[1], "w"))
PY
start() {   # start NAME ARGS...: serve run NAME on a free port; sets pid and port
    port=$(/usr/bin/python3 tests/ports.py)
    "$bin" serve --port "$port" --data "$data" --config "$root/config.json" \
        --runs-root "$root/runs" --run-name "$1" "${@:2}" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/api/status" >/dev/null 2>&1 && return 0
        kill -0 $pid 2>/dev/null || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
        sleep 0.2
    done
}
start first --preset classic
# until its first quality pass (they start once the real test digits are scored, some 15 s)
sleep 8
for _ in $(seq 1 180); do
    curl -sf "http://127.0.0.1:$port/api/quality" | grep -q '"passes":\[{' && break
    sleep 0.5
done
kill $pid; wait $pid; pid=
start second --preset fast
sleep 4
# paused before the page loads: its charts, timelines and the run's files then agree
curl -sf -X POST -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$port/api/pause" >/dev/null
sleep 1.5   # the log is flushed every second
node tests/browser/runs.mjs "http://127.0.0.1:$port"
