/* Unit tests for zeroconf.c: the sharing key of tend connect -- CMD, the
 * names made from commands, the program lookup and the unit built from a
 * request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"
#include "zeroconf.h"

#define V(...) ((char *[]){ __VA_ARGS__, NULL })

static const struct strv none;

static struct strv globs(char **v)
{
	struct strv sv = { 0 };
	for (size_t i = 0; v[i]; i++)
		strv_push(&sv, xstrdup(v[i]));
	return sv;
}

/* ---- which variables decide ---- */

static void test_per_terminal(void **state)
{
	(void)state;
	const char *const yes[] = { "TERM_SESSION_ID", "WINDOWID", "SHLVL", "PWD",
	                            "OLDPWD", "_", "TMUX_PANE", "SSH_TTY", "TERM" };
	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		assert_true(zc_per_terminal(yes[i]));
	const char *const no[] = { "API_TOKEN", "PATH", "HOME", "DISPLAY",
	                           "SSH_AUTH_SOCK", "TERMINAL", "PWD2", "" };
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		assert_false(zc_per_terminal(no[i]));
}

static void test_env_compared(void **state)
{
	(void)state;
	struct strv ign = globs(V("LC_*", "NOISE"));
	struct strv req = globs(V("API_*", "PATH", "LC_ALL"));
	assert_true(zc_env_compared("API_TOKEN", &none, &none));
	assert_false(zc_env_compared("WINDOWID", &none, &none));
	assert_false(zc_env_compared("LC_ALL", &ign, &none));
	assert_false(zc_env_compared("NOISE", &ign, &none));
	assert_true(zc_env_compared("NOISE2", &ign, &none));
	/* require: only those; ignore still wins; per-terminal ones can be
	 * named */
	assert_true(zc_env_compared("API_TOKEN", &none, &req));
	assert_false(zc_env_compared("HOME", &none, &req));
	assert_false(zc_env_compared("LC_ALL", &ign, &req));
	struct strv term = globs(V("WINDOWID"));
	assert_true(zc_env_compared("WINDOWID", &none, &term));
	strv_free(&ign);
	strv_free(&req);
	strv_free(&term);
}

static void test_client_env(void **state)
{
	(void)state;
	struct strv out = { 0 };
	zc_client_env(V("A=1", "TEND_UNIT=x", "TEND_RUN=TEND_RUN=1", "NOTIFY_SOCKET=/s",
	                "WATCHDOG_USEC=5", "LISTEN_FDS=1", "LISTEN_PID=2",
	                "LISTEN_FDNAMES=a", "=bad", "noequal", "A=2", "B=", "TEND_E=ok"),
	              &out);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.v[0], "A=1");   /* the first, as getenv */
	assert_string_equal(out.v[1], "B=");
	assert_string_equal(out.v[2], "TEND_E=ok");
	strv_free(&out);
	zc_client_env(NULL, &out);
	assert_int_equal(out.n, 0);
}

/* ---- the key ---- */

static char *key(const char *settings, char **env)
{
	return zc_key(settings, env, &none, &none);
}

static void test_key(void **state)
{
	(void)state;
	char *a = key("S", V("HOME=/h", "API_TOKEN=1", "WINDOWID=7", "SHLVL=1"));
	/* order and per-terminal variables do not matter */
	char *b = key("S", V("SHLVL=3", "API_TOKEN=1", "TERM_SESSION_ID=w0", "HOME=/h",
	                     "_=/usr/bin/tend", "PWD=/elsewhere"));
	assert_string_equal(a, b);
	/* a secret does */
	char *c = key("S", V("HOME=/h", "API_TOKEN=2"));
	assert_string_not_equal(a, c);
	/* a variable more or less does, even empty */
	char *d = key("S", V("HOME=/h", "API_TOKEN=1", "X="));
	assert_string_not_equal(a, d);
	/* the settings do */
	char *e = key("T", V("HOME=/h", "API_TOKEN=1"));
	assert_string_not_equal(a, e);
	/* no separator can be forged: A=1 + B=2 is not A=1B=2 or A=1\nB=2 */
	char *f = key("S", V("A=1", "B=2"));
	char *g = key("S", V("A=1B=2"));
	char *h = key("S", V("A=1\nE3:B=2"));
	assert_string_not_equal(f, g);
	assert_string_not_equal(f, h);
	char *i = key("SE3:A=1", V(NULL));
	char *j = key("S", V("A=1"));
	assert_string_not_equal(i, j);
	char *m[] = { a, b, c, d, e, f, g, h, i, j };
	for (size_t k = 0; k < ARRAY_LEN(m); k++)
		free(m[k]);
}

