#include "mcp_http.h"
#include "addr.h"
#include "http.h"
#include "jrpc.h"
#include "list.h"
#include "mcp.h"
#include "mcp_params.h"
#include "util.h"

#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mcp_http {
	struct loop *lp;
	char *spec;
	int fd;
	char path[256];
	struct http *h;
	struct mcp_http_ops ops;
	/* settings (mcp_http_configure) */
	char *token;                 /* NULL: none asked */
	struct strv origins;
	size_t body_max;
	unsigned sessions_max, streams_max;
	uint64_t idle_ms;
	struct list sessions;
	size_t nsessions;
	struct loop_timer keepalive;
	uint64_t nums;               /* streams numbered so far: an event id
	                                names a stream of one session only */
	/* Mcp-Param-*: the tools' declarations (mcp_params.h), and tend's
	 * own tools/list for a tools/call of a tool not seen yet */
	struct mcp_params *params;
	struct mcp_http_sess *fetch; /* its session; NULL: none */
	unsigned long fetch_gen;     /* the table's generation it began in */
	unsigned long asked_gen;     /* tend asked (once) in this one + 1 */
	unsigned fetch_pages;
	char *fetch_cursor;          /* the next page to ask; NULL: done */
	bool fetch_end;
	struct loop_timer fetch_step, fetch_limit;
	struct list waiting;         /* requests waiting for it */
	bool recheck;                /* post() of a request that waited */
};

/* A tools/call held until tend has the tool's declarations. */
struct waiter {
	struct list_link link;
	struct http_req *r;
};

/* One SSE event of a stream, kept for a client that resumes it. */
struct event {
	uint64_t seq;
	char *s;                     /* the whole event, id: line and all */
	size_t len;
};

/* An SSE stream of a session: a POST's (the answer to request ID) or the
 * session's GET stream (ID NULL).  It outlives its connection: the client
 * may resume it (GET with Last-Event-ID: NUM-SEQ) until it is answered
 * and a few more streams are answered after it. */
struct stream {
	struct mcp_http_sess *hs;
	struct list_link link;       /* on hs->streams (POST, in flight) or
	                                hs->done (answered) */
	struct http_req *r;          /* its connection; NULL: the client left
	                                it (or it ended) */
	char *id;
	size_t id_len;
	char *tok;                   /* its request's progress token (JSON) */
	size_t tok_len;
	bool tools_list;             /* a tools/list: its result is read */
	bool whole;                  /* asked without a cursor */
	bool held;                   /* a POST not answered yet (http_hold) */
	bool done;                   /* its response is its last event */
	struct loop_timer hold;      /* then it becomes an SSE stream */
	uint64_t num;                /* event ids are NUM-SEQ */
	uint64_t seq;                /* of its last event */
	uint64_t sent;               /* of the last event written to a connection */
	uint64_t gone;               /* events up to this one are not kept */
	struct event *ev;            /* the last events, oldest first */
	size_t nev, evcap, bytes;
};

struct mcp_http_sess {
	struct mcp_http *e;
	struct list_link link;
	char id[33];
	void *sess;                  /* the caller's */
	struct list streams;         /* POST streams in flight, oldest first
	                                (with a connection or not) */
	size_t nstreams;
	struct list done;            /* answered POST streams, kept to be
	                                resumed: MCP_HTTP_DONE_KEPT */
	size_t ndone;
	struct stream *get;          /* its GET stream (NULL: none yet) */
	size_t kept;                 /* bytes of events its streams keep */
	struct loop_timer idle;
	unsigned depth;              /* inside ops.line */
	bool ended;
	bool stateless;              /* one request of MCP 2026-07-28: no
	                                Mcp-Session-Id, it ends with it */
	bool own;                    /* tend's own tools/list (e->fetch) */
};

/* --- answers --- */

/* STATUS with a JSON-RPC error body: id JID (taken; NULL: null), CODE,
 * DATA (taken; or NULL) and the message "tend: WHY" (WHY says what to
 * do), WHY made of FMT and AP. */
static void vrefuse(struct http_req *r, unsigned status, const char *const *hdrs,
                    json_t *jid, int code, json_t *data, const char *fmt, va_list ap)
	__attribute__((format(printf, 7, 0)));
