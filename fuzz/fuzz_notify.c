/* The sd_notify datagram parser (src/mech/notify.c) on any datagram a process
 * of a unit can send: STATUS comes out short, printable UTF-8; pids and
 * timeouts in range. */
#include "fuzz.h"
#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > NOTIFY_DGRAM_MAX)
		return 0;   /* dropped before parsing */
	char *b = malloc(size ? size : 1);
	if (!b)
		abort();
	memcpy(b, data, size);
	struct notify_msg m;
	if (notify_parse(b, size, &m) == 0) {
		size_t n = strnlen(m.status, sizeof(m.status));
		FUZZ_ASSERT(n <= NOTIFY_STATUS_MAX, "STATUS of %zu bytes", n);
		FUZZ_ASSERT(m.has_status || n == 0, "a STATUS never sent");
		FUZZ_ASSERT(oracle_utf8(m.status, n), "STATUS not UTF-8: %s",
		            m.status);
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT((unsigned char)m.status[i] >= 0x20 &&
			            m.status[i] != 0x7f,
			            "control character in STATUS: %s", m.status);
		FUZZ_ASSERT(m.mainpid >= 0, "MAINPID %d", (int)m.mainpid);
	} else {
		FUZZ_ASSERT(size == 0 || memchr(b, 0, size),
		            "refused a datagram that is neither empty nor holds NUL");
	}
	free(b);
	return 0;
}
