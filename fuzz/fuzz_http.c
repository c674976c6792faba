/* What reaches listen = http: from outside, besides HTTP itself (which is
 * libmicrohttpd's): the Origin header and the Last-Event-ID header
 * (src/super/mcp_http.c), and the text of listen = http:...
 * (src/base/addr.c).  The first byte picks. */
#include "addr.h"
#include "fuzz.h"
#include "mcp_http.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = fuzz_cstr(data + 1, size - 1);
	char *why = NULL;
	if (data[0] % 3 == 2) {
		uint64_t num, seq;
		if (mcp_http_event_id(s, &num, &seq)) {
			/* only what tend writes: the same text back */
			char back[48];
			snprintf(back, sizeof(back), "%" PRIu64 "-%" PRIu64, num, seq);
			FUZZ_ASSERT(num && strcmp(back, s) == 0, "event id %s read as %s",
			            s, back);
		}
	} else if (data[0] % 3 == 0) {
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
