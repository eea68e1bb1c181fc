#!/usr/bin/env python3
"""test_classroom.py - render once, serve many, against real servers.

    python3 tests/test_classroom.py BINARY DATA_DIR

What it proves, each from the server's own counters (/api/status
"classroom") and answers:
  - the same snapshot and query give the same bytes and one render; a new
    snapshot gives new bytes; ETag and If-None-Match -> 304;
  - N identical requests at once -> one render (the rest coalesce or hit);
  - a full render queue answers 503 with Retry-After, an address asking more
    than its share 429 with Retry-After, while other addresses get through;
  - the shared live grid: "samples" events name a URL that is already
    rendered (fetching it renders nothing), and it moves with training;
  - a subscriber that stops reading does not delay another's events;
  - LAN bind: the machine's own addresses and host name pass the Host check,
    other names do not; loopback bind keeps refusing them; presenter and
    viewer roles; the invite QR code decodes (zbarimg) to the join URL;
  - /metrics carries the classroom counters;
  - while training does not run, a request of two sampler chunks or more is
    drawn on two cores (renders_split), with the very bytes `ganlive sample
    --checkpoint` writes; while it runs, on one. The second core's thread
    ("ganlive-draw") is one for the server's life, not one per request.
Source addresses 127.0.0.2.. stand for students' machines; nothing leaves
loopback.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import Server, check, main, wait_for  # noqa: E402
from test_http import SSE  # noqa: E402
from test_insight import png_pixels  # noqa: E402

TOKEN = "classroom-token-0123456789"


def req(port, path, headers=None, src="127.0.0.1", method="GET", body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(src, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def figures(port, headers=None):
    st, _, body = req(port, "/api/status", headers)
    return json.loads(body) if st == 200 else {}


def classroom(port):
    return figures(port).get("classroom", {})


def write_config(tmp, **server):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "config-test.json")) as f:
        cfg = json.load(f)
    cfg["server"].update(server)
    path = os.path.join(tmp, "config-%d.json" % len(os.listdir(tmp)))
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def pause(port, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    st, _, body = req(port, "/api/pause", h, method="POST", body="{}")
    return st == 200 and json.loads(body)["state"] == "paused"


def step(port, n=1, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    st, _, body = req(port, "/api/step", h, method="POST", body=json.dumps({"n": n}))
    return st == 200


def test_cache(port):
    check("paused for a fixed snapshot", pause(port))
    time.sleep(0.5)                       # the worker moves to the paused weights
    q = "/api/samples.png?n=16&seed=5&scale=2"
    c0 = classroom(port)
    st1, h1, b1 = req(port, q)
    st2, h2, b2 = req(port, q)
    c1 = classroom(port)
    check("same snapshot and query: same bytes", st1 == st2 == 200 and b1 == b2 and len(b1) > 100, (st1, st2))
    check("same snapshot and query: one render, one cache hit",
          c1["renders"] - c0["renders"] == 1 and c1["render_cache_hits"] - c0["render_cache_hits"] == 1,
          (c0, c1))
    etag = h1.get("etag", "")
    check("generated answers carry an ETag and no-cache", etag.startswith('"') and h1.get("cache-control") == "no-cache"
          and h1.get("etag") == h2.get("etag"), h1)
    st, h, b = req(port, q, {"If-None-Match": etag})
    check("If-None-Match with the ETag -> 304 without a body", st == 304 and b == b"" and h.get("etag") == etag, (st, h))
    c2 = classroom(port)
    check("a 304 renders nothing", c2["renders"] == c1["renders"] and c2["render_not_modified"] > c1["render_not_modified"],
          (c1, c2))
    st, _, b = req(port, "/api/samples.png?seed=5&scale=2&n=16")
    check("parameters in another order are the same query", st == 200 and b == b1)
    st, _, j = req(port, "/api/samples.json?n=4&seed=5")
    st2, _, j2 = req(port, "/api/samples.json?n=4&seed=5")
    check("samples.json is cached too", st == st2 == 200 and j == j2)

    check("a step moves the snapshot", step(port, 1))
    ok = wait_for(lambda: classroom(port).get("render_snapshot_iteration", -1) > c1["render_snapshot_iteration"], 10)
    check("the worker follows a step while paused", ok, classroom(port))
    st3, h3, b3 = req(port, q, {"If-None-Match": etag})
    check("a new snapshot: new bytes and a new ETag, 200 despite If-None-Match",
          st3 == 200 and b3 != b1 and h3.get("etag") != etag, (st3, h3.get("etag"), etag))

    # N identical requests at once: one render
    q = "/api/samples.png?n=256&seed=77&scale=3"
    c0 = classroom(port)
    results = []
    barrier = threading.Barrier(16)

    def one(i):
        barrier.wait()
        results.append(req(port, q, src="127.0.0.%d" % (2 + i)))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    c1 = classroom(port)
    bodies = set(r[2] for r in results)
    check("16 identical requests at once: all 200 with the same bytes",
          len(results) == 16 and all(r[0] == 200 for r in results) and len(bodies) == 1,
          [r[0] for r in results])
    shared = (c1["render_coalesced"] - c0["render_coalesced"]) + (c1["render_cache_hits"] - c0["render_cache_hits"])
    check("16 identical requests at once: one render, 15 coalesced or hits",
          c1["renders"] - c0["renders"] == 1 and shared == 15, (c0, c1))
    req(port, "/api/resume", {"Content-Type": "application/json"}, method="POST", body="{}")


def test_timeline(port):
    pause(port)                              # snapshots are thinned while training runs
    st, _, body = req(port, "/api/timeline")
    snaps = json.loads(body).get("snapshots", []) if st == 200 else []
    check("timeline URLs name their snapshot (?v=)", snaps and all(re.fullmatch(r"/api/timeline/\d+\.png\?v=\d+", x["url"])
                                                                   for x in snaps), snaps[:2])
    if not snaps:
        return
    url = snaps[-1]["url"]
    st, h, b = req(port, url)
    check("a named snapshot is immutable for caches", st == 200 and "immutable" in h.get("cache-control", "")
          and h.get("etag", "").startswith('"tl-'), h)
    st2, _, b2 = req(port, url)
    check("a snapshot's PNG is the same bytes every time", st2 == 200 and b2 == b)
    st, h2, b3 = req(port, url, {"If-None-Match": h.get("etag", "")})
    check("a snapshot's ETag -> 304", st == 304 and b3 == b"", st)
    plain = url.split("?")[0]
    st, h3, _ = req(port, plain)
    check("without v: the same snapshot, revalidated (no-cache)", st == 200 and h3.get("cache-control") == "no-cache"
          and h3.get("etag") == h.get("etag"), h3)
    v = int(url.split("v=")[1])
    st, _, _ = req(port, "%s?v=%d" % (plain, v + 1))
    check("a v that names no kept snapshot: 404", st == 404, st)
    st, _, _ = req(port, "%s?w=1" % plain)
    check("timeline PNG refuses unknown parameters", st == 400, st)


def flood(port, n, srcs, path_of):
    """n distinct slow renders at once from the given source addresses."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            results[i] = req(port, path_of(i), src=srcs[i % len(srcs)])
        except OSError as e:
            results[i] = (0, {}, str(e).encode())

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def test_budget(binary, data, tmp):
    # A queue of 2: distinct renders from many addresses overflow it -> 503.
    s = Server(binary, ["--data", data, "--config", write_config(tmp, render_queue=2)], label="queue of 2")
    check("server with render_queue 2 starts", s.ready())
    pause(s.port)
    time.sleep(0.5)
    res = flood(s.port, 24, ["127.0.0.%d" % i for i in range(2, 26)],
                lambda i: "/api/samples.png?n=256&scale=4&seed=%d" % (1000 + i))
    busy = [r for r in res if r[0] == 503]
    ok = [r for r in res if r[0] == 200]
    check("a full render queue answers 503", len(busy) > 0 and len(ok) > 0, [r[0] for r in res])
    check("503 names Retry-After and says why",
          busy and all(r[1].get("retry-after", "").isdigit() and b"queue is full" in r[2] for r in busy),
          busy[:1])
    c = classroom(s.port)
    check("503s are counted", c.get("render_rejected_busy", 0) == len(busy), (c, len(busy)))
    s.stop()

    # One address asking much more than its share -> 429; others get through.
    s = Server(binary, ["--data", data, "--config", write_config(tmp, render_queue=16)], label="fairness")
    check("server with render_queue 16 starts", s.ready())
    pause(s.port)
    time.sleep(0.5)
    res = flood(s.port, 14, ["127.0.0.9"], lambda i: "/api/samples.png?n=256&scale=4&seed=%d" % (2000 + i))
    unfair = [r for r in res if r[0] == 429]
    check("one address over its share (16 / 4) gets 429", len(unfair) >= 14 - 4 - 1 and
          sum(r[0] == 200 for r in res) >= 4, [r[0] for r in res])
    check("429 names Retry-After", unfair and all(r[1].get("retry-after", "").isdigit() for r in unfair), unfair[:1])
    st, _, _ = req(s.port, "/api/samples.png?n=4&seed=1", src="127.0.0.10")
    check("another address is served meanwhile", st == 200, st)
    c = classroom(s.port)
    check("429s are counted", c.get("render_rejected_unfair", 0) == len(unfair), c)
    st, _, body = req(s.port, "/metrics")
    text = body.decode()
    check("/metrics has the classroom counters",
          st == 200 and all(re.search(r"^ganlive_%s %s" % (k, v), text, re.M) for k, v in
                            (("render_rejected_unfair_total", len(unfair)), ("viewers", 0),
                             ("renders_total", r"\d+"), ("render_cache_hits_total", r"\d+"))), text[-400:])
    s.stop()


