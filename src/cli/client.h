/* client — the CLI's side of the daemon: connecting (starting the daemon
 * when a command needs it), sending one request, printing the reply; and
 * the commands that read the daemon's files directly (logs, events).
 *
 * Exit codes (DESIGN §3): 0 success, 1 the operation failed, 2 bad usage
 * or configuration, 3 the daemon could not be reached or started.
 */
#ifndef TEND_CLIENT_H
#define TEND_CLIENT_H

struct cmd_info;

/* tend status|start|stop|restart|reload|down|run|connect [ARGS]: a
 * command of the table (cmd.h) the CLI has; ARGV its arguments, CFGARG
 * the -c value (or NULL).  tend connect SERVICE passes stdin and stdout
 * to the daemon as a session of SERVICE (share.h) and waits for its end;
 * tend connect -- CMD the same for the shared service of CMD. */
int client_command(const char *cfgarg, const struct cmd_info *ci, int argc,
                   char **argv);

/* tend logs [NAME] [-f] [-n LINES] */
int client_logs(const char *cfgarg, int argc, char **argv);

/* tend events [-f] [--json] [-n LINES] */
int client_events(const char *cfgarg, int argc, char **argv);

#endif
