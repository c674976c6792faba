"""Held sockets (listen =): socket activation with LISTEN_FDS, the proxy to
a backend, idle stop and wake, against real sockets and services."""
import os
import socket
import stat
import threading
import time

from conftest import BIN, PY, field, T_LONG, T_SHORT, alive, wait_until

ACTIVATED = "%s %s" % (PY, BIN / "activated.py")
BACKEND = "%s %s" % (PY, BIN / "backend.py")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ask(addr, line="hi", timeout=T_SHORT):
    """Connects to ADDR ((host, port) or a unix path), sends LINE, returns
    the first line of the answer ('' when the connection just closes)."""
    fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(addr)
        s.sendall((line + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            data += b
        return data.decode()



def spawns(p, name):
    return [e for e in p.events() if e["event"] == "spawned" and e["unit"] == name]


# --- socket activation ------------------------------------------------------

def test_activation_passes_sockets_from_fd3_and_starts_on_first_client(project, tmp_path):
    port = free_port()
    path = str(tmp_path / "svc.sock")
    p = project("[service svc]\nexec = %s\nlisten = tcp:127.0.0.1:%d\n"
                "listen = unix:%s\n" % (ACTIVATED, port, path))
    p.up()
    # On demand: bound, but nothing runs until a client comes.
    assert p.unit("svc")["state"] == "stopped"
    assert not spawns(p, "svc")
    a = ask(("127.0.0.1", port), "one")
    assert field(a, "got") == "one", a
    assert field(a, "fds") == "2" and field(a, "names") == "svc:svc", a
    pid = int(field(a, "pid"))
    assert p.unit("svc")["pid"] == pid
    woke = p.wait_event("woke")
    assert woke["unit"] == "svc" and woke["by"] == "listen", woke
    # The unix socket reaches the same process; mode 0600 by default.
    assert int(field(ask(path, "two"), "pid")) == pid
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(spawns(p, "svc")) == 1


def test_activated_service_that_exits_cleanly_is_idle_and_wakes_again(project):
    port = free_port()
    p = project("[service svc]\nexec = %s --idle-exit 0.5\n"
                "listen = tcp:127.0.0.1:%d\nrestart = always\n" % (ACTIVATED, port))
    p.up()
    first = int(field(ask(("127.0.0.1", port)), "pid"))
    ev = p.wait_event("idle_stop")
    assert ev["reason"] == "exited", ev
    u = p.wait_unit("svc", state="idle")
    assert u["pid"] is None and not alive(first)
    # Not a crash, and no restart of its own: it waits for a client.
    time.sleep(0.5)
    assert len(spawns(p, "svc")) == 1
    assert p.unit("svc")["state"] == "idle"
    second = int(field(ask(("127.0.0.1", port), "again"), "pid"))
    assert second != first
    woke = p.wait_event("woke", n=2)
    assert woke["from"] == "idle", woke


def test_port_in_use_fails_up_with_a_clear_message(project):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        p = project("[service web]\nexec = %s\nlisten = tcp:127.0.0.1:%d\n"
                    % (ACTIVATED, port))
        t = p.run("up", "-d")
        assert t.rc != 0, t.describe()
        err = t.stderr
        assert "web" in err and "tcp:127.0.0.1:%d" % port in err, err
        assert "in use" in err, err
        assert "tend.ini:3" in err, err   # the line of the listen key
        assert len(err.strip().splitlines()) == 1, err
        assert not p.candidates()
    finally:
        taken.close()


def test_stale_unix_socket_is_replaced_and_a_live_one_is_not(project, tmp_path):
    path = str(tmp_path / "s.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()          # the file stays: a dead daemon's socket
    p = project("[service svc]\nexec = %s\nlisten = unix:%s\n"
                "listen-mode = 0660\n" % (ACTIVATED, path))
    p.up()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert field(ask(path, "x"), "got") == "x"
    p.ok("down")
    assert not os.path.exists(path), "tend down leaves its socket file"
    live = socket.socket(socket.AF_UNIX)
    live.bind(path)
    live.listen(1)
    try:
        t = p.run("up", "-d")
        assert t.rc != 0 and "in use" in t.stderr, t.describe()
        assert os.path.exists(path)   # somebody else's: left alone
    finally:
        live.close()


def test_a_regular_file_in_the_way_is_not_removed(project, tmp_path):
    path = tmp_path / "notasock"
    path.write_text("precious")
    p = project("[service svc]\nexec = %s\nlisten = unix:%s\n" % (ACTIVATED, path))
    t = p.run("up", "-d")
    assert t.rc != 0 and "not a socket" in t.stderr, t.describe()
    assert path.read_text() == "precious"


# --- proxy ------------------------------------------------------------------

def test_proxy_holds_clients_until_the_backend_accepts(project):
    port, bport = free_port(), free_port()
    p = project("[service api]\nexec = %s tcp:127.0.0.1:%d --delay 0.5\n"
                "listen = tcp:127.0.0.1:%d\nbackend = tcp:127.0.0.1:%d\n"
                % (BACKEND, bport, port, bport))
    p.up()
    assert p.unit("api")["state"] == "stopped"
    t0 = time.monotonic()
    a = ask(("127.0.0.1", port), "first")
    took = time.monotonic() - t0
    assert field(a, "got") == "first", a
    assert took >= 0.4, "answered in %.2f s, before the backend listened" % took
    ready = p.wait_event("ready")
    assert ready["how"] == "socket", ready
    assert int(field(a, "pid")) == p.unit("api")["pid"]


def test_proxy_spawn_storm_starts_one_instance_and_answers_everyone(project):
    port, bport = free_port(), free_port()
    p = project("[service api]\nexec = %s tcp:127.0.0.1:%d --delay 0.3\n"
                "listen = tcp:127.0.0.1:%d\nbackend = tcp:127.0.0.1:%d\n"
                % (BACKEND, bport, port, bport))
    p.up()
    answers, errors = [], []

    def client(i):
        try:
            answers.append(ask(("127.0.0.1", port), "c%d" % i, timeout=T_LONG))
        except OSError as e:
            errors.append(repr(e))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T_LONG)
    assert not errors, errors[:5]
    assert len(answers) == 200
    pids = {field(a, "pid") for a in answers}
    assert len(pids) == 1, pids
    assert sorted(field(a, "got") for a in answers) == sorted("c%d" % i for i in range(200))
    assert len(spawns(p, "api")) == 1


def test_backend_that_never_comes_up_closes_held_clients_cleanly(project):
    port, bport = free_port(), free_port()
    p = project("[service api]\nexec = sleep 600\nlisten = tcp:127.0.0.1:%d\n"
                "backend = tcp:127.0.0.1:%d\nstart-timeout = 1s\n"
                "backoff = 5s..5s\n" % (port, bport))
    p.up()
    t0 = time.monotonic()
    with socket.socket() as s:
        s.settimeout(T_SHORT)
        s.connect(("127.0.0.1", port))
        s.sendall(b"hello\n")
        assert s.recv(100) == b""   # a clean close, not a reset
    took = time.monotonic() - t0
    assert 0.8 <= took <= 5, "held for %.2f s with start-timeout 1s" % took
    u = p.wait_unit("api", state="backoff")
    assert u["last_exit"]["reason"] == "timeout", u


def test_idle_stop_on_time_while_health_probes_run_then_wake(project):
    port, bport = free_port(), free_port()
    p = project("[service api]\nexec = %s tcp:127.0.0.1:%d\n"
                "listen = tcp:127.0.0.1:%d\nbackend = tcp:127.0.0.1:%d\n"
                "health = tcp:127.0.0.1:%d\nhealth-interval = 100ms\n"
                "health-grace = 0\nidle-stop = 1500ms\n"
                % (BACKEND, bport, port, bport, bport))
    p.up()
    first = int(field(ask(("127.0.0.1", port)), "pid"))
    t_last = time.monotonic()
    # An open but silent connection is no activity either.
    silent = socket.create_connection(("127.0.0.1", port))
    try:
        wait_until(lambda: p.unit("api")["health"] is not None, T_SHORT,
                   what="a health check")
        ev = p.wait_event("idle_stop", timeout=T_SHORT)
        idle_at = time.monotonic()
        assert ev["unit"] == "api" and ev["idle_ms"] >= 1500, ev
        assert idle_at - t_last < 1500 / 1000 + 2.0, "idle stop came late"
        u = p.wait_unit("api", state="idle")
        assert u["pid"] is None
        wait_until(lambda: not alive(first), T_SHORT, what="the service to go")
        # Idle costs nothing: no process, and it stays idle.
        time.sleep(0.3)
        assert p.unit("api")["state"] == "idle"
    finally:
        silent.close()
    a = ask(("127.0.0.1", port), "wake")
    assert field(a, "got") == "wake", a
    assert int(field(a, "pid")) != first
    woke = [e for e in p.events() if e["event"] == "woke"]
    assert woke[-1]["from"] == "idle", woke


def test_reload_binds_new_addresses_and_a_taken_one_fails_the_reload(project):
    port, port2 = free_port(), free_port()
    text = "[service svc]\nexec = %s\nlisten = tcp:127.0.0.1:%d\n" % (ACTIVATED, port)
    p = project(text)
    p.up()
    assert field(ask(("127.0.0.1", port), "a"), "got") == "a"
    p.write(text + "listen = tcp:127.0.0.1:%d\n" % port2)
    p.ok("reload")
    assert field(ask(("127.0.0.1", port2), "b"), "got") == "b"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        p.write(text + "listen = tcp:127.0.0.1:%d\n" % taken.getsockname()[1])
        t = p.run("reload")
        assert t.rc == 2 and "in use" in t.stderr, t.describe()
        # The running settings stay: both old addresses still answer.
        assert field(ask(("127.0.0.1", port), "c"), "got") == "c"
        assert field(ask(("127.0.0.1", port2), "d"), "got") == "d"
    finally:
        taken.close()


def test_failed_activated_service_turns_clients_away_cleanly(project):
    port = free_port()
    p = project("[service svc]\nexec = sh -c 'exit 3'\nlisten = tcp:127.0.0.1:%d\n"
                "restart = never\n" % port)
    p.up()
    assert ask(("127.0.0.1", port)) == ""    # starts it; it fails
    u = p.wait_unit("svc", state="failed")
    assert u["last_exit"]["code"] == 3, u
    for _ in range(3):   # each next client: a clean close at once
        t0 = time.monotonic()
        assert ask(("127.0.0.1", port)) == ""
        assert time.monotonic() - t0 < 2
    assert len(spawns(p, "svc")) == 1
    assert p.unit("svc")["state"] == "failed"


def test_idle_service_costs_nothing(project):
    from conftest import ctx_switches
    port, bport = free_port(), free_port()
    p = project("[service api]\nexec = %s tcp:127.0.0.1:%d\n"
                "listen = tcp:127.0.0.1:%d\nbackend = tcp:127.0.0.1:%d\n"
                "idle-stop = 300ms\n" % (BACKEND, bport, port, bport))
    p.up()
    ask(("127.0.0.1", port))
    p.wait_unit("api", state="idle")
    daemon = p.daemon_pid()
    time.sleep(0.3)
    before = ctx_switches(daemon)
    time.sleep(2)
    after = ctx_switches(daemon)
    assert after - before <= 2, "the daemon woke %d times in 2 s with its " \
        "only service idle" % (after - before)


def test_proxy_to_a_unix_backend_passes_large_data_intact(project, tmp_path):
    port = free_port()
    bpath = str(tmp_path / "backend.sock")
    p = project("[service echo]\nexec = %s unix:%s --mode echo\n"
                "listen = tcp:127.0.0.1:%d\nbackend = unix:%s\n"
                % (BACKEND, bpath, port, bpath))
    p.up()
    payload = os.urandom(10 * 1024 * 1024)
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=T_LONG) as s:
        def send():
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)   # EOF goes through to the backend
        t = threading.Thread(target=send)
        t.start()
        while True:
            b = s.recv(1 << 16)
            if not b:
                break       # and the backend's EOF comes back
            got += b
        t.join(T_LONG)
    assert len(got) == len(payload) and bytes(got) == payload
    u = p.unit("echo")
    assert u["clients"] == 0 and u["held"] == 0, u


