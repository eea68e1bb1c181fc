#!/usr/bin/env python3
"""test_crash.py - kill -9 a training server at random moments, 50 times.

    python3 tests/test_crash.py ./ganlive data/mnist [ROUNDS]

The server (tests/config-test.json's small model) checkpoints every second
into a run directory of its own; each round it is started, asked for a few
POST /api/checkpoint (some acknowledged, some still in flight when the kill
comes), left to train for a random while and killed with SIGKILL. Every
restart must resume ("resumed from <file> at iteration N") from a valid
checkpoint no older than the last acknowledged POST /api/checkpoint, every
file left in the directory must be a valid checkpoint (magic, length,
CRC32), and no temporary file may survive a restart. One line per check,
then "N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_http import Client, free_port, wait_ready  # noqa: E402
from test_ckpt_api import valid_checkpoint  # noqa: E402

from testlib import check, finish  # noqa: E402


def run(binary, data_dir, rounds):
    rng = random.Random(int(os.environ.get("GANLIVE_CRASH_SEED", "5")))
    tmp = tempfile.mkdtemp(prefix="ganlive-crash-")
    run_dir = os.path.join(tmp, "run")
    cfg = json.load(open(os.path.join(HERE, "config-test.json")))
    cfg["run"] = {"dir": run_dir, "checkpoint_every_s": 1, "keep": 3}
    cfg_path = os.path.join(tmp, "crash.json")
    json.dump(cfg, open(cfg_path, "w"))
    acked = -1                 # newest iteration a POST /api/checkpoint acknowledged
    bad = []                   # (round, problem)
    resumed_from_ack = 0
    resumed_newer = 0          # from a periodic save after the last acknowledged one
    in_flight_kills = 0
    resumes = []
    proc = None
    t0 = time.time()
    try:
        for r in range(rounds):
            port = free_port()
            log_path = os.path.join(tmp, "serve-%d.log" % r)
            log = open(log_path, "w")
            proc = subprocess.Popen([binary, "serve", "--port", str(port), "--data", data_dir,
                                     "--config", cfg_path], stdout=log, stderr=subprocess.STDOUT)
            c = Client(port)
            if not wait_ready(c, proc, 30):
                log.close()
                bad.append((r, "did not start: " + open(log_path).read()[-400:]))
                break
            text = open(log_path).read()
            m = re.search(r"^ganlive: resumed from (\S+) at iteration (\d+)$", text, re.M)
            if r == 0:
                if m:
                    bad.append((r, "a fresh run directory resumed: " + m.group(0)))
            elif not m:
                bad.append((r, "no resume line: " + text[:400]))
            else:
                it = int(m.group(2))
                resumes.append(it)
                if it < acked:
                    bad.append((r, "resumed at %d, older than the acknowledged %d" % (it, acked)))
                if it == acked:
                    resumed_from_ack += 1
                else:
                    resumed_newer += 1
                if "is damaged" in text:
                    bad.append((r, "damaged file after a kill: " + text[:400]))
            if [n for n in os.listdir(run_dir) if n.endswith(".tmp")]:
                bad.append((r, "temporary file survived the restart: %s" % os.listdir(run_dir)))
            for n in os.listdir(run_dir):
                if n.startswith("ckpt-"):
                    try:
                        data = open(os.path.join(run_dir, n), "rb").read()
                    except FileNotFoundError:        # rotated away meanwhile
                        continue
                    ok, why = valid_checkpoint(data)
                    if not ok:
                        bad.append((r, "%s: %s" % (n, why)))
            nfiles = len([n for n in os.listdir(run_dir) if n.startswith("ckpt-")])
            if nfiles > 4:                           # keep 3, plus one mid-rotation
                bad.append((r, "%d checkpoint files" % nfiles))

            # a few acknowledged checkpoints, maybe one in flight at the kill
            quiet = rng.random() < 0.35              # only the periodic saves
            deadline = time.time() + (rng.uniform(0.5, 2.5) if quiet else rng.uniform(0.1, 1.6))
            flight = None
            while time.time() < deadline:
                if not quiet and rng.random() < 0.5:
                    try:
                        st, _, js = c.post("/api/checkpoint", timeout=10)
                        if st == 200:
                            acked = max(acked, js["iteration"])
                        else:
                            bad.append((r, "POST /api/checkpoint %s %s" % (st, js)))
                    except OSError:
                        pass
                time.sleep(rng.uniform(0.0, 0.3))
            if rng.random() < 0.3:
                def post_unacknowledged():
                    try:
                        c.post("/api/checkpoint", timeout=5)
                    except OSError:
                        pass
                flight = threading.Thread(target=post_unacknowledged)
                flight.start()
                time.sleep(rng.uniform(0.0, 0.05))
                in_flight_kills += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            log.close()
            if flight:
                flight.join()
            proc = None
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        elapsed = time.time() - t0
        shutil.rmtree(tmp, ignore_errors=True)
    for r, why in bad[:10]:
        print("     round %d: %s" % (r, why))
    check("%d kill -9 restarts: each resumed from a valid checkpoint no older than the last "
          "acknowledged one" % (rounds - 1), not bad, "%d problems" % len(bad))
    check("every restart after the first resumed", len(resumes) == rounds - 1, len(resumes))
    print("     %.1f s; resumed at iterations %s; %d times at the last acknowledged checkpoint, "
          "%d times at a newer periodic one; %d kills with a POST in flight"
          % (elapsed, resumes[:8] + ["..."] + resumes[-3:], resumed_from_ack, resumed_newer,
             in_flight_kills))


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: test_crash.py BINARY DATA_DIR [ROUNDS]", file=sys.stderr)
        return 2
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 50
    run(sys.argv[1], sys.argv[2], rounds + 1)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
