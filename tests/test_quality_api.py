#!/usr/bin/env python3
"""test_quality_api.py - HTTP checks of the insight and conditional features
against the real binary.

    python3 tests/test_quality_api.py ./ganlive data/mnist

Part 1, an unconditional run (tests/config-test.json with quality passes
every 40 iterations over 200 samples and a fresh run directory):
/api/status's conditional, classes, preset, quality, warnings and balance;
GET /api/quality (ceiling of the real test digits, passes, flags consistent
with the thresholds and the histogram); GET /api/nearest and nearest.png
(the right-hand digit is the training image it names, byte for byte, read
from the IDX file; the left one is the sample; distances agree with NumPy
over all 60,000 training digits); GET /api/samples.json and
samples.png?annotate=1 (each frame has the colour of the D verdict that
samples.json reports for the same seed); the classifier's figures against
the classifier recomputed in NumPy (tests/classifier_np.py) from its file:
samples.json's labels and confidences on the digits of samples.png with the
same seed, and a quality pass (the run paused and stepped to it) against
512 samples of the same generator; balance auto/off over PATCH, with
the SSE "balance" events and GET /api/balance; the 400s of each.
Part 2: POST /api/run {"preset": "fast"} restarts the same process as a
conditional run from iteration 0 (a lower iteration than before, history
from 1, uptime and last_checkpoint reset; old checkpoints kept aside); then digit=, digits=all,
samples.json's requested labels, fixed.png's ten columns, and the 400s.
Part 3: servers whose classifier file is missing or damaged (one flipped
bit): training runs, /api/quality says why naming the file, samples.json
has null labels.
Part 4, readable since and the early cadence (quality.every 1000, the
setting quality.readable_score 3 as the score that counts as readable, since
the small test model never reaches 7 in seconds): paused and stepped to the
next hundreds, a pass at exactly each; then free running past 2,300: passes
in distinct hundreds below 2,000 and at most one in 2,000..2,999;
status.quality.readable_since null before the first pass with a score >= 3
(found in GET /api/quality's passes), equal to it (iteration and time) from
then on, the best score so far; after a restart on the same run directory
it is again the first readable pass of the passes the server lists (the
same moment as before once the passes come back from the run log); a new
run (POST /api/run fast, conditional) starts with readable_since null and
as_asked, the share read as the digit asked for, in its passes.
Every server's exit status and output are checked (tests/testlib.py).
One line per check, then "N passed, N failed". Needs python3-numpy.
"""
import gzip
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_http as th  # noqa: E402
import testlib  # noqa: E402
from classifier_np import Classifier, grid_cells, inception_score  # noqa: E402
from test_insight import png_pixels  # noqa: E402
from testlib import check, main as testlib_main, wait_for  # noqa: E402


def verdict_colour(p):
    """server/png.c srv_verdict_colour."""
    caught, fooled = (220, 50, 47), (64, 192, 87)
    p = 0.0 if not (p >= 0.0) else min(p, 1.0)
    return tuple(int(np.rint(np.float32(c) + np.float32(p) * (np.float32(f) - np.float32(c))))
                 for c, f in zip(caught, fooled))


def load_train(data_dir):
    for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            raw = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            return np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 784)
    raise FileNotFoundError(data_dir)


def bad_params(c, path, cases, label):
    for q, name in cases:
        st, _, js = c.json("GET", path + "?" + q)
        check("%s 400 for %s" % (label, q), st == 400 and js and name in js.get("error", ""), (st, js))


# ---- part 1: unconditional ---------------------------------------------------

def test_status_fields(c):
    s = th.status(c)
    check("status conditional false", s.get("conditional") is False, s.get("conditional"))
    check("status classes 0..9", s.get("classes") == [str(k) for k in range(10)], s.get("classes"))
    check("status preset classic", s.get("preset") == "classic", s.get("preset"))
    check("status warnings is a list", isinstance(s.get("warnings"), list), s.get("warnings"))
    check("status balance off", s.get("balance") == {"mode": "off", "skipping": None}, s.get("balance"))


