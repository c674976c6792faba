#include "client.h"
#include "cmd.h"
#include "config.h"
#include "ctl.h"
#include "daemon.h"
#include "events.h"
#include "logfile.h"
#include "logview.h"
#include "parse.h"
#include "paths.h"
#include "proc_os.h"
#include "status_view.h"
#include "suggest.h"
#include "util.h"
#include "zeroconf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_DAEMON 3

/* How long a command waits for a daemon it started (or that another
 * caller is starting) to accept connections. */
#define CONNECT_WAIT_MS 10000

extern char **environ;

static bool want_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

/* The file and where its daemon lives; NULL after an error line. */
static struct tend_config *open_config(const char *cfgarg, struct paths *p)
{
	char *path = config_locate(cfgarg), *err = NULL;
	struct tend_config *cfg = NULL;
	if (paths_init(p, path, &err) == 0) {
		/* The default daemon's file may not exist: it has none. */
		cfg = p->is_default ? config_load_optional(path, &err)
		                    : config_load(path, &err);
		if (!cfg)
			paths_free(p);
	} else {
		/* No such file: the file's own error says what to do. */
		char *perr = err;
		err = NULL;
		cfg = config_load(path, &err);
		config_free(cfg);
		cfg = NULL;
		if (!err)
			err = perr;
		else
			free(perr);
	}
	if (!cfg) {
		errline("%s", err);
		free(err);
	}
	free(path);
	return cfg;
}

/* --- talking to the daemon --- */

/* Connects to the daemon of P.  Returns the socket, or -1 with errno:
 * ENOENT or ECONNREFUSED when no daemon listens there (yet); EPERM with
 * *WHY (one line, malloc'd) when what is there is refused; another errno
 * when the connection failed. */
