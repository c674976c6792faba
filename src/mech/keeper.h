/* keeper — one small process per daemon that is the parent and child
 * subreaper of every run (docs/containment.md, "The keeper").
 *
 * The keeper is tend's own binary exec'd again as "tend-keeper PID"
 * (keeper_main), so its text is the daemon's, shared in the page cache,
 * and its own memory is what it touches: it holds no state of the runs
 * but a table of the main processes it started.  It talks to the daemon
 * over one SOCK_SEQPACKET socketpair (its fd 3), one message per datagram:
 *
 *   daemon -> keeper  spawn (a token, argv, environment, cwd and, by
 *                     SCM_RIGHTS, the run's stdin, stdout, stderr, its
 *                     cgroup directory and its listening sockets); bye.
 *                     arm (a run's next spawn, to be made at once when
 *                     that run's main exits as WHEN says); disarm.
 *   keeper -> daemon  spawned (the token, the main's pid, or the step and
 *                     errno that failed, and whether it could not join
 *                     its cgroup); exits (what one SIGCHLD reaped: the
 *                     token and wait status of each main among it, and
 *                     the armed run started in its place, how many other
 *                     processes, and how many of the keeper's children
 *                     are no main of a live run: its strays).
 *
 * Runs are started exactly as proc_spawn starts a command (a session of
 * its own, born in its cgroup where the kernel can), by the keeper, so
 * the daemon never forks for a run.  Orphans of every run come back to the
 * keeper (its child subreaper), which reaps them; the daemon still decides
 * which processes form which tree and signals them itself (proc.h).
 * Strays are what makes the end of a tree known without reading the whole
 * process table: when the keeper has none, a run whose main process has
 * exited left nothing below it.
 *
 * The keeper dies with the daemon: its death signal (PR_SET_PDEATHSIG)
 * or the end of the socket makes it freeze and kill everything below it,
 * then exit.  It ignores every other signal.  Should the keeper die first
 * (it was killed), its children come to the daemon, which is a subreaper
 * too: keeper_reaped says so, and the next spawn starts a new keeper.
 */
#ifndef TEND_KEEPER_H
#define TEND_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "policy.h"
#include "proc.h"

struct keeper;

/* A main's exit, as the keeper tells it: NEXT is the token of the run
 * armed for it that the keeper started at once (NEXT_PID, NEXT_CG_ERR as
 * in spawn_res), 0 when none was. */
struct keeper_exit {
	uint32_t token;
	int wstatus;
	uint32_t next;
	pid_t next_pid;
	int next_cg_err;
};

/* Which exits of a run start its armed next run at once: a clean one
 * (SC says which are) when CLEAN, any other when CRASH.  And only when
 * nothing else of any run is left below the keeper. */
struct keeper_when {
	struct success_codes sc;
	uint32_t clean, crash;
};

struct keeper_hooks {
	/* The main process of a spawn exited (E). */
	void (*exited)(void *ctx, const struct keeper_exit *e);
	/* The keeper reaped something else (an orphan of a run): a tree
	 * may be gone now. */
	void (*reaped)(void *ctx);
	/* A keeper died; its children are the daemon's now (the runs it
	 * held: those keeper_holds no longer says it holds). */
	void (*lost)(void *ctx);
	void *ctx;
};

/* A keeper client on LP, not started yet (the first spawn starts one).
 * EXE: the binary to exec as the keeper (NULL: this process's own). */
struct keeper *keeper_new(struct loop *lp, const struct keeper_hooks *h,
                          const char *exe);
/* Tells the keeper to go (it kills whatever is left below it, which
 * should be nothing) and waits a moment for it; then frees K. */
void keeper_free(struct keeper *k);

/* Starts REQ as a run below the keeper (REQ->fds are passed at 3, 4, ...).  Returns 0 with RES->pid and *TOKEN (the exits
 * hook names the run by it), or -1 with RES->err and RES->step (step
 * "keeper": the keeper could not be started or did not answer). */
int keeper_spawn(struct keeper *k, const struct spawn_req *req,
                 struct spawn_res *res, uint32_t *token);

