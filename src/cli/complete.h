/* complete — shell completions for bash, zsh and fish, made from the one
 * table of the CLI's commands (main.c's cli_cmds, which takes the commands
 * sent to the daemon and their flags from cmd.h, and the --KEY flags of
 * exec and connect from config.h): nothing about a command is written a
 * second time here.
 *
 *   tend completions bash|zsh|fish   prints the script for that shell
 *   tend completions names [CMD]     prints the names of the units CMD
 *                                    applies to (start: services, run:
 *                                    jobs, else all), one a line, which
 *                                    the scripts ask for: from `tend
 *                                    status --json` when a daemon runs
 *                                    for the file, else from the file
 *
 * Scripts are written for the shells' own completion systems: bash's
 * `complete -F`, zsh's compsys (#compdef), fish's `complete`.
 */
#ifndef TEND_COMPLETE_H
#define TEND_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>

/* What a command takes besides its flags. */
enum comp_arg {
	COMP_NONE,      /* nothing */
	COMP_UNIT,      /* a unit's name */
	COMP_COMMAND,   /* [--] CMD [ARG ...]: a command line */
	COMP_WORDS,     /* one of its sub-words (mcp import|unimport) */
};

/* One command of the CLI (main.c's table). */
struct cli_cmd {
	const char *name;
	const char *summary;     /* one line, for --help, zsh and fish */
	/* NULL: a request to the daemon, cmd.h's (what it takes comes from
	 * there); else what runs it, and what it takes: */
	int (*run)(const char *cfgarg, int argc, char **argv);
	const char *flags;       /* its flags, " " between ("-d --json") */
	enum comp_arg arg;
	const char *words;       /* COMP_WORDS: " " between */
	bool keys;               /* every service key as --KEY VALUE (exec) */
	bool hidden;             /* offered by no completion (completions) */
	const char *no_config;   /* takes no -c FILE: the error line */
};

/* tend completions ARGV...: CMDS (N of them) the table, GLOBALS the
 * options taken before the command (" " between), CFGARG the -c value or
 * NULL.  Returns the exit code. */
int complete_command(const struct cli_cmd *cmds, size_t n, const char *globals,
                     const char *cfgarg, int argc, char **argv);

#endif
