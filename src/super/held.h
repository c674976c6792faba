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
 *  - http: (http:HOST:PORT[/PATH], http:unix:PATH; MCP over HTTP, served
 *    by tend itself: mcp_http.h) bound as tcp: or unix:, and non-blocking
 *    (tend accepts on it itself).
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
 * the service, the address and the file's line.  What to keep, bind and
 * close is held_plan's; this applies it. */
int held_sync(struct held_set *set, const struct tend_config *cfg,
              bool (*retiring)(void *ctx, const char *unit), void *ctx,
              char **err);

/* What held_sync does, as a pure function of the addresses and units of
 * the set and of CFG (no socket is touched): the next set, step by step,
 * and which of the set's entries it keeps.  Every listen address of
 * CFG's units, in order, takes over the fd of the set's entry with that
 * address, or is bound anew; then every entry no unit of CFG wants, of a
 * unit gone from CFG for which RETIRING says its tree still stops, is
 * kept, retired; every other entry is closed.  An address used twice in
 * CFG ends the plan there: the steps before it are the ones taken before
 * the error is found, and nothing is closed. */
#define HELD_NEW ((size_t)-1)

struct held_step {
	const char *spec;                /* the address (CFG's or the set's) */
	const struct unit_config *u;     /* the unit of CFG that wants it;
	                                    NULL: retired */
	size_t from;                     /* the set's entry taken over, or
	                                    HELD_NEW: bound anew */
};

struct held_plan {
	struct held_step *v;             /* the next set, in order */
	size_t n;
	bool *keep;                      /* per entry of the set: in the next
	                                    set (the others are closed) */
	const struct unit_config *dup;   /* the unit with an address used
	                                    twice (dup_spec); NULL: none */
	const char *dup_spec;
};

void held_plan(const struct held_set *set, const struct tend_config *cfg,
               bool (*retiring)(void *ctx, const char *unit), void *ctx,
               struct held_plan *plan);
void held_plan_free(struct held_plan *plan);

/* Closes the retired addresses of UNIT (its tree is gone). */
void held_release(struct held_set *set, const char *unit);

/* The fd of SPEC, or -1. */
int held_fd(const struct held_set *set, const char *spec);

/* Closes everything; unix socket files are removed. */
void held_free(struct held_set *set);

#endif
