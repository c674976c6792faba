/* Unit tests for watch.c: real directories under a mkdtemp directory, the
 * real inotify and the real loop.  The test makes its changes, then runs
 * the loop until the set fires (or a limit passes) and for a quiet period
 * after, so that an extra firing is seen too.  WATCH_BENCH=1 adds the
 * set-up figures of a 100 000-file tree (not run by default). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"
#include "watch.h"

#define D 20            /* the debounce of most tests, ms */
#define QUIET 60        /* what "nothing more fires" waits, ms */
#define LIMIT 3000      /* no wait for a firing comes near */

struct fx;

/* What one set reported. */
struct rec {
	struct fx *f;
	struct watch *ws;
	int fired;
	size_t n, total;
	char path[4096];
	uint64_t at[8];
	int warns;
	char warn[1024];
	bool free_in_fired, free_in_warn;
};

struct fx {
	struct loop *lp;
	struct watcher *w;
	struct rec a, b;
	char dir[64];
	struct loop_timer limit, tick;
	struct rec *until;    /* stop when it has fired UNTIL_N times */
	int until_n;
	/* the writer of the stream tests */
	char *wpath;
	int wleft;
	uint64_t wevery, wfirst, wlast;
	int nfds;
};

/* ---- the fixture ---- */

static int fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	f->nfds = fd_count();
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/tend-watch-XXXXXX",
	         tmp && tmp[0] && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	f->lp = loop_new();
	f->w = watcher_new(f->lp);
	f->a.f = f->b.f = f;
	*state = f;
	return 0;
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	watch_free(f->a.ws);
	watch_free(f->b.ws);
	assert_int_equal(watcher_watches(f->w), 0);   /* the last set took its watches */
	watcher_free(f->w);
	loop_free(f->lp);
	free(f->wpath);
	rm_rf(f->dir);
	int leaked = fd_count() - f->nfds;
	free(f);
	assert_int_equal(leaked, 0);
	return 0;
}

static char *at(struct fx *f, const char *rel)
{
	return xasprintf("%s/%s", f->dir, rel);
}

