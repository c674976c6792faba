"""The daemon of a file: tend up [-d], status, start/stop/restart, reload,
down, signals, logs, events, and what it costs while idle or restarting.

Every daemon is brought down by the `project` fixture (tend down, then
SIGKILL by pid when that fails); every process a test starts carries the
test's tag and is killed by the reaper."""
import fcntl
import json
import os
import re
import signal
import stat
import time
from pathlib import Path

import pytest

from conftest import (BIN, KEEPER, PY, SH, T_LONG, T_SHORT, TREE, alive, comm,
                      is_sanitized, keeper_of, parse_events, proc_stat, q,
                      wait_until)

SVC = str(BIN / "svc.py")


def svc(d, name, *opts):
    """An exec line running bin/svc.py."""
    return " ".join([PY, q(SVC), q(d), name] + [str(o) for o in opts])


def starts(d, name):
    """The "PID STARTTIME" lines svc.py NAME appended at each start."""
    try:
        text = (Path(d) / (name + ".starts")).read_text()
    except OSError:
        return []
    return [tuple(int(x) for x in l.split()) for l in text.splitlines() if l]


def daemons(tend):
    """Live processes of the test that are a tend daemon (not a keeper, not
    a command that is still running: those are checked for exit first)."""
    return [p for p in tend.reaper.tagged()
            if comm(p) == "tend" and alive(p)]


def keepers(tend):
    """Live keepers of the test's daemons."""
    return sorted(p for p in tend.reaper.tagged()
                  if comm(p) == KEEPER and alive(p))


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


def wait_following(t):
    """Waits until a `tend ... -f` watches its files (it has an inotify
    descriptor), or a second at most when it watches otherwise."""
    try:
        wait_until(lambda: has_inotify(t.pid) or not t.running(), 5.0,
                   what="the follower to set up")
    except AssertionError:
        time.sleep(1.0)
    assert t.running(), t.describe()


# --- 1. up -d and status ----------------------------------------------------

DAEMON_KEYS = {"name", "kind", "state", "pid", "uptime_ms", "mem_bytes", "fds",
               "wakeups", "clients", "notify_ignored", "config", "default", "file",
               "cgroup", "cgroup_why", "keeper",
               "version", "mem_interval_ms"}
KEEPER_KEYS = {"pid", "mem_bytes", "strays", "pidns", "pidns_why"}
UNIT_KEYS = {"name", "kind", "state", "pid", "uptime_ms", "mem_bytes", "procs",
             "restarts", "last_exit", "mem_max", "status_text", "health",
             "reason", "reason_text", "cpu_ticks", "mem_history"}


def is_int(v):
    return type(v) is int


