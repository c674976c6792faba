"""MCP 2026-07-28 (the stateless revision) through `stdio = mcp`: raw
JSON-RPC lines between `tend connect` clients, tend and the fake servers
bin/mcp_server_2026.py (2026-only or dual-era) and bin/mcp_server.py (the
session era), against the same servers run directly where the point is
"as directly".  docs/mcp-2026.md is what is checked."""
import json
import subprocess
import time
from pathlib import Path

from conftest import BIN, PY, T_LONG, T_SHORT, q, wait_until
from mcpwire import Client, ServerLog, dumps, error_code, is_response, result

SERVER26 = "%s %s" % (PY, BIN / "mcp_server_2026.py")
SERVER25 = "%s %s" % (PY, BIN / "mcp_server.py")
P = "io.modelcontextprotocol/"
V = "2026-07-28"


def meta(version=V, caps=None, **more):
    m = {P + "protocolVersion": version,
         P + "clientInfo": {"name": "wire26", "version": "0"},
         P + "clientCapabilities": {} if caps is None else caps}
    m.update(more)
    return m


class Fake26:
    """A project whose service svc (stdio = mcp) runs SERVER, with its log
    and run list in one directory."""

    def __init__(self, project, reaper, tmp_path, server=SERVER26, conf="",
                 **env):
        self.dir = tmp_path / "mcp"
        self.dir.mkdir(parents=True)
        self.reaper = reaper
        self.server = server
        self.log = ServerLog(self.dir / "server.log")
        self.env = dict({"MCP_LOG": self.log.path,
                         "MCP_RUNS": self.dir / "runs"}, **env)
        self.p = project("[service svc]\nexec = %s\nstdio = mcp\n%s%s"
                         % (server, "".join("env = %s=%s\n" % (k, q(v))
                                            for k, v in self.env.items()),
                            conf))

    def client(self, label):
        return Client(self.p, self.reaper, "svc", label)

    def runs(self):
        try:
            return [int(x) for x in (self.dir / "runs").read_text().split()]
        except FileNotFoundError:
            return []

    def path(self, name):
        return str(self.dir / name)


