/* complete — see complete.h. */
#include "complete.h"
#include "cmd.h"
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_USAGE 2

extern char **environ;

static const char usage_completions[] =
	"usage: tend completions bash|zsh|fish\n"
	"       tend [-c FILE] completions names [COMMAND]\n"
	"\n"
	"Prints the completion script for the shell, made from tend's own table\n"
	"of commands: commands, their flags, and the names of the units of the\n"
	"file (asked of `tend completions names` as you type: from tend status\n"
	"when a daemon runs for the file, else from the file).  make install puts\n"
	"them where each shell looks; by hand:\n"
	"  bash  tend completions bash > ~/.local/share/bash-completion/completions/tend\n"
	"  zsh   tend completions zsh > ~/.zfunc/_tend  (a directory in $fpath)\n"
	"  fish  tend completions fish > ~/.config/fish/completions/tend.fish\n"
	"\n"
	"names: the units COMMAND applies to (start, restart: services; run:\n"
	"jobs; else every unit), one a line, after \"all\" for a command that\n"
	"takes several.\n";

/* --- what a command takes --- */

/* What completes the words of one command. */
struct takes {
	struct buf flags;   /* " " between */
	bool units;         /* a unit's name */
	bool cmdline;       /* -- CMD [ARG ...] */
	const char *words;  /* sub-words, or NULL */
};

/* Adds the --KEY flags of every service key (tend exec's, or with CONNECT
 * tend connect's) to B, as config_print_flags lists them. */
static void add_key_flags(struct buf *b, bool connect)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	config_print_flags(f, connect);
	(void)fclose(f);   /* a memory stream: TEXT is what it holds */
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (strncmp(line, "  --", 4) == 0)
			buf_addf(b, " %.*s", (int)strcspn(line + 2, " \n"), line + 2);
		line = nl ? nl + 1 : NULL;
	}
	free(text);
}

static void takes_of(const struct cli_cmd *c, struct takes *t)
{
	*t = (struct takes){ .words = c->arg == COMP_WORDS ? c->words : NULL };
	const struct cmd_info *ci = c->run ? NULL : cmd_find(c->name);
	if (ci) {
		for (unsigned bit = 1; bit; bit <<= 1)
			if ((ci->flags & bit) && cmd_flag_arg(bit))
				buf_addf(&t->flags, "%s ", cmd_flag_arg(bit));
		t->units = ci->takes_name != CMD_NAME_NONE;
		t->cmdline = ci->takes_name == CMD_NAME_OR_EXEC;
	} else {
		if (c->flags && *c->flags)
			buf_addf(&t->flags, "%s ", c->flags);
		t->units = c->arg == COMP_UNIT;
		t->cmdline = c->arg == COMP_COMMAND;
	}
	buf_adds(&t->flags, "--help");
	if (c->keys || (ci && ci->takes_name == CMD_NAME_OR_EXEC))
		add_key_flags(&t->flags, ci != NULL);
}

static void takes_free(struct takes *t)
{
	free(buf_take(&t->flags));
}

/* C's summary with ' made safe inside '...' of every shell (as ’). */
static void put_summary(FILE *out, const char *s, bool colon)
{
	for (; *s; s++) {
		if (*s == '\'')
			fputs("\xe2\x80\x99", out);
		else if (*s == ':' && colon)
			fputs("\\:", out);
		else
			fputc(*s, out);
	}
}

/* --- bash --- */

static const char bash_head[] =
	"# bash completion for tend: written by `tend completions bash` (tend %s)\n"
	"# from tend's own table of commands; unit names come from\n"
	"# `tend completions names` as you type.\n"
	"_tend_names()\n"
	"{\n"
	"\tlocal cfg=${1/#\\~/$HOME}\n"
	"\tCOMPREPLY+=($(compgen -W \"$(\"${COMP_WORDS[0]}\" ${cfg:+-c \"$cfg\"} "
	"completions names \"$2\" 2>/dev/null)\" -- \"$cur\"))\n"
	"}\n"
	"\n"
	"_tend()\n"
	"{\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tlocal i j cmd= cfg= words=\n"
	"\tCOMPREPLY=()\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tcase ${COMP_WORDS[i]} in\n"
	"\t\t-c|--config) ((i++)); cfg=${COMP_WORDS[i]} ;;\n"
	"\t\t--config=*) cfg=${COMP_WORDS[i]#--config=} ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif [[ -z $cmd ]]; then\n"
	"\t\tif [[ $prev == -c || $prev == --config ]]; then\n"
	"\t\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\telif [[ $cur == -* ]]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tfor ((j = i + 1; j < COMP_CWORD; j++)); do\n"
	"\t\t[[ ${COMP_WORDS[j]} == -- ]] || continue\n"
	"\t\tif ((j == COMP_CWORD - 1)); then\n"
	"\t\t\tCOMPREPLY=($(compgen -c -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn\n"
	"\tdone\n"
	"\tcase $cmd in\n";

