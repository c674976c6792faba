/* Unit tests for keeper.c: the spawn request's wire (encode, decode, and
 * what the decoder refuses), then a real keeper — tend's own binary, the
 * one built next to this test (build/tend for build/test_keeper,
 * build/san/tend for build/san/test_keeper) — driven by a real loop as the
 * daemon drives it: runs, their exit statuses, descriptors, failures,
 * orphans, a killed keeper, a dead daemon, and keeper_free.
 *
 * This process is a child subreaper, as the daemon is: what a killed
 * keeper leaves comes here, and its SIGCHLD handler reaps it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keeper.h"
#include "loop.h"
#include "proc.h"
#include "testio.h"
#include "util.h"

extern char **environ;

/* ---- the wire ---- */

/* The spawn request's header as keeper.c lays it out: seven 32-bit words,
 * then argv, the environment and the cwd, each string with its NUL.
 * header_layout checks this against what keeper_encode_spawn writes, so
 * that the malformed messages below are malformed in the intended way. */
enum { W_TYPE, W_TOKEN, W_FLAGS, W_NFDS, W_ARGC, W_ENVC, W_HAS_CWD, W_N };
#define HEAD (W_N * sizeof(uint32_t))
#define KM_SPAWN 1u

static uint32_t word(const struct buf *b, int w)
{
	uint32_t v;
	memcpy(&v, b->s + (size_t)w * sizeof(v), sizeof(v));
	return v;
}

static void set_word(struct buf *b, int w, uint32_t v)
{
	memcpy(b->s + (size_t)w * sizeof(v), &v, sizeof(v));
}

static char *argv_x[] = { "prog", "", "with space", "\xc3\xbc-utf8", NULL };
static char *envp_x[] = { "A=1", "EMPTY=", "TEND_UNIT=web", NULL };

static void encode_x(struct buf *b)
{
	struct spawn_req rq = { .argv = argv_x, .envp = envp_x, .cwd = "/tmp/x" };
	assert_int_equal(keeper_encode_spawn(b, 0xdeadbeef,
	                                     KS_IN | KS_ERR | KS_CGROUP | KS_LISTEN_PID,
	                                     5, &rq), 0);
}

/* Every string of M lies inside MSG[0..LEN), NUL-terminated there. */
static void strings_inside(const struct keeper_spawn_msg *m, const char *msg,
                           size_t len)
{
	char **v[2] = { m->argv, m->envp };
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; v[k][i]; i++) {
			assert_true(v[k][i] >= msg + HEAD && v[k][i] < msg + len);
			assert_non_null(memchr(v[k][i], 0, (size_t)(msg + len - v[k][i])));
		}
	if (m->cwd)
		assert_true(m->cwd >= msg + HEAD && m->cwd < msg + len);
}

static void header_layout(void **state)
{
	(void)state;
	struct buf b = { 0 };
	encode_x(&b);
	assert_true(b.len > HEAD);
	assert_int_equal(word(&b, W_TYPE), KM_SPAWN);
	assert_int_equal(word(&b, W_TOKEN), 0xdeadbeef);
	assert_int_equal(word(&b, W_FLAGS), KS_IN | KS_ERR | KS_CGROUP | KS_LISTEN_PID);
	assert_int_equal(word(&b, W_NFDS), 5);
	assert_int_equal(word(&b, W_ARGC), 4);
	assert_int_equal(word(&b, W_ENVC), 3);
	assert_int_equal(word(&b, W_HAS_CWD), 1);
	/* "prog\0" first, "/tmp/x\0" last */
	assert_memory_equal(b.s + HEAD, "prog", 5);
	assert_memory_equal(b.s + b.len - 7, "/tmp/x", 7);
	free(b.s);
}

