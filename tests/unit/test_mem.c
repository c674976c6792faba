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

static void parse_rollup(void **state)
{
	(void)state;
	const char r[] =
		"00400000-7fff00000000 ---p 00000000 00:00 0   [rollup]\n"
		"Rss:\t  409600 kB\nPss:\t  400000 kB\nPss_Anon:\t  300000 kB\n"
		"Pss_File:\t  98000 kB\nPss_Shmem:\t  2000 kB\nAnonymous:\t  307200 kB\n";
	struct mem_status st;
	assert_int_equal(mem_parse_rollup(r, strlen(r), &st), 0);
	assert_int_equal(mem_counted(&st), (307200ull + 2000) * 1024);
	assert_int_equal(st.file, 98000ull * 1024);
	assert_int_equal(mem_parse_rollup("Anonymous: x kB\n", 16, &st), -1);
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
		cmocka_unit_test(verdicts),
	};
	return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
