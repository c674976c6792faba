/* proc_os — what tend needs to know about and do to processes that only
 * the operating system can tell or do: the table of processes, one
 * process's identity, its environment and command line, a signal that
 * cannot hit a recycled pid, and the few process attributes that contain
 * a tree (child subreaper, death signal), and what only the system can
 * tell of this process (its executable, a descriptor opened afresh).  proc.h (spawning, trees, the
 * shim) and the supervisor build on it and on nothing below it.
 *
 *   proc_linux.c   Linux: /proc, pidfd, prctl (built; the only one today).
 *   proc_darwin.c  macOS (not written): proc_listallpids and proc_pidinfo
 *                  (PROC_PIDTBSDINFO: ppid, start time, state) from
 *                  libproc, sysctl KERN_PROCARGS2 for the command line and
 *                  environment; no subreaper or death signal (-1, ENOSYS),
 *                  which tend already lives with where prctl refuses.
 *
 * A new system is an added file: build it instead of proc_linux.c.
 * Processes are named by pid AND start time, so that a pid the kernel
 * gave to another process since is never taken for the one seen before.
 */
#ifndef TEND_PROC_OS_H
#define TEND_PROC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct proc_stat {
	pid_t pid, ppid, pgid, sid;
	uint64_t start;   /* start time, in the system's units (Linux: clock
	                     ticks since boot); only compared for equality */
	char state;       /* 'R', 'S', 'Z' (a zombie), 'X' (dead), ... */
	uint64_t cpu;     /* CPU time, user + system, its own and that of the
	                     children it reaped, in clock ticks (Linux) */
	uint64_t faults;  /* page faults of all its threads, minor + major */
	uint64_t rss;     /* resident pages, anonymous, file and shmem */
};

struct proc_table {
	struct proc_stat *p;  /* sorted by pid */
	size_t n, cap;
};

/* --- implemented per system (proc_linux.c) --- */

/* Reads what PID is now.  Returns 0 or -1 (no such process). */
int proc_read_stat(pid_t pid, struct proc_stat *st);

/* Fills T with every process there is now (T is reused between scans;
 * proc_table_add and proc_table_sort below do the bookkeeping).  Returns
 * 0, or -1 (errno) when the table cannot be read. */
int proc_table_scan(struct proc_table *t);

/* The pids of this process's own children, from
 * /proc/self/task/PID/children, into *PIDS (grown as needed; *CAP is its
 * size): for a process of one thread (tend and its keeper are; a child of
 * another thread, or an orphan given to it, would not be listed).  Exact
 * for a process that reaps its children itself: a child leaves that list only
 * when reaped, and one reparented to this process is listed before its
 * old parent's death is told.  Returns how many, or -1 when a list cannot
 * be read (a kernel without CONFIG_PROC_CHILDREN). */
long proc_own_children(pid_t **pids, size_t *cap);

/* How many descriptors this process has open, without listing them
 * (fd_count reads /proc/self/fd, a lookup per descriptor: 4 000 of them
 * took the daemon about 3 ms): the size of /proc/self/fd (Linux 6.2), else
 * one poll of the descriptor table (4 000 of them: about 1 ms).  -1 when
 * it cannot tell. */
long proc_fd_count(void);

/* Reads the environment PID was started with into ENV (its first 64 KiB:
 * NUL-separated entries; ENV is reused between calls).  Returns 0 or -1. */
int proc_environ(pid_t pid, struct buf *env);

/* PID's command line, arguments joined by spaces, control characters as
 * '?', cut to CAP - 1 bytes ("" when gone). */
void proc_cmdline(pid_t pid, char *out, size_t cap);

/* PID's working directory, cut to CAP - 1 bytes ("" when it cannot be
 * read: the process is gone, or another user's). */
void proc_cwd(pid_t pid, char *out, size_t cap);

/* The name PID shows in ps -o comm, up to its first newline, cut to
 * CAP - 1 bytes ("" when gone).  The process chose those bytes: they are
 * not cleaned. */
void proc_comm(pid_t pid, char *out, size_t cap);

/* Sends SIG to process P if it is still the process P names (pid and start
 * time).  Returns 1 if sent, 0 if it is gone. */
int proc_signal(const struct proc_stat *p, int sig);

/* Waits at most TIMEOUT_MS for process P (pid and start time) to be gone
 * (exited: a zombie counts as gone).  Returns 1 when it is, 0 when it
 * still runs, or when it cannot be waited for. */
int proc_wait_gone(const struct proc_stat *p, int timeout_ms);

/* Makes this process a child subreaper: orphans below it come to it, not
 * to init.  Returns 0, or -1 (errno; ENOSYS where there are none). */
int proc_subreaper(void);

