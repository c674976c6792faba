/* Unit tests of the restart policy: every rule of policy.h on plain data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "policy.h"

static struct policy_cfg defaults(void)
{
	return (struct policy_cfg){
		.restart = RESTART_ON_FAILURE,
		.backoff_min_ms = 100, .backoff_max_ms = 30000,
		.max_crashes = { 5, 300000 },
		.stable_after_ms = 60000,
		.clean_restarts = { 10, 60000 },
	};
}

struct run {
	struct policy_cfg cfg;
	struct policy_hist h;
	uint64_t now;
};

static void run_init(struct run *r, struct policy_cfg cfg)
{
	r->cfg = cfg;
	r->now = 1000000;
	policy_hist_init(&r->h, &r->cfg);
}

/* One run of UPTIME ms ending with REASON, then the verdict. */
static struct policy_verdict exit_after(struct run *r, enum exit_reason why,
                                        uint64_t uptime)
{
	r->now += uptime;
	struct policy_verdict v = policy_on_exit(&r->cfg, &r->h, why, r->now,
	                                         uptime, 0.5);
	r->now += v.delay_ms;
	return v;
}

static void crash_restarts_with_growing_backoff(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, defaults());
	uint64_t last = 0;
	for (int i = 1; i <= 5; i++) {
		struct policy_verdict v = exit_after(&r, EXIT_CRASH, 10);
		assert_int_equal(v.action, ACT_RESTART);
		assert_int_equal(v.crashes, i);
		assert_true(v.delay_ms > last);
		last = v.delay_ms;
	}
	/* jitter 0.5 is the middle: exactly MIN * 2^(k-1) */
	assert_int_equal(last, 1600);
	policy_hist_free(&r.h);
}

static void gives_up_after_max_crashes(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, defaults());
	for (int i = 0; i < 5; i++)
		assert_int_equal(exit_after(&r, EXIT_CRASH, 10).action, ACT_RESTART);
	struct policy_verdict v = exit_after(&r, EXIT_CRASH, 10);
	assert_int_equal(v.action, ACT_GIVE_UP);
	assert_int_equal(v.crashes, 6);
	policy_hist_free(&r.h);
}

static void crashes_outside_window_do_not_count(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.max_crashes = (struct rate){ 2, 1000 };
	struct run r;
	run_init(&r, c);
	for (int i = 0; i < 10; i++) {
		struct policy_verdict v = exit_after(&r, EXIT_CRASH, 10);
		assert_int_equal(v.action, ACT_RESTART);
		r.now += 1000; /* the previous crash leaves the window */
	}
	policy_hist_free(&r.h);
}

static void alternating_clean_and_crash_still_gives_up(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ALWAYS;
	struct run r;
	run_init(&r, c);
	int crashes = 0;
	struct policy_verdict v;
	do {
		v = exit_after(&r, EXIT_CRASH, 10);
		crashes++;
		if (v.action != ACT_RESTART)
			break;
		assert_int_equal(exit_after(&r, EXIT_CLEAN, 10).action, ACT_RESTART);
	} while (crashes < 100);
	assert_int_equal(v.action, ACT_GIVE_UP);
	assert_int_equal(crashes, 6);
	policy_hist_free(&r.h);
}

static void clean_exit_does_not_reset_backoff(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ALWAYS;
	struct run r;
	run_init(&r, c);
	uint64_t d1 = exit_after(&r, EXIT_CRASH, 10).delay_ms;
	exit_after(&r, EXIT_CLEAN, 10);
	uint64_t d2 = exit_after(&r, EXIT_CRASH, 10).delay_ms;
	assert_true(d2 > d1);
	policy_hist_free(&r.h);
}

static void clean_exit_on_failure_is_done(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, defaults());
	struct policy_verdict v = exit_after(&r, EXIT_CLEAN, 10);
	assert_int_equal(v.action, ACT_DONE);
	policy_hist_free(&r.h);
}

static void clean_loop_is_slowed_and_warned_once(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ALWAYS;
	struct run r;
	run_init(&r, c);
	for (int i = 0; i < 10; i++) {
		struct policy_verdict v = exit_after(&r, EXIT_CLEAN, 1);
		assert_int_equal(v.action, ACT_RESTART);
		assert_int_equal(v.delay_ms, 0);
		assert_false(v.warn_clean_budget);
	}
	struct policy_verdict v = exit_after(&r, EXIT_CLEAN, 1);
	assert_int_equal(v.action, ACT_RESTART);
	assert_true(v.warn_clean_budget);
	assert_true(v.delay_ms >= 100);
	uint64_t last = v.delay_ms;
	v = exit_after(&r, EXIT_CLEAN, 1);
	assert_false(v.warn_clean_budget);
	assert_true(v.delay_ms > last);
	assert_int_equal(v.crashes, 0);
	policy_hist_free(&r.h);
}

