#!/usr/bin/env python3
"""test_runs.py - runs kept side by side under one runs root, read back from
their files (issue 16), against the real binary.

    python3 tests/test_runs.py ./ganlive data/mnist

Three runs under one --runs-root, each a `ganlive serve --run-name NAME`
(tests/config-test.json, quality passes every 20 iterations):

- alpha: trains, pauses, and is stopped with SIGTERM (state "stopped");
- beta: diverges through the test hook GANLIVE_TEST_POISON_AT and is stopped
  while diverged (state "diverged");
- gamma: the server that answers the queries (state "current").

Checked: GET /api/runs lists the three with their state, preset, what
differs from the preset, iteration; /api/runs/<name>/metrics (paged with
since and limit), /metrics.csv and /quality of each equal what that server
itself answered on /api/metrics, /api/metrics.csv and /api/quality before
it stopped; the current run's log keeps up with it within the writer's
period; names with "..", "%2e%2e", absolute paths, symlinks to outside the
root (a run directory and a log file) are refused (400/404) and never
answer the outside file's bytes; --fresh with a name sets the old files
aside as "<name>/old-<time>", still listed and readable; `ganlive runs`
prints the table; and a kill -9 during training loses at most the last
few seconds of the curve: the figure (seconds between the newest point the
server had published and the newest point in its log) is printed.

Timelines and resumes: alpha is stopped once more and resumed (SIGTERM, then
a new server on the same run): its /api/quality has the passes from before
the restart. /api/runs/<name>/timeline lists exactly the PNG files each run
wrote into <run>/timeline/ (alpha, beta whose writer only flushed on the
way out, gamma while current), each decoding to the pixels /api/timeline
served for that iteration while the run was live, with the time_s of that
iteration's point; a stopped run's timeline is served by another server; a
run without timeline/ (checkpoints only) falls back to its checkpoint's
timeline; a long log's listing is thinned to 400 keeping first and last;
ETag / If-None-Match gives 304; malformed snapshot names are 400, unknown
ones 404; a symlinked timeline/ or PNG and traversal reach nothing outside
the root; gamma resumed after its kill -9 writes no logged snapshot twice;
--fresh sets the timeline aside with the log.
One line per check, then "N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import testlib  # noqa: E402
from testlib import check  # noqa: E402
from test_insight import png_pixels  # noqa: E402

MAX_LOST_S = 3.0             # the writer flushes every second


class Server(testlib.Server):
    def __init__(self, binary, data_dir, cfg, root, name, extra=(), env=None):
        super().__init__(binary, ["--data", data_dir, "--seed", "1", "--config", cfg,
                                  "--runs-root", root] + (["--run-name", name] if name else [])
                         + list(extra), env=env, label="run %s" % name)

    def wait_iteration(self, above, timeout=60):
        return testlib.wait_for(lambda: (lambda js: js if js and js["iteration"] > above else None)(
            self.status()), timeout, 0.05)

    def wait_state(self, state, timeout=60):
        return testlib.wait_for(lambda: (lambda js: js if js and js["state"] == state else None)(
            self.status()), timeout, 0.05)

    def get(self, path):
        try:
            st, _, js = self.c.json("GET", path)
        except OSError:                   # restarting (POST /api/run)
            return None, None
        return st, js

    def points(self, path):
        """Every point of a metrics endpoint, paged with since and limit."""
        out, since = [], -1
        sep = "&" if "?" in path else "?"
        while True:
            st, js = self.get("%s%ssince=%d&limit=10000" % (path, sep, since))
            if st != 200 or not js or not js["points"]:
                return out
            out += js["points"]
            if js["points"][-1]["iteration"] <= since or js["points"][0]["iteration"] <= since:
                out.append({"error": "a page at or before since=%d" % since})   # fails any comparison
                return out
            since = js["points"][-1]["iteration"]


def quality_settled(s, timeout=30):
    """Wait until /api/quality stops changing (the quality thread is done
    with what the paused run gave it); returns its passes."""
    last, same_since = None, time.time()
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, js = s.get("/api/quality")
        passes = js["passes"] if js else None
        if passes != last:
            last, same_since = passes, time.time()
        elif time.time() - same_since > 2.5:
            return last
        time.sleep(0.25)
    return last


def record(s):
    """What a paused server answers about its own run."""
    st, _, csv = s.c.req("GET", "/api/metrics.csv")
    return {"points": s.points("/api/metrics"), "csv": csv if st == 200 else None,
            "quality": quality_settled(s), "status": s.status()}


def live_timeline(s):
    """What a server's /api/timeline serves now: {iteration: decoded pixels}."""
    st, js = s.get("/api/timeline")
    out = {}
    for snap in (js or {}).get("snapshots", []):
        st, _, data = s.c.req("GET", snap["url"])
        if st == 200:
            out[snap["iteration"]] = png_pixels(data)
    return out


def disk_timeline(s, name):
    """GET /api/runs/<name>/timeline as a dict, or None."""
    st, js = s.get("/api/runs/%s/timeline" % name)
    return js if st == 200 and js else None


def disk_its(s, name):
    js = disk_timeline(s, name)
    return [i["iteration"] for i in js["items"]] if js else []


