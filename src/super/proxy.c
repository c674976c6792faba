#include "proxy.h"
#include "addr.h"
#include "held.h"
#include "list.h"
#include "paths.h"
#include "relay.h"
#include "unit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Clients accepted per listen socket per wakeup: one busy port does not
 * starve the rest of the loop. */
#define ACCEPT_BATCH 64
/* After running out of descriptors, accepting pauses this long. */
#define ACCEPT_PAUSE_MS 100

enum pc_state { PC_HELD, PC_CONNECTING, PC_RELAYING };

struct pclient {
	struct list_link link;  /* on the list of its state (list_of) */
	struct proxy *p;
	enum pc_state state;
	int cfd, bfd;           /* the client; the backend (-1 until connecting) */
	struct loop_io io;      /* held: cfd (a client that leaves); connecting: bfd */
	struct relay *relay;
	uint64_t deadline;      /* held: mono ms it is given up */
};

struct plist {
	struct list l;          /* oldest first */
	size_t n;
};

struct plisten {
	int fd;
	struct loop_io io;
	bool watched;
};

struct proxy {
	struct unit *u;
	struct loop *lp;
	const struct held_set *held_set;   /* the supervisor's */
	struct plisten *ls;
	size_t nls;
	bool proxying;          /* backend set: tend accepts */
	struct addr backend;
	struct plist held;      /* waiting for the service, oldest first */
	struct plist pairs;     /* connecting to the backend, and relaying */
	struct loop_timer expire;   /* the oldest held client's deadline */
	struct loop_timer resume;   /* accepting again after EMFILE */
	bool paused;
	uint64_t active_at;     /* loop_now of the last unit_activity */
};

static void watch_listen(struct proxy *p);

/* --- client connections --- */

static void plist_push(struct plist *l, struct pclient *c)
{
	list_push_back(&l->l, &c->link);
	l->n++;
}

static void plist_remove(struct plist *l, struct pclient *c)
{
	list_remove(&l->l, &c->link);
	l->n--;
}

/* The oldest client of L, NULL if none. */
static struct pclient *plist_first(struct plist *l)
{
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): a loop that frees the first client until none is left: client_free takes it off its list, list_of(c), which the analyzer does not see is L */
	return list_first(&l->l, struct pclient, link);
}

/* The list C is on. */
static struct plist *list_of(struct pclient *c)
{
	return c->state == PC_HELD ? &c->p->held : &c->p->pairs;
}

/* Closes FD with a FIN, not a reset: Linux resets a connection closed
 * with unread bytes, so what the client sent is read and dropped first
 * (as much as is there; it is not waited for). */
static void close_gently(int fd)
{
	char sink[4096];
	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	shutdown(fd, SHUT_WR);
	close(fd);
}

/* Closes C (a clean close: no RST, whatever it sent is dropped). */
static void client_free(struct pclient *c)
{
	struct proxy *p = c->p;
	plist_remove(list_of(c), c);
	loop_io_del(p->lp, &c->io);
	relay_free(c->relay);
	if (c->bfd >= 0)
		close(c->bfd);
	close_gently(c->cfd);
	free(c);
	if (p->held.n < PROXY_HELD_MAX && !p->paused)
		watch_listen(p);
}

static void on_moved(void *ctx, enum relay_dir dir, size_t n)
{
	(void)dir;
	(void)n;
	struct pclient *c = ctx;
	struct proxy *p = c->p;
	/* Once per millisecond of the loop's clock at most (idle-stop counts
	 * in milliseconds): no clock is read per message. */
	uint64_t now = loop_now(p->lp);
	if (now != p->active_at) {
		p->active_at = now;
		unit_activity(p->u);
	}
}

/* No Nagle on a TCP socket of the proxy: it forwards what it gets as it
 * gets it (the ends have coalesced already, or chose not to), and a
 * small write held back for the peer's delayed ACK is a 40 ms stall that
 * a direct connection would not have.  Not TCP (a unix socket): nothing
 * to do, and the call fails harmlessly. */
static void no_delay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void on_ended(void *ctx, enum relay_dir dir, int err)
{
	(void)dir;
	struct pclient *c = ctx;
	if (err || (relay_ended(c->relay, RELAY_AB) && relay_ended(c->relay, RELAY_BA)))
		client_free(c);
}

