"""Raw-wire MCP clients and the fake server's log, for test_mcp.py.

A Client is one `tend -c FILE connect NAME` with pipes: the test is the MCP
client.  A thread reads its stdout line by line, so the daemon is never
held up by a full pipe; recv() returns each message parsed and as the raw
line (without its newline) for byte-exact checks."""
import json
import os
import queue
import random
import signal
import subprocess
import threading
import time

from conftest import T_LONG, T_SHORT, TEND_BIN, wait_until

EOF = object()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def is_response(msg, mid=None):
    return isinstance(msg, dict) and "method" not in msg \
        and ("result" in msg or "error" in msg) \
        and (mid is None or msg.get("id") == mid)


class Client:
    """`tend -c FILE connect NAME` of project P with pipes; or, given ARGS
    (and ENV, CWD), `tend connect ARGS` (e.g. `-- CMD ...`, no file)."""

    def __init__(self, p, reaper, name="svc", label=None, args=None,
                 env=None, cwd=None):
        self.label = label or name
        argv = ([TEND_BIN, "connect"] + list(args) if args is not None
                else [TEND_BIN, "-c", str(p.ini), "connect", name])
        self.proc = subprocess.Popen(
            argv, env=env if env is not None else p.env,
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        reaper.track(self.proc)
        self.pid = self.proc.pid
        self.q = queue.Queue()
        self.backlog = []     # (msg, raw) received, not taken yet
        self.ended = False
        self.err = b""
        self._ids = 0
        self._reading = threading.Event()
        self._reading.set()
        threading.Thread(target=self._read, daemon=True).start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self):
        while self._reading.wait():
            raw = self.proc.stdout.readline()
            if not raw:
                break
            raw = raw.rstrip(b"\n")
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = None
            self.q.put((msg, raw))
        self.q.put(EOF)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err += line

    def describe(self):
        return "client %s (tend connect pid %d, rc %s), stderr: %r" % (
            self.label, self.pid, self.proc.poll(), self.err.decode(
                errors="replace")[-2000:])

    # sending
    def send(self, obj):
        """Writes OBJ (a dict, or a raw str/bytes line) and a newline."""
        if isinstance(obj, str):
            obj = obj.encode()
        elif not isinstance(obj, bytes):
            obj = dumps(obj)
        self.proc.stdin.write(obj + b"\n")
        self.proc.stdin.flush()

    def new_id(self):
        self._ids += 1
        return "%s-%d" % (self.label, self._ids)

    def request(self, method, params=None, mid=None):
        """Sends a request; returns its id."""
        mid = self.new_id() if mid is None else mid
        msg = {"jsonrpc": "2.0", "id": mid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return mid

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def tool(self, name, args=None, mid=None, meta=None):
        """Sends a tools/call; returns its id."""
        params = {"name": name, "arguments": args or {}}
        if meta is not None:
            params["_meta"] = meta
        return self.request("tools/call", params, mid)

    # receiving: a mailbox; recv_until() takes the first message (in the
    # order they came) that its predicate accepts and leaves the others
    def _next(self, timeout):
        try:
            item = self.q.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None
        if item is EOF:
            self.ended = True
            return None
        return item

    def _fail(self, what, timeout):
        raise AssertionError("no %s within %.1fs%s; unread: %s; %s" % (
            what, timeout, " (output ended)" if self.ended else "",
            [m if m is not None else r[:200] for m, r in self.backlog[-8:]],
            self.describe()))

    def recv_until(self, pred, timeout=T_SHORT, what="message"):
        """The first message PRED accepts (PRED sees JSON objects only), as
        (msg, raw); raw is the line as it came, without its newline."""
        def ok(item):
            return isinstance(item[0], dict) and pred(item[0])
        for i, item in enumerate(self.backlog):
            if ok(item):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while not self.ended:
            item = self._next(deadline - time.monotonic())
            if item is None:
                break
            if ok(item):
                return item
            self.backlog.append(item)
        self._fail(what, timeout)

    def recv(self, timeout=T_SHORT):
        """The next message, read or not: (msg or None when not JSON, raw)."""
        if self.backlog:
            return self.backlog.pop(0)
        item = self._next(timeout)
        if item is None:
            self._fail("message", timeout)
        return item

    def drain(self):
        """Every message not taken yet, as (msg or None, raw), without
        waiting; the mailbox is empty afterwards."""
        while not self.ended:
            item = self._next(0)
            if item is None:
                break
            self.backlog.append(item)
        got, self.backlog = self.backlog, []
        return got

    def response(self, mid, timeout=T_SHORT):
        """The response to request MID, as (msg, raw)."""
        return self.recv_until(lambda m: is_response(m, mid), timeout,
                               "response to %r" % (mid,))

    def ask(self, method, params=None, timeout=T_SHORT):
        """A request and its response (parsed)."""
        return self.response(self.request(method, params), timeout)[0]

    def call(self, name, args=None, timeout=T_SHORT, meta=None):
        """tools/call NAME: the response (parsed)."""
        return self.response(self.tool(name, args, meta=meta), timeout)[0]

    def notification(self, method, timeout=T_SHORT):
        """The next notification METHOD (parsed)."""
        return self.recv_until(lambda m: m.get("method") == method
                               and "id" not in m, timeout, method)[0]

    def initialize(self, caps=None, version="2025-06-18", mid=None,
                   timeout=T_LONG):
        """initialize (with client capabilities CAPS), then
        notifications/initialized; returns the result."""
        mid = self.request("initialize", {
            "protocolVersion": version, "capabilities": caps or {},
            "clientInfo": {"name": "wire-" + self.label, "version": "0"}},
            mid)
        msg = self.response(mid, timeout)[0]
        assert "result" in msg, msg
        self.notify("notifications/initialized")
        return msg["result"]

    def pause(self):
        """Stops reading tend connect's output: the reader, waiting for a
        line, takes one more (the answer to a ping), then waits."""
        self._reading.clear()
        self.ask("ping")

    def resume(self):
        self._reading.set()

    # ending
    def close(self):
        """EOF on tend connect's stdin (the client closed it)."""
        self.proc.stdin.close()

    def wait(self, timeout=T_SHORT):
        """tend connect's exit code (self.err is complete then)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("tend connect did not exit within %.1fs; %s"
                                 % (timeout, self.describe())) from None
        self._err_reader.join(timeout)
        return rc

    def kill(self):
        """SIGKILL to tend connect (our ends of its pipes stay open: the
        daemon must see the session end by itself)."""
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(T_SHORT)

    def alive(self):
        return self.proc.poll() is None


def big_text(size, seed=0):
    """What the fake server's tool big returns (the same function)."""
    return random.Random(seed).randbytes(size // 2 + 1).hex()[:size]


def result(msg):
    """structuredContent of a tools/call response (which must be a result)."""
    assert "result" in msg, msg
    return msg["result"].get("structuredContent")


def error_code(msg):
    assert "error" in msg, msg
    return msg["error"]["code"]


class ServerLog:
    """$MCP_LOG: every line the fake server received."""

    def __init__(self, path):
        self.path = path

    def raw(self):
        try:
            with open(self.path, "rb") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def messages(self):
        out = []
        for raw in self.raw():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"unparsed": raw})
        return out

    def runs(self):
        """The messages, split at each initialize (one list per server
        process; anything before the first initialize is its own list)."""
        runs = [[]]
        for m in self.messages():
            if m.get("method") == "initialize" and (runs[-1] or len(runs) > 1):
                runs.append([])
            runs[-1].append(m)
        return runs

    def find(self, method=None, pred=None):
        return [m for m in self.messages()
                if (method is None or m.get("method") == method)
                and (pred is None or pred(m))]

    def wait(self, method=None, n=1, pred=None, timeout=T_SHORT):
        """Waits until N messages METHOD (passing PRED) were received;
        returns them all."""
        return wait_until(lambda: len(self.find(method, pred)) >= n
                          and self.find(method, pred), timeout,
                          what="%d x %s at the server; log: %s"
                          % (n, method, self.raw()[-10:]))

    def tool_calls(self, name):
        return self.find("tools/call",
                         lambda m: m["params"].get("name") == name)

    def wait_tool(self, name, n=1, timeout=T_SHORT):
        return self.wait("tools/call", n, lambda m: m["params"].get(
            "name") == name, timeout)
