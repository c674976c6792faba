/* unit_fsm — the unit's behaviour as data: its states, the events that
 * move it, and for each state and event the one named action that
 * handles it (unit.c holds the actions themselves, one small function
 * each).  Pure: no processes, no I/O; unit-tested by walking the tables
 * (tests/unit/test_unit_fsm.c), and docs/architecture.md's tables are
 * these, printed by unit_fsm_markdown (a test keeps them equal).
 *
 * A state says everything that decides what an event does: where the
 * run's processes are (none, alive, being stopped, being killed) and which
 * timer is armed.  Besides its state a unit has
 *   - its goal (want_up: start again once a stop completes, as
 *     s6-supervise's "want up"),
 *   - the reason of its state (enum unit_reason below: why it stops, why
 *     it is at rest),
 *   - the facts of its current run (struct unit_run in unit.h), reset once
 *     per run.
 * Users see eight states (enum unit_state); two of them are two states
 * here: backoff (after a crash, or a start that lacked tend's own
 * resources) and stopping (the stop signal sent, or SIGKILL). */
#ifndef TEND_UNIT_FSM_H
#define TEND_UNIT_FSM_H

#include <stdbool.h>
#include <stddef.h>

/* The states users see (tend status, events). */
enum unit_state {
	US_STOPPED, US_STARTING, US_RUNNING, US_STOPPING, US_BACKOFF,
	US_FAILED, US_IDLE, US_WAITING,
};
const char *unit_state_name(enum unit_state s);

enum fsm_state {
	F_STOPPED,   /* at rest: never started, stopped, or a job's run over */
	F_IDLE,      /* at rest until a client comes */
	F_FAILED,    /* at rest: gave up, or ended badly with nothing to do */
	F_BACKOFF,   /* waiting for the restart delay */
	F_RETRY,     /* waiting to try a start that lacked tend's resources */
	F_WAITING,   /* a start waiting for the units of its after list */
	F_STARTING,  /* the run is alive, not ready yet */
	F_RUNNING,   /* the run is alive and ready */
	F_STOPPING,  /* the stop signal went to the tree; waiting for it */
	F_KILLING,   /* SIGKILL went to the tree; waiting for it */
	F_NSTATES
};

enum fsm_event {
	E_START,     /* tend start, boot, a job's request (want_up set) */
	E_STOP,      /* tend stop, shutdown, removal (want_up cleared) */
	E_KILL,      /* a second interrupt: SIGKILL now */
	E_WAKE,      /* a client wants the service */
	E_REVIVE,    /* a new client wants it, even if it gave up */
	E_READY,     /* the run became ready (notify, check, socket) */
	E_FORCE,     /* tend ends the run: memory, health, watchdog */
	E_IDLE,      /* no client traffic for idle-stop */
	E_TIMER,     /* the state's timer fired (see fsm_timer) */
	E_EXIT,      /* the run's main process exited */
	E_REAPED,    /* a process was reaped: the tree may be gone */
	E_DEPS,      /* a unit of its after list changed */
	E_NEVENTS
};

/* What a state's timer is for; entering the state arms it (or none). */
enum fsm_timer {
	T_NONE,
	T_BACKOFF,       /* the policy's restart delay */
	T_RETRY,         /* UNIT_SPAWN_RETRY_MS */
	T_START,         /* start-timeout (when set) */
	T_STOP,          /* stop-timeout */
	T_KILL,          /* KILL_RECHECK_MS: look at the tree again */
};

enum fsm_action {
	A_IGNORE,        /* nothing to do in this state */
	A_NEVER,         /* cannot happen in this state (checked) */
	A_START,         /* a new crash budget, then spawn */
	A_WAKE,          /* event woke, then start */
	A_WAKE_AFTER,    /* up again once the stop is done */
	A_REVIVE,        /* event woke with a new crash budget, then start */
	A_CANCEL,        /* the pending restart is off: stopped */
	A_CANCEL_RETRY,  /* the retried start is off (a job: its result) */
	A_STOP,          /* the stop signal to the tree */
	A_STOP_AFTER,    /* stay down once the tree is gone */
	A_KILL,          /* SIGKILL to the tree, asked for */
	A_ESCALATE,      /* SIGKILL to the tree, the stop took too long */
	A_READY,         /* starting -> running */
	A_FORCE,         /* the stop signal, the run's exit counted as forced */
	A_START_TIMEOUT, /* not ready in time: forced, reason timeout */
	A_IDLE_STOP,     /* the stop signal, the unit idle afterwards */
	A_RESTART,       /* the restart delay is over: spawn, counted */
	A_RETRY,         /* the same start again, not counted */
	A_EXITED,        /* judge the exit; stop what is left of the tree */
	A_CHECK_TREE,    /* the main reaped and the tree gone: the run is over */
	A_DEPS,          /* the after list again: spawn, wait, or fail */
	A_NACTIONS
};

/* Why the unit is in its state (what users and waiters are told). */
enum unit_reason {
	R_NONE,          /* stopped: never started; up: no stop under way */
	R_REQUEST,       /* stopping/stopped: asked to (stop, shutdown, kill) */
	R_IDLE,          /* stopping/idle: the idle-stop */
	R_FORCED,        /* stopping: tend ends the run (unit_run.forced) */
	R_EXITED,        /* stopping: it exited by itself, leftovers go;
	                    idle/stopped/failed: the policy's verdict */
	R_GAVE_UP,       /* failed: too many crashes, or it cannot start */
	R_JOB_DONE,      /* stopped: a job's run is over */
};
const char *unit_reason_name(enum unit_reason r);

extern const unsigned char fsm_table[F_NSTATES][E_NEVENTS];

struct fsm_state_info {
	const char *name;
	enum unit_state shown;     /* what users see */
	enum fsm_timer timer;
	bool alive;                /* a run's main process may live */
	bool up;                   /* starting or running */
	unsigned next;             /* states it may move to: 1u << F_... */
};
extern const struct fsm_state_info fsm_states[F_NSTATES];

const char *fsm_event_name(enum fsm_event e);
const char *fsm_action_name(enum fsm_action a);
const char *fsm_action_doc(enum fsm_action a);

/* May a unit go from state FROM to TO? */
bool fsm_may_move(enum fsm_state from, enum fsm_state to);

/* The tables as markdown (the action table, then the states with their
 * timers and moves); returns a malloc'd string. */
char *fsm_markdown(void);

#endif
