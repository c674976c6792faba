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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

/* Each fd_write_line test writes to a non-blocking pipe of the smallest
 * size the kernel gives (a page, 4 KiB here). */
struct pipe {
	int r, w;
	size_t size;
	char buf[2 * 65536];
};

static int pipe_teardown(void **state);

static int pipe_setup(void **state)
{
	struct pipe *t = calloc(1, sizeof(*t));
	int p[2];
	if (!t)
		return -1;
	*state = t;
	t->r = t->w = -1;
	int size = -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
		t->r = p[0];
		t->w = p[1];
		size = fcntl(t->w, F_SETPIPE_SZ, 4096);
	}
	if (size < 4096 || size > 65536) {
		pipe_teardown(state);
		return -1;
	}
	t->size = (size_t)size;
	return 0;
}

static int pipe_teardown(void **state)
{
	struct pipe *t = *state;
	if (t->r >= 0)
		close(t->r);
	if (t->w >= 0)
		close(t->w);
	free(t);
	return 0;
}

/* What is in the pipe now, into t->buf: its length. */
static size_t drain(struct pipe *t)
{
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(t->buf) &&
	       (r = read(t->r, t->buf + n, sizeof(t->buf) - n)) > 0)
		n += (size_t)r;
	return n;
}

static void test_whole_line(void **state)
{
	struct pipe *t = *state;
	assert_int_equal(fd_write_line(t->w, "one line\n", 9), 1);
	assert_int_equal(drain(t), 9);
	assert_memory_equal(t->buf, "one line\n", 9);
}

/* A full pipe: 0, and nothing of the line is in it. */
static void test_no_room(void **state)
{
	struct pipe *t = *state;
	char fill[65536];
	memset(fill, 'x', t->size);
	assert_int_equal(fd_write_line(t->w, fill, t->size), 1);
	assert_int_equal(fd_write_line(t->w, "late\n", 5), 0);
	size_t n = drain(t);
	assert_int_equal(n, t->size);
	assert_null(memchr(t->buf, 'l', n));
}

/* Longer than the pipe, nobody reading: what fit is out, the rest waited
 * for a moment and given up; still 1 (the part out is not taken back). */
static void test_part_then_gives_up(void **state)
{
	struct pipe *t = *state;
	char line[65536 + 100];
	size_t len = t->size + 100;
	memset(line, 'y', len);
	line[len - 1] = '\n';
	uint64_t t0 = mono_ms();
	assert_int_equal(fd_write_line(t->w, line, len), 1);
	uint64_t took = mono_ms() - t0;
	assert_true(took >= 90 && took < 5000);
	assert_int_equal(drain(t), t->size);
}

/* No reader: -1 with EPIPE, not 0 (no room would be counted as dropped
 * and told later; an error is nobody to tell). */
static void test_no_reader(void **state)
{
	struct pipe *t = *state;
	close(t->r);
	t->r = -1;
	errno = 0;
	assert_int_equal(fd_write_line(t->w, "gone\n", 5), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(fd_write_line(-1, "closed\n", 7), -1);
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

static void test_random_hex(void **state)
{
	(void)state;
	char a[65], b[65];
	memset(a, 'x', sizeof(a));
	assert_int_equal(random_hex(a, 32), 0);
	assert_int_equal(random_hex(b, 32), 0);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
	/* every byte value is two digits: over 64 draws each digit shows */
	int seen[16] = { 0 };
	for (int k = 0; k < 64; k++) {
		assert_int_equal(random_hex(b, 32), 0);
		for (size_t i = 0; i < 64; i++)
			seen[b[i] <= '9' ? b[i] - '0' : b[i] - 'a' + 10]++;
	}
	for (int d = 0; d < 16; d++)
		assert_true(seen[d] > 0);
}

/* Resident kilobytes of the file mappings that are not writable (code and
 * read-only data), from /proc/self/smaps; -1 when it cannot be read. */
static long code_rss_kib(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512], perms[8];
	long total = 0, kib;
	bool code = false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3)
			code = perms[1] != 'w' && strchr(line, '/') != NULL;
		else if (code && sscanf(line, "Rss: %ld kB", &kib) == 1)
			total += kib;
	}
	fclose(f);
	return total;
}

static int twice(int x)
{
	return 2 * x;
}

static void test_code_give_back(void **state)
{
	(void)state;
	long before = code_rss_kib();
	assert_true(before > 0);
	size_t given = code_give_back();
	/* This program's code and libc's, at least. */
	assert_true(given > 64 * 1024);
	/* What runs again maps its pages back: the rest stays out (the
	 * read of smaps itself runs code of libc and of this program). */
	long after = code_rss_kib();
	assert_true(after >= 0);
	assert_true(after < before);
	int (*volatile f)(int) = twice;
	assert_int_equal(f(21), 42);
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", f(2));
	assert_string_equal(buf, "4");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_line, pipe_setup, pipe_teardown),
		cmocka_unit_test_setup_teardown(test_no_room, pipe_setup, pipe_teardown),
		cmocka_unit_test_setup_teardown(test_part_then_gives_up, pipe_setup,
		                                pipe_teardown),
		cmocka_unit_test_setup_teardown(test_no_reader, pipe_setup, pipe_teardown),
		cmocka_unit_test(test_close_from),
		cmocka_unit_test(test_random_hex),
		cmocka_unit_test(test_code_give_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
