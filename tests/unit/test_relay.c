/* Unit tests for relay.c: real fds (socketpairs, pipes, files, /dev/null)
 * on a real loop.  The test plays both peers from the same loop; a safety
 * timer ends every run, so a broken relay fails instead of hanging (and
 * alarm() kills a test that hangs anyway). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "relay.h"
#include "util.h"

#define MB (1024 * 1024)
#define LIMIT_MS 5000   /* no run of a working relay comes near */

struct fx;

/* A side the test plays on one fd: writes OUT (then shuts the socket down
 * for writing if SHUT) and, if READ, reads into IN until EOF. */
struct peer {
	struct fx *f;
	int fd;
	struct loop_io io;
	const unsigned char *out;
	size_t out_len, out_off;
	bool shut, read;
	size_t wchunk;     /* writes of 1..WCHUNK bytes (random), one per wakeup; 0: all it can */
	size_t rchunk;     /* at most RCHUNK bytes read per wakeup; 0: all there is */
	uint64_t rng;
	bool blocked;      /* the last write said EAGAIN */
	unsigned char *in;
	size_t in_len, in_cap;
	bool eof;
};

struct fx {
	struct loop *lp;
	struct relay *r;
	struct loop_timer limit;
	bool (*until)(struct fx *f);
	struct peer p[2];
	int ended[2], err[2];
	unsigned long long moved[2];
	int moved_calls;
	bool free_in_ended, free_in_moved;
	int nfds;
	bool fifo_before[256];   /* watch_pipes: the pipes that are not the relay's */
	bool watch_pipes;
	int pipe_max;            /* the largest relay pipe seen at a move */
};

/* ---- the fixture ---- */

static int fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	f->nfds = fd_count();
	f->lp = loop_new();
	if (!f->lp)
		return -1;
	*state = f;
	return 0;
}

static void peer_stop(struct peer *p)
{
	if (p->f)
		loop_io_del(p->f->lp, &p->io);
	free(p->in);
	p->in = NULL;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	relay_free(f->r);
	for (size_t i = 0; i < ARRAY_LEN(f->p); i++)
		peer_stop(&f->p[i]);
	loop_free(f->lp);
	int leaked = fd_count() - f->nfds;
	free(f);
	assert_int_equal(leaked, 0);   /* the relay's own pipes are closed */
	return 0;
}

static void check(struct fx *f)
{
	if (f->until && f->until(f))
		loop_stop(f->lp);
}

static void on_limit(struct loop *lp, struct loop_timer *t)
{
	(void)t;
	loop_stop(lp);
}

/* Runs the loop until UNTIL holds, LIMIT_MS at most; UNTIL's verdict. */
static bool run(struct fx *f, bool (*until)(struct fx *f))
{
	if (!until(f)) {
		f->until = until;
		loop_timer_start(f->lp, &f->limit, LIMIT_MS, on_limit, f);
		assert_int_equal(loop_run(f->lp), 0);
		loop_timer_stop(f->lp, &f->limit);
		f->until = NULL;
	}
	return until(f);
}

/* Runs the loop for MS. */
static void idle(struct fx *f, uint64_t ms)
{
	loop_timer_start(f->lp, &f->limit, ms, on_limit, f);
	assert_int_equal(loop_run(f->lp), 0);
}

static int relay_pipes(const struct fx *f, int *max);

static void on_ended(void *ctx, enum relay_dir dir, int err)
{
	struct fx *f = ctx;
	f->ended[dir]++;
	f->err[dir] = err;
	if (f->free_in_ended) {
		relay_free(f->r);
		f->r = NULL;
	}
	check(f);
}

static void on_moved(void *ctx, enum relay_dir dir, size_t n)
{
	struct fx *f = ctx;
	f->moved[dir] += n;
	f->moved_calls++;
	if (f->watch_pipes) {
		int max;
		relay_pipes(f, &max);
		if (max > f->pipe_max)
			f->pipe_max = max;
	}
	if (f->free_in_moved) {
		relay_free(f->r);
		f->r = NULL;
	}
	check(f);
}

static const struct relay_cb *cbs(struct fx *f)
{
	static struct relay_cb cb = { .moved = on_moved, .ended = on_ended };
	cb.ctx = f;
	return &cb;
}

