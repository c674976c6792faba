/* setup — see setup.h. */
#include "setup.h"
#include "config.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_USAGE 2

extern char **environ;

/* What every file enable writes says in its first line; disable removes
 * only files that say it. */
#define WRITTEN_BY "written by `tend enable`"

static const char usage_init[] =
	"usage: tend [-c FILE] init\n"
	"\n"
	"Writes a commented starter configuration to FILE: -c FILE, else\n"
	"$TEND_CONFIG, else the default daemon's, $XDG_CONFIG_HOME/tend/tend.ini\n"
	"(~/.config/tend/tend.ini).  It holds an MCP server shared by every\n"
	"agent session (stdio = mcp), a TCP service started by its first client\n"
	"(listen, backend) and a job run when files change (watch); edit it,\n"
	"check it with tend check, run it with tend up (or tend enable).\n"
	"An existing file is never overwritten (exit 2).\n";

static const char usage_enable[] =
	"usage: tend enable [--now] [--systemd | --autostart]\n"
	"\n"
	"Starts the default daemon (of $XDG_CONFIG_HOME/tend/tend.ini, else\n"
	"~/.config/tend/tend.ini, which must exist and load: tend init writes\n"
	"one) at every login.  Where systemd is PID 1: a systemd --user unit,\n"
	"$XDG_CONFIG_HOME/systemd/user/tend.service, running tend up in the\n"
	"foreground, enabled in default.target; elsewhere an XDG autostart\n"
	"entry, $XDG_CONFIG_HOME/autostart/tend.desktop, running tend up -d when\n"
	"the desktop session starts.  Both run this tend (its full path) with\n"
	"the PATH of this shell; the unit also gets XDG_CONFIG_HOME and\n"
	"XDG_STATE_HOME when they are set.  Run it again to update them.\n"
	"\n"
	"  --now        also start the daemon now (systemctl --user start\n"
	"               tend.service; without a user manager, tend up -d)\n"
	"  --systemd    write the systemd unit, whatever PID 1 is\n"
	"  --autostart  write the autostart entry, whatever PID 1 is\n";

static const char usage_disable[] =
	"usage: tend disable [--now]\n"
	"\n"
	"Removes what tend enable wrote (the systemd unit and its link in\n"
	"default.target.wants, the autostart entry); files tend did not write\n"
	"are left alone.  --now: also stop the default daemon (systemctl --user\n"
	"stop tend.service, else tend down).\n";

/* The starter file of tend init: every unit in it loads (tend check) and
 * runs on a Debian machine with node and python3. */
static const char starter[] =
	"; tend.ini: a starting point written by `tend init` (tend %s).\n"
	"; tend check validates it, tend up runs it, tend enable runs it at every\n"
	"; login.  Every key, its syntax and its default: man tend.ini.\n"
	";\n"
	"; A section is a unit: a [service NAME] is kept running (or started when\n"
	"; a client comes), a [job NAME] runs to its end when asked.  Comments\n"
	"; start with ; or #.  After an edit, tend reload touches only what changed.\n"
	"\n"
	"[tend]\n"
	"; log-max = 10M            ; log size per unit before rotation (3 kept)\n"
	"; pid-namespace = yes      ; nothing of a run outlives tend, even SIGKILLed\n"
	"\n"
	"; An MCP server that every agent session shares: a client runs\n"
	";   tend connect memory\n"
	"; in place of the server's own command (tend mcp import rewrites the\n"
	"; clients' files so).  One instance serves them all: it starts with the\n"
	"; first client and stops after 10 idle minutes.\n"
	"[service memory]\n"
	"exec = npx -y @modelcontextprotocol/server-memory\n"
	"stdio = mcp\n"
	"idle-stop = 10m\n"
	"memory-max = 1G            ; above it: restarted, reason memory\n"
	"\n"
	"; A TCP service started by its first client: tend holds 127.0.0.1:8080,\n"
	"; starts the service, and relays each client to the port the service\n"
	"; listens on itself.  Stopped after 15 minutes without a client.\n"
	"[service web]\n"
	"exec = python3 -m http.server 8081 --bind 127.0.0.1 --directory /usr/share/doc\n"
	"listen = tcp:127.0.0.1:8080\n"
	"backend = tcp:127.0.0.1:8081\n"
	"idle-stop = 15m\n"
	"\n"
	"; A job run whenever something below ~/notes is written (reads never\n"
	"; count; the directory may come later), and on tend run notes.  Its\n"
	"; output: tend logs notes.\n"
	"[job notes]\n"
	"exec = sh -c 'cat \"$HOME\"/notes/*.md | wc -w'\n"
	"watch = ~/notes\n"
	"debounce = 1s\n"
	"timeout = 5m\n";