static void test_key_ignore_require(void **state)
{
	(void)state;
	struct strv ign = globs(V("SESSION_*"));
	char *a = zc_key("S", V("T=1", "SESSION_ID=a"), &ign, &none);
	char *b = zc_key("S", V("T=1", "SESSION_ID=b"), &ign, &none);
	assert_string_equal(a, b);
	struct strv req = globs(V("T"));
	char *c = zc_key("S", V("T=1", "OTHER=a"), &none, &req);
	char *d = zc_key("S", V("T=1", "OTHER=b", "MORE=x"), &none, &req);
	char *e = zc_key("S", V("T=2", "OTHER=a"), &none, &req);
	assert_string_equal(c, d);
	assert_string_not_equal(c, e);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	strv_free(&ign);
	strv_free(&req);
}

/* ---- names ---- */

static void name_is(char **argv, const char *want)
{
	char *n = zc_name_base(argv);
	if (strcmp(n, want) != 0)
		fail_msg("zc_name_base(%s ...): got \"%s\", want \"%s\"", argv[0], n,
		         want);
	free(n);
}

static void test_name_base(void **state)
{
	(void)state;
	name_is(V("npx", "-y", "@modelcontextprotocol/server-memory"), "server-memory");
	name_is(V("npx", "-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/x"),
	        "server-filesystem");
	name_is(V("/usr/bin/npx", "--yes", "-p", "@scope/pkg", "bin-name"), "bin-name");
	name_is(V("npm", "exec", "--", "some-server"), "some-server");
	name_is(V("pnpm", "dlx", "@a/b"), "b");
	name_is(V("uvx", "mcp-server-fetch"), "mcp-server-fetch");
	name_is(V("uvx", "mcp-server-git==1.2", "--repository", "."), "mcp-server-git");
	name_is(V("uv", "run", "--directory", "/x/weather", "weather.py"), "weather.py");
	name_is(V("python3", "/srv/tools/server.py"), "server.py");
	name_is(V("python3.12", "-u", "server.py"), "server.py");
	name_is(V("python", "-m", "mcp_server_time", "--tz", "UTC"), "mcp_server_time");
	name_is(V("node", "/n/node_modules/@modelcontextprotocol/server-memory/dist/index.js"),
	        "server-memory");
	name_is(V("node", "/home/u/mcp/weather/build/index.js"), "weather");
	name_is(V("docker", "run", "-i", "--rm", "-e", "GITHUB_TOKEN",
	          "ghcr.io/github/github-mcp-server:latest"), "github-mcp-server");
	name_is(V("docker", "run", "-i", "mcp/fetch@sha256:abc"), "fetch");
	name_is(V("java", "-jar", "/opt/srv/mcp.jar"), "mcp.jar");
	name_is(V("/opt/bin/my-server", "--port", "1"), "my-server");
	name_is(V("./tool"), "tool");
	/* a launcher with nothing after it names itself */
	name_is(V("npx"), "npx");
	name_is(V("python3", "-c", "print(1)"), "python3");
	name_is(V("sh", "-c", "exec npx x"), "sh");
	name_is(V("bash", "/x/run.sh"), "run.sh");
	name_is(V("docker", "run", "-m", "512m", "-u", "1000", "img"), "img");
	/* made valid: other bytes become "-", at most ZC_NAME_MAX */
	name_is(V("my server (v2)!"), "my-server-v2");
	name_is(V("caf\xc3\xa9"), "caf");
	name_is(V("..."), "connect");
	name_is(V("/"), "connect");
	char *lng = xcalloc(1, 200);
	memset(lng, 'a', 199);
	char *n = zc_name_base(V(lng));
	assert_int_equal(strlen(n), ZC_NAME_MAX);
	free(n);
	free(lng);
}

static bool taken_in(void *ctx, const char *name)
{
	for (char **v = ctx; *v; v++)
		if (strcmp(*v, name) == 0)
			return true;
	return false;
}

