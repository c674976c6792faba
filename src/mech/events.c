#include "events.h"
#include "logfile.h"
#include "parse.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct events {
	int fd;
	bool json;
	struct logfile file;
	bool filing;      /* file is open */
	bool failing;     /* the last write to it failed: lines wait in backlog */
	struct buf backlog;     /* lines not written yet, oldest first */
	size_t backlog_off;     /* of the first one not written */
	unsigned long lost;     /* lines the backlog had no room for */
	events_fail_fn on_fail;
	void *fail_ctx;
	unsigned long dropped;  /* lines FD had no room for, not yet told */
	bool clock_known;       /* clock_off was measured */
	int64_t clock_off;      /* wall clock - CLOCK_BOOTTIME at the last stamp */
};

struct events *events_new(int fd, bool json)
{
	struct events *ev = xcalloc(1, sizeof(*ev));
	ev->fd = fd;
	ev->json = json;
	ev->file.fd = -1;
	return ev;
}

int events_open_file(struct events *ev, int dirfd, const char *name,
                     uint64_t max)
{
	if (logfile_openat(&ev->file, dirfd, name, max, LOGFILE_KEEP) < 0)
		return -1;
	ev->filing = true;
	return 0;
}

void events_set_max(struct events *ev, uint64_t max)
{
	if (ev->filing)
		logfile_set_max(&ev->file, max);
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	if (ev->filing)
		logfile_close(&ev->file);
	free(ev->backlog.s);
	free(ev);
}

void events_on_fail(struct events *ev, events_fail_fn fn, void *ctx)
{
	ev->on_fail = fn;
	ev->fail_ctx = ctx;
}

/* Writes the backlog to the file, one line at a time (so rotation keeps
 * its promise), as far as it goes.  Returns 0 once it is all written. */
static int flush_backlog(struct events *ev)
{
	while (ev->backlog_off < ev->backlog.len) {
		const char *line = ev->backlog.s + ev->backlog_off;
		const char *nl = memchr(line, '\n', ev->backlog.len - ev->backlog_off);
		size_t n = (size_t)(nl - line) + 1;
		if (logfile_write(&ev->file, line, n) < 0)
			return -1;
		ev->backlog_off += n;
	}
	ev->backlog.len = ev->backlog_off = 0;
	return 0;
}

int events_retry(struct events *ev)
{
	if (!ev->failing)
		return 0;
	if (flush_backlog(ev) < 0)
		return -1;
	ev->failing = false;
	return 0;
}

bool events_failing(const struct events *ev)
{
	return ev->failing;
}

unsigned long events_take_lost(struct events *ev)
{
	unsigned long n = ev->lost;
	ev->lost = 0;
	return n;
}

/* LINE for the file: written, or kept in the backlog while the file cannot
 * be written.  Returns the errno of a write that failed just now (the
 * start of a failure), else 0. */
static int to_file(struct events *ev, const char *line)
{
	size_t n = strlen(line);
	if (!ev->failing) {
		if (logfile_write(&ev->file, line, n) == 0)
			return 0;
		ev->failing = true;
		int e = errno;
		buf_add(&ev->backlog, line, n);
		return e ? e : EIO;
	}
	if (ev->backlog.len - ev->backlog_off + n <= EVENTS_BACKLOG_MAX)
		buf_add(&ev->backlog, line, n);
	else
		ev->lost++;
	/* Room again?  Then the backlog goes first, in order. */
	if (flush_backlog(ev) == 0)
		ev->failing = false;
	return 0;
}

static bool plain_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '\\' || *s == 0x7f)
			return false;
	return true;
}

/* "key=value" for one field; strings quoted (JSON style) when needed. */
static char *human_field(const char *key, json_t *v)
{
	if (json_is_string(v) && plain_word(json_string_value(v)))
		return xasprintf(" %s=%s", key, json_string_value(v));
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	char *f = xasprintf(" %s=%s", key, s ? s : "?");
	free(s);
	return f;
}

char *events_human(json_t *o)
{
	struct buf b = { 0 };
	const char *unit = json_string_value(json_object_get(o, "unit"));
	const char *event = json_string_value(json_object_get(o, "event"));
	char *head = xasprintf("tend: %s: %s", unit ? unit : "?", event ? event : "?");
	buf_adds(&b, head);
	free(head);
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (strcmp(key, "ts") == 0 || strcmp(key, "unit") == 0 ||
		    strcmp(key, "event") == 0 || json_is_null(v))
			continue;
		char *f = human_field(key, v);
		buf_adds(&b, f);
		free(f);
	}
	buf_addc(&b, '\n');
	return buf_take(&b);
}

