/* sup_reload — a new configuration applied to a running supervisor
 * (sup.h), and the units a reload removed that are not gone yet
 * (retiring).  Which units of the old set go, come, change or stay is
 * reload.h's plan, pure; this file carries it out on the units.
 */
#ifndef TEND_SUP_RELOAD_H
#define TEND_SUP_RELOAD_H

#include <jansson.h>
#include <stdbool.h>

struct sup;
struct tend_config;

/* Applies a new configuration: added services start (boot ones), removed
 * ones stop and go, changed ones restart with their new settings (stopped
 * ones just take them), unchanged ones are not touched.  One name is one
 * instance: a unit added back while its removed namesake is not gone
 * yet is that unit again, which starts once its old tree is gone.  Takes CFG's units
 * over; the caller frees its old configuration after this returns.
 * Returns what was done: {"added": [..], "removed": [..], "changed": [..]}. */
json_t *sup_reload(struct sup *s, struct tend_config *cfg);

/* The held set (held.h) made to fit CFG before sup_reload applies it
 * (held_sync): new addresses bound, old ones closed, except those of a
 * unit of the file that CFG drops while its tree is not gone: they stay
 * until it is, so that a reload adding it back takes them over.  Returns
 * 0, or -1 with *ERR (malloc'd) and nothing changed. */
int sup_held_sync(struct sup *s, const struct tend_config *cfg, char **err);

#endif
