/* unit_run — a unit's run as processes: its environment, descriptors,
 * notify socket and cgroup, its spawn, and signals to its tree
 * (unit_int.h).  What the run's events mean is unit.c's. */
#include "unit_int.h"
#include "cgroup.h"
#include "events.h"
#include "keeper.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

extern char **environ;

/* Tells the host of a step of the run (its job, its sessions). */
void unit_run_step(struct unit *u, enum run_step step)
{
	u->host->ops->run_step(u->host->ctx, u, step);
}

/* The live processes of the run's tree. */
size_t unit_tree(struct unit *u, const struct proc_stat **members)
{
	return u->host->ops->tree(u->host->ctx, u, members);
}

/* The run's cgroup, if it has one, goes with the run. */
void unit_run_cgroup_end(struct unit *u)
{
	if (!u->run.cg)
		return;
	cg_run_end(u->run.cg);
	free(u->run.cg);
	u->run.cg = NULL;
}

/* A cgroup for the run about to start, when runs get one: its directory,
 * open, for the main process to be born in; -1: none; -2 (errno) when it
 * could not be opened for want of descriptors: the start waits.  SPARE:
 * one made already (an arm's that was not used), taken over. */
static int run_cgroup_new(struct unit *u, char *spare)
{
	struct cgroups *cg = u->host->cg;
	unit_run_cgroup_end(u);
	if (!cg->dir || cg->off) {
		if (spare)
			cg_run_end(spare);
		free(spare);
		return -1;
	}
	u->run.cg = spare ? spare : cg_run_new(cg, u->cfg->name);
	int fd = u->run.cg ? open(u->run.cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd >= 0)
		return fd;
	if (u->run.cg && (errno == EMFILE || errno == ENFILE)) {
		int e = errno;
		unit_run_cgroup_end(u);
		errno = e;
		return -2;
	}
	char *m = xasprintf("cannot make a cgroup for this run below %s (%s): "
	                    "this and later runs go without cgroups "
	                    "(docs/containment.md)", cg->dir, strerror(errno));
	unit_emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
	cg_disable(cg, m);
	free(m);
	unit_run_cgroup_end(u);
	return -1;
}

/* The main process could not join the run's cgroup (ERR): the run goes
 * on without it, and no run gets one from now on. */
static void run_cgroup_refused(struct unit *u, int err)
{
	char *m = xasprintf("the run could not join its cgroup %s (%s): this "
	                    "and later runs go without cgroups "
	                    "(docs/containment.md)", u->run.cg, strerror(err));
	unit_emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
	cg_disable(u->host->cg, m);
	free(m);
	unit_run_cgroup_end(u);
}

/* tend's environment (without socket activation variables tend itself
 * may have got; a unit of tend connect -- CMD: its client's instead),
 * then the unit's env entries; for a run also TEND_UNIT, TEND_RUN and
 * NOTIFY_SOCKET. */
struct strv unit_environ(const struct unit *u, bool run)
{
	struct strv sv = { 0 };
	const struct strv *extra = &u->cfg->env;
	char **base = u->cfg->connect_key ? u->cfg->client_env.v : environ;
	for (char **e = base; e && *e; e++) {
		size_t klen = strcspn(*e, "=");
		bool overridden = strncmp(*e, "TEND_UNIT=", 10) == 0 ||
		                  strncmp(*e, "TEND_RUN=", 9) == 0 ||
		                  strncmp(*e, "LISTEN_", 7) == 0 ||
		                  notify_env_owns(*e);
		for (size_t i = 0; i < extra->n && !overridden; i++)
			overridden = strncmp(extra->v[i], *e, klen + 1) == 0;
		if (!overridden)
			strv_push(&sv, xstrdup(*e));
	}
	for (size_t i = 0; i < extra->n; i++)
		strv_push(&sv, xstrdup(extra->v[i]));
	if (!run)
		return sv;
	strv_push(&sv, xstrdup(u->cookie));
	strv_push(&sv, xstrdup(u->run.id));
	if (u->notifying)
		notify_env(&u->notify, u->cfg->watchdog_ms, &sv);
	return sv;
}

/* Socket activation as systemd does it: N fds from 3, each named after
 * the service; LISTEN_PID is filled in by the main process itself. */
static void activation_env(const struct unit *u, size_t n, struct strv *env)
{
	struct buf names = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&names, ':');
		buf_adds(&names, u->cfg->name);
	}
	strv_push(env, xasprintf("LISTEN_FDS=%zu", n));
	strv_push(env, xstrdup("LISTEN_PID=0"));
	strv_push(env, xasprintf("LISTEN_FDNAMES=%s", names.s));
	free(names.s);
}

