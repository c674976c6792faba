#!/usr/bin/env python3
"""Figures for the memory sampler: what one sample costs the daemon for a
tree of 1, 10, 100 and 1000 processes (and for a 1-process tree on a
machine with 1000 more processes), and the daemon's CPU with 100 limited
services at the default memory-interval.

Where a tree's processes may share pages, a sample reads their
smaps_rollup (a walk of each one's page tables) when RssAnon + RssShmem
summed could change what it decides: near the limit.  The second table
has the cost of one sample then (memory-warn at a threshold every tree
passes): trees of sleeps, and trees of 5 processes that map one shared
segment; and what `tend status` (which always reads smaps_rollup of such
trees) takes for each, from the command to its answer.

Method: the daemon's CPU time (/proc/PID/task/*/schedstat, ns on CPU;
utime+stime from /proc/PID/stat when schedstat is missing) over a window
with memory-max on, minus the same daemon over a window of the same length
after `tend reload` of the file without memory-max.  Samples are counted
with the daemon's wakeups (status --json) less what a status call itself
adds; window / interval is shown beside them, and the period between two
samples (window / samples) after them.  In the full run, a 1-process tree
on a machine with 999 more processes tells the scan (every process of the
machine) from the reading of a limited tree's own processes.

Usage: bench/memory.py [TEND_BIN] [--quick]   (from `make bench-memory`)
Runs in a temporary XDG_RUNTIME_DIR / XDG_STATE_HOME; every daemon it
starts is stopped with `tend down` or killed by pid, every other process it
starts is killed by pid, and at the end nothing that names the temporary
directory in its command line or environment may be left.
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import tendbench

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
QUICK = "--quick" in sys.argv[1:]
TEND = os.path.abspath(ARGS[0] if ARGS else "build/tend")

if QUICK:
    SIZES, REPS, WINDOW, OUTSIDE = (1, 10, 100), 2, 1.0, 0
    MANY_ON, MANY_OFF, MANY_SLICE = 20.0, 5.0, 5.0
else:
    SIZES, REPS, WINDOW, OUTSIDE = (1, 10, 100, 1000), 5, 5.0, 999
    MANY_ON, MANY_OFF, MANY_SLICE = 60.0, 60.0, 10.0
INTERVAL_MS = 50
MANY = 100
if QUICK:
    NEAR_SIZES, SEGMENTS = (10,), (64,)
else:
    NEAR_SIZES, SEGMENTS = (10, 100), (64, 256)
FAR = "memory-max = 100G\n"   # RssAnon + RssShmem decides every sample
# Thresholds (1% of memory-max) every tree of the second table passes, so
# that each sample reads smaps_rollup; limits none reaches (nor does what
# each process maps, summed: an older tend restarts for that).
NEAR_SLEEPS = "memory-max = 100M\nmemory-warn = 1%\n"
NEAR_SHARED = "memory-max = 4G\nmemory-warn = 1%\n"


# The service of scenario 1: itself plus N-1 `sleep` children.
TREE_PY = """\
import os, signal, sys
for _ in range(int(sys.argv[1]) - 1):
    os.posix_spawn("/bin/sleep", ["sleep", "3600"], os.environ)
while True:
    signal.pause()
"""

# A tree of 5 processes that map one shared segment of N MiB: the main
# writes it, 4 children read every page of it.
SHARED_PY = """\
import mmap, os, signal, sys
size = int(sys.argv[1]) << 20
m = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
for _ in range(size >> 20):
    m.write(b"\\x01" * (1 << 20))
for _ in range(4):
    if os.fork() == 0:
        m.find(b"\\x02", 0)
        while True:
            signal.pause()
while True:
    signal.pause()
"""


class Daemon(tendbench.Daemon):
    """A daemon that is brought down at the end whatever happens."""

    def __init__(self, root, ini_text):
        super().__init__(TEND, root, ini_text)
        self.status_cost = 0

    def up(self):
        LIVE.append(self)
        return super().up()

    def wakeups(self):
        return self.daemon()["wakeups"]

    def measure_status_cost(self):
        """Wakeups one status call adds to the next reading (as in daemon.py)."""
        costs = []
        for _ in range(3):
            a = self.wakeups()
            costs.append(self.wakeups() - a)
        self.status_cost = min(costs)

    def down(self):
        super().down()
        if self in LIVE:
            LIVE.remove(self)


LIVE = []      # daemons up, for the cleanup
SPAWNED = []   # pids this script started itself


def machine_procs():
    return sum(1 for e in os.listdir("/proc") if e.isdigit())


def window(d, secs):
    """(CPU ns, wall s, wakeups other than status calls, machine procs)."""
    w0 = d.wakeups()
    time.sleep(0.05)   # the status call's last wakeup (hang-up) is past
    c0, t0 = tendbench.cpu_ns(d.pid), time.monotonic()
    procs = machine_procs()
    time.sleep(secs)
    c1, t1 = tendbench.cpu_ns(d.pid), time.monotonic()
    w1 = d.wakeups()
    return c1 - c0, t1 - t0, w1 - w0 - d.status_cost, procs


def wait_procs(d, want, old_pids=(), timeout=120):
    """Until every service is running anew with WANT processes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        units = d.status()
        if all(u["state"] == "running" and u["procs"] == want
               and u["pid"] not in old_pids for u in units):
            time.sleep(0.5)   # reaping of the old trees, the procs file
            return [u["pid"] for u in units]
        time.sleep(0.2)
    raise RuntimeError("services not up with %d processes each: %s"
                       % (want, d.status()))


