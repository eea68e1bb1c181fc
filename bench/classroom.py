#!/usr/bin/env python3
"""classroom.py - a class of dashboards against one training server.

    make classroom                       (bench/classroom.py ./ganlive data/mnist)
    bench/classroom.py BIN DATA [--window 20] [--counts 1,20,100] [--sse 1000]
                       [--legacy] [--config FILE]

Starts `ganlive serve` (default model unless --config) on a free port, lets
it warm up, then measures windows of --window seconds: training alone, with
N simulated dashboards, alone again, ... (--rounds times for each N,
each watched window compared with the mean of the alone windows on either
side, so drift and the quality thread's passes average out),
and finally --sse clients that only hold the event stream. Prints one table
row per phase: training it/s and its ratio to alone, the shared live grid's
p50/p95 (from the "samples" event to the last byte of the image), the p95
delay of metrics events (arrival minus the server's "sent" stamp), errors by
status (429 counted apart: they are deliberate), requests and renders, the
server's peak RSS and this tool's own CPU use (it shares the 2 cores).

A simulated dashboard does what web/app.js and web/insight.js do by
default: the event stream; on each "samples" event the shared grid, every
3rd snapshot fixed.png, every 15th the ten candidates (seeds 1..10, n=1),
the 16-digit fake grid (seed 1) and real.png; every 2 s /api/status, every
3 s /api/timeline, every 15 s /api/quality; at start the copying check.
Like a browser it revalidates images with If-None-Match. --legacy plays the
dashboard before the classroom work instead (own-seed 64-digit grid and
fixed.png every 2 s, random candidate seeds), to measure the old binary.

Clients are spread over loopback source addresses 127.0.0.2-127.0.0.51, as
students on a LAN would be; all traffic stays on this machine.
"""
import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

ADDRS = [f"127.0.0.{i}" for i in range(2, 52)]


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


class Stats:
    def __init__(self):
        self.grid = []          # live grid latencies (s)
        self.delay = []         # metrics event delays (s)
        self.gaps = []          # time between metrics events per stream (s)
        self.status = {}        # HTTP status -> count (requests)
        self.requests = 0
        self.events = 0
        self.dropped = 0        # streams that ended early

    def count(self, st):
        self.requests += 1
        self.status[st] = self.status.get(st, 0) + 1


class Conn:
    """One keep-alive HTTP/1.1 connection from a given source address."""

    def __init__(self, port, src):
        self.port, self.src = port, src
        self.r = self.w = None
        self.lock = asyncio.Lock()          # one request at a time, like one browser connection

    async def get(self, path, headers=None):
        async with self.lock:
            return await self._get(path, headers)

    async def open(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(self.src, 0))

    async def _get(self, path, headers=None):
        for attempt in range(2):
            try:
                if self.w is None:
                    await self.open()
                h = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
                self.w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{h}\r\n".encode())
                head = await self.r.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                st = int(lines[0].split()[1])
                hd = {}
                for ln in lines[1:]:
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        hd[k.strip().lower()] = v.strip()
                n = int(hd.get("content-length", "0"))
                body = await self.r.readexactly(n) if n else b""
                if hd.get("connection", "").lower() == "close":
                    self.close()
                return st, hd, body
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
                self.close()
                if attempt:
                    return 599, {}, b""
        return 599, {}, b""

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


