/* Unit tests for the pure parts of tend export (export_int.h): the YAML
 * writer, names for the engines, durations, $ kept literal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export_int.h"

static char *yaml_of(const char *json, int ind)
{
	json_error_t e;
	json_t *v = json_loads(json, 0, &e);
	assert_non_null(v);
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	exp_yaml(f, v, ind);
	fclose(f);
	json_decref(v);
	return s;
}

static void test_yaml_block_style(void **state)
{
	(void)state;
	char *s = yaml_of("{\"a\": 1, \"b\": [\"x\", {\"c\": true, \"d\": [[1, 2], []]}],"
	                  " \"e\": {}, \"f\": {\"g\": null}, \"@h\": \"q\\\"\\\\\\n\\t\\u0001\"}", 0);
	assert_string_equal(s,
		"a: 1\n"
		"b:\n"
		"  - \"x\"\n"
		"  - c: true\n"
		"    d:\n"
		"      - - 1\n"
		"        - 2\n"
		"      - []\n"
		"e: {}\n"
		"f:\n"
		"  g: null\n"
		"\"@h\": \"q\\\"\\\\\\n\\t\\x01\"\n");
	free(s);
	s = yaml_of("{\"svc\": {\"k\": \"v\"}}", 2);
	assert_string_equal(s, "  svc:\n    k: \"v\"\n");
	free(s);
}

static void test_dns_names(void **state)
{
	(void)state;
	const char *cases[][2] = {
		{ "web", "web" }, { "Idx_A.b", "idx-a-b" }, { "notif@1", "notif-1" },
		{ "9lives", "u-9lives" }, { "a-", "a" }, { "_x", "u--x" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = exp_dns_name(cases[i][0]);
		assert_string_equal(n, cases[i][1]);
		free(n);
	}
	char long_name[80];
	memset(long_name, 'a', 79);
	long_name[79] = '\0';
	char *n = exp_dns_name(long_name);
	assert_int_equal(strlen(n), 63);
	free(n);
}

static void test_durations(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(exp_go_duration(1500, b), "1500ms");
	assert_string_equal(exp_go_duration(90000, b), "90s");
	assert_string_equal(exp_go_duration(300000, b), "5m");
	assert_string_equal(exp_go_duration(7200000, b), "2h");
	assert_string_equal(exp_go_duration(0, b), "0s");
	assert_int_equal(exp_seconds(1), 1);
	assert_int_equal(exp_seconds(0), 1);
	assert_int_equal(exp_seconds(1500), 2);
	assert_int_equal(exp_seconds(20000), 20);
}

static void test_literal_doubles_every_dollar(void **state)
{
	(void)state;
	json_error_t e;
	json_t *v = json_loads("{\"a\": [\"$HOME\", {\"b\": \"$(X) $$\"}], \"c\": 3}", 0, &e);
	exp_literal(v);
	char *s = json_dumps(v, JSON_COMPACT);
	assert_string_equal(s, "{\"a\":[\"$$HOME\",{\"b\":\"$$(X) $$$$\"}],\"c\":3}");
	free(s);
	json_decref(v);
}

static void test_addresses(void **state)
{
	(void)state;
	char host[80], path[256];
	unsigned port;
	assert_int_equal(exp_addr("tcp:localhost:80", host, sizeof(host), &port,
	                          path, sizeof(path)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 80);
	assert_int_equal(exp_addr("tcp:[::1]:8080", host, sizeof(host), &port,
	                          path, sizeof(path)), 0);
	assert_string_equal(host, "[::1]");
	assert_int_equal(port, 8080);
	assert_int_equal(exp_addr("unix:/run/x.sock", host, sizeof(host), &port,
	                          path, sizeof(path)), 0);
	assert_string_equal(path, "/run/x.sock");
	assert_int_equal(port, 0);
	assert_int_equal(exp_addr("tcp:nohost", host, sizeof(host), &port, path,
	                          sizeof(path)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_block_style),
		cmocka_unit_test(test_dns_names),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_literal_doubles_every_dollar),
		cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