/* fork(), the child born in the cgroup whose directory CGROUP_FD is open
 * (clone3 with CLONE_INTO_CGROUP: no move into it afterwards).  Returns
 * as fork does: the child's pid, 0 in the child, or -1 (errno: ENOSYS
 * where the system cannot, else why the kernel refused; then the caller
 * forks and moves the child itself). */
pid_t proc_fork_into(int cgroup_fd);

/* A pidfd of process PID (the caller's pid namespace's), or -1 (errno). */
int proc_pidfd(pid_t pid);
/* Do processes A and B use one memory (a CLONE_VM child, such as a
 * vfork's before its exec, and its parent)?  1, 0, or -1 (errno) when the
 * system cannot say (no kcmp, not allowed). */
int proc_same_vm(pid_t a, pid_t b);
/* The pid, as this process's pid namespace names it, of the process whose
 * pidfd FD is (received from another namespace, say), or -1. */
pid_t proc_pidfd_pid(int fd);

/* Closes every descriptor from MIN up, in one call, allocating nothing (a
 * vfork's child may call it).  Returns 0, or -1 (errno) where the system
 * cannot (Linux before 5.9, a seccomp filter): then nothing is closed. */
int proc_close_from(int min);

/* vfork(): a child that shares this process's memory and runs FN(ARG) on
 * the stack that ends at STACK_TOP, while this process waits until it
 * execs or exits.  FN must only exec or _exit in the end, and change
 * nothing the parent relies on.  Returns the child's pid, or -1 (errno;
 * ENOSYS where the system cannot: fork instead). */
pid_t proc_vfork(int (*fn)(void *), void *arg, void *stack_top);
/* The same, the child born in the cgroup whose directory CGROUP_FD is
 * open (clone3 with CLONE_VM, CLONE_VFORK and CLONE_INTO_CGROUP): no
 * write to cgroup.procs afterwards, which waits for an RCU grace period.
 * STACK: the child's, SIZE bytes (a multiple of 16).  -1 with errno
 * ENOSYS where the system or this build cannot (clone3 is called through
 * a few instructions of its own, x86-64 and arm64 only), else why the
 * kernel refused: then proc_vfork and a move. */
pid_t proc_vfork_into(int (*fn)(void *), void *arg, void *stack, size_t size,
                      int cgroup_fd);

/* fork() into a new pid namespace, whose PID 1 the child is, and a new
 * mount namespace; into a new user namespace too when USER (a user
 * without privileges).  Returns as fork does; -1 (errno) where the system
 * cannot or refuses (ENOSYS, EPERM, EINVAL, ENOSPC...). */
pid_t proc_fork_pidns(bool user);

/* In such a child, before it runs anything else: with USER, maps UID and
 * GID (the parent's) to themselves; then stops its mounts from reaching
 * the system and mounts a /proc of its pid namespace on /proc, so that
 * /proc/PID names its own processes.  Returns 0, or -1 with errno and the
 * failed *STEP. */
int proc_pidns_setup(bool user, uid_t uid, gid_t gid, const char **step);

/* SIG is sent to this process when its parent dies, however.  Returns 0,
 * or -1 (errno; ENOSYS where the system has no such thing). */
int proc_die_with_parent(int sig);

/* The path of this process's executable, cut to CAP - 1 bytes.  Returns
 * 0, or -1 (errno). */
int proc_self_exe(char *out, size_t cap);

/* Opens afresh what this process's descriptor FD has open (a pipe, a
 * terminal), as an open file of its own with open(2)'s FLAGS: flags set
 * on it (O_NONBLOCK) are then not shared with whoever else holds FD's.
 * FD stays open.  Returns the new descriptor, or -1 (errno; ENXIO for a
 * socket, ENOSYS where the system cannot). */
int proc_fd_reopen(int fd, int flags);

/* The name this process shows in ps -o comm (at most 15 bytes kept on
 * Linux).  For the eyes only: a refusal changes nothing. */
void proc_set_name(const char *name);

/* --- Linux's text, pure (fuzz/fuzz_procfs.c) --- */

/* Parses the text of /proc/PID/stat (NUL-terminated) into ST.  The command
 * name (field 2) may hold anything, spaces and ')' included: the fields
 * are read after its last ')'.  Returns 0 or -1 (not such a line).  Pure. */
int proc_parse_stat(const char *buf, pid_t pid, struct proc_stat *st);

/* --- the table's bookkeeping, the same everywhere (proc_tree.c) --- */

void proc_table_free(struct proc_table *t);

/* A new zeroed entry at the end of T (grown as needed). */
struct proc_stat *proc_table_add(struct proc_table *t);
/* Sorts T by pid, as proc_table_scan leaves it. */
void proc_table_sort(struct proc_table *t);

#endif
