#include "relay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most a direction moves per wakeup (two full pipes) before it lets
 * the loop serve others; level-triggered epoll, or the kick timer, brings
 * it back while more is ready. */
#define RELAY_BUDGET (2 * (size_t)RELAY_PIPE_MAX)

/* A read or splice that brought less than this found its source drained
 * (or nearly): the direction goes back to the loop instead of asking
 * again for an EAGAIN; level-triggered epoll reports what came since. */
#define DRAINED_BELOW (16 * (size_t)1024)

/* MODE_SOCK: a splice into the pipe shorter than this sends the direction
 * back to copying (a read that fills the whole buffer sends it to the
 * pipe). */
#define SMALL_BELOW (16 * (size_t)1024)

/* All grown pipes, together (16 of them): an unprivileged user's pipes
 * share a quota (fs.pipe-user-pages-soft, 64 MiB by default) with the
 * services of that same user, which must not run short. */
#define PIPES_GROWN_MAX (16 * (size_t)RELAY_PIPE_MAX)

#define SPLICE_FLAGS (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

enum mode {
	MODE_SPLICE,   /* straight from source to sink: one of them is a pipe */
	MODE_SOCK,     /* neither: small reads copied, bulk through a pipe */
	MODE_COPY,     /* read and write through the buffer */
};

/* The small reads of MODE_SOCK: written out at once, so that only what
 * the sink refused is kept (in the direction's own buffer).  One for the
 * process: the loop runs one callback at a time. */
static char scratch[RELAY_BUF];
static size_t pipes_grown;   /* capacity of the grown pipes, all relays */

/* One per distinct fd. */
struct watch {
	struct loop_io io;
	struct relay *r;
	int fd;
	bool always;      /* refused by epoll (EPERM): counts as ever ready */
	bool hup;         /* reported EPOLLHUP or EPOLLERR */
};

struct dir {
	struct watch *src, *dst;   /* NULL when the direction does not exist */
	enum mode mode;
	bool lines;                /* RELAY_COPY_*: track line boundaries */
	bool line_src, line_dst;
	bool dst_sock;
	bool eof;                  /* the source said so */
	bool ended;
	bool wait_dst;             /* MODE_SPLICE: the sink said EAGAIN */
	bool drained;              /* the source had little: wait for it */
	bool full;                 /* the sink took less: wait for it */
	bool bulk;                 /* MODE_SOCK: through the pipe */
	bool nogrow;               /* the pipe cannot grow (quota) */
	int pipe[2];               /* MODE_SOCK's, made when bulk starts */
	size_t pipe_sz;            /* its capacity */
	size_t grown;              /* what it counts in pipes_grown (0: not grown) */
	size_t piped;              /* bytes in it */
	char *buf;                 /* MODE_COPY's, made at the first move */
	size_t off, len;           /* [off, len) of it is to be written */
	unsigned long long bytes;
};

struct relay {
	struct loop *lp;
	struct relay_cb cb;
	struct dir dir[2];
	struct watch w[4];
	size_t nw;
	struct loop_timer kick;    /* drives what waits on an EPERM fd */
	bool busy;                 /* inside on_io or on_kick: do not free */
	bool dead;                 /* freed while busy: free when it returns */
};

static size_t held(const struct dir *d)
{
	return d->piped + (d->len - d->off);
}

/* Is D waiting for its sink to take more (else for its source)?  A
 * direction holding bytes always is; a straight splice only knows it from
 * its last EAGAIN. */
static bool waits_sink(const struct dir *d)
{
	return d->mode == MODE_SPLICE ? d->wait_dst : held(d) > 0;
}

static struct watch *waited(const struct dir *d)
{
	return waits_sink(d) ? d->dst : d->src;
}

static bool uses(const struct dir *d, const struct watch *w)
{
	return !d->ended && (d->src == w || d->dst == w);
}

static void on_io(struct loop *lp, struct loop_io *io, uint32_t events);
static void on_kick(struct loop *lp, struct loop_timer *t);

