/* sup — the supervisor: one event loop, the units of one configuration,
 * signals, reaping, and the process-table view that tells each unit which
 * processes are its tree.
 *
 * tend makes itself a child subreaper, so every orphan of every tree comes
 * back to it; SIGCHLD (through the loop's signalfd) reaps them all and tells
 * the unit whose main process it was, and every stopping unit that its tree
 * may have shrunk.
 *
 * Signals: SIGTERM and SIGINT stop every unit gracefully, then sup_run
 * returns; a second SIGINT kills every tree at once.  In exec mode (one
 * unit, tend exec) other signals are forwarded to the whole tree, strays
 * are adopted by the unit, and sup_run returns as soon as the unit is at
 * rest, with the exit code tend exec promises.
 */
#ifndef TEND_SUP_H
#define TEND_SUP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "events.h"
#include "loop.h"
#include "proc.h"

struct unit;

struct sup {
	struct loop *loop;
	struct events *ev;
	const struct tend_config *cfg;
	struct unit **units;
	size_t nunits;
	bool exec_mode;
	int out_fd;                /* tend up: where units' lines go */
	bool shutting_down;
	int sigints;
	struct proc_table table;   /* reused by every scan */
	struct tree_root *roots;   /* one per unit, refreshed by every scan */
	int *owner;
	size_t owner_cap;
	struct proc_stat *members; /* result of the last sup_tree */
	size_t members_cap;
};

/* Takes nothing over: CFG and EV must outlive the supervisor. */
struct sup *sup_new(const struct tend_config *cfg, struct events *ev,
                    bool exec_mode);
void sup_free(struct sup *s);

/* Starts every boot service and runs until shut down (or, in exec mode,
 * until the unit is at rest).  Returns the process exit code. */
int sup_run(struct sup *s);

/* The live processes of U's tree (main process included), from a fresh
 * scan of /proc.  The array is owned by S and valid until the next call. */
size_t sup_tree(struct sup *s, const struct unit *u,
                const struct proc_stat **members);

/* A unit reached rest (stopped or failed). */
void sup_unit_settled(struct sup *s, struct unit *u);

/* A jitter draw in [0, 1) for backoff. */
double sup_jitter(struct sup *s);

#endif
