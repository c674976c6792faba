#include "unit_fsm.h"
#include "util.h"

#include <string.h>

const char *unit_state_name(enum unit_state s)
{
	static const char *const names[] = { "stopped", "starting", "running",
	                                     "stopping", "backoff", "failed",
	                                     "idle", "waiting" };
	return (size_t)s < ARRAY_LEN(names) ? names[s] : "unknown";
}

const char *unit_reason_name(enum unit_reason r)
{
	static const char *const names[] = { "none", "request", "idle", "forced",
	                                     "exited", "gave_up", "job_done" };
	return (size_t)r < ARRAY_LEN(names) ? names[r] : "unknown";
}

#define BIT(s) (1u << (s))
/* Where a spawn leads: the run alive, a retry, or (it cannot start) at
 * rest. */
#define SPAWNS (BIT(F_STARTING) | BIT(F_RUNNING) | BIT(F_RETRY) | \
                BIT(F_FAILED) | BIT(F_STOPPED) | BIT(F_WAITING))
/* Where a run can lead: anywhere (its end is judged at once when nothing
 * of it is left, and a restart can follow without a delay). */
#define ANY ((1u << F_NSTATES) - 1)

const struct fsm_state_info fsm_states[F_NSTATES] = {
	[F_STOPPED]  = { "stopped",  US_STOPPED,  T_NONE,    false, false, SPAWNS },
	[F_IDLE]     = { "idle",     US_IDLE,     T_NONE,    false, false, SPAWNS },
	[F_FAILED]   = { "failed",   US_FAILED,   T_NONE,    false, false, SPAWNS },
	[F_BACKOFF]  = { "backoff",  US_BACKOFF,  T_BACKOFF, false, false, SPAWNS },
	[F_RETRY]    = { "retry",    US_BACKOFF,  T_RETRY,   false, false, SPAWNS },
	[F_WAITING]  = { "waiting",  US_WAITING,  T_NONE,    false, false, SPAWNS },
	[F_STARTING] = { "starting", US_STARTING, T_START,   true,  true,  ANY },
	[F_RUNNING]  = { "running",  US_RUNNING,  T_NONE,    true,  true,  ANY },
	[F_STOPPING] = { "stopping", US_STOPPING, T_STOP,    true,  false, ANY },
	[F_KILLING]  = { "killing",  US_STOPPING, T_KILL,    true,  false, ANY },
};

/* The unit's behaviour: what each event does in each state.  Rows are
 * states, columns events (enum fsm_event's order). */
const unsigned char fsm_table[F_NSTATES][E_NEVENTS] = {
	/*             START    STOP            KILL        WAKE          REVIVE        READY     FORCE    IDLE         TIMER            EXIT      REAPED        DEPS */
	[F_STOPPED]  = { A_START, A_IGNORE,     A_IGNORE,   A_WAKE,       A_WAKE,       A_IGNORE, A_IGNORE, A_IGNORE,   A_NEVER,         A_NEVER,  A_IGNORE,     A_IGNORE },
	[F_IDLE]     = { A_START, A_IGNORE,     A_IGNORE,   A_WAKE,       A_WAKE,       A_IGNORE, A_IGNORE, A_IGNORE,   A_NEVER,         A_NEVER,  A_IGNORE,     A_IGNORE },
	[F_FAILED]   = { A_START, A_IGNORE,     A_IGNORE,   A_IGNORE,     A_REVIVE,     A_IGNORE, A_IGNORE, A_IGNORE,   A_NEVER,         A_NEVER,  A_IGNORE,     A_IGNORE },
	[F_BACKOFF]  = { A_START, A_CANCEL,     A_IGNORE,   A_IGNORE,     A_IGNORE,     A_IGNORE, A_IGNORE, A_IGNORE,   A_RESTART,       A_NEVER,  A_IGNORE,     A_IGNORE },
	[F_RETRY]    = { A_START, A_CANCEL_RETRY, A_IGNORE, A_IGNORE,     A_IGNORE,     A_IGNORE, A_IGNORE, A_IGNORE,   A_RETRY,         A_NEVER,  A_IGNORE,     A_IGNORE },
	[F_WAITING]  = { A_IGNORE, A_CANCEL_RETRY, A_CANCEL_RETRY, A_IGNORE, A_IGNORE,  A_IGNORE, A_IGNORE, A_IGNORE,   A_NEVER,         A_NEVER,  A_IGNORE,     A_DEPS },
	[F_STARTING] = { A_IGNORE, A_STOP,      A_KILL,     A_IGNORE,     A_IGNORE,     A_READY,  A_FORCE, A_IGNORE,    A_START_TIMEOUT, A_EXITED, A_IGNORE,     A_IGNORE },
	[F_RUNNING]  = { A_IGNORE, A_STOP,      A_KILL,     A_IGNORE,     A_IGNORE,     A_IGNORE, A_FORCE, A_IDLE_STOP, A_NEVER,         A_EXITED, A_IGNORE,     A_IGNORE },
	[F_STOPPING] = { A_IGNORE, A_STOP_AFTER, A_ESCALATE, A_WAKE_AFTER, A_WAKE_AFTER, A_IGNORE, A_IGNORE, A_IGNORE,   A_ESCALATE,      A_EXITED, A_CHECK_TREE, A_IGNORE },
	[F_KILLING]  = { A_IGNORE, A_STOP_AFTER, A_ESCALATE, A_WAKE_AFTER, A_WAKE_AFTER, A_IGNORE, A_IGNORE, A_IGNORE,   A_ESCALATE,      A_EXITED, A_CHECK_TREE, A_IGNORE },
};

