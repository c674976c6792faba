/* unit_ext — what the supervisor and the endpoints that feed a unit
 * clients keep with each unit: its proxy, sessions, job and watch, and
 * the measures of its tree.  The unit carries it (unit_ext(u), unit.h)
 * and never reads it.  The supervisor (sup.c) makes it with the unit and
 * frees it after the unit; share.c sets the share and inst of the
 * instances it makes.
 */
#ifndef TEND_UNIT_EXT_H
#define TEND_UNIT_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "proc.h"

struct proxy;
struct share;
struct share_inst;
struct job;
struct watch;

/* Memory samples kept per unit at most (sup_memory.h: while it has a
 * memory limit or someone watches). */
#define MEM_HIST_MAX 120

/* The last samples of the tree's memory, KiB, a ring (made at the first
 * sample kept, freed when no one wants them: sup_memory.c). */
struct mem_hist {
	uint32_t kib[MEM_HIST_MAX];
	uint16_t n, head;          /* samples held; where the next one goes */
};

/* The unit's tree as the supervisor last measured it (sup_memory.c,
 * sup_procs.c).  The figures of a run (RUN_BEGIN: mem_warned, top_pid,
 * top_bytes, peak_mem) start afresh with each run. */
struct unit_measure {
	size_t procs;              /* from the last sup_measure */
	uint64_t mem_bytes;
	pid_t top_pid;             /* largest process at the last measure */
	uint64_t top_bytes;
	uint64_t peak_mem;         /* the run's largest mem_bytes sampled */
	bool mem_warned;           /* memory-warn sent in this run's episode */
	uint64_t cpu_ticks;        /* CPU time of the tree's live processes and
	                              of the children they reaped (clock ticks) */
	struct mem_hist *hist;     /* the sampling timer's figures; NULL: none */
	struct proc_stat *seen;    /* the tree as last seen (for ID.procs) */
	size_t nseen, seen_cap;
};

struct unit_ext {
	struct proxy *proxy;       /* services with listen */
	struct share *share;       /* stdio: the service's sessions (share.h) */
	struct share_inst *inst;   /* an instance: what share knows of it */
	struct job *job;           /* a [job]: its runs (job.h) */
	struct watch *watch;       /* watch = ...: its set (watch.h) */
	char *watch_sig;           /* the settings it was made with */
	struct loop_timer forget;  /* tend connect -- CMD's: at rest without
	                              clients (sup.h, sup_add_connect) */
	struct unit_measure m;
};

#endif
