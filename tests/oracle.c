/* oracle — see oracle.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oracle.h"
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
