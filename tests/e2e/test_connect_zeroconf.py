"""tend connect -- CMD: zero-configuration sharing (docs/mcp.md, "Zero
configuration").  No tend.ini anywhere: every client reaches the user's
default daemon (ID "default", started on demand), which makes one shared
`stdio = mcp` service per command line, working directory, flags and
environment (without the variables that vary per terminal), and forgets it
once it has been idle without clients.

The server is the scriptable fake (bin/mcp_server.py, whose tool `env`
reports its environment and working directory) and the real server-memory
of tests/mcp (make mcp-deps)."""
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (BIN, KEEPER, PY, T_LONG, T_SHORT, TEND_BIN, alive, comm,
                      environ_has, keeper_of, proc_stat, wait_until)
from mcpwire import Client, ServerLog, result

SERVER = str(BIN / "mcp_server.py")
MCP = Path(__file__).resolve().parent.parent / "mcp"
MEMORY = MCP / "node_modules" / "@modelcontextprotocol" / "server-memory" / \
    "dist" / "index.js"


class Zero:
    """The test's user: no tend.ini anywhere, the default daemon."""

    def __init__(self, tend, tmp_path, reaper, env, workdir):
        self.tend = tend
        self.reaper = reaper
        self.workdir = workdir
        self.dir = tmp_path / "mcp"
        self.piddir = self.dir / "pids"
        self.piddir.mkdir(parents=True)
        reaper.track_dir(self.piddir)
        self.log = ServerLog(self.dir / "server.log")
        self.env = dict(env, MCP_LOG=str(self.log.path),
                        MCP_RUNS=str(self.dir / "runs"),
                        MCP_PIDDIR=str(self.piddir))
        self.user_ini = Path(env["XDG_CONFIG_HOME"]) / "tend" / "tend.ini"
        self.rundir = Path(env["XDG_RUNTIME_DIR"]) / "tend"
        self.statedir = Path(env["XDG_STATE_HOME"]) / "tend" / "default"
        self.n = 0

    # clients
    def client(self, *flags, env=None, cwd=None, init=True, cmd=None,
               label=None):
        self.n += 1
        e = dict(self.env)
        e.update(env or {})
        args = list(flags) + ["--"] + (cmd or [PY, SERVER])
        c = Client(None, self.reaper, label=label or "c%d" % self.n,
                   args=args, env=e, cwd=cwd or self.workdir)
        if init:
            c.initialize()
        return c

    def runs(self):
        """Pids of the fake server's processes, in start order."""
        try:
            return [int(x) for x in (self.dir / "runs").read_text().split()]
        except FileNotFoundError:
            return []

    # tend, without -c, from the working directory
    def run(self, *args, env=None, cwd=None, timeout=T_LONG):
        return self.tend.run(*args, env=dict(self.env, **(env or {})),
                             cwd=cwd or self.workdir, timeout=timeout)

    def status(self):
        t = self.run("status", "--json")
        assert t.rc == 0, t.describe()
        return json.loads(t.stdout)

    def units(self):
        return {u["name"]: u for u in self.status()["units"]}

    def events(self):
        try:
            text = (self.statedir / "events.log").read_text()
        except FileNotFoundError:
            return []
        return [json.loads(l) for l in text.splitlines() if l.strip()]

    def wait_event(self, event, n=1, timeout=T_LONG, **match):
        found = []

        def seen():
            found[:] = [e for e in self.events() if e["event"] == event and
                        all(e.get(k) == v for k, v in match.items())]
            return len(found) >= n
        wait_until(seen, timeout, what="%d x %s %s; events: %s" % (
            n, event, match, self.events()[-20:]))
        return found[n - 1]

    def sockets(self):
        if not self.rundir.is_dir():
            return []
        return sorted(f.name for f in self.rundir.iterdir()
                      if f.name.endswith(".sock"))

    def daemon_pid(self):
        try:
            return int((self.rundir / "default.lock").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def tend_daemons(self, clients=()):
        """Live tend processes of this test that are neither one of
        CLIENTS (tend connect) nor a keeper (its comm is another): daemons."""
        needle = ("TEND_E2E_TAG=" + self.reaper.tag).encode()
        out = []
        for pid in (int(n) for n in os.listdir("/proc") if n.isdigit()):
            if pid in clients or not alive(pid) or comm(pid) != "tend":
                continue
            if environ_has(pid, needle):
                out.append(pid)
        return out

    def down(self):
        pid = self.daemon_pid()
        t = self.run("down")
        problems = [] if t.rc == 0 else ["tend down: %s" % t.describe()]
        if pid and alive(pid):
            try:
                wait_until(lambda: not alive(pid), T_SHORT, what="the daemon to end")
            except AssertionError:
                problems.append("daemon %d still alive after tend down" % pid)
                os.kill(pid, 9)
        log = self.statedir / "daemon.log"
        if log.exists() and "Sanitizer" in log.read_text(errors="replace"):
            problems.append("sanitizer report:\n" + log.read_text()[-4000:])
        return problems


@pytest.fixture
def zero(tend, tmp_path, reaper, tend_env, workdir):
    z = Zero(tend, tmp_path, reaper, tend_env, workdir)
    yield z
    problems = z.down()
    assert not problems, "\n".join(problems)


def call(c, name, args=None):
    return result(c.call(name, args or {}, timeout=T_LONG))


def server_env(c, *names):
    return call(c, "env", {"names": list(names)})


def end(c):
    c.close()
    assert c.wait(T_LONG) == 0, c.describe()


def one_line_error(t):
    lines = t.stderr_lines()
    assert len(lines) == 1, t.describe()
    assert lines[0].startswith("tend: connect: "), t.describe()
    return lines[0]


# --- no file ---------------------------------------------------------------

def test_no_tend_ini_anywhere_works_and_shows_a_readable_name(zero, tmp_path):
    assert not zero.user_ini.exists()
    assert not list(tmp_path.rglob("tend.ini"))
    c = zero.client()
    assert call(c, "echo", {"x": 1}) == {"x": 1}
    assert zero.sockets() == ["default.sock"]

    st = zero.status()
    daemon, units = st["daemon"], st["units"]
    assert daemon["default"] is True and daemon["file"] is False, daemon
    assert daemon["config"] == str(zero.user_ini)
    assert [u["name"] for u in units] == ["mcp_server.py"]
    u = units[0]
    assert u["connect"] is True and u["state"] == "running", u
    assert u["command"] == "%s %s" % (PY, SERVER)
    assert u["cwd"] == str(zero.workdir)
    assert u["clients"] == 1 and u["procs"] >= 1 and u["mem_bytes"] > 0, u

    human = zero.run("status")
    assert human.rc == 0 and "mcp_server.py" in human.stdout, human.describe()
    assert "command: %s %s (tend connect" % (PY, SERVER) in human.stdout
    assert "default daemon pid" in human.stdout

    created = zero.wait_event("created", unit="mcp_server.py")
    assert created["by"] == "connect" and created["cwd"] == str(zero.workdir)
    zero.wait_event("spawned", unit="mcp_server.py")
    ev = zero.run("events")
    assert "mcp_server.py: created by=connect" in ev.stdout, ev.describe()
    logs = wait_until(lambda: "fake: pid=" in zero.run("logs", "mcp_server.py").stdout
                      and zero.run("logs", "mcp_server.py"), what="the server's log")
    assert "run=1 started" in logs.stdout
    every = zero.run("logs")
    assert "mcp_server.py | fake: pid=" in every.stdout, every.describe()
    end(c)


def test_every_directory_reaches_the_default_daemon_not_its_tend_ini(
        zero, tmp_path):
    """./tend.ini is some project's: tend connect -- CMD does not use it."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "tend.ini").write_text("[service other]\nexec = /bin/sleep 60\n")
    a = zero.client()
    b = zero.client(cwd=proj)
    assert call(b, "env")["cwd"] == str(proj)      # the client's directory
    assert call(a, "env")["cwd"] == str(zero.workdir)
    assert zero.sockets() == ["default.sock"]
    # another working directory is another server
    assert len(zero.runs()) == 2
    names = sorted(zero.units())
    assert names[0] == "mcp_server.py" and names[1].startswith("mcp_server.py-"), names
    # tend status in the project directory is the project's (no daemon)
    t = zero.run("status", cwd=proj)
    assert t.rc == 3, t.describe()
    end(a)
    end(b)


# --- one daemon, one server --------------------------------------------------

def test_ten_concurrent_clients_one_daemon_one_server(zero):
    assert zero.sockets() == []
    clients = [zero.client(init=False) for _ in range(10)]
    for c in clients:
        c.request("initialize", {"protocolVersion": "2025-06-18",
                                 "capabilities": {},
                                 "clientInfo": {"name": c.label, "version": "0"}},
                  mid="init")
    for c in clients:
        assert "result" in c.response("init", T_LONG)[0]
        c.notify("notifications/initialized")
    for n, c in enumerate(clients):
        assert call(c, "echo", {"n": n}) == {"n": n}
    assert len(zero.runs()) == 1, zero.runs()
    assert zero.sockets() == ["default.sock"]
    units = zero.units()
    assert list(units) == ["mcp_server.py"], units
    assert units["mcp_server.py"]["clients"] == 10
    daemons = zero.tend_daemons(clients={c.pid for c in clients})
    assert daemons == [zero.daemon_pid()], daemons
    # one keeper, the daemon's, the one server's parent
    keeper = keeper_of(daemons[0])
    keepers = [p for p in zero.reaper.tagged()
               if comm(p) == KEEPER and alive(p)]
    assert keepers == [keeper], keepers
    assert proc_stat(zero.runs()[0])[1] == keeper
    assert len(zero.wait_event("created", unit="mcp_server.py") and
               [e for e in zero.events() if e["event"] == "created"]) == 1
    for c in clients:
        end(c)


def test_differing_secrets_never_share_and_are_never_shown(zero):
    a = zero.client(env={"API_TOKEN": "secret-aaa"})
    b = zero.client(env={"API_TOKEN": "secret-bbb"})
    a2 = zero.client(env={"API_TOKEN": "secret-aaa"})
    assert server_env(a, "API_TOKEN")["env"] == {"API_TOKEN": "secret-aaa"}
    assert server_env(b, "API_TOKEN")["env"] == {"API_TOKEN": "secret-bbb"}
    assert server_env(a2, "API_TOKEN")["pid"] == server_env(a, "API_TOKEN")["pid"]
    assert server_env(b, "API_TOKEN")["pid"] != server_env(a, "API_TOKEN")["pid"]
    assert len(zero.runs()) == 2
    units = zero.units()
    assert len(units) == 2 and "mcp_server.py" in units, units
    other = [n for n in units if n != "mcp_server.py"][0]
    assert other.startswith("mcp_server.py-") and len(other) == len("mcp_server.py-") + 4
    # no value of the environment in status, events or the logs
    shown = zero.run("status", "--json").stdout + zero.run("status").stdout + \
        zero.run("events", "--json").stdout + zero.run("logs").stdout
    assert "secret-" not in shown, shown
    for c in (a, b, a2):
        end(c)


def test_the_clients_environment_reaches_the_server(zero, tmp_path):
    c = zero.client("--env", "FROM_FLAG=${FROM_CLIENT}-x",
                    env={"FROM_CLIENT": "hello world", "TEND_RUN": "TEND_RUN=forged",
                         "PATH": "/usr/local/bin:/usr/bin:/bin:%s" % tmp_path})
    got = server_env(c, "FROM_CLIENT", "FROM_FLAG", "PATH", "TEND_RUN", "TEND_UNIT",
                     "TEND_E2E_TAG")
    e = got["env"]
    assert e["FROM_CLIENT"] == "hello world"
    assert e["FROM_FLAG"] == "hello world-x"        # ${VAR}: the client's
    assert e["PATH"].endswith(str(tmp_path))
    assert e["TEND_UNIT"] == "mcp_server.py"          # tend's own, not forged
    assert e["TEND_RUN"] != "TEND_RUN=forged"
    assert e["TEND_E2E_TAG"] == zero.reaper.tag
    # the daemon's own environment does not leak in: it was started by the
    # first client, so give a second one without FROM_CLIENT
    d = zero.client(env={"ONLY_D": "1"})
    got = server_env(d, "FROM_CLIENT", "ONLY_D")["env"]
    assert got == {"FROM_CLIENT": None, "ONLY_D": "1"}, got
    end(c)
    end(d)


def test_per_terminal_variables_do_not_split_a_server(zero):
    terms = [{"TERM_SESSION_ID": "w0t%d:1" % i, "WINDOWID": str(1000 + i),
              "SHLVL": str(i), "PWD": "/somewhere/%d" % i, "OLDPWD": "/x%d" % i,
              "_": "/usr/bin/thing%d" % i, "TMUX_PANE": "%%%d" % i,
              "TERM": "xterm-%d" % i, "SSH_TTY": "/dev/pts/%d" % i}
             for i in range(3)]
    cs = [zero.client(env=t) for t in terms]
    pids = {server_env(c)["pid"] for c in cs}
    assert len(pids) == 1 and len(zero.runs()) == 1, zero.runs()
    # the server has the first client's values (it started it)
    assert server_env(cs[1], "WINDOWID")["env"]["WINDOWID"] == "1000"
    for c in cs:
        end(c)


def test_env_ignore_and_env_require(zero):
    a = zero.client("--env-ignore", "MY_*", env={"MY_SESSION": "a"})
    b = zero.client("--env-ignore", "MY_*", env={"MY_SESSION": "b"})
    assert server_env(a)["pid"] == server_env(b)["pid"]
    # only API_TOKEN decides: OTHER may differ, API_TOKEN may not
    r1 = zero.client("--env-require", "API_TOKEN", env={"API_TOKEN": "1", "OTHER": "x"})
    r2 = zero.client("--env-require", "API_TOKEN", env={"API_TOKEN": "1", "OTHER": "y"})
    r3 = zero.client("--env-require", "API_TOKEN", env={"API_TOKEN": "2", "OTHER": "x"})
    assert server_env(r1)["pid"] == server_env(r2)["pid"]
    assert server_env(r1)["pid"] != server_env(r3)["pid"]
    assert server_env(r1)["pid"] != server_env(a)["pid"]     # flags: another key
    assert len(zero.runs()) == 3
    for c in (a, b, r1, r2, r3):
        end(c)


# --- flags ---------------------------------------------------------------------

def test_flags_take_effect_and_are_part_of_the_key(zero):
    m = zero.client("--memory-max", "300M")
    plain = zero.client()
    assert server_env(m)["pid"] != server_env(plain)["pid"]
    units = zero.units()
    limited = [u for u in units.values() if u.get("mem_max")]
    assert len(limited) == 1 and limited[0]["mem_max"] == 300 << 20, units
    assert limited[0]["name"] == "mcp_server.py"      # the first one made
    assert [n for n in units if n != "mcp_server.py"][0].startswith("mcp_server.py-")
    # --idle-stop: stopped after 1 s without traffic, although a client stays
    i = zero.client("--idle-stop=1s")
    name = [n for n in zero.units() if n not in units][0]
    call(i, "echo")
    stop = zero.wait_event("idle_stop", unit=name)
    assert stop["idle_ms"] >= 1000
    assert zero.units()[name]["state"] == "idle"
    assert call(i, "echo", {"again": 1}) == {"again": 1}     # woken by it
    zero.wait_event("woke", unit=name, **{"from": "idle"})
    for c in (m, plain, i):
        end(c)


def test_idle_then_forgotten_and_made_again(zero):
    c = zero.client("--idle-stop", "1s")
    call(c, "echo")
    name = "mcp_server.py"
    zero.wait_event("idle_stop", unit=name)
    # idle with a client connected: not forgotten
    time.sleep(2.5)
    assert not [e for e in zero.events() if e["event"] == "forgotten"]
    assert name in zero.units()
    end(c)
    gone = zero.wait_event("forgotten", unit=name)
    assert gone["after_ms"] == 1000
    assert name not in zero.units()
    assert "fake: pid=" in zero.run("logs", name).stdout     # its log stays
    again = zero.client("--idle-stop", "1s")
    call(again, "echo")
    assert len([e for e in zero.events() if e["event"] == "created"]) == 2
    assert len(zero.runs()) == 2
    assert name in zero.units()
    end(again)


def test_a_failed_service_starts_again_for_a_new_client(zero):
    a = zero.client("--restart", "never")
    name = "mcp_server.py"
    r = a.call("crash", timeout=T_LONG)
    assert "error" in r, r
    wait_until(lambda: zero.units()[name]["state"] == "failed", T_LONG,
               what="the server to fail")
    b = zero.client("--restart", "never")
    assert call(b, "echo", {"b": 1}) == {"b": 1}
    zero.wait_event("woke", unit=name, **{"from": "failed"})
    assert len(zero.runs()) == 2
    assert zero.units()[name]["state"] == "running"
    end(b)
    a.close()
    a.wait(T_LONG)


def test_share_none_instances_go_and_the_service_is_forgotten(zero):
    """--share none: an instance per client inside the one service; when
    the clients are gone, the instances go and then the service."""
    a = zero.client("--share", "none", "--idle-stop", "1s")
    b = zero.client("--share", "none", "--idle-stop", "1s")
    assert server_env(a)["pid"] != server_env(b)["pid"]
    assert len(zero.runs()) == 2
    names = sorted(zero.units())
    assert names[0] == "mcp_server.py" and names[1].startswith("mcp_server.py#"), names
    assert len([e for e in zero.events() if e["event"] == "created"]) == 1
    end(a)
    end(b)
    zero.wait_event("forgotten", unit="mcp_server.py")
    wait_until(lambda: zero.units() == {}, T_LONG, what="no unit left")
    # A fresh service for the next client.  Its idle-stop is long: with 1s,
    # a loaded machine's second between its initialize and its call let
    # the server idle-stop and start again (4 runs, seen once).
    c = zero.client("--share", "none", "--idle-stop", "60s")
    call(c, "echo")
    assert len(zero.runs()) == 3
    end(c)


# --- reload ---------------------------------------------------------------------

def test_reload_keeps_it_and_a_file_that_appears_is_loaded(zero):
    c = zero.client()
    pid = server_env(c)["pid"]
    t = zero.run("reload")
    assert t.rc == 0 and "nothing changed" in t.stdout, t.describe()
    # the user's own file appears: the same daemon loads it
    zero.user_ini.parent.mkdir(parents=True)
    zero.user_ini.write_text("[service other]\nexec = /bin/sleep 600\n"
                             "start = on-demand\n")
    t = zero.run("reload")
    assert t.rc == 0 and "added: other" in t.stdout, t.describe()
    units = zero.units()
    assert sorted(units) == ["mcp_server.py", "other"], units
    assert units["mcp_server.py"]["pid"] == pid
    assert server_env(c)["pid"] == pid
    assert zero.status()["daemon"]["file"] is True
    # a section named like the shared service is refused, nothing changes
    zero.user_ini.write_text("[service mcp_server.py]\nexec = /bin/sleep 600\n")
    t = zero.run("reload")
    assert t.rc == 2, t.describe()
    assert "has the name of a service that tend connect -- CMD made" in t.stderr
    assert sorted(zero.units()) == ["mcp_server.py", "other"]
    # the file goes: an empty configuration again; the shared one stays
    zero.user_ini.unlink()
    t = zero.run("reload")
    assert t.rc == 0 and "removed: other" in t.stdout, t.describe()
    assert list(zero.units()) == ["mcp_server.py"]
    assert server_env(c)["pid"] == pid
    assert len(zero.runs()) == 1
    end(c)


def test_a_given_file_is_used_with_c(zero, tend, tmp_path):
    """-c FILE picks that file's daemon; its reload keeps the service."""
    ini = tmp_path / "p" / "tend.ini"
    ini.parent.mkdir()
    ini.write_text("[service other]\nexec = /bin/sleep 600\nstart = on-demand\n")
    env = dict(zero.env)
    proc = subprocess.Popen([TEND_BIN, "-c", str(ini), "connect", "--", PY, SERVER],
                            env=env, cwd=str(zero.workdir), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    zero.reaper.track(proc)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "c", "version": "0"}}}
    proc.stdin.write(json.dumps(init).encode() + b"\n")
    proc.stdin.flush()
    assert b'"result"' in proc.stdout.readline()
    st = tend.run("-c", str(ini), "status", "--json", env=env)
    names = [u["name"] for u in json.loads(st.stdout)["units"]]
    assert sorted(names) == ["mcp_server.py", "other"], st.describe()
    t = tend.run("-c", str(ini), "reload", env=env)
    assert t.rc == 0, t.describe()
    st = tend.run("-c", str(ini), "status", "--json", env=env)
    assert "mcp_server.py" in [u["name"] for u in json.loads(st.stdout)["units"]]
    proc.stdin.close()
    assert proc.wait(T_LONG) == 0
    assert zero.sockets() != ["default.sock"]      # the file's daemon, not the default
    assert tend.run("-c", str(ini), "down", env=env).rc == 0