/* Puts W in epoll for EV, or takes it out (IN false).  -1 when epoll
 * refuses it back. */
static int watch_set(struct relay *r, struct watch *w, bool in, uint32_t ev)
{
	if (!in) {
		loop_io_del(r->lp, &w->io);
		return 0;
	}
	if (!w->io.active)
		return loop_io_add(r->lp, &w->io, w->fd, ev, on_io, w);
	/* No system call when EV is what it is registered for (loop_io_mod);
	 * on failure the old interest stays: the next call retries. */
	(void)loop_io_mod(r->lp, &w->io, ev);
	return 0;
}

/* Brings the watches in line with what the directions wait for: the union
 * per fd, 0 when nothing is wanted (EPOLLERR and EPOLLHUP still come); a
 * watch no direction uses any more leaves epoll, so its owner may close
 * the fd.  So does a hung-up one while nobody waits for it, as epoll
 * would report the hangup at every wait: a pipe with bytes left whose
 * sink is full. */
static void rewatch(struct relay *r)
{
	bool kick = false;
	for (size_t i = 0; i < r->nw; i++) {
		struct watch *w = &r->w[i];
		uint32_t ev = 0;
		bool used = false;
		for (int k = 0; k < 2; k++) {
			const struct dir *d = &r->dir[k];
			if (!uses(d, w))
				continue;
			used = true;
			if (waited(d) == w)
				ev |= waits_sink(d) ? EPOLLOUT : EPOLLIN;
		}
		/* Should epoll refuse a hung-up fd back (out of memory), it is
		 * read like a file: it does not block any more. */
		bool in = used && (ev || !w->hup);
		if (!w->always && watch_set(r, w, in, ev) < 0)
			w->always = true;
		if (w->always && ev)
			kick = true;
	}
	if (kick)
		loop_timer_start(r->lp, &r->kick, 0, on_kick, r);
	else
		loop_timer_stop(r->lp, &r->kick);
}

/* Closes D's pipe (with what it holds). */
static void pipe_close(struct dir *d)
{
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->piped = 0;
	pipes_grown -= d->grown;
	d->grown = 0;
}

/* Drops what D holds: its pipe and its buffer. */
static void drop(struct dir *d)
{
	pipe_close(d);
	free(d->buf);
	d->buf = NULL;
	d->off = d->len = 0;
}

static enum relay_dir dir_id(const struct relay *r, const struct dir *d)
{
	return d == &r->dir[RELAY_AB] ? RELAY_AB : RELAY_BA;
}

/* Ends D and says so (the callback may free the relay). */
static void finish(struct relay *r, struct dir *d, int err)
{
	if (err == 0 && d->dst_sock)
		shutdown(d->dst->fd, SHUT_WR);   /* ENOTCONN: the peer is gone */
	d->ended = true;
	drop(d);
	/* Out of epoll before the owner hears of it and closes the fds. */
	rewatch(r);
	r->cb.ended(r->cb.ctx, dir_id(r, d), err);
}

/* Counts N bytes written; false when the callback freed the relay. */
static bool moved(struct relay *r, struct dir *d, size_t n)
{
	d->bytes += n;
	if (r->cb.moved)
		r->cb.moved(r->cb.ctx, dir_id(r, d), n);
	return !r->dead;
}

/* A straight splice said EAGAIN: was it the sink?  A side epoll refused
 * cannot be the one; else poll tells.  If both look ready (data came in
 * between) the sink is blamed: its EPOLLOUT fires at once if it was not. */
static bool sink_blocked(const struct dir *d)
{
	if (d->src->always)
		return true;
	if (d->dst->always)
		return false;
	struct pollfd p = { .fd = d->src->fd, .events = POLLIN };
	return poll(&p, 1, 0) != 0;
}

/* The steps below move once and return the bytes written to the sink, 0
 * for progress short of the sink (bytes read, EOF, a change of mode), or
 * -1 with errno: EAGAIN when D has to wait (waits_sink says for what). */

