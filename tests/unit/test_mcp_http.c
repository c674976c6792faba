/* Unit tests for mcp_http.c's pure parts: Origin, the SSE event ids of
 * Last-Event-ID, and MCP 2026-07-28's header value encoding (Mcp-Name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "mcp_http.h"

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
	if (!mcp_http_header_value(h, &v, &len))
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
		if (mcp_http_header_value(bad[i], &v, &len))
			fail_msg("header value \"%s\" taken as \"%s\"", bad[i], v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_header_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
