"""MCP over Streamable HTTP (listen = http:..., docs/mcp-http.md): tend's
own endpoint in front of a stdio = mcp service, each HTTP session a client
of the multiplexer.

The SDK tests run tests/mcp/http_client.mjs and http_resume.mjs (the official TypeScript SDK's
StreamableHTTPClientTransport, pinned in tests/mcp; make test installs it);
the others speak raw HTTP with http.client, against the fake server
tests/e2e/bin/mcp_server.py.
"""
import base64
import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import T_LONG, T_SHORT, q, wait_until

BIN = Path(__file__).resolve().parent / "bin"
SERVER = "%s %s" % (sys.executable, BIN / "mcp_server.py")
MCP = Path(__file__).resolve().parent.parent / "mcp"
HTTP_CLIENT = MCP / "http_client.mjs"
HTTP_RESUME = MCP / "http_resume.mjs"
NODE = shutil.which("node") or "node"
ACCEPT = "application/json, text/event-stream"


def run_node(tmp_path, reaper, script, *args):
    """node SCRIPT ARGS --timeout 60, to its end (90 s at most): what it
    printed last, parsed; it must have said ok and exited 0."""
    out = tmp_path / (script.stem + ".out")
    with open(out, "wb") as so:
        proc = subprocess.Popen([NODE, str(script)] + list(args) + ["--timeout", "60"],
                                stdout=so, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    reaper.track(proc)
    proc.wait(90)
    text = out.read_text()
    res = json.loads(text.splitlines()[-1]) if text.strip() else {}
    assert proc.returncode == 0 and res.get("ok"), text
    return res


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_msg(mid=1, caps=None, version="2025-06-18"):
    return {"jsonrpc": "2.0", "id": mid, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": caps or {},
                       "clientInfo": {"name": "raw", "version": "1"}}}


class Endpoint:
    """A project whose service svc (stdio = mcp, share = all) runs the fake
    server behind listen = http:127.0.0.1:PORT/mcp."""

    def __init__(self, project, tmp_path, conf="", env=None):
        self.port = free_port()
        self.dir = tmp_path / "mcp"
        self.dir.mkdir(exist_ok=True)
        env = dict({"MCP_RUNS": self.dir / "runs"}, **(env or {}))
        self.p = project("[service svc]\nexec = %s\nstdio = mcp\nshare = all\n"
                         "listen = http:127.0.0.1:%d/mcp\n%s%s"
                         % (SERVER, self.port, "".join(
                             "env = %s=%s\n" % (k, q(str(v)))
                             for k, v in env.items()), conf))
        self.url = "http://127.0.0.1:%d/mcp" % self.port

    def runs(self):
        try:
            return [int(x) for x in (self.dir / "runs").read_text().split()]
        except FileNotFoundError:
            return []

    def conn(self, timeout=T_SHORT):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, body=None, headers=None, path="/mcp",
                timeout=T_SHORT):
        """One request on a connection of its own: (status, headers, body
        bytes) for an error or a 202; for a 200 (an SSE stream, or one
        JSON-RPC message as application/json), the response (open), which
        next_event reads."""
        c = self.conn(timeout)
        h = {"Accept": ACCEPT, "Content-Type": "application/json"}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        c.request(method, path, body=data, headers=h)
        return answer(c)

    def post(self, msg, sid=None, **kw):
        headers = dict(kw.pop("headers", None) or {})
        if sid:
            headers["Mcp-Session-Id"] = sid
        return self.request("POST", msg, headers, **kw)

    def session(self, caps=None, headers=None):
        """A new session: (its id, the initialize result)."""
        r = self.post(init_msg(caps=caps), headers=headers)
        assert not isinstance(r, tuple), r
        sid = r.getheader("Mcp-Session-Id")
        msg = next_event(r)
        r.conn.close()
        assert sid and len(sid) == 32, sid
        assert "result" in msg, msg
        st = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"},
                       sid, headers=headers)
        assert st[0] == 202, st
        return sid, msg["result"]

    def call(self, sid, tool, args=None, mid=2, headers=None):
        """tools/call on an SSE stream: the response."""
        r = self.post({"jsonrpc": "2.0", "id": mid, "method": "tools/call",
                       "params": {"name": tool, "arguments": args or {}}}, sid,
                      headers=headers)
        assert not isinstance(r, tuple), r
        try:
            while True:
                msg = next_event(r)
                if msg.get("id") == mid and "method" not in msg:
                    return msg
        finally:
            r.conn.close()


def answer(c):
    """The response on connection C: (status, headers, body bytes) for an
    error or a 202; for a 200 (an SSE stream, or one JSON-RPC message as
    application/json: tend answers so when the response comes first and
    soon), the response (open), which next_event reads."""
    r = c.getresponse()
    if r.getheader("Content-Type") == "text/event-stream":
        r.conn = c
        return r
    if r.status == 200 and r.getheader("Content-Type") == "application/json":
        r.conn = c
        r.messages = [json.loads(r.read())]
        return r
    out = (r.status, r.headers, r.read())
    c.close()
    return out


def next_event(r, with_id=False):
    """The next SSE message event of response R (comments and events with
    empty data, as the priming event, skipped), or the one message of a JSON
    answer; with WITH_ID, (its id:, the message)."""
    if hasattr(r, "messages"):
        assert r.messages, "no more messages in a JSON answer"
        return r.messages.pop(0)
    data, eid = [], None
    while True:
        line = r.readline()
        assert line, "the stream ended"
        line = line.rstrip(b"\r\n")
        if not line:
            if any(data):
                msg = json.loads(b"\n".join(data))
                return (eid, msg) if with_id else msg
            data = []
            continue
        if line.startswith(b"data:"):
            data.append(line[5:].lstrip())
        elif line.startswith(b"id:"):
            eid = line[3:].strip().decode()


