/* logview — stamps, --since and label colours of tend logs (logview.h). */
#include "logview.h"
#include "parse.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* DIGITS digits at S into *V; false when they are not all digits. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

int logview_stamp(const char *line, size_t len, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, milli;
	if (len < LOGVIEW_STAMP_LEN || line[4] != '-' || line[7] != '-' ||
	    line[10] != 'T' || line[13] != ':' || line[16] != ':' ||
	    line[19] != '.' || line[23] != 'Z' || line[24] != ' ' ||
	    !digits(line, 4, &y) || !digits(line + 5, 2, &mo) ||
	    !digits(line + 8, 2, &d) || !digits(line + 11, 2, &h) ||
	    !digits(line + 14, 2, &mi) || !digits(line + 17, 2, &sec) ||
	    !digits(line + 20, 3, &milli))
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000 + milli;
	return 0;
}

const char *logview_local(int64_t ms, char out[40])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	char date[24], zone[8];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);   /* +0100 */
	snprintf(out, 40, "%s.%03d%.3s:%.2s", date,
	         (int)(ms - (int64_t)t * 1000), zone, zone + 3);
	return out;
}

/* The offset at the end of S ("Z", "+01:00", "+0100", "-05"), into
 * *OFF_S (seconds east of UTC); *END: where it starts.  False when S
 * has none. */
static bool offset(const char *s, const char **end, long *off_s)
{
	size_t n = strlen(s);
	if (n && (s[n - 1] == 'Z' || s[n - 1] == 'z')) {
		*end = s + n - 1;
		*off_s = 0;
		return true;
	}
	for (size_t len = 6; len >= 3; len--) {
		if (n < len + 8)
			continue;
		const char *o = s + n - len;
		int hh, mm = 0;
		if ((o[0] != '+' && o[0] != '-') || !digits(o + 1, 2, &hh))
			continue;
		if (len == 6 && (o[3] != ':' || !digits(o + 4, 2, &mm)))
			continue;
		if (len == 5 && !digits(o + 3, 2, &mm))
			continue;
		if (len == 4)
			continue;
		*end = o;
		*off_s = (o[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
		return true;
	}
	return false;
}

/* "HH:MM[:SS[.mmm]]" at S (to END) into TM and *MILLI; false otherwise. */
static bool clock_time(const char *s, const char *end, struct tm *tm,
                       int *milli)
{
	size_t n = (size_t)(end - s);
	*milli = 0;
	tm->tm_sec = 0;
	if (n < 5 || s[2] != ':' || !digits(s, 2, &tm->tm_hour) ||
	    !digits(s + 3, 2, &tm->tm_min))
		return false;
	if (n > 5 && (n < 8 || s[5] != ':' || !digits(s + 6, 2, &tm->tm_sec)))
		return false;
	if (n > 8 && (n != 12 || s[8] != '.' || !digits(s + 9, 3, milli)))
		return false;
	return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec < 61;
}

static const char since_why[] =
	"give a duration back from now (10m, 2h, 1d, 1h30m), an ISO 8601 "
	"time (2026-11-23T10:00[:SS][Z|+01:00], local time without a zone), "
	"a date (2026-11-23) or HH:MM[:SS] today";

int logview_since(const char *s, int64_t now_ms, int64_t *ms,
                  const char **why)
{
	uint64_t back;
	const char *pwhy;
	*why = since_why;
	if (s[0] >= '0' && s[0] <= '9' && parse_duration(s, &back, &pwhy) == 0) {
		*ms = now_ms - (int64_t)back;
		return 0;
	}
	const char *end = s + strlen(s);
	long off = 0;
	bool zoned = offset(s, &end, &off);
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;
	localtime_r(&now, &tm);
	int milli = 0, y, mo, d;
	if (end - s >= 10 && s[4] == '-' && s[7] == '-' && digits(s, 4, &y) &&
	    digits(s + 5, 2, &mo) && digits(s + 8, 2, &d)) {
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		if (end - s == 10) {
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		           !clock_time(s + 11, end, &tm, &milli)) {
			return -1;
		}
		if (mo < 1 || mo > 12 || d < 1 || d > 31)
			return -1;
	} else if (zoned || !clock_time(s, end, &tm, &milli)) {
		return -1;
	}
	time_t t;
	if (zoned) {
		t = timegm(&tm) - off;
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	if (t == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + milli;
	return 0;
}

int logview_when(const char *s, enum logview_when *w)
{
	static const char *const names[] = { "auto", "always", "never" };
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*w = (enum logview_when)i;
			return 0;
		}
	return -1;
}

bool logview_colour(enum logview_when when, bool tty, const char *no_color)
{
	if (when != COLOR_AUTO)
		return when == COLOR_ALWAYS;
	return tty && !(no_color && *no_color);
}

const char *logview_label_colour(const char *name)
{
	/* Readable on dark and light backgrounds; red is for failures. */
	static const char *const palette[] = {
		"\033[36m", "\033[33m", "\033[32m", "\033[35m", "\033[34m",
		"\033[96m", "\033[93m", "\033[92m", "\033[95m", "\033[94m",
	};
	return palette[fnv1a(name) % ARRAY_LEN(palette)];
}
