/* proc — processes: spawning one command (proc.c), alone or below a shim
 * that contains its tree, and finding which processes belong to which
 * tree and killing a tree that forks (proc_tree.c), on the process table
 * and the signals of proc_os.h, which is all that differs from one
 * system to another (proc_linux.c).
 *
 * A tree is everything a run started.  tend is a child subreaper, so every
 * descendant of tend is either still below its parent or reparented to tend
 * itself; tree_assign() walks each process up to its top ancestor below tend
 * and gives it to the run whose main process that is, whose session that
 * ancestor is in (each run is its own session: setsid at spawn), or whose
 * cookie (TEND_UNIT=name in the environment it was started with) it
 * carries.  That finds plain children, process groups, setsid'd and
 * double-forked daemons alike.  Processes are named by pid AND start time.
 */
#ifndef TEND_PROC_H
#define TEND_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "mem_os.h"
#include "proc_os.h"
#include "util.h"

/* --- spawning --- */

#define SPAWN_FDS_MAX 64

struct spawn_req {
	char *const *argv;       /* argv[0] is looked up in envp's PATH */
	char *const *envp;
	const char *cwd;         /* NULL: inherit */
	int fd_in, fd_out, fd_err;  /* -1: inherit */
	const int *fds;          /* proc_spawn_shim: passed at 3, 4, ... */
	size_t nfds;             /* at most SPAWN_FDS_MAX */
	bool listen_pid;         /* envp's LISTEN_PID= gets the main pid */
	bool die_with_parent;    /* proc_spawn: SIGKILL when tend dies, however
	                            (PR_SET_PDEATHSIG; a check's command) */
	const char *title;       /* the shim's command line in ps (NULL: none) */
	const char *cgroup;      /* proc_spawn_shim: the cgroup.procs file the
	                            main process joins before its exec (the
	                            run's cgroup, cgroup.h); NULL: none */
};

/* The descriptor limit (RLIMIT_NOFILE) spawned programs get back when
 * tend raised its own: they see what tend was started with. */
void proc_child_nofile(const struct rlimit *rl);

/* Where tend's own argv strings lie (contiguous, from main), so that a
 * shim can show "tend-shim NAME" in ps instead of tend's command line. */
void proc_title_area(char *start, size_t len);

struct spawn_res {
	pid_t pid;
	int err;            /* errno of the failed step, 0 on success */
	const char *step;   /* "exec", "chdir", "fork", ... when err != 0 */
	int cg_err;         /* errno when the main process could not join
	                       req->cgroup (it runs all the same), else 0 */
};

/* Forks, makes the child a session leader with every signal unblocked and
 * at its default disposition, and execs.  Returns 0 when the program runs, -1 with res->err/step when it
 * could not be started (the failed child is already reaped). */
int proc_spawn(const struct spawn_req *req, struct spawn_res *res);

/* --- the process table --- */

/* The table, one process, its environment and command line, signals that
 * never hit a recycled pid: proc_os.h (proc_linux.c).  The memory of a
 * process: mem_os.h (mem_linux.c). */

/* --- trees --- */

struct tree_root {
	pid_t main;           /* the run's main process, 0 once reaped */
	pid_t sid;            /* the run's session (= first main pid), 0: none */
	const char *cookie;   /* "TEND_UNIT=name", or NULL */
};

#define TREE_NOT_OURS (-1)  /* not a descendant of tend */
#define TREE_STRAY (-2)     /* below tend, but no root claims it */

/* For every process of T, OWNER[i] becomes the index of the root it
 * belongs to, TREE_NOT_OURS or TREE_STRAY.  Zombies get TREE_NOT_OURS:
 * they are gone, only not yet reaped.  With ADOPT_STRAYS (one root only)
 * strays go to root 0. */
void tree_assign(const struct proc_table *t, pid_t self,
                 const struct tree_root *roots, size_t nroots,
                 bool adopt_strays, int *owner);

/* The index of PID in T (sorted by pid), or -1. */
long proc_table_find(const struct proc_table *t, pid_t pid);

/* Does ENV (from proc_environ) hold the entry ENTRY ("K=V")? */
bool environ_has(const struct buf *env, const char *entry);

/* Gives the live processes of some tree (the array stays the collector's). */
typedef size_t (*proc_collect_fn)(void *ctx, const struct proc_stat **members);

/* SIGKILL that a forking tree cannot outrun: SIGSTOP to every process
 * COLLECT finds (a stopped process cannot fork), pass after pass until a
 * pass reaches as many as the one before, then SIGKILL to them all.
 * Returns how many were killed. */
size_t proc_freeze_kill(proc_collect_fn collect, void *ctx);

/* --- the shim --- */

/* Spawns REQ below a shim: a small process (a fork of tend, no exec) that
 * is the run's child subreaper, so nothing of the tree can escape to init
 * while the shim lives.  The shim has PR_SET_PDEATHSIG: if tend dies, even
 * by SIGKILL, the shim freezes and kills the whole tree at once and exits.
 * When the main process exits and nothing else of the tree is left, the
 * shim exits the same way (same code, or killed by the same signal), so
 * for tend the shim's wait status is the main process's.  When something
 * is left, the shim stays (the rest of the tree is still its, and dies
 * with tend) and tells tend at once: sigqueue(tend, PROC_MAIN_EXITED, the
 * main process's wait status as sival_int); it reaps the rest as it goes
 * and exits the same way once none is left.  So tend learns of the main
 * process's exit from whichever comes first, that signal (ssi_pid: the
 * shim) or the shim's own wait status, and the shim's exit is always the
 * end of the tree below it.  The shim ignores every signal but SIGKILL
 * while tend lives.  RES->pid is the main process; *SHIM the shim, which
 * tend reaps.  The main process tells its pid to tend itself, before its
 * exec, so RES->pid is known even when the program kills its shim at once
 * (the shim's reap then is that run's end, as for a shim killed later);
 * -1 (ECHILD, "fork") only when the shim died before it forked. */
#define PROC_MAIN_EXITED SIGRTMIN
int proc_spawn_shim(const struct spawn_req *req, struct spawn_res *res,
                    pid_t *shim);

#endif
