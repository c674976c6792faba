/* Unit tests for mcp_http.c's pure parts: Origin, the SSE event ids of
 * Last-Event-ID; and of mcp_params.c: MCP 2026-07-28's header value
 * encoding (Mcp-Name, Mcp-Param-*), the x-mcp-header declarations of a
 * tool's inputSchema, the comparison of values and the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "config.h"
#include "mcp_http.h"
#include "mcp_params.h"

static void test_origin(void **state)
{
	(void)state;
	struct strv none = { 0 };
	assert_true(mcp_http_origin_ok("http://localhost:3000", &none));
	assert_true(mcp_http_origin_ok("https://127.0.0.1", &none));
	assert_true(mcp_http_origin_ok("http://[::1]:8080", &none));
	assert_false(mcp_http_origin_ok("http://localhost.evil.example", &none));
	assert_false(mcp_http_origin_ok("http://evil.example", &none));
	char *one = "https://app.example";
	struct strv listed = { &one, 1, 1 };
	assert_true(mcp_http_origin_ok("https://APP.example", &listed));
}

static void id_ok(const char *s, uint64_t num, uint64_t seq)
{
	uint64_t a = 0, b = 0;
	if (!mcp_http_event_id(s, &a, &b))
		fail_msg("event id %s refused", s);
	assert_int_equal(a, num);
	assert_int_equal(b, seq);
}

static void test_event_id(void **state)
{
	(void)state;
	id_ok("1-0", 1, 0);
	id_ok("7-42", 7, 42);
	id_ok("18446744073709551615-18446744073709551615", UINT64_MAX, UINT64_MAX);
	static const char *const bad[] = {
		"", "1", "1-", "-1", "0-1", "01-1", "1-01", "+1-1", "1-+1", "1--1",
		"1-1 ", " 1-1", "1-1-1", "a-1", "1-a", "18446744073709551616-1",
		"1-18446744073709551616",
	};
	uint64_t a, b;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mcp_http_event_id(bad[i], &a, &b))
			fail_msg("event id \"%s\" taken", bad[i]);
}

static void value_ok(const char *h, const char *want, size_t n)
{
	char *v = NULL;
	size_t len = 0;
	if (!mcp_params_header_value(h, &v, &len))
		fail_msg("header value %s refused", h);
	assert_int_equal(len, n);
	assert_memory_equal(v, want, n);
	free(v);
}

static void test_header_value(void **state)
{
	(void)state;
	value_ok("get_weather", "get_weather", 11);
	value_ok("file:///a b", "file:///a b", 11);
	value_ok("=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, \xe4\xb8\x96\xe7\x95\x8c", 13);
	value_ok("=?base64?IHBhZGRlZCA=?=", " padded ", 8);
	value_ok("=?base64?bGluZTEKbGluZTI=?=", "line1\nline2", 11);
	value_ok("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?=", 18);
	value_ok("=?base64?AA==?=", "\0", 1);
	value_ok("=?base64?" "?=", "", 0);   /* (no trigraph) */
	static const char *const bad[] = {
		"caf\xc3\xa9", "a\nb", "a\rb", "\x7f",
		"=?base64?SGk?=",       /* length not a multiple of 4 */
		"=?base64?S===?=",      /* padding too long */
		"=?base64?SGk=SGk=?=",  /* data after padding */
		"=?base64?SGl=?=",      /* bits left over */
		"=?base64?SG*p?=",      /* not base64 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *v = NULL;
		size_t len;
		if (mcp_params_header_value(bad[i], &v, &len))
			fail_msg("header value \"%s\" taken as \"%s\"", bad[i], v);
	}
}

/* SCHEMA's declarations: R from mcp_params_scan, and "H=a.b ..." */
static void scan_is(const char *schema, int r, const char *want)
{
	json_t *j = json_loads(schema, JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	struct mcp_tool t = { strdup("t"), NULL, 0 };
	char *why = NULL;
	int got = mcp_params_scan(j, &t, &why);
	if (got != r)
		fail_msg("%s: %d, not %d (%s)", schema, got, r, why ? why : "");
	assert_true((got < 0) == (why != NULL));
	char s[512] = "";
	for (size_t i = 0; i < t.n; i++) {
		size_t n = strlen(s);
		snprintf(s + n, sizeof(s) - n, "%s%s%c=", i ? " " : "", t.p[i].header,
		         t.p[i].type);
		for (size_t k = 0; k < t.p[i].depth; k++) {
			n = strlen(s);
			snprintf(s + n, sizeof(s) - n, "%s%s", k ? "." : "", t.p[i].path[k]);
		}
	}
	if (strcmp(s, want))
		fail_msg("%s: \"%s\", not \"%s\"", schema, s, want);
	free(why);
	mcp_tool_clear(&t);
	json_decref(j);
}

static void test_params_scan(void **state)
{
	(void)state;
	scan_is("{\"type\":\"object\"}", 0, "");
	scan_is("{\"properties\":{\"r\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
	        "\"q\":{\"type\":\"string\"}}}", 1, "Regions=r");
	scan_is("{\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"b\":"
	        "{\"type\":\"integer\",\"x-mcp-header\":\"B\"}}},\"c\":{\"type\":"
	        "[\"boolean\",\"null\"],\"x-mcp-header\":\"c-1\"}}}", 1, "Bi=a.b c-1b=c");
	/* data, not schemas: default, examples, const, enum */
	scan_is("{\"properties\":{\"a\":{\"type\":\"object\",\"default\":"
	        "{\"x-mcp-header\":\"X\"}}}}", 0, "");
	/* a property named x-mcp-header is a property */
	scan_is("{\"properties\":{\"x-mcp-header\":{\"type\":\"string\","
	        "\"x-mcp-header\":\"X\"}}}", 1, "Xs=x-mcp-header");
	static const char *const bad[] = {
		/* not reached through properties alone */
		"{\"properties\":{\"l\":{\"type\":\"array\",\"items\":{\"type\":"
		"\"string\",\"x-mcp-header\":\"I\"}}}}",
		"{\"properties\":{\"o\":{\"anyOf\":[{\"type\":\"string\","
		"\"x-mcp-header\":\"A\"}]}}}",
		"{\"$defs\":{\"d\":{\"type\":\"string\",\"x-mcp-header\":\"D\"}}}",
		"{\"x-mcp-header\":\"Root\",\"type\":\"object\"}",
		/* the name: empty, not a token, not a string */
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"My Region\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"R:P\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"R\\u00e9\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"R\\t1\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"R\\u0000\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":7}}}",
		/* unique ignoring case */
		"{\"properties\":{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"R\"},"
		"\"b\":{\"type\":\"string\",\"x-mcp-header\":\"r\"}}}",
		/* types: number, object, array, null, none, two */
		"{\"properties\":{\"a\":{\"type\":\"number\",\"x-mcp-header\":\"A\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"object\",\"x-mcp-header\":\"A\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"array\",\"x-mcp-header\":\"A\"}}}",
		"{\"properties\":{\"a\":{\"type\":\"null\",\"x-mcp-header\":\"A\"}}}",
		"{\"properties\":{\"a\":{\"x-mcp-header\":\"A\"}}}",
		"{\"properties\":{\"a\":{\"type\":[\"string\",\"integer\"],"
		"\"x-mcp-header\":\"A\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		scan_is(bad[i], -1, "");
	/* bounds: depth and count */
	char deep[2048] = "{";
	for (int i = 0; i <= MCP_PARAMS_DEPTH_MAX; i++)
		strcat(deep, "\"properties\":{\"p\":{");
	strcat(deep, "\"type\":\"string\",\"x-mcp-header\":\"D\"");
	for (int i = 0; i <= MCP_PARAMS_DEPTH_MAX; i++)
		strcat(deep, "}}");
	strcat(deep, "}");
	scan_is(deep, -1, "");
	char many[4096] = "{\"properties\":{";
	for (int i = 0; i <= MCP_PARAMS_PER_TOOL_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		         "%s\"p%d\":{\"type\":\"string\",\"x-mcp-header\":\"H%d\"}",
		         i ? "," : "", i, i);
	strcat(many, "}}");
	scan_is(many, -1, "");
}

