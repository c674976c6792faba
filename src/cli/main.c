/* tend — command line: global options, then one command. */
#include "config.h"
#include "events.h"
#include "export.h"
#include "client.h"
#include "cmd.h"
#include "complete.h"
#include "daemon.h"
#include "keeper.h"
#include "mcpimport.h"
#include "paths.h"
#include "proc.h"
#include "setup.h"
#include "sup.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char usage_main[] =
	"usage: tend [-c FILE] COMMAND [ARGS]\n"
	"\n"
	"A supervisor for the helpers developers run on their own machines:\n"
	"one instance each, memory-capped, contained, asleep when idle.\n"
	"\n"
	"Commands:\n"
	"  up [-d] [--json]     run the daemon of the file (foreground; -d: detach,\n"
	"                       return when every boot service is ready or failed)\n"
	"  down                 stop everything, then the daemon\n"
	"  status [NAME...] [--json]\n"
	"                       state, pid, uptime, restarts, procs, memory, clients,\n"
	"                       why it is down or its last exit, listen, next run\n"
	"  start|stop|restart NAME... [--wait]\n"
	"                       start (the daemon too, if needed), stop, restart\n"
	"                       services; a NAME may be a glob ('idx-*') or all\n"
	"  reload               re-read the file; touch only what changed\n"
	"  logs [NAME...] [-f] [-n LINES] [--since WHEN] [--timestamps] [--color=WHEN]\n"
	"                       output of the units, from their log files, merged\n"
	"                       by time\n"
	"  events [-f] [--json] [-n LINES]\n"
	"                       what happened: spawned, exited (with reason), ...\n"
	"  top                  a live view: state, CPU, memory with its sparkline;\n"
	"                       keys to start, stop, restart, follow a log\n"
	"  run JOB... [--wait | --join] [--force]\n"
	"                       ask for a run of JOB (one at a time; requests made\n"
	"                       during a run share one trailing run)\n"
	"  connect SERVICE      bridge stdin/stdout to SERVICE (stdio = exclusive,\n"
	"                       per-client, mcp); starts the daemon and the service\n"
	"  connect [--KEY VALUE ...] -- CMD [ARG ...]\n"
	"                       the same for the MCP server CMD, no file needed:\n"
	"                       one shared instance per command, directory, flags\n"
	"                       and environment, in the user's default daemon\n"
	"  mcp import|unimport [CLIENT ...] [--dry-run]\n"
	"                       route the stdio servers of the MCP clients' own\n"
	"                       configuration files through tend, and back\n"
	"  check                validate the file, print the effective settings\n"
	"  export systemd|kubernetes|compose [NAME ...] [-o DIR] [--user]\n"
	"                       what those engines run, from the same file; keys\n"
	"                       without a counterpart named on stderr and in it\n"
	"  exec [--KEY VALUE ...] -- CMD [ARG ...]\n"
	"                       supervise one command in the foreground, no file\n"
	"  init                 write a commented starter file (never over one)\n"
	"  enable [--now]       start the default daemon at every login (a systemd\n"
	"                       --user unit, else an XDG autostart entry)\n"
	"  disable [--now]      undo enable\n"
	"\n"
	"Options:\n"
	"  -c FILE              configuration file; else $TEND_CONFIG, ./tend.ini,\n"
	"                       $XDG_CONFIG_HOME/tend/tend.ini (the default daemon's,\n"
	"                       which need not exist)\n"
	"  -h, --help           this help; `tend COMMAND --help` for one command\n"
	"  -V, --version        print the version\n"
	"\n"
	"Exit codes: 0 success, 1 the operation failed, 2 bad usage or\n"
	"configuration, 3 the daemon could not be reached or started.\n"
	"Documentation: man tend, man tend.ini (the configuration file);\n"
	"the whole of it in /usr/share/doc/tend (docs/ in the source tree).\n";

