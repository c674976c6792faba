/* Unit tests for parse.c: value syntaxes and their formatters. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)
#define TIB (1024ull * 1024 * 1024 * 1024)

static uint64_t size_ok(const char *s)
{
	uint64_t v = 12345;
	const char *why = "unset";
	if (parse_size(s, &v, &why) != 0)
		fail_msg("parse_size(\"%s\") failed: %s", s, why);
	assert_null(why);
	return v;
}

static void size_bad(const char *s)
{
	uint64_t v = 777;
	const char *why = NULL;
	if (parse_size(s, &v, &why) == 0)
		fail_msg("parse_size(\"%s\") accepted: %llu", s, (unsigned long long)v);
	assert_string_equal(why, "expected a size like 512K, 300M or 2G");
	assert_int_equal(v, 777); /* untouched on error */
}

static uint64_t dur_ok(const char *s)
{
	uint64_t v = 12345;
	const char *why = "unset";
	if (parse_duration(s, &v, &why) != 0)
		fail_msg("parse_duration(\"%s\") failed: %s", s, why);
	assert_null(why);
	return v;
}

static void dur_bad(const char *s)
{
	uint64_t v = 777;
	const char *why = NULL;
	if (parse_duration(s, &v, &why) == 0)
		fail_msg("parse_duration(\"%s\") accepted: %llu", s,
		         (unsigned long long)v);
	assert_string_equal(why, "expected a duration like 500ms, 10s, 5m or 1h");
	assert_int_equal(v, 777);
}

static int sig_ok(const char *s)
{
	int v = -1;
	const char *why = "unset";
	if (parse_signal(s, &v, &why) != 0)
		fail_msg("parse_signal(\"%s\") failed: %s", s, why);
	assert_null(why);
	return v;
}

static void sig_bad(const char *s)
{
	int v = -1;
	const char *why = NULL;
	if (parse_signal(s, &v, &why) == 0)
		fail_msg("parse_signal(\"%s\") accepted: %d", s, v);
	assert_non_null(why);
	assert_non_null(strstr(why, "expected a signal"));
	assert_int_equal(v, -1);
}

static unsigned pct_ok(const char *s)
{
	unsigned v = 0;
	const char *why = "unset";
	if (parse_percent(s, &v, &why) != 0)
		fail_msg("parse_percent(\"%s\") failed: %s", s, why);
	assert_null(why);
	return v;
}

static void pct_bad(const char *s)
{
	unsigned v = 777;
	const char *why = NULL;
	if (parse_percent(s, &v, &why) == 0)
		fail_msg("parse_percent(\"%s\") accepted: %u", s, v);
	assert_non_null(why);
	assert_non_null(strstr(why, "expected a percentage"));
	assert_int_equal(v, 777);
}

/* --- sizes --- */

static void test_size_units(void **state)
{
	(void)state;
	assert_int_equal(size_ok("0"), 0);
	assert_int_equal(size_ok("4096"), 4096);
	assert_int_equal(size_ok("100B"), 100);
	assert_int_equal(size_ok("100b"), 100);
	assert_int_equal(size_ok("512K"), 512 * KIB);
	assert_int_equal(size_ok("512k"), 512 * KIB);
	assert_int_equal(size_ok("512KB"), 512 * KIB);
	assert_int_equal(size_ok("512KiB"), 512 * KIB);
	assert_int_equal(size_ok("512kib"), 512 * KIB);
	assert_int_equal(size_ok("300M"), 300 * MIB);
	assert_int_equal(size_ok("300mb"), 300 * MIB);
	assert_int_equal(size_ok("300MiB"), 300 * MIB);
	assert_int_equal(size_ok("2G"), 2 * GIB);
	assert_int_equal(size_ok("2gb"), 2 * GIB);
	assert_int_equal(size_ok("2GIB"), 2 * GIB);
	assert_int_equal(size_ok("3T"), 3 * TIB);
	assert_int_equal(size_ok("3TB"), 3 * TIB);
	assert_int_equal(size_ok("3TiB"), 3 * TIB);
	assert_int_equal(size_ok("007K"), 7 * KIB);
}