def test_live(port):
    sse = SSE(port, timeout=20)
    ev = sse.wait_for(lambda e: e["event"] == "samples", 15)
    check("a samples event names the shared grid", ev is not None and ev["data"]["url"].startswith("/api/samples.png?n=64")
          and isinstance(ev["data"]["seed"], int), ev)
    if ev:
        # The snapshot moves every 300 ms here; a fetch that a loaded machine
        # delays past that finds a newer one (and renders): such a try proves
        # nothing either way, so up to five announced grids are tried.
        seen = []
        for _ in range(5):
            e = ev if not seen else sse.wait_for(lambda x: x["event"] == "samples", 15)
            if e is None:
                break
            c0 = classroom(port)
            st, h, b = req(port, e["data"]["url"])
            c1 = classroom(port)
            same = c0["render_snapshot_iteration"] == c1["render_snapshot_iteration"] == e["data"]["iteration"]
            seen.append((same, st, c0, c1))
            if same:
                break
        ok = [x for x in seen if x[0]]
        check("the announced grid is already rendered: fetching it renders nothing",
              ok and ok[0][1] == 200 and ok[0][3]["renders"] == ok[0][2]["renders"]
              and ok[0][3]["render_cache_hits"] > ok[0][2]["render_cache_hits"], seen)
        check("its seed round-trips exactly in the URL", ("seed=%d" % ev["data"]["seed"]) in ev["data"]["url"])
        ev2 = sse.wait_for(lambda e: e["event"] == "samples", 15)
        check("the shared grid moves on with training (new version, new seed)",
              ev2 is not None and ev2["data"]["version"] > ev["data"]["version"] and ev2["data"]["seed"] != ev["data"]["seed"],
              ev2)
    st = figures(port)
    check("status counts the open event stream as a viewer", st.get("classroom", {}).get("viewers", 0) >= 1, st.get("classroom"))
    # Paused (with a viewer, who gets the paused snapshot's grid), no new grid
    # is made: a late stream can only get the newest one from its own start.
    pause(port)
    time.sleep(1.5)
    late = SSE(port, timeout=20)
    ev = late.wait_for(lambda e: e["event"] == "samples", 3)
    check("a stream that opens while paused gets the newest shared grid at once", ev is not None, ev)
    late.close()
    sse.close()
    req(port, "/api/resume", {"Content-Type": "application/json"}, method="POST", body="{}")


