/* proc_tree — which process belongs to which tree, and killing a tree
 * that forks, on the table that proc_os.h reads: the same on every
 * system (no system call but those of proc_os.h). */
#include "proc.h"
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* --- the table --- */

struct proc_stat *proc_table_add(struct proc_table *t)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->p = xrealloc(t->p, t->cap * sizeof(*t->p));
	}
	t->p[t->n] = (struct proc_stat){ 0 };
	return &t->p[t->n++];
}

/* qsort of struct proc_stat by pid. */
static int cmp_stat_pid(const void *a, const void *b)
{
	pid_t x = ((const struct proc_stat *)a)->pid;
	pid_t y = ((const struct proc_stat *)b)->pid;
	return (x > y) - (x < y);
}

void proc_table_sort(struct proc_table *t)
{
	if (t->n > 1)
		qsort(t->p, t->n, sizeof(*t->p), cmp_stat_pid);
}

void proc_table_free(struct proc_table *t)
{
	free(t->p);
	*t = (struct proc_table){ 0 };
}

long proc_table_find(const struct proc_table *t, pid_t pid)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->p[mid].pid == pid)
			return (long)mid;
		if (t->p[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* --- trees --- */

bool environ_has(const struct buf *env, const char *entry)
{
	size_t len = strlen(entry) + 1; /* with its NUL */
	for (size_t i = 0; i + len <= env->len; ) {
		size_t l = strnlen(env->s + i, env->len - i);
		if (l + 1 == len && memcmp(env->s + i, entry, len) == 0)
			return true;
		i += l + 1;
	}
	return false;
}

/* Owner of a process whose parent is tend itself or its keeper.  ENV is scratch. */
static int root_by_pid_or_session(const struct proc_stat *p,
                                  const struct tree_root *roots, size_t nroots)
{
	for (size_t r = 0; r < nroots; r++)
		if ((roots[r].main && p->pid == roots[r].main) ||
		    (roots[r].sid && p->sid == roots[r].sid))
			return (int)r;
	return TREE_NOT_OURS;
}

static int top_owner(const struct proc_stat *p, const struct tree_root *roots,
                     size_t nroots, bool adopt, struct buf *env)
{
	int r0 = root_by_pid_or_session(p, roots, nroots);
	if (r0 >= 0)
		return r0;
	/* Read once, whatever the number of roots. */
	if (proc_environ(p->pid, env) == 0)
		for (size_t r = 0; r < nroots; r++)
			if (roots[r].cookie && environ_has(env, roots[r].cookie))
				return (int)r;
	return adopt ? 0 : TREE_STRAY;
}

#define OWNER_UNKNOWN (-3)

void tree_assign(const struct proc_table *t, pid_t self, pid_t keeper,
                 const struct tree_root *roots, size_t nroots,
                 bool adopt_strays, int *owner)
{
	adopt_strays = adopt_strays && nroots == 1;
	for (size_t i = 0; i < t->n; i++)
		owner[i] = OWNER_UNKNOWN;
	long *path = xmalloc((t->n + 1) * sizeof(*path));
	struct buf env = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		size_t np = 0;
		long j = (long)i;
		int result = TREE_NOT_OURS;
		/* Walk up until an answer: a known owner, tend, or a dead end. */
		while (j >= 0 && np <= t->n) {
			if (owner[j] != OWNER_UNKNOWN) {
				result = owner[j];
				break;
			}
			path[np++] = j;
			const struct proc_stat *p = &t->p[j];
			if (p->pid == self || p->pid == 1 || p->ppid == 0 ||
			    (keeper && p->pid == keeper))
				break;
			if (p->ppid == self || (keeper && p->ppid == keeper)) {
				result = top_owner(p, roots, nroots, adopt_strays, &env);
				break;
			}
			j = proc_table_find(t, p->ppid);
		}
		for (size_t k = 0; k < np; k++)
			owner[path[k]] = result;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i].state == 'Z' || t->p[i].state == 'X' ||
		    t->p[i].pid == self || (keeper && t->p[i].pid == keeper))
			owner[i] = TREE_NOT_OURS;
	free(path);
	free(env.s);
}

int tree_owner_at(const struct proc_table *t, const int *owner, long i,
                  pid_t self, pid_t keeper, const struct tree_root *roots,
                  size_t nroots)
{
	if (i < 0 || (size_t)i >= t->n)
		return TREE_NOT_OURS;
	const struct proc_stat *p = &t->p[i];
	if (p->state != 'Z' && p->state != 'X')
		return owner[i];
	if (p->ppid == self || (keeper && p->ppid == keeper))
		return root_by_pid_or_session(p, roots, nroots);
	long j = proc_table_find(t, p->ppid);
	return j >= 0 ? owner[j] : TREE_NOT_OURS;
}

static size_t signal_all(const struct proc_stat *m, size_t n, int sig)
{
	size_t sent = 0;
	for (size_t i = 0; i < n; i++)
		sent += (size_t)proc_signal(&m[i], sig);
	return sent;
}

size_t proc_freeze_kill(proc_collect_fn collect, void *ctx)
{
	const struct proc_stat *m;
	size_t prev = (size_t)-1, n = 0;
	/* COLLECT sets M: call it before M is read (the order in which a
	 * call's arguments are evaluated is unspecified). */
	for (int pass = 0; pass < 16; pass++) {
		size_t found = collect(ctx, &m);
		n = signal_all(m, found, SIGSTOP);
		if (n == prev)
			break;
		prev = n;
	}
	size_t found = collect(ctx, &m);
	signal_all(m, found, SIGKILL);
	return n;
}
