/* status — the daemon's answer to `tend status`: the daemon itself and
 * each unit as a JSON object, with the fields docs/protocol.md lists.
 *
 * Read from the supervisor as it is at the moment of the request, after
 * a fresh memory sample of every unit (sup_measure): the process table is
 * read anew; a process's memory is read again unless its stat shows the
 * same resident pages and page faults as at the last read
 * (sup_memory.c), which nothing can change without changing those.  A unit removed by a reload is not shown; a
 * job's state and last run are the job's (job.h); a per-client instance,
 * a service of tend connect -- CMD, a proxy's and a share's clients add
 * their own fields.  The command of a tend connect -- CMD service is
 * shown, never its environment (it may hold secrets).
 */
#ifndef TEND_STATUS_H
#define TEND_STATUS_H

#include <stdbool.h>
#include <stddef.h>

struct sup;

/* What the daemon tells of itself beside what the supervisor knows. */
struct status_self {
	const char *config;   /* its file's path */
	bool is_default;      /* the user's default daemon */
	bool file;            /* the file exists (the default's need not) */
	size_t clients;       /* control connections open */
};

/* The reply (a line, ctl.h) to REQ, status [NAME]: every unit (NAME
 * NULL), or the unit NAME alone; an error reply (exit 2) when there is no
 * unit NAME.  Version 2 (REQ's version): {"version": 2, "daemon": {...},
 * "units": [...]}, the units with why they are not up, their listen
 * addresses and next run, CPU ticks and memory history; version 1
 * (deprecated): {"units": [...]}, the daemon first when NAME is NULL.
 * With history, someone watches: sampling is armed (sup_memory.h).
 * With ONLY (NONLY units: a request's names, expanded), those units alone,
 * as with a NAME. */
struct ctl_req;
struct unit;
char *status_reply(struct sup *s, const struct status_self *self,
                   const struct ctl_req *req, struct unit *const *only,
                   size_t nonly);

#endif
