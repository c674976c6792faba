/* mcptoml — see mcptoml.h. */
#include "mcptoml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arrays and inline tables nested deeper are refused (the scanner
 * recurses once per level). */
#define TOML_DEPTH_MAX 64

struct scan {
	const char *t;
	size_t len, pos;
	unsigned line;
	unsigned depth;
	char *err; /* malloc'd once something failed */
};

/* One "key = value" line (or lines: a value may span several). */
struct kv {
	struct strv key; /* the dotted key, decoded */
	size_t line_start, value_start, value_end, line_end;
};

/* A table: its header line and its key/value lines, in order. */
struct table {
	struct strv path;
	bool array; /* [[...]]: an element of an array of tables, never a server */
	size_t header_start, header_end;
	struct kv *kv;
	size_t nkv, cap;
};

struct tables {
	struct table *v;
	size_t n, cap;
};

static int fail(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct scan *s, const char *fmt, ...)
{
	if (s->err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	s->err = xasprintf("line %u: %s", s->line, m);
	free(m);
	return -1;
}

static int peek(const struct scan *s, size_t ahead)
{
	return s->pos + ahead < s->len ? (unsigned char)s->t[s->pos + ahead] : -1;
}

static bool at_eol(const struct scan *s)
{
	return peek(s, 0) < 0 || peek(s, 0) == '\n' ||
	       (peek(s, 0) == '\r' && peek(s, 1) == '\n');
}

/* Past the end of the line at POS (which is at_eol). */
static void eat_newline(struct scan *s)
{
	if (peek(s, 0) == '\r')
		s->pos++;
	if (peek(s, 0) == '\n') {
		s->pos++;
		s->line++;
	}
}

static void skip_blanks(struct scan *s)
{
	while (peek(s, 0) == ' ' || peek(s, 0) == '\t')
		s->pos++;
}

static void skip_comment(struct scan *s)
{
	if (peek(s, 0) == '#')
		while (!at_eol(s))
			s->pos++;
}

/* Blanks, a comment, the end of the line. */
static int end_of_line(struct scan *s, const char *after)
{
	skip_blanks(s);
	skip_comment(s);
	if (!at_eol(s))
		return fail(s, "unexpected text after %s", after);
	eat_newline(s);
	return 0;
}

/* Blanks, newlines and comments: inside arrays and inline tables. */
static void skip_space(struct scan *s)
{
	for (;;) {
		skip_blanks(s);
		skip_comment(s);
		if (peek(s, 0) < 0 || !at_eol(s))
			return;
		eat_newline(s);
	}
}

static void add_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

static int read_escape(struct scan *s, struct buf *out)
{
	int c = peek(s, 0);
	s->pos++;
	static const char names[] = "btnfr\"\\e", chars[] = "\b\t\n\f\r\"\\\033";
	const char *simple = c > 0 ? strchr(names, c) : NULL;
	if (simple) {
		buf_addc(out, chars[simple - names]);
		return 0;
	}
	int digits = c == 'u' ? 4 : c == 'U' ? 8 : c == 'x' ? 2 : 0;
	if (!digits)
		return fail(s, "unknown escape in a string");
	unsigned long cp = 0;
	for (int i = 0; i < digits; i++) {
		int h = peek(s, 0);
		if (h < 0 || !strchr("0123456789abcdefABCDEF", h))
			return fail(s, "bad \\%c escape in a string", c);
		cp = cp * 16 + (unsigned long)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
		s->pos++;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(s, "escape of a code point that is not a character");
	add_utf8(out, cp);
	return 0;
}

/* A one-line string at POS, basic or literal, decoded into OUT. */
static int read_string(struct scan *s, struct buf *out)
{
	int q = peek(s, 0);
	s->pos++;
	for (;;) {
		int c = peek(s, 0);
		if (c < 0 || c == '\n')
			return fail(s, "a string does not end on its line");
		s->pos++;
		if (c == q)
			return 0;
		if (c == '\\' && q == '"') {
			if (read_escape(s, out) < 0)
				return -1;
			continue;
		}
		buf_addc(out, (char)c);
	}
}

/* A multi-line string at POS (three quotes). */
static int skip_multiline(struct scan *s)
{
	int q = peek(s, 0);
	s->pos += 3;
	for (;;) {
		int c = peek(s, 0);
		if (c < 0)
			return fail(s, "a multi-line string does not end");
		if (c == q && peek(s, 1) == q && peek(s, 2) == q) {
			s->pos += 3;
			/* up to two quotes of the content may come before */
			for (int i = 0; i < 2 && peek(s, 0) == q; i++)
				s->pos++;
			return 0;
		}
		if (c == '\\' && q == '"') { /* whatever follows is escaped */
			s->pos++;
			c = peek(s, 0);
			if (c < 0)
				continue;
		}
		if (c == '\n')
			s->line++;
		s->pos++;
	}
}

static bool bare_key_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A dotted key: bare, "basic" and 'literal' parts, decoded into KEY. */
static int read_key(struct scan *s, struct strv *key)
{
	for (;;) {
		struct buf part = { 0 };
		skip_blanks(s);
		int c = peek(s, 0);
		if (c == '"' || c == '\'') {
			if (read_string(s, &part) < 0) {
				free(part.s);
				return -1;
			}
		} else if (bare_key_char(c)) {
			while (bare_key_char(peek(s, 0)))
				buf_addc(&part, s->t[s->pos++]);
		} else {
			return fail(s, "a key was expected");
		}
		strv_push(key, buf_take(&part));
		skip_blanks(s);
		if (peek(s, 0) != '.')
			return 0;
		s->pos++;
	}
}

static int skip_value(struct scan *s);

/* An array or an inline table at POS (at most TOML_DEPTH_MAX deep). */
/* NOLINTNEXTLINE(misc-no-recursion): at most TOML_DEPTH_MAX deep */
static int skip_container(struct scan *s)
{
	int open = peek(s, 0), close = open == '[' ? ']' : '}';
	if (++s->depth > TOML_DEPTH_MAX)
		return fail(s, "values nested more than %d deep", TOML_DEPTH_MAX);
	s->pos++;
	for (;;) {
		skip_space(s);
		if (peek(s, 0) == close)
			break;
		if (open == '{') {
			struct strv key = { 0 };
			int r = read_key(s, &key);
			strv_free(&key);
			if (r < 0)
				return -1;
			skip_blanks(s);
			if (peek(s, 0) != '=')
				return fail(s, "\"=\" expected in an inline table");
			s->pos++;
			skip_blanks(s);
		}
		if (skip_value(s) < 0)
			return -1;
		skip_space(s);
		if (peek(s, 0) == ',') {
			s->pos++;
			continue;
		}
		if (peek(s, 0) != close)
			return fail(s, "\"%c\" or \",\" expected", close);
		break;
	}
	s->pos++;
	s->depth--;
	return 0;
}

/* NOLINTNEXTLINE(misc-no-recursion): at most TOML_DEPTH_MAX deep (skip_container) */
static int skip_value(struct scan *s)
{
	int c = peek(s, 0);
	if ((c == '"' || c == '\'') && peek(s, 1) == c && peek(s, 2) == c)
		return skip_multiline(s);
	if (c == '"' || c == '\'') {
		struct buf b = { 0 };
		int r = read_string(s, &b);
		free(b.s);
		return r;
	}
	if (c == '[' || c == '{')
		return skip_container(s);
	size_t start = s->pos;
	while (peek(s, 0) >= 0 && !at_eol(s) && !strchr(" \t,]}#", peek(s, 0)))
		s->pos++;
	if (s->pos == start)
		return fail(s, "a value was expected");
	return 0;
}

/* --- the file as tables --------------------------------------------------- */

static struct table *tables_add(struct tables *ts)
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 8;
		ts->v = xrealloc(ts->v, ts->cap * sizeof(*ts->v));
	}
	struct table *t = &ts->v[ts->n++];
	memset(t, 0, sizeof(*t));
	return t;
}

