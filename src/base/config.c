#include "config.h"
#include "addr.h"
#include "dotenv.h"
#include "ini.h"
#include "parse.h"
#include "paths.h"
#include "probe_spec.h"
#include "suggest.h"
#include "words.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the key table --- */

enum scope { SC_GLOBAL = 1, SC_SERVICE = 2, SC_JOB = 4, SC_UNIT = 6 };

enum vtype {
	V_ARGV, V_PATH, V_ENV, V_ENUM, V_CODES, V_RANGE, V_RATE,
	V_DURATION, V_OPT_DURATION, V_SIZE, V_OPT_SIZE, V_SIGNAL, V_PERCENT,
	V_UINT, V_PROBE, V_ADDRS, V_OPT_ADDR, V_WORDS, V_PATHS, V_MODE, V_ENV_FILE,
	V_AUTH, V_NTYPES
};

struct key_def {
	const char *name;
	unsigned scope;
	enum vtype type;
	size_t off;
	const char *def;       /* default, in the file's own syntax; NULL: none */
	const char *const *names;  /* V_ENUM: values in enum order */
	unsigned lo, hi;       /* V_UINT bounds; V_DURATION: lo is the least ms */
	bool enforced;         /* acted on by this version */
	bool daemon_only;      /* about clients: no tend exec --KEY */
	bool connect_only;     /* a flag of tend connect -- CMD, not a file's key */
	const char *help;
};

static const char *const start_names[] = { "boot", "on-demand", NULL };
static const char *const ready_names[] = { "none", "notify", "health", "socket", NULL };
static const char *const stdio_names[] = { "none", "exclusive", "per-client", "mcp", NULL };
static const char *const share_names[] = { "all", "roots", "none", NULL };
static const char *const change_names[] = { "restart", NULL };
static const char *const restart_names[] = { "on-failure", "always", "never", NULL };
static const char *const pidns_names[] = { "no", "yes", NULL };
static const char *const yesno_names[] = { "no", "yes", NULL };

#define U(f) offsetof(struct unit_config, f)
#define G(f) offsetof(struct tend_config, f)

static const struct key_def keys[] = {
	{ "log-max", SC_GLOBAL, V_SIZE, G(log_max), "10M", .lo = 0, .enforced = false,
	  .help = "log size per unit before rotation" },
	{ "memory-interval", SC_GLOBAL, V_DURATION, G(memory_interval_ms), "2s", .lo = 10,
	  .enforced = true, .help = "memory sampling period" },
	{ "max-jobs", SC_GLOBAL, V_UINT, G(max_jobs), NULL, .lo = 1, .hi = 4096,
	  .enforced = true, .help = "job runs at once (default: number of CPUs)" },
	{ "pid-namespace", SC_GLOBAL, V_ENUM, G(pid_namespace), "no", pidns_names,
	  .enforced = true, .help = "no | yes: every run in a pid namespace of the "
	  "daemon's, which dies with its last process" },

	{ "exec", SC_UNIT, V_ARGV, U(argv), NULL, .enforced = true,
	  .help = "command line, split like a shell, never run by one" },
	{ "cwd", SC_UNIT, V_PATH, U(cwd), NULL, .enforced = true,
	  .help = "working directory" },
	{ "env", SC_UNIT, V_ENV, U(env_keys), NULL, .enforced = true,
	  .help = "KEY=VALUE added to the environment (repeatable)" },
	{ "env-file", SC_UNIT, V_ENV_FILE, U(env_files), NULL, .enforced = true,
	  .help = "dotenv files of KEY=VALUE lines (-PATH: optional; repeatable)" },
	{ "start", SC_SERVICE, V_ENUM, U(start), "boot", start_names, .enforced = true,
	  .help = "boot | on-demand" },
	{ "restart", SC_SERVICE, V_ENUM, U(policy.restart), "on-failure",
	  restart_names, .enforced = true, .help = "always | on-failure | never" },
	{ "success-codes", SC_UNIT, V_CODES, U(success), "0", .enforced = true,
	  .help = "exit codes (and signal names) that count as clean" },
	{ "backoff", SC_SERVICE, V_RANGE, U(policy.backoff_min_ms), "100ms..30s",
	  .enforced = true, .help = "MIN..MAX restart delay, exponential with jitter" },
	{ "max-crashes", SC_SERVICE, V_RATE, U(policy.max_crashes), "5/5m",
	  .enforced = true, .help = "N/WINDOW: more crashes than N inside WINDOW: failed" },
	{ "stable-after", SC_SERVICE, V_DURATION, U(policy.stable_after_ms), "1m",
	  .enforced = true, .help = "uptime after which old crashes are forgotten" },
	{ "clean-restarts", SC_SERVICE, V_RATE, U(policy.clean_restarts), "10/1m",
	  .enforced = true, .help = "N/WINDOW: more clean exits: warn and back off" },
	{ "stop-signal", SC_UNIT, V_SIGNAL, U(stop_signal), "TERM", .enforced = true,
	  .help = "graceful stop signal, sent to the whole tree" },
	{ "stop-timeout", SC_UNIT, V_DURATION, U(stop_timeout_ms), "10s",
	  .enforced = true, .help = "then SIGKILL to the whole tree" },
	{ "memory-max", SC_UNIT, V_OPT_SIZE, U(memory_max), "none",
	  .enforced = true, .help = "limit on anon+shmem memory of the whole tree" },
	{ "memory-warn", SC_UNIT, V_PERCENT, U(memory_warn_pct), "80%",
	  .enforced = true, .help = "warn at this fraction of memory-max" },
	{ "health", SC_SERVICE, V_PROBE, U(health), "none",
	  .enforced = true, .help = "exec:CMD | tcp:HOST:PORT | unix:PATH | http://HOST:PORT/PATH" },
	{ "health-interval", SC_SERVICE, V_DURATION, U(health_interval_ms), "10s", .lo = 10,
	  .enforced = true, .help = "probe period" },
	{ "health-timeout", SC_SERVICE, V_DURATION, U(health_timeout_ms), "5s", .lo = 1,
	  .enforced = true, .help = "per-probe timeout" },
	{ "health-strikes", SC_SERVICE, V_UINT, U(health_strikes), "3", .lo = 1,
	  .hi = 1000, .enforced = true, .help = "consecutive failures before a restart" },
	{ "health-grace", SC_SERVICE, V_DURATION, U(health_grace_ms), "30s",
	  .enforced = true, .help = "no checks this long after the service is ready" },
	{ "ready", SC_SERVICE, V_ENUM, U(ready), "none", ready_names,
	  .enforced = true, .help = "none | notify | health | socket" },
	{ "start-timeout", SC_SERVICE, V_OPT_DURATION, U(start_timeout_ms), "1m",
	  .enforced = true, .help = "time to become ready before a restart (none: no limit)" },
	{ "watchdog", SC_SERVICE, V_OPT_DURATION, U(watchdog_ms), "none",
	  .enforced = true, .help = "sd_notify WATCHDOG=1 at least this often" },
	{ "listen", SC_SERVICE, V_ADDRS, U(listen), NULL, .enforced = true,
	  .daemon_only = true,
	  .help = "tcp:HOST:PORT | unix:PATH bound by tend; http:HOST:PORT[/PATH] | "
	  "http:unix:PATH: MCP over HTTP served by tend (repeatable)" },
	{ "listen-mode", SC_SERVICE, V_MODE, U(listen_mode), "0600", .enforced = true,
	  .daemon_only = true, .help = "permissions of unix: listen sockets" },
	{ "backend", SC_SERVICE, V_OPT_ADDR, U(backend), "none", .enforced = true,
	  .daemon_only = true,
	  .help = "the service's own address; tend proxies listen to it" },
	{ "stdio", SC_SERVICE, V_ENUM, U(stdio), "none", stdio_names,
	  .enforced = true, .daemon_only = true,
	  .help = "none | exclusive | per-client | mcp (tend connect)" },
	{ "max-instances", SC_SERVICE, V_UINT, U(max_instances), "8", .lo = 1,
	  .hi = 10000, .enforced = true, .daemon_only = true,
	  .help = "cap for stdio = per-client, and for mcp's instances" },
	{ "share", SC_SERVICE, V_ENUM, U(share), "roots", share_names,
	  .enforced = true, .daemon_only = true,
	  .help = "stdio = mcp: what clients have in common to share an instance: all | roots | none" },
	{ "auth", SC_SERVICE, V_AUTH, U(auth_file), "none", .enforced = true,
	  .daemon_only = true,
	  .help = "none | token-file:PATH: bearer token an http: listen asks for" },
	{ "http-origins", SC_SERVICE, V_WORDS, U(http_origins), NULL, .enforced = true,
	  .daemon_only = true,
	  .help = "Origin values an http: listen accepts besides localhost's (repeatable)" },
	{ "http-remote", SC_SERVICE, V_ENUM, U(http_remote), "no", yesno_names,
	  .enforced = true, .daemon_only = true,
	  .help = "no | yes: an http: listen may bind an address that is not loopback" },
	{ "http-body-max", SC_SERVICE, V_SIZE, U(http_body_max), "4M", .lo = 1024,
	  .enforced = true, .daemon_only = true,
	  .help = "largest HTTP request body (413 beyond)" },
	{ "http-sessions-max", SC_SERVICE, V_UINT, U(http_sessions_max), "100", .lo = 1,
	  .hi = 100000, .enforced = true, .daemon_only = true,
	  .help = "MCP sessions at once over HTTP (503 beyond)" },
	{ "http-streams-max", SC_SERVICE, V_UINT, U(http_streams_max), "32", .lo = 1,
	  .hi = 10000, .enforced = true, .daemon_only = true,
	  .help = "open SSE streams of one HTTP session (429 beyond)" },
	{ "http-session-idle", SC_SERVICE, V_DURATION, U(http_session_idle_ms), "1h",
	  .lo = 1000, .enforced = true, .daemon_only = true,
	  .help = "an HTTP session without a request this long ends (then 404)" },
	{ "http-timeout", SC_SERVICE, V_DURATION, U(http_timeout_ms), "30s",
	  .lo = 1000, .enforced = true, .daemon_only = true,
	  .help = "an HTTP client silent this long while it sends is cut" },
	{ "queue-timeout", SC_SERVICE, V_DURATION, U(queue_timeout_ms), "30s",
	  .enforced = true, .daemon_only = true,
	  .help = "how long tend connect waits for its turn or a free instance" },
	{ "idle-stop", SC_SERVICE, V_OPT_DURATION, U(idle_stop_ms), "none",
	  .enforced = true, .daemon_only = true,
	  .help = "stop after this long without client traffic" },
	{ "env-ignore", SC_SERVICE, V_WORDS, U(env_ignore), NULL, .enforced = true,
	  .daemon_only = true, .connect_only = true,
	  .help = "tend connect -- CMD: variables (globs) that do not decide sharing" },
	{ "env-require", SC_SERVICE, V_WORDS, U(env_require), NULL, .enforced = true,
	  .daemon_only = true, .connect_only = true,
	  .help = "tend connect -- CMD: only these variables (globs) decide sharing" },
	{ "watch", SC_UNIT, V_PATHS, U(watch), NULL,
	  .enforced = true, .help = "paths whose changes trigger (repeatable)" },
	{ "watch-ignore", SC_UNIT, V_WORDS, U(watch_ignore), ".git",
	  .enforced = true, .help = "glob patterns not to watch" },
	{ "debounce", SC_UNIT, V_DURATION, U(debounce_ms), "300ms",
	  .enforced = true, .help = "quiet period before a watch triggers" },
	{ "on-change", SC_SERVICE, V_ENUM, U(on_change), "restart", change_names,
	  .enforced = true, .help = "what a watch does to a service: restart" },
	{ "after", SC_UNIT, V_WORDS, U(after), NULL, .enforced = true,
	  .help = "NAME[:started|ready|healthy|completed] started first, "
	  "stopped after (repeatable)" },
	{ "timeout", SC_JOB, V_OPT_DURATION, U(timeout_ms), "none",
	  .enforced = true, .help = "a longer run is stopped" },
	{ "every", SC_JOB, V_OPT_DURATION, U(every_ms), "none",
	  .enforced = true, .help = "run on this interval" },
	{ "max-failures", SC_JOB, V_UINT, U(max_failures), "3", .lo = 1, .hi = 1000,
	  .enforced = true, .help = "consecutive failures before cooldown" },
	{ "cooldown", SC_JOB, V_DURATION, U(cooldown_ms), "1m",
	  .enforced = true, .help = "no runs this long after max-failures" },
};

