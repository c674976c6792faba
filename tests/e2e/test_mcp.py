"""stdio = mcp on the wire: raw JSON-RPC lines between `tend connect`
clients, tend and a fake MCP server (bin/mcp_server.py), one test (or
more) per numbered rule of docs/mcp.md.  The server appends every line it
receives to a log, so the tests can tell exactly what reached it."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import (BIN, PY, T_LONG, T_SHORT, TEND_BIN, alive, q,
                      wait_until)
from mcpwire import (Client, ServerLog, big_text, dumps, error_code,
                     is_response, result)

SERVER = "%s %s" % (PY, BIN / "mcp_server.py")
SERVER_CAPS = {"tools": {"listChanged": True},
               "resources": {"subscribe": True, "listChanged": True},
               "prompts": {"listChanged": True}, "logging": {}}
NUMBER = rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
URI = "file:///notes.txt"
SAMPLING = {"sampling": {}}


class Fake:
    """A project whose service svc (stdio = mcp) runs the fake server,
    with its log, run list and pid files in one directory."""

    def __init__(self, project, reaper, tmp_path, conf="", **env):
        self.dir = tmp_path / "mcp"
        self.piddir = self.dir / "pids"
        self.piddir.mkdir(parents=True)
        reaper.track_dir(self.piddir)
        self.reaper = reaper
        self.log = ServerLog(self.dir / "server.log")
        env = dict({"MCP_LOG": self.log.path, "MCP_RUNS": self.dir / "runs",
                    "MCP_PIDDIR": self.piddir}, **env)
        if "share =" not in conf:
            # The rules of the multiplexer, apart from who shares what
            # (share = roots, the default, has tests of its own).
            conf = "share = all\n" + conf
        self.p = project("[service svc]\nexec = %s\nstdio = mcp\n%s%s"
                         % (SERVER, "".join("env = %s=%s\n" % (k, q(v))
                                            for k, v in env.items()), conf))

    def client(self, label, caps=None, init=True, mid=None):
        c = Client(self.p, self.reaper, "svc", label)
        if init:
            c.initialize(caps, mid=mid)
        return c

    def path(self, name):
        """A path in the test's directory (not made)."""
        return str(self.dir / name)

    def runs(self):
        """Pids of the server processes, in start order."""
        try:
            return [int(x) for x in (self.dir / "runs").read_text().split()]
        except FileNotFoundError:
            return []


def touch(path):
    Path(path).touch()


def tend_error(msg, code):
    """MSG is an error of tend's own, CODE, whose message starts with tend:"""
    assert error_code(msg) == code, msg
    assert msg["error"]["message"].startswith("tend:"), msg
    return msg["error"]["message"]


def notifications(client, *methods, timeout=T_SHORT):
    """The next notification of CLIENT whose method is one of METHODS."""
    return client.recv_until(lambda m: m.get("method") in methods
                             and "id" not in m, timeout,
                             "notification %s" % (methods,))[0]


def server_requests(client):
    """Requests (from the server) that CLIENT got and did not take yet."""
    return [m for m, _ in client.drain()
            if isinstance(m, dict) and "method" in m and "id" in m]


def request_ids(log, name):
    """The ids of tools/call NAME as the server saw them."""
    return [m["id"] for m in log.tool_calls(name)]