static void tables_free(struct tables *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		strv_free(&ts->v[i].path);
		for (size_t k = 0; k < ts->v[i].nkv; k++)
			strv_free(&ts->v[i].kv[k].key);
		free(ts->v[i].kv);
	}
	free(ts->v);
}

static int read_header(struct scan *s, struct tables *ts, size_t line_start)
{
	bool array = peek(s, 1) == '[';
	s->pos += array ? 2 : 1;
	struct table *t = tables_add(ts);
	t->header_start = line_start;
	if (read_key(s, &t->path) < 0)
		return -1;
	skip_blanks(s);
	if (peek(s, 0) != ']' || (array && peek(s, 1) != ']'))
		return fail(s, "a table header does not close with \"%s\"",
		            array ? "]]" : "]");
	s->pos += array ? 2 : 1;
	t->array = array;
	if (end_of_line(s, "a table header") < 0)
		return -1;
	t->header_end = s->pos;
	return 0;
}

static int read_kv(struct scan *s, struct table *t, size_t line_start)
{
	if (t->nkv == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->kv = xrealloc(t->kv, t->cap * sizeof(*t->kv));
	}
	struct kv *kv = &t->kv[t->nkv++];
	memset(kv, 0, sizeof(*kv));
	kv->line_start = line_start;
	if (read_key(s, &kv->key) < 0)
		return -1;
	if (peek(s, 0) != '=')
		return fail(s, "\"=\" expected after a key");
	s->pos++;
	skip_blanks(s);
	kv->value_start = s->pos;
	if (skip_value(s) < 0)
		return -1;
	kv->value_end = s->pos;
	if (end_of_line(s, "a value") < 0)
		return -1;
	kv->line_end = s->pos;
	return 0;
}

