/* output — the stdout and stderr of a unit's processes, in tend up's
 * foreground: one pipe per unit, read by the loop, written to tend's own
 * stdout a whole line at a time as "NAME | line", so lines of different
 * units never mix mid-line.  A line longer than OUTPUT_LINE_MAX is cut
 * there; a last line without newline is written when the pipe closes.
 * DST is non-blocking: when it is full (a paused pager, a terminal stopped
 * with Ctrl-S) lines are dropped, never the loop stalled, and the next line
 * that fits is preceded by "NAME | [tend: N lines dropped ...]".
 * (The daemon's log files come in part 2.)
 */
#ifndef TEND_OUTPUT_H
#define TEND_OUTPUT_H

#include "loop.h"
#include "util.h"

#define OUTPUT_LINE_MAX 8192

struct output {
	struct loop_io io;
	int rfd, wfd;     /* the pipe; wfd is what children get as 1 and 2 */
	int dst;          /* where prefixed lines go */
	char *prefix;     /* "NAME | " */
	struct buf line;  /* a partial line */
	unsigned long dropped;  /* lines DST had no room for, not yet reported */
};

/* A non-blocking descriptor of FD's destination that does not change FD's
 * own flags (a new open of /proc/self/fd/FD), or a dup of FD where that
 * cannot be had.  The caller owns it. */
int output_nonblocking(int fd);

/* Creates the pipe and starts reading it.  Returns 0 or -1/errno. */
int output_open(struct output *o, struct loop *lp, const char *name,
                size_t width, int dst);
/* Flushes a partial line, stops reading and closes the pipe. */
void output_close(struct output *o, struct loop *lp);

#endif
