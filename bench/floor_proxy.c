/* floor_proxy — a reference for the relay benchmark (bench/compare.py,
 * scenario relay): the least a user-space TCP proxy can do per byte on this
 * machine, so that tend's proxy is measured against what the kernel
 * allows, not only against a direct connection.
 *
 * One thread per direction of each connection, each blocked in splice(2)
 * from its socket into a pipe of its own (1 MiB) and from the pipe into the
 * other socket: no event loop, no readiness calls, no copy into user
 * memory, TCP_NODELAY both ways.  It supervises nothing, limits nothing
 * and leaves a thread pair per connection: a floor, not a design.
 *
 * Usage: floor_proxy LISTEN_PORT BACKEND_PORT   (127.0.0.1, both) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)

struct conn {
	int client, backend;
};

struct dir {
	int from, to;
};

/* FROM -> TO until FROM's EOF or an error; then TO is shut for writing. */
static void *pump(void *arg)
{
	const struct dir *d = arg;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		goto out;
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
	for (;;) {
		ssize_t n = splice(d->from, NULL, p[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
		if (n <= 0)
			break;
		while (n > 0) {
			ssize_t m = splice(p[0], NULL, d->to, NULL, (size_t)n, SPLICE_F_MOVE);
			if (m <= 0)
				goto done;
			n -= m;
		}
	}
done:
	close(p[0]);
	close(p[1]);
out:
	shutdown(d->to, SHUT_WR);
	return NULL;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* One connection: this thread pumps client -> backend, another the way
 * back. */
static void *serve(void *arg)
{
	struct conn *c = arg;
	struct dir ab = { c->client, c->backend }, ba = { c->backend, c->client };
	pthread_t t;
	if (pthread_create(&t, NULL, pump, &ba) == 0) {
		pump(&ab);
		pthread_join(t, NULL);
	}
	close(c->client);
	close(c->backend);
	free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atoi(argv[1]) <= 0 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: floor_proxy LISTEN_PORT BACKEND_PORT\n");
		return 2;
	}
	int backend_port = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = loopback(atoi(argv[1]));
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0) {
		fprintf(stderr, "floor_proxy: 127.0.0.1:%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		int cfd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		struct sockaddr_in b = loopback(backend_port);
		int bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct conn *c = malloc(sizeof(*c));
		pthread_t t;
		if (bfd < 0 || !c || connect(bfd, (struct sockaddr *)&b, sizeof(b)) < 0) {
			fprintf(stderr, "floor_proxy: backend 127.0.0.1:%d: %s\n",
			        backend_port, strerror(errno));
			goto drop;
		}
		nodelay(cfd);
		nodelay(bfd);
		c->client = cfd;
		c->backend = bfd;
		if (pthread_create(&t, NULL, serve, c) == 0) {
			pthread_detach(t);
			continue;
		}
drop:
		free(c);
		close(cfd);
		if (bfd >= 0)
			close(bfd);
	}
}
