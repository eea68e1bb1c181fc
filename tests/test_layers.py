#!/usr/bin/env python3
"""test_layers.py - the program's layers, read from its object files.

    python3 tests/test_layers.py BUILD_DIR

Which file calls which is read from the symbols each object defines and
needs (`nm`), so the check follows the code, not its #includes:
  - no circle among the server's files (a change to one never has to be
    understood together with a ring of others; the route table's handlers
    answer through reply.c, the render worker reaches the event hub only
    through callbacks, the JSON views are views.c's);
  - nn/ needs nothing of server/ (the ground floor points nowhere up);
  - run.c (what every part of a run agrees on) and views.c need nothing
    above them: run.c no server file, views.c only state-level code;
  - the training loop (loop.c) is the only caller of the checkpoint's run
    functions among trainer, loop and ckptrun, and trainer.c calls none of
    them (no trainer <-> checkpoint circle);
  - the shipped program has no failpoint symbols (tests/failpoints/ is
    linked only into the -failpoints twin).
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, finish  # noqa: E402


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True).stdout
    defined, needed = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "TDBR":
            defined.add(p[2])
        elif len(p) == 2 and p[0] == "U":
            needed.add(p[1])
    return defined, needed


def graph(objs):
    defs, needs = {}, {}
    for o in objs:
        name = os.path.splitext(os.path.basename(o))[0]
        defs[name], needs[name] = symbols(o)
    owner = {s: n for n, ss in defs.items() for s in ss}
    return {n: {owner[s] for s in needs[n] if s in owner and owner[s] != n} for n in defs}, needs


def cycles(g):
    """Strongly connected components of more than one file (Tarjan)."""
    sys.setrecursionlimit(10000)
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def run(build):
    srv = sorted(glob.glob(os.path.join(build, "server", "*.o")))
    nn = sorted(glob.glob(os.path.join(build, "nn", "*.o")))
    if not check("object files found under %s" % build, len(srv) > 20 and len(nn) > 5, (len(srv), len(nn))):
        return
    g, needs = graph(srv)
    found = cycles(g)
    check("no circle among the %d server files" % len(g), not found, found)
    srv_defs = set()
    for o in srv:
        srv_defs |= symbols(o)[0]
    up = sorted({(os.path.basename(o), s) for o in nn for s in symbols(o)[1] if s in srv_defs})
    check("nn/ needs nothing of server/", not up, up[:5])
    check("run.c needs no other server file", not g.get("run"), g.get("run"))
    low = {"state", "state_quality", "state_ckpt", "history", "config", "json_strict"}
    check("views.c needs only state-level code", g.get("views", set()) <= low, g.get("views"))
    ck = {"srv_ckpt_save_run", "srv_ckpt_restore_run"}
    check("trainer.c calls no checkpoint run function; loop.c does",
          not (needs.get("trainer", set()) & ck) and ck <= needs.get("loop", set()),
          (needs.get("trainer", set()) & ck, needs.get("loop", set()) & ck))
    check("ckptrun.c does not call back into the loop", "loop" not in g.get("ckptrun", set()), g.get("ckptrun"))
    binary = os.path.join(os.path.dirname(os.path.abspath(build)), "ganlive" + build[len("build"):])
    if os.path.exists(binary):
        names = subprocess.run(["nm", binary], capture_output=True, text=True).stdout
        check("the shipped binary carries no failpoint (%s)" % os.path.basename(binary),
              "__wrap_gan_d_step" not in names and "GANLIVE_TEST_POISON_AT" not in
              open(binary, "rb").read().decode("latin-1"), binary)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: test_layers.py BUILD_DIR", file=sys.stderr)
        sys.exit(2)
    run(sys.argv[1].rstrip("/"))
    sys.exit(finish())
