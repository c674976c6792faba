#include "unit.h"
#include "sup_int.h"  /* temporary: reads struct sup (sup.h) */
#include "cgroup.h"
#include "parse.h"
#include "proc.h"
#include "job.h"
#include "proxy.h"
#include "share.h"
#include "watch.h"
#include "sup.h"
#include "util.h"
#include "words.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void stop_checks(struct unit *u);
static void start_checks(struct unit *u);

/* While SIGKILL is out, re-check the tree this often in case a death went
 * unnoticed (a process stuck in the kernel, say).  Only during a kill. */
#define KILL_RECHECK_MS 1000

const char *unit_state_name(enum unit_state s)
{
	static const char *const names[] = { "stopped", "starting", "running",
	                                     "stopping", "backoff", "failed",
	                                     "idle" };
	return (size_t)s < ARRAY_LEN(names) ? names[s] : "unknown";
}

static const char *uname_(const struct unit *u) { return u->cfg->name; }

/* The unit's one clock, for every stamp and every decision of this file:
 * CLOCK_MONOTONIC ms read when the event is handled, as the loop's timers
 * are armed (loop_timer_start).  Not the loop's time of the iteration
 * (loop_now): units start before the loop runs (sup_boot, after the
 * leftovers of a killed daemon were waited for), when that time is stale;
 * a run's start is stamped after its spawn, not before; and the stamps
 * are read by daemon.c and job.c against mono_ms, which must never be
 * earlier than them. */
static uint64_t unit_now(void) { return mono_ms(); }

static void emit(struct unit *u, const char *event, json_t *fields)
{
	events_emit(u->sup->ev, uname_(u), event, fields);
}

static void on_idle(struct loop *lp, struct loop_timer *t);

static void set_state(struct unit *u, enum unit_state s)
{
	u->state = s;
	/* The idle-stop clock runs while the service runs, from the moment
	 * it is ready; an idle service has no timer at all. */
	if (s == US_RUNNING && u->cfg->idle_stop_ms) {
		u->last_activity = unit_now();
		loop_timer_start(u->sup->loop, &u->idle, u->cfg->idle_stop_ms,
		                 on_idle, u);
	} else if (s != US_RUNNING) {
		loop_timer_stop(u->sup->loop, &u->idle);
	}
	sup_unit_changed(u->sup, u);
}

struct unit *unit_new(struct sup *sup, struct unit_config *cfg)
{
	struct unit *u = xcalloc(1, sizeof(*u));
	u->sup = sup;
	u->cfg = cfg;
	u->state = US_STOPPED;
	u->cookie = xasprintf("TEND_UNIT=%s", cfg->name);
	u->err_fd = -1;
	policy_hist_init(&u->hist, &cfg->policy);
	return u;
}

/* The run's cgroup, if it has one, goes with the run. */
static void run_cgroup_end(struct unit *u)
{
	if (!u->cg)
		return;
	cg_run_end(u->cg);
	free(u->cg);
	u->cg = NULL;
}

/* A cgroup for the run about to start, when runs get one: the cgroup.procs
 * file its main process joins (malloc'd), or NULL. */
static char *run_cgroup_new(struct unit *u)
{
	struct cgroups *cg = &u->sup->cg;
	run_cgroup_end(u);
	if (!cg->dir || cg->off)
		return NULL;
	u->cg = cg_run_new(cg, u->cfg->name);
	if (u->cg)
		return cg_procs_file(u->cg);
	char *m = xasprintf("cannot make a cgroup for this run below %s (%s): "
	                    "this and later runs go without cgroups "
	                    "(docs/containment.md)", cg->dir, strerror(errno));
	emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
	cg_disable(cg, m);
	free(m);
	return NULL;
}

/* The main process could not join the run's cgroup (ERR): the run goes
 * on without it, and no run gets one from now on. */
static void run_cgroup_refused(struct unit *u, int err)
{
	char *m = xasprintf("the run could not join its cgroup %s (%s): this "
	                    "and later runs go without cgroups "
	                    "(docs/containment.md)", u->cg, strerror(err));
	emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
	cg_disable(&u->sup->cg, m);
	free(m);
	run_cgroup_end(u);
}

