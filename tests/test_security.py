#!/usr/bin/env python3
"""test_security.py - the malformed-request battery and the slow-client test.

    python3 tests/test_security.py ./ganlive data/mnist

Starts two training servers (tests/config-test.json): A without a token,
B with --token (on 127.0.0.2 when that loopback address can be bound, else
127.0.0.1). Sends A raw-socket requests that are truncated, malformed,
oversized, of the wrong method, type or Host, cross-origin, path traversal
attempts and bad query values, and checks each gets its documented status
(or, for truncated ones, a closed connection); B checks the token rules.
Every response the server builds must carry nosniff (JSON also no-store);
the few libmicrohttpd answers itself (400, 414, 431, 505) are only checked
for their status. Then 200 half-open connections are held while a normal
client must still get /api/status within a second. At the end the server
must still answer, the run must still advance, and SIGTERM must stop it
with exit status 0 (under AddressSanitizer: no leak report). One line per
check, then "N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "s3cr3t-T0ken_for.the~tests+0123456789"
from testlib import check, main as testlib_main  # noqa: E402
from ports import free_port  # noqa: E402
# set by run(): the sanitizer builds are several times slower
SLOW = 1.0


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return "<%s %r>" % (self.status, self.body[:120])


def raw(addr, data, timeout=10, shut=False):
    """Send bytes, read until the server closes; a Resp, or None when the
    server closed without answering."""
    s = socket.create_connection(addr, timeout=timeout * SLOW)
    got = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass                    # answered and closed before reading it all
        if shut:
            s.shutdown(socket.SHUT_WR)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    if not got:
        return None
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        return Resp(-1, {}, got)
    hd = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hd[k.strip().lower()] = v.strip()
    if hd.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return Resp(int(parts[1]), hd, body)


def request(addr, method, path, body=None, headers=None, host=None, version="HTTP/1.1"):
    """A well-formed request with Connection: close; body str/bytes/dict."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": host if host is not None else "127.0.0.1:%d" % addr[1], "Connection": "close"}
    h.update(headers or {})
    if body is not None and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None)
    return raw(addr, head.encode("latin1") + b"\r\n" + (body or b""))


JSON = {"Content-Type": "application/json"}
header_problems = []


def headers_ok(r, mhd_own=False):
    """Our responses: nosniff always; JSON with no-store. libmicrohttpd's own
    error pages (mhd_own) carry neither and are only status-checked."""
    if r is None or mhd_own:
        return True
    ok = r.headers.get("x-content-type-options") == "nosniff"
    if r.headers.get("content-type", "").startswith("application/json"):
        ok = ok and r.headers.get("cache-control") == "no-store"
    ok = ok and "access-control-allow-origin" not in r.headers
    if not ok:
        header_problems.append((r.status, r.headers))
    return ok


def expect(name, r, statuses, mhd_own=False):
    if isinstance(statuses, int):
        statuses = (statuses,)
    got = None if r is None else r.status
    check(name + " -> " + "/".join(str(s) for s in statuses),
          got in statuses and headers_ok(r, mhd_own), r)


def get_json(addr, path):
    r = request(addr, "GET", path)
    return json.loads(r.body) if r and r.status == 200 else None


def wait_ready(addr, proc, timeout=60):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if get_json(addr, "/api/status"):
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def wait_iteration_above(addr, it, timeout=30):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        s = get_json(addr, "/api/status")
        if s and s["iteration"] > it:
            return s["iteration"]
        time.sleep(0.2)
    return None


# ---- the battery ---------------------------------------------------------------

