/* keeper_wire — the messages between the daemon and its keeper
 * (keeper_int.h). */
#include "keeper_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int keeper_encode_spawn(struct buf *out, uint32_t token, uint32_t flags,
                        size_t nfds, const struct spawn_req *req)
{
	out->len = 0;
	size_t argc = strv_len(req->argv), envc = strv_len(req->envp);
	if (argc == 0 || argc + envc > KEEPER_ARGS_MAX || nfds > SPAWN_FDS_MAX) {
		errno = E2BIG;
		return -1;
	}
	struct km_spawn h = { KM_SPAWN, token, flags, (uint32_t)nfds,
	                      (uint32_t)argc, (uint32_t)envc, req->cwd != NULL };
	buf_add(out, (const char *)&h, sizeof(h));
	for (size_t i = 0; i < argc; i++)
		buf_add(out, req->argv[i], strlen(req->argv[i]) + 1);
	for (size_t i = 0; i < envc; i++)
		buf_add(out, req->envp[i], strlen(req->envp[i]) + 1);
	if (req->cwd)
		buf_add(out, req->cwd, strlen(req->cwd) + 1);
	if (out->len > KEEPER_MSG_MAX) {
		errno = E2BIG;
		return -1;
	}
	return 0;
}

void keeper_spawn_msg_free(struct keeper_spawn_msg *m)
{
	free(m->argv);
	free(m->envp);
	*m = (struct keeper_spawn_msg){ 0 };
}

/* The next NUL-terminated string of MSG at *AT, or NULL when none is. */
static char *next_string(const char *msg, size_t len, size_t *at)
{
	if (*at >= len)
		return NULL;
	const char *s = msg + *at, *nul = memchr(s, 0, len - *at);
	if (!nul)
		return NULL;
	*at += (size_t)(nul - s) + 1;
	return (char *)s;
}

int keeper_decode_spawn(const void *msg, size_t len, struct keeper_spawn_msg *m)
{
	*m = (struct keeper_spawn_msg){ 0 };
	struct km_spawn h;
	if (len < sizeof(h) || len > KEEPER_MSG_MAX)
		return -1;
	memcpy(&h, msg, sizeof(h));
	if (h.type != KM_SPAWN || h.argc == 0 || h.nfds > SPAWN_FDS_MAX ||
	    h.has_cwd > 1 || h.argc > KEEPER_ARGS_MAX ||
	    h.envc > KEEPER_ARGS_MAX - h.argc ||
	    (h.argc + h.envc + h.has_cwd) > len - sizeof(h))   /* a byte each */
		return -1;
	m->token = h.token;
	m->flags = h.flags;
	m->nfds = h.nfds;
	m->argv = xmalloc((h.argc + 1) * sizeof(*m->argv));
	m->envp = xmalloc((h.envc + 1) * sizeof(*m->envp));
	size_t at = sizeof(h);
	const char *p = msg;
	for (uint32_t i = 0; i < h.argc; i++)
		if (!(m->argv[i] = next_string(p, len, &at)))
			goto bad;
	m->argv[h.argc] = NULL;
	for (uint32_t i = 0; i < h.envc; i++)
		if (!(m->envp[i] = next_string(p, len, &at)))
			goto bad;
	m->envp[h.envc] = NULL;
	if (h.has_cwd && !(m->cwd = next_string(p, len, &at)))
		goto bad;
	if (at != len)
		goto bad;
	return 0;
bad:
	keeper_spawn_msg_free(m);
	return -1;
}

_Static_assert(KM_FDS_MAX <= FD_PASS_MAX, "a spawn's descriptors in one message");

int km_send(int sock, const void *msg, size_t len, const int *fds,
                    size_t nfds)
{
	return fd_send(sock, msg, len, fds, nfds) == (ssize_t)len ? 0 : -1;
}

ssize_t km_recv(int sock, struct buf *b, int *fds, size_t *nfds)
{
	*nfds = 0;
	ssize_t len;
	while ((len = recv(sock, NULL, 0, MSG_PEEK | MSG_TRUNC)) < 0 &&
	       errno == EINTR)
		;
	if (len <= 0)
		return len;
	if (b->cap < (size_t)len) {
		b->cap = (size_t)len;
		b->s = xrealloc(b->s, b->cap);
	}
	int flags = 0;
	ssize_t r = fd_recv(sock, b->s, (size_t)len, 0, fds, nfds, KM_FDS_MAX,
	                    &flags);
	if (r < 0)
		return -1;
	b->len = (size_t)r;
	if (flags & (MSG_TRUNC | MSG_CTRUNC)) {
		errno = EMSGSIZE;
		return -1;
	}
	return r;
}

void km_close_all(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

bool keeper_when_fires(const struct keeper_when *when, int wstatus)
{
	if (WIFSTOPPED(wstatus) || WIFCONTINUED(wstatus))
		return false;
	return policy_classify(&when->sc, wstatus) == EXIT_CLEAN ? when->clean != 0
	                                                       : when->crash != 0;
}
