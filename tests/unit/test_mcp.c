/* Unit tests for mcp.c: the multiplexer's rules (docs/mcp.md) on plain
 * lines, with a recording harness in place of pipes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mcp.h"

#define SERVER (-1)
#define MAXOUT 512

/* Every line the multiplexer sent, in order, with its destination. */
struct out {
	int to;          /* a client's index, or SERVER */
	char *line;
};

static struct out outs[MAXOUT];
static size_t nouts, next_out;
static int wakes, logs;
static bool wake_ok = true;
static int client_ids[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

static void rec(int to, const char *line, size_t len)
{
	assert_true(nouts < MAXOUT);
	outs[nouts].to = to;
	outs[nouts].line = strndup(line, len);
	nouts++;
}

static void to_client(void *ctx, void *data, const char *line, size_t len)
{
	(void)ctx;
	rec(*(int *)data, line, len);
}

static void to_server(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	rec(SERVER, line, len);
}

static void log_fn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	logs++;
}

static bool wake(void *ctx)
{
	(void)ctx;
	wakes++;
	return wake_ok;
}

static int settled[8];

static void settled_fn(void *ctx, void *data)
{
	(void)ctx;
	settled[*(int *)data]++;
}

static const struct mcp_ops ops = { NULL, to_client, to_server, log_fn, wake,
                                    settled_fn, NULL };

static int setup(void **state)
{
	(void)state;
	nouts = next_out = 0;
	wakes = logs = 0;
	memset(settled, 0, sizeof(settled));
	wake_ok = true;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nouts; i++)
		free(outs[i].line);
	return 0;
}

/* The next line sent (to TO), as written. */
static const char *next_line(int to)
{
	if (next_out >= nouts)
		fail_msg("expected a line to %d, nothing more was sent", to);
	struct out *o = &outs[next_out++];
	if (o->to != to)
		fail_msg("expected a line to %d, got one to %d: %s", to, o->to, o->line);
	return o->line;
}

static void nothing_more(void)
{
	if (next_out < nouts)
		fail_msg("unexpected line to %d: %s", outs[next_out].to,
		         outs[next_out].line);
}

static json_t *next_json(int to)
{
	const char *l = next_line(to);
	json_error_t e;
	json_t *j = json_loads(l, 0, &e);
	if (!j)
		fail_msg("not JSON (%s): %s", e.text, l);
	return j;
}

/* The error code of the next line to TO. */
static long long next_error(int to)
{
	json_t *j = next_json(to);
	long long code = json_integer_value(json_object_get(json_object_get(j, "error"), "code"));
	json_decref(j);
	return code;
}

/* The next line goes to the server and has tend's id (a number). */
static void forwarded_line(void)
{
	json_t *j = next_json(SERVER);
	assert_true(json_is_integer(json_object_get(j, "id")));
	json_decref(j);
}

static void send_c(struct mcp *m, struct mcp_client *c, const char *line)
{
	mcp_client_line(m, c, line, strlen(line));
}

static void send_s(struct mcp *m, const char *line)
{
	mcp_server_line(m, line, strlen(line));
}

static long long id_of(json_t *j)
{
	json_t *id = json_object_get(j, "id");
	assert_true(json_is_integer(id));
	return json_integer_value(id);
}

static const char *method_of(json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "method"));
	return m ? m : "";
}

static long long error_code(json_t *j)
{
	return json_integer_value(json_object_get(json_object_get(j, "error"), "code"));
}

#define RESULT "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":true},\"resources\":{\"subscribe\":true}},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}"

/* The server comes up and tend initializes it with RESULT_TEXT. */
static void server_ready(struct mcp *m, const char *result_text)
{
	mcp_server_up(m);
	json_t *init = next_json(SERVER);
	assert_string_equal(method_of(init), "initialize");
	char *r = NULL;
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}",
	                     id_of(init), result_text) > 0);
	json_decref(init);
	send_s(m, r);
	free(r);
	json_t *n = next_json(SERVER);
	assert_string_equal(method_of(n), "notifications/initialized");
	json_decref(n);
}

