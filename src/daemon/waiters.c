/* waiters — requests answered when a unit gets there (waiters.h). */
#include "waiters.h"
#include "reply.h"
#include "ctl.h"
#include "job.h"
#include "parse.h"
#include "server.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct waiter {
	struct waiter *next;
	struct conn *c;
	struct unit *u;        /* NULL: waits for the daemon to finish */
	enum wait_kind kind;
	unsigned long spawns;  /* WAIT_UP: a run after this many counts;
	                          WAIT_RUN: the job's run it waits for */
};

static void add(struct waiters *ws, struct conn *c, struct unit *u,
                enum wait_kind kind, unsigned long spawns)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	*w = (struct waiter){ .next = ws->head, .c = c, .u = u, .kind = kind,
	                      .spawns = spawns };
	ws->head = w;
}

/* The answer for whoever waits for run N of U's job, once it is over. */
static char *run_answer(const struct unit *u, unsigned long n)
{
	const struct job_run *r = job_last(unit_ext(u)->job);
	/* A run that started ends as any run does, stopped by the removal:
	 * its answer comes then. */
	if (r->n < n && unit_removed(u) && job_current(unit_ext(u)->job) != n)
		return reply_err(1, "job \"%s\" was removed by a reload before "
		                     "run %lu", unit_name(u), n);
	if (r->n < n)
		return NULL;
	if (unit_removed(u) && r->n == n && r->result == JR_KILLED)
		return reply_err(1, "job \"%s\" run %lu was stopped: a reload "
		                     "removed the job", unit_name(u), n);
	json_t *f = json_pack("{s:I, s:s, s:o}", "run", (json_int_t)r->n,
	                      "result", job_result_name(r->result), "last_run",
	                      job_last_json(unit_ext(u)->job));
	if (r->result == JR_SUCCESS || r->result == JR_FAILURE)
		json_object_set_new(f, "exit", json_integer(r->code));
	else
		json_object_set_new(f, "exit", json_integer(1));
	return reply_ok(f);
}

/* The answer to W if it has one now, else NULL. */
static char *waiter_answer(const struct waiter *w)
{
	const struct unit *u = w->u;
	if (w->kind == WAIT_RUN)
		return run_answer(u, w->spawns);
	if (w->kind == WAIT_DOWN)
		return unit_settled(u) ? reply_ok(json_pack("{s:s}", "state",
		                         unit_state_name(unit_state(u)))) : NULL;
	char *why = NULL;
	switch (unit_wait_verdict(u, w->spawns, &why)) {
	case 1:
		return reply_ok(json_pack("{s:s, s:i}", "state", "running", "pid",
		                              (int)unit_run_info(u)->pid));
	case -1: {
		char *r = reply_err(1, "%s", why);
		free(why);
		return r;
	}
	default:
		return NULL;
	}
}

char *waiters_answer_now(const struct unit *u, enum wait_kind kind,
                         unsigned long since)
{
	struct waiter probe = { .u = (struct unit *)u, .kind = kind,
	                        .spawns = since };
	return waiter_answer(&probe);
}

void waiters_answer_or_wait(struct waiters *ws, struct conn *c, struct unit *u,
                            enum wait_kind kind, unsigned long since)
{
	struct waiter probe = { .u = u, .kind = kind, .spawns = since };
	char *a = waiter_answer(&probe);
	if (a)
		server_reply(c, a);
	else
		add(ws, c, u, kind, since);
}

char *waiters_started(const struct unit *u)
{
	if (unit_state(u) != US_FAILED)
		return reply_ok(json_pack("{s:s}", "state",
		                          unit_state_name(unit_state(u))));
	char *why = unit_down_reason(u);
	char *r = reply_err(1, "%s", why);
	free(why);
	return r;
}

void waiters_add_end(struct waiters *ws, struct conn *c)
{
	add(ws, c, NULL, WAIT_DOWN, 0);
}

void waiters_unit_changed(struct waiters *ws, const struct unit *u)
{
	for (struct waiter **p = &ws->head; *p; ) {
		struct waiter *w = *p;
		char *a = w->u == u ? waiter_answer(w) : NULL;
		if (!a) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		server_reply(w->c, a);
		free(w);
	}
}

void waiters_conn_gone(struct waiters *ws, struct conn *c)
{
	for (struct waiter **p = &ws->head; *p; ) {
		struct waiter *w = *p;
		if (w->c == c) {
			*p = w->next;
			free(w);
		} else {
			p = &w->next;
		}
	}
}

void waiters_finish(struct waiters *ws)
{
	for (struct waiter *w = ws->head, *next; w; w = next) {
		next = w->next;
		if (!w->u)
			server_reply(w->c, reply_ok(NULL));
		free(w);
	}
	ws->head = NULL;
}
