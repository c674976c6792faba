/* Unit tests for jrpc.c: the JSON-RPC line scanner, string decoding and
 * splicing.  Every text is scanned from a buffer of exactly its length
 * (no NUL after it), so that ASan sees any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jrpc.h"
#include "oracle.h"

/* The buffer of the last scan: spans point into it. */
static char *held;
static size_t held_len;

static enum jrpc_kind scan_n(const char *text, size_t len, struct jrpc_msg *m)
{
	free(held);
	held = malloc(len ? len : 1);
	assert_non_null(held);
	if (len)
		memcpy(held, text, len);
	held_len = len;
	return jrpc_scan(held, len, m);
}

static enum jrpc_kind scan(const char *text, struct jrpc_msg *m)
{
	return scan_n(text, strlen(text), m);
}

#define kind_name oracle_kind_name

static void kind_n(const char *text, size_t len, enum jrpc_kind want)
{
	struct jrpc_msg m;
	enum jrpc_kind got = scan_n(text, len, &m);
	if (got != want)
		fail_msg("\"%.*s\": %s, expected %s", (int)len, text, kind_name(got),
		         kind_name(want));
	assert_int_equal(m.kind, got);
}

static void kind(const char *text, enum jrpc_kind want)
{
	kind_n(text, strlen(text), want);
}

/* A literal that may hold NUL bytes, scanned whole. */
#define KIND_LIT(lit, want) kind_n(lit, sizeof(lit) - 1, want)

/* The span's bytes in the last scanned buffer are WANT (NULL: absent). */
static void span_is(struct jspan s, const char *want)
{
	if (!want) {
		if (s.off != 0 || s.len != 0)
			fail_msg("span {%zu,%zu} \"%.*s\", expected none", s.off, s.len,
			         (int)s.len, held + s.off);
		return;
	}
	if (s.off > held_len || s.len > held_len - s.off)
		fail_msg("span {%zu,%zu} out of %zu bytes", s.off, s.len, held_len);
	if (s.len != strlen(want) || memcmp(held + s.off, want, s.len) != 0)
		fail_msg("span \"%.*s\", expected \"%s\"", (int)s.len, held + s.off,
		         want);
}

/* As span_is, and at offset OFF. */
static void span_at(struct jspan s, size_t off, const char *want)
{
	span_is(s, want);
	assert_int_equal(s.off, off);
}

static struct jspan span_of(const char *buf, const char *sub)
{
	const char *p = strstr(buf, sub);
	assert_non_null(p);
	return (struct jspan){ (size_t)(p - buf), strlen(sub) };
}

static void test_kinds(void **state)
{
	(void)state;
	struct jrpc_msg m;

	assert_int_equal(scan("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
	                      &m), JRPC_REQUEST);
	span_at(m.id, 22, "1");
	span_at(m.method, 33, "\"ping\"");
	span_is(m.params, NULL);

	assert_int_equal(scan("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
	                      "initialized\"}", &m), JRPC_NOTIFICATION);
	span_is(m.id, NULL);
	span_is(m.method, "\"notifications/initialized\"");

	assert_int_equal(scan("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", &m),
	                 JRPC_RESPONSE);
	span_is(m.id, "7");
	span_is(m.result, "{}");
	span_is(m.error, NULL);

	assert_int_equal(scan("{\"id\":\"x\",\"error\":{\"code\":-32601,"
	                      "\"message\":\"no\"}}", &m), JRPC_RESPONSE);
	span_is(m.error, "{\"code\":-32601,\"message\":\"no\"}");
	span_is(m.result, NULL);

	/* A null id is still an id: the caller refuses it. */
	assert_int_equal(scan("{\"id\":null,\"method\":\"a\"}", &m), JRPC_REQUEST);
	assert_true(jrpc_is_null(held, m.id));
	assert_int_equal(scan("{\"id\":null,\"result\":0}", &m), JRPC_RESPONSE);
	assert_true(jrpc_is_null(held, m.id));

	/* A method wins over a result. */
	kind("{\"id\":1,\"method\":\"a\",\"result\":1}", JRPC_REQUEST);
	kind("{\"method\":\"a\",\"error\":1}", JRPC_NOTIFICATION);
	/* jsonrpc is not checked. */
	kind("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"a\"}", JRPC_REQUEST);
	kind("{\"jsonrpc\":1,\"jsonrpc\":2,\"method\":\"a\"}", JRPC_NOTIFICATION);

	kind("{}", JRPC_INVALID);
	kind("{\"jsonrpc\":\"2.0\"}", JRPC_INVALID);
	kind("{\"id\":1}", JRPC_INVALID);
	kind("{\"result\":1}", JRPC_INVALID);
	kind("{\"error\":{}}", JRPC_INVALID);
	kind("{\"params\":{},\"id\":1}", JRPC_INVALID);
	kind("{\"id\":1,\"method\":2}", JRPC_INVALID);
	kind("{\"id\":1,\"method\":null}", JRPC_INVALID);
	kind("{\"method\":{\"a\":1}}", JRPC_INVALID);
	kind("{\"method\":[\"a\"]}", JRPC_INVALID);
	kind("{\"method\":true}", JRPC_INVALID);
	/* Names are case-sensitive. */
	kind("{\"ID\":1,\"Method\":\"a\"}", JRPC_INVALID);

	kind("1", JRPC_NOT_OBJECT);
	kind("\"a\"", JRPC_NOT_OBJECT);
	kind("true", JRPC_NOT_OBJECT);
	kind("false", JRPC_NOT_OBJECT);
	kind("null", JRPC_NOT_OBJECT);
	kind("-1.5e3", JRPC_NOT_OBJECT);

	assert_int_equal(scan("[{\"id\":1,\"method\":\"a\"}]", &m), JRPC_BATCH);
	span_is(m.id, NULL); /* its parent is not the message */
	span_is(m.method, NULL);
	kind("[]", JRPC_BATCH);
	kind("[1,2,[3]]", JRPC_BATCH);
	/* A batch must be JSON still. */
	kind("[1,]", JRPC_PARSE_ERROR);
	kind("[{\"id\":1,\"method\":\"a\"}", JRPC_PARSE_ERROR);
	kind("[{]", JRPC_PARSE_ERROR);

	kind("", JRPC_PARSE_ERROR);
	kind(" \t\r\n ", JRPC_PARSE_ERROR);
	kind("hello", JRPC_PARSE_ERROR);
	kind_n("", 0, JRPC_PARSE_ERROR);
}

