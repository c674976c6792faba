"""Health probes, readiness (ready = notify | health | socket), sd_notify
and the watchdog, with real services, sockets and datagrams."""
import os
import signal
import socket
import time

from conftest import BIN, PY, T_LONG, T_SHORT, alive, wait_until

NOTIFY = str(BIN / "notify.py")


def notify_env(d, timeout=T_SHORT):
    """NOTIFY_SOCKET and WATCHDOG_USEC the (last) notify.py got."""
    wait_until(lambda: list(d.glob("*.env")), timeout, what="notify.py env file")
    f = max(d.glob("*.env"), key=lambda p: p.stat().st_mtime)
    sock, usec = (f.read_text().split("\n") + ["", ""])[:2]
    return sock, usec


def send(addr, msg):
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(msg.encode(), addr)
    finally:
        s.close()


def silent_server():
    """A loopback listener that accepts (the kernel does, from its backlog)
    and never answers: every HTTP probe against it hangs."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def test_hanging_probe_restarts_after_strikes_and_status_stays_prompt(project):
    srv = silent_server()
    port = srv.getsockname()[1]
    try:
        p = project("[service api]\nexec = sleep 600\n"
                    "health = http://127.0.0.1:%d/health\n"
                    "health-interval = 200ms\nhealth-timeout = 500ms\n"
                    "health-strikes = 3\nhealth-grace = 0\nbackoff = 10s..10s\n\n"
                    "[service other]\nexec = sleep 600\n" % port)
        p.up()
        first = p.unit("api")["pid"]
        # While probes hang, the daemon answers at once, again and again.
        slowest = 0.0
        t_end = time.monotonic() + 1.2
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            p.ok("status")
            slowest = max(slowest, time.monotonic() - t0)
        assert slowest < 1.0, "status took %.2f s while a probe hung" % slowest
        u = p.unit("api")
        assert u["health"] is not None and u["health"]["ok"] is False, u
        assert "timed out after 500ms" in u["health"]["detail"], u
        hf = p.wait_event("health_failed")
        assert hf["strikes"] == 3 and "timed out" in hf["detail"], hf
        ex = p.wait_event("exited", unit="api")
        assert ex["reason"] == "health", ex
        wait_until(lambda: not alive(first), T_SHORT, what="the old run gone")
        st = p.unit("api")
        assert st["state"] == "backoff" and st["last_exit"]["reason"] == "health", st
        # the other service never noticed
        assert p.unit("other")["state"] == "running"
        assert not [e for e in p.events() if e["unit"] == "other" and
                    e["event"] == "exited"]
    finally:
        srv.close()


def test_exec_probe_that_hangs_is_killed_and_leaves_nothing(project, tmp_path):
    mark = tmp_path / "probe-pids"
    mark.mkdir()
    p = project("[service s]\nexec = sleep 600\n"
                "health = exec:sh -c 'echo $$ > %s/$$; exec sleep 1000'\n"
                "health-interval = 100ms\nhealth-timeout = 300ms\n"
                "health-strikes = 2\nhealth-grace = 0\nrestart = never\n" % mark)
    p.up()
    p.wait_event("health_failed")
    ex = p.wait_event("exited")
    assert ex["reason"] == "health"
    pids = [int(f.name) for f in mark.iterdir()]
    assert len(pids) >= 2
    wait_until(lambda: not any(alive(x) for x in pids), T_SHORT,
               what="every probe command gone")
    # the probes were never counted as the service's processes
    assert p.unit("s")["state"] == "failed"


def test_passing_probes_keep_the_service(project):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    try:
        port = srv.getsockname()[1]
        p = project("[service s]\nexec = sleep 600\nhealth = tcp:127.0.0.1:%d\n"
                    "health-interval = 100ms\nhealth-grace = 0\n" % port)
        p.up()
        wait_until(lambda: (p.unit("s")["health"] or {}).get("ok") is True,
                   T_SHORT, what="a passing check")
        time.sleep(1.0)
        u = p.unit("s")
        assert u["state"] == "running" and u["restarts"] == 0, u
        assert u["health"]["strikes"] == 0 and "127.0.0.1" in u["health"]["detail"]
    finally:
        srv.close()


def test_health_grace_ignores_early_failures(project):
    p = project("[service s]\nexec = sleep 600\nhealth = tcp:127.0.0.1:1\n"
                "health-interval = 100ms\nhealth-strikes = 1\nhealth-grace = 3s\n")
    p.up()
    time.sleep(1.0)
    assert p.unit("s")["state"] == "running"
    assert not [e for e in p.events() if e["event"] == "health_failed"]
    p.wait_event("health_failed")


def test_ready_notify_gates_up_and_status_text_shows(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    p = project("[service n]\nexec = %s %s %s --ready-after 1.5 --from-child "
                "--status 'index loaded, 42 files'\nready = notify\n" % (PY, NOTIFY, d))
    t0 = time.monotonic()
    p.up()
    took = time.monotonic() - t0
    assert took >= 1.4, "up -d returned after %.2f s, before READY=1" % took
    u = p.unit("n")
    assert u["state"] == "running", u
    assert u["status_text"] == "index loaded, 42 files", u
    ev = p.wait_event("ready")
    assert ev["how"] == "notify" and ev["after_ms"] >= 1400, ev
    sock, usec = notify_env(d)
    assert sock.startswith("/") and sock.endswith(".n.notify"), sock
    assert usec == ""   # no watchdog asked for
    table = p.ok("status").stdout
    assert "status: index loaded, 42 files" in table, table


def test_starting_until_ready(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    p = project("[service n]\nexec = %s %s %s --ready-after 2\nready = notify\n"
                % (PY, NOTIFY, d))
    t = p.start("up", "-d")
    wait_until(lambda: p.run("status").rc == 0, T_SHORT, what="the daemon")
    wait_until(lambda: p.unit("n")["state"] == "starting", T_SHORT, what="starting")
    assert t.proc.poll() is None, "up -d returned while starting"
    t.wait(T_LONG)
    assert t.rc == 0, t.describe()
    assert p.unit("n")["state"] == "running"


def test_forged_datagram_is_ignored(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    p = project("[service n]\nexec = %s %s %s\nready = notify\n"
                "start-timeout = 1m\n" % (PY, NOTIFY, d))
    t = p.start("up", "-d")
    sock, _ = notify_env(d)
    wait_until(lambda: p.run("status").rc == 0, T_SHORT, what="the daemon")
    # This test process is no process of the unit's tree.
    send(sock, "READY=1\nSTATUS=forged")
    time.sleep(0.5)
    u = p.unit("n")
    assert u["state"] == "starting" and u["status_text"] is None, u
    assert p.daemon()["notify_ignored"] >= 1
    assert t.proc.poll() is None, "up -d believed a forged READY=1"
    p.ok("stop", "n")
    t.wait(T_LONG)
    assert t.rc == 1, t.describe()


def test_missed_watchdog_restarts(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    p = project("[service n]\nexec = %s %s %s --ready-after 0 --ping 0.1 "
                "--ping-for 1.5\nready = notify\nwatchdog = 600ms\n"
                "backoff = 10s..10s\n" % (PY, NOTIFY, d))
    p.up()
    pid = p.unit("n")["pid"]
    _, usec = notify_env(d)
    assert usec == "600000"
    time.sleep(1.0)   # pinging: alive
    assert p.unit("n")["pid"] == pid
    ex = p.wait_event("exited")
    assert ex["reason"] == "watchdog", ex
    assert ex["uptime_ms"] >= 1500, ex
    st = p.wait_event("stopping", reason="watchdog")
    assert "WATCHDOG=1" in st["message"]
    wait_until(lambda: not alive(pid), T_SHORT, what="the old run gone")


def test_watchdog_trigger_and_stopping(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    # STOPPING=1: the service drains; its missing pings are not held
    # against it.
    p = project("[service drain]\nexec = %s %s %s --ready-after 0 --ping 0.1 "
                "--ping-for 0.5 --stopping-after 0.3\nready = notify\n"
                "watchdog = 400ms\n\n"
                "[service trig]\nexec = %s %s %s --ready-after 0 --trigger-after 0.5\n"
                "ready = notify\nwatchdog = 1h\nrestart = never\n"
                % (PY, NOTIFY, d, PY, NOTIFY, d))
    p.up()
    ex = p.wait_event("exited", unit="trig")
    assert ex["reason"] == "watchdog"
    p.wait_event("stopping", unit="drain", reason="notify")
    time.sleep(1.0)
    assert p.unit("drain")["state"] == "running"
    assert not [e for e in p.events() if e["unit"] == "drain" and
                e["event"] == "exited"]


def test_start_wait_fails_when_the_service_dies_before_ready(project, tmp_path):
    p = project("[service bad]\nexec = sh -c 'sleep 0.3; exit 3'\nready = notify\n"
                "start = on-demand\nrestart = never\n\n"
                "[service slow]\nexec = sleep 600\nready = notify\n"
                "start-timeout = 700ms\nrestart = never\nstart = on-demand\n")
    p.up()
    t = p.run("start", "--wait", "bad")
    assert t.rc == 1, t.describe()
    assert "ended before it was ready" in t.stderr and "code 3" in t.stderr, t.stderr
    t0 = time.monotonic()
    t = p.run("start", "--wait", "slow")
    assert t.rc == 1, t.describe()
    assert time.monotonic() - t0 < 5
    assert "timeout" in t.stderr, t.stderr
    st = p.wait_event("stopping", unit="slow", reason="timeout")
    assert "start-timeout 700ms" in st["message"]


def test_up_detached_reports_a_service_never_ready(project):
    p = project("[service never]\nexec = sleep 600\nready = notify\n"
                "start-timeout = 500ms\nrestart = never\n\n"
                "[service fine]\nexec = sleep 600\n")
    t = p.run("up", "-d")
    assert t.rc == 1, t.describe()
    assert 'service "never" ended before it was ready' in t.stderr, t.stderr
    assert p.unit("fine")["state"] == "running"


def test_ready_socket_waits_for_the_backend(project, tmp_path):
    # ready = socket: the backend accepts connections (part 4 proxies to it).
    port_sock = socket.socket()
    port_sock.bind(("127.0.0.1", 0))
    port = port_sock.getsockname()[1]
    port_sock.close()
    lport_sock = socket.socket()
    lport_sock.bind(("127.0.0.1", 0))
    lport = lport_sock.getsockname()[1]
    lport_sock.close()
    p = project("[service web]\nexec = sh -c 'sleep 1; exec %s -m http.server %d "
                "--bind 127.0.0.1'\nlisten = tcp:127.0.0.1:%d\n"
                "backend = tcp:127.0.0.1:%d\nstart = boot\n" % (PY, port, lport, port))
    t0 = time.monotonic()
    p.up()
    assert time.monotonic() - t0 >= 0.9
    assert p.unit("web")["state"] == "running"
    ev = p.wait_event("ready")
    assert ev["how"] == "socket"


def test_restart_wait_returns_when_the_new_run_is_ready(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    p = project("[service n]\nexec = %s %s %s --ready-after 1\nready = notify\n"
                % (PY, NOTIFY, d))
    p.up()
    first = p.unit("n")["pid"]
    t0 = time.monotonic()
    t = p.ok("restart", "--wait", "n")
    assert time.monotonic() - t0 >= 0.9, "restart --wait returned before READY=1"
    u = p.unit("n")
    assert u["state"] == "running" and u["pid"] != first, u
    assert len([e for e in p.events() if e["event"] == "ready"]) == 2
    assert t.rc == 0


STATUS_SAYER = r"""
import os, socket, sys, time
d = sys.argv[1]
runs = len(os.listdir(d)) + 1
open(os.path.join(d, "run%d" % runs), "w").close()
addr = os.environ["NOTIFY_SOCKET"]
addr = "\0" + addr[1:] if addr.startswith("@") else addr
def say(m):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(m.encode(), addr)
    s.close()
