/* Unit tests for words.c: shell-like splitting without a shell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>

#include <cmocka.h>

#include "words.h"

/* A fixed environment, so that results do not depend on the machine. */
static const char *const fake_env[][2] = {
	{ "HOME", "/home/test" },
	{ "X", "x" },
	{ "EMPTY", "" },
	{ "SPACED", "a  b" },
	{ "STAR", "*" },
	{ "QUOTES", "'\"" },
	{ "DOLLAR", "$HOME" },
	{ "TILDE", "~" },
	{ "LONG_NAME_2", "long" },
};

static int lookups; /* how many times fake_lookup ran */

static const char *fake_lookup(void *ctx, const char *name)
{
	assert_ptr_equal(ctx, &lookups);
	lookups++;
	for (size_t i = 0; i < sizeof(fake_env) / sizeof(fake_env[0]); i++)
		if (strcmp(fake_env[i][0], name) == 0)
			return fake_env[i][1];
	return NULL;
}

static const struct words_env env = { fake_lookup, &lookups, NULL };

/* The end of a list of words: a pointer, as va_arg reads it (NULL may be a
 * plain 0 in a variadic call). */
#define END ((const char *)NULL)

/* Splits LINE with ENV and checks the words against the END-terminated
 * list that follows. */
static void check_split_env(const struct words_env *e, const char *line, ...)
{
	char **argv = NULL;
	size_t argc = 99;
	char *err = NULL;
	if (words_split(line, e, &argv, &argc, &err) != 0)
		fail_msg("words_split(\"%s\") failed: %s", line, err);
	assert_null(err);
	assert_non_null(argv);

	va_list ap;
	va_start(ap, line);
	size_t i = 0;
	for (const char *w; (w = va_arg(ap, const char *)) != NULL; i++) {
		if (i >= argc)
			fail_msg("\"%s\": missing word %zu \"%s\"", line, i, w);
		if (strcmp(argv[i], w) != 0)
			fail_msg("\"%s\": word %zu is \"%s\", expected \"%s\"", line, i,
			         argv[i], w);
	}
	va_end(ap);
	if (argc != i)
		fail_msg("\"%s\": %zu words, expected %zu", line, argc, i);
	assert_null(argv[argc]);
	words_free(argv);
}

#define check_split(line, ...) check_split_env(&env, line, __VA_ARGS__, END)
#define check_none(line) check_split_env(&env, line, END)

static void check_error_env(const struct words_env *e, const char *line,
                            const char *want)
{
	char **argv = (char **)&argv; /* not NULL: must be reset */
	size_t argc = 99;
	char *err = NULL;
	if (words_split(line, e, &argv, &argc, &err) == 0)
		fail_msg("words_split(\"%s\") succeeded", line);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_null(argv);
	assert_int_equal(argc, 0);
	free(err);
}

#define check_error(line, want) check_error_env(&env, line, want)

static void test_blanks(void **state)
{
	(void)state;
	check_split("echo hello", "echo", "hello");
	check_split("  a\t b\n c  ", "a", "b", "c");
	check_split("one", "one");
	check_none("");
	check_none("   \t\n ");
}

static void test_no_shell(void **state)
{
	(void)state;
	check_split("echo a; rm -rf x", "echo", "a;", "rm", "-rf", "x");
	check_split("a|b & c > d < e ( f ) * ?", "a|b", "&", "c", ">", "d", "<",
	            "e", "(", "f", ")", "*", "?");
	check_split("a&&b || c `d` #e", "a&&b", "||", "c", "`d`", "#e");
	check_split("$STAR", "*");
}

static void test_single_quotes(void **state)
{
	(void)state;
	check_split("'$HOME'", "$HOME");
	check_split("'a b'  c", "a b", "c");
	check_split("'a\\b'", "a\\b");
	check_split("'a\"b'", "a\"b");
	check_split("''", "");
	check_split("'' ''", "", "");
	check_split("a''b", "ab");
	check_split("'it'\\''s'", "it's");
	check_split("'~'", "~");
	check_split("'a\nb'", "a\nb");
	check_split("'${'", "${");
	check_error("'abc", "unterminated single quote");
	check_error("a 'b c", "unterminated single quote");
}

