/* Unit tests for messages of several lines (every error of a file):
 * lines_clean, errline's "tend: " before each line, and the reload's
 * reply_err_lines beside reply_err, which stays one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "reply.h"
#include "util.h"

static void test_lines_clean(void **state)
{
	(void)state;
	struct { const char *in, *out; } cases[] = {
		{ "", "" },
		{ "one", "one" },
		{ "a\nb", "a\nb" },
		{ "a\nb\n", "a\nb" },            /* a final newline dropped */
		{ "a\n\nb", "a\n\nb" },
		{ "a\x1b[1m\r\nb\x7f\xff", "a?[1m?\nb??" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = lines_clean(cases[i].in);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

/* What errline writes for MSG. */
static char *errline_of(const char *msg)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(p[1], 2) >= 0);
	errline("%s", msg);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	close(p[1]);
	char buf[4096];
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n >= 0);
	buf[n] = '\0';
	return strdup(buf);
}

static void test_errline_lines(void **state)
{
	(void)state;
	char *s = errline_of("f:1: one");
	assert_string_equal(s, "tend: f:1: one\n");
	free(s);
	s = errline_of("f:1: one\nf:3: two\x1b\nf: and 2 more errors\n");
	assert_string_equal(s, "tend: f:1: one\ntend: f:3: two?\n"
	                       "tend: f: and 2 more errors\n");
	free(s);
	s = errline_of("");
	assert_string_equal(s, "tend: \n");
	free(s);
}

static const char *error_of(const char *reply)
{
	static char text[256];
	json_t *o = json_loads(reply, 0, NULL);
	assert_non_null(o);
	snprintf(text, sizeof(text), "%s",
	         json_string_value(json_object_get(o, "error")));
	json_decref(o);
	return text;
}

static void test_reply_err_lines(void **state)
{
	(void)state;
	char *r = reply_err_lines(2, "reload: %s; stay", "f:1: a\nf:2: b\x01");
	assert_string_equal(error_of(r), "reload: f:1: a\nf:2: b?; stay");
	free(r);
	r = reply_err(2, "reload: %s; stay", "f:1: a\nf:2: b");
	assert_string_equal(error_of(r), "reload: f:1: a?f:2: b; stay");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_clean),
		cmocka_unit_test(test_errline_lines),
		cmocka_unit_test(test_reply_err_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
