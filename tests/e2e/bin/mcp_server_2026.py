"""A scriptable MCP server of the stateless revision 2026-07-28, on stdio
(one JSON object per line), written from the specification's text
(docs/mcp-2026.md cites the files), for tests/e2e/test_mcp_2026.py.

Every line it reads is appended, as received, to $MCP_LOG (flushed at
once).  $MCP_RUNS: a file that gets one line per run (the pid); the line
count is the run number.

$MCP26_MODE:
  modern (default)  2026-07-28 only: initialize is refused (-32601, naming
                    the versions it supports); every request must carry
                    _meta io.modelcontextprotocol/protocolVersion and
                    clientCapabilities (else -32602), in a version of
                    $MCP26_VERSIONS (comma-separated, default 2026-07-28;
                    else -32022 UnsupportedProtocolVersion with
                    data.supported and data.requested)
  dual              the same, and initialize (2025-11-25, or the version
                    asked for among 2025-06-18 and 2025-03-26) answered as
                    a server of the session era; a request without modern
                    _meta is then served as the session era serves it
                    (results without resultType; ping, logging/setLevel,
                    resources/subscribe answered {})
  pinned            dual, but the first request fixes the era of the
                    process, as the official SDKs' stdio servers do:
                    initialize first, and a request with modern _meta gets
                    -32600; a modern request first, and initialize gets
                    -32022 naming the modern versions

Requests of the stateless era:
  server/discover   DiscoverResult: supportedVersions, capabilities (tools,
                    prompts, resources: listChanged), _meta serverInfo
                    {name: fake26, version: $MCP_SERVERINFO_VERSION (1),
                    "{run}" the run number}, instructions, ttlMs, cacheScope
  tools/list        one tool per name below (resultType complete, ttlMs,
                    cacheScope)
  subscriptions/listen
                    acknowledged at once (notifications/subscriptions/
                    acknowledged, tagged with the subscription id: the
                    request's id), with the filter's supported part; stays
                    open (no response) until the client cancels it or the
                    tool end_listens ends it
  ping, logging/setLevel, resources/subscribe, resources/unsubscribe,
  anything else     -32601
  tools/call        by params.name (arguments: params.arguments):
    echo            structuredContent {args, meta: the request's _meta}
    login           {key}: multi round-trip: without inputResponses, an
                    InputRequiredResult asking elicitation/create "who"
                    (-32021 MissingRequiredClientCapability when the
                    request's clientCapabilities lack elicitation), its
                    requestState "st:KEY"; with inputResponses.who and that
                    requestState: complete, {user: the name given, key};
                    with another requestState: -32602
    log             {level, data}: a notifications/message (when the
                    request's _meta has io.modelcontextprotocol/logLevel at
                    or below LEVEL), then answers {}
    wait            {file}: answers {} once FILE exists (a cancelled one
                    stops without answering)
    changed         {list}: notifications/LIST/list_changed on every listen
                    stream that asked for it (tagged), then answers {n}
    updated         {uri}: notifications/resources/updated on every stream
                    subscribed to URI, then answers {n}
    end_listens     answers every open stream's listen request (graceful
                    closure: resultType complete, _meta subscriptionId)
    cancel_listens  notifications/cancelled for every open stream
    crash           exits with code 3 at once
Notifications: notifications/cancelled ends the listen stream or stops the
wait it names.  It writes "fake26: pid=P run=R mode=M started" on stderr.
"""
import json
import os
import sys
import threading
import time

env = os.environ
MODE = env.get("MCP26_MODE", "modern")
VERSIONS = env.get("MCP26_VERSIONS", "2026-07-28").split(",")
LEGACY = ["2025-11-25", "2025-06-18", "2025-03-26"]
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert",
          "emergency"]
P = "io.modelcontextprotocol/"
LISTS = {"tools": "toolsListChanged", "prompts": "promptsListChanged",
         "resources": "resourcesListChanged"}
TOOLS = ["echo", "login", "log", "wait", "changed", "updated", "end_listens",
         "cancel_listens", "crash"]

run = 1
if env.get("MCP_RUNS"):
    with open(env["MCP_RUNS"], "a+") as f:
        f.write("%d\n" % os.getpid())
        f.seek(0)
        run = len(f.read().splitlines())
