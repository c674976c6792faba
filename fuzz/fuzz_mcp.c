/* The MCP multiplexer (src/super/mcp.c) driven by a script of what clients and
 * the server say and do, one step a line (the first byte is the step, the
 * rest of the line its text):
 *
 *   +          a client joins (at most 8; numbered 0..7 in order of joining)
 *   -N         client N leaves
 *   xN         client N's input ends (mcp_client_close): it sends no more,
 *              and is told settled once nothing of its is pending
 *   N TEXT     client N sends the line TEXT (N a digit 0..7)
 *   S TEXT     the server sends the line TEXT
 *   A TEXT     the server answers the last request it got, with result
 *              TEXT ({} when empty): reaches past tend's own initialize
 *   E TEXT     the server answers it with error TEXT (a code and a
 *              message when empty): refuses tend's initialize, say
 *   aN TEXT    client N answers the last request it got from the server
 *   U          a server process comes up (when none is)
 *   D          the server process goes (when one is up)
 *   C          the server's stdin is closed: a stop (when it is up)
 *   F          the server failed for good (when none is up)
 *   W          wake() answers the other way from now on (starts as yes)
 *   Q          at the end, free the multiplexer with its clients still
 *              there (tend shutting down), not after they left
 *   O          from now on each process is opened with server/discover
 *              (mcp_open_stateless)
 *
 * What must hold: every line tend writes, to a client or to the server, is
 * one JSON value on one line; nothing reaches a client after it left, nor
 * any client that never joined; the parsers of a client's first line
 * (version, capabilities, roots, answers) keep their contracts; a client
 * is told settled only after its
 * input ended, once, with nothing in flight; the sanitizers see no error
 * or leak. */
#include "fuzz.h"
#include "jrpc.h"
#include "mcp.h"

#define CLIENTS 8

struct world {
	struct mcp *m;
	struct mcp_client *c[CLIENTS];
	int tag[CLIENTS];          /* the DATA of each client: &tag[i] */
	bool joined[CLIENTS], left[CLIENTS], closed[CLIENTS], settled[CLIENTS];
	size_t nclients;
	bool up, closing, wake_ok, quit;
	char *last_to_server;      /* id of the last request the server got */
	char *last_to_client[CLIENTS];
};

static struct world w;

static char *request_id(const char *line, size_t len)
{
	struct jrpc_msg m;
	if (jrpc_scan(line, len, &m) != JRPC_REQUEST)
		return NULL;
	return strndup(line + m.id.off, m.id.len);
}

static void one_json_line(const char *line, size_t len, const char *who)
{
	FUZZ_ASSERT(!memchr(line, '\n', len), "a newline inside a line to %s", who);
	struct jrpc_msg m;
	FUZZ_ASSERT(jrpc_scan(line, len, &m) != JRPC_PARSE_ERROR,
	            "tend sent %s no JSON: %.*s", who, (int)(len > 300 ? 300 : len),
	            line);
}

static void to_client(void *ctx, void *data, const char *line, size_t len)
{
	(void)ctx;
	int *tag = data;
	FUZZ_ASSERT(tag >= w.tag && tag < w.tag + CLIENTS, "a line to no client");
	size_t i = (size_t)(tag - w.tag);
	FUZZ_ASSERT(w.joined[i] && !w.left[i], "a line to client %zu, %s", i,
	            w.left[i] ? "which left" : "which never joined");
	one_json_line(line, len, "a client");
	char *id = request_id(line, len);
	if (id) {
		free(w.last_to_client[i]);
		w.last_to_client[i] = id;
	}
}

static void to_server(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	one_json_line(line, len, "the server");
	char *id = request_id(line, len);
	if (id) {
		free(w.last_to_server);
		w.last_to_server = id;
	}
}

static void log_line(void *ctx, const char *msg)
{
	(void)ctx;
	FUZZ_ASSERT(msg && !strchr(msg, '\n'), "a log line of several lines");
}

static void settled(void *ctx, void *data)
{
	(void)ctx;
	int *tag = data;
	FUZZ_ASSERT(tag >= w.tag && tag < w.tag + CLIENTS, "settled: no client");
	size_t i = (size_t)(tag - w.tag);
	FUZZ_ASSERT(w.closed[i] && !w.left[i] && !w.settled[i],
	            "client %zu told settled %s", i, !w.closed[i] ? "before its "
	            "input ended" : w.left[i] ? "after it left" : "twice");
	FUZZ_ASSERT(mcp_client_in_flight(w.c[i]) == 0, "client %zu settled with "
	            "%zu in flight", i, mcp_client_in_flight(w.c[i]));
	w.settled[i] = true;
}

static bool wake(void *ctx)
{
	(void)ctx;
	FUZZ_ASSERT(!w.up, "woken while the server is up");
	return w.wake_ok;
}

static void answer(const char *id, const char *member, const char *result,
                   size_t rlen, void (*send)(size_t, const char *, size_t),
                   size_t who)
{
	if (!id)
		return;
	if (!rlen && !strcmp(member, "error"))
		result = "{\"code\":-32000,\"message\":\"no\"}", rlen = strlen(result);
	else if (!rlen)
		result = "{}", rlen = 2;
	size_t cap = strlen(id) + rlen + 64;
	char *line = malloc(cap);
	if (!line)
		abort();
	int n = snprintf(line, cap, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"%s\":%.*s}",
	                 id, member, (int)rlen, result);
	send(who, line, (size_t)n);
	free(line);
}

