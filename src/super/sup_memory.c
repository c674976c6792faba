#include "sup_int.h"
#include "mem.h"
#include "parse.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Does U's memory get sampled? */
/* Sampled every memory-interval: units with a limit, and jobs (the peak
 * memory of their runs). */
static bool limited(const struct unit *u)
{
	return (unit_cfg(u)->memory_max || unit_ext(u)->job) && unit_up(u);
}

/* Does someone watch (a status request with history, not long ago)? */
static bool watched(const struct sup *s)
{
	return s->watched_until > mono_ms();
}

/* Sampled by the timer: limited, or up while someone watches. */
static bool sampled(const struct sup *s, const struct unit *u)
{
	return limited(u) || (unit_up(u) && watched(s));
}

/* One process of a tree as a measure reads it. */
struct mem_read {
	struct proc_stat p;
	struct mem_status st;
	uint64_t bytes;
	bool ok;       /* read, and counts */
	bool shared;   /* its share was read, and it shares pages */
	bool borrowed; /* it uses its parent's memory (CLONE_VM): none of its own */
};

/* --- what each process's status said, while nothing says it changed ---
 *
 * A status of a thousand services would read two files of each process:
 * its stat (the table: its tree) and its status (its memory).  A process
 * whose resident pages (stat's rss) and page faults (minor + major, of all
 * its threads) are what they were at the last read of its status has the
 * memory that read found: anonymous or shmem pages come into a process by
 * a fault of its own, and any page that comes or goes (a fault, an unmap,
 * a swap-out, a page another process put in by process_vm_writev) changes
 * rss.  So an idle process costs one read, its stat, which the table
 * reads anyway.  Only the status figures are kept: a share from
 * smaps_rollup depends on the other processes that map the page and is
 * read afresh each time it is needed.
 *
 * A table of the processes measured last, by pid (open addressing), in
 * the supervisor (struct sup's memo), freed with it: it holds facts about
 * processes, named by pid and start time, whoever asks. */
struct memo {
	pid_t pid;
	uint64_t start, faults, rss;
	struct mem_status st;
};

/* The table is the supervisor's (struct sup's memo): its slots taken
 * (used) are all dropped at 3/4 (processes gone leave theirs behind). */
static struct memo *memo_slot(struct memo_table *t, pid_t pid)
{
	size_t mask = t->cap - 1, i = ((size_t)pid * 2654435761u) & mask;
	while (t->v[i].pid && t->v[i].pid != pid)
		i = (i + 1) & mask;
	return &t->v[i];
}

/* Room for N processes at most half full; what it held goes (a measure
 * of more processes than ever reads them once). */
static void memo_size(struct memo_table *t, size_t n)
{
	if (t->cap >= 2 * n && t->cap)
		return;
	size_t cap = 64;
	while (cap < 2 * n)
		cap *= 2;
	free(t->v);
	t->v = xcalloc(cap, sizeof(*t->v));
	t->cap = cap;
	t->used = 0;
}

/* P's memory from its status: kept from the last read when P's stat says
 * nothing changed, read otherwise.  0, or -1 when it cannot be read. */
static int status_of(struct memo_table *t, const struct proc_stat *p,
                     struct mem_status *st)
{
	struct memo *m = t->cap ? memo_slot(t, p->pid) : NULL;
	if (m && m->pid == p->pid && m->start == p->start &&
	    m->faults == p->faults && m->rss == p->rss && p->state != 'Z') {
		*st = m->st;
		return 0;
	}
	if (proc_read_status_mem(p->pid, st) < 0)
		return -1;
	if (m && !m->pid && ++t->used > t->cap / 4 * 3) {
		memset(t->v, 0, t->cap * sizeof(*t->v));
		t->used = 1;
		m = memo_slot(t, p->pid);
	}
	if (m)
		*m = (struct memo){ .pid = p->pid, .start = p->start,
		                    .faults = p->faults, .rss = p->rss, .st = *st };
	return 0;
}

/* Newest first: a child before the parent it shares pages with. */
static int newest_first(const void *a, const void *b)
{
	const struct proc_stat *x = &((const struct mem_read *)a)->p;
	const struct proc_stat *y = &((const struct mem_read *)b)->p;
	if (x->start != y->start)
		return x->start < y->start ? 1 : -1;
	return (x->pid < y->pid) - (x->pid > y->pid);
}