def test_quality(c):
    q = wait_for(lambda: (lambda js: js if js["available"] and len(js["passes"]) >= 2 else None)(
        c.json("GET", "/api/quality")[2]), 150)
    check("quality: available, two passes within 150 s", q is not None)
    if not q:
        print(c.json("GET", "/api/quality")[2])
        return
    check("quality every/samples from the config", q["every"] == 40 and q["samples"] == 200, q)
    ce = q["ceiling"]
    check("ceiling: real test digits score like real digits",
          ce and ce["inception_score"] > 9.0 and ce["confidence"] > 0.95 and ce["nn_ratio"] == 1
          and 0 <= ce["frechet"] < 1.0 and 2.0 < ce["test_median"] < 8.0, ce)
    check("thresholds", q["thresholds"] == {"class_min": 0.02, "class_max": 0.3, "nn_ratio_min": 0.6},
          q["thresholds"])
    ps = q["passes"]
    its = [p["iteration"] for p in ps]
    check("passes in iteration order", its == sorted(its) and len(set(its)) == len(its), its)
    bad = []
    for p in ps:
        h = p["histogram"]
        if len(h) != 10 or abs(sum(h) - 1) > 2e-3 or min(h) < 0:
            bad.append(("histogram", p))
        if p["mode_collapse"] != any(x < 0.02 or x > 0.3 for x in h):
            bad.append(("mode_collapse flag", p))
        if p["copying"] != (p["nn_ratio"] < 0.6):
            bad.append(("copying flag", p))
        if not (1 <= p["inception_score"] <= 10 and 0.1 <= p["confidence"] <= 1 and p["frechet"] >= 0
                and p["nn_ratio"] > 0):
            bad.append(("ranges", p))
    check("every pass: figures in range, flags = thresholds", not bad, bad[:2])
    s = th.status(c)
    latest = c.json("GET", "/api/quality")[2]["passes"][-1]
    check("status.quality is the newest pass", s["quality"] and s["quality"]["iteration"] >= latest["iteration"],
          (s["quality"], latest["iteration"]))
    kinds = sorted(w["kind"] for w in s["warnings"])
    want = sorted(([] if not s["quality"]["mode_collapse"] else ["mode_collapse"]) +
                  ([] if not s["quality"]["copying"] else ["copying"]))
    check("status warnings follow the newest pass's flags", kinds == want, (kinds, s["quality"]))
    bad_params(c, "/api/quality", [("n=1", "n")], "quality")
    # Prometheus: the newest pass as gauges
    text = c.req("GET", "/metrics")[2].decode()
    q = c.json("GET", "/api/quality")[2]["passes"][-1]
    vals = dict(l.split(" ", 1) for l in text.splitlines() if l.startswith("ganlive_quality_"))
    check("/metrics carries the newest quality pass",
          int(float(vals.get("ganlive_quality_iteration", -1))) >= q["iteration"] and
          all("ganlive_quality_" + k in vals for k in ("inception_score", "frechet", "confidence",
                                                         "nn_ratio", "mode_collapse", "copying")) and
          "# TYPE ganlive_quality_frechet gauge" in text, vals)


