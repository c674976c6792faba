/* The JSON-RPC line scanner and splicer of stdio = mcp (src/base/jrpc.c) on any
 * bytes: huge, deeply nested, invalid UTF-8.  tests/oracle.c checks the
 * scan (spans inside the buffer, each one JSON value, jansson agreeing on
 * what is JSON).  Then the rewrite tend makes of a message (its id, its
 * progress token) keeps it the same kind of message. */
#include "fuzz.h"
#include "jrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly SIZE bytes: ASan sees a read past them */
	char *b = malloc(size ? size : 1);
	if (!b)
		abort();
	memcpy(b, data, size);
	struct jrpc_msg m;
	fuzz_check(oracle_jrpc(b, size, &m), "scan");
	if (m.kind == JRPC_REQUEST || m.kind == JRPC_RESPONSE ||
	    m.kind == JRPC_NOTIFICATION) {
		struct jrpc_edit e[2];
		size_t ne = 0;
		if (m.id.len)
			e[ne++] = (struct jrpc_edit){ m.id, "4294967296", 10 };
		struct jspan tok = m.meta_progress.len ? m.meta_progress
		                                       : m.progress_token;
		if (tok.len)
			e[ne++] = (struct jrpc_edit){ tok, "\"t\\u00e9\"", 9 };
		size_t outlen;
		char *out = jrpc_splice(b, size, e, ne, &outlen);
		struct jrpc_msg m2;
		fuzz_check(oracle_jrpc(out, outlen, &m2), "spliced");
		FUZZ_ASSERT(m2.kind == m.kind, "spliced %s became %s",
		            oracle_kind_name(m.kind), oracle_kind_name(m2.kind));
		if (m.id.len)
			FUZZ_ASSERT(m2.id.len == 10 &&
			            !memcmp(out + m2.id.off, "4294967296", 10),
			            "the id did not take");
		free(out);
	}
	free(b);
	return 0;
}