static void on_notify(void *data, pid_t pid, uid_t uid,
                      const struct notify_msg *m)
{
	struct unit *u = data;
	struct unit_host *h = u->host;
	/* GONE is read below for any uid: it must be set for every one. */
	bool gone = false;
	struct unit *owner = uid == getuid() || uid == 0
	                     ? h->ops->owner(h->ctx, pid, &gone) : NULL;
	if (owner != u && !(owner == NULL && gone && uid == getuid())) {
		h->notify_ignored++;
		return;
	}
	unit_notify(u, m);
}

/* The unit's notify socket, at its first start.  Returns -1 (errno) only
 * when it could not be opened for want of descriptors: the start waits. */
static int open_notify(struct unit *u)
{
	if (u->notifying || !u->host->notify_prefix)
		return 0;
	char *path = xasprintf("%s%s.notify", u->host->notify_prefix, u->cfg->name);
	int r = 0;
	if (notify_open(&u->notify, u->host->loop, path, on_notify, u) == 0) {
		u->notifying = true;
	} else if (errno == EMFILE || errno == ENFILE) {
		r = -1;
	} else {
		char *m = xasprintf("cannot open its notify socket %s (%s): it runs "
		                    "without NOTIFY_SOCKET", path, strerror(errno));
		unit_emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
		free(m);
	}
	free(path);
	return r;
}

/* A random id every process of a run carries, so that a next daemon can
 * find them if this one is killed: "TEND_RUN=<hex>" into ID. */
static void run_id_new(const struct unit *u, char id[32])
{
	uint64_t v;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = wall_ms() ^ ((uint64_t)getpid() << 32) ^ u->spawns;
	snprintf(id, 32, "TEND_RUN=%016llx", (unsigned long long)v);
}

/* A new run: its facts afresh, and its id (ID, or a new one). */
static void run_begin(struct unit *u, const char *id)
{
	unit_run_cgroup_end(u);
	free(u->run.status_text);
	u->run = (struct unit_run){ .watchdog_ms = u->cfg->watchdog_ms };
	if (id)
		snprintf(u->run.id, sizeof(u->run.id), "%s", id);
	else
		run_id_new(u, u->run.id);
	unit_run_step(u, RUN_BEGIN);
}

/* Are there descriptors for a start, and the reserve left (unit.h)?  A
 * count (fd_free: a read of /proc/self/fd) is made only when the last one
 * less UNIT_START_FDS per start since no longer shows plenty, so a crash
 * loop under a high limit does not count on every restart; and once per
 * loop iteration at most: the starts after a refusal in the same one are
 * refused without one. */
static bool fds_room(struct unit_host *h)
{
	uint64_t now = loop_wakeups(h->loop) + 1;
	if (h->fds_full_at == now)
		return false;
	if (h->fds_est >= 4L * (UNIT_START_FDS + UNIT_FDS_RESERVE)) {
		h->fds_est -= UNIT_START_FDS;
		return true;
	}
	long limit = 0, avail = fd_free(&limit);
	if (avail < 0) {   /* a limit above FD_FREE_AMPLE: plenty */
		h->fds_est = 0;
		return true;
	}
	long reserve = limit / 8 < 4 ? 4 : limit / 8 > UNIT_FDS_RESERVE
	               ? UNIT_FDS_RESERVE : limit / 8;
	if (avail < UNIT_START_FDS + reserve) {
		h->fds_full_at = now;
		h->fds_est = 0;
		return false;
	}
	h->fds_est = avail - UNIT_START_FDS;
	return true;
}

/* The run the keeper started at once after the last one (unit_run_arm)
 * is the new run: told to the host as a spawn is. */
static int run_adopt(struct unit *u, bool retry, struct spawn_res *res)
{
	run_begin(u, u->armed.id);
	if (!retry)
		unit_run_step(u, RUN_STARTING);
	struct output *o = unit_output_open(u);
	if (o)
		output_tail_clear(o);   /* its last words are this run's */
	u->run.cg = u->armed.cg;
	u->run.token = u->armed.token;
	*res = (struct spawn_res){ .pid = u->armed.pid, .cg_err = u->armed.cg_err };
	u->armed.cg = NULL;
	u->armed.token = u->armed.after = 0;
	u->armed.pid = 0;
	if (res->cg_err && u->run.cg)
		run_cgroup_refused(u, res->cg_err);
	unit_run_step(u, RUN_SPAWNED);
	return 0;
}

