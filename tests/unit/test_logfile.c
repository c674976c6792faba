/* Unit tests for logfile.c: the rotating writer, the last lines of a
 * rotated set, and the follower across appends, rotation and truncation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "logfile.h"
#include "util.h"

/* ---- a temporary directory per test ---- */

struct tmp {
	char dir[64];
	char *log; /* DIR/log */
};

static int tmp_setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	strcpy(t->dir, "/tmp/tend-logfile-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	t->log = xasprintf("%s/log", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	DIR *d = opendir(t->dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	int r = rmdir(t->dir);
	free(t->log);
	free(t);
	return r;
}

/* DIR/NAME, or PATH.I (PATH for 0). */
static char *in_dir(const struct tmp *t, const char *name)
{
	return xasprintf("%s/%s", t->dir, name);
}

static char *rotated(const struct tmp *t, unsigned i)
{
	return i ? xasprintf("%s.%u", t->log, i) : xstrdup(t->log);
}

/* The whole content of PATH, or NULL when it does not exist. */
static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		assert_int_equal(errno, ENOENT);
		return NULL;
	}
	struct buf b = { 0 };
	char chunk[4096];
	ssize_t r;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)r);
	assert_int_equal(r, 0);
	close(fd);
	return buf_take(&b);
}

static void assert_file(const char *path, const char *want)
{
	char *got = slurp(path);
	if (!want) {
		if (got)
			fail_msg("%s exists: \"%s\"", path, got);
		return;
	}
	if (!got)
		fail_msg("%s is missing", path);
	assert_string_equal(got, want);
	free(got);
}

static void assert_rotated(const struct tmp *t, unsigned i, const char *want)
{
	char *p = rotated(t, i);
	assert_file(p, want);
	free(p);
}

static void put(const char *path, int flags, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void put_rotated(const struct tmp *t, unsigned i, const char *s)
{
	char *p = rotated(t, i);
	put(p, O_TRUNC, s);
	free(p);
}

static void lwrite(struct logfile *lf, const char *s)
{
	assert_int_equal(logfile_write(lf, s, strlen(s)), 0);
}

/* ---- lines as a reader reports them: "IDX:LINE\n" each ---- */

static void collect(void *data, size_t idx, const char *line, size_t len)
{
	struct buf *b = data;
	char *s = xasprintf("%zu:", idx);
	buf_adds(b, s);
	buf_add(b, line, len);
	buf_addc(b, '\n');
	free(s);
}

static void assert_lines(struct buf *got, const char *want)
{
	char *s = buf_take(got);
	assert_string_equal(s, want);
	free(s);
}

static void assert_last(const char *path, unsigned keep, long n,
                        const char *want)
{
	struct buf got = { 0 };
	assert_int_equal(logfile_last(path, keep, n, 4, collect, &got), 0);
	assert_lines(&got, want);
}

/* ---- writer ---- */

static void test_write_rotate(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 10, 3), 0);
	assert_true(lf.fd >= 0);
	assert_int_equal(lf.size, 0);

	struct stat st;
	assert_int_equal(stat(t->log, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	lwrite(&lf, "aaaa\n");
	lwrite(&lf, "bbbb\n"); /* exactly MAX: no rotation yet */
	assert_int_equal(lf.size, 10);
	assert_rotated(t, 1, NULL);
	lwrite(&lf, "cccc\n");
	assert_int_equal(lf.size, 5);
	assert_rotated(t, 0, "cccc\n");
	assert_rotated(t, 1, "aaaa\nbbbb\n");
	assert_rotated(t, 2, NULL);

	lwrite(&lf, "dd\n");
	lwrite(&lf, "eee\n"); /* 5 + 3 + 4 > 10 */
	assert_rotated(t, 0, "eee\n");
	assert_rotated(t, 1, "cccc\ndd\n");
	assert_rotated(t, 2, "aaaa\nbbbb\n");

	lwrite(&lf, "ffffffff\n");
	lwrite(&lf, "g\n");
	assert_rotated(t, 0, "g\n");
	assert_rotated(t, 1, "ffffffff\n");
	assert_rotated(t, 2, "eee\n");
	assert_rotated(t, 3, "cccc\ndd\n");
	assert_rotated(t, 4, NULL); /* "aaaa\nbbbb\n" was dropped */

	lwrite(&lf, "hhhhhhhhhh\n");
	assert_rotated(t, 0, "hhhhhhhhhh\n");
	assert_rotated(t, 1, "g\n");
	assert_rotated(t, 2, "ffffffff\n");
	assert_rotated(t, 3, "eee\n");
	assert_rotated(t, 4, NULL);

	logfile_close(&lf);
	assert_int_equal(lf.fd, -1);
	assert_null(lf.path);
	logfile_close(&lf); /* twice is harmless */
}

static void test_reopen_size(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 10, 3), 0);
	lwrite(&lf, "1234567\n");
	logfile_close(&lf);

	assert_int_equal(logfile_open(&lf, t->log, 10, 3), 0);
	assert_int_equal(lf.size, 8);
	lwrite(&lf, "a\n"); /* 10: fits */
	assert_rotated(t, 1, NULL);
	lwrite(&lf, "b\n");
	assert_rotated(t, 1, "1234567\na\n");
	assert_rotated(t, 0, "b\n");
	assert_int_equal(lf.size, 2);
	logfile_close(&lf);
}

