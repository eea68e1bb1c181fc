#!/usr/bin/env bash
# test_cli.sh BIN DATA - the ganlive command line: exit statuses and messages
# for bad usage, config and data; a short training run writes a PNG grid of
# the right size; two runs with the same seed and threads agree bit for bit;
# Ctrl-C ends a run cleanly with the grid written; a run resumed from its
# checkpoint ends bit for bit where an uninterrupted one does; `sample`;
# damaged and other-architecture checkpoints are refused; --fresh; `bench`
# and the OpenMP wait setting it reports.
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
exists() { [ -e "$1" ]; }   # exists GLOB-EXPANSION...: the first match is a file
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
run_small() {   # run_small OUT.png LOG (each run its own, fresh run directory)
    "$bin" train --config "$tmp/small.json" --data "$data" --iters 12 --seed 5 --out "$1" \
        --run-dir "$1.run" >"$2" 2>&1
}
run_small "$tmp/a.png" "$tmp/a.log"; rc_a=$?
run_small "$tmp/b.png" "$tmp/b.log"
check "short run exits 0" [ "$rc_a" = 0 ]
check "progress line printed" grep -qE "^iter +12 +epoch" "$tmp/a.log"
check "grid is 8x8 cells of 28 px with 2 px gutters" [ "$(png_size "$tmp/a.png")" = "238x238" ]
check "same seed: identical losses" [ "$(grep ^final "$tmp/a.log")" = "$(grep ^final "$tmp/b.log")" ]
check "same seed: identical PNG bytes" cmp -s "$tmp/a.png" "$tmp/b.png"
"$bin" train --config "$tmp/small.json" --data "$data" --iters 12 --seed 6 --out "$tmp/c.png" \
    --run-dir "$tmp/c.run" >"$tmp/c.log" 2>&1
check "other seed: other losses" [ "$(grep ^final "$tmp/a.log")" != "$(grep ^final "$tmp/c.log")" ]

"$bin" train --config "$tmp/small.json" --data "$data" --iters 100000000 --out "$tmp/int.png" \
    --run-dir "$tmp/int.run" >"$tmp/int.log" 2>&1 &
pid=$!
sleep 3
kill -INT $pid
wait $pid; rc=$?
check "Ctrl-C exits 0" [ "$rc" = 0 ]
check "Ctrl-C says where it stopped" grep -q "interrupted at iteration" "$tmp/int.log"
check "Ctrl-C still writes the grid" [ "$(png_size "$tmp/int.png" 2>/dev/null)" = "238x238" ]

# checkpoints: 6 iterations, then --iters 12 in the same run directory
# resumes at 6 and must end exactly where the uninterrupted 12 ended
"$bin" train --config "$tmp/small.json" --data "$data" --iters 6 --seed 5 --out "$tmp/r.png" \
    --run-dir "$tmp/r.run" >"$tmp/r1.log" 2>&1
"$bin" train --config "$tmp/small.json" --data "$data" --iters 12 --seed 5 --out "$tmp/r.png" \
    --run-dir "$tmp/r.run" >"$tmp/r2.log" 2>&1
check "resume says so in one line" grep -q "^ganlive: resumed from $tmp/r.run/ckpt-000000006.bin at iteration 6$" "$tmp/r2.log"
check "resumed run: losses identical to the uninterrupted one" \
    [ "$(grep ^final "$tmp/a.log")" = "$(grep ^final "$tmp/r2.log")" ]
check "resumed run: identical PNG bytes" cmp -s "$tmp/a.png" "$tmp/r.png"
check "Ctrl-C wrote a checkpoint" exists "$tmp/int.run"/ckpt-*.bin
"$bin" sample --checkpoint "$tmp/r.run/ckpt-000000012.bin" --n 64 --out "$tmp/s1.png" --seed 3 >"$tmp/s.log" 2>&1
"$bin" sample --checkpoint "$tmp/r.run/ckpt-000000012.bin" --out "$tmp/s2.png" --seed 3 >>"$tmp/s.log" 2>&1
check "sample: 8x8 grid from a checkpoint" [ "$(png_size "$tmp/s1.png" 2>/dev/null)" = "238x238" ]
check "sample: same seed, same bytes" cmp -s "$tmp/s1.png" "$tmp/s2.png"
cp "$tmp/r.run/ckpt-000000012.bin" "$tmp/bad.bin"
printf '\x55' | dd of="$tmp/bad.bin" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_exit "sample: damaged checkpoint refused" 2 "checksum mismatch" \
    "$bin" sample --checkpoint "$tmp/bad.bin" --out "$tmp/s3.png"
