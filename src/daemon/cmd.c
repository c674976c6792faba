/* cmd — the table of commands (cmd.h). */
#include "cmd.h"
#include "suggest.h"
#include "util.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the --help texts --- */

static const char usage_status[] =
	"usage: tend [-c FILE] status [NAME...] [--json | --json=1]\n"
	"\n"
	"Shows every unit (or those NAMEs: names, shell-style globs such as\n"
	"'idx-*' or 'worker?', or all): state, pid, uptime, restarts, processes in\n"
	"its tree, memory (anon+shmem of the tree, each page once), clients, and\n"
	"why it is not running or how it last exited; under it, its listen\n"
	"addresses and a job's next run; then the daemon's own pid, memory, fds\n"
	"and wakeups.  On a terminal the table fits its width ($COLUMNS, else\n"
	"the terminal's): PROCS and KIND go, names are cut to 24 columns, then\n"
	"RESTARTS, CLIENTS, PID and UPTIME go, and what is still too long is\n"
	"cut with an ellipsis; elsewhere lines are whole unless $COLUMNS is\n"
	"set.  --json\n"
	"prints {\"version\": 2, \"daemon\": {...}, \"units\": [...]}, as\n"
	"docs/protocol.md documents; --json=1 the old array whose first element\n"
	"is the daemon (deprecated: gone in the next version).  Exit 3 when no\n"
	"daemon runs.\n";

static const char usage_start[] =
	"usage: tend [-c FILE] start|stop|restart NAME... [--wait]\n"
	"\n"
	"start: starts service NAME (the daemon too, if it is not running).\n"
	"stop: stops its whole process tree; returns when no process is left.\n"
	"restart: stops it, then starts it again (starts the daemon if needed).\n"
	"--wait: start and restart return once the service is ready (see the\n"
	"ready key), or exit 1 with the reason when it fails first; stop always\n"
	"waits.\n"
	"\n"
	"Several NAMEs act on each unit at once (--wait: each is waited for);\n"
	"a NAME may be a shell-style glob (quote it: 'idx-*', 'worker?',\n"
	"'[ab]*'), which covers the units it applies to (start, restart:\n"
	"services; stop: every unit), and all covers every one of them.  A NAME\n"
	"that covers no unit is an error (exit 2) and nothing is done.  With\n"
	"several units, each one's outcome is printed (NAME: state), a failure\n"
	"as one line on stderr; exit 1 when any failed.\n";

static const char usage_reload[] =
	"usage: tend [-c FILE] reload [--force]\n"
	"\n"
	"Re-reads the file: added services start, removed ones stop, changed\n"
	"ones restart, unchanged ones are not touched.  A file with an error is\n"
	"refused (exit 2) and the running settings stay.  Same as SIGHUP.\n"
	"A file with no unit left, where units run now (an editor that truncates\n"
	"before it writes), is refused too: --force reloads it all the same and\n"
	"stops every unit.\n";

static const char usage_down[] =
	"usage: tend [-c FILE] down\n"
	"\n"
	"Stops every unit gracefully (in parallel, each bounded by its\n"
	"stop-timeout), then the daemon; returns when it has exited.\n";

static const char usage_run[] =
	"usage: tend [-c FILE] run JOB... [--wait | --join] [--force]\n"
	"\n"
	"Asks for a run of JOB (the daemon too is started if needed).  One run\n"
	"at a time: a request while JOB runs is served by one trailing run after\n"
	"it, shared by every request made meanwhile.  Prints the run's number.\n"
	"--wait: waits for the run that covers this request and exits with its\n"
	"exit code (1 with a message for timeout, memory, killed, spawn_failed).\n"
	"--join: waits for the run going on now, without asking for another\n"
	"(exits 0 at once when none runs).\n"
	"--force: runs it even in a cooldown (after max-failures failed runs in\n"
	"a row), which it ends.\n"
	"Several JOBs, globs ('idx-*') and all (every job): a run of each; with\n"
	"--wait, exit 1 when any run failed.\n";