static void test_max_zero(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 0, 3), 0);
	for (int i = 0; i < 1000; i++)
		lwrite(&lf, "0123456789\n");
	assert_int_equal(lf.size, 11000);
	assert_rotated(t, 1, NULL);
	struct stat st;
	assert_int_equal(stat(t->log, &st), 0);
	assert_int_equal(st.st_size, 11000);
	logfile_close(&lf);
}

static void test_oversize_write(void **state)
{
	struct tmp *t = *state;
	const char *big = "0123456789abcdefghijklmn\n"; /* 25 bytes */
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 10, 3), 0);

	/* An empty file takes it as it is. */
	lwrite(&lf, big);
	assert_int_equal(lf.size, 25);
	assert_rotated(t, 0, big);
	assert_rotated(t, 1, NULL);

	lwrite(&lf, "a\n");
	assert_rotated(t, 0, "a\n");
	assert_rotated(t, 1, big);

	/* Otherwise into a fresh file. */
	lwrite(&lf, big);
	assert_int_equal(lf.size, 25);
	assert_rotated(t, 0, big);
	assert_rotated(t, 1, "a\n");
	assert_rotated(t, 2, big);
	logfile_close(&lf);
}

static void test_set_max(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 0, 2), 0);
	lwrite(&lf, "one\n");
	lwrite(&lf, "two\n");
	logfile_set_max(&lf, 5); /* already past it: the next write rotates */
	assert_rotated(t, 1, NULL);
	lwrite(&lf, "x\n");
	assert_rotated(t, 0, "x\n");
	assert_rotated(t, 1, "one\ntwo\n");
	logfile_set_max(&lf, 0);
	lwrite(&lf, "yyyyyyyyyy\n");
	assert_rotated(t, 0, "x\nyyyyyyyyyy\n");
	logfile_close(&lf);
}

static void test_keep_zero(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 4, 0), 0);
	lwrite(&lf, "ab\n");
	lwrite(&lf, "cd\n");
	assert_rotated(t, 0, "cd\n");
	assert_rotated(t, 1, NULL);
	logfile_close(&lf);
}

