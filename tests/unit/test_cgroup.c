/* Unit tests for cgroup.c's pure parsers: a line of /proc/self/mountinfo,
 * /proc/self/cgroup, and the procs file's "cgroup PATH" line, which a next
 * daemon trusts with cgroup.kill only for a directory of its own name
 * below the cgroup2 mount.  And, where this process may make cgroups (as
 * root on a cgroup2 mount), a directory's life from cg_setup to
 * cg_teardown with a process in a run's cgroup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "proc_os.h"

static void mountinfo_lines(void **state)
{
	(void)state;
	char root[64], mnt[64];
	assert_int_equal(cg_parse_mount("40 30 0:37 / /sys/fs/cgroup/unified "
	                                "rw,relatime - cgroup2 cgroup2 rw\n",
	                                root, mnt, sizeof(root)), 1);
	assert_string_equal(root, "/");
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	/* optional fields before the separator; a container's part of the
	 * hierarchy; an escaped space */
	assert_int_equal(cg_parse_mount("35 24 0:30 /docker/abc /sys/fs/my\\040cg "
	                                "rw,nosuid shared:9 master:1 - cgroup2 "
	                                "cgroup2 rw,nsdelegate",
	                                root, mnt, sizeof(root)), 1);
	assert_string_equal(root, "/docker/abc");
	assert_string_equal(mnt, "/sys/fs/my cg");
	/* another file system, and v1's "cgroup" */
	assert_int_equal(cg_parse_mount("31 30 0:28 / /sys/fs/cgroup/cpu rw - "
	                                "cgroup cgroup rw,cpu", root, mnt,
	                                sizeof(root)), 0);
	assert_int_equal(cg_parse_mount("22 1 8:1 / / rw - ext4 /dev/sda1 rw",
	                                root, mnt, sizeof(root)), 0);
	/* not such a line: no separator, relative paths, a NUL escaped in,
	 * too long */
	assert_int_equal(cg_parse_mount("40 30 0:37 / /x rw cgroup2", root, mnt,
	                                sizeof(root)), -1);
	assert_int_equal(cg_parse_mount("40 30 0:37 x /x rw - cgroup2 c rw",
	                                root, mnt, sizeof(root)), -1);
	assert_int_equal(cg_parse_mount("40 30 0:37 / /a\\000b rw - cgroup2 c rw",
	                                root, mnt, sizeof(root)), -1);
	assert_int_equal(cg_parse_mount("40 30 0:37 / /0123456789 rw - cgroup2 c",
	                                root, mnt, 8), -1);
	assert_int_equal(cg_parse_mount("", root, mnt, sizeof(root)), -1);
}

