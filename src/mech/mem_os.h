/* mem_os — reading one process's memory from the operating system: the
 * figures mem.h's pure functions count and judge (never VmRSS: file-backed
 * pages do not count).  Each returns 0, or -1 (no such process, or
 * unreadable).
 *
 *   mem_linux.c   Linux: /proc/PID/status and /proc/PID/smaps_rollup
 *                 (built; the only one today).
 *   mem_darwin.c  macOS (not written): e.g. proc_pid_rusage's
 *                 ri_phys_footprint (libproc) as mem_status.anon, with
 *                 has_anon and no rollup.
 *
 * A new system is an added file: build it instead of mem_linux.c.  The
 * names keep the proc_ prefix the supervisor has called them by.
 */
#ifndef TEND_MEM_OS_H
#define TEND_MEM_OS_H

#include <stdint.h>
#include <sys/types.h>

struct mem_status;
struct mem_rollup;

/* /proc/PID/status: RssAnon, RssShmem (counters: cheap). */
int proc_read_status_mem(pid_t pid, struct mem_status *st);

/* /proc/PID/smaps_rollup: the proportional set sizes (a walk of PID's page
 * tables: 13 to 23 ms per GiB mapped; needs ptrace read access).  -1 with
 * errno ESRCH or ENOENT: PID has exited (or is exiting) meanwhile. */
int proc_read_rollup(pid_t pid, struct mem_rollup *r);

/* RssAnon + RssShmem in bytes: what PID maps, shared pages whole
 * (smaps_rollup's share on kernels without RssAnon: mem_needs_rollup,
 * mem_share). */
int proc_read_mem(pid_t pid, uint64_t *bytes);

#endif
