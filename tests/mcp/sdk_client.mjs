// One MCP session through the official TypeScript SDK (Client +
// StdioClientTransport), as an AI coding agent would open it: against
// `tend -c CONFIG connect SERVICE`, or with --direct against a server this
// script spawns itself (to tell a broken client from a broken tend).
//
//   node sdk_client.mjs [OPTIONS] TEND CONFIG SERVICE
//   node sdk_client.mjs [OPTIONS] --direct
//
//   --scenario everything    (default; server-everything) initialize, list
//                            tools, echo, trigger-long-running-operation with
//                            progress, trigger-sampling-request answered here
//   --scenario memory-write  (server-memory) create entity "e-SESSION" with
//                            the observation "written by SESSION", read it back
//   --scenario memory-read   (server-memory) open the entity of --expect ID
//   --session ID             unique text of this session (default: pid+random)
//   --expect ID              memory-read: the session whose entity must be there
//   --steps N                long-running operation steps (default 3, 0.25 s each)
//   --timeout SECONDS        hard limit for the whole session (default 60)
//
// On success: one JSON line on stdout ({"ok": true, ...}), exit 0.  On
// failure: {"ok": false, "error": ...} on stdout, the reason on stderr, exit 1.
// The server's (or tend connect's) stderr is inherited.  --direct spawns
// node on the installed server's dist/index.js (server-memory with
// $MEMORY_FILE_PATH, which must then be set).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import path from "node:path";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVERS = path.join(HERE, "node_modules", "@modelcontextprotocol");
// What an MCP client passes to a stdio server: its default environment
// plus what tend needs to find its daemon, the test's reaper tag, and
// for --direct the memory server's file.
const PASS_ENV = ["XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME",
                  "TEND_E2E_TAG", "MEMORY_FILE_PATH"];

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    direct: { type: "boolean", default: false },
    scenario: { type: "string", default: "everything" },
    session: { type: "string", default: `${process.pid}-${Math.random().toString(36).slice(2, 8)}` },
    expect: { type: "string" },
    steps: { type: "string", default: "3" },
    timeout: { type: "string", default: "60" },
  },
});
const session = opt.session;
const result = { ok: false, session, scenario: opt.scenario };

