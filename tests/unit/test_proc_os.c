/* Unit tests for proc_os.h, whichever file implements it (today
 * proc_linux.c), on real processes: the table, one process's identity,
 * environment and command line, signals that never hit a recycled pid,
 * waiting for a process to go, the subreaper; and the table's
 * bookkeeping (proc_tree.c), pure.  A new system's file passes these as
 * they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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
	char cmd[64];
	proc_cmdline(rs.pid, cmd, sizeof(cmd));
	assert_string_equal(cmd, "sleep 60");
	assert_int_equal(proc_read_stat(rs.pid, st), 0);
	return rs.pid;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_add_sort_find),
		cmocka_unit_test(environ_entries),
		cmocka_unit_test(self_and_table),
		cmocka_unit_test(environ_and_cmdline),
		cmocka_unit_test(signal_names_one_process),
		cmocka_unit_test(subreaper_adopts_orphans),
	};
	return cmocka_run_group_tests_name("proc_os", tests, NULL, NULL);
}
