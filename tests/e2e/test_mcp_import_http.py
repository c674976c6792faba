"""tend mcp import --http: the MCP clients' stdio servers become sections of
the default daemon's tend.ini served over Streamable HTTP by tend itself
(listen = http:127.0.0.1:PORT), and the clients' entries their URLs
(docs/mcp.md, "Over HTTP"); then the daemon is reloaded, or started.

Every test has its own HOME, XDG directories and working directory (the
project), and asks for ports from a free one (--port), so that two runs of
the suite never meet.  The servers are tests/e2e/bin/mcp_server.py; the
client is the official TypeScript SDK (tests/mcp/http_client.mjs) reading
the URL and the token from the rewritten files."""
import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, T_LONG, TEND_BIN, alive, wait_until

MCP = Path(__file__).resolve().parent.parent / "mcp"
HTTP_CLIENT = MCP / "http_client.mjs"
NODE = shutil.which("node") or "node"
SERVER = [sys.executable, str(BIN / "mcp_server.py")]
needs_sdk = pytest.mark.skipif(not (MCP / "node_modules").is_dir(),
                               reason="tests/mcp/node_modules is missing (make mcp-deps)")


def free_port():
    """The first of a few free ports in a row (a section per server)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + 5 > 65535:
            continue
        ok = True
        for p in range(base + 1, base + 5):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return base
    raise AssertionError("no free ports")


class Setup:
    """HOME with the clients' files, the project (the working directory),
    the environment; import() runs the command."""

    def __init__(self, tmp_path, tend_env, workdir, tend, reaper):
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.env = dict(tend_env, HOME=str(self.home))
        self.config = Path(tend_env["XDG_CONFIG_HOME"]) / "tend"
        self.ini = self.config / "tend.ini"
        self.token_file = self.config / "mcp-http.token"
        self.work = workdir
        self.tend = tend
        self.reaper = reaper
        self.port = free_port()
        self.mem = tmp_path / "mem"
        self.mem.mkdir()

    def entry(self, **env):
        e = {"command": SERVER[0], "args": SERVER[1:]}
        e["env"] = dict({"MCP_PIDDIR": str(self.mem)}, **env)
        return e

    def write(self, rel, doc):
        p = self.home / rel if not rel.startswith("./") else self.work / rel[2:]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(doc, indent=2) + "\n")
        return p

    def read(self, rel):
        p = self.home / rel if not rel.startswith("./") else self.work / rel[2:]
        return json.loads(p.read_text())

    def run(self, *args):
        t = self.tend.run("mcp", "import", "--http", "--port", str(self.port),
                          *args, env=self.env, cwd=self.work, timeout=T_LONG)
        return t

    def tend_cmd(self, *args):
        return self.tend.run(*args, env=self.env, cwd=self.work, timeout=T_LONG)

    def status(self):
        t = self.tend_cmd("-c", str(self.ini), "status", "--json")
        assert t.rc == 0, t.describe()
        doc = json.loads(t.stdout)
        self.reaper.track_pid(doc["daemon"]["pid"])
        return doc

    def down(self):
        if self.ini.exists():
            self.tend_cmd("-c", str(self.ini), "down")


@pytest.fixture
def s(tmp_path, tend_env, workdir, tend, reaper):
    st = Setup(tmp_path, tend_env, workdir, tend, reaper)
    yield st
    st.down()


def sdk(url, token=None, sessions=1):
    """The SDK's sessions against URL: its result (pids of the server)."""
    args = [NODE, str(HTTP_CLIENT), "--url", url, "--sessions", str(sessions),
            "--timeout", "60"]
    if token:
        args += ["--token", token]
    p = subprocess.run(args, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    lines = p.stdout.decode().strip().splitlines()
    res = json.loads(lines[-1]) if lines else {}
    assert p.returncode == 0 and res.get("ok"), (p.stdout, p.stderr)
    return res


def bearer(entry):
    h = entry["headers"]["Authorization"]
    assert h.startswith("Bearer "), entry
    return h[len("Bearer "):]


def sections(ini):
    """{name: {key: [values]}} of a tend.ini, as written."""
    out, cur = {}, None
    for line in ini.read_text().splitlines():
        m = re.match(r"\[service (.+)\]$", line)
        if m:
            cur = out.setdefault(m.group(1), {})
        elif cur is not None and " = " in line and not line.startswith("#"):
            k, v = line.split(" = ", 1)
            cur.setdefault(k, []).append(v)
    return out


# --- the whole way, with a real client ---------------------------------------

@needs_sdk
def test_every_client_gets_the_url_of_one_shared_server(s):
    claude = s.write(".claude.json", {
        "numStartups": 3,
        "mcpServers": {"echo": dict(s.entry(), timeout=5),
                       "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}},
        "projects": {str(s.work): {"mcpServers": {"echo": s.entry(LEVEL="project")}}}})
    s.write(".cursor/mcp.json", {"mcpServers": {"same": s.entry()}})
    s.write(".gemini/settings.json", {"mcpServers": {"echo": s.entry()}})
    t = s.run()
    assert t.rc == 0, t.describe()
    out = t.stdout
    assert "started the daemon of %s" % s.ini in out, out
    assert "4 servers served by tend over HTTP now, 1 left alone; 3 files written" in out, out

    # the clients' entries: a URL each, in each client's own words
    c = s.read(".claude.json")
    user, proj = c["mcpServers"]["echo"], c["projects"][str(s.work)]["mcpServers"]["echo"]
    assert list(user) == ["type", "url", "timeout", "headers"], user
    assert user["type"] == "http" and user["timeout"] == 5, user
    assert c["numStartups"] == 3 and c["mcpServers"]["web"]["url"] == "http://127.0.0.1:9/mcp"
    cursor = s.read(".cursor/mcp.json")["mcpServers"]["same"]
    gemini = s.read(".gemini/settings.json")["mcpServers"]["echo"]
    assert set(cursor) == {"url", "headers"}, cursor
    assert set(gemini) == {"httpUrl", "headers"}, gemini
    # one server, one URL: the same command, directory and environment
    assert user["url"] == cursor["url"] == gemini["httpUrl"] == \
        "http://127.0.0.1:%d/mcp" % s.port, (user, cursor, gemini)
    # the project's: another environment, and the project's directory
    assert proj["url"] == "http://127.0.0.1:%d/mcp" % (s.port + 1), proj

    # tend.ini: a section each, loadable, commented with where it came from
    sec = sections(s.ini)
    assert set(sec) == {"echo", "echo-2"}, sec
    assert sec["echo"]["listen"] == ["http:127.0.0.1:%d" % s.port], sec
    assert sec["echo"]["stdio"] == ["mcp"] and sec["echo"]["idle-stop"] == ["10m"]
    assert sec["echo-2"]["cwd"] == [str(s.work)], sec
    assert "env" in sec["echo-2"] and any("LEVEL=project" in v for v in sec["echo-2"]["env"])
    assert '# tend mcp import --http: "echo" of %s' % claude in s.ini.read_text()
    assert stat.S_IMODE(s.ini.stat().st_mode) == 0o600
    # the token: one file, 0600, in every entry's headers
    token = s.token_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", token), token
    assert stat.S_IMODE(s.token_file.stat().st_mode) == 0o600
    assert {bearer(user), bearer(cursor), bearer(gemini), bearer(proj)} == {token}
    assert token not in s.ini.read_text()

    # the daemon serves them now: on demand, nothing running yet
    st = s.status()
    units = {u["name"]: u for u in st["units"]}
    assert units["echo"]["state"] == "stopped", units["echo"]
    assert units["echo"]["listen"] == [user["url"]], units["echo"]

    # a real client, as each client file says: one server for all three
    # (share = roots: sessions with the same roots share an instance)
    a = sdk(user["url"], bearer(user))
    b = sdk(cursor["url"], bearer(cursor))
    g = sdk(gemini["httpUrl"], bearer(gemini))
    assert len(set(a["pids"] + b["pids"] + g["pids"])) == 1, (a, b, g)
    assert {u["name"]: u for u in s.status()["units"]}["echo"]["pid"] == a["pids"][0]
    p = sdk(proj["url"], bearer(proj))
    assert set(p["pids"]).isdisjoint(a["pids"]), (p, a)

    # without the token: 401
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("POST", "/mcp", body=b"{}", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    assert c.getresponse().status == 401


def test_a_second_import_changes_nothing(s):
    s.write("./.mcp.json", {"mcpServers": {"echo": s.entry()}})
    assert s.run().rc == 0
    ini = s.ini.read_text()
    doc = s.read("./.mcp.json")
    st = s.status()
    t = s.run()
    assert t.rc == 0, t.describe()
    assert "nothing to change" in t.stdout, t.stdout
    assert "echo: left alone: a remote server (type http)" in t.stdout
    assert s.ini.read_text() == ini and s.read("./.mcp.json") == doc
    assert not list(s.config.glob("tend.ini.tend-backup*"))
    assert s.status()["daemon"]["pid"] == st["daemon"]["pid"]


def test_dry_run_writes_nothing_and_starts_nothing(s):
    mcp = s.write("./.mcp.json", {"mcpServers": {"echo": s.entry()}})
    before = mcp.read_text()
    t = s.run("--dry-run")
    assert t.rc == 0, t.describe()
    out = t.stdout
    assert "+[service echo]" in out and "+listen = http:127.0.0.1:%d" % s.port in out, out
    assert '"Authorization": "Bearer NEW-TOKEN"' in out, out
    assert "would then reload the daemon of %s" % s.ini in out, out
    assert mcp.read_text() == before
    assert not s.ini.exists() and not s.token_file.exists()
    assert not list(Path(s.env["XDG_RUNTIME_DIR"]).rglob("*.sock"))


def test_no_auth_and_an_existing_file(s):
    s.ini.parent.mkdir(parents=True)
    s.ini.write_text("; mine\n[service keep]\nexec = sleep 100\nstart = on-demand\n")
    os.chmod(s.ini, 0o640)
    s.write("./.vscode/mcp.json", {"servers": {"echo": s.entry()}, "inputs": []})
    t = s.run("--no-auth", "vscode")
    assert t.rc == 0, t.describe()
    e = s.read("./.vscode/mcp.json")["servers"]["echo"]
    assert e == {"type": "http", "url": "http://127.0.0.1:%d/mcp" % s.port}, e
    text = s.ini.read_text()
    assert text.startswith("; mine\n[service keep]\n"), text   # kept as it was
    assert "auth" not in sections(s.ini)["echo"] and not s.token_file.exists()
    assert stat.S_IMODE(s.ini.stat().st_mode) == 0o640
    backups = list(s.config.glob("tend.ini.tend-backup*"))
    assert len(backups) == 1 and backups[0].read_text().startswith("; mine"), backups
    s.status()
    # no token needed: initialize answered
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("POST", "/mcp", body=json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}}).encode(),
        headers={"Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream"})
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Mcp-Session-Id"), r.status


