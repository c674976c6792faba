#include "sup.h"
#include "job.h"
#include "mem.h"
#include "parse.h"
#include "proxy.h"
#include "share.h"
#include "unit.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Signals tend exec passes on to the whole tree, as tini does: all the
 * asynchronous ones except those it acts on itself and job control. */
static const int forwarded[] = { SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                                 SIGALRM, SIGPWR, SIGURG, SIGCONT, SIGVTALRM,
                                 SIGPROF, SIGXCPU, SIGXFSZ, SIGIO };

static struct unit *unit_by_shim(struct sup *s, pid_t pid)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i]->shim == pid)
			return s->units[i];
	return NULL;
}

struct unit *sup_find(struct sup *s, const char *name)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (strcmp(s->units[i]->cfg->name, name) == 0)
			return s->units[i];
	return NULL;
}

static bool all_settled(const struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (!unit_settled(s->units[i]))
			return false;
	return true;
}

/* --- the process table --- */

/* A fresh process table, each process assigned to one of ROOTS. */
static int scan_assign(struct sup *s, const struct tree_root *roots,
                       size_t nroots, bool adopt)
{
	s->scan_valid = false;
	if (proc_table_scan(&s->table) < 0)
		return -1;
	if (s->table.n > s->owner_cap) {
		s->owner_cap = s->table.n * 2;
		s->owner = xrealloc(s->owner, s->owner_cap * sizeof(*s->owner));
	}
	tree_assign(&s->table, getpid(), roots, nroots, adopt, s->owner);
	return 0;
}

void sup_rescan(struct sup *s)
{
	s->scan_valid = false;
}

/* While a run's shim lives, every process of the run is below it: the
 * walk of the table finds them all.  Once the shim is gone (killed), a
 * process of the run that left its session and cleared its environment
 * is tied to the run by nothing but its cgroup, when it has one: the
 * cgroup's list gives it to the run. */
static void claim_cgroups(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *u = s->units[i];
		if (!u->cg || u->shim > 0)
			continue;
		/* s->kids is scratch here (children_all_known's otherwise) */
		long n = cg_pids(u->cg, &s->kids, &s->kids_cap);
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
static int scan_units(struct sup *s)
{
	if (s->scan_valid && s->scan_wakeups == loop_wakeups(s->loop))
		return 0;
	s->scan_valid = false;
	size_t n = s->nunits;
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *x = s->units[i];
		s->roots[i] = (struct tree_root){ .main = x->shim, .sid = x->sid,
		                                  .cookie = x->cookie };
	}
	/* Exec checks are roots of their own, past the units: no tree's. */
	for (size_t i = 0; i < s->nunits; i++) {
		pid_t c = unit_check_pid(s->units[i]);
		if (c)
			s->roots[n++] = (struct tree_root){ .main = c, .sid = c };
	}
	if (scan_assign(s, s->roots, n, s->exec_mode) < 0)
		return -1;
	claim_cgroups(s);
	s->scan_valid = true;
	s->scan_wakeups = loop_wakeups(s->loop);
	return 0;
}

static bool same_procs(const struct proc_stat *a, size_t na,
                       const struct proc_stat *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].pid != b[i].pid || a[i].start != b[i].start)
			return false;
	return true;
}

/* The procs file, in the runtime directory the daemon holds open (never
 * through a symbolic link), for FLAGS; NULL/errno when it cannot be had. */
static FILE *procs_open(struct sup *s, const char *name, int flags,
                        const char *mode)
{
	int fd = openat(s->paths->runfd, name, flags | O_CLOEXEC | O_NOFOLLOW,
	                0600);
	FILE *f = fd >= 0 ? fdopen(fd, mode) : NULL;
	if (fd >= 0 && !f)
		close(fd);
	return f;
}

/* Writes the procs file: every process of every tree as last seen.
 * Returns 0, or the errno of what failed (the last complete file stays). */
static int records_try(struct sup *s)
{
	const char *name = paths_base(s->paths->procs);
	char *tmp = xasprintf("%s.tmp", name);
	FILE *f = procs_open(s, tmp, O_WRONLY | O_CREAT | O_TRUNC, "w");
	if (!f) {
		int e = errno;
		free(tmp);
		return e ? e : EIO;
	}
	if (s->cg.dir)   /* every run's cgroup is below it */
		fprintf(f, "cgroup %s\n", s->cg.dir);
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *u = s->units[i];
		if (u->run[0])
			fprintf(f, "run %s %s\n", u->run, u->cfg->name);
		for (size_t k = 0; k < u->nseen; k++)
			fprintf(f, "%d %llu %s\n", (int)u->seen[k].pid,
			        (unsigned long long)u->seen[k].start, u->cfg->name);
	}
	/* A write that failed (a full disk) leaves the last complete file. */
	int e = 0;
	errno = 0;
	if (fflush(f) != 0 || ferror(f))
		e = errno ? errno : EIO;
	if (fclose(f) != 0 && !e)
		e = errno ? errno : EIO;
	int dir = s->paths->runfd;
	if (!e && renameat(dir, tmp, dir, name) < 0)
		e = errno;
	if (e)
		unlinkat(dir, tmp, 0);
	free(tmp);
	return e;
}

static void on_records(struct loop *lp, struct loop_timer *t);

/* The procs file could not be written (ERR): said once, tried again with
 * backoff until it is. */
static void records_failed(struct sup *s, int err)
{
	if (!s->procs_retry.armed) {
		if (s->procs_retry_ms < SUP_PROCS_RETRY_MS)
			s->procs_retry_ms = SUP_PROCS_RETRY_MS;
		loop_timer_start(s->loop, &s->procs_retry, s->procs_retry_ms,
		                 on_records, s);
		s->procs_retry_ms = s->procs_retry_ms * 2 > SUP_PROCS_RETRY_MAX_MS
		                    ? SUP_PROCS_RETRY_MAX_MS : s->procs_retry_ms * 2;
	}
	if (s->procs_short)
		return;
	s->procs_short = true;
	const char *path = s->paths->procs;
	char *m = xasprintf("cannot write %s: %s; it names the processes of every "
	                    "run, for a next daemon to find if this one were killed "
	                    "with its shims; supervision goes on; make room in %s: "
	                    "the file is tried again (every %u s at most) until it "
	                    "is written", path, strerror(err), s->paths->rundir,
	                    SUP_PROCS_RETRY_MAX_MS / 1000);
	events_emit(s->ev, "tend", "warn", json_pack("{s:o, s:s, s:o, s:s}",
	            "message", events_text(m), "condition", "procs", "path",
	            events_text(path), "error", strerror(err)));
	free(m);
}

