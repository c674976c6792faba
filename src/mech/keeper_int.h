/* keeper_int — what the keeper's files share (keeper.h): the messages on
 * the socketpair and their sending with descriptors.
 *
 *   keeper_wire.c  the messages: spawn requests encoded and decoded (pure),
 *                  sending and receiving with SCM_RIGHTS
 *   keeper_main.c  the keeper process: spawns, reaps, tells, contains
 *   keeper.c       the daemon's side: starts the keeper, asks, listens
 */
#ifndef TEND_KEEPER_INT_H
#define TEND_KEEPER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keeper.h"
#include "policy.h"
#include "util.h"

enum { KM_SPAWN = 1, KM_BYE = 2, KM_ARM = 3, KM_DISARM = 4, KM_SPAWNED = 16,
       KM_EXITS = 17 };

struct km_spawn {
	uint32_t type, token, flags, nfds, argc, envc, has_cwd;
};

struct km_spawned {
	uint32_t type, token;
	int32_t pid, err, cg_err;
	char step[16];
};

/* The head of an arm (keeper.h: keeper_arm); a spawn request, as
 * keeper_encode_spawn makes it, follows.  A disarm is its first two
 * words. */
struct km_arm {
	uint32_t type, after;
	struct keeper_when when;
};

struct km_exit {
	uint32_t token;   /* 0: no main */
	int32_t wstatus;
	uint32_t next;    /* the armed run started at once, 0: none */
	int32_t next_pid, next_cg_err;
};

#define KM_EXITS_MAX 256

struct km_exits {
	uint32_t type, n, others, strays;
	struct km_exit rec[KM_EXITS_MAX];
};

/* The fds of a spawn, in the order they travel: the flagged ones of
 * stdin, stdout, stderr and the cgroup directory, then the sockets. */
#define KM_FDS_MAX (4 + SPAWN_FDS_MAX)

/* Sends MSG with FDS[0..NFDS) (SCM_RIGHTS).  Returns 0 or -1 (errno). */
int km_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds);
/* Receives one message into *BUF (grown to fit), its fds into FDS (at most
 * KM_FDS_MAX, CLOEXEC; *NFDS).  Returns its length, 0 at the end of the
 * socket, -1 (errno; EAGAIN when none waits on a non-blocking socket;
 * EMSGSIZE when its descriptors did not all come, for want of room in
 * this process's table: the message is in *BUF all the same). */
ssize_t km_recv(int sock, struct buf *b, int *fds, size_t *nfds);
void km_close_all(const int *fds, size_t n);

#endif
