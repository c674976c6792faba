/* mem — what a process tree's memory is, and what tend does about it, as
 * pure functions of plain data (no system calls), so each case is
 * unit-tested without processes.
 *
 * The figure is anonymous + shmem resident memory (RssAnon + RssShmem of
 * /proc/PID/status), never VmRSS: file-backed pages (a mapped model, an
 * index read through mmap) are the page cache's, which the kernel takes
 * back whenever it needs to, and never count.  Kernels older than 4.5 lack
 * RssAnon; there smaps_rollup's Anonymous + Pss_Shmem stands in.
 *
 * Verdicts (DESIGN §4–5): over memory-max (strictly more) is a limit hit;
 * at memory-warn percent of it a warning, once per episode: it re-arms only
 * when the figure falls below WARN_REARM_PCT of the warning threshold, so a
 * figure that hovers at the threshold warns once, not at every sample.
 */
#ifndef TEND_MEM_H
#define TEND_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WARN_REARM_PCT 90

struct mem_status {
	uint64_t anon, shmem, file;   /* bytes */
	bool has_anon;                /* RssAnon was there (kernel >= 4.5) */
	bool has_vm;                  /* VmRSS was there: a process with memory */
};

/* Parses the text of /proc/PID/status (LEN bytes, need not end in NUL).
 * Missing fields are 0 (kernel threads and zombies have none); a field
 * whose value is not "N kB" makes it return -1. */
int mem_parse_status(const char *buf, size_t len, struct mem_status *st);

/* Parses /proc/PID/smaps_rollup into ST (anon: Anonymous, shmem:
 * Pss_Shmem, file: Pss_File).  Same rules. */
int mem_parse_rollup(const char *buf, size_t len, struct mem_status *st);

/* Does ST need smaps_rollup (a process with memory but no RssAnon)? */
bool mem_needs_rollup(const struct mem_status *st);

/* The figure tend counts: anon + shmem. */
uint64_t mem_counted(const struct mem_status *st);

enum mem_verdict { MEM_OK, MEM_WARN, MEM_LIMIT };

/* What BYTES means under MAX (0: no limit) with a warning at WARN_PCT
 * percent of it (0 or >= 100: none).  *WARNED is the episode flag: set by
 * a MEM_WARN, cleared once the figure is back below the re-arm level. */
enum mem_verdict mem_judge(uint64_t bytes, uint64_t max, unsigned warn_pct,
                           bool *warned);

/* The warning threshold in bytes (0: none). */
uint64_t mem_warn_bytes(uint64_t max, unsigned warn_pct);

#endif