static int ctl_connect(struct paths *p, char **why)
{
	*why = NULL;
	if (paths_open_run(p, false, why) < 0) {
		if (errno != ENOENT) {
			errno = EPERM;
			return -1;
		}
		free(*why);
		*why = NULL;
		errno = ENOENT;
		return -1;
	}
	/* Only a socket file is connected to: a symbolic link put in its
	 * place could lead anywhere. */
	struct stat st;
	if (fstatat(p->runfd, paths_base(p->sock), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISSOCK(st.st_mode)) {
		*why = S_ISLNK(st.st_mode)
		       ? xasprintf("%s is a symbolic link, not the daemon's socket: not "
		                   "connecting through it; remove it (rm %s)", p->sock,
		                   p->sock)
		       : xasprintf("%s is not a socket; remove it (rm %s)", p->sock,
		                   p->sock);
		errno = EPERM;
		return -1;
	}
	struct sockaddr_un sa;
	socklen_t len = paths_sock_addr(p, &sa);
	if (len == (socklen_t)-1)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Whoever listens there must be this user's daemon (even a file
	 * swapped between the check above and the connect cannot change
	 * that). */
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	if (connect(fd, (struct sockaddr *)&sa, len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (cr.uid != geteuid()) {
		*why = xasprintf("the process listening on %s runs as uid %u, not as "
		                 "you (uid %u): it is not your daemon; not talking to "
		                 "it", p->sock, (unsigned)cr.uid, (unsigned)geteuid());
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Keeps trying for a while: a daemon that another caller just started may
 * not listen yet. */
static int ctl_connect_wait(struct paths *p, char **why)
{
	uint64_t end = mono_ms() + CONNECT_WAIT_MS;
	unsigned delay = 5;
	for (;;) {
		int fd = ctl_connect(p, why);
		if (fd >= 0 || (errno != ENOENT && errno != ECONNREFUSED) ||
		    mono_ms() >= end)
			return fd;
		usleep(delay * 1000);
		delay = delay < 100 ? delay * 2 : 100;
	}
}

/* Sends REQ, with FDS (NFDS of them, SCM_RIGHTS) along with its first
 * byte.  Returns 0, or -1 with errno and no message: a daemon that refused
 * the connection (all its slots waiting for answers, out of descriptors)
 * wrote why and closed before the request went, and that line is what
 * the user must see (reply_after). */
static int send_req(int fd, const struct ctl_req *req, const int *fds,
                    size_t nfds)
{
	char *line = ctl_format(req);
	size_t n = strlen(line), off = 0;
	while (off < n) {
		ssize_t w = fd_send(fd, line + off, n - off, off ? NULL : fds,
		                    off ? 0 : nfds);
		if (w < 0) {
			int e = errno;
			free(line);
			errno = e;
			return -1;
		}
		off += (size_t)w;
	}
	free(line);
	return 0;
}

/* Reads from FD into B until it holds a whole line; false at the end of
 * the connection (or an error) before one. */
static bool read_line(int fd, struct buf *b)
{
	while (!(b->len && memchr(b->s, '\n', b->len))) {
		char chunk[65536];
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		buf_add(b, chunk, (size_t)r);
	}
	return true;
}

/* The next reply line from FD (B keeps what came after it), as an object;
 * NULL after an error line. */
static json_t *read_reply(int fd, struct buf *b, const struct paths *p)
{
	if (!read_line(fd, b)) {
		errline("the daemon closed the connection without answering; "
		        "see %s", p->daemon_log);
		return NULL;
	}
	char *nl = memchr(b->s, '\n', b->len);
	size_t len = (size_t)(nl - b->s);
	json_error_t je;
	json_t *o = json_loadb(b->s, len, 0, &je);
	memmove(b->s, nl + 1, b->len - len - 1);
	b->len -= len + 1;
	if (!json_is_object(o)) {
		errline("the daemon's reply is not JSON (%s); is it the same version "
		        "as this tend?", je.text);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Sends REQ (with FDS) and reads its reply object (NULL after an error
 * line; B keeps what came after it).  When the request cannot be sent,
 * the daemon may have refused the connection: its line is the reply. */
static json_t *send_and_read(int fd, const struct ctl_req *req, const int *fds,
                             size_t nfds, struct buf *b, const struct paths *p)
{
	if (send_req(fd, req, fds, nfds) == 0)
		return read_reply(fd, b, p);
	int e = errno;
	if ((e == EPIPE || e == ECONNRESET) && read_line(fd, b))
		return read_reply(fd, b, p);
	errline("cannot talk to the daemon at %s: %s", p->sock, strerror(e));
	return NULL;
}

/* Sends REQ, returns the reply object (NULL after an error line). */
static json_t *call(int fd, const struct ctl_req *req, const struct paths *p)
{
	struct buf b = { 0 };
	json_t *o = send_and_read(fd, req, NULL, 0, &b, p);
	free(b.s);
	return o;
}

/* call() for tend status --json (REQ): a reply of the usual shape is
 * printed as it comes, reindented, not parsed (status_print_json), and
 * *PRINTED set; any other (an error, an older daemon's) is returned
 * parsed, as call() does. */
static json_t *call_status_json(int fd, const struct ctl_req *req,
                                const struct paths *p, bool *printed)
{
	struct buf b = { 0 }, out = { 0 };
	json_t *o = NULL;
	*printed = false;
	if (send_req(fd, req, NULL, 0) < 0) {
		int e = errno;
		if ((e == EPIPE || e == ECONNRESET) && read_line(fd, &b))
			o = read_reply(fd, &b, p);
		else
			errline("cannot talk to the daemon at %s: %s", p->sock,
			        strerror(e));
	} else if (read_line(fd, &b)) {
		const char *nl = memchr(b.s, '\n', b.len);
		if (status_print_json(b.s, (size_t)(nl - b.s), &out)) {
			if (fwrite(out.s, 1, out.len, stdout) == out.len &&
			    fflush(stdout) == 0) {
				*printed = true;
				o = json_pack("{s:b}", "ok", 1);
			} else {   /* said as a refusal is: one line, exit 1 */
				char *why = xasprintf("cannot write the status to "
				                      "stdout: %s", strerror(errno));
				o = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", why,
				              "exit", EXIT_FAILED);
				free(why);
			}
		} else {
			o = read_reply(fd, &b, p);
		}
	} else {
		o = read_reply(fd, &b, p);   /* says the connection closed */
	}
	free(out.s);
	free(b.s);
	return o;
}

/* The exit code a refusal R asks for, after its error line. */
static int refused(json_t *r)
{
	const char *e = json_string_value(json_object_get(r, "error"));
	json_t *x = json_object_get(r, "exit");
	errline("%s", e ? e : "the daemon refused the request");
	return json_is_integer(x) ? (int)json_integer_value(x) : EXIT_FAILED;
}

/* The file's path (malloc'd) and P, where its daemon lives; NULL after an
 * error line. */
static char *locate(const char *cfgarg, struct paths *p)
{
	char *path = config_locate(cfgarg), *err = NULL;
	if (paths_init(p, path, &err) < 0) {
		errline("%s", err);
		free(err);
		free(path);
		return NULL;
	}
	return path;
}

/* A name REQ gives (not a pattern: the daemon matches those) that CFG
 * has no unit of, or NULL. */
static const char *name_not_in(const struct tend_config *cfg,
                               const struct ctl_req *req)
{
	if (req->name && !config_unit_named(cfg, req->name))
		return req->name;
	for (size_t i = 0; i < req->nnames; i++)
		if (!cmd_is_pattern(req->names[i]) &&
		    !config_unit_named(cfg, req->names[i]))
			return req->names[i];
	return NULL;
}

/* The daemon of the file at PATH (P: its paths), a connected control
 * socket; the names REQ gives must be units of the file when the daemon
 * has to be started.  Without a daemon: START starts one, else returns -1
 * with *CODE -1 (no error line).  Other failures: -1 after an error line,
 * *CODE the exit code. */
static int reach_daemon(const char *path, struct paths *p,
                        const struct ctl_req *req, bool start, int *code)
{
	char *why = NULL;
	int fd = ctl_connect(p, &why);
	if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED)) {
		/* No daemon (or one just starting). */
		if (!start) {
			*code = -1;
			return -1;
		}
		char *err = NULL;
		struct tend_config *cfg = p->is_default ? config_load_optional(path, &err)
		                                        : config_load(path, &err);
		if (!cfg) {
			errline("%s", err);
			free(err);
			*code = EXIT_USAGE;
			return -1;
		}
		const char *name = name_not_in(cfg, req);
		if (name) {
			const char **names = xcalloc(cfg->nunits + 1, sizeof(*names));
			for (size_t i = 0; i < cfg->nunits; i++)
				names[i] = cfg->units[i]->name;
			const char *near = suggest_near(name, names);
			errline("no service named \"%s\" in %s%s%s%s", name, p->config,
			        near ? "; did you mean \"" : "", near ? near : "",
			        near ? "\"?" : "");
			free(names);
			config_free(cfg);
			*code = EXIT_USAGE;
			return -1;
		}
		*code = daemon_spawn(cfg);
		if (*code != 0)
			return -1;
		fd = ctl_connect_wait(p, &why);
	}
	if (fd < 0 && why) {
		errline("%s", why);
		free(why);
		*code = EXIT_DAEMON;
	} else if (fd < 0) {
		errline("cannot reach the daemon at %s: %s", p->sock, strerror(errno));
		*code = EXIT_DAEMON;
	}
	return fd;
}

/* --- human output --- */

static void print_reload(json_t *r)
{
	static const char *const keys[] = { "added", "removed", "changed" };
	bool any = false;
	for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
		json_t *a = json_object_get(r, keys[k]);
		if (!json_array_size(a))
			continue;
		printf("%s%s:", any ? "; " : "", keys[k]);
		size_t i;
		json_t *n;
		json_array_foreach(a, i, n)
			printf(" %s", json_string_value(n));
		any = true;
	}
	printf("%s\n", any ? "" : "nothing changed");
}

/* --- commands over the socket --- */

/* tend run --wait / --join: what the run R (a reply) ended with. */
static int run_outcome(const char *name, json_t *r)
{
	json_t *lr = json_object_get(r, "last_run");
	if (json_is_null(json_object_get(r, "run")) || !json_is_object(lr))
		return 0;   /* --join with nothing running */
	const char *res = json_string_value(json_object_get(lr, "result"));
	json_t *x = json_object_get(r, "exit");
	int code = json_is_integer(x) ? (int)json_integer_value(x) : EXIT_FAILED;
	if (res && strcmp(res, "success") != 0) {
		json_t *c = json_object_get(lr, "code"), *sig = json_object_get(lr, "signal");
		char how[64] = "";
		if (json_is_integer(c))
			snprintf(how, sizeof(how), " (exit code %lld)",
			         (long long)json_integer_value(c));
		else if (json_is_string(sig))
			snprintf(how, sizeof(how), " (signal %s)", json_string_value(sig));
		errline("job \"%s\" run %lld: %s%s; see tend logs %s", name,
		        (long long)json_integer_value(json_object_get(lr, "run")), res,
		        how, name);
	}
	return code;
}

/* tend run: what the reply R says; with --wait or --join, what the run
 * ended with.  Returns the exit code. */
static int show_run(const struct ctl_req *req, json_t *r)
{
	if (req->wait || req->join)
		return run_outcome(req->name, r);
	json_t *n = json_object_get(r, "run");
	printf("run %lld%s\n", (long long)json_integer_value(n),
	       json_is_true(json_object_get(r, "coalesced"))
	       ? " (after the one running now)"
	       : json_is_true(json_object_get(r, "queued"))
	       ? " queued (max-jobs runs go on now)" : " started");
	return 0;
}

/* A request over several units: each one's outcome R (a reply with its
 * name) as "NAME: what", a failure as an error line.  Returns the exit
 * code: 1 when any failed. */
static int show_result(const struct ctl_req *req, json_t *r)
{
	const char *name = json_string_value(json_object_get(r, "name"));
	if (!name)
		name = "?";
	if (!json_is_true(json_object_get(r, "ok"))) {
		const char *e = json_string_value(json_object_get(r, "error"));
		errline("%s: %s", name, e ? e : "failed");
		return EXIT_FAILED;
	}
	json_t *pid = json_object_get(r, "pid");
	if (req->cmd != CTL_RUN) {
		const char *st = json_string_value(json_object_get(r, "state"));
		printf("%s: %s", name, st ? st : "done");
		if (json_is_integer(pid))
			printf(" (pid %lld)", (long long)json_integer_value(pid));
		putchar('\n');
		return 0;
	}
	struct ctl_req one = *req;
	one.name = (char *)name;
	if (!req->wait && !req->join) {
		printf("%s: ", name);
		return show_run(&one, r) ? EXIT_FAILED : 0;
	}
	if (run_outcome(name, r) != 0)
		return EXIT_FAILED;
	json_t *lr = json_object_get(r, "last_run");
	if (json_is_null(json_object_get(r, "run")))
		printf("%s: no run going on\n", name);
	else
		printf("%s: run %lld %s\n", name,
		       (long long)json_integer_value(json_object_get(lr, "run")),
		       json_string_value(json_object_get(lr, "result")));
	return 0;
}

static int show_results(const struct ctl_req *req, json_t *results)
{
	int code = 0;
	size_t i;
	json_t *r;
	json_array_foreach(results, i, r)
		if (show_result(req, r) != 0)
			code = EXIT_FAILED;
	return code;
}

/* The daemon's answer R (ok) to REQ, shown; returns the exit code.  FD is
 * the connection: down waits until the daemon closes it. */
static int show_reply(const struct ctl_req *req, unsigned json, json_t *r, int fd)
{
	char c;
	if (req->names && json_is_array(json_object_get(r, "results")))
		return show_results(req, json_object_get(r, "results"));
	switch (req->cmd) {
	case CTL_STATUS:
		status_show(r, json, req->name || req->names);
		return 0;
	case CTL_RELOAD:
		print_reload(r);
		return 0;
	case CTL_RUN:
		return show_run(req, r);
	case CTL_DOWN:
		/* The reply comes as the daemon ends; wait for it to be gone. */
		while (read(fd, &c, 1) > 0 || errno == EINTR)
			;
		return 0;
	default:
		return 0;
	}
}

/* No daemon runs for P, and CI does not start one: the exit code, after
 * an error line unless there is nothing to do. */
static int no_daemon(const struct cmd_info *ci, const struct paths *p)
{
	if (ci->done_without_daemon)
		return 0;  /* nothing runs: nothing to stop */
	if (p->no_file)
		errline("the default daemon is not running (there is no %s: write "
		        "a starter one with tend init, then tend up -d; tend connect "
		        "-- CMD starts it without one)", p->config);
	else
		errline("no daemon is running for %s; start it with tend up -d",
		        p->config);
	return EXIT_DAEMON;
}

/* Sends REQ (a CI) to the daemon of the file, started when CI says so,
 * and shows the reply.  Returns the exit code. */
/* The request the words ARGV[0..ARGC) make for command CI (*ARGS: what
 * they said); -1 when they are wrong, said on stderr. */
static int request_of_words(const struct cmd_info *ci, int argc, char **argv,
                            struct cmd_args *args, struct ctl_req *req)
{
	char *err = NULL;
	if (cmd_parse_args(ci, argc, argv, args, &err) < 0) {
		errline("%s", err);
		free(err);
		return -1;
	}
	*req = ctl_req_of_args(ci, args);
	return 0;
}

/* Did a daemon from before status version 2 refuse REQ's version field
 * (docs/protocol.md)?  A daemon keeps running across an upgrade of tend. */
static bool refused_version(const struct ctl_req *req, json_t *r)
{
	const char *e = json_string_value(json_object_get(r, "error"));
	return req->cmd == CTL_STATUS && req->version == 2 && e &&
	       !json_is_true(json_object_get(r, "ok")) &&
	       strstr(e, "takes no field \"version\"");
}

/* Its answer in the old shape (the daemon first among the units), put in
 * the new one. */
static void status_as_v2(json_t *r)
{
	json_t *units = json_object_get(r, "units");
	json_t *first = json_array_get(units, 0);
	const char *kind = json_string_value(json_object_get(first, "kind"));
	if (kind && strcmp(kind, "daemon") == 0) {
		json_object_set(r, "daemon", first);
		json_array_remove(units, 0);
	}
	json_object_set_new(r, "version", json_integer(2));
}

/* The daemon at the other end of FD, as a pidfd (taken while the
 * connection holds it alive: no other process can have its pid yet); -1
 * when the system cannot tell. */
static int peer_pidfd(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid <= 0)
		return -1;
	return proc_pidfd(cr.pid);
}

/* down: the daemon closed the connection as it ended; this returns once
 * its process has exited too (the last of its memory freed), so that
 * nothing of it is left when tend down returns (at most 10 s). */
static void wait_exited(int pidfd)
{
	struct pollfd pf = { pidfd, POLLIN, 0 };
	while (poll(&pf, 1, 10000) < 0 && errno == EINTR)
		;
	close(pidfd);
}

static int send_command(const char *cfgarg, const struct cmd_info *ci,
                        const struct ctl_req *req, unsigned json)
{
	/* A running daemon is reached through the file's path alone: a file
	 * broken by an edit must not lock out status, stop or down (reload
	 * reports the error itself).  The file is read only to start one. */
	struct paths p;
	char *path = locate(cfgarg, &p);
	if (!path)
		return EXIT_USAGE;
	int code = EXIT_DAEMON;
	json_t *r = NULL;
	int fd = reach_daemon(path, &p, req, ci->starts_daemon && !req->join,
	                      &code);
	if (fd < 0 && code < 0)
		code = no_daemon(ci, &p);
	int daemon_pidfd = fd >= 0 && req->cmd == CTL_DOWN ? peer_pidfd(fd) : -1;
	bool printed = false;
	if (fd >= 0) {
		/* status --json of every unit: printed as the reply comes */
		bool raw = req->cmd == CTL_STATUS && json == CMD_JSON &&
		           req->version == 2 && !req->name && !req->names;
		r = raw ? call_status_json(fd, req, &p, &printed) : call(fd, req, &p);
		if (r && refused_version(req, r)) {
			/* asked again as it understands, its answer reshaped */
			struct ctl_req old = *req;
			old.version = 0;
			old.history = false;
			json_decref(r);
			r = NULL;
			close(fd);
			fd = reach_daemon(path, &p, &old, false, &code);
			if (fd >= 0)
				r = call(fd, &old, &p);
			if (r && json_is_true(json_object_get(r, "ok")))
				status_as_v2(r);
			if (fd < 0 && code < 0)
				code = no_daemon(ci, &p);
		}
	}
	if (fd >= 0) {
		code = !r ? EXIT_DAEMON
		       : !json_is_true(json_object_get(r, "ok")) ? refused(r)
		       : printed ? 0 : show_reply(req, json, r, fd);
	}
	if (daemon_pidfd >= 0) {
		if (code == 0)
			wait_exited(daemon_pidfd);
		else
			close(daemon_pidfd);
	}
	json_decref(r);
	if (fd >= 0)
		close(fd);
	paths_free(&p);
	free(path);
	return code;
}

int client_reload(const char *path)
{
	struct ctl_req req = { .cmd = CTL_RELOAD };
	struct paths p;
	char *file = locate(path, &p);
	if (!file)
		return EXIT_USAGE;
	int code = 0;
	int fd = reach_daemon(file, &p, &req, false, &code);
	if (fd >= 0) {
		close(fd);
		code = send_command(path, cmd_info(CTL_RELOAD), &req, 0);
	} else if (code < 0) {
		/* none runs: started, it reads the file as it is now */
		fd = reach_daemon(file, &p, &req, true, &code);
		if (fd >= 0) {
			printf("started the daemon of %s\n", file);
			close(fd);
			code = 0;
		}
	}
	paths_free(&p);
	free(file);
	return code;
}

static int client_connect(const char *cfgarg, int argc, char **argv);

int client_command(const char *cfgarg, const struct cmd_info *ci, int argc,
                   char **argv)
{
	if (ci->cmd == CTL_CONNECT)
		return client_connect(cfgarg, argc, argv);
	if (want_help(argc, argv)) {
		fputs(ci->usage, stdout);
		return 0;
	}
	struct cmd_args args;
	struct ctl_req req;
	if (request_of_words(ci, argc, argv, &args, &req) < 0)
		return EXIT_USAGE;
	int code = send_command(cfgarg, ci, &req,
	                        args.flags & (CMD_JSON | CMD_JSON1));
	cmd_args_free(&args);
	return code;
}

/* --- tend connect --- */


/* The session: REQ (a connect) goes to the daemon of PATH (P), with this
 * process's stdin and stdout, started when needed; returns the exit code
 * once the session is over. */
static int run_session(const char *path, struct paths *p, struct ctl_req *req)
{
	int code = EXIT_DAEMON;
	struct buf b = { 0 };
	json_t *r = NULL;
	int fd = reach_daemon(path, p, req, true, &code);
	static const int fds[2] = { 0, 1 };
	if (fd < 0)
		goto out;
	r = send_and_read(fd, req, fds, 2, &b, p);
	if (!r)
		goto out;
	if (!json_is_true(json_object_get(r, "ok"))) {
		code = refused(r);
		goto out;
	}
	/* The daemon has them now: this process must not keep the client's
	 * pipes open (its reader would never see the end). */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0) {
		/* Closed, then: nothing opened from here on needs 0 or 1. */
		close(0);
		close(1);
	}
	if (null >= 0)
		close(null);
	json_decref(r);
	r = read_reply(fd, &b, p);
	if (!r)
		goto out;   /* the daemon went away */
	code = json_is_true(json_object_get(r, "ok")) ? 0 : refused(r);
out:
	json_decref(r);
	free(b.s);
	if (fd >= 0)
		close(fd);
	return code;
}

