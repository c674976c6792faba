/* The reload plan (src/base/reload.c), a pure function: a running set of units
 * and a new configuration's units, both decoded from the input, and the
 * plan checked against the rules of reload.h, unit by unit: every old
 * unit gets the one fate the rules give it (removed, the unit of one new
 * unit, or left as it is), every new unit one step, kept exactly when its
 * settings are equal and none wait; and the plan, carried out, is a set
 * that the same configuration leaves as it is.
 *
 * The input: byte 0 is the number of old units (low 4 bits) and of new
 * units (high 4 bits); then two bytes per old unit, then one per new
 * unit (missing bytes are 0).  A unit's first byte: its name (bits 0-2,
 * one of NAMES, so that names meet), its settings (bits 3-4, one of
 * VARIANTS).  An old unit's second byte: pending (bit 0), removed (1), an
 * instance (2), tend connect's (3).  A new unit whose name an earlier one
 * has is left out (config.h refuses a duplicate).
 */
#include "config.h"
#include "fuzz.h"
#include "reload.h"

#define MAX_UNITS 15
#define NAMES 8
#define VARIANTS 4

/* Settings: 0 and 3 are equal (they differ only in where they were
 * written), 1 and 2 differ from them and from each other. */
static struct unit_config *variant[VARIANTS];
static const int same_as[VARIANTS] = { 0, 1, 2, 0 };
static const char *const names[NAMES] = { "a", "b", "c", "d", "e", "f",
                                          "g", "h" };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	static char *const cmds[3][2] = { { "zero", NULL }, { "one", NULL },
	                                  { "two", NULL } };
	for (size_t v = 0; v < 3; v++) {
		struct tend_config *cfg = config_for_exec(cmds[v]);
		variant[v] = cfg->units[0];
		cfg->units[0] = NULL;
		config_free(cfg);
	}
	variant[3] = config_unit_dup(variant[0], variant[0]->name);
	variant[3]->line = 7;
	return 0;
}

struct old {
	struct reload_old r;
	int name, settings;
};

struct next {
	const struct unit_config *cfg;
	int name, settings;
};

/* Byte I of DATA, 0 past its end. */
static uint8_t byte(const uint8_t *data, size_t size, size_t i)
{
	return i < size ? data[i] : 0;
}

static struct unit_config *unit_of(int name, int settings, bool connect)
{
	struct unit_config *u = config_unit_dup(variant[settings], names[name]);
	if (connect)
		u->connect_key = strdup("key");
	FUZZ_ASSERT(!connect || u->connect_key, "out of memory");
	return u;
}

/* The new unit named NAME, or -1. */
static int next_named(const struct next *next, size_t nnext, int name)
{
	for (size_t k = 0; k < nnext; k++)
		if (next[k].name == name)
			return (int)k;
	return -1;
}

/* Is OLD[I] a unit of the file (no instance, not tend connect's)? */
static bool of_file(const struct old *o)
{
	return !o->r.instance && !o->r.cfg->connect_key;
}

/* The fate reload.h gives OLD[I], as the plan writes it: 'R' removed,
 * 'S' the unit of the new unit *K (step op *OP), '-' left as it is. */
static char fate(const struct old *old, size_t nold, size_t i,
                 const struct next *next, size_t nnext, int *k,
                 enum reload_op *op)
{
	const struct old *o = &old[i];
	*k = next_named(next, nnext, o->name);
	if (o->r.cfg->connect_key)
		return '-';
	if (*k < 0)
		return !o->r.removed && !o->r.instance ? 'R' : '-';
	/* The first unit of the name that is not removed and not tend
	 * connect's is the new unit's; without one, the first removed unit
	 * of the file of the name is revived. */
	for (size_t j = 0; j < nold; j++) {
		const struct old *p = &old[j];
		if (p->name != o->name || p->r.cfg->connect_key || p->r.removed)
			continue;
		if (j != i)
			return '-';
		*op = same_as[p->settings] == same_as[next[*k].settings] &&
		      !p->r.pending ? RELOAD_KEEP : RELOAD_CHANGE;
		return 'S';
	}
	for (size_t j = 0; j < nold; j++) {
		const struct old *p = &old[j];
		if (p->name != o->name || !p->r.removed || !of_file(p))
			continue;
		if (j != i)
			return '-';
		*op = RELOAD_REVIVE;
		return 'S';
	}
	return '-';
}

