/* Unit tests for mcpconf.c and mcptoml.c: the MCP clients' configuration
 * documents rewritten through tend (tend mcp import) and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcpconf.h"
#include "mcptoml.h"
#include "oracle.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, JSON_PRESERVE_ORDER | JSON_REJECT_DUPLICATES, &e);
	if (!doc)
		fail_msg("fixture is not JSON: %s (%d:%d)\n%s", e.text, e.line, e.column, text);
	return doc;
}

/* Rewrites TEXT by OP; checks the dump against WANT (NULL: unchanged) and
 * returns the report (free it). */
static struct mcpconf_report rewrite(const char *text, enum mcpconf_layout layout,
                                     enum mcpconf_op op, const char *want, int changed)
{
	json_t *doc = parse(text);
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	int n = mcpconf_rewrite(doc, layout, op, "tend", NULL, 0, &rep, &err);
	if (n < 0)
		fail_msg("refused: %s", err);
	assert_int_equal(n, changed);
	char *dump = mcpconf_dump(doc, "  ");
	if (want)
		assert_string_equal(dump, want);
	free(dump);
	json_decref(doc);
	return rep;
}

static void check_entry(const struct mcpconf_report *rep, size_t i, const char *scope,
                        const char *name, enum mcpconf_outcome o, const char *detail)
{
	assert_true(i < rep->n);
	const struct mcpconf_entry *e = &rep->v[i];
	if (scope)
		assert_string_equal(e->scope, scope);
	else
		assert_null(e->scope);
	assert_string_equal(e->name, name);
	if (e->outcome != o)
		fail_msg("%s: outcome %d, not %d (%s)", name, e->outcome, o, e->detail);
	if (detail)
		assert_string_equal(e->detail, detail);
}

/* Cursor, Gemini CLI and .mcp.json: "mcpServers"; env, cwd and the order
 * of members kept; the arguments after "connect --". */
static void test_import_mcpservers(void **state)
{
	(void)state;
	struct mcpconf_report rep = rewrite(
		"{\"theme\": \"dark\", \"mcpServers\": {\"memory\": {\"env\": {\"B\": \"2\", "
		"\"A\": \"1\"}, \"command\": \"npx\", \"args\": [\"-y\", \"@m/server-memory\"], "
		"\"cwd\": \"/w\", \"timeout\": 30000, \"trust\": true}}, \"z\": 1}",
		MCPCONF_MCPSERVERS, MCPCONF_IMPORT,
		"{\n"
		"  \"theme\": \"dark\",\n"
		"  \"mcpServers\": {\n"
		"    \"memory\": {\n"
		"      \"env\": {\n"
		"        \"B\": \"2\",\n"
		"        \"A\": \"1\"\n"
		"      },\n"
		"      \"command\": \"tend\",\n"
		"      \"args\": [\n"
		"        \"connect\",\n"
		"        \"--\",\n"
		"        \"npx\",\n"
		"        \"-y\",\n"
		"        \"@m/server-memory\"\n"
		"      ],\n"
		"      \"cwd\": \"/w\",\n"
		"      \"timeout\": 30000,\n"
		"      \"trust\": true\n"
		"    }\n"
		"  },\n"
		"  \"z\": 1\n"
		"}\n", 1);
	assert_int_equal(rep.n, 1);
	check_entry(&rep, 0, NULL, "memory", MCPCONF_CHANGED, "npx -y @m/server-memory");
	mcpconf_report_free(&rep);
}

/* An entry without "args" gets them right after "command"; a full path as
 * the command is a command like any other. */
static void test_import_adds_args_after_command(void **state)
{
	(void)state;
	struct mcpconf_report rep = rewrite(
		"{\"mcpServers\": {\"seq\": {\"command\": \"/opt/my tools/seq\", "
		"\"env\": {}}}}",
		MCPCONF_MCPSERVERS, MCPCONF_IMPORT,
		"{\n  \"mcpServers\": {\n    \"seq\": {\n      \"command\": \"tend\",\n"
		"      \"args\": [\n        \"connect\",\n        \"--\",\n"
		"        \"/opt/my tools/seq\"\n      ],\n      \"env\": {}\n    }\n  }\n}\n",
		1);
	check_entry(&rep, 0, NULL, "seq", MCPCONF_CHANGED, "'/opt/my tools/seq'");
	mcpconf_report_free(&rep);
}

/* ~/.claude.json: the user scope and every project's. */
static void test_import_claude_scopes(void **state)
{
	(void)state;
	const char *text =
		"{\"numStartups\": 3, \"mcpServers\": {\"u\": {\"type\": \"stdio\", "
		"\"command\": \"u-server\", \"args\": [], \"env\": {}}}, "
		"\"projects\": {\"/home/a/p\": {\"allowedTools\": [], \"mcpServers\": "
		"{\"p\": {\"command\": \"p-server\", \"args\": [\"x\"]}, "
		"\"h\": {\"type\": \"sse\", \"url\": \"http://127.0.0.1:1/sse\"}}}, "
		"\"/home/a/q\": {\"mcpServers\": {}}, \"/home/a/r\": {}}}";
	struct mcpconf_report rep = rewrite(text, MCPCONF_CLAUDE_USER, MCPCONF_IMPORT, NULL, 2);
	assert_int_equal(rep.n, 3);
	check_entry(&rep, 0, NULL, "u", MCPCONF_CHANGED, "u-server");
	check_entry(&rep, 1, "/home/a/p", "p", MCPCONF_CHANGED, "p-server x");
	check_entry(&rep, 2, "/home/a/p", "h", MCPCONF_REMOTE, "type sse");
	mcpconf_report_free(&rep);
	/* .mcp.json's layout does not look into projects */
	rep = rewrite(text, MCPCONF_MCPSERVERS, MCPCONF_IMPORT, NULL, 1);
	assert_int_equal(rep.n, 1);
	mcpconf_report_free(&rep);
}