/* It stands for its client: when the client dies, so does it, and the
 * daemon (its control connection closing) ends the session.  False when
 * the client is gone already. */
static bool die_with_client(void)
{
	pid_t parent = getppid();
	return !(proc_die_with_parent(SIGTERM) == 0 && getppid() != parent);
}

static bool utf8_ok(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; ) {
		size_t l = utf8_len((const unsigned char *)s + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* The environment as it can be sent (JSON: UTF-8 only); a variable that
 * is not is left out, and said so. */
static char **sendable_env(void)
{
	size_t n = 0, k = 0;
	for (char **e = environ; *e; e++)
		n++;
	char **env = xcalloc(n + 1, sizeof(*env));
	for (char **e = environ; *e; e++) {
		if (utf8_ok(*e)) {
			env[k++] = *e;
			continue;
		}
		char *name = strndup(*e, strcspn(*e, "="));
		char *clean = one_line(name ? name : "?");
		errline("connect: the variable %s holds bytes that are not UTF-8; "
		        "the server runs without it", clean);
		free(clean);
		free(name);
	}
	return env;
}

/* The flags of tend connect [--KEY VALUE ...] -- CMD (ARGV from the first
 * flag) into SET: KEY, VALUE, KEY, VALUE...  Returns the index of CMD in
 * ARGV, or -1 after an error line. */
static int connect_flags(int argc, char **argv, struct strv *set)
{
	int i = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			errline("connect: unexpected argument \"%s\" before \"--\"; usage: "
			        "tend connect [--KEY VALUE ...] -- CMD [ARG ...]", a);
			return -1;
		}
		const char *eq = strchr(a, '=');
		char *key = eq ? strndup(a + 2, (size_t)(eq - a - 2)) : xstrdup(a + 2);
		if (!key)
			abort();
		if (!config_is_key(key, KIND_SERVICE)) {
			errline("connect: unknown flag --%s; see tend connect --help", key);
			free(key);
			return -1;
		}
		if (!eq && (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)) {
			errline("connect: --%s needs a value; see tend connect --help", key);
			free(key);
			return -1;
		}
		strv_push(set, key);
		strv_push(set, xstrdup(eq ? eq + 1 : argv[++i]));
	}
	if (i >= argc) {
		errline("connect: no command given after \"--\"; usage: tend connect "
		        "[--KEY VALUE ...] -- CMD [ARG ...]");
		return -1;
	}
	return i;
}