def test_up_detached_status_json_and_table(tend, project, tmp_path):
    d = tend.tree_dir("svc").path
    p = project(f"""\
[service web]
exec = {svc(d, "web")}

[service worker]
exec = sh -c 'sleep 600 & exec sleep 600'

[service lazy]
exec = sleep 600
start = on-demand

[job j]
exec = true
""")
    t = p.run("up", "-d")
    assert t.rc == 0, t.describe()
    assert t.stderr == "", t.describe()
    # Returned once every boot service spawned: both are running now.
    st = p.status_doc()
    assert set(st) == {"version", "daemon", "units"} and st["version"] == 2, st
    daemon, units = st["daemon"], st["units"]
    assert set(daemon) == DAEMON_KEYS, daemon
    assert daemon["name"] == "tend" and daemon["kind"] == "daemon"
    assert daemon["state"] == "running"
    for k in ("pid", "uptime_ms", "mem_bytes", "fds", "wakeups", "clients"):
        assert is_int(daemon[k]), (k, daemon)
    assert alive(daemon["pid"]) and comm(daemon["pid"]) == "tend"
    assert daemon["pid"] not in (t.pid, os.getpid())
    assert daemon["uptime_ms"] >= 0 and daemon["wakeups"] >= 0
    assert daemon["mem_bytes"] > 0 and daemon["fds"] > 2, daemon
    # the keeper: its pid, what it holds, and why it has no pid namespace
    k = daemon["keeper"]
    assert set(k) == KEEPER_KEYS, k
    assert k["pid"] == keeper_of(daemon["pid"]), k
    assert is_int(k["mem_bytes"]) and k["mem_bytes"] > 0, k
    assert k["strays"] == 0, k
    assert k["pidns"] is False and k["pidns_why"] == "pid-namespace = no", k
    assert daemon["clients"] >= 1, "the status request's own connection"
    assert daemon["config"] == str(p.ini.resolve())
    v = tend.run("--version")
    assert daemon["version"] == v.stdout.split()[1], (daemon, v.stdout)

    assert [u["name"] for u in units] == ["web", "worker", "lazy", "j"]
    for u in units:
        assert set(u) == UNIT_KEYS | ({"last_run"} if u["kind"] == "job"
                                      else set()), u
        assert is_int(u["cpu_ticks"]) and isinstance(u["mem_history"], list), u
        for k in ("mem_bytes", "procs", "restarts"):
            assert is_int(u[k]), (k, u)
        assert isinstance(u["state"], str) and isinstance(u["kind"], str)
    by = {u["name"]: u for u in units}
    for name in ("web", "worker"):
        u = by[name]
        assert u["kind"] == "service" and u["state"] == "running", u
        assert is_int(u["pid"]) and alive(u["pid"]), u
        assert is_int(u["uptime_ms"]) and u["uptime_ms"] >= 0, u
        assert u["restarts"] == 0 and u["last_exit"] is None, u
        # main's parent is the daemon's one keeper, whatever the service
        assert proc_stat(u["pid"])[1] == keeper_of(daemon["pid"]), u
    wait_until(lambda: p.unit("worker")["procs"] == 2,
               what="worker's two processes to be counted")
    w = p.unit("worker")
    assert w["mem_bytes"] > 0, w
    lazy = by["lazy"]
    assert lazy["state"] == "stopped" and lazy["pid"] is None, lazy
    assert lazy["uptime_ms"] is None and lazy["procs"] == 0, lazy
    assert lazy["last_exit"] is None and lazy["restarts"] == 0
    assert by["j"]["kind"] == "job" and by["j"]["pid"] is None

    # status NAME: that unit only, no daemon element
    one = p.status("worker")
    assert len(one) == 1 and one[0]["name"] == "worker", one
    assert set(one[0]) == UNIT_KEYS
    bad = p.run("status", "nosuch")
    assert bad.rc == 2, bad.describe()
    assert "nosuch" in bad.stderr and bad.stdout == "", bad.describe()

    # the table, without colours on a pipe (a file here)
    h = p.ok("status")
    out = h.stdout
    assert "\x1b" not in out, repr(out)
    lines = out.splitlines()
    head = lines[0]
    for col in ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "PROCS",
                "LAST EXIT"):
        assert col in head, head
    rows = {l.split()[0]: l for l in lines[1:] if l.strip()}
    for name in ("web", "worker", "lazy", "j"):
        assert name in rows, out
    assert str(by["web"]["pid"]) in rows["web"].split(), out
    assert "running" in rows["web"].split() and "stopped" in rows["lazy"].split()
    assert str(daemon["pid"]) in out
    # status with a NAME in human form too
    h1 = p.ok("status", "web")
    assert "\x1b" not in h1.stdout and "web" in h1.stdout

    # the files of the daemon
    rd = p.rundir
    assert stat.S_IMODE(rd.stat().st_mode) == 0o700
    s = p.sock.stat()
    assert stat.S_ISSOCK(s.st_mode) and stat.S_IMODE(s.st_mode) == 0o600
    assert re.fullmatch(r"proj-[0-9a-f]{8}", p.id), p.id
    assert p.lock_file.exists()
    recs = [l.split() for l in p.procs_file.read_text().splitlines()
            if not l.startswith("cgroup ")]   # the runs' cgroups, if any
    web = by["web"]["pid"]
    assert [web, proc_stat(web)[2]] in [[int(r[0]), int(r[1])] for r in recs
                                        if r[0] != "run" and r[2] == "web"], recs
    # and the id of each live run, which its processes carry
    runs = {r[2]: r[1] for r in recs if r[0] == "run"}
    assert set(runs) == {"web", "worker"}, recs
    with open("/proc/%d/environ" % web, "rb") as f:
        assert runs["web"].encode() in f.read().split(b"\0")
    names = {f.name for f in p.statedir.iterdir()}
    assert {"web.log", "worker.log", "events.log", "daemon.log"} <= names, names
    assert stat.S_IMODE(p.statedir.stat().st_mode) == 0o700


def test_up_detached_reports_services_that_failed_to_spawn(project):
    p = project("""\
[service good]
exec = sleep 600

[service broken]
exec = /nonexistent/tend-e2e-program
""")
    t = p.run("up", "-d")
    assert t.rc == 1, t.describe()
    assert "broken" in t.stderr and "good" not in t.stderr, t.describe()
    # The daemon runs on, with what could start.
    assert p.unit("good")["state"] == "running"
    b = p.unit("broken")
    assert b["state"] == "failed" and b["pid"] is None, b
    assert b["last_exit"]["reason"] == "spawn_failed", b


def test_second_up(project):
    p = project("[service a]\nexec = sleep 600\n")
    p.up()
    pid = p.daemon_pid()
    t = p.run("up", "-d")
    assert t.rc == 0, t.describe()
    assert "already running" in t.stderr and "pid %d" % pid in t.stderr, \
        t.describe()
    f = p.run("up", timeout=T_SHORT)
    assert f.rc == 1, f.describe()
    assert "already running" in f.stderr and "pid %d" % pid in f.stderr, \
        f.describe()
    assert p.daemon_pid() == pid
    assert p.unit("a")["restarts"] == 0


