/* status — the answer to tend status (status.h). */
#include "status.h"
#include "addr.h"
#include "reply.h"
#include "ctl.h"
#include "events.h"
#include "job.h"
#include "parse.h"
#include "proc.h"
#include "proxy.h"
#include "share.h"
#include "sup.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"
#include "words.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *last_exit_json(const struct unit *u)
{
	const struct exit_info *e = unit_last_exit(u);
	if (!e->at)
		return json_null();
	json_t *o = json_pack("{s:s, s:o, s:o, s:I}", "reason",
	                      exit_reason_name(e->reason),
	                      "code", e->code >= 0 ? json_integer(e->code) : json_null(),
	                      "signal", e->signal ? json_string(signal_name(e->signal))
	                                          : json_null(),
	                      "at", (json_int_t)e->at);
	if (e->reason == EXIT_SPAWN_FAILED)
		json_object_set_new(o, "error", json_string(strerror(e->err)));
	return o;
}

/* The last health check of a service with one: {"ok", "strikes",
 * "detail"}; null without a probe, or before its first verdict. */
static json_t *health_json(const struct unit *u)
{
	unsigned strikes;
	const char *detail;
	int ok = unit_health(u, &strikes, &detail);
	if (!unit_cfg(u)->health || ok < 0 || !unit_up(u))
		return json_null();
	return json_pack("{s:b, s:I, s:s}", "ok", ok, "strikes",
	                 (json_int_t)strikes, "detail", detail);
}

/* Why U (failed) failed, a line. */
static char *failed_text(const struct unit *u)
{
	const struct unit_config *c = unit_cfg(u);
	const struct exit_info *e = unit_last_exit(u);
	char d[32], how[48] = "";
	if (unit_gave_up(u) && e->reason == EXIT_SPAWN_FAILED && unit_start_error(u))
		return xasprintf("failed: cannot start: %s", unit_start_error(u));
	if (unit_gave_up(u) && e->reason == EXIT_SPAWN_FAILED)
		return xasprintf("failed: cannot start: exec \"%s\": %s",
		                 c->argv.v[0], strerror(e->err));
	if (unit_gave_up(u))
		return xasprintf("failed: gave up after %u crashes in %s",
		                 c->policy.max_crashes.n,
		                 format_duration(c->policy.max_crashes.window_ms, d));
	if (e->signal)
		snprintf(how, sizeof(how), " (SIG%s)", signal_name(e->signal));
	else if (e->code >= 0)
		snprintf(how, sizeof(how), " (code %d)", e->code);
	return xasprintf("failed: %s%s, not restarted", exit_reason_name(e->reason),
	                 how);
}

/* Why U is not running, or null while its run is up: a code for
 * programs ("reason") and a line for people ("reason_text"), set on O.
 * The age of an idle stop or an exit is the client's to add (last_exit's
 * "at"). */
static void reason_json(json_t *o, const struct unit *u)
{
	const struct unit_config *c = unit_cfg(u);
	const struct exit_info *e = unit_last_exit(u);
	enum unit_state st = unit_state(u);
	const char *code = NULL;
	char *text = NULL, d[32];
	if (unit_ext(u)->job) {
		uint64_t until;
		if (job_cooling(unit_ext(u)->job, &until)) {
			code = "cooldown";
			text = xasprintf("cooldown for %s after %u failed runs in a row",
			                 format_duration(until > mono_ms() ? until - mono_ms()
			                                 : 0, d), c->max_failures);
		}
	} else if (unit_waiting(u)) {
		code = "after";
		text = xasprintf("waiting for %s", unit_waiting_for(u));
	} else if (unit_waits_for_fds(u)) {
		code = "no-fds";
		text = xstrdup("not started: tend is out of file descriptors "
		               "(tried again; raise ulimit -n)");
	} else if (unit_retrying(u)) {
		code = "no-resources";
		text = xstrdup("not started: tend lacks processes or memory "
		               "(tried again)");
	} else if (st == US_IDLE) {
		code = "idle";
		text = xstrdup(e->reason == EXIT_CLEAN ? "idle: exited cleanly, "
		               "waiting for a client" : "idle-stopped");
	} else if (st == US_FAILED) {
		code = unit_gave_up(u) ? "gave-up" : "failed";
		text = failed_text(u);
	} else if (st == US_BACKOFF) {
		code = "backoff";
		text = xasprintf("restarting after %s", exit_reason_name(e->reason));
	} else if (st == US_STOPPED && unit_spawns(u) == 0) {
		bool demand = c->start == START_ON_DEMAND;
		code = demand ? "on-demand" : "not-started";
		text = xstrdup(demand ? "waiting (on-demand)" : "not started yet");
	} else if (st == US_STOPPED && e->reason == EXIT_STOPPED) {
		code = "stopped";
		text = xstrdup("stopped by tend stop");
	} else if (st == US_STOPPED) {
		code = "exited";
		text = xasprintf("exited: %s", exit_reason_name(e->reason));
	}
	json_object_set_new(o, "reason", code ? json_string(code) : json_null());
	json_object_set_new(o, "reason_text", text ? json_string(text) : json_null());
	free(text);
}

