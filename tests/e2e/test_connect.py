"""tend connect: stdio sharing (stdio = exclusive, per-client) against real
services, clients and signals."""
import array
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time

from conftest import BIN, PY, field, T_LONG, T_SHORT, TEND_BIN, alive, wait_until

LINES = "%s %s" % (PY, BIN / "lines.py")
CLIENT = BIN / "connect_client.py"


def connect(p, reaper, name, *, stdin=subprocess.PIPE):
    """A running `tend connect NAME` with pipes for stdin, stdout, stderr."""
    proc = subprocess.Popen([TEND_BIN, "-c", str(p.ini), "connect", name],
                            env=p.env, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    reaper.track(proc)
    return proc


def say(proc, data, answer=True):
    """Writes DATA to PROC's stdin; returns the next line of its stdout
    (decoded), or None without ANSWER."""
    proc.stdin.write(data)
    proc.stdin.flush()
    return proc.stdout.readline().decode() if answer else None


def talk(p, reaper, name, data, timeout=T_LONG):
    """Runs tend connect NAME with DATA as its whole stdin: (rc, out, err)."""
    proc = connect(p, reaper, name)
    out, err = proc.communicate(data, timeout=timeout)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")



def spawns(p, name):
    return [e for e in p.events() if e["event"] == "spawned" and e["unit"] == name]


def units(p):
    return {u["name"]: u for u in p.status()}


# --- exclusive ------------------------------------------------------------

def test_spawn_storm_of_connects_on_a_cold_system(project, reaper, tend):
    """200 concurrent tend connect, no daemon running, the service not
    started: one daemon, one instance, every client its own answer."""
    p = project("[service svc]\nexec = %s --delay 0.3\nstdio = exclusive\n"
                "queue-timeout = 120s\n" % LINES)
    assert p.run("status").rc == 3   # cold: no daemon
    n = 200
    procs = [connect(p, reaper, "svc") for _ in range(n)]
    results = [None] * n

    def run(i):
        try:
            out, err = procs[i].communicate(b"c%d\n" % i, timeout=120)
            results[i] = (procs[i].returncode, out.decode(), err.decode())
        except subprocess.TimeoutExpired as e:
            results[i] = (None, "", repr(e))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    bad = [(i, r) for i, r in enumerate(results) if r is None or r[0] != 0]
    assert not bad, "%d failed, e.g. %s" % (len(bad), bad[:3])
    got = [r[1].splitlines() for r in results]
    assert all(len(g) == 1 for g in got), [g for g in got if len(g) != 1][:3]
    assert sorted(field(g[0], "got") for g in got) == sorted("c%d" % i for i in range(n))
    assert len({field(g[0], "pid") for g in got}) == 1
    assert len(spawns(p, "svc")) == 1
    daemons = [x for x in reaper.tagged() if alive(x) and
               open("/proc/%d/comm" % x).read().strip() == "tend"]
    assert daemons == [p.daemon_pid()], daemons


def test_lines_arrive_whole_and_in_order_and_10mb_passes_intact(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = exclusive\n" % LINES)
    big = b"echo:" + os.urandom(5 * 1024 * 1024).hex().encode()   # 10 MiB
    data = b"".join(b"m%d\n" % i for i in range(2000)) + big + b"\n" + b"last\n"
    rc, out, err = talk(p, reaper, "svc", data)
    assert rc == 0, err
    lines = out.encode().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == 2002, len(lines)
    assert [field(l.decode(), "got") for l in lines[:2000]] == ["m%d" % i for i in range(2000)]
    assert hashlib.sha256(lines[2000]).digest() == hashlib.sha256(big).digest()
    assert field(lines[2001].decode(), "got") == "last"
    assert field(lines[2001].decode(), "n") == "2002"


def test_exclusive_one_client_at_a_time_then_a_clear_queue_timeout(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = exclusive\n"
                "queue-timeout = 1s\n" % LINES)
    a = connect(p, reaper, "svc")
    first = say(a, b"from-a\n")
    assert field(first, "got") == "from-a"
    u = p.wait_unit("svc", clients=1, queued=0)
    assert u["state"] == "running"
    b = connect(p, reaper, "svc")
    say(b, b"from-b\n", answer=False)
    p.wait_unit("svc", clients=1, queued=1)
    t0 = time.monotonic()
    out, err = b.communicate(timeout=T_SHORT)
    took = time.monotonic() - t0
    assert b.returncode == 1, (out, err)
    assert out == b""                        # B never reached the service
    assert b"queue-timeout 1s" in err and err.count(b"\n") == 1, err
    assert took < 5, took
    # A still has the service, and the same instance.
    second = say(a, b"again\n")
    assert field(second, "got") == "again" and field(second, "pid") == field(first, "pid")
    out, err = a.communicate(timeout=T_SHORT)
    assert a.returncode == 0, err
    # The next client gets the same instance, which counts on (B's line
    # never reached it).
    rc, out, err = talk(p, reaper, "svc", b"c\n")
    assert rc == 0, err
    assert field(out, "pid") == field(first, "pid") and field(out, "n") == "3"


def test_service_exit_makes_connect_fail_with_a_message(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = exclusive\n"
                "restart = never\n" % LINES)
    # The client keeps its stdin open: only the service's exit can end the
    # session (after EOF, a quiet answer would end it first, rightly).
    a = connect(p, reaper, "svc")
    say(a, b"hello\nexit:3\n", answer=False)
    a.wait(T_LONG)
    rc = a.returncode
    out, err = a.stdout.read().decode(), a.stderr.read().decode()
    a.stdin.close()
    assert rc == 1, (out, err)
    assert out.splitlines()[1] == "bye", out
    assert "ended while connected (crash, exit code 3)" in err, err
    assert err.count("\n") == 1, err


def test_a_new_client_starts_a_service_that_gave_up(project, reaper):
    """stdio = exclusive: a service that gave up (max-crashes) is started
    again, with a new crash budget, by the next new client (event woke,
    from failed)."""
    p = project("[service svc]\nexec = /bin/sh -c 'exit 3'\nstdio = exclusive\n"
                "max-crashes = 1/1m\nbackoff = 10ms..10ms\n")
    a = connect(p, reaper, "svc")
    a.wait(T_LONG)
    assert a.returncode == 1
    p.wait_event("gave_up", unit="svc")
    b = connect(p, reaper, "svc")
    b.wait(T_LONG)
    woke = p.wait_event("woke", unit="svc", **{"from": "failed"})
    assert woke["crash_budget"] == "new", woke
    assert len([e for e in p.events() if e["event"] == "spawned"]) >= 3


def test_client_leaving_mid_line_restarts_the_shared_instance(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = exclusive\n" % LINES)
    rc, out, _ = talk(p, reaper, "svc", b"one\n")
    pid = field(out, "pid")
    a = connect(p, reaper, "svc")
    say(a, b"half a requ", answer=False)
    p.wait_unit("svc", clients=1)
    a.kill()
    a.wait(T_SHORT)
    # The next client does not see "half a requ" glued to its line.
    rc, out, err = talk(p, reaper, "svc", b"whole\n")
    assert rc == 0, err
    assert field(out, "got") == "whole" and field(out, "n") == "1", out
    assert field(out, "pid") != pid


def test_idle_stop_keeps_the_session_and_its_input_wakes_the_service(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = exclusive\n"
                "idle-stop = 1s\n" % LINES)
    a = connect(p, reaper, "svc")
    first = say(a, b"first\n")
    t0 = time.monotonic()
    p.wait_event("idle_stop", unit="svc")
    took = time.monotonic() - t0
    assert 0.8 <= took <= 5, took
    u = p.wait_unit("svc", state="idle", clients=1)
    assert u["pid"] is None
    second = say(a, b"second\n")
    assert field(second, "got") == "second", second
    assert field(second, "pid") != field(first, "pid")
    assert p.wait_event("woke", unit="svc")["by"] == "connect"
    out, err = a.communicate(timeout=T_SHORT)
    assert a.returncode == 0, err


# --- per-client -----------------------------------------------------------

def instance_units(p):
    return [u for u in p.status() if u.get("instance")]


def test_per_client_instances_are_fresh_capped_and_end_with_eof(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = per-client\n"
                "max-instances = 2\nqueue-timeout = 1s\n" % LINES)
    a, b = connect(p, reaper, "svc"), connect(p, reaper, "svc")
    pids = []
    for c in (a, b):
        pids.append(field(say(c, b"x\n"), "pid"))
    assert pids[0] != pids[1]
    assert len(instance_units(p)) == 2
    # A third waits for a free instance, then says why it gave up.
    rc, out, err = talk(p, reaper, "svc", b"y\n", timeout=T_SHORT)
    assert rc == 1 and "max-instances 2" in err, err
    # EOF: the instance ends (cleanly), and so does tend connect.
    out, err = a.communicate(timeout=T_SHORT)
    assert a.returncode == 0, err
    wait_until(lambda: not alive(int(pids[0])), what="instance A to end")
    rc, out, err = talk(p, reaper, "svc", b"z\n")
    assert rc == 0 and field(out, "got") == "z", err
    b.communicate(timeout=T_SHORT)
    wait_until(lambda: not instance_units(p), what="instances to go")
    u = p.unit("svc")
    assert u["clients"] == 0 and u["queued"] == 0 and u["state"] == "stopped"


def start_client(p, reaper):
    """connect_client.py running tend connect svc, with an instance tree
    made: (client, connect_pid, [instance pids])."""
    c = subprocess.Popen([PY, str(CLIENT), TEND_BIN, "-c", str(p.ini),
                          "connect", "svc"], env=p.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, start_new_session=True)
    reaper.track(c)
    connect_pid = int(field(c.stdout.readline().decode(), "connect"))
    reaper.track_pid(connect_pid)
    line = say(c, b"tree\n")
    tree = [int(field(line, k)) for k in ("pid", "child", "grandchild")]
    assert all(alive(x) for x in tree)
    return c, connect_pid, tree


def gone_within(pids, seconds):
    wait_until(lambda: not any(alive(x) for x in pids), seconds,
               what="%s to be gone" % pids)


def test_per_client_instance_dies_with_a_killed_client(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = per-client\n" % LINES)
    c, connect_pid, tree = start_client(p, reaper)
    os.kill(c.pid, signal.SIGKILL)
    c.wait(T_SHORT)
    gone_within(tree, 1.5)
    wait_until(lambda: not alive(connect_pid), what="tend connect to exit")
    wait_until(lambda: not instance_units(p), what="the instance to go")


def test_per_client_instance_dies_with_a_killed_tend_connect(project, reaper):
    p = project("[service svc]\nexec = %s\nstdio = per-client\n" % LINES)
    c, connect_pid, tree = start_client(p, reaper)
    os.kill(connect_pid, signal.SIGKILL)
    gone_within(tree, 1.5)
    wait_until(lambda: not instance_units(p), what="the instance to go")
    # The client sees the end of its server's output.
    assert c.stdout.readline() == b"server-eof\n"
    c.kill()
    c.wait(T_SHORT)


def test_per_client_instance_that_ignores_eof_is_stopped(project, reaper):
    p = project("[service svc]\nexec = %s --ignore-eof\nstdio = per-client\n"
                "stop-timeout = 1s\n" % LINES)
    rc, out, err = talk(p, reaper, "svc", b"x\n")
    pid = int(field(out, "pid"))
    assert rc == 1 and "ended while connected (stopped" in err, err
    assert not alive(pid)


# --- bad requests ---------------------------------------------------------

def test_connect_refuses_what_it_cannot_serve(project, reaper):
    p = project("[service plain]\nexec = sleep 600\nstart = on-demand\n"
                "[service svc]\nexec = %s\nstdio = exclusive\n" % LINES)
    rc, out, err = talk(p, reaper, "nope", b"")
    assert rc == 2 and 'no service named "nope"' in err, err
    rc, out, err = talk(p, reaper, "plain", b"")
    assert rc == 2 and "has no stdio to connect to" in err, err
    assert err.count("\n") == 1
    t = p.run("connect")
    assert t.rc == 2 and "which service" in t.stderr
    t = p.run("connect", "svc", "extra")
    assert t.rc == 2 and 'unexpected argument "extra"' in t.stderr
    # A service that cannot start: the client hears why.
    p.write("[service svc]\nexec = /nonexistent/prog\nstdio = exclusive\n")
    p.ok("reload")
    rc, out, err = talk(p, reaper, "svc", b"x\n")
    assert rc == 1 and "No such file or directory" in err, err


def test_descriptors_on_the_control_socket_are_checked_and_never_leak(project):
    p = project("[service svc]\nexec = %s\nstdio = exclusive\n" % LINES)
    p.up()
    fds_before = p.daemon()["fds"]

    def ask(line, fds=()):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(T_SHORT)
            s.connect(str(p.sock))
            s.sendmsg([line.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                         array.array("i", fds))] if fds else [])
            return json.loads(s.makefile().readline())
    r = ask('{"cmd":"connect","name":"svc"}\n')
    assert r["ok"] is False and r["exit"] == 2 and "got 0" in r["error"], r
    rfd, wfd = os.pipe()
    try:
        # Descriptors that come with another request are closed with it.
        for _ in range(20):
            assert ask('{"cmd":"ping"}\n', (rfd, wfd))["ok"] is True
        r = ask('{"cmd":"connect","name":"svc"}\n', (rfd,))
        assert r["ok"] is False and "got 1" in r["error"], r
        # Three: the third is closed at once, the connect gets two.
        r = ask('{"cmd":"connect","name":"nope"}\n', (rfd, wfd, rfd))
        assert r["ok"] is False and 'no service named "nope"' in r["error"], r
    finally:
        os.close(rfd)
        os.close(wfd)
    wait_until(lambda: p.daemon()["fds"] == fds_before,
               what="the daemon's fds back to %d (now %d)"
               % (fds_before, p.daemon()["fds"]))