static void self_cgroup(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(cg_parse_self("9:name=systemd:/\n4:memory:/x\n0::/\n",
	                               out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(cg_parse_self("0::/user.slice/user-1000.slice/"
	                               "user@1000.service/app.slice/a.scope",
	                               out, sizeof(out)), 0);
	assert_string_equal(out, "/user.slice/user-1000.slice/user@1000.service/"
	                         "app.slice/a.scope");
	/* cgroup v1 only; a removed cgroup; not absolute; too long */
	assert_int_equal(cg_parse_self("4:memory:/x\n1:cpu:/\n", out,
	                               sizeof(out)), -1);
	assert_int_equal(cg_parse_self("0::/gone (deleted)\n", out,
	                               sizeof(out)), -1);
	assert_int_equal(cg_parse_self("0::x\n", out, sizeof(out)), -1);
	assert_int_equal(cg_parse_self("0::/0123456789\n", out, 8), -1);
	assert_int_equal(cg_parse_self("", out, sizeof(out)), -1);
}

static void procs_file_records(void **state)
{
	(void)state;
	char out[128];
	const char *m = "/sys/fs/cgroup";
	assert_int_equal(cg_parse_record("cgroup /sys/fs/cgroup/user.slice/"
	                                 "tend-proj-1a2b3c4d-4242\n", m,
	                                 "proj-1a2b3c4d", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/user.slice/tend-proj-1a2b3c4d-4242");
	assert_int_equal(cg_parse_record("cgroup /sys/fs/cgroup/tend-p-1-7", m,
	                                 "p-1", out, sizeof(out)), 0);
	/* cgroup2 mounted at / */
	assert_int_equal(cg_parse_record("cgroup /a/tend-p-7\n", "/", "p", out,
	                                 sizeof(out)), 0);
	static const char *const bad[] = {
		"cgroup /sys/fs/cgroup/system.slice\n",        /* not tend's */
		"cgroup /sys/fs/cgroup/tend-other-1a2b3c4d-42", /* another ID */
		"cgroup /sys/fs/cgroup/tend-proj-1a2b3c4d-",    /* no pid */
		"cgroup /sys/fs/cgroup/tend-proj-1a2b3c4d-4x",
		"cgroup /sys/fs/cgroup/tend-proj-1a2b3c4d-12345678901",
		"cgroup /sys/fs/cgroupx/tend-proj-1a2b3c4d-42", /* another mount */
		"cgroup /elsewhere/tend-proj-1a2b3c4d-42",
		"cgroup /sys/fs/cgroup/../tend-proj-1a2b3c4d-42",
		"cgroup /sys/fs/cgroup/./tend-proj-1a2b3c4d-42",
		"cgroup /sys/fs/cgroup//tend-proj-1a2b3c4d-42",
		"cgroup /sys/fs/cgroup/tend-proj-1a2b3c4d-42/1-web",
		"cgroup /sys/fs/cgroup/a\x01/tend-proj-1a2b3c4d-42",
		"cgroup /sys/fs/cgroup/tend-proj-1a2b3c4d-42\nmore",
		"cgroup /sys/fs/cgroup",
		"cgroup ",
		"cgroup",
		"run TEND_RUN=0011223344556677 web",
		"42 1234 web",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cg_parse_record(bad[i], m, "proj-1a2b3c4d", out, sizeof(out)) != -1)
			fail_msg("accepted: %s", bad[i]);
	/* no mount, no name, a path longer than OUT */
	assert_int_equal(cg_parse_record("cgroup /sys/fs/cgroup/tend-p-7", NULL,
	                                 "p", out, sizeof(out)), -1);
	assert_int_equal(cg_parse_record("cgroup /sys/fs/cgroup/tend-p-7", m, "",
	                                 out, sizeof(out)), -1);
	assert_int_equal(cg_parse_record("cgroup /sys/fs/cgroup/tend-p-7", m, "p",
	                                 out, 10), -1);
}

/* A child that joins the cgroup at PATH and waits to be killed. */
static pid_t joiner(const char *path)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (proc_die_with_parent(SIGKILL) < 0)   /* should the test fail */
			_exit(1);
		char *procs = cg_procs_file(path);
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1 || write(ready[1], "j", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void a_directory_from_setup_to_teardown(void **state)
{
	(void)state;
	struct cgroups cg;
	if (cg_setup(&cg, "unittest") < 0) {
		/* said in one line, and nothing is in use */
		assert_non_null(cg.why);
		assert_null(strchr(cg.why, '\n'));
		assert_null(cg.dir);
		assert_null(cg_run_new(&cg, "a"));
		assert_int_equal(errno, ENOENT);
		cg_teardown(&cg);
		skip();
	}
	assert_null(cg.why);
	assert_non_null(cg.mount);
	char want[64];
	snprintf(want, sizeof(want), "/tend-unittest-%d", (int)getpid());
	assert_non_null(strstr(cg.dir, want));
	/* A directory of this pid already there (a tend that had it before)
	 * is replaced. */
	struct cgroups again;
	assert_int_equal(cg_setup(&again, "unittest"), 0);
	assert_string_equal(again.dir, cg.dir);
	cg_teardown(&again);
	cg_teardown(&cg);   /* its directory is gone already */
	assert_int_equal(cg_setup(&cg, "unittest"), 0);

	char *run = cg_run_new(&cg, "web 1");
	assert_non_null(run);
	assert_non_null(strstr(run, "/1-web_1"));
	assert_int_equal(cg_populated(run), 0);
	pid_t pid = joiner(run);
	assert_int_equal(cg_populated(run), 1);
	pid_t *pids = NULL;
	size_t cap = 0;
	assert_int_equal(cg_pids(run, &pids, &cap), 1);
	assert_int_equal(pids[0], pid);
	free(pids);
	/* cgroup.kill ends it */
	assert_int_equal(cg_kill(run), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	cg_run_end(run);
	struct stat sb;
	assert_int_equal(stat(run, &sb), -1);
	free(run);

	/* Disabled: no new run gets one. */
	cg_disable(&cg, "a test");
	assert_null(cg_run_new(&cg, "x"));
	assert_string_equal(cg.why, "a test");
	/* At the end, a process left in a run's cgroup is killed and every
	 * directory goes. */
	cg.off = false;
	run = cg_run_new(&cg, "left");
	assert_non_null(run);
	pid = joiner(run);
	char *dir = strdup(cg.dir);
	cg_teardown(&cg);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(stat(dir, &sb), -1);
	assert_null(cg.dir);
	free(dir);
	free(run);
}

/* A child forked into a run's cgroup is born there (proc_fork_into):
 * cg_pids lists it before it did anything. */
static void a_child_born_in_its_cgroup(void **state)
{
	(void)state;
	struct cgroups cg;
	if (cg_setup(&cg, "unittest") < 0) {
		cg_teardown(&cg);
		skip();
	}
	char *run = cg_run_new(&cg, "born");
	assert_non_null(run);
	int fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	int hold[2];
	assert_int_equal(pipe(hold), 0);
	pid_t pid = proc_fork_into(fd);
	if (pid < 0 && errno == ENOSYS) {   /* a kernel without clone3 */
		close(fd);
		cg_teardown(&cg);
		free(run);
		run = NULL;
		skip();
	}
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(hold[1]);
		_exit(read(hold[0], &c, 1) == 0 ? 0 : 1);   /* until the test says */
	}
	close(hold[0]);
	close(fd);
	pid_t *pids = NULL;
	size_t cap = 0;
	assert_int_equal(cg_pids(run, &pids, &cap), 1);
	assert_int_equal(pids[0], pid);
	free(pids);
	close(hold[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cg_run_end(run);
	free(run);
	cg_teardown(&cg);
}

/* What a vfork child born in a cgroup saw (proc_vfork_into): it shares
 * the test's memory. */
struct vborn {
	int arg;
	char cgroup[512];
	uintptr_t local;
};

static int vborn_child(void *p)
{
	struct vborn *v = p;
	int marker = 0;
	v->local = (uintptr_t)&marker;
	v->arg = 7;
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, v->cgroup, sizeof(v->cgroup) - 1);
		v->cgroup[n > 0 ? n : 0] = 0;
		close(fd);
	}
	return 42;
}

/* A vfork child is born in the run's cgroup (proc_vfork_into: clone3
 * through tend's own few instructions): it runs FN(ARG) on the stack it
 * was given, shares this process's memory, is in the cgroup from its
 * first instruction, and its exit status is what FN returned. */
static void a_vfork_child_born_in_its_cgroup(void **state)
{
	(void)state;
	struct cgroups cg;
	if (cg_setup(&cg, "unittest") < 0) {
		cg_teardown(&cg);
		skip();
	}
	char *run = cg_run_new(&cg, "vborn");
	assert_non_null(run);
	int fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct vborn v = { 0 };
	pid_t pid = proc_vfork_into(vborn_child, &v, stack, sizeof(stack), fd);
	close(fd);
	if (pid < 0 && errno == ENOSYS) {   /* no clone3, or not this machine */
		cg_run_end(run);
		free(run);
		cg_teardown(&cg);
		skip();
		return;   /* skip() does not return; said for cppcheck */
	}
	assert_true(pid > 0);
	/* the parent went on once the child was gone (CLONE_VFORK) */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	assert_int_equal(v.arg, 7);
	assert_true(v.local >= (uintptr_t)stack &&
	            v.local < (uintptr_t)stack + sizeof(stack));
	const char *leaf = strrchr(run, '/');
	char want[128];
	snprintf(want, sizeof(want), "%s\n", leaf);
	assert_non_null(strstr(v.cgroup, want));
	assert_int_equal(cg_populated(run), 0);
	cg_run_end(run);
	free(run);
	cg_teardown(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mountinfo_lines),
		cmocka_unit_test(self_cgroup),
		cmocka_unit_test(procs_file_records),
		cmocka_unit_test(a_directory_from_setup_to_teardown),
		cmocka_unit_test(a_child_born_in_its_cgroup),
		cmocka_unit_test(a_vfork_child_born_in_its_cgroup),
	};
	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
