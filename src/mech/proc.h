/* proc — processes: spawning one command (proc.c; a run's is started by
 * the keeper, keeper.h, which contains its tree), and finding which processes belong to which
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
	const int *fds;          /* passed at 3, 4, ... (and 0-2 above) */
	size_t nfds;             /* at most SPAWN_FDS_MAX */
	bool listen_pid;         /* envp's LISTEN_PID= gets the main pid */
	bool die_with_parent;    /* proc_spawn: SIGKILL when tend dies, however
	                            (PR_SET_PDEATHSIG; a check's command) */
	bool has_cgroup;         /* the child is born in the cgroup whose
	                            directory CGROUP_DIR is open (the run's,
	                            cgroup.h), or joins it before its exec */
	int cgroup_dir;
};

/* The descriptor limit (RLIMIT_NOFILE) spawned programs get back when
 * tend raised its own: they see what tend was started with. */
void proc_child_nofile(const struct rlimit *rl);
/* Puts those limits on this process (a child about to exec).  0 or -1. */
int proc_child_limits(void);

struct spawn_res {
	pid_t pid;
	int err;            /* errno of the failed step, 0 on success */
	const char *step;   /* "exec", "chdir", "fork", ... when err != 0 */
	int cg_err;         /* errno when the child could not join its cgroup
	                       (it runs all the same), else 0 */
};

/* Forks (into REQ's cgroup), makes the child a session leader with every
 * signal unblocked and at its default disposition, places its
 * descriptors, and execs.  Returns 0 when the program runs, -1 with res->err/step when it
 * could not be started (the failed child is already reaped). */
int proc_spawn(const struct spawn_req *req, struct spawn_res *res);
/* Sets every signal disposition of this process to its default, for good
 * (the keeper, which takes its signals by signalfd): its children then
 * need not (proc_spawn).  A process that calls it never sets a handler or
 * ignores a signal afterwards. */
void proc_signals_default(void);

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
 * belongs to, TREE_NOT_OURS or TREE_STRAY.  A tree hangs below SELF (tend)
 * or below KEEPER (its keeper, keeper.h; 0: none), which both are child
 * subreapers; each process is walked up to its topmost ancestor below
 * them.  Zombies get TREE_NOT_OURS: they are gone, only not yet reaped.
 * With ADOPT_STRAYS (one root only) strays go to root 0. */
void tree_assign(const struct proc_table *t, pid_t self, pid_t keeper,
                 const struct tree_root *roots, size_t nroots,
                 bool adopt_strays, int *owner);

/* The owner of the process at index I of T, as tree_assign left OWNER, but
 * a zombie's too: one that has exited but still sent something (a
 * notification, say) belongs where its parent does or, an orphan below
 * tend or its keeper, to the root of its session.  TREE_NOT_OURS when
 * nothing claims it. */
int tree_owner_at(const struct proc_table *t, const int *owner, long i,
                  pid_t self, pid_t keeper, const struct tree_root *roots,
                  size_t nroots);

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

#endif
