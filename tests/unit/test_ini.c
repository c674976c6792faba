/* Unit tests for ini.c: the strict INI reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ini.h"
#include "words.h"

/* What the handler saw, one event a line: "[NAME]@LINE" for a section and
 * "KEY=<VALUE>@LINE" for an entry. */
struct log {
	char *s;
	size_t len;
	int stop_at_line;  /* a callback at this line fails */
	int stop_sets_err; /* ...with an error message */
};

static void log_add(struct log *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_add(struct log *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	assert_true(vasprintf(&m, fmt, ap) >= 0);
	va_end(ap);
	size_t n = strlen(m);
	l->s = realloc(l->s, l->len + n + 1);
	assert_non_null(l->s);
	memcpy(l->s + l->len, m, n + 1);
	l->len += n;
	free(m);
}

static int stop_here(struct log *l, int line, char **err)
{
	if (line != l->stop_at_line)
		return 0;
	if (l->stop_sets_err) {
		*err = strdup("callback said no");
		assert_non_null(*err);
	}
	return 1;
}

static int on_section(void *user, const char *name, int line, char **err)
{
	struct log *l = user;
	log_add(l, "[%s]@%d\n", name, line);
	return stop_here(l, line, err);
}

static int on_entry(void *user, const char *key, const char *value, int line,
                    char **err)
{
	struct log *l = user;
	log_add(l, "%s=<%s>@%d\n", key, value, line);
	return stop_here(l, line, err);
}

static const struct ini_handler handler = { on_section, on_entry, NULL };

/* Parses TEXT and checks the events. */
static void check_parse(const char *text, const char *want)
{
	struct log l = { 0 };
	char *err = (char *)"not reset";
	if (ini_parse_string(text, "/x/tend.ini", &handler, &l, &err) != 0)
		fail_msg("parse failed: %s", err);
	assert_null(err);
	assert_string_equal(l.s ? l.s : "", want);
	free(l.s);
}

/* Parses TEXT, expecting the error WANT after the events EVENTS. */
static void check_error(const char *text, const char *want, const char *events)
{
	struct log l = { 0 };
	char *err = NULL;
	if (ini_parse_string(text, "/x/tend.ini", &handler, &l, &err) != -1)
		fail_msg("parse of \"%s\" succeeded", text);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_string_equal(l.s ? l.s : "", events);
	free(err);
	free(l.s);
}

static void test_basic(void **state)
{
	(void)state;
	check_parse("", "");
	check_parse("\n\n   \n\t\n", "");
	check_parse("[tend]\nlog-max = 10M\n\n[service web]\nexec = run it\n",
	            "[tend]@1\nlog-max=<10M>@2\n[service web]@4\nexec=<run it>@5\n");
	/* No newline at the end. */
	check_parse("[s]\na=b", "[s]@1\na=<b>@2\n");
	check_parse("[s]\n  a  =   b  c  \n", "[s]@1\na=<b  c>@2\n");
	check_parse("[s]\na=\nb =   \n", "[s]@1\na=<>@2\nb=<>@3\n");
	check_parse("[s]\nenv = A=B=C\n", "[s]@1\nenv=<A=B=C>@2\n");
	check_parse("[s]\nx==\n", "[s]@1\nx=<=>@2\n");
	check_parse("[s]\na.b-c_D9 = v\n", "[s]@1\na.b-c_D9=<v>@2\n");
	check_parse("[a]\n[b]\nk = 1\n[a]\n", "[a]@1\n[b]@2\nk=<1>@3\n[a]@4\n");
}

static void test_sections(void **state)
{
	(void)state;
	check_parse("[  service   web  ]\n", "[service   web]@1\n");
	check_parse("  [s]  \n", "[s]@1\n");
	check_parse("[\tjob x\t]\n", "[job x]@1\n");
	check_parse("[service memory]   ; an MCP server\n", "[service memory]@1\n");
	check_parse("[s] # comment\n", "[s]@1\n");
	check_error("[service web\nexec = x\n",
	            "/x/tend.ini:1: unterminated section header \"[service web\"; "
	            "close it with ']'", "");
	check_error("[s]\n\n\n\n\n\n[service web\n",
	            "/x/tend.ini:7: unterminated section header \"[service web\"; "
	            "close it with ']'", "[s]@1\n");
	check_error("[]\n",
	            "/x/tend.ini:1: empty section header \"[]\"; name it, e.g. "
	            "[service NAME]", "");
	check_error("[   ]\n",
	            "/x/tend.ini:1: empty section header \"[]\"; name it, e.g. "
	            "[service NAME]", "");
	check_error("[a] b\n",
	            "/x/tend.ini:1: text after the section header in \"[a] b\"; "
	            "put comments after ';' or '#'", "");
	check_error("[a]b]\n",
	            "/x/tend.ini:1: text after the section header in \"[a]b]\"; "
	            "put comments after ';' or '#'", "");
}

static void test_comments(void **state)
{
	(void)state;
	check_parse("; top\n# also\n   ; indented\n\t# tab\n[s]\n;a = 1\n#b = 2\n",
	            "[s]@5\n");
	check_parse("[s]\na = b ; c\n", "[s]@1\na=<b>@2\n");
	check_parse("[s]\na = b # c\n", "[s]@1\na=<b>@2\n");
	check_parse("[s]\na = b\t# c\n", "[s]@1\na=<b>@2\n");
	check_parse("[s]\na = b;c\n", "[s]@1\na=<b;c>@2\n");
	check_parse("[s]\na = b#c\n", "[s]@1\na=<b#c>@2\n");
	check_parse("[s]\na = ; only a comment\n", "[s]@1\na=<>@2\n");
	check_parse("[s]\na =;x\n", "[s]@1\na=<;x>@2\n");
	check_parse("[s]\nurl = http://h/p#frag\n", "[s]@1\nurl=<http://h/p#frag>@2\n");
}

static void test_quotes_are_kept(void **state)
{
	(void)state;
	check_parse("[s]\nexec = echo \"a ; b\"\n",
	            "[s]@1\nexec=<echo \"a ; b\">@2\n");
	check_parse("[s]\nexec = echo 'a # b' c ; d\n",
	            "[s]@1\nexec=<echo 'a # b' c>@2\n");
	check_parse("[s]\na = \"x\"\n", "[s]@1\na=<\"x\">@2\n");
	check_parse("[s]\na = 'x'\n", "[s]@1\na=<'x'>@2\n");
	/* An escaped quote does not end the double-quoted part. */
	check_parse("[s]\na = \"q\\\" ; r\" ; c\n", "[s]@1\na=<\"q\\\" ; r\">@2\n");
	/* In single quotes a backslash is literal: the quote ends there. */
	check_parse("[s]\na = 'q\\' ; c\n", "[s]@1\na=<'q\\'>@2\n");
	/* Outside quotes, an escaped quote opens nothing... */
	check_parse("[s]\na = it\\'s ; c\n", "[s]@1\na=<it\\'s>@2\n");
	/* ...an escaped ';' is not a comment, nor one after an escaped blank. */
	check_parse("[s]\na = x \\; y\n", "[s]@1\na=<x \\; y>@2\n");
	check_parse("[s]\na = x\\ ;y\n", "[s]@1\na=<x\\ ;y>@2\n");
	/* An unterminated quote is handed over as is, for words to report. */
	check_parse("[s]\na = \"x ; y\n", "[s]@1\na=<\"x ; y>@2\n");
}

static void test_continuation(void **state)
{
	(void)state;
	check_parse("[s]\nexec = a \\\n   b \\\n c\nnext = 1\n",
	            "[s]@1\nexec=<a b c>@2\nnext=<1>@5\n");
	check_parse("[s]\na = b\\\nc\n", "[s]@1\na=<b c>@2\n");
	/* Blanks after the backslash do not matter. */
	check_parse("[s]\na = b \\   \n  c\n", "[s]@1\na=<b c>@2\n");
	/* A comment on the last line ends the value. */
	check_parse("[s]\na = b \\\n c ; comment\nd = 1\n",
	            "[s]@1\na=<b c>@2\nd=<1>@4\n");
	/* A backslash in a comment continues nothing. */
	check_parse("[s]\na = b ; c \\\nd = 1\n", "[s]@1\na=<b>@2\nd=<1>@3\n");
	/* Nor does one inside quotes... */
	check_parse("[s]\na = \"b \\\nd = 1\n", "[s]@1\na=<\"b \\>@2\nd=<1>@3\n");
	check_parse("[s]\na = 'b \\\nd = 1\n", "[s]@1\na=<'b \\>@2\nd=<1>@3\n");
	/* ...nor an escaped backslash. */
	check_parse("[s]\na = b\\\\\nd = 1\n", "[s]@1\na=<b\\\\>@2\nd=<1>@3\n");
	/* An escaped one after that does. */
	check_parse("[s]\na = b\\\\\\\nc\n", "[s]@1\na=<b\\\\ c>@2\n");
	/* At the end of the text, the backslash just goes away. */
	check_parse("[s]\na = b \\", "[s]@1\na=<b>@2\n");
	check_parse("[s]\na = b \\\n", "[s]@1\na=<b>@2\n");
	/* A blank or comment line ends the continuation. */
	check_parse("[s]\na = b \\\n\nc = d\n", "[s]@1\na=<b>@2\nc=<d>@4\n");
	check_parse("[s]\na = b \\\n; x\nc = d\n", "[s]@1\na=<b>@2\nc=<d>@4\n");
	/* The key itself may be continued (the line is joined first). */
	check_parse("[s]\nkey \\\n = v\n", "[s]@1\nkey=<v>@2\n");
	/* Errors name the line the entry started on. */
	check_error("[s]\nfoo \\\nbar\n",
	            "/x/tend.ini:2: \"foo bar\" has no '='; write key = value",
	            "[s]@1\n");
}

static void test_bom_and_crlf(void **state)
{
	(void)state;
	check_parse("\xEF\xBB\xBF[s]\na=b\n", "[s]@1\na=<b>@2\n");
	check_parse("[s]\r\na = b\r\n\r\nc = d ; x\r\n", "[s]@1\na=<b>@2\nc=<d>@4\n");
	check_parse("\xEF\xBB\xBF[s]\r\na = b \\\r\n  c\r\n", "[s]@1\na=<b c>@2\n");
	check_parse("[s]\r\na = \r\n", "[s]@1\na=<>@2\n");
	/* A BOM anywhere else is not skipped. */
	check_error("[s]\n\xEF\xBB\xBF" "a = b\n",
	            "/x/tend.ini:2: invalid key \"\xEF\xBB\xBF" "a\"; keys are made "
	            "of letters, digits, '_', '.' and '-'", "[s]@1\n");
}

static void test_long_value(void **state)
{
	(void)state;
	size_t n = 10000;
	char *text = malloc(n + 64);
	assert_non_null(text);
	strcpy(text, "[s]\nexec = ");
	size_t off = strlen(text);
	for (size_t i = 0; i < n; i++)
		text[off + i] = (char)('a' + i % 26);
	strcpy(text + off + n, "\nnext = 1\n");

	char *want = malloc(n + 64);
	assert_non_null(want);
	strcpy(want, "[s]@1\nexec=<");
	memcpy(want + strlen(want), text + off, n);
	strcpy(want + strlen("[s]@1\nexec=<") + n, ">@2\nnext=<1>@3\n");
	check_parse(text, want);

	/* And one continued over many lines. */
	char *cont = malloc(n * 4 + 64);
	assert_non_null(cont);
	strcpy(cont, "[s]\nk = ");
	for (size_t i = 0; i < 1000; i++)
		strcat(cont, "w \\\n");
	strcat(cont, "end\n");
	char *want2 = malloc(n * 4 + 64);
	assert_non_null(want2);
	strcpy(want2, "[s]@1\nk=<");
	for (size_t i = 0; i < 1000; i++)
		strcat(want2, "w ");
	strcat(want2, "end>@2\n");
	check_parse(cont, want2);

	free(want2);
	free(cont);
	free(want);
	free(text);
}

static void test_keys(void **state)
{
	(void)state;
	check_error("[s]\nbad key = v\n",
	            "/x/tend.ini:2: invalid key \"bad key\"; keys are made of "
	            "letters, digits, '_', '.' and '-'", "[s]@1\n");
	check_error("[s]\nke$y = v\n",
	            "/x/tend.ini:2: invalid key \"ke$y\"; keys are made of "
	            "letters, digits, '_', '.' and '-'", "[s]@1\n");
	check_error("[s]\n[x = v\n",
	            "/x/tend.ini:2: unterminated section header \"[x = v\"; close "
	            "it with ']'", "[s]@1\n");
	check_error("[s]\n\"a\" = v\n",
	            "/x/tend.ini:2: invalid key \"\"a\"\"; keys are made of "
	            "letters, digits, '_', '.' and '-'", "[s]@1\n");
	check_error("[s]\n= v\n",
	            "/x/tend.ini:2: no key before '=' in \"= v\"; write key = value",
	            "[s]@1\n");
	check_error("[s]\n   =\n",
	            "/x/tend.ini:2: no key before '=' in \"=\"; write key = value",
	            "[s]@1\n");
	check_error("[s]\n\n\nexec\n",
	            "/x/tend.ini:4: \"exec\" has no '='; write key = value",
	            "[s]@1\n");
	check_error("[s]\nexec ; = x\n",
	            "/x/tend.ini:2: \"exec\" has no '='; write key = value",
	            "[s]@1\n");
	check_error("exec = x\n",
	            "/x/tend.ini:1: entry \"exec\" before any section; put it "
	            "under a [service NAME] header", "");
	check_error("; comment\n\nexec = x\n[s]\n",
	            "/x/tend.ini:3: entry \"exec\" before any section; put it "
	            "under a [service NAME] header", "");
	/* A long line is shortened in the message. */
	char text[300];
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "[s]\n", 4);
	struct log l = { 0 };
	char *err = NULL;
	assert_int_equal(ini_parse_string(text, "/x/tend.ini", &handler, &l, &err),
	                 -1);
	assert_non_null(strstr(err, "...\" has no '='"));
	assert_true(strlen(err) < 120);
	free(err);
	free(l.s);
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct log l = { .stop_at_line = 3, .stop_sets_err = 1 };
	char *err = NULL;
	assert_int_equal(ini_parse_string("[s]\na = 1\nb = 2\nc = 3\n", "f", &handler,
	                                  &l, &err), -1);
	assert_string_equal(err, "callback said no");
	assert_string_equal(l.s, "[s]@1\na=<1>@2\nb=<2>@3\n");
	free(err);
	free(l.s);

	/* A section callback can stop too. */
	struct log l2 = { .stop_at_line = 2, .stop_sets_err = 1 };
	assert_int_equal(ini_parse_string("[s]\n[t]\na = 1\n", "f", &handler, &l2,
	                                  &err), -1);
	assert_string_equal(err, "callback said no");
	assert_string_equal(l2.s, "[s]@1\n[t]@2\n");
	free(err);
	free(l2.s);

	/* A callback that forgets the message still gets one. */
	struct log l3 = { .stop_at_line = 2, .stop_sets_err = 0 };
	assert_int_equal(ini_parse_string("[s]\na = 1\n", "f", &handler, &l3, &err),
	                 -1);
	assert_non_null(err);
	assert_string_equal(err, "f:2: entry \"a\" rejected");
	free(err);
	free(l3.s);

	/* ...a section's callback too. */
	struct log l4 = { .stop_at_line = 2, .stop_sets_err = 0 };
	assert_int_equal(ini_parse_string("[s]\n[ t ]\n", "f", &handler, &l4,
	                                  &err), -1);
	assert_string_equal(err, "f:2: section \"t\" rejected");
	free(err);
	free(l4.s);
}

