/* Unit tests for mem.c: the /proc/PID/status and smaps_rollup parsers and
 * the memory verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mem.h"

#define MIB (1024ull * 1024)

/* A real status file of a process (kernel 6.x), trimmed. */
static const char status_real[] =
	"Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n"
	"VmPeak:\t  431992 kB\nVmSize:\t  431992 kB\nVmHWM:\t  410000 kB\n"
	"VmRSS:\t  409600 kB\nRssAnon:\t  307200 kB\nRssFile:\t  100352 kB\n"
	"RssShmem:\t    2048 kB\nVmData:\t  320000 kB\nThreads:\t1\n";

static void parse_real(void **state)
{
	(void)state;
	struct mem_status st;
	assert_int_equal(mem_parse_status(status_real, strlen(status_real), &st), 0);
	assert_true(st.has_anon);
	assert_true(st.has_vm);
	assert_int_equal(st.anon, 307200ull * 1024);
	assert_int_equal(st.shmem, 2048ull * 1024);
	assert_int_equal(st.file, 100352ull * 1024);
	/* Never VmRSS: file-backed pages do not count. */
	assert_int_equal(mem_counted(&st), (307200ull + 2048) * 1024);
	assert_false(mem_needs_rollup(&st));
}

static void parse_missing(void **state)
{
	(void)state;
	/* A kernel thread: no Vm or Rss lines at all. */
	const char kthread[] = "Name:\tkworker/0:1\nState:\tI (idle)\nThreads:\t1\n";
	struct mem_status st;
	assert_int_equal(mem_parse_status(kthread, strlen(kthread), &st), 0);
	assert_false(st.has_vm);
	assert_int_equal(mem_counted(&st), 0);
	assert_false(mem_needs_rollup(&st));
	/* An old kernel: VmRSS but no RssAnon: smaps_rollup is needed. */
	const char old[] = "Name:\tx\nVmRSS:\t  1000 kB\nThreads:\t1\n";
	assert_int_equal(mem_parse_status(old, strlen(old), &st), 0);
	assert_true(mem_needs_rollup(&st));
	/* Empty input, and no newline at the end. */
	assert_int_equal(mem_parse_status("", 0, &st), 0);
	assert_int_equal(mem_counted(&st), 0);
	const char tail[] = "RssAnon:\t12 kB";
	assert_int_equal(mem_parse_status(tail, strlen(tail), &st), 0);
	assert_int_equal(st.anon, 12 * 1024);
	/* LEN bounds the parse: what lies beyond is not read. */
	const char cut[] = "RssAnon:\t5 kB\nRssShmem:\t7 kB\n";
	assert_int_equal(mem_parse_status(cut, 14, &st), 0);
	assert_int_equal(st.anon, 5 * 1024);
	assert_int_equal(st.shmem, 0);
}

static void parse_zero(void **state)
{
	(void)state;
	const char z[] = "VmRSS:\t0 kB\nRssAnon:\t0 kB\nRssFile:\t0 kB\nRssShmem:\t0 kB\n";
	struct mem_status st;
	assert_int_equal(mem_parse_status(z, strlen(z), &st), 0);
	assert_true(st.has_anon);
	assert_int_equal(mem_counted(&st), 0);
}

static void parse_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"RssAnon:\tabc kB\n",
		"RssAnon:\t12\n",              /* no unit */
		"RssAnon:\t12 MB\n",           /* another unit */
		"RssAnon:\t-12 kB\n",
		"RssAnon:\t\n",
		"RssShmem: 12 kB x\n",         /* trailing junk */
		"RssAnon:\t99999999999999999999 kB\n",   /* overflows */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mem_status st = { .anon = 77 };
		if (mem_parse_status(bad[i], strlen(bad[i]), &st) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(st.anon, 77);   /* untouched */
	}
	/* A key that only starts like one is another key, and ignored. */
	const char other[] = "RssAnonymous:\t5 kB\n";
	struct mem_status st;
	assert_int_equal(mem_parse_status(other, strlen(other), &st), 0);
	assert_false(st.has_anon);
	assert_int_equal(st.anon, 0);
}

/* smaps_rollup of one of 5 processes that share a 200 MiB MAP_SHARED
 * segment (kernel 6.x, the process of the e2e test): each maps all of it
 * (RssShmem 204800 kB), its share is a fifth. */
static const char status_sharer[] =
	"Name:\tpython3\nVmRSS:\t  216104 kB\nRssAnon:\t    7220 kB\n"
	"RssFile:\t    4084 kB\nRssShmem:\t  204800 kB\n";
