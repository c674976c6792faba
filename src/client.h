/* client — the CLI's side of the daemon: connecting (starting the daemon
 * when a command needs it), sending one request, printing the reply; and
 * the commands that read the daemon's files directly (logs, events).
 *
 * Exit codes (DESIGN §3): 0 success, 1 the operation failed, 2 bad usage
 * or configuration, 3 the daemon could not be reached or started.
 */
#ifndef TEND_CLIENT_H
#define TEND_CLIENT_H

/* tend status|start|stop|restart|reload|down [ARGS]: CMD is the command
 * word, ARGV its arguments, CFGARG the -c value (or NULL). */
int client_command(const char *cfgarg, const char *cmd, int argc, char **argv);

/* tend logs [NAME] [-f] [-n LINES] */
/* tend connect SERVICE: passes stdin and stdout to the daemon as a
 * session of SERVICE (share.h) and waits for its end. */
int client_connect(const char *cfgarg, int argc, char **argv);

int client_logs(const char *cfgarg, int argc, char **argv);

/* tend events [-f] [--json] [-n LINES] */
int client_events(const char *cfgarg, int argc, char **argv);

#endif