/* The command (N words) and the flags' values go as text: UTF-8 only.
 * False after an error line. */
static bool connect_utf8(char **cmd, int n, const struct strv *set)
{
	for (int k = 0; k < n; k++)
		if (!utf8_ok(cmd[k])) {
			errline("connect: argument %d of the command is not UTF-8; tend "
			        "connect passes the command as text", k);
			return false;
		}
	for (size_t k = 0; k < set->n; k++)
		if (!utf8_ok(set->v[k])) {
			errline("connect: the value of --%s is not UTF-8", set->v[k - k % 2]);
			return false;
		}
	return true;
}

/* The working directory (malloc'd), where the server runs; NULL after an
 * error line. */
static char *connect_cwd(void)
{
	char *cwd = getcwd(NULL, 0);
	if (cwd && utf8_ok(cwd))
		return cwd;
	errline("connect: %s; tend connect -- CMD runs the server in the "
	        "client's working directory", cwd ? "the working directory's "
	        "path is not UTF-8" : "cannot tell the working directory");
	free(cwd);
	return NULL;
}

/* The daemon makes the same checks of REQ; made here they cost no daemon
 * and say at once what is wrong.  Returns 0, or -1 after an error line. */
static int connect_precheck(const struct ctl_req *req)
{
	struct zc_request zr = ctl_req_zc(req);
	char *err = NULL;
	struct unit_config *uc = zc_build(&zr, &err);
	if (!uc) {
		errline("%s", err);
		free(err);
		return -1;
	}
	config_unit_free(uc);
	char *line = ctl_format(req);
	size_t len = strlen(line);
	free(line);
	if (len > CTL_LINE_MAX) {
		errline("connect: the command line and environment take %zu bytes "
		        "as a request, more than the %d the daemon reads; unset "
		        "large variables", len, CTL_LINE_MAX);
		return -1;
	}
	return 0;
}

