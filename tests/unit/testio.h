/* testio — small helpers of the unit tests that read what a real child
 * process wrote (test_spawn.c, test_keeper.c). */
#ifndef TEND_TESTIO_H
#define TEND_TESTIO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Everything from FD until EOF (at most CAP-1 bytes), NUL-terminated. */
static inline void read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += (size_t)r) == cap - 1)
			break;
	}
	buf[n] = 0;
}

#endif