/* Does P, as the scan saw it, still hold its memory: its pid not
 * another's, not a zombie, and not exiting either (an exiting process
 * lets its memory go, rss 0 from then on, well before it is a zombie)?
 * One read of its stat. */
static bool still_holds(const struct proc_stat *p)
{
	struct proc_stat now;
	return proc_read_stat(p->pid, &now) == 0 && now.start == p->start &&
	       now.state != 'Z' && now.state != 'X' && now.rss > 0;
}

/* Does R[I] use its parent's memory, the parent one of R[0..K)?  A
 * CLONE_VM child (a vfork's or posix_spawn's, until its exec) shows its
 * parent's whole memory as its own, in its status and its share alike:
 * counted, the tree's memory would double for that moment, enough for a
 * false memory-max restart of a big service that starts programs.  Its
 * figures then equal its parent's (the parent waits, or every page is
 * both's); only then is the kernel asked (kcmp: one system call). */
static bool uses_parents_memory(const struct mem_read *r, size_t k, size_t i)
{
	if (!r[i].ok || !r[i].st.has_vm)
		return false;
	for (size_t j = 0; j < k; j++)
		if (j != i && r[j].ok && r[j].p.pid == r[i].p.ppid)
			return mem_counted(&r[j].st) == r[i].bytes &&
			       proc_same_vm(r[j].p.pid, r[i].p.pid) == 1;
	return false;
}

/* U's tree, M[0..N): RssAnon + RssShmem
 * of each from status; where the tree's processes may share pages, each
 * one's share from smaps_rollup instead (mem.h), unless SAMPLING (the
 * timer, not a status request) and their sum, an upper bound, decides all
 * the sample decides.  R: scratch of N.
 *
 * The shares are read one process after another, newest first: a child
 * forked during the reads is not in M, and the parent it shares pages
 * with, read last, has the smaller share it has then, so a fork storm
 * (a pre-fork server starting its workers) makes the sum smaller than
 * the tree for one sample, never larger.
 *
 * Exits during the reads would make it larger: 4 children read while 5
 * processes share 100 MiB (20 MiB each), then gone, then the parent read
 * alone with all of it: 180 MiB of a tree that never held more than 100.
 * So after the reads each process that shared pages (mem_shared_pages)
 * and was read before the last share is looked at again (its stat: one
 * read, only in a sample that read shares, only of those): one that is
 * gone, exiting, a zombie, or another process under its pid by then no
 * longer counts (what it shared is in the later shares, or in none, and what
 * was its own is gone): the sum is then at most what the processes still
 * there hold at the end of the reads. */
static void mem_measure_tree(struct memo_table *t, struct unit *u,
                             const struct proc_stat *m, size_t n,
                             bool sampling, struct mem_read *r)
{
	struct unit_measure *um = &unit_ext(u)->m;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		r[k++] = (struct mem_read){ .p = m[i] };
	qsort(r, k, sizeof(*r), newest_first);
	uint64_t bound = 0;
	size_t with_mem = 0;
	bool shmem = false;
	for (size_t i = 0; i < k; i++) {
		r[i].ok = status_of(t, &r[i].p, &r[i].st) == 0;
		if (!r[i].ok)
			continue;
		r[i].bytes = mem_counted(&r[i].st);
		bound += r[i].bytes;
		with_mem += r[i].st.has_vm;
		shmem |= r[i].st.shmem > 0 || mem_needs_rollup(&r[i].st);
	}
	for (size_t i = 0; i < k; i++)
		if (uses_parents_memory(r, k, i)) {
			r[i].borrowed = true;
			bound -= r[i].bytes;
			with_mem--;
			r[i].bytes = 0;
		}
	bool exact = mem_tree_shares(with_mem, shmem);
	if (exact && sampling)
		exact = mem_sample_exact(bound, unit_cfg(u)->memory_max,
		                         unit_cfg(u)->memory_warn_pct, um->mem_warned,
		                         unit_ext(u)->job != NULL, um->peak_mem);
	size_t last = 0;   /* the last process whose share was read */
	for (size_t i = 0; i < k; i++) {
		if (!r[i].ok)
			continue;
		struct mem_rollup ru;
		if (r[i].borrowed)
			continue;
		if ((exact && r[i].st.has_vm) || mem_needs_rollup(&r[i].st)) {
			int got = proc_read_rollup(r[i].p.pid, &ru);
			if (got < 0 && (errno == ESRCH || errno == ENOENT)) {
				r[i].ok = false;   /* gone since its status was
				                      read: its pages, shared whole
				                      in that status, would count
				                      once more than they are */
				continue;
			}
			r[i].bytes = mem_share(&r[i].st, got == 0 ? &ru : NULL);
			r[i].shared = got == 0 && mem_shared_pages(&r[i].st, r[i].bytes);
			if (got == 0)
				last = i;
		}
	}
	for (size_t i = 0; i < last; i++)
		if (r[i].ok && r[i].shared && !still_holds(&r[i].p))
			r[i].ok = false;
	for (size_t i = 0; i < k; i++) {
		if (!r[i].ok)
			continue;
		um->procs++;
		um->mem_bytes += r[i].bytes;
		if (r[i].bytes > um->top_bytes || !um->top_pid) {
			um->top_bytes = r[i].bytes;
			um->top_pid = r[i].p.pid;
		}
	}
}

