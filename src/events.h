/* events — the structured record of what happened to each unit.
 *
 * An event is a JSON object {"ts", "unit", "event", ...fields} (DESIGN §6).
 * This module builds it once and hands it to every sink: in the foreground
 * a human line on stderr, "tend: UNIT: EVENT key=value ...", or the JSON
 * line itself when asked for.  Fields keep the order they were given in.
 */
#ifndef TEND_EVENTS_H
#define TEND_EVENTS_H

#include <jansson.h>
#include <stdbool.h>

struct events;

/* FD gets one line per event; JSON selects JSON lines over human ones. */
struct events *events_new(int fd, bool json);
void events_free(struct events *ev);

/* Emits EVENT for UNIT with FIELDS (an object, stolen; NULL: none). */
void events_emit(struct events *ev, const char *unit, const char *event,
                 json_t *fields);

#endif
