/* Unit tests for loop.c: the suspend decision on injected clocks, and
 * timers on a real loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

static void resume_decision(void **state)
{
	(void)state;
	struct resume_watch w = { 0 };
	/* The first look only takes the measure, whatever the gap. */
	assert_int_equal(resume_check(&w, 1000, 51000), 0);
	/* Both clocks move together: awake. */
	assert_int_equal(resume_check(&w, 2000, 52000), 0);
	assert_int_equal(resume_check(&w, 900000, 950000), 0);
	/* Noise under a second is not a suspend (and does not add up). */
	assert_int_equal(resume_check(&w, 901000, 951999), 0);
	assert_int_equal(resume_check(&w, 902000, 952999), 0);
	assert_int_equal(resume_check(&w, 903000, 953999), 0);
	/* An hour asleep: CLOCK_BOOTTIME moved on, CLOCK_MONOTONIC did not. */
	assert_int_equal(resume_check(&w, 903010, 953010 + 3600000), 3600000);
	/* Reported once. */
	assert_int_equal(resume_check(&w, 903020, 953020 + 3600000), 0);
	/* A second, shorter suspend is measured from the first. */
	assert_int_equal(resume_check(&w, 904000, 954000 + 3600000 + 5000), 5000);
	/* Exactly the threshold counts; just under does not. */
	struct resume_watch v = { 0 };
	resume_check(&v, 0, 0);
	assert_int_equal(resume_check(&v, 10, 10 + RESUME_MIN_MS - 1), 0);
	assert_int_equal(resume_check(&v, 20, 20 + RESUME_MIN_MS), RESUME_MIN_MS);
	/* A gap that shrinks (clocks read out of order) resets the measure
	 * instead of reporting nonsense later. */
	struct resume_watch x = { 0 };
	resume_check(&x, 100, 5100);
	assert_int_equal(resume_check(&x, 200, 5000), 0);
	assert_int_equal(resume_check(&x, 300, 5100 + 2000), 2000);
}

struct order { int seen[4]; int n; };
struct tick { struct loop_timer t; int id; struct order *o; };

static void on_t(struct loop *lp, struct loop_timer *t)
{
	struct tick *k = t->data;
	k->o->seen[k->o->n++] = k->id;
	if (k->o->n == 3)
		loop_stop(lp);
}

static void timers_fire_in_order(void **state)
{
	(void)state;
	struct loop *lp = loop_new();
	assert_non_null(lp);
	struct order o = { .n = 0 };
	struct tick k[3] = { { .id = 0, .o = &o }, { .id = 1, .o = &o },
	                     { .id = 2, .o = &o } };
	uint64_t t0 = mono_ms();
	loop_timer_start(lp, &k[2].t, 30, on_t, &k[2]);
	loop_timer_start(lp, &k[0].t, 10, on_t, &k[0]);
	loop_timer_start(lp, &k[1].t, 20, on_t, &k[1]);
	assert_int_equal(loop_run(lp), 0);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.seen[0], 0);
	assert_int_equal(o.seen[1], 1);
	assert_int_equal(o.seen[2], 2);
	assert_true(mono_ms() - t0 >= 30);
	/* No busy loop: three timers, a handful of wakeups. */
	assert_true(loop_wakeups(lp) <= 6);
	loop_free(lp);
}

/* A machine that "sleeps" 5 s inside a timer callback: the boot clock
 * jumps, the monotonic one does not. */
static uint64_t slept;
static uint64_t fake_boot(void) { return boot_ms() + slept; }

struct resumed { uint64_t asleep; int timers_after; };

static void on_resumed(struct loop *lp, uint64_t asleep_ms, void *data)
{
	struct resumed *r = data;
	r->asleep = asleep_ms;
	loop_stop(lp);
}

static void on_sleep(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	(void)t;
	slept = 5000;
}

static void on_later(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct resumed *r = t->data;
	r->timers_after++;
}

static void resume_is_told_before_timers(void **state)
{
	(void)state;
	struct loop *lp = loop_new();
	struct resumed r = { 0 };
	slept = 0;
	loop_boot_clock(lp, fake_boot);
	loop_on_resume(lp, on_resumed, &r);
	struct loop_timer sleep_t = { 0 }, later = { 0 };
	loop_timer_start(lp, &sleep_t, 5, on_sleep, NULL);
	/* The wakeup after the "suspend": its timer must not run before the
	 * resume is told (the hook stops the loop). */
	loop_timer_start(lp, &later, 30, on_later, &r);
	assert_int_equal(loop_run(lp), 0);
	assert_true(r.asleep >= 5000 && r.asleep < 5500);
	assert_int_equal(r.timers_after, 0);
	loop_timer_stop(lp, &later);
	loop_free(lp);
}

