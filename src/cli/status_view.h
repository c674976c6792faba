/* status_view — how the CLI shows the daemon's status reply (status.h):
 * the table of tend status, fitted to the terminal, and the shapes of
 * tend status --json; with the small pieces tend top shares (ages,
 * widths, cutting text with an ellipsis, what a stopped unit waits for).
 *
 * The width: $COLUMNS when set (a number > 0), else the terminal's
 * (TIOCGWINSZ) when stdout is one, else none (lines are whole: a pipe or
 * a file gets what it always got; scripts use --json).  A table wider
 * than that drops columns PROCS and KIND, then cuts names to 24 columns,
 * then drops RESTARTS, CLIENTS, PID and UPTIME, then cuts names to 8
 * columns; the last column (WHY / LAST EXIT) takes what is left, and
 * every line is cut to the width, each cut marked with an ellipsis ("…"
 * in a UTF-8 locale, else "...").
 */
#ifndef TEND_STATUS_VIEW_H
#define TEND_STATUS_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* How tend status [NAME] (NAMED) prints the reply (a version 2 one):
 * JSON_FLAGS CMD_JSON, CMD_JSON1 (cmd.h), or 0: the table (without the
 * daemon's lines for a NAME). */
void status_show(json_t *reply, unsigned json_flags, bool named);

/* The reply LINE (LEN bytes, compact JSON as the daemon writes it) of
 * a tend status --json, written to OUT as status_show would print it,
 * without parsing it into values: {"version", "daemon", "units"}, each
 * level indented by two spaces, as jansson's JSON_INDENT(2).  A thousand
 * units parse into some 30 000 values, which cost the client more than
 * the daemon took to answer.  False (nothing written to OUT) when the
 * line is not {"ok":true,"version":...,"daemon":...,"units":...}: the
 * caller parses it then. */
bool status_print_json(const char *line, size_t len, struct buf *out);

/* The table's width (above): 0 when none. */
size_t status_width(void);

/* Colour on stdout: a terminal, and no NO_COLOR. */
bool status_colour(void);

/* "3s", "4m12s", "2h5m", "3d4h" for MS (into B). */
const char *status_age(uint64_t ms, char b[32]);

/* Columns S takes on a terminal (UTF-8 characters, one each). */
size_t text_cols(const char *s);

/* S cut to at most COLS columns, an ellipsis at the end when it was cut
 * (malloc'd). */
char *text_cut(const char *s, size_t cols);

/* What the STATE column shows for unit U (a status v2 object): its state,
 * or "waiting" for a start that waits for tend's own resources. */
const char *status_state_shown(json_t *u);

/* The last column of a unit's row: why it is not up (its reason_text,
 * with an age where one helps), else its last exit, else "-"
 * (malloc'd). */
char *status_why_text(json_t *u);

#endif
