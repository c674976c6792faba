/* unit_info — what other modules read of a unit and set on it, as
 * functions (unit.h): struct unit is the unit's files' alone (unit_int.h).
 */
#include "unit_int.h"
#include "util.h"

#include <string.h>

void unit_set_ext(struct unit *u, struct unit_ext *x)
{
	u->ext = x;
}

struct unit_ext *unit_ext(const struct unit *u)
{
	return u->ext;
}

/* --- its settings --- */

const struct unit_config *unit_cfg(const struct unit *u)
{
	return u->cfg;
}

const char *unit_name(const struct unit *u)
{
	return u->cfg->name;
}

const struct unit_config *unit_cfg_next(const struct unit *u)
{
	return u->next_cfg ? u->next_cfg : u->cfg;
}

void unit_set_config(struct unit *u, struct unit_config *uc)
{
	config_unit_free(u->cfg);
	u->cfg = uc;
}

void unit_take_config(struct unit *u, struct unit_config *uc)
{
	config_unit_free(u->next_cfg);
	u->next_cfg = uc;
	unit_run_disarm(u);   /* the next run starts with UC */
	if (unit_settled(u)) {
		config_unit_free(u->cfg);
		u->cfg = uc;
		u->next_cfg = NULL;
	}
}

/* --- what it is, and what it did --- */

struct unit_host *unit_host(const struct unit *u)
{
	return u->host;
}

bool unit_removed(const struct unit *u)
{
	return u->removed;
}

void unit_set_removed(struct unit *u, bool removed)
{
	u->removed = removed;
}

bool unit_is_instance(const struct unit *u)
{
	return u->instance;
}

void unit_make_instance(struct unit *u, int err_fd)
{
	u->instance = true;
	u->err_fd = err_fd;
}

const struct unit_run *unit_run_info(const struct unit *u)
{
	return &u->run;
}

struct tree_root unit_tree_root(const struct unit *u)
{
	return (struct tree_root){ .main = u->run.pid, .sid = u->run.sid,
	                           .cookie = u->cookie };
}

const struct exit_info *unit_last_exit(const struct unit *u)
{
	return &u->last_exit;
}

unsigned long unit_spawns(const struct unit *u)
{
	return u->spawns;
}

unsigned unit_restarts(const struct unit *u)
{
	return u->restarts;
}

char *unit_strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *t = xmalloc(n + 1);
	memcpy(t, s, n);
	t[n] = 0;
	return t;
}

int unit_health(const struct unit *u, unsigned *strikes, const char **detail)
{
	*strikes = u->track.strikes;
	*detail = u->health_detail ? u->health_detail : "";
	return u->health_ok;
}

struct output *unit_output(struct unit *u)
{
	return u->captured ? &u->out : NULL;
}

uint64_t unit_notify_dropped(const struct unit *u)
{
	return u->notifying ? notify_dropped(&u->notify) : 0;
}