void unit_free(struct unit *u)
{
	if (!u)
		return;
	loop_timer_stop(u->sup->loop, &u->timer);
	loop_timer_stop(u->sup->loop, &u->wdog);
	loop_timer_stop(u->sup->loop, &u->idle);
	loop_timer_stop(u->sup->loop, &u->forget);
	stop_checks(u);
	proxy_free(u->proxy);
	job_free(u->job);
	watch_free(u->watch);
	free(u->watch_sig);
	if (u->instance)
		share_unit_gone(u->share, u);
	else
		share_free(u->share, u->sup->shutting_down ? "tend is shutting down"
		                      : "it was removed from the configuration");
	free(u->probe);
	if (u->notifying)
		notify_close(&u->notify, u->sup->loop);
	if (u->captured)
		output_close(&u->out, u->sup->loop);
	policy_hist_free(&u->hist);
	run_cgroup_end(u);
	free(u->cookie);
	free(u->seen);
	config_unit_free(u->cfg);
	config_unit_free(u->next_cfg);
	free(u);
}

/* The unit's log could not be written: the daemon's condition. */
static void on_log_fail(void *ctx, const char *path, int err)
{
	struct unit *u = ctx;
	sup_disk_short(u->sup, path, err);
}

int unit_capture_output(struct unit *u, size_t width, int dst, int logdir,
                        const char *logname, uint64_t logmax)
{
	if (output_open(&u->out, u->sup->loop, u->cfg->name, width, dst, logdir,
	                logname, logmax) < 0)
		return -1;
	u->out.on_fail = on_log_fail;
	u->out.fail_ctx = u;
	u->captured = true;
	return 0;
}

bool unit_up(const struct unit *u)
{
	return u->state == US_STARTING || u->state == US_RUNNING;
}

bool unit_settled(const struct unit *u)
{
	return u->state == US_STOPPED || u->state == US_FAILED ||
	       u->state == US_IDLE;
}

/* --- timers --- */


static void on_timer(struct loop *lp, struct loop_timer *t);
static void on_watchdog(struct loop *lp, struct loop_timer *t);

static void arm(struct unit *u, uint64_t ms)
{
	loop_timer_start(u->sup->loop, &u->timer, ms, on_timer, u);
}

/* The watchdog deadline of a running service, from now. */
static void arm_watchdog(struct unit *u)
{
	if (u->watchdog_ms && !u->draining)
		loop_timer_start(u->sup->loop, &u->wdog, u->watchdog_ms, on_watchdog, u);
}

/* --- spawning --- */

/* tend's environment (without socket activation variables tend itself
 * may have got; a unit of tend connect -- CMD: its client's instead),
 * then the unit's env entries; for a run also TEND_UNIT, TEND_RUN and
 * NOTIFY_SOCKET. */
static struct strv environ_for(const struct unit *u, bool run)
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
	strv_push(&sv, xstrdup(u->run));
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

static void spawn_failed(struct unit *u, const struct spawn_res *res)
{
	const struct unit_config *c = u->cfg;
	u->run[0] = 0;  /* no run: nothing for a next daemon to look for */
	u->last_exit = (struct exit_info){ .reason = EXIT_SPAWN_FAILED,
	                                   .code = -1, .err = res->err,
	                                   .at = wall_ms() };
	char *what = strcmp(res->step, "chdir") == 0
	             ? xasprintf("cwd \"%s\"", c->cwd)
	             : xasprintf("%s \"%s\"", res->step, c->argv.v[0]);
	int line = config_key_line(c, strcmp(res->step, "chdir") == 0 ? "cwd" : "exec");
	char *err = line > 0
	            ? xasprintf("%s: %s (line %d of %s)", what, strerror(res->err),
	                        line, u->sup->cfg->path)
	            : xasprintf("%s: %s", what, strerror(res->err));
	emit(u, "exited", json_pack("{s:s, s:o}", "reason", "spawn_failed",
	                            "error", events_text(err)));
	free(err);
	free(what);
	if (u->job) {
		/* A job's run that could not start: that run's result. */
		job_run_over(u->job);
		u->want_up = false;
		set_state(u, US_STOPPED);
		return;
	}
	emit(u, "gave_up", json_pack("{s:s}", "reason", "spawn_failed"));
	u->gave_up = true;
	set_state(u, US_FAILED);
}

static void on_notify(void *data, pid_t pid, uid_t uid,
                      const struct notify_msg *m)
{
	struct unit *u = data;
	struct sup *s = u->sup;
	/* GONE is read below for any uid: it must be set for every one. */
	bool gone = false;
	struct unit *owner = uid == getuid() || uid == 0
	                     ? sup_owner(s, pid, &gone) : NULL;
	if (owner != u && !(owner == NULL && gone && uid == getuid())) {
		s->notify_ignored++;
		return;
	}
	unit_notify(u, m);
}

