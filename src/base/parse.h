/* parse — the value syntaxes of tend.ini and of tend exec's flags.
 *
 * Every parser takes the whole string (already trimmed), returns 0 and fills
 * its output, or returns -1 and points *why at a static message saying what
 * is expected ("expected a size like 512K, 300M or 2G").  No allocation.
 */
#ifndef TEND_PARSE_H
#define TEND_PARSE_H

#include <stdint.h>
#include <stddef.h>

/* Sizes: a whole number with an optional unit, case-insensitive:
 * B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB, all powers of 1024.
 * "512K", "300M", "2G", "1.5G" (one decimal part allowed), "4096". */
int parse_size(const char *s, uint64_t *bytes, const char **why);

/* Durations: one or more NUMBER UNIT groups, units ms, s, m, h, d:
 * "500ms", "10s", "5m", "1h", "1m30s", "1.5s".  "0" alone is zero. */
int parse_duration(const char *s, uint64_t *ms, const char **why);

/* Signals: "TERM", "SIGTERM", "sigterm" or a number 1..64. */
int parse_signal(const char *s, int *sig, const char **why);

/* "N/WINDOW": N a whole number 1..100000, WINDOW a duration > 0. */
int parse_rate(const char *s, unsigned *n, uint64_t *window_ms,
               const char **why);

/* "MIN..MAX" durations with MIN <= MAX; "0" alone is 0..0. */
int parse_range(const char *s, uint64_t *min_ms, uint64_t *max_ms,
                const char **why);

/* Whole number in [lo, hi]. */
int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out,
               const char **why);

/* "80%" or a fraction "0.8"; result 1..100 (percent). */
int parse_percent(const char *s, unsigned *pct, const char **why);

/* File permissions in octal, 3 or 4 digits: "0600", "660"; at most 0777. */
int parse_mode(const char *s, unsigned *mode, const char **why);

/* Formatting back, for tend check: the shortest exact form in the same
 * syntax ("1m30s", "300M", "TERM").  BUF must hold 32 bytes. */
const char *format_duration(uint64_t ms, char buf[32]);
const char *format_size(uint64_t bytes, char buf[32]);
/* For people: "3.2K", "359M", "1.5G" (one decimal below 10). */
const char *format_size_approx(uint64_t bytes, char buf[32]);
/* "TERM" for SIGTERM, "SIG34" style for unnamed ones; static storage. */
const char *signal_name(int sig);

#endif
