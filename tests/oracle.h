/* oracle — properties that hold for every input of tend's parsers, checked
 * the same way by the unit tests (tests/unit/) and by the fuzz harnesses
 * (fuzz/).  Each check returns NULL when the property holds, else a
 * malloc'd one-line description of what broke (the caller fails with it:
 * cmocka's fail_msg, or abort() in a harness so that libFuzzer keeps the
 * input). */
#ifndef TEND_ORACLE_H
#define TEND_ORACLE_H

#include <stdbool.h>
#include <stddef.h>

#include "jrpc.h"

/* "PARSE_ERROR", "REQUEST", ... */
const char *oracle_kind_name(enum jrpc_kind k);

/* Scans B[0..LEN) with jrpc_scan (into *M, which the caller may read) and
 * checks: the kind is returned and stored; every span lies inside the
 * buffer and is one JSON value scanned alone; methods decode and compare
 * equal to themselves; requests and responses have an id, responses a
 * result or an error; jansson agrees on what is JSON, what is an array and
 * what is neither object nor array (except where the scanner is lenient on
 * purpose: UTF-8, surrogates, huge numbers, NUL bytes in keys). */
char *oracle_jrpc(const char *b, size_t len, struct jrpc_msg *m);

/* A message tend gives for bad input INPUT[0..LEN) (an error's "why"):
 * not empty, one line (unless it quotes an input that has several).  It
 * may quote the input's bytes as they are; where it leaves tend (errline,
 * control replies, events) str_clean makes it valid UTF-8 without control
 * characters (C0, DEL, C1), which is checked too. */
char *oracle_message(const char *msg, const char *input, size_t len);

/* Is B[0..LEN) valid UTF-8 (no overlong forms, no surrogates, nothing past
 * U+10FFFF)? */
bool oracle_utf8(const char *b, size_t len);

/* A client configuration file TEXT[0..LEN) (any bytes; tend mcp import).
 * When it is JSON, for every layout of src/cli/mcpconf.h: a refused document
 * is untouched, with a one-line reason; import counts what it changes, its
 * dump reads back as the same document, a second import changes nothing,
 * and unimport (the original as hint) gives back what unimport of the
 * original gives: the original itself when no entry was through tend
 * already; the diff of TEXT and the dump applies (oracle_udiff).  As
 * Codex's TOML (src/cli/mcptoml.c): an error is one line; the tables import
 * gives are all through tend when imported again, and unimported run what
 * the originals ran. */
char *oracle_mcpconf(const char *text, size_t len);

/* The unified diff of A and B (src/cli/udiff.c), applied to A by a reader of
 * its own, gives B: hunks in order, context and removed lines as in A,
 * counts as in their headers. */
char *oracle_udiff(const char *a, size_t alen, const char *b, size_t blen);

#endif
