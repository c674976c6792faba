#include "sup_int.h"
#include "sup_deps.h"
#include "job.h"
#include "keeper.h"
#include "parse.h"
#include "proxy.h"
#include "share.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* Signals tend exec passes on to the whole tree, as tini does: all the
 * asynchronous ones except those it acts on itself and job control. */
static const int forwarded[] = { SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                                 SIGALRM, SIGPWR, SIGURG, SIGCONT, SIGVTALRM,
                                 SIGPROF, SIGXCPU, SIGXFSZ, SIGIO };

/* The unit whose run's main process is PID (tend reaps those itself once
 * their keeper is gone). */
static struct unit *unit_by_main(struct sup *s, pid_t pid)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (unit_run_info(s->units[i])->pid == pid)
			return s->units[i];
	return NULL;
}

struct unit *sup_find(struct sup *s, const char *name)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (strcmp(unit_name(s->units[i]), name) == 0)
			return s->units[i];
	return NULL;
}

static bool all_settled(const struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (!unit_settled(s->units[i]))
			return false;
	return true;
}


void sup_notify_enable(struct sup *s, const char *prefix)
{
	free(s->notify_prefix);
	s->notify_prefix = xstrdup(prefix);
	s->host.notify_prefix = s->notify_prefix;
}

/* U goes: what the supervisor keeps with it (its endpoints, its job,
 * its watch), then the unit. */
static void free_unit(struct sup *s, struct unit *u)
{
	struct unit_ext *x = unit_ext(u);
	loop_timer_stop(s->host.loop, &x->forget);
	proxy_free(x->proxy);
	job_free(x->job);
	watch_free(x->watch);
	free(x->watch_sig);
	if (unit_is_instance(u))
		share_unit_gone(x->share, u);
	else
		share_free(x->share, s->host.shutting_down ? "tend is shutting down"
		                      : "it was removed from the configuration");
	unit_free(u);
	free(x->m.seen);
	free(x->m.hist);   /* sup_memory.c's */
	free(x);
}

/* --- the daemon's own resources --- */

void sup_fds_short(struct sup *s, const char *what)
{
	if (s->fds_short)
		return;
	s->fds_short = true;
	struct rlimit rl = { 0 };
	getrlimit(RLIMIT_NOFILE, &rl);
	char *m = xasprintf("tend is out of file descriptors (its limit is %llu): "
	                    "%s; it goes on supervising, and refuses or retries "
	                    "what needs a descriptor until some are free",
	                    (unsigned long long)rl.rlim_cur, what);
	events_emit(s->host.ev, "tend", "warn", json_pack("{s:s, s:s}", "message", m,
	            "condition", "fds"));
	free(m);
}

void sup_fds_check(struct sup *s)
{
	if (!s->fds_short || s->ctl_starved)
		return;
	for (size_t i = 0; i < s->nunits; i++)
		if (unit_retrying(s->units[i]))
			return;
	s->fds_short = false;
	events_emit(s->host.ev, "tend", "recovered", json_pack("{s:s, s:s}", "condition",
	            "fds", "message", "file descriptors are available again: "
	            "control connections are accepted and units start"));
}

void sup_ctl_starved(struct sup *s, bool starved)
{
	s->ctl_starved = starved;
	if (starved)
		sup_fds_short(s, "control connections are refused");
	else
		sup_fds_check(s);
}

static void on_disk_retry(struct loop *lp, struct loop_timer *t)
{
	struct sup *s = t->data;
	bool still = events_retry(s->host.ev) < 0;
	for (size_t i = 0; i < s->nunits; i++) {
		struct output *o = unit_output(s->units[i]);
		if (!o)
			continue;
		if (output_retry(o) < 0)
			still = true;
		s->disk_lines_lost += o->lost_total;
		o->lost_total = 0;
	}
	if (still) {
		loop_timer_start(lp, t, SUP_DISK_RETRY_MS, on_disk_retry, s);
		return;
	}
	s->disk_short = false;
	unsigned long events = events_take_lost(s->host.ev), lines = s->disk_lines_lost;
	s->disk_lines_lost = 0;
	char *m = xasprintf("the state directory is written again; lost "
	                    "meanwhile: %lu events (the rest waited in memory) "
	                    "and %lu lines of output", events, lines);
	events_emit(s->host.ev, "tend", "recovered", json_pack("{s:s, s:s, s:I, s:I}",
	            "condition", "disk", "message", m, "events_lost",
	            (json_int_t)events, "lines_lost", (json_int_t)lines));
	free(m);
}

