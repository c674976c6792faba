/* held — the sockets the daemon holds for its services (listen = ...).
 *
 * They are bound once, when the daemon starts, and stay bound while the
 * daemon lives: across restarts and idle stops of their service and across
 * reloads that keep the address.  A client connecting while the service is
 * down waits in the kernel's backlog instead of being refused.
 *
 *  - tcp: SO_REUSEADDR (a restarted daemon can bind again while old
 *    connections linger in TIME_WAIT; a port somebody listens on stays
 *    taken), backlog SOMAXCONN;
 *  - unix: bound under a umask that gives 0600, then chmod to the unit's
 *    listen-mode; a stale socket file (nobody listens) is replaced, a live
 *    one or another kind of file is an error (paths_clear_socket).
 *
 * The set is keyed by the address as written; reload builds the next set
 * from the old one, keeping the fds of addresses that stay.
 */
#ifndef TEND_HELD_H
#define TEND_HELD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct held_sock {
	char *spec;     /* "tcp:127.0.0.1:8000", as in the file */
	char *unit;     /* the service it is for */
	int fd;         /* bound and listening, CLOEXEC, blocking */
	bool retired;   /* no unit of the file wants it; its unit's tree
	                   still stops (see held_sync) */
};

struct held_set {
	struct held_sock *v;
	size_t n;
};

/* Binds SPEC (an address addr.h parses) for listening; unix sockets get
 * MODE.  Returns the fd, or -1 with *WHY (malloc'd: what went wrong and
 * what to do, without the address). */
int held_bind(const char *spec, unsigned mode, char **why);

/* Makes *SET hold exactly the listen addresses of CFG's services: keeps
 * the fds of addresses it has, binds the new ones, closes those no longer
 * used, except those of a unit gone from CFG for which RETIRING (CTX, the
 * unit's name; NULL: none) says its tree still stops: they stay, retired,
 * until held_release, and a unit of CFG that wants one takes it over.
 * All or nothing: on an error nothing changed and *ERR (malloc'd) names
 * the service, the address and the file's line. */
int held_sync(struct held_set *set, const struct tend_config *cfg,
              bool (*retiring)(void *ctx, const char *unit), void *ctx,
              char **err);

/* Closes the retired addresses of UNIT (its tree is gone). */
void held_release(struct held_set *set, const char *unit);

/* The fd of SPEC, or -1. */
int held_fd(const struct held_set *set, const char *spec);

/* Closes everything; unix socket files are removed. */
void held_free(struct held_set *set);

#endif
