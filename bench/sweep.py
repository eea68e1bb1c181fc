#!/usr/bin/env python3
"""sweep.py - the fast preset's recipe, measured per second of wall time.

    python3 bench/sweep.py ./ganlive data/mnist [--arms A,B,...] [--seeds 1,2,3]
                           [--marks 30,60,120] [--samples 1000] [--grids DIR]

Each arm is the `fast` preset with some settings changed (the ARMS table
below; `make sweep` runs the preset before and after the sweep, "old" and
"fast"). For every arm and seed it trains with `ganlive train --seconds`, all
cores, from a fresh run directory, stopping at each mark of training wall
time (the loop's own clock: start-up, data loading and checkpoint writes are
not counted) and resuming from the checkpoint for the next stretch, which
continues the run bit for bit. At each mark `ganlive score` reads the
newest checkpoint: 1,000 samples, 100 asked for each digit, scored by the
digit classifier (the dashboard's weights: the G EMA when the arm keeps one).

Prints one row per arm and mark with the median over seeds of: iterations
reached, Inception-style score, mean confidence, share read as the digit
asked for, and the weakest digit's share, and the fewest classes any seed
drew (ganlive score's `classes`); then the same per seed. With
--grids DIR, the first seed's samples.png?digits=all-style grid (one
column per digit, from `ganlive sample`) at each mark goes to
DIR/<arm>-<mark>s.png.
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

# name -> settings on top of --preset fast. The screening arms start from the
# fast preset as it was before the sweep (OLD: label planes, ngf 128, no EMA),
# so the table below reads the same whatever fast is now; "fast" is the
# preset as it is.
OLD = ["model.projection=false", "model.ngf=128", "train.ema=0"]
ARMS = {
    "fast": [],
    "old": OLD,
    "ema999": OLD + ["train.ema=0.999"],
    "ema99": OLD + ["train.ema=0.99"],
    "ema995": OLD + ["train.ema=0.995"],
    "hinge": OLD + ["train.loss=hinge"],
    "smooth": OLD + ["train.real_label=0.9"],
    "beta0": OLD + ["train.beta1=0"],
    "warmup": OLD + ["train.lr_warmup=200"],
    "halflife": OLD + ["train.lr_half_life=1500"],
    "ngf64": OLD + ["model.ngf=64"],
    "ndf32": OLD + ["model.ndf=32"],
    "b8": OLD + ["train.batch=8"],
    "b32": OLD + ["train.batch=32"],
    "d2": OLD + ["train.d_steps=2"],
    "lr1e3": OLD + ["train.lr_d=0.001", "train.lr_g=0.001"],
    "lr2e4": OLD + ["train.lr_d=0.0002", "train.lr_g=0.0002"],
    "ngf64ema": OLD + ["model.ngf=64", "train.ema=0.99"],
    "ngf48": OLD + ["model.ngf=48"],
    "ngf32": OLD + ["model.ngf=32"],
    "ngf64ndf32": OLD + ["model.ngf=64", "model.ndf=32"],
    "ngf64lr8e4": OLD + ["model.ngf=64", "train.lr_d=0.0008", "train.lr_g=0.0008"],
    "ngf64b32": OLD + ["model.ngf=64", "train.batch=32"],
    "ngf64b8": OLD + ["model.ngf=64", "train.batch=8"],
    "ngf64d2": OLD + ["model.ngf=64", "train.d_steps=2"],
    "proj": OLD + ["model.projection=true"],
    "ngf64proj": OLD + ["model.ngf=64", "model.projection=true"],
    "ngf64ndf32proj": OLD + ["model.ngf=64", "model.ndf=32", "model.projection=true"],
    "ngf64projema": OLD + ["model.ngf=64", "model.projection=true", "train.ema=0.99"],
    "ngf64projhinge": OLD + ["model.ngf=64", "model.projection=true", "train.loss=hinge"],
    "ngf64ndf32projema": OLD + ["model.ngf=64", "model.ndf=32", "model.projection=true", "train.ema=0.99"],
    # from the winner (the fast preset now)
    "fast-warmup": ["train.lr_warmup=200"],
    "fast-halflife": ["train.lr_half_life=1500"],
    "fast-d2": ["train.d_steps=2"],
    "fast-b32": ["train.batch=32"],
    "fast-noema": ["train.ema=0"],
    # spectral normalisation of D's convolutions, alone, with the hinge loss
    # (SN-GAN's pairing), with D's learning rate doubled, and with 2 D steps
    "fast-sn": ["model.spectral_norm=true"],
    "fast-sn-hinge": ["model.spectral_norm=true", "train.loss=hinge"],
    "fast-sn-lrd1e3": ["model.spectral_norm=true", "train.lr_d=0.001"],
    "fast-sn-d2": ["model.spectral_norm=true", "train.d_steps=2"],
}


def newest_ckpt(run_dir):
    files = sorted(glob.glob(os.path.join(run_dir, "ckpt-*.bin")))
    return files[-1] if files else None


def run_arm(binary, data, arm, sets, seed, marks, samples, grids):
    tmp = tempfile.mkdtemp(prefix="ganlive-sweep-")
    run_dir = os.path.join(tmp, "run")
    rows, done = [], 0
    try:
        for mark in marks:
            cmd = [binary, "train", "--preset", "fast", "--data", data, "--run-dir", run_dir,
                   "--seed", str(seed), "--iters", "1000000000", "--seconds", str(mark - done),
                   "--set", "run.checkpoint_every_s=0", "--out", os.path.join(tmp, "grid.png")]
            for s in sets:
                cmd += ["--set", s]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print("# %s seed %d: train failed at %d s: %s" % (arm, seed, mark, out.stderr.strip()),
                      file=sys.stderr)
                break
            done = mark
            ck = newest_ckpt(run_dir)
            sc = subprocess.run([binary, "score", "--checkpoint", ck, "--n", str(samples), "--seed", "9001",
                                 "--data", data], capture_output=True, text=True)
            if sc.returncode != 0:
                print("# %s: score failed: %s" % (arm, sc.stderr.strip()), file=sys.stderr)
                break
            r = json.loads(sc.stdout)
            r["mark"] = mark
            rows.append(r)
            if grids:
                subprocess.run([binary, "sample", "--checkpoint", ck, "--n", "100", "--seed", "9001",
                                "--out", os.path.join(grids, "%s-%ds.png" % (arm, mark))],
                               capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def fmt(r):
    return "%d | %.2f | %.3f | %.1f%% | %.1f%% | %d" % (
        r["iteration"], r["inception_score"], r["confidence"], 100 * r["as_asked"],
        100 * min(r["as_asked_by_digit"]), r["classes"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("data")
    ap.add_argument("--arms", default="old,fast")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--marks", default="30,60,120")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--grids", default="")
    a = ap.parse_args()
    arms = a.arms.split(",")
    for arm in arms:
        if arm not in ARMS:
            sys.exit("unknown arm %s (known: %s)" % (arm, ", ".join(ARMS)))
    seeds = [int(s) for s in a.seeds.split(",")]
    marks = [int(m) for m in a.marks.split(",")]
    if a.grids:
        os.makedirs(a.grids, exist_ok=True)
    print("| arm | settings | wall time | iterations | IS | confidence | read as asked | weakest digit | classes |")
    print("|---|---|---|---|---|---|---|---|---|")
    sys.stdout.flush()
    per_seed = []
    for arm in arms:
        got = {}
        for i, seed in enumerate(seeds):
            rows = run_arm(a.bin, a.data, arm, ARMS[arm], seed, marks, a.samples,
                           a.grids if a.grids and i == 0 else "")
            for r in rows:
                got.setdefault(r["mark"], []).append(r)
                per_seed.append("| %s | %d | %d s | %s |" % (arm, seed, r["mark"], fmt(r)))
        for mark in marks:
            rs = got.get(mark, [])
            if not rs:
                continue
            med = lambda f: statistics.median(f(r) for r in rs)  # noqa: E731
            print("| %s | %s | %d s | %d | %.2f | %.3f | %.1f%% | %.1f%% | %d |" % (
                arm, " ".join(x for x in ARMS[arm] if x not in OLD or arm == "old") or "(the preset)", mark, med(lambda r: r["iteration"]),
                med(lambda r: r["inception_score"]), med(lambda r: r["confidence"]),
                100 * med(lambda r: r["as_asked"]), 100 * med(lambda r: min(r["as_asked_by_digit"])),
                min(r["classes"] for r in rs)))
            sys.stdout.flush()
    print("\nper seed: | arm | seed | wall time | iterations | IS | confidence | read as asked | weakest digit | classes |")
    print("\n".join(per_seed))


if __name__ == "__main__":
    main()
