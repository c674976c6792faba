"""Fixtures for tend's end-to-end tests.

The binary under test is $TEND_BIN (default /work/main/build/tend).  Each
test runs tend with subprocess (never through a shell), in its own tmp_path,
with XDG_RUNTIME_DIR, XDG_STATE_HOME and XDG_CONFIG_HOME under it, and with
a unique TEND_E2E_TAG in the environment: every process of the test inherits
that tag, so the finalizer can find and kill, by pid, whatever is left (the
tend processes it started, the pids the helpers recorded, and any other
process carrying the tag).

Events are read from tend's stderr, which goes to a file: JSON lines when
tend runs with --json, "tend: UNIT: EVENT k=v" lines otherwise.
"""
import glob
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

TEND_BIN = os.environ.get("TEND_BIN", "/work/main/build/tend")
E2E = Path(__file__).resolve().parent
BIN = E2E / "bin"
PY = "/usr/bin/python3"
SH = "/bin/sh"
TREE = str(BIN / "tree.py")
ARGV_DUMP = str(BIN / "argv_dump.py")

# Generous: the machine has 2 cores and the suite also runs under ASan.
T_SHORT = 10.0
T_LONG = 30.0


# --- /proc ---------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, starttime) of PID, or None when there is no such pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_session(pid):
    """Session id of PID, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(")") + 2:].split()[3])


def nspid(pid):
    """PID as its own (innermost) pid namespace sees it, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        return None
    return None


def alive(pid, start=None):
    """Is PID a live process (not a zombie), and the one that started at
    START when given?"""
    st = proc_stat(pid)
    if st is None or st[0] in "ZX":
        return False
    return start is None or st[2] == start


def exists(pid, start=None):
    """Is there a /proc entry for PID (live or zombie), same start time?"""
    st = proc_stat(pid)
    return st is not None and (start is None or st[2] == start)


def all_pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def children(pid):
    """(pid, state) of every process whose parent is PID."""
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st and st[1] == pid:
            out.append((p, st[0]))
    return out


