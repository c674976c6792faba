#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory's name, reduced to characters safe in a file name. */
static char *dir_label(const char *real)
{
	char *copy = xstrdup(real);
	char *base = basename(dirname(copy));
	if (strcmp(base, "/") == 0) {
		free(copy);
		return xstrdup("root");
	}
	char label[33];
	size_t n = 0;
	for (const char *c = base; *c && n < sizeof(label) - 1; c++)
		label[n++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		                    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
		                    *c == '.' ? *c : '_');
	label[n] = 0;
	free(copy);
	return xstrdup(n ? label : "root");
}

char *paths_user_config(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg == '/')
		return xasprintf("%s/tend/tend.ini", xdg);
	char *home = paths_home();
	char *path = xasprintf("%s/.config/tend/tend.ini", home);
	free(home);
	return path;
}

/* Is CONFIG (whose real path is REAL, NULL when it does not exist) the
 * user's own file? */
static bool is_user_config(const char *config, const char *real)
{
	char *user = paths_user_config();
	char ureal[PATH_MAX];
	bool yes = real ? realpath(user, ureal) && strcmp(real, ureal) == 0
	                : strcmp(config, user) == 0;
	free(user);
	return yes;
}

char *paths_no_file(const char *config)
{
	if (is_user_config(config, NULL))
		return xasprintf("no configuration: there is no ./tend.ini here and no "
		                 "%s (the default daemon's file); write a starter one "
		                 "with tend init, or name a file with -c FILE", config);
	const char *env = getenv("TEND_CONFIG");
	if (env && strcmp(env, config) == 0)
		return xasprintf("%s (from $TEND_CONFIG): no such file; write a starter "
		                 "one with tend init, or name another file", config);
	return xasprintf("%s: no such file; write a starter one with tend -c %s "
	                 "init, or give an existing file with -c FILE", config,
	                 config);
}

int paths_init(struct paths *p, const char *config, char **err)
{
	*p = (struct paths){ .runfd = -1, .statefd = -1 };
	char real[PATH_MAX];
	if (!realpath(config, real)) {
		int e = errno;
		if (e == ENOENT && !is_user_config(config, NULL)) {
			*err = paths_no_file(config);
			return -1;
		}
		if (e != ENOENT) {
			*err = xasprintf("%s: %s; give an existing file with -c FILE",
			                 config, strerror(e));
			return -1;
		}
		/* The user's own file, which does not exist: the default
		 * daemon runs without one. */
		p->config = xstrdup(config);
		p->id = xstrdup(PATHS_DEFAULT_ID);
		p->is_default = true;
		p->no_file = true;
	} else if (is_user_config(config, real)) {
		p->config = xstrdup(real);
		p->id = xstrdup(PATHS_DEFAULT_ID);
		p->is_default = true;
	} else {
		p->config = xstrdup(real);
		char *label = dir_label(real);
		p->id = xasprintf("%s-%08llx", label,
		                  (unsigned long long)(fnv1a(real) & 0xffffffffull));
		free(label);
	}
	p->rundir = paths_rundir();
	p->sock = xasprintf("%s/%s.sock", p->rundir, p->id);
	p->lock = xasprintf("%s/%s.lock", p->rundir, p->id);
	p->procs = xasprintf("%s/%s.procs", p->rundir, p->id);
	char *home = paths_home();
	const char *st = getenv("XDG_STATE_HOME");
	if (st && *st == '/')
		p->statedir = xasprintf("%s/tend/%s", st, p->id);
	else
		p->statedir = xasprintf("%s/.local/state/tend/%s", home, p->id);
	free(home);
	p->events = xasprintf("%s/events.log", p->statedir);
	p->daemon_log = xasprintf("%s/daemon.log", p->statedir);
	return 0;
}

