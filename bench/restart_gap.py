#!/usr/bin/env python3
"""The restart gap: from a crashing service's `exited` event to the
`spawned` event of its next run, at backoff 0 (tend's own events, ms
resolution), and the daemon's CPU time per restart.

Usage: bench/restart_gap.py [TEND_BIN] [RESTARTS] [EXTRA] [WRAP ...]
  RESTARTS  how many restarts to measure (default 500)
  EXTRA     idle processes (`sleep`) started first, so that the machine has
            that many more processes (default 0)
  WRAP      a command the daemon is started under, e.g. `chrt --fifo 10`
            (its runs inherit it): the gap without waiting for a CPU that
            other programs keep busy
Runs in a temporary XDG_RUNTIME_DIR / XDG_STATE_HOME; the daemon is stopped
with `tend down`, the sleepers are killed by pid; nothing is left.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

TEND = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/tend")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500
EXTRA = int(sys.argv[3]) if len(sys.argv) > 3 else 0
WRAP = sys.argv[4:]

INI = """\
[tend]
log-max = 64M

[service crasher]
exec = /bin/false
backoff = 0
max-crashes = 100000/1s
start = on-demand
"""


def main():
    d = tempfile.mkdtemp(prefix="tend-gap-")
    env = dict(os.environ, XDG_RUNTIME_DIR=d + "/run",
               XDG_STATE_HOME=d + "/state")
    for x in ("run", "state"):
        os.makedirs(d + "/" + x, mode=0o700)
    ini = d + "/tend.ini"
    with open(ini, "w") as f:
        f.write(INI)

    def tend(*args, check=True):
        return subprocess.run([TEND, "-c", ini] + list(args), env=env,
                              check=check, capture_output=True, text=True)

    sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(EXTRA)]
    try:
        subprocess.run(WRAP + [TEND, "-c", ini, "up", "-d"], env=env,
                       check=True)
        try:
            pid = json.loads(tend("status", "--json").stdout)["daemon"]["pid"]
            procs = sum(1 for p in os.listdir("/proc") if p.isdigit())
            load0 = os.getloadavg()[0]

            def cpu_ms():
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return ((int(fields[11]) + int(fields[12])) * 1000 /
                        os.sysconf("SC_CLK_TCK"))
            c0 = cpu_ms()
            tend("start", "crasher")
            t0 = time.monotonic()
            while True:
                time.sleep(0.5)
                st = json.loads(tend("status", "crasher", "--json").stdout)
                restarts = [u for u in st["units"] if u["name"] == "crasher"][0][
                    "restarts"]
                if restarts >= N:
                    break
            took = time.monotonic() - t0
            c1 = cpu_ms()
            tend("stop", "crasher")
            load1 = os.getloadavg()[0]
        finally:
            tend("down", check=False)
    finally:
        for s in sleepers:
            s.kill()
            s.wait()
    evs = []
    for path in glob.glob(d + "/state/tend/*/events.log*"):
        with open(path) as f:
            evs += [json.loads(line) for line in f]
    evs = [e for e in evs if e["unit"] == "crasher" and
           e["event"] in ("exited", "spawned")]
    evs.sort(key=lambda e: e["ts"])
    gaps = sorted(b["ts"] - a["ts"] for a, b in zip(evs, evs[1:])
                  if a["event"] == "exited" and b["event"] == "spawned")

    def q(p):
        return gaps[min(len(gaps) - 1, int(len(gaps) * p))]
    print("%d restarts measured: exited -> spawned median %d ms, p90 %d ms, max %d ms; "
          "%.2f ms per restart; daemon CPU %.2f ms per restart; %d processes "
          "on the machine; load %.2f -> %.2f%s"
          % (len(gaps), q(0.5), q(0.9), gaps[-1], 1000 * took / restarts,
             (c1 - c0) / restarts, procs, load0, load1,
             "; under " + " ".join(WRAP) if WRAP else ""))


if __name__ == "__main__":
    main()
