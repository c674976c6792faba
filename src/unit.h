/* unit — one supervised service: its state machine and the lifecycle of
 * its runs.  Each run is one process tree (see proc.h); a run ends when its
 * main process has exited AND nothing of its tree is left.  Only then does
 * the restart policy's verdict (policy.h) take effect, so no generation of
 * a unit ever outlives its main process.
 *
 *   stopped/failed/idle --start--> starting --ready--> running
 *                                  (ready = none: straight to running)
 *   starting/running --main exits--> stopping (leftovers)
 *   running --stop--> stopping --tree gone--> stopped
 *   stopping --tree gone--> backoff --timer--> running
 *                        \-> failed (gave up) / stopped (done)
 *   stopping --stop-timeout--> SIGKILL to the whole tree
 *   a start that failed for want of tend's own resources (descriptors,
 *       processes, memory: the pipe or fork of the spawn) --> backoff,
 *       tried again every UNIT_SPAWN_RETRY_MS; never failed, never counted
 *       as a crash (the program never ran)
 *   starting/running --memory, health, watchdog, start-timeout--> stopping,
 *       and the run's exit gets that reason (unit_restart_for)
 *   running --idle-stop without client traffic--> stopping --> idle
 *   a service with clients (listen, stdio) that exits cleanly --> idle
 *   stopped/idle --a client (unit_wake)--> starting, event woke
 *
 * The unit never polls: it moves on when the supervisor reports that its
 * main process exited (unit_on_exit), that its shim was reaped, or some
 * other descendant was
 * reaped (unit_on_reaped), when the service tells it something (sd_notify:
 * unit_notify), or when one of its timers fires: the state timer (backoff,
 * start-timeout, stop-timeout), the watchdog deadline, the health probe's.
 */
#ifndef TEND_UNIT_H
#define TEND_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "health.h"
#include "loop.h"
#include "notify.h"
#include "output.h"
#include "policy.h"
#include "probe.h"
#include "proc.h"

struct sup;
struct proxy;
struct share;
struct share_inst;
struct job;

/* How often a start that lacked tend's own resources is tried again. */
#define UNIT_SPAWN_RETRY_MS 500

enum unit_state {
	US_STOPPED, US_STARTING, US_RUNNING, US_STOPPING, US_BACKOFF,
	US_FAILED, US_IDLE,
};
const char *unit_state_name(enum unit_state s);

struct exit_info {
	enum exit_reason reason;
	int code;         /* exit code, or -1 */
	int signal;       /* terminating signal, or 0 */
	int err;          /* errno for spawn_failed */
	uint64_t at;      /* wall clock ms */
};

struct unit {
	struct unit_config *cfg;   /* owned */
	struct unit_config *next_cfg;   /* owned; a reload's, from the next spawn */
	bool removed;              /* a reload removed it: freed once at rest */
	struct sup *sup;
	enum unit_state state;
	pid_t pid;                 /* main process while it runs, else 0 */
	pid_t shim;                /* its shim (proc.h), reaped by tend */
	bool main_gone;            /* the shim said the main process exited;
	                              it holds the rest of the tree until its
	                              own exit */
	pid_t sid;                 /* session of the run whose tree may live */
	uint64_t started_at;       /* mono ms */
	bool want_up;              /* start again once the stop completes */
	bool stop_requested;       /* the current run is being stopped on request */
	bool killing;              /* SIGKILL has been sent to the tree */
	bool gave_up;              /* the last verdict was to give up */
	bool spawn_retry;          /* in backoff: the last start lacked tend's
	                              own resources (see above), tried again */
	struct spawn_res retry_res;   /* what that start failed with */
	struct policy_hist hist;
	struct policy_verdict verdict;  /* applied when the tree is gone */
	struct loop_timer timer;        /* backoff, start-timeout, stop-timeout,
	                                   kill re-check */
	enum exit_reason forced;   /* tend stops this run: memory, health, ... */
	uint64_t ready_at;         /* mono ms the run became ready; 0: not yet */
	struct loop_timer wdog;    /* the watchdog deadline, while running */
	uint64_t watchdog_ms;      /* this run's (WATCHDOG_USEC= may change it) */
	char status_text[256];     /* sd_notify STATUS=, "" when none */
	bool draining;             /* it sent STOPPING=1 */
	struct notify_sock notify; /* its NOTIFY_SOCKET (sup_notify_enable) */
	bool notifying;
	/* checks: the readiness check while starting (ready = health or
	 * socket), the health probe while running */
	struct probe *probe;       /* allocated at the first check */
	struct probe_spec *health, *ready_check;   /* this run's; NULL: none */
	struct loop_timer check_timer;  /* the next check */
	struct health_track track;  /* the health probe's strikes and grace
	                               (health.h) */
	int health_ok;             /* last verdict: 1, 0; -1: none yet */
	char health_detail[200];
	bool mem_warned;           /* memory-warn sent in this episode */
	pid_t top_pid;             /* largest process at the last measure */
	uint64_t top_bytes;
	unsigned restarts;
	unsigned long spawns;      /* runs started so far */
	size_t procs;              /* from the last sup_measure */
	uint64_t mem_bytes;
	struct proc_stat *seen;    /* the tree as last seen (for ID.procs) */
	size_t nseen, seen_cap;
	struct exit_info last_exit;
	char *cookie;              /* "TEND_UNIT=name" */
	char run[32];              /* "TEND_RUN=<random hex>" while a run's tree may live */
	char *cg;                  /* the run's cgroup while its tree may live
	                              (cgroup.h); NULL: none */
	struct output out;         /* captured stdout/stderr, when captured */
	bool captured;
	/* clients (listen, stdio) */
	struct proxy *proxy;       /* services with listen; the supervisor's */
	uint64_t last_activity;    /* mono ms of the last client traffic */
	struct loop_timer idle;    /* idle-stop, while running */
	bool idling;               /* the current stop is an idle stop */
	struct share *share;       /* stdio: the service's sessions (share.h) */
	struct share_inst *inst;   /* an instance: what share knows of it */
	bool instance;             /* a per-client instance NAME#N */
	int err_fd;                /* an instance: its stderr (the service's log) */
	struct job *job;           /* a [job]: its runs (job.h) */
	uint64_t peak_mem;         /* largest mem_bytes sampled in this run */
	struct watch *watch;       /* watch = ...: its set (watch.h) */
	struct loop_timer forget;  /* tend connect -- CMD's: at rest without
	                              clients (sup.h, sup_add_connect) */
	char *watch_sig;           /* the settings it was made with */
};

