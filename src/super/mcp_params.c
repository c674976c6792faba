#include "mcp_params.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- header values --- */

bool mcp_params_header_value(const char *h, char **out, size_t *len)
{
	size_t n = strlen(h);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] < 0x20 || (unsigned char)h[i] > 0x7e)
			if (h[i] != '\t')
				return false;
	if (n < 11 || strncmp(h, "=?base64?", 9) != 0 || strcmp(h + n - 2, "?=") != 0) {
		*out = xstrdup(h);
		*len = n;
		return true;
	}
	const char *b = h + 9;
	size_t bn = n - 11;
	if (bn % 4)
		return false;
	char *o = xmalloc(bn / 4 * 3 + 1);
	size_t k = 0;
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;
	for (size_t i = 0; i < bn; i++) {
		char c = b[i];
		int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
		        : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62
		        : c == '/' ? 63 : c == '=' ? -2 : -1;
		if (v == -1 || (v == -2 && i + 2 < bn) || (v != -2 && pad)) {
			free(o);
			return false;
		}
		if (v == -2) {
			pad++;
			continue;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)(acc >> bits & 0xff);
		}
	}
	/* padding as long as what is left over asks, no more; no bits lost */
	if ((pad && bits / 2 != pad) || (acc & ((1u << bits) - 1))) {
		free(o);
		return false;
	}
	o[k] = 0;
	*out = o;
	*len = k;
	return true;
}

/* Is the number text V (N bytes) equal to X?  Decimal only (no hex, no
 * inf or nan); an integer text is compared exactly with an integer X. */
static bool num_eq(const char *v, size_t n, const json_t *x)
{
	if (!n || n > 64 || strlen(v) != n || strspn(v, "+-0123456789.eE") != n)
		return false;
	char *end;
	if (json_is_integer(x) && strspn(v + (*v == '-' || *v == '+'), "0123456789") ==
	                          n - (*v == '-' || *v == '+')) {
		errno = 0;
		long long h = strtoll(v, &end, 10);
		if (!errno && !*end)
			return h == (long long)json_integer_value(x);
	}
	errno = 0;
	double d = strtod(v, &end);
	if (*end || !isfinite(d))
		return false;
	return d == json_number_value(x);
}

bool mcp_params_value_eq(const char *v, size_t n, const json_t *arg)
{
	switch (json_typeof(arg)) {
	case JSON_STRING:
		return n == json_string_length(arg) &&
		       memcmp(v, json_string_value(arg), n) == 0;
	case JSON_TRUE:
		return n == 4 && memcmp(v, "true", 4) == 0;
	case JSON_FALSE:
		return n == 5 && memcmp(v, "false", 5) == 0;
	case JSON_INTEGER:
	case JSON_REAL:
		return num_eq(v, n, arg);
	default:
		return false;
	}
}

/* --- declarations --- */

void mcp_tool_clear(struct mcp_tool *tool)
{
	for (size_t i = 0; i < tool->n; i++) {
		struct mcp_param *p = &tool->p[i];
		for (size_t k = 0; k < p->depth; k++)
			free(p->path[k]);
		free(p->path);
		free(p->header);
	}
	free(tool->p);
	free(tool->name);
	*tool = (struct mcp_tool){ 0 };
}

/* An RFC 9110 token: 1*tchar. */
static bool token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* 's', 'i', 'b' for the type names "string", "integer", "boolean"; 0 for
 * any other. */
static char prim_name(const char *s)
{
	if (!strcmp(s, "string"))
		return 's';
	if (!strcmp(s, "integer"))
		return 'i';
	if (!strcmp(s, "boolean"))
		return 'b';
	return 0;
}

/* The type of a property schema with x-mcp-header: string, integer or
 * boolean ('s', 'i', 'b'), alone or with "null"; 0 for anything else. */
