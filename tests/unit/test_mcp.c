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
#define MAXOUT 256

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
                                    settled_fn };

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
		{ "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"server/discover\"}", -32601 },
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
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
	};
	return cmocka_run_group_tests_name("mcp", tests, NULL, NULL);
}