/* tend connect [--KEY VALUE ...] -- CMD [ARG ...] (ARGV from the first
 * flag): checks everything it can before the daemon is involved. */
static int connect_command(const char *cfgarg, int argc, char **argv)
{
	struct strv set = { 0 };
	int code = EXIT_USAGE;
	char *cwd = NULL, *path = NULL, *err = NULL;
	char **env = NULL;
	struct paths p = { .runfd = -1, .statefd = -1 };
	int i = connect_flags(argc, argv, &set);
	if (i < 0 || !connect_utf8(argv + i, argc - i, &set) ||
	    !(cwd = connect_cwd()))
		goto out;
	env = sendable_env();
	struct ctl_req req = { .cmd = CTL_CONNECT, .exec = argv + i, .cwd = cwd,
	                       .env = env, .set = set.v, .nset = set.n / 2 };
	if (connect_precheck(&req) < 0)
		goto out;
	if (!die_with_client()) {
		code = EXIT_FAILURE;   /* the client is gone already */
		goto out;
	}
	path = config_locate_default(cfgarg);
	if (paths_init(&p, path, &err) < 0) {
		errline("%s", err);
		free(err);
		goto out;
	}
	code = run_session(path, &p, &req);
out:
	paths_free(&p);
	free(path);
	free(cwd);
	free(env);
	strv_free(&set);
	return code;
}

static bool has_dashdash(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return true;
	return false;
}

static int client_connect(const char *cfgarg, int argc, char **argv)
{
	const struct cmd_info *ci = cmd_info(CTL_CONNECT);
	/* --help before "--" only: after it, it is the command's. */
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(ci->usage, stdout);
			config_print_flags(stdout, true);
			return 0;
		}
	if (has_dashdash(argc, argv) || (argc > 0 && strncmp(argv[0], "--", 2) == 0)) {
		if (argc > 0 && argv[0][0] != '-') {
			errline("connect: give a SERVICE or \"-- CMD\", not both; see "
			        "tend connect --help");
			return EXIT_USAGE;
		}
		return connect_command(cfgarg, argc, argv);
	}
	struct cmd_args args;
	struct ctl_req req;
	if (request_of_words(ci, argc, argv, &args, &req) < 0)
		return EXIT_USAGE;
	cmd_args_free(&args);   /* one name: req's points into argv */
	if (!die_with_client())
		return EXIT_FAILURE;   /* the client is gone already */
	struct paths p;
	char *path = locate(cfgarg, &p);
	if (!path)
		return EXIT_USAGE;
	int code = run_session(path, &p, &req);
	paths_free(&p);
	free(path);
	return code;
}

/* --- files: logs and events --- */

struct line {
	size_t idx;
	size_t seq;       /* the order read: lines of one time stay in it */
	int64_t ms;       /* its stamp (logview.h); -1: none */
	char *text;
};

struct lines {
	struct line *v;
	size_t n, cap;
	int64_t since;    /* lines stamped before this are left out */
};