void sup_disk_short(struct sup *s, const char *path, int err)
{
	if (!s->disk_retry.armed)
		loop_timer_start(s->host.loop, &s->disk_retry, SUP_DISK_RETRY_MS,
		                 on_disk_retry, s);
	if (s->disk_short)
		return;
	s->disk_short = true;
	char *m = xasprintf("cannot write %s: %s; events wait in memory (up to "
	                    "%u KiB) and units' output is lost until there is "
	                    "room again; supervision goes on", path, strerror(err),
	                    EVENTS_BACKLOG_MAX >> 10);
	events_emit(s->host.ev, "tend", "warn", json_pack("{s:o, s:s, s:o, s:s}",
	            "message", events_text(m), "condition", "disk", "path",
	            events_text(path), "error", strerror(err)));
	free(m);
}

double sup_jitter(struct sup *s)
{
	(void)s;
	return (double)random() / ((double)RAND_MAX + 1.0);
}

/* --- units come and go --- */

static void watch_sync(struct sup *s, struct unit *u);

/* The width of the widest name of CFG, for labels. */
size_t sup_name_width(const struct tend_config *cfg)
{
	size_t w = 0;
	for (size_t i = 0; i < cfg->nunits; i++) {
		size_t len = strlen(cfg->units[i]->name);
		w = len > w ? len : w;
	}
	return w;
}

static struct unit *push_unit(struct sup *s, struct unit_config *uc)
{
	if (s->nunits == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->units = xrealloc(s->units, s->cap * sizeof(*s->units));
		s->roots = xrealloc(s->roots, 2 * s->cap * sizeof(*s->roots));
	}
	struct unit *u = unit_new(&s->host, uc);
	struct unit_ext *x = xcalloc(1, sizeof(*x));
	unit_set_ext(u, x);
	s->units[s->nunits++] = u;
	if (uc->kind == KIND_JOB)
		x->job = job_new(u, &s->jobs);
	return u;
}

void sup_add_unit(struct sup *s, struct unit_config *uc)
{
	struct unit *u = push_unit(s, uc);
	if (s->exec_mode)
		return;
	/* tend exec is transparent: its command writes to tend's own stdout
	 * and stderr.  The daemon logs every line; in the foreground it also
	 * labels each with the unit it came from. */
	char *log = s->paths ? paths_unit_log(s->paths, uc->name) : NULL;
	unit_capture_output(u, s->width, s->out_fd,
	                    s->paths ? s->paths->statefd : -1,
	                    log ? paths_base(log) : NULL, s->cfg->log_max);
	free(log);
}

void sup_warn_unenforced(struct sup *s, struct unit *u)
{
	const char *names[CONFIG_MAX_KEYS];
	/* the settings it is about to run with (a reload's, pending) */
	const struct unit_config *c = unit_cfg_next(u);
	size_t n = config_unenforced(c, names, ARRAY_LEN(names));
	for (size_t k = 0; k < n; k++) {
		char *m = xasprintf("key \"%s\" is accepted but not acted on by "
		                    "this version", names[k]);
		events_emit(s->host.ev, unit_name(u), "warn", json_pack("{s:s}", "message", m));
		free(m);
	}
}

static void sweep(struct sup *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->nunits; i++)
		if (unit_removed(s->units[i]) && unit_up(s->units[i]))
			unit_stop(s->units[i]);   /* sup_drop: from here, not from
			                             inside the unit's own code */
	sup_rescan(s);  /* units move: the scan's owner indexes would not */
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (unit_removed(u) && unit_settled(u)) {
			if (!unit_is_instance(u) && !unit_cfg(u)->connect_key)
				held_release(&s->held, unit_name(u));
			free_unit(s, u);
		}
		else
			s->units[k++] = u;
	}
	s->nunits = k;
	sup_records_write(s);
}

