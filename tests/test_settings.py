#!/usr/bin/env python3
"""test_settings.py - one description for each setting, seen from outside.

    python3 tests/test_settings.py BINARY DATA_DIR

The settings table (server/config.c) drives the config file, PATCH, the
command-line flags and their --help lines, the checkpoint's checks and POST
/api/run's settings. What this proves against the real binary:
  - `ganlive --help` lists every setting that the status's config shows, with its
    range and default; every flag line names the setting it stands for;
  - each such flag sets exactly that setting (one server with every flag
    given a value that is not its default), and --set SECTION.KEY=V sets any
    setting, later flags winning over earlier ones;
  - a bad flag or --set value exits 2 with the same message the config file
    gives for that value;
  - POST /api/run {"preset", "name", "settings"} starts the new run under
    that name with those settings and the preset's values for the rest (not
    the old command line's --batch / --set), keeps the old run listed, and
    refuses bad names, taken names, unknown settings, settings outside the
    recipe and values out of range with 400/409 naming the field, changing
    nothing;
  - GET /api/presets says beforehand what such a run gets: each model and
    train setting of the restarted run is the one it predicted for fast.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Server, check, main, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def test_config(tmp, **sections):
    with open(os.path.join(HERE, "config-test.json")) as f:
        cfg = json.load(f)
    for sec, kv in sections.items():
        cfg.setdefault(sec, {}).update(kv)
    path = os.path.join(tmp, "config-%d.json" % len(os.listdir(tmp)))
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def help_text(binary):
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout


def settings_of(shown):
    """{"section.key": value} of GET /api/config's nested view."""
    return {"%s.%s" % (s, k): v for s, kv in shown.items() if isinstance(kv, dict) for k, v in kv.items()}


def test_help(binary, shown):
    with open(os.path.join(HERE, "..", "config", "default.json")) as f:
        defaults = settings_of(json.load(f))
    rc, text = help_text(binary)
    check("--help exits 0", rc == 0, rc)
    listed = set(re.findall(r"^  ([a-z0-9_]+\.[a-z0-9_]+)\b", text, re.M))
    missing = sorted(set(shown) - listed)
    check("--help lists every setting the status's config shows (%d)" % len(shown), not missing, missing)
    for name in ("train.lr_d", "train.d_steps", "model.nz"):
        line = re.search(r"^  %s\s+(.*(?:\n {20,}.*)*)" % re.escape(name), text, re.M)
        body = " ".join(line.group(1).split()) if line else ""
        check("--help: %s with its range and default" % name,
              ("in [" in body) and ("default %s" % json.dumps(defaults[name])) in body, body)
    check("--help: live settings say so", re.search(r"^  train\.lr_d .*live", text, re.M) is not None)
    flags = dict(re.findall(r"^  --([a-z-]+) [A-Z]+\s.*?\(([a-z_]+\.[a-z_]+)[,)]", text.replace("\n" + " " * 28, " "),
                            re.M))
    check("--help: each setting flag names its setting", flags.get("seed") == "train.seed"
          and flags.get("batch") == "train.batch" and flags.get("runs-root") == "run.root", flags)
    return flags


def test_flags(binary, data, tmp, flags):
    """One server, every setting flag given a value that is not its default."""
    root = os.path.join(tmp, "root-flags")
    values = {
        "data": (data, "data.dir"), "dataset": ("mnist", None), "seed": ("77", "train.seed"),
        "threads": ("1", "train.threads"), "iters": ("0", "train.iters"), "batch": ("24", "train.batch"),
        "seconds": ("5", "train.seconds"),
        "bind": ("127.0.0.1", "server.bind"), "token": ("flag-token-0123456789", None),
        "run-dir": (os.path.join(root, "by-dir"), "run.dir"), "runs-root": (root, "run.root"),
        "run-name": ("by-name", "run.name"),
    }
    check("every setting flag of --help is tried here", set(flags) - {"port"} == set(values),
          sorted(set(flags) ^ set(values)))
    args = ["--config", test_config(tmp)]
    for flag, (v, _) in values.items():
        args += ["--" + flag, v]
    args += ["--set", "train.d_steps=3", "--set", "model.ngf=16", "--set", "train.lr_g=1e-3",
             "--set", "quality.every=0", "--set", "train.batch=20",   # after --batch 24: wins
             "--set", "timeline.every=7", "--batch", "20"]
    s = Server(binary, args, label="flags server")
    try:
        if not check("server with every flag answers", s.ready()):
            return
        got = settings_of((s.status() or {}).get("config", {}))
        for flag, (v, name) in values.items():
            if name:
                want = int(v) if name in ("train.seed", "train.threads", "train.iters", "train.batch",
                                         "train.seconds") else v
                if name == "train.batch":
                    want = 20
                check("--%s sets %s" % (flag, name), got.get(name) == want, (got.get(name), want))
        check("--set sets any setting (d_steps, ngf, lr_g, quality.every, timeline.every)",
              got.get("train.d_steps") == 3 and got.get("model.ngf") == 16 and got.get("train.lr_g") == 0.001
              and got.get("quality.every") == 0 and got.get("timeline.every") == 7, got)
        st, _, js = s.c.post("/api/pause", {})
        check("--token sets server.token: a POST without it is refused", st == 401, (st, js))
    finally:
        s.stop()