void sup_measure(struct sup *s, bool limited_only, const char *only)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit_measure *um = &unit_ext(s->units[i])->m;
		if (only && strcmp(only, unit_name(s->units[i])) != 0)
			continue;
		um->procs = 0;
		um->cpu_ticks = 0;
		um->mem_bytes = 0;
		um->top_pid = 0;
		um->top_bytes = 0;
	}
	if (sup_scan_units(s) < 0)
		return;
	/* Group the table by unit (a counting sort), so each unit's tree is
	 * also recorded as seen. */
	size_t *start = xcalloc(s->nunits + 1, sizeof(*start));
	for (size_t i = 0; i < s->table.n; i++)
		if (s->owner[i] >= 0 && (size_t)s->owner[i] < s->nunits)
			start[s->owner[i] + 1]++;
	for (size_t u = 0; u < s->nunits; u++)
		start[u + 1] += start[u];
	if (start[s->nunits] >= s->members_cap) {   /* never NULL below */
		s->members_cap = start[s->nunits] * 2 + 1;
		s->members = xrealloc(s->members, s->members_cap * sizeof(*s->members));
	}
	size_t *fill = xcalloc(s->nunits, sizeof(*fill));
	for (size_t i = 0; i < s->table.n; i++) {
		int o = s->owner[i];
		if (o >= 0 && (size_t)o < s->nunits)
			s->members[start[o] + fill[o]++] = s->table.p[i];
	}
	memo_size(&s->memo, start[s->nunits]);
	struct mem_read *scratch = xcalloc(start[s->nunits] + 1, sizeof(*scratch));
	for (size_t u = 0; u < s->nunits; u++) {
		struct unit *un = s->units[u];
		sup_note_seen(s, un, s->members + start[u], fill[u]);
		if ((limited_only && !sampled(s, un)) ||
		    (only && strcmp(only, unit_name(un)) != 0))
			continue;
		/* a watched unit's figure is exact, as status shows it */
		mem_measure_tree(&s->memo, un, s->members + start[u], fill[u],
		                 limited_only && limited(un), scratch);
		struct unit_measure *um = &unit_ext(un)->m;
		for (size_t k = 0; k < fill[u]; k++)
			um->cpu_ticks += s->members[start[u] + k].cpu;
		if (um->mem_bytes > um->peak_mem)
			um->peak_mem = um->mem_bytes;
	}
	free(scratch);
	free(fill);
	free(start);
}


/* --- memory sampling --- */

static void hist_drop(struct unit_measure *um)
{
	free(um->hist);
	um->hist = NULL;
}

static void on_memory(struct loop *lp, struct loop_timer *t);

/* The sampling timer runs while some unit with memory-max (or a job) is
 * up, or some unit is up while someone watches, and only then. */
void sup_memory_schedule(struct sup *s)
{
	loop_timer_stop(s->host.loop, &s->mem_sched);
	bool want = false, w = watched(s);
	for (size_t i = 0; i < s->nunits && !want; i++)
		want = limited(s->units[i]) || (w && unit_up(s->units[i]));
	if (want && !s->memory.armed)
		loop_timer_start(s->host.loop, &s->memory, s->cfg->memory_interval_ms,
		                 on_memory, s);
	else if (!want && s->memory.armed)
		loop_timer_stop(s->host.loop, &s->memory);
	if (!want && !w)   /* no one watches: what they saw goes */
		for (size_t i = 0; i < s->nunits; i++)
			if (!unit_cfg(s->units[i])->memory_max)
				hist_drop(&unit_ext(s->units[i])->m);
}

