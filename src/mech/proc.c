/* proc — spawning a command, alone or below a shim (POSIX; what is
 * particular to a system is proc_os.h's). */
#include "proc.h"
#include "cgroup.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* --- spawning --- */

/* What a forked child reports over its CLOEXEC pipe: a failure (ERR, STEP)
 * before exec, or a pid: the main process's own, or (the shim) the pid of
 * the main process it started.  One message is one write of a few bytes,
 * so a reader never sees two writers' messages mixed (PIPE_BUF). */
struct spawn_msg {
	pid_t pid;
	int err;
	int step;
	int cg_err;   /* the main process's: it could not join its cgroup */
};

static const char *const spawn_steps[] = { "fork", "exec", "chdir", "setsid",
                                           "dup2", "pipe", "prctl",
                                           "setrlimit", "close_range" };
enum { STEP_FORK, STEP_EXEC, STEP_CHDIR, STEP_SETSID, STEP_DUP2, STEP_PIPE,
       STEP_PRCTL, STEP_SETRLIMIT, STEP_CLOSE };

static void child_fail(int fd, int step)
{
	struct spawn_msg e = { .err = errno, .step = step };
	ssize_t r = write(fd, &e, sizeof(e));
	(void)r;
	_exit(127);
}

/* Every signal to its default and unblocked.  Failures are not errors:
 * sigaction refuses the numbers the C library keeps for itself (EINVAL;
 * the program gets those as the library sets them up), and sigprocmask
 * with a valid set cannot fail. */
static void child_reset_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &sa, NULL);
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

typedef void (*child_fn)(const struct spawn_req *rq, int report, pid_t parent);

/* In a shim: its report pipe to tend, which the main process inherits
 * until its exec (CLOEXEC); -1 elsewhere. */
static int child_tell = -1;

/* In a shim: the run's cgroup directory, open, for the main process to be
 * born in it (proc_fork_into); -1: none, or fork and move.  In the main
 * process: whether it was born there. */
static int child_cgroup_fd = -1;
static bool child_born_in_cgroup;

static void child_run(const struct spawn_req *rq, int errfd, pid_t parent)
{
	int cg_err = 0;
	if (rq->cgroup && !child_born_in_cgroup) {
		/* Into the run's cgroup before anything of the program runs:
		 * whatever it starts is born there. */
		int fd = open(rq->cgroup, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			cg_err = errno ? errno : EIO;
		if (fd >= 0)
			close(fd);
	}
	if (child_tell >= 0) {
		/* The main process tells tend its pid itself, before anything
		 * of the program runs: tend knows it even when the program
		 * kills its shim before the shim could report. */
		struct spawn_msg me = { .pid = getpid(), .cg_err = cg_err };
		ssize_t w = write(child_tell, &me, sizeof(me));
		(void)w;
	}
	child_reset_signals();
	if (rq->die_with_parent) {
		/* Not started at all rather than started to outlive tend. */
		if (proc_die_with_parent(SIGKILL) < 0)
			child_fail(errfd, STEP_PRCTL);
		if (getppid() != parent)
			_exit(127);   /* the parent died before the line above */
	}
	/* Lowering a soft limit to what tend was started with cannot fail;
	 * should it, the program is not started with another limit than
	 * promised (proc_child_nofile). */
	if (child_nofile_set && setrlimit(RLIMIT_NOFILE, &child_nofile) < 0)
		child_fail(errfd, STEP_SETRLIMIT);
	if (setsid() < 0)
		child_fail(errfd, STEP_SETSID);
	errfd = child_above(errfd, 3);
	const int from[3] = { rq->fd_in, rq->fd_out, rq->fd_err };
	if (child_place(from, 3) < 0)
		child_fail(errfd, STEP_DUP2);
	if (rq->cwd && chdir(rq->cwd) < 0)
		child_fail(errfd, STEP_CHDIR);
	if (rq->listen_pid)
		child_listen_pid(rq->envp);
	environ = (char **)rq->envp;
	execvp(rq->argv[0], rq->argv);
	child_fail(errfd, STEP_EXEC);
}

/* Reads the reports on FD into MSG (the first failure, the last pid, a
 * cgroup error) until EOF, or a read error (none is expected on a pipe).
 * Returns whether any came. */
static int read_reports(int fd, struct spawn_msg *msg)
{
	int got = 0;
	for (;;) {
		struct spawn_msg m;
		ssize_t r = read(fd, &m, sizeof(m));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(m))
			return got;   /* EOF (messages are written whole) */
		got = 1;
		if (m.err && !msg->err) {
			msg->err = m.err;
			msg->step = m.step;
		}
		if (m.pid)
			msg->pid = m.pid;
		if (m.cg_err)
			msg->cg_err = m.cg_err;
	}
}

