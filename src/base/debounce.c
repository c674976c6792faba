#include "debounce.h"

uint64_t debounce_max_wait(uint64_t quiet_ms)
{
	uint64_t m = quiet_ms > UINT64_MAX / 10 ? UINT64_MAX : quiet_ms * 10;
	return m < 1000 ? 1000 : m;
}

void debounce_init(struct debounce *d, uint64_t quiet_ms)
{
	*d = (struct debounce){ .quiet_ms = quiet_ms,
	                        .max_wait_ms = debounce_max_wait(quiet_ms) };
}

bool debounce_change(struct debounce *d, uint64_t now)
{
	bool first = d->count == 0;
	if (first)
		d->first_at = now;
	if (d->count < SIZE_MAX)
		d->count++;
	d->last_at = now;
	return first;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t debounce_due(const struct debounce *d)
{
	uint64_t quiet = add_sat(d->last_at, d->quiet_ms);
	uint64_t cap = add_sat(d->first_at, d->max_wait_ms);
	return quiet < cap ? quiet : cap;
}

uint64_t debounce_wait(const struct debounce *d, uint64_t now)
{
	uint64_t due = debounce_due(d);
	return now >= due ? 0 : due - now;
}

size_t debounce_take(struct debounce *d)
{
	size_t n = d->count;
	d->count = 0;
	return n;
}