static void vrefuse(struct http_req *r, unsigned status, const char *const *hdrs,
                    json_t *jid, int code, json_t *data, const char *fmt, va_list ap)
{
	char *why = NULL;
	if (vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	char *msg = xasprintf("tend: %s", why ? why : "refused");
	json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
	if (data && err)
		json_object_set_new(err, "data", data);
	else
		json_decref(data);
	json_t *o = json_pack("{s:s, s:o, s:o}", "jsonrpc", "2.0",
	                      "id", jid ? jid : json_null(), "error", err);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	http_reply(r, status, "application/json", body ? body : "{}",
	           body ? strlen(body) : 2, hdrs);
	free(body);
	json_decref(o);
	free(msg);
	free(why);
}

/* STATUS with a JSON-RPC error body, id null (vrefuse). */
static void refuse(struct http_req *r, unsigned status, int code,
                   const char *const *hdrs, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void refuse(struct http_req *r, unsigned status, int code,
                   const char *const *hdrs, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(r, status, hdrs, NULL, code, NULL, fmt, ap);
	va_end(ap);
}

static void stream_open(struct stream *st);
static unsigned modern_status(const char *line, const struct jrpc_msg *m);

static void ev_drop_first(struct stream *st)
{
	st->gone = st->ev[0].seq;
	st->bytes -= st->ev[0].len;
	st->hs->kept -= st->ev[0].len;
	free(st->ev[0].s);
	memmove(st->ev, st->ev + 1, --st->nev * sizeof(*st->ev));
}

/* One more event of ST (LINE, a JSON-RPC message): written to its
 * connection if it has one, and kept (the last MCP_HTTP_REPLAY_EVENTS,
 * MCP_HTTP_REPLAY_BYTES at most) for a client that resumes the stream.
 * The stateless form has no resumption: nothing is kept. */
static void sess_trim(struct mcp_http_sess *hs);

static void stream_event(struct stream *st, const char *line, size_t len)
{
	bool keep = !st->hs->stateless;
	struct buf b = { 0 };
	st->seq++;
	if (keep)
		buf_addf(&b, "id: %" PRIu64 "-%" PRIu64 "\n", st->num, st->seq);
	buf_adds(&b, "event: message\ndata: ");
	buf_add(&b, line, len);
	buf_adds(&b, "\n\n");
	if (st->r && !st->held) {
		http_send(st->r, b.s, b.len);
		st->sent = st->seq;
	}
	if (!keep) {
		free(b.s);
		st->gone = st->seq;
		return;
	}
	if (st->nev == st->evcap) {
		st->evcap = st->evcap ? 2 * st->evcap : 4;
		st->ev = xrealloc(st->ev, st->evcap * sizeof(*st->ev));
	}
	st->ev[st->nev++] = (struct event){ st->seq, b.s, b.len };
	st->bytes += b.len;
	st->hs->kept += b.len;
	while (st->nev && (st->nev > MCP_HTTP_REPLAY_EVENTS ||
	                   st->bytes > MCP_HTTP_REPLAY_BYTES))
		ev_drop_first(st);
	sess_trim(st->hs);
}

static void stream_send(struct stream *st, const char *line, size_t len)
{
	stream_open(st);
	stream_event(st, line, len);
}

/* The priming event of a stream (re)opened at event FROM: its id alone,
 * the cursor a client resumes from (MCP 2025-11-25). */
static void stream_prime(struct stream *st, uint64_t from)
{
	if (st->hs->stateless)
		return;
	char ev[64];
	int n = snprintf(ev, sizeof(ev), "id: %" PRIu64 "-%" PRIu64 "\ndata:\n\n",
	                 st->num, from);
	http_send(st->r, ev, (size_t)n);
}

/* --- sessions --- */

/* The headers of HS's answers. */
static const char *const *sess_headers(const struct mcp_http_sess *hs)
{
	static const char *const none[] = { "X-Accel-Buffering", "no", NULL };
	static const char *h[] = { "Mcp-Session-Id", NULL, "X-Accel-Buffering",
	                           "no", NULL };
	if (hs->stateless)
		return none;
	h[1] = hs->id;   /* used at once: the loop has one thread */
	return h;
}

/* A held POST becomes an SSE stream: something comes before its answer,
 * or its answer is long in coming. */
static void stream_open(struct stream *st)
{
	if (!st->held)
		return;
	st->held = false;
	loop_timer_stop(st->hs->e->lp, &st->hold);
	http_stream(st->r, sess_headers(st->hs), st);
	stream_prime(st, st->seq);
}

static void on_hold(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	stream_open(t->data);
}

static void stream_free(struct stream *st)
{
	loop_timer_stop(st->hs->e->lp, &st->hold);
	for (size_t i = 0; i < st->nev; i++)
		free(st->ev[i].s);
	st->hs->kept -= st->bytes;
	free(st->ev);
	free(st->tok);
	free(st->id);
	free(st);
}

/* ST is no longer its session's (its GET stream or one of its POST
 * streams); the caller frees it. */
static void stream_unlink(struct stream *st)
{
	struct mcp_http_sess *hs = st->hs;
	if (st == hs->get) {
		hs->get = NULL;
	} else if (st->done) {
		list_remove(&hs->done, &st->link);
		hs->ndone--;
	} else {
		list_remove(&hs->streams, &st->link);
		hs->nstreams--;
	}
}

/* ST goes: its connection ends (what it holds is sent). */
static void stream_close(struct stream *st)
{
	if (st->r) {
		stream_open(st);
		http_end(st->r);
	}
	stream_unlink(st);
	stream_free(st);
}

/* ST's response is its last event: its connection ends once that is
 * sent; it is kept, with the last MCP_HTTP_DONE_KEPT answered streams of
 * its session, for a client that lost the end of it. */
static void stream_finish(struct stream *st)
{
	struct mcp_http_sess *hs = st->hs;
	if (st->r) {
		http_end(st->r);
		st->r = NULL;
	}
	list_remove(&hs->streams, &st->link);
	hs->nstreams--;
	st->done = true;
	list_push_back(&hs->done, &st->link);
	hs->ndone++;
	if (hs->stateless)
		stream_close(st);
	else
		sess_trim(hs);
}

/* HS keeps its last MCP_HTTP_DONE_KEPT answered streams, while all it
 * keeps is MCP_HTTP_REPLAY_SESSION_BYTES at most: the oldest go first. */
static void sess_trim(struct mcp_http_sess *hs)
{
	while (!list_empty(&hs->done) && (hs->ndone > MCP_HTTP_DONE_KEPT ||
	                                  hs->kept > MCP_HTTP_REPLAY_SESSION_BYTES))
		stream_close(list_first(&hs->done, struct stream, link));
}

/* ST gets connection R (a GET, or the POST of its request), from event
 * FROM on: the events after FROM that are kept are sent, then what comes.
 * An answered stream ends with them. */
static void stream_attach(struct stream *st, struct http_req *r, uint64_t from)
{
	st->r = r;
	http_stream(r, sess_headers(st->hs), st);
	stream_prime(st, from);
	for (size_t i = 0; i < st->nev; i++)
		if (st->ev[i].seq > from)
			http_send(r, st->ev[i].s, st->ev[i].len);
	st->sent = st->seq;
	if (st->done) {
		http_end(r);
		st->r = NULL;
	}
}

/* Has HS a stream with a connection (or a request held)? */
static bool sess_attached(const struct mcp_http_sess *hs)
{
	if (hs->get && hs->get->r)
		return true;
	list_each(st, &hs->streams, struct stream, link)
		if (st->r)
			return true;
	return false;
}

static struct stream *stream_new(struct mcp_http_sess *hs)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	st->hs = hs;
	st->num = ++hs->e->nums;
	return st;
}

static void sess_free(struct mcp_http_sess *hs)
{
	for (struct stream *st = list_first(&hs->streams, struct stream, link), *next;
	     st; st = next) {
		next = list_next(st, struct stream, link);
		stream_close(st);
	}
	while (!list_empty(&hs->done))
		stream_close(list_first(&hs->done, struct stream, link));
	if (hs->get)
		stream_close(hs->get);
	loop_timer_stop(hs->e->lp, &hs->idle);
	free(hs);
}

/* HS leaves the endpoint's table: 404 from now on. */
static void sess_unlink(struct mcp_http_sess *hs)
{
	if (hs->ended)
		return;
	hs->ended = true;
	list_remove(&hs->e->sessions, &hs->link);
	hs->e->nsessions--;
}

/* The HTTP side ends HS: the caller is told, then it goes. */
static void sess_close(struct mcp_http_sess *hs)
{
	struct mcp_http *e = hs->e;
	sess_unlink(hs);
	void *sess = hs->sess;
	hs->sess = NULL;
	if (sess)
		e->ops.close(e->ops.ctx, sess);
	if (!hs->depth)
		sess_free(hs);
}

static void on_idle(struct loop *lp, struct loop_timer *t)
{
	struct mcp_http_sess *hs = t->data;
	if (sess_attached(hs)) {
		loop_timer_start(lp, &hs->idle, hs->e->idle_ms, on_idle, hs);
		return;
	}
	sess_close(hs);
}

static void touch(struct mcp_http_sess *hs)
{
	loop_timer_start(hs->e->lp, &hs->idle, hs->e->idle_ms, on_idle, hs);
}

/* Hands LINE of HS to the caller (which may end HS meanwhile: false). */
static bool sess_line(struct mcp_http_sess *hs, const char *line, size_t len)
{
	hs->depth++;
	if (hs->sess)
		hs->e->ops.line(hs->e->ops.ctx, hs->sess, line, len);
	hs->depth--;
	if (hs->ended && !hs->depth) {
		sess_free(hs);
		return false;
	}
	return !hs->ended;
}

static bool same(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned char d = n != m;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i % (m ? m : 1)]);
	return d == 0;
}

