/* export_systemd — tend export systemd: unit files (export.h). */
#include "export_int.h"

#include "parse.h"

#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct exp_lost systemd_lost[] = {
	{ "stable-after", "systemd forgets crashes only as they leave "
	  "StartLimitIntervalSec=" },
	{ "clean-restarts", "systemd restarts clean exits (Restart=always) "
	  "without a budget of their own" },
	{ "health", "systemd has no health checks" },
	{ "health-interval", "systemd has no health checks" },
	{ "health-timeout", "systemd has no health checks" },
	{ "health-strikes", "systemd has no health checks" },
	{ "health-grace", "systemd has no health checks" },
	{ "stdio", "tend connect shares the program's stdin and stdout among "
	  "clients; systemd gives it none" },
	{ "max-instances", "it is about tend connect's clients (stdio)" },
	{ "share", "it is about tend connect's clients (stdio = mcp)" },
	{ "queue-timeout", "it is about tend connect's clients (stdio)" },
	{ "watch-ignore", "a .path unit has no ignore patterns" },
	{ "debounce", "a .path unit triggers at every change, without a "
	  "quiet period" },
	{ "max-failures", "systemd has no circuit breaker for a job's failed "
	  "runs" },
	{ "cooldown", "systemd has no circuit breaker for a job's failed runs" },
	{ NULL, NULL },
};

/* NAME as a unit name: '@' (a template's mark to systemd) and a leading
 * '.' escaped as systemd-escape does. */
static char *unit_name(const char *name, const char *suffix)
{
	struct buf b = { 0 };
	for (const char *p = name; *p; p++) {
		if (*p == '@' || (*p == '.' && p == name))
			buf_addf(&b, "\\x%02x", (unsigned char)*p);
		else
			buf_addc(&b, *p);
	}
	buf_adds(&b, suffix);
	return buf_take(&b);
}

/* S as one word of a systemd command line (EXEC: ExecStart=, where $
 * expands) or a value of Environment=: quoted when needed, specifiers
 * (%) doubled. */
static void sd_word(struct buf *b, const char *s, bool exec)
{
	bool quote = !*s || strcmp(s, ";") == 0;
	for (const char *p = s; *p && !quote; p++)
		quote = !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                "0123456789_./,=+@%$-", *p);
	if (quote)
		buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '%')
			buf_adds(b, "%%");
		else if (*p == '$' && exec)
			buf_adds(b, "$$");
		else if (*p == '"' || *p == '\\')
			buf_addf(b, "\\%c", *p);
		else if (*p == '\n')
			buf_adds(b, "\\n");
		else if (*p == '\t')
			buf_adds(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			buf_addf(b, "\\x%02x", *p);
		else
			buf_addc(b, (char)*p);
	}
	if (quote)
		buf_addc(b, '"');
}

/* A path in a setting that takes one: specifiers doubled. */
static char *sd_path(const char *s)
{
	struct buf b = { 0 };
	for (const char *p = s; *p; p++)
		buf_adds(&b, *p == '%' ? "%%" : (char[2]){ *p, 0 });
	return buf_take(&b);
}

static const char *sd_duration(uint64_t ms, char buf[32])
{
	if (ms % 1000)
		snprintf(buf, 32, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, 32, "%llus", (unsigned long long)(ms / 1000));
	return buf;
}

static const char *sd_signal(int sig, char buf[32])
{
	const char *n = signal_name(sig);
	if (strncmp(n, "SIG", 3) == 0)
		snprintf(buf, 32, "%d", sig);
	else
		snprintf(buf, 32, "SIG%s", n);
	return buf;
}

static const char *first_existing(const char *a, const char *b)
{
	return access(a, X_OK) == 0 ? a : b;
}

/* The program of U as an absolute path, looked up as tend looks it up:
 * in the PATH of the unit's environment (malloc'd; the word itself when
 * it is not found). */