static const char usage_up[] =
	"usage: tend [-c FILE] up [-d] [--json]\n"
	"\n"
	"Runs the daemon of the file: one per file (a second one reports the\n"
	"first and exits 1; with -d, 0).  It starts every [service] with start =\n"
	"boot, keeps them up by their restart policy, and answers tend status,\n"
	"start, stop, ... on its control socket.  Output of services goes to\n"
	"their log files (tend logs) and, in the foreground, to stdout as\n"
	"\"NAME | line\"; events to the events file (tend events) and, in the\n"
	"foreground, to stderr (--json: as JSON lines).\n"
	"\n"
	"-d: detach; return when every boot service is ready (exit 0: see the\n"
	"ready key) or some failed first (exit 1, one line each).\n"
	"\n"
	"SIGTERM or Ctrl-C (or tend down) stops every process tree gracefully\n"
	"and exits 0; a second Ctrl-C kills at once; SIGHUP reloads the file.\n";

static const char usage_check[] =
	"usage: tend [-c FILE] check\n"
	"\n"
	"Validates the file and prints the effective settings of every unit,\n"
	"defaults included, as INI.  Exit 0 when valid, 2 with one error line\n"
	"(file:line, what is wrong, what to do) when not.\n";

static const char usage_exec[] =
	"usage: tend exec [--KEY VALUE ...] [--json] [--] CMD [ARG ...]\n"
	"\n"
	"Supervises one command in the foreground: no file, no daemon.  The\n"
	"command runs in its own session; its whole process tree is one unit,\n"
	"restarted by policy and stopped completely.  Works as PID 1 in a\n"
	"container: reaps every zombie and forwards signals to the whole tree.\n"
	"\n"
	"Exit code: the command's own when it is not restarted (128+N when a\n"
	"signal N ended it); 1 when tend gave up after max-crashes; 127 (or\n"
	"126) when the command could not be started; 2 for bad usage.\n"
	"\n"
	"Every service key of tend.ini is a flag (--KEY VALUE or --KEY=VALUE;\n"
	"defaults in brackets):\n";

static int want_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

/* The file of CFGARG as config_open would open it, when there is none:
 * an error line that names the path looked for and says what to do
 * (tend init); returns -1.  Else 0. */
static int config_missing(const char *cfgarg)
{
	char *path = config_locate(cfgarg);
	int r = 0;
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		char *why = paths_no_file(path);
		errline("%s", why);
		free(why);
		r = -1;
	}
	free(path);
	return r;
}

static int cmd_check(const char *cfgarg, int argc, char **argv)
{
	if (want_help(argc, argv)) {
		fputs(usage_check, stdout);
		return 0;
	}
	if (argc > 0) {
		errline("check: unexpected argument \"%s\"; see tend check --help", argv[0]);
		return EXIT_USAGE;
	}
	if (config_missing(cfgarg) < 0)
		return EXIT_USAGE;
	struct tend_config *cfg = config_open(cfgarg);
	if (!cfg)
		return EXIT_USAGE;
	config_print(cfg, stdout);
	config_free(cfg);
	return 0;
}

/* The file of CFGARG loaded, as tend check loads it; NULL after its
 * error lines. */
static struct tend_config *open_checked(const char *cfgarg)
{
	return config_missing(cfgarg) < 0 ? NULL : config_open(cfgarg);
}

static int cmd_export(const char *cfgarg, int argc, char **argv)
{
	return export_command(cfgarg, argc, argv, open_checked);
}

static int supervise(struct tend_config *cfg, bool json)
{
	struct events *ev = events_new(2, json);
	bool notify = cfg->units[0]->ready == READY_NOTIFY || cfg->units[0]->watchdog_ms;
	struct sup *s = sup_new(cfg, ev, true, NULL, -1);
	if (!s) {
		errline("cannot create the event loop");
		events_free(ev);
		return 1;
	}
	/* sd_notify for tend exec too, when the command is to use it: a
	 * socket of this tend's own in the runtime directory. */
	if (notify) {
		char *dir = paths_rundir(), *err = NULL;
		int fd = paths_open_dir(dir, true, "XDG_RUNTIME_DIR", &err);
		if (fd < 0) {
			errline("%s; the command runs without NOTIFY_SOCKET", err);
			free(err);
		} else {
			close(fd);
			char *prefix = xasprintf("%s/exec-%d.", dir, (int)getpid());
			sup_notify_enable(s, prefix);
			free(prefix);
		}
		free(dir);
	}
	int code = sup_run(s);
	sup_free(s);
	events_free(ev);
	return code;
}