@pytest.mark.parametrize("fd", [0, 1, 2])
def test_up_detached_with_a_closed_std_fd(tend, project, fd):
    """`tend up -d <&-` (or >&-, 2>&-): the report pipe must not land
    where the daemon puts /dev/null, or the caller waits for ever."""
    p = project("[service a]\nexec = sleep 600\n")
    t = tend.start_wrapped([SH, "-c", 'exec "$@" %d>&-' % fd, "sh"],
                           "-c", str(p.ini), "up", "-d", env=p.env)
    assert t.wait(T_LONG) == 0, t.describe() + "\n" + p.describe()
    a = p.wait_unit("a", state="running")
    # The service gets the daemon's /dev/null as its stdin, never a pipe
    # or socket of tend's.
    assert os.readlink("/proc/%d/fd/0" % a["pid"]) == "/dev/null"


# --- 2, 3. one daemon per file, whoever starts it --------------------------

N_RACERS = 30


def test_concurrent_up_makes_one_daemon(tend, project):
    d = tend.tree_dir("svc").path
    p = project(f"""\
[service a]
exec = {svc(d, "a")}

[service b]
exec = {svc(d, "b")}
""")
    racers = [p.start("up", "-d") for _ in range(N_RACERS)]
    for r in racers:
        r.wait(T_LONG)
    assert [r.rc for r in racers] == [0] * N_RACERS, \
        "\n".join(r.describe() for r in racers if r.rc != 0)
    pid = p.daemon_pid()
    wait_until(lambda: daemons(tend) == [pid], what="one daemon only (now %s)"
               % daemons(tend))
    for name in ("a", "b"):
        wait_until(lambda: starts(d, name), what="%s to start" % name)
    time.sleep(0.5)
    assert len(starts(d, "a")) == 1 and len(starts(d, "b")) == 1, \
        (starts(d, "a"), starts(d, "b"))
    # The losers say who runs.
    for r in racers:
        if r.stderr:
            assert "already running (pid %d)" % pid in r.stderr, r.describe()
    assert daemons(tend) == [pid]
    assert keepers(tend) == [keeper_of(pid)], "one keeper, the daemon's"


def test_concurrent_start_on_a_cold_system(tend, project):
    d = tend.tree_dir("svc").path
    p = project(f"""\
[service x]
exec = {svc(d, "x")}
start = on-demand

[service boot]
exec = {svc(d, "boot")}
""")
    assert p.run("status").rc == 3
    racers = [p.start("start", "x") for _ in range(N_RACERS)]
    for r in racers:
        r.wait(T_LONG)
    assert [r.rc for r in racers] == [0] * N_RACERS, \
        "\n".join(r.describe() for r in racers if r.rc != 0)
    pid = p.daemon_pid()
    wait_until(lambda: daemons(tend) == [pid], what="one daemon only (now %s)"
               % daemons(tend))
    wait_until(lambda: starts(d, "x") and starts(d, "boot"),
               what="x and boot to start")
    time.sleep(0.5)
    assert len(starts(d, "x")) == 1, starts(d, "x")
    assert len(starts(d, "boot")) == 1, starts(d, "boot")
    assert keepers(tend) == [keeper_of(pid)], "one keeper, the daemon's"
    x = p.unit("x")
    assert x["state"] == "running" and x["pid"] == starts(d, "x")[0][0], x
    assert x["restarts"] == 0


def test_start_and_restart_wait_start_the_daemon(tend, project):
    d = tend.tree_dir("svc").path
    p = project(f"""\
[service x]
exec = {svc(d, "x")}
start = on-demand

[service y]
exec = {svc(d, "y")}
start = on-demand
""")
    t = p.run("start", "x", "--wait")
    assert t.rc == 0, t.describe()
    x = p.unit("x")
    assert x["state"] == "running", x
    assert p.unit("y")["state"] == "stopped"
    wait_until(lambda: starts(d, "x"), what="x to start")
    p.ok("down")
    t = p.run("restart", "y", "--wait")
    assert t.rc == 0, t.describe()
    assert p.unit("y")["state"] == "running"
    assert p.unit("x")["state"] == "stopped"
    wait_until(lambda: starts(d, "y"), what="y to start")
    assert len(starts(d, "x")) == 1 and len(starts(d, "y")) == 1


def test_foreground_up_labels_output_and_events(tend, project):
    d = tend.tree_dir("svc").path
    p = project(f"""\
[service a]
exec = {svc(d, "a", "--lines", 3)}

[service longer-name]
exec = {svc(d, "longer-name", "--lines", 2)}
""")
    t = p.start("up")
    wait_until(lambda: t.stdout.count("\n") >= 5 or not t.running(),
               what="the five lines on stdout")
    lines = t.stdout.splitlines()
    a = [l for l in lines if l.startswith("a ")]
    assert a == ["a           | a %06d" % i for i in (1, 2, 3)], lines
    ln = [l for l in lines if l.startswith("longer-name")]
    assert ln == ["longer-name | longer-name %06d" % i for i in (1, 2)], lines
    ev = [l for l in t.stderr_lines() if ": spawned" in l]
    assert len(ev) == 2, t.describe()
    assert all(re.fullmatch(r"tend: (a|longer-name): spawned pid=\d+", l)
               for l in ev), ev
    # the same lines went to the log files
    assert p.ok("logs", "a").stdout.splitlines() == \
        ["a %06d" % i for i in (1, 2, 3)]
    assert t.stop(T_LONG) == 0, t.describe()


