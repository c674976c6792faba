#!/usr/bin/env python3
"""Figures for MCP sharing with real servers (issue 19, "Tests and
figures"): 10 sessions x 4 servers from npm, pinned in tests/mcp
(server-memory, server-filesystem with a directory of the run as its
argument, server-sequential-thinking, server-everything; `make mcp-deps`),
each run by the system node, reached three ways in one run:

- direct: each session starts its own server of each kind, as an MCP
  client does (spawn `node .../dist/index.js`, initialize, tools/list, keep
  the session open): 40 server processes;
- configured: a tend.ini with a `[service X]` `stdio = mcp` per server
  (default `share = roots`), each session runs `tend -c FILE connect X`;
- zero-configuration: each session runs `tend connect -- node
  .../dist/index.js ...` (no file: the user's default daemon), skipped with
  one line when the tend under test has no `connect --`.

The sessions are MCP clients of protocol 2025-11-25 that declare no client
capability (no roots, like most command-line clients).

1. Memory, one way after the other (each stopped before the next starts,
   so that no way shares pages with another): with the 40 sessions open
   and initialized, the bench reads /proc: the processes of each kind (a
   server's whole tree, node children included; the `tend connect`
   processes; the daemon; what else runs under the daemon: its keeper) and
   their summed PSS and Pss_Anon (/proc/PID/smaps_rollup).
2. The time from the spawn of a NEW session's command to the answer of
   its first tools/list (spawn, initialize, notifications/initialized,
   tools/list), and of that tools/list alone, median of RUNS new sessions
   per server (7; 2 with --quick), the ways taking turns so that the
   machine's other load falls on all of them alike:
   - warm: through tend, the shared server is running (10 sessions of each
     server open, as in 1);
   - idle-stopped: through tend, services of the same servers with
     `idle-stop = 2s` (configured) or `--idle-stop 2s` (zero-configuration),
     each held by one session of its own (so that a zero-configuration one
     is not forgotten); before each new session the bench waits until
     `tend status --json` says `idle` for all of them (no server starting
     meanwhile);
   - directly a new session always starts its server (a cold start of
     node): one figure for both.

Every process it starts is ended by pid; each way has its own HOME,
XDG_RUNTIME_DIR, XDG_STATE_HOME and XDG_CONFIG_HOME in a temporary
directory; nothing listens on a network.

usage: bench/mcp_real.py TEND [--quick]"""
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from tendbench import Daemon, parents, pss, sweep, tree

HERE = os.path.dirname(os.path.abspath(__file__))
MODS = os.path.join(HERE, "..", "tests", "mcp", "node_modules", "@modelcontextprotocol")
SESSIONS = 10
PROTOCOL = "2025-11-25"
IDLE_STOP = "2s"
MiB = 1024 * 1024


def script(pkg):
    return os.path.realpath(os.path.join(MODS, pkg, "dist", "index.js"))


NAMES = ["memory", "filesystem", "thinking", "everything"]


def kinds(files):
    """(name, server argv after node) of the four servers."""
    return [("memory", [script("server-memory")]),
            ("filesystem", [script("server-filesystem"), files]),
            ("thinking", [script("server-sequential-thinking")]),
            ("everything", [script("server-everything")])]


