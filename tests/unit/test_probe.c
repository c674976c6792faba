/* Unit tests for probe.c: the spec syntax, the HTTP status line, and real
 * checks driven by a real loop against servers living in the same loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "paths.h"
#include "probe.h"
#include "util.h"

extern char **environ;

/* ---- probe_parse ---- */

static void parse_ok(const char *text, struct probe_spec *spec)
{
	char *why = NULL;
	if (probe_parse(text, NULL, spec, &why) != 0)
		fail_msg("probe_parse(\"%s\") failed: %s", text, why);
	assert_null(why);
}

static void parse_bad(const char *text, const char *needle)
{
	struct probe_spec spec;
	char *why = NULL;
	if (probe_parse(text, NULL, &spec, &why) == 0)
		fail_msg("probe_parse(\"%s\") succeeded", text);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("probe_parse(\"%s\"): \"%s\" lacks \"%s\"", text, why, needle);
	assert_null(strchr(why, '\n'));
	free(why);
	probe_spec_free(&spec);   /* nothing to free, but allowed */
}

static const char *fake_lookup(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "PORT") == 0 ? "8080" : NULL;
}

static void test_parse_exec(void **state)
{
	(void)state;
	struct probe_spec s;
	parse_ok("exec:curl -fsS 'http://x/a b'", &s);
	assert_int_equal(s.kind, PROBE_EXEC);
	assert_int_equal(s.argv.n, 3);
	assert_string_equal(s.argv.v[0], "curl");
	assert_string_equal(s.argv.v[2], "http://x/a b");
	assert_null(s.argv.v[3]);
	probe_spec_free(&s);

	/* ~ and ${VAR} as in exec = */
	struct words_env env = { .lookup = fake_lookup, .home = "/home/t" };
	char *why = NULL;
	assert_int_equal(probe_parse("exec:~/bin/check ${PORT} ${NONE:-x}", &env,
	                             &s, &why), 0);
	assert_int_equal(s.argv.n, 3);
	assert_string_equal(s.argv.v[0], "/home/t/bin/check");
	assert_string_equal(s.argv.v[1], "8080");
	assert_string_equal(s.argv.v[2], "x");
	probe_spec_free(&s);

	parse_bad("exec:", "the command is empty");
	parse_bad("exec:   ", "the command is empty");
	parse_bad("exec:echo 'oops", "unterminated");
}

static void test_parse_addrs(void **state)
{
	(void)state;
	struct probe_spec s;
	parse_ok("tcp:127.0.0.1:8080", &s);
	assert_int_equal(s.kind, PROBE_TCP);
	assert_int_equal(s.addr.family, AF_INET);
	assert_string_equal(s.addr.text, "127.0.0.1:8080");
	probe_spec_free(&s);
	parse_ok("unix:/run/x.sock", &s);
	assert_int_equal(s.kind, PROBE_UNIX);
	assert_int_equal(s.addr.family, AF_UNIX);
	probe_spec_free(&s);
	parse_ok("tcp:[::1]:80", &s);
	assert_int_equal(s.addr.family, AF_INET6);
	probe_spec_free(&s);

	parse_bad("tcp:example.com:80", "write an IP address");
	parse_bad("tcp:127.0.0.1:0", "expected 1..65535");
	parse_bad("unix:x.sock", "absolute");
}

static void test_parse_http(void **state)
{
	(void)state;
	struct probe_spec s;
	parse_ok("http://127.0.0.1:18000/api/v1/heartbeat?x=1", &s);
	assert_int_equal(s.kind, PROBE_HTTP);
	assert_string_equal(s.host, "127.0.0.1:18000");
	assert_string_equal(s.path, "/api/v1/heartbeat?x=1");
	assert_int_equal(ntohs(((struct sockaddr_in *)&s.addr.sa)->sin_port), 18000);
	probe_spec_free(&s);
	parse_ok("http://localhost:80", &s);
	assert_string_equal(s.host, "localhost:80");
	assert_string_equal(s.path, "/");
	probe_spec_free(&s);
	parse_ok("http://[::1]:8080/", &s);
	assert_int_equal(s.addr.family, AF_INET6);
	assert_string_equal(s.host, "[::1]:8080");
	assert_string_equal(s.path, "/");
	probe_spec_free(&s);

	parse_bad("http://example.com:80/", "tend never resolves names");
	parse_bad("http://127.0.0.1/health", "expected HOST:PORT");
	parse_bad("http://127.0.0.1:99999/", "expected 1..65535");
	parse_bad("http://127.0.0.1:80/a b", "percent-encode");
	parse_bad("http://:80/", "host is missing");
	parse_bad("https://127.0.0.1:443/", "https is not supported");
}