static void memory_verdict(struct sup *s, struct unit *u)
{
	const struct unit_config *c = unit_cfg(u);
	struct unit_measure *um = &unit_ext(u)->m;
	char a[32], b[32], top[256];
	switch (mem_judge(um->mem_bytes, c->memory_max, c->memory_warn_pct,
	                  &um->mem_warned)) {
	case MEM_OK:
		break;
	case MEM_WARN: {
		char *m = xasprintf("memory %s is over memory-warn (%u%% of "
		                    "memory-max %s)", format_size_approx(um->mem_bytes, a),
		                    c->memory_warn_pct, format_size(c->memory_max, b));
		events_emit(s->host.ev, c->name, "warn", json_pack("{s:s, s:I, s:I}",
		            "message", m, "mem_bytes", (json_int_t)um->mem_bytes,
		            "limit", (json_int_t)c->memory_max));
		free(m);
		break;
	}
	case MEM_LIMIT: {
		proc_cmdline(um->top_pid, top, sizeof(top));
		events_emit(s->host.ev, c->name, "memory_limit",
		            json_pack("{s:I, s:I, s:I, s:i, s:s, s:I}",
		                      "mem_bytes", (json_int_t)um->mem_bytes,
		                      "limit", (json_int_t)c->memory_max,
		                      "procs", (json_int_t)um->procs,
		                      "largest_pid", (int)um->top_pid,
		                      "largest_command", top,
		                      "largest_bytes", (json_int_t)um->top_bytes));
		char *why = xasprintf("memory %s over memory-max %s",
		                      format_size_approx(um->mem_bytes, a),
		                      format_size(c->memory_max, b));
		unit_restart_for(u, EXIT_MEMORY, why);
		free(why);
		break;
	}
	}
}

/* --- the memory history --- */

static void hist_push(struct unit_measure *um, uint64_t bytes)
{
	if (!um->hist)
		um->hist = xcalloc(1, sizeof(*um->hist));
	struct mem_hist *h = um->hist;
	uint64_t kib = bytes / 1024;
	h->kib[h->head] = kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
	h->head = (uint16_t)((h->head + 1) % MEM_HIST_MAX);
	if (h->n < MEM_HIST_MAX)
		h->n++;
}

static void on_schedule(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	sup_memory_schedule(t->data);
}

void sup_memory_schedule_soon(struct sup *s)
{
	if (!s->mem_sched.armed)
		loop_timer_start(s->host.loop, &s->mem_sched, 0, on_schedule, s);
}

/* After a sample: each unit's figure joins its history while it has a
 * memory limit (when up) or someone watches (0 when down); otherwise the
 * history is dropped. */
static void hist_record(struct sup *s)
{
	bool w = watched(s);
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		struct unit_measure *um = &unit_ext(u)->m;
		if (w)
			hist_push(um, unit_up(u) ? um->mem_bytes : 0);
		else if (unit_cfg(u)->memory_max && unit_up(u))
			hist_push(um, um->mem_bytes);
		else if (!unit_cfg(u)->memory_max)
			hist_drop(um);
	}
}

uint64_t sup_memory_interval(const struct sup *s)
{
	return s->cfg->memory_interval_ms;
}

void sup_memory_watch(struct sup *s)
{
	s->watched_until = mono_ms() + SUP_WATCH_MS;
	sup_memory_schedule(s);
}

size_t sup_memory_history(const struct unit *u, uint64_t *out)
{
	const struct mem_hist *h = unit_ext(u)->m.hist;
	if (!h)
		return 0;
	size_t first = (h->head + MEM_HIST_MAX - h->n) % MEM_HIST_MAX;
	for (size_t i = 0; i < h->n; i++)
		out[i] = (uint64_t)h->kib[(first + i) % MEM_HIST_MAX] * 1024;
	return h->n;
}

static void on_memory(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct sup *s = t->data;
	uint64_t t0 = mono_ms();
	sup_rescan(s);   /* the figure must be of now, not of this iteration */
	sup_measure(s, true, NULL);
	hist_record(s);
	for (size_t i = 0; i < s->nunits; i++)
		if (limited(s->units[i]) && unit_cfg(s->units[i])->memory_max)
			memory_verdict(s, s->units[i]);
	/* One sample per interval: the time the sample took comes off the
	 * wait for the next. */
	uint64_t took = mono_ms() - t0, every = s->cfg->memory_interval_ms;
	if (took < every)
		loop_timer_start(s->host.loop, &s->memory, every - took, on_memory, s);
	sup_memory_schedule(s);
}

