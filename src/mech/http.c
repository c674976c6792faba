#include "http.h"
#include "list.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libmicrohttpd, loaded at the first http: listen (dlopen): a daemon
 * without one maps none of it, nor GnuTLS, which it links (about 500 KiB
 * of PSS per daemon, and per keeper, when linked into tend). */
#define MHD_LIB "libmicrohttpd.so.12"
#define MHD_FNS(X) X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_run) \
	X(MHD_get_timeout) X(MHD_get_daemon_info) X(MHD_lookup_connection_value) \
	X(MHD_create_response_from_buffer) X(MHD_create_response_from_callback) \
	X(MHD_add_response_header) X(MHD_queue_response) X(MHD_destroy_response) \
	X(MHD_suspend_connection) X(MHD_resume_connection)
/* NOLINTBEGIN(bugprone-macro-parentheses): F names a function */
static struct {
#define FIELD(f) __typeof__(&f) f;
	MHD_FNS(FIELD)
#undef FIELD
} mhd;
/* NOLINTEND(bugprone-macro-parentheses) */

/* 0, or -1 with *WHY. */
static int mhd_load(char **why)
{
	static bool loaded;
	if (loaded)
		return 0;
	void *h = dlopen(MHD_LIB, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*why = xasprintf("cannot load %s (%s); install libmicrohttpd12 "
		                 "(apt-get install libmicrohttpd12)", MHD_LIB, dlerror());
		return -1;
	}
/* NOLINTBEGIN(bugprone-macro-parentheses): F names a function */
#define LOAD(f) *(void **)&mhd.f = dlsym(h, #f); \
	if (!mhd.f) { \
		*why = xasprintf("%s has no %s; install libmicrohttpd12 0.9.75 or " \
		                 "later", MHD_LIB, #f); \
		return -1; \
	}
	MHD_FNS(LOAD)
#undef LOAD
/* NOLINTEND(bugprone-macro-parentheses) */
	loaded = true;   /* kept loaded: it may be needed again */
	return 0;
}

/* What libmicrohttpd keeps per connection for its request line, headers
 * and buffers (its default is 32 KiB): an MCP request's headers take about
 * 1 KiB (a large bearer token a few), its body is copied out as it comes
 * (struct http_req), so half the default leaves room and halves what an
 * idle keep-alive connection costs (33 -> 16 KiB of the daemon's memory). */
#define HTTP_CONN_MEMORY 16384

struct http {
	struct loop *lp;
	struct MHD_Daemon *d;
	struct http_cb cb;
	size_t body_max;
	unsigned conn_max;
	struct loop_io io;         /* MHD's epoll descriptor */
	struct loop_timer timer;   /* MHD_get_timeout */
	struct loop_timer kick;    /* MHD_run soon (after a resume) */
	struct list reqs;          /* every request not completed */
	unsigned conns;
	bool running;              /* inside MHD_run: never re-entered */
};

struct http_req {
	struct http *h;
	struct list_link link;
	struct MHD_Connection *c;
	char *method, *path;
	struct buf body;
	bool too_big;
	bool answered;
	/* held (http_hold): its answer, once given, waits for the access
	 * handler's next call (after the resume) */
	bool held;
	/* inside the access handler's call of cb.request: a held request is
	 * suspended only once that returns unanswered, and an answer given
	 * meanwhile is queued at once (no suspend, resume and second call) */
	bool handling;
	struct MHD_Response *pending;
	unsigned pending_status;
	/* a stream */
	bool stream, suspended, ended;
	struct buf out;            /* queued: out.s[off..len) */
	size_t off;
	void *data;
};

static void run_soon(struct http *h);

static void run(struct http *h);

static void on_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	run(t->data);
}

/* MHD does what is ready; its next deadline becomes the timer's. */
static void run(struct http *h)
{
	if (h->running)
		return;
	h->running = true;
	mhd.MHD_run(h->d);
	h->running = false;
	MHD_UNSIGNED_LONG_LONG ms = 0;
	if (mhd.MHD_get_timeout(h->d, &ms) == MHD_YES)
		loop_timer_start(h->lp, &h->timer, ms, on_timer, h);
	else
		loop_timer_stop(h->lp, &h->timer);
}

static void on_io(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	run(io->data);
}

static void on_kick(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	run(t->data);
}