def test_many_runs_ending_at_once_all_settle(project, tmp_path):
    """Runs that end in one SIGCHLD batch: each unit must see its own tree
    gone (a look at /proc taken between two reaps of the batch would still
    show the later ones, and no SIGCHLD would come to correct it)."""
    n = 30
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    p = project("".join("[service s%d]\nexec = head -c1 %s\nrestart = never\n"
                        % (i, fifo) for i in range(n)))
    p.up()
    wait_until(lambda: all(u["procs"] == 1 for u in p.status()),
               what="every service to wait on the fifo")
    fd = os.open(fifo, os.O_WRONLY)
    os.close(fd)  # every reader sees end-of-file at once
    wait_until(lambda: all(u["state"] == "stopped" for u in p.status()),
               what="every run to end and its unit to settle")
    assert not [e for e in p.events() if e["event"] == "stopping"], p.describe()
    t0 = time.monotonic()
    p.ok("down")
    assert time.monotonic() - t0 < 5


# --- 4. a killed daemon leaves nothing in the way ---------------------------

def test_up_right_after_kill9(tend, project):
    d = tend.tree_dir("svc").path
    p = project(f"[service a]\nexec = {svc(d, 'a')}\n")
    p.up()
    old = p.daemon_pid()
    a1 = p.unit("a")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: not alive(old), what="the daemon to die")
    t0 = time.monotonic()
    t = p.run("up", "-d")
    assert t.rc == 0, t.describe() + p.describe()
    assert time.monotonic() - t0 < 5
    assert "already running" not in t.stderr, t.describe()
    new = p.daemon_pid()
    assert new != old
    a = p.unit("a")
    assert a["state"] == "running" and a["pid"] != a1, a
    assert not alive(a1), "the old run died with its daemon"
    assert daemons(tend) == [new]
    wait_until(lambda: keepers(tend) == [keeper_of(new)],
               what="the old keeper to die with its daemon (keepers: %s)"
               % keepers(tend))


# --- 5. start, stop, restart -------------------------------------------------

def tree_alive(td, gen):
    return sorted(r for r, (pid, s) in td.pids(gen).items() if alive(pid, s))


def test_start_stop_restart(tend, project):
    td = tend.tree_dir("tree")
    p = project(f"""\
[service web]
exec = {PY} {TREE} {td.path}
stop-timeout = 20s

[service missing]
exec = /nonexistent/tend-e2e-program
start = on-demand

[service crash]
exec = sh -c 'exit 3'
restart = never
start = on-demand

[job j]
exec = true
""")
    # No daemon: nothing to stop, nothing to show, unknown is unknown.
    for args, rc in ((("stop", "web"), 0), (("down",), 0),
                     (("status",), 3), (("status", "web"), 3),
                     (("start", "nosuch"), 2), (("restart", "nosuch"), 2)):
        t = p.run(*args)
        assert t.rc == rc, t.describe()
    assert not daemons(tend), "stop/down/status must not start a daemon"

    p.up()
    gen1 = td.wait_ready()[0]
    web = p.unit("web")
    assert web["pid"] == gen1

    t = p.run("start", "web")
    assert t.rc == 0, t.describe()
    assert p.unit("web")["pid"] == gen1, "start of a running service: no-op"

    t = p.run("stop", "web")
    assert t.rc == 0, t.describe()
    # stop returns when the tree is gone
    assert tree_alive(td, gen1) == [], t.describe()
    w = p.unit("web")
    assert w["state"] == "stopped" and w["pid"] is None, w
    assert w["procs"] == 0 and w["uptime_ms"] is None, w
    assert w["last_exit"]["reason"] == "stopped", w
    assert is_int(w["last_exit"]["at"]), w
    t = p.run("stop", "web")
    assert t.rc == 0, t.describe()

    t = p.run("start", "web", "--wait")
    assert t.rc == 0, t.describe()
    w = p.unit("web")
    assert w["state"] == "running" and w["pid"] not in (None, gen1), w
    gen2 = w["pid"]
    wait_until(lambda: gen2 in td.generations(), what="the new tree")

    t = p.run("restart", "web", "--wait")
    assert t.rc == 0, t.describe()
    w = p.unit("web")
    assert w["state"] == "running" and w["pid"] not in (None, gen1, gen2), w
    assert tree_alive(td, gen2) == [], "the old tree is gone before the new run"
    gen3 = w["pid"]
    wait_until(lambda: gen3 in td.generations(), what="the new tree")
    assert td.prev_alive(gen3) == []

    t = p.run("restart", "web")
    assert t.rc == 0, t.describe()
    w = p.wait_unit("web", state="running")
    wait_until(lambda: p.unit("web")["pid"] not in (None, gen3),
               what="a new run after restart")

    # a program that does not exist
    t = p.run("start", "missing", "--wait")
    assert t.rc == 1, t.describe()
    assert "missing" in t.stderr, t.describe()
    m = p.unit("missing")
    assert m["state"] == "failed" and m["last_exit"]["reason"] == "spawn_failed"
    t = p.run("start", "missing")
    assert t.rc == 1, t.describe()
    assert "missing" in t.stderr

    # A service that exits at once.  With ready = none a run counts as
    # running once it has spawned, so --wait may see it run (exit 0) or
    # fail (exit 1): either way the exit is in status.
    t = p.run("start", "crash", "--wait")
    assert t.rc in (0, 1), t.describe()
    if t.rc == 1:
        assert "crash" in t.stderr, t.describe()
    c = wait_until(lambda: p.unit("crash")["last_exit"] and p.unit("crash"),
                   what="crash's exit")
    assert c["last_exit"]["reason"] == "crash" and c["last_exit"]["code"] == 3
    assert c["last_exit"]["signal"] is None and c["pid"] is None, c

    # jobs and unknown names
    for args in (("start", "j"), ("restart", "j", "--wait"),
                 ("start", "nosuch"), ("stop", "nosuch"),
                 ("restart", "nosuch", "--wait")):
        t = p.run(*args)
        assert t.rc == 2, t.describe()
        assert args[1] in t.stderr, t.describe()
    t = p.run("stop", "j")    # a job's run can be stopped; none runs
    assert t.rc == 0, t.describe()
    assert p.unit("web")["state"] == "running"


