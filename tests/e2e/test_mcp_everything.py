"""stdio = mcp on the raw wire against @modelcontextprotocol/server-everything
(pinned in tests/mcp, installed by make test): the server requests, the
log levels, the subscriptions and the progress of a real server that nobody
here wrote, with several clients at once.

test_mcp.py checks each rule against a scriptable fake server;
test_mcp_sdk.py drives the official SDK client.  Here the test is the
client, so it can check which client got what."""
import pytest

from conftest import T_LONG, T_SHORT, q
from mcpwire import Client
from test_mcp_sdk import EVERYTHING, MCP, NODE

pytestmark = pytest.mark.skipif(
    not (MCP / "node_modules").is_dir(),
    reason="tests/mcp/node_modules is missing (make test installs it: npm ci in tests/mcp)")

ALL_CAPS = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}


def everything(project, share="all"):
    return project("[service everything]\nexec = %s %s stdio\nstdio = mcp\n"
                   "share = %s\n" % (q(NODE), q(EVERYTHING), share))


def client(p, reaper, label, caps=None):
    c = Client(p, reaper, "everything", label)
    c.initialize(caps)
    return c


def text_of(msg):
    assert "result" in msg, msg
    return " ".join(x.get("text", "") for x in msg["result"]["content"])


def server_request(c, method, timeout=T_LONG):
    return c.recv_until(lambda m: m.get("method") == method and "id" in m,
                        timeout, method)[0]


def answer(c, req, res):
    c.send({"jsonrpc": "2.0", "id": req["id"], "result": res})


def test_server_requests_reach_the_capable_client(project, reaper):
    """Rule 7 with server-everything: roots, sampling and elicitation go
    to the one client that declared them, with ids mapped both ways; the
    client without capabilities never sees one."""
    p = everything(project)
    bare = client(p, reaper, "bare")
    a = client(p, reaper, "a", ALL_CAPS)
    # Roots: the server asks again when told the list changed.
    a.notify("notifications/roots/list_changed")
    answer(a, server_request(a, "roots/list"),
           {"roots": [{"uri": "file:///work/a", "name": "a"}]})
    assert "file:///work/a" in text_of(a.call("get-roots-list", {}, T_LONG))
    mid = a.tool("trigger-sampling-request", {"prompt": "say a", "maxTokens": 5})
    req = server_request(a, "sampling/createMessage")
    assert "say a" in str(req["params"]), req
    answer(a, req, {"role": "assistant", "model": "m",
                    "content": {"type": "text", "text": "answer-of-a"}})
    assert "answer-of-a" in str(a.response(mid, T_LONG)[0])
    mid = a.tool("trigger-elicitation-request", {})
    req = server_request(a, "elicitation/create")
    answer(a, req, {"action": "decline"})
    assert "decline" in str(a.response(mid, T_LONG)[0])
    # The bare client's calls are its own; it never got a server request.
    assert text_of(bare.call("echo", {"message": "b"})) == "Echo: b"
    assert not [m for m, _ in bare.drain() if m and "method" in m and "id" in m]


def roots_of(c, uris):
    """get-roots-list of C, answering every roots/list C is asked meanwhile
    (by tend or by the server) with URIS."""
    mid = c.tool("get-roots-list", {})

    def step(m):
        if m.get("method") == "roots/list" and "id" in m:
            answer(c, m, {"roots": [{"uri": u, "name": u} for u in uris]})
            return False
        return m.get("id") == mid and "method" not in m
    return text_of(c.recv_until(step, T_LONG, "get-roots-list")[0])


def test_each_client_is_served_with_its_own_roots(project, reaper):
    """share = roots (the default) with server-everything, which keeps the
    roots its client gives it: two clients with different roots at once
    each see their own, never the other's; a third with A's set shares
    A's instance."""
    p = everything(project, "roots")
    a = Client(p, reaper, "everything", "a")
    b = Client(p, reaper, "everything", "b")
    for c in (a, b):
        c.send({"jsonrpc": "2.0", "id": "i", "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": ALL_CAPS,
            "clientInfo": {"name": c.label, "version": "0"}}})
        assert "result" in c.response("i", T_LONG)[0]
        c.notify("notifications/initialized")
    ra = roots_of(a, ["file:///work/a"])
    rb = roots_of(b, ["file:///work/b"])
    assert "file:///work/a" in ra and "file:///work/b" not in ra, ra
    assert "file:///work/b" in rb and "file:///work/a" not in rb, rb
    names = sorted(u["name"] for u in p.status() if u["name"].startswith("everything"))
    assert names == ["everything", "everything#1"], names


def test_progress_and_a_killed_client(project, reaper):
    """Rules 4 and 5 with server-everything: two clients with the same id
    and progress token each get their own progress and result; a client
    killed mid-operation does not disturb the other one."""
    p = everything(project)
    a = client(p, reaper, "a")
    b = client(p, reaper, "b")
    args = {"duration": 1, "steps": 4}
    for c in (a, b):
        c.tool("trigger-long-running-operation", args, mid=7,
               meta={"progressToken": "tok"})
    for c in (a, b):
        msg = c.response(7, T_LONG)[0]
        assert "result" in msg, msg
        got = [m["params"] for m, _ in c.drain()
               if m and m.get("method") == "notifications/progress"]
        assert got and all(x["progressToken"] == "tok" for x in got), got
        assert len(got) <= 4, got
    victim = client(p, reaper, "victim")
    victim.tool("trigger-long-running-operation", {"duration": 3, "steps": 3},
                meta={"progressToken": 1})
    a.tool("trigger-long-running-operation", {"duration": 1, "steps": 2},
           mid="after", meta={"progressToken": 1})
    victim.recv_until(lambda m: m.get("method") == "notifications/progress",
                      T_LONG, "progress")
    victim.kill()
    assert "result" in a.response("after", T_LONG)[0]
    assert text_of(a.call("echo", {"message": "still"})) == "Echo: still"


def test_log_levels_and_subscriptions(project, reaper):
    """Rule 6 with server-everything: each client gets the log messages at
    or above its own level; resource updates reach the subscribers of the
    URI only."""
    p = everything(project)
    loud = client(p, reaper, "loud")
    quiet = client(p, reaper, "quiet")
    other = client(p, reaper, "other")
    assert loud.ask("logging/setLevel", {"level": "debug"})["result"] == {}
    assert quiet.ask("logging/setLevel", {"level": "emergency"})["result"] == {}
    uri = "demo://resource/static/document/architecture.md"
    for c in (loud, quiet):
        assert c.ask("resources/subscribe", {"uri": uri})["result"] == {}
    loud.call("toggle-simulated-logging", {})
    loud.call("toggle-subscriber-updates", {})
    # The server sends a message at once, then every 5 s; updates every 5 s.
    loud.notification("notifications/message", T_LONG)
    for c in (loud, quiet):
        up = c.notification("notifications/resources/updated", T_LONG)
        assert up["params"]["uri"] == uri, up
    for m, _ in quiet.drain():
        if m and m.get("method") == "notifications/message":
            assert m["params"]["level"] == "emergency", m
    assert not [m for m, _ in other.drain()
                if m and m.get("method") == "notifications/resources/updated"]
    # other never set a level: it gets every message the server sends.
    other.notification("notifications/message", T_LONG)
    assert text_of(other.call("echo", {"message": "o"}, T_SHORT)) == "Echo: o"
