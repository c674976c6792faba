"""The control socket, spoken to directly: JSON lines, errors that keep the
connection usable, and clients that misbehave (huge lines, never reading,
a thousand at once, another uid) costing the others nothing."""
import json
import os
import resource
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import PY, T_LONG, T_SHORT, is_sanitized, wait_until

SAN = is_sanitized()
# Freed memory stays in ASan's quarantine: the "memory comes back" checks
# are for the plain build (leaks are LeakSanitizer's, at the daemon's exit).
CHECK_MEM = not SAN


class Conn:
    """One connection to the control socket."""

    def __init__(self, path, timeout=T_SHORT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        # With a timeout the socket is non-blocking underneath: a full
        # listen backlog is EAGAIN, not a wait.  Wait here.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s.connect(str(path))
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.s.close()
                    raise
                time.sleep(0.005)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        """The next line (bytes, without newline), or None at EOF."""
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self):
        line = self.line()
        assert line is not None, "the daemon closed the connection"
        r = json.loads(line)
        assert isinstance(r, dict) and isinstance(r.get("ok"), bool), r
        return r

    def request(self, req):
        """Sends REQ (a dict, or raw bytes without the newline); returns
        the reply."""
        data = req if isinstance(req, bytes) else json.dumps(req).encode()
        self.send(data + b"\n")
        return self.reply()

    def eof(self, timeout=T_SHORT):
        """Reads to the end: True when the daemon closed the connection."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def sock_path(p):
    """The one *.sock in $XDG_RUNTIME_DIR/tend."""
    socks = [f for f in p.rundir.iterdir() if f.name.endswith(".sock")]
    assert len(socks) == 1, socks
    return socks[0]


def pinged(path):
    """Is a ping answered ok (not "too many connections")?"""
    c = Conn(path)
    try:
        return c.request({"cmd": "ping"})["ok"] is True
    finally:
        c.close()


def ping(path):
    c = Conn(path)
    try:
        r = c.request({"cmd": "ping"})
    finally:
        c.close()
    assert r["ok"] is True, r
    return r


def daemon_status(path):
    """The daemon's own status element, over a fresh connection."""
    c = Conn(path)
    try:
        r = c.request({"cmd": "status"})
    finally:
        c.close()
    assert r["ok"] is True, r
    assert r["units"][0]["kind"] == "daemon", r
    return r["units"][0]


def assert_error(r, code=2):
    assert r["ok"] is False, r
    assert r["exit"] == code, r
    assert isinstance(r["error"], str) and r["error"] and "\n" not in r["error"]


CONF = """\
[service a]
exec = sleep 600

[service b]
exec = sleep 600
start = on-demand

[job j]
exec = true
"""


@pytest.fixture
def served(project):
    """A running daemon: (project, socket path)."""
    p = project(CONF)
    p.up()
    return p, sock_path(p)


# --- 14. the protocol ------------------------------------------------------

def test_ping_status_and_commands(served):
    p, path = served
    c = Conn(path)
    r = c.request({"cmd": "ping"})
    assert r["ok"] is True and r["pid"] == p.daemon_pid(), r
    assert r["config"] == str(p.ini.resolve())
    assert isinstance(r["version"], str)

    r = c.request({"cmd": "status"})
    assert r["ok"] is True
    names = [u["name"] for u in r["units"]]
    assert names == ["tend", "a", "b", "j"], names
    r = c.request({"cmd": "status", "name": "a"})
    assert [u["name"] for u in r["units"]] == ["a"], r
    assert_error(c.request({"cmd": "status", "name": "nosuch"}))

    # several requests in one write: one reply each, in order
    c.send(b'{"cmd":"ping"}\n{"cmd":"status","name":"b"}\n{"cmd":"ping"}\n')
    r1, r2, r3 = c.reply(), c.reply(), c.reply()
    assert r1["ok"] and "pid" in r1 and r3["ok"] and "pid" in r3, (r1, r3)
    assert [u["name"] for u in r2["units"]] == ["b"], r2

    r = c.request({"cmd": "start", "name": "b", "wait": True})
    assert r["ok"] is True, r
    assert p.unit("b")["state"] == "running"
    r = c.request({"cmd": "stop", "name": "b"})
    assert r["ok"] is True, r
    assert p.unit("b")["state"] == "stopped"
    old = p.unit("a")["pid"]
    r = c.request({"cmd": "restart", "name": "a", "wait": True})
    assert r["ok"] is True, r
    assert p.unit("a")["pid"] not in (None, old)
    assert_error(c.request({"cmd": "start", "name": "nosuch"}))
    assert_error(c.request({"cmd": "start", "name": "j"}))
    r = c.request({"cmd": "reload"})
    assert r["ok"] is True, r
    assert c.request({"cmd": "ping"})["ok"]
    c.close()