static void collect(void *data, size_t idx, const char *line, size_t len)
{
	struct lines *ls = data;
	int64_t ms = -1;
	if (logview_stamp(line, len, &ms) == 0 && ms < ls->since)
		return;
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? ls->cap * 2 : 256;
		ls->v = xrealloc(ls->v, ls->cap * sizeof(*ls->v));
	}
	ls->v[ls->n] = (struct line){ idx, ls->n, ms, strndup(line, len) };
	ls->n++;
}

/* Log lines start with their time: in that order, then as read. */
static int by_stamp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	if (x->ms != y->ms)
		return (x->ms > y->ms) - (x->ms < y->ms);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Parses -n LINES ("all": every line). */
static int parse_lines(const char *s, long *n)
{
	if (strcmp(s, "all") == 0) {
		*n = -1;
		return 0;
	}
	unsigned v;
	const char *why;
	if (parse_uint(s, 0, 100000000, &v, &why) < 0)
		return -1;
	*n = (long)v;
	return 0;
}

struct view {
	const char **names;   /* the units shown, by idx */
	size_t nnames;
	size_t width;
	bool single;      /* one unit: lines without the label */
	bool events;      /* the events file */
	bool json;
	bool stamps;      /* --timestamps */
	bool colour;      /* the labels coloured */
	struct lines follow;   /* -f: the lines of one read, put in order */
	struct line *seen;     /* -f: each unit's last line read before */
};

static void show_event(const struct view *v, const char *line, size_t len)
{
	if (v->json) {
		printf("%.*s\n", (int)len, line);
		return;
	}
	json_t *o = json_loadb(line, len, 0, NULL);
	if (!o) {
		printf("%.*s\n", (int)len, line);
		return;
	}
	char *h = events_human(o);
	time_t t = (time_t)(json_integer_value(json_object_get(o, "ts")) / 1000);
	struct tm tm;
	char ts[32];
	localtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	/* "tend: " is for stderr; here the time leads. */
	printf("%s %s", ts, strncmp(h, "tend: ", 6) == 0 ? h + 6 : h);
	free(h);
	json_decref(o);
}

/* A line of unit IDX: [time] [NAME |] text. */
static void show(const struct view *v, size_t idx, const char *line, size_t len)
{
	if (v->events) {
		show_event(v, line, len);
		return;
	}
	int64_t ms;
	bool stamped = logview_stamp(line, len, &ms) == 0;
	if (stamped) {
		line += LOGVIEW_STAMP_LEN;
		len -= LOGVIEW_STAMP_LEN;
	}
	char b[40];
	if (v->stamps)
		printf("%-29s ", stamped ? logview_local(ms, b) : "-");
	if (!v->single)
		printf("%s%-*s%s | ", v->colour ? logview_label_colour(v->names[idx]) : "",
		       (int)v->width, v->names[idx], v->colour ? "\033[0m" : "");
	printf("%.*s\n", (int)len, line);
}

/* Shows LS's lines (from FROM on) in order, and empties it. */
static void show_lines(const struct view *v, struct lines *ls, bool merge,
                       long n)
{
	if (merge && ls->n)
		qsort(ls->v, ls->n, sizeof(*ls->v), by_stamp);
	size_t from = n >= 0 && ls->n > (size_t)n ? ls->n - (size_t)n : 0;
	for (size_t i = 0; i < ls->n; i++) {
		if (i >= from)
			show(v, ls->v[i].idx, ls->v[i].text, strlen(ls->v[i].text));
		free(ls->v[i].text);
	}
	ls->n = 0;
}

/* Keeps the last line of each unit in LS (stamped), for -f. */
static void note_seen(struct view *v, const struct lines *ls)
{
	v->seen = xcalloc(v->nnames + 1, sizeof(*v->seen));
	for (size_t i = 0; i < ls->n; i++) {
		struct line *s = &v->seen[ls->v[i].idx];
		if (ls->v[i].ms >= 0 && ls->v[i].ms >= s->ms) {
			free(s->text);
			*s = ls->v[i];
			s->text = xstrdup(ls->v[i].text);
		}
	}
}

static void seen_free(struct view *v)
{
	for (size_t i = 0; v->seen && i < v->nnames; i++)
		free(v->seen[i].text);
	free(v->seen);
}

/* A file followed from its end just before it was read: a line written
 * in between came with the lines shown first; it is not shown again.
 * Past the first newer line of a unit, nothing is left out. */
static bool seen_before(struct view *v, size_t idx, const char *line,
                        size_t len)
{
	struct line *s = &v->seen[idx];
	int64_t ms;
	if (!s->text || logview_stamp(line, len, &ms) < 0)
		return false;
	if (ms < s->ms || (ms == s->ms && strlen(s->text) == len &&
	                   memcmp(s->text, line, len) == 0))
		return true;
	free(s->text);
	s->text = NULL;
	return false;
}

static void on_follow_line(void *data, size_t idx, const char *line, size_t len)
{
	struct view *v = data;
	if (!seen_before(v, idx, line, len))
		collect(&v->follow, idx, line, len);
}

static int tail_files(struct view *v, struct paths *p, long n, bool follow)
{
	struct logfile_follow *f = NULL;
	/* The directory is checked as the daemon checks it; it may not exist
	 * yet (no daemon ever ran): follow makes it, to wait in it. */
	char *err = NULL;
	if (paths_open_state(p, follow, &err) < 0) {
		if (errno != ENOENT || follow) {
			errline("%s%s", follow ? "cannot follow: " : "", err);
			free(err);
			return EXIT_FAILED;
		}
		free(err);
	}
	if (follow) {
		if (!(f = logfile_follow_new(p->statedir))) {
			errline("cannot follow %s: %s", p->statedir, strerror(errno));
			return EXIT_FAILED;
		}
	}
	struct lines ls = { .since = v->follow.since };
	for (size_t i = 0; i < v->nnames; i++) {
		char *path = v->events ? xstrdup(p->events) : paths_unit_log(p, v->names[i]);
		if (f) {
			const char *base = strrchr(path, '/') + 1;
			logfile_follow_add(f, base, i);
		}
		if (n != 0 && logfile_last(path, LOGFILE_KEEP, n, i, collect, &ls) < 0)
			errline("cannot read %s: %s", path, strerror(errno));
		free(path);
	}
	bool merge = !v->events && v->nnames > 1;
	if (f)
		note_seen(v, &ls);
	show_lines(v, &ls, merge, n);
	free(ls.v);
	fflush(stdout);
	if (!f)
		return 0;
	for (;;) {
		struct pollfd pf = { .fd = logfile_follow_fd(f), .events = POLLIN };
		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			break;
		if (logfile_follow_read(f, on_follow_line, v) < 0)
			break;
		/* What one read found, of every file: in order of time. */
		show_lines(v, &v->follow, merge, -1);
		if (fflush(stdout) == EOF)
			break;
	}
	free(v->follow.v);
	seen_free(v);
	logfile_follow_free(f);
	return EXIT_FAILED;
}

