#!/usr/bin/env python3
"""tend side by side with s6, runit, supervisord and PM2 (issue 9): the
scenarios below, every supervisor in one run, peers alternated run by run
so that drift hits them all alike; median and spread; a report in Markdown
(BENCHMARKS.md) with plots (gnuplot, SVG).

  1 footprint    N services (hello: a shell that execs `sleep`): PSS and RSS
                 of the supervisor's own processes; their CPU time and
                 context switches over an idle window, all supervisors idle
                 at once
  2 restart      kill -9 of a service -> its new instance running (its line
                 on the bench's FIFO); each supervisor with its default and,
                 where one exists, its fastest setting; a bare fork+exec of
                 the same program, in the same rounds
  3 containment  a service with a plain and a setsid child: (a) its main
                 process SIGKILLed, (b) stopped with the supervisor's stop
                 command, (c1) the supervisor's main process SIGKILLed, (c2)
                 every process of the supervisor SIGKILLed at once; survivors
                 1 s later
  4 memory       a service mapping a 1 GiB file and one whose child writes
                 400 MiB of anonymous memory, under a 300 MiB limit
  5 storm        N concurrent clients asking for one stopped service
  6 scale        N services: start-all time, status time, memory; the same
                 N services started with no supervisor, by a C program
                 (bench/floor_start.c), in the same rounds
  7 relay        tend's TCP proxy against a direct connection, socat and
                 a minimal splice proxy in C (bench/floor_proxy.c)
                 (bench/relay.py's stream and round trip)

Usage: bench/compare.py [TEND_BIN] [--quick] [--only S1,S2] [--peers P1,P2]
                        [--base OLD_TEND_BIN] [--out DIR]
(`make bench`, `make bench-quick`).  --base adds another tend binary as
a peer, tend-base (a build of the tree before a change: `make bench-base
BASE=REV`), to every scenario but storm, which runs TEND_BIN only (relay
runs the base's proxy beside TEND_BIN's, to the same backend).  The report goes to DIR/BENCHMARKS.md
and DIR/bench/*.svg: docs/ for a full run of everything, else
build/bench-quick (--quick) or build/bench-part.  Every supervisor runs
under a private temporary directory and is torn down by pid; at the end no
process naming that directory may be alive (exit 1 otherwise).  Exit 1
too on any harness error; a peer's figures, however bad, are not errors.
"""
import argparse
import json
import math
import os
import platform
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import peers
import relay
import tendbench
from peers import MIB, PEERS, freeze_kill, live

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
SVC = os.path.join(HERE, "peer_svc.sh")
PROG = os.path.join(HERE, "peer_prog.py")
# The floors, small C programs built by `make bench` (their rows are absent
# when they are not built): the least a user-space proxy does (relay), the
# services of scale started with no supervisor.
FLOOR = os.path.join(HERE, "..", "build", "bench", "floor_proxy")
FLOOR_START = os.path.join(HERE, "..", "build", "bench", "floor_start")
SCENARIOS = ("footprint", "restart", "containment", "memory", "storm", "scale", "relay")


class Sizes:
    def __init__(self, quick):
        q = quick
        self.foot_n, self.foot_rounds, self.foot_idle = (20, 1, 5.0) if q else (100, 3, 20.0)
        self.restart_rounds = 6 if q else 30
        self.contain_rounds = 1 if q else 3
        self.mem_rounds, self.mem_window = (1, 5.0) if q else (3, 10.0)
        self.storm_n, self.storm_rounds, self.storm_limit = (20, 1, 60) if q else (200, 2, 300)
        self.scale_n, self.scale_rounds = (100, 1) if q else (1000, 2)
        self.relay_rounds, self.relay_mib, self.relay_pings = (2, 64, 300) if q else (5, 256, 2000)


# --- the FIFO every service says its first line to ------------------------------

class Line:
    def __init__(self, t, fields):
        self.t = t                    # perf_counter when the bench read it
        self.tag = fields[0]
        self.pid = int(fields[1])
        self.rest = fields[2:]


