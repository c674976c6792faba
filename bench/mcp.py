#!/usr/bin/env python3
"""Figures for stdio = mcp (part 6): what the JSON-RPC multiplexer costs
per request and per client.

The server is tests/e2e/bin/mcp_server.py (a Python MCP server on stdin
and stdout, stdlib only), reached two ways: started directly by the bench
(direct) and through `tend connect` to a stdio = mcp service (tend).

- Round trip: tools/call echo, one request at a time, N per client,
  median and p99; one client, then CLIENTS clients at once (each its own
  tend connect, all sharing the one server, which answers one request at
  a time; direct: CLIENTS servers, one each).
- ping: answered by tend itself, never reaching the server.
- Memory: the daemon's RssAnon with the server running and no client,
  then with IDLE clients connected and initialized, per client.
- Server processes: how many the service ran during all of it (one).

MCP over Streamable HTTP (part 14), the same server as a stdio = mcp
service with `listen = http:...` (tend speaks HTTP itself), reached three
ways beside the two above:
- http: tend's endpoint, one HTTP client (keep-alive) per session
  (http.client; and, for one session, a client writing and reading the
  socket itself, whose own cost is smaller);
- bridge: the chain users built before it: a tend `listen`/`backend` proxy
  in front of supergateway (stdio -> Streamable HTTP, stateful), which runs
  `tend connect svc` for each session (supergateway and Node 22 from
  tests/conformance, `make conformance-deps`; left out when missing);
- the round trip of tools/call through each, one session, then CLIENTS at
  once; HTTPMANY sessions at once (calls/s, round trips); the daemon's
  RssAnon per idle HTTP session; the processes each way runs (the
  daemon's children and theirs) with HTTPMANY sessions open.

usage: bench/mcp.py TEND [--quick]"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from relay import free_ports, wait_listening
from tendbench import Daemon, proc_mem, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "tests", "e2e", "bin", "mcp_server.py")
PY = "/usr/bin/python3"
CONF = os.path.join(HERE, "..", "tests", "conformance")
NODE = os.path.join(CONF, "node_modules", ".bin", "node")
BRIDGE = os.path.join(CONF, "node_modules", "supergateway", "dist", "index.js")
LOOPBACK = os.path.join(CONF, "loopback.mjs")
INIT = {"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}


class Wire:
    """One MCP client on a process's stdin and stdout."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.n = 0

    def ask(self, method, params=None):
        self.n += 1
        msg = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not None:
            msg["params"] = params
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server ended")
            reply = json.loads(line)
            if reply.get("id") == self.n:
                return reply

    def initialize(self):
        self.ask("initialize", INIT)
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class HttpWire:
    """One MCP client over Streamable HTTP (the session form): one
    keep-alive connection, POST per message, the answer as JSON or as an
    SSE stream (read to its end), DELETE at the end."""

    def __init__(self, port, path="/mcp"):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path, self.n, self.session = path, 0, None

    def post(self, msg):
        h = {"Content-Type": "application/json",
             "Accept": "application/json, text/event-stream"}
        if self.session:
            h["Mcp-Session-Id"] = self.session
            h["MCP-Protocol-Version"] = INIT["protocolVersion"]
        self.c.request("POST", self.path, json.dumps(msg).encode(), h)
        r = self.c.getresponse()
        body = r.read()
        if r.status not in (200, 202):
            raise RuntimeError("HTTP %d: %r" % (r.status, body[:200]))
        self.session = r.getheader("Mcp-Session-Id") or self.session
        if r.status == 202:
            return None
        if (r.getheader("Content-Type") or "").startswith("text/event-stream"):
            for line in body.split(b"\n"):
                if line.startswith(b"data:") and line[5:].strip():
                    m = json.loads(line[5:])   # (not the priming event)
                    if m.get("id") == msg.get("id"):
                        return m
            raise RuntimeError("no answer in the stream: %r" % body[:200])
        return json.loads(body)

    def ask(self, method, params=None):
        self.n += 1
        msg = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not None:
            msg["params"] = params
        return self.post(msg)

    def initialize(self):
        self.ask("initialize", INIT)
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self):
        if self.session:
            self.c.request("DELETE", self.path, headers={"Mcp-Session-Id": self.session})
            self.c.getresponse().read()
        self.c.close()


