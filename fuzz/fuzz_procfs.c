/* The /proc parsers behind memory limits and the process table: status
 * (RssAnon, RssShmem), smaps_rollup (Pss, Pss_Anon, Pss_Shmem, Pss_File)
 * and stat (src/mem.c, src/proc.c).
 * The kernel writes these files, but a process names itself (the comm
 * field of stat, the Name: line of status: spaces, ')' and newlines
 * included), so they are input too.  And a line of the daemon's procs
 * file (src/sup.c), which a crash or a full disk may have damaged: what it
 * accepts is a pid above 1 or a run id.  The first byte picks the file. */
#include "fuzz.h"
#include "mem.h"
#include "proc.h"
#include "sup.h"

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
		free(s);
		break;
	}
	default: {
		char *s = fuzz_cstr(data + 1, len);
		struct proc_stat ps;
		if (proc_parse_stat(s, 42, &ps) == 0)
			FUZZ_ASSERT(ps.pid == 42 && ps.state, "stat");
		free(s);
		break;
	}
	}
	free(b);
	return 0;
}
