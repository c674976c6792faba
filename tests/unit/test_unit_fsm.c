/* Unit tests of unit_fsm.h: the unit's state table walked without
 * processes, and docs/architecture.md's copy of it kept equal.
 *
 * Run from the top of the source tree (make check-unit does).  With the
 * argument "write" it rewrites the table in docs/architecture.md instead
 * (make fsm-doc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_fsm.h"
#include "util.h"

#define DOC "docs/architecture.md"
#define BEGIN "<!-- unit_fsm.c: generated, make fsm-doc -->\n"
#define END "<!-- /unit_fsm.c -->\n"

static bool at_rest(enum fsm_state s)
{
	return s == F_STOPPED || s == F_IDLE || s == F_FAILED;
}

static enum fsm_action act(enum fsm_state s, enum fsm_event e)
{
	return (enum fsm_action)fsm_table[s][e];
}

/* Every cell names an action; "never" exactly where the event cannot
 * come: a timer in a state that arms none, an exit with no run alive. */
static void never_is_where_the_event_cannot_come(void **state)
{
	(void)state;
	for (int s = 0; s < F_NSTATES; s++) {
		for (int e = 0; e < E_NEVENTS; e++)
			assert_true(act(s, e) < A_NACTIONS);
		bool timer = fsm_states[s].timer != T_NONE;
		assert_int_equal(act(s, E_TIMER) == A_NEVER, !timer);
		assert_int_equal(act(s, E_EXIT) == A_NEVER, !fsm_states[s].alive);
		if (fsm_states[s].alive)
			assert_int_equal(act(s, E_EXIT), A_EXITED);
		for (int e = 0; e < E_NEVENTS; e++)
			if (e != E_TIMER && e != E_EXIT)
				assert_int_not_equal(act(s, e), A_NEVER);
	}
}

/* A stop does something in every state but those at rest; a start in
 * every state where nothing is alive; a kill wherever a run is. */
static void stop_start_and_kill_reach_every_state_that_needs_them(void **state)
{
	(void)state;
	for (int s = 0; s < F_NSTATES; s++) {
		assert_int_equal(act(s, E_STOP) == A_IGNORE, at_rest(s));
		/* A start waiting for its after list is a start asked for
		 * already; a kill ends it as a stop does (nothing runs). */
		if (s == F_WAITING) {
			assert_int_equal(act(s, E_START), A_IGNORE);
			assert_int_equal(act(s, E_KILL), act(s, E_STOP));
			assert_int_equal(act(s, E_DEPS), A_DEPS);
			continue;
		}
		assert_int_equal(act(s, E_DEPS), A_IGNORE);
		assert_int_equal(act(s, E_START) == A_START, !fsm_states[s].alive);
		assert_int_equal(act(s, E_KILL) != A_IGNORE, fsm_states[s].alive);
		/* A client never revives a unit that is on its way up or down
		 * behind its back, and only a new one revives a failed one. */
		if (s == F_FAILED) {
			assert_int_equal(act(s, E_WAKE), A_IGNORE);
			assert_int_equal(act(s, E_REVIVE), A_REVIVE);
		} else {
			assert_int_equal(act(s, E_REVIVE), act(s, E_WAKE));
		}
	}
}

/* Readiness, forced stops and idle stops apply to live runs only; the
 * tree's end only to a run being stopped. */
static void run_events_only_where_a_run_is(void **state)
{
	(void)state;
	for (int s = 0; s < F_NSTATES; s++) {
		bool up = fsm_states[s].up;
		assert_int_equal(act(s, E_READY) != A_IGNORE, s == F_STARTING);
		assert_int_equal(act(s, E_FORCE) == A_FORCE, up);
		assert_int_equal(act(s, E_IDLE) != A_IGNORE, s == F_RUNNING);
		assert_int_equal(act(s, E_REAPED) == A_CHECK_TREE,
		                 fsm_states[s].alive && !up);
	}
}

/* Every action is used somewhere, and every state users see is shown by
 * some state. */
static void nothing_is_dead(void **state)
{
	(void)state;
	bool used[A_NACTIONS] = { 0 }, shown[US_WAITING + 1] = { 0 };
	for (int s = 0; s < F_NSTATES; s++) {
		shown[fsm_states[s].shown] = true;
		for (int e = 0; e < E_NEVENTS; e++)
			used[act(s, e)] = true;
	}
	for (int a = 0; a < A_NACTIONS; a++)
		assert_true(used[a]);
	for (int s = 0; s <= US_WAITING; s++)
		assert_true(shown[s]);
	for (int a = 0; a < A_NACTIONS; a++)
		assert_string_not_equal(fsm_action_doc(a), "unknown");
	for (int e = 0; e < E_NEVENTS; e++)
		assert_string_not_equal(fsm_event_name(e), "unknown");
}

/* The states FROM reaches by moves of the table (FROM included). */
static unsigned reach(enum fsm_state from)
{
	unsigned seen = 1u << from, prev = 0;
	while (seen != prev) {
		prev = seen;
		for (int s = 0; s < F_NSTATES; s++)
			if (seen & (1u << s))
				seen |= fsm_states[s].next;
	}
	return seen;
}