BAD_REQUESTS = [
    b"hello",
    b"",
    b"{",
    b'{"cmd": "ping"',
    b"[]",
    b'"ping"',
    b"null",
    b"{}",
    b'{"cmd": "fly"}',
    b'{"cmd": 5}',
    b'{"cmd": "ping", "x": 1}',
    b'{"cmd": "ping", "name": "a", "wait": true, "extra": null}',
    b'{"cmd": "start", "name": 5}',
    b'{"cmd": "start", "name": "a", "wait": "yes"}',
    b'{"cmd": "start"}',
    b'{"cmd": "ping"} {"cmd": "ping"}',
    b'\xff\xfe\xfd',
    b'{"cmd": "ping\x00"}',
    b'{"cmd": "ping", "cmd": "down"}',
]


def test_bad_requests_get_an_error_and_the_connection_stays(served):
    p, path = served
    c = Conn(path)
    pid = p.daemon_pid()
    for bad in BAD_REQUESTS:
        c.send(bad + b"\n")
        line = c.line()
        assert line is not None, "closed after %r" % bad
        r = json.loads(line)
        assert r.get("ok") is False and r.get("exit") == 2, (bad, r)
        assert isinstance(r.get("error"), str) and r["error"], (bad, r)
        assert c.request({"cmd": "ping"})["ok"], bad
    c.close()
    assert p.daemon_pid() == pid
    assert p.unit("a")["state"] == "running"
    assert p.unit("b")["state"] == "stopped", "no bad request started b"


def test_half_a_line_then_close(served):
    p, path = served
    for _ in range(20):
        c = Conn(path)
        c.send(b'{"cmd": "sta')
        c.close()
    c = Conn(path)
    c.send(b'{"cmd": "ping"')  # no newline, and the client is done: the
    c.s.shutdown(socket.SHUT_WR)  # request is what came, answered
    assert c.eof(), "the daemon closes a connection whose client is done"
    line, rest = c.buf.split(b"\n", 1)
    assert_error(json.loads(line))
    assert rest == b"", c.buf
    c.close()
    ping(path)
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the connections to be closed")


def test_huge_line_is_refused_and_the_daemon_goes_on(served):
    p, path = served
    d0 = daemon_status(path)
    c = Conn(path, timeout=T_LONG)
    chunk = b"x" * (1 << 20)
    sent = 0
    broken = None
    try:
        while sent < 100 << 20:
            c.s.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError) as e:
        broken = e
    except socket.timeout:
        pytest.fail("the daemon neither read nor closed (sent %d bytes)" % sent)
    assert broken is not None, \
        "the daemon took a 100 MB line without closing the connection"
    assert sent < 8 << 20, sent
    line = c.line()  # an error reply, unless the reset lost it
    if line is not None:
        r = json.loads(line)
        assert_error(r)
        assert "65536" in r["error"] or "long" in r["error"], r
        assert c.line() is None
    c.close()
    ping(path)
    d1 = daemon_status(path)
    assert d1["pid"] == d0["pid"]
    wait_until(lambda: daemon_status(path)["fds"] == d0["fds"],
               what="the daemon's fds to come back to %d" % d0["fds"])
    if CHECK_MEM:
        assert d1["mem_bytes"] - d0["mem_bytes"] < 2 << 20, (d0, d1)


