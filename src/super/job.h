/* job — the runs of a [job]: one-shot process trees, at most one at a time.
 *
 * A request (tend run, a trigger, every) while no run is going starts one
 * at once.  While one runs, the request is satisfied by ONE trailing run
 * after the current one: any number of requests during a run collapse into
 * it (event job_coalesced).  Every request is covered by the first run
 * that starts after it: job_request returns that run's number, and
 * whoever waits for it is answered when that run ends.
 *
 * A run is the unit's run (unit.h): its whole tree is stopped when its
 * main process exits, whatever happens, so a run leaves nothing behind.
 * It ends with one result: success (a success code), failure (another
 * code), timeout (ran longer than `timeout`: tend stopped it), memory (over
 * memory-max), killed (a signal, or tend stop), spawn_failed.  Its
 * duration and the peak memory of its tree (anon + shmem, sampled every
 * memory-interval while it runs) go to the job_finished event and to
 * status (last_run).
 *
 * max-jobs (global, default: the number of CPUs): at most that many runs
 * of all jobs go at once; a run beyond it waits (state queued), and freed
 * slots go to the oldest waiting request first.  A request while its job
 * waits is covered by the run that waits.
 *
 * Circuit breaker: after max-failures failed runs in a row (failure,
 * timeout, memory, spawn_failed; killed does not count, success resets)
 * the job is in cooldown for cooldown: requests are refused (a trailing
 * run asked for before still runs), unless forced.  every = DURATION asks
 * for a run on that interval (CLOCK_MONOTONIC: suspended time does not
 * count; a tick in a cooldown is dropped).
 *
 * Events: job_started {run, by}, job_finished {run, result, code, signal,
 * duration_ms, peak_mem_bytes}, job_coalesced {run, by}.
 */
#ifndef TEND_JOB_H
#define TEND_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "list.h"

struct unit;
struct unit_host;
struct job;

enum job_result { JR_NONE, JR_SUCCESS, JR_FAILURE, JR_TIMEOUT, JR_MEMORY,
                  JR_KILLED, JR_SPAWN_FAILED };
const char *job_result_name(enum job_result r);

struct job_run {
	unsigned long n;          /* 1, 2, ...; 0: none yet */
	enum job_result result;
	int code;                 /* exit code, or -1 */
	int signal;               /* or 0 */
	uint64_t at;              /* wall ms of its end */
	uint64_t duration_ms;
	uint64_t peak_mem;        /* bytes */
};

/* The daemon's jobs, for max-jobs: queued runs start oldest request
 * first while fewer than MAX run (the supervisor's; all zeros but host
 * and max is empty). */
struct job_queue {
	struct list jobs;
	unsigned max;
	const struct unit_host *host;
};

/* U's job, one of Q's. */
struct job *job_new(struct unit *u, struct job_queue *q);
void job_free(struct job *j);

/* A request for a run (BY: "cli", "watch", "every").  Returns the number
 * of the run that covers it (the one starting now, or the trailing one);
 * *COALESCED tells whether it joined a trailing run.  In a cooldown it is
 * refused (0) unless FORCE, which ends the cooldown. */
unsigned long job_request(struct job *j, const char *by, bool *coalesced,
                          bool force);

/* Is its next run waiting for a max-jobs slot? */
bool job_queued(const struct job *j);

/* In a cooldown (after max-failures failed runs in a row, for cooldown)?
 * *UNTIL: its end, CLOCK_MONOTONIC ms (mono_ms). */
bool job_cooling(const struct job *j, uint64_t *until);

/* When every = DURATION next asks for a run (CLOCK_MONOTONIC ms,
 * mono_ms), or 0 without every. */
uint64_t job_next_every(const struct job *j);

/* The run going on now (its number), or 0. */
unsigned long job_current(const struct job *j);

/* The last run that ended (n == 0: none yet). */
const struct job_run *job_last(const struct job *j);

/* The unit's run is about to be spawned: its log gets a line
 * "--- tend: run N (BY) ---" after everything the last run wrote, so
 * tend logs JOB shows the runs apart. */
void job_run_starting(struct job *j);

/* The unit's run just started / ended (called by unit.c). */
void job_run_started(struct job *j);
void job_run_over(struct job *j);

/* "idle", "running", "queued" or "cooldown" (status). */
const char *job_state(const struct job *j);

/* last_run for status: null before the first run. */
json_t *job_last_json(const struct job *j);

#endif
