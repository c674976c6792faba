/* Unit tests for ctl.c: parsing request lines (every command, every error
 * message, hostile input), formatting requests, and building replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"
#include "reply.h"
#include "util.h"

#define PREFIX_JSON "request is not valid JSON: "

/* ---- helpers ---- */

/* Parses LEN bytes of LINE, which must succeed. */
static struct ctl_req parse_ok_n(const char *line, size_t len)
{
	struct ctl_req r = { .cmd = CTL_DOWN, .name = (char *)"junk", .wait = true };
	char *err = (char *)"unset";
	if (ctl_parse(line, len, &r, &err) != 0)
		fail_msg("ctl_parse(%.200s) failed: %s", line, err);
	assert_null(err);
	return r;
}

static struct ctl_req parse_ok(const char *line)
{
	return parse_ok_n(line, strlen(line));
}

/* Parses LEN bytes of LINE, which must fail; returns the message (to free). */
static char *parse_bad_n(const char *line, size_t len)
{
	struct ctl_req r = { .cmd = CTL_DOWN, .name = (char *)"junk", .wait = true };
	char *err = NULL;
	if (ctl_parse(line, len, &r, &err) == 0)
		fail_msg("ctl_parse(%.200s) accepted: cmd %s", line, ctl_cmd_name(r.cmd));
	assert_non_null(err);
	/* The request is left empty (and nothing leaks: ASan checks). */
	assert_int_equal(r.cmd, CTL_PING);
	assert_null(r.name);
	assert_false(r.wait);
	return err;
}

static void bad_n(const char *line, size_t len, const char *want)
{
	char *err = parse_bad_n(line, len);
	bool same = strcmp(err, want) == 0;
	if (!same)
		print_error("ctl_parse(%.200s):\n got  \"%s\"\n want \"%s\"\n", line,
		            err, want);
	free(err);
	if (!same)
		fail();
}

static void bad(const char *line, const char *want)
{
	bad_n(line, strlen(line), want);
}

/* A line of N bytes, ALL of them C, NUL-terminated (for building input). */
static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* REPLY must be exactly one line: ends in "\n", has no other newline, and
 * is a JSON object; returns it parsed. */
static json_t *one_json_line(const char *reply)
{
	size_t n = strlen(reply);
	assert_true(n >= 2);
	assert_int_equal(reply[n - 1], '\n');
	assert_ptr_equal(strchr(reply, '\n'), reply + n - 1);
	json_error_t je;
	json_t *o = json_loadb(reply, n - 1, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		fail_msg("reply is not JSON (%s): %s", je.text, reply);
	assert_true(json_is_object(o));
	return o;
}

/* ---- command names ---- */

static void test_cmd_names(void **state)
{
	(void)state;
	assert_string_equal(ctl_cmd_name(CTL_PING), "ping");
	assert_string_equal(ctl_cmd_name(CTL_STATUS), "status");
	assert_string_equal(ctl_cmd_name(CTL_START), "start");
	assert_string_equal(ctl_cmd_name(CTL_STOP), "stop");
	assert_string_equal(ctl_cmd_name(CTL_RESTART), "restart");
	assert_string_equal(ctl_cmd_name(CTL_RELOAD), "reload");
	assert_string_equal(ctl_cmd_name(CTL_DOWN), "down");
	assert_string_equal(ctl_cmd_name((enum ctl_cmd)9), "?");
	assert_string_equal(ctl_cmd_name((enum ctl_cmd)1000), "?");
}

/* ---- every command parses ---- */

static void test_parse_no_arg_cmds(void **state)
{
	(void)state;
	static const struct { const char *line; enum ctl_cmd cmd; } cases[] = {
		{ "{\"cmd\":\"ping\"}", CTL_PING },
		{ "{\"cmd\": \"reload\"}", CTL_RELOAD },
		{ "  {  \"cmd\"  :  \"down\"  }  ", CTL_DOWN },
		{ "{\"cmd\":\"status\"}", CTL_STATUS },
		{ "{\"cmd\":\"\\u0070ing\"}", CTL_PING },     /* escaped 'p' */
		{ "\t{\"cmd\":\"ping\"}\r\n", CTL_PING },    /* whitespace around */
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct ctl_req r = parse_ok(cases[i].line);
		assert_int_equal(r.cmd, cases[i].cmd);
		assert_null(r.name);
		assert_false(r.wait);
		ctl_req_free(&r);
	}
}

static void test_parse_status_name(void **state)
{
	(void)state;
	struct ctl_req r = parse_ok("{\"cmd\":\"status\",\"name\":\"web\"}");
	assert_int_equal(r.cmd, CTL_STATUS);
	assert_string_equal(r.name, "web");
	assert_false(r.wait);
	ctl_req_free(&r);
	assert_null(r.name);
	assert_int_equal(r.cmd, CTL_PING); /* ctl_req_free empties it */

	/* Order of keys does not matter; escapes are decoded. */
	r = parse_ok("{\"name\":\"a\\\"b\\\\c\\u00e9\",\"cmd\":\"status\"}");
	assert_int_equal(r.cmd, CTL_STATUS);
	assert_string_equal(r.name, "a\"b\\c\xc3\xa9");
	ctl_req_free(&r);
}

/* status's version and history; the CLI asks for version 2, and both go
 * out and come back through ctl_format. */
static void test_parse_status_version_history(void **state)
{
	(void)state;
	struct ctl_req r = parse_ok("{\"cmd\":\"status\"}");
	assert_int_equal(r.version, 0);
	assert_false(r.history);
	r = parse_ok("{\"cmd\":\"status\",\"version\":2,\"history\":true}");
	assert_int_equal(r.version, 2);
	assert_true(r.history);
	char *l = ctl_format(&r);
	assert_string_equal(l, "{\"cmd\":\"status\",\"version\":2,"
	                       "\"history\":true}\n");
	free(l);
	ctl_req_free(&r);
	r = parse_ok("{\"cmd\":\"status\",\"version\":1}");
	assert_int_equal(r.version, 1);
	bad("{\"cmd\":\"status\",\"version\":3}", "\"version\" must be 1 or 2");
	bad("{\"cmd\":\"status\",\"version\":\"2\"}", "\"version\" must be 1 or 2");
	bad("{\"cmd\":\"status\",\"history\":1}", "\"history\" must be true or false");
	bad("{\"cmd\":\"start\",\"name\":\"a\",\"version\":2}",
	    "cmd \"start\" takes no field \"version\"; see docs/protocol.md");
	const struct cmd_info *ci = cmd_find("status");
	struct cmd_args args = { .name = NULL, .flags = CMD_JSON1 };
	r = ctl_req_of_args(ci, &args);
	assert_int_equal(r.version, 2);   /* the CLI makes the old shape itself */
	args.flags = 0;
	r = ctl_req_of_args(cmd_find("start"), &args);
	assert_int_equal(r.version, 0);
}

static void test_parse_named_cmds(void **state)
{
	(void)state;
	static const struct { const char *word; enum ctl_cmd cmd; } cmds[] = {
		{ "start", CTL_START }, { "stop", CTL_STOP }, { "restart", CTL_RESTART },
	};
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
		char *l = xasprintf("{\"cmd\":\"%s\",\"name\":\"web\"}", cmds[i].word);
		struct ctl_req r = parse_ok(l);
		assert_int_equal(r.cmd, cmds[i].cmd);
		assert_string_equal(r.name, "web");
		assert_false(r.wait);
		ctl_req_free(&r);
		free(l);

		l = xasprintf("{\"cmd\":\"%s\",\"name\":\"db-1\",\"wait\":true}", cmds[i].word);
		r = parse_ok(l);
		assert_int_equal(r.cmd, cmds[i].cmd);
		assert_string_equal(r.name, "db-1");
		assert_true(r.wait);
		ctl_req_free(&r);
		free(l);

		l = xasprintf("{\"wait\":false,\"name\":\"w\",\"cmd\":\"%s\"}", cmds[i].word);
		r = parse_ok(l);
		assert_int_equal(r.cmd, cmds[i].cmd);
		assert_string_equal(r.name, "w");
		assert_false(r.wait);
		ctl_req_free(&r);
		free(l);
	}
}

