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

usage: bench/mcp.py TEND [--quick]"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from tendbench import Daemon, proc_mem, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "tests", "e2e", "bin", "mcp_server.py")
PY = "/usr/bin/python3"


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
        self.ask("initialize", {"protocolVersion": "2025-06-18",
                                "capabilities": {},
                                "clientInfo": {"name": "bench", "version": "0"}})
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


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


def main():
    tend = os.path.abspath(sys.argv[1])
    quick = "--quick" in sys.argv
    n, clients, idle = (300, 4, 20) if quick else (3000, 10, 100)
    root = tempfile.mkdtemp(prefix="tend-bench-mcp-")
    env = dict(os.environ, MCP_LOG="/dev/null")
    d = Daemon(tend, root, "[service svc]\nexec = %s %s\nstdio = mcp\n"
               "env = MCP_LOG=/dev/null\nenv = MCP_RUNS=%s\n"
               % (PY, SERVER, os.path.join(root, "runs")))
    rows = []
    try:
        d.up()
        via = [d.bin, "-c", d.ini, "connect", "svc"]
        direct = [PY, SERVER]
        for label, argv in (("direct", direct), ("tend", via)):
            w = Wire(argv, env if label == "direct" else d.env)
            w.initialize()
            rt = round_trips(w, n)
            rows.append((label, "echo, 1 client", statistics.median(rt), pct(rt, 0.99)))
            if label == "tend":
                pg = round_trips(w, n, "ping")
                rows.append((label, "ping (tend answers)", statistics.median(pg), pct(pg, 0.99)))
            w.close()
            ws = [Wire(argv, env if label == "direct" else d.env) for _ in range(clients)]
            for x in ws:
                x.initialize()
            rt, wall = together(ws, n // clients)
            rows.append((label, "echo, %d clients at once" % clients,
                         statistics.median(rt), pct(rt, 0.99)))
            rows.append((label, "  calls/s, %d clients" % clients, len(rt) / wall, None))
            for x in ws:
                x.close()
        before = proc_mem(d.pid)["RssAnon"] // 1024
        ws = [Wire(via, d.env) for _ in range(idle)]
        for x in ws:
            x.initialize()
        during = proc_mem(d.pid)["RssAnon"] // 1024
        st = d.status("svc")[0]
        for x in ws:
            x.close()
        runs = open(os.path.join(root, "runs")).read().split()
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
    print("server processes the service ran: %d" % len(runs))


if __name__ == "__main__":
    main()
