/* parse — see parse.h. */
#include "parse.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char why_size[] = "expected a size like 512K, 300M or 2G";
static const char why_duration[] =
	"expected a duration like 500ms, 10s, 5m or 1h";
static const char why_signal[] =
	"expected a signal like TERM, INT, HUP, KILL or a number 1..64";
static const char why_rate[] =
	"expected a rate like 5/5m: a count from 1 to 100000, '/', "
	"a duration above 0";
static const char why_range[] =
	"expected a range of durations like 100ms..30s (MIN..MAX)";
static const char why_range_order[] =
	"expected MIN <= MAX in a range like 100ms..30s";
static const char why_uint[] = "expected a whole number like 3";
static const char why_uint_range[] = "number out of the allowed range";
static const char why_percent[] =
	"expected a percentage like 80% (1% to 100%) or a fraction like 0.8";

/* At most this many digits after a decimal point: keeps the exact integer
 * arithmetic below in range (10^6 * 2^40 < 2^64). */
#define FRAC_DIGITS_MAX 6

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number "DIGITS" or "DIGITS.DIGITS" at *PP.  Fills the whole part, the
 * fraction digits as an integer and their count, and moves *PP past it.
 * Returns -1 when there is no number, on overflow or too many decimals. */
static int read_number(const char **pp, uint64_t *whole, uint64_t *frac,
                       unsigned *frac_digits)
{
	const char *p = *pp;
	uint64_t w = 0, f = 0;
	unsigned nf = 0;

	if (!is_digit(*p))
		return -1;
	while (is_digit(*p)) {
		if (__builtin_mul_overflow(w, 10, &w) ||
		    __builtin_add_overflow(w, (uint64_t)(*p - '0'), &w))
			return -1;
		p++;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -1;
		while (is_digit(*p)) {
			if (++nf > FRAC_DIGITS_MAX)
				return -1;
			f = f * 10 + (uint64_t)(*p - '0');
			p++;
		}
	}
	*whole = w;
	*frac = f;
	*frac_digits = nf;
	*pp = p;
	return 0;
}

static uint64_t pow10u(unsigned n)
{
	uint64_t r = 1;
	while (n--)
		r *= 10;
	return r;
}