static int cmd_up(const char *cfgarg, int argc, char **argv)
{
	bool json = false;
	if (want_help(argc, argv)) {
		fputs(usage_up, stdout);
		return 0;
	}
	bool detach = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--detach") == 0) {
			detach = true;
		} else {
			errline("up: unknown argument \"%s\"; see tend up --help", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (config_missing(cfgarg) < 0)
		return EXIT_USAGE;
	struct tend_config *cfg = config_open(cfgarg);
	if (!cfg)
		return EXIT_USAGE;
	return daemon_up(cfg, detach, json);
}

/* tend exec's options, which come first (the command starts at "--" or
 * the first word that is not an option), into KEYS and VALS (--json into
 * *JSON).  Returns the index of the command in ARGV, or -1 - the exit code
 * when done: after --help, or after an error line. */
static int exec_options(int argc, char **argv, struct strv *keys,
                        struct strv *vals, bool *json)
{
	int i = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0)
			break;
		if (strcmp(a, "--help") == 0) {
			fputs(usage_exec, stdout);
			config_print_flags(stdout, false);
			fputs("  --json             event lines on stderr as JSON\n", stdout);
			return -1;
		}
		if (strcmp(a, "--json") == 0) {
			*json = true;
			continue;
		}
		const char *eq = strchr(a, '=');
		if (eq) {
			strv_push(keys, strndup(a + 2, (size_t)(eq - a - 2)));
			strv_push(vals, xstrdup(eq + 1));
		} else if (i + 1 < argc) {
			strv_push(keys, xstrdup(a + 2));
			strv_push(vals, xstrdup(argv[++i]));
		} else {
			errline("exec: %s needs a value; see tend exec --help", a);
			return -1 - EXIT_USAGE;
		}
	}
	if (i >= argc) {
		errline("exec: no command given; usage: tend exec [--KEY VALUE ...] "
		        "-- CMD [ARG ...]");
		return -1 - EXIT_USAGE;
	}
	return i;
}

/* The configuration of tend exec: CMD, set as the flags KEYS = VALS say;
 * NULL after an error line. */