static struct relay *start(struct fx *f, int ar, int aw, int br, int bw,
                           unsigned flags)
{
	f->r = relay_new(f->lp, (struct relay_end){ ar, aw },
	                 (struct relay_end){ br, bw }, flags, cbs(f));
	assert_non_null(f->r);
	return f->r;
}

/* ---- the peers ---- */

static size_t peer_rand(struct peer *p, size_t max)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return 1 + (size_t)(p->rng % max);
}

static void peer_write(struct peer *p)
{
	while (p->out_off < p->out_len) {
		size_t want = p->out_len - p->out_off;
		if (p->wchunk && want > p->wchunk)
			want = peer_rand(p, p->wchunk);
		ssize_t n = write(p->fd, p->out + p->out_off, want);
		p->blocked = n < 0 && errno == EAGAIN;
		if (n < 0)
			return;
		p->out_off += (size_t)n;
		if (p->wchunk && p->out_off < p->out_len)
			return;   /* the next one at the next wakeup */
	}
	if (p->shut)
		shutdown(p->fd, SHUT_WR);
}

static void peer_read(struct peer *p)
{
	for (;;) {
		if (p->in_cap - p->in_len < 65536) {
			p->in_cap = p->in_cap ? 2 * p->in_cap : 65536;
			p->in = xrealloc(p->in, p->in_cap);
		}
		size_t room = p->in_cap - p->in_len;
		if (p->rchunk && room > p->rchunk)
			room = p->rchunk;
		ssize_t n = read(p->fd, p->in + p->in_len, room);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			p->eof = true;
			return;
		}
		p->in_len += (size_t)n;
		if (p->rchunk)
			return;
	}
}

static void peer_watch(struct peer *p)
{
	uint32_t ev = 0;
	if (p->read && !p->eof)
		ev |= EPOLLIN;
	if (p->out_off < p->out_len)
		ev |= EPOLLOUT;
	if (ev)
		loop_io_mod(p->f->lp, &p->io, ev);
	else
		loop_io_del(p->f->lp, &p->io);
}

static void on_peer(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	struct peer *p = io->data;
	if (events & EPOLLOUT)
		peer_write(p);
	if (p->read && events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		peer_read(p);
	if (!p->read && events & (EPOLLHUP | EPOLLERR))
		p->out_len = p->out_off;   /* nobody reads any more */
	peer_watch(p);
	check(p->f);
}

static struct peer *peer(struct fx *f, int i, int fd, const void *out,
                         size_t out_len, bool shut, bool read)
{
	struct peer *p = &f->p[i];
	*p = (struct peer){ .f = f, .fd = fd, .out = out, .out_len = out_len,
	                    .shut = shut, .read = read, .rng = 0x2545F4914F6CDD1Dull + (uint64_t)i };
	assert_int_equal(loop_io_add(f->lp, &p->io, fd, 0, on_peer, p), 0);
	peer_watch(p);
	return p;
}

/* ---- helpers ---- */

static void sockpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	                            SOCK_CLOEXEC, 0, sv), 0);
}

static void pipe_nb(int fds[2])
{
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void close2(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

static unsigned char *random_bytes(size_t n, uint64_t seed)
{
	unsigned char *b = xmalloc(n);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)(x >> 32);
	}
	return b;
}

static void assert_got(const struct peer *p, const void *want, size_t n)
{
	assert_int_equal(p->in_len, n);
	assert_memory_equal(p->in, want, n);
}

