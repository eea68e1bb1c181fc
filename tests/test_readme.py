#!/usr/bin/env python3
"""test_readme.py - the README's HTTP API examples, run as a test, so the
manual cannot drift from the server.

    python3 tests/test_readme.py ./ganlive data/mnist

README.md is read when the test runs: every ```sh block of its "HTTP API"
section that holds `curl` commands is split into commands (lines starting
with `curl`) and what the manual shows after each. Each command is run by
/bin/sh, as a reader would paste it, with $G pointing at a real server
started for the purpose (the test model, checkpoints in a temporary
directory, a conditional twin for the `digit`/`digits` examples), and then:

  - it must succeed: curl exits 0 (an SSE stream is cut after 3 s), and the
    HTTP status is 2xx, or 4xx where the manual shows {"error": ...}, or
    exactly the code the manual prints (`-w '%{http_code}'`);
  - JSON shown is checked by its shape: every key the manual names exists
    at the same place in the answer (lists match any element; an empty
    list, or "..." in the manual, leaves the rest unchecked); an answer
    shown without "..." may have no other top-level keys; and an error
    message shown in full must be the server's word for word;
  - text shown (CSV, Prometheus, SSE, headers) is checked line by line with
    numbers masked: each line must begin some line of the answer.

The invite examples run against a third server bound to 0.0.0.0 (with a
token, as any bind off loopback needs), the POST /api/run examples against
a fourth (each restarts it on a new run, and the next example waits until
it is back). An If-None-Match example gets the
ETag its server gave the example before it.

A server that prints anything a sanitizer would, or dies, fails the suite.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from testlib import check, main as testlib_main  # noqa: E402
from test_http import Client, free_port, wait_ready  # noqa: E402

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "munmap_chunk", "free(): invalid", "double free")


# ---- reading the manual ---------------------------------------------------------

def api_section(text):
    """The text of '## HTTP API' up to the next '## ' heading."""
    m = re.search(r"^## HTTP API\n(.*?)(?=^## )", text, re.S | re.M)
    return m.group(1) if m else ""


def examples(section):
    """[(heading, command, expected lines)] in the order of the manual."""
    out = []
    heading = ""
    lines = section.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            heading = line[4:].strip()
        if line.strip() == "```sh":
            block = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                block.append(lines[i])
                i += 1
            cmd, exp = None, []
            for b in block:
                if b.startswith("curl "):
                    if cmd:
                        out.append((heading, cmd, exp))
                    cmd, exp = b, []
                elif cmd is not None:
                    exp.append(b)
            if cmd:
                out.append((heading, cmd, exp))
        i += 1
    return out


def json_paths(text):
    """The key paths a JSON-ish text with '...' elisions names: a tuple of
    keys per key (lists are transparent). Returns (paths, elided)."""
    paths, stack, i = [], [], 0
    pending = None                 # the key just read, until its value opens
    elided = "..." in text
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            s = text[i + 1:j]
            k = j + 1
            while k < len(text) and text[k] in " \t\n":
                k += 1
            if k < len(text) and text[k] == ":" and stack and stack[-1][0] == "{":
                path = tuple(p for kind, p in stack if p is not None) + (s,)
                paths.append(path)
                pending = s
                i = k + 1
                continue
            i = j + 1
            continue
        if c in "{[":
            stack.append((c, pending))     # the key this value belongs to, if any
            pending = None
        elif c in "}]":
            if stack:
                stack.pop()
        elif c == ",":
            pending = None
        i += 1
    return paths, elided


def lookup(value, path):
    """Does `path` exist in value? True, False, or None when unknowable
    (an empty list or a null on the way)."""
    if not path:
        return True
    if isinstance(value, list):
        if not value:
            return None
        results = [lookup(v, path) for v in value]
        if any(r is True for r in results):
            return True
        return None if all(r is None for r in results) else False
    if isinstance(value, dict):
        if path[0] not in value:
            return False
        return lookup(value[path[0]], path[1:])
    return None if value is None else False


def mask(line):
    return re.sub(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", "N", line)


def text_line_ok(exp, actual_lines, http_headers):
    e = exp.rstrip()
    if not e.strip() or e.strip() == "...":
        return True
    if "..." in e:
        e = e[:e.index("...")]
    if e.startswith("data: "):
        e = e[:7] if e[6:7] in "{[" else e
    if http_headers and re.match(r"^[A-Za-z][A-Za-z-]*: ", e):   # a header: its name
        name = e.split(":", 1)[0].lower() + ":"
        return any(a.lower().startswith(name) for a in actual_lines)
    if re.fullmatch(r"\d+", e.strip()):                      # a bare number: exact
        return any(a.strip() == e.strip() for a in actual_lines)
    me = mask(e)
    return any(mask(a).startswith(me) for a in actual_lines)


# ---- servers -------------------------------------------------------------------

class Server:
    def __init__(self, binary, data_dir, name, overrides, extra=()):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="ganlive-readme-")
        with open(os.path.join(HERE, "config-test.json")) as f:
            cfg = json.load(f)
        for sec, vals in overrides.items():
            cfg.setdefault(sec, {}).update(vals)
        cfg.setdefault("run", {})["dir"] = os.path.join(self.tmp, "run")
        path = os.path.join(self.tmp, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.port = free_port()
        self.logpath = os.path.join(self.tmp, "server.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([binary, "serve", "--port", str(self.port), "--data",
                                      data_dir, "--config", path] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.c = Client(self.port)
        self.url = "http://127.0.0.1:%d" % self.port
        self.ready = check("%s server answers" % name, wait_ready(self.c, self.proc, 60),
                           self.output()[-2000:])

    def output(self):
        self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_iteration(self, it, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, _, js = self.c.json("GET", "/api/status")
            if st == 200 and js["iteration"] >= it:
                return True
            time.sleep(0.2)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.output()
        self.log.close()
        rc = self.proc.returncode
        check("%s server exited cleanly" % self.name, rc == 0, "exit %s" % rc)
        marks = [m for m in SANITIZER_MARKS if m in out]
        check("%s server: no sanitizer report" % self.name, not marks, out[-3000:])
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- running one example ---------------------------------------------------------

LAST_ETAG = {}


def run_example(idx, heading, cmd, exp, server, workdir):
    label = "README %s: %s" % (heading, cmd if len(cmd) < 90 else cmd[:87] + "...")
    # An If-None-Match example shows an ETag from the example before it: use
    # the one this server just gave for the same URL.
    # While training runs the snapshot moves every live_every_ms, so the tag
    # may be stale by the time the example runs: then it is fetched afresh
    # and the example tried again (a few times).
    inm = re.search(r"If-None-Match: (\"[^\"]*\")", cmd)
    url = re.search(r'"(\$G[^"]*)"', cmd)
    if inm and url and LAST_ETAG.get((server.url, url.group(1))):
        shown = inm.group(1)
        for attempt in range(5):
            tag = LAST_ETAG[(server.url, url.group(1))]
            r = subprocess.run(["sh", "-c", cmd.replace(shown, tag)], capture_output=True,
                               text=True, env=dict(os.environ, G=server.url), cwd=workdir,
                               timeout=60)
            if r.returncode == 0 and r.stdout.strip() == "\n".join(exp).strip():
                check(label + " -> the lines shown", True)
                return
            path = url.group(1)[2:]
            LAST_ETAG[(server.url, url.group(1))] = server.c.req("GET", path)[1].get("etag", tag)
        check(label + " -> the lines shown", False,
              "5 tries, last: exit %d, %r (tag %s)" % (r.returncode, r.stdout, tag))
        return
    stream = " -sN " in cmd or cmd.startswith("curl -sN")
    shell = cmd
    own_w = " -w " in cmd or "--write-out" in cmd
    if not own_w:
        shell = cmd.replace("curl ", "curl -w '\\n@@STATUS %{http_code}@@\\n' ", 1)
    if stream:
        shell = shell.replace("curl ", "curl --max-time 3 ", 1)
    env = dict(os.environ, G=server.url)
    r = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, env=env,
                       cwd=workdir, timeout=120)
    out = r.stdout
    status = None
    m = re.search(r"\n?@@STATUS (\d+)@@\n?", out)
    if m:
        status = int(m.group(1))
        out = out[:m.start()] + out[m.end():]
    ok_exit = r.returncode == 0 or (stream and r.returncode == 28)
    exp_text = "\n".join(exp).strip()
    shows_error = exp_text.startswith("{") and '"error"' in exp_text.split(",")[0]
    if status is not None:
        good = 400 <= status < 500 if shows_error else 200 <= status < 300
        if not check(label + " -> status", ok_exit and good,
                     "exit %d, status %s, %s%s" % (r.returncode, status, out[:300], r.stderr[:200])):
            return
    else:
        check(label + " -> runs", ok_exit, "exit %d %s" % (r.returncode, r.stderr[:200]))
    if not exp_text:
        return
    # what the manual shows: from stdout, or from the file a -OJ saved
    saved = re.search(r"#\s*saves\s+(\S+)", cmd)
    if saved and os.path.exists(os.path.join(workdir, saved.group(1))):
        with open(os.path.join(workdir, saved.group(1))) as f:
            out = f.read()
    if exp_text.startswith("{") or exp_text.startswith("["):
        try:
            actual = json.loads(out)
        except ValueError:
            check(label + " -> JSON", False, out[:300])
            return
        paths, _ = json_paths(exp_text)
        missing = [".".join(p) for p in paths if lookup(actual, p) is False]
        check(label + " -> the keys shown exist", not missing,
              "missing %s in %s" % (missing, out[:400]))
        if "..." not in exp_text and isinstance(actual, dict):   # shown whole: no more keys
            shown = {p[0] for p in paths if len(p) == 1}
            extra = sorted(set(actual) - shown)
            check(label + " -> no keys beyond those shown", not extra,
                  "the server also sends %s" % extra)
        em = re.search(r'"error"\s*:\s*"([^"]*)"\s*}', exp_text)
        if em and "..." not in em.group(1):
            check(label + " -> the error message is the server's",
                  actual.get("error") == em.group(1), (actual.get("error"), em.group(1)))
        return
    lines = out.splitlines()
    http_headers = bool(lines) and lines[0].startswith("HTTP/")
    for a in lines:
        if http_headers and a.lower().startswith("etag:") and url:
            LAST_ETAG[(server.url, url.group(1))] = a.split(":", 1)[1].strip()
    bad = [e for e in exp if not text_line_ok(e, lines, http_headers)]
    near = [a for a in lines for b in bad if b[:14] and a.startswith(b[:14])][:5]
    check(label + " -> the lines shown", not bad,
          "not found: %s; nearest lines: %s" % (bad, near or out[:300]))


def wait_new_run(server, timeout=180, settle=10):
    """After a POST /api/run example the process saves, exec()s itself and
    comes back on the new run (slowly under a sanitizer): the examples after
    it must meet neither the old process going down nor the new one starting.
    Waits until /api/status answers from a process younger than the wait (a
    restart), or the same process still answers after `settle` seconds (the
    request was refused). True, or a failed check."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            st, _, js = server.c.json("GET", "/api/status", timeout=5)
        except OSError:
            st, js = 0, None
        if st == 200 and js:
            age = js.get("uptime_s", 1e9)
            if age < time.time() - t0:                     # a new process: the restart is done
                return True
            if time.time() - t0 > settle:                  # the old one, still: nothing restarted
                return True
        time.sleep(0.2)
    check("%s server came back after POST /api/run" % server.name, False, "%d s" % timeout)
    return False


