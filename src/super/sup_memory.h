/* sup_memory — the supervisor's memory figures and memory sampling
 * (sup.h); the figures and verdicts themselves are mem.h's, pure.
 *
 * Memory sampling runs every memory-interval while a unit with memory-max
 * (or a job, for the peak memory of its runs) is up, and not at all
 * otherwise: over memory-warn a warn event, over memory-max a memory_limit
 * event and unit_restart_for(memory).  The time a sample takes comes off
 * the wait for the next.
 *
 * The memory history: each sample's figure is kept per unit, the last
 * MEM_HIST_MAX (unit_ext.h), while the unit has memory-max or someone
 * watches: a status request with history (tend top) makes every unit
 * that is up sampled, and its history kept, for SUP_WATCH_MS; then the
 * histories of units without memory-max are dropped.
 */
#ifndef TEND_SUP_MEMORY_H
#define TEND_SUP_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sup;

/* Sets every unit's procs and mem_bytes (the anon + shmem memory its tree
 * holds, each page once: mem.h) and its largest process (the largest
 * share), from one scan of /proc.  With LIMITED_ONLY (the sampling timer)
 * only units with memory-max and jobs are measured (the others read 0),
 * and where RssAnon + RssShmem summed decides the sample, that sum stands
 * for the figure (mem_sample_exact).  With ONLY (a unit's name; NULL:
 * all) only that unit is measured (the others keep their figures).  A
 * process's status is read again only when its stat (from the scan) shows
 * other resident pages or page faults than at the last read: an idle
 * process costs one read (sup_memory.c). */
void sup_measure(struct sup *s, bool limited_only, const char *only);

/* How long a status request with history watches. */
#define SUP_WATCH_MS 60000

/* Someone watches: every unit up is sampled, and its history kept, for
 * SUP_WATCH_MS from now. */
void sup_memory_watch(struct sup *s);

/* memory-interval: the spacing of the samples. */
uint64_t sup_memory_interval(const struct sup *s);

/* U's memory history, oldest first, in bytes, into OUT (MEM_HIST_MAX of
 * them at most; one per memory-interval): how many. */
struct unit;
size_t sup_memory_history(const struct unit *u, uint64_t *out);

#endif