/* Client K joins and initializes with CAPS. */
static struct mcp_client *joined(struct mcp *m, int k, const char *caps)
{
	struct mcp_client *c = mcp_client_add(m, &client_ids[k]);
	char *l = NULL;
	assert_true(asprintf(&l, "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":"
	                     "\"initialize\",\"params\":{\"protocolVersion\":"
	                     "\"2025-11-25\",\"capabilities\":%s}}", caps) > 0);
	send_c(m, c, l);
	free(l);
	assert_string_equal(next_line(k), "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"result\":" RESULT "}");
	send_c(m, c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	return c;
}

static struct mcp *ready_mcp(void)
{
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	server_ready(m, RESULT);
	return m;
}

/* Rule 2: requests before the server is initialized wait; tend's own
 * initialize declares what it can route; the client gets the cached
 * result with its own id, whatever version it asked for. */
static void test_initialize_once(void **state)
{
	(void)state;
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2099-01-01\",\"capabilities\":{}}}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}");
	assert_int_equal(wakes, 1);
	nothing_more();
	mcp_server_up(m);
	json_t *init = next_json(SERVER);
	assert_string_equal(method_of(init), "initialize");
	json_t *p = json_object_get(init, "params");
	assert_string_equal(json_string_value(json_object_get(p, "protocolVersion")), MCP_PROTOCOL);
	json_t *caps = json_object_get(p, "capabilities");
	assert_true(json_is_object(json_object_get(caps, "roots")));
	assert_true(json_is_object(json_object_get(caps, "sampling")));
	assert_true(json_is_object(json_object_get(caps, "elicitation")));
	char *r = NULL;
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":" RESULT "}", id_of(init)) > 0);
	json_decref(init);
	send_s(m, r);
	free(r);
	json_t *n = next_json(SERVER);
	assert_string_equal(method_of(n), "notifications/initialized");
	json_decref(n);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":" RESULT "}");
	json_t *fw = next_json(SERVER);
	assert_string_equal(method_of(fw), "tools/list");
	json_decref(fw);
	/* A second client: answered from the cache, nothing to the server. */
	joined(m, 1, "{}");
	nothing_more();
	mcp_free(m);
}

/* Rule 1: ids are tend's at the server and the client's own bytes back. */
static void test_ids_byte_exact(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	struct mcp_client *b = joined(m, 1, "{}");
	static const char *const ids[] = { "\"a\"", "1.0", "\"\\u0041\"", "-0", "1e2" };
	long long tend_ids[5];
	for (size_t i = 0; i < 5; i++) {
		char *l = NULL;
		assert_true(asprintf(&l, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tools/call\"}", ids[i]) > 0);
		send_c(m, a, l);
		free(l);
		json_t *j = next_json(SERVER);
		tend_ids[i] = id_of(j);
		json_decref(j);
	}
	/* The same id from another client at the same time. */
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\"}");
	json_t *jb = next_json(SERVER);
	long long bid = id_of(jb);
	json_decref(jb);
	assert_int_equal(mcp_in_flight(m), 6);
	char r[128];
	snprintf(r, sizeof(r), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"who\":\"b\"}}", bid);
	send_s(m, r);
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{\"who\":\"b\"}}");
	for (size_t i = 5; i-- > 0; ) {
		snprintf(r, sizeof(r), "{\"result\":{},\"id\":%lld,\"jsonrpc\":\"2.0\"}", tend_ids[i]);
		send_s(m, r);
		char want[128];
		snprintf(want, sizeof(want), "{\"result\":{},\"id\":%s,\"jsonrpc\":\"2.0\"}", ids[i]);
		assert_string_equal(next_line(0), want);
	}
	assert_int_equal(mcp_in_flight(m), 0);
	/* A late or unknown answer goes nowhere. */
	send_s(m, r);
	nothing_more();
	mcp_free(m);
}

/* Rule 1: what is no single message is refused and never forwarded. */
static void test_refusals(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	static const struct { const char *line; long long code; } cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"tools/list\"}", -32600 },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}]", -32600 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", -32700 },
		{ "42", -32600 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":3}", -32600 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		send_c(m, a, cases[i].line);
		json_t *j = next_json(0);
		assert_int_equal(error_code(j), cases[i].code);
		json_decref(j);
	}
	nothing_more();
	mcp_free(m);
}

/* Rule 3: ping both ways is tend's. */
static void test_ping(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"result\":{}}");
	send_s(m, "{\"jsonrpc\":\"2.0\",\"id\":\"sp\",\"method\":\"ping\"}");
	assert_string_equal(next_line(SERVER), "{\"jsonrpc\":\"2.0\",\"id\":\"sp\",\"result\":{}}");
	nothing_more();
	mcp_free(m);
}

/* Rules 4 and 5: cancellations and progress tokens through the map; a
 * client that leaves has its requests cancelled. */
