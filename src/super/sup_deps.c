/* sup_deps — the order of units (sup_deps.h). */
#include "sup_deps.h"
#include "sup_int.h"
#include "job.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Where D is for a unit that needs it COND: 1 there, 0 not yet, -1 it
 * will not get there (*HOW says why). */
static int dep_state(const struct unit *d, enum after_cond cond,
                     const char **how)
{
	const struct job *j = unit_ext((struct unit *)d)->job;
	if (j) {
		const struct job_run *last = job_last(j);
		bool on_way = job_current(j) || job_queued(j) || unit_waiting(d) ||
		              unit_retrying(d);
		if (cond == AFTER_STARTED && (job_current(j) || last->n > 0))
			return 1;
		if (cond == AFTER_COMPLETED && last->n > 0 &&
		    last->result == JR_SUCCESS)
			return 1;
		if (on_way)
			return 0;
		*how = last->n == 0 ? "has not run"
		       : cond == AFTER_COMPLETED ? "its last run did not succeed"
		       : "is not running";
		return -1;
	}
	enum unit_state st = unit_state(d);
	unsigned strikes;
	const char *detail;
	if ((cond == AFTER_STARTED && unit_up(d)) ||
	    (cond == AFTER_READY && st == US_RUNNING) ||
	    (cond == AFTER_HEALTHY && st == US_RUNNING &&
	     unit_health(d, &strikes, &detail) == 1))
		return 1;
	if (st == US_FAILED) {
		*how = "gave up";
		return -1;
	}
	if (unit_up(d) || unit_waiting(d) || st == US_BACKOFF ||
	    (st == US_STOPPING && unit_down_for_good(d) == false))
		return 0;
	*how = st == US_IDLE ? "is idle" : "is stopped";
	return -1;
}

/* Starts D for a unit that needs it COND; false when it cannot be asked
 * (a job in its cooldown). */
static bool dep_start(struct unit *d, enum after_cond cond)
{
	struct job *j = unit_ext(d)->job;
	if (!j) {
		unit_start(d);
		return true;
	}
	(void)cond;
	bool coalesced;
	return job_request(j, "after", &coalesced, false) > 0;
}

int sup_deps(struct sup *s, struct unit *u, bool start, char **why)
{
	const struct unit_config *c = unit_cfg_next(u);
	struct buf waits = { 0 };
	for (size_t k = 0; k < c->after.n; k++) {
		char name[96];
		enum after_cond cond = config_after_split(c->after.v[k], name,
		                                          sizeof(name));
		struct unit *d = sup_find(s, name);
		if (!d || unit_removed(d))
			continue;
		const char *how = NULL;
		int st = dep_state(d, cond, &how);
		if (st > 0)
			continue;
		/* The first look starts what is not on its way, and so does
		 * a later one for a unit that went idle meanwhile. */
		if (st < 0 && (start || unit_state(d) == US_IDLE) &&
		    unit_state(d) != US_FAILED) {
			if (!dep_start(d, cond)) {
				free(waits.s);
				*why = xasprintf("\"%s\" cannot run now: it is in its "
				                 "cooldown after max-failures", name);
				return -1;
			}
			st = dep_state(d, cond, &how);
			if (st > 0)
				continue;
		}
		if (st < 0 && unit_state(d) == US_FAILED && start) {
			/* Asked for anew: a dependency that gave up gets a new
			 * crash budget, as tend start would give it. */
			unit_start(d);
			st = dep_state(d, cond, &how);
			if (st > 0)
				continue;
		}
		if (st < 0) {
			free(waits.s);
			*why = xasprintf("\"%s\" %s (%s waits for %s:%s)", name, how,
			                 unit_name(u), name, config_after_cond_name(cond));
			return -1;
		}
		buf_addf(&waits, "%s%s", waits.len ? " " : "", c->after.v[k]);
	}
	*why = waits.s ? waits.s : xstrdup("");
	return waits.s ? 0 : 1;
}

static bool names(const struct unit *u, const char *name)
{
	const struct unit_config *c = unit_cfg_next(u);
	for (size_t k = 0; k < c->after.n; k++) {
		char n[96];
		config_after_split(c->after.v[k], n, sizeof(n));
		if (strcmp(n, name) == 0)
			return true;
	}
	return false;
}

/* Is a unit that comes after U still alive, or on its way? */
static bool needed(const struct sup *s, const struct unit *u)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i] != u && !unit_settled(s->units[i]) &&
		    names(s->units[i], unit_name(u)))
			return true;
	return false;
}

static bool any_after(const struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (unit_cfg_next(s->units[i])->after.n)
			return true;
	return false;
}


void sup_deps_stop(struct sup *s)
{
	/* Which units a live unit comes after: one pass over every list. */
	bool *held = xcalloc(s->nunits + 1, sizeof(*held));
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit_config *c = unit_cfg_next(s->units[i]);
		if (unit_settled(s->units[i]))
			continue;
		for (size_t k = 0; k < c->after.n; k++) {
			char name[96];
			config_after_split(c->after.v[k], name, sizeof(name));
			for (size_t j = 0; j < s->nunits; j++)
				if (j != i && strcmp(unit_name(s->units[j]), name) == 0)
					held[j] = true;
		}
	}
	/* A unit on its way down already (its leftovers going) only learns
	 * to stay down: that sends nothing. */
	for (size_t i = 0; i < s->nunits; i++)
		if (!unit_settled(s->units[i]) &&
		    (!held[i] || unit_state(s->units[i]) == US_STOPPING))
			unit_stop(s->units[i]);
	free(held);
}

void sup_deps_changed(struct sup *s, struct unit *changed)
{
	if (s->host.shutting_down) {
		/* Only the units CHANGED came after may be free now. */
		const struct unit_config *c = unit_cfg_next(changed);
		if (!unit_settled(changed))
			return;
		for (size_t k = 0; k < c->after.n; k++) {
			char name[96];
			config_after_split(c->after.v[k], name, sizeof(name));
			struct unit *d = sup_find(s, name);
			if (d && !unit_settled(d) && !needed(s, d))
				unit_stop(d);
		}
		return;
	}
	if (!any_after(s))
		return;
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (u != changed && unit_waiting(u) && names(u, unit_name(changed)))
			unit_deps_changed(u);
	}
}