_Static_assert(ARRAY_LEN(keys) <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

static const struct key_def *key_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

const char *share_kind_name(enum share_kind k)
{
	return share_names[k];
}

const char *unit_kind_name(enum unit_kind k)
{
	return k == KIND_JOB ? "job" : "service";
}

/* --- values --- */

static const char *strv_lookup(const struct strv *sv, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = sv->n; i-- > 0; )
		if (strncmp(sv->v[i], name, len) == 0 && sv->v[i][len] == '=')
			return sv->v[i] + len + 1;
	return NULL;
}

/* ${VAR} in exec and paths sees the unit's env first, then tend's (a
 * unit of tend connect -- CMD: its client's). */
static const char *unit_lookup(void *ctx, const char *name)
{
	const struct unit_config *u = ctx;
	const char *v = u ? strv_lookup(&u->env, name) : NULL;
	if (v || (u && u->connect_key))
		return v ? v : strv_lookup(&u->client_env, name);
	return getenv(name);
}

int config_probe(const struct unit_config *u, const char *text,
                 struct probe_spec *spec, char **why)
{
	struct words_env we = { .lookup = unit_lookup, .ctx = (void *)u };
	return probe_parse(text, &we, spec, why);
}

static int split_words(struct unit_config *u, const char *v, struct strv *out,
                       char **why)
{
	struct words_env we = { .lookup = unit_lookup, .ctx = u };
	char **argv;
	size_t argc;
	if (words_split(v, &we, &argv, &argc, why) < 0)
		return -1;
	for (size_t i = 0; i < argc; i++)
		strv_push(out, argv[i]);
	free(argv);
	return 0;
}

static int parse_codes(const char *v, struct success_codes *sc, char **why)
{
	*sc = (struct success_codes){ 0 };
	char *copy = xstrdup(v), *save = NULL;
	int n = 0;
	for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		unsigned code;
		int sig;
		const char *w;
		if (parse_uint(t, 0, 255, &code, &w) == 0)
			success_codes_add_code(sc, code);
		else if (!isdigit((unsigned char)t[0]) && parse_signal(t, &sig, &w) == 0)
			success_codes_add_signal(sc, sig);
		else {
			*why = xasprintf("\"%s\" is neither an exit code 0..255 nor a signal name", t);
			free(copy);
			return -1;
		}
		n++;
	}
	free(copy);
	if (!n) {
		*why = xstrdup("expected exit codes like 0 or \"0 3 TERM\"");
		return -1;
	}
	return 0;
}

static int parse_enum(const char *v, const char *const *names, int *out, char **why)
{
	for (int i = 0; names[i]; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	struct buf list = { 0 };
	for (int i = 0; names[i]; i++) {
		if (i)
			buf_adds(&list, " | ");
		buf_adds(&list, names[i]);
	}
	const char *near = suggest_near(v, names);
	if (near)
		*why = xasprintf("expected %s; did you mean %s?", list.s ? list.s : "",
		                 near);
	else
		*why = xasprintf("expected %s", list.s ? list.s : "");
	free(list.s);
	return -1;
}

static bool is_none(const char *v) { return strcmp(v, "none") == 0; }

/* One value being set: key K of unit U (NULL for [tend]) from TEXT. */
struct assign {
	const struct key_def *k;
	struct unit_config *u;
	const char *text;
	const char *dir;       /* base of relative paths; NULL: the current one */
};

/* A parser of parse.h returned R, having set *W to its reason if R < 0. */
static int parsed(int r, const char *const *w, char **why)
{
	if (r < 0)
		*why = xstrdup(*w);
	return r;
}

/* *F (a malloc'd string or NULL) becomes S. */
static void str_replace(void *f, char *s)
{
	free(*(char **)f);
	*(char **)f = s;
}

/* A KEY=VALUE of env: KEY is letters, digits and _, not first a digit. */
static bool env_assignment(const char *s)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s || isdigit((unsigned char)s[0]))
		return false;
	for (const char *c = s; c < eq; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return true;
}

static int set_argv(const struct assign *a, void *f, char **why)
{
	struct strv *sv = f;
	strv_free(sv);
	if (split_words(a->u, a->text, sv, why) < 0)
		return -1;
	if (sv->n == 0) {
		*why = xstrdup("the command is empty");
		return -1;
	}
	return 0;
}

static int set_path(const struct assign *a, void *f, char **why)
{
	struct words_env we = { .lookup = unit_lookup, .ctx = a->u };
	char *out;
	if (words_one(a->text, &we, &out, why) < 0)
		return -1;
	str_replace(f, out);
	return 0;
}

/* The length of the name of "KEY=VALUE". */
static size_t env_key_len(const char *kv)
{
	return strcspn(kv, "=");
}

/* Is the key of "KEY=VALUE" KV set in SV? */
static bool env_has(const struct strv *sv, const char *kv)
{
	size_t n = env_key_len(kv);
	for (size_t i = 0; i < sv->n; i++)
		if (env_key_len(sv->v[i]) == n && strncmp(sv->v[i], kv, n) == 0)
			return true;
	return false;
}

/* U's env again: the files' variables that no env word sets, then the
 * env words. */
static void env_merge(struct unit_config *u)
{
	strv_free(&u->env);
	for (size_t i = 0; i < u->env_file_vars.n; i++)
		if (!env_has(&u->env_keys, u->env_file_vars.v[i]))
			strv_push(&u->env, xstrdup(u->env_file_vars.v[i]));
	for (size_t i = 0; i < u->env_keys.n; i++)
		strv_push(&u->env, xstrdup(u->env_keys.v[i]));
}