static ssize_t step_splice(struct dir *d, size_t len)
{
	ssize_t n = splice(d->src->fd, NULL, d->dst->fd, NULL, len,
	                   SPLICE_FLAGS);
	if (n == 0)
		d->eof = true;
	if (n > 0 && (size_t)n < DRAINED_BELOW)
		d->drained = true;
	if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
		d->mode = MODE_COPY;   /* for good: nothing is held */
		return 0;
	}
	return n;
}

/* Writes what D's buffer holds. */
static ssize_t write_held(struct dir *d)
{
	const char *p = d->buf + d->off;
	size_t want = d->len - d->off;
	/* send: a socket whose peer left gives EPIPE, not SIGPIPE. */
	ssize_t n = d->dst_sock ? send(d->dst->fd, p, want, MSG_NOSIGNAL)
	                        : write(d->dst->fd, p, want);
	if (n <= 0)
		return n;
	if (d->lines)
		d->line_dst = p[n - 1] == '\n';
	d->off += (size_t)n;
	if (d->off == d->len)
		d->off = d->len = 0;
	return n;
}

/* Writes what the pipe holds; an empty pipe that is done with (the
 * direction went back to copying) is closed. */
static ssize_t write_piped(struct dir *d)
{
	ssize_t n = splice(d->pipe[0], NULL, d->dst->fd, NULL, d->piped,
	                   SPLICE_FLAGS);
	if (n > 0)
		d->piped -= (size_t)n;
	if (d->piped == 0 && !d->bulk)
		pipe_close(d);
	return n;
}

/* MODE_SOCK's pipe, made empty and of the default size: 0, or -1. */
static int pipe_open(struct dir *d)
{
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	int sz = fcntl(d->pipe[0], F_GETPIPE_SZ);
	d->pipe_sz = sz > 0 ? (size_t)sz : RELAY_BUF;
	return 0;
}

/* The pipe came back full: a stream.  It grows to RELAY_PIPE_MAX if the
 * quota allows (fewer, larger moves); else it stays as it is. */
static void pipe_grow(struct dir *d)
{
	if (d->nogrow || d->pipe_sz >= RELAY_PIPE_MAX ||
	    pipes_grown + RELAY_PIPE_MAX > PIPES_GROWN_MAX)
		return;
	int sz = fcntl(d->pipe[0], F_SETPIPE_SZ, (int)RELAY_PIPE_MAX);
	if (sz <= 0 || (size_t)sz <= d->pipe_sz) {
		d->nogrow = true;   /* EPERM: the user's quota is spent */
		return;
	}
	d->pipe_sz = (size_t)sz;
	d->grown = (size_t)sz;
	pipes_grown += d->grown;
}

/* Bytes read into the scratch buffer: written at once, and what the sink
 * does not take is kept in D's buffer.  Returns the bytes written, or -1
 * (not EAGAIN: a full sink is 0 written). */