def tree_ini(tree, n, limited, limit=FAR):
    return ("[tend]\nmemory-interval = %dms\n[service t]\n"
            "exec = /usr/bin/python3 %s %d\n%s"
            % (INTERVAL_MS, tree, n, limit if limited else ""))


def spawn_outside(n, root):
    """N `sleep`s outside any tree: more of /proc for the scan to read."""
    env = dict(os.environ, TEND_BENCH_ROOT=root)
    for _ in range(n):
        SPAWNED.append(os.posix_spawn("/bin/sleep", ["sleep", "3600"], env))


def kill_spawned():
    for pid in SPAWNED:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in SPAWNED:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    SPAWNED.clear()


def sample_cost(root, tree, n, outside=0, limit=FAR, procs=None, status=False):
    """One row of scenario 1: per repetition, an ON then an OFF window.
    With STATUS, also the wall time of `tend status --json` (ms, each)."""
    spawn_outside(outside, root)
    d = Daemon(root, tree_ini(tree, n, True, limit))
    procs = procs or n
    rows, took = [], []
    try:
        d.up()
        pids = wait_procs(d, procs)
        d.measure_status_cost()
        for rep in range(REPS):
            if rep:
                d.reload(tree_ini(tree, n, True, limit))
                pids = wait_procs(d, procs, pids)
            on = window(d, WINDOW)
            d.reload(tree_ini(tree, n, False))
            pids = wait_procs(d, procs, pids)
            off = window(d, WINDOW)
            rows.append((on, off))
            for _ in range(5 if status else 0):
                t0 = time.monotonic()
                d.status()
                took.append((time.monotonic() - t0) * 1000)
    finally:
        d.down()
        kill_spawned()
    return (rows, took) if status else rows


def cost_row(rows, n):
    """(us per sample, samples, expected, period, CPU on %, CPU off %,
    wakeups off, machine procs) of sample_cost's ROWS, each a list."""
    per, samples, exp, on_pct, off_pct, offw, procs, period = \
        [], [], [], [], [], [], [], []
    for (con, ton, won, pon), (coff, toff, woff, poff) in rows:
        extra = con - coff * ton / toff
        per.append(extra / max(won, 1) / 1000)
        samples.append(won)
        exp.append(ton * 1000 / INTERVAL_MS)
        period.append(ton * 1000 / max(won, 1))
        on_pct.append(con / ton / 1e7)
        off_pct.append(coff / toff / 1e7)
        offw.append(woff)
        procs.append(pon)
    return per, samples, exp, period, on_pct, off_pct, offw, procs


def many(root, limited_secs, plain_secs):
    def ini(limited):
        return "".join("[service s%d]\nexec = sleep 600\n%s"
                       % (i, "memory-max = 1G\n" if limited else "")
                       for i in range(MANY))
    d = Daemon(root, ini(True))   # memory-interval: the default, 2s
    out = []
    try:
        d.up()
        pids = wait_procs(d, 1)
        d.measure_status_cost()
        for limited, secs in ((True, limited_secs), (False, plain_secs)):
            if not limited:
                d.reload(ini(False))
                pids = wait_procs(d, 1, pids)
            slices = [window(d, MANY_SLICE) for _ in range(max(1, round(secs / MANY_SLICE)))]
            out.append(slices)
    finally:
        d.down()
    return out


def near(root, tree):
    """Scenario 2: samples that read smaps_rollup, and status."""
    shared = os.path.join(root, "shared.py")
    with open(shared, "w") as f:
        f.write(SHARED_PY)
    print()
    print("Over memory-warn (1%% of memory-max 100M for the sleeps, 4G for "
          "the segments: smaps_rollup of each process at every sample), "
          "memory-interval = %d ms; %.1f s "
          "windows on, then off (reload), %d repetitions; median (min-max); "
          "status: `tend status --json`, command to answer, 5 after each "
          "window on" % (INTERVAL_MS, WINDOW, REPS))
    print()
    print("| tree | resident | samples / window (window/interval) | period | "
          "CPU on | us per sample | us per tree process | status, ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    cases = [("%d processes (python + sleeps)" % n, tree, n, n, "-",
              NEAR_SLEEPS) for n in NEAR_SIZES]
    cases += [("5 processes mapping one %d MiB segment" % mb, shared, mb, 5,
               "%d MiB, mapped 5 times" % mb, NEAR_SHARED) for mb in SEGMENTS]
    for i, (label, script, arg, procs, resident, limit) in enumerate(cases):
        sub = os.path.join(root, "near%d" % i)
        os.makedirs(sub)
        rows, took = sample_cost(sub, script, arg, 0, limit, procs, status=True)
        per, samples, exp, period, on_pct, off_pct, offw, _ = cost_row(rows, procs)
        print("| %s | %s | %s (%.0f) | %.0f ms | %s %% | %s | %s | %s |"
              % (label, resident, spread(samples, "%d"), statistics.median(exp),
                 statistics.median(period), spread(on_pct, "%.2f"),
                 spread(per, "%.0f"), spread([p / procs for p in per], "%.1f"),
                 spread(took, "%.1f")), flush=True)


