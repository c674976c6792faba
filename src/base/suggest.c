/* suggest — see suggest.h. */
#include "suggest.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Longest name compared: longer ones are never near anything. */
#define NAME_MAX_LEN 64

static char fold(char c)
{
	if (c == '_')
		return '-';
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";   /* ASCII only */
	if (c >= 'A' && c <= 'Z')
		return lower[c - 'A'];
	return c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

size_t suggest_distance(const char *a, const char *b, size_t max)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > NAME_MAX_LEN || m > NAME_MAX_LEN)
		return max + 1;
	if ((n > m ? n - m : m - n) > max)
		return max + 1;
	/* Three rows of the table: i - 2, i - 1 and i. */
	size_t rows[3][NAME_MAX_LEN + 1];
	size_t *two = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= m; j++)
		prev[j] = j;
	for (size_t i = 1; i <= n; i++) {
		cur[0] = i;
		size_t best = cur[0];
		for (size_t j = 1; j <= m; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && two[j - 2] + 1 < cur[j])
				cur[j] = two[j - 2] + 1;
			if (cur[j] < best)
				best = cur[j];
		}
		if (best > max)
			return max + 1;
		size_t *t = two;
		two = prev;
		prev = cur;
		cur = t;
	}
	return prev[m] > max ? max + 1 : prev[m];
}

size_t suggest_bound(const char *word)
{
	size_t n = strlen(word);
	size_t b = n <= 4 ? 1 : n <= 8 ? 2 : 3;
	return b < n ? b : (n ? n - 1 : 0);
}

const char *suggest_near(const char *word, const char *const *candidates)
{
	size_t bound = suggest_bound(word), best = bound + 1;
	const char *pick = NULL;
	for (const char *const *c = candidates; *c; c++) {
		size_t d = suggest_distance(word, *c, bound);
		if (d < best) {
			best = d;
			pick = *c;
		}
	}
	return pick;
}

/* --- other supervisors' spellings --- */

const struct suggest_hint suggest_key_hints[] = {
	/* supervisord, [program:x] */
	{ "command", "supervisord", "exec",
	  "write exec = COMMAND (split like a shell, never run by one)" },
	{ "autorestart", "supervisord", "restart",
	  "write restart = always (true), on-failure (unexpected) or never (false)" },
	{ "autostart", "supervisord", "start",
	  "services start with tend (start = boot); start = on-demand waits for "
	  "a client" },
	{ "startsecs", "supervisord", "stable-after",
	  "write stable-after = DURATION (a run that lasted it forgets earlier "
	  "crashes), or ready = ... to say when a start succeeded" },
	{ "startretries", "supervisord", "max-crashes",
	  "write max-crashes = N/WINDOW" },
	{ "directory", "supervisord", "cwd", "write cwd = DIR" },
	{ "environment", "supervisord", "env",
	  "write env = KEY=VALUE KEY2=VALUE2 (blanks between, no commas)" },
	{ "stopsignal", "supervisord", "stop-signal", "write stop-signal = TERM" },
	{ "stopwaitsecs", "supervisord", "stop-timeout",
	  "write stop-timeout = 10s (a duration with its unit)" },
	{ "exitcodes", "supervisord", "success-codes",
	  "write success-codes = 0 2" },
	{ "stopasgroup", "supervisord", NULL,
	  "tend always signals the whole process tree: remove it" },
	{ "killasgroup", "supervisord", NULL,
	  "tend always kills the whole process tree: remove it" },
	{ "stdout_logfile", "supervisord", NULL,
	  "tend keeps each unit's output in its own log (tend logs NAME): remove it" },
	{ "stderr_logfile", "supervisord", NULL,
	  "tend keeps each unit's output in its own log (tend logs NAME): remove it" },
	{ "redirect_stderr", "supervisord", NULL,
	  "tend keeps stdout and stderr in the unit's log: remove it" },
	{ "user", "supervisord", NULL,
	  "units run as the user who runs tend: remove it" },
	{ "priority", "supervisord", "after",
	  "write after = NAME ... (the units it starts after, which stop "
	  "after it)" },
	{ "numprocs", "supervisord", NULL,
	  "write one [service NAME] per process, or stdio = per-client for one "
	  "per client" },

	/* systemd, [Service] */
	{ "ExecStart", "systemd", "exec",
	  "write exec = COMMAND (split like a shell, never run by one)" },
	{ "Restart", "systemd", "restart",
	  "write restart = always, on-failure or never (systemd's no)" },
	{ "RestartSec", "systemd", "backoff",
	  "write backoff = MIN..MAX (the delay doubles from MIN up to MAX)" },
	{ "MemoryMax", "systemd", "memory-max", "write memory-max = SIZE (512M)" },
	{ "MemoryLimit", "systemd", "memory-max", "write memory-max = SIZE (512M)" },
	{ "WorkingDirectory", "systemd", "cwd", "write cwd = DIR" },
	{ "Environment", "systemd", "env", "write env = KEY=VALUE ..." },
	{ "EnvironmentFile", "systemd", "env-file",
	  "write env-file = PATH (-PATH: optional, as systemd's -)" },
	{ "After", "systemd", "after",
	  "write after = NAME ... (it waits until they are ready)" },
	{ "Requires", "systemd", "after",
	  "write after = NAME ... (started first, and its failure fails this)" },
	{ "Wants", "systemd", "after", "write after = NAME ..." },
	{ "KillSignal", "systemd", "stop-signal", "write stop-signal = TERM" },
	{ "TimeoutStopSec", "systemd", "stop-timeout",
	  "write stop-timeout = 10s (a duration with its unit)" },
	{ "TimeoutStartSec", "systemd", "start-timeout",
	  "write start-timeout = 1m (a duration with its unit)" },
	{ "WatchdogSec", "systemd", "watchdog", "write watchdog = 30s" },
	{ "Type", "systemd", "ready",
	  "Type=notify is ready = notify; simple needs nothing" },
	{ "SuccessExitStatus", "systemd", "success-codes",
	  "write success-codes = 0 2 TERM" },
	{ "User", "systemd", NULL,
	  "units run as the user who runs tend: remove it" },
	{ "Description", "systemd", NULL, "write it as a comment: ; TEXT" },

	/* pm2's ecosystem file */
	{ "restart_delay", "pm2", "backoff",
	  "write backoff = MIN..MAX (the delay doubles from MIN up to MAX)" },
	{ "max_memory_restart", "pm2", "memory-max",
	  "write memory-max = SIZE (512M)" },
	{ "kill_timeout", "pm2", "stop-timeout",
	  "write stop-timeout = 10s (a duration with its unit)" },
	{ "max_restarts", "pm2", "max-crashes", "write max-crashes = N/WINDOW" },
	{ "min_uptime", "pm2", "stable-after", "write stable-after = DURATION" },
	{ "ignore_watch", "pm2", "watch-ignore", "write watch-ignore = GLOB ..." },
	{ "script", "pm2", "exec",
	  "write exec = COMMAND (split like a shell, never run by one)" },
	{ NULL, NULL, NULL, NULL },
};