static void test_cancel_and_progress(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	struct mcp_client *b = joined(m, 1, "{}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"_meta\":{\"progressToken\":\"tok\"}}}");
	json_t *ja = next_json(SERVER);
	long long ta = id_of(ja);
	json_t *tok = json_object_get(json_object_get(json_object_get(ja, "params"), "_meta"), "progressToken");
	assert_int_equal(json_integer_value(tok), ta);
	json_decref(ja);
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"_meta\":{\"progressToken\":\"tok\"}}}");
	json_t *jb = next_json(SERVER);
	long long tb = id_of(jb);
	json_decref(jb);
	assert_true(ta != tb);
	char l[256];
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":%lld,\"progress\":1}}", tb);
	send_s(m, l);
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"tok\",\"progress\":1}}");
	/* B cancels its request: the server hears tend's id. */
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1,\"reason\":\"x\"}}");
	json_t *cn = next_json(SERVER);
	assert_string_equal(method_of(cn), "notifications/cancelled");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(cn, "params"), "requestId")), tb);
	json_decref(cn);
	/* A leaves: its request is cancelled, its late answer dropped. */
	mcp_client_remove(m, a);
	cn = next_json(SERVER);
	assert_string_equal(method_of(cn), "notifications/cancelled");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(cn, "params"), "requestId")), ta);
	json_decref(cn);
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", ta);
	send_s(m, l);
	nothing_more();
	assert_int_equal(mcp_in_flight(m), 0);
	mcp_free(m);
}

/* Rule 6: log levels and subscriptions per client. */
static void test_levels_and_subscriptions(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	struct mcp_client *b = joined(m, 1, "{}");
	struct mcp_client *c = joined(m, 2, "{}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"error\"}}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	json_t *sl = next_json(SERVER);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sl, "params"), "level")), "error");
	json_decref(sl);
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"debug\"}}");
	next_line(1);
	sl = next_json(SERVER);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sl, "params"), "level")), "debug");
	json_decref(sl);
	const char *warn = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"warning\",\"data\":\"w\"}}";
	send_s(m, warn);
	/* C never set a level, B asked for debug; A (error) does not get it. */
	for (int k = 2; k >= 1; k--)
		assert_string_equal(next_line(k), warn);
	nothing_more();
	/* list_changed goes to everyone. */
	const char *lc = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}";
	send_s(m, lc);
	for (int k = 2; k >= 0; k--)
		assert_string_equal(next_line(k), lc);
	/* Subscriptions are counted per URI. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u:1\"}}");
	json_t *sub = next_json(SERVER);
	assert_string_equal(method_of(sub), "resources/subscribe");
	char l[128];
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", id_of(sub));
	json_decref(sub);
	send_s(m, l);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u:1\"}}");
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
	nothing_more();
	const char *up = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"u:1\"}}";
	send_s(m, up);
	assert_string_equal(next_line(1), up);
	assert_string_equal(next_line(0), up);
	nothing_more();
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/unsubscribe\",\"params\":{\"uri\":\"u:1\"}}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}");
	nothing_more();
	/* B, the last subscriber, leaves: the server is unsubscribed, and
	 * the level goes back up to what A asked for. */
	mcp_client_remove(m, b);
	json_t *un = next_json(SERVER);
	assert_string_equal(method_of(un), "resources/unsubscribe");
	json_decref(un);
	sl = next_json(SERVER);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sl, "params"), "level")), "error");
	json_decref(sl);
	nothing_more();
	(void)c;
	mcp_free(m);
}

/* Rule 6: a subscribe the server refuses, answered after the client
 * unsubscribed already, leaves the counts as they were. */