/* Writes the procs file now; on failure, says so once and tries again
 * later (records_failed). */
static void records_write(struct sup *s)
{
	loop_timer_stop(s->loop, &s->records);
	if (!s->paths)
		return;
	int err = records_try(s);
	if (err) {
		records_failed(s, err);
		return;
	}
	loop_timer_stop(s->loop, &s->procs_retry);
	s->procs_retry_ms = 0;
	if (!s->procs_short)
		return;
	s->procs_short = false;
	char *m = xasprintf("%s is written again: a next daemon finds every "
	                    "process of this one's runs", s->paths->procs);
	events_emit(s->ev, "tend", "recovered", json_pack("{s:s, s:o, s:o}",
	            "condition", "procs", "message", events_text(m), "path",
	            events_text(s->paths->procs)));
	free(m);
}

static void on_records(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	records_write(t->data);
}

/* U's tree is now SEEN (N processes; the shim first when it lives). */
static void note_seen(struct sup *s, struct unit *u, const struct proc_stat *seen,
                      size_t n)
{
	if (same_procs(u->seen, u->nseen, seen, n))
		return;
	if (n > u->seen_cap) {
		u->seen_cap = n * 2;
		u->seen = xrealloc(u->seen, u->seen_cap * sizeof(*u->seen));
	}
	if (n)   /* an empty tree may come as NULL: no memcpy from it */
		memcpy(u->seen, seen, n * sizeof(*seen));
	u->nseen = n;
	/* Once per loop iteration, however many trees changed in it (a boot
	 * of a thousand services writes the file once, not a thousand times). */
	if (s->paths && !s->records.armed)
		loop_timer_start(s->loop, &s->records, 0, on_records, s);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* Is every child of tend a unit's shim or a check's command?  Then a unit
 * whose shim is gone has no tree left, and no scan of the process table
 * is needed to know it: a process of a run stays below the run's shim
 * (its subreaper) while the shim lives, the shim exits only once none is
 * left below it, and a process of the run found elsewhere can only be a
 * child of tend's own (reparented to tend when its shim was killed), which
 * then is no shim and no check.  False when tend's children cannot be
 * read (the scan decides).  Costs one read of tend's list of children,
 * not one read per process on the machine. */
static bool children_all_known(struct sup *s)
{
	long n = proc_own_children(&s->kids, &s->kids_cap);
	if (n <= 0)
		return n == 0;
	if (2 * s->nunits > s->known_cap) {
		s->known_cap = 4 * s->nunits;
		s->known = xrealloc(s->known, s->known_cap * sizeof(*s->known));
	}
	size_t k = 0;
	for (size_t i = 0; i < s->nunits; i++) {
		pid_t c = unit_check_pid(s->units[i]);
		if (s->units[i]->shim > 0)
			s->known[k++] = s->units[i]->shim;
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
	/* A run whose shim is gone (the common end of a run: its shim exited
	 * with nothing left below it): its tree is empty unless tend has a
	 * child no unit knows, and only then is the table read. */
	bool fresh = s->scan_valid && s->scan_wakeups == loop_wakeups(s->loop);
	if (u->shim <= 0 && !fresh) {
		/* With a cgroup the kernel says so exactly (zombies do not
		 * count), whatever else tend has below it. */
		int populated = u->cg ? cg_populated(u->cg) : -1;
		if (populated == 0 || (populated < 0 && children_all_known(s))) {
			note_seen(s, (struct unit *)u, NULL, 0);
			return 0;
		}
	}
	if (scan_units(s) < 0)
		return 0;
	if (s->table.n + 1 > s->members_cap) {
		s->members_cap = s->table.n * 2 + 1;
		s->members = xrealloc(s->members, s->members_cap * sizeof(*s->members));
	}
	/* The shim leads the list for the procs file, then is cut off. */
	size_t n = 0;
	for (size_t i = 0; i < s->table.n; i++)
		if (s->owner[i] == me && s->table.p[i].pid == u->shim)
			s->members[n++] = s->table.p[i];
	size_t lead = n;
	for (size_t i = 0; i < s->table.n; i++)
		if (s->owner[i] == me && s->table.p[i].pid != u->shim)
			s->members[n++] = s->table.p[i];
	note_seen(s, (struct unit *)u, s->members, n);
	*members = s->members + lead;
	return n - lead;
}

/* Does U's memory get sampled? */
/* Sampled every memory-interval: units with a limit, and jobs (the peak
 * memory of their runs). */
static bool limited(const struct unit *u)
{
	return (u->cfg->memory_max || u->job) && unit_up(u);
}

/* One process of a tree as a measure reads it. */
struct mem_read {
	pid_t pid;
	uint64_t start;
	struct mem_status st;
	uint64_t bytes;
	bool ok;
};

/* Newest first: a child before the parent it shares pages with. */
static int newest_first(const void *a, const void *b)
{
	const struct mem_read *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? 1 : -1;
	return (x->pid < y->pid) - (x->pid > y->pid);
}

/* U's tree, M[0..N) (its shim among them, not counted): RssAnon + RssShmem
 * of each from status; where the tree's processes may share pages, each
 * one's share from smaps_rollup instead (mem.h), unless SAMPLING (the
 * timer, not a status request) and their sum, an upper bound, decides all
 * the sample decides.  R: scratch of N.
 *
 * The shares are read one process after another, newest first: a child
 * forked during the reads is not in M, and the parent it shares pages
 * with, read last, has the smaller share it has then, so a fork storm
 * (a pre-fork server starting its workers) makes the sum smaller than
 * the tree for one sample, never larger. */
static void mem_measure_tree(struct unit *u, const struct proc_stat *m,
                             size_t n, bool sampling, struct mem_read *r)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (m[i].pid != u->shim)
			r[k++] = (struct mem_read){ .pid = m[i].pid, .start = m[i].start };
	qsort(r, k, sizeof(*r), newest_first);
	uint64_t bound = 0;
	size_t with_mem = 0;
	bool shmem = false;
	for (size_t i = 0; i < k; i++) {
		r[i].ok = proc_read_status_mem(r[i].pid, &r[i].st) == 0;
		if (!r[i].ok)
			continue;
		r[i].bytes = mem_counted(&r[i].st);
		bound += r[i].bytes;
		with_mem += r[i].st.has_vm;
		shmem |= r[i].st.shmem > 0 || mem_needs_rollup(&r[i].st);
	}
	bool exact = mem_tree_shares(with_mem, shmem);
	if (exact && sampling)
		exact = mem_sample_exact(bound, u->cfg->memory_max,
		                         u->cfg->memory_warn_pct, u->mem_warned,
		                         u->job != NULL, u->peak_mem);
	for (size_t i = 0; i < k; i++) {
		if (!r[i].ok)
			continue;
		struct mem_rollup ru;
		if ((exact && r[i].st.has_vm) || mem_needs_rollup(&r[i].st)) {
			int got = proc_read_rollup(r[i].pid, &ru);
			if (got < 0 && (errno == ESRCH || errno == ENOENT))
				continue;   /* gone since its status was read: its
				               pages, shared whole in that status,
				               would count once more than they are */
			r[i].bytes = mem_share(&r[i].st, got == 0 ? &ru : NULL);
		}
		u->procs++;
		u->mem_bytes += r[i].bytes;
		if (r[i].bytes > u->top_bytes || !u->top_pid) {
			u->top_bytes = r[i].bytes;
			u->top_pid = r[i].pid;
		}
	}
}

void sup_measure(struct sup *s, bool limited_only)
{
	for (size_t i = 0; i < s->nunits; i++) {
		s->units[i]->procs = 0;
		s->units[i]->mem_bytes = 0;
		s->units[i]->top_pid = 0;
		s->units[i]->top_bytes = 0;
	}
	if (scan_units(s) < 0)
		return;
	/* Group the table by unit (a counting sort), the shim first in each
	 * group, so each unit's tree is also recorded as seen. */
	size_t *start = xcalloc(s->nunits + 1, sizeof(*start));
	for (size_t i = 0; i < s->table.n; i++)
		if (s->owner[i] >= 0 && (size_t)s->owner[i] < s->nunits)
			start[s->owner[i] + 1]++;
	for (size_t u = 0; u < s->nunits; u++)
		start[u + 1] += start[u];
	if (start[s->nunits] > s->members_cap) {
		s->members_cap = start[s->nunits] * 2;
		s->members = xrealloc(s->members, s->members_cap * sizeof(*s->members));
	}
	size_t *fill = xcalloc(s->nunits, sizeof(*fill));
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->table.n; i++) {
			int o = s->owner[i];
			if (o < 0 || (size_t)o >= s->nunits)
				continue;
			bool shim = s->table.p[i].pid == s->units[o]->shim;
			if (shim == (pass == 0))
				s->members[start[o] + fill[o]++] = s->table.p[i];
		}
	struct mem_read *scratch = xcalloc(start[s->nunits] + 1, sizeof(*scratch));
	for (size_t u = 0; u < s->nunits; u++) {
		struct unit *un = s->units[u];
		note_seen(s, un, s->members + start[u], fill[u]);
		if (limited_only && !limited(un))
			continue;
		mem_measure_tree(un, s->members + start[u], fill[u], limited_only,
		                 scratch);
		if (un->mem_bytes > un->peak_mem)
			un->peak_mem = un->mem_bytes;
	}
	free(scratch);
	free(fill);
	free(start);
}

