/* ini — a strict INI reader that knows the line of everything it reports.
 *
 * Accepted input, line by line:
 *   - blank lines, and full-line comments whose first non-blank is ';' or '#';
 *   - section headers "[text]"; the text between the brackets is trimmed and
 *     handed over as is ("service web" stays one string);
 *   - entries "key = value"; key and value are trimmed, the value may be
 *     empty.  An inline comment is ';' or '#' preceded by blank space and
 *     outside single or double quotes; it ends the value.
 *   - a line whose last non-blank character is a backslash outside quotes
 *     continues on the next line: the backslash is removed and the lines are
 *     joined with one space.  The entry keeps the line it started on.
 * A UTF-8 byte order mark at the start of the file is skipped.  Lines have no
 * length limit.  An entry before the first section header is an error.
 *
 * Errors are one line, "PATH:LINE: what; what to do", in a malloc'd string
 * the caller frees.  By default the parse stops at the first error; a
 * handler with an error callback hears of every error of the text (the
 * reader's own and its callbacks') and the parse goes on to the end.
 */
#ifndef TEND_INI_H
#define TEND_INI_H

struct ini_handler {
	/* Called for each section header.  Return 0 to go on; nonzero stops the
	 * parse, and *err must then have been set (malloc'd) by the callback. */
	int (*section)(void *user, const char *name, int line, char **err);
	/* Called for each entry, under the last section header. */
	int (*entry)(void *user, const char *key, const char *value, int line,
	             char **err);
	/* Optional: called with every error (MSG malloc'd, the callee's to
	 * free) instead of stopping; the parse then goes on with the next
	 * line.  A line with a syntax error calls neither callback above. */
	void (*error)(void *user, int line, char *msg);
};

/* Parses TEXT (NUL-terminated); PATH is used in messages only.
 * Returns 0, or -1 with *err set (with an error callback: -1 when it was
 * called, *err NULL). */
int ini_parse_string(const char *text, const char *path,
                     const struct ini_handler *h, void *user, char **err);

/* Reads the whole file at PATH, then parses it as above.  A file that cannot
 * be read is an error naming the path and errno text. */
int ini_parse_file(const char *path, const struct ini_handler *h, void *user,
                   char **err);

/* The whole text file at PATH in *TEXT (malloc'd).  Returns 0, or -1 with
 * *err "PATH: strerror" (errno kept) or "PATH:LINE: NUL byte...". */
int ini_read_file(const char *path, char **text, char **err);

#endif