/* Every word or none: a bad one leaves the list as it was. */
static int set_env(const struct assign *a, void *f, char **why)
{
	struct strv tmp = { 0 };
	if (split_words(a->u, a->text, &tmp, why) < 0)
		return -1;
	for (size_t i = 0; i < tmp.n; i++) {
		if (!env_assignment(tmp.v[i])) {
			*why = xasprintf("\"%s\" is not KEY=VALUE", tmp.v[i]);
			strv_free(&tmp);
			return -1;
		}
	}
	for (size_t i = 0; i < tmp.n; i++)
		strv_push(f, xstrdup(tmp.v[i]));
	strv_free(&tmp);
	if (a->u)
		env_merge(a->u);
	return 0;
}

/* ${VAR} in an env-file sees the file's own keys above it (dotenv.c), then
 * what the unit's env holds so far, then tend's environment. */
static const char *env_file_lookup(void *ctx, const char *name)
{
	return unit_lookup(ctx, name);
}

/* The largest env-file read. */
#define ENV_FILE_MAX (1 << 20)

/* PATH made absolute against DIR (NULL: the current directory). */
static char *absolute(const char *dir, const char *path)
{
	char cwd[4096];
	if (path[0] == '/')
		return xstrdup(path);
	if (!dir)
		dir = getcwd(cwd, sizeof(cwd)) ? cwd : "/";
	return xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", path);
}

/* Reads one env-file word W ("-PATH": optional) into U's variables, and
 * its absolute form into FILES.  Returns 0, -1 with *why (said about the
 * key), or -2 with *why a whole located message (a line of the file). */
static int read_env_file(const struct assign *a, const char *w,
                         struct strv *files, char **why)
{
	bool optional = w[0] == '-';
	const char *name = w + optional;
	if (!*name) {
		*why = xstrdup("an empty path; write env-file = PATH, or -PATH "
		               "for a file that may be missing");
		return -1;
	}
	char *path = absolute(a->dir, name);
	strv_push(files, xasprintf("%s%s", optional ? "-" : "", path));
	struct strv vars = { 0 };
	char *text = NULL, *err = NULL;
	int r = 0;
	struct stat sb;
	if (stat(path, &sb) == 0 && (!S_ISREG(sb.st_mode) ||
	                             sb.st_size > ENV_FILE_MAX)) {
		/* a FIFO or a device would hold the daemon, /dev/zero fill it */
		*why = xasprintf("%s: %s; name a dotenv file", path,
		                 S_ISREG(sb.st_mode) ? "larger than 1 MiB"
		                 : "not a regular file");
		r = -1;
	} else if (ini_read_file(path, &text, &err) < 0) {
		bool missing = errno == ENOENT;
		if (missing && optional) {
			free(err);
		} else {
			*why = xasprintf("%s; %s", err, missing ? "create it, or write "
			                 "-PATH for a file that may be missing"
			                 : "name a readable dotenv file");
			free(err);
			r = -1;
		}
	} else if (dotenv_parse(text, path, env_file_lookup, a->u, &vars, &err) < 0) {
		*why = err;
		r = -2;
	}
	free(text);
	for (size_t i = 0; i < vars.n && r == 0; i++) {
		struct strv *fv = &a->u->env_file_vars;
		size_t n = env_key_len(vars.v[i]);
		for (size_t k = 0; k < fv->n; k++) {
			if (env_key_len(fv->v[k]) == n &&
			    strncmp(fv->v[k], vars.v[i], n) == 0) {
				free(fv->v[k]);
				memmove(fv->v + k, fv->v + k + 1, (fv->n - k) * sizeof(*fv->v));
				fv->n--;
				break;
			}
		}
		strv_push(fv, xstrdup(vars.v[i]));
		env_merge(a->u);
	}
	strv_free(&vars);
	free(path);
	return r;
}

/* env-file = PATH ...: each file read now, in order (later ones win). */
static int set_env_file(const struct assign *a, void *f, char **why)
{
	struct strv words = { 0 };
	if (split_words(a->u, a->text, &words, why) < 0)
		return -1;
	int r = 0;
	for (size_t i = 0; i < words.n && r == 0; i++)
		r = read_env_file(a, words.v[i], f, why);
	strv_free(&words);
	return r;
}

static int set_words(const struct assign *a, void *f, char **why)
{
	return split_words(a->u, a->text, f, why);
}

static int set_enum(const struct assign *a, void *f, char **why)
{
	return parse_enum(a->text, a->k->names, f, why);
}

static int set_codes(const struct assign *a, void *f, char **why)
{
	return parse_codes(a->text, f, why);
}

static int set_range(const struct assign *a, void *f, char **why)
{
	uint64_t *mm = f;
	const char *w = NULL;
	return parsed(parse_range(a->text, &mm[0], &mm[1], &w), &w, why);
}

static int set_rate(const struct assign *a, void *f, char **why)
{
	struct rate *rt = f;
	const char *w = NULL;
	return parsed(parse_rate(a->text, &rt->n, &rt->window_ms, &w), &w, why);
}

/* A duration of at least the key's lo (a period of 0 would spin). */
static int set_duration(const struct assign *a, void *f, char **why)
{
	const char *w = NULL;
	if (parsed(parse_duration(a->text, f, &w), &w, why) < 0)
		return -1;
	if (*(uint64_t *)f < a->k->lo) {
		char b[32];
		*why = xasprintf("must be at least %s (a period of 0 would spin)",
		                 format_duration(a->k->lo, b));
		return -1;
	}
	return 0;
}

/* none is 0 */
static int set_opt_duration(const struct assign *a, void *f, char **why)
{
	if (!is_none(a->text))
		return set_duration(a, f, why);
	*(uint64_t *)f = 0;
	return 0;
}

static int set_size(const struct assign *a, void *f, char **why)
{
	const char *w = NULL;
	return parsed(parse_size(a->text, f, &w), &w, why);
}

/* none is 0 */
static int set_opt_size(const struct assign *a, void *f, char **why)
{
	if (!is_none(a->text))
		return set_size(a, f, why);
	*(uint64_t *)f = 0;
	return 0;
}

static int set_signal(const struct assign *a, void *f, char **why)
{
	const char *w = NULL;
	return parsed(parse_signal(a->text, f, &w), &w, why);
}

static int set_percent(const struct assign *a, void *f, char **why)
{
	const char *w = NULL;
	return parsed(parse_percent(a->text, f, &w), &w, why);
}

static int set_uint(const struct assign *a, void *f, char **why)
{
	const char *w = NULL;
	return parsed(parse_uint(a->text, a->k->lo, a->k->hi, f, &w), &w, why);
}

static int set_mode(const struct assign *a, void *f, char **why)
{
	const char *w = NULL;
	return parsed(parse_mode(a->text, f, &w), &w, why);
}

/* Kept as text (the probe is built when the unit starts), checked now;
 * none is NULL. */
static int set_probe(const struct assign *a, void *f, char **why)
{
	if (is_none(a->text)) {
		str_replace(f, NULL);
		return 0;
	}
	struct probe_spec spec;
	struct words_env we = { .lookup = unit_lookup, .ctx = a->u };
	if (probe_parse(a->text, &we, &spec, why) < 0)
		return -1;
	probe_spec_free(&spec);
	str_replace(f, xstrdup(a->text));
	return 0;
}

/* One address more, kept as text, checked now. */
static int set_addrs(const struct assign *a, void *f, char **why)
{
	struct addr addr;
	if (strncmp(a->text, "http:", 5) == 0 && a->u) {
		char path[256];
		if (addr_parse_http(a->text, &addr, path, sizeof(path), why) < 0)
			return -1;
		strv_push(&a->u->http, xstrdup(a->text));
		return 0;
	}
	if (addr_parse(a->text, &addr, why) < 0) {
		if (strncmp(a->text, "tcp:", 4) != 0 && strncmp(a->text, "unix:", 5) != 0) {
			free(*why);
			*why = xstrdup("expected tcp:HOST:PORT, unix:PATH, "
			               "http:HOST:PORT[/PATH] or http:unix:PATH");
		}
		return -1;
	}
	strv_push(f, xstrdup(a->text));
	return 0;
}

/* auth = none | token-file:PATH: the file is read now (a missing or empty
 * one is an error); the token is its first line. */
static int set_auth(const struct assign *a, void *f, char **why)
{
	char **file = f;
	struct unit_config *u = a->u;
	if (is_none(a->text)) {
		str_replace(file, NULL);
		free(u->auth_token);
		u->auth_token = NULL;
		return 0;
	}
	if (strncmp(a->text, "token-file:", 11) != 0 || !a->text[11]) {
		*why = xstrdup("expected none or token-file:PATH");
		return -1;
	}
	char *path = absolute(a->dir, a->text + 11);
	FILE *fp = fopen(path, "re");
	if (!fp) {
		*why = xasprintf("cannot read the token file %s: %s; write the "
		                 "token in it (one line)", path, strerror(errno));
		free(path);
		return -1;
	}
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0]) {
		*why = xasprintf("the token file %s is empty; write the token in it "
		                 "(one line)", path);
		free(path);
		return -1;
	}
	str_replace(file, path);
	free(u->auth_token);
	u->auth_token = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* An address as text, checked now; none is NULL. */