static char *program(const struct unit_config *u)
{
	const char *arg0 = u->argv.v[0];
	if (arg0[0] == '/')
		return xstrdup(arg0);
	if (strchr(arg0, '/')) {
		char here[4096];
		const char *dir = u->cwd ? u->cwd : getcwd(here, sizeof(here));
		return dir ? xasprintf("%s/%s", dir, arg0) : xstrdup(arg0);
	}
	const char *path = getenv("PATH");
	for (size_t i = 0; i < u->env.n; i++)
		if (strncmp(u->env.v[i], "PATH=", 5) == 0)
			path = u->env.v[i] + 5;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; p;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char *full = xasprintf("%.*s/%s", (int)n, n ? p : ".", arg0);
		struct stat st;
		if (n && stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(full, X_OK) == 0)
			return full;
		free(full);
		p = c ? c + 1 : NULL;
	}
	return xstrdup(arg0);
}

static void exec_line(FILE *f, const struct unit_config *u)
{
	struct buf b = { 0 };
	char *prog = program(u);
	/* a first word beginning with @ - : + ! would be read as a prefix */
	if (strchr("@-:+!", prog[0]))
		buf_addc(&b, '"');
	sd_word(&b, prog, true);
	if (strchr("@-:+!", prog[0]))
		buf_addc(&b, '"');
	free(prog);
	for (size_t i = 1; i < u->argv.n; i++) {
		buf_addc(&b, ' ');
		sd_word(&b, u->argv.v[i], true);
	}
	char *s = buf_take(&b);
	fprintf(f, "ExecStart=%s\n", s);
	free(s);
}

/* [Unit] and its Description=: "tend WHAT NAME (FILE)". */
static void unit_head(FILE *f, const struct exp *x, const char *what,
                      const struct unit_config *u)
{
	char *d = xasprintf("tend %s %s (%s)", what, u->name, x->cfg->path);
	char *e = sd_path(d);
	fprintf(f, "\n[Unit]\nDescription=%s\n", e);
	free(e);
	free(d);
}

static void install(FILE *f, const struct exp *x, const char *target)
{
	fprintf(f, "\n[Install]\nWantedBy=%s\n",
	        target ? target : x->user ? "default.target" : "multi-user.target");
}

/* [Unit]'s After= and Requires= from after. */
static void after_lines(FILE *f, const struct unit_config *u)
{
	for (size_t i = 0; i < u->after.n; i++) {
		char name[128];
		config_after_split(u->after.v[i], name, sizeof(name));
		char *un = unit_name(name, ".service");
		fprintf(f, "After=%s\nRequires=%s\n", un, un);
		free(un);
	}
}

static void env_lines(FILE *f, const struct unit_config *u)
{
	/* systemd reads the files itself (EnvironmentFile= wins over
	 * Environment=, where tend's env wins over env-file) */
	for (size_t i = 0; i < u->env_files.n; i++) {
		char *p = sd_path(u->env_files.v[i]);
		fprintf(f, "EnvironmentFile=%s\n", p);
		free(p);
	}
	for (size_t i = 0; i < u->env_keys.n; i++) {
		struct buf b = { 0 };
		sd_word(&b, u->env_keys.v[i], false);
		char *s = buf_take(&b);
		fprintf(f, "Environment=%s\n", s);
		free(s);
	}
}

/* The env words that a file of U also sets: under systemd the file's
 * value would win. */
static void env_clash(struct exp *x, const struct unit_config *u)
{
	for (size_t i = 0; i < u->env_keys.n; i++) {
		const char *w = u->env_keys.v[i];
		size_t n = strcspn(w, "=");
		for (size_t k = 0; k < u->env_file_vars.n; k++) {
			const char *v = u->env_file_vars.v[k];
			if (strcspn(v, "=") == n && memcmp(v, w, n) == 0) {
				exp_note(x, u, "env", "%.*s is also in an env-file, whose "
				         "value wins under systemd (EnvironmentFile= over "
				         "Environment=)", (int)n, w);
				break;
			}
		}
	}
}

/* Files of U whose lines systemd reads otherwise than tend: `export `,
 * and $VAR / ${VAR}, which systemd's EnvironmentFile= leaves as they are. */
static void env_file_syntax(struct exp *x, const struct unit_config *u)
{
	for (size_t i = 0; i < u->env_files.n; i++) {
		const char *p = u->env_files.v[i] + (u->env_files.v[i][0] == '-');
		FILE *f = fopen(p, "r");
		char line[4096];
		bool odd = false;
		while (f && !odd && fgets(line, sizeof(line), f)) {
			const char *l = line + strspn(line, " \t");
			odd = strncmp(l, "export ", 7) == 0 || strchr(l, '$');
		}
		if (f)
			(void)fclose(f);   /* read only */
		if (odd)
			exp_note(x, u, "env-file", "%s has export or $VAR, which "
			         "systemd's EnvironmentFile= does not read as tend "
			         "does", p);
	}
}

