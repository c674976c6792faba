/* Unit tests for paths.c: the daemon's ID and directories from the
 * environment, long socket paths, private directories and the lock. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "paths.h"
#include "util.h"

/* ---- a temporary directory per test, and the environment restored ---- */

static const char *const env_names[] = { "XDG_RUNTIME_DIR", "XDG_STATE_HOME",
                                         "HOME" };

struct tmp {
	char dir[64];   /* as made by mkdtemp */
	char *real;     /* its real path */
	char *real_up;  /* REAL/up */
	char *saved[ARRAY_LEN(env_names)];
	char cwd[PATH_MAX];
	mode_t umask;
};

static int tmp_setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	strcpy(t->dir, "/tmp/tend-paths-XXXXXX");
	if (!mkdtemp(t->dir) || !getcwd(t->cwd, sizeof(t->cwd))) {
		free(t);
		return -1;
	}
	t->real = realpath(t->dir, NULL);
	if (!t->real)
		return -1;
	t->real_up = xasprintf("%s/up", t->real);
	for (size_t i = 0; i < ARRAY_LEN(env_names); i++) {
		const char *v = getenv(env_names[i]);
		t->saved[i] = v ? xstrdup(v) : NULL;
	}
	t->umask = umask(022);
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	int r = nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < ARRAY_LEN(env_names); i++) {
		if (t->saved[i])
			setenv(env_names[i], t->saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(t->saved[i]);
	}
	umask(t->umask);
	if (chdir(t->cwd) < 0)
		r = -1;
	free(t->real);
	free(t->real_up);
	free(t);
	return r;
}

/* Creates DIR/REL (a file; its parent directories too) and returns the
 * path (malloc'd). */
static char *touch(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", p, strerror(errno));
	close(fd);
	return p;
}

/* The content of FD's file.  (Not by opening the lock file again: closing
 * any fd of a file drops this process's record locks on it.) */
static char *read_fd(int fd)
{
	char b[256];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
	assert_true(n >= 0);
	b[n] = 0;
	return xstrdup(b);
}

static char *read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	char *s = read_fd(fd);
	close(fd);
	return s;
}

