/* Unit tests for notify.c: the sd_notify parser, and the socket with real
 * senders (this process, children, another uid, systemd-notify) on a real
 * loop: credentials, passed fds, oversized datagrams, floods, what is at
 * the path already. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "notify.h"
#include "util.h"

/* ---- notify_parse ---- */

/* Parses S (a C string, without its NUL) from an exactly sized copy, so
 * that ASan catches any read past the datagram. */
static int parse(const char *s, struct notify_msg *m)
{
	size_t n = strlen(s);
	char *copy = xmalloc(n ? n : 1);
	memcpy(copy, s, n);
	int r = notify_parse(copy, n, m);
	free(copy);
	return r;
}

static void assert_nothing(const struct notify_msg *m)
{
	assert_false(m->ready);
	assert_false(m->stopping);
	assert_false(m->reloading);
	assert_false(m->watchdog);
	assert_false(m->watchdog_trigger);
	assert_true(m->watchdog_usec == 0);
	assert_false(m->has_status);
	assert_string_equal(m->status, "");
	assert_int_equal(m->mainpid, 0);
}

static void test_parse_each_key(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("READY=1", &m), 0);
	assert_true(m.ready);
	m.ready = false;
	assert_nothing(&m);

	assert_int_equal(parse("STOPPING=1", &m), 0);
	assert_true(m.stopping);
	assert_int_equal(parse("RELOADING=1", &m), 0);
	assert_true(m.reloading);
	assert_int_equal(parse("WATCHDOG=1", &m), 0);
	assert_true(m.watchdog);
	assert_false(m.watchdog_trigger);
	assert_int_equal(parse("WATCHDOG=trigger", &m), 0);
	assert_true(m.watchdog_trigger);
	assert_false(m.watchdog);
	assert_int_equal(parse("WATCHDOG_USEC=30000000", &m), 0);
	assert_true(m.watchdog_usec == 30000000);
	assert_int_equal(parse("MAINPID=4242", &m), 0);
	assert_int_equal(m.mainpid, 4242);
	assert_int_equal(parse("STATUS=Serving 3 clients", &m), 0);
	assert_true(m.has_status);
	assert_string_equal(m.status, "Serving 3 clients");
	m.has_status = false;
	m.status[0] = 0;
	assert_nothing(&m);
}

static void test_parse_several(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("READY=1\nSTATUS=up\nMAINPID=77\nWATCHDOG=1\n"
	                       "WATCHDOG_USEC=5000000\n", &m), 0);
	assert_true(m.ready);
	assert_true(m.watchdog);
	assert_string_equal(m.status, "up");
	assert_int_equal(m.mainpid, 77);
	assert_true(m.watchdog_usec == 5000000);
	assert_false(m.stopping);
	assert_false(m.reloading);

	/* With or without the final newline; empty lines are nothing. */
	assert_int_equal(parse("STOPPING=1\nSTATUS=bye", &m), 0);
	assert_true(m.stopping);
	assert_string_equal(m.status, "bye");
	assert_int_equal(parse("\n\nREADY=1\n\n\nSTATUS=x\n\n", &m), 0);
	assert_true(m.ready);
	assert_string_equal(m.status, "x");
	assert_int_equal(parse("\n", &m), 0);
	assert_nothing(&m);
}

/* sd_notify sends '\n' only, but systemd splits on "\n\r": so does tend,
 * and "\r\n" ends a line without leaving a '\r' in a value. */
static void test_parse_crlf(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("READY=1\r\nSTATUS=a b\r\nMAINPID=9\r\n", &m), 0);
	assert_true(m.ready);
	assert_string_equal(m.status, "a b");
	assert_int_equal(m.mainpid, 9);
	assert_int_equal(parse("STATUS=one\rREADY=1", &m), 0);
	assert_true(m.ready);
	assert_string_equal(m.status, "one");
}

static void test_parse_unknown_and_malformed(void **state)
{
	(void)state;
	struct notify_msg m;
	/* Keys tend does not act on, and lines that are no assignment. */
	assert_int_equal(parse("FDSTORE=1\nFDNAME=db\nEXTEND_TIMEOUT_USEC=5\n"
	                       "ERRNO=2\nBUSERROR=x\nX_MY_KEY=1\nREADY\n=1\n"
	                       "ready=1\nREADY =1\n READY=1\nREADY=1 \n"
	                       "READY=\nREADY=yes\nREADY=2\nREADY=11\n"
	                       "WATCHDOG=0\nWATCHDOG=\nWATCHDOG=TRIGGER\n"
	                       "status=lower\nSTATUS\n", &m), 0);
	assert_nothing(&m);
	/* ... and they do not disturb the keys around them. */
	assert_int_equal(parse("X=1\nREADY=1\ngarbage\nSTATUS=ok\nY=2", &m), 0);
	assert_true(m.ready);
	assert_string_equal(m.status, "ok");
	/* The value is everything after the first '='. */
	assert_int_equal(parse("STATUS=a=b=c", &m), 0);
	assert_string_equal(m.status, "a=b=c");
}

