#include "proc.h"
#include "mem.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

static void child_run(const struct spawn_req *rq, int errfd, pid_t parent)
{
	int cg_err = 0;
	if (rq->cgroup) {
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
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
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
	*pid = fork();
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
	int got = 0;
	for (;;) {
		struct spawn_msg m;
		ssize_t r = read(p[0], &m, sizeof(m));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(m))
			break;   /* EOF (messages are written whole) */
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

/* --- the process table --- */

/* Reads /proc/PID/FILE (its first CAP-1 bytes) into BUF, NUL-terminated.
 * Returns 0, or -1 when there is no such process. */
/* Reads /proc/PID/FILE (at most CAP - 1 bytes, NUL added; the file may
 * hold NULs of its own).  Returns the length, or -1 (no such process). */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

int proc_parse_stat(const char *buf, pid_t pid, struct proc_stat *st)
{
	/* comm may hold spaces and parentheses: fields start after the last ')' */
	const char *s = strrchr(buf, ')');
	if (!s)
		return -1;
	char state;
	int ppid, pgid, sid;
	unsigned long long start;
	/* fields 3..8 then skip 9..21, field 22 = starttime; the kernel
	 * writes them, each in the range of its type */
	/* NOLINTNEXTLINE(cert-err34-c) */
	if (sscanf(s + 1,
	           " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d"
	           " %*d %*d %*d %llu",
	           &state, &ppid, &pgid, &sid, &start) != 5)
		return -1;
	*st = (struct proc_stat){ .pid = pid, .ppid = ppid, .pgid = pgid,
	                          .sid = sid, .start = start, .state = state };
	return 0;
}

int proc_read_stat(pid_t pid, struct proc_stat *st)
{
	char buf[1024];
	if (read_proc(pid, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	return proc_parse_stat(buf, pid, st);
}

int proc_read_status_mem(pid_t pid, struct mem_status *st)
{
	char buf[4096];
	ssize_t n = read_proc(pid, "status", buf, sizeof(buf));
	if (n <= 0 || mem_parse_status(buf, (size_t)n, st) < 0)
		return -1;
	return 0;
}

int proc_read_rollup(pid_t pid, struct mem_rollup *r)
{
	char buf[4096];
	ssize_t n = read_proc(pid, "smaps_rollup", buf, sizeof(buf));
	if (n == 0)
		errno = ESRCH;   /* no memory left: a zombie, or exiting */
	if (n <= 0 || mem_parse_rollup(buf, (size_t)n, r) < 0)
		return -1;
	return 0;
}

int proc_read_mem(pid_t pid, uint64_t *bytes)
{
	struct mem_status st;
	struct mem_rollup r;
	if (proc_read_status_mem(pid, &st) < 0)
		return -1;
	if (mem_needs_rollup(&st) && proc_read_rollup(pid, &r) < 0)
		return -1;
	*bytes = mem_needs_rollup(&st) ? mem_share(&st, &r) : mem_counted(&st);
	return 0;
}

void proc_cmdline(pid_t pid, char *out, size_t cap)
{
	char buf[512];
	out[0] = 0;
	ssize_t n = read_proc(pid, "cmdline", buf, sizeof(buf));
	if (n == 0 && read_proc(pid, "comm", buf, sizeof(buf)) > 0)
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

/* qsort of struct proc_stat by pid. */
static int cmp_stat_pid(const void *a, const void *b)
{
	pid_t x = ((const struct proc_stat *)a)->pid;
	pid_t y = ((const struct proc_stat *)b)->pid;
	return (x > y) - (x < y);
}

int proc_table_scan(struct proc_table *t)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	t->n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 256;
			t->p = xrealloc(t->p, t->cap * sizeof(*t->p));
		}
		if (proc_read_stat((pid_t)pid, &t->p[t->n]) == 0)
			t->n++;
	}
	closedir(d);
	qsort(t->p, t->n, sizeof(*t->p), cmp_stat_pid);
	return 0;
}

void proc_table_free(struct proc_table *t)
{
	free(t->p);
	*t = (struct proc_table){ 0 };
}

long proc_own_children(pid_t **pids, size_t *cap)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	size_t n = 0;
	int bad = 0;
	struct dirent *de;
	while (!bad && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/children",
		         de->d_name);
		bad = read_pids(path, pids, cap, &n);
	}
	closedir(d);
	return bad ? -1 : (long)n;
}

