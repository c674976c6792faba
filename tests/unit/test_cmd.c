/* Unit tests for cmd.c: the table of commands, what each applies to, and
 * the CLI's argument parser (and the request its words make, ctl.c).  The rules the table replaces (the daemon's
 * if-chain, ctl.c's needs_name, client.c's strcmp chain) are written out
 * here as oracles: the table must decide every case as they did, with the
 * same messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd.h"
#include "ctl.h"
#include "util.h"

/* ---- the table ---- */

static void test_table_order(void **state)
{
	(void)state;
	for (int c = 0; c < CTL_NCMDS; c++) {
		const struct cmd_info *ci = cmd_info((enum ctl_cmd)c);
		assert_non_null(ci);
		assert_int_equal(ci->cmd, c);
		assert_ptr_equal(cmd_find(ci->name), ci);
		assert_string_equal(ctl_cmd_name((enum ctl_cmd)c), ci->name);
	}
	assert_null(cmd_info(CTL_NCMDS));
	assert_null(cmd_find("nope"));
	assert_null(cmd_find(""));
	assert_null(cmd_find("Status"));
	assert_string_equal(cmd_known(), "ping, status, start, stop, restart, "
	                    "reload, down, connect, run");
}

/* What the CLI has: tend ping does not exist; every other command does,
 * with a --help text; a command that acts on a unit says what it names. */
static void test_table_cli(void **state)
{
	(void)state;
	for (int c = 0; c < CTL_NCMDS; c++) {
		const struct cmd_info *ci = cmd_info((enum ctl_cmd)c);
		assert_int_equal(ci->cli, c != CTL_PING);
		if (ci->cli) {
			assert_non_null(ci->usage);
			assert_true(strncmp(ci->usage, "usage: tend ", 12) == 0);
		}
		if (cmd_acts_on_unit(ci)) {
			assert_non_null(ci->noun);
			assert_non_null(ci->synopsis);
			assert_true(ci->applies != 0);
		} else {
			assert_int_equal(ci->applies, 0);
		}
		/* --join only with --wait beside it to exclude */
		if (ci->flags & CMD_JOIN)
			assert_true(ci->flags & CMD_WAIT);
	}
}

/* ctl.c's needs_name, as it was. */
static bool old_needs_name(enum ctl_cmd c)
{
	return c == CTL_START || c == CTL_STOP || c == CTL_RESTART ||
	       c == CTL_CONNECT || c == CTL_RUN;
}

static void test_acts_on_unit(void **state)
{
	(void)state;
	for (int c = 0; c < CTL_NCMDS; c++)
		assert_int_equal(cmd_acts_on_unit(cmd_info((enum ctl_cmd)c)),
		                 old_needs_name((enum ctl_cmd)c));
}

/* The CLI's side, as client.c and main.c decided it. */
static void test_table_cli_daemon(void **state)
{
	(void)state;
	for (int c = 0; c < CTL_NCMDS; c++) {
		const struct cmd_info *ci = cmd_info((enum ctl_cmd)c);
		assert_int_equal(ci->starts_daemon, c == CTL_START ||
		                 c == CTL_RESTART || c == CTL_RUN || c == CTL_CONNECT);
		assert_int_equal(ci->done_without_daemon, c == CTL_STOP ||
		                 c == CTL_DOWN);
		assert_int_equal(ci->when_stopping, c == CTL_PING ||
		                 c == CTL_STATUS || c == CTL_DOWN);
	}
}

/* ---- which units a command applies to ---- */

/* The daemon's if-chain, as it was: NULL, or the message. */
static char *old_refusal(enum ctl_cmd c, const char *name, bool instance,
                         bool job)
{
	if (instance && c != CTL_STOP)
		return xasprintf("\"%s\" is a per-client instance: it starts with "
		                 "its client and ends with it", name);
	if (job && c != CTL_RUN && c != CTL_STOP)
		return xasprintf("\"%s\" is a job: run it with tend run %s", name, name);
	if (!job && c == CTL_RUN)
		return xasprintf("\"%s\" is a service: start it with tend start %s",
		                 name, name);
	return NULL;
}

static void test_refusal_as_before(void **state)
{
	(void)state;
	static const struct { unsigned kind; bool instance, job; } kinds[] = {
		{ CMD_ON_SERVICE, false, false },
		{ CMD_ON_JOB, false, true },
		{ CMD_ON_INSTANCE, true, false },
	};
	for (int c = 0; c < CTL_NCMDS; c++) {
		const struct cmd_info *ci = cmd_info((enum ctl_cmd)c);
		if (!cmd_acts_on_unit(ci))
			continue;
		for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
			char *want = old_refusal((enum ctl_cmd)c, "web", kinds[k].instance,
			                         kinds[k].job);
			char *got = cmd_refusal(ci, "web", kinds[k].kind);
			if (!want)
				assert_null(got);
			else
				assert_string_equal(got, want);
			free(want);
			free(got);
		}
	}
}