static void test_parse_last_wins(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("READY=0", &m), 0);
	assert_false(m.ready);
	assert_int_equal(parse("READY=1\nREADY=0", &m), 0);
	assert_false(m.ready);
	assert_int_equal(parse("READY=0\nREADY=1", &m), 0);
	assert_true(m.ready);
	/* A malformed assignment is no assignment. */
	assert_int_equal(parse("READY=1\nREADY=maybe", &m), 0);
	assert_true(m.ready);
	assert_int_equal(parse("STOPPING=1\nSTOPPING=0", &m), 0);
	assert_false(m.stopping);
	assert_int_equal(parse("WATCHDOG=1\nWATCHDOG=trigger", &m), 0);
	assert_true(m.watchdog_trigger);
	assert_false(m.watchdog);
	assert_int_equal(parse("WATCHDOG=trigger\nWATCHDOG=1", &m), 0);
	assert_false(m.watchdog_trigger);
	assert_true(m.watchdog);
	assert_int_equal(parse("WATCHDOG=1\nWATCHDOG=0", &m), 0);
	assert_true(m.watchdog);
	assert_int_equal(parse("STATUS=first\nSTATUS=second", &m), 0);
	assert_string_equal(m.status, "second");
	assert_int_equal(parse("STATUS=first\nSTATUS=", &m), 0);
	assert_true(m.has_status);
	assert_string_equal(m.status, "");
	assert_int_equal(parse("MAINPID=5\nMAINPID=6", &m), 0);
	assert_int_equal(m.mainpid, 6);
	assert_int_equal(parse("MAINPID=5\nMAINPID=x", &m), 0);
	assert_int_equal(m.mainpid, 5);
	assert_int_equal(parse("WATCHDOG_USEC=5\nWATCHDOG_USEC=0", &m), 0);
	assert_true(m.watchdog_usec == 5);
}

static void test_parse_status_empty(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(parse("STATUS=", &m), 0);
	assert_true(m.has_status);
	assert_string_equal(m.status, "");
	assert_int_equal(parse("READY=1", &m), 0);
	assert_false(m.has_status);
}

/* STATUS=PREFIX followed by N copies of UNIT. */
static char *status_of(const char *prefix, size_t n, const char *unit)
{
	struct buf b = { 0 };
	buf_adds(&b, "STATUS=");
	buf_adds(&b, prefix);
	for (size_t i = 0; i < n; i++)
		buf_adds(&b, unit);
	return buf_take(&b);
}

static void assert_status(const char *datagram, const char *want)
{
	struct notify_msg m;
	assert_int_equal(parse(datagram, &m), 0);
	assert_true(m.has_status);
	assert_string_equal(m.status, want);
}

static void test_parse_status_cut(void **state)
{
	(void)state;
	assert_int_equal(NOTIFY_STATUS_MAX, 255);
	char *a255 = status_of("", 255, "a");
	char *a300 = status_of("", 300, "a");
	assert_status(a300, a255 + 7);
	assert_status(a255, a255 + 7);

	/* A 2-byte character that would end at byte 256 goes whole. */
	char *a254 = status_of("", 254, "a");
	char *d = status_of(a254 + 7, 1, "\xc3\xa9");
	assert_status(d, a254 + 7);
	free(d);
	char *a253 = status_of("", 253, "a");
	d = status_of(a253 + 7, 2, "\xc3\xa9");  /* 253 + 2 fits, + 2 not */
	char *want = status_of(a253 + 7, 1, "\xc3\xa9");
	assert_status(d, want + 7);
	free(d);
	free(want);
	/* 3- and 4-byte characters only: 85 * 3 = 255, 63 * 4 = 252. */
	d = status_of("", 100, "\xe2\x82\xac");
	want = status_of("", 85, "\xe2\x82\xac");
	assert_status(d, want + 7);
	free(d);
	free(want);
	d = status_of("", 100, "\xf0\x9f\x98\x80");
	want = status_of("", 63, "\xf0\x9f\x98\x80");
	assert_status(d, want + 7);
	assert_int_equal(strlen(want + 7), 252);
	free(d);
	free(want);
	/* Replacements count as what they leave: a control byte is one. */
	d = status_of("", 300, "\t");
	want = status_of("", 255, " ");
	assert_status(d, want + 7);
	free(d);
	free(want);
	free(a253);
	free(a254);
	free(a255);
	free(a300);
}

static void test_parse_status_sanitized(void **state)
{
	(void)state;
	/* C0 controls and DEL become spaces ('\n' and '\r' end the line). */
	assert_status("STATUS=a\tb\x1b[31mc\x7f\x01z", "a b [31mc  z");
	/* C1 controls (U+0080..U+009F) too; other non-ASCII stays. */
	assert_status("STATUS=x\xc2\x85y\xc2\x9fz \xc2\xa0\xc3\xa9\xe2\x82\xac",
	              "x y z \xc2\xa0\xc3\xa9\xe2\x82\xac");
	/* Bytes that are not UTF-8: '?' each. */
	assert_status("STATUS=\xff" "a\xfe", "?a?");
	assert_status("STATUS=\xc0\xaf", "??");          /* overlong '/' */
	assert_status("STATUS=\xe0\x80\xaf", "???");     /* overlong */
	assert_status("STATUS=\xed\xa0\x80", "???");     /* surrogate */
	assert_status("STATUS=\xf4\x90\x80\x80", "????"); /* > U+10FFFF */
	assert_status("STATUS=ok\xe2\x82", "ok??");      /* cut short */
	assert_status("STATUS=\xe2\x82" "abc", "??abc");
	assert_status("STATUS=\x80\xbf", "??");          /* lone continuations */
	assert_status("STATUS=\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!");
}

