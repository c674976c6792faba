// Resumption (Last-Event-ID) of tend's Streamable HTTP endpoint through the
// official TypeScript SDK's StreamableHTTPClientTransport, against
// tests/e2e/bin/mcp_server.py's "slow" tool (progress every 50 ms).
//
//   node http_resume.mjs --url URL [--ms MS] [--timeout S]
//
// 1. A tools/call slow whose POST stream is cut after a few events (a fetch
//    that errors the body mid-way, as a network failure does): the SDK
//    reconnects by itself with GET and Last-Event-ID; the call must end
//    with its result, every progress notification seen once, in order.
// 2. A tools/call slow whose client goes away (closed) after a few events,
//    its last event id kept (onresumptiontoken); a new client of the same
//    session (transport sessionId) resumes it with resumptionToken: the
//    result must come to it.
// On success: {"ok": true, ...} on stdout, exit 0; else {"ok": false,
// "error": ...}, exit 1.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { start } from "./run.mjs";

const { opt, result, finish, check } = start("http_resume", {
  url: { type: "string" },
  ms: { type: "string", default: "1500" },
});

// The next POST answered with an SSE stream is cut once CUT events (the
// priming event counted) have come through.
let cut = 0;
const cuts = [];
async function cuttingFetch(url, init) {
  const res = await fetch(url, init);
  const sse = (res.headers.get("content-type") || "").startsWith("text/event-stream");
  if (!cut || init.method !== "POST" || !sse) return res;
  const after = cut;
  cut = 0;
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = "";
  const body = new ReadableStream({
    async pull(controller) {
      const ids = (text.match(/^id: .*$/gm) || []);
      if (ids.length >= after) {
        cuts.push(ids[ids.length - 1].slice(4));
        reader.cancel().catch(() => {});
        controller.error(new TypeError("connection cut by the test"));
        return;
      }
      const { value, done } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      text += dec.decode(value, { stream: true });
      controller.enqueue(value);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText,
                              headers: res.headers });
}

const reconnection = { initialReconnectionDelay: 100, maxReconnectionDelay: 1000,
                       reconnectionDelayGrowFactor: 1.5, maxRetries: 5 };

async function connect(name, sessionId) {
  const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(opt.url), {
    fetch: cuttingFetch, reconnectionOptions: reconnection, sessionId });
  client.onerror = () => {};   // the cut is reported there
  await client.connect(transport);
  return { client, transport };
}

const ms = Number(opt.ms);
// (a label: the fake server sends message: null without one, which the SDK
// takes for no progress notification)
const slow = { method: "tools/call", params: { name: "slow", arguments: { ms, label: "p" } } };

try {
  check(opt.url, "usage: http_resume.mjs --url URL");

  // 1. cut mid-way: the SDK resumes by itself
  const a = await connect("resume-a");
  const progress = [];
  cut = 4;   // the priming event and 3 progress notifications
  const r = await a.client.request(slow, CallToolResultSchema, {
    onprogress: (p) => progress.push(p.progress), timeout: 30000 });
  check(cuts.length === 1, `the stream was not cut (${cuts})`);
  check(r.structuredContent && r.structuredContent.slept === ms,
        `result after the cut: ${JSON.stringify(r)}`);
  check(progress.length >= 3, `progress: ${progress}`);
  check(progress.every((p, i) => p === i + 1),
        `progress lost or repeated across the cut: ${progress}`);
  result.cut_at = cuts[0];
  result.progress = progress.length;

  // 2. another client of the session resumes with resumptionToken
  let token;
  let seen = 0;
  let gotFirst;
  const first = new Promise((res) => { gotFirst = res; });
  a.client.request(slow, CallToolResultSchema, {
    onprogress: () => {}, timeout: 30000,
    onresumptiontoken: (t) => { token = t; if (++seen >= 3) gotFirst(); } })
    .catch(() => {});   // its client closes before the answer
  await first;
  const sid = a.transport.sessionId;
  await a.client.close();   // the connection goes; the session stays
  const b = await connect("resume-b", sid);
  const r2 = await b.client.request(slow, CallToolResultSchema,
                                    { resumptionToken: token, timeout: 30000 });
  check(r2.structuredContent && r2.structuredContent.slept === ms,
        `result resumed from ${token}: ${JSON.stringify(r2)}`);
  result.resumed_from = token;
  await b.transport.terminateSession();
  await b.client.close();
  finish(true);
} catch (e) {
  finish(false, e && e.stack ? e.stack : String(e));
}
