#include "lines.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* --- reading --- */

/* Hands out the complete lines in the buffer; keeps the rest. */
static void take_lines(struct line_reader *r)
{
	size_t start = 0;
	for (;;) {
		char *nl = memchr(r->buf + r->scanned, '\n', r->len - r->scanned);
		if (!nl)
			break;
		size_t end = (size_t)(nl - r->buf);
		if (r->skipping)
			r->skipping = false;   /* the end of a line too long */
		else if (end - start > r->max)
			r->on_long(r->ctx, end - start);
		else
			r->on_line(r->ctx, r->buf + start, end - start);
		start = r->scanned = end + 1;
	}
	r->scanned = r->len;
	if (r->len - start > r->max) {
		/* Too long: drop it up to its newline. */
		if (!r->skipping)
			r->on_long(r->ctx, r->len - start);
		r->skipping = true;
		start = r->len;
	}
	memmove(r->buf, r->buf + start, r->len - start);
	r->len -= start;
	r->scanned -= start;
	if (r->cap > 65536 && r->len < r->cap / 4) {
		/* A big message went: give its memory back. */
		r->cap = r->len > 65536 ? r->len : 65536;
		r->buf = xrealloc(r->buf, r->cap);
	}
}

enum got { GOT_AGAIN, GOT_MORE, GOT_END };

/* Reads what there is, a round's worth at most (fair to the others). */
static enum got read_some(struct line_reader *r, bool drain)
{
	for (int k = 0; k < 64; k++) {
		if (r->cap - r->len < 16384) {
			r->cap = r->cap ? r->cap * 2 : 65536;
			r->buf = xrealloc(r->buf, r->cap);
		}
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return GOT_AGAIN;
		if (n <= 0) {
			int err = n < 0 ? errno : 0;
			if (r->len && !r->skipping && !err && r->len <= r->max)
				r->on_line(r->ctx, r->buf, r->len);   /* no newline */
			r->len = r->scanned = 0;
			loop_io_del(r->lp, &r->io);
			loop_timer_stop(r->lp, &r->tick);
			r->file = false;
			r->on_end(r->ctx, err);
			return GOT_END;
		}
		r->len += (size_t)n;
		take_lines(r);
		if (r->paused && !drain)
			return GOT_AGAIN;
	}
	return GOT_MORE;
}

static void on_readable(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	read_some(io->data, false);
}

/* A regular file: a round at every turn of the loop until its end. */
static void on_tick(struct loop *lp, struct loop_timer *t)
{
	struct line_reader *r = t->data;
	if (read_some(r, false) != GOT_END && !r->paused)
		loop_timer_start(lp, t, 0, on_tick, r);
}

int lines_read(struct line_reader *r, struct loop *lp, int fd, size_t max)
{
	r->lp = lp;
	r->fd = fd;
	r->max = max;
	r->len = r->scanned = 0;
	r->skipping = r->paused = r->file = false;
	if (loop_io_add(lp, &r->io, fd, EPOLLIN, on_readable, r) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	r->file = true;
	loop_timer_start(lp, &r->tick, 0, on_tick, r);
	return 0;
}

void lines_pause(struct line_reader *r, bool pause)
{
	if (r->paused == pause || (!r->io.active && !r->file))
		return;
	r->paused = pause;
	if (r->file) {
		if (pause)
			loop_timer_stop(r->lp, &r->tick);
		else
			loop_timer_start(r->lp, &r->tick, 0, on_tick, r);
	} else {
		loop_io_mod(r->lp, &r->io, pause ? 0 : EPOLLIN);
	}
}

void lines_drain(struct line_reader *r)
{
	while ((r->io.active || r->file) && read_some(r, true) == GOT_MORE)
		;
}

void lines_read_stop(struct line_reader *r)
{
	if (r->lp) {
		loop_io_del(r->lp, &r->io);
		loop_timer_stop(r->lp, &r->tick);
	}
	r->file = false;
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = r->scanned = 0;
}

/* --- writing --- */

static void on_later(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct line_writer *w = t->data;
	w->on_error(w->ctx, w->err);
}

static void fail(struct line_writer *w, int err)
{
	w->err = err;
	w->off = w->len = 0;
	loop_io_del(w->lp, &w->io);
	loop_timer_start(w->lp, &w->later, 0, on_later, w);
}

/* Writes what the descriptor takes now. */
static void flush(struct line_writer *w)
{
	while (w->off < w->len) {
		ssize_t n = write(w->fd, w->buf + w->off, w->len - w->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail(w, errno);
			return;
		}
		w->off += (size_t)n;
	}
	if (w->off == w->len) {
		w->off = w->len = 0;
		if (w->cap > 65536) {
			free(w->buf);
			w->buf = NULL;
			w->cap = 0;
		}
		if (w->io.active)
			loop_io_mod(w->lp, &w->io, 0);
		if (w->on_drained)
			w->on_drained(w->ctx);
	} else if (w->io.active) {
		loop_io_mod(w->lp, &w->io, EPOLLOUT);
	}
}

static void on_writable(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	flush(io->data);
}

int lines_write_start(struct line_writer *w, struct loop *lp, int fd)
{
	w->lp = lp;
	w->fd = fd;
	w->off = w->len = 0;
	w->err = 0;
	w->file = false;
	if (loop_io_add(lp, &w->io, fd, 0, on_writable, w) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	w->file = true;   /* a regular file: writes do not wait */
	return 0;
}

void lines_write(struct line_writer *w, const char *data, size_t len)
{
	if (w->err || (!w->io.active && !w->file))
		return;
	struct buf b = { w->buf, w->len, w->cap };
	if (w->off && w->len + len + 2 > w->cap) {
		memmove(b.s, b.s + w->off, w->len - w->off);
		b.len -= w->off;
		w->off = 0;
	}
	buf_add(&b, data, len);
	buf_addc(&b, '\n');
	w->buf = b.s;
	w->len = b.len;
	w->cap = b.cap;
	bool was_idle = w->off == 0 && w->len == len + 1;
	if (was_idle) {
		/* Nothing waited: write now, without the on_drained call. */
		void (*drained)(void *) = w->on_drained;
		w->on_drained = NULL;
		flush(w);
		w->on_drained = drained;
	}
}

size_t lines_pending(const struct line_writer *w)
{
	return w->len - w->off;
}

void lines_write_stop(struct line_writer *w)
{
	if (w->lp) {
		loop_io_del(w->lp, &w->io);
		loop_timer_stop(w->lp, &w->later);
	}
	free(w->buf);
	w->buf = NULL;
	w->off = w->len = w->cap = 0;
	w->file = false;
}
