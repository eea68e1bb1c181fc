#!/usr/bin/env bash
# test_cli.sh BIN DATA - the ganlive command line: exit statuses and messages
# for bad usage, config and data; a short training run writes a PNG grid of
# the right size; two runs with the same seed and threads agree bit for bit;
# Ctrl-C ends a run cleanly with the grid written.
set -u
bin=$1
data=$2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {   # check NAME CONDITION...
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
# expect_exit NAME STATUS PATTERN CMD...: exit status and a stderr pattern
expect_exit() {
    local name=$1 want=$2 pattern=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" = "$want" ] && grep -qE -- "$pattern" "$tmp/err"; then
        pass=$((pass + 1)); echo "ok   $name"
    else
        fail=$((fail + 1)); echo "FAIL $name (exit $got, stderr: $(head -c 300 "$tmp/err"))"
    fi
}
png_size() {   # prints "WIDTHxHEIGHT" of a PNG file
    python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1"
}

expect_exit "no command" 2 "usage" "$bin"
expect_exit "unknown command" 2 "unknown command" "$bin" fly
expect_exit "bad flag value" 2 "bad value for --iters" "$bin" train --iters many
expect_exit "missing data dir" 2 "/nonexistent/train-images-idx3-ubyte: cannot open" \
    "$bin" train --data /nonexistent
mkdir -p "$tmp/trunc"
head -c 1000 "$data/train-images-idx3-ubyte" >"$tmp/trunc/train-images-idx3-ubyte"
cp "$data/train-labels-idx1-ubyte" "$tmp/trunc/"
expect_exit "truncated images" 2 "train-images-idx3-ubyte: truncated" "$bin" train --data "$tmp/trunc"
mkdir -p "$tmp/swap"
cp "$data/train-labels-idx1-ubyte" "$tmp/swap/train-images-idx3-ubyte"
cp "$data/train-labels-idx1-ubyte" "$tmp/swap/"
expect_exit "labels given as images" 2 "1 dimensions, expected 3" "$bin" train --data "$tmp/swap"
echo '{"train": {"lr_d": "fast"}}' >"$tmp/bad.json"
expect_exit "bad config value" 2 "train.lr_d: must be a number" "$bin" train --config "$tmp/bad.json"
echo '{"train": {"batchsize": 3}}' >"$tmp/bad2.json"
expect_exit "unknown config key" 2 "train.batchsize: unknown setting" "$bin" train --config "$tmp/bad2.json"
echo '{"train": ' >"$tmp/bad3.json"
expect_exit "broken config JSON" 2 "not valid JSON" "$bin" train --config "$tmp/bad3.json"

echo '{"train": {"batch": 16, "threads": 1, "log_every_s": 1}}' >"$tmp/small.json"
run_small() {   # run_small OUT.png LOG
    "$bin" train --config "$tmp/small.json" --data "$data" --iters 12 --seed 5 --out "$1" >"$2" 2>&1
}
run_small "$tmp/a.png" "$tmp/a.log"; rc_a=$?
run_small "$tmp/b.png" "$tmp/b.log"
check "short run exits 0" [ "$rc_a" = 0 ]
check "progress line printed" grep -qE "^iter +12 +epoch" "$tmp/a.log"
check "grid is 8x8 cells of 28 px with 2 px gutters" [ "$(png_size "$tmp/a.png")" = "238x238" ]
check "same seed: identical losses" [ "$(grep ^final "$tmp/a.log")" = "$(grep ^final "$tmp/b.log")" ]
check "same seed: identical PNG bytes" cmp -s "$tmp/a.png" "$tmp/b.png"
"$bin" train --config "$tmp/small.json" --data "$data" --iters 12 --seed 6 --out "$tmp/c.png" >"$tmp/c.log" 2>&1
check "other seed: other losses" [ "$(grep ^final "$tmp/a.log")" != "$(grep ^final "$tmp/c.log")" ]

"$bin" train --config "$tmp/small.json" --data "$data" --iters 100000000 --out "$tmp/int.png" >"$tmp/int.log" 2>&1 &
pid=$!
sleep 3
kill -INT $pid
wait $pid; rc=$?
check "Ctrl-C exits 0" [ "$rc" = 0 ]
check "Ctrl-C says where it stopped" grep -q "interrupted at iteration" "$tmp/int.log"
check "Ctrl-C still writes the grid" [ "$(png_size "$tmp/int.png" 2>/dev/null)" = "238x238" ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