static struct mcp_http_sess *sess_find(struct mcp_http *e, const char *id)
{
	list_each(hs, &e->sessions, struct mcp_http_sess, link)
		if (!hs->stateless && same(hs->id, id))
			return hs;
	return NULL;
}

/* --- Mcp-Param-*: the tools' declarations --- */

static void post(struct mcp_http *e, struct http_req *r, const char *sid);

/* MSG (taken) for the service's log. */
static void tell(struct mcp_http *e, char *msg)
{
	if (e->ops.log)
		e->ops.log(e->ops.ctx, msg);
	free(msg);
}

/* LINE answers a tools/list (WHOLE: asked without a cursor): its tools'
 * declarations are kept.  *CURSOR (if asked): its nextCursor (malloc'd;
 * NULL: none).  False when it is no list (an error). */
static bool tools_result(struct mcp_http *e, const char *line, size_t len,
                         bool whole, char **cursor)
{
	json_t *doc = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
	json_t *res = json_object_get(doc, "result");
	json_t *next = json_object_get(res, "nextCursor");
	bool ok = json_is_object(res);
	if (ok) {
		char *why = NULL;
		mcp_params_feed(e->params, res, whole && !json_is_string(next), &why);
		if (why)
			tell(e, xasprintf("Mcp-Param headers not checked for these "
			                  "tools (their x-mcp-header declarations are "
			                  "invalid, MCP 2026-07-28): %s", why));
		free(why);
	}
	if (cursor)
		*cursor = ok && json_is_string(next) ? xstrdup(json_string_value(next))
		          : NULL;
	json_decref(doc);
	return ok;
}

/* tend's own tools/list, of the page e->fetch_cursor (NULL: the first). */
static void fetch_send(struct mcp_http *e)
{
	json_t *params = json_pack("{s:{s:s, s:{}}}", "_meta",
	                           "io.modelcontextprotocol/protocolVersion",
	                           MCP_PROTOCOL_STATELESS,
	                           "io.modelcontextprotocol/clientCapabilities");
	if (e->fetch_cursor)
		json_object_set_new(params, "cursor", json_string(e->fetch_cursor));
	json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
	                        (json_int_t)e->fetch_pages + 1, "method",
	                        "tools/list", "params", params);
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	sess_line(e->fetch, line, strlen(line));
	free(line);
}

/* tend's tools/list is over (answered, failed, or too slow): the
 * requests that waited for it are checked with what is known now. */
static void fetch_finish(struct mcp_http *e)
{
	loop_timer_stop(e->lp, &e->fetch_step);
	loop_timer_stop(e->lp, &e->fetch_limit);
	struct mcp_http_sess *hs = e->fetch;
	e->fetch = NULL;
	if (hs)
		sess_close(hs);
	free(e->fetch_cursor);
	e->fetch_cursor = NULL;
	e->fetch_end = false;
	while (!list_empty(&e->waiting)) {
		struct waiter *w = list_first(&e->waiting, struct waiter, link);
		list_remove(&e->waiting, &w->link);
		struct http_req *r = w->r;
		free(w);
		e->recheck = true;
		post(e, r, NULL);
		e->recheck = false;
	}
}

static void on_fetch_step(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct mcp_http *e = t->data;
	if (e->fetch && !e->fetch_end && e->fetch_cursor)
		fetch_send(e);
	else
		fetch_finish(e);
}

static void on_fetch_limit(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct mcp_http *e = t->data;
	tell(e, xasprintf("the server did not answer tend's tools/list within "
	                  "%d s: a tools/call of a tool tend has no list for "
	                  "yet goes on without its Mcp-Param headers checked",
	                  MCP_HTTP_FETCH_MS / 1000));
	fetch_finish(e);
}

/* An answer to tend's own tools/list: the next page is asked, or the
 * waiting requests go on (from the loop: this is inside the multiplexer). */
