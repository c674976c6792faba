/* oracle — see oracle.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mcpconf.h"
#include "mcptoml.h"
#include "oracle.h"
#include "udiff.h"
#include "util.h"

static char *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s ? s : strdup("(out of memory)");
}

const char *oracle_kind_name(enum jrpc_kind k)
{
	static const char *const names[] = {
		"PARSE_ERROR", "BATCH", "NOT_OBJECT", "INVALID",
		"REQUEST", "NOTIFICATION", "RESPONSE",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static bool span_inside(struct jspan s, size_t len)
{
	return s.off <= len && s.len <= len - s.off && (s.len || s.off == 0);
}

/* What may be checked of any message the scanner accepted. */
static char *check_message(const char *b, size_t len, const struct jrpc_msg *m)
{
	static const char *const names[] = {
		"id", "method", "params", "result", "error", "meta_progress",
		"progress_token", "request_id", "uri", "level", "meta_sub",
		"meta_level", "result_sub",
	};
	const struct jspan *all[] = {
		&m->id, &m->method, &m->params, &m->result, &m->error,
		&m->meta_progress, &m->progress_token, &m->request_id, &m->uri,
		&m->level, &m->meta_sub, &m->meta_level, &m->result_sub,
	};
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		if (!span_inside(*all[k], len))
			return fail("span %s (%zu+%zu) is outside %zu bytes",
			            names[k], all[k]->off, all[k]->len, len);
		if (all[k]->len == 0)
			continue;
		/* Every span is one value: scanned alone, it is JSON. */
		struct jrpc_msg sub;
		if (jrpc_scan(b + all[k]->off, all[k]->len, &sub) == JRPC_PARSE_ERROR)
			return fail("span %s \"%.*s\" is no JSON value", names[k],
			            (int)all[k]->len, b + all[k]->off);
		free(jrpc_str(b, *all[k]));
	}
	if (m->kind == JRPC_REQUEST || m->kind == JRPC_NOTIFICATION) {
		if (m->method.len < 2 || b[m->method.off] != '"')
			return fail("a %s whose method is no string",
			            oracle_kind_name(m->kind));
		char *s = jrpc_str(b, m->method);
		bool eq = !s || jrpc_str_eq(b, m->method, s);
		free(s);
		if (!eq)
			return fail("method \"%.*s\" is not equal to its decoding",
			            (int)m->method.len, b + m->method.off);
	}
	if ((m->kind == JRPC_REQUEST || m->kind == JRPC_RESPONSE) && !m->id.len)
		return fail("a %s without id", oracle_kind_name(m->kind));
	if (m->kind == JRPC_RESPONSE && !m->result.len && !m->error.len)
		return fail("a response without result or error");
	return NULL;
}

/* The deepest nesting of arrays and objects in B (brackets inside strings
 * do not count; the text need not be JSON). */
static size_t depth(const char *b, size_t len)
{
	size_t d = 0, max = 0;
	bool str = false;
	for (size_t i = 0; i < len; i++) {
		if (str) {
			if (b[i] == '\\')
				i++;
			else if (b[i] == '"')
				str = false;
		} else if (b[i] == '"') {
			str = true;
		} else if (b[i] == '[' || b[i] == '{') {
			if (++d > max)
				max = d;
		} else if ((b[i] == ']' || b[i] == '}') && d) {
			d--;
		}
	}
	return max;
}

/* Jansson as a second opinion.  It is stricter in places the scanner
 * means to be lenient (UTF-8, lone surrogates, huge numbers), so only
 * those of its refusals may differ. */
