"""tend mcp import / unimport: the MCP clients' own configuration files
(Claude Code, Cursor, VS Code, Gemini CLI, Codex) rewritten so that their
stdio servers run through `tend connect -- CMD ...`, and back.

Every test has its own HOME and working directory holding a file of every
client, with the kinds of entries the clients write: stdio servers with
env, cwd and other members, HTTP and SSE servers, entries already through
tend."""
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import TEND_BIN

TEND_REAL = os.path.realpath(TEND_BIN)

# Servers that import moves through tend: (file key, scope, name) -> the
# command and args they run.
CLAUDE_USER = {
    "numStartups": 40,
    "cost": 0.1,
    "mcpServers": {
        "memory": {
            "type": "stdio",
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-memory"],
            "env": {"MEMORY_FILE_PATH": "/tmp/memory.json"},
        },
        "gh": {"type": "http", "url": "https://example.invalid/mcp",
               "headers": {"Authorization": "Bearer x"}},
    },
    "projects": {},   # the working directory's project: set by clients()
}
CLAUDE_PROJECT_SERVERS = {
    "fs": {"type": "stdio", "command": "/usr/bin/node",
           "args": ["/opt/fs/index.js", "/home/u/p"], "env": {}},
}
MCP_JSON = {
    "mcpServers": {
        "seq": {"command": "uvx", "env": {"API_TOKEN": "s3cret"}},
        "already": {"command": "tend", "args": ["connect", "--", "srv"]},
        "web": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
    }
}
CURSOR_USER = {
    "mcpServers": {
        "everything": {"command": "npx",
                       "args": ["-y", "@modelcontextprotocol/server-everything"]},
        "svc": {"command": "tend", "args": ["connect", "memory"]},
    }
}
CURSOR_PROJECT = {
    "mcpServers": {"local": {"command": "./bin/server", "args": ["--stdio"],
                             "cwd": "/srv"}}
}
VSCODE_WORKSPACE = {
    "inputs": [{"type": "promptString", "id": "key", "password": True}],
    "servers": {
        "a": {"type": "stdio", "command": "a-server", "args": ["${input:key}"],
              "envFile": "${workspaceFolder}/.env"},
        "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
    },
}
VSCODE_USER = {"servers": {"b": {"command": "b-server", "args": []}}}
GEMINI = {
    "theme": "Default",
    "mcpServers": {
        "py": {"command": "python3", "args": ["-m", "srv"], "cwd": "./srv",
               "timeout": 30000, "trust": False},
        "remote": {"httpUrl": "https://example.invalid/mcp"},
    },
}
CODEX = """model = "o3"

[mcp_servers.memory]
# the memory server
command = "npx"
args = ["-y", "@modelcontextprotocol/server-memory"]
env = { "API_KEY" = "value" }

[mcp_servers.web]
url = "https://example.invalid/mcp"
"""


class Clients:
    """A HOME and a working directory with every client's files."""

    def __init__(self, tmp_path, tend_env, workdir):
        self.home = tmp_path / "home"
        self.work = workdir
        self.env = dict(tend_env)
        self.env["HOME"] = str(self.home)
        self.env.pop("CODEX_HOME", None)
        # tend is not on PATH unless a test puts it there
        self.env["PATH"] = "/usr/bin:/bin"
        config = Path(self.env["XDG_CONFIG_HOME"])
        claude = json.loads(json.dumps(CLAUDE_USER))
        claude["projects"][str(workdir)] = {"allowedTools": [],
                                            "mcpServers": CLAUDE_PROJECT_SERVERS}
        self.json_files = {
            "claude": (self.home / ".claude.json", claude),
            "mcp": (workdir / ".mcp.json", MCP_JSON),
            "cursor": (self.home / ".cursor" / "mcp.json", CURSOR_USER),
            "cursor-project": (workdir / ".cursor" / "mcp.json", CURSOR_PROJECT),
            "vscode": (workdir / ".vscode" / "mcp.json", VSCODE_WORKSPACE),
            "vscode-user": (config / "Code" / "User" / "mcp.json", VSCODE_USER),
            "gemini": (self.home / ".gemini" / "settings.json", GEMINI),
        }
        for key, (path, doc) in self.json_files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            # the way the clients write them: JSON.stringify(doc, null, 2)
            path.write_text(json.dumps(doc, indent=2))
        os.chmod(self.home / ".claude.json", 0o600)
        self.codex = self.home / ".codex" / "config.toml"
        self.codex.parent.mkdir(parents=True, exist_ok=True)
        self.codex.write_text(CODEX)

    def path(self, key):
        return self.json_files[key][0]

    def load(self, key):
        return json.loads(self.path(key).read_text())

    def snapshot(self):
        """Every file under HOME and the working directory: bytes, mode."""
        out = {}
        for root in (self.home, self.work, Path(self.env["XDG_CONFIG_HOME"])):
            for p in sorted(root.rglob("*")):
                if p.is_file() or p.is_symlink():
                    st = os.lstat(p)
                    data = os.readlink(p) if p.is_symlink() else p.read_bytes()
                    out[str(p)] = (data, stat.S_IMODE(st.st_mode))
        return out

    def backups(self):
        return sorted(str(p) for root in (self.home, self.work,
                                          Path(self.env["XDG_CONFIG_HOME"]))
                      for p in root.rglob("*.tend-backup*"))