def error_of(body):
    """The message of a one-line JSON-RPC error body."""
    assert body.count(b"\n") == 0, body
    doc = json.loads(body)
    assert doc["jsonrpc"] == "2.0" and doc["error"]["message"].startswith("tend: "), doc
    return doc["error"]["message"]


# --- the SDK ---

@pytest.mark.skipif(not (MCP / "node_modules").is_dir(),
                    reason="tests/mcp/node_modules is missing (make mcp-deps)")
def test_sdk_sessions_share_one_server_and_get_their_own_server_requests(
        project, tmp_path, reaper):
    ep = Endpoint(project, tmp_path)
    ep.p.up()
    assert ep.p.unit("svc")["state"] == "stopped"   # on demand: not yet
    res = run_node(tmp_path, reaper, HTTP_CLIENT, "--url", ep.url, "--sessions", "4")
    # four sessions, one server process: the service's own
    assert len(set(res["pids"])) == 1, res
    assert ep.runs() == res["pids"][:1], (ep.runs(), res)
    u = ep.p.unit("svc")
    assert u["pid"] == res["pids"][0], u
    assert u["state"] == "running", u
    # every session ended with DELETE
    assert u["sessions"] == [] and u["clients"] == 0, u


# --- the protocol, raw ---

def test_sessions_requests_streams_and_their_errors(project, tmp_path):
    ep = Endpoint(project, tmp_path)
    ep.p.up()
    sid, res = ep.session()
    assert res["serverInfo"]["name"] == "fake", res
    assert ep.call(sid, "echo", {"a": 1})["result"]["structuredContent"] == {"a": 1}

    # status shows the session, and the URL to give a client
    u = ep.p.unit("svc")
    assert [s["http"] for s in u["sessions"]] == [sid[:8]], u
    assert u["listen"] == [ep.url], u
    out = ep.p.ok("status", "svc").stdout
    assert "listen: %s" % ep.url in out, out
    assert "client http session %s (2025-06-18)" % sid[:8] in out, out

    # MCP-Protocol-Version in a session: a version of the session era,
    # else 400 (malformed, unknown, or of the stateless era)
    for bad in ("not-a-version", "2000-01-01", "2099-01-01", "2026-07-28"):
        st, _, body = ep.post({"jsonrpc": "2.0", "id": 6, "method": "tools/list"},
                              sid, headers={"MCP-Protocol-Version": bad})
        assert st == 400 and bad in error_of(body), (bad, st, body)
    r = ep.post({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}, sid,
                headers={"MCP-Protocol-Version": "2025-06-18"})
    assert not isinstance(r, tuple) and "tools" in next_event(r)["result"], r
    r.conn.close()

    # a request without a session, an unknown session, a wrong path
    st, _, body = ep.post({"jsonrpc": "2.0", "id": 5, "method": "tools/list"})
    assert st == 400 and "Mcp-Session-Id" in error_of(body), body
    st, _, body = ep.post({"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
                          "0" * 32)
    assert st == 404 and "initialize a new one" in error_of(body), body
    st, _, body = ep.request("POST", init_msg(), path="/other")
    assert st == 404 and "it is at /mcp" in error_of(body), body
    # Accept, Content-Type, method, batches, not JSON
    st, _, body = ep.post(init_msg(), headers={"Accept": "application/json"})
    assert st == 406 and "text/event-stream" in error_of(body), body
    st, _, body = ep.post(init_msg(), headers={"Content-Type": "text/plain"})
    assert st == 415, body
    st, hd, body = ep.request("PUT", init_msg())
    assert st == 405 and hd["Allow"] == "GET, POST, DELETE", body
    st, _, body = ep.post(b"[" + json.dumps(init_msg()).encode() + b"]")
    assert st == 400 and "batches" in error_of(body), body
    st, _, body = ep.post(b"{nope", sid)
    assert st == 400 and json.loads(body)["error"]["code"] == -32700, body

    # notifications: 202; the session's GET stream, one at a time
    st, _, body = ep.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                           "params": {"requestId": 99}}, sid)
    assert st == 202 and body == b"", (st, body)
    g = ep.request("GET", headers={"Mcp-Session-Id": sid, "Accept": "text/event-stream",
                                   "Content-Type": None})
    assert g.status == 200 and g.getheader("Mcp-Session-Id") == sid
    st, _, body = ep.request("GET", headers={"Mcp-Session-Id": sid,
                                             "Accept": "text/event-stream"})
    assert st == 409 and "one at a time" in error_of(body), body
    st, _, body = ep.request("GET", headers={"Mcp-Session-Id": sid,
                                             "Accept": "application/json"})
    assert st == 406, body
    # A server notification while a request of the session is in flight
    # goes on that request's stream, before its response; to a session
    # with no request in flight, on its GET stream.
    other, _ = ep.session()
    r = ep.post({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "notify", "arguments": {"method": "notifications/test",
                                        "params": {"n": 1}}}}, other)
    assert next_event(r) == {"jsonrpc": "2.0", "method": "notifications/test",
                             "params": {"n": 1}}
    assert next_event(r)["id"] == 3
    r.conn.close()
    assert next_event(g) == {"jsonrpc": "2.0", "method": "notifications/test",
                             "params": {"n": 1}}
    g.conn.close()

    # DELETE ends it: 404 from then on
    st, _, _ = ep.request("DELETE", headers={"Mcp-Session-Id": sid})
    assert st == 200
    st, _, body = ep.post({"jsonrpc": "2.0", "id": 6, "method": "ping"}, sid)
    assert st == 404, body
    st, _, body = ep.request("DELETE", headers={"Mcp-Session-Id": sid})
    assert st == 404, body
    assert [s["http"] for s in ep.p.unit("svc")["sessions"]] == [other[:8]]


