#include "watch.h"
#include "debounce.h"
#include "list.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* What every watch asks for: the same mask for all, so that sets sharing
 * a directory never change each other's (IN_MODIFY only marks a file as
 * written, see dirty_*). */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_DELETE | \
                    IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |            \
                    IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK)

#define READ_BUF 16384      /* one read of events */
#define READ_BUDGET 16      /* reads per wakeup before the loop serves others */
#define RESOLVE_TRIES 4     /* a root that keeps changing under us: give up */
#define DIRTY_CAP 1024      /* files written and not closed: the table */
#define DIRTY_MAX 768       /* ... and how full it gets */
#define ATTR_CAP 256        /* (dev, ino) -> mode, uid, gid */
#define MIN_BUCKETS 16

enum role {
	R_TOP,    /* a directory root */
	R_DIR,    /* a directory below it */
	R_FILE,   /* the directory of a file root; NAME is the file */
	R_WAIT,   /* the nearest existing ancestor of a missing root; NAME is
	           * the component it waits for */
};

enum warn_kind { W_WATCHES, W_INSTANCES, W_OTHER, W_KINDS };

struct node;
struct root;

/* One directory watched for one root (generation) of a set. */
struct wdir {
	struct root *r;
	struct node *node;
	/* the root's tree: its parent, its kids, its place among its parent's */
	struct wdir *up;
	struct list kids;
	struct list_link sib;
	struct wdir *nnext;                    /* entries on the same node */
	unsigned gen;
	enum role role;
	uint16_t nlen;
	char name[];   /* component below UP; "" for R_TOP */
};

/* One inotify watch. */
struct node {
	int wd;
	unsigned pin;      /* events being dispatched: do not free */
	bool gone;         /* the kernel dropped it (IN_IGNORED) */
	struct node *hnext;
	struct wdir *ents;
};

struct root {
	struct watch *ws;
	char *path;        /* normalized, absolute, not "/" */
	size_t len;
	size_t wlen;       /* R_FILE, R_WAIT: length of the watched prefix */
	struct wdir *top;  /* the current generation's top entry, or NULL */
	unsigned gen;
};

struct pat {
	char *s;
	bool dir_only;
	bool path;         /* has a '/': matched against the relative path */
};

struct watch {
	struct watcher *w;
	struct list_link link;   /* on w->sets */
	struct watch_cb cb;
	struct root *roots;
	size_t nroots;
	struct pat *pats;
	size_t npats;
	bool path_pats;
	struct debounce burst; /* when the changes counted fire */
	struct loop_timer timer;
	char *first;           /* the burst's first path */
	size_t ndirs;
	unsigned warned;       /* kinds told (or pending) */
	char *pending[W_KINDS];
	bool in_cb, dead;
};

struct dirty {
	int wd;                /* 0: empty */
	uint64_t h;            /* fnv1a of the name */
};

struct attr {
	dev_t dev;
	ino_t ino;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	bool used;
};

struct watcher {
	struct loop *lp;
	int fd;
	struct loop_io io;
	struct node **tab;     /* wd -> node, chained */
	size_t nb, nnodes;
	size_t max;            /* test hook */
	struct list sets;
	struct dirty *dirty;   /* DIRTY_CAP, made at the first IN_MODIFY */
	size_t ndirty;
	bool dirty_lost;       /* the table was full: unknown files count */
	struct attr *attrs;    /* ATTR_CAP, made at the first IN_ATTRIB */
};

/* What one event says, worked out once for all the entries it reaches. */
struct verdict {
	int attr;              /* 0: not asked yet, 1: counts, -1: does not */
};

static void resolve(struct root *r, bool counting);

/* ---- patterns ---- */

static struct pat pat_parse(const char *s)
{
	struct pat p = { 0 };
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '/') {
		p.dir_only = true;
		n--;
	}
	if (n > 0 && s[0] == '/') {
		p.path = true;
		s++;
		n--;
	}
	p.s = xmalloc(n + 1);
	memcpy(p.s, s, n);
	p.s[n] = 0;
	if (memchr(p.s, '/', n))
		p.path = true;
	return p;
}

/* Does P match the entry REL (relative path; NAME its last component),
 * its ancestors being known not to match? */
static bool pat_hit(const struct pat *p, const char *rel, const char *name,
                    bool is_dir)
{
	if (!p->s[0] || (p->dir_only && !is_dir))
		return false;
	if (p->path)
		return fnmatch(p->s, rel, FNM_PATHNAME) == 0;
	return fnmatch(p->s, name, 0) == 0;
}

