/* Unit tests for dotenv.c: the .env syntax of env-file (quotes, export,
 * comments, ${VAR}, values over several lines) and its errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dotenv.h"

/* The caller's variables: OUTER=outer, EMPTY= */
static const char *outer(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "OUTER") == 0)
		return "outer";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

/* TEXT parses to WANT: the KEY=VALUE strings joined with '|'. */
static void parses(const char *text, const char *want)
{
	struct strv out = { 0 };
	char *err = NULL;
	if (dotenv_parse(text, "t.env", outer, NULL, &out, &err) < 0)
		fail_msg("%s: %s", text, err);
	size_t len = 0;
	for (size_t i = 0; i < out.n; i++)
		len += strlen(out.v[i]) + 1;
	char *got = calloc(1, len + 1);
	assert_non_null(got);
	for (size_t i = 0; i < out.n; i++) {
		if (i)
			strcat(got, "|");
		strcat(got, out.v[i]);
	}
	if (strcmp(got, want) != 0)
		fail_msg("%s\n got: %s\nwant: %s", text, got, want);
	free(got);
	strv_free(&out);
}

/* TEXT is refused with WANT, and OUT keeps what it held. */
static void refused(const char *text, const char *want)
{
	struct strv out = { 0 };
	strv_push(&out, strdup("KEEP=1"));
	char *err = NULL;
	if (dotenv_parse(text, "t.env", outer, NULL, &out, &err) == 0)
		fail_msg("parsed: %s", text);
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("%s\n got: %s\nwant: %s", text, err, want);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0], "KEEP=1");
	assert_null(out.v[1]);
	free(err);
	strv_free(&out);
}

static void test_plain(void **state)
{
	(void)state;
	parses("", "");
	parses("\n\n  \n", "");
	parses("A=1\nB=two words\n", "A=1|B=two words");
	parses("A=\n", "A=");
	parses("  A = 1  \n", "A=1");
	parses("export A=1\nexport\tB=2\n", "A=1|B=2");
	parses("exportX=1\n", "exportX=1");
	parses("_a1=x", "_a1=x");                       /* no final newline */
	parses("A=1\r\nB=2\r\n", "A=1|B=2");            /* CRLF */
	parses("\xEF\xBB\xBF" "A=1\n", "A=1");           /* BOM */
	parses("A=x=y\n", "A=x=y");
	parses("A=1\nA=2\nB=3\n", "A=2|B=3");           /* the last wins, in place */
}

static void test_comments(void **state)
{
	(void)state;
	parses("# a comment\n  # indented\nA=1\n", "A=1");
	parses("A=1 # trailing\n", "A=1");
	parses("A=1\t# trailing\n", "A=1");
	parses("A=a#b\n", "A=a#b");                     /* no blank before # */
	parses("A='x' # c\nB=\"y\"   #c\n", "A=x|B=y");
	parses("A='#not' \n", "A=#not");
}

static void test_quotes(void **state)
{
	(void)state;
	parses("A='lit $OUTER \\n \"'\n", "A=lit $OUTER \\n \"");
	parses("A=\"a\\nb\\t\\\"q\\\" \\\\ \\$OUTER \\x\"\n",
	       "A=a\nb\t\"q\" \\ $OUTER \\x");
	parses("A=\"\"\nB=''\n", "A=|B=");
	parses("A=\"two\nlines\"\nB=1\n", "A=two\nlines|B=1");
	parses("A='two\nlines'\n", "A=two\nlines");
	parses("A=it's\n", "A=it's");                   /* unquoted: literal */
	parses("A=x\"y\n", "A=x\"y");
}

static void test_expansion(void **state)
{
	(void)state;
	parses("A=1\nB=${A}2 $A\n", "A=1|B=12 1");
	parses("A=\"${OUTER}\"\n", "A=outer");            /* the caller's */
	parses("OUTER=mine\nA=$OUTER\n", "OUTER=mine|A=mine"); /* the file's first */
	parses("A=${NOPE}|\n", "A=|");
	parses("A=${NOPE:-dflt}\nB=${EMPTY:-e}\nC=${OUTER:-no}\n",
	       "A=dflt|B=e|C=outer");
	parses("A=${NOPE:-}\n", "A=");
	parses("A=$ 5$\nB=$1\nC=\"$\"\n", "A=$ 5$|B=$1|C=$");
	parses("A=cost: $5\n", "A=cost: $5");
	parses("A=1\nA=${A}${A}\n", "A=11");            /* the value above */
	parses("A='${OUTER}'\n", "A=${OUTER}");
}