static void test_subscribe_refused_late(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u:2\"}}");
	json_t *sub = next_json(SERVER);
	long long sid = id_of(sub);
	json_decref(sub);
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/unsubscribe\",\"params\":{\"uri\":\"u:2\"}}");
	json_t *un = next_json(SERVER);
	assert_string_equal(method_of(un), "resources/unsubscribe");
	json_decref(un);
	char l[160];
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-1,\"message\":\"no\"}}", sid);
	send_s(m, l);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"no\"}}");
	/* Subscribing again reaches the server again. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u:2\"}}");
	sub = next_json(SERVER);
	assert_string_equal(method_of(sub), "resources/subscribe");
	json_decref(sub);
	nothing_more();
	mcp_free(m);
}

/* Rule 7: server requests go to a capable client, ids both ways. */
static void test_server_requests(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{\"sampling\":{}}");
	struct mcp_client *b = joined(m, 1, "{\"sampling\":{},\"roots\":{}}");
	joined(m, 2, "{}");
	/* A has a request in flight: the sampling request is A's. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}");
	json_t *j = next_json(SERVER);
	long long ta = id_of(j);
	json_decref(j);
	send_s(m, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\",\"params\":{}}");
	j = next_json(0);
	assert_string_equal(method_of(j), "sampling/createMessage");
	long long sid = id_of(j);
	json_decref(j);
	char l[160];
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"x\":1}}", sid);
	send_c(m, b, l);   /* not B's to answer */
	nothing_more();
	send_c(m, a, l);
	assert_string_equal(next_line(SERVER), "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{\"x\":1}}");
	/* roots: only B can. */
	send_s(m, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"roots/list\"}");
	j = next_json(1);
	sid = id_of(j);
	json_decref(j);
	/* B leaves with it pending: the server gets an error. */
	mcp_client_remove(m, b);
	j = next_json(SERVER);
	assert_int_equal(id_of(j), 5);
	assert_int_equal(error_code(j), -32603);
	json_decref(j);
	/* Nobody left for roots or elicitation. */
	send_s(m, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"roots/list\"}");
	assert_string_equal(next_line(SERVER), "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"roots\":[]}}");
	send_s(m, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"elicitation/create\"}");
	j = next_json(SERVER);
	assert_int_equal(error_code(j), -32601);
	json_decref(j);
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", ta);
	send_s(m, l);
	next_line(0);
	nothing_more();
	(void)sid;
	mcp_free(m);
}

/* Rule 8: a restart fails what was in flight, keeps the clients, and
 * initializes the next process with the subscriptions and the level. */
static void test_restart(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	struct mcp_client *b = joined(m, 1, "{}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u\"}}");
	json_t *j = next_json(SERVER);
	char l[160];
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", id_of(j));
	json_decref(j);
	send_s(m, l);
	next_line(0);
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"info\"}}");
	next_line(1);
	json_decref(next_json(SERVER));
	send_c(m, b, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/call\"}");
	json_decref(next_json(SERVER));
	mcp_server_down(m, "crash, exit code 3");
	j = next_json(1);
	assert_int_equal(error_code(j), -32603);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "x");
	json_decref(j);
	/* A message while it is down waits, and wakes it. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	assert_int_equal(wakes, 1);
	nothing_more();
	const char *r2 = "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":true},\"resources\":{\"subscribe\":true}},\"serverInfo\":{\"name\":\"s\",\"version\":\"2\"}}";
	server_ready(m, r2);
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "resources/subscribe");
	json_decref(j);
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "logging/setLevel");
	json_decref(j);
	/* The result changed: every client lists its tools again. */
	for (int k = 1; k >= 0; k--) {
		j = next_json(k);
		assert_string_equal(method_of(j), "notifications/tools/list_changed");
		json_decref(j);
	}
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "tools/list");
	json_decref(j);
	nothing_more();
	mcp_free(m);
}

/* Rule 9 and the queue: garbage from the server is logged and skipped;
 * a server that cannot start fails what waits. */
static void test_garbage_and_failed_wake(void **state)
{
	(void)state;
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	wake_ok = false;
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
	json_t *j = next_json(0);
	assert_int_equal(error_code(j), -32603);
	json_decref(j);
	wake_ok = true;
	server_ready(m, RESULT);
	send_s(m, "Server listening on stdio");
	assert_int_equal(logs, 1);
	nothing_more();
	mcp_client_remove(m, a);
	mcp_free(m);
}

/* A client's input ends with requests in flight and waiting: they are
 * still answered to it, and it is told settled once, after the last. */
static void test_close_drains(void **state)
{
	(void)state;
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	struct mcp_client *b = mcp_client_add(m, &client_ids[1]);
	/* B, with nothing asked, can go at once. */
	assert_true(mcp_client_close(m, b));
	assert_int_equal(settled[1], 0);
	mcp_client_remove(m, b);
	/* A's initialize and tools/list wait for the server; then its input
	 * ends. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"sampling\":{}}}}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	assert_false(mcp_client_close(m, a));
	server_ready(m, RESULT);
	json_t *j = next_json(0);
	assert_int_equal(id_of(j), 1);
	json_decref(j);
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "tools/list");
	long long tid = id_of(j);
	json_decref(j);
	assert_int_equal(settled[0], 0);
	/* A server request is not routed to a closed client. */
	send_s(m, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\",\"params\":{}}");
	j = next_json(SERVER);
	assert_int_equal(error_code(j), -32601);
	json_decref(j);
	char *r = NULL;
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[]}}", tid) > 0);
	send_s(m, r);
	free(r);
	j = next_json(0);
	assert_int_equal(id_of(j), 2);
	json_decref(j);
	assert_int_equal(settled[0], 1);
	nothing_more();
	mcp_client_remove(m, a);
	assert_int_equal(settled[0], 1);
	mcp_free(m);
}

