#include "policy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "util.h"

void policy_hist_init(struct policy_hist *h, const struct policy_cfg *cfg)
{
	*h = (struct policy_hist){ 0 };
	h->crash_cap = cfg->max_crashes.n + 1;
	h->clean_cap = cfg->clean_restarts.n + 1;
	h->crash_at = xcalloc(h->crash_cap, sizeof(uint64_t));
	h->clean_at = xcalloc(h->clean_cap, sizeof(uint64_t));
}

void policy_hist_free(struct policy_hist *h)
{
	free(h->crash_at);
	free(h->clean_at);
	*h = (struct policy_hist){ 0 };
}

const char *exit_reason_name(enum exit_reason r)
{
	switch (r) {
	case EXIT_NONE: return "none";
	case EXIT_CLEAN: return "clean";
	case EXIT_CRASH: return "crash";
	case EXIT_MEMORY: return "memory";
	case EXIT_HEALTH: return "health";
	case EXIT_WATCHDOG: return "watchdog";
	case EXIT_STOPPED: return "stopped";
	case EXIT_SPAWN_FAILED: return "spawn_failed";
	case EXIT_TIMEOUT: return "timeout";
	}
	return "unknown";
}

void success_codes_add_code(struct success_codes *sc, unsigned code)
{
	if (code < 256)
		sc->codes[code / 64] |= 1ull << (code % 64);
}

void success_codes_add_signal(struct success_codes *sc, int sig)
{
	if (sig >= 1 && sig <= 64)
		sc->signals |= 1ull << (sig - 1);
}

bool success_codes_has_code(const struct success_codes *sc, unsigned code)
{
	return code < 256 && (sc->codes[code / 64] >> (code % 64)) & 1;
}

bool success_codes_has_signal(const struct success_codes *sc, int sig)
{
	return sig >= 1 && sig <= 64 && (sc->signals >> (sig - 1)) & 1;
}

enum exit_reason policy_classify(const struct success_codes *sc, int wstatus)
{
	if (WIFEXITED(wstatus))
		return success_codes_has_code(sc, (unsigned)WEXITSTATUS(wstatus))
		       ? EXIT_CLEAN : EXIT_CRASH;
	if (WIFSIGNALED(wstatus))
		return success_codes_has_signal(sc, WTERMSIG(wstatus))
		       ? EXIT_CLEAN : EXIT_CRASH;
	return EXIT_CRASH;
}

uint64_t policy_backoff(uint64_t min_ms, uint64_t max_ms, unsigned k,
                        double jitter)
{
	if (min_ms == 0 || k == 0)
		return 0;
	uint64_t d = min_ms;
	for (unsigned i = 1; i < k && d < max_ms; i++)
		d = d > max_ms / 2 ? max_ms : d * 2;
	if (d > max_ms)
		d = max_ms;
	if (jitter < 0)
		jitter = 0;
	if (jitter >= 1)
		jitter = 0.999999;
	/* +-25%: d * (0.75 + jitter / 2), kept inside MIN..MAX. */
	double j = (double)d * (0.75 + jitter * 0.5);
	uint64_t r = (uint64_t)j;
	if (r < min_ms)
		r = min_ms;
	if (r > max_ms)
		r = max_ms;
	return r;
}

/* Drops timestamps older than WINDOW before NOW; returns how many remain. */
static unsigned prune(uint64_t *at, unsigned n, uint64_t now, uint64_t window)
{
	unsigned keep = 0;
	for (unsigned i = 0; i < n; i++)
		if (now < at[i] || now - at[i] < window)
			at[keep++] = at[i];
	return keep;
}

static unsigned record(uint64_t *at, unsigned n, unsigned cap, uint64_t now)
{
	if (n == cap) {
		for (unsigned i = 1; i < n; i++)
			at[i - 1] = at[i];
		n--;
	}
	at[n++] = now;
	return n;
}

/* Records an exit at NOW in a window of recent ones; returns the count. */
static unsigned note(uint64_t *at, unsigned n, unsigned cap, uint64_t now,
                     uint64_t window)
{
	return record(at, prune(at, n, now, window), cap, now);
}

static bool is_crash(enum exit_reason r)
{
	return r == EXIT_CRASH || r == EXIT_HEALTH || r == EXIT_WATCHDOG ||
	       r == EXIT_TIMEOUT;
}

