/* dotenv — see dotenv.h. */
#include "dotenv.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


/* Longest excerpt of the input quoted in an error message. */
#define QUOTE_MAX 60
/* A value's length at most, expanded: Linux passes no longer environment
 * string to a program (MAX_ARG_STRLEN); and the values of one file at
 * most, all together: more than an exec takes.  Both also bound what a
 * file of references to references ("A=$A$A$A" line after line) makes. */
#define VALUE_MAX ((size_t)128 * 1024)
#define TOTAL_MAX ((size_t)4 * 1024 * 1024)

struct parser {
	const char *path;
	const char *text;       /* the whole input, CRLF already LF */
	const char *p;          /* where reading is */
	int line;               /* of p */
	dotenv_lookup lookup;
	void *ctx;
	struct strv *out;
	size_t first;           /* out's entries from this file start here */
	size_t total;           /* bytes of the values assigned so far */
	char **err;
};

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* The physical line that starts at or before AT, shortened, as a quote. */
static char *excerpt(const struct parser *ps, const char *at)
{
	const char *s = at;
	while (s > ps->text && s[-1] != '\n')
		s--;
	size_t n = strcspn(s, "\n");
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	if (n <= QUOTE_MAX)
		return xasprintf("%.*s", (int)n, s);
	return xasprintf("%.*s...", QUOTE_MAX, s);
}

static int fail(struct parser *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parser *ps, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = xvasprintf(fmt, ap);
	va_end(ap);
	str_clean(what);   /* a quote of a value may hold a newline */
	*ps->err = xasprintf("%s:%d: %s", ps->path, line, what);
	free(what);
	return -1;
}

/* NAME's value: the last of this file's keys above, else the caller's. */
static const char *value_of(const struct parser *ps, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = ps->out->n; i-- > ps->first; ) {
		const char *e = ps->out->v[i];
		if (strncmp(e, name, len) == 0 && e[len] == '=')
			return e + len + 1;
	}
	return ps->lookup ? ps->lookup(ps->ctx, name) : NULL;
}

/* Would N more bytes make the value in B longer than VALUE_MAX?  Then
 * the error (LINE for messages). */
static bool too_long(struct parser *ps, const struct buf *b, size_t n, int line)
{
	if (b->len + n <= VALUE_MAX)
		return false;
	fail(ps, line, "a value longer than %zu KiB with its variables expanded; "
	     "Linux passes no environment string that long to a program, so "
	     "shorten it", VALUE_MAX / 1024);
	return true;
}

/* At S[0] == '$' inside [S, END): expands one variable reference into B
 * and returns how many bytes it took (1 for a '$' that is just itself),
 * or 0 with *err set (LINE for messages). */
static size_t expand_one(struct parser *ps, const char *s, const char *end,
                         int line, struct buf *b)
{
	if (s + 1 < end && name_start(s[1])) {
		size_t n = 1;
		while (s + 1 + n < end && name_char(s[1 + n]))
			n++;
		char *name = xasprintf("%.*s", (int)n, s + 1);
		const char *v = value_of(ps, name);
		free(name);
		if (v && too_long(ps, b, strlen(v), line))
			return 0;
		buf_adds(b, v ? v : "");
		return n + 1;
	}
	if (s + 1 >= end || s[1] != '{') {
		buf_addc(b, '$');
		return 1;
	}
	const char *close = memchr(s, '}', (size_t)(end - s));
	const char *q = s + 2;
	if (!close) {
		char *x = excerpt(ps, s);
		fail(ps, line, "\"${\" without \"}\" in \"%s\"; write ${NAME}", x);
		free(x);
		return 0;
	}
	const char *nm = q;
	if (q < close && name_start(*q))
		while (q < close && name_char(*q))
			q++;
	bool dflt = close - q >= 2 && q[0] == ':' && q[1] == '-';
	if (q == nm || (q != close && !dflt)) {
		fail(ps, line, "bad variable reference \"%.*s\"; write ${NAME} or "
		     "${NAME:-default}, NAME of letters, digits and _",
		     (int)(close - s + 1), s);
		return 0;
	}
	char *name = xasprintf("%.*s", (int)(q - nm), nm);
	const char *v = value_of(ps, name);
	free(name);
	if (v && *v && too_long(ps, b, strlen(v), line))
		return 0;
	if (v && *v)
		buf_adds(b, v);
	else if (dflt)
		buf_add(b, q + 2, (size_t)(close - q - 2));
	return (size_t)(close - s + 1);
}

/* [S, END) into B: ${VAR} expanded, and with ESCAPES the backslash
 * escapes of double quotes.  LINE is where S is, for messages. */
static int render(struct parser *ps, const char *s, const char *end,
                  bool escapes, int line, struct buf *b)
{
	while (s < end) {
		if (escapes && *s == '\\' && s + 1 < end) {
			const char *from = "nrt\"\\$", *to = "\n\r\t\"\\$";
			const char *k = strchr(from, s[1]);
			if (k) {
				buf_addc(b, to[k - from]);
			} else {
				buf_add(b, s, 2);
			}
			line += s[1] == '\n';
			s += 2;
		} else if (*s == '$') {
			size_t took = expand_one(ps, s, end, line, b);
			if (!took)
				return -1;
			s += took;
		} else {
			line += *s == '\n';
			buf_addc(b, *s++);
		}
	}
	return 0;
}

/* After a closing quote: only blanks, then the end of the line or a
 * comment. */
