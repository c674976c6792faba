/* policy — what happens after a run ends: the restart decision, as a pure
 * function of plain data (configuration, history, the exit, the time).
 * No system calls, no clock, no randomness of its own: the caller passes
 * the time and a jitter draw, so every case is unit-tested.
 *
 * The rules (DESIGN §5, "Honest accounting"):
 *   - every exit has one reason; `stopped` (asked for) never restarts;
 *     `spawn_failed` gives up at once, without a retry loop;
 *   - `crash`, `health` and `watchdog` are crashes: they feed max-crashes;
 *     more than N crashes inside WINDOW gives up (state failed);
 *   - a run that lasted stable-after or longer forgets the crash history
 *     before its own exit is counted;
 *   - clean exits neither count as crashes nor reset the crash history;
 *     more than clean-restarts N inside WINDOW slows restarts with backoff
 *     and warns once per episode (with backoff 0: from 100ms to 30s);
 *   - `memory` restarts are not crashes, but one that comes before
 *     stable-after is backed off like a crash loop; restart = never
 *     means never for them too;
 *   - backoff is MIN * 2^(k-1) capped at MAX, k = consecutive quick
 *     failures, with +-25% jitter kept inside MIN..MAX; MIN 0 restarts at
 *     once.
 */
#ifndef TEND_POLICY_H
#define TEND_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum restart_mode { RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_NEVER };

enum exit_reason {
	EXIT_NONE = 0,
	EXIT_CLEAN,
	EXIT_CRASH,
	EXIT_MEMORY,
	EXIT_HEALTH,
	EXIT_WATCHDOG,
	EXIT_STOPPED,
	EXIT_SPAWN_FAILED,
	EXIT_TIMEOUT,
};
const char *exit_reason_name(enum exit_reason r);

struct rate {
	unsigned n;
	uint64_t window_ms;
};

struct policy_cfg {
	enum restart_mode restart;
	uint64_t backoff_min_ms, backoff_max_ms;
	struct rate max_crashes;
	uint64_t stable_after_ms;
	struct rate clean_restarts;
};

/* Exit codes and signals that count as clean. */
struct success_codes {
	uint64_t codes[4];   /* bitmap of exit codes 0..255 */
	uint64_t signals;    /* bit s-1 set: killed by signal s is clean */
};
void success_codes_add_code(struct success_codes *sc, unsigned code);
void success_codes_add_signal(struct success_codes *sc, int sig);
bool success_codes_has_code(const struct success_codes *sc, unsigned code);
bool success_codes_has_signal(const struct success_codes *sc, int sig);

/* clean or crash, from a wait status (as from waitpid). */
enum exit_reason policy_classify(const struct success_codes *sc, int wstatus);

/* Timestamps of recent exits, newest last: N+1 of each kind are enough to
 * tell "more than N inside WINDOW". */
struct policy_hist {
	uint64_t *crash_at;
	unsigned ncrash, crash_cap;
	uint64_t *clean_at;
	unsigned nclean, clean_cap;
	unsigned fail_streak;   /* consecutive quick failures: backoff level */
	unsigned clean_excess;  /* clean exits over budget: clean backoff level */
};

enum policy_action { ACT_RESTART, ACT_DONE, ACT_GIVE_UP };

struct policy_verdict {
	enum policy_action action;
	uint64_t delay_ms;          /* for ACT_RESTART */
	bool warn_clean_budget;     /* first exit over the clean budget */
	unsigned crashes;           /* crashes inside the window, this one included */
	unsigned cleans;            /* clean exits inside the window */
};

/* Decides what follows an exit of REASON after UPTIME_MS, at NOW_MS;
 * JITTER is a draw in [0, 1).  Updates HIST. */
struct policy_verdict policy_on_exit(const struct policy_cfg *cfg,
                                     struct policy_hist *hist,
                                     enum exit_reason reason, uint64_t now_ms,
                                     uint64_t uptime_ms, double jitter);

/* Would an exit of REASON (crash or clean) at NOW_MS or later be
 * restarted at once, whatever the run's uptime?  Asked of the verdict
 * itself (policy_on_exit, on a copy of HIST) for an exit now after no
 * uptime: later exits find fewer of the window's in it, a longer uptime
 * only forgets crashes, so a yes now is a yes then (a restart armed ahead
 * of the exit, keeper.h). */
bool policy_at_once(const struct policy_cfg *cfg, const struct policy_hist *hist,
                    enum exit_reason reason, uint64_t now_ms);

/* The backoff for level K (>= 1), jittered as described above. */
uint64_t policy_backoff(uint64_t min_ms, uint64_t max_ms, unsigned k,
                        double jitter);

/* Sizes HIST for CFG's rates (allocates); policy_hist_free releases. */
void policy_hist_init(struct policy_hist *hist, const struct policy_cfg *cfg);
void policy_hist_free(struct policy_hist *hist);

#endif