expect_exit "sample needs --checkpoint" 2 "needs --checkpoint" "$bin" sample --out "$tmp/s3.png"

# score: one JSON line of figures that agree with each other; the same seed
# gives the same line; a conditional run with a G EMA is scored from the EMA
"$bin" score --checkpoint "$tmp/r.run/ckpt-000000012.bin" --data "$data" --seed 4 >"$tmp/sc1.json" 2>"$tmp/sc.err"
"$bin" score --checkpoint "$tmp/r.run/ckpt-000000012.bin" --data "$data" --seed 4 >"$tmp/sc2.json" 2>>"$tmp/sc.err"
score_ok() {   # score_ok FILE ITERATION EMA CONDITIONAL
    python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
it, ema, cond = int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
h = r["histogram"]
ok = (r["iteration"] == it and r["ema"] == ema and r["samples"] == 1000 and len(h) == 10
      and abs(sum(h) - 1) < 1e-3 and r["classes"] == sum(x >= 0.05 for x in h)
      and 1 <= r["inception_score"] <= 10 and 0.1 <= r["confidence"] <= 1 and 0 <= r["confident"] <= 1)
if cond:
    by = r["as_asked_by_digit"]
    ok = ok and len(by) == 10 and abs(sum(by) / 10 - r["as_asked"]) < 1e-3
else:
    ok = ok and r["as_asked"] is None and r["as_asked_by_digit"] is None
sys.exit(0 if ok else 1)
PY
}
check "score: figures of 1000 samples that agree" score_ok "$tmp/sc1.json" 12 0 0
check "score: same seed, same line" cmp -s "$tmp/sc1.json" "$tmp/sc2.json"
echo '{"train": {"threads": 1, "ema": 0.99, "batch": 8}, "model": {"ngf": 16, "ndf": 8, "nz": 16, "conditional": true}}' >"$tmp/ema.json"
"$bin" train --config "$tmp/ema.json" --data "$data" --iters 5 --run-dir "$tmp/ema.run" --out "$tmp/e.png" >"$tmp/e.log" 2>&1
"$bin" score --checkpoint "$tmp/ema.run/ckpt-000000005.bin" --data "$data" >"$tmp/sc3.json" 2>>"$tmp/sc.err"
check "score: a conditional run with a G EMA, per digit" score_ok "$tmp/sc3.json" 5 1 1
expect_exit "score: damaged checkpoint refused" 2 "checksum mismatch" \
    "$bin" score --checkpoint "$tmp/bad.bin" --data "$data"
expect_exit "score: no classifier, said so" 2 "classifier" \
    "$bin" score --checkpoint "$tmp/r.run/ckpt-000000012.bin" --data "$tmp"
expect_exit "score needs --checkpoint" 2 "needs --checkpoint" "$bin" score
# --seconds: the run ends on time, well before its --iters, with a checkpoint
start=$(date +%s)
timeout 60 "$bin" train --config "$tmp/small.json" --data "$data" --iters 100000000 --seconds 2 --run-dir "$tmp/sec.run" \
    --out "$tmp/sec.png" >"$tmp/sec.log" 2>&1; rc=$?
took=$(( $(date +%s) - start ))
check "--seconds 2 ends the run on time (took ${took} s)" [ "$rc" = 0 -a "$took" -lt 30 ]
check "--seconds: the final checkpoint and grid are written" grep -q "^wrote $tmp/sec.png" "$tmp/sec.log"
echo '{"train": {"batch": 16, "threads": 1}, "model": {"ngf": 16}}' >"$tmp/other.json"
expect_exit "other architecture refused" 2 "another architecture.*ngf 128.*ngf 16" \
    "$bin" train --config "$tmp/other.json" --data "$data" --iters 13 --run-dir "$tmp/r.run"