static int set_opt_addr(const struct assign *a, void *f, char **why)
{
	struct addr addr;
	if (is_none(a->text)) {
		str_replace(f, NULL);
		return 0;
	}
	if (addr_parse(a->text, &addr, why) < 0)
		return -1;
	str_replace(f, xstrdup(a->text));
	return 0;
}

/* --- formatting, for tend check --- */

static void print_value(FILE *out, const struct key_def *k, const char *text)
{
	fprintf(out, "%s = %s\n", k->name, text);
}

static void print_list(FILE *out, const struct key_def *k,
                       const struct strv *sv, bool as_one_line)
{
	const char *name = k->name;
	if (sv->n == 0) {
		/* emptied where the default is not: an empty value says so
		 * (watch-ignore =); a comment would load back as the default */
		if (k->def && *k->def)
			fprintf(out, "%s =\n", name);
		else
			fprintf(out, "; %s: none\n", name);
		return;
	}
	if (as_one_line) {
		char *j = words_join(sv->v);
		print_value(out, k, j);
		free(j);
		return;
	}
	for (size_t i = 0; i < sv->n; i++) {
		char *j = words_join((char *const[]){ sv->v[i], NULL });
		print_value(out, k, j);
		free(j);
	}
}

/* The words on one line: exec, watch, watch-ignore... */
static void print_joined(const struct key_def *k, const void *f, FILE *out)
{
	print_list(out, k, f, true);
}

/* A line per item: env, listen. */
static void print_each(const struct key_def *k, const void *f, FILE *out)
{
	print_list(out, k, f, false);
}

/* listen: the tcp: and unix: addresses, then the http: ones. */
static void print_listen(const struct key_def *k, const void *f, FILE *out)
{
	const struct unit_config *u = (const struct unit_config *)
		(const void *)((const char *)f - offsetof(struct unit_config, listen));
	if (u->listen.n || !u->http.n)
		print_list(out, k, f, false);
	if (u->http.n)
		print_list(out, k, &u->http, false);
}

/* auth: the file, never the token. */
static void print_auth(const struct key_def *k, const void *f, FILE *out)
{
	const char *path = *(char *const *)f;
	if (!path) {
		print_value(out, k, "none");
		return;
	}
	char *t = xasprintf("token-file:%s", path);
	print_value(out, k, t);
	free(t);
}

static void print_path(const struct key_def *k, const void *f, FILE *out)
{
	char *path = *(char *const *)f;
	if (!path) {
		fprintf(out, "; %s: the daemon's working directory\n", k->name);
		return;
	}
	char *j = words_join((char *const[]){ path, NULL });
	print_value(out, k, j);
	free(j);
}

static void print_enum(const struct key_def *k, const void *f, FILE *out)
{
	print_value(out, k, k->names[*(const int *)f]);
}

static void print_codes(const struct key_def *k, const void *f, FILE *out)
{
	const struct success_codes *sc = f;
	const char *sep = "";
	fprintf(out, "%s = ", k->name);
	for (unsigned c = 0; c < 256; c++)
		if (success_codes_has_code(sc, c)) {
			fprintf(out, "%s%u", sep, c);
			sep = " ";
		}
	for (int s = 1; s <= 64; s++)
		if (success_codes_has_signal(sc, s)) {
			fprintf(out, "%s%s", sep, signal_name(s));
			sep = " ";
		}
	fputc('\n', out);
}

static void print_range(const struct key_def *k, const void *f, FILE *out)
{
	const uint64_t *mm = f;
	char b1[32], b2[32];
	if (mm[0] == 0 && mm[1] == 0)
		print_value(out, k, "0");
	else
		fprintf(out, "%s = %s..%s\n", k->name, format_duration(mm[0], b1),
		        format_duration(mm[1], b2));
}

static void print_rate(const struct key_def *k, const void *f, FILE *out)
{
	const struct rate *rt = f;
	char b[32];
	fprintf(out, "%s = %u/%s\n", k->name, rt->n,
	        format_duration(rt->window_ms, b));
}

static void print_duration(const struct key_def *k, const void *f, FILE *out)
{
	char b[32];
	print_value(out, k, format_duration(*(const uint64_t *)f, b));
}

static void print_opt_duration(const struct key_def *k, const void *f, FILE *out)
{
	if (*(const uint64_t *)f == 0)
		print_value(out, k, "none");
	else
		print_duration(k, f, out);
}

static void print_size(const struct key_def *k, const void *f, FILE *out)
{
	char b[32];
	print_value(out, k, format_size(*(const uint64_t *)f, b));
}

static void print_opt_size(const struct key_def *k, const void *f, FILE *out)
{
	if (*(const uint64_t *)f == 0)
		print_value(out, k, "none");
	else
		print_size(k, f, out);
}

static void print_signal(const struct key_def *k, const void *f, FILE *out)
{
	print_value(out, k, signal_name(*(const int *)f));
}

static void print_percent(const struct key_def *k, const void *f, FILE *out)
{
	fprintf(out, "%s = %u%%\n", k->name, *(const unsigned *)f);
}

static void print_uint(const struct key_def *k, const void *f, FILE *out)
{
	fprintf(out, "%s = %u\n", k->name, *(const unsigned *)f);
}

static void print_mode(const struct key_def *k, const void *f, FILE *out)
{
	fprintf(out, "%s = %04o\n", k->name, *(const unsigned *)f);
}

/* Text kept as it was written (health, backend); NULL is none. */
static void print_opt_text(const struct key_def *k, const void *f, FILE *out)
{
	const char *s = *(char *const *)f;
	print_value(out, k, s ? s : "none");
}

/* --- the value types --- */

/* What a type of value is: how a line sets its field, how tend check
 * prints the field back (whole lines), whether each line of the key adds
 * to a list, whether its text is split into words like a shell's. */
static const struct vtype_def {
	int (*set)(const struct assign *a, void *field, char **why);
	void (*print)(const struct key_def *k, const void *field, FILE *out);
	bool repeatable;
	bool words;
} vtypes[] = {
	[V_ARGV]         = { set_argv, print_joined, false, true },
	[V_PATH]         = { set_path, print_path, false, true },
	[V_ENV]          = { set_env, print_each, true, true },
	[V_ENUM]         = { set_enum, print_enum, false, false },
	[V_CODES]        = { set_codes, print_codes, false, false },
	[V_RANGE]        = { set_range, print_range, false, false },
	[V_RATE]         = { set_rate, print_rate, false, false },
	[V_DURATION]     = { set_duration, print_duration, false, false },
	[V_OPT_DURATION] = { set_opt_duration, print_opt_duration, false, false },
	[V_SIZE]         = { set_size, print_size, false, false },
	[V_OPT_SIZE]     = { set_opt_size, print_opt_size, false, false },
	[V_SIGNAL]       = { set_signal, print_signal, false, false },
	[V_PERCENT]      = { set_percent, print_percent, false, false },
	[V_UINT]         = { set_uint, print_uint, false, false },
	[V_PROBE]        = { set_probe, print_opt_text, false, false },
	[V_ADDRS]        = { set_addrs, print_listen, true, false },
	[V_OPT_ADDR]     = { set_opt_addr, print_opt_text, false, false },
	[V_WORDS]        = { set_words, print_joined, true, true },
	[V_PATHS]        = { set_words, print_joined, true, true },
	[V_MODE]         = { set_mode, print_mode, false, false },
	[V_ENV_FILE]     = { set_env_file, print_joined, true, true },
	[V_AUTH]         = { set_auth, print_auth, false, false },
};
_Static_assert(ARRAY_LEN(vtypes) == V_NTYPES, "a value type without an entry");

/* Does each line of K add to a list (env, listen, watch...)? */
static bool key_repeatable(const struct key_def *k)
{
	return vtypes[k->type].repeatable;
}

/* Word-splitting errors get the advice the word syntax needs. */
static const char *words_hint(enum vtype t, const char *why)
{
	return vtypes[t].words && !strchr(why, ';')
	       ? "; quote and escape as in a shell" : "";
}

/* Parses TEXT into the field of K in BASE.  U is the unit (NULL for
 * [tend]), DIR the base of relative paths.  Returns 0, -1 with *WHY, or
 * -2 with *WHY a whole message with its own FILE:LINE (an env-file's). */
static int value_set(const struct key_def *k, void *base, struct unit_config *u,
                     const char *dir, const char *text, char **why)
{
	const struct assign a = { .k = k, .u = u, .text = text, .dir = dir };
	return vtypes[k->type].set(&a, (char *)base + k->off, why);
}

static void value_print(const struct key_def *k, const void *base, FILE *out)
{
	vtypes[k->type].print(k, (const char *)base + k->off, out);
}

/* --- units and files --- */

static unsigned unit_scope(const struct unit_config *u)
{
	return u->kind == KIND_JOB ? SC_JOB : SC_SERVICE;
}

