#include "probe.h"
#include "parse.h"
#include "paths.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* --- running a check --- */

static void on_timeout(struct loop *lp, struct loop_timer *t);

/* Ends whatever runs: the watch, the fd, the timer, the exec check's
 * process group.  FN is not called. */
static void stop(struct probe *p)
{
	if (!p->running)
		return;
	loop_timer_stop(p->lp, &p->timer);
	loop_io_del(p->lp, &p->io);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);   /* not reaped yet: the group is still its */
		p->killed = p->pid;
		p->pid = 0;
	}
	free(p->target);
	free(p->req);
	free(p->later_detail);
	p->target = p->req = p->later_detail = NULL;
	p->running = false;
}

/* Ends the check and reports it.  DETAIL is owned. */
static void finish(struct probe *p, bool ok, char *detail)
{
	probe_done_fn fn = p->fn;
	void *data = p->data;
	stop(p);
	char *line = one_line(detail);
	free(detail);
	fn(data, ok, line);   /* may start the next check on P, or free it */
	free(line);
}

static void fail(struct probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct probe *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *d = xvasprintf(fmt, ap);
	va_end(ap);
	finish(p, false, d);
}

static void on_later(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct probe *p = t->data;
	char *d = p->later_detail;
	p->later_detail = NULL;
	finish(p, p->later_ok, d);
}

/* A failure found inside probe_start: reported from the loop. */
static void fail_later(struct probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_later(struct probe *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(p->later_detail);
	p->later_detail = xvasprintf(fmt, ap);
	va_end(ap);
	p->later_ok = false;
	loop_io_del(p->lp, &p->io);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	loop_timer_start(p->lp, &p->timer, 0, on_later, p);
}

static void on_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct probe *p = t->data;
	char d[32];
	format_duration(p->timeout_ms, d);
	if (p->kind == PROBE_EXEC)
		fail(p, "timed out after %s", d);
	else if (!p->connected)
		fail(p, "timed out after %s connecting to %s", d, p->target);
	else
		fail(p, "timed out after %s waiting for an answer from %s", d,
		     p->target);
}

/* --- tcp, unix, http --- */

static void http_read(struct probe *p)
{
	for (;;) {
		size_t room = sizeof(p->in) - p->in_len;
		ssize_t r = room ? recv(p->fd, p->in + p->in_len, room, 0) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0) {
			fail(p, "read %s: %s", p->target, strerror(errno));
			return;
		}
		p->in_len += (size_t)r;
		int code = probe_http_status(p->in, p->in_len);
		if (code > 0) {
			finish(p, code >= 200 && code <= 299, xasprintf("HTTP %d", code));
			return;
		}
		if (code < 0 || (code == 0 && p->in_len == sizeof(p->in))) {
			/* Show how it starts: its first line, 40 bytes at most. */
			size_t n = 0;
			while (n < p->in_len && n < 40 && p->in[n] != '\r' &&
			       p->in[n] != '\n')
				n++;
			fail(p, "not an HTTP response from %s: \"%.*s\"", p->target,
			     (int)n, p->in);
			return;
		}
		if (r == 0) {
			fail(p, p->in_len ? "%s closed the connection in the middle of "
			                    "the status line"
			                  : "%s closed the connection without an answer",
			     p->target);
			return;
		}
	}
}

static void http_send(struct probe *p)
{
	while (p->req_off < p->req_len) {
		ssize_t w = send(p->fd, p->req + p->req_off, p->req_len - p->req_off,
		                 MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;   /* EPOLLOUT again */
		if (w < 0) {
			fail(p, "send %s: %s", p->target, strerror(errno));
			return;
		}
		p->req_off += (size_t)w;
	}
	if (loop_io_mod(p->lp, &p->io, EPOLLIN) < 0)
		fail(p, "epoll: %s", strerror(errno));
}

static void on_socket(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	struct probe *p = io->data;
	if (!p->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (!err && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT))
			err = ECONNRESET;
		if (err) {
			fail(p, "connect %s: %s", p->target, strerror(err));
			return;
		}
		p->connected = true;
		if (p->kind != PROBE_HTTP) {
			finish(p, true, xasprintf("connected to %s", p->target));
			return;
		}
	}
	if (p->req_off < p->req_len)
		http_send(p);
	else
		http_read(p);
}

static void start_connect(struct probe *p, const struct addr *a)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail_later(p, "socket: %s", strerror(errno));
		return;
	}
	p->fd = fd;
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
	socklen_t len = a->len;
	struct sockaddr_un su;
	int dirfd = -1;
	if (a->via_dir) {
		/* Longer than sun_path: through an open fd of its directory. */
		len = paths_sockaddr(a->text, &su, &dirfd);
		if (len == (socklen_t)-1) {
			fail_later(p, "connect %s: %s", a->text, strerror(errno));
			return;
		}
		sa = (const struct sockaddr *)&su;
	}
	int r = connect(fd, sa, len);
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);   /* a Unix connect resolves the path at once */
	if (r < 0 && e != EINPROGRESS) {
		fail_later(p, "connect %s: %s", a->text, strerror(e));
		return;
	}
	if (loop_io_add(p->lp, &p->io, fd, EPOLLOUT, on_socket, p) < 0)
		fail_later(p, "epoll: %s", strerror(errno));
}