/* --- MCP 2026-07-28 (docs/mcp-2026.md) --- */

/* The request's _meta of the stateless era, as a client writes it. */
#define META26 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientInfo\":{\"name\":\"c\",\"version\":\"1\"},\"io.modelcontextprotocol/clientCapabilities\":{\"elicitation\":{}}}"

/* C sends LINE; the server gets it with tend's id in place of the
 * client's id ORIG (the only change); returns tend's id. */
static long long forwarded(struct mcp *m, struct mcp_client *c, const char *line,
                           const char *orig)
{
	send_c(m, c, line);
	json_t *j = next_json(SERVER);
	long long id = id_of(j);
	json_decref(j);
	char num[32], key[64], *want = NULL;
	snprintf(num, sizeof(num), "%lld", id);
	snprintf(key, sizeof(key), "\"id\":%s", orig);
	const char *at = strstr(line, key);
	assert_non_null(at);
	at += 5;
	assert_true(asprintf(&want, "%.*s%s%s", (int)(at - line), line, num,
	                     at + strlen(orig)) > 0);
	assert_string_equal(outs[next_out - 1].line, want);
	free(want);
	return id;
}

/* The server answers tend's request ID with the JSON-RPC member TAIL
 * ("result":... or "error":...). */
static void answer_s(struct mcp *m, long long id, const char *tail)
{
	char *r = NULL;
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", id, tail) > 0);
	send_s(m, r);
	free(r);
}

/* server/discover and ping of a client that did not initialize reach the
 * server (a server of the session era answers them itself, and the
 * client falls back to initialize); a session's ping stays tend's. */
static void test_discover_and_ping_forwarded(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	const char *d = "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"server/discover\",\"params\":{" META26 "}}";
	long long t = forwarded(m, a, d, "\"d\"");
	answer_s(m, t, "\"error\":{\"code\":-32601,\"message\":\"Method not found\"}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}");
	t = forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}", "9");
	answer_s(m, t, "\"error\":{\"code\":-32601,\"message\":\"no ping\"}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32601,\"message\":\"no ping\"}}");
	/* It falls back: the session era as ever, ping included. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"result\":" RESULT "}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":{}}");
	nothing_more();
	mcp_free(m);
}

#define DISCOVER "{\"resultType\":\"complete\",\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{\"listChanged\":true}},\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}"

/* tend's initialize is refused; tend asks server/discover (ERR: the
 * server's answer to it, NULL: DISCOVER). */
static void server_stateless(struct mcp *m, const char *err)
{
	mcp_server_up(m);
	json_t *init = next_json(SERVER);
	assert_string_equal(method_of(init), "initialize");
	answer_s(m, id_of(init), "\"error\":{\"code\":-32601,\"message\":\"initialize is gone; this server speaks 2026-07-28\"}");
	json_decref(init);
	json_t *d = next_json(SERVER);
	assert_string_equal(method_of(d), "server/discover");
	json_t *meta = json_object_get(json_object_get(d, "params"), "_meta");
	assert_string_equal(json_string_value(json_object_get(meta, "io.modelcontextprotocol/protocolVersion")), MCP_PROTOCOL_STATELESS);
	assert_true(json_is_object(json_object_get(meta, "io.modelcontextprotocol/clientCapabilities")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "io.modelcontextprotocol/clientInfo"), "name")), "tend");
	if (err)
		answer_s(m, id_of(d), err);
	else
		answer_s(m, id_of(d), "\"result\":" DISCOVER);
	json_decref(d);
}

/* A server of 2026-07-28 only: tend's initialize is refused, its
 * server/discover answered; what waited goes on as it was, the clients'
 * initialize and the methods the revision removed included: the server
 * answers them. */