/* Arms the run of spawn AFTER with its next start (REQ, fds as for
 * keeper_spawn; *TOKEN names it): when that run's main exits as WHEN
 * says, the keeper starts REQ at once and tells so with the exit
 * (keeper_exit.next), without waiting for the daemon.  One arm per run;
 * used once.  Returns 0, or -1 (errno) when it could not be sent (no
 * keeper, or a pid namespace: the keeper's pids are not the daemon's).
 * The keeper may drop an arm it cannot hold (its descriptors): the exit
 * then comes with next 0, as without one. */
int keeper_arm(struct keeper *k, uint32_t after, const struct spawn_req *req,
               const struct keeper_when *when, uint32_t *token);
/* Takes the arm of run AFTER back, if it is not used yet.  Sent before a
 * signal that ends the run, it is read before the exit it causes. */
void keeper_disarm(struct keeper *k, uint32_t after);
/* SIGKILL to the run PID the keeper started, if it is still the keeper's
 * child (not reaped: no other process's pid), by its start time
 * (proc_signal). */
void keeper_kill_run(const struct keeper *k, pid_t pid);
/* Does WHEN start the armed run after an exit of WSTATUS?  (Pure.) */
bool keeper_when_fires(const struct keeper_when *when, int wstatus);

/* Whether the keepers started from now on make a pid namespace (their
 * runs' own, which dies with the keeper: docs/containment.md). */
void keeper_set_pidns(struct keeper *k, bool on);
/* Whether the keeper that runs now has one; else *WHY says why not
 * (NULL: none runs yet). */
bool keeper_pidns(const struct keeper *k, const char **why);

/* The keeper's pid, 0 when none runs. */
pid_t keeper_pid(const struct keeper *k);
/* How many of the keeper's children are no live run's main process, as
 * of its last word (0: every run whose main exited left nothing). */
size_t keeper_strays(const struct keeper *k);
/* The daemon reaped PID: if that was a keeper, K forgets it (the lost
 * hook runs) and returns true. */
bool keeper_reaped(struct keeper *k, pid_t pid);
/* The daemon got a SIGCHLD: a keeper that was stopped (a run may SIGSTOP
 * its parent) is continued, one that exited reaped (keeper_reaped). */
void keeper_on_sigchld(struct keeper *k);
/* Is the run of spawn TOKEN below the keeper that runs now? */
bool keeper_holds(const struct keeper *k, uint32_t token);

/* The keeper process itself: its socket is FD, its daemon PARENT.
 * Returns its exit code. */
int keeper_main(int fd, pid_t parent);
/* The same as exec'd by a daemon ("tend-keeper PARENT", the socket at 3),
 * or one line of error for whoever else runs it. */
int keeper_run(const char *parent);

/* --- the wire (pure; fuzz/fuzz_keeper.c) --- */

#define KEEPER_ARGS_MAX 65536      /* argv + environment entries */
#define KEEPER_MSG_MAX (4u << 20)  /* bytes of one message */

enum { KS_IN = 1, KS_OUT = 2, KS_ERR = 4, KS_CGROUP = 8, KS_LISTEN_PID = 16 };

/* A spawn request as the keeper reads it: pointers into the message. */
struct keeper_spawn_msg {
	uint32_t token, flags, nfds;   /* nfds: listening sockets */
	char **argv, **envp;           /* NULL-terminated (malloc'd arrays) */
	const char *cwd;               /* NULL: inherit */
};

/* Encodes a spawn request into OUT (reset first).  -1 (E2BIG) past the
 * limits above. */
int keeper_encode_spawn(struct buf *out, uint32_t token, uint32_t flags,
                        size_t nfds, const struct spawn_req *req);
/* Decodes MSG[0..LEN) into M.  Returns 0, or -1 when it is no well-formed
 * spawn request (then nothing is left to free).  M's arrays point into
 * MSG; free them with keeper_spawn_msg_free. */
int keeper_decode_spawn(const void *msg, size_t len, struct keeper_spawn_msg *m);
void keeper_spawn_msg_free(struct keeper_spawn_msg *m);

#endif
