/* The INI reader (src/base/ini.c) on any text: every section and entry it hands
 * over is trimmed, keys are not empty, lines only go forward, and an error
 * is one line naming the file and line; with an error callback, every error
 * is, and the parse fails exactly when there was one. */
#include <ctype.h>
#include <stdbool.h>

#include "fuzz.h"
#include "ini.h"

struct seen {
	int last_line;
	size_t calls;
	int stop_at;   /* a callback fails at this call: errors from callers */
	size_t errors; /* heard by on_error */
};

static void trimmed(const char *s, const char *what)
{
	size_t n = strlen(s);
	FUZZ_ASSERT(n == 0 || (!isblank((unsigned char)s[0]) &&
	                       !isblank((unsigned char)s[n - 1])),
	            "%s \"%s\" is not trimmed", what, s);
}

static int step(struct seen *st, int line, char **err)
{
	FUZZ_ASSERT(line >= st->last_line && line >= 1, "line %d after %d",
	            line, st->last_line);
	st->last_line = line;
	if (++st->calls == (size_t)st->stop_at) {
		*err = strdup("fuzz:1: stopped by the caller");
		return -1;
	}
	return 0;
}

static int on_section(void *user, const char *name, int line, char **err)
{
	trimmed(name, "section");
	return step(user, line, err);
}

static int on_entry(void *user, const char *key, const char *value, int line,
                    char **err)
{
	FUZZ_ASSERT(*key, "an empty key at line %d", line);
	FUZZ_ASSERT(!strchr(key, '\n') && !strchr(value, '\n'),
	            "a newline in an entry at line %d", line);
	trimmed(key, "key");
	trimmed(value, "value");
	return step(user, line, err);
}

/* With an error callback (config.c's way): every error names the file
 * and is one line; the parse goes on. */
static void on_error(void *user, int line, char *msg)
{
	struct seen *st = user;
	FUZZ_ASSERT(msg != NULL, "an error without a message");
	FUZZ_ASSERT(line >= st->last_line && line >= 1, "error at line %d after %d",
	            line, st->last_line);
	st->last_line = line;
	st->errors++;
	FUZZ_ASSERT(strncmp(msg, "fuzz", 4) == 0, "\"%s\" names no file", msg);
	fuzz_check(oracle_message(msg, "", 0), "ini error");
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct seen st = { .stop_at = size ? data[0] % 64 : 0 };
	bool every = size && (data[0] & 64);
	struct ini_handler h = { on_section, on_entry, every ? on_error : NULL };
	char *err = NULL;
	int r = ini_parse_string(text, "fuzz.ini", &h, &st, &err);
	if (every) {
		FUZZ_ASSERT(err == NULL, "an error left with a callback: %s", err);
		FUZZ_ASSERT(r == (st.errors ? -1 : 0), "r %d after %zu errors", r,
		            st.errors);
	} else if (r < 0) {
		FUZZ_ASSERT(err != NULL, "an error without a message");
		FUZZ_ASSERT(strncmp(err, "fuzz", 4) == 0, "\"%s\" names no file", err);
		fuzz_check(oracle_message(err, "", 0), "ini error");
	} else {
		FUZZ_ASSERT(r == 0 && err == NULL, "r %d", r);
	}
	free(err);
	free(text);
	return 0;
}