def test_nearest(c, train):
    st, _, js = c.json("GET", "/api/nearest?seed=7&n=4")
    check("nearest 200", st == 200 and len(js["items"]) == 4, (st, js))
    if st != 200:
        return
    _, _, js2 = c.json("GET", "/api/nearest?seed=7&n=4")
    check("nearest: same seed and weights, same answer (paused)", js["items"] == js2["items"])
    st, _, png = c.req("GET", "/api/nearest.png?seed=7&n=4")
    w, h, rows = png_pixels(png)
    check("nearest.png: 2 columns x 4 rows", (w, h) == th.grid_size(8, 1) or (w, h) == (58, 4 * 28 + 6),
          (w, h))
    grid = np.array([list(r) for r in rows], dtype=np.uint8)
    bad = []
    for it in js["items"]:
        i, k = it["index"], it["train_index"]
        y0 = i * 30
        sample = grid[y0:y0 + 28, 0:28].reshape(-1).astype(np.float64) / 255.0
        real = grid[y0:y0 + 28, 30:58].reshape(-1)
        if not np.array_equal(real, train[k]):
            bad.append(("right image is not training digit %d" % k, i))
        if it["train_label"] not in range(10):
            bad.append(("label", it))
        d = np.sqrt(((sample - train[k] / 255.0) ** 2).sum())
        if abs(d - it["distance"]) > 0.06:        # 8-bit PNG rounding: < sqrt(784) * 0.5/255
            bad.append(("distance", d, it["distance"]))
        best = np.sqrt(((train / 255.0 - sample) ** 2).sum(axis=1)).min()
        if best < it["distance"] - 0.06:
            bad.append(("a closer training digit exists", best, it["distance"]))
    check("nearest: the named training digit, its distance, none closer (NumPy over 60000)", not bad, bad[:3])
    st, _, js3 = c.json("GET", "/api/nearest?seed=7")
    check("nearest: n defaults to 8", st == 200 and js3["n"] == 8 and len(js3["items"]) == 8, (st, js3))
    check("nearest: test_median from the ceiling", js["test_median"] is None or js["test_median"] > 0,
          js["test_median"])
    bad_params(c, "/api/nearest", [("n=0", "n"), ("n=65", "n"), ("digit=3", "digit"),
                                   ("seed=-1", "seed"), ("k=1", "k")], "nearest")
    bad_params(c, "/api/nearest.png", [("scale=9", "scale"), ("digits=all", "digits")], "nearest.png")