/* An MCP endpoint of listen = http:... as a client is given it: the URL
 * of http:HOST:PORT[/PATH] (the default path written out), http:unix:PATH
 * as it is. */
static json_t *http_url(const char *spec)
{
	char *url = addr_http_url(spec);
	json_t *j = events_text(url ? url : spec);
	free(url);
	return j;
}

/* What on-demand and scheduled units need: the addresses a service
 * listens on, when every = DURATION next asks for a job's run. */
static void schedule_json(json_t *o, const struct unit *u, uint64_t now)
{
	const struct unit_config *c = unit_cfg(u);
	if (c->listen.n || c->http.n) {
		json_t *a = json_array();
		for (size_t i = 0; i < c->listen.n; i++)
			json_array_append_new(a, events_text(c->listen.v[i]));
		for (size_t i = 0; i < c->http.n; i++)
			json_array_append_new(a, http_url(c->http.v[i]));
		json_object_set_new(o, "listen", a);
	}
	if (unit_ext(u)->job && c->every_ms) {
		uint64_t due = job_next_every(unit_ext(u)->job);
		json_object_set_new(o, "next_run_in_ms", due ? json_integer(
		        (json_int_t)(due > now ? due - now : 0)) : json_null());
		json_object_set_new(o, "every_ms", json_integer((json_int_t)c->every_ms));
	}
}

/* The memory samples kept (sup_memory.h), oldest first. */
static json_t *history_json(const struct unit *u)
{
	uint64_t h[MEM_HIST_MAX];
	size_t n = sup_memory_history(u, h);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)h[i]));
	return a;
}

/* What version 2 adds to a unit's object O. */
static void v2_json(json_t *o, const struct unit *u, uint64_t now)
{
	reason_json(o, u);
	schedule_json(o, u, now);
	json_object_set_new(o, "cpu_ticks", json_integer((json_int_t)
	                    unit_ext(u)->m.cpu_ticks));
	json_object_set_new(o, "mem_history", history_json(u));
}

static json_t *unit_json(const struct unit *u, uint64_t now, int version)
{
	const struct unit_ext *x = unit_ext(u);
	const struct unit_run *r = unit_run_info(u);
	bool up = r->pid > 0;
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:I, s:o}",
	                 "name", unit_name(u),
	                 "kind", unit_kind_name(unit_cfg(u)->kind),
	                 "state", unit_state_name(unit_state(u)),
	                 "pid", up ? json_integer(r->pid) : json_null(),
	                 "uptime_ms", up ? json_integer((json_int_t)(now - r->started_at))
	                                 : json_null(),
	                 "mem_bytes", (json_int_t)x->m.mem_bytes,
	                 "procs", (json_int_t)x->m.procs,
	                 "mem_max", unit_cfg(u)->memory_max ? json_integer((json_int_t)
	                            unit_cfg(u)->memory_max) : json_null(),
	                 "status_text", r->status_text ? json_string(r->status_text)
	                                               : json_null(),
	                 "health", health_json(u),
	                 "restarts", (json_int_t)unit_restarts(u),
	                 "last_exit", last_exit_json(u));
	if (x->proxy) {
		/* Relayed connections open, and clients waiting for the
		 * service to come up. */
		json_object_set_new(o, "clients", json_integer((json_int_t)proxy_open(x->proxy)));
		json_object_set_new(o, "held", json_integer((json_int_t)proxy_held(x->proxy)));
	}
	if (x->share) {
		/* tend connect sessions served (or waiting for their program
		 * to come up), and sessions waiting for their turn. */
		json_object_set_new(o, "clients", json_integer((json_int_t)share_clients(x->share)));
		json_object_set_new(o, "queued", json_integer((json_int_t)share_queued(x->share)));
		if (share_mode(x->share) == STDIO_MCP) {
			json_object_set_new(o, "in_flight",
			                    json_integer((json_int_t)share_in_flight(x->share)));
			json_object_set_new(o, "sessions", share_sessions_json(x->share, u));
		}
	}
	if (unit_is_instance(u))
		json_object_set_new(o, "instance", json_true());
	if (unit_cfg(u)->connect_key) {
		/* A service of tend connect -- CMD: its command and directory
		 * (never its environment: it may hold secrets). */
		char *cmd = words_join(unit_cfg(u)->argv.v);
		json_object_set_new(o, "connect", json_true());
		json_object_set_new(o, "command", events_text(cmd));
		json_object_set_new(o, "cwd", events_text(unit_cfg(u)->cwd));
		free(cmd);
	}
	if (x->job) {
		json_object_set_new(o, "state", json_string(job_state(x->job)));
		json_object_set_new(o, "last_run", job_last_json(x->job));
	}
	if (version >= 2)
		v2_json(o, u, now);
	return o;
}

