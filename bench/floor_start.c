/* floor_start — a reference for the scale benchmark (bench/compare.py,
 * scenario scale): the same services as every supervisor starts, started
 * with no supervisor at all, as fast as a program can, so that a
 * supervisor's start-all time is measured against what starting the
 * services costs on this machine, not only against another supervisor.
 *
 * It reads every command first, then posix_spawn(3)s them one after the
 * other (glibc: clone(CLONE_VM|CLONE_VFORK), no copy of the parent), with
 * the bench's environment and this program's stdin, stdout and stderr:
 * no log file, no socket, no cgroup, no state.  Then it waits: it reaps
 * every child that ends, and on SIGTERM or SIGINT it SIGKILLs, by pid, each
 * child still alive (its own, not reaped yet: no pid of another process)
 * and reaps them all before it exits.  It restarts nothing and limits
 * nothing: a floor, not a supervisor.
 *
 * Usage: floor_start FILE
 * FILE: one command a line, its words separated by tabs (no quoting; an
 * empty line is skipped); the first word is the program's path (no PATH
 * search).  Exit 0 once stopped, 1 when a command could not be started
 * (each said on stderr), 2 on bad usage or input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct cmd {
	char **argv;
	pid_t pid;   /* 0: not running (never started, or reaped) */
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "floor_start: %s: %s: %s\n", path, what, strerror(errno));
	exit(2);
}

/* FILE's lines as commands, split at tabs in place; *N of them. */
static struct cmd *read_cmds(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open the command file", path);
	struct cmd *cmds = NULL;
	size_t cap = 0;
	*n = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		size_t words = 1;
		for (ssize_t i = 0; i < len; i++)
			words += line[i] == '\t';
		char **argv = calloc(words + 1, sizeof *argv);
		if (!argv)
			die("out of memory", path);
		size_t w = 0;
		for (char *save = NULL, *tok = strtok_r(line, "\t", &save); tok;
		     tok = strtok_r(NULL, "\t", &save))
			argv[w++] = tok;
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct cmd *c = realloc(cmds, cap * sizeof *cmds);
			if (!c)
				die("out of memory", path);
			cmds = c;
		}
		cmds[(*n)++] = (struct cmd){argv, 0};
		line = NULL;   /* the words point into it: kept */
		lcap = 0;
	}
	if (ferror(f))
		die("cannot read the command file", path);
	fclose(f);
	free(line);
	if (*n == 0) {
		fprintf(stderr, "floor_start: %s: no command in the file; give one a line, "
			"its words separated by tabs\n", path);
		exit(2);
	}
	return cmds;
}

/* Reaps every child that has ended; marks it not running. */
static void reap(struct cmd *cmds, size_t n, int flags)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, flags);
		if (p <= 0)
			return;
		for (size_t i = 0; i < n; i++)
			if (cmds[i].pid == p) {
				cmds[i].pid = 0;
				break;
			}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor_start FILE (one command a line, words "
			"separated by tabs)\n");
		return 2;
	}
	size_t n;
	struct cmd *cmds = read_cmds(argv[1], &n);

	/* SIGCHLD, SIGTERM and SIGINT wait for sigwaitinfo; the children get
	 * the mask this program was started with. */
	sigset_t wait_for, orig;
	sigemptyset(&wait_for);
	sigaddset(&wait_for, SIGCHLD);
	sigaddset(&wait_for, SIGTERM);
	sigaddset(&wait_for, SIGINT);
	if (sigprocmask(SIG_BLOCK, &wait_for, &orig) < 0)
		die("sigprocmask", argv[1]);
	posix_spawnattr_t attr;
	if (posix_spawnattr_init(&attr) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &orig) != 0 ||
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK) != 0)
		die("posix_spawnattr", argv[1]);

	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		int err = posix_spawn(&cmds[i].pid, cmds[i].argv[0], NULL, &attr,
				      cmds[i].argv, environ);
		if (err != 0) {
			cmds[i].pid = 0;
			failed = 1;
			fprintf(stderr, "floor_start: %s: line %zu: cannot start %s: %s\n",
				argv[1], i + 1, cmds[i].argv[0], strerror(err));
		}
	}
	posix_spawnattr_destroy(&attr);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&wait_for, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			die("sigwaitinfo", argv[1]);
		}
		if (sig == SIGCHLD) {
			reap(cmds, n, WNOHANG);
			continue;
		}
		/* SIGTERM or SIGINT: a zombie not reaped yet keeps its pid, so
		 * each pid killed here is still one of ours. */
		reap(cmds, n, WNOHANG);
		for (size_t i = 0; i < n; i++)
			if (cmds[i].pid > 0)
				(void)kill(cmds[i].pid, SIGKILL);
		reap(cmds, n, 0);
		for (size_t i = 0; i < n; i++) {
			free(cmds[i].argv[0]);   /* the line its words are in */
			free(cmds[i].argv);
		}
		free(cmds);
		return failed;
	}
}