static void test_size_fraction(void **state)
{
	(void)state;
	assert_int_equal(size_ok("1.5G"), 3 * GIB / 2);
	assert_int_equal(size_ok("0.5K"), 512);
	assert_int_equal(size_ok("1.25M"), 5 * MIB / 4);
	assert_int_equal(size_ok("2.0G"), 2 * GIB);
	/* Not a whole number of bytes: rounded down. */
	assert_int_equal(size_ok("1.1K"), 1126);
	assert_int_equal(size_ok("0.000001T"), 1099511);
	size_bad("1.5");      /* a fraction of a byte */
	size_bad("1.5B");
	size_bad("1.G");
	size_bad(".5G");
	size_bad("1..5G");
	size_bad("1.5.5G");
	size_bad("1.0000001G"); /* too many decimals */
}

static void test_size_bad(void **state)
{
	(void)state;
	size_bad("");
	size_bad("K");
	size_bad("M10");
	size_bad("-1K");
	size_bad("+1K");
	size_bad(" 1K");
	size_bad("1 K");
	size_bad("1K ");
	size_bad("1KX");
	size_bad("1KK");
	size_bad("1Ki");
	size_bad("1P");
	size_bad("1e3");
	size_bad("0x10");
	size_bad("10M x");
	size_bad("5/");
}

static void test_size_overflow(void **state)
{
	(void)state;
	assert_int_equal(size_ok("18446744073709551615"), UINT64_MAX);
	size_bad("18446744073709551616");
	size_bad("99999999999999999999999");
	assert_int_equal(size_ok("16777215T"), 16777215ull * TIB);
	size_bad("16777216T"); /* 2^64 */
	assert_int_equal(size_ok("17179869183G"), 17179869183ull * GIB);
	size_bad("17179869184G");
	size_bad("18446744073709551615.5K");
}

static void test_size_format(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(format_size(0, buf), "0");
	assert_string_equal(format_size(100, buf), "100");
	assert_string_equal(format_size(1023, buf), "1023");
	assert_string_equal(format_size(1024, buf), "1K");
	assert_string_equal(format_size(1536, buf), "1536");
	assert_string_equal(format_size(1536 * KIB, buf), "1536K");
	assert_string_equal(format_size(300 * MIB, buf), "300M");
	assert_string_equal(format_size(2 * GIB, buf), "2G");
	assert_string_equal(format_size(3 * TIB, buf), "3T");
	assert_string_equal(format_size(2048 * TIB, buf), "2048T");
	assert_string_equal(format_size(UINT64_MAX, buf), "18446744073709551615");
	/* The return value is the buffer. */
	assert_ptr_equal(format_size(5, buf), buf);
}

static void test_size_roundtrip(void **state)
{
	(void)state;
	static const uint64_t values[] = {
		0, 1, 100, 1023, 1024, 1025, 1536, 4096, 1536 * KIB, 300 * MIB,
		MIB + 1, 2 * GIB, 3 * GIB / 2, 3 * TIB, TIB - 1, 16777215ull * TIB,
		UINT64_MAX, UINT64_MAX - 1023, UINT64_MAX / 2,
	};
	char buf[32];
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		const char *s = format_size(values[i], buf);
		assert_true(strlen(s) < 32);
		assert_int_equal(size_ok(s), values[i]);
	}
	/* Parse, format, parse: stable. */
	static const char *const texts[] = { "512K", "300M", "2G", "1.5G", "1T",
	                                     "4096", "1M" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		uint64_t v = size_ok(texts[i]);
		assert_int_equal(size_ok(format_size(v, buf)), v);
	}
	assert_string_equal(format_size(size_ok("1.5G"), buf), "1536M");
	assert_string_equal(format_size(size_ok("1024K"), buf), "1M");
}

/* --- durations --- */

static void test_duration_units(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("0"), 0);
	assert_int_equal(dur_ok("0ms"), 0);
	assert_int_equal(dur_ok("0s"), 0);
	assert_int_equal(dur_ok("500ms"), 500);
	assert_int_equal(dur_ok("10s"), 10000);
	assert_int_equal(dur_ok("5m"), 300000);
	assert_int_equal(dur_ok("1h"), 3600000);
	assert_int_equal(dur_ok("2d"), 2 * 86400000ull);
	assert_int_equal(dur_ok("90s"), 90000);
	assert_int_equal(dur_ok("1m30s"), 90000);
	assert_int_equal(dur_ok("1h1m1s1ms"), 3661001);
	assert_int_equal(dur_ok("1d12h"), 36 * 3600000ull);
	assert_int_equal(dur_ok("1s500ms"), 1500);
	assert_int_equal(dur_ok("10S"), 10000);
	assert_int_equal(dur_ok("10MS"), 10);
}

