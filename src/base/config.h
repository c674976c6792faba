/* config — tend.ini and tend exec's flags, as one table of keys.
 *
 * Every key (DESIGN §4) is one row of a table in config.c: its name, where
 * it is allowed ([tend], [service], [job]), its value syntax and its default
 * written as text.  Defaults go through the same parsers as the file, `tend
 * check` prints every key back through the same formatters, and `tend exec
 * --KEY VALUE` sets keys through the same function as the file: one source
 * of truth for syntax, defaults and documentation.
 *
 * Errors are one line each, "FILE:LINE: what; what to do" (malloc'd).
 * Loading a file reports every error of it in one pass: the message is
 * the errors' lines in the order of the file, joined with newlines, at
 * most CONFIG_MAX_ERRORS of them and then a line "FILE: and N more
 * errors".  A mistyped key, section or value gets "did you mean" when one
 * is near (suggest.h), and the spellings of supervisord, systemd and pm2
 * get what tend calls them.
 */
#ifndef TEND_CONFIG_H
#define TEND_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"
#include "util.h"

enum unit_kind { KIND_SERVICE, KIND_JOB };
enum start_mode { START_BOOT, START_ON_DEMAND };
enum ready_mode { READY_NONE, READY_NOTIFY, READY_HEALTH, READY_SOCKET };
enum stdio_mode { STDIO_NONE, STDIO_EXCLUSIVE, STDIO_PER_CLIENT, STDIO_MCP };
/* stdio = mcp: what clients must have in common to share an instance,
 * besides the protocol version (docs/mcp.md). */
enum share_kind { SHARE_ALL, SHARE_ROOTS, SHARE_NONE };
enum on_change { ON_CHANGE_RESTART };

#define CONFIG_MAX_KEYS 60
/* Errors of a file reported at most; the rest are counted. */
#define CONFIG_MAX_ERRORS 20

struct unit_config {
	char *name;
	enum unit_kind kind;
	int line;                  /* of the section header; 0 on the command line */
	struct strv argv;          /* exec, split and expanded */
	char *cwd;                 /* NULL: the daemon's */
	/* The environment the unit adds, KEY=VALUE: the variables of its
	 * env-file files (later files win), then its env words, which win
	 * over the files whatever the order of the lines. */
	struct strv env;
	struct strv env_keys;      /* the env words as written, expanded */
	struct strv env_files;     /* env-file paths, absolute; "-" before: optional */
	struct strv env_file_vars; /* what the files gave, KEY=VALUE, one per KEY */
	enum start_mode start;
	struct policy_cfg policy;  /* restart, backoff, max-crashes, ... */
	struct success_codes success;
	int stop_signal;
	uint64_t stop_timeout_ms;
	uint64_t memory_max;       /* 0: none */
	unsigned memory_warn_pct;
	char *health;              /* NULL: none */
	uint64_t health_interval_ms, health_timeout_ms, health_grace_ms;
	unsigned health_strikes;
	enum ready_mode ready;
	uint64_t start_timeout_ms;
	uint64_t watchdog_ms;      /* 0: none */
	struct strv listen;        /* tcp: and unix: */
	unsigned listen_mode;      /* of unix: listen sockets */
	/* MCP over Streamable HTTP (listen = http:..., docs/mcp-http.md) */
	struct strv http;          /* "http:HOST:PORT[/PATH]", "http:unix:PATH" */
	char *auth_file;           /* auth = token-file:PATH (absolute); NULL: none */
	char *auth_token;          /* its content, read at load (no newline) */
	struct strv http_origins;  /* Origins allowed besides the local ones */
	enum http_remote { HTTP_REMOTE_NO, HTTP_REMOTE_YES } http_remote;
	uint64_t http_body_max;
	unsigned http_sessions_max, http_streams_max;
	uint64_t http_session_idle_ms;
	uint64_t http_timeout_ms;  /* a silent client's connection is cut */
	char *backend;             /* NULL: none */
	enum stdio_mode stdio;
	unsigned max_instances;
	enum share_kind share;
	uint64_t queue_timeout_ms;
	uint64_t idle_stop_ms;     /* 0: never */
	struct strv watch, watch_ignore;
	struct strv env_ignore, env_require;   /* tend connect -- CMD's sharing */
	/* after: "NAME:CONDITION" each, the condition filled in and checked
	 * at load (config_after_split); every NAME a unit of the file, and no
	 * cycle */
	struct strv after;
	uint64_t debounce_ms;
	enum on_change on_change;
	uint64_t timeout_ms, every_ms;   /* jobs; 0: none */
	unsigned max_failures;
	uint64_t cooldown_ms;
	int key_line[CONFIG_MAX_KEYS];   /* where each key was set; 0: default */
	/* A unit of tend connect -- CMD (created by the daemon for a client):
	 * what its clients must have in common to share it (zeroconf.h), and
	 * the environment of the client that created it, which replaces
	 * tend's own (env is added to it; ${VAR} sees it).  NULL and empty
	 * for units of a file. */
	char *connect_key;
	struct strv client_env;
};

/* The conditions of after = NAME[:CONDITION]: NAME's run started; ready
 * (as its ready = defines it: started when none); its health probe passed
 * (healthy); a job's last run succeeded (completed). */
