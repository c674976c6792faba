/* mcp — the JSON-RPC multiplexer behind stdio = mcp: many MCP clients, one
 * server process, each client believing it has the server to itself.
 *
 * Pure logic on lines (one JSON-RPC message each, without the newline):
 * no descriptors, no loop.  The caller feeds it what clients and the server
 * say, and tells it when the server process comes and goes; it answers
 * through the ops.  docs/mcp.md is the contract, rule by rule.
 *
 *   client request   id -> tend id (a number; progress token -> the same
 *                    number); the response gets the client's bytes back
 *   initialize       tend initializes each server process once itself,
 *                    with the protocol version its clients asked for;
 *                    clients are answered from that result (cached)
 *   lists            tools/list... answered from the cache when it can
 *   ping (of a client that initialized), setLevel, subscribe counting:
 *                    answered by tend
 *   server request   -> one capable client, ids mapped both ways
 *   server down      in-flight requests fail; clients stay; the next
 *                    process is initialized again (subscriptions, level)
 *
 * MCP 2026-07-28 (stateless; docs/mcp-2026.md):
 *   server/discover, requests with _meta: forwarded as any request
 *   initialize refused -> tend asks server/discover; answered: the server
 *                    is of the stateless era only, and every request goes
 *                    to it (initialize, ping, setLevel... included)
 *   subscriptions/listen  one stream per client at the server (tend's id
 *                    is its subscription id there); what is tagged with
 *                    it goes to that client alone; opened again after a
 *                    restart; not in flight
 *
 * Messages that arrive before the server is initialized wait in a queue
 * (at most MCP_QUEUE_MAX; a client's are dropped when it goes). */
#ifndef TEND_MCP_H
#define TEND_MCP_H

#include <stdbool.h>
#include <stddef.h>

#define MCP_QUEUE_MAX 1000
#define MCP_CLIENT_IN_FLIGHT_MAX 10000
#define MCP_CLIENT_LISTEN_MAX 100   /* subscriptions/listen streams a client */
#define MCP_PROTOCOL "2025-11-25"
/* The stateless revision (no initialize; version in each request's _meta). */
#define MCP_PROTOCOL_STATELESS "2026-07-28"
#define MCP_CACHE_ITEM_MAX ((size_t)4 << 20)   /* a list result kept */

/* The client capabilities tend can route (server requests go to a client
 * that declared them). */
#define MCP_CAP_ROOTS 1u
#define MCP_CAP_SAMPLING 2u
#define MCP_CAP_ELICITATION 4u
#define MCP_CAPS_ALL 7u

struct mcp;
struct mcp_client;
/* What a server answered, kept across its processes (and across
 * multiplexers of the same server, protocol version and sharing key): its
 * initialize result, and the first pages of tools/list, prompts/list,
 * resources/list and resources/templates/list.  A new client is answered
 * from it without a round trip, also while the server (re)starts (the
 * server is then warmed: ops.warm).  A list_changed from the server drops
 * that list, which tend asks for again at once; a new process is asked
 * again for every list a client ever asked for, and clients are sent
 * list_changed when it differs from the cache (or the initialize result
 * does); a list_changed it sends meanwhile is not passed on.  Requests of
 * MCP 2026-07-28 are not cached. */
struct mcp_cache;
struct mcp_cache *mcp_cache_new(void);
void mcp_cache_free(struct mcp_cache *k);

struct mcp_ops {
	void *ctx;
	/* A line for client DATA (as given to mcp_client_add). */
	void (*to_client)(void *ctx, void *data, const char *line, size_t len);
	/* A line for the server. */
	void (*to_server)(void *ctx, const char *line, size_t len);
	/* Something for the service's log (one line, no newline). */
	void (*log)(void *ctx, const char *msg);
	/* The server is down and a message waits for it: start it.  Returns
	 * false when it cannot start (the waiting messages then fail). */
	bool (*wake)(void *ctx);
	/* Client DATA, whose input ended (mcp_client_close), has nothing
	 * pending any more: every request it sent is answered.  May be NULL.
	 * Called from inside mcp: the caller ends the client later, from its
	 * loop, never from this callback. */
	void (*settled)(void *ctx, void *data);
	/* A client was answered from the cache while the server is down: it
	 * will need the server soon (start it shortly, not while the client
	 * waits for its next answers).  May be NULL: wake is called. */
	void (*warm)(void *ctx);
};