def test_server_requests_reach_the_session_whose_request_is_in_flight(
        project, tmp_path):
    ep = Endpoint(project, tmp_path)
    ep.p.up()
    a, _ = ep.session(caps={"sampling": {}})
    b, _ = ep.session(caps={"sampling": {}})
    for me in (a, b):
        r = ep.post({"jsonrpc": "2.0", "id": "x", "method": "tools/call",
                     "params": {"name": "sample", "arguments": {}}}, me)
        ask = next_event(r)
        assert ask["method"] == "sampling/createMessage", ask
        st, _, _ = ep.post({"jsonrpc": "2.0", "id": ask["id"], "result": {
            "role": "assistant", "model": "m",
            "content": {"type": "text", "text": me}}}, me)
        assert st == 202
        done = next_event(r)
        r.conn.close()
        assert done["id"] == "x", done
        got = done["result"]["structuredContent"]["response"]["result"]
        assert got["content"]["text"] == me, done


def test_on_demand_idle_stop_ignores_silent_streams_and_pings(project, tmp_path):
    ep = Endpoint(project, tmp_path, "idle-stop = 1s\n")
    ep.p.up()
    time.sleep(0.3)
    assert ep.runs() == [], "started before any request"
    sid, _ = ep.session()
    ep.call(sid, "echo")    # the first request started it
    wait_until(lambda: len(ep.runs()) == 1, what="one run")
    first = ep.runs()[0]
    # an open GET stream and pings every 200 ms do not keep it up
    g = ep.request("GET", headers={"Mcp-Session-Id": sid,
                                   "Accept": "text/event-stream"})
    assert g.status == 200

    def pinged_down():
        st = ep.post({"jsonrpc": "2.0", "id": 77, "method": "ping"}, sid)
        if not isinstance(st, tuple):
            assert next_event(st)["result"] == {}
            st.conn.close()
        return ep.p.unit("svc")["state"] == "idle"
    wait_until(pinged_down, timeout=T_SHORT, interval=0.2, what="an idle stop")
    # a request wakes it
    assert ep.call(sid, "echo", {"z": 1})["result"]["structuredContent"] == {"z": 1}
    assert len(ep.runs()) == 2 and ep.runs()[0] == first, ep.runs()
    g.conn.close()


def test_http_listen_needs_stdio_mcp_and_loopback(project, tmp_path):
    port = free_port()
    p = project("[service a]\nexec = sleep 60\nstdio = exclusive\n"
                "listen = http:127.0.0.1:%d\n" % port)
    t = p.run("check")
    assert t.rc == 2 and len(t.stderr_lines()) == 1, t.describe()
    assert "set stdio = mcp" in t.stderr, t.stderr
    p.write("[service a]\nexec = sleep 60\nstdio = mcp\n"
            "listen = http:0.0.0.0:%d\n" % port)
    t = p.run("check")
    assert t.rc == 2 and "http-remote = yes" in t.stderr, t.describe()
    p.write("[service a]\nexec = sleep 60\nstdio = mcp\nhttp-remote = yes\n"
            "listen = http:0.0.0.0:%d/x/y\n" % port)
    t = p.run("check")
    assert t.rc == 0, t.describe()
    assert "listen = http:0.0.0.0:%d/x/y" % port in t.stdout, t.stdout
    p.write("[service a]\nexec = sleep 60\nstdio = mcp\n"
            "listen = http:127.0.0.1:%d/a?b\n" % port)
    t = p.run("check")
    assert t.rc == 2 and "cannot have" in t.stderr, t.describe()
    p.write("[service a]\nexec = sleep 60\nstdio = mcp\nhttp-sesions-max = 3\n")
    t = p.run("check")
    assert t.rc == 2 and "did you mean http-sessions-max" in t.stderr, t.describe()


# --- safety ---

def test_origin_is_checked_against_dns_rebinding(project, tmp_path):
    ep = Endpoint(project, tmp_path, "http-origins = https://app.example\n")
    ep.p.up()
    for ok in (None, "http://localhost:3000", "http://127.0.0.1", "https://[::1]:8443",
               "https://app.example"):
        r = ep.post(init_msg(), headers={"Origin": ok})
        assert not isinstance(r, tuple), (ok, r)
        r.conn.close()
    for bad in ("http://evil.example", "http://localhost.evil.example",
                "http://127.0.0.1.nip.io:80", "null", "https://app.example.evil"):
        st, _, body = ep.post(init_msg(), headers={"Origin": bad})
        assert st == 403 and "http-origins" in error_of(body), (bad, st, body)