static void fetch_line(struct mcp_http *e, const char *line, size_t len)
{
	struct jrpc_msg m;
	if (jrpc_scan(line, len, &m) != JRPC_RESPONSE)
		return;
	e->fetch_pages++;
	free(e->fetch_cursor);
	e->fetch_cursor = NULL;
	bool ok = tools_result(e, line, len, e->fetch_pages == 1, &e->fetch_cursor);
	if (ok && !e->fetch_cursor)
		mcp_params_done(e->params, e->fetch_gen);
	if (!e->fetch_cursor || e->fetch_pages >= MCP_HTTP_FETCH_PAGES)
		e->fetch_end = true;
	loop_timer_start(e->lp, &e->fetch_step, 0, on_fetch_step, e);
}

/* A tools/call R of a tool tend has no declarations for yet: it waits
 * for tend's own tools/list (asked once per list: until it changes). */
static void fetch_wait(struct mcp_http *e, struct http_req *r)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	w->r = r;
	http_hold(r, w);
	list_push_back(&e->waiting, &w->link);
	if (e->fetch)
		return;
	e->fetch_gen = mcp_params_gen(e->params);
	e->asked_gen = e->fetch_gen + 1;
	e->fetch_pages = 0;
	struct mcp_http_sess *hs = xcalloc(1, sizeof(*hs));
	hs->e = e;
	hs->stateless = hs->own = true;
	char *why = NULL;
	if (random_hex(hs->id, 16) < 0 ||
	    !(hs->sess = e->ops.open(e->ops.ctx, hs, &why))) {
		free(why);
		free(hs);
		e->fetch_end = true;
		loop_timer_start(e->lp, &e->fetch_step, 0, on_fetch_step, e);
		return;
	}
	list_push_back(&e->sessions, &hs->link);
	e->nsessions++;
	e->fetch = hs;
	loop_timer_start(e->lp, &e->fetch_limit, MCP_HTTP_FETCH_MS, on_fetch_limit, e);
	fetch_send(e);
}

void mcp_http_tools_changed(struct mcp_http *e)
{
	mcp_params_stale(e->params);
}

void mcp_http_to_client(struct mcp_http_sess *hs, const char *line, size_t len)
{
	if (hs->ended)
		return;
	if (hs->own) {
		fetch_line(hs->e, line, len);
		return;
	}
	struct jrpc_msg m;
	enum jrpc_kind k = jrpc_scan(line, len, &m);
	if (k == JRPC_RESPONSE) {
		/* on the stream of the request it answers; that stream ends */
		list_each(st, &hs->streams, struct stream, link)
			if (st->id_len == m.id.len &&
			    memcmp(st->id, line + m.id.off, m.id.len) == 0) {
				if (st->tools_list)
					tools_result(hs->e, line, len, st->whole, NULL);
				if (st->held) {
					/* nothing came before it: one JSON body; of the
					 * stateless form, its error's status */
					http_reply(st->r, hs->stateless ? modern_status(line, &m)
					           : 200, "application/json", line, len,
					           sess_headers(hs));
					stream_unlink(st);
					stream_free(st);
				} else {
					stream_event(st, line, len);
					stream_finish(st);
				}
				if (hs->stateless)   /* its one request is answered */
					loop_timer_start(hs->e->lp, &hs->idle, 0, on_idle, hs);
				return;
			}
		return;   /* no stream of the session asked it: nobody to tell */
	}
	/* Progress: on the stream of the request it is about */
	if (k == JRPC_NOTIFICATION && m.progress_token.len)
		list_each(st, &hs->streams, struct stream, link)
			if (st->tok_len == m.progress_token.len &&
			    memcmp(st->tok, line + m.progress_token.off, st->tok_len) == 0) {
				stream_send(st, line, len);
				return;
			}
	/* The server's other requests and notifications: on the newest POST
	 * stream with a connection (a request of the client is in flight:
	 * what the server asks now is for it), else on the GET stream (kept
	 * for it while it has no connection): never on a stream the client
	 * left, which may have nothing to do with them. */
	for (struct list_link *l = hs->streams.tail; l; l = l->prev) {
		struct stream *st = list_item(l, struct stream, link);
		if (st->r) {
			stream_send(st, line, len);
			return;
		}
	}
	if (!hs->get)
		hs->get = stream_new(hs);
	stream_event(hs->get, line, len);
}

void mcp_http_end(struct mcp_http_sess *hs)
{
	if (hs->own && hs->e->fetch == hs) {
		/* the service goes: the requests waiting for it go on */
		hs->e->fetch = NULL;
		hs->e->fetch_end = true;
		loop_timer_start(hs->e->lp, &hs->e->fetch_step, 0, on_fetch_step, hs->e);
	}
	hs->sess = NULL;
	sess_unlink(hs);
	if (!hs->depth)
		sess_free(hs);
}

const char *mcp_http_sess_id(const struct mcp_http_sess *hs)
{
	return hs->id;
}

/* --- requests --- */

/* Is V a protocol version of the session era?  A request of a session
 * with an MCP-Protocol-Version that is not (malformed, unknown, or of the
 * stateless era) is refused with 400, as the transport asks. */
static bool session_version(const char *v)
{
	static const char *const known[] = {
		"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25",
	};
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		if (strcmp(v, known[i]) == 0)
			return true;
	return false;
}

bool mcp_http_origin_ok(const char *origin, const struct strv *allowed)
{
	for (size_t i = 0; i < allowed->n; i++)
		if (strcasecmp(allowed->v[i], origin) == 0)
			return true;
	const char *p = strstr(origin, "://");
	if (!p || (p - origin != 4 && p - origin != 5) ||
	    strncasecmp(origin, p - origin == 4 ? "http" : "https", (size_t)(p - origin)) != 0)
		return false;
	p += 3;
	size_t n = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/");
	if (n > strlen(p) || (p[n] && p[n] != ':' && p[n] != '/'))
		return false;
	static const char *const local[] = { "localhost", "127.0.0.1", "[::1]" };
	for (size_t i = 0; i < ARRAY_LEN(local); i++)
		if (strlen(local[i]) == n && strncasecmp(p, local[i], n) == 0)
			return true;
	return false;
}

