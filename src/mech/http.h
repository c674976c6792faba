/* http — an HTTP/1.1 server on tend's loop: libmicrohttpd, driven from
 * outside (MHD_USE_EPOLL, no thread of its own): MHD's epoll descriptor is
 * one watch of the loop, MHD_get_timeout one timer, and MHD_run runs from
 * the loop alone, never from inside a callback of MHD's.
 *
 * It serves a listening socket somebody else bound and holds (held.h): MHD
 * gets a dup of it, which it closes itself.
 *
 * A request is handed up once, whole: its method, path, headers and body
 * read (a body over the limit is not kept: http_too_big; one whose
 * Content-Length says so is answered before it is read).  The caller
 * answers it at once, or holds it (http_hold) and answers it later, with
 * a whole reply (http_reply) or with a stream
 * (http_stream: 200 text/event-stream, chunked) that it writes to later
 * (http_send) and ends (http_end).  While a stream has nothing to send its
 * connection is suspended (no busy loop); a write resumes it.
 *
 * Limits: CONN_MAX connections at once (the others are accepted and
 * closed at once, not left in the backlog), TIMEOUT_S of silence from a client that is sending (a body it
 * never finishes) closes its connection.  A suspended stream does not time
 * out, and its client going away is seen only at its next write: a caller
 * writes something to an idle stream now and then (an SSE comment).
 */
#ifndef TEND_HTTP_H
#define TEND_HTTP_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>

struct http;
struct http_req;

struct http_limits {
	size_t body_max;
	unsigned conn_max;
	unsigned timeout_s;
};

struct http_cb {
	void *ctx;
	/* R is complete (or its body too big): answer it now, with
	 * http_reply or http_stream. */
	void (*request)(void *ctx, struct http_req *r);
	/* Stream R (DATA: as given to http_stream) is over from the client's
	 * side (it went away, or the server stops): forget R.  Not called
	 * after http_end. */
	void (*closed)(void *ctx, struct http_req *r, void *data);
};

/* Serves FD (a listening socket; not taken: a dup is).  NULL with *WHY
 * (malloc'd) when MHD cannot start. */
struct http *http_new(struct loop *lp, int fd, const struct http_limits *lim,
                      const struct http_cb *cb, char **why);
/* Closes every connection (streams end without closed) and stops. */
void http_free(struct http *h);

const char *http_method(const struct http_req *r);
const char *http_path(const struct http_req *r);
/* A request header (case-insensitive name); NULL: none. */
const char *http_header(const struct http_req *r, const char *name);
const char *http_body(const struct http_req *r, size_t *len);
bool http_too_big(const struct http_req *r);

/* Instead of an answer now: R waits (its connection suspended) for
 * http_reply or http_stream, given later from anywhere; given before the
 * request callback returns (an answer tend has at once, as ping's), it
 * goes at once, without a suspend and resume (each a change of MHD's
 * epoll set and a run of its loop more).  DATA comes back
 * with cb->closed if it goes first (seen only once it is answered: a held
 * request's client going away is not noticed before). */
void http_hold(struct http_req *r, void *data);
/* Answers R: STATUS, CTYPE (NULL: no body) and BODY; HDRS: name, value,
 * ..., NULL (or NULL). */
void http_reply(struct http_req *r, unsigned status, const char *ctype,
                const char *body, size_t len, const char *const *hdrs);
/* Answers R with a stream (200, text/event-stream, no cache) and HDRS. */
void http_stream(struct http_req *r, const char *const *hdrs, void *data);
/* Queues bytes on stream R. */
void http_send(struct http_req *r, const char *data, size_t len);
size_t http_queued(const struct http_req *r);
/* Ends stream R once what is queued is sent; R is the caller's no more. */
void http_end(struct http_req *r);

/* Connections open now. */
unsigned http_conns(const struct http *h);

#endif
