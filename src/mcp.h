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
 *   initialize       tend initializes each server process once itself;
 *                    clients are answered from that result
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

struct mcp;
struct mcp_client;

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
};

struct mcp *mcp_new(const struct mcp_ops *ops, const char *version);
void mcp_free(struct mcp *m);

/* A client joins (DATA is the caller's, passed back to to_client) or
 * leaves: its requests in flight are cancelled at the server, requests the
 * server sent it are answered with an error, its subscriptions and log
 * level released.  Nothing is sent to a client after it left. */
struct mcp_client *mcp_client_add(struct mcp *m, void *data);
void mcp_client_remove(struct mcp *m, struct mcp_client *c);

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

/* Requests in flight at the server, of all clients / of C. */
size_t mcp_in_flight(const struct mcp *m);
size_t mcp_client_in_flight(const struct mcp_client *c);

#endif