static struct tend_config *exec_config(char **cmd, const struct strv *keys,
                                       const struct strv *vals)
{
	struct tend_config *cfg = config_for_exec(cmd);
	char *err = NULL;
	for (size_t k = 0; k < keys->n; k++) {
		if (strcmp(keys->v[k], "exec") == 0) {
			errline("exec: the command comes after \"--\", not from --exec");
			config_free(cfg);
			return NULL;
		}
		if (!config_is_key(keys->v[k], KIND_SERVICE)) {
			errline("exec: unknown flag --%s; see tend exec --help", keys->v[k]);
			config_free(cfg);
			return NULL;
		}
		if (config_set(cfg, cfg->units[0], keys->v[k], vals->v[k], 0, &err) < 0)
			break;
	}
	if (err || config_finish(cfg, &err) < 0) {
		errline("%s", err);
		free(err);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static int cmd_exec(const char *cfgarg, int argc, char **argv)
{
	(void)cfgarg;   /* refused before: its settings are flags */
	bool json = false;
	struct strv keys = { 0 }, vals = { 0 };
	int code = EXIT_USAGE;
	int i = exec_options(argc, argv, &keys, &vals, &json);
	struct tend_config *cfg = i < 0 ? NULL : exec_config(argv + i, &keys, &vals);
	if (i < 0)
		code = -1 - i;
	if (cfg) {
		code = supervise(cfg, json);
		config_free(cfg);
	}
	strv_free(&keys);
	strv_free(&vals);
	return code;
}

static int cmd_help(const char *cfgarg, int argc, char **argv)
{
	(void)cfgarg, (void)argc, (void)argv;
	fputs(usage_main, stdout);
	return 0;
}

static int cmd_mcp(const char *cfgarg, int argc, char **argv)
{
	(void)cfgarg;   /* refused: see the table */
	return mcp_command(argc, argv);
}

static int cmd_completions(const char *cfgarg, int argc, char **argv);

/* The options taken ahead of the command (global_options). */
static const char global_flags[] = "-c --config -h --help -V --version";

/* Every command of the CLI, in the order of tend --help: those that are a
 * request to the daemon (run NULL) take what cmd.h's table says; the
 * others run here and take what their entry says.  The shell completions
 * are made from this table alone (complete.h). */
/* tend top: its own program, tend-top, beside this one (top_main.c: the
 * terminal library is loaded by it alone). */
static int top_exec(const char *cfgarg, int argc, char **argv)
{
	char *path = exe_sibling("tend-top");
	if (!path) {
		errline("top: cannot tell where tend is (/proc/self/exe: %s)",
		        strerror(errno));
		return 1;
	}
	char **args = xcalloc((size_t)argc + 4, sizeof(*args));
	size_t k = 0;
	args[k++] = (char *)"tend-top";
	if (cfgarg) {
		args[k++] = (char *)"-c";
		args[k++] = (char *)cfgarg;
	}
	for (int i = 0; i < argc; i++)
		args[k++] = argv[i];
	execv(path, args);
	errline("top: cannot run %s (%s); it is built and installed beside tend "
	        "(make, make install)", path, strerror(errno));
	free(args);
	free(path);
	return 127;
}

static const struct cli_cmd cli_cmds[] = {
	{ "up", "run the daemon of the file", cmd_up, "-d --json",
	  COMP_NONE, NULL, false, false, NULL },
	{ "down", "stop everything, then the daemon", NULL, NULL, COMP_NONE, NULL,
	  false, false, NULL },
	{ "status", "state, memory, clients of the units; why one is down", NULL, NULL,
	  COMP_NONE, NULL, false, false, NULL },
	{ "start", "start a service (and the daemon)", NULL, NULL, COMP_NONE, NULL,
	  false, false, NULL },
	{ "stop", "stop a unit's whole process tree", NULL, NULL, COMP_NONE, NULL,
	  false, false, NULL },
	{ "restart", "restart a service", NULL, NULL, COMP_NONE, NULL, false, false,
	  NULL },
	{ "reload", "re-read the file; touch only what changed", NULL, NULL,
	  COMP_NONE, NULL, false, false, NULL },
	{ "logs", "output of the units, from their log files", client_logs,
	  "-f -n --since --timestamps --color", COMP_UNIT, NULL, false, false, NULL },
	{ "events", "what happened: spawned, exited, ...", client_events,
	  "-f --json -n", COMP_NONE, NULL, false, false, NULL },
	{ "top", "a live view of the units, with keys to act", top_exec, NULL,
	  COMP_NONE, NULL, false, false, NULL },
	{ "run", "ask for a run of a job", NULL, NULL, COMP_NONE, NULL, false,
	  false, NULL },
	{ "connect", "bridge stdin/stdout to a service, or to a shared CMD", NULL,
	  NULL, COMP_NONE, NULL, false, false, NULL },
	{ "mcp", "route the MCP clients' stdio servers through tend, and back",
	  cmd_mcp, "--dry-run --http --port --no-auth", COMP_WORDS, "import unimport",
	  false, false,
	  "mcp takes no -c FILE: it edits the MCP clients' files (import --http: "
	  "and the default daemon's tend.ini, or $TEND_CONFIG); see tend mcp --help" },
	{ "check", "validate the file, print the effective settings", cmd_check,
	  NULL, COMP_NONE, NULL, false, false, NULL },
	{ "export", "write systemd units, a Kubernetes manifest or a compose.yaml",
	  cmd_export, "-o --user", COMP_WORDS, "systemd kubernetes compose", false,
	  false, NULL },
	{ "exec", "supervise one command in the foreground, no file", cmd_exec,
	  "--json", COMP_COMMAND, NULL, true, false,
	  "exec takes no -c FILE: its settings are flags; see tend exec --help" },
	{ "init", "write a commented starter file", setup_init, NULL, COMP_NONE,
	  NULL, false, false, NULL },
	{ "enable", "start the default daemon at every login", setup_enable,
	  "--now --systemd --autostart", COMP_NONE, NULL, false, false,
	  "enable takes no -c FILE: it is for the default daemon, of "
	  "$XDG_CONFIG_HOME/tend/tend.ini; see tend enable --help" },
	{ "disable", "undo enable", setup_disable, "--now", COMP_NONE, NULL, false,
	  false, "disable takes no -c FILE: it is for the default daemon; see "
	  "tend disable --help" },
	{ "help", "this help", cmd_help, NULL, COMP_NONE, NULL, false, false, NULL },
	{ "completions", "print the shell completion script", cmd_completions,
	  NULL, COMP_WORDS, "bash zsh fish names", false, true, NULL },
};

static int cmd_completions(const char *cfgarg, int argc, char **argv)
{
	return complete_command(cli_cmds, ARRAY_LEN(cli_cmds), global_flags, cfgarg,
	                        argc, argv);
}

/* Runs the command CMD with its ARGC arguments ARGV. */
static int dispatch(const char *cfgarg, const char *cmd, int argc, char **argv)
{
	const struct cmd_info *ci = cmd_find(cmd);
	if (ci && ci->cli)
		return client_command(cfgarg, ci, argc, argv);
	for (size_t k = 0; k < ARRAY_LEN(cli_cmds); k++) {
		if (!cli_cmds[k].run || strcmp(cmd, cli_cmds[k].name) != 0)
			continue;
		if (cfgarg && cli_cmds[k].no_config) {
			errline("%s", cli_cmds[k].no_config);
			return EXIT_USAGE;
		}
		return cli_cmds[k].run(cfgarg, argc, argv);
	}
	errline("unknown command \"%s\"; see tend --help", cmd);
	return EXIT_USAGE;
}

/* The global options ahead of the command: -c FILE into *CFGARG.  Returns
 * the index of the command word, or -1 - the exit code when done. */
static int global_options(int argc, char **argv, const char **cfgarg)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i >= argc) {
				errline("-c needs a FILE; see tend --help");
				return -1 - EXIT_USAGE;
			}
			*cfgarg = argv[i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			*cfgarg = a + 9;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_main, stdout);
			return -1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("tend %s\n", TEND_VERSION);
			return -1;
		} else {
			errline("unknown option \"%s\"; see tend --help", a);
			return -1 - EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage_main, stderr);
		return -1 - EXIT_USAGE;
	}
	return i;
}

int main(int argc, char **argv)
{
	/* tend's keeper (keeper.h): tend itself, exec'd by a daemon. */
	if (argc == 2 && strcmp(argv[0], "tend-keeper") == 0)
		return keeper_run(argv[1]);
	/* Before anything is opened: a tend started with stdin, stdout or
	 * stderr closed would otherwise get a pipe or a socket there, and
	 * pass it on to every service as its stdin, stdout or stderr (or
	 * lose it to a dup2 onto 0-2). */
	if (fd_std_open() < 0) {
		errline("cannot open /dev/null for a closed stdin, stdout or "
		        "stderr: %s", strerror(errno));
		return 1;
	}
	const char *cfgarg = NULL;
	int i = global_options(argc, argv, &cfgarg);
	if (i < 0)
		return -1 - i;
	return dispatch(cfgarg, argv[i], argc - i - 1, argv + i + 1);
}
