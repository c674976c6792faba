// Several MCP sessions at once over Streamable HTTP, through the official
// TypeScript SDK (Client + StreamableHTTPClientTransport), against tend's
// endpoint (listen = http:...) serving tests/e2e/bin/mcp_server.py.
//
//   node http_client.mjs --url URL [--sessions N] [--token TOKEN] [--timeout S]
//
// Every session declares sampling and roots, and answers a sampling request
// with the text "from NAME" and roots/list with the root file:///NAME
// (NAME: s0, s1, ...).  All sessions are opened at once and stay open; then
//   - tools/call env in every session at once: the server's pid, per session
//   - tools/call sample and roots, one session at a time (the server asks
//     the client whose request is in flight): each session must be asked,
//     and its own answer must come back
//   - tools/call echo in every session at once
//   - every session ends with DELETE (terminateSession)
// On success: {"ok": true, "pids": [...], "ids": [session ids], ...} on
// stdout, exit 0; else {"ok": false, "error": ...}, exit 1.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ListRootsRequestSchema, CallToolResultSchema }
  from "@modelcontextprotocol/sdk/types.js";
import { start } from "./run.mjs";

const { opt, result, finish, check } = start("http_client", {
  url: { type: "string" },
  sessions: { type: "string", default: "3" },
  token: { type: "string" },
});

async function open(name) {
  const asked = { sampling: 0, roots: 0 };
  const client = new Client({ name: `http-${name}`, version: "1.0.0" },
                            { capabilities: { sampling: {}, roots: { listChanged: true } } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    asked.sampling++;
    return { role: "assistant", model: "test", content: { type: "text", text: `from ${name}` } };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked.roots++;
    return { roots: [{ uri: `file:///${name}`, name }] };
  });
  const headers = opt.token ? { Authorization: `Bearer ${opt.token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(opt.url),
                                                      { requestInit: { headers } });
  await client.connect(transport);
  check(transport.sessionId, `${name}: no Mcp-Session-Id`);
  return { name, client, transport, asked };
}

async function call(s, tool, args) {
  const r = await s.client.request({ method: "tools/call", params: { name: tool, arguments: args || {} } },
                                   CallToolResultSchema);
  check(!r.isError, `${s.name}: ${tool} failed: ${JSON.stringify(r)}`);
  return r.structuredContent;
}

try {
  check(opt.url, "usage: http_client.mjs --url URL [--sessions N]");
  const n = Number(opt.sessions);
  const ss = await Promise.all([...Array(n).keys()].map((i) => open(`s${i}`)));
  result.ids = ss.map((s) => s.transport.sessionId);
  check(new Set(result.ids).size === n, `session ids not distinct: ${result.ids}`);
  result.server = ss[0].client.getServerVersion();

  const envs = await Promise.all(ss.map((s) => call(s, "env", { names: [] })));
  result.pids = envs.map((e) => e.pid);

  for (const s of ss) {
    const got = await call(s, "sample");
    check(got.ok, `${s.name}: sampling failed: ${JSON.stringify(got)}`);
    check(got.response.result.content.text === `from ${s.name}`,
          `${s.name}: sampling answered by ${JSON.stringify(got.response.result)}`);
    const roots = await call(s, "roots");
    check(roots.ok, `${s.name}: roots failed: ${JSON.stringify(roots)}`);
    check(roots.response.result.roots[0].uri === `file:///${s.name}`,
          `${s.name}: roots of ${JSON.stringify(roots.response.result)}`);
  }
  result.asked = ss.map((s) => s.asked);
  for (const s of ss)
    // roots: once by the server, and once more by tend itself when the
    // service shares by roots (share = roots, the default)
    check(s.asked.sampling === 1 && s.asked.roots >= 1 && s.asked.roots <= 2,
          `${s.name} was asked ${JSON.stringify(s.asked)}`);

  const echoes = await Promise.all(ss.map((s) => call(s, "echo", { who: s.name })));
  echoes.forEach((e, i) => check(e.who === ss[i].name, `echo of ${ss[i].name}: ${JSON.stringify(e)}`));

  for (const s of ss) {
    await s.transport.terminateSession();
    await s.client.close();
  }
  finish(true);
} catch (e) {
  finish(false, e && e.stack ? e.stack : String(e));
}
