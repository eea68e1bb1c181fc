#!/usr/bin/env python3
"""ports.py - a TCP port for a test server, for every suite and script.

    from ports import free_port        (Python suites)
    port=$(/usr/bin/python3 tests/ports.py)   (shell scripts)

A port the kernel hands out as free (bind to port 0) comes from its
ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), the range the
suites' own client connections take their source ports from: by the time
the server binds it, one of those connections may hold it. CI saw that
once, as "cannot listen on 0.0.0.0 port 34991: Address already in use".
So the port is drawn below that range (10000 up to its start), where only
an explicit bind takes a port, and checked free on every address (a bind
to 0.0.0.0 fails if any socket uses the port).
"""
import random
import socket

_rng = random.SystemRandom()      # not the suites' seeded random: two suites differ


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999        # Linux's default


def free_port():
    lo, hi = _ephemeral_range()
    pool = (10000, lo - 1) if lo > 11000 else (hi + 1, 65535)
    for _ in range(500 if pool[0] <= pool[1] else 0):   # no room outside: the kernel's pick
        port = _rng.randint(*pool)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)   # the kernel's pick, as before
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


if __name__ == "__main__":
    print(free_port())
