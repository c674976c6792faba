#include "server.h"
#include "reply.h"
#include "list.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	struct server *srv;
	struct list_link link;   /* on srv->conns */
	int fd;
	struct loop_io io;
	struct loop_timer idle;
	struct loop_timer deadline;   /* the request begun in IN must end by then */
	uint64_t since;     /* when accepted, or its last request read or
	                       answered: the server's count of those */
	struct buf in;
	struct buf out;
	size_t out_off;
	int fds[SERVER_FDS_MAX];   /* received with SCM_RIGHTS, not yet taken */
	size_t nfds;
	bool pending;       /* a request is being answered */
	bool closing;       /* close once the output is out */
	bool eof;           /* the client is done sending (a half-close) */
	bool busy;          /* inside the request callback: do not free */
	bool dead;          /* dropped while busy: free when it returns */
	uint32_t events;    /* what io is registered for */
};

struct server {
	struct loop *lp;
	int fd;
	int reserve;        /* a spare descriptor for when there are none left */
	bool starved;       /* the last accept found no descriptor */
	server_starved_fn on_starved;
	struct loop_timer resume;   /* accepting again, with no spare to refuse */
	struct loop_timer check;    /* while starved: are descriptors back? */
	struct loop_io io;
	struct list conns;
	size_t nconns;
	uint64_t clock;     /* counts accepts, requests read and answered */
	server_req_fn on_req;
	server_gone_fn on_gone;
	void *ctx;
};

static void close_fds(struct conn *c)
{
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
}

static void conn_free(struct conn *c)
{
	struct server *s = c->srv;
	loop_io_del(s->lp, &c->io);
	loop_timer_stop(s->lp, &c->idle);
	loop_timer_stop(s->lp, &c->deadline);
	if (c->fd >= 0)
		close(c->fd);
	close_fds(c);
	list_remove(&s->conns, &c->link);
	s->nconns--;
	free(c->in.s);
	free(c->out.s);
	free(c);
}

/* Ends C now (the client left, or broke the rules). */
static void conn_drop(struct conn *c)
{
	if (c->dead)
		return;
	if (c->pending)
		c->srv->on_gone(c->srv->ctx, c);
	c->pending = false;
	if (c->busy)
		c->dead = true;
	else
		conn_free(c);
}

static void conn_watch(struct conn *c)
{
	uint32_t ev = 0;
	if (!c->pending && !c->closing && !c->eof)
		ev |= EPOLLIN;
	if (c->out.len > c->out_off)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		/* EPOLLHUP comes anyway: a client that leaves while its request
		 * is pending is noticed (a half-close is not leaving). */
		loop_io_mod(c->srv->lp, &c->io, ev);
		c->events = ev;
	}
}

static void on_idle(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct conn *c = t->data;
	if (!c->pending)
		conn_free(c);
}

static void arm_idle(struct conn *c)
{
	loop_timer_start(c->srv->lp, &c->idle, SERVER_IDLE_MS, on_idle, c);
}

/* Writes what it can; false when C was dropped. */
static bool flush_out(struct conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t w = send(c->fd, c->out.s + c->out_off, c->out.len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_drop(c);
			return false;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->closing) {
			conn_drop(c);
			return false;
		}
	}
	conn_watch(c);
	return true;
}

/* Queues LINE; false when C was dropped. */
static bool queue(struct conn *c, char *line)
{
	size_t n = strlen(line);
	if (c->out.len - c->out_off + n > SERVER_OUT_MAX) {
		free(line);
		conn_drop(c);
		return false;
	}
	if (c->out_off && c->out_off == c->out.len)
		c->out.len = c->out_off = 0;
	buf_add(&c->out, line, n);
	free(line);
	return flush_out(c);
}

static void handle_lines(struct conn *c);

/* More requests were waiting in C's buffer: the next share of them. */
static void on_more(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	handle_lines(t->data);
}

static void on_deadline(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct conn *c = t->data;
	if (c->pending || c->closing || !c->in.len)
		return;
	c->closing = true;
	queue(c, reply_err(2, "request not complete within %d s of its first "
	                       "byte (a request is one line, ending in a newline); "
	                       "closing the connection", SERVER_REQUEST_MS / 1000));
}

/* A request is being received when C's input holds part of a line and the
 * daemon reads: its deadline runs (from when reading found it begun).
 * Otherwise none does: waiting for an answer, or between requests, a
 * connection may stay as long as it likes (SERVER_IDLE_MS between). */
static void track_request(struct conn *c)
{
	if (c->in.len && !c->pending && !c->closing) {
		if (!c->deadline.armed)
			loop_timer_start(c->srv->lp, &c->deadline, SERVER_REQUEST_MS,
			                 on_deadline, c);
	} else {
		loop_timer_stop(c->srv->lp, &c->deadline);
	}
}

