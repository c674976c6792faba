/* loop — the portable half of the loop: watches, timers, signals' routing
 * to their callbacks, the deadline, catch-up after a stall and the order
 * of dispatch.  What the system gives (waiting on descriptors, a source of
 * signals) is loop_backend.h's, implemented by loop_epoll.c on Linux. */
#include "loop.h"
#include "loop_backend.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>

#define LOOP_BATCH 64
#define LOOP_CATCH_UP 16   /* waits of 0 ms at most before due timers */
#define LOOP_GAP_MS 25     /* a wait of 0 ms that took longer: a gap */
#define LOOP_NSIG 65     /* signals 1..64 */

struct sig_slot {
	loop_signal_fn fn;
	void *data;
};

struct loop {
	struct loop_backend *be;
	struct loop_io sigio;   /* the backend's signal source */
	struct sig_slot sig[LOOP_NSIG];
	struct loop_timer **heap;
	size_t nheap, capheap;
	struct loop_ready batch[LOOP_BATCH];
	int nbatch;  /* events of the batch being dispatched */
	uint64_t now;
	uint64_t wakeups;
	bool stop;
	struct resume_watch resume;
	loop_resume_fn resume_fn;
	void *resume_data;
	uint64_t (*boot_clock)(void);
};

static void on_signals(struct loop *lp, struct loop_io *io, uint32_t events);

struct loop *loop_new(void)
{
	struct loop_backend *be = loop_backend_new();
	if (!be)
		return NULL;
	struct loop *lp = xcalloc(1, sizeof(*lp));
	lp->be = be;
	lp->sigio = (struct loop_io){ .fd = -1, .fn = on_signals };
	lp->now = mono_ms();
	return lp;
}

void loop_free(struct loop *lp)
{
	if (!lp)
		return;
	loop_backend_free(lp->be);
	free(lp->heap);
	free(lp);
}

int loop_io_add(struct loop *lp, struct loop_io *io, int fd, uint32_t events,
                loop_io_fn fn, void *data)
{
	io->fd = fd;
	io->fn = fn;
	io->data = data;
	if (loop_backend_add(lp->be, fd, events, io) < 0)
		return -1;
	io->events = events;
	io->active = true;
	return 0;
}

int loop_io_mod(struct loop *lp, struct loop_io *io, uint32_t events)
{
	if (io->active && events == io->events)
		return 0;   /* no system call for what would change nothing */
	if (loop_backend_mod(lp->be, io->fd, events, io) < 0)
		return -1;
	io->events = events;
	return 0;
}

void loop_io_del(struct loop *lp, struct loop_io *io)
{
	if (!io->active)
		return;
	/* A failure leaves nothing to undo: the fd was closed before (the
	 * kernel dropped it from the set then) or was never in it. */
	(void)loop_backend_del(lp->be, io->fd);
	io->active = false;
	/* Events already fetched for this watch must not be delivered. */
	for (int i = 0; i < lp->nbatch; i++)
		if (lp->batch[i].token == io)
			lp->batch[i].token = NULL;
}

/* --- timer heap (min-heap on due) --- */

static void heap_set(struct loop *lp, size_t i, struct loop_timer *t)
{
	lp->heap[i] = t;
	t->slot = i;
}

static void heap_up(struct loop *lp, size_t i)
{
	struct loop_timer *t = lp->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (lp->heap[parent]->due <= t->due)
			break;
		heap_set(lp, i, lp->heap[parent]);
		i = parent;
	}
	heap_set(lp, i, t);
}

static void heap_down(struct loop *lp, size_t i)
{
	struct loop_timer *t = lp->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= lp->nheap)
			break;
		if (c + 1 < lp->nheap && lp->heap[c + 1]->due < lp->heap[c]->due)
			c++;
		if (t->due <= lp->heap[c]->due)
			break;
		heap_set(lp, i, lp->heap[c]);
		i = c;
	}
	heap_set(lp, i, t);
}

void loop_timer_stop(struct loop *lp, struct loop_timer *t)
{
	if (!t->armed)
		return;
	size_t i = t->slot;
	t->armed = false;
	struct loop_timer *last = lp->heap[--lp->nheap];
	if (i == lp->nheap)
		return;
	heap_set(lp, i, last);
	heap_up(lp, i);
	heap_down(lp, last->slot);
}

void loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t delay_ms,
                      loop_timer_fn fn, void *data)
{
	loop_timer_stop(lp, t);
	t->due = mono_ms() + delay_ms;
	t->fn = fn;
	t->data = data;
	if (lp->nheap == lp->capheap) {
		lp->capheap = lp->capheap ? lp->capheap * 2 : 16;
		lp->heap = xrealloc(lp->heap, lp->capheap * sizeof(*lp->heap));
	}
	t->armed = true;
	heap_set(lp, lp->nheap++, t);
	heap_up(lp, t->slot);
}

/* --- signals --- */

/* The signal source is ready: each pending signal to its callback. */
static void on_signals(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)io;
	(void)events;
	struct signalfd_siginfo si;
	while (loop_backend_signal_next(lp->be, &si) == 1) {
		int s = (int)si.ssi_signo;
		if (s <= 0 || s >= LOOP_NSIG)
			continue;
		if (lp->sig[s].fn)
			lp->sig[s].fn(lp, s, lp->sig[s].data);
	}
}