def tl_files(root, name):
    """The iterations of the PNG files in <run>/timeline/, sorted."""
    d = os.path.join(root, name, "timeline")
    if not os.path.isdir(d):
        return []
    return sorted(int(f[:-4]) for f in os.listdir(d) if f.endswith(".png") and f[:-4].isdigit())


def log_snaps(root, name):
    """The iterations of the T records of a run's log, in file order."""
    with open(os.path.join(root, name, "metrics.log")) as f:
        return [int(l.split()[1]) for l in f.read().splitlines() if l.startswith("T ")]


def check_timeline(s, root, name, live, points):
    """A stopped (or paused, flushed) run's timeline from disk, read by
    server s: the listing is the files, oldest first; each PNG decodes to
    the pixels live had for it (every live iteration is listed); each time_s
    is the time of that iteration's point (unmerged points only)."""
    js = disk_timeline(s, name)
    its = [i["iteration"] for i in js["items"]] if js else []
    check("%s: /timeline lists the PNG files the run wrote, oldest first (%d)" % (name, len(its)),
          js and js["run"] == name and js["source"] == "log" and its == tl_files(root, name) and len(its) >= 3
          and all(i["url"] == "/api/runs/%s/timeline/%d.png" % (name, i["iteration"]) for i in js["items"]),
          (js and js.get("source"), its, tl_files(root, name)))
    check("%s: every snapshot /api/timeline served while live is on disk (%d)" % (name, len(live)),
          live and set(live) <= set(its), (sorted(live), its))
    same, bad = 0, []
    for it in sorted(set(live) & set(its)):
        st, hd, data = s.c.req("GET", "/api/runs/%s/timeline/%d.png" % (name, it))
        if st == 200 and hd.get("content-type") == "image/png" and png_pixels(data) == live[it]:
            same += 1
        else:
            bad.append((it, st))
    check("%s: each PNG from disk decodes to the pixels /api/timeline served live (%d)" % (name, same),
          same and not bad, bad)
    want = {p["iteration"]: p["time_s"] for p in points if p["count"] == 1}
    want[0] = 0
    timed = [i for i in (js["items"] if js else []) if i["iteration"] in want]
    check("%s: each snapshot's time_s is its iteration's point's (%d compared)" % (name, len(timed)),
          timed and all(i["time_s"] == want[i["iteration"]] for i in timed),
          [(i["iteration"], i["time_s"], want[i["iteration"]]) for i in timed if i["time_s"] != want[i["iteration"]]])
    return js


