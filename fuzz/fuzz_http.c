/* What reaches listen = http: from outside, besides HTTP itself (which is
 * libmicrohttpd's): the Origin, Last-Event-ID and Mcp-Name headers
 * (src/super/mcp_http.c), and the text of listen = http:...
 * (src/base/addr.c).  The first byte picks. */
#include "addr.h"
#include "fuzz.h"
#include "mcp_http.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = fuzz_cstr(data + 1, size - 1);
	char *why = NULL;
	if (data[0] % 4 == 3) {
		char *v;
		size_t n;
		if (mcp_http_header_value(s, &v, &n)) {
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