static void test_double_quotes(void **state)
{
	(void)state;
	check_split("\"$HOME\"", "/home/test");
	check_split("\"a\\\"b\"", "a\"b");
	check_split("\"a\\\\b\"", "a\\b");
	check_split("\"a\\$b\"", "a$b");
	check_split("\"a\\`b\"", "a`b");
	check_split("\"a\\nb\"", "a\\nb"); /* other backslashes stay */
	check_split("\"a\\'b\"", "a\\'b");
	check_split("\"a b\" c", "a b", "c");
	check_split("\"\"", "");
	check_split("x\"\"", "x");
	check_split("\"a'b\"", "a'b");
	check_split("\"$\"", "$");
	check_split("\"a $ b\"", "a $ b");
	check_split("\"~\"", "~");
	check_split("\"~/x\"", "~/x");
	check_split("\"a\"'b'c", "abc");
	check_split("\"$X$X\"", "xx");
	check_error("\"abc", "unterminated double quote");
	check_error("\"abc\\\"", "unterminated double quote");
	check_error("\"a\" \"b", "unterminated double quote");
}

static void test_backslash(void **state)
{
	(void)state;
	check_split("a\\ b", "a b");
	check_split("a\\ b c", "a b", "c");
	check_split("\\$HOME", "$HOME");
	check_split("\\\\", "\\");
	check_split("\\'", "'");
	check_split("\\\"", "\"");
	check_split("\\a", "a");
	check_split("\\~", "~");
	check_split("\\;", ";");
	check_error("a\\", "trailing backslash");
	check_error("\\", "trailing backslash");
}

static void test_variables(void **state)
{
	(void)state;
	lookups = 0;
	check_split("$X", "x");
	assert_true(lookups > 0);
	check_split("${X}", "x");
	check_split("${X}y", "xy");
	check_split("a$X.b", "ax.b");
	check_split("$X$X", "xx");
	check_split("$X/$X", "x/x");
	check_split("$LONG_NAME_2", "long");
	check_split("$Xy", END);  /* the variable "Xy" is unset */
	check_split("$UNSET", END);
	check_split("a $UNSET b", "a", "b");
	check_split("\"$UNSET\"", "");
	check_split("'$UNSET'", "$UNSET");
	check_split("$EMPTY", END);
	check_split("\"$EMPTY\"", "");
	/* The result is never split or expanded again. */
	check_split("$SPACED", "a  b");
	check_split("$DOLLAR", "$HOME");
	check_split("$TILDE", "~");
	check_split("$QUOTES", "'\"");
	check_split("$", "$");
	check_split("a $ b", "a", "$", "b");
}

static void test_defaults(void **state)
{
	(void)state;
	check_split("${UNSET:-def}", "def");
	check_split("${EMPTY:-def}", "def");
	check_split("${X:-def}", "x");
	check_split("${UNSET:-a b}", "a b");
	check_split("\"${UNSET:-a b}\"", "a b");
	check_split("${UNSET:-$X}", "x");
	check_split("${UNSET:-${X}}", "x");
	check_split("${UNSET:-${ALSO_UNSET:-deep}}", "deep");
	check_split("${UNSET:-'a}b'}", "a}b");
	check_split("${UNSET:-\"$X y\"}", "x y");
	check_split("${UNSET:-a\\}b}", "a}b");
	check_split("\"${UNSET:-a\\}b}\"", "a}b");
	check_split("${UNSET:-}", END);
	check_split("\"${UNSET:-}\"", "");
	check_split("pre${UNSET:-mid}post", "premidpost");
	check_split("${X:-$UNSET}", "x");
	/* The default is checked even when the variable is set. */
	check_error("${X:-'abc}", "unterminated single quote");
}

