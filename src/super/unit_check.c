/* unit_check — a unit's readiness check while it starts and its health
 * probe while it runs (unit_int.h): when they run and what a result means
 * is health.h's; here they are run and their timer armed. */
#include "unit_int.h"
#include "events.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

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
	unit_emit(u, "warn", json_pack("{s:o}", "message", events_text(m)));
	free(m);
	free(why);
	free(sp);
	return NULL;
}

void unit_checks_stop(struct unit *u)
{
	if (u->probe)
		probe_cancel(u->probe);
	loop_timer_stop(u->host->loop, &u->check_timer);
	free_spec(&u->health);
	free_spec(&u->ready_check);
}

static void schedule_check(struct unit *u, uint64_t ms)
{
	loop_timer_start(u->host->loop, &u->check_timer, ms, on_check_timer, u);
}

/* The checks of the unit's state: the readiness check while starting, the
 * health probe (after its grace period) while running. */
void unit_checks_start(struct unit *u)
{
	const struct unit_config *c = u->cfg;
	unit_checks_stop(u);
	u->track.strikes = 0;
	u->health_ok = -1;
	free(u->health_detail);
	u->health_detail = NULL;
	if (u->st == F_STARTING) {
		if (c->ready == READY_HEALTH && c->health)
			u->ready_check = parse_check(u, c->health, "health");
		else if (c->ready == READY_SOCKET && c->backend)
			u->ready_check = parse_check(u, c->backend, "backend");
		if (u->ready_check)
			schedule_check(u, 0);
		return;
	}
	if (u->st != F_RUNNING || !c->health || u->run.draining)
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
	if (!u->health_detail || strncmp(u->health_detail, detail,
	                                 UNIT_HEALTH_DETAIL_MAX) != 0) {
		free(u->health_detail);
		u->health_detail = unit_strndup(detail, UNIT_HEALTH_DETAIL_MAX);
	}
	bool flipped = u->health_ok != (int)ok;
	u->health_ok = ok;
	if (flipped)
		u->host->ops->changed(u->host->ctx, u);   /* after = U:healthy */
	struct health_cfg hc = health_cfg_of(c);
	uint64_t now = unit_now();
	struct health_verdict v = u->st == F_STARTING
	        ? health_ready_result(&hc, ok, u->run.started_at, now)
	        : health_result(&u->track, &hc, ok, now);
	switch (v.action) {
	case HEALTH_READY:
		unit_ready(u, c->ready == READY_SOCKET ? "socket" : "health");
		break;
	case HEALTH_RESTART: {
		unit_emit(u, "health_failed", json_pack("{s:I, s:s}", "strikes",
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
	const struct probe_spec *sp = u->st == F_STARTING ? u->ready_check
	                                                      : u->health;
	if (!sp)
		return;
	/* An exec check runs with the unit's environment and directory, but
	 * without the unit's cookie: it is no part of the unit's tree. */
	struct strv env = unit_environ(u, false);
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