def test_pause_then_ask(port):
    """A request made after a pause has returned is answered from the paused
    weights, even when the worker was rendering the shared live grid (with
    a snapshot from before the pause) at that moment. The iteration in
    samples.json names the snapshot it was drawn from."""
    sse = SSE(port, timeout=20)            # a viewer: the worker renders live grids
    stale = []
    for k in range(30):
        req(port, "/api/resume", {"Content-Type": "application/json"}, method="POST", body="{}")
        time.sleep(0.05 + 0.35 * ((k * 7919) % 13) / 13.0)
        st, _, body = req(port, "/api/pause", {"Content-Type": "application/json"}, method="POST", body="{}")
        it = json.loads(body)["iteration"] if st == 200 else None
        st2, _, b2 = req(port, "/api/samples.json?n=2&seed=%d" % (1000 + k))
        got = json.loads(b2)["iteration"] if st2 == 200 else None
        if it is None or got != it:
            stale.append((k, it, got))
    sse.close()
    check("a request after a pause sees the paused weights (30 pauses, a viewer watching)", not stale, stale[:5])
    req(port, "/api/resume", {"Content-Type": "application/json"}, method="POST", body="{}")


def test_slow_client(port):
    # A subscriber that asks for the whole history and never reads.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"GET /api/events?since=-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    fast = SSE(port, timeout=20)
    fast.wait_for(lambda e: e["event"] == "metrics", 10)
    t_end = time.time() + 8
    gaps, last = [], time.time()
    while time.time() < t_end:
        ev = fast.wait_for(lambda e: e["event"] == "metrics", 5)
        if ev is None:
            gaps.append(5.0)
            break
        now = time.time()
        gaps.append(now - last)
        last = now
    check("a stalled subscriber does not delay another's metrics (max gap under 2 s)",
          gaps and max(gaps) < 2.0, ["%.2f" % g for g in gaps])
    fast.close()
    slow.close()