static void clean_loop_is_slowed_even_with_zero_backoff(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ALWAYS;
	c.backoff_min_ms = c.backoff_max_ms = 0;
	struct run r;
	run_init(&r, c);
	struct policy_verdict v = { 0 };
	for (int i = 0; i < 11; i++)
		v = exit_after(&r, EXIT_CLEAN, 1);
	assert_true(v.warn_clean_budget);
	assert_true(v.delay_ms > 0);
	uint64_t first = v.delay_ms;
	v = exit_after(&r, EXIT_CLEAN, 1);
	assert_true(v.delay_ms > first);  /* and it keeps growing */
	policy_hist_free(&r.h);
}

static void spawn_failure_gives_up_at_once(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, defaults());
	assert_int_equal(exit_after(&r, EXIT_SPAWN_FAILED, 0).action, ACT_GIVE_UP);
	policy_hist_free(&r.h);
}

static void stable_uptime_forgets_crashes(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.max_crashes = (struct rate){ 2, 3600000 };
	c.stable_after_ms = 1000;
	struct run r;
	run_init(&r, c);
	for (int i = 0; i < 20; i++) {
		struct policy_verdict v = exit_after(&r, EXIT_CRASH, 1500);
		assert_int_equal(v.action, ACT_RESTART);
		assert_int_equal(v.crashes, 1);
		assert_int_equal(v.delay_ms, 100); /* back to the first level */
	}
	/* quick crashes after that do count again */
	exit_after(&r, EXIT_CRASH, 10);
	assert_int_equal(exit_after(&r, EXIT_CRASH, 10).action, ACT_GIVE_UP);
	policy_hist_free(&r.h);
}

static void zero_backoff_restarts_at_once(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.backoff_min_ms = c.backoff_max_ms = 0;
	struct run r;
	run_init(&r, c);
	for (int i = 0; i < 5; i++) {
		struct policy_verdict v = exit_after(&r, EXIT_CRASH, 1);
		assert_int_equal(v.action, ACT_RESTART);
		assert_int_equal(v.delay_ms, 0);
	}
	policy_hist_free(&r.h);
}

static void restart_never_is_done(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_NEVER;
	struct run r;
	run_init(&r, c);
	assert_int_equal(exit_after(&r, EXIT_CRASH, 10).action, ACT_DONE);
	assert_int_equal(exit_after(&r, EXIT_CLEAN, 10).action, ACT_DONE);
	policy_hist_free(&r.h);
}

static void stopped_is_done(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ALWAYS;
	struct run r;
	run_init(&r, c);
	struct policy_verdict v = exit_after(&r, EXIT_STOPPED, 10);
	assert_int_equal(v.action, ACT_DONE);
	assert_int_equal(r.h.ncrash, 0);
	policy_hist_free(&r.h);
}

static void health_and_watchdog_count_as_crashes(void **state)
{
	(void)state;
	struct run r;
	run_init(&r, defaults());
	exit_after(&r, EXIT_HEALTH, 10);
	struct policy_verdict v = exit_after(&r, EXIT_WATCHDOG, 10);
	assert_int_equal(v.crashes, 2);
	policy_hist_free(&r.h);
}

static void memory_restarts_are_not_crashes_but_back_off(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ON_FAILURE;  /* and always: a memory stop restarts */
	struct run r;
	run_init(&r, c);
	uint64_t last = 0;
	for (int i = 0; i < 10; i++) {
		struct policy_verdict v = exit_after(&r, EXIT_MEMORY, 10);
		assert_int_equal(v.action, ACT_RESTART);
		assert_int_equal(v.crashes, 0);
		assert_true(v.delay_ms >= last);
		last = v.delay_ms;
	}
	assert_true(last > 100);
	/* after a stable run, the next one restarts at once */
	assert_int_equal(exit_after(&r, EXIT_MEMORY, 120000).delay_ms, 0);
	policy_hist_free(&r.h);
	/* restart = never means never, as for a crash */
	c.restart = RESTART_NEVER;
	run_init(&r, c);
	assert_int_equal(exit_after(&r, EXIT_MEMORY, 10).action, ACT_DONE);
	policy_hist_free(&r.h);
}

static void backoff_jitter_stays_in_bounds(void **state)
{
	(void)state;
	for (unsigned k = 1; k < 40; k++)
		for (double j = 0; j < 1; j += 0.125) {
			uint64_t d = policy_backoff(100, 30000, k, j);
			assert_true(d >= 100 && d <= 30000);
		}
	/* +-25% around 400 for k = 3 */
	assert_int_equal(policy_backoff(100, 30000, 3, 0), 300);
	assert_true(policy_backoff(100, 30000, 3, 0.999) <= 500);
	assert_int_equal(policy_backoff(100, 30000, 1, 0), 100); /* clamped to MIN */
	assert_int_equal(policy_backoff(100, 1000, 30, 0.999), 1000); /* to MAX */
	assert_int_equal(policy_backoff(0, 0, 3, 0.5), 0);
}

