"""Faults, end to end, with the real binary: tend runs out of descriptors,
its state directory's disk fills up, readers stop reading, the daemon is
stopped and continued, a service ignores every signal, another forks a
thousand children and exits, the daemon's wall clock jumps a day forward
and back, the daemon is SIGKILLed at random moments, stalled (SIGSTOP) past
its deadlines and reloaded while a removed service still stops;
and a short soak (restarts and job runs) with its memory, descriptors and
zombies sampled.  `make soak` runs the soak, the SIGKILL rounds and the
stall and reload-race rounds at full size (TEND_SOAK=full; figures in build/soak/).

Each fault: tend keeps supervising everything else, reports the condition
once (a warn with "condition", or the event that already says it), comes
back when the condition ends (event recovered), and loses no state
(status, crash history, job queue)."""
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (BIN, PY, T_LONG, T_SHORT, TEND_BIN, TREE, alive,
                      children, comm, exists, faketime_env, faketime_set,
                      is_sanitized, keeper_of,
                      keepers_of, parse_events, proc_stat, q, wait_until)

SOAK = os.environ.get("TEND_SOAK") == "full"


# --- helpers ------------------------------------------------------------------

class Ctl:
    """A raw connection to the daemon's control socket."""

    def __init__(self, path, timeout=T_SHORT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise EOFError("the daemon closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, **req):
        self.s.sendall(json.dumps(req).encode() + b"\n")
        return self.line()

    def ping(self):
        """Pings; the reply, or the refusal the daemon sent at once (it may
        close before the ping is sent)."""
        try:
            self.s.sendall(b'{"cmd":"ping"}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass
        return self.line()

    def close(self):
        self.s.close()


def units(reply):
    return {u["name"]: u for u in reply["units"] if u["kind"] != "daemon"}


def zombie_children(pid):
    return sorted(c for c, st in children(pid) if st == "Z")


def zombies_of_tend(daemon):
    """Zombie children of DAEMON and of its keeper (which reaps the runs
    and their orphans)."""
    return sorted(c for q in [daemon] + keepers_of(daemon)
                  for c, st in children(q) if st == "Z")


def listening(p):
    """Does P's daemon answer on its control socket yet?"""
    try:
        c = Ctl(p.sock)
    except (AssertionError, OSError):   # no file of the daemon's yet
        return False
    try:
        return c.ping()["ok"]
    except (OSError, EOFError, ValueError):
        return False
    finally:
        c.close()


def warns(events, condition=None, unit=None):
    return [e for e in events if e["event"] == "warn"
            and (condition is None or e.get("condition") == condition)
            and (unit is None or e["unit"] == unit)]


# --- running out of file descriptors -------------------------------------------

FDS_INI = """\
[service steady]
exec = sleep 600

[service crasher]
exec = sh -c 'sleep 0.2; exit 1'
backoff = 0
max-crashes = 1000/1s

[job j]
exec = true
"""


def test_out_of_descriptors(tend, project):
    """The daemon with a hard limit of 40 descriptors: control connections
    beyond it are refused with an error line, a service that restarts
    meanwhile waits for descriptors instead of failing, a job asked for
    keeps its place; one warn; all of it resumes when the connections
    close."""
    p = project(FDS_INI)
    w = tend.start_wrapped(["prlimit", "--nofile=40:40"], "-c", str(p.ini),
                           "up", "-d", env=p.env)
    assert w.wait(T_LONG) == 0, w.describe()
    d = p.daemon()
    pid = d["pid"]
    with open("/proc/%d/limits" % pid) as f:
        assert any(l.startswith("Max open files") and l.split()[3] == "40"
                   for l in f), "the limit did not reach the daemon"
    steady = p.unit("steady")["pid"]
    p.wait_event("exited", unit="crasher")
    restarts0 = p.unit("crasher")["restarts"]

    # Hold connections until the daemon refuses one.
    held, refused = [], []
    try:
        for _ in range(60):
            c = Ctl(p.sock)
            held.append(c)
            r = c.ping()
            if not r["ok"]:
                refused.append(r)
                break
        assert refused, "60 connections and no refusal: the limit is not felt"
        assert "out of file descriptors" in refused[0]["error"], refused
        first = held[0]
        # The crasher's next start finds no descriptor: it waits, it does
        # not fail.  A job asked for meanwhile keeps its place.
        p.wait_event("warn", condition="fds")
        wait_until(lambda: units(first.ask(cmd="status"))["crasher"]["state"]
                   == "backoff", T_SHORT, what="the crasher to wait")
        r = first.ask(cmd="run", name="j")
        assert r["ok"], r
        st = units(first.ask(cmd="status"))
        assert st["steady"]["state"] == "running"
        assert st["steady"]["pid"] == steady
        assert st["crasher"]["state"] == "backoff", st["crasher"]
        assert st["crasher"]["restarts"] >= restarts0
        assert st["j"]["state"] in ("queued", "running"), st["j"]
        # More refusals, still one warn.
        for _ in range(5):
            c = Ctl(p.sock)
            assert not c.ping()["ok"]
            c.close()
    finally:
        for c in held:
            c.close()
    # Descriptors are free again: everything goes on.
    p.wait_event("recovered", condition="fds")
    p.wait_event("job_finished", unit="j")
    r0 = p.unit("crasher")["restarts"]
    wait_until(lambda: p.unit("crasher")["restarts"] > r0 + 2, T_SHORT,
               what="the crasher to restart again")
    evs = p.events()
    assert len(warns(evs, "fds")) == 1, warns(evs)
    # (The procs file may have failed and recovered too: a restart the
    # keeper made at once, armed before the shortage, is written down.)
    assert len([e for e in evs if e["event"] == "recovered"
                and e.get("condition") == "fds"]) == 1
    assert not [e for e in evs if e["event"] == "gave_up"], p.describe()
    j = p.unit("j")
    assert j["last_run"]["result"] == "success", j
    assert p.unit("steady")["pid"] == steady
    assert p.daemon()["pid"] == pid


# --- a full disk for logs and events ---------------------------------------------

DISK_INI = """\
[tend]
log-max = 64K

[service steady]
exec = sleep 600

[service chatty]
exec = sh -c 'i=0; while :; do i=$((i+1)); echo chatty line $i; sleep 0.01; done'

[service crasher]
exec = sh -c 'sleep 0.1; exit 1'
backoff = 0
max-crashes = 1000/1s
"""


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs in the test's directory (skipped where mounting is
    refused); unmounted at the end."""
    d = tmp_path / "smallfs"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700",
                        "tend-test", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(d):
    """Fills the filesystem of D to its last byte; returns the filler."""
    f = d / "filler"
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for n in (65536, 4096, 512, 64, 1):
            chunk = b"x" * n
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return f


def test_full_disk_for_logs_and_events(tend, project, small_fs):
    """The state directory on a tmpfs that fills up: services go on being
    supervised, one warn (condition disk) on stderr at once, the events
    wait in memory; once there is room, they are written in order, the
    logs say how many lines were lost, and one recovered follows."""
    env = dict(tend.env)
    env["XDG_STATE_HOME"] = str(small_fs)
    p = project(DISK_INI, env=env)
    t = tend.start("-c", str(p.ini), "up", "--json", env=env)
    wait_until(lambda: listening(p), T_SHORT, what="the daemon to listen")
    steady = p.wait_unit("steady", state="running")["pid"]
    t.wait_event("exited", n=3, unit="crasher")
    chatty_log = p.statedir / "chatty.log"
    wait_until(lambda: chatty_log.exists() and chatty_log.stat().st_size > 0,
               T_SHORT, what="chatty's log")
    filler = fill(small_fs)
    try:
        warn = t.wait_event("warn", condition="disk")[0]
        assert warn["unit"] == "tend"
        assert "No space left on device" in warn["message"], warn
        # Supervision goes on: restarts, a stop and a start.
        r0 = p.unit("crasher")["restarts"]
        wait_until(lambda: p.unit("crasher")["restarts"] >= r0 + 10, T_SHORT,
                   what="restarts on a full disk")
        p.ok("stop", "chatty")
        p.ok("start", "chatty")
        assert p.unit("steady")["pid"] == steady
        assert len(t.events("warn", condition="disk")) == 1
        assert not t.events("recovered")
        n_full = len(t.events())
    finally:
        filler.unlink()
    rec = t.wait_event("recovered", condition="disk")[0]
    assert rec["events_lost"] == 0, rec
    assert rec["lines_lost"] > 0, rec
    # The events file: every event, in order, the warn once, recovered after.
    evs = wait_until(lambda: [e for e in p.events()
                              if e["event"] == "recovered"] and p.events(),
                     T_SHORT, what="recovered in events.log")
    assert len(warns(evs, "disk")) == 1
    names = [e["event"] for e in evs]
    assert names.index("warn") < names.index("recovered")
    stderr_evs = t.events()[:n_full]
    in_file = [(e["ts"], e["unit"], e["event"]) for e in p.events()]
    for e in stderr_evs:
        if e["event"] in ("spawned", "exited", "stopped", "warn"):
            assert (e["ts"], e["unit"], e["event"]) in in_file, e
    ts = [e["ts"] for e in evs]
    assert ts == sorted(ts)
    # chatty's log says what it lost, and goes on.
    text = chatty_log.read_text()
    assert "lines were lost" in text and "No space left on device" in text
    wait_until(lambda: chatty_log.read_text().count("chatty line") >
               text.count("chatty line") + 5, T_SHORT,
               what="chatty's log to grow again")
    assert p.unit("steady")["pid"] == steady
    assert p.unit("crasher")["restarts"] > r0 + 10
    assert t.stop(T_LONG) == 0


# --- readers that never read --------------------------------------------------

READERS_INI = """\
[service steady]
exec = sleep 600

[service chatty]
exec = sh -c 'while :; do echo chatty line; sleep 0.01; done'

[service crasher]
exec = /bin/false
backoff = 0
max-crashes = 100000/1s
"""


def has_inotify(pid):
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if "inotify" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def pipe_bytes(f):
    """Bytes waiting in the pipe F."""
    import fcntl
    import termios
    n = bytearray(4)
    fcntl.ioctl(f.fileno(), termios.FIONREAD, n)
    return int.from_bytes(n, "little")


def read_available(f, deadline, want):
    """Reads the non-blocking pipe F until WANT (bytes) is in what was read
    or DEADLINE passes; returns what was read."""
    got = b""
    while want not in got and time.monotonic() < deadline:
        try:
            chunk = os.read(f.fileno(), 65536)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        if not chunk:
            break
        got += chunk
    return got


def test_readers_that_never_read(tend, project):
    """A foreground daemon whose stderr (events) and stdout (labelled
    lines) nobody reads, `tend logs -f` and `tend events -f` stopped with
    SIGSTOP, and a control connection that sends requests and never reads
    a reply: the daemon answers everyone else at once and goes on
    supervising; the stopped stream is told how many event lines it lost;
    the connection is dropped."""
    p = project(READERS_INI)
    proc = subprocess.Popen([TEND_BIN, "-c", str(p.ini), "up", "--json"],
                            env=p.env, cwd=str(tend.workdir),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    tend.reaper.track(proc)
    try:
        wait_until(lambda: listening(p), T_SHORT, what="the daemon to listen")
        steady = p.wait_unit("steady", state="running")["pid"]
        logs = p.start("logs", "-f", "chatty")
        events = p.start("events", "-f")
        for t in (logs, events):
            wait_until(lambda: has_inotify(t.pid), T_SHORT,
                       what="the follower to follow")
            os.kill(t.pid, signal.SIGSTOP)
        # Events until the stderr pipe is full (64 KiB), then more.
        wait_until(lambda: pipe_bytes(proc.stderr) >= 65536 - 4096, T_LONG,
                   interval=0.1, what="the stderr pipe to fill up")
        r0 = p.unit("crasher")["restarts"]
        wait_until(lambda: p.unit("crasher")["restarts"] > r0 + 50, T_LONG,
                   interval=0.1, what="restarts with stderr full")
        # A connection that asks and never reads: its replies pile up in
        # the daemon (up to 16 MiB, then it is dropped: test_ctl_socket).
        hog = Ctl(p.sock)
        hog.s.setblocking(False)
        req = b'{"cmd":"status"}\n' * 64
        sent = 0
        t0 = time.monotonic()
        while sent < 2 << 20 and time.monotonic() - t0 < T_SHORT:
            try:
                sent += hog.s.send(req)
            except BlockingIOError:
                break      # the daemon reads no more: its replies wait
            except (BrokenPipeError, ConnectionResetError):
                break
        assert sent > 0
        # Everything else went on meanwhile.
        t1 = time.monotonic()
        st = p.unit("steady")
        assert time.monotonic() - t1 < 2.0
        assert st["pid"] == steady and st["state"] == "running"
        r1 = p.unit("crasher")["restarts"]
        wait_until(lambda: p.unit("crasher")["restarts"] > r1 + 10, T_SHORT,
                   what="more restarts")
        # The stopped stderr reader reads again: it hears what it lost.
        os.set_blocking(proc.stderr.fileno(), False)
        got = read_available(proc.stderr, time.monotonic() + T_SHORT,
                             b"event lines were dropped")
        lost = [e for e in parse_events(got.decode(errors="replace"))
                if e["event"] == "warn" and "were dropped" in e["message"]]
        assert lost, got[-2000:]
        assert "stderr was not being read" in lost[0]["message"]
        # ... and the events file has every event: no warn there.
        assert not [e for e in p.events() if "were dropped" in
                    e.get("message", "")]
        assert p.daemon()["clients"] >= 2    # the hog is still served
        hog.close()
        for t in (logs, events):
            os.kill(t.pid, signal.SIGCONT)
            t.kill(signal.SIGTERM)
            t.wait()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=T_LONG)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0


# --- the daemon stopped and continued ----------------------------------------

STOP_INI = """\
[service steady]
exec = sleep 600

[service crasher]
exec = sh -c 'sleep 0.3; exit 1'
backoff = 0
max-crashes = 1000/1s

[job j]
exec = sh -c 'sleep 1.5'
"""


def test_sigstop_sigcont_of_the_daemon(project):
    """While the daemon is stopped, a crashing service and a job's run
    exit: the keeper reaps them at once (no zombie waits for the daemon)
    and its word waits on its socket; after SIGCONT the daemon reads it,
    restarts the service, finishes the run, and nothing else moved."""
    p = project(STOP_INI)
    p.up()
    pid = p.daemon_pid()
    keeper = keeper_of(pid)
    steady = p.unit("steady")["pid"]
    p.wait_event("exited", unit="crasher")
    assert p.ok("run", "j").rc == 0
    job = p.wait_unit("j", state="running")["pid"]
    r0 = p.unit("crasher")["restarts"]
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: proc_stat(pid)[0] == "T", T_SHORT,
                   what="the daemon to stop")
        # The runs below the keeper now: the job's, the crasher's (unless
        # it was between two runs) and steady's.
        runs = [(c, proc_stat(c)[2]) for c, st in children(keeper)
                if st not in "ZX" and c != steady and proc_stat(c)]
        assert job in [c for c, _ in runs], (job, runs)
        # They end, and the keeper reaps them, while the daemon is stopped.
        wait_until(lambda: not [x for x in runs if exists(*x)], T_SHORT,
                   what="the runs to end and be reaped while the daemon "
                        "is stopped")
        assert not zombie_children(keeper)
        assert alive(steady) and proc_stat(pid)[0] == "T"
        n = len(p.events())
        assert not [e for e in p.events() if e["event"] == "job_finished"]
    finally:
        os.kill(pid, signal.SIGCONT)
    fin = p.wait_event("job_finished", unit="j")
    assert fin["result"] == "success" and fin["run"] == 1, fin
    wait_until(lambda: p.unit("crasher")["restarts"] > r0 + 2, T_SHORT,
               what="the crasher to restart again")
    after = p.events()[n:]
    assert [e for e in after if e["event"] == "exited"
            and e["unit"] == "crasher"], after
    evs = p.events()
    assert not [e for e in evs if e["event"] in ("gave_up", "resumed")], evs
    assert p.unit("steady")["pid"] == steady
    assert p.unit("j")["last_run"]["result"] == "success"
    assert p.daemon_pid() == pid
    assert keeper_of(pid) == keeper
    assert not zombies_of_tend(pid)


# --- a service that ignores every signal ------------------------------------------

def test_service_that_ignores_every_signal(tend, project):
    """stop works (SIGKILL to the whole tree after stop-timeout), with
    one warn; the other service is not touched."""
    d = tend.tree_dir("deaf")
    p = project("""\
[service deaf]
exec = %s %s %s
stop-timeout = 1s

[service steady]
exec = sleep 600
""" % (PY, q(BIN / "deaf.py"), q(d.path)))
    p.up()
    steady = p.unit("steady")["pid"]
    # Each of the two writes its pid file itself: wait for both.
    wait_until(lambda: len(list(d.path.glob("deaf-*.pid"))) == 2, T_SHORT,
               what="the deaf service and its child to start")
    procs = [tuple(int(x) for x in f.read_text().split())
             for f in sorted(d.path.glob("deaf-*.pid"))]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                signal.SIGUSR1):
        os.kill(procs[0][0], sig)
    assert all(alive(*x) for x in procs)
    t0 = time.monotonic()
    p.ok("stop", "deaf")
    took = time.monotonic() - t0
    assert not [x for x in procs if alive(*x)], "stop left the deaf tree"
    assert 0.9 <= took < T_SHORT, took
    assert p.unit("deaf")["state"] == "stopped"
    w = warns(p.events(), unit="deaf")
    assert len(w) == 1, w
    assert "stop-timeout expired" in w[0]["message"] and w[0]["procs"] == 2, w
    assert p.unit("steady")["pid"] == steady


# --- a service that forks a thousand children and exits ----------------------

def test_service_that_forks_1000_children_and_exits(tend, project):
    """Its thousand orphans (half of them in sessions of their own) are
    stopped as the run's leftovers; the daemon keeps its descriptors and
    the keeper reaps every one of them."""
    d = tend.tree_dir("many")
    p = project("""\
[service many]
exec = %s %s %s 1000
start = on-demand
stop-timeout = 5s

[service steady]
exec = sleep 600
""" % (PY, q(BIN / "forkmany.py"), q(d.path)))
    p.up()
    pid = p.daemon_pid()
    d0 = p.daemon()
    steady = p.unit("steady")["pid"]
    p.ok("start", "many")
    wait_until(lambda: (d.path / "forkmany.done").exists(), T_LONG,
               what="the thousand children")
    kids = [tuple(int(x) for x in l.split())
            for l in (d.path / "children.list").read_text().splitlines()]
    assert len(kids) == 1000
    stopping = p.wait_event("stopping", unit="many", reason="leftovers")
    assert stopping["procs"] >= 990, stopping
    p.wait_unit("many", timeout=T_LONG, state="stopped")
    left = [k for k in kids if alive(*k)]
    assert not left, "%d of the 1000 children are alive" % len(left)
    assert p.unit("many")["last_exit"]["reason"] == "clean"
    wait_until(lambda: not zombies_of_tend(pid), T_SHORT,
               what="every child reaped")
    d1 = p.daemon()
    # four more, opened at many's first start and kept: its sd_notify
    # socket, its output pipe (two ends) and its log file
    assert d1["fds"] == d0["fds"] + 4, (d0, d1)
    assert p.unit("steady")["pid"] == steady
    assert not warns(p.events(), unit="many"), p.events()


# --- a clock jump -------------------------------------------------------------

# The daemon's wall clock is moved with libfaketime (conftest.faketime_env)
# while CLOCK_MONOTONIC and CLOCK_BOOTTIME stay real.
DAY_MS = 86400 * 1000

# The services run without the preload (env below): what they see of the
# clock is not under test, and the keeper (the daemon's binary exec'd
# again, with the daemon's environment: the preload too) calls no time
# function.
CLOCK_INI = """\
[service crasher]
exec = /bin/false
env = LD_PRELOAD=
backoff = 300ms..300ms
max-crashes = 100000/1s

[job tick]
exec = /bin/true
env = LD_PRELOAD=
every = 1s

[service waiter]
exec = sleep 600
env = LD_PRELOAD=
start = on-demand
ready = notify
start-timeout = 6s
"""


def true_gaps(evs, first, then, unit, jumps):
    """Milliseconds from each FIRST event of UNIT to the THEN event that
    follows it, with the wall clock's jumps between the two (JUMPS: the
    clock warns) taken out: the time that really passed."""
    out, start, shift = [], None, 0
    for e in evs:
        if e in jumps:
            shift += e["jump_ms"]
        elif e["unit"] == unit and e["event"] == first:
            start, shift = e["ts"], 0
        elif e["unit"] == unit and e["event"] == then and start is not None:
            out.append(e["ts"] - start - shift)
            start = None
    return out


def test_clock_jump(tend, project, tmp_path):
    """The daemon's wall clock jumps a day forward, then back: tend keeps
    supervising (the crasher restarts with its backoff, the job keeps its
    interval, a start-timeout does not fire early), tells each jump once
    (a warn with condition clock and the jump), and stamps events with the
    new clock."""
    rc = tmp_path / "faketime.rc"
    p = project(CLOCK_INI)
    fake = faketime_env(p.env, rc, monotonic=False)
    t = tend.run("-c", str(p.ini), "up", "-d", env=fake, timeout=T_LONG)
    assert t.rc == 0, t.describe()
    daemon = p.daemon_pid()
    with open("/proc/%d/maps" % daemon) as f:
        assert "libfaketime" in f.read(), "the preload did not reach the daemon"
    p.wait_event("spawned", n=3, unit="crasher")
    p.wait_event("job_started", unit="tick", by="every")
    p.ok("start", "waiter")
    t_waiter = time.monotonic()
    p.wait_event("spawned", unit="waiter")

    def runs():
        return len([e for e in p.events() if e["event"] == "job_started"
                    and e["unit"] == "tick"])

    # A day forward.
    r0, n0 = p.unit("crasher")["restarts"], runs()
    faketime_set(rc, "+1d")
    fwd = p.wait_event("warn", condition="clock", timeout=T_SHORT)
    assert abs(fwd["jump_ms"] - DAY_MS) < 1000, fwd
    assert fwd["unit"] == "tend"
    assert "forward by" in fwd["message"] and "monotonic" in fwd["message"]
    assert fwd["ts"] > time.time() * 1000 + DAY_MS - 60000, \
        "the event is not stamped with the new clock"
    wait_until(lambda: p.unit("crasher")["restarts"] >= r0 + 3 and
               runs() >= n0 + 2, T_SHORT,
               what="restarts and runs after the jump forward")

    # And back.
    r1, n1 = p.unit("crasher")["restarts"], runs()
    faketime_set(rc, "+0")
    back = p.wait_event("warn", n=2, condition="clock", timeout=T_SHORT)
    assert abs(back["jump_ms"] + DAY_MS) < 1000, back
    assert "back by" in back["message"]
    wait_until(lambda: p.unit("crasher")["restarts"] >= r1 + 3 and
               runs() >= n1 + 2, T_SHORT,
               what="restarts and runs after the jump back")

    # The start-timeout ran its full 6 s of the monotonic clock.
    stop = p.wait_event("stopping", unit="waiter", reason="timeout",
                        timeout=T_SHORT)
    assert time.monotonic() - t_waiter >= 5.5, stop
    gone = p.wait_event("exited", unit="waiter")
    assert gone["uptime_ms"] >= 6000, (stop, gone)

    evs = p.events()
    jumps = [e for e in evs if e["event"] == "warn" and
             e.get("condition") == "clock"]
    assert len(jumps) == 2, jumps              # each jump told once
    assert not [e for e in evs if e["unit"] == "tend" and e not in jumps
                and e["event"] in ("warn", "resumed")], p.describe()
    # No restart came before its backoff, no run before its interval,
    # across the jumps too (less 50 ms: the clocks are read in ms).
    assert {e["ms"] for e in evs if e["event"] == "backoff"
            and e["unit"] == "crasher"} == {300}
    gaps = true_gaps(evs, "exited", "spawned", "crasher", jumps)
    assert len(gaps) >= 6 and min(gaps) >= 250, gaps
    waited = true_gaps(evs, "spawned", "stopping", "waiter", jumps)
    assert waited[0] >= 5950, waited
    tick_gaps, shift, prev = [], 0, None
    for e in evs:
        if e in jumps:
            shift += e["jump_ms"]
        elif e["unit"] == "tick" and e["event"] == "job_started":
            if prev is not None:
                tick_gaps.append(e["ts"] - shift - prev)
            prev = e["ts"] - shift
    assert len(tick_gaps) >= 4 and min(tick_gaps) >= 800, tick_gaps
    assert not [e for e in evs if e["event"] == "gave_up"], p.describe()
    assert p.daemon_pid() == daemon


# --- the daemon SIGKILLed at random moments ----------------------------------

KILL_ROUNDS = int(os.environ.get("TEND_KILL_ROUNDS", 100 if SOAK else 10))
KILL_SEED = int(os.environ.get("TEND_KILL_SEED", 8))
KILL_PHASES = ("start", "stop", "reload", "job", "down")


def kill_ini(d, rnd):
    return f"""\
[service tree]
exec = {PY} {q(TREE)} {q(d)} --roles bg,setsid,dfork,daemon
env = ROUND={rnd}
stop-timeout = 2s
health = exec:sleep 600
health-interval = 100ms
health-timeout = 60s
health-grace = 0

[service crasher]
exec = {PY} {q(TREE)} {q(d)} --roles bg --exit-after 0.2 --code 1
backoff = 0
max-crashes = 1000/1s

[job j]
exec = {PY} {q(TREE)} {q(d)} --roles bg,setsid --exit-after 0.3
"""


def test_sigkill_while_leftovers_are_stopped(tend, project):
    """A run whose main process exited leaves a child that ignores SIGTERM:
    while tend waits out stop-timeout for it, the daemon is SIGKILLed.  The
    child is the keeper's (orphans come back to it), which kills it with
    tend."""
    d = tend.tree_dir("leaver")
    p = project("""\
[service leaver]
exec = %s %s %s --roles bg --ignore-term --exit-after 0.1 --code 1
stop-timeout = 30s
""" % (PY, q(TREE), q(d.path)))
    p.up()
    gen = d.wait_ready()[0]
    bg = d.pids(gen)["bg"]
    p.wait_event("stopping", unit="leaver", reason="leftovers")
    assert p.unit("leaver")["state"] == "stopping"
    assert alive(*bg)
    daemon = p.daemon_pid()
    keeper = keeper_of(daemon)
    assert proc_stat(bg[0])[1] == keeper
    os.kill(daemon, signal.SIGKILL)
    t0 = time.monotonic()
    wait_until(lambda: not alive(*bg), T_SHORT,
               what="the leftover to die with the daemon")
    assert time.monotonic() - t0 < 1.0 or is_sanitized(), \
        "the leftover outlived the daemon by %.1fs" % (time.monotonic() - t0)
    wait_until(lambda: not alive(keeper), what="the keeper to exit")


def test_sigkill_while_a_health_check_runs(tend, project):
    """A health check's command is a child of the daemon (not the keeper's:
    it is no run): it dies with the daemon all the same."""
    p = project("""\
