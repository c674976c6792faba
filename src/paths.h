/* paths — where the daemon of one configuration file lives.
 *
 * A daemon is named by its file: ID = the name of the file's directory and
 * a hash of the file's real path ("myproject-1f3a9c0e"), so two files never
 * share a daemon and one file always finds its own.
 *
 *   runtime  $XDG_RUNTIME_DIR/tend (else /tmp/tend-$UID), mode 0700:
 *            ID.sock (the control socket, 0600), ID.lock (the lock: a
 *            POSIX record lock the kernel drops when its holder dies; the
 *            file holds the holder's pid, for messages only), ID.procs
 *            (every process the daemon started, by pid and start time),
 *            ID.NAME.notify (service NAME's sd_notify socket, 0600;
 *            notify.h)
 *   state    $XDG_STATE_HOME/tend/ID (else ~/.local/state/tend/ID), 0700:
 *            NAME.log (+ .1 .. .3), events.log (+ .1 .. .3), daemon.log
 *
 * Directories are created on demand and refused when they belong to
 * another user or are open to group or others.
 */
#ifndef TEND_PATHS_H
#define TEND_PATHS_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

struct paths {
	char *config;   /* real path of the configuration file */
	char *id;
	char *rundir, *sock, *lock, *procs;
	char *statedir, *events, *daemon_log;
};

/* Fills P for the file CONFIG.  Returns 0, or -1 with *ERR (malloc'd). */
int paths_init(struct paths *p, const char *config, char **err);
void paths_free(struct paths *p);

/* Creates DIR (and missing parents) and checks that DIR is ours and
 * 0700.  Returns 0, or -1 with *ERR. */
int paths_mkdir(const char *dir, char **err);

/* The runtime directory (malloc'd; not created). */
char *paths_rundir(void);

/* The log file of unit NAME (malloc'd). */
char *paths_unit_log(const struct paths *p, const char *name);

/* A sockaddr for PATH, even one longer than sun_path allows (reached
 * through /proc/self/fd/N of its directory, N kept open in *DIRFD; -1
 * when not needed; the caller closes it).  Returns the address length or
 * -1/errno. */
socklen_t paths_sockaddr(const char *path, struct sockaddr_un *sa, int *dirfd);

/* Makes room for a socket file at PATH (whose address is SA): nothing
 * there, or a stale socket nobody listens on any more (removed).  Another
 * kind of file, or a live socket, is left alone: -1 with EEXIST or
 * EADDRINUSE.  Returns 0 or -1/errno. */
int paths_clear_socket(const char *path, const struct sockaddr_un *sa,
                       socklen_t salen);

/* Takes the lock of P without waiting.  Returns its fd (keep it open for
 * as long as the lock is held), or -1 with *HOLDER the holder's pid (0 if
 * unknown) when another process holds it, or -1 with *HOLDER = -1 and
 * errno on failure. */
int paths_lock(const struct paths *p, pid_t *holder);

#endif
