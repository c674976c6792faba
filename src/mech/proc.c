/* proc — spawning a command (POSIX; what is particular to a system is
 * proc_os.h's). */
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

extern char **environ;

/* --- spawning --- */

/* What a child reports before its exec: a failure (ERR, STEP), or that it
 * could not join its cgroup (CG_ERR; it runs all the same). */
struct spawn_msg {
	int err;
	int step;
	int cg_err;
};

/* Where: straight into its parent's MEM while it shares its parent's
 * memory (proc_vfork: the parent waits until the exec), else over the
 * CLOEXEC pipe FD (one message is one write of a few bytes). */
struct child_out {
	int fd;
	struct spawn_msg *mem;
};

static void child_tell(struct child_out *o, const struct spawn_msg *m)
{
	if (!o->mem) {
		ssize_t w = write(o->fd, m, sizeof(*m));
		(void)w;
		return;
	}
	if (m->err && !o->mem->err) {
		o->mem->err = m->err;
		o->mem->step = m->step;
	}
	if (m->cg_err)
		o->mem->cg_err = m->cg_err;
}

static const char *const spawn_steps[] = { "fork", "exec", "chdir", "setsid",
                                           "dup2", "pipe", "prctl",
                                           "setrlimit" };
enum { STEP_FORK, STEP_EXEC, STEP_CHDIR, STEP_SETSID, STEP_DUP2, STEP_PIPE,
       STEP_PRCTL, STEP_SETRLIMIT };

static __attribute__((noreturn)) void child_fail(struct child_out *o, int step)
{
	struct spawn_msg e = { .err = errno, .step = step };
	child_tell(o, &e);
	_exit(127);
}

/* Every signal to its default and unblocked.  Failures are not errors:
 * sigaction refuses the numbers the C library keeps for itself (EINVAL;
 * the program gets those as the library sets them up), and sigprocmask
 * with a valid set cannot fail. */
static void reset_dispositions(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &sa, NULL);
}

/* Whether every disposition of this process is its default already
 * (proc_signals_default): then a child has only its mask to clear, not
 * some sixty dispositions to set one system call each. */
static bool dispositions_default;

void proc_signals_default(void)
{
	reset_dispositions();
	dispositions_default = true;
}

static void child_reset_signals(void)
{
	if (!dispositions_default)
		reset_dispositions();
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Puts FROM[i] (-1: leave it as it is) at i, for i < N.  A source inside
 * 0..N-1 is first copied above that range, so that no dup2 overwrites a
 * source still to be placed; then every placement is a real dup2 (never
 * from a descriptor onto itself), which clears CLOEXEC on its target: a
 * source already at its number would otherwise be closed by exec.  The
 * copies are CLOEXEC.  Async-signal-safe.  Returns 0, or -1 (errno). */
static int child_place(const int *from, int n)
{
	int src[3 + SPAWN_FDS_MAX];
	for (int i = 0; i < n; i++) {
		src[i] = from[i];
		if (src[i] >= 0 && src[i] < n &&
		    (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, n)) < 0)
			return -1;
	}
	for (int i = 0; i < n; i++)
		if (src[i] >= 0 && dup2(src[i], i) < 0)
			return -1;
	return 0;
}

/* FD, or a CLOEXEC copy of it at MIN or above when it sits below, where
 * a placement would overwrite it (FD itself when no copy can be made). */
static int child_above(int fd, int min)
{
	int high = fd >= 0 && fd < min ? fcntl(fd, F_DUPFD_CLOEXEC, min) : -1;
	return high >= 0 ? high : fd;
}

/* "LISTEN_PID=" in ENVP gets this process's pid (socket activation names
 * the process the sockets are for; only the child knows its pid).  The
 * program is single-threaded, so a static buffer is safe after fork. */