/* Did a start fail for want of tend's own resources (descriptors,
 * processes, memory) in tend's part of the work (its pipes, sockets and
 * forks), rather than in the program's (exec, cwd)?  That passes: the
 * start is tried again (unit.h). */
static bool lacked_resources(const struct spawn_res *res)
{
	bool ours = strcmp(res->step, "pipe") == 0 ||
	            strcmp(res->step, "fork") == 0 ||
	            strcmp(res->step, "socket") == 0;
	return ours && (res->err == EMFILE || res->err == ENFILE ||
	                res->err == EAGAIN || res->err == ENOMEM);
}

/* The start could not be made for want of tend's own resources: backoff,
 * and another try in UNIT_SPAWN_RETRY_MS.  Nothing is counted (the
 * program never ran) and nothing is lost: a job's run keeps its place,
 * waiters keep waiting.  Reported once: out of descriptors as the
 * daemon's condition (sup_fds_short), anything else once per unit until a
 * start works. */
static void spawn_later(struct unit *u, const struct spawn_res *res)
{
	char b[32];
	bool first = !u->spawn_retry;
	u->run[0] = 0;
	u->spawn_retry = true;
	u->retry_res = *res;
	format_duration(UNIT_SPAWN_RETRY_MS, b);
	if (res->err == EMFILE || res->err == ENFILE) {
		char *what = xasprintf("%s could not start (%s: %s) and is tried "
		                       "again every %s", uname_(u), res->step,
		                       strerror(res->err), b);
		sup_fds_short(u->sup, what);
		free(what);
	} else if (first) {
		char *m = xasprintf("cannot start: %s: %s (tend's own resources, not "
		                    "the program's); tried again every %s", res->step,
		                    strerror(res->err), b);
		emit(u, "warn", json_pack("{s:s}", "message", m));
		free(m);
	}
	set_state(u, US_BACKOFF);
	arm(u, UNIT_SPAWN_RETRY_MS);
}

/* A start that was retried is over (it worked, failed for good, or was
 * stopped). */
static void spawn_retry_over(struct unit *u)
{
	if (!u->spawn_retry)
		return;
	u->spawn_retry = false;
	sup_fds_check(u->sup);
}

/* The unit's notify socket, at its first start.  Returns -1 (errno) only
 * when it could not be opened for want of descriptors: the start waits. */
static int open_notify(struct unit *u)
{
	if (u->notifying || !u->sup->notify_prefix)
		return 0;
	char *path = xasprintf("%s%s.notify", u->sup->notify_prefix, u->cfg->name);
	int r = 0;
	if (notify_open(&u->notify, u->sup->loop, path, on_notify, u) == 0) {
		u->notifying = true;
	} else if (errno == EMFILE || errno == ENFILE) {
		r = -1;
	} else {
		char *m = xasprintf("cannot open its notify socket %s (%s): it runs "
		                    "without NOTIFY_SOCKET", path, strerror(errno));
		emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
		free(m);
	}
	free(path);
	return r;
}

