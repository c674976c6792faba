/* mcptoml — Codex's config.toml, read and never written: no TOML library at
 * hand keeps a file's comments and layout, so for each [mcp_servers.NAME]
 * table of a stdio server this gives the table as it should read after
 * import (or unimport), for the user to paste in place of the old one.
 *
 * Only what those tables need of TOML is read.  The whole file is scanned
 * for table headers (outside strings and values that span lines: multi-line
 * strings, arrays, inline tables); in a server table, "command" must be a
 * one-line string and "args" an array of one-line strings (basic or literal)
 * for tend to rewrite it; every other line of the table is given as it is.
 * The decision for each server is mcpconf_decide's, as for the JSON files.
 */
#ifndef TEND_MCPTOML_H
#define TEND_MCPTOML_H

#include <stddef.h>

#include "mcpconf.h"
#include "util.h"

/* Appends to OUT, for each server table OP changes, the table as it should
 * read (blocks separated by a blank line), and one report entry per server
 * table to REP.  Returns the number of tables given, or -1 with a malloc'd
 * one-line reason ("line N: ...") in *ERR when the file cannot be scanned
 * (an unterminated string, a header that does not close, ...). */
int mcptoml_rewrite(const char *text, size_t len, enum mcpconf_op op,
                    const char *tend, struct buf *out,
                    struct mcpconf_report *rep, char **err);

/* Appends S as a TOML basic string ("..." with escapes) to OUT. */
void mcptoml_string(struct buf *out, const char *s);

#endif
