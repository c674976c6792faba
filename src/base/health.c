#include "health.h"

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t health_begin(struct health_track *t, const struct health_cfg *c,
                      uint64_t now)
{
	t->strikes = 0;
	t->grace_until = c->ready_by_probe ? now : now + c->grace_ms;
	return t->grace_until > now ? t->grace_until - now : c->interval_ms;
}

struct health_verdict health_ready_result(const struct health_cfg *c, bool ok,
                                          uint64_t started, uint64_t now)
{
	if (ok)
		return (struct health_verdict){ .action = HEALTH_READY };
	/* Clients may be waiting for this: soon, and sooner at first. */
	uint64_t soon = now > started ? (now - started) / 10 : 0;
	if (soon < HEALTH_READY_MIN_MS)
		soon = HEALTH_READY_MIN_MS;
	uint64_t every = min_u64(c->interval_ms, HEALTH_READY_MAX_MS);
	return (struct health_verdict){ .action = HEALTH_AGAIN,
	                                .next_ms = min_u64(soon, every) };
}

struct health_verdict health_result(struct health_track *t,
                                    const struct health_cfg *c, bool ok,
                                    uint64_t now)
{
	if (ok)
		t->strikes = 0;
	else if (now >= t->grace_until && ++t->strikes >= c->strikes)
		return (struct health_verdict){ .action = HEALTH_RESTART,
		                                .strikes = t->strikes };
	return (struct health_verdict){ .action = HEALTH_AGAIN,
	                                .next_ms = c->interval_ms };
}
