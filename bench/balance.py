#!/usr/bin/env python3
"""balance.py - does balance "auto" help? Trains the same model with balance
off and auto, on the default recipe and on a deliberately unbalanced one
(lr_d ten times lr_g), and prints one table row per run.

    python3 bench/balance.py ./ganlive data/mnist [ITERS] [--preset classic|fast]

Each run is `ganlive serve` with a fresh temporary run directory and seed 1,
quality passes every ITERS/4 iterations over 500 samples, stopped once it
has done ITERS iterations and its last quality pass. Reported: the last
pass's Inception-style score, Frechet distance, mean confidence and
nearest-neighbour ratio, D's mean accuracy over the last 20% of iterations,
how many balance decisions were made and how many iterations had an update
skipped. Same seed for every run, so the runs differ only by the setting.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import test_http as th  # noqa: E402


def one_run(binary, data, iters, preset, lr_d, lr_g, balance):
    port = th.free_port()
    tmp = tempfile.mkdtemp(prefix="ganlive-balance-")
    cfg = {"quality": {"every": max(iters // 4, 1), "samples": 500}}
    path = os.path.join(tmp, "config.json")
    json.dump(cfg, open(path, "w"))
    cmd = [binary, "serve", "--port", str(port), "--data", data, "--config", path,
           "--run-dir", os.path.join(tmp, "run"), "--seed", "1", "--preset", preset]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = th.Client(port)
    try:
        th.wait_ready(c, proc, 60)
        c.patch("/api/config", {"lr_d": lr_d, "lr_g": lr_g, "balance": balance})
        t0 = time.time()
        while th.status(c)["iteration"] < iters:
            time.sleep(1)
        c.post("/api/pause")
        secs = time.time() - t0
        while True:                       # the pass at ITERS may still be running
            q = c.json("GET", "/api/quality")[2]
            if q["passes"] and q["passes"][-1]["iteration"] >= iters - 1:
                break
            time.sleep(1)
        pts = c.json("GET", "/api/metrics?since=%d&limit=10000" % int(iters * 0.8))[2]["points"]
        acc = sum(p["d_acc"] * p["count"] for p in pts) / max(1, sum(p["count"] for p in pts))
        ev = c.json("GET", "/api/balance")[2]["events"]
        skipped, since, what = 0, None, None
        for e in ev:                      # iterations spent with an update skipped
            if since is not None:
                skipped += e["iteration"] - since
            since = e["iteration"] if e["action"] != "resume" else None
        if since is not None:
            skipped += iters - since
        last = q["passes"][-1]
        return {"is": last["inception_score"], "fid": last["frechet"], "conf": last["confidence"],
                "nn": last["nn_ratio"], "acc": acc, "events": len(ev), "skipped": skipped,
                "secs": secs}
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    preset = "fast" if "--preset" in sys.argv and sys.argv[sys.argv.index("--preset") + 1] == "fast" \
        else "classic"
    if len(args) < 2:
        sys.exit("usage: balance.py BINARY DATA_DIR [ITERS] [--preset classic|fast]")
    binary, data = args[0], args[1]
    iters = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1000
    base = 5e-4 if preset == "fast" else 2e-4
    print("preset %s, %d iterations, seed 1, quality over 500 samples at the end" % (preset, iters))
    print("| recipe | balance | IS | Frechet | confidence | NN ratio | D acc (last 20%) | decisions | "
          "iterations skipping | time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, lr_d in (("lr_d = lr_g", base), ("lr_d = 10 lr_g", 10 * base)):
        for bal in ("off", "auto"):
            r = one_run(binary, data, iters, preset, lr_d, base, bal)
            print("| %s | %s | %.2f | %.3f | %.3f | %.2f | %.3f | %d | %d | %.0f s |" % (
                name, bal, r["is"], r["fid"], r["conf"], r["nn"], r["acc"], r["events"], r["skipped"],
                r["secs"]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