/* --- small helpers --- */

/* Is ARG one of the words --help, -h? */
static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* $XDG_CONFIG_HOME (an absolute path), else ~/.config (malloc'd). */
static char *config_home(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg == '/')
		return xstrdup(xdg);
	char *home = paths_home();
	char *dir = xasprintf("%s/.config", home);
	free(home);
	return dir;
}

/* Makes the directories above PATH that are missing (0755, as a user's
 * configuration directories are).  Returns 0, or -1 with errno. */
static int make_parents(const char *path)
{
	char *p = xstrdup(path);
	int r = 0;
	for (char *s = strchr(p + 1, '/'); s && r == 0; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	int e = errno;
	free(p);
	errno = e;
	return r;
}

/* Writes TEXT to PATH: new (O_EXCL) when EXCL, else replacing it through a
 * temporary file beside it.  Returns 0, or -1 with *ERR. */
static int write_file(const char *path, const char *text, bool excl, char **err)
{
	if (make_parents(path) < 0) {
		*err = xasprintf("cannot make the directory of %s: %s", path,
		                 strerror(errno));
		return -1;
	}
	char *tmp = excl ? xstrdup(path) : xasprintf("%s.tend-XXXXXX", path);
	int fd = excl ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
	              : mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	size_t len = strlen(text);
	bool ok = (excl || fchmod(fd, 0644) == 0) &&
	          write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	int e = errno;
	ok = close(fd) == 0 && ok;
	if (ok && !excl && rename(tmp, path) < 0)
		ok = false, e = errno;
	if (!ok) {
		*err = xasprintf("cannot write %s: %s", path, strerror(e));
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

/* Runs ARGV (looked up in PATH) to its end, stdin from /dev/null.
 * Returns its exit code, 127 when it could not be started. */
static int run_argv(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e != 0) {
		errline("cannot run %s: %s", argv[0], strerror(e));
		return 127;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* This tend's own path (malloc'd), or NULL after an error line. */
static char *self_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0) {
		errline("cannot find this tend's own path (/proc/self/exe): %s",
		        strerror(errno));
		return NULL;
	}
	buf[n] = 0;
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0) {
		errline("this tend's binary was removed or replaced (%s); run the "
		        "installed tend", buf);
		return NULL;
	}
	return xstrdup(buf);
}