static void test_null_callbacks(void **state)
{
	(void)state;
	struct ini_handler none = { NULL, NULL, NULL };
	char *err = NULL;
	assert_int_equal(ini_parse_string("[s]\na = 1\n", "f", &none, NULL, &err), 0);
	assert_null(err);
	/* Syntax errors are still found. */
	assert_int_equal(ini_parse_string("[s]\na\n", "f", &none, NULL, &err), -1);
	assert_string_equal(err, "f:2: \"a\" has no '='; write key = value");
	free(err);
}

static void on_error(void *user, int line, char *msg)
{
	struct log *l = user;
	log_add(l, "!%d %s\n", line, msg);
	free(msg);
}

/* With an error callback every error is heard of, the reader's own and
 * the callbacks', and the lines after each are still read. */
static void test_every_error(void **state)
{
	(void)state;
	const struct ini_handler h = { on_section, on_entry, on_error };
	struct log l = { .stop_at_line = 4, .stop_sets_err = 1 };
	char *err = (char *)"not reset";
	assert_int_equal(ini_parse_string("a = 0\n[s]\nnope\nb = 1\n[t\nc = 2\n",
	                                  "f", &h, &l, &err), -1);
	assert_null(err);
	assert_string_equal(l.s,
	    "!1 f:1: entry \"a\" before any section; put it under a [service NAME] header\n"
	    "[s]@2\n"
	    "!3 f:3: \"nope\" has no '='; write key = value\n"
	    "b=<1>@4\n"
	    "!4 callback said no\n"
	    "!5 f:5: unterminated section header \"[t\"; close it with ']'\n"
	    "c=<2>@6\n");
	free(l.s);

	/* No error: 0, as without the callback. */
	l = (struct log){ 0 };
	assert_int_equal(ini_parse_string("[s]\na = 1\n", "f", &h, &l, &err), 0);
	assert_null(err);
	free(l.s);
}

