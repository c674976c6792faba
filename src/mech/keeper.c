/* keeper — the daemon's side of its keeper (keeper.h): starting it,
 * asking it for runs, hearing of their ends. */
#include "keeper_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


struct keeper {
	struct loop *lp;
	struct keeper_hooks h;
	char *exe;
	pid_t pid;
	pid_t old_pid;              /* one that died, not reaped yet */
	int sock;                   /* -1: none */
	struct loop_io io;
	size_t strays;
	uint32_t next_token;
	uint32_t first_token;       /* of the keeper that runs now */
	bool want_pidns, in_pidns;  /* keeper_set_pidns; whether it got one */
	char *pidns_why;            /* why the last keeper got none */
	struct buf in, out, arm;
	/* exits read while a spawn waited for its answer, told from a timer */
	struct km_exit *queued;
	size_t nq, capq;
	bool others_queued;
	struct loop_timer flush;
};

struct keeper *keeper_new(struct loop *lp, const struct keeper_hooks *h,
                          const char *exe)
{
	struct keeper *k = xmalloc(sizeof(*k));
	*k = (struct keeper){ .lp = lp, .h = *h, .sock = -1,
	                      .exe = xstrdup(exe ? exe : "/proc/self/exe") };
	return k;
}

pid_t keeper_pid(const struct keeper *k)
{
	return k->pid;
}

size_t keeper_strays(const struct keeper *k)
{
	return k->strays;
}

static void tell_exit(struct keeper *k, const struct km_exit *r)
{
	struct keeper_exit e = { r->token, r->wstatus, r->next, r->next_pid,
	                         r->next_cg_err };
	k->h.exited(k->h.ctx, &e);
}

static void tell_queued(struct keeper *k)
{
	/* Taken out first: a hook may spawn, which may queue again. */
	size_t n = k->nq;
	struct km_exit *q = k->queued;
	bool others = k->others_queued;
	k->queued = NULL;
	k->nq = k->capq = 0;
	k->others_queued = false;
	for (size_t i = 0; i < n; i++)
		tell_exit(k, &q[i]);
	free(q);
	if (others)
		k->h.reaped(k->h.ctx);
}

static void on_flush(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	tell_queued(t->data);
}

/* An exits message in K->in: told now, or queued (QUEUE). */
static void take_exits(struct keeper *k, bool queue)
{
	struct km_exits e;
	size_t head = offsetof(struct km_exits, rec);
	if (k->in.len < head || k->in.len > sizeof(e) ||
	    (k->in.len - head) % sizeof(e.rec[0]))
		return;
	memcpy(&e, k->in.s, k->in.len);
	size_t n = (k->in.len - head) / sizeof(e.rec[0]);
	k->strays = e.strays;
	if (queue || k->nq) {
		if (k->nq + n > k->capq) {
			k->capq = (k->nq + n) * 2;
			k->queued = xrealloc(k->queued, k->capq * sizeof(*k->queued));
		}
		if (n)   /* (none but orphans: QUEUED may still be NULL) */
			memcpy(k->queued + k->nq, e.rec, n * sizeof(e.rec[0]));
		k->nq += n;
		k->others_queued |= e.others > 0;
		if (!k->flush.armed)
			loop_timer_start(k->lp, &k->flush, 0, on_flush, k);
		return;
	}
	for (size_t i = 0; i < n; i++)
		tell_exit(k, &e.rec[i]);
	if (e.others)
		k->h.reaped(k->h.ctx);
}

/* The socket ended: the keeper is dying (its reap tells the rest). */
static void drop_sock(struct keeper *k)
{
	if (k->sock < 0)
		return;
	loop_io_del(k->lp, &k->io);
	close(k->sock);
	k->sock = -1;
}

static void on_sock(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	struct keeper *k = io->data;
	for (int i = 0; i < 64 && k->sock >= 0; i++) {
		int fds[KM_FDS_MAX];
		size_t nfds;
		ssize_t n = km_recv(k->sock, &k->in, fds, &nfds);
		km_close_all(fds, nfds);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			drop_sock(k);
			return;
		}
		uint32_t type = 0;
		if ((size_t)n >= sizeof(type))
			memcpy(&type, k->in.s, sizeof(type));
		if (type == KM_EXITS)
			take_exits(k, false);
	}
}

/* What a keeper's child reports before its exec: the step that failed. */
struct kstart_msg {
	int err;
	char step[20];
};