/* Is systemd PID 1 (sd_booted(3)'s test), so that a user manager runs? */
static bool systemd_booted(void)
{
	struct stat st;
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/* --- init --- */

int setup_init(const char *cfgarg, int argc, char **argv)
{
	if (argc > 0 && is_help(argv[0])) {
		fputs(usage_init, stdout);
		return 0;
	}
	if (argc > 0) {
		errline("init: unexpected argument \"%s\"; see tend init --help", argv[0]);
		return EXIT_USAGE;
	}
	char *path = config_locate_default(cfgarg), *err = NULL;
	char *text = xasprintf(starter, TEND_VERSION);
	struct stat st;
	int code = 0;
	if (lstat(path, &st) == 0) {
		errline("init: %s exists already, and tend init never overwrites a "
		        "file: edit it, or name a new one with tend -c FILE init", path);
		code = EXIT_USAGE;
	} else if (write_file(path, text, true, &err) < 0) {
		errline("init: %s", err);
		code = 1;
	} else {
		printf("wrote %s: check it with tend%s%s check, run it with tend%s%s "
		       "up\n", path, cfgarg ? " -c " : "", cfgarg ? cfgarg : "",
		       cfgarg ? " -c " : "", cfgarg ? cfgarg : "");
	}
	free(err);
	free(text);
	free(path);
	return code;
}

/* --- the files enable writes --- */

struct places {
	char *config;     /* the default daemon's file */
	char *unit;       /* .../systemd/user/tend.service */
	char *wants;      /* .../systemd/user/default.target.wants/tend.service */
	char *desktop;    /* .../autostart/tend.desktop */
};

static void places_init(struct places *pl)
{
	char *home = config_home();
	pl->config = paths_user_config();
	pl->unit = xasprintf("%s/systemd/user/tend.service", home);
	pl->wants = xasprintf("%s/systemd/user/default.target.wants/tend.service", home);
	pl->desktop = xasprintf("%s/autostart/tend.desktop", home);
	free(home);
}

static void places_free(struct places *pl)
{
	free(pl->config);
	free(pl->unit);
	free(pl->wants);
	free(pl->desktop);
}

/* Adds WORD to B quoted for a systemd command line or Environment=
 * (specifiers: % as %%; QUOTE: always in "..."). */
static void add_systemd_word(struct buf *b, const char *word, bool quote)
{
	quote = quote || !*word || strpbrk(word, " \t\"'\\;$") != NULL;
	if (quote)
		buf_addc(b, '"');
	for (const char *c = word; *c; c++) {
		if (*c == '%')
			buf_addc(b, '%');
		else if (*c == '$')
			buf_addc(b, '$');
		else if (*c == '"' || *c == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *c);
	}
	if (quote)
		buf_addc(b, '"');
}

static void add_systemd_arg(struct buf *b, const char *word)
{
	add_systemd_word(b, word, false);
}

/* Adds the N words of ARGV to B as one command line, each by ADD, and a
 * newline. */
static void add_line(struct buf *b, const char *const *argv, size_t n,
                     void (*add)(struct buf *, const char *))
{
	for (size_t i = 0; i < n; i++) {
		add(b, argv[i]);
		buf_addc(b, i + 1 < n ? ' ' : '\n');
	}
}

static void add_systemd_env(struct buf *b, const char *var)
{
	const char *v = getenv(var);
	if (!v || !*v || (strcmp(var, "PATH") != 0 && *v != '/'))
		return;
	char *kv = xasprintf("%s=%s", var, v);
	buf_adds(b, "Environment=");
	add_systemd_word(b, kv, true);
	buf_addc(b, '\n');
	free(kv);
}

static char *unit_text(const char *self, const char *config)
{
	struct buf b = { 0 };
	buf_addf(&b, "# tend.service: " WRITTEN_BY " (tend %s);\n"
	         "# `tend disable` removes it.  Runs the default daemon of tend, for\n"
	         "# the user's own file, in the foreground of the user manager.\n"
	         "[Unit]\n"
	         "Description=tend, the default daemon\n"
	         "Documentation=man:tend(1) man:tend.ini(5)\n"
	         "\n"
	         "[Service]\n"
	         "Type=simple\n"
	         "ExecStart=", TEND_VERSION);
	const char *up[] = { self, "-c", config, "up" };
	add_line(&b, up, ARRAY_LEN(up), add_systemd_arg);
	buf_adds(&b, "ExecReload=");
	const char *reload[] = { self, "-c", config, "reload" };
	add_line(&b, reload, ARRAY_LEN(reload), add_systemd_arg);
	/* SIGTERM to tend alone: it stops every tree itself, gracefully;
	 * SIGKILL to what is left after TimeoutStopSec. */
	buf_adds(&b, "KillMode=mixed\n"
	             "Restart=on-failure\n"
	             "RestartSec=1s\n"
	             "WorkingDirectory=~\n");
	add_systemd_env(&b, "PATH");
	add_systemd_env(&b, "XDG_CONFIG_HOME");
	add_systemd_env(&b, "XDG_STATE_HOME");
	buf_adds(&b, "\n[Install]\nWantedBy=default.target\n");
	return buf_take(&b);
}

/* Adds WORD to B as an argument of a desktop entry's Exec key. */
static void add_desktop_word(struct buf *b, const char *word)
{
	bool quote = !*word || strpbrk(word, " \t\n\"'\\><~|&;$*?#()`=%") != NULL;
	if (quote)
		buf_addc(b, '"');
	for (const char *c = word; *c; c++) {
		if (*c == '%')
			buf_addc(b, '%');
		else if (*c == '\\')
			buf_adds(b, "\\\\\\");   /* \ as \\, then as a string: \\\\ */
		else if (*c == '"' || *c == '`' || *c == '$')
			buf_adds(b, "\\\\");   /* \", as a string: \\" */
		buf_addc(b, *c);
	}
	if (quote)
		buf_addc(b, '"');
}

static char *desktop_text(const char *self, const char *config)
{
	struct buf b = { 0 };
	buf_addf(&b, "# tend.desktop: " WRITTEN_BY " (tend %s);\n"
	         "# `tend disable` removes it.  Starts the default daemon of tend,\n"
	         "# for the user's own file, when the desktop session starts.\n"
	         "[Desktop Entry]\n"
	         "Type=Application\n"
	         "Name=tend\n"
	         "Comment=The default daemon of tend, a process supervisor\n"
	         "Exec=", TEND_VERSION);
	const char *up[] = { self, "-c", config, "up", "-d" };
	add_line(&b, up, ARRAY_LEN(up), add_desktop_word);
	buf_adds(&b, "Terminal=false\n"
	             "NoDisplay=true\n"
	             "X-GNOME-Autostart-enabled=true\n");
	return buf_take(&b);
}

/* Did tend enable write PATH?  (It exists, and says so.) */
static bool ours(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[256] = "";
	bool yes = fgets(line, sizeof(line), f) && strstr(line, WRITTEN_BY);
	(void)fclose(f);   /* read only */
	return yes;
}

/* Refuses to replace PATH when it exists and tend did not write it. */
static int may_write(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0 || ours(path))
		return 0;
	errline("enable: %s exists and tend did not write it; it is left alone: "
	        "remove it first if tend is to write its own", path);
	return -1;
}

