#include "cgroup.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* How many directories tend looks at below one of its own to remove it
 * (a run may make cgroups of its own below its run's). */
#define CG_DIRS_MAX 4096

/* --- pure parsers --- */

/* Copies the mountinfo field [S, S+N) into OUT (CAP bytes), undoing the
 * kernel's octal escapes (\040 for a space, ...).  -1 when it does not
 * fit, or would hold a NUL. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (unsigned char)((s[i + 1] - '0') * 64 +
			                    (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (c == 0 || k + 1 >= cap)
			return -1;
		out[k++] = (char)c;
	}
	if (k == 0 || cap == 0)
		return -1;
	out[k] = 0;
	return 0;
}

int cg_parse_mount(const char *line, char *root, char *mnt, size_t cap)
{
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE ... */
	size_t idx = 0;
	bool sep = false;
	const char *p = line;
	while (*p && *p != '\n') {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		const char *w = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		size_t n = (size_t)(p - w);
		if (sep)   /* the file system type */
			return n == 7 && memcmp(w, "cgroup2", 7) == 0 ? 1 : 0;
		if (idx == 3 && (w[0] != '/' || unescape(w, n, root, cap) < 0))
			return -1;
		if (idx == 4 && (w[0] != '/' || unescape(w, n, mnt, cap) < 0))
			return -1;
		if (idx >= 6 && n == 1 && w[0] == '-')
			sep = true;
		idx++;
	}
	return -1;
}

int cg_parse_self(const char *text, char *out, size_t cap)
{
	for (const char *l = text; l && *l; ) {
		const char *end = strchr(l, '\n');
		size_t n = end ? (size_t)(end - l) : strlen(l);
		if (n > 3 && memcmp(l, "0::", 3) == 0) {
			const char *path = l + 3;
			size_t len = n - 3;
			static const char deleted[] = " (deleted)";
			size_t dl = sizeof(deleted) - 1;
			if (path[0] != '/' || len + 1 > cap ||
			    (len >= dl && memcmp(path + len - dl, deleted, dl) == 0))
				return -1;
			memcpy(out, path, len);
			out[len] = 0;
			return 0;
		}
		l = end ? end + 1 : NULL;
	}
	return -1;
}

/* Is the last component of PATH "tend-NAME-DIGITS"? */
static bool tend_dir_name(const char *base, const char *name)
{
	size_t nl = strlen(name);
	if (strncmp(base, "tend-", 5) != 0 || strncmp(base + 5, name, nl) != 0 ||
	    base[5 + nl] != '-')
		return false;
	const char *d = base + 5 + nl + 1;
	size_t nd = strspn(d, "0123456789");
	return nd >= 1 && nd <= 10 && d[nd] == 0;
}