class RawHttpWire(HttpWire):
    """The same session over a socket written and read directly (the
    request as one write, the answer parsed by hand): what tend's endpoint
    costs with less of the client's own in the figure (http.client parses
    every header with the email package)."""

    def __init__(self, port, path="/mcp"):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")
        self.path, self.n, self.session = path, 0, None

    def post(self, msg):
        body = json.dumps(msg).encode()
        h = ["POST %s HTTP/1.1" % self.path, "Host: 127.0.0.1",
             "Content-Type: application/json",
             "Accept: application/json, text/event-stream",
             "Content-Length: %d" % len(body)]
        if self.session:
            h += ["Mcp-Session-Id: " + self.session,
                  "MCP-Protocol-Version: " + INIT["protocolVersion"]]
        self.s.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + body)
        status = int(self.f.readline().split()[1])
        hd = {}
        while True:
            line = self.f.readline()
            if line in (b"\r\n", b""):
                break
            k, v = line.decode().split(":", 1)
            hd[k.strip().lower()] = v.strip()
        if "content-length" in hd:
            data = self.f.read(int(hd["content-length"]))
        else:   # chunked, to its end
            data = b""
            while True:
                size = int(self.f.readline().strip(), 16)
                if not size:
                    self.f.readline()
                    break
                data += self.f.read(size)
                self.f.readline()
        if status not in (200, 202):
            raise RuntimeError("HTTP %d: %r" % (status, data[:200]))
        self.session = hd.get("mcp-session-id", self.session)
        if status == 202:
            return None
        if hd.get("content-type", "").startswith("text/event-stream"):
            for line in data.split(b"\n"):
                if line.startswith(b"data:") and line[5:].strip():
                    m = json.loads(line[5:])
                    if m.get("id") == msg.get("id"):
                        return m
            raise RuntimeError("no answer in the stream: %r" % data[:200])
        return json.loads(data)

    def close(self):
        if self.session:
            self.s.sendall(("DELETE %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Mcp-Session-Id: %s\r\nContent-Length: 0\r\n\r\n"
                            % (self.path, self.session)).encode())
            self.f.readline()
        self.f.close()
        self.s.close()


