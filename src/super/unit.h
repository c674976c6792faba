/* unit — one supervised service or job: its state machine and the
 * lifecycle of its runs.  Each run is one process tree (see proc.h); a run
 * ends when its main process has exited AND nothing of its tree is left.
 * Only then does the restart policy's verdict (policy.h) take effect, so
 * no generation of a unit ever outlives its main process.
 *
 * What each event does in each state is one table, unit_fsm.h's (drawn in
 * docs/architecture.md); unit.c holds one small function per action, and
 * entering a state arms that state's timers and disarms the others in one
 * place.  A start that fails for want of tend's own resources (descriptors,
 * processes, memory: the pipe or fork of the spawn) waits in retry, tried
 * again every UNIT_SPAWN_RETRY_MS; never failed, never counted as a crash
 * (the program never ran).
 *
 * The unit never polls: it moves on when the supervisor reports that its
 * main process exited (unit_main_exited) or its shim was reaped
 * (unit_shim_reaped), or some other descendant was (unit_on_reaped), when
 * the service tells it something (sd_notify: unit_notify), or when one of
 * its timers fires: the state's timer (backoff, retry, start-timeout,
 * stop-timeout, kill re-check), the watchdog deadline, the idle-stop clock,
 * the checks'.
 *
 * struct unit is the unit's files' own (unit_int.h): others ask the
 * functions below, and keep what they need of a unit beside it
 * (unit_ext.h).
 */
#ifndef TEND_UNIT_H
#define TEND_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "loop.h"
#include "notify.h"
#include "output.h"
#include "policy.h"
#include "proc.h"
#include "unit_fsm.h"

struct events;
struct cgroups;
struct unit;
struct unit_ext;

/* A run's step, for those who hear of runs (a job's queue, a session's
 * pipes): unit_host_ops.run_step. */
enum run_step {
	RUN_BEGIN,         /* a run's facts are afresh (before each try of
	                      its spawn) */
	RUN_STARTING,      /* a job's run is about to start (once, however
	                      many tries its start takes) */
	RUN_SPAWNED,       /* the spawn was made */
	RUN_SPAWN_FAILED,  /* the spawn could not be made */
	RUN_STARTED,       /* the main process runs (after event spawned) */
	RUN_EXITED,        /* the main process exited (after event exited) */
	RUN_OVER,          /* the run is over (a job's result), or it could
	                      not start */
};

/* What a unit, and the endpoints that feed it clients (share.h, proxy.h,
 * job.h), need of the supervisor above them; the supervisor fills it in
 * and keeps it current (sup.c, sup_host.c).  A unit knows nothing of who
 * watches it: it calls up through these, and sup_host.c passes each call
 * on to the unit's job, sessions or proxy.  CTX is the supervisor's. */
struct unit_host_ops {
	/* U entered a state, or its status text changed. */
	void (*changed)(void *ctx, struct unit *u);
	/* The live processes of U's tree (owned by the supervisor, valid
	 * until the next call); the next call reads /proc afresh (rescan);
	 * the unit whose tree holds PID (*GONE: PID is gone already). */
	size_t (*tree)(void *ctx, const struct unit *u,
	               const struct proc_stat **members);
	void (*rescan)(void *ctx);
	struct unit *(*owner)(void *ctx, pid_t pid, bool *gone);
	/* U's run was spawned: its record, for a next daemon. */
	void (*spawned)(void *ctx, struct unit *u);
	/* The spread of restart delays (policy.h). */
	double (*jitter)(void *ctx);
	/* The daemon's conditions: out of descriptors (WHAT could not
	 * start), a start that waited for them is over, a log unwritable. */
	void (*fds_short)(void *ctx, const char *what);
	void (*fds_check)(void *ctx);
	void (*disk_short)(void *ctx, const char *path, int err);
	/* The descriptors of U's next run from its endpoints: a session's
	 * stdin and stdout (*IN, *OUT: left as they are when none), listen
	 * sockets (up to MAX in FDS; how many is returned in *NFDS).
	 * 0, or -1/errno when they cannot be made. */
	int (*run_fds)(void *ctx, struct unit *u, int *in, int *out, int *fds,
	               size_t max, size_t *nfds);
	void (*run_step)(void *ctx, struct unit *u, enum run_step step);
	/* Are requests in flight (not idle, however quiet)? */
	bool (*busy)(void *ctx, const struct unit *u);
	/* For the endpoints: an instance NAME of PARENT (share.h), a unit
	 * that is to go, a client that came or went. */
	struct unit *(*add_instance)(void *ctx, struct unit *parent,
	                             const char *name, bool per_client);
	void (*drop)(void *ctx, struct unit *u);
	void (*clients_changed)(void *ctx, struct unit *u);
	/* The units of U's after list (config.h): 1 each is where U needs
	 * it, 0 not yet (WHY: the ones waited for, "db:ready ..."; with
	 * START, those not on their way are started now), -1 one of them
	 * failed (WHY: which and how).  *WHY is malloc'd. */
	int (*deps)(void *ctx, struct unit *u, bool start, char **why);
};

