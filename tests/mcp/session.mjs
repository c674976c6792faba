// One MCP session through an official TypeScript SDK client, old or new,
// against any stdio command: what tests/e2e/test_mcp_clients.py runs as
// "a real client".  Unlike sdk_client.mjs (fixed scenarios), the test says
// what to call, and gets back what happened, without judging it.
//
//   node session.mjs [OPTIONS] -- COMMAND [ARG ...]
//
//   --sdk new|1.12     the SDK: "new" is @modelcontextprotocol/sdk (1.32.2,
//                      asks protocol 2025-11-25), "1.12" the npm alias
//                      sdk-1.12 (1.12.1, asks 2025-03-26)      (default new)
//   --env MODE         the server's environment, as the client gives it:
//                        default  exactly the SDK's getDefaultEnvironment()
//                                 (HOME, LOGNAME, PATH, SHELL, TERM, USER),
//                                 what an MCP client passes when its
//                                 configuration has no env block
//                        tend     default + what tend's tests need to find
//                                 their daemon (XDG_*, TEND_E2E_TAG)  (default)
//   --set K=V          one more variable, as an "env" block of .mcp.json
//                      gives it (repeatable)
//   --root DIR         declare the roots capability and answer roots/list
//                      with file://DIR (repeatable, in order)
//   --wait-roots       after tools/list, wait until the server asked for
//                      the roots (then 300 ms, for it to take them), at
//                      most 10 s (roots_asked in the result tells)
//   --call JSON        after tools/list: tools/call {"name":..,"arguments":..}
//                      (repeatable, in order, one at a time)
//   --ready FILE       after tools/list, create FILE, then wait until the
//   --go FILE          file GO exists before the calls: the test holds
//                      every session connected at once
//   --linger SECONDS   stay connected that long after the calls (default 0)
//   --timeout SECONDS  hard limit for the whole session      (default 60)
//
// Prints one JSON line on stdout and exits 0 when the session itself
// worked (connect, tools/list, close), whatever the calls answered:
//   {"ok": true, "sdk", "asked": version in our initialize,
//    "protocol": version in the server's initialize result, "server",
//    "tools": [names], "calls": [{"name", "text", "isError"} or
//    {"name", "error": message, "code"}], "roots_asked": N}
// and {"ok": false, "error": ..., and what it got so far} with exit 1
// otherwise.  The command's stderr is inherited.
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import fs from "node:fs";
import path from "node:path";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SDKS = { "new": "@modelcontextprotocol/sdk", "1.12": "sdk-1.12" };
const PASS_ENV = ["XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "TEND_E2E_TAG"];

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sdk: { type: "string", default: "new" },
    env: { type: "string", default: "tend" },
    set: { type: "string", multiple: true, default: [] },
    root: { type: "string", multiple: true, default: [] },
    call: { type: "string", multiple: true, default: [] },
    "wait-roots": { type: "boolean", default: false },
    ready: { type: "string" },
    go: { type: "string" },
    linger: { type: "string", default: "0" },
    timeout: { type: "string", default: "60" },
  },
});
const result = { ok: false, sdk: opt.sdk, calls: [], roots_asked: 0 };

function finish(ok, error) {
  result.ok = ok;
  if (error) result.error = error;
  process.stdout.write(JSON.stringify(result) + "\n");
  if (!ok) process.stderr.write(`session.mjs: ${error}\n`);
  process.exit(ok ? 0 : 1);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function text(res) {
  return (res.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

// What the SDK's transport sends and receives, seen from outside: the
// initialize request and result (the SDK keeps the negotiated version to
// itself), whatever the SDK version.
class Tap {
  constructor(inner) {
    this.inner = inner;
    inner.onmessage = (msg, extra) => {
      if (msg.id === this.initId && msg.result) result.protocol = msg.result.protocolVersion;
      if (msg.id === this.initId && msg.error) result.init_error = msg.error;
      this.onmessage?.(msg, extra);
    };
    inner.onclose = () => this.onclose?.();
    inner.onerror = (e) => this.onerror?.(e);
  }
  start() { return this.inner.start(); }
  close() { return this.inner.close(); }
  send(msg, options) {
    if (msg.method === "initialize") {
      this.initId = msg.id;
      result.asked = msg.params?.protocolVersion;
    }
    return this.inner.send(msg, options);
  }
  setProtocolVersion(v) { this.inner.setProtocolVersion?.(v); }
}

async function waitFile(file) {
  while (!fs.existsSync(file)) await sleep(20);
}

async function main() {
  check(SDKS[opt.sdk], `--sdk must be one of ${Object.keys(SDKS).join(", ")}`);
  check(["default", "tend"].includes(opt.env), "--env must be default or tend");
  check(positionals.length >= 1, "usage: session.mjs [OPTIONS] -- COMMAND [ARG ...]");
  // Imported by file: this script's own node_modules, whatever the cwd.
  const base = path.join(HERE, "node_modules", SDKS[opt.sdk], "dist", "esm");
  const load = (p) => import(pathToFileURL(path.join(base, p)).href);
  const { Client } = await load("client/index.js");
  const { StdioClientTransport, getDefaultEnvironment } = await load("client/stdio.js");
  const { ListRootsRequestSchema } = await load("types.js");

  const env = getDefaultEnvironment();
  if (opt.env === "tend")
    for (const k of PASS_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  for (const kv of opt.set) {
    const eq = kv.indexOf("=");
    check(eq > 0, `--set ${kv}: not K=V`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const capabilities = opt.root.length ? { roots: { listChanged: true } } : {};
  const client = new Client({ name: `tend-test-${opt.sdk}`, version: "1.0.0" }, { capabilities });
  if (opt.root.length) {
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      result.roots_asked++;
      return { roots: opt.root.map((d) => ({ uri: pathToFileURL(d).href, name: path.basename(d) })) };
    });
  }
  const errors = [];
  client.onerror = (e) => errors.push(String(e?.message ?? e));

  const [command, ...args] = positionals;
  const transport = new Tap(new StdioClientTransport({ command, args, env }));
  await client.connect(transport);
  result.server = client.getServerVersion()?.name;
  result.tools = (await client.listTools()).tools.map((t) => t.name);

  if (opt["wait-roots"]) {
    check(opt.root.length, "--wait-roots needs --root");
    for (let waited = 0; !result.roots_asked && waited < 10000; waited += 20) await sleep(20);
    await sleep(300);
  }
  if (opt.ready) fs.writeFileSync(opt.ready, `${process.pid}\n`);
  if (opt.go) await waitFile(opt.go);
  for (const c of opt.call) {
    const req = JSON.parse(c);
    try {
      const res = await client.callTool({ name: req.name, arguments: req.arguments ?? {} });
      result.calls.push({ name: req.name, text: text(res), isError: !!res.isError });
    } catch (e) {
      result.calls.push({ name: req.name, error: String(e?.message ?? e), code: e?.code });
    }
  }
  await sleep(Number(opt.linger) * 1000);
  result.client_errors = errors;
  await client.close();
  result.closed = true;
}

// Exiting closes our ends of the pipes: the command sees EOF.
setTimeout(() => finish(false, `timed out after ${opt.timeout} s`), Number(opt.timeout) * 1000);
main().then(() => finish(true), (e) => finish(false, e?.message ?? String(e)));