/* The next request line in C's input: its length *LEN and the bytes it
 * takes with its newline *USED.  False when there is none yet.  After the
 * client's half-close, what is left without a newline is the last one. */
static bool next_line(const struct conn *c, size_t *len, size_t *used)
{
	const char *nl = c->in.len ? memchr(c->in.s, '\n', c->in.len) : NULL;
	if (nl) {
		*len = (size_t)(nl - c->in.s);
		*used = *len + 1;
		return true;
	}
	if (c->eof && c->in.len && c->in.len <= CTL_LINE_MAX) {
		*len = *used = c->in.len;
		return true;
	}
	return false;
}

/* Handles the complete lines in C's input, SERVER_BATCH at most per loop
 * iteration (a client that pipelines thousands of requests gets them
 * answered a share at a time, between everyone else's); stops at a
 * pending request.  C may be gone afterwards. */
static void handle_lines(struct conn *c)
{
	for (int done = 0; !c->pending && !c->closing; done++) {
		if (done == SERVER_BATCH && c->in.len) {
			loop_timer_start(c->srv->lp, &c->idle, 0, on_more, c);
			break;
		}
		size_t len, used;
		if (!next_line(c, &len, &used)) {
			if (c->in.len > CTL_LINE_MAX) {
				c->closing = true;
				loop_timer_stop(c->srv->lp, &c->deadline);
				queue(c, reply_err(2, "request line longer than %d bytes; "
				                       "closing the connection", CTL_LINE_MAX));
				return;
			}
			if (c->eof) {
				/* Every request answered: what is queued still goes. */
				c->closing = true;
				loop_timer_stop(c->srv->lp, &c->deadline);
				flush_out(c);
				return;
			}
			break;
		}
		struct ctl_req req;
		char *err;
		int r = ctl_parse(c->in.s, len, &req, &err);
		memmove(c->in.s, c->in.s + used, c->in.len - used);
		c->in.len -= used;
		c->since = ++c->srv->clock;
		loop_timer_stop(c->srv->lp, &c->deadline);
		if (r < 0) {
			char *line = reply_err(2, "%s", err);
			free(err);
			if (!queue(c, line))
				return;
			continue;
		}
		c->pending = true;
		loop_timer_stop(c->srv->lp, &c->idle);
		conn_watch(c);
		c->busy = true;
		c->srv->on_req(c->srv->ctx, c, &req);
		ctl_req_free(&req);
		c->busy = false;
		if (c->dead) {
			conn_free(c);
			return;
		}
	}
	track_request(c);
	conn_watch(c);
}

/* recv that also takes descriptors passed with the bytes: kept for the
 * request that takes them (server_take), at most SERVER_FDS_MAX; any more
 * are closed at once. */
static ssize_t recv_fds(struct conn *c, char *chunk, size_t cap)
{
	return fd_recv(c->fd, chunk, cap, MSG_DONTWAIT, c->fds, &c->nfds,
	               SERVER_FDS_MAX, NULL);
}

