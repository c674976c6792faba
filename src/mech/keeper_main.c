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


/* A run's next start, armed by the daemon (keeper_arm): the spawn
 * request as it came, with its descriptors. */
struct karm {
	struct keeper_when when;
	size_t len, nfds;
	int fds[KM_FDS_MAX];
	char msg[];
};

struct kmain {
	pid_t pid;
	uint32_t token;
	struct karm *arm;   /* NULL: none */
};

struct kstate {
	int sock;
	pid_t parent;
	struct buf b;           /* the message being read */
	struct kmain *mains;    /* the live mains it started */
	size_t nmains, cap;
	size_t narmed;          /* mains with an arm */
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

/* Starts the run the spawn request MSG[0..LEN) asks for, with
 * FDS[0..NFDS) (NFDS (size_t)-1: they did not all come), into RES; a
 * main that runs goes into the table as TOKEN. */
static void k_start(struct kstate *k, const void *msg, size_t len,
                    const int *fds, size_t nfds, uint32_t token,
                    struct spawn_res *res)
{
	struct keeper_spawn_msg m;
	*res = (struct spawn_res){ .pid = -1, .err = EPROTO, .step = "keeper" };
	if (nfds == (size_t)-1) {
		*res = (struct spawn_res){ .pid = -1, .err = EMFILE, .step = "pipe" };
		return;
	}
	if (keeper_decode_spawn(msg, len, &m) < 0)
		return;
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
		proc_spawn(&rq, res);
	}
	keeper_spawn_msg_free(&m);
	if (res->err)
		return;
	if (k->nmains == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 64;
		k->mains = xrealloc(k->mains, k->cap * sizeof(*k->mains));
	}
	k->mains[k->nmains++] = (struct kmain){ res->pid, token, NULL };
}

/* Starts the run the message in K->b asks for, with FDS[0..NFDS) (as
 * k_start), and answers. */
static void k_spawn(struct kstate *k, int *fds, size_t nfds)
{
	struct km_spawned a = { .type = KM_SPAWNED };
	struct spawn_res res;
	if (k->b.len >= 2 * sizeof(uint32_t))
		memcpy(&a.token, k->b.s + sizeof(uint32_t), sizeof(a.token));
	k_start(k, k->b.s, k->b.len, fds, nfds, a.token, &res);
	if (nfds != (size_t)-1)
		km_close_all(fds, nfds);
	a.pid = res.pid;
	a.err = res.err;
	a.cg_err = res.cg_err;
	if (res.step)
		snprintf(a.step, sizeof(a.step), "%s", res.step);
	/* In a pid namespace of its own (the keeper is its PID 1) the daemon
	 * names the main by another pid: a pidfd tells it which. */
	int pidfd = a.err == 0 && getpid() == 1 ? proc_pidfd(res.pid) : -1;
	if (km_send(k->sock, &a, sizeof(a), &pidfd, pidfd >= 0) < 0)
		k_contain(k, 1);
	if (pidfd >= 0)
		close(pidfd);
}

static void arm_free(struct kstate *k, struct kmain *m)
{
	if (!m->arm)
		return;
	km_close_all(m->arm->fds, m->arm->nfds);
	free(m->arm);
	m->arm = NULL;
	k->narmed--;
}

static struct kmain *k_main_of(struct kstate *k, uint32_t token)
{
	for (size_t i = 0; i < k->nmains; i++)
		if (k->mains[i].token == token)
			return &k->mains[i];
	return NULL;
}

/* The arm in K->b, with FDS[0..NFDS): held by its run's main, if that
 * still runs and it is whole; else dropped (the daemon then starts the
 * next run itself, as without one). */