static void test_duration_fraction(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("1.5s"), 1500);
	assert_int_equal(dur_ok("0.5m"), 30000);
	assert_int_equal(dur_ok("1.5h"), 5400000);
	assert_int_equal(dur_ok("0.001s"), 1);
	assert_int_equal(dur_ok("0.0015s"), 1); /* rounded down */
	assert_int_equal(dur_ok("1h0.5m"), 3630000);
	dur_bad("1.5ms");
	dur_bad("1.s");
	dur_bad(".5s");
	dur_bad("1.0000001s");
}

static void test_duration_bad(void **state)
{
	(void)state;
	dur_bad("");
	dur_bad("10");  /* a unit is required but for "0" */
	dur_bad("00");
	dur_bad("0.0");
	dur_bad("s");
	dur_bad("ms");
	dur_bad("-1s");
	dur_bad("+1s");
	dur_bad(" 1s");
	dur_bad("1s ");
	dur_bad("1 s");
	dur_bad("10s x");
	dur_bad("1m 30s");
	dur_bad("10x");
	dur_bad("10sec");
	dur_bad("10min");
	dur_bad("1w");
	dur_bad("1s1"); /* trailing number without unit */
	dur_bad("5/");
	dur_bad("30s1m"); /* units out of order */
	dur_bad("1s1s");
	dur_bad("1ms1s");
	dur_bad("1m1h");
}

static void test_duration_overflow(void **state)
{
	(void)state;
	/* UINT64_MAX ms = 213503982334d 14h 25m 51s 615ms */
	assert_int_equal(dur_ok("18446744073709551615ms"), UINT64_MAX);
	assert_int_equal(dur_ok("213503982334d14h25m51s615ms"), UINT64_MAX);
	dur_bad("18446744073709551616ms");
	dur_bad("213503982334d14h25m51s616ms");
	dur_bad("213503982335d");
	dur_bad("18446744073709551615s");
	dur_bad("99999999999999999999999h");
}

static void test_duration_format(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(format_duration(0, buf), "0");
	assert_string_equal(format_duration(1, buf), "1ms");
	assert_string_equal(format_duration(500, buf), "500ms");
	assert_string_equal(format_duration(1000, buf), "1s");
	assert_string_equal(format_duration(1500, buf), "1s500ms");
	assert_string_equal(format_duration(60000, buf), "1m");
	assert_string_equal(format_duration(90000, buf), "1m30s");
	assert_string_equal(format_duration(3600000, buf), "1h");
	assert_string_equal(format_duration(3601000, buf), "1h1s");
	assert_string_equal(format_duration(86400000, buf), "1d");
	assert_string_equal(format_duration(2 * 86400000ull, buf), "2d");
	assert_string_equal(format_duration(UINT64_MAX, buf),
	                    "213503982334d14h25m51s615ms");
	assert_ptr_equal(format_duration(5, buf), buf);
}

static void test_duration_roundtrip(void **state)
{
	(void)state;
	static const uint64_t values[] = {
		0, 1, 999, 1000, 1001, 1500, 59999, 60000, 90000, 3599999, 3600000,
		86399999, 86400000, 86400001, 123456789012ull, UINT64_MAX,
		UINT64_MAX - 1, UINT64_MAX / 3,
	};
	char buf[32];
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		const char *s = format_duration(values[i], buf);
		assert_true(strlen(s) < 32);
		assert_int_equal(dur_ok(s), values[i]);
	}
	static const char *const texts[] = { "500ms", "10s", "5m", "1h", "1.5s",
	                                     "90s", "2d", "25h", "0" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		uint64_t v = dur_ok(texts[i]);
		assert_int_equal(dur_ok(format_duration(v, buf)), v);
	}
	assert_string_equal(format_duration(dur_ok("90s"), buf), "1m30s");
	assert_string_equal(format_duration(dur_ok("25h"), buf), "1d1h");
}

/* --- signals --- */