/* connect takes a name and nothing else (not even wait). */
static void test_parse_connect(void **state)
{
	(void)state;
	struct ctl_req r = parse_ok("{\"cmd\":\"connect\",\"name\":\"mem\"}");
	assert_int_equal(r.cmd, CTL_CONNECT);
	assert_string_equal(r.name, "mem");
	assert_false(r.wait);
	ctl_req_free(&r);
	bad("{\"cmd\":\"connect\"}", "cmd \"connect\" needs a \"name\" or an \"exec\"");
	bad("{\"cmd\":\"connect\",\"name\":\"m\",\"wait\":true}",
	    "cmd \"connect\" takes no field \"wait\"; see docs/protocol.md");
	assert_string_equal(ctl_cmd_name(CTL_CONNECT), "connect");
	char *l = ctl_format(&(struct ctl_req){ .cmd = CTL_CONNECT, .name = (char *)"m" });
	assert_string_equal(l, "{\"cmd\":\"connect\",\"name\":\"m\"}\n");
	free(l);
}

/* connect -- CMD: exec, cwd and env (set optional), never with a name;
 * what ctl_format writes parses back the same. */
static void test_parse_connect_exec(void **state)
{
	(void)state;
	char *exec[] = { (char *)"npx", (char *)"-y", (char *)"pkg", NULL };
	char *env[] = { (char *)"HOME=/h", (char *)"API_TOKEN=s\"cret", NULL };
	char *set[] = { (char *)"memory-max", (char *)"300M",
	                (char *)"env-ignore", (char *)"X*", NULL };
	struct ctl_req in = { .cmd = CTL_CONNECT, .exec = exec, .cwd = (char *)"/w",
	                      .env = env, .set = set, .nset = 2 };
	char *l = ctl_format(&in);
	assert_string_equal(l, "{\"cmd\":\"connect\",\"exec\":[\"npx\",\"-y\",\"pkg\"],"
	                    "\"cwd\":\"/w\",\"env\":[\"HOME=/h\",\"API_TOKEN=s\\\"cret\"],"
	                    "\"set\":[[\"memory-max\",\"300M\"],[\"env-ignore\",\"X*\"]]}\n");
	struct ctl_req r = parse_ok(l);
	free(l);
	assert_null(r.name);
	assert_string_equal(r.exec[0], "npx");
	assert_string_equal(r.exec[2], "pkg");
	assert_null(r.exec[3]);
	assert_string_equal(r.cwd, "/w");
	assert_string_equal(r.env[1], "API_TOKEN=s\"cret");
	assert_null(r.env[2]);
	assert_int_equal(r.nset, 2);
	assert_string_equal(r.set[2], "env-ignore");
	assert_string_equal(r.set[3], "X*");
	assert_null(r.set[4]);
	ctl_req_free(&r);

	r = parse_ok("{\"cmd\":\"connect\",\"exec\":[\"x\"],\"cwd\":\"/\",\"env\":[]}");
	assert_int_equal(r.nset, 0);
	assert_null(r.set);
	assert_null(r.env[0]);
	ctl_req_free(&r);

	bad("{\"cmd\":\"connect\",\"name\":\"m\",\"exec\":[\"x\"],\"cwd\":\"/\",\"env\":[]}",
	    "connect takes a \"name\" or an \"exec\", not both");
	bad("{\"cmd\":\"connect\",\"exec\":[\"x\"],\"env\":[]}",
	    "connect with \"exec\" needs \"exec\", \"cwd\" and \"env\" (\"set\" is "
	    "optional); see docs/protocol.md");
	bad("{\"cmd\":\"connect\",\"exec\":[],\"cwd\":\"/\",\"env\":[]}",
	    "\"exec\" must be a non-empty array of strings");
	bad("{\"cmd\":\"connect\",\"exec\":[1],\"cwd\":\"/\",\"env\":[]}",
	    "\"exec\" must be an array of strings (element 0 is not; no NUL bytes)");
	bad("{\"cmd\":\"connect\",\"exec\":[\"x\"],\"cwd\":\"rel\",\"env\":[]}",
	    "\"cwd\" must be an absolute path");
	bad("{\"cmd\":\"connect\",\"exec\":[\"x\"],\"cwd\":\"/\",\"env\":[],"
	    "\"set\":[[\"a\"]]}",
	    "\"set\" must be an array of [\"KEY\", \"VALUE\"] pairs of strings "
	    "(element 0 is not; no NUL bytes)");
	bad("{\"cmd\":\"connect\",\"exec\":[\"x\"],\"cwd\":\"/\",\"env\":{}}",
	    "\"env\" must be an array of strings");
	bad("{\"cmd\":\"status\",\"exec\":[\"x\"]}",
	    "cmd \"status\" takes no field \"exec\"; see docs/protocol.md");
}

