#!/usr/bin/env python3
"""The shape of tend's code, for docs/architecture.md and part 11's notes:
file sizes, functions longer than a screen, and include cycles among the
modules of src/.

usage: scripts/shape.py [--check] [--long N] [SRC_DIR]   (default: 60 lines, src)

The folders of SRC_DIR are the layers, lowest first as LAYERS lists them;
a file includes headers of its own layer and of those below, never above.
--check exits 1 when a file includes upward or modules include each other
in a cycle (make test runs it).

A function is counted from the line of its opening brace at column 0 to
its closing brace at column 0 (tend's style: K&R, functions' braces on
lines of their own).  A module is a .c file with its .h, in any folder of
SRC_DIR; a module X with a private header X_int.h is also every file
X_*.c and X_*.h (its parts, which share X_int.h).  Module A includes
module B when a file of A includes "B.h".  A cycle is a strongly
connected set of more than one module (Tarjan's algorithm).
"""
import re
import sys
from pathlib import Path

FUNC = re.compile(r"^[A-Za-z_][^;(]*?\b([A-Za-z_]\w*)\s*\(")


def functions(path):
    lines = path.read_text().split("\n")
    out, name, start = [], None, None
    for i, line in enumerate(lines):
        if line == "{" and i > 0:
            # the signature may span lines: find the line with the name
            k = i - 1
            while k > 0 and not FUNC.match(lines[k]):
                k -= 1
            m = FUNC.match(lines[k])
            if m:
                name, start = m.group(1), k
        elif line == "}" and name:
            out.append((name, i - start + 1))
            name = None
    return out


def module_of(stem, grouped):
    """The module a file STEM is part of."""
    for g in grouped:
        if stem.startswith(g + "_"):
            return g
    return stem


def includes(src):
    files = list(src.rglob("*.c")) + list(src.rglob("*.h"))
    grouped = {p.stem[:-4] for p in files if p.name.endswith("_int.h")}
    graph = {}
    for f in files:
        m = module_of(f.stem, grouped)
        graph.setdefault(m, set())
        for inc in re.findall(r'^#include "([\w/]+)\.h"', f.read_text(), re.M):
            b = module_of(Path(inc).name, grouped)
            if b != m:
                graph[m].add(b)
    return {m: {b for b in bs if b in graph} for m, bs in graph.items()}


LAYERS = ["base", "mech", "super", "daemon", "cli"]


def upward(src):
    """(file, header, its layer) for every include of a higher layer."""
    layer = {}
    for h in src.rglob("*.h"):
        layer[h.name] = h.parent.name
    out = []
    for f in sorted(src.rglob("*.[ch]")):
        mine = LAYERS.index(f.parent.name) if f.parent.name in LAYERS else -1
        for inc in re.findall(r'^#include "([\w/]+\.h)"', f.read_text(), re.M):
            theirs = layer.get(Path(inc).name)
            if theirs in LAYERS and LAYERS.index(theirs) > mine:
                out.append((f.relative_to(src), inc, theirs))
    return out


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    args = sys.argv[1:]
    check = args[:1] == ["--check"]
    if check:
        args = args[1:]
    long_n = 60
    if args[:1] == ["--long"]:
        long_n = int(args[1])
        args = args[2:]
    src = Path(args[0] if args else "src")
    files = sorted(src.rglob("*.c")) + sorted(src.rglob("*.h"))
    total = 0
    print("## files over 500 lines")
    for f in sorted(files, key=lambda p: -len(p.read_text().split("\n"))):
        n = len(f.read_text().split("\n")) - 1
        total += n
        if n > 500:
            print("%6d  %s" % (n, f.relative_to(src)))
    print("%6d  lines in %d files" % (total, len(files)))
    longs = []
    for f in sorted(src.rglob("*.c")):
        for name, n in functions(f):
            if n > long_n:
                longs.append((n, "%s %s" % (f.relative_to(src), name)))
    print("\n## functions over %d lines: %d" % (long_n, len(longs)))
    for n, what in sorted(longs, reverse=True):
        print("%6d  %s" % (n, what))
    cyc = cycles(includes(src))
    print("\n## include cycles: %d" % len(cyc))
    for c in cyc:
        print("  " + " ".join(c))
    up = upward(src)
    print("\n## includes of a higher layer (%s): %d" % (" < ".join(LAYERS),
                                                       len(up)))
    for f, inc, theirs in up:
        print("  %s includes %s (%s)" % (f, inc, theirs))
    if check and (cyc or up):
        sys.exit("shape: %d include cycles, %d includes of a higher layer: "
                 "see docs/architecture.md" % (len(cyc), len(up)))


if __name__ == "__main__":
    main()
