/* sup — the supervisor: one event loop, the units of one configuration,
 * signals, reaping, and the process-table view that tells each unit which
 * processes are its tree.  tend exec and the daemon both run on it.
 *
 * tend makes itself a child subreaper, so every orphan of every tree comes
 * back to it; SIGCHLD (through the loop's signalfd) reaps them all and tells
 * the unit whose shim it was, and every stopping unit that its tree may
 * have shrunk.
 *
 * Signals: SIGTERM and SIGINT stop every unit gracefully, then the loop
 * returns; a second SIGINT kills every tree at once.  In exec mode (one
 * unit, tend exec) other signals are forwarded to the whole tree, strays
 * are adopted by the unit, and sup_run returns as soon as the unit is at
 * rest, with the exit code tend exec promises.  For the daemon SIGHUP goes
 * to the hup hook (a reload).
 *
 * Its other jobs have files of their own, whose headers this one
 * includes: the process-table view (sup_tree.h), the procs file and a
 * killed daemon's leftovers (sup_procs.h), memory figures and sampling
 * (sup_memory.h), and the reload (sup_reload.h).
 */
#ifndef TEND_SUP_H
#define TEND_SUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "events.h"
#include "held.h"
#include "loop.h"
#include "paths.h"
#include "sup_memory.h"
#include "sup_procs.h"
#include "sup_reload.h"
#include "sup_tree.h"

struct unit;

struct sup_hooks {
	void (*changed)(void *ctx, struct unit *u);  /* any state change */
	void (*hup)(void *ctx);                      /* SIGHUP */
	void *ctx;
};

/* The supervisor: opaque; its fields are its own files' (sup_int.h). */
struct sup;

/* Takes CFG's units over (CFG->units[i] become NULL); CFG, EV and PATHS
 * must outlive the supervisor or be replaced (sup_reload).  OUT_FD: where
 * units' labelled lines go (-1: nowhere; taken over). */
struct sup *sup_new(struct tend_config *cfg, struct events *ev,
                    bool exec_mode, const struct paths *paths, int out_fd);
void sup_free(struct sup *s);

/* The event loop S runs on (the daemon serves its control socket on it). */
struct loop *sup_loop(const struct sup *s);

/* Whom S tells of its units' changes and of SIGHUP (none until set). */
void sup_set_hooks(struct sup *s, const struct sup_hooks *hooks);

/* The daemon's listen sockets: S takes HELD over (its set is empty until
 * then) and gives them to the services (sup_clients_sync). */
void sup_hold(struct sup *s, struct held_set *held);

/* The units, in the order they were added, removed ones that are not
 * gone yet included (struct unit's removed): sup_unit_at(S, I) for I
 * below sup_nunits(S).  The set changes when a unit is added, by a
 * reload and by the sweep of dropped units, never while it is read. */
size_t sup_nunits(const struct sup *s);
struct unit *sup_unit_at(const struct sup *s, size_t i);

/* Everything stops: sup_shutdown was called, or a stop signal came. */
bool sup_shutting_down(const struct sup *s);

/* Something allocated and freed much (a status of every unit): the heap's
 * free pages go back once things are quiet. */
void sup_after_burst(struct sup *s);

/* What tend status tells of the supervisor itself (status.h). */
struct sup_report {
	bool stopping;             /* sup_shutting_down */
	uint64_t uptime_ms;        /* since sup_new */
	uint64_t wakeups;          /* of its loop (loop.h) */
	uint64_t notify_ignored;   /* notifications not taken: from live
	                            * processes outside the unit's tree, and
	                            * ones that were none (notify.h) */
	const char *cgroup;        /* the runs' cgroups' parent; NULL: none */
	const char *cgroup_why;    /* why there are none, or NULL */
	pid_t keeper;              /* the keeper's pid (keeper.h), 0: none yet */
	bool pidns;                /* runs are in its pid namespace */
	const char *pidns_why;     /* why not (pid-namespace = no, or the
	                            * kernel's refusal), or NULL */
	size_t keeper_strays;      /* its children that are no run's main */
};
void sup_report(const struct sup *s, uint64_t now, struct sup_report *r);

