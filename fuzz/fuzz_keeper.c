/* The keeper's reading of a spawn request (src/mech/keeper.c,
 * keeper_decode_spawn).  The daemon writes these, but a keeper must never
 * run past a message that was cut or damaged: every string it hands to
 * exec lies inside the message and ends there, the counts it believes are
 * the ones the message holds, and what it decodes encodes back to the
 * same bytes.  Whether a message is accepted at all is decided again here
 * from the layout alone (well_formed), so that neither a damaged request
 * gets through nor a good one is refused.  Seeds: fuzz/corpus/keeper/seed-*
 * (a request as the daemon encodes it, and its damaged variants). */
#include "fuzz.h"
#include "keeper.h"
#include "util.h"

#include <stdbool.h>

static void inside(const char *s, const uint8_t *data, size_t size)
{
	const uint8_t *p = (const uint8_t *)s;
	FUZZ_ASSERT(p >= data && p < data + size, "a string outside the message");
	FUZZ_ASSERT(memchr(p, 0, (size_t)(data + size - p)) != NULL,
	            "a string that does not end inside the message");
}

/* The request's header as keeper.c lays it out (tests/unit/test_keeper.c
 * checks it against keeper_encode_spawn): seven 32-bit words, type
 * (1: spawn), token, flags, nfds, argc, envc, has_cwd; then argc + envc +
 * has_cwd strings, each with its NUL, and nothing after them. */
static bool well_formed(const uint8_t *data, size_t size)
{
	uint32_t w[7];
	if (size < sizeof(w) || size > KEEPER_MSG_MAX)
		return false;
	memcpy(w, data, sizeof(w));
	uint64_t strings = (uint64_t)w[4] + w[5] + w[6];
	if (w[0] != 1 || w[4] == 0 || w[3] > SPAWN_FDS_MAX || w[6] > 1 ||
	    (uint64_t)w[4] + w[5] > KEEPER_ARGS_MAX)
		return false;
	uint64_t nuls = 0;
	for (size_t i = sizeof(w); i < size; i++)
		nuls += data[i] == 0;
	return nuls == strings && data[size - 1] == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keeper_spawn_msg m;
	bool ok = keeper_decode_spawn(data, size, &m) == 0;
	FUZZ_ASSERT(ok == well_formed(data, size), "the decoder %s a request "
	            "the layout %s", ok ? "accepted" : "refused",
	            ok ? "refuses" : "allows");
	if (!ok) {
		FUZZ_ASSERT(!m.argv && !m.envp && !m.cwd,
		            "a refused request left something to free");
		return 0;
	}
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
