/* mem_linux — mem_os.h on Linux: /proc/PID/status and smaps_rollup, read
 * and handed to mem.h's parsers. */
#include "mem_os.h"
#include "mem.h"
#include "proc_linux.h"

#include <errno.h>

int proc_read_status_mem(pid_t pid, struct mem_status *st)
{
	char buf[4096];
	ssize_t n = proc_read_file(pid, "status", buf, sizeof(buf));
	if (n <= 0 || mem_parse_status(buf, (size_t)n, st) < 0)
		return -1;
	return 0;
}

int proc_read_rollup(pid_t pid, struct mem_rollup *r)
{
	char buf[4096];
	ssize_t n = proc_read_file(pid, "smaps_rollup", buf, sizeof(buf));
	if (n == 0)
		errno = ESRCH;   /* no memory left: a zombie, or exiting */
	if (n <= 0 || mem_parse_rollup(buf, (size_t)n, r) < 0)
		return -1;
	return 0;
}

int proc_read_mem(pid_t pid, uint64_t *bytes)
{
	struct mem_status st;
	struct mem_rollup r;
	if (proc_read_status_mem(pid, &st) < 0)
		return -1;
	bool rollup = mem_needs_rollup(&st);
	if (rollup && proc_read_rollup(pid, &r) < 0)
		return -1;
	/* mem_share without a rollup is mem_counted */
	*bytes = mem_share(&st, rollup ? &r : NULL);
	return 0;
}