static void start_relay(struct pclient *c)
{
	struct proxy *p = c->p;
	loop_io_del(p->lp, &c->io);
	c->state = PC_RELAYING;
	no_delay(c->cfd);
	no_delay(c->bfd);
	const struct relay_cb cb = { on_moved, on_ended, c };
	c->relay = relay_new(p->lp, (struct relay_end){ c->cfd, c->cfd },
	                     (struct relay_end){ c->bfd, c->bfd }, 0, &cb);
	if (!c->relay)
		client_free(c);
}

static void on_backend(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	struct pclient *c = io->data;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		client_free(c);   /* the backend refused: nothing to relay to */
	else
		start_relay(c);
}

/* Moves a held client (or a new one) on to the backend. */
static void connect_backend(struct pclient *c)
{
	struct proxy *p = c->p;
	plist_remove(list_of(c), c);
	loop_io_del(p->lp, &c->io);
	c->state = PC_CONNECTING;
	plist_push(&p->pairs, c);
	const struct addr *a = &p->backend;
	struct sockaddr_un un;
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa;
	socklen_t len = a->len;
	int dirfd = -1;
	if (a->via_dir) {
		len = paths_sockaddr(a->text, &un, &dirfd);
		sa = (const struct sockaddr *)&un;
	}
	c->bfd = len == (socklen_t)-1 ? -1
	         : socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r = c->bfd >= 0 ? connect(c->bfd, sa, len) : -1;
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (r == 0)
		start_relay(c);
	else if (c->bfd >= 0 && (e == EINPROGRESS || e == EAGAIN) &&
	         loop_io_add(p->lp, &c->io, c->bfd, EPOLLOUT, on_backend, c) == 0)
		return;
	else
		client_free(c);
}

static void on_held_client(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	/* Only errors are watched (a reset): a client that sent its request
	 * and shut its side down is still waiting for the answer. */
	client_free(io->data);
}

static void on_expire(struct loop *lp, struct loop_timer *t);

static void arm_expire(struct proxy *p)
{
	struct pclient *first = plist_first(&p->held);
	if (!first) {
		loop_timer_stop(p->lp, &p->expire);
		return;
	}
	uint64_t now = loop_now(p->lp), due = first->deadline;
	loop_timer_start(p->lp, &p->expire, due > now ? due - now : 0, on_expire, p);
}

static void on_expire(struct loop *lp, struct loop_timer *t)
{
	struct proxy *p = t->data;
	uint64_t now = loop_now(lp);
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): client_free unlinks C from c->p, which is P */
	struct pclient *c;
	while ((c = plist_first(&p->held)) && c->deadline <= now)
		client_free(c);
	arm_expire(p);
}

/* A client comes in: held (for at most start-timeout) until the service
 * runs, or on to the backend at once when it does already. */
static void new_client(struct proxy *p, int cfd)
{
	struct unit *u = p->u;
	if (unit_state(u) != US_RUNNING && !unit_wake(u, "listen")) {
		close_gently(cfd);   /* failed: status says why */
		return;
	}
	struct pclient *c = xcalloc(1, sizeof(*c));
	*c = (struct pclient){ .p = p, .state = PC_HELD, .cfd = cfd, .bfd = -1 };
	uint64_t wait = unit_cfg(u)->start_timeout_ms;
	c->deadline = loop_now(p->lp) + (wait ? wait : UINT64_MAX / 2);
	plist_push(&p->held, c);
	if (unit_state(u) == US_RUNNING)
		connect_backend(c);
	else if (loop_io_add(p->lp, &c->io, cfd, 0, on_held_client, c) < 0)
		client_free(c);
	else if (plist_first(&p->held) == c)
		arm_expire(p);
}

/* --- the listen sockets --- */

static void on_resume(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct proxy *p = t->data;
	p->paused = false;
	watch_listen(p);
}

static void on_listen(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct proxy *p = io->data;
	struct unit *u = p->u;
	if (!p->proxying) {
		/* Socket activation: somebody knocks.  A failed service's
		 * clients are turned away, one by one, with a clean close. */
		if (unit_wake(u, "listen")) {
			watch_listen(p);
			return;
		}
		/* One per wakeup: the socket is blocking (it is the
		 * service's), and epoll tells of one client at least. */
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			close_gently(fd);
		return;
	}
	for (int i = 0; i < ACCEPT_BATCH && p->held.n < PROXY_HELD_MAX; i++) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			new_client(p, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of descriptors: the backlog holds the rest until
			 * some are free again; no spinning meanwhile. */
			p->paused = true;
			proxy_unwatch(p);
			loop_timer_start(lp, &p->resume, ACCEPT_PAUSE_MS, on_resume, p);
		}
		break;
	}
	watch_listen(p);
}