static void test_parse_not_a_notification(void **state)
{
	(void)state;
	struct notify_msg m;
	assert_int_equal(notify_parse("", 0, &m), -1);
	assert_int_equal(notify_parse("READY=1\0", 8, &m), -1);
	assert_int_equal(notify_parse("\0READY=1", 8, &m), -1);
	assert_int_equal(notify_parse("READY=1\nSTATUS=a\0b", 18, &m), -1);
	assert_int_equal(notify_parse("\0", 1, &m), -1);
	/* LEN counts, not a terminator. */
	assert_int_equal(notify_parse("READY=1\nSTOPPING=1", 7, &m), 0);
	assert_true(m.ready);
	assert_false(m.stopping);
}

static void test_parse_numbers(void **state)
{
	(void)state;
	static const char *const bad_usec[] = {
		"WATCHDOG_USEC=", "WATCHDOG_USEC=abc", "WATCHDOG_USEC=-5",
		"WATCHDOG_USEC=+5", "WATCHDOG_USEC= 5", "WATCHDOG_USEC=5 ",
		"WATCHDOG_USEC=5s", "WATCHDOG_USEC=0x10", "WATCHDOG_USEC=0",
		"WATCHDOG_USEC=18446744073709551616",
		"WATCHDOG_USEC=99999999999999999999999",
	};
	static const char *const bad_pid[] = {
		"MAINPID=", "MAINPID=0", "MAINPID=-1", "MAINPID=+3", "MAINPID=3x",
		"MAINPID= 3", "MAINPID=2147483648", "MAINPID=4294967297",
		"MAINPID=99999999999999999999999",
	};
	struct notify_msg m;
	for (size_t i = 0; i < ARRAY_LEN(bad_usec); i++) {
		assert_int_equal(parse(bad_usec[i], &m), 0);
		assert_nothing(&m);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad_pid); i++) {
		assert_int_equal(parse(bad_pid[i], &m), 0);
		assert_nothing(&m);
	}
	assert_int_equal(parse("WATCHDOG_USEC=18446744073709551615", &m), 0);
	assert_true(m.watchdog_usec == UINT64_MAX);
	assert_int_equal(parse("WATCHDOG_USEC=007", &m), 0);
	assert_true(m.watchdog_usec == 7);
	assert_int_equal(parse("MAINPID=2147483647", &m), 0);
	assert_int_equal(m.mainpid, INT_MAX);
	assert_int_equal(parse("MAINPID=1", &m), 0);
	assert_int_equal(m.mainpid, 1);
}

static void test_parse_clears(void **state)
{
	(void)state;
	struct notify_msg m;
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(parse("X=1", &m), 0);
	assert_nothing(&m);
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(notify_parse("", 0, &m), -1);
	assert_nothing(&m);
}

/* ---- notify_env ---- */

static void test_env(void **state)
{
	(void)state;
	struct notify_sock ns = { .fd = -1, .name = "/run/x/n.sock" };
	struct strv env = { 0 };
	notify_env(&ns, 0, &env);
	assert_int_equal(env.n, 1);
	assert_string_equal(env.v[0], "NOTIFY_SOCKET=/run/x/n.sock");
	assert_null(env.v[1]);
	notify_env(&ns, 1500, &env);
	assert_int_equal(env.n, 3);
	assert_string_equal(env.v[1], "NOTIFY_SOCKET=/run/x/n.sock");
	assert_string_equal(env.v[2], "WATCHDOG_USEC=1500000");
	strv_free(&env);
	ns.name = "@tend-0123456789abcdef";
	notify_env(&ns, UINT64_MAX, &env);
	assert_int_equal(env.n, 2);
	assert_string_equal(env.v[0], "NOTIFY_SOCKET=@tend-0123456789abcdef");
	assert_string_equal(env.v[1], "WATCHDOG_USEC=18446744073709551615");
	for (size_t i = 0; i < env.n; i++)
		assert_null(strstr(env.v[i], "WATCHDOG_PID"));
	strv_free(&env);

	assert_true(notify_env_owns("NOTIFY_SOCKET=/run/systemd/notify"));
	assert_true(notify_env_owns("WATCHDOG_USEC=1"));
	assert_true(notify_env_owns("WATCHDOG_PID=1"));
	assert_true(notify_env_owns("NOTIFY_SOCKET="));
	assert_false(notify_env_owns("NOTIFY_SOCKETS=1"));
	assert_false(notify_env_owns("NOTIFY_SOCKET"));
	assert_false(notify_env_owns("WATCHDOG=1"));
	assert_false(notify_env_owns("PATH=/bin"));
	assert_false(notify_env_owns(""));
}

/* ---- the socket: a temporary directory, a loop, what arrives ---- */

#define GOT_MAX 16
#define GUARD_MS 20000