"$bin" train --config "$tmp/other.json" --data "$data" --iters 2 --run-dir "$tmp/r.run" --fresh \
    --out "$tmp/f.png" >"$tmp/f.log" 2>&1
check "--fresh sets old checkpoints aside" grep -q "^ganlive: --fresh: moved 2 old checkpoints to" "$tmp/f.log"
check "--fresh starts at 0" grep -q "^final iteration 2 " "$tmp/f.log"
check "--fresh keeps the old files" exists "$tmp/r.run"/old-*/ckpt-000000012.bin

# `ganlive bench`: the per-layer table, the ceiling and its share (each window
# against the reference GEMM timed right after it), and how OpenMP threads
# wait: ganlive sets GOMP_SPINCOUNT itself (main.c) unless the user chose.
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$bin" bench --data "$data" --batch 8 --threads 2 --iters 5 \
    >"$tmp/bench.log" 2>&1; rc=$?
check "bench exits 0" [ "$rc" = 0 ]
bench_ok() {   # the result line's figures are there and sane, every layer has its row
    python3 - "$tmp/bench.log" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
res = [l for l in log.splitlines() if l.startswith("result ganlive ")]
kv = dict(x.split("=", 1) for x in res[0].split()[2:])
f = {k: float(v) for k, v in kv.items()}
assert f["threads"] == 2 and f["batch"] == 8, f
assert f["images_per_s"] > 0 and f["sgemm_gflops"] > 0 and f["grid_ms"] > 0, f
# the ceiling is the sgemm rate over the work per image the bench prints
# (gflops / images_per_s is no substitute: a mean over the windows against
# their median, which one slow window of a 5-iteration run moves by 20%+)
per_image = float(re.search(r"achieved \(([0-9.]+) GFLOP per image\)", log).group(1))
assert abs(f["ceiling"] - f["sgemm_gflops"] / per_image) < 0.01 * f["ceiling"], (f, per_image)
assert 0 < f["share"] < 1.5, f
for row in ("G convT2 7->14", "D conv2 14->7", "Adam (G and D)", "all layers"):
    assert "    " + row in log, row
PY
}
check "bench: result line and per-layer table" bench_ok
check "bench: idle OpenMP threads spin ~13 us, then sleep (GOMP_SPINCOUNT set by ganlive)" \
    grep -qE "^  OpenMP waits +GOMP_SPINCOUNT=500$" "$tmp/bench.log"
check "bench: the layers' threads met at their own barrier (nn/team.c), and it says how" \
    grep -qE "^  team waits +[1-9][0-9]* meetings, [0-9.]+% ended asleep; another task wanted the cores in [0-9]+ window" "$tmp/bench.log"
env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive "$bin" bench --data "$data" --batch 8 --threads 1 --iters 5 \
    >"$tmp/bench2.log" 2>&1
check "bench: the user's OMP_WAIT_POLICY is left alone" grep -qE "^  OpenMP waits +OMP_WAIT_POLICY=passive$" "$tmp/bench2.log"
check "bench: ... and the layers' barrier does not spin either" grep -qE "^  team waits .*; spin now none, 0 us$" "$tmp/bench2.log"
env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=77 "$bin" bench --data "$data" --batch 8 --threads 1 --iters 5 \
    >"$tmp/bench3.log" 2>&1
check "bench: the user's GOMP_SPINCOUNT is left alone" grep -qE "^  OpenMP waits +GOMP_SPINCOUNT=77$" "$tmp/bench3.log"

# Fashion-MNIST from Debian's dataset-fashion-mnist (gzip IDX files)
"$bin" train --config "$tmp/small.json" --dataset fashion --iters 3 --out "$tmp/f.png" \
    --run-dir "$tmp/f.run" >"$tmp/f.log" 2>&1; rc=$?
check "--dataset fashion trains on the gzip files" [ "$rc" = 0 ]
check "--dataset fashion names its data" grep -q "/usr/share/datasets/fashion-mnist" "$tmp/f.log"
check "--dataset fashion writes the grid" [ "$(png_size "$tmp/f.png" 2>/dev/null)" = "238x238" ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