char *paths_pick_rundir(const char *xdg, uid_t uid, const struct stat *runuser)
{
	if (xdg && *xdg == '/')
		return xasprintf("%s/tend", xdg);
	if (runuser && S_ISDIR(runuser->st_mode) && runuser->st_uid == uid &&
	    (runuser->st_mode & 07777) == 0700)
		return xasprintf("/run/user/%u/tend", (unsigned)uid);
	return xasprintf("/tmp/tend-%u", (unsigned)uid);
}

char *paths_rundir(void)
{
	uid_t uid = getuid();
	char dir[64];
	snprintf(dir, sizeof(dir), "/run/user/%u", (unsigned)uid);
	struct stat st;
	bool have = lstat(dir, &st) == 0;
	return paths_pick_rundir(getenv("XDG_RUNTIME_DIR"), uid, have ? &st : NULL);
}

char *paths_home(void)
{
	const char *home = getenv("HOME");
	if (home && *home == '/')
		return xstrdup(home);
	struct passwd *pw = getpwuid(getuid());
	if (pw && pw->pw_dir && *pw->pw_dir == '/')
		return xstrdup(pw->pw_dir);
	return xstrdup("/tmp");
}

void paths_free(struct paths *p)
{
	free(p->config);
	free(p->id);
	free(p->rundir);
	free(p->sock);
	free(p->lock);
	free(p->procs);
	free(p->statedir);
	free(p->events);
	free(p->daemon_log);
	if (p->runfd >= 0)
		close(p->runfd);
	if (p->statefd >= 0)
		close(p->statefd);
	*p = (struct paths){ .runfd = -1, .statefd = -1 };
}

const char *paths_base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

char *paths_unit_log(const struct paths *p, const char *name)
{
	return xasprintf("%s/%s.log", p->statedir, name);
}

/* ", or set VAR to a directory of your own" when VAR is known. */
static const char *or_set(const char *var, char b[96])
{
	if (!var)
		return "";
	snprintf(b, 96, ", or set %s to a directory of your own", var);
	return b;
}

/* Whether AT (status ST), a directory on the way to DIR, lets another user
 * replace what is below it: owned by someone other than us and root, or
 * writable by group or others without the sticky bit (/tmp is sticky:
 * there nobody but its owner can rename or remove an entry).  Returns 0,
 * or -1 with *ERR. */
static int check_above(const struct stat *st, const char *at, const char *dir,
                       const char *var, char **err)
{
	char b[96];
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		*err = xasprintf("%s is below %s, which belongs to uid %u: that user "
		                 "could replace it; refusing to use it; %s%s to a "
		                 "directory of your own", dir, at, (unsigned)st->st_uid,
		                 var ? "set " : "move it", var ? var : "");
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		*err = xasprintf("%s is below %s, which group or others can write to "
		                 "(mode %03o, not sticky): they could replace it; run "
		                 "chmod go-w %s%s", dir, at,
		                 (unsigned)(st->st_mode & 0777), at, or_set(var, b));
		return -1;
	}
	return 0;
}

static char *not_yours(const char *dir, uid_t uid, const char *var)
{
	char b[96];
	return xasprintf("%s belongs to uid %u, not to you (uid %u): refusing to "
	                 "keep tend's files there; have it removed%s", dir,
	                 (unsigned)uid, (unsigned)geteuid(), or_set(var, b));
}

/* The directory FD (DIR) must be ours and closed to everyone else. */
static int check_dir(int fd, const char *dir, const char *var, char **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*err = xasprintf("cannot check directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*err = xasprintf("%s is not a directory; remove it and try again", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		*err = not_yours(dir, st.st_uid, var);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*err = xasprintf("%s is writable by group or others (mode %03o): they "
		                 "could replace tend's files; run chmod 700 %s", dir,
		                 (unsigned)(st.st_mode & 0777), dir);
		return -1;
	}
	if (st.st_mode & 077) {
		*err = xasprintf("%s is open to others (mode %03o); run chmod 700 %s",
		                 dir, (unsigned)(st.st_mode & 0777), dir);
		return -1;
	}
	return 0;
}