/* VS Code: "servers"; stdio by type or by a command; "inputs" untouched. */
static void test_import_vscode(void **state)
{
	(void)state;
	struct mcpconf_report rep = rewrite(
		"{\"inputs\": [{\"type\": \"promptString\", \"id\": \"key\"}], \"servers\": {"
		"\"a\": {\"type\": \"stdio\", \"command\": \"a\", \"args\": [\"${input:key}\"], "
		"\"envFile\": \"${workspaceFolder}/.env\"}, "
		"\"b\": {\"command\": \"b\"}, "
		"\"c\": {\"type\": \"http\", \"url\": \"http://127.0.0.1:3000/mcp\"}, "
		"\"d\": {\"type\": \"sse\", \"url\": \"http://127.0.0.1:3000/sse\"}}, "
		"\"mcpServers\": {\"e\": {\"command\": \"e\"}}}",
		MCPCONF_VSCODE, MCPCONF_IMPORT, NULL, 2);
	assert_int_equal(rep.n, 4);
	check_entry(&rep, 0, NULL, "a", MCPCONF_CHANGED, "a '${input:key}'");
	check_entry(&rep, 1, NULL, "b", MCPCONF_CHANGED, "b");
	check_entry(&rep, 2, NULL, "c", MCPCONF_REMOTE, "type http");
	check_entry(&rep, 3, NULL, "d", MCPCONF_REMOTE, "type sse");
	mcpconf_report_free(&rep);
}

/* HTTP and SSE in every spelling the clients use. */
static void test_remote_left_alone(void **state)
{
	(void)state;
	const char *text =
		"{\"mcpServers\": {"
		"\"a\": {\"url\": \"https://example.invalid/mcp\"}, "
		"\"b\": {\"httpUrl\": \"https://example.invalid/mcp\", \"headers\": {}}, "
		"\"c\": {\"type\": \"streamable-http\", \"url\": \"u\"}, "
		"\"d\": {\"type\": \"sse\", \"url\": \"u\"}, "
		"\"e\": {\"type\": \"http\", \"url\": \"u\", \"command\": \"x\"}}}";
	struct mcpconf_report rep = rewrite(text, MCPCONF_MCPSERVERS, MCPCONF_IMPORT, NULL, 0);
	assert_int_equal(rep.n, 5);
	check_entry(&rep, 0, NULL, "a", MCPCONF_REMOTE, "url");
	check_entry(&rep, 1, NULL, "b", MCPCONF_REMOTE, "httpUrl");
	check_entry(&rep, 2, NULL, "c", MCPCONF_REMOTE, "type streamable-http");
	check_entry(&rep, 3, NULL, "d", MCPCONF_REMOTE, "type sse");
	check_entry(&rep, 4, NULL, "e", MCPCONF_REMOTE, "type http");
	mcpconf_report_free(&rep);
	/* and unimport leaves them too */
	rep = rewrite(text, MCPCONF_MCPSERVERS, MCPCONF_UNIMPORT, NULL, 0);
	assert_int_equal(rep.n, 5);
	mcpconf_report_free(&rep);
}

/* Already through tend: by name or full path, with options, either form
 * of connect; tend itself run otherwise is not rewritten either. */
static void test_already_tend_left_alone(void **state)
{
	(void)state;
	struct mcpconf_report rep = rewrite(
		"{\"mcpServers\": {"
		"\"a\": {\"command\": \"tend\", \"args\": [\"connect\", \"--\", \"npx\", \"m\"]}, "
		"\"b\": {\"command\": \"/usr/local/bin/tend\", \"args\": [\"connect\", \"memory\"]}, "
		"\"c\": {\"command\": \"tend\", \"args\": [\"-c\", \"/x/tend.ini\", \"connect\", "
		"\"mem\"]}, "
		"\"d\": {\"command\": \"tend\", \"args\": [\"--config=/x\", \"connect\", "
		"\"--idle-stop\", \"5m\", \"--\", \"srv\"]}, "
		"\"e\": {\"command\": \"tend\", \"args\": [\"exec\", \"--\", \"srv\"]}, "
		"\"f\": {\"command\": \"pretend\", \"args\": [\"connect\"]}}}",
		MCPCONF_MCPSERVERS, MCPCONF_IMPORT, NULL, 1);
	check_entry(&rep, 0, NULL, "a", MCPCONF_TEND, "npx m");
	check_entry(&rep, 1, NULL, "b", MCPCONF_TEND, "service memory");
	check_entry(&rep, 2, NULL, "c", MCPCONF_TEND, "service mem");
	check_entry(&rep, 3, NULL, "d", MCPCONF_TEND, "srv");
	check_entry(&rep, 4, NULL, "e", MCPCONF_UNUSABLE, NULL);
	check_entry(&rep, 5, NULL, "f", MCPCONF_CHANGED, "pretend connect");
	mcpconf_report_free(&rep);
}