static void write_file(struct fx *f, const char *rel, const char *text)
{
	char *p = at(f, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(p);
}

/* mkdir -p */
static void make_dir(struct fx *f, const char *rel)
{
	char *p = at(f, rel);
	for (char *c = p + strlen(f->dir) + 1;; c++) {
		if (*c != '/' && *c)
			continue;
		char end = *c;
		*c = 0;
		assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
		*c = end;
		if (!end)
			break;
	}
	free(p);
}

/* NDIRS directories (d000, d001, ...) of NFILES files (f000, ...) each
 * below REL. */
static void make_tree(struct fx *f, const char *rel, int ndirs, int nfiles)
{
	for (int d = 0; d < ndirs; d++) {
		char *sub = xasprintf("%s/d%03d", rel, d);
		make_dir(f, sub);
		for (int i = 0; i < nfiles; i++) {
			char *name = xasprintf("%s/f%03d", sub, i);
			write_file(f, name, "content\n");
			free(name);
		}
		free(sub);
	}
}

static void on_fired(void *ctx, const char *path, size_t n)
{
	struct rec *r = ctx;
	if (r->fired < (int)ARRAY_LEN(r->at))
		r->at[r->fired] = mono_ms();
	r->fired++;
	r->n = n;
	r->total += n;
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (r->free_in_fired) {
		watch_free(r->ws);
		r->ws = NULL;
	}
	if (r->f->until == r && r->fired >= r->f->until_n)
		loop_stop(r->f->lp);
}

static void on_warn(void *ctx, const char *msg)
{
	struct rec *r = ctx;
	r->warns++;
	snprintf(r->warn, sizeof(r->warn), "%s", msg);
	if (r->free_in_warn) {
		watch_free(r->ws);
		r->ws = NULL;
	}
}

/* Starts R's set on the roots (relative to the test directory, or
 * absolute). */
static struct watch *start(struct fx *f, struct rec *r, const char *const *rels,
                           size_t n, const char *const *ignore, size_t nignore,
                           uint64_t debounce)
{
	char **roots = xcalloc(n, sizeof(*roots));
	for (size_t i = 0; i < n; i++)
		roots[i] = rels[i][0] == '/' ? xstrdup(rels[i]) : at(f, rels[i]);
	struct watch_cb cb = { .fired = on_fired, .warn = on_warn, .ctx = r };
	r->ws = watch_new(f->w, (const char *const *)roots, n, ignore, nignore,
	                  debounce, &cb);
	for (size_t i = 0; i < n; i++)
		free(roots[i]);
	free(roots);
	return r->ws;
}

static struct watch *start1(struct fx *f, const char *rel, uint64_t debounce)
{
	const char *roots[] = { rel };
	return start(f, &f->a, roots, 1, NULL, 0, debounce);
}

static void on_limit(struct loop *lp, struct loop_timer *t)
{
	(void)t;
	loop_stop(lp);
}

/* Runs the loop for MS. */
static void run_for(struct fx *f, uint64_t ms)
{
	loop_timer_start(f->lp, &f->limit, ms, on_limit, f);
	assert_int_equal(loop_run(f->lp), 0);
	loop_timer_stop(f->lp, &f->limit);
}

/* Runs the loop until R has fired N times in all (LIMIT at most), then
 * QUIET more; R's firings. */
static int fire(struct fx *f, struct rec *r, int n)
{
	if (r->fired < n) {
		f->until = r;
		f->until_n = n;
		run_for(f, LIMIT);
		f->until = NULL;
	}
	run_for(f, QUIET);
	return r->fired;
}

/* ---- patterns and figures (pure) ---- */

static void patterns(void **state)
{
	(void)state;
	/* Without '/': any one component, files and directories. */
	assert_true(watch_match(".git", ".git", true));
	assert_true(watch_match(".git", "a/.git/objects/x", false));
	assert_false(watch_match(".git", ".gitignore", false));
	assert_false(watch_match(".git", "a/x.git.c", false));
	assert_true(watch_match("*.o", "src/a.o", false));
	assert_true(watch_match("*.swp", "src/.a.c.swp", false));   /* a leading dot too */
	assert_false(watch_match("*.o", "src/a.c", false));
	/* A trailing '/': directories only. */
	assert_true(watch_match("build/", "x/build/y.c", false));
	assert_true(watch_match("build/", "build", true));
	assert_false(watch_match("build/", "build", false));
	/* With '/': the relative path or a leading part, '*' within one. */
	assert_true(watch_match("out/gen", "out/gen", true));
	assert_true(watch_match("out/gen", "out/gen/x/y", false));
	assert_false(watch_match("out/gen", "a/out/gen", true));
	assert_true(watch_match("doc/*.tmp", "doc/a.tmp", false));
	assert_false(watch_match("doc/*.tmp", "doc/x/a.tmp", false));
	assert_true(watch_match("/build", "build/a", false));
	assert_false(watch_match("/build", "src/build", true));
	assert_false(watch_match("", "a", false));
	/* The longest a burst waits. */
	assert_int_equal(watch_max_wait(0), 1000);
	assert_int_equal(watch_max_wait(50), 1000);
	assert_int_equal(watch_max_wait(300), 3000);
	assert_int_equal(watch_max_wait(UINT64_MAX / 2), UINT64_MAX);
}

/* ---- what counts ---- */

static void read_storm_fires_nothing(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 40, 50);   /* 2 000 files */
	start1(f, "r", D);
	assert_int_equal(watch_dirs(f->a.ws), 41);
	char buf[64];
	for (int d = 0; d < 40; d++)
		for (int i = 0; i < 50; i++) {
			char *p = xasprintf("%s/r/d%03d/f%03d", f->dir, d, i);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			assert_true(fd >= 0);
			assert_true(read(fd, buf, sizeof(buf)) > 0);
			close(fd);
			struct stat st;
			assert_int_equal(stat(p, &st), 0);
			fd = open(p, O_RDWR | O_CLOEXEC);   /* for writing, never written */
			assert_true(fd >= 0);
			close(fd);
			free(p);
		}
	char *cmd = xasprintf("cat %s/r/*/* >/dev/null && ls -lR %s/r >/dev/null && "
	                      "find %s/r -type f -exec head -c1 {} + >/dev/null",
	                      f->dir, f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	run_for(f, QUIET + D);
	assert_int_equal(f->a.fired, 0);
	/* ... and the set works: one write among them fires. */
	write_file(f, "r/d017/f033", "x");
	assert_int_equal(fire(f, &f->a, 1), 1);
}

static void one_write_fires_once_after_debounce(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 3);
	start1(f, "r", 100);
	char *p = at(f, "r/d000/f001");
	uint64_t t0 = mono_ms();
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new\n", 4), 4);
	close(fd);
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_true(f->a.at[0] - t0 >= 100);
	assert_true(f->a.at[0] - t0 < 100 + 200);
	assert_int_equal(f->a.n, 1);
	assert_string_equal(f->a.path, p);
	free(p);
}