/* --- the walk from / to a directory ---
 *
 * Every component of the way is looked at without following it
 * (fstatat(AT_SYMLINK_NOFOLLOW)) and entered with openat(O_NOFOLLOW) from
 * the directory reached before it, starting at /: what is checked is what
 * is entered.  Each directory entered passes check_above; a missing one is
 * made (mkdirat 0700) in the directory just checked; a symbolic link is
 * followed (its target walked the same way, from / when absolute) only
 * when it cannot be another user's choice (paths_link_safe). */

#define WALK_LINKS_MAX 40   /* links followed on one walk, as the kernel's */
#define WALK_RACES_MAX 8    /* an entry that changed between look and open */

struct walk {
	const char *dir, *var;  /* DIR as given, the variable that chose it */
	int fd;                 /* the directory reached (O_PATH), checked */
	char *real;             /* its real path */
	struct stat st;         /* its status */
};

/* Makes FD (a directory, real path REAL, both taken over) the one
 * reached, once it passed check_above.  Returns 0, or -1 with *ERR and
 * errno. */
static int walk_enter(struct walk *w, int fd, char *real, char **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		*err = xasprintf("cannot check %s, above %s: %s", real, w->dir,
		                 strerror(e));
		close(fd);
		free(real);
		errno = e;
		return -1;
	}
	if (check_above(&st, real, w->dir, w->var, err) < 0) {
		close(fd);
		free(real);
		errno = EPERM;
		return -1;
	}
	if (w->fd >= 0)
		close(w->fd);
	free(w->real);
	w->fd = fd;
	w->real = real;
	w->st = st;
	return 0;
}

static int walk_root(struct walk *w, char **err)
{
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*err = xasprintf("cannot open / on the way to %s: %s", w->dir,
		                 strerror(e));
		errno = e;
		return -1;
	}
	return walk_enter(w, fd, xstrdup("/"), err);
}

/* The real path of NAME in the directory reached (malloc'd). */
static char *walk_join(const struct walk *w, const char *name)
{
	return xasprintf("%s/%s", strcmp(w->real, "/") == 0 ? "" : w->real, name);
}

bool paths_link_safe(const struct stat *up, const struct stat *link, uid_t uid)
{
	if (!(up->st_mode & (S_IWGRP | S_IWOTH)))
		return true;   /* only its owner (us or root) makes entries there */
	return link->st_uid == uid || link->st_uid == 0;
}

/* *ERR = MSG, errno = E; returns -1. */
static int walk_fail(char **err, int e, char *msg)
{
	*err = msg;
	errno = e;
	return -1;
}

/* What a step of the walk did. */
enum {
	WALK_AGAIN,   /* look at the same component again (made just now,
	               * or changed meanwhile) */
	WALK_MOVED,   /* the walk moved into it */
	WALK_LINK,    /* a link that may be followed: its target in the step */
	WALK_DONE,    /* it was DIR, opened and checked: the step's fd */
};

struct step {
	bool create;    /* make what is missing */
	bool last;      /* nothing follows this component */
	int races;      /* looks at this component so far */
	char *target;   /* a link's target (malloc'd) */
	int fd;         /* the directory itself, once reached and checked */
};

/* FD, just opened, is DIR: checked, it becomes S->fd (WALK_DONE), or -1
 * with *ERR and errno. */