static void apply_defaults(void *base, unsigned scope, struct unit_config *u)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		char *why = NULL;
		if (!(keys[i].scope & scope) || !keys[i].def)
			continue;
		if (value_set(&keys[i], base, u, NULL, keys[i].def, &why) < 0) {
			errline("internal: default of %s: %s", keys[i].name, why);
			abort();
		}
	}
}

/* A unit of KIND named NAME (section at LINE) with every default set. */
static struct unit_config *config_unit_new(const char *name, enum unit_kind kind,
                                           int line)
{
	struct unit_config *u = xcalloc(1, sizeof(*u));
	u->name = xstrdup(name);
	u->kind = kind;
	u->line = line;
	apply_defaults(u, unit_scope(u), u);
	return u;
}

const struct unit_config *config_unit_named(const struct tend_config *cfg,
                                            const char *name)
{
	for (size_t i = 0; i < cfg->nunits; i++)
		if (strcmp(cfg->units[i]->name, name) == 0)
			return cfg->units[i];
	return NULL;
}

void config_unit_free(struct unit_config *u)
{
	if (!u)
		return;
	strv_free(&u->argv);
	strv_free(&u->env);
	strv_free(&u->env_keys);
	strv_free(&u->env_files);
	strv_free(&u->env_file_vars);
	strv_free(&u->listen);
	strv_free(&u->http);
	strv_free(&u->http_origins);
	free(u->auth_file);
	if (u->auth_token)
		explicit_bzero(u->auth_token, strlen(u->auth_token));
	free(u->auth_token);
	strv_free(&u->watch);
	strv_free(&u->watch_ignore);
	strv_free(&u->env_ignore);
	strv_free(&u->env_require);
	strv_free(&u->client_env);
	strv_free(&u->after);
	free(u->connect_key);
	free(u->cwd);
	free(u->health);
	free(u->backend);
	free(u->name);
	free(u);
}

static void strv_copy(struct strv *dst, const struct strv *src)
{
	*dst = (struct strv){ 0 };
	for (size_t i = 0; i < src->n; i++)
		strv_push(dst, xstrdup(src->v[i]));
}

static char *opt_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct unit_config *config_unit_dup(const struct unit_config *u, const char *name)
{
	struct unit_config *c = xmalloc(sizeof(*c));
	*c = *u;
	c->name = xstrdup(name);
	c->cwd = opt_dup(u->cwd);
	c->health = opt_dup(u->health);
	c->backend = opt_dup(u->backend);
	c->connect_key = opt_dup(u->connect_key);
	strv_copy(&c->argv, &u->argv);
	strv_copy(&c->env, &u->env);
	strv_copy(&c->env_keys, &u->env_keys);
	strv_copy(&c->env_files, &u->env_files);
	strv_copy(&c->env_file_vars, &u->env_file_vars);
	strv_copy(&c->listen, &u->listen);
	strv_copy(&c->http, &u->http);
	strv_copy(&c->http_origins, &u->http_origins);
	c->auth_file = opt_dup(u->auth_file);
	c->auth_token = opt_dup(u->auth_token);
	strv_copy(&c->watch, &u->watch);
	strv_copy(&c->watch_ignore, &u->watch_ignore);
	strv_copy(&c->env_ignore, &u->env_ignore);
	strv_copy(&c->env_require, &u->env_require);
	strv_copy(&c->client_env, &u->client_env);
	strv_copy(&c->after, &u->after);
	return c;
}

void config_free(struct tend_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nunits; i++)
		config_unit_free(cfg->units[i]);
	free(cfg->units);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

static struct tend_config *config_new(const char *path)
{
	struct tend_config *cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(path);
	apply_defaults(cfg, SC_GLOBAL, NULL);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->max_jobs = n > 0 ? (unsigned)n : 1;
	return cfg;
}

/* "FILE:LINE", or just the origin ("exec") for settings without a line */
static char *where(const struct tend_config *cfg, int line)
{
	return line > 0 ? xasprintf("%s:%d", cfg->path, line) : xstrdup(cfg->path);
}

/* "[service web]"; a unit read only for its errors (a section that was
 * refused: line negative) by its header as written. */
static char *section_label(const struct unit_config *u)
{
	if (!u)
		return xstrdup("[tend]");
	if (u->line < 0)
		return xasprintf("[%s]", u->name);
	return xasprintf("[%s %s]", unit_kind_name(u->kind), u->name);
}

/* What to say after "unknown key KEY" in a section of SCOPE: another
 * supervisor's spelling, else a near key (of the section first), else
 * where the keys are listed. */
static char *hint_advice(const struct suggest_hint *h)
{
	return xasprintf("%s's %s%s: %s", h->origin, h->name,
	                 strcmp(h->origin, "systemd") ? "" : "=", h->advice);
}

static char *unknown_key_advice(const char *key, unsigned scope)
{
	const struct suggest_hint *h = suggest_key_hint(key, false);
	if (h)
		return hint_advice(h);
	const char *names[ARRAY_LEN(keys) + 1];
	for (int any = 0; any < 2; any++) {
		size_t n = 0;
		for (size_t i = 0; i < ARRAY_LEN(keys); i++)
			if (!keys[i].connect_only && (any || (keys[i].scope & scope)))
				names[n++] = keys[i].name;
		names[n] = NULL;
		const char *near = suggest_near(key, names);
		if (near)
			return xasprintf("did you mean %s?", near);
	}
	h = suggest_key_hint(key, true);
	return h ? hint_advice(h) : xstrdup("docs/config.md lists the keys");
}

int config_set(struct tend_config *cfg, struct unit_config *u, const char *key,
               const char *value, int line, char **err)
{
	const struct key_def *k = key_find(key);
	unsigned scope = u ? unit_scope(u) : SC_GLOBAL;
	char *at = where(cfg, line), *why = NULL, *label = section_label(u);
	int *lines = u ? u->key_line : cfg->key_line;
	int r = -1;
	if (!k) {
		char *advice = unknown_key_advice(key, scope);
		*err = xasprintf("%s: unknown key \"%s\" in %s; %s", at, key, label,
		                 advice);
		free(advice);
	} else if (!(k->scope & scope)) {
		*err = xasprintf("%s: key \"%s\" does not apply to %s; %s", at,
		                 key, label,
		                 k->scope == SC_GLOBAL ? "move it to [tend]"
		                 : k->scope == SC_JOB ? "it is for [job NAME] sections"
		                 : k->scope == SC_SERVICE ? "it is for [service NAME] sections"
		                 : "move it to a [service NAME] or [job NAME] section");
	} else if (k->daemon_only && line <= 0 && strcmp(cfg->path, "exec") == 0) {
		*err = xasprintf("--%s is about clients of a service, which tend exec "
		                 "does not have; put the service in tend.ini and use "
		                 "tend up", key);
	} else if (k->connect_only && line > 0) {
		*err = xasprintf("%s: key \"%s\" is a flag of tend connect -- CMD "
		                 "(which shares by the client's environment); a "
		                 "service of the file runs with the file's env: "
		                 "remove it", at, key);
	} else if (lines[k - keys] && !key_repeatable(k)) {
		*err = xasprintf("%s: key \"%s\" is set twice (first at line %d); "
		                 "keep one", at, key, lines[k - keys]);
	} else {
		void *base = u ? (void *)u : (void *)cfg;
		/* The first explicit use of a repeatable key replaces its default. */
		if (key_repeatable(k) && !lines[k - keys])
			strv_free((struct strv *)((char *)base + k->off));
		int set = value_set(k, base, u, cfg->dir, value, &why);
		if (set == -2) {
			*err = xasprintf("%s (read for %s = %s at %s)", why, key, value, at);
		} else if (set < 0) {
			*err = xasprintf("%s: %s = %s: %s%s", at, key, value, why,
			                 words_hint(k->type, why));
		} else {
			lines[k - keys] = line > 0 ? line : -1;
			r = 0;
		}
	}
	free(label);
	free(why);
	free(at);
	return r;
}

/* --- loading a file --- */

/* The errors of one load in the order of the file: at most
 * CONFIG_MAX_ERRORS kept (those of the first lines), the rest counted. */
struct errlist {
	struct { int line; char *msg; } v[CONFIG_MAX_ERRORS];
	size_t n, more;
};

static void errlist_add(struct errlist *e, int line, char *msg)
{
	size_t i = e->n;
	while (i > 0 && e->v[i - 1].line > line)
		i--;
	e->more += e->n == CONFIG_MAX_ERRORS;
	if (i == CONFIG_MAX_ERRORS) {
		free(msg);
		return;
	}
	if (e->n == CONFIG_MAX_ERRORS)
		free(e->v[--e->n].msg);
	memmove(&e->v[i + 1], &e->v[i], (e->n - i) * sizeof(e->v[0]));
	e->v[i].line = line;
	e->v[i].msg = msg;
	e->n++;
}

