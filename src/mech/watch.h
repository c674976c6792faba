/* watch — file triggers (`watch = PATH ...`): a set of paths whose writes
 * run a job or restart a service, after a quiet period.
 *
 * One watcher per daemon holds ONE inotify instance (users get 128 by
 * default), made at the first watch_new, on the loop; any number of sets
 * (one per unit) register on it.  Two sets (or two roots) watching the
 * same directory share its inotify watch: the watcher maps each watch
 * descriptor to the entries using it and removes the watch with the last
 * of them.
 *
 * Roots are absolute paths (not "/", no ".." component, shorter than
 * PATH_MAX):
 *  - a directory is watched recursively: every directory below it,
 *    including those made later (a new directory is read when its watch is
 *    added, so what was created in it before is seen: mkdir -p a/b/c is
 *    watched down to c).  Symbolic links below a root are never followed
 *    (a link is a file of the tree; writes to its target are not seen);
 *    the root's own path is resolved as given.  A directory that is
 *    already in the root's tree (a bind mount of an ancestor) is not
 *    entered again;
 *  - a file is watched through its directory, by name: writing it,
 *    replacing it (rename over it), deleting or re-creating it counts;
 *  - a path that does not exist (yet): its nearest existing ancestor is
 *    watched for the next component (no polling), down to the root once it
 *    is created.  A root that is deleted or renamed away goes back to that
 *    state and is watched again when it comes back.  (A rename of one of
 *    the root's ancestors is not seen: the watches follow the inodes.)
 *
 * What counts as a change (anything else is never seen: opening, reading,
 * closing without writing, atime updates):
 *  - a write: IN_CLOSE_WRITE of a file that had IN_MODIFY since (write,
 *    truncate).  A file kept open is not counted until it is closed;
 *    opened for writing and closed without a write (touch) is not counted.
 *    Up to 768 files written and still open at once are remembered; past
 *    that, every close-after-write counts until they are all closed.
 *    (Writes through a shared mmap are not reported by the kernel.)
 *  - a creation, a deletion, a rename into, out of or within the tree, of a
 *    file or a directory;
 *  - an attribute change (IN_ATTRIB) that is more than timestamps: a
 *    chmod or chown counts, utimensat (touch, touch -a, touch -m) does
 *    not.  A file's first IN_ATTRIB is judged by its times, since its
 *    mode and owner before are not known (nothing is read per file at
 *    set-up): utimensat with "now" leaves atime or mtime equal to ctime,
 *    anything else (chmod, chown, an xattr, a link count) moves ctime
 *    alone.  So a chmod in the same clock tick as the file's last write
 *    is missed, and explicit times (touch -d) count.  Its mode, uid and
 *    gid then go to a cache of 256 entries keyed by (dev, ino); a later
 *    IN_ATTRIB of a cached file counts exactly when one of them changed.
 *  - IN_Q_OVERFLOW (the kernel's queue filled, events were lost): one
 *    change for every set, whose roots are then read again (directories
 *    made during the gap are watched, vanished ones dropped), and every
 *    close-after-write counts until the files known written are closed.
 * Overlapping roots of one set count a change once per root.
 *
 * Ignore patterns (fnmatch(3), no `**`), matched against the path relative
 * to a directory root ("src/a.c"); NULL means WATCH_IGNORE_DEFAULT:
 *  - a trailing '/' makes the pattern match directories only ("build/");
 *  - then, a pattern without '/' matches any single component ("*.o",
 *    ".git": "x/.git/y" is ignored);
 *  - a pattern with '/' (a leading '/' only anchors it to the root and is
 *    dropped) matches the whole relative path or a leading part of it, with
 *    FNM_PATHNAME ('*' does not cross '/'): "doc/[!.]*.tmp", "/build",
 *    "out/gen" ignores "out/gen/x/y".
 * An ignored directory is not watched at all, nor anything below it: the
 * default ".git" costs no inotify watch.  Patterns do not apply to a file
 * root, nor to the root itself.
 *
 * Debounce (the decision is debounce.h's): a burst of changes fires once,
 * DEBOUNCE ms after the last one; a stream that never pauses still fires
 * every watch_max_wait(DEBOUNCE) ms (max(10 x debounce, 1 s)), counted
 * from the first change of the burst.  cb->fired(ctx, path, n): PATH is the absolute path of the first
 * change of the burst (for a root that came or went, the root), N the
 * number of changes counted (saturating; a new directory counts once for
 * itself and once for each entry found in it).
 *
 * Problems go to cb->warn(ctx, msg), one line, each kind ONCE per set:
 * the inotify watch limit reached (ENOSPC: names fs.inotify.
 * max_user_watches), no inotify instance (EMFILE: names fs.inotify.
 * max_user_instances), and the first other error (EACCES, ...).  The set
 * keeps working with the watches it has; what could not be watched is not
 * retried (no polling) until the set is made again.
 *
 * Callbacks only run from the set's own timer on the loop, never from
 * inside a watch_* or watcher_* call; either may watch_free its set (or
 * another).  Memory: about 150 bytes and one inotify watch per watched
 * directory, nothing per file but the two bounded tables above (16 KiB
 * and 8 KiB, made at first need).  Set-up reads each directory once
 * (d_type; fstatat only where the file system leaves it DT_UNKNOWN) and
 * makes no system call per file.
 */
#ifndef TEND_WATCH_H
#define TEND_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define WATCH_IGNORE_DEFAULT ".git"

struct watcher;
struct watch;

struct watch_cb {
	void (*fired)(void *ctx, const char *path, size_t nchanges);
	void (*warn)(void *ctx, const char *msg);      /* may be NULL */
	void *ctx;
};

/* The daemon's watcher on LP.  Never NULL; its inotify instance is made
 * at the first watch_new (a daemon without watches holds none). */
struct watcher *watcher_new(struct loop *lp);
/* Frees W, after its sets (any set left is freed with it); not from a
 * callback.  NULL is fine. */
void watcher_free(struct watcher *w);
/* inotify watches W holds now (directories shared by sets count once). */
size_t watcher_watches(const struct watcher *w);
/* For tests: adding a watch beyond MAX fails as ENOSPC would (0: none). */
void watcher_set_max(struct watcher *w, size_t max);

/* Starts watching ROOTS (absolute paths) for the set, ignoring what
 * IGNORE's patterns match (NULL: WATCH_IGNORE_DEFAULT; NIGNORE 0 with a
 * non-NULL IGNORE: nothing).  Never NULL; what cannot be watched is told
 * to cb->warn, later. */
struct watch *watch_new(struct watcher *w, const char *const *roots, size_t nroots,
                        const char *const *ignore, size_t nignore,
                        uint64_t debounce_ms, const struct watch_cb *cb);
/* Stops watching; a burst not fired yet is dropped.  NULL is fine. */
void watch_free(struct watch *ws);

/* Directories the set watches now, including a file root's directory and
 * the ancestor watched for a missing root. */
size_t watch_dirs(const struct watch *ws);

/* The longest a burst waits: max(10 x DEBOUNCE_MS, 1000). */
uint64_t watch_max_wait(uint64_t debounce_ms);

/* Does PATTERN (the syntax above) ignore REL, a path relative to the root
 * (no leading '/'), which is a directory if IS_DIR? */
bool watch_match(const char *pattern, const char *rel, bool is_dir);

#endif