static __attribute__((noreturn)) void kstart_fail(int rep, const char *step)
{
	struct kstart_msg m = { .err = errno };
	snprintf(m.step, sizeof(m.step), "%s", step);
	ssize_t w = write(rep, &m, sizeof(m));
	(void)w;
	_exit(127);
}

/* Forks and execs the keeper with SOCK at its 3: into a pid namespace of
 * its own with NS (and a user namespace where tend has no privileges).
 * Returns its pid, or -1 with *WHY (malloc'd) when it could not start. */
static pid_t fork_keeper(struct keeper *k, int sock, bool ns, char **why)
{
	int rep[2];
	if (pipe2(rep, O_CLOEXEC) < 0) {
		*why = xasprintf("pipe: %s", strerror(errno));
		return -1;
	}
	bool user = geteuid() != 0;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	/* Inside a namespace of its own its parent has no pid: 0. */
	char parent[24];
	snprintf(parent, sizeof(parent), "%ld", ns ? 0L : (long)getpid());
	pid_t pid = ns ? proc_fork_pidns(user) : fork();
	if (pid < 0) {
		*why = xasprintf("%s: %s", ns ? (user ? "clone3 (a user and pid "
		                                  "namespace)" : "clone3 (a pid "
		                                  "namespace)") : "fork",
		                 strerror(errno));
		close(rep[0]);
		close(rep[1]);
		return -1;
	}
	if (pid == 0) {
		/* Its own session, only the socket at 3 (and 0-2) open, and
		 * the limits runs get (proc_child_limits): they inherit them. */
		const char *step = "setup";
		if (ns && proc_pidns_setup(user, uid, gid, &step) < 0)
			kstart_fail(rep[1], step);
		(void)setsid();
		int s = fcntl(sock, F_DUPFD_CLOEXEC, 5);
		int r = fcntl(rep[1], F_DUPFD_CLOEXEC, 5);
		if (s < 0 || r < 0 || dup2(s, 3) < 0 || dup3(r, 4, O_CLOEXEC) < 0)
			kstart_fail(rep[1], "dup2");
		(void)fd_close_from(5);
		/* Only now: the daemon's descriptors may be more than that. */
		if (proc_child_limits() < 0)
			kstart_fail(4, "setrlimit");
		char *argv[] = { "tend-keeper", parent, NULL };
		extern char **environ;
		execve(k->exe, argv, environ);
		kstart_fail(4, "exec");
	}
	close(rep[1]);
	struct kstart_msg m;
	ssize_t r;
	while ((r = read(rep[0], &m, sizeof(m))) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (r == (ssize_t)sizeof(m)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		m.step[sizeof(m.step) - 1] = 0;
		*why = xasprintf("%s: %s", m.step, strerror(m.err));
		return -1;
	}
	return pid;
}

/* Starts the keeper.  Returns 0 or -1 (errno). */
static int start(struct keeper *k)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	/* A unix socket's sender pays for what waits in it: room for a big
	 * spawn one way, for many exits (a daemon that stalls) the other. */
	int big = 1 << 20;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	char *why = NULL;
	pid_t pid = -1;
	free(k->pidns_why);
	k->pidns_why = NULL;
	k->in_pidns = false;
	int self = k->want_pidns ? proc_pidfd(getpid()) : -1;
	if (self >= 0) {
		close(self);
		pid = fork_keeper(k, sv[1], true, &k->pidns_why);
		k->in_pidns = pid > 0;
	} else if (k->want_pidns) {
		/* Runs it started would be named by pids tend cannot map. */
		k->pidns_why = xasprintf("pidfd_open: %s", strerror(errno));
	}
	if (pid < 0)
		pid = fork_keeper(k, sv[1], false, &why);
	close(sv[1]);
	if (pid < 0) {
		errline("cannot start tend's keeper: %s", why);
		free(why);
		close(sv[0]);
		errno = ECHILD;
		return -1;
	}
	if (fd_nonblock(sv[0]) < 0 ||
	    loop_io_add(k->lp, &k->io, sv[0], EPOLLIN, on_sock, k) < 0) {
		int e = errno;
		close(sv[0]);
		(void)kill(pid, SIGKILL);   /* reaped by the daemon's SIGCHLD */
		errno = e;
		return -1;
	}
	k->pid = pid;
	k->sock = sv[0];
	k->strays = 0;
	k->first_token = k->next_token + 1;
	return 0;
}

void keeper_set_pidns(struct keeper *k, bool on)
{
	k->want_pidns = on;
}

