/* mcpconf — the MCP clients' own configuration documents, rewritten so that
 * each stdio server runs through tend (import), and back (unimport).  Pure:
 * a parsed document in, the same document changed in place and one report
 * entry per server out; no files, no environment (src/cli/mcpimport.c does the
 * files and the command line).
 *
 * Import turns a stdio entry {"command": CMD, "args": [A, ...], ...} into
 * {"command": TEND, "args": ["connect", "--", CMD, A, ...], ...}: every other
 * member (env, cwd, type, ...) stays as it is, where it is.  Unimport turns
 * an entry of the form "tend [-c FILE] connect [FLAG ...] -- CMD A ..." back
 * into {"command": CMD, "args": [A, ...]} (the flags are dropped), keeping
 * whatever else changed since.  Left alone, and reported as such: remote
 * entries (url, httpUrl, type http / sse / streamable-http), entries already
 * through tend (import), entries not of that form (unimport), and entries
 * tend cannot rewrite safely (say why).
 *
 * import then unimport gives back an equal document when unimport is given
 * the original as a hint (an entry that had no "args" gets none back; without
 * a hint it keeps "args": []).
 */
#ifndef TEND_MCPCONF_H
#define TEND_MCPCONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Where a document keeps its servers. */
enum mcpconf_layout {
	MCPCONF_MCPSERVERS,  /* "mcpServers": .mcp.json, Cursor, Gemini CLI */
	MCPCONF_CLAUDE_USER, /* ~/.claude.json: "mcpServers", projects.PATH.mcpServers */
	MCPCONF_VSCODE,      /* "servers": VS Code's mcp.json */
};

enum mcpconf_op { MCPCONF_IMPORT, MCPCONF_UNIMPORT };

enum mcpconf_outcome {
	MCPCONF_CHANGED,  /* import: through tend now; unimport: its own command again */
	MCPCONF_REMOTE,   /* left: an HTTP or SSE server */
	MCPCONF_TEND,     /* import: left: already through tend */
	MCPCONF_NOT_TEND, /* unimport: left: not of the form tend connect -- CMD */
	MCPCONF_UNUSABLE, /* left: tend cannot rewrite it safely (detail says why) */
};

struct mcpconf_entry {
	char *scope; /* NULL; or the project path of a ~/.claude.json project */
	char *name;  /* the server's name in the document */
	enum mcpconf_outcome outcome;
	/* CHANGED: the command line it runs (shell-quoted: what the user
	 * recognizes); REMOTE: the kind; UNUSABLE, NOT_TEND: why; TEND: the
	 * command line after "--", or the service it connects to. */
	char *detail;
};

struct mcpconf_report {
	struct mcpconf_entry *v;
	size_t n, cap;
};

void mcpconf_report_free(struct mcpconf_report *rep);
/* Appends an entry (the strings are copied; SCOPE may be NULL). */
void mcpconf_report_add(struct mcpconf_report *rep, const char *scope,
                        const char *name, enum mcpconf_outcome outcome,
                        const char *detail);

/* Rewrites every server entry of DOC (laid out as LAYOUT) by OP.  TEND is
 * the command import writes ("tend", or an absolute path).  HINTS (newest
 * first, NHINTS of them, may be NULL) are earlier versions of the document
 * (backups): unimport gives an entry no "args" when the newest hint that has
 * it with the same command and arguments had none.  Returns the number of
 * entries changed, or -1 with a malloc'd one-line reason in *ERR when DOC is
 * not a document of that layout (the top level, or a server map, is not an
 * object); DOC is then untouched. */
int mcpconf_rewrite(json_t *doc, enum mcpconf_layout layout, enum mcpconf_op op,
                    const char *tend, json_t *const *hints, size_t nhints,
                    struct mcpconf_report *rep, char **err);

/* --- import --http ---------------------------------------------------------
 *
 * Each stdio server of a document (run directly, or through "tend connect
 * [FLAG ...] -- CMD ...") becomes a remote entry: the URL at which tend
 * serves it over Streamable HTTP, written the way the client reads one,
 * with the bearer token in "headers" when there is one.  "command",
 * "args", "env", "cwd" and "type" go (tend runs the server now: they are
 * in its section of tend.ini); every other member stays where it is.  The
 * caller decides the URL (src/cli/mcphttp.c: a section of tend.ini). */

/* One stdio server as tend would run it: pointers into the document. */
struct mcpconf_server {
	const char *scope;           /* as in struct mcpconf_entry */
	const char *name;
	const char *command;         /* the server's own (after connect's "--") */
	const char *const *args;
	size_t nargs;
	const char *const *flags;    /* tend connect's words before "--" */
	size_t nflags;
	const json_t *env;           /* the entry's "env" (strings), or NULL */
	const char *cwd;             /* the entry's "cwd", or NULL */
};