def test_bearer_token_from_a_file_reread_on_reload_never_logged(project, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-one\n")
    ep = Endpoint(project, tmp_path, "auth = token-file:%s\n" % token)
    ep.p.up()
    for h in (None, "Bearer wrong", "Bearer s3cret-on", "Bearer s3cret-one1",
              "Basic s3cret-one"):
        st, hd, body = ep.post(init_msg(), headers={"Authorization": h})
        assert st == 401 and hd["WWW-Authenticate"].startswith("Bearer"), (h, st)
        assert "Authorization: Bearer" in error_of(body)
    good = {"Authorization": "Bearer s3cret-one"}
    sid, _ = ep.session(headers=good)
    assert ep.call(sid, "echo", {"t": 1}, headers=good)["result"]
    st, _, _ = ep.post({"jsonrpc": "2.0", "id": 9, "method": "ping"}, sid)
    assert st == 401    # every request, not only the first
    # reload re-reads the file
    token.write_text("s3cret-two\n")
    ep.p.ok("reload")
    st, _, _ = ep.post(init_msg(), headers=good)
    assert st == 401
    sid2, _ = ep.session(headers={"Authorization": "Bearer s3cret-two"})
    assert sid2 != sid
    # an empty or missing file is a configuration error
    token.write_text("")
    t = ep.p.run("check")
    assert t.rc == 2 and "is empty" in t.stderr, t.describe()
    token.unlink()
    t = ep.p.run("check")
    assert t.rc == 2 and "cannot read the token file" in t.stderr, t.describe()
    # never in the logs, events or status
    texts = [ep.p.run("logs", "-n", "1000").stdout, ep.p.run("events").stdout,
             ep.p.run("status", "--json").stdout, ep.p.daemon_log()]
    assert not any("s3cret" in t for t in texts)


def test_body_sessions_and_streams_limits(project, tmp_path):
    ep = Endpoint(project, tmp_path, "http-body-max = 2K\nhttp-sessions-max = 2\n"
                  "http-streams-max = 2\n")
    ep.p.up()
    big = init_msg()
    big["params"]["pad"] = "x" * 5000
    st, _, body = ep.post(big)
    assert st == 413 and "http-body-max" in error_of(body), (st, body)
    # without Content-Length (chunked): read, not kept, then 413
    c = ep.conn()
    c.putrequest("POST", "/mcp")
    for k, v in (("Accept", ACCEPT), ("Content-Type", "application/json"),
                 ("Transfer-Encoding", "chunked")):
        c.putheader(k, v)
    c.endheaders()
    data = json.dumps(big).encode()
    for i in range(0, len(data), 1000):
        part = data[i:i + 1000]
        c.send(b"%x\r\n%s\r\n" % (len(part), part))
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    assert r.status == 413, r.status
    c.close()

    a, _ = ep.session()
    ep.session()
    st, hd, body = ep.post(init_msg())
    assert st == 503 and "http-sessions-max" in error_of(body), (st, body)
    # two requests held open at the server: the third stream is refused
    held = [ep.post({"jsonrpc": "2.0", "id": "h%d" % i, "method": "tools/call",
                     "params": {"name": "hold", "arguments": {"key": "k"}}}, a)
            for i in range(2)]
    st, _, body = ep.post({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                           "params": {"name": "echo"}}, a)
    assert st == 429 and "http-streams-max" in error_of(body), (st, body)
    for h in held:
        h.conn.close()


def test_idle_sessions_expire(project, tmp_path):
    ep = Endpoint(project, tmp_path, "http-session-idle = 1s\n")
    ep.p.up()
    sid, _ = ep.session()
    keep, _ = ep.session()
    g = ep.request("GET", headers={"Mcp-Session-Id": keep,
                                   "Accept": "text/event-stream"})
    time.sleep(1.6)
    st, _, body = ep.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid)
    assert st == 404 and "expired" in error_of(body), (st, body)
    # a session with an open stream stays
    r = ep.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, keep)
    assert next_event(r)["result"] == {}
    r.conn.close()
    g.conn.close()
    wait_until(lambda: [s["http"] for s in ep.p.unit("svc")["sessions"]]
               == [keep[:8]], what="the expired session gone")


def test_slow_and_many_clients_are_cut_and_the_daemon_stays_responsive(
        project, tmp_path):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 12000)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 11000:
        pytest.skip("RLIMIT_NOFILE %d is too low for 10 000 connections" % hard)
    ep = Endpoint(project, tmp_path, "http-timeout = 2s\n")
    ep.p.up()
    sid, _ = ep.session()
    # a client that never finishes its body
    slow = socket.create_connection(("127.0.0.1", ep.port))
    slow.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Accept: " + ACCEPT.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"js")
    t0 = time.monotonic()
    # others are served meanwhile
    assert ep.call(sid, "echo", {"n": 1})["result"]["structuredContent"] == {"n": 1}
    assert time.monotonic() - t0 < 1.5
    slow.settimeout(T_SHORT)
    assert slow.recv(100) == b"", "the slow client was not cut"
    assert time.monotonic() - t0 >= 1.5
    slow.close()

    # 10 000 connections at once: the endpoint takes what it may, closes the
    # rest at once; tend status answers throughout, and then the endpoint
    # serves again.
    socks = []
    try:
        for i in range(10000):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", ep.port))
            except BlockingIOError:
                pass
            socks.append(s)
            if i % 2500 == 0:
                t1 = time.monotonic()
                ep.p.ok("status", timeout=T_SHORT)
                assert time.monotonic() - t1 < 5
        t1 = time.monotonic()
        ep.p.ok("status", timeout=T_SHORT)
        assert time.monotonic() - t1 < 5

        def closed_by_tend():
            n = 0
            for s in socks:
                try:
                    if s.recv(1) == b"":
                        n += 1
                except BlockingIOError:
                    pass
                except OSError:
                    n += 1
            return n >= 10000 - 600 or None
        wait_until(closed_by_tend, timeout=T_LONG, interval=0.5,
                   what="connections over the limit closed")
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: ep.call(sid, "echo", {"n": 2})["result"], timeout=T_LONG,
               what="served again")
    assert ep.p.unit("svc")["state"] == "running"


def test_unix_socket_endpoint(project, tmp_path):
    sock = tmp_path / "mcp.sock"
    p = project("[service svc]\nexec = %s\nstdio = mcp\nlisten = http:unix:%s\n"
                % (SERVER, sock))
    p.up()
    assert sock.is_socket() and (sock.stat().st_mode & 0o777) == 0o600

    class UnixConn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(T_SHORT)
            self.sock.connect(str(sock))
    c = UnixConn("localhost")
    c.request("POST", "/mcp", body=json.dumps(init_msg()),
              headers={"Accept": ACCEPT, "Content-Type": "application/json"})
    r = answer(c)
    assert not isinstance(r, tuple) and r.getheader("Mcp-Session-Id"), r
    assert next_event(r)["result"]["serverInfo"]["name"] == "fake"
    c.close()


# --- the MCP Inspector ---

def node_major():
    try:
        out = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError):
        return 0


INSPECTOR = MCP / "node_modules" / ".bin" / "mcp-inspector"
EVERYTHING = MCP / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