static void memory_lines(FILE *f, const struct unit_config *u)
{
	if (!u->memory_max)
		return;
	fputs("# memory-max: the cgroup counts all of the unit's memory, page "
	      "cache and kernel\n# memory included, where tend counts anon + "
	      "shmem; the kernel reclaims\n# the cache before it kills; "
	      "OOMPolicy=stop stops the whole unit.\n", f);
	fprintf(f, "MemoryMax=%llu\n", (unsigned long long)u->memory_max);
	fprintf(f, "# memory-warn %u%%: tend only warns there; MemoryHigh= "
	        "throttles and reclaims.\n", u->memory_warn_pct);
	fprintf(f, "MemoryHigh=%llu\n",
	        (unsigned long long)(u->memory_max > UINT64_MAX / 100
	                                   ? u->memory_max / 100 * u->memory_warn_pct
	                                   : u->memory_max * u->memory_warn_pct / 100));
	fputs("OOMPolicy=stop\n", f);
}

static void restart_lines(FILE *f, const struct unit_config *u)
{
	const struct policy_cfg *p = &u->policy;
	char b1[32], b2[32];
	fprintf(f, "Restart=%s\n", p->restart == RESTART_ALWAYS ? "always"
	        : p->restart == RESTART_NEVER ? "no" : "on-failure");
	fprintf(f, "RestartSec=%s\n", sd_duration(p->backoff_min_ms, b1));
	if (p->backoff_max_ms > p->backoff_min_ms && p->backoff_min_ms) {
		unsigned steps = 0;
		for (uint64_t d = p->backoff_min_ms; d < p->backoff_max_ms; d *= 2)
			steps++;
		fprintf(f, "# backoff = %s..%s: systemd 254 and later grow the "
		        "delay as tend does:\n#RestartSteps=%u\n"
		        "#RestartMaxDelaySec=%s\n", sd_duration(p->backoff_min_ms, b1),
		        sd_duration(p->backoff_max_ms, b2), steps,
		        sd_duration(p->backoff_max_ms, b2));
	}
}

static void success_line(FILE *f, const struct unit_config *u)
{
	struct buf b = { 0 };
	for (unsigned c = 1; c < 256; c++)
		if (success_codes_has_code(&u->success, c))
			buf_addf(&b, " %u", c);
	for (int s = 1; s <= 64; s++)
		if (success_codes_has_signal(&u->success, s)) {
			char sb[32];
			buf_addf(&b, " %s", sd_signal(s, sb));
		}
	if (b.len)
		fprintf(f, "SuccessExitStatus=%s\n", b.s + 1);
	free(b.s);
}

static void user_line(FILE *f, const struct exp *x)
{
	if (x->user || getuid() == 0)
		return;
	struct passwd *pw = getpwuid(getuid());
	if (pw)
		fprintf(f, "# tend ran it as %s: so does this system unit\nUser=%s\n",
		        pw->pw_name, pw->pw_name);
}