# --- 6. reload -----------------------------------------------------------------

V1 = """\
[service keep]
exec = sleep 600

[service gone]
exec = sleep 601

[service change]
exec = sleep 602
"""

V2 = """\
# the same "keep", moved and written differently
[service change]
exec = sleep 603

[service new]
exec = sleep 604

[service keep]
exec   =   sleep    600   ; same command
"""

BAD = V2 + "\n[service broken]\nexec = sleep 1\nno-such-key = 1\n"


def ctl_request(p, req):
    """One request straight over the control socket."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(T_LONG)
        s.connect(str(p.sock))
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def pids_of(p):
    return {u["name"]: u["pid"] for u in p.status()}


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")[:-1]


def check_v2(p, before):
    """The daemon runs V2, having started from V1 with pids BEFORE."""
    p.wait_unit("change", state="running")
    wait_until(lambda: p.unit("change")["pid"] not in (None, before["change"]),
               what="change to restart")
    wait_until(lambda: p.unit("new")["state"] == "running", what="new to run")
    wait_until(lambda: not alive(before["gone"]), what="gone to stop")
    after = pids_of(p)
    assert set(after) == {"keep", "change", "new"}, after
    assert after["keep"] == before["keep"], "unchanged: not touched"
    assert not alive(before["change"])
    assert cmdline(after["change"])[-1] == b"603"
    assert cmdline(after["new"])[-1] == b"604"
    assert p.unit("keep")["restarts"] == 0
    return after


def reload_events(p):
    return [e for e in p.events() if e["event"] == "reload"]


def test_reload(project):
    p = project(V1)
    p.up()
    before = pids_of(p)
    p.write(V2)
    t = p.run("reload")
    assert t.rc == 0, t.describe()
    # What reload prints is checked last (the rest does not depend on it).
    printed = [t.stdout]
    after = check_v2(p, before)
    ev = reload_events(p)
    assert len(ev) == 1, p.describe()
    assert ev[0]["added"] == ["new"] and ev[0]["removed"] == ["gone"]
    assert ev[0]["changed"] == ["change"]

    t = p.run("reload")
    assert t.rc == 0, t.describe()
    printed.append(t.stdout)
    assert pids_of(p) == after

    # A file with an error is refused; the running settings stay.
    p.write(BAD)
    t = p.run("reload")
    assert t.rc == 2, t.describe()
    assert "no-such-key" in t.stderr, t.describe()
    time.sleep(0.3)
    # A broken file does not lock the CLI out of the running daemon.
    assert pids_of(p) == after
    t = p.run("stop", "change")
    assert t.rc == 0, t.describe()
    assert p.unit("change")["state"] == "stopped"
    p.write(V2)
    t = p.run("reload")
    assert t.rc == 0, t.describe()
    printed.append(t.stdout)
    after["change"] = None
    assert pids_of(p) == after
    # A file that is gone is an error too.
    os.rename(p.ini, str(p.ini) + ".away")
    try:
        raw = ctl_request(p, {"cmd": "reload"})
    finally:
        os.rename(str(p.ini) + ".away", p.ini)
    assert raw["ok"] is False and raw["exit"] == 2, raw
    assert pids_of(p) == after
    assert printed == ["added: new; removed: gone; changed: change\n",
                       "nothing changed\n", "nothing changed\n"], printed


def test_sighup_reloads(project):
    p = project(V1)
    p.up()
    pid = p.daemon_pid()
    before = pids_of(p)
    p.write(V2)
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: reload_events(p), what="the reload event")
    after = check_v2(p, before)
    ev = reload_events(p)[0]
    assert (ev["added"], ev["removed"], ev["changed"]) == \
        (["new"], ["gone"], ["change"]), ev

    p.write(BAD)
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: [e for e in p.events() if e["event"] == "warn"
                        and "no-such-key" in e.get("message", "")],
               what="a warn event for the bad file\n" + p.describe())
    p.write(V2)
    assert pids_of(p) == after
    assert len(reload_events(p)) == 1
    assert p.daemon_pid() == pid


def test_sighup_bad_file_with_raw_bytes_keeps_its_message(project):
    """An error that quotes bytes which are not UTF-8 (or an escape) still
    reaches the events with its message, cleaned; it used to be dropped
    whole (JSON holds only UTF-8)."""
    p = project(V1)
    p.up()
    pid = p.daemon_pid()
    Path(p.ini).write_bytes(V1.encode() + b"[service raw]\nexec = true\n"
                            b"start = on-\xff\x1b[1mdemand\n")
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: [e for e in p.events() if e["event"] == "warn"
                        and "reload failed" in e.get("message", "")],
               what="a warn event with its message\n" + p.describe())
    m = [e for e in p.events() if e["event"] == "warn"
         and "reload failed" in e.get("message", "")][0]["message"]
    assert "start = on-??[1mdemand" in m, m


# --- 7. SIGTERM and SIGINT to the daemon -------------------------------------

def test_sigterm_stops_units_in_parallel(tend, project):
    d = tend.tree_dir("svc").path
    names = ("a", "b", "c")
    p = project("".join(f"[service {n}]\nexec = {svc(d, n, '--term-sleep', 1.5)}\n"
                        "stop-timeout = 20s\n\n" for n in names))
    t = p.start("up", "--json")
    t.wait_event("spawned", n=3)
    wait_until(lambda: all(starts(d, n) for n in names),
               what="the services to set up their TERM handlers")
    pids = [starts(d, n)[0] for n in names]
    t0 = time.monotonic()
    t.kill(signal.SIGTERM)
    rc = t.wait(T_LONG)
    elapsed = time.monotonic() - t0
    assert rc == 0, t.describe()
    assert not [x for x in pids if alive(*x)]
    # Each takes 1.5 s to go: one after the other would be 4.5 s.
    assert 1.4 <= elapsed < 3.0, (elapsed, t.describe())
    evs = t.events()
    kinds = [(e["unit"], e["event"]) for e in evs]
    first_exit = min(i for i, (u, e) in enumerate(kinds) if e == "exited")
    stopping = [u for u, e in kinds[:first_exit] if e == "stopping"]
    assert sorted(stopping) == list(names), kinds
    for n in names:
        ex = [e for e in evs if e["event"] == "exited" and e["unit"] == n]
        assert ex and ex[0]["reason"] == "stopped", evs


def test_second_sigint_kills_at_once(tend, project):
    d = tend.tree_dir("svc").path
    names = ("a", "b")
    p = project("".join(f"[service {n}]\nexec = {svc(d, n, '--ignore-term')}\n"
                        "stop-timeout = 30s\n\n" for n in names))
    t = p.start("up", "--json")
    t.wait_event("spawned", n=2)
    wait_until(lambda: all(starts(d, n) for n in names),
               what="the services to ignore TERM")
    pids = [starts(d, n)[0] for n in names]
    t.kill(signal.SIGINT)
    t.wait_event("stopping", n=2)
    time.sleep(0.5)
    assert t.running(), t.describe()
    assert all(alive(*x) for x in pids), "graceful so far"
    t0 = time.monotonic()
    t.kill(signal.SIGINT)
    t.wait(T_SHORT)
    assert time.monotonic() - t0 < 5, t.describe()
    assert not [x for x in pids if alive(*x)], t.describe()


def test_down_stops_everything_and_the_daemon(tend, project):
    td = tend.tree_dir("tree")
    p = project(f"""\