static char prim_type(const json_t *t)
{
	if (json_is_string(t))
		return prim_name(json_string_value(t));
	if (!json_is_array(t))
		return 0;
	char one = 0;
	size_t i;
	const json_t *x;
	json_array_foreach(t, i, x) {
		if (!json_is_string(x))
			return 0;
		if (!strcmp(json_string_value(x), "null"))
			continue;
		if (one)
			return 0;
		one = prim_name(json_string_value(x));
		if (!one)
			return 0;
	}
	return one;
}

struct scan {
	struct mcp_tool *tool;
	const char *path[MCP_PARAMS_DEPTH_MAX];
	char *why;
};

static bool scan_fail(struct scan *sc, char *why)
{
	if (!sc->why)
		sc->why = why;
	else
		free(why);
	return false;
}

/* Keywords whose values are instances, not schemas: an x-mcp-header in
 * them is data. */
static bool data_keyword(const char *k)
{
	return !strcmp(k, "default") || !strcmp(k, "examples") ||
	       !strcmp(k, "const") || !strcmp(k, "enum");
}

/* The declaration on property schema NODE at depth DEPTH (sc->path). */
static bool declare(struct scan *sc, const json_t *node, size_t depth)
{
	const json_t *h = json_object_get(node, "x-mcp-header");
	const char *prop = sc->path[depth - 1];
	if (!json_is_string(h) || json_string_length(h) > MCP_PARAMS_NAME_MAX ||
	    strlen(json_string_value(h)) != json_string_length(h) ||
	    !token(json_string_value(h)))
		return scan_fail(sc, xasprintf("property %s: x-mcp-header is not a "
		                               "header name (1 to %d letters, digits "
		                               "and !#$%%&'*+-.^_`|~)", prop,
		                               MCP_PARAMS_NAME_MAX));
	const char *name = json_string_value(h);
	char type = prim_type(json_object_get(node, "type"));
	if (!type)
		return scan_fail(sc, xasprintf("property %s: x-mcp-header on a "
		                               "type that is not string, integer "
		                               "or boolean", prop));
	struct mcp_tool *t = sc->tool;
	for (size_t i = 0; i < t->n; i++)
		if (!strcasecmp(t->p[i].header, name))
			return scan_fail(sc, xasprintf("x-mcp-header %s twice (names "
			                               "are unique ignoring case)", name));
	if (t->n == MCP_PARAMS_PER_TOOL_MAX)
		return scan_fail(sc, xasprintf("more than %d x-mcp-header",
		                               MCP_PARAMS_PER_TOOL_MAX));
	t->p = xrealloc(t->p, (t->n + 1) * sizeof(*t->p));
	struct mcp_param *p = &t->p[t->n++];
	p->header = xstrdup(name);
	p->type = type;
	p->depth = depth;
	p->path = xmalloc(depth * sizeof(*p->path));
	for (size_t k = 0; k < depth; k++)
		p->path[k] = xstrdup(sc->path[k]);
	return true;
}

/* NODE, a schema reached through "properties" keys alone (DEPTH of them;
 * REACH) or not: its declarations.  False once one is invalid. */
/* NOLINTNEXTLINE(misc-no-recursion): as deep as jansson parses (2048 levels) */
static bool walk(struct scan *sc, const json_t *node, bool reach, size_t depth)
{
	if (json_is_array(node)) {
		size_t i;
		const json_t *x;
		json_array_foreach(node, i, x)
			if (!walk(sc, x, false, 0))
				return false;
		return true;
	}
	if (!json_is_object(node))
		return true;
	if (json_object_get(node, "x-mcp-header")) {
		if (!reach || !depth)
			return scan_fail(sc, xstrdup(!reach ? "an x-mcp-header not "
			                             "reached through properties alone "
			                             "(under items, anyOf, $ref...)"
			                             : "an x-mcp-header on the schema's root"));
		if (depth > MCP_PARAMS_DEPTH_MAX)
			return scan_fail(sc, xasprintf("an x-mcp-header under more than "
			                               "%d properties", MCP_PARAMS_DEPTH_MAX));
		if (!declare(sc, node, depth))
			return false;
	}
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)node, k, v) {
		if (data_keyword(k) || !strcmp(k, "x-mcp-header"))
			continue;
		if (reach && !strcmp(k, "properties") && json_is_object(v)) {
			const char *pk;
			const json_t *pv;
			json_object_foreach((json_t *)v, pk, pv) {
				if (depth < MCP_PARAMS_DEPTH_MAX)
					sc->path[depth] = pk;
				if (!walk(sc, pv, true, depth + 1))
					return false;
			}
		} else if (!walk(sc, v, false, 0)) {
			return false;
		}
	}
	return true;
}