/* What tend cannot rewrite safely is left as it is, with the reason. */
static void test_unusable_left_alone(void **state)
{
	(void)state;
	const char *text =
		"{\"mcpServers\": {"
		"\"a\": \"npx server\", "
		"\"b\": {\"args\": [\"x\"]}, "
		"\"c\": {\"command\": 7}, "
		"\"d\": {\"command\": \"x\", \"args\": \"-y m\"}, "
		"\"e\": {\"command\": \"x\", \"args\": [\"-y\", 1]}, "
		"\"f\": {\"command\": \"npx -y m\"}, "
		"\"g\": {\"type\": \"websocket-ish\", \"command\": \"x\"}, "
		"\"h\": {\"command\": \"\"}, "
		"\"i\": {\"type\": 1, \"command\": \"x\"}}}";
	struct mcpconf_report rep = rewrite(text, MCPCONF_MCPSERVERS, MCPCONF_IMPORT,
	                                    NULL, 0);
	assert_int_equal(rep.n, 9);
	for (size_t i = 0; i < rep.n; i++) {
		check_entry(&rep, i, NULL, rep.v[i].name, MCPCONF_UNUSABLE, NULL);
		assert_true(strlen(rep.v[i].detail) > 0);
		assert_null(strchr(rep.v[i].detail, '\n'));
	}
	assert_non_null(strstr(rep.v[5].detail, "blanks"));
	/* each says what is wrong with it */
	const char *why[] = {
		"not an object", "no \"command\"",
		"\"command\" is not a non-empty string", "\"args\" is not a list",
		"\"args\" holds a value that is not a string", NULL,
		"type \"websocket-ish\" is not one tend knows",
		"\"command\" is not a non-empty string", "\"type\" is not a string",
	};
	for (size_t i = 0; i < rep.n; i++)
		if (why[i])
			assert_string_equal(rep.v[i].detail, why[i]);
	mcpconf_report_free(&rep);
	/* the document is untouched: compare the dumps */
	json_t *doc = parse(text), *copy = json_deep_copy(doc);
	char *err = NULL;
	mcpconf_rewrite(doc, MCPCONF_MCPSERVERS, MCPCONF_IMPORT, "tend", NULL, 0, &rep, &err);
	assert_true(json_equal(doc, copy));
	mcpconf_report_free(&rep);
	json_decref(doc);
	json_decref(copy);
}

/* Unimport: the flags between connect and -- are dropped; tend's own
 * options too; what is not of that form stays. */
static void test_unimport(void **state)
{
	(void)state;
	struct mcpconf_report rep = rewrite(
		"{\"mcpServers\": {"
		"\"a\": {\"command\": \"/usr/bin/tend\", \"args\": [\"connect\", \"--idle-stop\", "
		"\"5m\", \"--share=roots\", \"--\", \"npx\", \"-y\", \"m\"], \"env\": {\"K\": \"v\"}}, "
		"\"b\": {\"command\": \"tend\", \"args\": [\"connect\", \"memory\"]}, "
		"\"c\": {\"command\": \"npx\", \"args\": [\"m\"]}, "
		"\"d\": {\"command\": \"tend\", \"args\": [\"connect\", \"--\"]}, "
		"\"e\": {\"command\": \"tend\", \"args\": [\"-c\", \"f.ini\", \"connect\", \"--\", "
		"\"srv\", \"--\", \"x\"]}}}",
		MCPCONF_MCPSERVERS, MCPCONF_UNIMPORT,
		"{\n  \"mcpServers\": {\n"
		"    \"a\": {\n      \"command\": \"npx\",\n      \"args\": [\n"
		"        \"-y\",\n        \"m\"\n      ],\n      \"env\": {\n"
		"        \"K\": \"v\"\n      }\n    },\n"
		"    \"b\": {\n      \"command\": \"tend\",\n      \"args\": [\n"
		"        \"connect\",\n        \"memory\"\n      ]\n    },\n"
		"    \"c\": {\n      \"command\": \"npx\",\n      \"args\": [\n"
		"        \"m\"\n      ]\n    },\n"
		"    \"d\": {\n      \"command\": \"tend\",\n      \"args\": [\n"
		"        \"connect\",\n        \"--\"\n      ]\n    },\n"
		"    \"e\": {\n      \"command\": \"srv\",\n      \"args\": [\n"
		"        \"--\",\n        \"x\"\n      ]\n    }\n"
		"  }\n}\n", 2);
	check_entry(&rep, 0, NULL, "a", MCPCONF_CHANGED, "npx -y m");
	check_entry(&rep, 1, NULL, "b", MCPCONF_NOT_TEND, NULL);
	assert_non_null(strstr(rep.v[1].detail, "service memory"));
	check_entry(&rep, 2, NULL, "c", MCPCONF_NOT_TEND, "not through tend");
	check_entry(&rep, 3, NULL, "d", MCPCONF_UNUSABLE, NULL);
	check_entry(&rep, 4, NULL, "e", MCPCONF_CHANGED, "srv -- x");
	mcpconf_report_free(&rep);
}

static json_t *rewritten(json_t *doc, enum mcpconf_layout layout, enum mcpconf_op op,
                         json_t *hint)
{
	json_t *copy = json_deep_copy(doc);
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	assert_true(mcpconf_rewrite(copy, layout, op, "/opt/tend/bin/tend", &hint,
	                            hint ? 1 : 0, &rep, &err) >= 0);
	mcpconf_report_free(&rep);
	return copy;
}