def run(binary, data_dir):
    with open(os.path.join(ROOT, "README.md")) as f:
        section = api_section(f.read())
    exs = examples(section)
    check("README: the HTTP API section has curl examples", len(exs) >= 20, len(exs))
    workdir = tempfile.mkdtemp(prefix="ganlive-readme-work-")
    # timeline max 10000: the README shows snapshot 100, which a full timeline
    # (100 snapshots, reached at iteration 10,000 by a fast build within the
    # suite's two minutes) would thin away
    main = Server(binary, data_dir, "main", {"quality": {"every": 50, "samples": 100},
                                             "timeline": {"every": 100, "max": 10000}})
    cond = Server(binary, data_dir, "conditional", {"model": {"conditional": True}})
    # the invite examples need a server the LAN can reach (a token then)
    lan = Server(binary, data_dir, "LAN", {"server": {"bind": "0.0.0.0",
                                                     "token": "readme-test-token-0123456789"}})
    # POST /api/run restarts its server on a new run: a server of its own,
    # so the examples after it still see the main server's run
    newrun = Server(binary, data_dir, "new-run", {})
    try:
        if not (main.ready and cond.ready and lan.ready and newrun.ready):
            return
        # the examples show a run past its first timeline snapshots and quality passes
        check("main server reached iteration 110", main.wait_iteration(110, 300))
        deadline = time.time() + 120
        while time.time() < deadline:
            js = main.c.json("GET", "/api/quality")[2]
            if js and js.get("passes"):
                break
            time.sleep(0.5)
        for i, (heading, cmd, exp) in enumerate(exs):
            conditional = re.search(r"[?&]digits?=", cmd) is not None
            invite = "/api/invite" in cmd
            restarts = "/api/run" in cmd and "-X POST" in cmd
            server = lan if invite else cond if conditional else newrun if restarts else main
            run_example(i, heading, cmd, exp, server, workdir)
            if restarts:
                wait_new_run(server)
    except Exception as e:  # report, then clean up below
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        main.stop()
        cond.stop()
        lan.stop()
        newrun.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_readme.py"))
