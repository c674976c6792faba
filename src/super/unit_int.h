/* unit_int — what the unit's files share and no one else: unit.c (the
 * state machine and its actions), unit_run.c (a run as processes) and
 * unit_check.c (readiness and health checks).
 */
#ifndef TEND_UNIT_INT_H
#define TEND_UNIT_INT_H

#include <jansson.h>

#include "unit.h"

/* The unit's one clock, for every stamp and every decision of its files:
 * CLOCK_MONOTONIC ms read when the event is handled, as the loop's timers
 * are armed (loop_timer_start).  Not the loop's time of the iteration
 * (loop_now): units start before the loop runs (at the supervisor's boot,
 * after the leftovers of a killed daemon were waited for), when that time
 * is stale; a run's start is stamped after its spawn, not before; and the
 * stamps are read by daemon.c and job.c against mono_ms, which must never
 * be earlier than them. */
static inline uint64_t unit_now(void) { return mono_ms(); }

/* unit.c: an event of U (events.h). */
void unit_emit(struct unit *u, const char *event, json_t *fields);

/* unit_run.c: a new run of U spawned (its shim and main process), with
 * its descriptors from the host and its environment; the host told
 * RUN_STARTING (unless RETRY: a start tried again), then RUN_SPAWNED or
 * RUN_SPAWN_FAILED.  0 (RES->pid), or -1 with RES saying what failed. */
int unit_run_spawn(struct unit *u, bool retry, struct spawn_res *res);
/* The environment of U's processes (RUN: a run's, with TEND_UNIT,
 * TEND_RUN and NOTIFY_SOCKET; else a check's). */
struct strv unit_environ(const struct unit *u, bool run);
/* The run's cgroup goes (with the run). */
void unit_run_cgroup_end(struct unit *u);
/* The live processes of the run's tree; SIG, and only SIG, to each (how
 * many got it); SIGKILL to the whole tree at once (how many). */
size_t unit_tree(struct unit *u, const struct proc_stat **members);
size_t unit_signal_tree(struct unit *u, int sig);
size_t unit_kill_tree(struct unit *u);
/* The host hears of a step of the run (its job, its sessions). */
void unit_run_step(struct unit *u, enum run_step step);

/* unit_check.c: the checks of U's state (the readiness check while
 * starting, the health probe after its grace while running), or none. */
void unit_checks_start(struct unit *u);
void unit_checks_stop(struct unit *u);

#endif