def _accept_relayed(lsock, timeout):
    """The backend side of a relayed connection: the first connection to
    LSOCK that carries a byte (tend's readiness probes connect and close
    without one).  Returns (socket, that byte)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lsock.settimeout(max(0.1, end - time.monotonic()))
        c, _ = lsock.accept()
        c.settimeout(max(0.1, end - time.monotonic()))
        b = c.recv(1)
        if b:
            return c, b
        c.close()
    raise AssertionError("no relayed connection reached the backend")


def _second_write_delay(src, dst):
    """After a few quick exchanges, SRC writes a byte and, once DST has it,
    another: seconds from the second write to DST having it.  The quick
    answers put DST's end in interactive mode, where Linux delays the ACK
    of what is not answered at once (up to 40 ms; a missed delayed ACK
    ends that mode, hence the exchanges before each try).  With Nagle on
    the relaying socket the second byte waits for that ACK."""
    for _ in range(3):
        src.sendall(b"q")
        assert dst.recv(1) == b"q"
        dst.sendall(b"r")
        assert src.recv(1) == b"r"
    src.sendall(b"a")
    assert dst.recv(1) == b"a"
    t0 = time.monotonic()
    src.sendall(b"b")
    assert dst.recv(1) == b"b"
    return time.monotonic() - t0


def test_proxy_forwards_small_writes_at_once_both_ways(project):
    """TCP_NODELAY on both of tend's sockets: a small write that follows
    one not yet acknowledged goes on at once, as on a direct connection,
    instead of waiting for the peer's delayed ACK."""
    port = free_port()
    backend = socket.socket()
    backend.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    backend.bind(("127.0.0.1", 0))
    backend.listen(16)
    bport = backend.getsockname()[1]
    p = project("[service api]\nexec = sleep 600\n"
                "listen = tcp:127.0.0.1:%d\nbackend = tcp:127.0.0.1:%d\n"
                % (port, bport))
    p.up()
    client = socket.create_connection(("127.0.0.1", port), timeout=T_SHORT)
    try:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sendall(b"x")
        conn, first = _accept_relayed(backend, T_SHORT)
        assert first == b"x"
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ab = sorted(_second_write_delay(client, conn) for _ in range(5))
            ba = sorted(_second_write_delay(conn, client) for _ in range(5))
    finally:
        client.close()
        backend.close()
    # Nagle would make each of them ~40 ms; the median tells.
    assert ab[2] < 0.015, "client -> backend, second small write took %s s" % ab
    assert ba[2] < 0.015, "backend -> client, second small write took %s s" % ba


