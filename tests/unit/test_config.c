/* Unit tests for config.c: what `tend check` prints loads back to the same
 * settings (the first case is an input the fuzzer, fuzz/fuzz_config.c,
 * found that broke that once; the input is also in fuzz/corpus/config/),
 * and the table of value types: each type reads and prints its syntax,
 * which keys repeat, which errors get the advice on quoting; every error of
 * a file in one message, "did you mean" and the hints for other
 * supervisors' spellings; env-file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "suggest.h"

static char dir[] = "/tmp/tend-test-config-XXXXXX";
static char path[sizeof(dir) + 16];

/* Writes TEXT to NAME in the test's directory. */
static void write_named(const char *name, const char *text)
{
	char p[sizeof(dir) + 64];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void remove_named(const char *name)
{
	char p[sizeof(dir) + 64];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct tend_config *load(const char *text)
{
	write_file(text);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (!cfg)
		fail_msg("%s", err);
	return cfg;
}

/* TEXT is refused: the error line. */
static char *load_error(const char *text)
{
	write_file(text);
	char *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	if (cfg)
		fail_msg("loaded: %s", text);
	assert_non_null(err);
	return err;
}

/* The error of TEXT, after "FILE:LINE: ", is WANT. */
static void assert_refused(const char *text, const char *want)
{
	char *err = load_error(text);
	const char *at = strstr(err, "tend.ini:");
	assert_non_null(at);
	at = strchr(at + strlen("tend.ini:"), ' ');
	assert_non_null(at);
	assert_string_equal(at + 1, want);
	free(err);
}

static char *print(const struct tend_config *cfg)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	assert_non_null(f);
	config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

/* TEXT loads; what check prints loads to equal units and prints the same.
 * Returns the printed text. */
static char *roundtrip(const char *text)
{
	struct tend_config *a = load(text);
	char *once = print(a);
	struct tend_config *b = load(once);
	assert_int_equal(a->nunits, b->nunits);
	for (size_t i = 0; i < a->nunits; i++)
		if (!config_unit_equal(a->units[i], b->units[i]))
			fail_msg("unit %s changed on the way back:\n%s",
			         a->units[i]->name, once);
	char *twice = print(b);
	assert_string_equal(once, twice);
	free(twice);
	config_free(a);
	config_free(b);
	return once;
}

/* watch-ignore emptied (its default is .git) used to print as a comment,
 * which loads back as the default. */
static void test_emptied_list_prints_empty(void **state)
{
	(void)state;
	char *s = roundtrip("[service x]\nexec = a\nwatch-ignore =\n");
	assert_non_null(strstr(s, "\nwatch-ignore =\n"));
	free(s);
	s = roundtrip("[service x]\nexec = a\n");
	assert_non_null(strstr(s, "\nwatch-ignore = .git\n"));
	free(s);
}

/* One key of each value type, set to what is not its default, prints as
 * tend check has always printed it and loads back the same. */
static void test_every_value_type_prints_what_it_read(void **state)
{
	(void)state;
	char *s = roundtrip(
		"[tend]\nlog-max = 20M\nmemory-interval = 500ms\nmax-jobs = 3\n"
		"[service web]\n"
		"exec = \"/bin/my prog\" -x\n"            /* argv */
		"cwd = \"/tmp/some dir\"\n"                /* path */
		"env = A=1 B_2=\"x y\"\nenv = C=3\n"       /* env */
		"start = on-demand\n"                      /* enum */
		"success-codes = 3 0 TERM\n"               /* codes */
		"backoff = 200ms..1m\n"                    /* range */
		"max-crashes = 3/1m\n"                     /* rate */
		"stop-signal = INT\n"                      /* signal */
		"memory-max = 1G\n"                        /* optional size */
		"memory-warn = 70%\n"                      /* percent */
		"health = tcp:127.0.0.1:80\n"              /* probe */
		"health-strikes = 5\n"                     /* uint */
		"start-timeout = none\n"                   /* optional duration */
		"listen = tcp:127.0.0.1:8080\nlisten = unix:/tmp/x.sock\n"
		"listen-mode = 0660\n"                     /* mode */
		"backend = tcp:127.0.0.1:9090\n"           /* optional address */
		"watch = a b\n"                            /* paths */
		"watch-ignore = '*.o' tmp\n"               /* words */
		"[job j]\nexec = true\ntimeout = 90s\nevery = 5m\n");
	const char *want[] = {
		"\nlog-max = 20M\n", "\nmemory-interval = 500ms\n", "\nmax-jobs = 3\n",
		"\nexec = '/bin/my prog' -x\n", "\ncwd = '/tmp/some dir'\n",
		"\nenv = A=1\nenv = 'B_2=x y'\nenv = C=3\n", "\nstart = on-demand\n",
		"\nrestart = on-failure\n", "\nsuccess-codes = 0 3 TERM\n",
		"\nbackoff = 200ms..1m\n", "\nmax-crashes = 3/1m\n",
		"\nstop-signal = INT\n", "\nstop-timeout = 10s\n",
		"\nmemory-max = 1G\n", "\nmemory-warn = 70%\n",
		"\nhealth = tcp:127.0.0.1:80\n", "\nhealth-strikes = 5\n",
		"\nstart-timeout = none\n", "\nwatchdog = none\n",
		"\nlisten = tcp:127.0.0.1:8080\nlisten = unix:/tmp/x.sock\n",
		"\nlisten-mode = 0660\n", "\nbackend = tcp:127.0.0.1:9090\n",
		"\nwatch = '/tmp/some dir/a' '/tmp/some dir/b'\n",
		"\nwatch-ignore = '*.o' tmp\n", "\n; env-ignore: none\n",
		"\ntimeout = 1m30s\n", "\nevery = 5m\n", "\nmemory-max = none\n",
		"\n; cwd: the daemon's working directory\n", "\n; env: none\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(s, want[i]))
			fail_msg("no \"%s\" in:\n%s", want[i], s);
	free(s);
}

/* env takes KEY=VALUE words only, KEY letters, digits and _, not first a
 * digit; a bad word anywhere refuses the line. */
static void test_env_needs_key_value(void **state)
{
	(void)state;
	char *s = roundtrip("[service x]\nexec = a\nenv = _A1=x b=\n");
	assert_non_null(strstr(s, "\nenv = _A1=x\nenv = b=\n"));
	free(s);
	assert_refused("[service x]\nexec = a\nenv = A=1 1A=b\n",
	               "env = A=1 1A=b: \"1A=b\" is not KEY=VALUE; quote and "
	               "escape as in a shell");
	assert_refused("[service x]\nexec = a\nenv = A-B=c\n",
	               "env = A-B=c: \"A-B=c\" is not KEY=VALUE; quote and "
	               "escape as in a shell");
	assert_refused("[service x]\nexec = a\nenv = =x\n",
	               "env = =x: \"=x\" is not KEY=VALUE; quote and escape as "
	               "in a shell");
	assert_refused("[service x]\nexec = a\nenv = NOVALUE\n",
	               "env = NOVALUE: \"NOVALUE\" is not KEY=VALUE; quote and "
	               "escape as in a shell");
}

/* Lists add a line at a time (the first replaces the default); any other
 * key is set once. */
static void test_which_keys_repeat(void **state)
{
	(void)state;
	char *s = roundtrip("[service x]\nexec = a\nwatch-ignore = b\n"
	                    "watch-ignore = c\nwatch = d\nwatch = e\n");
	assert_non_null(strstr(s, "\nwatch-ignore = b c\n"));
	assert_non_null(strstr(s, "\nwatch = "));
	free(s);
	assert_refused("[service x]\nexec = a\nstop-signal = INT\n"
	               "stop-signal = TERM\n",
	               "key \"stop-signal\" is set twice (first at line 3); "
	               "keep one");
	assert_refused("[service x]\nexec = a\nexec = b\n",
	               "key \"exec\" is set twice (first at line 2); keep one");
}

/* Only values split like a shell's get the advice on quoting, and only
 * when the reason has none of its own; each type says what it expects. */
static void test_errors_of_each_type(void **state)
{
	(void)state;
	assert_refused("[service x]\nexec = \"abc\n",
	               "exec = \"abc: unterminated double quote; quote and "
	               "escape as in a shell");
	assert_refused("[service x]\nexec =\n",
	               "exec = : the command is empty; quote and escape as in a "
	               "shell");
	assert_refused("[service x]\nexec = a\ncwd = /a b\n",
	               "cwd = /a b: expected one word, got 2; quote or escape "
	               "the blanks");
	assert_refused("[service x]\nexec = a\nhealth-interval = 0\n",
	               "health-interval = 0: must be at least 10ms (a period of "
	               "0 would spin)");
	assert_refused("[service x]\nexec = a\nsuccess-codes = 300\n",
	               "success-codes = 300: \"300\" is neither an exit code "
	               "0..255 nor a signal name");
	assert_refused("[service x]\nexec = a\nstart = later\n",
	               "start = later: expected boot | on-demand");
	char *err = load_error("[service x]\nexec = a\nstop-signal = NOPE\n");
	assert_non_null(strstr(err, "stop-signal = NOPE: expected a signal"));
	assert_null(strstr(err, "quote and escape"));
	free(err);
	err = load_error("[service x]\nexec = a\nlisten = nowhere\n");
	assert_non_null(strstr(err, "listen = nowhere: "));
	assert_null(strstr(err, "quote and escape"));
	free(err);
	/* a relay to itself: every client would loop back into tend */
	assert_refused("[service x]\nexec = a\nlisten = tcp:127.0.0.1:8080\n"
	               "listen = tcp:127.0.0.1:8081\nbackend = tcp:127.0.0.1:8081\n",
	               "[service x]: backend = tcp:127.0.0.1:8081 is its own "
	               "listen address: every client would be relayed back to "
	               "tend; give the port the service itself listens on");
}

/* The lines of MSG ('\n' between them); N set to how many. */
static char **lines_of(const char *msg, size_t *n)
{
	char *copy = strdup(msg);
	assert_non_null(copy);
	char **v = calloc(strlen(msg) + 2, sizeof(*v));
	assert_non_null(v);
	*n = 0;
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		v[(*n)++] = strdup(l);
	free(copy);
	return v;
}

static void lines_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Line I of ERR starts with "PATH:LINE: " and holds WANT. */
static void assert_line(char **v, size_t i, int line, const char *want)
{
	char *at = NULL;
	assert_true(asprintf(&at, "%s:%d: ", path, line) > 0);
	if (strncmp(v[i], at, strlen(at)) != 0 || !strstr(v[i], want))
		fail_msg("line %zu: \"%s\", want %s...%s", i, v[i], at, want);
	free(at);
}

/* Every error of the file, in the order of its lines, whatever found it:
 * the reader (a line without '='), a key, a unit's checks (at its header,
 * found last), a refused section (whose keys are still read). */
/* after: defaults by the kind of the unit named, the words kept as
 * NAME:CONDITION; a cycle named whole, at the line of its first unit's
 * after; a cycle of one longer path found from any start. */
static void test_after(void **state)
{
	(void)state;
	struct tend_config *cfg = load(
		"[service db]\nexec = /bin/true\nhealth = tcp:127.0.0.1:1\n"
		"[job j]\nexec = /bin/true\nafter = db:healthy\n"
		"[service api]\nexec = /bin/true\nafter = db j\nafter = j:started\n");
	const struct unit_config *api = cfg->units[2];
	assert_int_equal(api->after.n, 3);
	assert_string_equal(api->after.v[0], "db:ready");
	assert_string_equal(api->after.v[1], "j:completed");
	assert_string_equal(api->after.v[2], "j:started");
	char name[96];
	assert_int_equal(config_after_split(api->after.v[1], name, sizeof(name)),
	                 AFTER_COMPLETED);
	assert_string_equal(name, "j");
	assert_string_equal(cfg->units[1]->after.v[0], "db:healthy");
	config_free(cfg);
	assert_refused("[service x]\nexec = /bin/true\n"
	               "[service a]\nexec = /bin/true\nafter = b\n"
	               "[service b]\nexec = /bin/true\nafter = c x\n"
	               "[service c]\nexec = /bin/true\nafter = a:started\n",
	               "after: a cycle: a -> b -> c -> a (each waits for the "
	               "next); remove one of these from an after line");
	assert_refused("[service a]\nexec = /bin/true\nafter = b\n"
	               "[service b]\nexec = /bin/true\nafter = b\n",
	               "after: [service b] cannot wait for itself; remove \"b\"");
}

static void test_every_error_in_one_pass(void **state)
{
	(void)state;
	char *err = load_error(
		"[service a]\n"                  /* no exec, but an error: not checked */
		"restart = sometimes\n"          /* 2 */
		"\n"
		"[service b]\n"
		"exec = /bin/true\n"
		"memory_max = 1G\n"              /* 6 */
		"nonsense\n"                     /* 7 */
		"[frobs]\n"                      /* 8 */
		"anything = goes\n"              /* not read: no such section */
		"[service b]\n"                  /* 10: duplicate; keys still read */
		"exce = x\n"                     /* 11 */
		"[service c]\n"                  /* fine */
		"exec = /bin/true\n");
	size_t n;
	char **v = lines_of(err, &n);
	assert_int_equal(n, 6);
	assert_line(v, 0, 2, "restart = sometimes: expected");
	assert_line(v, 1, 6, "unknown key \"memory_max\" in [service b]; did you "
	            "mean memory-max?");
	assert_line(v, 2, 7, "\"nonsense\" has no '='");
	assert_line(v, 3, 8, "unknown section [frobs]");
	assert_line(v, 4, 10, "duplicate name \"b\"");
	assert_line(v, 5, 11, "unknown key \"exce\" in [service b]; did you mean "
	            "exec?");
	lines_free(v, n);
	free(err);

	/* a unit with no error of its own is still checked */
	err = load_error("[service a]\nnope = 1\nexec = x\n[service b]\n"
	                 "restart = always\n");
	v = lines_of(err, &n);
	assert_int_equal(n, 2);
	assert_line(v, 0, 2, "unknown key \"nope\"");
	assert_line(v, 1, 4, "[service b] has no exec");
	lines_free(v, n);
	free(err);
}

/* A unit with an error is not checked further: a bad exec line is not
 * also a missing exec. */
static void test_no_cascade(void **state)
{
	(void)state;
	char *err = load_error("[service x]\nexec = \"abc\n");
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "unterminated double quote"));
	free(err);
	err = load_error("[service x]\nexec /bin/true\n");
	assert_null(strchr(err, '\n'));
	free(err);
}

/* At most CONFIG_MAX_ERRORS lines, those of the first lines of the file,
 * then one that counts the others. */
static void test_errors_bounded(void **state)
{
	(void)state;
	char text[2048] = "[service x]\n";
	for (int i = 0; i < CONFIG_MAX_ERRORS + 5; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "bad%d = 1\n", i);
	char *err = load_error(text);   /* and no exec: at line 1, first */
	size_t n;
	char **v = lines_of(err, &n);
	assert_int_equal(n, CONFIG_MAX_ERRORS + 1);
	assert_line(v, 0, 2, "unknown key \"bad0\"");
	assert_line(v, CONFIG_MAX_ERRORS - 1, CONFIG_MAX_ERRORS + 1,
	            "unknown key \"bad19\"");
	char *last = NULL;
	assert_true(asprintf(&last, "%s: and 5 more errors", path) > 0);
	assert_string_equal(v[CONFIG_MAX_ERRORS], last);
	free(last);
	lines_free(v, n);
	free(err);
}

/* "did you mean" for keys, sections and values; nothing when nothing is
 * near. */
static void test_did_you_mean(void **state)
{
	(void)state;
	const char *svc = "[service x]\nexec = a\n";
	struct { const char *line, *want; } cases[] = {
		{ "memory_max = 1G\n", "unknown key \"memory_max\" in [service x]; "
		  "did you mean memory-max?" },
		{ "memorymax = 1G\n", "unknown key \"memorymax\" in [service x]; "
		  "did you mean memory-max?" },
		{ "restrat = always\n", "unknown key \"restrat\" in [service x]; "
		  "did you mean restart?" },
		{ "restart = on-failur\n", "restart = on-failur: expected on-failure "
		  "| always | never; did you mean on-failure?" },
		{ "stdio = MCP\n", "stdio = MCP: expected none | exclusive | "
		  "per-client | mcp; did you mean mcp?" },
		{ "frobnicate = 1\n", "unknown key \"frobnicate\" in [service x]; "
		  "docs/config.md lists the keys" },
		{ "restart = sometimes\n", "restart = sometimes: expected on-failure "
		  "| always | never" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = NULL;
		assert_true(asprintf(&text, "%s%s", svc, cases[i].line) > 0);
		assert_refused(text, cases[i].want);
		free(text);
	}
	assert_refused("[tend]\nlog_max = 1M\n",
	               "unknown key \"log_max\" in [tend]; did you mean log-max?");
	/* a key of another section is still the nearest */
	assert_refused("[tend]\nexce = 1\n",
	               "unknown key \"exce\" in [tend]; did you mean exec?");
	assert_refused("[sevice web]\nexec = a\n",
	               "unknown section [sevice web]; did you mean [service web]?");
	assert_refused("[jobs j]\nexec = a\n",
	               "unknown section [jobs j]; did you mean [job j]?");
	assert_refused("[tnd]\n", "unknown section [tnd]; did you mean [tend]?");
	assert_refused("[frobs]\n", "unknown section [frobs]; use [tend], "
	               "[service NAME] or [job NAME]");
}

/* supervisord's and systemd's files: every line that has a tend
 * equivalent says what to write. */
static void test_other_supervisors(void **state)
{
	(void)state;
	char *err = load_error(
		"[program:web]\n"
		"command = /usr/bin/web --port 80\n"
		"autorestart = true\n"
		"startsecs = 5\n"
		"directory = /srv\n"
		"environment = A=\"1\",B=\"2\"\n"
		"[Service]\n"
		"ExecStart = /usr/bin/web\n"
		"Restart = always\n"
		"RestartSec = 5\n"
		"MemoryMax = 1G\n"
		"WorkingDirectory = /srv\n"
		"Environment = A=1\n"
		"EnvironmentFile = /etc/web.env\n");
	size_t n;
	char **v = lines_of(err, &n);
	assert_int_equal(n, 14);
	assert_line(v, 0, 1, "unknown section [program:web]; supervisord's "
	            "[program:web]: write [service web]");
	assert_line(v, 1, 2, "unknown key \"command\" in [program:web]; "
	            "supervisord's command: write exec = COMMAND");
	assert_line(v, 2, 3, "supervisord's autorestart: write restart = always");
	assert_line(v, 3, 4, "supervisord's startsecs: write stable-after =");
	assert_line(v, 4, 5, "supervisord's directory: write cwd = DIR");
	assert_line(v, 5, 6, "supervisord's environment: write env = KEY=VALUE");
	assert_line(v, 6, 7, "unknown section [Service]; systemd's [Service]: "
	            "write [service NAME]");
	assert_line(v, 7, 8, "unknown key \"ExecStart\" in [Service]; systemd's "
	            "ExecStart=: write exec = COMMAND");
	assert_line(v, 8, 9, "systemd's Restart=: write restart =");
	assert_line(v, 9, 10, "systemd's RestartSec=: write backoff = MIN..MAX");
	assert_line(v, 10, 11, "systemd's MemoryMax=: write memory-max = SIZE");
	assert_line(v, 11, 12, "systemd's WorkingDirectory=: write cwd = DIR");
	assert_line(v, 12, 13, "systemd's Environment=: write env = KEY=VALUE");
	assert_line(v, 13, 14, "systemd's EnvironmentFile=: write env-file = PATH");
	lines_free(v, n);
	free(err);
	/* spelled loosely, when no key of tend's is near */
	assert_refused("[service x]\nexec = a\nexec_start = b\n",
	               "unknown key \"exec_start\" in [service x]; systemd's "
	               "ExecStart=: write exec = COMMAND (split like a shell, "
	               "never run by one)");
	assert_refused("[service x]\nexec = a\nrestart_delay = 1s\n",
	               "unknown key \"restart_delay\" in [service x]; pm2's "
	               "restart_delay: write backoff = MIN..MAX (the delay "
	               "doubles from MIN up to MAX)");
}

/* Every hint names a key of tend's (for a unit), and no hint is spelled
 * like one (it would never be reached). */
static void test_hints_name_tend_keys(void **state)
{
	(void)state;
	size_t n = 0;
	for (const struct suggest_hint *h = suggest_key_hints; h->name; h++, n++) {
		if (h->key && !config_is_key(h->key, KIND_SERVICE) &&
		    !config_is_key(h->key, KIND_JOB))
			fail_msg("%s's %s: %s is no key", h->origin, h->name, h->key);
		if (config_is_key(h->name, KIND_SERVICE) ||
		    config_is_key(h->name, KIND_JOB))
			fail_msg("%s is a key of tend's", h->name);
	}
	assert_true(n >= 30);
}

static const struct unit_config *only_unit(const struct tend_config *cfg)
{
	assert_int_equal(cfg->nunits, 1);
	return cfg->units[0];
}

/* "A=1|B=2": U's environment, in order. */
static void assert_env(const struct unit_config *u, const char *want)
{
	char got[1024] = "";
	for (size_t i = 0; i < u->env.n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
		         i ? "|" : "", u->env.v[i]);
	if (strcmp(got, want) != 0)
		fail_msg("env %s, want %s", got, want);
}

/* env-file: files relative to the file's directory, later files win, env
 * wins over every file whatever the order of the lines, ${VAR} of exec
 * sees the files, -PATH may be missing; check prints it and loads back. */
static void test_env_file(void **state)
{
	(void)state;
	write_named("one.env", "# first\nexport A=1\nB='b one'\nC=\"c\\n${A}\"\n");
	write_named("two.env", "B=b two # later wins\nD=${B}-${E:-none}\n");
	struct tend_config *cfg = load(
		"[service x]\n"
		"env = C=from-env\n"
		"env-file = one.env -missing.env\n"
		"env-file = two.env\n"
		"exec = /bin/echo ${A} ${B}\n"
		"env = E=late\n");
	const struct unit_config *u = only_unit(cfg);
	assert_env(u, "A=1|B=b two|D=b two-none|C=from-env|E=late");
	assert_int_equal(u->argv.n, 3);
	assert_string_equal(u->argv.v[1], "1");
	assert_string_equal(u->argv.v[2], "b two");
	config_free(cfg);

	char *s = roundtrip("[service x]\nexec = a\nenv-file = one.env\n");
	char *want = NULL;
	assert_true(asprintf(&want, "\nenv-file = %s/one.env\n", dir) > 0);
	assert_non_null(strstr(s, want));
	assert_non_null(strstr(s, "\n; env-file gives: A B C\n"));
	assert_null(strstr(s, "b one"));   /* names only: values stay in the file */
	free(want);
	free(s);

	/* an env-file's ${VAR} sees env set above it */
	write_named("three.env", "F=${G}x\n");
	cfg = load("[service x]\nexec = a\nenv = G=g\nenv-file = three.env\n");
	assert_env(only_unit(cfg), "F=gx|G=g");
	config_free(cfg);
	remove_named("one.env");
	remove_named("two.env");
	remove_named("three.env");
}

static void test_env_file_errors(void **state)
{
	(void)state;
	char *want = NULL;
	assert_true(asprintf(&want, "env-file = nope.env: %s/nope.env: No such "
	                     "file or directory; create it, or write -PATH for "
	                     "a file that may be missing", dir) > 0);
	assert_refused("[service x]\nexec = a\nenv-file = nope.env\n", want);
	free(want);
	assert_refused("[service x]\nexec = a\nenv-file = -\n",
	               "env-file = -: an empty path; write env-file = PATH, or "
	               "-PATH for a file that may be missing");
	/* a line of the .env file: that file and line first, then the line
	 * of tend.ini that named it */
	write_named("bad.env", "A=1\nB=\"open\n");
	char *err = load_error("[service x]\nexec = a\n\nenv-file = bad.env\n");
	assert_true(asprintf(&want, "%s/bad.env:2: unterminated double quote in "
	                     "\"B=\"open\"; close it with \" (read for env-file = "
	                     "bad.env at %s:4)", dir, path) > 0);
	assert_string_equal(err, want);
	free(want);
	free(err);
	remove_named("bad.env");
	/* not a key of [tend] */
	assert_refused("[tend]\nenv-file = x\n", "key \"env-file\" does not apply "
	               "to [tend]; move it to a [service NAME] or [job NAME] "
	               "section");
}

/* A changed .env file is a changed unit (what a reload compares); the
 * same content is the same unit. */
static void test_env_file_change_is_a_change(void **state)
{
	(void)state;
	const char *ini = "[service x]\nexec = a\nenv-file = v.env\n";
	write_named("v.env", "V=1\n");
	struct tend_config *a = load(ini);
	struct tend_config *b = load(ini);
	assert_true(config_unit_equal(a->units[0], b->units[0]));
	write_named("v.env", "V=2\n");
	struct tend_config *c = load(ini);
	assert_false(config_unit_equal(a->units[0], c->units[0]));
	assert_env(c->units[0], "V=2");
	config_free(a);
	config_free(b);
	config_free(c);
	remove_named("v.env");
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/tend.ini", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emptied_list_prints_empty),
		cmocka_unit_test(test_every_value_type_prints_what_it_read),
		cmocka_unit_test(test_env_needs_key_value),
		cmocka_unit_test(test_which_keys_repeat),
		cmocka_unit_test(test_errors_of_each_type),
		cmocka_unit_test(test_every_error_in_one_pass),
		cmocka_unit_test(test_after),
		cmocka_unit_test(test_no_cascade),
		cmocka_unit_test(test_errors_bounded),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_other_supervisors),
		cmocka_unit_test(test_hints_name_tend_keys),
		cmocka_unit_test(test_env_file),
		cmocka_unit_test(test_env_file_errors),
		cmocka_unit_test(test_env_file_change_is_a_change),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
