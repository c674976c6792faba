/* keeper — the process that holds every run, and the daemon's side of it
 * (keeper.h). */
#include "keeper.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- the wire --- */

enum { KM_SPAWN = 1, KM_BYE = 2, KM_SPAWNED = 16, KM_EXITS = 17 };

struct km_spawn {
	uint32_t type, token, flags, nfds, argc, envc, has_cwd;
};

struct km_spawned {
	uint32_t type, token;
	int32_t pid, err, cg_err;
	char step[16];
};

struct km_exit {
	uint32_t token;   /* 0: no main */
	int32_t wstatus;
};

#define KM_EXITS_MAX 256

struct km_exits {
	uint32_t type, n, others, strays;
	struct km_exit rec[KM_EXITS_MAX];
};

/* The fds of a spawn, in the order they travel: the flagged ones of
 * stdin, stdout, stderr and the cgroup directory, then the sockets. */
#define KM_FDS_MAX (4 + SPAWN_FDS_MAX)

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int keeper_encode_spawn(struct buf *out, uint32_t token, uint32_t flags,
                        size_t nfds, const struct spawn_req *req)
{
	out->len = 0;
	size_t argc = strv_len(req->argv), envc = strv_len(req->envp);
	if (argc == 0 || argc + envc > KEEPER_ARGS_MAX || nfds > SPAWN_FDS_MAX) {
		errno = E2BIG;
		return -1;
	}
	struct km_spawn h = { KM_SPAWN, token, flags, (uint32_t)nfds,
	                      (uint32_t)argc, (uint32_t)envc, req->cwd != NULL };
	buf_add(out, (const char *)&h, sizeof(h));
	for (size_t i = 0; i < argc; i++)
		buf_add(out, req->argv[i], strlen(req->argv[i]) + 1);
	for (size_t i = 0; i < envc; i++)
		buf_add(out, req->envp[i], strlen(req->envp[i]) + 1);
	if (req->cwd)
		buf_add(out, req->cwd, strlen(req->cwd) + 1);
	if (out->len > KEEPER_MSG_MAX) {
		errno = E2BIG;
		return -1;
	}
	return 0;
}

void keeper_spawn_msg_free(struct keeper_spawn_msg *m)
{
	free(m->argv);
	free(m->envp);
	*m = (struct keeper_spawn_msg){ 0 };
}

/* The next NUL-terminated string of MSG at *AT, or NULL when none is. */
static char *next_string(const char *msg, size_t len, size_t *at)
{
	if (*at >= len)
		return NULL;
	const char *s = msg + *at, *nul = memchr(s, 0, len - *at);
	if (!nul)
		return NULL;
	*at += (size_t)(nul - s) + 1;
	return (char *)s;
}

int keeper_decode_spawn(const void *msg, size_t len, struct keeper_spawn_msg *m)
{
	*m = (struct keeper_spawn_msg){ 0 };
	struct km_spawn h;
	if (len < sizeof(h) || len > KEEPER_MSG_MAX)
		return -1;
	memcpy(&h, msg, sizeof(h));
	if (h.type != KM_SPAWN || h.argc == 0 || h.nfds > SPAWN_FDS_MAX ||
	    h.has_cwd > 1 || h.argc > KEEPER_ARGS_MAX ||
	    h.envc > KEEPER_ARGS_MAX - h.argc ||
	    (h.argc + h.envc + h.has_cwd) > len - sizeof(h))   /* a byte each */
		return -1;
	m->token = h.token;
	m->flags = h.flags;
	m->nfds = h.nfds;
	m->argv = xmalloc((h.argc + 1) * sizeof(*m->argv));
	m->envp = xmalloc((h.envc + 1) * sizeof(*m->envp));
	size_t at = sizeof(h);
	const char *p = msg;
	for (uint32_t i = 0; i < h.argc; i++)
		if (!(m->argv[i] = next_string(p, len, &at)))
			goto bad;
	m->argv[h.argc] = NULL;
	for (uint32_t i = 0; i < h.envc; i++)
		if (!(m->envp[i] = next_string(p, len, &at)))
			goto bad;
	m->envp[h.envc] = NULL;
	if (h.has_cwd && !(m->cwd = next_string(p, len, &at)))
		goto bad;
	if (at != len)
		goto bad;
	return 0;
bad:
	keeper_spawn_msg_free(m);
	return -1;
}