/* How a client writes a Streamable HTTP server. */
enum mcpconf_url_style {
	MCPCONF_URL_TYPED,   /* {"type": "http", "url": U}: Claude Code, VS Code */
	MCPCONF_URL_PLAIN,   /* {"url": U}: Cursor */
	MCPCONF_URL_HTTPURL, /* {"httpUrl": U}: Gemini CLI ("url" is its SSE) */
};

struct mcpconf_http {
	enum mcpconf_url_style style;
	/* The URL that serves S (malloc'd), and in *TOKEN the bearer token
	 * its requests must carry (borrowed; NULL: none); or NULL with a
	 * malloc'd one-line *WHY when it cannot be served. */
	char *(*url)(void *ctx, const struct mcpconf_server *s, const char **token,
	             char **why);
	void *ctx;
};

/* mcpconf_rewrite for import --http: every stdio server of DOC through
 * HTTP->url.  Report entries: CHANGED (detail: "URL (COMMAND LINE)"),
 * REMOTE, TEND (a "tend connect SERVICE" of a configured section), or
 * UNUSABLE (why).  Returns the number changed, or -1 as mcpconf_rewrite. */
int mcpconf_rewrite_http(json_t *doc, enum mcpconf_layout layout,
                         const struct mcpconf_http *http,
                         struct mcpconf_report *rep, char **err);

/* Unimport of what import --http wrote: a remote entry whose URL tend
 * serves (a section import --http made) runs that section's server
 * directly again.  From the newest hint (backup) whose entry of the same
 * scope and name ran that command line: its "command", "args", "env",
 * "cwd" and "type" (an entry through tend connect: the command after
 * "--"); without one, from the section (its "cwd" unless it is the
 * scope's project).  "url", "httpUrl", "type" and the Authorization
 * header go; every other member stays. */
struct mcpconf_served {
	const char *const *argv;     /* the section's exec */
	size_t argc;
	const char *const *env;      /* its env words, "KEY=VALUE" */
	size_t nenv;
	const char *cwd;             /* or NULL */
};

/* The server tend serves at URL (into *OUT, borrowed), or false. */
typedef bool (*mcpconf_served_fn)(void *ctx, const char *url,
                                  struct mcpconf_served *out);

/* mcpconf_rewrite (UNIMPORT) with SERVED: remote entries too. */
int mcpconf_unimport(json_t *doc, enum mcpconf_layout layout, json_t *const *hints,
                     size_t nhints, mcpconf_served_fn served, void *ctx,
                     struct mcpconf_report *rep, char **err);

/* Is COMMAND tend ("tend", or a path ending in "/tend")? */
bool mcpconf_is_tend(const char *command);

/* Where ARGS (N words after a tend command) name a server through tend:
 * after optional -c FILE / --config FILE / --config=FILE, "connect".
 * Returns the index of the first word after "connect" and sets *CMD to the
 * index of the command after "--" (-1 when there is no "--": the form that
 * names a configured service); returns -1 when ARGS is not a connect. */
long mcpconf_connect_at(const char *const *args, size_t n, long *cmd);

/* DOC as text: members in their order, INDENT (e.g. "  ") per level, one
 * member or element a line as JSON.stringify(doc, null, INDENT) writes it,
 * reals in their shortest form that reads back the same, a final newline.
 * Returns a malloc'd string. */
char *mcpconf_dump(const json_t *doc, const char *indent);

/* The indentation TEXT uses (the leading blanks of its first indented
 * line, at most 8), "  " when it has none; malloc'd. */
char *mcpconf_indent_of(const char *text, size_t len);

/* A command line: a command and its arguments (ARGS malloc'd, the words
 * borrowed from the caller's input). */
struct mcpconf_argv {
	const char *command;
	const char **args;
	size_t nargs;
};

/* What OP does to one stdio server that runs COMMAND + ARGS (N words):
 * MCPCONF_CHANGED with the new command line in *TO (free to->args), or
 * why it is left alone (TEND, NOT_TEND, UNUSABLE).  *DETAIL: a malloc'd
 * text for the report, as struct mcpconf_entry says.  TEND: as for
 * mcpconf_rewrite. */
enum mcpconf_outcome mcpconf_decide(enum mcpconf_op op, const char *tend,
                                    const char *command, const char *const *args,
                                    size_t n, struct mcpconf_argv *to,
                                    char **detail);

/* Why TEXT, which is not strict JSON, is probably JSON with comments
 * (JSONC, as VS Code lets users write it): "it has comments", "it has a
 * trailing comma" (outside strings); NULL when neither. */
const char *mcpconf_jsonc_reason(const char *text, size_t len);

/* Shell-quoted COMMAND + ARGS (N words): for the report. */
char *mcpconf_cmdline(const char *command, const char *const *args, size_t n);

#endif
