"""testlib.py - what every Python suite of ganlive shares: check(), which
counts a result and prints one line for it ("ok   name" or "FAIL name:
detail"), and finish(), which prints the closing line "N passed, N failed"
and returns the exit status. Thread-safe, so stress threads may check too.

Server starts and stops a `ganlive serve` with its output captured in a
file. Every server a suite starts this way is watched to the end: stop()
and kill() record its exit status against what the caller expects (0 after
SIGTERM, -9 after SIGKILL, ...), and its whole output is scanned for
sanitizer reports (AddressSanitizer, UndefinedBehaviorSanitizer's "runtime
error:", ThreadSanitizer, LeakSanitizer). finish() turns those records into
two checks named after the suite, so an aborted or misbehaving server under
ASan, UBSan or TSan fails the suite by name even where the test itself only
cared about the answers. Servers still running at finish() are killed, and
the logs of any server that went wrong are kept and their paths printed.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

_lock = threading.Lock()
_counts = {"passed": 0, "failed": 0}

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                   "ThreadSanitizer:", "LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer")

_servers = []              # every Server started, in order
_problems = []             # (server label, what went wrong)
_reports = []              # (server label, log path, excerpt)
_log_dir = None


def suite_name():
    return os.path.splitext(os.path.basename(sys.argv[0]))[0] or "suite"


def check(name, cond, detail=""):
    with _lock:
        if cond:
            _counts["passed"] += 1
            print("ok   " + name)
        else:
            _counts["failed"] += 1
            print("FAIL " + name + (": " + str(detail) if detail != "" else ""))
        sys.stdout.flush()
    return cond


def sanitizer_reports(text):
    """The lines of text that belong to a sanitizer report (empty: none)."""
    return [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)]


def sanitizer_excerpt(text, size=3000):
    """Up to `size` characters of text from a little before its first
    sanitizer line (a crash report has no WARNING line, only ERROR and
    DEADLYSIGNAL ones), or "" when there is none."""
    lines = sanitizer_reports(text)
    if not lines:
        return ""
    at = max(0, text.find(lines[0]) - 200)
    return text[at:at + size]


def log_dir():
    global _log_dir
    if _log_dir is None:
        _log_dir = tempfile.mkdtemp(prefix="ganlive-%s-logs-" % suite_name())
    return _log_dir


def failpoints_binary(binary):
    """The failpoint twin of binary (./ganlive -> ./ganlive-failpoints, built
    by `make test`): the same program linked with tests/failpoints/, the
    only one that reads GANLIVE_TEST_POISON_AT. A server given that variable
    runs it, since the program that ships has no test hook."""
    twin = binary + "-failpoints"
    if not os.path.exists(twin):
        raise RuntimeError("%s is missing: make %s" % (twin, os.path.basename(twin)))
    return twin


class Server:
    """`binary serve --port P ARGS...` with stdout and stderr in one log file.

    args: the rest of the command line (--data, --config, --run-dir, ...);
    env: added to the environment (with GANLIVE_TEST_POISON_AT the server is
    the failpoint twin of binary: failpoints_binary); preexec_fn: run in the child before exec
    (resource limits). label names the server in failure messages."""

    def __init__(self, binary, args, env=None, preexec_fn=None, label=None, port=None):
        import test_http
        if env and "GANLIVE_TEST_POISON_AT" in env:
            binary = failpoints_binary(binary)
        self.port = port or test_http.free_port()
        self.label = label or "server %d" % (len(_servers) + 1)
        self.log_path = os.path.join(log_dir(), "serve-%d-%d.log" % (len(_servers) + 1, self.port))
        self.cmd = [binary, "serve", "--port", str(self.port)] + [str(a) for a in args]
        e = dict(os.environ)
        e.update(env or {})
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                     preexec_fn=preexec_fn)
        self.c = test_http.Client(self.port)
        self.rc = None
        self.expected = None
        self.scanned = False
        with _lock:
            _servers.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def ready(self, timeout=60):
        import test_http
        return test_http.wait_ready(self.c, self.proc, timeout)

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def status(self):
        """GET /api/status as a dict, or None (no answer, not 200)."""
        try:
            st, _, js = self.c.json("GET", "/api/status", timeout=10)
        except OSError:
            return None
        return js if st == 200 else None

    def _finish(self, rc, expect):
        self.rc = rc
        self.expected = expect
        if not self.log.closed:
            self.log.close()
        self._scan()
        if expect is not None and rc not in expect:
            with _lock:
                _problems.append((self.label, "exit status %s, expected %s (log %s): %s"
                                  % (rc, " or ".join(map(str, expect)) or "it to be running", self.log_path,
                                     self.text()[-600:])))
        return rc

    def _scan(self):
        if self.scanned:
            return
        self.scanned = True
        excerpt = sanitizer_excerpt(self.text())
        if excerpt:
            with _lock:
                _reports.append((self.label, self.log_path, excerpt))

    def wait(self, timeout=60, expect=None):
        """Wait for an exit the server makes by itself; returns its status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            with _lock:
                _problems.append((self.label, "did not exit within %d s" % timeout))
        return self._finish(rc, expect)

    def stop(self, sig=signal.SIGTERM, timeout=60, expect=None):
        """Send sig (SIGTERM by default) and wait; returns the exit status.
        expect: the statuses that count as a clean end (default: 0 after
        SIGTERM or SIGINT, -sig after any other signal)."""
        if expect is None:
            expect = (0,) if sig in (signal.SIGTERM, signal.SIGINT) else (-sig,)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            with _lock:
                _problems.append((self.label, "did not exit within %d s of signal %d" % (timeout, sig)))
        return self._finish(rc, expect)

    def kill(self):
        """SIGKILL; returns True when the server was alive at that moment and
        died of that very signal."""
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGKILL)
        rc = self.stop(signal.SIGKILL, expect=(-signal.SIGKILL,) if alive else None)
        return alive and rc == -signal.SIGKILL