static void child_listen_pid(char *const *envp)
{
	static char entry[32] = "LISTEN_PID=";
	char digits[16];
	int n = 0;
	for (unsigned long v = (unsigned long)getpid(); v || n == 0; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	size_t at = 11;
	while (n > 0)
		entry[at++] = digits[--n];
	entry[at] = 0;
	for (char **e = (char **)envp; *e; e++)
		if (strncmp(*e, "LISTEN_PID=", 11) == 0)
			*e = entry;
}

static struct rlimit child_nofile;
static bool child_nofile_set;

void proc_child_nofile(const struct rlimit *rl)
{
	child_nofile = *rl;
	child_nofile_set = true;
}

int proc_child_limits(void)
{
	return child_nofile_set ? setrlimit(RLIMIT_NOFILE, &child_nofile) : 0;
}

static __attribute__((noreturn)) void child_run(const struct spawn_req *rq,
                                                struct child_out *out,
                                                pid_t parent, bool born_in_cgroup)
{
	if (rq->has_cgroup && !born_in_cgroup) {
		/* Into the run's cgroup before anything of the program runs:
		 * whatever it starts is born there. */
		int fd = openat(rq->cgroup_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			struct spawn_msg m = { .cg_err = errno ? errno : EIO };
			child_tell(out, &m);
		}
		if (fd >= 0)
			close(fd);
	}
	child_reset_signals();
	if (rq->die_with_parent) {
		/* Not started at all rather than started to outlive tend. */
		if (proc_die_with_parent(SIGKILL) < 0)
			child_fail(out, STEP_PRCTL);
		if (getppid() != parent)
			_exit(127);   /* the parent died before the line above */
	}
	/* Lowering a soft limit to what tend was started with cannot fail;
	 * should it, the program is not started with another limit than
	 * promised (proc_child_nofile). */
	if (proc_child_limits() < 0)
		child_fail(out, STEP_SETRLIMIT);
	if (setsid() < 0)
		child_fail(out, STEP_SETSID);
	int n = 3 + (int)(rq->nfds < SPAWN_FDS_MAX ? rq->nfds : SPAWN_FDS_MAX);
	if (!out->mem)
		out->fd = child_above(out->fd, n);
	int from[3 + SPAWN_FDS_MAX] = { rq->fd_in, rq->fd_out, rq->fd_err };
	for (int i = 3; i < n; i++)
		from[i] = rq->fds[i - 3];
	if (child_place(from, n) < 0)
		child_fail(out, STEP_DUP2);
	/* Nothing but what it was given: whatever else is open (all of it
	 * should be close-on-exec) goes now, where the system can close a
	 * range at once; the report pipe moves right after the placed
	 * descriptors first. */
	if (!out->mem) {
		if (out->fd != n && dup3(out->fd, n, O_CLOEXEC) < 0)
			child_fail(out, STEP_DUP2);
		out->fd = n++;
	}
	(void)proc_close_from(n);
	if (rq->cwd && chdir(rq->cwd) < 0)
		child_fail(out, STEP_CHDIR);
	if (rq->listen_pid)
		child_listen_pid(rq->envp);
	environ = (char **)rq->envp;
	execvp(rq->argv[0], rq->argv);
	child_fail(out, STEP_EXEC);
}

struct vfork_arg {
	const struct spawn_req *rq;
	pid_t parent;
	struct spawn_msg *msg;
	bool born;
};

static int vfork_child(void *p)
{
	struct vfork_arg *a = p;
	struct child_out out = { .fd = -1, .mem = a->msg };
	child_run(a->rq, &out, a->parent, a->born);
}

/* The child's stack: static, not a local of spawn_vfork, whose callees
 * (the clone itself) would then run 64 KiB deeper and leave those pages
 * of this process's own stack in use for good (the keeper's, the
 * daemon's).  Only the pages a child touched are memory.  One child at a
 * time: this process waits for its exec, and is single-threaded. */
#ifndef __SANITIZE_ADDRESS__
static char vfork_stack[64 * 1024] __attribute__((aligned(16)));
#endif

/* The child shares this process's memory and runs on VFORK_STACK until
 * its exec: nothing is copied, and this process waits for the exec
 * (CLONE_VFORK).  Born in its cgroup where the kernel can, else it moves
 * there itself.  -1 with errno ENOSYS where the system cannot. */
static pid_t spawn_vfork(const struct spawn_req *rq, struct spawn_msg *msg)
{
#ifdef __SANITIZE_ADDRESS__
	/* ASan takes a stack outside this thread's own for a bug: the
	 * child's calls of a noreturn function would say so on its stderr
	 * (the run's).  Here, then, as before: in this frame. */
	char local[64 * 1024] __attribute__((aligned(16)));
	char *stack = local;
	const size_t size = sizeof(local);
#else
	char *stack = vfork_stack;
	const size_t size = sizeof(vfork_stack);
#endif
	char **env = environ;   /* the child sets it for its exec */
	struct vfork_arg a = { rq, getpid(), msg, rq->has_cgroup };
	pid_t pid = -1;
	if (a.born)
		pid = proc_vfork_into(vfork_child, &a, stack, size,
		                      rq->cgroup_dir);
	if (pid < 0) {
		a.born = false;
		pid = proc_vfork(vfork_child, &a, stack + size);
	}
	environ = env;
#ifdef __SANITIZE_ADDRESS__
	/* The child's frames marked parts of STACK in the shadow memory both
	 * share; they are gone. */
	__asan_unpoison_memory_region(stack, size);
#endif
	return pid;
}

/* Reads the reports on FD into MSG (the first failure, a cgroup error)
 * until EOF, or a read error (none is expected on a pipe). */
static void read_reports(int fd, struct spawn_msg *msg)
{
	for (;;) {
		struct spawn_msg m;
		ssize_t r = read(fd, &m, sizeof(m));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(m))
			return;   /* EOF (messages are written whole) */
		if (m.err && !msg->err) {
			msg->err = m.err;
			msg->step = m.step;
		}
		if (m.cg_err)
			msg->cg_err = m.cg_err;
	}
}

