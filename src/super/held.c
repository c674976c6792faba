#include "held.h"
#include "addr.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char *bind_error(int e)
{
	switch (e) {
	case EADDRINUSE:
		return xstrdup("the address is in use (by another program, or "
		               "another tend daemon); stop that or choose another "
		               "address");
	case EACCES:
		return xstrdup("permission denied (a port below 1024 needs "
		               "privileges; or the directory is not writable)");
	case EADDRNOTAVAIL:
		return xstrdup("no interface of this machine has that address");
	case EEXIST:
		return xstrdup("a file that is not a socket is in the way; move "
		               "it or choose another path");
	default:
		return xasprintf("cannot bind: %s", strerror(e));
	}
}

/* The socket file of a unix: or http:unix: SPEC; NULL: none. */
static const char *unix_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "http:unix:", 10) == 0)
		return spec + 10;
	return NULL;
}

int held_bind(const char *spec, unsigned mode, char **why)
{
	struct addr a;
	char path[256];
	bool http = strncmp(spec, "http:", 5) == 0;
	if ((http ? addr_parse_http(spec, &a, path, sizeof(path), why)
	          : addr_parse(spec, &a, why)) < 0)
		return -1;
	struct sockaddr_un un;
	const struct sockaddr *sa = (const struct sockaddr *)&a.sa;
	socklen_t len = a.len;
	int dirfd = -1, e = 0;
	if (a.family == AF_UNIX) {
		len = paths_sockaddr(a.text, &un, &dirfd);
		if (len == (socklen_t)-1) {
			*why = bind_error(errno);
			return -1;
		}
		sa = (const struct sockaddr *)&un;
		if (paths_clear_socket(a.text, &un, len) < 0) {
			*why = bind_error(errno);
			goto out;
		}
	}
	int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = bind_error(errno);
		goto out;
	}
	int one = 1;
	/* Without it a port in TIME_WAIT (a daemon just stopped) would not
	 * bind: say why instead of "in use". */
	if (a.family != AF_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		*why = xasprintf("cannot set SO_REUSEADDR (%s)", strerror(errno));
		close(fd);
		goto out;
	}
	/* The socket file is made with MODE by bind itself: no chmod of the
	 * path afterwards, which would follow whatever is there by then. */
	mode_t old = umask(~(mode_t)mode & 0777);
	int r = bind(fd, sa, len);
	e = errno;
	umask(old);
	if (r == 0 && listen(fd, SOMAXCONN) < 0) {
		e = errno;
		if (a.family == AF_UNIX)
			unlink(a.text);
		r = -1;
	}
	if (r < 0) {
		*why = bind_error(e);
		close(fd);
		fd = -1;
	} else if (http) {
		fd_nonblock(fd);   /* tend accepts itself (mcp_http), to EAGAIN */
	}
	if (dirfd >= 0)
		close(dirfd);
	return fd;
out:
	if (dirfd >= 0)
		close(dirfd);
	return -1;
}

int held_fd(const struct held_set *set, const char *spec)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].spec, spec) == 0)
			return set->v[i].fd;
	return -1;
}

static void unbind(struct held_sock *h)
{
	/* A unix socket's file goes with it: only ours is there (we bound
	 * it, and bind refuses to replace a live one). */
	if (unix_path(h->spec))
		unlink(unix_path(h->spec));
	close(h->fd);
	free(h->spec);
	free(h->unit);
}

static bool planned(const struct held_plan *p, const char *spec)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].spec, spec) == 0)
			return true;
	return false;
}

/* The set's entry with SPEC not taken over yet, or HELD_NEW. */
static size_t take_over(const struct held_set *set, bool *kept, const char *spec)
{
	for (size_t k = 0; k < set->n; k++)
		if (!kept[k] && strcmp(set->v[k].spec, spec) == 0) {
			kept[k] = true;
			return k;
		}
	return HELD_NEW;
}