struct fx {
	char dir[64];
	char *path;               /* DIR/notify.sock */
	struct loop *lp;
	struct notify_sock ns;
	struct loop_timer guard;  /* a test that waits too long fails */
	bool timed_out;
	size_t want;              /* stop the loop once this many arrived */
	size_t n;                 /* datagrams delivered */
	pid_t pid[GOT_MAX];
	uid_t uid[GOT_MAX];
	struct notify_msg msg[GOT_MAX];
	/* the flood tests */
	struct loop_timer tick;
	size_t ticks, since_tick, max_between;
};

static int fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/tend-notify-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->path = xasprintf("%s/notify.sock", f->dir);
	f->lp = loop_new();
	f->ns.fd = -1;
	*state = f;
	return f->lp ? 0 : -1;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	notify_close(&f->ns, f->lp);
	loop_timer_stop(f->lp, &f->guard);
	loop_timer_stop(f->lp, &f->tick);
	loop_free(f->lp);
	DIR *d = opendir(f->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0)
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	}
	if (d)
		closedir(d);
	int r = rmdir(f->dir);
	free(f->path);
	free(f);
	return r;
}

static void on_notify(void *data, pid_t pid, uid_t uid,
                      const struct notify_msg *msg)
{
	struct fx *f = data;
	if (f->n < GOT_MAX) {
		f->pid[f->n] = pid;
		f->uid[f->n] = uid;
		f->msg[f->n] = *msg;
	}
	f->n++;
	f->since_tick++;
	if (f->n >= f->want)
		loop_stop(f->lp);
}

static void on_guard(struct loop *lp, struct loop_timer *t)
{
	struct fx *f = t->data;
	f->timed_out = true;
	loop_stop(lp);
}

/* Runs the loop until WANT datagrams in all have been delivered. */
static void run_until(struct fx *f, size_t want)
{
	f->want = want;
	if (f->n >= want)
		return;
	loop_timer_start(f->lp, &f->guard, GUARD_MS, on_guard, f);
	assert_int_equal(loop_run(f->lp), 0);
	loop_timer_stop(f->lp, &f->guard);
	if (f->timed_out)
		fail_msg("%zu of %zu datagrams after %d ms", f->n, want, GUARD_MS);
}

/* Runs the loop for MS (nothing is expected to arrive). */
static void run_for(struct fx *f, uint64_t ms)
{
	f->want = SIZE_MAX;
	loop_timer_start(f->lp, &f->guard, ms, on_guard, f);
	assert_int_equal(loop_run(f->lp), 0);
	f->timed_out = false;
}

static void fx_open(struct fx *f, const char *path)
{
	if (notify_open(&f->ns, f->lp, path, on_notify, f) < 0)
		fail_msg("notify_open %s: %s", path, strerror(errno));
}

/* The address a client makes of a NOTIFY_SOCKET value, as sd_notify does:
 * '@' names an abstract socket (exactly its bytes, no NUL). */