static void test_name_suffix(void **state)
{
	(void)state;
	char *n = zc_name("server-memory", "K1", taken_in, V("other"));
	assert_string_equal(n, "server-memory");
	free(n);
	/* taken: a short hash of the key, the same for the same key */
	char *a = zc_name("server-memory", "K1", taken_in, V("server-memory"));
	char *b = zc_name("server-memory", "K1", taken_in, V("server-memory"));
	char *c = zc_name("server-memory", "K2", taken_in, V("server-memory"));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), strlen("server-memory-") + 4);
	assert_memory_equal(a, "server-memory-", 14);
	/* that taken too: 8 digits, then a counter */
	char *d = zc_name("server-memory", "K1", taken_in, V("server-memory", a));
	assert_int_equal(strlen(d), strlen("server-memory-") + 8);
	char *e = zc_name("server-memory", "K1", taken_in, V("server-memory", a, d));
	char *want = xasprintf("%s-2", d);
	assert_string_equal(e, want);
	/* the daemon's own names are never a unit's */
	char *t = zc_name("tend", "K1", taken_in, V(NULL));
	char *ev = zc_name("events", "K1", taken_in, V(NULL));
	assert_string_not_equal(t, "tend");
	assert_string_not_equal(ev, "events");
	char *m[] = { a, b, c, d, e, want, t, ev };
	for (size_t k = 0; k < ARRAY_LEN(m); k++)
		free(m[k]);
}

/* ---- the program ---- */

static void test_which(void **state)
{
	(void)state;
	char *why = NULL;
	assert_int_equal(zc_which("sh", "/nonexistent:/bin", "/", &why), 0);
	assert_int_equal(zc_which("/bin/sh", "", "/", &why), 0);
	assert_int_equal(zc_which("/bin/sh", "", "/tmp", &why), 0);
	assert_int_equal(zc_which("../bin/sh", "", "/tmp", &why), 0);
	assert_int_equal(zc_which("bin/sh", NULL, "/", &why), 0);   /* from CWD */
	assert_int_equal(zc_which("sh", NULL, "/", &why), 0);        /* default PATH */
	assert_int_equal(zc_which("sh", "bin", "/", &why), 0);       /* relative entry */
	assert_int_equal(zc_which("no-such-cmd-zc", "/bin:/usr/bin", "/", &why), -1);
	assert_string_equal(why, "command \"no-such-cmd-zc\" not found in PATH "
	                    "(/bin:/usr/bin)");
	free(why);
	assert_int_equal(zc_which("sh", "/nonexistent", "/", &why), -1);
	free(why);
	char tmp[] = "/tmp/zc-which-XXXXXX";
	int fd = mkstemp(tmp);   /* mode 0600: not executable */
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(zc_which(tmp, NULL, "/", &why), -1);
	assert_non_null(strstr(why, "cannot run \"/tmp/zc-which-"));
	free(why);
	unlink(tmp);
	assert_int_equal(zc_which("/bin", NULL, "/", &why), -1);            /* a directory */
	free(why);
	assert_int_equal(zc_which("", NULL, "/", &why), -1);
	free(why);
}

/* ---- the unit ---- */

static struct unit_config *build(char **argv, char **env, char **set,
                                 size_t nset, char **err)
{
	struct zc_request r = { .argv = argv, .cwd = "/tmp", .env = env,
	                        .set = set, .nset = nset };
	return zc_build(&r, err);
}