def cmdline(pid):
    """The argv of PID as a list of str, or None."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace")
                    for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None


# --- tend's keeper (docs/containment.md) ------------------------------------
#
# A daemon (or tend exec) runs every run below one process of its own, its
# keeper: its child "tend-keeper PID" (PID: the daemon's, as the keeper's pid
# namespace sees it: 0 from a namespace of its own), started at the first
# spawn.  The keeper is the
# parent of every run's main process and the child subreaper of all of them
# (orphans of every run come back to it); it dies with the daemon.

KEEPER = "tend-keeper"


def keepers_of(pid):
    """Live children of PID that are a keeper."""
    return sorted(c for c, st in children(pid)
                  if st not in "ZX" and comm(c) == KEEPER)


def keeper_of(pid, timeout=T_SHORT):
    """The keeper of the daemon (or tend exec) PID, once it runs: its one
    keeper, whatever the number of services, named "tend-keeper PID"."""
    ks = wait_until(lambda: keepers_of(pid), timeout,
                    what="the keeper of %d" % pid)
    assert len(ks) == 1, "more than one keeper below %d: %s" % (pid, ks)
    argv = cmdline(ks[0])
    parent = nspid(pid) if same_pidns(pid, ks[0]) else 0
    assert argv == [KEEPER, str(parent)], (ks[0], argv)
    return ks[0]


def same_pidns(a, b):
    """Are A and B in the same pid namespace?  (With pid-namespace = yes
    the keeper is PID 1 of its own, where its parent's pid is 0.)"""
    try:
        return (os.readlink("/proc/%d/ns/pid" % a)
                == os.readlink("/proc/%d/ns/pid" % b))
    except OSError:
        return True


def environ_has(pid, needle):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return needle in f.read().split(b"\0")
    except OSError:
        return False


def ctx_switches(pid):
    """Voluntary + nonvoluntary context switches of every thread of PID."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches",
                                    "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def wait_until(pred, timeout=T_SHORT, interval=0.02, what="condition"):
    """Polls PRED until it returns something true; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


# --- helper trees (tests/e2e/bin/tree.py) ---------------------------------

def field(line, key):
    """The value of KEY=VALUE in LINE (words split by blanks)."""
    for w in line.split():
        if w.startswith(key + "="):
            return w[len(key) + 1:]
    raise AssertionError("no %s= in %r" % (key, line))


class TreeDir:
    """The directory a tree.py writes its pid files to."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def generations(self):
        """Generations (main pids) that wrote their .ready file, in start
        order."""
        gens = []
        for f in self.path.glob("*.ready"):
            gens.append((f.stat().st_mtime_ns, int(f.stem)))
        return [g for _, g in sorted(gens)]

    def wait_ready(self, n=1, timeout=T_SHORT):
        return wait_until(lambda: len(self.generations()) >= n
                          and self.generations(), timeout,
                          what="%d tree generation(s) to be ready in %s"
                               % (n, self.path))

    def pids(self, gen):
        """{role: (pid, starttime)} of generation GEN."""
        out = {}
        for f in self.path.glob("%d-*.pid" % gen):
            pid, start = (int(x) for x in f.read_text().split())
            out[f.stem.split("-", 1)[1]] = (pid, start)
        return out

    def prev_alive(self, gen):
        """What generation GEN found alive of earlier generations when it
        started."""
        return json.loads((self.path / ("%d.prev" % gen)).read_text())

    def all_pids(self):
        out = []
        for f in self.path.glob("*.pid"):
            try:
                pid, start = (int(x) for x in f.read_text().split())
            except ValueError:
                continue
            out.append((f.name, pid, start))
        return out

    def alive(self):
        """Pid files whose process still lives."""
        return [(n, p) for n, p, s in self.all_pids() if alive(p, s)]

    def marks(self, gen, suffix):
        return sorted(f.name.split("-", 1)[1].rsplit(".", 1)[0]
                      for f in self.path.glob("%d-*.%s" % (gen, suffix)))


# --- tend ------------------------------------------------------------------

def parse_events(text):
    """JSON event lines of TEXT as dicts (other lines are skipped)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and "event" in ev:
            out.append(ev)
    return out


class Tend:
    """One running tend (or a wrapper of it, such as unshare)."""

    def __init__(self, args, env, cwd, logdir, reaper, stdout=None,
                 preexec_fn=None):
        self.args = [TEND_BIN] + list(args)
        n = len(list(logdir.glob("tend-*.stderr")))
        self.err_path = logdir / ("tend-%d.stderr" % n)
        self.out_path = logdir / ("tend-%d.stdout" % n)
        with open(self.err_path, "wb") as err, open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(self.args, env=env, cwd=str(cwd),
                                         stdin=subprocess.DEVNULL,
                                         stdout=out if stdout is None
                                         else stdout, stderr=err,
                                         start_new_session=True,
                                         preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.rc = None
        reaper.track(self.proc)

    # output
    @property
    def stderr(self):
        return self.err_path.read_text(errors="replace")

    @property
    def stdout(self):
        return self.out_path.read_text(errors="replace")

    def stderr_lines(self):
        return [l for l in self.stderr.splitlines() if l.strip()]

    def events(self, name=None, **match):
        evs = parse_events(self.stderr)
        if name is not None:
            evs = [e for e in evs if e["event"] == name]
        for k, v in match.items():
            evs = [e for e in evs if e.get(k) == v]
        return evs

    def describe(self):
        return ("command: %s\nreturncode: %s\n--- stderr ---\n%s--- end ---"
                % (" ".join(self.args), self.proc.poll(), self.stderr))

    def wait_event(self, name, n=1, timeout=T_SHORT, **match):
        """Waits for the N-th event NAME (with fields MATCH); returns the
        list of matching events."""
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events(name, **match)
            if len(evs) >= n:
                return evs
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %d x %s %s\n%s"
                                     % (n, name, match, self.describe()))
            if self.proc.poll() is not None:
                # One last read: the line may have been written just before.
                evs = self.events(name, **match)
                if len(evs) >= n:
                    return evs
                raise AssertionError("tend exited before %d x %s %s\n%s"
                                     % (n, name, match, self.describe()))
            time.sleep(0.02)

    def wait(self, timeout=T_SHORT):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("tend did not exit within %.1fs\n%s"
                                 % (timeout, self.describe())) from None
        return self.rc

    def running(self):
        return self.proc.poll() is None

    def kill(self, sig, pid=None):
        os.kill(pid or self.pid, sig)

    def stop(self, timeout=T_SHORT, sig=signal.SIGTERM):
        """SIGTERM, then the exit code."""
        self.kill(sig)
        return self.wait(timeout)


class Reaper:
    """Kills, by pid, everything a test started."""

    def __init__(self, tag):
        self.tag = tag
        self.needle = ("TEND_E2E_TAG=" + tag).encode()
        self.popens = []
        self.pids = []
        self.dirs = []

    def track(self, popen):
        self.popens.append(popen)

    def track_pid(self, pid):
        self.pids.append(pid)

    def track_dir(self, path):
        """Every *.pid file under PATH names a process to kill."""
        self.dirs.append(Path(path))

    def tagged(self):
        me = os.getpid()
        return [p for p in all_pids()
                if p != me and environ_has(p, self.needle)]

    def pidfiles(self):
        """The contents of every pid file: [PID] or [PID, STARTTIME]."""
        for d in self.dirs:
            for f in d.rglob("*.pid"):
                try:
                    v = [int(x) for x in f.read_text().split()]
                except (OSError, ValueError):
                    continue
                if v:
                    yield v

    def recorded(self):
        """Live processes recorded as "PID STARTTIME" in the pid files."""
        return [v[0] for v in self.pidfiles() if len(v) == 2 and alive(*v)]

    def leftovers(self, grace=1.0):
        """Processes of the test still alive GRACE seconds from now (an
        empty list as soon as there are none)."""
        deadline = time.monotonic() + grace
        while True:
            left = sorted(set(self.tagged() + self.recorded()))
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def cleanup(self):
        """Kills everything; returns what outlived a tend that had exited
        by itself (a containment failure), as "pid cmdline" strings."""
        outlived = []
        if self.popens and all(p.poll() is not None for p in self.popens):
            for pid in self.leftovers():
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(
                            errors="replace")
                except OSError:
                    continue
                outlived.append("%d %s" % (pid, cmd.strip()))
        for p in self.popens:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        pids, timed = list(self.pids), []
        for v in self.pidfiles():
            if len(v) == 2:
                timed.append(tuple(v))
            else:
                pids.append(v[0])
        for _ in range(50):
            # Only processes that carry this test's tag, or whose start
            # time is the recorded one: never a recycled pid that now
            # belongs to someone else.
            victims = [p for p in pids if environ_has(p, self.needle)]
            victims += [p for p, s in timed if alive(p, s)]
            victims += self.tagged()
            if not victims:
                break
            for p in set(victims):
                try:
                    os.kill(p, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.1)
        for p in self.popens:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        return outlived


@pytest.fixture
def reaper():
    r = Reaper(uuid.uuid4().hex)
    yield r
    outlived = r.cleanup()
    # tend exited by itself, yet processes it started are still alive.
    assert not outlived, "processes outlived tend: %s" % outlived


@pytest.fixture
def tend_env(tmp_path, reaper):
    """The environment every tend of the test runs with."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TEND_CONFIG", "XDG_RUNTIME_DIR", "XDG_STATE_HOME",
                        "XDG_CONFIG_HOME", "TEND_UNIT", "TEND_RUN", "NOTIFY_SOCKET",
                        "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")}
    for var, sub in (("XDG_RUNTIME_DIR", "xdg-run"),
                     ("XDG_STATE_HOME", "xdg-state"),
                     ("XDG_CONFIG_HOME", "xdg-config")):
        d = tmp_path / sub
        d.mkdir(mode=0o700, exist_ok=True)
        env[var] = str(d)
    env["TEND_E2E_TAG"] = reaper.tag
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


@pytest.fixture
def workdir(tmp_path):
    """The working directory tend runs in (so no ./tend.ini of the
    repository is ever picked up)."""
    d = tmp_path / "work"
    d.mkdir(exist_ok=True)
    return d


class TendFactory:
    def __init__(self, tmp_path, env, workdir, reaper):
        self.tmp_path = tmp_path
        self.env = env
        self.workdir = workdir
        self.reaper = reaper
        self.logdir = tmp_path / "logs"
        self.logdir.mkdir(exist_ok=True)

    def start(self, *args, env=None, cwd=None, stdout=None, preexec_fn=None):
        """Starts `tend ARGS...` (STDOUT: a file object instead of the log;
        PREEXEC_FN: run in the child before the exec, e.g. to set limits)."""
        e = dict(self.env if env is None else env)
        return Tend(args, e, cwd or self.workdir, self.logdir, self.reaper,
                    stdout=stdout, preexec_fn=preexec_fn)

    def run(self, *args, timeout=T_SHORT, env=None, cwd=None):
        """Runs `tend ARGS...` to its end; returns the Tend (rc set)."""
        t = self.start(*args, env=env, cwd=cwd)
        t.wait(timeout)
        return t

    def start_wrapped(self, wrapper, *args, env=None, cwd=None):
        """Runs WRAPPER + [TEND_BIN] + ARGS (e.g. under unshare)."""
        t = Tend.__new__(Tend)
        e = dict(self.env if env is None else env)
        logdir = self.logdir
        n = len(list(logdir.glob("tend-*.stderr")))
        t.args = list(wrapper) + [TEND_BIN] + list(args)
        t.err_path = logdir / ("tend-%d.stderr" % n)
        t.out_path = logdir / ("tend-%d.stdout" % n)
        with open(t.err_path, "wb") as err, open(t.out_path, "wb") as out:
            t.proc = subprocess.Popen(t.args, env=e, cwd=str(cwd or self.workdir),
                                      stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=err, start_new_session=True)
        t.pid = t.proc.pid
        t.started = time.monotonic()
        t.rc = None
        self.reaper.track(t.proc)
        return t

    def tree_dir(self, name="tree"):
        d = TreeDir(self.tmp_path / name)
        self.reaper.track_dir(d.path)
        return d


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


@pytest.fixture
def tend(tmp_path, tend_env, workdir, reaper):
    """tend.start(*args) / tend.run(*args): run the binary under test.
    Afterwards, no tend of the test may have reported a sanitizer error."""
    f = TendFactory(tmp_path, tend_env, workdir, reaper)
    yield f
    for log in sorted(f.logdir.glob("tend-*.stderr")):
        text = log.read_text(errors="replace")
        bad = [m for m in SANITIZER_MARKS if m in text]
        assert not bad, "sanitizer report in %s:\n%s" % (log, text[-4000:])


def write_ini(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def ctl_ask(sock, req):
    """One request REQ (a dict) on the control socket SOCK: its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(T_LONG)
        c.connect(str(sock))
        c.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            b = c.recv(65536)
            assert b, "the daemon closed the connection"
            buf += b
    return json.loads(buf)


def q(s):
    """Single-quotes S for an exec line of tend.ini."""
    return "'" + str(s).replace("'", "'\\''") + "'"


# --- the daemon of a file (tend -c FILE up -d, status, down, ...) ----------

def is_sanitized():
    """Is TEND_BIN the ASan+UBSan build?"""
    try:
        with open(TEND_BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Debian's libfaketime (scripts/deps.sh installs it), preloaded into a
# daemon alone to move its clocks; the machine's clock is never touched.
# The offset is read again at every call from a file (FAKETIME_NO_CACHE),
# written with faketime_set.
FAKETIME = (sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")) +
            ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"])[0]


def faketime_env(env, rc, monotonic):
    """ENV with the preload of libfaketime, its offset read from RC (a
    path; "+0" written there): the wall clock moves, and CLOCK_MONOTONIC
    too when MONOTONIC.  Skips the test when libfaketime is missing."""
    if not os.path.exists(FAKETIME):
        pytest.skip("%s is missing (Debian package libfaketime, installed "
                    "by scripts/deps.sh)" % FAKETIME)
    faketime_set(rc, "+0")
    fake = dict(env, LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=str(rc),
                FAKETIME_NO_CACHE="1", NO_FAKE_STAT="1")
    if not monotonic:
        fake["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    if is_sanitized():
        # ASan wants its runtime first among the libraries; libfaketime
        # works behind it all the same (it only wraps clock functions).
        fake["ASAN_OPTIONS"] = ":".join(
            x for x in (fake.get("ASAN_OPTIONS"), "verify_asan_link_order=0")
            if x)
    return fake


def faketime_set(rc, spec):
    """The faked clocks' offset: "+1d", "-30s", "+0"."""
    tmp = Path(str(rc) + ".tmp")
    tmp.write_text(spec + "\n")
    os.rename(tmp, rc)     # never half a line for the daemon to read


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


class Project:
    """A configuration file and the daemon of it.  Every command runs as
    `tend -c FILE ...` with the test's environment (or ENV)."""

    def __init__(self, tend, ini, env=None):
        self.tend = tend
        self.ini = Path(ini)
        self.env = dict(tend.env if env is None else env)
        self.pids = set()        # every daemon pid seen, for the teardown

    def write(self, text):
        write_ini(self.ini, text)
        return self

    # where things are
    @property
    def rundir(self):
        return Path(self.env["XDG_RUNTIME_DIR"]) / "tend"

    @property
    def id(self):
        """ID of the file's daemon (DIRLABEL-8HEX), from the files it made."""
        import re
        label = self.ini.resolve().parent.name
        pat = re.compile(re.escape(label) + r"-[0-9a-f]{8}$")
        ids = set()
        base = Path(self.env["XDG_STATE_HOME"]) / "tend"
        if base.is_dir():
            ids |= {d.name for d in base.iterdir() if pat.match(d.name)}
        if self.rundir.is_dir():
            ids |= {f.name.rsplit(".", 1)[0] for f in self.rundir.iterdir()
                    if pat.match(f.name.rsplit(".", 1)[0])}
        assert len(ids) == 1, "cannot tell the daemon's ID: %s" % ids
        return ids.pop()

    @property
    def statedir(self):
        return Path(self.env["XDG_STATE_HOME"]) / "tend" / self.id

    @property
    def sock(self):
        return self.rundir / (self.id + ".sock")

    @property
    def procs_file(self):
        return self.rundir / (self.id + ".procs")

    @property
    def lock_file(self):
        return self.rundir / (self.id + ".lock")

    # commands
    def start(self, *args):
        return self.tend.start("-c", str(self.ini), *args, env=self.env)

    def run(self, *args, timeout=T_LONG):
        return self.tend.run("-c", str(self.ini), *args, timeout=timeout,
                             env=self.env)

    def ok(self, *args, timeout=T_LONG):
        """Runs a command that must exit 0."""
        t = self.run(*args, timeout=timeout)
        assert t.rc == 0, t.describe()
        return t

    def up(self):
        t = self.ok("up", "-d")
        self.daemon_pid()
        return t

    def status_doc(self, name=None):
        """status --json, parsed: {"version": 2, "daemon": {...}, "units":
        [...]} (docs/protocol.md)."""
        t = self.ok("status", "--json", *([name] if name else []))
        data = json.loads(t.stdout)
        assert data.get("version") == 2, data
        self.pids.add(data["daemon"]["pid"])
        return data

    def status(self, name=None):
        """The units of status --json (NAME: that one alone)."""
        return self.status_doc(name)["units"]

    def daemon(self):
        return self.status_doc()["daemon"]

    def unit(self, name):
        for u in self.status():
            if u["name"] == name:
                return u
        raise AssertionError("no unit %s in status" % name)

    def daemon_pid(self):
        return self.daemon()["pid"]

    def wait_unit(self, name, timeout=T_SHORT, **want):
        """Waits until status of NAME has the fields WANT; returns it."""
        last = [None]

        def check():
            u = self.unit(name)
            last[0] = u
            return u if all(u.get(k) == v for k, v in want.items()) else None
        try:
            return wait_until(check, timeout, interval=0.05,
                              what="%s to have %s" % (name, want))
        except AssertionError as e:
            raise AssertionError("%s; last status: %s" % (e, last[0])) from None

    def wait_event(self, name, n=1, timeout=T_LONG, **match):
        """The N-th event NAME (with fields MATCH) of the events file."""
        found = []

        def seen():
            found[:] = [e for e in self.events() if e["event"] == name and
                        all(e.get(k) == v for k, v in match.items())]
            return len(found) >= n
        wait_until(seen, timeout, what="%d x %s %s\n%s"
                   % (n, name, match, self.describe()))
        return found[n - 1]

    def events(self):
        """events.log (only the current file) as dicts."""
        try:
            return parse_events((self.statedir / "events.log").read_text())
        except OSError:
            return []

    def daemon_log(self):
        try:
            return (self.statedir / "daemon.log").read_text(errors="replace")
        except (OSError, AssertionError):
            return ""

    def lock_holder(self):
        """The pid in the lock file (for messages only), or None."""
        try:
            return int(self.lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError, AssertionError):
            return None

    def describe(self):
        return "daemon.log:\n%s\nevents:\n%s" % (
            self.daemon_log()[-3000:],
            "\n".join(json.dumps(e) for e in self.events()[-40:]))

    # the end
    def candidates(self):
        """Live tend processes of this test that may be this file's daemon."""
        pids = set(self.pids)
        h = self.lock_holder()
        if h:
            pids.add(h)
        needle = ("TEND_E2E_TAG=" + self.env.get("TEND_E2E_TAG", "")).encode()
        return [p for p in pids if alive(p) and comm(p) == "tend"
                and environ_has(p, needle)]

    def shutdown(self):
        """tend down; then SIGKILL to whatever daemon is still alive.
        Returns a list of problems (empty when down worked)."""
        problems = []
        if self.ini.exists():
            try:
                t = self.run("down", timeout=T_LONG)
                if t.rc != 0:
                    problems.append("tend down exited %s\n%s"
                                    % (t.rc, t.describe()))
            except AssertionError as e:
                problems.append("tend down: %s" % e)
        left = self.candidates()
        if left:
            try:
                wait_until(lambda: not self.candidates(), 2.0,
                           what="the daemon to exit")
            except AssertionError:
                pass
        left = self.candidates()
        for p in left:
            problems.append("daemon %d still alive after tend down" % p)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return problems


@pytest.fixture
def project(tend, tmp_path):
    """project(TEXT, name="proj", env=None): a Project for the file
    tmp_path/NAME/tend.ini holding TEXT.  Afterwards each is brought down
    (tend down, then SIGKILL by pid to a daemon that is left), and no
    daemon.log may hold a sanitizer report."""
    made = []

    def make(text, name="proj", env=None):
        p = Project(tend, tmp_path / name / "tend.ini", env=env)
        p.write(text)
        made.append(p)
        return p
    yield make
    problems = []
    for p in made:
        problems += p.shutdown()
    for p in made:
        text = p.daemon_log()
        bad = [m for m in SANITIZER_MARKS if m in text]
        if bad:
            problems.append("sanitizer report in daemon.log:\n" + text[-4000:])
    assert not problems, "\n".join(problems)
