#!/usr/bin/env bash
# run.sh BIN DATA - the dashboard test in headless Chromium against a real
# `ganlive serve` (small test model, free port). Prints the test's own
# "N passed, N failed" and leaves a screenshot in build/dashboard.png.
# The server keeps its checkpoints in a fresh temporary run directory (so
# "Save checkpoint" works and no old run is resumed), removed at the end.
set -u
bin=$1
data=$2
cd "$(dirname "$0")/../.."
port=$(/usr/bin/python3 tests/ports.py)
log=$(mktemp)
rundir=$(mktemp -d "${TMPDIR:-/tmp}/ganlive-browser-run.XXXXXX")
"$bin" serve --port "$port" --data "$data" --config tests/config-test.json --run-dir "$rundir" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"; rm -rf "$rundir"' EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/status" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
    sleep 0.2
done
GANLIVE_SCREENSHOT=${GANLIVE_SCREENSHOT:-build/dashboard.png} \
    node tests/browser/dashboard.mjs "http://127.0.0.1:$port"