static const char rollup_6x[] =
	"55d0c3a4e000-7ffc54d90000 ---p 00000000 00:00 0                          [rollup]\n"
	"Rss:              216104 kB\nPss:               44552 kB\n"
	"Pss_Dirty:         43149 kB\nPss_Anon:           2190 kB\n"
	"Pss_File:           1403 kB\nPss_Shmem:         40959 kB\n"
	"Shared_Clean:       3868 kB\nShared_Dirty:     209876 kB\n"
	"Private_Clean:       216 kB\nPrivate_Dirty:      2144 kB\n"
	"Referenced:       216104 kB\nAnonymous:          7220 kB\n"
	"KSM:                   0 kB\nLazyFree:              0 kB\n"
	"AnonHugePages:         0 kB\nShmemPmdMapped:        0 kB\n"
	"FilePmdMapped:         0 kB\nShared_Hugetlb:        0 kB\n"
	"Private_Hugetlb:       0 kB\nSwap:                  0 kB\n"
	"SwapPss:               0 kB\nLocked:                0 kB\n";
/* The same process on a kernel before 5.3 (4.19): no Pss_Anon, Pss_Shmem,
 * Pss_File. */
static const char rollup_419[] =
	"00400000-7ffc5a7f6000 ---p 00000000 00:00 0                              [rollup]\n"
	"Rss:              216104 kB\nPss:               44552 kB\n"
	"Shared_Clean:       3868 kB\nShared_Dirty:     209876 kB\n"
	"Private_Clean:       216 kB\nPrivate_Dirty:      2144 kB\n"
	"Referenced:       216104 kB\nAnonymous:          7220 kB\n"
	"LazyFree:              0 kB\nAnonHugePages:         0 kB\n"
	"ShmemPmdMapped:        0 kB\nShared_Hugetlb:        0 kB\n"
	"Private_Hugetlb:       0 kB\nSwap:                  0 kB\n"
	"SwapPss:               0 kB\nLocked:             44552 kB\n";

static void parse_rollup(void **state)
{
	(void)state;
	struct mem_status st;
	struct mem_rollup r;
	assert_int_equal(mem_parse_status(status_sharer, strlen(status_sharer), &st), 0);
	assert_int_equal(mem_counted(&st), (7220ull + 204800) * 1024);
	/* 5.3 and later: Pss_Anon + Pss_Shmem, never Pss_File. */
	assert_int_equal(mem_parse_rollup(rollup_6x, strlen(rollup_6x), &r), 0);
	assert_true(r.has_pss);
	assert_true(r.has_split);
	assert_int_equal(r.pss, 44552ull * 1024);
	assert_int_equal(r.pss_anon, 2190ull * 1024);
	assert_int_equal(r.pss_shmem, 40959ull * 1024);
	assert_int_equal(r.pss_file, 1403ull * 1024);
	assert_int_equal(mem_share(&st, &r), (2190ull + 40959) * 1024);
	/* Pss_Dirty is another key, not Pss. */
	const char dirty[] = "Pss_Dirty:\t5 kB\n";
	assert_int_equal(mem_parse_rollup(dirty, strlen(dirty), &r), 0);
	assert_false(r.has_pss);
	assert_int_equal(r.pss, 0);
	assert_int_equal(mem_parse_rollup("Pss_Anon: x kB\n", 15, &r), -1);
	assert_int_equal(mem_parse_rollup("Pss: 12 kB junk\n", 16, &r), -1);
}

static void rollup_before_5_3(void **state)
{
	(void)state;
	struct mem_status st;
	struct mem_rollup r;
	assert_int_equal(mem_parse_status(status_sharer, strlen(status_sharer), &st), 0);
	assert_int_equal(mem_parse_rollup(rollup_419, strlen(rollup_419), &r), 0);
	assert_true(r.has_pss);
	assert_false(r.has_split);
	assert_int_equal(r.pss_anon, 0);
	/* The smaller upper bound: Pss (with its share of file pages), far
	 * below the 207 MiB the process maps. */
	assert_int_equal(mem_share(&st, &r), 44552ull * 1024);
	/* A process that maps a big file: Pss holds its file pages, RssAnon +
	 * RssShmem is the smaller bound and file pages still never count. */
	const char mapper[] = "VmRSS:\t1050000 kB\nRssAnon:\t10000 kB\n"
	                      "RssFile:\t1040000 kB\nRssShmem:\t0 kB\n";
	const char mapper_r[] = "Rss:\t1050000 kB\nPss:\t1045000 kB\n"
	                        "Anonymous:\t10000 kB\n";
	assert_int_equal(mem_parse_status(mapper, strlen(mapper), &st), 0);
	assert_int_equal(mem_parse_rollup(mapper_r, strlen(mapper_r), &r), 0);
	assert_int_equal(mem_share(&st, &r), 10000ull * 1024);
	/* Only one of the two split fields: no split. */
	const char half[] = "Pss:\t100 kB\nPss_Anon:\t60 kB\n";
	assert_int_equal(mem_parse_rollup(half, strlen(half), &r), 0);
	assert_false(r.has_split);
	assert_int_equal(mem_share(&st, &r), 100 * 1024);
	/* No smaps_rollup (before 4.14, or not readable: a process that is
	 * not dumpable): what it maps. */
	assert_int_equal(mem_share(&st, NULL), 10000ull * 1024);
	/* An empty rollup (a kernel thread, a zombie): nothing better. */
	assert_int_equal(mem_parse_rollup("", 0, &r), 0);
	assert_int_equal(mem_share(&st, &r), 10000ull * 1024);
}