static void spawn(struct unit *u)
{
	if (u->next_cfg) {
		/* A reload changed the unit: its new settings start here. */
		config_unit_free(u->cfg);
		u->cfg = u->next_cfg;
		u->next_cfg = NULL;
		policy_hist_free(&u->hist);
		policy_hist_init(&u->hist, &u->cfg->policy);
	}
	const struct unit_config *c = u->cfg;
	/* Every process of this run carries the run's random id, so that a
	 * next daemon can find the run's processes if this one is killed. */
	uint64_t id;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = wall_ms() ^ ((uint64_t)getpid() << 32) ^ u->spawns;
	snprintf(u->run, sizeof(u->run), "TEND_RUN=%016llx", (unsigned long long)id);
	if (open_notify(u) < 0) {
		struct spawn_res res = { .err = errno, .step = "socket" };
		spawn_later(u, &res);
		return;
	}
	struct strv env = environ_for(u, true);
	if (u->captured)
		output_tail_clear(&u->out);   /* its last words are this run's */
	int out = u->captured ? u->out.wfd : u->err_fd, in = -1, sout = out;
	if (u->share && share_spawn_fds(u->share, u, &in, &sout) < 0) {
		struct spawn_res res = { .err = errno, .step = "pipe" };
		strv_free(&env);
		if (lacked_resources(&res))
			spawn_later(u, &res);
		else
			spawn_failed(u, &res);
		return;
	}
	if (u->job && !u->spawn_retry)
		job_run_starting(u->job);   /* once, however many tries it takes */
	int fds[SPAWN_FDS_MAX];
	size_t nfds = u->proxy ? proxy_spawn_fds(u->proxy, fds, SPAWN_FDS_MAX) : 0;
	if (nfds)
		activation_env(u, nfds, &env);
	char *cg_procs = run_cgroup_new(u);
	struct spawn_req req = { .argv = c->argv.v, .envp = env.v, .cwd = c->cwd,
	                         .fd_in = in, .fd_out = sout, .fd_err = out,
	                         .fds = fds, .nfds = nfds, .listen_pid = nfds > 0,
	                         .title = c->name, .cgroup = cg_procs };
	struct spawn_res res;
	int r = proc_spawn_shim(&req, &res, &u->shim);
	strv_free(&env);
	free(cg_procs);
	if (r < 0)
		run_cgroup_end(u);
	else if (res.cg_err && u->cg)
		run_cgroup_refused(u, res.cg_err);
	if (u->share)
		share_spawned(u->share, u, r == 0);
	u->stop_requested = false;
	u->killing = false;
	u->gave_up = false;
	if (r < 0 && lacked_resources(&res)) {
		spawn_later(u, &res);
		return;
	}
	spawn_retry_over(u);
	if (r < 0) {
		spawn_failed(u, &res);
		return;
	}
	u->pid = res.pid;
	u->sid = res.pid;
	u->main_gone = false;
	sup_spawned(u->sup, u);
	u->started_at = unit_now();
	u->spawns++;
	u->forced = EXIT_NONE;
	u->ready_at = 0;
	u->status_text[0] = 0;
	u->mem_warned = false;
	u->top_pid = 0;
	u->top_bytes = 0;
	u->watchdog_ms = c->watchdog_ms;
	u->draining = false;
	u->idling = false;
	u->peak_mem = 0;
	emit(u, "spawned", json_pack("{s:i}", "pid", (int)res.pid));
	if (u->job)
		job_run_started(u->job);
	if (c->ready == READY_NONE) {
		u->ready_at = u->started_at;
		arm_watchdog(u);
		set_state(u, US_RUNNING);
	} else {
		if (c->start_timeout_ms)
			arm(u, c->start_timeout_ms);
		set_state(u, US_STARTING);
	}
	start_checks(u);
}

void unit_ready(struct unit *u, const char *how)
{
	if (u->state != US_STARTING)
		return;
	loop_timer_stop(u->sup->loop, &u->timer);
	u->ready_at = unit_now();
	/* The event first: whoever waited for this learns it after the file
	 * has it. */
	emit(u, "ready", json_pack("{s:s, s:I}", "how", how, "after_ms",
	                           (json_int_t)(u->ready_at - u->started_at)));
	arm_watchdog(u);
	set_state(u, US_RUNNING);
	start_checks(u);   /* from the readiness check to the health probe */
}

void unit_start(struct unit *u)
{
	u->want_up = true;
	switch (u->state) {
	case US_BACKOFF:
		loop_timer_stop(u->sup->loop, &u->timer);
		/* fall through */
	case US_STOPPED:
	case US_FAILED:
	case US_IDLE:
		policy_hist_free(&u->hist);
		policy_hist_init(&u->hist, &u->cfg->policy);
		spawn(u);
		break;
	default: /* running, or stopping: want_up restarts it afterwards */
		break;
	}
}

bool unit_wake(struct unit *u, const char *by)
{
	if (u->sup->shutting_down || u->removed)
		return false;
	switch (u->state) {
	case US_FAILED:
		return false;
	case US_STOPPED:
	case US_IDLE:
		emit(u, "woke", json_pack("{s:s, s:s}", "by", by, "from",
		                          unit_state_name(u->state)));
		unit_start(u);
		return u->state != US_FAILED;
	case US_STOPPING:
		/* An idle stop on its way: up again once it is done. */
		if (u->idling && !u->want_up)
			emit(u, "woke", json_pack("{s:s, s:s}", "by", by, "from",
			                          unit_state_name(u->state)));
		u->want_up = true;
		return true;
	default:
		return true;
	}
}

bool unit_revive(struct unit *u, const char *by)
{
	if (u->state != US_FAILED || u->sup->shutting_down || u->removed)
		return unit_wake(u, by);
	emit(u, "woke", json_pack("{s:s, s:s, s:s}", "by", by, "from",
	                          unit_state_name(u->state), "crash_budget", "new"));
	unit_start(u);
	return u->state != US_FAILED;
}

void unit_activity(struct unit *u)
{
	u->last_activity = unit_now();
}

static void stop_tree(struct unit *u);