static const char usage_connect[] =
	"usage: tend [-c FILE] connect SERVICE\n"
	"       tend [-c FILE] connect [--KEY VALUE ...] -- CMD [ARG ...]\n"
	"\n"
	"Bridges this process's stdin and stdout to SERVICE (stdio = exclusive,\n"
	"per-client or mcp), starting the daemon and the service when needed: put it\n"
	"where a client would start the server itself, e.g. an MCP client's\n"
	"{\"command\": \"tend\", \"args\": [\"connect\", \"memory\"]}.  The daemon\n"
	"reads and writes this process's stdin and stdout itself (they are passed\n"
	"to it), so nothing is buffered on the way.  Exits 0 when the session\n"
	"ends normally (stdin reached its end and the service answered, or the\n"
	"instance exited cleanly); 1 with a message when the service ended while\n"
	"connected, failed, or no turn came within queue-timeout; 2 for a service\n"
	"without stdio; 3 when the daemon could not be reached.  With stdio = mcp\n"
	"the sessions share the server through tend's JSON-RPC multiplexer\n"
	"(docs/mcp.md): one instance per protocol version and, with share =\n"
	"roots (the default), per set of roots and capabilities; a session ends\n"
	"once stdin has ended and every request it sent is answered (60 s at\n"
	"most).  It also ends when its parent (the client) dies.\n"
	"\n"
	"With -- CMD no file is needed: the MCP server CMD is shared by every\n"
	"client that would have started the same server (same command, working\n"
	"directory, flags and environment, apart from variables that differ per\n"
	"terminal: TERM, TERM_SESSION_ID, WINDOWID, SHLVL, PWD, _, TMUX_PANE, ...).\n"
	"The daemon is the user's default one (-c FILE, else $TEND_CONFIG, else\n"
	"$XDG_CONFIG_HOME/tend/tend.ini or ~/.config/tend/tend.ini, which need not\n"
	"exist; never ./tend.ini), started when needed.  The service (stdio = mcp,\n"
	"started on demand) runs with this process's environment and working\n"
	"directory, is shown by tend status, logs and events under a name made\n"
	"from the command (server-memory for npx -y @modelcontextprotocol/server-\n"
	"memory), stops after idle-stop without traffic and is forgotten once it\n"
	"has been at rest without clients for as long again (10m when idle-stop\n"
	"is none).  Exit 2, before anything starts, for an unknown flag, a bad\n"
	"value or a command not found in PATH.  Every service key is a flag\n"
	"(--KEY VALUE or --KEY=VALUE; the flags are part of what must match to\n"
	"share; defaults in brackets):\n";

/* --- the table --- */