static void on_sweep(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	sweep(t->data);
}

void sup_sweep_soon(struct sup *s)
{
	loop_timer_start(s->host.loop, &s->sweep, 0, on_sweep, s);
}

struct unit *sup_add_instance(struct sup *s, struct unit *parent,
                              const char *name, bool per_client)
{
	struct unit_config *c = config_unit_dup(unit_cfg(parent), name);
	if (per_client)
		c->policy.restart = RESTART_NEVER;
	c->start = START_ON_DEMAND;
	struct unit *u = push_unit(s, c);
	struct output *o = unit_output_open(parent);
	unit_make_instance(u, o ? o->wfd : -1);
	return u;
}

void sup_drop(struct sup *s, struct unit *u)
{
	unit_set_removed(u, true);
	sup_sweep_soon(s);
}

void sup_sweep(struct sup *s)
{
	loop_timer_stop(s->host.loop, &s->sweep);
	sweep(s);
}

/* --- units of tend connect -- CMD --- */

static uint64_t forget_ms(const struct unit *u)
{
	return unit_cfg(u)->idle_stop_ms ? unit_cfg(u)->idle_stop_ms
	                            : CONFIG_CONNECT_IDLE_STOP_MS;
}

/* At rest, and nobody connected or waiting. */
static bool forgettable(const struct unit *u)
{
	const struct share *sh = unit_ext(u)->share;
	return unit_cfg(u)->connect_key && !unit_is_instance(u) && !unit_removed(u) &&
	       !unit_host(u)->shutting_down &&
	       unit_settled(u) && (!sh || (share_clients(sh) == 0 &&
	                                   share_queued(sh) == 0));
}

static void on_forget(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct unit *u = t->data;
	if (!forgettable(u))
		return;
	char b[32];
	events_emit(unit_host(u)->ev, unit_name(u), "forgotten", json_pack("{s:I, s:s}",
	            "after_ms", (json_int_t)forget_ms(u), "after",
	            format_duration(forget_ms(u), b)));
	sup_drop(unit_host(u)->ctx, u);
}

/* The forget clock of U runs while it is forgettable, from the moment it
 * became so. */
static void forget_check(struct sup *s, struct unit *u)
{
	if (!unit_cfg(u)->connect_key || unit_is_instance(u))
		return;
	struct loop_timer *t = &unit_ext(u)->forget;
	if (!forgettable(u))
		loop_timer_stop(s->host.loop, t);
	else if (!t->armed)
		loop_timer_start(s->host.loop, t, forget_ms(u), on_forget, u);
}

struct unit *sup_add_connect(struct sup *s, struct unit_config *uc)
{
	sup_add_unit(s, uc);
	struct unit *u = s->units[s->nunits - 1];
	watch_sync(s, u);
	unit_ext(u)->share = share_new(u, uc->stdio);
	forget_check(s, u);
	return u;
}

void sup_clients_changed(struct sup *s, struct unit *u)
{
	forget_check(s, u);
}

/* --- watches --- */

static void on_watch_fired(void *ctx, const char *path, size_t n)
{
	struct unit *u = ctx;
	events_emit(unit_host(u)->ev, unit_name(u), "watch_triggered",
	            json_pack("{s:o, s:I}", "path", events_text(path), "changes",
	                      (json_int_t)n));
	if (unit_host(u)->shutting_down || unit_removed(u))
		return;
	struct job *j = unit_ext(u)->job;
	if (j) {
		bool coalesced;
		if (!job_request(j, "watch", &coalesced, false))
			events_emit(unit_host(u)->ev, unit_name(u), "warn", json_pack("{s:s}",
			            "message", "a change came during the cooldown: no run"));
	} else if (unit_up(u)) {
		unit_stop(u);     /* on-change = restart: a running service only */
		unit_start(u);
	}
}