/* Takes CFG over. */
struct unit *unit_new(struct sup *sup, struct unit_config *cfg);
void unit_free(struct unit *u);

/* From now on the unit's processes write to a pipe whose lines tend writes
 * to DST as "NAME | line" (names padded to WIDTH; DST -1: nowhere) and to
 * the log file LOGNAME in the directory LOGDIR (NULL: none; see output.h).
 * Returns 0 or -1/errno. */
int unit_capture_output(struct unit *u, size_t width, int dst, int logdir,
                        const char *logname, uint64_t logmax);

void unit_start(struct unit *u);
void unit_stop(struct unit *u);
/* SIGKILL to the whole tree now (a second Ctrl-C). */
void unit_kill(struct unit *u);
/* Sends SIG to every process of the running tree. */
void unit_signal(struct unit *u, int sig);

/* tend ends the current run for REASON (memory, health, watchdog,
 * timeout): a graceful stop of the whole tree whose exit is then counted
 * with that reason, and the restart policy decides what follows.  WHY is
 * for the stopping event. */
void unit_restart_for(struct unit *u, enum exit_reason reason, const char *why);

/* The run is ready (starting -> running, the ready event). */
void unit_ready(struct unit *u, const char *how);

/* A notification from a process of the unit's tree (notify.h):
 * READY=1 (ready = notify), STATUS=, WATCHDOG=1 / =trigger,
 * WATCHDOG_USEC=, STOPPING=1. */
void unit_notify(struct unit *u, const struct notify_msg *m);

/* The machine woke from a suspend: deadlines and probes start afresh. */
void unit_on_resume(struct unit *u);

/* tend reaped PID: if it was one of U's exec checks, that check ends;
 * returns whether it was.  The pid of U's running exec check (or 0), which
 * belongs to no tree. */
bool unit_reaped_check(struct unit *u, pid_t pid, int wstatus);
pid_t unit_check_pid(const struct unit *u);

/* A client wants the service (BY: "listen", "connect"): it is started
 * unless it is up or on its way (event woke when it was at rest).
 * Returns false when it failed (gave up): the client is turned away. */
bool unit_wake(struct unit *u, const char *by);

/* A new client wants the service: as unit_wake, and a service that gave
 * up (failed) is started again with a new crash budget (event woke, from
 * failed, crash_budget new).  Messages of clients already connected wake
 * it (unit_wake), never revive it: only a new client can. */
bool unit_revive(struct unit *u, const char *by);

/* Client traffic went through: the idle-stop clock starts again. */
void unit_activity(struct unit *u);

/* Is the unit's run alive and not being stopped (starting or running)? */
bool unit_up(const struct unit *u);

/* The main process exited with WSTATUS: the supervisor reaped the unit's
 * shim (whose wait status is the main process's), or the shim, which stays
 * while the rest of the tree lives, said so (proc.h, PROC_MAIN_EXITED). */
void unit_on_exit(struct unit *u, int wstatus);
/* The supervisor reaped the unit's shim (WSTATUS): the main process's
 * exit, unless the shim told it already; then the end of the tree. */
void unit_shim_reaped(struct unit *u, int wstatus);
/* The supervisor reaped some other process: the tree may be gone now. */
void unit_on_reaped(struct unit *u);

/* At rest: nothing runs and nothing is scheduled (stopped or failed). */
bool unit_settled(const struct unit *u);

#endif
