#!/usr/bin/env python3
"""First figures for tend alone (the comparison with other supervisors is
part 7): footprint and wakeups of an idle `tend exec`, restart latency, and
the time to stop a tree of plain, setsid and double-forked processes.

Usage: bench/basic.py [TEND_BIN] [ROUNDS]   (from `make bench-basic`)
Every process it starts is stopped by pid; nothing is left behind.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TEND = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/tend")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


class Tend:
    def __init__(self, *args):
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen([TEND, "exec", "--json", *args],
                                  stderr=self.err, stdout=subprocess.DEVNULL)

    def events(self):
        self.err.seek(0)
        out = []
        for line in self.err.read().decode().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_for(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            evs = self.events()
            if pred(evs):
                return evs
            time.sleep(0.002)
        raise TimeoutError("no such events: %r" % self.events())

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(15)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


def spawned(evs):
    return [e for e in evs if e["event"] == "spawned"]


def idle_footprint():
    t = Tend("--", "sleep", "600")
    try:
        t.wait_for(lambda e: spawned(e))
        time.sleep(0.5)
        pid = t.p.pid
        before = (status_field(pid, "voluntary_ctxt_switches") +
                  status_field(pid, "nonvoluntary_ctxt_switches"))
        time.sleep(10)
        after = (status_field(pid, "voluntary_ctxt_switches") +
                 status_field(pid, "nonvoluntary_ctxt_switches"))
        rss = status_field(pid, "VmRSS")
        anon = status_field(pid, "RssAnon")
        return {"wakeups_10s": after - before, "rss_kib": rss, "anon_kib": anon}
    finally:
        t.stop()


def restart_latency():
    """kill -9 of the service -> the next `spawned` event, backoff 0."""
    t = Tend("--backoff", "0", "--max-crashes", "1000/1h", "--", "sleep", "600")
    lat = []
    try:
        evs = t.wait_for(lambda e: spawned(e))
        for i in range(ROUNDS):
            pid = spawned(evs)[-1]["pid"]
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            evs = t.wait_for(lambda e, n=i + 2: len(spawned(e)) >= n)
            lat.append((time.monotonic() - t0) * 1000)
    finally:
        t.stop()
    return lat


TREE = ("sleep 600 & setsid sleep 600 & "
        "sh -c 'setsid sh -c \"sleep 600 & exit 0\" & exit 0'; exec sleep 600")


def stop_latency():
    """SIGTERM to tend -> tend exited with the whole tree gone."""
    lat = []
    for _ in range(ROUNDS):
        t = Tend("--", "sh", "-c", TREE)
        t.wait_for(lambda e: spawned(e))
        time.sleep(0.05)
        t0 = time.monotonic()
        t.stop()
        lat.append((time.monotonic() - t0) * 1000)
    return lat


def summary(xs):
    xs = sorted(xs)
    return "median %.2f ms, min %.2f, max %.2f (n=%d)" % (
        statistics.median(xs), xs[0], xs[-1], len(xs))


def main():
    fp = idle_footprint()
    print("idle tend exec: %(wakeups_10s)d wakeups in 10 s, VmRSS %(rss_kib)d KiB,"
          " RssAnon %(anon_kib)d KiB" % fp)
    print("restart after kill -9 (backoff 0): " + summary(restart_latency()))
    print("stop of a 4-process tree (plain, setsid, double fork): " +
          summary(stop_latency()))


if __name__ == "__main__":
    main()
