/* Unit tests of debounce.h: when a burst of changes fires, on times passed
 * in (no inotify, no timer; test_watch.c has the real thing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "debounce.h"

#define T0 5000000

static void max_wait_is_ten_quiet_periods_at_least_a_second(void **state)
{
	(void)state;
	assert_int_equal(debounce_max_wait(0), 1000);
	assert_int_equal(debounce_max_wait(50), 1000);
	assert_int_equal(debounce_max_wait(100), 1000);
	assert_int_equal(debounce_max_wait(300), 3000);
	assert_int_equal(debounce_max_wait(UINT64_MAX / 2), UINT64_MAX);
}

static void one_change_fires_after_quiet(void **state)
{
	(void)state;
	struct debounce d;
	debounce_init(&d, 300);
	assert_true(debounce_change(&d, T0));
	assert_int_equal(debounce_due(&d), T0 + 300);
	assert_int_equal(debounce_wait(&d, T0), 300);
	assert_int_equal(debounce_wait(&d, T0 + 299), 1);
	assert_int_equal(debounce_wait(&d, T0 + 300), 0);
	assert_int_equal(debounce_wait(&d, T0 + 9999), 0);   /* a late timer */
	assert_int_equal(debounce_take(&d), 1);
	assert_int_equal(d.count, 0);
}

/* Changes closer than the quiet period are one burst, fired once after
 * the last; the next change begins a new burst. */
static void close_changes_are_one_burst(void **state)
{
	(void)state;
	struct debounce d;
	debounce_init(&d, 300);
	assert_true(debounce_change(&d, T0));
	assert_false(debounce_change(&d, T0 + 200));
	assert_false(debounce_change(&d, T0 + 400));
	/* The timer armed at the first change fires at T0 + 300: too soon. */
	assert_int_equal(debounce_wait(&d, T0 + 300), 400);
	assert_int_equal(debounce_wait(&d, T0 + 700), 0);
	assert_int_equal(debounce_take(&d), 3);
	assert_true(debounce_change(&d, T0 + 800));
	assert_int_equal(d.first_at, T0 + 800);
	assert_int_equal(debounce_due(&d), T0 + 1100);
}

/* A stream that never pauses fires at the cap, counted from its first
 * change. */
static void endless_stream_fires_at_max_wait(void **state)
{
	(void)state;
	struct debounce d;
	debounce_init(&d, 300);
	uint64_t at = T0;
	debounce_change(&d, at);
	while (debounce_wait(&d, at) > 0) {
		at += 100;
		assert_true(at <= T0 + 3000);
		debounce_change(&d, at);
	}
	assert_int_equal(at, T0 + 3000);
	assert_int_equal(debounce_due(&d), T0 + 3000);
	assert_int_equal(debounce_take(&d), 31);
}

static void quiet_zero_fires_at_once(void **state)
{
	(void)state;
	struct debounce d;
	debounce_init(&d, 0);
	debounce_change(&d, T0);
	assert_int_equal(debounce_wait(&d, T0), 0);
	assert_int_equal(debounce_take(&d), 1);
}

/* Far-away deadlines saturate instead of wrapping round to "now". */
static void huge_quiet_never_wraps(void **state)
{
	(void)state;
	struct debounce d;
	debounce_init(&d, UINT64_MAX - 10);
	debounce_change(&d, T0);
	assert_int_equal(debounce_due(&d), UINT64_MAX);
	assert_true(debounce_wait(&d, T0 + 1000) > 0);
}

static void count_saturates(void **state)
{
	(void)state;
	struct debounce d;
	debounce_init(&d, 300);
	debounce_change(&d, T0);
	d.count = SIZE_MAX - 1;
	assert_false(debounce_change(&d, T0 + 1));
	assert_false(debounce_change(&d, T0 + 2));
	assert_int_equal(debounce_take(&d), SIZE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(max_wait_is_ten_quiet_periods_at_least_a_second),
		cmocka_unit_test(one_change_fires_after_quiet),
		cmocka_unit_test(close_changes_are_one_burst),
		cmocka_unit_test(endless_stream_fires_at_max_wait),
		cmocka_unit_test(quiet_zero_fires_at_once),
		cmocka_unit_test(huge_quiet_never_wraps),
		cmocka_unit_test(count_saturates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
