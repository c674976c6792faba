/* events — the structured record of what happened to each unit.
 *
 * An event is a JSON object {"ts", "unit", "event", ...fields} (DESIGN §6).
 * This module builds it once and hands it to every sink: the daemon's
 * events file (JSON lines, rotated like a log: logfile.h), and in the
 * foreground a human line on stderr, "tend: UNIT: EVENT key=value ...", or
 * the JSON line itself when asked for.  Fields keep the order they were
 * given in.
 */
#ifndef TEND_EVENTS_H
#define TEND_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct events;

/* FD gets one line per event (-1: none); JSON selects JSON lines over
 * human ones.  FD should be non-blocking (the daemon's stderr is, see
 * daemon.h): a line it has no room for (nobody reads it) is dropped, never
 * waited for, and the next line that fits is preceded by a warn event
 * saying how many were dropped.  The events file gets every event. */
struct events *events_new(int fd, bool json);
/* From now on every event is also appended as a JSON line to NAME in the
 * directory DIRFD (kept open by the caller), the file rotated at MAX
 * bytes.  Returns 0 or -1/errno. */
int events_open_file(struct events *ev, int dirfd, const char *name,
                     uint64_t max);
void events_set_max(struct events *ev, uint64_t max);

/* While the events file cannot be written (a full disk), events wait in
 * memory, in order, up to EVENTS_BACKLOG_MAX bytes (more are counted as
 * lost), and go to the file first when it can be written again: at the
 * next event, or events_retry.  FN (with CTX) hears when a write to the
 * file fails after the last one worked (PATH, ERR). */
#define EVENTS_BACKLOG_MAX (256u << 10)
typedef void (*events_fail_fn)(void *ctx, const char *path, int err);
void events_on_fail(struct events *ev, events_fail_fn fn, void *ctx);
/* Writes the backlog if it can: 0 once the file is written again, -1
 * while it still cannot be. */
int events_retry(struct events *ev);
bool events_failing(const struct events *ev);
/* Events that found no room in the backlog since the last call. */
unsigned long events_take_lost(struct events *ev);

/* The human line of one event object (with newline; malloc'd). */
char *events_human(json_t *event);
void events_free(struct events *ev);

/* A wall clock that moved against CLOCK_BOOTTIME by more than this between
 * two events jumped (an NTP step, date -s): one warn (unit "tend",
 * "condition": "clock", "jump_ms") comes before the event that saw it.
 * Readings of the two clocks further apart than the slack are not used. */
#define EVENTS_CLOCK_JUMP_MS 1000
#define EVENTS_CLOCK_SLACK_MS 50

/* A JSON string of S made one line of valid UTF-8 (str_clean): for text
 * that comes from outside (a file name, a value of tend.ini), which
 * json_pack's "s" would refuse, losing the whole event's fields. */
json_t *events_text(const char *s);

/* Emits EVENT for UNIT with FIELDS (an object, stolen; NULL: none). */
void events_emit(struct events *ev, const char *unit, const char *event,
                 json_t *fields);

#endif