sys.stderr.write("fake26: pid=%d run=%d mode=%s started\n"
                 % (os.getpid(), run, MODE))
sys.stderr.flush()

log = open(env["MCP_LOG"], "ab") if env.get("MCP_LOG") else None
out = sys.stdout.buffer
lock = threading.Lock()
listens = {}            # json.dumps(listen id) -> (id, acknowledged filter)
era = None              # pinned: "legacy" or "modern", once decided
waits = {}              # json.dumps(request id) -> Event (cancelled)
SERVER_INFO = {"name": "fake26", "version": env.get(
    "MCP_SERVERINFO_VERSION", "1").replace("{run}", str(run))}
CAPS = {"tools": {"listChanged": True}, "prompts": {"listChanged": True},
        "resources": {"listChanged": True}, "logging": {}}


def send(obj):
    with lock:
        out.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
        out.flush()


def result(mid, res, modern=True):
    res = dict(res)
    if modern:
        res["resultType"] = res.get("resultType", "complete")
        meta = dict(res.get("_meta") or {})
        meta[P + "serverInfo"] = SERVER_INFO
        res["_meta"] = meta
    send({"jsonrpc": "2.0", "id": mid, "result": res})


def error(mid, code, message, data=None):
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    send({"jsonrpc": "2.0", "id": mid, "error": err})


def tagged(method, sub_id, params=None):
    params = dict(params or {})
    params["_meta"] = {P + "subscriptionId": sub_id}
    send({"jsonrpc": "2.0", "method": method, "params": params})


def tool(mid, params, meta, modern):
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "echo":
        return result(mid, {"content": [], "structuredContent":
                            {"args": args, "meta": meta}}, modern)
    if name == "login":
        key = args.get("key", "")
        caps = meta.get(P + "clientCapabilities") or {}
        responses = params.get("inputResponses")
        if responses is None:
            if "elicitation" not in caps:
                return error(mid, -32021, "Missing required client capability",
                             {"requiredCapabilities": {"elicitation": {}}})
            return result(mid, {
                "resultType": "input_required",
                "inputRequests": {"who": {
                    "method": "elicitation/create",
                    "params": {"mode": "form", "message": "Who are you?",
                               "requestedSchema": {
                                   "type": "object",
                                   "properties": {"name": {"type": "string"}},
                                   "required": ["name"]}}}},
                "requestState": "st:" + key})
        if params.get("requestState") != "st:" + key:
            return error(mid, -32602, "requestState does not match")
        who = (responses.get("who") or {}).get("content") or {}
        return result(mid, {"content": [], "structuredContent":
                            {"user": who.get("name"), "key": key}})
    if name == "log":
        asked = meta.get(P + "logLevel")
        level = args.get("level", "info")
        if asked in LEVELS and LEVELS.index(level) >= LEVELS.index(asked):
            send({"jsonrpc": "2.0", "method": "notifications/message",
                  "params": {"level": level, "data": args.get("data")}})
        return result(mid, {"content": []}, modern)
    if name == "wait":
        ev = threading.Event()
        waits[json.dumps(mid)] = ev

        def go():
            while not os.path.exists(args["file"]):
                if ev.wait(0.02):
                    return
            result(mid, {"content": []}, modern)
        threading.Thread(target=go, daemon=True).start()
        return
    if name == "changed":
        n = 0
        for sub_id, filt in list(listens.values()):
            if filt.get(LISTS[args["list"]]):
                tagged("notifications/%s/list_changed" % args["list"], sub_id)
                n += 1
        return result(mid, {"content": [], "structuredContent": {"n": n}})
    if name == "updated":
        n = 0
        for sub_id, filt in list(listens.values()):
            if args["uri"] in filt.get("resourceSubscriptions", []):
                tagged("notifications/resources/updated", sub_id,
                       {"uri": args["uri"]})
                n += 1
        return result(mid, {"content": [], "structuredContent": {"n": n}})
    if name == "end_listens":
        for key, (sub_id, _) in list(listens.items()):
            del listens[key]
            result(sub_id, {"_meta": {P + "subscriptionId": sub_id}})
        return result(mid, {"content": []})
    if name == "cancel_listens":
        for key, (sub_id, _) in list(listens.items()):
            del listens[key]
            send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": sub_id, "reason": "shutting down"}})
        return result(mid, {"content": []})
    if name == "crash":
        os._exit(3)
    error(mid, -32602, "unknown tool %r" % name)