/* The child reports a failure over a pipe: where there is no vfork. */
static pid_t spawn_fork(const struct spawn_req *rq, struct spawn_msg *msg);

int proc_spawn(const struct spawn_req *rq, struct spawn_res *rs)
{
	struct spawn_msg msg = { 0 };
	*rs = (struct spawn_res){ .pid = -1 };
	pid_t pid = spawn_vfork(rq, &msg);
	if (pid < 0 && errno == ENOSYS)
		pid = spawn_fork(rq, &msg);
	if (pid < 0) {
		rs->err = msg.err ? msg.err : errno;
		rs->step = spawn_steps[msg.err ? msg.step : STEP_FORK];
		return -1;
	}
	if (msg.err) {
		/* Reaped here, so nobody else ever sees it. */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		rs->err = msg.err;
		rs->step = (size_t)msg.step < ARRAY_LEN(spawn_steps)
		           ? spawn_steps[msg.step] : "fork";
		return -1;
	}
	rs->pid = pid;
	rs->cg_err = msg.cg_err;
	return 0;
}

static pid_t spawn_fork(const struct spawn_req *rq, struct spawn_msg *msg)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		*msg = (struct spawn_msg){ .err = errno, .step = STEP_PIPE };
		return -1;
	}
	pid_t parent = getpid();
	bool born = false;
	pid_t pid = rq->has_cgroup ? proc_fork_into(rq->cgroup_dir) : -1;
	if (pid == 0)
		born = true;
	else if (pid < 0)
		pid = fork();   /* (where the kernel cannot: the child moves) */
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		struct child_out out = { .fd = p[1] };
		child_run(rq, &out, parent, born);
	}
	close(p[1]);
	read_reports(p[0], msg);
	close(p[0]);
	return pid;
}