static void check_plan(const struct old *old, size_t nold,
                       const struct next *next, size_t nnext,
                       const struct reload_plan *p)
{
	FUZZ_ASSERT(p->nsteps == nnext, "%zu steps for %zu units", p->nsteps,
	            nnext);
	FUZZ_ASSERT(p->nremove <= nold, "%zu removed of %zu", p->nremove, nold);
	/* Each old unit's fate as the plan has it: at most one. */
	char got[MAX_UNITS * 2] = { 0 };
	size_t got_k[MAX_UNITS * 2] = { 0 };
	for (size_t r = 0; r < p->nremove; r++) {
		size_t i = p->remove[r];
		FUZZ_ASSERT(i < nold, "removes %zu of %zu", i, nold);
		FUZZ_ASSERT(r == 0 || p->remove[r - 1] < i,
		            "removals out of the old units' order");
		got[i] = 'R';
	}
	for (size_t k = 0; k < nnext; k++) {
		const struct reload_step *st = &p->steps[k];
		if (st->op == RELOAD_ADD)
			continue;
		FUZZ_ASSERT(st->op == RELOAD_KEEP || st->op == RELOAD_CHANGE ||
		            st->op == RELOAD_REVIVE, "step %zu: op %d", k,
		            (int)st->op);
		FUZZ_ASSERT(st->old < nold, "step %zu: old unit %zu of %zu", k,
		            st->old, nold);
		FUZZ_ASSERT(!got[st->old], "old unit %zu has two fates (%c, and "
		            "step %zu)", st->old, got[st->old], k);
		got[st->old] = 'S';
		got_k[st->old] = k;
	}
	/* ... and the one the rules give it: so a new unit is added
	 * exactly when no old unit is to be its. */
	for (size_t i = 0; i < nold; i++) {
		int k = -1;
		enum reload_op op = RELOAD_ADD;
		char want = fate(old, nold, i, next, nnext, &k, &op);
		char have = got[i] ? got[i] : '-';
		FUZZ_ASSERT(have == want, "old unit %zu (%s%s%s%s%s): fate %c, "
		            "not %c", i, names[old[i].name],
		            old[i].r.pending ? " pending" : "",
		            old[i].r.removed ? " removed" : "",
		            old[i].r.instance ? " instance" : "",
		            old[i].r.cfg->connect_key ? " connect" : "", have, want);
		if (want == 'S') {
			FUZZ_ASSERT(got_k[i] == (size_t)k, "old unit %zu went to "
			            "new unit %zu, not %d", i, got_k[i], k);
			FUZZ_ASSERT(p->steps[k].op == op, "new unit %d: op %d, "
			            "not %d", k, (int)p->steps[k].op, (int)op);
			/* (a revived unit takes the new settings whatever
			 * they are) */
			FUZZ_ASSERT(op == RELOAD_REVIVE || old[i].r.pending ||
			            (op == RELOAD_KEEP) ==
			            config_unit_equal(old[i].r.cfg, next[k].cfg),
			            "old unit %zu (settings %d), "
			            "new unit %d (%d): config_unit_equal disagrees "
			            "with the harness's settings", i, old[i].settings,
			            k, next[k].settings);
		}
	}
}

/* OLD after P, carried out with its changes in effect (none pending):
 * into AFTER (NOLD + NNEXT room), whose count is returned. */
static size_t carry_out(const struct old *old, size_t nold,
                        const struct next *next, size_t nnext,
                        const struct reload_plan *p, struct old *after)
{
	size_t n = nold;
	memcpy(after, old, nold * sizeof(*old));
	for (size_t r = 0; r < p->nremove; r++)
		after[p->remove[r]].r.removed = true;
	for (size_t k = 0; k < nnext; k++) {
		const struct reload_step *st = &p->steps[k];
		struct old *a = st->op == RELOAD_ADD ? &after[n++] : &after[st->old];
		if (st->op == RELOAD_ADD)
			*a = (struct old){ .name = next[k].name };
		a->r.cfg = next[k].cfg;
		a->settings = next[k].settings;
		a->r.pending = false;
		a->r.removed = false;
	}
	return n;
}

static void plan_of(const struct old *old, size_t nold,
                    const struct next *next, size_t nnext,
                    struct reload_plan *p)
{
	struct reload_old r[MAX_UNITS * 2];
	const struct unit_config *cfgs[MAX_UNITS];
	for (size_t i = 0; i < nold; i++)
		r[i] = old[i].r;
	for (size_t k = 0; k < nnext; k++)
		cfgs[k] = next[k].cfg;
	reload_plan(r, nold, cfgs, nnext, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nold = byte(data, size, 0) & 15, nwant = byte(data, size, 0) >> 4;
	size_t at = 1;
	struct old old[MAX_UNITS];
	struct unit_config *owned[MAX_UNITS * 2];
	size_t nowned = 0;
	for (size_t i = 0; i < nold; i++, at += 2) {
		uint8_t a = byte(data, size, at), b = byte(data, size, at + 1);
		old[i] = (struct old){ .name = a & 7, .settings = (a >> 3) & 3 };
		struct unit_config *u = unit_of(old[i].name, old[i].settings, b & 8);
		owned[nowned++] = u;
		old[i].r = (struct reload_old){ .cfg = u, .pending = b & 1,
		                                .removed = b & 2,
		                                .instance = b & 4 };
	}
	struct next next[MAX_UNITS];
	size_t nnext = 0;
	for (size_t k = 0; k < nwant; k++, at++) {
		uint8_t a = byte(data, size, at);
		int name = a & 7, settings = (a >> 3) & 3;
		if (next_named(next, nnext, name) >= 0)
			continue;
		struct unit_config *u = unit_of(name, settings, false);
		owned[nowned++] = u;
		next[nnext++] = (struct next){ u, name, settings };
	}

	struct reload_plan p;
	plan_of(old, nold, next, nnext, &p);
	check_plan(old, nold, next, nnext, &p);

	/* The same configuration again, once the plan is carried out:
	 * nothing goes, every new unit is kept, as the same unit. */
	struct old after[MAX_UNITS * 2];
	size_t nafter = carry_out(old, nold, next, nnext, &p, after);
	struct reload_plan again;
	plan_of(after, nafter, next, nnext, &again);
	FUZZ_ASSERT(again.nremove == 0, "the same file again removes %zu",
	            again.nremove);
	size_t added = nold;
	for (size_t k = 0; k < nnext; k++) {
		size_t unit = p.steps[k].op == RELOAD_ADD ? added++ : p.steps[k].old;
		FUZZ_ASSERT(again.steps[k].op == RELOAD_KEEP &&
		            again.steps[k].old == unit, "new unit %zu again: op %d "
		            "of %zu, not kept as %zu", k, (int)again.steps[k].op,
		            again.steps[k].old, unit);
	}
	reload_plan_free(&again);
	reload_plan_free(&p);
	for (size_t i = 0; i < nowned; i++)
		config_unit_free(owned[i]);
	return 0;
}