/* One document of each client, as the clients write them. */
static const struct {
	enum mcpconf_layout layout;
	const char *text;
} samples[] = {
	{ MCPCONF_CLAUDE_USER,
	  "{\"numStartups\": 40, \"cost\": 0.1, \"mcpServers\": {\"memory\": {\"type\": \"stdio\", "
	  "\"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-memory\"], "
	  "\"env\": {\"MEMORY_FILE_PATH\": \"/tmp/m.json\"}}, \"gh\": {\"type\": \"http\", "
	  "\"url\": \"https://example.invalid/mcp\", \"headers\": {\"Authorization\": \"x\"}}}, "
	  "\"projects\": {\"/home/u/p\": {\"allowedTools\": [], \"history\": [{\"display\": "
	  "\"hi\", \"pastedContents\": {}}], \"mcpServers\": {\"fs\": {\"type\": \"stdio\", "
	  "\"command\": \"npx\", \"args\": [], \"env\": {}}}}}}" },
	{ MCPCONF_MCPSERVERS,
	  "{\"mcpServers\": {\"seq\": {\"command\": \"uvx\", \"env\": {\"A\": \"\\u00e9\\n\"}}, "
	  "\"web\": {\"url\": \"http://127.0.0.1:8080/sse\"}}}" },
	{ MCPCONF_MCPSERVERS, /* Gemini CLI */
	  "{\"theme\": \"Default\", \"mcpServers\": {\"py\": {\"command\": \"python\", \"args\": "
	  "[\"-m\", \"srv\"], \"cwd\": \"./srv\", \"timeout\": 30000, \"trust\": false, "
	  "\"includeTools\": [\"a\"]}, \"remote\": {\"httpUrl\": \"https://example.invalid\"}}}" },
	{ MCPCONF_VSCODE,
	  "{\"inputs\": [], \"servers\": {\"a\": {\"type\": \"stdio\", \"command\": \"a\", "
	  "\"args\": [\"--x\", \"\"], \"env\": {\"N\": 1.5}, \"dev\": {\"watch\": \"src/**\"}}, "
	  "\"b\": {\"command\": \"b\"}, \"c\": {\"type\": \"http\", \"url\": \"u\"}}}" },
};

/* unimport(import(x)) == x, with x as the hint; without one, an entry that
 * had no "args" keeps an empty list. */
static void test_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		json_t *doc = parse(samples[i].text);
		json_t *in = rewritten(doc, samples[i].layout, MCPCONF_IMPORT, NULL);
		assert_false(json_equal(in, doc));
		json_t *out = rewritten(in, samples[i].layout, MCPCONF_UNIMPORT, doc);
		if (!json_equal(out, doc))
			fail_msg("sample %zu: unimport(import(x)) != x:\n%s", i,
			         mcpconf_dump(out, "  "));
		json_decref(out);
		char *why = oracle_mcpconf(samples[i].text, strlen(samples[i].text));
		if (why)
			fail_msg("sample %zu: %s", i, why);
		json_decref(in);
		json_decref(doc);
	}
	json_t *doc = parse("{\"mcpServers\": {\"s\": {\"command\": \"s\"}}}");
	json_t *in = rewritten(doc, MCPCONF_MCPSERVERS, MCPCONF_IMPORT, NULL);
	json_t *out = rewritten(in, MCPCONF_MCPSERVERS, MCPCONF_UNIMPORT, NULL);
	json_t *want = parse("{\"mcpServers\": {\"s\": {\"command\": \"s\", \"args\": []}}}");
	assert_true(json_equal(out, want));
	json_decref(want);
	json_decref(out);
	json_decref(in);
	json_decref(doc);
}

/* What the user changed between import and unimport stays. */
static void test_unimport_keeps_later_changes(void **state)
{
	(void)state;
	json_t *doc = parse("{\"mcpServers\": {\"s\": {\"command\": \"s\", \"args\": [\"1\"]}}}");
	json_t *in = rewritten(doc, MCPCONF_MCPSERVERS, MCPCONF_IMPORT, NULL);
	json_t *s = json_object_get(json_object_get(in, "mcpServers"), "s");
	json_object_set_new(s, "env", json_pack("{s:s}", "TOKEN", "t"));
	json_array_append_new(json_object_get(s, "args"), json_string("2"));
	json_object_set_new(json_object_get(in, "mcpServers"), "new",
	                    json_pack("{s:s}", "command", "n"));
	json_t *out = rewritten(in, MCPCONF_MCPSERVERS, MCPCONF_UNIMPORT, doc);
	json_t *want = parse("{\"mcpServers\": {\"s\": {\"command\": \"s\", \"args\": [\"1\", "
	                     "\"2\"], \"env\": {\"TOKEN\": \"t\"}}, \"new\": {\"command\": \"n\"}}}");
	if (!json_equal(out, want))
		fail_msg("%s", mcpconf_dump(out, "  "));
	json_decref(want);
	json_decref(out);
	json_decref(in);
	json_decref(doc);
}