@pytest.mark.skipif(not INSPECTOR.exists() or node_major() < 20,
                    reason="the MCP Inspector (make mcp-deps) on node 20 or newer")
def test_inspector_cli_over_http(project, tmp_path):
    """`mcp-inspector --cli URL --transport http --method ...` against
    server-everything behind tend's endpoint: tools/list and a tools/call,
    two Inspector sessions of one server process."""
    port = free_port()
    p = project("[service everything]\nexec = %s %s stdio\nstdio = mcp\n"
                "listen = http:127.0.0.1:%d\n" % (q(NODE), q(str(EVERYTHING)), port))
    p.up()
    url = "http://127.0.0.1:%d/mcp" % port

    def inspector(*method):
        r = subprocess.run([str(INSPECTOR), "--cli", url, "--transport", "http"]
                           + list(method), env=p.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60, start_new_session=True)
        assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
        return json.loads(r.stdout)
    tools = [t["name"] for t in inspector("--method", "tools/list")["tools"]]
    assert "echo" in tools and "get-env" in tools, tools
    res = inspector("--method", "tools/call", "--tool-name", "echo",
                    "--tool-arg", "message=inspected")
    assert res["content"][0]["text"] == "Echo: inspected", res
    u = p.unit("everything")
    assert u["state"] == "running" and u["restarts"] == 0, u
    assert len(u["sessions"]) == 2 and {s["instance"] for s in u["sessions"]} == {"everything"}, u


# --- MCP 2026-07-28: no session ---

STATELESS = "2026-07-28"


def stateless(method, params=None, mid=1):
    p = dict(params or {})
    p["_meta"] = {"io.modelcontextprotocol/protocolVersion": STATELESS,
                  "io.modelcontextprotocol/clientCapabilities": {}}
    msg = {"jsonrpc": "2.0", "method": method, "params": p}
    if mid is not None:
        msg["id"] = mid
    return msg


def stateless_headers(method, version=STATELESS, name=None):
    h = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    if name is not None:
        h["Mcp-Name"] = name
    return h


def test_stateless_requests_headers_and_cancellation_by_closing(project, tmp_path):
    log = tmp_path / "server.log"
    ep = Endpoint(project, tmp_path, env={"MCP_LOG": log})
    ep.p.up()
    r = ep.post(stateless("tools/call", {"name": "echo", "arguments": {"s": 1}}),
                headers=stateless_headers("tools/call", name="echo"))
    assert not isinstance(r, tuple), r
    assert r.getheader("Mcp-Session-Id") is None
    assert next_event(r)["result"]["structuredContent"] == {"s": 1}
    r.conn.close()
    # the request's client goes with its answer
    wait_until(lambda: ep.p.unit("svc")["clients"] == 0, what="no client left")

    st, _, body = ep.post(stateless("tools/list"),
                          headers=stateless_headers("tools/list", "2026-08-01"))
    assert st == 400 and json.loads(body)["error"]["code"] == -32020, body
    st, _, body = ep.post(stateless("tools/list"), headers=stateless_headers("tools/call"))
    assert st == 400 and "Mcp-Method" in error_of(body), body
    st, _, body = ep.post(stateless("tools/list"),
                          headers={"MCP-Protocol-Version": STATELESS})
    assert st == 400 and json.loads(body)["error"]["code"] == -32020, body
    st, _, body = ep.post({"jsonrpc": "2.0", "id": 4, "result": {}},
                          headers={"MCP-Protocol-Version": STATELESS})
    assert st == 400 and "no responses" in error_of(body), body

    # closing the stream cancels the request at the server (seen at the
    # stream's next keep-alive, within 15 s)
    r = ep.post(stateless("tools/call", {"name": "hold", "arguments": {"key": "k"}}),
                headers=stateless_headers("tools/call", name="hold"))
    wait_until(lambda: b'"hold"' in log.read_bytes(), what="the hold at the server")
    r.conn.close()
    wait_until(lambda: b"notifications/cancelled" in log.read_bytes(), timeout=T_LONG,
               what="the request cancelled")
    wait_until(lambda: ep.p.unit("svc")["clients"] == 0, what="no client left")


