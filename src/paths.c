#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
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

int paths_init(struct paths *p, const char *config, char **err)
{
	*p = (struct paths){ 0 };
	char real[PATH_MAX];
	if (!realpath(config, real)) {
		*err = xasprintf("%s: %s; give an existing file with -c FILE", config,
		                 strerror(errno));
		return -1;
	}
	p->config = xstrdup(real);
	char *label = dir_label(real);
	p->id = xasprintf("%s-%08llx", label,
	                  (unsigned long long)(fnv1a(real) & 0xffffffffull));
	free(label);
	p->rundir = paths_rundir();
	p->sock = xasprintf("%s/%s.sock", p->rundir, p->id);
	p->lock = xasprintf("%s/%s.lock", p->rundir, p->id);
	p->procs = xasprintf("%s/%s.procs", p->rundir, p->id);
	const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (st && *st == '/')
		p->statedir = xasprintf("%s/tend/%s", st, p->id);
	else
		p->statedir = xasprintf("%s/.local/state/tend/%s",
		                        home && *home ? home : "/tmp", p->id);
	p->events = xasprintf("%s/events.log", p->statedir);
	p->daemon_log = xasprintf("%s/daemon.log", p->statedir);
	return 0;
}

char *paths_rundir(void)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	if (run && *run == '/')
		return xasprintf("%s/tend", run);
	return xasprintf("/tmp/tend-%u", (unsigned)getuid());
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
	*p = (struct paths){ 0 };
}

char *paths_unit_log(const struct paths *p, const char *name)
{
	return xasprintf("%s/%s.log", p->statedir, name);
}

/* mkdir -p for the parents, 0700 for the last one. */
static int mkdirs(char *dir)
{
	for (char *s = strchr(dir + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		int r = mkdir(dir, 0700);
		*s = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int paths_mkdir(const char *dir, char **err)
{
	char *d = xstrdup(dir);
	int r = mkdirs(d);
	free(d);
	struct stat st;
	if (r < 0 || lstat(dir, &st) < 0) {
		*err = xasprintf("cannot create directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*err = xasprintf("%s is not a directory; remove it and try again", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		*err = xasprintf("%s belongs to uid %u, not to you (uid %u); refusing "
		                 "to use it", dir, (unsigned)st.st_uid,
		                 (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		*err = xasprintf("%s is open to others (mode %03o); run chmod 700 %s",
		                 dir, (unsigned)(st.st_mode & 0777), dir);
		return -1;
	}
	return 0;
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

int paths_lock(const struct paths *p, pid_t *holder)
{
	*holder = -1;
	int fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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