/* The errors as one message, a line each; NULL when there are none. */
static char *errlist_take(struct errlist *e, const char *path)
{
	if (!e->n)
		return NULL;
	struct buf b = { 0 };
	for (size_t i = 0; i < e->n; i++) {
		if (i)
			buf_addc(&b, '\n');
		buf_adds(&b, e->v[i].msg);
		free(e->v[i].msg);
	}
	if (e->more)
		buf_addf(&b, "\n%s: and %zu more error%s", path, e->more,
		         e->more == 1 ? "" : "s");
	e->n = e->more = 0;
	return buf_take(&b);
}

/* Units: a growable array of pointers. */
struct unitv {
	struct unit_config **v;
	size_t n;
};

static void unitv_add(struct unitv *uv, struct unit_config *u)
{
	uv->v = xrealloc(uv->v, (uv->n + 1) * sizeof(*uv->v));
	uv->v[uv->n++] = u;
}

static bool unitv_has(const struct unitv *uv, const struct unit_config *u)
{
	for (size_t i = 0; i < uv->n; i++)
		if (uv->v[i] == u)
			return true;
	return false;
}

struct load_state {
	struct tend_config *cfg;
	struct unit_config *unit;  /* current section; NULL for [tend] */
	bool skip;                 /* a refused section: its entries are not read */
	int tend_line;             /* where [tend] was, 0: not yet */
	struct unitv bad;          /* units with an error: not checked further */
	struct unitv scratch;      /* refused sections read only for their errors */
	struct errlist errs;
};

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.@-", *c))
			return false;
	return true;
}

static struct unit_config *unit_by_name(const struct tend_config *cfg,
                                        const char *name)
{
	for (size_t i = 0; i < cfg->nunits; i++)
		if (strcmp(cfg->units[i]->name, name) == 0)
			return cfg->units[i];
	return NULL;
}

static void config_push_unit(struct tend_config *cfg, struct unit_config *u)
{
	cfg->units = xrealloc(cfg->units, (cfg->nunits + 1) * sizeof(*cfg->units));
	cfg->units[cfg->nunits++] = u;
}

/* A section refused with an error whose entries are still read, for
 * their own errors, into a unit of KIND that is no part of the file's:
 * named by the header as written, its line negative (section_label). */
static void scratch_unit(struct load_state *st, const char *header,
                         enum unit_kind kind, int line)
{
	st->unit = config_unit_new(header, kind, -line);
	unitv_add(&st->scratch, st->unit);
}

/* A section that is none of tend's: another supervisor's, a near
 * misspelling, or neither.  Always an error. */
static int unknown_section(struct load_state *st, const char *name, int line,
                           char **err)
{
	char *unit = NULL, *advice;
	const char *kind = NULL;
	const struct suggest_hint *h = suggest_section_hint(name, &unit);
	if (h) {
		char *what = xasprintf(h->advice, unit ? unit : "");
		advice = xasprintf("%s's [%s]: %s", h->origin, name, what);
		free(what);
		kind = h->key;
	} else {
		static const char *const kinds[] = { "service", "job", "tend", NULL };
		size_t n = strcspn(name, " \t");
		char *word = strndup(name, n);
		if (!word)
			abort();
		kind = suggest_near(word, kinds);
		free(word);
		advice = kind ? xasprintf("did you mean [%s%s]?", kind, name + n)
		         : xstrdup("use [tend], [service NAME] or [job NAME]");
	}
	*err = xasprintf("%s:%d: unknown section [%s]; %s", st->cfg->path, line,
	                 name, advice);
	free(advice);
	free(unit);
	if (kind && strcmp(kind, "service") == 0)
		scratch_unit(st, name, KIND_SERVICE, line);
	else if (kind && strcmp(kind, "job") == 0)
		scratch_unit(st, name, KIND_JOB, line);
	else
		st->skip = true;
	return -1;
}

static int on_section(void *user, const char *name, int line, char **err)
{
	struct load_state *st = user;
	struct tend_config *cfg = st->cfg;
	st->unit = NULL;
	st->skip = false;
	if (strcmp(name, "tend") == 0) {
		if (st->tend_line) {
			*err = xasprintf("%s:%d: second [tend] section (first at line %d); "
			                 "merge them", cfg->path, line, st->tend_line);
			st->skip = true;
			return -1;
		}
		st->tend_line = line;
		return 0;
	}
	enum unit_kind kind;
	const char *rest;
	if (strncmp(name, "service", 7) == 0 && isspace((unsigned char)name[7])) {
		kind = KIND_SERVICE;
		rest = name + 7;
	} else if (strncmp(name, "job", 3) == 0 && isspace((unsigned char)name[3])) {
		kind = KIND_JOB;
		rest = name + 3;
	} else {
		return unknown_section(st, name, line, err);
	}
	while (isspace((unsigned char)*rest))
		rest++;
	struct unit_config *dup = unit_by_name(cfg, rest);
	char *e = NULL;
	if (!valid_name(rest))
		e = xasprintf("%s:%d: bad %s name \"%s\"; use 1 to 64 letters, "
		                 "digits and _ . @ -", cfg->path, line,
		                 unit_kind_name(kind), rest);
	else if (dup)
		e = xasprintf("%s:%d: duplicate name \"%s\" (first at line %d, "
		                 "[%s %s]); names must be unique", cfg->path, line,
		                 rest, dup->line, unit_kind_name(dup->kind), dup->name);
	if (e) {
		*err = e;
		scratch_unit(st, name, kind, line);
		return -1;
	}
	st->unit = config_unit_new(rest, kind, line);
	config_push_unit(cfg, st->unit);
	return 0;
}

static int on_entry(void *user, const char *key, const char *value, int line,
                    char **err)
{
	struct load_state *st = user;
	if (st->skip)
		return 0;
	return config_set(st->cfg, st->unit, key, value, line, err);
}

/* Every error of the file: kept, and its unit is not checked further (a
 * bad exec line is not also a missing one). */
static void on_error(void *user, int line, char *msg)
{
	struct load_state *st = user;
	errlist_add(&st->errs, line, msg);
	if (st->unit && !unitv_has(&st->bad, st->unit))
		unitv_add(&st->bad, st->unit);
}

/* watch paths made absolute: relative to the unit's cwd, else to the
 * file's directory (tend exec: the current directory).  "/" and ".."
 * are refused (a watch of everything, or of a path that is not what it
 * says once symlinks are involved). */
static int resolve_watch(const struct tend_config *cfg, struct unit_config *u,
                         const char *at, char **err)
{
	char cwd[4096];
	const char *base = u->cwd && u->cwd[0] == '/' ? u->cwd : cfg->dir;
	if (!base)
		base = getcwd(cwd, sizeof(cwd)) ? cwd : "/";
	for (size_t i = 0; i < u->watch.n; i++) {
		char *w = u->watch.v[i];
		bool dots = strcmp(w, "..") == 0 || strncmp(w, "../", 3) == 0 ||
		            strstr(w, "/../") || (strlen(w) >= 3 &&
		            strcmp(w + strlen(w) - 3, "/..") == 0);
		if (strcmp(w, "/") == 0 || dots || !*w) {
			*err = xasprintf("%s: [%s %s]: watch = %s: %s; name the directory "
			                 "itself", at, unit_kind_name(u->kind), u->name, w,
			                 dots ? "a path with \"..\" is not watched"
			                 : "the whole file system is not watched");
			return -1;
		}
		if (w[0] != '/') {
			u->watch.v[i] = xasprintf("%s/%s", strcmp(base, "/") ? base : "", w);
			free(w);
		}
	}
	return 0;
}

/* The first http: listen address of U that is not loopback; NULL: none. */
static const char *http_remote_spec(const struct unit_config *u)
{
	for (size_t i = 0; i < u->http.n; i++) {
		struct addr a;
		char path[256], *why = NULL;
		if (addr_parse_http(u->http.v[i], &a, path, sizeof(path), &why) == 0 &&
		    !addr_is_local(&a))
			return u->http.v[i];
		free(why);
	}
	return NULL;
}

static bool http_local(const struct unit_config *u)
{
	return http_remote_spec(u) == NULL;
}

/* Is ADDR one of U's listen addresses, as written? */
static bool listens_on(const struct unit_config *u, const char *addr)
{
	for (size_t i = 0; i < u->listen.n; i++)
		if (strcmp(u->listen.v[i], addr) == 0)
			return true;
	return false;
}