@pytest.fixture
def clients(tmp_path, tend_env, workdir):
    return Clients(tmp_path, tend_env, workdir)


def mcp(tend, clients, *args, env=None):
    t = tend.run("mcp", *args, env=env or clients.env, cwd=clients.work)
    return t


def through(cmd, args, tend_cmd=TEND_REAL):
    return {"command": tend_cmd, "args": ["connect", "--", cmd] + list(args)}


def stdio_entries(clients):
    """(key, scope, name, entry) of every stdio entry import changes."""
    out = []
    for key, (path, doc) in clients.json_files.items():
        maps = [(None, doc.get("servers" if key.startswith("vscode") else
                               "mcpServers", {}))]
        if key == "claude":
            maps += [(p, v.get("mcpServers", {}))
                     for p, v in doc["projects"].items()]
        for scope, servers in maps:
            for name, e in servers.items():
                if "url" in e or "httpUrl" in e or e["command"] == "tend":
                    continue
                out.append((key, scope, name, e))
    return out


def servers_of(doc, key, scope):
    if scope:
        return doc["projects"][scope]["mcpServers"]
    return doc["servers" if key.startswith("vscode") else "mcpServers"]


def test_dry_run_writes_nothing_and_shows_a_diff(tend, clients, tmp_path):
    before = clients.snapshot()
    t = mcp(tend, clients, "import", "--dry-run")
    assert t.rc == 0, t.describe()
    assert clients.snapshot() == before, "a dry run wrote something"
    assert clients.backups() == []
    out = t.stdout
    for key in clients.json_files:
        p = str(clients.path(key))
        assert "--- %s\n+++ %s\n" % (p, p) in out, (key, out)
    assert '+      "command": "%s",' % TEND_REAL in out
    assert "would run through tend: npx -y @modelcontextprotocol/server-memory" in out
    assert "summary (dry run, nothing written): 8 servers would run through tend" in out
    # the diff is one patch(1) applies, and gives what import writes
    copy = tmp_path / "copy"
    shutil.copytree(clients.home, copy / "home", symlinks=True)
    diffs = out.replace(str(clients.home), str(copy / "home"))
    start = diffs.index("--- %s/.claude.json" % (copy / "home"))
    end = diffs.index("\n", diffs.index("\n" + str(clients.work) + "/.mcp.json"))
    r = subprocess.run(["patch", "-p0", "--dry-run"], input=diffs[start:end + 1],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["patch", "-p0", "-s"], input=diffs[start:end + 1],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr
    t = mcp(tend, clients, "import", "claude")
    assert t.rc == 0, t.describe()
    assert (copy / "home" / ".claude.json").read_text() == \
        clients.path("claude").read_text()


def test_import_rewrites_backs_up_and_unimport_restores(tend, clients):
    originals = {k: clients.path(k).read_bytes() for k in clients.json_files}
    codex = clients.codex.read_bytes()
    t = mcp(tend, clients, "import")
    assert t.rc == 0, t.describe()
    out = t.stdout
    assert "note: tend is not on PATH: the entries name %s" % TEND_REAL in out
    # every stdio server through tend, everything else of the entry kept,
    # in its order
    for key, scope, name, e in stdio_entries(clients):
        now = servers_of(clients.load(key), key, scope)[name]
        want = dict(e, **through(e["command"], e.get("args", [])))
        assert now == want, (key, name, now)
        keys = list(e)
        if "args" not in keys:
            keys.insert(keys.index("command") + 1, "args")
        assert list(now) == keys, (key, name)
    # the rest of each file is as it was
    claude = clients.load("claude")
    assert claude["numStartups"] == 40 and claude["cost"] == 0.1
    assert claude["mcpServers"]["gh"] == CLAUDE_USER["mcpServers"]["gh"]
    assert clients.load("mcp")["mcpServers"]["already"] == \
        MCP_JSON["mcpServers"]["already"]
    assert clients.load("cursor")["mcpServers"]["svc"] == \
        CURSOR_USER["mcpServers"]["svc"]
    assert clients.load("vscode")["inputs"] == VSCODE_WORKSPACE["inputs"]
    # listed: one line each
    assert "  gh: left alone: a remote server (type http)" in out
    assert "  web: left alone: a remote server (type sse)" in out
    assert "  remote: left alone: a remote server (httpUrl)" in out
    assert "  already: left alone: already through tend (srv)" in out
    assert "  svc: left alone: already through tend (service memory)" in out
    assert "  [project %s] fs: runs through tend now: /usr/bin/node " \
        "/opt/fs/index.js /home/u/p" % clients.work in out
    assert "summary: 8 servers run through tend now, 7 left alone, " \
        "1 to change by hand (codex); 7 files written" in out
    # a backup of each, as it was, with its mode
    for key in clients.json_files:
        p = clients.path(key)
        b = Path(str(p) + ".tend-backup")
        assert b.read_bytes() == originals[key], key
        assert stat.S_IMODE(b.stat().st_mode) == stat.S_IMODE(p.stat().st_mode)
        assert "backup of the file as it was: %s" % b in out
    assert stat.S_IMODE(clients.path("claude").stat().st_mode) == 0o600
    # no temporary file left behind
    assert not [p for p in clients.home.rglob("*.tend-*") if "backup" not in p.name]
    # Codex: never written; the table to paste
    assert clients.codex.read_bytes() == codex
    assert ('[mcp_servers.memory]\n# the memory server\ncommand = "%s"\n'
            'args = ["connect", "--", "npx", "-y", '
            '"@modelcontextprotocol/server-memory"]\n'
            'env = { "API_KEY" = "value" }\n' % TEND_REAL) in out

    # a second import: nothing to do, nothing written
    before = clients.snapshot()
    t = mcp(tend, clients, "import")
    assert t.rc == 0, t.describe()
    assert clients.snapshot() == before
    assert "summary: 0 servers run through tend now" in t.stdout

    t = mcp(tend, clients, "unimport")
    assert t.rc == 0, t.describe()
    for key in clients.json_files:
        if key == "mcp":
            continue
        assert clients.load(key) == json.loads(originals[key]), key
        assert list(clients.load(key)) == list(json.loads(originals[key]))
        b1 = Path(str(clients.path(key)) + ".tend-backup.1")
        assert "backup of the file as it was: %s" % b1 in t.stdout
        assert Path(str(clients.path(key)) + ".tend-backup").read_bytes() == \
            originals[key]
    # .mcp.json: the entry written through tend by hand is unwrapped too
    mcp_json = clients.load("mcp")
    assert mcp_json["mcpServers"]["seq"] == MCP_JSON["mcpServers"]["seq"]
    assert mcp_json["mcpServers"]["already"] == {"command": "srv", "args": []}
    assert "  svc: left alone: it connects to the service memory" in t.stdout
    assert "  memory: to run directly, paste its table below" not in t.stdout


def test_tend_on_path_is_written_as_tend(tend, clients, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(TEND_BIN, bin_dir / "tend")
    env = dict(clients.env, PATH="%s:/usr/bin:/bin" % bin_dir)
    t = mcp(tend, clients, "import", "gemini", env=env)
    assert t.rc == 0, t.describe()
    assert "not on PATH" not in t.stdout
    py = clients.load("gemini")["mcpServers"]["py"]
    assert py["command"] == "tend"
    assert py["args"] == ["connect", "--", "python3", "-m", "srv"]
    # only the client named
    assert not Path(str(clients.path("claude")) + ".tend-backup").exists()


def test_file_not_json_is_named_and_the_others_are_done(tend, clients):
    bad = clients.path("mcp")
    bad.write_text('{"mcpServers": {\n  "a": {"command": "a"}\n')
    before = bad.read_bytes()
    t = mcp(tend, clients, "import")
    assert t.rc == 1, t.describe()
    errors = [l for l in t.stderr_lines() if str(bad) in l]
    assert len(errors) == 1, t.describe()
    assert errors[0].startswith("tend: %s:3:" % bad), errors[0]
    assert "not JSON" in errors[0] and "left untouched" in errors[0]
    assert bad.read_bytes() == before
    assert not Path(str(bad) + ".tend-backup").exists()
    # the others were processed
    assert clients.load("cursor")["mcpServers"]["everything"]["command"] == TEND_REAL
    assert "1 file could not be read, parsed or written" in t.stdout


def test_empty_file_is_nothing_to_change(tend, clients):
    p = clients.path("cursor-project")
    p.write_text("\n")
    t = mcp(tend, clients, "import", "cursor")
    assert t.rc == 0, t.describe()
    assert "%s (Cursor, project)\n  empty: nothing to change\n" % p in t.stdout
    assert p.read_text() == "\n"


def test_file_that_cannot_be_written_is_named_and_the_others_are_done(tend, clients):
    # every backup name taken: tend writes nothing rather than overwrite one
    p = clients.path("gemini")
    before = p.read_bytes()
    Path(str(p) + ".tend-backup").write_text("old")
    for n in range(1, 1000):
        Path("%s.tend-backup.%d" % (p, n)).write_text("old")
    t = mcp(tend, clients, "import")
    assert t.rc == 1, t.describe()
    errors = [l for l in t.stderr_lines() if str(p) in l]
    assert len(errors) == 1 and "1000 backups of it exist already" in errors[0], \
        t.describe()
    assert p.read_bytes() == before
    assert Path(str(p) + ".tend-backup").read_text() == "old"
    assert clients.load("cursor")["mcpServers"]["everything"]["command"] == TEND_REAL
    assert "1 file could not be read, parsed or written" in t.stdout
    assert "summary: 7 servers run through tend now" in t.stdout
    assert "  py: would run through tend: python3 -m srv" in t.stdout


def test_jsonc_file_is_left_untouched(tend, clients):
    p = clients.path("vscode")
    text = ('{\n  // my servers\n  "servers": {\n    "a": {"type": "stdio", '
            '"command": "a", },\n  }\n}\n')
    p.write_text(text)
    t = mcp(tend, clients, "import", "vscode")
    assert t.rc == 1, t.describe()
    line = t.stderr_lines()[0]
    assert line.startswith("tend: %s:2:3: not strict JSON (it has comments" % p), line
    assert "by hand" in line
    assert p.read_text() == text
    assert not Path(str(p) + ".tend-backup").exists()
    # the user file of VS Code was done
    assert clients.load("vscode-user")["servers"]["b"]["command"] == TEND_REAL


def test_symlinked_config_edits_its_target(tend, clients):
    link = clients.path("cursor")
    target = clients.home / "dotfiles" / "cursor-mcp.json"
    target.parent.mkdir()
    shutil.move(str(link), str(target))
    os.chmod(target, 0o640)
    os.symlink("../dotfiles/cursor-mcp.json", link)
    t = mcp(tend, clients, "import", "cursor")
    assert t.rc == 0, t.describe()
    assert "a symlink: tend edits its target, %s" % target in t.stdout
    assert os.path.islink(link)
    assert os.readlink(link) == "../dotfiles/cursor-mcp.json"
    doc = json.loads(target.read_text())
    assert doc["mcpServers"]["everything"]["command"] == TEND_REAL
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert Path(str(target) + ".tend-backup").exists()
    assert not Path(str(link) + ".tend-backup").exists()
    t = mcp(tend, clients, "unimport", "cursor")
    assert t.rc == 0, t.describe()
    assert os.path.islink(link)
    assert json.loads(target.read_text()) == CURSOR_USER


def test_backups_are_never_overwritten(tend, clients):
    p = clients.path("gemini")
    first = p.read_bytes()
    assert mcp(tend, clients, "import", "gemini").rc == 0
    doc = clients.load("gemini")
    doc["mcpServers"]["new"] = {"command": "new-server"}
    p.write_text(json.dumps(doc, indent=2))
    second = p.read_bytes()
    t = mcp(tend, clients, "import", "gemini")
    assert t.rc == 0, t.describe()
    assert "  new: runs through tend now: new-server" in t.stdout
    assert Path(str(p) + ".tend-backup").read_bytes() == first
    assert Path(str(p) + ".tend-backup.1").read_bytes() == second
    t = mcp(tend, clients, "unimport", "gemini")
    assert t.rc == 0, t.describe()
    assert "backup of the file as it was: %s.tend-backup.2" % p in t.stdout
    doc = clients.load("gemini")
    assert doc["mcpServers"]["new"] == {"command": "new-server"}
    assert doc["mcpServers"]["py"] == GEMINI["mcpServers"]["py"]


def test_unimport_dry_run_shows_the_way_back(tend, clients):
    assert mcp(tend, clients, "import", "cursor").rc == 0
    before = clients.snapshot()
    t = mcp(tend, clients, "unimport", "cursor", "--dry-run")
    assert t.rc == 0, t.describe()
    assert clients.snapshot() == before
    assert '-      "command": "%s",' % TEND_REAL in t.stdout
    assert '+      "command": "npx",' in t.stdout
    assert "everything: would run directly again: npx -y " \
        "@modelcontextprotocol/server-everything" in t.stdout


def test_names_are_printed_cleaned(tend, clients):
    p = clients.path("mcp")
    p.write_text(json.dumps({"mcpServers": {
        "evil\u001b[31m\u009b": {"command": "x\u0007y"}}}))
    t = mcp(tend, clients, "import", "claude", "--dry-run")
    assert t.rc == 0, t.describe()
    assert "\x1b" not in t.stdout and "\x07" not in t.stdout
    assert "\u009b" not in t.stdout
    assert "evil?[31m?: would run through tend" in t.stdout


def test_no_configuration_at_all(tend, clients, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(clients.env, HOME=str(empty), XDG_CONFIG_HOME=str(empty))
    t = tend.run("mcp", "import", env=env, cwd=empty)
    assert t.rc == 0, t.describe()
    assert "no MCP client configuration file found" in t.stdout
    t = tend.run("mcp", "import", "cursor", env=env, cwd=empty)
    assert t.rc == 0, t.describe()
    assert "cursor: no configuration file found" in t.stdout


@pytest.mark.parametrize("args, want", [
    (["import", "claud"], 'unknown client "claud"'),
    (["import", "--frobnicate"], 'unknown flag "--frobnicate"'),
    (["unimport", "-n"], 'unknown flag "-n"'),
    (["export"], 'unknown command "export"'),
])
def test_bad_usage_is_one_line_exit_2(tend, clients, args, want):
    before = clients.snapshot()
    t = mcp(tend, clients, *args)
    assert t.rc == 2, t.describe()
    lines = t.stderr_lines()
    assert len(lines) == 1 and lines[0].startswith("tend: mcp"), t.describe()
    assert want in lines[0]
    assert t.stdout == ""
    assert clients.snapshot() == before


def test_usage_and_help(tend, clients):
    t = mcp(tend, clients)
    assert t.rc == 2 and t.stderr.startswith("usage: tend mcp import")
    t = tend.run("-c", "x.ini", "mcp", "import", env=clients.env, cwd=clients.work)
    assert t.rc == 2, t.describe()
    for args in (["--help"], ["import", "--help"], ["unimport", "-h"], ["help"]):
        t = mcp(tend, clients, *args)
        assert t.rc == 0, t.describe()
        assert t.stdout.startswith("usage: tend mcp import [CLIENT ...] [--dry-run]")
        for client in ("claude", "cursor", "vscode", "gemini", "codex"):
            assert "\n  %s " % client in t.stdout
    t = tend.run("--help")
    assert "mcp import|unimport" in t.stdout
