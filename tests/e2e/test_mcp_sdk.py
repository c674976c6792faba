"""stdio = mcp against real MCP servers, through the official TypeScript SDK
(docs/mcp.md): many sessions, one server.

The servers and the SDK are pinned in tests/mcp (package.json and
package-lock.json); `make test` installs them with npm ci.  How each server
runs on stdio (M = tests/mcp/node_modules/@modelcontextprotocol):

  server-everything (bin mcp-server-everything; its one argument picks the
  transport, stdio | sse | streamableHttp, stdio when absent):
      node M/server-everything/dist/index.js stdio
  server-memory (bin mcp-server-memory; stdio only, no arguments; without
  MEMORY_FILE_PATH it writes memory.jsonl next to its own dist/index.js):
      MEMORY_FILE_PATH=/abs/memory.jsonl node M/server-memory/dist/index.js

tests/mcp/sdk_client.mjs is one SDK session (see its header); with --direct
it spawns the server itself, without tend:
      node tests/mcp/sdk_client.mjs --direct
      MEMORY_FILE_PATH=/tmp/m.jsonl node tests/mcp/sdk_client.mjs --direct --scenario memory-write
"""
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TEND_BIN, all_pids, children, comm, proc_stat, q

MCP = Path(__file__).resolve().parent.parent / "mcp"
SERVERS = MCP / "node_modules" / "@modelcontextprotocol"
EVERYTHING = SERVERS / "server-everything" / "dist" / "index.js"
MEMORY = SERVERS / "server-memory" / "dist" / "index.js"
SDK_CLIENT = MCP / "sdk_client.mjs"
NODE = shutil.which("node") or "node"

pytestmark = pytest.mark.skipif(
    not (MCP / "node_modules").is_dir(),
    reason="tests/mcp/node_modules is missing (make test installs it: npm ci in tests/mcp)")

CLIENT_TIMEOUT = 60     # sdk_client.mjs --timeout: a whole session


def start_client(env, reaper, out, *args):
    """A running `node sdk_client.mjs ARGS`, its stdout and stderr to
    OUT.stdout and OUT.stderr."""
    with open("%s.stdout" % out, "wb") as so, open("%s.stderr" % out, "wb") as se:
        proc = subprocess.Popen([NODE, str(SDK_CLIENT), "--timeout", str(CLIENT_TIMEOUT)]
                                + list(args), env=env, stdin=subprocess.DEVNULL,
                                stdout=so, stderr=se, start_new_session=True)
    reaper.track(proc)
    return proc


def result(proc, out, timeout=CLIENT_TIMEOUT + 10):
    """Waits for the client; returns (ok, its JSON line or what went wrong)."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False, "did not exit within %ss" % timeout
    text = Path("%s.stdout" % out).read_text(errors="replace")
    err = Path("%s.stderr" % out).read_text(errors="replace")
    try:
        res = json.loads(text.splitlines()[-1])
    except (IndexError, ValueError):
        res = None
    if proc.returncode == 0 and res and res.get("ok"):
        return True, res
    return False, "exit %s, stdout %r, stderr %s" % (proc.returncode, text, err[-2000:])


def descendants(root):
    """Pids of every process below ROOT."""
    kids = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            kids.setdefault(st[1], []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def spawns(p, name):
    return [e for e in p.events() if e["event"] == "spawned" and e["unit"] == name]


def test_ten_sdk_sessions_at_once_share_one_everything_server(project, reaper, tmp_path):
    """Ten SDK sessions at once, each with its own echo, progress and
    sampling, all served by one server-everything process the whole time."""
    p = project("[service everything]\nexec = %s %s stdio\nstdio = mcp\n"
                % (q(NODE), q(EVERYTHING)))
    p.up()
    daemon = p.daemon_pid()
    n = 10
    tag = reaper.tag[:8]
    outs = [tmp_path / ("client-%d" % i) for i in range(n)]
    clients = [start_client(p.env, reaper, outs[i], "--session", "s%d-%s" % (i, tag),
                            "--steps", str(2 + i), TEND_BIN, str(p.ini), "everything")
               for i in range(n)]

    # While they run: never more than one node below the daemon, always the
    # same one, the service's pid, below the daemon's one child (its keeper).
    servers, max_clients, samples = set(), 0, 0
    deadline = time.monotonic() + CLIENT_TIMEOUT + 10
    while any(c.poll() is None for c in clients) and time.monotonic() < deadline:
        nodes = [x for x in descendants(daemon) if comm(x) == "node"]
        kids = [x for x, _ in children(daemon)]
        u = p.unit("everything")
        assert len(nodes) <= 1 and len(kids) <= 1, (nodes, kids)
        assert [comm(k) for k in kids] in ([], ["tend-keeper"]), kids
        max_clients = max(max_clients, u["clients"])
        if nodes:
            samples += 1
            servers.add(nodes[0])
            st = proc_stat(nodes[0])
            assert u["pid"] == nodes[0] and st and st[1] in kids, (u, nodes, kids)
        time.sleep(0.2)

    results = [result(c, o) for c, o in zip(clients, outs)]
    bad = ["session %d: %s" % (i, r) for i, (ok, r) in enumerate(results) if not ok]
    assert not bad, "%d of %d sessions failed:\n%s\n%s" % (len(bad), n, "\n".join(bad),
                                                          p.describe())
    assert samples >= 3 and len(servers) == 1, (samples, servers)
    assert len(spawns(p, "everything")) == 1, p.describe()
    assert p.unit("everything")["pid"] in servers
    # Shared, not taken in turns: several sessions were connected at once.
    assert max_clients >= 2, "at most %d client connected at a time" % max_clients


def test_memory_sessions_one_after_another_see_one_knowledge_graph(project, reaper,
                                                                   tmp_path):
    """What one SDK session writes to server-memory, the next one reads, from
    the same server process."""
    memfile = tmp_path / "memory.jsonl"
    p = project("[service memory]\nexec = %s %s\nenv = MEMORY_FILE_PATH=%s\n"
                "stdio = mcp\n" % (q(NODE), q(MEMORY), q(memfile)))
    writer = "w-" + reaper.tag[:8]

    def session(*args):
        out = tmp_path / args[1]
        return result(start_client(p.env, reaper, out, *args, TEND_BIN, str(p.ini), "memory"),
                      out)
    ok, res = session("--scenario", "memory-write", "--session", writer)
    assert ok, res
    pid = p.unit("memory")["pid"]
    ok, res = session("--scenario", "memory-read", "--session", "r-" + reaper.tag[:8],
                      "--expect", writer)
    assert ok, res
    assert res["entity"] == "e-" + writer
    assert pid is not None and p.unit("memory")["pid"] == pid
    assert len(spawns(p, "memory")) == 1, p.describe()
    assert ("e-" + writer) in memfile.read_text()    # the file it was given


def test_sdk_client_alone_against_server_everything(tmp_path, reaper):
    """The client itself, with no tend: tells a broken client or server
    install from a broken tend."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "TEND_E2E_TAG": reaper.tag}
    out = tmp_path / "direct"
    ok, res = result(start_client(env, reaper, out, "--direct"), out)
    assert ok, res
