/* Unit tests for addr.c: tcp:HOST:PORT and unix:PATH, names refused. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "addr.h"

static void parse_ok(const char *s, struct addr *a)
{
	char *why = NULL;
	if (addr_parse(s, a, &why) != 0)
		fail_msg("addr_parse(\"%s\") failed: %s", s, why);
	assert_null(why);
}

/* Fails to parse S, with a one-line reason containing NEEDLE. */
static void parse_bad(const char *s, const char *needle)
{
	struct addr a;
	char *why = NULL;
	if (addr_parse(s, &a, &why) == 0)
		fail_msg("addr_parse(\"%s\") succeeded", s);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("addr_parse(\"%s\"): \"%s\" lacks \"%s\"", s, why, needle);
	assert_null(strchr(why, '\n'));
	free(why);
}

static void check_v4(const char *s, const char *ip, unsigned port, const char *text)
{
	struct addr a;
	parse_ok(s, &a);
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a.sa;
	char buf[INET_ADDRSTRLEN];
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_false(a.via_dir);
	assert_int_equal(ntohs(s4->sin_port), port);
	assert_string_equal(inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf)), ip);
	assert_string_equal(a.text, text);
}

static void test_v4(void **state)
{
	(void)state;
	check_v4("tcp:127.0.0.1:8080", "127.0.0.1", 8080, "127.0.0.1:8080");
	check_v4("tcp:0.0.0.0:1", "0.0.0.0", 1, "0.0.0.0:1");
	check_v4("tcp:10.1.2.3:65535", "10.1.2.3", 65535, "10.1.2.3:65535");
}

static void test_port(void **state)
{
	(void)state;
	struct addr a;
	parse_ok("tcp:127.0.0.1:8080", &a);
	assert_int_equal(addr_port(&a), 8080);
	parse_ok("tcp:[::1]:65535", &a);
	assert_int_equal(addr_port(&a), 65535);
	parse_ok("unix:/run/x.sock", &a);
	assert_int_equal(addr_port(&a), 0);
}

static void test_localhost(void **state)
{
	(void)state;
	check_v4("tcp:localhost:80", "127.0.0.1", 80, "localhost:80");
	check_v4("tcp:LocalHost:80", "127.0.0.1", 80, "LocalHost:80");
}

static void test_v6(void **state)
{
	(void)state;
	struct addr a;
	char buf[INET6_ADDRSTRLEN];
	parse_ok("tcp:[::1]:9000", &a);
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a.sa;
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(a.len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(s6->sin6_port), 9000);
	assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf)), "::1");
	assert_string_equal(a.text, "[::1]:9000");

	parse_ok("tcp:[2001:db8::42]:443", &a);
	assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf)),
	                    "2001:db8::42");
	parse_ok("tcp:[::]:80", &a);
	assert_int_equal(a.family, AF_INET6);

	parse_bad("tcp:::1:80", "brackets");
	parse_bad("tcp:[::1:80", "unterminated [");
	parse_bad("tcp:[::1]80", "[IPV6]:PORT");
	parse_bad("tcp:[::1]", "[IPV6]:PORT");
	parse_bad("tcp:[zz::1]:80", "not an IPv6 address");
	parse_bad("tcp:[127.0.0.1]:80", "not an IPv6 address");
	parse_bad("tcp:[fe80::1%eth0]:80", "zone ids");
}

static void test_bad_port(void **state)
{
	(void)state;
	parse_bad("tcp:127.0.0.1:0", "out of range; expected 1..65535");
	parse_bad("tcp:127.0.0.1:65536", "out of range");
	parse_bad("tcp:127.0.0.1:99999999999999999999", "out of range");
	parse_bad("tcp:127.0.0.1:", "port is missing");
	parse_bad("tcp:127.0.0.1:http", "port \"http\" is not a number");
	parse_bad("tcp:127.0.0.1:80x", "not a number");
	parse_bad("tcp:127.0.0.1:-1", "not a number");
	parse_bad("tcp:127.0.0.1: 80", "not a number");
	parse_bad("tcp:[::1]:", "port is missing");
	parse_bad("tcp:127.0.0.1", "expected HOST:PORT");
}

static void test_names_refused(void **state)
{
	(void)state;
	parse_bad("tcp:example.com:80", "\"example.com\" is a host name");
	parse_bad("tcp:example.com:80", "tend never resolves names");
	parse_bad("tcp:example.com:80", "write an IP address");
	parse_bad("tcp:myhost:80", "write an IP address");
	parse_bad("tcp:localhost.localdomain:80", "host name");
	parse_bad("tcp:127.1:80", "not an IPv4 address");
	parse_bad("tcp:256.0.0.1:80", "not an IPv4 address");
	parse_bad("tcp::80", "host is missing");
}

static void test_prefix(void **state)
{
	(void)state;
	parse_bad("127.0.0.1:80", "expected tcp:HOST:PORT or unix:PATH");
	parse_bad("", "expected tcp:HOST:PORT or unix:PATH");
	parse_bad("TCP:127.0.0.1:80", "expected tcp:HOST:PORT");
	parse_bad("udp:127.0.0.1:80", "expected tcp:HOST:PORT");
	parse_bad("/run/x.sock", "expected tcp:HOST:PORT or unix:PATH");

	/* without prefix, for http:// */
	struct addr a;
	char *why = NULL;
	assert_int_equal(addr_parse_host_port("127.0.0.1:8080", &a, &why), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(addr_parse_host_port("tcp:127.0.0.1:8080", &a, &why), -1);
	assert_non_null(why);
	free(why);
}

static void test_unix(void **state)
{
	(void)state;
	struct addr a;
	parse_ok("unix:/run/user/1000/x.sock", &a);
	const struct sockaddr_un *su = (const struct sockaddr_un *)&a.sa;
	assert_int_equal(a.family, AF_UNIX);
	assert_int_equal(su->sun_family, AF_UNIX);
	assert_false(a.via_dir);
	assert_string_equal(su->sun_path, "/run/user/1000/x.sock");
	assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) +
	                        strlen("/run/user/1000/x.sock") + 1);
	assert_string_equal(a.text, "/run/user/1000/x.sock");

	parse_bad("unix:", "path is missing");
	parse_bad("unix:run/x.sock", "not an absolute path");
	parse_bad("unix:./x.sock", "not an absolute path");
	parse_bad("unix:@abstract", "not an absolute path");
}

static void test_unix_long(void **state)
{
	(void)state;
	struct sockaddr_un su;
	char path[300];
	/* exactly sun_path - 1 characters: fits */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(su.sun_path) - 1] = 0;
	char spec[320];
	snprintf(spec, sizeof(spec), "unix:%s", path);
	struct addr a;
	parse_ok(spec, &a);
	assert_false(a.via_dir);
	assert_string_equal(((struct sockaddr_un *)&a.sa)->sun_path, path);

	/* one more: kept, reached through its directory */
	memset(path, 'b', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[sizeof(su.sun_path)] = 0;
	snprintf(spec, sizeof(spec), "unix:%s", path);
	parse_ok(spec, &a);
	assert_int_equal(a.family, AF_UNIX);
	assert_true(a.via_dir);
	assert_int_equal(a.len, 0);
	assert_string_equal(a.text, path);

	/* PATH_MAX and beyond: refused */
	char *huge = malloc(PATH_MAX + 16);
	assert_non_null(huge);
	memcpy(huge, "unix:/", 6);
	memset(huge + 6, 'c', PATH_MAX);
	huge[PATH_MAX + 6] = 0;
	parse_bad(huge, "longer than");
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_localhost),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_names_refused),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_unix_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
