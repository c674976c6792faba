#!/usr/bin/env python3
"""Figures for jobs and watches (part 5).

Memory: a job (bench/jobs_alloc.py job 1k 130 200: 130 MiB of 1 KiB
objects, every page written, held 200 ms so that the 50 ms memory sampler
sees the whole of it) run RUNS times with `tend run --wait`; the daemon's
VmRSS, RssAnon and VmHWM (/proc/PID/status) before the first run, after
each and 1 s after the last, with each run's peak_mem_bytes and
duration_ms (`tend status --json`, last_run) and the wall time of `tend run
--wait`.  Against it, the same work done RUNS times in one long-lived
Python process (jobs_alloc.py rounds), in four shapes: one 130 MiB block
(glibc serves it with mmap), 256-byte objects (pymalloc), 1 KiB objects
(glibc's heap: the job's own work) and 1 KiB objects keeping 1 in 100
alive across rounds (an indexer's cache); its RSS after each round and 1 s
after the last.

Watches: a tree of 10 x D directories of 100 files each, watched by a job
(`watch = TREE`, `debounce = 100ms`) that appends `date +%s%N` to a file.
Set-up: watch_new reads the whole tree before the daemon answers the
reload that adds it (or, at start, before `up -d` returns), so the time of
`tend reload` adding the watch, less that of a reload that changes
nothing, is the set-up; the inotify watches the daemon holds (its fdinfo)
confirm it is armed.  Memory: VmRSS / RssAnon of fresh daemons with and
without the watch (`up -d` timed too, alternated).  Latency: a write and
close of a random file of the tree -> the job's own timestamp (CLOCK_REALTIME,
ns), and -> the job_started event (ms), less the debounce; one write at a
time, the next once the run is over and 200 ms later.  For scale, the job's
program spawned directly (spawn -> its timestamp).

Usage: bench/jobs.py [TEND_BIN] [--quick]   (from `make bench-jobs`)
Runs in a temporary directory (its XDG_RUNTIME_DIR, XDG_STATE_HOME and the
tree); the daemons are stopped with `tend down` or killed by pid, every
other process it starts is waited for, and at the end nothing that names
the temporary directory in its command line or environment may be left.
"""
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import tendbench
from tendbench import proc_mem

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
QUICK = "--quick" in sys.argv[1:]
TEND = os.path.abspath(ARGS[0] if ARGS else "build/tend")
PY = "/usr/bin/python3"
ALLOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs_alloc.py")

if QUICK:
    RUNS, DIRS, SAMPLES, REPS = 3, 100, 5, 3
else:
    RUNS, DIRS, SAMPLES, REPS = 10, 1000, 30, 5
MIB, HOLD_MS, FILES = 130, 200, 100
KINDS = (("block", "one block"), ("small", "256 B objects"),
         ("1k", "1 KiB objects"), ("cache", "1 KiB, 1 in 100 kept"))
DEBOUNCE_MS = 100

LIVE = []   # daemons up, for the cleanup


class Daemon(tendbench.Daemon):
    """A daemon that is brought down at the end whatever happens."""

    def up(self):
        LIVE.append(self)
        return super().up()

    def down(self):
        super().down()
        if self in LIVE:
            LIVE.remove(self)

    def timed(self, *args):
        t0 = time.monotonic()
        self.tend(*args)
        return (time.monotonic() - t0) * 1000


def mkdir(root, name):
    path = os.path.join(root, name)
    os.makedirs(path)
    return path


