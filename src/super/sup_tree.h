/* sup_tree — the supervisor's view of the process table: which processes
 * are each unit's tree (sup.h).
 *
 * One scan of /proc assigns every process to at most one unit: a unit's
 * tree is what is below its shim, of its session, or carries its run's
 * cookie (proc.h, tree_assign), and, once the shim is gone, what its run's
 * cgroup lists (cgroup.h).  Exec checks are trees of their own, no unit's.
 * A scan serves every question asked in the same loop iteration until a
 * reap, a spawn or a unit going away makes it stale (sup_rescan): a
 * thousand units stopping at once read /proc once per iteration.  A unit
 * whose shim is gone and that has a cgroup, or when every child of tend is
 * a shim or a check, is known to have no tree without any scan.  Every
 * tree read is also recorded as the unit's last seen one (sup_procs.h).
 */
#ifndef TEND_SUP_TREE_H
#define TEND_SUP_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sup;
struct unit;
struct proc_stat;

/* The unit whose tree holds PID (a zombie counts as its parent), or NULL;
 * *GONE tells whether PID is no process at all. */
struct unit *sup_owner(struct sup *s, pid_t pid, bool *gone);

/* The live processes of U's tree (main process included, shim excluded),
 * from a scan of /proc made in this loop iteration (see sup_rescan).  The array is owned by S and valid until the
 * next call. */
size_t sup_tree(struct sup *s, const struct unit *u,
                const struct proc_stat **members);

/* The next sup_tree reads /proc afresh (a kill pass must see processes
 * forked since the last one). */
void sup_rescan(struct sup *s);

#endif