static void test_refusal_messages(void **state)
{
	(void)state;
	char *m = cmd_refusal(cmd_info(CTL_START), "nightly", CMD_ON_JOB);
	assert_string_equal(m, "\"nightly\" is a job: run it with tend run nightly");
	free(m);
	m = cmd_refusal(cmd_info(CTL_RUN), "web", CMD_ON_SERVICE);
	assert_string_equal(m, "\"web\" is a service: start it with tend start web");
	free(m);
	m = cmd_refusal(cmd_info(CTL_RESTART), "web#2", CMD_ON_INSTANCE);
	assert_string_equal(m, "\"web#2\" is a per-client instance: it starts with "
	                    "its client and ends with it");
	free(m);
	assert_null(cmd_refusal(cmd_info(CTL_STOP), "web#2", CMD_ON_INSTANCE));
	assert_null(cmd_refusal(cmd_info(CTL_STOP), "nightly", CMD_ON_JOB));
	assert_null(cmd_refusal(cmd_info(CTL_CONNECT), "mem", CMD_ON_SERVICE));
}

/* ---- the protocol's fields, per command, as ctl.c allowed them ---- */

static bool old_takes_field(enum ctl_cmd c, const char *key)
{
	if (strcmp(key, "name") == 0)
		return old_needs_name(c) || c == CTL_STATUS;
	if (strcmp(key, "wait") == 0)
		return old_needs_name(c) && c != CTL_CONNECT;
	if (strcmp(key, "join") == 0)
		return c == CTL_RUN;
	if (strcmp(key, "force") == 0)
		return c == CTL_RUN || c == CTL_RELOAD;
	return c == CTL_CONNECT;   /* exec, env, set, cwd */
}

static void test_fields_as_before(void **state)
{
	(void)state;
	static const struct { const char *key, *value; } fields[] = {
		{ "name", "\"web\"" }, { "wait", "true" }, { "join", "true" },
		{ "force", "true" }, { "exec", "[\"x\"]" }, { "env", "[]" },
		{ "set", "[]" }, { "cwd", "\"/\"" },
	};
	for (int c = 0; c < CTL_NCMDS; c++)
		for (size_t f = 0; f < ARRAY_LEN(fields); f++) {
			const char *name = cmd_info((enum ctl_cmd)c)->name;
			char *line = xasprintf("{\"cmd\": \"%s\", \"%s\": %s}", name,
			                       fields[f].key, fields[f].value);
			char *no = xasprintf("cmd \"%s\" takes no field \"%s\"; see "
			                     "docs/protocol.md", name, fields[f].key);
			struct ctl_req req;
			char *err = NULL;
			int r = ctl_parse(line, strlen(line), &req, &err);
			bool refused_field = r < 0 && strcmp(err, no) == 0;
			if (refused_field == old_takes_field((enum ctl_cmd)c, fields[f].key))
				fail_msg("%s: %s", line, err ? err : "accepted");
			if (r == 0)
				ctl_req_free(&req);
			free(err);
			free(no);
			free(line);
		}
}

/* ---- the CLI's arguments ---- */

/* A command line after `tend CMD`, and what it must give: ERR, or the
 * message that the word UNEXPECTED is, else the request's NAME and the
 * flags set. */
struct cli_case {
	const char *cmd;
	const char *argv[4];
	const char *err;
	const char *name;
	unsigned flags;
	const char *unexpected;
};

#define ACCEPTS(c, nm, fl, ...) \
	{ .cmd = c, .name = nm, .flags = fl, .argv = __VA_ARGS__ }
#define REFUSES(c, e, ...) { .cmd = c, .err = e, .argv = __VA_ARGS__ }
#define UNEXPECTED(c, word, ...) \
	{ .cmd = c, .unexpected = word, .argv = __VA_ARGS__ }

