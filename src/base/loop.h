/* loop — the one event loop: a wait on file descriptors and signals (on
 * Linux epoll and one signalfd: loop_backend.h, loop_epoll.c), and a binary
 * heap of timers that sets the wait's timeout.
 *
 * With no timer armed the loop waits without a timeout (epoll_wait(-1)):
 * nothing wakes tend but a real event.  Callbacks run on the loop's thread, one at a time; a
 * callback may add or remove any watch or timer, including its own, and a
 * removed watch never fires again, not even later in the same batch.
 *
 * Each iteration waits, runs the callbacks of the descriptors that are
 * ready, and then the timers that are due.  After a gap (the iteration
 * took longer than its wait's timeout: a stopped or swapped-out daemon, a
 * frozen cgroup, a slow callback) what waited on the descriptors is seen
 * first, so that no deadline is judged before what came in time.
 *
 * Timers run on CLOCK_MONOTONIC, which stands still while the machine is
 * suspended: no timeout, deadline or countdown expires because of a
 * suspend.  The loop notices a resume (CLOCK_BOOTTIME moved on further than
 * CLOCK_MONOTONIC) at its next wakeup and tells the resume hook first.
 *
 * Watches and timers are structs owned by the caller (embedded in whatever
 * they serve); the loop only links them.  The loop owns no fd but its
 * backend's (on Linux its epoll fd and its signalfd).
 */
#ifndef TEND_LOOP_H
#define TEND_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __linux__
#include <sys/epoll.h>      /* the EPOLL* bits of a watch */
#include <sys/signalfd.h>   /* struct signalfd_siginfo */
#else
/* Where there is no epoll (a kqueue backend, loop_backend.h), the same
 * words with Linux's values, and the fields of a signal that tend reads. */
enum { EPOLLIN = 0x001, EPOLLOUT = 0x004, EPOLLERR = 0x008, EPOLLHUP = 0x010,
       EPOLLRDHUP = 0x2000 };
struct signalfd_siginfo {
	uint32_t ssi_signo;
	int32_t ssi_code;
	uint32_t ssi_pid;
	uint32_t ssi_uid;
	int32_t ssi_int;
};
#endif

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop *lp, struct loop_io *io,
                           uint32_t events);
typedef void (*loop_timer_fn)(struct loop *lp, struct loop_timer *t);
typedef void (*loop_signal_fn)(struct loop *lp, int signo, void *data);

struct loop_io {
	int fd;
	uint32_t events;   /* what it is watched for now */
	loop_io_fn fn;
	void *data;
	bool active;
};

struct loop_timer {
	uint64_t due;  /* CLOCK_MONOTONIC ms */
	size_t slot;   /* index in the heap; valid while armed */
	bool armed;
	loop_timer_fn fn;
	void *data;
};

struct loop *loop_new(void);
void loop_free(struct loop *lp);

/* Watches FD for EVENTS (EPOLLIN, EPOLLOUT...).  Returns 0 or -1/errno. */
int loop_io_add(struct loop *lp, struct loop_io *io, int fd, uint32_t events,
                loop_io_fn fn, void *data);
/* What FD is watched for becomes EVENTS; no system call when that is what
 * it is already (io->events).  Returns 0 or -1/errno (the old stays). */
int loop_io_mod(struct loop *lp, struct loop_io *io, uint32_t events);
/* Stops watching; the fd stays open (its owner closes it). */
void loop_io_del(struct loop *lp, struct loop_io *io);

/* Arms T to fire once, DELAY_MS from now (re-arming moves it). */
void loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t delay_ms,
                      loop_timer_fn fn, void *data);
void loop_timer_stop(struct loop *lp, struct loop_timer *t);

/* Routes SIGNO through the loop's signal source (a signalfd on Linux): it
 * is blocked for the process and FN runs from the loop when it arrives.
 * (Children get a clean signal mask from proc_spawn.) */
int loop_signal(struct loop *lp, int signo, loop_signal_fn fn, void *data);

/* Time of the current iteration (CLOCK_MONOTONIC ms). */
uint64_t loop_now(const struct loop *lp);

/* How many times the loop has woken up (returned from its wait). */
uint64_t loop_wakeups(const struct loop *lp);

/* --- suspend --- */

/* A suspend shorter than this is not reported (clock noise). */
#define RESUME_MIN_MS 1000

struct resume_watch {
	uint64_t gap;   /* CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last look */
	bool init;
};

/* The decision, on injected clocks: given both clocks now (ms), how long
 * the machine was suspended since the last call (0: not, or less than
 * RESUME_MIN_MS; the first call only takes the measure). */
uint64_t resume_check(struct resume_watch *w, uint64_t mono_ms, uint64_t boot_ms);

typedef void (*loop_resume_fn)(struct loop *lp, uint64_t asleep_ms, void *data);
/* FN runs at the first wakeup after a resume, before the iteration's
 * timers and events, with the time asleep. */
void loop_on_resume(struct loop *lp, loop_resume_fn fn, void *data);

/* Where CLOCK_BOOTTIME is read from (ms; default boot_ms): for tests,
 * which cannot suspend the machine.  Set it before loop_on_resume. */
void loop_boot_clock(struct loop *lp, uint64_t (*fn)(void));

/* Runs until loop_stop(); returns 0, or -1 if epoll_wait fails. */
int loop_run(struct loop *lp);
void loop_stop(struct loop *lp);

#endif