class Fifo:
    def __init__(self, root, name):
        self.path = os.path.join(root, name + ".fifo")
        os.mkfifo(self.path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self.buf = b""
        self.lines = []

    def poll(self, timeout):
        if not select.select([self.fd], [], [], max(0.0, timeout))[0]:
            return
        t = time.perf_counter()
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        self.lines += [Line(t, c.decode().split()) for c in complete]

    def mark(self):
        return len(self.lines)

    def wait(self, pred, since=0, timeout=10.0):
        """The first line from index SINCE on that PRED accepts; None after
        TIMEOUT s."""
        end = time.perf_counter() + timeout
        i = since
        while True:
            while i < len(self.lines):
                if pred(self.lines[i]):
                    return self.lines[i]
                i += 1
            left = end - time.perf_counter()
            if left <= 0:
                return None
            self.poll(min(left, 0.5))

    def first_of(self, tags, timeout, what, since=0, strict=True):
        """{tag: its first line} for TAGS; after TIMEOUT s a RuntimeError
        (STRICT) or what came."""
        want, got = set(tags), {}
        end = time.perf_counter() + timeout
        i = since
        while True:
            for line in self.lines[i:]:
                if line.tag in want and line.tag not in got:
                    got[line.tag] = line
            i = len(self.lines)
            if len(got) == len(want):
                return got
            left = end - time.perf_counter()
            if left <= 0:
                if strict:
                    raise RuntimeError("%s: %d of %d services said they run within %.0f s "
                                       "(missing: %s)" % (what, len(got), len(want), timeout,
                                                          sorted(want - set(got))[:5]))
                return got
            self.poll(min(left, 0.5))

    def close(self):
        os.close(self.fd)


def hello(fifo, tag):
    return [SVC, "hello", fifo.path, tag]


def tree(fifo, tag):
    return [SVC, "tree", fifo.path, tag]


# --- supervisors, started and torn down -------------------------------------

LIVE = []      # peers started and not torn down yet


def start(p, threaded=False):
    LIVE.append(p)
    if not threaded:
        p.start()
        return p
    err = []

    def go():
        try:
            p.start()
        except Exception as e:   # re-raised by the caller's join
            err.append(e)
    th = threading.Thread(target=go)
    th.start()
    return th, err


def finish(*ps):
    for p in ps:
        if p in LIVE:
            p.teardown()
            LIVE.remove(p)


def sub(root, *names):
    d = os.path.join(root, *names)
    os.makedirs(d, exist_ok=True)
    return d


def rotate(xs, r):
    xs = list(xs)
    k = r % len(xs)
    return xs[k:] + xs[:k]


# --- /proc figures ---------------------------------------------------------

def own_mem(pids):
    """Sum of Pss and Rss (bytes) of PIDS, from smaps_rollup."""
    pss = rss = 0
    for p in pids:
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == "Pss":
                    pss += int(v.split()[0]) * 1024
                elif k == "Rss":
                    rss += int(v.split()[0]) * 1024
    return pss, rss


ctx_switches = relay.ctx_switches   # one reading of wakeups for both


def cpu_ctx(pids):
    return (sum(tendbench.cpu_ns(p) for p in pids),
            sum(ctx_switches(p) for p in pids))


def outer_pids(pids, below):
    """PIDS as the processes below BELOW name themselves (their innermost pid
    namespace: tend-pidns), as this process names them."""
    seen, todo = {}, [below]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
            with open("/proc/%d/status" % p) as f:
                ns = [int(x) for x in next(ln for ln in f if ln.startswith("NSpid:")).split()[1:]]
        except (OSError, StopIteration, ValueError):
            continue
        seen[ns[-1]] = p
        todo += kids
    return [seen.get(p, p) for p in pids]


def session(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(") ", 1)[1].split()[3])


# --- 1 footprint -------------------------------------------------------------

def footprint(root, S, peer_list):
    n = S.foot_n
    res = {P.name: {k: [] for k in ("pss", "pss_main", "rss", "procs", "cpu_ms", "ctx")}
           for P in peer_list}
    for r in range(S.foot_rounds):
        fifo = Fifo(root, "f%d" % r)
        sups = []
        try:
            for P in rotate(peer_list, r):
                sups.append(start(P(sub(root, "r%d" % r, P.name),
                                    {"s%d" % i: hello(fifo, "%s-s%d" % (P.name, i))
                                     for i in range(n)})))
            fifo.first_of(["%s-s%d" % (p.name, i) for p in sups for i in range(n)],
                          120, "footprint")
            time.sleep(2)
            mark = fifo.mark()
            pids = {p.name: p.own_pids() for p in sups}
            before = {k: cpu_ctx(v) for k, v in pids.items()}
            time.sleep(S.foot_idle)
            after = {k: cpu_ctx(v) for k, v in pids.items()}
            fifo.poll(0)
            if fifo.mark() != mark:
                raise RuntimeError("footprint: a service restarted during the idle window: %s"
                                   % [ln.tag for ln in fifo.lines[mark:]])
            for p in sups:
                if sorted(p.own_pids()) != sorted(pids[p.name]):
                    raise RuntimeError("footprint: %s's own processes changed while idle"
                                       % p.name)
                pss, rss = own_mem(pids[p.name])
                x = res[p.name]
                x["pss"].append(pss)
                x["pss_main"].append(own_mem([p.pid])[0])
                x["rss"].append(rss)
                x["procs"].append(len(pids[p.name]))
                x["cpu_ms"].append((after[p.name][0] - before[p.name][0]) / 1e6)
                x["ctx"].append(after[p.name][1] - before[p.name][1])
        finally:
            finish(*sups)
            fifo.close()
    return {"n": n, "idle_s": S.foot_idle, "rounds": S.foot_rounds, "peers": res}


# --- 2 restart latency -------------------------------------------------------

def bare_start(fifo, env):
    """Spawn -> first line of the same program, forked and executed by the
    bench itself (posix_spawn); ms."""
    mark = fifo.mark()
    t0 = time.perf_counter()
    pid = os.posix_spawn(SVC, [SVC, "hello", fifo.path, "bare"], env)
    try:
        got = fifo.wait(lambda ln: ln.tag == "bare" and ln.pid == pid, mark, 10)
        if got is None:
            raise RuntimeError("restart: the bare fork+exec said nothing within 10 s")
        return (got.t - t0) * 1000
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def restart(root, S, peer_list):
    k = S.restart_rounds
    fifo = Fifo(root, "restart")
    variants = [(P.name, P, False) for P in peer_list] + \
               [(P.name + "-fast", P, True) for P in peer_list if P.fast_differs]
    sups = {}
    env = dict(os.environ, TEND_BENCH_ROOT=root)
    lat = {key: [] for key, _, _ in variants}
    lat["bare"] = []
    try:
        for key, P, fast in variants:
            sups[key] = start(P(sub(root, key), {"r%d" % i: hello(fifo, "%s-r%d" % (key, i))
                                                 for i in range(k)}, fast=fast))
        cur = fifo.first_of(["%s-r%d" % (key, i) for key in sups for i in range(k)],
                            120, "restart")
        for key, p in sups.items():
            if p.main_pid("r0") != cur[key + "-r0"].pid:
                raise RuntimeError("restart: %s says r0 is pid %s, the service said %d"
                                   % (key, p.main_pid("r0"), cur[key + "-r0"].pid))
        time.sleep(1.5)   # s6 and runit wait out 1 s for a service younger than that
        for r in range(k):
            for key in rotate(list(sups) + ["bare"], r):
                if key == "bare":
                    lat["bare"].append(bare_start(fifo, env))
                    continue
                tag = "%s-r%d" % (key, r)
                old = cur[tag].pid
                mark = fifo.mark()
                t0 = time.perf_counter()
                os.kill(old, signal.SIGKILL)
                got = fifo.wait(lambda ln: ln.tag == tag and ln.pid != old, mark, 10)
                lat[key].append(None if got is None else (got.t - t0) * 1000)
        inside = {key: tend_gaps(p) for key, p in sups.items() if isinstance(p, peers.Tend)}
    finally:
        finish(*sups.values())
        fifo.close()
    labels = {key: P.name + (", " + P.fast_setting if fast else "") for key, P, fast in variants}
    return {"rounds": k, "ms": lat, "labels": labels, "tend_exited_to_spawned": inside}


def tend_gaps(p):
    """ms from each `exited` event of a unit to its next `spawned`, from
    tend's own events (ms timestamps): the part of a restart inside tend."""
    evs = p.d.events()
    gaps = []
    for e in evs:
        if e["event"] == "exited":
            nxt = [f for f in evs if f["unit"] == e["unit"] and f["event"] == "spawned"
                   and f["ts"] >= e["ts"]]
            if nxt:
                gaps.append(nxt[0]["ts"] - e["ts"])
    return gaps


# --- 3 containment -----------------------------------------------------------

def containment(root, S, peer_list):
    if peers.Tend in peer_list:   # and with the setting only it has
        peer_list = peer_list + [peers.TendNS]
    res = {P.name: {k: [] for k in ("a", "b", "b_ms", "c1", "c1_supervised", "c2")}
           for P in peer_list}
    for r in range(S.contain_rounds):
        for P in rotate(peer_list, r):
            d = sub(root, "r%d" % r, "p%d" % peer_list.index(P))
            fifo = Fifo(d, "fifo")
            tag = {c: "%s-%s" % (P.name, c) for c in "abcd"}
            a = P(sub(d, "A"), {c: tree(fifo, tag[c]) for c in "abc"})
            b = P(sub(d, "B"), {"d": tree(fifo, tag["d"])})
            procs = []
            try:
                start(a)
                start(b)
                got = fifo.first_of(tag.values(), 60, "containment")
                trees = {c: [got[tag[c]].pid] + [int(x) for x in got[tag[c]].rest] for c in "abcd"}
                if P is peers.TendNS:   # the runs say their own pids
                    trees = {c: outer_pids(t, (a if c in "abc" else b).pid)
                             for c, t in trees.items()}
                procs = [p for t in trees.values() for p in t]
                for c in "abcd":
                    if session(trees[c][2]) != trees[c][2] or session(trees[c][1]) == trees[c][1]:
                        raise RuntimeError("containment: the tree of %s is not one plain and "
                                           "one setsid child" % tag[c])
                if a.main_pid("a") != trees["a"][0]:
                    raise RuntimeError("containment: %s says a is pid %s, not %d"
                                       % (P.name, a.main_pid("a"), trees["a"][0]))
                # (a) and (b) at once
                os.kill(trees["a"][0], signal.SIGKILL)
                ta = time.monotonic()
                a.stop("b")
                tb = time.monotonic()
                time.sleep(max(ta, tb) + 1 - time.monotonic())
                x = res[P.name]
                x["a"].append(sum(live(p) for p in trees["a"][1:]))
                x["b"].append(sum(live(p) for p in trees["b"]))
                x["b_ms"].append((tb - ta) * 1000)
                # (c1) and (c2) at once
                helpers = a.own_pids()[1:]
                a.kill(everything=False)
                b.kill(everything=True)
                time.sleep(1)
                x["c1"].append(sum(live(p) for p in trees["c"]))
                x["c1_supervised"].append(any(live(h) for h in helpers))
                x["c2"].append(sum(live(p) for p in trees["d"]))
                if P is peers.Tend:
                    # tend's third layer: the next daemon of the file
                    b.start()
                    x.setdefault("c2_next", []).append(sum(live(p) for p in trees["d"]))
            finally:
                finish(a, b)
                freeze_kill(procs)
                fifo.close()
    return {"rounds": S.contain_rounds, "peers": res}


# --- 4 memory ----------------------------------------------------------------

def rss_file(pid):
    """(VmRSS, RssFile) of PID, or None when it is gone already (a peer
    that counts VmRSS may have killed it for the file it maps)."""
    try:
        got = tendbench.proc_mem(pid, ("VmRSS", "RssFile"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    return got.get("VmRSS", 0), got.get("RssFile", 0)


def memory(root, S, peer_list):
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        f.truncate(1 << 30)   # sparse: reading it fills the page cache
    limited = [P for P in peer_list if P.memory_how]
    res = {P.name: {k: [] for k in ("map_starts", "map_what", "map_rss", "hog_what", "hog_ms")}
           for P in limited}
    W = S.mem_window
    for r in range(S.mem_rounds):
        fifo = Fifo(root, "m%d" % r)
        sups = []
        try:
            for P in rotate(limited, r):
                sups.append(start(P(sub(root, "r%d" % r, P.name), {
                    "map": [PY, PROG, "map", fifo.path, P.name + "-map", big],
                    "hog": [PY, PROG, "anon", fifo.path, P.name + "-hog", "400"]},
                    memory_max=300 * MIB)))
            first = fifo.first_of([p.name + s for p in sups for s in ("-map", "-hog")],
                                  60, "memory")
            for p in sups:
                m = first[p.name + "-map"]
                rss = rss_file(m.pid) if m.rest[0] == "mapped" else None
                if rss:
                    res[p.name]["map_rss"].append(rss)
            # watch every hog's child until it dies or the window ends
            hog = {p.name: first[p.name + "-hog"] for p in sups}
            died = {}
            end = max(ln.t for ln in first.values()) + W
            while time.perf_counter() < end:
                fifo.poll(0.005)
                now = time.perf_counter()
                for name, ln in hog.items():
                    if name not in died and ln.rest[0] == "allocated" and not live(int(ln.rest[1])):
                        died[name] = now
            for p in sups:
                m = first[p.name + "-map"]
                starts = [ln for ln in fifo.lines
                          if ln.tag == p.name + "-map" and ln.t <= m.t + W]
                x = res[p.name]
                x["map_starts"].append(len(starts))
                x["map_what"].append(sorted({ln.rest[0] for ln in starts}))
                h = hog[p.name]
                x["hog_what"].append(h.rest[0])
                x["hog_ms"].append((died[p.name] - h.t) * 1000 if p.name in died else None)
        finally:
            finish(*sups)
            fifo.close()
    return {"rounds": S.mem_rounds, "window_s": W, "peers": res,
            "unlimited": [P.name for P in peer_list if not P.memory_how]}


# --- 5 spawn storm -----------------------------------------------------------

def ask_tcp(port, deadline):
    """Connects until answered (a pid line); the pid, or None at DEADLINE."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                got = s.makefile("rb").readline()
            if got.strip().isdigit():
                return int(got)
        except OSError:
            pass
        time.sleep(0.005)
    return None


def storm_run(n, client, deadline_s):
    """N threads released at once, each running CLIENT(i, deadline); (ms
    until the last answer, answers)."""
    answers = [None] * n
    go = threading.Event()
    done = [0.0] * n

    def run(i):
        go.wait()
        answers[i] = client(i, time.monotonic() + deadline_s)
        done[i] = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    return (max(done) - t0) * 1000, answers


def storm_case(root, S, case, P):
    n, limit = S.storm_n, S.storm_limit
    fifo = Fifo(root, "fifo")
    tag = case + "-svc"
    p = None
    mark = 0
    try:
        if case == "tend-proxy":
            lport, bport = relay.free_ports(2)
            p = start(peers.Tend(sub(root, "t"), {"svc": [PY, PROG, "serve", fifo.path, tag, str(bport)]},
                                 extra={"svc": ["listen = tcp:127.0.0.1:%d" % lport,
                                                "backend = tcp:127.0.0.1:%d" % bport]}))
            took, answers = storm_run(n, lambda i, dl: ask_tcp(lport, dl), limit)
        elif case == "tend-connect":
            p = peers.Tend(sub(root, "t"), {"svc": [PY, PROG, "stdio", fifo.path, tag]},
                           extra={"svc": ["stdio = exclusive", "queue-timeout = %ds" % limit]})
            LIVE.append(p)   # no daemon yet: the first tend connect starts it

            def client(i, dl):
                try:
                    r = subprocess.run(p.cli("connect", "svc"), env=p.env, input=b"c%d\n" % i,
                                       capture_output=True, timeout=max(1, dl - time.monotonic()))
                    f = r.stdout.split()
                    return int(f[0]) if r.returncode == 0 and f[1:] == [b"c%d" % i] else None
                except subprocess.TimeoutExpired:
                    return None
            took, answers = storm_run(n, client, limit)
            p.attach()
        else:
            (port,) = relay.free_ports(1)
            p = start(P(sub(root, "p"), {"svc": [PY, PROG, "serve", fifo.path, tag, str(port)]},
                        boot=False))
            end = time.monotonic() + 30
            while not p.ready():   # the supervisor takes commands
                if time.monotonic() > end:
                    raise RuntimeError("storm: %s does not take commands" % P.name)
                time.sleep(0.05)
            if p.main_pid("svc") is not None:
                raise RuntimeError("storm: %s's service runs before it was asked" % P.name)
            fifo.poll(0.1)
            mark = fifo.mark()   # PM2 started it once, to declare it
            cmd = p.start_cmd("svc")

            def client(i, dl):
                try:
                    subprocess.run(cmd, env=p.env, capture_output=True, stdin=subprocess.DEVNULL,
                                   timeout=max(1, dl - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return None
                return ask_tcp(port, dl)
            took, answers = storm_run(n, client, limit)
        fifo.poll(0.2)
        started = [ln for ln in fifo.lines[mark:] if ln.tag == tag]
        return {"served": sum(a is not None for a in answers), "n": n,
                "instances": len(started),
                "answering": len({a for a in answers if a is not None}),
                "ms": took}
    finally:
        if p:
            finish(p)
        fifo.close()


def storm(root, S, peer_list):
    cases = [("tend-proxy", peers.Tend), ("tend-connect", peers.Tend)] if peers.Tend in peer_list else []
    cases += [(P.name, P) for P in peer_list if not issubclass(P, peers.Tend)]
    res = {c: [] for c, _ in cases}
    for r in range(S.storm_rounds):
        for case, P in rotate(cases, r):
            res[case].append(storm_case(sub(root, "r%d" % r, case), S, case, P))
    return {"n": S.storm_n, "rounds": S.storm_rounds, "cases": res}


# --- 6 scale -----------------------------------------------------------------

def cpu_of(pid):
    """tendbench.cpu_ns, 0 for a process gone."""
    try:
        return tendbench.cpu_ns(pid)
    except OSError:
        return 0


class Bare(peers.Peer):
    """The services with no supervisor: bench/floor_start.c posix_spawns
    every one of them from a file of commands (a line each, words separated
    by tabs), reaps them, and on SIGTERM kills them by pid and exits."""
    name = "bare"

    def write_config(self):
        self.cmds = os.path.join(self.root, "commands")
        with open(self.cmds, "w") as f:
            for argv in self.services.values():
                if any("\t" in a or "\n" in a for a in argv):
                    raise RuntimeError("scale: bare: a tab or newline in %r" % argv)
                f.write("\t".join(argv) + "\n")

    def start(self):
        self.spawn([FLOOR_START, self.cmds])

    def teardown(self):
        """SIGTERM to floor_start by pid: it SIGKILLs its services by pid
        and reaps them; then whatever is left naming ROOT, as for a peer."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                rc = None
            if rc != 0:
                raise RuntimeError("scale: bare: floor_start %s (%s.log under %s)"
                                   % ("did not stop within 30 s of SIGTERM" if rc is None
                                      else "exit %d" % rc, self.name, self.root))
        super().teardown()


def scale(root, S, peer_list):
    n = S.scale_n
    keys = ("start_s", "up", "svc_cpu_s", "own_cpu_ms")
    res = {P.name: {k: [] for k in keys + ("status_ms", "pss", "rss", "procs")}
           for P in peer_list}
    bare = {k: [] for k in keys}
    # the bare start-all takes its turn in the rounds like every supervisor
    entries = list(peer_list) + ([Bare] if os.access(FLOOR_START, os.X_OK) else [])
    for r in range(S.scale_rounds):
        for P in rotate(entries, r):
            fifo = Fifo(sub(root, "r%d" % r), P.name)
            p = P(sub(root, "r%d" % r, P.name),
                  {"s%d" % i: hello(fifo, "%s-s%d" % (P.name, i)) for i in range(n)})
            try:
                t0 = time.perf_counter()
                th, err = start(p, threaded=True)
                got = fifo.first_of(["%s-s%d" % (P.name, i) for i in range(n)], 300,
                                    "scale", strict=False)
                th.join()
                if err:
                    raise err[0]
                x = bare if P is Bare else res[P.name]
                x["up"].append(len(got))
                x["start_s"].append(max(ln.t for ln in got.values()) - t0 if len(got) == n else None)
                # CPU by then of the services (each pid's own: shell, then
                # sleep) and of the supervisor's own processes
                x["svc_cpu_s"].append(sum(cpu_of(ln.pid) for ln in got.values()) / 1e9)
                x["own_cpu_ms"].append(sum(cpu_of(q) for q in p.own_pids()) / 1e6)
                if P is Bare:
                    continue
                time.sleep(1)
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    rc = p.run(p.status_cmd(), timeout=120, check=False).returncode
                    times.append((time.perf_counter() - t) * 1000)
                    if rc not in p.status_codes:
                        raise RuntimeError("scale: %s: status exit %d" % (P.name, rc))
                x["status_ms"].append(statistics.median(times))
                pids = p.own_pids()
                pss, rss = own_mem(pids)
                x["pss"].append(pss)
                x["rss"].append(rss)
                x["procs"].append(len(pids))
            finally:
                finish(p)
                fifo.close()
    out = {"n": n, "rounds": S.scale_rounds, "peers": res}
    if Bare in entries:
        out["bare"] = bare
    return out


# --- 7 relay -----------------------------------------------------------------

def relay_bench(root, S, peer_list):
    """tend's proxy against a direct connection, socat and floor_proxy (the
    least a user-space proxy does, when built); with --base, the
    base binary's proxy too, in the same rounds, to the same backend (its
    service a `sleep` that is ready once the backend accepts)."""
    if peers.Tend not in peer_list:
        return None
    lport, bport, sport, lbase, fport = relay.free_ports(5)
    listen = lambda port: {"serve": ["listen = tcp:127.0.0.1:%d" % port,
                                     "backend = tcp:127.0.0.1:%d" % bport]}
    tends = [("tend", peers.Tend(sub(root, "t"), {"serve": [PY, relay.BACKEND, "serve", str(bport)]},
                                 extra=listen(lport)), lport)]
    if peers.TendBase in peer_list:
        tends.append(("tend-base", peers.TendBase(sub(root, "b"), {"serve": ["sleep", "86400"]},
                                                   extra=listen(lbase)), lbase))
    proxy = floor = None
    has_floor = os.access(FLOOR, os.X_OK)
    names = [n for n, _, _ in tends] + ["direct", "socat"] + (["floor"] if has_floor else [])
    rate = {k: [] for k in names}
    rtt = {k: [] for k in names}
    # Each tend's daemon: CPU per GiB streamed, its wakeups (context
    # switches) per MiB streamed and per round trip (warm-up ones included).
    own = {n: {"cpu_ms_gib": [], "wakeups_mib": [], "wakeups_rt": []} for n, _, _ in tends}
    try:
        for _, t, port in tends:
            start(t)
            relay.wait_listening((port,), "tend's proxy")
        proxy = relay.spawn(root, [relay.SOCAT, "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % sport,
                                   "TCP:127.0.0.1:%d" % bport], stderr=subprocess.DEVNULL)
        relay.wait_listening((sport,), "socat")
        if has_floor:
            floor = relay.spawn(root, [FLOOR, str(fport), str(bport)])
            relay.wait_listening((fport,), "floor_proxy")
        # tend first: it wakes the service (then tend-base's finds it up).
        paths = ([(n, port) for n, _, port in tends] + [("direct", bport), ("socat", sport)]
                 + ([("floor", fport)] if has_floor else []))
        for _, port in paths:
            relay.same_bytes(port, 4 << 20)
        daemon = {n: t.pid for n, t, _ in tends}
        for r in range(S.relay_rounds):
            for name, port in rotate(paths, r):
                pid = daemon.get(name)
                c0, w0 = (tendbench.cpu_ns(pid), ctx_switches(pid)) if pid else (0, 0)
                rate[name].append(relay.stream(port, S.relay_mib))
                if pid:
                    own[name]["cpu_ms_gib"].append(
                        (tendbench.cpu_ns(pid) - c0) / 1e6 * 1024 / S.relay_mib)
                    own[name]["wakeups_mib"].append((ctx_switches(pid) - w0) / S.relay_mib)
            for name, port in reversed(rotate(paths, r)):
                pid = daemon.get(name)
                w0 = ctx_switches(pid) if pid else 0
                rtt[name] += relay.pingpong(port, S.relay_pings, warm=relay.PING_WARM)
                if pid:
                    own[name]["wakeups_rt"].append(
                        (ctx_switches(pid) - w0) / (S.relay_pings + relay.PING_WARM))
    finally:
        for p in (proxy, floor):
            if p:
                relay.kill(p)
        finish(*[t for _, t, _ in reversed(tends)])
    return {"rounds": S.relay_rounds, "mib": S.relay_mib, "pings": S.relay_pings,
            "rate": rate, "rtt_us": {k: [pct(v, 0.5), pct(v, 0.99)] for k, v in rtt.items()},
            "own": own, "socat": relay.socat_version()}


# --- the report -------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs, fmt="%.1f"):
    """'median (min–max)'; one figure alone; '–' for none."""
    ys = [x for x in xs if x is not None]
    if not ys:
        return "–"
    m = statistics.median(ys)
    out = fmt % m if len(ys) == 1 or min(ys) == max(ys) else \
        (fmt + " (" + fmt + "–" + fmt + ")") % (m, min(ys), max(ys))
    if len(ys) < len(xs):
        out += ", %d of %d none" % (len(xs) - len(ys), len(xs))
    return out


def counts(xs):
    """Survivor counts over rounds: '0', or '2' when all alike, else the range."""
    return str(xs[0]) if len(set(xs)) == 1 else "%d–%d" % (min(xs), max(xs))


def mib(b):
    return "%.1f" % (b / MIB)


def pct(xs, q):
    xs = sorted(x for x in xs if x is not None)
    return xs[max(0, math.ceil(len(xs) * q) - 1)] if xs else None


def loadavg():
    with open("/proc/loadavg") as f:
        return " / ".join(f.read().split()[:3])


LOAD = []   # at the start


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) * 1024
    return "%d CPUs (%s), %.0f GiB, Linux %s" % (os.cpu_count(), model, total / (1 << 30),
                                                 platform.release())


class Report:
    def __init__(self, quick, cmd):
        self.out = []
        self.targets = []
        self.quick = quick
        self.cmd = cmd

    def p(self, *lines):
        self.out += lines

    def table(self, head, rows):
        self.p("| " + " | ".join(head) + " |", "|" + " --- |" * len(head))
        for r in rows:
            self.p("| " + " | ".join(str(c) for c in r) + " |")
        self.p("")

    def target(self, what, measured, ok):
        self.targets.append((what, measured, "**met**" if ok else "**missed**"))

    def reproduce(self, scenario):
        self.p("Reproduce: `%s --only %s%s`." % (self.cmd, scenario,
                                                 " --quick" if self.quick else ""), "")


def report_footprint(R, res):
    n, idle = res["n"], res["idle_s"]
    total = idle * res["rounds"]
    R.p("## 1. Footprint: %d services, idle" % n, "",
        "%d services, each `peer_svc.sh hello` (a shell that says it runs, then execs "
        "`sleep 3600`), under every supervisor at once; %d round%s (start order turned). "
        "Memory: PSS and RSS from `/proc/PID/smaps_rollup`, summed over the "
        "supervisor's own processes (tend: the daemon and its keeper; s6: "
        "s6-svscan and one s6-supervise per service; runit: runsvdir and one runsv per "
        "service; supervisord: its Python process; PM2: its God daemon; the services "
        "themselves are not counted). Idle: CPU time (schedstat) and context switches "
        "(voluntary + involuntary, every thread) of those processes over %.0f s windows, "
        "all supervisors idle in the same window; per minute below."
        % (n, res["rounds"], "s" if res["rounds"] > 1 else "", idle), "")
    rows, fp = [], res["peers"]
    for name, x in fp.items():
        rows.append((name, counts(x["procs"]), spread([v / MIB for v in x["pss"]]),
                     spread([v / MIB for v in x["pss_main"]], "%.2f"),
                     spread([v / MIB for v in x["rss"]]),
                     "%.0f" % (median(x["pss"]) / n / 1024),
                     spread([v * 60 / idle for v in x["cpu_ms"]], "%.2f"),
                     spread([v * 60 / idle for v in x["ctx"]], "%.0f")))
    R.table(("supervisor", "own processes", "PSS, MiB", "of which the main process", "RSS, MiB",
             "PSS per service, KiB",
             "idle CPU, ms per minute", "idle context switches per minute"), rows)
    R.p("![footprint](bench/footprint.svg)", "",
        "RSS counts a shared page once in every process that maps it: tend's keeper runs "
        "its daemon's binary, the s6-supervise and runsv processes share their program, so "
        "the RSS of the supervisors with a process per service sums far above what they "
        "use; PSS divides each shared page between the processes that share it.", "")
    if "tend" in fp:
        t = median(fp["tend"]["pss"])
        # tend-base (--base) is tend itself, no peer to measure against
        others = {k: median(v["pss"]) for k, v in fp.items() if k not in ("tend", "tend-base")}
        if others:
            low = min(others, key=others.get)
            ratio = t / others[low]
            keeper = median([a - b for a, b in zip(fp["tend"]["pss"], fp["tend"]["pss_main"])])
            R.p("tend's PSS is %.2f× that of %s, the smallest peer (the target is at most 0.1×): "
                "its daemon has %s MiB, its keeper %s MiB (%d KiB), whatever the number of "
                "services: unlike s6 and runit, tend keeps no process beside every service; "
                "one keeper is the parent of all %d." % (ratio, low,
                                                        mib(median(fp["tend"]["pss_main"])),
                                                        mib(keeper), keeper / 1024, n), "")
            R.target("tend's total PSS for %d services at most a tenth of the smallest peer's" % n,
                     "%.2f× that of %s (%s vs %s MiB)" % (ratio, low, mib(t), mib(others[low])),
                     ratio <= 0.1)
        w = sum(fp["tend"]["ctx"])
        R.target("zero idle wakeups", "%d context switches of tend's own processes in %.0f s idle"
                 % (w, total), w == 0)
    R.reproduce("footprint")


def report_restart(R, res):
    ms, labels = res["ms"], res["labels"]
    R.p("## 2. Restart latency", "",
        "`kill -9` of a service's main process → its new instance's first line on the "
        "bench's FIFO (the same `peer_svc.sh hello`); %d rounds, each killing one service "
        "of every supervisor that has been up for more than 1.5 s, in an order turned each "
        "round, and one bare fork+exec of the same program by the bench (`posix_spawn` → "
        "its first line) in the same rounds. \"vs bare\": median of the paired "
        "differences, round by round. Defaults, and the fastest settings: tend "
        "`backoff = 100ms..30s` (the first crash waits 100 ms ± 25%%), fastest `backoff = "
        "0`; s6-supervise pauses 1 s before every restart unless the service said it was "
        "ready (`notification-fd`) more than 1 s before it died, fastest: a run script "
        "that says ready at once (`echo >&3`, then exec). runsv restarts at once a "
        "service that ran at least 1 s (else it waits out that second), supervisord has "
        "no restart delay setting, PM2's `restart_delay` is 0: for these three the "
        "default is the fastest, one row each." % res["rounds"], "")
    bare = ms["bare"]
    rows = []
    for key in list(labels) + ["bare"]:
        xs = ms[key]
        diff = [a - b for a, b in zip(xs, bare) if a is not None]
        rows.append((labels.get(key, "bare fork+exec (the bench)"), spread(xs, "%.2f"),
                     "%.2f" % pct(xs, 0.9) if median(xs) is not None else "–",
                     "%+.2f" % statistics.median(diff) if key != "bare" and diff else "–"))
    R.table(("supervisor", "kill → running, ms, median (min–max)", "p90", "vs bare, ms"), rows)
    R.p("![restart](bench/restart.svg)", "")
    for key, gaps in res.get("tend_exited_to_spawned", {}).items():
        if gaps and key == "tend-fast":   # (not tend-base's: the same words twice)
            R.p("Where tend's time goes (`backoff = 0`, its own events, ms resolution): from "
                "the `exited` event to the `spawned` event of the next run, median %.0f ms "
                "(%.0f–%.0f), against %.1f ms for the whole bare fork+exec. The next run "
                "is started by the keeper itself as it reaps the killed one: the daemon "
                "armed it with that start 20 ms after the run began (docs/containment.md, "
                "\"A restart armed ahead\"), and the keeper vforks it straight into its "
                "cgroup when it has no strays, then tells the daemon, which writes both "
                "events and arms the next. What is left of a restart is the killed "
                "process's exit and the keeper's wakeup, which a bare fork+exec does not "
                "pay, and the vfork and exec it does." % (statistics.median(gaps), min(gaps),
                                                           max(gaps), median(bare)), "")
    if "tend-fast" in ms:
        tf = ms["tend-fast"]
        diff = statistics.median([a - b for a, b in zip(tf, bare) if a is not None])
        R.target("restart at backoff zero within 1 ms of a bare fork+exec (same run)",
                 "%+.2f ms (median of paired differences)" % diff, diff <= 1.0)
        peer_meds = {labels[k]: median(v) for k, v in ms.items()
                     if k not in ("bare", "tend", "tend-fast", "tend-base", "tend-base-fast")
                     and median(v) is not None}
        if peer_meds:
            best = min(peer_meds, key=peer_meds.get)
            ratio = median(tf) / peer_meds[best]
            R.target("restart at backoff zero at most half of the fastest peer's",
                     "%.2f× that of %s (%.2f vs %.2f ms)" % (ratio, best, median(tf),
                                                             peer_meds[best]),
                     ratio <= 0.5)
    R.reproduce("restart")


def report_containment(R, res):
    R.p("## 3. Containment", "",
        "A service (`peer_svc.sh tree`) with a plain child and a `setsid` child, all "
        "`sleep`. (a) its main process SIGKILLed: which of the 2 children are alive 1 s "
        "later; (b) stopped with the supervisor's stop command (tend `stop`, `s6-svc -wD "
        "-d`, `sv -w 30 down`, `supervisorctl stop`, `pm2 stop`): which of the 3 "
        "processes are alive 1 s after it returned; (c1) the supervisor's main process "
        "SIGKILLed (tend's daemon, s6-svscan, runsvdir, supervisord, PM2's God); (c2) "
        "every process of the supervisor SIGKILLed at once (frozen with SIGSTOP first): "
        "tend's daemon and keeper, s6-svscan and the s6-supervise, runsvdir and the runsv; "
        "survivors of the 3 after 1 s. Defaults everywhere (supervisord's "
        "`stopasgroup`/`killasgroup` are off by default). %d round%s, order turned."
        % (res["rounds"], "s" if res["rounds"] > 1 else ""), "")
    rows = []
    for name, x in res["peers"].items():
        c1 = counts(x["c1"]) + (" (still supervised)" if any(x["c1_supervised"]) and max(x["c1"]) else "")
        c2 = counts(x["c2"])
        if "c2_next" in x:
            c2 += "; %s once `tend up -d` runs again" % counts(x["c2_next"])
        rows.append((name, counts(x["a"]) + " of 2", counts(x["b"]) + " of 3",
                     spread(x["b_ms"], "%.0f"), c1, c2))
    R.table(("supervisor", "(a) service killed", "(b) stop command", "stop command took, ms",
             "(c1) main process killed", "(c2) all its processes killed"), rows)
    if "tend" in res["peers"]:
        x = res["peers"]["tend"]
        worst = {c: max(x[c]) for c in ("a", "b", "c1", "c2")}
        R.target("zero survivors in every containment case",
                 ", ".join("(%s) %d" % (c, v) for c, v in worst.items()),
                 not any(worst.values()))
        if worst["c2"]:
            R.p("tend by default misses (c2): with its keeper killed together with the "
                "daemon nothing is left to kill the trees, which live on until the next "
                "daemon of the file starts and kills every recorded process "
                "(docs/containment.md says so). When only the daemon dies (c1), the keeper "
                "kills every tree at once. With `pid-namespace = yes` (row tend-pidns) the "
                "kernel kills every run when the keeper dies.", "")
    ns = peers.TendNS.name
    if ns in res["peers"]:
        worst = max(res["peers"][ns]["c2"])
        R.target("(c2) every tend process SIGKILLed: 0 survivors 1 s later "
                 "(`pid-namespace = yes`)", "%d" % worst, worst == 0)
    R.reproduce("containment")


def report_memory(R, res):
    W = res["window_s"]
    R.p("## 4. Memory accounting", "",
        "Under a 300 MiB limit: a service that maps a sparse 1 GiB file read-only and "
        "reads every page (file-backed RSS of 1 GiB: a false restart would be a restart "
        "for it), and a service whose child writes 400 MiB of anonymous memory (a real "
        "leak, in a child). Starts of the mapping service within %.0f s of its first "
        "(1 = never restarted), and the time from the child's \"allocated\" to its death "
        "(by the supervisor's restart), watched for %.0f s. %d round%s. What each limit "
        "is:" % (W, W, res["rounds"], "s" if res["rounds"] > 1 else ""), "")
    for P in PEERS:
        if P.name in res["peers"]:
            R.p("- %s: %s" % (P.name, P.memory_how))
    for name in res["unlimited"]:
        R.p("- %s: no memory limit (none in supervisord itself; superlance's `memmon`, a "
            "separate event listener, restarts on RSS; not measured)" % name)
    R.p("")
    rows = []
    for name, x in res["peers"].items():
        starts = [s - 1 for s in x["map_starts"]]
        what = sorted({w for ws in x["map_what"] for w in ws})
        rss = ["%s / %s" % (mib(a), mib(b)) for a, b in x["map_rss"][:1]]
        hog = sorted(set(x["hog_what"]))
        if hog == ["allocated"]:
            n_det = sum(v is not None for v in x["hog_ms"])
            det = "%d of %d; %s ms" % (n_det, len(x["hog_ms"]), spread(x["hog_ms"], "%.0f")) \
                if n_det else "no (not within %.0f s)" % W
        else:
            det = "no: the child's allocation fails (rlimit); nothing restarts"
        said = {"mapped": "mapped it", "refused": "mmap refused (address-space rlimit): exits, restarted"}
        rows.append((name, counts(starts), "; ".join(said.get(w, w) for w in what),
                     rss[0] if rss else "–", det))
    for name in res["unlimited"]:
        rows.append((name, "no memory limit", "", "", "no memory limit"))
    R.table(("supervisor", "restarts of the 1 GiB mapper in %.0f s" % W, "what the mapper said",
             "its VmRSS / RssFile, MiB", "400 MiB child: detected, after"), rows)
    if "tend" in res["peers"]:
        n = max(s - 1 for s in res["peers"]["tend"]["map_starts"])
        R.target("zero false memory restarts", "%d restarts of the 1 GiB mapper in %.0f s" % (n, W),
                 n == 0)
    R.reproduce("memory")


def report_storm(R, res):
    n = res["n"]
    R.p("## 5. Spawn storm: %d concurrent clients, one stopped service" % n, "",
        "%d threads released at once, each a client that wants an answer from one "
        "service (`peer_prog.py serve`: a TCP server that answers its pid; `stdio`: "
        "one that answers a line) that is not running. tend starts it on demand: "
        "through its TCP proxy (daemon up, service stopped: each client just connects) "
        "and through `tend connect` on a cold system (no daemon yet; `stdio = "
        "exclusive`: one session at a time, each ends 25 ms after its answer). s6, runit, "
        "supervisord and PM2 have no on-demand start: each client runs the supervisor's "
        "start command, then connects until answered. Instances: processes of the "
        "service started (each says so on start); time until every client had its "
        "answer; %d round%s, order turned." % (n, res["rounds"], "s" if res["rounds"] > 1 else ""),
        "")
    how = {"tend-proxy": "connect to tend's `listen` socket",
           "tend-connect": "`tend connect` (cold: no daemon)",
           "s6": "`s6-svc -u`, then connect", "runit": "`sv up`, then connect",
           "supervisord": "`supervisorctl start`, then connect",
           "pm2": "`pm2 start NAME`, then connect"}
    rows = []
    for case, xs in res["cases"].items():
        rows.append((case, how.get(case, ""), counts([x["served"] for x in xs]) + " of %d" % n,
                     counts([x["instances"] for x in xs]),
                     counts([x["answering"] for x in xs]),
                     spread([x["ms"] for x in xs], "%.0f")))
    R.table(("supervisor", "a client", "clients served", "instances started",
             "distinct pids answering", "time until all served, ms"), rows)
    R.p("![storm](bench/storm.svg)", "")
    for case, xs in res["cases"].items():
        if max(x["instances"] for x in xs) > 1:
            R.p("%s started %s instances for %d clients%s." % (
                case, counts([x["instances"] for x in xs]), n,
                ": `pm2 start NAME` restarts an app that is already online, so the "
                "clients that ask after the first restart it again and again" if case == "pm2" else ""), "")
    R.p("A supervisord or PM2 client runs a command-line program in Python "
        "(`supervisorctl`) or Node (`pm2`): %d of them start at once on %d CPUs; s6's and "
        "runit's are small C programs, like `tend connect`; tend's proxy clients only connect." % (n, os.cpu_count()), "")
    R.reproduce("storm")


def report_scale(R, res):
    n = res["n"]
    R.p("## 6. Scale: %d services" % n, "",
        "One supervisor at a time (order turned each round), %d `peer_svc.sh hello` "
        "services. Start-all: from the start command (tend `up -d`, `s6-svscan`, "
        "`runsvdir`, `supervisord -n`, `pm2 start ecosystem.json`) to the last service's "
        "first line. Status: the whole list (tend `status --json`, `s6-svstat` for each "
        "service in one shell loop, `sv status` of all, `supervisorctl status`, `pm2 "
        "jlist`), median of 3. CPU at the last service's first line: of the supervisor's "
        "own processes (from `/proc/PID/task/*/schedstat`, so far) and of the services' "
        "(each one's pid, its shell and then its `sleep`; under s6 and runit that pid runs "
        "the `run` script first, a shell that execs the service; under supervisord and PM2 it "
        "is a fork of the supervisor until its exec). Memory: PSS and RSS of the "
        "supervisor's own processes. %d round%s."
        % (n, res["rounds"], "s" if res["rounds"] > 1 else ""), "")
    rows = []
    b = res.get("bare")
    for name, x in list(res["peers"].items()) + ([("bare", b)] if b else []):
        start = spread(x["start_s"], "%.2f") if None not in x["start_s"] \
            else "%s of %d up in 300 s" % (counts(x["up"]), n)
        cpu = (spread([v / 1000 for v in x["own_cpu_ms"]], "%.2f") if "own_cpu_ms" in x
               else "–", spread(x["svc_cpu_s"], "%.2f") if "svc_cpu_s" in x else "–")
        if x is b:
            rows.append(("bare: no supervisor (`bench/floor_start.c`)", start) + cpu
                        + ("–",) * 4)
            continue
        rows.append((name, start) + cpu +
                    (spread(x["status_ms"], "%.0f"), counts(x["procs"]),
                     spread([v / MIB for v in x["pss"]]), spread([v / MIB for v in x["rss"]])))
    R.table(("supervisor", "start-all, s", "own CPU by then, s", "services' CPU by then, s",
             "status, ms", "own processes", "PSS, MiB", "RSS, MiB"), rows)
    R.p("![scale](bench/scale.svg)", "")
    floor = median(b["start_s"]) if b and None not in b["start_s"] else None
    if floor:
        vs = [(k, median(x["start_s"])) for k, x in res["peers"].items()
              if None not in x["start_s"]]
        R.p("bare is `bench/floor_start.c`: the same %d commands started with no supervisor "
            "at all, one C program that `posix_spawn`s them one after the other (no log "
            "file, socket, cgroup or state for any), timed by the same FIFO clock in the same "
            "rounds. It takes %.2f s; the services' CPU by their last line was %.2f s, %.2f s "
            "on each of the %d CPUs: what starting them costs on this machine, whoever starts "
            "them. Against it: %s."
            % (n, floor, median(b["svc_cpu_s"]), median(b["svc_cpu_s"]) / os.cpu_count(),
               os.cpu_count(), ", ".join(
                   "%s %.2f× (%+.2f s)" % (k, v / floor, v - floor) for k, v in vs)), "")
    t = res["peers"].get("tend")
    if t:
        # issue 22's targets (for 1000 services; said with the N of this run)
        s6 = res["peers"].get("s6")
        if s6 and None not in t["start_s"] and None not in s6["start_s"]:
            ts, ss = median(t["start_s"]), median(s6["start_s"])
            ratio = ts / ss
            bare_said = ""
            if floor:
                bare_said = "; bare %.2f s, %.2f× s6, so 0.3× s6 (%.2f s) is %.2f× bare" \
                    % (floor, floor / ss, 0.3 * ss, 0.3 * ss / floor)
                R.p("0.3× s6 is %.2f s, %.2f× bare: %s" % (
                    0.3 * ss, 0.3 * ss / floor,
                    "the target is below what starting the services costs with no supervisor "
                    "on this machine (bare alone is %.2f× s6, %.2f s)." % (floor / ss, floor)
                    if floor > 0.3 * ss else
                    "tend may spend %.2f s above bare (it spends %.2f s)."
                    % (0.3 * ss - floor, ts - floor)), "")
            R.target("%d services started at most 0.3× as long as s6 takes" % n,
                     "%.2f× (%.2f vs %.2f s%s)" % (ratio, ts, ss, bare_said), ratio <= 0.3)
        st = median(t["status_ms"])
        R.target("`tend status` of %d services within 20 ms" % n, "%.0f ms" % st, st <= 20)
        pss = median(t["pss"])
        R.target("tend's own PSS with %d services at most 10 MiB" % n, "%s MiB" % mib(pss),
                 pss <= 10 * MIB)
    R.reproduce("scale")


def report_relay(R, res):
    R.p("## 7. Relay (tend only)", "",
        "tend's TCP proxy (`listen` + `backend`: small messages copied, streams spliced) "
        "against a direct connection "
        "and `socat %s` in the middle (`TCP-LISTEN:...,fork TCP:...`), to one "
        "`bench/relay_backend.py serve`, with bench/relay.py's own measures: %d MiB one "
        "way into a sink (MB/s, connect to the sink's count) and %d round trips of a "
        "64-byte line; %d rounds, order turned. `make bench-relay` has the full set "
        "(wake of idle services, `tend connect`, CPU per GiB)."
        % (res["socat"], res["mib"], res["pings"], res["rounds"]), "")
    rate, rtt = res["rate"], res["rtt_us"]
    order = ["direct", "floor", "tend", "tend-base", "socat"]
    rows = []
    for k in [k for k in order if k in rate]:
        rows.append((k, spread(rate[k], "%.0f"), "%.0f" % rtt[k][0], "%.0f" % rtt[k][1]))
    R.table(("path", "stream, MB/s", "round trip, µs, median", "p99"), rows)
    mr = {k: median(v) for k, v in rate.items()}
    mt = {k: v[0] for k, v in rtt.items()}
    R.p("Ratios: tend streams %.2f× direct and %.2f× socat; its round trip is %.2f× "
        "direct's and %.2f× socat's (%+.0f µs over direct)."
        % (mr["tend"] / mr["direct"], mr["tend"] / mr["socat"], mt["tend"] / mt["direct"],
           mt["tend"] / mt["socat"], mt["tend"] - mt["direct"])
        + (" tend-base (%s): %.2f× direct's stream, %+.0f µs over direct's round trip."
           % (peers.TendBase.bin, mr["tend-base"] / mr["direct"], mt["tend-base"] - mt["direct"])
           if "tend-base" in mr else ""), "")
    if "floor" in mr:
        R.p("floor is `bench/floor_proxy.c`, the least a user-space proxy does: a thread "
            "per direction blocked in splice(2), no event loop, no copy. It streams %.2f× "
            "direct and its round trip is %+.0f µs over direct's: what the second hop "
            "through the kernel costs on this machine, whoever makes it. tend streams "
            "%.2f× floor, and its round trip is %+.0f µs over floor's."
            % (mr["floor"] / mr["direct"], mt["floor"] - mt["direct"],
               mr["tend"] / mr["floor"], mt["tend"] - mt["floor"]), "")
    own = res.get("own", {})
    if own:
        R.table(("tend's daemon", "CPU per GiB streamed, ms",
                 "wakeups per MiB streamed", "wakeups per round trip"),
                [(k, spread(v["cpu_ms_gib"], "%.0f"), spread(v["wakeups_mib"], "%.1f"),
                  spread(v["wakeups_rt"], "%.2f")) for k, v in own.items()])
        R.p("Wakeups are the daemon's context switches; a relay that sleeps between "
            "messages cannot do with fewer than 2 per round trip (one per direction).", "")
    R.reproduce("relay")


# --- plots -------------------------------------------------------------------

def gnuplot(path, script, rows, width=760):
    """Runs SCRIPT on ROWS (inline data block $d); writes PATH (SVG)."""
    text = "set terminal svg size %d,380 dynamic font 'sans,11'\nset output '%s'\n$d << EOD\n" \
        % (width, path)
    text += "\n".join(" ".join('"%s"' % c.replace("`", "") if isinstance(c, str) else "%g" % c
                               for c in r) for r in rows)
    text += ("\nEOD\nset style fill solid 0.6 border -1\nset grid ytics\nset key off\n"
             "set boxwidth 0.6\nset xtics nomirror rotate by -25\n" + script)
    r = subprocess.run(["gnuplot"], input=text, text=True, capture_output=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(path):
        raise RuntimeError("gnuplot %s: %s" % (path, r.stderr[-500:]))


def bar_chart(path, names, panels):
    """One panel of bars per (title, values, log scale, label format), side
    by side; each bar labelled with its value (0 sits on a log axis's floor)."""
    rows = [[n] for n in names]
    script = "set multiplot layout 1,%d\n" % len(panels) if len(panels) > 1 else ""
    for i, (title, vals, log, fmt) in enumerate(panels):
        pos = [v for v in vals if v > 0]
        lo = min(pos) / 4 if log and pos else 0
        hi = max(vals + [1e-9]) * (5 if log else 1.2)
        for r, v in zip(rows, vals):
            r += [max(v, lo), fmt % v]
        col = 2 + 2 * i
        script += ("set title '%s'\n%s\nset yrange [%g:%g]\nplot $d using 0:%d:xtic(1) with "
                   "boxes, '' using 0:%d:%d with labels offset 0,0.7 font ',9'\n"
                   % (title, "set logscale y" if log else "unset logscale y", lo, hi, col, col,
                      col + 1))
    gnuplot(path, script, rows, width=380 * len(panels) if len(panels) > 1 else 760)


def plots(out, results):
    d = os.path.join(out, "bench")
    os.makedirs(d, exist_ok=True)
    made = []
    fp = results.get("footprint")
    if fp:
        x = fp["peers"]
        bar_chart(os.path.join(d, "footprint.svg"), list(x), [
            ("PSS of its own processes, %d services, MiB" % fp["n"],
             [median(v["pss"]) / MIB for v in x.values()], True, "%.1f"),
            ("RSS of the same, MiB", [median(v["rss"]) / MIB for v in x.values()], True, "%.1f"),
            ("idle: context switches per minute",
             [median(v["ctx"]) * 60 / fp["idle_s"] for v in x.values()], True, "%.0f")])
        made.append("footprint.svg")
    rs = results.get("restart")
    if rs:
        keys = [k for k, v in rs["ms"].items() if median(v) is not None]
        rows = [(rs["labels"].get(k, "bare fork+exec").split(",")[0] + (" (fastest)" if "," in
                 rs["labels"].get(k, "") else ""),
                 median(rs["ms"][k]), min(v for v in rs["ms"][k] if v is not None),
                 max(v for v in rs["ms"][k] if v is not None), "%.1f" % median(rs["ms"][k]))
                for k in keys]
        gnuplot(os.path.join(d, "restart.svg"),
                "set logscale y\nset yrange [0.3:5000]\nset title 'kill -9 → new instance "
                "running, ms: median, min–max (log)'\nplot $d using 0:2:xtic(1) with boxes, '' "
                "using 0:2:3:4 with yerrorbars lc rgb 'black' pt 0, '' using 0:2:5 with labels "
                "offset 2.2,0.6 font ',9'\n", rows)
        made.append("restart.svg")
    st = results.get("storm")
    if st:
        c = st["cases"]
        bar_chart(os.path.join(d, "storm.svg"), list(c), [
            ("%d concurrent clients of a stopped service: s until all served" % st["n"],
             [median([r["ms"] for r in v]) / 1000 for v in c.values()], True, "%.2f"),
            ("instances started", [median([r["instances"] for r in v]) for v in c.values()],
             False, "%.0f")])
        made.append("storm.svg")
    sc = results.get("scale")
    if sc:
        x = sc["peers"]
        bar_chart(os.path.join(d, "scale.svg"), list(x), [
            ("%d services: start-all, s" % sc["n"], [median(v["start_s"]) or 0 for v in x.values()],
             False, "%.2f"),
            ("status of all, ms", [median(v["status_ms"]) for v in x.values()], True, "%.0f"),
            ("PSS of its own processes, MiB", [median(v["pss"]) / MIB for v in x.values()],
             True, "%.0f")])
        made.append("scale.svg")
    return made


# --- main ----------------------------------------------------------------------

def check_tools(only, peer_list):
    """What the chosen scenarios and peers need (relay runs tend and socat
    only, and draws nothing)."""
    names = {P.name for P in peer_list}
    others = [s for s in only if s != "relay"]
    need = {"socat": "socat"} if "relay" in only else {}
    if others:
        need["gnuplot"] = "gnuplot-nox"
        need.update({tool: pkg for peer, tool, pkg in (
            ("s6", "s6-svscan", "s6"), ("runit", "runsvdir", "runit"),
            ("supervisord", "supervisord", "supervisor"), ("pm2", "node", "nodejs"))
            if peer in names})
    missing = [pkg for tool, pkg in need.items() if not shutil.which(tool)]
    if others and "pm2" in names and \
            not os.path.exists(os.path.join(peers.PM2_DIR, "bin", "pm2")):
        missing.append("pm2 (cd bench/npm && npm ci)")
    if missing:
        sys.exit("compare.py: missing %s: run `make bench` (scripts/deps.sh peers)"
                 % ", ".join(missing))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tend", nargs="?", default="build/tend")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--peers", default=",".join(P.name for P in PEERS))
    ap.add_argument("--base")
    ap.add_argument("--out")
    a = ap.parse_args()
    only = a.only.split(",")
    peer_list = [P for P in PEERS if P.name in a.peers.split(",")]
    if a.base:
        peers.TendBase.bin = os.path.abspath(a.base)
        if not os.access(peers.TendBase.bin, os.X_OK):
            sys.exit("compare.py: no tend binary at %s" % a.base)
        peer_list.insert(1, peers.TendBase)
    bad = [s for s in only if s not in SCENARIOS]
    if bad or not peer_list:
        ap.error("unknown scenario %s or no peer" % bad)
    peers.Tend.bin = os.path.abspath(a.tend)
    if not os.access(peers.Tend.bin, os.X_OK):
        sys.exit("compare.py: no tend binary at %s" % a.tend)
    check_tools(only, peer_list)
    full = not a.quick and set(only) == set(SCENARIOS) and len(peer_list) == len(PEERS)
    out = a.out or ("docs" if full else "build/bench-quick" if a.quick else "build/bench-part")
    S = Sizes(a.quick)
    versions = {P.name: P.version() for P in peer_list}
    print("compare.py: %s; %s; %s" % ("quick" if a.quick else "full", machine(),
                                      ", ".join("%s %s" % kv for kv in versions.items())), flush=True)
    root = tempfile.mkdtemp(prefix="tend-bench-peers-")
    LOAD.append(loadavg())
    results, took = {}, {}
    t_all = time.monotonic()
    left = []
    try:
        for name in SCENARIOS:
            if name not in only:
                continue
            t0 = time.monotonic()
            print("== %s" % name, flush=True)
            fn = {"relay": relay_bench}.get(name) or globals()[name]
            results[name] = fn(sub(root, name), S, peer_list)
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            took[name] = time.monotonic() - t0
            print("   %.0f s: %s" % (took[name], json.dumps(results[name], default=str)[:600]),
                  flush=True)
    finally:
        for p in list(LIVE):
            finish(p)
        for p in list(relay.SPAWNED):
            relay.kill(p)
        left = tendbench.sweep(root)
        print("processes left behind (named %s): %d%s"
              % (root, len(left), " -- killed: %s" % left if left else ""), flush=True)
        shutil.rmtree(root, ignore_errors=True)
    write(out, a, results, took, versions, time.monotonic() - t_all)
    if left:
        sys.exit(1)


def write(out, a, results, took, versions, total):
    os.makedirs(out, exist_ok=True)
    cmd = "python3 bench/compare.py build/tend"
    R = Report(a.quick, cmd)
    R.p("# tend side by side with s6, runit, supervisord and PM2", "",
        "Written by `bench/compare.py` (`make %s) on %s UTC, in %.0f s; every figure "
        "below comes from that one run. Machine: %s; load average %s at the start, %s at "
        "the end (other work on the machine shows in the spread). The development machines "
        "differ by 2.5× in fork speed: compare the ratios, measured in one run, not the "
        "absolute times across runs. Every supervisor runs under a private temporary "
        "directory from its own configuration (no system instance is used or touched), "
        "every process is stopped by pid, and the run checks at the end that none is "
        "left." % ("bench-quick`: small sizes, not the figures to quote" if a.quick else "bench`",
                   time.strftime("%Y-%m-%d %H:%M", time.gmtime()), total, machine(),
                   LOAD[0], loadavg()), "")
    R.table(("supervisor", "version", "from"), [
        (k, v, {"tend": "this tree, `make build/tend` (gcc -O2)",
                "tend-base": "`--base %s`: tend before the change" % a.base, "s6": "Debian package `s6`",
                "runit": "Debian package `runit` (not `runit-init`)",
                "supervisord": "Debian package `supervisor`",
                "pm2": "npm, pinned in `bench/npm/package-lock.json`"}[k])
        for k, v in versions.items()])
    sections = {"footprint": report_footprint, "restart": report_restart,
                "containment": report_containment, "memory": report_memory,
                "storm": report_storm, "scale": report_scale, "relay": report_relay}
    body = Report(a.quick, cmd)
    for name in SCENARIOS:
        if results.get(name):
            sections[name](body, results[name])
            body.p("(%s: %.0f s)" % (name, took[name]), "")
    made = plots(out, results)
    if body.targets:
        R.p("## Targets", "", "From issue 9, against this run's figures:", "")
        R.table(("target", "measured", "verdict"), body.targets)
    R.out += body.out
    with open(os.path.join(out, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(R.out).rstrip() + "\n")
    with open(os.path.join(out, "bench", "results.json"), "w") as f:
        json.dump({"versions": versions, "results": results}, f, indent=1, default=str)
    print("wrote %s/BENCHMARKS.md, %s" % (out, ", ".join("%s/bench/%s" % (out, m) for m in made)))


if __name__ == "__main__":
    main()