static bool auth_ok(const struct mcp_http *e, const char *h)
{
	if (!e->token)
		return true;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return same(h, e->token);
}

/* Does the Accept header A take TYPE? */
static bool accepts(const char *a, const char *type)
{
	return a && (strcasestr(a, type) || strstr(a, "*/*"));
}

static const char *const no_hdrs[] = { NULL };

static void keepalive_on(struct mcp_http *e);

/* A 400 of MCP 2026-07-28 for request R (ID: its id, JSON text): CODE,
 * DATA (taken; or NULL) and the message. */
static void refuse_modern(struct http_req *r, const char *id, size_t id_len,
                          int code, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void refuse_modern(struct http_req *r, const char *id, size_t id_len,
                          int code, json_t *data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(r, 400, no_hdrs, id ? json_loadb(id, id_len, JSON_DECODE_ANY, NULL) : NULL,
	        code, data, fmt, ap);
	va_end(ap);
}

/* MCP 2026-07-28: a message without a session.  Its headers must say
 * what its body does (HeaderMismatch, -32020, otherwise: MCP-Protocol-
 * Version, Mcp-Method, Mcp-Name), its _meta must have what the revision
 * requires (-32602), its version must be one tend serves (-32022,
 * UnsupportedProtocolVersion); each 400.  A client sends no responses.
 * True when R was refused. */
static const char *req_header(void *r, const char *name)
{
	return http_header(r, name);
}

enum { PASS, REFUSED, WAIT };

static int stateless_bad(struct mcp_http *e, struct http_req *r,
                         const char *body, size_t len,
                         const struct jrpc_msg *m, const char *pv,
                         const char *version)
{
	if (m->kind == JRPC_RESPONSE) {
		refuse(r, 400, -32600, no_hdrs, "a client of MCP 2026-07-28 sends "
		       "no responses (send the input as inputResponses of a retry)");
		return REFUSED;
	}
	if (m->kind != JRPC_REQUEST)
		return PASS;   /* the revision sets no header for notifications */
	const char *id = body + m->id.off;
	size_t idn = m->id.len;
	if (!version) {
		refuse_modern(r, id, idn, -32602, NULL, "Invalid params: the request "
		              "has no _meta io.modelcontextprotocol/protocolVersion, "
		              "which MCP 2026-07-28 requires");
		return REFUSED;
	}
	if (!pv || strcmp(pv, version) != 0) {
		refuse_modern(r, id, idn, -32020, NULL, "HeaderMismatch: MCP-Protocol-"
		              "Version %s does not match the request's _meta "
		              "protocolVersion %s; send the same in both",
		              pv ? pv : "(none)", version);
		return REFUSED;
	}
	if (strcmp(version, MCP_PROTOCOL_STATELESS) != 0) {
		json_t *data = json_pack("{s:[s,s,s,s,s], s:s}", "supported",
		                         MCP_PROTOCOL_STATELESS, "2025-11-25", "2025-06-18",
		                         "2025-03-26", "2024-11-05", "requested", version);
		refuse_modern(r, id, idn, -32022, data, "UnsupportedProtocolVersion: "
		              "%s is not served here; use %s (or initialize a session "
		              "of an earlier version)", version, MCP_PROTOCOL_STATELESS);
		return REFUSED;
	}
	json_t *doc = json_loadb(body, len, 0, NULL);
	json_t *params = json_object_get(doc, "params");
	json_t *meta = json_object_get(params, "_meta");
	int refused = REFUSED;
	if (!json_is_object(json_object_get(meta, "io.modelcontextprotocol/"
	                                          "clientCapabilities"))) {
		refuse_modern(r, id, idn, -32602, NULL, "Invalid params: the request "
		              "has no _meta io.modelcontextprotocol/clientCapabilities, "
		              "which MCP 2026-07-28 requires ({} for none)");
		goto out;
	}
	const char *mh = http_header(r, "Mcp-Method");
	if (!mh || !jrpc_str_eq(body, m->method, mh)) {
		refuse_modern(r, id, idn, -32020, NULL, "HeaderMismatch: Mcp-Method %s "
		              "does not match the request's method; send the method "
		              "in both", mh ? mh : "(none)");
		goto out;
	}
	/* Mcp-Name: params.name of tools/call and prompts/get, params.uri of
	 * resources/read */
	const char *field = jrpc_str_eq(body, m->method, "resources/read") ? "uri"
	                    : jrpc_str_eq(body, m->method, "tools/call") ||
	                      jrpc_str_eq(body, m->method, "prompts/get") ? "name" : NULL;
	json_t *want = field ? json_object_get(params, field) : NULL;
	if (json_is_string(want)) {
		const char *hn = http_header(r, "Mcp-Name");
		char *got = NULL;
		size_t gn = 0;
		if (!hn) {
			refuse_modern(r, id, idn, -32020, NULL, "HeaderMismatch: no Mcp-Name "
			              "header; send params.%s in it", field);
			goto out;
		}
		if (!mcp_params_header_value(hn, &got, &gn)) {
			refuse_modern(r, id, idn, -32020, NULL, "HeaderMismatch: Mcp-Name "
			              "has characters a header value cannot have, or bad "
			              "base64; send =?base64?...?= for such a value");
			goto out;
		}
		bool eq = gn == json_string_length(want) &&
		          memcmp(got, json_string_value(want), gn) == 0;
		free(got);
		if (!eq) {
			refuse_modern(r, id, idn, -32020, NULL, "HeaderMismatch: Mcp-Name "
			              "%s does not match params.%s; send the same in both",
			              hn, field);
			goto out;
		}
	}
	/* Mcp-Param-*: the x-mcp-header arguments of tools/call */
	if (json_is_string(want) && !strcmp(field, "name") &&
	    jrpc_str_eq(body, m->method, "tools/call")) {
		bool known;
		const struct mcp_tool *t = mcp_params_find(e->params, json_string_value(want),
		                                           json_string_length(want), &known);
		if (!t && !known && !e->recheck &&
		    (e->fetch || e->asked_gen != mcp_params_gen(e->params) + 1)) {
			refused = WAIT;
			goto out;
		}
		char *why = NULL;
		if (t && !mcp_params_check(t, json_object_get(params, "arguments"),
		                           req_header, r, &why)) {
			refuse_modern(r, id, idn, -32020, NULL, "HeaderMismatch: %s", why);
			free(why);
			goto out;
		}
	}
	refused = PASS;
out:
	json_decref(doc);
	return refused;
}

/* The HTTP status of a JSON-RPC response LINE of MCP 2026-07-28 answered
 * as one JSON body: 400 for the revision's own errors (HeaderMismatch,
 * MissingRequiredClientCapability, UnsupportedProtocolVersion), 404 for
 * an unknown method, else 200. */
static unsigned modern_status(const char *line, const struct jrpc_msg *m)
{
	if (!m->error.len)
		return 200;
	const char *p = memmem(line + m->error.off, m->error.len, "\"code\"", 6);
	if (!p)
		return 200;
	p += 6;
	while (*p == ' ' || *p == ':')
		p++;
	long code = strtol(p, NULL, 10);
	return code == -32601 ? 404 : code <= -32020 && code >= -32022 ? 400 : 200;
}

static void post(struct mcp_http *e, struct http_req *r, const char *sid)
{
	size_t len;
	const char *body0 = http_body(r, &len);
	const char *ct = http_header(r, "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		refuse(r, 415, -32600, no_hdrs, "a POST carries one JSON-RPC "
		       "message as Content-Type: application/json");
		return;
	}
	/* one line: JSON's whitespace may hold newlines, strings may not */
	char *body = xmalloc(len + 1);
	memcpy(body, body0, len);
	for (size_t i = 0; i < len; i++)
		if (body[i] == '\n' || body[i] == '\r')
			body[i] = ' ';
	body[len] = 0;
	struct jrpc_msg m;
	enum jrpc_kind k = jrpc_scan(body, len, &m);
	if (k == JRPC_BATCH || k == JRPC_PARSE_ERROR || k == JRPC_NOT_OBJECT ||
	    k == JRPC_INVALID) {
		refuse(r, 400, k == JRPC_PARSE_ERROR ? -32700 : -32600, no_hdrs,
		       "%s; POST one JSON-RPC message", k == JRPC_BATCH
		       ? "batches are not supported" : k == JRPC_PARSE_ERROR
		       ? "the body is not JSON" : "the body is no JSON-RPC message");
		free(body);
		return;
	}
	bool init = k == JRPC_REQUEST && jrpc_str_eq(body, m.method, "initialize");
	struct mcp_http_sess *hs = NULL;
	const char *pv = http_header(r, "MCP-Protocol-Version");
	struct mcp_hello hello;
	mcp_hello(body, len, &hello);
	bool stateless = !sid && !init && ((pv && mcp_stateless(pv)) ||
	                                   (hello.version && mcp_stateless(hello.version)));
	int bad = stateless ? stateless_bad(e, r, body, len, &m, pv, hello.version)
	          : PASS;
	if (bad != PASS) {
		if (bad == WAIT)
			fetch_wait(e, r);
		free(hello.version);
		free(body);
		return;
	}
	free(hello.version);
	if (sid) {
		hs = sess_find(e, sid);
		if (!hs) {
			refuse(r, 404, -32001, no_hdrs, "no session %s here (it ended "
			       "or expired); initialize a new one", sid);
			free(body);
			return;
		}
		if (pv && !session_version(pv)) {
			refuse(r, 400, -32600, no_hdrs, "MCP-Protocol-Version %s is no "
			       "version of a session (2024-11-05, 2025-03-26, 2025-06-18, "
			       "2025-11-25); send the one initialize agreed", pv);
			free(body);
			return;
		}
	} else if (!init && !stateless) {
		refuse(r, 400, -32600, no_hdrs, "no Mcp-Session-Id header; send "
		       "initialize first and the session id it returns (or, of "
		       "MCP 2026-07-28, MCP-Protocol-Version and _meta)");
		free(body);
		return;
	} else if (e->nsessions >= e->sessions_max) {
		refuse(r, 503, -32000, (const char *const[]){ "Retry-After", "5", NULL },
		       "this endpoint has http-sessions-max %u sessions open; end "
		       "one (DELETE) or raise http-sessions-max", e->sessions_max);
		free(body);
		return;
	} else {
		hs = xcalloc(1, sizeof(*hs));
		hs->e = e;
		hs->stateless = stateless;
		char *why = NULL;
		if (random_hex(hs->id, 16) < 0) {   /* 128 bits */
			refuse(r, 500, -32603, no_hdrs, "no random session id (%s)",
			       strerror(errno));
			free(hs);
			free(body);
			return;
		}
		hs->sess = e->ops.open(e->ops.ctx, hs, &why);
		if (!hs->sess) {
			refuse(r, 503, -32603, no_hdrs, "%s", why ? why : "no session");
			free(why);
			free(hs);
			free(body);
			return;
		}
		list_push_back(&e->sessions, &hs->link);
		e->nsessions++;
	}
	touch(hs);
	if (k != JRPC_REQUEST) {
		/* a notification or a response: accepted */
		http_reply(r, 202, NULL, "", 0, no_hdrs);
		if (sess_line(hs, body, len) && hs->stateless)
			loop_timer_start(e->lp, &hs->idle, 0, on_idle, hs);
		free(body);
		return;
	}
	if (hs->nstreams + (hs->get && hs->get->r) >= e->streams_max) {
		refuse(r, 429, -32000, no_hdrs, "session has http-streams-max %u "
		       "streams open; wait for answers, or raise http-streams-max",
		       e->streams_max);
		free(body);
		return;
	}
	struct stream *st = stream_new(hs);
	st->r = r;
	st->id_len = m.id.len;
	st->id = xmalloc(m.id.len + 1);
	memcpy(st->id, body + m.id.off, m.id.len);
	st->id[m.id.len] = 0;
	if (jrpc_str_eq(body, m.method, "tools/list")) {
		/* its result says the tools' x-mcp-header declarations */
		json_t *doc = json_loadb(body, len, 0, NULL);
		st->tools_list = true;
		st->whole = !json_object_get(json_object_get(doc, "params"), "cursor");
		json_decref(doc);
	}
	if (m.meta_progress.len) {
		st->tok_len = m.meta_progress.len;
		st->tok = xmalloc(st->tok_len + 1);
		memcpy(st->tok, body + m.meta_progress.off, st->tok_len);
		st->tok[st->tok_len] = 0;
	}
	/* held: answered as one JSON body when the response comes first and
	 * soon, else as an SSE stream (MCP_HTTP_HOLD_MS) */
	st->held = true;
	http_hold(r, st);
	loop_timer_start(e->lp, &st->hold, MCP_HTTP_HOLD_MS, on_hold, st);
	list_push_back(&hs->streams, &st->link);
	hs->nstreams++;
	keepalive_on(e);
	sess_line(hs, body, len);
	free(body);
}