bool watch_match(const char *pattern, const char *rel, bool is_dir)
{
	struct pat p = pat_parse(pattern);
	char *buf = xstrdup(rel);
	bool hit = false;
	/* Each leading part in turn: its ancestors are directories. */
	for (char *end = buf; !hit; end++) {
		if (*end != '/' && *end != 0)
			continue;
		char c = *end;
		*end = 0;
		char *name = strrchr(buf, '/');
		hit = pat_hit(&p, buf, name ? name + 1 : buf, c == '/' || is_dir);
		*end = c;
		if (!c)
			break;
	}
	free(buf);
	free(p.s);
	return hit;
}

uint64_t watch_max_wait(uint64_t debounce_ms)
{
	return debounce_max_wait(debounce_ms);
}

/* ---- warnings ---- */

static void on_timer(struct loop *lp, struct loop_timer *t);

static long sysctl_value(const char *name)
{
	char path[96], line[32];
	snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", name);
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f) {
		if (fgets(line, sizeof(line), f))
			v = strtol(line, NULL, 10);
		(void)fclose(f);  /* read only */
	}
	return v;
}

/* Tells MSG (owned) from the set's timer, unless its kind was told. */
static void warn(struct watch *ws, enum warn_kind k, char *msg)
{
	if (ws->warned & (1u << k)) {
		free(msg);
		return;
	}
	ws->warned |= 1u << k;
	ws->pending[k] = msg;
	loop_timer_start(ws->w->lp, &ws->timer, 0, on_timer, ws);
}

static void warn_add(struct watch *ws, const char *path, int err)
{
	if (err == ENOENT || err == ENOTDIR)
		return;   /* gone meanwhile: its parent's events tell */
	if (err != ENOSPC) {
		warn(ws, W_OTHER, xasprintf("cannot watch %s: %s", path, strerror(err)));
		return;
	}
	long lim = sysctl_value("max_user_watches");
	char *extra = ws->w->max ? xasprintf(", test limit %zu", ws->w->max) : xstrdup("");
	warn(ws, W_WATCHES, xasprintf(
		"cannot watch %s: the inotify watch limit is reached "
		"(fs.inotify.max_user_watches = %ld%s); it and what is below it "
		"are not watched: raise it with sysctl -w fs.inotify.max_user_watches=N",
		path, lim, extra));
	free(extra);
}

static void warn_init(struct watch *ws, int err)
{
	if (err != EMFILE) {
		warn(ws, W_OTHER, xasprintf("no inotify instance: %s; nothing is watched",
		                            strerror(err)));
		return;
	}
	warn(ws, W_INSTANCES, xasprintf(
		"no inotify instance: the limit fs.inotify.max_user_instances = %ld "
		"(or the descriptor limit) is reached; nothing is watched: raise it "
		"with sysctl -w fs.inotify.max_user_instances=N",
		sysctl_value("max_user_instances")));
}

/* ---- counting changes and firing ---- */

/* One change; PATH (absolute) is only read for the first of a burst.
 * When the burst fires is debounce.h's; the timer fires at the quiet
 * period's end and, if more came since, is armed again for the rest. */
static void count_path(struct watch *ws, const char *path)
{
	if (debounce_change(&ws->burst, mono_ms())) {
		free(ws->first);
		ws->first = xstrdup(path);
	}
	if (!ws->timer.armed)
		loop_timer_start(ws->w->lp, &ws->timer, ws->burst.quiet_ms, on_timer, ws);
}

static void set_free(struct watch *ws);

static void on_timer(struct loop *lp, struct loop_timer *t)
{
	struct watch *ws = t->data;
	ws->in_cb = true;
	for (int k = 0; k < W_KINDS && !ws->dead; k++) {
		char *msg = ws->pending[k];
		ws->pending[k] = NULL;
		if (msg && ws->cb.warn)
			ws->cb.warn(ws->cb.ctx, msg);
		free(msg);
	}
	if (!ws->dead && ws->burst.count) {
		uint64_t wait = debounce_wait(&ws->burst, mono_ms());
		if (wait == 0) {
			char *first = ws->first;
			size_t n = debounce_take(&ws->burst);
			ws->first = NULL;
			ws->cb.fired(ws->cb.ctx, first, n);
			free(first);
		} else {
			loop_timer_start(lp, t, wait, on_timer, ws);
		}
	}
	ws->in_cb = false;
	if (ws->dead)
		set_free(ws);
}