int cg_parse_record(const char *line, const char *mount, const char *name,
                    char *out, size_t cap)
{
	if (strncmp(line, "cgroup ", 7) != 0 || !mount || !name || !*name)
		return -1;
	const char *path = line + 7;
	size_t len = strcspn(path, "\n");
	if (path[len] == '\n' && path[len + 1] != 0)
		return -1;   /* one line */
	size_t ml = strlen(mount);
	while (ml > 0 && mount[ml - 1] == '/')
		ml--;   /* "/" mounted at the root: no prefix */
	if (len + 1 > cap || len <= ml + 1 || strncmp(path, mount, ml) != 0 ||
	    path[ml] != '/')
		return -1;
	memcpy(out, path, len);
	out[len] = 0;
	for (const char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	/* component by component: none empty, "." or ".." */
	for (const char *c = out + ml; *c; ) {
		c++;   /* past the '/' */
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		c += n;
	}
	const char *base = strrchr(out, '/') + 1;
	return tend_dir_name(base, name) ? 0 : -1;
}

/* --- the file system --- */

/* Reads the small file DIR/FILE into BUF (CAP bytes, NUL-terminated).
 * Returns its length, or -1. */
static ssize_t read_small(const char *dir, const char *file, char *buf,
                          size_t cap)
{
	char *path = xasprintf("%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r = 0;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (r < 0)
		return -1;
	buf[n] = 0;
	return (ssize_t)n;
}

static int write_small(const char *dir, const char *file, const char *text)
{
	char *path = xasprintf("%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	errno = err;
	return w == (ssize_t)strlen(text) ? 0 : -1;
}

char *cg_procs_file(const char *path)
{
	return xasprintf("%s/cgroup.procs", path);
}

int cg_kill(const char *path)
{
	return write_small(path, "cgroup.kill", "1");
}

int cg_populated(const char *path)
{
	char buf[256];
	if (read_small(path, "cgroup.events", buf, sizeof(buf)) < 0)
		return -1;
	const char *p = strstr(buf, "populated ");
	if (!p || (p != buf && p[-1] != '\n'))
		return -1;
	return p[10] == '1' ? 1 : p[10] == '0' ? 0 : -1;
}

long cg_pids(const char *path, pid_t **pids, size_t *cap)
{
	char *file = cg_procs_file(path);
	size_t n = 0;
	int r = read_pids(file, pids, cap, &n);
	free(file);
	return r < 0 ? -1 : (long)n;
}

/* PATH and every directory below it (at most CG_DIRS_MAX), parents
 * before their children (one that cannot be opened: gone meanwhile). */
static void list_dirs(const char *path, struct strv *out)
{
	strv_push(out, xstrdup(path));
	for (size_t i = 0; i < out->n && out->n < CG_DIRS_MAX; i++) {
		DIR *d = opendir(out->v[i]);
		struct dirent *de;
		while (d && (de = readdir(d)) && out->n < CG_DIRS_MAX)
			if (de->d_type == DT_DIR && de->d_name[0] != '.')
				strv_push(out, xasprintf("%s/%s", out->v[i], de->d_name));
		if (d)
			closedir(d);
	}
}

/* Every live process in PATH and below it. */
static size_t count_procs(const char *path)
{
	struct strv dirs = { 0 };
	list_dirs(path, &dirs);
	pid_t *pids = NULL;
	size_t cap = 0, total = 0;
	for (size_t i = 0; i < dirs.n; i++) {
		long n = cg_pids(dirs.v[i], &pids, &cap);
		total += n > 0 ? (size_t)n : 0;
	}
	free(pids);
	strv_free(&dirs);
	return total;
}

/* Removes PATH and every directory below it (each must be empty of
 * processes: one still populated stays, EBUSY), children first. */
static void remove_tree(const char *path)
{
	struct strv dirs = { 0 };
	list_dirs(path, &dirs);
	for (size_t i = dirs.n; i-- > 0; )
		(void)rmdir(dirs.v[i]);
	strv_free(&dirs);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Is PATH a directory of a cgroup2 file system (false: gone, or not)? */
static bool on_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

size_t cg_kill_dir(const char *path, int wait_ms)
{
	if (!on_cgroup2(path))
		return 0;   /* gone, or no cgroup: nothing to kill or remove */
	size_t n = count_procs(path);
	/* Refused (before 5.14, where cg_setup makes none): the dirs stay. */
	if (n)
		(void)cg_kill(path);
	uint64_t end = mono_ms() + (uint64_t)wait_ms;
	while (cg_populated(path) == 1 && mono_ms() < end)
		sleep_ms(5);
	remove_tree(path);
	return n;
}

void cg_run_end(const char *path)
{
	if (!path || rmdir(path) == 0 || errno == ENOENT)
		return;
	if (cg_populated(path) == 1)
		(void)cg_kill(path);   /* never outlives its run; removed at the end */
	else
		remove_tree(path);
}

/* Removes the empty directories of tends that are gone, beside OWN's
 * tend-*-PID: each names its tend's pid, and no live process has it. */
static void sweep_dead(const char *own)
{
	DIR *d = opendir(own);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *dash = strrchr(de->d_name, '-');
		if (de->d_type != DT_DIR || strncmp(de->d_name, "tend-", 5) != 0 ||
		    !dash || dash[1] < '1' || dash[1] > '9' ||
		    strspn(dash + 1, "0123456789") != strlen(dash + 1) ||
		    strlen(dash + 1) > 9)
			continue;
		pid_t pid = (pid_t)strtol(dash + 1, NULL, 10);   /* 1-9 digits */
		if (pid == getpid() || kill(pid, 0) == 0 || errno == EPERM)
			continue;
		char *path = xasprintf("%s/%s", own, de->d_name);
		if (cg_populated(path) == 0)
			remove_tree(path);
		free(path);
	}
	if (d)
		closedir(d);
}

/* The cgroup2 mount: 0 with ROOT and MNT (CAP bytes each), or -1. */
static int find_mount(char *root, char *mnt, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	char *line = NULL;
	size_t lcap = 0;
	int found = -1;
	while (found < 0 && getline(&line, &lcap, f) > 0)
		if (cg_parse_mount(line, root, mnt, cap) == 1)
			found = 0;
	free(line);
	(void)fclose(f);   /* read only */
	return found;
}

static int off(struct cgroups *cg, char *why)
{
	free(cg->why);
	cg->why = why;
	free(cg->dir);
	cg->dir = NULL;
	return -1;
}

static char *off_null(struct cgroups *cg, char *why)
{
	off(cg, why);
	return NULL;
}

/* tend's own cgroup directory (malloc'd), below the cgroup2 mount, which
 * CG->mount gets; NULL after off_null(). */
static char *own_cgroup_in(struct cgroups *cg, char *root, char *mnt,
                           char *self, char *buf, size_t bufcap);

/* Its 20 KiB of buffers on the heap, for a moment: on the stack they
 * would keep as much of the daemon's stack in use for good. */
static char *own_cgroup(struct cgroups *cg)
{
	const size_t p = PATH_MAX;
	char *mem = xmalloc(3 * p + 8192);
	char *r = own_cgroup_in(cg, mem, mem + p, mem + 2 * p, mem + 3 * p, 8192);
	free(mem);
	return r;
}

static char *own_cgroup_in(struct cgroups *cg, char *root, char *mnt,
                           char *self, char *buf, size_t bufcap)
{
	if (find_mount(root, mnt, PATH_MAX) < 0)
		return off_null(cg, xstrdup("no cgroup v2 file system is mounted"));
	cg->mount = xstrdup(mnt);
	if (read_small("/proc/self", "cgroup", buf, bufcap) < 0 ||
	    cg_parse_self(buf, self, PATH_MAX) < 0)
		return off_null(cg, xstrdup("tend is in no cgroup v2 group "
		                            "(cgroup v1 only)"));
	/* SELF is below the root of the mount (a container may see part of
	 * the hierarchy only). */
	size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if (rl && (strncmp(self, root, rl) != 0 ||
	           (self[rl] != '/' && self[rl] != 0)))
		return off_null(cg, xasprintf("tend's cgroup %s is not below the "
		                              "mount at %s", self, mnt));
	const char *rel = self + rl;
	if (strcmp(rel, "/") == 0)
		rel = "";
	return xasprintf("%s%s", strcmp(mnt, "/") == 0 ? "" : mnt, rel);
}

/* May tend move processes into the cgroups below OWN (its cgroup.procs is
 * writable)?  0, or -1 after off(). */
static int delegated(struct cgroups *cg, const char *own)
{
	char *procs = cg_procs_file(own);
	int r = access(procs, W_OK);
	if (r < 0) {
		int err = errno;
		off(cg, xasprintf("cannot write %s (%s): tend's cgroup is not "
		                  "delegated to its user", procs, strerror(err)));
	}
	free(procs);
	return r < 0 ? -1 : 0;
}

/* Makes tend's directory DIR, where runs' cgroups can be made and killed.
 * 0, or -1 after off() with nothing left behind. */
static int make_own_dir(struct cgroups *cg, const char *dir)
{
	int r = mkdir(dir, 0755);
	if (r < 0 && errno == EEXIST) {
		/* A tend that had this pid before: long gone. */
		cg_kill_dir(dir, 1000);
		r = mkdir(dir, 0755);
	}
	if (r < 0) {
		int err = errno;
		return off(cg, xasprintf("cannot make %s: %s", dir, strerror(err)));
	}
	/* Each refusal below is said; the directory, empty, goes (a failed
	 * rmdir leaves an empty directory that the next tend sweeps). */
	if (!on_cgroup2(dir)) {
		(void)rmdir(dir);
		return off(cg, xasprintf("%s is not on a cgroup2 file system", dir));
	}
	char *kill_file = xasprintf("%s/cgroup.kill", dir);
	r = access(kill_file, W_OK);
	free(kill_file);
	if (r < 0) {
		(void)rmdir(dir);
		return off(cg, xstrdup("the kernel has no cgroup.kill (Linux 5.14)"));
	}
	return 0;
}

int cg_setup(struct cgroups *cg, const char *name)
{
	*cg = (struct cgroups){ 0 };
	char *own = own_cgroup(cg);
	if (!own)
		return -1;
	sweep_dead(own);
	if (delegated(cg, own) < 0) {
		free(own);
		return -1;
	}
	char *dir = xasprintf("%s/tend-%s-%d", own, name, (int)getpid());
	free(own);
	if (make_own_dir(cg, dir) < 0) {
		free(dir);
		return -1;
	}
	cg->dir = dir;
	free(cg->why);
	cg->why = NULL;
	return 0;
}

void cg_disable(struct cgroups *cg, const char *why)
{
	free(cg->why);
	cg->why = xstrdup(why);
	cg->off = true;
}

void cg_teardown(struct cgroups *cg)
{
	if (cg->dir)
		cg_kill_dir(cg->dir, 2000);
	free(cg->dir);
	free(cg->mount);
	free(cg->why);
	*cg = (struct cgroups){ 0 };
}

char *cg_run_new(struct cgroups *cg, const char *unit)
{
	if (!cg->dir || cg->off) {
		errno = ENOENT;
		return NULL;
	}
	char name[80];
	size_t k = 0;
	for (const char *c = unit; *c && k + 1 < sizeof(name); c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		          (*c >= '0' && *c <= '9') || strchr("_.@#-", *c);
		name[k++] = *c;
		if (!ok)
			name[k - 1] = '_';
	}
	name[k] = 0;
	for (int tries = 0; tries < 2; tries++) {
		char *path = xasprintf("%s/%lu-%s", cg->dir, ++cg->runs, name);
		if (mkdir(path, 0755) == 0)
			return path;
		int err = errno;
		free(path);
		errno = err;
		if (err != EEXIST)
			break;
	}
	return NULL;
}