/* run takes a name, wait, join and force. */
static void test_parse_run(void **state)
{
	(void)state;
	struct ctl_req r = parse_ok("{\"cmd\":\"run\",\"name\":\"ix\",\"join\":true,"
	                            "\"force\":true,\"wait\":false}");
	assert_int_equal(r.cmd, CTL_RUN);
	assert_string_equal(r.name, "ix");
	assert_true(r.join && r.force && !r.wait);
	char *l = ctl_format(&r);
	assert_string_equal(l, "{\"cmd\":\"run\",\"name\":\"ix\",\"join\":true,"
	                       "\"force\":true}\n");
	free(l);
	ctl_req_free(&r);
	bad("{\"cmd\":\"run\"}", "cmd \"run\" needs a \"name\" or \"names\"");
	bad("{\"cmd\":\"run\",\"name\":\"j\",\"force\":1}",
	    "\"force\" must be true or false");
	bad("{\"cmd\":\"start\",\"name\":\"j\",\"join\":true}",
	    "cmd \"start\" takes no field \"join\"; see docs/protocol.md");
}

/* LEN is what counts, not a NUL: bytes after it are ignored, and the line
 * need not be NUL-terminated at all. */
static void test_parse_uses_len(void **state)
{
	(void)state;
	const char *l = "{\"cmd\":\"ping\"}{garbage";
	struct ctl_req r = parse_ok_n(l, 14);
	assert_int_equal(r.cmd, CTL_PING);
	ctl_req_free(&r);

	char *heap = xmalloc(32);
	memcpy(heap, "{\"cmd\":\"down\"}", 14); /* no terminator */
	r = parse_ok_n(heap, 14);
	assert_int_equal(r.cmd, CTL_DOWN);
	ctl_req_free(&r);
	free(heap);

	bad_n(l, 13, PREFIX_JSON "'}' expected near end of file (column 13)");
	bad_n(l, 0, PREFIX_JSON "'[' or '{' expected near end of file (column 0)");
}

/* ---- errors ---- */

static void test_err_not_json(void **state)
{
	(void)state;
	bad("hello", PREFIX_JSON "'[' or '{' expected near 'hello' (column 5)");
	bad("", PREFIX_JSON "'[' or '{' expected near end of file (column 0)");
	bad("{", PREFIX_JSON "string or '}' expected near end of file (column 1)");
	bad("{\"cmd\":\"ping\"", PREFIX_JSON "'}' expected near end of file (column 13)");
	bad("{\"cmd\":\"ping\"} x", PREFIX_JSON "end of file expected near 'x' (column 16)");
	bad("{\"cmd\":'ping'}", PREFIX_JSON "invalid token near ''' (column 8)");
	bad("{cmd:\"ping\"}", PREFIX_JSON "string or '}' expected near 'cmd' (column 4)");
}

static void test_err_not_object(void **state)
{
	(void)state;
	const char *want = "request must be a JSON object like {\"cmd\": \"status\"}";
	bad("[\"ping\"]", want);
	bad("[]", want);
	bad("[{\"cmd\":\"ping\"}]", want);
	/* Scalars at the top are refused by jansson itself (no JSON_DECODE_ANY). */
	bad("\"ping\"", PREFIX_JSON "'[' or '{' expected near '\"ping\"' (column 6)");
	bad("42", PREFIX_JSON "'[' or '{' expected near '42' (column 2)");
	bad("true", PREFIX_JSON "'[' or '{' expected near 'true' (column 4)");
	bad("null", PREFIX_JSON "'[' or '{' expected near 'null' (column 4)");
}

