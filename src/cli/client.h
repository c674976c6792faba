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

/* tend -c PATH reload, printed as it prints, the daemon of PATH started
 * first when it is not running (tend mcp import --http: what it wrote must
 * be served).  Returns the exit code. */
int client_reload(const char *path);

/* tend logs [NAME] [-f] [-n LINES] */
int client_logs(const char *cfgarg, int argc, char **argv);

/* tend events [-f] [--json] [-n LINES] */
int client_events(const char *cfgarg, int argc, char **argv);

/* A connection to the daemon of the file (CFGARG: -c's value, or NULL)
 * kept open for many requests (tend top); never starts a daemon.  NULL
 * after an error line, *CODE the exit code (3: no daemon). */
#include <jansson.h>
struct ctl_req;
struct client_conn;
struct client_conn *client_open(const char *cfgarg, int *code);
int client_conn_fd(const struct client_conn *c);
const char *client_conn_config(const struct client_conn *c);
/* Sends REQ: 0, or -1 with errno. */
int client_send(struct client_conn *c, const struct ctl_req *req);
/* The next reply (ok or not), waited for; NULL after an error line (the
 * connection is gone). */
json_t *client_recv(struct client_conn *c);
/* client_send, then client_recv. */
json_t *client_ask(struct client_conn *c, const struct ctl_req *req);
void client_close(struct client_conn *c);

#endif