/* Sends MSG with FDS[0..NFDS) (SCM_RIGHTS).  Returns 0 or -1 (errno). */
static int send_fds(int sock, const void *msg, size_t len, const int *fds,
                    size_t nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * KM_FDS_MAX)];
	} c;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * nfds);
	}
	ssize_t w;
	while ((w = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return w == (ssize_t)len ? 0 : -1;
}

/* Receives one message into *BUF (grown to fit), its fds into FDS (at most
 * KM_FDS_MAX, CLOEXEC; *NFDS).  Returns its length, 0 at the end of the
 * socket, -1 (errno; EAGAIN when none waits on a non-blocking socket;
 * EMSGSIZE when its descriptors did not all come, for want of room in
 * this process's table: the message is in *BUF all the same). */
static ssize_t recv_fds(int sock, struct buf *b, int *fds, size_t *nfds)
{
	*nfds = 0;
	ssize_t len;
	while ((len = recv(sock, NULL, 0, MSG_PEEK | MSG_TRUNC)) < 0 &&
	       errno == EINTR)
		;
	if (len <= 0)
		return len;
	if (b->cap < (size_t)len) {
		b->cap = (size_t)len;
		b->s = xrealloc(b->s, b->cap);
	}
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * KM_FDS_MAX)];
	} c;
	struct iovec iov = { b->s, (size_t)len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	ssize_t r;
	while ((r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -1;
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS) {
			size_t n = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
				if (*nfds < KM_FDS_MAX)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
	b->len = (size_t)r;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		errno = EMSGSIZE;
		return -1;
	}
	return r;
}

static void close_all(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* --- the keeper process --- */

struct kmain {
	pid_t pid;
	uint32_t token;
};

struct kstate {
	int sock;
	pid_t parent;
	struct kmain *mains;    /* the live mains it started */
	size_t nmains, cap;
	pid_t *kids;            /* scratch: its children */
	size_t kids_cap;
	struct proc_table t;    /* scratch: the freeze-kill's */
	int *owner;
	struct proc_stat *m;
};

/* Every live descendant of the keeper. */
static size_t k_collect(void *ctx, const struct proc_stat **members)
{
	struct kstate *k = ctx;
	size_t n = 0;
	*members = k->m;
	if (proc_table_scan(&k->t) < 0)
		return 0;
	k->owner = xrealloc(k->owner, (k->t.n + 1) * sizeof(*k->owner));
	k->m = xrealloc(k->m, (k->t.n + 1) * sizeof(*k->m));
	struct tree_root any = { 0 };
	tree_assign(&k->t, getpid(), 0, &any, 1, true, k->owner);
	for (size_t i = 0; i < k->t.n; i++)
		if (k->owner[i] == 0)
			k->m[n++] = k->t.p[i];
	*members = k->m;
	return n;
}

/* The daemon is gone, or said bye: nothing below the keeper may live on. */
static __attribute__((noreturn)) void k_contain(struct kstate *k, int code)
{
	proc_freeze_kill(k_collect, k);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	_exit(code);
}

/* Starts the run B asks for, with FDS[0..NFDS) (NFDS (size_t)-1: they
 * did not all come), and answers. */
static void k_spawn(struct kstate *k, const struct buf *b, int *fds, size_t nfds)
{
	struct keeper_spawn_msg m;
	struct km_spawned a = { .type = KM_SPAWNED };
	struct spawn_res res = { .pid = -1, .err = EPROTO, .step = "keeper" };
	if (b->len >= 2 * sizeof(uint32_t))
		memcpy(&a.token, b->s + sizeof(uint32_t), sizeof(a.token));
	if (nfds == (size_t)-1) {
		res = (struct spawn_res){ .pid = -1, .err = EMFILE, .step = "pipe" };
		nfds = 0;
	} else if (keeper_decode_spawn(b->s, b->len, &m) == 0) {
		size_t want = m.nfds + !!(m.flags & KS_IN) + !!(m.flags & KS_OUT) +
		              !!(m.flags & KS_ERR) + !!(m.flags & KS_CGROUP);
		if (want == nfds) {
			size_t at = 0;
			struct spawn_req rq = { .argv = m.argv, .envp = m.envp,
			                        .cwd = m.cwd, .fd_in = -1, .fd_out = -1,
			                        .fd_err = -1,
			                        .listen_pid = m.flags & KS_LISTEN_PID };
			if (m.flags & KS_IN)
				rq.fd_in = fds[at++];
			if (m.flags & KS_OUT)
				rq.fd_out = fds[at++];
			if (m.flags & KS_ERR)
				rq.fd_err = fds[at++];
			if (m.flags & KS_CGROUP) {
				rq.has_cgroup = true;
				rq.cgroup_dir = fds[at++];
			}
			rq.fds = fds + at;
			rq.nfds = m.nfds;
			proc_spawn(&rq, &res);
		}
		keeper_spawn_msg_free(&m);
	}
	close_all(fds, nfds);
	a.pid = res.pid;
	a.err = res.err;
	a.cg_err = res.cg_err;
	if (res.step)
		snprintf(a.step, sizeof(a.step), "%s", res.step);
	if (a.err == 0) {
		if (k->nmains == k->cap) {
			k->cap = k->cap ? k->cap * 2 : 64;
			k->mains = xrealloc(k->mains, k->cap * sizeof(*k->mains));
		}
		k->mains[k->nmains++] = (struct kmain){ res.pid, a.token };
	}
	/* In a pid namespace of its own (the keeper is its PID 1) the daemon
	 * names the main by another pid: a pidfd tells it which. */
	int pidfd = a.err == 0 && getpid() == 1 ? proc_pidfd(res.pid) : -1;
	if (send_fds(k->sock, &a, sizeof(a), &pidfd, pidfd >= 0) < 0)
		k_contain(k, 1);
	if (pidfd >= 0)
		close(pidfd);
}

/* How many of the keeper's children are no live main (those are all
 * reaped at this point); all of them when the list cannot be read. */
static uint32_t k_strays(struct kstate *k)
{
	long n = proc_own_children(&k->kids, &k->kids_cap);
	if (n < 0)
		return UINT32_MAX;
	/* Every live main is a child until reaped, and none is reaped but
	 * here: the rest are the strays (one pass, whatever the number of
	 * runs).  Should the counts disagree, they are compared one by one. */
	if ((size_t)n >= k->nmains)
		return (uint32_t)((size_t)n - k->nmains);
	uint32_t strays = 0;
	for (long i = 0; i < n; i++) {
		bool main = false;
		for (size_t j = 0; j < k->nmains && !main; j++)
			main = k->mains[j].pid == k->kids[i];
		strays += !main;
	}
	return strays;
}

/* Reaps every child that exited and tells the daemon. */
static void k_reap(struct kstate *k)
{
	struct km_exits e = { .type = KM_EXITS };
	int st;
	pid_t p;
	bool any = false;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		any = true;
		size_t j = 0;
		while (j < k->nmains && k->mains[j].pid != p)
			j++;
		if (j == k->nmains) {
			e.others++;
			continue;
		}
		if (e.n == KM_EXITS_MAX) {
			e.strays = UINT32_MAX;   /* not counted yet: assume some */
			if (send_fds(k->sock, &e, sizeof(e), NULL, 0) < 0)
				k_contain(k, 1);
			e.n = e.others = 0;
		}
		e.rec[e.n++] = (struct km_exit){ k->mains[j].token, st };
		k->mains[j] = k->mains[--k->nmains];
	}
	if (!any)
		return;
	e.strays = k_strays(k);
	size_t len = offsetof(struct km_exits, rec) + e.n * sizeof(e.rec[0]);
	if (send_fds(k->sock, &e, len, NULL, 0) < 0)
		k_contain(k, 1);
}

int keeper_main(int sock, pid_t parent)
{
	struct kstate k = { .sock = sock, .parent = parent };
	sigset_t all;
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);   /* a valid set: cannot fail */
	int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
	int dead = proc_die_with_parent(SIGTERM);
	if (getppid() != parent)
		_exit(1);   /* the daemon died before the line above */
	if (sfd < 0 || dead < 0 || proc_subreaper() < 0) {
		fprintf(stderr, "tend-keeper: cannot set itself up: %s\n",
		        strerror(errno));
		return 1;
	}
	proc_set_name("tend-keeper");
	struct buf b = { 0 };
	for (;;) {
		struct pollfd pf[2] = { { sock, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			k_contain(&k, 1);
		}
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool child = false, term = false;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				child |= si.ssi_signo == SIGCHLD;
				term |= si.ssi_signo == SIGTERM;
			}
			if (term && getppid() != parent)
				k_contain(&k, 1);
			if (child)
				k_reap(&k);
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			int fds[KM_FDS_MAX];
			size_t nfds;
			ssize_t n = recv_fds(sock, &b, fds, &nfds);
			if (n < 0 && errno == EMSGSIZE) {
				/* A spawn whose descriptors did not all come:
				 * it fails as it would for a pipe (EMFILE). */
				close_all(fds, nfds);
				nfds = (size_t)-1;
				n = (ssize_t)b.len;
			}
			if (n <= 0)
				k_contain(&k, n == 0 ? 0 : 1);   /* the daemon is gone */
			uint32_t type = 0;
			if ((size_t)n >= sizeof(type))
				memcpy(&type, b.s, sizeof(type));
			if (type == KM_BYE) {
				close_all(fds, nfds == (size_t)-1 ? 0 : nfds);
				k_contain(&k, 0);
			}
			if (type == KM_SPAWN)
				k_spawn(&k, &b, fds, nfds);
			else if (nfds != (size_t)-1)
				close_all(fds, nfds);
		}
	}
}