/* Every state can be reached from a new unit, and every state can come
 * to rest; nothing at rest or waiting jumps into a stop. */
static void every_state_is_reachable_and_can_rest(void **state)
{
	(void)state;
	assert_int_equal(reach(F_STOPPED), (1u << F_NSTATES) - 1);
	for (int s = 0; s < F_NSTATES; s++) {
		assert_true(reach(s) & (1u << F_STOPPED));
		if (fsm_states[s].alive)
			continue;
		assert_false(fsm_may_move(s, F_STOPPING));
		assert_false(fsm_may_move(s, F_KILLING));
		assert_false(fsm_may_move(s, F_IDLE));
		assert_false(fsm_may_move(s, F_BACKOFF));
	}
}

/* The life of one service, walked cell by cell: each event's action and
 * the move it makes must be the table's. */
static void a_service_life_walks_the_table(void **state)
{
	(void)state;
	static const struct {
		enum fsm_event e;
		enum fsm_action a;
		enum fsm_state to;
	} life[] = {
		{ E_START, A_START, F_STARTING },      /* ready = notify */
		{ E_READY, A_READY, F_RUNNING },
		{ E_IDLE, A_IDLE_STOP, F_STOPPING },   /* no traffic */
		{ E_WAKE, A_WAKE_AFTER, F_STOPPING },  /* a client meanwhile */
		{ E_TIMER, A_ESCALATE, F_KILLING },    /* stop-timeout */
		{ E_REAPED, A_CHECK_TREE, F_IDLE },    /* gone: idle... */
		{ E_WAKE, A_WAKE, F_STARTING },        /* ...woken at once */
		{ E_TIMER, A_START_TIMEOUT, F_STOPPING },
		{ E_EXIT, A_EXITED, F_BACKOFF },       /* forced: the verdict */
		{ E_TIMER, A_RESTART, F_RETRY },       /* out of descriptors */
		{ E_TIMER, A_RETRY, F_RUNNING },       /* (ready = none now) */
		{ E_EXIT, A_EXITED, F_FAILED },        /* crashed: gave up */
		{ E_WAKE, A_IGNORE, F_FAILED },
		{ E_REVIVE, A_REVIVE, F_RUNNING },
		{ E_STOP, A_STOP, F_STOPPING },
		{ E_KILL, A_ESCALATE, F_KILLING },
		{ E_EXIT, A_EXITED, F_KILLING },       /* leftovers remain */
		{ E_REAPED, A_CHECK_TREE, F_STOPPED },
	};
	enum fsm_state s = F_STOPPED;
	for (size_t i = 0; i < sizeof(life) / sizeof(life[0]); i++) {
		assert_int_equal(act(s, life[i].e), life[i].a);
		assert_true(life[i].to == s || fsm_may_move(s, life[i].to));
		s = life[i].to;
	}
}

static char *read_doc(void)
{
	FILE *f = fopen(DOC, "r");
	if (!f)
		return NULL;
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_take(&b);
}

/* The doc with its generated block replaced by TABLE (NULL: no block). */
static char *doc_with(const char *doc, const char *table)
{
	const char *a = strstr(doc, BEGIN), *z = a ? strstr(a, END) : NULL;
	if (!z)
		return NULL;
	struct buf b = { 0 };
	buf_add(&b, doc, (size_t)(a - doc) + strlen(BEGIN));
	buf_adds(&b, table);
	buf_adds(&b, z);
	return buf_take(&b);
}

static void the_doc_shows_this_table(void **state)
{
	(void)state;
	char *doc = read_doc(), *table = fsm_markdown();
	assert_non_null(doc);   /* run from the top of the source tree */
	char *want = doc_with(doc, table);
	assert_non_null(want);  /* docs/architecture.md has the markers */
	if (strcmp(doc, want) != 0)
		fail_msg("docs/architecture.md's state table is not unit_fsm.c's: "
		         "run make fsm-doc");
	free(want);
	free(table);
	free(doc);
}

static int write_doc(void)
{
	char *doc = read_doc(), *table = fsm_markdown();
	char *want = doc ? doc_with(doc, table) : NULL;
	FILE *f = want ? fopen(DOC, "w") : NULL;
	int r = f && fputs(want, f) >= 0 && fclose(f) == 0 ? 0 : 1;
	if (r)
		fprintf(stderr, "cannot rewrite the table of " DOC "\n");
	free(want);
	free(table);
	free(doc);
	return r;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "write") == 0)
		return write_doc();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(never_is_where_the_event_cannot_come),
		cmocka_unit_test(stop_start_and_kill_reach_every_state_that_needs_them),
		cmocka_unit_test(run_events_only_where_a_run_is),
		cmocka_unit_test(nothing_is_dead),
		cmocka_unit_test(every_state_is_reachable_and_can_rest),
		cmocka_unit_test(a_service_life_walks_the_table),
		cmocka_unit_test(the_doc_shows_this_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
