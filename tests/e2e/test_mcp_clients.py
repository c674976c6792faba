"""stdio = mcp with real clients and real servers that nobody here wrote
(issue 19, "Tests and figures"): the official TypeScript SDK client at
1.32.2 and at 1.12.1 (tests/mcp/session.mjs), the MCP Inspector CLI, and the
servers server-everything, server-memory, server-filesystem and
server-sequential-thinking, all pinned in tests/mcp (package.json and
package-lock.json; `make mcp-deps` installs them with npm ci).

How each new program runs (M = tests/mcp/node_modules/@modelcontextprotocol):

  server-filesystem (bin mcp-server-filesystem): directories as arguments;
      with none it waits for the client's roots (roots/list after
      notifications/initialized, again on roots/list_changed) and allows
      exactly those:      node M/server-filesystem/dist/index.js [DIR ...]
  server-sequential-thinking (bin mcp-server-sequential-thinking): no
      arguments; one tool, sequentialthinking, whose answer counts the
      thoughts the process has seen (thoughtHistoryLength):
                          node M/server-sequential-thinking/dist/index.js
  MCP Inspector 1.0.3, CLI mode (bin mcp-inspector; it declares node >=
      22.7.5, its CLI mode runs on node 20, not on 18; 2.x needs 22.19):
      tests/mcp/node_modules/.bin/mcp-inspector --cli CMD ARG... --method tools/list

A test marked xfail(strict=True) is a feature of issue 19 that today's tend
lacks: it fails now, and must pass (and lose its marker) when the feature
lands; the reason names the point of the issue.  Every process a test
starts is ended by pid (the reaper, the project fixture, or the private
login's namespace)."""
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (SH, T_LONG, T_SHORT, TEND_BIN, all_pids, comm,
                      parse_events, proc_stat, q, wait_until, write_ini)
from mcpwire import Client, dumps
from test_mcp_sdk import EVERYTHING, MCP, MEMORY, NODE, SERVERS, descendants

SESSION = MCP / "session.mjs"
FILESYSTEM = SERVERS / "server-filesystem" / "dist" / "index.js"
THINKING = SERVERS / "server-sequential-thinking" / "dist" / "index.js"
INSPECTOR = MCP / "node_modules" / ".bin" / "mcp-inspector"
OLD_SDK = MCP / "node_modules" / "sdk-1.12"

pytestmark = pytest.mark.skipif(
    not all(p.exists() for p in (FILESYSTEM, THINKING, INSPECTOR, OLD_SDK)),
    reason="tests/mcp/node_modules lacks the pinned clients and servers (make mcp-deps)")