/* The writer: appends a line to f->wpath every f->wevery ms, f->wleft times. */
static void on_tick(struct loop *lp, struct loop_timer *t)
{
	struct fx *f = t->data;
	int fd = open(f->wpath, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "line\n", 5), 5);
	close(fd);
	f->wlast = mono_ms();
	if (!f->wfirst)
		f->wfirst = f->wlast;
	if (--f->wleft > 0)
		loop_timer_start(lp, t, f->wevery, on_tick, f);
}

static void writer(struct fx *f, const char *rel, int times, uint64_t every)
{
	free(f->wpath);
	f->wpath = at(f, rel);
	f->wleft = times;
	f->wevery = every;
	f->wfirst = 0;
	loop_timer_start(f->lp, &f->tick, 0, on_tick, f);
}

static void writes_closer_than_debounce_fire_once(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	/* A debounce of 200 ms: a loaded machine (CI) may stall the writer
	 * for tens of ms without the quiet period passing by mistake. */
	start1(f, "r", 200);
	writer(f, "r/d000/f000", 100, 5);    /* 100 writes over ~500 ms */
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(f->wleft, 0);
	assert_int_equal(f->a.n, 100);
	assert_true(f->a.at[0] - f->wlast >= 200);
	assert_true(f->wlast - f->wfirst > 400);   /* longer than the debounce */
}

static bool stream_done(struct fx *f)
{
	return f->wleft == 0;
}

static void endless_stream_fires_within_max_wait(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	start1(f, "r", 50);                 /* max wait: 1 000 ms */
	writer(f, "r/d000/f000", 75, 20);   /* ~1 500 ms without a pause */
	for (uint64_t t0 = mono_ms(); !stream_done(f) && mono_ms() - t0 < 2 * LIMIT;)
		run_for(f, 50);
	assert_true(stream_done(f));
	run_for(f, 50 + QUIET);
	/* The first firing came at the max wait, in the middle of the stream;
	 * the rest of it made one or two more bursts.
	 * (Bounds generous for a loaded machine, whose loop may run late: a
	 * firing held to the end of the stream would still fail them.) */
	uint64_t span = f->wlast - f->wfirst;
	assert_true(f->a.fired >= 2 && (uint64_t)f->a.fired <= span / 1000 + 2);
	uint64_t took = f->a.at[0] - f->wfirst;
	assert_true(took >= 1000 && took < 1000 + 1000);
	assert_true(f->a.at[0] < f->wlast);
	for (int i = 1; i < f->a.fired; i++)
		assert_true(f->a.at[i] - f->a.at[i - 1] < 1000 + 1000);
	assert_int_equal(f->a.total, 75);
}

static void modify_alone_waits_for_close(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	start1(f, "r", D);
	char *p = at(f, "r/d000/f000");
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a", 1), 1);
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 0);       /* still open: not yet */
	close(fd);
	assert_int_equal(fire(f, &f->a, 1), 1);
	/* Truncating is writing: open with O_TRUNC, close. */
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fire(f, &f->a, 2), 2);
	free(p);
}

