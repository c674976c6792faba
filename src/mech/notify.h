/* notify — the daemon's sd_notify socket (NOTIFY_SOCKET), and the parser
 * of what services send on it.
 *
 * A notification is one datagram of newline-separated KEY=VALUE lines, as
 * sd_notify(3) sends them.  notify_parse reads the keys tend acts on and
 * ignores the rest (the protocol is extensible); it splits on '\r' as well
 * as '\n', as systemd does, so a client that works under systemd works here.
 * For a flag key (READY, STOPPING, RELOADING) "1" sets it and "0" clears
 * it; WATCHDOG takes "1" or "trigger"; any other value is malformed.  A
 * malformed line is ignored, and the last well-formed assignment of a key
 * wins.
 *
 * The socket is a datagram socket with SO_PASSCRED: the kernel stamps every
 * datagram with the sender's pid and uid, which no unprivileged sender can
 * forge; the caller attributes a datagram to a unit by that pid.  Anyone
 * who can reach the socket can send, so the pid is the only authority:
 *
 *  - at PATH (when it fits in sun_path) the socket file is 0600, so only
 *    tend's uid (and root) can send;
 *  - a PATH too long for sun_path gets an abstract socket instead,
 *    "@tend-" and 32 hex digits of 16 random bytes (getrandom): a name
 *    nobody can know before it is bound, so nobody can bind it first and
 *    keep the service from ever becoming ready (a name computed from PATH
 *    could be, by any user: abstract names have no owner).  A name that is
 *    taken all the same is drawn again (NOTIFY_NAME_TRIES times).  Abstract
 *    sockets have no permissions (any process of the network namespace can
 *    send) and are not seen from another network namespace.  The name lives
 *    as long as the socket: the unit keeps it across its runs, and nothing
 *    else needs to find it again (a next daemon kills what a killed one
 *    left, it does not take its runs over).
 *
 * A datagram is dropped (and counted) when it was truncated (longer than
 * NOTIFY_DGRAM_MAX), came without credentials or with pid 0 (a sender in
 * another pid namespace, which no unit can own), or is no notification at
 * all (notify_parse returns -1).  Descriptors passed with SCM_RIGHTS
 * (FDSTORE=1) are closed as soon as they arrive: tend keeps no fd store.
 */
#ifndef TEND_NOTIFY_H
#define TEND_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "util.h"

#define NOTIFY_DGRAM_MAX 4096   /* longer datagrams are dropped */
#define NOTIFY_BATCH 64         /* datagrams read per loop wakeup */
#define NOTIFY_STATUS_MAX 255   /* bytes of STATUS kept */

struct notify_msg {
	bool ready;             /* READY=1 */
	bool stopping;          /* STOPPING=1 */
	bool reloading;         /* RELOADING=1 (accepted, reported) */
	bool watchdog;          /* WATCHDOG=1 */
	bool watchdog_trigger;  /* WATCHDOG=trigger */
	uint64_t watchdog_usec; /* WATCHDOG_USEC=N; 0: not sent (and
	                         * WATCHDOG_USEC=0 is ignored: 0 is no
	                         * timeout tend can keep) */
	bool has_status;
	/* STATUS=..., valid UTF-8: cut to NOTIFY_STATUS_MAX bytes on a
	 * character boundary, control characters (C0, DEL, C1) replaced by
	 * spaces, bytes that are not UTF-8 by '?' */
	char status[NOTIFY_STATUS_MAX + 1];
	pid_t mainpid;          /* MAINPID=N (N > 0), 0: not sent */
};

/* Parses the datagram BUF of LEN bytes into MSG (cleared first).  Returns
 * 0, or -1 when it is no notification at all (empty, or contains a NUL
 * byte).  Pure. */
int notify_parse(const char *buf, size_t len, struct notify_msg *msg);

/* Called once per accepted datagram, with the sender's pid and uid.  It
 * may notify_close the socket (the rest of the batch stays unread), not
 * free it. */
typedef void (*notify_fn)(void *data, pid_t pid, uid_t uid,
                          const struct notify_msg *msg);

struct notify_sock {
	int fd;
	char *name;     /* the NOTIFY_SOCKET value: PATH, or "@tend-HEX" */
	char *path;     /* the socket file to unlink; NULL for an abstract name */
	struct loop_io io;
	notify_fn fn;
	void *data;
	uint64_t dropped;
};

/* The abstract name of 16 random BYTES: "@tend-" and 32 lowercase hex
 * digits, NUL-terminated.  Pure. */
#define NOTIFY_NAME_BYTES 16
#define NOTIFY_NAME_MAX (6 + 2 * NOTIFY_NAME_BYTES + 1)
#define NOTIFY_NAME_TRIES 8
void notify_abstract_name(const unsigned char bytes[NOTIFY_NAME_BYTES],
                          char name[NOTIFY_NAME_MAX]);

/* Binds a datagram socket (CLOEXEC, NONBLOCK, SO_PASSCRED) at PATH, an
 * absolute path (sd_notify accepts no other), mode 0600, or at a fresh
 * abstract name when PATH does not fit in sun_path, and watches it on LP:
 * FN runs once per accepted datagram, at most NOTIFY_BATCH per wakeup (a
 * flood cannot starve the loop; the rest waits in the socket's queue).
 *
 * A socket file already at PATH is replaced when it is stale (nobody
 * listens on it); a live one fails with EADDRINUSE, and anything but a
 * socket (a file, a directory, a symlink) is never removed: EEXIST.  A
 * relative PATH fails with EINVAL.  Returns 0, or -1/errno with NS left
 * closed (notify_close is then a no-op). */
int notify_open(struct notify_sock *ns, struct loop *lp, const char *path,
                notify_fn fn, void *data);

/* Stops watching, closes the socket and unlinks its file (an abstract
 * name just goes).  Safe on a closed or failed NS. */
void notify_close(struct notify_sock *ns, struct loop *lp);

/* Datagrams dropped so far (truncated, without credentials, not a
 * notification), for status. */
uint64_t notify_dropped(const struct notify_sock *ns);

/* Pushes onto ENV what a child of NS needs: NOTIFY_SOCKET=NAME and, when
 * WATCHDOG_MS > 0, WATCHDOG_USEC=WATCHDOG_MS*1000.
 *
 * Never WATCHDOG_PID: systemd sets it to the main process's pid, and
 * sd_watchdog_enabled() ignores WATCHDOG_USEC in any process whose pid
 * differs.  tend does not know the pid when it builds the environment (the
 * service is exec'd below a shim), it accepts WATCHDOG=1 from any process
 * of the tree, and a WATCHDOG_PID naming the shim or tend would switch the
 * watchdog off in the very process meant to send it.  Without it, every
 * process of the tree that inherits WATCHDOG_USEC may ping. */
void notify_env(const struct notify_sock *ns, uint64_t watchdog_ms,
                struct strv *env);

/* Is ENTRY ("KEY=VALUE") one of the variables notify_env owns
 * (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID)?  The caller leaves these
 * out of what a child inherits from tend's own environment: a tend run by
 * systemd has its own, getenv() returns the first of two entries, and a
 * stale WATCHDOG_PID or WATCHDOG_USEC would mislead the service. */
bool notify_env_owns(const char *entry);

#endif
