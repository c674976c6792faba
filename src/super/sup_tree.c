#include "sup_int.h"
#include "keeper.h"
#include "unit.h"
#include "util.h"

#include <stdlib.h>
#include <unistd.h>

/* A fresh process table, each process assigned to one of ROOTS. */
int sup_scan_assign(struct sup *s, const struct tree_root *roots,
                    size_t nroots, bool adopt)
{
	s->scan_valid = false;
	if (proc_table_scan(&s->table) < 0)
		return -1;
	if (s->table.n > s->owner_cap) {
		s->owner_cap = s->table.n * 2;
		s->owner = xrealloc(s->owner, s->owner_cap * sizeof(*s->owner));
	}
	tree_assign(&s->table, getpid(), s->keeper ? keeper_pid(s->keeper) : 0,
	            roots, nroots, adopt, s->owner);
	return 0;
}

void sup_rescan(struct sup *s)
{
	s->scan_valid = false;
}

/* A process of a run that left its session and cleared its environment
 * is tied to the run by nothing but its cgroup, when it has one: the
 * cgroup's list gives it to the run.  Read only when the walk left a
 * stray. */
static void claim_cgroups(struct sup *s)
{
	bool strays = false;
	for (size_t i = 0; i < s->table.n && !strays; i++)
		strays = s->owner[i] == TREE_STRAY;
	for (size_t i = 0; i < s->nunits && strays; i++) {
		const struct unit_run *r = unit_run_info(s->units[i]);
		if (!r->cg)
			continue;
		/* s->kids is scratch here (children_all_known's otherwise) */
		long n = cg_pids(r->cg, &s->kids, &s->kids_cap);
		for (long k = 0; k < n; k++) {
			long j = proc_table_find(&s->table, s->kids[k]);
			if (j >= 0 && s->table.p[j].state != 'Z' &&
			    s->table.p[j].state != 'X')
				s->owner[j] = (int)i;
		}
	}
}

/* Every unit's tree from one scan; -1 when /proc cannot be read.  A scan
 * serves every question asked in the same loop iteration until a reap, a
 * spawn or a unit going away makes it stale: a thousand units stopping at
 * once read /proc once per iteration, not once per unit and question.  (A
 * process that dies after the scan is no risk: the last death of a tree
 * always reaches tend as a SIGCHLD, which starts a fresh iteration.) */
int sup_scan_units(struct sup *s)
{
	if (s->scan_valid && s->scan_wakeups == loop_wakeups(s->host.loop))
		return 0;
	s->scan_valid = false;
	size_t n = s->nunits;
	for (size_t i = 0; i < s->nunits; i++)
		s->roots[i] = unit_tree_root(s->units[i]);
	/* Exec checks are roots of their own, past the units: no tree's. */
	for (size_t i = 0; i < s->nunits; i++) {
		pid_t c = unit_check_pid(s->units[i]);
		if (c)
			s->roots[n++] = (struct tree_root){ .main = c, .sid = c };
	}
	if (sup_scan_assign(s, s->roots, n, s->exec_mode) < 0)
		return -1;
	claim_cgroups(s);
	s->scan_valid = true;
	s->scan_wakeups = loop_wakeups(s->host.loop);
	return 0;
}



static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* Is every child of the keeper a live run's main process, and every child
 * of tend the keeper, a check's command or a live main (the keeper's,
 * once the keeper died)?  Then a run whose main process exited has no
 * tree left, and no scan of the process table is needed to know it: every
 * process of a run is below its main process or, orphaned, the keeper's
 * or tend's child (both are subreapers), which would then be none of
 * those.  The keeper counts its own (keeper.h: strays); tend reads its
 * list of children.  False when that cannot be read (the scan decides).
 * Costs one read of tend's list of children, not one read per process on
 * the machine. */
static bool children_all_known(struct sup *s)
{
	if (s->keeper && keeper_strays(s->keeper) > 0)
		return false;
	long n = proc_own_children(&s->kids, &s->kids_cap);
	if (n <= 0)
		return n == 0;
	if (2 * s->nunits + 1 > s->known_cap) {
		s->known_cap = 4 * s->nunits + 1;
		s->known = xrealloc(s->known, s->known_cap * sizeof(*s->known));
	}
	size_t k = 0;
	if (s->keeper && keeper_pid(s->keeper) > 0)
		s->known[k++] = keeper_pid(s->keeper);
	for (size_t i = 0; i < s->nunits; i++) {
		pid_t c = unit_check_pid(s->units[i]);
		if (unit_run_info(s->units[i])->pid > 0)
			s->known[k++] = unit_run_info(s->units[i])->pid;
		if (c > 0)
			s->known[k++] = c;
	}
	qsort(s->known, k, sizeof(*s->known), cmp_pid);
	for (long i = 0; i < n; i++)
		if (!bsearch(&s->kids[i], s->known, k, sizeof(*s->known), cmp_pid))
			return false;
	return true;
}

size_t sup_tree(struct sup *s, const struct unit *u,
                const struct proc_stat **members)
{
	*members = s->members;
	int me = -1;
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i] == u)
			me = (int)i;
	if (me < 0)
		return 0;
	/* A run whose main process exited (the common end of a run, with
	 * nothing left below it): its tree is empty unless the keeper or tend
	 * has a child no unit knows, and only then is the table read. */
	const struct unit_run *r = unit_run_info(u);
	bool fresh = s->scan_valid && s->scan_wakeups == loop_wakeups(s->host.loop);
	if (r->pid <= 0 && !fresh) {
		/* With a cgroup the kernel says so exactly (zombies do not
		 * count), whatever else tend has below it. */
		int populated = r->cg ? cg_populated(r->cg) : -1;
		if (populated == 0 || (populated < 0 && children_all_known(s))) {
			sup_note_seen(s, (struct unit *)u, NULL, 0);
			return 0;
		}
	}
	if (sup_scan_units(s) < 0)
		return 0;
	if (s->table.n + 1 > s->members_cap) {
		s->members_cap = s->table.n * 2 + 1;
		s->members = xrealloc(s->members, s->members_cap * sizeof(*s->members));
	}
	size_t n = 0;
	for (size_t i = 0; i < s->table.n; i++)
		if (s->owner[i] == me)
			s->members[n++] = s->table.p[i];
	sup_note_seen(s, (struct unit *)u, s->members, n);
	*members = s->members;
	return n;
}


struct unit *sup_owner(struct sup *s, pid_t pid, bool *gone)
{
	*gone = false;
	for (int pass = 0; pass < 2; pass++) {
		if (sup_scan_units(s) < 0)
			return NULL;
		long i = proc_table_find(&s->table, pid);
		*gone = i < 0;
		/* A sender that exited at once may be a zombie below the
		 * keeper for a moment: its session still names its run. */
		int o = tree_owner_at(&s->table, s->owner, i, getpid(),
		                      s->keeper ? keeper_pid(s->keeper) : 0,
		                      s->roots, s->nunits);
		if (o >= 0 && (size_t)o < s->nunits)
			return s->units[o];
		/* The sender may be younger than the scan: look again, once
		 * per wakeup (a flood of forged datagrams costs one scan). */
		if (s->notify_rescanned == loop_wakeups(s->host.loop))
			return NULL;
		s->notify_rescanned = loop_wakeups(s->host.loop);
		sup_rescan(s);
	}
	return NULL;
}