/* Names equal once folded to lowercase without '_' and '-'? */
static bool loosely_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_' || *a == '-')
			a++;
		while (*b == '_' || *b == '-')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++;
		b++;
	}
}

/* The entry of TABLE spelled NAME, else (with LOOSE) one loosely equal
 * to it. */
static const struct suggest_hint *lookup(const struct suggest_hint *table,
                                         const char *name, bool loose)
{
	for (const struct suggest_hint *h = table; h->name; h++)
		if (strcmp(h->name, name) == 0)
			return h;
	for (const struct suggest_hint *h = table; loose && h->name; h++)
		if (loosely_equal(h->name, name))
			return h;
	return NULL;
}

const struct suggest_hint *suggest_key_hint(const char *name, bool loose)
{
	return lookup(suggest_key_hints, name, loose);
}

/* Section headers; a name ending in ':' takes the unit's name after it. */
static const struct suggest_hint section_hints[] = {
	{ "program:", "supervisord", "service", "write [service %s]" },
	{ "fcgi-program:", "supervisord", "service", "write [service %s]" },
	{ "group:", "supervisord", NULL, "tend has no groups: remove it" },
	{ "eventlistener:", "supervisord", NULL,
	  "tend events streams every unit's events: remove it" },
	{ "rpcinterface:", "supervisord", NULL,
	  "tend's control socket needs no configuration: remove it" },
	{ "supervisord", "supervisord", "tend",
	  "the daemon's settings go in [tend]" },
	{ "supervisorctl", "supervisord", NULL,
	  "tend's control socket needs no configuration: remove it" },
	{ "unix_http_server", "supervisord", NULL,
	  "tend's control socket needs no configuration: remove it" },
	{ "inet_http_server", "supervisord", NULL,
	  "tend's control socket needs no configuration: remove it" },
	{ "include", "supervisord", NULL, "tend reads one file: merge them" },
	{ "Service", "systemd", "service",
	  "write [service NAME], the unit's name after the word" },
	{ "Unit", "systemd", NULL,
	  "tend has no [Unit]: write Description as a comment, the rest under "
	  "[service NAME]" },
	{ "Install", "systemd", NULL, "tend has no [Install]: remove it" },
	{ "Timer", "systemd", "job",
	  "write a [job NAME] with every = DURATION" },
	{ NULL, NULL, NULL, NULL },
};

const struct suggest_hint *suggest_section_hint(const char *name, char **unit)
{
	*unit = NULL;
	for (const struct suggest_hint *h = section_hints; h->name; h++) {
		size_t n = strlen(h->name);
		if (h->name[n - 1] != ':' || strncmp(name, h->name, n) != 0)
			continue;
		const char *rest = name + n;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		*unit = xstrdup(*rest ? rest : "NAME");
		return h;
	}
	return lookup(section_hints, name, true);
}
