#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/random.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "tend: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void strv_push(struct strv *sv, char *owned)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 4;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = owned;
	sv->v[sv->n] = NULL;
}

void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void buf_addc(struct buf *b, char c) { buf_add(b, &c, 1); }

void buf_adds(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_adds(b, s);
	free(s);
}

char *buf_take(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void errline(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	/* a message may quote a file's bytes: no escape sequence reaches the
	 * terminal, and each of its lines (config.h: every error of a file)
	 * is a line "tend: ..." of its own */
	char *clean = lines_clean(m);
	struct buf out = { 0 };
	for (char *l = clean, *nl; l; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = '\0';
		buf_addf(&out, "tend: %s\n", l);
	}
	ssize_t r = write(2, out.s, out.len);
	(void)r;
	free(out.s);
	free(clean);
	free(m);
}

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
uint64_t boot_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

int fd_cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);
	return f < 0 ? -1 : fcntl(fd, F_SETFD, f | FD_CLOEXEC);
}

ssize_t fd_send(int sock, const void *buf, size_t len, const int *fds,
                size_t nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
	} c;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > FD_PASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * nfds);
	}
	ssize_t w;
	while ((w = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return w;
}

ssize_t fd_recv(int sock, void *buf, size_t cap, int flags, int *fds,
                size_t *nfds, size_t max, int *msg_flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
	} c;
	struct iovec iov = { buf, cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	ssize_t r;
	while ((r = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC)) < 0 &&
	       errno == EINTR)
		;
	if (r < 0)
		return r;
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(fd));
			if (*nfds < max)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (msg_flags)
		*msg_flags = mh.msg_flags;
	return r;
}

char *exe_sibling(const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	return xasprintf("%.*s/%s", (int)(slash ? slash - self : 0), self, name);
}

long fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n - 1;  /* the one opendir holds */
}

long fd_free(long *limit)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > FD_FREE_AMPLE)
		return -1;
	long used = fd_count();
	*limit = (long)rl.rlim_cur;
	return used < 0 ? -1 : used > *limit ? 0 : *limit - used;
}

void heap_give_back(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/* An object's segments may be given back only when it has no relocations
 * in its text (DT_TEXTREL): those pages are the process's own copies. */
static bool has_textrel(const struct dl_phdr_info *info)
{
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_DYNAMIC)
			continue;
		/* NOLINTNEXTLINE(performance-no-int-to-ptr): the loader gives addresses as integers */
		const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr +
		                                         ph->p_vaddr);
		for (; d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL ||
			    (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)))
				return true;
	}
	return false;
}

/* The ranges of every object first, the madvise after: a read of a page
 * that was given back maps it back, and the program headers, the names of
 * the objects (ld.so's is in the program's .interp), all are in pages of
 * the objects' first segments. */
struct code_ranges {
	size_t n;
	uintptr_t lo[48], hi[48];
};

static int give_back_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct code_ranges *r = arg;
	/* The program (no name) and the libraries it loaded from files: not
	 * the vDSO, which the kernel maps and nothing may unmap. */
	if (info->dlpi_name[0] && info->dlpi_name[0] != '/')
		return 0;
	if (has_textrel(info))
		return 0;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t ro_lo = 0, ro_hi = 0;   /* PT_GNU_RELRO: written at load */
	for (size_t i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
			ro_lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			ro_hi = ro_lo + info->dlpi_phdr[i].p_memsz;
		}
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		/* Whole pages of the file's contents only: a page the segment
		 * shares with a writable one, or with the RELRO range, stays. */
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_filesz;
		lo = (lo + page - 1) & ~(page - 1);
		hi &= ~(page - 1);
		if (ro_hi > ro_lo && lo < ((ro_hi + page - 1) & ~(page - 1)) &&
		    (ro_lo & ~(page - 1)) < hi)
			continue;
		if (hi <= lo)
			continue;
		if (r->n == sizeof(r->lo) / sizeof(r->lo[0]))
			return 1;   /* the rest stays mapped */
		r->lo[r->n] = lo;
		r->hi[r->n++] = hi;
	}
	return 0;
}

