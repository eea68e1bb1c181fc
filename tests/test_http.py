#!/usr/bin/env python3
"""test_http.py - integration test of the HTTP API against the real binary.

    python3 tests/test_http.py ./ganlive data/mnist

Starts `<binary> serve` on a free port with tests/config-test.json (small
model, batch 16, timeline every 5 iterations), waits for /api/status, then
checks every endpoint and error status of the API contract: status, metrics,
samples (PNG decoded to the grid size, same seed = same bytes), timeline,
pause/step/resume semantics, config PATCH validation and atomicity, SSE
delivery and dropped clients, static files and headers, 404/405/409/413/
415/400. One line per check, then "N passed, N failed"; exit status 1 on any
failure. The server is always killed at the end. Python 3 stdlib only.
"""
import http.client
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
from testlib import check, main as testlib_main, sanitizer_reports  # noqa: E402
from ports import free_port  # noqa: E402,F401  (the suites import it from here too)


def no_nan(token):
    raise ValueError("non-finite number in JSON: " + token)


def loads(body):
    return json.loads(body, parse_constant=no_nan)


class Client:
    def __init__(self, port):
        self.port = port

    def req(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers with lower-case names, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, timeout=30):
        """Like req, with the body parsed as JSON (None if it is not JSON)."""
        st, hd, data = self.req(method, path, body, headers, timeout)
        try:
            js = loads(data)
        except ValueError:
            js = None
        return st, hd, js

    def post(self, path, body=None, ctype="application/json", timeout=30):
        headers = {"Content-Type": ctype} if ctype else {}
        return self.json("POST", path, body, headers, timeout)

    def patch(self, path, body, ctype="application/json"):
        return self.json("PATCH", path, body, {"Content-Type": ctype})