/* The file as its tables (the first one: the keys before any header). */
static int read_tables(struct scan *s, struct tables *ts)
{
	tables_add(ts);
	while (s->pos < s->len) {
		size_t line_start = s->pos;
		skip_blanks(s);
		skip_comment(s);
		if (at_eol(s)) {
			eat_newline(s);
			continue;
		}
		int r = peek(s, 0) == '[' ? read_header(s, ts, line_start)
		                          : read_kv(s, &ts->v[ts->n - 1], line_start);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* --- the servers' tables ------------------------------------------------- */

static const struct kv *find_kv(const struct table *t, const char *key)
{
	for (size_t i = 0; i < t->nkv; i++)
		if (t->kv[i].key.n == 1 && strcmp(t->kv[i].key.v[0], key) == 0)
			return &t->kv[i];
	return NULL;
}

/* A one-line string value, decoded (NULL when it is not one, or holds a
 * NUL character). */
static char *string_value(const char *text, const struct kv *kv)
{
	struct scan s = { text, kv->value_end, kv->value_start, 1, 0, NULL };
	int c = peek(&s, 0);
	struct buf b = { 0 };
	if ((c != '"' && c != '\'') || (peek(&s, 1) == c && peek(&s, 2) == c) ||
	    read_string(&s, &b) < 0 || s.pos != s.len || memchr(b.s ? b.s : "", 0, b.len)) {
		free(b.s);
		free(s.err);
		return NULL;
	}
	return buf_take(&b);
}

/* An array of one-line strings, decoded into WORDS; -1 when it is not. */
static int words_value(const char *text, const struct kv *kv, struct strv *words)
{
	struct scan s = { text, kv->value_end, kv->value_start, 1, 0, NULL };
	if (peek(&s, 0) != '[')
		return -1;
	s.pos++;
	for (;;) {
		skip_space(&s);
		if (peek(&s, 0) == ']')
			break;
		int c = peek(&s, 0);
		struct buf b = { 0 };
		if ((c != '"' && c != '\'') || (peek(&s, 1) == c && peek(&s, 2) == c) ||
		    read_string(&s, &b) < 0 || memchr(b.s ? b.s : "", 0, b.len)) {
			free(b.s);
			free(s.err);
			return -1;
		}
		char *w = buf_take(&b);
		strv_push(words, w);
		skip_space(&s);
		if (peek(&s, 0) == ',') {
			s.pos++;
			continue;
		}
		if (peek(&s, 0) != ']')
			return -1;
		break;
	}
	return s.pos + 1 == s.len ? 0 : -1;
}

void mcptoml_string(struct buf *out, const char *s)
{
	buf_addc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf_addc(out, '\\');
			buf_addc(out, (char)c);
		} else if (c == '\n') {
			buf_adds(out, "\\n");
		} else if (c == '\t') {
			buf_adds(out, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			char u[8];
			snprintf(u, sizeof(u), "\\u%04X", c);
			buf_adds(out, u);
		} else {
			buf_addc(out, (char)c);
		}
	}
	buf_addc(out, '"');
}

static void add_line(struct buf *out, const char *key, const struct mcpconf_argv *to,
                     bool args)
{
	buf_adds(out, key);
	buf_adds(out, " = ");
	if (!args) {
		mcptoml_string(out, to->command);
	} else {
		buf_addc(out, '[');
		for (size_t i = 0; i < to->nargs; i++) {
			if (i)
				buf_adds(out, ", ");
			mcptoml_string(out, to->args[i]);
		}
		buf_addc(out, ']');
	}
	buf_addc(out, '\n');
}

/* Appends table T as it reads with command and args TO. */
static void add_table(struct buf *out, const char *text, const struct table *t,
                      const struct kv *command, const struct kv *args,
                      const struct mcpconf_argv *to)
{
	if (out->len)
		buf_addc(out, '\n');
	buf_add(out, text + t->header_start, t->header_end - t->header_start);
	if (t->header_end > t->header_start && text[t->header_end - 1] != '\n')
		buf_addc(out, '\n');
	size_t at = t->header_end;
	for (size_t i = 0; i < t->nkv; i++) {
		const struct kv *kv = &t->kv[i];
		buf_add(out, text + at, kv->line_start - at); /* comments, blanks */
		at = kv->line_end;
		if (kv == command) {
			add_line(out, "command", to, false);
			if (!args && to->nargs)
				add_line(out, "args", to, true);
		} else if (kv == args) {
			if (to->nargs)
				add_line(out, "args", to, true);
		} else {
			buf_add(out, text + kv->line_start, kv->line_end - kv->line_start);
			if (text[kv->line_end - 1] != '\n')
				buf_addc(out, '\n');
		}
	}
}

/* One [mcp_servers.NAME] table: reported, and given when OP changes it. */
static int server_table(const char *text, const struct table *t, enum mcpconf_op op,
                        const char *tend, struct buf *out,
                        struct mcpconf_report *rep)
{
	const char *name = t->path.v[1];
	const struct kv *command = find_kv(t, "command"), *args = find_kv(t, "args");
	if (find_kv(t, "url")) {
		mcpconf_report_add(rep, NULL, name, MCPCONF_REMOTE, "url");
		return 0;
	}
	if (!command) {
		mcpconf_report_add(rep, NULL, name, MCPCONF_UNUSABLE, "no command");
		return 0;
	}
	char *cmd = string_value(text, command);
	struct strv words = { 0 };
	const char *why = !cmd ? "command is not a one-line string"
	                : args && words_value(text, args, &words) < 0
	                        ? "args is not a list of one-line strings" : NULL;
	if (why) {
		mcpconf_report_add(rep, NULL, name, MCPCONF_UNUSABLE, why);
		free(cmd);
		strv_free(&words);
		return 0;
	}
	struct mcpconf_argv to;
	char *detail = NULL;
	enum mcpconf_outcome o = mcpconf_decide(op, tend, cmd, (const char *const *)words.v,
	                                        words.n, &to, &detail);
	if (o == MCPCONF_CHANGED)
		add_table(out, text, t, command, args, &to);
	mcpconf_report_add(rep, NULL, name, o, detail);
	free(to.args);
	free(detail);
	free(cmd);
	strv_free(&words);
	return o == MCPCONF_CHANGED;
}

int mcptoml_rewrite(const char *text, size_t len, enum mcpconf_op op,
                    const char *tend, struct buf *out,
                    struct mcpconf_report *rep, char **err)
{
	struct scan s = { text, len, 0, 1, 0, NULL };
	struct tables ts = { 0 };
	if (read_tables(&s, &ts) < 0) {
		*err = s.err;
		tables_free(&ts);
		return -1;
	}
	int given = 0;
	for (size_t i = 0; i < ts.n; i++) {
		const struct table *t = &ts.v[i];
		if (t->array)
			continue;
		if (t->path.n == 2 && strcmp(t->path.v[0], "mcp_servers") == 0) {
			given += server_table(text, t, op, tend, out, rep);
		} else if (t->path.n == 1 && strcmp(t->path.v[0], "mcp_servers") == 0) {
			/* mcp_servers.NAME as an inline table */
			for (size_t k = 0; k < t->nkv; k++)
				mcpconf_report_add(rep, NULL, t->kv[k].key.v[0], MCPCONF_UNUSABLE,
				                   "written inline: make it a [mcp_servers.NAME] "
				                   "table for tend to rewrite it");
		}
	}
	tables_free(&ts);
	return given;
}