/* tend exec: starts the unit and runs until it is at rest.  Returns the
 * process exit code. */
int sup_run(struct sup *s);

/* The daemon's steps: become subreaper and route signals (-1/errno on
 * failure); start the boot services; stop everything (the loop returns
 * once all is at rest); after the loop, kill what no unit claims. */
int sup_prepare(struct sup *s);
void sup_boot(struct sup *s);
void sup_shutdown(struct sup *s);
void sup_finish(struct sup *s);

/* From now on every service gets NOTIFY_SOCKET: a socket of its own at
 * PREFIX + NAME + ".notify", opened at its first start (notify.h).  A
 * datagram counts when its sender is a process of the unit's tree, or is
 * gone already (a helper such as systemd-notify exits at once; only the
 * unit's processes were given the path); one from a live process outside
 * the tree is ignored and counted. */
void sup_notify_enable(struct sup *s, const char *prefix);

/* Gives every unit with watch its watch set (watch.h; made again when
 * its watch settings changed), every service with stdio its share
 * (share.h), every service with listen addresses its proxy (proxy.h) and
 * the fds of the held set: after the set is filled, and after every reload
 * (call sup_clients_unwatch before the held set changes). */
void sup_clients_sync(struct sup *s);
void sup_clients_unwatch(struct sup *s);

/* An instance of PARENT (a service with stdio = per-client or mcp): a
 * unit NAME with PARENT's settings (PER_CLIENT: restart = never), its
 * stderr into PARENT's log.  Not started. */
struct unit *sup_add_instance(struct sup *s, struct unit *parent,
                              const char *name, bool per_client);

/* U goes: stopped if it runs, freed once at rest (from the loop, never
 * from inside U's own code). */
void sup_drop(struct sup *s, struct unit *u);
/* Frees now the units that were dropped and are at rest (from outside
 * any unit's code: a request's handler). */
void sup_sweep(struct sup *s);

/* A unit of tend connect -- CMD (UC: zeroconf.h's, named; taken over):
 * an MCP service like a configured one, with its log, not started.  A
 * reload never touches it.  It is forgotten (event forgotten, then
 * dropped) once it has been at rest (idle, stopped, failed) with no
 * client connected or waiting for as long as its idle-stop
 * (CONFIG_CONNECT_IDLE_STOP_MS when that is none); the clock starts when
 * both became true.  share.c calls sup_clients_changed when a client
 * comes or goes. */
struct unit *sup_add_connect(struct sup *s, struct unit_config *uc);
void sup_clients_changed(struct sup *s, struct unit *u);

/* The unit named NAME, or NULL. */
struct unit *sup_find(struct sup *s, const char *name);

/* Called by units: a state change. */
void sup_unit_changed(struct sup *s, struct unit *u);

/* tend ran out of file descriptors (EMFILE, ENFILE): WHAT is what it could
 * not do.  Reported once, as a warn with "condition": "fds", until the
 * shortage is over: no unit waits to be started for want of them (unit.h)
 * and the control socket accepts again; sup_fds_check, called after a
 * unit's changed, then emits one event recovered.  sup_ctl_starved: the
 * control socket refuses connections for want of them (STARVED), or
 * accepts again (the shortage reported, or checked for its end). */
void sup_fds_short(struct sup *s, const char *what);
void sup_fds_check(struct sup *s);
void sup_ctl_starved(struct sup *s, bool starved);

/* A write to the events file or a unit's log failed (PATH, ERR: a full
 * disk, say).  Reported once, as a warn with "condition": "disk", until
 * every one of them can be written again (tried every SUP_DISK_RETRY_MS,
 * and with each event and batch of lines): then one event recovered with
 * how many events and lines were lost meanwhile.  Events wait in memory
 * meanwhile (events.h); supervision goes on as if nothing happened. */
#define SUP_DISK_RETRY_MS 1000
void sup_disk_short(struct sup *s, const char *path, int err);

/* A jitter draw in [0, 1) for backoff. */
double sup_jitter(struct sup *s);

#endif
