/* jrpc — see jrpc.h.
 *
 * One pass over the line, left to right, with no recursion and no
 * allocation: the only memory that grows with the nesting is a bit per
 * level (object or array) in a fixed array of JRPC_MAX_DEPTH bits.  The
 * members tend cares about all live in the first few levels (the message,
 * its params and result, their _meta), so only those levels remember where their
 * container started and which span it fills once it closes.
 *
 * Choices the header leaves open:
 * - a \u escape naming a lone surrogate (U+D800..U+DFFF not in a pair)
 *   decodes to its 3-byte form (as WTF-8 does) rather than being refused:
 *   RFC 8259 lets it through its grammar, and distinct escapes must stay
 *   distinct strings (a URI is a key of the subscription counts);
 * - a tracked key given twice inside params._meta (progressToken, the
 *   subscription id, the log level) or result._meta (the subscription
 *   id) makes the message invalid, as one inside params does;
 * - jrpc_splice returns NULL (and *OUTLEN 0) for edits that fall outside
 *   the buffer or overlap, or when the result's size overflows, rather
 *   than writing out of bounds.  Insertions (empty spans) at one offset go
 *   in the order given, before a replacement starting there. */
#include "jrpc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Levels whose containers may be a tracked value: 1 the message, 2 a
 * member of it (params, result), 3 a member of params or result (_meta,
 * or a container as requestId), 4 a member of _meta (a container as
 * progressToken). */
#define TRACK_DEPTH 4

/* What an object is, for the members it holds. */
enum ctx {
	CTX_NONE,
	CTX_TOP,    /* the message */
	CTX_PARAMS, /* its params */
	CTX_META,   /* params._meta */
	CTX_RESULT, /* its result */
	CTX_RMETA,  /* result._meta */
};

struct level {
	size_t start;       /* offset of the '{' or '[' */
	struct jspan *slot; /* filled with the container's span at its end */
	enum ctx ctx;
};