/* Documents that are not of the layout: refused, untouched. */
static void test_refused_documents(void **state)
{
	(void)state;
	static const struct {
		enum mcpconf_layout layout;
		const char *text, *why;
	} cases[] = {
		{ MCPCONF_MCPSERVERS, "[1, 2]", "top level" },
		{ MCPCONF_MCPSERVERS, "{\"mcpServers\": [{\"command\": \"x\"}]}", "mcpServers" },
		{ MCPCONF_VSCODE, "{\"servers\": \"x\"}", "servers" },
		{ MCPCONF_CLAUDE_USER,
		  "{\"mcpServers\": {\"a\": {\"command\": \"a\"}}, \"projects\": {\"/p\": "
		  "{\"mcpServers\": 3}}}", "project /p" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *doc = parse(cases[i].text), *copy = json_deep_copy(doc);
		struct mcpconf_report rep = { 0 };
		char *err = NULL;
		assert_int_equal(mcpconf_rewrite(doc, cases[i].layout, MCPCONF_IMPORT, "tend",
		                                 NULL, 0, &rep, &err), -1);
		assert_non_null(strstr(err, cases[i].why));
		assert_true(json_equal(doc, copy));
		assert_int_equal(rep.n, 0);
		free(err);
		json_decref(doc);
		json_decref(copy);
	}
	/* absent maps: nothing to do */
	struct mcpconf_report rep = rewrite("{\"projects\": {\"/p\": 1}}", MCPCONF_CLAUDE_USER,
	                                    MCPCONF_IMPORT, "{\n  \"projects\": {\n    \"/p\": 1\n  }\n}\n",
	                                    0);
	assert_int_equal(rep.n, 0);
	mcpconf_report_free(&rep);
}

/* The text: as JSON.stringify(doc, null, indent) writes it; reals short. */
static void test_dump(void **state)
{
	(void)state;
	json_t *doc = parse("{\"a\": [], \"b\": {}, \"c\": [1, -2, 0.1, 1.5, 3.0, 1e300, -0.0, "
	                    "2.5e-8], \"d\": \"\\u00e9\\u2028 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\\u0001\\u007f\", "
	                    "\"e\": [true, false, null, [[]]]}");
	char *s = mcpconf_dump(doc, "\t");
	assert_string_equal(s,
		"{\n\t\"a\": [],\n\t\"b\": {},\n\t\"c\": [\n\t\t1,\n\t\t-2,\n\t\t0.1,\n\t\t1.5,\n"
		"\t\t3.0,\n\t\t1e+300,\n\t\t-0.0,\n\t\t2.5e-08\n\t],\n"
		"\t\"d\": \"\xc3\xa9\xe2\x80\xa8 \\\" \\\\ / \\b\\f\\n\\r\\t\\u0001\x7f\",\n"
		"\t\"e\": [\n\t\ttrue,\n\t\tfalse,\n\t\tnull,\n\t\t[\n\t\t\t[]\n\t\t]\n\t]\n}\n");
	json_t *back = json_loads(s, 0, NULL);
	assert_true(json_equal(back, doc));
	json_decref(back);
	free(s);
	json_decref(doc);
	doc = json_stringn("a\0b", 3);
	s = mcpconf_dump(doc, "  ");
	assert_string_equal(s, "\"a\\u0000b\"\n");
	free(s);
	json_decref(doc);
}

static void check_indent(const char *text, const char *want)
{
	char *got = mcpconf_indent_of(text, strlen(text));
	assert_string_equal(got, want);
	free(got);
}

static void test_indent_of(void **state)
{
	(void)state;
	check_indent("{\n  \"a\": {\n    \"b\": 1\n  }\n}\n", "  ");
	check_indent("{\n    \"a\": 1\n}", "    ");
	check_indent("{\n\t\"a\": 1\n}", "\t");
	check_indent("{\"a\": 1}", "  ");
	check_indent("{\n\n  \n\"a\": 1,\n   \"b\": 2}", "   ");
	check_indent("{\n                  \"a\": 1}", "        ");
}

static void test_jsonc_reason(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "{\n  // servers\n  \"servers\": {}\n}", "it has comments" },
		{ "{\"servers\": {} /* x */}", "it has comments" },
		{ "{\"servers\": {\"a\": {\"command\": \"a\",},}}", "it has a trailing comma" },
		{ "{\"a\": [1, 2,\n]}", "it has a trailing comma" },
		{ "{\"url\": \"http://x//y /* z */\", \"b\": \"\\\"//\"", NULL },
		{ "{\"a\": 1 \"b\": 2}", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = mcpconf_jsonc_reason(cases[i].text, strlen(cases[i].text));
		if (cases[i].want)
			assert_string_equal(got, cases[i].want);
		else
			assert_null(got);
	}
}

/* --- Codex's TOML ------------------------------------------------------- */

static const char codex_file[] =
	"model = \"o3\"\n"
	"notes = \"\"\"\n"
	"[mcp_servers.fake]\n"
	"command = \"not a table: inside a string\"\n"
	"\"\"\"\n"
	"\n"
	"[mcp_servers.memory]\n"
	"# the memory server\n"
	"command = \"npx\"\n"
	"args = [\n"
	"  \"-y\", # yes\n"
	"  '@modelcontextprotocol/server-memory',\n"
	"]\n"
	"env = { \"API_KEY\" = \"v\", nested = { a = [1, 2] } }\n"
	"startup_timeout_sec = 20\n"
	"\n"
	"# a comment before the next table\n"
	"[mcp_servers.memory.env2]\n"
	"X = \"1\"\n"
	"\n"
	"[mcp_servers.\"quoted name\"]\n"
	"command = '/opt/x y/bin/srv'\n"
	"\n"
	"[mcp_servers.web]\n"
	"url = \"https://example.invalid/mcp\"\n"
	"\n"
	"[mcp_servers.through]\n"
	"command = \"tend\"\n"
	"args = [\"connect\", \"--\", \"s\"]\n"
	"\n"
	"[[profiles]]\n"
	"command = \"x\"\n"
	"[mcp_servers.esc]\n"
	"command = \"a\\\"c\\u00e9\"\n"
	"args = [\"\\\\\", \"t\\tu\"]";