static int walk_last(struct walk *w, int fd, struct step *s, char **err)
{
	if (check_dir(fd, w->dir, w->var, err) < 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	s->fd = fd;
	return WALK_DONE;
}

/* NAME could not be looked at (errno E): a missing one is made, when S
 * says so, to be looked at again. */
static int walk_absent(struct walk *w, const char *name, int e,
                       struct step *s, char **err)
{
	const char *dir = w->dir;
	if (e != ENOENT)
		return walk_fail(err, e, xasprintf("cannot open directory %s: %s",
		                                   dir, strerror(e)));
	if (!s->create)
		return walk_fail(err, ENOENT, xasprintf("%s does not exist", dir));
	if (++s->races > WALK_RACES_MAX)   /* made, and gone again */
		return walk_fail(err, e, xasprintf("cannot create directory %s: %s",
		                                   dir, strerror(e)));
	if (mkdirat(w->fd, name, 0700) < 0 && errno != EEXIST) {
		e = errno;
		return walk_fail(err, e, xasprintf("cannot create directory %s: %s",
		                                   dir, strerror(e)));
	}
	return WALK_AGAIN;
}

/* The target of the link NAME (AT, for messages) into S->target. */
static int walk_readlink(struct walk *w, const char *name, const char *at,
                         struct step *s, char **err)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(w->fd, name, target, sizeof(target) - 1);
	if (n < 0) {
		int e = errno;
		return walk_fail(err, e, xasprintf("cannot read the link %s on the "
		                 "way to %s: %s", at, w->dir, strerror(e)));
	}
	target[n] = 0;
	s->target = xstrdup(target);
	return WALK_LINK;
}

/* NAME is a symbolic link (status ST): followed only on the way to DIR,
 * never as DIR itself, and only when it cannot be another user's
 * choice. */
static int walk_link(struct walk *w, const char *name, const struct stat *st,
                     struct step *s, char **err)
{
	const char *dir = w->dir;
	if (s->last)
		return walk_fail(err, ELOOP, xasprintf("%s is a symbolic link: tend "
		                 "keeps its files only in a real directory; remove "
		                 "the link (rm %s) and try again", dir, dir));
	char *at = walk_join(w, name);
	int r = -1;
	if (paths_link_safe(&w->st, st, geteuid())) {
		r = walk_readlink(w, name, at, s, err);
	} else {
		char b[96];
		walk_fail(err, EPERM, xasprintf("%s is refused: on the way to it, "
		          "%s is a symbolic link of uid %u in %s, which others "
		          "can write to (mode %o): that user chooses where it "
		          "leads; not following it; have the link removed%s",
		          dir, at, (unsigned)st->st_uid, w->real,
		          (unsigned)(w->st.st_mode & 07777), or_set(w->var, b)));
	}
	free(at);
	return r;
}

static int walk_not_dir(struct walk *w, struct step *s, char **err)
{
	if (s->last)
		return walk_fail(err, ENOTDIR, xasprintf("%s is not a directory; "
		                 "remove it and try again", w->dir));
	return walk_fail(err, ENOTDIR, xasprintf("cannot %s directory %s: %s",
	                 s->create ? "create" : "open", w->dir,
	                 strerror(ENOTDIR)));
}

/* The directory NAME (status ST) could not be opened (errno). */
static int walk_open_failed(struct walk *w, const char *name,
                            const struct stat *st, struct step *s, char **err)
{
	int e = errno;
	if ((e == ELOOP || e == ENOTDIR || e == ENOENT) &&
	    ++s->races <= WALK_RACES_MAX)
		return WALK_AGAIN;   /* replaced after it was looked at */
	if (e == EACCES && st->st_uid != geteuid()) {
		char *at = s->last ? NULL : walk_join(w, name);
		walk_fail(err, e, not_yours(at ? at : w->dir, st->st_uid, w->var));
		free(at);
		return -1;
	}
	return walk_fail(err, e, xasprintf("cannot open directory %s: %s",
	                                   w->dir, strerror(e)));
}

/* Enters the directory NAME (status ST), without following a link put
 * there meanwhile; the last one is DIR, checked as such. */