int keeper_run(const char *parent)
{
	int type = 0;
	socklen_t len = sizeof(type);
	char *end;
	long ppid = strtol(parent, &end, 10);
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET || *end || ppid < 0 || ppid != getppid()) {
		errline("tend-keeper is started by tend's daemon itself, not by "
		        "hand; run tend instead");
		return 2;
	}
	return keeper_main(3, (pid_t)ppid);
}

/* --- the daemon's side --- */

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
	struct buf in, out;
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
		k->h.exited(k->h.ctx, q[i].token, q[i].wstatus);
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
		memcpy(k->queued + k->nq, e.rec, n * sizeof(e.rec[0]));
		k->nq += n;
		k->others_queued |= e.others > 0;
		if (!k->flush.armed)
			loop_timer_start(k->lp, &k->flush, 0, on_flush, k);
		return;
	}
	for (size_t i = 0; i < n; i++)
		k->h.exited(k->h.ctx, e.rec[i].token, e.rec[i].wstatus);
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
		ssize_t n = recv_fds(k->sock, &k->in, fds, &nfds);
		close_all(fds, nfds);
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
		if (proc_child_limits() < 0)
			kstart_fail(rep[1], "setrlimit");
		int s = fcntl(sock, F_DUPFD_CLOEXEC, 5);
		int r = fcntl(rep[1], F_DUPFD_CLOEXEC, 5);
		if (s < 0 || r < 0 || dup2(s, 3) < 0 || dup3(r, 4, O_CLOEXEC) < 0)
			kstart_fail(rep[1], "dup2");
		(void)fd_close_from(5);
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
			if (proc_read_stat(k->pid, &st) == 0 && st.state == 'T')
				(void)kill(k->pid, SIGCONT);
			continue;
		}
		int fds[KM_FDS_MAX];
		size_t nfds;
		ssize_t n = recv_fds(k->sock, &k->in, fds, &nfds);
		pid_t outer = nfds == 1 ? proc_pidfd_pid(fds[0]) : 0;
		close_all(fds, nfds);
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
	if (++k->next_token == 0)
		k->next_token = 1;
	*token = k->next_token;
	int fds[KM_FDS_MAX];
	size_t nfds = 0;
	uint32_t flags = req->listen_pid ? KS_LISTEN_PID : 0;
	const int std[3] = { req->fd_in, req->fd_out, req->fd_err };
	for (int i = 0; i < 3; i++)
		if (std[i] >= 0) {
			flags |= (uint32_t)KS_IN << i;
			fds[nfds++] = std[i];
		}
	if (req->has_cgroup) {
		flags |= KS_CGROUP;
		fds[nfds++] = req->cgroup_dir;
	}
	for (size_t i = 0; i < req->nfds && i < SPAWN_FDS_MAX; i++)
		fds[nfds++] = req->fds[i];
	struct km_spawned a;
	if (keeper_encode_spawn(&k->out, *token, flags, req->nfds, req) < 0 ||
	    send_fds(k->sock, k->out.s, k->out.len, fds, nfds) < 0 ||
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
		if (send_fds(k->sock, &bye, sizeof(bye), NULL, 0) == 0) {
			struct buf junk = { 0 };
			for (;;) {
				struct pollfd pf = { k->sock, POLLIN, 0 };
				int fds[KM_FDS_MAX];
				size_t nfds;
				if (poll(&pf, 1, 2000) <= 0)
					break;
				ssize_t n = recv_fds(k->sock, &junk, fds, &nfds);
				close_all(fds, nfds);
				if (n == 0 || (n < 0 && errno != EAGAIN))
					break;
			}
			free(junk.s);
		}
		drop_sock(k);
	}
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
	free(k->exe);
	free(k->pidns_why);
	free(k);
}