def test_relayed_traffic_keeps_the_service_up_and_idle_stop_follows_it(project):
    """Bytes through the proxy are the service's activity: a line every
    200 ms for 3 s (three times idle-stop) keeps it running; then, the
    connection open but silent, it stops idle-stop after the last byte."""
    port, bport = free_port(), free_port()
    p = project("[service api]\nexec = %s tcp:127.0.0.1:%d\n"
                "listen = tcp:127.0.0.1:%d\nbackend = tcp:127.0.0.1:%d\n"
                "idle-stop = 1s\n" % (BACKEND, bport, port, bport))
    p.up()
    with socket.create_connection(("127.0.0.1", port), timeout=T_SHORT) as s:
        f = s.makefile("rb")
        pid = None
        end = time.monotonic() + 3
        i = 0
        while time.monotonic() < end:
            s.sendall(b"l%d\n" % i)
            a = f.readline().decode()
            assert field(a, "got") == "l%d" % i, a
            pid = pid or int(field(a, "pid"))
            assert int(field(a, "pid")) == pid, a
            last = time.monotonic()
            i += 1
            time.sleep(0.2)
        assert not [e for e in p.events() if e["event"] == "idle_stop"]
        assert p.unit("api")["pid"] == pid
        ev = p.wait_event("idle_stop", timeout=T_SHORT)
        took = time.monotonic() - last
        assert ev["idle_ms"] >= 1000, ev
        assert 0.9 <= took <= 1 + 2.0, "idle stop %.2f s after the last byte" % took