static int after_quote(struct parser *ps, const char *q)
{
	while (is_blank(*q))
		q++;
	if (*q && *q != '\n' && *q != '#') {
		char *x = excerpt(ps, q);
		fail(ps, ps->line, "text after the closing quote in \"%s\"; quote the "
		     "whole value, or put a comment after \" #\"", x);
		free(x);
		return -1;
	}
	ps->p = q + strcspn(q, "\n");
	return 0;
}

/* A quoted value, at the opening quote Q ('\'' or '"'), into B. */
static int quoted(struct parser *ps, struct buf *b)
{
	const char *open = ps->p, *q = open + 1;
	char quote = *open;
	int start = ps->line;
	while (*q && *q != quote) {
		if (quote == '"' && *q == '\\' && q[1]) {
			ps->line += q[1] == '\n';
			q += 2;
			continue;
		}
		ps->line += *q == '\n';
		q++;
	}
	if (!*q) {
		char *x = excerpt(ps, open);
		fail(ps, start, "unterminated %s quote in \"%s\"; close it with %c",
		     quote == '"' ? "double" : "single", x, quote);
		free(x);
		return -1;
	}
	if (quote == '\'')
		buf_add(b, open + 1, (size_t)(q - open - 1));
	else if (render(ps, open + 1, q, true, start, b) < 0)
		return -1;
	if (!b->s)
		buf_add(b, "", 0);
	return after_quote(ps, q + 1);
}

/* An unquoted value at ps->p, to the end of the line, into B. */
static int unquoted(struct parser *ps, struct buf *b)
{
	const char *s = ps->p, *e = s;
	while (*e && *e != '\n' && !(*e == '#' && e > s && is_blank(e[-1])))
		e++;
	const char *eol = e + strcspn(e, "\n");
	while (e > s && is_blank(e[-1]))
		e--;
	ps->p = eol;
	buf_add(b, "", 0);
	return render(ps, s, e, false, ps->line, b);
}

/* Sets KEY to VALUE: in the place of this file's earlier KEY, if any. */
static void assign(struct parser *ps, const char *key, char *value)
{
	char *kv = xasprintf("%s=%s", key, value);
	size_t len = strlen(key);
	for (size_t i = ps->first; i < ps->out->n; i++) {
		if (strncmp(ps->out->v[i], key, len) == 0 && ps->out->v[i][len] == '=') {
			free(ps->out->v[i]);
			ps->out->v[i] = kv;
			return;
		}
	}
	strv_push(ps->out, kv);
}

/* One assignment, at its first non-blank character. */
static int assignment(struct parser *ps)
{
	const char *s = ps->p;
	if (strncmp(s, "export", 6) == 0 && is_blank(s[6])) {
		s += 6;
		while (is_blank(*s))
			s++;
	}
	const char *k = s;
	if (name_start(*s))
		while (name_char(*s))
			s++;
	const char *kend = s;
	while (is_blank(*s))
		s++;
	if (kend == k || *s != '=') {
		char *x = excerpt(ps, ps->p);
		if (kend == k)
			fail(ps, ps->line, "\"%s\" does not start with a variable name; "
			     "write KEY=VALUE, KEY of letters, digits and _", x);
		else
			fail(ps, ps->line, "\"%s\" is not KEY=VALUE; write KEY=VALUE "
			     "(a comment starts with #)", x);
		free(x);
		return -1;
	}
	s++;
	while (is_blank(*s))
		s++;
	ps->p = s;
	struct buf b = { 0 };
	int start = ps->line;
	int r = *s == '"' || *s == '\'' ? quoted(ps, &b) : unquoted(ps, &b);
	if (r == 0 && too_long(ps, &b, 0, start))
		r = -1;
	if (r == 0 && (ps->total += b.len) > TOTAL_MAX)
		r = fail(ps, start, "the values of this file come to more than %zu "
		         "MiB with their variables expanded, more than a program's "
		         "environment takes; split or shorten them",
		         TOTAL_MAX >> 20);
	if (r == 0) {
		char *key = xasprintf("%.*s", (int)(kend - k), k);
		assign(ps, key, b.s);
		free(key);
	}
	free(b.s);
	return r;
}

/* TEXT without the byte order mark and the CRs of CRLF. */
static char *normalized(const char *text)
{
	if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;
	char *t = xstrdup(text), *o = t;
	for (const char *c = t; *c; c++)
		if (!(c[0] == '\r' && c[1] == '\n'))
			*o++ = *c;
	*o = '\0';
	return t;
}

int dotenv_parse(const char *text, const char *path, dotenv_lookup lookup,
                 void *ctx, struct strv *out, char **err)
{
	*err = NULL;
	char *t = normalized(text);
	struct parser ps = { .path = path, .text = t, .p = t, .line = 1,
	                     .lookup = lookup, .ctx = ctx, .out = out,
	                     .first = out->n, .err = err };
	int r = 0;
	while (*ps.p && r == 0) {
		while (is_blank(*ps.p))
			ps.p++;
		if (*ps.p == '#')
			ps.p += strcspn(ps.p, "\n");
		else if (*ps.p && *ps.p != '\n')
			r = assignment(&ps);
		if (*ps.p == '\n') {
			ps.p++;
			ps.line++;
		}
	}
	if (r < 0) {
		while (out->n > ps.first)
			free(out->v[--out->n]);
		if (out->v)
			out->v[out->n] = NULL;
	}
	free(t);
	return r;
}