def test_stateless_mcp_name_and_the_http_status_of_errors(project, tmp_path):
    ep = Endpoint(project, tmp_path)
    ep.p.up()

    def ask(method, params=None, mid=5, **kw):
        """(status, the JSON-RPC message answered)"""
        got = ep.post(stateless(method, params, mid),
                      headers=stateless_headers(method, **kw))
        if isinstance(got, tuple):
            st, hd, body = got
            assert hd["Content-Type"] == "application/json", (st, body)
            return st, json.loads(body)
        msg = next_event(got)
        got.conn.close()
        return got.status, msg

    def b64(v):
        return "=?base64?%s?=" % base64.b64encode(v.encode()).decode()

    call = {"name": "echo", "arguments": {"x": 1}}
    st, msg = ask("tools/call", call, name="echo")
    assert st == 200 and msg["result"]["structuredContent"] == {"x": 1}, msg
    st, msg = ask("tools/call", call, name=b64("echo"))
    assert st == 200 and "result" in msg, msg
    # Mcp-Name: params.name of tools/call and prompts/get, params.uri of
    # resources/read; missing, different or badly encoded: 400 HeaderMismatch,
    # with the request's id
    for name, why in ((None, "no Mcp-Name"), ("ech0", "does not match"),
                      (b64("echo "), "does not match"), ("=?base64?ZWNo?=", "base64"),
                      ("=?base64?ZWNobw=?=", "base64")):
        st, msg = ask("tools/call", call, name=name)
        assert st == 400 and msg["id"] == 5 and msg["error"]["code"] == -32020 \
            and why in msg["error"]["message"], (name, st, msg)
    # a name no header can carry as it is, sent in base64: it passes the
    # check (the server does not know the tool: an error of its own, 200)
    st, msg = ask("tools/call", {"name": "\u00e9cho\n", "arguments": {}},
                  name=b64("\u00e9cho\n"))
    assert st == 200 and msg["error"]["code"] == -32602, msg
    st, msg = ask("prompts/get", {"name": "p"}, name="q")
    assert st == 400 and msg["error"]["code"] == -32020, msg
    st, msg = ask("resources/read", {"uri": "file:///a b"}, name="file:///a")
    assert st == 400 and msg["error"]["code"] == -32020, msg
    # an unknown method (the fake server has no resources): 404, -32601
    st, msg = ask("resources/read", {"uri": "file:///a b"}, name="file:///a b")
    assert st == 404 and msg["error"]["code"] == -32601 and msg["id"] == 5, msg
    st, msg = ask("no/such", {})
    assert st == 404 and msg["error"]["code"] == -32601, msg
    # a version tend does not serve: 400 UnsupportedProtocolVersion, with
    # the versions it does
    later = stateless("tools/list")
    later["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2027-01-01"
    st, _, body = ep.post(later, headers=stateless_headers("tools/list", "2027-01-01"))
    err = json.loads(body)["error"]
    assert st == 400 and err["code"] == -32022, body
    assert err["data"]["requested"] == "2027-01-01" and \
        err["data"]["supported"][0] == STATELESS and "2025-11-25" in err["data"]["supported"]
    # what _meta must have: 400, -32602
    bare = stateless("tools/list")
    del bare["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    st, _, body = ep.post(bare, headers=stateless_headers("tools/list"))
    assert st == 400 and json.loads(body)["error"]["code"] == -32602, body
    bare = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    st, _, body = ep.post(bare, headers=stateless_headers("tools/list"))
    assert st == 400 and json.loads(body)["error"]["code"] == -32602, body
    # the session form keeps 200 for every answer: an unknown method there
    sid, _ = ep.session()
    r = ep.post({"jsonrpc": "2.0", "id": 3, "method": "no/such"}, sid)
    assert not isinstance(r, tuple) and r.status == 200, r
    assert next_event(r)["error"]["code"] == -32601
    r.conn.close()


# --- resumption (Last-Event-ID) ---

@pytest.mark.skipif(not (MCP / "node_modules").is_dir(),
                    reason="tests/mcp/node_modules is missing (make mcp-deps)")
def test_sdk_resumes_a_cut_stream_and_another_client_resumes_by_token(
        project, tmp_path, reaper):
    log = tmp_path / "server.log"
    ep = Endpoint(project, tmp_path, env={"MCP_LOG": log})
    ep.p.up()
    res = run_node(tmp_path, reaper, HTTP_RESUME, "--url", ep.url, "--ms", "1500")
    assert res["progress"] >= 20, res
    # the cut was not taken for a cancellation
    assert b"notifications/cancelled" not in log.read_bytes()
    u = ep.p.unit("svc")
    assert u["sessions"] == [] and u["clients"] == 0, u


def cut(r):
    """Cuts the connection of stream R at the TCP level, mid-stream."""
    r.conn.sock.shutdown(socket.SHUT_RDWR)
    r.conn.close()


def resume(ep, sid, last):
    return ep.request("GET", headers={"Mcp-Session-Id": sid, "Last-Event-ID": last,
                                      "Accept": "text/event-stream"})


def slow_call(ep, sid, mid, token, ms, label=None):
    r = ep.post({"jsonrpc": "2.0", "id": mid, "method": "tools/call", "params": {
        "name": "slow", "arguments": {"ms": ms, "label": label},
        "_meta": {"progressToken": token}}}, sid)
    assert not isinstance(r, tuple) and r.getheader("Content-Type") == \
        "text/event-stream", r
    return r


def rest_of(r):
    """The (id, message) events of stream R until it ends."""
    out = []
    while True:
        try:
            out.append(next_event(r, with_id=True))
        except AssertionError as e:
            assert "the stream ended" in str(e)
            return out


def test_a_cut_stream_resumes_with_last_event_id_and_nothing_lost_or_crossed(
        project, tmp_path):
    ep = Endpoint(project, tmp_path)
    ep.p.up()
    a, _ = ep.session()
    b, _ = ep.session()
    # both sessions' slow calls send progress every 50 ms; each client
    # reads some events of its stream, and its connection is cut
    seen = {}
    streams = {}
    for sid, tok, mid in ((a, "pA", 7), (b, "pB", 7)):
        r = slow_call(ep, sid, mid, tok, 1500)
        streams[sid] = r
        seen[sid] = [next_event(r, with_id=True) for _ in range(3)]
    for sid in (a, b):
        cut(streams[sid])
    for sid, tok in ((a, "pA"), (b, "pB")):
        ids = [i for i, _ in seen[sid]]
        num = {i.split("-")[0] for i in ids}
        assert len(num) == 1 and [int(i.split("-")[1]) for i in ids] == [1, 2, 3], ids
        assert [m["params"]["progressToken"] for _, m in seen[sid]] == [tok] * 3
    # event ids are unique across the endpoint: one stream's never names
    # another session's stream
    assert seen[a][0][0].split("-")[0] != seen[b][0][0].split("-")[0]
    # while the streams are cut, a notification of the server (to every
    # session: share = all) is never put on them: it is unrelated
    r = ep.post({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {
        "name": "notify", "arguments": {"method": "notifications/other"}}}, a)
    assert next_event(r)["method"] == "notifications/other"
    r.conn.close()
    time.sleep(1.8)   # the calls are answered meanwhile, into nobody's connection

    # B's event id in A's session: no stream of A
    st, _, body = resume(ep, a, seen[b][-1][0])
    assert st == 410 and "Last-Event-ID" in error_of(body), body
    for bad in ("nonsense", "1-", "-1-1", "99999-1",
                seen[a][-1][0].split("-")[0] + "-99999"):
        got = resume(ep, a, bad)
        assert isinstance(got, tuple), (bad, got.status)
        st, _, body = got
        assert st == 410 and bad in error_of(body), (bad, body)

    for sid, tok in ((a, "pA"), (b, "pB")):
        g = resume(ep, sid, seen[sid][-1][0])
        assert g.status == 200 and g.getheader("Mcp-Session-Id") == sid
        rest = rest_of(g)
        g.conn.close()
        msgs = [m for _, m in seen[sid]] + [m for _, m in rest]
        assert msgs[-1]["id"] == 7 and msgs[-1]["result"]["structuredContent"] == \
            {"slept": 1500}, msgs[-1]
        # the server's notification to every session: once, on this
        # stream (written there before tend saw the cut) or on the
        # session's GET stream
        other = [m for m in msgs if m.get("method") == "notifications/other"]
        assert len(other) <= 1, other
        g = ep.request("GET", headers={"Mcp-Session-Id": sid,
                                       "Accept": "text/event-stream"})
        r = ep.post({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
            "name": "notify", "arguments": {"method": "notifications/mark"}}},
            b if sid == a else a)
        r.conn.close()
        before = []
        while True:
            m = next_event(g)
            if m.get("method") == "notifications/mark":
                break
            before.append(m)
        g.conn.close()
        # (A had it on the stream of its notify call)
        assert before == ([] if other or sid == a else
                          [{"jsonrpc": "2.0", "method": "notifications/other"}]), before
        assert not (other and sid == a), other
        msgs = [m for m in msgs if m.get("method") != "notifications/other"]
        prog = [m["params"] for m in msgs[:-1]]
        # every progress event, once, in order, and only this stream's
        assert all(p["progressToken"] == tok for p in prog), prog
        assert [p["progress"] for p in prog] == list(range(1, len(prog) + 1)), prog
        assert len(prog) >= 20, prog
        ids = [int(i.split("-")[1]) for i, _ in seen[sid] + rest]
        assert ids == list(range(1, len(ids) + 1)), ids

    # resuming again from the middle replays the same (the stream is kept
    # after its answer), and the session's own stream is resumable too
    g = resume(ep, a, seen[a][0][0])
    again = rest_of(g)
    g.conn.close()
    assert [int(i.split("-")[1]) for i, _ in again][0] == 2 and again[-1][1]["id"] == 7


def test_the_get_stream_resumes_and_what_is_not_kept_is_refused(project, tmp_path):
    ep = Endpoint(project, tmp_path)
    ep.p.up()
    sid, _ = ep.session()
    other, _ = ep.session()

    def mark(n):
        """A notification of the server to every session (share = all),
        sent at a request of OTHER."""
        r = ep.post({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
            "name": "notify", "arguments": {"method": "notifications/mark",
                                            "params": {"n": n}}}}, other)
        r.conn.close()

    g = ep.request("GET", headers={"Mcp-Session-Id": sid, "Accept": "text/event-stream"})
    assert g.status == 200
    prime = g.readline() + g.readline() + g.readline()
    assert prime.startswith(b"id: ") and prime.endswith(b"\ndata:\n\n"), prime
    gid = prime.split(b"\n")[0][4:].decode()
    assert gid.endswith("-0"), gid
    # the progress of a request whose stream the client left goes on with
    # that stream, never to the GET stream
    r = slow_call(ep, sid, 3, "t", 300)
    assert next_event(r)["params"]["progressToken"] == "t"
    cut(r)
    time.sleep(0.5)
    mark(1)
    eid, m = next_event(g, with_id=True)
    assert m["method"] == "notifications/mark" and m["params"] == {"n": 1}, m
    assert eid == gid[:-1] + "1", eid
    # resuming the GET stream from its priming event while its connection
    # is open: the new connection takes it over (the old one ends), and
    # gets what followed
    g2 = resume(ep, sid, gid)
    assert g2.status == 200
    assert rest_of(g) == []
    g.conn.close()
    assert next_event(g2, with_id=True) == (eid, m)
    # a second plain GET while one is open: 409
    st, _, body = ep.request("GET", headers={"Mcp-Session-Id": sid,
                                             "Accept": "text/event-stream"})
    assert st == 409 and "Last-Event-ID" in error_of(body), body
    # the client goes away; what is said meanwhile (written into its
    # connection before tend sees it is gone) comes again on a GET
    # resuming from the last event the client had
    cut(g2)
    mark(2)
    time.sleep(0.3)
    g = resume(ep, sid, eid)
    assert next_event(g, with_id=True) == (gid[:-1] + "2", {
        "jsonrpc": "2.0", "method": "notifications/mark", "params": {"n": 2}})
    g.conn.close()

    # a stream whose events are over what is kept: 410 for an id before them
    big = "x" * (300 * 1024)     # each progress event is over the 256 KiB kept
    r = slow_call(ep, sid, 4, "big", 400, label=big)
    eid, msg = next_event(r, with_id=True)
    assert msg["params"]["message"] == big
    cut(r)
    time.sleep(0.8)
    st, _, body = resume(ep, sid, eid)
    assert st == 410 and "256 KiB" in error_of(body), body


