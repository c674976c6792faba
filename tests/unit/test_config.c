/* Unit tests for config.c: what `tend check` prints loads back to the same
 * settings (the first case is an input the fuzzer, fuzz/fuzz_config.c,
 * found that broke that once; the input is also in fuzz/corpus/config/),
 * and the table of value types: each type reads and prints its syntax,
 * which keys repeat, which errors get the advice on quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char dir[] = "/tmp/tend-test-config-XXXXXX";
static char path[sizeof(dir) + 16];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct tend_config *load(const char *text)
{
	write_file(text);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (!cfg)
		fail_msg("%s", err);
	return cfg;
}

/* TEXT is refused: the error line. */
static char *load_error(const char *text)
{
	write_file(text);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (cfg)
		fail_msg("loaded: %s", text);
	assert_non_null(err);
	return err;
}

/* The error of TEXT, after "FILE:LINE: ", is WANT. */
static void assert_refused(const char *text, const char *want)
{
	char *err = load_error(text);
	const char *at = strstr(err, "tend.ini:");
	assert_non_null(at);
	at = strchr(at + strlen("tend.ini:"), ' ');
	assert_non_null(at);
	assert_string_equal(at + 1, want);
	free(err);
}

static char *print(const struct tend_config *cfg)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	assert_non_null(f);
	config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

/* TEXT loads; what check prints loads to equal units and prints the same.
 * Returns the printed text. */
static char *roundtrip(const char *text)
{
	struct tend_config *a = load(text);
	char *once = print(a);
	struct tend_config *b = load(once);
	assert_int_equal(a->nunits, b->nunits);
	for (size_t i = 0; i < a->nunits; i++)
		if (!config_unit_equal(a->units[i], b->units[i]))
			fail_msg("unit %s changed on the way back:\n%s",
			         a->units[i]->name, once);
	char *twice = print(b);
	assert_string_equal(once, twice);
	free(twice);
	config_free(a);
	config_free(b);
	return once;
}

/* watch-ignore emptied (its default is .git) used to print as a comment,
 * which loads back as the default. */
static void test_emptied_list_prints_empty(void **state)
{
	(void)state;
	char *s = roundtrip("[service x]\nexec = a\nwatch-ignore =\n");
	assert_non_null(strstr(s, "\nwatch-ignore =\n"));
	free(s);
	s = roundtrip("[service x]\nexec = a\n");
	assert_non_null(strstr(s, "\nwatch-ignore = .git\n"));
	free(s);
}

/* One key of each value type, set to what is not its default, prints as
 * tend check has always printed it and loads back the same. */
