/* lines — a non-blocking descriptor read as lines, and one written from a
 * queue: the plumbing of stdio = mcp, where tend reads and writes whole
 * JSON-RPC messages instead of relaying bytes.
 *
 * A reader hands out each complete line (without its newline) as it
 * arrives; a line longer than its limit is dropped up to its newline and
 * reported once.  A writer writes at once what the descriptor takes and
 * queues the rest (EPOLLOUT then); a write error is reported from the loop,
 * never from inside lines_write, so callers may write from anywhere.
 *
 * A regular file (which epoll refuses) works too: it is read in rounds
 * from the loop's timers, and written at once.
 *
 * Callbacks may stop (lines_*_stop) their own reader or writer, and
 * anything else; a reader's on_line must not stop the reader it came from
 * (end the session from a timer instead) -- on_end may. */
#ifndef TEND_LINES_H
#define TEND_LINES_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>

struct line_reader {
	struct loop *lp;
	struct loop_io io;
	int fd;
	char *buf;
	size_t len, cap;
	size_t scanned;       /* buf[0..scanned) holds no newline */
	size_t max;           /* the longest line taken */
	bool skipping;        /* dropping an over-long line up to its end */
	bool paused;
	bool file;            /* a regular file (epoll refuses it): read on ticks */
	struct loop_timer tick;
	void (*on_line)(void *ctx, const char *line, size_t len);
	void (*on_long)(void *ctx, size_t len);    /* a line was dropped */
	void (*on_end)(void *ctx, int err);        /* EOF (0) or errno */
	void *ctx;
};

struct line_writer {
	struct loop *lp;
	struct loop_io io;
	struct loop_timer later;  /* reports an error from the loop */
	int fd;
	char *buf;
	size_t off, len, cap;     /* queued: buf[off..len) */
	int err;                  /* the write error, once */
	bool file;                /* a regular file: always writable */
	void (*on_error)(void *ctx, int err);
	void (*on_drained)(void *ctx);   /* the queue emptied (may be NULL) */
	void *ctx;
};

/* Starts reading FD (not owned: the caller closes it after stop). */
int lines_read(struct line_reader *r, struct loop *lp, int fd, size_t max);
/* Stops reading (or resumes: PAUSE false) without losing what is read. */
void lines_pause(struct line_reader *r, bool pause);
/* Reads what FD holds now, to EAGAIN or its end (a process that wrote it
 * is gone: its last lines are taken before its end is acted on). */
void lines_drain(struct line_reader *r);
void lines_read_stop(struct line_reader *r);

int lines_write_start(struct line_writer *w, struct loop *lp, int fd);
/* Queues DATA and a newline; writes at once what fits. */
void lines_write(struct line_writer *w, const char *data, size_t len);
size_t lines_pending(const struct line_writer *w);
void lines_write_stop(struct line_writer *w);

#endif