static void create_delete_rename_fire(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 2);
	make_dir(f, "outside");
	write_file(f, "outside/in", "x");
	start1(f, "r", D);
	int n = 0;
	/* create, without writing */
	char *p = at(f, "r/d000/new");
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	n++;
	assert_int_equal(fire(f, &f->a, n), n);
	assert_int_equal(f->a.n, 1);
	assert_string_equal(f->a.path, p);
	/* delete */
	assert_int_equal(unlink(p), 0);
	n++;
	assert_int_equal(fire(f, &f->a, n), n);
	free(p);
	/* rename within */
	char *from = at(f, "r/d000/f000"), *to = at(f, "r/d000/g000");
	assert_int_equal(rename(from, to), 0);
	n++;
	assert_int_equal(fire(f, &f->a, n), n);
	assert_int_equal(f->a.n, 2);            /* moved from, moved to */
	free(from);
	free(to);
	/* move in */
	from = at(f, "outside/in");
	to = at(f, "r/in");
	assert_int_equal(rename(from, to), 0);
	n++;
	assert_int_equal(fire(f, &f->a, n), n);
	/* move out */
	assert_int_equal(rename(to, from), 0);
	n++;
	assert_int_equal(fire(f, &f->a, n), n);
	free(from);
	free(to);
}

/* Times in the past, so that a change now is a different instant. */
static void backdate(struct fx *f, const char *rel)
{
	char *p = at(f, rel);
	struct timespec ts[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

static void attributes_mode_counts_times_do_not(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 3);
	make_dir(f, "r/d000/sub");
	const char *old[] = { "r/d000/f000", "r/d000/f001", "r/d000/f002", "r/d000/sub" };
	for (size_t i = 0; i < ARRAY_LEN(old); i++)
		backdate(f, old[i]);
	start1(f, "r", D);
	char *p = at(f, "r/d000/f000"), *q = at(f, "r/d000/f001");
	char *t = at(f, "r/d000/f002"), *s = at(f, "r/d000/sub");
	/* touch, touch -a, touch -m: utimensat with "now" */
	assert_int_equal(utimensat(AT_FDCWD, p, NULL, 0), 0);
	struct timespec a_only[2] = { { .tv_nsec = UTIME_NOW }, { .tv_nsec = UTIME_OMIT } };
	struct timespec m_only[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_NOW } };
	assert_int_equal(utimensat(AT_FDCWD, q, a_only, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, q, m_only, 0), 0);
	/* touch(1) of an existing file: opened for writing, futimens, closed */
	int fd = open(p, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(futimens(fd, NULL), 0);
	close(fd);
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 0);
	/* chmod of a file known from its touch (the cache) */
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_string_equal(f->a.path, p);
	/* an explicit time on a known file; chown to the same owner */
	struct timespec then[2] = { { .tv_sec = 1200000000 }, { .tv_sec = 1200000000 } };
	assert_int_equal(utimensat(AT_FDCWD, p, then, 0), 0);
	assert_int_equal(chown(p, getuid(), getgid()), 0);
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 1);
	/* chmod of a file and of a directory never seen: judged by times */
	assert_int_equal(chmod(t, 0755), 0);
	assert_int_equal(fire(f, &f->a, 2), 2);
	assert_string_equal(f->a.path, t);
	assert_int_equal(chmod(s, 0700), 0);
	assert_int_equal(fire(f, &f->a, 3), 3);
	assert_string_equal(f->a.path, s);
	free(p);
	free(q);
	free(s);
	free(t);
}

static void new_subdirectory_is_watched(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	start1(f, "r", D);
	assert_int_equal(watch_dirs(f->a.ws), 2);
	make_dir(f, "r/later");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(watch_dirs(f->a.ws), 3);
	write_file(f, "r/later/f", "x");
	assert_int_equal(fire(f, &f->a, 2), 2);
	char *p = at(f, "r/later/f");
	assert_string_equal(f->a.path, p);
	free(p);
}

static void files_made_before_the_new_directory_is_watched(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	start1(f, "r", D);
	/* All of it before the loop reads a single event: a/b/c and the file
	 * exist before the watch of a is even added. */
	make_dir(f, "r/a/b/c");
	write_file(f, "r/a/b/c/f", "x");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(f->a.n, 4);            /* a (event); b, c, f (read) */
	assert_int_equal(watch_dirs(f->a.ws), 2 + 3);
	write_file(f, "r/a/b/c/g", "x");
	assert_int_equal(fire(f, &f->a, 2), 2);
}

