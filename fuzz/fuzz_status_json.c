/* The reply of tend status --json as the client prints it without parsing
 * it (src/cli/status_view.c, status_print_json): whatever the bytes, it
 * either leaves the output alone (the caller then parses the reply) or
 * prints what jansson's JSON_INDENT(2) prints of {"version", "daemon",
 * "units"} of the same reply, byte for byte. */
#include <jansson.h>

#include "fuzz.h"
#include "status_view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = { 0 };
	buf_adds(&out, "x");
	if (!status_print_json((const char *)data, size, &out)) {
		FUZZ_ASSERT(out.len == 1 && strcmp(out.s, "x") == 0,
		            "output touched on a refusal");
		free(out.s);
		return 0;
	}
	json_error_t e;
	json_t *r = json_loadb((const char *)data, size, 0, &e);
	FUZZ_ASSERT(r, "printed a reply jansson refuses: %s", e.text);
	json_t *o = json_pack("{s:O, s:O, s:O}", "version",
	                      json_object_get(r, "version"), "daemon",
	                      json_object_get(r, "daemon"), "units",
	                      json_object_get(r, "units"));
	FUZZ_ASSERT(o, "printed a reply without its three members");
	json_t *back = json_loads(out.s + 1, 0, &e);
	FUZZ_ASSERT(back && json_equal(back, o), "printed another value: %s",
	            out.s + 1);
	json_decref(back);
	json_decref(o);
	json_decref(r);
	free(out.s);
	return 0;
}