def test_share(binary, data, tmp):
    """render_share caps the worker's CPU while training runs, not while paused."""
    share = 0.02
    s = Server(binary, ["--data", data, "--config", write_config(tmp, render_share=share)], label="budget")
    check("server with render_share 0.02 starts", s.ready())
    ncpu = os.cpu_count() or 1

    def burst(base):
        c0, t0 = classroom(s.port), time.time()
        for i in range(8):                   # one after another, from different addresses
            st, _, _ = req(s.port, "/api/samples.png?n=256&seed=%d" % (base + i), src="127.0.0.%d" % (2 + i))
            if st != 200:
                return None
        c1 = classroom(s.port)
        return time.time() - t0, c1["render_cpu_seconds"] - c0["render_cpu_seconds"]

    running = burst(5000)
    pause(s.port)
    time.sleep(0.5)
    paused = burst(6000)
    check("a burst of renders completes running and paused", running and paused, (running, paused))
    if running and paused:
        wall, cpu = running
        # the bucket holds 0.25 CPU seconds; beyond that, cpu <= share * ncpu * wall
        check("while training runs the worker keeps to render_share of the machine",
              cpu - 0.25 <= share * ncpu * wall * 1.15, "%.2f CPU s in %.2f s wall (cap %.2f)" % (cpu, wall, share * ncpu * wall))
        check("paused, renders run without the cap (CPU rate over twice the cap)",
              paused[1] / paused[0] > 2 * share * ncpu and paused[0] < wall,
              "running %.2f s (%.2f CPU s), paused %.2f s (%.2f CPU s)" % (wall, cpu, paused[0], paused[1]))
    s.stop()


