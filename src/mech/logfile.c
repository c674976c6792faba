/* logfile — see logfile.h. */
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Bytes the readers read at once. */
#define CHUNK 65536

/* What happens in the directory that may concern a followed name. */
#define FOLLOW_MASK (IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | \
                     IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR)

/* PATH.I, or PATH itself for I = 0. */
static char *rotated_name(const char *path, unsigned i)
{
	return i ? xasprintf("%s.%u", path, i) : xstrdup(path);
}

static void close_keep_errno(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
}

/* Reads N bytes at OFF, all of them or fails (EIO when the file is
 * shorter than it was a moment ago). */
static int pread_full(int fd, char *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* ---- writer ---- */

static int writer_reopen(struct logfile *lf)
{
	struct stat st;
	int fd = openat(lf->dirfd, lf->path, O_WRONLY | O_APPEND | O_CREAT |
	                O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	lf->fd = fd;
	lf->size = (uint64_t)st.st_size;
	return 0;
}

int logfile_open(struct logfile *lf, const char *path, uint64_t max,
                 unsigned keep)
{
	return logfile_openat(lf, AT_FDCWD, path, max, keep);
}

int logfile_openat(struct logfile *lf, int dirfd, const char *path,
                   uint64_t max, unsigned keep)
{
	*lf = (struct logfile){
		.path = xstrdup(path), .dirfd = dirfd, .fd = -1, .max = max,
		.keep = keep,
	};
	if (writer_reopen(lf) == 0)
		return 0;
	int e = errno;
	free(lf->path);
	lf->path = NULL;
	errno = e;
	return -1;
}

/* Whether N more bytes would take PATH past the limit.  An empty PATH
 * takes any write whole: there is nothing to rotate away. */
static bool needs_rotation(const struct logfile *lf, size_t n)
{
	if (lf->max == 0 || lf->size == 0)
		return false;
	return lf->size >= lf->max || n > lf->max - lf->size;
}

/* Shifts PATH.(KEEP-1) .. PATH.1 up by one (the rename onto PATH.KEEP
 * drops the oldest), renames PATH to PATH.1 and opens a fresh PATH.  A
 * file missing from the set is no error.  Only renames: a failure halfway
 * leaves every file in place, and the next write tries again. */
static int writer_rotate(struct logfile *lf)
{
	for (unsigned i = lf->keep; i > 0; i--) {
		char *from = rotated_name(lf->path, i - 1);
		char *to = rotated_name(lf->path, i);
		int r = renameat(lf->dirfd, from, lf->dirfd, to);
		int e = errno;
		free(from);
		free(to);
		if (r < 0 && e != ENOENT) {
			errno = e;
			return -1;
		}
	}
	if (lf->keep == 0 && unlinkat(lf->dirfd, lf->path, 0) < 0 &&
	    errno != ENOENT)
		return -1;
	close(lf->fd);
	lf->fd = -1;
	lf->size = 0;
	return writer_reopen(lf);
}

/* Takes back the first DONE bytes of a write that could not finish, so
 * that PATH keeps whole lines and SIZE stays what PATH holds. */
static void writer_undo(struct logfile *lf, size_t done)
{
	struct stat st;
	int e = errno;
	if (done > 0 && ftruncate(lf->fd, (off_t)lf->size) < 0 &&
	    fstat(lf->fd, &st) == 0)
		lf->size = (uint64_t)st.st_size;
	errno = e;
}

static int writer_append(struct logfile *lf, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(lf->fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			writer_undo(lf, done);
			return -1;
		}
		done += (size_t)w;
	}
	lf->size += n;
	return 0;
}

int logfile_write(struct logfile *lf, const void *buf, size_t n)
{
	if (!lf->path) {
		errno = EBADF;
		return -1;
	}
	if (n == 0)
		return 0;
	/* A fresh PATH that could not be opened at the last rotation. */
	if (lf->fd < 0 && writer_reopen(lf) < 0)
		return -1;
	if (needs_rotation(lf, n) && writer_rotate(lf) < 0)
		return -1;
	return writer_append(lf, buf, n);
}

void logfile_set_max(struct logfile *lf, uint64_t max)
{
	lf->max = max;
}

void logfile_close(struct logfile *lf)
{
	if (lf->fd >= 0)
		close(lf->fd);
	free(lf->path);
	*lf = (struct logfile){ .dirfd = AT_FDCWD, .fd = -1 };
}

/* ---- lines ---- */

/* Splits S[0..N) into lines for FN; what follows the last newline waits in
 * PART for the rest of its line.  A line is cut at LOGFILE_LINE_MAX bytes
 * and the rest of it dropped. */
static void lines_feed(struct buf *part, const char *s, size_t n, size_t idx,
                       logfile_line_fn fn, void *data)
{
	while (n > 0) {
		const char *nl = memchr(s, '\n', n);
		size_t len = nl ? (size_t)(nl - s) : n;
		if (nl && part->len == 0) {
			/* A whole line in S: no copy. */
			fn(data, idx, s,
			   len < LOGFILE_LINE_MAX ? len : LOGFILE_LINE_MAX);
		} else {
			size_t room = LOGFILE_LINE_MAX - part->len;
			buf_add(part, s, len < room ? len : room);
			if (!nl)
				return;
			fn(data, idx, part->s, part->len);
			part->len = 0;
		}
		s += len + 1;
		n -= len + 1;
	}
}

/* Passes on the line waiting in PART: its file ends there. */
static void lines_flush(struct buf *part, size_t idx, logfile_line_fn fn,
                        void *data)
{
	if (part->len > 0)
		fn(data, idx, part->s, part->len);
	part->len = 0;
}

/* ---- last lines ---- */

/* One file of the rotated set and the bytes of it to show. */
struct span {
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t start, end;
};

/* Opens PATH.I into SP, to its current end.  Returns 1, 0 when it is
 * missing, or -1/errno. */
static int span_open(struct span *sp, const char *path, unsigned i)
{
	struct stat st;
	char *name = rotated_name(path, i);
	int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(name);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	*sp = (struct span){
		.fd = fd, .dev = st.st_dev, .ino = st.st_ino,
		.end = (uint64_t)st.st_size,
	};
	return 1;
}

/* Whether SP is one of the N files of SEEN.  Opening a rotated set newest
 * first, a rotation between two opens shows a file again one number up:
 * skipping it keeps the files one after the other. */
static bool span_seen(const struct span *sp, const struct span *seen,
                      size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (seen[j].dev == sp->dev && seen[j].ino == sp->ino)
			return true;
	return false;
}

/* Moves SP's start back, reading from its end a chunk at a time, until it
 * holds *NEED lines or the whole file; lowers *NEED by the lines taken.
 * A last line without a newline counts as a line. */
static int span_take_last(struct span *sp, long *need, char *chunk)
{
	uint64_t pos = sp->end;
	while (pos > 0) {
		size_t len = pos > CHUNK ? CHUNK : (size_t)pos;
		pos -= len;
		if (pread_full(sp->fd, chunk, len, pos) < 0)
			return -1;
		for (size_t i = len; i-- > 0;) {
			/* A newline starts a line, except the one ending the file. */
			if (chunk[i] != '\n' || pos + i == sp->end - 1)
				continue;
			if (--*need == 0) {
				sp->start = pos + i + 1;
				return 0;
			}
		}
	}
	if (sp->end > 0)
		--*need; /* the first line of the file */
	sp->start = 0;
	return 0;
}

static int span_deliver(const struct span *sp, char *chunk, struct buf *part,
                        size_t idx, logfile_line_fn fn, void *data)
{
	for (uint64_t pos = sp->start; pos < sp->end;) {
		uint64_t left = sp->end - pos;
		size_t len = left > CHUNK ? CHUNK : (size_t)left;
		if (pread_full(sp->fd, chunk, len, pos) < 0)
			return -1;
		lines_feed(part, chunk, len, idx, fn, data);
		pos += len;
	}
	lines_flush(part, idx, fn, data);
	return 0;
}

int logfile_last(const char *path, unsigned keep, long n, size_t idx,
                 logfile_line_fn fn, void *data)
{
	if (n == 0)
		return 0;
	/* Newest first, as far back as N lines go; then shown oldest first. */
	struct span *sp = xcalloc((size_t)keep + 1, sizeof(*sp));
	char *chunk = xmalloc(CHUNK);
	struct buf part = { 0 };
	size_t nsp = 0;
	long need = n;
	int r = 0;
	for (unsigned i = 0; i <= keep && need != 0; i++) {
		int o = span_open(&sp[nsp], path, i);
		if (o < 0) {
			r = -1;
			break;
		}
		if (o == 0)
			continue;
		if (span_seen(&sp[nsp], sp, nsp)) {
			close(sp[nsp].fd);
			continue;
		}
		if (n > 0)
			r = span_take_last(&sp[nsp], &need, chunk);
		nsp++;
		if (r < 0)
			break;
	}
	for (size_t j = nsp; j-- > 0 && r == 0;)
		r = span_deliver(&sp[j], chunk, &part, idx, fn, data);
	int e = errno;
	for (size_t j = 0; j < nsp; j++)
		close(sp[j].fd);
	free(part.s);
	free(chunk);
	free(sp);
	errno = e;
	return r < 0 ? -1 : 0;
}

/* ---- follower ---- */

struct followed {
	char *path;       /* DIR/NAME */
	size_t idx;
	int fd;           /* the file NAME was when last seen; -1: none yet */
	dev_t dev;
	ino_t ino;
	uint64_t off;     /* bytes of FD read */
	struct buf part;  /* a line not complete yet */
};

struct logfile_follow {
	int ifd;          /* inotify, watching DIR */
	char *dir;
	struct followed *v;
	size_t n, cap;
	char *chunk;
};

struct logfile_follow *logfile_follow_new(const char *dir)
{
	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		return NULL;
	if (inotify_add_watch(ifd, dir, FOLLOW_MASK | IN_DONT_FOLLOW) < 0) {
		close_keep_errno(ifd);
		return NULL;
	}
	struct logfile_follow *f = xcalloc(1, sizeof(*f));
	f->ifd = ifd;
	f->dir = xstrdup(dir);
	f->chunk = xmalloc(CHUNK);
	return f;
}

/* Opens the file FL's name is now, at its end or its start.  Returns false
 * when there is none (yet). */
static bool followed_open(struct followed *fl, bool at_end)
{
	struct stat st;
	int fd = open(fl->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	fl->fd = fd;
	fl->dev = st.st_dev;
	fl->ino = st.st_ino;
	fl->off = at_end ? (uint64_t)st.st_size : 0;
	fl->part.len = 0;
	return true;
}

void logfile_follow_add(struct logfile_follow *f, const char *name, size_t idx)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	struct followed *fl = &f->v[f->n++];
	*fl = (struct followed){
		.path = xasprintf("%s/%s", f->dir, name), .idx = idx, .fd = -1,
	};
	followed_open(fl, true);
}

int logfile_follow_fd(const struct logfile_follow *f)
{
	return f->ifd;
}

/* Reads what FL's open file got since the last read, up to its size now
 * (what comes later wakes the follower again).  A file shorter than what
 * was read was truncated: it is read again from its start. */
static int followed_read(struct followed *fl, char *chunk, logfile_line_fn fn,
                         void *data)
{
	struct stat st;
	if (fstat(fl->fd, &st) < 0)
		return -1;
	uint64_t size = (uint64_t)st.st_size;
	if (size < fl->off) {
		fl->off = 0;
		fl->part.len = 0;
	}
	while (fl->off < size) {
		uint64_t left = size - fl->off;
		ssize_t r = pread(fl->fd, chunk, left > CHUNK ? CHUNK : (size_t)left,
		                  (off_t)fl->off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break; /* truncated meanwhile: seen at the next read */
		lines_feed(&fl->part, chunk, (size_t)r, fl->idx, fn, data);
		fl->off += (uint64_t)r;
	}
	return 0;
}

/* Whether FL's name is another file than the one FL has open (rotated
 * away and created again).  Asked before the last read of the old file: a
 * writer is done with a file once it renamed it, so that read gets all of
 * it.  While the name is missing (between a rotation's rename and its new
 * file, or deleted) the old file stays open. */
static bool followed_replaced(const struct followed *fl)
{
	struct stat st;
	if (stat(fl->path, &st) < 0)
		return false;
	return st.st_dev != fl->dev || st.st_ino != fl->ino;
}

/* Moves FL from its old file, read to its end, to the file its name is now.
 * Rotations since the last read moved the old file to NAME.J; the newer
 * NAME.(J-1) .. NAME.1 come first, whole.  Found newest first, like
 * logfile_last does; when the old file is not among them (deleted, or
 * rotated out of the set) only the current one is read. */
static int followed_switch(struct followed *fl, char *chunk,
                           logfile_line_fn fn, void *data)
{
	struct span *sp = NULL;
	size_t n = 0, cap = 0;
	bool found = false;
	int o = 1;
	for (unsigned i = 0; !found; i++) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			sp = xrealloc(sp, cap * sizeof(*sp));
		}
		o = span_open(&sp[n], fl->path, i);
		if (o <= 0)
			break;
		found = sp[n].dev == fl->dev && sp[n].ino == fl->ino;
		if (found || span_seen(&sp[n], sp, n))
			close(sp[n].fd);
		else
			n++;
	}
	/* No file to switch to (the name is gone again, or is the old file
	 * again): stay with the old one. */
	int r = o < 0 ? -1 : 0;
	for (size_t j = n; r == 0 && found && j-- > 1;)
		r = span_deliver(&sp[j], chunk, &fl->part, fl->idx, fn, data);
	if (r == 0 && n > 0) {
		close(fl->fd);
		fl->fd = sp[0].fd;
		fl->dev = sp[0].dev;
		fl->ino = sp[0].ino;
		fl->off = 0;
		fl->part.len = 0;
		sp[0].fd = -1;
		r = followed_read(fl, chunk, fn, data);
	}
	int e = errno;
	for (size_t j = 0; j < n; j++)
		if (sp[j].fd >= 0)
			close(sp[j].fd);
	free(sp);
	errno = e;
	return r;
}