static const char bash_tail[] =
	"\tesac\n"
	"\t[[ $cur == -* || ${#COMPREPLY[@]} -eq 0 ]] &&\n"
	"\t\tCOMPREPLY+=($(compgen -W \"$words\" -- \"$cur\"))\n"
	"}\n"
	"complete -F _tend tend\n";

static void put_names(FILE *out, const struct cli_cmd *cmds, size_t n,
                      const char *sep)
{
	for (size_t i = 0, k = 0; i < n; i++)
		if (!cmds[i].hidden)
			fprintf(out, "%s%s", k++ ? sep : "", cmds[i].name);
}

static void script_bash(FILE *out, const struct cli_cmd *cmds, size_t n,
                        const char *globals)
{
	char *names = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&names, &len);
	put_names(f, cmds, n, " ");
	(void)fclose(f);   /* a memory stream: NAMES is what it holds */
	fprintf(out, bash_head, TEND_VERSION, globals, names);
	free(names);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].hidden)
			continue;
		struct takes t;
		takes_of(&cmds[i], &t);
		fprintf(out, "\t%s)\n\t\twords=\"%s\"\n", cmds[i].name, t.flags.s);
		if (t.units)
			fprintf(out, "\t\t[[ $cur == -* ]] || _tend_names \"$cfg\" %s\n",
			        cmds[i].name);
		if (t.words)
			fprintf(out, "\t\t[[ $cur == -* ]] || COMPREPLY=($(compgen -W "
			        "\"%s\" -- \"$cur\"))\n", t.words);
		fputs("\t\t;;\n", out);
		takes_free(&t);
	}
	fputs(bash_tail, out);
}

/* --- zsh --- */

static const char zsh_head[] =
	"#compdef tend\n"
	"# zsh completion for tend: written by `tend completions zsh` (tend %s)\n"
	"# from tend's own table of commands; unit names come from\n"
	"# `tend completions names` as you type.\n"
	"_tend() {\n"
	"\tlocal i j cmd cfg\n"
	"\tlocal -a names cmds flags c\n"
	"\tfor ((i = 2; i < CURRENT; i++)); do\n"
	"\t\tcase $words[i] in\n"
	"\t\t(-c|--config) (( i++ )); cfg=$words[i] ;;\n"
	"\t\t(--config=*) cfg=${words[i]#--config=} ;;\n"
	"\t\t(-*) ;;\n"
	"\t\t(*) cmd=$words[i]; break ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif [[ -z $cmd ]]; then\n"
	"\t\tif [[ $words[CURRENT-1] == (-c|--config) ]]; then\n"
	"\t\t\t_files\n"
	"\t\telif [[ $PREFIX == -* ]]; then\n"
	"\t\t\tflags=(%s)\n"
	"\t\t\tcompadd -a flags\n"
	"\t\telse\n"
	"\t\t\tcmds=(\n";

static const char zsh_mid[] =
	"\t\t\t)\n"
	"\t\t\t_describe -t commands 'tend command' cmds\n"
	"\t\tfi\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tfor ((j = i + 1; j < CURRENT; j++)); do\n"
	"\t\t[[ $words[j] == -- ]] || continue\n"
	"\t\tif (( j == CURRENT - 1 )); then _command_names -e; else _files; fi\n"
	"\t\treturn\n"
	"\tdone\n"
	"\t[[ -n $cfg ]] && c=(-c ${~cfg})\n"
	"\tcase $cmd in\n";

static const char zsh_tail[] =
	"\tesac\n"
	"\tif [[ $PREFIX == -* || ${#names} -eq 0 ]]; then\n"
	"\t\tcompadd -a flags\n"
	"\telse\n"
	"\t\tcompadd -a names\n"
	"\tfi\n"
	"}\n"
	"_tend \"$@\"\n";

