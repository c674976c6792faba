/* logview — the pure pieces of how tend logs shows lines: the stored
 * stamp of a line, --since, --timestamps, and the colour of a unit's
 * label.
 *
 * Lines are stored as "2026-11-23T10:00:00.123Z text" (output.c): a UTC
 * stamp with milliseconds and a space.  --timestamps shows it as local
 * time in ISO 8601 with milliseconds and the offset
 * ("2026-11-23T11:00:00.123+01:00").  --since takes a duration back from
 * now (10m, 2h, 1d, 1h30m: parse_duration's), an ISO 8601 date and time
 * (2026-11-23T10:00, with seconds and milliseconds or not, a space for
 * the T; local time, or UTC with a Z, or an offset +01:00), a date alone
 * (its midnight) or HH:MM[:SS] today, local time.
 *
 * Colour: each unit's label gets one colour of a small palette, chosen
 * by a hash of its name (the same name, the same colour, whatever the
 * other units); only when --color=always, or =auto (the default) with
 * stdout a terminal and NO_COLOR unset or empty (no-color.org).
 */
#ifndef TEND_LOGVIEW_H
#define TEND_LOGVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGVIEW_STAMP_LEN 25   /* "2026-11-23T10:00:00.123Z " */

/* The stamp LINE (LEN bytes) starts with, as milliseconds since the
 * epoch: 0, or -1 when it has none. */
int logview_stamp(const char *line, size_t len, int64_t *ms);

/* MS (since the epoch) as local ISO 8601 with milliseconds and offset,
 * into OUT. */
const char *logview_local(int64_t ms, char out[40]);

/* --since S, NOW being NOW_MS since the epoch: the time it means into
 * *MS.  Returns 0, or -1 with *WHY (static: what is accepted). */
int logview_since(const char *s, int64_t now_ms, int64_t *ms,
                  const char **why);

enum logview_when { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };

/* --color=S: 0, or -1 when S is none of auto, always, never. */
int logview_when(const char *s, enum logview_when *w);

/* Whether to colour: WHEN, stdout a terminal (TTY), $NO_COLOR's value
 * (NULL when unset). */
bool logview_colour(enum logview_when when, bool tty, const char *no_color);

/* The escape sequence that colours NAME's label (its reset: "\033[0m"). */
const char *logview_label_colour(const char *name);

#endif