def test_a_running_daemon_is_reloaded_and_a_section_reused(s):
    """A section that serves the same server already (another client's,
    or written by hand) gives its URL: no second section, no second port."""
    s.ini.parent.mkdir(parents=True)
    exe = " ".join(SERVER)
    s.ini.write_text("[service mine]\nexec = %s\nstdio = mcp\nenv = MCP_PIDDIR=%s\n"
                     "listen = http:127.0.0.1:%d/x\n" % (exe, s.mem, s.port + 3))
    assert s.tend_cmd("-c", str(s.ini), "up", "-d").rc == 0
    first = s.status()["daemon"]["pid"]
    s.write(".cursor/mcp.json", {"mcpServers": {
        "a": s.entry(), "b": dict(s.entry(), args=SERVER[1:] + ["--other"])}})
    t = s.run("cursor")
    assert t.rc == 0, t.describe()
    doc = s.read(".cursor/mcp.json")["mcpServers"]
    assert doc["a"]["url"] == "http://127.0.0.1:%d/x" % (s.port + 3), doc
    assert "headers" not in doc["a"], doc    # that section has no auth
    assert doc["b"]["url"] == "http://127.0.0.1:%d/mcp" % s.port, doc
    assert set(sections(s.ini)) == {"mine", "b"}
    st = s.status()
    assert st["daemon"]["pid"] == first     # reloaded, not restarted
    assert {u["name"] for u in st["units"]} == {"mine", "b"}