def spread(xs, fmt):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def main():
    if not os.access(TEND, os.X_OK):
        sys.exit("memory.py: no tend binary at %s" % TEND)
    root = tempfile.mkdtemp(prefix="tend-bench-mem-")
    try:
        run(root)
    finally:
        for d in list(LIVE):
            d.down()
        kill_spawned()
        left = tendbench.sweep(root)
        print("processes left behind (named %s): %d%s"
              % (root, len(left), " -- killed: %s" % left if left else ""))
        subprocess.run(["rm", "-rf", root])


def run(root):
    tree = os.path.join(root, "tree.py")
    with open(tree, "w") as f:
        f.write(TREE_PY)

    print("tend %s; %d CPUs; CPU time from %s; %s"
          % (TEND, os.cpu_count(),
             "schedstat (ns)" if tendbench.SCHEDSTAT else "utime+stime (%d ticks/s)" % tendbench.TICK,
             "quick" if QUICK else "full"))
    print()
    print("Cost of one sample, memory-interval = %d ms, memory-max = 100G; "
          "%.1f s windows with the limit on, then off (reload), %d repetitions; "
          "median (min-max)" % (INTERVAL_MS, WINDOW, REPS))
    print()
    print("| tree | machine procs | samples / window (window/interval) "
          "| period | CPU on | CPU off | us per sample | us per tree process | "
          "wakeups off |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    costs = {}
    cases = [(n, 0) for n in SIZES] + ([(1, OUTSIDE)] if OUTSIDE else [])
    for i, (n, outside) in enumerate(cases):
        sub = os.path.join(root, "c%d" % i)
        os.makedirs(sub)
        rows = sample_cost(sub, tree, n, outside)
        per, samples, exp, period, on_pct, off_pct, offw, procs = cost_row(rows, n)
        label = "%d" % n + (" (+%d outside)" % outside if outside else "")
        costs[(n, outside)] = (statistics.median(per), statistics.median(procs))
        print("| %s | %d | %s (%.0f) | %.0f ms | %s %% | %s %% | %s | %s | %s |"
              % (label, statistics.median(procs), spread(samples, "%d"),
                 statistics.median(exp), statistics.median(period),
                 spread(on_pct, "%.2f"),
                 spread(off_pct, "%.3f"), spread(per, "%.0f"),
                 spread([p / n for p in per], "%.1f"), spread(offw, "%d")),
              flush=True)
    if OUTSIDE and (1000, 0) in costs:
        # Same machine, same size of /proc: the rows differ in where the
        # extra processes are; the scan reads each once, the tree's are
        # also read for their memory.
        c1, m1 = costs[(1, 0)]
        co, mo = costs[(1, OUTSIDE)]
        ct, mt = costs[(1000, 0)]
        print()
        print("per process of the machine (scan of /proc/PID/stat): %.1f us; "
              "per process of a limited tree (its /proc/PID/status on top): "
              "%.1f us" % ((co - c1) / (mo - m1), (ct - co) / 999))

    near(root, tree)

    print()
    print("Daemon CPU, %d services `sleep 600`, memory-interval = 2s (default); "
          "%.0f s slices; %% of one core" % (MANY, MANY_SLICE))
    print()
    print("| services | window | machine procs | samples (window/2s) | CPU, whole "
          "window | CPU per slice | us per sample |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    sub = os.path.join(root, "many")
    os.makedirs(sub)
    on, off = many(sub, MANY_ON, MANY_OFF)
    for name, slices in (("%d with memory-max = 1G" % MANY, on),
                         ("%d without memory-max" % MANY, off)):
        c = sum(s[0] for s in slices)
        t = sum(s[1] for s in slices)
        w = sum(s[2] for s in slices)
        pct = [s[0] / s[1] / 1e7 for s in slices]
        off_rate = sum(s[0] for s in off) / sum(s[1] for s in off)
        per = ("%.0f" % ((c - off_rate * t) / w / 1000)
               if slices is on and w > 0 else "-")
        print("| %s | %.0f s | %d | %d (%.1f) | %.4f %% | %s %% | %s |"
              % (name, t, statistics.median(s[3] for s in slices), w, t / 2,
                 c / t / 1e7, spread(pct, "%.4f"), per), flush=True)
    print()


if __name__ == "__main__":
    main()