def test_samples_json_annotate(c):
    st, _, js = c.json("GET", "/api/samples.json?n=6&seed=9")
    check("samples.json 200, 6 samples", st == 200 and len(js["samples"]) == 6 and js["seed"] == 9, (st, js))
    if st != 200:
        return
    ok = all(0 <= s["d_fake"] <= 1 and s["label"] in range(10) and 0 < s["confidence"] <= 1 and
             s["requested"] is None for s in js["samples"])
    check("samples.json fields (classifier loaded)", ok and js["classifier"] is True and
          js["conditional"] is False, js)
    st, hd, png = c.req("GET", "/api/samples.png?n=6&seed=9&annotate=1")
    check("annotate=1: RGB PNG", st == 200 and png[25] == 2, (st, png[24:26]))
    w, h, rows = png_pixels(png)
    check("annotate=1: same grid size", (w, h) == th.grid_size(6, 1), (w, h))
    bad = []
    for s in js["samples"]:
        i = s["index"]
        x0, y0 = (i % 3) * 30, (i // 3) * 30
        px = tuple(rows[y0][3 * x0:3 * x0 + 3])
        want = verdict_colour(s["d_fake"])
        if max(abs(a - b) for a, b in zip(px, want)) > 1:
            bad.append((i, px, want, s["d_fake"]))
    check("annotate=1: each frame has the colour of samples.json's d_fake", not bad, bad)
    bad_params(c, "/api/samples.json", [("n=0", "n"), ("scale=2", "scale"), ("digit=1", "digit"),
                                        ("annotate=1", "annotate")], "samples.json")
    bad_params(c, "/api/samples.png", [("annotate=2", "annotate"), ("digits=all", "digits"),
                                       ("digit=1", "not conditional")], "samples.png")


def test_balance(c, port):
    sse = th.SSE(port)
    sse.next(3)
    st, _, js = c.patch("/api/config", {"balance": "auto", "balance_hi": 0.5, "balance_window": 3})
    check("PATCH balance auto", st == 200 and js["balance"] == "auto", (st, js))
    ev = sse.wait_for(lambda e: e["event"] == "balance", 30)
    check("SSE balance event", ev is not None)
    if ev:
        d = ev["data"]
        check("balance event fields", d["action"] in ("skip_d", "skip_g", "resume") and
              isinstance(d["iteration"], int) and 0 <= d["d_acc"] <= 1, d)
    _, _, b = c.json("GET", "/api/balance")
    check("GET /api/balance lists the decisions", b["mode"] == "auto" and len(b["events"]) >= 1 and
          b["events"][0]["action"] == "skip_d" and b["events"][0]["d_acc"] > 0.5, b)
    st, _, js = c.patch("/api/config", {"balance": "off"})
    s = wait_for(lambda: (lambda s: s if s["balance"]["skipping"] is None else None)(th.status(c)), 10)
    check("balance off resumes: skipping null", s is not None and s["balance"]["mode"] == "off")
    sse.close()
    st, _, js = c.patch("/api/config", {"balance": "maybe"})
    check("PATCH balance maybe 400", st == 400 and "balance" in js["error"], js)
    st, _, js = c.patch("/api/config", {"balance_hi": 0.2})
    check("PATCH balance_hi under 0.5 400", st == 400 and "balance_hi" in js["error"], js)
    bad_params(c, "/api/balance", [("x=1", "x")], "balance")


# ---- part 2: POST /api/run and the conditional model ---------------------------

def test_classifier_independent(c, cls):
    """samples.json's labels and confidences against the classifier
    recomputed in NumPy (tests/classifier_np.py) on the very digits of
    samples.png with the same seed: a wrong image-range map into the
    classifier, or a wrong layer, disagrees."""
    st, _, js = c.json("GET", "/api/samples.json?n=64&seed=21")
    st2, _, png = c.req("GET", "/api/samples.png?n=64&seed=21")
    if not check("samples.json and samples.png for the NumPy classifier", st == 200 and st2 == 200, (st, st2)):
        return
    w, h, rows = png_pixels(png)
    pix = np.array([list(r) for r in rows], dtype=np.uint8)
    probs = cls.probs(grid_cells(pix, 64))
    labels = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    same = sum(int(labels[s["index"]]) == s["label"] for s in js["samples"])
    diff = float(np.mean([abs(conf[s["index"]] - s["confidence"]) for s in js["samples"]]))
    check("samples.json labels = the NumPy classifier's on the PNG's digits (%d of 64, mean confidence "
          "difference %.4f)" % (same, diff), same >= 60 and diff < 0.02, (same, diff))


def test_quality_pass_independent(c, cls):
    """A quality pass's confidence, Inception-style score and histogram
    against the NumPy classifier on 512 samples of the same generator: the
    run is paused, stepped to the next pass's iteration, and held there."""
    it = th.status(c)["iteration"]
    target = (it // 40 + 1) * 40
    st, _, js = c.post("/api/step", {"n": target - it})
    check("stepped to the next quality pass (%d)" % target, st == 200 and js["iteration"] == target, (st, js))
    q = wait_for(lambda: (lambda js: [p for p in js["passes"] if p["iteration"] == target])(
        c.json("GET", "/api/quality")[2]), 90)
    if not check("the pass at %d arrives while paused" % target, bool(q)):
        return
    p = q[0]
    cells = []
    for seed in (31, 32):
        st, _, png = c.req("GET", "/api/samples.png?n=256&seed=%d" % seed)
        w, h, rows = png_pixels(png)
        cells.append(grid_cells(np.array([list(r) for r in rows], dtype=np.uint8), 256))
    probs = cls.probs(np.concatenate(cells))
    conf = float(probs.max(axis=1).mean())
    score = inception_score(probs)
    hist = np.bincount(probs.argmax(axis=1), minlength=10) / len(probs)
    tv = 0.5 * float(np.abs(hist - np.array(p["histogram"])).sum())
    print("     pass at %d: confidence %.3f IS %.2f; NumPy on 512 samples: %.3f, %.2f; histogram distance %.3f"
          % (target, p["confidence"], p["inception_score"], conf, score, tv))
    check("quality pass confidence = NumPy classifier's within 0.05", abs(conf - p["confidence"]) < 0.05,
          (conf, p["confidence"]))
    check("quality pass Inception-style score = NumPy's within 15%",
          abs(score - p["inception_score"]) < 0.15 * score, (score, p["inception_score"]))
    check("quality pass histogram = NumPy's within 0.25 (total variation; 0.1 is sampling noise)", tv < 0.25,
          (tv, p["histogram"]))


def test_run_and_conditional(c, run_dir, proc):
    for body, what in (({"preset": "slow"}, "preset"), ({}, "preset"), ({"preset": "fast", "x": 1}, "x")):
        st, _, js = c.post("/api/run", body)
        check("POST /api/run %s 400" % json.dumps(body), st == 400 and what in js["error"], (st, js))
    before = th.status(c)["iteration"]
    t_post = time.time()
    st, _, js = c.post("/api/run", {"preset": "fast"})
    check("POST /api/run fast 202", st == 202 and js and js.get("preset") == "fast" and js.get("restarting") is True,
          (st, js))
    s = wait_for(lambda: (lambda s: s if s and s.get("preset") == "fast" else None)(
        _try_status(c)), 60)
    check("the server comes back with preset fast", s is not None)
    if not s:
        return
    check("same process (exec), still running", proc.poll() is None)
    _, _, m = c.json("GET", "/api/metrics?since=-1&limit=10000")
    first = m["points"][0]["iteration"] if m and m["points"] else None
    check("conditional run from iteration 0: a new run, not the old one going on",
          s["conditional"] is True and s["config"]["model"]["conditional"] is True and
          before >= 40 and s["iteration"] < before and first in (None, 1) and
          s["uptime_s"] < time.time() - t_post + 1 and s.get("last_checkpoint") is None,
          (before, s["iteration"], first, s["uptime_s"], s.get("last_checkpoint")))
    old = [d for d in os.listdir(run_dir) if d.startswith("old-")]
    kept = sum(len(os.listdir(os.path.join(run_dir, d))) for d in old)
    check("the old run's checkpoints are kept aside", len(old) == 1 and kept >= 1, os.listdir(run_dir))
    c.post("/api/pause")
    st, _, png = c.req("GET", "/api/samples.png?digits=all&seed=4")
    check("digits=all: 10 columns x 8 rows", st == 200 and th.png_info(png) == (10 * 28 + 18, 8 * 28 + 14),
          th.png_info(png) if st == 200 else st)
    st, _, png = c.req("GET", "/api/samples.png?digits=all&n=15")
    check("digits=all n=15 -> 20 (whole rows)", st == 200 and th.png_info(png) == (10 * 28 + 18, 2 * 28 + 2),
          th.png_info(png) if st == 200 else st)
    st, _, png = c.req("GET", "/api/samples.png?digit=7&n=16&seed=4")
    check("digit=7: 16 samples", st == 200 and th.png_info(png) == th.grid_size(16, 1), st)
    st, _, js = c.json("GET", "/api/samples.json?digit=7&n=20&seed=4")
    check("samples.json digit=7: every sample asked for 7", st == 200 and
          all(x["requested"] == 7 for x in js["samples"]) and js["conditional"] is True, js)
    st, _, js = c.json("GET", "/api/samples.json?digits=all&n=20&seed=4")
    check("samples.json digits=all: requested = index % 10", st == 200 and
          [x["requested"] for x in js["samples"]] == [i % 10 for i in range(20)], js)
    st, _, js = c.json("GET", "/api/samples.json?n=30&seed=4")
    check("samples.json without digit: drawn labels 0..9", st == 200 and
          all(x["requested"] in range(10) for x in js["samples"]) and
          len(set(x["requested"] for x in js["samples"])) > 3, js)
    st, _, png = c.req("GET", "/api/samples/fixed.png")
    check("fixed.png of a conditional run: 10 columns x 8 rows", st == 200 and
          th.png_info(png) == (10 * 28 + 18, 8 * 28 + 14), th.png_info(png) if st == 200 else st)
    bad_params(c, "/api/samples.png", [("digit=10", "digit"), ("digit=-1", "digit"), ("digits=some", "digits"),
                                       ("digit=1&digits=all", "digit and digits")], "conditional samples.png")


def test_without_classifier(binary, data_dir, tmp):
    """A missing or damaged classifier file: training runs, quality says why,
    samples.json has no labels."""
    bad = os.path.join(tmp, "damaged.bin")
    with open(os.path.join(data_dir, "classifier.bin"), "rb") as f:
        blob = bytearray(f.read())
    blob[100] ^= 0x40                                  # one flipped bit: the CRC catches it
    with open(bad, "wb") as f:
        f.write(blob)
    for path, why in ((os.path.join(tmp, "missing.bin"), "no classifier at"), (bad, "checksum mismatch")):
        cfg = json.load(open(os.path.join(HERE, "config-test.json")))
        cfg["quality"] = {"every": 40, "samples": 200, "classifier": path}
        cfg_path = os.path.join(tmp, "config-nocls.json")
        json.dump(cfg, open(cfg_path, "w"))
        srv = testlib.Server(binary, ["--data", data_dir, "--config", cfg_path],
                             label="no classifier (%s)" % why)
        c = srv.c
        try:
            if not check("server without a usable classifier starts (%s)" % why, srv.ready(60)):
                continue
            q = wait_for(lambda: (lambda js: js if js["reason"] and not js["reason"].startswith("starting")
                                  else None)(c.json("GET", "/api/quality")[2]), 20)
            check("quality unavailable, the reason names the file (%s)" % why,
                  q and q["available"] is False and path in q["reason"] and why in q["reason"] and
                  q["passes"] == [] and q["ceiling"] is None, q)
            th.wait_iteration_above(c, 60, 20)
            st, _, js = c.json("GET", "/api/samples.json?n=3&seed=1")
            check("samples.json without a classifier: labels null, D's verdict still there (%s)" % why,
                  st == 200 and js["classifier"] is False and
                  all(x["label"] is None and x["confidence"] is None and 0 <= x["d_fake"] <= 1
                      for x in js["samples"]), js)
            s = th.status(c)
            check("status: no quality, no warnings, training goes on (%s)" % why,
                  s["quality"] is None and s["warnings"] == [] and s["iteration"] > 60, s["iteration"])
        finally:
            check("server without a usable classifier: SIGTERM exits 0 (%s)" % why, srv.stop() == 0, srv.rc)


# ---- part 4: readable since, early cadence ----------------------------------

READABLE_MIN = 3.0       # quality.readable_score here: reached after a few hundred iterations


def first_readable(passes, threshold):
    """The first pass (unconditional run) whose score reaches threshold."""
    return next((p for p in passes if p["inception_score"] >= threshold), None)


def readable_server(binary, data_dir, cfg_path, run_dir, label):
    return testlib.Server(binary, ["--data", data_dir, "--config", cfg_path, "--run-dir", run_dir,
                                   "--set", "quality.readable_score=%g" % READABLE_MIN], label=label)


def test_readable_and_cadence(binary, data_dir, tmp):
    cfg = json.load(open(os.path.join(HERE, "config-test.json")))
    cfg["quality"] = {"every": 1000, "samples": 200}
    cfg_path = os.path.join(tmp, "config-readable.json")
    json.dump(cfg, open(cfg_path, "w"))
    run_dir = os.path.join(tmp, "run-readable")
    srv = readable_server(binary, data_dir, cfg_path, run_dir, "readable server")
    c = srv.c
    seen = []                                  # (newest pass's iteration, readable_since) from /api/status

    def look():
        q = th.status(c)["quality"]
        if q:
            seen.append((q["iteration"], q["readable_since"]))
        return q

    passes_of = lambda: c.json("GET", "/api/quality")[2]["passes"]  # noqa: E731

    def step_to(target):
        while True:
            it = th.status(c)["iteration"]
            if it >= target:
                return it
            st, _, js = c.post("/api/step", {"n": min(100, target - it)}, timeout=300)
            if st != 200:
                return it

    def pass_at(target, timeout=120):
        """Paused at target: wait for the pass there; how long it took, or None."""
        t0 = time.time()
        if not wait_for(lambda: any(p["iteration"] == target for p in passes_of()), timeout):
            return None
        look()
        return time.time() - t0

    try:
        if not check("readable server answers", srv.ready(60)):
            return
        # Paused and stepped: a pass at exactly each hundred (quality.every is 1000)
        c.post("/api/pause")
        start = th.status(c)["iteration"]
        hundreds = list(range((start // 100 + 1) * 100, 600, 100))
        exact, took = [], 0.0
        for target in hundreds:
            step_to(target)
            dt = pass_at(target, 60)
            if dt is None:
                break                             # no use waiting for the others
            exact.append(target)
            took = max(took, dt)
        check("early cadence, paused and stepped: a pass at exactly %s (quality.every 1000)" % hundreds,
              exact == hundreds and len(hundreds) >= 3, (start, exact, [p["iteration"] for p in passes_of()]))
        for target in (1000, 1500, 1900):      # on in steps of 100; passes wherever they fall
            step_to(target)
            look()
        at1900 = pass_at(1900)
        step_to(2000)
        at2000 = pass_at(2000)
        check("a pass at exactly 1900 (the last of the early cadence) and 2000", at1900 is not None and
              at2000 is not None, [p["iteration"] for p in passes_of()][-5:])
        step_to(2100)
        wait = max(3.0, 3 * max(took, at1900 or 0, at2000 or 0))
        time.sleep(wait)                          # a pass due at 2100 would have come by now
        s = th.status(c)
        its = [p["iteration"] for p in passes_of()]
        print("     passes at %s (paused from %d, at %d waited %.1f s)" % (its, start, s["iteration"], wait))
        early = [i for i in its if i < 2000]
        buckets = [i // 100 for i in early]
        check("passes below 2000 in distinct hundreds, at least 6 of them (every 1000 would give 1)",
              len(early) >= 6 and len(set(buckets)) == len(buckets), early)
        check("after 2000 the configured cadence: no pass at 2100", s["iteration"] == 2100 and 2100 not in its,
              (s["iteration"], its[-3:]))
        q = s["quality"]
        check("status.quality.readable: the score, threshold from the hook",
              q["readable"]["metric"] == "inception_score" and q["readable"]["threshold"] == READABLE_MIN and
              q["as_asked"] is None, q["readable"])
        ps = passes_of()
        first = first_readable(ps, READABLE_MIN)
        if not check("some pass reached score %.1f" % READABLE_MIN, first is not None,
                     [p["inception_score"] for p in ps]):
            return
        since = q["readable_since"]
        check("readable_since = the first pass with score >= %.1f in /api/quality (iteration %d, time %.2f)"
              % (READABLE_MIN, first["iteration"], first["time"]),
              since is not None and since["iteration"] == first["iteration"] and
              abs(since["time_s"] - first["time"]) < 1e-6, (since, first))
        before = [(i, r) for i, r in seen if i < first["iteration"]]
        after = [(i, r) for i, r in seen if i >= first["iteration"]]
        check("readable_since null at every pass before it (%d passes seen)" % len(set(i for i, _ in before)),
              before and all(r is None for _, r in before), before[:8])
        check("readable_since unchanged at every pass after it (%d passes seen)" % len(set(i for i, _ in after)),
              len(set(i for i, _ in after)) >= 3 and all(r == since for _, r in after),
              [x for x in after if x[1] != since][:4])
        best = max(ps, key=lambda p: p["inception_score"])
        check("readable.best: the best score so far and its pass",
              abs(q["readable"]["best"] - best["inception_score"]) < 1e-4 and
              q["readable"]["best_iteration"] == best["iteration"], (q["readable"], best["iteration"]))
        # a restart on the same run: the same moment when the passes come back
        check("readable server: SIGTERM exits 0", srv.stop() == 0, srv.rc)
        srv = readable_server(binary, data_dir, cfg_path, run_dir, "readable server, restarted")
        c = srv.c
        if not check("restarted readable server answers", srv.ready(60)):
            return
        c.post("/api/pause")
        wait_for(lambda: th.status(c)["quality"] is not None, 30)
        s2 = th.status(c)
        ps2 = passes_of()
        back = any(p["iteration"] == first["iteration"] for p in ps2)
        f2 = first_readable(ps2, READABLE_MIN)
        since2 = s2["quality"]["readable_since"] if s2["quality"] else None
        check("after a restart readable_since = the first readable pass the server lists (%s)"
              % ("the passes came back" if back else "no passes came back from the run log"),
              s2["iteration"] >= 2100 and
              ((f2 is None and since2 is None) or
               (f2 is not None and since2 is not None and since2["iteration"] == f2["iteration"] and
                abs(since2["time_s"] - f2["time"]) < 1e-6)), (since2, f2, s2["iteration"]))
        check("after a restart readable_since is the same moment as before (passes back from the run log)",
              back and since2 == since, (since2, since))
        # a new run starts unreadable (small, like the test model, so its first pass comes soon)
        c.post("/api/resume")
        st, _, js = c.post("/api/run", {"preset": "fast", "settings": {
            "model.nz": 32, "model.ngf": 32, "model.ndf": 16, "train.threads": 1,
            "quality.every": 1000, "quality.samples": 200}})
        s3 = wait_for(lambda: (lambda s: s if s and s.get("preset") == "fast" else None)(_try_status(c)), 60)
        if not check("new run (fast) after POST /api/run", st == 202 and s3 is not None, (st, js)):
            return
        check("a new run has no readable_since", s3["quality"] is None or s3["quality"]["readable_since"] is None,
              s3["quality"])
        q3 = wait_for(lambda: th.status(c)["quality"], 120)
        # The fast preset of the recipe sweep can be readable by its first pass
        # seen here (86% at iteration 544 once), so readable_since is either
        # still null or a moment of this run: at or before this pass, with a best
        # over the bar, and not the old run's moment.
        since3 = q3["readable_since"] if q3 else None
        check("the new run's first pass: conditional, as_asked in [0, 1], readable_since null or its own",
              q3 is not None and q3["readable"]["metric"] == "as_asked" and
              isinstance(q3["as_asked"], (int, float)) and 0 <= q3["as_asked"] <= 1 and
              (since3 is None and q3["readable"]["best"] == q3["as_asked"] or
               since3 is not None and since3 != since and since3["iteration"] <= q3["iteration"] and
               q3["readable"]["best"] >= q3["readable"]["threshold"]), q3)
    finally:
        check("readable server: SIGTERM exits 0 at the end", srv.stop() == 0, srv.rc)


def _try_status(c):
    try:
        st, _, js = c.json("GET", "/api/status", timeout=2)
        return js if st == 200 else None
    except OSError:
        return None


def run(binary, data_dir):
    tmp = tempfile.mkdtemp(prefix="ganlive-quality-")
    run_dir = os.path.join(tmp, "run")
    cfg = json.load(open(os.path.join(HERE, "config-test.json")))
    cfg["quality"] = {"every": 40, "samples": 200}
    cfg_path = os.path.join(tmp, "config.json")
    json.dump(cfg, open(cfg_path, "w"))
    srv = testlib.Server(binary, ["--data", data_dir, "--config", cfg_path, "--run-dir", run_dir],
                         label="quality server")
    c = srv.c
    try:
        if not check("server answers /api/status", srv.ready(60)):
            return
        train = load_train(data_dir)
        cls = Classifier(os.path.join(data_dir, "classifier.bin"))
        test_status_fields(c)
        test_quality(c)
        test_balance(c, srv.port)
        c.post("/api/pause")
        test_nearest(c, train)
        test_samples_json_annotate(c)
        test_classifier_independent(c, cls)
        test_quality_pass_independent(c, cls)
        c.post("/api/resume")
        test_run_and_conditional(c, run_dir, srv.proc)
        check("quality server: SIGTERM exits 0", srv.stop() == 0, srv.rc)
        test_without_classifier(binary, data_dir, tmp)
        test_readable_and_cadence(binary, data_dir, tmp)
    except Exception as e:  # report, then clean up below
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        testlib.reap_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_quality_api.py"))
