/* The /proc parsers behind memory limits and the process table: status
 * (RssAnon, RssShmem), smaps_rollup (Pss, Pss_Anon, Pss_Shmem, Pss_File)
 * and stat (src/mech/mem.c, src/mech/proc_linux.c).
 * The kernel writes these files, but a process names itself (the comm
 * field of stat, the Name: line of status: spaces, ')' and newlines
 * included), so they are input too.  And a line of the daemon's procs
 * file (src/super/sup_procs.c), which a crash or a full disk may have damaged: what it
 * accepts is a pid above 1, a run id, or (a cgroup line) a directory
 * tend-NAME-PID of its own name below the cgroup2 mount, never one with a
 * "." or ".." in its path.  With the stat parser: a line of
 * /proc/self/mountinfo (a mount point names itself) and /proc/self/cgroup
 * (src/mech/cgroup.c).  The first byte picks the file. */
#include "cgroup.h"
#include "fuzz.h"
#include "mem.h"
#include "proc.h"
#include "sup_procs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	/* exactly LEN bytes for the length-taking parsers */
	char *b = malloc(len ? len : 1);
	if (!b)
		abort();
	memcpy(b, text, len);
	struct mem_status st;
	switch (data[0] % 4) {
	case 0:
		if (mem_parse_status(b, len, &st) == 0) {
			(void)mem_needs_rollup(&st);
			FUZZ_ASSERT(mem_counted(&st) >= st.anon, "anon+shmem wrapped");
		}
		break;
	case 1: {
		/* The text as a process's smaps_rollup, and as its status: the
		 * share is never more than what the process maps, unless the
		 * kernel gave Pss_Anon and Pss_Shmem (then it is their sum). */
		struct mem_rollup r;
		if (mem_parse_rollup(b, len, &r) < 0)
			break;
		if (mem_parse_status(b, len, &st) < 0)
			memset(&st, 0, sizeof(st));
		uint64_t share = mem_share(&st, &r);
		if (r.has_split)
			FUZZ_ASSERT(share == r.pss_anon + r.pss_shmem &&
			            share >= r.pss_anon, "Pss_Anon+Pss_Shmem wrapped");
		else
			FUZZ_ASSERT(share <= mem_counted(&st) &&
			            (!r.has_pss || share <= r.pss),
			            "share %llu over both bounds",
			            (unsigned long long)share);
		FUZZ_ASSERT(mem_share(&st, NULL) == mem_counted(&st), "no rollup");
		break;
	}
	case 3: {
		char *s = fuzz_cstr(data + 1, len), run[SUP_RUN_MAX];
		int pid = 0;
		unsigned long long start;
		int kind = sup_procs_line(s, &pid, &start, run);
		if (kind == SUP_LINE_PROC)
			FUZZ_ASSERT(pid > 1, "procs record of pid %d", pid);
		else if (kind == SUP_LINE_RUN)
			FUZZ_ASSERT(!strncmp(run, "TEND_RUN=", 9) &&
			            strlen(run) < SUP_RUN_MAX, "run %s", run);
		else
			FUZZ_ASSERT(kind == SUP_LINE_NONE, "kind %d", kind);
		char cg[256];
		const char *mount = "/sys/fs/cgroup";
		if (cg_parse_record(s, mount, "p-1a2b3c4d", cg, sizeof(cg)) == 0) {
			const char *base = strrchr(cg, '/');
			FUZZ_ASSERT(strncmp(cg, "/sys/fs/cgroup/", 15) == 0 &&
			            !strstr(cg, "/../") && !strstr(cg, "/./") &&
			            !strstr(cg, "//") && base &&
			            strncmp(base, "/tend-p-1a2b3c4d-", 17) == 0 &&
			            strlen(cg) < sizeof(cg), "cgroup record %s", cg);
			for (const char *c = cg; *c; c++)
				FUZZ_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f,
				            "control character in %s", cg);
		}
		free(s);
		break;
	}
	default: {
		char *s = fuzz_cstr(data + 1, len);
		struct proc_stat ps;
		if (proc_parse_stat(s, 42, &ps) == 0)
			FUZZ_ASSERT(ps.pid == 42 && ps.state, "stat");
		char root[64], mnt[64];
		if (cg_parse_mount(s, root, mnt, sizeof(root)) >= 0)
			FUZZ_ASSERT(root[0] == '/' && mnt[0] == '/' &&
			            strlen(root) < sizeof(root) &&
			            strlen(mnt) < sizeof(mnt), "mount %s %s", root, mnt);
		if (cg_parse_self(s, root, sizeof(root)) == 0)
			FUZZ_ASSERT(root[0] == '/' && strlen(root) < sizeof(root) &&
			            !strchr(root, '\n'), "cgroup %s", root);
		free(s);
		break;
	}
	}
	free(b);
	return 0;
}
