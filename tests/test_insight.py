#!/usr/bin/env python3
"""test_insight.py - HTTP checks of the insight endpoints against the real binary.

    python3 tests/test_insight.py ./ganlive data/mnist

Starts `<binary> serve` on a free port with tests/config-test.json, lets it
train a little, pauses it (so the history and the generator hold still) and
checks GET /api/metrics.csv (header, rows = /api/metrics points, values),
GET /metrics (Prometheus text format 0.0.4: every sample parses and has its
HELP and TYPE, the figures match /api/status), GET /api/real.png (grid size,
same seed = same bytes) and GET /api/interpolate.png (strip size, the end
images are the pixels of samples.png?n=1&seed=S, decoded with zlib), and the
400s of each. One line per check, then "N passed, N failed"; exit status 1
on any failure. The server is always killed at the end. Python 3 stdlib only.
"""
import math
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_http as th  # noqa: E402  (Client, png_info, grid_size, wait_ready ...)

from testlib import check, main as testlib_main, sanitizer_reports  # noqa: E402


def png_pixels(data):
    """Decode an 8-bit PNG, grey or RGB (stb's output: filters 0-4, no
    interlace): (width, height, rows as bytes, channels interleaved)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
    pos, idat, w, h, bpp = 8, b"", None, None, 1
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk[:13])
            assert depth == 8 and ctype in (0, 2) and interlace == 0, "not plain 8-bit grey or RGB"
            bpp = 1 if ctype == 0 else 3
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    raw = zlib.decompress(idat)
    width = w * bpp
    rows, prev, stride = [], bytearray(width), width + 1
    for y in range(h):
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for x in range(width):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
            else:
                assert f == 0, "bad filter %d" % f
        rows.append(bytes(line))
        prev = line
    return w, h, rows


def tile(rows, i, size=28, gutter=2):
    """The i-th image of a one-row strip (scale 1), as bytes."""
    x0 = i * (size + gutter)
    return b"".join(r[x0:x0 + size] for r in rows[:size])


def bad_params(c, path, cases, label):
    for q, name in cases:
        st, _, js = c.json("GET", path + "?" + q)
        check("%s 400 for %s" % (label, q), st == 400 and js and name in js.get("error", ""),
              (st, js))


# ---- the checks ---------------------------------------------------------------

def test_csv(c):
    st, hd, data = c.req("GET", "/api/metrics.csv")
    check("csv 200", st == 200, st)
    check("csv content type", hd.get("content-type") == "text/csv; charset=utf-8", hd)
    check("csv attachment", hd.get("content-disposition", "").startswith("attachment;")
          and ".csv" in hd.get("content-disposition", ""), hd)
    check("csv nosniff, no-store", hd.get("x-content-type-options") == "nosniff" and
          hd.get("cache-control") == "no-store", hd)
    lines = data.decode("utf-8").split("\n")
    check("csv ends with a newline", lines[-1] == "", lines[-1:])
    lines = lines[:-1]
    header = lines[0].split(",")
    _, _, js = c.json("GET", "/api/metrics?since=-1&limit=10000")
    pts = js["points"]
    keys = list(pts[0].keys()) if pts else []
    check("csv header = /api/metrics point fields", header == keys, (header, keys))
    rows = [l.split(",") for l in lines[1:]]
    check("csv rows = /api/metrics points", len(rows) == len(pts) and len(pts) > 0,
          (len(rows), len(pts)))
    check("csv every row has every field", all(len(r) == len(header) for r in rows))

    def same(cell, v):
        if v is None:
            return cell == ""
        return cell != "" and float(cell) == float(v)
    bad = [(i, k) for i, (r, p) in enumerate(zip(rows, pts))
           for k, cell in zip(header, r) if not same(cell, p[k])]
    check("csv values = /api/metrics values", not bad, bad[:3])
    st, _, js = c.json("GET", "/api/metrics.csv?since=0")
    check("csv 400 for a query parameter", st == 400 and "since" in js.get("error", ""), (st, js))
    st, hd, _ = c.req("POST", "/api/metrics.csv", b"{}", {"Content-Type": "application/json"})
    check("csv POST 405", st == 405 and "GET" in hd.get("allow", ""), (st, hd.get("allow")))


SAMPLE = re.compile(r'^(ganlive_[a-zA-Z0-9_]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"\})? (\S+)$')


def test_prometheus(c, state):
    st, hd, data = c.req("GET", "/metrics")
    check("metrics 200", st == 200, st)
    check("metrics content type", hd.get("content-type") ==
          "text/plain; version=0.0.4; charset=utf-8", hd.get("content-type"))
    text = data.decode("utf-8")
    check("metrics ends with a newline", text.endswith("\n"))
    helped, typed, samples, bad = set(), {}, {}, []
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3]:
                bad.append(line)
            helped.add(parts[2])
        elif line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("gauge", "counter"):
                bad.append(line)
            typed[parts[2]] = parts[3]
        else:
            m = SAMPLE.match(line)
            if not m:
                bad.append(line)
                continue
            name, labels, value = m.groups()
            try:
                v = float(value)
            except ValueError:
                bad.append(line)
                continue
            if not math.isfinite(v):
                bad.append(line)
            if name not in helped or name not in typed:
                bad.append("no HELP/TYPE before: " + line)
            samples[name + (labels or "")] = v
    check("metrics lines parse, finite, HELP and TYPE first", not bad, bad[:3])
    check("metrics no NaN", "nan" not in text.lower())
    want = ["iteration", "d_loss", "g_loss", "d_acc", "d_acc_real", "d_acc_fake", "d_real",
            "d_fake", "images_per_sec", "epoch", "uptime_seconds"]
    missing = [w for w in want if "ganlive_" + w not in samples]
    check("metrics has every figure", not missing, missing)
    states = {k: v for k, v in samples.items() if k.startswith("ganlive_state{")}
    check("metrics state is a labelled gauge (%s)" % state, typed.get("ganlive_state") == "gauge"
          and states.get('ganlive_state{state="%s"}' % state) == 1 and sum(states.values()) == 1
          and len(states) == 3, states)
    if state != "paused":                 # the figures below only hold still when paused
        return
    s = th.status(c)
    check("metrics iteration = status (paused)", samples.get("ganlive_iteration") == s["iteration"],
          (samples.get("ganlive_iteration"), s["iteration"]))
    _, _, js = c.json("GET", "/api/metrics?since=%d" % (s["iteration"] - 1))
    last = js["points"][-1] if js["points"] else {}
    check("metrics d_loss = latest point", last and samples.get("ganlive_d_loss") == last["d_loss"],
          (samples.get("ganlive_d_loss"), last))
    st, _, js = c.json("GET", "/metrics?format=json")
    check("metrics 400 for a query parameter", st == 400 and "format" in js.get("error", ""), (st, js))


def test_real(c):
    st, hd, data = c.req("GET", "/api/real.png")
    check("real 200 png", st == 200 and hd.get("content-type") == "image/png", (st, hd))
    check("real default 64 in an 8x8 grid", th.png_info(data) == th.grid_size(64, 1),
          th.png_info(data))
    for n, scale in [(1, 1), (10, 2), (256, 1), (7, 8)]:
        st, _, data = c.req("GET", "/api/real.png?n=%d&scale=%d&seed=5" % (n, scale))
        check("real n=%d scale=%d size" % (n, scale),
              st == 200 and th.png_info(data) == th.grid_size(n, scale), th.png_info(data))
    a = c.req("GET", "/api/real.png?n=16&seed=42")[2]
    b = c.req("GET", "/api/real.png?n=16&seed=42")[2]
    d = c.req("GET", "/api/real.png?n=16&seed=43")[2]
    check("real same seed same bytes", a == b)
    check("real other seed other digits", a != d)
    w, h, rows = png_pixels(a)
    first = b"".join(r[:28] for r in rows[:28])
    check("real digits look like MNIST (dark background, some ink)",
          first.count(0) > 400 and max(first) > 200, (first.count(0), max(first)))
    st, _, data = c.req("GET", "/api/real.png?n=1&seed=42")
    check("real n=1 is the first digit of the same seed", png_pixels(data)[2] ==
          [r[:28] for r in rows[:28]])
    bad_params(c, "/api/real.png",
               [("n=0", "n"), ("n=257", "n"), ("n=x", "n"), ("scale=0", "scale"),
                ("scale=9", "scale"), ("seed=-1", "seed"), ("seed=abc", "seed"),
                ("seed=18446744073709551616", "seed"), ("bogus=1", "bogus"),
                ("n=1&n=2", "n")], "real")


def test_interpolate(c):
    s1, s2 = 123, 98765
    st, hd, data = c.req("GET", "/api/interpolate.png?from=%d&to=%d" % (s1, s2))
    check("interpolate 200 png", st == 200 and hd.get("content-type") == "image/png", (st, hd))
    check("interpolate default 10 steps", th.png_info(data) == (10 * 28 + 9 * 2, 28),
          th.png_info(data))
    for k in (2, 5, 32):
        st, _, data = c.req("GET", "/api/interpolate.png?from=%d&to=%d&steps=%d" % (s1, s2, k))
        check("interpolate steps=%d is %d x 28" % (k, k * 28 + (k - 1) * 2),
              st == 200 and th.png_info(data) == (k * 28 + (k - 1) * 2, 28), th.png_info(data))
    st, _, data = c.req("GET", "/api/interpolate.png?from=1&to=2&steps=4&scale=2")
    check("interpolate scale=2", st == 200 and th.png_info(data) == (4 * 56 + 3 * 2, 56),
          th.png_info(data))
    k = 6
    strip = c.req("GET", "/api/interpolate.png?from=%d&to=%d&steps=%d" % (s1, s2, k))[2]
    check("interpolate deterministic", strip ==
          c.req("GET", "/api/interpolate.png?from=%d&to=%d&steps=%d" % (s1, s2, k))[2])
    _, _, rows = png_pixels(strip)
    one = [png_pixels(c.req("GET", "/api/samples.png?n=1&seed=%d" % s)[2])[2] for s in (s1, s2)]
    check("interpolate first image = samples.png?n=1&seed=from",
          tile(rows, 0) == b"".join(one[0]))
    check("interpolate last image = samples.png?n=1&seed=to",
          tile(rows, k - 1) == b"".join(one[1]))
    mids = [tile(rows, i) for i in range(1, k - 1)]
    check("interpolate middle images differ from the ends",
          all(m != tile(rows, 0) and m != tile(rows, k - 1) for m in mids))
    same = c.req("GET", "/api/interpolate.png?from=7&to=7&steps=3")[2]
    _, _, r3 = png_pixels(same)
    check("interpolate from = to gives one image repeated", tile(r3, 0) == tile(r3, 1) == tile(r3, 2))
    bad_params(c, "/api/interpolate.png",
               [("to=1", "from"), ("from=1", "to"), ("from=x&to=1", "from"),
                ("from=1&to=-2", "to"), ("from=1&to=2&steps=1", "steps"),
                ("from=1&to=2&steps=33", "steps"), ("from=1&to=2&steps=", "steps"),
                ("from=1&to=2&scale=0", "scale"), ("from=1&to=2&scale=9", "scale"),
                ("from=1&to=2&seed=3", "seed"), ("from=1&from=2&to=3", "from")], "interpolate")


def run(binary, data_dir):
    port = th.free_port()
    cfg = os.path.join(HERE, "config-test.json")
    cmd = [binary, "serve", "--port", str(port), "--data", data_dir, "--seed", "1", "--config", cfg]
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                            "ganlive-test-insight-%d.log" % port), "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    c = th.Client(port)
    try:
        if not check("server answers /api/status", th.wait_ready(c, proc, 30)):
            log.seek(0)
            print(log.read())
            return
        check("trains past iteration 20", th.wait_iteration_above(c, 20, 30) is not None)
        test_prometheus(c, "running")
        st, _, js = c.post("/api/pause")
        check("pause", st == 200 and js["state"] == "paused", (st, js))
        test_csv(c)
        test_prometheus(c, "paused")
        test_real(c)
        test_interpolate(c)
        st, _, js = c.post("/api/resume")
        check("resume", st == 200 and js["state"] == "running", (st, js))
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        check("SIGTERM stops the server cleanly", rc == 0, rc)
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
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_insight.py"))