struct unit_host {
	const struct unit_host_ops *ops;
	void *ctx;
	struct loop *loop;
	struct events *ev;
	struct cgroups *cg;         /* a cgroup per run when cg->dir */
	struct keeper *keeper;      /* starts every run (keeper.h) */
	const char *notify_prefix;  /* units' notify sockets: PREFIX NAME.notify;
	                               NULL: none */
	const char *config_path;    /* the configuration file, for errors */
	bool shutting_down;
	uint64_t notify_ignored;    /* datagrams from outside a unit's tree */
	uint64_t fds_full_at;       /* loop_wakeups + 1 of the iteration that
	                               found too few descriptors for a start */
	long fds_est;               /* descriptors free at the last count, less
	                               UNIT_START_FDS per start since */
};

/* How often a start that lacked tend's own resources is tried again. */
#define UNIT_SPAWN_RETRY_MS 500
/* How long after a run started its next start is armed (keeper_arm): not
 * in the moment the new run itself needs the CPU (a restart's own). */
#define UNIT_ARM_DELAY_MS 20

/* Descriptors a start may need at most (its notify socket, output pipe
 * and log at the first; a session's pipes, its cgroup, a pidfd), and those
 * a start must leave free for what may never wait for one: control
 * connections (status, down), a new keeper, reading /proc (an eighth of
 * the limit, at least 4, at most UNIT_FDS_RESERVE).  A start that
 * finds fewer than both free waits in retry ("descriptors"), so that a
 * thousand units under a low limit start as many as fit and the daemon
 * still answers. */
#define UNIT_START_FDS 8
#define UNIT_FDS_RESERVE 32


struct exit_info {
	enum exit_reason reason;
	int code;         /* exit code, or -1 */
	int signal;       /* terminating signal, or 0 */
	int err;          /* errno for spawn_failed */
	uint64_t at;      /* wall clock ms */
};

/* The facts of one run, reset when it is spawned.  pid, sid, id and cg
 * say where its processes are, and are cleared as they go. */
#define UNIT_STATUS_TEXT_MAX 255

struct unit_run {
	pid_t pid;                 /* main process while it runs, else 0 */
	uint32_t token;            /* its spawn's, which the keeper's word of
	                              its exit names (keeper.h) */
	pid_t sid;                 /* session of the run whose tree may live */
	char id[32];               /* "TEND_RUN=<random hex>" while its tree
	                              may live */
	char *cg;                  /* its cgroup while its tree may live
	                              (cgroup.h); NULL: none */
	uint64_t started_at;       /* mono ms */
	uint64_t ready_at;         /* mono ms it became ready; 0: not yet */
	enum exit_reason forced;   /* tend stops it: memory, health, ... */
	struct policy_verdict verdict;  /* applied when its tree is gone */
	uint64_t watchdog_ms;      /* its (WATCHDOG_USEC= may change it) */
	char *status_text;         /* sd_notify STATUS= (at most
	                              UNIT_STATUS_TEXT_MAX bytes), NULL when
	                              none: most services never say one */
	bool draining;             /* it sent STOPPING=1 */
};

/* Takes CFG over.  The host must outlive the unit. */
struct unit *unit_new(struct unit_host *host, struct unit_config *cfg);
void unit_free(struct unit *u);

/* What the unit's owner keeps with it (unit_ext.h: its endpoints, job,
 * watch, the measures of its tree), set once after unit_new and the
 * owner's to free after unit_free; the unit only carries it. */
void unit_set_ext(struct unit *u, struct unit_ext *x);
struct unit_ext *unit_ext(const struct unit *u);

/* Its settings and its name (theirs); the settings its next run starts
 * with: a reload's, pending until the current run is over, else the
 * same. */
const struct unit_config *unit_cfg(const struct unit *u);
const char *unit_name(const struct unit *u);
const struct unit_config *unit_cfg_next(const struct unit *u);
/* UC (taken over) becomes U's settings now: a reload that changed only
 * where they were written. */
void unit_set_config(struct unit *u, struct unit_config *uc);
/* UC (taken over) becomes U's settings: at once when U is at rest, else
 * from its next spawn (pending: unit_cfg_next). */
void unit_take_config(struct unit *u, struct unit_config *uc);

/* The supervisor's, that the unit calls up through (above). */
struct unit_host *unit_host(const struct unit *u);
/* A reload removed it (or its sessions dropped it): it goes once at
 * rest, and starts no more; unless a reload brings it back. */