def node_major():
    try:
        out = subprocess.run([NODE, "--version"], capture_output=True, timeout=T_LONG).stdout
        return int(out.decode().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


NODE_MAJOR = node_major()
SESSION_TIMEOUT = 60        # session.mjs --timeout
VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
LATEST = "2025-11-25"


def xfail(point, why):
    return pytest.mark.xfail(strict=True, reason="issue 19 point %d: %s" % (point, why))


def call(name, **arguments):
    """A --call argument of session.mjs."""
    return ["--call", json.dumps({"name": name, "arguments": arguments})]


# --- processes ------------------------------------------------------------

def argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def running(script, pids):
    """Those of PIDS that are node running SCRIPT (argv[1]): server
    processes, not the clients whose arguments name the script too."""
    return sorted(p for p in pids if comm(p) == "node"
                  and argv(p)[1:2] == [str(script)])


def spawns(p, name):
    return [e for e in p.events() if e["event"] == "spawned" and e["unit"] == name]


# --- session.mjs ----------------------------------------------------------

class Session:
    def __init__(self, proc, out):
        self.proc = proc
        self.out = out

    def output(self):
        return (Path("%s.stdout" % self.out).read_text(errors="replace"),
                Path("%s.stderr" % self.out).read_text(errors="replace"))

    def describe(self):
        so, se = self.output()
        return "session %s: exit %s, stdout %r, stderr:\n%s" % (
            self.out.name, self.proc.poll(), so[-3000:], se[-3000:])

    def result(self, timeout=SESSION_TIMEOUT + 10):
        """session.mjs's JSON line (a dict, "ok" false when it failed)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("did not exit within %ss; %s"
                                 % (timeout, self.describe())) from None
        try:
            return json.loads(self.output()[0].splitlines()[-1])
        except (IndexError, ValueError):
            return {"ok": False, "error": self.describe()}

    def ok(self):
        """The result of a session that worked."""
        res = self.result()
        assert res.get("ok"), "%s\n%s" % (res, self.describe())
        return res


class Sessions:
    """session.mjs runs of one test: output in files, a shared go file."""

    def __init__(self, tmp_path, reaper):
        self.dir = tmp_path / "sessions"
        self.dir.mkdir(exist_ok=True)
        self.reaper = reaper
        self.n = 0
        self.go_file = self.dir / "go"

    def start(self, command, env, *opts, wrapper=(), cwd=None, hold=False):
        """node session.mjs OPTS -- COMMAND (under WRAPPER); HOLD: it waits
        after tools/list until go()."""
        self.n += 1
        out = self.dir / ("s%d" % self.n)
        args = list(wrapper) + [NODE, str(SESSION), "--timeout", str(SESSION_TIMEOUT)]
        args += [str(o) for o in opts]
        if hold:
            args += ["--ready", "%s.ready" % out, "--go", str(self.go_file)]
        args += ["--"] + [str(c) for c in command]
        with open("%s.stdout" % out, "wb") as so, open("%s.stderr" % out, "wb") as se:
            proc = subprocess.Popen(args, env=env, cwd=str(cwd or self.dir),
                                    stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                    start_new_session=True)
        self.reaper.track(proc)
        return Session(proc, out)

    def wait_ready(self, sessions, timeout=T_LONG):
        """Until every held session is connected (fails at once when one
        ended instead)."""
        def ready():
            for s in sessions:
                if s.proc.poll() is not None:
                    raise AssertionError("session ended before it was ready; %s"
                                         % s.describe())
            return all(Path("%s.ready" % s.out).exists() for s in sessions)
        wait_until(ready, timeout, 0.05, "%d sessions to connect" % len(sessions))

    def go(self):
        self.go_file.touch()


@pytest.fixture
def sessions(tmp_path, reaper):
    return Sessions(tmp_path, reaper)


# --- the raw wire, directly ------------------------------------------------

def read_line(proc, timeout):
    """One line of PROC's stdout, within TIMEOUT seconds."""
    buf, fd = b"", proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError("no line within %.1fs (got %r)" % (timeout, buf))
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError("output ended (got %r)" % buf)
        buf += chunk
    return json.loads(buf.split(b"\n")[0])


def init_msg(version, mid=1):
    return {"jsonrpc": "2.0", "id": mid, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "wire", "version": "0"}}}


