/* waiters — requests the daemon answers once a unit gets where they wait
 * for it, or at once when it is there already:
 *   up    start/restart --wait: a run that started after the request is
 *         ready (an error when the unit fails, gives up, is stopped or
 *         removed first);
 *   down  stop: the unit is settled (stopped or failed);
 *   run   run --wait/--join: run N of the job is over (its result, with
 *         the exit code the CLI exits with);
 *   end   down: the daemon has finished (its socket gone, its lock free).
 *
 * The daemon calls waiters_unit_changed whenever a unit changes, and
 * waiters_conn_gone when a connection closes: a waiter whose client went
 * away is dropped, never answered.  Each answer is one reply line
 * (ctl.h) sent with server_reply; a waiter is answered once.
 */
#ifndef TEND_WAITERS_H
#define TEND_WAITERS_H

#include <stdbool.h>

struct conn;
struct unit;
struct waiter;

enum wait_kind { WAIT_UP, WAIT_DOWN, WAIT_RUN };

struct waiters {
	struct waiter *head;   /* newest first */
};

/* Answers C about U now if U is there already, else once it gets there.
 * SINCE: for WAIT_UP, a run after this many counts; for WAIT_RUN, the
 * job's run (its number) waited for. */
void waiters_answer_or_wait(struct waiters *ws, struct conn *c, struct unit *u,
                            enum wait_kind kind, unsigned long since);

/* The answer a waiter of KIND about U since SINCE would get now (a reply
 * line, malloc'd), or NULL while it has none (batch.h's). */
char *waiters_answer_now(const struct unit *u, enum wait_kind kind,
                         unsigned long since);

/* The answer to a start or restart of U without waiting (it spawned, or
 * failed to): its state, or why it failed (a reply line, malloc'd); with
 * --wait (or while U waits for descriptors) it is a WAIT_UP instead. */
char *waiters_started(const struct unit *u);

/* C is answered when the daemon has finished (waiters_finish). */
void waiters_add_end(struct waiters *ws, struct conn *c);

/* U changed: answers whoever now has an answer about it. */
void waiters_unit_changed(struct waiters *ws, const struct unit *u);

/* C closed: its waiters go, unanswered. */
void waiters_conn_gone(struct waiters *ws, struct conn *c);

/* The daemon is done: answers the waiters of waiters_add_end, drops the
 * others. */
void waiters_finish(struct waiters *ws);

#endif