/* A gap in the loop (here: a slow callback, 60 ms) while a timer falls
 * due and descriptors become readable: they are seen first, and the
 * timer's callback can tell that they were (a ping that came in time is
 * no missed deadline).  Also with more ready than one wait fetches. */
struct gap {
	struct loop_io io[81];
	int fds[81][2];
	int read, read_at_timer;
};

static void on_gap_io(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct gap *g = io->data;
	char c;
	if (read(io->fd, &c, 1) == 1)
		g->read++;
	loop_io_del(lp, io);
	if (io == &g->io[80]) {
		/* the slow callback: meanwhile 80 others become ready */
		usleep(60000);
		for (int i = 0; i < 80; i++)
			assert_int_equal(write(g->fds[i][1], "x", 1), 1);
	}
}

static void on_gap_timer(struct loop *lp, struct loop_timer *t)
{
	struct gap *g = t->data;
	g->read_at_timer = g->read;
	loop_stop(lp);
}

static void descriptors_before_due_timers(void **state)
{
	(void)state;
	struct loop *lp = loop_new();
	static struct gap g;
	struct loop_timer t = { 0 };
	for (int i = 0; i < 81; i++) {
		assert_int_equal(pipe(g.fds[i]), 0);
		assert_int_equal(loop_io_add(lp, &g.io[i], g.fds[i][0], EPOLLIN,
		                             on_gap_io, &g), 0);
	}
	assert_int_equal(write(g.fds[80][1], "x", 1), 1);
	loop_timer_start(lp, &t, 20, on_gap_timer, &g);
	assert_int_equal(loop_run(lp), 0);
	assert_int_equal(g.read_at_timer, 81);
	for (int i = 0; i < 81; i++) {
		close(g.fds[i][0]);
		close(g.fds[i][1]);
	}
	loop_free(lp);
}

/* A watch removed by a callback never fires again, not even later in
 * the batch that was fetched with it: two ready pipes, each callback
 * removes the other's watch, so exactly one runs. */
struct pair { struct loop_io io[2]; int fired; };

static void on_pair(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct pair *p = io->data;
	p->fired++;
	loop_io_del(lp, &p->io[io == &p->io[0] ? 1 : 0]);
	loop_io_del(lp, io);
}

static void on_pair_done(struct loop *lp, struct loop_timer *t)
{
	(void)t;
	loop_stop(lp);
}

static void removed_watch_never_fires(void **state)
{
	(void)state;
	struct loop *lp = loop_new();
	struct pair p = { 0 };
	int fds[2][2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		assert_int_equal(write(fds[i][1], "x", 1), 1);
		assert_int_equal(loop_io_add(lp, &p.io[i], fds[i][0], EPOLLIN,
		                             on_pair, &p), 0);
	}
	struct loop_timer t = { 0 };
	loop_timer_start(lp, &t, 50, on_pair_done, NULL);
	assert_int_equal(loop_run(lp), 0);
	assert_int_equal(p.fired, 1);
	for (int i = 0; i < 2; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	loop_free(lp);
}

/* A routed signal runs its callback from the loop, with its number. */
static void on_usr1(struct loop *lp, int signo, void *data)
{
	*(int *)data = signo;
	loop_stop(lp);
}

static void signal_runs_its_callback(void **state)
{
	(void)state;
	struct loop *lp = loop_new();
	int got = 0;
	assert_int_equal(loop_signal(lp, SIGUSR1, on_usr1, &got), 0);
	assert_int_equal(loop_signal(lp, 0, on_usr1, &got), -1);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(loop_run(lp), 0);
	assert_int_equal(got, SIGUSR1);
	loop_free(lp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resume_decision),
		cmocka_unit_test(timers_fire_in_order),
		cmocka_unit_test(resume_is_told_before_timers),
		cmocka_unit_test(descriptors_before_due_timers),
		cmocka_unit_test(removed_watch_never_fires),
		cmocka_unit_test(signal_runs_its_callback),
	};
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