/* --- enable --- */

enum how { HOW_AUTO, HOW_SYSTEMD, HOW_AUTOSTART };

static int enable_args(int argc, char **argv, bool *now, enum how *how)
{
	for (int i = 0; i < argc; i++) {
		enum how h = strcmp(argv[i], "--systemd") == 0 ? HOW_SYSTEMD :
		             strcmp(argv[i], "--autostart") == 0 ? HOW_AUTOSTART :
		             HOW_AUTO;
		if (strcmp(argv[i], "--now") == 0) {
			*now = true;
		} else if (h != HOW_AUTO && (*how == HOW_AUTO || *how == h)) {
			*how = h;
		} else if (h != HOW_AUTO) {
			errline("enable: --systemd and --autostart exclude each other; see "
			        "tend enable --help");
			return -1;
		} else {
			errline("enable: unexpected argument \"%s\"; see tend enable --help",
			        argv[i]);
			return -1;
		}
	}
	return 0;
}

/* The systemd way: the unit, its link into default.target.wants, and the
 * user manager told (when one runs). */
static int enable_systemd(const struct places *pl, const char *self, bool now,
                          bool manager)
{
	char *text = unit_text(self, pl->config), *err = NULL;
	int code = 0;
	if (may_write(pl->unit) < 0) {
		code = 1;
	} else if (write_file(pl->unit, text, false, &err) < 0 ||
	           make_parents(pl->wants) < 0) {
		errline("enable: %s", err ? err : strerror(errno));
		code = 1;
	} else {
		/* what systemctl enable makes: WantedBy=default.target */
		(void)unlink(pl->wants);
		if (symlink(pl->unit, pl->wants) < 0) {
			errline("enable: cannot link %s: %s", pl->wants, strerror(errno));
			code = 1;
		}
	}
	free(text);
	free(err);
	if (code)
		return code;
	printf("wrote %s (enabled: %s)\n", pl->unit, pl->wants);
	if (!manager) {
		printf("no systemd user manager runs here: the unit starts at the next "
		       "login where one does\n");
		return 0;
	}
	char *reload[] = { "systemctl", "--user", "daemon-reload", NULL };
	char *start[] = { "systemctl", "--user", "start", "tend.service", NULL };
	code = run_argv(reload);
	if (code == 0 && now)
		code = run_argv(start);
	if (code == 0 && now)
		printf("started: systemctl --user status tend.service\n");
	return code ? 1 : 0;
}

/* The XDG autostart way. */
static int enable_autostart(const struct places *pl, const char *self, bool now)
{
	char *text = desktop_text(self, pl->config), *err = NULL;
	int code = 0;
	if (may_write(pl->desktop) < 0) {
		code = 1;
	} else if (write_file(pl->desktop, text, false, &err) < 0) {
		errline("enable: %s", err);
		code = 1;
	}
	free(text);
	free(err);
	if (code)
		return code;
	printf("wrote %s: the desktop session starts tend at login\n", pl->desktop);
	if (now) {
		char *up[] = { (char *)self, "-c", pl->config, "up", "-d", NULL };
		code = run_argv(up);
	}
	return code;
}