/* VERSION: tend's own (clientInfo).  PROTOCOL and CAPS (MCP_CAP_*): the
 * protocol version and client capabilities tend's initialize gives the
 * server, those of the clients this multiplexer serves (NULL:
 * MCP_PROTOCOL).  CACHE: where results are kept (not owned; NULL: one of
 * its own). */
struct mcp *mcp_new(const struct mcp_ops *ops, const char *version,
                    const char *protocol, unsigned caps,
                    struct mcp_cache *cache);
void mcp_free(struct mcp *m);

/* A client joins (DATA is the caller's, passed back to to_client) or
 * leaves: its requests in flight are cancelled at the server, requests the
 * server sent it are answered with an error, its subscriptions and log
 * level released.  Nothing is sent to a client after it left. */
struct mcp_client *mcp_client_add(struct mcp *m, void *data);
void mcp_client_remove(struct mcp *m, struct mcp_client *c);

/* Client C's input ended: it sends nothing more, but the answers to what
 * it asked still go to it.  Requests of the server's at it are answered
 * with an error, and no new one is routed to it.  Returns true when
 * nothing of C's is pending (C can go now); else ops.settled tells when
 * that is so. */
bool mcp_client_close(struct mcp *m, struct mcp_client *c);

/* A line from client C / from the server. */
void mcp_client_line(struct mcp *m, struct mcp_client *c, const char *line,
                     size_t len);
void mcp_server_line(struct mcp *m, const char *line, size_t len);

/* A new server process can be written to: tend initializes it. */
void mcp_server_up(struct mcp *m);
/* From now on tend opens each server process with server/discover (MCP
 * 2026-07-28), and initializes it only when that is refused with no error
 * of the revision's (a server of the session era).  For an instance that
 * serves clients of 2026-07-28 alone: SDK servers of both eras fix a stdio
 * connection's era by its first request (docs/mcp-2026.md). */
void mcp_open_stateless(struct mcp *m);
/* The server process is gone (WHY: "crash, exit code 3"...): requests in
 * flight fail; waiting messages wait for the next process. */
void mcp_server_down(struct mcp *m, const char *why);
/* The server's stdin was closed (a stop): new messages wait for the next
 * process, answers to what is in flight still go out. */
void mcp_server_closing(struct mcp *m);
/* The server will not come back by itself (failed, removed): waiting
 * messages fail with WHY. */
void mcp_server_failed(struct mcp *m, const char *why);

/* What a client's first message LINE says of it, read once: whether it is
 * an initialize; the protocol version it speaks (malloc'd; NULL when it
 * names none): the protocolVersion an initialize asks for, the one in the
 * _meta of a request of the stateless era, MCP_PROTOCOL_STATELESS for a
 * server/discover without it; the capabilities an initialize declares
 * (MCP_CAPS_ALL for any other message). */
struct mcp_hello {
	bool initialize;
	char *version;
	unsigned caps;
};
void mcp_hello(const char *line, size_t len, struct mcp_hello *h);
/* Is VERSION of the stateless era (2026-07-28 and later: dates compare as
 * strings)? */
bool mcp_stateless(const char *version);
/* The roots of a roots/list response LINE as a set: their URIs sorted,
 * each once, joined by newlines ("" for none); malloc'd, or NULL when
 * LINE is no such result (an error, say). */
char *mcp_roots_set(const char *line, size_t len);
/* The result answer RESULT (JSON text) to the request LINE, or NULL when
 * LINE is no request (malloc'd). */
char *mcp_result_for(const char *line, size_t len, const char *result,
                     size_t rlen);
/* K's initialize result (NULL: none yet). */
const char *mcp_cache_init(const struct mcp_cache *k, size_t *len);

/* Client C was answered its initialize request LINE by the caller (from
 * the cache, before it was given to this multiplexer): it counts as
 * initialized with the capabilities LINE declares. */
void mcp_client_adopt(struct mcp *m, struct mcp_client *c, const char *line,
                      size_t len);

/* The error answer (code CODE, message "tend: WHY") to the request LINE,
 * for a client no multiplexer serves: malloc'd, or NULL when LINE is no
 * request. */
char *mcp_error_for(const char *line, size_t len, int code, const char *why);

/* Requests in flight at the server, of all clients / of C. */
size_t mcp_in_flight(const struct mcp *m);
size_t mcp_client_in_flight(const struct mcp_client *c);

#endif