def is_tend_id(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --- rule 1: ids -----------------------------------------------------------

def test_client_ids_come_back_byte_for_byte_and_the_server_sees_numbers(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    c = f.client("a")
    long_id = b'"' + b"x" * 5000 + b'"'
    tokens = [b'"a"', b'7', b'1.0', b'"\\u0041"', b'-0', b'1e2', long_id]
    for n, tok in enumerate(tokens):          # all in flight at once
        c.send(b'{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":'
               b'{"name":"echo","arguments":{"n":%d}}}' % (tok, n))
    got = {}
    for _ in tokens:
        msg, raw = c.recv_until(is_response, what="an echo's response")
        got[result(msg)["n"]] = raw
    for n, tok in enumerate(tokens):
        assert got[n] == (b'{"jsonrpc":"2.0","id":%s,"result":{"content":'
                          b'[{"type":"text","text":"echo"}],'
                          b'"structuredContent":{"n":%d}}}' % (tok, n)), got[n]
    ids = request_ids(f.log, "echo")
    assert len(ids) == len(tokens) and all(map(is_tend_id, ids)), ids
    assert not any(b"xxxxx" in line for line in f.log.raw())

    # Everything but the id reaches the server as it was written.
    pre = (b'{ "jsonrpc" : "2.0" , "method":"tools/call", "id" : ')
    post = (b' ,"params":{"name":"echo","arguments":{"s":"caf\\u00e9 \\/ '
            b'\xc3\xa9","f":1.50,"e":1E+2,"z":-0.0},"x":[ ]} }')
    c.send(pre + b'"w\\u0041"' + post)
    msg, raw = c.response("wA")
    assert raw.startswith(b'{"jsonrpc":"2.0","id":"w\\u0041","result":'), raw
    line = [ln for ln in f.log.raw() if ln.startswith(pre)]
    assert len(line) == 1, f.log.raw()
    assert re.fullmatch(re.escape(pre) + NUMBER + re.escape(post), line[0]), \
        line[0]


def test_ten_clients_with_the_same_ids_at_once_get_their_own_answers(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    cs = [f.client("c%d" % i, mid=0) for i in range(10)]
    for i, c in enumerate(cs):
        c.tool("hold", {"value": i}, mid=1)
    # One client reuses an id that is still in flight.
    cs[0].tool("hold", {"value": "again"}, mid=1)
    calls = f.log.wait_tool("hold", 11)
    ids = [m["id"] for m in calls]
    assert all(map(is_tend_id, ids)) and len(set(ids)) == 11, ids
    assert result(cs[1].call("release")) == {"released": 11}
    for i, c in enumerate(cs):
        want = [i, "again"] if i == 0 else [i]
        got = []
        for _ in want:
            msg, raw = c.response(1)
            assert raw.startswith(b'{"jsonrpc":"2.0","id":1,"result":'), raw
            got.append(result(msg)["value"])
        assert sorted(got, key=str) == sorted(want, key=str), (c.label, got)
    for c in cs:                      # nothing else (someone else's answer)
        assert c.drain() == [], c.label
    assert len(f.log.find("initialize")) == 1


def test_what_is_no_json_rpc_request_is_answered_by_tend_alone(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    c = f.client("a")
    f.log.wait("notifications/initialized")      # tend's, sent on its own
    before = len(f.log.raw())
    bad = [(b'{"jsonrpc":"2.0","id":null,"method":"tools/call",'
            b'"params":{"name":"echo","arguments":{"bad":1}}}', -32600),
           (b'[{"jsonrpc":"2.0","id":1,"method":"tools/call",'
            b'"params":{"name":"echo","arguments":{"bad":2}}}]', -32600),
           (b'not json at all', -32700),
           (b'{"jsonrpc":"2.0","id":3,"method":"tools/call"', -32700),
           (b'{"hello":"world"}', -32600),
           (b'42', -32600)]
    for line, code in bad:
        c.send(line)
        msg, _ = c.recv_until(is_response, what="tend's answer to %r" % line)
        assert msg.get("id", "absent") is None, (line, msg)
        tend_error(msg, code)
    assert result(c.call("echo", {"good": 1})) == {"good": 1}
    new = f.log.messages()[before:]
    assert [m.get("method") for m in new] == ["tools/call"], new
    assert c.drain() == []


# --- rule 2: initialize --------------------------------------------------

def test_the_server_is_initialized_once_for_ten_clients(
        project, reaper, tmp_path):
    gate = tmp_path / "gate"
    f = Fake(project, reaper, tmp_path, MCP_INIT_GATE=gate)
    # The first client does not wait: initialize, initialized and a call
    # all come before the server has answered tend's initialize.
    cs = [f.client("c%d" % i, init=False) for i in range(10)]
    for i, c in enumerate(cs):
        c.request("initialize", {"protocolVersion": "2099-01-01",
                                 "capabilities": {}, "clientInfo":
                                 {"name": c.label, "version": "0"}},
                  mid="init-%d" % i)
        c.notify("notifications/initialized")
        c.tool("echo", {"who": i}, mid="early")
        if i == 0:
            f.log.wait("initialize", timeout=T_LONG)
    touch(gate)
    for i, c in enumerate(cs):
        msg, raw = c.response("init-%d" % i, T_LONG)
        assert b'"id":"init-%d"' % i in raw, raw
        r = msg["result"]
        assert r["protocolVersion"] == "2025-06-18", r
        assert r["serverInfo"] == {"name": "fake", "version": "1"}, r
        assert r["capabilities"] == SERVER_CAPS, r
        assert result(c.response("early")[0]) == {"who": i}
    inits = f.log.find("initialize")
    assert len(inits) == 1, inits
    params = inits[0]["params"]
    # tend asks the server for the version its clients asked for.
    assert params["protocolVersion"] == "2099-01-01", params
    caps = params["capabilities"]
    assert caps["roots"]["listChanged"] is True, caps
    assert "sampling" in caps and "elicitation" in caps, caps
    assert len(f.log.find("notifications/initialized")) == 1
    methods = [m.get("method") for m in f.log.messages()]
    assert methods.index("notifications/initialized") < \
        methods.index("tools/call"), methods

    # A client of the stateless era probing with server/discover gets the
    # server's own answer (this one knows no such method), and falls back.
    msg, raw = cs[1].response(cs[1].request("server/discover", {}))
    assert error_code(msg) == -32601, msg
    assert not msg["error"]["message"].startswith("tend:"), msg
    assert len(f.log.find("server/discover")) == 1


VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]


def server_pids(f):
    """Pids of the fake server's processes alive now."""
    out = []
    for name in os.listdir(f.piddir):
        if name.startswith("server-"):
            pid, start = (int(x) for x in (f.piddir / name).read_text().split())
            if alive(pid, start):
                out.append(pid)
    return out


def test_every_client_gets_the_protocol_version_it_asked_for(
        project, reaper, tmp_path):
    """A client of each version the server accepts gets that version, as
    directly: an instance of the server per version in use, initialized
    with it; a version the server does not know gets what the server
    answers (its newest); instances other than the service's own go with
    their last client."""
    f = Fake(project, reaper, tmp_path, MCP_VERSIONS=" ".join(VERSIONS))
    clients = []
    for v in VERSIONS + ["1999-01-01"]:
        c = f.client(v, init=False)
        r = c.initialize(version=v)
        assert r["protocolVersion"] == (v if v in VERSIONS else VERSIONS[0]), r
        assert result(c.call("echo", {"v": v})) == {"v": v}
        clients.append(c)
    asked = sorted(m["params"]["protocolVersion"] for m in f.log.find("initialize"))
    assert asked == sorted(VERSIONS + ["1999-01-01"]), asked
    assert len(server_pids(f)) == 5
    # A second client of a version joins its instance.
    d = f.client("again", init=False)
    assert d.initialize(version="2025-03-26")["protocolVersion"] == "2025-03-26"
    assert len(f.log.find("initialize")) == 5
    st = f.p.status()
    names = sorted(u["name"] for u in st if u["name"].startswith("svc"))
    assert names == ["svc"] + ["svc#%d" % i for i in range(1, 5)], names
    for c in clients[1:] + [d]:
        c.close()
        assert c.wait() == 0, c.describe()
    wait_until(lambda: len(server_pids(f)) == 1, T_LONG,
               what="the instances to go with their clients")
    assert result(clients[0].call("echo", {"still": 1})) == {"still": 1}


def test_lists_are_answered_from_the_cache_even_while_the_server_starts(
        project, reaper, tmp_path):
    """initialize and tools/list of a new client need no round trip once
    a client asked; after an idle stop they are answered while the server
    starts again; the new process is asked again, and when it says
    otherwise the clients are told with list_changed."""
    gate = tmp_path / "gate"
    f = Fake(project, reaper, tmp_path, "idle-stop = 1s\n", MCP_TOOL="slow{run}",
             MCP_INIT_GATE=gate)
    touch(gate)

    def tools(client):
        msg = client.ask("tools/list", timeout=T_LONG)
        assert "result" in msg, msg
        return [t["name"] for t in msg["result"]["tools"]]
    a = f.client("a")
    names = tools(a)
    assert names == ["echo", "slow1"], names
    b = f.client("b")
    assert tools(b) == names
    assert len(f.log.find("tools/list")) == 1
    a.close()
    b.close()
    assert a.wait() == 0 and b.wait() == 0
    f.p.wait_event("idle_stop", unit="svc")
    wait_until(lambda: not server_pids(f), T_LONG, what="the idle stop")
    gate.unlink()
    c = f.client("c")                          # the server waits at its gate
    t0 = time.monotonic()
    assert tools(c) == names
    assert time.monotonic() - t0 < T_SHORT
    f.log.wait("initialize", n=2, timeout=T_LONG)   # it was woken at once
    assert len(f.log.find("tools/list")) == 1
    touch(gate)
    # The new process lists "slow2": C is told, and lists again.
    notifications(c, "notifications/tools/list_changed", timeout=T_LONG)
    assert tools(c) == ["echo", "slow2"]
    # A list_changed from the server drops the cached list, and tend asks
    # for it again at once: the next client has it without a round trip.
    n = len(f.log.find("tools/list"))
    notify(c, "notifications/tools/list_changed")
    notifications(c, "notifications/tools/list_changed")
    f.log.wait("tools/list", n=n + 1)
    assert tools(c) == ["echo", "slow2"]   # (the server's, or the new cache)
    m = len(f.log.find("tools/list"))
    assert m in (n + 1, n + 2)
    d = f.client("d")
    assert tools(d) == ["echo", "slow2"]
    assert len(f.log.find("tools/list")) == m


def test_an_error_because_the_server_failed_says_why_in_its_own_words(
        project, reaper):
    """A server that dies before answering: the client's error carries the
    server's last stderr lines and the command that shows more; once the
    service has given up, a new client starts it again with a new crash
    budget (event woke from failed)."""
    p = project("[service svc]\nexec = /bin/sh -c %s\nstdio = mcp\n"
                "max-crashes = 2/1m\nbackoff = 10ms..20ms\n"
                % q("echo 'starting'; echo 'error: missing API key "
                    "(set FOO_API_KEY)' >&2; exit 1"))

    def init(label):
        c = Client(p, reaper, "svc", label)
        mid = c.request("initialize", {"protocolVersion": "2025-06-18",
                                       "capabilities": {}, "clientInfo":
                                       {"name": label, "version": "0"}})
        return c.response(mid, T_LONG)[0]
    msg = init("a")
    text = tend_error(msg, -32603)
    assert "missing API key (set FOO_API_KEY)" in text, text
    assert "tend logs svc" in text, text
    assert "exit code 1" in text, text
    assert p.status("svc")[0]["state"] == "failed"
    msg = init("b")
    assert "missing API key" in tend_error(msg, -32603)
    woke = p.wait_event("woke", unit="svc", **{"from": "failed"})
    assert woke["crash_budget"] == "new", woke


ROOTS = {"roots": {"listChanged": True}}


def rooted(f, label, uris):
    """A client with the roots capability whose roots are URIS: it answers
    tend's roots/list (share = roots asks every such client)."""
    c = f.client(label, ROOTS)
    answer(c, "roots/list", {"roots": [{"uri": u} for u in uris]})
    return c


def answer_roots(peers, uris_of):
    """One of PEERS takes the server's roots/list and answers with its
    roots (URIS_OF(peer)); returns it."""
    deadline = time.monotonic() + T_LONG
    while time.monotonic() < deadline:
        for p in peers:
            try:
                req, _ = p.recv_until(lambda m: m.get("method") == "roots/list"
                                      and "id" in m, 0.1, "roots/list")
            except AssertionError:
                continue
            p.send(b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (
                dumps(req["id"]), dumps({"roots": [{"uri": u}
                                                   for u in uris_of(p)]})))
            return p
    raise AssertionError("no client of %s was asked for its roots"
                         % [p.label for p in peers])


def test_clients_share_an_instance_only_with_the_same_roots(
        project, reaper, tmp_path):
    """share = roots (the default): a server given roots by one client
    never serves a client with another set; clients with the same set
    share; roots/list from the server goes to a client of its own set;
    a client whose roots change moves to the instance of its new set."""
    f = Fake(project, reaper, tmp_path, "share = roots\n")
    a = rooted(f, "a", ["file:///a"])
    b = rooted(f, "b", ["file:///b"])
    c = rooted(f, "c", ["file:///a", "file:///a"])   # the same set as A
    for x in (a, b, c):
        assert result(x.call("echo", {"who": x.label})) == {"who": x.label}
    assert len(server_pids(f)) == 2
    sets = {}
    for x in (a, b, c):
        mid = x.tool("roots")
        # Whichever client of X's instance is asked answers with its roots.
        answer_roots((a, c) if x is not b else (b,),
                     lambda p: ["file:///b"] if p is b else ["file:///a"])
        r = result(x.response(mid, T_LONG)[0])
        sets[x.label] = [u["uri"] for u in r["response"]["result"]["roots"]]
    assert sets == {"a": ["file:///a"], "b": ["file:///b"], "c": ["file:///a"]}, sets
    # C's roots change to B's: it moves (once nothing of its is pending).
    c.notify("notifications/roots/list_changed")
    answer(c, "roots/list", {"roots": [{"uri": "file:///b"}]})
    assert result(c.call("echo", {"moved": 1})) == {"moved": 1}
    mid = c.tool("roots")
    assert answer_roots((b, c), lambda p: ["file:///b"]) in (b, c)
    r = result(c.response(mid, T_LONG)[0])
    assert [u["uri"] for u in r["response"]["result"]["roots"]] == ["file:///b"]
    wait_until(lambda: len(server_pids(f)) == 2, T_LONG, what="two instances")
    assert not f.log.find("notifications/roots/list_changed")
    for x in (a, b, c):
        x.close()
        assert x.wait() == 0, x.describe()


def test_a_piped_client_with_roots_gets_every_answer(project, reaper, tmp_path):
    """share = roots, the server's initialize cached: a client declaring
    roots whose input ends before it could answer tend's roots/list is
    served as one without roots, and gets every answer."""
    f = Fake(project, reaper, tmp_path, "share = roots\n")
    first = f.client("first")
    assert result(first.call("echo", {"x": 0})) == {"x": 0}
    c = Client(f.p, reaper, "svc", "piped")
    c.request("initialize", {"protocolVersion": "2025-06-18",
                             "capabilities": ROOTS,
                             "clientInfo": {"name": "p", "version": "0"}}, mid=1)
    c.notify("notifications/initialized")
    c.tool("echo", {"x": 1}, mid=2)
    c.close()
    assert "result" in c.response(1, T_LONG)[0]
    assert result(c.response(2, T_LONG)[0]) == {"x": 1}
    assert c.wait() == 0, c.describe()


def test_more_than_1000_messages_waiting_for_initialize_are_refused(
        project, reaper, tmp_path):
    gate = tmp_path / "gate"
    f = Fake(project, reaper, tmp_path, MCP_INIT_GATE=gate)
    c = f.client("a", init=False)
    c.request("initialize", {"protocolVersion": "2025-06-18",
                             "capabilities": {}, "clientInfo":
                             {"name": "a", "version": "0"}}, mid="init")
    c.notify("notifications/initialized")
    n = 1100
    for i in range(n):
        c.tool("echo", {"i": i}, mid=i)
    refused = {}
    while len(refused) < 98:          # 1000 wait, whatever else they count
        msg, _ = c.recv_until(lambda m: is_response(m) and m["id"] != "init",
                              T_LONG, "a refusal")
        tend_error(msg, -32603)
        refused[msg["id"]] = msg
    assert not f.log.tool_calls("echo")
    touch(gate)
    assert "result" in c.response("init", T_LONG)[0]
    answered = set()
    while len(answered) + len(refused) < n:
        msg, _ = c.recv_until(is_response, T_LONG, "an answer")
        if "error" in msg:
            tend_error(msg, -32603)
            refused[msg["id"]] = msg
        else:
            answered.add(result(msg)["i"])
    assert 98 <= len(refused) <= 102, len(refused)
    # The ones refused are those that came last.
    assert sorted(refused) == list(range(n - len(refused), n))
    assert len(f.log.tool_calls("echo")) == len(answered)


# --- rule 3: ping ----------------------------------------------------------

def test_pings_both_ways_are_answered_by_tend(project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a = f.client("a", SAMPLING)
    msg, raw = a.response(a.request("ping", mid="p1"))
    assert msg["result"] == {} and b'"id":"p1"' in raw, raw
    r = result(a.call("ping_client"))
    assert r["ok"] is True and r["response"]["id"] == "s-1", r
    assert server_requests(a) == []          # the client never saw it
    assert not f.log.find("ping")


# --- rule 4: cancellation -------------------------------------------------

def test_a_cancellation_reaches_the_server_with_tends_id(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a = f.client("a")
    b = f.client("b")
    a.tool("slow", {"ms": 600000}, mid="s1")
    f.log.wait_tool("slow")
    b.tool("slow", {"ms": 600000}, mid="s1")      # the same client id
    calls = f.log.wait_tool("slow", 2)
    a.notify("notifications/cancelled", {"requestId": "s1",
                                         "reason": "changed my mind"})
    cancel = f.log.wait("notifications/cancelled")
    assert len(cancel) == 1, cancel
    params = cancel[0]["params"]
    assert params["requestId"] == calls[0]["id"], (params, calls)
    assert params["reason"] == "changed my mind"
    assert result(a.call("echo", {"x": 1})) == {"x": 1}


def test_a_client_that_goes_away_has_its_requests_cancelled(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    # A's request is answered late anyway.
    a.tool("hold", {"value": "a", "ignore_cancel": True}, mid=1)
    b.tool("hold", {"value": "b"}, mid=1)
    f.log.wait_tool("hold", 2)
    held = {m["params"]["arguments"]["value"]: m["id"]
            for m in f.log.tool_calls("hold")}

    def cancelled(tend_id):
        return f.log.wait("notifications/cancelled", pred=lambda m:
                          m["params"]["requestId"] == tend_id)[0]
    a.kill()                                        # tend connect dies
    assert cancelled(held["a"])["params"]["reason"] == "client went away"
    # The server writes both holds' answers, then the release's.
    assert result(b.call("release")) == {"released": 2}
    assert result(b.response(1)[0]) == {"value": "b"}
    assert b.drain() == []            # A's late answer was dropped
    assert len(f.log.find("notifications/cancelled")) == 1


def test_a_client_whose_input_ends_still_gets_its_answers(
        project, reaper, tmp_path):
    """As a server started directly answers what it read before its stdin
    ended, a client that closes its stdin with requests in flight gets
    their answers, then its session ends (docs/mcp.md, rule 4)."""
    f = Fake(project, reaper, tmp_path)
    b, c = f.client("b"), f.client("c")
    c.tool("hold", {"value": "c"}, mid=1)
    c.tool("echo", {"x": 2}, mid=2)
    f.log.wait_tool("hold")
    f.log.wait_tool("echo")
    c.close()                                       # the client's stdin ends
    assert result(c.response(2)[0]) == {"x": 2}
    time.sleep(0.3)
    assert c.alive(), c.describe()                  # its hold is in flight
    assert result(b.call("release")) == {"released": 1}
    assert result(c.response(1)[0]) == {"value": "c"}
    assert c.wait() == 0, c.describe()
    assert not f.log.find("notifications/cancelled")


def test_tends_own_initialize_is_never_cancelled(project, reaper, tmp_path):
    gate = tmp_path / "gate"
    f = Fake(project, reaper, tmp_path, MCP_INIT_GATE=gate)
    a = f.client("a", init=False)
    a.request("initialize", {"protocolVersion": "2025-06-18",
                             "capabilities": {}, "clientInfo":
                             {"name": "a", "version": "0"}})
    f.log.wait("initialize", timeout=T_LONG)
    a.kill()
    b = f.client("b", init=False)
    mid = b.request("initialize", {"protocolVersion": "2025-06-18",
                                   "capabilities": {}, "clientInfo":
                                   {"name": "b", "version": "0"}})
    touch(gate)
    assert "result" in b.response(mid, T_LONG)[0]
    assert result(b.call("echo", {"x": 1})) == {"x": 1}
    assert not f.log.find("notifications/cancelled")
    assert len(f.log.find("initialize")) == 1


# --- rule 5: progress ------------------------------------------------------

def test_progress_goes_to_the_owner_of_the_token_with_its_token(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    cs = [f.client("a"), f.client("b")]
    for c in cs:
        c.send(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
               b'{"name":"slow","arguments":{"ms":500,"label":"%s"},'
               b'"_meta":{"progressToken":"tok"}}}' % c.label.encode())
    for c in cs:
        assert result(c.response(1, T_LONG)[0]) == {"slept": 500}
        got = c.drain()
        assert got, c.label
        for msg, raw in got:
            assert msg["method"] == "notifications/progress", msg
            assert msg["params"]["message"] == c.label, (c.label, msg)
            assert b'"progressToken":"tok"' in raw, raw
    tokens = [m["params"]["_meta"]["progressToken"]
              for m in f.log.tool_calls("slow")]
    assert len(tokens) == 2 and tokens[0] != tokens[1], tokens


# --- rule 6: notifications -------------------------------------------------

def notify(client, method, params=None):
    """Has the server write the notification METHOD (through a tool call of
    CLIENT, whose answer comes after it)."""
    args = {"method": method}
    if params is not None:
        args["params"] = params
    assert "result" in client.call("notify", args)


def test_list_changed_and_other_notifications_go_to_every_client(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    cs = [f.client("c%d" % i) for i in range(4)]
    notify(cs[0], "notifications/tools/list_changed")
    notify(cs[0], "notifications/custom/thing", {"x": 1})
    for c in cs:
        c.notification("notifications/tools/list_changed")
        assert c.notification("notifications/custom/thing")["params"] == \
            {"x": 1}


def test_log_levels_are_per_client(project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, b, c = f.client("a"), f.client("b"), f.client("c")
    for x, level in ((a, "debug"), (b, "error")):
        msg = x.ask("logging/setLevel", {"level": level})
        assert msg["result"] == {}, msg
    assert result(b.call("echo", {})) == {}
    sets = f.log.wait("logging/setLevel")
    assert [m["params"]["level"] for m in sets] == ["debug"] * len(sets), sets
    for level in ("warning", "error"):
        notify(a, "notifications/message", {"level": level, "data": level})

    def messages(x, n):
        return [notifications(x, "notifications/message")["params"]["data"]
                for _ in range(n)]
    assert messages(a, 2) == ["warning", "error"]
    assert messages(b, 1) == ["error"]     # the warning never came before
    assert messages(c, 2) == ["warning", "error"]   # never set a level
    # The one that asked for debug leaves: the server runs at error.
    a.close()
    f.log.wait("logging/setLevel", pred=lambda m:
               m["params"]["level"] == "error")


def test_subscriptions_are_counted_per_uri(project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, b, c = f.client("a"), f.client("b"), f.client("c")
    for x in (a, b):
        assert x.ask("resources/subscribe", {"uri": URI})["result"] == {}
    assert result(b.call("echo", {})) == {}
    assert len(f.log.find("resources/subscribe")) == 1
    assert f.log.find("resources/subscribe")[0]["params"]["uri"] == URI

    upd, mark = "notifications/resources/updated", "notifications/custom/mark"

    def update_then_mark(n):
        notify(c, upd, {"uri": URI})
        notify(c, mark, {"n": n})

    def first(x):
        m = notifications(x, upd, mark)
        return m["method"], m["params"]
    update_then_mark(1)
    for x in (a, b):
        assert first(x) == (upd, {"uri": URI}), x.label
        assert first(x) == (mark, {"n": 1}), x.label
    assert first(c) == (mark, {"n": 1})    # no update for a non-subscriber

    assert b.ask("resources/unsubscribe", {"uri": URI})["result"] == {}
    assert result(b.call("echo", {})) == {}
    assert not f.log.find("resources/unsubscribe")
    update_then_mark(2)
    assert first(a) == (upd, {"uri": URI})
    assert first(a) == (mark, {"n": 2})
    assert first(b) == (mark, {"n": 2})
    assert first(c) == (mark, {"n": 2})
    assert len(f.log.find("resources/subscribe")) == 1

    a.kill()                    # the last subscriber goes away
    unsub = f.log.wait("resources/unsubscribe")
    assert len(unsub) == 1 and unsub[0]["params"]["uri"] == URI, unsub


# --- rule 7: requests from the server ---------------------------------------

def answer(client, method, res):
    """CLIENT takes the server request METHOD and answers it with RES;
    returns the request."""
    req, raw = client.recv_until(lambda m: m.get("method") == method
                                 and "id" in m, T_SHORT, method)
    client.send(b'{"jsonrpc":"2.0","id":%s,"result":%s}'
                % (dumps(req["id"]), dumps(res)))
    return req


def test_server_requests_go_to_the_client_with_the_capability(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a = f.client("a", SAMPLING)
    b = f.client("b", {"roots": {"listChanged": True}})
    d = f.client("d", {"elicitation": {}})
    c = f.client("c", {})
    cases = [("sample", "sampling/createMessage", a,
              {"role": "assistant", "content": {"type": "text",
                                                "text": "from a"},
               "model": "m"}),
             ("roots", "roots/list", b, {"roots": [{"uri": "file:///b"}]}),
             ("elicit", "elicitation/create", d, {"action": "decline"})]
    for n, (tool, method, who, res) in enumerate(cases, 1):
        mid = c.tool(tool)
        answer(who, method, res)
        r = result(c.response(mid)[0])
        # The server's id came back as it wrote it.
        assert r["response"] == {"jsonrpc": "2.0", "id": "s-%d" % n,
                                 "result": res}, r
    assert f.log.find(pred=lambda m: m.get("id") == "s-1")[0]["result"][
        "content"]["text"] == "from a"
    for x in (a, b, c, d):
        assert server_requests(x) == [], x.label


def test_a_server_request_goes_to_the_client_waiting_else_the_latest(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, b = f.client("a", SAMPLING), f.client("b", SAMPLING)
    c = f.client("c", {})
    go = f.path("go")
    res = {"role": "assistant", "content": {"type": "text", "text": "ok"},
           "model": "m"}
    # A has a request in flight (the one that samples); B spoke last.
    mid = a.tool("sample", {"after": go})
    f.log.wait_tool("sample")
    b.ask("ping")
    touch(go)
    answer(a, "sampling/createMessage", res)
    assert result(a.response(mid)[0])["ok"] is True
    assert server_requests(b) == []
    # Neither has one: the capable client that sent a message last.
    for last, other in ((b, a), (a, b)):
        last.ask("ping")
        mid = c.tool("sample")
        answer(last, "sampling/createMessage", res)
        assert result(c.response(mid)[0])["ok"] is True
        assert server_requests(other) == [], other.label


def test_server_requests_no_client_can_answer_are_answered_by_tend(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    c = f.client("c", {})
    for tool in ("sample", "elicit"):
        r = result(c.call(tool))
        assert r["ok"] is False and r["response"]["error"]["code"] == \
            -32601, r
    r = result(c.call("roots"))
    assert r["response"]["result"] == {"roots": []}, r
    assert server_requests(c) == []


def test_a_client_that_goes_away_with_a_server_request_pending(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, c = f.client("a", SAMPLING), f.client("c", {})
    mid = c.tool("sample")
    a.recv_until(lambda m: m.get("method") == "sampling/createMessage")
    a.kill()
    r = result(c.response(mid)[0])
    assert r["response"]["id"] == "s-1", r
    assert r["response"]["error"]["code"] == -32603, r
    err = f.log.find(pred=lambda m: m.get("id") == "s-1")
    assert len(err) == 1 and err[0]["error"]["code"] == -32603, err


# --- rule 8: server restart -------------------------------------------------

def wait_in_last_run(f, method, pred=lambda m: True, runs=2):
    """Waits until the RUNS-th server process got METHOD (passing PRED)."""
    def found():
        rs = f.log.runs()
        return len(rs) >= runs and [m for m in rs[runs - 1]
                                    if m.get("method") == method and pred(m)]
    return wait_until(found, T_LONG, what="%s in run %d; log: %s"
                      % (method, runs, f.log.raw()[-10:]))


def test_a_restart_fails_what_is_in_flight_and_the_clients_stay(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    assert a.ask("resources/subscribe", {"uri": URI})["result"] == {}
    assert a.ask("logging/setLevel", {"level": "info"})["result"] == {}
    f.log.wait("resources/subscribe")
    f.log.wait("logging/setLevel")
    for runs, restart in ((2, lambda: a.tool("crash")),
                          (3, lambda: f.p.ok("restart", "svc"))):
        held = b.tool("hold", {"key": "never"})
        f.log.wait_tool("hold", runs - 1)
        crash = restart()
        waiting = [(b, held)] + ([(a, crash)] if runs == 2 else [])
        for x, mid in waiting:
            msg = x.response(mid, T_LONG)[0]
            assert "the server ended before answering" in \
                tend_error(msg, -32603), msg
        for x in (a, b):
            assert x.alive(), x.describe()
            assert result(x.call("echo", {"run": runs}, T_LONG)) == \
                {"run": runs}
        assert len(f.runs()) == runs
        wait_in_last_run(f, "resources/subscribe",
                         lambda m: m["params"]["uri"] == URI, runs)
        wait_in_last_run(f, "logging/setLevel",
                         lambda m: m["params"]["level"] == "info", runs)
        assert len(wait_in_last_run(f, "notifications/initialized",
                                    runs=runs)) == 1
        # The server's initialize result did not change: no list_changed.
        for x in (a, b):
            assert not [m for m, _ in x.drain() if isinstance(m, dict)
                        and m.get("method", "").endswith("/list_changed")]


def test_a_changed_initialize_result_is_told_with_list_changed(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path, MCP_SERVERINFO_VERSION="v{run}")
    cs = [f.client("a"), f.client("b")]
    tend_error(cs[0].call("crash", timeout=T_LONG), -32603)
    assert result(cs[0].call("echo", {}, T_LONG)) == {}
    for c in cs:
        for kind in ("tools", "resources", "prompts"):
            c.notification("notifications/%s/list_changed" % kind, T_LONG)
    # A client that comes now is answered with the new result.
    assert f.client("late").initialize()["serverInfo"]["version"] == "v2"


def test_an_idle_stop_waits_for_what_is_in_flight_and_wakes_on_a_message(
        project, reaper, tmp_path):
    # The server takes its time to exit: the message that wakes it comes
    # while the old process is still stopping.
    f = Fake(project, reaper, tmp_path, conf="idle-stop = 1s\n",
             MCP_EOF_DELAY=500, MCP_IGNORE_TERM=1)
    a = f.client("a")
    assert a.ask("resources/subscribe", {"uri": URI})["result"] == {}
    mid = a.tool("hold")
    f.log.wait_tool("hold")
    time.sleep(2.5)                 # (an absence) no idle stop meanwhile
    assert not [e for e in f.p.events() if e["event"] == "idle_stop"]
    assert result(a.call("release")) == {"released": 1}
    assert "result" in a.response(mid)[0]
    f.p.wait_event("idle_stop", unit="svc")
    assert result(a.call("echo", {"x": 1}, T_LONG)) == {"x": 1}
    woke = [e for e in f.p.events() if e["event"] == "woke"]
    assert len(woke) == 2 and all(e["by"] == "connect" for e in woke), woke
    wait_in_last_run(f, "resources/subscribe",
                     lambda m: m["params"]["uri"] == URI)


# --- rule 9: framing --------------------------------------------------------

def test_10mb_pass_intact_both_ways(project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    c = f.client("a")
    size = 10 * 1024 * 1024
    msg, raw = c.response(c.tool("big", {"size": size, "seed": 7},
                                 mid="big"), T_LONG)
    assert raw == (b'{"jsonrpc":"2.0","id":"big","result":{"content":'
                   b'[{"type":"text","text":"%s"}]}}'
                   % big_text(size, 7).encode())
    pre = b'{"jsonrpc":"2.0","id":'
    post = (b',"method":"tools/call","params":{"name":"echo","arguments":'
            b'{"pad":"%s"}}}' % big_text(size, 8).encode())
    c.send(pre + b'"up"' + post)
    assert len(c.response("up", T_LONG)[1]) > size
    line = [ln for ln in f.log.raw() if ln.endswith(post)]
    assert len(line) == 1
    assert re.fullmatch(NUMBER, line[0][len(pre):-len(post)]), line[0][:80]


def test_what_is_not_json_rpc_on_the_servers_stdout_goes_to_its_log(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path)
    c = f.client("a")
    assert "result" in c.call("garbage", {"text": "garbage-7f3a not json"})
    assert result(c.call("echo", {"x": 1})) == {"x": 1}
    assert not [r for _, r in c.drain() if b"garbage-7f3a" in r]
    wait_until(lambda: "garbage-7f3a not json" in
               f.p.run("logs", "svc").stdout, what="the line in the log")
    assert "fake: pid=" in f.p.run("logs", "svc").stdout    # its stderr


def test_a_line_over_64mib_from_a_client_is_dropped(project, reaper,
                                                     tmp_path):
    f = Fake(project, reaper, tmp_path)
    c = f.client("a")
    c.tool("echo", {"pad": "y" * (64 * 1024 * 1024 + 4096)}, mid="huge")
    assert result(c.call("echo", {"after": 1}, T_LONG)) == {"after": 1}
    assert max(len(ln) for ln in f.log.raw()) < 1024 * 1024


def test_a_client_that_does_not_read_is_disconnected_past_64mib(
        project, reaper, tmp_path):
    """docs/mcp.md, Status: a client that does not read its output is
    disconnected past 64 MiB, with an error; the others go on."""
    f = Fake(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    a.pause()
    for i in range(4):                          # 80 MiB of answers
        a.tool("big", {"size": 20 * 1024 * 1024, "seed": i})
    rc = a.wait(T_LONG)
    assert rc != 0 and b"64 MiB" in a.err, a.describe()
    assert result(b.call("echo", {"x": 1}, T_LONG)) == {"x": 1}
    f.p.wait_unit("svc", clients=1)


# --- status and lifecycle (rule 10) -----------------------------------------

def test_status_shows_clients_and_requests_in_flight(project, reaper,
                                                      tmp_path):
    f = Fake(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    mid = a.tool("hold")
    f.log.wait_tool("hold")
    f.p.wait_unit("svc", clients=2, in_flight=1)
    # Each client by tend connect's pid, the program that started it (the
    # test: python3) and its working directory.
    sessions = f.p.status("svc")[0]["sessions"]
    assert sorted(x["pid"] for x in sessions) == sorted([a.pid, b.pid]), sessions
    for x in sessions:
        assert x["program"].startswith("python"), x
        assert x["cwd"] == os.path.realpath(os.getcwd()), x
        assert x["instance"] == "svc" and x["protocol"] == "2025-06-18", x
    out = f.p.ok("status").stdout
    assert "client %d python" % a.pid in out, out
    assert result(b.call("release")) == {"released": 1}
    assert "result" in a.response(mid)[0]
    f.p.wait_unit("svc", clients=2, in_flight=0)
    b.close()
    assert b.wait() == 0
    f.p.wait_unit("svc", clients=1, in_flight=0)


def test_clients_leave_the_server_stays_and_stop_ends_its_tree(
        project, reaper, tmp_path):
    f = Fake(project, reaper, tmp_path, conf="stop-timeout = 5s\n",
             MCP_CHILD=1, MCP_IGNORE_TERM=1)
    cs = [f.client("c%d" % i) for i in range(3)]
    assert f.p.wait_event("woke", unit="svc")["by"] == "connect"
    [pid] = f.runs()
    assert os.getpgid(pid) == pid                      # its own group
    tree = [int(x.read_text().split()[0]) for x in f.piddir.glob("*.pid")]
    assert len(tree) == 2 and all(alive(x) for x in tree), tree
    for c in cs:
        c.close()
    for c in cs:
        assert c.wait() == 0, c.describe()
    u = f.p.wait_unit("svc", clients=0)
    assert u["state"] == "running" and u["pid"] == pid, u
    # The next client finds the same server, initialized already.
    d = f.client("d")
    assert result(d.call("echo", {"x": 1})) == {"x": 1}
    assert f.runs() == [pid] and len(f.log.find("initialize")) == 1
    d.close()
    assert d.wait() == 0
    f.p.ok("stop", "svc")
    assert not [x for x in tree if alive(x)], tree
    # EOF ended the server, TERM its child: no SIGKILL was needed.
    assert not [e for e in f.p.events() if e["event"] == "warn"]
    # Its stdin was closed first: it saw the end of it (it ignores TERM).
    assert (f.piddir / ("%d.eof" % pid)).exists()
    assert f.p.unit("svc")["state"] == "stopped"


def test_tend_connect_dies_with_its_parent(project, reaper, tmp_path):
    """Rule 10: a client that dies (SIGKILL, no chance to close anything)
    takes its tend connect with it, even when the client's stdin pipe is
    still held open by someone else, and the session ends."""
    f = Fake(project, reaper, tmp_path)
    parent = subprocess.Popen(
        [PY, "-c", "import subprocess, sys, time\n"
         "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
         "print(p.pid, flush=True)\n"
         "time.sleep(600)\n",
         TEND_BIN, "-c", str(f.p.ini), "connect", "svc"],
        env=f.p.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        start_new_session=True)
    reaper.track(parent)
    child = int(parent.stdout.readline())
    reaper.track_pid(child)
    wait_until(lambda: f.p.run("status", "svc").rc == 0, T_SHORT,
               what="tend connect to start the daemon")
    f.p.wait_unit("svc", clients=1)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(T_SHORT)
    wait_until(lambda: not alive(child), T_SHORT,
               what="tend connect to end with its parent")
    f.p.wait_unit("svc", clients=0)
    parent.stdin.close()


def test_tend_connect_ends_when_the_daemon_goes(project, reaper, tmp_path):
    """Rule 10: tend down with sessions connected: each tend connect exits
    1 with one line, and the client sees the end of its input."""
    f = Fake(project, reaper, tmp_path)
    cs = [f.client("c%d" % i) for i in range(2)]
    f.p.ok("down")
    for c in cs:
        assert c.wait() == 1, c.describe()
        assert "shutting down" in c.err.decode(), c.describe()
        wait_until(lambda: c.drain() is not None and c.ended, T_SHORT,
                   what="the client to see the end of its input")