static int walk_into(struct walk *w, const char *name, const struct stat *st,
                     struct step *s, char **err)
{
	int flags = (s->last ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW |
	            O_CLOEXEC;
	int fd = openat(w->fd, name, flags);
	if (fd < 0)
		return walk_open_failed(w, name, st, s, err);
	if (s->last)
		return walk_last(w, fd, s, err);
	return walk_enter(w, fd, walk_join(w, name), err) < 0 ? -1 : WALK_MOVED;
}

/* One step of the walk: the component NAME (not "." nor ".."), looked at
 * without following it.  Returns a WALK_*, or -1 with *ERR and errno. */
static int walk_step(struct walk *w, const char *name, struct step *s,
                     char **err)
{
	struct stat st;
	if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return walk_absent(w, name, errno, s, err);
	if (S_ISLNK(st.st_mode))
		return walk_link(w, name, &st, s, err);
	if (!S_ISDIR(st.st_mode))
		return walk_not_dir(w, s, err);
	return walk_into(w, name, &st, s, err);
}

/* The components "", "." and "..": W stays, or moves to its parent.  The
 * last of them: the directory reached is DIR (WALK_DONE). */
static int walk_dots(struct walk *w, const char *name, struct step *s,
                     char **err)
{
	if (strcmp(name, "..") == 0) {
		int fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			return walk_fail(err, e, xasprintf("cannot open directory %s: %s",
			                                   w->dir, strerror(e)));
		}
		char *real = xstrdup(w->real);
		char *slash = strrchr(real, '/');
		slash[slash == real ? 1 : 0] = 0;
		if (walk_enter(w, fd, real, err) < 0)
			return -1;
	}
	if (!s->last)
		return WALK_MOVED;
	int fd = openat(w->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return walk_fail(err, e, xasprintf("cannot open directory %s: %s",
		                                   w->dir, strerror(e)));
	}
	return walk_last(w, fd, s, err);
}

/* The way still to go, from the directory reached. */
struct way {
	char *rest;         /* malloc'd */
	size_t pos, next;   /* the component looked at: from pos to next */
	int links;          /* links followed so far */
};

/* DIR as an absolute path (malloc'd), or NULL with *ERR and errno. */
static char *way_absolute(const char *dir, char **err)
{
	if (dir[0] == '/')
		return xstrdup(dir);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		int e = errno;
		walk_fail(err, e, xasprintf("cannot open directory %s: %s", dir,
		                            strerror(e)));
		return NULL;
	}
	return xasprintf("%s/%s", cwd, dir);
}

/* The next component of the way (malloc'd; "" for none before the end),
 * and whether it is the last one (S->last). */
static char *way_component(struct way *way, struct step *s)
{
	const char *r = way->rest;
	while (r[way->pos] == '/')
		way->pos++;
	size_t len = strcspn(r + way->pos, "/");
	way->next = way->pos + len;
	while (r[way->next] == '/')
		way->next++;
	s->last = r[way->next] == 0;
	return xasprintf("%.*s", (int)len, r + way->pos);
}