static char *check_with_jansson(const char *b, size_t len, enum jrpc_kind k)
{
	json_error_t err;
	json_t *j = json_loadb(b, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (j) {
		bool arr = json_is_array(j), obj = json_is_object(j);
		json_decref(j);
		if (k == JRPC_PARSE_ERROR) {
			/* jansson's depth limit is not the scanner's, and it
			 * takes a NUL byte for the end of the text */
			if (depth(b, len) > JRPC_MAX_DEPTH || memchr(b, 0, len))
				return NULL;
			return fail("jansson accepts \"%.*s\"", (int)(len > 200 ? 200 : len), b);
		}
		if ((k == JRPC_BATCH) != arr || (k == JRPC_NOT_OBJECT) != (!arr && !obj))
			return fail("jansson parses \"%.*s\" as another type than %s",
			            (int)(len > 200 ? 200 : len), b, oracle_kind_name(k));
		return NULL;
	}
	if (k == JRPC_PARSE_ERROR)
		return NULL;
	enum json_error_code c = json_error_code(&err);
	if (c == json_error_invalid_utf8 || c == json_error_numeric_overflow ||
	    c == json_error_null_byte_in_key ||
	    strstr(err.text, "Unicode") || strstr(err.text, "surrogate"))
		return NULL;
	return fail("jansson refuses \"%.*s\" (%s), scanned as %s",
	            (int)(len > 200 ? 200 : len), b, err.text, oracle_kind_name(k));
}

char *oracle_jrpc(const char *b, size_t len, struct jrpc_msg *m)
{
	enum jrpc_kind k = jrpc_scan(b, len, m);
	if (k != m->kind)
		return fail("jrpc_scan returned %s and stored %s",
		            oracle_kind_name(k), oracle_kind_name(m->kind));
	if ((unsigned)k > JRPC_RESPONSE)
		return fail("jrpc_scan returned kind %d", (int)k);
	if (k == JRPC_REQUEST || k == JRPC_NOTIFICATION || k == JRPC_RESPONSE) {
		char *why = check_message(b, len, m);
		if (why)
			return why;
	}
	return check_with_jansson(b, len, k);
}

bool oracle_utf8(const char *b, size_t len)
{
	for (size_t i = 0, l; i < len; i += l)
		if ((l = utf8_len((const unsigned char *)b + i, len - i)) == 0)
			return false;
	return true;
}

char *oracle_message(const char *msg, const char *input, size_t len)
{
	if (!msg || !*msg)
		return fail("an empty message");
	if (strchr(msg, '\n') && !memchr(input, '\n', len))
		return fail("a message of several lines: \"%s\"", msg);
	/* what leaves tend: one line of UTF-8 without control characters */
	char *out = one_line(msg);
	bool clean = *out && oracle_utf8(out, strlen(out));
	for (const unsigned char *p = (const unsigned char *)out; clean && *p; p++)
		clean = *p >= 0x20 && *p != 0x7f && !(p[0] == 0xc2 && p[1] < 0xa0);
	char *why = clean ? NULL : fail("cleaned, \"%s\" is still not one "
	                                "printable line: \"%s\"", msg, out);
	free(out);
	return why;
}

/* --- tend mcp import ----------------------------------------------------- */

struct oline {
	const char *s;
	size_t len;
	bool newline;
};

static size_t olines(const char *t, size_t len, struct oline **out)
{
	size_t n = 0;
	*out = NULL;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - t) : len;
		*out = xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = (struct oline){ t + i, end - i, nl != NULL };
		i = end + 1;
	}
	return n;
}

static void oline_add(struct buf *b, const char *s, size_t len, bool newline)
{
	buf_add(b, s, len);
	if (newline)
		buf_addc(b, '\n');
}