/* --- trees --- */

long proc_table_find(const struct proc_table *t, pid_t pid)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->p[mid].pid == pid)
			return (long)mid;
		if (t->p[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
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
	ssize_t r;
	while (env->len < ENVIRON_MAX &&
	       (r = read(fd, env->s + env->len, ENVIRON_MAX - env->len)) > 0)
		env->len += (size_t)r;
	close(fd);
	return 0;
}

bool environ_has(const struct buf *env, const char *entry)
{
	size_t len = strlen(entry) + 1; /* with its NUL */
	for (size_t i = 0; i + len <= env->len; ) {
		size_t l = strnlen(env->s + i, env->len - i);
		if (l + 1 == len && memcmp(env->s + i, entry, len) == 0)
			return true;
		i += l + 1;
	}
	return false;
}

/* Owner of a process whose parent is tend itself.  ENV is scratch. */
static int top_owner(const struct proc_stat *p, const struct tree_root *roots,
                     size_t nroots, bool adopt, struct buf *env)
{
	for (size_t r = 0; r < nroots; r++)
		if ((roots[r].main && p->pid == roots[r].main) ||
		    (roots[r].sid && p->sid == roots[r].sid))
			return (int)r;
	/* Read once, whatever the number of roots. */
	if (proc_environ(p->pid, env) == 0)
		for (size_t r = 0; r < nroots; r++)
			if (roots[r].cookie && environ_has(env, roots[r].cookie))
				return (int)r;
	return adopt ? 0 : TREE_STRAY;
}

#define OWNER_UNKNOWN (-3)

void tree_assign(const struct proc_table *t, pid_t self,
                 const struct tree_root *roots, size_t nroots,
                 bool adopt_strays, int *owner)
{
	adopt_strays = adopt_strays && nroots == 1;
	for (size_t i = 0; i < t->n; i++)
		owner[i] = OWNER_UNKNOWN;
	long *path = xmalloc((t->n + 1) * sizeof(*path));
	struct buf env = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		size_t np = 0;
		long j = (long)i;
		int result = TREE_NOT_OURS;
		/* Walk up until an answer: a known owner, tend, or a dead end. */
		while (j >= 0 && np <= t->n) {
			if (owner[j] != OWNER_UNKNOWN) {
				result = owner[j];
				break;
			}
			path[np++] = j;
			const struct proc_stat *p = &t->p[j];
			if (p->pid == self || p->pid == 1 || p->ppid == 0)
				break;
			if (p->ppid == self) {
				result = top_owner(p, roots, nroots, adopt_strays, &env);
				break;
			}
			j = proc_table_find(t, p->ppid);
		}
		for (size_t k = 0; k < np; k++)
			owner[path[k]] = result;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i].state == 'Z' || t->p[i].state == 'X' ||
		    t->p[i].pid == self)
			owner[i] = TREE_NOT_OURS;
	free(path);
	free(env.s);
}

int proc_signal(const struct proc_stat *p, int sig)
{
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd < 0 && errno != ENOSYS)
		return 0;
	struct proc_stat now;
	int sent = 0;
	if (proc_read_stat(p->pid, &now) == 0 && now.start == p->start &&
	    now.state != 'Z') {
		if (fd >= 0)
			sent = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0;
		else
			sent = kill(p->pid, sig) == 0;
	}
	if (fd >= 0)
		close(fd);
	return sent;
}

static size_t signal_all(const struct proc_stat *m, size_t n, int sig)
{
	size_t sent = 0;
	for (size_t i = 0; i < n; i++)
		sent += (size_t)proc_signal(&m[i], sig);
	return sent;
}