def direct_versions(script, versions, reaper, args=()):
    """{asked: the protocolVersion of the server's initialize result} of
    SCRIPT run directly, one process per version, all at once."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TEND_E2E_TAG": reaper.tag}
    procs = {}
    for v in versions:
        p = subprocess.Popen([NODE, str(script)] + list(args), env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        reaper.track(p)
        p.stdin.write(dumps(init_msg(v)) + b"\n")
        p.stdin.flush()
        procs[v] = p
    try:
        return {v: read_line(p, T_LONG)["result"]["protocolVersion"]
                for v, p in procs.items()}
    finally:
        for p in procs.values():
            p.kill()
            p.wait(T_SHORT)


# --- 1. a client with the SDK's default environment -------------------------

LOGIN = r'''
set -e
uid=$(id -u)
if [ -d /run/user ]; then
    mount -t tmpfs -o mode=0755 tend-e2e-run /run/user
else
    mount -t tmpfs -o mode=0755 tend-e2e-run /run
    mkdir /run/user
fi
mkdir -m 0700 /run/user/$uid
mkdir /run/user/.tmp
mount --bind /tmp /run/user/.tmp
mount -t tmpfs -o mode=1777 tend-e2e-tmp /tmp
printf '%s\n' "$KEEP" | while IFS= read -r keep; do
    case "$keep" in /tmp/*)
        mkdir -p "$keep"
        mount --bind "/run/user/.tmp/${keep#/tmp/}" "$keep";;
    esac
done
umount /run/user/.tmp
rmdir /run/user/.tmp
echo "ready $uid"
exec sleep 600
'''


class PrivateLogin:
    """A private mount namespace that looks like a systemd login: a fresh
    tmpfs on /run/user with /run/user/UID (the user's own, mode 0700), and a
    fresh tmpfs on /tmp (with the test's tmp_path, and the programs if they
    are there, bound back in place).
    Whatever tend does there, with or without XDG_RUNTIME_DIR, stays there:
    the machine's /run/user/UID and /tmp/tend-UID are never touched.  Every
    process that runs in it (commands go in with nsenter) is killed by pid
    at the end, found by its mount namespace: a daemon started from a
    trimmed environment carries no TEND_E2E_TAG."""

    def __init__(self, tmp_path, reaper):
        self.userns = os.getuid() != 0
        unshare = ["unshare"] + (["--user", "--map-root-user"] if self.userns else [])
        # What must stay visible under the new /tmp: the test's directory,
        # and the binary, node and tests/mcp when they live in /tmp.
        keep = [tmp_path, Path(TEND_BIN).resolve().parent, Path(NODE).resolve().parent, MCP]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TEND_E2E_TAG": reaper.tag,
               "KEEP": "\n".join(str(k) for k in keep)}
        if not (shutil.which("unshare") and shutil.which("nsenter")):
            pytest.skip("unshare or nsenter is not installed (util-linux)")
        self.proc = subprocess.Popen(unshare + ["--mount", "--propagation", "private",
                                                SH, "-c", LOGIN],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        reaper.track(self.proc)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline().decode().split()
        if line[:1] != ["ready"]:
            self.proc.wait(T_SHORT)
            pytest.skip("no private mount namespace (unshare --mount needs root or "
                        "user namespaces): %s" % self.proc.stderr.read().decode().strip())
        self.uid = int(line[1])
        # Held open until end(): a namespace's inode number is reused as
        # soon as the namespace is gone (by another test's unshare, say),
        # and a process of that one must never be taken for one of ours.
        self.nsfd = os.open("/proc/%d/ns/mnt" % self.pid, os.O_RDONLY | os.O_CLOEXEC)
        st = os.fstat(self.nsfd)
        self.ns = (st.st_dev, st.st_ino)

    def wrap(self, cwd):
        """The argv prefix that runs a command inside, in CWD."""
        return (["nsenter", "-t", str(self.pid)] + (["-U"] if self.userns else [])
                + ["-m", "--wd=%s" % cwd, "--"])

    def path(self, p):
        """PATH as the processes inside see it."""
        return Path("/proc/%d/root%s" % (self.pid, p))

    def pids(self):
        out = []
        for p in all_pids():
            try:
                st = os.stat("/proc/%d/ns/mnt" % p)
                if (st.st_dev, st.st_ino) == self.ns:
                    out.append(p)
            except OSError:
                pass
        return out

    def daemons(self, *more):
        """Pids held in every tend lock file inside: the runtime
        directories (/run/user, /tmp) and MORE (HOME, for a fallback)."""
        found = {}
        for top in [self.path("/run/user"), self.path("/tmp")] + list(more):
            for f in Path(top).rglob("*.lock"):
                try:
                    pid = int(f.read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    continue
                if comm(pid) == "tend" and pid in self.pids():
                    found[pid] = str(f)
        return found

    def end(self):
        try:
            self.kill_all()
        finally:
            os.close(self.nsfd)

    def kill_all(self):
        for _ in range(50):
            left = self.pids()
            if not left:
                return
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        raise AssertionError("processes of the private login survived: %s" % self.pids())


    def sh(self, script):
        """Runs SCRIPT with sh inside (as root there); fails unless it exits 0."""
        r = subprocess.run(self.wrap("/") + [SH, "-c", script], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=T_SHORT)
        assert r.returncode == 0, (script, r.stderr)


@pytest.fixture
def login(tmp_path, reaper):
    lg = PrivateLogin(tmp_path, reaper)
    yield lg
    lg.end()


def shell_env(login, tmp_path, reaper):
    """What a login shell has: HOME (a temp dir), USER, LOGNAME, PATH,
    SHELL, TERM and XDG_RUNTIME_DIR=/run/user/UID; no XDG_STATE_HOME or
    XDG_CONFIG_HOME (most shells set neither)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    user = pwd.getpwuid(os.getuid()).pw_name
    return {"HOME": str(home), "USER": user, "LOGNAME": user, "SHELL": "/bin/sh",
            "TERM": "dumb", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "XDG_RUNTIME_DIR": "/run/user/%d" % login.uid, "TEND_E2E_TAG": reaper.tag}


def in_login(login, env, cwd, *args, timeout=T_LONG):
    r = subprocess.run(login.wrap(cwd) + [TEND_BIN] + list(args), env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


@pytest.mark.parametrize("first", ["shell", "client"])
def test_client_with_the_sdk_default_environment_reaches_the_shells_daemon(
        login, sessions, tmp_path, reaper, first):
    """An SDK client whose server environment is the SDK's default (HOME,
    LOGNAME, PATH, SHELL, TERM, USER: no XDG_RUNTIME_DIR) runs `tend -c
    FILE connect everything`, and reaches the daemon of a shell that has
    XDG_RUNTIME_DIR=/run/user/UID: one daemon, one server, whichever of
    the two started the daemon.

    Assumes the rule of DESIGN.md: without XDG_RUNTIME_DIR, tend uses
    /run/user/UID when it is the user's own and mode 0700, as systemd's
    login manager makes it.  The test makes such a /run/user/UID in a
    private mount namespace (PrivateLogin; root, or user namespaces), with
    HOME a temp dir; it does not test the private fallback used when there
    is no /run/user/UID."""
    env = shell_env(login, tmp_path, reaper)
    work = tmp_path / "proj"
    ini = write_ini(work / "tend.ini", "[service everything]\nexec = %s %s stdio\n"
                    "stdio = mcp\n" % (q(NODE), q(EVERYTHING)))
    if first == "shell":
        rc, out, err = in_login(login, env, work, "-c", str(ini), "up", "-d")
        assert rc == 0, err
    s = sessions.start([TEND_BIN, "-c", ini, "connect", "everything"], env,
                       "--env", "default", *call("echo", message="trimmed"),
                       wrapper=login.wrap(work), cwd=work, hold=True)
    sessions.wait_ready([s])

    # The client's tend connect really had the trimmed environment.
    connects = [p for p in login.pids() if comm(p) == "tend"
                and (proc_stat(p) or (0, 0))[1] == s.proc.pid]
    assert connects, "no tend connect in the login: %s" % login.pids()
    with open("/proc/%d/environ" % connects[0], "rb") as f:
        names = sorted(v.split(b"=", 1)[0].decode() for v in f.read().split(b"\0") if v)
    assert "XDG_RUNTIME_DIR" not in names and "HOME" in names, names

    daemons = login.daemons(env["HOME"])
    servers = running(EVERYTHING, login.pids())
    rc, out, err = in_login(login, env, work, "-c", str(ini), "status", "--json")
    sessions.go()
    res = s.ok()
    assert res["calls"] == [{"name": "echo", "text": "Echo: trimmed", "isError": False}], res
    assert rc == 0, "the shell's tend status: exit %d, %s" % (rc, err)
    status = json.loads(out)
    unit = [u for u in status["units"] if u.get("name") == "everything"][0]
    assert len(daemons) == 1, "daemons (pid: lock file): %s" % daemons
    assert list(daemons) == [status["daemon"]["pid"]], (daemons, status["daemon"])
    assert servers == [unit["pid"]], (servers, unit)


@pytest.mark.parametrize("spoil", ["mode 0755", "owner nobody"])
def test_client_without_xdg_runtime_dir_shuns_a_run_user_dir_not_its_own(
        login, sessions, tmp_path, reaper, spoil):
    """/run/user/UID is the runtime directory of a client without
    XDG_RUNTIME_DIR only when it is the user's own and mode 0700: when it
    is 0755, or another user's, such a client still works (through a
    daemon of some private fallback) and puts nothing there.  Holds today
    (tend never looks there); it must keep holding once it does."""
    ru = "/run/user/%d" % login.uid
    if spoil == "owner nobody":
        if login.userns:
            pytest.skip("in a user namespace, no other uid to give the directory to")
        login.sh("chown 65534 %s" % ru)
    else:
        login.sh("chmod 0755 %s" % ru)
    env = shell_env(login, tmp_path, reaper)
    work = tmp_path / "proj"
    ini = write_ini(work / "tend.ini", "[service everything]\nexec = %s %s stdio\n"
                    "stdio = mcp\n" % (q(NODE), q(EVERYTHING)))
    s = sessions.start([TEND_BIN, "-c", ini, "connect", "everything"], env,
                       "--env", "default", *call("echo", message="elsewhere"),
                       wrapper=login.wrap(work), cwd=work)
    res = s.ok()
    assert res["calls"] == [{"name": "echo", "text": "Echo: elsewhere", "isError": False}], res
    assert list(login.path(ru).iterdir()) == []


# --- 2. old and new clients -------------------------------------------------

def test_old_and_new_sdk_clients_at_once_on_everything_and_memory(project, sessions,
                                                                  tmp_path):
    """SDK 1.12.1 (asks 2025-03-26) and SDK 1.32.2 (asks 2025-11-25), each
    on server-everything and on server-memory, all four connected at once:
    each gets the version it asked for, lists the tools and calls one;
    what one memory session wrote, it reads back."""
    memfile = tmp_path / "memory.jsonl"
    p = project("[service everything]\nexec = %s %s stdio\nstdio = mcp\n\n"
                "[service memory]\nexec = %s %s\nenv = MEMORY_FILE_PATH=%s\nstdio = mcp\n"
                % (q(NODE), q(EVERYTHING), q(NODE), q(MEMORY), q(memfile)))
    p.up()
    daemon = p.daemon_pid()
    runs = {}
    for sdk in ("1.12", "new"):
        runs[sdk, "everything"] = sessions.start(
            [TEND_BIN, "-c", p.ini, "connect", "everything"], p.env, "--sdk", sdk,
            *call("echo", message="from " + sdk), hold=True)
        ent = "e-" + sdk
        runs[sdk, "memory"] = sessions.start(
            [TEND_BIN, "-c", p.ini, "connect", "memory"], p.env, "--sdk", sdk,
            *call("create_entities", entities=[{"name": ent, "entityType": "test",
                                                "observations": ["by " + sdk]}]),
            *call("open_nodes", names=[ent]), hold=True)
    sessions.wait_ready(list(runs.values()))
    below = descendants(daemon)
    sessions.go()
    results = {k: s.ok() for k, s in runs.items()}
    for (sdk, svc), res in results.items():
        assert res["asked"] == {"1.12": "2025-03-26", "new": LATEST}[sdk], res
        assert res["protocol"] == res["asked"], res
        assert not [c for c in res["calls"] if "error" in c or c["isError"]], res
    assert results["1.12", "everything"]["calls"][0]["text"] == "Echo: from 1.12"
    # Each version has its own server-memory, both on one MEMORY_FILE_PATH:
    # their read-modify-write of the file races, as two sessions started
    # directly do; what is read back is the version's own entity or none.
    for sdk in ("1.12", "new"):
        text = results[sdk, "memory"]["calls"][1]["text"]
        assert "by " + sdk in text or '"entities": []' in text, text
    # Shared: at most one server per version asked (the issue leaves open
    # whether tend initializes a server once per version or runs one per
    # version).
    assert 1 <= len(running(EVERYTHING, below)) <= 2, below
    assert 1 <= len(running(MEMORY, below)) <= 2, below


def everything(project):
    return project("[service everything]\nexec = %s %s stdio\nstdio = mcp\n"
                   % (q(NODE), q(EVERYTHING)))


def test_each_wire_client_gets_the_protocol_version_it_asked(project, reaper):
    """Directly, server-everything answers each of 2024-11-05, 2025-03-26,
    2025-06-18 and 2025-11-25 with that version; through tend, four clients
    asking one each, connected at once, get the same answers, and each
    session works."""
    assert direct_versions(EVERYTHING, VERSIONS, reaper, ["stdio"]) == {v: v for v in VERSIONS}
    p = everything(project)
    clients = {v: Client(p, reaper, "everything", "v" + v) for v in VERSIONS}
    got = {v: c.initialize(version=v)["protocolVersion"] for v, c in clients.items()}
    for v, c in clients.items():
        msg = c.call("echo", {"message": v}, T_LONG)
        assert msg["result"]["content"][0]["text"] == "Echo: " + v, msg
    assert got == {v: v for v in VERSIONS}
    assert 1 <= len(running(EVERYTHING, descendants(p.daemon_pid()))) <= len(VERSIONS)


def test_unknown_protocol_version_gets_what_the_server_answers_directly(project, reaper):
    """A client asking a version nobody supports ("1999-01-01") gets, through
    tend, the version server-everything answers it directly (its latest),
    and the session works."""
    direct = direct_versions(EVERYTHING, ["1999-01-01"], reaper, ["stdio"])["1999-01-01"]
    assert direct in VERSIONS
    p = everything(project)
    c = Client(p, reaper, "everything", "old")
    assert c.initialize(version="1999-01-01")["protocolVersion"] == direct
    assert c.call("echo", {"message": "x"}, T_LONG)["result"]["content"][0]["text"] == "Echo: x"


# --- 3. roots ------------------------------------------------------------------

def test_filesystem_clients_with_different_roots_each_see_only_their_own(
        project, sessions, tmp_path):
    """server-filesystem without directory arguments (it allows the
    client's roots), `share = roots`: client A (root A) and client B (root
    B), connected at once, each read their own file and are denied the
    other's."""
    roots = {}
    for name in ("a", "b"):
        d = tmp_path / ("root-" + name)
        d.mkdir()
        (d / "file.txt").write_text("content of %s\n" % name)
        roots[name] = d
    p = project("[service files]\nexec = %s %s\nstdio = mcp\nshare = roots\n"
                % (q(NODE), q(FILESYSTEM)))
    runs = {}
    for name, d in roots.items():
        runs[name] = sessions.start(
            [TEND_BIN, "-c", p.ini, "connect", "files"], p.env, "--root", d, "--wait-roots",
            *call("read_text_file", path=str(roots["a"] / "file.txt")),
            *call("read_text_file", path=str(roots["b"] / "file.txt")), hold=True)
    sessions.wait_ready(list(runs.values()))
    sessions.go()
    for name, s in runs.items():
        res = s.ok()
        assert res["roots_asked"] >= 1, res
        own, other = res["calls"] if name == "a" else res["calls"][::-1]
        assert own.get("text") == "content of %s\n" % name and not own["isError"], res
        assert other.get("isError") and "content of" not in other.get("text", ""), res


# --- 5 of the issue: no answer lost at end of input ------------------------------

def piped(p, name, msgs, timeout=T_LONG):
    """`printf 'MSGS' | tend -c FILE connect NAME`: (exit code, responses
    by id, stderr)."""
    r = subprocess.run([TEND_BIN, "-c", str(p.ini), "connect", name], env=p.env,
                       input=b"".join(dumps(m) + b"\n" for m in msgs),
                       capture_output=True, timeout=timeout, start_new_session=True)
    got = {}
    for line in r.stdout.splitlines():
        m = json.loads(line)
        if "id" in m and "method" not in m:
            got[m["id"]] = m
    return r.returncode, got, r.stderr.decode(errors="replace")


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def test_piped_requests_to_memory_are_all_answered(project, tmp_path):
    """initialize, initialized, tools/list on stdin, then its end: both
    answers are printed (server-memory, started by this client)."""
    p = project("[service memory]\nexec = %s %s\nenv = MEMORY_FILE_PATH=%s\nstdio = mcp\n"
                % (q(NODE), q(MEMORY), q(tmp_path / "memory.jsonl")))
    p.up()
    rc, got, err = piped(p, "memory", [init_msg(LATEST), INITIALIZED,
                                       {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}])
    assert sorted(got) == [1, 2], (got, err)
    assert "create_entities" in [t["name"] for t in got[2]["result"]["tools"]], got[2]
    assert rc == 0, err


def test_piped_long_running_call_is_answered(project, reaper):
    """A tools/call of server-everything that takes 1 s, sent just before
    the end of stdin (the server already running): its answer is printed."""
    p = everything(project)
    warm = Client(p, reaper, "everything", "warm")
    warm.initialize(version=LATEST)
    rc, got, err = piped(p, "everything", [
        init_msg(LATEST), INITIALIZED,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "trigger-long-running-operation",
                    "arguments": {"duration": 1, "steps": 2}}}])
    assert sorted(got) == [1, 2], (got, err)
    assert "Steps: 2" in json.dumps(got[2].get("result")), got[2]
    assert rc == 0, err


