#!/usr/bin/env bash
# runs-shot.sh BIN DATA [SECONDS] [OUT] - the README's runs overlay picture:
# two real runs of the default model under a fresh runs root, "classic"
# (preset classic) trained for SECONDS (default 60) and stopped, then "fast"
# (preset fast) served for as long and paused; runs-shot.mjs ticks "classic"
# so it is drawn on the fast run's loss and accuracy charts against wall
# time, and saves the Loss, Discriminator accuracy and Runs cards to OUT
# (default docs/runs-overlay.png). Same seed (1) for both runs; the curves
# depend on the machine's speed only through how far each run gets.
set -u
bin=$1
data=$2
secs=${3:-60}
out=${4:-docs/runs-overlay.png}
cd "$(dirname "$0")/../.."
root=$(mktemp -d "${TMPDIR:-/tmp}/ganlive-runs-shot.XXXXXX")
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -f "$log"; rm -rf "$root"' EXIT
start() {   # start NAME PRESET: serve run NAME on a free port; sets pid and port
    port=$(/usr/bin/python3 tests/ports.py)
    "$bin" serve --port "$port" --data "$data" --runs-root "$root" --run-name "$1" --preset "$2" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/api/status" >/dev/null 2>&1 && return 0
        kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
        sleep 0.2
    done
}
start classic classic
sleep "$secs"
kill $pid; wait $pid; pid=
start fast fast
sleep "$secs"
curl -sf -X POST -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$port/api/pause" >/dev/null
sleep 1.5
node tests/browser/runs-shot.mjs "http://127.0.0.1:$port" "$out"
