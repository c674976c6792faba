/* Unit tests for loop_backend.h, whichever file implements it (today
 * loop_epoll.c): what loop.c counts on from a backend, on real pipes and
 * signals.  A new backend (loop_kqueue.c) passes these as they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "loop.h"
#include "loop_backend.h"

struct pipe_fixture {
	struct loop_backend *b;
	int fds[2];
	int token;   /* its address is the watch's token */
};

static int setup(void **state)
{
	static struct pipe_fixture f;
	f.b = loop_backend_new();
	if (!f.b || pipe(f.fds) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct pipe_fixture *f = *state;
	loop_backend_free(f->b);
	close(f->fds[0]);
	close(f->fds[1]);
	return 0;
}

/* Nothing ready: a wait of 0 ms returns 0 at once. */
static void empty_wait_times_out(void **state)
{
	struct pipe_fixture *f = *state;
	struct loop_ready r[4];
	assert_int_equal(loop_backend_add(f->b, f->fds[0], EPOLLIN, &f->token), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 0), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 10), 0);
}

/* A readable fd is reported with its token and EPOLLIN, as long as it
 * stays readable (level-triggered: loop.c reads only what it wants). */
static void readable_is_reported_with_its_token(void **state)
{
	struct pipe_fixture *f = *state;
	struct loop_ready r[4];
	assert_int_equal(loop_backend_add(f->b, f->fds[0], EPOLLIN, &f->token), 0);
	assert_int_equal(write(f->fds[1], "x", 1), 1);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(loop_backend_wait(f->b, r, 4, 1000), 1);
		assert_ptr_equal(r[0].token, &f->token);
		assert_true(r[0].events & EPOLLIN);
	}
}

/* Interest changes with mod; 0 asks for nothing but errors and hangups,
 * and a hangup comes unasked; after del nothing comes. */
static void mod_and_del_change_what_comes(void **state)
{
	struct pipe_fixture *f = *state;
	struct loop_ready r[4];
	assert_int_equal(loop_backend_add(f->b, f->fds[1], EPOLLIN, &f->token), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 0), 0);
	assert_int_equal(loop_backend_mod(f->b, f->fds[1], EPOLLOUT, &f->token), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 1000), 1);
	assert_true(r[0].events & EPOLLOUT);
	assert_int_equal(loop_backend_mod(f->b, f->fds[1], 0, &f->token), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 0), 0);
	close(f->fds[0]);   /* the reader goes: an error on the writer */
	f->fds[0] = -1;
	assert_int_equal(loop_backend_wait(f->b, r, 4, 1000), 1);
	assert_true(r[0].events & (EPOLLERR | EPOLLHUP));
	assert_int_equal(loop_backend_del(f->b, f->fds[1]), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 0), 0);
	/* Del of an fd not in the set fails without harm. */
	assert_int_equal(loop_backend_del(f->b, f->fds[1]), -1);
}

/* More ready than MAX: MAX now, the rest at the next wait. */
static void a_wait_fetches_at_most_max(void **state)
{
	struct pipe_fixture *f = *state;
	int p[3][2];
	int tokens[3];
	struct loop_ready r[4];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pipe(p[i]), 0);
		assert_int_equal(write(p[i][1], "x", 1), 1);
		assert_int_equal(loop_backend_add(f->b, p[i][0], EPOLLIN, &tokens[i]), 0);
	}
	assert_int_equal(loop_backend_wait(f->b, r, 2, 1000), 2);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 1000), 3);
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

/* A routed signal is not delivered (SIGUSR1's default would end the
 * test) but wakes the wait with the signal source's token, and is taken
 * with its number, each routed signal through the one source. */
static void signals_come_through_the_source(void **state)
{
	struct pipe_fixture *f = *state;
	struct loop_ready r[4];
	int src;
	assert_int_equal(loop_backend_signal(f->b, SIGUSR1, &src), 0);
	assert_int_equal(loop_backend_signal(f->b, SIGUSR2, &src), 0);
	struct signalfd_siginfo si;
	assert_int_equal(loop_backend_signal_next(f->b, &si), 0);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(loop_backend_wait(f->b, r, 4, 1000), 1);
	assert_ptr_equal(r[0].token, &src);
	assert_true(r[0].events & EPOLLIN);
	int seen = 0;
	while (loop_backend_signal_next(f->b, &si) == 1)
		seen |= 1 << si.ssi_signo;
	assert_int_equal(seen, (1 << SIGUSR1) | (1 << SIGUSR2));
	assert_int_equal(loop_backend_wait(f->b, r, 4, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_wait_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(readable_is_reported_with_its_token,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(mod_and_del_change_what_comes,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(a_wait_fetches_at_most_max, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(signals_come_through_the_source,
		                                setup, teardown),
	};
	return cmocka_run_group_tests_name("loop_backend", tests, NULL, NULL);
}
