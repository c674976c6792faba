/* cgroup — a cgroup v2 directory per run, where the kernel lets tend make
 * one (docs/containment.md).  A process cannot leave a cgroup by forking,
 * setsid or a cleared environment: the run's cgroup holds every process
 * the run ever started, and cgroup.kill kills them all at once.
 *
 * At start tend finds the cgroup2 mount (/proc/self/mountinfo) and its own
 * cgroup (the "0::" line of /proc/self/cgroup) and makes a directory
 * tend-NAME-PID in it (NAME: the daemon's ID, "exec" for tend exec).
 * That works as root and where tend's cgroup is delegated to its user (a
 * systemd user service); elsewhere cg_setup says why not and tend keeps to
 * the mechanisms that need no cgroup.  Each run then gets a directory
 * N-UNIT below it, which its main process joins before its exec (proc.h,
 * spawn_req.cgroup).  tend's own processes and the shims stay outside.
 *
 * Paths are absolute (below the mount point).  Everything here is
 * synchronous and small: a mkdir, a write of a few bytes, a read of
 * cgroup.procs; waiting for a cgroup to empty is done only at the end
 * (cg_teardown, cg_kill_dir).
 */
#ifndef TEND_CGROUP_H
#define TEND_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cgroups {
	char *mount;     /* the cgroup2 mount point; NULL: none found */
	char *dir;       /* tend's directory tend-NAME-PID; NULL: not in use */
	char *why;       /* why runs get none (one line), else NULL */
	bool off;        /* no new run gets one (dir stays for the others) */
	unsigned long runs;   /* runs made so far (names them) */
};

/* Finds the mount and makes tend's directory (NAME: [A-Za-z0-9._-]).
 * Empty directories of tends that are gone (tend-*-PID of a dead PID)
 * beside it are removed.  Returns 0 when runs get cgroups, -1 with
 * CG->why when not. */
int cg_setup(struct cgroups *cg, const char *name);

/* No new run gets a cgroup from now on (WHY: for cg->why); the runs that
 * have one keep it. */
void cg_disable(struct cgroups *cg, const char *why);

/* At the end: kills every process left in tend's directory, waits (a
 * bounded time) until they are gone and removes every directory.  Then
 * frees CG. */
void cg_teardown(struct cgroups *cg);

/* A new run's directory for UNIT (malloc'd path), or NULL (errno;
 * ENOENT when runs get none). */
char *cg_run_new(struct cgroups *cg, const char *unit);

/* The file a process writes "0" to to join the cgroup at PATH
 * (malloc'd). */
char *cg_procs_file(const char *path);

/* Kills every process of the cgroup at PATH and its descendants
 * (cgroup.kill).  Returns 0, or -1 (errno). */
int cg_kill(const char *path);

/* Is something alive in PATH or below it (cgroup.events)?  1, 0, or -1
 * when it cannot be read. */
int cg_populated(const char *path);

/* The pids in PATH's cgroup.procs (not below it) into *PIDS (grown; *CAP
 * its size).  Returns how many, or -1. */
long cg_pids(const char *path, pid_t **pids, size_t *cap);

/* A run is over: removes its directory.  Anything still in it (tend found
 * nothing, so nothing should be) is killed first and the directory is
 * left for cg_teardown. */
void cg_run_end(const char *path);

/* Kills everything in PATH and below (a leftover of an earlier tend),
 * waits up to WAIT_MS for it to be gone and removes the directories.
 * Returns how many processes were in it. */
size_t cg_kill_dir(const char *path, int wait_ms);

/* --- pure parsers (fuzz/fuzz_procfs.c) --- */

/* One line of /proc/self/mountinfo: 1 with ROOT and MNT (the root of the
 * mount inside the file system, and the mount point; escapes undone)
 * when it is a cgroup2 mount, 0 when it is another, -1 when it is not
 * such a line.  ROOT and MNT hold CAP bytes. */
int cg_parse_mount(const char *line, char *root, char *mnt, size_t cap);

/* /proc/self/cgroup: 0 with the path of the "0::" line in OUT (CAP
 * bytes), -1 when there is none (cgroup v1 only) or it is not a live
 * absolute path. */
int cg_parse_self(const char *text, char *out, size_t cap);

/* A "cgroup PATH" line of the procs file (sup_procs.c): 0 with PATH in OUT (CAP
 * bytes) when it names, below MOUNT, a directory tend-NAME-PID of this
 * NAME (no "." or ".." component, no doubled '/'); -1 otherwise. */
int cg_parse_record(const char *line, const char *mount, const char *name,
                    char *out, size_t cap);

#endif
