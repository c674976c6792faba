/* Unit tests for cmd.c: the table of commands, what each applies to, and
 * the CLI's argument parser.  The rules the table replaces (the daemon's
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

/* Parses the NULL-terminated words after `tend CMD`; returns the error
 * (to free) or NULL, the request in *REQ and --json in *JSON. */
static char *cli(const char *cmd, struct ctl_req *req, bool *json, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	va_start(ap, json);
	for (char *a; (a = va_arg(ap, char *)); )
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	const struct cmd_info *ci = cmd_find(cmd);
	assert_non_null(ci);
	*req = (struct ctl_req){ .cmd = ci->cmd };
	*json = false;
	char *err = NULL;
	int r = cmd_parse_args(ci, argc, argv, req, json, &err);
	assert_int_equal(r < 0, err != NULL);
	return err;
}

#define CLI_OK(cmd, req, json, ...) \
	assert_null(cli(cmd, req, json, __VA_ARGS__, (char *)NULL))

static void cli_bad(const char *want, const char *cmd, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	va_start(ap, cmd);
	for (char *a; (a = va_arg(ap, char *)); )
		argv[argc++] = a;
	va_end(ap);
	const struct cmd_info *ci = cmd_find(cmd);
	struct ctl_req req = { .cmd = ci->cmd };
	bool json = false;
	char *err = NULL;
	assert_int_equal(cmd_parse_args(ci, argc, argv, &req, &json, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static void test_cli_status(void **state)
{
	(void)state;
	struct ctl_req req;
	bool json;
	assert_null(cli("status", &req, &json, (char *)NULL));
	assert_null(req.name);
	assert_false(json);
	CLI_OK("status", &req, &json, "web", "--json");
	assert_string_equal(req.name, "web");
	assert_true(json);
	assert_false(req.wait);
	CLI_OK("status", &req, &json, "--json");
	assert_null(req.name);
	cli_bad("status: unexpected argument \"--wait\"; see tend status --help",
	        "status", "web", "--wait", (char *)NULL);
	cli_bad("status: unexpected argument \"b\"; see tend status --help",
	        "status", "a", "b", (char *)NULL);
	cli_bad("status: unexpected argument \"--force\"; see tend status --help",
	        "status", "--force", (char *)NULL);
}

static void test_cli_start_stop_restart(void **state)
{
	(void)state;
	struct ctl_req req;
	bool json;
	static const char *const cmds[] = { "start", "stop", "restart" };
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
		const char *c = cmds[i];
		CLI_OK(c, &req, &json, "web");
		assert_string_equal(req.name, "web");
		assert_false(req.wait);
		CLI_OK(c, &req, &json, "--wait", "web");
		assert_string_equal(req.name, "web");
		assert_true(req.wait);
		assert_false(req.join || req.force || json);
		char *m = xasprintf("%s: which service? usage: tend %s NAME [--wait]",
		                    c, c);
		cli_bad(m, c, (char *)NULL);
		cli_bad(m, c, "--wait", (char *)NULL);
		free(m);
		static const char *const others[] = { "--json", "--join", "--force",
		                                      "-x", "-" };
		for (size_t k = 0; k < ARRAY_LEN(others); k++) {
			m = xasprintf("%s: unexpected argument \"%s\"; see tend %s --help",
			              c, others[k], c);
			cli_bad(m, c, "web", others[k], (char *)NULL);
			free(m);
		}
		m = xasprintf("%s: unexpected argument \"db\"; see tend %s --help", c, c);
		cli_bad(m, c, "web", "db", (char *)NULL);
		free(m);
	}
}

static void test_cli_reload_down(void **state)
{
	(void)state;
	struct ctl_req req;
	bool json;
	assert_null(cli("reload", &req, &json, (char *)NULL));
	assert_false(req.force);
	CLI_OK("reload", &req, &json, "--force");
	assert_true(req.force);
	assert_null(req.name);
	cli_bad("reload: unexpected argument \"web\"; see tend reload --help",
	        "reload", "web", (char *)NULL);
	cli_bad("reload: unexpected argument \"--wait\"; see tend reload --help",
	        "reload", "--wait", (char *)NULL);
	assert_null(cli("down", &req, &json, (char *)NULL));
	cli_bad("down: unexpected argument \"--force\"; see tend down --help",
	        "down", "--force", (char *)NULL);
	cli_bad("down: unexpected argument \"web\"; see tend down --help",
	        "down", "web", (char *)NULL);
}

static void test_cli_run(void **state)
{
	(void)state;
	struct ctl_req req;
	bool json;
	CLI_OK("run", &req, &json, "nightly");
	assert_string_equal(req.name, "nightly");
	assert_false(req.wait || req.join || req.force);
	CLI_OK("run", &req, &json, "--force", "nightly", "--wait");
	assert_true(req.wait && req.force);
	assert_false(req.join);
	CLI_OK("run", &req, &json, "nightly", "--join");
	assert_true(req.join);
	assert_false(req.wait);
	cli_bad("run: which job? usage: tend run JOB [--wait | --join]", "run",
	        (char *)NULL);
	cli_bad("run: which job? usage: tend run JOB [--wait | --join]", "run",
	        "--force", (char *)NULL);
	/* --wait after --join: they exclude each other; --join after --wait
	 * is an unexpected argument (as it always was) */
	cli_bad("run: --wait and --join exclude each other; see tend run --help",
	        "run", "nightly", "--join", "--wait", (char *)NULL);
	cli_bad("run: unexpected argument \"--join\"; see tend run --help",
	        "run", "nightly", "--wait", "--join", (char *)NULL);
	cli_bad("run: unexpected argument \"--json\"; see tend run --help",
	        "run", "nightly", "--json", (char *)NULL);
}

static void test_cli_connect(void **state)
{
	(void)state;
	struct ctl_req req;
	bool json;
	CLI_OK("connect", &req, &json, "mem");
	assert_string_equal(req.name, "mem");
	cli_bad("connect: which service? usage: tend connect SERVICE, or tend "
	        "connect [--KEY VALUE ...] -- CMD [ARG ...]", "connect",
	        (char *)NULL);
	cli_bad("connect: unexpected argument \"b\"; see tend connect --help",
	        "connect", "a", "b", (char *)NULL);
	cli_bad("connect: unexpected argument \"-v\"; see tend connect --help",
	        "connect", "a", "-v", (char *)NULL);
	cli_bad("connect: unexpected argument \"--wait\"; see tend connect --help",
	        "connect", "a", "--wait", (char *)NULL);
}

/* The CLI's request is one the daemon takes: formatted, it parses back. */
static void test_cli_request_parses(void **state)
{
	(void)state;
	struct ctl_req req, back;
	bool json;
	CLI_OK("run", &req, &json, "nightly", "--join", "--force");
	char *line = ctl_format(&req), *err = NULL;
	assert_int_equal(ctl_parse(line, strlen(line) - 1, &back, &err), 0);
	assert_int_equal(back.cmd, CTL_RUN);
	assert_string_equal(back.name, "nightly");
	assert_true(back.join && back.force && !back.wait);
	ctl_req_free(&back);
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
		cmocka_unit_test(test_cli_status),
		cmocka_unit_test(test_cli_start_stop_restart),
		cmocka_unit_test(test_cli_reload_down),
		cmocka_unit_test(test_cli_run),
		cmocka_unit_test(test_cli_connect),
		cmocka_unit_test(test_cli_request_parses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