function finish(ok, error) {
  result.ok = ok;
  if (error) result.error = error;
  process.stdout.write(JSON.stringify(result) + "\n");
  if (!ok) process.stderr.write(`sdk_client ${session}: ${error}\n`);
  process.exit(ok ? 0 : 1);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

function text(res) {
  return (res.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

function serverParams() {
  const env = getDefaultEnvironment();
  for (const k of PASS_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  if (opt.direct) {
    const memory = opt.scenario.startsWith("memory");
    check(!memory || env.MEMORY_FILE_PATH, "--direct with a memory scenario needs MEMORY_FILE_PATH");
    const args = memory ? [path.join(SERVERS, "server-memory", "dist", "index.js")]
                        : [path.join(SERVERS, "server-everything", "dist", "index.js"), "stdio"];
    return { command: process.execPath, args, env };
  }
  check(positionals.length === 3, "usage: sdk_client.mjs [OPTIONS] (TEND CONFIG SERVICE | --direct)");
  const [tend, config, service] = positionals;
  return { command: tend, args: ["-c", config, "connect", service], env };
}

async function everything(client, seen) {
  const tools = (await client.listTools()).tools.map((t) => t.name);
  result.tools = tools.length;
  for (const name of ["echo", "trigger-long-running-operation", "trigger-sampling-request"])
    check(tools.includes(name), `tools/list lacks ${name}: ${tools.join(", ")}`);

  const message = `hello from ${session}`;
  const echo = text(await client.callTool({ name: "echo", arguments: { message } }));
  check(echo === `Echo: ${message}`, `echo answered ${JSON.stringify(echo)}`);

  // Progress: the transport taps (SEEN) record the token this request went
  // out with and every progress notification that came in.  Each must carry
  // that token and this request's own total, steps 1..N in order: one meant
  // for another session would show.  The SDK's handler may miss the last
  // one (it runs progress handlers a microtask late, after a response read
  // in the same chunk) and reports it as an "unknown token" error.
  const steps = Number(opt.steps);
  const handled = [];
  const long = text(await client.callTool(
    { name: "trigger-long-running-operation", arguments: { duration: steps * 0.25, steps } },
    undefined, { onprogress: (p) => handled.push(p) }));
  check(long.includes(`Steps: ${steps}.`), `long-running operation answered ${JSON.stringify(long)}`);
  result.progress = seen.progress.length;
  result.progress_handled = handled.length;
  check(handled.length >= 1, "the progress handler got no notification");
  const got = seen.progress.map((p) => `${p.progressToken}:${p.progress}/${p.total}`).join(" ");
  const want = Array.from({ length: steps }, (_, i) => `${seen.token}:${i + 1}/${steps}`).join(" ");
  check(got === want, `progress notifications ${got}, not this request's ${want}`);

  // Sampling: the server's sampling/createMessage must come to this
  // session (it carries this session's prompt), and this session's answer
  // must come back in the tool's result.
  const prompt = `prompt of ${session}`;
  const answer = `sampled answer of ${session}`;
  const sampled = text(await client.callTool(
    { name: "trigger-sampling-request", arguments: { prompt, maxTokens: 20 } }));
  result.sampling = seen.sampling.length;
  check(seen.sampling.length >= 1 && seen.sampling.every((asked) => asked.includes(prompt)),
        `sampling requests that came here: ${JSON.stringify(seen.sampling)}`);
  check(sampled.includes(answer), `sampling tool answered ${JSON.stringify(sampled)}`);
}

async function memory(client) {
  const open = async (id) => {
    const res = await client.callTool({ name: "open_nodes", arguments: { names: [`e-${id}`] } });
    return res.structuredContent?.entities ?? JSON.parse(text(res)).entities;
  };
  if (opt.scenario === "memory-write") {
    await client.callTool({ name: "create_entities", arguments: { entities: [
      { name: `e-${session}`, entityType: "tend-test", observations: [`written by ${session}`] }] } });
  }
  const id = opt.scenario === "memory-write" ? session : opt.expect;
  check(id, "memory-read needs --expect ID");
  const entities = await open(id);
  check(entities.length === 1 && entities[0].observations.includes(`written by ${id}`),
        `entity e-${id} not found as written: ${JSON.stringify(entities)}`);
  result.entity = `e-${id}`;
}

async function main() {
  check(["everything", "memory-write", "memory-read"].includes(opt.scenario), `unknown scenario ${opt.scenario}`);
  check(Number(opt.steps) >= 2, "--steps must be 2 or more");
  const seen = { progress: [], token: undefined, sampling: [] };
  const client = new Client({ name: "tend-sdk-test", version: "1.0.0" },
                            { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    seen.sampling.push(req.params.messages.map((m) => m.content?.text ?? "").join(" "));
    return { model: "tend-test", role: "assistant",
             content: { type: "text", text: `sampled answer of ${session}` } };
  });
  const errors = [];
  client.onerror = (e) => errors.push(String(e?.message ?? e));

  const transport = new StdioClientTransport(serverParams());
  await client.connect(transport);
  const { onmessage, send } = transport;   // onmessage was set by connect(): tap both
  transport.onmessage = (msg, extra) => {
    if (msg.method === "notifications/progress") seen.progress.push(msg.params);
    onmessage(msg, extra);
  };
  transport.send = (msg, options) => {
    if (msg.params?.name === "trigger-long-running-operation") seen.token = msg.params._meta?.progressToken;
    return send.call(transport, msg, options);
  };
  result.server = client.getServerVersion()?.name;

  if (opt.scenario === "everything") await everything(client, seen);
  else await memory(client);

  const bad = errors.filter((e) => !e.includes("progress notification for an unknown token"));
  check(bad.length === 0, `client errors: ${bad.join("; ")}`);
  await client.close();
  result.closed = true;
}

// Exiting closes our ends of the pipes: the server (or tend connect) sees EOF.
setTimeout(() => finish(false, `timed out after ${opt.timeout} s`), Number(opt.timeout) * 1000);
main().then(() => finish(true), (e) => finish(false, e?.message ?? String(e)));
