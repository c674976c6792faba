#!/usr/bin/env python3
"""Figures for the daemon (part 2): its own memory and fds over many
restarts of a crashing service, its wakeups when idle, the cost of status,
start-all time and memory with many services, and how fast the trees of a
SIGKILLed daemon are gone.

Usage: bench/daemon.py [TEND_BIN] [RESTARTS]   (from `make bench-daemon`)
Runs in a temporary XDG_RUNTIME_DIR / XDG_STATE_HOME; every daemon it
starts is stopped with `tend down` or killed by pid; nothing is left.
"""
import os
import signal
import statistics
import sys
import tempfile
import time

from tendbench import Daemon, live

TEND = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/tend")
RESTARTS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000


def kib(n):
    return "%.0f KiB" % (n / 1024)


def restarts(root):
    d = Daemon(TEND, root, "[service crash]\nexec = false\nbackoff = 0\n"
                     "max-crashes = 100000/1s\nclean-restarts = 100000/1s\n")
    d.up()
    time.sleep(0.5)
    before = d.daemon()
    n0 = d.status("crash")[0]["restarts"]
    while True:
        s = d.status("crash")[0]
        if s["restarts"] - n0 >= RESTARTS:
            break
        time.sleep(0.5)
    d.tend("stop", "crash")
    after = d.daemon()
    d.down()
    return before, after, s["restarts"] - n0


def idle(root):
    d = Daemon(TEND, root, "[service a]\nexec = sleep 600\n[service b]\nexec = sleep 600\n")
    d.up()
    # What one status call itself costs, to take it out of the figure.
    a = d.daemon()["wakeups"]
    w0 = d.daemon()["wakeups"]
    cost = w0 - a
    time.sleep(10)
    w1 = d.daemon()["wakeups"]
    d.down()
    return w1 - w0 - cost


def many(root, n):
    ini = "".join("[service s%d]\nexec = sleep 600\n" % i for i in range(n))
    d = Daemon(TEND, root, ini)
    took = d.up()
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        d.tend("status", "--json")
        times.append(time.monotonic() - t0)
    st = d.daemon()
    t0 = time.monotonic()
    d.down()
    return took, statistics.median(times), st, time.monotonic() - t0


def sigkill(root, rounds):
    tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "tests", "e2e", "bin", "tree.py")
    out = []
    for i in range(rounds):
        td = os.path.join(root, "tree%d" % i)
        os.makedirs(td)
        d = Daemon(TEND, root, "[service t]\nexec = /usr/bin/python3 %s %s\n" % (tree, td),
                   name="k%d.ini" % i)
        d.up()
        end = time.monotonic() + 10
        while len(os.listdir(td)) < 5 and time.monotonic() < end:
            time.sleep(0.01)
        procs = []
        for f in os.listdir(td):
            try:
                procs.append(int(open(os.path.join(td, f)).read().split()[0]))
            except (ValueError, IndexError, OSError):
                pass
        t0 = time.monotonic()
        os.kill(d.pid, signal.SIGKILL)
        while any(live(p) for p in procs) and time.monotonic() - t0 < 5:
            time.sleep(0.0005)
        out.append((time.monotonic() - t0) * 1000)
    return out


def main():
    with tempfile.TemporaryDirectory() as root:
        def sub(name):
            path = os.path.join(root, name)
            os.makedirs(path)
            return path
        w = idle(sub("idle"))
        print("idle daemon, 2 services, 10 s: %d wakeups" % max(w, 0))
        b, a, n = restarts(sub("r"))
        print("%d restarts of a crashing service: daemon anon+shmem %s -> %s, fds %d -> %d"
              % (n, kib(b["mem_bytes"]), kib(a["mem_bytes"]), b["fds"], a["fds"]))
        for n in (100, 1000):
            took, st, dj, down = many(sub("m%d" % n), n)
            print("%d services: up -d %.0f ms, status --json %.1f ms (median of 5), "
                  "down %.0f ms, daemon anon+shmem %s, %d fds"
                  % (n, took * 1000, st * 1000, down * 1000,
                     kib(dj["mem_bytes"]), dj["fds"]))
        ks = sigkill(sub("k"), 10)
        print("kill -9 of the daemon -> its 5-process tree gone: median %.1f ms "
              "(%.1f-%.1f, n=%d)" % (statistics.median(ks), min(ks), max(ks), len(ks)))


if __name__ == "__main__":
    main()
