/* reload — what a new configuration does to the units that run: which are
 * removed, added, changed, kept or brought back.  A pure function of plain
 * data (the old units' settings and flags, the new configuration's units):
 * no units, no system calls, no clock; sup_reload (sup_reload.h) carries
 * the plan out, in its order.
 *
 * The rules:
 *   - an old unit of the file that the new configuration does not name is
 *     removed; one that was removed already, an instance (share.h) and a
 *     unit of tend connect are no file's to remove;
 *   - a new unit is the old one of its name that is not removed and not
 *     tend connect's: kept when the settings are equal (config_unit_equal)
 *     and none wait to be applied, else changed;
 *   - without one, a unit an earlier reload removed that is not gone yet
 *     (of the file: no instance, no tend connect) is revived: one name is
 *     one instance;
 *   - else the unit is added.
 * The removals come first, in the old units' order, then one step per new
 * unit, in the new configuration's order.  Names within the new
 * configuration are unique (config.h refuses a duplicate).
 */
#ifndef TEND_RELOAD_H
#define TEND_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

struct unit_config;

/* One unit of the running set, as the plan needs to know it. */
struct reload_old {
	const struct unit_config *cfg;  /* its settings (name, connect_key) */
	bool pending;    /* new settings wait for its run to end */
	bool removed;    /* removed by an earlier reload, not gone yet */
	bool instance;   /* an instance of a service, for a client */
};

enum reload_op {
	RELOAD_ADD,      /* a new unit */
	RELOAD_REVIVE,   /* the removed unit OLD, back with these settings */
	RELOAD_KEEP,     /* OLD as it is (the new copy of equal settings) */
	RELOAD_CHANGE,   /* OLD with new settings */
};

struct reload_step {
	enum reload_op op;
	size_t old;      /* the old unit's index; none for RELOAD_ADD */
};

struct reload_plan {
	size_t *remove;             /* old units removed, by index, in order */
	size_t nremove;
	struct reload_step *steps;  /* NEXT[k]'s step at k */
	size_t nsteps;
};

/* The plan for OLD[0..NOLD) given the new configuration's units
 * NEXT[0..NNEXT), into *PLAN (freed with reload_plan_free). */
void reload_plan(const struct reload_old *old, size_t nold,
                 const struct unit_config *const *next, size_t nnext,
                 struct reload_plan *plan);
void reload_plan_free(struct reload_plan *plan);

#endif
