/* The control protocol's request parser (src/ctl.c) on any line, as a
 * client of the daemon's socket may send it: a request parses or is
 * refused with one line; a parsed request formatted again (what tend's own
 * CLI sends) parses to the same request. */
#include "ctl.h"
#include "fuzz.h"

#include <stdbool.h>

/* Two NULL-terminated vectors (connect -- CMD's exec, env, set) alike? */
static bool same_strings(char **a, char **b)
{
	if (!a || !b)
		return !a == !b;
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CTL_LINE_MAX)
		return 0;   /* the daemon never reads a longer line */
	struct ctl_req req, back;
	char *err = NULL;
	if (ctl_parse((const char *)data, size, &req, &err) < 0) {
		FUZZ_ASSERT(err, "refused without a message");
		fuzz_check(oracle_message(err, "", 0), "ctl error");
		free(err);
		return 0;
	}
	FUZZ_ASSERT((unsigned)req.cmd <= CTL_RUN, "cmd %d", (int)req.cmd);
	char *line = ctl_format(&req);
	size_t n = strlen(line);
	FUZZ_ASSERT(n && line[n - 1] == '\n' && !memchr(line, '\n', n - 1),
	            "formatted request is not one line: %s", line);
	FUZZ_ASSERT(ctl_parse(line, n - 1, &back, &err) == 0,
	            "\"%s\" does not parse back: %s", line, err);
	FUZZ_ASSERT(back.cmd == req.cmd && back.wait == req.wait &&
	            back.join == req.join && back.force == req.force &&
	            !back.name == !req.name &&
	            (!req.name || !strcmp(back.name, req.name)) &&
	            same_strings(back.exec, req.exec) &&
	            same_strings(back.env, req.env) &&
	            !back.cwd == !req.cwd && (!req.cwd || !strcmp(back.cwd, req.cwd)) &&
	            back.nset == req.nset &&
	            (!req.nset || same_strings(back.set, req.set)),
	            "\"%s\" parsed back to another request", line);
	ctl_req_free(&back);
	ctl_req_free(&req);
	free(line);
	return 0;
}
