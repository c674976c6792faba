/* loop_epoll — the loop's backend on Linux (loop_backend.h): one epoll
 * set for the descriptors, and one signalfd in it for every routed
 * signal.  The EPOLL* bits of loop.h are epoll's own: nothing to map. */
#include "loop_backend.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct loop_backend {
	int epfd;
	int sigfd;         /* -1 until the first routed signal */
	sigset_t sigmask;  /* the routed signals */
};

struct loop_backend *loop_backend_new(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct loop_backend *b = xcalloc(1, sizeof(*b));
	b->epfd = fd;
	b->sigfd = -1;
	sigemptyset(&b->sigmask);
	return b;
}

void loop_backend_free(struct loop_backend *b)
{
	if (!b)
		return;
	if (b->sigfd >= 0)
		close(b->sigfd);
	close(b->epfd);
	free(b);
}

static int ctl(struct loop_backend *b, int op, int fd, uint32_t events,
               void *token)
{
	struct epoll_event ev = { .events = events, .data.ptr = token };
	return epoll_ctl(b->epfd, op, fd, &ev);
}

int loop_backend_add(struct loop_backend *b, int fd, uint32_t events,
                     void *token)
{
	return ctl(b, EPOLL_CTL_ADD, fd, events, token);
}

int loop_backend_mod(struct loop_backend *b, int fd, uint32_t events,
                     void *token)
{
	return ctl(b, EPOLL_CTL_MOD, fd, events, token);
}

int loop_backend_del(struct loop_backend *b, int fd)
{
	return epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int loop_backend_wait(struct loop_backend *b, struct loop_ready *out, int max,
                      int timeout_ms)
{
	struct epoll_event ev[64];
	if (max > (int)(sizeof(ev) / sizeof(ev[0])))
		max = (int)(sizeof(ev) / sizeof(ev[0]));
	int n = epoll_wait(b->epfd, ev, max, timeout_ms);
	for (int i = 0; i < n; i++)
		out[i] = (struct loop_ready){ .token = ev[i].data.ptr,
		                              .events = ev[i].events };
	return n;
}

/* The signalfd, made at the first routed signal and watched from then on.
 * Returns 0, or -1 (errno) with no signalfd left behind. */
static int signal_source(struct loop_backend *b, void *token)
{
	int fd = signalfd(b->sigfd, &b->sigmask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -1;
	if (b->sigfd >= 0)
		return 0;   /* the same fd, now with the new mask */
	if (loop_backend_add(b, fd, EPOLLIN, token) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	b->sigfd = fd;
	return 0;
}

int loop_backend_signal(struct loop_backend *b, int signo, void *token)
{
	if (sigaddset(&b->sigmask, signo) < 0)
		return -1;
	/* Blocked, the signal waits in the signalfd instead of being
	 * delivered. */
	if (sigprocmask(SIG_BLOCK, &b->sigmask, NULL) < 0)
		return -1;
	/* An ignored signal is dropped before it could reach the signalfd, and
	 * shells start background jobs with SIGINT ignored: take it back. */
	struct sigaction sa = { .sa_handler = SIG_DFL };
	if (sigaction(signo, &sa, NULL) < 0)
		return -1;
	return signal_source(b, token);
}

int loop_backend_signal_next(struct loop_backend *b,
                             struct signalfd_siginfo *si)
{
	/* Anything but a whole record (EAGAIN: none is left; a read error,
	 * which a signalfd has no cause for) ends this round: the wait reports
	 * the signalfd again while something is pending. */
	return b->sigfd >= 0 &&
	       read(b->sigfd, si, sizeof(*si)) == (ssize_t)sizeof(*si);
}