static void test_signal_names(void **state)
{
	(void)state;
	assert_int_equal(sig_ok("TERM"), SIGTERM);
	assert_int_equal(sig_ok("SIGTERM"), SIGTERM);
	assert_int_equal(sig_ok("sigterm"), SIGTERM);
	assert_int_equal(sig_ok("term"), SIGTERM);
	assert_int_equal(sig_ok("SigTerm"), SIGTERM);
	assert_int_equal(sig_ok("HUP"), SIGHUP);
	assert_int_equal(sig_ok("INT"), SIGINT);
	assert_int_equal(sig_ok("QUIT"), SIGQUIT);
	assert_int_equal(sig_ok("ILL"), SIGILL);
	assert_int_equal(sig_ok("TRAP"), SIGTRAP);
	assert_int_equal(sig_ok("ABRT"), SIGABRT);
	assert_int_equal(sig_ok("BUS"), SIGBUS);
	assert_int_equal(sig_ok("FPE"), SIGFPE);
	assert_int_equal(sig_ok("KILL"), SIGKILL);
	assert_int_equal(sig_ok("USR1"), SIGUSR1);
	assert_int_equal(sig_ok("SEGV"), SIGSEGV);
	assert_int_equal(sig_ok("USR2"), SIGUSR2);
	assert_int_equal(sig_ok("PIPE"), SIGPIPE);
	assert_int_equal(sig_ok("ALRM"), SIGALRM);
	assert_int_equal(sig_ok("STKFLT"), SIGSTKFLT);
	assert_int_equal(sig_ok("CHLD"), SIGCHLD);
	assert_int_equal(sig_ok("CONT"), SIGCONT);
	assert_int_equal(sig_ok("STOP"), SIGSTOP);
	assert_int_equal(sig_ok("TSTP"), SIGTSTP);
	assert_int_equal(sig_ok("TTIN"), SIGTTIN);
	assert_int_equal(sig_ok("TTOU"), SIGTTOU);
	assert_int_equal(sig_ok("URG"), SIGURG);
	assert_int_equal(sig_ok("XCPU"), SIGXCPU);
	assert_int_equal(sig_ok("XFSZ"), SIGXFSZ);
	assert_int_equal(sig_ok("VTALRM"), SIGVTALRM);
	assert_int_equal(sig_ok("PROF"), SIGPROF);
	assert_int_equal(sig_ok("WINCH"), SIGWINCH);
	assert_int_equal(sig_ok("IO"), SIGIO);
	assert_int_equal(sig_ok("POLL"), SIGPOLL);
	assert_int_equal(sig_ok("PWR"), SIGPWR);
	assert_int_equal(sig_ok("SYS"), SIGSYS);
	assert_int_equal(sig_ok("sigwinch"), SIGWINCH);
}

static void test_signal_numbers(void **state)
{
	(void)state;
	assert_int_equal(sig_ok("1"), 1);
	assert_int_equal(sig_ok("9"), 9);
	assert_int_equal(sig_ok("15"), 15);
	assert_int_equal(sig_ok("64"), 64);
	assert_int_equal(sig_ok("SIG34"), 34);
	assert_int_equal(sig_ok("sig15"), 15);
	assert_int_equal(sig_ok("RTMIN"), SIGRTMIN);
	assert_int_equal(sig_ok("SIGRTMIN+2"), SIGRTMIN + 2);
	assert_int_equal(sig_ok("rtmax"), SIGRTMAX);
	assert_int_equal(sig_ok("RTMAX-1"), SIGRTMAX - 1);
	sig_bad("0");
	sig_bad("65");
	sig_bad("-1");
	sig_bad("+9");
	sig_bad("99999999999999999999");
	sig_bad("SIG0");
	sig_bad("SIG65");
	sig_bad("RTMIN-1");
	sig_bad("RTMAX+1");
	sig_bad("RTMIN+");
	sig_bad("RTMIN+99");
}

static void test_signal_bad(void **state)
{
	(void)state;
	sig_bad("");
	sig_bad("SIG");
	sig_bad("TERMX");
	sig_bad("SIGSIGTERM");
	sig_bad("NOPE");
	sig_bad(" TERM");
	sig_bad("TERM ");
	sig_bad("9x");
	sig_bad("1.5");
}