static void script_zsh(FILE *out, const struct cli_cmd *cmds, size_t n,
                       const char *globals)
{
	fprintf(out, zsh_head, TEND_VERSION, globals);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].hidden)
			continue;
		fprintf(out, "\t\t\t\t'%s:", cmds[i].name);
		put_summary(out, cmds[i].summary, true);
		fputs("'\n", out);
	}
	fputs(zsh_mid, out);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].hidden)
			continue;
		struct takes t;
		takes_of(&cmds[i], &t);
		fprintf(out, "\t(%s)\n\t\tflags=(%s)\n", cmds[i].name, t.flags.s);
		if (t.units)
			fprintf(out, "\t\tnames=(${(f)\"$($words[1] $c completions names "
			        "%s 2>/dev/null)\"})\n", cmds[i].name);
		if (t.words)
			fprintf(out, "\t\tnames=(%s)\n", t.words);
		fputs("\t\t;;\n", out);
		takes_free(&t);
	}
	fputs(zsh_tail, out);
}

/* --- fish --- */

static const char fish_head[] =
	"# fish completion for tend: written by `tend completions fish` (tend %s)\n"
	"# from tend's own table of commands; unit names come from\n"
	"# `tend completions names` as you type.\n"
	"\n"
	"# WHAT (cmd or cfg) of the line so far: its command word, or -c FILE\n"
	"function __tend_word\n"
	"\tset -l tokens (commandline -opc)\n"
	"\tset -l i 2\n"
	"\twhile test $i -le (count $tokens)\n"
	"\t\tswitch $tokens[$i]\n"
	"\t\t\tcase -c --config\n"
	"\t\t\t\tset i (math $i + 1)\n"
	"\t\t\t\ttest $argv[1] = cfg; and set -q tokens[$i]; and echo $tokens[$i]\n"
	"\t\t\tcase '--config=*'\n"
	"\t\t\t\ttest $argv[1] = cfg; and string replace -- --config= '' $tokens[$i]\n"
	"\t\t\tcase '-*'\n"
	"\t\t\tcase '*'\n"
	"\t\t\t\ttest $argv[1] = cmd; and echo $tokens[$i]\n"
	"\t\t\t\treturn\n"
	"\t\tend\n"
	"\t\tset i (math $i + 1)\n"
	"\tend\n"
	"end\n"
	"\n"
	"function __tend_needs_command\n"
	"\tset -l prev (commandline -opc)[-1]\n"
	"\tcontains -- $prev -c --config; and return 1\n"
	"\ttest -z \"$(__tend_word cmd)\"\n"
	"end\n"
	"\n"
	"function __tend_using\n"
	"\tcontains -- \"$(__tend_word cmd)\" $argv\n"
	"end\n"
	"\n"
	"function __tend_names\n"
	"\tset -l tend (commandline -opc)[1]\n"
	"\tset -l cfg (__tend_word cfg)\n"
	"\tif set -q cfg[1]\n"
	"\t\tcommand $tend -c $cfg completions names $argv 2>/dev/null\n"
	"\telse\n"
	"\t\tcommand $tend completions names $argv 2>/dev/null\n"
	"\tend\n"
	"end\n"
	"\n"
	"# after --, a command line of its own\n"
	"function __tend_after_dashdash\n"
	"\tset -l tokens (commandline -opc)\n"
	"\tset -l at (contains -i -- -- $tokens); or return 1\n"
	"\ttest (count $argv) -eq 0; and return 0\n"
	"\tset -e tokens[1..$at]\n"
	"\tcomplete -C \"$tokens $(commandline -ct)\"\n"
	"end\n"
	"\n"
	"complete -c tend -f\n"
	"complete -c tend -n __tend_after_dashdash -a '(__tend_after_dashdash complete)'\n";

/* One option line of fish for the word W ("-d", "--json"). */
static void fish_flag(FILE *out, const char *cond, const char *w, size_t len)
{
	if (len > 2 && w[1] == '-')
		fprintf(out, "complete -c tend -n %s -l %.*s\n", cond, (int)len - 2, w + 2);
	else if (len == 2)
		fprintf(out, "complete -c tend -n %s -s %c\n", cond, w[1]);
	else if (len > 1)
		fprintf(out, "complete -c tend -n %s -o %.*s\n", cond, (int)len - 1, w + 1);
}

static void fish_flags(FILE *out, const char *cond, const char *words)
{
	for (const char *w = words; *w;) {
		size_t len = strcspn(w, " ");
		if (len)
			fish_flag(out, cond, w, len);
		w += len;
		w += strspn(w, " ");
	}
}

