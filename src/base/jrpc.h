/* jrpc — one JSON-RPC 2.0 message (one line of MCP's stdio transport),
 * scanned without building it: its kind, and the byte spans of the members
 * tend reads or rewrites.  The rest of the message (a 10 MB tool result,
 * say) is validated and passed on byte for byte, never decoded.
 *
 * The scanner checks the whole text against RFC 8259 (strings, escapes,
 * numbers, literals, nesting; one value and nothing but whitespace after
 * it).  Bytes >= 0x80 inside strings are taken as they are (UTF-8 is not
 * checked).  Nesting deeper than JRPC_MAX_DEPTH is refused, without
 * recursion (no stack grows with the input).
 *
 * Spans point into the scanned buffer: off is the offset of the value's
 * first byte, len its length (a string's includes its quotes).  len 0:
 * the member is absent (or its parent is not an object). */
#ifndef TEND_JRPC_H
#define TEND_JRPC_H

#include <stdbool.h>
#include <stddef.h>

#define JRPC_MAX_DEPTH 512

/* Keys of _meta that MCP 2026-07-28 reserves and tend reads. */
#define JRPC_META_SUBSCRIPTION "io.modelcontextprotocol/subscriptionId"
#define JRPC_META_LOG_LEVEL "io.modelcontextprotocol/logLevel"

enum jrpc_kind {
	JRPC_PARSE_ERROR,    /* not JSON (or nested too deep) */
	JRPC_BATCH,          /* a JSON array at the top */
	JRPC_NOT_OBJECT,     /* JSON, but neither object nor array */
	JRPC_INVALID,        /* an object that is no JSON-RPC message (no
	                        method and no result/error; method not a
	                        string; a tracked member given twice) */
	JRPC_REQUEST,        /* method and id */
	JRPC_NOTIFICATION,   /* method, no id */
	JRPC_RESPONSE,       /* id and result or error, no method */
};

struct jspan {
	size_t off, len;
};

struct jrpc_msg {
	enum jrpc_kind kind;
	/* top level */
	struct jspan id;             /* any JSON value; "null" when id: null */
	struct jspan method;         /* a string token, quotes included */
	struct jspan params, result, error;
	/* inside params (an object), when there */
	struct jspan meta_progress;  /* params._meta.progressToken */
	struct jspan progress_token; /* params.progressToken */
	struct jspan request_id;     /* params.requestId */
	struct jspan uri;            /* params.uri */
	struct jspan level;          /* params.level */
	/* MCP 2026-07-28's members of params._meta and result._meta */
	struct jspan meta_sub;       /* params._meta[JRPC_META_SUBSCRIPTION] */
	struct jspan meta_level;     /* params._meta[JRPC_META_LOG_LEVEL] */
	struct jspan result_sub;     /* result._meta[JRPC_META_SUBSCRIPTION] */
};

/* Scans BUF[0..LEN) into *M.  Returns M->kind. */
enum jrpc_kind jrpc_scan(const char *buf, size_t len, struct jrpc_msg *m);

/* Is the span a JSON string token equal to NAME once decoded (escapes
 * such as \u0070 included)? */
bool jrpc_str_eq(const char *buf, struct jspan s, const char *name);

/* Is the span the literal null? */
bool jrpc_is_null(const char *buf, struct jspan s);

/* The span's string token decoded into a malloc'd, NUL-terminated string,
 * or NULL when the span is not a string (or decodes to one holding a NUL
 * byte). */
char *jrpc_str(const char *buf, struct jspan s);

/* One replacement: the bytes of SPAN become TEXT[0..LEN). */
struct jrpc_edit {
	struct jspan span;
	const char *text;
	size_t len;
};

/* BUF[0..LEN) with the N edits made (spans must not overlap; any order),
 * as a malloc'd buffer of *OUTLEN bytes (not NUL-terminated, no newline
 * added). */
char *jrpc_splice(const char *buf, size_t len, const struct jrpc_edit *e,
                  size_t n, size_t *outlen);

#endif