static const struct cmd_info cmds[] = {
	{ .name = "ping", .cmd = CTL_PING, .when_stopping = true },
	{ .name = "status", .cmd = CTL_STATUS, .takes_name = CMD_NAME_OPTIONAL,
	  .many = true, .flags = CMD_JSON | CMD_JSON1, .when_stopping = true,
	  .cli = true,
	  .usage = usage_status },
	{ .name = "start", .cmd = CTL_START, .takes_name = CMD_NAME_REQUIRED,
	  .many = true,
	  .applies = CMD_ON_SERVICE, .flags = CMD_WAIT, .cli = true,
	  .starts_daemon = true, .noun = "service", .synopsis = "NAME... [--wait]",
	  .usage = usage_start },
	{ .name = "stop", .cmd = CTL_STOP, .takes_name = CMD_NAME_REQUIRED,
	  .many = true,
	  .applies = CMD_ON_SERVICE | CMD_ON_JOB | CMD_ON_INSTANCE,
	  .flags = CMD_WAIT, .cli = true, .done_without_daemon = true,
	  .noun = "service", .synopsis = "NAME... [--wait]", .usage = usage_start },
	{ .name = "restart", .cmd = CTL_RESTART, .takes_name = CMD_NAME_REQUIRED,
	  .many = true,
	  .applies = CMD_ON_SERVICE, .flags = CMD_WAIT, .cli = true,
	  .starts_daemon = true, .noun = "service", .synopsis = "NAME... [--wait]",
	  .usage = usage_start },
	{ .name = "reload", .cmd = CTL_RELOAD, .flags = CMD_FORCE, .cli = true,
	  .usage = usage_reload },
	{ .name = "down", .cmd = CTL_DOWN, .when_stopping = true, .cli = true,
	  .done_without_daemon = true, .usage = usage_down },
	{ .name = "connect", .cmd = CTL_CONNECT, .takes_name = CMD_NAME_OR_EXEC,
	  .applies = CMD_ON_SERVICE, .cli = true, .starts_daemon = true,
	  .noun = "service", .synopsis = "SERVICE, or tend connect [--KEY VALUE "
	  "...] -- CMD [ARG ...]", .usage = usage_connect },
	{ .name = "run", .cmd = CTL_RUN, .takes_name = CMD_NAME_REQUIRED,
	  .many = true,
	  .applies = CMD_ON_JOB, .flags = CMD_WAIT | CMD_JOIN | CMD_FORCE,
	  .cli = true, .starts_daemon = true, .noun = "job",
	  .synopsis = "JOB... [--wait | --join]", .usage = usage_run },
};
_Static_assert(ARRAY_LEN(cmds) == CTL_NCMDS, "a command without an entry");

const struct cmd_info *cmd_info(enum ctl_cmd c)
{
	return (size_t)c < ARRAY_LEN(cmds) ? &cmds[c] : NULL;
}

const struct cmd_info *cmd_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

const char *cmd_known(void)
{
	static char known[128];
	if (!known[0])
		for (size_t i = 0, n = 0; i < ARRAY_LEN(cmds); i++)
			n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s",
			                      i ? ", " : "", cmds[i].name);
	return known;
}

bool cmd_acts_on_unit(const struct cmd_info *ci)
{
	return ci->takes_name == CMD_NAME_REQUIRED ||
	       ci->takes_name == CMD_NAME_OR_EXEC;
}

char *cmd_refusal(const struct cmd_info *ci, const char *name, unsigned kind)
{
	if (ci->applies & kind)
		return NULL;
	if (kind == CMD_ON_INSTANCE)
		return xasprintf("\"%s\" is a per-client instance: it starts with its "
		                 "client and ends with it", name);
	if (kind == CMD_ON_JOB)
		return xasprintf("\"%s\" is a job: run it with tend run %s", name, name);
	return xasprintf("\"%s\" is a service: start it with tend start %s", name,
	                 name);
}

/* --- the CLI's arguments --- */

static const struct { const char *arg; unsigned flag; } cli_flags[] = {
	{ "--wait", CMD_WAIT }, { "--join", CMD_JOIN }, { "--force", CMD_FORCE },
	{ "--json", CMD_JSON }, { "--json=1", CMD_JSON1 },
};

/* The flag ARG sets for CI, or 0 when CI takes no such flag. */
static unsigned cli_flag(const struct cmd_info *ci, const char *arg)
{
	for (size_t i = 0; i < ARRAY_LEN(cli_flags); i++)
		if (strcmp(arg, cli_flags[i].arg) == 0)
			return ci->flags & cli_flags[i].flag;
	return 0;
}

const char *cmd_flag_arg(unsigned flag)
{
	for (size_t i = 0; i < ARRAY_LEN(cli_flags); i++)
		if (cli_flags[i].flag == flag)
			return cli_flags[i].arg;
	return NULL;
}

