/* proc_linux — proc_os.h on Linux: the process table from /proc, signals
 * through a pidfd (a recycled pid is never signalled), prctl, and
 * /proc/self (the executable, a descriptor opened afresh). */
#include "proc_os.h"
#include "proc_linux.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>
#include <linux/sched.h>

/* Reads NAME (a path below DIR: /proc, or AT_FDCWD with a whole path). */
static ssize_t read_at(int dir, const char *name, char *buf, size_t cap)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	int err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	buf[n] = 0;
	return n;
}

ssize_t proc_read_file(pid_t pid, const char *file, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return read_at(AT_FDCWD, path, buf, cap);
}

/* --- one process --- */

/* The next field at *P (after one space): an integer, '-' allowed when
 * SIGNED; *P past it.  -1 when there is none or it overflows. */
static int stat_field(const char **p, bool sign, long long *v)
{
	const char *s = *p;
	if (*s++ != ' ')
		return -1;
	bool neg = sign && *s == '-';
	s += neg;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long n = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (ULLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*s - '0');
	}
	if (*s != ' ' && *s != '\n' && *s != '\0')
		return -1;
	if (n > (unsigned long long)LLONG_MAX)
		return -1;
	*v = neg ? -(long long)n : (long long)n;
	*p = s;
	return 0;
}

int proc_parse_stat(const char *buf, pid_t pid, struct proc_stat *st)
{
	/* comm may hold spaces and parentheses: fields start after the last
	 * ')'.  Read by hand, not by sscanf: a status of a thousand services
	 * parses a thousand of these. */
	const char *s = strrchr(buf, ')');
	if (!s || s[1] != ' ' || !s[2] || s[2] == ' ' || s[2] == '\n')
		return -1;
	char state = s[2];
	s += 3;
	/* fields 4..24: ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime priority nice threads
	 * itrealvalue starttime vsize rss; the kernel writes each in the
	 * range of its type (cutime and cstime are never negative) */
	long long f[21];
	for (int i = 0; i < 21; i++) {
		bool sign = i < 5 || (i >= 14 && i <= 17);
		if (stat_field(&s, sign, &f[i]) < 0)
			return -1;
	}
	for (int i = 0; i < 3; i++)
		if (f[i] < INT_MIN || f[i] > INT_MAX)
			return -1;
	*st = (struct proc_stat){ .pid = pid, .ppid = (pid_t)f[0],
	                          .pgid = (pid_t)f[1], .sid = (pid_t)f[2],
	                          .start = (uint64_t)f[18], .state = state,
	                          .cpu = (uint64_t)f[10] + (uint64_t)f[11] +
	                                 (uint64_t)f[12] + (uint64_t)f[13],
	                          .faults = (uint64_t)f[6] + (uint64_t)f[8],
	                          .rss = (uint64_t)f[20] };
	return 0;
}

