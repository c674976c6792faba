/* health — when a unit's checks run and what their results mean, as pure
 * functions of plain data: the configuration's numbers, the run's strikes
 * and grace, the time passed in (CLOCK_MONOTONIC ms).  No clock, no probe,
 * no timer of its own: unit.c runs the probes and arms the timers, this
 * decides.
 *
 * The rules:
 *   - while starting, a readiness check (ready = health or socket) that
 *     fails is tried again soon: after a tenth of the time since the spawn,
 *     at least HEALTH_READY_MIN_MS, at most HEALTH_READY_MAX_MS (and never
 *     later than health-interval), so a service is found ready about 10%
 *     (or 5 ms) after it is, whatever it takes to start; one that passes
 *     is ready;
 *   - while running, the health probe's first check comes after
 *     health-grace (health-interval when the grace is 0); a service that
 *     proved ready through its probe (ready = health) is past its grace:
 *     its first check comes after health-interval;
 *   - a failure before the grace's end does not count; a pass forgets the
 *     strikes; health-strikes failures in a row end the run (reason
 *     health); every other result is followed by a check after
 *     health-interval.
 */
#ifndef TEND_HEALTH_H
#define TEND_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

/* The bounds of the pace of a failing readiness check. */
#define HEALTH_READY_MAX_MS 250
#define HEALTH_READY_MIN_MS 5

struct health_cfg {
	uint64_t interval_ms;   /* health-interval */
	uint64_t grace_ms;      /* health-grace */
	unsigned strikes;       /* health-strikes (>= 1) */
	bool ready_by_probe;    /* ready = health: readiness was this probe */
};

/* A run's health probe: what its results so far add up to. */
struct health_track {
	unsigned strikes;       /* consecutive failed checks that counted */
	uint64_t grace_until;   /* failures before it do not count */
};

enum health_action {
	HEALTH_AGAIN,     /* the next check after next_ms */
	HEALTH_READY,     /* starting: the readiness check passed */
	HEALTH_RESTART,   /* running: strikes failures in a row */
};

struct health_verdict {
	enum health_action action;
	uint64_t next_ms;   /* HEALTH_AGAIN */
	unsigned strikes;   /* HEALTH_RESTART: how many in a row */
};

/* The health probe of a run starts at NOW (the run is ready): resets T;
 * returns the delay of the first check. */
uint64_t health_begin(struct health_track *t, const struct health_cfg *c,
                      uint64_t now);

/* A readiness check of a run spawned at STARTED ended at NOW with OK. */
struct health_verdict health_ready_result(const struct health_cfg *c, bool ok,
                                          uint64_t started, uint64_t now);

/* A health check of a running run ended at NOW with OK: updates T. */
struct health_verdict health_result(struct health_track *t,
                                    const struct health_cfg *c, bool ok,
                                    uint64_t now);

#endif