static void test_build(void **state)
{
	(void)state;
	char *err = NULL;
	struct unit_config *u = build(V("sh", "-c", "x"), V("PATH=/bin", "API_TOKEN=1",
	                              "TEND_RUN=TEND_RUN=x", "WINDOWID=1"), NULL, 0, &err);
	assert_non_null(u);
	assert_null(err);
	assert_int_equal(u->stdio, STDIO_MCP);
	assert_int_equal(u->start, START_ON_DEMAND);
	assert_int_equal(u->idle_stop_ms, CONFIG_CONNECT_IDLE_STOP_MS);
	assert_string_equal(u->cwd, "/tmp");
	assert_int_equal(u->client_env.n, 3);   /* without TEND_RUN */
	assert_non_null(u->connect_key);
	/* the same client in another terminal: the same key */
	struct unit_config *v = build(V("sh", "-c", "x"), V("WINDOWID=2", "API_TOKEN=1",
	                              "PATH=/bin"), NULL, 0, &err);
	assert_string_equal(u->connect_key, v->connect_key);
	config_unit_free(v);
	/* another secret, another flag, another argument: another key */
	v = build(V("sh", "-c", "x"), V("PATH=/bin", "API_TOKEN=2"), NULL, 0, &err);
	assert_string_not_equal(u->connect_key, v->connect_key);
	config_unit_free(v);
	v = build(V("sh", "-c", "x"), V("PATH=/bin", "API_TOKEN=1"),
	          V("memory-max", "300M"), 1, &err);
	assert_non_null(v);
	assert_int_equal(v->memory_max, 300u << 20);
	assert_string_not_equal(u->connect_key, v->connect_key);
	config_unit_free(v);
	v = build(V("sh", "-c", "y"), V("PATH=/bin", "API_TOKEN=1"), NULL, 0, &err);
	assert_string_not_equal(u->connect_key, v->connect_key);
	config_unit_free(v);
	/* the key never holds what it need not: the order of variables */
	v = build(V("sh", "-c", "x"), V("API_TOKEN=1", "PATH=/bin"),
	          V("env-ignore", "API_*"), 1, &err);
	struct unit_config *w = build(V("sh", "-c", "x"), V("API_TOKEN=9", "PATH=/bin"),
	                              V("env-ignore", "API_*"), 1, &err);
	assert_string_equal(v->connect_key, w->connect_key);
	assert_string_equal(w->client_env.v[0], "API_TOKEN=9");   /* still passed on */
	config_unit_free(v);
	config_unit_free(w);
	config_unit_free(u);

	/* ${VAR} in a flag sees the client's environment, not tend's */
	u = build(V("sh"), V("PATH=/bin", "ZC_ONLY_CLIENT=yes"),
	          V("env", "X=${ZC_ONLY_CLIENT}", "idle-stop", "1s", "cwd", "sub"), 3, &err);
	assert_null(u);   /* /tmp/sub does not exist */
	free(err);
	assert_int_equal(mkdir("/tmp/zc-sub-test", 0700) == 0 || errno == EEXIST, 1);
	u = build(V("sh"), V("PATH=/bin", "ZC_ONLY_CLIENT=yes"),
	          V("env", "X=${ZC_ONLY_CLIENT}", "idle-stop", "1s", "cwd",
	            "zc-sub-test"), 3, &err);
	assert_non_null(u);
	assert_string_equal(u->env.v[0], "X=yes");
	assert_int_equal(u->idle_stop_ms, 1000);
	assert_string_equal(u->cwd, "/tmp/zc-sub-test");   /* relative to the client's */
	rmdir("/tmp/zc-sub-test");
	config_unit_free(u);
}

static void bad(char **argv, char **env, char **set, size_t nset,
                const char *want)
{
	char *err = NULL;
	struct unit_config *u = build(argv, env, set, nset, &err);
	assert_null(u);
	if (strcmp(err, want) != 0)
		fail_msg("got  \"%s\"\nwant \"%s\"", err, want);
	free(err);
}

static void test_build_errors(void **state)
{
	(void)state;
	bad(V("no-such-cmd-zc"), V("PATH=/bin"), NULL, 0,
	    "connect: command \"no-such-cmd-zc\" not found in PATH (/bin); give the "
	    "full path of the command, or fix PATH");
	/* the client's PATH, not tend's */
	bad(V("sh"), V("PATH=/nonexistent"), NULL, 0,
	    "connect: command \"sh\" not found in PATH (/nonexistent); give the "
	    "full path of the command, or fix PATH");
	bad(V("sh"), V("PATH=/bin"), V("nope", "1"), 1,
	    "connect: unknown flag --nope; see tend connect --help");
	bad(V("sh"), V("PATH=/bin"), V("listen", "tcp:127.0.0.1:1"), 1,
	    "connect: --listen does not apply to tend connect -- CMD (its service "
	    "is an MCP server on stdio, started on demand); put the service in "
	    "tend.ini for that");
	bad(V("sh"), V("PATH=/bin"), V("exec", "x"), 1,
	    "connect: the command comes after \"--\", not from --exec");
	bad(V("sh"), V("PATH=/bin"), V("memory-max", "lots"), 1,
	    "connect: memory-max = lots: expected a size like 512K, 300M or 2G");
	bad(V("sh"), V("PATH=/bin"), V("idle-stop", "1s", "idle-stop", "2s"), 2,
	    "connect: key \"idle-stop\" is set twice (first at line -1); keep one");
	bad(V("sh"), V("PATH=/bin"), V("cwd", "/nonexistent-zc"), 1,
	    "connect: working directory /nonexistent-zc: No such file or directory");
	bad(V("sh"), V("PATH=/bin"), V("cwd", "/bin/sh"), 1,
	    "connect: working directory /bin/sh: not a directory");
	bad(V(""), V("PATH=/bin"), NULL, 0,
	    "connect: no command given; usage: tend connect [--KEY VALUE ...] -- "
	    "CMD [ARG ...]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_terminal),
		cmocka_unit_test(test_env_compared),
		cmocka_unit_test(test_client_env),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_key_ignore_require),
		cmocka_unit_test(test_name_base),
		cmocka_unit_test(test_name_suffix),
		cmocka_unit_test(test_which),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
