/* sup_memory — the supervisor's memory figures and memory sampling
 * (sup.h); the figures and verdicts themselves are mem.h's, pure.
 *
 * Memory sampling runs every memory-interval while a unit with memory-max
 * (or a job, for the peak memory of its runs) is up, and not at all
 * otherwise: over memory-warn a warn event, over memory-max a memory_limit
 * event and unit_restart_for(memory).  The time a sample takes comes off
 * the wait for the next.
 */
#ifndef TEND_SUP_MEMORY_H
#define TEND_SUP_MEMORY_H

#include <stdbool.h>

struct sup;

/* Sets every unit's procs and mem_bytes (the anon + shmem memory its tree
 * holds, each page once: mem.h) and its largest process (the largest
 * share), from one scan of /proc.  With LIMITED_ONLY (the sampling timer)
 * only units with memory-max and jobs are measured (the others read 0),
 * and where RssAnon + RssShmem summed decides the sample, that sum stands
 * for the figure (mem_sample_exact).  With ONLY (a unit's name; NULL:
 * all) only that unit is measured (the others keep their figures). */
void sup_measure(struct sup *s, bool limited_only, const char *only);

#endif
