/* proxy — the clients of a service's held sockets (listen = ..., held.h).
 *
 * Socket activation (no backend): the sockets are the service's, passed at
 * every start as systemd passes them (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES, fds from 3; proxy_spawn_fds).  While the service is not
 * up tend watches them, and the first client that knocks starts it
 * (unit_wake); while it is up (or on its way: backoff, stopping) tend does
 * not look, the service accepts by itself and the kernel's backlog holds
 * whoever comes in between.  A failed service's clients are accepted and
 * closed at once (a clean close, not a hang); tend start clears that.
 *
 * Proxy (backend = ...): tend accepts every client itself.  With the
 * service running, it connects to the backend and relays both ways
 * (relay.h, zero-copy).  Otherwise the client is held, the service is
 * woken, and held clients are connected once the service is running
 * (ready = socket by default: the backend accepts).  A held client waits
 * at most the service's start-timeout (from its arrival); then, or when
 * the service fails, it gets a clean close and the unit's last exit says
 * why.  At most PROXY_HELD_MAX clients are held; beyond that tend stops
 * accepting and the backlog holds the rest.  Bytes relayed are the
 * service's activity (unit_activity, for idle-stop); a held or silent
 * connection is not.
 */
#ifndef TEND_PROXY_H
#define TEND_PROXY_H

#include <stddef.h>

#define PROXY_HELD_MAX 1024

struct unit;
struct held_set;
struct proxy;

/* For U (a service with listen); the fds come with proxy_sync, from
 * HELD (which must outlive the proxy). */
struct proxy *proxy_new(struct unit *u, const struct held_set *held);
/* Closes every client connection; the held sockets are not its own. */
void proxy_free(struct proxy *p);

/* Takes the listen addresses of U's settings (the next ones, after a
 * reload) and their fds from the supervisor's held set.  Call after every
 * held_sync, and before fds the held set closed could be reused. */
void proxy_sync(struct proxy *p);

/* Stops watching every listen fd (before a held_sync may close some). */
void proxy_unwatch(struct proxy *p);

/* U changed state: watch or not, connect or close held clients. */
void proxy_on_state(struct proxy *p);

/* Socket activation: the listen fds a start of the service gets at 3, 4,
 * ... (at most MAX), in the order of the file; 0 in proxy mode. */
size_t proxy_spawn_fds(const struct proxy *p, int *fds, size_t max);

/* Relayed connections open, and clients held. */
size_t proxy_open(const struct proxy *p);
size_t proxy_held(const struct proxy *p);

#endif