/* ---- the wd -> node table ---- */

static size_t bucket(const struct watcher *w, int wd)
{
	return (size_t)((unsigned)wd * 2654435761u) & (w->nb - 1);
}

static void tab_resize(struct watcher *w, size_t nb)
{
	struct node **old = w->tab;
	size_t onb = w->nb;
	w->tab = xcalloc(nb, sizeof(*w->tab));
	w->nb = nb;
	for (size_t i = 0; i < onb; i++)
		for (struct node *n = old[i], *next; n; n = next) {
			next = n->hnext;
			size_t b = bucket(w, n->wd);
			n->hnext = w->tab[b];
			w->tab[b] = n;
		}
	free(old);
}

static struct node *node_find(const struct watcher *w, int wd)
{
	if (!w->nb)
		return NULL;
	for (struct node *n = w->tab[bucket(w, wd)]; n; n = n->hnext)
		if (n->wd == wd)
			return n;
	return NULL;
}

static struct node *node_new(struct watcher *w, int wd)
{
	if (w->nnodes >= w->nb)
		tab_resize(w, w->nb ? w->nb * 2 : MIN_BUCKETS);
	struct node *n = xcalloc(1, sizeof(*n));
	n->wd = wd;
	size_t b = bucket(w, wd);
	n->hnext = w->tab[b];
	w->tab[b] = n;
	w->nnodes++;
	return n;
}

static void dirty_purge(struct watcher *w, int wd);

/* N has no entry left: the watch goes. */
static void node_drop(struct watcher *w, struct node *n)
{
	struct node **pp = &w->tab[bucket(w, n->wd)];
	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	w->nnodes--;
	if (!n->gone)
		inotify_rm_watch(w->fd, n->wd);
	dirty_purge(w, n->wd);
	free(n);
	if (w->nb > MIN_BUCKETS && w->nnodes < w->nb / 4)
		tab_resize(w, w->nb / 2);
}

/* Watches PATH (a directory); *OUT is its node, shared if it was watched
 * already.  Returns 0 (*OUT set) or an errno (never 0). */
static int node_add(struct watcher *w, const char *path, bool follow,
                    struct node **out)
{
	uint32_t mask = WATCH_MASK | IN_ONLYDIR | (follow ? 0 : IN_DONT_FOLLOW);
	int wd = inotify_add_watch(w->fd, path, mask);
	if (wd < 0) {
		int e = errno;
		return e ? e : EIO;
	}
	struct node *n = node_find(w, wd);
	if (!n) {
		if (w->max && w->nnodes >= w->max) {
			inotify_rm_watch(w->fd, wd);
			return ENOSPC;
		}
		n = node_new(w, wd);
	}
	*out = n;
	return 0;
}

/* ---- entries and trees ---- */

static struct wdir *ent_new(struct root *r, struct node *n, struct wdir *up,
                            enum role role, const char *name)
{
	size_t len = strlen(name);
	struct wdir *d = xcalloc(1, sizeof(*d) + len + 1);
	memcpy(d->name, name, len + 1);
	d->nlen = (uint16_t)len;
	d->r = r;
	d->node = n;
	d->gen = r->gen;
	d->role = role;
	/* At the head: an event being dispatched on N does not reach it. */
	d->nnext = n->ents;
	n->ents = d;
	if (up) {
		d->up = up;
		list_push_front(&up->kids, &d->sib);
	}
	r->ws->ndirs++;
	return d;
}

static void ent_free(struct wdir *d)
{
	struct watcher *w = d->r->ws->w;
	if (d->up)
		list_remove(&d->up->kids, &d->sib);
	struct node *n = d->node;
	struct wdir **pp = &n->ents;
	while (*pp != d)
		pp = &(*pp)->nnext;
	*pp = d->nnext;
	d->r->ws->ndirs--;
	free(d);
	if (!n->ents && !n->pin)
		node_drop(w, n);
}

/* D's first (newest) kid, and the kid after D: NULL if none. */
static struct wdir *first_kid(const struct wdir *d)
{
	return list_first(&d->kids, struct wdir, sib);
}

static struct wdir *next_sib(const struct wdir *d)
{
	return list_next(d, struct wdir, sib);
}