static void test_parse_bad_kind(void **state)
{
	(void)state;
	const char *exp = "expected exec:CMD, tcp:HOST:PORT, unix:PATH or "
	                  "http://HOST:PORT/PATH";
	parse_bad("ftp://x", exp);
	parse_bad("", exp);
	parse_bad("127.0.0.1:80", exp);
	parse_bad("curl http://x", exp);
	parse_bad("EXEC:true", exp);
}

/* ---- probe_http_status ---- */

static int st(const char *s)
{
	return probe_http_status(s, strlen(s));
}

static void test_http_status(void **state)
{
	(void)state;
	assert_int_equal(st("HTTP/1.1 200 OK\r\n"), 200);
	assert_int_equal(st("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), 200);
	assert_int_equal(st("HTTP/1.1 503 Service Unavailable\r\n"), 503);
	assert_int_equal(st("HTTP/1.1 199 Odd\r\n"), 199);
	assert_int_equal(st("HTTP/1.1 299 x\n"), 299);   /* bare LF */
	assert_int_equal(st("HTTP/1.1 300 Multiple Choices\r\n"), 300);
	assert_int_equal(st("HTTP/1.1 204\r\n"), 204);   /* no reason phrase */
	assert_int_equal(st("HTTP/1.1 200 \r\n"), 200);

	/* incomplete: every prefix of a good line asks for more */
	const char *good = "HTTP/1.1 200 OK\r\n";
	for (size_t n = 0; n < strlen(good); n++)
		if (probe_http_status(good, n) != 0)
			fail_msg("prefix of %zu bytes: %d", n, probe_http_status(good, n));
	assert_int_equal(st("HTTP/1.1 200 OK"), 0);
	assert_int_equal(st("HTTP/1.1 200 OK\r"), 0);

	/* garbage, and a bad byte is seen as soon as it comes */
	assert_int_equal(st("SSH-2.0-OpenSSH_9.2\r\n"), -1);
	assert_int_equal(st("S"), -1);
	assert_int_equal(st("HTTX"), -1);
	assert_int_equal(st("http/1.1 200 OK\r\n"), -1);
	assert_int_equal(st("HTTP/1.1 2x0 OK\r\n"), -1);
	assert_int_equal(st("HTTP/1.1  200 OK\r\n"), -1);
	assert_int_equal(st("HTTP/1.1 2000 OK\r\n"), -1);
	assert_int_equal(st("HTTP/1.1 099 OK\r\n"), -1);
	assert_int_equal(st("HTTP/1.1 600 OK\r\n"), -1);
	assert_int_equal(st("HTTP/1.1 200\rX"), -1);
	assert_int_equal(st("<html>\r\n"), -1);
	assert_int_equal(probe_http_status("HTTP/1.1 200 OK\r\n", 0), 0);
	assert_int_equal(probe_http_status("\0TTP/1.1 200 OK\r\n", 17), -1);
}

/* ---- real checks in a real loop ---- */

struct result {
	int calls;
	bool ok;
	char *detail;
};

struct fx {
	struct loop *lp;
	struct probe p;
	struct result res;
	bool in_start;            /* set around probe_start */
	struct loop_timer guard;  /* a hung test fails instead of hanging */
	bool guard_fired;
	int nfds;                 /* open fds before the test */
	char dir[64];
};

static struct fx *the_fx;

static void on_sigchld(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct fx *f = data;
	pid_t pid;
	int ws;
	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
		probe_reaped(&f->p, pid, ws);
}

static void on_done(void *data, bool ok, const char *detail)
{
	struct fx *f = data;
	if (f->in_start)
		fail_msg("FN called from inside probe_start: %s", detail);
	f->res.calls++;
	f->res.ok = ok;
	free(f->res.detail);
	f->res.detail = xstrdup(detail);
	for (const char *c = detail; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			fail_msg("control character in \"%s\"", detail);
	loop_stop(f->lp);
}

static void on_guard(struct loop *lp, struct loop_timer *t)
{
	struct fx *f = t->data;
	f->guard_fired = true;
	loop_stop(lp);
}

static int fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	f->nfds = fd_count();
	strcpy(f->dir, "/tmp/tend-probe-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->lp = loop_new();
	if (!f->lp || loop_signal(f->lp, SIGCHLD, on_sigchld, f) < 0)
		return -1;
	the_fx = f;
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *w)
{
	(void)sb;
	(void)w;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	probe_cancel(&f->p);
	loop_free(f->lp);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->res.detail);
	int leaked = fd_count() - f->nfds;
	free(f);
	the_fx = NULL;
	if (leaked) {
		fprintf(stderr, "%d file descriptors leaked\n", leaked);
		return -1;
	}
	return 0;
}

/* Runs one check of TEXT and the loop until it reports (or 5 s pass). */
static void run_check(struct fx *f, const char *text, uint64_t timeout_ms,
                      const char *cwd)
{
	struct probe_spec spec;
	parse_ok(text, &spec);
	f->res.calls = 0;
	f->in_start = true;
	probe_start(&f->p, f->lp, &spec, timeout_ms, environ, cwd, on_done, f);
	f->in_start = false;
	probe_spec_free(&spec);   /* the spec is only read by probe_start */
	assert_int_equal(f->res.calls, 0);
	assert_true(probe_running(&f->p));
	loop_timer_start(f->lp, &f->guard, 5000, on_guard, f);
	assert_int_equal(loop_run(f->lp), 0);
	loop_timer_stop(f->lp, &f->guard);
	if (f->guard_fired)
		fail_msg("%s: no report within 5 s", text);
	assert_int_equal(f->res.calls, 1);
	assert_false(probe_running(&f->p));
	assert_int_equal(probe_pid(&f->p), 0);
}

static void expect(struct fx *f, bool ok, const char *needle)
{
	if (f->res.ok != ok || !strstr(f->res.detail, needle))
		fail_msg("got %s \"%s\", expected %s with \"%s\"",
		         f->res.ok ? "pass" : "fail", f->res.detail,
		         ok ? "pass" : "fail", needle);
}

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel. */
static int tcp_listener(int *port, bool do_listen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_tcp_pass(void **state)
{
	struct fx *f = *state;
	int port, fd = tcp_listener(&port, true);
	char text[64];
	snprintf(text, sizeof(text), "tcp:127.0.0.1:%d", port);
	run_check(f, text, 2000, NULL);
	expect(f, true, "connected to 127.0.0.1:");
	/* the same probe runs again */
	run_check(f, text, 2000, NULL);
	expect(f, true, "connected");
	close(fd);
}

static void test_tcp_refused(void **state)
{
	struct fx *f = *state;
	/* bound, not listening: nobody else can take the port meanwhile */
	int port, fd = tcp_listener(&port, false);
	char text[64], want[96];
	snprintf(text, sizeof(text), "tcp:localhost:%d", port);
	run_check(f, text, 2000, NULL);
	snprintf(want, sizeof(want), "connect localhost:%d: Connection refused", port);
	expect(f, false, want);
	close(fd);
}

static int unix_listener(const char *path)
{
	struct sockaddr_un su;
	int dirfd;
	socklen_t len = paths_sockaddr(path, &su, &dirfd);
	assert_true(len != (socklen_t)-1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&su, len), 0);
	assert_int_equal(listen(fd, 16), 0);
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

static void test_unix(void **state)
{
	struct fx *f = *state;
	char path[512], text[600];
	snprintf(path, sizeof(path), "%s/s.sock", f->dir);
	int fd = unix_listener(path);
	snprintf(text, sizeof(text), "unix:%s", path);
	run_check(f, text, 2000, NULL);
	expect(f, true, "connected to /tmp/");

	/* a path longer than sun_path */
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/%0120d", f->dir, 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/long.sock", dir);
	int fd2 = unix_listener(path);
	snprintf(text, sizeof(text), "unix:%s", path);
	struct probe_spec spec;
	parse_ok(text, &spec);
	assert_true(spec.addr.via_dir);
	probe_spec_free(&spec);
	run_check(f, text, 2000, NULL);
	expect(f, true, "connected");

	/* nobody there: reported later, never from probe_start */
	close(fd);
	run_check(f, "unix:/nonexistent-tend/x.sock", 2000, NULL);
	expect(f, false, "connect /nonexistent-tend/x.sock: No such file or directory");
	snprintf(path, sizeof(path), "%s/s.sock", f->dir);
	snprintf(text, sizeof(text), "unix:%s", path);
	run_check(f, text, 2000, NULL);   /* the file is left, unbound */
	expect(f, false, "Connection refused");
	close(fd2);
}

/* ---- a tiny HTTP server in the same loop ---- */

enum srv_mode { SRV_REPLY, SRV_SILENT, SRV_GARBAGE, SRV_CLOSE };

struct srv {
	struct loop_io lio, cio;
	int lfd, cfd;
	enum srv_mode mode;
	const char *reply;
	char req[2048];
	size_t req_len;
};

static void srv_client(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct srv *s = io->data;
	ssize_t r = read(s->cfd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len);
	if (r > 0) {
		s->req_len += (size_t)r;
		s->req[s->req_len] = 0;
	}
	if (r > 0 && !strstr(s->req, "\r\n\r\n"))
		return;   /* the rest of the request is still on its way */
	if (r > 0 && s->mode != SRV_SILENT) {
		const char *out = s->mode == SRV_GARBAGE ? "SSH-2.0-OpenSSH\r\n" : s->reply;
		assert_int_equal(write(s->cfd, out, strlen(out)), (ssize_t)strlen(out));
	}
	if (s->mode == SRV_SILENT && r > 0)
		return;   /* holds the connection, never answers */
	loop_io_del(lp, &s->cio);
	close(s->cfd);
	s->cfd = -1;
}

static void srv_accept(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct srv *s = io->data;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (s->cfd >= 0 || s->mode == SRV_CLOSE) {
		close(fd);
		return;
	}
	s->cfd = fd;
	assert_int_equal(loop_io_add(lp, &s->cio, fd, EPOLLIN, srv_client, s), 0);
}

static void srv_start(struct fx *f, struct srv *s, enum srv_mode mode,
                      const char *reply, int *port)
{
	*s = (struct srv){ .mode = mode, .reply = reply, .cfd = -1 };
	s->lfd = tcp_listener(port, true);
	assert_int_equal(loop_io_add(f->lp, &s->lio, s->lfd, EPOLLIN, srv_accept, s), 0);
}

static void srv_stop(struct fx *f, struct srv *s)
{
	loop_io_del(f->lp, &s->lio);
	loop_io_del(f->lp, &s->cio);
	close(s->lfd);
	if (s->cfd >= 0)
		close(s->cfd);
}

static void http_check(struct fx *f, enum srv_mode mode, const char *reply,
                       uint64_t timeout_ms, bool ok, const char *needle)
{
	struct srv s;
	int port;
	char text[96], want[192];
	srv_start(f, &s, mode, reply, &port);
	snprintf(text, sizeof(text), "http://127.0.0.1:%d/health?full=1", port);
	run_check(f, text, timeout_ms, NULL);
	expect(f, ok, needle);
	if (mode == SRV_REPLY) {
		snprintf(want, sizeof(want), "GET /health?full=1 HTTP/1.0\r\n"
		         "Host: 127.0.0.1:%d\r\nUser-Agent: tend\r\n"
		         "Connection: close\r\n\r\n", port);
		assert_string_equal(s.req, want);
	}
	srv_stop(f, &s);
}

static void test_http(void **state)
{
	struct fx *f = *state;
	http_check(f, SRV_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	           2000, true, "HTTP 200");
	http_check(f, SRV_REPLY, "HTTP/1.0 204 No Content\r\n\r\n", 2000, true,
	           "HTTP 204");
	http_check(f, SRV_REPLY, "HTTP/1.1 503 Service Unavailable\r\n\r\n", 2000,
	           false, "HTTP 503");
	http_check(f, SRV_REPLY, "HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", 2000,
	           false, "HTTP 301");
	http_check(f, SRV_REPLY, "HTTP/1.1 200 O", 2000, false,
	           "closed the connection in the middle of the status line");
	http_check(f, SRV_GARBAGE, NULL, 2000, false,
	           "not an HTTP response from 127.0.0.1:");
	http_check(f, SRV_GARBAGE, NULL, 2000, false, "\"SSH-2.0-OpenSSH\"");
	http_check(f, SRV_CLOSE, NULL, 2000, false, "without an answer");
}

static void test_http_silent(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = mono_ms();
	http_check(f, SRV_SILENT, NULL, 200, false,
	           "timed out after 200ms waiting for an answer from 127.0.0.1:");
	uint64_t took = mono_ms() - t0;
	assert_true(took >= 200);
	assert_true(took < 2000);
}

static void test_http_long_status_line(void **state)
{
	struct fx *f = *state;
	/* a status line that does not end within PROBE_HTTP_MAX bytes */
	char *reply = xmalloc(3000);
	strcpy(reply, "HTTP/1.1 200 ");
	memset(reply + 13, 'x', 2000);
	reply[2013] = 0;
	http_check(f, SRV_REPLY, reply, 2000, false, "not an HTTP response");
	free(reply);
}

/* ---- exec ---- */

static void test_exec_true_false(void **state)
{
	struct fx *f = *state;
	run_check(f, "exec:true", 5000, NULL);
	expect(f, true, "exit code 0");
	run_check(f, "exec:false", 5000, NULL);
	expect(f, false, "exit code 1");
	assert_string_equal(f->res.detail, "exit code 1");
}

static void test_exec_output(void **state)
{
	struct fx *f = *state;
	run_check(f, "exec:sh -c 'echo oops; echo second line; exit 3'", 5000, NULL);
	expect(f, false, "exit code 3");
	assert_string_equal(f->res.detail, "exit code 3: oops");

	/* stderr too, a CR and control characters never reach the detail */
	run_check(f, "exec:sh -c 'printf \"bad\\tthing\\r\\n\" >&2; exit 2'", 5000, NULL);
	assert_string_equal(f->res.detail, "exit code 2: bad?thing");

	/* only the first 200 bytes of a long line; the rest is drained */
	run_check(f, "exec:sh -c 'head -c 100000 /dev/zero | tr \"\\0\" a; exit 1'",
	          5000, NULL);
	assert_int_equal(strlen(f->res.detail), strlen("exit code 1: ") + 200);

	/* the working directory */
	run_check(f, "exec:sh -c 'pwd; exit 1'", 5000, "/");
	assert_string_equal(f->res.detail, "exit code 1: /");

	/* killed by a signal */
	run_check(f, "exec:sh -c 'kill -9 $$'", 5000, NULL);
	expect(f, false, "killed by signal 9 (KILL)");
}

static void test_exec_spawn_failed(void **state)
{
	struct fx *f = *state;
	run_check(f, "exec:/nonexistent-tend/check --now", 5000, NULL);
	assert_string_equal(f->res.detail,
	                    "exec \"/nonexistent-tend/check\": No such file or directory");
	run_check(f, "exec:no-such-command-tend", 5000, NULL);
	expect(f, false, "exec \"no-such-command-tend\": No such file or directory");
	run_check(f, "exec:true", 5000, "/nonexistent-tend");
	expect(f, false, "cwd \"/nonexistent-tend\": No such file or directory");
}

/* Waits for PID (reaped here or already by on_sigchld), 5 s at most. */
static void expect_gone(pid_t pid)
{
	int ws;
	alarm(5);
	pid_t r = waitpid(pid, &ws, 0);
	alarm(0);
	if (r == pid)
		assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
	else
		assert_int_equal(errno, ECHILD);
	assert_int_equal(kill(pid, 0), -1);
}

static void test_exec_timeout(void **state)
{
	struct fx *f = *state;
	struct probe_spec spec;
	parse_ok("exec:sleep 100", &spec);
	uint64_t t0 = mono_ms();
	probe_start(&f->p, f->lp, &spec, 200, environ, NULL, on_done, f);
	probe_spec_free(&spec);
	pid_t pid = probe_pid(&f->p);
	assert_true(pid > 0);
	assert_int_equal(loop_run(f->lp), 0);
	assert_int_equal(f->res.calls, 1);
	expect(f, false, "timed out after 200ms");
	assert_true(mono_ms() - t0 >= 200);
	assert_int_equal(probe_pid(&f->p), 0);
	expect_gone(pid);
}

/* The command exits but leaves a child holding the pipe: the check ends at
 * the exit, and the child (same process group) is killed. */
static void test_exec_background_child(void **state)
{
	struct fx *f = *state;
	prctl(PR_SET_CHILD_SUBREAPER, 1);   /* orphans come back to us */
	uint64_t t0 = mono_ms();
	run_check(f, "exec:sh -c 'sleep 100 & echo $!; exit 4'", 5000, NULL);
	assert_true(mono_ms() - t0 < 2000);
	expect(f, false, "exit code 4: ");
	pid_t child = (pid_t)atoi(f->res.detail + strlen("exit code 4: "));
	assert_true(child > 0);
	expect_gone(child);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void on_quiet(struct loop *lp, struct loop_timer *t)
{
	(void)t;
	loop_stop(lp);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct probe_spec spec;
	struct loop_timer quiet = { 0 };

	/* an exec check: no report, the process killed and claimed */
	parse_ok("exec:sleep 100", &spec);
	probe_start(&f->p, f->lp, &spec, 5000, environ, NULL, on_done, f);
	probe_spec_free(&spec);
	pid_t pid = probe_pid(&f->p);
	assert_true(pid > 0);
	probe_cancel(&f->p);
	assert_false(probe_running(&f->p));
	assert_int_equal(probe_pid(&f->p), 0);
	int ws;
	alarm(5);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	alarm(0);
	assert_true(probe_reaped(&f->p, pid, ws));    /* claimed, no report */
	assert_false(probe_reaped(&f->p, pid, ws));   /* once */

	/* a deferred failure, cancelled before the loop runs it */
	parse_ok("exec:/nonexistent-tend/x", &spec);
	probe_start(&f->p, f->lp, &spec, 5000, environ, NULL, on_done, f);
	probe_spec_free(&spec);
	probe_cancel(&f->p);
	probe_cancel(&f->p);   /* twice is fine */

	/* a socket check, started again over a running one */
	int port, fd = tcp_listener(&port, false);
	char text[64];
	snprintf(text, sizeof(text), "tcp:127.0.0.1:%d", port);
	parse_ok(text, &spec);
	probe_start(&f->p, f->lp, &spec, 5000, environ, NULL, on_done, f);
	probe_start(&f->p, f->lp, &spec, 5000, environ, NULL, on_done, f);
	probe_cancel(&f->p);
	probe_spec_free(&spec);
	close(fd);

	loop_timer_start(f->lp, &quiet, 300, on_quiet, NULL);
	assert_int_equal(loop_run(f->lp), 0);
	assert_int_equal(f->res.calls, 0);

	/* not ours */
	assert_false(probe_reaped(&f->p, getpid(), 0));
	assert_false(probe_reaped(&f->p, 0, 0));
}

/* FN may start the next check on the same probe. */
static int chain_left;

static void on_chain(void *data, bool ok, const char *detail)
{
	struct fx *f = data;
	assert_true(ok);
	(void)detail;
	f->res.calls++;
	if (--chain_left == 0) {
		loop_stop(f->lp);
		return;
	}
	struct probe_spec spec;
	parse_ok("exec:true", &spec);
	probe_start(&f->p, f->lp, &spec, 5000, environ, NULL, on_chain, f);
	probe_spec_free(&spec);
}

static void test_restart_from_fn(void **state)
{
	struct fx *f = *state;
	struct probe_spec spec;
	chain_left = 5;
	parse_ok("exec:true", &spec);
	probe_start(&f->p, f->lp, &spec, 5000, environ, NULL, on_chain, f);
	probe_spec_free(&spec);
	assert_int_equal(loop_run(f->lp), 0);
	assert_int_equal(f->res.calls, 5);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_exec),
		cmocka_unit_test(test_parse_addrs),
		cmocka_unit_test(test_parse_http),
		cmocka_unit_test(test_parse_bad_kind),
		cmocka_unit_test(test_http_status),
		T(test_tcp_pass),
		T(test_tcp_refused),
		T(test_unix),
		T(test_http),
		T(test_http_silent),
		T(test_http_long_status_line),
		T(test_exec_true_false),
		T(test_exec_output),
		T(test_exec_spawn_failed),
		T(test_exec_timeout),
		T(test_exec_background_child),
		T(test_cancel),
		T(test_restart_from_fn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
