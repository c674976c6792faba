/* Unit tests for status_view.c's pure pieces: columns of UTF-8 text,
 * cutting with an ellipsis (never inside a character), ages, the state
 * shown and the last column of a unit's row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "status_view.h"
#include "util.h"

static void test_cols_and_cut(void **state)
{
	(void)state;
	assert_int_equal(text_cols(""), 0);
	assert_int_equal(text_cols("abc"), 3);
	assert_int_equal(text_cols("caf\xc3\xa9 \xe2\x96\x81"), 6);
	setenv("LANG", "C.UTF-8", 1);
	unsetenv("LC_ALL");
	unsetenv("LC_CTYPE");
	char *c = text_cut("abcdef", 6);
	assert_string_equal(c, "abcdef");
	free(c);
	c = text_cut("abcdefgh", 5);
	assert_string_equal(c, "abcd\xe2\x80\xa6");   /* 4 + the ellipsis */
	assert_int_equal(text_cols(c), 5);
	free(c);
	/* a cut never splits a character */
	c = text_cut("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3);
	assert_string_equal(c, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	free(c);
	c = text_cut("abc", 0);
	assert_string_equal(c, "");
	free(c);
	/* no UTF-8 locale: three dots */
	setenv("LANG", "C", 1);
	c = text_cut("abcdefgh", 5);
	assert_string_equal(c, "ab...");
	free(c);
	c = text_cut("abcdefgh", 2);
	assert_string_equal(c, "..");
	free(c);
	/* LC_ALL wins over LANG */
	setenv("LC_ALL", "en_US.utf8", 1);
	c = text_cut("abcdefgh", 5);
	assert_string_equal(c, "abcd\xe2\x80\xa6");
	free(c);
	unsetenv("LC_ALL");
}

static void test_age(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(status_age(0, b), "0s");
	assert_string_equal(status_age(59999, b), "59s");
	assert_string_equal(status_age(61000, b), "1m1s");
	assert_string_equal(status_age(3 * 3600000 + 120000, b), "3h2m");
	assert_string_equal(status_age(2 * 86400000ULL + 3600000, b), "2d1h");
}

static void test_width(void **state)
{
	(void)state;
	setenv("COLUMNS", "77", 1);
	assert_int_equal(status_width(), 77);
	setenv("COLUMNS", "x", 1);   /* not a number: as if unset */
	size_t w = status_width();
	assert_true(w == 0 || isatty(1));
	unsetenv("COLUMNS");
}

static void test_state_and_why(void **state)
{
	(void)state;
	json_t *u = json_pack("{s:s, s:s, s:s}", "state", "backoff", "reason",
	                      "no-fds", "reason_text", "not started: x");
	assert_string_equal(status_state_shown(u), "waiting");
	char *w = status_why_text(u);
	assert_string_equal(w, "not started: x");
	free(w);
	json_decref(u);
	/* up: the last exit, with its age */
	uint64_t at = wall_ms() - 125000;
	u = json_pack("{s:s, s:n, s:n, s:{s:s, s:i, s:n, s:I}}", "state", "running",
	              "reason", "reason_text", "last_exit", "reason", "crash",
	              "code", 3, "signal", "at", (json_int_t)at);
	assert_string_equal(status_state_shown(u), "running");
	w = status_why_text(u);
	assert_string_equal(w, "crash (code 3), 2m5s ago");
	free(w);
	json_decref(u);
	/* idle-stopped: an age without a comma; never up: no age, "-" */
	u = json_pack("{s:s, s:s, s:s, s:{s:s, s:n, s:s, s:I}}", "state", "idle",
	              "reason", "idle", "reason_text", "idle-stopped", "last_exit",
	              "reason", "stopped", "code", "signal", "TERM", "at",
	              (json_int_t)(wall_ms() - 180000));
	w = status_why_text(u);
	assert_string_equal(w, "idle-stopped 3m0s ago");
	free(w);
	json_decref(u);
	u = json_pack("{s:s, s:n, s:n}", "state", "running", "reason", "last_exit");
	w = status_why_text(u);
	assert_string_equal(w, "-");
	free(w);
	json_decref(u);
}

/* What status_show printed for LINE: jansson's JSON_INDENT(2) of
 * {"version", "daemon", "units"}, and a newline. */
static char *as_jansson(const char *line)
{
	json_error_t e;
	json_t *r = json_loads(line, 0, &e);
	assert_non_null(r);
	json_t *out = json_pack("{s:O, s:O, s:O}", "version",
	                        json_object_get(r, "version"), "daemon",
	                        json_object_get(r, "daemon"), "units",
	                        json_object_get(r, "units"));
	char *s = json_dumps(out, JSON_INDENT(2));
	char *l = xasprintf("%s\n", s);
	free(s);
	json_decref(out);
	json_decref(r);
	return l;
}

static void test_print_json_unparsed(void **state)
{
	(void)state;
	const char *same[] = {
		"{\"ok\":true,\"version\":2,\"daemon\":{\"pid\":7,\"keeper\":null},"
		"\"units\":[]}",
		"{\"ok\":true,\"version\":2,\"daemon\":{},\"units\":[{\"name\":"
		"\"a,b:c\",\"t\":\"q\\\"{[\\\\]}\\n\\u0001 h\u00e9llo\",\"n\":-12,"
		"\"h\":{\"ok\":true,\"x\":[]},\"m\":[1,2,3],\"z\":null,"
		"\"f\":false,\"e\":{}},{\"name\":\"b\",\"l\":[[],[{}],\"s\"]}]}",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		struct buf out = { 0 };
		assert_true(status_print_json(same[i], strlen(same[i]), &out));
		char *want = as_jansson(same[i]);
		assert_string_equal(out.s, want);
		free(want);
		free(out.s);
	}
	/* any other shape: nothing written, the caller parses it */
	const char *other[] = {
		"{\"ok\":false,\"error\":\"x\",\"exit\":2}",
		"{\"ok\":true,\"units\":[]}",
		"{\"ok\":true,\"version\":2,\"units\":[],\"daemon\":{}}",
		"{\"ok\":true,\"version\":2,\"daemon\":{},\"units\":[],\"more\":1}",
		"{\"ok\":true,\"version\":2,\"daemon\":{},\"units\":[}",
		"{\"ok\":true,\"version\":2,\"daemon\":{\"a\":\"open},\"units\":[]}",
		"{\"ok\":true, \"version\":2,\"daemon\":{},\"units\":[]}",
		"{\"ok\":true,\"version\":2,\"daemon\":{},\"units\":[]}x",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct buf out = { 0 };
		buf_adds(&out, "kept");
		assert_false(status_print_json(other[i], strlen(other[i]), &out));
		assert_string_equal(out.s, "kept");
		free(out.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cols_and_cut),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_state_and_why),
		cmocka_unit_test(test_print_json_unparsed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