static void directories_moved_in_out_and_within(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 2, 1);
	make_dir(f, "outside/m/sub");
	write_file(f, "outside/m/sub/f", "x");
	start1(f, "r", D);
	assert_int_equal(watch_dirs(f->a.ws), 3);
	char *out = at(f, "outside/m"), *in = at(f, "r/m");
	assert_int_equal(rename(out, in), 0);
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(watch_dirs(f->a.ws), 5);
	write_file(f, "r/m/sub/f", "y");
	assert_int_equal(fire(f, &f->a, 2), 2);
	/* within: d000 becomes m/sub/moved */
	char *from = at(f, "r/d000"), *to = at(f, "r/m/sub/moved");
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(fire(f, &f->a, 3), 3);
	assert_int_equal(watch_dirs(f->a.ws), 5);
	write_file(f, "r/m/sub/moved/f000", "z");
	assert_int_equal(fire(f, &f->a, 4), 4);
	char *p = at(f, "r/m/sub/moved/f000");
	assert_string_equal(f->a.path, p);      /* paths follow the move */
	free(p);
	/* out: its watches go, its writes are not seen */
	assert_int_equal(rename(in, out), 0);
	assert_int_equal(fire(f, &f->a, 5), 5);
	assert_int_equal(watch_dirs(f->a.ws), 2);
	write_file(f, "outside/m/sub/f", "z");
	write_file(f, "outside/m/sub/moved/f000", "z");
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 5);
	/* deleting a tree */
	rm_rf(to);   /* gone already: no-op */
	char *d1 = at(f, "r/d001");
	rm_rf(d1);
	assert_int_equal(fire(f, &f->a, 6), 6);
	assert_int_equal(watch_dirs(f->a.ws), 1);
	free(d1);
	free(out);
	free(in);
	free(from);
	free(to);
}

static void git_is_ignored_and_costs_no_watch(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 2, 1);
	make_tree(f, "r/.git/objects", 10, 2);
	make_dir(f, "r/.git/refs/heads");
	make_dir(f, "r/d000/.git/x");           /* a nested one too */
	start1(f, "r", D);
	/* r, d000, d001: nothing of the 16 below .git */
	assert_int_equal(watch_dirs(f->a.ws), 3);
	size_t watches = watcher_watches(f->w);
	/* The same tree with nothing ignored. */
	const char *roots[] = { "r" };
	const char *none[] = { NULL };
	start(f, &f->b, roots, 1, none, 0, D);
	assert_int_equal(watch_dirs(f->b.ws), 3 + 13 + 3);
	assert_int_equal(watcher_watches(f->w), watches + 16);
	watch_free(f->b.ws);
	f->b.ws = NULL;
	assert_int_equal(watcher_watches(f->w), watches);
	/* Writes, new files, new directories below .git, a new .git. */
	write_file(f, "r/.git/objects/d003/f001", "x");
	write_file(f, "r/.git/index", "x");
	make_dir(f, "r/.git/objects/new");
	make_dir(f, "r/d001/.git");
	write_file(f, "r/d001/.git/HEAD", "x");
	run_for(f, QUIET + D);
	assert_int_equal(f->a.fired, 0);
	assert_int_equal(watch_dirs(f->a.ws), 3);
	write_file(f, "r/d001/f000", "x");
	assert_int_equal(fire(f, &f->a, 1), 1);
}

static void ignore_patterns(void **state)
{
	struct fx *f = *state;
	make_dir(f, "r/out/gen/deep");
	make_dir(f, "r/out/keep");
	make_dir(f, "r/src/build");
	const char *roots[] = { "r" };
	const char *pats[] = { "*.tmp", "/out/gen", "build/" };
	start(f, &f->a, roots, 1, pats, ARRAY_LEN(pats), D);
	/* r, out, keep, src: not gen (nor deep), not build */
	assert_int_equal(watch_dirs(f->a.ws), 4);
	write_file(f, "r/src/a.tmp", "x");
	write_file(f, "r/out/b.tmp", "x");
	make_dir(f, "r/out/keep/build");        /* a new ignored directory */
	run_for(f, QUIET + D);
	assert_int_equal(f->a.fired, 0);
	assert_int_equal(watch_dirs(f->a.ws), 4);
	write_file(f, "r/out/build", "x");   /* a file: "build/" is for directories */
	assert_int_equal(fire(f, &f->a, 1), 1);
}

/* ---- roots ---- */