static const struct cli_case cli_cases[] = {
	ACCEPTS("status", NULL, 0, { NULL }),
	ACCEPTS("status", "web", CMD_JSON, { "web", "--json" }),
	ACCEPTS("status", NULL, CMD_JSON, { "--json" }),
	UNEXPECTED("status", "--wait", { "web", "--wait" }),
	ACCEPTS("status", "a", 0, { "a", "b" }),
	UNEXPECTED("status", "--force", { "--force" }),
	ACCEPTS("start", "web", 0, { "web" }),
	ACCEPTS("start", "web", CMD_WAIT, { "--wait", "web" }),
	REFUSES("start", "start: which service? usage: tend start NAME... [--wait]",
	        { NULL }),
	REFUSES("start", "start: which service? usage: tend start NAME... [--wait]",
	        { "--wait" }),
	UNEXPECTED("start", "--json", { "web", "--json" }),
	ACCEPTS("start", "web", CMD_WAIT, { "web", "db", "--wait" }),
	ACCEPTS("stop", "all", 0, { "all" }),
	ACCEPTS("run", "idx-*", CMD_WAIT, { "idx-*", "nightly", "--wait" }),
	ACCEPTS("stop", "web", CMD_WAIT, { "web", "--wait" }),
	UNEXPECTED("stop", "--force", { "web", "--force" }),
	UNEXPECTED("stop", "-", { "web", "-" }),
	REFUSES("stop", "stop: which service? usage: tend stop NAME... [--wait]",
	        { NULL }),
	UNEXPECTED("restart", "--join", { "web", "--join" }),
	UNEXPECTED("restart", "-x", { "-x" }),
	ACCEPTS("restart", "web", 0, { "web" }),
	ACCEPTS("reload", NULL, 0, { NULL }),
	ACCEPTS("reload", NULL, CMD_FORCE, { "--force" }),
	UNEXPECTED("reload", "web", { "web" }),
	UNEXPECTED("reload", "--wait", { "--wait" }),
	ACCEPTS("down", NULL, 0, { NULL }),
	UNEXPECTED("down", "--force", { "--force" }),
	UNEXPECTED("down", "web", { "web" }),
	ACCEPTS("run", "nightly", 0, { "nightly" }),
	ACCEPTS("run", "nightly", CMD_FORCE | CMD_WAIT,
	        { "--force", "nightly", "--wait" }),
	ACCEPTS("run", "nightly", CMD_JOIN, { "nightly", "--join" }),
	REFUSES("run", "run: which job? usage: tend run JOB... [--wait | --join]",
	        { NULL }),
	REFUSES("run", "run: which job? usage: tend run JOB... [--wait | --join]",
	        { "--force" }),
	/* --wait after --join: they exclude each other; --join after --wait
	 * is an unexpected argument (as it always was) */
	REFUSES("run", "run: --wait and --join exclude each other; see tend run "
	        "--help", { "nightly", "--join", "--wait" }),
	UNEXPECTED("run", "--join", { "nightly", "--wait", "--join" }),
	UNEXPECTED("run", "--json", { "nightly", "--json" }),
	ACCEPTS("connect", "mem", 0, { "mem" }),
	REFUSES("connect", "connect: which service? usage: tend connect "
	        "SERVICE, or tend connect [--KEY VALUE ...] -- CMD [ARG ...]",
	        { NULL }),
	UNEXPECTED("connect", "b", { "a", "b" }),
	UNEXPECTED("connect", "--wait", { "a", "--wait" }),
};

/* Parses case K's words into *ARGS; returns the error (to free) or NULL. */
static char *cli_parse(const struct cli_case *k, struct cmd_args *args)
{
	int argc = 0;
	while (argc < 4 && k->argv[argc])
		argc++;
	const struct cmd_info *ci = cmd_find(k->cmd);
	assert_non_null(ci);
	char *err = NULL;
	int r = cmd_parse_args(ci, argc, (char **)k->argv, args, &err);
	assert_int_equal(r < 0, err != NULL);
	return err;
}

static void test_cli_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cli_cases); i++) {
		const struct cli_case *k = &cli_cases[i];
		struct cmd_args args;
		char *err = cli_parse(k, &args);
		char *want = k->unexpected
		             ? xasprintf("%s: unexpected argument \"%s\"; see tend %s "
		                         "--help", k->cmd, k->unexpected, k->cmd)
		             : k->err ? xstrdup(k->err) : NULL;
		if (want && (!err || strcmp(err, want) != 0))
			fail_msg("case %zu (%s): got \"%s\", want \"%s\"", i, k->cmd,
			         err ? err : "accepted", want);
		if (!want && err)
			fail_msg("case %zu (%s): refused: %s", i, k->cmd, err);
		free(err);
		bool refused = want != NULL;
		free(want);
		if (refused)
			continue;
		assert_int_equal(args.flags, k->flags);
		if (k->name)
			assert_string_equal(args.name, k->name);
		else
			assert_null(args.name);
		/* every name word, in order */
		size_t nw = 0;
		for (size_t w = 0; w < 4 && k->argv[w]; w++)
			if (k->argv[w][0] != '-')
				assert_string_equal(args.names[nw++], k->argv[w]);
		assert_int_equal(args.nnames, nw);
		cmd_args_free(&args);
	}
}