if runs == 1:
    say("STATUS=" + "x" * 300 + "y")
    while not os.path.exists(os.path.join(d, "clear")):
        time.sleep(0.05)
    say("STATUS=")
    while not os.path.exists(os.path.join(d, "again")):
        time.sleep(0.05)
    say("STATUS=old")
time.sleep(600)
"""


def test_status_text_is_cut_cleared_and_each_runs_own(project, tmp_path):
    """A STATUS= is kept to its first 255 bytes, an empty one clears it
    (null), and a new run starts without the last run's (the text is held
    only while a run says one)."""
    d = tmp_path / "s"
    d.mkdir()
    script = tmp_path / "say.py"
    script.write_text(STATUS_SAYER)
    p = project("[service n]\nexec = %s %s %s\nbackoff = 0\n" % (PY, script, d))
    p.up()
    wait_until(lambda: p.unit("n")["status_text"] is not None, T_SHORT,
               what="the STATUS=")
    assert p.unit("n")["status_text"] == "x" * 255
    (d / "clear").write_text("")
    wait_until(lambda: p.unit("n")["status_text"] is None, T_SHORT,
               what="the empty STATUS= to clear it")
    (d / "again").write_text("")
    wait_until(lambda: p.unit("n")["status_text"] == "old", T_SHORT,
               what="a text again")
    # a new run (it says nothing): the last run's text is not its
    main = p.unit("n")["pid"]
    os.kill(main, signal.SIGKILL)
    wait_until(lambda: p.unit("n")["pid"] not in (None, main) and
               p.unit("n")["state"] == "running", T_SHORT, what="the next run")
    time.sleep(0.3)
    assert p.unit("n")["status_text"] is None, p.unit("n")
