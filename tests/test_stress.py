#!/usr/bin/env python3
"""test_stress.py - ThreadSanitizer stress test of a training server.

    python3 tests/test_stress.py ./ganlive-thread data/mnist [SECONDS]

Starts the (thread-sanitized) server with tests/config-test.json (plus a
run directory, checkpoints every 2 s and a quality pass every 20
iterations) and, for SECONDS (default 25), runs against it at once: GET
loops over every read endpoint (status, metrics, samples, fixed samples,
timeline and its PNGs, config, the dashboard), SSE clients that connect,
read and drop, a control loop of pause / step / resume, a config loop of
PATCHes, the readers of the published G/D copy (samples.json, annotate=1,
/api/quality, /api/nearest, nearest.png), POST /api/checkpoint in a loop,
and, a third of the way in, POST /api/run {"preset": "fast"}, which
restarts the server in the same process under all of them (connection
errors are allowed until it answers again, and it must come back as the
fast preset). Every answer must have an expected status. Then SIGTERM: the
server must exit 0 and its log must hold no "WARNING: ThreadSanitizer"
(TSAN_OPTIONS halt_on_error=1 exitcode=66 make any report fatal,
suppressions from tests/tsan.supp).
Prints "N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import http.client
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
from testlib import check, finish, sanitizer_excerpt, sanitizer_reports  # noqa: E402
from ports import free_port  # noqa: E402
lock = threading.Lock()
counts = {}
problems = []
restart = {"from": None, "until": None}     # the /api/run restart window (time.time())


def req(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def restarting():
    """Within the restart window of POST /api/run (until it answers again)."""
    with lock:
        return restart["from"] is not None and (restart["until"] is None or time.time() < restart["until"] + 1)


def note(kind, status, allowed, detail=b""):
    if status in ("error", 503, 409) and restarting():     # refused, "stopping", "shutting down"
        status = "restart"
        allowed = ("restart",)
        time.sleep(0.05)
    with lock:
        counts[kind] = counts.get(kind, 0) + 1
        if status not in allowed:
            problems.append((kind, status, detail[:200]))


def reader(port, stop, seed):
    """The readers of the published G and D copy and the quality thread."""
    rnd = random.Random(seed)
    while not stop.is_set():
        k = rnd.randint(1, 1 << 40)
        p = rnd.choice(["/api/samples.json?n=2&seed=%d" % k, "/api/samples.png?n=2&seed=%d&annotate=1" % k,
                        "/api/samples.json?n=1", "/api/quality", "/api/samples.png?n=1&annotate=1"] * 4 +
                       ["/api/nearest?n=1&seed=%d" % k, "/api/nearest.png?n=1&seed=%d" % k])
        try:
            st, body = req(port, "GET", p, timeout=120)
            note("reader", st, (200, 503), body)
        except OSError as e:
            note("reader", "error", (), repr(e).encode())


def saver(port, stop, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        try:
            st, body = req(port, "POST", "/api/checkpoint", {}, timeout=120)
            note("checkpoint", st, (200, 409), body)      # 409 while a restart is under way
        except OSError as e:
            note("checkpoint", "error", (), repr(e).encode())
        time.sleep(rnd.uniform(0.2, 1.0))


def runner(port, stop, at):
    """POST /api/run {"preset": "fast"} once, `at` seconds in; the server
    restarts in the same process and must come back as the fast preset."""
    if stop.wait(at):
        return
    with lock:
        restart["from"] = time.time()
    try:
        st, body = req(port, "POST", "/api/run", {"preset": "fast"})
        note("run", st, (202,), body)
    except OSError as e:
        note("run", "error", (), repr(e).encode())
    end = time.time() + 120
    while time.time() < end:
        try:
            st, body = req(port, "GET", "/api/status", timeout=5)
            if st == 200 and json.loads(body).get("preset") == "fast":
                with lock:
                    restart["until"] = time.time()
                note("back as fast", 200, (200,))
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    note("back as fast", "never", (200,))


def getter(port, stop, seed):
    rnd = random.Random(seed)
    paths = ["/api/status", "/api/metrics?limit=50", "/api/metrics?since=-1&limit=5",
             "/api/samples.png?n=4", "/api/samples.png?n=16&seed=7", "/api/samples/fixed.png",
             "/api/timeline", "/api/config", "/", "/app.js"]
    while not stop.is_set():
        p = rnd.choice(paths)
        try:
            st, body = req(port, "GET", p)
            note("get", st, (200, 503), body)
            if p == "/api/timeline" and st == 200:
                snaps = json.loads(body)["snapshots"]
                if snaps:
                    st, body = req(port, "GET", rnd.choice(snaps)["url"])
                    note("get", st, (200, 404), body)     # thinned away meanwhile
        except OSError as e:
            note("get", "error", (), repr(e).encode())


def sse(port, stop, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            got = b""
            closed = False
            end = time.time() + rnd.uniform(0.2, 3.0)
            first = time.time() + 15          # the first event may be slow under TSan and load
            while (time.time() < end or (b"event: state" not in got and time.time() < first)) \
                    and not stop.is_set():
                s.settimeout(max(0.05, min(1.0, end - time.time())))
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    closed = True
                    break
                got += chunk
            s.close()
            ok = got.startswith(b"HTTP/1.1 200") and b"event: state" in got
            if ok:
                status = 200
            elif not got or closed:           # refused, or dropped by the server (a restart)
                status = "error"
            elif stop.is_set():               # the stress ended before the first event: we left
                status = "left"
            else:
                status = "bad"
            note("sse", status, (200, "left"), got[:200])
        except OSError as e:
            note("sse", "error", (), repr(e).encode())


def control(port, stop, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        try:
            st, body = req(port, "POST", "/api/pause", {})
            note("pause", st, (200, 409) if restarting() else (200,), body)
            for _ in range(rnd.randint(1, 3)):
                st, body = req(port, "POST", "/api/step", {"n": rnd.randint(1, 4)})
                note("step", st, (200, 409), body)          # 409 if another resumed meanwhile
            time.sleep(rnd.uniform(0, 0.3))
            st, body = req(port, "POST", "/api/resume", {})
            note("resume", st, (200, 409) if restarting() else (200,), body)
            time.sleep(rnd.uniform(0.1, 1.0))
        except OSError as e:
            note("control", "error", (), repr(e).encode())


def patcher(port, stop, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        body = rnd.choice([{"lr_d": rnd.uniform(1e-4, 1e-3)}, {"lr_g": rnd.uniform(1e-4, 1e-3)},
                           {"events_interval_ms": rnd.randint(50, 500)},
                           {"timeline_every": rnd.randint(2, 20)},
                           {"d_steps": 1, "g_steps": rnd.randint(1, 2)}, {"lr_d": "bad"}])
        try:
            st, b = req(port, "PATCH", "/api/config", body)
            note("patch", st, (400,) if body.get("lr_d") == "bad" else (200,), b)
        except OSError as e:
            note("patch", "error", (), repr(e).encode())
        time.sleep(rnd.uniform(0.05, 0.4))


def wait_ready(port, proc, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            if req(port, "GET", "/api/status", timeout=5)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def iteration(port):
    return json.loads(req(port, "GET", "/api/status")[1])["iteration"]


def run(binary, data_dir, seconds):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="ganlive-stress-")
    cfg = json.load(open(os.path.join(HERE, "config-test.json")))
    cfg["run"] = {"dir": os.path.join(tmp, "run"), "checkpoint_every_s": 2, "keep": 3}
    cfg["quality"] = {"every": 20, "samples": 100}
    cfg_path = os.path.join(tmp, "stress.json")
    json.dump(cfg, open(cfg_path, "w"))
    env = dict(os.environ)
    supp = os.path.join(HERE, "tsan.supp")
    env["TSAN_OPTIONS"] = "halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=" + supp
    logpath = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ganlive-test-stress-%d.log" % port)
    log = open(logpath, "w+")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), "--data", data_dir, "--seed", "1",
                             "--config", cfg_path, "--threads", "2"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        if not check("server answers", wait_ready(port, proc)):
            log.seek(0)
            print(log.read()[-3000:])
            return
        it0 = iteration(port)
        stop = threading.Event()
        workers = [threading.Thread(target=getter, args=(port, stop, i)) for i in range(4)]
        workers += [threading.Thread(target=sse, args=(port, stop, 10 + i)) for i in range(3)]
        workers += [threading.Thread(target=control, args=(port, stop, 20)),
                    threading.Thread(target=patcher, args=(port, stop, 30))]
        workers += [threading.Thread(target=reader, args=(port, stop, 40 + i)) for i in range(4)]
        workers += [threading.Thread(target=saver, args=(port, stop, 50)),
                    threading.Thread(target=runner, args=(port, stop, seconds / 3.0))]
        for w in workers:
            w.start()
        end = time.time() + seconds
        while time.time() < end and proc.poll() is None:
            time.sleep(0.5)
        stop.set()
        for w in workers:
            w.join(60)
        alive = proc.poll() is None
        check("server alive after %d s of stress" % seconds, alive, "exit %s" % proc.returncode)
        print("     requests: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
        check("every answer had an expected status", not problems, problems[:5])
        check("each kind of client got through", all(counts.get(k, 0) > 0 for k in
                                                      ("get", "sse", "pause", "step", "resume", "patch",
                                                       "reader", "checkpoint", "run")), counts)
        check("POST /api/run under load: the server came back as the fast preset",
              counts.get("back as fast", 0) == 1 and not [p for p in problems if p[0] == "back as fast"],
              restart)
        if alive:
            req(port, "POST", "/api/resume", {})
            it1 = iteration(port)
            time.sleep(2)
            it2 = iteration(port)
            check("training goes on after the stress (and the restart)", it2 > it1, (it0, it1, it2))
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        log.seek(0)
        text = log.read()
        reports = len(sanitizer_reports(text))
        check("SIGTERM exits 0 (TSan exit code would be 66)", rc == 0, "rc %s" % rc)
        check("test_stress: zero sanitizer reports (ThreadSanitizer, ASan, UBSan, LeakSanitizer)", reports == 0,
              "%d reports, see %s:\n%s" % (reports, logpath, sanitizer_excerpt(text)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: test_stress.py BINARY DATA_DIR [SECONDS]", file=sys.stderr)
        return 2
    t0 = time.time()
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 25)
    print("(%.1f s)" % (time.time() - t0))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