def reap_all():
    """Kill what is still running (a test that failed half-way), scan every log."""
    for s in list(_servers):
        if s.rc is None:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
                s._finish(s.proc.returncode, None)
            else:                                 # ended on its own, unasked
                s._finish(s.proc.returncode, ())
        s._scan()


def finish():
    if _servers:
        reap_all()
        name = suite_name()
        for label, path, excerpt in _reports[:3]:
            print("     %s (%s):\n%s" % (label, path, excerpt))
        for label, why in _problems[:5]:
            print("     %s: %s" % (label, why))
        check("%s: no sanitizer report in the output of its %d servers" % (name, len(_servers)),
              not _reports, "%d servers with reports" % len(set(r[0] for r in _reports)))
        check("%s: every server ended with the expected exit status" % name, not _problems,
              "%d problems" % len(_problems))
        if not _reports and not _problems and _log_dir:
            shutil.rmtree(_log_dir, ignore_errors=True)
        elif _log_dir:
            print("     server logs kept in " + _log_dir)
    print("%d passed, %d failed" % (_counts["passed"], _counts["failed"]))
    return 1 if _counts["failed"] else 0


def main(run, script):
    """The whole main() of a suite run as `python3 SCRIPT BINARY DATA_DIR`:
    check the arguments, run(binary, data_dir), print the time taken and
    the closing line; returns the exit status."""
    if len(sys.argv) != 3:
        print("usage: %s BINARY DATA_DIR" % script, file=sys.stderr)
        return 2
    t0 = time.time()
    run(sys.argv[1], sys.argv[2])
    print("(%.1f s)" % (time.time() - t0))
    return finish()


def wait_for(pred, timeout, step=0.1):
    """pred()'s first true value within timeout seconds, or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def samples_match_checkpoint(binary, server, ckpt, seed=5, n=16, tmp_dir=None):
    """(ok, detail): the server's GET /api/samples.png?n=N&seed=S has the
    very bytes `binary sample --checkpoint CKPT --n N --seed S` writes, so
    the server's published generator is the file's, weight for weight."""
    out = os.path.join(tmp_dir or log_dir(), "sample-%d-%d.png" % (os.getpid(), time.time_ns()))
    st, _, png = server.c.req("GET", "/api/samples.png?n=%d&seed=%d" % (n, seed))
    p = subprocess.run([binary, "sample", "--checkpoint", ckpt, "--n", str(n), "--seed", str(seed),
                        "--out", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    text = p.stdout.decode(errors="replace")
    if sanitizer_reports(text) or p.returncode != 0:
        return False, "ganlive sample exited %d: %s" % (p.returncode, text[-600:])
    with open(out, "rb") as f:
        want = f.read()
    os.remove(out)
    if st != 200:
        return False, "samples.png answered %s" % st
    return png == want, "%d bytes from the server, %d from ganlive sample" % (len(png), len(want))