static void root_removed_and_made_again(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 2, 2);
	start1(f, "r", D);
	assert_int_equal(watch_dirs(f->a.ws), 3);
	char *r = at(f, "r");
	rm_rf(r);
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(watch_dirs(f->a.ws), 1);   /* its parent, waiting */
	make_dir(f, "r/new");
	assert_int_equal(fire(f, &f->a, 2), 2);
	assert_int_equal(watch_dirs(f->a.ws), 2);
	write_file(f, "r/new/f", "x");
	assert_int_equal(fire(f, &f->a, 3), 3);
	/* Renamed away, and another one renamed in its place. */
	char *away = at(f, "away");
	make_dir(f, "other/sub");
	char *other = at(f, "other");
	assert_int_equal(rename(r, away), 0);
	assert_int_equal(fire(f, &f->a, 4), 4);
	write_file(f, "away/new/g", "x");
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 4);            /* not the root any more */
	assert_int_equal(rename(other, r), 0);
	assert_int_equal(fire(f, &f->a, 5), 5);
	assert_int_equal(watch_dirs(f->a.ws), 2);
	write_file(f, "r/sub/f", "x");
	assert_int_equal(fire(f, &f->a, 6), 6);
	free(r);
	free(away);
	free(other);
}

static void root_missing_at_start(void **state)
{
	struct fx *f = *state;
	start1(f, "m/n/root", D);
	assert_int_equal(watch_dirs(f->a.ws), 1);   /* the test directory */
	make_dir(f, "m");
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 0);            /* not the root yet */
	make_dir(f, "m/n/root/sub");
	write_file(f, "m/n/root/sub/f", "x");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(watch_dirs(f->a.ws), 2);
	char *r = at(f, "m/n/root");
	assert_string_equal(f->a.path, r);
	free(r);
	write_file(f, "m/n/root/sub/g", "x");
	assert_int_equal(fire(f, &f->a, 2), 2);
}

static void file_root(void **state)
{
	struct fx *f = *state;
	make_dir(f, "d");
	write_file(f, "d/conf", "a");
	write_file(f, "d/other", "a");
	start1(f, "d/conf", D);
	assert_int_equal(watch_dirs(f->a.ws), 1);
	char *conf = at(f, "d/conf");
	write_file(f, "d/other", "b");
	make_dir(f, "d/sub");
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 0);
	write_file(f, "d/conf", "b");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_string_equal(f->a.path, conf);
	/* An editor: writes a copy, renames it over. */
	write_file(f, "d/.conf.swp", "c");
	char *swp = at(f, "d/.conf.swp");
	assert_int_equal(rename(swp, conf), 0);
	assert_int_equal(fire(f, &f->a, 2), 2);
	assert_int_equal(f->a.n, 1);
	assert_int_equal(unlink(conf), 0);
	assert_int_equal(fire(f, &f->a, 3), 3);
	write_file(f, "d/conf", "d");
	assert_int_equal(fire(f, &f->a, 4), 4);
	/* Its directory deleted and made again. */
	char *d = at(f, "d");
	rm_rf(d);
	assert_int_equal(fire(f, &f->a, 5), 5);
	make_dir(f, "d");
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 5);
	write_file(f, "d/conf", "e");
	assert_int_equal(fire(f, &f->a, 6), 6);
	free(conf);
	free(swp);
	free(d);
}

/* ---- sets ---- */

static void two_sets_share_a_directory(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 3, 1);
	const char *roots[] = { "r" };
	start(f, &f->a, roots, 1, NULL, 0, D);
	start(f, &f->b, roots, 1, NULL, 0, D);
	assert_int_equal(watcher_watches(f->w), 4);
	write_file(f, "r/d001/f000", "x");
	assert_int_equal(fire(f, &f->b, 1), 1);
	assert_int_equal(f->a.fired, 1);
	watch_free(f->a.ws);
	f->a.ws = NULL;
	assert_int_equal(watcher_watches(f->w), 4);
	write_file(f, "r/d002/f000", "x");
	make_dir(f, "r/d000/new");
	assert_int_equal(fire(f, &f->b, 2), 2);
	assert_int_equal(f->a.fired, 1);
	write_file(f, "r/d000/new/f", "x");
	assert_int_equal(fire(f, &f->b, 3), 3);
	/* A set on a subdirectory of the other's tree. */
	const char *sub[] = { "r/d000" };
	start(f, &f->a, sub, 1, NULL, 0, D);
	assert_int_equal(watcher_watches(f->w), 5);
	write_file(f, "r/d000/new/g", "x");
	assert_int_equal(fire(f, &f->a, 2), 2);
	assert_int_equal(fire(f, &f->b, 4), 4);
	watch_free(f->b.ws);
	f->b.ws = NULL;
	assert_int_equal(watcher_watches(f->w), 2);
	write_file(f, "r/d000/new/h", "x");
	assert_int_equal(fire(f, &f->a, 3), 3);
}