bool unit_removed(const struct unit *u);
void unit_set_removed(struct unit *u, bool removed);
/* An instance NAME#N of a service's (share.h): its clients are the
 * service's, and its stderr goes to ERR_FD (the service's log; -1:
 * nowhere).  Made so once, after unit_new. */
bool unit_is_instance(const struct unit *u);
void unit_make_instance(struct unit *u, int err_fd);

/* The facts of its current run (or the last one's, where they stay), and
 * its roots for the process table (proc.h). */
const struct unit_run *unit_run_info(const struct unit *u);
struct tree_root unit_tree_root(const struct unit *u);
/* How its last run ended; runs started and restarts made so far. */
const struct exit_info *unit_last_exit(const struct unit *u);
unsigned long unit_spawns(const struct unit *u);
unsigned unit_restarts(const struct unit *u);
/* Its health probe's last verdict: 1 ok, 0 failed, -1 none yet; the
 * failures in a row that count, and what the probe said. */
int unit_health(const struct unit *u, unsigned *strikes, const char **detail);
/* Its captured output (unit_capture_output; output.h): marks, the last
 * lines, the log's state; NULL when not captured or not opened yet. */
struct output *unit_output(struct unit *u);
/* sd_notify datagrams dropped at its socket (notify.h). */
uint64_t unit_notify_dropped(const struct unit *u);

/* The unit's processes are to write to a pipe whose lines tend writes to
 * DST as "NAME | line" (names padded to WIDTH; DST -1: nowhere) and to the
 * log file LOGNAME in the directory LOGDIR (NULL: none; see output.h).
 * Nothing is opened yet: the pipe and the log are opened at the unit's
 * first start (or first mark), so that a thousand units of which few run
 * hold descriptors only for those. */
void unit_capture_output(struct unit *u, size_t width, int dst, int logdir,
                         const char *logname, uint64_t logmax);
/* Its output, opened now if it was not yet; NULL when not captured, or
 * (errno EMFILE/ENFILE) when tend lacks the descriptors for it now (a
 * start then waits, unit.h).  An output that cannot be opened for any
 * other reason is warned about once and the unit runs uncaptured. */
struct output *unit_output_open(struct unit *u);
/* The size its log is rotated at (reload). */
void unit_set_log_max(struct unit *u, uint64_t max);

void unit_start(struct unit *u);
void unit_stop(struct unit *u);
/* A unit of U's after list changed: a waiting start looks again. */
void unit_deps_changed(struct unit *u);
/* Is a start of it waiting for its after list?  For what ("db:ready
 * ...", "" when it is not waiting)? */
bool unit_waiting(const struct unit *u);
const char *unit_waiting_for(const struct unit *u);
/* Why its last start could not be made when no errno says (its after
 * list); NULL otherwise. */
const char *unit_start_error(const struct unit *u);
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

/* Questions other modules ask instead of reading the state's fields. */
/* Its state as users see it. */
enum unit_state unit_state(const struct unit *u);
/* Is the unit's run alive and not being stopped (starting or running)? */
bool unit_up(const struct unit *u);
/* Did it give up (failed: too many crashes, or it cannot start)? */
bool unit_gave_up(const struct unit *u);
/* Is a start waiting for tend's own resources (retry)? */
bool unit_retrying(const struct unit *u);
/* Is it in retry for want of descriptors (a limit that may be too low for
 * what runs, not a moment's shortage)?  unit_fds_reason says so: "WHAT:
 * tend is out of file descriptors (its limit is N); ..." (malloc'd). */
bool unit_waits_for_fds(const struct unit *u);
char *unit_fds_reason(const char *what);
/* Is its stop, or its rest, an idle stop's? */
bool unit_idle_stopped(const struct unit *u);
/* Down and staying down: failed, idle, or stopped with no start to come. */
bool unit_down_for_good(const struct unit *u);
/* For whoever waits for a run after run number SINCE to be up: 1 up, 0
 * not yet, -1 it will not be (*WHY: the reason, malloc'd). */
int unit_wait_verdict(const struct unit *u, unsigned long since, char **why);
/* Why U is not up, for an error reply (malloc'd). */
char *unit_down_reason(const struct unit *u);

/* Is the run's main process alive as far as tend knows? */
bool unit_main_alive(const struct unit *u);
/* The run's main process exited with WSTATUS (the keeper reaped it, or
 * tend itself once the keeper was gone). */
void unit_main_exited(struct unit *u, int wstatus);
/* The same as the keeper tells it: with the run armed to follow it,
 * which the keeper may have started at once (keeper.h). */
struct keeper_exit;
void unit_keeper_exit(struct unit *u, const struct keeper_exit *e);
/* Some other process was reaped: the tree may be gone now. */
void unit_on_reaped(struct unit *u);

/* At rest: nothing runs and nothing is scheduled (stopped or failed). */
bool unit_settled(const struct unit *u);

#endif
