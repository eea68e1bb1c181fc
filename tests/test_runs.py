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
    rec["alpha"] = record(a)
    check("alpha: quality passes ran", rec["alpha"]["quality"] and len(rec["alpha"]["quality"]) >= 1,
          rec["alpha"]["quality"])
    check("alpha: SIGTERM exits 0", a.stop() == 0, a.rc)

    # ---- beta: diverged ---------------------------------------------------------------
    # beta's writer waits 10 minutes between flushes (test hook): what its log
    # holds is what the final flush on the way out wrote
    b = Server(binary, data_dir, cfg_path, root, "beta", env={"GANLIVE_TEST_POISON_AT": "30",
                                                              "GANLIVE_TEST_RUNLOG_MS": "600000"})
    check("beta answers", b.ready())
    bst = b.wait_state("diverged")
    check("beta diverges", bst is not None, b.status())
    rec["beta"] = record(b)
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
          st == 200 and aq["passes"] and runs["alpha"]["quality"]["iteration"] == aq["passes"][-1]["iteration"]
          and runs["alpha"]["quality"]["inception_score"] == aq["passes"][-1]["inception_score"],
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
    live = g.points("/api/metrics")
    same = testlib.wait_for(lambda: g.points("/api/runs/gamma/metrics") == live, 5)
    check("gamma (current, paused): metrics from its log equal /api/metrics within 5 s", same)
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
    shutil.rmtree(os.path.join(root, "legacy"))

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
          0 <= lost_s <= MAX_LOST_S, (seen, logged))

    # ---- --fresh with a name: the old files go aside and stay a run -----------------------------------
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