/* One decimal number at *P, as tend writes them (no sign, no leading
 * zero, no overflow); *P moves past it. */
static bool event_num(const char **p, uint64_t *v)
{
	const char *s = *p;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	uint64_t n = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*p = s;
	return true;
}

bool mcp_http_event_id(const char *id, uint64_t *stream, uint64_t *seq)
{
	const char *p = id;
	return event_num(&p, stream) && *stream && *p++ == '-' &&
	       event_num(&p, seq) && !*p;
}

/* The stream of HS that event id ID (NUM-SEQ) is of, and SEQ; NULL when
 * there is none: malformed, of no stream of HS, or of events no longer
 * kept (those after SEQ are needed). */
static struct stream *resumed(struct mcp_http_sess *hs, const char *id,
                              uint64_t *seq)
{
	uint64_t num, n;
	if (!mcp_http_event_id(id, &num, &n))
		return NULL;
	struct stream *st = NULL;
	if (hs->get && hs->get->num == num)
		st = hs->get;
	list_each(s, &hs->streams, struct stream, link)
		if (s->num == num)
			st = s;
	list_each(s, &hs->done, struct stream, link)
		if (s->num == num)
			st = s;
	if (!st || st->held || n < st->gone || n > st->seq)
		return NULL;
	*seq = n;
	return st;
}

