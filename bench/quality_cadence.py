#!/usr/bin/env python3
"""quality_cadence.py - what the early quality cadence costs training.

    python3 bench/quality_cadence.py ./ganlive data/mnist [SECONDS] [ROUNDS] [--full]

Quality passes run every 100 iterations for the first 2,000 iterations (so
the moment the digits become readable is seen), then every quality.every.
This measures what that costs: `ganlive serve --preset fast` with its
default quality settings (every 500, 1,000 samples), a fresh run directory
and seed 1, in two arms, alternated ROUNDS times (default 3):

  early  the server as it is (passes at 100, 200, ... below 2,000, the
         early ones over half the samples);
  off    GANLIVE_BENCH_EARLY_QUALITY=0: only the regular cadence (one pass
         at 500 in the window);
  full   (with --full) GANLIVE_BENCH_EARLY_QUALITY=full: the early cadence
         with every pass over all the samples.

Each arm trains for SECONDS (default 60) of wall time counted from the
moment the quality thread is ready (the real test digits scored, the same
start-up in both arms), all inside the first 2,000 iterations, where the
early passes are. Reports iterations/s of each run, each arm's mean, and
the ratio early/off (and full/off), with the server's CPU seconds in the
window and the load average before each run, since other people's test
runs on this 2-core machine move the figures more than the passes do. The
script holds /tmp/ganlive-bench.lock (flock) for the whole measurement, so
benchmarks do not overlap; it runs a copy of the binary (others rebuild
./ganlive meanwhile).
"""
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import test_http as th  # noqa: E402


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def one(binary, data, arm, seconds):
    port = th.free_port()
    tmp = tempfile.mkdtemp(prefix="ganlive-cadence-")
    env = dict(os.environ)
    env.pop("GANLIVE_BENCH_EARLY_QUALITY", None)
    if arm == "off":
        env["GANLIVE_BENCH_EARLY_QUALITY"] = "0"
    elif arm == "full":
        env["GANLIVE_BENCH_EARLY_QUALITY"] = "full"
    cmd = [binary, "serve", "--port", str(port), "--data", data, "--run-dir", os.path.join(tmp, "run"),
           "--web", os.path.join(HERE, "..", "web"), "--seed", "1", "--preset", "fast"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    c = th.Client(port)
    try:
        th.wait_ready(c, proc, 60)
        while not c.json("GET", "/api/quality")[2]["available"]:
            time.sleep(0.05)
        t1, it1, cpu1 = time.time(), th.status(c)["iteration"], cpu_s(proc.pid)
        time.sleep(seconds)
        t2, it2, cpu2 = time.time(), th.status(c)["iteration"], cpu_s(proc.pid)
        passes = [p["iteration"] for p in c.json("GET", "/api/quality")[2]["passes"]]
        inside = [p for p in passes if it1 < p <= it2]
        if it2 > 2000:
            print("  warning: the window went past iteration 2000 (%d)" % it2)
        return (it2 - it1) / (t2 - t1), it1, it2, inside, cpu2 - cpu1
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    data = sys.argv[2]
    keep = tempfile.mkdtemp(prefix="ganlive-cadence-bin-")
    binary = os.path.join(keep, "ganlive")       # a copy: others rebuild ./ganlive meanwhile
    shutil.copy2(sys.argv[1], binary)
    args = [a for a in sys.argv[3:] if not a.startswith("--")]
    seconds = float(args[0]) if args else 60.0
    rounds = int(args[1]) if len(args) > 1 else 3
    arms = ("early", "off", "full") if "--full" in sys.argv else ("early", "off")
    lock = open("/tmp/ganlive-bench.lock", "a")
    print("waiting for /tmp/ganlive-bench.lock ...", flush=True)
    fcntl.flock(lock, fcntl.LOCK_EX)
    rates = {a: [] for a in arms}
    try:
        for r in range(rounds):
            for arm in (arms if r % 2 == 0 else arms[::-1]):
                la = loadavg()
                ips, it1, it2, inside, cpu = one(binary, data, arm, seconds)
                rates[arm].append(ips)
                print("round %d %-5s %.2f it/s (iterations %d..%d, server CPU %.0f s, load average %s before; "
                      "passes in the window at %s)" % (r + 1, arm, ips, it1, it2, cpu, la, inside), flush=True)
            print("round %d ratio early/off %.3f%s" % (r + 1, rates["early"][-1] / rates["off"][-1],
                  ", full/off %.3f" % (rates["full"][-1] / rates["off"][-1]) if "full" in rates else ""),
                  flush=True)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        shutil.rmtree(keep, ignore_errors=True)
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    for arm in arms[:1] + arms[2:]:
        ratios = sorted(e / o for e, o in zip(rates[arm], rates["off"]))
        med = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
        print("%s: %.2f it/s, off (regular cadence only): %.2f it/s (means of %d); ratio of the means %.3f "
              "(%+.1f%%), median of the rounds' ratios %.3f"
              % (arm, mean[arm], mean["off"], rounds, mean[arm] / mean["off"],
                 100.0 * (mean[arm] / mean["off"] - 1.0), med))
    return 0


if __name__ == "__main__":
    sys.exit(main())
