/* cmd — the commands of the control protocol (ctl.h), which the CLI sends
 * as `tend NAME ...`, as one table: what each takes (a name, which flags),
 * which units it applies to, when the daemon answers it, whether the CLI
 * starts the daemon for it, its --help text.  The request parser (ctl.c),
 * the CLI (main.c, client.c) and the daemon (daemon.c) read the table;
 * none of them decides these again.  What a command does stays with its
 * user: the daemon's handler, the CLI's output.
 *
 * The table's order is the enum's.  Pure: data, lookups and the CLI's
 * argument parser, no I/O.  Below the control protocol (ctl.h), which
 * reads it: nothing here knows a request.
 */
#ifndef TEND_CMD_H
#define TEND_CMD_H

#include <stdbool.h>
#include <stddef.h>

enum ctl_cmd { CTL_PING, CTL_STATUS, CTL_START, CTL_STOP, CTL_RESTART,
               CTL_RELOAD, CTL_DOWN, CTL_CONNECT, CTL_RUN, CTL_NCMDS };

/* What a command takes as its name. */
enum cmd_name {
	CMD_NAME_NONE,       /* none (ping, reload, down) */
	CMD_NAME_OPTIONAL,   /* one unit, else all of them (status) */
	CMD_NAME_REQUIRED,   /* the unit it acts on */
	CMD_NAME_OR_EXEC,    /* a service, or a command line (connect -- CMD) */
};

/* Flags: fields of a request ("wait": true) and --FLAG of the CLI. */
enum {
	CMD_WAIT  = 1 << 0,
	CMD_JOIN  = 1 << 1,   /* excludes CMD_WAIT */
	CMD_FORCE = 1 << 2,
	CMD_JSON  = 1 << 3,   /* the CLI's output only: never sent */
	CMD_JSON1 = 1 << 4,   /* --json=1: status's old shape (deprecated) */
};

/* What a unit is, for the units a command applies to. */
enum {
	CMD_ON_SERVICE  = 1 << 0,
	CMD_ON_JOB      = 1 << 1,
	CMD_ON_INSTANCE = 1 << 2,   /* a per-client instance of a service */
};

struct cmd_info {
	const char *name;           /* the CLI's word and the request's "cmd" */
	enum ctl_cmd cmd;
	enum cmd_name takes_name;
	bool many;                  /* takes several names, globs and all */
	unsigned applies;           /* CMD_ON_*: the units a named one acts on */
	unsigned flags;             /* CMD_WAIT...: the flags it takes */
	bool when_stopping;         /* answered while the daemon shuts down */
	/* The CLI's side (none of it for a command the CLI does not have) */
	bool cli;                   /* tend NAME exists */
	bool starts_daemon;         /* started when not running (not --join) */
	bool done_without_daemon;   /* no daemon: nothing to do, exit 0 */
	const char *noun;           /* what the name stands for: "service" */
	const char *synopsis;       /* what follows tend NAME, for an error */
	const char *usage;          /* the --help text */
};

/* The entry of C (CTL_NCMDS or more: NULL). */
const struct cmd_info *cmd_info(enum ctl_cmd c);
/* The command called NAME, or NULL. */
const struct cmd_info *cmd_find(const char *name);
/* Every command's name, ", " between them: "ping, status, ...". */
const char *cmd_known(void);
/* The CLI's word for FLAG (one CMD_*: "--wait"), or NULL. */
const char *cmd_flag_arg(unsigned flag);

/* Does CI act on the unit it names (start, stop...; not status)? */
bool cmd_acts_on_unit(const struct cmd_info *ci);

/* Why CI cannot act on the unit NAME, which is a KIND (one CMD_ON_*): a
 * line for the reply (malloc'd), or NULL when it can. */
char *cmd_refusal(const struct cmd_info *ci, const char *name, unsigned kind);

/* What the CLI's words after `tend NAME` say: the units' names (pointing
 * into them; NAME: the first, NULL when none) and the flags given
 * (CMD_*).  NAMES is malloc'd: cmd_args_free. */
struct cmd_args {
	const char *name;
	const char **names;
	size_t nnames;
	unsigned flags;
};

void cmd_args_free(struct cmd_args *args);

/* --- several units: names, shell-style globs and "all" --- */

/* Is S a pattern (fnmatch: * ? [...]) or "all", which may stand for
 * several units, rather than one unit's name? */
bool cmd_is_pattern(const char *s);

/* Does the pattern (or name) PAT cover the unit NAME?  "all" covers
 * every unit. */
bool cmd_matches(const char *pat, const char *name);

/* The units the words PATS (N of them: names, globs, all) cover among
 * the NC units NAMES (KINDS: each one's CMD_ON_*), as indices into NAMES,
 * in the order of the words, each unit once, into *OUT (malloc'd; *NOUT
 * of them).  A name given as such is taken whatever its kind (what cannot
 * act on it says why: cmd_refusal); a pattern covers only the kinds in
 * APPLIES (0: every kind).  A word that covers none is an error: -1 with
 * *ERR (malloc'd, one line: what matched nothing, "in WHERE", the unit
 * name nearest to it when one is near). */
int cmd_expand(const char *const *pats, size_t n, const char *const *names,
               const unsigned *kinds, size_t nc, unsigned applies,
               const char *what, const char *where, size_t **out,
               size_t *nout, char **err);

/* The CLI: parses ARGV (what follows `tend NAME`, --help aside) for CI
 * into *ARGS.  Returns 0, or -1 with *ERR (malloc'd, one line: what is
 * wrong, where to look), for exit code 2.  The request they make:
 * ctl_req_of_args (ctl.h). */
int cmd_parse_args(const struct cmd_info *ci, int argc, char **argv,
                   struct cmd_args *args, char **err);

#endif
