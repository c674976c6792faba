/* Unit tests for held.c: binding listen addresses, and held_sync's all or
 * nothing over real sockets on loopback and in a temporary directory. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "held.h"
#include "util.h"

static char dir[] = "/tmp/tend-held-XXXXXX";

/* A port nobody listens on now. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static struct tend_config *load(const char *text)
{
	char *path = xasprintf("%s/tend.ini", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (!cfg)
		fail_msg("config: %s", err);
	free(path);
	return cfg;
}

static bool listening(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

static void test_sync_keeps_binds_and_closes(void **state)
{
	(void)state;
	int p1 = free_port(), p2 = free_port();
	char *text = xasprintf("[service a]\nexec = true\nlisten = tcp:127.0.0.1:%d\n"
	                       "listen = unix:%s/a.sock\n", p1, dir);
	struct tend_config *cfg = load(text);
	struct held_set set = { 0 };
	char *err = NULL;
	assert_int_equal(held_sync(&set, cfg, NULL, NULL, &err), 0);
	assert_int_equal(set.n, 2);
	char spec1[64];
	snprintf(spec1, sizeof(spec1), "tcp:127.0.0.1:%d", p1);
	int fd1 = held_fd(&set, spec1);
	assert_true(fd1 >= 0 && listening(fd1));
	char *upath = xasprintf("%s/a.sock", dir);
	struct stat st;
	assert_int_equal(stat(upath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* The tcp address stays (same fd), the unix one goes (file removed),
	 * a new one is bound. */
	char *text2 = xasprintf("[service a]\nexec = true\nlisten = tcp:127.0.0.1:%d\n"
	                        "listen = tcp:127.0.0.1:%d\n", p1, p2);
	struct tend_config *cfg2 = load(text2);
	assert_int_equal(held_sync(&set, cfg2, NULL, NULL, &err), 0);
	assert_int_equal(set.n, 2);
	assert_int_equal(held_fd(&set, spec1), fd1);
	assert_true(listening(fd1));
	assert_int_equal(stat(upath, &st), -1);

	/* A taken address fails the whole sync: nothing changes. */
	int taken = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(taken, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(listen(taken, 1), 0);
	assert_int_equal(getsockname(taken, (struct sockaddr *)&sa, &len), 0);
	char *text3 = xasprintf("[service a]\nexec = true\nlisten = unix:%s/b.sock\n"
	                        "listen = tcp:127.0.0.1:%d\n", dir, ntohs(sa.sin_port));
	struct tend_config *cfg3 = load(text3);
	assert_int_equal(held_sync(&set, cfg3, NULL, NULL, &err), -1);
	assert_non_null(strstr(err, "in use"));
	assert_non_null(strstr(err, "[service a]"));
	assert_non_null(strstr(err, "tend.ini:4"));
	free(err);
	assert_int_equal(set.n, 2);
	assert_int_equal(held_fd(&set, spec1), fd1);
	assert_true(listening(fd1));
	char *bpath = xasprintf("%s/b.sock", dir);
	assert_int_equal(stat(bpath, &st), -1);   /* bound, then undone */
	close(taken);

	held_free(&set);
	assert_int_equal(set.n, 0);
	config_free(cfg);
	config_free(cfg2);
	config_free(cfg3);
	free(text);
	free(text2);
	free(text3);
	free(upath);
	free(bpath);
}

static void test_bind_unix_stale_live_and_file(void **state)
{
	(void)state;
	char *path = xasprintf("%s/s.sock", dir);
	char *spec = xasprintf("unix:%s", path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* stale: bound, never listened on, closed */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	char *why = NULL;
	int fd = held_bind(spec, 0660, &why);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* live: ours now; a second bind is refused and leaves it */
	assert_int_equal(held_bind(spec, 0600, &why), -1);
	assert_non_null(strstr(why, "in use"));
	free(why);
	assert_true(listening(fd));
	close(fd);
	unlink(path);
	/* a regular file in the way */
	FILE *f = fopen(path, "w");
	fputs("keep", f);
	fclose(f);
	assert_int_equal(held_bind(spec, 0600, &why), -1);
	assert_non_null(strstr(why, "not a socket"));
	free(why);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);
	/* bad addresses say why */
	assert_int_equal(held_bind("tcp:example.com:80", 0600, &why), -1);
	assert_non_null(why);
	free(why);
	free(path);
	free(spec);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_keeps_binds_and_closes),
		cmocka_unit_test(test_bind_unix_stale_live_and_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
