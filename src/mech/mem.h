/* mem — what a process tree's memory is, and what tend does about it, as
 * pure functions of plain data (no system calls), so each case is
 * unit-tested without processes.
 *
 * The figure is the anonymous and shmem memory the tree holds, each page
 * counted once however many processes of the tree map it: the proportional
 * set sizes Pss_Anon + Pss_Shmem of /proc/PID/smaps_rollup summed over the
 * tree (a page mapped by k processes counts 1/k in each).  When every
 * process that maps a page is in the tree, the sum is exactly the pages the
 * tree holds: a 200 MiB MAP_SHARED segment mapped by a parent and 4 forked
 * children is 200 MiB, not 1 GiB, and so are the copy-on-write pages of a
 * pre-fork server.  File-backed pages (a mapped model, an index read
 * through mmap) never count: the page cache's, which the kernel takes back
 * whenever it needs to.
 *
 * The files are read by mem_os.h (mem_linux.c); what is here is pure.
 * Reading smaps_rollup walks the process's page tables (50 to 90 ns per
 * resident page: 13 to 23 ms per GiB), /proc/PID/status does not (its
 * RssAnon + RssShmem are counters).  RssAnon + RssShmem of a process is
 * an upper bound of its share, and the exact figure when nothing it maps
 * is shared: a tree of one process without shmem needs no more; a sample
 * whose bound cannot change what the sample decides (mem_sample_exact)
 * neither.
 *
 * Kernels: Pss_Anon and Pss_Shmem came with Linux 5.3.  Before, a
 * process counts min(RssAnon + RssShmem, Pss): both are upper bounds of its
 * share (Pss holds its share of file-backed pages too), so the figure is
 * never below the truth and never above what each process maps.  Without
 * smaps_rollup (before 4.14), or where it cannot be read (a process that
 * is not dumpable, e.g. after a set-user-ID exec), RssAnon + RssShmem.
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

struct mem_rollup {
	uint64_t pss, pss_anon, pss_shmem, pss_file;   /* bytes */
	bool has_pss;     /* Pss was there (smaps_rollup: Linux 4.14) */
	bool has_split;   /* Pss_Anon and Pss_Shmem were (Linux 5.3) */
};

/* Parses /proc/PID/smaps_rollup (Pss, Pss_Anon, Pss_Shmem, Pss_File; the
 * header line and every other field are skipped).  Same rules. */
int mem_parse_rollup(const char *buf, size_t len, struct mem_rollup *r);

/* Does ST need smaps_rollup to be counted at all (a process with memory
 * but no RssAnon: a kernel before 4.5)? */
bool mem_needs_rollup(const struct mem_status *st);

/* What the process maps: RssAnon + RssShmem, each page whole however many
 * processes share it (an upper bound of its share). */
uint64_t mem_counted(const struct mem_status *st);

/* Its share: Pss_Anon + Pss_Shmem of R; on a kernel without them the
 * smaller of mem_counted(ST) and R's Pss; without R (not read, unreadable)
 * mem_counted(ST). */
uint64_t mem_share(const struct mem_status *st, const struct mem_rollup *r);

/* Can the processes of a tree share pages among themselves: more than
 * one with memory (WITH_MEM), or one with shmem (SHMEM: mapped by others
 * too, maybe)?  If not, mem_counted is its share; if so, only mem_share is
 * (modulo pages merged by KSM, counted whole). */
bool mem_tree_shares(size_t with_mem, bool shmem);

/* Did a process whose share was read as SHARE share pages: is SHARE below
 * what it maps (ST)?  A sample reads the shares one process after
 * another; when such a process exits (or is a zombie: its pages are let
 * go) before another process that shared its pages is read, that one's
 * share has grown by its part of them, which the exited one's share
 * counted already.  Only such a process must still be there after the
 * reads for its share to count; the pages of one that shared nothing go
 * to no one. */
bool mem_shared_pages(const struct mem_status *st, uint64_t share);

enum mem_verdict { MEM_OK, MEM_WARN, MEM_LIMIT };

/* What BYTES means under MAX (0: no limit) with a warning at WARN_PCT
 * percent of it (0 or >= 100: none).  *WARNED is the episode flag: set by
 * a MEM_WARN, cleared once the figure is back below the re-arm level. */
enum mem_verdict mem_judge(uint64_t bytes, uint64_t max, unsigned warn_pct,
                           bool *warned);

/* The warning threshold in bytes (0: none). */
uint64_t mem_warn_bytes(uint64_t max, unsigned warn_pct);

/* A periodic sample of a tree whose processes share pages: BOUND is the
 * sum of mem_counted (cheap), the figure itself is at most that.  Must the
 * figure be read exactly (mem_share of each process), or does BOUND decide
 * all that the sample decides: mem_judge's verdict and *WARNED, whatever
 * the figure below BOUND; and with TRACK_PEAK (a job: the peak of its run
 * is reported) the peak, PEAK so far? */
bool mem_sample_exact(uint64_t bound, uint64_t max, unsigned warn_pct,
                      bool warned, bool track_peak, uint64_t peak);

#endif