def descendants(pid):
    """The processes below PID (all generations)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def round_trips(wire, n, method="tools/call"):
    params = {"name": "echo", "arguments": {"x": "y" * 64}} \
        if method == "tools/call" else None
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        reply = wire.ask(method, params)
        out.append((time.perf_counter_ns() - t0) / 1000)
        assert "result" in reply, reply
    return out


def together(wires, n):
    """Every wire asks N echoes at once; all round trips and the wall time."""
    res = [None] * len(wires)

    def go(i):
        res[i] = round_trips(wires[i], n)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(wires))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for r in res for x in r], time.monotonic() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def way_rows(rows, label, wire, n, clients, ping):
    """The rows of one way: N echoes of one client (and N pings with PING),
    then CLIENTS clients at once (WIRE makes a client)."""
    w = wire()
    w.initialize()
    rt = round_trips(w, n)
    rows.append((label, "echo, 1 client", statistics.median(rt), pct(rt, 0.99)))
    if ping:
        pg = round_trips(w, n, "ping")
        rows.append((label, "ping (tend answers)", statistics.median(pg), pct(pg, 0.99)))
    w.close()
    ws = [wire() for _ in range(clients)]
    for x in ws:
        x.initialize()
    rt, wall = together(ws, n // clients)
    rows.append((label, "echo, %d clients at once" % clients,
                 statistics.median(rt), pct(rt, 0.99)))
    rows.append((label, "  calls/s, %d clients" % clients, len(rt) / wall, None))
    for x in ws:
        x.close()


def http_part(d, rows, n, clients, many, idle, port, bport):
    """The HTTP ways (docstring), their rows added to ROWS; returns the
    memory and process figures."""
    ways = [("http", lambda: HttpWire(port))]
    if bport:
        ways.append(("bridge", lambda: HttpWire(bport)))
    for label, wire in ways:
        # the http ping: what the HTTP layer costs, the server left out
        way_rows(rows, label, wire, n, clients, ping=label == "http")
    # one session again, its client writing and reading the socket itself
    w = RawHttpWire(port)
    w.initialize()
    for what, method in (("echo, 1 session, raw client", "tools/call"),
                         ("ping, raw client", "ping")):
        rt = round_trips(w, n, method)
        rows.append(("http", what, statistics.median(rt), pct(rt, 0.99)))
    w.close()
    fig = {}
    before = proc_mem(d.pid)["RssAnon"] // 1024
    ws = [HttpWire(port) for _ in range(idle)]
    for x in ws:
        x.initialize()
    fig["idle"] = (before, proc_mem(d.pid)["RssAnon"] // 1024)
    for x in ws:
        x.close()
    for label, wire in ways:
        base = len(descendants(d.pid))
        ws = [wire() for _ in range(many)]
        for x in ws:
            x.initialize()
        rt, wall = together(ws, max(1, n // many))
        rows.append((label, "echo, %d sessions at once" % many,
                     statistics.median(rt), pct(rt, 0.99)))
        rows.append((label, "  calls/s, %d sessions" % many, len(rt) / wall, None))
        fig[label] = len(descendants(d.pid)) - base
        for x in ws:
            x.close()
    return fig


def main():
    tend = os.path.abspath(sys.argv[1])
    quick = "--quick" in sys.argv
    n, clients, idle, many = (300, 4, 20, 20) if quick else (3000, 10, 100, 100)
    root = tempfile.mkdtemp(prefix="tend-bench-mcp-")
    env = dict(os.environ, MCP_LOG="/dev/null")
    hport, lport, bport = free_ports(3)
    ini_path = os.path.join(root, "tend.ini")
    bridge = os.path.exists(NODE) and os.path.exists(BRIDGE)
    server = ("exec = %s %s\nstdio = mcp\nenv = MCP_LOG=/dev/null\n"
              "env = MCP_RUNS=%s\n" % (PY, SERVER, os.path.join(root, "runs")))
    ini = ("[service svc]\n" + server +
           "\n[service web]\n" + server.replace("runs\n", "runs-web\n") +
           "listen = http:127.0.0.1:%d/mcp\n" % hport)
    if bridge:
        ini += ("\n[service bridge]\nexec = %s --import %s %s --stdio \"%s -c %s "
                "connect svc\" --outputTransport streamableHttp --stateful "
                "--port %d --logLevel none\nlisten = tcp:127.0.0.1:%d\n"
                "backend = tcp:127.0.0.1:%d\n"
                % (NODE, LOOPBACK, BRIDGE, tend, ini_path, bport, lport, bport))
    d = Daemon(tend, root, ini)
    rows = []
    try:
        d.up()
        via = [d.bin, "-c", d.ini, "connect", "svc"]
        direct = [PY, SERVER]
        for label, argv, e in (("direct", direct, env), ("tend", via, d.env)):
            way_rows(rows, label, lambda a=argv, e=e: Wire(a, e), n, clients,
                     ping=label == "tend")
        before = proc_mem(d.pid)["RssAnon"] // 1024
        ws = [Wire(via, d.env) for _ in range(idle)]
        for x in ws:
            x.initialize()
        during = proc_mem(d.pid)["RssAnon"] // 1024
        st = d.status("svc")[0]
        for x in ws:
            x.close()
        wait_listening((hport,) + ((lport,) if bridge else ()), "tend's HTTP endpoint")
        fig = http_part(d, rows, n, clients, many, idle, hport, lport if bridge else None)
        runs = open(os.path.join(root, "runs")).read().split()
        runs_web = open(os.path.join(root, "runs-web")).read().split()
    finally:
        d.down()
        sweep(root)
    print("stdio = mcp (bench/mcp.py%s): round trips in microseconds"
          % (" --quick" if quick else ""))
    print("| way | what | median | p99 |")
    print("| --- | --- | --- | --- |")
    for way, what, med, p99 in rows:
        print("| %s | %s | %.0f | %s |" % (way, what, med,
                                            "%.0f" % p99 if p99 else "–"))
    print("daemon RssAnon: %d KiB with the server and no client, %d KiB with "
          "%d clients connected (%.1f KiB a client); status said clients=%d"
          % (before, during, idle, (during - before) / idle, st.get("clients")))
    b, a = fig["idle"]
    print("daemon RssAnon: %d KiB before, %d KiB with %d idle HTTP sessions "
          "(%.1f KiB a session)" % (b, a, idle, (a - b) / idle))
    print("processes added while %d sessions were open: http %d%s"
          % (many, fig["http"], ", bridge %d" % fig["bridge"] if "bridge" in fig
             else " (bridge left out: `make conformance-deps` installs it)"))
    print("server processes the services ran: stdio %d, http %d"
          % (len(runs), len(runs_web)))


if __name__ == "__main__":
    main()