static void round_trip(void **state)
{
	(void)state;
	struct buf b = { 0 };
	encode_x(&b);
	struct keeper_spawn_msg m;
	assert_int_equal(keeper_decode_spawn(b.s, b.len, &m), 0);
	assert_int_equal(m.token, 0xdeadbeef);
	assert_int_equal(m.flags, KS_IN | KS_ERR | KS_CGROUP | KS_LISTEN_PID);
	assert_int_equal(m.nfds, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(m.argv[i] ? m.argv[i] : "(null)",
		                    argv_x[i] ? argv_x[i] : "(null)");
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(m.envp[i] ? m.envp[i] : "(null)",
		                    envp_x[i] ? envp_x[i] : "(null)");
	assert_string_equal(m.cwd, "/tmp/x");
	strings_inside(&m, b.s, b.len);
	keeper_spawn_msg_free(&m);
	assert_null(m.argv);

	/* no environment, no cwd, the most sockets there may be */
	char *one[] = { "x", NULL };
	struct spawn_req rq = { .argv = one };
	assert_int_equal(keeper_encode_spawn(&b, 7, 0, SPAWN_FDS_MAX, &rq), 0);
	assert_int_equal(b.len, HEAD + 2);
	assert_int_equal(keeper_decode_spawn(b.s, b.len, &m), 0);
	assert_int_equal(m.token, 7);
	assert_int_equal(m.nfds, SPAWN_FDS_MAX);
	assert_string_equal(m.argv[0], "x");
	assert_null(m.argv[1]);
	assert_non_null(m.envp);
	assert_null(m.envp[0]);
	assert_null(m.cwd);
	keeper_spawn_msg_free(&m);

	/* as many strings as allowed: one argument, the rest environment */
	char **env = xmalloc(KEEPER_ARGS_MAX * sizeof(*env));
	for (size_t i = 0; i < KEEPER_ARGS_MAX - 1; i++)
		env[i] = "E=";
	env[KEEPER_ARGS_MAX - 1] = NULL;
	rq.envp = env;
	assert_int_equal(keeper_encode_spawn(&b, 8, 0, 0, &rq), 0);
	assert_int_equal(keeper_decode_spawn(b.s, b.len, &m), 0);
	assert_string_equal(m.envp[KEEPER_ARGS_MAX - 2], "E=");
	assert_null(m.envp[KEEPER_ARGS_MAX - 1]);
	keeper_spawn_msg_free(&m);
	free(env);
	free(b.s);
}

/* Decoding MSG[0..LEN) fails and leaves nothing to free. */
static void refused(const char *msg, size_t len, const char *what)
{
	struct keeper_spawn_msg m;
	memset(&m, 0x5a, sizeof(m));
	if (keeper_decode_spawn(msg, len, &m) != -1)
		fail_msg("accepted: %s (%zu bytes)", what, len);
	assert_null(m.argv);
	assert_null(m.envp);
	assert_null(m.cwd);
}

/* A copy of the valid message with header word W set to V. */
static void refused_with(const struct buf *good, int w, uint32_t v,
                         const char *what)
{
	struct buf b = { xmalloc(good->len), good->len, good->len };
	memcpy(b.s, good->s, good->len);
	set_word(&b, w, v);
	refused(b.s, b.len, what);
	free(b.s);
}

static void malformed_refused(void **state)
{
	(void)state;
	struct buf good = { 0 };
	encode_x(&good);
	/* every message cut short: a header or a string truncated, a count
	 * of strings past the end */
	for (size_t len = 0; len < good.len; len++)
		refused(good.s, len, "a truncated message");
	/* bytes after the last string, a NUL or not */
	struct buf b = { xmalloc(good.len + 1), good.len + 1, good.len + 1 };
	memcpy(b.s, good.s, good.len);
	b.s[good.len] = 0;
	refused(b.s, b.len, "a trailing NUL");
	b.s[good.len] = 'x';
	refused(b.s, b.len, "a trailing byte");
	/* the last string without its NUL */
	memcpy(b.s, good.s, good.len);
	b.s[good.len - 1] = 'x';
	refused(b.s, good.len, "a last string without its NUL");
	free(b.s);

	refused_with(&good, W_TYPE, 0, "type 0");
	refused_with(&good, W_TYPE, 2, "a bye");
	refused_with(&good, W_TYPE, 16, "a spawned");
	refused_with(&good, W_TYPE, 17, "an exits");
	refused_with(&good, W_TYPE, KM_SPAWN | 0x100, "type 0x101");
	refused_with(&good, W_ARGC, 0, "argc 0");
	refused_with(&good, W_ARGC, 5, "one argument more than there are");
	refused_with(&good, W_ARGC, 3, "one argument less (a string too many)");
	refused_with(&good, W_ENVC, 4, "an environment entry past the end");
	refused_with(&good, W_ARGC, UINT32_MAX, "argc 2^32-1");
	refused_with(&good, W_ENVC, UINT32_MAX, "envc 2^32-1 (argc + envc wraps)");
	refused_with(&good, W_ENVC, UINT32_MAX - 3, "argc + envc = 2^32");
	refused_with(&good, W_ARGC, KEEPER_ARGS_MAX + 1, "argc past the limit");
	refused_with(&good, W_ENVC, KEEPER_ARGS_MAX, "argc + envc past the limit");
	refused_with(&good, W_NFDS, SPAWN_FDS_MAX + 1, "nfds past SPAWN_FDS_MAX");
	refused_with(&good, W_NFDS, UINT32_MAX, "nfds 2^32-1");
	refused_with(&good, W_HAS_CWD, 2, "has_cwd 2");
	refused_with(&good, W_HAS_CWD, 0, "a cwd not announced");

	/* the same request with argc 0: every string counted as environment */
	b = (struct buf){ xmalloc(good.len), good.len, good.len };
	memcpy(b.s, good.s, good.len);
	set_word(&b, W_ENVC, word(&b, W_ARGC) + word(&b, W_ENVC));
	set_word(&b, W_ARGC, 0);
	refused(b.s, b.len, "argc 0, the strings as environment");
	free(b.s);

	/* a cwd announced that is not there */
	char *one[] = { "x", NULL };
	struct spawn_req rq = { .argv = one };
	assert_int_equal(keeper_encode_spawn(&good, 1, 0, 0, &rq), 0);
	refused_with(&good, W_HAS_CWD, 1, "a cwd announced, none there");
	/* every field but the type right, nfds at its limit: accepted */
	b = (struct buf){ xmalloc(good.len), good.len, good.len };
	memcpy(b.s, good.s, good.len);
	set_word(&b, W_NFDS, SPAWN_FDS_MAX);
	struct keeper_spawn_msg m;
	assert_int_equal(keeper_decode_spawn(b.s, b.len, &m), 0);
	keeper_spawn_msg_free(&m);
	free(b.s);

	/* the longest message there may be, and one byte longer */
	size_t big = KEEPER_MSG_MAX + 1;
	b = (struct buf){ xmalloc(big), big, big };
	memcpy(b.s, good.s, HEAD);
	memset(b.s + HEAD, 'a', big - HEAD);
	b.s[big - 1] = 0;
	refused(b.s, big, "a message past KEEPER_MSG_MAX");
	memmove(b.s + HEAD, b.s + HEAD + 1, big - HEAD - 1);
	assert_int_equal(keeper_decode_spawn(b.s, big - 1, &m), 0);
	assert_int_equal(strlen(m.argv[0]), KEEPER_MSG_MAX - HEAD - 1);
	keeper_spawn_msg_free(&m);
	free(b.s);
	free(good.s);
}

static void encode_limits(void **state)
{
	(void)state;
	struct buf b = { 0 };
	char *none[] = { NULL };
	struct spawn_req rq = { .argv = none };
	errno = 0;
	assert_int_equal(keeper_encode_spawn(&b, 1, 0, 0, &rq), -1);
	assert_int_equal(errno, E2BIG);   /* no program */
	char *one[] = { "x", NULL };
	rq.argv = one;
	errno = 0;
	assert_int_equal(keeper_encode_spawn(&b, 1, 0, SPAWN_FDS_MAX + 1, &rq), -1);
	assert_int_equal(errno, E2BIG);
	/* one string too many */
	char **env = xmalloc((KEEPER_ARGS_MAX + 1) * sizeof(*env));
	for (size_t i = 0; i < KEEPER_ARGS_MAX; i++)
		env[i] = "E=";
	env[KEEPER_ARGS_MAX] = NULL;
	rq.envp = env;
	errno = 0;
	assert_int_equal(keeper_encode_spawn(&b, 1, 0, 0, &rq), -1);
	assert_int_equal(errno, E2BIG);
	free(env);
	/* one byte too many */
	size_t n = KEEPER_MSG_MAX - HEAD;
	char *s = xmalloc(n);
	memset(s, 'a', n - 1);
	s[n - 1] = 0;
	char *arg[] = { s, NULL };
	rq = (struct spawn_req){ .argv = arg };
	assert_int_equal(keeper_encode_spawn(&b, 1, 0, 0, &rq), 0);
	assert_int_equal(b.len, KEEPER_MSG_MAX);
	rq.cwd = "";
	errno = 0;
	assert_int_equal(keeper_encode_spawn(&b, 1, 0, 0, &rq), -1);
	assert_int_equal(errno, E2BIG);
	free(s);
	/* OUT is reset, and usable again */
	rq = (struct spawn_req){ .argv = one };
	assert_int_equal(keeper_encode_spawn(&b, 2, 0, 0, &rq), 0);
	assert_int_equal(b.len, HEAD + 2);
	free(b.s);
}

/* ---- a real keeper ---- */

static char tend_exe[PATH_MAX];   /* the tend binary next to this test */

#define MAXSEEN 16

struct fx {
	struct loop *lp;
	struct keeper *k;
	struct loop_timer guard;   /* a hung test fails instead of hanging */
	bool guard_fired;
	bool in_spawn;             /* a hook must not run inside keeper_spawn */
	long nfds;                 /* open before the test */
	/* what the hooks were told */
	int nexited;
	uint32_t token[MAXSEEN];
	int wstatus[MAXSEEN];
	uint32_t next[MAXSEEN];
	pid_t next_pid[MAXSEEN];
	size_t strays_at_exit[MAXSEEN];
	int nreaped;
	size_t strays_at_reaped;
	int nlost;
	pid_t pid_at_lost;
	/* what the SIGCHLD handler reaped */
	int nothers;
	pid_t others[MAXSEEN];
	/* when the loop stops */
	int want_exited, want_reaped, want_lost;
};

static bool done(const struct fx *f)
{
	return f->nexited >= f->want_exited && f->nreaped >= f->want_reaped &&
	       f->nlost >= f->want_lost;
}

static void on_exited(void *ctx, const struct keeper_exit *e)
{
	struct fx *f = ctx;
	if (f->in_spawn)
		fail_msg("the exited hook ran inside keeper_spawn");
	if (f->nexited == MAXSEEN)
		fail_msg("too many exits");
	f->token[f->nexited] = e->token;
	f->wstatus[f->nexited] = e->wstatus;
	f->next[f->nexited] = e->next;
	f->next_pid[f->nexited] = e->next_pid;
	f->strays_at_exit[f->nexited++] = keeper_strays(f->k);
	if (done(f))
		loop_stop(f->lp);
}

static void on_reaped(void *ctx)
{
	struct fx *f = ctx;
	if (f->in_spawn)
		fail_msg("the reaped hook ran inside keeper_spawn");
	f->nreaped++;
	f->strays_at_reaped = keeper_strays(f->k);
	if (done(f))
		loop_stop(f->lp);
}

static void on_lost(void *ctx)
{
	struct fx *f = ctx;
	f->nlost++;
	f->pid_at_lost = keeper_pid(f->k);
	if (done(f))
		loop_stop(f->lp);
}

static void on_sigchld(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct fx *f = data;
	pid_t p;
	keeper_on_sigchld(f->k);   /* as the daemon does (sup.c) */
	while ((p = waitpid(-1, NULL, WNOHANG)) > 0) {
		if (!keeper_reaped(f->k, p) && f->nothers < MAXSEEN)
			f->others[f->nothers++] = p;
	}
}

static void on_guard(struct loop *lp, struct loop_timer *t)
{
	struct fx *f = t->data;
	f->guard_fired = true;
	loop_stop(lp);
}

/* Runs the loop until the hooks were told that many times in all (or
 * 10 s passed: the test fails). */
static void run_until(struct fx *f, int exited, int reaped, int lost)
{
	f->want_exited = exited;
	f->want_reaped = reaped;
	f->want_lost = lost;
	if (done(f))
		return;
	loop_timer_start(f->lp, &f->guard, 10000, on_guard, f);
	assert_int_equal(loop_run(f->lp), 0);
	loop_timer_stop(f->lp, &f->guard);
	if (f->guard_fired)
		fail_msg("waited 10 s: %d exited (want %d), %d reaped (want %d), "
		         "%d lost (want %d)", f->nexited, exited, f->nreaped,
		         reaped, f->nlost, lost);
}

static int fx_setup(void **state)
{
	if (access(tend_exe, X_OK) < 0) {
		*state = NULL;
		return 0;   /* the test skips */
	}
	struct fx *f = xcalloc(1, sizeof(*f));
	f->nfds = fd_count();
	f->lp = loop_new();
	if (!f->lp || loop_signal(f->lp, SIGCHLD, on_sigchld, f) < 0)
		return -1;
	struct keeper_hooks h = { on_exited, on_reaped, on_lost, f };
	f->k = keeper_new(f->lp, &h, tend_exe);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (!f)
		return 0;
	keeper_free(f->k);
	loop_free(f->lp);
	long leaked = fd_count() - f->nfds;
	free(f);
	/* Whatever a test left running is a failure, and is ended here. */
	pid_t *kids = NULL;
	size_t cap = 0;
	long n = proc_own_children(&kids, &cap);
	for (long i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (long i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	if (leaked) {
		fprintf(stderr, "%ld file descriptors leaked\n", leaked);
		return -1;
	}
	if (n) {
		fprintf(stderr, "%ld processes left running\n", n);
		return -1;
	}
	return 0;
}

static struct fx *fx_of(void **state)
{
	if (!*state) {
		print_message("%s is not built: the keeper's own tests are "
		              "skipped (make %s)\n", tend_exe, tend_exe);
		skip();
	}
	return *state;
}

/* keeper_spawn, with hooks forbidden meanwhile. */
static int spawn(struct fx *f, const struct spawn_req *rq,
                 struct spawn_res *rs, uint32_t *token)
{
	f->in_spawn = true;
	int r = keeper_spawn(f->k, rq, rs, token);
	f->in_spawn = false;
	return r;
}

static void spawn_ok(struct fx *f, char *const *argv, struct spawn_res *rs,
                     uint32_t *token)
{
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	if (spawn(f, &rq, rs, token) < 0)
		fail_msg("%s: %s: %s", argv[0], rs->step, strerror(rs->err));
	assert_true(rs->pid > 0);
	assert_int_equal(rs->err, 0);
}

/* Is PID gone (not even a zombie)? */
static bool gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static void exit_status_and_token(void **state)
{
	struct fx *f = fx_of(state);
	assert_int_equal(keeper_pid(f->k), 0);   /* started by the first spawn */
	char *argv[] = { "sh", "-c", "exit 3", NULL };
	struct spawn_res rs;
	uint32_t tok = 0;
	spawn_ok(f, argv, &rs, &tok);
	pid_t kp = keeper_pid(f->k);
	assert_true(kp > 0);
	assert_true(tok != 0);
	assert_int_equal(rs.cg_err, 0);
	run_until(f, 1, 0, 0);
	assert_int_equal(f->token[0], tok);
	assert_true(WIFEXITED(f->wstatus[0]));
	assert_int_equal(WEXITSTATUS(f->wstatus[0]), 3);
	assert_int_equal(f->strays_at_exit[0], 0);
	/* another run, on the same keeper, by another token; a signal */
	char *argv2[] = { "sh", "-c", "kill -TERM $$", NULL };
	uint32_t tok2 = 0;
	spawn_ok(f, argv2, &rs, &tok2);
	assert_int_equal(keeper_pid(f->k), kp);
	assert_true(tok2 != tok);
	run_until(f, 2, 0, 0);
	assert_int_equal(f->token[1], tok2);
	assert_true(WIFSIGNALED(f->wstatus[1]));
	assert_int_equal(WTERMSIG(f->wstatus[1]), SIGTERM);
	assert_int_equal(f->nreaped, 0);
	assert_int_equal(f->nlost, 0);
	assert_int_equal(f->nothers, 0);
}

/* stdin, stdout, stderr and two sockets' places (here pipes) travel to
 * the run: at 0, 1, 2 and 3, 4; the run is the keeper's child and leads
 * a session of its own; the keeper keeps no copy (every pipe ends when
 * the run does). */
static void descriptors_placed(void **state)
{
	struct fx *f = fx_of(state);
	int in[2], out[2], err[2], a[2], b[2];
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], "ping\n", 5), 5);
	close(in[1]);
	char *argv[] = { "sh", "-c",
		"read x; echo \"got $x\"; echo oops >&2; "
		"echo \"$$ $PPID $(cut -d' ' -f6 /proc/$$/stat)\" >&3; "
		"echo \"$LISTEN_PID\" >&4", NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", "LISTEN_PID=x", NULL };
	int fds[2] = { a[1], b[1] };
	struct spawn_req rq = { .argv = argv, .envp = envp, .fd_in = in[0],
	                        .fd_out = out[1], .fd_err = err[1], .fds = fds,
	                        .nfds = 2, .listen_pid = true };
	struct spawn_res rs;
	uint32_t tok;
	if (spawn(f, &rq, &rs, &tok) < 0)
		fail_msg("%s: %s", rs.step, strerror(rs.err));
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(a[1]);
	close(b[1]);
	char got[128];
	read_all(out[0], got, sizeof(got));
	assert_string_equal(got, "got ping\n");
	read_all(err[0], got, sizeof(got));
	assert_string_equal(got, "oops\n");
	char want[128];
	snprintf(want, sizeof(want), "%d %d %d\n", (int)rs.pid,
	         (int)keeper_pid(f->k), (int)rs.pid);
	read_all(a[0], got, sizeof(got));
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "%d\n", (int)rs.pid);
	read_all(b[0], got, sizeof(got));
	assert_string_equal(got, want);
	close(out[0]);
	close(err[0]);
	close(a[0]);
	close(b[0]);
	run_until(f, 1, 0, 0);
	assert_int_equal(f->token[0], tok);
	assert_int_equal(WEXITSTATUS(f->wstatus[0]), 0);
}