static void run_soon(struct http *h)
{
	if (!h->kick.armed)
		loop_timer_start(h->lp, &h->kick, 0, on_kick, h);
}

/* --- requests --- */

static struct http_req *req_new(struct http *h, struct MHD_Connection *c,
                                const char *method, const char *url)
{
	struct http_req *r = xcalloc(1, sizeof(*r));
	r->h = h;
	r->c = c;
	r->method = xstrdup(method);
	r->path = xstrdup(url);
	list_push_back(&h->reqs, &r->link);
	return r;
}

static void req_free(struct http_req *r)
{
	list_remove(&r->h->reqs, &r->link);
	free(r->method);
	free(r->path);
	free(r->body.s);
	free(r->out.s);
	free(r);
}

static void resume(struct http_req *r)
{
	if (r->suspended && !r->held) {   /* held: until it is answered */
		r->suspended = false;
		mhd.MHD_resume_connection(r->c);
		run_soon(r->h);
	}
}

/* What a stream sends: what is queued; nothing: the connection waits
 * (suspended) for http_send or http_end. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct http_req *r = cls;
	size_t n = r->out.len - r->off;
	if (n) {
		if (n > max)
			n = max;
		memcpy(buf, r->out.s + r->off, n);
		r->off += n;
		if (r->off == r->out.len)
			r->out.len = r->off = 0;
		return (ssize_t)n;
	}
	if (r->ended)
		return MHD_CONTENT_READER_END_OF_STREAM;
	r->suspended = true;
	mhd.MHD_suspend_connection(r->c);
	return 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
	(void)version;
	struct http *h = cls;
	struct http_req *r = *con_cls;
	if (!r) {
		r = req_new(h, c, method, url);
		*con_cls = r;
		const char *cl = mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > h->body_max) {
			r->too_big = true;
			h->cb.request(h->cb.ctx, r);   /* answered before the body */
			return r->answered ? MHD_YES : MHD_NO;
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && r->body.len + *upload_size > h->body_max) {
			r->too_big = true;
			free(r->body.s);
			r->body = (struct buf){ 0 };
		}
		if (!r->too_big)
			buf_add(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->pending) {
		/* a held request, resumed with its answer */
		struct MHD_Response *resp = r->pending;
		r->pending = NULL;
		enum MHD_Result q = mhd.MHD_queue_response(c, r->pending_status, resp);
		mhd.MHD_destroy_response(resp);
		return q;
	}
	if (r->answered || r->held)
		return MHD_YES;
	r->handling = true;
	h->cb.request(h->cb.ctx, r);
	r->handling = false;
	if (r->held && !r->answered) {
		/* waits for its answer */
		r->suspended = true;
		mhd.MHD_suspend_connection(c);
	}
	return r->answered || r->held ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	struct http *h = cls;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if ((r->stream || r->held) && !r->ended && h->cb.closed)
		h->cb.closed(h->cb.ctx, r, r->data);
	if (r->pending)
		mhd.MHD_destroy_response(r->pending);
	req_free(r);
}

static void on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
                    enum MHD_ConnectionNotificationCode toe)
{
	(void)c;
	(void)socket_ctx;
	struct http *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		h->conns++;
	else if (h->conns)
		h->conns--;
}

/* Over the limit: closed at once (MHD's own limit would stop accepting,
 * and leave the rest waiting in the backlog). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr,
                                 socklen_t len)
{
	(void)addr;
	(void)len;
	struct http *h = cls;
	return h->conns < h->conn_max ? MHD_YES : MHD_NO;
}

/* MHD's own messages go nowhere: every answer says what it needs to. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

static void add_headers(struct MHD_Response *resp, const char *const *hdrs)
{
	for (size_t i = 0; hdrs && hdrs[i] && hdrs[i + 1]; i += 2)
		mhd.MHD_add_response_header(resp, hdrs[i], hdrs[i + 1]);
}

/* RESP for R: queued now (from the access handler), or, R being held,
 * when the handler runs again after the resume.  True when it will go. */
static bool queue(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
	if (!r->held)
		return mhd.MHD_queue_response(r->c, status, resp) == MHD_YES;
	if (r->handling) {
		/* answered before the handler returned: not suspended yet */
		r->held = false;
		return mhd.MHD_queue_response(r->c, status, resp) == MHD_YES;
	}
	r->held = false;
	r->pending = resp;
	r->pending_status = status;
	resume(r);
	return true;
}