static void on_watch_warn(void *ctx, const char *msg)
{
	struct unit *u = ctx;
	events_emit(unit_host(u)->ev, unit_name(u), "warn", json_pack("{s:o}", "message",
	            events_text(msg)));
}

/* What a watch set is made of, as one string (to tell a change): the
 * paths, the patterns and the debounce, separated by \x1f. */
static char *watch_sig(const struct unit_config *c)
{
	struct buf b = { 0 };
	for (size_t i = 0; i < c->watch.n; i++) {
		buf_adds(&b, c->watch.v[i]);
		buf_addc(&b, '\x1f');
	}
	for (size_t i = 0; i < c->watch_ignore.n; i++) {
		buf_addc(&b, '\x1f');
		buf_adds(&b, c->watch_ignore.v[i]);
	}
	char d[32];
	snprintf(d, sizeof(d), "\x1f%llu", (unsigned long long)c->debounce_ms);
	buf_adds(&b, d);
	buf_addc(&b, 0);
	return b.s;
}

static void watch_sync(struct sup *s, struct unit *u)
{
	const struct unit_config *c = unit_cfg_next(u);
	struct unit_ext *x = unit_ext(u);
	char *sig = c->watch.n && !unit_removed(u) ? watch_sig(c) : NULL;
	if (sig && x->watch_sig && strcmp(sig, x->watch_sig) == 0) {
		free(sig);
		return;
	}
	watch_free(x->watch);
	free(x->watch_sig);
	x->watch = NULL;
	x->watch_sig = sig;
	if (!sig)
		return;
	if (!s->watcher)
		s->watcher = watcher_new(s->host.loop);
	struct watch_cb cb = { on_watch_fired, on_watch_warn, u };
	x->watch = watch_new(s->watcher, (const char *const *)c->watch.v, c->watch.n,
	                     (const char *const *)c->watch_ignore.v,
	                     c->watch_ignore.n, c->debounce_ms, &cb);
}

void sup_clients_sync(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		const struct unit_config *c = unit_cfg_next(u);
		struct unit_ext *x = unit_ext(u);
		if (unit_is_instance(u))
			continue;
		watch_sync(s, u);
		if (x->share && (c->stdio == STDIO_NONE || unit_removed(u) ||
		                 share_mode(x->share) != c->stdio)) {
			share_free(x->share, unit_removed(u)
			           ? "it was removed from the configuration"
			           : "its stdio setting changed");
			x->share = NULL;
		}
		if (!x->share && c->stdio != STDIO_NONE && !unit_removed(u))
			x->share = share_new(u, c->stdio);
		if (!x->proxy && c->listen.n && !unit_removed(u))
			x->proxy = proxy_new(u, &s->held);
		if (x->proxy)
			proxy_sync(x->proxy);
		if (x->share)
			share_listen(x->share, &s->held);   /* listen = http: */
	}
}

void sup_clients_unwatch(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (unit_ext(s->units[i])->proxy)
			proxy_unwatch(unit_ext(s->units[i])->proxy);
}

/* Everything at rest (tend exec's unit, or all after a shutdown): the
 * loop ends, if it still is at rest once the change that got it there is
 * over (a restart passes through stopped on its way to the next run). */
static void on_settle(struct loop *lp, struct loop_timer *t)
{
	if (all_settled(t->data))
		loop_stop(lp);
}

void sup_unit_changed(struct sup *s, struct unit *u)
{
	struct unit_ext *x = unit_ext(u);
	sup_memory_schedule_soon(s);
	if (x->proxy)
		proxy_on_state(x->proxy);
	if (x->share)
		share_on_state(x->share, u);
	if (s->hooks.changed)
		s->hooks.changed(s->hooks.ctx, u);
	forget_check(s, u);
	sup_deps_changed(s, u);
	if (!unit_settled(u))
		return;
	/* Not freed here: the unit is in the middle of its own code. */
	if (unit_removed(u))
		sup_sweep_soon(s);
	if ((s->exec_mode || s->host.shutting_down) && all_settled(s))
		loop_timer_start(s->host.loop, &s->settle, 0, on_settle, s);
}