/* --- sd_notify --- */

struct unit *sup_owner(struct sup *s, pid_t pid, bool *gone)
{
	*gone = false;
	for (int pass = 0; pass < 2; pass++) {
		if (scan_units(s) < 0)
			return NULL;
		long i = proc_table_find(&s->table, pid);
		*gone = i < 0;
		if (i >= 0 && s->table.p[i].state == 'Z')
			i = proc_table_find(&s->table, s->table.p[i].ppid);
		if (i >= 0 && s->owner[i] >= 0 && (size_t)s->owner[i] < s->nunits)
			return s->units[s->owner[i]];
		/* The sender may be younger than the scan: look again, once
		 * per wakeup (a flood of forged datagrams costs one scan). */
		if (s->notify_rescanned == loop_wakeups(s->loop))
			return NULL;
		s->notify_rescanned = loop_wakeups(s->loop);
		sup_rescan(s);
	}
	return NULL;
}

void sup_notify_enable(struct sup *s, const char *prefix)
{
	free(s->notify_prefix);
	s->notify_prefix = xstrdup(prefix);
}

/* --- memory sampling --- */

static void on_memory(struct loop *lp, struct loop_timer *t);

/* The sampling timer runs while some unit with memory-max (or a job) is
 * up, and only then. */
static void memory_schedule(struct sup *s)
{
	bool want = false;
	for (size_t i = 0; i < s->nunits && !want; i++)
		want = limited(s->units[i]);
	if (want && !s->memory.armed)
		loop_timer_start(s->loop, &s->memory, s->cfg->memory_interval_ms,
		                 on_memory, s);
	else if (!want && s->memory.armed)
		loop_timer_stop(s->loop, &s->memory);
}

static void memory_verdict(struct sup *s, struct unit *u)
{
	const struct unit_config *c = u->cfg;
	char a[32], b[32], top[256];
	switch (mem_judge(u->mem_bytes, c->memory_max, c->memory_warn_pct,
	                  &u->mem_warned)) {
	case MEM_OK:
		break;
	case MEM_WARN: {
		char *m = xasprintf("memory %s is over memory-warn (%u%% of "
		                    "memory-max %s)", format_size_approx(u->mem_bytes, a),
		                    c->memory_warn_pct, format_size(c->memory_max, b));
		events_emit(s->ev, c->name, "warn", json_pack("{s:s, s:I, s:I}",
		            "message", m, "mem_bytes", (json_int_t)u->mem_bytes,
		            "limit", (json_int_t)c->memory_max));
		free(m);
		break;
	}
	case MEM_LIMIT: {
		proc_cmdline(u->top_pid, top, sizeof(top));
		events_emit(s->ev, c->name, "memory_limit",
		            json_pack("{s:I, s:I, s:I, s:i, s:s, s:I}",
		                      "mem_bytes", (json_int_t)u->mem_bytes,
		                      "limit", (json_int_t)c->memory_max,
		                      "procs", (json_int_t)u->procs,
		                      "largest_pid", (int)u->top_pid,
		                      "largest_command", top,
		                      "largest_bytes", (json_int_t)u->top_bytes));
		char *why = xasprintf("memory %s over memory-max %s",
		                      format_size_approx(u->mem_bytes, a),
		                      format_size(c->memory_max, b));
		unit_restart_for(u, EXIT_MEMORY, why);
		free(why);
		break;
	}
	}
}