static socklen_t client_addr(const char *name, struct sockaddr_un *sa)
{
	size_t n = strlen(name);
	assert_true(n < sizeof(sa->sun_path));
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@') {
		sa->sun_path[0] = 0;
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* Sends LEN bytes of BUF to NAME with FDS attached; returns sendmsg's
 * result (errno on -1).  Usable in a forked child. */
static ssize_t send_dgram(const char *name, const void *buf, size_t len,
                          const int *fds, size_t nfds)
{
	struct sockaddr_un sa;
	socklen_t salen = client_addr(name, &sa);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = salen,
	                     .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t r = sendmsg(fd, &mh, 0);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static void send_str(const char *name, const char *s)
{
	if (send_dgram(name, s, strlen(s), NULL, 0) != (ssize_t)strlen(s))
		fail_msg("send to %s: %s", name, strerror(errno));
}

/* Forks a child that sends S to NAME and exits (0 on success). */
static pid_t child_send(const char *name, const char *s)
{
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0)
		_exit(send_dgram(name, s, strlen(s), NULL, 0) ==
		      (ssize_t)strlen(s) ? 0 : 1);
	return c;
}

static void assert_exited_ok(pid_t c)
{
	int st;
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- the socket ---- */

static void test_sock_path(void **state)
{
	struct fx *f = *state;
	fx_open(f, f->path);
	assert_string_equal(f->ns.name, f->path);
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	int fl = fcntl(f->ns.fd, F_GETFD);
	assert_true(fl >= 0 && (fl & FD_CLOEXEC));
	fl = fcntl(f->ns.fd, F_GETFL);
	assert_true(fl >= 0 && (fl & O_NONBLOCK));

	send_str(f->ns.name, "READY=1\nSTATUS=listening on :8080\n");
	run_until(f, 1);
	assert_int_equal(f->pid[0], getpid());
	assert_int_equal(f->uid[0], getuid());
	assert_true(f->msg[0].ready);
	assert_string_equal(f->msg[0].status, "listening on :8080");
	assert_true(notify_dropped(&f->ns) == 0);

	notify_close(&f->ns, f->lp);
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(f->ns.fd, -1);
	notify_close(&f->ns, f->lp);  /* twice is harmless */
}

static void test_sock_child_pid(void **state)
{
	struct fx *f = *state;
	fx_open(f, f->path);
	pid_t c1 = child_send(f->ns.name, "READY=1");
	assert_exited_ok(c1);
	pid_t c2 = child_send(f->ns.name, "STOPPING=1");
	run_until(f, 2);
	assert_exited_ok(c2);
	assert_int_equal(f->pid[0], c1);
	assert_true(f->msg[0].ready);
	assert_int_equal(f->pid[1], c2);
	assert_true(f->msg[1].stopping);
	assert_int_equal(f->uid[0], getuid());
	assert_int_equal(f->uid[1], getuid());
}

/* FNV-1a 64 of the path: the abstract name tend used to take, which
 * anyone could compute and bind first. */
static uint64_t ref_fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static char *long_path(const struct fx *f)
{
	struct buf b = { 0 };
	buf_adds(&b, f->dir);
	buf_adds(&b, "/");
	for (int i = 0; i < 120; i++)
		buf_addc(&b, 'd');
	buf_adds(&b, "/notify.sock");
	return buf_take(&b);
}

/* "@tend-" and 32 lowercase hex digits? */
static bool is_abstract_name(const char *name)
{
	if (strncmp(name, "@tend-", 6) != 0 || strlen(name) != 6 + 32)
		return false;
	for (const char *c = name + 6; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

/* The abstract name of given bytes (pure). */
static void test_abstract_name(void **state)
{
	(void)state;
	unsigned char b[NOTIFY_NAME_BYTES];
	char name[NOTIFY_NAME_MAX];
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 17 + 0x0f);
	memset(name, 'x', sizeof(name));
	notify_abstract_name(b, name);
	assert_string_equal(name, "@tend-0f2031425364758697a8b9cadbecfd0e");
	assert_true(is_abstract_name(name));
	memset(b, 0, sizeof(b));
	notify_abstract_name(b, name);
	assert_string_equal(name, "@tend-00000000000000000000000000000000");
	memset(b, 0xff, sizeof(b));
	notify_abstract_name(b, name);
	assert_string_equal(name, "@tend-ffffffffffffffffffffffffffffffff");
	assert_int_equal(strlen(name) + 1, NOTIFY_NAME_MAX);
}

/* Binds a datagram socket to the abstract NAME ("@..."); its fd. */
static int squat(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	memcpy(sa.sun_path, name, len);
	sa.sun_path[0] = 0;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
	                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
	                 0);
	return fd;
}

static void test_sock_abstract(void **state)
{
	struct fx *f = *state;
	char *path = long_path(f);
	struct sockaddr_un sa;
	assert_true(strlen(path) >= sizeof(sa.sun_path));
	/* Someone bound the name a hash of the path would give, first. */
	char *predictable = xasprintf("@tend-%016llx",
	                              (unsigned long long)ref_fnv1a(path));
	int squatter = squat(predictable);
	fx_open(f, path);
	assert_true(is_abstract_name(f->ns.name));
	assert_string_not_equal(f->ns.name, predictable);
	close(squatter);
	free(predictable);
	struct stat st;
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_nlink, 2);  /* nothing made in DIR */

	pid_t c = child_send(f->ns.name, "READY=1\nSTATUS=abstract");
	run_until(f, 1);
	assert_exited_ok(c);
	assert_int_equal(f->pid[0], c);
	assert_string_equal(f->msg[0].status, "abstract");

	/* The same path again, while the first is open: another name, and
	 * each socket gets what is sent to it. */
	struct notify_sock other;
	assert_int_equal(notify_open(&other, f->lp, path, on_notify, f), 0);
	assert_true(is_abstract_name(other.name));
	assert_string_not_equal(other.name, f->ns.name);
	send_str(other.name, "STOPPING=1");
	run_until(f, 2);
	assert_true(f->msg[1].stopping);
	notify_close(&other, f->lp);
	char *was = xstrdup(f->ns.name);
	notify_close(&f->ns, f->lp);
	/* Once closed the name is free: nobody is there to send to. */
	int fd = squat(was);
	close(fd);
	free(was);
	fx_open(f, path);
	send_str(f->ns.name, "READY=1");
	run_until(f, 3);
	assert_true(f->msg[2].ready);
	notify_close(&f->ns, f->lp);
	free(path);

	/* The longest path that fits is a file; one byte more is not. */
	size_t room = sizeof(sa.sun_path) - 1 - strlen(f->dir) - 1;
	char *name = xmalloc(room + 2);
	memset(name, 'n', room + 1);
	name[room] = 0;
	path = xasprintf("%s/%s", f->dir, name);
	assert_int_equal(strlen(path), sizeof(sa.sun_path) - 1);
	fx_open(f, path);
	assert_string_equal(f->ns.name, path);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	send_str(f->ns.name, "READY=1");
	run_until(f, 4);
	notify_close(&f->ns, f->lp);
	free(path);
	name[room] = 'n';
	name[room + 1] = 0;
	path = xasprintf("%s/%s", f->dir, name);
	fx_open(f, path);
	assert_true(is_abstract_name(f->ns.name));
	assert_int_equal(lstat(path, &st), -1);
	send_str(f->ns.name, "READY=1");
	run_until(f, 5);
	free(path);
	free(name);
}

/* A message with descriptors attached: delivered, its descriptors closed
 * on arrival (tend keeps no fd store). */
static void test_sock_fds_closed(void **state)
{
	struct fx *f = *state;
	fx_open(f, f->path);
	/* The lowest free descriptor is where the first passed one lands. */
	int probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	long before = fd_count();

	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		int p[2];
		if (pipe(p) < 0)
			_exit(1);
		int fds[3] = { p[0], p[1], 0 };
		const char *s = "FDSTORE=1\nFDNAME=x\nREADY=1";
		_exit(send_dgram(f->ns.name, s, strlen(s), fds, 3) > 0 ? 0 : 1);
	}
	assert_exited_ok(c);
	run_until(f, 1);
	assert_true(f->msg[0].ready);
	assert_int_equal(fd_count(), before);
	assert_int_equal(fcntl(probe, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	/* Also when the datagram itself is dropped (too long). */
	c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		char *big = xmalloc(10240);
		memset(big, 'x', 10240);
		memcpy(big, "STATUS=", 7);
		int fds[1] = { 1 };
		_exit(send_dgram(f->ns.name, big, 10240, fds, 1) > 0 ? 0 : 1);
	}
	assert_exited_ok(c);
	send_str(f->ns.name, "STOPPING=1");
	run_until(f, 2);
	assert_true(f->msg[1].stopping);
	assert_true(notify_dropped(&f->ns) == 1);
	assert_int_equal(fd_count(), before);
	assert_int_equal(fcntl(probe, F_GETFD), -1);
}

static void test_sock_too_long(void **state)
{
	struct fx *f = *state;
	fx_open(f, f->path);
	char *big = xmalloc(10240);
	memset(big, 'y', 10240);
	memcpy(big, "READY=1\nSTATUS=", 15);
	assert_true(send_dgram(f->ns.name, big, 10240, NULL, 0) == 10240);
	/* One byte over the limit, then exactly the limit. */
	assert_true(send_dgram(f->ns.name, big, NOTIFY_DGRAM_MAX + 1, NULL, 0) ==
	            NOTIFY_DGRAM_MAX + 1);
	assert_true(send_dgram(f->ns.name, big, NOTIFY_DGRAM_MAX, NULL, 0) ==
	            NOTIFY_DGRAM_MAX);
	send_str(f->ns.name, "STOPPING=1");
	run_until(f, 2);
	assert_true(f->msg[0].ready);
	assert_int_equal(strlen(f->msg[0].status), NOTIFY_STATUS_MAX);
	assert_true(f->msg[1].stopping);
	assert_true(notify_dropped(&f->ns) == 2);
	free(big);
}

static void test_sock_not_notification(void **state)
{
	struct fx *f = *state;
	fx_open(f, f->path);
	assert_true(send_dgram(f->ns.name, "", 0, NULL, 0) == 0);
	assert_true(send_dgram(f->ns.name, "READY=1\0", 8, NULL, 0) == 8);
	send_str(f->ns.name, "X_UNKNOWN=1");  /* a notification, of nothing */
	send_str(f->ns.name, "READY=1");
	run_until(f, 2);
	assert_false(f->msg[0].ready);
	assert_true(f->msg[1].ready);
	assert_true(notify_dropped(&f->ns) == 2);
}

/* Another uid (root only): the file's 0600 keeps it out; an abstract name
 * has no permissions, and the uid it reports is the sender's. */
static void test_sock_other_uid(void **state)
{
	struct fx *f = *state;
	if (geteuid() != 0) {
		print_message("(not root: no other uid to send from)\n");
		skip();
	}
	const uid_t nobody = 65534;
	char *longp = long_path(f);
	struct notify_sock an;
	if (notify_open(&an, f->lp, longp, on_notify, f) < 0)
		fail_msg("notify_open: %s", strerror(errno));
	fx_open(f, f->path);
	assert_int_equal(chmod(f->dir, 0711), 0);  /* only the file's mode */
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		if (setresgid(nobody, nobody, nobody) < 0 ||
		    setresuid(nobody, nobody, nobody) < 0)
			_exit(1);
		if (send_dgram(f->ns.name, "READY=1", 7, NULL, 0) >= 0 ||
		    errno != EACCES)
			_exit(2);
		_exit(send_dgram(an.name, "STATUS=nobody", 13, NULL, 0) == 13 ?
		      0 : 3);
	}
	run_until(f, 1);
	assert_exited_ok(c);
	assert_int_equal(f->pid[0], c);
	assert_int_equal(f->uid[0], nobody);
	assert_string_equal(f->msg[0].status, "nobody");
	notify_close(&an, f->lp);
	free(longp);
}