bool keeper_pidns(const struct keeper *k, const char **why)
{
	*why = k->want_pidns ? k->pidns_why : "pid-namespace = no";
	return k->pid > 0 && k->in_pidns;
}

/* Waits for the answer to spawn TOKEN, queueing what else comes.  A
 * keeper that was stopped (a run may SIGSTOP its parent) is continued; one
 * that does not answer within 10 s is given up (ETIMEDOUT). */
static int await_spawned(struct keeper *k, uint32_t token, struct km_spawned *a)
{
	for (int waited = 0;;) {
		struct pollfd pf = { k->sock, POLLIN, 0 };
		int r = poll(&pf, 1, 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			struct proc_stat st;
			if (++waited >= 10) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (proc_read_stat(k->pid, &st) < 0 || st.state == 'Z') {
				errno = ECHILD;   /* it died: no answer will come */
				return -1;
			}
			if (st.state == 'T')
				(void)kill(k->pid, SIGCONT);
			continue;
		}
		int fds[KM_FDS_MAX];
		size_t nfds;
		ssize_t n = km_recv(k->sock, &k->in, fds, &nfds);
		pid_t outer = nfds == 1 ? proc_pidfd_pid(fds[0]) : 0;
		km_close_all(fds, nfds);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			errno = n == 0 ? ECHILD : errno;
			return -1;
		}
		uint32_t type = 0;
		if ((size_t)n >= sizeof(type))
			memcpy(&type, k->in.s, sizeof(type));
		if (type == KM_EXITS) {
			take_exits(k, true);
		} else if (type == KM_SPAWNED && (size_t)n == sizeof(*a)) {
			memcpy(a, k->in.s, sizeof(*a));
			if (a->token != token)
				continue;
			if (a->err == 0 && k->in_pidns) {
				if (outer <= 0) {
					/* Not told which process it is: it
					 * cannot be supervised. */
					errno = EPROTO;
					return -1;
				}
				a->pid = outer;
			}
			return 0;
		}
	}
}

static uint32_t new_token(struct keeper *k)
{
	if (++k->next_token == 0)
		k->next_token = 1;
	return k->next_token;
}

/* REQ's descriptors in the order they travel, into FDS (*NFDS); returns
 * the flags that say which there are. */
static uint32_t spawn_fds(const struct spawn_req *req, int *fds, size_t *nfds)
{
	uint32_t flags = req->listen_pid ? KS_LISTEN_PID : 0;
	const int std[3] = { req->fd_in, req->fd_out, req->fd_err };
	*nfds = 0;
	for (int i = 0; i < 3; i++)
		if (std[i] >= 0) {
			flags |= (uint32_t)KS_IN << i;
			fds[(*nfds)++] = std[i];
		}
	if (req->has_cgroup) {
		flags |= KS_CGROUP;
		fds[(*nfds)++] = req->cgroup_dir;
	}
	for (size_t i = 0; i < req->nfds && i < SPAWN_FDS_MAX; i++)
		fds[(*nfds)++] = req->fds[i];
	return flags;
}

int keeper_arm(struct keeper *k, uint32_t after, const struct spawn_req *req,
               const struct keeper_when *when, uint32_t *token)
{
	if (k->sock < 0 || k->in_pidns || !keeper_holds(k, after)) {
		errno = k->in_pidns ? ENOTSUP : ESRCH;
		return -1;
	}
	int fds[KM_FDS_MAX];
	size_t nfds;
	uint32_t flags = spawn_fds(req, fds, &nfds);
	*token = new_token(k);
	struct km_arm h = { .type = KM_ARM, .after = after, .when = *when };
	if (keeper_encode_spawn(&k->out, *token, flags, req->nfds, req) < 0)
		return -1;
	k->arm.len = 0;
	buf_add(&k->arm, (const char *)&h, sizeof(h));
	buf_add(&k->arm, k->out.s, k->out.len);
	/* A keeper that cannot take it now (its socket full) just has
	 * none: the exit comes without a next run. */
	return km_send(k->sock, k->arm.s, k->arm.len, fds, nfds);
}

void keeper_disarm(struct keeper *k, uint32_t after)
{
	uint32_t m[2] = { KM_DISARM, after };
	if (k && k->sock >= 0)
		(void)km_send(k->sock, m, sizeof(m), NULL, 0);
}