static int check_unit(const struct tend_config *cfg, struct unit_config *u,
                      char **err)
{
	char *at = where(cfg, u->line);
	const char *kind = unit_kind_name(u->kind);
	int r = -1;
#define KEYSET(f) (u->key_line[key_find(f) - keys] != 0)
	if (u->argv.n == 0)
		*err = xasprintf("%s: [%s %s] has no exec; add exec = COMMAND", at,
		                 kind, u->name);
	else if (u->backend && u->listen.n == 0)
		*err = xasprintf("%s: [%s %s]: backend needs at least one listen "
		                 "address to proxy from; add listen = tcp:HOST:PORT",
		                 at, kind, u->name);
	else if (u->backend && listens_on(u, u->backend))
		*err = xasprintf("%s: [%s %s]: backend = %s is its own listen "
		                 "address: every client would be relayed back to "
		                 "tend; give the port the service itself listens on",
		                 at, kind, u->name, u->backend);
	else if (u->stdio != STDIO_NONE && u->listen.n)
		*err = xasprintf("%s: [%s %s]: stdio and listen are two different "
		                 "ways in; keep one", at, kind, u->name);
	else if (u->http.n && u->stdio != STDIO_MCP)
		*err = xasprintf("%s: [%s %s]: listen = %s serves MCP over HTTP "
		                 "through tend's multiplexer; set stdio = mcp", at,
		                 kind, u->name, u->http.v[0]);
	else if (u->http.n && u->http_remote == HTTP_REMOTE_NO && !http_local(u))
		*err = xasprintf("%s: [%s %s]: listen = %s is not a loopback address "
		                 "(any host that reaches it could use the server); "
		                 "bind 127.0.0.1 or [::1], or set http-remote = yes "
		                 "(with auth = token-file:PATH)", at, kind, u->name,
		                 http_remote_spec(u));
	else if (u->auth_file && !u->http.n)
		*err = xasprintf("%s: [%s %s]: auth guards an HTTP endpoint, and "
		                 "this service has none; add listen = "
		                 "http:127.0.0.1:PORT or remove auth", at, kind, u->name);
	else if (u->ready == READY_SOCKET && !u->backend)
		*err = xasprintf("%s: [%s %s]: ready = socket waits for the backend; "
		                 "set backend or another ready mode", at, kind, u->name);
	else if (u->ready == READY_HEALTH && !u->health)
		*err = xasprintf("%s: [%s %s]: ready = health needs a health probe; "
		                 "set health", at, kind, u->name);
	else if (u->idle_stop_ms && u->stdio == STDIO_NONE && !u->backend)
		*err = xasprintf("%s: [%s %s]: idle-stop counts client traffic that "
		                 "tend relays, and this service has none; set backend "
		                 "(a proxied listen) or stdio%s", at, kind, u->name,
		                 u->listen.n ? ", or let the service exit by itself "
		                 "when idle: a clean exit of a socket-activated "
		                 "service is idle" : "");
	else if (u->stdio == STDIO_PER_CLIENT && KEYSET("start") &&
	         u->start == START_BOOT)
		*err = xasprintf("%s: [%s %s]: stdio = per-client starts one instance "
		                 "per client; remove start = boot", at, kind, u->name);
	else
		r = 0;
	if (r == 0 && u->cwd && u->cwd[0] != '/' && cfg->dir) {
		char *abs = xasprintf("%s/%s", cfg->dir, u->cwd);
		char *real = realpath(abs, NULL);
		free(u->cwd);
		u->cwd = real ? real : abs;
		if (real)
			free(abs);
	}
	if (r == 0)
		r = resolve_watch(cfg, u, at, err);
	if (r == 0 && u->kind == KIND_SERVICE) {
		if (!KEYSET("start") && (u->listen.n || u->stdio != STDIO_NONE))
			u->start = START_ON_DEMAND;
		if (!KEYSET("ready") && u->backend)
			u->ready = READY_SOCKET;
	}
#undef KEYSET
	free(at);
	return r;
}

/* --- after: the order of units --- */

static const char *const after_names[] = { "started", "ready", "healthy",
                                           "completed", NULL };

const char *config_after_cond_name(enum after_cond c)
{
	return (size_t)c < ARRAY_LEN(after_names) - 1 ? after_names[c] : "unknown";
}

enum after_cond config_after_split(const char *word, char *buf, size_t size)
{
	const char *colon = strrchr(word, ':');
	size_t n = colon ? (size_t)(colon - word) : strlen(word);
	snprintf(buf, size, "%.*s", (int)n, word);
	int c = AFTER_READY;
	if (colon)
		for (int i = 0; after_names[i]; i++)
			if (strcmp(colon + 1, after_names[i]) == 0)
				c = i;
	return (enum after_cond)c;
}

static int after_line(const struct unit_config *u)
{
	int line = u->key_line[key_find("after") - keys];
	return line ? line : u->line;
}

/* One word of U's after list checked, and written NAME:CONDITION. */
static char *check_after_word(const struct tend_config *cfg,
                              struct unit_config *u, char **word)
{
	char name[96];
	const char *colon = strrchr(*word, ':');
	size_t n = colon ? (size_t)(colon - *word) : strlen(*word);
	snprintf(name, sizeof(name), "%.*s", (int)n, *word);
	const struct unit_config *d = unit_by_name(cfg, name);
	if (!d) {
		const char **names = xcalloc(cfg->nunits + 1, sizeof(*names));
		for (size_t i = 0; i < cfg->nunits; i++)
			names[i] = cfg->units[i]->name;
		const char *near = suggest_near(name, names);
		char *m = xasprintf("after: there is no service or job named \"%s\" "
		                    "in this file; %s%s%s", name,
		                    near ? "did you mean \"" : "name one of its units",
		                    near ? near : "", near ? "\"?" : "");
		free(names);
		return m;
	}
	if (d == u)
		return xasprintf("after: [%s %s] cannot wait for itself; remove "
		                 "\"%s\"", unit_kind_name(u->kind), u->name, name);
	int c = d->kind == KIND_JOB ? AFTER_COMPLETED : AFTER_READY;
	char *why = NULL;
	if (colon && parse_enum(colon + 1, after_names, &c, &why) < 0) {
		char *m = xasprintf("after: \"%s\" is no condition (%s); write NAME "
		                    "or NAME:CONDITION", colon + 1, why);
		free(why);
		return m;
	}
	if (d->kind == KIND_JOB && (c == AFTER_READY || c == AFTER_HEALTHY))
		return xasprintf("after: \"%s\" is a job, which is never %s; write "
		                 "%s:completed (its last run succeeded) or %s:started",
		                 name, after_names[c], name, name);
	if (d->kind != KIND_JOB && c == AFTER_COMPLETED)
		return xasprintf("after: \"%s\" is a service, which never "
		                 "completes; write %s:ready, %s:started or %s:healthy",
		                 name, name, name, name);
	if (c == AFTER_HEALTHY && !d->health)
		return xasprintf("after: \"%s\" has no health probe, so it is "
		                 "never healthy; give it health = ..., or write "
		                 "%s:ready", name, name);
	free(*word);
	*word = xasprintf("%s:%s", name, after_names[c]);
	return NULL;
}

/* A cycle reachable from unit START (colours: white 0, grey 1 on the
 * path, black 2 done), by a walk with its own stack (PATH: the units on
 * the way, EDGE: the next word of each; nunits each): the first found is
 * reported, the whole of it named. */
static bool after_cycle(const struct tend_config *cfg, size_t start, int *color,
                        size_t *path, size_t *edge, struct errlist *errs)
{
	size_t depth = 0;
	path[0] = start;
	edge[0] = 0;
	color[start] = 1;
	for (;;) {
		size_t i = path[depth];
		const struct unit_config *u = cfg->units[i];
		if (edge[depth] == u->after.n) {
			color[i] = 2;
			if (depth == 0)
				return false;
			depth--;
			continue;
		}
		char name[96];
		config_after_split(u->after.v[edge[depth]++], name, sizeof(name));
		size_t j = 0;
		while (j < cfg->nunits && strcmp(cfg->units[j]->name, name) != 0)
			j++;
		if (j == cfg->nunits || j == i || color[j] == 2)
			continue;   /* a unit after itself has its own error */
		if (color[j] == 1) {
			size_t from = 0;
			while (path[from] != j)
				from++;
			struct buf b = { 0 };
			for (size_t k = from; k <= depth; k++)
				buf_addf(&b, "%s -> ", cfg->units[path[k]]->name);
			buf_adds(&b, cfg->units[j]->name);
			int line = after_line(cfg->units[j]);
			char *at = where(cfg, line);
			errlist_add(errs, line, xasprintf("%s: after: a cycle: %s (each "
			            "waits for the next); remove one of these from an "
			            "after line", at, b.s));
			free(at);
			free(b.s);
			return true;
		}
		color[j] = 1;
		path[++depth] = j;
		edge[depth] = 0;
	}
}

static void check_after(struct tend_config *cfg, const struct unitv *bad,
                        struct errlist *errs)
{
	bool any = false;
	for (size_t i = 0; i < cfg->nunits; i++) {
		struct unit_config *u = cfg->units[i];
		if (unitv_has(bad, u))
			continue;
		for (size_t k = 0; k < u->after.n; k++) {
			any = true;
			char *m = check_after_word(cfg, u, &u->after.v[k]);
			if (!m)
				continue;
			char *at = where(cfg, after_line(u));
			errlist_add(errs, after_line(u), xasprintf("%s: %s", at, m));
			free(at);
			free(m);
		}
	}
	if (!any)
		return;
	int *color = xcalloc(cfg->nunits, sizeof(*color));
	size_t *path = xcalloc(cfg->nunits, sizeof(*path));
	size_t *edge = xcalloc(cfg->nunits, sizeof(*edge));
	for (size_t i = 0; i < cfg->nunits; i++)
		if (color[i] == 0 && after_cycle(cfg, i, color, path, edge, errs))
			break;
	free(edge);
	free(path);
	free(color);
}