int unit_run_spawn(struct unit *u, bool retry, struct spawn_res *res)
{
	if (u->armed.pid)
		return run_adopt(u, retry, res);
	/* An arm not used (the exit was not one it was armed for, or came
	 * before it) was dropped by the keeper with that exit; its cgroup,
	 * empty, is this run's (below). */
	u->armed.token = u->armed.after = 0;
	run_begin(u, NULL);
	const struct unit_config *c = u->cfg;
	if (!fds_room(u->host)) {
		*res = (struct spawn_res){ .err = EMFILE, .step = "descriptors" };
		return -1;
	}
	*res = (struct spawn_res){ .step = "socket" };
	if (open_notify(u) < 0) {
		res->err = errno;
		return -1;
	}
	struct output *o = unit_output_open(u);
	if (!o && u->capture.wanted) {   /* no descriptors for it now */
		*res = (struct spawn_res){ .err = errno, .step = "pipe" };
		return -1;
	}
	if (o)
		output_tail_clear(o);   /* its last words are this run's */
	struct strv env = unit_environ(u, true);
	int out = u->captured ? u->out.wfd : u->err_fd, in = -1, sout = out;
	int fds[SPAWN_FDS_MAX];
	size_t nfds = 0;
	if (u->host->ops->run_fds(u->host->ctx, u, &in, &sout, fds,
	                          SPAWN_FDS_MAX, &nfds) < 0) {
		*res = (struct spawn_res){ .err = errno, .step = "pipe" };
		strv_free(&env);
		return -1;
	}
	if (!retry)
		unit_run_step(u, RUN_STARTING);   /* once, however many tries it takes */
	if (nfds)
		activation_env(u, nfds, &env);
	char *spare = u->armed.cg;
	u->armed.cg = NULL;
	int cg_dir = run_cgroup_new(u, spare);
	if (cg_dir == -2) {
		*res = (struct spawn_res){ .err = errno, .step = "cgroup" };
		strv_free(&env);
		unit_run_step(u, RUN_SPAWN_FAILED);
		return -1;
	}
	struct spawn_req req = { .argv = c->argv.v, .envp = env.v, .cwd = c->cwd,
	                         .fd_in = in, .fd_out = sout, .fd_err = out,
	                         .fds = fds, .nfds = nfds, .listen_pid = nfds > 0,
	                         .has_cgroup = cg_dir >= 0, .cgroup_dir = cg_dir };
	int r = keeper_spawn(u->host->keeper, &req, res, &u->run.token);
	strv_free(&env);
	if (cg_dir >= 0)
		close(cg_dir);
	if (r < 0)
		unit_run_cgroup_end(u);
	else if (res->cg_err && u->run.cg)
		run_cgroup_refused(u, res->cg_err);
	unit_run_step(u, r == 0 ? RUN_SPAWNED : RUN_SPAWN_FAILED);
	return r;
}

/* --- the next run, armed ahead (keeper.h: keeper_arm) --- */

/* A unit at backoff 0 whose next run needs nothing made at its start
 * that an arm does not hold.  Not a job's (its runs are asked for), an instance's or one with
 * clients (their descriptors are the sessions'), one that waits for its
 * after list, or one whose configuration changes at its next start; and
 * not below a keeper in a pid namespace (keeper_arm). */
bool unit_run_armable(const struct unit *u)
{
	const struct unit_config *c = u->cfg;
	const char *why;
	return c->policy.backoff_min_ms == 0 && c->policy.restart != RESTART_NEVER &&
	       !u->is_job && !u->instance && !u->next_cfg && u->want_up &&
	       !u->host->shutting_down && c->stdio == STDIO_NONE &&
	       c->listen.n == 0 && c->after.n == 0 && u->run.token &&
	       u->host->keeper && !keeper_pidns(u->host->keeper, &why);
}

static void armed_clear(struct unit *u)
{
	if (u->armed.cg)
		cg_run_end(u->armed.cg);
	free(u->armed.cg);
	u->armed.cg = NULL;
	u->armed.token = u->armed.after = 0;
	u->armed.pid = 0;
	u->armed.cg_err = 0;
}