static void on_conn(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	struct conn *c = io->data;
	if (events & EPOLLOUT && !flush_out(c))
		return;
	if (events & EPOLLIN && !c->pending && !c->closing) {
		char chunk[4096];
		ssize_t r = recv_fds(c, chunk, sizeof(chunk));
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r < 0) {
			conn_drop(c);   /* reset: nothing more can reach it */
			return;
		}
		if (r == 0) {
			/* The client is done sending: a request it began is
			 * complete (and answered); then what is queued goes. */
			c->eof = true;
			handle_lines(c);
			return;
		}
		/* Beyond CTL_LINE_MAX without a newline the connection is
		 * closed, so this holds at most that much plus one chunk. */
		buf_add(&c->in, chunk, (size_t)r);
		arm_idle(c);
		handle_lines(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		conn_drop(c);
}

void server_reply(struct conn *c, char *line)
{
	c->pending = false;
	c->since = ++c->srv->clock;
	if (!queue(c, line))
		return;
	arm_idle(c);
	/* Answered from inside the request callback: handle_lines goes on by
	 * itself.  Later: the next request may be waiting in the buffer. */
	if (!c->busy)
		handle_lines(c);
}

int server_take(struct conn *c, int *fds, size_t *nfds)
{
	struct server *s = c->srv;
	int fd = c->fd;
	memcpy(fds, c->fds, c->nfds * sizeof(int));
	*nfds = c->nfds;
	c->nfds = 0;
	loop_io_del(s->lp, &c->io);
	c->fd = -1;
	c->pending = false;
	if (c->busy)
		c->dead = true;
	else
		conn_free(c);
	return fd;
}

void server_refuse(int fd, char *line)
{
	ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	free(line);
	close(fd);
}

static void on_check(struct loop *lp, struct loop_timer *t);

static void set_starved(struct server *s, bool starved)
{
	if (s->starved == starved)
		return;
	s->starved = starved;
	if (starved)
		loop_timer_start(s->lp, &s->check, SERVER_STARVED_CHECK_MS, on_check, s);
	else
		loop_timer_stop(s->lp, &s->check);
	if (s->on_starved)
		s->on_starved(s->ctx, starved);
}

/* Could the daemon take a few connections now?  (Nobody may connect
 * for a while to tell.) */
static bool headroom(void)
{
	int fds[SERVER_HEADROOM];
	int n = 0;
	while (n < SERVER_HEADROOM &&
	       (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	bool ok = n == SERVER_HEADROOM;
	while (n > 0)
		close(fds[--n]);
	return ok;
}

static void on_check(struct loop *lp, struct loop_timer *t)
{
	struct server *s = t->data;
	if (headroom())
		set_starved(s, false);
	else
		loop_timer_start(lp, t, SERVER_STARVED_CHECK_MS, on_check, s);
}

static void on_accept(struct loop *lp, struct loop_io *io, uint32_t events);

/* Every slot is taken and a client knocks: the connection that has gone
 * longest without a request read (between requests, or one trickling in)
 * makes room, with an error line; one waiting for an answer never does.
 * False when every connection waits for an answer. */
static bool evict_one(struct server *s)
{
	struct conn *old = NULL;
	list_each(c, &s->conns, struct conn, link)
		if (!c->pending && !c->dead && (!old || c->since < old->since))
			old = c;
	if (!old)
		return false;
	char *line = reply_err(1, "connection closed: the daemon serves %d "
	                           "connections at most, a new one came, and this "
	                           "one had gone longest without a request; "
	                           "reconnect", SERVER_CONNS_MAX);
	/* Its last word goes as far as the socket takes it now: the slot is
	 * needed at once. */
	buf_add(&old->out, line, strlen(line));
	free(line);
	ssize_t w = send(old->fd, old->out.s + old->out_off,
	                 old->out.len - old->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	conn_drop(old);
	return true;
}

static void on_resume(struct loop *lp, struct loop_timer *t)
{
	struct server *s = t->data;
	if (s->reserve < 0)
		s->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	loop_io_mod(lp, &s->io, EPOLLIN);
	on_accept(lp, &s->io, EPOLLIN);
}

static void on_accept(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)events;
	struct server *s = io->data;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EMFILE && errno != ENFILE)
				return;
			set_starved(s, true);
			if (s->reserve < 0) {
				/* Not even a spare to refuse with: the backlog holds
				 * the clients a moment; no spinning meanwhile. */
				loop_io_mod(lp, &s->io, 0);
				loop_timer_start(lp, &s->resume, SERVER_PAUSE_MS, on_resume, s);
				return;
			}
			/* Out of descriptors: take the waiting client with the
			 * spare one and close it, so the loop does not spin. */
			close(s->reserve);
			fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				server_refuse(fd, reply_err(1, "the daemon is out of file "
				       "descriptors; try again later"));
			s->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		set_starved(s, false);
		struct ucred cr;
		socklen_t len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
		    cr.uid != geteuid()) {
			server_refuse(fd, reply_err(1, "connection refused: the daemon "
			       "serves uid %u only", (unsigned)geteuid()));
			continue;
		}
		if (s->nconns >= SERVER_CONNS_MAX && !evict_one(s)) {
			server_refuse(fd, reply_err(1, "too many connections to the daemon "
			       "(%d, each waiting for an answer); try again",
			       SERVER_CONNS_MAX));
			continue;
		}
		struct conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		c->since = ++s->clock;
		c->events = EPOLLIN;
		if (loop_io_add(lp, &c->io, fd, EPOLLIN, on_conn, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		list_push_front(&s->conns, &c->link);
		s->nconns++;
		arm_idle(c);
	}
}

struct server *server_new(struct loop *lp, int listen_fd, server_req_fn req,
                          server_gone_fn gone, void *ctx)
{
	struct server *s = xcalloc(1, sizeof(*s));
	s->lp = lp;
	s->fd = listen_fd;
	s->on_req = req;
	s->on_gone = gone;
	s->ctx = ctx;
	s->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (loop_io_add(lp, &s->io, listen_fd, EPOLLIN, on_accept, s) < 0) {
		int e = errno;
		server_free(s);
		errno = e;
		return NULL;
	}
	return s;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	while (!list_empty(&s->conns))
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): conn_free unlinks C from c->srv, which is S */
		conn_free(list_first(&s->conns, struct conn, link));
	loop_timer_stop(s->lp, &s->resume);
	loop_timer_stop(s->lp, &s->check);
	loop_io_del(s->lp, &s->io);
	close(s->fd);
	if (s->reserve >= 0)
		close(s->reserve);
	free(s);
}

void server_on_starved(struct server *s, server_starved_fn fn)
{
	s->on_starved = fn;
}

size_t server_nconns(const struct server *s)
{
	return s->nconns;
}
