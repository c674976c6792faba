/* share — stdio sharing: the tend connect sessions of a service with
 * stdio = exclusive, per-client or mcp.
 *
 * A session is one tend connect.  It brings its control connection (taken
 * out of the server: the session's final line goes there, and its closing
 * means tend connect is gone) and the client's own stdin and stdout
 * (passed with SCM_RIGHTS).  The daemon reads and writes those itself, so
 * bytes go client -> daemon -> service without a second hop through tend
 * connect: spliced for per-client, copied through a buffer for exclusive,
 * read and written as lines for mcp (below).
 *
 * Each run of a program that sessions talk to gets a fresh stdin and stdout
 * pipe (share_spawn_fds); its stderr goes to the service's log as always.
 *
 * exclusive: one shared instance (the service itself), one session at a
 * time, the others queue in arrival order.  The session at the head wakes
 * the service and is linked to it once it is running; bytes are copied
 * (not spliced) so that tend knows where lines end:
 *  - after the client's EOF the session ends once the service has answered
 *    with a complete line and been quiet for SHARE_QUIET_MS, or after
 *    SHARE_NO_REPLY_MS without any answer; the service keeps running;
 *  - a client that leaves in the middle of a line it was sending gets the
 *    service restarted (it holds half a request);
 *  - output while no session is linked is read and dropped, and a new
 *    session starts at a line boundary.
 * An idle stop keeps the linked session: its next input wakes the service.
 *
 * per-client: each session gets an instance, a unit NAME#N with the
 * service's settings and restart = never, at most max-instances at once
 * (the others queue).  The client's EOF closes the instance's stdin; the
 * instance then has stop-timeout to exit before it is stopped.  The client
 * going away (its stdout closes, or tend connect's control connection
 * does) stops the instance's whole tree at once.
 *
 * mcp: every session at once, through the multiplexer (mcp.h), with an
 * instance of the server per key: the protocol version of the session's
 * first message, and with share = roots or none its capabilities and its
 * roots (asked for by tend, roots/list "tend-roots-N") or its own number.
 * The service's own runs serve the first key; another key gets a unit
 * NAME#N (the service's settings and policy), which goes with its last
 * session.  A session whose roots change moves once nothing of its is
 * pending.  What a server answered is kept per key (mcp_cache) across its
 * runs and instances.
 *
 * mcp: after the client's EOF its session stays until every request it
 * sent is answered and written out (at most SHARE_DRAIN_MS), as a server
 * started directly answers what it read before its stdin ended.
 *
 * Every mode: a session ends with one final line on its control connection:
 * {"ok": true, "done": true} when the program ended cleanly after the
 * client's EOF (or, for exclusive, when the client's turn is over), else
 * {"ok": false, "error": "...", "exit": 1} saying what happened.  A queued
 * session waits at most queue-timeout for its turn.
 */
#ifndef TEND_SHARE_H
#define TEND_SHARE_H

#include "config.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

#define SHARE_QUIET_MS 25
#define SHARE_NO_REPLY_MS 1000
/* stdio = mcp: after a client's EOF, how long the answers to its requests
 * in flight are waited for before its session ends anyway. */
#define SHARE_DRAIN_MS 60000

struct unit;
struct share;
struct share_inst;

/* For U, a service with stdio = MODE. */
struct share *share_new(struct unit *u, enum stdio_mode mode);
enum stdio_mode share_mode(const struct share *sh);
/* Ends every session (WHY in their final line), detaches instances. */
void share_free(struct share *sh, const char *why);

/* A connect request for the share's service: CTL is the control
 * connection, IN and OUT the client's stdin and stdout.  Returns 0 once the
 * session is queued (its accept line is sent; all three are the session's
 * now), or -1 with *ERR (malloc'd, one line; IN and OUT are closed, CTL is
 * still the caller's). */
int share_connect(struct share *sh, int ctl, int in, int out, char **err);

/* listen = http:... (stdio = mcp): serves the http: addresses of the
 * service's settings (the next ones, after a reload) on their fds in
 * HELD, each session a client of the multiplexer (mcp_http.h); an address
 * gone, or bound anew, ends its sessions.  Call after every held_sync. */
struct held_set;
void share_listen(struct share *sh, const struct held_set *held);

/* U (the service or one of its instances) changed state, or its main
 * process was reaped. */
void share_on_state(struct share *sh, struct unit *u);

/* Before U starts: the child's stdin and stdout for the new run.  Returns
 * 0, or -1/errno.  share_spawned(OK) follows every successful call, after
 * the spawn (OK: it succeeded), and closes the child's ends. */
int share_spawn_fds(struct share *sh, struct unit *u, int *in, int *out);
void share_spawned(struct share *sh, struct unit *u, bool ok);

/* U is going away (freed): forget it. */
void share_unit_gone(struct share *sh, struct unit *u);

/* The tend connect sessions of U (the service: all of them; an instance:
 * its own) for tend status: [{pid, program, cwd, instance, queued,
 * protocol}], program being the name of the process that started tend
 * connect (the client). */
json_t *share_sessions_json(const struct share *sh, const struct unit *u);

/* Sessions linked to a program (or waiting for it to run), and sessions
 * waiting for their turn. */
size_t share_clients(const struct share *sh);
size_t share_queued(const struct share *sh);
/* stdio = mcp: requests in flight at the server (busy: any; an idle stop
 * waits for them). */
size_t share_in_flight(const struct share *sh);
bool share_busy(const struct share *sh, const struct unit *u);

#endif