/* Takes the word A into ARGS: a flag CI takes, else its name. */
static int take_arg(const struct cmd_info *ci, const char *a,
                    struct cmd_args *args, char **err)
{
	unsigned f = cli_flag(ci, a);
	if (f == CMD_WAIT && (args->flags & CMD_JOIN)) {
		*err = xasprintf("%s: --wait and --join exclude each other; see "
		                 "tend %s --help", ci->name, ci->name);
		return -1;
	}
	if (f && !(f == CMD_JOIN && (args->flags & CMD_WAIT))) {
		args->flags |= f;
	} else if (a[0] != '-' && ci->takes_name != CMD_NAME_NONE &&
	           (!args->name || ci->many)) {
		if (!args->name)
			args->name = a;
		args->names = xrealloc(args->names, (args->nnames + 1) *
		                                    sizeof(*args->names));
		args->names[args->nnames++] = a;
	} else {
		*err = xasprintf("%s: unexpected argument \"%s\"; see tend %s --help",
		                 ci->name, a, ci->name);
		return -1;
	}
	return 0;
}

int cmd_parse_args(const struct cmd_info *ci, int argc, char **argv,
                   struct cmd_args *args, char **err)
{
	*args = (struct cmd_args){ .name = NULL, .flags = 0 };
	for (int i = 0; i < argc; i++)
		if (take_arg(ci, argv[i], args, err) < 0) {
			cmd_args_free(args);
			return -1;
		}
	if (cmd_acts_on_unit(ci) && !args->name) {
		*err = xasprintf("%s: which %s? usage: tend %s %s", ci->name, ci->noun,
		                 ci->name, ci->synopsis);
		cmd_args_free(args);
		return -1;
	}
	return 0;
}

void cmd_args_free(struct cmd_args *args)
{
	free(args->names);
	args->names = NULL;
	args->nnames = 0;
}

/* --- several units --- */

bool cmd_is_pattern(const char *s)
{
	return strcmp(s, "all") == 0 || strpbrk(s, "*?[") != NULL;
}

bool cmd_matches(const char *pat, const char *name)
{
	if (strcmp(pat, "all") == 0 || strcmp(pat, name) == 0)
		return true;
	return cmd_is_pattern(pat) && fnmatch(pat, name, 0) == 0;
}

/* "no service matches "x*" in FILE" (PAT a pattern) or "no service named
 * "x" in FILE", with the nearest of the NC NAMES when one is near. */
static char *no_match(const char *pat, const char *const *names, size_t nc,
                      const char *what, const char *where)
{
	const char **cands = xcalloc(nc + 1, sizeof(*cands));
	for (size_t i = 0; i < nc; i++)
		cands[i] = names[i];
	const char *near = suggest_near(pat, cands);
	char *e = xasprintf("no %s %s \"%s\"%s%s%s%s%s", what,
	                    cmd_is_pattern(pat) ? "matches" : "named", pat,
	                    where ? " in " : "", where ? where : "",
	                    near ? "; did you mean \"" : "", near ? near : "",
	                    near ? "\"?" : "");
	free(cands);
	return e;
}

int cmd_expand(const char *const *pats, size_t n, const char *const *names,
               const unsigned *kinds, size_t nc, unsigned applies,
               const char *what, const char *where, size_t **out,
               size_t *nout, char **err)
{
	size_t *v = xcalloc(nc + 1, sizeof(*v)), k = 0;
	bool *taken = xcalloc(nc + 1, sizeof(*taken));
	*err = NULL;
	for (size_t p = 0; p < n && !*err; p++) {
		bool any = false, pattern = cmd_is_pattern(pats[p]);
		for (size_t i = 0; i < nc; i++) {
			if (!cmd_matches(pats[p], names[i]) ||
			    (pattern && applies && !(kinds[i] & applies) &&
			     strcmp(pats[p], names[i]) != 0))
				continue;
			any = true;
			if (!taken[i])
				v[k++] = i;
			taken[i] = true;
		}
		if (!any)
			*err = no_match(pats[p], names, nc, what, where);
	}
	free(taken);
	if (*err) {
		free(v);
		return -1;
	}
	*out = v;
	*nout = k;
	return 0;
}
