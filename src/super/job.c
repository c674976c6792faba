#include "job.h"
#include "events.h"
#include "parse.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"

#include <stdlib.h>

struct job {
	struct unit *u;
	struct job_queue *q;
	struct list_link link;     /* on q->jobs */
	unsigned long started;     /* runs started so far */
	unsigned long current;     /* the run going on, or 0 */
	bool pending;              /* a trailing run is asked for */
	char by[16], next_by[16];  /* who asked for the current / trailing run */
	struct job_run last;
	struct loop_timer timeout; /* the current run's timeout */
	struct loop_timer next;    /* starts the trailing run, from the loop */
	unsigned fails;            /* failed runs in a row */
	bool cooling;              /* in cooldown after max-failures */
	uint64_t cool_until;       /* mono ms, for messages */
	struct loop_timer cool;    /* the end of the cooldown */
	struct loop_timer every;   /* every = DURATION */
	bool queued;               /* its next run waits for a max-jobs slot */
	unsigned long long queued_seq;  /* arrival order among queued jobs */
};

static unsigned long long queue_seq;   /* one order for every job */

static const char *const result_names[] = {
	[JR_NONE] = "none", [JR_SUCCESS] = "success", [JR_FAILURE] = "failure",
	[JR_TIMEOUT] = "timeout", [JR_MEMORY] = "memory", [JR_KILLED] = "killed",
	[JR_SPAWN_FAILED] = "spawn_failed",
};

const char *job_result_name(enum job_result r)
{
	return (size_t)r < ARRAY_LEN(result_names) ? result_names[r] : "?";
}

static void emit(struct job *j, const char *event, json_t *fields)
{
	events_emit(unit_host(j->u)->ev, unit_name(j->u), event, fields);
}

static void on_every(struct loop *lp, struct loop_timer *t)
{
	struct job *j = t->data;
	uint64_t every = unit_cfg(j->u)->every_ms;
	if (!every)
		return;
	/* A tick during a run joins the trailing run, like any request; one
	 * during a cooldown is dropped.  The timer runs on CLOCK_MONOTONIC:
	 * time suspended does not count. */
	bool coalesced;
	if (!j->cooling && !unit_removed(j->u) && !unit_host(j->u)->shutting_down)
		job_request(j, "every", &coalesced, false);
	loop_timer_start(lp, t, every, on_every, j);
}

struct job *job_new(struct unit *u, struct job_queue *q)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->u = u;
	j->q = q;
	list_push_back(&q->jobs, &j->link);
	if (unit_cfg(u)->every_ms)
		loop_timer_start(unit_host(u)->loop, &j->every, unit_cfg(u)->every_ms, on_every, j);
	return j;
}

uint64_t job_next_every(const struct job *j)
{
	return j->every.armed ? j->every.due : 0;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	loop_timer_stop(unit_host(j->u)->loop, &j->timeout);
	loop_timer_stop(unit_host(j->u)->loop, &j->next);
	loop_timer_stop(unit_host(j->u)->loop, &j->cool);
	loop_timer_stop(unit_host(j->u)->loop, &j->every);
	list_remove(&j->q->jobs, &j->link);
	free(j);
	/* (a queued request of a job that goes is dropped with it) */
}

static void set_by(char dst[16], const char *by)
{
	snprintf(dst, 16, "%s", by);
}

/* Runs going on now, over every job of the daemon. */
static unsigned running(const struct job_queue *q)
{
	unsigned n = 0;
	list_each(j, &q->jobs, struct job, link)
		n += j->current != 0;
	return n;
}

/* Starts queued runs, oldest request first, while max-jobs allows. */
static void dispatch(struct job_queue *q)
{
	while (running(q) < q->max && !q->host->shutting_down) {
		struct job *first = NULL;
		list_each(j, &q->jobs, struct job, link)
			if (j->queued && !unit_removed(j->u) &&
			    (!first || j->queued_seq < first->queued_seq))
				first = j;
		if (!first)
			return;
		first->queued = false;
		unit_start(first->u);   /* job_run_started follows from its spawn */
	}
}

/* Run started+1 (BY asked for it): queued for a max-jobs slot, and
 * started at once if there is one. */
static void start_run(struct job *j, const char *by)
{
	set_by(j->by, by);
	j->queued = true;
	j->queued_seq = ++queue_seq;
	dispatch(j->q);
}

static void on_cool(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct job *j = t->data;
	j->cooling = false;
	j->fails = 0;
}

unsigned long job_request(struct job *j, const char *by, bool *coalesced,
                          bool force)
{
	*coalesced = false;
	if (j->cooling && !force)
		return 0;
	if (j->queued || unit_retrying(j->u) || unit_waiting(j->u))
		return j->started + 1;   /* the run waiting for a slot (or for
		                            descriptors, or for its after list)
		                            covers it */
	if (j->cooling) {
		loop_timer_stop(unit_host(j->u)->loop, &j->cool);
		j->cooling = false;
		j->fails = 0;
	}
	if (!j->current && !j->pending) {
		start_run(j, by);
		/* Queued: the next run; else the one the spawn just counted (or
		 * that failed at once). */
		return j->queued || unit_retrying(j->u) || unit_waiting(j->u)
		       ? j->started + 1 : j->started;
	}
	if (!j->pending) {
		j->pending = true;
		set_by(j->next_by, by);
	}
	*coalesced = true;
	emit(j, "job_coalesced", json_pack("{s:I, s:s}", "run",
	     (json_int_t)j->started + 1, "by", by));
	return j->started + 1;
}