static ssize_t pass_scratch(struct dir *d, size_t n)
{
	ssize_t w = d->dst_sock ? send(d->dst->fd, scratch, n, MSG_NOSIGNAL)
	                        : write(d->dst->fd, scratch, n);
	if (w < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (w < 0)
		w = 0;
	if ((size_t)w < n) {
		if (!d->buf)
			d->buf = xmalloc(RELAY_BUF);
		memcpy(d->buf, scratch + w, n - (size_t)w);
		d->off = 0;
		d->len = n - (size_t)w;
		d->full = true;
	}
	return w;
}

/* Socket to socket (or anything but a pipe): what the source has is read
 * into the scratch buffer and written straight on, one read and one write
 * for a message, fewer than two splices through a pipe.  A read that
 * fills the whole buffer is a stream: from the next move on, the bytes go
 * through the direction's pipe with splice (the kernel passes references
 * to its pages, nothing is copied), a pipe that grows when it fills;
 * a splice that brings little sends the direction back to copying, and
 * its pipe is closed.  Held bytes (the pipe's, or the buffer's) go first. */
static ssize_t step_sock(struct dir *d, size_t len)
{
	if (d->piped)
		return write_piped(d);
	if (d->len > d->off)
		return write_held(d);
	ssize_t n;
	if (!d->bulk) {
		n = read(d->src->fd, scratch, sizeof(scratch));
		if (n <= 0) {
			if (n == 0)
				d->eof = true;
			return n;
		}
		if ((size_t)n == sizeof(scratch))
			d->bulk = true;
		else if ((size_t)n < DRAINED_BELOW)
			d->drained = true;
		return pass_scratch(d, (size_t)n);
	}
	if (d->pipe[0] < 0 && pipe_open(d) < 0) {
		d->bulk = false;   /* out of fds: copying does without */
		return 0;
	}
	/* Filled only when empty: its EAGAIN is the source's. */
	n = splice(d->src->fd, NULL, d->pipe[1], NULL,
	           len < d->pipe_sz ? len : d->pipe_sz, SPLICE_FLAGS);
	if (n < 0)
		return -1;   /* EINVAL: see pump */
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	d->piped = (size_t)n;
	if ((size_t)n + 4096 >= d->pipe_sz)
		pipe_grow(d);
	else if ((size_t)n < SMALL_BELOW)
		d->bulk = false;
	if ((size_t)n < DRAINED_BELOW)
		d->drained = true;
	n = write_piped(d);
	if (n < 0 && errno == EAGAIN) {
		d->full = true;
		return 0;
	}
	return n;
}

static ssize_t step_copy(struct dir *d)
{
	ssize_t n;
	if (d->len > d->off)
		return write_held(d);
	if (!d->buf)
		d->buf = xmalloc(RELAY_BUF);
	if (d->piped) {
		/* Left over from MODE_SOCK: read before the source. */
		size_t want = d->piped < RELAY_BUF ? d->piped : RELAY_BUF;
		n = read(d->pipe[0], d->buf, want);
		if (n > 0)
			d->piped -= (size_t)n;
	} else {
		n = read(d->src->fd, d->buf, RELAY_BUF);
		if (n == 0)
			d->eof = true;
		if (n > 0 && d->lines)
			d->line_src = d->buf[n - 1] == '\n';
		if (n > 0 && (size_t)n < DRAINED_BELOW)
			d->drained = true;
	}
	if (n > 0)
		d->len = (size_t)n;
	return n < 0 ? -1 : 0;
}

/* Moves what D can move now, up to the budget; after a hangup (HUP) to
 * the source's end, not only until it looks drained.  Returns at once
 * when a callback freed the relay. */
static void pump(struct relay *r, struct dir *d, bool hup)
{
	size_t left = RELAY_BUDGET;
	d->drained = d->full = false;
	while (left > 0) {
		if (d->eof && !held(d)) {
			finish(r, d, 0);
			return;
		}
		if (d->full)
			return;   /* it holds bytes: waits for the sink */
		if (d->drained && !held(d) && !hup) {
			/* Asking again would most likely be an EAGAIN. */
			d->wait_dst = false;
			return;
		}
		ssize_t n;
		switch (d->mode) {
		case MODE_SPLICE:
			n = step_splice(d, left);
			break;
		case MODE_SOCK:
			n = step_sock(d, left);
			if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
				/* For good; step_copy drains the pipe first. */
				d->mode = MODE_COPY;
				n = 0;
			}
			break;
		default:
			n = step_copy(d);
			break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (d->mode == MODE_SPLICE)
				d->wait_dst = sink_blocked(d);
			return;
		}
		if (n < 0) {
			finish(r, d, errno);
			return;
		}
		if (n > 0) {
			left -= (size_t)n < left ? (size_t)n : left;
			if (!moved(r, d, (size_t)n))
				return;
		}
	}
	/* Out of budget, not blocked: wait for the source (it fires at once
	 * if it has more; the sink's turn comes with the next EAGAIN). */
	d->wait_dst = false;
}

/* After a callback may have freed R. */
static void leave(struct relay *r)
{
	r->busy = false;
	if (r->dead)
		free(r);
	else
		rewatch(r);
}

