/* unit_info — what other modules read of a unit and set on it, as
 * functions (unit.h): struct unit is the unit's files' alone (unit_int.h).
 */
#include "unit_int.h"

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
	if (unit_settled(u)) {
		config_unit_free(u->cfg);
		u->cfg = uc;
		u->next_cfg = NULL;
	}
}