static json_t *daemon_json(const struct sup *s, const struct status_self *self,
                           uint64_t now, int version)
{
	struct sup_report r;
	sup_report(s, now, &r);
	uint64_t mem = 0;
	proc_read_mem(getpid(), &mem);
	long fds = proc_fd_count();
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:b, s:s}",
	                 "name", "tend", "kind", "daemon",
	                 "state", r.stopping ? "stopping" : "running",
	                 "pid", (int)getpid(),
	                 "uptime_ms", (json_int_t)r.uptime_ms,
	                 "mem_bytes", (json_int_t)mem,
	                 "fds", (json_int_t)(fds >= 0 ? fds : fd_count()),
	                 "wakeups", (json_int_t)r.wakeups,
	                 "clients", (json_int_t)self->clients,
	                 "notify_ignored", (json_int_t)r.notify_ignored,
	                 "config", self->config,
	                 "default", self->is_default,
	                 "file", self->file,
	                 "version", TEND_VERSION);
	/* Containment: the runs' cgroups, or why there are none. */
	json_object_set_new(o, "cgroup", r.cgroup ? json_string(r.cgroup)
	                                          : json_null());
	json_object_set_new(o, "cgroup_why", r.cgroup_why ? json_string(r.cgroup_why)
	                                                  : json_null());
	/* The keeper, the parent of every run (docs/containment.md). */
	uint64_t kmem = 0;
	json_object_set_new(o, "keeper", r.keeper <= 0 ? json_null() :
	        json_pack("{s:i, s:I, s:I, s:b, s:s?}", "pid", (int)r.keeper,
	                  "mem_bytes", (json_int_t)(proc_read_mem(r.keeper, &kmem) == 0
	                                            ? kmem : 0),
	                  "strays", (json_int_t)r.keeper_strays,
	                  "pidns", r.pidns, "pidns_why", r.pidns ? NULL : r.pidns_why));
	if (version >= 2)   /* the spacing of the units' mem_history */
		json_object_set_new(o, "mem_interval_ms",
		                    json_integer((json_int_t)sup_memory_interval(s)));
	return o;
}

/* Is U among ONLY (N of them)? */
static bool among(const struct unit *u, struct unit *const *only, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (only[k] == u)
			return true;
	return false;
}

char *status_reply(struct sup *s, const struct status_self *self,
                   const struct ctl_req *req, struct unit *const *only,
                   size_t nonly)
{
	const char *name = req->name;
	int version = req->version ? req->version : 1;
	if (req->history)
		sup_memory_watch(s);
	sup_measure(s, false, name);   /* NAME's tree alone, when asked for one */
	uint64_t now = mono_ms();
	json_t *units = json_array();
	if (!name && !only && version == 1)
		json_array_append_new(units, daemon_json(s, self, now, version));
	for (size_t i = 0; i < sup_nunits(s); i++) {
		const struct unit *u = sup_unit_at(s, i);
		if (unit_removed(u) || (name && strcmp(name, unit_name(u)) != 0) ||
		    (only && !among(u, only, nonly)))
			continue;
		json_array_append_new(units, unit_json(u, now, version));
	}
	if (name && json_array_size(units) == 0) {
		json_decref(units);
		return reply_err(2, "no service or job named \"%s\" in %s", name,
		                     self->config);
	}
	if (version == 1)
		return reply_ok(json_pack("{s:o}", "units", units));
	return reply_ok(json_pack("{s:i, s:o, s:o}", "version", 2, "daemon",
	                          daemon_json(s, self, now, version), "units", units));
}