def png_info(data):
    """Decode a greyscale PNG far enough to check it: (width, height) or an
    error string. Checks signature, IHDR, CRCs and the inflated IDAT size."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "bad signature"
    pos, idat, w, h = 8, b"", None, None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + chunk) & 0xffffffff != crc:
            return "bad CRC in " + kind.decode("latin1")
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            if depth != 8 or ctype != 0:
                return "not 8-bit grey"
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    if w is None:
        return "no IHDR"
    raw = zlib.decompress(idat)
    if len(raw) != h * (w + 1):
        return "IDAT inflates to %d bytes, want %d" % (len(raw), h * (w + 1))
    if any(raw[y * (w + 1)] > 4 for y in range(h)):
        return "bad filter byte"
    return (w, h)


def grid_size(n, scale):
    cols = math.ceil(math.sqrt(n))
    rows = (n + cols - 1) // cols
    return cols * 28 * scale + (cols - 1) * 2, rows * 28 * scale + (rows - 1) * 2


class SSE:
    """A raw-socket Server-Sent Events reader (handles chunked encoding)."""

    def __init__(self, port, path="/api/events", timeout=10, extra=""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                           "Accept: text/event-stream\r\n\r\n" % (path, extra)).encode())
        self.raw = b""
        self.text = b""
        self.ended = False
        while b"\r\n\r\n" not in self.raw:
            got = self.sock.recv(65536)
            if not got:
                raise IOError("closed before headers")
            self.raw += got
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._dechunk()

    def _dechunk(self):
        if not self.chunked:
            self.text += self.raw
            self.raw = b""
            return
        while True:
            i = self.raw.find(b"\r\n")
            if i < 0:
                return
            size = int(self.raw[:i].split(b";")[0], 16)
            if size == 0:
                self.ended = True
                return
            if len(self.raw) < i + 2 + size + 2:
                return
            self.text += self.raw[i + 2:i + 2 + size]
            self.raw = self.raw[i + 2 + size + 2:]

    def next(self, timeout):
        """Next block: dict with event, data (parsed), id, comment; or None."""
        deadline = time.time() + timeout
        while b"\n\n" not in self.text:
            left = deadline - time.time()
            if left <= 0 or self.ended:
                return None
            self.sock.settimeout(left)
            try:
                got = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not got:
                self.ended = True
                return None
            self.raw += got
            self._dechunk()
        block, self.text = self.text.split(b"\n\n", 1)
        ev = {"event": "message", "data": None, "id": None, "comment": None}
        data = []
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                ev["comment"] = line[1:].strip()
            elif line.startswith("event: "):
                ev["event"] = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line.startswith("id: "):
                ev["id"] = line[4:]
        if data:
            ev["data"] = loads("\n".join(data))
        return ev

    def wait_for(self, pred, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            ev = self.next(deadline - time.time())
            if ev is None:
                return None
            if pred(ev):
                return ev
        return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def wait_ready(c, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            st, _, js = c.json("GET", "/api/status", timeout=2)
            if st == 200 and js:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def status(c):
    return c.json("GET", "/api/status")[2]


def wait_iteration_above(c, it, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = status(c)
        if s["iteration"] > it:
            return s["iteration"]
        time.sleep(0.1)
    return None


# ---- the checks ---------------------------------------------------------------

def test_status(c):
    st, hd, js = c.json("GET", "/api/status")
    check("status 200 JSON", st == 200 and isinstance(js, dict), st)
    check("status headers", hd.get("content-type", "").startswith("application/json") and
          hd.get("cache-control") == "no-store" and hd.get("x-content-type-options") == "nosniff", hd)
    want = {"state": str, "iteration": int, "epoch": (int, float), "images_per_sec": (int, float),
            "uptime_s": (int, float), "dataset": str, "config": dict}
    bad = [k for k, t in want.items() if not isinstance(js.get(k), t)]
    check("status fields and types", not bad, bad)
    check("status state running", js["state"] == "running", js["state"])
    check("status config is nested", isinstance(js["config"].get("train"), dict), js["config"])
    it2 = wait_iteration_above(c, js["iteration"], 20)
    check("iteration advances while running", it2 is not None)


def test_metrics(c):
    wait_iteration_above(c, 10, 20)
    st, hd, js = c.json("GET", "/api/metrics?since=-1&limit=5")
    check("metrics 200", st == 200 and js is not None, st)
    pts = js["points"]
    keys = ["iteration", "count", "time_s", "d_loss", "g_loss", "d_acc", "d_acc_real",
            "d_acc_fake", "d_real", "d_fake"]
    check("metrics limit respected", 1 <= len(pts) <= 5, len(pts))
    check("metrics point keys", all(all(k in p for k in keys) for p in pts), pts[:1])
    check("metrics oldest first", all(a["iteration"] < b["iteration"] for a, b in zip(pts, pts[1:])))
    check("metrics current iteration", js["iteration"] >= pts[-1]["iteration"])
    since = pts[0]["iteration"]
    st, _, js = c.json("GET", "/api/metrics?since=%d" % since)
    check("metrics since filters", st == 200 and all(p["iteration"] > since for p in js["points"])
          and len(js["points"]) == js["iteration"] - since, js and js["points"][:1])
    st, _, js = c.json("GET", "/api/metrics")
    check("metrics defaults", st == 200 and len(js["points"]) <= 1000)
    for q, name in [("since=abc", "since"), ("since=1.5", "since"), ("limit=0", "limit"),
                    ("limit=10001", "limit"), ("limit=", "limit"), ("limit=5x", "limit"),
                    ("bogus=1", "bogus"), ("since=1&since=2", "since")]:
        st, _, js = c.json("GET", "/api/metrics?" + q)
        check("metrics 400 for %s" % q, st == 400 and js and name in js.get("error", ""),
              (st, js))


def test_samples(c):
    st, hd, data = c.req("GET", "/api/samples.png?n=10&scale=2")
    check("samples 200 image/png, revalidated by ETag", st == 200 and hd.get("content-type") == "image/png" and
          hd.get("cache-control") == "no-cache" and hd.get("etag", "").startswith('"'), (st, hd))
    check("samples n=10 scale=2 grid size", png_info(data) == grid_size(10, 2), png_info(data))
    st, _, data = c.req("GET", "/api/samples.png")
    check("samples default 64 grid", st == 200 and png_info(data) == grid_size(64, 1), png_info(data))
    st, _, data = c.req("GET", "/api/samples.png?n=1&scale=8")
    check("samples n=1 scale=8", st == 200 and png_info(data) == (224, 224), png_info(data))
    st, _, data = c.req("GET", "/api/samples.png?n=256&seed=18446744073709551615")
    check("samples n=256 max seed", st == 200 and png_info(data) == grid_size(256, 1), st)
    for q, name in [("n=0", "n"), ("n=257", "n"), ("scale=0", "scale"), ("scale=9", "scale"),
                    ("seed=-1", "seed"), ("seed=abc", "seed"), ("seed=18446744073709551616", "seed"),
                    ("x=1", "x"), ("n=%2010", "n")]:
        st, hd, data = c.req("GET", "/api/samples.png?" + q)
        ok = st == 400 and hd.get("content-type", "").startswith("application/json")
        check("samples 400 for %s" % q, ok and name in loads(data).get("error", ""), (st, data[:80]))
    st, hd, data = c.req("GET", "/api/samples/fixed.png")
    check("fixed.png 64-digit grid", st == 200 and hd.get("content-type") == "image/png" and
          png_info(data) == grid_size(64, 1), png_info(data) if st == 200 else st)


def test_timeline(c):
    # Paused, so no snapshot is thinned away between listing and fetching
    # (a slow sanitizer build can cross a thinning in between otherwise).
    c.post("/api/pause")
    st, hd, js = c.json("GET", "/api/timeline")
    check("timeline 200", st == 200 and isinstance(js.get("snapshots"), list), st)
    snaps = js["snapshots"]
    check("timeline lists snapshots", len(snaps) >= 2, len(snaps))
    check("timeline ascending", all(a["iteration"] < b["iteration"] for a, b in zip(snaps, snaps[1:])))
    bad = []
    for s in snaps:
        if not s["url"].startswith("/api/timeline/%d.png?v=" % s["iteration"]):
            bad.append(s)
            continue
        st, hd, data = c.req("GET", s["url"])
        if st != 200 or hd.get("content-type") != "image/png" or png_info(data) != grid_size(64, 1):
            bad.append((s, st))
    check("every timeline URL serves a 64-grid PNG", not bad, bad[:3])
    c.post("/api/resume")
    kept = {s["iteration"] for s in snaps}
    missing = next(i for i in range(1, 10 ** 6) if i not in kept)
    for path in ["/api/timeline/%d.png" % missing, "/api/timeline/abc.png", "/api/timeline/-5.png",
                 "/api/timeline/05.png", "/api/timeline/5", "/api/timeline/5.png.png",
                 "/api/timeline/99999999999999999999999.png", "/api/timeline/"]:
        st, hd, js = c.json("GET", path)
        check("timeline 404 for %s" % path, st == 404 and js and "error" in js, st)


def test_pause_step(c):
    st, _, js = c.post("/api/pause")
    check("pause 200 paused", st == 200 and js.get("state") == "paused" and
          isinstance(js.get("iteration"), int), (st, js))
    it = js["iteration"]
    time.sleep(1.0)
    s = status(c)
    check("iteration does not move while paused (1 s)", s["state"] == "paused" and
          s["iteration"] == it, (it, s["iteration"]))
    st, _, js = c.post("/api/pause", "")
    check("pause is idempotent", st == 200 and js["iteration"] == it, js)
    _, _, m = c.json("GET", "/api/metrics?since=%d" % (it - 1))
    check("metrics current = paused iteration", m["iteration"] == it and
          [p["iteration"] for p in m["points"]] == [it], m)

    st, _, js = c.post("/api/step", {"n": 7})
    check("step 7 answers paused at +7", st == 200 and js == {"state": "paused", "iteration": it + 7},
          (st, js))
    time.sleep(0.3)
    s = status(c)
    check("step moved exactly 7", s["iteration"] == it + 7 and s["state"] == "paused", s["iteration"])
    st, _, js = c.post("/api/step", {"n": 1}, ctype="application/json; charset=utf-8")
    check("step with charset=utf-8", st == 200 and js["iteration"] == it + 8, (st, js))

    # same seed, same weights: the same bytes; another seed: others
    _, _, a = c.req("GET", "/api/samples.png?n=16&seed=42")
    _, _, b = c.req("GET", "/api/samples.png?n=16&seed=42")
    _, _, d = c.req("GET", "/api/samples.png?n=16&seed=43")
    _, _, e = c.req("GET", "/api/samples.png?n=100&seed=42")
    check("same seed gives the same bytes", a == b and len(a) > 100)
    check("another seed gives other bytes", a != d)
    check("n=100 (two sampler chunks) same seed", e == c.req("GET", "/api/samples.png?n=100&seed=42")[2])
    _, _, f1 = c.req("GET", "/api/samples.png?n=16")
    _, _, f2 = c.req("GET", "/api/samples.png?n=16")
    check("no seed gives fresh noise", f1 != f2)

    for body, what in [({"n": 0}, "n=0"), ({"n": 1001}, "n=1001"), ({"n": 1.5}, "n=1.5"),
                       ({"n": "3"}, "n string"), ({}, "no n"), (None, "empty body"),
                       ([1], "array body"), ("{bad json", "invalid JSON"),
                       ({"n": 1, "x": 2}, "unknown field")]:
        st, hd, js = c.post("/api/step", body)
        check("step 400 for %s" % what, st == 400 and js and "error" in js, (st, js))
    st, _, js = c.post("/api/step", "{\"n\": 1} trailing")
    check("step 400 for trailing garbage", st == 400, st)
    check("bad steps moved nothing", status(c)["iteration"] == it + 8)
    return it + 8


def test_config(c):
    st, hd, js = c.json("GET", "/api/config")
    check("config GET flat live settings", st == 200 and "lr_d" in js and "train" not in js, js)
    orig = js
    st, _, js = c.patch("/api/config", {"lr_d": 0.001})
    check("PATCH lr_d 200 new config", st == 200 and abs(js["lr_d"] - 0.001) < 1e-9, (st, js))
    _, _, js = c.json("GET", "/api/config")
    check("GET shows the patch", abs(js["lr_d"] - 0.001) < 1e-9)
    before = js
    for body, field in [({"lr_g": 0.003, "bogus": 1}, "bogus"), ({"lr_g": 0.003, "d_steps": 0}, "d_steps"),
                        ({"lr_g": 0.003, "nz": 8}, "nz"), ({"lr_g": "fast"}, "lr_g")]:
        st, _, js = c.patch("/api/config", body)
        check("PATCH 400 names %s" % field, st == 400 and field in js.get("error", ""), (st, js))
    _, _, js = c.json("GET", "/api/config")
    check("bad PATCH changed nothing (atomic)", js == before, (js, before))
    st, _, js = c.patch("/api/config", None)
    check("PATCH with empty body 400", st == 400, st)
    st, _, js = c.patch("/api/config", {"lr_d": orig["lr_d"]}, ctype="text/plain")
    check("PATCH text/plain 415", st == 415 and "error" in js, st)
    c.patch("/api/config", {"lr_d": orig["lr_d"]})


def test_errors(c):
    st, hd, js = c.json("GET", "/api/pause")
    check("GET /api/pause 405 Allow POST", st == 405 and hd.get("allow") == "POST" and "error" in js, (st, hd))
    st, hd, js = c.json("DELETE", "/api/config")
    allow = hd.get("allow", "")
    check("DELETE /api/config 405 Allow GET, PATCH", st == 405 and "GET" in allow and "PATCH" in allow, (st, allow))
    st, hd, js = c.post("/api/status")
    check("POST /api/status 405", st == 405 and "GET" in hd.get("allow", ""), st)
    st, hd, js = c.json("GET", "/api/nope")
    check("unknown /api path 404 JSON", st == 404 and js and "error" in js and
          hd.get("x-content-type-options") == "nosniff", st)
    st, _, js = c.json("GET", "/api/statusx")
    check("/api/statusx 404", st == 404, st)
    st, _, js = c.json("GET", "/nope.html")
    check("unknown path 404", st == 404, st)
    st, _, js = c.post("/api/pause", ctype=None)
    check("POST without Content-Type 415", st == 415 and "error" in js, st)
    st, _, js = c.post("/api/pause", "{}", ctype="text/plain")
    check("POST text/plain 415", st == 415, st)
    st, _, js = c.post("/api/pause", "{}", ctype="application/jsonx")
    check("POST application/jsonx 415", st == 415, st)
    st, _, js = c.post("/api/step", json.dumps({"n": 1, "pad": "x" * (17 * 1024)}))
    check("17 KiB body 413", st == 413 and "error" in js, st)
    st, _, js = c.post("/api/pause", "[]")
    check("pause with a non-object body 400", st == 400, st)


def test_static(c):
    st, hd, data = c.req("GET", "/")
    csp = hd.get("content-security-policy", "")
    check("GET / html with CSP", st == 200 and hd.get("content-type", "").startswith("text/html") and
          "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp, (st, hd))
    check("GET / nosniff", hd.get("x-content-type-options") == "nosniff")
    for path, ctype in [("/app.js", "javascript"), ("/style.css", "text/css"),
                        ("/i18n.js", "javascript"), ("/insight.js", "javascript"),
                        ("/settings.js", "javascript"),
                        ("/uPlot.iife.min.js", "javascript"), ("/uPlot.min.css", "text/css")]:
        st, hd, data = c.req("GET", path)
        check("GET %s" % path, st == 200 and ctype in hd.get("content-type", "") and len(data) > 0, st)
    st, hd, data = c.req("HEAD", "/")
    check("HEAD / 200 without body", st == 200 and data == b"", st)
    for path in ["/index.html", "/../Makefile", "/%2e%2e/Makefile", "/web/app.js", "/app.js/"]:
        st, _, _ = c.req("GET", path)
        check("no file served for %s" % path, st == 404, st)


def test_sse(c, port):
    ev = SSE(port)
    check("events 200 text/event-stream no-store", ev.status == 200 and
          ev.headers.get("content-type", "").startswith("text/event-stream") and
          ev.headers.get("cache-control") == "no-store", ev.headers)
    first = ev.next(5)
    check("first event is state", first and first["event"] == "state" and
          first["data"]["state"] == "running", first)
    m = ev.wait_for(lambda e: e["event"] == "metrics", 10)
    check("metrics event with points", m and len(m["data"]["points"]) > 0 and
          "iteration" in m["data"], m)
    t0 = time.time()
    c.post("/api/pause")
    # a state event sent just before the pause (a quality pass's news, say)
    # may come first: the pause's own must follow within the time
    s = ev.wait_for(lambda e: e["event"] == "state" and e["data"]["state"] == "paused", 5)
    check("state event after pause", s and s["data"]["state"] == "paused", s)
    check("state event promptly", time.time() - t0 < 3, time.time() - t0)
    c.patch("/api/config", {"events_interval_ms": 120})
    s = ev.wait_for(lambda e: e["event"] == "state" and
                    e["data"]["config"]["events_interval_ms"] == 120, 5)
    check("state event on config change carries config", s and
          s["data"].get("config", {}).get("events_interval_ms") == 120, s)
    it = status(c)["iteration"]
    c.post("/api/step", {"n": 3})
    got = []
    deadline = time.time() + 5
    while time.time() < deadline:
        e = ev.next(deadline - time.time())
        if e is None:
            break
        got.append(e)
        if e["event"] == "state" and e["data"]["iteration"] == it + 3:
            break
    pts = [p["iteration"] for e in got if e["event"] == "metrics" for p in e["data"]["points"]]
    check("step streams its points then a state event", got and got[-1]["event"] == "state" and
          pts == [it + 1, it + 2, it + 3], (pts, [e["event"] for e in got]))
    t0 = time.time()
    k = ev.wait_for(lambda e: e["comment"] == "keepalive", 17)
    check("keepalive comment after ~15 s of quiet", k is not None and 13 < time.time() - t0 < 17,
          "%.1f s" % (time.time() - t0))
    ev.close()

    ev = SSE(port, extra="Last-Event-ID: %d\r\n" % (it - 1))
    m = ev.wait_for(lambda e: e["event"] == "metrics", 5)
    check("events resume from Last-Event-ID", m and m["id"] == str(it + 3) and
          [p["iteration"] for p in m["data"]["points"]] == [it, it + 1, it + 2, it + 3], m)
    ev.close()

    ev = SSE(port, "/api/events?since=%d" % (it - 2))
    first = ev.next(5)
    m = ev.wait_for(lambda e: e["event"] == "metrics", 5)
    check("events ?since= replays from there", first and first["event"] == "state" and m and
          m["data"]["points"][0]["iteration"] == it - 1, m)
    ev.close()
    st, _, js = c.json("GET", "/api/events?since=x")
    check("events bad since 400", st == 400, st)
    c.post("/api/resume")

    # 20 clients that connect and drop, then 20 held at once
    for _ in range(20):
        e = SSE(port)
        e.next(2)
        e.close()
    held = [SSE(port) for _ in range(20)]
    firsts = [h.next(5) for h in held]
    check("20 SSE streams at once", all(f and f["event"] == "state" for f in firsts))
    st, _, js = c.json("GET", "/api/status")
    check("server answers with 20 streams open", st == 200, st)
    for h in held:
        h.close()
    time.sleep(0.5)
    ok = all(c.json("GET", "/api/status")[0] == 200 for _ in range(20))
    check("server fine after dropped streams", ok)


def run(binary, data_dir):
    port = free_port()
    cfg = os.path.join(HERE, "config-test.json")
    cmd = [binary, "serve", "--port", str(port), "--data", data_dir, "--seed", "1", "--config", cfg]
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ganlive-test-http-%d.log" % port), "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    c = Client(port)
    hold = None
    try:
        if not check("server answers /api/status", wait_ready(c, proc, 30)):
            log.seek(0)
            print(log.read())
            return
        test_status(c)
        test_metrics(c)
        test_samples(c)
        test_timeline(c)
        test_static(c)
        test_errors(c)
        test_pause_step(c)
        test_config(c)
        st, _, js = c.post("/api/step", {"n": 1}, ctype="application/json")
        st, _, js = c.post("/api/resume")
        check("resume 200 running", st == 200 and js.get("state") == "running", js)
        it = js["iteration"]
        check("iteration moves after resume", wait_iteration_above(c, it, 20) is not None)
        st, _, js = c.post("/api/step", {"n": 3})
        check("step while running 409", st == 409 and "error" in js, (st, js))
        st, _, js = c.post("/api/resume", {})
        check("resume is idempotent", st == 200 and js["state"] == "running", js)
        test_sse(c, port)
        # the server must stop cleanly on SIGTERM, even with a stream open
        hold = SSE(port)
        hold.next(2)
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        check("SIGTERM stops the server cleanly with a stream open", rc == 0,
              "rc %s after %.1f s" % (rc, time.time() - t0))
    except Exception as e:  # report, then clean up below
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        # whatever happened, the server's whole output is read for sanitizer reports
        log.flush()
        log.seek(0)
        reports = sanitizer_reports(log.read())
        check("no sanitizer report in the server's output", not reports, reports[:3])
        if hold:
            hold.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_http.py"))