def test_answered_streams_kept_for_resumption_are_bounded(project, tmp_path):
    ep = Endpoint(project, tmp_path)
    ep.p.up()
    sid, _ = ep.session()

    def answered(mid, label=None):
        """A request answered on an SSE stream: the id of its first event."""
        r = slow_call(ep, sid, mid, "t%d" % mid, 60, label=label)
        events = rest_of(r)
        r.conn.close()
        assert events[-1][1]["id"] == mid, events
        return events[0][0]

    def kept(eid):
        g = resume(ep, sid, eid)
        if isinstance(g, tuple):
            assert g[0] == 410, g
            return False
        rest = rest_of(g)
        g.conn.close()
        assert "result" in rest[-1][1], rest
        return True

    # the last 8 answered streams of the session
    first = answered(1)
    assert kept(first)
    later = [answered(i) for i in range(2, 10)]
    assert not kept(first)
    assert all(kept(e) for e in later)
    # and 1 MiB of them at most: the oldest go first
    big = "x" * (180 * 1024)
    ids = [answered(i, big) for i in range(10, 16)]
    assert not kept(ids[0]), "6 streams of 180 KiB kept"
    assert all(kept(e) for e in ids[1:])


# --- MCP 2026-07-28: Mcp-Param-* headers (x-mcp-header) ---