def truncated(a):
    for name, data in [("request line cut", b"GET /api/sta"),
                       ("headers cut", b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
                       ("body cut", b"POST /api/step HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"n\": 1"),
                       ("chunk cut", b"POST /api/step HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"ff\r\n{\"n\""),
                       ("nothing sent", b"")]:
        r = raw(a, data, shut=True)
        check("truncated (%s): closed, or 400" % name, r is None or r.status == 400, r)


def malformed_http(a):
    for name, data, want in [
            ("garbage line", b"GARBAGE\r\n\r\n", 400),
            ("HTTP/9.9", b"GET /api/status HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 505),
            ("HTTP/1.1 without Host", b"GET /api/status HTTP/1.1\r\nConnection: close\r\n\r\n", 403),
            ("header without colon", b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nBogus\r\n"
             b"Connection: close\r\n\r\n", 400),
            ("bad Content-Length", b"POST /api/pause HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n", 400),
            ("bad chunk size", b"POST /api/step HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400)]:
        r = raw(a, data, shut=False)
        check("malformed HTTP (%s) -> %d or closed" % (name, want), r is None or r.status == want, r)


def bad_json(a):
    for what, body in [("cut object", "{"), ("missing value", "{\"n\":}"), ("single quotes", "{'n': 1}"),
                       ("trailing comma", "{\"n\": 1,}"), ("NUL byte", "{\"n\": 1}\x00"),
                       ("invalid UTF-8 / not JSON", b"\xff\xfe{"), ("bare number", "5"),
                       ("two objects", "{} {}"), ("NaN", "{\"n\": NaN}"),
                       ("Infinity", "{\"n\": Infinity}")]:
        expect("POST /api/step body %s" % what, request(a, "POST", "/api/step", body, JSON), 400)
    expect("PATCH /api/config body not an object", request(a, "PATCH", "/api/config", "[1]", JSON), 400)


def wrong_types(a):
    for v in ["\"1\"", "true", "null", "[1]", "{}", "-1", "0.5"]:
        expect("step n=%s" % v, request(a, "POST", "/api/step", "{\"n\": %s}" % v, JSON), 400)
    for k, v in [("lr_d", "\"0.1\""), ("lr_d", "true"), ("lr_d", "null"), ("lr_d", "[0.1]"),
                 ("events_interval_ms", "100.5"), ("timeline_every", "{}"), ("token", "\"x\""),
                 ("allowed_hosts", "\"*\""), ("max_body", "99999")]:
        expect("PATCH %s=%s" % (k, v), request(a, "PATCH", "/api/config", "{\"%s\": %s}" % (k, v), JSON),
               400)


def huge_numbers(a):
    for v in ["1e400", "-1e400", "18446744073709551616", "18446744073709551615",
              "9" * 400, "1e-400000"]:
        expect("step n=%s" % v[:24], request(a, "POST", "/api/step", "{\"n\": %s}" % v, JSON), 400)
    for k, v in [("lr_d", "1e400"), ("events_interval_ms", "18446744073709551616"),
                 ("timeline_every", "1e300"), ("d_steps", "-9223372036854775809")]:
        expect("PATCH %s=%s" % (k, v), request(a, "PATCH", "/api/config", "{\"%s\": %s}" % (k, v), JSON),
               400)
    for q in ["limit=1e400", "since=18446744073709551616", "since=-9223372036854775809",
              "limit=99999999999999999999999", "since=9223372036854775808"]:
        expect("metrics ?%s" % q, request(a, "GET", "/api/metrics?" + q), 400)
    for q in ["seed=18446744073709551616", "n=1e400", "scale=4294967297"]:
        expect("samples ?%s" % q, request(a, "GET", "/api/samples.png?" + q), 400)


def deep_nesting(a):
    expect("100000 '[' (over the body cap)", request(a, "POST", "/api/step", "[" * 100000, JSON), 413)
    expect("16000 '[' (cJSON nesting limit)", request(a, "POST", "/api/step", "[" * 16000, JSON), 400)
    expect("5000 nested objects", request(a, "PATCH", "/api/config", "{\"a\":" * 3000, JSON), 400)
    ok_nest = "{\"x\": " + "[" * 900 + "]" * 900 + "}"
    expect("900-deep array in an unknown field", request(a, "PATCH", "/api/config", ok_nest, JSON), 400)


def oversized(a):
    expect("17 KiB body with Content-Length", request(a, "POST", "/api/step",
                                                      "{\"n\":1,\"p\":\"%s\"}" % ("x" * 17000), JSON), 413)
    expect("Content-Length 10^15, no body sent", raw(a, (
        "POST /api/step HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000000000\r\n\r\n" % a[1]).encode()), 413)
    big = "{\"n\":1,\"p\":\"%s\"}" % ("x" * 100000)
    chunks = "".join("%x\r\n%s\r\n" % (len(big[i:i + 4000]), big[i:i + 4000]) for i in range(0, len(big), 4000))
    expect("100 KiB chunked body", raw(a, (
        "POST /api/step HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%s0\r\n\r\n" % (a[1], chunks)).encode()), 413)
    expect("one 40 KiB header", request(a, "GET", "/api/status", headers={"X-Big": "a" * 40000}), 431,
           mhd_own=True)
    many = {"X-H%d" % i: "v" * 40 for i in range(1000)}
    expect("1000 headers", request(a, "GET", "/api/status", headers=many), 431, mhd_own=True)
    expect("40 KiB URI", request(a, "GET", "/api/metrics?limit=1&x=" + "a" * 40000), 414, mhd_own=True)
    expect("40 KiB path", request(a, "GET", "/" + "a" * 40000), 414, mhd_own=True)


def wrong_methods(a):
    for m, path in [("DELETE", "/api/config"), ("PUT", "/api/pause"), ("OPTIONS", "/"),
                    ("TRACE", "/api/status"), ("FOO", "/api/status"), ("GET", "/api/step"),
                    ("POST", "/app.js"), ("PATCH", "/api/status")]:
        r = request(a, m, path, "{}" if m in ("PUT", "POST", "PATCH") else None,
                    JSON if m in ("PUT", "POST", "PATCH") else None)
        expect("%s %s" % (m, path), r, 405)
        check("%s %s names Allow" % (m, path), r is not None and r.headers.get("allow"), r)
    expect("DELETE /nope", request(a, "DELETE", "/nope"), 404)


def traversal(a):
    for path in ["/../Makefile", "/%2e%2e/Makefile", "/%2E%2E%2FMakefile", "/api/../../Makefile",
                 "/..%5cMakefile", "/..\\Makefile", "/\\..\\Makefile", "//etc/passwd",
                 "/app.js%00.html", "/%00", "/app.js%00", "/index.html", "/web/index.html",
                 "/./app.js", "/app.js/.", "/api/timeline/..%2f..%2fMakefile",
                 "/api/timeline/%2e%2e/5.png", "/api/timeline/5.png%00", "/api//status",
                 "/%61pp.js", "/api/status%20", "/server/http.c", "/.git/config", "*"]:
        expect("traversal %s" % path, request(a, "GET", path), (404, 400))
    expect("absolute-form target", request(a, "GET", "http://evil.com/api/status"), (404, 400, 403))


def bad_queries(a):
    for path in ["/api/metrics?limit=-1", "/api/metrics?limit=%2B5", "/api/metrics?limit=5%20",
                 "/api/metrics?limit=+5", "/api/metrics?since=--1", "/api/metrics?limit=0x10",
                 "/api/metrics?limit=1e1", "/api/metrics?limit=", "/api/metrics?limit",
                 "/api/metrics?limit=5%00", "/api/metrics?limit%00=5", "/api/metrics?limit=1&limit=2",
                 "/api/metrics?" + "&".join("p%d=1" % i for i in range(40)),
                 "/api/samples.png?n=%FF", "/api/samples.png?scale=1%", "/api/samples.png?seed=0x1",
                 "/api/events?since=-2", "/api/events?since=x", "/api/events?x=1",
                 "/api/metrics?=5"]:
        expect("query %s" % path[:60], request(a, "GET", path), 400)
    expect("query limit=5 still fine", request(a, "GET", "/api/metrics?limit=5&since=-1"), 200)


def bad_host(a):
    port = a[1]
    for host in ["evil.com", "evil.com:%d" % port, "127.0.0.1:%d" % (port + 1), "localhost.evil.com",
                 "127.0.0.1.nip.io", "[::2]:%d" % port, "", "127.0.0.1:", "127.0.0.1:+%d" % port,
                 "127.0.0.1:%d:1" % port, "[::1", "::1", "localhost:0%d" % port, "127.0.0.1 :%d" % port]:
        expect("Host %r" % host, request(a, "GET", "/api/status", host=host), (403, 400))
    for host in ["localhost", "LOCALHOST:%d" % port, "127.0.0.1", "[::1]:%d" % port, "[::1]"]:
        expect("Host %r allowed" % host, request(a, "GET", "/api/status", host=host), 200)
    expect("HTTP/1.0 without Host", raw(a, b"GET /api/status HTTP/1.0\r\n\r\n"), 403)
    expect("bad Host on POST", request(a, "POST", "/api/pause", "{}", JSON, host="evil.com"), 403)
    expect("bad Host on static /", request(a, "GET", "/", host="evil.com"), 403)


def cross_origin(a):
    port = a[1]
    for origin in ["http://evil.com", "null", "http://127.0.0.1:%d" % (port + 1), "https://127.0.0.1:%d" % port,
                   "http://localhost", "http://evil.com:%d" % port, "file://", "http://127.0.0.1:%d/x" % port,
                   "HTTP://127.0.0.1:%d.evil.com" % port]:
        expect("POST Origin %s" % origin, request(a, "POST", "/api/resume", "{}",
                                                  dict(JSON, Origin=origin)), 403)
        expect("PATCH Origin %s" % origin, request(a, "PATCH", "/api/config", "{\"lr_d\": 0.0005}",
                                                   dict(JSON, Origin=origin)), 403)
    for origin in ["http://127.0.0.1:%d" % port, "http://localhost:%d" % port, "http://[::1]:%d" % port]:
        expect("POST own Origin %s" % origin, request(a, "POST", "/api/resume", "{}",
                                                      dict(JSON, Origin=origin)), 200)
    r = request(a, "GET", "/api/status", headers={"Origin": "http://evil.com"})
    expect("GET with a foreign Origin is served (no CORS header)", r, 200)
    expect("form-encoded POST (what a <form> can send)", request(
        a, "POST", "/api/pause", "n=1", {"Content-Type": "application/x-www-form-urlencoded"}), 415)
    expect("text/plain POST (a no-preflight fetch)", request(
        a, "POST", "/api/pause", "{}", {"Content-Type": "text/plain"}), 415)


def token_rules(b):
    expect("token: POST without Authorization", request(b, "POST", "/api/pause", "{}", JSON), 401)
    r = request(b, "POST", "/api/pause", "{}", JSON)
    check("token: 401 carries WWW-Authenticate Bearer",
          r is not None and r.headers.get("www-authenticate", "").startswith("Bearer"), r)
    for auth in ["Bearer wrong", "Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x", "Basic " + TOKEN,
                 TOKEN, "Bearer", "Bearer " + TOKEN.upper(), "Bearer  " + TOKEN[1:]]:
        expect("token: POST with Authorization %r" % auth[:30],
               request(b, "POST", "/api/pause", "{}", dict(JSON, Authorization=auth)), 401)
    expect("token: PATCH without", request(b, "PATCH", "/api/config", "{\"lr_d\": 0.0005}", JSON), 401)
    expect("token: DELETE without", request(b, "DELETE", "/api/config"), 401)
    expect("token in the query does not count",
           request(b, "POST", "/api/pause?token=" + TOKEN, "{}", JSON), 401)
    expect("token: POST with it", request(b, "POST", "/api/pause", "{}",
                                          dict(JSON, Authorization="Bearer " + TOKEN)), 200)
    expect("token: bearer scheme case-insensitive", request(
        b, "POST", "/api/resume", "{}", dict(JSON, Authorization="bearer " + TOKEN)), 200)
    expect("token: GET needs none", request(b, "GET", "/api/status"), 200)
    st = get_json(b, "/api/status")
    check("token never shown in /api/status", st is not None and TOKEN not in json.dumps(st) and
          "token" not in st["config"]["server"], st and st["config"]["server"])
    expect("token: cross Origin with the token", request(
        b, "POST", "/api/resume", "{}", dict(JSON, Authorization="Bearer " + TOKEN,
                                             Origin="http://evil.com")), 403)


def slow_clients(a):
    n = 200
    idle = []
    opened = 0
    try:
        for i in range(n):
            s = socket.create_connection(a, timeout=5)
            s.sendall(b"GET /api/sta" if i % 2 else b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            idle.append(s)
            opened += 1
        time.sleep(0.5)
        times = []
        for _ in range(5):
            t0 = time.time()
            r = request(a, "GET", "/api/status")
            times.append(time.time() - t0 if r and r.status == 200 else 99)
            time.sleep(0.1)
        limit = 1.0                     # the requirement, sanitizers or not
        check("%d half-open connections: /api/status within %.0f s (worst %.3f s)" % (opened, limit, max(times)),
              opened == n and max(times) < limit, times)
        r = request(a, "GET", "/api/samples.png?n=4")
        expect("samples still served with %d idle connections" % n, r, 200)
    finally:
        for s in idle:
            s.close()


def start(binary, data_dir, extra, bind="127.0.0.1"):
    port = free_port()
    cfg = os.path.join(HERE, "config-test.json")
    cmd = [binary, "serve", "--port", str(port), "--bind", bind, "--data", data_dir, "--seed", "1",
           "--config", cfg] + extra
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                            "ganlive-test-security-%d.log" % port), "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, (bind, port)


def stop(proc, log, name):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(30 * SLOW)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    log.seek(0)
    text = log.read()
    bad = [l for l in text.splitlines() if "Sanitizer" in l or "runtime error" in l]
    check("%s: SIGTERM exits 0, no sanitizer report" % name, rc == 0 and not bad,
          "rc %s %s" % (rc, bad[:3] or text[-400:]))


def run(binary, data_dir):
    global SLOW
    if "-address" in binary or "-thread" in binary or "-undefined" in binary:
        SLOW = 3.0
    procs = []
    try:
        pa, la, a = start(binary, data_dir, [])
        procs.append((pa, la))
        try:
            socket.socket().bind(("127.0.0.2", 0))
            bhost = "127.0.0.2"
        except OSError:
            bhost = "127.0.0.1"
        pb, lb, b = start(binary, data_dir, ["--token", TOKEN], bhost)
        procs.append((pb, lb))
        if not check("server A answers", wait_ready(a, pa)) or \
                not check("server B (token, %s) answers" % bhost, wait_ready(b, pb)):
            for p, l in procs:
                l.seek(0)
                print(l.read()[-2000:])
            return
        it0 = get_json(a, "/api/status")["iteration"]
        for part in [truncated, malformed_http, bad_json, wrong_types, huge_numbers, deep_nesting,
                     oversized, wrong_methods, traversal, bad_queries, bad_host, cross_origin]:
            part(a)
            if pa.poll() is not None:
                check("server A alive after %s" % part.__name__, False, "exit %s" % pa.returncode)
                return
        token_rules(b)
        check("every response we built had nosniff (+ no-store on JSON), no CORS header",
              not header_problems, header_problems[:3])
        # the battery paused/resumed; make sure the run goes on
        request(a, "POST", "/api/resume", "{}", JSON)
        st = get_json(a, "/api/status")
        check("server A still answers after the battery", st is not None and st["state"] == "running", st)
        check("the run goes on (iteration advances)", st is not None and
              wait_iteration_above(a, max(it0, st["iteration"])) is not None)
        slow_clients(a)
        check("the run goes on after the slow clients",
              wait_iteration_above(a, get_json(a, "/api/status")["iteration"]) is not None)
        stop(pa, la, "server A")
        stop(pb, lb, "server B")
        procs = []
    except Exception as e:  # report, then clean up below
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        for p, l in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            l.close()


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_security.py"))