static void on_memory(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct sup *s = t->data;
	uint64_t t0 = mono_ms();
	sup_rescan(s);   /* the figure must be of now, not of this iteration */
	sup_measure(s, true);
	for (size_t i = 0; i < s->nunits; i++)
		if (limited(s->units[i]) && s->units[i]->cfg->memory_max)
			memory_verdict(s, s->units[i]);
	/* One sample per interval: the time the sample took comes off the
	 * wait for the next. */
	uint64_t took = mono_ms() - t0, every = s->cfg->memory_interval_ms;
	if (took < every)
		loop_timer_start(s->loop, &s->memory, every - took, on_memory, s);
	memory_schedule(s);
}

void sup_spawned(struct sup *s, struct unit *u)
{
	sup_rescan(s);
	struct proc_stat run[2];
	size_t n = 0;
	if (proc_read_stat(u->shim, &run[n]) == 0)
		n++;
	if (proc_read_stat(u->pid, &run[n]) == 0)
		n++;
	note_seen(s, u, run, n);
}

/* --- leftovers of a killed daemon --- */

struct leftovers {
	struct sup *s;
	struct proc_stat *rec;   /* as recorded */
	size_t nrec;
	struct proc_stat *hit;   /* alive now: recorded ones and their descendants */
	size_t nhit;
	struct strv runs;        /* "TEND_RUN=..." of the runs that were live */
	struct buf env;          /* scratch for proc_environ */
};

/* Was P started in one of the recorded runs (its environment says so)? */
static bool of_a_run(struct leftovers *l, const struct proc_stat *p)
{
	if (!l->runs.n || proc_environ(p->pid, &l->env) < 0)
		return false;
	for (size_t i = 0; i < l->runs.n; i++)
		if (environ_has(&l->env, l->runs.v[i]))
			return true;
	return false;
}

static bool recorded(const struct leftovers *l, const struct proc_stat *p)
{
	for (size_t i = 0; i < l->nrec; i++)
		if (l->rec[i].pid == p->pid && l->rec[i].start == p->start)
			return true;
	return false;
}

/* Recorded processes, processes of recorded runs, and their descendants,
 * alive now. */
static size_t collect_leftovers(void *ctx, const struct proc_stat **members)
{
	struct leftovers *l = ctx;
	struct proc_table *t = &l->s->table;
	sup_rescan(l->s);  /* the table is borrowed */
	l->nhit = 0;
	*members = l->hit;
	if (proc_table_scan(t) < 0)
		return 0;
	l->hit = xrealloc(l->hit, (t->n + 1) * sizeof(*l->hit));
	bool *mark = xcalloc(t->n + 1, sizeof(*mark));
	for (size_t i = 0; i < t->n; i++)
		mark[i] = t->p[i].pid != getpid() &&
		          (recorded(l, &t->p[i]) || of_a_run(l, &t->p[i]));
	/* Descendants: until no process has a marked parent it lacks (a
	 * parent may have a higher pid than its child, hence the repeat). */
	for (bool grew = true; grew; ) {
		grew = false;
		for (size_t i = 0; i < t->n; i++) {
			long up = mark[i] ? -1 : proc_table_find(t, t->p[i].ppid);
			if (up >= 0 && mark[up] && t->p[i].pid != getpid()) {
				mark[i] = true;
				grew = true;
			}
		}
	}
	for (size_t i = 0; i < t->n; i++)
		if (mark[i] && t->p[i].state != 'Z')
			l->hit[l->nhit++] = t->p[i];
	free(mark);
	*members = l->hit;
	return l->nhit;
}

static void wait_gone(const struct proc_stat *m, size_t n, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	for (size_t i = 0; i < n; i++) {
		int fd = (int)syscall(SYS_pidfd_open, m[i].pid, 0);
		if (fd < 0)
			continue;
		struct proc_stat now;
		uint64_t t = mono_ms();
		if (proc_read_stat(m[i].pid, &now) == 0 && now.start == m[i].start && t < end) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			poll(&p, 1, (int)(end - t));
		}
		close(fd);
	}
}

/* "PID STARTTIME ...": false unless both are numbers in range, PID above
 * 1. */
static bool parse_record(const char *line, int *pid, unsigned long long *start)
{
	char *end;
	errno = 0;
	long p = strtol(line, &end, 10);
	if (end == line || *end != ' ' || errno || p <= 1 || p > INT_MAX)
		return false;
	const char *s = end + 1;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long t = strtoull(s, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return false;
	*pid = (int)p;
	*start = t;
	return true;
}

int sup_procs_line(const char *line, int *pid, unsigned long long *start,
                   char run[SUP_RUN_MAX])
{
	if (sscanf(line, "run %63s", run) == 1 && strncmp(run, "TEND_RUN=", 9) == 0)
		return SUP_LINE_RUN;
	return parse_record(line, pid, start) ? SUP_LINE_PROC : SUP_LINE_NONE;
}

size_t sup_kill_leftovers(struct sup *s)
{
	if (!s->paths)
		return 0;
	FILE *f = procs_open(s, paths_base(s->paths->procs), O_RDONLY, "r");
	if (!f)
		return 0;
	struct leftovers l = { .s = s };
	struct strv cgroups = { 0 };
	size_t cap = 0;
	char line[PATH_MAX + 16];
	while (fgets(line, sizeof(line), f)) {
		int pid;
		unsigned long long start;
		char run[SUP_RUN_MAX], cgroup[PATH_MAX];
		if (cg_parse_record(line, s->cg.mount, s->paths->id, cgroup,
		                    sizeof(cgroup)) == 0) {
			strv_push(&cgroups, xstrdup(cgroup));
			continue;
		}
		int kind = sup_procs_line(line, &pid, &start, run);
		if (kind == SUP_LINE_RUN) {
			strv_push(&l.runs, xstrdup(run));
			continue;
		}
		if (kind != SUP_LINE_PROC)
			continue;
		if (l.nrec == cap) {
			cap = cap ? cap * 2 : 16;
			l.rec = xrealloc(l.rec, cap * sizeof(*l.rec));
		}
		l.rec[l.nrec++] = (struct proc_stat){ .pid = pid, .start = start };
	}
	(void)fclose(f);  /* read only */
	/* The runs' cgroups first: every process of those runs is in them,
	 * wherever it went and whatever its environment. */
	size_t killed = 0;
	for (size_t i = 0; i < cgroups.n; i++)
		if (!s->cg.dir || strcmp(cgroups.v[i], s->cg.dir) != 0)
			killed += cg_kill_dir(cgroups.v[i], 2000);
	strv_free(&cgroups);
	if (l.nrec || l.runs.n)
		killed += proc_freeze_kill(collect_leftovers, &l);
	if (killed) {
		const struct proc_stat *left;
		size_t n = collect_leftovers(&l, &left);
		wait_gone(left, n, 2000);
		char *m = xasprintf("killed %zu processes left alive by an earlier "
		                    "daemon of this file (matched by pid and start time, "
		                    "by the id of their run, or by their run's cgroup)",
		                    killed);
		events_emit(s->ev, "tend", "warn", json_pack("{s:s, s:I}", "message", m,
		            "procs", (json_int_t)killed));
		free(m);
	}
	unlinkat(s->paths->runfd, paths_base(s->paths->procs), 0);
	free(l.rec);
	free(l.hit);
	free(l.env.s);
	strv_free(&l.runs);
	return killed;
}

/* --- the daemon's own resources --- */

void sup_fds_short(struct sup *s, const char *what)
{
	if (s->fds_short)
		return;
	s->fds_short = true;
	struct rlimit rl = { 0 };
	getrlimit(RLIMIT_NOFILE, &rl);
	char *m = xasprintf("tend is out of file descriptors (its limit is %llu): "
	                    "%s; it goes on supervising, and refuses or retries "
	                    "what needs a descriptor until some are free",
	                    (unsigned long long)rl.rlim_cur, what);
	events_emit(s->ev, "tend", "warn", json_pack("{s:s, s:s}", "message", m,
	            "condition", "fds"));
	free(m);
}

void sup_fds_check(struct sup *s)
{
	if (!s->fds_short || s->ctl_starved)
		return;
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i]->spawn_retry)
			return;
	s->fds_short = false;
	events_emit(s->ev, "tend", "recovered", json_pack("{s:s, s:s}", "condition",
	            "fds", "message", "file descriptors are available again: "
	            "control connections are accepted and units start"));
}