static void test_toml_import(void **state)
{
	(void)state;
	struct buf out = { 0 };
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	int n = mcptoml_rewrite(codex_file, strlen(codex_file), MCPCONF_IMPORT, "tend", &out,
	                        &rep, &err);
	if (n < 0)
		fail_msg("%s", err);
	assert_int_equal(n, 3);
	assert_int_equal(rep.n, 5);
	check_entry(&rep, 0, NULL, "memory", MCPCONF_CHANGED,
	            "npx -y @modelcontextprotocol/server-memory");
	check_entry(&rep, 1, NULL, "quoted name", MCPCONF_CHANGED, "'/opt/x y/bin/srv'");
	check_entry(&rep, 2, NULL, "web", MCPCONF_REMOTE, "url");
	check_entry(&rep, 3, NULL, "through", MCPCONF_TEND, "s");
	check_entry(&rep, 4, NULL, "esc", MCPCONF_CHANGED, NULL);
	assert_string_equal(out.s,
		"[mcp_servers.memory]\n"
		"# the memory server\n"
		"command = \"tend\"\n"
		"args = [\"connect\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-memory\"]\n"
		"env = { \"API_KEY\" = \"v\", nested = { a = [1, 2] } }\n"
		"startup_timeout_sec = 20\n"
		"\n"
		"[mcp_servers.\"quoted name\"]\n"
		"command = \"tend\"\n"
		"args = [\"connect\", \"--\", \"/opt/x y/bin/srv\"]\n"
		"\n"
		"[mcp_servers.esc]\n"
		"command = \"tend\"\n"
		"args = [\"connect\", \"--\", \"a\\\"c\xc3\xa9\", \"\\\\\", \"t\\tu\"]\n");
	free(out.s);
	mcpconf_report_free(&rep);
	char *why = oracle_mcpconf(codex_file, strlen(codex_file));
	if (why)
		fail_msg("%s", why);
}

static void test_toml_unimport(void **state)
{
	(void)state;
	const char *text = "[mcp_servers.m]\ncommand = \"/usr/bin/tend\"\n"
	                   "args = [\"connect\", \"--share\", \"roots\", \"--\", \"npx\", \"m\"]\n"
	                   "env = { K = \"v\" }\n"
	                   "[mcp_servers.n]\ncommand = \"tend\"\nargs = [\"connect\", \"--\", \"n\"]\n"
	                   "[mcp_servers.o]\ncommand = \"o\"\n";
	struct buf out = { 0 };
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	assert_int_equal(mcptoml_rewrite(text, strlen(text), MCPCONF_UNIMPORT, "tend", &out,
	                                 &rep, &err), 2);
	check_entry(&rep, 0, NULL, "m", MCPCONF_CHANGED, "npx m");
	check_entry(&rep, 1, NULL, "n", MCPCONF_CHANGED, "n");
	check_entry(&rep, 2, NULL, "o", MCPCONF_NOT_TEND, NULL);
	assert_string_equal(out.s, "[mcp_servers.m]\ncommand = \"npx\"\nargs = [\"m\"]\n"
	                           "env = { K = \"v\" }\n\n[mcp_servers.n]\ncommand = \"n\"\n");
	free(out.s);
	mcpconf_report_free(&rep);
}

/* Tables tend cannot read are left with a reason; a file it cannot scan is
 * an error naming the line. */
static void test_toml_unusable_and_errors(void **state)
{
	(void)state;
	const char *text = "[mcp_servers]\ninline = { command = \"x\" }\n"
	                   "[mcp_servers.a]\ncommand = \"\"\"x\"\"\"\n"
	                   "[mcp_servers.b]\ncommand = \"x\"\nargs = [1]\n"
	                   "[mcp_servers.c]\nargs = [\"x\"]\n"
	                   "[mcp_servers.d]\ncommand = \"npx -y m\"\n"
	                   "[mcp_servers.e]\ncommand = \"a\\u0000b\"\n"
	                   /* found by fuzz_mcpconf: an empty command went through */
	                   "[mcp_servers.f]\ncommand = \"\"\nargs = [\"-y\"]\n";
	struct buf out = { 0 };
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	assert_int_equal(mcptoml_rewrite(text, strlen(text), MCPCONF_IMPORT, "tend", &out,
	                                 &rep, &err), 0);
	assert_int_equal(rep.n, 7);
	for (size_t i = 0; i < rep.n; i++)
		check_entry(&rep, i, NULL, rep.v[i].name, MCPCONF_UNUSABLE, NULL);
	assert_string_equal(rep.v[6].detail, "the command is empty");
	assert_string_equal(rep.v[0].name, "inline");
	assert_null(out.s);
	mcpconf_report_free(&rep);

	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "a = 1\n[mcp_servers.x\ncommand = \"x\"\n", "line 2: " },
		{ "a = \"open\n", "line 1: " },
		{ "a = 1\nb = '''\nnever closed\n", "line 4: " },
		{ "a = 1 2\n", "line 1: " },
		{ "[a]\nb = [1, 2\n", "line 3: " },
		{ "x = \"\\q\"\n", "line 1: " },
		{ "= 1\n", "line 1: " },
		{ "[mcp_servers.x]\ncommand = \"x\"\nargs = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n", "line 3: values nested more than 64 deep" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(mcptoml_rewrite(bad[i].text, strlen(bad[i].text), MCPCONF_IMPORT,
		                                 "tend", &out, &rep, &err), -1);
		if (strncmp(err, bad[i].why, strlen(bad[i].why)) != 0)
			fail_msg("\"%s\": %s, not %s...", bad[i].text, err, bad[i].why);
		char *why = oracle_message(err, bad[i].text, strlen(bad[i].text));
		if (why)
			fail_msg("%s", why);
		free(err);
		mcpconf_report_free(&rep);
	}
	free(out.s);
}

/* --- import --http --- */

struct seen {
	int n;
	char line[8][200];   /* what the url function was given, per server */
};

static char *url_of(void *ctx, const struct mcpconf_server *s, const char **token,
                    char **why)
{
	struct seen *v = ctx;
	char *cmd = mcpconf_cmdline(s->command, s->args, s->nargs);
	char *flags = mcpconf_cmdline("", s->flags, s->nflags);
	snprintf(v->line[v->n % 8], sizeof(v->line[0]), "%s|%s|%s|%s|%s", s->name,
	         s->scope ? s->scope : "-", cmd, flags, s->cwd ? s->cwd : "-");
	free(cmd);
	free(flags);
	v->n++;
	if (strcmp(s->name, "no") == 0) {
		*why = strdup("refused here");
		return NULL;
	}
	*token = strcmp(s->name, "open") == 0 ? NULL : "T0K";
	char *u = NULL;
	assert_true(asprintf(&u, "http://127.0.0.1:%d/mcp", 7430 + v->n) > 0);
	return u;
}