/* The checks across keys of every unit of CFG but those in BAD. */
static void finish_units(struct tend_config *cfg, const struct unitv *bad,
                         struct errlist *errs)
{
	for (size_t i = 0; i < cfg->nunits; i++) {
		char *e = NULL;
		if (!unitv_has(bad, cfg->units[i]) &&
		    check_unit(cfg, cfg->units[i], &e) < 0)
			errlist_add(errs, cfg->units[i]->line, e);
	}
	check_after(cfg, bad, errs);
}

int config_finish(struct tend_config *cfg, char **err)
{
	struct errlist errs = { .n = 0 };
	struct unitv none = { 0 };
	finish_units(cfg, &none, &errs);
	*err = errlist_take(&errs, cfg->path);
	return *err ? -1 : 0;
}

/* config_load of the file at PATH, or of TEXT as if it were that file
 * (its directory then DIR). */
static struct tend_config *load(const char *path, const char *dir, const char *text,
                                char **err)
{
	struct tend_config *cfg = config_new(path);
	struct load_state st = { .cfg = cfg };
	char *real = dir ? NULL : realpath(path, NULL);
	if (dir) {
		cfg->dir = xstrdup(dir);
	} else if (real) {
		char *slash = strrchr(real, '/');
		cfg->dir = slash == real ? xstrdup("/") : strndup(real, (size_t)(slash - real));
		free(real);
	}
	struct ini_handler h = { on_section, on_entry, on_error };
	char *ierr = NULL;
	*err = NULL;
	int r = text ? ini_parse_string(text, path, &h, &st, &ierr)
	             : ini_parse_file(path, &h, &st, &ierr);
	if (r < 0 && ierr) {
		/* The file itself could not be read: that one error. */
		if (!text && access(path, F_OK) < 0)
			*err = xasprintf("%s; create it, or name another with -c FILE "
			                 "or TEND_CONFIG", ierr);
		else
			*err = ierr, ierr = NULL;
		free(ierr);
		free(errlist_take(&st.errs, path));
	} else {
		finish_units(cfg, &st.bad, &st.errs);
		*err = errlist_take(&st.errs, path);
	}
	for (size_t i = 0; i < st.scratch.n; i++)
		config_unit_free(st.scratch.v[i]);
	free(st.scratch.v);
	free(st.bad.v);
	if (*err) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct tend_config *config_load(const char *path, char **err)
{
	return load(path, NULL, NULL, err);
}

struct tend_config *config_load_text(const char *path, const char *dir,
                                     const char *text, char **err)
{
	return load(path, dir, text, err);
}

struct tend_config *config_for_connect(char *const *argv, const char *cwd)
{
	struct tend_config *cfg = config_for_exec(argv);
	free(cfg->path);
	cfg->path = xstrdup("connect");
	cfg->dir = xstrdup(cwd);
	struct unit_config *u = cfg->units[0];
	/* Not as keys set (a flag may set them once): the defaults of this
	 * kind of service. */
	u->stdio = STDIO_MCP;
	u->start = START_ON_DEMAND;
	u->idle_stop_ms = CONFIG_CONNECT_IDLE_STOP_MS;
	return cfg;
}

/* Keys tend connect -- CMD does not take: the command itself, and what
 * makes a service something other than an MCP server on stdio started on
 * demand. */
static const char *const not_connect[] = { "exec", "stdio", "start", "listen",
                                           "listen-mode", "backend",
                                           "max-instances" };

bool config_is_connect_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(not_connect); i++)
		if (strcmp(name, not_connect[i]) == 0)
			return false;
	return config_is_key(name, KIND_SERVICE);
}

struct tend_config *config_for_exec(char *const *argv)
{
	struct tend_config *cfg = config_new("exec");
	const char *base = strrchr(argv[0], '/');
	base = base && base[1] ? base + 1 : argv[0];
	char *name = xstrdup(base);
	if (!valid_name(name)) {
		free(name);
		name = xstrdup("exec");
	}
	struct unit_config *u = config_unit_new(name, KIND_SERVICE, 0);
	free(name);
	for (size_t i = 0; argv[i]; i++)
		strv_push(&u->argv, xstrdup(argv[i]));
	u->key_line[key_find("exec") - keys] = -1;
	config_push_unit(cfg, u);
	return cfg;
}

char *config_locate(const char *arg)
{
	if (arg)
		return xstrdup(arg);
	const char *env = getenv("TEND_CONFIG");
	if (env && *env)
		return xstrdup(env);
	if (access("tend.ini", F_OK) == 0)
		return xstrdup("tend.ini");
	return paths_user_config();
}

char *config_locate_default(const char *arg)
{
	if (arg)
		return xstrdup(arg);
	const char *env = getenv("TEND_CONFIG");
	if (env && *env)
		return xstrdup(env);
	return paths_user_config();
}

struct tend_config *config_load_optional(const char *path, char **err)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return config_new(path);
	return config_load(path, err);
}

struct tend_config *config_open(const char *arg)
{
	char *path = config_locate(arg), *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	free(path);
	if (!cfg) {
		errline("%s", err);
		free(err);
	}
	return cfg;
}

/* --- output --- */

/* What U's env-file files gave, as comments (they load back from the
 * files): the names, or with VALUES the whole KEY=VALUE, one a line. */
static void print_env_file_vars(const struct unit_config *u, bool values,
                                FILE *out)
{
	if (!u->env_file_vars.n)
		return;
	if (values) {
		for (size_t i = 0; i < u->env_file_vars.n; i++) {
			char *j = words_join((char *const[]){ u->env_file_vars.v[i], NULL });
			fprintf(out, "; env-file: %s\n", j);
			free(j);
		}
		return;
	}
	fputs("; env-file gives:", out);
	for (size_t i = 0; i < u->env_file_vars.n; i++)
		fprintf(out, " %.*s", (int)env_key_len(u->env_file_vars.v[i]),
		        u->env_file_vars.v[i]);
	fputc('\n', out);
}

void config_print(const struct tend_config *cfg, FILE *out)
{
	fprintf(out, "; effective settings of %s\n[tend]\n", cfg->path);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (keys[i].scope & SC_GLOBAL)
			value_print(&keys[i], cfg, out);
	for (size_t n = 0; n < cfg->nunits; n++) {
		const struct unit_config *u = cfg->units[n];
		fprintf(out, "\n[%s %s]\n", unit_kind_name(u->kind), u->name);
		for (size_t i = 0; i < ARRAY_LEN(keys); i++)
			if (keys[i].scope & unit_scope(u))
				value_print(&keys[i], u, out);
		print_env_file_vars(u, false, out);
	}
}

char *config_unit_text(const struct unit_config *u)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return NULL;
	fprintf(f, "[%s %s]\n", unit_kind_name(u->kind), u->name);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (keys[i].scope & unit_scope(u))
			value_print(&keys[i], u, f);
	print_env_file_vars(u, true, f);
	if (fclose(f) != 0) {  /* out of memory: the text is not whole */
		free(s);
		return NULL;
	}
	return s;
}

bool config_unit_equal(const struct unit_config *a, const struct unit_config *b)
{
	char *x = config_unit_text(a), *y = config_unit_text(b);
	bool eq = x && y && strcmp(x, y) == 0;
	free(x);
	free(y);
	return eq;
}

void config_print_flags(FILE *out, bool connect)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const struct key_def *k = &keys[i];
		if (!(k->scope & SC_SERVICE) || k->type == V_ARGV ||
		    (connect ? !config_is_connect_key(k->name) : k->daemon_only))
			continue;
		if (connect && strcmp(k->name, "idle-stop") == 0) {
			char b[32];
			fprintf(out, "  --%-16s %s [%s]\n", k->name, k->help,
			        format_duration(CONFIG_CONNECT_IDLE_STOP_MS, b));
			continue;
		}
		fprintf(out, "  --%-16s %s%s%s%s\n", k->name, k->help,
		        k->def ? " [" : "", k->def ? k->def : "", k->def ? "]" : "");
	}
}

int config_key_line(const struct unit_config *u, const char *key)
{
	const struct key_def *k = key_find(key);
	return k && u->key_line[k - keys] > 0 ? u->key_line[k - keys] : 0;
}

int config_global_line(const struct tend_config *cfg, const char *key)
{
	const struct key_def *k = key_find(key);
	return k && cfg->key_line[k - keys] > 0 ? cfg->key_line[k - keys] : 0;
}

bool config_is_key(const char *name, enum unit_kind kind)
{
	const struct key_def *k = key_find(name);
	return k && (k->scope & (kind == KIND_JOB ? SC_JOB : SC_SERVICE));
}

size_t config_unenforced(const struct unit_config *u, const char **names,
                         size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_LEN(keys) && n < max; i++)
		if (u->key_line[i] && !keys[i].enforced)
			names[n++] = keys[i].name;
	return n;
}
