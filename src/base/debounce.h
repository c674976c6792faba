/* debounce — when a burst of changes fires, as a pure function of the
 * changes' times (CLOCK_MONOTONIC ms, passed in).  No clock and no timer
 * of its own: watch.c counts the changes inotify reports and arms its
 * timer; this decides.
 *
 * A burst fires once, QUIET ms after its last change; a stream that never
 * pauses still fires MAX_WAIT ms after the burst's first change
 * (debounce_max_wait: max(10 x quiet, 1 s)).  The next change after a
 * burst fired begins a new one.
 */
#ifndef TEND_DEBOUNCE_H
#define TEND_DEBOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct debounce {
	uint64_t quiet_ms, max_wait_ms;
	size_t count;              /* changes in the burst (saturating) */
	uint64_t first_at, last_at;   /* its first and last change */
};

/* The longest a burst waits: max(10 x QUIET_MS, 1000). */
uint64_t debounce_max_wait(uint64_t quiet_ms);

/* An empty burst with QUIET_MS and debounce_max_wait(QUIET_MS). */
void debounce_init(struct debounce *d, uint64_t quiet_ms);

/* A change at NOW; returns whether it is the first of a burst. */
bool debounce_change(struct debounce *d, uint64_t now);

/* When the burst fires (meaningless with no change counted). */
uint64_t debounce_due(const struct debounce *d);

/* At NOW, with changes counted: 0 when the burst fires now, else how long
 * it still waits. */
uint64_t debounce_wait(const struct debounce *d, uint64_t now);

/* The burst fires: returns its count, and the next change begins anew. */
size_t debounce_take(struct debounce *d);

#endif
