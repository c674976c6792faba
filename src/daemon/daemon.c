#include "daemon.h"
#include "batch.h"
#include "reply.h"
#include "cmd.h"
#include "ctl.h"
#include "events.h"
#include "held.h"
#include "job.h"
#include "output.h"
#include "parse.h"
#include "paths.h"
#include "server.h"
#include "share.h"
#include "status.h"
#include "sup.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"
#include "waiters.h"
#include "words.h"
#include "zeroconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct daemon {
	struct tend_config *cfg;
	struct paths paths;
	struct events *ev;
	struct sup *sup;
	struct server *srv;
	struct waiters waiters;
	struct batches batches;   /* requests over several units */
	int report;            /* pipe to the detaching caller; -1: none */
	bool booting;          /* "booted" is not reported yet */
	dev_t sock_dev;        /* the socket file bound, removed at the end */
	ino_t sock_ino;        /* only if it is still that one */
};

/* --- reporting to the caller that detached us --- */

static void report(struct daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void report(struct daemon *d, const char *fmt, ...)
{
	if (d->report < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	ssize_t r = write(d->report, s, strlen(s));
	(void)r;
	free(s);
}

static void report_done(struct daemon *d)
{
	if (d->report >= 0)
		close(d->report);
	d->report = -1;
}

/* tend up -d returns once every boot service is ready or has failed: the
 * report says "booted", then a tab and a reason per failed service. */
static void boot_check(struct daemon *d)
{
	if (!d->booting)
		return;
	struct buf failed = { 0 }, nofds = { 0 };
	size_t nnofds = 0;
	for (size_t i = 0; i < sup_nunits(d->sup); i++) {
		const struct unit *u = sup_unit_at(d->sup, i);
		char *why = NULL;
		if (unit_cfg(u)->kind != KIND_SERVICE || unit_cfg(u)->start != START_BOOT)
			continue;
		int v = unit_wait_verdict(u, 0, &why);
		if (v == 0) {
			free(failed.s);
			free(nofds.s);
			return;
		}
		if (v < 0 && unit_waits_for_fds(u)) {
			/* one line for all of them: the cause is one */
			if (nnofds < 3)
				buf_addf(&nofds, "%s%s", nnofds ? ", " : "", unit_name(u));
			nnofds++;
		} else if (v < 0) {
			buf_addc(&failed, '\t');
			buf_adds(&failed, why);
		}
		free(why);
	}
	if (nnofds) {
		char *what = nnofds == 1
		             ? xasprintf("service \"%s\" is not started", nofds.s)
		             : xasprintf("%zu services are not started (%s%s)", nnofds,
		                         nofds.s, nnofds > 3 ? ", ..." : "");
		char *why = unit_fds_reason(what);
		buf_addc(&failed, '\t');
		buf_adds(&failed, why);
		free(why);
		free(what);
		free(nofds.s);
	}
	d->booting = false;
	report(d, "booted%s\n", failed.s ? failed.s : "");
	free(failed.s);
	report_done(d);
}

static void on_unit_changed(void *ctx, struct unit *u)
{
	struct daemon *d = ctx;
	boot_check(d);
	waiters_unit_changed(&d->waiters, u);
	batches_unit_changed(&d->batches, u);
}

static void on_conn_gone(void *ctx, struct conn *c)
{
	struct daemon *d = ctx;
	waiters_conn_gone(&d->waiters, c);
	batches_conn_gone(&d->batches, c);
}

/* --- requests --- */

/* The daemon's file (the default daemon's may not exist: it is then an
 * empty configuration). */
static struct tend_config *load(const struct daemon *d, char **err)
{
	return d->paths.is_default ? config_load_optional(d->paths.config, err)
	                           : config_load(d->paths.config, err);
}

/* A unit that stays (not removed by a reload) and is no instance: one of
 * the file or of tend connect -- CMD (with a connect_key). */
static bool own_unit(const struct unit *u)
{
	return !unit_removed(u) && !unit_is_instance(u);
}

/* A unit of CFG named like a service of tend connect -- CMD: *ERR. */
static int connect_clash(const struct daemon *d, const struct tend_config *cfg,
                         char **err)
{
	for (size_t k = 0; k < cfg->nunits; k++)
		for (size_t i = 0; i < sup_nunits(d->sup); i++) {
			const struct unit *u = sup_unit_at(d->sup, i);
			if (!own_unit(u) || !unit_cfg(u)->connect_key ||
			    strcmp(unit_name(u), cfg->units[k]->name) != 0)
				continue;
			*err = xasprintf("%s:%d: [%s %s] has the name of a service "
			                 "that tend connect -- CMD made; rename the "
			                 "section", cfg->path, cfg->units[k]->line,
			                 unit_kind_name(cfg->units[k]->kind),
			                 cfg->units[k]->name);
			return -1;
		}
	return 0;
}

/* How many units of the file run now (tend connect's are no file's). */
static size_t file_units(const struct daemon *d)
{
	size_t n = 0;
	for (size_t i = 0; i < sup_nunits(d->sup); i++) {
		const struct unit *u = sup_unit_at(d->sup, i);
		n += own_unit(u) && !unit_cfg(u)->connect_key;
	}
	return n;
}

/* Re-reads the file.  A file with no unit where units are now is most
 * likely one an editor truncated and has not written yet: refused unless
 * FORCE.  (The default daemon's file deleted is an empty configuration
 * on purpose: no file, cfg->dir NULL.) */
static json_t *do_reload(struct daemon *d, bool force, char **err)
{
	struct tend_config *cfg = load(d, err);
	if (!cfg)
		return NULL;
	size_t now = file_units(d);
	if (cfg->nunits == 0 && cfg->dir && now > 0 && !force) {
		*err = xasprintf("%s has no unit left, and every unit (%zu) would be "
		                 "removed; if an editor is still writing it, reload "
		                 "again once it is saved, or use tend reload --force "
		                 "to stop them all", cfg->path, now);
		config_free(cfg);
		return NULL;
	}
	if (connect_clash(d, cfg, err) < 0) {
		config_free(cfg);
		return NULL;
	}
	/* New addresses are bound before anything changes: one that is
	 * taken fails the reload as a whole. */
	sup_clients_unwatch(d->sup);
	if (sup_held_sync(d->sup, cfg, err) < 0) {
		sup_clients_sync(d->sup);
		config_free(cfg);
		return NULL;
	}
	json_t *what = sup_reload(d->sup, cfg);
	sup_clients_sync(d->sup);
	config_free(d->cfg);
	d->cfg = cfg;
	events_set_max(d->ev, cfg->log_max);
	events_emit(d->ev, "tend", "reload", json_incref(what));
	return what;
}

/* What a request about one unit leaves to answer: LINE (a reply line) at
 * once, else a wait of KIND since SINCE (waiters.h). */
struct unit_answer {
	char *line;
	enum wait_kind kind;
	unsigned long since;
};

/* tend run: a request for a run of U's job; with wait, answered when the
 * run that covers it ends; with join, when the current run ends (at once
 * when none runs). */
static void act_run(struct unit *u, const struct ctl_req *req,
                    struct unit_answer *a)
{
	struct job *j = unit_ext(u)->job;
	a->kind = WAIT_RUN;
	if (req->join) {
		a->since = job_current(j);
		if (!a->since)
			a->line = reply_ok(json_pack("{s:n, s:o}", "run", "last_run",
			                             job_last_json(j)));
		return;
	}
	bool coalesced;
	unsigned long n = job_request(j, "cli", &coalesced, req->force);
	uint64_t until;
	if (!n && job_cooling(j, &until)) {
		char b[32];
		a->line = reply_err(1, "job \"%s\" is in cooldown for %s more "
		             "after %u failed runs in a row (max-failures); tend run "
		             "--force runs it now", unit_name(u),
		             format_duration(until > mono_ms() ? until - mono_ms() : 0, b),
		             unit_cfg(u)->max_failures);
		return;
	}
	a->since = n;
	if (!req->wait)
		a->line = reply_ok(json_pack("{s:I, s:b, s:b}", "run", (json_int_t)n,
		                             "coalesced", coalesced, "queued",
		                             job_queued(j)));
}

/* tend connect: the connection and the client's stdin and stdout become a
 * session of U's (share.h), which answers from now on. */
static void do_connect(struct daemon *d, struct conn *c, struct unit *u)
{
	struct share *sh = unit_ext(u)->share;
	if (!sh) {
		server_reply(c, reply_err(2, "service \"%s\" has no stdio to "
		             "connect to; set stdio = exclusive or per-client in its "
		             "section of %s", unit_name(u), d->paths.config));
		return;
	}
	int fds[SERVER_FDS_MAX];
	size_t n;
	int fd = server_take(c, fds, &n);
	char *err = NULL;
	if (n != 2) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		err = xasprintf("connect needs the client's stdin and stdout passed "
		                "with the request (SCM_RIGHTS, 2 descriptors; got %zu)", n);
	} else if (share_connect(sh, fd, fds[0], fds[1], &err) == 0) {
		return;
	}
	server_refuse(fd, reply_err(2, "%s", err));
	free(err);
}

static bool name_taken(void *ctx, const char *name)
{
	struct daemon *d = ctx;
	return sup_find(d->sup, name) != NULL;
}

/* The service of tend connect -- CMD whose sharing key is KEY, or NULL. */
static struct unit *connect_unit(struct daemon *d, const char *key)
{
	for (size_t i = 0; i < sup_nunits(d->sup); i++) {
		struct unit *u = sup_unit_at(d->sup, i);
		if (own_unit(u) && unit_cfg(u)->connect_key &&
		    strcmp(unit_cfg(u)->connect_key, key) == 0)
			return u;
	}
	return NULL;
}

/* tend connect -- CMD: the session goes to the service of its command
 * line, environment and flags, made now when there is none (zeroconf.h). */
static void do_connect_cmd(struct daemon *d, struct conn *c,
                           const struct ctl_req *req)
{
	struct zc_request zr = ctl_req_zc(req);
	char *err = NULL;
	struct unit_config *uc = zc_build(&zr, &err);
	if (!uc) {
		server_reply(c, reply_err(2, "%s", err));
		free(err);
		return;
	}
	struct unit *u = connect_unit(d, uc->connect_key);
	if (u) {
		config_unit_free(uc);
	} else {
		sup_sweep(d->sup);   /* a forgotten one's name is free again */
		char *base = zc_name_base(req->exec);
		char *name = zc_name(base, uc->connect_key, name_taken, d);
		free(base);
		free(uc->name);
		uc->name = name;
		u = sup_add_connect(d->sup, uc);
		char *cmd = words_join(uc->argv.v);
		events_emit(d->ev, name, "created", json_pack("{s:s, s:o, s:o}", "by",
		            "connect", "command", events_text(cmd), "cwd",
		            events_text(uc->cwd)));
		free(cmd);
	}
	do_connect(d, c, u);
}

/* --- the handlers of requests: one per command (cmd.h) --- */

/* Handles REQ from C; U is the unit it names, when it acts on one. */
typedef void request_fn(struct daemon *d, struct conn *c, struct unit *u,
                        const struct ctl_req *req);

static void handle_ping(struct daemon *d, struct conn *c, struct unit *u,
                        const struct ctl_req *req)
{
	(void)u, (void)req;
	server_reply(c, reply_ok(json_pack("{s:i, s:s, s:s}", "pid",
	             (int)getpid(), "config", d->paths.config, "version",
	             TEND_VERSION)));
}

/* status of every unit, of REQ's name, or of US (N: a request's names). */
static void status_of(struct daemon *d, struct conn *c,
                      const struct ctl_req *req, struct unit **us, size_t n)
{
	struct status_self self = { .config = d->paths.config,
	                            .is_default = d->paths.is_default,
	                            .file = d->cfg->dir != NULL,
	                            .clients = server_nconns(d->srv) };
	server_reply(c, status_reply(d->sup, &self, req, us, n));
	sup_after_burst(d->sup);
}

static void handle_status(struct daemon *d, struct conn *c, struct unit *u,
                          const struct ctl_req *req)
{
	(void)u;
	status_of(d, c, req, NULL, 0);
}

/* start and restart: answered at once (it spawned, or failed to), or with
 * --wait (or while U waits for descriptors) when a run after SINCE is
 * ready. */
static void up_answer(struct unit *u, bool wait, unsigned long since,
                      struct unit_answer *a)
{
	a->kind = WAIT_UP;
	a->since = since;
	if (!wait && !unit_waits_for_fds(u))
		a->line = waiters_started(u);
}

/* Does what REQ asks of U (start, stop, restart, run), into *A. */
static void act_on_unit(struct unit *u, const struct ctl_req *req,
                        struct unit_answer *a)
{
	unsigned long since;
	*a = (struct unit_answer){ .line = NULL };
	switch (req->cmd) {
	case CTL_START:
		/* A unit that runs already is started: any run counts. */
		since = unit_up(u) ? unit_spawns(u) - 1 : unit_spawns(u);
		unit_start(u);
		up_answer(u, req->wait, since, a);
		break;
	case CTL_RESTART:
		since = unit_spawns(u);
		if (!unit_settled(u))
			unit_stop(u);
		unit_start(u);
		up_answer(u, req->wait, since, a);
		break;
	case CTL_STOP:
		unit_stop(u);
		a->kind = WAIT_DOWN;
		break;
	case CTL_RUN:
		act_run(u, req, a);
		break;
	default:
		a->line = reply_err(2, "cmd \"%s\" does not act on a unit",
		                    ctl_cmd_name(req->cmd));
	}
}

/* start, stop, restart, run of one unit U. */
static void handle_unit(struct daemon *d, struct conn *c, struct unit *u,
                        const struct ctl_req *req)
{
	struct unit_answer a;
	act_on_unit(u, req, &a);
	if (a.line)
		server_reply(c, a.line);
	else
		waiters_answer_or_wait(&d->waiters, c, u, a.kind, a.since);
}

static void handle_reload(struct daemon *d, struct conn *c, struct unit *u,
                          const struct ctl_req *req)
{
	(void)u;
	char *err = NULL;
	json_t *what = do_reload(d, req->force, &err);
	if (!what) {
		server_reply(c, reply_err_lines(2, "reload: %s; the running "
		                                    "settings stay", err));
		free(err);
	} else {
		server_reply(c, reply_ok(what));
	}
}

/* down: answered once the daemon has finished. */
static void handle_down(struct daemon *d, struct conn *c, struct unit *u,
                        const struct ctl_req *req)
{
	(void)u, (void)req;
	waiters_add_end(&d->waiters, c);
	if (!sup_shutting_down(d->sup))
		sup_shutdown(d->sup);
}

static void handle_connect(struct daemon *d, struct conn *c, struct unit *u,
                           const struct ctl_req *req)
{
	if (req->exec)
		do_connect_cmd(d, c, req);
	else
		do_connect(d, c, u);
}

static request_fn *const handlers[CTL_NCMDS] = {
	[CTL_PING] = handle_ping, [CTL_STATUS] = handle_status,
	[CTL_START] = handle_unit, [CTL_STOP] = handle_unit,
	[CTL_RESTART] = handle_unit, [CTL_RELOAD] = handle_reload,
	[CTL_DOWN] = handle_down, [CTL_CONNECT] = handle_connect,
	[CTL_RUN] = handle_unit,
};

static struct unit **expand(struct daemon *d, struct conn *c,
                            const struct cmd_info *ci,
                            const char *const *words, size_t n, size_t *nout);

/* What U is, for the commands that apply to it (cmd.h's CMD_ON_*). */
static unsigned unit_kind_bit(const struct unit *u)
{
	return unit_is_instance(u) ? CMD_ON_INSTANCE
	       : unit_ext(u)->job ? CMD_ON_JOB : CMD_ON_SERVICE;
}

/* The unit NAME that CI is to act on, or NULL after an error reply: none
 * of that name, or one that CI does not apply to (cmd.h). */
static struct unit *request_unit(struct daemon *d, struct conn *c,
                                 const struct cmd_info *ci, const char *name)
{
	struct unit *u = sup_find(d->sup, name);
	if (!u || unit_removed(u)) {
		size_t n;   /* the error, with the name nearest to NAME */
		free(expand(d, c, ci, &name, 1, &n));
		return NULL;
	}
	char *why = cmd_refusal(ci, name, unit_kind_bit(u));
	if (why) {
		server_reply(c, reply_err(2, "%s", why));
		free(why);
		return NULL;
	}
	return u;
}

/* The units of D that WORDS (N names, globs, all) cover for CI, as
 * units (malloc'd, *NOUT of them); NULL after an error reply to C. */
static struct unit **expand(struct daemon *d, struct conn *c,
                            const struct cmd_info *ci,
                            const char *const *words, size_t n, size_t *nout)
{
	size_t nu = sup_nunits(d->sup), k = 0, *idx = NULL;
	struct unit **units = xcalloc(nu + 1, sizeof(*units));
	const char **names = xcalloc(nu + 1, sizeof(*names));
	unsigned *kinds = xcalloc(nu + 1, sizeof(*kinds));
	for (size_t i = 0; i < nu; i++) {
		struct unit *u = sup_unit_at(d->sup, i);
		if (unit_removed(u))
			continue;
		units[k] = u;
		names[k] = unit_name(u);
		kinds[k++] = unit_kind_bit(u);
	}
	char *err = NULL;
	struct unit **out = NULL;
	if (cmd_expand(words, n, names, kinds, k, ci->applies,
	               ci->noun ? ci->noun : "unit", d->paths.config, &idx, nout,
	               &err) < 0) {
		server_reply(c, reply_err(2, "%s", err));
		free(err);
	} else {
		out = xcalloc(*nout + 1, sizeof(*out));
		for (size_t i = 0; i < *nout; i++)
			out[i] = units[idx[i]];
	}
	free(idx);
	free(kinds);
	free(names);
	free(units);
	return out;
}


/* A request for several units (ctl.h's "names"): each unit's answer, in
 * one reply (batch.h). */
static void handle_batch(struct daemon *d, struct conn *c,
                         const struct cmd_info *ci, const struct ctl_req *req)
{
	size_t n;
	struct unit **us = expand(d, c, ci, (const char *const *)req->names,
	                          req->nnames, &n);
	if (!us)
		return;
	if (sup_shutting_down(d->sup) && !ci->when_stopping) {
		server_reply(c, reply_err(1, "the daemon is shutting down"));
	} else if (ci->cmd == CTL_STATUS) {
		status_of(d, c, req, us, n);
	} else {
		struct batch *b = batch_new(c, n);
		for (size_t i = 0; i < n; i++) {
			char *why = cmd_refusal(ci, unit_name(us[i]), unit_kind_bit(us[i]));
			struct unit_answer a = { .line = NULL };
			if (!why)
				act_on_unit(us[i], req, &a);
			if (why || a.line)
				batch_answer(b, i, unit_name(us[i]),
				             why ? reply_err(2, "%s", why) : a.line);
			else
				batch_wait(b, i, us[i], a.kind, a.since);
			free(why);
		}
		batches_add(&d->batches, b);
	}
	free(us);
}

static void on_request(void *ctx, struct conn *c, struct ctl_req *req)
{
	struct daemon *d = ctx;
	const struct cmd_info *ci = cmd_info(req->cmd);
	struct unit *u = NULL;
	if (req->names) {
		handle_batch(d, c, ci, req);
		return;
	}
	if (req->name && cmd_acts_on_unit(ci)) {
		u = request_unit(d, c, ci, req->name);
		if (!u)
			return;
	}
	if (sup_shutting_down(d->sup) && !ci->when_stopping) {
		server_reply(c, reply_err(1, "the daemon is shutting down"));
		return;
	}
	/* ctl_parse gives every command that acts on a unit its name (or
	 * connect its exec), and the unit was found above: the handlers rely
	 * on it. */
	if (!u && cmd_acts_on_unit(ci) && !req->exec) {
		server_reply(c, reply_err(2, "this request needs a \"name\""));
		return;
	}
	handlers[req->cmd](d, c, u, req);
}

/* The events file could not be written: the daemon's condition. */
static void on_events_fail(void *ctx, const char *path, int err)
{
	struct daemon *d = ctx;
	if (d->sup)
		sup_disk_short(d->sup, path, err);
}

/* The control socket refuses connections for want of descriptors, or
 * accepts again: the daemon's fds condition (sup.h). */
static void on_starved(void *ctx, bool starved)
{
	struct daemon *d = ctx;
	sup_ctl_starved(d->sup, starved);
}

static void on_hup(void *ctx)
{
	struct daemon *d = ctx;
	char *err = NULL;
	json_t *what = do_reload(d, false, &err);
	json_decref(what);
	if (!what) {
		char *m = xasprintf("SIGHUP: reload failed: %s; the running settings "
		                    "stay", err);
		events_emit(d->ev, "tend", "warn", json_pack("{s:o}", "message",
		            events_text(m)));
		free(m);
		free(err);
	}
}

/* --- start-up --- */

/* Makes room for the control socket: nothing there, or a dead daemon's
 * socket (we hold the lock), removed.  Anything else is not tend's: it
 * stays, and neither bind nor unlink goes through it.  Returns 0, or -1
 * with *ERR. */
static int clear_socket(const struct paths *p, char **err)
{
	struct stat st;
	const char *name = paths_base(p->sock);
	if (fstatat(p->runfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		*err = xasprintf("cannot check %s: %s", p->sock, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		*err = xasprintf("%s is a symbolic link, not tend's socket: tend "
		                 "neither binds nor removes anything through it; "
		                 "remove it (rm %s) and try again", p->sock, p->sock);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*err = xasprintf("%s is not a socket; remove it and try again",
		                 p->sock);
		return -1;
	}
	if (unlinkat(p->runfd, name, 0) < 0 && errno != ENOENT) {
		*err = xasprintf("cannot remove the stale socket %s: %s", p->sock,
		                 strerror(errno));
		return -1;
	}
	return 0;
}

/* Binds and listens on D's control socket, in the runtime directory D
 * holds open (never through the path).  Returns the socket, or -1 with
 * *ERR. */
static int listen_socket(struct daemon *d, char **err)
{
	const struct paths *p = &d->paths;
	struct sockaddr_un sa;
	socklen_t len = paths_sock_addr(p, &sa);
	if (len == (socklen_t)-1) {
		*err = xasprintf("socket path %s: %s", p->sock, strerror(errno));
		return -1;
	}
	if (clear_socket(p, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, len);
	umask(old);
	struct stat st;
	if (r < 0 || listen(fd, SOMAXCONN) < 0 ||
	    fstatat(p->runfd, paths_base(p->sock), &st, AT_SYMLINK_NOFOLLOW) < 0) {
		*err = xasprintf("cannot listen on %s: %s", p->sock, strerror(errno));
		close(fd);
		return -1;
	}
	d->sock_dev = st.st_dev;
	d->sock_ino = st.st_ino;
	return fd;
}

/* Removes the socket file the daemon bound, if it is still that one. */
static void remove_socket(const struct daemon *d)
{
	struct stat st;
	const char *name = paths_base(d->paths.sock);
	if (fstatat(d->paths.runfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == d->sock_dev &&
	    st.st_ino == d->sock_ino)
		unlinkat(d->paths.runfd, name, 0);
}

static void daemon_cleanup(struct daemon *d)
{
	server_free(d->srv);
	sup_free(d->sup);
	events_free(d->ev);
	config_free(d->cfg);
	paths_free(&d->paths);
}

/* Takes D's lock: returns its fd; or -1 with *CODE when another daemon
 * holds it (told: the caller that detached us, else an error line), or
 * -1 with *ERR. */
static int take_lock(struct daemon *d, int *code, char **err)
{
	pid_t holder;
	int fd = paths_lock(&d->paths, &holder);
	if (fd >= 0)
		return fd;
	if (holder >= 0) {
		report(d, "running %d\n", (int)holder);
		if (d->report < 0)
			errline("a daemon for %s is already running (pid %d); see "
			        "tend status, or tend down to stop it",
			        d->paths.config, (int)holder);
		*code = d->report < 0 ? 1 : 0;
		return -1;
	}
	*err = errno == ELOOP
	       ? xasprintf("%s is a symbolic link, not tend's lock: tend does "
	                   "not open it; remove it (rm %s) and try again",
	                   d->paths.lock, d->paths.lock)
	       : xasprintf("cannot lock %s: %s", d->paths.lock, strerror(errno));
	return -1;
}

/* Each unit holds a log file and a pipe: many units need many fds.
 * Programs it starts get the limit tend was started with. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = { rl.rlim_max, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			proc_child_nofile(&rl);
	}
}

/* D's events (EV_FD, JSON: as for daemon_run) and supervisor, which takes
 * HELD and OUT_FD over.  Returns 0, or -1 with *ERR. */
static int start_sup(struct daemon *d, struct held_set *held, int out_fd,
                     int ev_fd, bool json, char **err)
{
	d->ev = events_new(ev_fd, json);
	if (events_open_file(d->ev, d->paths.statefd, paths_base(d->paths.events),
	                     d->cfg->log_max) < 0)
		errline("cannot open %s: %s; events go to no file", d->paths.events,
		        strerror(errno));
	d->sup = sup_new(d->cfg, d->ev, false, &d->paths, out_fd);
	events_on_fail(d->ev, on_events_fail, d);
	if (d->sup)
		sup_hold(d->sup, held);
	else
		held_free(held);
	if (!d->sup || sup_prepare(d->sup) < 0) {
		*err = xasprintf("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	char *prefix = xasprintf("%s/%s.", d->paths.rundir, d->paths.id);
	sup_notify_enable(d->sup, prefix);
	free(prefix);
	sup_set_hooks(d->sup, &(struct sup_hooks){ .changed = on_unit_changed,
	                                           .hup = on_hup, .ctx = d });
	return 0;
}

/* What D serves with, in this order: the services' sockets first (a taken
 * address is a start-up error; we hold the lock, so a stale unix socket
 * is a dead daemon's), the control socket, the supervisor, the server.
 * Takes OUT_FD over.  Returns 0, or -1 with *ERR. */
static int daemon_setup(struct daemon *d, int out_fd, int ev_fd, bool json,
                        char **err)
{
	struct held_set held = { 0 };
	int lfd = -1;
	if (held_sync(&held, d->cfg, NULL, NULL, err) < 0 ||
	    (lfd = listen_socket(d, err)) < 0) {
		held_free(&held);
		if (out_fd >= 0)
			close(out_fd);
		return -1;
	}
	if (start_sup(d, &held, out_fd, ev_fd, json, err) < 0) {
		close(lfd);
		return -1;
	}
	d->srv = server_new(sup_loop(d->sup), lfd, on_request, on_conn_gone, d);
	if (!d->srv) {
		*err = xasprintf("cannot serve %s: %s", d->paths.sock, strerror(errno));
		return -1;
	}
	server_on_starved(d->srv, on_starved);
	return 0;
}

/* Boots the units and runs the loop until the daemon is done, then stops
 * everything, removes the socket, frees the lock (LOCKFD, closed) and
 * answers down. */
static void daemon_serve(struct daemon *d, int lockfd)
{
	report(d, "listening %d\n", (int)getpid());
	sup_kill_leftovers(d->sup);
	sup_boot(d->sup);
	d->booting = true;
	boot_check(d);
	if (loop_run(sup_loop(d->sup)) < 0) {
		errline("event loop failed: %s", strerror(errno));
		sup_shutdown(d->sup);
	}
	sup_finish(d->sup);
	remove_socket(d);
	/* Whoever asked for down learns it is done when the daemon is: its
	 * socket gone, its lock free (a tend up right after tend down must
	 * not find it still held). */
	close(lockfd);
	waiters_finish(&d->waiters);
	batches_free(&d->batches);
}

/* Runs the daemon to its end.  OUT_FD gets labelled unit output (-1:
 * none), EV_FD event lines (-1: none). */
static int daemon_run(struct daemon *d, int out_fd, int ev_fd, bool json)
{
	char *err = NULL;
	int lockfd = -1, code = 3;
	if (paths_open_run(&d->paths, true, &err) < 0 ||
	    paths_open_state(&d->paths, true, &err) < 0)
		goto fail;
	lockfd = take_lock(d, &code, &err);
	if (lockfd < 0)
		goto fail;
	raise_nofile();
	int r = daemon_setup(d, out_fd, ev_fd, json, &err);
	out_fd = -1;
	if (r < 0)
		goto fail;
	daemon_serve(d, lockfd);
	lockfd = -1;
	code = 0;
fail:
	if (err) {
		report(d, "error %s\n", err);
		if (d->report < 0)
			errline("%s", err);
		free(err);
	}
	if (out_fd >= 0)
		close(out_fd);
	report_done(d);
	daemon_cleanup(d);
	if (lockfd >= 0)
		close(lockfd);
	return code;
}

static int daemon_init(struct daemon *d, struct tend_config *cfg)
{
	*d = (struct daemon){ .cfg = cfg, .report = -1 };
	char *err = NULL;
	if (paths_init(&d->paths, cfg->path, &err) < 0) {
		errline("%s", err);
		free(err);
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* --- detaching --- */

/* In the daemon: nothing of the caller's stays open but the report pipe
 * REPORT, at 3 (d->report); 0 and 1 are /dev/null, 2 the daemon's log
 * (/dev/null when it cannot be opened).  Whatever numbers the pipe and the
 * files got (main() keeps 0-2 open, but never mind), each is first moved
 * above 3, so no dup2 overwrites another and each clears CLOEXEC.  Where
 * that cannot be, the daemon says why on the pipe and exits 3. */
static void detach_fds(struct daemon *d, int report_fd)
{
	d->report = fd_at_least(report_fd, 4);
	if (d->report < 0)
		_exit(3);   /* no descriptor left to say it with */
	if (dup3(d->report, 3, O_CLOEXEC) != 3) {
		report(d, "error cannot move the report pipe to 3: %s\n",
		       strerror(errno));
		_exit(3);
	}
	d->report = 3;
	/* The caller's pipes would stay open: $(tend up -d) would wait for
	 * their end forever. */
	if (fd_close_from(4) < 0) {
		report(d, "error cannot close the caller's descriptors: %s\n",
		       strerror(errno));
		_exit(3);
	}
	int null = fd_at_least(open("/dev/null", O_RDWR | O_CLOEXEC), 4);
	if (null < 0) {
		report(d, "error cannot open /dev/null: %s\n", strerror(errno));
		_exit(3);
	}
	char *err = NULL;
	int log = paths_open_state(&d->paths, true, &err) == 0
	          ? openat(d->paths.statefd, paths_base(d->paths.daemon_log),
	                   O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	                   O_NOFOLLOW, 0600) : -1;
	log = fd_at_least(log, 4);
	free(err);   /* said again by daemon_run, which opens the state too */
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(log >= 0 ? log : null, 2) < 0) {
		report(d, "error cannot put /dev/null and the log at 0-2: %s\n",
		       strerror(errno));
		_exit(3);
	}
	if (log >= 0)
		close(log);
	close(null);
}

/* The first child: a session of its own, in which it forks the daemon and
 * exits at once (the daemon, no session leader, can never get a
 * controlling terminal); REPORT is the write end of the report pipe. */
static __attribute__((noreturn)) void detach_child(struct daemon *d,
                                                   int report_fd)
{
	(void)setsid();   /* a fresh child is no group leader: cannot fail */
	pid_t daemon = fork();
	if (daemon < 0) {
		d->report = report_fd;
		report(d, "error fork: %s\n", strerror(errno));
		_exit(3);
	}
	if (daemon > 0)
		_exit(0);
	detach_fds(d, report_fd);
	if (chdir("/") < 0) {
		report(d, "error cannot change to /: %s\n", strerror(errno));
		_exit(3);
	}
	_exit(daemon_run(d, -1, -1, false));
}

/* Forks the daemon into the background; returns the read end of its
 * report pipe, or -1 after an error line. */
static int detach(struct daemon *d)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		errline("cannot start the daemon: pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		errline("cannot start the daemon: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		detach_child(d, p[1]);
	}
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return p[0];
}

/* Reads report lines until one that starts with one of WANT (or EOF).
 * Returns that line (malloc'd, no newline) or NULL. */
static char *read_report(int fd, const char *const *want)
{
	struct buf b = { 0 };
	for (;;) {
		char *nl = b.len ? memchr(b.s, '\n', b.len) : NULL;
		if (nl) {
			*nl = 0;
			char *line = xstrdup(b.s);
			size_t rest = b.len - (size_t)(nl + 1 - b.s);
			memmove(b.s, nl + 1, rest);
			b.len = rest;
			for (const char *const *w = want; *w; w++)
				if (strncmp(line, *w, strlen(*w)) == 0) {
					free(b.s);
					return line;
				}
			free(line);
			continue;
		}
		char chunk[512];
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b.s);
			return NULL;
		}
		buf_add(&b, chunk, (size_t)r);
	}
}

static int up_detached(struct daemon *d, bool boot)
{
	const char *config = d->paths.config;
	char *cfgpath = xstrdup(config);
	int fd = detach(d);
	daemon_cleanup(d);
	if (fd < 0) {
		free(cfgpath);
		return 3;
	}
	static const char *const want_boot[] = { "booted", "running", "error", NULL };
	static const char *const want_listen[] = { "listening", "running", "error", NULL };
	char *line = read_report(fd, boot ? want_boot : want_listen);
	close(fd);
	int code;
	if (!line) {
		errline("the daemon for %s exited while starting; see its log "
		        "(tend logs) and daemon.log in the state directory", cfgpath);
		code = 3;
	} else if (strncmp(line, "error ", 6) == 0) {
		errline("cannot start the daemon for %s: %s", cfgpath, line + 6);
		code = 3;
	} else if (strncmp(line, "running ", 8) == 0) {
		if (boot)
			errline("a daemon for %s is already running (pid %s)", cfgpath,
			        line + 8);
		code = 0;
	} else if (strcmp(line, "booted") == 0 || !boot) {
		code = 0;
	} else {
		/* "booted\tREASON\tREASON..." */
		char *save = NULL;
		for (char *r = strtok_r(line + 6, "\t", &save); r;
		     r = strtok_r(NULL, "\t", &save))
			errline("%s; see tend status and tend logs", r);
		code = 1;
	}
	free(line);
	free(cfgpath);
	return code;
}

int daemon_up(struct tend_config *cfg, bool detach_, bool json_events)
{
	struct daemon d;
	if (daemon_init(&d, cfg) < 0)
		return 2;
	if (detach_)
		return up_detached(&d, true);
	/* Events and error lines go to stderr: a reader that stops reading
	 * (a pager, a pipe nobody drains) must not stall the daemon.  A
	 * descriptor of its own, so the caller's stays as it was. */
	int err = output_nonblocking(2);
	if (err > 2) {
		/* Cannot fail (ERR is open, 2 is below any limit); should it,
		 * stderr stays the caller's own, as before. */
		(void)dup2(err, 2);
		close(err);
	}
	return daemon_run(&d, output_nonblocking(1), 2, json_events);
}

int daemon_spawn(struct tend_config *cfg)
{
	struct daemon d;
	if (daemon_init(&d, cfg) < 0)
		return 3;
	return up_detached(&d, false);
}
