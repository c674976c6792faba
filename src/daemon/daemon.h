/* daemon — tend up: the one daemon of a configuration file.
 *
 * Start-up, in this order: the runtime and state directories (paths.h);
 * the lock (whoever does not get it reports the daemon that has it); the
 * control socket, bound fresh (a stale one of a dead daemon is replaced:
 * we hold the lock); "listening"; whatever a killed predecessor left alive
 * is killed (sup_kill_leftovers); then the boot services start.
 *
 * The daemon answers the control protocol (ctl.h) through server.h: a
 * request's unit must be one its command applies to (the table, cmd.h),
 * then the command's handler answers it; status reads status.h, requests
 * that wait (start/restart --wait, stop, run --wait/--join, down) are
 * answered by waiters.h when the unit gets there.  SIGHUP and "reload"
 * re-read the file.
 *
 * Detaching (up -d, and commands that start the daemon): the caller forks,
 * the child leaves the session and forks the daemon, which reports its
 * progress over a pipe ("listening PID", "running PID" when another daemon
 * holds the lock, "booted FAILED...", "error MESSAGE") and writes its own
 * error lines to daemon.log in the state directory.
 */
#ifndef TEND_DAEMON_H
#define TEND_DAEMON_H

#include <stdbool.h>

#include "config.h"

/* tend up: runs the daemon of CFG in the foreground (DETACH false; unit
 * output labelled on stdout, events on stderr, JSON with JSON_EVENTS; both
 * written without blocking, through descriptors of their own: a reader
 * that stops reading loses lines, never stalls the daemon), or
 * detached, returning when every boot service has started or failed.
 * Takes CFG over.  Returns the exit code. */
int daemon_up(struct tend_config *cfg, bool detach, bool json_events);

/* Starts the daemon of CFG in the background unless one runs, and returns
 * once it accepts connections: 0, or 3 after an error line.  Takes CFG
 * over. */
int daemon_spawn(struct tend_config *cfg);

#endif