static void test_stateless_server(void **state)
{
	(void)state;
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	struct mcp_client *b = mcp_client_add(m, &client_ids[1]);
	const char *call = "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{\"name\":\"x\",\"arguments\":{},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/logLevel\":\"info\",\"traceparent\":\"00-1-2-01\"}}}";
	const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}";
	send_c(m, a, call);
	send_c(m, b, init);
	nothing_more();
	server_stateless(m, NULL);
	/* What waited, in order, each with tend's id and nothing else changed. */
	const char *sent[] = { call, init };
	const char *origs[] = { "\"c\"", "1" };
	long long ids[2];
	for (int i = 0; i < 2; i++) {
		json_t *j = next_json(SERVER);
		ids[i] = id_of(j);
		json_decref(j);
		char num[32], *want = NULL;
		snprintf(num, sizeof(num), "%lld", ids[i]);
		char key[64];
		snprintf(key, sizeof(key), "\"id\":%s", origs[i]);
		const char *at = strstr(sent[i], key) + 5;
		assert_true(asprintf(&want, "%.*s%s%s", (int)(at - sent[i]), sent[i], num, at + strlen(origs[i])) > 0);
		assert_string_equal(outs[next_out - 1].line, want);
		free(want);
	}
	answer_s(m, ids[1], "\"error\":{\"code\":-32601,\"message\":\"supported: 2026-07-28\"}");
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"supported: 2026-07-28\"}}");
	answer_s(m, ids[0], "\"result\":{\"resultType\":\"complete\",\"content\":[]}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"result\":{\"resultType\":\"complete\",\"content\":[]}}");
	/* ping, logging/setLevel, resources/subscribe: the server's to answer. */
	forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", "2");
	forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"debug\"}}", "3");
	forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"u\"}}", "4");
	forwarded(m, b, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"server/discover\",\"params\":{" META26 "}}", "5");
	assert_int_equal(mcp_in_flight(m), 4);
	nothing_more();
	/* A restart: the next process is asked again. */
	mcp_server_down(m, "crash");
	for (int i = 0; i < 4; i++)
		assert_int_equal(next_error(i == 0 ? 1 : 0), -32603);   /* B is newest */
	server_stateless(m, NULL);
	nothing_more();
	mcp_free(m);
}

/* A server that refuses initialize and server/discover (with no error of
 * the revision's) is refused, as before; one that answers server/discover
 * with UnsupportedProtocolVersion is of the stateless era. */
static void test_stateless_refusals(void **state)
{
	(void)state;
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	server_stateless(m, "\"error\":{\"code\":-32601,\"message\":\"no\"}");
	json_t *j = next_json(0);
	assert_int_equal(error_code(j), -32603);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "refused tend's initialize"));
	json_decref(j);
	assert_int_equal(logs, 1);
	nothing_more();
	mcp_server_down(m, "stop");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	server_stateless(m, "\"error\":{\"code\":-32022,\"message\":\"Unsupported protocol version\",\"data\":{\"supported\":[\"2027-01-01\"],\"requested\":\"2026-07-28\"}}");
	forwarded_line();
	nothing_more();
	mcp_free(m);
}

/* subscriptions/listen: each client's stream is its own; what is tagged
 * with its subscription id goes to it alone, with its own id back; a
 * cancel or a client leaving ends it at the server; it is not in flight. */
static void test_listen(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	struct mcp_client *b = mcp_client_add(m, &client_ids[1]);
	struct mcp_client *c = joined(m, 2, "{}");
	long long la = forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"subscriptions/listen\",\"params\":{" META26 ",\"notifications\":{\"toolsListChanged\":true}}}", "\"L\"");
	long long lb = forwarded(m, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscriptions/listen\",\"params\":{" META26 ",\"notifications\":{\"resourceSubscriptions\":[\"u\"]}}}", "1");
	assert_int_equal(mcp_in_flight(m), 0);
	char l[512];
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld},\"notifications\":{\"toolsListChanged\":true}}}", la);
	send_s(m, l);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"L\"},\"notifications\":{\"toolsListChanged\":true}}}");
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"u\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}", lb);
	send_s(m, l);
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"u\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":1}}}");
	/* A stream nobody has, or an id tend never made: nowhere. */
	send_s(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"x\"}}}");
	send_s(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":99999}}}");
	/* An untagged list_changed is the session era's: C only. */
	send_s(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
	assert_string_equal(next_line(2), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
	nothing_more();
	/* A cancels its stream: the server hears tend's id, and nothing of
	 * that stream reaches A any more. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"L\"}}");
	json_t *j = next_json(SERVER);
	assert_string_equal(method_of(j), "notifications/cancelled");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "params"), "requestId")), la);
	json_decref(j);
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}", la);
	send_s(m, l);
	nothing_more();
	/* The server ends B's stream gracefully: id and subscription id back. */
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"resultType\":\"complete\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}", lb, lb);
	send_s(m, l);
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":1}}}");
	/* A listens again; the server tears it down with notifications/cancelled. */
	la = forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":\"L2\",\"method\":\"subscriptions/listen\",\"params\":{" META26 ",\"notifications\":{}}}", "\"L2\"");
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":%lld}}", la);
	send_s(m, l);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"L2\"}}");
	/* At most MCP_CLIENT_LISTEN_MAX streams a client. */
	for (int i = 0; i < MCP_CLIENT_LISTEN_MAX; i++) {
		snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"subscriptions/listen\",\"params\":{}}", 100 + i);
		send_c(m, c, l);
	}
	for (int i = 0; i < MCP_CLIENT_LISTEN_MAX; i++)
		json_decref(next_json(SERVER));
	send_c(m, c, "{\"jsonrpc\":\"2.0\",\"id\":\"one more\",\"method\":\"subscriptions/listen\",\"params\":{}}");
	assert_int_equal(next_error(2), -32603);
	/* B listens and leaves: its stream is cancelled at the server. */
	lb = forwarded(m, b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"subscriptions/listen\",\"params\":{" META26 ",\"notifications\":{}}}", "2");
	mcp_client_remove(m, b);
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "notifications/cancelled");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "params"), "requestId")), lb);
	json_decref(j);
	nothing_more();
	(void)c;
	mcp_free(m);
}