def refusal(binary, args):
    p = subprocess.run([binary, "train"] + args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr.strip()


def test_bad_values(binary, data, tmp):
    cases = [("train.d_steps", "0", 0), ("train.lr_d", "two", "two"), ("model.nz", "1025", 1025),
             ("data.dataset", "cifar", "cifar"), ("model.conditional", "yes", "yes"),
             ("train.seed", "9007199254740992", "9007199254740992")]
    for name, text, jv in cases:
        sec, key = name.split(".")
        rc_set, err_set = refusal(binary, ["--data", data, "--set", "%s=%s" % (name, text)])
        rc_file, err_file = refusal(binary, ["--data", data, "--config", test_config(tmp, **{sec: {key: jv}})])
        why_set = err_set.split(": ", 2)[-1] if err_set else ""
        check("--set %s=%s: exit 2, the config file's message" % (name, text),
              rc_set == 2 and rc_file == 2 and why_set and err_file.endswith(why_set), (rc_set, err_set, err_file))
    rc, err = refusal(binary, ["--data", data, "--batch", "0"])
    check("--batch 0: exit 2 naming the flag and the setting's range",
          rc == 2 and "--batch" in err and "train.batch: must be an integer in [1, 1024]" in err, (rc, err))
    for bad in (["--set", "nosuch.key=1"], ["--set", "train.d_steps"], ["--set", "=3"]):
        rc, err = refusal(binary, ["--data", data] + bad)
        check("%s: exit 2 with a reason" % " ".join(bad), rc == 2 and "--set" in err, (rc, err))


def test_new_run(binary, data, tmp):
    root = os.path.join(tmp, "root-run")
    cfg = test_config(tmp, run={"checkpoint_every_s": 60, "keep": 2})
    s = Server(binary, ["--data", data, "--config", cfg, "--runs-root", root, "--run-name", "first",
                        "--batch", "24", "--set", "train.d_steps=2"], label="new-run server")
    try:
        if not check("new-run server answers", s.ready()):
            return
        before = settings_of(s.status()["config"])
        check("the first run has the old command line's batch 24 and d_steps 2",
              before["train.batch"] == 24 and before["train.d_steps"] == 2, before)
        refused = [
            ({"preset": "fast", "name": "../x"}, 400, "name"),
            ({"preset": "fast", "name": "a/old-1"}, 400, "name"),
            ({"preset": "fast", "name": "current"}, 400, "name"),
            ({"preset": "fast", "name": "first"}, 409, "name"),
            ({"preset": "fast", "name": 5}, 400, "name"),
            ({"preset": "fast", "settings": {"train.nope": 1}}, 400, "settings.train.nope"),
            ({"preset": "fast", "settings": {"server.port": 1}}, 400, "settings.server.port"),
            ({"preset": "fast", "settings": {"run.dir": "x"}}, 400, "settings.run.dir"),
            ({"preset": "fast", "settings": {"train.d_steps": 0}}, 400, "settings.train.d_steps: must be an integer in [1, 100]"),
            ({"preset": "fast", "settings": {"train.lr_d": "fast"}}, 400, "settings.train.lr_d"),
            ({"preset": "fast", "settings": {"train.lr_d": [1]}}, 400, "settings.train.lr_d"),
            ({"preset": "fast", "settings": [1]}, 400, "settings"),
            ({"preset": "fast", "colour": "red"}, 400, "colour"),
            ({"preset": "slow"}, 400, 'preset: must be "classic" or "fast"'),
        ]
        # GET /api/presets: what a new run of each preset would start with
        st, _, js = s.c.json("GET", "/api/presets")
        predicted = {p["name"]: settings_of({"model": p["model"], "train": p["train"]})
                     for p in (js or {}).get("presets", [])}
        check("GET /api/presets: classic then fast, each with its model and train settings",
              st == 200 and list(predicted) == ["classic", "fast"] and
              predicted["fast"]["model.ngf"] == 64 and predicted["classic"]["model.ngf"] == 128, (st, js))
        check("GET /api/presets: the preset's values over this run's command line (fast: batch 16, "
              "d_steps 1; the first run has 24 and 2)",
              predicted.get("fast", {}).get("train.batch") == 16 and predicted["fast"]["train.d_steps"] == 1 and
              predicted["classic"]["train.batch"] == 64, predicted.get("fast"))
        st, _, js = s.c.json("GET", "/api/presets?x=1")
        check("GET /api/presets?x=1: 400 naming x", st == 400 and "x" in (js or {}).get("error", ""), (st, js))
        for body, code, field in refused:
            st, _, js = s.c.post("/api/run", body)
            check("POST /api/run %s: %d naming %s" % (json.dumps(body)[:70], code, field.split(":")[0]),
                  st == code and field in (js or {}).get("error", ""), (st, js))
        st = s.status()
        check("the refusals changed nothing: the same run still trains",
              st and st["state"] == "running" and settings_of(st["config"]) == before, st and st["config"])
        body = {"preset": "fast", "name": "second", "settings": {"train.lr_d": 0.002, "model.ngf": 16,
                                                                  "train.seed": "12345678901234"}}
        st, _, js = s.c.post("/api/run", body)
        check("POST /api/run with a name and settings: 202 echoing them",
              st == 202 and js["name"] == "second" and js["settings"] == body["settings"] and js["restarting"],
              (st, js))

        def restarted():
            st_ = s.status()
            return st_ if st_ and st_["config"]["preset"] == "fast" else None
        st = wait_for(restarted, 60)
        if not check("the server restarts on the new run", st is not None, s.text()[-600:]):
            return
        got = settings_of(st["config"])
        check("the new run has the asked settings (lr_d 0.002, ngf 16, a 14-digit seed)",
              got["train.lr_d"] == 0.002 and got["model.ngf"] == 16 and str(got["train.seed"]) == "12345678901234",
              got)
        check("the rest are the preset's, not the old command line's (batch 16, d_steps 1)",
              got["train.batch"] == 16 and got["train.d_steps"] == 1 and got["train.lr_g"] == 0.0005, got)
        want = dict(predicted.get("fast", {}), **body["settings"])
        want["train.seed"] = int(want["train.seed"])
        off = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
        check("every model and train setting is what GET /api/presets predicted for fast (with the asked ones)",
              predicted.get("fast") and not off, off)
        check("its name and directory: second, under the runs root",
              got["run.name"] == "second" and os.path.realpath(got["run.dir"]) ==
              os.path.realpath(os.path.join(root, "second")), (got["run.name"], got["run.dir"]))
        st, _, js = s.c.json("GET", "/api/runs")
        runs = {r["name"]: r for r in (js or {}).get("runs", [])}
        check("/api/runs: second is current, first is kept (stopped)",
              runs.get("second", {}).get("state") == "current" and runs.get("first", {}).get("state") == "stopped",
              {k: v.get("state") for k, v in runs.items()})
        check("/api/runs: second's differences from its preset name lr_d and ngf",
              {"lr_d", "ngf"} <= set(runs.get("second", {}).get("differs", {})), runs.get("second"))
        # the config file says run.dir "": a run without a name must still get a directory
        st, _, js = s.c.post("/api/run", {"preset": "classic", "name": None})
        made = (js or {}).get("name") or ""
        check("POST /api/run without a name: 202 with a name made from the preset and the time",
              st == 202 and re.fullmatch(r"classic-\d{8}-\d{6}(-\d+)?", made), (st, js))
        st = wait_for(lambda: (lambda x: x if x and x["config"]["preset"] == "classic" else None)(s.status()), 60)
        got = settings_of(st["config"]) if st else {}
        check("the unnamed new run is that name, under the root, batch back to the preset's 64",
              got.get("run.name") == made and got.get("train.batch") == 64
              and os.path.isdir(os.path.join(root, made)), got)
    finally:
        s.stop()


def run(binary, data):
    tmp = tempfile.mkdtemp(prefix="ganlive-settings-test-")
    try:
        s = Server(binary, ["--data", data, "--config", test_config(tmp), "--run-dir", ""], label="plain server")
        shown = {}
        if check("plain server answers", s.ready()):
            shown = settings_of((s.status() or {}).get("config", {}))
        s.stop()
        flags = test_help(binary, shown)
        test_flags(binary, data, tmp, flags)
        test_bad_values(binary, data, tmp)
        test_new_run(binary, data, tmp)
    except Exception as e:                   # a broken answer fails the suite, never leaves servers behind
        check("the suite ran to its end", False, repr(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(run, "test_settings.py"))