int proc_read_stat(pid_t pid, struct proc_stat *st)
{
	char buf[1024];
	if (proc_read_file(pid, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	return proc_parse_stat(buf, pid, st);
}

void proc_cmdline(pid_t pid, char *out, size_t cap)
{
	char buf[512];
	out[0] = 0;
	ssize_t n = proc_read_file(pid, "cmdline", buf, sizeof(buf));
	if (n == 0 && proc_read_file(pid, "comm", buf, sizeof(buf)) > 0)
		n = (ssize_t)strcspn(buf, "\n");   /* a kernel thread or a zombie */
	size_t k = 0;
	for (ssize_t i = 0; i < n && k + 1 < cap; i++, k++) {
		out[k] = buf[i];
		if (out[k] == '\0')
			out[k] = ' ';
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = 0;
	str_clean(out);
}

void proc_cwd(pid_t pid, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	ssize_t n = readlink(path, out, cap - 1);
	out[n > 0 ? n : 0] = 0;
}

void proc_comm(pid_t pid, char *out, size_t cap)
{
	if (proc_read_file(pid, "comm", out, cap) < 0)
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
}

#define ENVIRON_MAX 65536

int proc_environ(pid_t pid, struct buf *env)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	env->len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (env->cap < ENVIRON_MAX + 1) {
		env->s = xrealloc(env->s, ENVIRON_MAX + 1);
		env->cap = ENVIRON_MAX + 1;
	}
	ssize_t r = 0;
	while (env->len < ENVIRON_MAX &&
	       (r = read(fd, env->s + env->len, ENVIRON_MAX - env->len)) > 0)
		env->len += (size_t)r;
	close(fd);
	/* A read that fails (the process exited meanwhile: ESRCH) leaves an
	 * environment cut short: nothing to judge the process by. */
	return r < 0 ? -1 : 0;
}

/* --- the table --- */

int proc_table_scan(struct proc_table *t)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	t->n = 0;
	struct dirent *de;
	for (;;) {
		errno = 0;
		if (!(de = readdir(d)))
			break;
		char *end, name[300], buf[1024];
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;   /* not a process */
		/* relative to /proc, open already: no walk of "/proc" per
		 * process */
		snprintf(name, sizeof(name), "%s/stat", de->d_name);
		struct proc_stat st;
		if (read_at(dirfd(d), name, buf, sizeof(buf)) <= 0 ||
		    proc_parse_stat(buf, (pid_t)pid, &st) < 0)
			continue;   /* gone meanwhile */
		*proc_table_add(t) = st;
	}
	int err = errno;   /* readdir's: 0 at the end of the directory */
	closedir(d);
	proc_table_sort(t);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

long proc_own_children(pid_t **pids, size_t *cap)
{
	/* One thread: its list is the process's (no walk of /proc/self/task,
	 * which costs four more system calls on every reap). */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	size_t n = 0;
	return read_pids(path, pids, cap, &n) < 0 ? -1 : (long)n;
}

long proc_fd_count(void)
{
	/* Since Linux 6.2 the size of /proc/self/fd is the number of open
	 * descriptors: one system call (0 before, and this process has some
	 * open: then the poll below). */
	struct stat fdst;
	if (stat("/proc/self/fd", &fdst) == 0 && fdst.st_size > 0)
		return (long)fdst.st_size;
	/* The size of the descriptor table bounds every descriptor; poll
	 * tells POLLNVAL of each number not open (and waits for nothing:
	 * no event is asked for, the timeout is 0). */
	char buf[4096];
	ssize_t n = proc_read_file(getpid(), "status", buf, sizeof(buf));
	const char *f = n > 0 ? strstr(buf, "\nFDSize:") : NULL;
	struct rlimit rl;
	if (!f || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	long size = strtol(f + 8, NULL, 10);
	/* 128 at a time: a deep frame of this call (under a status request)
	 * would keep that much more of the daemon's stack in use for good. */
	size_t chunk = rl.rlim_cur < 128 ? (size_t)rl.rlim_cur : 128;
	struct pollfd pf[128];
	long open_ = 0;
	for (long base = 0; chunk && base < size; base += (long)chunk) {
		size_t k = 0;
		for (; k < chunk && base + (long)k < size; k++)
			pf[k] = (struct pollfd){ .fd = (int)(base + (long)k) };
		if (poll(pf, k, 0) < 0)
			return -1;
		for (size_t i = 0; i < k; i++)
			open_ += !(pf[i].revents & POLLNVAL);
	}
	return open_;
}

/* --- signals --- */

/* A pidfd for PID: held, it names that process however soon the pid is
 * given to another.  -1 with errno: ESRCH (no such process), ENOSYS
 * (before Linux 5.3), or a lack of descriptors or memory. */
static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int proc_pidfd(pid_t pid)
{
	return pidfd_of(pid);
}

int proc_same_vm(pid_t a, pid_t b)
{
#ifdef SYS_kcmp
	long r = syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0);
	return r == 0 ? 1 : r > 0 ? 0 : -1;
#else
	(void)a;
	(void)b;
	errno = ENOSYS;
	return -1;
#endif
}

pid_t proc_pidfd_pid(int fd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	const char *p = strstr(buf, "\nPid:\t");
	char *end;
	long pid = p ? strtol(p + 6, &end, 10) : -1;
	return pid > 0 && (*end == '\n' || *end == 0) ? (pid_t)pid : -1;
}

/* Is the process P names still there (not a zombie)? */
static bool still_there(const struct proc_stat *p)
{
	struct proc_stat now;
	return proc_read_stat(p->pid, &now) == 0 && now.start == p->start &&
	       now.state != 'Z';
}

int proc_signal(const struct proc_stat *p, int sig)
{
	int fd = pidfd_of(p->pid);
	if (fd < 0 && errno == ESRCH)
		return 0;
	/* Without a pidfd (an older kernel, or no descriptor left) kill()
	 * right after the check: the pid could be reused only in between. */
	int sent = 0;
	if (still_there(p)) {
		if (fd >= 0)
			sent = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0;
		else
			sent = kill(p->pid, sig) == 0;
	}
	if (fd >= 0)
		close(fd);
	return sent;
}

int proc_wait_gone(const struct proc_stat *p, int timeout_ms)
{
	int fd = pidfd_of(p->pid);
	if (fd < 0)
		return errno == ESRCH;
	int gone = !still_there(p);
	if (!gone && timeout_ms > 0) {
		/* A pidfd is readable once its process has exited. */
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		gone = poll(&pf, 1, timeout_ms) > 0;
	}
	close(fd);
	return gone;
}

/* --- this process --- */

/* fork() by clone3 with FLAGS (and the cgroup CGROUP_FD, for
 * CLONE_INTO_CGROUP).  No stack given: the child runs on a copy of ours. */
static pid_t fork3(uint64_t flags, int cgroup_fd)
{
#if defined(SYS_clone3)
	struct clone_args args = { .flags = flags, .exit_signal = SIGCHLD,
	                           .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0 };
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
#else
	(void)flags;
	(void)cgroup_fd;
	errno = ENOSYS;
	return -1;
#endif
}

pid_t proc_fork_into(int cgroup_fd)
{
#if defined(CLONE_INTO_CGROUP)
	return fork3(CLONE_INTO_CGROUP, cgroup_fd);
#else
	(void)cgroup_fd;
	errno = ENOSYS;
	return -1;
#endif
}

int proc_close_from(int min)
{
	return syscall(SYS_close_range, (unsigned)min, ~0U, 0) == 0 ? 0 : -1;
}

pid_t proc_vfork(int (*fn)(void *), void *arg, void *stack_top)
{
	return clone(fn, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
}

/* clone3 with a stack of the child's own, as the C library's clone does
 * for clone: the child starts on that stack at the instruction after the
 * system call, so it must call FN(ARG) and exit from there, never
 * return.  tend_clone3(args, size, fn, arg) returns what the system call
 * returned (the child's pid, or -errno) in the parent.  x86-64 only (the
 * one tested); elsewhere the child moves itself into its cgroup. */
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP) && defined(__x86_64__)
#define HAVE_TEND_CLONE3 1
long tend_clone3(struct clone_args *args, size_t size, int (*fn)(void *),
                 void *arg) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl tend_clone3\n"
        ".hidden tend_clone3\n"
        ".type tend_clone3, @function\n"
        "tend_clone3:\n"
        "	mov %rcx, %r8\n"          /* ARG: kept by the system call */
        "	mov $435, %eax\n"         /* SYS_clone3 */
        "	syscall\n"
        "	test %rax, %rax\n"
        "	jz 1f\n"
        "	ret\n"
        "1:	xor %ebp, %ebp\n"         /* the child: the outermost frame */
        "	and $-16, %rsp\n"
        "	mov %r8, %rdi\n"
        "	call *%rdx\n"
        "	mov %eax, %edi\n"
        "	mov $60, %eax\n"          /* SYS_exit */
        "	syscall\n"
        "	hlt\n"
        ".size tend_clone3, .-tend_clone3\n");
#endif

pid_t proc_vfork_into(int (*fn)(void *), void *arg, void *stack, size_t size,
                      int cgroup_fd)
{
#ifdef HAVE_TEND_CLONE3
	_Static_assert(SYS_clone3 == 435, "clone3's number in the trampoline");
	/* A kernel without clone3 (before 5.3) or without its cgroup field
	 * (before 5.7: the arguments are too big for it) says so once; the
	 * spawns after that do not ask again. */
	static bool unable;
	if (unable) {
		errno = ENOSYS;
		return -1;
	}
	struct clone_args args = {
		.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.stack = (uint64_t)(uintptr_t)stack,
		.stack_size = size,
		.cgroup = (uint64_t)cgroup_fd,
	};
	long r = tend_clone3(&args, sizeof(args), fn, arg);
	if (r < 0) {
		errno = (int)-r;
		unable = errno == ENOSYS || errno == E2BIG;
		return -1;
	}
	return (pid_t)r;
#else
	(void)fn;
	(void)arg;
	(void)stack;
	(void)size;
	(void)cgroup_fd;
	errno = ENOSYS;
	return -1;
#endif
}

pid_t proc_fork_pidns(bool user)
{
	return fork3(CLONE_NEWPID | CLONE_NEWNS | (user ? CLONE_NEWUSER : 0), -1);
}

/* Writes TEXT to the file PATH (a /proc/self/ setting). */
static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)len ? 0 : -1;
}