/* A listen stream outlives a restart: tend opens it again at the next
 * process (with the same id: the client's subscription id stays), keeps
 * the new acknowledgment to itself, and tells it a list changed when the
 * server's initialize result did; a server that fails for good ends it. */
static void test_listen_restart(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	const char *listen = "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"subscriptions/listen\",\"params\":{" META26 ",\"notifications\":{\"toolsListChanged\":true,\"promptsListChanged\":true}}}";
	long long la = forwarded(m, a, listen, "\"L\"");
	const char *server_got = outs[next_out - 1].line;
	char l[512];
	/* The server agreed to tools only. */
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld},\"notifications\":{\"toolsListChanged\":true}}}", la);
	send_s(m, l);
	next_line(0);
	mcp_server_down(m, "crash");
	nothing_more();   /* no error: the stream goes on */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META26 "}}");
	const char *r2 = "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":true}},\"serverInfo\":{\"name\":\"s\",\"version\":\"2\"}}";
	server_ready(m, r2);
	assert_string_equal(next_line(SERVER), server_got);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"L\"}}}");
	json_decref(next_json(SERVER));   /* the tools/list that waited */
	send_s(m, l);   /* the new process's acknowledgment: tend's */
	nothing_more();
	snprintf(l, sizeof(l), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}", la);
	send_s(m, l);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"L\"}}}");
	mcp_server_down(m, "crash");
	json_decref(next_json(0));   /* the tools/list failed */
	mcp_server_failed(m, "it has failed; see tend status");
	json_t *j = next_json(0);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "L");
	assert_int_equal(error_code(j), -32603);
	json_decref(j);
	nothing_more();
	mcp_free(m);
}

/* Multi round-trip requests: an InputRequiredResult is an answer like any
 * other (to its client, with its id); the retry is a new request, passed
 * on as it is (inputResponses, requestState), whichever process gets it. */
static void test_mrtr(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	struct mcp_client *b = mcp_client_add(m, &client_ids[1]);
	long long ta = forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"login\"," META26 "}}", "1");
	long long tb = forwarded(m, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"login\"," META26 "}}", "1");
	const char *ir = "\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{\"who\":{\"method\":\"elicitation/create\",\"params\":{\"mode\":\"form\",\"message\":\"name?\",\"requestedSchema\":{\"type\":\"object\"}}}},\"requestState\":\"st-b\"}";
	answer_s(m, tb, ir);
	char want[512];
	snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"id\":1,%s}", ir);
	assert_string_equal(next_line(1), want);
	assert_int_equal(mcp_in_flight(m), 1);
	mcp_server_down(m, "idle");
	json_decref(next_json(0));
	server_ready(m, RESULT);
	long long t2 = forwarded(m, b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"login\"," META26 ",\"inputResponses\":{\"who\":{\"action\":\"accept\",\"content\":{\"name\":\"b\"}}},\"requestState\":\"st-b\"}}", "2");
	answer_s(m, t2, "\"result\":{\"resultType\":\"complete\",\"content\":[]}");
	assert_string_equal(next_line(1), "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"resultType\":\"complete\",\"content\":[]}}");
	nothing_more();
	(void)ta;
	mcp_free(m);
}

/* notifications/message of the revision: to the clients of the stateless
 * era with a request in flight whose _meta asked for that level or lower;
 * a session's client as by rule 6. */
static void test_stateless_log(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	struct mcp_client *b = mcp_client_add(m, &client_ids[1]);
	struct mcp_client *c = joined(m, 2, "{}");
	forwarded(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/logLevel\":\"info\"}}}", "1");
	forwarded(m, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" META26 "}}", "1");
	const char *warn = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"warning\",\"data\":\"w\"}}";
	send_s(m, warn);
	assert_string_equal(next_line(2), warn);
	assert_string_equal(next_line(0), warn);
	const char *dbg = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"debug\",\"data\":\"d\"}}";
	send_s(m, dbg);
	assert_string_equal(next_line(2), dbg);
	nothing_more();
	(void)b;
	(void)c;
	mcp_free(m);
}

