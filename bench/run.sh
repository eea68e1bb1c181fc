#!/usr/bin/env bash
# run.sh BIN DATA [ITERS] - `make bench`: ganlive against PyTorch on the same
# machine, same model, recipe and batch, alternating the runs (ganlive and
# torch at 1 and at 2 threads, two rounds) so a noisy neighbour hurts both
# alike. Prints every run, a table of the best of each configuration, and
# the ratio ganlive / best PyTorch.
set -eu
bin=$1
data=$2
iters=${3:-100}
batch=${BATCH:-64}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for round in 1 2; do
    for threads in 1 2; do
        echo "-- round $round: ganlive, $threads thread(s)"
        "$bin" bench --data "$data" --threads "$threads" --iters "$iters" --batch "$batch" | tee -a "$log"
        echo "-- round $round: torch, $threads thread(s)"
        /usr/bin/python3 bench/torch_reference.py --data "$data" --threads "$threads" \
            --iters "$iters" --batch "$batch" | tee -a "$log"
    done
done
echo
/usr/bin/python3 - "$log" <<'PY'
import re, sys
best = {}
for line in open(sys.argv[1]):
    m = re.match(r"result (\w+) threads=(\d+) batch=(\d+) images_per_s=([\d.]+)", line)
    if m:
        key = (m.group(1), int(m.group(2)))
        best[key] = max(best.get(key, 0.0), float(m.group(4)))
print("| program | threads | images/s (best of 2 runs) |")
print("|---|---|---|")
for (prog, th), v in sorted(best.items()):
    print(f"| {prog} | {th} | {v:.1f} |")
g = max(v for (p, _), v in best.items() if p == "ganlive")
t = max(v for (p, _), v in best.items() if p == "torch")
print(f"\nganlive best / PyTorch best: {g:.1f} / {t:.1f} = {g / t:.2f}x")
PY