static void on_disk_retry(struct loop *lp, struct loop_timer *t)
{
	struct sup *s = t->data;
	bool still = events_retry(s->ev) < 0;
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (!u->captured)
			continue;
		if (output_retry(&u->out) < 0)
			still = true;
		s->disk_lines_lost += u->out.lost_total;
		u->out.lost_total = 0;
	}
	if (still) {
		loop_timer_start(lp, t, SUP_DISK_RETRY_MS, on_disk_retry, s);
		return;
	}
	s->disk_short = false;
	unsigned long events = events_take_lost(s->ev), lines = s->disk_lines_lost;
	s->disk_lines_lost = 0;
	char *m = xasprintf("the state directory is written again; lost "
	                    "meanwhile: %lu events (the rest waited in memory) "
	                    "and %lu lines of output", events, lines);
	events_emit(s->ev, "tend", "recovered", json_pack("{s:s, s:s, s:I, s:I}",
	            "condition", "disk", "message", m, "events_lost",
	            (json_int_t)events, "lines_lost", (json_int_t)lines));
	free(m);
}

void sup_disk_short(struct sup *s, const char *path, int err)
{
	if (!s->disk_retry.armed)
		loop_timer_start(s->loop, &s->disk_retry, SUP_DISK_RETRY_MS,
		                 on_disk_retry, s);
	if (s->disk_short)
		return;
	s->disk_short = true;
	char *m = xasprintf("cannot write %s: %s; events wait in memory (up to "
	                    "%u KiB) and units' output is lost until there is "
	                    "room again; supervision goes on", path, strerror(err),
	                    EVENTS_BACKLOG_MAX >> 10);
	events_emit(s->ev, "tend", "warn", json_pack("{s:o, s:s, s:o, s:s}",
	            "message", events_text(m), "condition", "disk", "path",
	            events_text(path), "error", strerror(err)));
	free(m);
}

double sup_jitter(struct sup *s)
{
	(void)s;
	return (double)random() / ((double)RAND_MAX + 1.0);
}

/* --- units come and go --- */

static void watch_sync(struct sup *s, struct unit *u);

/* The width of the widest name of CFG, for labels. */
static size_t name_width(const struct tend_config *cfg)
{
	size_t w = 0;
	for (size_t i = 0; i < cfg->nunits; i++) {
		size_t len = strlen(cfg->units[i]->name);
		w = len > w ? len : w;
	}
	return w;
}

static struct unit *push_unit(struct sup *s, struct unit_config *uc)
{
	if (s->nunits == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->units = xrealloc(s->units, s->cap * sizeof(*s->units));
		s->roots = xrealloc(s->roots, 2 * s->cap * sizeof(*s->roots));
	}
	struct unit *u = unit_new(s, uc);
	s->units[s->nunits++] = u;
	if (uc->kind == KIND_JOB)
		u->job = job_new(u);
	return u;
}

static void add_unit(struct sup *s, struct unit_config *uc)
{
	struct unit *u = push_unit(s, uc);
	if (s->exec_mode)
		return;
	/* tend exec is transparent: its command writes to tend's own stdout
	 * and stderr.  The daemon logs every line; in the foreground it also
	 * labels each with the unit it came from. */
	char *log = s->paths ? paths_unit_log(s->paths, uc->name) : NULL;
	if (unit_capture_output(u, s->width, s->out_fd,
	                        s->paths ? s->paths->statefd : -1,
	                        log ? paths_base(log) : NULL, s->cfg->log_max) < 0)
		errline("%s: cannot capture output (%s%s%s); it goes to tend's "
		        "stdout unlabelled", uc->name, log ? log : "",
		        log ? ": " : "", strerror(errno));
	free(log);
}

static void warn_unenforced(struct sup *s, struct unit *u)
{
	const char *names[CONFIG_MAX_KEYS];
	size_t n = config_unenforced(u->cfg, names, ARRAY_LEN(names));
	for (size_t k = 0; k < n; k++) {
		char *m = xasprintf("key \"%s\" is accepted but not acted on by "
		                    "this version", names[k]);
		events_emit(s->ev, u->cfg->name, "warn", json_pack("{s:s}", "message", m));
		free(m);
	}
}

static void sweep(struct sup *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i]->removed && unit_up(s->units[i]))
			unit_stop(s->units[i]);   /* sup_drop: from here, not from
			                             inside the unit's own code */
	sup_rescan(s);  /* units move: the scan's owner indexes would not */
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (u->removed && unit_settled(u)) {
			if (!u->instance && !u->cfg->connect_key)
				held_release(&s->held, u->cfg->name);
			unit_free(u);
		}
		else
			s->units[k++] = u;
	}
	s->nunits = k;
	records_write(s);
}