static void test_err_cmd(void **state)
{
	(void)state;
	const char *nocmd = "request has no \"cmd\" string; see docs/protocol.md";
	bad("{}", nocmd);
	bad("{\"name\":\"web\"}", nocmd);
	bad("{\"CMD\":\"ping\"}", nocmd);
	bad("{\"cmd\":5}", nocmd);
	bad("{\"cmd\":null}", nocmd);
	bad("{\"cmd\":true}", nocmd);
	bad("{\"cmd\":[\"ping\"]}", nocmd);
	bad("{\"cmd\":{\"cmd\":\"ping\"}}", nocmd);

	bad("{\"cmd\":\"nope\"}", "unknown cmd \"nope\"; known: ping, status, start, "
	    "stop, restart, reload, down, connect, run");
	bad("{\"cmd\":\"PING\"}", "unknown cmd \"PING\"; known: ping, status, start, "
	    "stop, restart, reload, down, connect, run");
	bad("{\"cmd\":\"\"}", "unknown cmd \"\"; known: ping, status, start, "
	    "stop, restart, reload, down, connect, run");
	bad("{\"cmd\":\"ping \"}", "unknown cmd \"ping \"; known: ping, status, start, "
	    "stop, restart, reload, down, connect, run");
	bad("{\"cmd\":\"?\"}", "unknown cmd \"?\"; known: ping, status, start, "
	    "stop, restart, reload, down, connect, run");
}

static void test_err_field_not_allowed(void **state)
{
	(void)state;
	bad("{\"cmd\":\"ping\",\"name\":\"web\"}",
	    "cmd \"ping\" takes no field \"name\"; see docs/protocol.md");
	bad("{\"cmd\":\"reload\",\"name\":\"web\"}",
	    "cmd \"reload\" takes no field \"name\"; see docs/protocol.md");
	bad("{\"cmd\":\"down\",\"name\":\"web\"}",
	    "cmd \"down\" takes no field \"name\"; see docs/protocol.md");
	bad("{\"cmd\":\"status\",\"wait\":true}",
	    "cmd \"status\" takes no field \"wait\"; see docs/protocol.md");
	bad("{\"cmd\":\"status\",\"name\":\"web\",\"wait\":false}",
	    "cmd \"status\" takes no field \"wait\"; see docs/protocol.md");
	bad("{\"cmd\":\"ping\",\"wait\":true}",
	    "cmd \"ping\" takes no field \"wait\"; see docs/protocol.md");
	bad("{\"cmd\":\"start\",\"name\":\"web\",\"force\":true}",
	    "cmd \"start\" takes no field \"force\"; see docs/protocol.md");
	bad("{\"cmd\":\"stop\",\"Name\":\"web\"}",
	    "cmd \"stop\" takes no field \"Name\"; see docs/protocol.md");
	bad("{\"cmd\":\"ping\",\"\":1}",
	    "cmd \"ping\" takes no field \"\"; see docs/protocol.md");
	/* The field comes before "cmd": still judged against the cmd. */
	bad("{\"name\":\"web\",\"cmd\":\"ping\"}",
	    "cmd \"ping\" takes no field \"name\"; see docs/protocol.md");
}

static void test_err_name(void **state)
{
	(void)state;
	const char *want = "\"name\" must be a non-empty string";
	bad("{\"cmd\":\"start\",\"name\":\"\"}", want);
	bad("{\"cmd\":\"stop\",\"name\":3}", want);
	bad("{\"cmd\":\"restart\",\"name\":null}", want);
	bad("{\"cmd\":\"start\",\"name\":true}", want);
	bad("{\"cmd\":\"start\",\"name\":[\"web\"]}", want);
	bad("{\"cmd\":\"start\",\"name\":{}}", want);
	bad("{\"cmd\":\"status\",\"name\":\"\"}", want);
	bad("{\"cmd\":\"status\",\"name\":1.5}", want);
}

static void test_err_wait(void **state)
{
	(void)state;
	const char *want = "\"wait\" must be true or false";
	bad("{\"cmd\":\"start\",\"name\":\"web\",\"wait\":1}", want);
	bad("{\"cmd\":\"stop\",\"name\":\"web\",\"wait\":0}", want);
	bad("{\"cmd\":\"restart\",\"name\":\"web\",\"wait\":\"true\"}", want);
	bad("{\"cmd\":\"start\",\"name\":\"web\",\"wait\":null}", want);
	bad("{\"cmd\":\"start\",\"wait\":[true],\"name\":\"web\"}", want);
}

static void test_err_duplicate_keys(void **state)
{
	(void)state;
	bad("{\"cmd\":\"ping\",\"cmd\":\"ping\"}",
	    PREFIX_JSON "duplicate object key near '\"cmd\"' (column 19)");
	bad("{\"cmd\":\"start\",\"name\":\"a\",\"name\":\"b\"}",
	    PREFIX_JSON "duplicate object key near '\"name\"' (column 32)");
	bad("{\"cmd\":\"start\",\"name\":\"a\",\"wait\":true,\"wait\":false}",
	    PREFIX_JSON "duplicate object key near '\"wait\"' (column 44)");
}

/* "names": several units; formatted back the same; with "name", empty,
 * or for a command that takes one name, refused. */
