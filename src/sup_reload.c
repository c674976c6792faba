#include "sup_int.h"
#include "unit.h"
#include "util.h"

#include <string.h>

/* The unit of the file named NAME that a reload removed and that is not
 * gone yet (its tree still stopping, or not swept yet), or NULL. */
static struct unit *retiring(struct sup *s, const char *name)
{
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		if (u->removed && !u->instance && !u->cfg->connect_key &&
		    strcmp(u->cfg->name, name) == 0)
			return u;
	}
	return NULL;
}

bool sup_retiring(void *ctx, const char *name)
{
	struct sup *s = ctx;
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *u = s->units[i];
		if (!u->instance && !u->cfg->connect_key && !unit_settled(u) &&
		    strcmp(u->cfg->name, name) == 0)
			return true;
	}
	return false;
}

json_t *sup_reload(struct sup *s, struct tend_config *cfg)
{
	json_t *added = json_array(), *removed = json_array(),
	       *changed = json_array();
	s->cfg = cfg;
	s->width = sup_name_width(cfg);
	size_t old = s->nunits;
	for (size_t i = 0; i < old; i++)
		if (s->units[i]->captured && s->units[i]->out.logging)
			logfile_set_max(&s->units[i]->out.log, cfg->log_max);
	for (size_t i = 0; i < old; i++) {
		struct unit *u = s->units[i];
		bool kept = false;
		for (size_t k = 0; k < cfg->nunits && !kept; k++)
			kept = strcmp(cfg->units[k]->name, u->cfg->name) == 0;
		if (kept || u->removed || u->instance || u->cfg->connect_key)
			continue;   /* an instance goes with its client; tend
			               connect's units are no file's */
		json_array_append_new(removed, json_string(u->cfg->name));
		u->removed = true;
		unit_stop(u);
		if (s->hooks.changed)   /* whoever waits for it hears now */
			s->hooks.changed(s->hooks.ctx, u);
		if (unit_settled(u))
			sup_sweep_soon(s);
	}
	for (size_t k = 0; k < cfg->nunits; k++) {
		struct unit_config *uc = cfg->units[k];
		struct unit *u = NULL;
		for (size_t i = 0; i < old && !u; i++)
			if (!s->units[i]->removed && !s->units[i]->cfg->connect_key &&
			    strcmp(s->units[i]->cfg->name, uc->name) == 0)
				u = s->units[i];
		cfg->units[k] = NULL;
		if (!u && (u = retiring(s, uc->name))) {
			/* Removed by an earlier reload, its tree still stopping:
			 * one name is one instance, so the unit comes back and
			 * starts once that tree is gone, with the notify socket
			 * and held sockets it has. */
			json_array_append_new(added, json_string(uc->name));
			u->removed = false;
			config_unit_free(u->next_cfg);
			u->next_cfg = uc;
			if (unit_settled(u)) {
				config_unit_free(u->cfg);
				u->cfg = uc;
				u->next_cfg = NULL;
			}
			sup_warn_unenforced(s, u);
			if (uc->kind == KIND_SERVICE && uc->start == START_BOOT)
				unit_start(u);
			continue;
		}
		if (!u) {
			json_array_append_new(added, json_string(uc->name));
			sup_add_unit(s, uc);
			u = s->units[s->nunits - 1];
			sup_warn_unenforced(s, u);
			if (uc->kind == KIND_SERVICE && uc->start == START_BOOT)
				unit_start(u);
			continue;
		}
		if (config_unit_equal(u->cfg, uc) && !u->next_cfg) {
			/* Same settings: only where they were written may differ. */
			config_unit_free(u->cfg);
			u->cfg = uc;
			continue;
		}
		json_array_append_new(changed, json_string(uc->name));
		config_unit_free(u->next_cfg);
		u->next_cfg = uc;
		sup_warn_unenforced(s, u);
		if (unit_settled(u)) {
			/* Not running: it just takes the new settings. */
			config_unit_free(u->cfg);
			u->cfg = u->next_cfg;
			u->next_cfg = NULL;
			if (u->cfg->kind == KIND_SERVICE && u->cfg->start == START_BOOT &&
			    u->state != US_STOPPED)
				unit_start(u);
		} else {
			unit_stop(u);
			unit_start(u);  /* applies next_cfg when the run is over */
		}
	}
	return json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed,
	                 "changed", changed);
}