static void test_open_fails(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	char *p = in_dir(t, "no/such/dir");
	errno = 0;
	assert_int_equal(logfile_open(&lf, p, 10, 3), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(lf.fd, -1);
	assert_null(lf.path);
	logfile_close(&lf);
	free(p);
}

/* No symbolic link is written or read through: the writer's open fails
 * with ELOOP (nothing made at the target), the reader's too; a link in
 * place of a rotated file is replaced by the rotation, not followed. */
static void test_links_not_followed(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	char *target = in_dir(t, "target");
	assert_int_equal(symlink(target, t->log), 0);
	errno = 0;
	assert_int_equal(logfile_open(&lf, t->log, 10, 3), -1);
	assert_int_equal(errno, ELOOP);
	struct stat st;
	assert_int_equal(lstat(target, &st), -1);
	put(target, O_CREAT, "secret\n");
	struct buf got = { 0 };
	errno = 0;
	assert_int_equal(logfile_last(t->log, 3, 5, 4, collect, &got), -1);
	assert_int_equal(errno, ELOOP);
	assert_null(got.s);
	assert_int_equal(unlink(t->log), 0);

	char *r1 = rotated(t, 1);
	assert_int_equal(symlink(target, r1), 0);
	assert_int_equal(logfile_open(&lf, t->log, 10, 3), 0);
	lwrite(&lf, "0123456789\n");
	lwrite(&lf, "abc\n");            /* rotates: log -> log.1 */
	logfile_close(&lf);
	assert_int_equal(lstat(r1, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file(r1, "0123456789\n");
	assert_file(target, "secret\n");
	free(r1);
	free(target);
}

/* logfile_openat works in its directory, wherever that directory goes:
 * the rotations happen in it even after it was renamed. */
static void test_openat_follows_the_directory(void **state)
{
	struct tmp *t = *state;
	char *d = in_dir(t, "d"), *moved = in_dir(t, "moved");
	assert_int_equal(mkdir(d, 0700), 0);
	int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct logfile lf;
	assert_int_equal(logfile_openat(&lf, dfd, "x.log", 10, 1), 0);
	lwrite(&lf, "0123456789\n");
	assert_int_equal(rename(d, moved), 0);
	lwrite(&lf, "abc\n");            /* rotates, in MOVED */
	logfile_close(&lf);
	char *x = xasprintf("%s/x.log", moved), *x1 = xasprintf("%s/x.log.1", moved);
	assert_file(x1, "0123456789\n");
	assert_file(x, "abc\n");
	struct stat st;
	assert_int_equal(lstat(d, &st), -1);   /* nothing made at the old path */
	assert_int_equal(unlink(x), 0);
	assert_int_equal(unlink(x1), 0);
	assert_int_equal(rmdir(moved), 0);
	close(dfd);
	free(x);
	free(x1);
	free(d);
	free(moved);
}

/* A full disk: the write fails with its errno, nothing changes. */
static void test_write_enospc(void **state)
{
	(void)state;
	struct logfile lf;
	if (logfile_open(&lf, "/dev/full", 0, 3) < 0)
		skip();
	errno = 0;
	assert_int_equal(logfile_write(&lf, "x\n", 2), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(lf.size, 0);
	logfile_close(&lf);
}

/* A write that got only part of its bytes out (RLIMIT_FSIZE stands for the
 * disk filling up mid-write): the part is taken back, SIZE stays right. */
static void test_write_partial(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 1000, 3), 0);
	lwrite(&lf, "0123456789\n");

	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 16;
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	errno = 0;
	int r = logfile_write(&lf, "abcdefghij\n", 11);
	int e = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);

	assert_int_equal(r, -1);
	assert_int_equal(e, EFBIG);
	assert_int_equal(lf.size, 11);
	assert_rotated(t, 0, "0123456789\n");

	lwrite(&lf, "abcdefghij\n");
	assert_int_equal(lf.size, 22);
	assert_rotated(t, 0, "0123456789\nabcdefghij\n");
	logfile_close(&lf);
}

/* ---- last lines ---- */

/* log.3 .. log: 1 2 | 3 | 4 5 6 | 7 8 (no newline after 8). */
static void make_set(const struct tmp *t)
{
	put_rotated(t, 3, "1\n2\n");
	put_rotated(t, 2, "3\n");
	put_rotated(t, 1, "4\n5\n6\n");
	put_rotated(t, 0, "7\n8");
}

static void test_last_counts(void **state)
{
	struct tmp *t = *state;
	make_set(t);
	const char *all = "4:1\n4:2\n4:3\n4:4\n4:5\n4:6\n4:7\n4:8\n";
	assert_last(t->log, 3, 0, "");
	assert_last(t->log, 3, 1, "4:8\n");
	assert_last(t->log, 3, 2, "4:7\n4:8\n");
	assert_last(t->log, 3, 3, "4:6\n4:7\n4:8\n");
	assert_last(t->log, 3, 5, "4:4\n4:5\n4:6\n4:7\n4:8\n");
	assert_last(t->log, 3, 6, "4:3\n4:4\n4:5\n4:6\n4:7\n4:8\n");
	assert_last(t->log, 3, 7, "4:2\n4:3\n4:4\n4:5\n4:6\n4:7\n4:8\n");
	assert_last(t->log, 3, 8, all);
	assert_last(t->log, 3, 100, all);
	assert_last(t->log, 3, -1, all);
	/* KEEP says how far back the set goes. */
	assert_last(t->log, 1, -1, "4:4\n4:5\n4:6\n4:7\n4:8\n");
	assert_last(t->log, 0, 100, "4:7\n4:8\n");
}

static void test_last_missing(void **state)
{
	struct tmp *t = *state;
	assert_last(t->log, 3, 5, "");
	assert_last(t->log, 3, -1, "");

	make_set(t);
	char *p = rotated(t, 2);
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_last(t->log, 3, 4, "4:5\n4:6\n4:7\n4:8\n");
	assert_last(t->log, 3, 6, "4:2\n4:4\n4:5\n4:6\n4:7\n4:8\n");
	assert_last(t->log, 3, -1, "4:1\n4:2\n4:4\n4:5\n4:6\n4:7\n4:8\n");

	assert_int_equal(unlink(t->log), 0);
	assert_last(t->log, 3, 2, "4:5\n4:6\n");

	/* An empty current file. */
	put(t->log, O_TRUNC, "");
	assert_last(t->log, 3, 1, "4:6\n");
}

static void test_last_empty_lines(void **state)
{
	struct tmp *t = *state;
	put(t->log, O_TRUNC, "a\n\n\nb\n\n");
	assert_last(t->log, 0, 1, "4:\n");
	assert_last(t->log, 0, 2, "4:b\n4:\n");
	assert_last(t->log, 0, 3, "4:\n4:b\n4:\n");
	assert_last(t->log, 0, -1, "4:a\n4:\n4:\n4:b\n4:\n");
	put(t->log, O_TRUNC, "\n");
	assert_last(t->log, 0, 1, "4:\n");
	assert_last(t->log, 0, 5, "4:\n");
}

/* A string of N bytes of C. */
static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_last_long_line(void **state)
{
	struct tmp *t = *state;
	char *exact = repeat('e', LOGFILE_LINE_MAX);
	char *cut = repeat('x', LOGFILE_LINE_MAX);
	char *longer = repeat('x', LOGFILE_LINE_MAX * 3 + 17);

	char *content = xasprintf("first\n%s\n%s\nend", longer, exact);
	put(t->log, O_TRUNC, content);
	char *want = xasprintf("4:%s\n4:%s\n4:end\n", cut, exact);
	assert_last(t->log, 0, 3, want);
	free(want);
	want = xasprintf("4:first\n4:%s\n4:%s\n4:end\n", cut, exact);
	assert_last(t->log, 0, -1, want);
	free(want);
	free(content);

	/* A long last line without a newline, then one in an older file. */
	put(t->log, O_TRUNC, longer);
	content = xasprintf("old\n%s\n", longer);
	put_rotated(t, 1, content);
	want = xasprintf("4:%s\n4:%s\n", cut, cut);
	assert_last(t->log, 1, 2, want);
	free(want);
	free(content);

	free(exact);
	free(cut);
	free(longer);
}

/* Many chunks: the backward scan crosses chunk edges at every offset. */
static void test_last_big_file(void **state)
{
	struct tmp *t = *state;
	const int lines = 60000;
	struct buf b = { 0 };
	for (int i = 0; i < lines; i++) {
		char *s = xasprintf("line %d%s\n", i, i % 7 ? "" : " seven");
		buf_adds(&b, s);
		free(s);
	}
	put(t->log, O_TRUNC, b.s);
	put_rotated(t, 1, b.s);
	free(b.s);

	static const long ns[] = { 1, 2, 3, 100, 4097, 12345, 59999, 60000,
	                           60001, 100000, 120000, 120001 };
	for (size_t k = 0; k < ARRAY_LEN(ns); k++) {
		long n = ns[k], total = 2L * lines;
		long from = n < total ? total - n : 0;
		struct buf want = { 0 };
		for (long i = from; i < total; i++) {
			long j = i % lines;
			char *s = xasprintf("4:line %ld%s\n", j, j % 7 ? "" : " seven");
			buf_adds(&want, s);
			free(s);
		}
		char *w = buf_take(&want);
		assert_last(t->log, 3, n, w);
		free(w);
	}
}

/* ---- follower ---- */

/* Whether the follower's fd becomes readable within a second. */
static bool woken(struct logfile_follow *f)
{
	struct pollfd p = { .fd = logfile_follow_fd(f), .events = POLLIN };
	return poll(&p, 1, 1000) == 1;
}

static void assert_follow(struct logfile_follow *f, const char *want)
{
	struct buf got = { 0 };
	assert_int_equal(logfile_follow_read(f, collect, &got), 0);
	assert_lines(&got, want);
}

static void test_follow_append(void **state)
{
	struct tmp *t = *state;
	put(t->log, O_TRUNC, "old\nlines\n");
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "log", 7);
	assert_follow(f, ""); /* what was there before is not followed */

	put(t->log, O_APPEND, "a\nb\n");
	assert_true(woken(f));
	assert_follow(f, "7:a\n7:b\n");
	/* Drained: nothing wakes it now. */
	struct pollfd p = { .fd = logfile_follow_fd(f), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_follow(f, "");

	put(t->log, O_APPEND, "c\n");
	put(t->log, O_APPEND, "d\n");
	assert_true(woken(f));
	assert_follow(f, "7:c\n7:d\n");
	logfile_follow_free(f);
}

static void test_follow_partial(void **state)
{
	struct tmp *t = *state;
	put(t->log, O_TRUNC, "");
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "log", 0);

	put(t->log, O_APPEND, "par");
	assert_true(woken(f));
	assert_follow(f, "");
	put(t->log, O_APPEND, "t");
	assert_follow(f, "");
	put(t->log, O_APPEND, "ial\nnext");
	assert_follow(f, "0:partial\n");
	put(t->log, O_APPEND, "\n\n");
	assert_follow(f, "0:next\n0:\n");

	/* A long line, in pieces: cut, the rest dropped, the next whole. */
	char *half = repeat('h', LOGFILE_LINE_MAX / 2 + 10);
	char *cut = repeat('h', LOGFILE_LINE_MAX);
	put(t->log, O_APPEND, half);
	assert_follow(f, "");
	put(t->log, O_APPEND, half);
	assert_follow(f, "");
	put(t->log, O_APPEND, half);
	assert_follow(f, "");
	put(t->log, O_APPEND, "\nafter\n");
	char *want = xasprintf("0:%s\n0:after\n", cut);
	assert_follow(f, want);
	free(want);

	/* ... and one in a single read. */
	char *whole = xasprintf("%s%s\nx\n", half, half);
	put(t->log, O_APPEND, whole);
	want = xasprintf("0:%s\n0:x\n", cut);
	assert_follow(f, want);
	free(want);
	free(whole);
	free(half);
	free(cut);
	logfile_follow_free(f);
}