static void get(struct mcp_http *e, struct http_req *r, const char *sid)
{
	if (!accepts(http_header(r, "Accept"), "text/event-stream")) {
		refuse(r, 406, -32600, no_hdrs, "a GET opens an SSE stream: send "
		       "Accept: text/event-stream");
		return;
	}
	struct mcp_http_sess *hs = sid ? sess_find(e, sid) : NULL;
	if (!sid) {
		refuse(r, 400, -32600, no_hdrs, "no Mcp-Session-Id header; a GET "
		       "opens the stream of a session: initialize one first");
		return;
	}
	if (!hs) {
		refuse(r, 404, -32001, no_hdrs, "no session %s here (it ended or "
		       "expired); initialize a new one", sid);
		return;
	}
	touch(hs);
	const char *last = http_header(r, "Last-Event-ID");
	if (last) {
		/* resumption: the stream of that event, from after it */
		uint64_t from = 0;
		struct stream *st = resumed(hs, last, &from);
		if (!st) {
			refuse(r, 410, -32000, no_hdrs, "event %s is of no stream "
			       "this session keeps (a stream keeps its last %u events, "
			       "%zu KiB, and is kept until %u more requests are answered); "
			       "what followed it is lost: send the request again, or GET "
			       "without Last-Event-ID", last, MCP_HTTP_REPLAY_EVENTS,
			       MCP_HTTP_REPLAY_BYTES / 1024, MCP_HTTP_DONE_KEPT);
			return;
		}
		if (st->r) {
			/* the client left that connection: this one takes over */
			http_end(st->r);
			st->r = NULL;
		}
		stream_attach(st, r, from);
		keepalive_on(e);
		return;
	}
	if (hs->get && hs->get->r) {
		refuse(r, 409, -32000, no_hdrs, "session already has its GET "
		       "stream open; one at a time (or resume it with "
		       "Last-Event-ID)");
		return;
	}
	if (!hs->get)
		hs->get = stream_new(hs);
	/* what was said while it had no connection follows */
	stream_attach(hs->get, r, hs->get->sent);
	keepalive_on(e);
}

