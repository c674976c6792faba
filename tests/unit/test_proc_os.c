/* Unit tests for proc_os.h, whichever file implements it (today
 * proc_linux.c), on real processes: the table, one process's identity,
 * environment and command line, signals that never hit a recycled pid,
 * waiting for a process to go, the subreaper, a process's working
 * directory and name, this process's executable, a descriptor opened
 * afresh; and the table's
 * bookkeeping (proc_tree.c), pure.  A new system's file passes these as
 * they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

/* --- pure --- */

static void table_add_sort_find(void **state)
{
	(void)state;
	struct proc_table t = { 0 };
	const pid_t pids[] = { 40, 7, 300, 1, 12 };
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		struct proc_stat *p = proc_table_add(&t);
		assert_int_equal(p->ppid, 0);   /* new entries are zeroed */
		p->pid = pids[i];
		p->ppid = 1;
	}
	/* past the first allocation */
	for (pid_t pid = 1000; pid < 1300; pid++)
		proc_table_add(&t)->pid = pid;
	assert_int_equal(t.n, 305);
	proc_table_sort(&t);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.p[i - 1].pid < t.p[i].pid);
	assert_int_equal(proc_table_find(&t, 1), 0);
	assert_int_equal(proc_table_find(&t, 300), 4);
	assert_int_equal(t.p[proc_table_find(&t, 1299)].pid, 1299);
	assert_int_equal(proc_table_find(&t, 13), -1);
	assert_int_equal(proc_table_find(&t, 2000), -1);
	proc_table_free(&t);
	assert_null(t.p);
	assert_int_equal(t.n, 0);
	assert_int_equal(proc_table_find(&t, 1), -1);
}

static void environ_entries(void **state)
{
	(void)state;
	char text[] = "A=1\0TEND_UNIT=web\0TEND_UNIT=web2\0B=";
	struct buf env = { .s = text, .len = sizeof(text) - 1 };
	assert_true(environ_has(&env, "TEND_UNIT=web"));
	assert_true(environ_has(&env, "TEND_UNIT=web2"));
	assert_true(environ_has(&env, "A=1"));
	assert_false(environ_has(&env, "TEND_UNIT=we"));
	assert_false(environ_has(&env, "UNIT=web"));
	/* the last entry, cut short (no NUL): not a whole entry */
	assert_false(environ_has(&env, "B="));
}

static void stat_fields(void **state)
{
	(void)state;
	/* fields 3..24 as the kernel writes them; a name with ") (" */
	const char *line = "4242 (a) (b c) S 17 4242 4242 34816 -1 4194560 "
	                   "120 7 3 2 50 25 4 6 20 -5 1 0 987654 9437184 "
	                   "321 18446744073709551615 1 2 0 0 0 0 0 0 0 0 0 "
	                   "17 1 0 0 0 0 0\n";
	struct proc_stat st;
	assert_int_equal(proc_parse_stat(line, 4242, &st), 0);
	assert_int_equal(st.pid, 4242);
	assert_int_equal(st.ppid, 17);
	assert_int_equal(st.pgid, 4242);
	assert_int_equal(st.sid, 4242);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.start, 987654);
	assert_int_equal(st.cpu, 50 + 25 + 4 + 6);
	assert_int_equal(st.faults, 120 + 3);   /* minor + major, own */
	assert_int_equal(st.rss, 321);
	/* cut short before rss, a field that is no number, a pid too large,
	 * no name */
	assert_int_equal(proc_parse_stat("1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 "
	                                 "20 0 1 0 5 6\n", 1, &st), -1);
	assert_int_equal(proc_parse_stat("1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 "
	                                 "20 0 1 0 5x 6 7\n", 1, &st), -1);
	assert_int_equal(proc_parse_stat("1 (x) S 99999999999 1 1 0 -1 0 0 0 0 0 "
	                                 "0 0 0 0 20 0 1 0 5 6 7\n", 1, &st), -1);
	assert_int_equal(proc_parse_stat("1 x S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 "
	                                 "20 0 1 0 5 6 7\n", 1, &st), -1);
	assert_int_equal(proc_parse_stat("1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 "
	                                 "20 0 1 0 5 6 7\n", 1, &st), 0);
	assert_int_equal(st.rss, 7);
}

/* --- on real processes --- */