static void tree_sharing(void **state)
{
	(void)state;
	/* One process without shmem: what it maps is its own. */
	assert_false(mem_tree_shares(1, false));
	assert_false(mem_tree_shares(0, false));
	/* Shmem may be mapped by others; two processes may share pages. */
	assert_true(mem_tree_shares(1, true));
	assert_true(mem_tree_shares(2, false));
	/* Without RssAnon (before 4.5) only smaps_rollup counts at all. */
	const char old[] = "VmRSS:\t1000 kB\n";
	struct mem_status st;
	assert_int_equal(mem_parse_status(old, strlen(old), &st), 0);
	assert_true(mem_needs_rollup(&st));
	struct mem_rollup r;
	assert_int_equal(mem_parse_rollup(rollup_6x, strlen(rollup_6x), &r), 0);
	assert_int_equal(mem_share(&st, &r), (2190ull + 40959) * 1024);
}

/* Which processes must still hold their memory after a sample's reads
 * for their shares to count (sup_memory.c, mem_measure_tree). */
static void shared_pages(void **state)
{
	(void)state;
	/* The flake: 5 processes share 100 MiB copy-on-write.  A child maps
	 * it all and holds a fifth: if it exits before the parent is read,
	 * the parent's share has its part too. */
	struct mem_status child = { .anon = 100 * MIB, .has_anon = true,
	                            .has_vm = true };
	struct mem_rollup r = { .pss = 21 * MIB, .pss_anon = 20 * MIB,
	                        .has_pss = true, .has_split = true };
	uint64_t share = mem_share(&child, &r);
	assert_int_equal(share, 20 * MIB);
	assert_true(mem_shared_pages(&child, share));
	/* The parent read alone (its children gone): all of it, shared with
	 * no one; its exit gives nothing to anyone. */
	r.pss_anon = 100 * MIB;
	share = mem_share(&child, &r);
	assert_false(mem_shared_pages(&child, share));
	/* Grown between its status and its rollup: nothing shared either. */
	r.pss_anon = 101 * MIB;
	assert_false(mem_shared_pages(&child, mem_share(&child, &r)));
	/* One page of shmem mapped by two processes: half of it. */
	struct mem_status sh = { .shmem = 4096, .has_anon = true, .has_vm = true };
	struct mem_rollup rs = { .pss = 2048, .pss_shmem = 2048, .has_pss = true,
	                         .has_split = true };
	assert_true(mem_shared_pages(&sh, mem_share(&sh, &rs)));
	/* Before 5.3, a Pss over RssAnon (file-backed pages in it) leaves
	 * the share whole: counted as if it shared nothing, as it is. */
	struct mem_rollup old = { .pss = 150 * MIB, .has_pss = true };
	assert_false(mem_shared_pages(&child, mem_share(&child, &old)));
	old.pss = 60 * MIB;
	assert_true(mem_shared_pages(&child, mem_share(&child, &old)));
	/* Unreadable (no rollup): whole. */
	assert_false(mem_shared_pages(&child, mem_share(&child, NULL)));
}

/* Whatever the figure X <= BOUND, mem_judge(X) says what mem_judge(BOUND)
 * says (and leaves the same episode flag): the property that lets a sample
 * skip smaps_rollup. */
static void bound_decides_like_the_figure(uint64_t bound, uint64_t max,
                                          unsigned pct, bool warned)
{
	const uint64_t xs[] = { 0, bound / 2, bound * 9 / 10, bound - 1, bound };
	bool wb = warned;
	enum mem_verdict vb = mem_judge(bound, max, pct, &wb);
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		if (xs[i] > bound)
			continue;
		bool wx = warned;
		enum mem_verdict vx = mem_judge(xs[i], max, pct, &wx);
		if (vx != vb || wx != wb)
			fail_msg("bound %llu decided for %llu (max %llu, %u%%, warned %d)",
			         (unsigned long long)bound, (unsigned long long)xs[i],
			         (unsigned long long)max, pct, warned);
	}
}