static void test_every_value_type_prints_what_it_read(void **state)
{
	(void)state;
	char *s = roundtrip(
		"[tend]\nlog-max = 20M\nmemory-interval = 500ms\nmax-jobs = 3\n"
		"[service web]\n"
		"exec = \"/bin/my prog\" -x\n"            /* argv */
		"cwd = \"/tmp/some dir\"\n"                /* path */
		"env = A=1 B_2=\"x y\"\nenv = C=3\n"       /* env */
		"start = on-demand\n"                      /* enum */
		"success-codes = 3 0 TERM\n"               /* codes */
		"backoff = 200ms..1m\n"                    /* range */
		"max-crashes = 3/1m\n"                     /* rate */
		"stop-signal = INT\n"                      /* signal */
		"memory-max = 1G\n"                        /* optional size */
		"memory-warn = 70%\n"                      /* percent */
		"health = tcp:127.0.0.1:80\n"              /* probe */
		"health-strikes = 5\n"                     /* uint */
		"start-timeout = none\n"                   /* optional duration */
		"listen = tcp:127.0.0.1:8080\nlisten = unix:/tmp/x.sock\n"
		"listen-mode = 0660\n"                     /* mode */
		"backend = tcp:127.0.0.1:9090\n"           /* optional address */
		"watch = a b\n"                            /* paths */
		"watch-ignore = '*.o' tmp\n"               /* words */
		"[job j]\nexec = true\ntimeout = 90s\nevery = 5m\n");
	const char *want[] = {
		"\nlog-max = 20M\n", "\nmemory-interval = 500ms\n", "\nmax-jobs = 3\n",
		"\nexec = '/bin/my prog' -x\n", "\ncwd = '/tmp/some dir'\n",
		"\nenv = A=1\nenv = 'B_2=x y'\nenv = C=3\n", "\nstart = on-demand\n",
		"\nrestart = on-failure\n", "\nsuccess-codes = 0 3 TERM\n",
		"\nbackoff = 200ms..1m\n", "\nmax-crashes = 3/1m\n",
		"\nstop-signal = INT\n", "\nstop-timeout = 10s\n",
		"\nmemory-max = 1G\n", "\nmemory-warn = 70%\n",
		"\nhealth = tcp:127.0.0.1:80\n", "\nhealth-strikes = 5\n",
		"\nstart-timeout = none\n", "\nwatchdog = none\n",
		"\nlisten = tcp:127.0.0.1:8080\nlisten = unix:/tmp/x.sock\n",
		"\nlisten-mode = 0660\n", "\nbackend = tcp:127.0.0.1:9090\n",
		"\nwatch = '/tmp/some dir/a' '/tmp/some dir/b'\n",
		"\nwatch-ignore = '*.o' tmp\n", "\n; env-ignore: none\n",
		"\ntimeout = 1m30s\n", "\nevery = 5m\n", "\nmemory-max = none\n",
		"\n; cwd: the daemon's working directory\n", "\n; env: none\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(s, want[i]))
			fail_msg("no \"%s\" in:\n%s", want[i], s);
	free(s);
}

/* env takes KEY=VALUE words only, KEY letters, digits and _, not first a
 * digit; a bad word anywhere refuses the line. */
static void test_env_needs_key_value(void **state)
{
	(void)state;
	char *s = roundtrip("[service x]\nexec = a\nenv = _A1=x b=\n");
	assert_non_null(strstr(s, "\nenv = _A1=x\nenv = b=\n"));
	free(s);
	assert_refused("[service x]\nexec = a\nenv = A=1 1A=b\n",
	               "env = A=1 1A=b: \"1A=b\" is not KEY=VALUE; quote and "
	               "escape as in a shell");
	assert_refused("[service x]\nexec = a\nenv = A-B=c\n",
	               "env = A-B=c: \"A-B=c\" is not KEY=VALUE; quote and "
	               "escape as in a shell");
	assert_refused("[service x]\nexec = a\nenv = =x\n",
	               "env = =x: \"=x\" is not KEY=VALUE; quote and escape as "
	               "in a shell");
	assert_refused("[service x]\nexec = a\nenv = NOVALUE\n",
	               "env = NOVALUE: \"NOVALUE\" is not KEY=VALUE; quote and "
	               "escape as in a shell");
}

/* Lists add a line at a time (the first replaces the default); any other
 * key is set once. */
static void test_which_keys_repeat(void **state)
{
	(void)state;
	char *s = roundtrip("[service x]\nexec = a\nwatch-ignore = b\n"
	                    "watch-ignore = c\nwatch = d\nwatch = e\n");
	assert_non_null(strstr(s, "\nwatch-ignore = b c\n"));
	assert_non_null(strstr(s, "\nwatch = "));
	free(s);
	assert_refused("[service x]\nexec = a\nstop-signal = INT\n"
	               "stop-signal = TERM\n",
	               "key \"stop-signal\" is set twice (first at line 3); "
	               "keep one");
	assert_refused("[service x]\nexec = a\nexec = b\n",
	               "key \"exec\" is set twice (first at line 2); keep one");
}

/* Only values split like a shell's get the advice on quoting, and only
 * when the reason has none of its own; each type says what it expects. */
static void test_errors_of_each_type(void **state)
{
	(void)state;
	assert_refused("[service x]\nexec = \"abc\n",
	               "exec = \"abc: unterminated double quote; quote and "
	               "escape as in a shell");
	assert_refused("[service x]\nexec =\n",
	               "exec = : the command is empty; quote and escape as in a "
	               "shell");
	assert_refused("[service x]\nexec = a\ncwd = /a b\n",
	               "cwd = /a b: expected one word, got 2; quote or escape "
	               "the blanks");
	assert_refused("[service x]\nexec = a\nhealth-interval = 0\n",
	               "health-interval = 0: must be at least 10ms (a period of "
	               "0 would spin)");
	assert_refused("[service x]\nexec = a\nsuccess-codes = 300\n",
	               "success-codes = 300: \"300\" is neither an exit code "
	               "0..255 nor a signal name");
	assert_refused("[service x]\nexec = a\nstart = later\n",
	               "start = later: expected boot | on-demand");
	char *err = load_error("[service x]\nexec = a\nstop-signal = NOPE\n");
	assert_non_null(strstr(err, "stop-signal = NOPE: expected a signal"));
	assert_null(strstr(err, "quote and escape"));
	free(err);
	err = load_error("[service x]\nexec = a\nlisten = nowhere\n");
	assert_non_null(strstr(err, "listen = nowhere: "));
	assert_null(strstr(err, "quote and escape"));
	free(err);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/tend.ini", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emptied_list_prints_empty),
		cmocka_unit_test(test_every_value_type_prints_what_it_read),
		cmocka_unit_test(test_env_needs_key_value),
		cmocka_unit_test(test_which_keys_repeat),
		cmocka_unit_test(test_errors_of_each_type),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
