/* sup_deps — the order of units: after = NAME[:CONDITION] (config.h).
 *
 * A unit's start waits (state waiting) until each unit of its after list
 * is where it needs it: started (its run is alive), ready (as its ready =
 * says; started when it has none), healthy (its health probe passed), or,
 * for a job, completed (its last run succeeded).  The first look of a
 * start starts what is not on its way: an on-demand or stopped service,
 * a job that has not succeeded yet (one run asked for, as tend run
 * would).  Every change of a unit makes the starts waiting for it look
 * again; one that finds a unit of its list failed (gave up, stopped by
 * hand, a job's run that failed) fails too, saying which and why.
 *
 * At shutdown the order is reversed: a unit is stopped once every unit
 * that comes after it is down.
 *
 * The file's checks (a name of the file, a condition the unit can meet,
 * no cycle) are config.c's: here every name is found and the graph has
 * no cycle, except for a unit a reload is about to remove (its name is
 * then skipped, as met). */
#ifndef TEND_SUP_DEPS_H
#define TEND_SUP_DEPS_H

#include <stdbool.h>

struct sup;
struct unit;

/* The host's deps (unit.h): 1 met, 0 not yet, -1 one failed; *WHY. */
int sup_deps(struct sup *s, struct unit *u, bool start, char **why);

/* CHANGED entered a state: the starts that wait for it look again; at
 * shutdown, the units it came after may stop now. */
void sup_deps_changed(struct sup *s, struct unit *changed);

/* Shutdown: stops every unit that no live unit comes after (all of them
 * when no unit has an after list); sup_deps_changed stops the rest as
 * they are free. */
void sup_deps_stop(struct sup *s);

#endif