int mcp_params_scan(const json_t *schema, struct mcp_tool *tool, char **why)
{
	struct scan sc = { tool, { 0 }, NULL };
	*why = NULL;
	if (walk(&sc, schema, true, 0))
		return tool->n ? 1 : 0;
	char *name = tool->name;
	tool->name = NULL;
	mcp_tool_clear(tool);
	tool->name = name;
	*why = sc.why;
	return -1;
}

/* --- the check --- */

/* The value at P's path in ARGS; NULL when absent (or null). */
static const json_t *arg_at(const json_t *args, const struct mcp_param *p)
{
	const json_t *v = args;
	for (size_t k = 0; k < p->depth && v; k++)
		v = json_is_object(v) ? json_object_get(v, p->path[k]) : NULL;
	return json_is_null(v) ? NULL : v;
}

/* arguments.a.b for messages (malloc'd). */
static char *path_text(const struct mcp_param *p)
{
	struct buf b = { 0 };
	buf_adds(&b, "arguments");
	for (size_t k = 0; k < p->depth; k++)
		buf_addf(&b, ".%s", p->path[k]);
	return buf_take(&b);
}

bool mcp_params_check(const struct mcp_tool *tool, const json_t *args,
                      const char *(*hdr)(void *ctx, const char *name),
                      void *ctx, char **why)
{
	for (size_t i = 0; i < tool->n; i++) {
		const struct mcp_param *p = &tool->p[i];
		char name[sizeof("Mcp-Param-") + MCP_PARAMS_NAME_MAX];
		snprintf(name, sizeof(name), "Mcp-Param-%s", p->header);
		const char *h = hdr(ctx, name);
		const json_t *v = arg_at(args, p);
		if (!h && !v)
			continue;
		char *where = path_text(p);
		char *got = NULL;
		size_t n = 0;
		if (!h)
			*why = xasprintf("no %s header; tool %s declares it "
			                 "(x-mcp-header): send %s in it", name,
			                 tool->name, where);
		else if (!v)
			*why = xasprintf("%s header but no %s (absent or null); send "
			                 "neither or both", name, where);
		else if (!mcp_params_header_value(h, &got, &n))
			*why = xasprintf("%s has characters a header value cannot "
			                 "have, or bad base64; send =?base64?...?= for "
			                 "such a value", name);
		else if (!mcp_params_value_eq(got, n, v))
			*why = xasprintf("%s %s does not match %s; send the same in both",
			                 name, h, where);
		else
			*why = NULL;
		free(got);
		free(where);
		if (*why)
			return false;
	}
	return true;
}

/* --- the table --- */

struct mcp_params {
	struct mcp_tool *tools;
	size_t n, bytes;
	bool complete;
	bool told;                   /* what is not enforced was logged */
	unsigned long gen, done_gen;
};

struct mcp_params *mcp_params_new(void)
{
	return xcalloc(1, sizeof(struct mcp_params));
}

static void table_clear(struct mcp_params *t)
{
	for (size_t i = 0; i < t->n; i++)
		mcp_tool_clear(&t->tools[i]);
	free(t->tools);
	t->tools = NULL;
	t->n = t->bytes = 0;
	t->complete = false;
}

void mcp_params_free(struct mcp_params *t)
{
	if (!t)
		return;
	table_clear(t);
	free(t);
}

void mcp_params_stale(struct mcp_params *t)
{
	table_clear(t);
	t->told = false;
	t->gen++;
}

unsigned long mcp_params_gen(const struct mcp_params *t)
{
	return t->gen;
}

