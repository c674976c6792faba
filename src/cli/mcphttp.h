/* mcphttp — tend mcp import --http: the tend.ini side.
 *
 * Each stdio server of the MCP clients' files becomes a section of the
 * default daemon's tend.ini (or $TEND_CONFIG), served over Streamable HTTP by
 * tend itself (listen = http:127.0.0.1:PORT, docs/mcp-http.md), and the
 * client's entry that URL (mcpconf_rewrite_http).  A server that a section
 * already serves (the same command line, working directory and
 * environment: the same server of another client, or of an earlier
 * import) gets that section's URL, so every client shares one server.
 *
 * A section is:
 *
 *     # tend mcp import --http: "memory" of /home/u/.claude.json (Claude Code, ...)
 *     [service memory]
 *     exec = npx -y @modelcontextprotocol/server-memory
 *     stdio = mcp
 *     listen = http:127.0.0.1:7431
 *     auth = token-file:/home/u/.config/tend/mcp-http.token
 *     cwd = /home/u/app                  ; a project's server: the project
 *     env = MEMORY_FILE_PATH=/home/u/m.json   ; the entry's "env"
 *     idle-stop = 10m                    ; as tend connect -- CMD's default
 *
 * and tend connect's flags of an entry that ran through it (--memory-max
 * 300M) become its keys.  The port is the first from the base (--port,
 * default MCPHTTP_PORT) that no section of the file uses and nothing on the
 * machine holds.  The token (auth, unless --no-auth) is one file beside
 * tend.ini, mode 0600, 64 hex digits of getrandom, made at the first
 * import that needs it and shared by every section.
 *
 * Nothing is written here: the caller (mcpimport.c) writes the text this
 * module gives, whole, after a load of it as tend would load the file
 * (config_load_text) has passed — a section that would not load is never
 * written.
 */
#ifndef TEND_MCPHTTP_H
#define TEND_MCPHTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "mcpconf.h"

#define MCPHTTP_PORT 7431
/* The line above each section it writes begins so. */
#define MCPHTTP_COMMENT "# tend mcp import --http:"

struct mcphttp;

/* For tend.ini at PATH (absolute; it need not exist).  NULL after an
 * error line (the file does not load: it must be fixed first).  DRY: the
 * entries show "NEW-TOKEN" for a token not made yet. */
struct mcphttp *mcphttp_open(const char *path, int base_port, bool auth, bool dry);
void mcphttp_free(struct mcphttp *h);

/* tend mcp unimport: tend.ini at PATH read and loaded, saying nothing:
 * NULL when there is none, or when it does not load (*WHY then, malloc'd:
 * the loader's first line). */
struct mcphttp *mcphttp_load(const char *path, char **why);
/* mcpconf_served_fn: the server of the section import --http made (its
 * comment above its header) that serves URL. */
bool mcphttp_served(void *ctx, const char *url, struct mcpconf_served *out);
/* How many URLs mcphttp_served has found so far. */
size_t mcphttp_served_count(const struct mcphttp *h);

/* The client file whose servers come next: named in each section's
 * comment; PROJECT (may be NULL) is the directory its servers run in
 * when their entry has no "cwd" (a project's file: the project). */
void mcphttp_source(struct mcphttp *h, const char *file, const char *title,
                    const char *project);

/* mcpconf_http's url: the section that serves S, made when none does. */
char *mcphttp_url(void *ctx, const struct mcpconf_server *s, const char **token,
                  char **why);

/* The file's path, and its text as last written (or read) and as it is
 * now, with the sections made since (*NOW NULL when none were). */
const char *mcphttp_path(const struct mcphttp *h);
void mcphttp_texts(const struct mcphttp *h, const char **then, const char **now);
/* The sections made since are written (or, dry, shown): forget them
 * (true) or drop them (false: the file was not written). */
void mcphttp_done(struct mcphttp *h, bool written);

/* The token file to make before the file is written, and its text (both
 * NULL when it exists already, or when there is no auth). */
void mcphttp_token_file(const struct mcphttp *h, const char **path, const char **text);
void mcphttp_token_made(struct mcphttp *h);

#endif