/* Frees TOP and everything below it, leaves first (no recursion). */
static void tree_drop(struct wdir *top)
{
	struct wdir *d = top;
	while (d) {
		while (!list_empty(&d->kids))
			d = first_kid(d);
		struct wdir *up = d == top ? NULL : d->up;
		ent_free(d);
		d = up;
	}
}

/* Does the root's current generation watch N already? */
static bool in_tree(const struct node *n, const struct root *r)
{
	for (const struct wdir *e = n->ents; e; e = e->nnext)
		if (e->r == r && e->gen == r->gen)
			return true;
	return false;
}

/* The absolute path of the directory D watches, in BUF (PATH_MAX);
 * its length, or -1 if too long. */
static int ent_path(const struct wdir *d, char *buf)
{
	const struct root *r = d->r;
	if (d->role == R_FILE || d->role == R_WAIT) {
		size_t n = r->wlen ? r->wlen : 1;   /* 0: "/" */
		memcpy(buf, r->path, n);
		buf[n] = 0;
		return (int)n;
	}
	size_t len = r->len;
	for (const struct wdir *e = d; e->up; e = e->up)
		len += 1u + e->nlen;
	if (len >= PATH_MAX)
		return -1;
	buf[len] = 0;
	size_t end = len;
	for (const struct wdir *e = d; e->up; e = e->up) {
		end -= e->nlen;
		memcpy(buf + end, e->name, e->nlen);
		buf[--end] = '/';
	}
	memcpy(buf, r->path, r->len);
	return (int)len;
}

/* Appends "/NAME" to the path in BUF of length LEN; -1 if too long. */
static int path_join(char *buf, int len, const char *name)
{
	size_t n = strlen(name);
	if ((size_t)len + 1 + n >= PATH_MAX)
		return -1;
	buf[len] = '/';
	memcpy(buf + len + 1, name, n + 1);
	return len + 1 + (int)n;
}

/* Is NAME, below D (a directory of a root's tree) and at PATH (absolute,
 * or NULL when the set has no path pattern), ignored? */
static bool ignored(const struct wdir *d, const char *path, const char *name,
                    bool is_dir)
{
	const struct watch *ws = d->r->ws;
	const char *rel = path ? path + d->r->len + 1 : NULL;
	for (size_t i = 0; i < ws->npats; i++)
		if (pat_hit(&ws->pats[i], rel, name, is_dir))
			return true;
	return false;
}

