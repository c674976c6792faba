/* batch — a request over several units (ctl.h's "names"): each unit gets
 * the answer the same request for it alone would get, at once or when it
 * gets where it is waited for (waiters.h: start --wait, stop, run
 * --wait), and the client gets one reply once every unit has its answer:
 *   {"ok": true, "results": [{"name": "a", "ok": true, "state": ...},
 *                            {"name": "b", "ok": false, "error": ...}]}
 * in the order of the units.  A batch whose client went away is dropped;
 * one whose unit was removed gets that unit's answer as a waiter would.
 */
#ifndef TEND_BATCH_H
#define TEND_BATCH_H

#include <stddef.h>

#include "waiters.h"

struct batch;

struct batches {
	struct batch *head;
};

/* A batch of N units for the client C. */
struct batch *batch_new(struct conn *c, size_t n);

/* Unit I of B is NAME; its answer is LINE (a reply line, taken over). */
void batch_answer(struct batch *b, size_t i, const char *name, char *line);

/* Unit I of B is U; it is answered when U gets where KIND says since
 * SINCE (waiters.h). */
void batch_wait(struct batch *b, size_t i, struct unit *u,
                enum wait_kind kind, unsigned long since);

/* B is filled in: answered now if every unit has its answer, else kept in
 * BS until they have. */
void batches_add(struct batches *bs, struct batch *b);

/* U changed: the batches waiting for it may be answered. */
void batches_unit_changed(struct batches *bs, const struct unit *u);

/* C closed: its batches go, unanswered. */
void batches_conn_gone(struct batches *bs, struct conn *c);

/* The daemon is done: every batch goes, unanswered. */
void batches_free(struct batches *bs);

#endif