enum after_cond { AFTER_STARTED, AFTER_READY, AFTER_HEALTHY, AFTER_COMPLETED };
const char *config_after_cond_name(enum after_cond c);
/* One word of a loaded unit's after list: its NAME (into BUF of SIZE) and
 * its condition. */
enum after_cond config_after_split(const char *word, char *buf, size_t size);

/* idle-stop of a service of tend connect -- CMD unless a flag says. */
#define CONFIG_CONNECT_IDLE_STOP_MS ((uint64_t)10 * 60 * 1000)

struct tend_config {
	char *path;                /* as given; "exec" for tend exec's flags */
	char *dir;                 /* the file's directory: base of relative cwd */
	uint64_t log_max;
	uint64_t memory_interval_ms;
	unsigned max_jobs;
	enum pidns_mode { PIDNS_NO, PIDNS_YES } pid_namespace;
	struct unit_config **units;
	size_t nunits;
	int key_line[CONFIG_MAX_KEYS];
};

/* Which file to use: -c FILE, $TEND_CONFIG, ./tend.ini, then
 * $XDG_CONFIG_HOME/tend/tend.ini (~/.config/tend/tend.ini).  Returns a
 * malloc'd path (the last candidate when none exists, so the error names
 * it). */
char *config_locate(const char *arg);
/* The default daemon's file for tend connect -- CMD: -c FILE, else
 * $TEND_CONFIG, else the user's own file (paths_user_config) -- never
 * ./tend.ini, so every directory reaches the same daemon. */
char *config_locate_default(const char *arg);
/* config_load, except that a file that does not exist is an empty
 * configuration (the default daemon's, paths.h). */
struct tend_config *config_load_optional(const char *path, char **err);

/* config_locate(ARG), loaded; NULL after printing the error line. */
struct tend_config *config_open(const char *arg);

/* Loads and validates PATH.  Returns NULL with *err set on any error. */
struct tend_config *config_load(const char *path, char **err);
/* The same for TEXT, read as if it were the file PATH in the directory
 * DIR (absolute): what a file would load as before it is written. */
struct tend_config *config_load_text(const char *path, const char *dir,
                                     const char *text, char **err);
void config_free(struct tend_config *cfg);   /* skips NULL units */
void config_unit_free(struct unit_config *u);
/* CFG's unit NAME, or NULL. */
const struct unit_config *config_unit_named(const struct tend_config *cfg,
                                            const char *name);
/* A deep copy of U named NAME. */
struct unit_config *config_unit_dup(const struct unit_config *u, const char *name);
/* Same effective settings (where keys were set does not matter)? */
bool config_unit_equal(const struct unit_config *a, const struct unit_config *b);

/* A configuration of one service for tend exec: defaults, then the caller
 * sets keys with config_set, then config_finish. */
struct tend_config *config_for_exec(char *const *argv);
/* The same for tend connect -- CMD (zeroconf.h): messages say "connect",
 * a relative cwd is relative to CWD (the client's), and the unit is an
 * MCP server on stdio (stdio = mcp), started on demand, idle-stopped after
 * CONFIG_CONNECT_IDLE_STOP_MS unless a key says otherwise. */
struct tend_config *config_for_connect(char *const *argv, const char *cwd);
/* Does tend connect -- CMD take --NAME (a service key other than exec,
 * stdio, start, listen, listen-mode, backend, max-instances)? */
bool config_is_connect_key(const char *name);
/* Sets KEY to VALUE on unit U (scope checked); SOURCE and LINE name the
 * origin for messages.  Returns 0 or -1 with *err set. */
int config_set(struct tend_config *cfg, struct unit_config *u, const char *key,
               const char *value, int line, char **err);
/* Cross-key checks and derived defaults; returns 0 or -1 with *err. */
int config_finish(struct tend_config *cfg, char **err);

/* Writes the effective settings of every unit, defaults included, as INI
 * that loads back to the same settings. */
void config_print(const struct tend_config *cfg, FILE *out);

/* One line per service key for tend exec --help (CONNECT: tend connect
 * --help): "  --KEY VALUE  help". */
void config_print_flags(FILE *out, bool connect);

/* The effective settings of U as text, as tend check prints them, and
 * as comments the variables its env-file files gave, so that a changed
 * file is a changed unit (malloc'd; NULL when out of memory). */
char *config_unit_text(const struct unit_config *u);

/* The line KEY was set on for U: 0 when it has its default or came from
 * the command line. */
int config_key_line(const struct unit_config *u, const char *key);

/* The line the [tend] key KEY was set on in CFG's file: 0 when it has its
 * default. */
int config_global_line(const struct tend_config *cfg, const char *key);

/* Is NAME a key of a unit of KIND? */
bool config_is_key(const char *name, enum unit_kind kind);

/* Names of the keys a unit set that this version accepts but does not act
 * on yet (so the caller can warn); returns how many were written to NAMES. */
size_t config_unenforced(const struct unit_config *u, const char **names,
                         size_t max);

const char *unit_kind_name(enum unit_kind k);
const char *share_kind_name(enum share_kind k);

/* Parses TEXT (a health probe, or a backend address as a connect check)
 * with U's environment for ${VAR} (probe_spec.h).  Returns 0 or -1 with *why. */
struct probe_spec;
int config_probe(const struct unit_config *u, const char *text,
                 struct probe_spec *spec, char **why);

#endif