static const char usage_logs[] =
	"usage: tend [-c FILE] logs [NAME...] [-f] [-n LINES] [--since WHEN]\n"
	"                           [--timestamps] [--color auto|always|never]\n"
	"\n"
	"Prints the last LINES lines (default 100; \"all\" for every line kept)\n"
	"of the output of NAME, or of several units merged by the time of each\n"
	"line, each labelled \"NAME | line\".  A NAME may be a shell-style glob\n"
	"(quote it: 'idx-*', 'worker?', '[ab]*'); no NAME, or all, is every\n"
	"unit.  A NAME that covers no unit is an error (exit 2).\n"
	"-f: then follows new lines, of every unit shown, across log rotation,\n"
	"until interrupted.\n"
	"--since WHEN: only lines from then on (with -f too; every one of them\n"
	"unless -n is given): a duration back from now (10m, 2h, 1d, 1h30m),\n"
	"an ISO 8601 time (2026-11-23T10:00[:SS], local time unless it ends in\n"
	"Z or +HH:MM), a date (its midnight) or HH:MM[:SS] today.\n"
	"--timestamps: each line with the time it was written, local time in\n"
	"ISO 8601 with milliseconds (2026-11-23T11:00:00.123+01:00).\n"
	"--color WHEN (or --color=WHEN): the labels in a colour per unit: auto\n"
	"(the default) on a terminal unless NO_COLOR is set, always (--color\n"
	"alone), or never.\n"
	"The files are NAME.log (+ .1 .. .3, rotated at log-max) in\n"
	"$XDG_STATE_HOME/tend/ID/; each line starts with a UTC timestamp there.\n";
static const char usage_events[] =
	"usage: tend [-c FILE] events [-f] [--json] [-n LINES]\n"
	"\n"
	"Prints the last LINES events (default 100; \"all\" for every one kept)\n"
	"of the daemon: spawned, exited (with its reason), backoff, stopped,\n"
	"reload, ... (docs/protocol.md lists them).  --json: the JSON lines as\n"
	"stored.  -f: then follows new events until interrupted.\n";

static bool has_name(const struct strv *sv, const char *name)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], name) == 0)
			return true;
	return false;
}

/* The units of the file, then those of the running daemon that the file
 * does not have (tend connect -- CMD's), into OUT. */
static void all_units(const struct tend_config *cfg, struct paths *p,
                      struct strv *out)
{
	for (size_t i = 0; i < cfg->nunits; i++)
		strv_push(out, xstrdup(cfg->units[i]->name));
	char *why = NULL;
	int fd = ctl_connect(p, &why);
	free(why);
	if (fd < 0)
		return;
	/* A daemon that does not answer must not hold up reading files. */
	struct timeval tv = { .tv_sec = 2 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		close(fd);   /* not asked, then: the file's units only */
		return;
	}
	struct ctl_req req = { .cmd = CTL_STATUS };
	json_t *r = call(fd, &req, p), *u;
	close(fd);
	size_t i;
	json_array_foreach(json_object_get(r, "units"), i, u) {
		const char *name = json_string_value(json_object_get(u, "name"));
		const char *kind = json_string_value(json_object_get(u, "kind"));
		if (name && kind && strcmp(kind, "daemon") != 0 &&
		    !json_is_true(json_object_get(u, "instance")) && !has_name(out, name))
			strv_push(out, xstrdup(name));
	}
	json_decref(r);
}

/* Is there a log of NAME (a unit that is gone: a forgotten service of tend
 * connect -- CMD, say)? */
static bool has_log(const struct paths *p, const char *name)
{
	if (!*name || strchr(name, '/') || name[0] == '.')
		return false;
	char *log = paths_unit_log(p, name);
	bool yes = access(log, F_OK) == 0;
	free(log);
	return yes;
}

/* The arguments of tend logs and tend events. */
struct files_args {
	bool follow, json, stamps;
	long n;               /* lines to show first; -1: all */
	bool n_given;
	const char **names;   /* logs NAME...: malloc'd, into argv */
	size_t nnames;
	int64_t since;        /* --since; INT64_MIN: none */
	enum logview_when when;
};

/* The option A of tend logs that takes a value (--since, --color), with
 * its value in the same word (--since=10m) or the next; *I moves past
 * what it took.  Returns 0, 1 when A is no such option, or -1 after an
 * error line. */
static int logs_option(int argc, char **argv, int *i, struct files_args *fa)
{
	const char *a = argv[*i], *val = NULL;
	bool since = strncmp(a, "--since", 7) == 0 && (!a[7] || a[7] == '=');
	bool color = strncmp(a, "--color", 7) == 0 && (!a[7] || a[7] == '=');
	if (!since && !color)
		return 1;
	if (a[7] == '=')
		val = a + 8;
	else if (color && (*i + 1 >= argc || logview_when(argv[*i + 1], &fa->when) < 0))
		val = "always";   /* --color alone, as ls --color */
	else if (*i + 1 < argc)
		val = argv[++*i];
	const char *why = NULL;
	if (since && (!val || logview_since(val, (int64_t)wall_ms(), &fa->since,
	                                    &why) < 0)) {
		errline("logs: --since %s: %s", val ? val : "needs a value",
		        why ? why : "");
		return -1;
	}
	if (color && logview_when(val, &fa->when) < 0) {
		errline("logs: --color=%s: give auto, always or never", val);
		return -1;
	}
	return 0;
}

