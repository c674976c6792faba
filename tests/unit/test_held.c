/* Unit tests for held.c: binding listen addresses, and held_sync's all or
 * nothing over real sockets on loopback and in a temporary directory;
 * held_plan, its decision, on plain data without sockets. */
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

/* --- held_plan: plain data, no socket --- */

/* A unit named NAME of a configuration, with the listen addresses of the
 * NULL-terminated list. */
static struct unit_config *plan_unit(const char *name, const char *const *listen)
{
	struct unit_config *u = xcalloc(1, sizeof(*u));
	u->name = xstrdup(name);
	u->listen_mode = 0600;
	for (; *listen; listen++)
		strv_push(&u->listen, xstrdup(*listen));
	return u;
}

struct plan_fx {
	struct tend_config cfg;
	struct held_set set;
};

static void fx_unit(struct plan_fx *f, struct unit_config *u)
{
	f->cfg.units = realloc(f->cfg.units, (f->cfg.nunits + 1) * sizeof(u));
	assert_non_null(f->cfg.units);
	f->cfg.units[f->cfg.nunits++] = u;
}

/* An entry of the old set (no fd: the plan never looks at it). */
static void fx_held(struct plan_fx *f, const char *spec, const char *unit,
                    bool retired)
{
	f->set.v = realloc(f->set.v, (f->set.n + 1) * sizeof(*f->set.v));
	assert_non_null(f->set.v);
	f->set.v[f->set.n++] = (struct held_sock){ .spec = xstrdup(spec),
	                                           .unit = xstrdup(unit),
	                                           .fd = -1, .retired = retired };
}

static void fx_free(struct plan_fx *f)
{
	for (size_t i = 0; i < f->cfg.nunits; i++)
		config_unit_free(f->cfg.units[i]);
	free(f->cfg.units);
	for (size_t i = 0; i < f->set.n; i++) {
		free(f->set.v[i].spec);
		free(f->set.v[i].unit);
	}
	free(f->set.v);
}

static void assert_step(const struct held_plan *p, size_t i, const char *spec,
                        const char *unit, size_t from)
{
	assert_true(i < p->n);
	assert_string_equal(p->v[i].spec, spec);
	if (unit)
		assert_string_equal(p->v[i].u->name, unit);
	else
		assert_null(p->v[i].u);
	assert_int_equal(p->v[i].from, from);
}

static bool retiring_gone(void *ctx, const char *unit)
{
	(void)ctx;
	return strncmp(unit, "gone", 4) == 0;
}

static void test_plan_keeps_binds_and_closes(void **state)
{
	(void)state;
	struct plan_fx f = { 0 };
	fx_held(&f, "tcp:127.0.0.1:1", "a", false);
	fx_held(&f, "unix:/run/x.sock", "a", false);
	fx_held(&f, "tcp:127.0.0.1:3", "b", false);
	fx_unit(&f, plan_unit("a", (const char *[]){ "tcp:127.0.0.1:1",
	                                              "tcp:127.0.0.1:2", NULL }));
	fx_unit(&f, plan_unit("c", (const char *[]){ "tcp:127.0.0.1:3", NULL }));
	struct held_plan p;
	held_plan(&f.set, &f.cfg, NULL, NULL, &p);
	assert_null(p.dup);
	assert_int_equal(p.n, 3);
	assert_step(&p, 0, "tcp:127.0.0.1:1", "a", 0);
	assert_step(&p, 1, "tcp:127.0.0.1:2", "a", HELD_NEW);
	/* Another unit wants b's address: it takes the fd over. */
	assert_step(&p, 2, "tcp:127.0.0.1:3", "c", 2);
	assert_true(p.keep[0]);
	assert_false(p.keep[1]);
	assert_true(p.keep[2]);
	held_plan_free(&p);
	fx_free(&f);
}