void held_plan(const struct held_set *set, const struct tend_config *cfg,
               bool (*retiring)(void *ctx, const char *unit), void *ctx,
               struct held_plan *p)
{
	size_t total = set->n;   /* room for those kept for a retiring unit */
	for (size_t i = 0; i < cfg->nunits; i++)
		total += cfg->units[i]->listen.n + cfg->units[i]->http.n;
	*p = (struct held_plan){ .v = xcalloc(total ? total : 1, sizeof(*p->v)) };
	bool *kept = xcalloc(set->n ? set->n : 1, sizeof(*kept));
	p->keep = kept;
	for (size_t i = 0; i < cfg->nunits; i++) {
		const struct unit_config *u = cfg->units[i];
		for (size_t j = 0; j < u->listen.n + u->http.n; j++) {
			const char *spec = j < u->listen.n ? u->listen.v[j]
			                   : u->http.v[j - u->listen.n];
			if (planned(p, spec)) {
				p->dup = u;
				p->dup_spec = spec;
				for (size_t k = 0; k < set->n; k++)
					kept[k] = true;   /* none closed */
				return;
			}
			p->v[p->n++] = (struct held_step){
				.spec = spec, .u = u, .from = take_over(set, kept, spec) };
		}
	}
	/* An address no unit of CFG wants, of a unit that is gone from CFG
	 * but whose tree still stops, stays held by that unit (retired): its
	 * processes hold it too, so it could not be bound again anyway, and
	 * a reload that adds the unit back takes it over. */
	for (size_t k = 0; k < set->n; k++)
		if (!kept[k] && retiring && !config_unit_named(cfg, set->v[k].unit) &&
		    retiring(ctx, set->v[k].unit)) {
			kept[k] = true;
			p->v[p->n++] = (struct held_step){ .spec = set->v[k].spec,
			                                   .from = k };
		}
}

void held_plan_free(struct held_plan *p)
{
	free(p->v);
	free(p->keep);
	*p = (struct held_plan){ 0 };
}

/* The fd of step S of the plan for SET: the set's, or bound now; -1 with
 * *ERR (malloc'd) when it cannot be bound. */
static int step_fd(const struct held_set *set, const struct held_step *s,
                   const char *path, char **err)
{
	const struct unit_config *u = s->u;
	if (s->from != HELD_NEW) {
		const char *sock = unix_path(s->spec);
		if (u && sock && fchmodat(AT_FDCWD, sock, u->listen_mode & 0777,
		                          AT_SYMLINK_NOFOLLOW) < 0)
			errline("%s: listen-mode %03o not applied to %s: %s; the "
			        "socket keeps its mode until it is bound anew",
			        u->name, u->listen_mode & 0777, sock,
			        strerror(errno));
		return set->v[s->from].fd;
	}
	char *why = NULL;
	int fd = held_bind(s->spec, u->listen_mode, &why);
	if (fd >= 0)
		return fd;
	int line = config_key_line(u, "listen");
	*err = line > 0
	       ? xasprintf("%s:%d: [service %s]: listen = %s: %s",
	                   path, line, u->name, s->spec, why)
	       : xasprintf("%s: [service %s]: listen = %s: %s",
	                   path, u->name, s->spec, why);
	free(why);
	return -1;
}

int held_sync(struct held_set *set, const struct tend_config *cfg,
              bool (*retiring)(void *ctx, const char *unit), void *ctx,
              char **err)
{
	struct held_plan p;
	held_plan(set, cfg, retiring, ctx, &p);
	struct held_set next = { .v = xcalloc(p.n ? p.n : 1, sizeof(*next.v)) };
	for (size_t i = 0; i < p.n; i++) {
		const struct held_step *s = &p.v[i];
		int fd = step_fd(set, s, cfg->path, err);
		if (fd < 0)
			goto fail;
		next.v[next.n++] = (struct held_sock){
			.spec = xstrdup(s->spec),
			.unit = xstrdup(s->u ? s->u->name : set->v[s->from].unit),
			.fd = fd, .retired = !s->u };
	}
	if (p.dup) {
		*err = xasprintf("%s: [service %s]: listen = %s is used twice; "
		                 "each address is one service's",
		                 cfg->path, p.dup->name, p.dup_spec);
		goto fail;
	}
	for (size_t k = 0; k < set->n; k++) {
		if (p.keep[k]) {
			free(set->v[k].spec);
			free(set->v[k].unit);
		} else {
			unbind(&set->v[k]);
		}
	}
	free(set->v);
	held_plan_free(&p);
	*set = next;
	return 0;
fail:
	/* Undo: close what was bound just now, keep what was there. */
	for (size_t i = 0; i < next.n; i++) {
		if (p.v[i].from != HELD_NEW) {
			free(next.v[i].spec);
			free(next.v[i].unit);
		} else {
			unbind(&next.v[i]);
		}
	}
	free(next.v);
	held_plan_free(&p);
	return -1;
}

void held_release(struct held_set *set, const char *unit)
{
	size_t k = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (set->v[i].retired && strcmp(set->v[i].unit, unit) == 0)
			unbind(&set->v[i]);
		else
			set->v[k++] = set->v[i];
	}
	set->n = k;
}

void held_free(struct held_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		unbind(&set->v[i]);
	free(set->v);
	*set = (struct held_set){ 0 };
}