void unit_run_arm(struct unit *u)
{
	unit_run_disarm(u);
	struct keeper_when w = { .sc = u->cfg->success };
	uint64_t now = unit_now();
	if (!unit_run_armable(u))
		return;
	w.crash = policy_at_once(&u->cfg->policy, &u->hist, EXIT_CRASH, now);
	w.clean = policy_at_once(&u->cfg->policy, &u->hist, EXIT_CLEAN, now);
	if (!w.crash && !w.clean)
		return;
	run_id_new(u, u->armed.id);
	struct strv env = unit_environ(u, true);
	for (size_t i = 0; i < env.n; i++)
		if (strcmp(env.v[i], u->run.id) == 0) {
			free(env.v[i]);
			env.v[i] = xstrdup(u->armed.id);
		}
	struct cgroups *cg = u->host->cg;
	int cg_dir = -1;
	if (cg->dir && !cg->off) {
		u->armed.cg = cg_run_new(cg, u->cfg->name);
		cg_dir = u->armed.cg ? open(u->armed.cg, O_RDONLY | O_DIRECTORY |
		                            O_CLOEXEC) : -1;
	}
	int out = u->captured ? u->out.wfd : u->err_fd;
	struct spawn_req req = { .argv = u->cfg->argv.v, .envp = env.v,
	                         .cwd = u->cfg->cwd, .fd_in = -1, .fd_out = out,
	                         .fd_err = out, .has_cgroup = cg_dir >= 0,
	                         .cgroup_dir = cg_dir };
	/* Without its cgroup (it could not be made) there is no arm: the
	 * daemon's own start says why. */
	bool ok = (cg_dir >= 0) == (u->armed.cg != NULL) &&
	          keeper_arm(u->host->keeper, u->run.token, &req, &w,
	                     &u->armed.token) == 0;
	if (cg_dir >= 0)
		close(cg_dir);
	strv_free(&env);
	if (!ok) {
		armed_clear(u);
		return;
	}
	u->armed.after = u->run.token;
}

void unit_run_disarm(struct unit *u)
{
	if (u->armed.pid)
		return;
	if (u->armed.token)
		keeper_disarm(u->host->keeper, u->armed.after);
	armed_clear(u);
}

void unit_run_armed_started(struct unit *u, uint32_t token, pid_t pid,
                            int cg_err)
{
	if (token != u->armed.token) {
		/* An arm taken back as the keeper used it (a stop crossed the
		 * exit): the run it started is the unit's to kill (below). */
		armed_clear(u);
	}
	u->armed.pid = pid;
	u->armed.cg_err = cg_err;
}

void unit_run_armed_drop(struct unit *u)
{
	if (!u->armed.pid)
		return;
	/* Started by the keeper as the exit came, but the daemon did not
	 * restart the unit then (a stop or a reload crossed the exit): it
	 * goes at once, its cgroup with it (what it forked meanwhile without
	 * one is its unit's tree, which the stop takes). */
	unit_emit(u, "warn", json_pack("{s:s, s:i}", "message",
	          "the keeper restarted the run at once as it exited, but tend "
	          "did not restart it then (a stop or a reload came at the same "
	          "moment): that new run is killed", "pid", (int)u->armed.pid));
	if (u->armed.cg)
		(void)cg_kill(u->armed.cg);
	keeper_kill_run(u->host->keeper, u->armed.pid);
	armed_clear(u);
}

/* --- a run's tree --- */

/* Sends SIG, and only SIG, to every live process of the tree; returns how
 * many got it. */
size_t unit_signal_tree(struct unit *u, int sig)
{
	const struct proc_stat *m;
	size_t n = unit_tree(u, &m), sent = 0;
	for (size_t i = 0; i < n; i++)
		sent += (size_t)proc_signal(&m[i], sig);
	return sent;
}

static size_t collect_tree(void *ctx, const struct proc_stat **members)
{
	struct unit *u = ctx;
	u->host->ops->rescan(u->host->ctx);  /* each pass must see what forked since the last */
	return unit_tree(u, members);
}

/* SIGKILL to the whole tree (see proc_freeze_kill); returns how many.
 * With a cgroup the kernel kills every process in it at once (counted
 * just before); the freeze-kill then is for what is outside it (none
 * should be). */
size_t unit_kill_tree(struct unit *u)
{
	size_t n = 0;
	if (u->run.cg) {
		const struct proc_stat *m;
		u->host->ops->rescan(u->host->ctx);
		n = unit_tree(u, &m);   /* what the kernel is about to kill */
		cg_kill(u->run.cg);
	}
	size_t k = proc_freeze_kill(collect_tree, u);
	return k > n ? k : n;
}