def test_connect_entries_flags_become_keys(s):
    tend = os.path.realpath(TEND_BIN)
    s.write("./.mcp.json", {"mcpServers": {
        "m": {"command": tend, "args": ["connect", "--memory-max", "300M",
                                        "--env-ignore=X", "--idle-stop=2m", "--"] + SERVER},
        "svc": {"command": "tend", "args": ["connect", "memory"]},
        "bad": {"command": "tend", "args": ["connect", "--nope", "1", "--"] + SERVER},
        "nl": {"command": "tend", "args": ["connect", "--memory-max", "3\n00M", "--"]
               + SERVER}}})
    t = s.run()
    assert t.rc == 0, t.describe()
    out = t.stdout
    sec = sections(s.ini)
    assert set(sec) == {"m"}, sec
    assert sec["m"]["memory-max"] == ["300M"] and sec["m"]["idle-stop"] == ["2m"], sec
    assert "env-ignore" not in sec["m"]
    assert "svc: left alone: already through tend (service memory of a tend.ini: " \
           "give its section a listen = http:127.0.0.1:PORT instead)" in out, out
    assert "bad: left alone: --nope is not a flag of tend connect" in out, out
    assert "nl: left alone: the value of --memory-max cannot be written on one " \
           "line of tend.ini" in out, out
    units = {u["name"]: u for u in s.status()["units"]}
    assert units["m"]["mem_max"] == 300 * 1024 * 1024, units["m"]


