/* Unit tests for proc_spawn: the descriptors passed at 3 and up (sources
 * on each other's targets too), a failed step's name and errno, a cgroup
 * that could not be joined (cg_err), and the placement of the child's stdin, stdout and stderr when the descriptors it is given sit on 0-2 themselves: a source
 * already at its target number (and close-on-exec), sources on each
 * other's targets, the report pipe among the targets.  main() of tend
 * keeps 0-2 open, so tend itself never asks for this; the child side must
 * be right regardless. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"
#include "testio.h"

extern char **environ;

static int wait_code(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Moves FD to TO, close-on-exec as every descriptor of tend's is. */
static int move_to(int fd, int to)
{
	if (fd == to)
		return to;
	int r = dup3(fd, to, O_CLOEXEC);
	close(fd);
	return r;
}

/* Our own 0-2, put aside while a test rearranges them (cmocka prints to
 * stdout: no assertion until they are back). */
static int saved[3];

static void save_std(void)
{
	for (int i = 0; i < 3; i++)
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 10);
}

static void restore_std(void)
{
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
}

static void source_already_at_its_target(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	char *argv[] = { "sh", "-c", "echo out", NULL };
	save_std();
	/* The write end of the pipe at 1, close-on-exec: the child's stdout
	 * must still be it after exec. */
	int w = move_to(p[1], 1);
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = w, .fd_err = -1 };
	struct spawn_res rs;
	int r = proc_spawn(&rq, &rs);
	restore_std();
	assert_int_equal(r, 0);
	char buf[64];
	read_all(p[0], buf, sizeof(buf));
	close(p[0]);
	assert_int_equal(wait_code(rs.pid), 0);
	assert_string_equal(buf, "out\n");
}

static void sources_on_each_others_targets(void **state)
{
	(void)state;
	int in[2], out[2];
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	char *argv[] = { "sh", "-c", "read x; echo \"got $x\"; echo err >&2", NULL };
	assert_int_equal(write(in[1], "ping\n", 5), 5);
	close(in[1]);
	save_std();
	/* stdin's source at 2, stdout's at 0, stderr's at 1: a dup2 in order
	 * 0, 1, 2 overwrites a source before it is placed. */
	int src_in = move_to(in[0], 2);
	int src_out = move_to(out[1], 0);
	int src_err = move_to(fcntl(src_out, F_DUPFD_CLOEXEC, 3), 1);
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = src_in,
	                        .fd_out = src_out, .fd_err = src_err };
	struct spawn_res rs;
	int r = proc_spawn(&rq, &rs);
	restore_std();
	assert_int_equal(src_err, 1);
	assert_int_equal(r, 0);
	char buf[64];
	read_all(out[0], buf, sizeof(buf));
	close(out[0]);
	assert_int_equal(wait_code(rs.pid), 0);
	assert_string_equal(buf, "got ping\nerr\n");
}

static void report_pipe_among_the_targets(void **state)
{
	(void)state;
	int out[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	char *argv[] = { "/nonexistent/tend-unit-program", NULL };
	save_std();
	/* 0 and 1 free: proc_spawn's own report pipe gets them, and the
	 * child's stdout goes onto its write end. */
	close(0);
	close(1);
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = out[1], .fd_err = -1 };
	struct spawn_res rs;
	int r = proc_spawn(&rq, &rs);
	restore_std();
	close(out[1]);
	char buf[64];
	read_all(out[0], buf, sizeof(buf));
	close(out[0]);
	/* The failed exec is reported, not written to the child's stdout. */
	assert_int_equal(r, -1);
	assert_int_equal(rs.err, ENOENT);
	assert_string_equal(rs.step, "exec");
	assert_string_equal(buf, "");
}

/* proc_own_children lists every child, a zombie too, however many (the
 * list is read in pieces: a pid may be cut between two reads), and no
 * more once they are reaped. */
#define KIDS 800

static bool listed(const pid_t *v, long n, pid_t pid)
{
	for (long i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

static void own_children_lists_every_child(void **state)
{
	(void)state;
	pid_t *kids = malloc(KIDS * sizeof(*kids)), *got = NULL;
	size_t cap = 0;
	assert_non_null(kids);
	for (int i = 0; i < KIDS; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			if (i == 0)
				_exit(0);   /* a zombie until reaped */
			pause();
			_exit(0);
		}
	}
	siginfo_t si;   /* the zombie is there before the list is read */
	assert_int_equal(waitid(P_PID, (id_t)kids[0], &si, WEXITED | WNOWAIT), 0);
	long n = proc_own_children(&got, &cap);
	assert_int_equal(n, KIDS);
	for (int i = 0; i < KIDS; i++)
		assert_true(listed(got, n, kids[i]));
	for (int i = 1; i < KIDS; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < KIDS; i++)
		assert_int_equal(waitpid(kids[i], NULL, 0), kids[i]);
	assert_int_equal(proc_own_children(&got, &cap), 0);
	free(got);
	free(kids);
}

/* The descriptors a run is given beyond 0-2 (a service's listening
 * sockets) are its 3, 4, ...: here two pipes' write ends, each told apart
 * by what the program writes to it. */
static void passed_fds_land_at_3_and_up(void **state)
{
	(void)state;
	int a[2], b[2];
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	char *argv[] = { "sh", "-c", "echo three >&3; echo four >&4", NULL };
	const int fds[2] = { a[1], b[1] };
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1, .fds = fds, .nfds = 2 };
	struct spawn_res rs;
	assert_int_equal(proc_spawn(&rq, &rs), 0);
	close(a[1]);
	close(b[1]);
	char x[32], y[32];
	read_all(a[0], x, sizeof(x));
	read_all(b[0], y, sizeof(y));
	assert_string_equal(x, "three\n");
	assert_string_equal(y, "four\n");
	assert_int_equal(wait_code(rs.pid), 0);
	close(a[0]);
	close(b[0]);
}