/* The old file gets more after the follower's last read, then is renamed
 * away; a new one is created.  Every line once, in order. */
static void test_follow_rotation(void **state)
{
	struct tmp *t = *state;
	int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "log", 1);

	assert_int_equal(write(fd, "1\n", 2), 2);
	assert_follow(f, "1:1\n");
	assert_int_equal(write(fd, "2\n", 2), 2);
	char *log1 = rotated(t, 1);
	assert_int_equal(rename(t->log, log1), 0);
	assert_int_equal(write(fd, "3\n", 2), 2);
	close(fd);
	put(t->log, O_TRUNC, "4\n5\n");
	assert_true(woken(f));
	assert_follow(f, "1:2\n1:3\n1:4\n1:5\n");
	put(t->log, O_APPEND, "6\n");
	assert_follow(f, "1:6\n");
	put(log1, O_APPEND, "not followed\n");
	assert_follow(f, "");

	/* Read between the rename and the new file; the old one's last line
	 * has no newline: it ends with the file, once the new one is there. */
	put(t->log, O_APPEND, "7\n8");
	assert_int_equal(rename(t->log, log1), 0);
	assert_follow(f, "1:7\n");
	assert_follow(f, "");
	put(log1, O_APPEND, "8");
	assert_follow(f, "");
	put(t->log, O_TRUNC, "9\n");
	assert_follow(f, "1:88\n1:9\n");
	free(log1);
	logfile_follow_free(f);
}