[service tree]
exec = {PY} {TREE} {td.path} --roles bg,setsid,dfork,daemon,stealth

[service b]
exec = sh -c 'sleep 600 & exec sleep 601'
""")
    for round in range(5):
        t = p.run("up", "-d")
        assert t.rc == 0 and t.stderr == "", t.describe()
        daemon = p.daemon_pid()
        gen = td.wait_ready(n=round + 1)[-1]
        procs = list(td.pids(gen).values())
        b = p.unit("b")["pid"]
        procs.append((b, proc_stat(b)[2]))
        t = p.run("down")
        assert t.rc == 0, t.describe()
        # Returned when everything is gone: the next up -d starts afresh.
        assert not [x for x in procs if alive(*x)], procs
        assert not p.sock.exists() and not p.procs_file.exists()
        # ... and its lock is free: a tend up at once is not refused.
        with open(p.lock_file, "r+b") as lk:
            fcntl.lockf(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(lk, fcntl.LOCK_UN)
        # ... and the daemon has exited (docs/commands.md: down returns
        # when it has), not merely closed the connection.
        assert not alive(daemon), daemon
        assert p.run("status").rc == 3
    assert p.run("down").rc == 0
    ev = p.events()
    assert [e["event"] for e in ev].count("spawned") == 10, ev


# --- 8. logs -------------------------------------------------------------------

def test_logs_files_tail_merge_rotation_follow(tend, project):
    d = tend.tree_dir("svc").path
    n = 1000
    p = project(f"""\
