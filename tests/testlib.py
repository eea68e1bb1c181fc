"""testlib.py - what every Python suite of ganlive shares: check(), which
counts a result and prints one line for it ("ok   name" or "FAIL name:
detail"), and finish(), which prints the closing line "N passed, N failed"
and returns the exit status. Thread-safe, so stress threads may check too.
"""
import sys
import threading

_lock = threading.Lock()
_counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    with _lock:
        if cond:
            _counts["passed"] += 1
            print("ok   " + name)
        else:
            _counts["failed"] += 1
            print("FAIL " + name + (": " + str(detail) if detail != "" else ""))
        sys.stdout.flush()
    return cond


def finish():
    print("%d passed, %d failed" % (_counts["passed"], _counts["failed"]))
    return 1 if _counts["failed"] else 0