/* An instance for clients of 2026-07-28 opens each process with
 * server/discover: answered, no initialize ever; refused without an error
 * of the revision's, initialize follows (a server of the session era), and
 * only when that is refused too is the server refused. */
static void test_open_stateless(void **state)
{
	(void)state;
	struct mcp *m = mcp_new(&ops, "9.9", NULL, MCP_CAPS_ALL, NULL);
	mcp_open_stateless(m);
	struct mcp_client *a = mcp_client_add(m, &client_ids[0]);
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{" META26 "}}");
	mcp_server_up(m);
	json_t *d = next_json(SERVER);
	assert_string_equal(method_of(d), "server/discover");
	answer_s(m, id_of(d), "\"result\":" DISCOVER);
	json_decref(d);
	forwarded_line();   /* the client's discover, after tend's */
	assert_int_equal(logs, 0);
	nothing_more();
	/* The next process is of the session era. */
	mcp_server_down(m, "crash");
	json_decref(next_json(0));
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\",\"params\":{" META26 "}}");
	mcp_server_up(m);
	d = next_json(SERVER);
	assert_string_equal(method_of(d), "server/discover");
	answer_s(m, id_of(d), "\"error\":{\"code\":-32602,\"message\":\"Invalid request parameters\"}");
	json_decref(d);
	json_t *init = next_json(SERVER);
	assert_string_equal(method_of(init), "initialize");
	answer_s(m, id_of(init), "\"result\":" RESULT);
	json_decref(init);
	json_t *n = next_json(SERVER);
	assert_string_equal(method_of(n), "notifications/initialized");
	json_decref(n);
	forwarded_line();   /* its discover: the server's to refuse */
	/* ... and one that refuses both is refused. */
	mcp_server_down(m, "crash");
	json_decref(next_json(0));
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
	mcp_server_up(m);
	d = next_json(SERVER);
	answer_s(m, id_of(d), "\"error\":{\"code\":-32601,\"message\":\"no\"}");
	json_decref(d);
	init = next_json(SERVER);
	assert_string_equal(method_of(init), "initialize");
	answer_s(m, id_of(init), "\"error\":{\"code\":-32600,\"message\":\"no\"}");
	json_decref(init);
	assert_int_equal(next_error(0), -32603);
	nothing_more();
	mcp_free(m);
}

/* A server that says tools/list_changed after every initialize (as
 * server-everything does): while tend asks the new process for the cached
 * list anyway, the notification is not passed on and the cache stays;
 * the answer decides (the same list: nothing to tell). */
static void test_list_changed_during_refresh(void **state)
{
	(void)state;
	struct mcp *m = ready_mcp();
	struct mcp_client *a = joined(m, 0, "{}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
	json_t *j = next_json(SERVER);
	long long t = id_of(j);
	json_decref(j);
	char *r = NULL;
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"x\"}]}}", t) > 0);
	send_s(m, r);
	free(r);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"x\"}]}}");
	/* A new process: initialized, then asked for the cached list. */
	mcp_server_down(m, "idle");
	server_ready(m, RESULT);
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "tools/list");
	t = id_of(j);
	json_decref(j);
	send_s(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
	nothing_more();
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"x\"}]}}", t) > 0);
	send_s(m, r);
	free(r);
	nothing_more();
	/* Still cached: answered without the server. */
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\"}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"tools\":[{\"name\":\"x\"}]}}");
	/* Another list_changed, no refresh pending: passed on, the cached
	 * list gone and asked for again (quietly: the clients were told). */
	send_s(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "tools/list");
	t = id_of(j);
	json_decref(j);
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}");
	j = next_json(SERVER);
	assert_string_equal(method_of(j), "tools/list");
	json_decref(j);
	assert_true(asprintf(&r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"y\"}]}}", t) > 0);
	send_s(m, r);
	free(r);
	nothing_more();
	send_c(m, a, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}");
	assert_string_equal(next_line(0), "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[{\"name\":\"y\"}]}}");
	mcp_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_changed_during_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initialize_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_levels_and_subscriptions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_refused_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_failed_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discover_and_ping_forwarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stateless_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stateless_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mrtr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stateless_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_stateless, setup, teardown),
	};
	return cmocka_run_group_tests_name("mcp", tests, NULL, NULL);
}