size_t code_give_back(void)
{
	struct code_ranges r;
	r.n = 0;
	(void)dl_iterate_phdr(give_back_object, &r);
	size_t given = 0;
	for (size_t i = 0; i < r.n; i++)
		/* NOLINTNEXTLINE(performance-no-int-to-ptr): as above, from dl_phdr_info */
		if (madvise((void *)r.lo[i], r.hi[i] - r.lo[i], MADV_DONTNEED) == 0)
			given += r.hi[i] - r.lo[i];
	return given;
}

int fd_close_from(int min)
{
	if (syscall(SYS_close_range, (unsigned)min, ~0U, 0) == 0)
		return 0;
	/* Before Linux 5.9, or under a seccomp filter that refuses it: one
	 * by one, as /proc/self/fd lists them. */
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int self = dirfd(dir);
	struct dirent *de;
	while ((de = readdir(dir))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (de->d_name[0] != '.' && !*end && fd >= min && fd <= INT_MAX &&
		    fd != self)
			close((int)fd);
	}
	closedir(dir);
	return 0;
}

int fd_nonblock(int fd)
{
	int f = fcntl(fd, F_GETFL);
	return f < 0 ? -1 : fcntl(fd, F_SETFL, f | O_NONBLOCK);
}

int fd_write_line(int fd, const char *s, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, s + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (done == 0)
			return 0;
		/* Half a line is out (longer than the pipe takes at once):
		 * finish it rather than garble the next, a moment at most. */
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 100) <= 0)
			return 1;
	}
	return 1;
}

int fd_std_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lowest free number: FD itself, as those below are open. */
		int null = open("/dev/null", O_RDWR);
		if (null < 0)
			return -1;
		if (null != fd) {
			/* Cannot happen; never leave /dev/null anywhere else. */
			close(null);
			errno = EBADF;
			return -1;
		}
	}
	return 0;
}

int fd_at_least(int fd, int min)
{
	if (fd < 0 || fd >= min)
		return fd;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, min);
	close(fd);
	return high;
}

size_t utf8_len(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (!len || len > n || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;  /* overlong, surrogate, above U+10FFFF */
	return len;
}

void str_clean(char *s)
{
	size_t n = strlen(s), o = 0;
	for (size_t i = 0; i < n; ) {
		size_t l = utf8_len((const unsigned char *)s + i, n - i);
		const unsigned char *c = (const unsigned char *)s + i;
		if (l == 0 || (l == 1 && (c[0] < 0x20 || c[0] == 0x7f)) ||
		    (l == 2 && c[0] == 0xc2 && c[1] < 0xa0)) {   /* C1: U+0080..9F */
			s[o++] = '?';
			i += l ? l : 1;
			continue;
		}
		memmove(s + o, s + i, l);
		o += l;
		i += l;
	}
	s[o] = 0;
}

uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;  /* FNV-1a 64 offset basis */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

char *lines_clean(const char *s)
{
	char *copy = xstrdup(s);
	struct buf b = { 0 };
	for (char *l = copy, *nl; l; l = nl && *nl ? nl : NULL) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = '\0';
		str_clean(l);
		if (l != copy)
			buf_addc(&b, '\n');
		buf_adds(&b, l);
	}
	free(copy);
	return buf_take(&b);
}

char *one_line(const char *s)
{
	char *out = xstrdup(s);
	str_clean(out);
	return out;
}

static void push_pid(pid_t **pids, size_t *cap, size_t *n, long pid)
{
	if (pid <= 0)
		return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*pids = xrealloc(*pids, *cap * sizeof(**pids));
	}
	(*pids)[(*n)++] = (pid_t)pid;
}

int read_pids(const char *file, pid_t **pids, size_t *cap, size_t *n)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	long cur = 0;   /* a number may run across two reads */
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				cur = cur * 10 + (buf[i] - '0');
				if (cur > INT_MAX)
					cur = INT_MAX;
			} else {
				push_pid(pids, cap, n, cur);
				cur = 0;
			}
		}
	}
	close(fd);
	push_pid(pids, cap, n, cur);
	return r < 0 ? -1 : 0;
}

int random_hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	size_t got = 0;
	while (got < nbytes) {   /* the bytes first, where the digits go */
		ssize_t n = getrandom(out + got, nbytes - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	out[2 * nbytes] = 0;
	for (size_t i = nbytes; i-- > 0;) {   /* from the end: none read is overwritten */
		unsigned char b = (unsigned char)out[i];
		out[2 * i] = digits[b >> 4];
		out[2 * i + 1] = digits[b & 15];
	}
	return 0;
}
