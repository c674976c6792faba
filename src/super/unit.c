/* unit — a unit's state machine: the actions of unit_fsm.c's table, the
 * one way into a state, and the events from outside (unit.h). */
#include "unit_int.h"
#include "keeper.h"
#include "events.h"
#include "parse.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* While SIGKILL is out, re-check the tree this often in case a death went
 * unnoticed (a process stuck in the kernel, say).  Only during a kill. */
#define KILL_RECHECK_MS 1000

/* An event and what it carries. */
struct uev {
	enum fsm_event type;
	int wstatus;              /* exit: the main process's wait status */
	enum exit_reason reason;  /* force: why tend ends the run */
	const char *why;          /* force, kill: words for the events */
	const char *by;           /* wake, revive: who wants the service */
	const char *how;          /* ready: notify, health, socket */
	uint64_t quiet_ms;        /* idle: how long without traffic */
};

static void dispatch(struct unit *u, const struct uev *ev);
static void on_timer(struct loop *lp, struct loop_timer *t);
static void on_watchdog(struct loop *lp, struct loop_timer *t);
static void on_idle(struct loop *lp, struct loop_timer *t);

void unit_emit(struct unit *u, const char *event, json_t *fields)
{
	events_emit(u->host->ev, u->cfg->name, event, fields);
}

/* --- the state machine --- */

/* The table and the code disagree: a bug.  The strict build (the one the
 * tests run with sanitizers) stops at once; the product says so in its
 * events and goes on. */
