#include "sup_int.h"
#include "keeper.h"
#include "reload.h"
#include "unit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Has the unit NAME of the file (CTX: the sup) a tree that is not gone? */
static bool retiring(void *ctx, const char *name)
{
	struct sup *s = ctx;
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *u = s->units[i];
		if (!unit_is_instance(u) && !unit_cfg(u)->connect_key && !unit_settled(u) &&
		    strcmp(unit_name(u), name) == 0)
			return true;
	}
	return false;
}

int sup_held_sync(struct sup *s, const struct tend_config *cfg, char **err)
{
	return held_sync(&s->held, cfg, retiring, s, err);
}

/* The units of S as the plan needs to know them. */
static void plan_for(struct sup *s, const struct tend_config *cfg,
                     struct reload_plan *plan)
{
	struct reload_old *old = xcalloc(s->nunits + 1, sizeof(*old));
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *u = s->units[i];
		old[i] = (struct reload_old){ .cfg = unit_cfg(u),
		                              .pending = unit_cfg_next(u) != unit_cfg(u),
		                              .removed = unit_removed(u),
		                              .instance = unit_is_instance(u) };
	}
	reload_plan(old, s->nunits, (const struct unit_config *const *)cfg->units,
	            cfg->nunits, plan);
	free(old);
}

/* A boot service starts. */
static void start_if_boot(struct unit *u, const struct unit_config *uc)
{
	if (uc->kind == KIND_SERVICE && uc->start == START_BOOT)
		unit_start(u);
}

static void remove_unit(struct sup *s, struct unit *u)
{
	unit_set_removed(u, true);
	unit_stop(u);
	if (s->hooks.changed)   /* whoever waits for it hears now */
		s->hooks.changed(s->hooks.ctx, u);
	if (unit_settled(u))
		sup_sweep_soon(s);
}

/* Removed by an earlier reload, its tree still stopping: one name is one
 * instance, so the unit comes back and starts once that tree is gone,
 * with the notify socket and held sockets it has. */
static void revive_unit(struct sup *s, struct unit *u, struct unit_config *uc)
{
	unit_set_removed(u, false);
	unit_take_config(u, uc);
	sup_warn_unenforced(s, u);
	start_if_boot(u, uc);
}

static void add_unit(struct sup *s, struct unit_config *uc)
{
	sup_add_unit(s, uc);
	struct unit *u = s->units[s->nunits - 1];
	sup_warn_unenforced(s, u);
	start_if_boot(u, uc);
}

/* Same settings: only where they were written may differ. */
static void keep_unit(struct unit *u, struct unit_config *uc)
{
	unit_set_config(u, uc);
}

static void change_unit(struct sup *s, struct unit *u, struct unit_config *uc)
{
	bool settled = unit_settled(u);
	unit_take_config(u, uc);
	sup_warn_unenforced(s, u);
	if (!settled) {
		unit_stop(u);
		unit_start(u);  /* applies next_cfg when the run is over */
	} else if (unit_state(u) != US_STOPPED) {
		/* Not running: it just took the new settings. */
		start_if_boot(u, uc);
	}
}

/* UC (taken over) as STEP says, said in ADDED or CHANGED. */
static void apply_step(struct sup *s, const struct reload_step *step,
                       struct unit_config *uc, json_t *added, json_t *changed)
{
	struct unit *u = step->op == RELOAD_ADD ? NULL : s->units[step->old];
	switch (step->op) {
	case RELOAD_REVIVE:
		json_array_append_new(added, json_string(uc->name));
		revive_unit(s, u, uc);
		break;
	case RELOAD_ADD:
		json_array_append_new(added, json_string(uc->name));
		add_unit(s, uc);
		break;
	case RELOAD_KEEP:
		keep_unit(u, uc);
		break;
	case RELOAD_CHANGE:
		json_array_append_new(changed, json_string(uc->name));
		change_unit(s, u, uc);
		break;
	}
}

/* The plan (reload.h) is made from the units as they are before any is
 * touched; carrying out a step touches its own unit only. */
json_t *sup_reload(struct sup *s, struct tend_config *cfg)
{
	s->code_given = false;   /* the reload's parser ran once: given back */
	json_t *added = json_array(), *removed = json_array(),
	       *changed = json_array();
	s->cfg = cfg;
	s->host.config_path = cfg->path;
	s->jobs.max = cfg->max_jobs;
	keeper_set_pidns(s->keeper, cfg->pid_namespace == PIDNS_YES);   /* the next keeper's */
	s->width = sup_name_width(cfg);
	for (size_t i = 0; i < s->nunits; i++)
		unit_set_log_max(s->units[i], cfg->log_max);
	struct reload_plan plan;
	plan_for(s, cfg, &plan);
	for (size_t r = 0; r < plan.nremove; r++) {
		struct unit *u = s->units[plan.remove[r]];
		json_array_append_new(removed, json_string(unit_name(u)));
		remove_unit(s, u);
	}
	for (size_t k = 0; k < cfg->nunits; k++) {
		struct unit_config *uc = cfg->units[k];
		cfg->units[k] = NULL;
		apply_step(s, &plan.steps[k], uc, added, changed);
	}
	reload_plan_free(&plan);
	return json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed,
	                 "changed", changed);
}