static void on_idle(struct loop *lp, struct loop_timer *t)
{
	struct unit *u = t->data;
	uint64_t now = unit_now(), quiet = now - u->last_activity;
	if (u->share && share_busy(u->share, u)) {
		/* Requests in flight (stdio = mcp): not idle, however quiet. */
		unit_activity(u);
		quiet = 0;
	}
	if (quiet < u->cfg->idle_stop_ms) {
		/* Traffic since the timer was set: wait for the rest.  The
		 * timer moves only here, never on every byte. */
		loop_timer_start(lp, t, u->cfg->idle_stop_ms - quiet, on_idle, u);
		return;
	}
	if (u->state != US_RUNNING)
		return;
	char b[32];
	emit(u, "idle_stop", json_pack("{s:I, s:s}", "idle_ms", (json_int_t)quiet,
	                               "idle", format_duration(quiet, b)));
	u->stop_requested = true;
	u->want_up = false;
	u->idling = true;
	stop_tree(u);
}

/* --- stopping a tree --- */

/* Sends SIG, and only SIG, to every live process of the tree; returns how
 * many got it. */
static size_t signal_tree(struct unit *u, int sig)
{
	const struct proc_stat *m;
	size_t n = sup_tree(u->sup, u, &m), sent = 0;
	for (size_t i = 0; i < n; i++)
		sent += (size_t)proc_signal(&m[i], sig);
	return sent;
}

static size_t collect_tree(void *ctx, const struct proc_stat **members)
{
	struct unit *u = ctx;
	sup_rescan(u->sup);  /* each pass must see what forked since the last */
	return sup_tree(u->sup, u, members);
}

/* SIGKILL to the whole tree (see proc_freeze_kill); returns how many.
 * With a cgroup the kernel kills every process in it at once (counted
 * just before); the freeze-kill then is for what is outside it (none
 * should be). */
static size_t kill_tree(struct unit *u)
{
	size_t n = 0;
	if (u->cg) {
		const struct proc_stat *m;
		sup_rescan(u->sup);
		n = sup_tree(u->sup, u, &m);   /* what the kernel is about to kill */
		cg_kill(u->cg);
	}
	size_t k = proc_freeze_kill(collect_tree, u);
	return k > n ? k : n;
}


/* SIGKILL to the tree; WHY says what led to it, for the warn event. */
static void escalate(struct unit *u, const char *why)
{
	size_t n = kill_tree(u);
	if (!u->killing && n > 0) {
		char *m = xasprintf("%s; sent SIGKILL to the tree", why);
		emit(u, "warn", json_pack("{s:s, s:I}", "message", m, "procs",
		                          (json_int_t)n));
		free(m);
	}
	u->killing = true;
	arm(u, KILL_RECHECK_MS);
	unit_on_reaped(u);
}

void unit_kill(struct unit *u)
{
	if (unit_up(u)) {
		u->stop_requested = true;
		u->want_up = false;
		set_state(u, US_STOPPING);
		emit(u, "stopping", json_pack("{s:s}", "signal", "KILL"));
	}
	if (u->state == US_STOPPING)
		escalate(u, "killed on request (second interrupt)");
}

/* Begins the graceful stop of whatever of the tree is alive. */
static void stop_tree(struct unit *u)
{
	loop_timer_stop(u->sup->loop, &u->wdog);
	stop_checks(u);
	u->killing = false;
	set_state(u, US_STOPPING);
	signal_tree(u, u->cfg->stop_signal);
	/* A stopped process could not act on the stop signal until resumed. */
	signal_tree(u, SIGCONT);
	arm(u, u->cfg->stop_timeout_ms);
	unit_on_reaped(u);
}

void unit_stop(struct unit *u)
{
	u->want_up = false;
	switch (u->state) {
	case US_BACKOFF:
		loop_timer_stop(u->sup->loop, &u->timer);
		if (u->spawn_retry && u->job) {
			/* The run asked for never started: that is its result, and
			 * whoever waits for it hears so. */
			struct spawn_res res = u->retry_res;
			spawn_retry_over(u);
			spawn_failed(u, &res);
			break;
		}
		spawn_retry_over(u);
		emit(u, "stopped", NULL);
		set_state(u, US_STOPPED);
		break;
	case US_STARTING:
	case US_RUNNING: {
		char b[32];
		u->stop_requested = true;
		emit(u, "stopping", json_pack("{s:s, s:s}", "signal",
		     signal_name(u->cfg->stop_signal), "timeout",
		     format_duration(u->cfg->stop_timeout_ms, b)));
		stop_tree(u);
		break;
	}
	case US_STOPPING:
		/* Leftovers of an exited run are going: once they are, stay down
		 * instead of applying the restart verdict. */
		u->stop_requested = true;
		break;
	default:
		break;
	}
}