class Session:
    """One MCP client session on a process's stdin and stdout (the
    process is the server itself, or `tend connect`)."""

    def __init__(self, argv, env, cwd, log):
        with open(log, "ab") as err:
            self.t0 = time.perf_counter_ns()
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd,
                                         stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        self.pid = self.proc.pid
        self.log = log
        self.buf = b""
        self.n = 0
        os.set_blocking(self.proc.stdout.fileno(), False)

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def ask(self, method, params=None, timeout=60):
        """Sends a request; returns its response once read (ns clock)."""
        self.n += 1
        msg = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue
                if isinstance(reply, dict) and reply.get("id") == self.n \
                        and "method" not in reply:
                    if "result" not in reply:
                        raise RuntimeError("%s: %s answered %s"
                                           % (self.log, method, line[:300]))
                    return reply
            left = end - time.monotonic()
            if left <= 0:
                raise RuntimeError("%s: no answer to %s within %d s"
                                   % (self.log, method, timeout))
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise RuntimeError("%s: the session ended before answering %s"
                                       % (self.log, method))
                self.buf += chunk

    def open(self):
        """initialize, notifications/initialized, tools/list: (ms from the
        spawn to the tools/list answer, ms of the tools/list alone)."""
        self.ask("initialize", {"protocolVersion": PROTOCOL, "capabilities": {},
                                "clientInfo": {"name": "bench", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        t1 = time.perf_counter_ns()
        reply = self.ask("tools/list")
        t2 = time.perf_counter_ns()
        assert reply["result"].get("tools"), (self.log, reply)
        return (t2 - self.t0) / 1e6, (t2 - t1) / 1e6

    def drain(self):
        try:
            while os.read(self.proc.stdout.fileno(), 1 << 16):
                pass
        except (BlockingIOError, OSError, ValueError):
            pass

    def close(self, wait=10):
        """Ends the session as a client does (stdin closed), then by pid."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        end = time.monotonic() + wait
        while self.proc.poll() is None and time.monotonic() < end:
            self.drain()
            time.sleep(0.01)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                pass
        self.proc.stdout.close()


class Way:
    """How a session reaches a server: ARGV(kind) and, through tend, the
    daemon (a tendbench.Daemon), the argv of a session of the idle-stopped
    services, and the name of each service."""
    name = ""

    def __init__(self, tend, root):
        self.tend = tend
        self.root = root
        self.home = os.path.join(root, "home")
        self.files = os.path.join(root, "files")
        self.logs = os.path.join(root, "logs")
        for d in (self.home, self.files, self.logs, os.path.join(root, "run"),
                  os.path.join(root, "state"), os.path.join(root, "config")):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.files, "README.txt"), "w") as f:
            f.write("a file for server-filesystem\n")
        self.env = dict(os.environ, HOME=self.home,
                        XDG_RUNTIME_DIR=os.path.join(root, "run"),
                        XDG_STATE_HOME=os.path.join(root, "state"),
                        XDG_CONFIG_HOME=os.path.join(root, "config"),
                        MEMORY_FILE_PATH=os.path.join(root, "memory.jsonl"))
        self.env.pop("TEND_CONFIG", None)
        self.kinds = kinds(self.files)
        self.node = shutil.which("node", path=self.env.get("PATH"))
        self.count = 0
        self.d = None

    def session(self, argv):
        self.count += 1
        return Session(argv, self.env, self.root,
                       os.path.join(self.logs, "s%d.stderr" % self.count))

    def start(self):
        pass

    def stop(self):
        if self.d:
            self.d.down()

    def mem(self, sessions):
        """{kind of process: (count, Pss, Pss_Anon)} with SESSIONS open."""
        kids = parents()
        conn = [p for s in sessions for p in tree(s.pid, kids)]
        if not self.d:
            return {"server": (len(conn),) + pss(conn)}
        doc = self.d.status_doc()
        st, daemon = doc["units"], doc["daemon"]["pid"]
        servers = [p for u in st if u.get("kind") == "service" and u.get("pid")
                   for p in tree(u["pid"], kids)]
        rest = [p for p in tree(daemon, kids)[1:] if p not in servers]
        return {"server": (len(servers),) + pss(servers),
                "tend connect": (len(conn),) + pss(conn),
                "daemon": (1,) + pss([daemon]),
                "keeper": (len(rest),) + pss(rest)}

    def units(self):
        return {u["name"]: u for u in self.d.status() if u.get("kind") != "daemon"}

    def owner(self, s):
        """The name of the service S (a held session) is a client of."""
        for name, u in self.units().items():
            if any(x.get("pid") == s.pid for x in u.get("sessions") or []):
                return name
        raise RuntimeError("no service has session %d as a client" % s.pid)

    def wait_idle(self, names, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            us = self.units()
            if all(us.get(n, {}).get("state") == "idle" for n in names):
                return
            time.sleep(0.1)
        raise RuntimeError("not idle within %d s: %s" % (
            timeout, {n: self.units().get(n, {}).get("state") for n in names}))


class Direct(Way):
    name = "direct"

    def argv(self, kind, idle=False):
        return [self.node] + dict(self.kinds)[kind]


class Configured(Way):
    name = "tend, configured"

    def start(self):
        ini = []
        for kind, args in self.kinds:
            exec_line = " ".join(q(a) for a in [self.node] + args)
            ini.append("[service %s]\nexec = %s\nstdio = mcp\n" % (kind, exec_line))
            ini.append("[service %s-idle]\nexec = %s\nstdio = mcp\nidle-stop = %s\n"
                       % (kind, exec_line, IDLE_STOP))
        self.d = Daemon(self.tend, self.root, "\n".join(ini))
        self.d.env = self.env
        self.d.up()

    def argv(self, kind, idle=False):
        return [self.tend, "-c", self.d.ini, "connect",
                kind + ("-idle" if idle else "")]


class ZeroConf(Way):
    name = "tend, zero-configuration"

    def start(self):
        # The user's default file (it does not exist): status and down reach
        # the daemon that the first `tend connect --` starts.
        self.d = Daemon(self.tend, self.root, None,
                        name=os.path.join("config", "tend", "tend.ini"))
        self.d.env = self.env

    def argv(self, kind, idle=False):
        return ([self.tend, "connect"] + (["--idle-stop", IDLE_STOP] if idle else [])
                + ["--", self.node] + dict(self.kinds)[kind])

    def stop(self):
        if self.d:
            try:
                self.d.pid = self.d.daemon()["pid"]
            except (RuntimeError, IndexError, ValueError, subprocess.TimeoutExpired):
                pass
        Way.stop(self)


def q(s):
    """Single-quotes S for an exec line of tend.ini."""
    return "'" + str(s).replace("'", "'\\''") + "'"


def has_connect_dash(tend):
    r = subprocess.run([tend, "connect", "--help"], capture_output=True, text=True,
                       timeout=30)
    return "-- CMD" in r.stdout + r.stderr


def open_sessions(way):
    """SESSIONS sessions of each kind, one after the other, opened."""
    out = []
    for _ in range(SESSIONS):
        for kind, _ in way.kinds:
            s = way.session(way.argv(kind))
            out.append(s)
            s.open()
    return out


def measure_memory(way):
    """Processes and memory of WAY with 10 x 4 sessions open; then
    everything it started is stopped (so that no other way shares its
    pages)."""
    res = {"name": way.name}
    open_ = []
    try:
        way.start()
        t0 = time.monotonic()
        open_ = open_sessions(way)
        res["setup_s"] = time.monotonic() - t0
        time.sleep(1)     # let the servers finish what the opening started
        res["mem"] = way.mem(open_)
        if way.d:
            res["instances"] = sorted(n for n, u in way.units().items()
                                      if u.get("pid"))
    finally:
        for s in open_:
            s.close()
        way.stop()
        res["left"] = sweep(way.root)
    return res


def one_first_list(way, kind, idle):
    s = way.session(way.argv(kind, idle))
    try:
        return s.open()
    finally:
        s.close()


def measure_first_lists(ways, runs, results):
    """A new session's first tools/list, the ways taking turns (each run
    in another order, so that the machine's other load falls on all of
    them alike): warm (through tend, 10 sessions of each server open),
    then idle-stopped (after every idle-stop service of every way is idle,
    so that no server is starting meanwhile)."""
    tends = [w for w in ways if not isinstance(w, Direct)]
    open_, held = [], []
    for r in results:
        r["warm"] = {k: [] for k in NAMES}
        r["idle"] = {k: [] for k in NAMES} if r is not results[0] else r["warm"]
    res = dict(zip(ways, results))
    try:
        for w in ways:
            w.start()
        for w in tends:
            open_ += open_sessions(w)
        for i in range(runs):
            for kind in NAMES:
                for w in ways[i % len(ways):] + ways[:i % len(ways)]:
                    res[w]["warm"][kind].append(one_first_list(w, kind, False))
        names = {}
        for w in tends:
            hs = []
            for kind in NAMES:
                s = w.session(w.argv(kind, True))
                held.append(s)
                hs.append(s)
                s.open()
            names[w] = [w.owner(s) for s in hs]
        for i in range(runs):
            for kind in NAMES:
                for w in tends[i % len(tends):] + tends[:i % len(tends)]:
                    for x in tends:
                        x.wait_idle(names[x])
                    res[w]["idle"][kind].append(one_first_list(w, kind, True))
    finally:
        for s in held + open_:
            s.close()
        for w in ways:
            w.stop()
        for w in ways:
            left = sweep(w.root)
            res[w]["left"] = res[w].get("left", []) + left


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def mib(b):
    return b / MiB


def report(results, quick, runs, skipped, load):
    print("MCP sharing with real servers (bench/mcp_real.py%s): %d sessions x 4 "
          "servers (memory, filesystem, sequential-thinking, everything), node %s; "
          "load average before: %s"
          % (" --quick" if quick else "", SESSIONS,
             subprocess.run(["node", "--version"], capture_output=True,
                            text=True).stdout.strip(), load))
    print()
    print("Processes and PSS (MiB, Pss_Anon in brackets) with the %d sessions open:"
          % (SESSIONS * 4))
    print()
    print("| way | server processes (whole trees) | `tend connect` | daemon | keeper "
          "| total PSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        m = r["mem"]

        def kcell(k):
            if k not in m:
                return "–"
            n, p, a = m[k]
            return "%d: %.1f (%.1f)" % (n, mib(p), mib(a))
        total = sum(v[1] for v in m.values())
        total_anon = sum(v[2] for v in m.values())
        print("| %s | %s | %s | %s | %s | %.1f (%.1f) |"
              % (r["name"], kcell("server"), kcell("tend connect"), kcell("daemon"),
                 kcell("keeper"), mib(total), mib(total_anon)))
        r["total"] = total
    for name in skipped:
        print("| %s | tend connect -- not in this build | | | | |" % name)
    print()
    print("First tools/list of a new session: ms from the spawn of its command "
          "to the answer, and of the tools/list round trip alone (after the "
          "initialize answer) in brackets; median of %d per server, then of "
          "all four:" % runs)
    print()
    print("| way | server | all four | memory | filesystem | thinking | everything |")
    print("| --- | --- | --- | --- | --- | --- | --- |")

    def cell(xs):
        return "%.1f (%.2f)" % (med([x[0] for x in xs]), med([x[1] for x in xs]))
    for r in results:
        states = [("a new one, started by the session", r["warm"])] \
            if r["idle"] is r["warm"] else \
            [("warm", r["warm"]), ("idle-stopped", r["idle"])]
        for state, d in states:
            print("| %s | %s | %s | %s |" % (
                r["name"], state, cell([x for v in d.values() for x in v]),
                " | ".join(cell(d[k]) for k in NAMES)))
    print()
    print("(the opening of the %d sessions, one after the other, took: %s)"
          % (SESSIONS * 4, ", ".join("%s %.1f s" % (r["name"], r["setup_s"])
                                     for r in results)))
    direct = results[0]
    for r in results[1:]:
        dm, tm = direct["mem"]["server"], r["mem"]["server"]
        overall = med([x[0] for v in r["idle"].values() for x in v])
        slow = max(med([x[0] for x in v]) for v in r["idle"].values())
        print("%s: server processes %d against %d (%.1fx fewer), total PSS %.1f "
              "MiB against %.1f (%.1fx less); instances %s; first tools/list "
              "idle-stopped: median %.1f ms, slowest server's median %.1f ms. "
              "Targets: 5x fewer server processes %s, 5x less memory %s, "
              "< 20 ms idle-stopped %s"
              % (r["name"], tm[0], dm[0], dm[0] / max(tm[0], 1), mib(r["total"]),
                 mib(direct["total"]), direct["total"] / max(r["total"], 1),
                 ", ".join(r.get("instances", [])), overall, slow,
                 "met" if dm[0] >= 5 * tm[0] else "MISSED",
                 "met" if direct["total"] >= 5 * r["total"] else "MISSED",
                 "met" if slow < 20 else "MISSED"))
    for r in results:
        if r["left"]:
            print("%s: processes left behind, killed: %s" % (r["name"], r["left"]))


def main():
    tend = os.path.abspath(sys.argv[1])
    quick = "--quick" in sys.argv
    runs = 2 if quick else 7
    missing = [k for k in ("server-memory", "server-filesystem",
                           "server-sequential-thinking", "server-everything")
               if not os.path.exists(script(k))]
    if missing or not shutil.which("node"):
        sys.exit("bench/mcp_real.py: %s missing in tests/mcp/node_modules "
                 "(run make mcp-deps)" % (", ".join(missing) or "node"))
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    root = tempfile.mkdtemp(prefix="tend-bench-mcp-real-")
    ways = [Direct, Configured]
    skipped = []
    if has_connect_dash(tend):
        ways.append(ZeroConf)
    else:
        skipped.append(ZeroConf.name)
        print("tend connect -- not in this build: the zero-configuration way is skipped",
              flush=True)
    results = []
    print("bench/mcp_real.py: working in %s" % root, file=sys.stderr, flush=True)
    try:
        objs = [cls(tend, os.path.join(root, "w%d" % i)) for i, cls in enumerate(ways)]
        for w in objs:
            print("... memory: %s" % w.name, file=sys.stderr, flush=True)
            results.append(measure_memory(w))
        print("... first tools/list", file=sys.stderr, flush=True)
        measure_first_lists(objs, runs, results)
    finally:
        left = sweep(root)
        if left:
            print("processes left behind, killed: %s" % left)
    report(results, quick, runs, skipped, load)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