# --- bad input -------------------------------------------------------------------

BAD = [
    (["--nope", "1", "--", PY, SERVER], "unknown flag --nope"),
    (["--memory-max", "--", PY, SERVER], "--memory-max needs a value"),
    (["--memory-max"], "--memory-max needs a value"),
    (["--"], "no command given"),
    (["--", "no-such-command-zc"], 'command "no-such-command-zc" not found in PATH'),
    (["--", "./missing.sh"], 'cannot run "./missing.sh"'),
    (["--memory-max", "lots", "--", PY, SERVER], "memory-max = lots: expected a size"),
    (["--idle-stop=soon", "--", PY, SERVER], "idle-stop = soon: expected a duration"),
    (["--listen", "tcp:127.0.0.1:1", "--", PY, SERVER], "--listen does not apply"),
    (["--stdio", "exclusive", "--", PY, SERVER], "--stdio does not apply"),
    (["memory", "--", PY, SERVER], 'give a SERVICE or "-- CMD", not both'),
    (["-x", "--", PY, SERVER], 'unexpected argument "-x"'),
]


@pytest.mark.parametrize("args,why", BAD, ids=[" ".join(a[:2]) for a, _ in BAD])
def test_bad_input_one_line_exit_2_nothing_started(zero, tend, args, why):
    t = tend.run("connect", *args, env=zero.env, cwd=zero.workdir)
    assert t.rc == 2, t.describe()
    assert why in one_line_error(t), t.describe()
    assert zero.sockets() == [], "a daemon was started"


