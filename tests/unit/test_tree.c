/* Unit tests of tree membership (tree_assign) on synthetic process tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

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

/* With one root that adopts strays (tend exec), the keeper itself is
 * still no tree's, nor is tend; a zombie below the keeper is gone. */
static void the_keeper_is_never_adopted(void **state)
{
	(void)state;
	struct proc_table t = { 0 };
	for (size_t i = 0; i < sizeof(kprocs) / sizeof(kprocs[0]); i++)
		*proc_table_add(&t) = kprocs[i];
	*proc_table_add(&t) = (struct proc_stat){ .pid = 230, .ppid = 101,
	                                          .sid = 200, .state = 'Z' };
	proc_table_sort(&t);
	struct tree_root roots[] = { { .main = 200, .sid = 200 } };
	int *owner = calloc(t.n, sizeof(*owner));
	assert_non_null(owner);
	tree_assign(&t, 100, 101, roots, 1, true, owner);
	for (size_t i = 0; i < t.n; i++) {
		pid_t p = t.p[i].pid;
		int want = p == 1 || p == 100 || p == 101 || p == 230 ? TREE_NOT_OURS : 0;
		if (owner[i] != want)
			fail_msg("pid %d: owner %d, want %d", (int)p, owner[i], want);
	}
	free(owner);
	proc_table_free(&t);
}

/* A notification's sender may have exited by the time tend looks: a
 * zombie is no member of a tree, but it still names its run, through its
 * parent or, an orphan below the keeper or tend, through its session. */
static void a_zombie_sender_still_names_its_run(void **state)
{
	(void)state;
	struct proc_table t = { 0 };
	for (size_t i = 0; i < sizeof(kprocs) / sizeof(kprocs[0]); i++)
		*proc_table_add(&t) = kprocs[i];
	struct proc_stat z[] = {
		{ .pid = 230, .ppid = 101, .sid = 200, .state = 'Z' }, /* A's, below the keeper */
		{ .pid = 231, .ppid = 201, .sid = 231, .state = 'Z' }, /* below A's child */
		{ .pid = 232, .ppid = 100, .sid = 300, .state = 'Z' }, /* B's, below tend */
		{ .pid = 233, .ppid = 101, .sid = 233, .state = 'Z' }, /* nobody's */
	};
	for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++)
		*proc_table_add(&t) = z[i];
	proc_table_sort(&t);
	struct tree_root roots[] = { { .main = 200, .sid = 200 },
	                             { .main = 300, .sid = 300 } };
	int *owner = calloc(t.n, sizeof(*owner));
	assert_non_null(owner);
	tree_assign(&t, 100, 101, roots, 2, false, owner);
	pid_t pids[] = { 230, 231, 232, 233, 201, 101 };
	int want[] = { 0, 0, 1, TREE_NOT_OURS, 0, TREE_NOT_OURS };
	for (size_t k = 0; k < sizeof(pids) / sizeof(pids[0]); k++) {
		long i = proc_table_find(&t, pids[k]);
		assert_true(i >= 0);
		assert_int_equal(owner[i] == TREE_NOT_OURS || pids[k] < 230, 1);
		int o = tree_owner_at(&t, owner, i, 100, 101, roots, 2);
		if (o != want[k])
			fail_msg("pid %d: owner %d, want %d", (int)pids[k], o, want[k]);
	}
	assert_int_equal(tree_owner_at(&t, owner, -1, 100, 101, roots, 2),
	                 TREE_NOT_OURS);
	free(owner);
	proc_table_free(&t);
}

/* An orphan of a run reparented to the keeper that left the run's session
 * is still the run's by its cookie (TEND_UNIT= in the environment it was
 * started with), read from /proc: a real process, here with the table
 * around it made up; and what it started goes with it.  Without the
 * cookie it is a stray. */
static void cookie_finds_an_orphan_below_the_keeper(void **state)
{
	(void)state;
	char cookie[64];
	snprintf(cookie, sizeof(cookie), "TEND_UNIT=tree-test-%d", (int)getpid());
	char *argv[] = { "sleep", "30", NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", cookie, NULL };
	struct spawn_req rq = { .argv = argv, .envp = envp, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	struct spawn_res rs;
	assert_int_equal(proc_spawn(&rq, &rs), 0);
	pid_t x = rs.pid;
	/* The kernel sets the new environment up a moment after the exec let
	 * the parent go on (a vfork's parent resumes at the exec). */
	struct buf env = { 0 };
	for (int i = 0; i < 1000; i++) {
		if (proc_environ(x, &env) == 0 && environ_has(&env, cookie))
			break;
		usleep(1000);
	}
	free(env.s);
	/* clear of the made-up pids below */
	assert_true(x != 1 && x != 100 && x != 101 && x != 500 && x != 2000000000);
	struct proc_table t = { 0 };
	struct proc_stat made_up[] = {
		{ .pid = 1, .ppid = 0, .sid = 1, .state = 'S' },
		{ .pid = 100, .ppid = 1, .sid = 100, .state = 'S' },    /* tend */
		{ .pid = 101, .ppid = 100, .sid = 101, .state = 'S' },  /* keeper */
		{ .pid = 500, .ppid = 101, .sid = 500, .state = 'S' },  /* main of B */
		{ .pid = x, .ppid = 101, .sid = x, .state = 'S' },      /* A's orphan */
		{ .pid = 2000000000, .ppid = x, .sid = 2000000000,      /* its child */
		  .state = 'S' },
	};
	for (size_t i = 0; i < sizeof(made_up) / sizeof(made_up[0]); i++)
		*proc_table_add(&t) = made_up[i];
	proc_table_sort(&t);
	long ix = proc_table_find(&t, x), ic = proc_table_find(&t, 2000000000),
	     ib = proc_table_find(&t, 500);
	int *owner = calloc(t.n, sizeof(*owner));
	assert_non_null(owner);
	/* A's main reaped, its session gone with it: only the cookie is left */
	struct tree_root roots[] = { { .main = 0, .sid = 0, .cookie = cookie },
	                             { .main = 500, .sid = 500 } };
	tree_assign(&t, 100, 101, roots, 2, false, owner);
	int got_x = owner[ix], got_c = owner[ic], got_b = owner[ib];
	roots[0].cookie = "TEND_UNIT=tree-test-another";
	tree_assign(&t, 100, 101, roots, 2, false, owner);
	int other_x = owner[ix];
	free(owner);
	proc_table_free(&t);
	kill(x, SIGKILL);
	assert_int_equal(waitpid(x, NULL, 0), x);
	assert_int_equal(got_x, 0);
	assert_int_equal(got_c, 0);
	assert_int_equal(got_b, 1);
	assert_int_equal(other_x, TREE_STRAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trees_hang_below_the_keeper),
		cmocka_unit_test(the_keeper_is_never_adopted),
		cmocka_unit_test(a_zombie_sender_still_names_its_run),
		cmocka_unit_test(cookie_finds_an_orphan_below_the_keeper),
		cmocka_unit_test(assigns_by_main_session_and_ancestry),
		cmocka_unit_test(session_survives_reaped_main),
		cmocka_unit_test(one_root_adopts_strays),
		cmocka_unit_test(no_roots_everything_below_is_stray),
	};
	return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