int proc_pidns_setup(bool user, uid_t uid, gid_t gid, const char **step)
{
	char map[64];
	if (user) {
		*step = "setgroups";
		if (write_file("/proc/self/setgroups", "deny") < 0)
			return -1;
		*step = "uid_map";
		snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)uid,
		         (unsigned long)uid);
		if (write_file("/proc/self/uid_map", map) < 0)
			return -1;
		*step = "gid_map";
		snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)gid,
		         (unsigned long)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -1;
	}
	/* The mounts below stay in this namespace; the system's still
	 * reach it (a slave, not a private copy). */
	*step = "mount /";
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -1;
	*step = "mount /proc";
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	return 0;
}

int proc_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -1 : 0;
}

int proc_die_with_parent(int sig)
{
	return prctl(PR_SET_PDEATHSIG, sig) < 0 ? -1 : 0;
}

int proc_self_exe(char *out, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", out, cap - 1);
	if (n <= 0) {
		out[0] = 0;
		return -1;
	}
	out[n] = 0;
	return 0;
}

int proc_fd_reopen(int fd, int flags)
{
	/* Opening /proc/self/fd/N opens the file (or pipe) anew, not a
	 * duplicate of N's open file description. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

void proc_set_name(const char *name)
{
	/* Refused only for a name it cannot read: ps shows the old one. */
	(void)prctl(PR_SET_NAME, name);
}
