/* loop_backend — what the loop (loop.c) needs from the operating system:
 * a set of watched descriptors that one call waits on, with a timeout, and
 * a source of signals that wakes that same wait.  loop.c holds everything
 * else (timers, the deadline, catch-up after a stall, dispatch order) and
 * is the same on every system; one backend file implements this header:
 *
 *   loop_epoll.c   Linux: epoll for descriptors, a signalfd for signals
 *                  (built; the only one today).
 *   loop_kqueue.c  macOS and the BSDs (not written): EVFILT_READ and
 *                  EVFILT_WRITE for descriptors, EVFILT_SIGNAL for signals.
 *
 * A new backend is an added file: build it instead of loop_epoll.c.
 *
 * Interest and readiness are the EPOLL* bits of loop.h's contract: a
 * watch asks for EPOLLIN and/or EPOLLOUT (0: neither, only errors); the
 * wait reports those and EPOLLERR, EPOLLHUP and EPOLLRDHUP, which come
 * whether asked for or not.  A kqueue backend maps EVFILT_READ to EPOLLIN,
 * EVFILT_WRITE to EPOLLOUT, EV_EOF to EPOLLHUP | EPOLLRDHUP and EV_ERROR
 * to EPOLLERR, and gathers the filters of one fd into one event.
 *
 * Each watch carries a token (loop.c's struct loop_io) that the wait hands
 * back untouched; the backend knows nothing of what it points to.  Every
 * function returns 0 (or a count) on success and -1 with errno on failure;
 * none prints anything (the loop's callers say what failed).
 */
#ifndef TEND_LOOP_BACKEND_H
#define TEND_LOOP_BACKEND_H

#include <stdint.h>

struct loop_backend;
struct signalfd_siginfo;   /* loop.h */

/* One ready descriptor (or the signal source): the token it was added
 * with, and the EPOLL* bits of what it is ready for. */
struct loop_ready {
	void *token;
	uint32_t events;
};

/* A new, empty set (its own descriptors are close-on-exec), or NULL. */
struct loop_backend *loop_backend_new(void);
/* Closes what the backend opened; the watched fds stay their owners'. */
void loop_backend_free(struct loop_backend *b);

/* Watches FD for EVENTS; the wait reports it with TOKEN. */
int loop_backend_add(struct loop_backend *b, int fd, uint32_t events,
                     void *token);
/* Changes what FD (added before) is watched for. */
int loop_backend_mod(struct loop_backend *b, int fd, uint32_t events,
                     void *token);
/* Stops watching FD.  May be called after FD was closed (the kernel then
 * has dropped it already: -1 with EBADF or ENOENT, nothing to undo). */
int loop_backend_del(struct loop_backend *b, int fd);

/* Waits at most TIMEOUT_MS (-1: without end, 0: not at all) for watched
 * descriptors or a signal to be ready, and fills OUT with at most MAX of
 * them.  Returns how many (0: the timeout passed), or -1 (EINTR: the wait
 * was interrupted, e.g. the process was stopped and continued, which
 * loop.c takes for a gap). */
int loop_backend_wait(struct loop_backend *b, struct loop_ready *out, int max,
                      int timeout_ms);

/* Routes SIGNO to the signal source: from now on the signal is not
 * delivered to a handler (nor lost: an ignored signal is taken back to
 * its default first), and while one is pending the wait reports TOKEN
 * (the same for every signal) with EPOLLIN.  The first call makes the
 * source.  Children do not inherit the routing: proc_spawn resets every
 * signal. */
int loop_backend_signal(struct loop_backend *b, int signo, void *token);

/* Takes the next pending routed signal into SI: 1, or 0 when none is
 * left.  A backend fills what its system tells: ssi_signo always; ssi_pid,
 * ssi_uid, ssi_code and ssi_int where the system queues them with the
 * signal (Linux; kqueue tells the number only). */
int loop_backend_signal_next(struct loop_backend *b,
                             struct signalfd_siginfo *si);

#endif
