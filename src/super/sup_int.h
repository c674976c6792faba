/* sup_int — what the supervisor's files (sup.c, sup_tree.c, sup_procs.c,
 * sup_memory.c, sup_reload.c) share with each other and with no one else:
 * the supervisor's fields (struct sup, which sup.h leaves opaque: others
 * ask its functions) and their helpers.
 */
#ifndef TEND_SUP_INT_H
#define TEND_SUP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"
#include "job.h"
#include "notify.h"
#include "proc.h"
#include "sup.h"
#include "unit.h"

struct sup {
	struct unit_host host;     /* what units and their endpoints use of
	                              the supervisor: the loop, the events,
	                              shutting_down, ... (unit.h) */
	const struct tend_config *cfg;   /* the current file's globals */
	const struct paths *paths;       /* NULL: no files (tend exec) */
	struct sup_hooks hooks;
	struct unit **units;
	size_t nunits, cap;
	struct cgroups cg;         /* a cgroup per run, when cg.dir (cgroup.h) */
	struct keeper *keeper;     /* the parent of every run (keeper.h) */
	bool exec_mode;
	int out_fd;                /* tend up: where units' lines go; -1: none */
	size_t width;              /* of the widest unit name, for labels */
	int sigints;
	uint64_t started_at;       /* mono ms */
	struct loop_timer sweep;   /* frees units a reload removed */
	struct loop_timer settle;  /* ends the loop once all is at rest */
	struct loop_timer records; /* writes the procs file, once per iteration */
	struct loop_timer memory;  /* samples memory while a unit has a limit */
	struct loop_timer mem_sched; /* sup_memory_schedule, once per iteration */
	uint64_t watched_until;    /* mono ms: a status with history watches */
	struct proc_table table;   /* reused by every scan */
	bool scan_valid;           /* table and owner answer for this iteration */
	bool code_given;           /* start-up's code unmapped (on_trim) */
	uint64_t scan_wakeups;     /* the iteration they were read in */
	struct tree_root *roots;   /* one per unit, refreshed by every scan */
	int *owner;
	size_t owner_cap;
	struct proc_stat *members; /* result of the last sup_tree */
	size_t members_cap;
	/* what each measured process's status said (sup_memory.c) */
	struct memo_table {
		struct memo *v;
		size_t cap;        /* a power of two, or 0 */
		size_t used;
	} memo;
	pid_t *kids, *known;       /* tend's children; its keeper, checks and
	                              mains (the keeper's, once it died) */
	size_t kids_cap, known_cap;
	struct held_set held;      /* the services' listen sockets (daemon) */
	struct job_queue jobs;     /* every job's, for max-jobs */
	struct watcher *watcher;   /* units' watch = (watch.h); NULL: none yet */
	char *notify_prefix;       /* owned; host.notify_prefix */
	uint64_t notify_rescanned; /* the wakeup of the last rescan for one */
	bool fds_short;            /* out of descriptors: reported, not over */
	bool ctl_starved;          /* the control socket refuses for want of them */
	bool disk_short;           /* the state directory cannot be written */
	struct loop_timer disk_retry;   /* while it cannot: tries again */
	unsigned long disk_lines_lost;  /* units' log lines lost meanwhile */
	bool procs_short;          /* the procs file cannot be written: reported */
	struct loop_timer procs_retry;  /* while it cannot: tries again */
	struct loop_timer trim;    /* a quiet second after spawns: the heap's
	                              free pages go back (heap_give_back) */
	unsigned procs_retry_ms;   /* the wait before the next try */
};

/* sup_host.c: what units ask of the supervisor, as their host's ops. */
extern const struct unit_host_ops sup_host_ops;

/* sup_tree.c: a fresh process table, each process assigned to one of
 * ROOTS (-1 when /proc cannot be read); every unit's tree from one scan,
 * reused within a loop iteration until sup_rescan. */
int sup_scan_assign(struct sup *s, const struct tree_root *roots,
                    size_t nroots, bool adopt);
int sup_scan_units(struct sup *s);

/* sup_procs.c: U's tree is now SEEN (N processes), written to the procs file at the end of the iteration when it
 * changed; the procs file written now (a unit went). */
void sup_note_seen(struct sup *s, struct unit *u, const struct proc_stat *seen,
                   size_t n);
void sup_records_write(struct sup *s);

/* sup_memory.c: the sampling timer armed or stopped, as the units now
 * need it. */
void sup_memory_schedule(struct sup *s);
/* The same once at the end of this loop iteration, however many units
 * changed in it (a boot of a thousand services looks at every unit once
 * per iteration, not once per unit that changed). */
void sup_memory_schedule_soon(struct sup *s);

/* sup.c: the width of the widest name of CFG, for labels; a unit of UC
 * added to the set (last in s->units, not started); the keys of U's
 * configuration that are accepted but not acted on, as warn events; the
 * sweep of removed units, from the loop. */
size_t sup_name_width(const struct tend_config *cfg);
void sup_add_unit(struct sup *s, struct unit_config *uc);
void sup_warn_unenforced(struct sup *s, struct unit *u);
void sup_sweep_soon(struct sup *s);

#endif