unsigned long job_current(const struct job *j)
{
	return j->current;
}

const struct job_run *job_last(const struct job *j)
{
	return &j->last;
}

static void on_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct job *j = t->data;
	char b[32], *why = xasprintf("ran longer than timeout %s",
	                             format_duration(unit_cfg(j->u)->timeout_ms, b));
	unit_restart_for(j->u, EXIT_TIMEOUT, why);
	free(why);
}

void job_run_starting(struct job *j)
{
	struct output *o = unit_output_open(j->u);
	if (!o)
		return;
	char t[96];
	snprintf(t, sizeof(t), "--- tend: run %lu (%s) ---", j->started + 1,
	         j->by[0] ? j->by : "start");
	output_mark(o, t);
}

void job_run_started(struct job *j)
{
	j->current = ++j->started;
	emit(j, "job_started", json_pack("{s:I, s:s}", "run", (json_int_t)j->current,
	                                 "by", j->by[0] ? j->by : "start"));
	j->by[0] = 0;
	if (unit_cfg(j->u)->timeout_ms)
		loop_timer_start(unit_host(j->u)->loop, &j->timeout, unit_cfg(j->u)->timeout_ms,
		                 on_timeout, j);
}

static enum job_result result_of(const struct exit_info *e)
{
	switch (e->reason) {
	case EXIT_CLEAN:
		return JR_SUCCESS;
	case EXIT_TIMEOUT:
		return JR_TIMEOUT;
	case EXIT_MEMORY:
		return JR_MEMORY;
	case EXIT_STOPPED:
		return JR_KILLED;
	case EXIT_SPAWN_FAILED:
		return JR_SPAWN_FAILED;
	default:
		return e->signal ? JR_KILLED : JR_FAILURE;
	}
}

/* After a run: this job's trailing run joins the queue, and the slot it
 * freed goes to the oldest request of any job. */
static void on_next(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct job *j = t->data;
	if (j->pending && !j->current && !unit_host(j->u)->shutting_down &&
	    !unit_removed(j->u)) {
		j->pending = false;
		start_run(j, j->next_by);
	}
	dispatch(j->q);
}

void job_run_over(struct job *j)
{
	struct unit *u = j->u;
	const struct exit_info *e = unit_last_exit(u);
	loop_timer_stop(unit_host(u)->loop, &j->timeout);
	bool spawned = e->reason != EXIT_SPAWN_FAILED;
	if (!spawned) {
		/* It never started: it still answers its requests. */
		j->current = ++j->started;
		j->by[0] = 0;
	}
	uint64_t now = mono_ms(), started = unit_run_info(u)->started_at;
	j->last = (struct job_run){
		.n = j->current, .result = result_of(e), .code = e->code,
		.signal = e->signal, .at = e->at,
		.duration_ms = spawned && started ? now - started : 0,
		.peak_mem = unit_ext(u)->m.peak_mem,
	};
	j->current = 0;
	json_t *f = json_pack("{s:I, s:s, s:o, s:o, s:I, s:I}",
	                      "run", (json_int_t)j->last.n,
	                      "result", job_result_name(j->last.result),
	                      "code", e->signal || e->code < 0 ? json_null()
	                                                        : json_integer(e->code),
	                      "signal", e->signal ? json_string(signal_name(e->signal))
	                                          : json_null(),
	                      "duration_ms", (json_int_t)j->last.duration_ms,
	                      "peak_mem_bytes", (json_int_t)j->last.peak_mem);
	emit(j, "job_finished", f);
	enum job_result res = j->last.result;
	if (res == JR_SUCCESS)
		j->fails = 0;
	else if (res != JR_KILLED)
		j->fails++;
	const struct unit_config *c = unit_cfg(u);
	if (j->fails >= c->max_failures && !j->cooling) {
		char b[32];
		j->cooling = true;
		j->cool_until = mono_ms() + c->cooldown_ms;
		char *m = xasprintf("%u failed runs in a row (max-failures): no runs "
		                    "for %s (cooldown); tend run --force runs it now",
		                    j->fails, format_duration(c->cooldown_ms, b));
		emit(j, "warn", json_pack("{s:s}", "message", m));
		free(m);
		loop_timer_start(unit_host(u)->loop, &j->cool, c->cooldown_ms, on_cool, j);
	}
	loop_timer_start(unit_host(u)->loop, &j->next, 0, on_next, j);
}

const char *job_state(const struct job *j)
{
	return j->current || j->pending ? "running"
	       : j->queued || unit_retrying(j->u) ? "queued"
	       : j->cooling ? "cooldown"
	       : j->last.n && j->last.result != JR_SUCCESS ? "failed" : "idle";
}

bool job_queued(const struct job *j)
{
	return j->queued;
}

bool job_cooling(const struct job *j, uint64_t *until)
{
	*until = j->cool_until;
	return j->cooling;
}

json_t *job_last_json(const struct job *j)
{
	const struct job_run *r = &j->last;
	if (!r->n)
		return json_null();
	return json_pack("{s:I, s:s, s:o, s:o, s:I, s:I, s:I}",
	                 "run", (json_int_t)r->n,
	                 "result", job_result_name(r->result),
	                 "code", r->signal || r->code < 0 ? json_null()
	                                                  : json_integer(r->code),
	                 "signal", r->signal ? json_string(signal_name(r->signal))
	                                     : json_null(),
	                 "duration_ms", (json_int_t)r->duration_ms,
	                 "peak_mem_bytes", (json_int_t)r->peak_mem,
	                 "at", (json_int_t)r->at);
}