def test_client_that_never_reads_is_dropped(project):
    # Status replies of a few KiB: 16 MiB of them pile up in a few thousand
    # requests, which take the daemon a few seconds.
    units = "".join("[service s%03d-%s]\nexec = sleep 600\nstart = on-demand\n\n"
                    % (i, "x" * 56) for i in range(50))
    p = project(units)
    p.up()
    path = sock_path(p)
    d0 = daemon_status(path)
    other = Conn(path, timeout=T_LONG)
    assert other.request({"cmd": "ping"})["ok"]
    hog = Conn(path, timeout=T_LONG)
    result = {}

    def flood():
        req = b'{"cmd":"status"}\n' * 16
        n = 0
        try:
            while n < 200000:
                hog.s.sendall(req)
                n += 16
        except (BrokenPipeError, ConnectionResetError) as e:
            result["dropped"] = e
        except socket.timeout:
            result["timeout"] = True
        result["at"] = time.monotonic()
        result["sent"] = n

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    # Meanwhile another client is served.
    answered, deadline = [], time.monotonic() + 90
    while th.is_alive() and time.monotonic() < deadline:
        t0 = time.monotonic()
        assert other.request({"cmd": "ping"})["ok"]
        answered.append((time.monotonic(), time.monotonic() - t0))
        time.sleep(0.01)
    th.join(T_LONG)
    hog.close()
    assert not th.is_alive(), "the flood did not end"
    assert "dropped" in result, ("a client that never reads was not dropped",
                                 result)
    during = [lat for at, lat in answered if at < result["at"]]
    assert len(during) >= 2, ("pings answered while the hog flooded: %s "
                              "(dropped after %d requests)"
                              % (answered, result["sent"]))
    worst = max(lat for at, lat in answered)
    assert worst < 2.5, "a ping took %.1fs while a client did not read" % worst
    assert other.request({"cmd": "ping"})["ok"]
    other.close()
    ping(path)
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the hog's connection to be gone")
    d1 = daemon_status(path)
    assert d1["fds"] == d0["fds"], (d0, d1)
    if CHECK_MEM:
        assert d1["mem_bytes"] - d0["mem_bytes"] < 4 << 20, (d0, d1)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, n))
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    return soft, hard


def test_a_thousand_connections(served):
    p, path = served
    old = raise_nofile(1500)
    conns = []
    try:
        d0 = daemon_status(path)
        for _ in range(1000):
            conns.append(Conn(path, timeout=T_LONG))
        # The connections past the limit get an error line and are closed;
        # the others get nothing until they ask.
        poller = select.poll()
        byfd = {}
        for c in conns:
            poller.register(c.s.fileno(), select.POLLIN)
            byfd[c.s.fileno()] = c
        ready, last, deadline = set(), -1, time.monotonic() + T_LONG
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            for fd, ev in poller.poll(100):
                ready.add(fd)
            if len(ready) != last:
                last, stable_since = len(ready), time.monotonic()
            elif time.monotonic() - stable_since > 1.0:
                break
        # Each one past the limit took the place of the oldest (none had
        # sent a request): the oldest were told so and closed.
        refused = [byfd[fd] for fd in ready]
        kept = [c for c in conns if c.s.fileno() not in ready]
        for c in refused:
            line = c.line()
            assert line is not None, "closed without an error line"
            r = json.loads(line)
            assert r["ok"] is False and "256" in r["error"], r
            assert c.line() is None, "a refused connection is closed"
        assert len(kept) == 256 and len(refused) == 744, \
            (len(kept), len(refused))
        # the daemon serves every connection it kept, while they are open
        for c in kept:
            c.send(b'{"cmd":"ping"}\n')
        for c in kept:
            assert c.reply()["ok"] is True
        r = kept[0].request({"cmd": "status"})
        assert r["units"][0]["clients"] == 256, r["units"][0]
        # a newcomer is served: the connection idle the longest makes room
        extra = Conn(path)
        assert extra.request({"cmd": "ping"})["ok"] is True
        extra.close()
        gone = [c for c in kept[1:]
                if select.select([c.s], [], [], 0)[0]]
        assert len(gone) == 1, len(gone)
        r = json.loads(gone[0].line())
        assert r["ok"] is False and "longest" in r["error"], r
    finally:
        for c in conns:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    # Until the daemon has seen the 1000 go (its backlog may still hold
    # some), a newcomer may be told to try again: it does.
    wait_until(lambda: pinged(path), what="a ping to be answered")
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the daemon to close its side of every connection")
    d1 = daemon_status(path)
    assert d1["fds"] == d0["fds"], (d0, d1)
    if CHECK_MEM:
        assert d1["mem_bytes"] - d0["mem_bytes"] < 2 << 20, (d0, d1)
    assert p.unit("a")["state"] == "running"


def test_out_of_descriptors_refuses_without_spinning(served):
    p, path = served
    d0 = daemon_status(path)
    pid = d0["pid"]
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    limit = d0["fds"] + 8
    conns = []
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, old[1]))
        keeper = Conn(path)
        assert keeper.request({"cmd": "ping"})["ok"]
        for _ in range(40):
            conns.append(Conn(path))
        time.sleep(0.5)
        errors = []
        for c in conns:
            c.s.setblocking(False)
            try:
                data = c.s.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            errors.append(data)
        assert errors, "no connection was refused at %d descriptors" % limit
        for e in errors:
            if e:
                r = json.loads(e.split(b"\n")[0])
                assert r["ok"] is False and "descriptor" in r["error"], r
        w1 = keeper.request({"cmd": "status"})["units"][0]["wakeups"]
        time.sleep(2)
        w2 = keeper.request({"cmd": "status"})["units"][0]["wakeups"]
        assert w2 - w1 <= 10, "the daemon spun: %d wakeups in 2 s" % (w2 - w1)
        keeper.close()
    finally:
        for c in conns:
            c.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the connections to close")
    assert daemon_status(path)["fds"] == d0["fds"]