/* Parses ARGV of tend logs (EVENTS false) or events into *FA: returns 0,
 * or -1 after an error line. */
static int files_args(int argc, char **argv, bool events, struct files_args *fa)
{
	const char *cmd = events ? "events" : "logs";
	*fa = (struct files_args){ .n = 100, .since = INT64_MIN };
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int r = events ? 1 : logs_option(argc, argv, &i, fa);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			fa->follow = true;
		} else if (strcmp(a, "--json") == 0 && events) {
			fa->json = true;
		} else if (strcmp(a, "--timestamps") == 0 && !events) {
			fa->stamps = true;
		} else if (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0) {
			if (++i >= argc || parse_lines(argv[i], &fa->n) < 0) {
				errline("%s: -n needs a number of lines or \"all\"", cmd);
				return -1;
			}
			fa->n_given = true;
		} else if (a[0] != '-' && !events) {
			fa->names = xrealloc(fa->names, (fa->nnames + 1) * sizeof(*fa->names));
			fa->names[fa->nnames++] = a;
		} else {
			errline("%s: unexpected argument \"%s\"; see tend %s --help", cmd,
			        a, cmd);
			return -1;
		}
	}
	if (fa->since != INT64_MIN && !fa->n_given)
		fa->n = -1;   /* every line since then */
	return 0;
}

/* The logs V shows for FA's names among UNITS (of the file and the
 * daemon; a gone unit's log is shown when named): every unit when none
 * is named (or all), else those the names and globs cover, labelled
 * when more than one.  Returns 0, or -1 after an error line. */
static int view_logs(struct view *v, const struct paths *p,
                     const struct strv *units, const struct files_args *fa)
{
	bool every = true;
	for (size_t i = 0; i < fa->nnames; i++)
		every = every && strcmp(fa->names[i], "all") == 0;
	const char **cands = xcalloc(units->n + fa->nnames + 1, sizeof(*cands));
	size_t nc = 0, *idx = NULL, k = 0;
	for (size_t i = 0; i < units->n; i++)
		cands[nc++] = units->v[i];
	for (size_t i = 0; i < fa->nnames && !every; i++)
		if (!cmd_is_pattern(fa->names[i]) && !has_name(units, fa->names[i]) &&
		    has_log(p, fa->names[i]))
			cands[nc++] = fa->names[i];
	unsigned *kinds = xcalloc(nc + 1, sizeof(*kinds));
	char *err = NULL;
	int r = 0;
	if (every) {
		idx = xcalloc(nc + 1, sizeof(*idx));
		for (k = 0; k < nc; k++)
			idx[k] = k;
	} else if (cmd_expand(fa->names, fa->nnames, cands, kinds, nc, 0,
	                      "service or job", p->config, &idx, &k, &err) < 0) {
		errline("%s", err);
		free(err);
		r = -1;
	}
	v->names = xcalloc(k + 1, sizeof(*v->names));
	for (size_t i = 0; i < k; i++) {
		const char *u = cands[idx[i]];
		v->names[v->nnames++] = u;
		size_t l = strlen(u);
		v->width = l > v->width ? l : v->width;
	}
	v->single = !every && k == 1;
	free(idx);
	free(kinds);
	free(cands);
	return r;
}

static int files_command(const char *cfgarg, int argc, char **argv, bool events)
{
	if (want_help(argc, argv)) {
		fputs(events ? usage_events : usage_logs, stdout);
		return 0;
	}
	struct files_args fa;
	if (files_args(argc, argv, events, &fa) < 0) {
		free(fa.names);
		return EXIT_USAGE;
	}
	struct paths p;
	struct tend_config *cfg = open_config(cfgarg, &p);
	if (!cfg) {
		free(fa.names);
		return EXIT_USAGE;
	}
	struct view v = { .events = events, .json = fa.json, .stamps = fa.stamps,
	                  .colour = logview_colour(fa.when, isatty(1),
	                                           getenv("NO_COLOR")),
	                  .follow = { .since = fa.since } };
	struct strv units = { 0 };
	int code = EXIT_USAGE;
	if (events) {
		v.names = xcalloc(2, sizeof(*v.names));
		v.names[v.nnames++] = "events";
		code = tail_files(&v, &p, fa.n, fa.follow);
	} else {
		all_units(cfg, &p, &units);
		if (view_logs(&v, &p, &units, &fa) == 0)
			code = tail_files(&v, &p, fa.n, fa.follow);
	}
	free(v.names);
	free(fa.names);
	strv_free(&units);
	paths_free(&p);
	config_free(cfg);
	return code;
}

int client_logs(const char *cfgarg, int argc, char **argv)
{
	return files_command(cfgarg, argc, argv, false);
}

int client_events(const char *cfgarg, int argc, char **argv)
{
	return files_command(cfgarg, argc, argv, true);
}

/* --- a connection kept open (tend top) --- */

struct client_conn {
	int fd;
	struct paths p;
	char *path;
	struct buf b;
};

struct client_conn *client_open(const char *cfgarg, int *code)
{
	struct client_conn *c = xcalloc(1, sizeof(*c));
	c->path = locate(cfgarg, &c->p);
	if (!c->path) {
		free(c);
		*code = EXIT_USAGE;
		return NULL;
	}
	c->fd = reach_daemon(c->path, &c->p, NULL, false, code);
	if (c->fd < 0) {
		if (*code < 0) {
			errline("no daemon is running for %s; start it with tend up -d",
			        c->p.config);
			*code = EXIT_DAEMON;
		}
		c->fd = -1;
		client_close(c);
		return NULL;
	}
	return c;
}

int client_conn_fd(const struct client_conn *c)
{
	return c->fd;
}

const char *client_conn_config(const struct client_conn *c)
{
	return c->p.config;
}

int client_send(struct client_conn *c, const struct ctl_req *req)
{
	return send_req(c->fd, req, NULL, 0);
}

json_t *client_recv(struct client_conn *c)
{
	return read_reply(c->fd, &c->b, &c->p);
}

json_t *client_ask(struct client_conn *c, const struct ctl_req *req)
{
	return send_and_read(c->fd, req, NULL, 0, &c->b, &c->p);
}

void client_close(struct client_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->b.s);
	paths_free(&c->p);
	free(c->path);
	free(c);
}