/* FNV-1a, 64 bits, from offset basis BASIS. */
static uint64_t ref_fnv1a_from(uint64_t basis, const char *s)
{
	uint64_t h = basis;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_BASIS   0xcbf29ce484222325ull /* = 14695981039346656037 */
/* IDs name where daemons live, so a change of the hash must be
 * deliberate: these tests pin the one in use, FNV-1a 64. */
#define PATHS_BASIS FNV_BASIS

static char *id_from(uint64_t basis, const char *label, const char *real)
{
	return xasprintf("%s-%08llx", label, (unsigned long long)
	                 (ref_fnv1a_from(basis, real) & 0xffffffffull));
}

/* The ID of the file at real path REAL in a directory labelled LABEL. */
static char *ref_id(const char *label, const char *real)
{
	return id_from(PATHS_BASIS, label, real);
}

static void assert_id_format(const char *id, const char *label)
{
	size_t l = strlen(label);
	if (strlen(id) != l + 9 || strncmp(id, label, l) != 0 || id[l] != '-')
		fail_msg("id \"%s\" is not \"%s-\" and 8 hex digits", id, label);
	for (size_t i = l + 1; i < l + 9; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			fail_msg("id \"%s\": '%c' is not lowercase hex", id, id[i]);
}

/* ---- paths_init ---- */

static void test_fnv_reference(void **state)
{
	(void)state;
	/* Published FNV-1a 64 test vectors, so ref_id can be trusted. */
	assert_true(ref_fnv1a_from(FNV_BASIS, "") == 0xcbf29ce484222325ull);
	assert_true(ref_fnv1a_from(FNV_BASIS, "a") == 0xaf63dc4c8601ec8cull);
	assert_true(ref_fnv1a_from(FNV_BASIS, "foobar") == 0x85944171f73967e8ull);
}

static void test_init_xdg(void **state)
{
	struct tmp *t = *state;
	char *cfg = touch(t->dir, "proj/tend.ini");
	char *real = xasprintf("%s/proj/tend.ini", t->real);
	setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
	setenv("XDG_STATE_HOME", "/home/u/.st", 1);
	setenv("HOME", "/home/u", 1);

	struct paths p;
	char *err = NULL;
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	assert_null(err);
	char *id = ref_id("proj", real);
	assert_id_format(p.id, "proj");
	assert_string_equal(p.id, id);
	assert_string_equal(p.config, real);
	assert_string_equal(p.rundir, "/run/user/4242/tend");
	char *want = xasprintf("/run/user/4242/tend/%s.sock", id);
	assert_string_equal(p.sock, want);
	free(want);
	want = xasprintf("/run/user/4242/tend/%s.lock", id);
	assert_string_equal(p.lock, want);
	free(want);
	want = xasprintf("/run/user/4242/tend/%s.procs", id);
	assert_string_equal(p.procs, want);
	free(want);
	want = xasprintf("/home/u/.st/tend/%s", id);
	assert_string_equal(p.statedir, want);
	free(want);
	want = xasprintf("/home/u/.st/tend/%s/events.log", id);
	assert_string_equal(p.events, want);
	free(want);
	want = xasprintf("/home/u/.st/tend/%s/daemon.log", id);
	assert_string_equal(p.daemon_log, want);
	free(want);
	char *ul = paths_unit_log(&p, "web");
	want = xasprintf("/home/u/.st/tend/%s/web.log", id);
	assert_string_equal(ul, want);
	free(want);
	free(ul);

	paths_free(&p);
	assert_null(p.id);
	assert_null(p.config);
	assert_null(p.sock);
	free(id);
	free(real);
	free(cfg);
}

/* The runtime rule: XDG_RUNTIME_DIR, else /run/user/UID when it is a
 * directory of the user's own with mode 0700, else /tmp/tend-UID. */
static void test_pick_rundir(void **state)
{
	(void)state;
	struct stat ok = { .st_mode = S_IFDIR | 0700, .st_uid = 1000 };
	struct { const char *xdg; const struct stat *st; struct stat mod;
	         bool use_mod; const char *want; } cases[] = {
		{ "/x", &ok, { 0 }, false, "/x/tend" },
		{ NULL, &ok, { 0 }, false, "/run/user/1000/tend" },
		{ "", &ok, { 0 }, false, "/run/user/1000/tend" },
		{ "rel", &ok, { 0 }, false, "/run/user/1000/tend" },
		{ NULL, NULL, { 0 }, false, "/tmp/tend-1000" },
		{ NULL, NULL, { .st_mode = S_IFDIR | 0755, .st_uid = 1000 }, true,
		  "/tmp/tend-1000" },
		{ NULL, NULL, { .st_mode = S_IFDIR | 0700, .st_uid = 0 }, true,
		  "/tmp/tend-1000" },
		{ NULL, NULL, { .st_mode = S_IFLNK | 0777, .st_uid = 1000 }, true,
		  "/tmp/tend-1000" },
		{ NULL, NULL, { .st_mode = S_IFDIR | 01700, .st_uid = 1000 }, true,
		  "/tmp/tend-1000" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = paths_pick_rundir(cases[i].xdg, 1000,
		                              cases[i].use_mod ? &cases[i].mod : cases[i].st);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

static void test_init_fallbacks(void **state)
{
	struct tmp *t = *state;
	char *cfg = touch(t->dir, "app/tend.ini");
	char *real = xasprintf("%s/app/tend.ini", t->real);
	char *id = ref_id("app", real);
	/* Without XDG_RUNTIME_DIR: /run/user/UID when it qualifies on this
	 * machine (test_pick_rundir checks the rule), else /tmp/tend-UID. */
	char *tmprun = paths_pick_rundir(NULL, getuid(), NULL);
	struct stat ru;
	char rudir[64];
	snprintf(rudir, sizeof(rudir), "/run/user/%u", (unsigned)getuid());
	if (lstat(rudir, &ru) == 0) {
		free(tmprun);
		tmprun = paths_pick_rundir(NULL, getuid(), &ru);
	}
	struct passwd *pw = getpwuid(getuid());
	assert_non_null(pw);
	struct paths p;
	char *err = NULL;

	/* Nothing set: the runtime rule, and the passwd entry's home. */
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	assert_string_equal(p.id, id);
	assert_string_equal(p.rundir, tmprun);
	char *want = xasprintf("%s/%s.sock", tmprun, id);
	assert_string_equal(p.sock, want);
	free(want);
	want = xasprintf("%s/.local/state/tend/%s", pw->pw_dir, id);
	assert_string_equal(p.statedir, want);
	free(want);
	paths_free(&p);

	/* HOME set, XDG_STATE_HOME unset: ~/.local/state. */
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	want = xasprintf("/home/someone/.local/state/tend/%s", id);
	assert_string_equal(p.statedir, want);
	free(want);
	want = xasprintf("/home/someone/.local/state/tend/%s/events.log", id);
	assert_string_equal(p.events, want);
	free(want);
	paths_free(&p);

	/* Empty or relative values do not count. */
	setenv("XDG_RUNTIME_DIR", "", 1);
	setenv("XDG_STATE_HOME", "", 1);
	setenv("HOME", "", 1);
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	assert_string_equal(p.rundir, tmprun);
	want = xasprintf("%s/.local/state/tend/%s", pw->pw_dir, id);
	assert_string_equal(p.statedir, want);
	free(want);
	paths_free(&p);

	setenv("XDG_RUNTIME_DIR", "run/user", 1);
	setenv("XDG_STATE_HOME", "state", 1);
	setenv("HOME", "/h", 1);
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	assert_string_equal(p.rundir, tmprun);
	want = xasprintf("/h/.local/state/tend/%s", id);
	assert_string_equal(p.statedir, want);
	free(want);
	paths_free(&p);

	/* XDG_RUNTIME_DIR alone set; state still from HOME. */
	setenv("XDG_RUNTIME_DIR", "/r", 1);
	unsetenv("XDG_STATE_HOME");
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	assert_string_equal(p.rundir, "/r/tend");
	want = xasprintf("/h/.local/state/tend/%s", id);
	assert_string_equal(p.statedir, want);
	free(want);
	paths_free(&p);

	assert_null(err);
	free(tmprun);
	free(id);
	free(real);
	free(cfg);
}

static void test_id_stable(void **state)
{
	struct tmp *t = *state;
	char *cfg = touch(t->dir, "site/tend.ini");
	struct paths a, b;
	char *err = NULL;
	assert_int_equal(paths_init(&a, cfg, &err), 0);
	assert_int_equal(paths_init(&b, cfg, &err), 0);
	assert_string_equal(a.id, b.id);
	assert_string_equal(a.sock, b.sock);
	paths_free(&b);

	/* The same file by a relative path, through "..", and by a symlink. */
	char *sub = xasprintf("%s/site", t->dir);
	assert_int_equal(chdir(sub), 0);
	assert_int_equal(paths_init(&b, "tend.ini", &err), 0);
	assert_string_equal(a.id, b.id);
	assert_string_equal(a.config, b.config);
	paths_free(&b);
	assert_int_equal(paths_init(&b, "../site/./tend.ini", &err), 0);
	assert_string_equal(a.id, b.id);
	paths_free(&b);
	char *link = xasprintf("%s/other/link.ini", t->dir);
	char *odir = xasprintf("%s/other", t->dir);
	assert_int_equal(mkdir(odir, 0755), 0);
	assert_int_equal(symlink(cfg, link), 0);
	assert_int_equal(paths_init(&b, link, &err), 0);
	assert_string_equal(a.id, b.id);  /* the label is the target's dir */
	assert_string_equal(a.config, b.config);
	paths_free(&b);
	assert_null(err);

	paths_free(&a);
	free(odir);
	free(link);
	free(sub);
	free(cfg);
}

static void test_id_distinct(void **state)
{
	struct tmp *t = *state;
	char *f1 = touch(t->dir, "one/conf/tend.ini");
	char *f2 = touch(t->dir, "two/conf/tend.ini");
	char *f3 = touch(t->dir, "one/conf/other.ini");
	struct paths a, b, c;
	char *err = NULL;
	assert_int_equal(paths_init(&a, f1, &err), 0);
	assert_int_equal(paths_init(&b, f2, &err), 0);
	assert_int_equal(paths_init(&c, f3, &err), 0);
	/* Same label, different hash. */
	assert_id_format(a.id, "conf");
	assert_id_format(b.id, "conf");
	assert_id_format(c.id, "conf");
	assert_string_not_equal(a.id, b.id);
	assert_string_not_equal(a.id, c.id);
	assert_string_not_equal(b.id, c.id);
	assert_string_not_equal(a.sock, b.sock);
	assert_string_not_equal(a.lock, c.lock);
	assert_string_not_equal(a.statedir, b.statedir);
	char *want = xasprintf("%s/two/conf/tend.ini", t->real);
	char *id = ref_id("conf", want);
	assert_string_equal(b.id, id);
	free(id);
	free(want);
	paths_free(&a);
	paths_free(&b);
	paths_free(&c);
	free(f1);
	free(f2);
	free(f3);
}

static void test_id_label(void **state)
{
	struct tmp *t = *state;
	struct paths p;
	char *err = NULL;

	/* Characters outside [A-Za-z0-9._-] become '_' (bytes, not chars). */
	char *f = touch(t->dir, "My proj!\xc3\xa9+x/tend.ini");
	assert_int_equal(paths_init(&p, f, &err), 0);
	assert_id_format(p.id, "My_proj____x");
	char *real = xasprintf("%s/My proj!\xc3\xa9+x/tend.ini", t->real);
	char *id = ref_id("My_proj____x", real);
	assert_string_equal(p.id, id);
	free(id);
	free(real);
	paths_free(&p);
	free(f);

	/* Kept: letters, digits, '.', '-', '_'. */
	f = touch(t->dir, "a.B-c_9/x.ini");
	assert_int_equal(paths_init(&p, f, &err), 0);
	assert_id_format(p.id, "a.B-c_9");
	paths_free(&p);
	free(f);

	/* At most 32 characters of the name. */
	f = touch(t->dir, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF/t.ini");
	assert_int_equal(paths_init(&p, f, &err), 0);
	assert_id_format(p.id, "abcdefghijklmnopqrstuvwxyz012345");
	paths_free(&p);
	free(f);
	assert_null(err);
}

/* A file in "/" is labelled "root". */
static void test_label_root(void **state)
{
	(void)state;
	struct paths p;
	char *err = NULL;
	assert_int_equal(paths_init(&p, "/tmp", &err), 0);
	assert_id_format(p.id, "root");
	paths_free(&p);
}

/* The hash is FNV-1a 64 with FNV's offset basis. */
static void test_fnv_basis(void **state)
{
	struct tmp *t = *state;
	char *cfg = touch(t->dir, "proj/tend.ini");
	char *real = xasprintf("%s/proj/tend.ini", t->real);
	struct paths p;
	char *err = NULL;
	assert_int_equal(paths_init(&p, cfg, &err), 0);
	char *id = id_from(FNV_BASIS, "proj", real);
	assert_string_equal(p.id, id);
	free(id);
	paths_free(&p);
	free(real);
	free(cfg);
}

static void test_init_missing(void **state)
{
	struct tmp *t = *state;
	struct paths p = { .id = (char *)"junk" };
	char *err = NULL;
	char *f = xasprintf("%s/nope.ini", t->dir);
	assert_int_equal(paths_init(&p, f, &err), -1);
	char *want = xasprintf("%s: no such file; write a starter one with tend "
	                       "-c %s init, or give an existing file with -c FILE",
	                       f, f);
	assert_string_equal(err, want);
	assert_null(p.id);
	assert_null(p.config);
	free(want);
	free(err);
	free(f);

	err = NULL;
	f = xasprintf("%s/nodir/x.ini", t->dir);
	assert_int_equal(paths_init(&p, f, &err), -1);
	assert_non_null(strstr(err, ": no such file; write a starter one with "));
	free(err);
	free(f);
}

/* The user's own file is the default daemon's, ID "default", whether it
 * exists or not; any other file that does not exist is an error. */
static void test_init_default(void **state)
{
	struct tmp *t = *state;
	char *xdg = xasprintf("%s/xdg", t->dir);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	setenv("XDG_STATE_HOME", "/home/u/.st", 1);
	setenv("HOME", "/home/u", 1);
	char *user = paths_user_config();
	char *want = xasprintf("%s/tend/tend.ini", xdg);
	assert_string_equal(user, want);

	struct paths p;
	char *err = NULL;
	assert_int_equal(paths_init(&p, user, &err), 0);
	assert_string_equal(p.id, "default");
	assert_true(p.is_default);
	assert_true(p.no_file);
	assert_string_equal(p.config, user);
	assert_string_equal(p.statedir, "/home/u/.st/tend/default");
	assert_non_null(strstr(p.sock, "/default.sock"));
	paths_free(&p);

	/* once it exists: the same daemon, by its real path */
	char *made = touch(t->dir, "xdg/tend/tend.ini");
	assert_int_equal(paths_init(&p, user, &err), 0);
	assert_string_equal(p.id, "default");
	assert_true(p.is_default);
	assert_false(p.no_file);
	paths_free(&p);
	assert_int_equal(chdir(t->dir), 0);
	assert_int_equal(paths_init(&p, "xdg/tend/../tend/tend.ini", &err), 0);
	assert_string_equal(p.id, "default");
	paths_free(&p);
	unlink(made);

	/* another file that does not exist is still an error */
	char *other = xasprintf("%s/elsewhere.ini", t->dir);
	assert_int_equal(paths_init(&p, other, &err), -1);
	assert_non_null(strstr(err, ": no such file; "));
	free(err);
	err = NULL;
	/* without XDG_CONFIG_HOME: ~/.config/tend/tend.ini */
	unsetenv("XDG_CONFIG_HOME");
	free(user);
	user = paths_user_config();
	assert_string_equal(user, "/home/u/.config/tend/tend.ini");
	assert_int_equal(paths_init(&p, user, &err), 0);
	assert_string_equal(p.id, "default");
	paths_free(&p);
	free(other);
	free(made);
	free(want);
	free(user);
	free(xdg);
}

/* ---- paths_sockaddr ---- */

/* The lowest free fd now (to see that none leaked). */
static int next_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static void test_sockaddr_short(void **state)
{
	(void)state;
	struct sockaddr_un sa;
	int dirfd = 12345;
	const char *path = "/run/user/1000/tend/proj-1f3a9c0e.sock";
	socklen_t len = paths_sockaddr(path, &sa, &dirfd);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	assert_int_equal(sa.sun_family, AF_UNIX);
	assert_string_equal(sa.sun_path, path);
	assert_int_equal(dirfd, -1);

	/* The longest that fits: 107 bytes and the NUL. */
	char p107[108];
	memset(p107, 'x', 107);
	p107[0] = '/';
	p107[107] = 0;
	len = paths_sockaddr(p107, &sa, &dirfd);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 108);
	assert_int_equal(len, sizeof(struct sockaddr_un));
	assert_string_equal(sa.sun_path, p107);
	assert_int_equal(dirfd, -1);
}

/* A directory under T such that DIR/NAME is LEN bytes; returns the path. */
static char *long_path(const struct tmp *t, size_t len, const char *name)
{
	size_t pre = strlen(t->dir) + 1, nl = strlen(name);
	assert_true(len > pre + nl + 1);
	char *p = xmalloc(len + 1);
	memcpy(p, t->dir, pre - 1);
	p[pre - 1] = '/';
	memset(p + pre, 'd', len - pre - nl - 1);
	p[len - nl - 1] = 0;
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
	p[len - nl - 1] = '/';
	memcpy(p + len - nl, name, nl + 1);
	assert_int_equal(strlen(p), len);
	return p;
}

static void test_sockaddr_long(void **state)
{
	struct tmp *t = *state;
	for (size_t plen = 108; plen <= 250; plen += 142) {
		char *path = long_path(t, plen, "x.sock");
		struct sockaddr_un sa;
		int dirfd = -7;
		memset(&sa, 0xaa, sizeof(sa));
		socklen_t len = paths_sockaddr(path, &sa, &dirfd);
		assert_true(dirfd >= 0);
		char want[sizeof(sa.sun_path)];
		snprintf(want, sizeof(want), "/proc/self/fd/%d/x.sock", dirfd);
		assert_int_equal(sa.sun_family, AF_UNIX);
		assert_string_equal(sa.sun_path, want);
		assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) +
		                      strlen(want) + 1);

		/* DIRFD is the socket's directory. */
		struct stat a, b;
		char *dir = xstrdup(path);
		*strrchr(dir, '/') = 0;
		assert_int_equal(fstat(dirfd, &a), 0);
		assert_int_equal(stat(dir, &b), 0);
		assert_true(S_ISDIR(a.st_mode));
		assert_int_equal(a.st_ino, b.st_ino);
		assert_int_equal(a.st_dev, b.st_dev);
		assert_true(fcntl(dirfd, F_GETFD) & FD_CLOEXEC);

		/* And the address works: bind there, connect by a second one. */
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(s >= 0);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, len), 0);
		assert_int_equal(listen(s, 1), 0);
		assert_int_equal(lstat(path, &a), 0);
		assert_true(S_ISSOCK(a.st_mode));
		struct sockaddr_un sa2;
		int dirfd2;
		socklen_t len2 = paths_sockaddr(path, &sa2, &dirfd2);
		assert_true(dirfd2 >= 0);
		assert_int_not_equal(dirfd2, dirfd);
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(c >= 0);
		assert_int_equal(connect(c, (struct sockaddr *)&sa2, len2), 0);
		close(c);
		close(s);
		close(dirfd2);
		close(dirfd);
		free(dir);
		free(path);
	}
}

static void test_sockaddr_errors(void **state)
{
	struct tmp *t = *state;
	struct sockaddr_un sa;
	int dirfd = 99;
	int fd0 = next_fd();

	/* Too long and no '/' to split at. */
	char rel[200];
	memset(rel, 'r', sizeof(rel) - 1);
	rel[sizeof(rel) - 1] = 0;
	errno = 0;
	assert_int_equal(paths_sockaddr(rel, &sa, &dirfd), (socklen_t)-1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(dirfd, -1);

	/* Too long and its directory does not exist. */
	char *p = xasprintf("%s/%0150d/x.sock", t->dir, 0);
	dirfd = 99;
	errno = 0;
	assert_int_equal(paths_sockaddr(p, &sa, &dirfd), (socklen_t)-1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(dirfd, -1);
	free(p);

	/* The name alone is too long for /proc/self/fd/N/NAME. */
	char name[101];
	memset(name, 'n', 100);
	name[100] = 0;
	p = xasprintf("%s/%s", t->dir, name);
	dirfd = 99;
	errno = 0;
	assert_int_equal(paths_sockaddr(p, &sa, &dirfd), (socklen_t)-1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(dirfd, -1);
	free(p);

	/* ... in the root directory too. */
	char root[130];
	root[0] = '/';
	memset(root + 1, 'n', 128);
	root[129] = 0;
	dirfd = 99;
	errno = 0;
	assert_int_equal(paths_sockaddr(root, &sa, &dirfd), (socklen_t)-1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(dirfd, -1);

	assert_int_equal(next_fd(), fd0); /* nothing left open */
}

/* ---- paths_mkdir ---- */

static void assert_mode(const char *path, mode_t mode)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_true(S_ISDIR(st.st_mode));
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s: mode %o, want %o", path, (unsigned)(st.st_mode & 07777),
		         (unsigned)mode);
}

static void test_mkdir_nested(void **state)
{
	struct tmp *t = *state;
	char *a = xasprintf("%s/a", t->dir);
	char *ab = xasprintf("%s/a/b", t->dir);
	char *abc = xasprintf("%s/a/b/c", t->dir);
	char *err = NULL;
	assert_int_equal(paths_mkdir(abc, &err), 0);
	assert_null(err);
	assert_mode(a, 0700);
	assert_mode(ab, 0700);
	assert_mode(abc, 0700);
	/* Again: already there and fine. */
	assert_int_equal(paths_mkdir(abc, &err), 0);
	assert_int_equal(paths_mkdir(ab, &err), 0);
	assert_null(err);

	/* A trailing slash, and a relative path. */
	char *d = xasprintf("%s/a/b/d/", t->dir);
	assert_int_equal(paths_mkdir(d, &err), 0);
	assert_null(err);
	d[strlen(d) - 1] = 0;
	assert_mode(d, 0700);
	free(d);
	assert_int_equal(chdir(t->dir), 0);
	assert_int_equal(paths_mkdir("rel/x", &err), 0);
	assert_null(err);
	assert_mode("rel", 0700);
	assert_mode("rel/x", 0700);

	/* Empty components, "." and ".." on the way: each walked as it
	 * comes (b is made, then left for its parent). */
	char *dots = xasprintf("%s//m/./n/../o/", t->dir);
	assert_int_equal(paths_mkdir(dots, &err), 0);
	assert_null(err);
	free(dots);
	assert_mode("m/n", 0700);
	assert_mode("m/o", 0700);
	assert_int_equal(paths_mkdir("m/o/..", &err), 0);
	assert_int_equal(paths_mkdir("./m/./o/.", &err), 0);
	assert_null(err);

	/* An existing parent keeps its mode: only DIR must be private. */
	assert_int_equal(chmod(a, 0755), 0);
	char *e = xasprintf("%s/a/e", t->dir);
	assert_int_equal(paths_mkdir(e, &err), 0);
	assert_null(err);
	assert_mode(a, 0755);
	assert_mode(e, 0700);
	free(e);

	/* Many missing at once. */
	char *deep = xasprintf("%s/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", t->dir);
	assert_int_equal(paths_mkdir(deep, &err), 0);
	assert_null(err);
	assert_mode(deep, 0700);
	free(deep);

	/* Under umask 077 the same. */
	umask(077);
	char *u = xasprintf("%s/u/v", t->dir);
	assert_int_equal(paths_mkdir(u, &err), 0);
	assert_mode(u, 0700);
	free(u);

	free(a);
	free(ab);
	free(abc);
}

static void test_mkdir_refused(void **state)
{
	struct tmp *t = *state;
	char *err = NULL;

	/* Open to the group and others. */
	char *d = xasprintf("%s/open", t->dir);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(chmod(d, 0755), 0);
	assert_int_equal(paths_mkdir(d, &err), -1);
	char *want = xasprintf("%s is open to others (mode 755); run chmod 700 %s", d, d);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	assert_mode(d, 0755); /* not changed behind the user's back */

	assert_int_equal(chmod(d, 0701), 0);
	assert_int_equal(paths_mkdir(d, &err), -1);
	want = xasprintf("%s is open to others (mode 701); run chmod 700 %s", d, d);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	free(d);

	/* A regular file. */
	char *f = touch(t->dir, "file");
	assert_int_equal(paths_mkdir(f, &err), -1);
	want = xasprintf("%s is not a directory; remove it and try again", f);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;

	/* A regular file on the way. */
	char *under = xasprintf("%s/sub", f);
	assert_int_equal(paths_mkdir(under, &err), -1);
	want = xasprintf("cannot create directory %s: Not a directory", under);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	free(under);
	free(f);

	/* A symlink to a good directory. */
	char *good = xasprintf("%s/good", t->dir);
	char *link = xasprintf("%s/link", t->dir);
	assert_int_equal(mkdir(good, 0700), 0);
	assert_int_equal(symlink(good, link), 0);
	assert_int_equal(paths_mkdir(link, &err), -1);
	want = xasprintf("%s is a symbolic link: tend keeps its files only in a "
	                 "real directory; remove the link (rm %s) and try again",
	                 link, link);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;

	/* Writable by others. */
	char *w = xasprintf("%s/writable", t->dir);
	assert_int_equal(mkdir(w, 0700), 0);
	assert_int_equal(chmod(w, 0770), 0);
	assert_int_equal(paths_mkdir(w, &err), -1);
	want = xasprintf("%s is writable by group or others (mode 770): they "
	                 "could replace tend's files; run chmod 700 %s", w, w);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	free(w);

	/* Someone else's directory (needs root to make one). */
	if (geteuid() == 0 && chown(good, 65534, 65534) == 0) {
		int fd = paths_open_dir(good, true, "XDG_STATE_HOME", &err);
		assert_int_equal(fd, -1);
		want = xasprintf("%s belongs to uid 65534, not to you (uid 0): refusing "
		                 "to keep tend's files there; have it removed, or set "
		                 "XDG_STATE_HOME to a directory of your own", good);
		assert_string_equal(err, want);
		free(want);
		free(err);
		err = NULL;
	}
	free(good);
	free(link);
}

/* A directory is refused when one above it lets another user replace it,
 * and accepted below a sticky one (as /tmp is). */
static void test_mkdir_below(void **state)
{
	struct tmp *t = *state;
	char *err = NULL;
	char *up = xasprintf("%s/up", t->dir);
	char *d = xasprintf("%s/up/tend/x", t->dir);
	assert_int_equal(mkdir(up, 0700), 0);

	assert_int_equal(chmod(up, 0777), 0);
	assert_int_equal(paths_open_dir(d, true, "XDG_RUNTIME_DIR", &err), -1);
	assert_int_equal(errno, EPERM);
	char *want = xasprintf("%s is below %s, which group or others can write to "
	                       "(mode 777, not sticky): they could replace it; run "
	                       "chmod go-w %s, or set XDG_RUNTIME_DIR to a directory "
	                       "of your own", d, t->real_up, t->real_up);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;

	assert_int_equal(chmod(up, 01777), 0);
	int fd = paths_open_dir(d, true, NULL, &err);
	assert_true(fd >= 0);
	assert_null(err);
	struct stat a, b;
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(d, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* A symbolic link above is followed to its real directory, which is
	 * the one checked. */
	assert_int_equal(chmod(up, 0755), 0);
	char *alias = xasprintf("%s/alias", t->dir);
	assert_int_equal(symlink(up, alias), 0);
	char *via = xasprintf("%s/alias/tend/x", t->dir);
	assert_int_equal(paths_mkdir(via, &err), 0);
	assert_int_equal(chmod(up, 0777), 0);
	assert_int_equal(paths_mkdir(via, &err), -1);
	assert_non_null(strstr(err, "which group or others can write to"));
	free(err);
	err = NULL;
	assert_int_equal(chmod(up, 0755), 0);

	/* Another user's directory above (needs root to make one). */
	if (geteuid() == 0 && chown(up, 65534, 65534) == 0) {
		assert_int_equal(paths_mkdir(d, &err), -1);
		want = xasprintf("%s is below %s, which belongs to uid 65534: that user "
		                 "could replace it; refusing to use it; move it to a "
		                 "directory of your own", d, t->real_up);
		assert_string_equal(err, want);
		free(want);
		free(err);
		err = NULL;
		assert_int_equal(chown(up, 0, 0), 0);
	}

	/* Missing, and not to be created: ENOENT. */
	char *none = xasprintf("%s/none/x", t->dir);
	errno = 0;
	assert_int_equal(paths_open_dir(none, false, NULL, &err), -1);
	assert_int_equal(errno, ENOENT);
	free(err);
	err = NULL;
	struct stat st;
	assert_int_equal(lstat(none, &st), -1);
	free(none);
	free(alias);
	free(via);
	free(up);
	free(d);
}

/* The rule for a symbolic link on the way (pure): in a directory only its
 * owner can write to, any; in one others can write to (sticky, as /tmp),
 * only the user's or root's. */
static void test_link_safe(void **state)
{
	(void)state;
	struct { mode_t up; uid_t link; bool want; } cases[] = {
		{ 0755, 1000, true }, { 0755, 0, true }, { 0755, 65534, true },
		{ 0700, 65534, true },
		{ 01777, 1000, true }, { 01777, 0, true }, { 01777, 65534, false },
		{ 01770, 65534, false }, { 01757, 65534, false },
		{ 0775, 65534, false }, { 01777, 1001, false },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct stat up = { .st_mode = S_IFDIR | cases[i].up, .st_uid = 0 };
		struct stat ln = { .st_mode = S_IFLNK | 0777, .st_uid = cases[i].link };
		if (paths_link_safe(&up, &ln, 1000) != cases[i].want)
			fail_msg("case %zu: mode %o, link of uid %u: want %d", i,
			         (unsigned)cases[i].up, (unsigned)cases[i].link,
			         cases[i].want);
	}
}

/* The link count of DIR (2 + its subdirectories), -1 if there is none:
 * it grows when a directory is made in DIR. */
static int subdirs(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return -1;
	return (int)st.st_nlink;
}

/* Links on the way: followed when they are the user's (or root's), in a
 * directory others can write to too; a link of another user there is
 * refused before anything is made, wherever it leads. */
static void test_mkdir_links(void **state)
{
	struct tmp *t = *state;
	char *err = NULL;
	char *sticky = xasprintf("%s/sticky", t->dir);
	char *mine = xasprintf("%s/mine", t->dir);
	assert_int_equal(mkdir(sticky, 0700), 0);
	assert_int_equal(chmod(sticky, 01777), 0);
	assert_int_equal(mkdir(mine, 0700), 0);

	/* The user's own link in the sticky directory: followed. */
	char *own = xasprintf("%s/own", sticky);
	assert_int_equal(symlink(mine, own), 0);
	char *d = xasprintf("%s/own/state/tend/x", sticky);
	assert_int_equal(paths_mkdir(d, &err), 0);
	assert_null(err);
	char *made = xasprintf("%s/state/tend/x", mine);
	assert_mode(made, 0700);
	free(made);
	free(d);

	/* A relative link, with ".." in it, and a chain of two. */
	char *rel = xasprintf("%s/rel", sticky);
	assert_int_equal(symlink("../mine/./state", rel), 0);
	char *chain = xasprintf("%s/chain", sticky);
	assert_int_equal(symlink("rel", chain), 0);
	d = xasprintf("%s/chain/tend/y", sticky);
	assert_int_equal(paths_mkdir(d, &err), 0);
	assert_null(err);
	made = xasprintf("%s/state/tend/y", mine);
	assert_mode(made, 0700);
	free(made);
	free(d);

	/* A loop of links. */
	char *l1 = xasprintf("%s/l1", mine), *l2 = xasprintf("%s/l2", mine);
	assert_int_equal(symlink(l2, l1), 0);
	assert_int_equal(symlink(l1, l2), 0);
	d = xasprintf("%s/l1/z", mine);
	errno = 0;
	assert_int_equal(paths_open_dir(d, true, NULL, &err), -1);
	assert_int_equal(errno, ELOOP);
	char *want = xasprintf("cannot open directory %s: %s", d, strerror(ELOOP));
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	free(d);
	free(l1);
	free(l2);

	/* Not to be created: ENOENT through a link too. */
	d = xasprintf("%s/own/none/x", sticky);
	errno = 0;
	assert_int_equal(paths_open_dir(d, false, NULL, &err), -1);
	assert_int_equal(errno, ENOENT);
	want = xasprintf("%s does not exist", d);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	free(d);

	if (geteuid() != 0) {
		print_message("(not root: no link of another user to plant)\n");
	} else {
		/* Another user's link in the sticky directory, to a directory of
		 * the user's own (the harm: tend would create and write where
		 * that user chose) and to one of that user's. */
		char *theirs = xasprintf("%s/theirs", t->dir);
		assert_int_equal(mkdir(theirs, 0777), 0);
		assert_int_equal(chown(theirs, 65534, 65534), 0);
		const char *targets[] = { mine, theirs };
		for (size_t i = 0; i < ARRAY_LEN(targets); i++) {
			char *ln = xasprintf("%s/planted%zu", sticky, i);
			assert_int_equal(symlink(targets[i], ln), 0);
			assert_int_equal(lchown(ln, 65534, 65534), 0);
			int before = subdirs(targets[i]);
			d = xasprintf("%s/state/tend/x", ln);
			errno = 0;
			assert_int_equal(paths_open_dir(d, true, "XDG_STATE_HOME", &err), -1);
			assert_int_equal(errno, EPERM);
			char *real_sticky = xasprintf("%s/sticky", t->real);
			char *real_ln = xasprintf("%s/planted%zu", real_sticky, i);
			want = xasprintf("%s is refused: on the way to it, %s is a "
			                 "symbolic link of uid 65534 in %s, which others "
			                 "can write to (mode 1777): that user chooses "
			                 "where it leads; not following it; have the "
			                 "link removed, or set XDG_STATE_HOME to a "
			                 "directory of your own", d, real_ln, real_sticky);
			assert_string_equal(err, want);
			free(want);
			free(err);
			err = NULL;
			assert_int_equal(subdirs(targets[i]), before); /* nothing made */
			free(real_sticky);
			free(real_ln);
			free(d);
			free(ln);
		}
		/* ... and root's is followed. */
		char *roots = xasprintf("%s/roots", sticky);
		assert_int_equal(symlink(mine, roots), 0);
		assert_int_equal(lchown(roots, 0, 0), 0);
		d = xasprintf("%s/roots/tend/r", sticky);
		assert_int_equal(paths_mkdir(d, &err), 0);
		assert_null(err);
		free(d);
		free(roots);

		/* Another user's directory in the sticky one: refused before
		 * anything is made in it. */
		char *dir = xasprintf("%s/dir", sticky);
		assert_int_equal(mkdir(dir, 0777), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
		d = xasprintf("%s/tend/x", dir);
		assert_int_equal(paths_mkdir(d, &err), -1);
		assert_non_null(strstr(err, "which belongs to uid 65534"));
		free(err);
		err = NULL;
		assert_int_equal(subdirs(dir), 2);
		free(d);
		free(dir);
		free(theirs);
	}
	free(chain);
	free(rel);
	free(own);
	free(sticky);
	free(mine);
}

/* ---- paths_lock ---- */

/* paths for T/proj/tend.ini with the run directory under T. */
static void lock_paths(const struct tmp *t, struct paths *p)
{
	char *cfg = touch(t->dir, "proj/tend.ini");
	char *run = xasprintf("%s/run", t->dir);
	setenv("XDG_RUNTIME_DIR", run, 1);
	char *err = NULL;
	assert_int_equal(paths_init(p, cfg, &err), 0);
	assert_int_equal(paths_mkdir(p->rundir, &err), 0);
	assert_null(err);
	free(run);
	free(cfg);
}

struct try { int fd, err; pid_t holder; };

/* In a child: one paths_lock, its result written to FD. */
static void child_try(struct paths *p, int fd)
{
	struct try r;
	r.fd = paths_lock(p, &r.holder);
	r.err = errno;
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

static struct try read_try(int fd)
{
	struct try r;
	assert_int_equal(read(fd, &r, sizeof(r)), sizeof(r));
	return r;
}

static int wait_status(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static char *pid_line(pid_t pid)
{
	return xasprintf("%d\n", (int)pid);
}

static void test_lock_held(void **state)
{
	struct tmp *t = *state;
	struct paths p;
	lock_paths(t, &p);

	pid_t holder = 777;
	int fd = paths_lock(&p, &holder);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	char *got = read_fd(fd), *want = pid_line(getpid());
	assert_string_equal(got, want);
	free(got);
	free(want);
	struct stat st;
	assert_int_equal(lstat(p.lock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* A second process cannot take it, and is told who holds it. */
	int pp[2];
	assert_int_equal(pipe(pp), 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		close(pp[0]);
		child_try(&p, pp[1]);
		_exit(0);
	}
	close(pp[1]);
	struct try r = read_try(pp[0]);
	close(pp[0]);
	assert_int_equal(wait_status(c), 0);
	assert_int_equal(r.fd, -1);
	assert_int_equal(r.holder, getpid());
	assert_true(r.err == EAGAIN || r.err == EACCES);
	/* The failed attempt did not clobber the pid in the file. */
	got = read_fd(fd);
	want = pid_line(getpid());
	assert_string_equal(got, want);
	free(got);
	free(want);

	/* Closed: the next process gets it. */
	close(fd);
	assert_int_equal(pipe(pp), 0);
	c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		close(pp[0]);
		child_try(&p, pp[1]);
		_exit(0);
	}
	close(pp[1]);
	r = read_try(pp[0]);
	close(pp[0]);
	assert_int_equal(wait_status(c), 0);
	assert_true(r.fd >= 0);
	got = read_file(p.lock);
	want = pid_line(c);
	assert_string_equal(got, want);
	free(got);
	free(want);

	paths_free(&p);
}

/* A child takes the lock and holds it until told to go (exit) or killed;
 * the parent cannot have it meanwhile, and can right after. */
static void holder_dies(const struct tmp *t, bool kill_it)
{
	struct paths p;
	lock_paths(t, &p);
	int res[2], go[2];
	assert_int_equal(pipe(res), 0);
	assert_int_equal(pipe(go), 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		close(res[0]);
		close(go[1]);
		child_try(&p, res[1]);
		char b;
		if (read(go[0], &b, 1) < 0)
			_exit(4);
		_exit(0); /* the lock fd still open: the kernel drops the lock */
	}
	close(res[1]);
	close(go[0]);
	struct try r = read_try(res[0]);
	close(res[0]);
	assert_true(r.fd >= 0);

	pid_t holder = 0;
	errno = 0;
	assert_int_equal(paths_lock(&p, &holder), -1);
	assert_int_equal(holder, c);
	assert_true(errno == EAGAIN || errno == EACCES);
	char *got = read_file(p.lock), *want = pid_line(c);
	assert_string_equal(got, want);
	free(got);
	free(want);

	if (kill_it) {
		assert_int_equal(kill(c, SIGKILL), 0);
		int st = wait_status(c);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGKILL);
	} else {
		assert_int_equal(write(go[1], "x", 1), 1);
		assert_int_equal(wait_status(c), 0);
	}
	close(go[1]);

	holder = 777;
	int fd = paths_lock(&p, &holder);
	assert_true(fd >= 0);
	got = read_fd(fd);
	want = pid_line(getpid());
	assert_string_equal(got, want); /* the stale pid was replaced */
	free(got);
	free(want);
	close(fd);
	paths_free(&p);
}

static void test_lock_released_on_exit(void **state)
{
	holder_dies(*state, false);
}

static void test_lock_released_on_kill(void **state)
{
	holder_dies(*state, true);
}

static void test_lock_errors(void **state)
{
	struct tmp *t = *state;
	struct paths p;
	char *cfg = touch(t->dir, "proj/tend.ini");
	char *run = xasprintf("%s/missing", t->dir);
	setenv("XDG_RUNTIME_DIR", run, 1);
	char *err = NULL;
	assert_int_equal(paths_init(&p, cfg, &err), 0);

	/* No run directory. */
	pid_t holder = 777;
	errno = 0;
	assert_int_equal(paths_lock(&p, &holder), -1);
	assert_int_equal(holder, -1);
	assert_int_equal(errno, ENOENT);

	/* The lock file is a symlink: not followed. */
	assert_int_equal(paths_mkdir(p.rundir, &err), 0);
	char *target = xasprintf("%s/target", t->dir);
	assert_int_equal(symlink(target, p.lock), 0);
	holder = 777;
	errno = 0;
	assert_int_equal(paths_lock(&p, &holder), -1);
	assert_int_equal(holder, -1);
	assert_int_equal(errno, ELOOP);
	struct stat st;
	assert_int_equal(lstat(target, &st), -1); /* not created */

	free(target);
	paths_free(&p);
	free(run);
	free(cfg);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fnv_reference),
		T(test_init_xdg),
		T(test_init_fallbacks),
		cmocka_unit_test(test_pick_rundir),
		T(test_id_stable),
		T(test_id_distinct),
		T(test_id_label),
		T(test_label_root),
		T(test_fnv_basis),
		T(test_init_missing),
		T(test_init_default),
		T(test_sockaddr_short),
		T(test_sockaddr_long),
		T(test_sockaddr_errors),
		T(test_mkdir_nested),
		T(test_mkdir_refused),
		T(test_mkdir_below),
		cmocka_unit_test(test_link_safe),
		T(test_mkdir_links),
		T(test_lock_held),
		T(test_lock_released_on_exit),
		T(test_lock_released_on_kill),
		T(test_lock_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