static bool is_fifo(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* Notes the pipes open now: the relay's are the others. */
static void note_pipes(struct fx *f)
{
	for (int fd = 0; fd < (int)ARRAY_LEN(f->fifo_before); fd++)
		f->fifo_before[fd] = is_fifo(fd);
}

/* The relay's pipes: how many are open, and the largest capacity. */
static int relay_pipes(const struct fx *f, int *max)
{
	int n = 0;
	*max = 0;
	for (int fd = 0; fd < (int)ARRAY_LEN(f->fifo_before); fd++) {
		if (f->fifo_before[fd] || !is_fifo(fd))
			continue;
		n++;
		int sz = fcntl(fd, F_GETPIPE_SZ);
		if (sz > *max)
			*max = sz;
	}
	return n;
}

/* A temporary file holding N bytes of DATA, opened with FLAGS. */
static int temp_file(const void *data, size_t n, int flags, char path[32])
{
	strcpy(path, "/tmp/tend-relay-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
	fd = open(path, flags | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* ---- the predicates runs wait for ---- */

static bool both_done(struct fx *f)
{
	return f->p[0].eof && f->p[1].eof && f->ended[RELAY_AB] &&
	       f->ended[RELAY_BA];
}

static bool got_five_each(struct fx *f)
{
	return f->p[0].in_len >= 5 && f->p[1].in_len >= 5;
}

static bool ab_done(struct fx *f)
{
	return f->ended[RELAY_AB] > 0 && f->p[0].eof;
}

static bool ab_ended(struct fx *f)
{
	return f->ended[RELAY_AB] > 0;
}

static bool ba_ended(struct fx *f)
{
	return f->ended[RELAY_BA] > 0;
}

static bool any_ended(struct fx *f)
{
	return f->ended[RELAY_AB] + f->ended[RELAY_BA] > 0;
}

static bool moved_once(struct fx *f)
{
	return f->moved_calls > 0;
}

static bool sink_eof(struct fx *f)
{
	return f->p[1].eof && f->ended[RELAY_AB] > 0;
}

static bool rd_eof(struct fx *f)
{
	return f->p[1].eof;
}

static bool both_ended_and_read(struct fx *f)
{
	return f->p[1].eof && f->ended[RELAY_AB] && f->ended[RELAY_BA];
}

static bool got_3(struct fx *f)
{
	return f->p[1].in_len >= 3;
}

static bool got_4(struct fx *f)
{
	return f->p[1].in_len >= 4;
}

/* ---- the tests ---- */

/* The proxy: two sockets, 10 MB each way at once, then a half-close each
 * way. */
static void test_sockets_both_ways(void **state)
{
	struct fx *f = *state;
	const size_t n = 10 * MB;
	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	unsigned char *da = random_bytes(n, 1), *db = random_bytes(n, 2);
	start(f, x[1], x[1], y[0], y[0], 0);
	struct peer *pa = peer(f, 0, x[0], da, n, true, true);
	struct peer *pb = peer(f, 1, y[1], db, n, true, true);
	assert_true(run(f, both_done));
	assert_got(pb, da, n);
	assert_got(pa, db, n);
	/* EOF went through as SHUT_WR (both peers saw it), reported once. */
	assert_int_equal(f->ended[RELAY_AB], 1);
	assert_int_equal(f->ended[RELAY_BA], 1);
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(f->err[RELAY_BA], 0);
	assert_true(relay_ended(f->r, RELAY_AB));
	assert_true(relay_ended(f->r, RELAY_BA));
	assert_int_equal(relay_bytes(f->r, RELAY_AB), n);
	assert_int_equal(relay_bytes(f->r, RELAY_BA), n);
	assert_int_equal(f->moved[RELAY_AB], n);
	assert_int_equal(f->moved[RELAY_BA], n);
	/* Not a copying direction. */
	assert_false(relay_line_start(f->r, RELAY_AB, true));
	free(da);
	free(db);
	close2(x);
	close2(y);
}

/* A session: the service's stdout and stdin pipes <-> a socket. */
static void test_pipes(void **state)
{
	struct fx *f = *state;
	int out[2], in[2], s[2];   /* the service's stdout, its stdin */
	pipe_nb(out);
	pipe_nb(in);
	sockpair(s);
	start(f, out[0], in[1], s[0], s[0], 0);
	assert_int_equal(write(out[1], "hello", 5), 5);
	struct peer *ps = peer(f, 0, s[1], "world", 5, false, true);
	struct peer *pin = peer(f, 1, in[0], NULL, 0, false, true);
	assert_true(run(f, got_five_each));
	assert_got(ps, "hello", 5);
	assert_got(pin, "world", 5);
	/* The service closes its stdout: EOF, the socket is shut down. */
	close(out[1]);
	assert_true(run(f, ab_done));
	assert_int_equal(f->ended[RELAY_AB], 1);
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(f->ended[RELAY_BA], 0);
	assert_false(relay_ended(f->r, RELAY_BA));
	/* Its stdin goes away while nothing is to be written: seen at once. */
	peer_stop(pin);
	close(in[0]);
	uint64_t t0 = mono_ms();
	assert_true(run(f, ba_ended));
	assert_true(mono_ms() - t0 < 1000);
	assert_int_equal(f->ended[RELAY_BA], 1);
	assert_int_equal(f->err[RELAY_BA], EPIPE);
	assert_int_equal(relay_bytes(f->r, RELAY_AB), 5);
	assert_int_equal(relay_bytes(f->r, RELAY_BA), 5);
	close(out[0]);
	close(in[1]);
	close2(s);
}

/* A sink nobody reads stops the source; reading it lets everything
 * through. */
static void test_backpressure(void **state)
{
	struct fx *f = *state;
	const size_t n = 8 * MB;
	int s[2], t[2];
	sockpair(s);
	sockpair(t);
	unsigned char *data = random_bytes(n, 3);
	start(f, s[1], s[1], t[0], t[0], 0);
	struct peer *w = peer(f, 0, s[0], data, n, true, false);
	idle(f, 200);
	/* The writer is stuck after socket buffers and one pipe's worth. */
	size_t written = w->out_off;
	assert_true(w->blocked);
	assert_true(written < 2 * MB);
	assert_true(relay_bytes(f->r, RELAY_AB) < written);
	/* Stuck without spinning: hardly a wakeup in 100 ms. */
	uint64_t wakeups = loop_wakeups(f->lp);
	idle(f, 100);
	assert_true(loop_wakeups(f->lp) - wakeups <= 3);
	assert_int_equal(w->out_off, written);
	struct peer *rd = peer(f, 1, t[1], NULL, 0, false, true);
	assert_true(run(f, sink_eof));
	assert_got(rd, data, n);
	assert_int_equal(f->err[RELAY_AB], 0);
	free(data);
	close2(s);
	close2(t);
}

/* The service writes a lot and exits while the sink is full: its stdout
 * hangs up with bytes left in it.  The hangup must not make the loop spin,
 * and the bytes still go, then EOF.  Straight splice or copying. */
static void pipe_hangup(struct fx *f, unsigned flags)
{
	const size_t n = 4 * MB;
	int out[2], s[2];
	pipe_nb(out);
	sockpair(s);
	unsigned char *data = random_bytes(n, 9);
	start(f, out[0], -1, -1, s[0], flags);
	struct peer *w = peer(f, 0, out[1], data, n, false, false);
	idle(f, 200);
	assert_true(w->blocked);
	size_t written = w->out_off;
	uint64_t wakeups = loop_wakeups(f->lp);
	idle(f, 100);
	assert_true(loop_wakeups(f->lp) - wakeups <= 3);
	peer_stop(w);
	close(out[1]);
	wakeups = loop_wakeups(f->lp);
	idle(f, 100);
	assert_true(loop_wakeups(f->lp) - wakeups <= 3);
	assert_int_equal(f->ended[RELAY_AB], 0);
	struct peer *rd = peer(f, 1, s[1], NULL, 0, false, true);
	assert_true(run(f, sink_eof));
	assert_got(rd, data, written);
	assert_int_equal(f->err[RELAY_AB], 0);
	close(out[0]);
	close2(s);
	free(data);
}

static void test_pipe_hangup_splice(void **state)
{
	pipe_hangup(*state, 0);
}

static void test_pipe_hangup_copy(void **state)
{
	pipe_hangup(*state, RELAY_COPY_AB);
}

/* A copying direction knows where lines start, on both sides; then it
 * moves a bulk intact. */
static void test_copy_lines(void **state)
{
	struct fx *f = *state;
	int s[2], t[2];
	sockpair(s);
	sockpair(t);
	struct relay *r = start(f, s[1], s[1], t[0], t[0], RELAY_COPY_AB);
	assert_true(relay_line_start(r, RELAY_AB, true));
	assert_true(relay_line_start(r, RELAY_AB, false));
	assert_false(relay_line_start(r, RELAY_BA, true));
	assert_false(relay_line_start(r, RELAY_BA, false));
	struct peer *rd = peer(f, 1, t[1], NULL, 0, false, true);
	assert_int_equal(write(s[0], "abc", 3), 3);
	assert_true(run(f, got_3));
	assert_false(relay_line_start(r, RELAY_AB, true));
	assert_false(relay_line_start(r, RELAY_AB, false));
	assert_int_equal(write(s[0], "\n", 1), 1);
	assert_true(run(f, got_4));
	assert_true(relay_line_start(r, RELAY_AB, true));
	assert_true(relay_line_start(r, RELAY_AB, false));
	assert_false(relay_line_start(r, RELAY_BA, true));

	const size_t n = 3 * MB;
	unsigned char *data = random_bytes(n, 4);
	data[n - 1] = 'x';
	peer(f, 0, s[0], data, n, true, false);
	assert_true(run(f, sink_eof));
	assert_int_equal(rd->in_len, n + 4);
	assert_memory_equal(rd->in, "abc\n", 4);
	assert_memory_equal(rd->in + 4, data, n);
	assert_int_equal(relay_bytes(r, RELAY_AB), n + 4);
	assert_false(relay_line_start(r, RELAY_AB, true));
	assert_false(relay_line_start(r, RELAY_AB, false));
	free(data);
	close2(s);
	close2(t);
}

/* A regular file (epoll refuses it) as the source. */
static void test_file_source(void **state)
{
	struct fx *f = *state;
	const size_t n = MB + 123;
	unsigned char *data = random_bytes(n, 5);
	char path[32];
	int fd = temp_file(data, n, O_RDONLY, path);
	int t[2];
	sockpair(t);
	start(f, fd, -1, t[0], t[0], 0);
	assert_true(relay_ended(f->r, RELAY_BA));
	struct peer *rd = peer(f, 1, t[1], NULL, 0, false, true);
	assert_true(run(f, sink_eof));
	assert_got(rd, data, n);
	assert_int_equal(f->ended[RELAY_AB], 1);
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(f->ended[RELAY_BA], 0);
	assert_int_equal(relay_bytes(f->r, RELAY_AB), n);
	unlink(path);
	close(fd);
	close2(t);
	free(data);
}

/* A file opened O_APPEND as the sink: splice refuses it (EINVAL), so the
 * direction falls back to copying, after what its pipe holds. */
static void test_append_sink(void **state)
{
	struct fx *f = *state;
	const size_t n = MB + 7;
	unsigned char *data = random_bytes(n, 6);
	char path[32];
	int fd = temp_file("head", 4, O_WRONLY | O_APPEND, path);
	int s[2];
	sockpair(s);
	start(f, s[1], s[1], -1, fd, 0);
	peer(f, 0, s[0], data, n, true, false);
	assert_true(run(f, ab_ended));
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(relay_bytes(f->r, RELAY_AB), n);
	close(fd);
	unsigned char *got = xmalloc(n + 4);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, got, n + 5), (ssize_t)(n + 4));
	assert_memory_equal(got, "head", 4);
	assert_memory_equal(got + 4, data, n);
	close(fd);
	unlink(path);
	close2(s);
	free(got);
	free(data);
}

/* /dev/null (epoll refuses it too) as the sink. */
static void test_devnull_sink(void **state)
{
	struct fx *f = *state;
	const size_t n = 2 * MB;
	unsigned char *data = random_bytes(n, 7);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int s[2];
	sockpair(s);
	start(f, s[1], s[1], -1, fd, 0);
	peer(f, 0, s[0], data, n, true, false);
	assert_true(run(f, ab_ended));
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(relay_bytes(f->r, RELAY_AB), n);
	close(fd);
	close2(s);
	free(data);
}

/* A socket whose peer is gone: the pending bytes still go (AB reads them
 * and EOF) before the other direction ends with EPIPE. */
static void test_socket_hangup(void **state)
{
	struct fx *f = *state;
	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	start(f, x[1], x[1], y[0], y[0], 0);
	struct peer *rd = peer(f, 1, y[1], NULL, 0, false, true);
	assert_int_equal(write(x[0], "last words", 10), 10);
	close(x[0]);
	assert_true(run(f, both_ended_and_read));
	assert_got(rd, "last words", 10);
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(f->err[RELAY_BA], EPIPE);
	close(x[1]);
	close2(y);
}

/* The owner frees the relay from the callback: a socket whose peer left
 * ends AB, and BA must not be touched after the free (ASan watches). */
static void test_free_in_ended(void **state)
{
	struct fx *f = *state;
	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	start(f, x[1], x[1], y[0], y[0], 0);
	f->free_in_ended = true;
	struct peer *rd = peer(f, 1, y[1], NULL, 0, false, true);
	assert_int_equal(write(x[0], "data", 4), 4);
	close(x[0]);
	assert_true(run(f, any_ended));
	assert_null(f->r);
	assert_int_equal(f->ended[RELAY_AB] + f->ended[RELAY_BA], 1);
	/* What was read went out, with the EOF, before the callback. */
	assert_true(run(f, rd_eof));
	assert_got(rd, "data", 4);
	/* Nothing is watched any more: an idle loop stays quiet. */
	idle(f, 20);
	assert_int_equal(f->ended[RELAY_AB] + f->ended[RELAY_BA], 1);
	close(x[1]);
	close2(y);
}

/* The same from the moved callback, with plenty left to move. */
static void test_free_in_moved(void **state)
{
	struct fx *f = *state;
	const size_t n = MB;
	unsigned char *data = random_bytes(n, 8);
	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	start(f, x[1], x[1], y[0], y[0], 0);
	f->free_in_moved = true;
	peer(f, 0, x[0], data, n, true, false);
	assert_true(run(f, moved_once));
	assert_null(f->r);
	idle(f, 20);
	assert_int_equal(f->moved_calls, 1);
	assert_int_equal(f->ended[RELAY_AB] + f->ended[RELAY_BA], 0);
	close2(x);
	close2(y);
	free(data);
}

static size_t want_b;   /* what the predicates below wait for */
static size_t want_a;

static bool b_got_want(struct fx *f)
{
	return f->p[1].in_len >= want_b;
}

static bool both_got_want(struct fx *f)
{
	return f->p[0].in_len >= want_a && f->p[1].in_len >= want_b;
}

/* Socket to socket: a stream goes through a pipe that grows to
 * RELAY_PIPE_MAX; small messages are copied (no pipe is open while they
 * pass, so an idle connection holds none), both ways, in order. */
static void test_stream_pipe_then_small_copies(void **state)
{
	struct fx *f = *state;
	const size_t n = 8 * MB;
	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	note_pipes(f);
	int fds = (int)fd_count();
	unsigned char *data = random_bytes(n, 11);
	start(f, x[1], x[1], y[0], y[0], 0);
	assert_int_equal(fd_count(), fds);   /* nothing made before a move */
	f->watch_pipes = true;
	struct peer *w = peer(f, 0, x[0], data, n, false, true);
	struct peer *rd = peer(f, 1, y[1], NULL, 0, false, true);
	want_b = n;
	assert_true(run(f, b_got_want));
	assert_got(rd, data, n);
	assert_int_equal(f->pipe_max, RELAY_PIPE_MAX);
	f->watch_pipes = false;
	(void)w;

	/* Small messages now: the pipe goes with the first, none comes back. */
	char msg[64];
	int max;
	for (int i = 0; i < 100; i++) {
		int len = snprintf(msg, sizeof(msg), "to b %d\n", i);
		assert_int_equal(write(x[0], msg, (size_t)len), len);
		want_b = rd->in_len + (size_t)len;
		assert_true(run(f, b_got_want));
		assert_memory_equal(rd->in + rd->in_len - (size_t)len, msg, (size_t)len);
		assert_int_equal(relay_pipes(f, &max), 0);
		len = snprintf(msg, sizeof(msg), "to a %d\n", i);
		assert_int_equal(write(y[1], msg, (size_t)len), len);
		want_a = f->p[0].in_len + (size_t)len;
		assert_true(run(f, both_got_want));
		assert_memory_equal(f->p[0].in + f->p[0].in_len - (size_t)len, msg,
		                    (size_t)len);
		assert_int_equal(relay_pipes(f, &max), 0);
	}
	assert_int_equal(fd_count(), fds);
	assert_int_equal(relay_bytes(f->r, RELAY_AB), rd->in_len);
	assert_int_equal(relay_bytes(f->r, RELAY_BA), f->p[0].in_len);
	free(data);
	close2(x);
	close2(y);
}

/* Writes of every size from 1 byte to 200 KB, read in 50 KB bites, both
 * ways at once: the directions switch between copying and the pipe, hold
 * what a sink refuses, and every byte arrives in order, then EOF. */
static void test_mixed_sizes_both_ways(void **state)
{
	struct fx *f = *state;
	const size_t n = 6 * MB;
	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	unsigned char *da = random_bytes(n, 12), *db = random_bytes(n, 13);
	start(f, x[1], x[1], y[0], y[0], 0);
	struct peer *pa = peer(f, 0, x[0], da, n, true, true);
	struct peer *pb = peer(f, 1, y[1], db, n, true, true);
	pa->wchunk = pb->wchunk = 200000;
	pa->rchunk = pb->rchunk = 50000;
	assert_true(run(f, both_done));
	assert_got(pb, da, n);
	assert_got(pa, db, n);
	assert_int_equal(f->err[RELAY_AB], 0);
	assert_int_equal(f->err[RELAY_BA], 0);
	assert_int_equal(f->moved[RELAY_AB], n);
	assert_int_equal(f->moved[RELAY_BA], n);
	free(da);
	free(db);
	close2(x);
	close2(y);
}

/* Small writes into a sink nobody reads: the copying direction keeps
 * what the sink refused and stops reading (bounded, no spinning); reading
 * lets everything through, in order. */
static void test_backpressure_small(void **state)
{
	struct fx *f = *state;
	const size_t n = 4 * MB;
	int s[2], t[2];
	sockpair(s);
	sockpair(t);
	unsigned char *data = random_bytes(n, 14);
	start(f, s[1], s[1], t[0], t[0], 0);
	struct peer *w = peer(f, 0, s[0], data, n, true, false);
	w->wchunk = 1000;
	idle(f, 300);
	/* Stuck (a unix socket says writable again only when half empty: the
	 * writer does not even try). */
	size_t written = w->out_off;
	assert_true(written < 2 * MB);
	assert_true(relay_bytes(f->r, RELAY_AB) < written);
	uint64_t wakeups = loop_wakeups(f->lp);
	idle(f, 100);
	assert_true(loop_wakeups(f->lp) - wakeups <= 3);
	assert_int_equal(w->out_off, written);
	struct peer *rd = peer(f, 1, t[1], NULL, 0, false, true);
	assert_true(run(f, sink_eof));
	assert_got(rd, data, n);
	assert_int_equal(f->err[RELAY_AB], 0);
	free(data);
	close2(s);
	close2(t);
}

static void on_quiet_moved(void *ctx, enum relay_dir dir, size_t n)
{
	(void)ctx;
	(void)dir;
	(void)n;
}

static void on_quiet_ended(void *ctx, enum relay_dir dir, int err)
{
	(void)ctx;
	fail_msg("a relay ended (dir %d, error %d)", dir, err);
}

/* Pipes of capacity SZ among the fds the relays made (both ends open:
 * each pipe counts once). */
static int pipes_of_size(const struct fx *f, int sz)
{
	int n = 0;
	for (int fd = 0; fd < (int)ARRAY_LEN(f->fifo_before); fd++)
		if (!f->fifo_before[fd] && is_fifo(fd) &&
		    fcntl(fd, F_GETPIPE_SZ) == sz)
			n++;
	return n / 2;
}

/* Streams at once beyond the quota: 16 pipes grow to RELAY_PIPE_MAX, the
 * others keep the default size; a freed relay gives its share back. */
static void test_pipes_grow_within_quota(void **state)
{
	struct fx *f = *state;
	enum { N = 20 };
	static const unsigned char zeros[65536];
	int x[N][2], y[N][2];
	struct relay *r[N];
	const struct relay_cb cb = { on_quiet_moved, on_quiet_ended, NULL };
	note_pipes(f);
	int fds = (int)fd_count();
	for (int i = 0; i < N; i++) {
		sockpair(x[i]);
		sockpair(y[i]);
		/* As much as the socket takes: a stream for the relay. */
		while (write(x[i][0], zeros, sizeof(zeros)) > 0)
			;
		r[i] = relay_new(f->lp, (struct relay_end){ x[i][1], x[i][1] },
		                 (struct relay_end){ y[i][0], y[i][0] }, 0, &cb);
		assert_non_null(r[i]);
	}
	idle(f, 200);   /* nobody reads the sinks: the pipes stay full */
	assert_int_equal(pipes_of_size(f, RELAY_PIPE_MAX), 16);
	assert_int_equal(pipes_of_size(f, RELAY_BUF), N - 16);
	/* One that grew goes: the next stream may grow. */
	relay_free(r[0]);
	r[0] = NULL;
	int z[2], w[2];
	sockpair(z);
	sockpair(w);
	while (write(z[0], zeros, sizeof(zeros)) > 0)
		;
	struct relay *more = relay_new(f->lp, (struct relay_end){ z[1], z[1] },
	                               (struct relay_end){ w[0], w[0] }, 0, &cb);
	idle(f, 200);
	assert_int_equal(pipes_of_size(f, RELAY_PIPE_MAX), 16);
	relay_free(more);
	close2(z);
	close2(w);
	for (int i = 0; i < N; i++) {
		relay_free(r[i]);
		close2(x[i]);
		close2(y[i]);
	}
	assert_int_equal(fd_count(), fds);
}

static void on_zero_moved(void *ctx, enum relay_dir dir, size_t n)
{
	(void)dir;
	*(unsigned long long *)ctx += n;
}

static void on_zero_ended(void *ctx, enum relay_dir dir, int err)
{
	(void)ctx;
	fail_msg("the endless relay ended (dir %d, error %d)", dir, err);
}

/* An endless always-ready relay (/dev/zero to /dev/null) does not starve
 * another one on the same loop. */
static void test_fairness(void **state)
{
	struct fx *f = *state;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	unsigned long long endless = 0;
	struct relay_cb zcb = { on_zero_moved, on_zero_ended, &endless };
	struct relay *z = relay_new(f->lp, (struct relay_end){ zero, -1 },
	                            (struct relay_end){ -1, null }, 0, &zcb);
	assert_non_null(z);
	const size_t n = MB;
	unsigned char *data = random_bytes(n, 10);
	int s[2], t[2];
	sockpair(s);
	sockpair(t);
	start(f, s[1], s[1], t[0], t[0], 0);
	peer(f, 0, s[0], data, n, true, false);
	struct peer *rd = peer(f, 1, t[1], NULL, 0, false, true);
	assert_true(run(f, sink_eof));
	assert_got(rd, data, n);
	assert_true(endless > 0);
	relay_free(z);
	close(zero);
	close(null);
	close2(s);
	close2(t);
	free(data);
}

/* -1 fds: a direction that does not exist has ended from the start,
 * without a callback. */
static void test_missing_fds(void **state)
{
	struct fx *f = *state;
	struct relay *r = start(f, -1, -1, -1, -1, RELAY_COPY_AB);
	assert_true(relay_ended(r, RELAY_AB));
	assert_true(relay_ended(r, RELAY_BA));
	assert_int_equal(relay_bytes(r, RELAY_AB), 0);
	idle(f, 10);
	assert_int_equal(f->ended[RELAY_AB] + f->ended[RELAY_BA], 0);
	relay_free(r);
	f->r = NULL;

	int x[2], y[2];
	sockpair(x);
	sockpair(y);
	r = start(f, x[1], -1, -1, y[0], 0);
	assert_false(relay_ended(r, RELAY_AB));
	assert_true(relay_ended(r, RELAY_BA));
	struct peer *rd = peer(f, 1, y[1], NULL, 0, false, true);
	assert_int_equal(write(x[0], "one way", 7), 7);
	shutdown(x[0], SHUT_WR);
	assert_true(run(f, sink_eof));
	assert_got(rd, "one way", 7);
	assert_int_equal(f->ended[RELAY_AB], 1);
	assert_int_equal(f->ended[RELAY_BA], 0);
	close2(x);
	close2(y);

	/* An fd the loop refuses for another reason than EPERM. */
	relay_free(f->r);
	f->r = relay_new(f->lp, (struct relay_end){ 999999, -1 },
	                 (struct relay_end){ -1, 999999 }, 0, cbs(f));
	assert_null(f->r);
	assert_int_equal(errno, EBADF);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sockets_both_ways),
		T(test_pipes),
		T(test_backpressure),
		T(test_stream_pipe_then_small_copies),
		T(test_mixed_sizes_both_ways),
		T(test_backpressure_small),
		T(test_pipes_grow_within_quota),
		T(test_pipe_hangup_splice),
		T(test_pipe_hangup_copy),
		T(test_copy_lines),
		T(test_file_source),
		T(test_append_sink),
		T(test_devnull_sink),
		T(test_socket_hangup),
		T(test_free_in_ended),
		T(test_free_in_moved),
		T(test_fairness),
		T(test_missing_fds),
	};
	/* As tend does: a sink whose reader left is an EPIPE, not a death. */
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