static void script_fish(FILE *out, const struct cli_cmd *cmds, size_t n,
                        const char *globals)
{
	fprintf(out, fish_head, TEND_VERSION);
	fputs("complete -c tend -n __tend_needs_command -s c -l config -r -F "
	      "-d 'configuration file'\n", out);
	fish_flags(out, "__tend_needs_command", globals);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].hidden)
			continue;
		fprintf(out, "complete -c tend -n __tend_needs_command -a %s -d '",
		        cmds[i].name);
		put_summary(out, cmds[i].summary, false);
		fputs("'\n", out);
	}
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].hidden)
			continue;
		struct takes t;
		takes_of(&cmds[i], &t);
		char *cond = xasprintf("'__tend_using %s; and not __tend_after_dashdash'",
		                       cmds[i].name);
		fish_flags(out, cond, t.flags.s);
		if (t.units)
			fprintf(out, "complete -c tend -n %s -a '(__tend_names %s)'\n", cond,
			        cmds[i].name);
		if (t.words)
			fprintf(out, "complete -c tend -n %s -a '%s'\n", cond, t.words);
		if (t.cmdline && !t.units)
			fprintf(out, "complete -c tend -n %s -a '(__fish_complete_command)'\n",
			        cond);
		free(cond);
		takes_free(&t);
	}
}

/* --- names --- */

/* Does a unit of KIND ("service", "job") take COMMAND's name? */
static bool applies(const char *command, const char *kind)
{
	const struct cmd_info *ci = command ? cmd_find(command) : NULL;
	unsigned k = strcmp(kind, "service") == 0 ? CMD_ON_SERVICE :
	             strcmp(kind, "job") == 0 ? CMD_ON_JOB : 0;
	if (!k)
		return false;
	return !ci || !ci->applies || (ci->applies & k);
}

/* The output of `tend [-c CFGARG] status --json` (this very binary), or
 * NULL when it fails (no daemon runs: exit 3). */
static char *status_json(const char *cfgarg)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *argv[6];
	int k = 0;
	argv[k++] = (char *)"tend";
	if (cfgarg) {
		argv[k++] = (char *)"-c";
		argv[k++] = (char *)cfgarg;
	}
	argv[k++] = (char *)"status";
	argv[k++] = (char *)"--json";
	argv[k] = NULL;
	pid_t pid;
	int e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	struct buf b = { 0 };
	char chunk[4096];
	ssize_t r;
	while (e == 0 && ((r = read(p[0], chunk, sizeof(chunk))) > 0 ||
	                  (r < 0 && errno == EINTR)))
		if (r > 0)
			buf_add(&b, chunk, (size_t)r);
	close(p[0]);
	int st = 0;
	if (e == 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	char *out = buf_take(&b);
	if (e != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The units of the daemon's status (an array, or an object with
 * "units"), as "NAME\n" of those COMMAND applies to; false when none
 * could be read. */
static bool names_of_daemon(const char *cfgarg, const char *command)
{
	char *text = status_json(cfgarg);
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!doc)
		return false;
	json_t *units = json_is_array(doc) ? doc : json_object_get(doc, "units");
	size_t i;
	json_t *u;
	json_array_foreach(units, i, u) {
		const char *name = json_string_value(json_object_get(u, "name"));
		const char *kind = json_string_value(json_object_get(u, "kind"));
		if (name && kind && applies(command, kind))
			printf("%s\n", name);
	}
	json_decref(doc);
	return true;
}

static int print_names(const char *cfgarg, int argc, char **argv)
{
	const char *command = argc > 0 ? argv[0] : NULL;
	const struct cmd_info *ci = command ? cmd_find(command) : NULL;
	if ((ci && ci->many) || (command && strcmp(command, "logs") == 0))
		printf("all\n");   /* every unit the command applies to */
	if (names_of_daemon(cfgarg, command))
		return 0;
	char *path = config_locate(cfgarg), *err = NULL;
	struct tend_config *cfg = config_load(path, &err);
	free(path);
	free(err);
	for (size_t i = 0; cfg && i < cfg->nunits; i++)
		if (applies(command, unit_kind_name(cfg->units[i]->kind)))
			printf("%s\n", cfg->units[i]->name);
	config_free(cfg);
	return 0;
}

int complete_command(const struct cli_cmd *cmds, size_t n, const char *globals,
                     const char *cfgarg, int argc, char **argv)
{
	const char *what = argc > 0 ? argv[0] : "";
	if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
		fputs(usage_completions, stdout);
		return 0;
	}
	if (strcmp(what, "names") == 0)
		return print_names(cfgarg, argc - 1, argv + 1);
	void (*script)(FILE *, const struct cli_cmd *, size_t, const char *) =
		strcmp(what, "bash") == 0 ? script_bash :
		strcmp(what, "zsh") == 0 ? script_zsh :
		strcmp(what, "fish") == 0 ? script_fish : NULL;
	if (!script || argc > 1) {
		errline("completions: which shell? usage: tend completions bash|zsh|fish");
		return EXIT_USAGE;
	}
	script(stdout, cmds, n, globals);
	return 0;
}
