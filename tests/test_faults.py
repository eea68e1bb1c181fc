#!/usr/bin/env python3
"""test_faults.py - checkpoint faults on purpose, against the real binary.

    python3 tests/test_faults.py ./ganlive data/mnist

Each fault is one test on a run directory of its own (tests/config-test.json,
seed 1, checkpoints of about 2.3 MB):

  disk full        the run directory is a 3.5 MB tmpfs: the first checkpoint
                   fits, the next one cannot (ENOSPC)
  file-size limit  the server runs under RLIMIT_FSIZE of 1 MB, as a service
                   manager's LimitFSIZE sets it (EFBIG, not death by SIGXFSZ)
  read-only        the run directory's file system is remounted read-only
                   under a running server (EROFS), and a server is started
                   on a read-only directory
  SIGTERM mid-write  SIGTERM the moment a temporary checkpoint file appears
  kill -9 mid-write  SIGKILL the moment a temporary checkpoint file appears
  corrupt newest   the newest checkpoint damaged (a flipped byte, a cut
                   file), a good older one beside it

In each: the server trains on (or stops with a clear message and a known
exit status), POST /api/checkpoint answers 500 naming the reason, and
/api/status says what happened (checkpoint_error, last_checkpoint); no good
checkpoint is lost or overwritten (its bytes are unchanged) and no temporary
file is left; and a restart resumes the newest good file exactly: started
with GANLIVE_TEST_POISON_AT at its next iteration, the server stands still
at what it loaded, and /api/status names that file and iteration while
GET /api/samples.png?seed=S has the very bytes `ganlive sample --checkpoint
FILE --seed S` writes. Every server's exit status and output (sanitizer
reports) are checked (testlib). Needs root for mount; the tmpfs tests are
reported as failures without it. One line per check, then
"N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import testlib  # noqa: E402
from test_ckpt_api import valid_checkpoint  # noqa: E402
from testlib import check, main as testlib_main, wait_for  # noqa: E402

CFG = os.path.join(HERE, "config-test.json")


def ckpts(run_dir):
    return sorted(n for n in os.listdir(run_dir) if n.startswith("ckpt-") and n.endswith(".bin"))


def tmps(run_dir):
    return [n for n in os.listdir(run_dir) if n.endswith(".tmp")]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def start(binary, data_dir, run_dir, label, env=None, preexec_fn=None, cfg=CFG):
    return testlib.Server(binary, ["--data", data_dir, "--seed", "1", "--config", cfg, "--run-dir", run_dir],
                          env=env, preexec_fn=preexec_fn, label=label)


def wait_iteration(s, above, timeout=30):
    return wait_for(lambda: (lambda j: j if j and j["iteration"] > above else None)(s.status()), timeout, 0.05)


def save_good(binary, data_dir, run_dir, label):
    """A server that trains a little and saves on SIGTERM: the good file."""
    s = start(binary, data_dir, run_dir, label + ": the good checkpoint")
    ok = s.ready() and wait_iteration(s, 5) is not None
    st, _, js = s.c.post("/api/checkpoint") if ok else (None, None, None)
    rc = s.stop(signal.SIGKILL)             # no final save: the POST's file is the newest
    names = ckpts(run_dir) if os.path.isdir(run_dir) else []
    check("%s: a good checkpoint to begin with" % label, ok and st == 200 and names and
          os.path.join(run_dir, names[-1]) == js["path"], (st, js, names, rc))
    return js["path"] if st == 200 else None


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return check("mount a %d KB tmpfs at %s" % (size // 1024, path), r.returncode == 0, r.stdout.decode())


def umount(path):
    subprocess.run(["umount", "-l", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def verify_resume(binary, data_dir, run_dir, want, label):
    """A restart resumes `want` exactly (see the module comment)."""
    it = int(os.path.basename(want)[5:14])
    s = start(binary, data_dir, run_dir, label + ": restart", env={"GANLIVE_TEST_POISON_AT": str(it + 1)})
    if not check("%s: restart answers" % label, s.ready(), s.text()[-400:]):
        s.stop(expect=None)
        return
    js = wait_for(lambda: (lambda j: j if j and j["state"] == "diverged" else None)(s.status()), 30, 0.05)
    lc = (js or {}).get("last_checkpoint") or {}
    check("%s: restart resumed %s (status: iteration %d, last_checkpoint)" % (label, os.path.basename(want), it),
          js is not None and js["iteration"] == it and lc.get("path") == want and lc.get("iteration") == it,
          js and {k: js.get(k) for k in ("iteration", "state", "last_checkpoint")})
    ok, why = testlib.samples_match_checkpoint(binary, s, want, seed=7, n=9)
    check("%s: resumed weights are the file's (samples byte for byte = ganlive sample)" % label, ok, why)
    check("%s: no temporary file after the restart" % label, not tmps(run_dir), os.listdir(run_dir))
    check("%s: restart stops cleanly (SIGTERM while diverged: 0, nothing saved)" % label, s.stop() == 0, s.rc)


def failed_save(s, label, reason, good, run_dir):
    """POST /api/checkpoint fails with `reason`; status says so; training
    goes on; the good file is untouched."""
    good_bytes = read(good)
    it0 = s.status()["iteration"]
    st, _, e = s.c.post("/api/checkpoint")
    check("%s: POST /api/checkpoint 500 naming the reason" % label,
          st == 500 and reason in (e or {}).get("error", ""), (st, e))
    js = s.status()
    check("%s: status checkpoint_error says why" % label,
          js and reason in (js.get("checkpoint_error") or ""), js and js.get("checkpoint_error"))
    check("%s: status last_checkpoint still the good one" % label,
          js and (js.get("last_checkpoint") or {}).get("path") == good, js and js.get("last_checkpoint"))
    check("%s: training goes on" % label, wait_iteration(s, it0 + 5) is not None, s.status())
    check("%s: the good checkpoint is intact, byte for byte" % label,
          os.path.exists(good) and read(good) == good_bytes)
    check("%s: no temporary file left" % label, not tmps(run_dir), os.listdir(run_dir))
    check("%s: every file in the directory is a valid checkpoint" % label,
          all(valid_checkpoint(read(os.path.join(run_dir, n)))[0] for n in ckpts(run_dir)), ckpts(run_dir))


# ---- the faults ------------------------------------------------------------------

def test_disk_full(binary, data_dir, tmp):
    label = "disk full"
    run_dir = os.path.join(tmp, "full")
    if not mount_tmpfs(run_dir, 3584 * 1024):
        return
    try:
        s = start(binary, data_dir, run_dir, label)
        check("%s: server answers" % label, s.ready())
        wait_iteration(s, 5)
        st, _, good = s.c.post("/api/checkpoint")
        if not check("%s: the first checkpoint fits" % label, st == 200, (st, good)):
            return
        failed_save(s, label, "No space left on device", good["path"], run_dir)
        rc = s.stop()
        check("%s: SIGTERM exits 0; the final save fails and says so" % label,
              rc == 0 and "No space left on device" in s.text(), (rc, s.text()[-300:]))
        check("%s: still the good checkpoint only, intact" % label,
              ckpts(run_dir) == [os.path.basename(good["path"])] and valid_checkpoint(read(good["path"]))[0],
              ckpts(run_dir))
        verify_resume(binary, data_dir, run_dir, good["path"], label)
    finally:
        umount(run_dir)


def test_file_size_limit(binary, data_dir, tmp):
    label = "file-size limit"
    run_dir = os.path.join(tmp, "fsize")
    good = save_good(binary, data_dir, run_dir, label)
    if not good:
        return
    limit = 1 << 20

    def limit_fsize():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    s = start(binary, data_dir, run_dir, label, preexec_fn=limit_fsize)
    if not check("%s: server answers under RLIMIT_FSIZE 1 MB" % label, s.ready(), s.text()[-300:]):
        return
    failed_save(s, label, "File too large", good, run_dir)
    check("%s: the server is alive (not killed by SIGXFSZ)" % label, s.alive(), s.proc.returncode)
    rc = s.stop()
    check("%s: SIGTERM exits 0; the final save fails and says so" % label,
          rc == 0 and "File too large" in s.text(), (rc, s.text()[-300:]))
    verify_resume(binary, data_dir, run_dir, good, label)


def test_read_only(binary, data_dir, tmp):
    label = "read-only"
    run_dir = os.path.join(tmp, "ro")
    s = start(binary, data_dir, run_dir, label)
    check("%s: server answers" % label, s.ready())
    wait_iteration(s, 5)
    st, _, good = s.c.post("/api/checkpoint")
    if not check("%s: a good checkpoint before the directory turns read-only" % label, st == 200, (st, good)):
        return
    # a read-only bind mount of the directory over itself: the server's open
    # lock stays, every new file in the directory gets EROFS
    r = subprocess.run("mount --bind %s %s && mount -o remount,bind,ro %s" % (run_dir, run_dir, run_dir),
                       shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not check("%s: the directory made read-only under the running server" % label, r.returncode == 0, r.stdout):
        return
    try:
        failed_save(s, label + " (under a running server)", "Read-only file system", good["path"], run_dir)
        rc = s.stop()
        check("%s: SIGTERM exits 0; the final save fails and says so" % label,
              rc == 0 and "Read-only file system" in s.text(), (rc, s.text()[-300:]))
        # a server started on a read-only run directory
        s = start(binary, data_dir, run_dir, label + ": start")
        up = s.ready()
        if up:
            failed_save(s, label + " (started on it)", "Read-only file system", good["path"], run_dir)
            rc = s.stop()
            check("%s: started on it, SIGTERM exits 0" % label, rc == 0, rc)
        else:
            rc = s.wait(60, expect=(2,))
            text = s.text()
            check("%s: a server started on it exits 2 naming the directory and the reason" % label,
                  rc == 2 and run_dir in text and "Read-only file system" in text, (rc, text[-300:]))
        check("%s: the good checkpoint is intact" % label, valid_checkpoint(read(good["path"]))[0])
    finally:
        umount(run_dir)
    verify_resume(binary, data_dir, run_dir, good["path"], label)


class Saver:
    """POST /api/checkpoint again and again from a thread, so writes come
    one after another (answers are not checked: the server is signalled
    under them)."""

    def __init__(self, s):
        import threading
        self.s = s
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                self.s.c.post("/api/checkpoint", timeout=10)
            except (OSError, ValueError):
                time.sleep(0.01)

    def close(self):
        self.stop.set()
        self.t.join(15)


def signal_at_write(s, run_dir, sig, timeout=10.0):
    """Send sig the moment a temporary checkpoint file appears (saves
    requested back to back meanwhile). True when it was there, with the
    server alive, at that moment."""
    saver = Saver(s)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and s.alive():
            if tmps(run_dir):
                s.proc.send_signal(sig)
                return True
        return False
    finally:
        saver.stop.set()


def test_sigterm_mid_write(binary, data_dir, tmp, rounds=5):
    label = "SIGTERM mid-write"
    run_dir = os.path.join(tmp, "term")
    landed, bad = 0, []
    last = None
    for r in range(rounds):
        s = start(binary, data_dir, run_dir, "%s %d" % (label, r))
        if not s.ready():
            bad.append((r, "did not start"))
            s.stop(expect=None)
            break
        wait_iteration(s, 2)
        hit = signal_at_write(s, run_dir, signal.SIGTERM)
        landed += hit
        if not hit:
            s.proc.send_signal(signal.SIGTERM)
        rc = s.stop()
        text = s.text()
        stopped = [l for l in text.splitlines() if "stopped at iteration" in l]
        names = ckpts(run_dir)
        if rc != 0 or not stopped or not names:
            bad.append((r, "exit %s, %s, files %s" % (rc, stopped, names)))
            continue
        it = int(stopped[-1].rsplit(" ", 1)[1])
        if int(names[-1][5:14]) != it:
            bad.append((r, "stopped at %d but the newest file is %s" % (it, names[-1])))
        if tmps(run_dir):
            bad.append((r, "temporary file left: %s" % os.listdir(run_dir)))
        for n in names:
            if not valid_checkpoint(read(os.path.join(run_dir, n)))[0]:
                bad.append((r, "%s invalid" % n))
        last = os.path.join(run_dir, names[-1])
    check("%s: %d SIGTERMs (%d the moment a temporary file appeared): each exits 0 after a final "
          "checkpoint at the iteration it stopped at, every file valid, no temporary file" % (label, rounds, landed),
          not bad and landed >= rounds - 1, bad[:3])
    if last:
        verify_resume(binary, data_dir, run_dir, last, label)


def test_kill_mid_write(binary, data_dir, tmp, rounds=5):
    label = "kill -9 mid-write"
    run_dir = os.path.join(tmp, "kill")
    landed, bad, acked = 0, [], None
    for r in range(rounds):
        before = {n: read(os.path.join(run_dir, n)) for n in ckpts(run_dir)} if os.path.isdir(run_dir) else {}
        s = start(binary, data_dir, run_dir, "%s %d" % (label, r))
        if not s.ready():
            bad.append((r, "did not start"))
            s.stop(expect=None)
            break
        wait_iteration(s, 2)
        st, _, acked = s.c.post("/api/checkpoint")         # a good one first
        if st != 200:
            bad.append((r, "POST /api/checkpoint %s %s" % (st, acked)))
        hit = signal_at_write(s, run_dir, signal.SIGKILL)
        died = s.stop(signal.SIGKILL) == -signal.SIGKILL
        left = tmps(run_dir)
        landed += bool(hit and left)
        if not died:
            bad.append((r, "did not die of SIGKILL: %s" % s.rc))
        for n in ckpts(run_dir):
            data = read(os.path.join(run_dir, n))
            if not valid_checkpoint(data)[0]:
                bad.append((r, "%s invalid after the kill" % n))
            if n in before and before[n] != data:
                bad.append((r, "%s changed" % n))
        if r == rounds - 1:
            break
    names = ckpts(run_dir)
    check("%s: %d kills, %d of them landed during a write (a temporary file left behind); every "
          "checkpoint valid, none changed" % (label, rounds, landed), not bad and landed >= rounds - 1, bad[:3])
    check("%s: the newest file is no older than the last acknowledged checkpoint, which is kept" % label,
          names and acked and int(names[-1][5:14]) >= acked.get("iteration", 1 << 62) and
          (os.path.basename(acked["path"]) in names or len(names) == 3), (names, acked))
    if names:
        verify_resume(binary, data_dir, run_dir, os.path.join(run_dir, names[-1]), label)


def test_corrupt_newest(binary, data_dir, tmp):
    for how in ("flipped byte", "cut short"):
        label = "corrupt newest (%s)" % how
        run_dir = os.path.join(tmp, "corrupt-" + how.replace(" ", "-"))
        older = save_good(binary, data_dir, run_dir, label)
        if not older:
            return
        s = start(binary, data_dir, run_dir, label + ": a newer checkpoint")
        s.ready()
        wait_iteration(s, int(os.path.basename(older)[5:14]) + 5)
        st, _, newer = s.c.post("/api/checkpoint")
        s.stop(signal.SIGKILL)
        if not check("%s: a newer checkpoint beside the older one" % label, st == 200 and
                     len(ckpts(run_dir)) == 2, (st, ckpts(run_dir))):
            return
        older_bytes = read(older)
        data = bytearray(read(newer["path"]))
        if how == "flipped byte":
            data[len(data) // 2] ^= 0x10
        else:
            data = data[:len(data) // 3]
        with open(newer["path"], "wb") as f:
            f.write(data)
        verify_resume(binary, data_dir, run_dir, older, label)
        text = open(testlib._servers[-1].log_path).read()
        check("%s: the restart names the damaged file and why" % label,
              "%s is damaged (" % newer["path"] in text, text[:400])
        check("%s: the good older checkpoint is intact" % label, read(older) == older_bytes)
        check("%s: the damaged file is left for a person to look at" % label,
              os.path.exists(newer["path"]) and read(newer["path"]) == bytes(data))


def run(binary, data_dir):
    tmp = tempfile.mkdtemp(prefix="ganlive-faults-")
    try:
        for t in (test_disk_full, test_file_size_limit, test_read_only, test_sigterm_mid_write,
                  test_kill_mid_write, test_corrupt_newest):
            try:
                t(binary, data_dir, tmp)
            except Exception as e:
                import traceback
                traceback.print_exc()
                check("%s: no exception" % t.__name__, False, repr(e))
    finally:
        testlib.reap_all()
        for d in ("full", "ro", "ro"):
            umount(os.path.join(tmp, d))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_faults.py"))