static bool is_dots(const char *name)
{
	return !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Walks the next component of the way: a WALK_*, or -1. */
static int walk_component(struct walk *w, struct way *way, struct step *s,
                          char **err)
{
	char *name = way_component(way, s);
	int r;
	if (is_dots(name)) {
		r = walk_dots(w, name, s, err);
		way->pos = way->next;
	} else {
		r = walk_step(w, name, s, err);
		if (r == WALK_MOVED || r == WALK_LINK)
			s->races = 0;   /* counted per component */
		if (r == WALK_MOVED)
			way->pos = way->next;
	}
	free(name);
	return r;
}

/* The link just met (S->target): the rest of the way now starts with its
 * target, from / when it is absolute. */
static int walk_follow(struct walk *w, struct way *way, struct step *s,
                       char **err)
{
	int r;
	if (++way->links > WALK_LINKS_MAX) {
		r = walk_fail(err, ELOOP, xasprintf("cannot open directory %s: %s",
		              w->dir, strerror(ELOOP)));
	} else {
		char *more = xasprintf("%s/%s", s->target, way->rest + way->next);
		free(way->rest);
		way->rest = more;
		way->pos = 0;
		r = s->target[0] == '/' ? walk_root(w, err) : WALK_LINK;
	}
	free(s->target);
	s->target = NULL;
	return r;
}

int paths_open_dir(const char *dir, bool create, const char *var, char **err)
{
	*err = NULL;
	struct way way = { .rest = way_absolute(dir, err) };
	if (!way.rest)
		return -1;
	struct walk w = { .dir = dir, .var = var, .fd = -1 };
	struct step s = { .create = create, .fd = -1 };
	int r = walk_root(&w, err);
	while (r >= 0 && r != WALK_DONE) {
		r = walk_component(&w, &way, &s, err);
		if (r == WALK_LINK)
			r = walk_follow(&w, &way, &s, err);
	}
	int e = errno;
	free(way.rest);
	free(w.real);
	if (w.fd >= 0)
		close(w.fd);
	errno = e;
	return r == WALK_DONE ? s.fd : -1;
}

int paths_mkdir(const char *dir, char **err)
{
	int fd = paths_open_dir(dir, true, NULL, err);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int paths_open_run(struct paths *p, bool create, char **err)
{
	if (p->runfd < 0)
		p->runfd = paths_open_dir(p->rundir, create, "XDG_RUNTIME_DIR", err);
	return p->runfd < 0 ? -1 : 0;
}

int paths_open_state(struct paths *p, bool create, char **err)
{
	if (p->statefd < 0)
		p->statefd = paths_open_dir(p->statedir, create, "XDG_STATE_HOME", err);
	return p->statefd < 0 ? -1 : 0;
}

socklen_t paths_sock_addr(const struct paths *p, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s",
	                 p->runfd, paths_base(p->sock));
	if (p->runfd < 0 || n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		errno = p->runfd < 0 ? EBADF : ENAMETOOLONG;
		return (socklen_t)-1;
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
}

socklen_t paths_sockaddr(const char *path, struct sockaddr_un *sa, int *dirfd)
{
	*dirfd = -1;
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, len + 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	/* Too long for sun_path: name it through an open fd of its directory. */
	char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		errno = ENAMETOOLONG;
		return (socklen_t)-1;
	}
	*slash = 0;
	int fd = open(*copy ? copy : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		free(copy);
		return (socklen_t)-1;
	}
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s",
	                 fd, slash + 1);
	free(copy);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		close(fd);
		errno = ENAMETOOLONG;
		return (socklen_t)-1;
	}
	*dirfd = fd;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
}

int paths_lock(struct paths *p, pid_t *holder)
{
	*holder = -1;
	char *err = NULL;
	if (paths_open_run(p, false, &err) < 0) {
		int e = errno;
		free(err);
		errno = e;
		return -1;
	}
	int fd = openat(p->runfd, paths_base(p->lock),
	                O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		*holder = 0;
		if (e == EACCES || e == EAGAIN) {
			struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
				*holder = q.l_pid;
		} else {
			*holder = -1;
		}
		close(fd);
		errno = e;
		return -1;
	}
	char b[32];
	int n = snprintf(b, sizeof(b), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, b, (size_t)n, 0) < 0)
		errline("cannot write %s: %s", p->lock, strerror(errno));
	return fd;
}

int paths_clear_socket(const char *path, const struct sockaddr_un *sa,
                       socklen_t salen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	/* Whoever listens there answers a connect of its own type; another
	 * type says EPROTOTYPE, which is as good as an answer. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int r = connect(fd, (const struct sockaddr *)sa, salen);
	int e = errno;
	close(fd);
	if (r == 0 || e == EPROTOTYPE || e == EAGAIN || e == EINPROGRESS) {
		errno = EADDRINUSE;  /* somebody listens there */
		return -1;
	}
	if (e != ECONNREFUSED) {
		errno = e;
		return -1;
	}
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}