static void test_parse_names(void **state)
{
	(void)state;
	static const char line[] = "{\"cmd\":\"stop\",\"names\":[\"idx-*\",\"web\"],"
	                           "\"wait\":true}";
	struct ctl_req r;
	char *err = NULL;
	assert_int_equal(ctl_parse(line, strlen(line), &r, &err), 0);
	assert_int_equal(r.cmd, CTL_STOP);
	assert_null(r.name);
	assert_int_equal(r.nnames, 2);
	assert_string_equal(r.names[0], "idx-*");
	assert_string_equal(r.names[1], "web");
	char *back = ctl_format(&r);
	assert_string_equal(back, "{\"cmd\":\"stop\",\"names\":[\"idx-*\",\"web\"],"
	                          "\"wait\":true}\n");
	free(back);
	ctl_req_free(&r);
	bad("{\"cmd\":\"start\",\"names\":[]}",
	    "\"names\" must be a non-empty array of strings");
	bad("{\"cmd\":\"start\",\"names\":[\"\"]}",
	    "\"names\" must be a non-empty array of non-empty strings");
	bad("{\"cmd\":\"start\",\"names\":[\"a\", 1]}",
	    "\"names\" must be an array of strings (element 1 is not; no NUL bytes)");
	bad("{\"cmd\":\"start\",\"name\":\"a\",\"names\":[\"b\"]}",
	    "a request takes a \"name\" or \"names\", not both");
	bad("{\"cmd\":\"connect\",\"names\":[\"a\"]}",
	    "cmd \"connect\" takes no field \"names\"; see docs/protocol.md");
	bad("{\"cmd\":\"reload\",\"names\":[\"a\"]}",
	    "cmd \"reload\" takes no field \"names\"; see docs/protocol.md");
	/* The CLI's words: several names, or a pattern, make "names". */
	const char *two[] = { "a", "b" }, *glob[] = { "all" }, *one[] = { "a" };
	const struct cmd_info *ci = cmd_info(CTL_START);
	struct cmd_args args = { .name = "a", .names = two, .nnames = 2 };
	struct ctl_req q = ctl_req_of_args(ci, &args);
	assert_null(q.name);
	assert_int_equal(q.nnames, 2);
	args = (struct cmd_args){ .name = "all", .names = glob, .nnames = 1 };
	q = ctl_req_of_args(ci, &args);
	assert_null(q.name);
	assert_int_equal(q.nnames, 1);
	args = (struct cmd_args){ .name = "a", .names = one, .nnames = 1 };
	q = ctl_req_of_args(ci, &args);
	assert_string_equal(q.name, "a");
	assert_null(q.names);
}

static void test_err_missing_name(void **state)
{
	(void)state;
	bad("{\"cmd\":\"start\"}", "cmd \"start\" needs a \"name\" or \"names\"");
	bad("{\"cmd\":\"stop\"}", "cmd \"stop\" needs a \"name\" or \"names\"");
	bad("{\"cmd\":\"restart\"}", "cmd \"restart\" needs a \"name\" or \"names\"");
	bad("{\"cmd\":\"start\",\"wait\":true}", "cmd \"start\" needs a \"name\" or \"names\"");
}

/* Every message is one line (the CLI prints it as one). */
static void test_err_one_line(void **state)
{
	(void)state;
	const char *lines[] = {
		"x", "[1]", "{}", "{\"cmd\":\"x\"}", "{\"cmd\":\"ping\",\"x\":1}",
		"{\"cmd\":\"start\"}", "{\"cmd\":\"start\",\"name\":\"\"}",
		"{\"cmd\":\"start\",\"name\":\"a\",\"wait\":2}",
		"{\"cmd\":\"ping\",\n\"cmd\":\"ping\"}", "{\n\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		char *err = parse_bad_n(lines[i], strlen(lines[i]));
		assert_null(strchr(err, '\n'));
		assert_true(strlen(err) > 10);
		free(err);
	}
}

/* ctl.h: "*ERR (malloc'd, one line saying what is wrong)", even when a cmd
 * or a key it quotes holds an escaped newline. */
static void test_err_newline_from_input(void **state)
{
	(void)state;
	const char *l1 = "{\"cmd\":\"a\\nb\"}";
	char *err = parse_bad_n(l1, strlen(l1));
	assert_null(strchr(err, '\n'));
	free(err);
	const char *l2 = "{\"cmd\":\"ping\",\"a\\nb\":1}";
	err = parse_bad_n(l2, strlen(l2));
	assert_null(strchr(err, '\n'));
	free(err);
}

/* ---- hostile input ---- */

static void test_hostile_nul(void **state)
{
	(void)state;
	/* A NUL inside a string, inside the object, after the object. */
	static const char in_string[] = "{\"cmd\":\"pi\0ng\"}";
	bad_n(in_string, sizeof(in_string) - 1,
	      PREFIX_JSON "control character 0x0 near '\"pi' (column 10)");
	static const char in_object[] = "{\"cmd\":\"ping\"\0}";
	bad_n(in_object, sizeof(in_object) - 1,
	      PREFIX_JSON "'}' expected near end of file (column 14)");
	static const char after[] = "{\"cmd\":\"ping\"}\0{\"cmd\":\"down\"}";
	char *err = parse_bad_n(after, sizeof(after) - 1);
	assert_true(strncmp(err, PREFIX_JSON, strlen(PREFIX_JSON)) == 0);
	free(err);
	static const char in_name[] = "{\"cmd\":\"start\",\"name\":\"w\0eb\"}";
	err = parse_bad_n(in_name, sizeof(in_name) - 1);
	assert_string_equal(err, PREFIX_JSON "control character 0x0 near '\"w' (column 24)");
	free(err);
	static const char lead[] = "\0{\"cmd\":\"ping\"}";
	err = parse_bad_n(lead, sizeof(lead) - 1);
	assert_true(strncmp(err, PREFIX_JSON, strlen(PREFIX_JSON)) == 0);
	free(err);
	/* An escaped NUL is refused too (names are C strings). */
	bad("{\"cmd\":\"start\",\"name\":\"a\\u0000b\"}",
	    PREFIX_JSON "\\u0000 is not allowed without JSON_ALLOW_NUL near "
	    "'\"a\\u0000b\"' (column 32)");
}