/* A directory that is no cgroup: the run is started all the same, and
 * the error of joining it comes back (cg_err). */
static void cgroup_error_reported(void **state)
{
	struct fx *f = fx_of(state);
	char dir[] = "/tmp/tend-keeper-XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	char *argv[] = { "sh", "-c", "exit 4", NULL };
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1, .has_cgroup = true,
	                        .cgroup_dir = dfd };
	struct spawn_res rs;
	uint32_t tok;
	int r = spawn(f, &rq, &rs, &tok);
	close(dfd);
	rmdir(dir);
	assert_int_equal(r, 0);
	assert_int_equal(rs.cg_err, ENOENT);   /* no cgroup.procs there */
	run_until(f, 1, 0, 0);
	assert_int_equal(WEXITSTATUS(f->wstatus[0]), 4);
}

static void failed_exec_and_chdir(void **state)
{
	struct fx *f = fx_of(state);
	char *argv[] = { "/nonexistent/tend-unit-program", NULL };
	struct spawn_req rq = { .argv = argv, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	struct spawn_res rs;
	uint32_t tok;
	assert_int_equal(spawn(f, &rq, &rs, &tok), -1);
	assert_int_equal(rs.err, ENOENT);
	assert_string_equal(rs.step, "exec");
	assert_int_equal(rs.pid, -1);
	pid_t kp = keeper_pid(f->k);
	assert_true(kp > 0);   /* the keeper runs, only the program did not */
	char *sh[] = { "sh", "-c", "exit 0", NULL };
	rq = (struct spawn_req){ .argv = sh, .envp = environ, .fd_in = -1,
	                         .fd_out = -1, .fd_err = -1,
	                         .cwd = "/nonexistent/tend-unit-dir" };
	assert_int_equal(spawn(f, &rq, &rs, &tok), -1);
	assert_int_equal(rs.err, ENOENT);
	assert_string_equal(rs.step, "chdir");
	/* the same keeper starts the next; no exit was told of the two */
	rq.cwd = "/";
	assert_int_equal(spawn(f, &rq, &rs, &tok), 0);
	assert_int_equal(keeper_pid(f->k), kp);
	run_until(f, 1, 0, 0);
	assert_int_equal(f->token[0], tok);
	assert_int_equal(f->nreaped, 0);
}

/* A run that leaves a child behind: its main's exit is told with the
 * orphan counted as a stray, then the orphan's end, with none left. */
static void orphan_counted_then_reaped(void **state)
{
	struct fx *f = fx_of(state);
	char *argv[] = { "sh", "-c", "sleep 0.3 & exit 0", NULL };
	struct spawn_res rs;
	uint32_t tok;
	spawn_ok(f, argv, &rs, &tok);
	run_until(f, 1, 0, 0);
	assert_int_equal(f->token[0], tok);
	assert_true(f->strays_at_exit[0] >= 1);
	assert_int_equal(f->nreaped, 0);
	assert_true(keeper_strays(f->k) >= 1);
	run_until(f, 1, 1, 0);
	assert_int_equal(f->strays_at_reaped, 0);
	assert_int_equal(keeper_strays(f->k), 0);
	assert_int_equal(f->nexited, 1);
}

/* An exit that comes while a spawn waits for its answer is told after,
 * from the loop, not from inside keeper_spawn (which the hooks check). */
static void exit_during_a_spawn_told_after(void **state)
{
	struct fx *f = fx_of(state);
	char *quick[] = { "sh", "-c", "exit 7", NULL };
	char *slow[] = { "sh", "-c", "exec sleep 0.2", NULL };
	struct spawn_res rs;
	uint32_t t1, t2;
	spawn_ok(f, quick, &rs, &t1);
	usleep(200 * 1000);   /* its exit waits in the socket */
	spawn_ok(f, slow, &rs, &t2);
	assert_int_equal(f->nexited, 0);
	run_until(f, 2, 0, 0);
	assert_int_equal(f->token[0], t1);
	assert_int_equal(WEXITSTATUS(f->wstatus[0]), 7);
	assert_int_equal(f->token[1], t2);
	assert_int_equal(WEXITSTATUS(f->wstatus[1]), 0);
}

/* What descriptor FD of PID is ("socket:[123]", a path...), "" when
 * it is not open. */
static void fd_link(pid_t pid, int fd, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	ssize_t n = readlink(path, out, cap - 1);
	out[n > 0 ? n : 0] = 0;
}

/* Waits (2 s at most) until PID runs its new program, with command line
 * WANT: a spawn is told as soon as its exec began, and the descriptors
 * the exec closes may be there until then. */
static void wait_exec(pid_t pid, const char *want)
{
	char got[256] = "";
	for (int i = 0; i < 2000; i++) {
		proc_cmdline(pid, got, sizeof(got));
		if (strcmp(got, want) == 0)
			return;
		usleep(1000);
	}
	fail_msg("pid %d runs \"%s\", not \"%s\"", (int)pid, got, want);
}

/* Does PID hold any of the keeper's own descriptors above 2 (its socket
 * to the daemon, its signalfd)?  Returns the first such fd of PID, or -1. */
static int holds_the_keepers(pid_t pid, pid_t keeper)
{
	char mine[64][128];
	for (int fd = 3; fd < 64; fd++)
		fd_link(keeper, fd, mine[fd], sizeof(mine[fd]));
	for (int fd = 3; fd < 64; fd++) {
		char l[128];
		fd_link(pid, fd, l, sizeof(l));
		for (int k = 3; k < 64 && *l; k++)
			if (strcmp(l, mine[k]) == 0)
				return fd;
	}
	return -1;
}

/* A run gets 0-2 and what it is given at 3 and up, nothing of the
 * keeper's (its socket to the daemon above all: a run holding it could
 * read the daemon's spawn requests, with other runs' descriptors, and
 * tell the daemon of exits that never were). */
static void a_run_gets_no_descriptor_of_the_keeper(void **state)
{
	struct fx *f = fx_of(state);
	char *sleeper[] = { "sleep", "30", NULL };
	struct spawn_res rs;
	uint32_t t1, t2;
	spawn_ok(f, sleeper, &rs, &t1);
	pid_t bare = rs.pid, kp = keeper_pid(f->k);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct spawn_req rq = { .argv = sleeper, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1, .fds = &p[1], .nfds = 1 };
	assert_int_equal(spawn(f, &rq, &rs, &t2), 0);
	pid_t given = rs.pid;
	wait_exec(bare, "sleep 30");
	wait_exec(given, "sleep 30");
	char want[128], got[128];
	fd_link(getpid(), p[1], want, sizeof(want));
	fd_link(given, 3, got, sizeof(got));
	close(p[0]);
	close(p[1]);
	char sock[128];
	fd_link(kp, 3, sock, sizeof(sock));
	int leak_bare = holds_the_keepers(bare, kp);
	int leak_given = holds_the_keepers(given, kp);
	char what[128];
	fd_link(bare, leak_bare, what, sizeof(what));
	kill(bare, SIGKILL);
	kill(given, SIGKILL);
	run_until(f, 2, 0, 0);
	assert_true(WIFSIGNALED(f->wstatus[0]) && WTERMSIG(f->wstatus[0]) == SIGKILL);
	assert_non_null(strstr(sock, "socket:"));   /* the keeper's, at its 3 */
	if (leak_bare >= 0)
		fail_msg("a run given nothing holds the keeper's %s at its %d",
		         what, leak_bare);
	assert_int_equal(leak_given, -1);
	assert_string_equal(got, want);
}

/* The keeper killed: the daemon (here this test) reaps it, keeper_reaped
 * says so and the lost hook runs; its run comes to the daemon, a child
 * subreaper; the next spawn starts a new keeper. */
static void killed_keeper_replaced(void **state)
{
	struct fx *f = fx_of(state);
	char *sleeper[] = { "sleep", "30", NULL };
	struct spawn_res rs;
	uint32_t tok;
	spawn_ok(f, sleeper, &rs, &tok);
	pid_t run = rs.pid, k1 = keeper_pid(f->k);
	assert_true(keeper_holds(f->k, tok));
	assert_false(keeper_reaped(f->k, run));   /* not the keeper */
	assert_false(keeper_reaped(f->k, 0));
	assert_int_equal(keeper_pid(f->k), k1);
	assert_int_equal(f->nlost, 0);
	assert_int_equal(kill(k1, SIGKILL), 0);
	run_until(f, 0, 0, 1);
	assert_int_equal(f->pid_at_lost, 0);   /* forgotten before the hook */
	assert_int_equal(keeper_pid(f->k), 0);
	assert_false(keeper_holds(f->k, tok));
	assert_false(keeper_reaped(f->k, k1));   /* told once */
	assert_int_equal(f->nexited, 0);
	assert_true(gone(k1));
	/* the run is this process's child now */
	struct proc_stat st;
	assert_int_equal(proc_read_stat(run, &st), 0);
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(kill(run, SIGKILL), 0);
	assert_int_equal(waitpid(run, NULL, 0), run);
	/* a new keeper */
	char *five[] = { "sh", "-c", "exit 5", NULL };
	spawn_ok(f, five, &rs, &tok);
	pid_t k2 = keeper_pid(f->k);
	assert_true(k2 > 0 && k2 != k1);
	assert_true(keeper_holds(f->k, tok));
	run_until(f, 1, 0, 1);
	assert_int_equal(f->token[0], tok);
	assert_int_equal(WEXITSTATUS(f->wstatus[0]), 5);
	assert_int_equal(f->nlost, 1);
}

/* A keeper killed, with a run, whose death the loop has not seen yet: a
 * spawn fails at once (step "keeper"; or starts a new keeper), not after
 * a wait for an answer that cannot come; the next starts a new keeper;
 * the old one's reap tells the lost hook without forgetting the new one. */
static void dead_keeper_not_yet_reaped(void **state)
{
	struct fx *f = fx_of(state);
	char *sleeper[] = { "sleep", "30", NULL };
	struct spawn_res rs;
	uint32_t t1, t2, t3;
	spawn_ok(f, sleeper, &rs, &t1);
	pid_t run = rs.pid, k1 = keeper_pid(f->k);
	assert_int_equal(kill(k1, SIGKILL), 0);
	siginfo_t si;   /* dead, not reaped */
	assert_int_equal(waitid(P_PID, (id_t)k1, &si, WEXITED | WNOWAIT), 0);
	char *two[] = { "sh", "-c", "exit 2", NULL };
	struct spawn_req rq = { .argv = two, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	uint64_t t0 = mono_ms();
	int r = spawn(f, &rq, &rs, &t2);
	uint64_t took = mono_ms() - t0;
	if (r == 0) {
		/* it noticed, and started another */
		assert_true(keeper_pid(f->k) != k1);
	} else {
		assert_string_equal(rs.step, "keeper");
		assert_true(rs.err != 0);
	}
	spawn_ok(f, two, &rs, &t3);
	pid_t k2 = keeper_pid(f->k);
	assert_true(k2 > 0 && k2 != k1);
	run_until(f, r == 0 ? 2 : 1, 0, 1);
	assert_int_equal(f->nlost, 1);
	assert_int_equal(keeper_pid(f->k), k2);   /* the new one stays */
	assert_true(keeper_holds(f->k, t3));
	assert_false(keeper_holds(f->k, t1));
	assert_true(gone(k1));
	assert_int_equal(f->token[f->nexited - 1], t3);
	assert_int_equal(WEXITSTATUS(f->wstatus[f->nexited - 1]), 2);
	/* the first keeper's run came here */
	assert_int_equal(kill(run, SIGKILL), 0);
	assert_int_equal(waitpid(run, NULL, 0), run);
	if (took > 2000)
		fail_msg("a spawn to a dead keeper took %llu ms",
		         (unsigned long long)took);
}

/* keeper_free ends the keeper and whatever is left below it: a main
 * still running and an orphan. */
static void free_leaves_nothing(void **state)
{
	struct fx *f = fx_of(state);
	char *sleeper[] = { "sleep", "30", NULL };
	char *leaver[] = { "sh", "-c", "sleep 30 & exit 0", NULL };
	struct spawn_res rs;
	uint32_t tok;
	spawn_ok(f, sleeper, &rs, &tok);
	pid_t run = rs.pid, kp = keeper_pid(f->k);
	spawn_ok(f, leaver, &rs, &tok);
	run_until(f, 1, 0, 0);
	assert_true(keeper_strays(f->k) >= 1);
	/* the orphan: the keeper's child that is no main */
	struct proc_table t = { 0 };
	assert_int_equal(proc_table_scan(&t), 0);
	pid_t orphan = 0;
	for (size_t i = 0; i < t.n; i++)
		if (t.p[i].ppid == kp && t.p[i].pid != run)
			orphan = t.p[i].pid;
	proc_table_free(&t);
	assert_true(orphan > 0);
	keeper_free(f->k);
	f->k = NULL;
	assert_true(gone(kp));      /* reaped by keeper_free */
	assert_true(gone(run));     /* killed and reaped by the keeper */
	assert_true(gone(orphan));
	pid_t *kids = NULL;
	size_t cap = 0;
	assert_int_equal(proc_own_children(&kids, &cap), 0);
	free(kids);
}

/* The daemon dies (here a child of this test that started a keeper and
 * exited): the keeper kills its runs and exits, and it and its runs come
 * to this process, the next subreaper up, to be reaped. */
static void keeper_dies_with_its_daemon(void **state)
{
	struct fx *f = fx_of(state);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t daemon = fork();
	assert_true(daemon >= 0);
	if (daemon == 0) {
		close(p[0]);
		struct loop *lp = loop_new();
		struct keeper_hooks h = { on_exited, on_reaped, on_lost, NULL };
		struct keeper *k = lp ? keeper_new(lp, &h, tend_exe) : NULL;
		char *sleeper[] = { "sleep", "30", NULL };
		struct spawn_req rq = { .argv = sleeper, .envp = environ,
		                        .fd_in = -1, .fd_out = -1, .fd_err = -1 };
		struct spawn_res rs;
		uint32_t tok;
		if (!k || keeper_spawn(k, &rq, &rs, &tok) < 0)
			_exit(1);
		pid_t pids[2] = { keeper_pid(k), rs.pid };
		_exit(write(p[1], pids, sizeof(pids)) == sizeof(pids) ? 0 : 1);
	}
	close(p[1]);
	pid_t pids[2] = { 0, 0 };
	ssize_t r = read(p[0], pids, sizeof(pids));
	close(p[0]);
	int st;
	assert_int_equal(waitpid(daemon, &st, 0), daemon);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(r, (ssize_t)sizeof(pids));
	pid_t kp = pids[0], run = pids[1];
	/* the keeper goes by itself, the run before it (it reaps the run) */
	int waited = 0;
	pid_t w;
	while ((w = waitpid(kp, &st, WNOHANG)) == 0 && waited++ < 1000)
		usleep(10 * 1000);
	if (w != kp) {
		kill(kp, SIGKILL);
		kill(run, SIGKILL);
		fail_msg("the keeper outlived its daemon by 10 s");
	}
	assert_true(WIFEXITED(st));
	assert_true(gone(run));
	assert_int_equal(f->nexited, 0);
}

/* A run armed with its next start (keeper_arm): the keeper starts it at
 * once when the main exits as WHEN says, and tells so with the exit;
 * not after a disarm, not for an exit WHEN does not name, not while
 * something else of a run is left below it (a stray). */
static void armed_restart(void **state)
{
	struct fx *f = fx_of(state);
	char *sleeper[] = { "sleep", "30", NULL };
	struct spawn_req rq = { .argv = sleeper, .envp = environ, .fd_in = -1,
	                        .fd_out = -1, .fd_err = -1 };
	struct keeper_when crash = { .crash = 1 };
	success_codes_add_code(&crash.sc, 0);
	struct spawn_res rs;
	uint32_t tok, next = 0, next2 = 0;
	spawn_ok(f, sleeper, &rs, &tok);
	assert_int_equal(keeper_arm(f->k, tok, &rq, &crash, &next), 0);
	assert_true(next != 0 && next != tok);
	kill(rs.pid, SIGKILL);
	run_until(f, 1, 0, 0);
	assert_int_equal(f->token[0], tok);
	assert_int_equal(f->next[0], next);
	pid_t p = f->next_pid[0];
	assert_true(p > 0 && p != rs.pid && !gone(p));
	assert_true(keeper_holds(f->k, next));
	/* The run it started is a main like any: armed again, then taken
	 * back before its end: its exit starts nothing. */
	assert_int_equal(keeper_arm(f->k, next, &rq, &crash, &next2), 0);
	keeper_disarm(f->k, next);
	kill(p, SIGKILL);
	run_until(f, 2, 0, 0);
	assert_int_equal(f->token[1], next);
	assert_int_equal(f->next[1], 0);
	/* An exit WHEN does not name (a clean one) starts nothing. */
	char *clean[] = { "sh", "-c", "read x; exit 0", NULL };
	int pp[2];
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	struct spawn_req rc = { .argv = clean, .envp = environ, .fd_in = pp[0],
	                        .fd_out = -1, .fd_err = -1 };
	assert_int_equal(spawn(f, &rc, &rs, &tok), 0);
	close(pp[0]);
	assert_int_equal(keeper_arm(f->k, tok, &rq, &crash, &next), 0);
	assert_int_equal(write(pp[1], "\n", 1), 1);
	close(pp[1]);
	run_until(f, 3, 0, 0);
	assert_int_equal(f->token[2], tok);
	assert_true(WIFEXITED(f->wstatus[2]));
	assert_int_equal(f->next[2], 0);
	/* A main that leaves a child behind: a stray, so no start. */
	char *leaves[] = { "sh", "-c", "sleep 30 & kill -KILL $$", NULL };
	rq.argv = leaves;
	assert_int_equal(spawn(f, &rq, &rs, &tok), 0);
	rq.argv = sleeper;
	/* (armed late: the main may be gone already; then the arm is
	 * dropped, which starts nothing either) */
	(void)keeper_arm(f->k, tok, &rq, &crash, &next);
	run_until(f, 4, 0, 0);
	assert_int_equal(f->token[3], tok);
	assert_int_equal(f->next[3], 0);
	assert_true(keeper_strays(f->k) > 0);
	assert_true(keeper_when_fires(&crash, f->wstatus[3]));
}

static void when_fires(void **state)
{
	(void)state;
	struct keeper_when w = { .crash = 1 };
	success_codes_add_code(&w.sc, 0);
	success_codes_add_signal(&w.sc, SIGTERM);
	assert_true(keeper_when_fires(&w, 1 << 8));          /* exit 1 */
	assert_true(keeper_when_fires(&w, SIGKILL));
	assert_false(keeper_when_fires(&w, 0));              /* exit 0 */
	assert_false(keeper_when_fires(&w, SIGTERM));
	assert_false(keeper_when_fires(&w, 0x137f));         /* stopped */
	w = (struct keeper_when){ .clean = 1 };
	success_codes_add_code(&w.sc, 0);
	assert_true(keeper_when_fires(&w, 0));
	assert_false(keeper_when_fires(&w, 1 << 8));
}

int main(int argc, char **argv)
{
	(void)argc;
	/* The tend built with this test: same directory. */
	const char *slash = strrchr(argv[0], '/');
	int dirlen = slash ? (int)(slash - argv[0]) : 1;
	snprintf(tend_exe, sizeof(tend_exe), "%.*s/tend", dirlen,
	         slash ? argv[0] : ".");
	if (access(tend_exe, X_OK) < 0)
		fprintf(stderr, "test_keeper: %s is not built (make %s): the "
		        "keeper's own tests are skipped\n", tend_exe, tend_exe);
	/* As the daemon is: what a killed keeper leaves comes here. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_layout),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(malformed_refused),
		cmocka_unit_test(encode_limits),
		cmocka_unit_test(when_fires),
		cmocka_unit_test_setup_teardown(exit_status_and_token, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(descriptors_placed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cgroup_error_reported, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(failed_exec_and_chdir, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(orphan_counted_then_reaped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(exit_during_a_spawn_told_after, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(a_run_gets_no_descriptor_of_the_keeper, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(killed_keeper_replaced, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(dead_keeper_not_yet_reaped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(free_leaves_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(keeper_dies_with_its_daemon, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(armed_restart, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("keeper", tests, NULL, NULL);
}