ROUTE = {"name": "route", "inputSchema": {"type": "object", "properties": {
    "region": {"type": "string", "x-mcp-header": "Region"},
    "n": {"type": "integer", "x-mcp-header": "N"},
    "flag": {"type": "boolean", "x-mcp-header": "Flag"},
    "opt": {"type": ["string", "null"], "x-mcp-header": "Opt"},
    "where": {"type": "object", "properties": {
        "zone": {"type": "string", "x-mcp-header": "Zone"}}}}}}
# invalid: an x-mcp-header under items makes the tool's declarations void
LOOSE = {"name": "loose", "inputSchema": {"type": "object", "properties": {
    "region": {"type": "string", "x-mcp-header": "Region"},
    "list": {"type": "array", "items": {"type": "string", "x-mcp-header": "Item"}}}}}


def test_stateless_mcp_param_headers_are_checked_against_the_arguments(
        project, tmp_path):
    log = tmp_path / "server.log"
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([ROUTE, LOOSE]))
    ep = Endpoint(project, tmp_path, env={"MCP_LOG": log, "MCP_TOOLS_FILE": tools})
    ep.p.up()

    def call(tool, args, params=None, mid=7):
        """(status, the JSON-RPC message answered) of a stateless tools/call
        with headers Mcp-Param-NAME: VALUE for PARAMS."""
        h = stateless_headers("tools/call", name=tool)
        h.update({"Mcp-Param-" + k: v for k, v in (params or {}).items()})
        got = ep.post(stateless("tools/call", {"name": tool, "arguments": args}, mid),
                      headers=h)
        if isinstance(got, tuple):
            return got[0], json.loads(got[2])
        msg = next_event(got)
        got.conn.close()
        return got.status, msg

    def refused(got, why):
        st, msg = got
        assert st == 400 and msg["id"] == 7 and msg["error"]["code"] == -32020 \
            and why in msg["error"]["message"], got

    def b64(v):
        return "=?base64?%s?=" % base64.b64encode(v.encode()).decode()

    # the first call of a tool tend has seen no list for: tend asks the
    # server's tools/list itself first, then checks; the value in the body
    # without its header is refused
    refused(call("route", {"region": "eu"}), "no Mcp-Param-Region header")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    methods = [m.get("method") for m in lines]
    assert "tools/list" in methods and "tools/call" not in methods, methods
    # headers that say the arguments: passed on; names are case-insensitive
    args = {"region": "eu", "n": 42, "flag": True, "where": {"zone": "b"}}
    st, msg = call("route", args, {"Region": "eu", "N": "42.0", "flag": "true",
                                   "ZONE": "b"})
    assert st == 200 and msg["result"]["structuredContent"] == args, msg
    # a disagreement: 400, HeaderMismatch, the request's id
    refused(call("route", {"region": "eu"}, {"Region": "us"}),
            "Mcp-Param-Region us does not match arguments.region")
    refused(call("route", {"n": 42}, {"N": "43"}), "Mcp-Param-N")
    refused(call("route", {"n": 42}, {"N": "0x2A"}), "Mcp-Param-N")
    refused(call("route", {"flag": False}, {"Flag": "False"}), "Mcp-Param-Flag")
    refused(call("route", {"where": {"zone": "a"}}, {"Zone": "b"}),
            "arguments.where.zone")
    # null or absent: no header expected (and one sent anyway disagrees)
    st, msg = call("route", {"opt": None})
    assert st == 200 and "result" in msg, msg
    refused(call("route", {}, {"Opt": "x"}), "no arguments.opt")
    # the base64 form, decoded first; bad base64 refused
    st, msg = call("route", {"region": "Hello, \u4e16\u754c"},
                   {"Region": b64("Hello, \u4e16\u754c")})
    assert st == 200 and "result" in msg, msg
    st, msg = call("route", {"n": 7}, {"N": b64("7")})
    assert st == 200 and "result" in msg, msg
    refused(call("route", {"region": "Hello"}, {"Region": "=?base64?SGVsbG8?=",
                                                "N": None}), "base64")
    # a tool whose declarations are invalid: not enforced (and logged)
    st, msg = call("loose", {"region": "eu"})
    assert st == 200 and "result" in msg, msg
    wait_until(lambda: "loose: an x-mcp-header not reached" in
               ep.p.run("logs", "svc").stdout, what="the tool not enforced, logged")
    # the session form has no Mcp-Param headers: not checked there
    sid, _ = ep.session()
    assert "result" in ep.call(sid, "route", {"region": "eu"})

    # the list changes (notifications/tools/list_changed): tend reads it again
    moved = json.loads(json.dumps(ROUTE))
    moved["inputSchema"]["properties"]["region"]["x-mcp-header"] = "Place"
    tools.write_text(json.dumps([moved]))
    st, msg = call("echo", {})
    assert st == 200
    r = ep.post(stateless("tools/call", {"name": "notify", "arguments": {
        "method": "notifications/tools/list_changed"}}, 9),
        headers=stateless_headers("tools/call", name="notify"))
    next_event(r)
    r.conn.close()
    refused(call("route", {"region": "eu"}, {"Region": "eu"}),
            "no Mcp-Param-Place header")
    st, msg = call("route", {"region": "eu"}, {"Place": "eu"})
    assert st == 200 and "result" in msg, msg