/* Applies the hunks of diff D to A into OUT; NULL or what is wrong. */
static char *apply_diff(const struct oline *a, size_t na, const struct oline *d,
                        size_t nd, struct buf *out)
{
	size_t pos = 0, i = 0;
	while (i < nd && (d[i].len < 2 || memcmp(d[i].s, "@@", 2) != 0))
		i++;
	while (i < nd) {
		unsigned long as = 0, ac = 1, bs = 0, bc = 1;
		char *hdr = strndup(d[i].s, d[i].len);
		int got = sscanf(hdr, "@@ -%lu,%lu +%lu,%lu @@", &as, &ac, &bs, &bc);
		if (got < 4 && sscanf(hdr, "@@ -%lu +%lu,%lu @@", &as, &bs, &bc) == 3)
			ac = 1, got = 4;
		if (got < 4 && sscanf(hdr, "@@ -%lu,%lu +%lu @@", &as, &ac, &bs) == 3)
			bc = 1, got = 4;
		if (got < 4 && sscanf(hdr, "@@ -%lu +%lu @@", &as, &bs) == 2)
			ac = bc = 1, got = 4;
		free(hdr);
		if (got < 4)
			return fail("bad hunk header \"%.*s\"", (int)d[i].len, d[i].s);
		size_t start = ac ? as - 1 : as;
		if (start < pos || start > na)
			return fail("hunk at line %lu out of order", as);
		for (; pos < start; pos++)
			oline_add(out, a[pos].s, a[pos].len, a[pos].newline);
		unsigned long olds = 0, news = 0;
		for (i++; i < nd && !(d[i].len >= 2 && memcmp(d[i].s, "@@", 2) == 0); i++) {
			if (d[i].len == 0)
				return fail("empty line in a hunk");
			char k = d[i].s[0];
			bool nl = !(i + 1 < nd && d[i + 1].len && d[i + 1].s[0] == '\\');
			const char *s = d[i].s + 1;
			size_t len = d[i].len - 1;
			if (k == '\\')
				continue;
			if (k == ' ' || k == '-') {
				if (pos >= na || a[pos].len != len || a[pos].newline != nl ||
				    memcmp(a[pos].s, s, len) != 0)
					return fail("hunk line \"%.*s\" is not line %zu of A",
					            (int)len, s, pos + 1);
				pos++;
				olds++;
			}
			if (k == ' ' || k == '+') {
				oline_add(out, s, len, nl);
				news++;
			}
			if (k != ' ' && k != '-' && k != '+')
				return fail("hunk line starts with '%c'", k);
		}
		if (olds != ac || news != bc)
			return fail("hunk -%lu,%lu +%lu,%lu has %lu and %lu lines", as, ac,
			            bs, bc, olds, news);
	}
	for (; pos < na; pos++)
		oline_add(out, a[pos].s, a[pos].len, a[pos].newline);
	return NULL;
}

char *oracle_udiff(const char *a, size_t alen, const char *b, size_t blen)
{
	struct buf d = { 0 };
	size_t hunks = udiff(a, alen, b, blen, "a", "b", &d);
	if ((hunks == 0) != (alen == blen && memcmp(a, b, alen) == 0)) {
		free(d.s);
		return fail("%zu hunks for texts that are %s", hunks,
		            hunks ? "equal" : "different");
	}
	struct oline *la, *ld;
	size_t na = olines(a, alen, &la), nd = olines(d.s ? d.s : "", d.len, &ld);
	struct buf out = { 0 };
	char *why = hunks ? apply_diff(la, na, ld, nd, &out) : NULL;
	if (!why && hunks && (out.len != blen || (blen && memcmp(out.s, b, blen) != 0)))
		why = fail("the diff applied gives %zu bytes, not the %zu of B:\n%s",
		           out.len, blen, d.s);
	free(out.s);
	free(la);
	free(ld);
	free(d.s);
	return why;
}

static bool report_has(const struct mcpconf_report *rep, enum mcpconf_outcome o)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].outcome == o)
			return true;
	return false;
}

static size_t report_count(const struct mcpconf_report *rep, enum mcpconf_outcome o)
{
	size_t n = 0;
	for (size_t i = 0; i < rep->n; i++)
		n += rep->v[i].outcome == o;
	return n;
}

static json_t *unimported(const json_t *doc, enum mcpconf_layout layout,
                          json_t *hint)
{
	json_t *u = json_deep_copy(doc);
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	mcpconf_rewrite(u, layout, MCPCONF_UNIMPORT, "tend", &hint, 1, &rep, &err);
	free(err);
	mcpconf_report_free(&rep);
	return u;
}