# --- 6 of the issue: errors that say why --------------------------------------------

def broken(project):
    return project("[service broken]\nexec = %s -c 'echo \"missing API key\" >&2; exit 1'\n"
                   "stdio = mcp\nbackoff = 50ms..100ms\nmax-crashes = 1/1m\n" % SH)


def test_error_of_a_failed_server_carries_its_last_words(project, reaper):
    """A server that prints "missing API key" and exits 1: the client's
    initialize gets a JSON-RPC error whose message has that line and names
    `tend logs broken`."""
    p = broken(project)
    p.up()
    c = Client(p, reaper, "broken", "c")
    mid = c.request("initialize", init_msg(LATEST)["params"])
    msg = c.response(mid, T_LONG)[0]
    assert "error" in msg, msg
    assert "missing API key" in msg["error"]["message"], msg
    assert "tend logs broken" in msg["error"]["message"], msg


def test_new_client_restarts_a_service_that_gave_up(project, reaper):
    """After the service gave up (max-crashes), a new client starts it again:
    `tend events --json` shows a spawned after the gave_up, and the client
    gets a JSON-RPC answer, not a dead session."""
    p = broken(project)
    p.up()
    first = Client(p, reaper, "broken", "first")
    first.request("initialize", init_msg(LATEST)["params"])
    p.wait_event("gave_up", timeout=T_LONG)
    first.close()
    first.wait(T_LONG)

    second = Client(p, reaper, "broken", "second")
    mid = second.request("initialize", init_msg(LATEST)["params"])

    def respawned():
        evs = parse_events(p.ok("events", "--json", "-n", "all").stdout)
        gave = [i for i, e in enumerate(evs) if e["event"] == "gave_up"]
        again = gave and [e for e in evs[gave[0] + 1:]
                          if e["event"] == "spawned" and e["unit"] == "broken"]
        if not again and not second.alive():
            raise AssertionError("the new client's tend connect ended and the service "
                                 "was not started again; %s\nevents: %s"
                                 % (second.describe(), evs[-6:]))
        return again
    wait_until(respawned, T_LONG, 0.2, "a spawned after gave_up")
    msg = second.response(mid, T_LONG)[0]
    assert "error" in msg and "missing API key" in msg["error"]["message"], msg


