/* sup_int — what the supervisor's files (sup.c, sup_tree.c, sup_procs.c,
 * sup_memory.c, sup_reload.c) share with each other and with no one else.
 */
#ifndef TEND_SUP_INT_H
#define TEND_SUP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "sup.h"

/* sup_tree.c: a fresh process table, each process assigned to one of
 * ROOTS (-1 when /proc cannot be read); every unit's tree from one scan,
 * reused within a loop iteration until sup_rescan. */
int sup_scan_assign(struct sup *s, const struct tree_root *roots,
                    size_t nroots, bool adopt);
int sup_scan_units(struct sup *s);

/* sup_procs.c: U's tree is now SEEN (N processes, the shim first when it
 * lives), written to the procs file at the end of the iteration when it
 * changed; the procs file written now (a unit went). */
void sup_note_seen(struct sup *s, struct unit *u, const struct proc_stat *seen,
                   size_t n);
void sup_records_write(struct sup *s);

/* sup_memory.c: the sampling timer armed or stopped, as the units now
 * need it. */
void sup_memory_schedule(struct sup *s);

/* sup.c: the width of the widest name of CFG, for labels; a unit of UC
 * added to the set (last in s->units, not started); the keys of U's
 * configuration that are accepted but not acted on, as warn events; the
 * sweep of removed units, from the loop. */
size_t sup_name_width(const struct tend_config *cfg);
void sup_add_unit(struct sup *s, struct unit_config *uc);
void sup_warn_unenforced(struct sup *s, struct unit *u);
void sup_sweep_soon(struct sup *s);

#endif
