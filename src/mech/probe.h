/* probe — health checks, one at a time per struct probe, that never block
 * the loop.
 *
 * A check is one of (the health key of tend.ini):
 *   exec:CMD               CMD runs (split like exec =, never by a shell);
 *                          exit 0 passes
 *   tcp:HOST:PORT          a connection is accepted (then closed at once)
 *   unix:PATH              the same on a Unix socket
 *   http://HOST:PORT/PATH  GET PATH over HTTP/1.0: a 2xx status passes
 * Addresses are addr.h's: IP literals and localhost only, since a name
 * lookup would block.
 *
 * Every check ends within its timeout and reports exactly once, from the
 * loop (never from inside probe_start), with a one-line detail without
 * control characters: "connect 127.0.0.1:8080: Connection refused",
 * "HTTP 503", "exit code 1: <first line the command printed>", "killed by
 * signal 9 (KILL)", "timed out after 5s".
 *
 * An exec check is its own session (proc_spawn); stdin is /dev/null,
 * stdout and stderr go to a pipe of which only the first line (200 bytes at
 * most) is kept.  tend reaps every child itself (waitpid(-1)), so a check
 * learns that its command exited only through probe_reaped(): the pipe's
 * EOF proves nothing, a background child may hold it open.  When an exec
 * check ends, however it ends, its process group gets SIGKILL, so nothing
 * it started in that group outlives it (what it moved to another session
 * is the supervisor's to find).
 *
 * A zeroed struct probe is idle.  It owns its socket or pipe, its watch and
 * its timer; the struct must stay where it is while a check runs.
 */
#ifndef TEND_PROBE_H
#define TEND_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "probe_spec.h"
#include "util.h"

typedef void (*probe_done_fn)(void *data, bool ok, const char *detail);

#define PROBE_HTTP_MAX 1024  /* bytes of a response read for its status */
#define PROBE_LINE_MAX 200   /* bytes of an exec check's first line kept */

struct probe {
	struct loop *lp;
	probe_done_fn fn;
	void *data;
	bool running;
	enum probe_kind kind;
	uint64_t timeout_ms;
	struct loop_timer timer;  /* the timeout, or the deferred end */
	struct loop_io io;        /* on fd */
	int fd;                   /* the socket or the output pipe; -1: none */
	bool connected;           /* tcp, unix, http: connect() completed */
	pid_t pid;                /* the running exec check; 0: none */
	pid_t killed;             /* an exec check ended by tend, not yet reaped */
	char *target;             /* the address as written, for messages */
	char *req;                /* http: the request, REQ_OFF bytes sent */
	size_t req_len, req_off;
	char in[PROBE_HTTP_MAX];  /* http: the response's head; exec: line 1 */
	size_t in_len;
	bool line_done;           /* exec: the first line is complete */
	bool later_ok;            /* the deferred end, when the timer is that */
	char *later_detail;
};

/* Starts one check of SPEC (only read during the call) that ends within
 * TIMEOUT_MS; a check still running on P is cancelled first.  FN(DATA, ok,
 * detail) is called exactly once, always later, from the loop: failures
 * found at once (a spawn error, a refused Unix connection) are reported
 * through a 0 ms timer.  ENVP and CWD are for exec checks (ENVP NULL:
 * tend's environment; CWD NULL: tend's working directory). */
void probe_start(struct probe *p, struct loop *lp, const struct probe_spec *spec,
                 uint64_t timeout_ms, char *const *envp, const char *cwd,
                 probe_done_fn fn, void *data);

/* Abandons a running check: FN is not called; the connection is closed; an
 * exec check's process group gets SIGKILL (the process itself is reaped by
 * whoever reaps tend's children; probe_reaped() then claims it).  Safe when
 * nothing runs. */
void probe_cancel(struct probe *p);

/* tend reaped PID with WSTATUS.  When PID is the command of P's running
 * exec check, this finishes the check (exit 0 passes; what the pipe holds
 * is read first; FN is called) and returns true.  It also returns true,
 * calling nothing, for the command of a check that timed out or was
 * cancelled.  Otherwise false. */
bool probe_reaped(struct probe *p, pid_t pid, int wstatus);

/* The pid of the running exec check, or 0 (the supervisor keeps it out of
 * every unit's tree). */
pid_t probe_pid(const struct probe *p);
bool probe_running(const struct probe *p);

#endif
