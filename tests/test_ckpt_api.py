#!/usr/bin/env python3
"""test_ckpt_api.py - checkpoints and the divergence guard against the real
binary.

    python3 tests/test_ckpt_api.py ./ganlive data/mnist

Runs `<binary> serve` (tests/config-test.json, a run directory of its own)
several times over one run directory: POST /api/checkpoint (running and
paused), GET /api/checkpoint/latest (a valid file, the bytes on disk), a
failed save reported in /api/status while training goes on, SIGTERM saving
before exit, a restart resuming where it stopped with its history, a
damaged newest file falling back to an older one, another architecture and
a second process refused; then the divergence guard through the test hook
GANLIVE_TEST_POISON_AT: state "diverged" with iteration and reason, valid
JSON throughout, POST /api/resume restoring the last checkpoint and running
on, and 409 when there is none. The restore is checked for what it
restored: with a second poisoned iteration right after the checkpoint's,
the restored run stands still at it, so its iteration, history, samples
(byte for byte against `ganlive sample --checkpoint`) and D's verdicts
(samples.json, annotate=1: against a server resumed from the same file;
the stale-D bug mended in f3a0be8) are compared exactly. Every server's
exit status and output (sanitizer reports) are checked (tests/testlib.py).
One line per check, then "N passed, N failed". Python 3 stdlib only.
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_http import Client, free_port, wait_ready, loads  # noqa: E402

import testlib  # noqa: E402
from testlib import check, main as testlib_main  # noqa: E402


class Server(testlib.Server):
    """testlib.Server with this suite's command line (tests/config-test.json,
    seed 1, a run directory) and waits on iteration and state."""

    def __init__(self, binary, data_dir, run_dir, extra=(), env=None, cfg=None):
        super().__init__(binary, ["--data", data_dir, "--seed", "1",
                                  "--config", cfg or os.path.join(HERE, "config-test.json"),
                                  "--run-dir", run_dir] + list(extra), env=env)

    def ready(self, timeout=30):
        return super().ready(timeout)

    def wait_iteration(self, above, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            js = self.status()
            if js and js["iteration"] > above:
                return js
            time.sleep(0.05)
        return None

    def wait_state(self, state, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            js = self.status()
            if js and js["state"] == state:
                return js
            time.sleep(0.05)
        return None


CKPT_VERSION = 4   # what this ganlive writes (server/checkpoint.h)


def valid_checkpoint(data):
    """(ok, iteration or reason) for checkpoint bytes just written: magic, the
    current format version, length, CRC."""
    if len(data) < 28 or data[:8] != b"GANLCKPT":
        return False, "bad magic or too short"
    version, _, total = struct.unpack("<IIQ", data[8:24])
    if version != CKPT_VERSION or total != len(data):
        return False, "version %d, length %d of %d" % (version, total, len(data))
    if zlib.crc32(data[:-4]) & 0xffffffff != struct.unpack("<I", data[-4:])[0]:
        return False, "bad CRC"
    return True, "ok"


def test_endpoints(s, run_dir):
    js = s.status()
    check("status: last_checkpoint null before any", js and js.get("last_checkpoint", 1) is None, js)
    check("status: checkpoint_error null", js and "checkpoint_error" in js and js["checkpoint_error"] is None, js)
    s.wait_iteration(5)
    st, _, ck = s.c.post("/api/checkpoint")
    ok = check("POST /api/checkpoint 200 with path and iteration",
               st == 200 and ck and isinstance(ck.get("iteration"), int) and "path" in ck, (st, ck))
    if not ok:
        return
    check("the file is there when the answer comes", os.path.isfile(ck["path"]), ck)
    check("file named by iteration in the run directory",
          ck["path"] == os.path.join(run_dir, "ckpt-%09d.bin" % ck["iteration"]), ck)
    js = s.status()
    lc = js.get("last_checkpoint") or {}
    check("status: last_checkpoint names it", lc.get("path") == ck["path"] and
          lc.get("iteration") == ck["iteration"] and lc.get("time", 0) > 1e9, js)
    st, _, e = s.c.post("/api/checkpoint", {"now": True})
    check("POST /api/checkpoint with unknown field 400", st == 400 and "now" in e.get("error", ""), (st, e))
    st, hd, _ = s.c.req("GET", "/api/checkpoint")
    check("GET /api/checkpoint 405", st == 405, st)
    st, hd, body = s.c.req("GET", "/api/checkpoint/latest")
    names = sorted(n for n in os.listdir(run_dir) if n.startswith("ckpt-"))
    check("GET /api/checkpoint/latest 200 octet-stream",
          st == 200 and hd.get("content-type") == "application/octet-stream", (st, hd))
    check("download is an attachment named after the newest file",
          hd.get("content-disposition") == 'attachment; filename="%s"' % names[-1], hd)
    ok, why = valid_checkpoint(body)
    check("download is a valid checkpoint", ok, why)
    with open(os.path.join(run_dir, names[-1]), "rb") as f:
        check("download has the bytes on disk", f.read() == body)
    st, _, e = s.c.req("GET", "/api/checkpoint/latest?x=1")
    check("latest with a query parameter 400", st == 400, st)

    # paused: the trainer still answers, at the paused iteration
    st, _, p = s.c.post("/api/pause")
    st, _, ck = s.c.post("/api/checkpoint")
    check("checkpoint while paused: at the paused iteration",
          st == 200 and ck["iteration"] == p["iteration"], (st, ck, p))
    check("still paused after it", s.status()["state"] == "paused")
    s.c.post("/api/resume")

    # a failed save: the run directory is replaced by a file
    aside = run_dir + ".aside"
    os.rename(run_dir, aside)
    with open(run_dir, "w") as f:
        f.write("not a directory\n")
    it0 = s.status()["iteration"]
    st, _, e = s.c.post("/api/checkpoint")
    check("failed save answers 500 with the reason",
          st == 500 and "Not a directory" in (e or {}).get("error", ""), (st, e))
    js = s.status()
    check("status: checkpoint_error says why", js and "Not a directory" in (js.get("checkpoint_error") or ""), js)
    check("status: last_checkpoint still the good one", js and js["last_checkpoint"]["path"].startswith(run_dir), js)
    check("training goes on after a failed save", s.wait_iteration(it0 + 5) is not None)
    os.remove(run_dir)
    os.rename(aside, run_dir)
    st, _, ck = s.c.post("/api/checkpoint")
    js = s.status()
    check("next save works and clears checkpoint_error",
          st == 200 and js["checkpoint_error"] is None and js["last_checkpoint"]["iteration"] == ck["iteration"],
          (st, js))
    check("keep 3: at most three checkpoints",
          len([n for n in os.listdir(run_dir) if n.startswith("ckpt-")]) <= 3, os.listdir(run_dir))


def resumed_at(text):
    m = re.search(r"^ganlive: resumed from (\S+) at iteration (\d+)$", text, re.M)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def run(binary, data_dir):
    tmp = tempfile.mkdtemp(prefix="ganlive-ckpt-api-")
    run_dir = os.path.join(tmp, "run")
    servers = []

    def start(*a, **k):
        s = Server(binary, data_dir, *a, **k)
        servers.append(s)
        return s
    try:
        s = start(run_dir)
        if not check("server answers", s.ready()):
            print(s.text())
            return
        test_endpoints(s, run_dir)
        other = start(run_dir)
        rc = other.wait(30, expect=(2,))
        check("a second server on the same run directory exits 2", rc == 2 and "in use" in other.text(),
              (rc, other.text()[-300:]))
        rc = s.stop()
        text = s.text()
        saves = re.findall(r"^ganlive: checkpoint (\S+) \(iteration (\d+)", text, re.M)
        stopped = re.search(r"stopped at iteration (\d+)", text)
        check("SIGTERM: exit 0 after a final checkpoint", rc == 0 and saves and stopped and
              int(saves[-1][1]) == int(stopped.group(1)), (rc, text[-400:]))
        final = int(saves[-1][1]) if saves else -1

        # restart: resumes where it stopped, with its history
        s = start(run_dir)
        check("restart answers", s.ready())
        path, it = resumed_at(s.text())
        check("restart says where it resumed", it == final and path == os.path.join(run_dir, "ckpt-%09d.bin" % final),
              s.text()[:400])
        js = s.status()
        check("status: iteration continues from the checkpoint", js and js["iteration"] >= final, js)
        check("status: last_checkpoint is the resumed one", js and js["last_checkpoint"]["iteration"] == final, js)
        st, _, m = s.c.json("GET", "/api/metrics?since=-1&limit=10000")
        its = [p["iteration"] for p in m["points"]]
        check("history came back with the checkpoint", its and its[0] < final and final in its, its[:5])
        st, _, tl = s.c.json("GET", "/api/timeline")
        check("timeline came back with the checkpoint",
              tl and len(tl["snapshots"]) >= 2 and tl["snapshots"][0]["iteration"] == 0, tl)
        check("restart: SIGTERM exits 0", s.stop() == 0, s.rc)

        # damaged newest: named with its reason, an older one is used
        names = sorted(n for n in os.listdir(run_dir) if n.startswith("ckpt-"))
        newest = os.path.join(run_dir, names[-1])
        with open(newest, "r+b") as f:
            f.seek(os.path.getsize(newest) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x10]))
        s = start(run_dir)
        check("starts despite a damaged newest checkpoint", s.ready())
        text = s.text()
        check("names the damaged file and why", "%s is damaged (checksum mismatch" % newest in text, text[:500])
        path, it = resumed_at(text)
        check("resumes from the next older one", path == os.path.join(run_dir, names[-2]), (path, names))
        check("kill -9 of a live server", s.kill(), s.rc)
        os.remove(newest)

        # another architecture: refused, exit 2
        cfg = json.load(open(os.path.join(HERE, "config-test.json")))
        cfg["model"]["ngf"] = 16
        other_cfg = os.path.join(tmp, "ngf16.json")
        json.dump(cfg, open(other_cfg, "w"))
        o = start(run_dir, cfg=other_cfg)
        rc = o.wait(30, expect=(2,))
        check("another architecture: exit 2 with a clear message",
              rc == 2 and "another architecture" in o.text() and "ngf 16" in o.text(), (rc, o.text()[-400:]))

        test_divergence(binary, data_dir, run_dir, tmp, start)
    except Exception as e:
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        testlib.reap_all()
        shutil.rmtree(tmp, ignore_errors=True)


def test_divergence(binary, data_dir, run_dir, tmp, start):
    """Poison iteration base+30 and, after that, base+1: the run diverges at
    base+29; POST /api/resume restores the newest checkpoint (base) and its
    next iteration diverges again at once, so the restored server stands
    still at exactly the state it restored, to be compared with the file
    (ganlive sample) and with a server that resumed from the same file and
    diverged at base+1 (its published G and D are the file's)."""
    names = sorted(n for n in os.listdir(run_dir) if n.startswith("ckpt-"))
    base = int(names[-1][5:14])
    ckpt = os.path.join(run_dir, names[-1])
    at = base + 30
    s = start(run_dir, env={"GANLIVE_TEST_POISON_AT": "%d,%d" % (at, base + 1)})
    check("poisoned server answers", s.ready())
    st_ = s.wait_state("diverged")
    check("state becomes diverged", st_ is not None, s.status())
    if not st_:
        return
    check("diverged: iteration is the last good one", st_["iteration"] == at - 1, st_)
    check("diverged: reason says non-finite", "non-finite" in st_.get("diverged_reason", ""), st_)
    time.sleep(0.3)
    check("diverged: the run stays put", s.status()["iteration"] == at - 1)
    for path in ("/api/status", "/api/metrics?since=-1", "/api/timeline"):
        st, _, body = s.c.req("GET", path)
        try:
            loads(body)
            ok = st == 200
        except ValueError as e:
            ok = False
        check("diverged: %s is valid JSON without NaN" % path, ok, body[:200])
    st, _, e = s.c.post("/api/checkpoint")
    check("diverged: POST /api/checkpoint 409", st == 409 and "diverged" in e.get("error", ""), (st, e))
    st, _, r = s.c.post("/api/resume")
    # the restored run's next iteration is poisoned too, so the answer may
    # come before (200, at base) or after it diverged again (409)
    check("resume restores the newest checkpoint: its very iteration",
          (st == 200 and r["iteration"] == base) or (st == 409 and "diverged" in r.get("error", "")),
          (st, r, base))
    again = s.wait_state("diverged")
    check("restored run stands at the checkpoint's iteration (diverged again at once)",
          again is not None and again["iteration"] == base, again)
    _, _, m = s.c.json("GET", "/api/metrics?since=-1&limit=10000")
    its = [p["iteration"] for p in m["points"]]
    check("restored history is the checkpoint's: nothing past it",
          its and its[-1] == base and its == sorted(set(its)), its[-5:])
    st, _, sj = s.c.json("GET", "/api/samples.json?n=8&seed=11")
    check("restored: samples.json drawn at the checkpoint's iteration",
          st == 200 and sj["iteration"] == base, (st, sj and sj.get("iteration"), base))
    ok, why = testlib.samples_match_checkpoint(binary, s, ckpt, seed=11, n=16, tmp_dir=tmp)
    check("restored G is the file's: samples.png = ganlive sample --checkpoint, byte for byte", ok, why)
    st, _, ann = s.c.req("GET", "/api/samples.png?n=8&seed=11&annotate=1")
    # the same file, resumed by a fresh server that diverges at its first iteration
    cmp_dir = os.path.join(tmp, "cmp-run")
    os.makedirs(cmp_dir)
    shutil.copy(ckpt, cmp_dir)
    c = start(cmp_dir, env={"GANLIVE_TEST_POISON_AT": str(base + 1)})
    check("comparison server answers", c.ready())
    cst = c.wait_state("diverged")
    check("comparison server resumed the same file and stands at its iteration",
          cst is not None and cst["iteration"] == base, cst)
    _, _, cj = c.c.json("GET", "/api/samples.json?n=8&seed=11")
    _, _, cann = c.c.req("GET", "/api/samples.png?n=8&seed=11&annotate=1")
    check("restored D: samples.json verdicts = a server resumed from the same checkpoint",
          sj and cj and sj["samples"] == cj["samples"],
          [(a["d_fake"], b["d_fake"]) for a, b in zip(sj["samples"], cj["samples"])] if sj and cj else (sj, cj))
    check("restored D: annotate=1 PNG = a server resumed from the same checkpoint, byte for byte",
          st == 200 and ann == cann, (st, len(ann), len(cann)))
    check("comparison server: SIGTERM while diverged exits 0", c.stop() == 0, c.rc)
    st, _, r = s.c.post("/api/resume")
    check("second resume restores again and runs", st == 200 and r["state"] == "running" and
          r["iteration"] >= base, (st, r))
    check("the log names the restored file", "ganlive: restored %s" % ckpt in s.text(), s.text()[-400:])
    check("iteration continues past the poisoned one", s.wait_iteration(at + 5) is not None, s.status())
    js = s.status()
    check("status: running, no reason left", js["state"] == "running" and "diverged_reason" not in js, js)
    check("restored run: SIGTERM exits 0", s.stop() == 0, s.rc)

    # diverged with nothing to restore: 409, still diverged
    fresh = os.path.join(tmp, "fresh")
    s = start(fresh, env={"GANLIVE_TEST_POISON_AT": "10"})
    check("fresh poisoned server answers", s.ready())
    check("diverges at 10", s.wait_state("diverged") is not None)
    st, _, e = s.c.post("/api/resume")
    check("resume with no checkpoint: 409 with a clear message",
          st == 409 and "no checkpoint to restore" in e.get("error", ""), (st, e))
    js = s.status()
    check("status: still diverged, restore_error set", js["state"] == "diverged" and
          "no checkpoint" in js.get("restore_error", ""), js)
    rc = s.stop()
    check("SIGTERM while diverged: exit 0, nothing saved",
          rc == 0 and not [n for n in os.listdir(fresh) if n.startswith("ckpt-")], os.listdir(fresh))


if __name__ == "__main__":
    sys.exit(testlib_main(run, "test_ckpt_api.py"))