/* WHOLE.FRAC times MULT, rounded down; -1 on overflow. */
static int scale(uint64_t whole, uint64_t frac, unsigned frac_digits,
                 uint64_t mult, uint64_t *out)
{
	uint64_t a, b;
	if (__builtin_mul_overflow(whole, mult, &a))
		return -1;
	if (__builtin_mul_overflow(frac, mult, &b)) /* cannot, see above */
		return -1;
	b /= pow10u(frac_digits);
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* --- sizes --- */

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit size_units[] = {
	{ "", 1 },                 { "b", 1 },
	{ "k", 1ull << 10 },       { "kb", 1ull << 10 }, { "kib", 1ull << 10 },
	{ "m", 1ull << 20 },       { "mb", 1ull << 20 }, { "mib", 1ull << 20 },
	{ "g", 1ull << 30 },       { "gb", 1ull << 30 }, { "gib", 1ull << 30 },
	{ "t", 1ull << 40 },       { "tb", 1ull << 40 }, { "tib", 1ull << 40 },
};

int parse_size(const char *s, uint64_t *bytes, const char **why)
{
	const char *p = s;
	uint64_t whole, frac, v;
	unsigned nf;

	*why = why_size;
	if (read_number(&p, &whole, &frac, &nf) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		const struct unit *u = &size_units[i];
		if (strcasecmp(p, u->name) != 0)
			continue;
		/* A fraction of a byte makes no sense. */
		if (nf > 0 && u->mult == 1)
			return -1;
		if (scale(whole, frac, nf, u->mult, &v) < 0)
			return -1;
		*bytes = v;
		*why = NULL;
		return 0;
	}
	return -1;
}

const char *format_size(uint64_t bytes, char buf[32])
{
	static const char letters[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		unsigned shift = (unsigned)(4 - i) * 10;
		uint64_t mult = 1ull << shift;
		if (bytes != 0 && bytes % mult == 0) {
			snprintf(buf, 32, "%llu%c", (unsigned long long)(bytes >> shift),
			         letters[i]);
			return buf;
		}
	}
	snprintf(buf, 32, "%llu", (unsigned long long)bytes);
	return buf;
}

const char *format_size_approx(uint64_t bytes, char buf[32])
{
	static const char units[] = "KMGT";
	double v = (double)bytes / 1024;
	int u = 0;
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

/* --- durations --- */

/* Largest first: groups must come in this order, each at most once. */
static const struct unit duration_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
	{ "s", 1000 },     { "ms", 1 },
};
#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* The duration S[0..END): 0 with *MS set, or -1. */
static int duration_span(const char *s, const char *end, uint64_t *ms)
{
	const char *p = s;
	uint64_t total = 0;
	size_t next_unit = 0; /* index of the largest unit still allowed */

	if (end - s == 1 && *s == '0') {
		*ms = 0;
		return 0;
	}
	if (p == end)
		return -1;
	while (p < end) {
		uint64_t whole, frac, v;
		unsigned nf;
		if (read_number(&p, &whole, &frac, &nf) < 0 || p > end)
			return -1;
		const char *u0 = p;
		while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			p++;
		size_t ulen = (size_t)(p - u0), i;
		for (i = 0; i < N_DURATION_UNITS; i++)
			if (strlen(duration_units[i].name) == ulen &&
			    strncasecmp(u0, duration_units[i].name, ulen) == 0)
				break;
		if (i == N_DURATION_UNITS || i < next_unit)
			return -1;
		next_unit = i + 1;
		/* A fraction of a millisecond makes no sense. */
		if (nf > 0 && duration_units[i].mult == 1)
			return -1;
		if (scale(whole, frac, nf, duration_units[i].mult, &v) < 0 ||
		    __builtin_add_overflow(total, v, &total))
			return -1;
	}
	*ms = total;
	return 0;
}

int parse_duration(const char *s, uint64_t *ms, const char **why)
{
	if (duration_span(s, s + strlen(s), ms) < 0) {
		*why = why_duration;
		return -1;
	}
	*why = NULL;
	return 0;
}

const char *format_duration(uint64_t ms, char buf[32])
{
	size_t n = 0;
	if (ms == 0) {
		snprintf(buf, 32, "0");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < N_DURATION_UNITS; i++) {
		uint64_t mult = duration_units[i].mult;
		uint64_t q = ms / mult;
		if (q == 0)
			continue;
		ms %= mult;
		/* At most 13 + 3 + 3 + 3 + 5 characters: always fits in 32. */
		n += (size_t)snprintf(buf + n, 32 - n, "%llu%s",
		                      (unsigned long long)q, duration_units[i].name);
	}
	return buf;
}

/* --- signals --- */

struct signame {
	const char *name;
	int sig;
};

static const struct signame signals[] = {
	{ "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },
	{ "ILL", SIGILL },       { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },
	{ "BUS", SIGBUS },       { "FPE", SIGFPE },       { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE },     { "ALRM", SIGALRM },     { "TERM", SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT", SIGSTKFLT },
#endif
	{ "CHLD", SIGCHLD },     { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },
	{ "URG", SIGURG },       { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },     { "WINCH", SIGWINCH },
	{ "IO", SIGIO },
#ifdef SIGPOLL
	{ "POLL", SIGPOLL },
#endif
#ifdef SIGPWR
	{ "PWR", SIGPWR },
#endif
	{ "SYS", SIGSYS },
};
#define N_SIGNALS (sizeof(signals) / sizeof(signals[0]))
#define SIG_NUM_MAX 64

/* A whole number of at most 9 digits at S, the whole of S. */
static int small_number(const char *s, long *out)
{
	long v = 0;
	size_t n = 0;
	for (; is_digit(s[n]); n++) {
		if (n >= 9)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0 || s[n] != '\0')
		return -1;
	*out = v;
	return 0;
}

int parse_signal(const char *s, int *sig, const char **why)
{
	long n;

	*why = why_signal;
	if (small_number(s, &n) == 0)
		goto number;
	if (strncasecmp(s, "SIG", 3) == 0) {
		s += 3;
		if (small_number(s, &n) == 0)
			goto number;
	}
	for (size_t i = 0; i < N_SIGNALS; i++) {
		if (strcasecmp(s, signals[i].name) == 0) {
			*sig = signals[i].sig;
			*why = NULL;
			return 0;
		}
	}
	/* RTMIN, RTMIN+N, RTMAX, RTMAX-N */
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool min = strncasecmp(s, "RTMIN", 5) == 0;
		const char *rest = s + 5;
		long off = 0;
		if (*rest != '\0') {
			if (*rest != (min ? '+' : '-') || small_number(rest + 1, &off) < 0)
				return -1;
		}
		n = min ? SIGRTMIN + off : SIGRTMAX - off;
		if (n < SIGRTMIN || n > SIGRTMAX)
			return -1;
		goto number;
	}
	return -1;

number:
	if (n < 1 || n > SIG_NUM_MAX)
		return -1;
	*sig = (int)n;
	*why = NULL;
	return 0;
}

const char *signal_name(int sig)
{
	static char numbered[SIG_NUM_MAX + 1][8];

	for (size_t i = 0; i < N_SIGNALS; i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	if (sig < 1 || sig > SIG_NUM_MAX)
		return "SIG?";
	snprintf(numbered[sig], sizeof(numbered[sig]), "SIG%d", sig);
	return numbered[sig];
}

/* --- numbers --- */

/* A whole number, the whole of S, into a uint64_t; -1 on overflow. */
static int whole_number(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -1;
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out,
               const char **why)
{
	uint64_t v;
	*why = why_uint;
	if (whole_number(s, &v) < 0) {
		/* All digits but too big: out of range rather than malformed. */
		if (is_digit(*s) && strspn(s, "0123456789") == strlen(s))
			*why = why_uint_range;
		return -1;
	}
	if (v < lo || v > hi) {
		*why = why_uint_range;
		return -1;
	}
	*out = (unsigned)v;
	*why = NULL;
	return 0;
}

int parse_rate(const char *s, unsigned *n, uint64_t *window_ms,
               const char **why)
{
	const char *slash = strchr(s, '/');
	uint64_t count = 0, w;

	*why = why_rate;
	if (!slash || slash == s)
		return -1;
	for (const char *p = s; p < slash; p++) {
		if (!is_digit(*p))
			return -1;
		count = count * 10 + (uint64_t)(*p - '0');
		if (count > 100000)
			return -1;
	}
	if (count < 1 || duration_span(slash + 1, slash + 1 + strlen(slash + 1),
	                               &w) < 0 || w == 0)
		return -1;
	*n = (unsigned)count;
	*window_ms = w;
	*why = NULL;
	return 0;
}

int parse_range(const char *s, uint64_t *min_ms, uint64_t *max_ms,
                const char **why)
{
	const char *dots = strstr(s, "..");
	uint64_t lo, hi;

	*why = why_range;
	if (strcmp(s, "0") == 0) {
		*min_ms = *max_ms = 0;
		*why = NULL;
		return 0;
	}
	if (!dots || duration_span(s, dots, &lo) < 0 ||
	    duration_span(dots + 2, dots + 2 + strlen(dots + 2), &hi) < 0)
		return -1;
	if (lo > hi) {
		*why = why_range_order;
		return -1;
	}
	*min_ms = lo;
	*max_ms = hi;
	*why = NULL;
	return 0;
}

int parse_percent(const char *s, unsigned *pct, const char **why)
{
	size_t len = strlen(s);
	uint64_t v;

	*why = why_percent;
	if (len > 1 && s[len - 1] == '%') {
		char num[16];
		if (len - 1 >= sizeof(num))
			return -1;
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (whole_number(num, &v) < 0)
			return -1;
	} else {
		/* A fraction: 0.01 .. 1, in whole percents. */
		const char *p = s;
		uint64_t whole, frac;
		unsigned nf;
		if (read_number(&p, &whole, &frac, &nf) < 0 || *p != '\0')
			return -1;
		if (whole > 1)
			return -1;
		/* frac has nf digits; keep two, the others must be zeros. */
		uint64_t hundredths = nf >= 2 ? frac / pow10u(nf - 2)
		                              : frac * pow10u(2 - nf);
		if (nf > 2 && frac % pow10u(nf - 2) != 0)
			return -1;
		v = whole * 100 + hundredths;
	}
	if (v < 1 || v > 100)
		return -1;
	*pct = (unsigned)v;
	*why = NULL;
	return 0;
}

int parse_mode(const char *s, unsigned *mode, const char **why)
{
	unsigned v = 0;
	size_t n = 0;
	*why = "expected permissions in octal, like 0600 or 0660";
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '7' || n >= 4)
			return -1;
		v = v * 8 + (unsigned)(s[n] - '0');
	}
	if (n < 3 || v > 0777)
		return -1;
	*mode = v;
	*why = NULL;
	return 0;
}