/* What is at the path already. */
static void test_sock_stale_replaced(void **state)
{
	struct fx *f = *state;
	int old = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa;
	socklen_t salen = client_addr(f->path, &sa);
	assert_int_equal(bind(old, (struct sockaddr *)&sa, salen), 0);
	close(old);  /* the file stays, nobody behind it */
	fx_open(f, f->path);
	send_str(f->path, "READY=1");
	run_until(f, 1);
	assert_true(f->msg[0].ready);
}

static void test_sock_live_kept(void **state)
{
	struct fx *f = *state;
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		int live = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa;
		socklen_t salen = client_addr(f->path, &sa);
		assert_int_equal(bind(live, (struct sockaddr *)&sa, salen), 0);
		if (types[i] == SOCK_STREAM)
			assert_int_equal(listen(live, 1), 0);
		assert_int_equal(notify_open(&f->ns, f->lp, f->path, on_notify,
		                             f), -1);
		assert_int_equal(errno, EADDRINUSE);
		assert_int_equal(f->ns.fd, -1);
		struct stat st;
		assert_int_equal(lstat(f->path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		if (types[i] == SOCK_DGRAM) {
			/* still the other socket's */
			assert_true(send_dgram(f->path, "x", 1, NULL, 0) == 1);
			char c;
			assert_int_equal(recv(live, &c, 1, MSG_DONTWAIT), 1);
		}
		close(live);
		unlink(f->path);
	}
}

static void test_sock_not_a_socket(void **state)
{
	struct fx *f = *state;
	/* A regular file. */
	int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(notify_open(&f->ns, f->lp, f->path, on_notify, f), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(f->ns.fd, -1);
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
	assert_int_equal(unlink(f->path), 0);

	/* A directory, a symlink (to a stale socket: not followed). */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(notify_open(&f->ns, f->lp, f->path, on_notify, f), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(rmdir(f->path), 0);
	char *target = xasprintf("%s/stale.sock", f->dir);
	int old = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa;
	socklen_t salen = client_addr(target, &sa);
	assert_int_equal(bind(old, (struct sockaddr *)&sa, salen), 0);
	close(old);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(notify_open(&f->ns, f->lp, f->path, on_notify, f), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(target, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	free(target);

	/* Nowhere to bind: the error of bind, nothing left behind. */
	char *missing = xasprintf("%s/no/such/dir.sock", f->dir);
	assert_int_equal(notify_open(&f->ns, f->lp, missing, on_notify, f), -1);
	assert_int_equal(errno, ENOENT);
	free(missing);
	/* sd_notify only takes absolute paths and '@' names. */
	assert_int_equal(notify_open(&f->ns, f->lp, "rel.sock", on_notify, f), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(notify_open(&f->ns, f->lp, "", on_notify, f), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(f->ns.fd, -1);
	notify_close(&f->ns, f->lp);
}

/* ---- floods: bounded batches, the loop keeps turning ---- */

/* A 0 ms timer: fires once per loop iteration while armed. */
static void on_tick(struct loop *lp, struct loop_timer *t)
{
	struct fx *f = t->data;
	f->ticks++;
	if (f->since_tick > f->max_between)
		f->max_between = f->since_tick;
	f->since_tick = 0;
	loop_timer_start(lp, t, 0, on_tick, f);
}

static void flood_finish(struct fx *f)
{
	loop_timer_stop(f->lp, &f->tick);
	if (f->since_tick > f->max_between)
		f->max_between = f->since_tick;
}

/* A child sends 10 000 datagrams as fast as it can; a blocking sender
 * waits for room in the queue, so nothing is lost, and the loop fires its
 * timer between batches all along. */
static void test_flood_child(void **state)
{
	struct fx *f = *state;
	const size_t total = 10000;
	fx_open(f, f->path);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		alarm(60);
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa;
		socklen_t salen = client_addr(f->ns.name, &sa);
		for (size_t i = 0; i < total; i++)
			if (sendto(fd, "WATCHDOG=1", 10, 0,
			           (struct sockaddr *)&sa, salen) != 10)
				_exit(1);
		_exit(0);
	}
	loop_timer_start(f->lp, &f->tick, 0, on_tick, f);
	run_until(f, total);
	flood_finish(f);
	assert_exited_ok(c);
	assert_true(f->n == total);
	assert_true(f->max_between <= NOTIFY_BATCH);
	assert_true(f->ticks >= total / NOTIFY_BATCH);
	assert_true(notify_dropped(&f->ns) == 0);
	assert_true(f->msg[0].watchdog);
	assert_int_equal(f->pid[0], c);
}

/* The per-sender queue limit (net.unix.max_dgram_qlen) keeps a child's
 * flood shallow; a socket's datagrams to itself are not held to it, so
 * this queue is deeper than several batches: it is read NOTIFY_BATCH at
 * a time, with the timer firing in between, and nothing is lost. */
static void test_flood_deep_queue(void **state)
{
	struct fx *f = *state;
	fx_open(f, f->path);
	struct sockaddr_un sa;
	socklen_t salen = client_addr(f->ns.name, &sa);
	size_t queued = 0;
	while (queued < 5000 &&
	       sendto(f->ns.fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
	              salen) == 7)
		queued++;
	assert_true(queued == 5000 || errno == EAGAIN);
	if (queued <= 3 * NOTIFY_BATCH)
		fail_msg("only %zu datagrams queued", queued);
	loop_timer_start(f->lp, &f->tick, 0, on_tick, f);
	run_until(f, queued);
	flood_finish(f);
	assert_true(f->n == queued);
	assert_true(f->max_between == NOTIFY_BATCH);
	assert_true(f->ticks >= queued / NOTIFY_BATCH);
	assert_int_equal(f->pid[0], getpid());
	/* Drained: nothing more arrives. */
	run_for(f, 20);
	assert_true(f->n == queued);
}

/* ---- the real client: systemd-notify ---- */

static char *find_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin");
	char *found = NULL, *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", d, prog);
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* Runs systemd-notify ARGS... with NOTIFY_SOCKET=NAME; returns its pid
 * (not waited for). */
static pid_t run_systemd_notify(const char *bin, const char *name,
                                char *const argv[])
{
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		setenv("NOTIFY_SOCKET", name, 1);
		unsetenv("WATCHDOG_PID");
		execv(bin, argv);
		_exit(127);
	}
	return c;
}

static void on_child_exit(struct loop *lp, struct loop_io *io,
                          uint32_t events)
{
	(void)events;
	*(bool *)io->data = true;
	loop_stop(lp);
}

/* Runs the loop, taking every datagram, until child C exits; returns how
 * long that took (ms).  C is then waited for (and must exit 0). */
static uint64_t run_until_exit(struct fx *f, pid_t c)
{
	uint64_t t0 = mono_ms();
	int pfd = (int)syscall(SYS_pidfd_open, c, 0);
	assert_true(pfd >= 0);
	struct loop_io io;
	bool exited = false;
	assert_int_equal(loop_io_add(f->lp, &io, pfd, EPOLLIN, on_child_exit,
	                             &exited), 0);
	f->want = SIZE_MAX;
	loop_timer_start(f->lp, &f->guard, GUARD_MS, on_guard, f);
	while (!exited && !f->timed_out)
		assert_int_equal(loop_run(f->lp), 0);
	loop_timer_stop(f->lp, &f->guard);
	loop_io_del(f->lp, &io);
	close(pfd);
	if (f->timed_out)
		fail_msg("child %d still running after %d ms", (int)c, GUARD_MS);
	assert_exited_ok(c);
	return mono_ms() - t0;
}

/* The first of the N delivered messages for which PRED holds, or -1. */
static int find_msg(const struct fx *f, size_t from,
                    bool (*pred)(const struct notify_msg *))
{
	for (size_t i = from; i < f->n && i < GOT_MAX; i++)
		if (pred(&f->msg[i]))
			return (int)i;
	return -1;
}

static bool is_ready(const struct notify_msg *m) { return m->ready; }
static bool is_watchdog(const struct notify_msg *m) { return m->watchdog; }

/* systemd-notify (since 246) follows its message with BARRIER=1 and an
 * fd, and waits up to 5 s for the manager to close it: tend closing
 * passed fds at once is what lets it exit at once, and with 0. */
static void test_systemd_notify(void **state)
{
	struct fx *f = *state;
	char *bin = find_in_path("systemd-notify");
	if (!bin) {
		print_message("(systemd-notify is not installed: the test with "
		              "the real client is skipped)\n");
		skip();
	}
	fx_open(f, f->path);
	char *const ready[] = { "systemd-notify", "--ready",
	                        "--status=up and running", NULL };
	pid_t c = run_systemd_notify(bin, f->ns.name, ready);
	assert_true(run_until_exit(f, c) < 4000);
	int i = find_msg(f, 0, is_ready);
	assert_true(i >= 0);
	assert_true(f->msg[i].has_status);
	assert_string_equal(f->msg[i].status, "up and running");
	/* systemd-notify sends as itself or, having the privilege to, on
	 * behalf of its parent (this process): either is in the tree. */
	assert_true(f->pid[i] == c || f->pid[i] == getpid());
	assert_int_equal(f->uid[i], getuid());
	assert_true(notify_dropped(&f->ns) == 0);

	/* Raw assignments, through the abstract name of a long path. */
	notify_close(&f->ns, f->lp);
	char *longp = long_path(f);
	fx_open(f, longp);
	size_t from = f->n;
	char *const raw[] = { "systemd-notify", "WATCHDOG=1",
	                      "WATCHDOG_USEC=2500000", "STOPPING=1", NULL };
	c = run_systemd_notify(bin, f->ns.name, raw);
	assert_true(run_until_exit(f, c) < 4000);
	i = find_msg(f, from, is_watchdog);
	assert_true(i >= 0);
	assert_true(f->msg[i].stopping);
	assert_true(f->msg[i].watchdog_usec == 2500000);
	assert_false(f->msg[i].ready);
	assert_true(notify_dropped(&f->ns) == 0);
	free(longp);
	free(bin);
}

#define T(fn) cmocka_unit_test(fn)
#define S(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_each_key),
		T(test_parse_several),
		T(test_parse_crlf),
		T(test_parse_unknown_and_malformed),
		T(test_parse_last_wins),
		T(test_parse_status_empty),
		T(test_parse_status_cut),
		T(test_parse_status_sanitized),
		T(test_parse_not_a_notification),
		T(test_parse_numbers),
		T(test_parse_clears),
		T(test_env),
		S(test_sock_path),
		S(test_sock_child_pid),
		T(test_abstract_name),
		S(test_sock_abstract),
		S(test_sock_fds_closed),
		S(test_sock_too_long),
		S(test_sock_not_notification),
		S(test_sock_other_uid),
		S(test_sock_stale_replaced),
		S(test_sock_live_kept),
		S(test_sock_not_a_socket),
		S(test_flood_child),
		S(test_flood_deep_queue),
		S(test_systemd_notify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
