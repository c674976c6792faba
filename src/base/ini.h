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
 * the caller frees.
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
};

/* Parses TEXT (NUL-terminated); PATH is used in messages only.
 * Returns 0, or -1 with *err set. */
int ini_parse_string(const char *text, const char *path,
                     const struct ini_handler *h, void *user, char **err);

/* Reads the whole file at PATH, then parses it as above.  A file that cannot
 * be read is an error naming the path and errno text. */
int ini_parse_file(const char *path, const struct ini_handler *h, void *user,
                   char **err);

#endif
