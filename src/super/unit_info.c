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
