/* server — the daemon's end of the control socket: accepting, checking
 * the peer, reading request lines, writing replies.  It never blocks and
 * never lets one client cost the others anything:
 *
 *  - every connection is checked with SO_PEERCRED; another uid gets one
 *    error line and is closed;
 *  - a request line longer than CTL_LINE_MAX, or one that does not parse,
 *    gets an error reply (a too-long line also closes the connection);
 *  - one request at a time per connection: reading pauses until the reply
 *    is out (a --wait request may take long; others are not held up), and
 *    a client that pipelines many gets SERVER_BATCH answered per loop
 *    iteration, between everyone else's;
 *  - replies are queued and written as the client reads; a client that
 *    does not read while SERVER_OUT_MAX bytes pile up is dropped;
 *  - a request must be whole (its newline read) within SERVER_REQUEST_MS
 *    of the daemon finding its first byte, else the client gets an error
 *    line and is closed: a client trickling bytes cannot hold a slot;
 *    after the client's half-close, a last request without its newline
 *    is answered as it is;
 *  - a connection with nothing pending for SERVER_IDLE_MS is closed;
 *  - descriptors passed with SCM_RIGHTS are kept for server_take (tend
 *    connect's stdin and stdout), at most SERVER_FDS_MAX, else closed;
 *  - at most SERVER_CONNS_MAX connections: when all are taken, a new
 *    one takes the place of the one that has gone longest without a
 *    request read (it gets an error line), so the owner's CLI always gets
 *    through; a connection waiting for an answer is never taken, and when
 *    all are waiting the new one gets an error line and is closed (every
 *    connection is the daemon's owner's: SO_PEERCRED, above, so there is
 *    no one else to keep slots from); running out of descriptors never makes the loop spin: a
 *    client that cannot be given one is taken with a spare descriptor kept
 *    for that, told so and closed (without a spare, accepting pauses for
 *    SERVER_PAUSE_MS); the starved hook hears when that begins, and when
 *    a connection is accepted again or SERVER_HEADROOM descriptors could
 *    be had (checked every SERVER_STARVED_CHECK_MS while starved).
 */
#ifndef TEND_SERVER_H
#define TEND_SERVER_H

#include "ctl.h"
#include "loop.h"

#define SERVER_CONNS_MAX 256
#define SERVER_OUT_MAX (16u << 20)
#define SERVER_IDLE_MS 30000
#define SERVER_REQUEST_MS 5000  /* first byte of a request to its newline */
#define SERVER_FDS_MAX 2         /* descriptors a request may bring along */
#define SERVER_BATCH 4          /* requests of one client per loop iteration */
#define SERVER_PAUSE_MS 100     /* out of descriptors, without a spare */
#define SERVER_HEADROOM 4       /* free descriptors that end a shortage */
#define SERVER_STARVED_CHECK_MS 500

struct server;
struct conn;

/* A parsed request from C; answer it (now or later) with server_reply. */
typedef void (*server_req_fn)(void *ctx, struct conn *c, struct ctl_req *req);
/* C is going away with a request unanswered: forget it. */
typedef void (*server_gone_fn)(void *ctx, struct conn *c);

/* Connections are refused for want of descriptors (STARVED), or accepted
 * again. */
typedef void (*server_starved_fn)(void *ctx, bool starved);

/* Serves LISTEN_FD (a bound, listening, non-blocking socket; taken over).
 * Returns NULL/errno on failure. */
struct server *server_new(struct loop *lp, int listen_fd, server_req_fn req,
                          server_gone_fn gone, void *ctx);
/* Closes every connection (without calling GONE) and the socket. */
void server_free(struct server *s);

/* Sends LINE (a reply line, taken over) to C and reads its next request. */
void server_reply(struct conn *c, char *line);

/* Takes C out of the server (the answer to a connect request): returns
 * its socket, now the caller's, and the descriptors that came with the
 * client's bytes (SCM_RIGHTS; at most SERVER_FDS_MAX, into FDS; *NFDS of
 * them), also the caller's.  C is gone afterwards.  Descriptors a
 * connection received and nobody took are closed with it. */
int server_take(struct conn *c, int *fds, size_t *nfds);

/* Sends LINE (taken over) on FD as far as the socket takes it without
 * blocking, and closes FD: the last word to a client let go.  The client
 * reads it even when its request was never read (and its own write may
 * fail with EPIPE): on a Unix socket the line comes before the reset. */
void server_refuse(int fd, char *line);

/* FN (with the server's ctx) hears when the server starts refusing
 * connections for want of descriptors, and when it accepts one again. */
void server_on_starved(struct server *s, server_starved_fn fn);

/* Open connections now. */
size_t server_nconns(const struct server *s);

#endif
