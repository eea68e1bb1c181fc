#!/usr/bin/env python3
"""test_modes.py - every endpoint in every server mode.

    python3 tests/test_modes.py BINARY DATA_DIR

A crash hid in one mode once (checkpoints off: POST /api/checkpoint then
GET /api/checkpoint/latest freed an unset pointer) because no suite ran
that endpoint in that mode. This suite starts one server per mode (plain,
checkpoints off, conditional, conditional with a projection D and spectral
normalisation, no classifier, LAN bind with a token, diverged) and sends every route of the API to each: every GET with typical
parameters, then pause, step, checkpoint, a live setting and resume. Each
answer must be one the mode allows (a 500 only where the mode cannot do
the thing: saving with checkpoints off), every JSON answer must parse, and
the server must end with exit status 0 and, under a sanitizer, without a
report (testlib.Server checks both). Run by tests/run.sh plain and under
ASan+UBSan.
"""
import json
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Server, check, main, wait_for  # noqa: E402

TOKEN = "modes-token-0123456789abcdef"

# (path, statuses allowed in any mode); mode-specific rules are in expect().
GETS = [
    "/api/status", "/api/metrics?since=0&limit=5", "/api/samples.png?n=4&seed=3",
    "/api/samples.png?n=4&seed=3&annotate=1", "/api/samples.json?n=4&seed=3",
    "/api/samples.png?n=4&digit=3&seed=3", "/api/samples.png?digits=all&seed=3",
    "/api/samples/fixed.png", "/api/quality", "/api/nearest?n=2&seed=3",
    "/api/nearest.png?n=2&seed=3", "/api/balance", "/api/timeline", "/api/config",
    "/api/checkpoint/latest", "/api/metrics.csv", "/metrics", "/api/real.png?n=4&seed=3",
    "/api/interpolate.png?from=1&to=2&steps=3", "/api/invite", "/api/invite.png?i=0", "/api/presets",
    "/", "/app.js",
]


def req(port, method, path, body=None, auth=False):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        h = {}
        if body is not None:
            h["Content-Type"] = "application/json"
        if auth:
            h["Authorization"] = "Bearer " + TOKEN
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def expect(mode, method, path):
    """The statuses this mode may answer."""
    base = path.split("?")[0]
    if "digit=" in path or "digits=" in path:
        return {200} if mode in ("conditional", "projection-sn") else {400}
    if base == "/api/invite.png":
        return {200} if mode == "lan" else {404}
    if base == "/api/checkpoint/latest":
        return {200, 404} if mode != "ckpt-off" else {404}
    if method == "POST" and base == "/api/checkpoint":
        return {"ckpt-off": {500}, "diverged": {409}}.get(mode, {200})
    if method == "POST" and base == "/api/step":
        return {409} if mode == "diverged" else {200}
    if method == "POST" and base == "/api/resume":
        return {200, 409} if mode == "diverged" else {200}
    return {200}


def sweep(mode, s, auth):
    bad = []
    for path in GETS:
        st, ctype, body = req(s.port, "GET", path)
        ok = st in expect(mode, "GET", path)
        if ok and "json" in ctype:
            try:
                json.loads(body)
            except ValueError:
                ok = False
        if not ok:
            bad.append((path, st, body[:120]))
    check("%s: every GET answers as the mode allows" % mode, not bad, bad[:4])
    # the event stream: its first event arrives
    sk = socket.create_connection(("127.0.0.1", s.port), timeout=20)
    sk.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = b""
    deadline = time.time() + 20
    while b"event: state" not in got and time.time() < deadline:
        chunk = sk.recv(65536)
        if not chunk:
            break
        got += chunk
    sk.close()
    check("%s: the event stream opens with a state event" % mode, b"event: state" in got, got[:200])
    posts = [("POST", "/api/pause", {}), ("POST", "/api/step", {"n": 2}),
             ("POST", "/api/checkpoint", {}), ("PATCH", "/api/config", {"lr_d": 0.0002}),
             ("POST", "/api/resume", {})]
    bad = []
    for method, path, body in posts:
        st, ctype, data = req(s.port, method, path, body, auth)
        allowed = expect(mode, method, path)
        ok = st in allowed
        try:
            js = json.loads(data)
            ok = ok and isinstance(js, dict) and (st < 400 or "error" in js)
        except ValueError:
            ok = False
        if not ok:
            bad.append((method, path, st, data[:160]))
    check("%s: pause, step, checkpoint, a live setting and resume answer as the mode allows" % mode,
          not bad, bad[:4])
    if auth:
        st, _, _ = req(s.port, "POST", "/api/pause", {}, auth=False)
        check("%s: a change without the token is 401" % mode, st == 401, st)
    st, _, _ = req(s.port, "GET", "/api/status")
    check("%s: the server still answers after the sweep" % mode, st == 200, st)


def run(binary, data):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "config-test.json")) as f:
        base = json.load(f)
    tmp = tempfile.mkdtemp(prefix="ganlive-modes-")
    modes = [
        ("plain", {}, [], {}),
        ("ckpt-off", {"run": {"dir": ""}}, [], {}),
        ("conditional", {"model": {"conditional": True}}, [], {}),
        ("projection-sn", {"model": {"conditional": True, "projection": True, "spectral_norm": True}}, [], {}),
        ("no-classifier", {"quality": {"classifier": os.path.join(tmp, "missing.bin"), "every": 5}}, [], {}),
        ("lan", {}, ["--bind", "0.0.0.0", "--token", TOKEN], {}),
        ("diverged", {}, [], {"GANLIVE_TEST_POISON_AT": "8"}),
    ]
    for name, over, flags, env in modes:
        cfg = json.loads(json.dumps(base))
        for sec, vals in over.items():
            cfg.setdefault(sec, {}).update(vals)
        if "dir" not in over.get("run", {}):
            cfg["run"]["dir"] = os.path.join(tmp, "run-" + name)
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        s = Server(binary, ["--data", data, "--config", path] + flags, env=env, label=name)
        if not check("%s: server starts" % name, s.ready()):
            s.stop()
            continue
        if name == "diverged":
            ok = wait_for(lambda: (s.status() or {}).get("state") == "diverged", 60)
            check("diverged: the run diverged", ok, s.status())
        else:
            ok = wait_for(lambda: (s.status() or {}).get("iteration", 0) >= 6, 60)
            check("%s: training runs" % name, ok, s.status())
        try:
            sweep(name, s, auth=name == "lan")
        except OSError as e:               # the server died under the sweep: a failure, not a crash
            check("%s: every request answered" % name, False, repr(e))
        s.stop()


if __name__ == "__main__":
    sys.exit(main(run, "test_modes.py"))
