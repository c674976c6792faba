/* dotenv — the .env files of env-file = PATH, in the syntax users know
 * from docker compose, python-dotenv and process-compose.
 *
 * Line by line:
 *   - blank lines, and comments whose first non-blank is '#';
 *   - KEY=VALUE, optionally after "export " (as a shell would source it);
 *     blanks around KEY and around '=' are allowed; KEY is letters, digits
 *     and '_', not first a digit;
 *   - VALUE unquoted: up to the end of the line, without a comment ('#'
 *     after a blank) and without the blanks at its ends; ${VAR} expanded;
 *   - VALUE in single quotes: literal, up to the next single quote;
 *   - VALUE in double quotes: backslash escapes \n \r \t \" \\ \$ (another
 *     backslash stays as it is), ${VAR} expanded;
 *   - quoted values may span lines (the newlines are part of the value);
 *     after the closing quote only blanks and a comment may follow.
 * Expansion: ${VAR}, ${VAR:-default} (default literal) and $VAR; VAR is
 * looked up among the keys set above it in the same file (the last one),
 * then through the caller's lookup; unset is empty.  A '$' not followed
 * by a name or '{' is itself.
 * Later assignments of a key replace earlier ones (in place of the first).
 * A UTF-8 byte order mark and CRLF line endings are accepted.
 * A value is at most 128 KiB once expanded, and the values of a file at
 * most 4 MiB in all (both errors): a file of references to references
 * stops there instead of filling the memory.
 *
 * Errors are one line, "PATH:LINE: what; what to do" (malloc'd); the line
 * of a quoted value is the line its quote opened on.
 */
#ifndef TEND_DOTENV_H
#define TEND_DOTENV_H

#include "util.h"

/* Value of NAME, or NULL when unset. */
typedef const char *(*dotenv_lookup)(void *ctx, const char *name);

/* Parses TEXT (NUL-terminated; PATH for messages) and appends "KEY=VALUE"
 * strings to OUT.  Returns 0, or -1 with *err set and OUT as it was. */
int dotenv_parse(const char *text, const char *path, dotenv_lookup lookup,
                 void *ctx, struct strv *out, char **err);

#endif