static void on_sweep(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	sweep(t->data);
}

struct unit *sup_add_instance(struct sup *s, struct unit *parent,
                              const char *name, bool per_client)
{
	struct unit_config *c = config_unit_dup(parent->cfg, name);
	if (per_client)
		c->policy.restart = RESTART_NEVER;
	c->start = START_ON_DEMAND;
	struct unit *u = push_unit(s, c);
	u->instance = true;
	u->err_fd = parent->captured ? parent->out.wfd : -1;
	return u;
}

void sup_drop(struct sup *s, struct unit *u)
{
	u->removed = true;
	loop_timer_start(s->loop, &s->sweep, 0, on_sweep, s);
}

void sup_sweep(struct sup *s)
{
	loop_timer_stop(s->loop, &s->sweep);
	sweep(s);
}

/* --- units of tend connect -- CMD --- */

static uint64_t forget_ms(const struct unit *u)
{
	return u->cfg->idle_stop_ms ? u->cfg->idle_stop_ms
	                            : CONFIG_CONNECT_IDLE_STOP_MS;
}

/* At rest, and nobody connected or waiting. */
static bool forgettable(const struct unit *u)
{
	return u->cfg->connect_key && !u->instance && !u->removed &&
	       !u->sup->shutting_down &&
	       unit_settled(u) && (!u->share || (share_clients(u->share) == 0 &&
	                                         share_queued(u->share) == 0));
}

static void on_forget(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct unit *u = t->data;
	if (!forgettable(u))
		return;
	char b[32];
	events_emit(u->sup->ev, u->cfg->name, "forgotten", json_pack("{s:I, s:s}",
	            "after_ms", (json_int_t)forget_ms(u), "after",
	            format_duration(forget_ms(u), b)));
	sup_drop(u->sup, u);
}

/* The forget clock of U runs while it is forgettable, from the moment it
 * became so. */
static void forget_check(struct sup *s, struct unit *u)
{
	if (!u->cfg->connect_key || u->instance)
		return;
	if (!forgettable(u))
		loop_timer_stop(s->loop, &u->forget);
	else if (!u->forget.armed)
		loop_timer_start(s->loop, &u->forget, forget_ms(u), on_forget, u);
}

struct unit *sup_add_connect(struct sup *s, struct unit_config *uc)
{
	add_unit(s, uc);
	struct unit *u = s->units[s->nunits - 1];
	watch_sync(s, u);
	u->share = share_new(u, uc->stdio);
	forget_check(s, u);
	return u;
}

void sup_clients_changed(struct sup *s, struct unit *u)
{
	forget_check(s, u);
}

/* --- watches --- */

static void on_watch_fired(void *ctx, const char *path, size_t n)
{
	struct unit *u = ctx;
	events_emit(u->sup->ev, u->cfg->name, "watch_triggered",
	            json_pack("{s:o, s:I}", "path", events_text(path), "changes",
	                      (json_int_t)n));
	if (u->sup->shutting_down || u->removed)
		return;
	if (u->job) {
		bool coalesced;
		if (!job_request(u->job, "watch", &coalesced, false))
			events_emit(u->sup->ev, u->cfg->name, "warn", json_pack("{s:s}",
			            "message", "a change came during the cooldown: no run"));
	} else if (unit_up(u)) {
		unit_stop(u);     /* on-change = restart: a running service only */
		unit_start(u);
	}
}

static void on_watch_warn(void *ctx, const char *msg)
{
	struct unit *u = ctx;
	events_emit(u->sup->ev, u->cfg->name, "warn", json_pack("{s:o}", "message",
	            events_text(msg)));
}

/* What a watch set is made of, as one string (to tell a change): the
 * paths, the patterns and the debounce, separated by \x1f. */
static char *watch_sig(const struct unit_config *c)
{
	struct buf b = { 0 };
	for (size_t i = 0; i < c->watch.n; i++) {
		buf_adds(&b, c->watch.v[i]);
		buf_addc(&b, '\x1f');
	}
	for (size_t i = 0; i < c->watch_ignore.n; i++) {
		buf_addc(&b, '\x1f');
		buf_adds(&b, c->watch_ignore.v[i]);
	}
	char d[32];
	snprintf(d, sizeof(d), "\x1f%llu", (unsigned long long)c->debounce_ms);
	buf_adds(&b, d);
	buf_addc(&b, 0);
	return b.s;
}

static void watch_sync(struct sup *s, struct unit *u)
{
	const struct unit_config *c = u->next_cfg ? u->next_cfg : u->cfg;
	char *sig = c->watch.n && !u->removed ? watch_sig(c) : NULL;
	if (sig && u->watch_sig && strcmp(sig, u->watch_sig) == 0) {
		free(sig);
		return;
	}
	watch_free(u->watch);
	free(u->watch_sig);
	u->watch = NULL;
	u->watch_sig = sig;
	if (!sig)
		return;
	if (!s->watcher)
		s->watcher = watcher_new(s->loop);
	struct watch_cb cb = { on_watch_fired, on_watch_warn, u };
	u->watch = watch_new(s->watcher, (const char *const *)c->watch.v, c->watch.n,
	                     (const char *const *)c->watch_ignore.v,
	                     c->watch_ignore.n, c->debounce_ms, &cb);
}

void sup_clients_sync(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		const struct unit_config *c = u->next_cfg ? u->next_cfg : u->cfg;
		if (u->instance)
			continue;
		watch_sync(s, u);
		if (u->share && (c->stdio == STDIO_NONE || u->removed ||
		                 share_mode(u->share) != c->stdio)) {
			share_free(u->share, u->removed
			           ? "it was removed from the configuration"
			           : "its stdio setting changed");
			u->share = NULL;
		}
		if (!u->share && c->stdio != STDIO_NONE && !u->removed)
			u->share = share_new(u, c->stdio);
		if (!u->proxy && c->listen.n && !u->removed)
			u->proxy = proxy_new(u);
		if (u->proxy)
			proxy_sync(u->proxy);
	}
}

void sup_clients_unwatch(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i]->proxy)
			proxy_unwatch(s->units[i]->proxy);
}

/* Everything at rest (tend exec's unit, or all after a shutdown): the
 * loop ends, if it still is at rest once the change that got it there is
 * over (a restart passes through stopped on its way to the next run). */