/* The line of EVENT for FD, JSON or human. */
static char *sink_line(const struct events *ev, json_t *o, const char *json)
{
	return ev->json ? xstrdup(json) : events_human(o);
}

/* Writes LINE to FD, one write per line (fd_write_line), so lines from
 * tend never interleave; lines a reader that stopped reading had no room
 * for are dropped, counted, and told with the next line that fits.  An
 * error is no reader at all (or none that could read): nothing to tell
 * later. */
static void to_sink(struct events *ev, json_t *o, const char *json)
{
	if (ev->dropped) {
		char *m = xasprintf("%lu event lines were dropped: stderr was not "
		                    "being read", ev->dropped);
		json_t *w = json_pack("{s:I, s:s, s:s, s:s}", "ts",
		                      (json_int_t)wall_ms(), "unit", "tend", "event",
		                      "warn", "message", m);
		free(m);
		char *s = json_dumps(w, JSON_COMPACT);
		char *j = xasprintf("%s\n", s ? s : "{}");
		char *line = sink_line(ev, w, j);
		if (fd_write_line(ev->fd, line, strlen(line)) != 0)
			ev->dropped = 0;
		free(line);
		free(j);
		free(s);
		json_decref(w);
		if (ev->dropped) {
			ev->dropped++;
			return;
		}
	}
	char *line = sink_line(ev, o, json);
	if (fd_write_line(ev->fd, line, strlen(line)) == 0)
		ev->dropped++;
	free(line);
}

static void emit_at(struct events *ev, uint64_t ts, const char *unit,
                    const char *event, json_t *fields);

/* The wall time that stamps an event.  The wall clock's distance from
 * CLOCK_BOOTTIME (which, unlike CLOCK_MONOTONIC, runs on through a
 * suspend) changes only when the wall clock is set: an NTP step, date -s.
 * When it moved by more than EVENTS_CLOCK_JUMP_MS since the last stamp,
 * the jump is told first, once, in a warn of its own.  Nothing is polled:
 * the clock is looked at when there is something to stamp.  (Readings that
 * were not taken together, the daemon preempted or stopped between them,
 * measure nothing and are not compared.) */
static uint64_t stamp(struct events *ev)
{
	uint64_t b0 = boot_ms(), wall = wall_ms(), b1 = boot_ms();
	if (b1 - b0 > EVENTS_CLOCK_SLACK_MS)
		return wall;
	int64_t off = (int64_t)wall - (int64_t)b0, jump = off - ev->clock_off;
	bool known = ev->clock_known;
	ev->clock_known = true;
	ev->clock_off = off;
	if (!known || (jump <= EVENTS_CLOCK_JUMP_MS && jump >= -EVENTS_CLOCK_JUMP_MS))
		return wall;
	char d[32];
	uint64_t by = (uint64_t)(jump < 0 ? -jump : jump);
	format_duration(by, d);
	char *m = xasprintf("the wall clock jumped %s by %s (%+.3f s): timers run "
	                    "on the monotonic clock and are not affected; the "
	                    "times of events and log lines follow the new clock",
	                    jump < 0 ? "back" : "forward", d, (double)jump / 1000.0);
	emit_at(ev, wall, "tend", "warn", json_pack("{s:s, s:s, s:I}", "message", m,
	        "condition", "clock", "jump_ms", (json_int_t)jump));
	free(m);
	return wall;
}

json_t *events_text(const char *s)
{
	char *c = one_line(s);
	json_t *j = json_string(c);
	free(c);
	return j;
}

void events_emit(struct events *ev, const char *unit, const char *event,
                 json_t *fields)
{
	emit_at(ev, stamp(ev), unit, event, fields);
}

static void emit_at(struct events *ev, uint64_t ts, const char *unit,
                    const char *event, json_t *fields)
{
	json_t *o = json_pack("{s:I, s:s, s:s}", "ts", (json_int_t)ts,
	                      "unit", unit, "event", event);
	if (fields)
		json_object_update(o, fields);
	json_decref(fields);
	char *s = json_dumps(o, JSON_COMPACT);
	char *line = xasprintf("%s\n", s ? s : "{}");
	free(s);
	int failed = ev->filing ? to_file(ev, line) : 0;
	if (ev->fd >= 0)
		to_sink(ev, o, line);
	free(line);
	json_decref(o);
	/* Last: the hook may emit an event of its own. */
	if (failed && ev->on_fail)
		ev->on_fail(ev->fail_ctx, ev->file.path, failed);
}
