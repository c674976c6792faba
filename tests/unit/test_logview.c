/* Unit tests for logview.c: the stored stamp of a line, --since,
 * --timestamps' local time, and when and how labels are coloured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "logview.h"
#include "util.h"

/* 2026-11-23T10:00:00Z */
#define T0 ((int64_t)1795428000 * 1000)

static void test_stamp(void **state)
{
	(void)state;
	int64_t ms;
	const char *l = "2026-11-23T10:00:00.123Z hello";
	assert_int_equal(logview_stamp(l, strlen(l), &ms), 0);
	assert_int_equal(ms, T0 + 123);
	static const char *const bad[] = {
		"2026-11-23T10:00:00.123Zhello", "2026-11-23 10:00:00.123Z x",
		"2026-11-23T10:00:00.12xZ x", "hello", "", "2026-11-23T10:00:00Z x",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(logview_stamp(bad[i], strlen(bad[i]), &ms), -1);
}

static void test_local(void **state)
{
	(void)state;
	char b[40];
	setenv("TZ", "UTC0", 1);
	tzset();
	assert_string_equal(logview_local(T0 + 7, b), "2026-11-23T10:00:00.007+00:00");
	setenv("TZ", "CET-1", 1);   /* +01:00 (POSIX TZ: no tzdata needed) */
	tzset();
	assert_string_equal(logview_local(T0 + 999, b), "2026-11-23T11:00:00.999+01:00");
	setenv("TZ", "NST3:30", 1);   /* -03:30 */
	tzset();
	assert_string_equal(logview_local(T0, b), "2026-11-23T06:30:00.000-03:30");
}

static void test_since(void **state)
{
	(void)state;
	setenv("TZ", "CET-1", 1);
	tzset();
	int64_t now = T0 + 500, ms;
	const char *why;
	static const struct { const char *s; int64_t want; } ok[] = {
		{ "10m", T0 + 500 - 600000 },
		{ "2h", T0 + 500 - 7200000 },
		{ "1d", T0 + 500 - 86400000 },
		{ "1h30m", T0 + 500 - 5400000 },
		{ "30s", T0 + 500 - 30000 },
		{ "2026-11-23T10:00:00Z", T0 },
		{ "2026-11-23T10:00Z", T0 },
		{ "2026-11-23T11:00:00+01:00", T0 },
		{ "2026-11-23T05:00-0500", T0 },
		{ "2026-11-23T11:00", T0 },              /* local: +01:00 */
		{ "2026-11-23 11:00:00", T0 },
		{ "2026-11-23T11:00:00.250", T0 + 250 },
		{ "2026-11-23", T0 - 11 * 3600000LL },    /* local midnight */
		{ "11:00", T0 },                           /* today, local */
		{ "10:59:30", T0 - 30000 },
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		if (logview_since(ok[i].s, now, &ms, &why) < 0)
			fail_msg("%s refused", ok[i].s);
		if (ms != ok[i].want)
			fail_msg("%s: got %lld, want %lld", ok[i].s, (long long)ms,
			         (long long)ok[i].want);
	}
	static const char *const bad[] = {
		"", "yesterday", "10", "10x", "-5m", "25:00", "11:60", "2026-13-01",
		"2026-11-23X11:00", "11:00Z", "2026-11-23T11", "1:00", "11:00:00.5",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (logview_since(bad[i], now, &ms, &why) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
		else
			assert_non_null(strstr(why, "duration"));
}

static void test_colour(void **state)
{
	(void)state;
	enum logview_when w;
	assert_int_equal(logview_when("auto", &w), 0);
	assert_int_equal(w, COLOR_AUTO);
	assert_int_equal(logview_when("always", &w), 0);
	assert_int_equal(w, COLOR_ALWAYS);
	assert_int_equal(logview_when("never", &w), 0);
	assert_int_equal(w, COLOR_NEVER);
	assert_int_equal(logview_when("yes", &w), -1);
	/* auto: a terminal, and NO_COLOR unset or empty */
	assert_true(logview_colour(COLOR_AUTO, true, NULL));
	assert_true(logview_colour(COLOR_AUTO, true, ""));
	assert_false(logview_colour(COLOR_AUTO, true, "1"));
	assert_false(logview_colour(COLOR_AUTO, false, NULL));
	assert_true(logview_colour(COLOR_ALWAYS, false, "1"));
	assert_false(logview_colour(COLOR_NEVER, true, NULL));
	/* a stable colour per name, an SGR sequence, not red; names differ */
	const char *a = logview_label_colour("web");
	assert_ptr_equal(a, logview_label_colour("web"));
	assert_true(a[0] == '\033' && a[1] == '[' && a[strlen(a) - 1] == 'm');
	static const char *const names[] = { "web", "db", "idx-a", "idx-b",
	                                     "worker1", "worker2", "api", "mcp" };
	size_t distinct = 0;
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		const char *c = logview_label_colour(names[i]);
		assert_true(strcmp(c, "\033[31m") != 0 && strcmp(c, "\033[91m") != 0);
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen = seen || logview_label_colour(names[k]) == c;
		distinct += !seen;
	}
	assert_true(distinct >= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_colour),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