void unit_signal(struct unit *u, int sig)
{
	if (u->state == US_RUNNING || u->state == US_STARTING ||
	    u->state == US_STOPPING)
		signal_tree(u, sig);
}

/* --- after a run --- */

static void restart_now(struct unit *u)
{
	u->restarts++;
	spawn(u);
}

/* Is U a service that clients use (not an instance: it ends with its
 * client)? */
static bool has_clients(const struct unit *u)
{
	return !u->instance && (u->cfg->listen.n > 0 || u->cfg->stdio != STDIO_NONE);
}

/* The run is over: main reaped, tree empty.  Apply what was decided. */
static void run_over(struct unit *u)
{
	loop_timer_stop(u->sup->loop, &u->timer);
	loop_timer_stop(u->sup->loop, &u->wdog);
	stop_checks(u);
	u->sid = 0;
	u->run[0] = 0;
	run_cgroup_end(u);
	u->killing = false;
	if (u->captured)
		output_flush(&u->out);   /* the run's writers are gone */
	if (u->job) {
		/* A job's run is over whatever its exit: no restart policy. */
		job_run_over(u->job);
		u->want_up = false;
		set_state(u, US_STOPPED);
		return;
	}
	if (u->stop_requested) {
		if (!u->idling)
			emit(u, "stopped", NULL);
		set_state(u, u->idling ? US_IDLE : US_STOPPED);
		if (u->want_up && !u->sup->shutting_down)
			restart_now(u);
		return;
	}
	if (has_clients(u) && u->last_exit.reason == EXIT_CLEAN &&
	    !u->sup->shutting_down) {
		/* A service with clients that ended cleanly by itself (a socket
		 * activated one that exits when idle) waits for the next one. */
		emit(u, "idle_stop", json_pack("{s:s}", "reason", "exited"));
		set_state(u, US_IDLE);
		return;
	}
	const struct policy_verdict *v = &u->verdict;
	if (v->warn_clean_budget) {
		char b[32], *msg = xasprintf(
			"clean exits over budget (%u in %s); slowing restarts",
			v->cleans, format_duration(u->cfg->policy.clean_restarts.window_ms, b));
		emit(u, "warn", json_pack("{s:s}", "message", msg));
		free(msg);
	}
	switch (v->action) {
	case ACT_RESTART:
		if (v->delay_ms == 0) {
			restart_now(u);
		} else {
			emit(u, "backoff", json_pack("{s:I}", "ms", (json_int_t)v->delay_ms));
			set_state(u, US_BACKOFF);
			arm(u, v->delay_ms);
		}
		break;
	case ACT_GIVE_UP: {
		char b[32];
		emit(u, "gave_up", json_pack("{s:I, s:s}", "crashes",
		     (json_int_t)v->crashes, "window",
		     format_duration(u->cfg->policy.max_crashes.window_ms, b)));
		u->gave_up = true;
		set_state(u, US_FAILED);
		break;
	}
	case ACT_DONE:
		set_state(u, u->last_exit.reason == EXIT_CLEAN ? US_STOPPED : US_FAILED);
		break;
	}
}

void unit_on_reaped(struct unit *u)
{
	if (u->state != US_STOPPING || u->shim != 0)
		return;
	const struct proc_stat *m;
	if (sup_tree(u->sup, u, &m) == 0)
		run_over(u);
}

static void on_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct unit *u = t->data;
	switch (u->state) {
	case US_BACKOFF:
		if (u->spawn_retry)
			spawn(u);   /* the same start again: no restart to count */
		else
			restart_now(u);
		break;
	case US_STOPPING:
		escalate(u, u->killing ? "tree still alive" : "stop-timeout expired");
		break;
	case US_STARTING: {
		char b[32], *why = xasprintf("not ready after start-timeout %s",
		                             format_duration(u->cfg->start_timeout_ms, b));
		unit_restart_for(u, EXIT_TIMEOUT, why);
		free(why);
		break;
	}
	default:
		break;
	}
}

static void on_watchdog(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct unit *u = t->data;
	char b[32], *why = xasprintf("no WATCHDOG=1 for %s",
	                             format_duration(u->watchdog_ms, b));
	unit_restart_for(u, EXIT_WATCHDOG, why);
	free(why);
}

