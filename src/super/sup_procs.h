/* sup_procs — the procs file: what a daemon leaves for the next one, and
 * what the next one does with it (sup.h).
 *
 * With a procs file (the daemon's ID.procs, paths.h) every process of
 * every tree that tend has seen is written there by pid and start time
 * whenever that set changes (at the end of the loop iteration), so that a
 * next daemon can kill what a killed one left behind (sup_kill_leftovers).
 * A write that fails (a full runtime directory) leaves the last complete
 * file, is reported once (a warn with "condition": "procs") and tried
 * again, after SUP_PROCS_RETRY_MS, doubled each time up to
 * SUP_PROCS_RETRY_MAX_MS, and at every change of the set, until it works:
 * then one event recovered.
 *
 * The file is opened in the runtime directory the daemon holds open, never
 * through a symbolic link, written to ID.procs.tmp and renamed into place
 * only when every write and the close succeeded.
 */
#ifndef TEND_SUP_PROCS_H
#define TEND_SUP_PROCS_H

#include <stddef.h>

struct sup;
struct unit;

#define SUP_PROCS_RETRY_MS 500
#define SUP_PROCS_RETRY_MAX_MS 8000

/* Called by units: a spawn (its shim and main process are recorded). */
void sup_spawned(struct sup *s, struct unit *u);

/* Kills whatever an earlier daemon of the same file left alive, by the pid
 * and start time PATHS->procs recorded (and their descendants), and waits
 * (bounded) until it is gone.  Returns how many processes were killed. */
size_t sup_kill_leftovers(struct sup *s);

/* One line of the procs file, which a crash or a full disk may have cut
 * short or damaged: SUP_LINE_PROC for "PID STARTTIME ..." (both numbers in
 * range, PID above 1: *PID, *START), SUP_LINE_RUN for "run TEND_RUN=ID"
 * (RUN, at most SUP_RUN_MAX - 1 bytes), SUP_LINE_NONE for anything else,
 * which is skipped.  Pure. */
#define SUP_RUN_MAX 64
enum { SUP_LINE_NONE, SUP_LINE_PROC, SUP_LINE_RUN };
int sup_procs_line(const char *line, int *pid, unsigned long long *start,
                   char run[SUP_RUN_MAX]);

#endif