static char *check_layout(json_t *doc, enum mcpconf_layout layout, const char *text,
                          size_t len)
{
	json_t *a = json_deep_copy(doc);
	struct mcpconf_report rep = { 0 };
	char *err = NULL, *why = NULL, *dump = NULL;
	json_t *back = NULL, *b = NULL, *c = NULL;
	int n = mcpconf_rewrite(a, layout, MCPCONF_IMPORT, "/usr/bin/tend", NULL, 0, &rep,
	                        &err);
	if (n < 0) {
		why = oracle_message(err, text, len);
		if (!why && !json_equal(a, doc))
			why = fail("a refused document was changed (%s)", err);
		goto out;
	}
	if (err || report_count(&rep, MCPCONF_CHANGED) != (size_t)n) {
		why = fail("import says %d changed, its report %zu", n,
		           report_count(&rep, MCPCONF_CHANGED));
		goto out;
	}
	dump = mcpconf_dump(a, "  ");
	back = json_loads(dump, JSON_ALLOW_NUL, NULL);
	if (!back || !json_equal(back, a)) {
		why = fail("the dump does not read back:\n%s", dump);
		goto out;
	}
	if (n > 0 && (why = oracle_udiff(text, len, dump, strlen(dump))))
		goto out;
	/* a second import: nothing left to do */
	b = json_deep_copy(a);
	struct mcpconf_report again = { 0 };
	int m = mcpconf_rewrite(b, layout, MCPCONF_IMPORT, "/usr/bin/tend", NULL, 0, &again,
	                        &err);
	mcpconf_report_free(&again);
	if (m != 0) {
		why = fail("a second import changed %d entries", m);
		goto out;
	}
	json_decref(b);
	b = unimported(a, layout, doc);
	c = unimported(doc, layout, doc);
	if (!json_equal(b, c))
		why = fail("unimport after import differs from unimport");
	else if (!report_has(&rep, MCPCONF_TEND) && !json_equal(b, doc))
		why = fail("unimport after import is not the original");
out:
	free(err);
	free(dump);
	json_decref(back);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	mcpconf_report_free(&rep);
	return why;
}

/* import --http's URLs: made up; every third server is refused. */
struct fake_urls {
	int calls;
	bool refuse;   /* every one */
	char *bad;     /* what was wrong with a server given, first */
};

static char *fake_url(void *ctx, const struct mcpconf_server *s, const char **token,
                      char **why)
{
	struct fake_urls *f = ctx;
	f->calls++;
	if (!f->bad && (!s->command || !*s->command || !s->name ||
	                (s->nargs && !s->args) || (s->nflags && !s->flags) ||
	                (s->env && !json_is_object(s->env))))
		f->bad = fail("import --http: server %s given half made",
		              s->name ? s->name : "?");
	for (size_t i = 0; !f->bad && i < s->nargs; i++)
		if (!s->args[i])
			f->bad = fail("import --http: %s: argument %zu is NULL", s->name, i);
	*token = f->calls % 2 ? "T" : NULL;
	if (f->refuse || f->calls % 3 == 0) {
		*why = strdup("refused");
		return NULL;
	}
	char *url = NULL;
	if (asprintf(&url, "http://127.0.0.1:%d/mcp", 7000 + f->calls) < 0)
		abort();
	return url;
}

/* import --http: the entries changed are remote, with nothing of a stdio
 * server left; the others are untouched; a second import changes none. */