static struct wdir *kid_named(const struct wdir *d, const char *name)
{
	list_each(k, &d->kids, struct wdir, sib)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

/* Watches the directory NAME below UP (PATH: its path); NULL if it cannot
 * be, or is in the tree already.  Unless FRESH (UP has no kid yet), a kid
 * of that name watching another directory is stale (it was replaced by a
 * rename) and goes first. */
static struct wdir *add_dir(struct wdir *up, const char *name, const char *path,
                            bool fresh)
{
	struct root *r = up->r;
	struct node *n;
	int err = node_add(r->ws->w, path, false, &n);
	if (err) {
		warn_add(r->ws, path, err);
		return NULL;
	}
	struct wdir *k = fresh ? NULL : kid_named(up, name);
	if (k && k->node == n)
		return NULL;
	if (k) {
		n->pin++;
		tree_drop(k);
		n->pin--;
	}
	if (in_tree(n, r))
		return NULL;
	return ent_new(r, n, up, R_DIR, name);
}

/* Reads D's directory: watches the subdirectories that are not ignored,
 * counts every entry when COUNTING (D is new: all it holds is new). */
static void scan_one(struct wdir *d, bool counting)
{
	char path[PATH_MAX];
	int len = ent_path(d, path);
	if (len < 0)
		return;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	                    (d->role == R_TOP ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return;   /* gone meanwhile: its parent's events tell */
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	const struct watch *ws = d->r->ws;
	struct dirent *de;
	while ((de = readdir(dir))) {
		const char *name = de->d_name;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			is_dir = S_ISDIR(st.st_mode);
		}
		if ((!counting && !is_dir) || path_join(path, len, name) < 0)
			continue;   /* a file is only read about to be counted */
		if (!ignored(d, ws->path_pats ? path : NULL, name, is_dir)) {
			if (counting)
				count_path(d->r->ws, path);
			if (is_dir)
				add_dir(d, name, path, true);
		}
		path[len] = 0;
	}
	closedir(dir);
}

/* Reads the fresh subtree S (its entries have no kid yet), in preorder. */
static void scan_tree(struct wdir *s, bool counting)
{
	struct wdir *d = s;
	for (;;) {
		scan_one(d, counting);
		if (!list_empty(&d->kids)) {
			d = first_kid(d);
			continue;
		}
		while (d != s && !next_sib(d))
			d = d->up;
		if (d == s)
			return;
		d = next_sib(d);
	}
}

/* ---- roots ---- */

/* Each attempt returns 0 (done, r->top set or not) or -1 (the path
 * changed under us: try again). */

static int attempt_dir(struct root *r, bool counting)
{
	struct node *n;
	int err = node_add(r->ws->w, r->path, true, &n);
	if (err == ENOENT || err == ENOTDIR)
		return -1;
	if (err) {
		warn_add(r->ws, r->path, err);
		return 0;
	}
	r->top = ent_new(r, n, NULL, R_TOP, "");
	if (counting)
		count_path(r->ws, r->path);
	scan_tree(r->top, counting);
	return 0;
}

/* Watches the prefix of r->path of length WLEN for the component after
 * it, as ROLE. */
static int attempt_parent(struct root *r, size_t wlen, enum role role)
{
	char dir[PATH_MAX], name[NAME_MAX + 1];
	size_t dlen = wlen ? wlen : 1;
	memcpy(dir, r->path, dlen);
	dir[dlen] = 0;
	const char *c = r->path + wlen + 1;
	size_t clen = strcspn(c, "/");
	if (clen > NAME_MAX)
		clen = NAME_MAX;
	memcpy(name, c, clen);
	name[clen] = 0;
	struct node *n;
	int err = node_add(r->ws->w, dir, true, &n);
	if (err == ENOENT || err == ENOTDIR)
		return -1;
	if (err) {
		warn_add(r->ws, dir, err);
		return 0;
	}
	r->wlen = wlen;
	r->top = ent_new(r, n, NULL, role, name);
	return 0;
}

static size_t parent_len(const char *path, size_t len)
{
	while (len > 0 && path[len - 1] != '/')
		len--;
	return len > 0 ? len - 1 : 0;
}

static int attempt_file(struct root *r, bool counting)
{
	if (attempt_parent(r, parent_len(r->path, r->len), R_FILE) < 0)
		return -1;
	if (counting && r->top)
		count_path(r->ws, r->path);
	return 0;
}

/* The root is missing: watch its nearest existing ancestor. */
static int attempt_wait(struct root *r)
{
	char dir[PATH_MAX];
	size_t wlen = r->len;
	struct stat st;
	for (;;) {
		wlen = parent_len(r->path, wlen);
		size_t dlen = wlen ? wlen : 1;
		memcpy(dir, r->path, dlen);
		dir[dlen] = 0;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			break;
		if (wlen == 0)
			return 0;   /* "/" is not a directory: nothing to do */
	}
	if (attempt_parent(r, wlen, R_WAIT) < 0)
		return -1;
	if (!r->top)
		return 0;
	/* Made between the stat and the watch?  (A directory, or the root
	 * itself, of any type.) */
	bool last = wlen + 1 + r->top->nlen == r->len;
	if (path_join(dir, (int)strlen(dir), r->top->name) >= 0 &&
	    stat(dir, &st) == 0 && (last || S_ISDIR(st.st_mode))) {
		ent_free(r->top);
		r->top = NULL;
		return -1;
	}
	return 0;
}

static int attempt(struct root *r, bool counting)
{
	struct stat st;
	if (stat(r->path, &st) == 0)
		return S_ISDIR(st.st_mode) ? attempt_dir(r, counting)
		                           : attempt_file(r, counting);
	if (errno != ENOENT && errno != ENOTDIR) {
		warn(r->ws, W_OTHER, xasprintf("cannot watch %s: %s", r->path,
		                               strerror(errno)));
		return 0;
	}
	return attempt_wait(r);
}

/* (Re)builds the root's watches from what is on disk now, then drops the
 * old ones (shared directories keep their watch throughout).  COUNTING:
 * the root and what it holds count as new. */
static void resolve(struct root *r, bool counting)
{
	struct wdir *old = r->top;
	r->top = NULL;
	r->gen++;
	for (int i = 0; i < RESOLVE_TRIES; i++)
		if (attempt(r, counting) == 0)
			break;
	if (old)
		tree_drop(old);
}

/* The root's path, normalized ("//" and "/." collapsed, no trailing '/'),
 * or NULL if it is not an absolute path other than "/", without "..",
 * shorter than PATH_MAX. */
static char *norm_root(const char *p)
{
	if (p[0] != '/')
		return NULL;
	char *s = xmalloc(strlen(p) + 1);
	size_t n = 0;
	for (const char *c = p; *c;) {
		while (*c == '/')
			c++;
		size_t l = strcspn(c, "/");
		if (l == 0 || (l == 1 && c[0] == '.')) {
			c += l;
			continue;
		}
		if (l == 2 && c[0] == '.' && c[1] == '.') {
			free(s);
			return NULL;
		}
		s[n++] = '/';
		memcpy(s + n, c, l);
		n += l;
		c += l;
	}
	s[n] = 0;
	if (n == 0 || n >= PATH_MAX) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- dirty files: IN_MODIFY seen, IN_CLOSE_WRITE not yet ---- */

static size_t dirty_slot(int wd, uint64_t h)
{
	return (size_t)((h ^ (uint64_t)(unsigned)wd * 0x9E3779B97F4A7C15ull) &
	                (DIRTY_CAP - 1));
}

static long dirty_find(const struct watcher *w, int wd, uint64_t h)
{
	if (!w->dirty)
		return -1;
	for (size_t i = dirty_slot(wd, h); w->dirty[i].wd; i = (i + 1) & (DIRTY_CAP - 1))
		if (w->dirty[i].wd == wd && w->dirty[i].h == h)
			return (long)i;
	return -1;
}

static void dirty_mark(struct watcher *w, int wd, const char *name)
{
	uint64_t h = fnv1a(name);
	if (dirty_find(w, wd, h) >= 0)
		return;
	if (w->ndirty >= DIRTY_MAX) {
		w->dirty_lost = true;
		return;
	}
	if (!w->dirty)
		w->dirty = xcalloc(DIRTY_CAP, sizeof(*w->dirty));
	size_t i = dirty_slot(wd, h);
	while (w->dirty[i].wd)
		i = (i + 1) & (DIRTY_CAP - 1);
	w->dirty[i] = (struct dirty){ .wd = wd, .h = h };
	w->ndirty++;
}

/* Linear probing's deletion: later entries of the run move back. */
static void dirty_del(struct watcher *w, size_t i)
{
	for (size_t j = i;;) {
		j = (j + 1) & (DIRTY_CAP - 1);
		if (!w->dirty[j].wd)
			break;
		size_t k = dirty_slot(w->dirty[j].wd, w->dirty[j].h);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			w->dirty[i] = w->dirty[j];
			i = j;
		}
	}
	w->dirty[i].wd = 0;
	if (--w->ndirty == 0)
		w->dirty_lost = false;
}

/* Was NAME written since it was opened?  Forgets it. */
static bool dirty_take(struct watcher *w, int wd, const char *name)
{
	long i = dirty_find(w, wd, fnv1a(name));
	if (i < 0)
		return w->dirty_lost;
	dirty_del(w, (size_t)i);
	return true;
}

static void dirty_purge(struct watcher *w, int wd)
{
	if (!w->ndirty)
		return;
	for (size_t i = 0; i < DIRTY_CAP;) {
		if (w->dirty[i].wd == wd)
			dirty_del(w, i);   /* slot I gets a new occupant: look again */
		else
			i++;
	}
}

/* ---- attribute changes ---- */

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Did the IN_ATTRIB of PATH change more than its times? */
static bool attr_changed(struct watcher *w, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return false;   /* gone: its deletion counts */
	if (!w->attrs)
		w->attrs = xcalloc(ATTR_CAP, sizeof(*w->attrs));
	uint64_t h = ((uint64_t)st.st_dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)st.st_ino;
	struct attr *a = &w->attrs[(h ^ (h >> 29)) & (ATTR_CAP - 1)];
	bool changed;
	if (a->used && a->dev == st.st_dev && a->ino == st.st_ino)
		changed = a->mode != st.st_mode || a->uid != st.st_uid ||
		          a->gid != st.st_gid;
	else
		changed = !ts_eq(st.st_atim, st.st_ctim) && !ts_eq(st.st_mtim, st.st_ctim);
	*a = (struct attr){ .dev = st.st_dev, .ino = st.st_ino, .mode = st.st_mode,
	                    .uid = st.st_uid, .gid = st.st_gid, .used = true };
	return changed;
}

static bool attr_counts(struct watcher *w, struct verdict *v, const char *path)
{
	if (!v->attr)
		v->attr = attr_changed(w, path) ? 1 : -1;
	return v->attr > 0;
}

/* ---- events ---- */

/* NAME changed below D, a directory of a root's tree. */
static void tree_event(struct wdir *d, uint32_t m, const char *name,
                       struct verdict *v)
{
	struct watch *ws = d->r->ws;
	bool is_dir = m & IN_ISDIR;
	char path[PATH_MAX];
	int len = ent_path(d, path);
	if (len < 0 || path_join(path, len, name) < 0)
		return;
	if (ignored(d, path, name, is_dir))
		return;
	if ((m & IN_ATTRIB) && !attr_counts(ws->w, v, path))
		return;
	count_path(ws, path);
	/* A deleted directory goes at its own IN_DELETE_SELF (on_gone). */
	if (is_dir && (m & IN_MOVED_FROM)) {
		struct wdir *k = kid_named(d, name);
		if (k)
			tree_drop(k);
	}
	if (is_dir && (m & (IN_CREATE | IN_MOVED_TO))) {
		struct wdir *k = add_dir(d, name, path, false);
		if (k)
			scan_tree(k, true);
	}
}

/* The directory E watches was deleted or moved (M: IN_DELETE_SELF,
 * IN_MOVE_SELF), or its watch dropped by the kernel (IN_IGNORED: deleted,
 * unmounted). */
static void on_gone(struct wdir *e, uint32_t m)
{
	struct root *r = e->r;
	switch (e->role) {
	case R_DIR:
		/* The parent counts a deletion and handles a move (by name: it
		 * knows whether it stays in the tree).  A watch dropped without
		 * a deletion (unmount) counts here. */
		if (m & IN_IGNORED)
			count_path(r->ws, r->path);
		if (m & (IN_IGNORED | IN_DELETE_SELF))
			tree_drop(e);
		return;
	case R_TOP:
	case R_FILE:
		count_path(r->ws, r->path);
		resolve(r, e->role == R_TOP);
		return;
	case R_WAIT:
		resolve(r, true);
		return;
	}
}

static void dispatch(struct wdir *e, uint32_t m, const char *name,
                     struct verdict *v)
{
	struct root *r = e->r;
	if (m & IN_IGNORED) {
		on_gone(e, m);
		return;
	}
	if (!name[0]) {   /* about the watched directory itself */
		if (m & (IN_DELETE_SELF | IN_MOVE_SELF))
			on_gone(e, m);
		else if ((m & IN_ATTRIB) && e->role == R_TOP &&
		         attr_counts(r->ws->w, v, r->path))
			count_path(r->ws, r->path);
		return;
	}
	switch (e->role) {
	case R_TOP:
	case R_DIR:
		tree_event(e, m, name, v);
		return;
	case R_FILE:
		if (strcmp(name, e->name) != 0)
			return;
		if ((m & IN_ISDIR) && (m & (IN_CREATE | IN_MOVED_TO))) {
			resolve(r, true);   /* now a directory */
			return;
		}
		if ((m & IN_ATTRIB) && !attr_counts(r->ws->w, v, r->path))
			return;
		count_path(r->ws, r->path);
		return;
	case R_WAIT:
		if ((m & (IN_CREATE | IN_MOVED_TO)) && !strcmp(name, e->name))
			resolve(r, true);
		return;
	}
}

/* Events were lost: every set counts one change and reads its roots
 * again; which open files were written is not known any more, so a
 * close-after-write counts until the dirty table is empty again. */
static void overflow(struct watcher *w)
{
	w->dirty_lost = true;
	list_each(ws, &w->sets, struct watch, link) {
		if (ws->nroots)
			count_path(ws, ws->roots[0].path);
		for (size_t i = 0; i < ws->nroots; i++)
			if (ws->roots[i].path)
				resolve(&ws->roots[i], false);
	}
}

static void on_event(struct watcher *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		overflow(w);
		return;
	}
	struct node *n = node_find(w, ev->wd);
	if (!n)
		return;   /* a watch we removed: its last events */
	const char *name = ev->len ? ev->name : "";
	uint32_t m = ev->mask;
	bool file = name[0] && !(m & IN_ISDIR);
	if (m & IN_MODIFY) {
		if (file)
			dirty_mark(w, ev->wd, name);
		return;   /* not a change until closed */
	}
	if ((m & IN_CLOSE_WRITE) && !dirty_take(w, ev->wd, name))
		return;   /* opened for writing, not written */
	if (file && (m & (IN_DELETE | IN_MOVED_FROM)))
		dirty_take(w, ev->wd, name);
	if (m & IN_IGNORED)
		n->gone = true;
	struct verdict v = { 0 };
	n->pin++;
	for (struct wdir *e = n->ents, *next; e; e = next) {
		next = e->nnext;
		dispatch(e, m, name, &v);
	}
	n->pin--;
	if (!n->ents)
		node_drop(w, n);
}