static void test_id_spans(void **state)
{
	(void)state;
	struct jrpc_msg m;

	assert_int_equal(scan("{\"id\":1.0,\"method\":\"a\"}", &m), JRPC_REQUEST);
	span_at(m.id, 6, "1.0");
	assert_int_equal(scan("{\"id\":\"a\\\"b\",\"method\":\"a\"}", &m),
	                 JRPC_REQUEST);
	span_at(m.id, 6, "\"a\\\"b\"");
	assert_int_equal(scan("{\"id\":-0,\"method\":\"a\"}", &m), JRPC_REQUEST);
	span_at(m.id, 6, "-0");
	assert_int_equal(scan("{\"id\":{\"x\":1},\"method\":\"a\"}", &m),
	                 JRPC_REQUEST);
	span_at(m.id, 6, "{\"x\":1}");
	assert_int_equal(scan("{\"id\":[1,[2,{}]],\"method\":\"a\"}", &m),
	                 JRPC_REQUEST);
	span_at(m.id, 6, "[1,[2,{}]]");
	assert_int_equal(scan("{\"method\":\"a\",\"id\":-12.5E+3}", &m),
	                 JRPC_REQUEST);
	span_at(m.id, 19, "-12.5E+3");
	assert_int_equal(scan("{\"method\":\"a\",\"id\":true}", &m), JRPC_REQUEST);
	span_is(m.id, "true");
	assert_false(jrpc_is_null(held, m.id));
	assert_int_equal(scan("{\"method\":\"a\",\"id\":\"\\u0041\"}", &m),
	                 JRPC_REQUEST);
	span_is(m.id, "\"\\u0041\"");
	assert_true(jrpc_str_eq(held, m.id, "A"));
	assert_int_equal(scan("{\"result\":[],\"id\":\"\"}", &m), JRPC_RESPONSE);
	span_is(m.id, "\"\"");
	span_is(m.result, "[]");

	/* The last member's value ends at the closing brace. */
	assert_int_equal(scan("{\"method\":\"a\",\"id\":123}", &m), JRPC_REQUEST);
	span_at(m.id, 19, "123");
}