/* --- exec --- */

/* Reads what the pipe holds: the first line is kept, the rest dropped.
 * At EOF the pipe is closed (the check still waits for its exit). */
static void exec_drain(struct probe *p)
{
	char b[4096];
	for (int rounds = 0; p->fd >= 0 && rounds < 16; rounds++) {
		ssize_t r = read(p->fd, b, sizeof(b));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			loop_io_del(p->lp, &p->io);
			close(p->fd);
			p->fd = -1;
			return;
		}
		for (ssize_t i = 0; i < r && !p->line_done; i++) {
			if (b[i] == '\n' || p->in_len == PROBE_LINE_MAX)
				p->line_done = true;
			else
				p->in[p->in_len++] = b[i];
		}
	}
}

static void on_pipe(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	exec_drain(io->data);
}

static void start_exec(struct probe *p, const struct probe_spec *spec,
                       char *const *envp, const char *cwd)
{
	if (spec->argv.n == 0) {
		fail_later(p, "the command is empty");
		return;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fail_later(p, "pipe: %s", strerror(errno));
		return;
	}
	p->fd = pfd[0];
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) {
		close(pfd[1]);
		fail_later(p, "/dev/null: %s", strerror(errno));
		return;
	}
	struct spawn_req rq = {
		.argv = spec->argv.v, .envp = envp ? envp : environ, .cwd = cwd,
		.fd_in = null, .fd_out = pfd[1], .fd_err = pfd[1],
		.die_with_parent = true,   /* no shim: never outlives tend */
	};
	struct spawn_res rs;
	int r = proc_spawn(&rq, &rs);
	close(null);
	close(pfd[1]);
	if (r < 0) {
		if (strcmp(rs.step, "chdir") == 0)
			fail_later(p, "cwd \"%s\": %s", cwd, strerror(rs.err));
		else
			fail_later(p, "%s \"%s\": %s", rs.step, spec->argv.v[0],
			           strerror(rs.err));
		return;
	}
	p->pid = rs.pid;
	if (fd_nonblock(p->fd) < 0 ||
	    loop_io_add(p->lp, &p->io, p->fd, EPOLLIN, on_pipe, p) < 0)
		fail_later(p, "pipe: %s", strerror(errno));
}

void probe_start(struct probe *p, struct loop *lp, const struct probe_spec *spec,
                 uint64_t timeout_ms, char *const *envp, const char *cwd,
                 probe_done_fn fn, void *data)
{
	probe_cancel(p);
	p->lp = lp;
	p->fn = fn;
	p->data = data;
	p->running = true;
	p->kind = spec->kind;
	p->timeout_ms = timeout_ms;
	p->fd = -1;
	p->connected = false;
	p->pid = 0;
	p->in_len = 0;
	p->line_done = false;
	p->req_len = p->req_off = 0;
	p->io = (struct loop_io){ .fd = -1 };
	p->timer = (struct loop_timer){ 0 };
	loop_timer_start(lp, &p->timer, timeout_ms, on_timeout, p);
	if (spec->kind == PROBE_EXEC) {
		p->target = xstrdup(spec->argv.n ? spec->argv.v[0] : "");
		start_exec(p, spec, envp, cwd);
		return;
	}
	p->target = xstrdup(spec->addr.text);
	if (spec->kind == PROBE_HTTP) {
		p->req = xasprintf("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: tend\r\n"
		                   "Connection: close\r\n\r\n", spec->path, spec->host);
		p->req_len = strlen(p->req);
	}
	start_connect(p, &spec->addr);
}

void probe_cancel(struct probe *p)
{
	stop(p);
}

bool probe_reaped(struct probe *p, pid_t pid, int wstatus)
{
	if (pid <= 0)
		return false;
	if (p->killed == pid) {
		p->killed = 0;
		return true;
	}
	if (!p->running || p->pid != pid)
		return false;
	p->pid = 0;
	kill(-pid, SIGKILL);   /* whatever the check left in its group */
	exec_drain(p);
	while (p->in_len && (p->in[p->in_len - 1] == '\r' ||
	                     p->in[p->in_len - 1] == ' ' ||
	                     p->in[p->in_len - 1] == '\t'))
		p->in_len--;
	const char *sep = p->in_len ? ": " : "";
	int n = (int)p->in_len;
	if (WIFEXITED(wstatus)) {
		int code = WEXITSTATUS(wstatus);
		finish(p, code == 0, xasprintf("exit code %d%s%.*s", code, sep, n, p->in));
	} else {
		int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
		finish(p, false, xasprintf("killed by signal %d (%s)%s%.*s", sig,
		                           signal_name(sig), sep, n, p->in));
	}
	return true;
}

pid_t probe_pid(const struct probe *p)
{
	return p->running ? p->pid : 0;
}

bool probe_running(const struct probe *p)
{
	return p->running;
}