static void k_arm(struct kstate *k, int *fds, size_t nfds)
{
	struct km_arm h;
	struct kmain *m = NULL;
	if (nfds != (size_t)-1 && k->b.len > sizeof(h)) {
		memcpy(&h, k->b.s, sizeof(h));
		m = k_main_of(k, h.after);
	}
	if (!m) {
		if (nfds != (size_t)-1)
			km_close_all(fds, nfds);
		return;
	}
	arm_free(k, m);
	size_t len = k->b.len - sizeof(h);
	struct karm *a = xmalloc(sizeof(*a) + len);
	a->when = h.when;
	a->len = len;
	a->nfds = nfds;
	memcpy(a->fds, fds, nfds * sizeof(*fds));
	memcpy(a->msg, k->b.s + sizeof(h), len);
	m->arm = a;
	k->narmed++;
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

static void k_message(struct kstate *k);

/* Reads what the daemon sent before this moment: a disarm sent before
 * the signal that ended a run is heard before that run's exit is. */
static void k_drain(struct kstate *k)
{
	struct pollfd pf = { k->sock, POLLIN, 0 };
	while (poll(&pf, 1, 0) > 0)
		k_message(k);
}

/* Starts the runs armed for the mains of E that exited as their arm
 * says (ARMS[i]: the arm of E's i-th record), when nothing else of any
 * run is left (no strays): a restart without the daemon's round trip. */
static void k_fire(struct kstate *k, struct km_exits *e, struct karm **arms)
{
	for (uint32_t i = 0; i < e->n; i++) {
		struct karm *a = arms[i];
		if (!a)
			continue;
		uint32_t next = 0;
		if (a->len >= 2 * sizeof(uint32_t))
			memcpy(&next, a->msg + sizeof(uint32_t), sizeof(next));
		struct spawn_res res;
		if (e->strays == 0 && next && keeper_when_fires(&a->when, e->rec[i].wstatus)) {
			k_start(k, a->msg, a->len, a->fds, a->nfds, next, &res);
			if (res.err == 0) {
				e->rec[i].next = next;
				e->rec[i].next_pid = res.pid;
				e->rec[i].next_cg_err = res.cg_err;
			}
		}
		km_close_all(a->fds, a->nfds);
		free(a);
	}
}

static void k_send_exits(struct kstate *k, struct km_exits *e, struct karm **arms)
{
	k_fire(k, e, arms);
	size_t len = offsetof(struct km_exits, rec) + e->n * sizeof(e->rec[0]);
	if (km_send(k->sock, e, len, NULL, 0) < 0)
		k_contain(k, 1);
	e->n = e->others = 0;
}

/* Reaps every child that exited and tells the daemon. */
static void k_reap(struct kstate *k)
{
	static struct km_exits e;
	static struct karm *arms[KM_EXITS_MAX];
	e = (struct km_exits){ .type = KM_EXITS };
	/* What the daemon sent before the signals that ended these runs
	 * (an arm, a disarm) is read first. */
	k_drain(k);
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
			k_send_exits(k, &e, arms);
		}
		arms[e.n] = k->mains[j].arm;
		if (arms[e.n])
			k->narmed--;
		e.rec[e.n++] = (struct km_exit){ k->mains[j].token, st, 0, 0, 0 };
		k->mains[j] = k->mains[--k->nmains];
	}
	if (!any)
		return;
	e.strays = k_strays(k);
	k_send_exits(k, &e, arms);
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
		/* (each message only if still there: the reap may have
		 * read them) */
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR))
			k_drain(&k);
	}
}

/* Reads and acts on one message of the daemon. */
static void k_message(struct kstate *k)
{
	int fds[KM_FDS_MAX];
	size_t nfds;
	ssize_t n = km_recv(k->sock, &k->b, fds, &nfds);
	if (n < 0 && errno == EMSGSIZE) {
		/* A spawn whose descriptors did not all come: it fails as
		 * it would for a pipe (EMFILE); an arm is dropped. */
		km_close_all(fds, nfds);
		nfds = (size_t)-1;
		n = (ssize_t)k->b.len;
	}
	if (n <= 0)
		k_contain(k, n == 0 ? 0 : 1);   /* the daemon is gone */
	uint32_t type = 0, after = 0;
	if ((size_t)n >= sizeof(type))
		memcpy(&type, k->b.s, sizeof(type));
	if (type == KM_BYE) {
		km_close_all(fds, nfds == (size_t)-1 ? 0 : nfds);
		k_contain(k, 0);
	}
	if (type == KM_SPAWN) {
		k_spawn(k, fds, nfds);
		return;
	}
	if (type == KM_ARM) {
		k_arm(k, fds, nfds);
		return;
	}
	if (nfds != (size_t)-1)
		km_close_all(fds, nfds);
	if (type == KM_DISARM && (size_t)n >= 2 * sizeof(uint32_t)) {
		memcpy(&after, k->b.s + sizeof(uint32_t), sizeof(after));
		struct kmain *m = k_main_of(k, after);
		if (m)
			arm_free(k, m);
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