static bool eq(const char *v, const char *json)
{
	json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
	assert_non_null(j);
	bool r = mcp_params_value_eq(v, strlen(v), j);
	json_decref(j);
	return r;
}

static void test_params_value_eq(void **state)
{
	(void)state;
	assert_true(eq("us-west1", "\"us-west1\""));
	assert_false(eq("us-west1 ", "\"us-west1\""));
	assert_true(eq("42", "42"));
	assert_true(eq("42.0", "42"));
	assert_true(eq("4.2e1", "42"));
	assert_true(eq("42", "42.0"));
	assert_true(eq("-7", "-7"));
	assert_true(eq("9007199254740993", "9007199254740993"));   /* exact */
	assert_false(eq("9007199254740992", "9007199254740993"));
	assert_false(eq("43", "42"));
	assert_false(eq("0x2A", "42"));
	assert_false(eq("42abc", "42"));
	assert_false(eq("", "0"));
	assert_false(eq("inf", "1"));
	assert_true(eq("true", "true"));
	assert_true(eq("false", "false"));
	assert_false(eq("True", "true"));
	assert_false(eq("1", "true"));
	assert_false(eq("false", "true"));
	assert_false(eq("null", "null"));
	assert_false(eq("{}", "{}"));
	assert_false(eq("42", "\"42x\""));
	/* a value with a NUL in it (decoded base64) is no number */
	json_t *n = json_integer(4);
	assert_false(mcp_params_value_eq("4\0", 2, n));
	json_decref(n);
}

struct hdrs {
	const char *const *kv;
};

static const char *hdr(void *ctx, const char *name)
{
	const struct hdrs *h = ctx;
	for (size_t i = 0; h->kv[i]; i += 2)
		if (!strcasecmp(h->kv[i], name))
			return h->kv[i + 1];
	return NULL;
}