class Direct:
    """The same server started directly (no tend): a client of its own."""

    def __init__(self, server, tmp_path, reaper, **env):
        d = tmp_path / "direct"
        d.mkdir(exist_ok=True)
        full = {"PATH": "/usr/bin:/bin", "MCP_RUNS": str(d / "runs")}
        full.update({k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen(server.split(), env=full,
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        reaper.track(self.proc)

    def ask(self, obj):
        self.proc.stdin.write(dumps(obj) + b"\n")
        self.proc.stdin.flush()
        while True:
            raw = self.proc.stdout.readline()
            assert raw, "the server ended"
            msg = json.loads(raw)
            if is_response(msg, obj["id"]):
                return msg

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(T_SHORT)


def without_id(msg):
    return {k: v for k, v in msg.items() if k != "id"}


def req(method, params=None, mid=1):
    msg = {"jsonrpc": "2.0", "id": mid, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def tool(c, name, args=None, m=None, mid=None, **params):
    p = dict({"name": name, "arguments": args or {}, "_meta": m or meta()},
             **params)
    return c.request("tools/call", p, mid)


def no_notification(c, method, wait=0.5):
    time.sleep(wait)
    got = [m for m, _ in c.drain() if isinstance(m, dict)
           and m.get("method") == method]
    assert not got, got


# --- a server of 2026-07-28 only -------------------------------------------

def test_a_stateless_server_serves_clients_of_2026_through_tend(
        project, reaper, tmp_path):
    f = Fake26(project, reaper, tmp_path)
    a = f.client("a")
    # server/discover reaches the server, which answers it.
    d, raw = a.response(a.request("server/discover", {"_meta": meta()},
                                  mid="d1"), T_LONG)
    r = d["result"]
    assert r["supportedVersions"] == [V] and r["resultType"] == "complete", r
    assert r["_meta"][P + "serverInfo"]["name"] == "fake26", r
    assert b'"id":"d1"' in raw
    # A client of 2026 has an instance of its own, which tend opens with
    # server/discover (no initialize); then the client's own discover.
    tends = [m for m in f.log.messages()
             if m.get("method") in ("initialize", "server/discover")]
    assert [m["method"] for m in tends] == ["server/discover",
                                            "server/discover"], tends
    tm = tends[0]["params"]["_meta"]
    assert tm[P + "protocolVersion"] == V and \
        tm[P + "clientInfo"]["name"] == "tend", tm
    assert tends[1]["params"]["_meta"] == meta(), tends[1]

    # A request's _meta reaches the server untouched, byte for byte.
    line = (b'{"jsonrpc":"2.0","id":"e1","method":"tools/call","params":'
            b'{"name":"echo","arguments":{"x":1},"_meta":{"io.modelcontext'
            b'protocol/protocolVersion":"2026-07-28","io.modelcontextprotocol'
            b'/clientInfo":{"name":"wire26","version":"0"},"io.modelcontext'
            b'protocol/clientCapabilities":{"elicitation":{"form":{}}},'
            b'"io.modelcontextprotocol/logLevel":"error","traceparent":'
            b'"00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",'
            b'"com.example/x":[1,{"y":null}]}}}')
    a.send(line)
    msg, _ = a.response("e1")
    sent = json.loads(line)
    assert result(msg) == {"args": {"x": 1},
                           "meta": sent["params"]["_meta"]}, msg
    at_server = [r for r in f.log.raw() if b'"name":"echo"' in r]
    assert len(at_server) == 1
    tend_id = json.loads(at_server[0])["id"]
    assert isinstance(tend_id, int)
    assert at_server[0] == line.replace(b'"id":"e1"', b'"id":%d' % tend_id)

    # No ping invented: the server answers it, as directly.
    p = a.ask("ping")
    assert error_code(p) == -32602 and not p["error"]["message"].startswith(
        "tend:"), p
    assert f.log.find("ping")
    tl = a.ask("tools/list", {"_meta": meta()})
    assert "echo" in [t["name"] for t in tl["result"]["tools"]], tl


def test_a_client_of_the_session_era_is_refused_by_a_stateless_server_as_directly(
        project, reaper, tmp_path):
    init = req("initialize", {"protocolVersion": "2025-11-25",
                              "capabilities": {},
                              "clientInfo": {"name": "old", "version": "0"}})
    direct = Direct(SERVER26, tmp_path, reaper)
    want = direct.ask(init)
    direct.close()
    assert "error" in want and "2026-07-28" in want["error"]["message"], want
    f = Fake26(project, reaper, tmp_path)
    a = f.client("a")
    got = a.response(a.request("initialize", init["params"], mid=1),
                     T_LONG)[0]
    assert got == want
    # ... and the same for every client (the server is asked each time).
    b = f.client("b")
    assert b.response(b.request("initialize", init["params"], mid=1),
                      T_LONG)[0] == want
    assert len(f.log.find("initialize")) == 3     # tend's, a's, b's


def test_protocol_versions_are_negotiated_between_client_and_server(
        project, reaper, tmp_path):
    direct = Direct(SERVER26, tmp_path, reaper,
                    MCP26_VERSIONS="2026-07-28,2027-01-01")
    want = direct.ask(req("tools/list", {"_meta": meta("1900-01-01")}))
    direct.close()
    f = Fake26(project, reaper, tmp_path,
               MCP26_VERSIONS="2026-07-28,2027-01-01")
    a = f.client("a")
    got = a.ask("tools/list", {"_meta": meta("1900-01-01")}, T_LONG)
    assert without_id(got) == without_id(want)
    assert got["error"]["code"] == -32022
    assert got["error"]["data"] == {"supported": ["2026-07-28", "2027-01-01"],
                                    "requested": "1900-01-01"}
    # The client retries with a version of the list, and is served.
    ok = a.ask("tools/list", {"_meta": meta("2027-01-01")})
    assert ok["result"]["resultType"] == "complete", ok


# --- eras mixed ---------------------------------------------------------------

def test_a_client_of_2026_falls_back_with_a_server_of_the_session_era(
        project, reaper, tmp_path):
    """Its server/discover probe gets the server's own error (not tend's),
    and its initialize then works: as directly."""
    direct = Direct(SERVER25, tmp_path, reaper)
    want = direct.ask(req("server/discover", {"_meta": meta()}))
    direct.close()
    f = Fake26(project, reaper, tmp_path, server=SERVER25)
    a = f.client("a")
    got = a.ask("server/discover", {"_meta": meta()}, T_LONG)
    assert without_id(got) == without_id(want)
    assert error_code(got) == -32601 and \
        not got["error"]["message"].startswith("tend:"), got
    # tend's probe (refused: it initialized the server instead), the client's
    assert len(f.log.find("server/discover")) == 2
    r = a.initialize()
    assert r["serverInfo"]["name"] == "fake", r
    assert a.ask("ping")["result"] == {}      # its session: tend's ping
    assert not f.log.find("ping")


def test_each_era_has_its_instance_of_a_dual_era_server(project, reaper,
                                                        tmp_path):
    """A client of each era at once: each its own instance (tend keys
    instances by protocol version), initialized for the session era and
    opened with server/discover for 2026-07-28."""
    f = Fake26(project, reaper, tmp_path, MCP26_MODE="dual")
    old, new = f.client("old"), f.client("new")
    r = old.initialize()
    assert r["serverInfo"]["name"] == "fake26", r
    d = new.ask("server/discover", {"_meta": meta()}, T_LONG)
    assert "2026-07-28" in d["result"]["supportedVersions"], d
    assert [m["method"] for m in f.log.find("initialize")] == ["initialize"]
    assert len(f.log.find("server/discover")) == 2   # tend's probe, new's
    # Each is served in its own era, at once.
    o = old.call("echo", {"who": "old"})
    assert "resultType" not in o["result"] and \
        result(o)["args"] == {"who": "old"}, o
    n = new.response(tool(new, "echo", {"who": "new"}))[0]
    assert n["result"]["resultType"] == "complete" and \
        result(n)["args"] == {"who": "new"}, n
    # The session's list_changed goes to the session; a stream's to the
    # stream's client alone.
    sid = new.request("subscriptions/listen", {
        "_meta": meta(), "notifications": {"toolsListChanged": True}},
        mid="L")
    ack = new.notification("notifications/subscriptions/acknowledged")
    assert ack["params"]["_meta"][P + "subscriptionId"] == sid
    assert result(new.response(tool(new, "changed", {"list": "tools"}))[0]) \
        == {"n": 1}
    ch = new.notification("notifications/tools/list_changed")
    assert ch["params"]["_meta"][P + "subscriptionId"] == "L", ch
    no_notification(old, "notifications/tools/list_changed")


def test_a_server_that_pins_its_era_serves_each_era_on_its_own_instance(
        project, reaper, tmp_path):
    """The official SDKs' stdio servers fix the era by the first request:
    clients of each era get an instance of their own, opened the way its
    era wants (initialize, or server/discover), so a client of 2026 alone
    is served in 2026 as directly."""
    f = Fake26(project, reaper, tmp_path, MCP26_MODE="pinned")
    old, new = f.client("old"), f.client("new")
    assert old.initialize()["serverInfo"]["name"] == "fake26"
    # Its own instance, opened with server/discover: the era it pins.
    d = new.ask("server/discover", {"_meta": meta()}, T_LONG)
    assert "2026-07-28" in d["result"]["supportedVersions"], d
    assert result(old.call("echo", {"c": "old"}))["args"] == {"c": "old"}
    n = new.response(tool(new, "echo", {"c": "new"}), T_LONG)[0]
    assert n["result"]["resultType"] == "complete" and \
        result(n)["args"] == {"c": "new"}, n
    assert len(f.log.find("initialize")) == 1      # tend's, old's instance


# --- subscriptions/listen -----------------------------------------------------

def test_each_clients_listen_stream_is_its_own(project, reaper, tmp_path):
    f = Fake26(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    a.request("subscriptions/listen", {
        "_meta": meta(), "notifications": {"toolsListChanged": True}}, mid=7)
    b.request("subscriptions/listen", {
        "_meta": meta(), "notifications": {
            "resourceSubscriptions": ["file:///b.txt"]}}, mid=7)
    for c in (a, b):
        ack, raw = c.recv_until(lambda m: m.get("method") ==
                                "notifications/subscriptions/acknowledged",
                                T_LONG)
        assert ack["params"]["_meta"][P + "subscriptionId"] == 7, ack
    listens = f.log.wait("subscriptions/listen", 2)
    ta, = [m["id"] for m in listens
           if m["params"]["notifications"].get("toolsListChanged")]
    tb, = [m["id"] for m in listens if m["id"] != ta]
    assert ta != tb and all(isinstance(x, int) for x in (ta, tb))
    # A's tools, B's resource: each hears only its own.
    assert result(b.response(tool(b, "changed", {"list": "tools"}))[0]) == \
        {"n": 1}
    msg, raw = a.recv_until(lambda m: m.get("method") ==
                            "notifications/tools/list_changed")
    assert raw == (b'{"jsonrpc":"2.0","method":"notifications/tools/'
                   b'list_changed","params":{"_meta":{"io.modelcontext'
                   b'protocol/subscriptionId":7}}}'), raw
    assert result(a.response(tool(a, "updated",
                                  {"uri": "file:///b.txt"}))[0]) == {"n": 1}
    up = b.notification("notifications/resources/updated")
    assert up["params"] == {"uri": "file:///b.txt",
                            "_meta": {P + "subscriptionId": 7}}, up
    no_notification(a, "notifications/resources/updated", 0)
    no_notification(b, "notifications/tools/list_changed", 0)
    # Streams are not requests in flight.
    f.p.wait_unit("svc", clients=2, in_flight=0)
    # A cancels its stream: the server hears tend's id.
    a.notify("notifications/cancelled", {"requestId": 7})
    f.log.wait("notifications/cancelled",
               pred=lambda m: m["params"]["requestId"] == ta)
    assert result(b.response(tool(b, "changed", {"list": "tools"}))[0]) == \
        {"n": 0}
    # B goes away: its stream ends at the server.
    b.kill()
    f.log.wait("notifications/cancelled",
               pred=lambda m: m["params"]["requestId"] == tb)


def test_the_server_ends_a_stream_and_the_client_is_told_with_its_ids(
        project, reaper, tmp_path):
    f = Fake26(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    a.request("subscriptions/listen", {"_meta": meta(), "notifications": {}},
              mid="La")
    b.request("subscriptions/listen", {"_meta": meta(), "notifications": {}},
              mid="Lb")
    for c in (a, b):
        c.notification("notifications/subscriptions/acknowledged", T_LONG)
    a.response(tool(a, "end_listens"))
    for c, mid in ((a, "La"), (b, "Lb")):
        msg, raw = c.response(mid)
        assert msg["result"]["_meta"][P + "subscriptionId"] == mid, msg
        assert msg["result"]["resultType"] == "complete"
    # Again, torn down with notifications/cancelled this time.
    a.request("subscriptions/listen", {"_meta": meta(), "notifications": {}},
              mid="La2")
    a.notification("notifications/subscriptions/acknowledged")
    b.response(tool(b, "cancel_listens"))
    n = a.notification("notifications/cancelled")
    assert n["params"]["requestId"] == "La2", n
    no_notification(b, "notifications/cancelled", 0.2)


def test_a_listen_stream_outlives_a_restart(project, reaper, tmp_path):
    f = Fake26(project, reaper, tmp_path, MCP_SERVERINFO_VERSION="v{run}")
    a, b = f.client("a"), f.client("b")
    a.request("subscriptions/listen", {
        "_meta": meta(), "notifications": {"toolsListChanged": True,
                                           "promptsListChanged": True}},
        mid="L")
    a.notification("notifications/subscriptions/acknowledged", T_LONG)
    first = f.log.wait("subscriptions/listen")[0]
    crash = tool(b, "crash")
    msg = b.response(crash, T_LONG)[0]
    assert error_code(msg) == -32603, msg
    wait_until(lambda: len(f.runs()) == 2, T_LONG, what="a second run")
    # Opened again at the new process, with the same id; the client is not
    # told of it, but is told the lists changed (the server's discover
    # result did: its version is the run's).
    again = f.log.wait("subscriptions/listen", 2, timeout=T_LONG)
    assert again[1] == first
    for kind in ("tools", "prompts"):
        n = a.notification("notifications/%s/list_changed" % kind, T_LONG)
        assert n["params"]["_meta"][P + "subscriptionId"] == "L", n
    assert result(b.response(tool(b, "changed", {"list": "tools"}),
                             T_LONG)[0]) == {"n": 1}
    a.notification("notifications/tools/list_changed")
    no_notification(a, "notifications/subscriptions/acknowledged", 0.2)


# --- multi round-trip requests -------------------------------------------------

def test_multi_round_trip_requests_go_to_the_client_they_belong_to(
        project, reaper, tmp_path):
    f = Fake26(project, reaper, tmp_path)
    el = {"elicitation": {"form": {}}}
    cs = [f.client("a"), f.client("b")]
    firsts = [tool(c, "login", {"key": c.label}, meta(caps=el), mid=1)
              for c in cs]
    states = []
    for c, mid in zip(cs, firsts):
        r = c.response(mid, T_LONG)[0]["result"]
        assert r["resultType"] == "input_required", r
        assert r["inputRequests"]["who"]["method"] == "elicitation/create"
        assert r["requestState"] == "st:" + c.label, r
        states.append(r["requestState"])
    # The retries: new ids, the answers and the state, passed on as sent.
    for c, st in zip(cs, states):
        tool(c, "login", {"key": c.label}, meta(caps=el), mid=2,
             inputResponses={"who": {"action": "accept",
                                     "content": {"name": "user-" + c.label}}},
             requestState=st)
    for c in cs:
        assert result(c.response(2)[0]) == {"user": "user-" + c.label,
                                            "key": c.label}
    retries = f.log.find("tools/call", lambda m: "requestState" in m["params"])
    assert sorted(m["params"]["requestState"] for m in retries) == \
        ["st:a", "st:b"]
    # A client that does not declare elicitation hears why, from the server.
    e = cs[0].response(tool(cs[0], "login", {"key": "z"}))[0]
    assert error_code(e) == -32021 and \
        e["error"]["data"]["requiredCapabilities"] == {"elicitation": {}}, e


# --- per-request log level ---------------------------------------------------------

def test_log_messages_go_to_the_client_whose_request_asked(
        project, reaper, tmp_path):
    f = Fake26(project, reaper, tmp_path)
    a, b = f.client("a"), f.client("b")
    gate = f.path("gate")
    waiting = tool(b, "wait", {"file": gate})       # B: in flight, no level
    f.log.wait_tool("wait", timeout=T_LONG)
    done = tool(a, "log", {"level": "warning", "data": "for a"},
                meta(**{P + "logLevel": "info"}))
    n = a.notification("notifications/message")
    assert n["params"] == {"level": "warning", "data": "for a"}, n
    a.response(done)
    Path(gate).touch()
    b.response(waiting)
    no_notification(b, "notifications/message", 0.2)