static char *check_http(json_t *doc, enum mcpconf_layout layout)
{
	static const enum mcpconf_url_style styles[] = { MCPCONF_URL_TYPED,
		                                         MCPCONF_URL_PLAIN,
		                                         MCPCONF_URL_HTTPURL };
	char *why = NULL;
	for (size_t k = 0; k < sizeof(styles) / sizeof(styles[0]) && !why; k++) {
		struct fake_urls f = { 0 };
		struct mcpconf_http http = { styles[k], fake_url, &f };
		struct mcpconf_report rep = { 0 }, again = { 0 };
		char *err = NULL;
		json_t *a = json_deep_copy(doc);
		int n = mcpconf_rewrite_http(a, layout, &http, &rep, &err);
		if (f.bad)
			why = f.bad;
		else if (n < 0 && !json_equal(a, doc))
			why = fail("import --http changed a refused document (%s)", err);
		else if (n >= 0 && report_count(&rep, MCPCONF_CHANGED) != (size_t)n)
			why = fail("import --http says %d changed, its report %zu", n,
			           report_count(&rep, MCPCONF_CHANGED));
		struct fake_urls none = { .refuse = true };
		struct mcpconf_http refusing = { styles[k], fake_url, &none };
		if (!why && n >= 0 &&
		    mcpconf_rewrite_http(a, layout, &refusing, &again, &err) != 0)
			why = none.bad ? none.bad : fail("a second import --http changed entries");
		for (size_t i = 0; !why && i < again.n; i++)
			if (rep.v[i].outcome == MCPCONF_CHANGED &&
			    again.v[i].outcome != MCPCONF_REMOTE)
				why = fail("import --http: %s is not remote after it", rep.v[i].name);
		free(err);
		json_decref(a);
		mcpconf_report_free(&rep);
		mcpconf_report_free(&again);
	}
	return why;
}

/* Codex: what import gives is through tend, and unimport gives it back. */
static char *check_toml(const char *text, size_t len)
{
	struct buf out = { 0 }, back = { 0 }, again = { 0 };
	struct mcpconf_report rep = { 0 }, rep2 = { 0 }, rep3 = { 0 };
	char *err = NULL, *why = NULL;
	int n = mcptoml_rewrite(text, len, MCPCONF_IMPORT, "tend", &out, &rep, &err);
	if (n < 0) {
		why = oracle_message(err, text, len);
		goto out;
	}
	if (report_count(&rep, MCPCONF_CHANGED) != (size_t)n) {
		why = fail("toml: %d tables given, %zu changed", n,
		           report_count(&rep, MCPCONF_CHANGED));
		goto out;
	}
	if (n == 0)
		goto out;
	if (mcptoml_rewrite(out.s, out.len, MCPCONF_IMPORT, "tend", &again, &rep2, &err) != 0 ||
	    rep2.n != (size_t)n || report_count(&rep2, MCPCONF_TEND) != (size_t)n) {
		why = fail("toml: the tables given are not all through tend:\n%s", out.s);
		goto out;
	}
	if (mcptoml_rewrite(out.s, out.len, MCPCONF_UNIMPORT, "tend", &back, &rep3, &err) != n) {
		why = fail("toml: the tables given do not unimport:\n%s", out.s);
		goto out;
	}
	for (size_t i = 0, k = 0; i < rep.n; i++) {
		if (rep.v[i].outcome != MCPCONF_CHANGED)
			continue;
		if (strcmp(rep.v[i].detail, rep3.v[k].detail) != 0) {
			why = fail("toml: %s ran \"%s\", unimported \"%s\"", rep.v[i].name,
			           rep.v[i].detail, rep3.v[k].detail);
			goto out;
		}
		k++;
	}
out:
	free(err);
	free(out.s);
	free(back.s);
	free(again.s);
	mcpconf_report_free(&rep);
	mcpconf_report_free(&rep2);
	mcpconf_report_free(&rep3);
	return why;
}

char *oracle_mcpconf(const char *text, size_t len)
{
	char *why = check_toml(text, len);
	if (why)
		return why;
	json_t *doc = json_loadb(text, len, JSON_PRESERVE_ORDER | JSON_REJECT_DUPLICATES |
	                                    JSON_ALLOW_NUL, NULL);
	if (!doc)
		return NULL;
	static const enum mcpconf_layout layouts[] = { MCPCONF_MCPSERVERS,
		                                       MCPCONF_CLAUDE_USER, MCPCONF_VSCODE };
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]) && !why; i++) {
		why = check_layout(doc, layouts[i], text, len);
		if (!why)
			why = check_http(doc, layouts[i]);
	}
	json_decref(doc);
	return why;
}