def kib(n):
    return "%d KiB" % (n // 1024)


def mib(n):
    return "%.1f MiB" % (n / 1048576)


def spread(xs, fmt="%.1f"):
    return (fmt + " (" + fmt + "-" + fmt + ", n=%d)") % (
        statistics.median(xs), min(xs), max(xs), len(xs))


def p90(xs):
    return sorted(xs)[math.ceil(0.9 * len(xs)) - 1]


def wait_for(what, cond, timeout=10, step=0.005):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("no %s after %d s" % (what, timeout))
        time.sleep(step)


# --- memory: a job against the same work in a long-lived process ----------

def job_runs(root):
    d = Daemon(TEND, root, "[tend]\nmemory-interval = 50ms\n[job alloc]\n"
               "exec = %s %s job 1k %d %d\n" % (PY, ALLOC, MIB, HOLD_MS))
    d.up()
    time.sleep(0.2)
    rows = [proc_mem(d.pid)]
    runs = []
    for _ in range(RUNS):
        wall = d.timed("run", "alloc", "--wait")
        rows.append(proc_mem(d.pid))
        runs.append((d.status("alloc")[0]["last_run"], wall))
    time.sleep(1)
    rows.append(proc_mem(d.pid))
    d.down()
    return rows, runs


def in_process(root, kind):
    """[(VmRSS, RssAnon, VmHWM) in bytes] at start, after each round, 1 s
    after; and each round's ms."""
    r = subprocess.run([PY, ALLOC, "rounds", kind, str(MIB), str(RUNS)],
                       env=dict(os.environ, TEND_BENCH_ROOT=root),
                       capture_output=True, text=True, timeout=300, check=True)
    rows, ms = [], []
    for line in r.stdout.split("\n"):
        f = line.split()
        if f:
            rows.append(tuple(int(x) * 1024 for x in f[-3:]))
            if len(f) == 5:
                ms.append(int(f[1]))
    return rows, ms


def memory(root):
    rows, runs = job_runs(root)
    procs = {kind: in_process(root, kind) for kind, _ in KINDS}

    print("A job of %d MiB (1 KiB objects, every page written) run %d times "
          "with `tend run --wait`: the daemon's memory; and the same work done "
          "in one long-lived Python process, by shape: its VmRSS" % (MIB, RUNS))
    print()
    print("| after | tend daemon VmRSS / RssAnon | the run: peak_mem / duration_ms "
          "/ `run --wait` | " + " | ".join(name for _, name in KINDS) + " |")
    print("| --- " * (3 + len(KINDS)) + "|")
    labels = (["start"] + ["run %d" % (i + 1) for i in range(RUNS)]
              + ["1 s later"])
    for i, label in enumerate(labels):
        run = ("%s / %d ms / %.0f ms" % (mib(runs[i - 1][0]["peak_mem_bytes"]),
                                       runs[i - 1][0]["duration_ms"], runs[i - 1][1])
               if 0 < i <= RUNS else "")
        print("| %s | %s / %s | %s | %s |" % (
            label, kib(rows[i]["VmRSS"]), kib(rows[i]["RssAnon"]), run,
            " | ".join(mib(procs[k][0][i][0]) for k, _ in KINDS)))
    print("| high-water (VmHWM) | %s | | %s |" % (
        kib(rows[-1]["VmHWM"]),
        " | ".join(mib(procs[k][0][-1][2]) for k, _ in KINDS)))
    print()
    print("daemon RssAnon: %s before the first run, %s after the last; "
          "results: %s" % (kib(rows[0]["RssAnon"]), kib(rows[-1]["RssAnon"]),
             ", ".join(sorted({r["result"] for r, _ in runs}))))
    print("one round in-process, ms, median: " + ", ".join(
        "%s %d" % (name, statistics.median(procs[k][1])) for k, name in KINDS))
    print()


# --- watches: set-up, memory, latency ---------------------------------------

def make_tree(top):
    """10 x DIRS/10 directories of FILES files; the paths of the files."""
    files = []
    for a in range(10):
        for b in range(DIRS // 10):
            d = os.path.join(top, "a%d" % a, "b%d" % b)
            os.makedirs(d)
            for f in range(FILES):
                p = os.path.join(d, "f%d.txt" % f)
                with open(p, "w") as fh:
                    fh.write("x\n")
                files.append(p)
    return files


def inotify_watches(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:inotify":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                n += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            pass
    return n


def stamps(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def watches(root):
    tree = os.path.join(root, "tree")
    t0 = time.monotonic()
    files = make_tree(tree)
    made = time.monotonic() - t0
    ndirs = 1 + 10 + DIRS
    stamp = os.path.join(root, "stamps")
    job = '[job w]\nexec = /bin/sh -c "date +%%s%%N >> %s"\n' % stamp
    watched = job + "watch = %s\ndebounce = %dms\n" % (tree, DEBOUNCE_MS)

    # Fresh daemons, alternated: up -d and memory without and with the watch.
    fresh = {False: [], True: []}
    for k in range(REPS):
        for w in (False, True):
            d = Daemon(TEND, mkdir(root, "f%d%d" % (k, w)), watched if w else job)
            up = d.up() * 1000
            time.sleep(0.2)
            fresh[w].append((up, proc_mem(d.pid), inotify_watches(d.pid)))
            d.down()

    # One daemon: the watch added and removed by reload, then the writes.
    d = Daemon(TEND, mkdir(root, "d"), job)
    d.up()
    noop = [d.timed("reload") for _ in range(REPS)]
    adds, drops, armed = [], [], []
    for _ in range(REPS):
        d.write(watched)
        adds.append(d.timed("reload"))
        armed.append(inotify_watches(d.pid))
        d.write(job)
        drops.append(d.timed("reload"))
    d.write(watched)
    d.tend("reload")
    if inotify_watches(d.pid) != ndirs:
        raise RuntimeError("%d inotify watches, not %d"
                           % (inotify_watches(d.pid), ndirs))

    writes = []
    for i in range(SAMPLES):
        f = open(random.choice(files), "w")
        f.write("%d\n" % i)
        f.close()
        writes.append(time.time_ns())
        wait_for("run %d of the watched job" % (i + 1),
                 lambda: len(stamps(stamp)) > i)
        wait_for("the end of run %d" % (i + 1),
                 lambda: d.status("w")[0]["state"] == "idle", step=0.05)
        time.sleep(0.2)
    evs = d.events()
    d.down()
    ran = stamps(stamp)
    started = [e["ts"] for e in evs if e.get("event") == "job_started"]
    triggered = [e for e in evs if e.get("event") == "watch_triggered"]
    own = [(s - w) / 1e6 - DEBOUNCE_MS for w, s in zip(writes, ran)]
    event = [s - w / 1e6 - DEBOUNCE_MS for w, s in zip(writes, started)]

    # The job's program spawned directly: its own start.
    direct = os.path.join(root, "direct")
    spawn = []
    for _ in range(SAMPLES):
        t = time.time_ns()
        subprocess.run(["/bin/sh", "-c", "date +%%s%%N >> %s" % direct],
                       timeout=10, check=True)
        spawn.append((stamps(direct)[-1] - t) / 1e6)

    with open("/proc/sys/fs/inotify/max_user_watches") as f:
        limit = int(f.read())
    without = [m for _, m, _ in fresh[False]]
    withw = [m for _, m, _ in fresh[True]]
    print("A job watching %d files in %d directories (made in %.1f s), "
          "debounce = %d ms; fs.inotify.max_user_watches = %d"
          % (len(files), ndirs, made, DEBOUNCE_MS, limit))
    print()
    print("| figure | value |")
    print("| --- | --- |")
    print("| inotify watches held (daemon's fdinfo): fresh daemon / after each reload "
          "| %s / %s |" % (sorted({n for _, _, n in fresh[True]}), sorted(set(armed))))
    print("| set-up: `tend reload` adding the watch, ms | %s |" % spread(adds))
    print("| `tend reload` changing nothing, ms | %s |" % spread(noop))
    print("| `tend reload` removing the watch, ms | %s |" % spread(drops))
    print("| `up -d` without / with the watch, ms, median | %.1f / %.1f |" % (
        statistics.median(u for u, _, _ in fresh[False]),
        statistics.median(u for u, _, _ in fresh[True])))
    print("| daemon VmRSS without / with the watch, median | %s / %s |" % (
        kib(statistics.median(m["VmRSS"] for m in without)),
        kib(statistics.median(m["VmRSS"] for m in withw))))
    print("| daemon RssAnon without / with the watch, median | %s / %s |" % (
        kib(statistics.median(m["RssAnon"] for m in without)),
        kib(statistics.median(m["RssAnon"] for m in withw))))
    print("| write -> job's own timestamp, less the debounce, ms: median / p90 / max "
          "| %.1f / %.1f / %.1f (n=%d) |" % (statistics.median(own), p90(own),
                                             max(own), len(own)))
    print("| write -> job_started event (ms clock), less the debounce, ms: median / "
          "p90 / max | %.0f / %.0f / %.0f |" % (statistics.median(event),
                                                 p90(event), max(event)))
    print("| the job's program spawned directly (`sh -c date`), ms, median | %.1f |"
          % statistics.median(spawn))
    print()
    print("writes %d, watch_triggered %d (changes: %s), runs %d"
          % (SAMPLES, len(triggered), sorted({e["changes"] for e in triggered}),
             len(ran)))
    if not (len(triggered) == len(ran) == len(started) == SAMPLES):
        raise RuntimeError("one run per write expected")
    print()


def main():
    if not os.access(TEND, os.X_OK):
        sys.exit("jobs.py: no tend binary at %s" % TEND)
    root = tempfile.mkdtemp(prefix="tend-bench-jobs-")
    t0 = time.monotonic()
    try:
        print("tend %s; %d CPUs; %s" % (TEND, os.cpu_count(),
                                        "quick" if QUICK else "full"))
        print()
        memory(mkdir(root, "mem"))
        watches(root)
    finally:
        for d in list(LIVE):
            d.down()
        left = tendbench.sweep(root)
        print("processes left behind (named %s): %d%s"
              % (root, len(left), " -- killed: %s" % left if left else ""))
        subprocess.run(["rm", "-rf", root])
        print("%.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