def modern_request(mid, method, params, meta):
    if P + "protocolVersion" not in meta or \
            P + "clientCapabilities" not in meta:
        return error(mid, -32602, "Invalid params: _meta needs %sprotocolVersion"
                     " and %sclientCapabilities" % (P, P))
    asked = meta[P + "protocolVersion"]
    if asked not in VERSIONS:
        return error(mid, -32022, "Unsupported protocol version",
                     {"supported": VERSIONS + (LEGACY[:1] if MODE == "dual"
                                               else []),
                      "requested": asked})
    if method == "server/discover":
        return result(mid, {
            "supportedVersions": VERSIONS + (LEGACY if MODE == "dual" else []),
            "capabilities": CAPS,
            "instructions": "A fake server of the stateless revision.",
            "ttlMs": 60000, "cacheScope": "public"})
    if method == "tools/list":
        return result(mid, {"tools": [{"name": t, "inputSchema": {
            "type": "object"}} for t in TOOLS], "ttlMs": 60000,
            "cacheScope": "public"})
    if method == "subscriptions/listen":
        want = params.get("notifications") or {}
        filt = {k: True for k in LISTS.values() if want.get(k) is True}
        if isinstance(want.get("resourceSubscriptions"), list):
            filt["resourceSubscriptions"] = want["resourceSubscriptions"]
        listens[json.dumps(mid)] = (mid, filt)
        tagged("notifications/subscriptions/acknowledged", mid,
               {"notifications": filt})
        return
    if method == "tools/call":
        return tool(mid, params, meta, True)
    error(mid, -32601, "Method not found: %s" % method)


def legacy_request(mid, method, params):
    if method == "initialize":
        asked = params.get("protocolVersion")
        return result(mid, {
            "protocolVersion": asked if asked in LEGACY else LEGACY[0],
            "capabilities": CAPS, "serverInfo": SERVER_INFO}, False)
    if method in ("ping", "logging/setLevel", "resources/subscribe",
                  "resources/unsubscribe"):
        return result(mid, {}, False)
    if method == "tools/list":
        return result(mid, {"tools": [{"name": t, "inputSchema": {
            "type": "object"}} for t in TOOLS]}, False)
    if method == "tools/call":
        return tool(mid, params, params.get("_meta") or {}, False)
    error(mid, -32601, "Method not found: %s" % method)


def handle(msg):
    method, params = msg.get("method"), msg.get("params") or {}
    if method is None:
        return                      # a response: clients send none
    if "id" not in msg:
        if method == "notifications/cancelled":
            key = json.dumps(params.get("requestId"))
            listens.pop(key, None)
            ev = waits.pop(key, None)
            if ev:
                ev.set()
        return
    mid = msg["id"]
    meta = params.get("_meta") or {}
    modern = P + "protocolVersion" in meta and method != "initialize"
    if MODE == "pinned":
        global era
        era = era or ("modern" if modern or method == "server/discover"
                      else "legacy")
        if era == "legacy" and modern:
            return error(mid, -32600, "Invalid request: this connection "
                         "speaks the initialize handshake")
        if era == "modern" and method == "initialize":
            return error(mid, -32022, "Unsupported protocol version",
                         {"supported": VERSIONS, "requested":
                          params.get("protocolVersion")})
        if era == "legacy":
            return legacy_request(mid, method, params)
        return modern_request(mid, method, params, meta)
    if method == "initialize" and MODE != "dual":
        return error(mid, -32601, "initialize is not supported: this server "
                     "speaks MCP %s only (per-request _meta; see server/"
                     "discover)" % ", ".join(VERSIONS))
    if MODE == "dual" and P + "protocolVersion" not in meta:
        return legacy_request(mid, method, params)
    modern_request(mid, method, params, meta)


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
sys.stdout.flush()
time.sleep(0)
os._exit(0)
