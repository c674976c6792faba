/* Health checks and addresses: the text of health =, listen = and
 * backend = (src/mech/probe.c, src/base/addr.c), and the first bytes an HTTP health
 * endpoint answers, which come from a program tend does not control.  The
 * first byte picks the parser. */
#include "addr.h"
#include "fuzz.h"
#include "probe.h"

static const char *lookup(void *ctx, const char *name)
{
	(void)ctx;
	return !strcmp(name, "PORT") ? "8080" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = fuzz_cstr(data + 1, size - 1);
	char *why = NULL;
	switch (data[0] % 4) {
	case 0: {
		struct words_env env = { lookup, NULL, "/home/fuzz" };
		struct probe_spec spec;
		if (probe_parse(s, &env, &spec, &why) == 0) {
			if (spec.kind == PROBE_EXEC)
				FUZZ_ASSERT(spec.argv.n > 0, "exec check without a command");
			if (spec.kind == PROBE_HTTP)
				FUZZ_ASSERT(spec.path && spec.path[0] == '/' && spec.host,
				            "http check without host or path");
			probe_spec_free(&spec);
		} else {
			fuzz_check(oracle_message(why, s, strlen(s)), "probe error");
			free(why);
		}
		break;
	}
	case 1: {
		char *b = malloc(size - 1 ? size - 1 : 1);
		if (!b)
			abort();
		memcpy(b, data + 1, size - 1);
		int st = probe_http_status(b, size - 1);
		FUZZ_ASSERT(st == -1 || st == 0 || (st >= 100 && st <= 599),
		            "HTTP status %d", st);
		free(b);
		break;
	}
	default: {
		struct addr a;
		int r = data[0] % 4 == 2 ? addr_parse(s, &a, &why)
		                         : addr_parse_host_port(s, &a, &why);
		if (r == 0) {
			FUZZ_ASSERT(a.family == AF_INET || a.family == AF_INET6 ||
			            a.family == AF_UNIX, "family %d", a.family);
			FUZZ_ASSERT(a.via_dir || a.len > 0, "no sockaddr");
			FUZZ_ASSERT(memchr(a.text, 0, sizeof(a.text)), "text unterminated");
		} else {
			fuzz_check(oracle_message(why, s, strlen(s)), "addr error");
			free(why);
		}
		break;
	}
	}
	free(s);
	return 0;
}