/* A program that cannot be found: no process is left, the step and errno
 * say why. */
static void a_failed_exec_says_its_step(void **state)
{
	(void)state;
	char *argv[] = { "/nonexistent/tend-test-program", NULL };
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	struct spawn_res rs;
	assert_int_equal(proc_spawn(&rq, &rs), -1);
	assert_int_equal(rs.err, ENOENT);
	assert_string_equal(rs.step, "exec");
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);   /* reaped already */
	assert_int_equal(errno, ECHILD);
}

/* Sources sitting on each other's targets among 3 and up (A's pipe at
 * 4, B's at 3, passed as A, B): each still lands where it is asked. */
static void passed_fds_on_each_others_targets(void **state)
{
	(void)state;
	/* 3 and 4 put aside (whatever holds them), A and B moved there */
	int keep[2];
	for (int i = 0; i < 2; i++)
		keep[i] = fcntl(3 + i, F_GETFD) >= 0 ? fcntl(3 + i, F_DUPFD_CLOEXEC, 10) : -1;
	int a[2], b[2];
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	for (int i = 0; i < 2; i++) {   /* all of them clear of 3 and 4 */
		int ha = fcntl(a[i], F_DUPFD_CLOEXEC, 10), hb = fcntl(b[i], F_DUPFD_CLOEXEC, 10);
		close(a[i]);
		close(b[i]);
		a[i] = ha;
		b[i] = hb;
	}
	int at4 = move_to(a[1], 4), at3 = move_to(b[1], 3);
	char *argv[] = { "sh", "-c", "echo A >&3; echo B >&4", NULL };
	const int fds[2] = { at4, at3 };
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1, .fds = fds, .nfds = 2 };
	struct spawn_res rs;
	int r = proc_spawn(&rq, &rs);
	close(3);
	close(4);
	for (int i = 0; i < 2; i++)
		if (keep[i] >= 0) {
			dup2(keep[i], 3 + i);
			close(keep[i]);
		}
	assert_int_equal(at4, 4);
	assert_int_equal(at3, 3);
	assert_int_equal(r, 0);
	char x[32], y[32];
	read_all(a[0], x, sizeof(x));
	read_all(b[0], y, sizeof(y));
	close(a[0]);
	close(b[0]);
	assert_int_equal(wait_code(rs.pid), 0);
	assert_string_equal(x, "A\n");
	assert_string_equal(y, "B\n");
}

/* A directory to join that is no cgroup: the program runs all the same,
 * and the error is told (cg_err), for a missing cgroup.procs and for one
 * that cannot be written. */
static void a_cgroup_not_joined_is_told(void **state)
{
	(void)state;
	char dir[] = "/tmp/tend-spawn-XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	char *argv[] = { "sh", "-c", "exit 6", NULL };
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1, .has_cgroup = true,
	                        .cgroup_dir = dfd };
	struct spawn_res rs;
	int r1 = proc_spawn(&rq, &rs);
	int e1 = rs.cg_err, c1 = r1 == 0 ? wait_code(rs.pid) : -1;
	char procs[64];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	assert_int_equal(mkdir(procs, 0700), 0);   /* not writable: a directory */
	int r2 = proc_spawn(&rq, &rs);
	int e2 = rs.cg_err, c2 = r2 == 0 ? wait_code(rs.pid) : -1;
	rmdir(procs);
	rmdir(dir);
	close(dfd);
	assert_int_equal(r1, 0);
	assert_int_equal(e1, ENOENT);
	assert_int_equal(c1, 6);
	assert_int_equal(r2, 0);
	assert_int_equal(e2, EISDIR);
	assert_int_equal(c2, 6);
	/* and none when there is no cgroup to join */
	rq.has_cgroup = false;
	assert_int_equal(proc_spawn(&rq, &rs), 0);
	assert_int_equal(rs.cg_err, 0);
	assert_int_equal(wait_code(rs.pid), 6);
}

/* Each failing step names itself, with its errno, and leaves no process:
 * a program that is no executable, a working directory that is not
 * there. */
static void failed_steps_name_themselves(void **state)
{
	(void)state;
	char *noexec[] = { "/etc/passwd", NULL };
	struct spawn_req rq = { .argv = noexec, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	struct spawn_res rs;
	assert_int_equal(proc_spawn(&rq, &rs), -1);
	assert_int_equal(rs.err, EACCES);
	assert_string_equal(rs.step, "exec");
	assert_int_equal(rs.pid, -1);
	char *sh[] = { "sh", "-c", "exit 0", NULL };
	rq = (struct spawn_req){ .argv = sh, .envp = environ, .fd_in = -1,
	                         .fd_out = -1, .fd_err = -1,
	                         .cwd = "/nonexistent/tend-test-dir" };
	assert_int_equal(proc_spawn(&rq, &rs), -1);
	assert_int_equal(rs.err, ENOENT);
	assert_string_equal(rs.step, "chdir");
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);   /* reaped already */
	assert_int_equal(errno, ECHILD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(passed_fds_land_at_3_and_up),
		cmocka_unit_test(a_failed_exec_says_its_step),
		cmocka_unit_test(passed_fds_on_each_others_targets),
		cmocka_unit_test(a_cgroup_not_joined_is_told),
		cmocka_unit_test(failed_steps_name_themselves),
		cmocka_unit_test(source_already_at_its_target),
		cmocka_unit_test(sources_on_each_others_targets),
		cmocka_unit_test(report_pipe_among_the_targets),
		cmocka_unit_test(own_children_lists_every_child),
	};
	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