def test_bad_input_with_a_daemon_running_makes_no_unit(zero, tend):
    c = zero.client()
    for args, why in BAD:
        t = tend.run("connect", *args, env=zero.env, cwd=zero.workdir)
        assert t.rc == 2 and why in one_line_error(t), t.describe()
    # the client's PATH decides, not the daemon's
    t = tend.run("connect", "--", "python3", SERVER, env=dict(zero.env, PATH="/nonexistent"),
                 cwd=zero.workdir)
    assert t.rc == 2 and 'command "python3" not found in PATH (/nonexistent)' \
        in one_line_error(t), t.describe()
    # the daemon checks a request of its own too (no tend connect on the way)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(T_SHORT)
    s.connect(str(zero.rundir / "default.sock"))
    r, w = os.pipe()
    req = {"cmd": "connect", "exec": ["no-such-command-zc"], "cwd": "/",
           "env": ["PATH=/usr/bin:/bin"]}
    s.sendmsg([json.dumps(req).encode() + b"\n"],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(
                  __import__("array").array("i", [r, w])))])
    reply = json.loads(s.makefile().readline())
    assert reply["ok"] is False and reply["exit"] == 2, reply
    assert 'command "no-such-command-zc" not found in PATH (/usr/bin:/bin)' in reply["error"]
    req = {"cmd": "connect", "exec": [PY, SERVER], "cwd": "/",
           "env": ["PATH=/usr/bin:/bin"], "set": [["max-instances", "2"]]}
    s.sendall(json.dumps(req).encode() + b"\n")
    reply = json.loads(s.makefile().readline())
    assert reply["ok"] is False and "--max-instances does not apply" in reply["error"]
    s.close()
    os.close(r)
    os.close(w)
    assert list(zero.units()) == ["mcp_server.py"]
    assert not [e for e in zero.events() if e["event"] == "created"
                and e["unit"] != "mcp_server.py"]
    end(c)


