/* The control protocol's request parser (src/daemon/ctl.c) on any line, as a
 * client of the daemon's socket may send it: a request parses or is
 * refused with one line; a parsed request formatted again (what tend's own
 * CLI sends) parses to the same request; what a request carries is what
 * the table of commands (src/daemon/cmd.c) says its command takes. */
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
	const struct cmd_info *ci = cmd_info(req.cmd);
	FUZZ_ASSERT(!req.name || ci->takes_name != CMD_NAME_NONE,
	            "%s took a name", ci->name);
	FUZZ_ASSERT((!req.wait || (ci->flags & CMD_WAIT)) &&
	            (!req.join || (ci->flags & CMD_JOIN)) &&
	            (!req.force || (ci->flags & CMD_FORCE)),
	            "%s took a flag it has not", ci->name);
	FUZZ_ASSERT(!req.exec || ci->takes_name == CMD_NAME_OR_EXEC,
	            "%s took an exec", ci->name);
	FUZZ_ASSERT(!req.names || (ci->many && req.nnames && !req.name),
	            "%s took names", ci->name);
	FUZZ_ASSERT(req.cmd == CTL_STATUS || (!req.version && !req.history),
	            "%s took a version or history", ci->name);
	FUZZ_ASSERT(req.version >= 0 && req.version <= 2, "version %d", req.version);
	FUZZ_ASSERT(!cmd_acts_on_unit(ci) ||
	            (!!req.name + !!req.exec + !!req.names) == 1,
	            "%s: a name, names or an exec, one of them", ci->name);
	char *line = ctl_format(&req);
	size_t n = strlen(line);
	FUZZ_ASSERT(n && line[n - 1] == '\n' && !memchr(line, '\n', n - 1),
	            "formatted request is not one line: %s", line);
	FUZZ_ASSERT(ctl_parse(line, n - 1, &back, &err) == 0,
	            "\"%s\" does not parse back: %s", line, err);
	FUZZ_ASSERT(back.cmd == req.cmd && back.wait == req.wait &&
	            back.join == req.join && back.force == req.force &&
	            back.version == req.version && back.history == req.history &&
	            !back.name == !req.name &&
	            (!req.name || !strcmp(back.name, req.name)) &&
	            same_strings(back.exec, req.exec) &&
	            back.nnames == req.nnames && same_strings(back.names, req.names) &&
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
