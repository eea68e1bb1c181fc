#!/usr/bin/python3
"""dashboard_load.py BIN DATA [WINDOW_S] - what a person watching costs the
training: starts `ganlive serve` (default model, fresh run directory), then
measures images/s over three windows: alone, with a simulated dashboard (one
/api/events stream read continuously, plus a 64-digit /api/samples.png at
scale 2 fetched every second, as the page does), and alone again. Prints the
slowdown, the latency of the sample requests, and the server's resident
memory (VmRSS and its peak VmHWM). Bounded: about 3 windows plus start-up.
"""
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/api/status")
    body = c.getresponse().read()
    c.close()
    import json
    return json.loads(body)


def rate(port, seconds):
    a = status(port)
    t0 = time.monotonic()
    time.sleep(seconds)
    b = status(port)
    batch = b["config"]["train"]["batch"]
    return (b["iteration"] - a["iteration"]) * batch / (time.monotonic() - t0)


def dashboard(port, stop, latencies):
    """One SSE stream plus a sample grid every second, like web/app.js."""
    def events():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(1.0)
        while not stop.is_set():
            try:
                if not s.recv(65536):
                    break
            except socket.timeout:
                pass
        s.close()
    th = threading.Thread(target=events)
    th.start()
    seed = 1
    while not stop.is_set():
        t0 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", f"/api/samples.png?n=64&scale=2&seed={seed}")
        r = c.getresponse()
        r.read()
        c.close()
        dt = time.monotonic() - t0
        if r.status == 200:
            latencies.append(dt)
        seed += 1
        stop.wait(max(0.0, 1.0 - dt))
    th.join()


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) / 1024.0
    return out


def main():
    binary, data = sys.argv[1], sys.argv[2]
    window = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    port = free_port()
    run_dir = tempfile.mkdtemp(prefix="ganlive-load-")
    server = subprocess.Popen([binary, "serve", "--port", str(port), "--data", data,
                               "--run-dir", run_dir, "--fresh"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                status(port)
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(5)                       # warm-up
        alone1 = rate(port, window)
        stop, lat = threading.Event(), []
        th = threading.Thread(target=dashboard, args=(port, stop, lat))
        th.start()
        watched = rate(port, window)
        stop.set()
        th.join()
        alone2 = rate(port, window)
        alone = (alone1 + alone2) / 2
        mem = memory(server.pid)
        lat_ms = sorted(x * 1000 for x in lat)
        print(f"training alone      {alone1:7.1f} / {alone2:7.1f} images/s (before / after)")
        print(f"with a dashboard    {watched:7.1f} images/s: {100 * (1 - watched / alone):+.1f}% slower")
        if lat_ms:
            p90 = lat_ms[int(0.9 * (len(lat_ms) - 1))]
            print(f"samples.png n=64    median {statistics.median(lat_ms):.1f} ms, p90 {p90:.1f} ms "
                  f"({len(lat_ms)} requests)")
        print(f"server memory       VmRSS {mem['VmRSS']:.1f} MB, peak VmHWM {mem['VmHWM']:.1f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run(["rm", "-rf", run_dir])


if __name__ == "__main__":
    main()
