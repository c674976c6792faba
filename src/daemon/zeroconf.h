/* zeroconf — tend connect -- CMD: the shared service the daemon makes for
 * a command line, without any file (docs/mcp.md, "Zero configuration").
 *
 * A request carries the client's argv, working directory and environment,
 * and --KEY VALUE settings.  zc_build turns it into the unit's settings
 * (stdio = mcp, start = on-demand, idle-stop 10m unless a flag says) and
 * its sharing key; clients share one instance exactly when their keys are
 * equal:
 *
 *   key = the unit's effective settings (the command, the working
 *         directory, every flag, as tend check would print them)
 *       + the client's environment, sorted, without the variables that
 *         vary per terminal (zc_per_terminal) and those named by
 *         env-ignore; with env-require, only the variables it names.
 *
 * The key holds values (secrets too): it is compared, never shown.  The
 * unit's name is derived from the command (zc_name_base: the package or
 * script a launcher such as npx, uvx, python or docker runs), with a short
 * hash of the key appended only when another unit has the name already.
 *
 * Everything here but zc_which and zc_build (which looks for the program)
 * is pure.
 */
#ifndef TEND_ZEROCONF_H
#define TEND_ZEROCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util.h"

/* A derived name is at most this long, room left for "-" and 8 hex
 * digits within the 64 bytes of a unit name. */
#define ZC_NAME_MAX 48

struct zc_request {
	char *const *argv;     /* NULL-terminated, at least one word */
	const char *cwd;       /* absolute */
	char *const *env;      /* NULL-terminated "NAME=VALUE" */
	char *const *set;      /* KEY, VALUE, KEY, VALUE, ...: the flags */
	size_t nset;           /* pairs */
};

/* Does variable NAME vary per terminal, so that it never decides sharing
 * (TERM_SESSION_ID, WINDOWID, SHLVL, PWD, _, TMUX_PANE, ...; docs/mcp.md
 * says why each)? */
bool zc_per_terminal(const char *name);

/* Does variable NAME decide sharing?  With REQUIRE (globs) not empty:
 * when it matches one of them and none of IGNORE; else when it is not
 * per-terminal and matches none of IGNORE. */
bool zc_env_compared(const char *name, const struct strv *ignore,
                     const struct strv *require);

/* The client's environment ENV as a unit of tend connect gets it: without
 * the variables tend sets itself for a run (TEND_UNIT, TEND_RUN,
 * NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*) and entries without a name. */
void zc_client_env(char *const *env, struct strv *out);

/* The sharing key of SETTINGS (config_unit_text of the unit) and the
 * client's environment ENV (as zc_client_env left it). Malloc'd. */
char *zc_key(const char *settings, char *const *env,
             const struct strv *ignore, const struct strv *require);

/* A readable name for the command ARGV: a valid unit name of at most
 * ZC_NAME_MAX bytes ("server-memory" for npx -y
 * @modelcontextprotocol/server-memory, "server.py" for python3
 * /x/server.py).  Malloc'd. */
char *zc_name_base(char *const *argv);

/* The name of a new unit: BASE if it is free, else BASE-XXXX, BASE-XXXXXXXX
 * (hex of a hash of KEY), then with -2, -3, ... appended.  TAKEN says
 * whether a name is in use ("tend", "events" and "daemon" always are: the
 * daemon's own names and files).  Malloc'd. */
char *zc_name(const char *base, const char *key,
              bool (*taken)(void *ctx, const char *name), void *ctx);

/* Finds the program PROG as execvp would with the search path PATH (NULL:
 * the default) from the directory CWD.  Returns 0, or -1 with *WHY (one
 * line, malloc'd). */
int zc_which(const char *prog, const char *path, const char *cwd, char **why);

/* The unit REQ asks for: settings checked, the program found on the
 * client's PATH, connect_key and client_env set, named by config_for_connect
 * (the caller names it).  NULL with *ERR (one line, malloc'd: what the
 * client got wrong, exit code 2) on failure. */
struct unit_config *zc_build(const struct zc_request *req, char **err);

#endif
