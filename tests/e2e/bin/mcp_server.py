"""A scriptable MCP server on stdio (one JSON object per line), for the
tests of `stdio = mcp`.

Every line it reads is appended, as received, to the file $MCP_LOG (one line
per message, flushed at once), so a test can tell exactly what reached the
server.

Requests:
  initialize        protocolVersion $MCP_VERSION (2025-06-18) -- or, with
                    $MCP_VERSIONS (versions it supports, newest first), the
                    version asked for when it is one of them, else the
                    first -- tools,
                    resources (subscribe), prompts (all listChanged) and
                    logging; serverInfo {name: fake, version:
                    $MCP_SERVERINFO_VERSION (1), where "{run}" becomes the
                    number of this run}.  With $MCP_INIT_GATE it answers
                    only once that file exists.
  ping, logging/setLevel, resources/subscribe, resources/unsubscribe: {}
  tools/list        {"tools": [{"name": "echo"...}, {"name": $MCP_TOOL
                    ("slow"), where "{run}" becomes the number of this
                    run}] and the tools of the JSON list in the file
                    $MCP_TOOLS_FILE, read each time}, after
                    $MCP_LIST_DELAY ms (0)
  prompts/list      {"prompts": []}
  tools/call        by params.name (arguments: params.arguments):
    echo, a tool of $MCP_TOOLS_FILE
                    the arguments as structuredContent
    slow            {ms, label}: answers {"slept": ms} after MS milliseconds,
                    sending notifications/progress (message: label) every
                    50 ms when the request has _meta.progressToken; a
                    cancelled one stops without answering
    hold            {key, value, ignore_cancel}: answers {"value": value}
                    when released; a cancelled one stops without answering
                    (and is no longer held) unless IGNORE_CANCEL
    release         {key}: releases every hold of KEY, and answers
                    {"released": N} only once their answers are written
    sample, roots, elicit, ping_client
                    {after, params}: once AFTER exists (if given), sends the
                    client side a sampling/createMessage, roots/list,
                    elicitation/create or ping request (with PARAMS), waits
                    for its response and answers {"response": RESPONSE,
                    "ok": RESPONSE has a result}
    notify          {method, params}: writes that notification, answers {}
    big             {size, seed}: a text content of SIZE bytes (big_text)
    garbage         {text}: writes the line TEXT (not JSON), then answers {}
    env             {names}: {"env": {NAME: its value or null}, "cwd": the
                    working directory, "pid": this process}
    crash           exits with code 3 at once
    anything else   error -32602
  any other method  error -32601
Its own requests to the client have string ids "s-1", "s-2", ...

Other environment: $MCP_RUNS (a file: one line per run, the pid; the line
count is the run number); $MCP_PIDDIR (writes server-PID.pid as "PID
STARTTIME", child-PID.pid for a `sleep 600` child when $MCP_CHILD is set,
and PID.eof when its stdin ends); $MCP_IGNORE_TERM makes it ignore SIGTERM
(its child does not); $MCP_EOF_DELAY (ms) is how long it takes to exit
once its stdin has ended.  It writes "fake: pid=P run=R started"
on stderr.
"""
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

env = os.environ


def big_text(size, seed=0):
    """SIZE bytes of hex digits, the same for the same SEED."""
    return random.Random(seed).randbytes(size // 2 + 1).hex()[:size]


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[19])


def record_pid(name, pid):
    d = env.get("MCP_PIDDIR")
    if d:
        with open(os.path.join(d, "%s-%d.pid" % (name, pid)), "w") as f:
            f.write("%d %d\n" % (pid, starttime(pid)))


run = 1
if env.get("MCP_RUNS"):
    with open(env["MCP_RUNS"], "a+") as f:
        f.write("%d\n" % os.getpid())
        f.seek(0)
        run = len(f.read().splitlines())