static void test_signal_name(void **state)
{
	(void)state;
	assert_string_equal(signal_name(SIGTERM), "TERM");
	assert_string_equal(signal_name(SIGKILL), "KILL");
	assert_string_equal(signal_name(SIGHUP), "HUP");
	assert_string_equal(signal_name(SIGIO), "IO");
	assert_string_equal(signal_name(34), "SIG34");
	assert_string_equal(signal_name(64), "SIG64");
	/* Two numbered names at once stay distinct. */
	const char *a = signal_name(40), *b = signal_name(41);
	assert_string_equal(a, "SIG40");
	assert_string_equal(b, "SIG41");
	assert_string_equal(signal_name(0), "SIG?");
	assert_string_equal(signal_name(65), "SIG?");
	assert_string_equal(signal_name(-3), "SIG?");
}

static void test_signal_roundtrip(void **state)
{
	(void)state;
	for (int s = 1; s <= 64; s++) {
		const char *name = signal_name(s);
		assert_int_equal(sig_ok(name), s);
		/* And with the SIG prefix, lower case. */
		char buf[32];
		snprintf(buf, sizeof(buf), "sig%s", name);
		if (strncmp(name, "SIG", 3) != 0)
			assert_int_equal(sig_ok(buf), s);
	}
}

/* --- rates, ranges, numbers, percents --- */