static void on_inotify(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	struct watcher *w = io->data;
	char buf[READ_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (int i = 0; i < READ_BUDGET; i++) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n <= 0)
			return;   /* EAGAIN: all read */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			on_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* ---- the watcher and its sets ---- */

struct watcher *watcher_new(struct loop *lp)
{
	struct watcher *w = xcalloc(1, sizeof(*w));
	w->lp = lp;
	w->fd = -1;
	return w;
}

/* The inotify instance, made at the first need; 0 or an errno. */
static int watcher_open(struct watcher *w)
{
	if (w->fd >= 0)
		return 0;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return errno;
	if (loop_io_add(w->lp, &w->io, fd, EPOLLIN, on_inotify, w) < 0) {
		int err = errno;
		close(fd);
		return err;
	}
	w->fd = fd;
	return 0;
}

size_t watcher_watches(const struct watcher *w)
{
	return w->nnodes;
}

void watcher_set_max(struct watcher *w, size_t max)
{
	w->max = max;
}

struct watch *watch_new(struct watcher *w, const char *const *roots, size_t nroots,
                        const char *const *ignore, size_t nignore,
                        uint64_t debounce_ms, const struct watch_cb *cb)
{
	static const char *const def[] = { WATCH_IGNORE_DEFAULT };
	struct watch *ws = xcalloc(1, sizeof(*ws));
	ws->w = w;
	ws->cb = *cb;
	debounce_init(&ws->burst, debounce_ms);
	if (!ignore) {
		ignore = def;
		nignore = ARRAY_LEN(def);
	}
	ws->pats = xcalloc(nignore ? nignore : 1, sizeof(*ws->pats));
	for (size_t i = 0; i < nignore; i++) {
		ws->pats[ws->npats] = pat_parse(ignore[i]);
		ws->path_pats |= ws->pats[ws->npats++].path;
	}
	list_push_front(&w->sets, &ws->link);
	ws->roots = xcalloc(nroots ? nroots : 1, sizeof(*ws->roots));
	ws->nroots = nroots;
	int err = watcher_open(w);
	if (err)
		warn_init(ws, err);
	for (size_t i = 0; i < nroots; i++) {
		struct root *r = &ws->roots[i];
		r->ws = ws;
		r->path = norm_root(roots[i]);
		if (!r->path) {
			warn(ws, W_OTHER, xasprintf("cannot watch %s: not an absolute "
			                            "path below / without \"..\"", roots[i]));
			continue;
		}
		r->len = strlen(r->path);
		if (!err)
			resolve(r, false);
	}
	return ws;
}

static void set_free(struct watch *ws)
{
	struct watcher *w = ws->w;
	loop_timer_stop(w->lp, &ws->timer);
	for (size_t i = 0; i < ws->nroots; i++) {
		if (ws->roots[i].top)
			tree_drop(ws->roots[i].top);
		free(ws->roots[i].path);
	}
	free(ws->roots);
	for (size_t i = 0; i < ws->npats; i++)
		free(ws->pats[i].s);
	free(ws->pats);
	for (int k = 0; k < W_KINDS; k++)
		free(ws->pending[k]);
	free(ws->first);
	list_remove(&w->sets, &ws->link);
	free(ws);
}

void watch_free(struct watch *ws)
{
	if (!ws)
		return;
	if (ws->in_cb)
		ws->dead = true;   /* freed when the callback returns */
	else
		set_free(ws);
}

size_t watch_dirs(const struct watch *ws)
{
	return ws->ndirs;
}

void watcher_free(struct watcher *w)
{
	if (!w)
		return;
	while (!list_empty(&w->sets))
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): set_free unlinks the set from its watcher, W */
		set_free(list_first(&w->sets, struct watch, link));
	if (w->fd >= 0) {
		loop_io_del(w->lp, &w->io);
		close(w->fd);
	}
	free(w->tab);
	free(w->dirty);
	free(w->attrs);
	free(w);
}