[tend]
log-max = 4K

[service printer]
exec = {svc(d, "printer", "--lines", n, "--batch", 5, "--pause", 0.01)}
start = on-demand

[service other]
exec = {svc(d, "other", "--lines", 3)}
""")
    p.up()
    wait_until(lambda: p.run("logs", "other").stdout.count("\n") == 3,
               what="other's three lines")
    t = p.ok("logs", "other")
    assert t.stdout == "other 000001\nother 000002\nother 000003\n", t.stdout
    raw = (p.statedir / "other.log").read_text().splitlines()
    assert len(raw) == 3 and raw[0].endswith(" other 000001"), raw

    follow = p.start("logs", "printer", "-f", "-n", "all")
    wait_following(follow)
    p.ok("start", "printer")
    last = "printer %06d" % n
    wait_until(lambda: last in follow.stdout, T_LONG,
               what="the follower to see the last line\n" + follow.describe())
    time.sleep(0.2)
    got = follow.stdout.splitlines()
    want = ["printer %06d" % i for i in range(1, n + 1)]
    missing = sorted(set(want) - set(got))
    assert got == want, ("lines lost or out of order across rotation: "
                         "%d lines, %d missing (first %s), first lines %s"
                         % (len(got), len(missing), missing[:5], got[:3]))
    assert follow.running(), follow.describe()
    follow.stop()

    files = sorted(f.name for f in p.statedir.glob("printer.log*"))
    assert files == ["printer.log", "printer.log.1", "printer.log.2",
                     "printer.log.3"], files
    for f in files:
        size = (p.statedir / f).stat().st_size
        assert size <= 4096 + 100, (f, size)

    t = p.ok("logs", "printer", "-n", "3")
    assert t.stdout.splitlines() == want[-3:], t.stdout
    t = p.ok("logs", "printer", "-n", "all")
    kept = t.stdout.splitlines()
    assert kept == want[len(want) - len(kept):], kept[:3]
    assert 100 < len(kept) < n, len(kept)
    t = p.ok("logs", "printer")
    assert t.stdout.splitlines() == want[-100:]

    # merged, labelled, by time: other's lines came first
    t = p.ok("logs", "-n", "all")
    merged = t.stdout.splitlines()
    pairs = []
    for line in merged:
        m = re.fullmatch(r"(\S+) *\| (.*)", line)
        assert m, line
        pairs.append((m.group(1), m.group(2)))
    assert all(text.startswith(label + " ") for label, text in pairs), \
        merged[:5]
    assert pairs[:3] == [("other", "other %06d" % i) for i in (1, 2, 3)], \
        merged[:5]
    assert [t for l, t in pairs if l == "printer"] == kept
    t = p.ok("logs", "-n", "5")
    assert [l.split("| ", 1)[1] for l in t.stdout.splitlines()] == want[-5:]
    assert p.run("logs", "nosuch").rc == 2


# --- 9. events -------------------------------------------------------------------

HUMAN_EVENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\S+): (\S+)( .*)?")


def test_events(project):
    p = project("""\
[service web]
exec = sleep 600

