/* paths — where the daemon of one configuration file lives.
 *
 * A daemon is named by its file: ID = the name of the file's directory and
 * a hash of the file's real path ("myproject-1f3a9c0e"), so two files never
 * share a daemon and one file always finds its own.  The user's own file
 * ($XDG_CONFIG_HOME/tend/tend.ini, else ~/.config/tend/tend.ini) is the
 * default daemon's, ID "default", whether it exists or not: without it
 * that daemon runs with an empty configuration (tend connect -- CMD
 * reaches it from any directory, docs/mcp.md).
 *
 *   runtime  RUN/tend, mode 0700, where RUN is $XDG_RUNTIME_DIR when it is
 *            set (an absolute path), else /run/user/UID when that is a
 *            directory of the user's own with mode 0700 (as systemd's
 *            login manager makes it), else /tmp/tend-UID is used instead
 *            of RUN/tend.  So a tend started by an MCP client with a
 *            trimmed environment (HOME, PATH, USER...) reaches the daemon
 *            the user's shell started:
 *            ID.sock (the control socket, 0600), ID.lock (the lock: a
 *            POSIX record lock the kernel drops when its holder dies; the
 *            file holds the holder's pid, for messages only), ID.procs
 *            (every process the daemon started, by pid and start time),
 *            ID.NAME.notify (service NAME's sd_notify socket, 0600;
 *            notify.h)
 *   state    $XDG_STATE_HOME/tend/ID (else HOME/.local/state/tend/ID, HOME
 *            from $HOME or else the user's passwd entry), 0700:
 *            NAME.log (+ .1 .. .3), events.log (+ .1 .. .3), daemon.log
 *
 * Directories are created on demand (0700) and refused, with one line
 * that says what to do, when they are not what tend made: a symbolic
 * link, another user's, open to group or others, or below a directory
 * another user could replace them from (owned by someone other than the
 * user and root, or writable by group or others without the sticky bit).
 * The way to them is walked from / one component at a time, each looked
 * at without following it and entered with O_NOFOLLOW from the one before
 * (what is checked is what is entered), and nothing is created below a
 * directory that fails the check.  A symbolic link on the way is followed
 * only when it cannot be another user's choice (paths_link_safe).  Once
 * checked they are held open (RUNFD, STATEFD) and the files in them are
 * reached relative to those descriptors (docs/security.md).
 */
#ifndef TEND_PATHS_H
#define TEND_PATHS_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

struct paths {
	char *config;   /* real path of the configuration file */
	char *id;
	char *rundir, *sock, *lock, *procs;
	char *statedir, *events, *daemon_log;
	int runfd, statefd;   /* the checked directories (paths_open), or -1 */
	bool is_default;      /* the user's own file: ID "default" */
	bool no_file;         /* ... which does not exist (CONFIG as given) */
};

#define PATHS_DEFAULT_ID "default"

/* The user's own file: $XDG_CONFIG_HOME/tend/tend.ini (an absolute
 * XDG_CONFIG_HOME), else ~/.config/tend/tend.ini (HOME as paths_home
 * finds it) (malloc'd; it may not exist). */
char *paths_user_config(void);

/* The error line for the configuration file CONFIG, which does not exist:
 * the path looked for and what to do (tend init) (malloc'd). */
char *paths_no_file(const char *config);

/* Fills P for the file CONFIG (no directory opened yet): it must exist,
 * unless it is the user's own file (paths_user_config, the same string).
 * Returns 0, or -1 with *ERR (malloc'd). */
int paths_init(struct paths *p, const char *config, char **err);
/* Frees P and closes the directories it holds. */
void paths_free(struct paths *p);

/* Opens DIR, checked as the header says; CREATE: creates it first (and
 * missing parents, 0700).  VAR names the environment variable that chose
 * DIR, for the advice (NULL: none).  Returns a descriptor of it (O_RDONLY
 * | O_DIRECTORY, close-on-exec), or -1 with *ERR (one line: what, why,
 * what to do); errno is ENOENT when DIR (or a parent) does not exist and
 * CREATE is false. */
int paths_open_dir(const char *dir, bool create, const char *var, char **err);
/* May a symbolic link (status LINK) on the way to a directory be followed
 * by user UID, in a directory of status UP?  Yes when UP is writable by
 * its owner only (only the owner, who passed the checks, makes entries
 * there: /home -> /usr/home, a HOME that is a link), else only when the
 * link is UID's or root's: in /tmp anyone may plant a link, and its owner
 * would choose where tend creates and writes (the kernel's
 * protected_symlinks, applied to every component, not only the last).
 * Pure. */
bool paths_link_safe(const struct stat *up, const struct stat *link, uid_t uid);

/* paths_open_dir(DIR, true, NULL, ERR), the descriptor closed: 0 or -1. */
int paths_mkdir(const char *dir, char **err);
/* Opens P's runtime directory into p->runfd / its state directory into
 * p->statefd (paths_open_dir), unless open already.  Returns 0 or -1 with
 * *ERR (errno as paths_open_dir). */
int paths_open_run(struct paths *p, bool create, char **err);
int paths_open_state(struct paths *p, bool create, char **err);

/* The last component of PATH (a pointer into it): the name of one of P's
 * files in the directory P holds open. */
const char *paths_base(const char *path);

/* The runtime directory (malloc'd; not created), by the rule above. */
char *paths_rundir(void);
/* The rule itself: XDG is $XDG_RUNTIME_DIR (or NULL), RUNUSER what lstat
 * said of /run/user/UID (NULL: nothing there). */
char *paths_pick_rundir(const char *xdg, uid_t uid, const struct stat *runuser);
/* The user's home: $HOME when absolute, else the passwd entry's, else
 * /tmp (malloc'd). */
char *paths_home(void);

/* The log file of unit NAME (malloc'd). */
char *paths_unit_log(const struct paths *p, const char *name);

/* A sockaddr for PATH, even one longer than sun_path allows (reached
 * through /proc/self/fd/N of its directory, N kept open in *DIRFD; -1
 * when not needed; the caller closes it).  Returns the address length or
 * -1/errno. */
socklen_t paths_sockaddr(const char *path, struct sockaddr_un *sa, int *dirfd);

/* The address of P's control socket, reached through p->runfd (which
 * must be open): never through the path, whatever became of it.  Returns
 * the address length, or -1/errno. */
socklen_t paths_sock_addr(const struct paths *p, struct sockaddr_un *sa);

/* Makes room for a socket file at PATH (whose address is SA): nothing
 * there, or a stale socket nobody listens on any more (removed).  Another
 * kind of file, or a live socket, is left alone: -1 with EEXIST or
 * EADDRINUSE.  Returns 0 or -1/errno. */
int paths_clear_socket(const char *path, const struct sockaddr_un *sa,
                       socklen_t salen);

/* Takes the lock of P without waiting (opening p->runfd first, without
 * creating it, when it is not open).  Returns its fd (keep it open for
 * as long as the lock is held), or -1 with *HOLDER the holder's pid (0 if
 * unknown) when another process holds it, or -1 with *HOLDER = -1 and
 * errno on failure. */
int paths_lock(struct paths *p, pid_t *holder);

#endif