static bool check(const struct mcp_params *t, const char *args,
                  const char *const *kv, const char *why)
{
	bool known;
	const struct mcp_tool *tool = mcp_params_find(t, "route", 5, &known);
	assert_non_null(tool);
	json_t *a = json_loads(args, 0, NULL);
	struct hdrs h = { kv };
	char *w = NULL;
	bool r = mcp_params_check(tool, a, hdr, &h, &w);
	if (!r && why && !strstr(w, why))
		fail_msg("%s: \"%s\" does not say \"%s\"", args, w, why);
	free(w);
	json_decref(a);
	return r;
}

static void test_params_table_and_check(void **state)
{
	(void)state;
	struct mcp_params *t = mcp_params_new();
	bool known;
	assert_null(mcp_params_find(t, "route", 5, &known));
	assert_false(known);
	json_t *list = json_loads("{\"tools\":[{\"name\":\"route\",\"inputSchema\":"
	                          "{\"properties\":{\"region\":{\"type\":\"string\","
	                          "\"x-mcp-header\":\"Region\"},\"n\":{\"type\":"
	                          "\"integer\",\"x-mcp-header\":\"N\"}}}},"
	                          "{\"name\":\"plain\",\"inputSchema\":{}},"
	                          "{\"name\":\"bad\",\"inputSchema\":{\"properties\":"
	                          "{\"a\":{\"type\":\"number\",\"x-mcp-header\":\"A\"}}}},"
	                          "{\"inputSchema\":{}}, 7]}", 0, NULL);
	assert_non_null(list);
	char *why = NULL;
	/* a page: kept, not complete */
	mcp_params_feed(t, list, false, &why);
	assert_non_null(why);
	assert_non_null(strstr(why, "bad: "));
	free(why);
	assert_int_equal(mcp_params_count(t), 1);
	assert_null(mcp_params_find(t, "plain", 5, &known));
	assert_false(known);
	/* said once per list */
	mcp_params_feed(t, list, true, &why);
	assert_null(why);
	assert_null(mcp_params_find(t, "plain", 5, &known));
	assert_true(known);
	assert_null(mcp_params_find(t, "rout", 4, &known));

	assert_true(check(t, "{}", (const char *const[]){ NULL }, NULL));
	assert_true(check(t, "{\"region\":null}", (const char *const[]){ NULL }, NULL));
	assert_true(check(t, "{\"region\":\"eu\",\"n\":42}", (const char *const[]){
		"mcp-param-region", "eu", "Mcp-Param-N", "42.0", NULL }, NULL));
	assert_true(check(t, "{\"region\":\" eu\"}", (const char *const[]){
		"Mcp-Param-Region", "=?base64?IGV1?=", NULL }, NULL));
	assert_false(check(t, "{\"region\":\"eu\"}", (const char *const[]){ NULL },
	                   "no Mcp-Param-Region header"));
	assert_false(check(t, "{\"region\":\"eu\"}", (const char *const[]){
		"Mcp-Param-Region", "us", NULL }, "does not match arguments.region"));
	assert_false(check(t, "{}", (const char *const[]){
		"Mcp-Param-N", "1", NULL }, "but no arguments.n"));
	assert_false(check(t, "{\"region\":\"eu\"}", (const char *const[]){
		"Mcp-Param-Region", "=?base64?ZXU?=", NULL }, "bad base64"));
	assert_false(check(t, "{\"region\":{\"a\":1}}", (const char *const[]){
		"Mcp-Param-Region", "x", NULL }, "does not match"));

	/* the list changed: forgotten, not complete; a generation more */
	unsigned long g = mcp_params_gen(t);
	mcp_params_stale(t);
	assert_int_equal(mcp_params_gen(t), g + 1);
	assert_null(mcp_params_find(t, "route", 5, &known));
	assert_false(known);
	mcp_params_feed(t, list, false, &why);
	free(why);
	mcp_params_done(t, g);           /* of an older generation: no */
	assert_null(mcp_params_find(t, "plain", 5, &known));
	assert_false(known);
	mcp_params_done(t, g + 1);
	assert_null(mcp_params_find(t, "plain", 5, &known));
	assert_true(known);
	json_decref(list);

	/* bounded: MCP_PARAMS_TOOLS_MAX tools with declarations */
	json_t *big = json_pack("{s:[]}", "tools");
	for (int i = 0; i < MCP_PARAMS_TOOLS_MAX + 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%d", i);
		json_array_append_new(json_object_get(big, "tools"), json_pack(
			"{s:s, s:{s:{s:{s:s, s:s}}}}", "name", name, "inputSchema",
			"properties", "a", "type", "string", "x-mcp-header", "A"));
	}
	mcp_params_stale(t);
	mcp_params_feed(t, big, true, &why);
	assert_non_null(why);
	assert_non_null(strstr(why, "10 tools over the bound"));
	free(why);
	assert_int_equal(mcp_params_count(t), MCP_PARAMS_TOOLS_MAX);
	json_decref(big);
	mcp_params_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_header_value),
		cmocka_unit_test(test_params_scan),
		cmocka_unit_test(test_params_value_eq),
		cmocka_unit_test(test_params_table_and_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
