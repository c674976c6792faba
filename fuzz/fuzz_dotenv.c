/* The .env reader of env-file (src/base/dotenv.c) on any text: what it
 * gives is KEY=VALUE with a valid name, each name once, appended after
 * what the list held; an error is one line naming the file and a line of
 * it, and leaves the list as it was. */
#include "dotenv.h"
#include "fuzz.h"

/* The caller's variables: a few names, one of them empty. */
static const char *lookup(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "HOME") == 0)
		return "/home/fuzz";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

static size_t name_len(const char *kv)
{
	size_t n = strcspn(kv, "=");
	FUZZ_ASSERT(kv[n] == '=', "\"%s\" has no '='", kv);
	FUZZ_ASSERT(n > 0 && !(kv[0] >= '0' && kv[0] <= '9'), "bad name in \"%s\"", kv);
	for (size_t i = 0; i < n; i++) {
		char c = kv[i];
		FUZZ_ASSERT((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '_', "bad name in \"%s\"", kv);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	size_t lines = 1;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	struct strv out = { 0 };
	strv_push(&out, strdup("BEFORE=1"));
	char *err = NULL;
	int r = dotenv_parse(text, "fuzz.env", lookup, NULL, &out, &err);
	FUZZ_ASSERT(out.n >= 1 && strcmp(out.v[0], "BEFORE=1") == 0,
	            "the list's first entry changed");
	if (r < 0) {
		FUZZ_ASSERT(err, "an error without a message");
		FUZZ_ASSERT(out.n == 1, "%zu entries after an error", out.n);
		FUZZ_ASSERT(strncmp(err, "fuzz.env:", 9) == 0, "\"%s\" names no file", err);
		long line = strtol(err + 9, NULL, 10);
		FUZZ_ASSERT(line >= 1 && (size_t)line <= lines, "line %ld of %zu",
		            line, lines);
		FUZZ_ASSERT(!strchr(err, '\n'), "an error of several lines: %s", err);
		fuzz_check(oracle_message(err, "", 0), "dotenv error");
	} else {
		FUZZ_ASSERT(r == 0 && !err, "r %d", r);
		for (size_t i = 1; i < out.n; i++) {
			size_t n = name_len(out.v[i]);
			for (size_t k = 1; k < i; k++)
				FUZZ_ASSERT(!(name_len(out.v[k]) == n &&
				              strncmp(out.v[k], out.v[i], n) == 0),
				            "\"%.*s\" set twice", (int)n, out.v[i]);
		}
	}
	FUZZ_ASSERT(out.v[out.n] == NULL, "the list is not NULL-terminated");
	strv_free(&out);
	free(err);
	free(text);
	return 0;
}