# --- the MCP Inspector CLI -----------------------------------------------------

def inspector(p, name, *method):
    r = subprocess.run([str(INSPECTOR), "--cli", TEND_BIN, "-c", str(p.ini), "connect",
                        name] + list(method), env=p.env, cwd=str(p.ini.parent),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                       start_new_session=True)
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return json.loads(r.stdout)


@pytest.mark.skipif(NODE_MAJOR < 20, reason="the MCP Inspector 1.0.3 needs node 20 or newer "
                    "(on 18 it fails importing its own package.json)")
def test_inspector_cli_lists_and_calls_tools_through_tend(project):
    """`mcp-inspector --cli tend -c FILE connect everything --method ...`:
    tools/list and a tools/call, two Inspector sessions of one server."""
    p = everything(project)
    tools = [t["name"] for t in inspector(p, "everything", "--method", "tools/list")["tools"]]
    assert "echo" in tools and "get-env" in tools, tools
    res = inspector(p, "everything", "--method", "tools/call", "--tool-name", "echo",
                    "--tool-arg", "message=inspected")
    assert res["content"][0]["text"] == "Echo: inspected", res
    assert len(spawns(p, "everything")) == 1, p.describe()


# --- server-sequential-thinking ---------------------------------------------------

def test_sequential_thinking_three_sessions_share_one_server(project, sessions):
    """Three SDK sessions at once on server-sequential-thinking, each
    thinking one thought: one server process, which counted all three
    (thoughtHistoryLength 1, 2, 3 in some order)."""
    p = project("[service thinking]\nexec = %s %s\nstdio = mcp\n" % (q(NODE), q(THINKING)))
    p.up()
    daemon = p.daemon_pid()
    runs = [sessions.start([TEND_BIN, "-c", p.ini, "connect", "thinking"], p.env,
                           *call("sequentialthinking", thought="thought %d" % i,
                                 nextThoughtNeeded=False, thoughtNumber=1,
                                 totalThoughts=1), hold=True)
            for i in range(3)]
    sessions.wait_ready(runs)
    servers = running(THINKING, descendants(daemon))
    sessions.go()
    lengths = []
    for s in runs:
        res = s.ok()
        assert res["tools"] == ["sequentialthinking"], res
        lengths.append(json.loads(res["calls"][0]["text"])["thoughtHistoryLength"])
    assert len(servers) == 1 and servers == [p.unit("thinking")["pid"]], servers
    assert sorted(lengths) == [1, 2, 3], lengths
    assert len(spawns(p, "thinking")) == 1, p.describe()


