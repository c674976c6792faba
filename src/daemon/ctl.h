/* ctl — the control protocol between the CLI (or any program) and the
 * daemon: JSON lines over the daemon's Unix socket (docs/protocol.md).
 *
 * One request per line, one JSON object:
 *   {"cmd": "ping"}
 *   {"cmd": "status", "name": "web"}          name optional
 *   {"cmd": "status", "version": 2, "history": true}   the v2 reply (status.h);
 *       history: memory samples, and sampling armed for a minute
 *   {"cmd": "start" | "stop" | "restart", "name": "web", "wait": true}
 *   {"cmd": "start", "names": ["web", "idx-*"]}   several units (status,
 *       start, stop, restart, run): names, globs, "all"; the reply has
 *       each unit's outcome, {"ok": true, "results": [{"name": ..., ...}]}
 *   {"cmd": "reload"}
 *   {"cmd": "down"}
 *   {"cmd": "run", "name": "index", "wait": true, "join": false, "force": false}
 *   {"cmd": "connect", "name": "mem"}   with two fds (SCM_RIGHTS): the
 *       client's stdin and stdout; the connection then belongs to the
 *       session (share.h): an accept line, later one final line
 *   {"cmd": "connect", "exec": ["npx", "-y", "pkg"], "cwd": "/abs",
 *    "env": ["HOME=/home/u", ...], "set": [["memory-max", "300M"], ...]}
 *       the same for the shared service of that command line, which the
 *       daemon creates on first use (zeroconf.h); "set" is optional
 * One reply per request, in order, one JSON object per line:
 *   {"ok": true, ...}  or  {"ok": false, "error": "one line", "exit": N}
 * where N is the exit code the CLI uses (1 failed, 2 bad request).
 *
 * This module is pure: it parses request lines (and makes requests of the
 * CLI's words) and builds replies; the sockets are server.c's and
 * client.c's.
 */
#ifndef TEND_CTL_H
#define TEND_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cmd.h"
#include "zeroconf.h"

#define CTL_LINE_MAX (1 << 20)   /* longest request line the daemon reads */

/* The commands, what each takes and applies to: cmd.h. */
struct ctl_req {
	enum ctl_cmd cmd;
	char *name;      /* NULL when not given */
	char **names;    /* "names": several units (cmd.h's many); NULL if not */
	size_t nnames;
	bool wait;
	bool join;       /* run */
	bool force;      /* run; reload */
	int version;     /* status: the reply's shape, 1 (0: not given) or 2 */
	bool history;    /* status: memory history wanted (status.h) */
	/* connect -- CMD (instead of a name): NULL-terminated */
	char **exec;     /* the command */
	char *cwd;       /* the client's working directory */
	char **env;      /* the client's environment, "NAME=VALUE" */
	char **set;      /* the flags: KEY, VALUE, KEY, VALUE, ... */
	size_t nset;     /* pairs in set */
};

const char *ctl_cmd_name(enum ctl_cmd c);

/* Parses one request line (without its newline).  Returns 0, or -1 with
 * *ERR (malloc'd, one line saying what is wrong). */
int ctl_parse(const char *line, size_t len, struct ctl_req *req, char **err);
void ctl_req_free(struct ctl_req *req);

/* The request the CLI's words (cmd_parse_args) make for CI: "names" when
 * they are several, or a pattern (cmd_is_pattern), else "name"; its names
 * point into theirs (not malloc'd: not for ctl_req_free); CMD_JSON, the
 * CLI's own, is not part of it. */
struct ctl_req ctl_req_of_args(const struct cmd_info *ci,
                               const struct cmd_args *args);

/* What tend connect -- CMD's request asks zeroconf to build. */
struct zc_request ctl_req_zc(const struct ctl_req *req);

/* The request as a line (with newline; malloc'd), for clients. */
char *ctl_format(const struct ctl_req *req);


#endif
