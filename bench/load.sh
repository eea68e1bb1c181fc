#!/usr/bin/env bash
# load.sh BIN DATA [SECONDS] - HTTP load figures while training (not in make test).
#
# Starts `BIN serve` with the default model on a free port (fresh run
# directory in a temporary folder), lets it warm up,
# measures training speed (images/s from the iteration count over 15 s),
# then runs wrk (32 connections, 2 threads, SECONDS each, default 30; a
# request may take up to 30 s, as 32 clients queue for the one sampler) against
# /api/metrics and then /api/samples.png, measuring training speed during
# each. Prints requests/s, p99 latency, errors (socket errors and non-2xx)
# and the training slowdown, as the table for the README. Needs wrk.
set -eu
bin=${1:?usage: load.sh BIN DATA [SECONDS]}
data=${2:?usage: load.sh BIN DATA [SECONDS]}
secs=${3:-30}
command -v wrk >/dev/null || { echo "load.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
"$bin" serve --port "$port" --data "$data" --run-dir "$tmp/run" >"$tmp/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
url=http://127.0.0.1:$port

status() {   # status FIELD: one number from /api/status
    curl -sf "$url/api/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
speed() {    # speed SECONDS: images/s from the iteration count over that time
    local b i0 i1
    b=$(curl -sf "$url/api/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['config']['train']['batch'])")
    i0=$(status iteration); sleep "$1"; i1=$(status iteration)
    python3 -c "print(round(($i1 - $i0) * $b / $1, 1))"
}
for _ in $(seq 1 100); do curl -sf "$url/api/status" >/dev/null 2>&1 && break; sleep 0.3; done
if ! curl -sf "$url/api/status" >/dev/null; then
    echo "load.sh: the server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi
echo "server on port $port (pid $pid), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); warming up 10 s"
sleep 10
base=$(speed 15)
echo "training alone: $base images/s"
printf '\n| endpoint | requests/s | p99 latency | errors | training images/s (alone: %s) |\n' "$base"
printf '|---|---|---|---|---|\n'
for path in /api/metrics /api/samples.png; do
    speed "$secs" >"$tmp/speed" &
    sp=$!
    wrk -t2 -c32 -d"${secs}s" --timeout 30s --latency "$url$path" >"$tmp/wrk.txt" 2>&1
    wait $sp
    rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.txt")
    sock=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$tmp/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.txt")
    errs=$(( ${sock:-0} + ${non2xx:-0} ))
    during=$(cat "$tmp/speed")
    slow=$(python3 -c "print(round(100 * (1 - $during / $base), 1))")
    printf '| %s | %s | %s | %s | %s (%s%% slower) |\n' "$path" "$rps" "$p99" "$errs" "$during" "$slow"
    cp "$tmp/wrk.txt" "/tmp/ganlive-wrk-$(basename "$path").txt"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) (wrk shares the cores with the server)"
echo "(full wrk output: /tmp/ganlive-wrk-metrics.txt, /tmp/ganlive-wrk-samples.png.txt)"
kill -0 $pid && echo "server still up after the load"