static void fsm_broken(struct unit *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fsm_broken(struct unit *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
#ifdef TEND_STRICT
	errline("internal error: unit %s: %s (unit_fsm.c)", u->cfg->name, m);
	abort();
#else
	char *w = xasprintf("internal error: %s (unit_fsm.c); please report it", m);
	unit_emit(u, "warn", json_pack("{s:s}", "message", w));
	free(w);
#endif
	free(m);
}

/* The state's timer, when it has one: how long (*MS). */
static bool state_timer(const struct unit *u, uint64_t *ms)
{
	switch (fsm_states[u->st].timer) {
	case T_BACKOFF: *ms = u->run.verdict.delay_ms; return true;
	case T_RETRY:   *ms = UNIT_SPAWN_RETRY_MS; return true;
	case T_START:   *ms = u->cfg->start_timeout_ms; return *ms > 0;
	case T_STOP:    *ms = u->cfg->stop_timeout_ms; return true;
	case T_KILL:    *ms = KILL_RECHECK_MS; return true;
	case T_NONE:    break;
	}
	return false;
}

/* The watchdog deadline of a running service, from now. */
static void arm_watchdog(struct unit *u)
{
	if (u->run.watchdog_ms && !u->run.draining)
		loop_timer_start(u->host->loop, &u->wdog, u->run.watchdog_ms,
		                 on_watchdog, u);
}

/* The timers of the state just entered, every other one stopped: the
 * state's own, the watchdog and the idle-stop clock while running (the
 * clock from the moment it is ready; an idle service has none), the
 * readiness check while starting, the health probe while running. */
static void arm_state(struct unit *u)
{
	struct loop *lp = u->host->loop;
	uint64_t ms;
	if (state_timer(u, &ms))
		loop_timer_start(lp, &u->timer, ms, on_timer, u);
	else
		loop_timer_stop(lp, &u->timer);
	loop_timer_stop(lp, &u->wdog);
	loop_timer_stop(lp, &u->idle);
	if (u->st == F_RUNNING) {
		arm_watchdog(u);
		if (u->cfg->idle_stop_ms) {
			u->last_activity = unit_now();
			loop_timer_start(lp, &u->idle, u->cfg->idle_stop_ms, on_idle, u);
		}
	}
	if (fsm_states[u->st].up)
		unit_checks_start(u);
	else
		unit_checks_stop(u);
}

/* The one way into a state: its timers, then whoever watches the unit
 * hears of it (the host's changed).  WHY is the reason it is there. */
static void enter(struct unit *u, enum fsm_state to, enum unit_reason why)
{
	enum fsm_state from = u->st;
	if (!fsm_may_move(from, to))
		fsm_broken(u, "%s -> %s is no move of the table",
		           fsm_states[from].name, fsm_states[to].name);
	u->st = to;
	u->reason = why;
	/* Whatever ends or stops a run takes its armed next run back first
	 * (before any signal to its tree). */
	if (to != F_STARTING && to != F_RUNNING) {
		loop_timer_stop(u->host->loop, &u->arm);
		unit_run_disarm(u);
	}
	arm_state(u);
	if (from == F_RETRY && to != F_RETRY)
		u->host->ops->fds_check(u->host->ctx);   /* a start retried is over */
	u->host->ops->changed(u->host->ctx, u);
}

enum unit_state unit_state(const struct unit *u) { return fsm_states[u->st].shown; }
bool unit_up(const struct unit *u) { return fsm_states[u->st].up; }
bool unit_retrying(const struct unit *u) { return u->st == F_RETRY; }

bool unit_waits_for_fds(const struct unit *u)
{
	return u->st == F_RETRY && (u->retry_res.err == EMFILE ||
	                            u->retry_res.err == ENFILE);
}

char *unit_fds_reason(const char *what)
{
	struct rlimit rl = { 0 };
	getrlimit(RLIMIT_NOFILE, &rl);
	char b[32];
	format_duration(UNIT_SPAWN_RETRY_MS, b);
	return xasprintf("%s: tend is out of file descriptors (its limit is %llu); "
	                 "tried again every %s; raise the limit (ulimit -n) before "
	                 "tend starts, or run fewer services", what,
	                 (unsigned long long)rl.rlim_cur, b);
}
bool unit_idle_stopped(const struct unit *u) { return u->reason == R_IDLE; }

bool unit_gave_up(const struct unit *u)
{
	return u->st == F_FAILED && u->reason == R_GAVE_UP;
}

bool unit_settled(const struct unit *u)
{
	return u->st == F_STOPPED || u->st == F_FAILED || u->st == F_IDLE;
}

bool unit_down_for_good(const struct unit *u)
{
	return u->st == F_FAILED || u->st == F_IDLE ||
	       (u->st == F_STOPPED && !u->want_up);
}

/* Was the current stop asked for (rather than the run's own end)? */
static bool stop_asked(const struct unit *u)
{
	return u->reason == R_REQUEST || u->reason == R_IDLE;
}

/* --- the unit and its resources --- */

struct unit *unit_new(struct unit_host *host, struct unit_config *cfg)
{
	struct unit *u = xcalloc(1, sizeof(*u));
	u->host = host;
	u->is_job = cfg->kind == KIND_JOB;
	u->cfg = cfg;
	u->st = F_STOPPED;
	u->reason = R_NONE;
	u->cookie = xasprintf("TEND_UNIT=%s", cfg->name);
	u->err_fd = -1;
	policy_hist_init(&u->hist, &cfg->policy);
	return u;
}

void unit_free(struct unit *u)
{
	if (!u)
		return;
	loop_timer_stop(u->host->loop, &u->timer);
	loop_timer_stop(u->host->loop, &u->wdog);
	loop_timer_stop(u->host->loop, &u->arm);
	loop_timer_stop(u->host->loop, &u->idle);
	unit_checks_stop(u);
	free(u->probe);
	if (u->notifying)
		notify_close(&u->notify, u->host->loop);
	if (u->captured)
		output_close(&u->out, u->host->loop);
	free(u->capture.logname);
	free(u->start_why);
	free(u->waiting_for);
	policy_hist_free(&u->hist);
	unit_run_disarm(u);
	unit_run_armed_drop(u);
	unit_run_cgroup_end(u);
	free(u->run.status_text);
	free(u->health_detail);
	free(u->cookie);
	config_unit_free(u->cfg);
	config_unit_free(u->next_cfg);
	free(u);
}

/* The unit's log could not be written: the daemon's condition. */
static void on_log_fail(void *ctx, const char *path, int err)
{
	struct unit *u = ctx;
	u->host->ops->disk_short(u->host->ctx, path, err);
}

void unit_capture_output(struct unit *u, size_t width, int dst, int logdir,
                         const char *logname, uint64_t logmax)
{
	free(u->capture.logname);
	u->capture.wanted = true;
	u->capture.width = width;
	u->capture.dst = dst;
	u->capture.logdir = logdir;
	u->capture.logname = logname ? xstrdup(logname) : NULL;
	u->capture.logmax = logmax;
}

struct output *unit_output_open(struct unit *u)
{
	if (u->captured || !u->capture.wanted)
		return unit_output(u);
	if (output_open(&u->out, u->host->loop, u->cfg->name, u->capture.width,
	                u->capture.dst, u->capture.logdir, u->capture.logname,
	                u->capture.logmax) < 0) {
		if (errno == EMFILE || errno == ENFILE)
			return NULL;   /* asked again at the next start */
		char *m = xasprintf("cannot capture its output (%s%s%s); it goes "
		                    "to tend's stderr, unlabelled and not logged",
		                    u->capture.logname ? u->capture.logname : "",
		                    u->capture.logname ? ": " : "", strerror(errno));
		unit_emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
		free(m);
		u->capture.wanted = false;
		return NULL;
	}
	u->out.on_fail = on_log_fail;
	u->out.fail_ctx = u;
	u->captured = true;
	return &u->out;
}

void unit_set_log_max(struct unit *u, uint64_t max)
{
	u->capture.logmax = max;
	if (u->captured && u->out.logging)
		logfile_set_max(&u->out.log, max);
}

/* --- spawning --- */

/* Did a start fail for want of tend's own resources (descriptors,
 * processes, memory) in tend's part of the work (its pipes, sockets and
 * forks), rather than in the program's (exec, cwd)?  That passes: the
 * start is tried again (unit.h). */
static bool lacked_resources(const struct spawn_res *res)
{
	bool ours = strcmp(res->step, "pipe") == 0 ||
	            strcmp(res->step, "descriptors") == 0 ||
	            strcmp(res->step, "fork") == 0 ||
	            strcmp(res->step, "socket") == 0 ||
	            strcmp(res->step, "cgroup") == 0;
	/* A keeper that could not be started or died on the way: the
	 * next try starts a new one (keeper.h). */
	return strcmp(res->step, "keeper") == 0 ||
	       (ours && (res->err == EMFILE || res->err == ENFILE ||
	                 res->err == EAGAIN || res->err == ENOMEM));
}

/* A start that cannot be made (told as exited, spawn_failed): a job's
 * run has that result; a service gives up (event gave_up, REASON). */
static void start_over(struct unit *u, const char *reason)
{
	if (u->is_job) {
		unit_run_step(u, RUN_OVER);
		u->want_up = false;
		enter(u, F_STOPPED, R_JOB_DONE);
		return;
	}
	unit_emit(u, "gave_up", json_pack("{s:s}", "reason", reason));
	enter(u, F_FAILED, R_GAVE_UP);
}

static void spawn_failed(struct unit *u, const struct spawn_res *res)
{
	const struct unit_config *c = u->cfg;
	u->run.id[0] = 0;  /* no run: nothing for a next daemon to look for */
	u->last_exit = (struct exit_info){ .reason = EXIT_SPAWN_FAILED,
	                                   .code = -1, .err = res->err,
	                                   .at = wall_ms() };
	char *what = strcmp(res->step, "chdir") == 0
	             ? xasprintf("cwd \"%s\"", c->cwd)
	             : xasprintf("%s \"%s\"", res->step, c->argv.v[0]);
	int line = config_key_line(c, strcmp(res->step, "chdir") == 0 ? "cwd" : "exec");
	char *err = line > 0
	            ? xasprintf("%s: %s (line %d of %s)", what, strerror(res->err),
	                        line, u->host->config_path)
	            : xasprintf("%s: %s", what, strerror(res->err));
	unit_emit(u, "exited", json_pack("{s:s, s:o}", "reason", "spawn_failed",
	                            "error", events_text(err)));
	free(err);
	free(what);
	start_over(u, "spawn_failed");
}

/* The start could not be made for want of tend's own resources: retry,
 * another try in UNIT_SPAWN_RETRY_MS.  Nothing is counted (the program
 * never ran) and nothing is lost: a job's run keeps its place, waiters
 * keep waiting.  Reported once: out of descriptors as the daemon's
 * condition (the host's fds_short), anything else once per unit until a start
 * works. */
static void spawn_later(struct unit *u, const struct spawn_res *res)
{
	char b[32];
	bool first = u->st != F_RETRY;
	u->run.id[0] = 0;
	u->retry_res = *res;
	format_duration(UNIT_SPAWN_RETRY_MS, b);
	if (res->err == EMFILE || res->err == ENFILE) {
		char *what = xasprintf("%s could not start (%s: %s) and is tried "
		                       "again every %s", u->cfg->name, res->step,
		                       strerror(res->err), b);
		u->host->ops->fds_short(u->host->ctx, what);
		free(what);
	} else if (first) {
		char *m = xasprintf("cannot start: %s: %s (tend's own resources, not "
		                    "the program's); tried again every %s", res->step,
		                    strerror(res->err), b);
		unit_emit(u, "warn", json_pack("{s:s}", "message", m));
		free(m);
	}
	enter(u, F_RETRY, R_NONE);
}

/* The start failed (RES): tried again later, or failed for good. */
static void spawn_error(struct unit *u, const struct spawn_res *res)
{
	if (lacked_resources(res))
		spawn_later(u, res);
	else
		spawn_failed(u, res);
}

/* A reload changed the unit: its new settings start with this run. */
static void take_next_cfg(struct unit *u)
{
	if (!u->next_cfg)
		return;
	config_unit_free(u->cfg);
	u->cfg = u->next_cfg;
	u->next_cfg = NULL;
	policy_hist_free(&u->hist);
	policy_hist_init(&u->hist, &u->cfg->policy);
}

static void on_arm(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct unit *u = t->data;
	if (u->run.pid && (u->st == F_STARTING || u->st == F_RUNNING))
		unit_run_arm(u);
}

/* The run's main process PID runs: starting, or running when nothing says
 * when it is ready. */
static void run_started(struct unit *u, pid_t pid)
{
	u->run.pid = pid;
	u->run.sid = pid;
	u->host->ops->spawned(u->host->ctx, u);
	u->run.started_at = unit_now();
	u->spawns++;
	unit_emit(u, "spawned", json_pack("{s:i}", "pid", (int)pid));
	unit_run_step(u, RUN_STARTED);
	if (u->cfg->ready == READY_NONE) {
		u->run.ready_at = u->run.started_at;
		enter(u, F_RUNNING, R_NONE);
	} else {
		enter(u, F_STARTING, R_NONE);
	}
	if (unit_run_armable(u))   /* (no wakeup more for any other) */
		loop_timer_start(u->host->loop, &u->arm, UNIT_ARM_DELAY_MS, on_arm, u);
}

/* A start whose after list holds a unit that failed (WHY) cannot be
 * made: failed as a start that cannot be made is (a job's run: its
 * result). */
static void deps_failed(struct unit *u, const char *why)
{
	free(u->start_why);
	u->start_why = xasprintf("after: %s", why);
	u->run.id[0] = 0;
	u->last_exit = (struct exit_info){ .reason = EXIT_SPAWN_FAILED,
	                                   .code = -1, .at = wall_ms() };
	unit_emit(u, "exited", json_pack("{s:s, s:s}", "reason", "spawn_failed",
	                                 "error", u->start_why));
	start_over(u, "dependency");
}

/* Are the units of U's after list where it needs them (the host asks
 * for those that are not to be started; START: the first look of this
 * start)?  If not, U waits (or fails, when one of them failed): true. */
static bool deps_pending(struct unit *u, bool start)
{
	const struct unit_config *c = u->next_cfg ? u->next_cfg : u->cfg;
	if (!c->after.n || !u->host->ops->deps)
		return false;
	char *why = NULL;
	int r = u->host->ops->deps(u->host->ctx, u, start, &why);
	if (r > 0) {
		free(why);
		return false;
	}
	if (r < 0) {
		deps_failed(u, why);
		free(why);
		return true;
	}
	free(u->waiting_for);
	u->waiting_for = why;   /* what it waits for now */
	if (u->st != F_WAITING) {
		/* A stop meanwhile ends the wait as a retry's would: a job's
		 * run asked for gets its result. */
		u->retry_res = (struct spawn_res){ .err = ECANCELED, .step = "after" };
		unit_emit(u, "waiting", json_pack("{s:s}", "for", u->waiting_for));
		enter(u, F_WAITING, R_NONE);
	}
	return true;
}

/* Starts a run (unit_run.c): started, or retried later, or failed; or
 * waits for its after list first. */
static void spawn(struct unit *u)
{
	bool retry = u->st == F_RETRY;
	if (!retry && deps_pending(u, u->st != F_WAITING))
		return;
	free(u->start_why);
	u->start_why = NULL;
	take_next_cfg(u);
	struct spawn_res res;
	if (unit_run_spawn(u, retry, &res) < 0)
		spawn_error(u, &res);
	else
		run_started(u, res.pid);
}

static void check_tree(struct unit *u);

/* --- stopping a tree --- */

/* Begins the graceful stop of whatever of the tree is alive (WHY: the
 * stop's reason). */
static void stop_tree(struct unit *u, enum unit_reason why)
{
	enter(u, F_STOPPING, why);
	unit_signal_tree(u, u->cfg->stop_signal);
	/* A stopped process could not act on the stop signal until resumed. */
	unit_signal_tree(u, SIGCONT);
	check_tree(u);
}

/* SIGKILL to the tree; WHY says what led to it, for the warn event. */
static void escalate(struct unit *u, const char *why)
{
	size_t n = unit_kill_tree(u);
	if (u->st != F_KILLING && n > 0) {
		char *m = xasprintf("%s; sent SIGKILL to the tree", why);
		unit_emit(u, "warn", json_pack("{s:s, s:I}", "message", m, "procs",
		                          (json_int_t)n));
		free(m);
	}
	enter(u, F_KILLING, u->reason);
	check_tree(u);
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

/* The run was stopped on request: stopped (idle after an idle stop), and
 * up again if it is wanted up meanwhile. */
static void stopped_on_request(struct unit *u)
{
	bool idle = u->reason == R_IDLE;
	if (!idle)
		unit_emit(u, "stopped", NULL);
	enter(u, idle ? F_IDLE : F_STOPPED, u->reason);
	if (u->want_up && !u->host->shutting_down)
		restart_now(u);
}

/* The restart policy's verdict on the run's exit. */
static void apply_verdict(struct unit *u)
{
	const struct policy_verdict *v = &u->run.verdict;
	char b[32];
	if (v->warn_clean_budget) {
		char *msg = xasprintf(
			"clean exits over budget (%u in %s); slowing restarts",
			v->cleans, format_duration(u->cfg->policy.clean_restarts.window_ms, b));
		unit_emit(u, "warn", json_pack("{s:s}", "message", msg));
		free(msg);
	}
	switch (v->action) {
	case ACT_RESTART:
		if (v->delay_ms == 0) {
			restart_now(u);
			break;
		}
		unit_emit(u, "backoff", json_pack("{s:I}", "ms", (json_int_t)v->delay_ms));
		enter(u, F_BACKOFF, R_EXITED);
		break;
	case ACT_GIVE_UP:
		unit_emit(u, "gave_up", json_pack("{s:I, s:s}", "crashes",
		     (json_int_t)v->crashes, "window",
		     format_duration(u->cfg->policy.max_crashes.window_ms, b)));
		enter(u, F_FAILED, R_GAVE_UP);
		break;
	case ACT_DONE:
		enter(u, u->last_exit.reason == EXIT_CLEAN ? F_STOPPED : F_FAILED,
		      R_EXITED);
		break;
	}
}

/* The run is over: main reaped, tree empty.  Apply what was decided. */
static void run_over(struct unit *u)
{
	loop_timer_stop(u->host->loop, &u->timer);
	u->run.sid = 0;
	u->run.id[0] = 0;
	unit_run_cgroup_end(u);
	if (u->captured)
		output_flush(&u->out);   /* the run's writers are gone */
	if (u->is_job) {
		/* A job's run is over whatever its exit: no restart policy. */
		unit_run_step(u, RUN_OVER);
		u->want_up = false;
		enter(u, F_STOPPED, R_JOB_DONE);
	} else if (stop_asked(u)) {
		stopped_on_request(u);
	} else if (has_clients(u) && u->last_exit.reason == EXIT_CLEAN &&
	           !u->host->shutting_down) {
		/* A service with clients that ended cleanly by itself (a socket
		 * activated one that exits when idle) waits for the next one. */
		unit_emit(u, "idle_stop", json_pack("{s:s}", "reason", "exited"));
		enter(u, F_IDLE, R_EXITED);
	} else {
		apply_verdict(u);
	}
}

/* Is the tree gone, its main process's exit told?  Then the run is over. */
static void check_tree(struct unit *u)
{
	if ((u->st != F_STOPPING && u->st != F_KILLING) || u->run.pid != 0)
		return;
	const struct proc_stat *m;
	if (unit_tree(u, &m) == 0)
		run_over(u);
}

/* The main process's exit, in last_exit and the exited event. */
static void record_exit(struct unit *u, int wstatus, uint64_t uptime)
{
	struct exit_info *e = &u->last_exit;
	*e = (struct exit_info){ .code = -1, .at = wall_ms() };
	if (WIFEXITED(wstatus))
		e->code = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		e->signal = WTERMSIG(wstatus);
	e->reason = stop_asked(u) ? EXIT_STOPPED
	            : u->reason == R_FORCED ? u->run.forced
	            : policy_classify(&u->cfg->success, wstatus);
	/* Every field DESIGN §6 names, the one that does not apply null. */
	json_t *f = json_pack("{s:s, s:o, s:o, s:I}", "reason",
	                      exit_reason_name(e->reason),
	                      "code", e->signal ? json_null() : json_integer(e->code),
	                      "signal", e->signal ? json_string(signal_name(e->signal))
	                                          : json_null(),
	                      "uptime_ms", (json_int_t)uptime);
	unit_emit(u, "exited", f);
}

/* --- the actions: one per cell kind of unit_fsm.c's table --- */

static void act_start(struct unit *u, const struct uev *ev)
{
	(void)ev;
	u->want_up = true;
	policy_hist_free(&u->hist);
	policy_hist_init(&u->hist, &u->cfg->policy);
	spawn(u);
}

static void emit_woke(struct unit *u, const char *by, bool revived)
{
	const char *from = unit_state_name(unit_state(u));
	unit_emit(u, "woke", revived
	     ? json_pack("{s:s, s:s, s:s}", "by", by, "from", from,
	                 "crash_budget", "new")
	     : json_pack("{s:s, s:s}", "by", by, "from", from));
}

static void act_wake(struct unit *u, const struct uev *ev)
{
	emit_woke(u, ev->by, false);
	act_start(u, ev);
}

static void act_wake_after(struct unit *u, const struct uev *ev)
{
	/* An idle stop on its way: up again once it is done. */
	if (u->reason == R_IDLE && !u->want_up)
		emit_woke(u, ev->by, false);
	u->want_up = true;
}

static void act_revive(struct unit *u, const struct uev *ev)
{
	emit_woke(u, ev->by, true);
	act_start(u, ev);
}

static void act_cancel(struct unit *u, const struct uev *ev)
{
	(void)ev;
	unit_emit(u, "stopped", NULL);
	enter(u, F_STOPPED, R_REQUEST);
}

static void act_cancel_retry(struct unit *u, const struct uev *ev)
{
	if (!u->is_job) {
		act_cancel(u, ev);
		return;
	}
	/* The run asked for never started: that is its result, and whoever
	 * waits for it hears so. */
	struct spawn_res res = u->retry_res;
	spawn_failed(u, &res);
}

static void act_stop(struct unit *u, const struct uev *ev)
{
	(void)ev;
	char b[32];
	unit_emit(u, "stopping", json_pack("{s:s, s:s}", "signal",
	     signal_name(u->cfg->stop_signal), "timeout",
	     format_duration(u->cfg->stop_timeout_ms, b)));
	stop_tree(u, R_REQUEST);
}

static void act_stop_after(struct unit *u, const struct uev *ev)
{
	(void)ev;
	/* Leftovers of an exited run are going: once they are, stay down
	 * instead of applying the restart verdict. */
	if (u->reason != R_IDLE)
		u->reason = R_REQUEST;
}

static void act_kill(struct unit *u, const struct uev *ev)
{
	u->want_up = false;
	u->reason = R_REQUEST;
	unit_emit(u, "stopping", json_pack("{s:s}", "signal", "KILL"));
	escalate(u, ev->why);
}

static void act_escalate(struct unit *u, const struct uev *ev)
{
	escalate(u, ev->why ? ev->why : u->st == F_KILLING ? "tree still alive"
	                                                   : "stop-timeout expired");
}

static void act_ready(struct unit *u, const struct uev *ev)
{
	u->run.ready_at = unit_now();
	/* The event first: whoever waited for this learns it after the file
	 * has it. */
	unit_emit(u, "ready", json_pack("{s:s, s:I}", "how", ev->how, "after_ms",
	                           (json_int_t)(u->run.ready_at - u->run.started_at)));
	enter(u, F_RUNNING, R_NONE);
}

static void act_force(struct unit *u, const struct uev *ev)
{
	char b[32];
	u->run.forced = ev->reason;
	unit_emit(u, "stopping", json_pack("{s:s, s:s, s:s, s:s}", "reason",
	     exit_reason_name(ev->reason), "message", ev->why, "signal",
	     signal_name(u->cfg->stop_signal), "timeout",
	     format_duration(u->cfg->stop_timeout_ms, b)));
	stop_tree(u, R_FORCED);
}

static void act_start_timeout(struct unit *u, const struct uev *ev)
{
	(void)ev;
	char b[32], *why = xasprintf("not ready after start-timeout %s",
	                             format_duration(u->cfg->start_timeout_ms, b));
	act_force(u, &(struct uev){ .type = E_FORCE, .reason = EXIT_TIMEOUT,
	                            .why = why });
	free(why);
}

static void act_idle_stop(struct unit *u, const struct uev *ev)
{
	char b[32];
	unit_emit(u, "idle_stop", json_pack("{s:I, s:s}", "idle_ms",
	                               (json_int_t)ev->quiet_ms, "idle",
	                               format_duration(ev->quiet_ms, b)));
	u->want_up = false;
	stop_tree(u, R_IDLE);
}

static void act_restart(struct unit *u, const struct uev *ev)
{
	(void)ev;
	restart_now(u);
}

static void act_retry(struct unit *u, const struct uev *ev)
{
	(void)ev;
	spawn(u);   /* the same start again: no restart to count */
}

static void act_exited(struct unit *u, const struct uev *ev)
{
	uint64_t now = unit_now(), uptime = now - u->run.started_at;
	u->run.pid = 0;
	/* Nothing of this run is watched any more. */
	loop_timer_stop(u->host->loop, &u->wdog);
	unit_checks_stop(u);
	record_exit(u, ev->wstatus, uptime);
	unit_run_step(u, RUN_EXITED);   /* no more input for this run */
	if (stop_asked(u)) {
		check_tree(u);
		return;
	}
	u->run.verdict = policy_on_exit(&u->cfg->policy, &u->hist,
	                                u->last_exit.reason, now, uptime,
	                                u->host->ops->jitter(u->host->ctx));
	/* Whatever is left of this run goes before anything else happens. */
	const struct proc_stat *m;
	size_t left = unit_tree(u, &m);
	if (left == 0) {
		run_over(u);
		return;
	}
	unit_emit(u, "stopping", json_pack("{s:s, s:I}", "reason", "leftovers",
	                                   "procs", (json_int_t)left));
	stop_tree(u, R_EXITED);
}

static void act_check_tree(struct unit *u, const struct uev *ev)
{
	(void)ev;
	check_tree(u);
}

static void act_deps(struct unit *u, const struct uev *ev)
{
	(void)ev;
	spawn(u);
}

static void (*const actions[A_NACTIONS])(struct unit *, const struct uev *) = {
	[A_START] = act_start, [A_WAKE] = act_wake,
	[A_WAKE_AFTER] = act_wake_after, [A_REVIVE] = act_revive,
	[A_CANCEL] = act_cancel, [A_CANCEL_RETRY] = act_cancel_retry,
	[A_STOP] = act_stop, [A_STOP_AFTER] = act_stop_after,
	[A_KILL] = act_kill, [A_ESCALATE] = act_escalate,
	[A_READY] = act_ready, [A_FORCE] = act_force,
	[A_START_TIMEOUT] = act_start_timeout, [A_IDLE_STOP] = act_idle_stop,
	[A_RESTART] = act_restart, [A_RETRY] = act_retry,
	[A_EXITED] = act_exited, [A_CHECK_TREE] = act_check_tree,
	[A_DEPS] = act_deps,
};

/* What EV does in the unit's state: the table's cell. */
static void dispatch(struct unit *u, const struct uev *ev)
{
	enum fsm_action a = fsm_table[u->st][ev->type];
	if (a == A_NEVER)
		fsm_broken(u, "event %s in state %s", fsm_event_name(ev->type),
		           fsm_states[u->st].name);
	else if (actions[a])
		actions[a](u, ev);
}

/* --- events from outside --- */

void unit_start(struct unit *u)
{
	u->want_up = true;
	dispatch(u, &(struct uev){ .type = E_START });
}

void unit_deps_changed(struct unit *u)
{
	dispatch(u, &(struct uev){ .type = E_DEPS });
}

bool unit_waiting(const struct unit *u) { return u->st == F_WAITING; }

const char *unit_start_error(const struct unit *u) { return u->start_why; }

const char *unit_waiting_for(const struct unit *u)
{
	return u->st == F_WAITING && u->waiting_for ? u->waiting_for : "";
}

void unit_stop(struct unit *u)
{
	u->want_up = false;
	dispatch(u, &(struct uev){ .type = E_STOP });
}

void unit_kill(struct unit *u)
{
	dispatch(u, &(struct uev){ .type = E_KILL,
	                           .why = "killed on request (second interrupt)" });
}

/* A client wants U (TYPE: wake or revive): false when it is turned away. */
static bool wanted(struct unit *u, enum fsm_event type, const char *by)
{
	if (u->host->shutting_down || u->removed)
		return false;
	dispatch(u, &(struct uev){ .type = type, .by = by });
	return u->st != F_FAILED;
}

bool unit_wake(struct unit *u, const char *by) { return wanted(u, E_WAKE, by); }
bool unit_revive(struct unit *u, const char *by) { return wanted(u, E_REVIVE, by); }

void unit_ready(struct unit *u, const char *how)
{
	dispatch(u, &(struct uev){ .type = E_READY, .how = how });
}

void unit_restart_for(struct unit *u, enum exit_reason reason, const char *why)
{
	dispatch(u, &(struct uev){ .type = E_FORCE, .reason = reason, .why = why });
}

void unit_on_reaped(struct unit *u)
{
	dispatch(u, &(struct uev){ .type = E_REAPED });
}

bool unit_main_alive(const struct unit *u)
{
	return u->run.pid != 0;
}

void unit_main_exited(struct unit *u, int wstatus)
{
	dispatch(u, &(struct uev){ .type = E_EXIT, .wstatus = wstatus });
}

void unit_keeper_exit(struct unit *u, const struct keeper_exit *e)
{
	if (e->next)
		unit_run_armed_started(u, e->next, e->next_pid, e->next_cg_err);
	unit_main_exited(u, e->wstatus);
	unit_run_armed_drop(u);   /* one the exit did not take over */
}

void unit_signal(struct unit *u, int sig)
{
	if (fsm_states[u->st].alive)
		unit_signal_tree(u, sig);
}

void unit_activity(struct unit *u)
{
	u->last_activity = unit_now();
}

static void on_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	dispatch(t->data, &(struct uev){ .type = E_TIMER });
}

static void on_watchdog(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct unit *u = t->data;
	char b[32], *why = xasprintf("no WATCHDOG=1 for %s",
	                             format_duration(u->run.watchdog_ms, b));
	unit_restart_for(u, EXIT_WATCHDOG, why);
	free(why);
}

static void on_idle(struct loop *lp, struct loop_timer *t)
{
	struct unit *u = t->data;
	uint64_t now = unit_now(), quiet = now - u->last_activity;
	if (u->host->ops->busy(u->host->ctx, u)) {
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
	dispatch(u, &(struct uev){ .type = E_IDLE, .quiet_ms = quiet });
}

void unit_notify(struct unit *u, const struct notify_msg *m)
{
	if (!unit_up(u))
		return;   /* a late word from a run being stopped */
	if (m->has_status && strncmp(u->run.status_text ? u->run.status_text : "",
	                             m->status, UNIT_STATUS_TEXT_MAX) != 0) {
		free(u->run.status_text);
		u->run.status_text = m->status[0]
		                     ? unit_strndup(m->status, UNIT_STATUS_TEXT_MAX) : NULL;
		u->host->ops->changed(u->host->ctx, u);
	}
	if (m->watchdog_usec) {
		/* The service moves its own deadline (sd_notify WATCHDOG_USEC=). */
		u->run.watchdog_ms = m->watchdog_usec / 1000 ? m->watchdog_usec / 1000 : 1;
		if (u->st == F_RUNNING)
			arm_watchdog(u);
	}
	if (m->watchdog && u->st == F_RUNNING && u->wdog.armed)
		arm_watchdog(u);
	if (m->ready && u->cfg->ready == READY_NOTIFY)
		unit_ready(u, "notify");
	if (m->watchdog_trigger) {
		unit_restart_for(u, EXIT_WATCHDOG, "the service sent WATCHDOG=trigger");
		return;
	}
	if (m->stopping && !u->run.draining) {
		/* It is on its way out by itself: no deadline or probe holds
		 * that against it; its exit is judged as usual. */
		u->run.draining = true;
		loop_timer_stop(u->host->loop, &u->wdog);
		unit_checks_stop(u);
		unit_emit(u, "stopping", json_pack("{s:s, s:s}", "reason", "notify",
		                              "message", "the service sent STOPPING=1"));
	}
}

void unit_on_resume(struct unit *u)
{
	/* A fresh deadline: the service had no chance to send WATCHDOG=1
	 * while the machine slept. */
	if (u->st == F_RUNNING && u->wdog.armed)
		arm_watchdog(u);
	/* Probes start again, with their grace period. */
	if (unit_up(u) && !u->run.draining)
		unit_checks_start(u);   /* stops the running ones first */
}

/* --- what waiters are told --- */

char *unit_down_reason(const struct unit *u)
{
	const struct exit_info *e = &u->last_exit;
	const char *name = u->cfg->name;
	if (u->removed)
		return xasprintf("service \"%s\" was removed by a reload", name);
	if (u->st == F_STOPPED && e->reason == EXIT_STOPPED)
		return xasprintf("service \"%s\" was stopped", name);
	if (e->reason == EXIT_SPAWN_FAILED && u->start_why)
		return xasprintf("service \"%s\" could not start: %s", name,
		                 u->start_why);
	if (e->reason == EXIT_SPAWN_FAILED)
		return xasprintf("service \"%s\" failed to start: %s \"%s\": %s",
		                 name, "exec", u->cfg->argv.v[0], strerror(e->err));
	const char *how = unit_gave_up(u) ? "gave up"
	                  : u->run.ready_at == 0 && u->cfg->ready != READY_NONE
	                  ? "ended before it was ready" : "is down";
	if (e->signal)
		return xasprintf("service \"%s\" %s: last exit %s (signal %s)", name,
		                 how, exit_reason_name(e->reason),
		                 signal_name(e->signal));
	return xasprintf("service \"%s\" %s: last exit %s (code %d)", name, how,
	                 exit_reason_name(e->reason), e->code);
}

int unit_wait_verdict(const struct unit *u, unsigned long since, char **why)
{
	if (u->st == F_RUNNING && u->spawns > since)
		return 1;
	/* A run after the request ended before it was ready; or the unit
	 * gave up, went away or was stopped. */
	bool ended = u->spawns > since && !unit_up(u) &&
	             unit_state(u) != US_STOPPING;
	if (ended || u->st == F_FAILED || u->removed ||
	    (u->st == F_STOPPED && !u->want_up)) {
		*why = unit_down_reason(u);
		return -1;
	}
	/* A start that waits for descriptors may wait for ever (the limit
	 * is too low for what runs): whoever waits is told, not held. */
	if (unit_waits_for_fds(u)) {
		char *what = xasprintf("service \"%s\" is not started", u->cfg->name);
		*why = unit_fds_reason(what);
		free(what);
		return -1;
	}
	return 0;
}