static void test_escaped_keys(void **state)
{
	(void)state;
	struct jrpc_msg m;

	assert_int_equal(scan("{\"\\u0069d\":5,\"m\\u0065thod\":\"x\"}", &m),
	                 JRPC_REQUEST);
	span_is(m.id, "5");
	span_is(m.method, "\"x\"");
	assert_int_equal(scan("{\"\\u0069\\u0044\":5,\"method\":\"x\"}", &m),
	                 JRPC_NOTIFICATION); /* "iD" is not "id" */
	assert_int_equal(scan("{\"method\":\"x\",\"\\u0070arams\":{\"\\u005fmeta\":"
	                      "{\"progress\\u0054oken\":9},\"ur\\u0069\":\"f\"}}",
	                      &m), JRPC_NOTIFICATION);
	span_is(m.meta_progress, "9");
	span_is(m.uri, "\"f\"");
	/* A key that decodes with more (or a NUL) is another key. */
	assert_int_equal(scan("{\"id\\u0000\":1,\"method\":\"x\"}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.id, NULL);
	assert_int_equal(scan("{\"ids\":1,\"i\":2,\"method\":\"x\"}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.id, NULL);
	/* \/ is / : no tracked key has one, but it decodes. */
	assert_int_equal(scan("{\"\\/id\":1,\"method\":\"x\"}", &m),
	                 JRPC_NOTIFICATION);
	/* An escaped duplicate is a duplicate. */
	kind("{\"id\":1,\"\\u0069d\":2,\"method\":\"x\"}", JRPC_INVALID);
}

static void test_duplicates(void **state)
{
	(void)state;

	kind("{\"id\":1,\"id\":2,\"method\":\"a\"}", JRPC_INVALID);
	kind("{\"id\":1,\"method\":\"a\",\"method\":\"b\"}", JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{},\"params\":{}}", JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":1,\"params\":[]}", JRPC_INVALID);
	kind("{\"id\":1,\"result\":1,\"result\":2}", JRPC_INVALID);
	kind("{\"id\":1,\"error\":{},\"error\":{}}", JRPC_INVALID);
	kind("{\"id\":{},\"id\":{},\"method\":\"a\"}", JRPC_INVALID);
	/* Inside params. */
	kind("{\"method\":\"a\",\"params\":{\"uri\":\"x\",\"uri\":\"y\"}}",
	     JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{\"level\":1,\"level\":1}}", JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{\"requestId\":1,\"requestId\":2}}",
	     JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{\"progressToken\":1,"
	     "\"progressToken\":2}}", JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{\"_meta\":{},\"_meta\":{}}}",
	     JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{\"_meta\":1,\"_meta\":{}}}",
	     JRPC_INVALID);
	kind("{\"method\":\"a\",\"params\":{\"_meta\":{\"progressToken\":1,"
	     "\"progressToken\":2}}}", JRPC_INVALID);
	/* Untracked members, or tracked names elsewhere, may repeat. */
	kind("{\"method\":\"a\",\"x\":1,\"x\":2}", JRPC_NOTIFICATION);
	kind("{\"method\":\"a\",\"params\":{\"name\":1,\"name\":2}}",
	     JRPC_NOTIFICATION);
	kind("{\"method\":\"a\",\"params\":{\"id\":1,\"id\":2,\"method\":3}}",
	     JRPC_NOTIFICATION);
	kind("{\"method\":\"a\",\"params\":{\"arguments\":{\"uri\":1,\"uri\":2}}}",
	     JRPC_NOTIFICATION);
	kind("{\"method\":\"a\",\"params\":{\"_meta\":{\"x\":1,\"x\":2}}}",
	     JRPC_NOTIFICATION);
	kind("{\"method\":\"a\",\"params\":[{\"uri\":1},{\"uri\":2}]}",
	     JRPC_NOTIFICATION);
	kind("{\"method\":\"a\",\"result\":{\"id\":1,\"id\":2}}", JRPC_NOTIFICATION);
	/* params.progressToken and params._meta.progressToken are two keys. */
	kind("{\"method\":\"a\",\"params\":{\"progressToken\":1,"
	     "\"_meta\":{\"progressToken\":2}}}", JRPC_NOTIFICATION);
	/* A duplicate does not hide a parse error. */
	kind("{\"id\":1,\"id\":2,\"method\":\"a\"", JRPC_PARSE_ERROR);
}

static void test_params(void **state)
{
	(void)state;
	struct jrpc_msg m;
	const char *t =
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
		"{\"name\":\"x\",\"_meta\":{\"other\":[1],\"progressToken\":\"tok\"},"
		"\"arguments\":{\"uri\":\"no\",\"_meta\":{\"progressToken\":0}},"
		"\"progressToken\":17,\"requestId\":\"r1\",\"uri\":\"file:///a\","
		"\"level\":\"debug\"}}";

	assert_int_equal(scan(t, &m), JRPC_REQUEST);
	assert_int_equal(m.params.off, (size_t)(strstr(t, "{\"name\"") - t));
	assert_int_equal(m.params.off + m.params.len, strlen(t) - 1);
	span_at(m.meta_progress, span_of(t, "\"tok\"").off, "\"tok\"");
	span_is(m.progress_token, "17");
	span_is(m.request_id, "\"r1\"");
	span_at(m.uri, span_of(t, "\"file:///a\"").off, "\"file:///a\"");
	span_is(m.level, "\"debug\"");

	/* Containers as values; _meta first or last. */
	assert_int_equal(scan("{\"method\":\"n\",\"params\":{\"requestId\":{\"a\":"
	                      "[1]},\"_meta\":{\"progressToken\":[{}]}}}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.request_id, "{\"a\":[1]}");
	span_is(m.meta_progress, "[{}]");
	span_is(m.params, "{\"requestId\":{\"a\":[1]},\"_meta\":"
	        "{\"progressToken\":[{}]}}");

	/* params before method, at the start. */
	assert_int_equal(scan("{\"params\":{\"level\":\"info\"},\"method\":"
	                      "\"logging/setLevel\",\"id\":0}", &m), JRPC_REQUEST);
	span_at(m.params, 10, "{\"level\":\"info\"}");
	span_is(m.level, "\"info\"");

	/* params not an object: its content is not looked at. */
	assert_int_equal(scan("{\"method\":\"n\",\"params\":[{\"uri\":\"u\","
	                      "\"_meta\":{\"progressToken\":1}}]}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.params, "[{\"uri\":\"u\",\"_meta\":{\"progressToken\":1}}]");
	span_is(m.uri, NULL);
	span_is(m.meta_progress, NULL);
	assert_int_equal(scan("{\"method\":\"n\",\"params\":\"uri\"}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.params, "\"uri\"");
	span_is(m.uri, NULL);
	assert_int_equal(scan("{\"method\":\"n\",\"params\":null}", &m),
	                 JRPC_NOTIFICATION);
	assert_true(jrpc_is_null(held, m.params));

	/* _meta not an object: no progressToken under it. */
	assert_int_equal(scan("{\"method\":\"n\",\"params\":{\"_meta\":"
	                      "[{\"progressToken\":1}]}}", &m), JRPC_NOTIFICATION);
	span_is(m.meta_progress, NULL);
	span_is(m.progress_token, NULL);

	/* Params' members under other members are not params'. */
	assert_int_equal(scan("{\"method\":\"n\",\"result\":{\"uri\":1,\"_meta\":"
	                      "{\"progressToken\":2}},\"params\":{}}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.uri, NULL);
	span_is(m.meta_progress, NULL);
	span_is(m.params, "{}");
	assert_int_equal(scan("{\"method\":\"n\",\"params\":{\"x\":{\"uri\":1,"
	                      "\"_meta\":{\"progressToken\":2}}}}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.uri, NULL);
	span_is(m.meta_progress, NULL);
	/* Nor is a top-level name inside params. */
	assert_int_equal(scan("{\"method\":\"n\",\"params\":{\"id\":1}}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.id, NULL);
}

/* MCP 2026-07-28: the subscription id and log level in params._meta, the
 * subscription id in result._meta; only there. */
static void test_meta_2026(void **state)
{
	(void)state;
	struct jrpc_msg m;
	const char *n =
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\","
		"\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":"
		"\"s\\\"1\",\"io.modelcontextprotocol/logLevel\":\"info\"}}}";

	assert_int_equal(scan(n, &m), JRPC_NOTIFICATION);
	span_is(m.meta_sub, "\"s\\\"1\"");
	span_is(m.meta_level, "\"info\"");
	span_is(m.result_sub, NULL);

	const char *r =
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"resultType\":"
		"\"complete\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":"
		"7,\"progressToken\":1}}}";
	assert_int_equal(scan(r, &m), JRPC_RESPONSE);
	span_at(m.result_sub, span_of(r, "7,\"progressToken").off, "7");
	span_is(m.meta_sub, NULL);
	span_is(m.meta_progress, NULL);
	span_is(m.result, "{\"resultType\":\"complete\",\"_meta\":{\"io."
	        "modelcontextprotocol/subscriptionId\":7,\"progressToken\":1}}");

	/* Deeper, or in params rather than _meta, is someone else's. */
	assert_int_equal(scan("{\"id\":1,\"result\":{\"x\":{\"_meta\":{\"io."
	                      "modelcontextprotocol/subscriptionId\":1}}}}", &m),
	                 JRPC_RESPONSE);
	span_is(m.result_sub, NULL);
	assert_int_equal(scan("{\"method\":\"n\",\"params\":{\"io."
	                      "modelcontextprotocol/logLevel\":\"debug\"}}", &m),
	                 JRPC_NOTIFICATION);
	span_is(m.meta_level, NULL);
	/* A result that is no object holds nothing. */
	assert_int_equal(scan("{\"id\":1,\"result\":[{\"_meta\":{}}]}", &m),
	                 JRPC_RESPONSE);
	span_is(m.result_sub, NULL);

	/* Given twice, like any tracked member: no message. */
	kind("{\"method\":\"n\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	     "subscriptionId\":1,\"io.modelcontextprotocol/subscriptionId\":2}}}",
	     JRPC_INVALID);
	kind("{\"id\":1,\"result\":{\"_meta\":{}},\"result\":{}}", JRPC_INVALID);
	kind("{\"id\":1,\"result\":{\"_meta\":{},\"_meta\":{}}}", JRPC_INVALID);
}

static void test_whitespace(void **state)
{
	(void)state;
	struct jrpc_msg m;
	const char *t = " \t\r\n{ \"id\" \t:\r\n 1.5 , \"method\"\n:\"a\" ,"
	                "\"params\" : { \"_meta\" : { \"progressToken\" : \"p\" } ,"
	                " \"uri\" :\t\"u\"\t} , \"x\" : [ 1 , { } , [ ] ] }\r\n";

	assert_int_equal(scan(t, &m), JRPC_REQUEST);
	span_at(m.id, span_of(t, "1.5").off, "1.5");
	span_is(m.method, "\"a\"");
	span_is(m.params, "{ \"_meta\" : { \"progressToken\" : \"p\" } , \"uri\" "
	        ":\t\"u\"\t}");
	span_is(m.meta_progress, "\"p\"");
	span_is(m.uri, "\"u\"");

	kind(" 1 ", JRPC_NOT_OBJECT);
	kind("\n[\n]\n", JRPC_BATCH);
	kind("\r\n{}\r\n", JRPC_INVALID);
	/* Only these four count as whitespace. */
	kind("\f{}", JRPC_PARSE_ERROR);
	kind("{}\v", JRPC_PARSE_ERROR);
	kind("{\"id\":1,\xc2\xa0\"method\":\"a\"}", JRPC_PARSE_ERROR);
}

/* N times OPEN then N times CLOSE (either may be empty). */
static char *nest(size_t n, const char *open, const char *mid,
                  const char *close, size_t *len)
{
	size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
	char *s = malloc(n * (lo + lc) + lm);
	assert_non_null(s);
	size_t o = 0;
	for (size_t k = 0; k < n; k++, o += lo)
		memcpy(s + o, open, lo);
	memcpy(s + o, mid, lm);
	o += lm;
	for (size_t k = 0; k < n; k++, o += lc)
		memcpy(s + o, close, lc);
	*len = o;
	return s;
}

static void nest_kind(size_t n, const char *open, const char *mid,
                      const char *close, enum jrpc_kind want)
{
	size_t len;
	char *s = nest(n, open, mid, close, &len);
	struct jrpc_msg m;
	enum jrpc_kind got = scan_n(s, len, &m);
	if (got != want)
		fail_msg("%zu x \"%s\": %s, expected %s", n, open, kind_name(got),
		         kind_name(want));
	free(s);
}

static void test_depth(void **state)
{
	(void)state;

	nest_kind(JRPC_MAX_DEPTH, "[", "", "]", JRPC_BATCH);
	nest_kind(JRPC_MAX_DEPTH + 1, "[", "", "]", JRPC_PARSE_ERROR);
	nest_kind(JRPC_MAX_DEPTH, "[", "1", "]", JRPC_BATCH);
	nest_kind(JRPC_MAX_DEPTH + 1, "[", "1", "]", JRPC_PARSE_ERROR);
	nest_kind(JRPC_MAX_DEPTH, "{\"a\":", "1", "}", JRPC_INVALID);
	nest_kind(JRPC_MAX_DEPTH - 1, "{\"a\":", "{}", "}", JRPC_INVALID);
	nest_kind(JRPC_MAX_DEPTH, "{\"a\":", "{}", "}", JRPC_PARSE_ERROR);
	nest_kind(JRPC_MAX_DEPTH + 1, "{\"a\":", "1", "}", JRPC_PARSE_ERROR);
	nest_kind(JRPC_MAX_DEPTH, "[{\"a\":", "", "}]", JRPC_PARSE_ERROR);
	nest_kind(JRPC_MAX_DEPTH / 2, "[{\"a\":", "0", "}]", JRPC_BATCH);
	/* Far beyond: refused, without a stack to overflow. */
	nest_kind(100000, "[", "", "", JRPC_PARSE_ERROR);
	nest_kind(100000, "[", "", "]", JRPC_PARSE_ERROR);
	nest_kind(100000, "{\"a\":", "1", "}", JRPC_PARSE_ERROR);
	nest_kind(100000, "{\"params\":", "1", "}", JRPC_PARSE_ERROR);

	/* A request whose params reach the limit exactly (the message is
	 * level 1), and one level more. */
	for (size_t extra = 0; extra < 2; extra++) {
		size_t n = JRPC_MAX_DEPTH - 1 + extra, len;
		char *inner = nest(n, "[", "", "]", &len);
		const char *head = "{\"id\":1,\"method\":\"m\",\"params\":";
		size_t hl = strlen(head);
		char *t = malloc(hl + len + 1);
		assert_non_null(t);
		memcpy(t, head, hl);
		memcpy(t + hl, inner, len);
		t[hl + len] = '}';
		struct jrpc_msg m;
		assert_int_equal(scan_n(t, hl + len + 1, &m),
		                 extra ? JRPC_PARSE_ERROR : JRPC_REQUEST);
		if (!extra) {
			assert_int_equal(m.params.off, hl);
			assert_int_equal(m.params.len, len);
		}
		free(inner);
		free(t);
	}

	/* Levels above the tracked ones close in order. */
	struct jrpc_msg m;
	assert_int_equal(scan("{\"method\":\"a\",\"params\":{\"_meta\":{\"x\":"
	                      "[[[{\"y\":[[{}]]}]]],\"progressToken\":[[[1]]]},"
	                      "\"uri\":{\"a\":{\"b\":{\"c\":[]}}}},\"id\":2}", &m),
	                 JRPC_REQUEST);
	span_is(m.meta_progress, "[[[1]]]");
	span_is(m.uri, "{\"a\":{\"b\":{\"c\":[]}}}");
	span_is(m.id, "2");
}

static void test_numbers(void **state)
{
	(void)state;
	static const char *const good[] = {
		"0", "-0", "1", "-1", "10", "1234567890", "0.5", "-0.0", "1.25",
		"1e5", "1E5", "1e+5", "1e-5", "0e0", "-0.0E-00", "1.5e10",
		"123456789012345678901234567890.123456789e123456789",
	};
	static const char *const bad[] = {
		"01", "-01", "00", "1.", "-", ".5", "1e", "1e+", "1E-", "+1",
		"0x1", "1.e5", "--1", "-.5", "1.5.5", "1e5.5", "1ee5", "NaN",
		"Infinity", "-Infinity", "1,", "1 2", "- 1", "0-", "1e5e5",
	};

	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		kind(good[k], JRPC_NOT_OBJECT);
		char t[256];
		snprintf(t, sizeof(t), "{\"method\":\"a\",\"id\":%s}", good[k]);
		struct jrpc_msg m;
		assert_int_equal(scan(t, &m), JRPC_REQUEST);
		span_at(m.id, 19, good[k]);
		snprintf(t, sizeof(t), "[%s,%s]", good[k], good[k]);
		kind(t, JRPC_BATCH);
	}
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		kind(bad[k], JRPC_PARSE_ERROR);
		char t[256];
		snprintf(t, sizeof(t), "{\"method\":\"a\",\"id\":%s}", bad[k]);
		kind(t, JRPC_PARSE_ERROR);
		snprintf(t, sizeof(t), "[%s]", bad[k]);
		kind(t, JRPC_PARSE_ERROR);
	}
}

static void test_strings(void **state)
{
	(void)state;
	struct jrpc_msg m;

	assert_int_equal(scan("{\"method\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"
	                      "\\uD83D\\uDE00\"}", &m), JRPC_NOTIFICATION);
	kind("\"\"", JRPC_NOT_OBJECT);
	kind("\"\\u0000\"", JRPC_NOT_OBJECT);
	kind("\"\\uABCD\\uabcd\\uD800\"", JRPC_NOT_OBJECT); /* lone surrogate */
	/* Bytes >= 0x80 are not checked. */
	kind("\"\xff\xfe\x80\"", JRPC_NOT_OBJECT);
	kind("{\"method\":\"\xc3\xa9\xed\xa0\x80\"}", JRPC_NOTIFICATION);
	kind("\"\x7f\"", JRPC_NOT_OBJECT);

	static const char *const bad[] = {
		"\"", "\"abc", "\"\\\"", "\"\\", "\"\\x\"", "\"\\a\"", "\"\\U0041\"",
		"\"\\u\"", "\"\\u12\"", "\"\\u123\"", "\"\\u12G4\"", "\"\\u 123\"",
		"\"\\'\"", "\"\\0\"", "\"a\tb\"", "\"a\nb\"", "\"a\rb\"",
		"\"\x01\"", "\"\x1f\"", "'a'", "\"a\"\"", "\"\\u123",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		kind(bad[k], JRPC_PARSE_ERROR);
		char t[64];
		snprintf(t, sizeof(t), "{\"method\":%s}", bad[k]);
		kind(t, JRPC_PARSE_ERROR);
		snprintf(t, sizeof(t), "{%s:1}", bad[k]);
		kind(t, JRPC_PARSE_ERROR);
	}
}

static void test_literals(void **state)
{
	(void)state;
	kind("[true,false,null]", JRPC_BATCH);
	static const char *const bad[] = {
		"tru", "nul", "fals", "True", "NULL", "nulll", "truee", "t", "n",
		"f", "nil", "undefined", "truefalse", "null1",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		kind(bad[k], JRPC_PARSE_ERROR);
		char t[64];
		snprintf(t, sizeof(t), "{\"method\":\"a\",\"id\":%s}", bad[k]);
		kind(t, JRPC_PARSE_ERROR);
	}
}

static void test_structure(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"{", "}", "[", "]", ":", ",", "{\"a\"}", "{\"a\" 1}", "{\"a\":}",
		"{,}", "{\"a\":1,}", "{\"a\":1,,\"b\":2}", "{\"a\":1 \"b\":2}",
		"{1:2}", "{'a':1}", "{a:1}", "{\"a\"::1}", "{\"a\":1:2}", "[,1]",
		"[1 2]", "[1,,2]", "[1:2]", "{\"a\":1]", "[1}", "{]", "[}",
		"{\"a\":[}", "{\"a\":{]}", "[\"a\":1]", "{null:1}",
		/* trailing garbage */
		"{}{}", "{} {}", "1 2", "{\"a\":1}}", "[1]]", "{}x", "{},",
		"{\"id\":1,\"method\":\"a\"} x", "[] 1", "null null", "\"a\" \"b\"",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		kind(bad[k], JRPC_PARSE_ERROR);
}

/* Every proper prefix of a message is refused. */
static void test_truncated(void **state)
{
	(void)state;
	static const char *const msgs[] = {
		("{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":"
		 "{\"name\":\"a\\\"\\u00e9\",\"_meta\":{\"progressToken\":-1.5e-3},"
		 "\"list\":[true,false,null,[],{}]}}"),
		("{\"id\":\"x\",\"result\":{\"content\":[{\"type\":\"text\","
		 "\"text\":\"\\uD83D\\uDE00\"}]}}"),
		"[1,\"2\",{\"3\":[4]}]",
	};
	for (size_t k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
		size_t n = strlen(msgs[k]);
		struct jrpc_msg m;
		assert_int_not_equal(scan_n(msgs[k], n, &m), JRPC_PARSE_ERROR);
		for (size_t len = 0; len < n; len++)
			kind_n(msgs[k], len, JRPC_PARSE_ERROR);
	}
	/* A number cut short may still be a number. */
	kind_n("12", 1, JRPC_NOT_OBJECT);
}

static void test_nul_bytes(void **state)
{
	(void)state;
	struct jrpc_msg m;
	static const char t[] = "{\"id\":1,\"method\":\"a\"}\0junk";
	size_t n = strlen(t);

	/* The length is the end, not a NUL. */
	kind_n(t, n, JRPC_REQUEST);
	kind_n(t, n + 1, JRPC_PARSE_ERROR);
	kind_n(t, sizeof(t) - 1, JRPC_PARSE_ERROR);
	KIND_LIT("\0", JRPC_PARSE_ERROR);
	KIND_LIT(" \0 ", JRPC_PARSE_ERROR);
	KIND_LIT("{\"id\":1,\0\"method\":\"a\"}", JRPC_PARSE_ERROR);
	/* A raw NUL inside a string is a control character. */
	KIND_LIT("{\"id\":1,\"method\":\"a\0b\"}", JRPC_PARSE_ERROR);
	KIND_LIT("{\"i\0\":1,\"method\":\"a\"}", JRPC_PARSE_ERROR);
	KIND_LIT("\"\\\0\"", JRPC_PARSE_ERROR);
	/* An escaped one is fine for the scanner; decoding refuses it. */
	assert_int_equal(scan("{\"id\":1,\"method\":\"a\\u0000b\"}", &m),
	                 JRPC_REQUEST);
	assert_null(jrpc_str(held, m.method));
	assert_false(jrpc_str_eq(held, m.method, "a"));
	assert_false(jrpc_str_eq(held, m.method, "ab"));
	/* Text that is not NUL-terminated, cut mid-literal. */
	kind_n("[true]", 4, JRPC_PARSE_ERROR);
	kind_n("null", 3, JRPC_PARSE_ERROR);
	kind_n("\"\\u0041\"", 6, JRPC_PARSE_ERROR);
}

static void test_str_eq(void **state)
{
	(void)state;
	static const char b[] = "\"id\" \"\\u0069\\u0064\" \"i\\\"d\" \"\" 12 "
	                        "\"\\/\\\\\\n\" \"caf\\u00e9\" \"\\ud83d\\ude00\" "
	                        "\"x\\q\" \"a\"b\"";

	assert_true(jrpc_str_eq(b, span_of(b, "\"id\""), "id"));
	assert_false(jrpc_str_eq(b, span_of(b, "\"id\""), "i"));
	assert_false(jrpc_str_eq(b, span_of(b, "\"id\""), "idx"));
	assert_false(jrpc_str_eq(b, span_of(b, "\"id\""), ""));
	assert_false(jrpc_str_eq(b, span_of(b, "\"id\""), "\"id\""));
	assert_true(jrpc_str_eq(b, span_of(b, "\"\\u0069\\u0064\""), "id"));
	assert_true(jrpc_str_eq(b, span_of(b, "\"i\\\"d\""), "i\"d"));
	assert_true(jrpc_str_eq(b, span_of(b, "\"\""), ""));
	assert_false(jrpc_str_eq(b, span_of(b, "\"\""), "x"));
	assert_true(jrpc_str_eq(b, span_of(b, "\"\\/\\\\\\n\""), "/\\\n"));
	assert_true(jrpc_str_eq(b, span_of(b, "\"caf\\u00e9\""), "caf\xc3\xa9"));
	assert_false(jrpc_str_eq(b, span_of(b, "\"caf\\u00e9\""), "cafe"));
	assert_true(jrpc_str_eq(b, span_of(b, "\"\\ud83d\\ude00\""),
	                        "\xf0\x9f\x98\x80"));
	/* Not a string token, or a malformed one. */
	assert_false(jrpc_str_eq(b, span_of(b, "12"), "12"));
	assert_false(jrpc_str_eq(b, (struct jspan){ 0, 0 }, ""));
	assert_false(jrpc_str_eq(b, (struct jspan){ 0, 1 }, ""));
	assert_false(jrpc_str_eq(b, span_of(b, "\"x\\q\""), "xq"));
	assert_false(jrpc_str_eq(b, span_of(b, "\"a\"b\""), "a\"b"));
	assert_false(jrpc_str_eq(b, (struct jspan){ 0, 3 }, "i"));

	assert_true(jrpc_is_null("null", (struct jspan){ 0, 4 }));
	assert_true(jrpc_is_null("[null]", (struct jspan){ 1, 4 }));
	assert_false(jrpc_is_null("\"null\"", (struct jspan){ 0, 6 }));
	assert_false(jrpc_is_null("nul", (struct jspan){ 0, 3 }));
	assert_false(jrpc_is_null("", (struct jspan){ 0, 0 }));
}

/* jrpc_str of the whole of TEXT is WANT (NULL: refused). */
static void str_is(const char *text, const char *want, size_t want_len)
{
	size_t n = strlen(text);
	char *b = malloc(n);
	assert_non_null(b);
	memcpy(b, text, n);
	char *got = jrpc_str(b, (struct jspan){ 0, n });
	if (!want) {
		if (got)
			fail_msg("%s decoded, expected NULL", text);
	} else {
		if (!got)
			fail_msg("%s: NULL", text);
		assert_int_equal(strlen(got), want_len);
		assert_memory_equal(got, want, want_len);
		assert_true(jrpc_str_eq(b, (struct jspan){ 0, n }, got));
	}
	free(got);
	free(b);
}

#define STR_IS(text, want) str_is(text, want, sizeof(want) - 1)

static void test_str(void **state)
{
	(void)state;
	STR_IS("\"\"", "");
	STR_IS("\"tools/call\"", "tools/call");
	STR_IS("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
	STR_IS("\"\\u0041\\u00e9\\u00E9\\u20ac\"", "A\xc3\xa9\xc3\xa9\xe2\x82\xac");
	STR_IS("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"",
	       "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf");
	/* Surrogate pairs, either case. */
	STR_IS("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
	STR_IS("\"a\\uD83D\\uDE00b\"", "a\xf0\x9f\x98\x80" "b");
	STR_IS("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80");
	STR_IS("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");
	/* Lone surrogates keep their 3-byte form. */
	STR_IS("\"\\uD800\"", "\xed\xa0\x80");
	STR_IS("\"\\uDC00\"", "\xed\xb0\x80");
	STR_IS("\"\\uD800\\u0041\"", "\xed\xa0\x80" "A");
	STR_IS("\"\\uD800\\uD800\\uDC00\"", "\xed\xa0\x80\xf0\x90\x80\x80");
	STR_IS("\"\\uDC00\\uD800\"", "\xed\xb0\x80\xed\xa0\x80");
	STR_IS("\"\\uD800x\"", "\xed\xa0\x80" "x");
	STR_IS("\"\\uD800\\uE000\"", "\xed\xa0\x80\xee\x80\x80");
	STR_IS("\"\\uDBFF\\uD7FF\"", "\xed\xaf\xbf\xed\x9f\xbf");
	STR_IS("\"\\uD800\\n\"", "\xed\xa0\x80\n");
	/* Raw bytes pass as they are. */
	STR_IS("\"\xc3\xa9\xff\"", "\xc3\xa9\xff");
	/* A decoded NUL, a malformed token, something else. */
	str_is("\"\\u0000\"", NULL, 0);
	str_is("\"a\\u0000\"", NULL, 0);
	str_is("\"\\uD800\\u0000\"", NULL, 0);
	str_is("\"\\x\"", NULL, 0);
	str_is("\"\\u12\"", NULL, 0);
	str_is("\"\\uD800\\uDC0\"", NULL, 0);
	str_is("\"\\\"", NULL, 0);
	str_is("\"a\"b\"", NULL, 0);
	str_is("\"a\nb\"", NULL, 0);
	str_is("\"", NULL, 0);
	str_is("12", NULL, 0);
	str_is("null", NULL, 0);
	str_is("{}", NULL, 0);
	assert_null(jrpc_str("", (struct jspan){ 0, 0 }));

	/* A span inside a scanned message. */
	struct jrpc_msg m;
	assert_int_equal(scan("{\"method\":\"resources/subscribe\",\"id\":1,"
	                      "\"params\":{\"uri\":\"file:\\/\\/\\/x y\"}}", &m),
	                 JRPC_REQUEST);
	char *u = jrpc_str(held, m.uri);
	assert_string_equal(u, "file:///x y");
	free(u);
	char *meth = jrpc_str(held, m.method);
	assert_string_equal(meth, "resources/subscribe");
	free(meth);
	assert_null(jrpc_str(held, m.id));
}

static void splice_is(const char *buf, const struct jrpc_edit *e, size_t n,
                      const char *want)
{
	size_t len = strlen(buf), outlen = 12345;
	char *b = malloc(len ? len : 1);
	assert_non_null(b);
	memcpy(b, buf, len);
	char *out = jrpc_splice(b, len, e, n, &outlen);
	if (!want) {
		assert_null(out);
		assert_int_equal(outlen, 0);
	} else {
		assert_non_null(out);
		if (outlen != strlen(want) || memcmp(out, want, outlen) != 0)
			fail_msg("splice gave \"%.*s\", expected \"%s\"", (int)outlen, out,
			         want);
	}
	free(out);
	free(b);
}

#define EDIT(o, l, t) { { (o), (l) }, (t), sizeof(t) - 1 }

static void test_splice(void **state)
{
	(void)state;
	const char *t = "{\"id\":\"abc\",\"method\":\"m\",\"params\":{\"_meta\":"
	                "{\"progressToken\":7}}}";

	splice_is(t, NULL, 0, t);
	splice_is("", NULL, 0, "");

	struct jrpc_msg m;
	assert_int_equal(scan(t, &m), JRPC_REQUEST);
	struct jrpc_edit one[] = {
		{ m.id, "42", 2 },
	};
	splice_is(t, one, 1, "{\"id\":42,\"method\":\"m\",\"params\":{\"_meta\":"
	          "{\"progressToken\":7}}}");

	/* Three edits, last first. */
	struct jrpc_edit three[] = {
		{ m.meta_progress, "\"t-1\"", 5 },
		{ m.method, "\"tools/list\"", 12 },
		{ m.id, "1", 1 },
	};
	splice_is(t, three, 3, "{\"id\":1,\"method\":\"tools/list\",\"params\":"
	          "{\"_meta\":{\"progressToken\":\"t-1\"}}}");
	/* The same, in order. */
	struct jrpc_edit fwd[] = { three[2], three[1], three[0] };
	splice_is(t, fwd, 3, "{\"id\":1,\"method\":\"tools/list\",\"params\":"
	          "{\"_meta\":{\"progressToken\":\"t-1\"}}}");

	/* Edges, adjacency, deletions and insertions. */
	struct jrpc_edit edges[] = {
		EDIT(5, 1, "E"), EDIT(0, 2, "AB"), EDIT(2, 3, ""),
	};
	splice_is("012345", edges, 3, "ABE");
	struct jrpc_edit whole[] = { EDIT(0, 6, "x") };
	splice_is("012345", whole, 1, "x");
	struct jrpc_edit ins[] = {
		EDIT(6, 0, ">"), EDIT(0, 0, "<"), EDIT(3, 0, "a"), EDIT(3, 0, "b"),
		EDIT(3, 1, "_"),
	};
	splice_is("012345", ins, 5, "<012ab_45>");
	/* Insertions go before a replacement at their offset, whatever the
	 * order given. */
	struct jrpc_edit ins2[] = {
		EDIT(3, 1, "_"), EDIT(3, 0, "a"), EDIT(6, 0, ">"), EDIT(3, 0, "b"),
	};
	splice_is("012345", ins2, 4, "012ab_45>");
	struct jrpc_edit del[] = { { { 1, 4 }, NULL, 0 } };
	splice_is("012345", del, 1, "05");
	struct jrpc_edit grow[] = { EDIT(0, 0, "0123456789"), EDIT(1, 1, "") };
	splice_is("ab", grow, 2, "0123456789a");

	/* Overlapping or outside: refused. */
	struct jrpc_edit overlap[] = { EDIT(3, 2, "x"), EDIT(1, 3, "y") };
	splice_is("012345", overlap, 2, NULL);
	struct jrpc_edit inside[] = { EDIT(1, 3, "x"), EDIT(2, 0, "y") };
	splice_is("012345", inside, 2, NULL);
	struct jrpc_edit same[] = { EDIT(1, 1, "x"), EDIT(1, 1, "y") };
	splice_is("012345", same, 2, NULL);
	struct jrpc_edit past[] = { EDIT(5, 2, "x") };
	splice_is("012345", past, 1, NULL);
	struct jrpc_edit far[] = { EDIT(7, 0, "x") };
	splice_is("012345", far, 1, NULL);
	struct jrpc_edit wrap[] = { EDIT(2, SIZE_MAX, "x") };
	splice_is("012345", wrap, 1, NULL);
	struct jrpc_edit wrap2[] = { EDIT(SIZE_MAX, 2, "x") };
	splice_is("012345", wrap2, 1, NULL);
	/* A result whose size would not fit in a size_t. */
	struct jrpc_edit huge[] = {
		{ { 0, 0 }, "x", SIZE_MAX }, { { 1, 0 }, "y", SIZE_MAX },
	};
	splice_is("012345", huge, 2, NULL);
}

/* A 10 MB response and a 10 MB request, scanned whole. */
static void test_big(void **state)
{
	(void)state;
	const size_t big = 10u << 20;
	const char *head = "{\"jsonrpc\":\"2.0\",\"id\":\"r\\u0031\",\"result\":"
	                   "{\"content\":[{\"type\":\"text\",\"text\":\"";
	const char *tail = "\"}],\"n\":[";
	size_t hl = strlen(head), tl = strlen(tail);
	char *b = malloc(hl + big + tl + big + 64);
	assert_non_null(b);
	size_t o = 0;
	memcpy(b + o, head, hl);
	o += hl;
	size_t text0 = o;
	/* Text with an escape now and then, and bytes >= 0x80. */
	for (size_t k = 0; k < big; k++) {
		if (k % 1000 == 998) {
			memcpy(b + o, "\\n", 2);
			o += 2;
			k++;
		} else {
			b[o++] = k % 7 == 0 ? (char)0xc3 : (char)('a' + k % 26);
		}
	}
	size_t text1 = o;
	memcpy(b + o, tail, tl);
	o += tl;
	/* Then many small values. */
	while (o < hl + big + tl + big) {
		memcpy(b + o, "-1.5e3,[true],{},", 17);
		o += 17;
	}
	memcpy(b + o, "null]}}", 7);
	o += 7;

	struct jrpc_msg m;
	assert_int_equal(jrpc_scan(b, o, &m), JRPC_RESPONSE);
	assert_true(jrpc_str_eq(b, m.id, "r1"));
	assert_int_equal(m.result.off, hl - strlen("{\"content\":[{\"type\":"
	                                          "\"text\",\"text\":\""));
	assert_int_equal(m.result.off + m.result.len, o - 1);
	assert_true(text1 > text0 + big - 1);
	/* Broken at its very end: still noticed. */
	assert_int_equal(jrpc_scan(b, o - 1, &m), JRPC_PARSE_ERROR);
	b[o - 3] = ',';
	assert_int_equal(jrpc_scan(b, o, &m), JRPC_PARSE_ERROR);
	b[o - 3] = ']';

	/* A request whose params hold a 10 MB string, its token after it. */
	const char *rh = "{\"id\":9,\"method\":\"tools/call\",\"params\":{\"a\":\"";
	const char *rt = "\",\"_meta\":{\"progressToken\":\"pt\"}}}";
	size_t rhl = strlen(rh), rtl = strlen(rt);
	memcpy(b, rh, rhl);
	memset(b + rhl, 'x', big);
	memcpy(b + rhl + big, rt, rtl);
	o = rhl + big + rtl;
	assert_int_equal(jrpc_scan(b, o, &m), JRPC_REQUEST);
	assert_int_equal(m.meta_progress.off,
	                 rhl + big + (size_t)(strstr(rt, "\"pt\"") - rt));
	assert_true(jrpc_str_eq(b, m.meta_progress, "pt"));
	assert_int_equal(m.params.len, o - 1 - m.params.off);
	/* A 10 MB key at the top is compared in a few bytes. */
	b[0] = '{';
	b[1] = '"';
	memset(b + 2, 'i', big);
	memcpy(b + 2 + big, "\":1,\"method\":\"a\"}", 17);
	assert_int_equal(jrpc_scan(b, big + 19, &m), JRPC_NOTIFICATION);
	char *s = jrpc_str(b, (struct jspan){ 1, big + 2 });
	assert_non_null(s);
	assert_int_equal(strlen(s), big);
	free(s);
	free(b);
}

/* --- random mutations --- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static size_t rnd(size_t n)
{
	return (size_t)(xorshift() % n);
}

static void test_mutations(void **state)
{
	(void)state;
	static const char *const seeds[] = {
		("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
		 "{\"name\":\"echo\",\"arguments\":{\"x\":[1,2.5,-3e2,true,null]},"
		 "\"_meta\":{\"progressToken\":\"p\\u0031\"}}}"),
		("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"content\":"
		 "[{\"type\":\"text\",\"text\":\"h\\u00e9llo\\n\"}],\"isError\":false}}"),
		("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
		 "{\"progressToken\":7,\"progress\":0.5,\"total\":1}}"),
		("{\"jsonrpc\":\"2.0\",\"id\":-0,\"error\":{\"code\":-32601,"
		 "\"message\":\"nope\",\"data\":null}}"),
		(" {\"method\":\"resources/subscribe\",\"id\":{\"k\":[]},\"params\":"
		 "{\"uri\":\"file:\\/\\/x\",\"level\":\"info\",\"requestId\":3}}\r\n"),
		"[{\"id\":1,\"method\":\"a\"},{\"id\":2,\"result\":{}}]",
	};
	static const char pieces[] = "{}[]\",:\\0123456789-+.eEtrufalsn \t\r\nu";
	enum { ROUNDS = 20000, MAXLEN = 512 };
	char work[MAXLEN];
	size_t counts[JRPC_RESPONSE + 1] = { 0 };

	for (int r = 0; r < ROUNDS; r++) {
		const char *seed = seeds[rnd(sizeof(seeds) / sizeof(seeds[0]))];
		size_t len = strlen(seed);
		memcpy(work, seed, len);
		for (size_t nm = 1 + rnd(3); nm > 0; nm--) {
			size_t at = len ? rnd(len) : 0;
			switch (rnd(6)) {
			case 0: /* replace with a JSON-ish byte */
				if (len)
					work[at] = pieces[rnd(sizeof(pieces) - 1)];
				break;
			case 1: /* replace with any byte */
				if (len)
					work[at] = (char)rnd(256);
				break;
			case 2: /* insert */
				if (len < MAXLEN) {
					memmove(work + at + 1, work + at, len - at);
					work[at] = pieces[rnd(sizeof(pieces) - 1)];
					len++;
				}
				break;
			case 3: /* delete */
				if (len) {
					memmove(work + at, work + at + 1, len - at - 1);
					len--;
				}
				break;
			case 4: /* truncate */
				len = at;
				break;
			default: { /* copy a chunk elsewhere */
				size_t from = len ? rnd(len) : 0;
				size_t n = len ? rnd(len - from + 1) : 0;
				if (n > 16)
					n = 16;
				if (len + n <= MAXLEN) {
					char tmp[16];
					memcpy(tmp, work + from, n);
					memmove(work + at + n, work + at, len - at);
					memcpy(work + at, tmp, n);
					len += n;
				}
				break;
			}
			}
		}
		/* Exactly LEN bytes, so that ASan sees a read past them. */
		char *b = malloc(len ? len : 1);
		assert_non_null(b);
		memcpy(b, work, len);
		struct jrpc_msg m;
		char *why = oracle_jrpc(b, len, &m);
		if (why)
			fail_msg("%s", why);
		counts[m.kind]++;
		free(b);
	}
	/* The mutations reached every kind. */
	for (int k = 0; k <= JRPC_RESPONSE; k++)
		if (counts[k] == 0)
			fail_msg("no mutation scanned as %s", kind_name((enum jrpc_kind)k));
}

static int teardown(void **state)
{
	(void)state;
	free(held);
	held = NULL;
	held_len = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_id_spans),
		cmocka_unit_test(test_escaped_keys),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_meta_2026),
		cmocka_unit_test(test_str_eq),
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