/* Several rotations between two reads: the files rotated in between are
 * read whole, between the old file and the new one. */
static void test_follow_rotated_twice(void **state)
{
	struct tmp *t = *state;
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 6, 3), 0);
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "log", 0);

	lwrite(&lf, "a\n");
	lwrite(&lf, "b\n");
	assert_follow(f, "0:a\n0:b\n");
	lwrite(&lf, "c\n");
	lwrite(&lf, "d\n"); /* rotates */
	lwrite(&lf, "e\n");
	lwrite(&lf, "f\n");
	lwrite(&lf, "g\n"); /* rotates */
	lwrite(&lf, "h\n");
	assert_rotated(t, 2, "a\nb\nc\n");
	assert_follow(f, "0:c\n0:d\n0:e\n0:f\n0:g\n0:h\n");

	/* Three: the old file is the oldest kept. */
	lwrite(&lf, "i\n");
	lwrite(&lf, "jjjjj\n");
	lwrite(&lf, "kkkkk\n");
	lwrite(&lf, "l\n");
	assert_rotated(t, 3, "g\nh\ni\n");
	assert_follow(f, "0:i\n0:jjjjj\n0:kkkkk\n0:l\n");
	logfile_close(&lf);
	logfile_follow_free(f);
}

/* The writer and the follower together, rotating often, read after every
 * EVERY lines. */