/* A child that sleeps until killed, with ENVP; *ST what it is. */
static pid_t sleeper(char *const *envp, struct proc_stat *st)
{
	char *argv[] = { "sleep", "60", NULL };
	struct spawn_req rq = { .argv = argv, .envp = envp, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1,
	                        .die_with_parent = true };
	struct spawn_res rs;
	assert_int_equal(proc_spawn(&rq, &rs), 0);   /* returns once exec'd */
	/* The kernel sets the new command line up a moment after the exec
	 * let the parent go on (a vfork's parent resumes at the exec). */
	char cmd[64];
	for (int i = 0; i < 1000; i++) {
		proc_cmdline(rs.pid, cmd, sizeof(cmd));
		if (strcmp(cmd, "sleep 60") == 0)
			break;
		usleep(1000);
	}
	assert_string_equal(cmd, "sleep 60");
	assert_int_equal(proc_read_stat(rs.pid, st), 0);
	return rs.pid;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* A page touched for the first time is a fault of this process and one
 * more resident page: what lets a measure keep a process's memory figure
 * while both stay (sup_memory.c). */
static void faults_and_rss(void **state)
{
	(void)state;
	struct proc_stat a, b;
	size_t len = 64 << 20;
	char *m = malloc(len);   /* mmap'd, untouched */
	assert_non_null(m);
	assert_int_equal(proc_read_stat(getpid(), &a), 0);
	assert_true(a.rss > 0);
	assert_int_equal(proc_read_stat(getpid(), &b), 0);
	assert_int_equal(b.rss, a.rss);
	memset(m, 1, len);
	assert_int_equal(proc_read_stat(getpid(), &b), 0);
	assert_true(b.faults > a.faults);
	assert_true(b.rss >= a.rss + (len / 2) / (size_t)sysconf(_SC_PAGESIZE));
	free(m);
}

static void fd_count_without_listing(void **state)
{
	(void)state;
	long n = proc_fd_count();
	assert_true(n >= 3);
	assert_int_equal(n, fd_count());
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(proc_fd_count(), n + 2);
	/* past the first 1024 numbers, where the limit allows */
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	int high = -1;
	if (rl.rlim_cur > 2100)
		high = dup2(p[0], 2050);
	assert_int_equal(proc_fd_count(), n + 2 + (high >= 0));
	assert_int_equal(proc_fd_count(), fd_count());
	if (high >= 0)
		close(high);
	close(p[0]);
	close(p[1]);
	assert_int_equal(proc_fd_count(), n);
}

static void self_and_table(void **state)
{
	(void)state;
	struct proc_stat me;
	assert_int_equal(proc_read_stat(getpid(), &me), 0);
	assert_int_equal(me.pid, getpid());
	assert_int_equal(me.ppid, getppid());
	assert_int_equal(me.sid, getsid(0));
	assert_int_equal(me.pgid, getpgrp());
	assert_int_equal(me.state, 'R');
	assert_true(me.start > 0);
	struct proc_table t = { 0 };
	assert_int_equal(proc_table_scan(&t), 0);
	for (size_t i = 1; i < t.n; i++)
		assert_true(t.p[i - 1].pid < t.p[i].pid);
	long at = proc_table_find(&t, getpid());
	assert_true(at >= 0);
	assert_int_equal(t.p[at].start, me.start);
	assert_true(proc_table_find(&t, getppid()) >= 0);
	/* scanned again into the same table: the same, not twice */
	size_t n = t.n;
	assert_int_equal(proc_table_scan(&t), 0);
	assert_true(t.n < n + 50 && t.n + 50 > n);
	proc_table_free(&t);
	struct proc_stat none;
	assert_int_equal(proc_read_stat(0, &none), -1);
}

static void environ_and_cmdline(void **state)
{
	(void)state;
	char *envp[] = { "PATH=/usr/bin:/bin", "TEND_UNIT=web", NULL };
	struct proc_stat st;
	pid_t pid = sleeper(envp, &st);
	struct buf env = { 0 };
	assert_int_equal(proc_environ(pid, &env), 0);
	assert_true(environ_has(&env, "TEND_UNIT=web"));
	assert_false(environ_has(&env, "TEND_UNIT=db"));
	char cmd[6];
	proc_cmdline(pid, cmd, sizeof(cmd));
	assert_string_equal(cmd, "sleep");   /* cut, trailing space dropped */
	kill(pid, SIGKILL);
	reap(pid);
	assert_int_equal(proc_environ(pid, &env), -1);
	proc_cmdline(pid, cmd, sizeof(cmd));
	assert_string_equal(cmd, "");
	free(env.s);
}

/* A signal reaches the process it names, and never another: not one
 * with another start time (the pid reused), not one that is gone. */
static void signal_names_one_process(void **state)
{
	(void)state;
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct proc_stat st;
	pid_t pid = sleeper(envp, &st);
	struct proc_stat other = st;
	other.start++;
	assert_int_equal(proc_signal(&other, SIGKILL), 0);
	assert_int_equal(proc_wait_gone(&st, 0), 0);
	assert_int_equal(proc_wait_gone(&st, 20), 0);   /* still runs */
	assert_int_equal(proc_signal(&st, SIGKILL), 1);
	assert_int_equal(proc_wait_gone(&st, 5000), 1);   /* a zombie now */
	assert_int_equal(proc_signal(&st, SIGKILL), 0);
	reap(pid);
	assert_int_equal(proc_signal(&st, SIGKILL), 0);
	assert_int_equal(proc_wait_gone(&st, 0), 1);
}

/* Below a subreaper, a double-forked process comes to it when its parent
 * exits, not to init. */
static void subreaper_adopts_orphans(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t sub = fork();
	assert_true(sub >= 0);
	if (sub == 0) {
		close(p[0]);
		if (proc_subreaper() < 0)
			_exit(2);
		pid_t mid = fork();
		if (mid == 0) {
			pid_t me = getpid();
			if (fork() == 0) {   /* the orphan-to-be */
				while (getppid() == me)   /* until its parent is gone */
					usleep(1000);
				pid_t pp = getppid();
				_exit(write(p[1], &pp, sizeof(pp)) == sizeof(pp) ? 0 : 3);
			}
			_exit(0);
		}
		waitpid(mid, NULL, 0);
		int st;
		wait(&st);   /* the orphan, reaped here */
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 4);
	}
	close(p[1]);
	pid_t adopted = 0;
	assert_int_equal(read(p[0], &adopted, sizeof(adopted)), sizeof(adopted));
	close(p[0]);
	int st;
	assert_int_equal(waitpid(sub, &st, 0), sub);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(adopted, sub);
}

