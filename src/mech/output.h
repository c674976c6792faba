/* output — the stdout and stderr of a unit's processes: one pipe per unit,
 * read by the loop.  Each line goes to the unit's log file (logfile.h) as
 * "TIMESTAMP line", and, in tend up's foreground, to tend's own stdout as
 * "NAME | line", a whole line at a time, so lines of different units never
 * mix mid-line.  A line longer than OUTPUT_LINE_MAX is cut
 * there; a last line without newline is written when the pipe closes.
 * DST is non-blocking: when it is full (a paused pager, a terminal stopped
 * with Ctrl-S) lines are dropped, never the loop stalled, and the next line
 * that fits is preceded by "NAME | [tend: N lines dropped ...]".
 * The lines read in one wakeup go to the log file in one write.
 * A log file that cannot be written (a full disk) is reported once (to
 * the fail hook, else on stderr); its lines are counted as lost, and the
 * first line written once it can be again (with the next batch, or
 * output_retry) says how many: "[tend: N lines were lost: ...]".  Nothing
 * blocks.
 */
#ifndef TEND_OUTPUT_H
#define TEND_OUTPUT_H

#include "logfile.h"
#include "loop.h"
#include "util.h"

#define OUTPUT_LINE_MAX 8192
/* The last lines kept for error messages (output_tail): so many, each cut
 * at so many bytes. */
#define OUTPUT_TAIL_LINES 4
#define OUTPUT_TAIL_LEN 160
#define OUTPUT_BATCH_MAX 65536   /* log bytes gathered for one write */

struct output {
	struct loop_io io;
	int rfd, wfd;     /* the pipe; wfd is what children get as 1 and 2 */
	int dst;          /* where prefixed lines go; -1: nowhere */
	struct logfile log;
	bool logging;     /* log is open */
	bool log_failing; /* the last write to it failed (reported) */
	int log_err;      /* why */
	unsigned long lost;        /* lines lost since, not told yet */
	unsigned long lost_total;  /* lines lost and told, for the caller */
	void (*on_fail)(void *ctx, const char *path, int err);
	void *fail_ctx;
	struct buf batch; /* lines of this wakeup for the log, one write */
	char stamp[24];   /* "2026-11-23T10:00:00", for stamp_sec */
	uint64_t stamp_sec;
	char *prefix;     /* "NAME | " */
	struct buf line;  /* a partial line */
	unsigned long dropped;  /* lines DST had no room for, not yet reported */
	char (*tail)[OUTPUT_TAIL_LEN];   /* the last lines (allocated at the
	                                    first), a ring of OUTPUT_TAIL_LINES */
	unsigned tail_next, tail_n;
	bool marking;     /* the line being written is tend's own */
};

/* A non-blocking descriptor of FD's destination that does not change FD's
 * own flags (a new open of /proc/self/fd/FD), or a dup of FD where that
 * cannot be had.  The caller owns it. */
int output_nonblocking(int fd);

/* Creates the pipe and starts reading it; lines go to DST (-1: none) and
 * to the file LOGNAME in the directory LOGDIR (kept open by the caller),
 * rotated at LOGMAX bytes (NULL: none).  Returns 0 or -1/errno. */
int output_open(struct output *o, struct loop *lp, const char *name,
                size_t width, int dst, int logdir, const char *logname,
                uint64_t logmax);
/* Writes what the pipe holds now, a last line without newline too: the
 * end of a run (its writers are gone), so its last words are not glued
 * to the next run's first. */
void output_flush(struct output *o);

/* output_flush, then TEXT as a line of its own: what follows is a new
 * run. */
void output_mark(struct output *o, const char *text);

/* While the log cannot be written: tries to write the line that tells
 * what was lost.  Returns 0 once the log is written again (or was never
 * failing), -1 while it still cannot be. */
int output_retry(struct output *o);

/* The last lines the unit's processes wrote since output_tail_clear (at
 * most OUTPUT_TAIL_LINES, each cut at OUTPUT_TAIL_LEN, tend's own marks
 * left out), cleaned to printable UTF-8 and joined by " / ": malloc'd, or
 * NULL when there is none.  For error messages that say why a program
 * ended in its own words. */
char *output_tail(struct output *o);
void output_tail_clear(struct output *o);

/* Flushes a partial line, stops reading and closes the pipe. */
void output_close(struct output *o, struct loop *lp);

#endif
