/* Unit tests of the reload plan: every rule of reload.h on plain data
 * (configurations loaded from text, no units, no processes). */
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
#include "reload.h"
#include "util.h"

/* TEXT as a configuration file, loaded (the file is gone after). */
static struct tend_config *load(const char *text)
{
	char path[] = "/tmp/tend-test-reload-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	unlink(path);
	if (!cfg)
		fail_msg("%s", err);
	return cfg;
}

/* Configurations loaded once for the group: no units; services a and b. */
static struct tend_config *empty, *ab;

/* The running set: CFG's units, each plain (not pending, removed or an
 * instance) until a test says otherwise. */
static struct reload_old *olds(const struct tend_config *cfg)
{
	struct reload_old *o = calloc(cfg->nunits + 1, sizeof(*o));
	assert_non_null(o);
	for (size_t i = 0; i < cfg->nunits; i++)
		o[i].cfg = cfg->units[i];
	return o;
}

/* The plan for O[0..N) and NEXT is WANT: "-I" for each old unit removed,
 * then per new unit "A" (added), "V", "K" or "C" (revived, kept,
 * changed) with the old unit's index, separated by spaces. */
static void expect(const struct reload_old *o, size_t n,
                   const struct tend_config *next, const char *want)
{
	struct reload_plan p;
	reload_plan(o, n, (const struct unit_config *const *)next->units,
	            next->nunits, &p);
	assert_int_equal(p.nsteps, next->nunits);
	char got[256] = "";
	size_t len = 0;
	for (size_t r = 0; r < p.nremove; r++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, " -%zu",
		                        p.remove[r]);
	for (size_t k = 0; k < p.nsteps; k++) {
		const struct reload_step *st = &p.steps[k];
		if (st->op == RELOAD_ADD)
			len += (size_t)snprintf(got + len, sizeof(got) - len, " A");
		else
			len += (size_t)snprintf(got + len, sizeof(got) - len, " %c%zu",
			                        "AVKC"[st->op], st->old);
	}
	assert_string_equal(got + (len > 0), want);
	reload_plan_free(&p);
	assert_null(p.remove);
}

/* A first configuration: everything is added, nothing removed. */
static void test_all_added(void **state)
{
	(void)state;
	expect(NULL, 0, ab, "A A");
	expect(NULL, 0, empty, "");
}

/* Removed in the old order; kept and changed matched by name, in the new
 * order; equal settings written elsewhere are kept. */
static void test_remove_keep_change(void **state)
{
	(void)state;
	struct tend_config *cur = load("[service a]\nexec = a\n"
	                               "[service b]\nexec = b\n"
	                               "[service c]\nexec = c\n"
	                               "[service d]\nexec = d\n");
	struct tend_config *next = load("; moved about\n\n"
	                                "[service b]\nexec = b --new\n"
	                                "[service e]\nexec = e\n"
	                                "[service a]\nexec  =  a\n");
	struct reload_old *o = olds(cur);
	expect(o, 4, next, "-2 -3 C1 A K0");
	expect(o, 4, empty, "-0 -1 -2 -3");
	expect(o, 4, cur, "K0 K1 K2 K3");
	free(o);
	config_free(cur);
	config_free(next);
}

/* Equal settings while new ones wait for the run to end: changed (back),
 * not kept. */
static void test_pending_is_changed(void **state)
{
	(void)state;
	struct reload_old *o = olds(ab);
	expect(o, 2, ab, "K0 K1");
	o[1].pending = true;
	expect(o, 2, ab, "K0 C1");
	free(o);
}

/* A unit removed by an earlier reload is not removed again; named again,
 * it is revived (one name is one instance), with any settings. */
static void test_removed_is_revived(void **state)
{
	(void)state;
	struct tend_config *back = load("[service b]\nexec = b\n"
	                                "[service a]\nexec = a --other\n");
	struct reload_old *o = olds(ab);
	o[0].removed = true;
	expect(o, 2, empty, "-1");
	expect(o, 2, back, "K1 V0");
	free(o);
	config_free(back);
}

/* Instances go with their clients and tend connect's units are no file's:
 * neither is removed; a file's unit of a connect unit's name is added
 * beside it, never matched or revived. */
static void test_instances_and_connect_units(void **state)
{
	(void)state;
	struct unit_config *inst = config_unit_dup(ab->units[0], "a#1");
	struct unit_config *conn = config_unit_dup(ab->units[1], "b");
	conn->connect_key = xstrdup("k");
	struct reload_old o[] = {
		{ .cfg = ab->units[0] },
		{ .cfg = inst, .instance = true },
		{ .cfg = conn },
	};
	expect(o, 3, ab, "K0 A");
	o[2].removed = true;   /* a forgotten one, not swept yet */
	expect(o, 3, ab, "K0 A");
	o[2].removed = false;
	expect(o, 3, empty, "-0");
	config_unit_free(inst);
	config_unit_free(conn);
}

/* The plan reads its input only: the flags passed in are not changed,
 * and the same input makes the same plan. */
static void test_input_untouched(void **state)
{
	(void)state;
	struct reload_old *o = olds(ab);
	o[0].removed = true;
	expect(o, 2, empty, "-1");
	assert_true(o[0].removed);
	assert_false(o[1].removed);
	expect(o, 2, ab, "V0 K1");
	expect(o, 2, ab, "V0 K1");
	assert_true(o[0].removed);
	free(o);
}

static int load_group(void **state)
{
	(void)state;
	empty = load("[tend]\n");
	ab = load("[service a]\nexec = a\n[service b]\nexec = b\n");
	return 0;
}

static int free_group(void **state)
{
	(void)state;
	config_free(empty);
	config_free(ab);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_added),
		cmocka_unit_test(test_remove_keep_change),
		cmocka_unit_test(test_pending_is_changed),
		cmocka_unit_test(test_removed_is_revived),
		cmocka_unit_test(test_instances_and_connect_units),
		cmocka_unit_test(test_input_untouched),
	};
	return cmocka_run_group_tests(tests, load_group, free_group);
}