static void test_variable_errors(void **state)
{
	(void)state;
	check_error("${HOME", "\"${\" without \"}\" in \"${HOME\"");
	check_error("a ${HOME b", "\"${\" without \"}\" in \"${HOME b\"");
	check_error("${X:-abc", "\"${\" without \"}\" in \"${X:-abc\"");
	check_error("\"${HOME\"", "\"${\" without \"}\" in \"${HOME\"\"");
	check_error("${}", "bad variable name in \"${}\"");
	check_error("${1}", "bad variable name in \"${1}\"");
	check_error("${-x}", "bad variable name in \"${-x}\"");
	check_error("${A B}",
	            "bad variable reference \"${A B}\"; write ${VAR} or "
	            "${VAR:-default}");
	check_error("${A-b}",
	            "bad variable reference \"${A-b}\"; write ${VAR} or "
	            "${VAR:-default}");
	check_error("${A:=b}",
	            "bad variable reference \"${A:=b}\"; write ${VAR} or "
	            "${VAR:-default}");
	check_error("$1", "bad variable name in \"$1\"");
	check_error("$(date)", "bad variable name in \"$(date)\"");
	check_error("\"$?\"", "bad variable name in \"$?\"\"");
	check_error("$$", "bad variable name in \"$$\"");
	/* A long excerpt is cut. */
	char line[200];
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "${", 2);
	char **argv;
	size_t argc;
	char *err = NULL;
	assert_int_equal(words_split(line, &env, &argv, &argc, &err), -1);
	assert_non_null(err);
	assert_true(strlen(err) < 80);
	assert_non_null(strstr(err, "without"));
	free(err);
}

/* "${U:-" N times, then "x" and N "}". */
static char *nested_defaults(size_t n)
{
	char *s = malloc(n * 6 + 2);
	assert_non_null(s);
	char *p = s;
	for (size_t i = 0; i < n; i++, p += 5)
		memcpy(p, "${U:-", 5);
	*p++ = 'x';
	memset(p, '}', n);
	p[n] = '\0';
	return s;
}

static void test_nested_defaults_are_bounded(void **state)
{
	(void)state;
	char *ok = nested_defaults(WORDS_NEST_MAX);
	check_split(ok, "x");
	free(ok);
	/* One level more is an error, and so are a hundred thousand (which
	 * took the stack once). */
	size_t deep[] = { WORDS_NEST_MAX + 1, 100000 };
	for (size_t i = 0; i < 2; i++) {
		char *line = nested_defaults(deep[i]);
		char **argv;
		size_t argc;
		char *err = NULL;
		assert_int_equal(words_split(line, &env, &argv, &argc, &err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err, "nested more than 16 deep"));
		assert_true(strlen(err) < 120);
		free(err);
		free(line);
	}
}

static void test_tilde(void **state)
{
	(void)state;
	struct words_env e = { fake_lookup, &lookups, "/h/me" };
	check_split_env(&e, "~", "/h/me", END);
	check_split_env(&e, "~/x/y", "/h/me/x/y", END);
	check_split_env(&e, "a ~ b", "a", "/h/me", "b", END);
	check_split_env(&e, "x~", "x~", END);
	check_split_env(&e, "x/~/y", "x/~/y", END);
	check_split_env(&e, "\"~\"", "~", END);
	check_split_env(&e, "'~'/x", "~/x", END);
	check_split_env(&e, "\\~", "~", END);
	check_split_env(&e, "~\"/x\"", "~/x", END); /* a quoted prefix: no ~ */
	check_split_env(&e, "~$X", "~x", END);
	check_split_env(&e, "--dir=~/x", "--dir=~/x", END);
	check_split_env(&e, "~/$X", "/h/me/x", END);
	check_split_env(&e, "~/a b", "/h/me/a", "b", END);

	/* No home in the env struct: $HOME from the lookup. */
	check_split("~", "/home/test");
	check_split("~/x", "/home/test/x");

	/* Nor in the lookup: the passwd entry. */
	struct passwd *pw = getpwuid(getuid());
	assert_non_null(pw);
	char *mine = strdup(pw->pw_dir);
	/* An empty home counts as none; getenv() then has no HOME either. */
	struct words_env nohome = { NULL, NULL, "" };
	char *want = NULL;
	if (asprintf(&want, "%s/x", mine) < 0)
		fail();
	char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	unsetenv("HOME");
	check_split_env(&nohome, "~/x", want, END);
	if (saved) {
		setenv("HOME", saved, 1);
		free(saved);
	}
	free(want);
	free(mine);
}