static void sample_exact(void **state)
{
	(void)state;
	uint64_t max = 600 * MIB;   /* warn at 80%: 480 MiB, re-arm below 432 */
	/* Far under the threshold: the sum decides, no smaps_rollup. */
	assert_false(mem_sample_exact(300 * MIB, max, 80, false, false, 0));
	assert_false(mem_sample_exact(480 * MIB - 1, max, 80, false, false, 0));
	/* At the threshold or over the limit: the figure is needed (the
	 * e2e tree: 5 x 207 MiB mapped, 210 MiB held). */
	assert_true(mem_sample_exact(480 * MIB, max, 80, false, false, 0));
	assert_true(mem_sample_exact(1035 * MIB, max, 80, false, false, 0));
	/* Warned: until the sum is under the re-arm level, only the figure
	 * says whether the episode is over. */
	assert_true(mem_sample_exact(450 * MIB, max, 80, true, false, 0));
	assert_false(mem_sample_exact(431 * MIB, max, 80, true, false, 0));
	/* No warning: only the limit. */
	assert_false(mem_sample_exact(max, max, 0, false, false, 0));
	assert_true(mem_sample_exact(max + 1, max, 0, false, false, 0));
	assert_false(mem_sample_exact(max, max, 100, false, false, 0));
	/* No limit: nothing to decide... */
	assert_false(mem_sample_exact(UINT64_MAX / 2, 0, 80, false, false, 0));
	/* ...but a job's peak: exact whenever the sum passes it. */
	assert_true(mem_sample_exact(100 * MIB, 0, 80, false, true, 99 * MIB));
	assert_false(mem_sample_exact(100 * MIB, 0, 80, false, true, 100 * MIB));
	assert_true(mem_sample_exact(100 * MIB, max, 80, false, true, 0));

	/* Wherever the sum is enough, it decides as the figure would. */
	const unsigned pcts[] = { 0, 1, 50, 80, 99, 100 };
	const uint64_t maxes[] = { 0, 1, 99, 100 * MIB, 600 * MIB, UINT64_MAX / 4 };
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
		for (size_t p = 0; p < sizeof(pcts) / sizeof(pcts[0]); p++)
			for (int w = 0; w < 2; w++)
				for (uint64_t b = 0; b <= 2 * maxes[m] + 2 && b < UINT64_MAX / 2;
				     b = b < 64 ? b + 1 : b + b / 7) {
					if (!mem_sample_exact(b, maxes[m], pcts[p], w, false, 0))
						bound_decides_like_the_figure(b, maxes[m], pcts[p], w);
					if (maxes[m] == 0 && b > 1000)
						break;
				}
}

static void verdicts(void **state)
{
	(void)state;
	bool warned = false;
	uint64_t max = 300 * MIB;
	/* No limit: never anything. */
	assert_int_equal(mem_judge(UINT64_MAX, 0, 80, &warned), MEM_OK);
	assert_int_equal(mem_judge(100 * MIB, max, 80, &warned), MEM_OK);
	/* At the limit is fine; one byte over is not. */
	assert_int_equal(mem_judge(max + 1, max, 80, &warned), MEM_LIMIT);
	warned = true;
	assert_int_equal(mem_judge(max, max, 80, &warned), MEM_OK);
	warned = false;
	/* 80%: one warning per episode. */
	assert_int_equal(mem_warn_bytes(max, 80), 240 * MIB);
	assert_int_equal(mem_judge(240 * MIB, max, 80, &warned), MEM_WARN);
	assert_true(warned);
	assert_int_equal(mem_judge(250 * MIB, max, 80, &warned), MEM_OK);
	/* Hovering just under the threshold does not re-arm it... */
	assert_int_equal(mem_judge(239 * MIB, max, 80, &warned), MEM_OK);
	assert_int_equal(mem_judge(241 * MIB, max, 80, &warned), MEM_OK);
	assert_true(warned);
	/* ...falling below 90% of it does. */
	assert_int_equal(mem_judge(200 * MIB, max, 80, &warned), MEM_OK);
	assert_false(warned);
	assert_int_equal(mem_judge(260 * MIB, max, 80, &warned), MEM_WARN);
	/* The limit wins over the warning. */
	warned = false;
	assert_int_equal(mem_judge(max * 2, max, 80, &warned), MEM_LIMIT);
	/* memory-warn 100%: no warning, only the limit. */
	warned = false;
	assert_int_equal(mem_warn_bytes(max, 100), 0);
	assert_int_equal(mem_judge(max, max, 100, &warned), MEM_OK);
	assert_false(warned);
	/* Huge limits do not overflow the threshold. */
	assert_int_equal(mem_warn_bytes(UINT64_MAX, 50), UINT64_MAX / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_real),
		cmocka_unit_test(parse_missing),
		cmocka_unit_test(parse_zero),
		cmocka_unit_test(parse_malformed),
		cmocka_unit_test(parse_rollup),
		cmocka_unit_test(rollup_before_5_3),
		cmocka_unit_test(tree_sharing),
		cmocka_unit_test(shared_pages),
		cmocka_unit_test(sample_exact),
		cmocka_unit_test(verdicts),
	};
	return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
