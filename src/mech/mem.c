#include "mem.h"

#include <string.h>

/* Parses " 123 kB" (the value after "Key:") up to the line's end; returns 0
 * with *BYTES, or -1. */
static int kb_value(const char *p, const char *end, uint64_t *bytes)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p < '0' || *p > '9')
		return -1;
	uint64_t kb = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (kb > (UINT64_MAX / 1024 - 9) / 10)
			return -1;
		kb = kb * 10 + (uint64_t)(*p - '0');
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 2 || memcmp(p, "kB", 2) != 0)
		return -1;
	for (p += 2; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r')
			return -1;
	*bytes = kb * 1024;
	return 0;
}

struct field {
	const char *key;     /* with its colon */
	uint64_t *dst;
	bool *seen;
};

/* Every line "KEY: N kB" whose KEY is one of F sets its field. */
static int parse_fields(const char *buf, size_t len, const struct field *f,
                        size_t nf)
{
	const char *p = buf, *stop = buf + len;
	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *end = nl ? nl : stop;
		for (size_t i = 0; i < nf; i++) {
			size_t kl = strlen(f[i].key);
			if ((size_t)(end - p) >= kl && memcmp(p, f[i].key, kl) == 0) {
				if (kb_value(p + kl, end, f[i].dst) < 0)
					return -1;
				if (f[i].seen)
					*f[i].seen = true;
			}
		}
		p = nl ? nl + 1 : stop;
	}
	return 0;
}

int mem_parse_status(const char *buf, size_t len, struct mem_status *st)
{
	struct mem_status s = { 0 };
	uint64_t vm = 0;
	const struct field f[] = {
		{ "RssAnon:", &s.anon, &s.has_anon },
		{ "RssShmem:", &s.shmem, NULL },
		{ "RssFile:", &s.file, NULL },
		{ "VmRSS:", &vm, &s.has_vm },
	};
	if (parse_fields(buf, len, f, sizeof(f) / sizeof(f[0])) < 0)
		return -1;
	*st = s;
	return 0;
}

int mem_parse_rollup(const char *buf, size_t len, struct mem_rollup *r)
{
	struct mem_rollup s = { 0 };
	bool has_anon = false, has_shmem = false;
	const struct field f[] = {
		{ "Pss:", &s.pss, &s.has_pss },
		{ "Pss_Anon:", &s.pss_anon, &has_anon },
		{ "Pss_Shmem:", &s.pss_shmem, &has_shmem },
		{ "Pss_File:", &s.pss_file, NULL },
	};
	if (parse_fields(buf, len, f, sizeof(f) / sizeof(f[0])) < 0)
		return -1;
	s.has_split = has_anon && has_shmem;
	*r = s;
	return 0;
}

bool mem_needs_rollup(const struct mem_status *st)
{
	return st->has_vm && !st->has_anon;
}

uint64_t mem_counted(const struct mem_status *st)
{
	return st->anon + st->shmem;
}

uint64_t mem_share(const struct mem_status *st, const struct mem_rollup *r)
{
	if (r && r->has_split)
		return r->pss_anon + r->pss_shmem;
	uint64_t whole = mem_counted(st);
	if (r && r->has_pss && r->pss < whole)
		return r->pss;
	return whole;
}

bool mem_shared_pages(const struct mem_status *st, uint64_t share)
{
	return share < mem_counted(st);
}

bool mem_tree_shares(size_t with_mem, bool shmem)
{
	return with_mem > 1 || shmem;
}

uint64_t mem_warn_bytes(uint64_t max, unsigned warn_pct)
{
	if (max == 0 || warn_pct == 0 || warn_pct >= 100)
		return 0;
	return max / 100 * warn_pct + max % 100 * warn_pct / 100;
}

enum mem_verdict mem_judge(uint64_t bytes, uint64_t max, unsigned warn_pct,
                           bool *warned)
{
	if (max == 0)
		return MEM_OK;
	if (bytes > max)
		return MEM_LIMIT;
	uint64_t warn = mem_warn_bytes(max, warn_pct);
	if (warn == 0)
		return MEM_OK;
	if (bytes >= warn) {
		if (*warned)
			return MEM_OK;
		*warned = true;
		return MEM_WARN;
	}
	if (bytes < warn / 100 * WARN_REARM_PCT)
		*warned = false;
	return MEM_OK;
}

bool mem_sample_exact(uint64_t bound, uint64_t max, unsigned warn_pct,
                      bool warned, bool track_peak, uint64_t peak)
{
	if (track_peak && bound > peak)
		return true;
	if (max == 0)
		return false;
	uint64_t warn = mem_warn_bytes(max, warn_pct);
	if (warn == 0)
		return bound > max;
	/* Below the threshold nothing is said; once warned, only a figure
	 * below the re-arm level changes something (mem_judge). */
	return bound >= (warned ? warn / 100 * WARN_REARM_PCT : warn);
}
