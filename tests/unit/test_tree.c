/* Unit tests of tree membership (tree_assign) on synthetic process tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "proc.h"

#define SELF 100

/* pid, ppid, sid, state; sorted by pid as proc_table_scan leaves it */
static struct proc_stat procs[] = {
	{ .pid = 1, .ppid = 0, .sid = 1, .state = 'S' },
	{ .pid = 50, .ppid = 1, .sid = 50, .state = 'S' },    /* not ours */
	{ .pid = 100, .ppid = 50, .sid = 50, .state = 'S' },  /* tend */
	{ .pid = 200, .ppid = 100, .sid = 200, .state = 'S' }, /* main of A */
	{ .pid = 201, .ppid = 200, .sid = 200, .state = 'S' }, /* child of A */
	{ .pid = 202, .ppid = 201, .sid = 202, .state = 'S' }, /* setsid'd grandchild */
	{ .pid = 203, .ppid = 100, .sid = 200, .state = 'S' }, /* A's orphan, same session */
	{ .pid = 204, .ppid = 203, .sid = 204, .state = 'S' }, /* below the orphan */
	{ .pid = 205, .ppid = 200, .sid = 200, .state = 'Z' }, /* zombie */
	{ .pid = 300, .ppid = 100, .sid = 300, .state = 'S' }, /* main of B */
	{ .pid = 301, .ppid = 100, .sid = 301, .state = 'S' }, /* stray: own session */
	{ .pid = 302, .ppid = 301, .sid = 301, .state = 'S' }, /* below the stray */
	{ .pid = 400, .ppid = 50, .sid = 50, .state = 'S' },   /* tend's sibling */
};

static const struct proc_table table = { procs, sizeof(procs) / sizeof(procs[0]),
                                         sizeof(procs) / sizeof(procs[0]) };

static int owner_of(const int *owner, pid_t pid)
{
	for (size_t i = 0; i < table.n; i++)
		if (table.p[i].pid == pid)
			return owner[i];
	fail_msg("pid %d not in table", (int)pid);
	return -99;
}

static void assigns_by_main_session_and_ancestry(void **state)
{
	(void)state;
	struct tree_root roots[] = { { .main = 200, .sid = 200 },
	                             { .main = 300, .sid = 300 } };
	int owner[sizeof(procs) / sizeof(procs[0])];
	tree_assign(&table, SELF, 0, roots, 2, false, owner);
	assert_int_equal(owner_of(owner, 200), 0);
	assert_int_equal(owner_of(owner, 201), 0);
	assert_int_equal(owner_of(owner, 202), 0);  /* left the session, still below */
	assert_int_equal(owner_of(owner, 203), 0);  /* reparented, same session */
	assert_int_equal(owner_of(owner, 204), 0);
	assert_int_equal(owner_of(owner, 205), TREE_NOT_OURS);  /* zombie */
	assert_int_equal(owner_of(owner, 300), 1);
	assert_int_equal(owner_of(owner, 301), TREE_STRAY);
	assert_int_equal(owner_of(owner, 302), TREE_STRAY);
	assert_int_equal(owner_of(owner, 1), TREE_NOT_OURS);
	assert_int_equal(owner_of(owner, 50), TREE_NOT_OURS);
	assert_int_equal(owner_of(owner, 100), TREE_NOT_OURS);  /* tend itself */
	assert_int_equal(owner_of(owner, 400), TREE_NOT_OURS);
}

static void session_survives_reaped_main(void **state)
{
	(void)state;
	/* main 200 reaped: its tree is still found through the session */
	struct tree_root roots[] = { { .main = 0, .sid = 200 } };
	int owner[sizeof(procs) / sizeof(procs[0])];
	tree_assign(&table, SELF, 0, roots, 1, false, owner);
	assert_int_equal(owner_of(owner, 203), 0);
	assert_int_equal(owner_of(owner, 204), 0);
	assert_int_equal(owner_of(owner, 300), TREE_STRAY);
}

static void one_root_adopts_strays(void **state)
{
	(void)state;
	struct tree_root roots[] = { { .main = 200, .sid = 200 } };
	int owner[sizeof(procs) / sizeof(procs[0])];
	tree_assign(&table, SELF, 0, roots, 1, true, owner);
	assert_int_equal(owner_of(owner, 301), 0);
	assert_int_equal(owner_of(owner, 302), 0);
	assert_int_equal(owner_of(owner, 300), 0);
	assert_int_equal(owner_of(owner, 400), TREE_NOT_OURS);
}

static void no_roots_everything_below_is_stray(void **state)
{
	(void)state;
	int owner[sizeof(procs) / sizeof(procs[0])];
	tree_assign(&table, SELF, 0, NULL, 0, true, owner);
	assert_int_equal(owner_of(owner, 201), TREE_STRAY);
	assert_int_equal(owner_of(owner, 400), TREE_NOT_OURS);
}

/* The keeper (keeper.h) is the parent of every main and the subreaper of
 * every orphan: trees hang below it as below tend. */
static struct proc_stat kprocs[] = {
	{ .pid = 1, .ppid = 0, .sid = 1, .state = 'S' },
	{ .pid = 100, .ppid = 1, .sid = 100, .state = 'S' },   /* tend */
	{ .pid = 101, .ppid = 100, .sid = 101, .state = 'S' }, /* its keeper */
	{ .pid = 150, .ppid = 100, .sid = 150, .state = 'S' }, /* a check */
	{ .pid = 200, .ppid = 101, .sid = 200, .state = 'S' }, /* main of A */
	{ .pid = 201, .ppid = 200, .sid = 200, .state = 'S' }, /* child of A */
	{ .pid = 203, .ppid = 101, .sid = 200, .state = 'S' }, /* A's orphan */
	{ .pid = 210, .ppid = 101, .sid = 210, .state = 'S' }, /* own session, no cookie: a stray */
	{ .pid = 220, .ppid = 101, .sid = 220, .state = 'S' }, /* stealth: a stray */
	{ .pid = 300, .ppid = 101, .sid = 300, .state = 'S' }, /* main of B */
	{ .pid = 301, .ppid = 100, .sid = 300, .state = 'S' }, /* B's, tend's child */
};

static void trees_hang_below_the_keeper(void **state)
{
	(void)state;
	struct proc_table t = { kprocs, sizeof(kprocs) / sizeof(kprocs[0]),
	                        sizeof(kprocs) / sizeof(kprocs[0]) };
	struct tree_root roots[] = { { .main = 200, .sid = 200 },
	                             { .main = 300, .sid = 300 },
	                             { .main = 150, .sid = 150 } };
	int owner[sizeof(kprocs) / sizeof(kprocs[0])];
	tree_assign(&t, 100, 101, roots, 3, false, owner);
	int want[] = { TREE_NOT_OURS, TREE_NOT_OURS, TREE_NOT_OURS, 2, 0, 0, 0,
	               TREE_STRAY, TREE_STRAY, 1, 1 };
	for (size_t i = 0; i < t.n; i++)
		assert_int_equal(owner[i], want[i]);
	/* Without the keeper's pid, everything below it is one stray tree:
	 * the keeper is the top ancestor below tend. */
	tree_assign(&t, 100, 0, roots, 3, false, owner);
	assert_int_equal(owner[4], TREE_STRAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trees_hang_below_the_keeper),
		cmocka_unit_test(assigns_by_main_session_and_ancestry),
		cmocka_unit_test(session_survives_reaped_main),
		cmocka_unit_test(one_root_adopts_strays),
		cmocka_unit_test(no_roots_everything_below_is_stray),
	};
	return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