static void test_rate(void **state)
{
	(void)state;
	unsigned n = 0;
	uint64_t w = 0;
	const char *why = "unset";
	assert_int_equal(parse_rate("5/5m", &n, &w, &why), 0);
	assert_null(why);
	assert_int_equal(n, 5);
	assert_int_equal(w, 300000);
	assert_int_equal(parse_rate("10/1m", &n, &w, &why), 0);
	assert_int_equal(n, 10);
	assert_int_equal(w, 60000);
	assert_int_equal(parse_rate("1/1ms", &n, &w, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(w, 1);
	assert_int_equal(parse_rate("100000/1h30m", &n, &w, &why), 0);
	assert_int_equal(n, 100000);
	assert_int_equal(w, 5400000);

	static const char *const bad[] = {
		"", "5", "5/", "/5m", "0/5m", "5/0", "5/0s", "100001/1m",
		"99999999999999999999/1m", "-1/5m", "5/5", "5/5m x", "5 /5m",
		"5/ 5m", "5//5m", "5/5m/", "1.5/5m", "a/5m", "5/-1s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 42;
		w = 42;
		why = NULL;
		if (parse_rate(bad[i], &n, &w, &why) == 0)
			fail_msg("parse_rate(\"%s\") accepted", bad[i]);
		assert_non_null(why);
		assert_non_null(strstr(why, "expected a rate"));
		assert_int_equal(n, 42);
		assert_int_equal(w, 42);
	}
}

static void test_range(void **state)
{
	(void)state;
	uint64_t lo = 1, hi = 1;
	const char *why = "unset";
	assert_int_equal(parse_range("100ms..30s", &lo, &hi, &why), 0);
	assert_null(why);
	assert_int_equal(lo, 100);
	assert_int_equal(hi, 30000);
	assert_int_equal(parse_range("0", &lo, &hi, &why), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	assert_int_equal(parse_range("1s..1s", &lo, &hi, &why), 0);
	assert_int_equal(lo, 1000);
	assert_int_equal(hi, 1000);
	assert_int_equal(parse_range("0..5m", &lo, &hi, &why), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 300000);
	assert_int_equal(parse_range("1.5s..2.5s", &lo, &hi, &why), 0);
	assert_int_equal(lo, 1500);
	assert_int_equal(hi, 2500);
	assert_int_equal(parse_range("1m30s..1h", &lo, &hi, &why), 0);
	assert_int_equal(lo, 90000);
	assert_int_equal(hi, 3600000);

	lo = hi = 42;
	assert_int_equal(parse_range("30s..100ms", &lo, &hi, &why), -1);
	assert_string_equal(why, "expected MIN <= MAX in a range like 100ms..30s");
	assert_int_equal(lo, 42);

	static const char *const bad[] = {
		"", "..", "1s..", "..1s", "1s", "1s...2s", "1s..2s..3s", "1s.2s",
		"1s .. 2s", "1s..2s x", "1..2", "0..", "00", "1s..-2s",
		"1s..99999999999999999999999d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (parse_range(bad[i], &lo, &hi, &why) == 0)
			fail_msg("parse_range(\"%s\") accepted", bad[i]);
		assert_string_equal(why,
		                    "expected a range of durations like 100ms..30s "
		                    "(MIN..MAX)");
		assert_int_equal(lo, 42);
		assert_int_equal(hi, 42);
	}
}

static void test_uint(void **state)
{
	(void)state;
	unsigned v = 0;
	const char *why = "unset";
	assert_int_equal(parse_uint("3", 0, 10, &v, &why), 0);
	assert_null(why);
	assert_int_equal(v, 3);
	assert_int_equal(parse_uint("0", 0, 10, &v, &why), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint("10", 0, 10, &v, &why), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_uint("4294967295", 0, 4294967295u, &v, &why), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(parse_uint("007", 1, 10, &v, &why), 0);
	assert_int_equal(v, 7);

	v = 42;
	assert_int_equal(parse_uint("11", 0, 10, &v, &why), -1);
	assert_string_equal(why, "number out of the allowed range");
	assert_int_equal(parse_uint("0", 1, 10, &v, &why), -1);
	assert_string_equal(why, "number out of the allowed range");
	assert_int_equal(parse_uint("4294967296", 0, 4294967295u, &v, &why), -1);
	assert_string_equal(why, "number out of the allowed range");
	assert_int_equal(parse_uint("99999999999999999999999", 0, 10, &v, &why), -1);
	assert_string_equal(why, "number out of the allowed range");
	static const char *const bad[] = { "", "-1", "+1", "1.0", "1 ", " 1",
	                                   "1x", "0x1", "one" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (parse_uint(bad[i], 0, 100, &v, &why) == 0)
			fail_msg("parse_uint(\"%s\") accepted", bad[i]);
		assert_string_equal(why, "expected a whole number like 3");
	}
	assert_int_equal(v, 42);
}

static void test_mode(void **state)
{
	(void)state;
	static const struct { const char *s; int want; } cases[] = {
		{ "0600", 0600 }, { "600", 0600 }, { "0660", 0660 }, { "0777", 0777 },
		{ "000", 0 }, { "0000", 0 },
		{ "", -1 }, { "60", -1 }, { "0800", -1 }, { "1777", -1 },
		{ "07777", -1 }, { "rw", -1 }, { "0x1ff", -1 }, { "-600", -1 },
		{ "0600 ", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned m = 12345;
		const char *why = NULL;
		int r = parse_mode(cases[i].s, &m, &why);
		if (cases[i].want < 0) {
			if (r == 0)
				fail_msg("parse_mode(\"%s\") accepted", cases[i].s);
			assert_non_null(why);
		} else {
			if (r != 0 || m != (unsigned)cases[i].want)
				fail_msg("parse_mode(\"%s\"): r %d, mode %o", cases[i].s, r, m);
			assert_null(why);
		}
	}
}

static void test_percent(void **state)
{
	(void)state;
	assert_int_equal(pct_ok("80%"), 80);
	assert_int_equal(pct_ok("1%"), 1);
	assert_int_equal(pct_ok("100%"), 100);
	assert_int_equal(pct_ok("050%"), 50);
	assert_int_equal(pct_ok("0.8"), 80);
	assert_int_equal(pct_ok("0.80"), 80);
	assert_int_equal(pct_ok("0.800000"), 80);
	assert_int_equal(pct_ok("0.01"), 1);
	assert_int_equal(pct_ok("0.5"), 50);
	assert_int_equal(pct_ok("1"), 100);
	assert_int_equal(pct_ok("1.0"), 100);
	assert_int_equal(pct_ok("1.00"), 100);
	pct_bad("");
	pct_bad("%");
	pct_bad("0%");
	pct_bad("101%");
	pct_bad("-5%");
	pct_bad("80.5%");
	pct_bad("80 %");
	pct_bad("80%%");
	pct_bad("%80");
	pct_bad("0");
	pct_bad("0.0");
	pct_bad("0.001");
	pct_bad("0.805");
	pct_bad("1.01");
	pct_bad("1.5");
	pct_bad("2");
	pct_bad("80");
	pct_bad(".8");
	pct_bad("0.");
	pct_bad("0.8x");
	pct_bad("99999999999999999999%");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_units),
		cmocka_unit_test(test_size_fraction),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_size_roundtrip),
		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_fraction),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_overflow),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_duration_roundtrip),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_signal_numbers),
		cmocka_unit_test(test_signal_bad),
		cmocka_unit_test(test_signal_name),
		cmocka_unit_test(test_signal_roundtrip),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