struct scanner {
	const char *buf;
	size_t len, i; /* i: the cursor */
	size_t depth;  /* containers open around the cursor */
	unsigned char is_obj[(JRPC_MAX_DEPTH + 7) / 8];
	struct level lv[TRACK_DEPTH + 1]; /* by depth, 1..TRACK_DEPTH */
	/* Set by a tracked key for the value that follows it. */
	struct jspan *slot;
	enum ctx ctx;
	struct jspan meta; /* params._meta: a slot to see it given twice */
	struct jspan rmeta; /* result._meta, likewise */
	bool dup;          /* a tracked member was given twice */
	struct jrpc_msg *m;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at P (N bytes left) as a number, or -1. */
static long hex4(const char *p, size_t n)
{
	long v = 0;
	if (n < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hex_val(p[k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* --- decoding a string token (jrpc_str_eq, jrpc_str, keys) --- */

/* The content of a string token, between its quotes, read one character
 * at a time.  It checks what it reads, so that any span can be given. */
struct dec {
	const char *p, *end;
};

static bool dec_init(struct dec *d, const char *buf, struct jspan s)
{
	if (s.len < 2 || buf[s.off] != '"' || buf[s.off + s.len - 1] != '"')
		return false;
	d->p = buf + s.off + 1;
	d->end = buf + s.off + s.len - 1;
	return true;
}

static int utf8_put(unsigned long cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The \u escape at D->p (just past the 'u'), a surrogate pair taken
 * whole; a lone surrogate stands for itself (see the top). */
static int dec_unicode(struct dec *d, char out[4])
{
	long hi = hex4(d->p, (size_t)(d->end - d->p));
	if (hi < 0)
		return -1;
	d->p += 4;
	if (hi >= 0xd800 && hi <= 0xdbff && d->end - d->p >= 6 &&
	    d->p[0] == '\\' && d->p[1] == 'u') {
		long lo = hex4(d->p + 2, 4);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			d->p += 6;
			return utf8_put(0x10000 + (((unsigned long)hi - 0xd800) << 10) +
			                ((unsigned long)lo - 0xdc00), out);
		}
	}
	return utf8_put((unsigned long)hi, out);
}

/* Decodes the next character into OUT: its byte count (1-4), 0 at the
 * end of the string, -1 when the token is malformed. */
static int dec_next(struct dec *d, char out[4])
{
	if (d->p == d->end)
		return 0;
	unsigned char c = (unsigned char)*d->p++;
	if (c == '"' || c < 0x20)
		return -1;
	if (c != '\\') {
		out[0] = (char)c;
		return 1;
	}
	if (d->p == d->end)
		return -1;
	switch (*d->p++) {
	case '"': out[0] = '"'; return 1;
	case '\\': out[0] = '\\'; return 1;
	case '/': out[0] = '/'; return 1;
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u': return dec_unicode(d, out);
	default: return -1;
	}
}

bool jrpc_str_eq(const char *buf, struct jspan s, const char *name)
{
	struct dec d;
	char ch[4];
	int n;

	if (!dec_init(&d, buf, s))
		return false;
	/* Stops at the first difference: a 10 MB key costs a few bytes. */
	while ((n = dec_next(&d, ch)) > 0) {
		for (int k = 0; k < n; k++) {
			/* NAME's end first: a decoded NUL must not match it. */
			if (*name == '\0' || *name != ch[k])
				return false;
			name++;
		}
	}
	return n == 0 && *name == '\0';
}

bool jrpc_is_null(const char *buf, struct jspan s)
{
	return s.len == 4 && memcmp(buf + s.off, "null", 4) == 0;
}

char *jrpc_str(const char *buf, struct jspan s)
{
	struct dec d;
	char ch[4];
	int n;

	if (!dec_init(&d, buf, s))
		return NULL;
	/* Decoding never lengthens: an escape of 2, 6 or 12 bytes gives at
	 * most 1, 3 or 4. */
	char *out = xmalloc(s.len - 1);
	size_t o = 0;
	while ((n = dec_next(&d, ch)) > 0) {
		if (memchr(ch, '\0', (size_t)n)) {
			free(out);
			return NULL;
		}
		memcpy(out + o, ch, (size_t)n);
		o += (size_t)n;
	}
	if (n < 0) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	return out;
}

/* --- scanning --- */

static void skip_ws(struct scanner *s)
{
	while (s->i < s->len && is_ws(s->buf[s->i]))
		s->i++;
}

static bool at(const struct scanner *s, char c)
{
	return s->i < s->len && s->buf[s->i] == c;
}

/* The string token at the cursor (on its '"'), checked and passed. */
static bool scan_string(struct scanner *s)
{
	const char *b = s->buf;
	size_t i = s->i + 1, n = s->len;

	for (;;) {
		/* The common case first: plain bytes, a 10 MB result mostly. */
		while (i < n && (unsigned char)b[i] >= 0x20 && b[i] != '"' &&
		       b[i] != '\\')
			i++;
		if (i == n || (unsigned char)b[i] < 0x20)
			return false;
		if (b[i] == '"')
			break;
		/* A backslash. */
		if (++i == n)
			return false;
		if (b[i] == 'u') {
			if (hex4(b + i + 1, n - i - 1) < 0)
				return false;
			i += 5;
		} else if (b[i] != '\0' && strchr("\"\\/bfnrt", b[i])) {
			i++;
		} else {
			return false;
		}
	}
	s->i = i + 1;
	return true;
}

/* Passes one or more digits at the cursor, or fails. */
static bool scan_digits(struct scanner *s)
{
	size_t i0 = s->i;
	while (s->i < s->len && is_digit(s->buf[s->i]))
		s->i++;
	return s->i > i0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  What follows (a
 * leading zero's digits, say) is left to the caller to refuse. */
static bool scan_number(struct scanner *s)
{
	if (at(s, '-'))
		s->i++;
	if (at(s, '0'))
		s->i++;
	else if (!scan_digits(s))
		return false;
	if (at(s, '.')) {
		s->i++;
		if (!scan_digits(s))
			return false;
	}
	if (at(s, 'e') || at(s, 'E')) {
		s->i++;
		if (at(s, '+') || at(s, '-'))
			s->i++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

static bool scan_literal(struct scanner *s, const char *word)
{
	size_t n = strlen(word);
	if (s->len - s->i < n || memcmp(s->buf + s->i, word, n) != 0)
		return false;
	s->i += n;
	return true;
}

/* A string, number or literal at the cursor (not at the end). */
static bool scan_scalar(struct scanner *s)
{
	char c = s->buf[s->i];
	if (c == '"')
		return scan_string(s);
	if (c == '-' || is_digit(c))
		return scan_number(s);
	if (c == 't')
		return scan_literal(s, "true");
	if (c == 'f')
		return scan_literal(s, "false");
	if (c == 'n')
		return scan_literal(s, "null");
	return false;
}

static bool top_is_obj(const struct scanner *s)
{
	size_t d = s->depth - 1;
	return s->is_obj[d / 8] & (1u << (d % 8));
}

static enum ctx ctx_here(const struct scanner *s)
{
	return s->depth <= TRACK_DEPTH ? s->lv[s->depth].ctx : CTX_NONE;
}

/* Opens the container at the cursor; the span it fills and what it is
 * come from the key before it. */
static bool open_container(struct scanner *s, bool obj)
{
	if (s->depth == JRPC_MAX_DEPTH)
		return false;
	size_t d = s->depth++;
	if (obj)
		s->is_obj[d / 8] |= (unsigned char)(1u << (d % 8));
	else
		s->is_obj[d / 8] &= (unsigned char)~(1u << (d % 8));
	if (s->depth <= TRACK_DEPTH)
		s->lv[s->depth] = (struct level){
			.start = s->i,
			.slot = s->slot,
			.ctx = obj ? s->ctx : CTX_NONE,
		};
	s->slot = NULL;
	s->ctx = CTX_NONE;
	s->i++;
	return true;
}

/* Closes the container whose '}' or ']' is at the cursor. */
static void close_container(struct scanner *s)
{
	if (s->depth <= TRACK_DEPTH && s->lv[s->depth].slot) {
		struct level *l = &s->lv[s->depth];
		*l->slot = (struct jspan){ l->start, s->i + 1 - l->start };
	}
	s->depth--;
	s->i++;
}

/* A member tend reads: its key, where the span of its value goes (a
 * field of the message, or of the scanner's own for a _meta, to see it
 * given twice), what the value is if it is an object. */
struct member {
	const char *key;
	bool own;          /* OFF is in struct scanner, else in struct jrpc_msg */
	size_t off;
	enum ctx child;
};

#define MSG(f) false, offsetof(struct jrpc_msg, f)
#define OWN(f) true, offsetof(struct scanner, f)
static const struct member top_members[] = {
	{ "id", MSG(id), CTX_NONE },
	{ "method", MSG(method), CTX_NONE },
	{ "params", MSG(params), CTX_PARAMS },
	{ "result", MSG(result), CTX_RESULT },
	{ "error", MSG(error), CTX_NONE },
};
static const struct member params_members[] = {
	{ "_meta", OWN(meta), CTX_META },
	{ "progressToken", MSG(progress_token), CTX_NONE },
	{ "requestId", MSG(request_id), CTX_NONE },
	{ "uri", MSG(uri), CTX_NONE },
	{ "level", MSG(level), CTX_NONE },
};
static const struct member meta_members[] = {
	{ "progressToken", MSG(meta_progress), CTX_NONE },
	{ JRPC_META_SUBSCRIPTION, MSG(meta_sub), CTX_NONE },
	{ JRPC_META_LOG_LEVEL, MSG(meta_level), CTX_NONE },
};
static const struct member result_members[] = {
	{ "_meta", OWN(rmeta), CTX_RMETA },
};
static const struct member rmeta_members[] = {
	{ JRPC_META_SUBSCRIPTION, MSG(result_sub), CTX_NONE },
};
#undef MSG
#undef OWN

/* The members each kind of object holds that tend reads. */
static const struct {
	const struct member *v;
	size_t n;
} members_of[] = {
	[CTX_NONE] = { NULL, 0 },
	[CTX_TOP] = { top_members, ARRAY_LEN(top_members) },
	[CTX_PARAMS] = { params_members, ARRAY_LEN(params_members) },
	[CTX_META] = { meta_members, ARRAY_LEN(meta_members) },
	[CTX_RESULT] = { result_members, ARRAY_LEN(result_members) },
	[CTX_RMETA] = { rmeta_members, ARRAY_LEN(rmeta_members) },
};
_Static_assert(ARRAY_LEN(members_of) == CTX_RMETA + 1,
               "a kind of object without its members");

/* Where the value of member KEY of the object at the cursor goes, and
 * what it is if it is an object itself; NULL when it is not tracked. */
static struct jspan *member_slot(struct scanner *s, struct jspan key,
                                 enum ctx *child)
{
	enum ctx here = ctx_here(s);
	*child = CTX_NONE;
	for (size_t i = 0; i < members_of[here].n; i++) {
		const struct member *mb = &members_of[here].v[i];
		if (!jrpc_str_eq(s->buf, key, mb->key))
			continue;
		*child = mb->child;
		char *base = mb->own ? (char *)s : (char *)s->m;
		return (struct jspan *)(void *)(base + mb->off);
	}
	return NULL;
}

/* A member's key and its ':' at the cursor (whitespace skipped before);
 * sets the slot for the value that follows. */
static bool scan_key(struct scanner *s)
{
	skip_ws(s);
	if (!at(s, '"'))
		return false;
	struct jspan key = { s->i, 0 };
	if (!scan_string(s))
		return false;
	key.len = s->i - key.off;
	if (ctx_here(s) != CTX_NONE) {
		s->slot = member_slot(s, key, &s->ctx);
		/* Every value is at least one byte: a span set is a member seen
		 * (the earlier one ended before this key). */
		if (s->slot && s->slot->len != 0)
			s->dup = true;
	}
	skip_ws(s);
	if (!at(s, ':'))
		return false;
	s->i++;
	return true;
}

/* The value at the cursor: a scalar whole, or a container's opening and
 * its first key, or its closing when it is empty.  *DONE: a whole value
 * was read (not only opened). */
static bool scan_value(struct scanner *s, bool *done)
{
	skip_ws(s);
	if (s->i == s->len)
		return false;
	char c = s->buf[s->i];
	if (c == '{' || c == '[') {
		if (!open_container(s, c == '{'))
			return false;
		skip_ws(s);
		*done = at(s, c == '{' ? '}' : ']');
		if (*done)
			close_container(s);
		else if (c == '{')
			return scan_key(s);
		return true;
	}
	size_t off = s->i;
	if (!scan_scalar(s))
		return false;
	if (s->slot)
		*s->slot = (struct jspan){ off, s->i - off };
	s->slot = NULL;
	s->ctx = CTX_NONE;
	*done = true;
	return true;
}

/* After a value: a ',' and the next key or element, or the end of the
 * enclosing container; at the top, nothing but whitespace.  *MORE: a
 * value is to be read next. */
static bool scan_after(struct scanner *s, bool *more)
{
	*more = false;
	for (;;) {
		skip_ws(s);
		if (s->depth == 0)
			return s->i == s->len;
		if (s->i == s->len)
			return false;
		bool obj = top_is_obj(s);
		char c = s->buf[s->i];
		if (c == ',') {
			s->i++;
			*more = true;
			return obj ? scan_key(s) : true;
		}
		if (c != (obj ? '}' : ']'))
			return false;
		close_container(s);
	}
}

/* The whole text: one value, whitespace around it. */
static bool scan_text(struct scanner *s)
{
	for (;;) {
		bool done = false, more;
		if (!scan_value(s, &done))
			return false;
		if (!done)
			continue;
		if (!scan_after(s, &more))
			return false;
		if (!more)
			return true;
	}
}

static enum jrpc_kind classify(const struct scanner *s)
{
	const struct jrpc_msg *m = s->m;

	if (s->dup)
		return JRPC_INVALID;
	if (m->method.len) {
		if (s->buf[m->method.off] != '"')
			return JRPC_INVALID;
		return m->id.len ? JRPC_REQUEST : JRPC_NOTIFICATION;
	}
	if (m->id.len && (m->result.len || m->error.len))
		return JRPC_RESPONSE;
	return JRPC_INVALID;
}

enum jrpc_kind jrpc_scan(const char *buf, size_t len, struct jrpc_msg *m)
{
	struct scanner s = {
		.buf = buf, .len = len, .ctx = CTX_TOP, .m = m,
	};

	memset(m, 0, sizeof(*m));
	m->kind = JRPC_PARSE_ERROR;
	skip_ws(&s);
	if (s.i == len)
		return m->kind;
	char first = buf[s.i];
	if (!scan_text(&s))
		return m->kind;
	if (first == '{')
		m->kind = classify(&s);
	else if (first == '[')
		m->kind = JRPC_BATCH;
	else
		m->kind = JRPC_NOT_OBJECT;
	return m->kind;
}

/* --- splicing --- */

/* By offset; at one offset, insertions (empty spans) before the
 * replacement, and otherwise the order given (the pointers' order). */
static int edit_cmp(const void *a, const void *b)
{
	const struct jrpc_edit *x = *(const struct jrpc_edit *const *)a;
	const struct jrpc_edit *y = *(const struct jrpc_edit *const *)b;

	if (x->span.off != y->span.off)
		return x->span.off < y->span.off ? -1 : 1;
	if ((x->span.len == 0) != (y->span.len == 0))
		return x->span.len == 0 ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* The sorted edits fit in LEN bytes without overlapping; *SIZE gets the
 * length of the result. */
static bool edits_fit(const struct jrpc_edit *const *e, size_t n, size_t len,
                      size_t *size)
{
	size_t pos = 0, out = len;

	for (size_t k = 0; k < n; k++) {
		struct jspan sp = e[k]->span;
		if (sp.off < pos || sp.off > len || sp.len > len - sp.off)
			return false;
		pos = sp.off + sp.len;
		out -= sp.len; /* the spans are disjoint parts of LEN */
		if (__builtin_add_overflow(out, e[k]->len, &out))
			return false;
	}
	*size = out;
	return true;
}

char *jrpc_splice(const char *buf, size_t len, const struct jrpc_edit *e,
                  size_t n, size_t *outlen)
{
	const struct jrpc_edit **order = xcalloc(n, sizeof(*order));
	size_t size;

	*outlen = 0;
	for (size_t k = 0; k < n; k++)
		order[k] = &e[k];
	if (n > 1)
		qsort(order, n, sizeof(*order), edit_cmp);
	if (!edits_fit(order, n, len, &size)) {
		free(order);
		return NULL;
	}

	char *out = xmalloc(size);
	size_t pos = 0, o = 0;
	for (size_t k = 0; k < n; k++) {
		const struct jrpc_edit *ed = order[k];
		size_t keep = ed->span.off - pos;
		if (keep)
			memcpy(out + o, buf + pos, keep);
		o += keep;
		if (ed->len)
			memcpy(out + o, ed->text, ed->len);
		o += ed->len;
		pos = ed->span.off + ed->span.len;
	}
	if (len > pos)
		memcpy(out + o, buf + pos, len - pos);
	free(order);
	*outlen = size;
	return out;
}