static const char *const event_names[E_NEVENTS] = {
	"start", "stop", "kill", "wake", "revive", "ready", "force", "idle",
	"timer", "exit", "reaped", "deps",
};

static const struct { const char *name, *doc; } actions[A_NACTIONS] = {
	[A_IGNORE]        = { "-", "nothing to do in this state" },
	[A_NEVER]         = { "never", "cannot happen in this state: no timer "
	                      "is armed, no run is alive (checked)" },
	[A_START]         = { "start", "a new crash budget, then spawn" },
	[A_WAKE]          = { "wake", "event woke, then start" },
	[A_WAKE_AFTER]    = { "wake_after", "up again once the stop is done "
	                      "(event woke when it is an idle stop)" },
	[A_REVIVE]        = { "revive", "event woke with a new crash budget, "
	                      "then start" },
	[A_CANCEL]        = { "cancel", "the pending restart is off: stopped" },
	[A_CANCEL_RETRY]  = { "cancel_retry", "the retried or waiting start is "
	                      "off: stopped (a job's run: its result, "
	                      "spawn_failed)" },
	[A_STOP]          = { "stop", "the stop signal to the tree (reason "
	                      "request)" },
	[A_STOP_AFTER]    = { "stop_after", "stay down once the tree is gone "
	                      "(reason request, unless an idle stop)" },
	[A_KILL]          = { "kill", "SIGKILL to the tree (reason request)" },
	[A_ESCALATE]      = { "escalate", "SIGKILL to the tree: killing" },
	[A_READY]         = { "ready", "event ready: running" },
	[A_FORCE]         = { "force", "the stop signal to the tree; the exit "
	                      "counts with the forced reason" },
	[A_START_TIMEOUT] = { "start_timeout", "force, reason timeout" },
	[A_IDLE_STOP]     = { "idle_stop", "the stop signal to the tree "
	                      "(reason idle): idle once it is gone" },
	[A_RESTART]       = { "restart", "spawn, counted as a restart" },
	[A_RETRY]         = { "retry", "the same start again, not counted" },
	[A_EXITED]        = { "exited", "event exited; the policy's verdict "
	                      "unless stopped on request; what is left of the "
	                      "tree is stopped, or the run is over" },
	[A_CHECK_TREE]    = { "check_tree", "the main reaped and the tree "
	                      "gone: the run is over (a job's result, stopped, "
	                      "idle, or the verdict: backoff, restart, failed)" },
	[A_DEPS]          = { "deps", "its after list again: spawn when every "
	                      "unit of it is there, failed when one failed, "
	                      "else wait on" },
};

static const char *const timer_names[] = {
	"-", "backoff delay", "retry (500 ms)", "start-timeout", "stop-timeout",
	"kill re-check (1 s)",
};

const char *fsm_event_name(enum fsm_event e)
{
	return (size_t)e < E_NEVENTS ? event_names[e] : "unknown";
}

const char *fsm_action_name(enum fsm_action a)
{
	return (size_t)a < A_NACTIONS ? actions[a].name : "unknown";
}

const char *fsm_action_doc(enum fsm_action a)
{
	return (size_t)a < A_NACTIONS ? actions[a].doc : "unknown";
}

bool fsm_may_move(enum fsm_state from, enum fsm_state to)
{
	return from < F_NSTATES && to < F_NSTATES &&
	       (fsm_states[from].next & BIT(to));
}

char *fsm_markdown(void)
{
	struct buf b = { 0 };
	buf_adds(&b, "| state | shown as |");
	for (size_t e = 0; e < E_NEVENTS; e++)
		buf_addf(&b, " %s |", event_names[e]);
	buf_adds(&b, "\n| --- | --- |");
	for (size_t e = 0; e < E_NEVENTS; e++)
		buf_adds(&b, " --- |");
	buf_addc(&b, '\n');
	for (size_t s = 0; s < F_NSTATES; s++) {
		buf_addf(&b, "| %s | %s |", fsm_states[s].name,
		         unit_state_name(fsm_states[s].shown));
		for (size_t e = 0; e < E_NEVENTS; e++)
			buf_addf(&b, " %s |", actions[fsm_table[s][e]].name);
		buf_addc(&b, '\n');
	}
	buf_adds(&b, "\n| action | what it does |\n| --- | --- |\n");
	for (size_t a = 0; a < A_NACTIONS; a++)
		buf_addf(&b, "| %s | %s |\n", actions[a].name, actions[a].doc);
	buf_adds(&b, "\n| state | its timer | run alive | may move to |\n"
	         "| --- | --- | --- | --- |\n");
	for (size_t s = 0; s < F_NSTATES; s++) {
		buf_addf(&b, "| %s | %s | %s |", fsm_states[s].name,
		         timer_names[fsm_states[s].timer],
		         fsm_states[s].alive ? "yes" : "no");
		if (fsm_states[s].next == ANY) {
			buf_adds(&b, " any |\n");
			continue;
		}
		const char *sep = " ";
		for (size_t t = 0; t < F_NSTATES; t++)
			if (fsm_states[s].next & BIT(t)) {
				buf_addf(&b, "%s%s", sep, fsm_states[t].name);
				sep = ", ";
			}
		buf_adds(&b, " |\n");
	}
	return b.s;
}
