/* Unit tests for udiff.c: unified diffs of two texts, as diff -u prints
 * them, and a property: the diff applied gives the second text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oracle.h"
#include "udiff.h"

static void check_diff(const char *a, const char *b, const char *want, size_t hunks)
{
	struct buf out = { 0 };
	assert_int_equal(udiff(a, strlen(a), b, strlen(b), "x", "x", &out), hunks);
	assert_string_equal(out.s ? out.s : "", want);
	free(out.s);
	char *why = oracle_udiff(a, strlen(a), b, strlen(b));
	if (why)
		fail_msg("%s", why);
}

static void test_equal(void **state)
{
	(void)state;
	check_diff("", "", "", 0);
	check_diff("a\nb\n", "a\nb\n", "", 0);
	check_diff("no newline", "no newline", "", 0);
}

static void test_one_change_with_context(void **state)
{
	(void)state;
	check_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
	           "--- x\n+++ x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n", 1);
	/* at the very start and end: less context */
	check_diff("1\n2\n3\n", "0\n1\n2\n3\n4\n",
	           "--- x\n+++ x\n@@ -1,3 +1,5 @@\n+0\n 1\n 2\n 3\n+4\n", 1);
}

static void test_hunks_apart_and_merged(void **state)
{
	(void)state;
	const char *a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\no\n";
	check_diff(a, "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\nO\n",
	           "--- x\n+++ x\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n"
	           "@@ -12,4 +12,4 @@\n l\n m\n n\n-o\n+O\n", 2);
	/* six unchanged lines between two changes: one hunk */
	check_diff(a, "a\nB\nc\nd\ne\nf\ng\nh\nI\nj\nk\nl\nm\nn\no\n",
	           "--- x\n+++ x\n@@ -1,12 +1,12 @@\n a\n-b\n+B\n c\n d\n e\n f\n g\n h\n"
	           "-i\n+I\n j\n k\n l\n", 1);
}

static void test_no_newline_at_end(void **state)
{
	(void)state;
	check_diff("a\nb", "a\nb\n",
	           "--- x\n+++ x\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n", 1);
	check_diff("{\"a\": 1}", "{\n  \"a\": 1\n}\n",
	           "--- x\n+++ x\n@@ -1 +1,3 @@\n-{\"a\": 1}\n\\ No newline at end of file\n"
	           "+{\n+  \"a\": 1\n+}\n", 1);
}

static void test_from_and_to_nothing(void **state)
{
	(void)state;
	check_diff("", "a\nb\n", "--- x\n+++ x\n@@ -0,0 +1,2 @@\n+a\n+b\n", 1);
	check_diff("a\nb\n", "", "--- x\n+++ x\n@@ -1,2 +0,0 @@\n-a\n-b\n", 1);
	check_diff("1\n2\n3\n4\n5\n", "1\n2\n4\n5\n", "--- x\n+++ x\n@@ -1,5 +1,4 @@\n 1\n 2\n-3\n 4\n 5\n", 1);
}

/* Random texts of a few distinct lines: every diff applies. */
static void test_random_texts_apply(void **state)
{
	(void)state;
	static const char *const words[] = { "a", "b", "c", "{", "}", "", "  \"x\": 1," };
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		struct buf t[2] = { { 0 }, { 0 } };
		for (int k = 0; k < 2; k++) {
			seed = seed * 1103515245u + 12345u;
			int n = (int)((seed >> 16) % 40);
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				buf_adds(&t[k], words[(seed >> 16) % 7]);
				if (i + 1 < n || (seed >> 8) % 4)
					buf_addc(&t[k], '\n');
			}
		}
		char *why = oracle_udiff(t[0].s ? t[0].s : "", t[0].len, t[1].s ? t[1].s : "",
		                         t[1].len);
		if (why)
			fail_msg("round %d: %s", round, why);
		free(t[0].s);
		free(t[1].s);
	}
}

/* Past UDIFF_EDITS_MAX edits: one replacement, still a diff that applies. */
static void test_many_edits(void **state)
{
	(void)state;
	struct buf a = { 0 }, b = { 0 };
	for (int i = 0; i < 1500; i++) {
		char line[32];
		snprintf(line, sizeof(line), "a%d\n", i);
		buf_adds(&a, line);
		snprintf(line, sizeof(line), "b%d\n", i);
		buf_adds(&b, line);
	}
	char *why = oracle_udiff(a.s, a.len, b.s, b.len);
	if (why)
		fail_msg("%s", why);
	free(a.s);
	free(b.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_one_change_with_context),
		cmocka_unit_test(test_hunks_apart_and_merged),
		cmocka_unit_test(test_no_newline_at_end),
		cmocka_unit_test(test_from_and_to_nothing),
		cmocka_unit_test(test_random_texts_apply),
		cmocka_unit_test(test_many_edits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