/* Writes LEN bytes of TEXT to a new temporary file; returns its path. */
static char *temp_file(const char *text, size_t len)
{
	char *path = strdup("/tmp/test_ini_XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_file(void **state)
{
	(void)state;
	const char text[] = "\xEF\xBB\xBF; tend\r\n[service web]\r\nexec = x\r\n";
	char *path = temp_file(text, sizeof(text) - 1);
	struct log l = { 0 };
	char *err = (char *)"not reset";
	assert_int_equal(ini_parse_file(path, &handler, &l, &err), 0);
	assert_null(err);
	assert_string_equal(l.s, "[service web]@2\nexec=<x>@3\n");
	free(l.s);

	/* Errors name the file. */
	const char bad[] = "[s]\nnope\n";
	char *path2 = temp_file(bad, sizeof(bad) - 1);
	l = (struct log){ 0 };
	assert_int_equal(ini_parse_file(path2, &handler, &l, &err), -1);
	char *want = NULL;
	assert_true(asprintf(&want, "%s:2: \"nope\" has no '='; write key = value",
	                     path2) > 0);
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(l.s);

	/* An empty file is fine. */
	char *path3 = temp_file("", 0);
	l = (struct log){ 0 };
	assert_int_equal(ini_parse_file(path3, &handler, &l, &err), 0);
	assert_null(l.s);

	unlink(path);
	unlink(path2);
	unlink(path3);
	free(path);
	free(path2);
	free(path3);
}

static void test_file_large(void **state)
{
	(void)state;
	/* Bigger than one read. */
	size_t n = 200000;
	char *text = malloc(n + 64);
	assert_non_null(text);
	strcpy(text, "[s]\nv = ");
	size_t off = strlen(text);
	memset(text + off, 'z', n);
	strcpy(text + off + n, "\nw = 1\n");
	char *path = temp_file(text, strlen(text));

	struct log l = { 0 };
	char *err = NULL;
	assert_int_equal(ini_parse_file(path, &handler, &l, &err), 0);
	assert_int_equal(l.len, strlen("[s]@1\nv=<>@2\nw=<1>@3\n") + n);
	assert_non_null(strstr(l.s, "zzz>@2\nw=<1>@3\n"));
	free(l.s);
	unlink(path);
	free(path);
	free(text);
}

static void test_file_errors(void **state)
{
	(void)state;
	struct log l = { 0 };
	char *err = NULL;
	assert_int_equal(ini_parse_file("/nonexistent/dir/tend.ini", &handler, &l,
	                                &err), -1);
	assert_string_equal(err, "/nonexistent/dir/tend.ini: No such file or "
	                         "directory");
	free(err);

	assert_int_equal(ini_parse_file("/tmp", &handler, &l, &err), -1);
	assert_string_equal(err, "/tmp: Is a directory");
	free(err);

	const char nul[] = "[s]\na = 1\nb = x\0y\n";
	char *path = temp_file(nul, sizeof(nul) - 1);
	assert_int_equal(ini_parse_file(path, &handler, &l, &err), -1);
	char *want = NULL;
	assert_true(asprintf(&want, "%s:3: NUL byte in the file; it must be text",
	                     path) > 0);
	assert_string_equal(err, want);
	assert_null(l.s); /* nothing was handed over */
	free(want);
	free(err);
	unlink(path);
	free(path);
}

/* What words_join writes, an INI entry hands back intact to words_split. */
static void test_words_join_survives(void **state)
{
	(void)state;
	char *const argv[] = {
		"cmd", "a ; b", "x #y", ";", "#", "it's", "end\\", "\\", "\"", "a'b",
		"", "  lead", "trail  ", "~", "$HOME", NULL,
	};
	char *line = words_join(argv);
	char *text = NULL;
	assert_true(asprintf(&text, "[s]\nexec = %s ; a comment\nnext = 1\n",
	                     line) > 0);

	struct log l = { 0 };
	char *err = NULL;
	assert_int_equal(ini_parse_string(text, "f", &handler, &l, &err), 0);
	char *want = NULL;
	assert_true(asprintf(&want, "[s]@1\nexec=<%s>@2\nnext=<1>@3\n", line) > 0);
	assert_string_equal(l.s, want);

	char **back = NULL;
	size_t argc = 0;
	assert_int_equal(words_split(line, NULL, &back, &argc, &err), 0);
	assert_int_equal(argc, sizeof(argv) / sizeof(argv[0]) - 1);
	for (size_t i = 0; i < argc; i++)
		assert_string_equal(back[i], argv[i]);
	words_free(back);
	free(want);
	free(l.s);
	free(text);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quotes_are_kept),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_bom_and_crlf),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_null_callbacks),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_large),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_words_join_survives),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