def test_a_file_that_does_not_load_is_named_and_nothing_is_written(s):
    s.ini.parent.mkdir(parents=True)
    s.ini.write_text("[service x]\nexec = sleep 1\nmemory_max = 3\n")
    mcp = s.write("./.mcp.json", {"mcpServers": {"echo": s.entry()}})
    before = mcp.read_text()
    t = s.run()
    assert t.rc == 1, t.describe()
    err = t.stderr_lines()
    assert any("tend.ini:3:" in l and "memory-max" in l for l in err), err
    assert any("does not load; tend adds its sections to it: fix it first" in l
               for l in err), err
    assert mcp.read_text() == before
    assert not s.token_file.exists()


@pytest.mark.parametrize("args, want", [
    (["--port", "0"], 'mcp import: --port "0" is not a port; give 1..65535'),
    (["--port", "x1"], 'mcp import: --port "x1" is not a port; give 1..65535'),
])
def test_bad_ports(s, args, want):
    t = s.tend.run("mcp", "import", "--http", *args, env=s.env, cwd=s.work)
    assert t.rc == 2 and t.stderr_lines() == ["tend: " + want], t.describe()


def test_http_flags_need_http(s):
    for args, flag in ((["--port", "80"], "--port"), (["--no-auth"], "--no-auth")):
        t = s.tend.run("mcp", "import", *args, env=s.env, cwd=s.work)
        assert t.rc == 2, t.describe()
        assert t.stderr_lines() == ["tend: mcp import: %s goes with --http; see tend "
                                    "mcp --help" % flag], t.describe()
    t = s.tend.run("mcp", "unimport", "--http", env=s.env, cwd=s.work)
    assert t.rc == 2 and 'unknown flag "--http"' in t.stderr, t.describe()