static void test_plan_empty(void **state)
{
	(void)state;
	struct plan_fx f = { 0 };
	struct held_plan p;
	held_plan(&f.set, &f.cfg, retiring_gone, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_null(p.dup);
	held_plan_free(&p);
	/* Everything goes when the file wants nothing. */
	fx_held(&f, "tcp:127.0.0.1:1", "a", false);
	fx_held(&f, "tcp:127.0.0.1:2", "gone", false);
	fx_unit(&f, plan_unit("a", (const char *[]){ NULL }));
	held_plan(&f.set, &f.cfg, NULL, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_false(p.keep[0] || p.keep[1]);
	held_plan_free(&p);
	fx_free(&f);
}

/* Kept, retired, only for a unit gone from the file whose tree still
 * stops; a retired address a unit wants again is taken over. */
static void test_plan_retires_for_stopping_units(void **state)
{
	(void)state;
	struct plan_fx f = { 0 };
	fx_held(&f, "tcp:127.0.0.1:1", "gone1", false);   /* retiring: kept */
	fx_held(&f, "tcp:127.0.0.1:2", "other", false);   /* not retiring */
	fx_held(&f, "tcp:127.0.0.1:3", "gone2", false);   /* a wants it */
	fx_held(&f, "tcp:127.0.0.1:4", "a", false);       /* a dropped it */
	fx_held(&f, "tcp:127.0.0.1:5", "gone3", true);    /* retired before */
	fx_held(&f, "tcp:127.0.0.1:6", "gone4", false);   /* in the file */
	fx_unit(&f, plan_unit("a", (const char *[]){ "tcp:127.0.0.1:3", NULL }));
	fx_unit(&f, plan_unit("gone4", (const char *[]){ NULL }));
	struct held_plan p;
	held_plan(&f.set, &f.cfg, retiring_gone, NULL, &p);
	assert_null(p.dup);
	assert_int_equal(p.n, 3);
	assert_step(&p, 0, "tcp:127.0.0.1:3", "a", 2);
	assert_step(&p, 1, "tcp:127.0.0.1:1", NULL, 0);
	assert_step(&p, 2, "tcp:127.0.0.1:5", NULL, 4);
	assert_true(p.keep[0]);
	assert_false(p.keep[1]);
	assert_true(p.keep[2]);
	assert_false(p.keep[3]);   /* a dropped it */
	assert_true(p.keep[4]);
	assert_false(p.keep[5]);   /* its unit is in the file: not retiring */
	held_plan_free(&p);
	/* Without the question, nothing is retired. */
	held_plan(&f.set, &f.cfg, NULL, NULL, &p);
	assert_int_equal(p.n, 1);
	assert_false(p.keep[0] || p.keep[1] || p.keep[3] || p.keep[4] || p.keep[5]);
	held_plan_free(&p);
	fx_free(&f);
}

/* An address used twice ends the plan where it is found; nothing is
 * closed. */
static void test_plan_address_used_twice(void **state)
{
	(void)state;
	struct plan_fx f = { 0 };
	fx_held(&f, "tcp:127.0.0.1:1", "a", false);
	fx_held(&f, "tcp:127.0.0.1:9", "a", false);
	fx_unit(&f, plan_unit("a", (const char *[]){ "tcp:127.0.0.1:1", NULL }));
	fx_unit(&f, plan_unit("b", (const char *[]){ "tcp:127.0.0.1:2",
	                                              "tcp:127.0.0.1:1",
	                                              "tcp:127.0.0.1:3", NULL }));
	struct held_plan p;
	held_plan(&f.set, &f.cfg, retiring_gone, NULL, &p);
	assert_non_null(p.dup);
	assert_string_equal(p.dup->name, "b");
	assert_string_equal(p.dup_spec, "tcp:127.0.0.1:1");
	assert_int_equal(p.n, 2);
	assert_step(&p, 0, "tcp:127.0.0.1:1", "a", 0);
	assert_step(&p, 1, "tcp:127.0.0.1:2", "b", HELD_NEW);
	assert_true(p.keep[0] && p.keep[1]);
	held_plan_free(&p);
	fx_free(&f);
}

/* held_sync refuses it before anything is closed. */
static void test_sync_address_used_twice(void **state)
{
	(void)state;
	int port = free_port();
	char *text = xasprintf("[service a]\nexec = true\nlisten = tcp:127.0.0.1:%d\n"
	                       "[service b]\nexec = true\nlisten = tcp:127.0.0.1:%d\n",
	                       port, port);
	struct tend_config *cfg = load(text);
	struct held_set set = { 0 };
	char *err = NULL;
	assert_int_equal(held_sync(&set, cfg, NULL, NULL, &err), -1);
	assert_non_null(strstr(err, "[service b]: listen = tcp:127.0.0.1:"));
	assert_non_null(strstr(err, "is used twice"));
	assert_int_equal(set.n, 0);
	free(err);
	/* The address was bound for a and undone: it can be bound again. */
	char spec[64];
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
	char *why = NULL;
	int fd = held_bind(spec, 0600, &why);
	assert_true(fd >= 0);
	close(fd);
	config_free(cfg);
	free(text);
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
		cmocka_unit_test(test_sync_address_used_twice),
		cmocka_unit_test(test_plan_keeps_binds_and_closes),
		cmocka_unit_test(test_plan_empty),
		cmocka_unit_test(test_plan_retires_for_stopping_units),
		cmocka_unit_test(test_plan_address_used_twice),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
