/* The /proc parsers behind memory limits and the process table: status
 * (RssAnon, RssShmem), smaps_rollup and stat (src/mem.c, src/proc.c).
 * The kernel writes these files, but a process names itself (the comm
 * field of stat, the Name: line of status: spaces, ')' and newlines
 * included), so they are input too.  The first byte picks the file. */
#include "fuzz.h"
#include "mem.h"
#include "proc.h"

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
	switch (data[0] % 3) {
	case 0:
		if (mem_parse_status(b, len, &st) == 0) {
			(void)mem_needs_rollup(&st);
			FUZZ_ASSERT(mem_counted(&st) >= st.anon, "anon+shmem wrapped");
		}
		break;
	case 1:
		if (mem_parse_rollup(b, len, &st) == 0)
			FUZZ_ASSERT(mem_counted(&st) >= st.anon, "anon+shmem wrapped");
		break;
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
