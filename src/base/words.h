/* words — split a command line into an argv the way a POSIX shell splits
 * words, without ever running a shell.
 *
 *   - blanks (space, tab, newline) separate words;
 *   - '...' is literal; "..." is literal except that backslash escapes
 *     \ " $ and `, and ${VAR} / $VAR are expanded;
 *   - outside quotes, a backslash makes the next character literal;
 *   - ${VAR}, ${VAR:-default} and $VAR are expanded outside single quotes,
 *     from the lookup function; an unset VAR expands to nothing; the result
 *     is never split again;
 *   - "~" or "~/..." at the start of an unquoted word becomes the home
 *     directory; "~user/..." that user's home;
 *   - every other character, ';' '|' '&' '<' '>' '(' ')' '*' included, is
 *     an ordinary character: "echo a; rm x" gives "echo" "a;" "rm" "x";
 *   - a word that is empty after expansion and had no quotes is dropped
 *     ("" and '' give an empty word).
 * Unterminated quotes, a "${" without "}", a bad variable name, an unknown
 * ~user, a trailing lone backslash and defaults nested more than
 * WORDS_NEST_MAX deep ("${A:-${B:-...}}") are errors.
 */
#ifndef TEND_WORDS_H
#define TEND_WORDS_H

#include <stddef.h>

#define WORDS_NEST_MAX 16

struct words_env {
	/* Value of NAME, or NULL when unset.  NULL lookup: getenv(). */
	const char *(*lookup)(void *ctx, const char *name);
	void *ctx;
	/* Home for "~"; NULL: $HOME, then the passwd entry. */
	const char *home;
};

/* On success returns 0 and a NULL-terminated, malloc'd argv (free it with
 * words_free) with *argc words; zero words is not an error here.  On error
 * returns -1 and a malloc'd one-line reason in *err (no file or line; the
 * caller adds those), e.g. "unterminated double quote". */
int words_split(const char *line, const struct words_env *env, char ***argv,
                size_t *argc, char **err);

/* Expands one word the same way (quotes, ~, ${VAR}) and requires exactly
 * one word as the result: for paths such as cwd.  Returns 0 / -1 as above. */
int words_one(const char *text, const struct words_env *env, char **out,
              char **err);

void words_free(char **argv);

/* Appends ARGV as one line a shell would split back into the same words,
 * quoting where needed, to a malloc'd string. */
char *words_join(char *const *argv);

#endif