/* References to references, line after line ("billion laughs"): each
 * value is bounded as it grows, so the file fails on the line where one
 * passes the bound, after no more than that was built. */
static void test_expansion_is_bounded(void **state)
{
	(void)state;
	struct buf t = { 0 };
	buf_adds(&t, "A=0123456789abcdef\n");
	for (int i = 0; i < 20; i++)
		buf_adds(&t, "A=$A$A$A$A$A$A$A$A\n");
	/* line K holds 16 * 8^(K-1) bytes: 64 KiB on line 5, and line 6
	 * passes 128 KiB at its third $A */
	refused(t.s, "t.env:6: a value longer than 128 KiB with its variables "
	        "expanded; Linux passes no environment string that long to a "
	        "program, so shorten it");
	free(t.s);
	/* a literal value that long, too */
	char *big = xmalloc(130 * 1024 + 8);
	memcpy(big, "B=", 2);
	memset(big + 2, 'x', 130 * 1024);
	strcpy(big + 2 + 130 * 1024, "\n");
	refused(big, "t.env:1: a value longer than 128 KiB with its variables "
	        "expanded; Linux passes no environment string that long to a "
	        "program, so shorten it");
	free(big);
	/* and all the values of a file together: 40 of 120 KiB */
	struct buf u = { 0 };
	buf_adds(&u, "X=");
	for (int i = 0; i < 120 * 1024; i++)
		buf_addc(&u, 'x');
	buf_adds(&u, "\n");
	for (int i = 0; i < 40; i++) {
		char line[32];
		snprintf(line, sizeof(line), "K%d=$X\n", i);
		buf_adds(&u, line);
	}
	refused(u.s, "t.env:35: the values of this file come to more than 4 MiB "
	        "with their variables expanded, more than a program's "
	        "environment takes; split or shorten them");
	free(u.s);
}

static void test_errors(void **state)
{
	(void)state;
	refused("A=1\nB=\"open\n\nC=3\n",
	        "t.env:2: unterminated double quote in \"B=\"open\"; close it with \"");
	refused("A='open\n",
	        "t.env:1: unterminated single quote in \"A='open\"; close it with '");
	refused("A=1\nnot an assignment\n",
	        "t.env:2: \"not an assignment\" is not KEY=VALUE; write KEY=VALUE "
	        "(a comment starts with #)");
	refused("1A=x\n",
	        "t.env:1: \"1A=x\" does not start with a variable name; write "
	        "KEY=VALUE, KEY of letters, digits and _");
	refused("=x\n",
	        "t.env:1: \"=x\" does not start with a variable name; write "
	        "KEY=VALUE, KEY of letters, digits and _");
	refused("A-B=x\n",
	        "t.env:1: \"A-B=x\" is not KEY=VALUE; write KEY=VALUE (a comment "
	        "starts with #)");
	refused("export A\n",
	        "t.env:1: \"export A\" is not KEY=VALUE; write KEY=VALUE (a "
	        "comment starts with #)");
	refused("A=\"x\" y\n",
	        "t.env:1: text after the closing quote in \"A=\"x\" y\"; quote the "
	        "whole value, or put a comment after \" #\"");
	refused("A=${B\n",
	        "t.env:1: \"${\" without \"}\" in \"A=${B\"; write ${NAME}");
	refused("A=${1B}\n",
	        "t.env:1: bad variable reference \"${1B}\"; write ${NAME} or "
	        "${NAME:-default}, NAME of letters, digits and _");
	refused("A=${B-x}\n",
	        "t.env:1: bad variable reference \"${B-x}\"; write ${NAME} or "
	        "${NAME:-default}, NAME of letters, digits and _");
	/* in a value over several lines, the line of what is wrong; the
	 * message stays one line */
	refused("A=1\nB=\"x\ny\" z\n",
	        "t.env:3: text after the closing quote in \"y\" z\"; quote the "
	        "whole value, or put a comment after \" #\"");
	refused("A=\"x\n${B\ny\"\n",
	        "t.env:2: \"${\" without \"}\" in \"${B\"; write ${NAME}");
	refused("\n\nA=\"${B\nC}\"\n",
	        "t.env:3: bad variable reference \"${B?C}\"; write ${NAME} or "
	        "${NAME:-default}, NAME of letters, digits and _");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_expansion),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_expansion_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