static void on_settle(struct loop *lp, struct loop_timer *t)
{
	if (all_settled(t->data))
		loop_stop(lp);
}

void sup_unit_changed(struct sup *s, struct unit *u)
{
	memory_schedule(s);
	if (u->proxy)
		proxy_on_state(u->proxy);
	if (u->share)
		share_on_state(u->share, u);
	if (s->hooks.changed)
		s->hooks.changed(s->hooks.ctx, u);
	forget_check(s, u);
	if (!unit_settled(u))
		return;
	/* Not freed here: the unit is in the middle of its own code. */
	if (u->removed)
		loop_timer_start(s->loop, &s->sweep, 0, on_sweep, s);
	if ((s->exec_mode || s->shutting_down) && all_settled(s))
		loop_timer_start(s->loop, &s->settle, 0, on_settle, s);
}

/* The unit of the file named NAME that a reload removed and that is not
 * gone yet (its tree still stopping, or not swept yet), or NULL. */
static struct unit *retiring(struct sup *s, const char *name)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (u->removed && !u->instance && !u->cfg->connect_key &&
		    strcmp(u->cfg->name, name) == 0)
			return u;
	}
	return NULL;
}

bool sup_retiring(void *ctx, const char *name)
{
	struct sup *s = ctx;
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *u = s->units[i];
		if (!u->instance && !u->cfg->connect_key && !unit_settled(u) &&
		    strcmp(u->cfg->name, name) == 0)
			return true;
	}
	return false;
}

json_t *sup_reload(struct sup *s, struct tend_config *cfg)
{
	json_t *added = json_array(), *removed = json_array(),
	       *changed = json_array();
	s->cfg = cfg;
	s->width = name_width(cfg);
	size_t old = s->nunits;
	for (size_t i = 0; i < old; i++)
		if (s->units[i]->captured && s->units[i]->out.logging)
			logfile_set_max(&s->units[i]->out.log, cfg->log_max);
	for (size_t i = 0; i < old; i++) {
		struct unit *u = s->units[i];
		bool kept = false;
		for (size_t k = 0; k < cfg->nunits && !kept; k++)
			kept = strcmp(cfg->units[k]->name, u->cfg->name) == 0;
		if (kept || u->removed || u->instance || u->cfg->connect_key)
			continue;   /* an instance goes with its client; tend
			               connect's units are no file's */
		json_array_append_new(removed, json_string(u->cfg->name));
		u->removed = true;
		unit_stop(u);
		if (s->hooks.changed)   /* whoever waits for it hears now */
			s->hooks.changed(s->hooks.ctx, u);
		if (unit_settled(u))
			loop_timer_start(s->loop, &s->sweep, 0, on_sweep, s);
	}
	for (size_t k = 0; k < cfg->nunits; k++) {
		struct unit_config *uc = cfg->units[k];
		struct unit *u = NULL;
		for (size_t i = 0; i < old && !u; i++)
			if (!s->units[i]->removed && !s->units[i]->cfg->connect_key &&
			    strcmp(s->units[i]->cfg->name, uc->name) == 0)
				u = s->units[i];
		cfg->units[k] = NULL;
		if (!u && (u = retiring(s, uc->name))) {
			/* Removed by an earlier reload, its tree still stopping:
			 * one name is one instance, so the unit comes back and
			 * starts once that tree is gone, with the notify socket
			 * and held sockets it has. */
			json_array_append_new(added, json_string(uc->name));
			u->removed = false;
			config_unit_free(u->next_cfg);
			u->next_cfg = uc;
			if (unit_settled(u)) {
				config_unit_free(u->cfg);
				u->cfg = uc;
				u->next_cfg = NULL;
			}
			warn_unenforced(s, u);
			if (uc->kind == KIND_SERVICE && uc->start == START_BOOT)
				unit_start(u);
			continue;
		}
		if (!u) {
			json_array_append_new(added, json_string(uc->name));
			add_unit(s, uc);
			u = s->units[s->nunits - 1];
			warn_unenforced(s, u);
			if (uc->kind == KIND_SERVICE && uc->start == START_BOOT)
				unit_start(u);
			continue;
		}
		if (config_unit_equal(u->cfg, uc) && !u->next_cfg) {
			/* Same settings: only where they were written may differ. */
			config_unit_free(u->cfg);
			u->cfg = uc;
			continue;
		}
		json_array_append_new(changed, json_string(uc->name));
		config_unit_free(u->next_cfg);
		u->next_cfg = uc;
		warn_unenforced(s, u);
		if (unit_settled(u)) {
			/* Not running: it just takes the new settings. */
			config_unit_free(u->cfg);
			u->cfg = u->next_cfg;
			u->next_cfg = NULL;
			if (u->cfg->kind == KIND_SERVICE && u->cfg->start == START_BOOT &&
			    u->state != US_STOPPED)
				unit_start(u);
		} else {
			unit_stop(u);
			unit_start(u);  /* applies next_cfg when the run is over */
		}
	}
	return json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed,
	                 "changed", changed);
}

/* --- signals --- */

static void on_sigchld(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct sup *s = data;
	/* Reap everything first, then look: a scan made between two reaps of
	 * one batch would still show the second one's processes, and no
	 * SIGCHLD would come to correct it. */
	struct reaped { struct unit *u; pid_t pid; int st; bool check; } *done = NULL;
	size_t n = 0, cap = 0;
	int st;
	pid_t pid;
	bool others = false;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct unit *u = unit_by_shim(s, pid);
		bool check = false;
		for (size_t i = 0; !u && i < s->nunits; i++)
			if (unit_check_pid(s->units[i]) == pid) {
				u = s->units[i];
				check = true;
			}
		if (!u || check)
			others = true;
		if (!u)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			done = xrealloc(done, cap * sizeof(*done));
		}
		done[n++] = (struct reaped){ u, pid, st, check };
	}
	sup_rescan(s);
	for (size_t i = 0; i < n; i++)
		if (done[i].check)
			unit_reaped_check(done[i].u, done[i].pid, done[i].st);
		else
			unit_shim_reaped(done[i].u, done[i].st);
	free(done);
	if (others)
		for (size_t i = 0; i < s->nunits; i++)
			unit_on_reaped(s->units[i]);
}

/* A shim says its main process exited while the rest of its tree lives on
 * below it (proc.h): the run's main exit, now.  Only the shim itself can
 * send it (the kernel fills in ssi_pid); a late word from a shim that was
 * reaped meanwhile (SIGCHLD is read first) names no unit's shim. */