def test_lan(binary, data, tmp):
    p = subprocess.run(["hostname", "-I"], stdout=subprocess.PIPE, text=True)
    addrs = [a for a in p.stdout.split() if ":" not in a]
    host = socket.gethostname()
    s = Server(binary, ["--data", data, "--config", write_config(tmp, bind="0.0.0.0"), "--token", TOKEN], label="LAN bind")
    check("server on 0.0.0.0 starts", s.ready())
    port = s.port
    for name in addrs[:2] + [host, host + ".local"]:
        st, _, _ = req(port, "/api/status", {"Host": "%s:%d" % (name, port)})
        check("LAN bind accepts Host %s (the machine's own)" % name, st == 200, st)
    for name in ("evil.example", "192.0.2.254", "localhost.evil.example", "%s.evil" % host):
        st, _, _ = req(port, "/api/status", {"Host": "%s:%d" % (name, port)})
        check("LAN bind refuses Host %s" % name, st == 403, st)
    a = figures(port).get("access", {})
    check("no token: a viewer", a == {"lan": True, "token_required": True, "role": "viewer"}, a)
    a = figures(port, {"Authorization": "Bearer " + TOKEN}).get("access", {})
    check("the token: the presenter", a.get("role") == "presenter", a)
    a = figures(port, {"Authorization": "Bearer wrong-token-0123456789"}).get("access", {})
    check("a wrong token: a viewer", a.get("role") == "viewer", a)
    st, _, body = req(port, "/api/invite")
    inv = json.loads(body) if st == 200 else {}
    urls = [i["url"] for i in inv.get("invites", [])]
    check("invite lists a join URL per address, none with a token",
          st == 200 and urls and all("token" not in u and u.endswith(":%d/" % port) for u in urls)
          and all(any(a in u for u in urls) for a in addrs), (urls, addrs))
    st, h, png = req(port, "/api/invite.png?i=0")
    check("invite.png is a PNG", st == 200 and h.get("content-type") == "image/png" and png[:4] == b"\x89PNG", st)
    path = os.path.join(tmp, "qr.png")
    with open(path, "wb") as f:
        f.write(png)
    z = subprocess.run(["zbarimg", "-q", "--raw", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    check("the QR code decodes to the join URL", urls and z.stdout.strip() == urls[0], (z.returncode, z.stdout, urls[:1]))
    st, _, _ = req(port, "/api/invite.png?i=%d" % len(urls))
    check("invite.png of a missing URL: 404", st == 404, st)
    st, _, _ = req(port, "/api/invite.png?i=0&size=3")
    check("invite.png refuses unknown parameters", st == 400, st)
    s.stop()

    s = Server(binary, ["--data", data, "--config", write_config(tmp)], label="loopback bind")
    check("server on loopback starts", s.ready())
    for name in addrs[:1] + [host]:
        st, _, _ = req(s.port, "/api/status", {"Host": "%s:%d" % (name, s.port)})
        check("loopback bind still refuses Host %s" % name, st == 403, st)
    a = figures(s.port).get("access", {})
    check("loopback without a token: everyone may act", a == {"lan": False, "token_required": False, "role": "presenter"}, a)
    st, _, body = req(s.port, "/api/invite")
    inv = json.loads(body) if st == 200 else {}
    check("loopback invite: no URL and a hint", st == 200 and inv.get("invites") == [] and "bind" in inv.get("hint", ""), inv)
    s.stop()


def cells(png, scale, n):
    """The n digit cells of a samples.png grid (2-pixel gutters) at scale 1:
    each a list of 28 rows of bytes, every scale-th pixel of the cell."""
    w, _, rows = png_pixels(png)
    side = 28 * scale
    cols = (w + 2) // (side + 2)
    out = []
    for i in range(n):
        x0, y0 = (i % cols) * (side + 2), (i // cols) * (side + 2)
        out.append([rows[y0 + y * scale][x0:x0 + side:scale] for y in range(28)])
    return out


def named_threads(pid, name):
    """Thread ids of process pid whose name (comm) is name."""
    tids = []
    for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() == name:
                    tids.append(int(tid))
        except OSError:
            pass                              # the thread ended meanwhile
    return tids


def test_split(binary, data, tmp):
    """Paused, big requests are drawn on two cores with the same bytes.

    The worker's snapshot is held for the whole test (live_every_ms 60 s),
    so answers drawn while paused (split in two) and after resuming (one
    core) come from the very same weights: same pixels (scale 1 against
    scale 2, a new query), same D verdicts and labels (64 digits against 63).
    A conditional model asks for i % 10 (digits=all), so the helper's half
    needs the right labels."""
    for name, model in (("plain", {}), ("conditional", {"conditional": True})):
        with open(write_config(tmp, live_every_ms=60000)) as f:
            cfg = json.load(f)
        cfg["model"].update(model)
        cfg["run"]["dir"] = os.path.join(tmp, "split-" + name)
        path = os.path.join(tmp, "split-%s.json" % name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        s = Server(binary, ["--data", data, "--config", path], label="split-" + name)
        try:
            if not check("split, %s: server starts and trains" % name,
                         s.ready() and wait_for(lambda: (s.status() or {}).get("iteration", 0) >= 3, 60)):
                continue
            check("split, %s: paused" % name, pause(s.port))
            time.sleep(0.5)                   # the worker moves to the paused weights
            helper0 = named_threads(s.proc.pid, "ganlive-draw")
            c0 = classroom(s.port)
            # digits=all rounds n up to whole rows of ten
            n1, n2 = (70, 60) if model else (64, 63)
            q = "n=%d&seed=43" % n1 + ("&digits=all" if model else "")
            st1, _, png1 = req(s.port, "/api/samples.png?" + q)
            st2, _, js1 = req(s.port, "/api/samples.json?" + q)
            c1 = classroom(s.port)
            check("split, %s: paused, %d digits and their verdicts are drawn on two cores" % (name, n1),
                  st1 == st2 == 200 and c1["renders_split"] == c0["renders_split"] + 2, (st1, st2, c0, c1))
            helper1 = named_threads(s.proc.pid, "ganlive-draw")
            check("split, %s: one helper thread drew both halves, there before them and kept after" % name,
                  len(helper0) == 1 and helper1 == helper0, (helper0, helper1))
            if not model:
                st, _, body = req(s.port, "/api/checkpoint", {"Content-Type": "application/json"},
                                  method="POST", body="{}")
                ck = json.loads(body) if st == 200 else {}
                for n, seed in ((64, 43), (40, 44)):
                    ok, why = testlib.samples_match_checkpoint(binary, s, ck.get("path", "?"), seed=seed, n=n,
                                                               tmp_dir=tmp)
                    check("split, plain: paused, %d digits on two cores = ganlive sample --checkpoint, "
                          "byte for byte" % n, ok, why)
            st, _, _ = req(s.port, "/api/resume", {"Content-Type": "application/json"}, method="POST", body="{}")
            it = (s.status() or {}).get("iteration", 0)
            check("split, %s: training runs again" % name,
                  st == 200 and wait_for(lambda: (s.status() or {}).get("iteration", 0) > it + 2, 60))
            c2 = classroom(s.port)
            st3, _, png2 = req(s.port, "/api/samples.png?" + q + "&scale=2")
            st4, _, js2 = req(s.port, "/api/samples.json?" + q.replace("n=%d" % n1, "n=%d" % n2))
            c3 = classroom(s.port)
            check("split, %s: while training runs, the same snapshot, drawn on one core" % name,
                  st3 == st4 == 200 and c3["renders"] == c2["renders"] + 2 and
                  c3["renders_split"] == c2["renders_split"] and
                  c3["render_snapshot_iteration"] == c1["render_snapshot_iteration"], (c1, c2, c3))
            check("split, %s: the same pixels on two cores and on one" % name,
                  cells(png1, 1, n1) == cells(png2, 2, n1) and len(cells(png1, 1, n1)) == n1)
            a, b = json.loads(js1)["samples"], json.loads(js2)["samples"]
            keys = ("d_fake", "requested")
            check("split, %s: the same verdicts and labels on two cores and on one" % name,
                  len(a) == n1 and len(b) == n2 and
                  [[x.get(k) for k in keys] for x in a[:n2]] == [[x.get(k) for k in keys] for x in b],
                  [(x.get("d_fake"), y.get("d_fake")) for x, y in zip(a[40:46], b[40:46])])
            c0 = classroom(s.port)
            check("split, %s: paused again" % name, pause(s.port))
            time.sleep(0.5)
            st, _, _ = req(s.port, "/api/samples.png?n=16&seed=45")
            c1 = classroom(s.port)
            check("split, %s: one chunk (16 digits) is not split" % name,
                  st == 200 and c1["renders"] == c0["renders"] + 1 and c1["renders_split"] == c0["renders_split"],
                  (c0, c1))
        finally:
            s.stop()


def run(binary, data):
    tmp = tempfile.mkdtemp(prefix="ganlive-classroom-test-")
    try:
        s = Server(binary, ["--data", data, "--config", write_config(tmp, live_every_ms=300)], label="main")
        if not check("server starts", s.ready()):
            return
        test_live(s.port)
        test_pause_then_ask(s.port)
        test_slow_client(s.port)
        test_cache(s.port)
        test_timeline(s.port)
        s.stop()
        test_budget(binary, data, tmp)
        test_share(binary, data, tmp)
        test_lan(binary, data, tmp)
        test_split(binary, data, tmp)
    except Exception as e:                   # a broken answer fails the suite, never leaves servers behind
        check("the suite ran to its end", False, repr(e))
    finally:
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main(run, "test_classroom.py"))