class Dashboard:
    def __init__(self, port, src, stats, legacy, sse_only=False):
        self.port, self.src, self.stats = port, src, stats
        self.legacy, self.sse_only = legacy, sse_only
        self.json = Conn(port, src)
        self.img = Conn(port, src)
        self.etags = {}
        self.tasks = []
        self.stop = False
        self.own_seed = random.randrange(10**9)

    async def fetch(self, conn, path, image=False):
        hdrs = {}
        if image and path in self.etags:
            hdrs["If-None-Match"] = self.etags[path]
        t0 = time.monotonic()
        st, hd, body = await conn.get(path, hdrs)
        self.stats.count(st)
        if st == 429 or (st == 503 and "retry-after" in hd):   # the budget: wait and retry, as the page does
            await asyncio.sleep(float(hd.get("retry-after", "1")) * (0.5 + random.random()))
            st, hd, body = await conn.get(path, hdrs)
            self.stats.count(st)
        if image and "etag" in hd:
            self.etags[path] = hd["etag"]
        return st, time.monotonic() - t0, body

    async def sse(self):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(self.src, 0))
        except OSError:
            self.stats.count(598)
            return
        w.write(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        last = None
        try:
            head = await r.readuntil(b"\r\n\r\n")
            self.stats.count(int(head.split()[1]))
            name = None
            while not self.stop:
                line = await r.readline()
                if not line:
                    self.stats.dropped += 1
                    break
                if line.startswith(b"event: "):
                    name = line[7:].strip()
                elif line.startswith(b"data: ") and name:
                    now = time.time()
                    self.stats.events += 1
                    if name == b"metrics":
                        if last is not None:
                            self.stats.gaps.append(now - last)
                        last = now
                        d = json.loads(line[6:])
                        if "sent" in d:
                            self.stats.delay.append(now - d["sent"])
                    elif name == b"samples" and not self.sse_only and not self.legacy:
                        d = json.loads(line[6:])
                        asyncio.ensure_future(self.on_samples(d, time.monotonic()))
                    name = None
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError):
            if not self.stop:
                self.stats.dropped += 1
        finally:
            w.close()

    async def on_samples(self, d, t_event):
        st, _, _ = await self.fetch(self.img, d["url"], image=True)
        if st in (200, 304):
            self.stats.grid.append(time.monotonic() - t_event)
        v = d["version"]
        if v % 3 == 0:
            await self.fetch(self.img, "/api/samples/fixed.png", image=True)
        if v % 15 == 0:
            await self.panels(shared=True)

    async def panels(self, shared):
        for i in range(10):
            s = i + 1 if shared else random.randrange(10**9)
            await self.fetch(self.img, f"/api/samples.png?n=1&seed={s}&scale=2", image=True)
        s = 1 if shared else random.randrange(10**9)
        await self.fetch(self.img, f"/api/samples.png?n=16&seed={s}&scale=2", image=True)
        await self.fetch(self.img, f"/api/real.png?n=16&seed={s}&scale=2", image=True)

    async def every(self, period, fn):
        await asyncio.sleep(random.random() * period)
        while not self.stop:
            t0 = time.monotonic()
            await fn()
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))

    async def legacy_grid(self):
        st, dt, _ = await self.fetch(self.img, f"/api/samples.png?n=64&scale=2&seed={self.own_seed}")
        if st == 200:
            self.stats.grid.append(dt)
        await self.fetch(self.img, "/api/samples/fixed.png")

    def start(self):
        self.tasks.append(asyncio.ensure_future(self.sse()))
        if self.sse_only:
            return
        self.tasks.append(asyncio.ensure_future(self.every(2.0, lambda: self.fetch(self.json, "/api/status"))))
        self.tasks.append(asyncio.ensure_future(self.every(3.0, lambda: self.fetch(self.json, "/api/timeline"))))
        self.tasks.append(asyncio.ensure_future(self.every(15.0, lambda: self.fetch(self.json, "/api/quality"))))
        self.tasks.append(asyncio.ensure_future(self.fetch(self.json, "/api/nearest?seed=1&n=8")))
        if self.legacy:
            self.tasks.append(asyncio.ensure_future(self.every(2.0, self.legacy_grid)))
            self.tasks.append(asyncio.ensure_future(self.every(15.0, lambda: self.panels(shared=False))))

    async def close(self):
        self.stop = True
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.json.close()
        self.img.close()


def status(port):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def rss_peak_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


async def phase(port, n, window, legacy, sse_only=False):
    st = Stats()
    dashes = [Dashboard(port, ADDRS[i % len(ADDRS)], st, legacy, sse_only) for i in range(n)]
    for i, d in enumerate(dashes):
        d.start()
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.sleep(min(5.0, window / 4))          # everyone connected and caught up
    s0 = status(port)
    st.grid.clear(), st.delay.clear(), st.gaps.clear()
    req0 = st.requests
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    await asyncio.sleep(window)
    dt = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    s1 = status(port)
    for d in dashes:
        await d.close()
    it_s = (s1["iteration"] - s0["iteration"]) / dt
    cr0, cr1 = s0.get("classroom", {}), s1.get("classroom", {})
    renders = cr1.get("renders", 0) - cr0.get("renders", 0) if cr1 else float("nan")
    client_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / dt
    return {"it_s": it_s, "stats": st, "requests": st.requests - req0, "renders": renders,
            "client_cpu": client_cpu, "viewers": cr1.get("viewers")}


