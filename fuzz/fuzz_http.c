/* What reaches listen = http: from outside, besides HTTP itself (which is
 * libmicrohttpd's): the Origin, Last-Event-ID and Mcp-Name headers
 * (src/super/mcp_http.c), the text of listen = http:...
 * (src/base/addr.c), and for Mcp-Param-*: the server's tools/list result
 * (its x-mcp-header declarations) and a client's arguments against its
 * headers (src/super/mcp_params.c).  The first byte picks. */
#include "addr.h"
#include "fuzz.h"
#include "mcp_http.h"
#include "mcp_params.h"

#include <inttypes.h>

/* Standard base64 of B[0..N), with padding (malloc'd). */
static char *b64(const unsigned char *b, size_t n)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = xmalloc((n + 2) / 3 * 4 + 1), *p = o;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
		             (i + 2 < n ? b[i + 2] : 0);
		*p++ = a[v >> 18 & 63];
		*p++ = a[v >> 12 & 63];
		*p++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*p++ = i + 2 < n ? a[v & 63] : '=';
	}
	*p = 0;
	return o;
}

/* S: a tools/list result.  What is kept is bounded and well formed, and
 * the same when read again. */
static void tools_list(const char *s)
{
	json_t *res = json_loads(s, JSON_ALLOW_NUL, NULL);
	if (!res)
		return;
	struct mcp_params *t = mcp_params_new();
	char *why = NULL;
	mcp_params_feed(t, res, true, &why);
	free(why);
	size_t n = mcp_params_count(t);
	FUZZ_ASSERT(n <= MCP_PARAMS_TOOLS_MAX, "%zu tools kept", n);
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(res, "tools"), i, x) {
		const char *name = json_string_value(json_object_get(x, "name"));
		if (!name)
			continue;
		bool known;
		const struct mcp_tool *tool = mcp_params_find(t, name, strlen(name), &known);
		FUZZ_ASSERT(known, "tool %s not known after a whole list", name);
		if (!tool)
			continue;
		FUZZ_ASSERT(tool->n >= 1 && tool->n <= MCP_PARAMS_PER_TOOL_MAX,
		            "%zu declarations", tool->n);
		for (size_t k = 0; k < tool->n; k++) {
			const struct mcp_param *p = &tool->p[k];
			FUZZ_ASSERT(p->depth >= 1 && p->depth <= MCP_PARAMS_DEPTH_MAX,
			            "depth %zu", p->depth);
			FUZZ_ASSERT(*p->header && strlen(p->header) <= MCP_PARAMS_NAME_MAX &&
			            strcspn(p->header, " :\t\r\n\"(),/;<=>?@[]{}\\") ==
			            strlen(p->header), "header name %s", p->header);
			FUZZ_ASSERT(strchr("sib", p->type), "type %c", p->type);
		}
		/* the same schema scanned alone says the same */
		struct mcp_tool again = { xstrdup(name), NULL, 0 };
		char *w = NULL;
		int r = mcp_params_scan(json_object_get(x, "inputSchema"), &again, &w);
		FUZZ_ASSERT(r == 1 && again.n == tool->n, "scanned again: %d", r);
		free(w);
		mcp_tool_clear(&again);
	}
	mcp_params_free(t);
	json_decref(res);
}

static const char *one_header(void *ctx, const char *name)
{
	return strcasecmp(name, "Mcp-Param-V") ? NULL : ctx;
}

/* S: arguments (JSON), a newline, an Mcp-Param-V header value.  What
 * passes says the argument; a plain value passes for its own string. */
static void param_check(const char *s)
{
	const char *nl = strchr(s, '\n');
	if (!nl)
		return;
	json_t *args = json_loadb(s, (size_t)(nl - s), JSON_ALLOW_NUL, NULL);
	const char *h = nl + 1;
	static char v[] = "v", V[] = "V";
	char *path[] = { v };
	struct mcp_param p = { V, path, 1, 's' };
	struct mcp_tool tool = { v, &p, 1 };
	char *why = NULL;
	bool ok = mcp_params_check(&tool, args, one_header, (void *)h, &why);
	FUZZ_ASSERT(ok == !why, "verdict and reason disagree");
	json_t *val = json_object_get(args, "v");
	char *dec;
	size_t n;
	if (ok && !json_is_null(val) && val) {
		FUZZ_ASSERT(mcp_params_header_value(h, &dec, &n), "%s passed undecoded", h);
		FUZZ_ASSERT(mcp_params_value_eq(dec, n, val), "%s passed unequal", h);
		free(dec);
	}
	free(why);
	if (mcp_params_header_value(h, &dec, &n)) {
		/* a plain value (not the base64 form) says its own string */
		json_t *str = strlen(h) == n ? json_stringn(dec, n) : NULL;
		if (str)
			FUZZ_ASSERT(mcp_params_value_eq(h, n, str), "%s not its own string", h);
		json_decref(str);
		free(dec);
	}
	json_decref(args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = fuzz_cstr(data + 1, size - 1);
	char *why = NULL;
	if (data[0] % 8 == 4 || data[0] % 8 == 5) {
		tools_list(s);
	} else if (data[0] % 8 == 6 || data[0] % 8 == 7) {
		param_check(s);
	} else if (data[0] % 4 == 3) {
		char *v;
		size_t n;
		if (mcp_params_header_value(s, &v, &n)) {
			size_t len = strlen(s);
			bool enc = len >= 11 && !strncmp(s, "=?base64?", 9) &&
			           !strcmp(s + len - 2, "?=");
			if (enc) {
				/* one encoding of a value only: the same text back */
				char *back = b64((const unsigned char *)v, n);
				FUZZ_ASSERT(strlen(back) == len - 11 &&
				            !strncmp(back, s + 9, len - 11),
				            "%s decoded and encoded is %s", s, back);
				free(back);
			} else {
				FUZZ_ASSERT(n == len && !memcmp(v, s, n), "plain %s changed", s);
			}
			free(v);
		}
	} else if (data[0] % 4 == 2) {
		uint64_t num, seq;
		if (mcp_http_event_id(s, &num, &seq)) {
			/* only what tend writes: the same text back */
			char back[48];
			snprintf(back, sizeof(back), "%" PRIu64 "-%" PRIu64, num, seq);
			FUZZ_ASSERT(num && strcmp(back, s) == 0, "event id %s read as %s",
			            s, back);
		}
	} else if (data[0] % 4 == 0) {
		struct strv none = { 0 };
		bool ok = mcp_http_origin_ok(s, &none);
		/* a local origin is nothing but scheme, host and port */
		if (ok)
			FUZZ_ASSERT(!strncasecmp(s, "http://", 7) ||
			            !strncasecmp(s, "https://", 8), "origin %s", s);
		struct strv one = { &s, 1, 1 };
		FUZZ_ASSERT(mcp_http_origin_ok(s, &one), "listed origin %s refused", s);
	} else {
		struct addr a;
		char path[256];
		if (addr_parse_http(s, &a, path, sizeof(path), &why) == 0) {
			FUZZ_ASSERT(path[0] == '/' && !strpbrk(path, "?# %"), "path %s", path);
			FUZZ_ASSERT(a.family == AF_INET || a.family == AF_INET6 ||
			            a.family == AF_UNIX, "family %d", a.family);
		} else {
			fuzz_check(oracle_message(why, s, strlen(s)), "http address error");
			free(why);
		}
	}
	free(s);
	return 0;
}