static void follow_writer(const struct tmp *t, int every)
{
	struct logfile lf;
	assert_int_equal(logfile_open(&lf, t->log, 40, 3), 0);
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "log", 2);

	struct buf want = { 0 }, got = { 0 };
	for (int i = 0; i < 300; i++) {
		char *s = xasprintf("line %d\n", i);
		lwrite(&lf, s);
		free(s);
		s = xasprintf("2:line %d\n", i);
		buf_adds(&want, s);
		free(s);
		if (i % every == every - 1)
			assert_int_equal(logfile_follow_read(f, collect, &got), 0);
	}
	assert_int_equal(logfile_follow_read(f, collect, &got), 0);
	char *w = buf_take(&want);
	assert_lines(&got, w);
	free(w);
	logfile_close(&lf);
	logfile_follow_free(f);
}

static void test_follow_writer(void **state)
{
	follow_writer(*state, 1);
	follow_writer(*state, 5);
	follow_writer(*state, 11);
}

static void test_follow_created_later(void **state)
{
	struct tmp *t = *state;
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "later", 3);
	logfile_follow_add(f, "log", 5);
	assert_follow(f, "");

	char *later = in_dir(t, "later");
	put(later, O_TRUNC, "x\ny\n");
	put(t->log, O_TRUNC, "l\n");
	assert_true(woken(f));
	assert_follow(f, "3:x\n3:y\n5:l\n");
	put(later, O_APPEND, "z\n");
	assert_follow(f, "3:z\n");

	/* Deleted, then there again. */
	assert_int_equal(unlink(later), 0);
	assert_follow(f, "");
	put(later, O_TRUNC, "again\n");
	assert_follow(f, "3:again\n");
	free(later);
	logfile_follow_free(f);
}

static void test_follow_truncate(void **state)
{
	struct tmp *t = *state;
	put(t->log, O_TRUNC, "aaaa\nbbbb\n");
	struct logfile_follow *f = logfile_follow_new(t->dir);
	assert_non_null(f);
	logfile_follow_add(f, "log", 0);
	put(t->log, O_APPEND, "cccc\npart");
	assert_follow(f, "0:cccc\n");

	put(t->log, O_TRUNC, "z\n");
	assert_true(woken(f));
	assert_follow(f, "0:z\n");
	put(t->log, O_APPEND, "w\n");
	assert_follow(f, "0:w\n");
	logfile_follow_free(f);
}

static void test_follow_bad_dir(void **state)
{
	struct tmp *t = *state;
	char *p = in_dir(t, "missing");
	errno = 0;
	assert_null(logfile_follow_new(p));
	assert_int_equal(errno, ENOENT);
	free(p);

	put(t->log, O_TRUNC, "");
	errno = 0;
	assert_null(logfile_follow_new(t->log));
	assert_int_equal(errno, ENOTDIR);
	logfile_follow_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_rotate),
		T(test_reopen_size),
		T(test_max_zero),
		T(test_oversize_write),
		T(test_set_max),
		T(test_keep_zero),
		T(test_open_fails),
		T(test_links_not_followed),
		T(test_openat_follows_the_directory),
		T(test_write_enospc),
		T(test_write_partial),
		T(test_last_counts),
		T(test_last_missing),
		T(test_last_empty_lines),
		T(test_last_long_line),
		T(test_last_big_file),
		T(test_follow_append),
		T(test_follow_partial),
		T(test_follow_rotation),
		T(test_follow_rotated_twice),
		T(test_follow_writer),
		T(test_follow_created_later),
		T(test_follow_truncate),
		T(test_follow_bad_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
