/* suggest — "did you mean" for names a user mistyped, and the spellings
 * of other supervisors that have a tend equivalent.
 *
 * Nearness is the Damerau–Levenshtein distance (optimal string alignment:
 * insertions, deletions, substitutions and swaps of two neighbours, each
 * costing 1) between the names folded to lowercase with '_' read as '-'.
 * A candidate is near when that distance is at most suggest_bound() of the
 * word: 1 for words of up to 4 characters, 2 up to 8, 3 beyond — and less
 * than the word's length, so a short word never "means" an unrelated one.
 *
 * The hint tables translate supervisord's ([program:x], command=,
 * autorestart=...), systemd's (ExecStart=, Restart=, MemoryMax=...) and
 * pm2's (restart_delay, max_memory_restart...) names to tend's.  A table
 * entry matches its spelling exactly, or loosely: after folding case and
 * dropping '_' and '-' (ExecStart, execstart, exec_start).
 */
#ifndef TEND_SUGGEST_H
#define TEND_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* The distance between A and B as described above; stops counting at
 * MAX + 1 (anything above MAX is MAX + 1). */
size_t suggest_distance(const char *a, const char *b, size_t max);

/* The largest distance at which a candidate is near WORD. */
size_t suggest_bound(const char *word);

/* The candidate nearest to WORD (the first of equals, in the order given)
 * if it is near, else NULL.  CANDIDATES is NULL-terminated; a candidate
 * equal to WORD once folded is the nearest of all. */
const char *suggest_near(const char *word, const char *const *candidates);

/* Another supervisor's name with a tend equivalent. */
struct suggest_hint {
	const char *name;     /* as that supervisor spells it */
	const char *origin;   /* "supervisord", "systemd", "pm2" */
	const char *key;      /* tend's key, NULL when tend has none */
	const char *advice;   /* what to write instead, or why not needed */
};

/* The hint for the key NAME spelled as in the table, or with LOOSE also
 * one equal to it once folded (see above); NULL if none.  A caller asks
 * loosely only when no key of its own is near: memory_max means tend's
 * memory-max, not systemd's MemoryMax. */
const struct suggest_hint *suggest_key_hint(const char *name, bool loose);

/* The hint for the section header NAME (the text between the brackets),
 * or NULL.  Sections with a name ([program:web]) give it in *UNIT
 * (malloc'd; NULL for the others); the advice then reads with that name
 * in the place of its one "%s". */
const struct suggest_hint *suggest_section_hint(const char *name, char **unit);

/* Every key hint, NULL-terminated by a zero entry: for tests. */
extern const struct suggest_hint suggest_key_hints[];

#endif