/* Should the listen sockets be watched now? */
static bool want_listen(const struct proxy *p)
{
	if (p->paused || unit_removed(p->u) || unit_host(p->u)->shutting_down)
		return false;
	if (p->proxying)
		return p->held.n < PROXY_HELD_MAX;
	/* Activation: only while the service is not up and not about to
	 * be; a failed one's clients are turned away. */
	switch (unit_state(p->u)) {
	case US_STOPPED:
	case US_IDLE:
	case US_FAILED:
		return true;
	default:
		return false;
	}
}

static void watch_listen(struct proxy *p)
{
	bool want = want_listen(p);
	for (size_t i = 0; i < p->nls; i++) {
		struct plisten *l = &p->ls[i];
		if (want && !l->watched)
			l->watched = loop_io_add(p->lp, &l->io, l->fd, EPOLLIN,
			                         on_listen, p) == 0;
		else if (!want && l->watched) {
			loop_io_del(p->lp, &l->io);
			l->watched = false;
		}
	}
}

void proxy_unwatch(struct proxy *p)
{
	for (size_t i = 0; i < p->nls; i++)
		if (p->ls[i].watched) {
			loop_io_del(p->lp, &p->ls[i].io);
			p->ls[i].watched = false;
		}
}

void proxy_sync(struct proxy *p)
{
	const struct unit_config *c = unit_cfg_next(p->u);
	const struct held_set *hs = p->held_set;
	proxy_unwatch(p);
	free(p->ls);
	p->ls = xcalloc(c->listen.n ? c->listen.n : 1, sizeof(*p->ls));
	p->nls = 0;
	for (size_t i = 0; i < c->listen.n; i++) {
		int fd = held_fd(hs, c->listen.v[i]);
		if (fd >= 0)
			p->ls[p->nls++] = (struct plisten){ .fd = fd };
	}
	char *why = NULL;
	p->proxying = c->backend && addr_parse(c->backend, &p->backend, &why) == 0;
	free(why);
	/* Proxy mode accepts itself: non-blocking.  Activation passes the
	 * socket on as systemd does: blocking, as the service expects.  A
	 * socket whose mode cannot be set (not on a descriptor the held set
	 * keeps open) is not watched: a blocking accept would stall the loop. */
	size_t kept = 0;
	for (size_t i = 0; i < p->nls; i++) {
		int fd = p->ls[i].fd, fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && fcntl(fd, F_SETFL, p->proxying ? fl | O_NONBLOCK
		                                            : fl & ~O_NONBLOCK) == 0)
			p->ls[kept++] = p->ls[i];
	}
	p->nls = kept;
	watch_listen(p);
}

void proxy_on_state(struct proxy *p)
{
	struct unit *u = p->u;
	if (unit_state(u) == US_RUNNING) {
		struct pclient *c;
		while ((c = plist_first(&p->held)))
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): the client leaves the held list, freed or not */
			connect_backend(c);
		arm_expire(p);
	} else if (unit_state(u) == US_FAILED || unit_removed(u) || unit_host(u)->shutting_down) {
		struct pclient *c;
		while ((c = plist_first(&p->held)))
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): client_free unlinks C from c->p, which is P */
			client_free(c);
		arm_expire(p);
	}
	watch_listen(p);
}

size_t proxy_spawn_fds(const struct proxy *p, int *fds, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; !p->proxying && i < p->nls && n < max; i++)
		fds[n++] = p->ls[i].fd;
	return n;
}

size_t proxy_open(const struct proxy *p)
{
	return p->pairs.n;
}

size_t proxy_held(const struct proxy *p)
{
	return p->held.n;
}

struct proxy *proxy_new(struct unit *u, const struct held_set *held)
{
	struct proxy *p = xcalloc(1, sizeof(*p));
	p->u = u;
	p->held_set = held;
	p->lp = unit_host(u)->loop;
	return p;
}

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	p->paused = true;   /* no re-watching while clients go */
	/* client_free unlinks C from c->p, which is P: */
	struct pclient *c;
	while ((c = plist_first(&p->held)))
		client_free(c);  /* NOLINT(clang-analyzer-unix.Malloc) */
	while ((c = plist_first(&p->pairs)))
		client_free(c);  /* NOLINT(clang-analyzer-unix.Malloc) */
	proxy_unwatch(p);
	loop_timer_stop(p->lp, &p->expire);
	loop_timer_stop(p->lp, &p->resume);
	free(p->ls);
	free(p);
}