static void on_request(void *ctx, struct http_req *r)
{
	struct mcp_http *e = ctx;
	const char *method = http_method(r);
	if (strcmp(http_path(r), e->path) != 0) {
		refuse(r, 404, -32601, no_hdrs, "no MCP endpoint at %s; it is at %s",
		       http_path(r), e->path);
		return;
	}
	const char *origin = http_header(r, "Origin");
	if (origin && !mcp_http_origin_ok(origin, &e->origins)) {
		refuse(r, 403, -32000, no_hdrs, "Origin %s is not allowed (DNS "
		       "rebinding protection); add it to http-origins to allow it",
		       origin);
		return;
	}
	if (!auth_ok(e, http_header(r, "Authorization"))) {
		refuse(r, 401, -32000, (const char *const[]){ "WWW-Authenticate",
		       "Bearer realm=\"tend\"", NULL }, "this endpoint needs "
		       "Authorization: Bearer TOKEN (the token of its auth = "
		       "token-file:PATH)");
		return;
	}
	if (http_too_big(r)) {
		refuse(r, 413, -32600, no_hdrs, "the body is over http-body-max "
		       "(%zu bytes); send less or raise http-body-max", e->body_max);
		return;
	}
	const char *sid = http_header(r, "Mcp-Session-Id");
	if (strcmp(method, "POST") == 0) {
		const char *a = http_header(r, "Accept");
		if (!accepts(a, "application/json") || !accepts(a, "text/event-stream")) {
			refuse(r, 406, -32600, no_hdrs, "a POST must accept both "
			       "application/json and text/event-stream (Accept)");
			return;
		}
		post(e, r, sid);
	} else if (strcmp(method, "GET") == 0) {
		get(e, r, sid);
	} else if (strcmp(method, "DELETE") == 0) {
		struct mcp_http_sess *hs = sid ? sess_find(e, sid) : NULL;
		if (!hs) {
			refuse(r, sid ? 404 : 400, -32001, no_hdrs, sid ? "no session %s "
			       "here (it ended or expired)" : "%sno Mcp-Session-Id "
			       "header: which session to end?", sid ? sid : "");
			return;
		}
		http_reply(r, 200, NULL, "", 0, no_hdrs);
		sess_close(hs);
	} else {
		refuse(r, 405, -32601, (const char *const[]){ "Allow",
		       "GET, POST, DELETE", NULL }, "method %s is not one of "
		       "MCP's; use POST, GET or DELETE", method);
	}
}

static void on_closed(void *ctx, struct http_req *r, void *data)
{
	(void)ctx;
	(void)r;
	struct stream *st = data;
	struct mcp_http_sess *hs = st->hs;
	st->r = NULL;
	st->held = false;
	loop_timer_stop(hs->e->lp, &st->hold);
	if (hs->stateless) {
		stream_unlink(st);
		stream_free(st);
		sess_close(hs);   /* a closed stream cancels its request */
		return;
	}
	/* The client left this stream (a disconnection is not a
	 * cancellation): what comes for it is kept, for a GET with
	 * Last-Event-ID to resume it. */
	touch(hs);
}

static void on_keepalive(struct loop *lp, struct loop_timer *t)
{
	struct mcp_http *e = t->data;
	bool open = false;
	list_each(hs, &e->sessions, struct mcp_http_sess, link) {
		list_each(st, &hs->streams, struct stream, link) {
			if (!st->r)
				continue;
			open = true;
			if (!st->held && !http_queued(st->r))
				http_send(st->r, ":\n\n", 3);
		}
		if (hs->get && hs->get->r) {
			open = true;
			if (!http_queued(hs->get->r))
				http_send(hs->get->r, ":\n\n", 3);
		}
	}
	if (open)   /* without a stream, nothing wakes the daemon */
		loop_timer_start(lp, &e->keepalive, MCP_HTTP_KEEPALIVE_MS, on_keepalive, e);
}

/* A stream opened: the keep-alive runs. */
static void keepalive_on(struct mcp_http *e)
{
	if (!e->keepalive.armed)
		loop_timer_start(e->lp, &e->keepalive, MCP_HTTP_KEEPALIVE_MS,
		                 on_keepalive, e);
}

/* --- the endpoint --- */

void mcp_http_configure(struct mcp_http *e, const struct unit_config *u)
{
	if (e->token)
		explicit_bzero(e->token, strlen(e->token));
	free(e->token);
	e->token = u->auth_token ? xstrdup(u->auth_token) : NULL;
	strv_free(&e->origins);
	for (size_t i = 0; i < u->http_origins.n; i++)
		strv_push(&e->origins, xstrdup(u->http_origins.v[i]));
	e->body_max = (size_t)u->http_body_max;
	e->sessions_max = u->http_sessions_max;
	e->streams_max = u->http_streams_max;
	e->idle_ms = u->http_session_idle_ms;
}

struct mcp_http *mcp_http_new(struct loop *lp, const char *spec, int fd,
                              const struct unit_config *u,
                              const struct mcp_http_ops *ops, char **why)
{
	struct mcp_http *e = xcalloc(1, sizeof(*e));
	struct addr a;
	if (addr_parse_http(spec, &a, e->path, sizeof(e->path), why) < 0) {
		free(e);
		return NULL;
	}
	e->lp = lp;
	e->spec = xstrdup(spec);
	e->fd = fd;
	e->ops = *ops;
	e->params = mcp_params_new();
	mcp_http_configure(e, u);
	struct http_limits lim = { .body_max = e->body_max,
	                           .conn_max = MCP_HTTP_CONN_MAX,
	                           .timeout_s = (unsigned)((u->http_timeout_ms + 999) / 1000) };
	struct http_cb cb = { e, on_request, on_closed };
	e->h = http_new(lp, fd, &lim, &cb, why);
	if (!e->h) {
		mcp_http_free(e);
		return NULL;
	}
	return e;
}

void mcp_http_free(struct mcp_http *e)
{
	if (!e)
		return;
	for (struct mcp_http_sess *hs = list_first(&e->sessions, struct mcp_http_sess,
	                                           link), *next; hs; hs = next) {
		next = list_next(hs, struct mcp_http_sess, link);
		sess_close(hs);
	}
	http_free(e->h);   /* the waiting requests' connections too */
	while (!list_empty(&e->waiting)) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): list_remove below takes W off the list before it is freed */
		struct waiter *w = list_first(&e->waiting, struct waiter, link);
		list_remove(&e->waiting, &w->link);
		free(w);
	}
	loop_timer_stop(e->lp, &e->fetch_step);
	loop_timer_stop(e->lp, &e->fetch_limit);
	free(e->fetch_cursor);
	mcp_params_free(e->params);
	loop_timer_stop(e->lp, &e->keepalive);
	if (e->token)
		explicit_bzero(e->token, strlen(e->token));
	free(e->token);
	strv_free(&e->origins);
	free(e->spec);
	free(e);
}

const char *mcp_http_spec(const struct mcp_http *e)
{
	return e->spec;
}

int mcp_http_fd(const struct mcp_http *e)
{
	return e->fd;
}

size_t mcp_http_sessions(const struct mcp_http *e)
{
	return e->nsessions;
}