def test_help_lists_the_flags(tend):
    t = tend.run("connect", "--help")
    assert t.rc == 0
    for flag in ("--memory-max", "--idle-stop", "--env-ignore", "--env-require",
                 "--restart", "--env "):
        assert flag in t.stdout, flag
    assert "--listen" not in t.stdout and "--stdio" not in t.stdout
    assert "--idle-stop        stop after this long without client traffic [10m]" \
        in t.stdout


# --- a real server ---------------------------------------------------------------

@pytest.mark.skipif(not MEMORY.exists(), reason="tests/mcp/node_modules is missing "
                    "(make mcp-deps)")
def test_real_server_memory_shared_by_three_clients(zero, tmp_path):
    memfile = tmp_path / "memory.jsonl"
    cmd = ["node", str(MEMORY)]
    env = {"MEMORY_FILE_PATH": str(memfile)}
    cs = [zero.client(cmd=cmd, env=env, label="m%d" % i) for i in range(3)]
    r = cs[0].call("create_entities", {"entities": [{
        "name": "e-zero", "entityType": "test", "observations": ["from m0"]}]},
        timeout=T_LONG)
    assert "result" in r, r
    r = cs[2].call("open_nodes", {"names": ["e-zero"]}, timeout=T_LONG)
    assert "from m0" in json.dumps(r), r
    units = zero.units()
    assert list(units) == ["server-memory"], units
    assert units["server-memory"]["clients"] == 3
    assert len([e for e in zero.events() if e["event"] == "spawned"]) == 1
    assert "e-zero" in memfile.read_text()
    for c in cs:
        end(c)