static void test_tilde_user(void **state)
{
	(void)state;
	struct passwd *pw = getpwnam("root");
	if (pw) {
		char *home = strdup(pw->pw_dir);
		char *sub = NULL;
		if (asprintf(&sub, "%s/x", home) < 0)
			fail();
		check_split("~root", home);
		check_split("~root/x", sub);
		free(sub);
		free(home);
	}
	check_error("~nosuch_tend_user", "unknown user \"~nosuch_tend_user\"");
	check_error("~nosuch_tend_user/x", "unknown user \"~nosuch_tend_user\"");
	check_split("\"~nosuch_tend_user\"", "~nosuch_tend_user");
	check_split("x~nosuch_tend_user", "x~nosuch_tend_user");
}

static void test_null_lookup_uses_getenv(void **state)
{
	(void)state;
	setenv("TEND_WORDS_TEST", "from getenv", 1);
	unsetenv("TEND_WORDS_UNSET");
	check_split_env(NULL, "$TEND_WORDS_TEST ${TEND_WORDS_UNSET:-d}",
	                "from getenv", "d", END);
	struct words_env e = { NULL, NULL, NULL };
	check_split_env(&e, "\"$TEND_WORDS_TEST\"", "from getenv", END);

	char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", "/tmp/tend-home", 1);
	check_split_env(NULL, "~/a", "/tmp/tend-home/a", END);
	check_split_env(&e, "~", "/tmp/tend-home", END);
	if (saved) {
		setenv("HOME", saved, 1);
		free(saved);
	} else {
		unsetenv("HOME");
	}
	unsetenv("TEND_WORDS_TEST");
	check_split_env(NULL, "$TEND_WORDS_TEST", END);
}

static void test_one(void **state)
{
	(void)state;
	struct words_env e = { fake_lookup, &lookups, "/h/me" };
	char *out = NULL, *err = NULL;

	assert_int_equal(words_one("~/code/app", &e, &out, &err), 0);
	assert_string_equal(out, "/h/me/code/app");
	assert_null(err);
	free(out);

	assert_int_equal(words_one("'my dir'", &e, &out, &err), 0);
	assert_string_equal(out, "my dir");
	free(out);

	assert_int_equal(words_one("$SPACED", &e, &out, &err), 0);
	assert_string_equal(out, "a  b");
	free(out);

	assert_int_equal(words_one("\"\"", &e, &out, &err), 0);
	assert_string_equal(out, "");
	free(out);

	out = (char *)"junk";
	assert_int_equal(words_one("my dir", &e, &out, &err), -1);
	assert_null(out);
	assert_string_equal(err, "expected one word, got 2; quote or escape the "
	                         "blanks");
	free(err);

	assert_int_equal(words_one("", &e, &out, &err), -1);
	assert_string_equal(err, "expected one word, got none");
	free(err);

	assert_int_equal(words_one("$UNSET", &e, &out, &err), -1);
	assert_string_equal(err, "expected one word, got none");
	free(err);

	assert_int_equal(words_one("'x", &e, &out, &err), -1);
	assert_string_equal(err, "unterminated single quote");
	assert_null(out);
	free(err);
}

static void check_join(char *const *argv, const char *want)
{
	char *j = words_join(argv);
	assert_non_null(j);
	assert_string_equal(j, want);
	free(j);
}