/* --- signals --- */

static void on_sigchld(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct sup *s = data;
	/* Reap everything first, then look: a scan made between two reaps of
	 * one batch would still show the second one's processes, and no
	 * SIGCHLD would come to correct it. */
	struct reaped { struct unit *u; pid_t pid; int st; bool check; } *done = NULL;
	size_t n = 0, cap = 0;
	int st;
	pid_t pid;
	bool others = false;
	keeper_on_sigchld(s->keeper);
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (keeper_reaped(s->keeper, pid))
			continue;
		struct unit *u = unit_by_main(s, pid);
		bool check = false;
		for (size_t i = 0; !u && i < s->nunits; i++)
			if (unit_check_pid(s->units[i]) == pid) {
				u = s->units[i];
				check = true;
			}
		if (!u || check)
			others = true;
		if (!u)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			done = xrealloc(done, cap * sizeof(*done));
		}
		done[n++] = (struct reaped){ u, pid, st, check };
	}
	sup_rescan(s);
	for (size_t i = 0; i < n; i++)
		if (done[i].check)
			unit_reaped_check(done[i].u, done[i].pid, done[i].st);
		else
			unit_main_exited(done[i].u, done[i].st);
	free(done);
	if (others)
		for (size_t i = 0; i < s->nunits; i++)
			unit_on_reaped(s->units[i]);
}

/* --- the keeper's word (keeper.h) --- */

static void on_keeper_reaped(void *ctx);

static void on_keeper_exited(void *ctx, const struct keeper_exit *e)
{
	struct sup *s = ctx;
	sup_rescan(s);
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (unit_main_alive(u) && unit_run_info(u)->token == e->token) {
			unit_keeper_exit(u, e);
			return;
		}
	}
	/* No unit's (an armed run killed as it started, unit.c): a tree
	 * may be gone now, as after any other reap. */
	if (e->next)
		keeper_kill_run(s->keeper, e->next_pid);
	on_keeper_reaped(ctx);
}

static void on_keeper_reaped(void *ctx)
{
	struct sup *s = ctx;
	sup_rescan(s);
	for (size_t i = 0; i < s->nunits; i++)
		unit_on_reaped(s->units[i]);
}

/* A keeper was killed: its runs are tend's children now, which a killed
 * daemon would leave behind.  Each is restarted as after a crash, below
 * the keeper the next spawn starts.  A main the keeper reaped but could
 * not tell of is gone without a word: its exit is told as a SIGKILL. */
static void on_keeper_lost(void *ctx)
{
	struct sup *s = ctx;
	sup_rescan(s);
	errline("tend's keeper (the parent of every run) died; its runs are "
	        "restarted below a new one");
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		const struct unit_run *r = unit_run_info(u);
		struct proc_stat st;
		if (!unit_main_alive(u) || keeper_holds(s->keeper, r->token))
			continue;
		if (proc_read_stat(r->pid, &st) < 0)
			unit_main_exited(u, SIGKILL);   /* (a wait status) */
		else
			unit_restart_for(u, EXIT_CRASH, "tend's keeper died");
	}
}

static struct keeper_hooks keeper_hooks_of(struct sup *s)
{
	return (struct keeper_hooks){ on_keeper_exited, on_keeper_reaped,
	                              on_keeper_lost, s };
}

void sup_shutdown(struct sup *s)
{
	s->host.shutting_down = true;
	/* In the reverse of the after order (sup_deps.h): the rest as the
	 * units that come after them are down. */
	sup_deps_stop(s);
	for (size_t i = 0; i < s->nunits; i++)
		if (unit_ext(s->units[i])->proxy)
			proxy_on_state(unit_ext(s->units[i])->proxy);  /* held clients go */
	if (all_settled(s))
		loop_stop(s->host.loop);
}

