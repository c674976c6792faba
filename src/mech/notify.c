#include "notify.h"
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* --- parsing (pure) --- */

/* STATUS's value made fit for a status line: see notify.h. */
static void status_copy(char *dst, const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t out = 0, i = 0;
	while (i < n) {
		size_t len = utf8_len(s + i, n - i);
		const char *rep = NULL;
		if (len == 0) {
			rep = "?";
			len = 1;
		} else if ((len == 1 && (s[i] < 0x20 || s[i] == 0x7f)) ||
		           (len == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			rep = " ";
		}
		size_t w = rep ? 1 : len;
		if (out + w > NOTIFY_STATUS_MAX)
			break;
		memcpy(dst + out, rep ? rep : v + i, w);
		out += w;
		i += len;
	}
	dst[out] = 0;
}

/* A decimal number of at most MAX, digits only; -1 if malformed. */
static int notify_parse_uint(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (max - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/* "0" or "1" into *FLAG; anything else is malformed. */
static void parse_flag(const char *v, size_t n, bool *flag)
{
	if (n == 1 && (v[0] == '0' || v[0] == '1'))
		*flag = v[0] == '1';
}

static bool value_is(const char *v, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(v, want, n) == 0;
}

static void parse_line(const char *line, size_t n, struct notify_msg *m)
{
	const char *eq = memchr(line, '=', n);
	if (!eq)
		return;
	size_t klen = (size_t)(eq - line);
	const char *v = eq + 1;
	size_t vlen = n - klen - 1;
	uint64_t x;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (KEY("READY")) {
		parse_flag(v, vlen, &m->ready);
	} else if (KEY("STOPPING")) {
		parse_flag(v, vlen, &m->stopping);
	} else if (KEY("RELOADING")) {
		parse_flag(v, vlen, &m->reloading);
	} else if (KEY("WATCHDOG")) {
		if (value_is(v, vlen, "1") || value_is(v, vlen, "trigger")) {
			m->watchdog = v[0] == '1';
			m->watchdog_trigger = !m->watchdog;
		}
	} else if (KEY("WATCHDOG_USEC")) {
		if (notify_parse_uint(v, vlen, UINT64_MAX, &x) == 0 && x > 0)
			m->watchdog_usec = x;
	} else if (KEY("MAINPID")) {
		if (notify_parse_uint(v, vlen, INT_MAX, &x) == 0 && x > 0)
			m->mainpid = (pid_t)x;
	} else if (KEY("STATUS")) {
		m->has_status = true;
		status_copy(m->status, v, vlen);
	}
#undef KEY
}

int notify_parse(const char *buf, size_t len, struct notify_msg *msg)
{
	*msg = (struct notify_msg){ 0 };
	if (len == 0 || memchr(buf, 0, len))
		return -1;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n' && buf[i] != '\r')
			continue;
		if (i > start)
			parse_line(buf + start, i - start, msg);
		start = i + 1;
	}
	return 0;
}

/* --- the socket --- */

/* Closes every descriptor an SCM_RIGHTS message brought. */
static void close_passed_fds(struct cmsghdr *c)
{
	size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	for (size_t i = 0; i < n; i++) {
		int fd;
		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
		close(fd);
	}
}

/* Receives one datagram.  Returns 1 and fills BUF, *LEN, *CRED when it
 * should be parsed, 0 when it was dropped, -1 when there is nothing left
 * to read (or reading failed). */
static int recv_one(struct notify_sock *ns, char *buf, size_t *len,
                    struct ucred *cred)
{
	union {
		struct cmsghdr align;
		/* credentials, and as many fds as one message can carry
		 * (SCM_MAX_FD) so that none stays in flight */
		char b[CMSG_SPACE(sizeof(struct ucred)) +
		       CMSG_SPACE(253 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = NOTIFY_DGRAM_MAX };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.b,
		.msg_controllen = sizeof(ctl.b),
	};
	ssize_t n;
	do
		n = recvmsg(ns->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	bool have_cred = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			close_passed_fds(c);
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
		           c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			have_cred = cred->pid > 0;
		}
	}
	if ((mh.msg_flags & MSG_TRUNC) || !have_cred) {
		ns->dropped++;
		return 0;
	}
	*len = (size_t)n;
	return 1;
}

static void on_readable(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	struct notify_sock *ns = io->data;
	char buf[NOTIFY_DGRAM_MAX];
	/* Level-triggered: what is left after a batch wakes the next
	 * iteration, after timers and other fds had their turn. */
	for (int i = 0; i < NOTIFY_BATCH; i++) {
		size_t len;
		struct ucred cred;
		int r = recv_one(ns, buf, &len, &cred);
		if (r < 0)
			break;
		if (r == 0)
			continue;
		struct notify_msg msg;
		if (notify_parse(buf, len, &msg) < 0) {
			ns->dropped++;
			continue;
		}
		ns->fn(ns->data, cred.pid, cred.uid, &msg);
		if (ns->fd < 0)
			break;  /* FN closed NS */
	}
}

/* Fills SA for NS->name; returns its length. */
static socklen_t name_sockaddr(const struct notify_sock *ns,
                               struct sockaddr_un *sa)
{
	size_t len = strlen(ns->name);
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	memcpy(sa->sun_path, ns->name, len);
	if (ns->name[0] == '@') {
		/* An abstract name is exactly its bytes, no NUL, as sd_notify
		 * addresses it. */
		sa->sun_path[0] = 0;
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* Creates NS->fd and binds it to NS->name.  Returns 0 or -1/errno (the
 * fd, if made, is left for the caller to close). */
static int bind_socket(struct notify_sock *ns)
{
	struct sockaddr_un sa;
	socklen_t salen = name_sockaddr(ns, &sa);
	if (ns->path && paths_clear_socket(ns->path, &sa, salen) < 0)
		return -1;
	ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ns->fd < 0)
		return -1;
	int one = 1;
	if (setsockopt(ns->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -1;
	mode_t old = umask(0177);
	int r = bind(ns->fd, (struct sockaddr *)&sa, salen);
	umask(old);
	return r;
}

void notify_abstract_name(const unsigned char bytes[NOTIFY_NAME_BYTES],
                          char name[NOTIFY_NAME_MAX])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(name, "@tend-", 6);
	for (size_t i = 0; i < NOTIFY_NAME_BYTES; i++) {
		name[6 + 2 * i] = hex[bytes[i] >> 4];
		name[6 + 2 * i + 1] = hex[bytes[i] & 15];
	}
	name[6 + 2 * NOTIFY_NAME_BYTES] = 0;
}

/* N bytes nobody can predict into B: 0, or -1/errno. */
static int random_bytes(unsigned char *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(b + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Binds NS to a fresh abstract name: another one while the one drawn is
 * taken (by chance, or by someone who bound names ahead).  Returns 0 or
 * -1/errno (NS->fd, if made, left for the caller to close). */
static int bind_abstract(struct notify_sock *ns)
{
	for (int i = 0; i < NOTIFY_NAME_TRIES; i++) {
		unsigned char bytes[NOTIFY_NAME_BYTES];
		char name[NOTIFY_NAME_MAX];
		if (random_bytes(bytes, sizeof(bytes)) < 0)
			return -1;
		notify_abstract_name(bytes, name);
		free(ns->name);
		ns->name = xstrdup(name);
		if (ns->fd >= 0)
			close(ns->fd);
		ns->fd = -1;
		if (bind_socket(ns) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

int notify_open(struct notify_sock *ns, struct loop *lp, const char *path,
                notify_fn fn, void *data)
{
	*ns = (struct notify_sock){ .fd = -1, .fn = fn, .data = data };
	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	struct sockaddr_un sa;
	int r;
	if (strlen(path) < sizeof(sa.sun_path)) {
		ns->name = xstrdup(path);
		ns->path = xstrdup(path);
		r = bind_socket(ns);
	} else {
		r = bind_abstract(ns);
	}
	int e = errno;
	if (r == 0 && loop_io_add(lp, &ns->io, ns->fd, EPOLLIN, on_readable,
	                          ns) < 0) {
		e = errno;
		if (ns->path)
			unlink(ns->path);  /* ours: bound just now */
		r = -1;
	}
	if (r < 0) {
		if (ns->fd >= 0)
			close(ns->fd);
		free(ns->name);
		free(ns->path);
		*ns = (struct notify_sock){ .fd = -1 };
		errno = e;
	}
	return r;
}

void notify_close(struct notify_sock *ns, struct loop *lp)
{
	if (ns->fd < 0)
		return;
	loop_io_del(lp, &ns->io);
	close(ns->fd);
	if (ns->path)
		unlink(ns->path);
	free(ns->name);
	free(ns->path);
	*ns = (struct notify_sock){ .fd = -1 };
}

uint64_t notify_dropped(const struct notify_sock *ns)
{
	return ns->dropped;
}

void notify_env(const struct notify_sock *ns, uint64_t watchdog_ms,
                struct strv *env)
{
	strv_push(env, xasprintf("NOTIFY_SOCKET=%s", ns->name));
	if (watchdog_ms > 0) {
		uint64_t usec = watchdog_ms > UINT64_MAX / 1000 ? UINT64_MAX
		                                                 : watchdog_ms * 1000;
		strv_push(env, xasprintf("WATCHDOG_USEC=%llu",
		                         (unsigned long long)usec));
	}
}

bool notify_env_owns(const char *entry)
{
	static const char *const keys[] = { "NOTIFY_SOCKET=", "WATCHDOG_USEC=",
	                                    "WATCHDOG_PID=" };
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strncmp(entry, keys[i], strlen(keys[i])) == 0)
			return true;
	return false;
}