int loop_signal(struct loop *lp, int signo, loop_signal_fn fn, void *data)
{
	if (signo <= 0 || signo >= LOOP_NSIG) {
		errno = EINVAL;
		return -1;
	}
	lp->sig[signo] = (struct sig_slot){ .fn = fn, .data = data };
	if (loop_backend_signal(lp->be, signo, &lp->sigio) < 0)
		return -1;
	lp->sigio.active = true;
	return 0;
}

uint64_t loop_wakeups(const struct loop *lp)
{
	return lp->wakeups;
}

uint64_t loop_now(const struct loop *lp) { return lp->now; }

void loop_stop(struct loop *lp) { lp->stop = true; }

static void run_due_timers(struct loop *lp)
{
	while (lp->nheap > 0 && lp->heap[0]->due <= lp->now) {
		struct loop_timer *t = lp->heap[0];
		loop_timer_stop(lp, t);
		t->fn(lp, t);
	}
}

static int next_timeout(const struct loop *lp)
{
	if (lp->nheap == 0)
		return -1;
	uint64_t due = lp->heap[0]->due;
	if (due <= lp->now)
		return 0;
	uint64_t d = due - lp->now;
	return d > 86400000u ? 86400000 : (int)d;
}

uint64_t resume_check(struct resume_watch *w, uint64_t mono, uint64_t boot)
{
	/* CLOCK_BOOTTIME runs on through a suspend, CLOCK_MONOTONIC stops:
	 * their difference grows by exactly the time asleep. */
	uint64_t gap = boot >= mono ? boot - mono : 0;
	if (!w->init || gap < w->gap) {
		w->init = true;
		w->gap = gap;
		return 0;
	}
	uint64_t asleep = gap - w->gap;
	if (asleep < RESUME_MIN_MS)
		return 0;
	w->gap = gap;
	return asleep;
}

void loop_on_resume(struct loop *lp, loop_resume_fn fn, void *data)
{
	lp->resume_fn = fn;
	lp->resume_data = data;
	if (!lp->boot_clock)
		lp->boot_clock = boot_ms;
	resume_check(&lp->resume, mono_ms(), lp->boot_clock());
}

void loop_boot_clock(struct loop *lp, uint64_t (*fn)(void))
{
	lp->boot_clock = fn;
}

/* A resume is told before any timer or event of the iteration. */
static void check_resume(struct loop *lp)
{
	if (!lp->resume_fn)
		return;
	uint64_t asleep = resume_check(&lp->resume, lp->now, lp->boot_clock());
	if (asleep)
		lp->resume_fn(lp, asleep, lp->resume_data);
}

/* Fetches what waits on the descriptors (waiting at most TIMEOUT ms) and
 * runs its callbacks.  Returns the number of events, or -1 (errno). */
static int dispatch(struct loop *lp, int timeout)
{
	int n = loop_backend_wait(lp->be, lp->batch, LOOP_BATCH, timeout);
	if (n < 0)
		return -1;
	lp->now = mono_ms();
	check_resume(lp);
	lp->nbatch = n;
	for (int i = 0; i < n; i++) {
		struct loop_io *io = lp->batch[i].token;
		if (io)
			io->fn(lp, io, lp->batch[i].events);
	}
	lp->nbatch = 0;
	return n;
}

/* After a gap, what waits on the descriptors is seen before due timers are
 * judged: a wait of 0 ms, done again while it finds something or while
 * time jumped across it (the process stopped or descheduled right there),
 * a bounded number of times so that timers are never starved. */
static int catch_up(struct loop *lp)
{
	for (int round = 0; round < LOOP_CATCH_UP; round++) {
		lp->now = mono_ms();
		if (lp->nheap == 0 || lp->heap[0]->due > lp->now)
			return 0;
		uint64_t before = lp->now;
		int n = dispatch(lp, 0);
		if (n < 0 && errno != EINTR)
			return -1;
		if (lp->stop || (n == 0 && lp->now - before < LOOP_GAP_MS))
			return 0;
	}
	return 0;
}

/* Each iteration waits, runs the callbacks of what came, and then the due
 * timers.  A gap (the wait and its callbacks took LOOP_GAP_MS longer than
 * the wait's timeout, or the wait was interrupted: the process was
 * stopped by SIGSTOP or a debugger, swapped out, its cgroup frozen, or a
 * callback was slow) is caught up first, so that a deadline is never
 * judged before what came in time (the ping, READY=1, exit or client line
 * that waits in a descriptor) has been seen.  Without a gap, timers run
 * after each batch, however busy the descriptors (a flood of datagrams
 * does not hold them back). */
int loop_run(struct loop *lp)
{
	lp->stop = false;
	lp->now = mono_ms();
	check_resume(lp);
	while (!lp->stop) {
		/* Timers may have taken time (a memory sample reads /proc):
		 * the wait is measured from now, not from before them. */
		lp->now = mono_ms();
		uint64_t t0 = lp->now;
		int timeout = next_timeout(lp);
		int n = dispatch(lp, timeout);
		lp->wakeups++;
		if (n < 0 && errno != EINTR)
			return -1;
		if (lp->stop)
			break;
		bool gap = n < 0 || (timeout >= 0 &&
		                     mono_ms() - t0 > (uint64_t)timeout + LOOP_GAP_MS);
		if (gap && catch_up(lp) < 0)
			return -1;
		if (lp->stop)
			break;
		lp->now = mono_ms();
		run_due_timers(lp);
	}
	return 0;
}