[service probed]
exec = sleep 600
health = exec:sleep 600
health-interval = 100ms
health-timeout = 60s
health-grace = 0
""")
    p.up()
    daemon = p.daemon_pid()

    def check():
        return [c for c, st in children(daemon) if st != "Z"
                and comm(c) == "sleep"]
    probe = wait_until(check, T_SHORT, what="the check to run")[0]
    start = proc_stat(probe)[2]
    os.kill(daemon, signal.SIGKILL)
    wait_until(lambda: not alive(probe, start), T_SHORT,
               what="the check's command to die with the daemon")


def live_tend(p, not_pid=None):
    """The pid of P's daemon as its lock file names it, once it lives."""
    h = p.lock_holder()
    return h if h and h != not_pid and alive(h) and comm(h) == "tend" else None


def test_sigkill_at_random_moments(tend, project):
    """The daemon is SIGKILLed at a random moment while it starts, stops a
    tree, reloads, runs a job or goes down.  Then no process of any unit
    may be alive (by the pids and start times every process wrote), and
    the next tend up -d starts cleanly."""
    d = tend.tree_dir("kill")
    rng = random.Random(KILL_SEED)
    p = project(kill_ini(d.path, 0))
    took, victims, daemon = [], [], None
    for rnd in range(KILL_ROUNDS):
        phase = KILL_PHASES[rnd % len(KILL_PHASES)]
        delay = rng.uniform(0, 0.25)
        what = "round %d (%s, %.3fs after it began; seed %d)" % (
            rnd, phase, delay, KILL_SEED)
        cmd = None
        if phase == "start":
            cmd = p.start("up", "-d")
            daemon = wait_until(lambda: live_tend(p, daemon), T_SHORT,
                                what="the daemon of " + what)
        else:
            if daemon is None or not alive(daemon):
                p.up()
                daemon = p.daemon_pid()
            d.wait_ready()     # the tree is up: there is something to stop
            if phase == "stop":
                cmd = p.start("stop", "tree")
            elif phase == "reload":
                p.write(kill_ini(d.path, rnd))
                cmd = p.start("reload")
            elif phase == "job":
                cmd = p.start("run", "j", "--wait")
            else:
                cmd = p.start("down")
        time.sleep(delay)    # a random moment, not a synchronisation
        victims.append(len([x for x in tend.reaper.tagged()
                            if comm(x) not in ("tend", None)]))
        try:
            os.kill(daemon, signal.SIGKILL)
        except ProcessLookupError:
            pass     # it was done already (down): the round still counts
        t0 = time.monotonic()
        wait_until(lambda: not alive(daemon), T_SHORT,
                   what="the daemon to die in " + what)
        cmd.wait(T_LONG)

        def left():
            return [x for x in d.all_pids() if alive(x[1], x[2])] + \
                [x for x in tend.reaper.tagged() if alive(x)]
        try:
            wait_until(lambda: not left(), T_SHORT, interval=0.01)
        except AssertionError:
            raise AssertionError("%s: alive %.1fs after the daemon's SIGKILL: "
                                 "%s" % (what, time.monotonic() - t0, left()))
        took.append(time.monotonic() - t0)
        for f in d.path.iterdir():   # all dead: the next round starts afresh
            f.unlink()
        # The next tend up -d starts cleanly: nothing left to kill.
        if rnd % len(KILL_PHASES) != len(KILL_PHASES) - 1:
            n = len(p.events())
            p.up()
            daemon = p.daemon_pid()
            new = p.events()[n:]
            assert not warns(new, unit="tend"), (what, new)
            assert p.unit("tree")["state"] in ("starting", "running"), what
    print("SIGKILL rounds: %d, %d processes of units (keepers included) alive "
          "at the kills, all gone %.0f ms after (median), %.0f ms (max)"
          % (len(took), sum(victims), 1000 * sorted(took)[len(took) // 2],
             1000 * max(took)))


# --- the soak: restarts and job runs, resources sampled -------------------------

# --- stalls and reload races, at random ------------------------------------

CHAOS_ROUNDS = int(os.environ.get("TEND_CHAOS_ROUNDS", 60 if SOAK else 8))
CHAOS_SEED = int(os.environ.get("TEND_CHAOS_SEED", 11))


def chaos_ini(d, with_slow=True):
    slow = f"""
[service slow]
exec = {PY} {q(BIN / "notify.py")} {q(d)} --ready-after 0.1
ready = notify
stop-signal = WINCH
stop-timeout = 700ms
start-timeout = 3s
"""
    return f"""\
[service pinger]
exec = {PY} {q(BIN / "notify.py")} {q(d)} --ready-after 0 --ping 0.1
ready = notify
watchdog = 1200ms

[job j]
exec = sleep 0.2
timeout = 1500ms
""" + (slow if with_slow else "")


def test_stalls_and_reload_races_at_random(project, tmp_path):
    """Rounds of two faults, at random moments: the daemon stalled
    (SIGSTOP) for longer than the pinger's watchdog and the job's timeout,
    which both keep in time; and a slow-to-stop service removed by a
    reload and added back by the next while its tree still stops.  No
    deadline is judged missed, and the slow service is never two
    instances: each of its runs starts after the one before exited."""
    d = tmp_path / "n"
    d.mkdir()
    rnd = random.Random(CHAOS_SEED)
    p = project(chaos_ini(d))
    p.up()
    pid = p.daemon_pid()
    pinger = p.unit("pinger")["pid"]
    for i in range(CHAOS_ROUNDS):
        if rnd.random() < 0.5:
            p.ok("run", "j")
            time.sleep(rnd.uniform(0, 0.3))
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(rnd.uniform(1.6, 2.5))
            finally:
                os.kill(pid, signal.SIGCONT)
            wait_until(lambda: p.unit("j")["state"] != "running", T_LONG,
                       what="round %d: the run judged" % i)
            assert p.unit("j")["last_run"]["result"] == "success", (
                i, p.unit("j")["last_run"])
        else:
            p.write(chaos_ini(d, with_slow=False))
            p.ok("reload")
            time.sleep(rnd.uniform(0, 0.5))
            p.write(chaos_ini(d))
            p.ok("reload")
            p.wait_unit("slow", state="running", timeout=T_LONG)
    evs = [e for e in p.events() if e["unit"] in ("pinger", "slow", "j")]
    bad = [e for e in evs if e["event"] in ("stopping", "exited")
           and e.get("reason") in ("watchdog", "timeout")]
    assert not bad, bad
    assert p.unit("pinger")["pid"] == pinger
    # slow: spawned, exited, spawned, exited, ... never two spawned in a row
    seq = [e["event"] for e in evs if e["unit"] == "slow"
           and e["event"] in ("spawned", "exited")]
    doubles = [k for k in range(1, len(seq))
               if seq[k] == "spawned" and seq[k - 1] == "spawned"]
    assert not doubles, seq
    assert seq.count("spawned") >= 1


SOAK_RESTARTS = int(os.environ.get("TEND_SOAK_RESTARTS",
                                   100000 if SOAK else 2000))
SOAK_RUNS = int(os.environ.get("TEND_SOAK_RUNS", 10000 if SOAK else 300))
SOAK_DEADLINE = float(os.environ.get("TEND_SOAK_DEADLINE",
                                     1200 if SOAK else 240))
SOAK_EVERY = 2.0 if SOAK else 0.25
SOAK_WARMUP = 1000 if SOAK else 200

# steady must outlive the whole soak (up to its deadline and more): it is
# checked to be the same process at the end.
SOAK_INI = """\
[tend]
log-max = 256K
max-jobs = 1

[service steady]
exec = sleep 7200

[service crasher]
exec = /bin/false
backoff = 0
max-crashes = 5000/1s
start = on-demand

[job j]
exec = /bin/true
"""

# A steady tree of 4 processes that map one 16 MiB shared segment under a
# 40 MiB limit: each maps 16 MiB and more, so counted once per process it
# would be restarted at the first sample; counted once, it never is.
SOAK_SHARED = """
[service shared]
exec = %s %s shared %s 16 3
memory-max = 40M
"""


def anon_shmem(pid):
    """RssAnon + RssShmem of PID, bytes."""
    kb = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssShmem:")):
                kb += int(line.split()[1])
    return kb << 10


def machine_procs():
    return sum(1 for n in os.listdir("/proc") if n.isdigit())


def zombies_below(pid):
    """(pid, start time) of every zombie child of PID and of its children
    (the keeper)."""
    out = []
    for c, st in children(pid):
        s = proc_stat(c)
        if st == "Z" and s:
            out.append((c, s[2]))
        elif st != "Z":
            for g, gst in children(c):
                # read once: the zombie may be reaped between two reads
                gs = proc_stat(g) if gst == "Z" else None
                if gs:
                    out.append((g, gs[2]))
    return set(out)


def test_soak_restarts_and_job_runs(tend, project, tmp_path):
    """A crashing service restarted SOAK_RESTARTS times (backoff 0) while a
    job runs SOAK_RUNS times, one after the other: the daemon's anon+shmem
    memory and its descriptors stay flat, and no zombie of it lasts from
    one sample to the next.  `make soak`: 100 000 restarts and 10 000 runs,
    figures in build/soak/soak.json."""
    env = dict(tend.env)
    san = is_sanitized()
    if san:
        # Freed memory sits in ASan's quarantine: no flat line to see.
        env["ASAN_OPTIONS"] = ("quarantine_size_mb=0:"
                               "thread_local_quarantine_size_kb=0")
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir()
    p = project(SOAK_INI + SOAK_SHARED % (PY, BIN / "mem.py", shared_dir),
                env=env)
    p.up()
    pid = p.daemon_pid()
    steady = p.unit("steady")["pid"]
    wait_until(lambda: list(shared_dir.glob("*.ready")), T_LONG,
               what="the shared tree to map its segment")
    shared = p.unit("shared")
    assert shared["procs"] == 4 and shared["restarts"] == 0, shared
    runner, asker = Ctl(p.sock, timeout=T_LONG), Ctl(p.sock, timeout=T_LONG)

    def restarts():
        return units(asker.ask(cmd="status", name="crasher"))["crasher"][
            "restarts"]

    def run_job():
        r = runner.ask(cmd="run", name="j", wait=True)
        assert r["ok"] and r["result"] == "success", r
        return r["run"]

    # Warm up: allocations that are made once (tables, buffers) are made.
    assert asker.ask(cmd="start", name="crasher")["ok"]
    wait_until(lambda: restarts() >= SOAK_WARMUP, T_LONG, interval=0.1,
               what="the warm-up restarts")
    for _ in range(20):
        run_job()
    # Measured at rest, before and after: no run, the crasher stopped.
    assert asker.ask(cmd="stop", name="crasher")["ok"]
    keeper = keeper_of(pid)   # it holds the crasher's arms (backoff 0)
    base = {"mem": anon_shmem(pid), "fds": len(os.listdir("/proc/%d/fd" % pid)),
            "procs": machine_procs(), "keeper_mem": anon_shmem(keeper),
            "keeper_fds": len(os.listdir("/proc/%d/fd" % keeper))}
    t0 = time.monotonic()
    r0 = restarts()
    assert asker.ask(cmd="start", name="crasher")["ok"]

    done = {"runs": 0, "last": None, "error": None}

    def runs():
        try:
            for _ in range(SOAK_RUNS):
                done["last"] = run_job()
                done["runs"] += 1
        except Exception as e:   # reported by the main thread
            done["error"] = repr(e)
    th = threading.Thread(target=runs, daemon=True)
    th.start()
    samples, lingering, transient = [], [], 0
    prev_z, stopped_at = set(), None
    while True:
        now = time.monotonic() - t0
        z = zombies_below(pid)
        lingering += sorted(z & prev_z)
        transient += bool(z)
        prev_z = z
        n = restarts()
        samples.append({"t": round(now, 2), "mem": anon_shmem(pid),
                        "fds": len(os.listdir("/proc/%d/fd" % pid)),
                        "zombies": len(z), "restarts": n - r0,
                        "runs": done["runs"], "procs": machine_procs()})
        if stopped_at is None and (n - r0 >= SOAK_RESTARTS or
                                   now > SOAK_DEADLINE):
            assert asker.ask(cmd="stop", name="crasher")["ok"]
            stopped_at = now
        if stopped_at is not None and not th.is_alive():
            break
        if now > SOAK_DEADLINE + T_LONG:
            done["error"] = "the job runs did not end in time"
            break
        if not th.is_alive():
            # The runs are over (long before the restarts, at full size):
            # the runner's connection must not be closed for being idle
            # (30 s), or the descriptors at the end are one short.
            runner.ping()
        time.sleep(SOAK_EVERY)
    elapsed = time.monotonic() - t0
    final = {"mem": anon_shmem(pid), "fds": len(os.listdir("/proc/%d/fd" % pid)),
             "keeper_mem": anon_shmem(keeper),
             "keeper_fds": len(os.listdir("/proc/%d/fd" % keeper))}
    wait_until(lambda: not zombies_below(pid), T_SHORT, what="no zombie")
    runner.close()
    asker.close()
    figures = {
        "restarts": samples[-1]["restarts"], "runs": done["runs"],
        "seconds": round(elapsed, 1), "samples": len(samples),
        "machine_procs_start": base["procs"],
        "machine_procs_max": max(x["procs"] for x in samples),
        "mem_start": base["mem"], "mem_end": final["mem"],
        "mem_max": max(s["mem"] for s in samples),
        "fds_start": base["fds"], "fds_end": final["fds"],
        "fds_max": max(s["fds"] for s in samples),
        "keeper_mem_start": base["keeper_mem"], "keeper_mem_end": final["keeper_mem"],
        "keeper_fds_start": base["keeper_fds"], "keeper_fds_end": final["keeper_fds"],
        "samples_with_a_zombie": transient, "zombies_lasting": len(lingering),
        "sanitized": san, "series": samples,
    }
    print("soak: %(restarts)d restarts and %(runs)d job runs in %(seconds)ss; "
          "anon+shmem %(mem_start)d -> %(mem_end)d bytes (max %(mem_max)d); "
          "fds %(fds_start)d -> %(fds_end)d (max %(fds_max)d); keeper "
          "anon+shmem %(keeper_mem_start)d -> %(keeper_mem_end)d bytes, fds "
          "%(keeper_fds_start)d -> %(keeper_fds_end)d; samples with a "
          "zombie %(samples_with_a_zombie)d of %(samples)d, lasting "
          "%(zombies_lasting)d; processes on the machine %(machine_procs_start)d "
          "(max %(machine_procs_max)d)" % figures)
    if SOAK:
        out = Path(os.environ.get("TEND_SOAK_OUT",
                                  Path(__file__).resolve().parents[2] /
                                  "build" / "soak" / "soak.json"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=1) + "\n")
    summary = {k: v for k, v in figures.items() if k != "series"}
    assert done["error"] is None, done
    assert figures["restarts"] >= SOAK_RESTARTS, (
        "%d restarts in %ds (the machine had up to %d processes: tend reads "
        "every /proc/PID/stat at each exit)" % (figures["restarts"],
                                                SOAK_DEADLINE,
                                                figures["machine_procs_max"]))
    assert done["last"] == 20 + SOAK_RUNS
    assert not lingering, "zombies that outlived a sample: %s" % lingering
    assert final["fds"] == base["fds"], summary
    assert figures["fds_max"] <= base["fds"] + 4, summary
    # The daemon's process-table arrays follow the machine's process count
    # (up to 136 bytes a process, never shrunk): more processes on the
    # machine than at the start may take that much more, which is no leak.
    grow = final["mem"] - base["mem"]
    more = max(0, figures["machine_procs_max"] - base["procs"])
    allowed = ((4 << 20) if san else (256 << 10)) + 136 * more
    assert grow <= allowed, "the daemon grew by %d bytes (allowed %d): %s" % (
        grow, allowed, summary)
    # The keeper too: every arm it got (the crasher's next start, with its
    # descriptors) was used or dropped.
    assert final["keeper_fds"] == base["keeper_fds"], summary
    kgrow = final["keeper_mem"] - base["keeper_mem"]
    assert kgrow <= allowed, "the keeper grew by %d bytes (allowed %d): %s" % (
        kgrow, allowed, summary)
    assert p.unit("steady")["pid"] == steady
    end = p.unit("shared")
    assert end["pid"] == shared["pid"] and end["restarts"] == 0, end
    assert 16 << 20 <= end["mem_bytes"] < 32 << 20, end
    assert not [e for e in p.events() if e.get("unit") == "shared"
                and e["event"] in ("memory_limit", "exited", "warn")]
    assert p.unit("j")["last_run"]["result"] == "success"