# --- slow clients and refusals (issue 20: 7, 8, 11) --------------------------

REQUEST_S = 5          # SERVER_REQUEST_MS: first byte of a request to its newline


def test_drippers_do_not_lock_out_the_cli(served):
    """256 connections that each send one byte every 2 s: the owner's tend
    status still gets through at once, and every dripper is closed with an
    error line once its request has taken longer than the deadline."""
    p, path = served
    old = raise_nofile(1500)
    drippers = []
    try:
        d0 = daemon_status(path)
        for _ in range(256):
            drippers.append(Conn(path, timeout=T_LONG))
        req = b'{"cmd":"status"}\n'
        open_ = list(drippers)
        t0 = time.monotonic()
        checked = None
        for i in range(len(req)):
            for c in list(open_):
                try:
                    c.s.send(req[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    open_.remove(c)
            if i == 0:
                # every slot holds a request begun: the CLI still gets in
                s0 = time.monotonic()
                t = p.run("status", timeout=T_LONG)
                checked = time.monotonic() - s0
                assert t.rc == 0, t.describe()
                assert "tend" in t.stdout, t.stdout
            if not open_ or time.monotonic() - t0 > REQUEST_S + 6:
                break
            time.sleep(2)
        assert checked < 5, "tend status took %.1fs among drippers" % checked
        # Each is closed by now, or soon, with one error line.
        deadline = time.monotonic() + T_LONG
        lines = []
        for c in drippers:
            c.s.settimeout(max(0.1, deadline - time.monotonic()))
            line = c.line()
            assert line is not None, "a dripper was closed without a word"
            r = json.loads(line)
            assert r["ok"] is False, r
            assert c.line() is None, "a dripper's connection stayed open"
            lines.append(r["error"])
        late = [e for e in lines if "not complete within %d s" % REQUEST_S in e]
        made_room = [e for e in lines if "longest" in e]
        assert len(late) + len(made_room) == 256, set(lines)
        assert len(made_room) <= 2, made_room   # tend status's connection
        assert time.monotonic() - t0 < REQUEST_S + T_SHORT
    finally:
        for c in drippers:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the drippers' connections to be gone")
    assert daemon_status(path)["fds"] == d0["fds"]
    assert p.unit("a")["state"] == "running"


def test_idle_connections_make_room_for_the_cli(served):
    p, path = served
    old = raise_nofile(1500)
    conns = []
    try:
        for _ in range(256):
            conns.append(Conn(path, timeout=T_LONG))
        for _ in range(3):
            t = p.run("status", "a", timeout=T_LONG)
            assert t.rc == 0, t.describe()
        # the three oldest made room, each told why
        told = [c for c in conns if select.select([c.s], [], [], 0)[0]]
        assert 1 <= len(told) <= 3, len(told)
        for c in told:
            r = json.loads(c.line())
            assert r["ok"] is False and r["exit"] == 1, r
            assert "longest" in r["error"] and "reconnect" in r["error"], r
            assert c.line() is None
        assert set(told) <= set(conns[:3]), "not the oldest made room"
    finally:
        for c in conns:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def cli_refusals(p, n, args=("status",)):
    """Runs tend ARGS N times: their (rc, stderr)."""
    out = []
    for _ in range(n):
        t = p.run(*args, timeout=T_LONG)
        out.append((t.rc, t.stderr))
    return out


def assert_refused_lines(results, words):
    for rc, err in results:
        assert "Broken pipe" not in err and "cannot talk" not in err, \
            (rc, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (rc, err)
        assert rc == 1, (rc, err)


JOB_CONF = CONF + """
[job long]
exec = sleep 600
"""


def test_slots_full_refusal_reaches_the_cli(project):
    """Every slot waits for an answer (256 x run --wait): a newcomer is
    refused, and tend prints the daemon's line and exits 1, never 'Broken
    pipe' and 3."""
    p = project(JOB_CONF)
    p.up()
    path = sock_path(p)
    old = raise_nofile(1500)
    waiting = []
    try:
        for _ in range(256):
            c = Conn(path, timeout=T_LONG)
            # the ping's answer says the run request behind it was read
            c.send(b'{"cmd":"ping"}\n{"cmd":"run","name":"long","wait":true}\n')
            waiting.append(c)
        for c in waiting:
            assert c.reply()["ok"] is True

        def full():
            c = Conn(path)
            try:
                line = c.line()
            finally:
                c.close()
            return line is not None and b"too many" in line
        wait_until(full, timeout=T_LONG, what="every slot to wait")
        assert_refused_lines(cli_refusals(p, 20), "too many connections")
        # a request that brings descriptors (tend connect) likewise
        assert_refused_lines(cli_refusals(p, 5, ("connect", "a")),
                             "too many connections")
        for c in waiting:
            assert select.select([c.s], [], [], 0)[0] == [], \
                "a connection waiting for an answer was closed"
    finally:
        for c in waiting:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    wait_until(lambda: pinged(path), what="a ping to be answered")


def test_out_of_descriptors_refusal_reaches_the_cli(served):
    p, path = served
    d0 = daemon_status(path)
    pid = d0["pid"]
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    conns = []
    try:
        # no descriptor left but the spare one, to refuse with
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (d0["fds"], old[1]))
        while True:
            assert len(conns) < 50, "no connection was refused"
            conns.append(Conn(path))
            conns[-1].s.settimeout(0.5)
            try:
                line = conns[-1].s.recv(4096)
            except socket.timeout:
                continue
            assert b"out of file descriptors" in line, line
            break
        results = cli_refusals(p, 10)
    finally:
        for c in conns:
            c.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    assert_refused_lines(results, "out of file descriptors")
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the connections to close")


def test_request_without_newline_then_half_close_is_answered(served):
    p, path = served
    c = Conn(path)
    c.send(b'{"cmd":"ping"}')
    c.s.shutdown(socket.SHUT_WR)
    r = c.reply()
    assert r["ok"] is True and r["pid"] == p.daemon_pid(), r
    assert c.eof() and c.buf == b"", c.buf
    c.close()
    # after other requests, and one that is answered later (--wait)
    c = Conn(path, timeout=T_LONG)
    c.send(b'{"cmd":"ping"}\n{"cmd":"start","name":"b","wait":true}')
    c.s.shutdown(socket.SHUT_WR)
    assert c.reply()["ok"] is True
    r = c.reply()
    assert r["ok"] is True and r["state"] == "running", r
    assert c.eof() and c.buf == b"", c.buf
    c.close()
    # the same through a pipe to a program that ends its input
    sock = shutil.which("socat")
    if sock:
        out = subprocess.run([sock, "-t", "5", "-", "UNIX-CONNECT:%s" % path],
                             input=b'{"cmd":"status","name":"a"}',
                             capture_output=True, timeout=T_LONG)
        r = json.loads(out.stdout)
        assert r["units"][0]["name"] == "a", r
    wait_until(lambda: daemon_status(path)["clients"] == 1,
               what="the connections to close")


# --- 15. privacy -------------------------------------------------------------

NOBODY_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
data = b""
try:
    s.sendall(b'{"cmd":"ping"}\n')
except OSError:
    pass
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError as e:
    sys.stderr.write("recv: %s\n" % e)
sys.stdout.write(data.decode(errors="replace"))
"""


def test_other_uids_are_refused(tend, project):
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another uid")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    # A runtime directory that uid nobody can reach (tmp_path cannot be).
    base = tempfile.mkdtemp(prefix="tend-e2e-run-", dir="/tmp")
    try:
        os.chmod(base, 0o711)
        env = dict(tend.env, XDG_RUNTIME_DIR=base)
        p = project(CONF, env=env)
        p.up()
        path = sock_path(p)
        rundir = path.parent
        assert stat.S_IMODE(rundir.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        os.chmod(rundir, 0o711)
        os.chmod(path, 0o666)
        try:
            r = subprocess.run(
                ["setpriv", "--reuid=nobody", "--regid=nogroup",
                 "--clear-groups", PY, "-c", NOBODY_CLIENT, str(path)],
                capture_output=True, timeout=T_LONG, env=env)
        finally:
            os.chmod(path, 0o600)
            os.chmod(rundir, 0o700)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, r
        lines = out.splitlines()
        assert len(lines) == 1, ("one error line, then closed", out, r.stderr)
        reply = json.loads(lines[0])
        assert reply["ok"] is False and "uid" in reply["error"], reply
        assert "pid" not in reply
        # root is still served
        assert ping(path)["pid"] == p.daemon_pid()
        assert p.unit("a")["state"] == "running"
        assert p.shutdown() == []
    finally:
        shutil.rmtree(base, ignore_errors=True)