record_pid("server", os.getpid())
if env.get("MCP_CHILD"):
    record_pid("child", subprocess.Popen(
        ["sleep", "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).pid)
if env.get("MCP_IGNORE_TERM"):        # after the child: it must not inherit it
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stderr.write("fake: pid=%d run=%d started\n" % (os.getpid(), run))
sys.stderr.flush()

log = open(env["MCP_LOG"], "ab") if env.get("MCP_LOG") else None
out = sys.stdout.buffer
out_lock = threading.Lock()
next_id = itertools.count(1)
pending = {}        # id of our request -> [Event, response]
cancels = {}        # json.dumps(id of a request) -> Event, set when cancelled
cancels_lock = threading.Lock()
holds = {}          # key of tool hold -> [(Event released, Event done)]
holds_lock = threading.Lock()


def write(raw):
    with out_lock:
        out.write(raw + b"\n")
        out.flush()


def send(obj):
    write(json.dumps(obj, separators=(",", ":")).encode())


def answer(mid, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": mid}
    if error is None:
        msg["result"] = result
    else:
        msg["error"] = error
    send(msg)


def wait_file(path, cancelled):
    """Waits for PATH to exist; False when cancelled first."""
    while not os.path.exists(path):
        if cancelled.wait(0.02):
            return False
    return True


def ask_client(method, params):
    """Sends a request to the client side; returns its response."""
    sid = "s-%d" % next(next_id)
    slot = pending[sid] = [threading.Event(), None]
    msg = {"jsonrpc": "2.0", "id": sid, "method": method}
    if params is not None:
        msg["params"] = params
    send(msg)
    slot[0].wait()
    return pending.pop(sid)[1]


CLIENT_REQUESTS = {
    "sample": ("sampling/createMessage",
               {"messages": [{"role": "user",
                              "content": {"type": "text", "text": "hi"}}],
                "maxTokens": 10}),
    "roots": ("roots/list", None),
    "elicit": ("elicitation/create",
               {"message": "ok?",
                "requestedSchema": {"type": "object", "properties": {}}}),
    "ping_client": ("ping", None),
}


def hold_slot(params):
    """Registers a hold (before its thread runs, so that a release that
    comes after it always finds it)."""
    key = (params.get("arguments") or {}).get("key")
    slot = (threading.Event(), threading.Event())
    with holds_lock:
        holds.setdefault(key, []).append(slot)
    return key, slot


def file_tools():
    """The tools of $MCP_TOOLS_FILE (none without it)."""
    try:
        with open(env["MCP_TOOLS_FILE"]) as f:
            return json.load(f)
    except (KeyError, FileNotFoundError):
        return []


def tool(mid, params, cancelled, held=None):
    """Runs one tools/call (in its own thread); answers unless cancelled."""
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "echo" or name in (t.get("name") for t in file_tools()):
        return answer(mid, {"content": [{"type": "text", "text": "echo"}],
                            "structuredContent": args})
    if name == "slow":
        token = (params.get("_meta") or {}).get("progressToken")
        end = time.monotonic() + args.get("ms", 0) / 1000.0
        step = 0
        while time.monotonic() < end:
            if cancelled.wait(min(0.05, max(0, end - time.monotonic()))):
                return
            step += 1
            if token is not None:
                send({"jsonrpc": "2.0", "method": "notifications/progress",
                      "params": {"progressToken": token, "progress": step,
                                 "message": args.get("label")}})
        if not cancelled.is_set():
            answer(mid, {"content": [], "structuredContent":
                         {"slept": args.get("ms", 0)}})
        return
    if name == "hold":
        key, slot = held
        try:
            while not slot[0].wait(0.02):
                if cancelled.is_set() and not args.get("ignore_cancel"):
                    return
            answer(mid, {"content": [], "structuredContent":
                         {"value": args.get("value")}})
        finally:
            with holds_lock:
                if slot in holds.get(key, []):
                    holds[key].remove(slot)
            slot[1].set()
        return
    if name == "release":
        with holds_lock:
            slots = holds.pop(args.get("key"), [])
        for released, _ in slots:
            released.set()
        for _, done in slots:
            done.wait()
        return answer(mid, {"content": [], "structuredContent":
                            {"released": len(slots)}})
    if name in CLIENT_REQUESTS:
        method, default = CLIENT_REQUESTS[name]
        if args.get("after") and not wait_file(args["after"], cancelled):
            return
        resp = ask_client(method, args.get("params", default))
        return answer(mid, {"content": [], "structuredContent":
                            {"response": resp, "ok": "result" in resp}})
    if name == "notify":
        msg = {"jsonrpc": "2.0", "method": args["method"]}
        if "params" in args:
            msg["params"] = args["params"]
        send(msg)
        return answer(mid, {"content": []})
    if name == "big":
        return answer(mid, {"content": [{"type": "text", "text": big_text(
            args["size"], args.get("seed", 0))}]})
    if name == "env":
        return answer(mid, {"content": [], "structuredContent": {
            "env": {k: env.get(k) for k in args.get("names", [])},
            "cwd": os.getcwd(), "pid": os.getpid()}})
    if name == "garbage":
        write(args.get("text", "this is not json").encode())
        return answer(mid, {"content": []})
    if name == "crash":
        os._exit(3)
    answer(mid, error={"code": -32602, "message": "unknown tool %r" % name})


def initialize(params):
    gate = env.get("MCP_INIT_GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.02)
    version = env.get("MCP_VERSION", "2025-06-18")
    if env.get("MCP_VERSIONS"):
        known = env["MCP_VERSIONS"].split()
        asked = params.get("protocolVersion")
        version = asked if asked in known else known[0]
    return {"protocolVersion": version,
            "capabilities": {"tools": {"listChanged": True},
                             "resources": {"subscribe": True,
                                           "listChanged": True},
                             "prompts": {"listChanged": True},
                             "logging": {}},
            "serverInfo": {"name": "fake", "version": env.get(
                "MCP_SERVERINFO_VERSION", "1").replace("{run}", str(run))}}


def handle(msg):
    method, mid, params = msg.get("method"), msg.get("id"), \
        msg.get("params") or {}
    if method is None:                          # a response to our request
        slot = pending.get(mid)
        if slot:
            slot[1] = msg
            slot[0].set()
        return
    if "id" not in msg:                         # a notification
        if method == "notifications/cancelled":
            with cancels_lock:
                ev = cancels.get(json.dumps(params.get("requestId")))
            if ev:
                ev.set()
        return
    if method == "initialize":
        answer(mid, initialize(params))
    elif method == "tools/list":
        time.sleep(int(env.get("MCP_LIST_DELAY", "0")) / 1000.0)
        answer(mid, {"tools": [
            {"name": "echo", "inputSchema": {"type": "object"}},
            {"name": env.get("MCP_TOOL", "slow").replace("{run}", str(run)),
             "inputSchema": {"type": "object"}}] + file_tools()})
    elif method == "prompts/list":
        answer(mid, {"prompts": []})
    elif method in ("ping", "logging/setLevel", "resources/subscribe",
                    "resources/unsubscribe"):
        answer(mid, {})
    elif method == "tools/call":
        key = json.dumps(mid)
        with cancels_lock:
            ev = cancels[key] = threading.Event()
        held = hold_slot(params) if params.get("name") == "hold" else None

        def go():
            try:
                tool(mid, params, ev, held)
            finally:
                with cancels_lock:
                    if cancels.get(key) is ev:
                        del cancels[key]
        threading.Thread(target=go, daemon=True).start()
    else:
        answer(mid, error={"code": -32601,
                           "message": "method not found: %s" % method})


for raw in sys.stdin.buffer:
    if log:
        log.write(raw if raw.endswith(b"\n") else raw + b"\n")
        log.flush()
    try:
        msg = json.loads(raw)
    except ValueError:
        continue
    if isinstance(msg, dict):
        handle(msg)
if env.get("MCP_PIDDIR"):
    open(os.path.join(env["MCP_PIDDIR"], "%d.eof" % os.getpid()), "w").close()
time.sleep(int(env.get("MCP_EOF_DELAY", "0")) / 1000.0)
sys.stdout.flush()
os._exit(0)
