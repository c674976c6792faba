#!/usr/bin/env python3
"""What `make conformance` saw that its pass/fail sets do not show: two ways
in which a client of a shared server-everything behind `stdio = mcp` is
served differently from a client that has the server to itself.  Both runs
below use the same two raw JSON-RPC clients over stdio, first each with its
own server (direct), then both through `tend connect` (tend):

  B  declares `roots` and answers `roots/list` with a root of its own
     (file:///home/b/secret-project); connects first.
  A  declares no `roots` (sampling and elicitation only, like the
     conformance client); lists the tools, calls `get-roots-list`, then
     subscribes to a resource.

1. Tools and roots.  server-everything registers `get-roots-list` only for
   a client that declared `roots`, and answers it from the roots it fetched
   (once, 350 ms after `notifications/initialized`) from that client.
   Through tend the server is initialized once, by tend, with the
   capabilities tend can route (roots, sampling, elicitation), so A is
   offered `get-roots-list`, and calling it returns B's root: A learns B's
   workspace (direct: A has no such tool).
2. Log lines of another client's request.  A's `resources/subscribe` makes
   the server log `Received Subscribe Resource request ...`
   (`notifications/message`); through tend it also reaches B, which sent
   nothing (direct: B never sees it).

Usage: tests/conformance/repro_shared_state.py [--tend PATH]
Prints the wire messages of each step and what differs; exit 0 when tend
behaves as direct, 1 when not.  Needs `make conformance-deps`.
"""
import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE = HERE / "node_modules/.bin/node"
EVERYTHING = HERE / "node_modules/@modelcontextprotocol/server-everything/dist/index.js"
SECRET = "file:///home/b/secret-project"


class Client:
    def __init__(self, name, argv, env, caps, roots=None):
        self.name, self.roots = name, roots
        self.p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        self.q, self.seen, self.next_id = queue.Queue(), [], 1
        threading.Thread(target=self.read, daemon=True).start()
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": caps,
                                    "clientInfo": {"name": name, "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def read(self):
        for line in self.p.stdout:
            msg = json.loads(line)
            self.seen.append(msg)
            if msg.get("method") == "roots/list" and "id" in msg:
                print(f"  {self.name} <- {json.dumps(msg)}")
                self.send({"jsonrpc": "2.0", "id": msg["id"],
                           "result": {"roots": self.roots or []}})
            self.q.put(msg)

    def send(self, msg):
        if msg.get("method") or self.roots:
            print(f"  {self.name} -> {json.dumps(msg)[:160]}")
        self.p.stdin.write((json.dumps(msg) + "\n").encode())
        self.p.stdin.flush()

    def request(self, method, params):
        rid, self.next_id = self.next_id, self.next_id + 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                msg = self.q.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if msg.get("id") == rid and "method" not in msg:
                return msg
        raise SystemExit(f"{self.name}: no answer to {method} within 30 s")

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def scenario(label, command, env):
    print(f"== {label}")
    b = Client("B", command, env, {"roots": {"listChanged": True}},
               roots=[{"uri": SECRET, "name": "B's project"}])
    time.sleep(1.0)  # the server asks for roots 350 ms after initialized
    a = Client("A", command, env, {"sampling": {}, "elicitation": {}})
    try:
        tools = [t["name"] for t in a.request("tools/list", {})["result"]["tools"]]
        offered = "get-roots-list" in tools
        print(f"  A: tools/list offers get-roots-list: {offered}")
        r = a.request("tools/call", {"name": "get-roots-list", "arguments": {}})
        text = json.dumps(r)
        print(f"  A <- {text[:200]}")
        leaked = SECRET in text
        before = len(b.seen)
        a.request("resources/subscribe", {"uri": "test://watched-resource"})
        time.sleep(0.5)
        foreign = [m for m in b.seen[before:] if m.get("method") == "notifications/message"]
        for m in foreign:
            print(f"  B <- {json.dumps(m)}")
        return {"A is offered get-roots-list": offered, "A reads B's roots": leaked,
                "B gets the log line of A's subscribe": bool(foreign)}
    finally:
        a.stop()
        b.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tend", default=str(HERE.parent.parent / "build/tend"))
    args = ap.parse_args()
    if not EVERYTHING.exists():
        sys.exit("repro: server-everything is missing: run `make conformance-deps`")
    node = str(NODE) if NODE.exists() else "node"
    server = [node, str(EVERYTHING), "stdio"]
    tmp = Path(tempfile.mkdtemp(prefix="tend-repro-"))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp / "run"), XDG_STATE_HOME=str(tmp / "state"))
    env.pop("TEND_CONFIG", None)
    (tmp / "run").mkdir(mode=0o700)
    ini = tmp / "tend.ini"
    ini.write_text(f"[service everything]\nexec = {' '.join(server)}\nstdio = mcp\n")
    daemon = None
    try:
        direct = scenario("direct: each client starts its own server-everything", server, env)
        daemon = subprocess.Popen([args.tend, "-c", str(ini), "up"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        time.sleep(0.5)
        tend = scenario("tend: both clients share one server-everything (stdio = mcp)",
                        [args.tend, "-c", str(ini), "connect", "everything"], env)
    finally:
        if daemon:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{'':40} direct  tend")
    for k in direct:
        print(f"{k:40} {str(direct[k]):6}  {tend[k]}")
    sys.exit(0 if direct == tend else 1)


if __name__ == "__main__":
    main()
