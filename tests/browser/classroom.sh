#!/usr/bin/env bash
# classroom.sh BIN DATA - the classroom browser test (classroom.mjs) against
# a real `ganlive serve` on a LAN bind (0.0.0.0, a token): the browser talks
# to it over loopback only. Prints the test's "N passed, N failed".
set -u
bin=$1
data=$2
cd "$(dirname "$0")/../.."
port=$(/usr/bin/python3 tests/ports.py)
token=classroom-test-token-0123456789
log=$(mktemp)
"$bin" serve --port "$port" --bind 0.0.0.0 --token "$token" --data "$data" \
    --config tests/config-test.json >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/status" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
    sleep 0.2
done
node tests/browser/classroom.mjs "http://127.0.0.1:$port" "$token"