static void on_stop_signal(struct loop *lp, int signo, void *data)
{
	(void)lp;
	struct sup *s = data;
	if (signo == SIGINT && ++s->sigints > 1) {
		for (size_t i = 0; i < s->nunits; i++)
			unit_kill(s->units[i]);
		return;
	}
	if (!s->host.shutting_down)
		sup_shutdown(s);
}

static void on_forward(struct loop *lp, int signo, void *data)
{
	(void)lp;
	struct sup *s = data;
	for (size_t i = 0; i < s->nunits; i++)
		unit_signal(s->units[i], signo);
}

static void on_hup(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct sup *s = data;
	if (s->hooks.hup)
		s->hooks.hup(s->hooks.ctx);
}

/* A laptop woke up: time asleep counts for nothing (loop.h), and what a
 * probe or a deadline saw across the suspend is not the service's fault. */
static void on_resume(struct loop *lp, uint64_t asleep_ms, void *data)
{
	(void)lp;
	struct sup *s = data;
	char b[32];
	events_emit(s->host.ev, "tend", "resumed", json_pack("{s:I, s:s}", "asleep_ms",
	            (json_int_t)asleep_ms, "asleep", format_duration(asleep_ms, b)));
	for (size_t i = 0; i < s->nunits; i++)
		unit_on_resume(s->units[i]);
}

/* --- life --- */

struct sup *sup_new(struct tend_config *cfg, struct events *ev,
                    bool exec_mode, const struct paths *paths, int out_fd)
{
	struct sup *s = xcalloc(1, sizeof(*s));
	s->host.loop = loop_new();
	if (!s->host.loop) {
		free(s);
		return NULL;
	}
	s->host.ops = &sup_host_ops;
	s->host.ctx = s;
	s->host.ev = ev;
	s->host.cg = &s->cg;
	struct keeper_hooks kh = keeper_hooks_of(s);
	s->keeper = keeper_new(s->host.loop, &kh, NULL);
	keeper_set_pidns(s->keeper, cfg->pid_namespace == PIDNS_YES);
	s->host.keeper = s->keeper;
	s->host.config_path = cfg->path;
	s->jobs.host = &s->host;
	s->jobs.max = cfg->max_jobs;
	s->cfg = cfg;
	s->paths = paths;
	s->exec_mode = exec_mode;
	s->out_fd = out_fd;
	s->started_at = mono_ms();
	s->width = sup_name_width(cfg);
	srandom((unsigned)(getpid() ^ wall_ms()));
	for (size_t i = 0; i < cfg->nunits; i++) {
		sup_add_unit(s, cfg->units[i]);
		cfg->units[i] = NULL;
	}
	return s;
}

void sup_free(struct sup *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nunits; i++)
		free_unit(s, s->units[i]);
	watcher_free(s->watcher);
	keeper_free(s->keeper);
	free(s->units);
	held_free(&s->held);
	if (s->out_fd >= 0)
		close(s->out_fd);
	loop_timer_stop(s->host.loop, &s->sweep);
	loop_timer_stop(s->host.loop, &s->settle);
	loop_timer_stop(s->host.loop, &s->records);
	loop_timer_stop(s->host.loop, &s->memory);
	loop_timer_stop(s->host.loop, &s->mem_sched);
	loop_timer_stop(s->host.loop, &s->disk_retry);
	loop_timer_stop(s->host.loop, &s->procs_retry);
	loop_timer_stop(s->host.loop, &s->trim);
	free(s->notify_prefix);
	free(s->roots);
	free(s->owner);
	free(s->members);
	free(s->memo.v);
	free(s->kids);
	free(s->known);
	cg_teardown(&s->cg);
	proc_table_free(&s->table);
	loop_free(s->host.loop);
	free(s);
}

/* --- what its users read and set --- */

struct loop *sup_loop(const struct sup *s)
{
	return s->host.loop;
}

void sup_set_hooks(struct sup *s, const struct sup_hooks *hooks)
{
	s->hooks = *hooks;
}

void sup_hold(struct sup *s, struct held_set *held)
{
	s->held = *held;
	sup_clients_sync(s);
}