static void test_hostile_utf8(void **state)
{
	(void)state;
	bad("{\"cmd\":\"\xff\"}", PREFIX_JSON "unable to decode byte 0xff near '\"' (column 8)");
	bad("{\"cmd\":\"st\xc3\"}", PREFIX_JSON "unable to decode byte 0xc3 near '\"st' (column 10)");
	static const char *const lines[] = {
		"{\"cmd\":\"start\",\"name\":\"\xc0\xaf\"}",         /* overlong '/' */
		"{\"cmd\":\"start\",\"name\":\"\xed\xa0\x80\"}",     /* surrogate */
		"{\"cmd\":\"start\",\"name\":\"\xf4\x90\x80\x80\"}", /* > U+10FFFF */
		"{\"cmd\":\"start\",\"name\":\"web\xe2\x82\"}",      /* truncated */
		"{\"cmd\":\"start\",\"\xfe\":\"web\"}",              /* in a key */
		"\xef\xbb\xbf{\"cmd\":\"ping\"}",                    /* a BOM */
		"{\"cmd\":\"start\",\"name\":\"\\ud800\"}",          /* lone \u surrogate */
	};
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		char *err = parse_bad_n(lines[i], strlen(lines[i]));
		if (strncmp(err, PREFIX_JSON, strlen(PREFIX_JSON)) != 0)
			fail_msg("line %zu: %s", i, err);
		assert_null(strchr(err, '\n'));
		/* The message itself is valid UTF-8: it goes into a JSON reply. */
		char *reply = reply_err(2, "%s", err);
		json_t *o = one_json_line(reply);
		assert_string_equal(json_string_value(json_object_get(o, "error")), err);
		json_decref(o);
		free(reply);
		free(err);
	}
	/* Valid UTF-8 in a name is kept byte for byte. */
	struct ctl_req r = parse_ok("{\"cmd\":\"start\",\"name\":\"caf\xc3\xa9-\xf0\x9f\x9a\x80\"}");
	assert_string_equal(r.name, "caf\xc3\xa9-\xf0\x9f\x9a\x80");
	ctl_req_free(&r);
}

static void test_hostile_deep_nesting(void **state)
{
	(void)state;
	char *open = repeat('[', 10000);
	bad(open, PREFIX_JSON "maximum parsing depth reached near '[' (column 2049)");
	free(open);

	/* Well-formed, balanced, 10000 deep. */
	char *bal = xmalloc(20001);
	memset(bal, '[', 10000);
	memset(bal + 10000, ']', 10000);
	bal[20000] = 0;
	bad(bal, PREFIX_JSON "maximum parsing depth reached near '[' (column 2049)");
	free(bal);

	/* Deep inside a field of an otherwise fine request. */
	struct buf b = { 0 };
	buf_adds(&b, "{\"cmd\":\"ping\",\"x\":");
	for (int i = 0; i < 10000; i++)
		buf_adds(&b, "{\"a\":");
	char *l = buf_take(&b);
	char *err = parse_bad_n(l, strlen(l));
	assert_true(strncmp(err, PREFIX_JSON "maximum parsing depth reached",
	                    strlen(PREFIX_JSON "maximum parsing depth reached")) == 0);
	free(err);
	free(l);

	/* Depth that jansson accepts still fails on the field, not by crashing. */
	struct buf d = { 0 };
	buf_adds(&d, "{\"cmd\":\"ping\",\"x\":");
	for (int i = 0; i < 1000; i++)
		buf_addc(&d, '[');
	for (int i = 0; i < 1000; i++)
		buf_addc(&d, ']');
	buf_addc(&d, '}');
	l = buf_take(&d);
	bad(l, "cmd \"ping\" takes no field \"x\"; see docs/protocol.md");
	free(l);
}

static void test_hostile_big_values(void **state)
{
	(void)state;
	const size_t mib = 1024 * 1024;
	char *v = repeat('a', mib);

	/* A 1 MiB name parses (the server caps lines; ctl does not). */
	char *l = xasprintf("{\"cmd\":\"start\",\"name\":\"%s\",\"wait\":true}", v);
	struct ctl_req r = parse_ok(l);
	assert_int_equal(r.cmd, CTL_START);
	assert_int_equal(strlen(r.name), mib);
	assert_true(r.wait);
	assert_string_equal(r.name, v);
	/* ... and round-trips. */
	char *f = ctl_format(&r);
	assert_int_equal(strlen(f), strlen(l) + 1);
	struct ctl_req r2 = parse_ok_n(f, strlen(f) - 1);
	assert_string_equal(r2.name, v);
	ctl_req_free(&r2);
	free(f);
	ctl_req_free(&r);
	free(l);

	/* A 1 MiB unknown cmd: refused, one line. */
	l = xasprintf("{\"cmd\":\"%s\"}", v);
	char *err = parse_bad_n(l, strlen(l));
	assert_int_equal(strlen(err), strlen("unknown cmd \"\"; known: ping, status, "
	                                     "start, stop, restart, reload, down, connect, run") + mib);
	assert_null(strchr(err, '\n'));
	free(err);
	free(l);

	/* A 1 MiB key on ping. */
	l = xasprintf("{\"cmd\":\"ping\",\"%s\":1}", v);
	err = parse_bad_n(l, strlen(l));
	assert_int_equal(strlen(err), strlen("cmd \"ping\" takes no field \"\"; see "
	                                     "docs/protocol.md") + mib);
	free(err);
	free(l);

	/* A 1 MiB unterminated string. */
	l = xasprintf("{\"cmd\":\"start\",\"name\":\"%s", v);
	err = parse_bad_n(l, strlen(l));
	assert_true(strncmp(err, PREFIX_JSON, strlen(PREFIX_JSON)) == 0);
	free(err);
	free(l);

	/* A 1 MiB run of spaces, then a fine request. */
	char *sp = repeat(' ', mib);
	l = xasprintf("%s{\"cmd\":\"reload\"}%s", sp, sp);
	r = parse_ok(l);
	assert_int_equal(r.cmd, CTL_RELOAD);
	ctl_req_free(&r);
	free(l);
	free(sp);

	/* A huge number where a boolean belongs. */
	bad("{\"cmd\":\"start\",\"name\":\"a\",\"wait\":1e999}",
	    PREFIX_JSON "real number overflow near '1e999' (column 38)");
	free(v);
}

