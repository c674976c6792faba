/* relay — moves bytes both ways between two endpoints, on the loop: the
 * TCP/unix proxy (client socket <-> backend socket), a tend connect session
 * in the daemon (session socket <-> the service's stdin and stdout pipes),
 * and tend connect itself (its stdin and stdout <-> the session socket).
 *
 * An endpoint is a pair of descriptors, RFD to read from and WFD to write
 * to: the same fd for a socket, two for a process's stdout/stdin or for
 * fds 0 and 1.  Direction RELAY_AB reads a.rfd and writes b.wfd; RELAY_BA
 * reads b.rfd and writes a.wfd.  Either fd of an endpoint may be -1: that
 * direction does not exist (it counts as ended from the start, without a
 * callback).
 *
 * The relay borrows the fds: it never closes them and never changes their
 * flags.  They must be non-blocking, except regular files and the like
 * that epoll refuses (EPERM): those count as always ready.  Each distinct
 * fd is registered with the loop once (a socket serving both directions
 * gets one watch with the union of what both need); from relay_new until
 * relay_free (or that direction's end, see below) nobody else may watch
 * it.  EPOLLERR and EPOLLHUP are seen even on an fd nothing is wanted
 * from, so a sink whose reader went away (a pipe whose read end closed)
 * is noticed at once, not at the next write.
 *
 * Moving costs as few system calls as the kernel allows.  When either
 * side is a pipe, splice(2) goes straight from source to sink: one call
 * per move.  Between two sockets (the proxy), what the source has is read
 * into a buffer and written straight on, one read and one write per
 * message, cheaper than two splices; once a read fills the whole buffer
 * (RELAY_BUF) the direction streams: splice through a pipe of its own
 * (made then, closed when small reads come back or by relay_free), so
 * the bytes never pass through tend's memory, a pipe that grows to
 * RELAY_PIPE_MAX when it fills (all relays of the process together grow
 * at most 16 pipes: an unprivileged user's pipes share a quota with that
 * user's services).  A move that brought little (below 16 KiB) is taken
 * for a drained source: the direction waits for the next readiness
 * instead of asking again for an EAGAIN.  Copying through a RELAY_BUF
 * buffer with read/write is also what is left when splice is refused
 * (EINVAL: a tty, some files) or when the direction was asked to copy
 * (RELAY_COPY_*: the caller wants to know about line boundaries).  A
 * direction never has more than one pipe's (RELAY_PIPE_MAX at most) or
 * one buffer's worth in flight: it stops reading while its sink cannot
 * take more (EAGAIN) and waits for EPOLLOUT, so a slow reader slows its
 * writer down and memory stays bounded.  Readiness is level-triggered and
 * what each fd is watched for changes only when a direction starts or
 * stops waiting for its sink: not per message.
 *
 * Ends, reported once per direction, after which the relay no longer
 * touches that direction's sink (its watch is gone unless the other
 * direction still reads from the same fd):
 *  - EOF on the source, once everything read has been written: if the
 *    sink is a socket it is shut down for writing (SHUT_WR); then
 *    cb->ended(ctx, dir, 0) (the owner closes a pipe's write end, say);
 *  - an error on either fd of the direction (EPIPE, ECONNRESET, EPOLLERR
 *    on the sink, ...): cb->ended(ctx, dir, errno) (EPIPE for EPOLLERR or
 *    EPOLLHUP on a sink); bytes still in flight are dropped.
 * Callbacks may call relay_free (the relay must cope: no use after free).
 *
 * cb->moved(ctx, dir, n) follows every successful write of N bytes to a
 * sink: the caller's activity clock.
 *
 * SIGPIPE must be ignored by the program: splicing into a pipe or socket
 * whose reader is gone raises it.
 */
#ifndef TEND_RELAY_H
#define TEND_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

#define RELAY_BUF 65536
#define RELAY_PIPE_MAX 1048576   /* a streaming direction's pipe (1 MiB) */

enum relay_dir { RELAY_AB = 0, RELAY_BA = 1 };

/* Flags for relay_new. */
#define RELAY_COPY_AB 1u   /* move A->B through the buffer (line tracking) */
#define RELAY_COPY_BA 2u

struct relay_end {
	int rfd, wfd;
};

struct relay_cb {
	void (*moved)(void *ctx, enum relay_dir dir, size_t n);      /* may be NULL */
	void (*ended)(void *ctx, enum relay_dir dir, int err);
	void *ctx;
};

struct relay;

/* Starts moving.  Returns NULL with errno when the loop refuses an fd for
 * another reason than EPERM. */
struct relay *relay_new(struct loop *lp, struct relay_end a, struct relay_end b,
                        unsigned flags, const struct relay_cb *cb);
/* Stops watching every fd and frees the relay and its pipes; NULL is fine. */
void relay_free(struct relay *r);

/* Has DIR ended (or never existed)? */
bool relay_ended(const struct relay *r, enum relay_dir dir);

/* Bytes written to DIR's sink so far. */
unsigned long long relay_bytes(const struct relay *r, enum relay_dir dir);

/* Line boundaries of a copying direction (RELAY_COPY_*): was the last
 * byte read from DIR's source (SOURCE true) or the last byte written to
 * its sink (SOURCE false) a newline?  True before the first byte; always
 * false for a direction that does not copy. */
bool relay_line_start(const struct relay *r, enum relay_dir dir, bool source);

#endif
