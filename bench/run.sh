#!/usr/bin/env bash
# run.sh BIN DATA [ITERS] - `make bench`: ganlive against PyTorch on the same
# machine, same model and recipe, at batch 64 and 16 and at 1 and 2 threads,
# alternating the runs (ganlive, then torch, per configuration, for ROUNDS
# rounds) so a noisy neighbour hurts both alike. Prints every run, then one
# table with the best of each: ganlive's images/s, its share of the ceiling
# that `ganlive bench` prints (the sgemm rate of that thread count / work per
# image; the median over the rounds), the sampler's 64-digit grid time,
# PyTorch's images/s and the ratio.
#
#   BATCHES="64 16"  THREADS="1 2"  ROUNDS=2  TORCH_ITERS=ITERS
#   BASE=/path/to/older/ganlive   also run an older build in the same rounds
#                                 ("before" columns)
#   LOCK=/tmp/ganlive-bench.lock  each run holds this lock (flock), so other
#                                 benchmarks on the machine do not overlap it
set -eu
bin=$1
data=$2
iters=${3:-100}
batches=${BATCHES:-64 16}
threads_list=${THREADS:-1 2}
rounds=${ROUNDS:-2}
torch_iters=${TORCH_ITERS:-$iters}
base=${BASE:-}
lock=${LOCK:-/tmp/ganlive-bench.lock}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
locked() { if command -v flock >/dev/null 2>&1; then flock "$lock" "$@"; else "$@"; fi; }
for round in $(seq "$rounds"); do
    for batch in $batches; do
        for threads in $threads_list; do
            echo "-- round $round: ganlive, batch $batch, $threads thread(s)"
            locked "$bin" bench --data "$data" --threads "$threads" --iters "$iters" --batch "$batch" | tee -a "$log"
            if [ -n "$base" ]; then
                echo "-- round $round: ganlive before ($base), batch $batch, $threads thread(s)"
                locked "$base" bench --data "$data" --threads "$threads" --iters "$iters" --batch "$batch" |
                    sed 's/^result ganlive /result before /' | tee -a "$log"
            fi
            echo "-- round $round: torch, batch $batch, $threads thread(s)"
            locked /usr/bin/python3 bench/torch_reference.py --data "$data" --threads "$threads" \
                --iters "$torch_iters" --batch "$batch" | tee -a "$log"
        done
    done
done
echo
/usr/bin/python3 - "$log" <<'PY'
import re, statistics, sys
best, shares = {}, {}
for line in open(sys.argv[1]):
    if not line.startswith("result "):
        continue
    f = line.split()
    prog = f[1]
    kv = dict(x.split("=", 1) for x in f[2:])
    key = (prog, int(kv["batch"]), int(kv["threads"]))
    ips = float(kv["images_per_s"])
    if "share" in kv:
        shares.setdefault(key, []).append(float(kv["share"]))
    if key not in best or ips > best[key]["ips"]:
        best[key] = {"ips": ips, **{k: float(v) for k, v in kv.items() if k not in ("batch", "threads")}}
for key, s in shares.items():
    best[key]["share"] = statistics.median(s)
def pct(r):
    # the median over the rounds of each run's share (itself the median of
    # its windows' ratios, each to the reference GEMM timed right after it)
    if "share" in r:
        return 100.0 * r["share"]
    if "ceiling" in r:
        return 100.0 * r["ips"] / r["ceiling"]
    # older builds print no ceiling: sgemm rate / 0.2672 GFLOP per image
    return 100.0 * r["ips"] / (r["sgemm_gflops"] / 0.2672)
has_base = any(p == "before" for p, _, _ in best)
head = "| batch | threads | ganlive img/s | GEMM / sgemm GFLOP/s | % of ceiling (median of rounds) | grid ms |"
rule = "|---|---|---|---|---|---|"
if has_base:
    head += " before img/s | before % of ceiling (its sgemm) |"
    rule += "---|---|"
head += " PyTorch img/s | ganlive / PyTorch |"
rule += "---|---|"
print(head)
print(rule)
for (prog, b, t) in sorted((k for k in best if k[0] == "ganlive"), key=lambda k: (-k[1], k[2])):
    g = best[(prog, b, t)]
    row = (f"| {b} | {t} | {g['ips']:.1f} | {g['gflops']:.0f} / {g['sgemm_gflops']:.0f} | {pct(g):.0f}% |"
           f" {g.get('grid_ms', float('nan')):.1f} |")
    if has_base:
        o = best.get(("before", b, t))
        row += f" {o['ips']:.1f} | {pct(o):.0f}% of {o['sgemm_gflops']:.0f} |" if o else " - | - |"
    tr = best.get(("torch", b, t))
    row += f" {tr['ips']:.1f} | {g['ips'] / tr['ips']:.2f}x |" if tr else " - | - |"
    print(row)
PY