/* The notes of U's keys that only partly have a counterpart. */
static void partial_notes(struct exp *x, const struct unit_config *u)
{
	if (u->kind == KIND_SERVICE && u->ready == READY_HEALTH)
		exp_note(x, u, "ready", "systemd has no health checks: the service "
		         "is started when its process is");
	if (u->kind == KIND_SERVICE && u->ready == READY_SOCKET &&
	    config_key_line(u, "ready"))
		exp_note(x, u, "ready", "systemd-socket-proxyd connects clients at "
		         "once, without waiting for the backend to accept");
	if (u->kind == KIND_SERVICE && u->ready != READY_NOTIFY &&
	    config_key_line(u, "start-timeout"))
		exp_note(x, u, "start-timeout", "systemd times a start only with "
		         "Type=notify (ready = notify)");
	if (u->idle_stop_ms && !u->backend)
		exp_note(x, u, "idle-stop", "systemd-socket-proxyd's "
		         "--exit-idle-time needs listen and backend");
	for (size_t i = 0; i < u->watch.n; i++) {
		struct stat st;
		if (stat(u->watch.v[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			exp_note(x, u, "watch", "a .path unit sees changes in %s "
			         "itself, not in the directories below it",
			         u->watch.v[i]);
			break;
		}
	}
	for (size_t i = 0; i < u->after.n; i++) {
		char name[128];
		if (config_after_split(u->after.v[i], name, sizeof(name)) == AFTER_HEALTHY)
			exp_note(x, u, "after", "%s:healthy: systemd has no health "
			         "checks; %s waits for %s to be ready instead", name,
			         u->name, name);
	}
	env_clash(x, u);
	env_file_syntax(x, u);
}

static void service_file(struct exp *x, const struct unit_config *u)
{
	char *name = unit_name(u->name, ".service");
	FILE *f = exp_open(x, name);
	free(name);
	if (!f)
		return;
	char b[32];
	bool job = u->kind == KIND_JOB;
	exp_head(x, f, u);
	unit_head(f, x, unit_kind_name(u->kind), u);
	after_lines(f, u);
	if (!job) {
		const struct rate *r = &u->policy.max_crashes;
		char w[32];
		format_duration(r->window_ms, w);
		fprintf(f, "# max-crashes = %u/%s: more than %u crashes in %s: "
		        "failed; systemd counts the starts\n", r->n, w, r->n, w);
		fprintf(f, "StartLimitIntervalSec=%s\nStartLimitBurst=%u\n",
		        sd_duration(r->window_ms, b), r->n + 1);
		if (u->backend && u->idle_stop_ms)
			fputs("StopWhenUnneeded=yes\n", f);
	}
	fputs("\n[Service]\n", f);
	fprintf(f, "Type=%s\n", job ? "oneshot"
	        : u->ready == READY_NOTIFY ? "notify" : "exec");
	exec_line(f, u);
	if (u->cwd) {
		char *p = sd_path(u->cwd);
		fprintf(f, "WorkingDirectory=%s\n", p);
		free(p);
	}
	env_lines(f, u);
	user_line(f, x);
	if (!job)
		restart_lines(f, u);
	success_line(f, u);
	fputs("KillMode=control-group\n", f);
	fprintf(f, "KillSignal=%s\n", sd_signal(u->stop_signal, b));
	fprintf(f, "TimeoutStopSec=%s\n", sd_duration(u->stop_timeout_ms, b));
	if (job)
		fprintf(f, "TimeoutStartSec=%s\n",
		        u->timeout_ms ? sd_duration(u->timeout_ms, b) : "infinity");
	else if (u->ready == READY_NOTIFY)
		fprintf(f, "TimeoutStartSec=%s\n",
		        u->start_timeout_ms ? sd_duration(u->start_timeout_ms, b)
		                            : "infinity");
	if (u->ready == READY_NOTIFY || u->watchdog_ms)
		fputs("NotifyAccess=all\n", f);
	if (u->watchdog_ms)
		fprintf(f, "WatchdogSec=%s\n", sd_duration(u->watchdog_ms, b));
	memory_lines(f, u);
	if (!job && u->start == START_BOOT)
		install(f, x, NULL);
	exp_close(x, f);
}

/* The .socket of U's listen (with backend: of its proxy). */
static void socket_file(struct exp *x, const struct unit_config *u)
{
	char *name = unit_name(u->name, u->backend ? "-proxy.socket" : ".socket");
	FILE *f = exp_open(x, name);
	free(name);
	if (!f)
		return;
	exp_head(x, f, u);
	unit_head(f, x, "listen of", u);
	fputs("\n[Socket]\n", f);
	bool unix_any = false;
	for (size_t i = 0; i < u->listen.n; i++) {
		char host[80], path[4096];
		unsigned port;
		if (exp_addr(u->listen.v[i], host, sizeof(host), &port, path,
		             sizeof(path)) < 0)
			continue;
		if (path[0]) {
			char *p = sd_path(path);
			fprintf(f, "ListenStream=%s\n", p);
			free(p);
			unix_any = true;
		} else {
			fprintf(f, "ListenStream=%s:%u\n", host, port);
		}
	}
	if (unix_any)
		fprintf(f, "SocketMode=%04o\n", u->listen_mode);
	if (!u->backend)
		fprintf(f, "FileDescriptorName=%s\n", u->name);
	install(f, x, "sockets.target");
	exp_close(x, f);
}

static void proxy_file(struct exp *x, const struct unit_config *u)
{
	char *name = unit_name(u->name, "-proxy.service");
	char *svc = unit_name(u->name, ".service");
	char *sock = unit_name(u->name, "-proxy.socket");
	FILE *f = exp_open(x, name);
	free(name);
	if (f) {
		char host[80], path[4096], b[32];
		unsigned port;
		exp_addr(u->backend, host, sizeof(host), &port, path, sizeof(path));
		exp_head(x, f, u);
		unit_head(f, x, "proxy of", u);
		fprintf(f, "Requires=%s %s\nAfter=%s %s\n\n[Service]\n", svc, sock,
		        svc, sock);
		fprintf(f, "ExecStart=%s",
		        first_existing("/lib/systemd/systemd-socket-proxyd",
		                       "/usr/lib/systemd/systemd-socket-proxyd"));
		if (u->idle_stop_ms)
			fprintf(f, " --exit-idle-time=%s", sd_duration(u->idle_stop_ms, b));
		struct buf w = { 0 };
		if (path[0]) {
			sd_word(&w, path, true);
		} else {
			char *hp = xasprintf("%s:%u", host, port);
			sd_word(&w, hp, true);
			free(hp);
		}
		fprintf(f, " %s\n", w.s);
		free(w.s);
		user_line(f, x);
		exp_close(x, f);
	}
	free(svc);
	free(sock);
}

static void timer_file(struct exp *x, const struct unit_config *u)
{
	char *name = unit_name(u->name, ".timer");
	FILE *f = exp_open(x, name);
	free(name);
	if (!f)
		return;
	char b[32];
	uint64_t acc = u->every_ms / 10;
	acc = acc < 1 ? 1 : acc > 1000 ? 1000 : acc;
	exp_head(x, f, u);
	unit_head(f, x, "every of", u);
	fputs("\n[Timer]\n", f);
	fprintf(f, "OnActiveSec=%s\n", sd_duration(u->every_ms, b));
	fprintf(f, "OnUnitActiveSec=%s\n", sd_duration(u->every_ms, b));
	fprintf(f, "AccuracySec=%s\n", sd_duration(acc, b));
	install(f, x, "timers.target");
	exp_close(x, f);
}

/* A .path for watch: a job's starts its service; a service's starts
 * NAME-watch.service, which restarts the service (on-change = restart). */
static void path_files(struct exp *x, const struct unit_config *u)
{
	bool job = u->kind == KIND_JOB;
	char *name = unit_name(u->name, job ? ".path" : "-watch.path");
	FILE *f = exp_open(x, name);
	free(name);
	if (f) {
		exp_head(x, f, u);
		unit_head(f, x, "watch of", u);
		fputs("\n[Path]\n", f);
		for (size_t i = 0; i < u->watch.n; i++) {
			char *p = sd_path(u->watch.v[i]);
			fprintf(f, "PathChanged=%s\n", p);
			free(p);
		}
		install(f, x, "paths.target");
		exp_close(x, f);
	}
	if (job)
		return;
	name = unit_name(u->name, "-watch.service");
	f = exp_open(x, name);
	free(name);
	if (!f)
		return;
	char *svc = unit_name(u->name, ".service");
	struct buf w = { 0 };
	sd_word(&w, svc, true);
	exp_head(x, f, u);
	unit_head(f, x, "on-change of", u);
	fprintf(f, "\n[Service]\nType=oneshot\nExecStart=%s%s try-restart %s\n",
	        first_existing("/usr/bin/systemctl", "/bin/systemctl"),
	        x->user ? " --user" : "", w.s);
	free(w.s);
	free(svc);
	exp_close(x, f);
}

int export_systemd(struct exp *x)
{
	for (size_t i = 0; i < x->nunits; i++) {
		const struct unit_config *u = x->units[i];
		exp_notes_begin(x, u, systemd_lost);
		partial_notes(x, u);
		service_file(x, u);
		if (u->listen.n)
			socket_file(x, u);
		if (u->listen.n && u->backend)
			proxy_file(x, u);
		if (u->every_ms)
			timer_file(x, u);
		if (u->watch.n)
			path_files(x, u);
	}
	return 0;
}