/* ---- ctl_format ---- */

static void test_format_exact(void **state)
{
	(void)state;
	struct ctl_req r = { .cmd = CTL_PING };
	char *s = ctl_format(&r);
	assert_string_equal(s, "{\"cmd\":\"ping\"}\n");
	free(s);

	r = (struct ctl_req){ .cmd = CTL_START, .name = (char *)"web", .wait = true };
	s = ctl_format(&r);
	assert_string_equal(s, "{\"cmd\":\"start\",\"name\":\"web\",\"wait\":true}\n");
	free(s);

	r = (struct ctl_req){ .cmd = CTL_STOP, .name = (char *)"web" };
	s = ctl_format(&r);
	assert_string_equal(s, "{\"cmd\":\"stop\",\"name\":\"web\"}\n");
	free(s);

	r = (struct ctl_req){ .cmd = CTL_STATUS, .name = (char *)"a\"b\nc" };
	s = ctl_format(&r);
	assert_string_equal(s, "{\"cmd\":\"status\",\"name\":\"a\\\"b\\nc\"}\n");
	free(s);
}

/* The CLI's words as a request: each flag its field, the name as given,
 * --json left to the CLI. */
static void test_req_of_args(void **state)
{
	(void)state;
	const struct cmd_info *run = cmd_info(CTL_RUN);
	const struct { unsigned flags; bool wait, join, force; } cases[] = {
		{ 0, false, false, false },
		{ CMD_WAIT, true, false, false },
		{ CMD_JOIN, false, true, false },
		{ CMD_FORCE, false, false, true },
		{ CMD_WAIT | CMD_FORCE | CMD_JSON, true, false, true },
		{ CMD_JSON, false, false, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmd_args args = { .name = "nightly", .flags = cases[i].flags };
		struct ctl_req req = ctl_req_of_args(run, &args);
		assert_int_equal(req.cmd, CTL_RUN);
		assert_ptr_equal(req.name, args.name);
		assert_int_equal(req.wait, cases[i].wait);
		assert_int_equal(req.join, cases[i].join);
		assert_int_equal(req.force, cases[i].force);
		assert_null(req.exec);
		assert_null(req.set);
	}
	struct cmd_args none = { .name = NULL, .flags = 0 };
	struct ctl_req req = ctl_req_of_args(cmd_info(CTL_STATUS), &none);
	assert_int_equal(req.cmd, CTL_STATUS);
	assert_null(req.name);
	char *line = ctl_format(&req);   /* the CLI asks for version 2 */
	assert_string_equal(line, "{\"cmd\":\"status\",\"version\":2}\n");
	free(line);
}

static void test_format_roundtrip(void **state)
{
	(void)state;
	static const enum ctl_cmd cmds[] = { CTL_PING, CTL_STATUS, CTL_START,
	                                     CTL_STOP, CTL_RESTART, CTL_RELOAD,
	                                     CTL_DOWN };
	static const char *const names[] = {
		NULL, "web", "db.1@x_y-z", "quote \" back \\ slash",
		"new\nline\ttab\x01", "caf\xc3\xa9 \xf0\x9f\x9a\x80", "/",
	};
	int n = 0;
	for (size_t c = 0; c < ARRAY_LEN(cmds); c++)
		for (size_t i = 0; i < ARRAY_LEN(names); i++)
			for (int w = 0; w <= 1; w++) {
				bool named = cmds[c] == CTL_START || cmds[c] == CTL_STOP ||
				             cmds[c] == CTL_RESTART;
				/* Only requests that ctl_parse accepts. */
				if (named ? !names[i] : (w || (names[i] && cmds[c] != CTL_STATUS)))
					continue;
				struct ctl_req in = { .cmd = cmds[c], .name = (char *)names[i],
				                      .wait = w };
				char *line = ctl_format(&in);
				size_t len = strlen(line);
				assert_int_equal(line[len - 1], '\n');
				assert_ptr_equal(strchr(line, '\n'), line + len - 1);
				struct ctl_req out = parse_ok_n(line, len - 1);
				assert_int_equal(out.cmd, in.cmd);
				if (in.name)
					assert_string_equal(out.name, in.name);
				else
					assert_null(out.name);
				assert_int_equal(out.wait, in.wait);
				/* The newline may stay on: it is whitespace. */
				struct ctl_req out2 = parse_ok_n(line, len);
				assert_int_equal(out2.cmd, in.cmd);
				ctl_req_free(&out2);
				ctl_req_free(&out);
				free(line);
				n++;
			}
	/* ping, reload, down: 1 each; status: 7; start/stop/restart: 6*2 each. */
	assert_int_equal(n, 3 + 7 + 3 * 12);
}

/* ---- replies ---- */

static void test_reply_ok(void **state)
{
	(void)state;
	char *s = reply_ok(NULL);
	assert_string_equal(s, "{\"ok\":true}\n");
	free(s);

	s = reply_ok(json_object());
	assert_string_equal(s, "{\"ok\":true}\n");
	free(s);

	json_t *f = json_pack("{s:i, s:[s,s], s:{s:b}}", "pid", 42, "units", "a",
	                      "b", "daemon", "up", 1);
	s = reply_ok(f); /* stolen: ASan reports a leak otherwise */
	assert_string_equal(s, "{\"ok\":true,\"pid\":42,\"units\":[\"a\",\"b\"],"
	                       "\"daemon\":{\"up\":true}}\n");
	json_t *o = one_json_line(s);
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 42);
	assert_int_equal(json_object_size(o), 4);
	json_decref(o);
	free(s);

	/* A field with a quote and a newline stays on one line. */
	s = reply_ok(json_pack("{s:s}", "msg", "x\"y\nz"));
	assert_string_equal(s, "{\"ok\":true,\"msg\":\"x\\\"y\\nz\"}\n");
	o = one_json_line(s);
	assert_string_equal(json_string_value(json_object_get(o, "msg")), "x\"y\nz");
	json_decref(o);
	free(s);
}

