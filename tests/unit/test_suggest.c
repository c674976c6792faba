/* Unit tests for suggest.c: the distance, the bound, the nearest name,
 * and the tables of other supervisors' spellings (that they name tend's
 * keys is checked by test_config.c, which knows the keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suggest.h"

static void test_distance(void **state)
{
	(void)state;
	struct { const char *a, *b; size_t d; } cases[] = {
		{ "", "", 0 },
		{ "abc", "abc", 0 },
		{ "", "abc", 3 },
		{ "memory_max", "memory-max", 0 },   /* '_' is '-' */
		{ "Memory-Max", "memory-max", 0 },   /* case folded */
		{ "memorymax", "memory-max", 1 },    /* an insertion */
		{ "restrat", "restart", 1 },         /* a swap of neighbours */
		{ "exce", "exec", 1 },
		{ "on-failur", "on-failure", 1 },
		{ "kitten", "sitting", 3 },
		{ "ca", "abc", 3 },                  /* optimal string alignment */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t d = suggest_distance(cases[i].a, cases[i].b, 10);
		if (d != cases[i].d)
			fail_msg("%s / %s: %zu, want %zu", cases[i].a, cases[i].b, d,
			         cases[i].d);
		/* symmetric */
		assert_int_equal(suggest_distance(cases[i].b, cases[i].a, 10), d);
	}
	/* Counting stops above MAX. */
	assert_int_equal(suggest_distance("abcdef", "uvwxyz", 2), 3);
	assert_int_equal(suggest_distance("a", "abcdefgh", 2), 3);
	/* Names longer than any key are never near. */
	char longer[100];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(suggest_distance(longer, longer, 3), 4);
}

static void test_bound(void **state)
{
	(void)state;
	assert_int_equal(suggest_bound(""), 0);
	assert_int_equal(suggest_bound("a"), 0);
	assert_int_equal(suggest_bound("ab"), 1);
	assert_int_equal(suggest_bound("abcd"), 1);
	assert_int_equal(suggest_bound("abcde"), 2);
	assert_int_equal(suggest_bound("abcdefgh"), 2);
	assert_int_equal(suggest_bound("abcdefghi"), 3);
	assert_int_equal(suggest_bound("memory_max"), 3);
}

static void test_near(void **state)
{
	(void)state;
	const char *const keys[] = { "exec", "env", "cwd", "restart", "memory-max",
	                             "memory-warn", "stop-signal", NULL };
	assert_string_equal(suggest_near("memory_max", keys), "memory-max");
	assert_string_equal(suggest_near("memorymax", keys), "memory-max");
	assert_string_equal(suggest_near("MEMORY-MAX", keys), "memory-max");
	assert_string_equal(suggest_near("restrat", keys), "restart");
	assert_string_equal(suggest_near("exce", keys), "exec");
	assert_string_equal(suggest_near("stopsignal", keys), "stop-signal");
	/* nothing near */
	assert_null(suggest_near("foo", keys));
	assert_null(suggest_near("restart_delay", keys));
	assert_null(suggest_near("", keys));
	assert_null(suggest_near("x", keys));
	/* the nearest wins, the first of equals */
	const char *const two[] = { "abcd", "abce", "abcx", NULL };
	assert_string_equal(suggest_near("abce", two), "abce");
	assert_string_equal(suggest_near("abcz", two), "abcd");
}

static void test_key_hints(void **state)
{
	(void)state;
	const struct suggest_hint *h = suggest_key_hint("ExecStart", false);
	assert_non_null(h);
	assert_string_equal(h->origin, "systemd");
	assert_string_equal(h->key, "exec");
	/* folded only when asked to */
	assert_null(suggest_key_hint("exec_start", false));
	h = suggest_key_hint("exec_start", true);
	assert_non_null(h);
	assert_string_equal(h->name, "ExecStart");
	/* the exact spelling first: supervisord's user, systemd's User */
	assert_string_equal(suggest_key_hint("user", false)->origin, "supervisord");
	assert_string_equal(suggest_key_hint("User", false)->origin, "systemd");
	struct { const char *name, *key; } want[] = {
		{ "command", "exec" }, { "autorestart", "restart" },
		{ "startsecs", "stable-after" }, { "directory", "cwd" },
		{ "environment", "env" }, { "Restart", "restart" },
		{ "RestartSec", "backoff" }, { "MemoryMax", "memory-max" },
		{ "WorkingDirectory", "cwd" }, { "Environment", "env" },
		{ "EnvironmentFile", "env-file" }, { "restart_delay", "backoff" },
		{ "stopasgroup", NULL },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		h = suggest_key_hint(want[i].name, false);
		if (!h)
			fail_msg("no hint for %s", want[i].name);
		if (want[i].key)
			assert_string_equal(h->key, want[i].key);
		else
			assert_null(h->key);
	}
	assert_null(suggest_key_hint("nope", true));
	/* Every entry: a known origin, advice, a name spelled once. */
	for (const struct suggest_hint *a = suggest_key_hints; a->name; a++) {
		assert_true(strcmp(a->origin, "supervisord") == 0 ||
		            strcmp(a->origin, "systemd") == 0 ||
		            strcmp(a->origin, "pm2") == 0);
		assert_true(strlen(a->advice) > 10);
		assert_null(strchr(a->advice, '%'));
		for (const struct suggest_hint *b = a + 1; b->name; b++)
			if (strcmp(a->name, b->name) == 0)
				fail_msg("%s twice", a->name);
	}
}

static void test_section_hints(void **state)
{
	(void)state;
	char *unit = NULL;
	const struct suggest_hint *h = suggest_section_hint("program:web", &unit);
	assert_non_null(h);
	assert_string_equal(h->origin, "supervisord");
	assert_string_equal(h->key, "service");
	assert_string_equal(unit, "web");
	assert_non_null(strstr(h->advice, "[service %s]"));
	free(unit);
	h = suggest_section_hint("program:", &unit);
	assert_string_equal(unit, "NAME");
	free(unit);
	h = suggest_section_hint("Service", &unit);
	assert_non_null(h);
	assert_string_equal(h->origin, "systemd");
	assert_string_equal(h->key, "service");
	assert_null(unit);
	h = suggest_section_hint("supervisord", &unit);
	assert_string_equal(h->key, "tend");
	assert_non_null(suggest_section_hint("Install", &unit));
	assert_null(suggest_section_hint("frobs", &unit));
	assert_null(suggest_section_hint("service web", &unit));
	assert_null(unit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_near),
		cmocka_unit_test(test_key_hints),
		cmocka_unit_test(test_section_hints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
