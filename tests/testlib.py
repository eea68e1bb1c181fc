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


def main(run, script):
    """The whole main() of a suite run as `python3 SCRIPT BINARY DATA_DIR`:
    check the arguments, run(binary, data_dir), print the time taken and
    the closing line; returns the exit status."""
    import time
    if len(sys.argv) != 3:
        print("usage: %s BINARY DATA_DIR" % script, file=sys.stderr)
        return 2
    t0 = time.time()
    run(sys.argv[1], sys.argv[2])
    print("(%.1f s)" % (time.time() - t0))
    return finish()
