#include "output.h"
#include "proc_os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int output_nonblocking(int fd)
{
	int nb = proc_fd_reopen(fd, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_APPEND |
	                            O_NOCTTY);
	return nb >= 0 ? nb : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* "2026-11-23T10:00:00.123Z " of now into the stamp cache and OUT (the
 * date formatted once per second, not once per line). */
static void stamp_now(struct output *o, char ms[8])
{
	uint64_t now = wall_ms();
	if (now / 1000 != o->stamp_sec || !o->stamp[0]) {
		time_t t = (time_t)(now / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(o->stamp, sizeof(o->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		o->stamp_sec = now / 1000;
	}
	snprintf(ms, 8, ".%03uZ ", (unsigned)(now % 1000));
}

/* The log could not be written (a full disk): once it can, its first line
 * says how many lines were lost.  Returns 0 when that line is in. */
static int log_tell_lost(struct output *o)
{
	char ms[8];
	stamp_now(o, ms);
	char *line = xasprintf("%s%s[tend: %lu lines were lost: %s could not be "
	                       "written (%s)]\n", o->stamp, ms, o->lost,
	                       o->log.path, strerror(o->log_err));
	int r = logfile_write(&o->log, line, strlen(line));
	free(line);
	if (r == 0) {
		o->log_failing = false;
		o->lost_total += o->lost;
		o->lost = 0;
	}
	return r;
}

static unsigned long count_lines(const struct buf *b)
{
	unsigned long n = 0;
	for (const char *p = b->s; (p = memchr(p, '\n', b->len - (size_t)(p - b->s)));
	     p++)
		n++;
	return n;
}

/* Writes the lines gathered for the log file in one write. */
static void log_flush(struct output *o)
{
	if (!o->batch.len)
		return;
	if ((o->log_failing && log_tell_lost(o) < 0) ||
	    logfile_write(&o->log, o->batch.s, o->batch.len) < 0) {
		bool first = !o->log_failing;
		if (first)
			o->log_err = errno ? errno : EIO;
		o->log_failing = true;
		o->lost += count_lines(&o->batch);
		if (first && o->on_fail)
			o->on_fail(o->fail_ctx, o->log.path, o->log_err);
		else if (first)
			errline("%scannot write %s: %s; its lines are lost until this "
			        "is fixed", o->prefix, o->log.path, strerror(o->log_err));
	}
	o->batch.len = 0;
}

int output_retry(struct output *o)
{
	if (!o->logging || !o->log_failing)
		return 0;
	return log_tell_lost(o);
}

/* Adds "2026-11-23T10:00:00.123Z line\n" to the batch for the log file
 * (the date formatted once per second, not once per line). */
static void log_line(struct output *o, const char *s, size_t n)
{
	char ms[8];
	size_t len = 19 + 6 + n + 1;   /* stamp, ".123Z ", line, newline */
	/* Each write stays within log-max, so rotation keeps its promise. */
	uint64_t cap = o->log.max && o->log.max < OUTPUT_BATCH_MAX ? o->log.max
	                                                         : OUTPUT_BATCH_MAX;
	if (o->batch.len + len > cap)
		log_flush(o);
	stamp_now(o, ms);
	buf_adds(&o->batch, o->stamp);
	buf_add(&o->batch, ms, 6);
	buf_add(&o->batch, s, n);
	buf_addc(&o->batch, '\n');
}

static void drain(struct output *o);

static void tail_add(struct output *o, const char *s, size_t n)
{
	if (!o->tail)
		o->tail = xcalloc(OUTPUT_TAIL_LINES, sizeof(*o->tail));
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n)
		return;   /* a blank line says nothing */
	if (n >= OUTPUT_TAIL_LEN)
		n = OUTPUT_TAIL_LEN - 1;
	memcpy(o->tail[o->tail_next], s, n);
	o->tail[o->tail_next][n] = '\0';
	o->tail_next = (o->tail_next + 1) % OUTPUT_TAIL_LINES;
	if (o->tail_n < OUTPUT_TAIL_LINES)
		o->tail_n++;
}

char *output_tail(struct output *o)
{
	if (o->rfd >= 0)
		drain(o);   /* what the pipe holds now is the latest */
	if (!o->tail_n)
		return NULL;
	struct buf b = { 0 };
	unsigned first = (o->tail_next + OUTPUT_TAIL_LINES - o->tail_n) % OUTPUT_TAIL_LINES;
	for (unsigned i = 0; i < o->tail_n; i++) {
		if (i)
			buf_adds(&b, " / ");
		buf_adds(&b, o->tail[(first + i) % OUTPUT_TAIL_LINES]);
	}
	str_clean(b.s);
	return b.s;
}

void output_tail_clear(struct output *o)
{
	o->tail_n = 0;   /* (the last run's lines were flushed at its end) */
}

static void emit_line(struct output *o, const char *s, size_t n)
{
	if (!o->marking)
		tail_add(o, s, n);
	if (o->logging)
		log_line(o, s, n);
	if (o->dst < 0)
		return;
	struct buf b = { 0 };
	if (o->dropped) {
		char *note = xasprintf("%s[tend: %lu lines dropped: output was not "
		                       "being read]\n", o->prefix, o->dropped);
		buf_adds(&b, note);
		free(note);
	}
	buf_adds(&b, o->prefix);
	buf_add(&b, s, n);
	buf_addc(&b, '\n');
	/* A line that cannot be written (no room, or an error) is dropped,
	 * and told with the next one written. */
	if (fd_write_line(o->dst, b.s, b.len) > 0)
		o->dropped = 0;
	else
		o->dropped++;
	free(b.s);
}

/* Writes every complete line of the pending buffer; keeps the rest. */
static void flush_lines(struct output *o, bool all)
{
	char *s = o->line.s;
	size_t n = o->line.len, start = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n') {
			emit_line(o, s + start, i - start);
			start = i + 1;
		}
	if (n - start >= OUTPUT_LINE_MAX || (all && n > start)) {
		emit_line(o, s + start, n - start);
		start = n;
	}
	if (start == 0)
		return;
	memmove(s, s + start, n - start);
	o->line.len = n - start;
	s[o->line.len] = 0;
}

static void on_readable(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	struct output *o = io->data;
	char chunk[4096];
	ssize_t r;
	/* A bounded share per wakeup: a chatty unit cannot starve the loop
	 * (epoll is level-triggered and comes back for the rest). */
	for (int i = 0; i < 16 && (r = read(o->rfd, chunk, sizeof(chunk))) > 0; i++) {
		buf_add(&o->line, chunk, (size_t)r);
		flush_lines(o, false);
	}
	log_flush(o);
}

int output_open(struct output *o, struct loop *lp, const char *name,
                size_t width, int dst, int logdir, const char *logname,
                uint64_t logmax)
{
	int p[2];
	*o = (struct output){ .rfd = -1, .wfd = -1, .dst = dst };
	o->prefix = xasprintf("%-*s | ", (int)width, name);
	if (logname) {
		if (logfile_openat(&o->log, logdir, logname, logmax,
		                   LOGFILE_KEEP) < 0)
			return -1;
		o->logging = true;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		output_close(o, lp);
		errno = e;
		return -1;
	}
	o->rfd = p[0];
	o->wfd = p[1];
	fd_nonblock(o->rfd);
	if (loop_io_add(lp, &o->io, o->rfd, EPOLLIN, on_readable, o) < 0) {
		int e = errno;
		output_close(o, lp);
		errno = e;
		return -1;
	}
	return 0;
}

/* Writes out whatever the pipe holds now, a last partial line too. */
static void drain(struct output *o)
{
	char chunk[4096];
	ssize_t r;
	while ((r = read(o->rfd, chunk, sizeof(chunk))) > 0)
		buf_add(&o->line, chunk, (size_t)r);
	flush_lines(o, true);
}

void output_flush(struct output *o)
{
	drain(o);
	log_flush(o);
}

void output_mark(struct output *o, const char *text)
{
	drain(o);
	o->marking = true;
	emit_line(o, text, strlen(text));
	o->marking = false;
	log_flush(o);
}

void output_close(struct output *o, struct loop *lp)
{
	if (o->rfd >= 0) {
		loop_io_del(lp, &o->io);
		/* What the pipe still holds (the write end is ours, so this ends). */
		close(o->wfd);
		o->wfd = -1;
		drain(o);
		log_flush(o);
		close(o->rfd);
	}
	if (o->wfd >= 0)
		close(o->wfd);
	if (o->logging)
		logfile_close(&o->log);
	free(o->prefix);
	free(o->tail);
	free(o->line.s);
	free(o->batch.s);
	*o = (struct output){ .rfd = -1, .wfd = -1 };
}