static struct mcpconf_report http_rewrite(const char *text, enum mcpconf_layout layout,
                                          enum mcpconf_url_style style, const char *want,
                                          int changed, struct seen *v)
{
	json_t *doc = parse(text);
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	struct mcpconf_http http = { style, url_of, v };
	int n = mcpconf_rewrite_http(doc, layout, &http, &rep, &err);
	if (n < 0)
		fail_msg("refused: %s", err);
	assert_int_equal(n, changed);
	char *dump = mcpconf_dump(doc, "  ");
	assert_string_equal(dump, want);
	free(dump);
	json_decref(doc);
	return rep;
}

static void test_http_entries(void **state)
{
	(void)state;
	struct seen v = { 0 };
	/* Claude Code: type and url where command was; others kept in place */
	struct mcpconf_report rep = http_rewrite(
		"{\"mcpServers\": {\"a\": {\"type\": \"stdio\", \"command\": \"npx\", "
		"\"args\": [\"-y\", \"x y\"], \"env\": {\"K\": \"v\"}, \"timeout\": 5}, "
		"\"r\": {\"type\": \"sse\", \"url\": \"http://h/sse\"}}}",
		MCPCONF_MCPSERVERS, MCPCONF_URL_TYPED,
		"{\n  \"mcpServers\": {\n    \"a\": {\n      \"type\": \"http\",\n"
		"      \"url\": \"http://127.0.0.1:7431/mcp\",\n      \"timeout\": 5,\n"
		"      \"headers\": {\n        \"Authorization\": \"Bearer T0K\"\n      }\n"
		"    },\n    \"r\": {\n      \"type\": \"sse\",\n      \"url\": \"http://h/sse\"\n"
		"    }\n  }\n}\n", 1, &v);
	check_entry(&rep, 0, NULL, "a", MCPCONF_CHANGED,
	            "http://127.0.0.1:7431/mcp (npx -y 'x y')");
	check_entry(&rep, 1, NULL, "r", MCPCONF_REMOTE, NULL);
	assert_string_equal(v.line[0], "a|-|npx -y 'x y'|''|-");
	mcpconf_report_free(&rep);

	/* Cursor: url alone; no token, no headers; cwd given on */
	v.n = 0;
	rep = http_rewrite("{\"mcpServers\": {\"open\": {\"command\": \"/bin/srv\", "
	                   "\"cwd\": \"/p\"}}}", MCPCONF_MCPSERVERS, MCPCONF_URL_PLAIN,
	                   "{\n  \"mcpServers\": {\n    \"open\": {\n"
	                   "      \"url\": \"http://127.0.0.1:7431/mcp\"\n    }\n  }\n}\n",
	                   1, &v);
	assert_string_equal(v.line[0], "open|-|/bin/srv|''|/p");
	mcpconf_report_free(&rep);

	/* Gemini CLI: httpUrl; a Claude project's scope is given on */
	v.n = 0;
	rep = http_rewrite("{\"projects\": {\"/w\": {\"mcpServers\": {\"s\": "
	                   "{\"command\": \"srv\"}}}}}", MCPCONF_CLAUDE_USER,
	                   MCPCONF_URL_HTTPURL,
	                   "{\n  \"projects\": {\n    \"/w\": {\n      \"mcpServers\": {\n"
	                   "        \"s\": {\n          \"httpUrl\": \"http://127.0.0.1:7431/mcp\",\n"
	                   "          \"headers\": {\n            \"Authorization\": \"Bearer T0K\"\n"
	                   "          }\n        }\n      }\n    }\n  }\n}\n", 1, &v);
	assert_string_equal(v.line[0], "s|/w|srv|''|-");
	check_entry(&rep, 0, "/w", "s", MCPCONF_CHANGED, NULL);
	mcpconf_report_free(&rep);
}

static void test_http_connect_entries_and_refusals(void **state)
{
	(void)state;
	struct seen v = { 0 };
	const char *doc =
		"{\"servers\": {"
		"\"t\": {\"command\": \"/usr/bin/tend\", \"args\": [\"connect\", "
		"\"--memory-max\", \"1G\", \"--\", \"npx\", \"m\"]},"
		"\"svc\": {\"command\": \"tend\", \"args\": [\"connect\", \"memory\"]},"
		"\"self\": {\"command\": \"tend\", \"args\": [\"status\"]},"
		"\"env\": {\"command\": \"x\", \"env\": {\"A\": 1}},"
		"\"blank\": {\"command\": \"npx -y m\"},"
		"\"no\": {\"command\": \"x\"}}}";
	json_t *j = parse(doc);
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	struct mcpconf_http http = { MCPCONF_URL_TYPED, url_of, &v };
	assert_int_equal(mcpconf_rewrite_http(j, MCPCONF_VSCODE, &http, &rep, &err), 1);
	assert_int_equal(v.n, 2);   /* t and no: the others never reach it */
	assert_string_equal(v.line[0], "t|-|npx m|'' --memory-max 1G|-");
	check_entry(&rep, 0, NULL, "t", MCPCONF_CHANGED, "http://127.0.0.1:7431/mcp (npx m)");
	check_entry(&rep, 1, NULL, "svc", MCPCONF_TEND,
	            "service memory of a tend.ini: give its section a listen = "
	            "http:127.0.0.1:PORT instead");
	check_entry(&rep, 2, NULL, "self", MCPCONF_UNUSABLE,
	            "it runs tend itself, not tend connect");
	check_entry(&rep, 3, NULL, "env", MCPCONF_UNUSABLE,
	            "\"env\" is not an object of strings");
	check_entry(&rep, 4, NULL, "blank", MCPCONF_UNUSABLE, NULL);
	check_entry(&rep, 5, NULL, "no", MCPCONF_UNUSABLE, "refused here");
	/* the ones left alone are as they were */
	json_t *orig = parse(doc);
	const char *names[] = { "svc", "self", "env", "blank", "no" };
	for (size_t i = 0; i < 5; i++)
		assert_true(json_equal(json_object_get(json_object_get(j, "servers"), names[i]),
		                       json_object_get(json_object_get(orig, "servers"),
		                                       names[i])));
	json_decref(orig);
	json_decref(j);
	mcpconf_report_free(&rep);
}

