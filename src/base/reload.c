#include "reload.h"
#include "config.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)

/* Does the new configuration name NAME? */
static bool named(const struct unit_config *const *next, size_t nnext,
                  const char *name)
{
	for (size_t k = 0; k < nnext; k++)
		if (strcmp(next[k]->name, name) == 0)
			return true;
	return false;
}

/* The old unit of NAME that is not removed and not tend connect's. */
static size_t current(const struct reload_old *old, const bool *removed,
                      size_t nold, const char *name)
{
	for (size_t i = 0; i < nold; i++)
		if (!removed[i] && !old[i].cfg->connect_key &&
		    strcmp(old[i].cfg->name, name) == 0)
			return i;
	return NONE;
}

/* The unit of the file named NAME that an earlier reload removed. */
static size_t retiring(const struct reload_old *old, const bool *removed,
                       size_t nold, const char *name)
{
	for (size_t i = 0; i < nold; i++)
		if (removed[i] && !old[i].instance && !old[i].cfg->connect_key &&
		    strcmp(old[i].cfg->name, name) == 0)
			return i;
	return NONE;
}

void reload_plan(const struct reload_old *old, size_t nold,
                 const struct unit_config *const *next, size_t nnext,
                 struct reload_plan *plan)
{
	/* Removed as the plan goes: a unit removed here is none of the
	 * new ones, a revived one is no longer removed. */
	bool *removed = xcalloc(nold + 1, sizeof(*removed));
	plan->remove = xcalloc(nold + 1, sizeof(*plan->remove));
	plan->nremove = 0;
	plan->steps = xcalloc(nnext + 1, sizeof(*plan->steps));
	plan->nsteps = nnext;
	for (size_t i = 0; i < nold; i++)
		removed[i] = old[i].removed;
	for (size_t i = 0; i < nold; i++) {
		if (removed[i] || old[i].instance || old[i].cfg->connect_key ||
		    named(next, nnext, old[i].cfg->name))
			continue;
		plan->remove[plan->nremove++] = i;
		removed[i] = true;
	}
	for (size_t k = 0; k < nnext; k++) {
		struct reload_step *st = &plan->steps[k];
		size_t i = current(old, removed, nold, next[k]->name);
		if (i == NONE && (i = retiring(old, removed, nold, next[k]->name)) != NONE) {
			*st = (struct reload_step){ RELOAD_REVIVE, i };
			removed[i] = false;
		} else if (i == NONE) {
			*st = (struct reload_step){ RELOAD_ADD, NONE };
		} else if (config_unit_equal(old[i].cfg, next[k]) && !old[i].pending) {
			*st = (struct reload_step){ RELOAD_KEEP, i };
		} else {
			*st = (struct reload_step){ RELOAD_CHANGE, i };
		}
	}
	free(removed);
}

void reload_plan_free(struct reload_plan *plan)
{
	free(plan->remove);
	free(plan->steps);
	*plan = (struct reload_plan){ 0 };
}