# --- 4 of the issue: zero configuration, and the client's environment ----------------

@pytest.fixture
def zero_env(tend_env, tmp_path):
    """The test's environment with HOME a temp dir; no tend.ini anywhere.
    Afterwards, every daemon with a lock file in its runtime directory
    is stopped (SIGTERM, then SIGKILL), by pid."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    env = dict(tend_env, HOME=str(home))
    yield env
    rundir = Path(env["XDG_RUNTIME_DIR"])
    pids = set()
    for f in rundir.rglob("*.lock"):
        try:
            pids.add(int(f.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    pids = [x for x in pids if comm(x) == "tend"]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for x in pids:
            try:
                os.kill(x, sig)
            except ProcessLookupError:
                pass
        try:
            wait_until(lambda: not [x for x in pids if comm(x) == "tend"], T_SHORT)
            break
        except AssertionError:
            pass


def zero_config(sessions, env, token, n, work):
    return [sessions.start([TEND_BIN, "connect", "--", NODE, EVERYTHING, "stdio"], env,
                           "--set", "API_TOKEN=" + token, *call("get-env"),
                           cwd=work, hold=True)
            for _ in range(n)]


def tokens_seen(res):
    assert res["calls"] and "text" in res["calls"][0], res
    return json.loads(res["calls"][0]["text"]).get("API_TOKEN")


def test_zero_config_clients_with_different_tokens_get_their_own_servers(
        zero_env, sessions, reaper, workdir):
    """`tend connect -- node server-everything stdio`, no tend.ini: two
    clients whose API_TOKEN differs each get a server that sees their own
    token (get-env): two server processes."""
    runs = zero_config(sessions, zero_env, "token-a", 1, workdir) + \
        zero_config(sessions, zero_env, "token-b", 1, workdir)
    sessions.wait_ready(runs)
    servers = running(EVERYTHING, reaper.tagged())
    sessions.go()
    assert [tokens_seen(s.ok()) for s in runs] == ["token-a", "token-b"]
    assert len(servers) == 2, servers


def test_zero_config_ten_clients_with_one_environment_share_one_server(
        zero_env, sessions, reaper, workdir):
    """Ten clients of one configuration (same command, directory and
    API_TOKEN), connected at once: one server process, which sees the
    token."""
    runs = zero_config(sessions, zero_env, "token-same", 10, workdir)
    sessions.wait_ready(runs, timeout=60)
    servers = running(EVERYTHING, reaper.tagged())
    sessions.go()
    assert [tokens_seen(s.ok()) for s in runs] == ["token-same"] * 10
    assert len(servers) == 1, servers