[service crash]
exec = sh -c 'exit 3'
restart = never
start = on-demand
""")
    p.up()
    web = p.unit("web")["pid"]
    p.run("start", "crash", "--wait")
    p.wait_unit("crash", pid=None)
    wait_until(lambda: p.unit("crash")["last_exit"], what="crash's exit")

    t = p.ok("events", "--json", "-n", "all")
    evs = [json.loads(l) for l in t.stdout.splitlines()]
    assert evs, t.describe()
    for e in evs:
        assert is_int(e["ts"]) and isinstance(e["unit"], str), e
        assert isinstance(e["event"], str), e
    assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs)
    assert {"unit": "web", "event": "spawned", "pid": web}.items() <= \
        [e for e in evs if e["unit"] == "web"][0].items(), evs
    ex = [e for e in evs if e["unit"] == "crash" and e["event"] == "exited"]
    assert ex and ex[0]["reason"] == "crash" and ex[0]["code"] == 3, evs

    h = p.ok("events", "-n", "all")
    lines = h.stdout.splitlines()
    assert len(lines) == len(evs), h.stdout
    for line in lines:
        assert HUMAN_EVENT.fullmatch(line), line
    assert any(re.search(r" crash: exited .*reason=crash", l) for l in lines)
    two = p.ok("events", "--json", "-n", "2").stdout.splitlines()
    assert [json.loads(l) for l in two] == evs[-2:]

    follow = p.start("events", "-f", "--json", "-n", "0")
    wait_following(follow)
    assert follow.stdout == ""
    p.ok("restart", "web", "--wait")
    new = p.unit("web")["pid"]
    assert new != web
    wait_until(lambda: [e for e in parse_events(follow.stdout)
                        if e["event"] == "spawned" and e.get("pid") == new],
               what="the spawned event live\n" + follow.describe())
    live = parse_events(follow.stdout)
    assert [e["event"] for e in live if e["unit"] == "web"][0] in (
        "stopping", "exited"), live
    assert len(live) == len(follow.stdout.splitlines())
    follow.stop()


# --- 10, 11. what the daemon costs -------------------------------------------

def test_idle_daemon_does_not_wake_up(project):
    p = project("[service a]\nexec = sleep 600\n\n"
                "[service b]\nexec = sleep 600\n")
    p.up()
    time.sleep(1.5)
    # What one status request costs: its own wakeups, and the trim of the
    # heap a quiet second after it (malloc_trim), counted by the next.
    w1 = p.daemon()["wakeups"]
    time.sleep(1.5)
    w2 = p.daemon()["wakeups"]
    cost = w2 - w1
    time.sleep(10)
    w3 = p.daemon()["wakeups"]
    assert w3 - w2 <= max(3, cost), \
        "the idle daemon woke up %d times in 10 s (a status request costs %d)" \
        % (w3 - w2, cost)


def code_resident(pid):
    """(KiB resident, KiB mapped) of PID's own executable's code and
    read-only data (its mappings of /proc/PID/exe that are not writable)."""
    exe = os.readlink("/proc/%d/exe" % pid)
    rss = size = 0
    mine = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                mine = len(parts) >= 6 and parts[5] == exe and "w" not in parts[1]
            elif mine and parts[0] == "Rss:":
                rss += int(parts[1])
            elif mine and parts[0] == "Size:":
                size += int(parts[1])
    return rss, size


def test_daemon_and_keeper_at_rest_give_back_the_code_of_their_start(project):
    """At the first rest after the boot the daemon unmaps the code that ran
    once (the parser, the spawns, a status), and the keeper after its first
    spawns: what stays mapped is about their idle loops (containment.md).
    Before, the daemon kept about 80% of its binary's code mapped, the
    keeper about 45%."""
    p = project("".join("[service s%d]\nexec = sleep 600\n\n" % i
                        for i in range(20)))
    p.up()
    d = p.daemon()
    daemon, keeper = d["pid"], d["keeper"]["pid"]
    deadline = time.monotonic() + T_SHORT
    while True:
        (dr, ds), (kr, ks) = code_resident(daemon), code_resident(keeper)
        if (dr < 0.5 * ds and kr < 0.33 * ks) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert dr < 0.5 * ds, "daemon: %d of %d KiB of code resident" % (dr, ds)
    assert kr < 0.33 * ks, "keeper: %d of %d KiB of code resident" % (kr, ks)
    # and they still work: a restart, a status
    p.ok("restart", "s3", "--wait")
    assert p.unit("s3")["state"] == "running"


def wait_restarts(p, name, n, timeout):
    return wait_until(lambda: p.unit(name)["restarts"] >= n, timeout,
                      interval=0.2, what="%d restarts of %s" % (n, name))


def test_memory_and_fds_flat_over_many_restarts(tend, project):
    env = dict(tend.env)
    san = is_sanitized()
    if san:
        # Freed memory sits in ASan's quarantine: no flat line to see.
        # Leaks are LeakSanitizer's job when the daemon exits.
        env["ASAN_OPTIONS"] = "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    runs = 600 if san else 2000
    p = project("""\
[tend]
log-max = 16K

[service a]
exec = sleep 600

[service crasher]
exec = /bin/false
backoff = 0
max-crashes = 5000/1s
start = on-demand
""", env=env)
    p.up()
    # warm up, then measure with the crasher stopped each time
    p.ok("start", "crasher")
    wait_restarts(p, "crasher", 200, T_LONG)
    p.ok("stop", "crasher")
    d0 = p.daemon()
    r0 = p.unit("crasher")["restarts"]
    t0 = time.monotonic()
    p.ok("start", "crasher")
    wait_restarts(p, "crasher", r0 + runs, 90)   # generous: a loaded machine
    p.ok("stop", "crasher")
    elapsed = time.monotonic() - t0
    d1 = p.daemon()
    c = p.unit("crasher")
    assert c["state"] == "stopped", c
    assert d1["fds"] == d0["fds"], (d0, d1)
    grow = d1["mem_bytes"] - d0["mem_bytes"]
    limit = (4 << 20) if san else (1 << 20)
    assert grow <= limit, ("the daemon grew by %d bytes over %d restarts "
                           "(%.1fs): %s -> %s" % (grow, c["restarts"] - r0,
                                                  elapsed, d0, d1))
    assert p.unit("a")["restarts"] == 0
    # thousands of events: events.log rotates like the unit logs
    files = sorted(f.name for f in p.statedir.glob("events.log*"))
    assert files == ["events.log", "events.log.1", "events.log.2",
                     "events.log.3"], files
    for f in files:
        size = (p.statedir / f).stat().st_size
        assert size <= (16 << 10) + 300, (f, size)
    last = [json.loads(l) for l in
            p.ok("events", "--json", "-n", "3").stdout.splitlines()]
    assert len(last) == 3 and last[-1]["unit"] == "crasher", last
