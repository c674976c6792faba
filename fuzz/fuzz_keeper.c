/* The keeper's reading of a spawn request (src/mech/keeper.c,
 * keeper_decode_spawn).  The daemon writes these, but a keeper must never
 * run past a message that was cut or damaged: every string it hands to
 * exec lies inside the message and ends there, the counts it believes are
 * the ones the message holds, and what it decodes encodes back to the
 * same bytes. */
#include "fuzz.h"
#include "keeper.h"
#include "util.h"

static void inside(const char *s, const uint8_t *data, size_t size)
{
	const uint8_t *p = (const uint8_t *)s;
	FUZZ_ASSERT(p >= data && p < data + size, "a string outside the message");
	FUZZ_ASSERT(memchr(p, 0, (size_t)(data + size - p)) != NULL,
	            "a string that does not end inside the message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keeper_spawn_msg m;
	if (keeper_decode_spawn(data, size, &m) < 0)
		return 0;
	size_t argc = 0, envc = 0;
	for (; m.argv[argc]; argc++)
		inside(m.argv[argc], data, size);
	for (; m.envp[envc]; envc++)
		inside(m.envp[envc], data, size);
	if (m.cwd)
		inside(m.cwd, data, size);
	FUZZ_ASSERT(argc > 0, "a request without a program");
	FUZZ_ASSERT(m.nfds <= SPAWN_FDS_MAX, "more sockets than a spawn takes");
	/* Round trip: what was decoded encodes to the same message. */
	struct spawn_req rq = { .argv = m.argv, .envp = m.envp, .cwd = m.cwd };
	struct buf out = { 0 };
	FUZZ_ASSERT(keeper_encode_spawn(&out, m.token, m.flags, m.nfds, &rq) == 0,
	            "a decoded request does not encode");
	FUZZ_ASSERT(out.len == size && memcmp(out.s, data, size) == 0,
	            "decode then encode changed the message");
	free(out.s);
	keeper_spawn_msg_free(&m);
	return 0;
}
