/* util — allocation that never returns NULL, string vectors, clocks, one-line
 * messages and the "tend: ..." error line.  Out of memory is fatal: a
 * supervisor that cannot allocate a few bytes has nothing sensible left to
 * do. */
#ifndef TEND_UTIL_H
#define TEND_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* A growable NULL-terminated vector of malloc'd strings. */
struct strv {
	char **v;
	size_t n, cap;
};
void strv_push(struct strv *sv, char *owned);
void strv_free(struct strv *sv);

/* A growable string, always NUL-terminated once something was added. */
struct buf {
	char *s;
	size_t len, cap;
};
void buf_add(struct buf *b, const char *s, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The buffer's string ("" when nothing was added); the buffer is emptied. */
char *buf_take(struct buf *b);

/* Length of the valid UTF-8 sequence at S (N >= 1 bytes left), 0 if
 * invalid (overlong, surrogate, above U+10FFFF, cut short). */
size_t utf8_len(const unsigned char *s, size_t n);
/* Makes S one line of valid UTF-8 in place: control characters (C0, DEL,
 * C1) and invalid bytes become '?' (a sequence cut at the end too). */
void str_clean(char *s);

/* FNV-1a 64 of S: a stable name for a path (not a defence). */
uint64_t fnv1a(const char *s);
/* S as one line of valid UTF-8 (malloc'd; see str_clean). */
char *one_line(const char *s);
/* S as lines of valid UTF-8: each line of it cleaned as str_clean does,
 * the newlines between them kept, a final one dropped (malloc'd). */
char *lines_clean(const char *s);

/* Prints "tend: " + the message + newline to stderr, as one write; a
 * message of several lines gets "tend: " before each. */
void errline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds on CLOCK_MONOTONIC (stands still in a suspend), on
 * CLOCK_BOOTTIME (runs on through one) and on the wall clock. */
uint64_t mono_ms(void);
uint64_t boot_ms(void);
uint64_t wall_ms(void);

/* Sets O_CLOEXEC / O_NONBLOCK on FD; returns 0 or -1. */
int fd_cloexec(int fd);
int fd_nonblock(int fd);

/* Writes the line S (N bytes) to the non-blocking FD in one piece, so that
 * lines of different writers never mix: 1 when it is out (once a part is,
 * the rest is waited for, 100 ms at most between parts, rather than leave
 * half a line), 0 when FD had no room for any of it, -1 on another error
 * (errno; EPIPE: no reader). */
int fd_write_line(int fd, const char *s, size_t n);

/* Closes every descriptor from MIN up (close_range, else one by one as
 * /proc/self/fd lists them).  Returns 0, or -1 (errno) when neither works. */
int fd_close_from(int min);

/* Gives the heap's free pages back to the system (glibc: malloc_trim; a
 * no-op elsewhere).  Costs a walk of the heap: for after a burst. */
void heap_give_back(void);

/* Unmaps the pages of code and read-only data that this process has run
 * or read (its program's and its libraries' segments that are neither
 * writable nor relocated), as a daemon does once it is idle after a burst:
 * most of them ran once, at start or in the burst.  They stay in the page
 * cache; what runs again maps its page back (a minor fault).  Returns the
 * number of bytes of address range given back. */
size_t code_give_back(void);

/* Appends the pids FILE lists (decimal numbers separated by white space:
 * /proc/PID/task/TID/children, a cgroup's cgroup.procs) to *PIDS (*N of
 * *CAP used, grown as needed).  Returns 0, or -1 when it cannot be read
 * (what was read is kept). */
int read_pids(const char *file, pid_t **pids, size_t *cap, size_t *n);

/* One sendmsg of LEN bytes of BUF on the socket SOCK with NFDS descriptors
 * FDS passed along (SCM_RIGHTS; at most FD_PASS_MAX), MSG_NOSIGNAL, again
 * on EINTR.  Returns sendmsg's result. */
#define FD_PASS_MAX 253   /* the kernel's SCM_MAX_FD */
ssize_t fd_send(int sock, const void *buf, size_t len, const int *fds,
                size_t nfds);
/* One recvmsg into BUF (CAP bytes) with FLAGS | MSG_CMSG_CLOEXEC; the
 * descriptors passed with it are appended to FDS (*NFDS of MAX used), and
 * any beyond MAX closed.  *MSG_FLAGS (NULL: not wanted) gets the
 * message's flags (MSG_TRUNC, MSG_CTRUNC).  Returns recvmsg's result. */
ssize_t fd_recv(int sock, void *buf, size_t cap, int flags, int *fds,
                size_t *nfds, size_t max, int *msg_flags);

/* The path of the program NAME in the directory of this process's own
 * (/proc/self/exe): tend and tend-top are installed side by side.
 * malloc'd; NULL (errno) when this program's path cannot be read. */
char *exe_sibling(const char *name);

/* Descriptors this process has open now (from /proc/self/fd), or -1. */
long fd_count(void);

/* How many more descriptors this process may open under its soft limit
 * (*LIMIT): counted (fd_count: a read of /proc/self/fd) only where the
 * limit is at most FD_FREE_AMPLE; -1 above it, or when the count cannot
 * be had: plenty, as far as anyone can tell. */
#define FD_FREE_AMPLE 65536
long fd_free(long *limit);

/* Opens /dev/null on each of 0, 1 and 2 that is closed, so that no pipe,
 * socket or file tend opens later lands there (children inherit 0-2 as
 * their stdin, stdout and stderr).  Call it first thing in main().
 * Returns 0, or -1 (errno set) when /dev/null cannot be opened. */
int fd_std_open(void);
/* FD itself when it is at least MIN (or negative); else a CLOEXEC copy of
 * it at MIN or above, FD being closed (-1 when no copy can be made). */
int fd_at_least(int fd, int min);

/* NBYTES random bytes (getrandom) as 2 * NBYTES hex digits and a NUL in
 * OUT.  0, or -1 with errno. */
int random_hex(char *out, size_t nbytes);

#endif