static bool served_at(void *ctx, const char *url, struct mcpconf_served *out)
{
	(void)ctx;
	static const char *const argv[] = { "npx", "-y", "m" };
	static const char *const env[] = { "K=v=w", "E=" };
	if (strcmp(url, "http://127.0.0.1:7431/mcp") != 0)
		return false;
	*out = (struct mcpconf_served){ argv, 3, env, 2, "/w" };
	return true;
}

static void test_unimport_of_urls(void **state)
{
	(void)state;
	const char *now =
		"{\"mcpServers\": {\"a\": {\"type\": \"http\", \"url\": "
		"\"http://127.0.0.1:7431/mcp\", \"timeout\": 5, \"headers\": "
		"{\"Authorization\": \"Bearer T\", \"X\": \"y\"}},"
		"\"b\": {\"httpUrl\": \"http://127.0.0.1:7431/mcp\"},"
		"\"c\": {\"url\": \"http://127.0.0.1:9/mcp\"}}}";
	/* without a backup: from the section ("cwd" /w: not a project's) */
	json_t *doc = parse(now);
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	assert_int_equal(mcpconf_unimport(doc, MCPCONF_MCPSERVERS, NULL, 0, served_at, NULL,
	                                  &rep, &err), 2);
	char *dump = mcpconf_dump(doc, "");
	assert_string_equal(dump,
		"{\n\"mcpServers\": {\n\"a\": {\n\"command\": \"npx\",\n\"args\": [\n\"-y\",\n"
		"\"m\"\n],\n\"env\": {\n\"K\": \"v=w\",\n\"E\": \"\"\n},\n\"cwd\": \"/w\",\n"
		"\"timeout\": 5,\n\"headers\": {\n\"X\": \"y\"\n}\n},\n\"b\": {\n"
		"\"command\": \"npx\",\n\"args\": [\n\"-y\",\n\"m\"\n],\n\"env\": {\n"
		"\"K\": \"v=w\",\n\"E\": \"\"\n},\n\"cwd\": \"/w\"\n},\n\"c\": {\n"
		"\"url\": \"http://127.0.0.1:9/mcp\"\n}\n}\n}\n");
	free(dump);
	check_entry(&rep, 0, NULL, "a", MCPCONF_CHANGED, "npx -y m");
	check_entry(&rep, 2, NULL, "c", MCPCONF_REMOTE, NULL);
	json_decref(doc);
	mcpconf_report_free(&rep);

	/* with a backup that ran it through tend connect: its members, directly */
	json_t *hint = parse("{\"mcpServers\": {\"b\": {\"type\": \"stdio\", "
	                     "\"command\": \"tend\", \"args\": [\"connect\", \"--\", "
	                     "\"npx\", \"-y\", \"m\"], \"env\": {\"K\": \"v=w\"}}}}");
	doc = parse(now);
	assert_int_equal(mcpconf_unimport(doc, MCPCONF_MCPSERVERS, &hint, 1, served_at, NULL,
	                                  &rep, &err), 2);
	json_t *b = json_object_get(json_object_get(doc, "mcpServers"), "b");
	json_t *want = parse("{\"type\": \"stdio\", \"command\": \"npx\", \"args\": "
	                     "[\"-y\", \"m\"], \"env\": {\"K\": \"v=w\"}}");
	assert_true(json_equal(b, want));
	json_decref(want);
	json_decref(hint);
	json_decref(doc);
	mcpconf_report_free(&rep);
	/* no served function: URL entries are remote, left alone */
	doc = parse(now);
	assert_int_equal(mcpconf_unimport(doc, MCPCONF_MCPSERVERS, NULL, 0, NULL, NULL, &rep,
	                                  &err), 0);
	json_decref(doc);
	mcpconf_report_free(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_mcpservers),
		cmocka_unit_test(test_import_adds_args_after_command),
		cmocka_unit_test(test_import_claude_scopes),
		cmocka_unit_test(test_import_vscode),
		cmocka_unit_test(test_remote_left_alone),
		cmocka_unit_test(test_already_tend_left_alone),
		cmocka_unit_test(test_unusable_left_alone),
		cmocka_unit_test(test_unimport),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_unimport_keeps_later_changes),
		cmocka_unit_test(test_refused_documents),
		cmocka_unit_test(test_http_entries),
		cmocka_unit_test(test_http_connect_entries_and_refusals),
		cmocka_unit_test(test_unimport_of_urls),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_indent_of),
		cmocka_unit_test(test_jsonc_reason),
		cmocka_unit_test(test_toml_import),
		cmocka_unit_test(test_toml_unimport),
		cmocka_unit_test(test_toml_unusable_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
