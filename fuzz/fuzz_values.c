/* The value syntaxes of tend.ini and tend exec's flags (src/base/parse.c):
 * sizes, durations, signals, N/WINDOW, MIN..MAX, whole numbers, percents,
 * modes.  The first byte picks the parser, the rest is the value.  A value
 * is parsed into range or refused with a static reason; what tend check
 * prints (format_*) parses back to the same value. */
#include <signal.h>

#include "fuzz.h"
#include "parse.h"

static void refused(const char *why, const char *s)
{
	FUZZ_ASSERT(why && *why, "\"%s\" refused without a reason", s);
	char *copy = strdup(why);
	fuzz_check(oracle_message(copy, "", 0), "parse reason");
	free(copy);
}

/* S parses to a value whose printed form (what tend check shows) parses
 * to the same value; or S is refused with a reason. */
static void roundtrip(const char *s,
                      int (*parse)(const char *, uint64_t *, const char **),
                      const char *(*format)(uint64_t, char[32]),
                      const char *what)
{
	const char *why = NULL;
	uint64_t a, b;
	char buf[32];
	if (parse(s, &a, &why) < 0) {
		refused(why, s);
		return;
	}
	format(a, buf);
	FUZZ_ASSERT(parse(buf, &b, &why) == 0 && a == b,
	            "%s \"%s\" = %llu printed \"%s\"", what, s,
	            (unsigned long long)a, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = fuzz_cstr(data + 1, size - 1);
	const char *why = NULL;
	char buf[32];
	uint64_t a, b;
	unsigned u;
	int sig;
	switch (data[0] % 8) {
	case 0:
		if (parse_size(s, &a, &why) == 0)
			FUZZ_ASSERT(strlen(format_size_approx(a, buf)) < 32, "approx");
		roundtrip(s, parse_size, format_size, "size");
		break;
	case 1:
		roundtrip(s, parse_duration, format_duration, "duration");
		break;
	case 2:
		if (parse_signal(s, &sig, &why) == 0) {
			FUZZ_ASSERT(sig >= 1 && sig <= 64, "signal %d", sig);
			const char *name = signal_name(sig);
			int back;
			FUZZ_ASSERT(parse_signal(name, &back, &why) == 0 && back == sig,
			            "signal %d named \"%s\"", sig, name);
		} else {
			refused(why, s);
		}
		break;
	case 3:
		if (parse_rate(s, &u, &a, &why) == 0)
			FUZZ_ASSERT(u >= 1 && u <= 100000 && a > 0, "rate %u/%llu", u,
			            (unsigned long long)a);
		else
			refused(why, s);
		break;
	case 4:
		if (parse_range(s, &a, &b, &why) == 0)
			FUZZ_ASSERT(a <= b, "range %llu..%llu", (unsigned long long)a,
			            (unsigned long long)b);
		else
			refused(why, s);
		break;
	case 5:
		if (parse_uint(s, 1, 1000, &u, &why) == 0)
			FUZZ_ASSERT(u >= 1 && u <= 1000, "uint %u", u);
		else
			refused(why, s);
		break;
	case 6:
		if (parse_percent(s, &u, &why) == 0)
			FUZZ_ASSERT(u >= 1 && u <= 100, "percent %u", u);
		else
			refused(why, s);
		break;
	default:
		if (parse_mode(s, &u, &why) == 0)
			FUZZ_ASSERT(u <= 0777, "mode %o", u);
		else
			refused(why, s);
		break;
	}
	free(s);
	return 0;
}