static size_t tool_bytes(const struct mcp_tool *tool)
{
	size_t b = sizeof(*tool) + strlen(tool->name) + 1;
	for (size_t i = 0; i < tool->n; i++) {
		b += sizeof(tool->p[i]) + strlen(tool->p[i].header) + 1;
		for (size_t k = 0; k < tool->p[i].depth; k++)
			b += sizeof(char *) + strlen(tool->p[i].path[k]) + 1;
	}
	return b;
}

static struct mcp_tool *find(const struct mcp_params *t, const char *name,
                             size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->tools[i].name) == len && !memcmp(t->tools[i].name, name, len))
			return &t->tools[i];
	return NULL;
}

/* TOOL (taken) replaces the tool of its name, or is added: false when
 * the table is full (TOOL is then cleared). */
static bool put(struct mcp_params *t, struct mcp_tool *tool)
{
	struct mcp_tool *old = find(t, tool->name, strlen(tool->name));
	size_t b = tool_bytes(tool);
	if (old) {
		t->bytes -= tool_bytes(old);
		mcp_tool_clear(old);
		*old = *tool;
		t->bytes += b;
		return true;
	}
	if (t->n == MCP_PARAMS_TOOLS_MAX || t->bytes + b > MCP_PARAMS_BYTES_MAX) {
		mcp_tool_clear(tool);
		return false;
	}
	t->tools = xrealloc(t->tools, (t->n + 1) * sizeof(*t->tools));
	t->tools[t->n++] = *tool;
	t->bytes += b;
	return true;
}

/* A tool without declarations (or with invalid ones): it has none. */
static void drop(struct mcp_params *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->tools[i].name, name) != 0)
			continue;
		t->bytes -= tool_bytes(&t->tools[i]);
		mcp_tool_clear(&t->tools[i]);
		t->tools[i] = t->tools[--t->n];
		return;
	}
}

void mcp_params_feed(struct mcp_params *t, const json_t *result, bool whole,
                     char **why)
{
	*why = NULL;
	const json_t *tools = json_object_get(result, "tools");
	if (!json_is_array(tools))
		return;
	if (whole)
		table_clear(t);
	struct buf b = { 0 };
	size_t bad = 0, full = 0, i;
	const json_t *x;
	json_array_foreach(tools, i, x) {
		const json_t *name = json_object_get(x, "name");
		if (!json_is_string(name) ||
		    strlen(json_string_value(name)) != json_string_length(name))
			continue;
		struct mcp_tool tool = { xstrdup(json_string_value(name)), NULL, 0 };
		char *w = NULL;
		int r = mcp_params_scan(json_object_get(x, "inputSchema"), &tool, &w);
		if (r > 0) {
			if (!put(t, &tool))
				full++;
			continue;
		}
		drop(t, tool.name);
		if (r < 0 && bad++ < 3)
			buf_addf(&b, "%s%s: %s", bad > 1 ? "; " : "", tool.name, w);
		free(w);
		mcp_tool_clear(&tool);
	}
	if (whole)
		t->complete = true;
	if (bad > 3)
		buf_addf(&b, "; and %zu more", bad - 3);
	if (full)
		buf_addf(&b, "%s%zu tools over the bound of %d tools with "
		         "x-mcp-header or %zu KiB", b.len ? "; " : "", full,
		         MCP_PARAMS_TOOLS_MAX, MCP_PARAMS_BYTES_MAX / 1024);
	if (b.len && !t->told) {
		t->told = true;
		*why = buf_take(&b);
	}
	free(b.s);
}

void mcp_params_done(struct mcp_params *t, unsigned long gen)
{
	if (gen == t->gen)
		t->complete = true;
}

const struct mcp_tool *mcp_params_find(const struct mcp_params *t,
                                       const char *tool, size_t len,
                                       bool *known)
{
	const struct mcp_tool *f = find(t, tool, len);
	*known = f || t->complete;
	return f;
}

size_t mcp_params_count(const struct mcp_params *t)
{
	return t->n;
}
