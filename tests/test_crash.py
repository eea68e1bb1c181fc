#!/usr/bin/env python3
"""test_crash.py - kill -9 a training server at random moments and in the
middle of checkpoint writes, 50 times.

    python3 tests/test_crash.py ./ganlive data/mnist [ROUNDS]

The server (tests/config-test.json's small model) checkpoints every second
into a run directory of its own. Each round starts it, checks where it
resumed, lets it train and save, and kills it with SIGKILL:

- where it resumed is read from the API, not from its log: it is started
  with GANLIVE_TEST_POISON_AT set to the iteration after the newest
  checkpoint on disk, so it diverges at once and stands still at exactly
  the state it loaded: /api/status must show that file's iteration and
  path, and GET /api/samples.png?seed=S must have the very bytes
  `ganlive sample --checkpoint FILE --seed S` writes. POST /api/resume then
  restores the same file and training goes on (the hook poisons once);
- that file is valid, no older than the last acknowledged POST
  /api/checkpoint, every file in the directory is a valid checkpoint
  (magic, length, CRC32) and no temporary file survives a restart;
- every POST /api/checkpoint made while the server is known to be alive
  must answer 200 (one still in flight at the kill may fail);
- at each kill the server is alive and dies of SIGKILL itself (a server
  that died of something else, say an ASan abort, fails the round);
- in most rounds the kill is aimed at a checkpoint write: a watcher polls
  the directory and kills the server the moment a temporary file appears.
  A temporary file left behind by the dead server proves the kill landed
  mid-write; at least one round in five must (10 of 50).
Sanitizer reports in any server's output fail the suite (testlib). One
line per check, then "N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_ckpt_api import valid_checkpoint  # noqa: E402

import testlib  # noqa: E402
from testlib import check, finish  # noqa: E402


def ckpts(run_dir):
    return sorted(n for n in os.listdir(run_dir) if n.startswith("ckpt-") and n.endswith(".bin"))


def tmps(run_dir):
    return [n for n in os.listdir(run_dir) if n.endswith(".tmp")]


def kill_at_write(s, run_dir, timeout):
    """SIGKILL the server the moment a temporary checkpoint file appears (or
    at timeout). Returns True when it was alive and died of SIGKILL."""
    deadline = time.time() + timeout
    while time.time() < deadline and s.alive():
        try:
            names = os.listdir(run_dir)
        except OSError:
            names = []
        if any(n.endswith(".tmp") for n in names):
            break
    return s.kill()


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
    resumes = []
    mid_write = 0              # kills that left a temporary file behind
    aimed = 0                  # rounds whose kill was aimed at a write
    in_flight_kills = 0
    t0 = time.time()
    try:
        for r in range(rounds):
            names = ckpts(run_dir) if os.path.isdir(run_dir) else []
            expect = None
            if names:
                expect = os.path.join(run_dir, names[-1])
                with open(expect, "rb") as f:
                    ok, why = valid_checkpoint(f.read())
                if not ok:
                    bad.append((r, "%s left invalid: %s" % (names[-1], why)))
                expect_it = int(names[-1][5:14])
                if expect_it < acked:
                    bad.append((r, "newest checkpoint %d older than the acknowledged %d" % (expect_it, acked)))
            elif r > 0:
                bad.append((r, "no checkpoint on disk after %d rounds" % r))
            env = {"GANLIVE_TEST_POISON_AT": str(expect_it + 1)} if expect else {}
            s = testlib.Server(binary, ["--data", data_dir, "--config", cfg_path, "--seed", "1"],
                               env=env, label="round %d" % r)
            if not s.ready(60):
                bad.append((r, "did not start: " + s.text()[-400:]))
                s.kill()
                break
            if expect:
                js = testlib.wait_for(lambda: (lambda j: j if j and j["state"] == "diverged" else None)(
                    s.status()), 30, 0.05)
                lc = (js or {}).get("last_checkpoint") or {}
                if not js or js["iteration"] != expect_it or lc.get("path") != expect:
                    bad.append((r, "API: not standing at %s (iteration %d): %s" % (
                        expect, expect_it, js and {k: js.get(k) for k in ("state", "iteration", "last_checkpoint")})))
                else:
                    resumes.append(expect_it)
                    ok, why = testlib.samples_match_checkpoint(binary, s, expect, seed=r + 1, n=9, tmp_dir=tmp)
                    if not ok:
                        bad.append((r, "samples differ from ganlive sample --checkpoint: " + why))
                if tmps(run_dir):
                    bad.append((r, "temporary file survived the restart: %s" % os.listdir(run_dir)))
                st, _, js = s.c.post("/api/resume")
                if st != 200 or js.get("state") != "running" or js.get("iteration", -1) < expect_it:
                    bad.append((r, "resume after the hook: %s %s" % (st, js)))
            else:
                js = s.status()
                if not js or js.get("last_checkpoint") is not None:
                    bad.append((r, "a fresh run directory resumed: %s" % js))
            for n in ckpts(run_dir):
                try:
                    with open(os.path.join(run_dir, n), "rb") as f:
                        data = f.read()
                except FileNotFoundError:            # rotated away meanwhile
                    continue
                ok, why = valid_checkpoint(data)
                if not ok:
                    bad.append((r, "%s: %s" % (n, why)))
            if len(ckpts(run_dir)) > 4:              # keep 3, plus one mid-rotation
                bad.append((r, "%d checkpoint files" % len(ckpts(run_dir))))

            # a few acknowledged checkpoints; every one must answer 200
            quiet = rng.random() < 0.35              # only the periodic saves
            deadline = time.time() + (rng.uniform(0.3, 1.5) if quiet else rng.uniform(0.1, 1.0))
            while time.time() < deadline:
                if not quiet and rng.random() < 0.5:
                    try:
                        st, _, js = s.c.post("/api/checkpoint", timeout=30)
                        if st == 200:
                            acked = max(acked, js["iteration"])
                        else:
                            bad.append((r, "POST /api/checkpoint %s %s" % (st, js)))
                    except OSError as e:
                        bad.append((r, "POST /api/checkpoint failed on a live server: %r" % e))
                time.sleep(rng.uniform(0.0, 0.2))
            flight = None
            if rng.random() < 0.3 or r % 3 != 2:
                def post_unacknowledged():
                    try:
                        s.c.post("/api/checkpoint", timeout=10)
                    except OSError:
                        pass                         # killed under it: expected
                flight = threading.Thread(target=post_unacknowledged)
                flight.start()
                in_flight_kills += 1
            if r % 3 != 2:                           # two rounds in three: aim at a write
                aimed += 1
                died_right = kill_at_write(s, run_dir, 3.0)
            else:
                time.sleep(rng.uniform(0.0, 0.05))
                died_right = s.kill()
            if not died_right:
                bad.append((r, "not alive at the kill, or did not die of SIGKILL: exit %s: %s"
                            % (s.rc, s.text()[-400:])))
            if tmps(run_dir):
                mid_write += 1
            if flight:
                flight.join()
    finally:
        testlib.reap_all()
        elapsed = time.time() - t0
        shutil.rmtree(tmp, ignore_errors=True)
    for r, why in bad[:10]:
        print("     round %d: %s" % (r, why))
    kills = rounds
    check("%d kill -9 restarts: each stood at the newest checkpoint (API: iteration, path, samples byte "
          "for byte), valid and no older than the last acknowledged one" % (rounds - 1), not bad,
          "%d problems" % len(bad))
    check("every restart after the first resumed", len(resumes) == rounds - 1, len(resumes))
    check("at least one kill in five landed during a checkpoint write (%d of %d)" % (mid_write, kills),
          mid_write * 5 >= kills, mid_write)
    print("     %.1f s; resumed at iterations %s; %d of %d kills left a temporary file (%d aimed at a "
          "write); %d with a POST in flight"
          % (elapsed, resumes[:6] + ["..."] + resumes[-3:], mid_write, kills, aimed, in_flight_kills))


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: test_crash.py BINARY DATA_DIR [ROUNDS]", file=sys.stderr)
        return 2
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 50
    t0 = time.time()
    run(sys.argv[1], sys.argv[2], rounds + 1)
    print("(%.1f s)" % (time.time() - t0))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