static struct policy_verdict on_crash(const struct policy_cfg *cfg,
                                      struct policy_hist *h, uint64_t now,
                                      double jitter)
{
	struct policy_verdict v = { .action = ACT_RESTART };
	h->ncrash = note(h->crash_at, h->ncrash, h->crash_cap, now,
	                 cfg->max_crashes.window_ms);
	h->fail_streak++;
	v.crashes = h->ncrash;
	if (h->ncrash > cfg->max_crashes.n) {
		v.action = ACT_GIVE_UP;
		return v;
	}
	if (cfg->restart == RESTART_NEVER) {
		v.action = ACT_DONE;
		return v;
	}
	v.delay_ms = policy_backoff(cfg->backoff_min_ms, cfg->backoff_max_ms,
	                            h->fail_streak, jitter);
	return v;
}

static struct policy_verdict on_clean(const struct policy_cfg *cfg,
                                      struct policy_hist *h, uint64_t now,
                                      double jitter)
{
	struct policy_verdict v = { .action = ACT_DONE };
	h->nclean = note(h->clean_at, h->nclean, h->clean_cap, now,
	                 cfg->clean_restarts.window_ms);
	v.cleans = h->nclean;
	v.crashes = h->ncrash;
	if (cfg->restart != RESTART_ALWAYS)
		return v;
	v.action = ACT_RESTART;
	if (h->nclean <= cfg->clean_restarts.n) {
		h->clean_excess = 0;
		return v;
	}
	h->clean_excess++;
	v.warn_clean_budget = h->clean_excess == 1;
	/* Slow down even with backoff MIN 0: a clean loop must not spin. */
	uint64_t min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 100;
	uint64_t max = cfg->backoff_max_ms > min ? cfg->backoff_max_ms : 30000;
	v.delay_ms = policy_backoff(min, max, h->clean_excess, jitter);
	return v;
}

struct policy_verdict policy_on_exit(const struct policy_cfg *cfg,
                                     struct policy_hist *h,
                                     enum exit_reason reason, uint64_t now_ms,
                                     uint64_t uptime_ms, double jitter)
{
	struct policy_verdict v = { .action = ACT_DONE };
	bool stable = uptime_ms >= cfg->stable_after_ms;
	if (stable) {
		h->ncrash = 0;
		h->fail_streak = 0;
	}
	if (is_crash(reason))
		return on_crash(cfg, h, now_ms, jitter);
	switch (reason) {
	case EXIT_CLEAN:
		return on_clean(cfg, h, now_ms, jitter);
	case EXIT_MEMORY:
		/* Not a crash: restart (unless never), backed off when quick. */
		v.crashes = h->ncrash;
		if (cfg->restart == RESTART_NEVER)
			return v;
		v.action = ACT_RESTART;
		if (!stable) {
			h->fail_streak++;
			v.delay_ms = policy_backoff(cfg->backoff_min_ms,
			                            cfg->backoff_max_ms,
			                            h->fail_streak, jitter);
		}
		v.crashes = h->ncrash;
		return v;
	case EXIT_SPAWN_FAILED:
		v.action = ACT_GIVE_UP;
		return v;
	default: /* stopped, none */
		v.crashes = h->ncrash;
		return v;
	}
}

bool policy_at_once(const struct policy_cfg *cfg, const struct policy_hist *h,
                    enum exit_reason reason, uint64_t now)
{
	/* The verdict itself, on a copy of the history, for the exit that
	 * is judged hardest: now (a later one finds fewer of the window's in
	 * it) and at once (a longer run only forgets crashes). */
	struct policy_hist t = *h;
	t.crash_at = xmalloc(h->crash_cap * sizeof(*t.crash_at));
	t.clean_at = xmalloc(h->clean_cap * sizeof(*t.clean_at));
	memcpy(t.crash_at, h->crash_at, h->ncrash * sizeof(*t.crash_at));
	memcpy(t.clean_at, h->clean_at, h->nclean * sizeof(*t.clean_at));
	struct policy_verdict v = policy_on_exit(cfg, &t, reason, now, 0, 0.5);
	policy_hist_free(&t);
	return (reason == EXIT_CRASH || reason == EXIT_CLEAN) &&
	       v.action == ACT_RESTART && v.delay_ms == 0;
}