static void send_server(size_t who, const char *line, size_t len)
{
	(void)who;
	mcp_server_line(w.m, line, len);
}

static void send_client(size_t who, const char *line, size_t len)
{
	mcp_client_line(w.m, w.c[who], line, len);
}

/* The parsers share.c uses on a client's first lines: whatever LINE is,
 * they give what their contracts say. */
static void first_line_parsers(const char *line, size_t len)
{
	struct mcp_hello h;
	mcp_hello(line, len, &h);
	FUZZ_ASSERT(!h.version || (strlen(h.version) < 64 &&
	            !strchr(h.version, ' ') && *h.version),
	            "a version that cannot be a key's first word");
	FUZZ_ASSERT((h.caps & ~MCP_CAPS_ALL) == 0 &&
	            (h.initialize || h.caps == MCP_CAPS_ALL),
	            "capabilities beyond MCP_CAPS_ALL, or of no initialize");
	free(h.version);
	char *set = mcp_roots_set(line, len);
	if (set) {
		/* sorted, each once */
		for (char *a = set, *nl; (nl = strchr(a, '\n')); a = nl + 1) {
			char *b = nl + 1, *end = strchr(b, '\n');
			size_t la = (size_t)(nl - a), lb = end ? (size_t)(end - b) : strlen(b);
			int c = strncmp(a, b, la < lb ? la : lb);
			FUZZ_ASSERT(c < 0 || (c == 0 && la < lb), "roots not sorted or twice");
		}
	}
	free(set);
	char *r = mcp_result_for(line, len, "{}", 2);
	if (r)
		one_json_line(r, strlen(r), "a client (result)");
	free(r);
	char *e = mcp_error_for(line, len, -32603, "x\001\377y");
	if (e)
		one_json_line(e, strlen(e), "a client (error)");
	free(e);
}

static bool live(int digit)
{
	return digit >= 0 && (size_t)digit < w.nclients && !w.left[digit];
}

static void step(const char *s, size_t len)
{
	char op = len ? s[0] : ' ';
	const char *text = len > 1 ? s + 1 : "";
	size_t tlen = len > 1 ? len - 1 : 0;
	int digit = tlen ? text[0] - '0' : -1;
	if (op >= '0' && op <= '7') {
		first_line_parsers(text, tlen);
		if (live(op - '0') && !w.closed[op - '0'])
			mcp_client_line(w.m, w.c[op - '0'], text, tlen);
		return;
	}
	switch (op) {
	case '+':
		if (w.nclients < CLIENTS) {
			size_t i = w.nclients++;
			w.joined[i] = true;
			w.c[i] = mcp_client_add(w.m, &w.tag[i]);
		}
		break;
	case '-':
		if (live(digit)) {
			w.left[digit] = true;
			mcp_client_remove(w.m, w.c[digit]);
		}
		break;
	case 'x':
		if (live(digit) && !w.closed[digit]) {
			w.closed[digit] = true;
			if (mcp_client_close(w.m, w.c[digit]))
				w.settled[digit] = true;
		}
		break;
	case 'S':
		if (w.up)
			mcp_server_line(w.m, text, tlen);
		break;
	case 'A':
	case 'E':
		if (w.up)
			answer(w.last_to_server, op == 'A' ? "result" : "error", text,
			       tlen, send_server, 0);
		break;
	case 'a':
		if (live(digit) && !w.closed[digit])
			answer(w.last_to_client[digit], "result", text + 1, tlen - 1,
			       send_client, (size_t)digit);
		break;
	case 'U':
		if (!w.up) {
			w.up = true, w.closing = false;
			mcp_server_up(w.m);
		}
		break;
	case 'D':
		if (w.up) {
			w.up = false;
			mcp_server_down(w.m, "crash, exit code 3");
		}
		break;
	case 'C':
		if (w.up && !w.closing) {
			w.closing = true;
			mcp_server_closing(w.m);
		}
		break;
	case 'F':
		if (!w.up)
			mcp_server_failed(w.m, "the server has failed");
		break;
	case 'W':
		w.wake_ok = !w.wake_ok;
		break;
	case 'Q':
		w.quit = true;
		break;
	case 'O':
		mcp_open_stateless(w.m);
		break;
	default:
		break;
	}
	/* what is counted in flight never exceeds what clients can have */
	FUZZ_ASSERT(mcp_in_flight(w.m) <= CLIENTS * (size_t)MCP_CLIENT_IN_FLIGHT_MAX + 16,
	            "in flight %zu", mcp_in_flight(w.m));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&w, 0, sizeof(w));
	w.wake_ok = true;
	struct mcp_ops ops = { .ctx = NULL, .to_client = to_client,
	                       .to_server = to_server, .log = log_line,
	                       .wake = wake, .settled = settled };
	w.m = mcp_new(&ops, "0.0.0-fuzz", NULL, MCP_CAPS_ALL, NULL);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		step(p, n);
		p += n + (nl ? 1 : 0);
	}
	for (size_t i = 0; i < w.nclients && !w.quit; i++)
		if (!w.left[i]) {
			w.left[i] = true;
			mcp_client_remove(w.m, w.c[i]);
		}
	mcp_free(w.m);
	free(w.last_to_server);
	for (size_t i = 0; i < CLIENTS; i++)
		free(w.last_to_client[i]);
	return 0;
}
