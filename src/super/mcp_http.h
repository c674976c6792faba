/* mcp_http — MCP's Streamable HTTP transport (the session form of
 * 2025-03-26 ... 2025-11-25) on one listen = http:... address of a
 * stdio = mcp service: HTTP in, JSON-RPC lines out, and back.
 * docs/mcp-http.md is the contract.
 *
 * It knows HTTP and sessions, not the multiplexer: the caller (share.c)
 * makes each session a client of the service's multiplexer (ops.open) and
 * feeds it the session's messages (ops.line); what the multiplexer says to
 * that client comes back through mcp_http_to_client.
 *
 *   POST, initialize, no Mcp-Session-Id   a new session (its id: 128
 *                        random bits, hex), answered on an SSE stream
 *                        with the Mcp-Session-Id header
 *   POST of a request    the response as one JSON body when it comes first
 *                        and within MCP_HTTP_HOLD_MS; else an SSE stream
 *                        that carries it, after the server's requests and
 *                        notifications made while it is open
 *   POST of a notification or response    202, no body
 *   GET                  the session's own SSE stream (one at a time: 409):
 *                        what the server says while no POST stream is
 *                        open (kept, up to a bound, until one opens)
 *   GET, Last-Event-ID NUM-SEQ   resumes stream NUM of the session (its
 *                        GET stream or a POST's) after its event SEQ: the
 *                        events after it that are kept, then what comes
 *                        (410 when they are not kept or NUM is no stream).
 *                        Every SSE event has an id NUM-SEQ; a stream
 *                        opens with a priming event (its id alone); a
 *                        stream the client left stays, what comes for it
 *                        kept, until it is answered and MCP_HTTP_DONE_KEPT
 *                        more are
 *   DELETE               the session ends (ops.close); 404 from then on
 *   POST without a session, of MCP 2026-07-28 (MCP-Protocol-Version or
 *                        _meta says so)  a session of one request: its
 *                        headers checked against the body (HeaderMismatch:
 *                        MCP-Protocol-Version, Mcp-Method, Mcp-Name, and
 *                        a tools/call's Mcp-Param-* against the tool's
 *                        x-mcp-header arguments: mcp_params.h; a tool not
 *                        seen in a tools/list yet waits for tend's own
 *                        tools/list, asked once per list), its
 *                        _meta and version (-32602, -32022), each 400;
 *                        answered as any request (a JSON error answer has
 *                        the revision's status: 404 for -32601, 400 for
 *                        -32020..-32022), ended with its answer;
 *                        closing the stream ends it (its request cancelled)
 *
 * Checked first, in this order, each with one status and a JSON-RPC error
 * body that says what to do: the path (404), the Origin (403: absent,
 * localhost, 127.0.0.1 and [::1] with any port pass, and those of
 * http-origins), the bearer token of auth = token-file:PATH (401 with
 * WWW-Authenticate; compared in constant time, never logged), the body
 * size (413), the method (405), Accept (406), Content-Type (415), the
 * session (400 without one, 404 unknown or ended), the limits (503 for
 * http-sessions-max, 429 for http-streams-max).  A session without a
 * request and without an open stream for http-session-idle ends.
 *
 * Every open stream gets an SSE comment every MCP_HTTP_KEEPALIVE_MS: a
 * client that went away is seen, and its connection closed.  A comment is
 * not MCP traffic: it keeps nothing up (idle-stop).  Without an open
 * stream no timer of its runs (an idle daemon sleeps).
 */
#ifndef TEND_MCP_HTTP_H
#define TEND_MCP_HTTP_H

#include "config.h"
#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCP_HTTP_KEEPALIVE_MS 15000
/* A request whose response comes first, within this, is answered as one
 * JSON body; else its answer is an SSE stream. */
#define MCP_HTTP_HOLD_MS 100
#define MCP_HTTP_CONN_MAX 512        /* connections at once, per address */
/* tend's own tools/list (for the Mcp-Param-* of a tool it has not seen
 * listed yet): its pages at most, and how long requests wait for it */
#define MCP_HTTP_FETCH_PAGES 100
#define MCP_HTTP_FETCH_MS 10000
/* Resumption (GET with Last-Event-ID): each stream of a session keeps its
 * last events, this many and bytes at most, and a session its last
 * answered streams. */
#define MCP_HTTP_REPLAY_EVENTS 256
#define MCP_HTTP_REPLAY_BYTES ((size_t)256 * 1024)
#define MCP_HTTP_DONE_KEPT 8
/* and while what its streams keep is over this, its answered streams go,
 * oldest first */
#define MCP_HTTP_REPLAY_SESSION_BYTES ((size_t)1024 * 1024)

struct mcp_http;
struct mcp_http_sess;

struct mcp_http_ops {
	void *ctx;
	/* A new session HS: the caller's handle for it; NULL when it cannot
	 * be (*WHY, malloc'd). */
	void *(*open)(void *ctx, struct mcp_http_sess *hs, char **why);
	/* One JSON-RPC message of session SESS (one line). */
	void (*line)(void *ctx, void *sess, const char *line, size_t len);
	/* SESS ended from the HTTP side (DELETE, expired, the endpoint
	 * stops): the caller forgets it and HS. */
	void (*close)(void *ctx, void *sess);
	/* A line for the service's log (no newline).  May be NULL. */
	void (*log)(void *ctx, const char *msg);
};

/* Serves SPEC (an http: listen address of U) on FD, held by the caller;
 * settings from U.  NULL with *WHY. */
struct mcp_http *mcp_http_new(struct loop *lp, const char *spec, int fd,
                              const struct unit_config *u,
                              const struct mcp_http_ops *ops, char **why);
/* Its sessions end (ops.close for each), then it stops. */
void mcp_http_free(struct mcp_http *e);
const char *mcp_http_spec(const struct mcp_http *e);
int mcp_http_fd(const struct mcp_http *e);
/* New settings (a reload): the token, origins and limits. */
void mcp_http_configure(struct mcp_http *e, const struct unit_config *u);

/* The server's list of tools may have changed (its
 * notifications/tools/list_changed, a new server process): the Mcp-Param
 * declarations tend read from it are forgotten. */
void mcp_http_tools_changed(struct mcp_http *e);

/* A message of the multiplexer for session HS. */
void mcp_http_to_client(struct mcp_http_sess *hs, const char *line, size_t len);
/* The caller ended HS (its service went away): it is gone, 404 from now
 * on; its streams end.  No ops.close follows. */
void mcp_http_end(struct mcp_http_sess *hs);
/* What tend status shows of HS: its id's first 8 characters. */
const char *mcp_http_sess_id(const struct mcp_http_sess *hs);

size_t mcp_http_sessions(const struct mcp_http *e);

/* Is ORIGIN (an Origin header) allowed: http(s)://localhost, 127.0.0.1 or
 * [::1], with any port (or none), or one of ALLOWED (compared whole,
 * ignoring case)?  Pure. */
bool mcp_http_origin_ok(const char *origin, const struct strv *allowed);

/* Is ID an SSE event id as tend writes them, STREAM-SEQ (decimal, no sign
 * or leading zero, STREAM not 0)?  Then *STREAM and *SEQ.  Pure. */
bool mcp_http_event_id(const char *id, uint64_t *stream, uint64_t *seq);

#endif