static void on_main_exited(struct loop *lp, const struct signalfd_siginfo *si,
                           void *data)
{
	(void)lp;
	struct sup *s = data;
	if (si->ssi_code != SI_QUEUE || si->ssi_uid != getuid())
		return;
	struct unit *u = unit_by_shim(s, (pid_t)si->ssi_pid);
	if (!u || u->main_gone || u->pid == 0)
		return;
	u->main_gone = true;
	sup_rescan(s);
	unit_on_exit(u, si->ssi_int);
}

void sup_shutdown(struct sup *s)
{
	s->shutting_down = true;
	for (size_t i = 0; i < s->nunits; i++) {
		unit_stop(s->units[i]);
		if (s->units[i]->proxy)
			proxy_on_state(s->units[i]->proxy);  /* held clients go */
	}
	if (all_settled(s))
		loop_stop(s->loop);
}

static void on_stop_signal(struct loop *lp, int signo, void *data)
{
	(void)lp;
	struct sup *s = data;
	if (signo == SIGINT && ++s->sigints > 1) {
		for (size_t i = 0; i < s->nunits; i++)
			unit_kill(s->units[i]);
		return;
	}
	if (!s->shutting_down)
		sup_shutdown(s);
}

static void on_forward(struct loop *lp, int signo, void *data)
{
	(void)lp;
	struct sup *s = data;
	for (size_t i = 0; i < s->nunits; i++)
		unit_signal(s->units[i], signo);
}

static void on_hup(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct sup *s = data;
	if (s->hooks.hup)
		s->hooks.hup(s->hooks.ctx);
}

/* A laptop woke up: time asleep counts for nothing (loop.h), and what a
 * probe or a deadline saw across the suspend is not the service's fault. */
static void on_resume(struct loop *lp, uint64_t asleep_ms, void *data)
{
	(void)lp;
	struct sup *s = data;
	char b[32];
	events_emit(s->ev, "tend", "resumed", json_pack("{s:I, s:s}", "asleep_ms",
	            (json_int_t)asleep_ms, "asleep", format_duration(asleep_ms, b)));
	for (size_t i = 0; i < s->nunits; i++)
		unit_on_resume(s->units[i]);
}

/* --- life --- */

struct sup *sup_new(struct tend_config *cfg, struct events *ev,
                    bool exec_mode, const struct paths *paths, int out_fd)
{
	struct sup *s = xcalloc(1, sizeof(*s));
	s->loop = loop_new();
	if (!s->loop) {
		free(s);
		return NULL;
	}
	s->ev = ev;
	s->cfg = cfg;
	s->paths = paths;
	s->exec_mode = exec_mode;
	s->out_fd = out_fd;
	s->started_at = mono_ms();
	s->width = name_width(cfg);
	srandom((unsigned)(getpid() ^ wall_ms()));
	for (size_t i = 0; i < cfg->nunits; i++) {
		add_unit(s, cfg->units[i]);
		cfg->units[i] = NULL;
	}
	return s;
}

void sup_free(struct sup *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nunits; i++)
		unit_free(s->units[i]);
	watcher_free(s->watcher);
	free(s->units);
	held_free(&s->held);
	if (s->out_fd >= 0)
		close(s->out_fd);
	loop_timer_stop(s->loop, &s->sweep);
	loop_timer_stop(s->loop, &s->settle);
	loop_timer_stop(s->loop, &s->records);
	loop_timer_stop(s->loop, &s->memory);
	loop_timer_stop(s->loop, &s->disk_retry);
	loop_timer_stop(s->loop, &s->procs_retry);
	free(s->notify_prefix);
	free(s->roots);
	free(s->owner);
	free(s->members);
	free(s->kids);
	free(s->known);
	cg_teardown(&s->cg);
	proc_table_free(&s->table);
	loop_free(s->loop);
	free(s);
}

int sup_prepare(struct sup *s)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		errline("cannot become a child subreaper (%s); daemonized "
		        "descendants may escape", strerror(errno));
	int r = 0;
	r |= loop_signal(s->loop, SIGCHLD, on_sigchld, s);
	r |= loop_signal_info(s->loop, PROC_MAIN_EXITED, on_main_exited, s);
	r |= loop_signal(s->loop, SIGTERM, on_stop_signal, s);
	r |= loop_signal(s->loop, SIGINT, on_stop_signal, s);
	if (s->exec_mode) {
		for (size_t i = 0; i < ARRAY_LEN(forwarded); i++)
			r |= loop_signal(s->loop, forwarded[i], on_forward, s);
	} else {
		r |= loop_signal(s->loop, SIGHUP, on_hup, s);
	}
	(void)signal(SIGPIPE, SIG_IGN);  /* cannot fail for SIGPIPE */
	loop_on_resume(s->loop, on_resume, s);
	/* A cgroup per run where one can be made; else the mechanisms that
	 * need none (s->cg.why says why). */
	cg_setup(&s->cg, s->paths ? s->paths->id : "exec");
	return r;
}

void sup_boot(struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		warn_unenforced(s, u);
		if (u->cfg->kind == KIND_SERVICE && u->cfg->start == START_BOOT)
			unit_start(u);
	}
}

/* After every unit stopped: anything still below tend that no unit claims
 * (a process that left its session and cleared its environment) must not
 * outlive tend either. */
void sup_finish(struct sup *s)
{
	if (scan_assign(s, NULL, 0, false) == 0)
		for (size_t i = 0; i < s->table.n; i++)
			if (s->owner[i] == TREE_STRAY)
				proc_signal(&s->table.p[i], SIGKILL);
	cg_teardown(&s->cg);
	if (s->paths)
		unlinkat(s->paths->runfd, paths_base(s->paths->procs), 0);
}

static int exec_exit_code(const struct unit *u)
{
	const struct exit_info *e = &u->last_exit;
	if (e->reason == EXIT_SPAWN_FAILED)
		return e->err == ENOENT ? 127 : 126;
	if (u->gave_up)
		return 1;
	if (e->signal)
		return 128 + e->signal;
	return e->code >= 0 ? e->code : 1;
}

int sup_run(struct sup *s)
{
	if (sup_prepare(s) < 0) {
		errline("cannot set up signal handling: %s", strerror(errno));
		return 1;
	}
	watch_sync(s, s->units[0]);
	sup_boot(s);
	if (!all_settled(s) && loop_run(s->loop) < 0) {
		errline("event loop failed: %s", strerror(errno));
		sup_shutdown(s);
	}
	return exec_exit_code(s->units[0]);
}