void http_hold(struct http_req *r, void *data)
{
	r->held = true;
	r->data = data;
}

void http_reply(struct http_req *r, unsigned status, const char *ctype,
                const char *body, size_t len, const char *const *hdrs)
{
	struct MHD_Response *resp = mhd.MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);   /* copied, not written */
	if (!resp)
		return;
	if (ctype)
		mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	add_headers(resp, hdrs);
	if (queue(r, status, resp)) {
		r->answered = true;
		r->data = NULL;
	}
	if (r->pending != resp)   /* queued, or not: MHD keeps what it needs */
		mhd.MHD_destroy_response(resp);
}

void http_stream(struct http_req *r, const char *const *hdrs, void *data)
{
	struct MHD_Response *resp = mhd.MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, 16384, stream_read, r, NULL);
	if (!resp)
		return;
	mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/event-stream");
	mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	add_headers(resp, hdrs);
	if (queue(r, MHD_HTTP_OK, resp)) {
		r->answered = true;
		r->stream = true;
		r->data = data;
	}
	if (r->pending != resp)
		mhd.MHD_destroy_response(resp);
}

void http_send(struct http_req *r, const char *data, size_t len)
{
	if (r->ended)
		return;
	buf_add(&r->out, data, len);
	resume(r);
}

size_t http_queued(const struct http_req *r)
{
	return r->out.len - r->off;
}

void http_end(struct http_req *r)
{
	r->ended = true;
	r->data = NULL;
	resume(r);
}

const char *http_method(const struct http_req *r)
{
	return r->method;
}

const char *http_path(const struct http_req *r)
{
	return r->path;
}

const char *http_header(const struct http_req *r, const char *name)
{
	return mhd.MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

const char *http_body(const struct http_req *r, size_t *len)
{
	*len = r->body.len;
	return r->body.s ? r->body.s : "";
}

bool http_too_big(const struct http_req *r)
{
	return r->too_big;
}

unsigned http_conns(const struct http *h)
{
	return h->conns;
}

/* --- the server --- */

struct http *http_new(struct loop *lp, int fd, const struct http_limits *lim,
                      const struct http_cb *cb, char **why)
{
	if (mhd_load(why) < 0)
		return NULL;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		*why = xasprintf("cannot dup the listening socket (%s)", strerror(errno));
		return NULL;
	}
	fd_nonblock(dfd);
	struct http *h = xcalloc(1, sizeof(*h));
	h->lp = lp;
	h->cb = *cb;
	h->body_max = lim->body_max;
	h->conn_max = lim->conn_max;
	h->d = mhd.MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	                        MHD_USE_ERROR_LOG, 0, on_accept, h, on_access, h,
	                        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)dfd,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)lim->conn_max + 16,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)lim->timeout_s,
	                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	                        MHD_OPTION_NOTIFY_CONNECTION, on_conn, h,
	                        MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
	                        MHD_OPTION_END);
	if (!h->d) {
		*why = xstrdup("libmicrohttpd cannot serve the socket");
		close(dfd);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *di = mhd.MHD_get_daemon_info(h->d,
	                                                     MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || loop_io_add(lp, &h->io, di->epoll_fd, EPOLLIN, on_io, h) < 0) {
		*why = xstrdup("cannot watch libmicrohttpd's epoll descriptor");
		mhd.MHD_stop_daemon(h->d);
		free(h);
		return NULL;
	}
	run(h);
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	/* MHD must not be stopped with a connection suspended. */
	list_each(r, &h->reqs, struct http_req, link) {
		r->ended = true;
		r->data = NULL;
		if (r->suspended) {
			r->suspended = false;
			mhd.MHD_resume_connection(r->c);
		}
	}
	loop_io_del(h->lp, &h->io);
	loop_timer_stop(h->lp, &h->timer);
	loop_timer_stop(h->lp, &h->kick);
	mhd.MHD_stop_daemon(h->d);   /* completes every request: reqs empties */
	while (!list_empty(&h->reqs))
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): req_free unlinks R from H's list */
		req_free(list_first(&h->reqs, struct http_req, link));
	free(h);
}
