/* keeper_main — the keeper process (keeper.h): it starts the runs the
 * daemon asks for, reaps every child, tells the daemon, and takes
 * everything below it along when the daemon goes. */
#include "keeper_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


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

/* The daemon is gone, or said bye: nothing below the keeper may live on.
 * Freeze and kill, reap what died, and again while anything is left
 * (one that was stopped and not yet killed, say), for at most about a
 * second: the keeper never waits on a child for ever. */
static __attribute__((noreturn)) void k_contain(struct kstate *k, int code)
{
	for (int pass = 0; pass < 50; pass++) {
		proc_freeze_kill(k_collect, k);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		const struct proc_stat *m;
		if (k_collect(k, &m) == 0)
			break;
		usleep(20000);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
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
	km_close_all(fds, nfds);
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
	if (km_send(k->sock, &a, sizeof(a), &pidfd, pidfd >= 0) < 0)
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
			if (km_send(k->sock, &e, sizeof(e), NULL, 0) < 0)
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
	if (km_send(k->sock, &e, len, NULL, 0) < 0)
		k_contain(k, 1);
}

int keeper_main(int sock, pid_t parent)
{
	struct kstate k = { .sock = sock, .parent = parent };
	/* Placed at 3 by a dup2, which cleared close-on-exec: no run may
	 * hold the keeper's end of the socket (it would outlive the keeper
	 * and keep the daemon waiting for answers). */
	if (fd_cloexec(sock) < 0)
		return 1;
	sigset_t all;
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);   /* a valid set: cannot fail */
	/* SIGPIPE came ignored from the daemon: every run gets the defaults
	 * from here, set once (every signal is blocked, taken by the
	 * signalfd below; its sends say MSG_NOSIGNAL). */
	proc_signals_default();
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
	/* Once quiet for a second after its start and the first spawns, the
	 * code that ran once is given back (one wakeup); what runs again
	 * stays mapped from then on. */
	bool given = false;
	for (;;) {
		struct pollfd pf[2] = { { sock, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		int ready = poll(pf, 2, given ? -1 : 1000);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			k_contain(&k, 1);
		}
		if (ready == 0) {
			(void)code_give_back();
			given = true;
			continue;
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
			ssize_t n = km_recv(sock, &b, fds, &nfds);
			if (n < 0 && errno == EMSGSIZE) {
				/* A spawn whose descriptors did not all come:
				 * it fails as it would for a pipe (EMFILE). */
				km_close_all(fds, nfds);
				nfds = (size_t)-1;
				n = (ssize_t)b.len;
			}
			if (n <= 0)
				k_contain(&k, n == 0 ? 0 : 1);   /* the daemon is gone */
			uint32_t type = 0;
			if ((size_t)n >= sizeof(type))
				memcpy(&type, b.s, sizeof(type));
			if (type == KM_BYE) {
				km_close_all(fds, nfds == (size_t)-1 ? 0 : nfds);
				k_contain(&k, 0);
			}
			if (type == KM_SPAWN)
				k_spawn(&k, &b, fds, nfds);
			else if (nfds != (size_t)-1)
				km_close_all(fds, nfds);
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