size_t sup_nunits(const struct sup *s)
{
	return s->nunits;
}

struct unit *sup_unit_at(const struct sup *s, size_t i)
{
	return s->units[i];
}

bool sup_shutting_down(const struct sup *s)
{
	return s->host.shutting_down;
}

void sup_report(const struct sup *s, uint64_t now, struct sup_report *r)
{
	uint64_t ignored = s->host.notify_ignored;
	for (size_t i = 0; i < s->nunits; i++)
		ignored += unit_notify_dropped(s->units[i]);
	const struct cgroups *cg = &s->cg;
	*r = (struct sup_report){
		.stopping = s->host.shutting_down,
		.uptime_ms = now - s->started_at,
		.wakeups = loop_wakeups(s->host.loop),
		.notify_ignored = ignored,
		.cgroup = cg->dir && !cg->off ? cg->dir : NULL,
		.cgroup_why = cg->why,
		.keeper = s->keeper ? keeper_pid(s->keeper) : 0,
		.keeper_strays = s->keeper ? keeper_strays(s->keeper) : 0,
	};
	if (s->keeper)
		r->pidns = keeper_pidns(s->keeper, &r->pidns_why);
}

int sup_prepare(struct sup *s)
{
	if (proc_subreaper() < 0)
		errline("cannot become a child subreaper (%s); daemonized "
		        "descendants may escape", strerror(errno));
	int r = 0;
	r |= loop_signal(s->host.loop, SIGCHLD, on_sigchld, s);
	r |= loop_signal(s->host.loop, SIGTERM, on_stop_signal, s);
	r |= loop_signal(s->host.loop, SIGINT, on_stop_signal, s);
	if (s->exec_mode) {
		for (size_t i = 0; i < ARRAY_LEN(forwarded); i++)
			r |= loop_signal(s->host.loop, forwarded[i], on_forward, s);
	} else {
		r |= loop_signal(s->host.loop, SIGHUP, on_hup, s);
	}
	(void)signal(SIGPIPE, SIG_IGN);  /* cannot fail for SIGPIPE */
	loop_on_resume(s->host.loop, on_resume, s);
	/* A cgroup per run where one can be made; else the mechanisms that
	 * need none (s->cg.why says why). */
	cg_setup(&s->cg, s->paths ? s->paths->id : "exec");
	return r;
}

void sup_boot(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		sup_warn_unenforced(s, u);
		if (unit_cfg(u)->kind == KIND_SERVICE && unit_cfg(u)->start == START_BOOT)
			unit_start(u);
	}
}

/* After every unit stopped: anything still below tend that no unit claims
 * (a process that left its session and cleared its environment) must not
 * outlive tend either. */
void sup_finish(struct sup *s)
{
	if (sup_scan_assign(s, NULL, 0, false) == 0)
		for (size_t i = 0; i < s->table.n; i++)
			if (s->owner[i] == TREE_STRAY)
				proc_signal(&s->table.p[i], SIGKILL);
	keeper_free(s->keeper);   /* nothing is left below it */
	s->keeper = s->host.keeper = NULL;
	cg_teardown(&s->cg);
	if (s->paths)
		unlinkat(s->paths->runfd, paths_base(s->paths->procs), 0);
}

static int exec_exit_code(const struct unit *u)
{
	const struct exit_info *e = unit_last_exit(u);
	if (e->reason == EXIT_SPAWN_FAILED)
		return e->err == ENOENT ? 127 : 126;
	if (unit_gave_up(u))
		return 1;
	if (e->signal)
		return 128 + e->signal;
	return e->code >= 0 ? e->code : 1;
}

int sup_run(struct sup *s)
{
	if (sup_prepare(s) < 0) {
		errline("cannot set up signal handling: %s", strerror(errno));
		return 1;
	}
	watch_sync(s, s->units[0]);
	sup_boot(s);
	if (!all_settled(s) && loop_run(s->host.loop) < 0) {
		errline("event loop failed: %s", strerror(errno));
		sup_shutdown(s);
	}
	return exec_exit_code(s->units[0]);
}