static void classify_uses_success_codes(void **state)
{
	(void)state;
	struct success_codes sc = { 0 };
	success_codes_add_code(&sc, 0);
	success_codes_add_code(&sc, 3);
	success_codes_add_signal(&sc, SIGTERM);
	int exited0 = 0 << 8, exited3 = 3 << 8, exited1 = 1 << 8;
	assert_int_equal(policy_classify(&sc, exited0), EXIT_CLEAN);
	assert_int_equal(policy_classify(&sc, exited3), EXIT_CLEAN);
	assert_int_equal(policy_classify(&sc, exited1), EXIT_CRASH);
	assert_int_equal(policy_classify(&sc, SIGTERM), EXIT_CLEAN);
	assert_int_equal(policy_classify(&sc, SIGKILL), EXIT_CRASH);
	assert_true(WIFSIGNALED(SIGKILL));
	assert_false(success_codes_has_code(&sc, 256));
}

static void history_is_bounded(void **state)
{
	(void)state;
	struct policy_cfg c = defaults();
	c.restart = RESTART_ALWAYS;
	c.clean_restarts = (struct rate){ 3, 3600000 };
	struct run r;
	run_init(&r, c);
	for (int i = 0; i < 1000; i++)
		exit_after(&r, EXIT_CLEAN, 1);
	assert_true(r.h.nclean <= r.h.clean_cap);
	assert_int_equal(r.h.clean_cap, 4);
	policy_hist_free(&r.h);
}

/* A copy of H to try an exit on (its arrays its own). */
static void hist_copy(struct policy_hist *to, const struct policy_hist *h,
                      uint64_t *crash, uint64_t *clean)
{
	*to = *h;
	to->crash_at = crash;
	to->clean_at = clean;
	for (unsigned i = 0; i < h->ncrash; i++)
		crash[i] = h->crash_at[i];
	for (unsigned i = 0; i < h->nclean; i++)
		clean[i] = h->clean_at[i];
}

/* A restart armed ahead (policy_at_once) is one the verdict makes, at
 * once, whenever the exit comes and whatever the run's uptime; and with
 * backoff 0 every restart the verdict makes at once within the budget
 * was armed (a crash loop is not left to the daemon). */
static void at_once_is_what_the_verdict_does(void **state)
{
	(void)state;
	unsigned seed = 7;
	for (int trial = 0; trial < 300; trial++) {
		struct policy_cfg c = defaults();
		seed = seed * 1103515245u + 12345u;
		c.restart = (enum restart_mode)(seed >> 16) % 3;
		c.backoff_min_ms = (seed >> 8) % 4 ? 0 : 100;
		c.max_crashes = (struct rate){ 1 + (seed >> 4) % 4, 1000 };
		c.clean_restarts = (struct rate){ 1 + (seed >> 12) % 3, 800 };
		c.stable_after_ms = 500;
		struct run r;
		run_init(&r, c);
		for (int step = 0; step < 40; step++) {
			seed = seed * 1103515245u + 12345u;
			enum exit_reason why = (seed >> 16) % 3 ? EXIT_CRASH : EXIT_CLEAN;
			uint64_t later = (seed >> 4) % 700, uptime = (seed >> 10) % 900;
			bool armed = policy_at_once(&c, &r.h, why, r.now);
			struct policy_hist t;
			uint64_t crash[16], clean[16];
			hist_copy(&t, &r.h, crash, clean);
			struct policy_verdict v = policy_on_exit(&c, &t, why,
			                                         r.now + later, uptime, 0.5);
			if (armed) {
				assert_int_equal(v.action, ACT_RESTART);
				assert_int_equal(v.delay_ms, 0);
			} else if (why == EXIT_CRASH && later == 0 && uptime < 500 &&
			           c.backoff_min_ms == 0) {
				assert_int_not_equal(v.action, ACT_RESTART);
			}
			if (v.action == ACT_GIVE_UP)
				break;
			exit_after(&r, why, 1 + (seed >> 20) % 300);
		}
		policy_hist_free(&r.h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash_restarts_with_growing_backoff),
		cmocka_unit_test(gives_up_after_max_crashes),
		cmocka_unit_test(crashes_outside_window_do_not_count),
		cmocka_unit_test(alternating_clean_and_crash_still_gives_up),
		cmocka_unit_test(clean_exit_does_not_reset_backoff),
		cmocka_unit_test(clean_exit_on_failure_is_done),
		cmocka_unit_test(clean_loop_is_slowed_and_warned_once),
		cmocka_unit_test(clean_loop_is_slowed_even_with_zero_backoff),
		cmocka_unit_test(spawn_failure_gives_up_at_once),
		cmocka_unit_test(stable_uptime_forgets_crashes),
		cmocka_unit_test(zero_backoff_restarts_at_once),
		cmocka_unit_test(restart_never_is_done),
		cmocka_unit_test(stopped_is_done),
		cmocka_unit_test(health_and_watchdog_count_as_crashes),
		cmocka_unit_test(memory_restarts_are_not_crashes_but_back_off),
		cmocka_unit_test(backoff_jitter_stays_in_bounds),
		cmocka_unit_test(classify_uses_success_codes),
		cmocka_unit_test(history_is_bounded),
		cmocka_unit_test(at_once_is_what_the_verdict_does),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
