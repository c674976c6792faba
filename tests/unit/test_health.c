/* Unit tests of health.h: when checks run and what their results mean,
 * on plain numbers and a clock passed in (no probe, no process). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "health.h"

#define T0 1000000   /* any time: the rules only see differences */

static struct health_cfg defaults(void)
{
	return (struct health_cfg){ .interval_ms = 10000, .grace_ms = 30000,
	                            .strikes = 3 };
}

/* A failed readiness check AFTER ms since the spawn: the next one's delay. */
static uint64_t ready_retry(const struct health_cfg *c, uint64_t after)
{
	struct health_verdict v = health_ready_result(c, false, T0, T0 + after);
	assert_int_equal(v.action, HEALTH_AGAIN);
	return v.next_ms;
}

/* A health check of a running run ends at AT with OK: the next check
 * after health-interval, with STRIKES counted so far. */
static void expect_again(struct health_track *t, const struct health_cfg *c,
                         bool ok, uint64_t at, unsigned strikes)
{
	struct health_verdict v = health_result(t, c, ok, at);
	assert_int_equal(v.action, HEALTH_AGAIN);
	assert_int_equal(v.next_ms, c->interval_ms);
	assert_int_equal(t->strikes, strikes);
}

/* ... or the run ends after STRIKES failures in a row. */
static void expect_restart(struct health_track *t, const struct health_cfg *c,
                           uint64_t at, unsigned strikes)
{
	struct health_verdict v = health_result(t, c, false, at);
	assert_int_equal(v.action, HEALTH_RESTART);
	assert_int_equal(v.strikes, strikes);
}

static void readiness_pass_is_ready(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	assert_int_equal(health_ready_result(&c, true, T0, T0).action, HEALTH_READY);
	assert_int_equal(health_ready_result(&c, true, T0, T0 + 99999).action,
	                 HEALTH_READY);
}

/* A tenth of the time since the spawn, between 5 and 250 ms. */
static void readiness_retries_sooner_at_first(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	assert_int_equal(ready_retry(&c, 0), HEALTH_READY_MIN_MS);
	assert_int_equal(ready_retry(&c, 49), HEALTH_READY_MIN_MS);
	assert_int_equal(ready_retry(&c, 60), 6);
	assert_int_equal(ready_retry(&c, 1000), 100);
	assert_int_equal(ready_retry(&c, 2500), HEALTH_READY_MAX_MS);
	assert_int_equal(ready_retry(&c, 3600000), HEALTH_READY_MAX_MS);
}

/* A health-interval shorter than the cap is the cap; the floor stays. */
static void readiness_retry_never_later_than_interval(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	c.interval_ms = 40;
	assert_int_equal(ready_retry(&c, 0), HEALTH_READY_MIN_MS);
	assert_int_equal(ready_retry(&c, 300), 30);
	assert_int_equal(ready_retry(&c, 1000), 40);
	c.interval_ms = 2;
	assert_int_equal(ready_retry(&c, 0), 2);
}

/* The clock going nowhere (a result in the spawn's own millisecond, or a
 * start stamped later than the result) is time 0, not a huge delay. */
static void readiness_retry_clock_before_start(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	struct health_verdict v = health_ready_result(&c, false, T0, T0 - 5);
	assert_int_equal(v.next_ms, HEALTH_READY_MIN_MS);
}

static void first_check_after_grace(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	struct health_track t = { .strikes = 7 };
	assert_int_equal(health_begin(&t, &c, T0), 30000);
	assert_int_equal(t.strikes, 0);
	assert_int_equal(t.grace_until, T0 + 30000);
	/* No grace: the first check after an interval. */
	c.grace_ms = 0;
	assert_int_equal(health_begin(&t, &c, T0), 10000);
	assert_int_equal(t.grace_until, T0);
}

/* ready = health: the probe proved it; no grace. */
static void ready_by_probe_is_past_grace(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	c.ready_by_probe = true;
	struct health_track t;
	assert_int_equal(health_begin(&t, &c, T0), 10000);
	assert_int_equal(t.grace_until, T0);
	expect_again(&t, &c, false, T0 + 1, 1);
}

static void failures_in_grace_do_not_count(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	c.strikes = 1;
	struct health_track t;
	health_begin(&t, &c, T0);
	for (uint64_t at = T0; at < T0 + 30000; at += 1000)
		expect_again(&t, &c, false, at, 0);
	/* The grace's end is past it. */
	expect_restart(&t, &c, T0 + 30000, 1);
}

/* health-strikes failures in a row end the run; a pass between them
 * forgets the count; the next run (or a resume) begins afresh. */
static void strikes_in_a_row_restart(void **state)
{
	(void)state;
	struct health_cfg c = defaults();
	struct health_track t;
	health_begin(&t, &c, T0);
	uint64_t at = T0 + 30000;
	expect_again(&t, &c, false, at, 1);
	expect_again(&t, &c, false, at + 10000, 2);
	expect_again(&t, &c, true, at + 20000, 0);
	expect_again(&t, &c, false, at + 30000, 1);
	expect_again(&t, &c, false, at + 40000, 2);
	expect_restart(&t, &c, at + 50000, 3);
	assert_int_equal(health_begin(&t, &c, at + 60000), 30000);
	assert_int_equal(t.strikes, 0);
	expect_again(&t, &c, false, at + 70000, 0);   /* in the new grace */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(readiness_pass_is_ready),
		cmocka_unit_test(readiness_retries_sooner_at_first),
		cmocka_unit_test(readiness_retry_never_later_than_interval),
		cmocka_unit_test(readiness_retry_clock_before_start),
		cmocka_unit_test(first_check_after_grace),
		cmocka_unit_test(ready_by_probe_is_past_grace),
		cmocka_unit_test(failures_in_grace_do_not_count),
		cmocka_unit_test(strikes_in_a_row_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