static void test_join(void **state)
{
	(void)state;
	check_join((char *const[]){ NULL }, "");
	check_join(NULL, "");
	check_join((char *const[]){ "echo", "hello", NULL }, "echo hello");
	check_join((char *const[]){ "echo", "a b", NULL }, "echo 'a b'");
	check_join((char *const[]){ "", NULL }, "''");
	check_join((char *const[]){ "it's", NULL }, "'it'\\''s'");
	check_join((char *const[]){ "~", NULL }, "'~'");
	check_join((char *const[]){ "~/x", NULL }, "'~/x'");
	check_join((char *const[]){ "a~", NULL }, "a~");
	check_join((char *const[]){ "$HOME", NULL }, "'$HOME'");
	check_join((char *const[]){ "a\\b", NULL }, "'a\\b'");
	check_join((char *const[]){ "a\"b", NULL }, "'a\"b'");
	check_join((char *const[]){ "a\tb", NULL }, "'a\tb'");
	check_join((char *const[]){ "a;", NULL }, "'a;'");
	check_join((char *const[]){ "#x", NULL }, "'#x'");
	check_join((char *const[]){ "--opt=a,b:c@d%e+f/g.h_i-j", NULL },
	           "--opt=a,b:c@d%e+f/g.h_i-j");
	check_join((char *const[]){ "h\xc3\xa9llo", NULL }, "h\xc3\xa9llo");
}

static void test_join_roundtrip(void **state)
{
	(void)state;
	static const char *const words[] = {
		"", " ", "  ", "a b", "\t", "\n", "a\nb", "'", "''", "\"", "\"\"",
		"\\", "\\\\", "a\\", "\\'", "it's", "a'b\"c\\d", "$", "$HOME",
		"${HOME}", "${X:-y}", "$(date)", "`date`", "~", "~/x", "~root", "a~",
		"x ~", ";", "a;b", "#", "a #b", "*", "?", "[a]", "{a,b}", "!", "&",
		"|", "<", ">", "(", ")", "=", "a=b", "-", "--", "--x=y z", "%", "^",
		"h\xc3\xa9llo w\xc3\xb6rld", "'\\''", "}", "{", "a}b", "\\$X",
		"\"$X\"", "'$X'", "end\\",
	};
#define NWORDS (sizeof(words) / sizeof(words[0]))
	const size_t n = NWORDS;

	/* Every word alone, then all of them in one line. */
	for (size_t i = 0; i <= n; i++) {
		const char *argv1[NWORDS + 1];
		size_t k = 0;
		if (i < n) {
			argv1[k++] = words[i];
		} else {
			for (size_t j = 0; j < n; j++)
				argv1[k++] = words[j];
		}
		argv1[k] = NULL;

		char *line = words_join((char *const *)argv1);
		char **back = NULL;
		size_t argc = 0;
		char *err = NULL;
		if (words_split(line, &env, &back, &argc, &err) != 0)
			fail_msg("split(join) of \"%s\" failed: %s", line, err);
		assert_int_equal(argc, k);
		for (size_t j = 0; j < k; j++)
			if (strcmp(back[j], argv1[j]) != 0)
				fail_msg("round trip: \"%s\" came back as \"%s\" via %s",
				         argv1[j], back[j], line);
		words_free(back);
		free(line);
	}
}

static void test_free_null(void **state)
{
	(void)state;
	words_free(NULL);
	char **argv = NULL;
	size_t argc = 5;
	char *err = NULL;
	assert_int_equal(words_split("", &env, &argv, &argc, &err), 0);
	assert_int_equal(argc, 0);
	assert_non_null(argv);
	assert_null(argv[0]);
	words_free(argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blanks),
		cmocka_unit_test(test_no_shell),
		cmocka_unit_test(test_single_quotes),
		cmocka_unit_test(test_double_quotes),
		cmocka_unit_test(test_backslash),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_nested_defaults_are_bounded),
		cmocka_unit_test(test_variable_errors),
		cmocka_unit_test(test_tilde),
		cmocka_unit_test(test_tilde_user),
		cmocka_unit_test(test_null_lookup_uses_getenv),
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_join_roundtrip),
		cmocka_unit_test(test_free_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