static int followed_sync(struct followed *fl, char *chunk, logfile_line_fn fn,
                         void *data)
{
	if (fl->fd < 0) {
		/* Appeared after it was added: everything in it is new. */
		if (!followed_open(fl, false))
			return 0;
		return followed_read(fl, chunk, fn, data);
	}
	bool replaced = followed_replaced(fl);
	if (followed_read(fl, chunk, fn, data) < 0)
		return -1;
	if (!replaced)
		return 0;
	/* The old file ends here, with or without a newline. */
	lines_flush(&fl->part, fl->idx, fn, data);
	return followed_switch(fl, chunk, fn, data);
}

/* Empties the inotify queue: which events came does not matter, every
 * followed file is looked at. */
static int follow_drain(int ifd)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t r = read(ifd, ev, sizeof(ev));
		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r == 0)
			errno = EIO;
		return -1;
	}
}

int logfile_follow_read(struct logfile_follow *f, logfile_line_fn fn,
                        void *data)
{
	int err = 0;
	if (follow_drain(f->ifd) < 0)
		err = errno;
	for (size_t i = 0; i < f->n; i++)
		if (followed_sync(&f->v[i], f->chunk, fn, data) < 0 && !err)
			err = errno;
	if (!err)
		return 0;
	errno = err;
	return -1;
}

void logfile_follow_free(struct logfile_follow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].fd >= 0)
			close(f->v[i].fd);
		free(f->v[i].path);
		free(f->v[i].part.s);
	}
	close(f->ifd);
	free(f->v);
	free(f->dir);
	free(f->chunk);
	free(f);
}
