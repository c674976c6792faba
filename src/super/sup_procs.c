#include "sup_int.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		const struct unit_measure *um = &unit_ext(u)->m;
		if (unit_run_info(u)->id[0])
			fprintf(f, "run %s %s\n", unit_run_info(u)->id, unit_name(u));
		for (size_t k = 0; k < um->nseen; k++)
			fprintf(f, "%d %llu %s\n", (int)um->seen[k].pid,
			        (unsigned long long)um->seen[k].start, unit_name(u));
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
		loop_timer_start(s->host.loop, &s->procs_retry, s->procs_retry_ms,
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
	events_emit(s->host.ev, "tend", "warn", json_pack("{s:o, s:s, s:o, s:s}",
	            "message", events_text(m), "condition", "procs", "path",
	            events_text(path), "error", strerror(err)));
	free(m);
}

/* Writes the procs file now; on failure, says so once and tries again
 * later (records_failed). */
void sup_records_write(struct sup *s)
{
	loop_timer_stop(s->host.loop, &s->records);
	if (!s->paths)
		return;
	int err = records_try(s);
	if (err) {
		records_failed(s, err);
		return;
	}
	loop_timer_stop(s->host.loop, &s->procs_retry);
	s->procs_retry_ms = 0;
	if (!s->procs_short)
		return;
	s->procs_short = false;
	char *m = xasprintf("%s is written again: a next daemon finds every "
	                    "process of this one's runs", s->paths->procs);
	events_emit(s->host.ev, "tend", "recovered", json_pack("{s:s, s:o, s:o}",
	            "condition", "procs", "message", events_text(m), "path",
	            events_text(s->paths->procs)));
	free(m);
}

static void on_records(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	sup_records_write(t->data);
}

/* U's tree is now SEEN (N processes). */
void sup_note_seen(struct sup *s, struct unit *u, const struct proc_stat *seen,
                   size_t n)
{
	struct unit_measure *um = &unit_ext(u)->m;
	if (same_procs(um->seen, um->nseen, seen, n))
		return;
	if (n > um->seen_cap) {
		/* Room for N: most trees are one process for good, and their
		 * record is then one 64-byte block, not two processes' room. */
		um->seen_cap = n;
		um->seen = xrealloc(um->seen, um->seen_cap * sizeof(*um->seen));
	}
	if (n)   /* an empty tree may come as NULL: no memcpy from it */
		memcpy(um->seen, seen, n * sizeof(*seen));
	um->nseen = n;
	/* Once per loop iteration, however many trees changed in it (a boot
	 * of a thousand services writes the file once, not a thousand times). */
	if (s->paths && !s->records.armed)
		loop_timer_start(s->host.loop, &s->records, 0, on_records, s);
}

static void on_trim(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct sup *s = t->data;
	/* The scratch of the scans (the whole process table, its owners,
	 * a tree, tend's children) answers within one loop iteration only
	 * (sup_scan_units): a daemon at rest keeps none of it.  With 1 000
	 * processes on the machine the table alone is 56 KiB. */
	s->scan_valid = false;
	proc_table_free(&s->table);
	free(s->owner);
	free(s->members);
	free(s->kids);
	free(s->known);
	s->owner = NULL;
	s->members = NULL;
	s->kids = s->known = NULL;
	s->owner_cap = s->members_cap = s->kids_cap = s->known_cap = 0;
	heap_give_back();
	/* The code that ran once (start-up, a reload: the configuration's
	 * parser, the first spawns) is unmapped at the first rest after it;
	 * what runs in operation (restarts, status) stays mapped once it ran,
	 * so that a crash loop does not fault its path back in every time. */
	if (!s->code_given)
		(void)code_give_back();
	s->code_given = true;
}

/* A spawn builds and drops a whole environment, a boot a thousand, a
 * status the JSON of every unit: once things are quiet for a second, what
 * they left free goes back (one wakeup after activity, none when idle). */
void sup_after_burst(struct sup *s)
{
	loop_timer_start(s->host.loop, &s->trim, 1000, on_trim, s);
}

void sup_spawned(struct sup *s, struct unit *u)
{
	sup_rescan(s);
	sup_after_burst(s);
	struct proc_stat run;
	size_t n = proc_read_stat(unit_run_info(u)->pid, &run) == 0;
	sup_note_seen(s, u, &run, n);
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

/* Waits at most MS in all for the processes of M to be gone. */
static void wait_gone(const struct proc_stat *m, size_t n, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = mono_ms();
		if (t >= end)
			break;
		(void)proc_wait_gone(&m[i], (int)(end - t));
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

/* The procs file F, read into L (the processes and runs recorded) and
 * CGROUPS (the runs' cgroups); F is closed. */
static void read_procs(struct sup *s, FILE *f, struct leftovers *l,
                       struct strv *cgroups)
{
	size_t cap = 0;
	char line[PATH_MAX + 16];
	while (fgets(line, sizeof(line), f)) {
		int pid;
		unsigned long long start;
		char run[SUP_RUN_MAX], cgroup[PATH_MAX];
		if (cg_parse_record(line, s->cg.mount, s->paths->id, cgroup,
		                    sizeof(cgroup)) == 0) {
			strv_push(cgroups, xstrdup(cgroup));
			continue;
		}
		int kind = sup_procs_line(line, &pid, &start, run);
		if (kind == SUP_LINE_RUN) {
			strv_push(&l->runs, xstrdup(run));
			continue;
		}
		if (kind != SUP_LINE_PROC)
			continue;
		if (l->nrec == cap) {
			cap = cap ? cap * 2 : 16;
			l->rec = xrealloc(l->rec, cap * sizeof(*l->rec));
		}
		l->rec[l->nrec++] = (struct proc_stat){ .pid = pid, .start = start };
	}
	(void)fclose(f);  /* read only */
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
	read_procs(s, f, &l, &cgroups);
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
		events_emit(s->host.ev, "tend", "warn", json_pack("{s:s, s:I}", "message", m,
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

