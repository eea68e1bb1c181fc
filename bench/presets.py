#!/usr/bin/env python3
"""presets.py - how fast each preset gets to readable digits on this machine.

    python3 bench/presets.py ./ganlive data/mnist [SECONDS] [--out-dir docs]

For each preset (fast, then classic) starts `ganlive serve --preset P` with
a fresh run directory and seed 1, all cores, quality passes every 100
iterations over 500 samples, and lets it train for SECONDS (default 240) of
wall time. Prints the quality passes as they were at 30 s steps (iteration,
Inception-style score, mean confidence, Frechet distance), and at 120 s:
  - fast (conditional): 1,000 samples asked for each digit in turn
    (samples.json?digits=all, seeds 1..4), the share the classifier reads
    as the digit asked for, per digit and overall, and their mean confidence;
    the grid samples.png?digits=all (one column per digit) saved as
    OUT/fast-120s.png;
  - classic: the classifier's mean confidence on 1,000 samples, and
    samples.png?n=64 saved as OUT/classic-120s.png.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import test_http as th  # noqa: E402


def run(binary, data, preset, seconds, out_dir):
    port = th.free_port()
    tmp = tempfile.mkdtemp(prefix="ganlive-preset-")
    cfg = os.path.join(tmp, "config.json")
    with open(cfg, "w") as f:
        f.write('{"quality": {"every": 100, "samples": 500}}')
    cmd = [binary, "serve", "--port", str(port), "--data", data, "--config", cfg, "--run-dir",
           os.path.join(tmp, "run"), "--seed", "1", "--preset", preset]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = th.Client(port)
    try:
        th.wait_ready(c, proc, 60)
        t0 = time.time()
        marks = list(range(30, seconds + 1, 30))
        print("\n## preset %s" % preset)
        print("| wall time | iteration | newest pass: iteration | IS | confidence | Frechet |")
        print("|---|---|---|---|---|---|")
        for mark in marks:
            while time.time() - t0 < mark:
                time.sleep(0.2)
            if mark == 120:
                c.post("/api/pause")
                at120(c, preset, out_dir)
                c.post("/api/resume")
            s = th.status(c)
            q = s.get("quality") or {}
            print("| %d s | %d | %s | %s | %s | %s |" % (
                mark, s["iteration"], q.get("iteration", "-"),
                "%.2f" % q["inception_score"] if q else "-", "%.3f" % q["confidence"] if q else "-",
                "%.3f" % q["frechet"] if q else "-"))
            sys.stdout.flush()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def at120(c, preset, out_dir):
    s = th.status(c)
    if preset == "fast":
        right, conf, per = 0, 0.0, [[0, 0] for _ in range(10)]
        for seed in (1, 2, 3, 4):
            js = c.json("GET", "/api/samples.json?digits=all&n=250&seed=%d" % seed)[2]
            for x in js["samples"]:
                ok = x["label"] == x["requested"]
                right += ok
                conf += x["confidence"]
                per[x["requested"]][0] += ok
                per[x["requested"]][1] += 1
        print("at 120 s (iteration %d): %.1f%% of 1000 samples read as the digit asked for, "
              "mean confidence %.3f" % (s["iteration"], 100.0 * right / 1000, conf / 1000))
        print("per digit: " + ", ".join("%d: %.0f%%" % (k, 100.0 * a / max(1, n)) for k, (a, n) in
                                       enumerate(per)))
        png = c.req("GET", "/api/samples.png?digits=all&n=80&seed=1&scale=2")[2]
        name = "fast-120s.png"
    else:
        conf = 0.0
        for seed in (1, 2, 3, 4):
            js = c.json("GET", "/api/samples.json?n=250&seed=%d" % seed)[2]
            conf += sum(x["confidence"] for x in js["samples"])
        print("at 120 s (iteration %d): mean classifier confidence %.3f over 1000 samples" % (
            s["iteration"], conf / 1000))
        png = c.req("GET", "/api/samples.png?n=64&seed=1&scale=2")[2]
        name = "classic-120s.png"
    if out_dir:
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(png)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out_dir = sys.argv[sys.argv.index("--out-dir") + 1] if "--out-dir" in sys.argv else ""
    if out_dir and out_dir in args:
        args.remove(out_dir)
    if len(args) < 2:
        sys.exit("usage: presets.py BINARY DATA_DIR [SECONDS] [--out-dir DIR]")
    seconds = int(args[2]) if len(args) > 2 else 240
    for preset in ("fast", "classic"):
        run(args[0], args[1], preset, seconds, out_dir)


if __name__ == "__main__":
    main()
