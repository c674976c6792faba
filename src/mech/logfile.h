/* logfile — files that grow by whole lines and rotate by size, and the
 * readers that show and follow them.
 *
 * Writer: PATH is appended to (mode 0600, O_APPEND; never through a
 * symbolic link: O_NOFOLLOW, the rotations renameat and unlinkat in the
 * directory the file was opened in); when the next write
 * would take it past MAX bytes it is rotated first: PATH.(KEEP-1) becomes
 * PATH.KEEP (the oldest is dropped), ..., PATH becomes PATH.1, and a fresh
 * PATH is created.  A write that fails (a full disk: ENOSPC, EDQUOT) never
 * blocks and never loses the file: the caller learns it from the return
 * value and decides (the daemon reports it once as an event).
 *
 * Readers (used by the CLI, which reads the daemon's files directly):
 * logfile_last() gives the last N lines over the rotated set, oldest first;
 * a follower keeps reading a set of files as they grow and follows each
 * one across rotation (it finishes the renamed file, then opens the new
 * one), woken by inotify on the directory, never by polling.  Readers do
 * not follow symbolic links either.
 */
#ifndef TEND_LOGFILE_H
#define TEND_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGFILE_KEEP 3         /* rotated files kept: PATH.1 .. PATH.3 */
#define LOGFILE_LINE_MAX 65536 /* readers cut longer lines there */

struct logfile {
	char *path;       /* relative to DIRFD, unless absolute */
	int dirfd;        /* the directory (borrowed), or AT_FDCWD */
	int fd;           /* -1 while closed */
	uint64_t size;    /* bytes in PATH now */
	uint64_t max;     /* rotate before a write would exceed this; 0: never */
	unsigned keep;
};

/* Opens (creating, 0600) PATH for appending.  Returns 0, or -1/errno with
 * nothing left to close (ELOOP: PATH is a symbolic link). */
int logfile_open(struct logfile *lf, const char *path, uint64_t max,
                 unsigned keep);
/* The same for PATH relative to the directory DIRFD, which must stay open
 * as long as LF is (the rotations happen in it). */
int logfile_openat(struct logfile *lf, int dirfd, const char *path,
                   uint64_t max, unsigned keep);
/* Appends N bytes (whole lines), rotating first when needed; a write
 * larger than MAX goes whole into a fresh PATH.  Returns 0, or -1/errno
 * when the bytes could not all be written (none of them are then kept, and
 * SIZE stays what PATH holds). */
int logfile_write(struct logfile *lf, const void *buf, size_t n);
/* Changes the size limit (a reload); takes effect at the next write. */
void logfile_set_max(struct logfile *lf, uint64_t max);
void logfile_close(struct logfile *lf);

/* Line callback: LINE is not NUL-terminated and has no newline. */
typedef void (*logfile_line_fn)(void *data, size_t idx, const char *line,
                                size_t len);

/* Calls FN for each of the last N lines of PATH.KEEP .. PATH.1, PATH, oldest
 * first (N < 0: every line).  IDX is passed through to FN.  A missing file
 * is no error (nothing was logged yet).  Returns 0 or -1/errno. */
int logfile_last(const char *path, unsigned keep, long n, size_t idx,
                 logfile_line_fn fn, void *data);

/* Follows a set of files in one directory. */
struct logfile_follow;

/* Follows files in DIR; lines written after this call (to files added
 * with logfile_follow_add) are reported by logfile_follow_read.
 * Returns NULL with errno set on failure. */
struct logfile_follow *logfile_follow_new(const char *dir);
/* Adds NAME (a file name in DIR, which may not exist yet) with index IDX,
 * starting at its current end; a file that appears later is read from its
 * start. */
void logfile_follow_add(struct logfile_follow *f, const char *name, size_t idx);
/* The fd to wait on for readability (inotify). */
int logfile_follow_fd(const struct logfile_follow *f);
/* Reads what is new in every followed file (including what a file got
 * before it was rotated away) and calls FN for each complete line, cut at
 * LOGFILE_LINE_MAX (a partial line waits for its newline; a rotated-away
 * file's last line without one is passed on when the follower moves to the
 * new file).  A file found shorter than what was read (truncated) is read
 * again from its start.  Call when the fd is readable (or any time).
 * Returns 0 or -1/errno. */
int logfile_follow_read(struct logfile_follow *f, logfile_line_fn fn,
                        void *data);
void logfile_follow_free(struct logfile_follow *f);

#endif
