#!/usr/bin/env python3
"""quality_cadence.py - what the early quality cadence costs training.

    python3 bench/quality_cadence.py ./ganlive data/mnist [SECONDS] [ROUNDS]
    python3 bench/quality_cadence.py ./ganlive data/mnist --interleave [WINDOW_S] [SERVERS]

Quality passes run every 100 iterations for the first 2,000 iterations (so
the moment the digits become readable is seen), then every quality.every.
This measures what that costs: `ganlive serve --preset fast` with its
default quality settings (every 500, 1,000 samples), a fresh run directory
and seed 1, in two arms, alternated ROUNDS times (default 3):

  early  the server as it is (passes at 100, 200, ... below 2,000, the
         early ones over half the samples);
  off    --set quality.early_until=0: only the regular cadence (one pass
         at 500 in the window).

Each arm trains for SECONDS (default 60) of wall time counted from the
moment the quality thread is ready (the real test digits scored, the same
start-up in both arms), all inside the first 2,000 iterations, where the
early passes are. Reports iterations/s of each run, each arm's mean, and
the ratio early/off, with the server's CPU seconds in the
window and the load average before each run, since other people's test
runs on this 2-core machine move the figures more than the passes do. The
script holds /tmp/ganlive-bench.lock (flock) for the whole measurement, so
benchmarks do not overlap; it runs a copy of the binary (others rebuild
./ganlive meanwhile).

--interleave: the comparison inside one run, so the load others put on the
machine falls on both sides alike: a fresh fast run trains through its
first 2,000 iterations while PATCH /api/config switches quality.every
between 500 (the early cadence: passes back to back) and 0 (no passes; the
window starts once a pass in flight has ended) every WINDOW_S seconds
(default 12). Reports iterations/s with and without passes (medians and
means of the windows) and their ratio, for the early passes as they run
(a helper thread at nice +19), over SERVERS runs (default 2).
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
    cmd = [binary, "serve", "--port", str(port), "--data", data, "--run-dir", os.path.join(tmp, "run"),
           "--web", os.path.join(HERE, "..", "web"), "--seed", "1", "--preset", "fast"]
    if arm == "off":
        cmd += ["--set", "quality.early_until=0"]
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


def threads(pid):
    """{tid: (nice, cpu seconds)} of a process's threads."""
    out = {}
    tck = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                x = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(x[16]), (int(x[11]) + int(x[12])) / tck)
    return out


def lowprio_cpu(pid):
    """CPU seconds of the process minus those of its nice 0 threads now alive:
    the quality thread's, the early passes' (threads that have ended too)
    and the HTTP threads' (idle here)."""
    return cpu_s(pid) - sum(c for nice, c in threads(pid).values() if nice == 0)


def interleave_one(binary, data, window, label):
    busy, idle = [], []
    port = th.free_port()
    tmp = tempfile.mkdtemp(prefix="ganlive-cadence-")
    env = dict(os.environ)
    cmd = [binary, "serve", "--port", str(port), "--data", data, "--run-dir", os.path.join(tmp, "run"),
           "--web", os.path.join(HERE, "..", "web"), "--seed", "1", "--preset", "fast"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    c = th.Client(port)
    try:
        th.wait_ready(c, proc, 60)
        while not c.json("GET", "/api/quality")[2]["available"]:
            time.sleep(0.05)
        on = True
        while True:
            c.patch("/api/config", {"quality_every": 500 if on else 0})
            if not on:                       # let a pass in flight end first
                deadline = time.time() + 60
                while time.time() < deadline:
                    a = lowprio_cpu(proc.pid)
                    time.sleep(0.5)
                    if lowprio_cpu(proc.pid) - a < 0.02:
                        break
            t1, it1, q1 = time.time(), th.status(c)["iteration"], lowprio_cpu(proc.pid)
            time.sleep(window)
            t2, it2, q2 = time.time(), th.status(c)["iteration"], lowprio_cpu(proc.pid)
            if it2 >= 2000:
                break
            share = (q2 - q1) / (t2 - t1)
            ips = (it2 - it1) / (t2 - t1)
            (busy if on else idle).append(ips)
            print("%s %-6s %.2f it/s, iterations %d..%d, passes' threads %.0f%% of a core, load average %s"
                  % (label, "passes" if on else "none", ips, it1, it2, 100 * share, loadavg()), flush=True)
            on = not on
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return busy, idle


def interleave(binary, data, window, servers):
    med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2  # noqa
    arms = ("nice19",)
    res = {a: ([], []) for a in arms}
    for n in range(servers):
        for arm in arms:
            b, i = interleave_one(binary, data, window, "%s run %d" % (arm, n + 1))
            res[arm][0].extend(b)
            res[arm][1].extend(i)
    for arm in arms:
        busy, idle = res[arm]
        if busy and idle:
            mb, mi = med(busy), med(idle)
            print("early passes at %s: %.2f it/s while they run (median of %d windows, mean %.2f), %.2f it/s "
                  "without passes (median of %d, mean %.2f); ratio of the medians %.3f (%+.1f%%), of the means "
                  "%.3f" % (arm, mb, len(busy), sum(busy) / len(busy), mi, len(idle), sum(idle) / len(idle),
                            mb / mi, 100 * (mb / mi - 1), (sum(busy) / len(busy)) / (sum(idle) / len(idle))),
                  flush=True)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    data = sys.argv[2]
    keep = tempfile.mkdtemp(prefix="ganlive-cadence-bin-")
    binary = os.path.join(keep, "ganlive")       # a copy: others rebuild ./ganlive meanwhile
    shutil.copy2(sys.argv[1], binary)
    args = [a for a in sys.argv[3:] if not a.startswith("--")]
    if "--interleave" in sys.argv:
        lock = open("/tmp/ganlive-bench.lock", "a")
        print("waiting for /tmp/ganlive-bench.lock ...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            interleave(binary, data, float(args[0]) if args else 12.0, int(args[1]) if len(args) > 1 else 2)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            shutil.rmtree(keep, ignore_errors=True)
        return 0
    seconds = float(args[0]) if args else 60.0
    rounds = int(args[1]) if len(args) > 1 else 3
    arms = ("early", "off")
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
            print("round %d ratio early/off %.3f" % (r + 1, rates["early"][-1] / rates["off"][-1]), flush=True)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        shutil.rmtree(keep, ignore_errors=True)
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    for arm in arms[:1]:
        ratios = sorted(e / o for e, o in zip(rates[arm], rates["off"]))
        med = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
        print("%s: %.2f it/s, off (regular cadence only): %.2f it/s (means of %d); ratio of the means %.3f "
              "(%+.1f%%), median of the rounds' ratios %.3f"
              % (arm, mean[arm], mean["off"], rounds, mean[arm] / mean["off"],
                 100.0 * (mean[arm] / mean["off"] - 1.0), med))
    return 0


if __name__ == "__main__":
    sys.exit(main())