/* Forks a child that runs FN(RQ, the write end of a CLOEXEC pipe, our
 * pid) and reads its reports until every writer closed the pipe (the
 * child and whatever inherited it exec'd, or died): 1 with *MSG filled
 * when some came (the first failure, the last pid), 0 when none did, -1
 * with RS filled when there is no child.  A child that reported a failure
 * (MSG->err) is reaped here, so nobody else ever sees it. */
static int fork_reporting(child_fn fn, const struct spawn_req *rq,
                          struct spawn_res *rs, pid_t *pid, struct spawn_msg *msg)
{
	int p[2];
	*rs = (struct spawn_res){ .pid = -1 };
	*msg = (struct spawn_msg){ 0 };
	if (pipe2(p, O_CLOEXEC) < 0) {
		rs->err = errno;
		rs->step = spawn_steps[STEP_PIPE];
		return -1;
	}
	pid_t parent = getpid();
	*pid = child_cgroup_fd >= 0 ? proc_fork_into(child_cgroup_fd) : -1;
	if (*pid == 0)
		child_born_in_cgroup = true;
	else if (*pid < 0)
		*pid = fork();   /* (where the kernel cannot: the child moves) */
	if (*pid < 0) {
		rs->err = errno;
		rs->step = spawn_steps[STEP_FORK];
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (*pid == 0) {
		close(p[0]);
		fn(rq, p[1], parent);
		_exit(127);
	}
	close(p[1]);
	int got = read_reports(p[0], msg);
	close(p[0]);
	if (!got)
		return 0;
	if (msg->err) {
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
		rs->err = msg->err;
		rs->step = (size_t)msg->step < ARRAY_LEN(spawn_steps)
		           ? spawn_steps[msg->step] : "fork";
	}
	return 1;
}

int proc_spawn(const struct spawn_req *rq, struct spawn_res *rs)
{
	pid_t pid;
	struct spawn_msg msg;
	int r = fork_reporting(child_run, rq, rs, &pid, &msg);
	if (r < 0 || msg.err)
		return -1;
	rs->pid = pid;
	return 0;
}

/* --- the shim --- */

static char *title_start;
static size_t title_len;

void proc_title_area(char *start, size_t len)
{
	title_start = start;
	title_len = len;
}

static void shim_title(const char *title)
{
	proc_set_name("tend-shim");   /* ps only: no matter if not */
	if (!title_start || title_len < 2)
		return;
	memset(title_start, 0, title_len);
	snprintf(title_start, title_len, "tend-shim %s", title ? title : "");
}

struct shim_tree {
	struct proc_table t;
	int *owner;
	struct proc_stat *m;
};

/* Every live descendant of the shim. */
static size_t shim_collect(void *ctx, const struct proc_stat **members)
{
	struct shim_tree *st = ctx;
	size_t n = 0;
	*members = st->m;
	if (proc_table_scan(&st->t) < 0)
		return 0;
	st->owner = xrealloc(st->owner, (st->t.n + 1) * sizeof(*st->owner));
	st->m = xrealloc(st->m, (st->t.n + 1) * sizeof(*st->m));
	struct tree_root any = { 0 };
	tree_assign(&st->t, getpid(), &any, 1, true, st->owner);
	for (size_t i = 0; i < st->t.n; i++)
		if (st->owner[i] == 0)
			st->m[n++] = st->t.p[i];
	*members = st->m;
	return n;
}

/* The run's cgroup directory (from its cgroup.procs, spawn_req.cgroup),
 * in the shim; NULL: the run has no cgroup. */
static char *shim_cgroup;

/* tend is gone: nothing of the tree may outlive it. */
static __attribute__((noreturn)) void shim_contain(void)
{
	/* The kernel kills the run's cgroup at once; the freeze-kill below is
	 * for what is outside it (nothing should be), and for all of it
	 * should cgroup.kill be refused. */
	if (shim_cgroup)
		(void)cg_kill(shim_cgroup);
	struct shim_tree st = { 0 };
	proc_freeze_kill(shim_collect, &st);
	/* Every descendant was killed; as each dies its orphans come here. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	_exit(137);
}

/* Leaves the way the main process did, so tend sees its wait status.
 * The calls cannot fail for a signal a process was killed by; should one,
 * the shim is killed with a core limit left as it was, or exits 128 + the
 * signal: the shell's way of saying the same. */
static __attribute__((noreturn)) void shim_mirror(int st)
{
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		struct rlimit none = { 0, 0 };
		(void)setrlimit(RLIMIT_CORE, &none);
		struct sigaction sa = { .sa_handler = SIG_DFL };
		(void)sigaction(sig, &sa, NULL);
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		(void)kill(getpid(), sig);
		(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* The shim's own set-up, before anything of the run exists: every signal
 * blocked (they are taken by sigwaitinfo), SIGTERM when tend dies, a
 * session of its own, the subreaper, its title.  Each failure is the run's
 * failure to start (tend reports the step and its errno): a shim that
 * would not hear of tend's death, or would stay in tend's session, cannot
 * contain the run as it promises. */
static void shim_setup(const struct spawn_req *rq, int rep, pid_t tend,
                       sigset_t *all)
{
	sigfillset(all);
	(void)sigprocmask(SIG_SETMASK, all, NULL);   /* a valid set: cannot fail */
	if (proc_die_with_parent(SIGTERM) < 0)
		child_fail(rep, STEP_PRCTL);
	if (getppid() != tend)
		_exit(137);  /* tend died before the line above: nothing started */
	if (setsid() < 0)
		child_fail(rep, STEP_SETSID);
	/* Refused only where tend's own subreaper call was refused too, which
	 * it reported when it started (sup_prepare) and lives with: the run
	 * starts, its daemonized descendants may escape, as tend's may. */
	(void)proc_subreaper();
	shim_title(rq->title);
}

/* Only what the run needs stays open: tend's sockets, its epoll and its
 * other pipes must not live on in the shim.  0-2 and the passed fds (3
 * and up) are placed, the report pipe REP leaves their range first and
 * then goes right after it.  Returns the report pipe's number there. */
static int shim_fds(const struct spawn_req *rq, int rep)
{
	int n = 3 + (int)(rq->nfds < SPAWN_FDS_MAX ? rq->nfds : SPAWN_FDS_MAX);
	rep = child_above(rep, n + 1);
	int from[3 + SPAWN_FDS_MAX] = { rq->fd_in, rq->fd_out, rq->fd_err };
	for (int i = 3; i < n; i++)
		from[i] = rq->fds[i - 3];
	if (child_place(from, n) < 0)
		child_fail(rep, STEP_DUP2);
	if (rep != n && dup3(rep, n, O_CLOEXEC) < 0)
		child_fail(rep, STEP_DUP2);
	if (fd_close_from(n + 1) < 0)
		child_fail(n, STEP_CLOSE);   /* tend's descriptors would live on */
	return n;
}

/* The directory of the cgroup.procs file PROCS (spawn_req.cgroup), or NULL. */
static char *shim_cgroup_of(const char *procs)
{
	static const char tail[] = "/cgroup.procs";
	size_t len = procs ? strlen(procs) : 0, tl = sizeof(tail) - 1;
	if (len <= tl || strcmp(procs + len - tl, tail) != 0)
		return NULL;
	return xasprintf("%.*s", (int)(len - tl), procs);
}

/* Starts the main process and tells tend over REP (closed then) how that
 * went: the main process's pid, or the failure, which ends the shim.
 * The main process's own report (a failed exec) is passed on as it is.
 * It also tells tend its pid itself (child_tell), before its exec: should
 * the program kill this shim at once, tend still learns which process
 * its run is.  Returns the main process's pid. */
static pid_t shim_start_main(const struct spawn_req *rq, int rep)
{
	struct spawn_req req = *rq;
	req.fd_in = req.fd_out = req.fd_err = -1;   /* placed by shim_fds */
	struct spawn_res res;
	struct spawn_msg msg;
	pid_t main;
	child_tell = rep;
	shim_cgroup = shim_cgroup_of(rq->cgroup);
	if (shim_cgroup)
		child_cgroup_fd = open(shim_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int got = fork_reporting(child_run, &req, &res, &main, &msg);
	if (child_cgroup_fd >= 0)
		close(child_cgroup_fd);
	child_cgroup_fd = -1;
	if (got == 0)
		msg.pid = main;
	else if (got < 0)
		msg = (struct spawn_msg){ .err = res.err,
		                          .step = res.step == spawn_steps[STEP_FORK]
		                                  ? STEP_FORK : STEP_PIPE };
	/* Not written (tend is gone): the shim's death signal tells. */
	ssize_t w = write(rep, &msg, sizeof(msg));
	(void)w;
	close(rep);
	if (msg.err)
		_exit(127);
	return msg.pid;
}

/* Reaps what has exited below the shim; *MAIN_ST and *MAIN_DONE when MAIN
 * is among it.  True when nothing of the tree is left. */
static bool shim_reap(pid_t main, int *main_st, bool *main_done)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == main) {
			*main_st = st;
			*main_done = true;
		}
	return p < 0 && errno == ECHILD;
}

/* The shim's life once the run started: it reaps the tree as it goes,
 * tells tend when the main process exited before the rest of the tree,
 * leaves as the main process did once nothing is left, and contains the
 * tree when tend dies.  Any other signal is ignored (sigwaitinfo takes it;
 * -1, EINTR after a stop, is nothing either). */
static __attribute__((noreturn)) void shim_wait(pid_t main, pid_t tend,
                                                const sigset_t *all)
{
	bool main_done = false, told = false;
	int main_st = 0;
	for (;;) {
		int sig = sigwaitinfo(all, NULL);
		if (sig == SIGCHLD) {
			bool empty = shim_reap(main, &main_st, &main_done);
			if (main_done && empty)
				shim_mirror(main_st);   /* nothing of the tree is left */
			if (main_done && !told) {
				/* The rest of the tree lives on below this shim (and
				 * dies with tend): tell tend now. */
				union sigval v = { .sival_int = main_st };
				/* Refused (EAGAIN: the user's queued signals are
				 * at their limit): again at the next SIGCHLD. */
				told = sigqueue(tend, PROC_MAIN_EXITED, v) == 0;
			}
		} else if (sig > 0 && getppid() != tend) {
			shim_contain();
		}
	}
}

static void shim_run(const struct spawn_req *rq, int rep, pid_t tend)
{
	sigset_t all;
	shim_setup(rq, rep, tend, &all);
	rep = shim_fds(rq, rep);
	pid_t main = shim_start_main(rq, rep);
	shim_wait(main, tend, &all);
}

int proc_spawn_shim(const struct spawn_req *rq, struct spawn_res *rs,
                    pid_t *shim)
{
	struct spawn_msg msg;
	int r = fork_reporting(shim_run, rq, rs, shim, &msg);
	if (r == 0) {
		/* The shim died before it could start the main process: no
		 * process of the run exists.  (A shim killed once the main
		 * process told its pid is an ordinary run whose shim is gone:
		 * tend reaps the shim and stops what is left of the run.) */
		while (waitpid(*shim, NULL, 0) < 0 && errno == EINTR)
			;
		rs->err = ECHILD;
		rs->step = spawn_steps[STEP_FORK];
	}
	if (r <= 0 || msg.err) {
		*shim = -1;
		return -1;
	}
	rs->pid = msg.pid;
	rs->cg_err = msg.cg_err;
	return 0;
}