int setup_enable(const char *cfgarg, int argc, char **argv)
{
	(void)cfgarg;   /* refused before: it is the default daemon's */
	if (argc > 0 && is_help(argv[0])) {
		fputs(usage_enable, stdout);
		return 0;
	}
	bool now = false;
	enum how how = HOW_AUTO;
	if (enable_args(argc, argv, &now, &how) < 0)
		return EXIT_USAGE;
	bool manager = systemd_booted();
	if (how == HOW_AUTO)
		how = manager ? HOW_SYSTEMD : HOW_AUTOSTART;
	if (how == HOW_SYSTEMD && now && !manager) {
		errline("enable: --now: no systemd user manager runs here (PID 1 is "
		        "not systemd); drop --now, or use --autostart");
		return 1;
	}
	struct places pl;
	places_init(&pl);
	int code = 1;
	struct stat st;
	char *self = NULL, *err = NULL;
	if (stat(pl.config, &st) < 0) {
		errline("enable: there is no %s, the default daemon's file; write a "
		        "starter one with tend init", pl.config);
		code = EXIT_USAGE;
	} else {
		/* a file that does not load would fail at every login */
		struct tend_config *cfg = config_load(pl.config, &err);
		if (!cfg) {
			errline("enable: %s", err);
			code = EXIT_USAGE;
		} else if ((self = self_path())) {
			code = how == HOW_SYSTEMD ? enable_systemd(&pl, self, now, manager)
			                          : enable_autostart(&pl, self, now);
		}
		config_free(cfg);
	}
	free(err);
	free(self);
	places_free(&pl);
	return code;
}

/* --- disable --- */

/* Removes PATH when tend enable wrote it; prints it.  Returns 1 when it
 * was removed, 0 when there was none, -1 when it is left alone or could
 * not be removed (after an error line). */
static int remove_ours(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (!ours(path)) {
		errline("disable: %s was not written by tend enable; it is left alone",
		        path);
		return -1;
	}
	if (unlink(path) < 0) {
		errline("disable: cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	printf("removed %s\n", path);
	return 1;
}

/* Removes the link WANTS when it points at UNIT. */
static int remove_link(const char *wants, const char *unit)
{
	char to[PATH_MAX];
	ssize_t n = readlink(wants, to, sizeof(to) - 1);
	if (n < 0)
		return 0;
	to[n] = 0;
	if (strcmp(to, unit) != 0 && strcmp(to, "../tend.service") != 0)
		return 0;
	if (unlink(wants) < 0) {
		errline("disable: cannot remove %s: %s", wants, strerror(errno));
		return -1;
	}
	printf("removed %s\n", wants);
	return 1;
}

int setup_disable(const char *cfgarg, int argc, char **argv)
{
	(void)cfgarg;   /* refused before */
	if (argc > 0 && is_help(argv[0])) {
		fputs(usage_disable, stdout);
		return 0;
	}
	bool now = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--now") != 0) {
			errline("disable: unexpected argument \"%s\"; see tend disable "
			        "--help", argv[i]);
			return EXIT_USAGE;
		}
		now = true;
	}
	struct places pl;
	places_init(&pl);
	bool manager = systemd_booted();
	int code = 0;
	if (now && manager && ours(pl.unit)) {
		char *stop[] = { "systemctl", "--user", "stop", "tend.service", NULL };
		code = run_argv(stop) ? 1 : 0;
	} else if (now) {
		char *self = self_path();
		char *down[] = { self, "-c", pl.config, "down", NULL };
		code = self && run_argv(down) == 0 ? 0 : 1;
		free(self);
	}
	int l = remove_link(pl.wants, pl.unit);
	int u = remove_ours(pl.unit);
	int d = remove_ours(pl.desktop);
	if (l < 0 || u < 0 || d < 0)
		code = 1;
	if (u > 0 && manager) {
		char *reload[] = { "systemctl", "--user", "daemon-reload", NULL };
		if (run_argv(reload) != 0)
			code = 1;
	}
	if (l == 0 && u == 0 && d == 0 && code == 0)
		printf("tend was not enabled (no %s, no %s)\n", pl.unit, pl.desktop);
	places_free(&pl);
	return code;
}