void unit_notify(struct unit *u, const struct notify_msg *m)
{
	if (!unit_up(u))
		return;   /* a late word from a run being stopped */
	if (m->has_status && strcmp(u->status_text, m->status) != 0) {
		snprintf(u->status_text, sizeof(u->status_text), "%s", m->status);
		sup_unit_changed(u->sup, u);
	}
	if (m->watchdog_usec) {
		/* The service moves its own deadline (sd_notify WATCHDOG_USEC=). */
		u->watchdog_ms = m->watchdog_usec / 1000 ? m->watchdog_usec / 1000 : 1;
		if (u->state == US_RUNNING)
			arm_watchdog(u);
	}
	if (m->watchdog && u->state == US_RUNNING && u->wdog.armed)
		arm_watchdog(u);
	if (m->ready && u->cfg->ready == READY_NOTIFY)
		unit_ready(u, "notify");
	if (m->watchdog_trigger) {
		unit_restart_for(u, EXIT_WATCHDOG, "the service sent WATCHDOG=trigger");
		return;
	}
	if (m->stopping && !u->draining) {
		/* It is on its way out by itself: no deadline or probe holds
		 * that against it; its exit is judged as usual. */
		u->draining = true;
		loop_timer_stop(u->sup->loop, &u->wdog);
		stop_checks(u);
		emit(u, "stopping", json_pack("{s:s, s:s}", "reason", "notify",
		                              "message", "the service sent STOPPING=1"));
	}
}

void unit_on_resume(struct unit *u)
{
	/* A fresh deadline: the service had no chance to send WATCHDOG=1
	 * while the machine slept. */
	if (u->state == US_RUNNING && u->wdog.armed)
		arm_watchdog(u);
	/* Probes start again, with their grace period. */
	if (unit_up(u) && !u->draining)
		start_checks(u);   /* stops the running ones first */
}

/* --- readiness and health checks --- */

/* When checks run and what their results mean is health.h's: here they
 * are run and their timer armed. */
static struct health_cfg health_cfg_of(const struct unit_config *c)
{
	return (struct health_cfg){ .interval_ms = c->health_interval_ms,
	                            .grace_ms = c->health_grace_ms,
	                            .strikes = c->health_strikes,
	                            .ready_by_probe = c->ready == READY_HEALTH };
}

static void on_check_timer(struct loop *lp, struct loop_timer *t);

static void free_spec(struct probe_spec **sp)
{
	if (*sp) {
		probe_spec_free(*sp);
		free(*sp);
		*sp = NULL;
	}
}

/* TEXT parsed for this run (the configuration was checked when loaded;
 * an environment that changed since can still break it). */
static struct probe_spec *parse_check(struct unit *u, const char *text,
                                      const char *key)
{
	struct probe_spec *sp = xcalloc(1, sizeof(*sp));
	char *why = NULL;
	if (config_probe(u->cfg, text, sp, &why) == 0)
		return sp;
	char *m = xasprintf("%s = %s: %s", key, text, why);
	emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
	free(m);
	free(why);
	free(sp);
	return NULL;
}

static void stop_checks(struct unit *u)
{
	if (u->probe)
		probe_cancel(u->probe);
	loop_timer_stop(u->sup->loop, &u->check_timer);
	free_spec(&u->health);
	free_spec(&u->ready_check);
}

static void schedule_check(struct unit *u, uint64_t ms)
{
	loop_timer_start(u->sup->loop, &u->check_timer, ms, on_check_timer, u);
}

/* The checks of the unit's state: the readiness check while starting, the
 * health probe (after its grace period) while running. */
static void start_checks(struct unit *u)
{
	const struct unit_config *c = u->cfg;
	stop_checks(u);
	u->track.strikes = 0;
	u->health_ok = -1;
	u->health_detail[0] = 0;
	if (u->state == US_STARTING) {
		if (c->ready == READY_HEALTH && c->health)
			u->ready_check = parse_check(u, c->health, "health");
		else if (c->ready == READY_SOCKET && c->backend)
			u->ready_check = parse_check(u, c->backend, "backend");
		if (u->ready_check)
			schedule_check(u, 0);
		return;
	}
	if (u->state != US_RUNNING || !c->health || u->draining)
		return;
	u->health = parse_check(u, c->health, "health");
	if (!u->health)
		return;
	struct health_cfg hc = health_cfg_of(c);
	schedule_check(u, health_begin(&u->track, &hc, unit_now()));
}

