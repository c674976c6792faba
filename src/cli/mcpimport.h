/* mcpimport — `tend mcp import|unimport [CLIENT ...] [--dry-run]`: finds the
 * MCP clients' own configuration files, has each rewritten (src/cli/mcpconf.c,
 * src/cli/mcptoml.c), then shows the change as a diff (--dry-run) or writes it:
 * a backup next to the file first (FILE.tend-backup, .1, .2, ...: never one
 * overwritten), then the file replaced atomically (a temporary file in the
 * same directory, fsync, rename; its mode kept; a symlink's target edited,
 * and said so; nothing written when the file changed meanwhile).  Codex's
 * TOML is never written: the tables to paste are printed.
 *
 * One line per server, per file; a summary line.  Exit 0; 1 when a file
 * could not be read, parsed or written (the others are still processed);
 * 2 for bad usage.
 *
 * import --http (src/cli/mcphttp.c): each server becomes a section of the
 * default daemon's tend.ini ($TEND_CONFIG's when set), written before the
 * client's file, and the client's entry its URL; then the daemon is
 * reloaded, started when it is not running. */
#ifndef TEND_MCPIMPORT_H
#define TEND_MCPIMPORT_H

/* `tend mcp ARGS...` (ARGV: the words after "mcp"); returns the exit code. */
int mcp_command(int argc, char **argv);

#endif