void keeper_kill_run(const struct keeper *k, pid_t pid)
{
	struct proc_stat st;
	if (k && k->pid > 0 && pid > 0 && proc_read_stat(pid, &st) == 0 &&
	    st.ppid == k->pid)
		(void)proc_signal(&st, SIGKILL);
}

int keeper_spawn(struct keeper *k, const struct spawn_req *req,
                 struct spawn_res *res, uint32_t *token)
{
	*res = (struct spawn_res){ .pid = -1, .step = "keeper" };
	if (k->sock < 0 && k->pid > 0) {
		/* Its socket ended: it is dying.  Its reap is yet to come
		 * (keeper_reaped: the lost hook, for its runs only); a new
		 * one takes over now. */
		(void)kill(k->pid, SIGKILL);
		k->old_pid = k->pid;
		k->pid = 0;
	}
	if (k->pid <= 0 && start(k) < 0) {
		res->err = errno;
		return -1;
	}
	int fds[KM_FDS_MAX];
	size_t nfds;
	uint32_t flags = spawn_fds(req, fds, &nfds);
	*token = new_token(k);
	struct km_spawned a;
	if (keeper_encode_spawn(&k->out, *token, flags, req->nfds, req) < 0 ||
	    km_send(k->sock, k->out.s, k->out.len, fds, nfds) < 0 ||
	    await_spawned(k, *token, &a) < 0) {
		res->err = errno;
		if (errno != E2BIG && errno != EMSGSIZE) {
			/* A keeper that cannot be talked to is of no use:
			 * the next spawn starts another. */
			drop_sock(k);
			(void)kill(k->pid, SIGKILL);
		}
		return -1;
	}
	if (a.err) {
		/* The step's name, kept until the next failure (a spawn's
		 * caller reports it at once). */
		static char step[sizeof(a.step)];
		memcpy(step, a.step, sizeof(step));
		step[sizeof(step) - 1] = 0;
		res->err = a.err;
		res->step = step;
		return -1;
	}
	res->pid = a.pid;
	res->cg_err = a.cg_err;
	res->err = 0;
	res->step = NULL;
	return 0;
}

bool keeper_reaped(struct keeper *k, pid_t pid)
{
	if (pid <= 0 || (pid != k->pid && pid != k->old_pid))
		return false;
	if (pid == k->old_pid) {
		k->old_pid = 0;
	} else {
		drop_sock(k);
		k->pid = 0;
		k->strays = 0;
		k->first_token = k->next_token + 1;   /* none of its runs is current */
	}
	tell_queued(k);
	k->h.lost(k->h.ctx);
	return true;
}

void keeper_on_sigchld(struct keeper *k)
{
	int st;
	pid_t pid = k->pid;
	if (pid <= 0 || waitpid(pid, &st, WNOHANG | WUNTRACED) != pid)
		return;
	if (WIFSTOPPED(st))
		(void)kill(pid, SIGCONT);
	else
		(void)keeper_reaped(k, pid);
}

bool keeper_holds(const struct keeper *k, uint32_t token)
{
	return k->pid > 0 && (int32_t)(token - k->first_token) >= 0;
}

void keeper_free(struct keeper *k)
{
	if (!k)
		return;
	if (k->sock >= 0) {
		/* It kills what is left (nothing should be) and exits: its
		 * end of the socket closes then. */
		uint32_t bye = KM_BYE;
		if (km_send(k->sock, &bye, sizeof(bye), NULL, 0) == 0) {
			struct buf junk = { 0 };
			for (;;) {
				struct pollfd pf = { k->sock, POLLIN, 0 };
				int fds[KM_FDS_MAX];
				size_t nfds;
				if (poll(&pf, 1, 2000) <= 0)
					break;
				ssize_t n = km_recv(k->sock, &junk, fds, &nfds);
				km_close_all(fds, nfds);
				if (n == 0 || (n < 0 && errno != EAGAIN))
					break;
			}
			free(junk.s);
		}
		drop_sock(k);
	}
	if (k->old_pid > 0)   /* dead already (killed), not reaped yet */
		while (waitpid(k->old_pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (k->pid > 0) {
		if (waitpid(k->pid, NULL, WNOHANG) == 0) {
			(void)kill(k->pid, SIGKILL);   /* it did not go in time */
			while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	loop_timer_stop(k->lp, &k->flush);
	free(k->queued);
	free(k->in.s);
	free(k->out.s);
	free(k->arm.s);
	free(k->exe);
	free(k->pidns_why);
	free(k);
}
