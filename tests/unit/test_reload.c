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

static char dir[] = "/tmp/tend-test-reload-XXXXXX";
static char path[sizeof(dir) + 16];

static struct tend_config *load(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (!cfg)
		fail_msg("%s", err);
	return cfg;
}

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

static void plan_of(const struct reload_old *o, size_t n,
                    const struct tend_config *next, struct reload_plan *p)
{
	reload_plan(o, n, (const struct unit_config *const *)next->units,
	            next->nunits, p);
	assert_int_equal(p->nsteps, next->nunits);
}

static void assert_step(const struct reload_plan *p, size_t k,
                        enum reload_op op, size_t old)
{
	if (p->steps[k].op != op)
		fail_msg("step %zu: op %d, want %d", k, p->steps[k].op, op);
	if (op != RELOAD_ADD)
		assert_int_equal(p->steps[k].old, old);
}

/* A first configuration: everything is added, nothing removed. */
static void test_all_added(void **state)
{
	(void)state;
	struct tend_config *next = load("[service a]\nexec = a\n"
	                                "[job b]\nexec = b\n");
	struct reload_plan p;
	plan_of(NULL, 0, next, &p);
	assert_int_equal(p.nremove, 0);
	assert_step(&p, 0, RELOAD_ADD, 0);
	assert_step(&p, 1, RELOAD_ADD, 0);
	reload_plan_free(&p);
	config_free(next);
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
	struct reload_plan p;
	plan_of(o, cur->nunits, next, &p);
	assert_int_equal(p.nremove, 2);
	assert_int_equal(p.remove[0], 2);
	assert_int_equal(p.remove[1], 3);
	assert_step(&p, 0, RELOAD_CHANGE, 1);
	assert_step(&p, 1, RELOAD_ADD, 0);
	assert_step(&p, 2, RELOAD_KEEP, 0);
	reload_plan_free(&p);
	free(o);
	config_free(cur);
	config_free(next);
}

/* Equal settings while new ones wait for the run to end: changed (back),
 * not kept. */
static void test_pending_is_changed(void **state)
{
	(void)state;
	struct tend_config *cur = load("[service a]\nexec = a\n");
	struct tend_config *next = load("[service a]\nexec = a\n");
	struct reload_old *o = olds(cur);
	struct reload_plan p;
	plan_of(o, 1, next, &p);
	assert_step(&p, 0, RELOAD_KEEP, 0);
	reload_plan_free(&p);
	o[0].pending = true;
	plan_of(o, 1, next, &p);
	assert_step(&p, 0, RELOAD_CHANGE, 0);
	reload_plan_free(&p);
	free(o);
	config_free(cur);
	config_free(next);
}

/* A unit removed by an earlier reload is not removed again; named again,
 * it is revived (one name is one instance), with any settings. */
static void test_removed_is_revived(void **state)
{
	(void)state;
	struct tend_config *cur = load("[service a]\nexec = a\n"
	                               "[service b]\nexec = b\n");
	struct tend_config *none = load("[tend]\n");
	struct tend_config *back = load("[service b]\nexec = b\n"
	                                "[service a]\nexec = a --other\n");
	struct reload_old *o = olds(cur);
	o[0].removed = true;
	struct reload_plan p;
	plan_of(o, 2, none, &p);
	assert_int_equal(p.nremove, 1);
	assert_int_equal(p.remove[0], 1);
	reload_plan_free(&p);
	plan_of(o, 2, back, &p);
	assert_int_equal(p.nremove, 0);
	assert_step(&p, 0, RELOAD_KEEP, 1);
	assert_step(&p, 1, RELOAD_REVIVE, 0);
	reload_plan_free(&p);
	free(o);
	config_free(cur);
	config_free(none);
	config_free(back);
}

/* Instances go with their clients and tend connect's units are no file's:
 * neither is removed; a file's unit of a connect unit's name is added
 * beside it, never matched or revived. */
static void test_instances_and_connect_units(void **state)
{
	(void)state;
	struct tend_config *cur = load("[service a]\nexec = a\n"
	                               "[service x]\nexec = x\n");
	struct unit_config *inst = config_unit_dup(cur->units[0], "a#1");
	struct unit_config *conn = config_unit_dup(cur->units[1], "x");
	conn->connect_key = xstrdup("k");
	struct reload_old o[] = {
		{ .cfg = cur->units[0] },
		{ .cfg = inst, .instance = true },
		{ .cfg = conn },
	};
	struct tend_config *next = load("[service a]\nexec = a\n"
	                                "[service x]\nexec = x\n");
	struct reload_plan p;
	plan_of(o, 3, next, &p);
	assert_int_equal(p.nremove, 0);
	assert_step(&p, 0, RELOAD_KEEP, 0);
	assert_step(&p, 1, RELOAD_ADD, 0);
	reload_plan_free(&p);
	o[2].removed = true;   /* a forgotten one, not swept yet */
	plan_of(o, 3, next, &p);
	assert_step(&p, 1, RELOAD_ADD, 0);
	reload_plan_free(&p);
	struct tend_config *none = load("[tend]\n");
	o[2].removed = false;
	plan_of(o, 3, none, &p);
	assert_int_equal(p.nremove, 1);
	assert_int_equal(p.remove[0], 0);
	reload_plan_free(&p);
	config_unit_free(inst);
	config_unit_free(conn);
	config_free(cur);
	config_free(next);
	config_free(none);
}

/* The plan reads its input only: the same input, the same plan, and the
 * flags passed in are not changed. */
static void test_input_untouched(void **state)
{
	(void)state;
	struct tend_config *cur = load("[service a]\nexec = a\n"
	                               "[service b]\nexec = b\n");
	struct tend_config *next = load("[service a]\nexec = a\n");
	struct reload_old *o = olds(cur);
	o[0].removed = true;
	struct reload_plan p, q;
	plan_of(o, 2, next, &p);
	plan_of(o, 2, next, &q);
	assert_true(o[0].removed);
	assert_false(o[1].removed);
	assert_int_equal(p.nremove, q.nremove);
	assert_memory_equal(p.remove, q.remove, p.nremove * sizeof(*p.remove));
	assert_memory_equal(p.steps, q.steps, p.nsteps * sizeof(*p.steps));
	assert_step(&p, 0, RELOAD_REVIVE, 0);
	reload_plan_free(&p);
	reload_plan_free(&q);
	free(o);
	config_free(cur);
	config_free(next);
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
		cmocka_unit_test(test_all_added),
		cmocka_unit_test(test_remove_keep_change),
		cmocka_unit_test(test_pending_is_changed),
		cmocka_unit_test(test_removed_is_revived),
		cmocka_unit_test(test_instances_and_connect_units),
		cmocka_unit_test(test_input_untouched),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