static void on_io(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	struct watch *w = io->data;
	struct relay *r = w->r;
	bool hup = events & (EPOLLHUP | EPOLLERR);
	r->busy = true;
	if (hup)
		w->hup = true;
	/* Sources first: what is readable still goes before a hung-up
	 * socket's other direction ends. */
	for (int k = 0; k < 2 && !r->dead; k++) {
		struct dir *d = &r->dir[k];
		if (!d->ended && d->src == w && !waits_sink(d) &&
		    (events & EPOLLIN || hup))
			pump(r, d, hup);
	}
	for (int k = 0; k < 2 && !r->dead; k++) {
		struct dir *d = &r->dir[k];
		if (d->ended || d->dst != w)
			continue;
		if (hup)
			finish(r, d, EPIPE);   /* what it holds is dropped */
		else if (events & EPOLLOUT && waits_sink(d))
			pump(r, d, false);
	}
	leave(r);
}

static void on_kick(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct relay *r = t->data;
	r->busy = true;
	for (int k = 0; k < 2 && !r->dead; k++) {
		struct dir *d = &r->dir[k];
		if (!d->ended && waited(d)->always)
			pump(r, d, false);
	}
	leave(r);
}

static struct watch *watch_for(struct relay *r, int fd)
{
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].fd == fd)
			return &r->w[i];
	struct watch *w = &r->w[r->nw++];
	w->r = r;
	w->fd = fd;
	return w;
}

static void dir_init(struct relay *r, struct dir *d, int src, int dst,
                     bool lines)
{
	d->pipe[0] = d->pipe[1] = -1;
	d->lines = d->line_src = d->line_dst = lines;
	if (src < 0 || dst < 0) {
		d->ended = true;
		return;
	}
	d->src = watch_for(r, src);
	d->dst = watch_for(r, dst);
	/* A bad fd shows up when the loop refuses it. */
	struct stat ss, ds;
	bool sfifo = fstat(src, &ss) == 0 && S_ISFIFO(ss.st_mode);
	bool dok = fstat(dst, &ds) == 0;
	d->dst_sock = dok && S_ISSOCK(ds.st_mode);
	if (lines)
		d->mode = MODE_COPY;
	else if (sfifo || (dok && S_ISFIFO(ds.st_mode)))
		d->mode = MODE_SPLICE;
	else
		d->mode = MODE_SOCK;
}

struct relay *relay_new(struct loop *lp, struct relay_end a, struct relay_end b,
                        unsigned flags, const struct relay_cb *cb)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	r->lp = lp;
	r->cb = *cb;
	dir_init(r, &r->dir[RELAY_AB], a.rfd, b.wfd, flags & RELAY_COPY_AB);
	dir_init(r, &r->dir[RELAY_BA], b.rfd, a.wfd, flags & RELAY_COPY_BA);
	for (size_t i = 0; i < r->nw; i++) {
		struct watch *w = &r->w[i];
		/* Nothing wanted yet: rewatch says what. */
		if (loop_io_add(lp, &w->io, w->fd, 0, on_io, w) == 0)
			continue;
		if (errno != EPERM) {
			int e = errno;
			relay_free(r);
			errno = e;
			return NULL;
		}
		w->always = true;   /* a regular file, /dev/null... */
	}
	rewatch(r);
	return r;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nw; i++)
		loop_io_del(r->lp, &r->w[i].io);
	loop_timer_stop(r->lp, &r->kick);
	drop(&r->dir[RELAY_AB]);
	drop(&r->dir[RELAY_BA]);
	if (r->busy)
		r->dead = true;
	else
		free(r);
}

bool relay_ended(const struct relay *r, enum relay_dir dir)
{
	return r->dir[dir].ended;
}

unsigned long long relay_bytes(const struct relay *r, enum relay_dir dir)
{
	return r->dir[dir].bytes;
}

bool relay_line_start(const struct relay *r, enum relay_dir dir, bool source)
{
	const struct dir *d = &r->dir[dir];
	return d->lines && (source ? d->line_src : d->line_dst);
}