static void free_inside_fired(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	const char *roots[] = { "r" };
	start(f, &f->a, roots, 1, NULL, 0, D);
	start(f, &f->b, roots, 1, NULL, 0, D);
	f->a.free_in_fired = true;
	f->b.free_in_fired = true;
	write_file(f, "r/d000/f000", "x");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(f->b.fired, 1);
	assert_null(f->a.ws);
	assert_null(f->b.ws);
	assert_int_equal(watcher_watches(f->w), 0);
	write_file(f, "r/d000/f000", "y");
	run_for(f, QUIET);
	assert_int_equal(f->a.fired, 1);
}

/* ---- limits ---- */

static void watch_limit_warns_once(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 5, 1);
	watcher_set_max(f->w, 3);
	start1(f, "r", D);
	assert_int_equal(watch_dirs(f->a.ws), 3);
	run_for(f, 10);
	assert_int_equal(f->a.warns, 1);
	assert_non_null(strstr(f->a.warn, "fs.inotify.max_user_watches"));
	assert_non_null(strstr(f->a.warn, f->dir));
	/* Still at the limit: a new directory counts, is not watched, and
	 * is not told again; what is watched still fires. */
	make_dir(f, "r/new");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(watch_dirs(f->a.ws), 3);
	int watched = 0;
	for (int d = 0; d < 5; d++) {
		int before = f->a.fired;
		char *rel = xasprintf("r/d%03d/f000", d);
		write_file(f, rel, "x");
		free(rel);
		run_for(f, QUIET);
		watched += f->a.fired - before;
	}
	assert_int_equal(watched, 2);
	assert_int_equal(f->a.warns, 1);
	/* Another set on the same watcher is told too (once per set), and a
	 * warn callback may free its set. */
	f->b.free_in_warn = true;
	const char *roots[] = { "r" };
	start(f, &f->b, roots, 1, NULL, 0, D);
	run_for(f, 10);
	assert_int_equal(f->b.warns, 1);
	assert_null(f->b.ws);
}

