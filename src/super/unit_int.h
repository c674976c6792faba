/* unit_int — what the unit's files share and no one else: unit.c (the
 * state machine and its actions), unit_run.c (a run as processes),
 * unit_check.c (readiness and health checks) and unit_info.c (what
 * others read and set, as functions of unit.h): the unit's fields.
 */
#ifndef TEND_UNIT_INT_H
#define TEND_UNIT_INT_H

#include <jansson.h>

#include "health.h"
#include "probe.h"
#include "unit.h"

/* A unit: only the unit's files read its fields; others ask unit.h's
 * functions. */
#define UNIT_HEALTH_DETAIL_MAX 199

/* A copy of at most MAX bytes of S, on the heap (text a unit keeps only
 * when it has some: a STATUS=, a check's detail). */
char *unit_strndup(const char *s, size_t max);

struct unit {
	struct unit_config *cfg;   /* owned */
	struct unit_config *next_cfg;   /* owned; a reload's, from the next spawn */
	bool removed;              /* a reload removed it: freed once at rest */
	struct unit_host *host;    /* the supervisor's */
	bool is_job;               /* a [job]: its runs are the job's (job.h) */
	enum fsm_state st;         /* unit_state() is what users see */
	enum unit_reason reason;   /* why it is in that state */
	bool want_up;              /* its goal: up (start again once a stop
	                              completes) or down */
	struct unit_run run;
	/* The run armed to follow this one at once (keeper_arm: a crash
	 * loop at backoff 0 restarts without the daemon's round trip): the
	 * keeper's token for it (0: none), the run it follows, its id and
	 * cgroup; PID once the keeper started it (the exit says so), until
	 * the next spawn takes it over. */
	struct {
		uint32_t token, after;
		pid_t pid;
		int cg_err;
		char id[32];
		char *cg;
	} armed;
	struct spawn_res retry_res;   /* in retry: what the start failed with */
	char *start_why;           /* why the last start could not be made, when
	                              no errno says it (its after list) */
	char *waiting_for;         /* waiting: the words of its after list it
	                              waits for ("db:ready ...") */
	struct policy_hist hist;
	struct loop_timer timer;   /* the state's (fsm_states[st].timer) */
	struct loop_timer wdog;    /* the watchdog deadline, while running */
	struct loop_timer arm;     /* the next run armed (unit_run_arm) a
	                              moment after this one started */
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
	char *health_detail;       /* the last check's words (at most
	                              UNIT_HEALTH_DETAIL_MAX bytes), NULL:
	                              none; only with checks */
	unsigned restarts;
	unsigned long spawns;      /* runs started so far */
	struct exit_info last_exit;
	char *cookie;              /* "TEND_UNIT=name" */
	struct output out;         /* captured stdout/stderr, when captured */
	bool captured;
	/* how to capture it (unit_capture_output), opened at the first use
	 * (unit_output_open): a unit never started holds no descriptor */
	struct {
		bool wanted;
		size_t width;
		int dst, logdir;
		char *logname;
		uint64_t logmax;
	} capture;
	/* clients (listen, stdio) */
	uint64_t last_activity;    /* mono ms of the last client traffic */
	struct loop_timer idle;    /* idle-stop, while running */
	bool instance;             /* a per-client instance NAME#N */
	int err_fd;                /* an instance: its stderr (the service's log) */
	struct unit_ext *ext;      /* its owner's (unit_ext.h), never read here */
};

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
 * RUN_BEGIN (each try), RUN_STARTING (unless RETRY: a start tried again),
 * then RUN_SPAWNED or RUN_SPAWN_FAILED.  0 (RES->pid), or -1 with RES saying what failed. */
int unit_run_spawn(struct unit *u, bool retry, struct spawn_res *res);
/* unit_run.c: whether U's next run may be armed with the keeper (unit.h:
 * backoff 0, and nothing of its start an arm cannot hold); the next run
 * armed, when the policy would restart it at once; the arm taken back (a stop, a reload:
 * before any signal to the tree); the keeper started it (PID, CG_ERR:
 * unit_run_spawn takes it over as the next run); one started but not
 * taken over is killed. */
bool unit_run_armable(const struct unit *u);
void unit_run_arm(struct unit *u);
void unit_run_disarm(struct unit *u);
void unit_run_armed_started(struct unit *u, uint32_t token, pid_t pid,
                            int cg_err);
void unit_run_armed_drop(struct unit *u);
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