/* Names, globs and all into the units they cover. */
static void test_expand(void **state)
{
	(void)state;
	static const char *const names[] = { "idx-a", "idx-b", "web", "worker1",
	                                     "worker2", "nightly", "all-in" };
	static const unsigned kinds[] = { CMD_ON_SERVICE, CMD_ON_SERVICE,
	                                  CMD_ON_SERVICE, CMD_ON_SERVICE,
	                                  CMD_ON_SERVICE, CMD_ON_JOB,
	                                  CMD_ON_SERVICE };
	static const struct {
		const char *pats[3];
		unsigned applies;
		const char *want;   /* the indices, or the error */
	} cases[] = {
		{ { "web" }, CMD_ON_SERVICE, "2" },
		{ { "idx-*" }, CMD_ON_SERVICE, "0 1" },
		{ { "worker?", "web" }, CMD_ON_SERVICE, "3 4 2" },
		{ { "[iw]*" }, CMD_ON_SERVICE, "0 1 2 3 4" },
		{ { "web", "w*" }, CMD_ON_SERVICE, "2 3 4" },   /* each once */
		{ { "all" }, CMD_ON_SERVICE, "0 1 2 3 4 6" },   /* not the job */
		{ { "all" }, 0, "0 1 2 3 4 5 6" },
		{ { "all" }, CMD_ON_JOB, "5" },
		{ { "nightly" }, CMD_ON_SERVICE, "5" },   /* named: refused later */
		{ { "n*" }, CMD_ON_SERVICE,
		  "no service matches \"n*\" in F" },
		{ { "web", "wbe" }, CMD_ON_SERVICE,
		  "no service named \"wbe\" in F; did you mean \"web\"?" },
		{ { "idx-?" }, CMD_ON_SERVICE, "0 1" },
		{ { "idy-*" }, CMD_ON_SERVICE,
		  "no service matches \"idy-*\" in F; did you mean \"idx-a\"?" },
		{ { "zzzzzz" }, CMD_ON_SERVICE, "no service named \"zzzzzz\" in F" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = 0, *idx = NULL, nout = 0;
		while (n < 3 && cases[i].pats[n])
			n++;
		char *err = NULL, got[128] = "";
		if (cmd_expand(cases[i].pats, n, names, kinds, ARRAY_LEN(names),
		               cases[i].applies, "service", "F", &idx, &nout, &err) < 0) {
			snprintf(got, sizeof(got), "%s", err);
			free(err);
		} else {
			for (size_t k = 0, l = 0; k < nout; k++)
				l += (size_t)snprintf(got + l, sizeof(got) - l, "%s%zu",
				                      k ? " " : "", idx[k]);
			free(idx);
		}
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, got,
			         cases[i].want);
	}
	assert_true(cmd_is_pattern("all") && cmd_is_pattern("a*") &&
	            cmd_is_pattern("a?") && cmd_is_pattern("[ab]x"));
	assert_false(cmd_is_pattern("web") || cmd_is_pattern("all-in"));
	assert_true(cmd_matches("all", "x") && cmd_matches("x", "x"));
	assert_false(cmd_matches("x", "xy"));
}

/* The CLI's request is one the daemon takes: formatted, it parses back. */
static void test_cli_request_parses(void **state)
{
	(void)state;
	static const struct cli_case k = ACCEPTS("run", "nightly",
	                                         CMD_JOIN | CMD_FORCE,
	                                         { "nightly", "--join", "--force" });
	struct cmd_args args;
	struct ctl_req back;
	assert_null(cli_parse(&k, &args));
	struct ctl_req req = ctl_req_of_args(cmd_find(k.cmd), &args);
	char *line = ctl_format(&req), *err = NULL;
	assert_int_equal(ctl_parse(line, strlen(line) - 1, &back, &err), 0);
	assert_int_equal(back.cmd, CTL_RUN);
	assert_string_equal(back.name, "nightly");
	assert_true(back.join && back.force && !back.wait);
	ctl_req_free(&back);
	cmd_args_free(&args);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_order),
		cmocka_unit_test(test_table_cli),
		cmocka_unit_test(test_acts_on_unit),
		cmocka_unit_test(test_table_cli_daemon),
		cmocka_unit_test(test_refusal_as_before),
		cmocka_unit_test(test_refusal_messages),
		cmocka_unit_test(test_fields_as_before),
		cmocka_unit_test(test_cli_cases),
		cmocka_unit_test(test_cli_request_parses),
		cmocka_unit_test(test_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
