/* Unit tests for config.c: what `tend check` prints loads back to the same
 * settings.  Each case here is an input the fuzzer (fuzz/fuzz_config.c)
 * found that broke that once; the input is also in fuzz/corpus/config/. */
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
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
