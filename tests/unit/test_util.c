/* Unit tests for util.c's descriptor helpers.  fd_write_line: a line goes
 * out whole, or not at all when the descriptor has no room, or whole after
 * a short wait when only a part fit; an error is told apart from no room.
 * fd_close_from: what it closes and what it leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

/* A non-blocking pipe of the smallest size the kernel gives (a page,
 * 4 KiB here): its size. */
static size_t small_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	int size = fcntl(p[1], F_SETPIPE_SZ, 4096);
	assert_true(size >= 4096 && size <= 65536);
	return (size_t)size;
}

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void test_whole_line(void **state)
{
	(void)state;
	int p[2];
	small_pipe(p);
	assert_int_equal(fd_write_line(p[1], "one line\n", 9), 1);
	char buf[64];
	assert_int_equal(drain(p[0], buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "one line\n", 9);
	close(p[0]);
	close(p[1]);
}

/* A full pipe: 0, and nothing of the line is in it. */
static void test_no_room(void **state)
{
	(void)state;
	int p[2];
	size_t size = small_pipe(p);
	char fill[65536], buf[2 * 65536];
	memset(fill, 'x', size);
	assert_int_equal(fd_write_line(p[1], fill, size), 1);
	assert_int_equal(fd_write_line(p[1], "late\n", 5), 0);
	size_t n = drain(p[0], buf, sizeof(buf));
	assert_int_equal(n, size);
	assert_null(memchr(buf, 'l', n));
	close(p[0]);
	close(p[1]);
}

/* Longer than the pipe, nobody reading: what fit is out, the rest waited
 * for a moment and given up; still 1 (the part out is not taken back). */
static void test_part_then_gives_up(void **state)
{
	(void)state;
	int p[2];
	size_t size = small_pipe(p);
	char line[65536 + 100], buf[2 * 65536];
	memset(line, 'y', size + 100);
	line[size + 99] = '\n';
	uint64_t t0 = mono_ms();
	assert_int_equal(fd_write_line(p[1], line, size + 100), 1);
	uint64_t took = mono_ms() - t0;
	assert_true(took >= 90 && took < 5000);
	assert_int_equal(drain(p[0], buf, sizeof(buf)), size);
	close(p[0]);
	close(p[1]);
}

/* No reader: -1 with EPIPE, not 0 (no room would be counted as dropped
 * and told later; an error is nobody to tell). */
static void test_no_reader(void **state)
{
	(void)state;
	int p[2];
	small_pipe(p);
	close(p[0]);
	errno = 0;
	assert_int_equal(fd_write_line(p[1], "gone\n", 5), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
	assert_int_equal(fd_write_line(p[1], "closed\n", 7), -1);
	assert_int_equal(errno, EBADF);
}

/* fd_close_from: every descriptor from MIN up is closed, those below are
 * not.  (High numbers: the test's own, cmocka's and ASan's stay open.) */
static void test_close_from(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dup2(p[0], 899), 899);
	assert_int_equal(dup2(p[0], 900), 900);
	assert_int_equal(dup2(p[1], 901), 901);
	assert_int_equal(dup2(p[1], 950), 950);
	assert_int_equal(fd_close_from(900), 0);
	assert_true(fcntl(899, F_GETFD) >= 0);
	assert_true(fcntl(p[0], F_GETFD) >= 0);
	int gone[] = { 900, 901, 950 };
	for (size_t i = 0; i < ARRAY_LEN(gone); i++) {
		errno = 0;
		assert_int_equal(fcntl(gone[i], F_GETFD), -1);
		assert_int_equal(errno, EBADF);
	}
	close(899);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_line),
		cmocka_unit_test(test_no_room),
		cmocka_unit_test(test_part_then_gives_up),
		cmocka_unit_test(test_no_reader),
		cmocka_unit_test(test_close_from),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
