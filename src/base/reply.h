/* reply — the answer lines of the control protocol (docs/protocol.md),
 * for the daemon's requests and for the sessions of tend connect alike:
 * one JSON object per line, {"ok": true, ...} or {"ok": false, "error":
 * MSG, "exit": CODE}.  Below the daemon and the sessions, so that both
 * write the same lines.
 */
#ifndef TEND_REPLY_H
#define TEND_REPLY_H

#include <jansson.h>

/* {"ok": true} plus FIELDS (stolen, may be NULL), and an error
 * {"ok": false, "error": MSG, "exit": CODE}.  As lines with newline
 * (malloc'd). */
char *reply_ok(json_t *fields);
char *reply_err(int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same for a message of several lines (every error of a file, which
 * the client prints a line each): each line cleaned, the newlines kept. */
char *reply_err_lines(int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* O (stolen) as one compact line with newline (malloc'd). */
char *reply_line(json_t *o);

#endif