static void instance_limit_warns(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fill[64], n = 0;
	while (n < 64 && (fill[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	start1(f, "r", D);
	while (n > 0)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(watch_dirs(f->a.ws), 0);
	run_for(f, 10);
	assert_int_equal(f->a.warns, 1);
	assert_non_null(strstr(f->a.warn, "fs.inotify.max_user_instances"));
	/* The next set gets the instance. */
	const char *roots[] = { "r" };
	start(f, &f->b, roots, 1, NULL, 0, D);
	assert_int_equal(watch_dirs(f->b.ws), 2);
	write_file(f, "r/d000/f000", "x");
	assert_int_equal(fire(f, &f->b, 1), 1);
	assert_int_equal(f->b.warns, 0);
	assert_int_equal(f->a.fired, 0);
}

static void bad_roots_warn(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 1);
	char *r = at(f, "r");
	const char *roots[] = { "relative/path", "/", r, "/tmp/../etc" };
	struct watch_cb cb = { .fired = on_fired, .warn = on_warn, .ctx = &f->a };
	f->a.ws = watch_new(f->w, roots, ARRAY_LEN(roots), NULL, 0, D, &cb);
	free(r);
	assert_int_equal(watch_dirs(f->a.ws), 2);
	run_for(f, 10);
	assert_int_equal(f->a.warns, 1);        /* the first other problem only */
	assert_non_null(strstr(f->a.warn, "relative/path"));
	write_file(f, "r/d000/f000", "x");
	assert_int_equal(fire(f, &f->a, 1), 1);
}

static void queue_overflow_fires_and_rescans(void **state)
{
	struct fx *f = *state;
	make_tree(f, "r", 1, 2);
	start1(f, "r", D);
	/* More events than the kernel's queue holds (max_queued_events):
	 * writes to two files in turn (the kernel merges an event only with
	 * the one before it), then a directory whose creation is lost. */
	FILE *q = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
	int max = 16384;
	if (q) {
		assert_int_equal(fscanf(q, "%d", &max), 1);
		fclose(q);
	}
	char *a = at(f, "r/d000/f000"), *b = at(f, "r/d000/f001");
	int fd[2] = { open(a, O_WRONLY | O_CLOEXEC), open(b, O_WRONLY | O_CLOEXEC) };
	assert_true(fd[0] >= 0 && fd[1] >= 0);
	for (int i = 0; i < max + 100; i++)
		assert_int_equal(write(fd[i % 2], "x", 1), 1);
	close(fd[0]);
	close(fd[1]);
	make_dir(f, "r/late");
	assert_int_equal(fire(f, &f->a, 1), 1);
	assert_int_equal(watch_dirs(f->a.ws), 3);   /* late: found by the rescan */
	write_file(f, "r/late/f", "x");
	assert_int_equal(fire(f, &f->a, 2), 2);
	char *p = at(f, "r/late/f");
	assert_string_equal(f->a.path, p);
	free(p);
	free(a);
	free(b);
}

/* ---- figures (WATCH_BENCH=1) ---- */

static long rss_kib(void)
{
	FILE *s = fopen("/proc/self/status", "re");
	char line[256];
	long kib = -1;
	while (s && fgets(line, sizeof(line), s))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (s)
		fclose(s);
	return kib;
}

static void bench_100k(void **state)
{
	struct fx *f = *state;
	if (!getenv("WATCH_BENCH"))
		skip();
	uint64_t t = mono_ms();
	char *cmd = xasprintf("cd %s && mkdir r && cd r && for d in $(seq 1000); do "
	                      "mkdir d$d; done && for d in $(seq 1000); do (cd d$d && "
	                      "touch $(seq -f f%%g 100)); done", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	print_message("tree of 1 000 dirs x 100 files made in %llu ms\n",
	              (unsigned long long)(mono_ms() - t));
	for (int round = 0; round < 3; round++) {
		long rss = rss_kib();
		size_t heap = mallinfo2().uordblks;
		uint64_t t0 = mono_ms();
		start1(f, "r", D);
		uint64_t took = mono_ms() - t0;
		long grew = rss_kib() - rss;
		size_t used = mallinfo2().uordblks - heap;
		print_message("watch_new: %zu dirs, %zu inotify watches in %llu ms, "
		              "RSS +%ld KiB, heap in use +%zu bytes (%zu a directory)\n",
		              watch_dirs(f->a.ws), watcher_watches(f->w),
		              (unsigned long long)took, grew, used,
		              used / watch_dirs(f->a.ws));
		assert_int_equal(watch_dirs(f->a.ws), 1001);
		write_file(f, "r/d500/f50", "x");
		assert_int_equal(fire(f, &f->a, round + 1), round + 1);
		t0 = mono_ms();
		watch_free(f->a.ws);
		f->a.ws = NULL;
		print_message("watch_free: %llu ms\n", (unsigned long long)(mono_ms() - t0));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(patterns),
		cmocka_unit_test_setup_teardown(read_storm_fires_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(one_write_fires_once_after_debounce, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(writes_closer_than_debounce_fire_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(endless_stream_fires_within_max_wait, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(modify_alone_waits_for_close, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(create_delete_rename_fire, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(attributes_mode_counts_times_do_not, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(new_subdirectory_is_watched, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(files_made_before_the_new_directory_is_watched, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(directories_moved_in_out_and_within, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(git_is_ignored_and_costs_no_watch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(ignore_patterns, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(root_removed_and_made_again, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(root_missing_at_start, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(file_root, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(two_sets_share_a_directory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(free_inside_fired, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(watch_limit_warns_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(instance_limit_warns, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(bad_roots_warn, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(queue_overflow_fires_and_rescans, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(bench_100k, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