def test_codex_is_left_as_it_is(s):
    toml = s.home / ".codex" / "config.toml"
    toml.parent.mkdir()
    toml.write_text('[mcp_servers.x]\ncommand = "npx"\nargs = ["-y", "x"]\n')
    t = s.run("codex")
    assert t.rc == 0, t.describe()
    assert "import --http does not write Codex's TOML" in t.stdout, t.stdout
    assert not s.ini.exists()


def test_daemon_down_at_the_end(s):
    """The fixture's tend down ends what import started (nothing survives)."""
    s.write("./.mcp.json", {"mcpServers": {"echo": s.entry()}})
    assert s.run().rc == 0
    pid = s.status()["daemon"]["pid"]
    s.down()
    wait_until(lambda: not alive(pid), what="the daemon to exit")


# --- and back ------------------------------------------------------------------

def test_unimport_gives_back_what_import_http_took(s):
    """With the backups, each entry as it was (tend connect's: directly);
    without them, made from the section: command, args, env, and a cwd
    that is not the project's own."""
    claude = {
        "mcpServers": {"echo": dict({"type": "stdio"}, **s.entry(), timeout=5),
                       "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}},
        "projects": {str(s.work): {"mcpServers": {"p": s.entry(LEVEL="p")}}}}
    mcp = {"mcpServers": {"c": {"command": "tend",
                                "args": ["connect", "--idle-stop", "1m", "--"] + SERVER}}}
    s.write(".claude.json", claude)
    s.write("./.mcp.json", mcp)
    assert s.run("claude").rc == 0
    imported = s.read(".claude.json")
    t = s.tend.run("mcp", "unimport", "claude", env=s.env, cwd=s.work)
    assert t.rc == 0, t.describe()
    assert "3 servers run directly again, 1 left alone" in t.stdout, t.stdout
    assert "the sections of %s that import --http wrote stay" % s.ini in t.stdout
    assert s.read(".claude.json") == claude
    assert s.read("./.mcp.json")["mcpServers"]["c"] == {
        "command": SERVER[0], "args": SERVER[1:]}
    assert set(sections(s.ini)) == {"echo", "p", "c"}   # left in place

    # no backups: from the sections
    s.write(".claude.json", imported)
    for b in s.home.glob(".claude.json.tend-backup*"):
        b.unlink()
    t = s.tend.run("mcp", "unimport", "claude", env=s.env, cwd=s.work)
    assert t.rc == 0, t.describe()
    doc = s.read(".claude.json")
    echo = doc["mcpServers"]["echo"]
    assert echo == {"command": SERVER[0], "args": SERVER[1:], "timeout": 5,
                    "env": {"MCP_PIDDIR": str(s.mem)}}, doc
    assert list(echo) == ["command", "args", "env", "timeout"], echo
    assert doc["projects"][str(s.work)]["mcpServers"]["p"] == s.entry(LEVEL="p"), doc

    # only tend connect's stdio entries to give back: no word of sections
    s.write("./.mcp.json", mcp)
    t = s.tend.run("mcp", "unimport", env=s.env, cwd=s.work)
    assert t.rc == 0, t.describe()
    assert "runs directly again" in t.stdout, t.stdout
    assert "wrote stay" not in t.stdout, t.stdout


def test_unimport_leaves_urls_tend_did_not_write(s):
    """A URL of a section written by hand, or of no section: left alone."""
    s.ini.parent.mkdir(parents=True)
    s.ini.write_text("[service mine]\nexec = %s\nstdio = mcp\n"
                     "listen = http:127.0.0.1:%d\n" % (" ".join(SERVER), s.port))
    doc = {"mcpServers": {
        "mine": {"type": "http", "url": "http://127.0.0.1:%d/mcp" % s.port},
        "other": {"type": "http", "url": "http://127.0.0.1:%d/mcp" % (s.port + 1)}}}
    s.write("./.mcp.json", doc)
    t = s.tend.run("mcp", "unimport", env=s.env, cwd=s.work)
    assert t.rc == 0, t.describe()
    assert "nothing to change" in t.stdout, t.stdout
    assert s.read("./.mcp.json") == doc