def fmt_ms(x):
    return "-" if x != x else f"{x * 1000:.0f} ms"


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin")
    ap.add_argument("data")
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--counts", default="1,20,100")
    ap.add_argument("--sse", type=int, default=1000)
    ap.add_argument("--legacy", action="store_true")
    ap.add_argument("--config", default="")
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=2, help="(N viewers, alone) rounds per N")
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rundir = tempfile.mkdtemp(prefix="ganlive-classroom-")
    cmd = [a.bin, "serve", "--port", str(port), "--data", a.data, "--run-dir", rundir, "--fresh"]
    if a.config:
        cmd += ["--config", a.config]
    log = open(os.path.join(rundir, "server.log"), "w")
    srv = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                status(port)
                break
            except OSError:
                time.sleep(0.1)
        await asyncio.sleep(a.warmup)     # past start-up work (the quality thread's ceiling)
        print(f"# {' '.join(cmd)}")
        print(f"# window {a.window:.0f} s per phase, {'legacy' if a.legacy else 'current'} dashboard pattern")
        print("| phase | training it/s | vs alone | live grid p50 | live grid p95 | metrics delay p95 "
              "| metrics gap p95 | errors | 429 | requests | renders | client CPU |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        counts = [int(x) for x in a.counts.split(",") if x]
        last_alone = (await phase(port, 0, a.window, a.legacy))["it_s"]
        print(f"| alone | {last_alone:.2f} | | | | | | | | | | |", flush=True)
        for n in counts:
            # rounds of (n viewers, alone): each watched window against the
            # mean of the alone windows on either side; the sums over rounds
            watched = base = 0.0
            merged = Stats()
            reqs = renders = cpu = 0.0
            for _ in range(a.rounds):
                r = await phase(port, n, a.window, a.legacy)
                after = (await phase(port, 0, a.window, a.legacy))["it_s"]
                watched += r["it_s"]
                base += (last_alone + after) / 2
                last_alone = after
                st = r["stats"]
                merged.grid += st.grid
                merged.delay += st.delay
                merged.gaps += st.gaps
                merged.dropped += st.dropped
                for k, v in st.status.items():
                    merged.status[k] = merged.status.get(k, 0) + v
                reqs += r["requests"]
                renders += r["renders"]
                cpu += r["client_cpu"] / a.rounds
                print(f"#   {n} dashboards {r['it_s']:.2f} it/s, alone after {after:.2f}", flush=True)
            st = merged
            errors = sum(v for k, v in st.status.items() if k not in (200, 304, 429))
            by = ", ".join(f"{k}: {v}" for k, v in sorted(st.status.items()) if k not in (200, 304, 429))
            print(f"| {n} dashboards | {watched / a.rounds:.2f} | {watched / base * 100:.0f}% | {fmt_ms(pct(st.grid, 50))} "
                  f"| {fmt_ms(pct(st.grid, 95))} | {fmt_ms(pct(st.delay, 95))} | {fmt_ms(pct(st.gaps, 95))} "
                  f"| {errors}{f' ({by})' if by else ''}{f', {st.dropped} streams dropped' if st.dropped else ''} "
                  f"| {st.status.get(429, 0)} | {reqs:.0f} | {renders:.0f} | {cpu * 100:.0f}% |",
                  flush=True)
        if a.sse:
            r = await phase(port, a.sse, a.window, a.legacy, sse_only=True)
            st = r["stats"]
            errors = sum(v for k, v in st.status.items() if k not in (200, 304))
            print(f"| {a.sse} event streams ({r['viewers']} held) | {r['it_s']:.2f} | | | | {fmt_ms(pct(st.delay, 95))} "
                  f"| {fmt_ms(pct(st.gaps, 50))} p50, {fmt_ms(pct(st.gaps, 95))} p95 | {errors}"
                  f"{f', {st.dropped} streams dropped' if st.dropped else ''} | | {r['requests']} | | "
                  f"{r['client_cpu'] * 100:.0f}% |", flush=True)
        print(f"# server peak RSS {rss_peak_mb(srv.pid):.1f} MB (VmHWM)")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
        log.close()
        subprocess.run(["rm", "-rf", rundir])


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