static void on_check_done(void *data, bool ok, const char *detail)
{
	struct unit *u = data;
	const struct unit_config *c = u->cfg;
	snprintf(u->health_detail, sizeof(u->health_detail), "%s", detail);
	u->health_ok = ok;
	struct health_cfg hc = health_cfg_of(c);
	uint64_t now = unit_now();
	struct health_verdict v = u->state == US_STARTING
	        ? health_ready_result(&hc, ok, u->started_at, now)
	        : health_result(&u->track, &hc, ok, now);
	switch (v.action) {
	case HEALTH_READY:
		unit_ready(u, c->ready == READY_SOCKET ? "socket" : "health");
		break;
	case HEALTH_RESTART: {
		emit(u, "health_failed", json_pack("{s:I, s:s}", "strikes",
		     (json_int_t)v.strikes, "detail", detail));
		char *why = xasprintf("health check failed %u times in a row: %s",
		                      v.strikes, detail);
		unit_restart_for(u, EXIT_HEALTH, why);
		free(why);
		break;
	}
	case HEALTH_AGAIN:
		schedule_check(u, v.next_ms);
		break;
	}
}

static void on_check_timer(struct loop *lp, struct loop_timer *t)
{
	struct unit *u = t->data;
	const struct unit_config *c = u->cfg;
	const struct probe_spec *sp = u->state == US_STARTING ? u->ready_check
	                                                      : u->health;
	if (!sp)
		return;
	/* An exec check runs with the unit's environment and directory, but
	 * without the unit's cookie: it is no part of the unit's tree. */
	struct strv env = environ_for(u, false);
	if (!u->probe)
		u->probe = xcalloc(1, sizeof(*u->probe));  /* only units with checks */
	probe_start(u->probe, lp, sp, c->health_timeout_ms, env.v, c->cwd,
	            on_check_done, u);
	strv_free(&env);
}

bool unit_reaped_check(struct unit *u, pid_t pid, int wstatus)
{
	return u->probe && probe_reaped(u->probe, pid, wstatus);
}

pid_t unit_check_pid(const struct unit *u)
{
	return u->probe ? probe_pid(u->probe) : 0;
}

void unit_restart_for(struct unit *u, enum exit_reason reason, const char *why)
{
	if (!unit_up(u))
		return;
	char b[32];
	u->forced = reason;
	emit(u, "stopping", json_pack("{s:s, s:s, s:s, s:s}", "reason",
	     exit_reason_name(reason), "message", why, "signal",
	     signal_name(u->cfg->stop_signal), "timeout",
	     format_duration(u->cfg->stop_timeout_ms, b)));
	stop_tree(u);
}

void unit_shim_reaped(struct unit *u, int wstatus)
{
	if (!u->main_gone) {
		u->shim = 0;
		unit_on_exit(u, wstatus);
		return;
	}
	/* Its exit was told: the shim held the rest of the tree till now. */
	u->main_gone = false;
	u->shim = 0;
	unit_on_reaped(u);
}

void unit_on_exit(struct unit *u, int wstatus)
{
	uint64_t now = unit_now(), uptime = now - u->started_at;
	u->pid = 0;
	loop_timer_stop(u->sup->loop, &u->wdog);
	stop_checks(u);
	struct exit_info *e = &u->last_exit;
	*e = (struct exit_info){ .code = -1, .at = wall_ms() };
	if (WIFEXITED(wstatus))
		e->code = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		e->signal = WTERMSIG(wstatus);
	e->reason = u->stop_requested ? EXIT_STOPPED
	            : u->forced ? u->forced
	            : policy_classify(&u->cfg->success, wstatus);
	/* Every field DESIGN §6 names, the one that does not apply null. */
	json_t *f = json_pack("{s:s, s:o, s:o, s:I}", "reason",
	                      exit_reason_name(e->reason),
	                      "code", e->signal ? json_null() : json_integer(e->code),
	                      "signal", e->signal ? json_string(signal_name(e->signal))
	                                          : json_null(),
	                      "uptime_ms", (json_int_t)uptime);
	emit(u, "exited", f);
	if (u->share)
		share_on_state(u->share, u);   /* no more input for this run */
	if (u->stop_requested) {
		unit_on_reaped(u);
		return;
	}
	u->verdict = policy_on_exit(&u->cfg->policy, &u->hist, e->reason, now,
	                            uptime, sup_jitter(u->sup));
	/* Whatever is left of this run goes before anything else happens. */
	const struct proc_stat *m;
	size_t left = sup_tree(u->sup, u, &m);
	if (left == 0 && !u->shim) {
		run_over(u);
		return;
	}
	/* (Nothing left, and the shim about to exit: no event; its reap ends
	 * the run, the stop's timer being the net.) */
	if (left > 0)
		emit(u, "stopping", json_pack("{s:s, s:I}", "reason", "leftovers",
		                              "procs", (json_int_t)left));
	stop_tree(u);
}
