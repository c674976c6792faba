/* mcp_params — the Mcp-Param-* headers of MCP 2026-07-28 (SEP-2243,
 * "custom headers from tool parameters"): a tool's inputSchema marks a
 * property with "x-mcp-header": "Name", and a client calling the tool
 * over HTTP sends the argument's value as Mcp-Param-Name.  The server
 * behind tend reads stdio and never sees the headers: tend checks them,
 * from the tools/list results it sees.  docs/mcp-http.md is the contract.
 *
 * Pure: JSON in, a table and verdicts out; no loop, no I/O.
 *
 *   scan     one tool's inputSchema -> its declarations (header name,
 *            property path, type), or why the tool's declarations are
 *            invalid (then none is enforced, as the revision says)
 *   table    tool name -> declarations, for the tools that have valid
 *            ones only, bounded (MCP_PARAMS_TOOLS_MAX, MCP_PARAMS_BYTES_MAX);
 *            complete when it holds a whole list (then a tool not in it
 *            has none); forgotten when the list changes
 *   check    a tools/call's arguments against its headers
 */
#ifndef TEND_MCP_PARAMS_H
#define TEND_MCP_PARAMS_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

#define MCP_PARAMS_TOOLS_MAX 4096           /* tools with declarations kept */
#define MCP_PARAMS_BYTES_MAX ((size_t)1 << 20)   /* what they take, about */
#define MCP_PARAMS_PER_TOOL_MAX 32          /* declarations of one tool */
#define MCP_PARAMS_DEPTH_MAX 16             /* properties keys to one */
#define MCP_PARAMS_NAME_MAX 128             /* bytes of an x-mcp-header */

/* One declaration: Mcp-Param-HEADER carries arguments.PATH[0]...PATH[N-1]. */
struct mcp_param {
	char *header;
	char **path;
	size_t depth;
	char type;                   /* 's'tring, 'i'nteger, 'b'oolean */
};

struct mcp_tool {
	char *name;
	struct mcp_param *p;
	size_t n;
};

/* The declarations of SCHEMA (a tool's inputSchema) in *TOOL (name
 * unset).  1: some, 0: none, -1: invalid (*WHY, malloc'd: why; none is
 * enforced).  Invalid: an x-mcp-header that is not a nonempty RFC 9110
 * token of at most MCP_PARAMS_NAME_MAX bytes, not unique ignoring case,
 * on a property whose type is not string, integer or boolean (or one of
 * them and "null"), on the root or anywhere not reached through
 * "properties" keys alone, more than MCP_PARAMS_PER_TOOL_MAX or deeper
 * than MCP_PARAMS_DEPTH_MAX.  Pure. */
int mcp_params_scan(const json_t *schema, struct mcp_tool *tool, char **why);
void mcp_tool_clear(struct mcp_tool *tool);

/* An Mcp-Name or Mcp-Param-* header value H as MCP 2026-07-28 encodes
 * it: plain visible ASCII, spaces and tabs, or "=?base64?B64?=" for any
 * other value.  The value in *OUT (malloc'd, NUL-terminated; *LEN bytes,
 * which may hold NULs); false when H is neither.  Pure. */
bool mcp_params_header_value(const char *h, char **out, size_t *len);

/* Does header value V (N bytes, decoded from =?base64?...?= already)
 * say the argument value ARG?  Strings byte for byte, integers and other
 * numbers numerically (42 and 42.0 agree), booleans as true and false;
 * anything else never.  Pure. */
bool mcp_params_value_eq(const char *v, size_t n, const json_t *arg);

/* Do the Mcp-Param headers of a tools/call of TOOL agree with ARGS (its
 * params.arguments; NULL: none)?  HDR(CTX, NAME) gives the request's
 * header NAME (case-insensitive), NULL when absent.  False with *WHY
 * (malloc'd: what disagrees and what to send): a value in ARGS without
 * its header, a header without a value (absent or null), a value that
 * is no header value (mcp_params_header_value) or that disagrees. */
bool mcp_params_check(const struct mcp_tool *tool, const json_t *args,
                      const char *(*hdr)(void *ctx, const char *name),
                      void *ctx, char **why);

struct mcp_params;
struct mcp_params *mcp_params_new(void);
void mcp_params_free(struct mcp_params *t);
/* The list changed (list_changed, a new server process): forget it. */
void mcp_params_stale(struct mcp_params *t);
/* Bumped by every mcp_params_stale. */
unsigned long mcp_params_gen(const struct mcp_params *t);
/* A tools/list RESULT (its "result" object): its tools' declarations are
 * kept.  WHOLE: it is a whole list (asked without a cursor, answered
 * without nextCursor): it replaces what is kept, and the table is
 * complete.  *WHY (malloc'd, or NULL): the tools not enforced and why,
 * said once per list (until mcp_params_stale). */
void mcp_params_feed(struct mcp_params *t, const json_t *result, bool whole,
                     char **why);
/* Every page of the list was fed since generation GEN began. */
void mcp_params_done(struct mcp_params *t, unsigned long gen);
/* TOOL (LEN bytes): its declarations, or NULL; *KNOWN: whether NULL
 * means it has none (the table is complete) rather than "not seen". */
const struct mcp_tool *mcp_params_find(const struct mcp_params *t,
                                       const char *tool, size_t len,
                                       bool *known);
size_t mcp_params_count(const struct mcp_params *t);

#endif