/* ctl.h: "{"ok": true} plus FIELDS" -- a field named "ok" cannot undo it. */
static void test_reply_ok_not_overridden(void **state)
{
	(void)state;
	char *s = reply_ok(json_pack("{s:b}", "ok", 0));
	json_t *o = one_json_line(s);
	assert_true(json_is_true(json_object_get(o, "ok")));
	json_decref(o);
	free(s);
}

static void test_reply_err(void **state)
{
	(void)state;
	char *s = reply_err(2, "bad %s %d", "thing", 7);
	assert_string_equal(s, "{\"ok\":false,\"error\":\"bad thing 7\",\"exit\":2}\n");
	free(s);

	s = reply_err(1, "no service named \"%s\"", "web");
	assert_string_equal(s, "{\"ok\":false,\"error\":\"no service named \\\"web\\\"\","
	                       "\"exit\":1}\n");
	json_t *o = one_json_line(s);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	                    "no service named \"web\"");
	assert_int_equal(json_integer_value(json_object_get(o, "exit")), 1);
	assert_int_equal(json_object_size(o), 3);
	json_decref(o);
	free(s);

	s = reply_err(0, "%s", "");
	assert_string_equal(s, "{\"ok\":false,\"error\":\"\",\"exit\":0}\n");
	free(s);
}

/* str_clean: C0, DEL and C1 controls become one '?' each (a C1 control,
 * two bytes in UTF-8, one '?'), and so does each byte that is not UTF-8
 * (a sequence cut at the end: one per byte); other text, non-ASCII
 * included, stays. */
static void test_str_clean(void **state)
{
	(void)state;
	char s[] = "a\x1b[31mb\xc2\x9b\xc2\xa0\xff\r\x7f\xc3\xa9\xe2\x82";
	str_clean(s);
	assert_string_equal(s, "a?[31mb?\xc2\xa0???\xc3\xa9??");
}

static void test_reply_err_one_line(void **state)
{
	(void)state;
	const char *msg = "say \"hi\"\nthen\r\nbye\t\\ \x01 end";
	char *s = reply_err(1, "%s", msg);
	/* Control characters become '?': the message stays one line. */
	assert_string_equal(s, "{\"ok\":false,\"error\":\"say \\\"hi\\\"?then??bye"
	                       "?\\\\ ? end\",\"exit\":1}\n");
	json_t *o = one_json_line(s);
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	                    "say \"hi\"?then??bye?\\ ? end");
	json_decref(o);
	free(s);

	/* The server's path: a parse error of a hostile line, as a reply. */
	struct ctl_req r;
	char *err;
	const char *hostile = "{\"cmd\":\"a\\nb\\\"c\"}";
	assert_int_equal(ctl_parse(hostile, strlen(hostile), &r, &err), -1);
	assert_null(strchr(err, '\n')); /* see test_err_newline_from_input */
	s = reply_err(2, "%s", err);
	o = one_json_line(s);
	assert_string_equal(json_string_value(json_object_get(o, "error")), err);
	assert_int_equal(json_integer_value(json_object_get(o, "exit")), 2);
	json_decref(o);
	free(s);
	free(err);

	/* A long message is not cut. */
	char *big = repeat('m', 100000);
	s = reply_err(1, "%s", big);
	o = one_json_line(s);
	assert_string_equal(json_string_value(json_object_get(o, "error")), big);
	json_decref(o);
	free(s);
	free(big);
}

/* A message that is not valid UTF-8 (a file name, say) keeps its text,
 * the invalid byte replaced. */
static void test_reply_err_bad_utf8(void **state)
{
	(void)state;
	char *s = reply_err(1, "cannot open %s", "/srv/caf\xe9.ini");
	json_t *o = one_json_line(s);
	const char *e = json_string_value(json_object_get(o, "error"));
	assert_non_null(strstr(e, "cannot open"));
	json_decref(o);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_names),
		cmocka_unit_test(test_parse_no_arg_cmds),
		cmocka_unit_test(test_parse_status_name),
		cmocka_unit_test(test_parse_named_cmds),
		cmocka_unit_test(test_parse_connect),
		cmocka_unit_test(test_parse_connect_exec),
		cmocka_unit_test(test_parse_run),
		cmocka_unit_test(test_parse_uses_len),
		cmocka_unit_test(test_err_not_json),
		cmocka_unit_test(test_err_not_object),
		cmocka_unit_test(test_err_cmd),
		cmocka_unit_test(test_err_field_not_allowed),
		cmocka_unit_test(test_err_name),
		cmocka_unit_test(test_err_wait),
		cmocka_unit_test(test_err_duplicate_keys),
		cmocka_unit_test(test_err_missing_name),
		cmocka_unit_test(test_parse_names),
		cmocka_unit_test(test_err_one_line),
		cmocka_unit_test(test_str_clean),
		cmocka_unit_test(test_err_newline_from_input),
		cmocka_unit_test(test_hostile_nul),
		cmocka_unit_test(test_hostile_utf8),
		cmocka_unit_test(test_hostile_deep_nesting),
		cmocka_unit_test(test_hostile_big_values),
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_req_of_args),
		cmocka_unit_test(test_parse_status_version_history),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_ok_not_overridden),
		cmocka_unit_test(test_reply_err),
		cmocka_unit_test(test_reply_err_one_line),
		cmocka_unit_test(test_reply_err_bad_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