size_t proc_freeze_kill(proc_collect_fn collect, void *ctx)
{
	const struct proc_stat *m;
	size_t prev = (size_t)-1, n = 0;
	/* COLLECT sets M: call it before M is read (the order in which a
	 * call's arguments are evaluated is unspecified). */
	for (int pass = 0; pass < 16; pass++) {
		size_t found = collect(ctx, &m);
		n = signal_all(m, found, SIGSTOP);
		if (n == prev)
			break;
		prev = n;
	}
	size_t found = collect(ctx, &m);
	signal_all(m, found, SIGKILL);
	return n;
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
	(void)prctl(PR_SET_NAME, "tend-shim");   /* ps only: no matter if not */
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

/* The run's cgroup.kill (from its cgroup.procs, spawn_req.cgroup), in
 * the shim; NULL: the run has no cgroup. */
static char *shim_cgroup_kill;

/* tend is gone: nothing of the tree may outlive it. */
static __attribute__((noreturn)) void shim_contain(void)
{
	if (shim_cgroup_kill) {
		/* The kernel kills the run's cgroup at once; the freeze-kill
		 * below is for what is outside it (nothing should be). */
		int fd = open(shim_cgroup_kill, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t w = write(fd, "1", 1);
			(void)w;
			close(fd);
		}
	}
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

static void shim_run(const struct spawn_req *rq, int rep, pid_t tend)
{
	sigset_t all;
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);   /* a valid set: cannot fail */
	/* Each failure below, before anything of the run exists, is the
	 * run's failure to start (tend reports the step and its errno): a
	 * shim that would not hear of tend's death, or would stay in tend's
	 * session, cannot contain the run as it promises. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		child_fail(rep, STEP_PRCTL);
	if (getppid() != tend)
		_exit(137);  /* tend died before the line above: nothing started */
	if (setsid() < 0)
		child_fail(rep, STEP_SETSID);
	/* Refused only where tend's own subreaper call was refused too, which
	 * it reported when it started (sup_prepare) and lives with: the run
	 * starts, its daemonized descendants may escape, as tend's may. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	shim_title(rq->title);
	/* Only what the run needs stays open: tend's sockets, its epoll and
	 * its other pipes must not live on in the shim.  0-2 and the passed
	 * fds (3 and up) are placed, the report pipe leaves their range
	 * first and then goes right after it. */
	int n = 3 + (int)(rq->nfds < SPAWN_FDS_MAX ? rq->nfds : SPAWN_FDS_MAX);
	rep = child_above(rep, n + 1);
	int from[3 + SPAWN_FDS_MAX] = { rq->fd_in, rq->fd_out, rq->fd_err };
	for (int i = 3; i < n; i++)
		from[i] = rq->fds[i - 3];
	if (child_place(from, n) < 0)
		child_fail(rep, STEP_DUP2);
	if (rep != n && dup3(rep, n, O_CLOEXEC) < 0)
		child_fail(rep, STEP_DUP2);
	rep = n;
	if (fd_close_from(n + 1) < 0)
		child_fail(rep, STEP_CLOSE);   /* tend's descriptors would live on */
	struct spawn_req req = *rq;
	req.fd_in = req.fd_out = req.fd_err = -1;
	struct spawn_res res;
	struct spawn_msg msg;
	pid_t main;
	/* The main process's own report (a failed exec) is passed on as it is;
	 * success is its pid.  The main process also tells tend its pid
	 * itself (child_tell), before its exec: should the program kill this
	 * shim at once, tend still learns which process its run is. */
	child_tell = rep;
	if (rq->cgroup) {
		size_t len = strlen(rq->cgroup), tail = strlen("cgroup.procs");
		if (len > tail && strcmp(rq->cgroup + len - tail, "cgroup.procs") == 0)
			shim_cgroup_kill = xasprintf("%.*scgroup.kill",
			                             (int)(len - tail), rq->cgroup);
	}
	int got = fork_reporting(child_run, &req, &res, &main, &msg);
	if (got == 0)
		msg.pid = main;
	else if (got < 0)
		msg = (struct spawn_msg){ .err = res.err,
		                          .step = res.step == spawn_steps[STEP_FORK]
		                                  ? STEP_FORK : STEP_PIPE };
	ssize_t w = write(rep, &msg, sizeof(msg));
	(void)w;
	close(rep);
	if (msg.err)
		_exit(127);
	bool main_done = false, told = false;
	int main_st = 0;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig == SIGCHLD) {
			int st;
			pid_t p;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0)
				if (p == msg.pid) {
					main_st = st;
					main_done = true;
				}
			if (main_done && p < 0 && errno == ECHILD)
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