def run(binary, data_dir):
    tmp = tempfile.mkdtemp(prefix="ganlive-runs-")
    try:
        body(binary, data_dir, tmp)
    except Exception as e:                # fail by name; finish() still stops the servers
        import traceback
        traceback.print_exc()
        check("test_runs ran to the end", False, repr(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def body(binary, data_dir, tmp):
    root = os.path.join(tmp, "runs")
    with open(os.path.join(HERE, "config-test.json")) as f:
        cfg = json.load(f)
    cfg["run"] = {"checkpoint_every_s": 60, "keep": 2}          # run.dir left to --run-name
    cfg["quality"] = {"every": 20, "samples": 100}
    cfg_path = os.path.join(tmp, "cfg.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    rec = {}

    # ---- alpha: trained, paused, stopped --------------------------------------------
    a = Server(binary, data_dir, cfg_path, root, "alpha")
    check("alpha answers", a.ready())
    check("alpha reaches iteration 45", a.wait_iteration(45) is not None, a.status())
    # while it runs, its log keeps up within the writer's period
    def caught_up():
        live = a.points("/api/metrics")
        logged = a.points("/api/runs/alpha/metrics")
        return logged and live[:len(logged)] == logged and live[-1]["iteration"] - logged[-1]["iteration"] < 50
    check("alpha running: /api/runs/alpha/metrics is a prefix of /api/metrics and close behind",
          testlib.wait_for(caught_up, 10))
    # the first pass scores the 10,000 test digits first: slow under a sanitizer
    slow = any(m in os.path.basename(binary) for m in ("-address", "-thread", "-undefined"))
    check("alpha: a quality pass ran", testlib.wait_for(lambda: (a.get("/api/quality")[1] or {}).get("passes"),
                                                        400 if slow else 120))
    st, _, js = a.c.post("/api/pause")
    check("alpha paused", st == 200 and js["state"] == "paused", (st, js))
    live = {"alpha": live_timeline(a)}
    check("alpha (current, paused): its timeline on disk holds every snapshot /api/timeline lists within 5 s",
          live["alpha"] and testlib.wait_for(lambda: set(live["alpha"]) <= set(disk_its(a, "alpha")), 5),
          (sorted(live["alpha"]), disk_its(a, "alpha")))
    rec["alpha"] = record(a)
    check("alpha: quality passes ran", rec["alpha"]["quality"] and len(rec["alpha"]["quality"]) >= 1,
          rec["alpha"]["quality"])
    check("alpha: SIGTERM exits 0", a.stop() == 0, a.rc)

    # ---- alpha resumed: the quality passes from before the restart --------------------
    before = rec["alpha"]
    a = Server(binary, data_dir, cfg_path, root, "alpha")
    check("alpha resumed: answers", a.ready())
    st, js = a.get("/api/quality")
    passes = js["passes"] if st == 200 and js else []
    check("alpha resumed: /api/quality has the %d passes from before the restart" % len(before["quality"] or []),
          before["quality"] and passes[:len(before["quality"])] == before["quality"], (passes, before["quality"]))
    check("alpha resumed: trains on", a.wait_iteration(before["status"]["iteration"] + 12) is not None, a.status())
    st, _, js = a.c.post("/api/pause")
    check("alpha resumed: paused", st == 200 and js["state"] == "paused", (st, js))
    more = live_timeline(a)
    check("alpha resumed: a snapshot's pixels are the same as before the restart",
          all(more[i] == live["alpha"][i] for i in set(more) & set(live["alpha"])) and set(more) & set(live["alpha"]),
          sorted(set(more) & set(live["alpha"])))
    live["alpha"].update(more)
    check("alpha resumed (paused): its timeline on disk holds the new snapshots within 5 s",
          testlib.wait_for(lambda: set(more) <= set(disk_its(a, "alpha")), 5), (sorted(more), disk_its(a, "alpha")))
    rec["alpha"] = record(a)
    rec["alpha"]["timeline"] = sorted(more)          # what its last checkpoint holds
    check("alpha resumed: the passes from before come first",
          (rec["alpha"]["quality"] or [])[:len(before["quality"])] == before["quality"], rec["alpha"]["quality"])
    check("alpha resumed: SIGTERM exits 0", a.stop() == 0, a.rc)
    t = log_snaps(root, "alpha")
    check("alpha: its log's T records are in increasing order, none twice (%d)" % len(t),
          t and all(x < y for x, y in zip(t, t[1:])), t)

    # ---- beta: diverged ---------------------------------------------------------------
    # beta's writer waits 10 minutes between flushes (test hook): what its log
    # holds is what the final flush on the way out wrote
    b = Server(binary, data_dir, cfg_path, root, "beta", env={"GANLIVE_TEST_POISON_AT": "30",
                                                              "GANLIVE_TEST_RUNLOG_MS": "600000"})
    check("beta answers", b.ready())
    bst = b.wait_state("diverged")
    check("beta diverges", bst is not None, b.status())
    rec["beta"] = record(b)
    live["beta"] = live_timeline(b)
    check("beta: SIGTERM while diverged exits 0", b.stop() == 0, b.rc)

    # ---- gamma: the current run ----------------------------------------------------------
    g = Server(binary, data_dir, cfg_path, root, "gamma", extra=["--batch", "8"])
    check("gamma answers", g.ready())
    check("gamma reaches iteration 10", g.wait_iteration(10) is not None)

    st, js = g.get("/api/runs")
    runs = {r["name"]: r for r in js["runs"]} if st == 200 and js else {}
    check("GET /api/runs: 200 with alpha, beta, gamma", set(runs) == {"alpha", "beta", "gamma"}, (st, js))
    if set(runs) != {"alpha", "beta", "gamma"}:
        return
    check("GET /api/runs: current is gamma", js.get("current") == "gamma", js.get("current"))
    check("alpha: state stopped", runs["alpha"]["state"] == "stopped", runs["alpha"])
    check("beta: state diverged, with the reason",
          runs["beta"]["state"] == "diverged" and "non-finite" in (runs["beta"].get("diverged_reason") or ""),
          runs["beta"])
    check("gamma: state current, this server's", runs["gamma"]["state"] == "current"
          and runs["gamma"]["this_server"] and runs["gamma"]["live"], runs["gamma"])
    for n in ("alpha", "beta"):
        r, want = runs[n], rec[n]["status"]
        check("%s: iteration as the server last said (%d)" % (n, want["iteration"]),
              r["iteration"] == want["iteration"], (r["iteration"], want["iteration"]))
        check("%s: preset classic" % n, r["preset"] == "classic", r["preset"])
        check("%s: time_s is the last point's" % n,
              rec[n]["points"] and r["time_s"] == rec[n]["points"][-1]["time_s"], r["time_s"])
        check("%s: images/s and images seen" % n, r["images_per_sec"] is not None and r["images_per_sec"] > 0
              and r["images_seen"] == r["iteration"] * 16, r)
    d = runs["alpha"]["differs"]
    check("alpha: differs names the settings the config changed from classic",
          d.get("nz") == 32 and d.get("batch") == 16 and d.get("lr_d") == 0.0005 and "beta1" not in d, d)
    check("gamma: differs carries --batch 8", runs["gamma"]["differs"].get("batch") == 8, runs["gamma"]["differs"])
    st, aq = g.get("/api/runs/alpha/quality")
    check("alpha: last quality figures are the last logged pass's",
          st == 200 and aq["passes"] and (runs["alpha"]["quality"] or {}).get("iteration") == aq["passes"][-1]["iteration"]
          and (runs["alpha"]["quality"] or {}).get("inception_score") == aq["passes"][-1]["inception_score"],
          (runs["alpha"]["quality"], aq))
    st, one = g.get("/api/runs/alpha")
    check("GET /api/runs/alpha: the listing's entry", st == 200 and one == runs["alpha"], (st, one))

    # ---- each stopped run's files equal what its server answered ----------------------------
    for n in ("alpha", "beta"):
        pts = g.points("/api/runs/%s/metrics" % n)
        want = rec[n]["points"]
        check("%s: metrics from disk equal the server's /api/metrics (%d points)" % (n, len(want)),
              pts == want and len(want) > 10, (len(pts), len(want), pts[-1:], want[-1:]))
        st, hd, csv = g.c.req("GET", "/api/runs/%s/metrics.csv" % n)
        check("%s: metrics.csv from disk equals the server's /api/metrics.csv byte for byte" % n,
              st == 200 and csv == rec[n]["csv"] and hd.get("content-type", "").startswith("text/csv"),
              (st, csv[:200], (rec[n]["csv"] or b"")[:200]))
        # a pass the quality thread finished between the last look and the stop is
        # logged too: the server's passes are the log's first ones, any later one is
        # of an iteration the run reached
        st, q = g.get("/api/runs/%s/quality" % n)
        want = rec[n]["quality"] or []
        check("%s: quality passes from disk equal the server's (%d)" % (n, len(want)),
              st == 200 and q["passes"][:len(want)] == want and len(q["passes"]) <= len(want) + 1
              and all((not want or p["iteration"] > want[-1]["iteration"])
                      and p["iteration"] <= rec[n]["status"]["iteration"] for p in q["passes"][len(want):]),
              (st, q, want))
    # ---- their timelines, from disk, served by gamma ----------------------------------------
    tl = {}
    for n in ("alpha", "beta"):
        tl[n] = check_timeline(g, root, n, live[n], rec[n]["points"])
    path = "/api/runs/alpha/timeline/%d.png" % rec["alpha"]["timeline"][-1]
    st, hd, data = g.c.req("GET", path)
    etag = hd.get("etag", "")
    check("alpha: a PNG has an ETag and Cache-Control: no-cache",
          st == 200 and etag.startswith('"') and hd.get("cache-control") == "no-cache", (st, hd))
    st, hd, body = g.c.req("GET", path, headers={"If-None-Match": etag})
    check("alpha: If-None-Match with its ETag: 304, no body, the same ETag",
          st == 304 and body == b"" and hd.get("etag") == etag, (st, hd, body[:40]))
    st, _, body = g.c.req("GET", path, headers={"If-None-Match": '"tl-0-0-0.000000000"'})
    check("alpha: If-None-Match with another ETag: 200, the PNG", st == 200 and body == data, st)
    st, js = g.get("/api/runs/current/timeline")
    check("/api/runs/current/timeline: gamma's, named so", st == 200 and js["run"] == "gamma", (st, js))
    for q in ("?x=1", "?since=1"):
        st, js = g.get("/api/runs/alpha/timeline" + q)
        check("timeline%s: 400" % q, st == 400 and "error" in js, (st, js))
    st, js = g.get(path + "?v=1")
    check("timeline/<N>.png?v=1: 400", st == 400 and "error" in js, (st, js))
    # malformed snapshot names are 400, a well-formed one that is no snapshot 404; '+'
    # is not in the route alphabet (http.c: 404 before any route)
    for name, want in (("-5.png", 400), ("abc.png", 400), ("5", 400), ("5.PNG", 400), ("05.png", 400),
                       ("5.png.tmp", 400), ("5.png.", 400), ("1" * 19 + ".png", 400), ("9" * 40 + ".png", 400),
                       (".png", 400), ("", 400), ("5.5.png", 400), ("+5.png", 404), ("%2B5.png", 404),
                       ("%2D5.png", 404), ("7.png", 404), ("999999.png", 404)):
        st, _, data = g.c.req("GET", "/api/runs/alpha/timeline/" + name)
        check("timeline/%s: %d" % (name[:30], want), st == want and b"error" in data, (st, data[:120]))

    st, js = g.get("/api/runs/alpha/metrics?since=10&limit=5")
    check("since=10&limit=5: iterations 11..15, iteration = the run's last",
          st == 200 and [p["iteration"] for p in js["points"]] == [11, 12, 13, 14, 15]
          and js["iteration"] == rec["alpha"]["status"]["iteration"], js)
    last = rec["alpha"]["status"]["iteration"]
    st, js = g.get("/api/runs/alpha/metrics?since=%d" % last)
    check("since=last: no points", st == 200 and js["points"] == [], js)
    for q in ("limit=0", "limit=10001", "since=x", "bogus=1", "since=1&since=2"):
        st, js = g.get("/api/runs/alpha/metrics?" + q)
        check("metrics?%s: 400" % q, st == 400 and "error" in js, (st, js))
    st, js = g.get("/api/runs?x=1")
    check("/api/runs?x=1: 400", st == 400, st)

    # ---- the current run: its log follows it ----------------------------------------------
    st, _, js = g.c.post("/api/pause")
    check("gamma paused", st == 200 and js["state"] == "paused", (st, js))
    live_points = g.points("/api/metrics")
    same = testlib.wait_for(lambda: g.points("/api/runs/gamma/metrics") == live_points, 5)
    check("gamma (current, paused): metrics from its log equal /api/metrics within 5 s", same)
    live["gamma"] = live_timeline(g)
    check("gamma (current, paused): /api/runs/gamma/timeline has every snapshot of /api/timeline within 5 s",
          live["gamma"] and testlib.wait_for(lambda: set(live["gamma"]) <= set(disk_its(g, "gamma")), 5),
          (sorted(live["gamma"]), disk_its(g, "gamma")))
    check_timeline(g, root, "gamma", live["gamma"], live_points)
    st, _, js = g.c.post("/api/resume")

    # ---- names and paths: nothing outside the root --------------------------------------------
    outside = os.path.join(tmp, "outside")
    os.makedirs(outside)
    canary = "P 424242 1 1.5 0.1 0.2 0.3 0.4 0.5 0.6 0.7\n"
    with open(os.path.join(outside, "metrics.log"), "w") as f:
        f.write(canary)
    with open(os.path.join(outside, "run.json"), "w") as f:
        json.dump({"name": "outside", "preset": "classic", "iteration": 424242}, f)
    os.symlink(outside, os.path.join(root, "evil"))
    os.makedirs(os.path.join(root, "trap"))
    os.symlink(os.path.join(outside, "metrics.log"), os.path.join(root, "trap", "metrics.log"))
    os.symlink(os.path.join(outside, "run.json"), os.path.join(root, "trap", "run.json"))
    os.symlink(outside, os.path.join(root, "alpha", "old-1"))
    bad = ["/api/runs/../runs/alpha/metrics", "/api/runs/%2e%2e/metrics", "/api/runs/%2e%2e/outside/metrics",
           "/api/runs/%2e%2e%2foutside/metrics", "/api/runs/..%2f..%2f..%2fetc/metrics",
           "/api/runs/%2Fetc/metrics", "/api/runs/" + outside + "/metrics", "/api/runs//etc/metrics",
           "/api/runs/evil/metrics", "/api/runs/evil/metrics.csv", "/api/runs/evil/quality", "/api/runs/evil",
           "/api/runs/trap/metrics", "/api/runs/trap/metrics.csv", "/api/runs/trap",
           "/api/runs/alpha/old-1/metrics", "/api/runs/alpha/old-1/metrics.csv", "/api/runs/alpha/old-1",
           "/api/runs/.alpha/metrics", "/api/runs/alpha/../beta/metrics", "/api/runs/alpha%00/metrics",
           "/api/runs/a%20b/metrics", "/api/runs/nosuch/metrics", "/api/runs/nosuch", "/api/runs/alpha/nosuch"]
    for path in bad:
        st, _, data = g.c.req("GET", path)
        ok = st in (400, 404) and b"424242" not in data
        if path.startswith("/api/runs/trap/") and st == 200:     # a real directory whose log is a symlink
            ok = b"424242" not in data
        check("%s: refused (%d), nothing from outside" % (path, st), ok, data[:200])
    # ".." anywhere and characters no route uses are the server's 404 (http.c); a path
    # that could be a route but is no run name is 400
    for path, want in (("/api/runs/nosuch/metrics", 404), ("/api/runs/%2e%2e/metrics", 404),
                       ("/api/runs/a%20b/metrics", 404), ("/api/runs/.alpha/metrics", 400),
                       ("/api/runs/-x/metrics", 400), ("/api/runs/alpha/old-x/metrics", 400),
                       ("/api/runs/alpha/nosuch", 404), ("/api/runs/" + "x" * 65 + "/metrics", 400)):
        st, _, _ = g.c.req("GET", path)
        check("%s: %d" % (path, want), st == want, st)
    # the timeline: a symlinked timeline/ or PNG inside a run is not followed
    os.makedirs(os.path.join(outside, "timeline"))
    for d in (outside, os.path.join(outside, "timeline")):
        with open(os.path.join(d, "5.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n canary 424242")
    with open(os.path.join(outside, "metrics.log"), "a") as f:
        f.write("T 5 1.5\n")
    for n in ("tlsym", "tlpng"):
        os.makedirs(os.path.join(root, n))
        with open(os.path.join(root, n, "metrics.log"), "w") as f:
            f.write("T 5 1.5\nT 6 1.6\n")
    os.symlink(os.path.join(outside, "timeline"), os.path.join(root, "tlsym", "timeline"))
    os.makedirs(os.path.join(root, "tlpng", "timeline"))
    os.symlink(os.path.join(outside, "5.png"), os.path.join(root, "tlpng", "timeline", "5.png"))
    os.mkfifo(os.path.join(root, "tlpng", "timeline", "6.png"))
    for path in ("/api/runs/tlsym/timeline/5.png", "/api/runs/tlpng/timeline/5.png", "/api/runs/tlpng/timeline/6.png",
                 "/api/runs/evil/timeline", "/api/runs/evil/timeline/5.png", "/api/runs/alpha/old-1/timeline/5.png",
                 "/api/runs/../outside/timeline/5.png", "/api/runs/%2e%2e/outside/timeline/5.png",
                 "/api/runs/%2e%2e%2foutside/timeline/5.png", "/api/runs/alpha/timeline/..%2f..%2f..%2foutside%2f5.png",
                 "/api/runs/alpha/timeline/%2e%2e/%2e%2e/%2e%2e/outside/5.png", "/api/runs/alpha/timeline/../metrics.log",
                 "/api/runs/alpha/timeline/" + os.path.join(outside, "5.png"),
                 "/api/runs/alpha/timeline//" + os.path.join(outside, "5.png"),
                 "/api/runs/" + outside + "/timeline/5.png", "/api/runs/%2F" + outside[1:] + "/timeline/5.png",
                 "/api/runs/alpha/timeline/5.png/..", "/api/runs/alpha/timeline/5.png%00"):
        st, _, data = g.c.req("GET", path)
        check("%s: refused (%d), nothing from outside" % (path, st), st in (400, 404) and b"424242" not in data,
              data[:200])
    st, js = g.get("/api/runs/tlsym/timeline")
    check("a run with a symlinked timeline/: listed from its log, its PNGs unreachable (above)",
          st == 200 and [i["iteration"] for i in js["items"]] == [5, 6], (st, js))
    shutil.rmtree(os.path.join(root, "tlsym"))
    shutil.rmtree(os.path.join(root, "tlpng"))

    st, js = g.get("/api/runs")
    names = [r["name"] for r in js["runs"]] if st == 200 else []
    check("listing: no symlinked run, nothing from outside", "evil" not in names and "alpha/old-1" not in names
          and all(r["iteration"] != 424242 for r in js["runs"]), names)
    os.unlink(os.path.join(root, "alpha", "old-1"))

    # ---- a run set aside before runs kept a log: its checkpoint's history --------------------------
    legacy = os.path.join(root, "legacy", "old-1700000000")
    os.makedirs(legacy)
    ck = sorted(n for n in os.listdir(os.path.join(root, "alpha")) if n.startswith("ckpt-"))[-1]
    shutil.copy(os.path.join(root, "alpha", ck), os.path.join(legacy, ck))
    st, js = g.get("/api/runs/legacy/old-1700000000")
    check("legacy/old-<time> (checkpoints only): listed, stopped, the checkpoint's iteration",
          st == 200 and js["state"] == "stopped" and js["iteration"] == int(ck[5:14]) and js["created"] == 1700000000,
          (st, js))
    pts = g.points("/api/runs/legacy/old-1700000000/metrics")
    check("legacy/old-<time>: metrics from its checkpoint's history equal alpha's (%d points)" % len(pts),
          pts == rec["alpha"]["points"], (len(pts), len(rec["alpha"]["points"])))
    st, js = g.get("/api/runs/legacy/old-1700000000/metrics?since=10&limit=3")
    check("legacy: since and limit", st == 200 and [p["iteration"] for p in js["points"]] == [11, 12, 13], js)
    js = disk_timeline(g, "legacy/old-1700000000")
    its = [i["iteration"] for i in js["items"]] if js else []
    check("legacy (no timeline/): /timeline falls back to its checkpoint's, the snapshots alpha had at its end",
          js and js["source"] == "checkpoint" and js["run"] == "legacy/old-1700000000"
          and its == rec["alpha"]["timeline"], (js, rec["alpha"]["timeline"]))
    want = {p["iteration"]: p["time_s"] for p in rec["alpha"]["points"] if p["count"] == 1}
    want[0] = 0
    check("legacy: each time_s is its iteration's point's, from the checkpoint's history",
          js and all(i["time_s"] == want[i["iteration"]] for i in js["items"] if i["iteration"] in want)
          and any(i["iteration"] in want for i in js["items"]), js)
    same, bad = 0, []
    for i in (js["items"] if js else []):
        st, hd, data = g.c.req("GET", i["url"])
        if st == 200 and hd.get("content-type") == "image/png" and png_pixels(data) == live["alpha"].get(i["iteration"]):
            same += 1
        else:
            bad.append((i["iteration"], st))
    check("legacy: each PNG, encoded from the checkpoint's pixels, is alpha's live one (%d)" % same,
          same and not bad, bad)
    if its:
        path = "/api/runs/legacy/old-1700000000/timeline/%d.png" % its[-1]
        st, hd, _ = g.c.req("GET", path)
        st2, _, body = g.c.req("GET", path, headers={"If-None-Match": hd.get("etag", "none")})
        check("legacy: ETag and If-None-Match: 304", st == 200 and hd.get("etag") and st2 == 304 and body == b"",
              (st, hd, st2))
    st, _, _ = g.c.req("GET", "/api/runs/legacy/old-1700000000/timeline/7.png")
    check("legacy: a snapshot the checkpoint does not hold: 404", st == 404, st)
    shutil.rmtree(os.path.join(root, "legacy"))

    # ---- a long timeline: thinned evenly to 400, first and last kept ------------------------------
    many = os.path.join(root, "many")
    os.makedirs(os.path.join(many, "timeline"))
    with open(os.path.join(many, "metrics.log"), "w") as f:
        for k in range(1000):
            f.write("T %d %.17g\n" % (5 * k, 0.5 * k))
            if k == 3:
                f.write("T 10 9.9\nX 1 2\nT x 1\n")      # out of order, unknown, bad: skipped
        f.write("T 999999 1")                            # torn: no newline
    js = disk_timeline(g, "many")
    its = [i["iteration"] for i in js["items"]] if js else []
    gaps = [y - x for x, y in zip(its, its[1:])]
    check("1000 snapshots: 390..400 listed, the first and the last among them, evenly spread",
          390 <= len(its) <= 400 and its[0] == 0 and its[-1] == 4995 and gaps and min(gaps) > 0
          and max(gaps) <= 2 * min(gaps)
          and js["items"][-1]["time_s"] == 499.5, (len(its), its[:5], its[-5:], gaps and (min(gaps), max(gaps))))
    shutil.rmtree(many)

    # ---- `ganlive runs` ----------------------------------------------------------------------
    p = subprocess.run([binary, "runs", "--runs-root", root], capture_output=True, text=True, timeout=60)
    rows = {l.split()[0]: l.split() for l in p.stdout.splitlines()[1:] if l.strip() and not l.endswith(root)}
    check("ganlive runs: exit 0, a header and one row per run", p.returncode == 0
          and p.stdout.startswith("NAME") and {"alpha", "beta", "gamma"} <= set(rows), p.stdout + p.stderr)
    if {"alpha", "beta", "gamma"} <= set(rows):
        check("ganlive runs: states stopped, diverged, current (gamma's lock is held)",
              rows["alpha"][2] == "stopped" and rows["beta"][2] == "diverged" and rows["gamma"][2] == "current",
              p.stdout)
        check("ganlive runs: iterations", rows["alpha"][3] == str(rec["alpha"]["status"]["iteration"]), p.stdout)

    # ---- kill -9: how much of the curve is lost ---------------------------------------------------
    seen = None
    deadline = time.time() + 6
    while time.time() < deadline:
        st, js = g.get("/api/metrics?since=%d" % (seen["iteration"] if seen else -1))
        if st == 200 and js["points"]:
            seen = js["points"][-1]
        time.sleep(0.05)
    st, js = g.get("/api/metrics?since=%d" % seen["iteration"])
    if st == 200 and js["points"]:
        seen = js["points"][-1]
    check("gamma killed with SIGKILL while training", g.kill())
    with open(os.path.join(root, "gamma", "metrics.log")) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("P ")]
    logged = lines[-1].split() if lines else None
    lost_s = seen["time_s"] - float(logged[3]) if logged else float("inf")
    lost_it = seen["iteration"] - int(logged[1]) if logged else None
    print("     kill -9: the log ends %.2f s (%s iterations) before the newest point the server had published"
          % (lost_s, lost_it))
    check("kill -9 loses at most %.0f s of the curve (lost %.2f s)" % (MAX_LOST_S, lost_s),
          -1e-6 <= lost_s <= MAX_LOST_S, (seen, logged))     # (the JSON's time has 10 digits)

    # ---- gamma resumed after its kill -9: no logged snapshot written twice ---------------------------
    tdir = os.path.join(root, "gamma", "timeline")
    old_t = log_snaps(root, "gamma")
    old_files = {f: (os.stat(os.path.join(tdir, f)).st_ino, os.stat(os.path.join(tdir, f)).st_mtime_ns)
                 for f in (os.listdir(tdir) if os.path.isdir(tdir) else [])}
    last_old = old_t[-1] if old_t else -1
    g2 = Server(binary, data_dir, cfg_path, root, "gamma", extra=["--batch", "8"])
    check("gamma resumed after kill -9: answers", g2.ready())
    def newer():
        st, js = g2.get("/api/timeline")
        return st == 200 and js["snapshots"] and js["snapshots"][-1]["iteration"] > last_old
    check("gamma resumed: takes a snapshot past its last logged one (%d)" % last_old,
          old_t and testlib.wait_for(newer, 120), g2.status())
    g2.c.post("/api/pause")
    more = live_timeline(g2)
    check("gamma resumed (paused): its new snapshots reach the disk",
          testlib.wait_for(lambda: set(i for i in more if i > last_old) <= set(disk_its(g2, "gamma")), 5)
          and any(i > last_old for i in more), (sorted(more), last_old))
    t = log_snaps(root, "gamma")
    check("gamma resumed: T records in increasing order, none twice, the old ones kept (%d, %d before)"
          % (len(t), len(old_t)), t[:len(old_t)] == old_t and all(x < y for x, y in zip(t, t[1:])), t)
    now = {f: (os.stat(os.path.join(tdir, f)).st_ino, os.stat(os.path.join(tdir, f)).st_mtime_ns)
           for f in old_files if os.path.exists(os.path.join(tdir, f))}
    check("gamma resumed: no PNG written before the crash was written again (%d)" % len(old_files),
          old_files and now == old_files, sorted(f for f in old_files if now.get(f) != old_files[f]))
    js = disk_timeline(g2, "gamma")
    check("gamma resumed: the listing is still the files", js and [i["iteration"] for i in js["items"]]
          == tl_files(root, "gamma"), (js and len(js["items"]), len(tl_files(root, "gamma"))))
    check("gamma resumed: SIGTERM exits 0", g2.stop() == 0, g2.rc)

    # ---- --fresh with a name: the old files go aside and stay a run -----------------------------------
    fresh_at = time.time() - 1
    a2 = Server(binary, data_dir, cfg_path, root, "alpha", extra=["--fresh"])
    check("alpha --fresh answers", a2.ready())
    check("alpha --fresh trains", a2.wait_iteration(3) is not None)
    st, js = a2.get("/api/runs")
    olds = [r for r in js["runs"] if r["name"].startswith("alpha/old-")] if st == 200 else []
    check("alpha --fresh: the earlier alpha is listed as alpha/old-<time>, stopped, same iteration",
          len(olds) == 1 and olds[0]["state"] == "stopped"
          and olds[0]["iteration"] == rec["alpha"]["status"]["iteration"], js)
    if olds:
        pts = a2.points("/api/runs/%s/metrics" % olds[0]["name"])
        check("alpha/old-<time>: its metrics are the earlier alpha's", pts == rec["alpha"]["points"], len(pts))
        tjs = disk_timeline(a2, olds[0]["name"])
        check("alpha/old-<time>: its timeline went aside with its log, the same snapshots and times",
              tjs and tl["alpha"] and tjs["source"] == "log" and [(i["iteration"], i["time_s"]) for i in tjs["items"]]
              == [(i["iteration"], i["time_s"]) for i in tl["alpha"]["items"]]
              and tjs["items"][0]["url"].startswith("/api/runs/%s/timeline/" % olds[0]["name"]), tjs)
        its = testlib.wait_for(lambda: disk_its(a2, "alpha"), 5)
        tdir = os.path.join(root, "alpha", "timeline")
        old = [f for f in (os.listdir(tdir) if os.path.isdir(tdir) else []) if os.stat(os.path.join(tdir, f)).st_mtime < fresh_at]
        check("the new alpha's timeline starts over: its own snapshots, from iteration 0, none older than it",
              its and its[0] == 0 and set(its) <= set(tl_files(root, "alpha")) and not old,
              (its, tl_files(root, "alpha"), old))
        cur = [r for r in js["runs"] if r["name"] == "alpha"]
        check("the new alpha starts over", cur and cur[0]["state"] == "current" and cur[0]["iteration"] < 200, cur)
        st, js = a2.get("/api/runs/gamma")
        check("gamma after kill -9: stopped (no lock held)", st == 200 and js["state"] == "stopped", js)
    # ---- "New run" (POST /api/run): a new name, the old run stays as it was --------------------------
    before = a2.status()["iteration"]
    st, _, js = a2.c.post("/api/run", {"preset": "fast"})
    check("POST /api/run fast: 202", st == 202, (st, js))
    def new_run():
        st, js = a2.get("/api/runs")
        if st != 200:
            return None
        cur = [r for r in js["runs"] if r["this_server"]]
        return js if cur and cur[0]["name"].startswith("fast-") else None
    js = testlib.wait_for(new_run, 60)
    check("the restarted server trains a new run named fast-<time>", js is not None, a2.text()[-500:])
    if js:
        runs = {r["name"]: r for r in js["runs"]}
        check("the new run: preset fast, current; its name is /api/runs' current",
              runs[js["current"]]["preset"] == "fast" and runs[js["current"]]["state"] == "current", js)
        check("alpha stays a run of its own, stopped, with its iterations",
              runs["alpha"]["state"] == "stopped" and runs["alpha"]["iteration"] >= before, runs["alpha"])
        st, m = a2.get("/api/runs/alpha/metrics?since=%d" % (before - 1))
        check("alpha stopped while training: its log ends at the checkpoint saved on the way out (%s)"
              % runs["alpha"]["checkpoint_iteration"], st == 200 and m["points"]
              and m["iteration"] == runs["alpha"]["checkpoint_iteration"] == runs["alpha"]["iteration"]
              == m["points"][-1]["iteration"], (runs["alpha"], m and m["iteration"]))
        with open(os.path.join(root, "current")) as f:
            check("runs root's current names the new run", f.read().strip() == js["current"])
    check("after the new run: SIGTERM exits 0", a2.stop() == 0, a2.rc)

    # ---- no name: the last run resumes when its preset is the same, else a new one --------------------
    with open(os.path.join(root, "current")) as f:
        last = f.read().strip()
    s3 = Server(binary, data_dir, cfg_path, root, None, extra=["--preset", "fast"])
    check("no name, same preset: answers", s3.ready())
    js = s3.status()
    check("no name, same preset: resumes the last run (%s)" % last,
          js and js["config"]["run"]["name"] == last, js and js["config"]["run"])
    check("no name: SIGTERM exits 0", s3.stop() == 0, s3.rc)
    s4 = Server(binary, data_dir, cfg_path, root, None)
    check("no name, another preset (classic): answers", s4.ready())
    js = s4.status()
    check("no name, another preset: a new run classic-<time>, not the fast one",
          js and js["config"]["run"]["name"].startswith("classic-") and js["iteration"] < 100, js and js["config"]["run"])
    check("no name, another preset: SIGTERM exits 0", s4.stop() == 0, s4.rc)
    p = subprocess.run([binary, "serve", "--port", "0", "--data", data_dir, "--runs-root", root,
                        "--run-name", "current"], capture_output=True, text=True, timeout=60)
    check("--run-name current: exit 2 naming it", p.returncode == 2 and "current" in p.stderr, (p.returncode, p.stderr))
    for bad in ("../x", ".x", "a/b", "x" * 65, ""):
        p = subprocess.run([binary, "serve", "--port", "0", "--data", data_dir, "--runs-root", root,
                            "--run-name", bad], capture_output=True, text=True, timeout=60)
        check("--run-name %r: exit 2" % bad[:20], p.returncode == 2 and "run-name" in p.stderr,
              (p.returncode, p.stderr))


if __name__ == "__main__":
    sys.exit(testlib.main(run, "test_runs.py"))