/* Another process's working directory and name (up to its first
 * newline, cut to the buffer), then nothing once it is gone. */
static void cwd_and_comm(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_proc_os.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char dir[PATH_MAX];
	assert_non_null(realpath(tmpl, dir));
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (proc_die_with_parent(SIGKILL) < 0 || chdir(dir) < 0)
			_exit(2);
		proc_set_name("tend-t\nx");
		if (write(p[1], "", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);   /* named, moved */
	close(p[0]);
	char b[PATH_MAX];
	proc_cwd(pid, b, sizeof(b));
	assert_string_equal(b, dir);
	char cut[5];
	proc_cwd(pid, cut, sizeof(cut));
	assert_int_equal(strncmp(cut, dir, 4), 0);
	assert_int_equal(strlen(cut), 4);
	proc_comm(pid, b, sizeof(b));
	assert_string_equal(b, "tend-t");
	proc_comm(pid, cut, sizeof(cut));
	assert_string_equal(cut, "tend");
	kill(pid, SIGKILL);
	reap(pid);
	proc_cwd(pid, b, sizeof(b));
	assert_string_equal(b, "");
	proc_comm(pid, b, sizeof(b));
	assert_string_equal(b, "");
	/* and this process's own */
	char here[PATH_MAX];
	assert_non_null(getcwd(here, sizeof(here)));
	proc_cwd(getpid(), b, sizeof(b));
	assert_string_equal(b, here);
	assert_int_equal(rmdir(dir), 0);
}

static const char *argv0;

static void self_exe(void **state)
{
	(void)state;
	char b[PATH_MAX];
	assert_int_equal(proc_self_exe(b, sizeof(b)), 0);
	assert_int_equal(b[0], '/');
	struct stat mine, theirs;
	assert_int_equal(stat(b, &mine), 0);
	assert_int_equal(stat(argv0, &theirs), 0);   /* this test's binary */
	assert_true(mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino);
	char cut[4];
	assert_int_equal(proc_self_exe(cut, sizeof(cut)), 0);
	assert_int_equal(strncmp(cut, b, 3), 0);
	assert_int_equal(strlen(cut), 3);
}

/* A pipe's end opened afresh: a descriptor of its own whose O_NONBLOCK is
 * not the old one's (a dup would share it), writing into the same pipe.
 * Not a socket, not a closed descriptor. */
static void fd_reopen(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	int nb = proc_fd_reopen(p[1], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(nb >= 0);
	assert_true(nb != p[1]);
	assert_true(fcntl(nb, F_GETFL) & O_NONBLOCK);
	assert_false(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(nb, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(nb, "x", 1), 1);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(nb);
	close(p[0]);
	close(p[1]);
	assert_int_equal(proc_fd_reopen(p[1], O_WRONLY), -1);   /* closed */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	errno = 0;
	assert_int_equal(proc_fd_reopen(sv[0], O_RDWR), -1);
	assert_int_equal(errno, ENXIO);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	(void)argc;
	argv0 = argv[0];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_add_sort_find),
		cmocka_unit_test(environ_entries),
		cmocka_unit_test(stat_fields),
		cmocka_unit_test(faults_and_rss),
		cmocka_unit_test(fd_count_without_listing),
		cmocka_unit_test(self_and_table),
		cmocka_unit_test(environ_and_cmdline),
		cmocka_unit_test(signal_names_one_process),
		cmocka_unit_test(subreaper_adopts_orphans),
		cmocka_unit_test(cwd_and_comm),
		cmocka_unit_test(self_exe),
		cmocka_unit_test(fd_reopen),
	};
	return cmocka_run_group_tests_name("proc_os", tests, NULL, NULL);
}
