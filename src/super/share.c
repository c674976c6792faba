#include "share.h"
#include "reply.h"
#include "events.h"
#include "jrpc.h"
#include "proc.h"
#include "lines.h"
#include "list.h"
#include "mcp.h"
#include "mcp_http.h"
#include "held.h"
#include "parse.h"
#include "relay.h"
#include "unit.h"
#include "unit_ext.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A program sessions talk to, during one run: the service (exclusive) or
 * an instance (per-client). */
struct share_inst {
	struct share *sh;
	struct unit *u;
	int in_w, out_r;          /* this run's stdin and stdout, tend's ends */
	int child_in, child_out;  /* the child's ends, until share_spawned */
	bool live;                /* the run's main process is not reaped yet */
	bool out_eof;             /* out_r reached its end */
	bool mid_line;            /* output was cut inside a line */
	struct session *s;        /* the session it serves */
	struct relay *r;          /* session <-> run, while both are there */
	struct loop_io drain;     /* reads out_r while no session is linked */
	struct srv *srv;          /* stdio = mcp: the instance it runs */
};

struct session {
	struct share *sh;
	struct list_link link;    /* on sh->sessions */
	bool attached;            /* has its program (else queued) */
	bool paused;              /* its service idle-stopped; input wakes it */
	bool in_eof;              /* the client's stdin ended */
	bool linked;              /* a run of its program has served it */
	int ctl, in, out;
	struct loop_io ctl_io;
	struct loop_io wake_io;   /* paused: the client's input */
	struct loop_timer timer;  /* queued: queue-timeout; after EOF: the end */
	struct share_inst *inst;
	unsigned long long out_mark;   /* bytes to the client at the last input */
	/* who it is: tend connect's pid, its parent's name (the client
	 * program), its working directory; for tend status */
	pid_t pid;
	char program[32];
	char *cwd;
	/* stdio = mcp */
	unsigned long long id;    /* its number, in arrival order */
	struct mcp_http_sess *hs; /* an HTTP session (no descriptors): its
	                             lines come from and go to mcp_http */
	struct srv *srv;          /* the instance serving it, from its first line */
	struct mcp_client *mc;
	struct line_reader rd;    /* the client's messages */
	struct line_writer wr;    /* messages for it */
	char *bye;                /* why it ends, at the loop's next turn */
	bool settled;             /* after its EOF: every request answered */
	/* share = roots */
	char *init;               /* its initialize request, for a new instance */
	size_t init_len;
	char *version;            /* the protocol version it asked for */
	unsigned caps;            /* the capabilities it declared (MCP_CAP_*) */
	bool want_roots;          /* it declared roots: tend asks for them */
	unsigned long long asked; /* the id of tend's roots/list to it; 0: none */
	bool reask;               /* they changed while tend was asking */
	bool holding;             /* its lines wait in HELD (no instance yet, or
	                             moving to another) */
	bool moving;              /* leaving its instance once nothing is pending */
	char *move_key;           /* where to */
	struct buf held;          /* its lines, each with its newline */
	size_t nheld;
	struct loop_timer roots_timer;
};

struct share {
	struct unit *u;           /* the service */
	struct loop *lp;
	enum stdio_mode mode;
	bool per_client;
	struct list sessions;     /* in arrival order */
	size_t nsessions, nattached;
	struct share_inst excl;   /* exclusive: the service's runs */
	unsigned long long next_id;
	bool closing;             /* share_free: no more turns */
	struct loop_timer turn;   /* pump, from the loop (never re-entered) */
	/* stdio = mcp: its instances, the primary (the service's own runs)
	 * first; the results kept per key */
	bool mcp;
	struct srv *srvs;
	struct keycache *caches;
	unsigned long long next_session, next_ask;
	/* listen = http:...: the endpoints (share_listen) */
	struct mcp_http **eps;
	size_t neps;
};

static void finish(struct session *s, char *line);
static void pump_soon(struct share *sh);
static void srv_close(struct srv *v);

/* --- descriptors --- */

/* FD (a client's stdin or stdout; taken over) as a descriptor of tend's
 * own that does not block: a pipe or tty is opened afresh through /proc
 * (its flags are then tend's alone), a socket is made non-blocking, a
 * regular file is used as it is (always ready).  -1/errno on failure. */
static int own_fd(int fd, int mode)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		int nb = proc_fd_reopen(fd, mode | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (nb >= 0) {
			close(fd);
			return nb;
		}
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		fd_nonblock(fd);
	return fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* --- sessions' lines --- */

static void send_line(struct session *s, char *line)
{
	if (s->ctl >= 0) {
		ssize_t w = send(s->ctl, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;   /* a control connection that cannot take a line is gone */
	}
	free(line);
}

static const char *svc_name(const struct share *sh)
{
	return unit_name(sh->u);
}

/* The final line for session S, whose program U ended (LINKED: after it
 * had served S; else before it was up for S). */
/* How U's last run ended, in a few words ("crash, exit code 3"). */
static void run_how(const struct unit *u, char *how, size_t n)
{
	const struct exit_info *e = unit_last_exit(u);
	char b[32];
	if (unit_idle_stopped(u))
		snprintf(how, n, "idle-stop: no traffic for %s",
		         format_duration(unit_cfg(u)->idle_stop_ms, b));
	else if (e->reason == EXIT_SPAWN_FAILED)
		snprintf(how, n, "cannot start: %s", unit_start_error(u)
		         ? unit_start_error(u) : strerror(e->err));
	else if (e->reason == EXIT_NONE)
		snprintf(how, n, "%s", unit_state_name(unit_state(u)));
	else if (e->signal)
		snprintf(how, n, "%s, signal %s", exit_reason_name(e->reason),
		         signal_name(e->signal));
	else
		snprintf(how, n, "%s, exit code %d", exit_reason_name(e->reason),
		         e->code);
}

static char *run_end_line(const struct session *s, const struct unit *u,
                          bool linked)
{
	const struct exit_info *e = unit_last_exit(u);
	if (linked && e->reason == EXIT_CLEAN && s->in_eof && !unit_idle_stopped(u))
		return reply_ok(json_pack("{s:b}", "done", 1));
	char how[160];
	run_how(u, how, sizeof(how));
	return reply_err(1, "service \"%s\" %s (%s); see tend logs %s",
	                     unit_name(u), linked ? "ended while connected"
	                     : "ended before it was ready", how, svc_name(s->sh));
}

/* --- a program's output while no session is linked --- */

static void link_session(struct share_inst *i);

static void on_drain(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	struct share_inst *i = io->data;
	char b[16384];
	for (int k = 0; k < 16; k++) {
		ssize_t n = read(i->out_r, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			i->out_eof = true;
			loop_io_del(i->sh->lp, &i->drain);
			return;
		}
		i->mid_line = b[n - 1] != '\n';
		if (!i->mid_line && i->s) {
			link_session(i);   /* its turn starts at a line boundary */
			return;
		}
	}
}

static void drain_start(struct share_inst *i)
{
	if (i->out_r >= 0 && !i->out_eof && !i->drain.active &&
	    loop_io_add(i->sh->lp, &i->drain, i->out_r, EPOLLIN, on_drain, i) < 0)
		i->out_eof = true;   /* cannot watch it: nobody reads it */
}

/* The run's descriptors go (its relay or its lines first). */
static void inst_close(struct share_inst *i)
{
	relay_free(i->r);
	i->r = NULL;
	if (i->srv)
		srv_close(i->srv);
	loop_io_del(i->sh->lp, &i->drain);
	close_fd(&i->in_w);
	close_fd(&i->out_r);
	close_fd(&i->child_in);
	close_fd(&i->child_out);
	i->out_eof = false;
	i->mid_line = false;
}

/* --- a linked session --- */

static void on_end_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	struct share_inst *i = s->inst;
	if (i && i->r && !relay_line_start(i->r, RELAY_BA, false))
		i->mid_line = true;   /* the rest of that line is nobody's */
	finish(s, reply_ok(json_pack("{s:b}", "done", 1)));
}

/* exclusive, after the client's EOF: the session ends once the answer is
 * complete and quiet, or when none comes. */
static void arm_end(struct session *s)
{
	struct relay *r = s->inst->r;
	bool answered = r && relay_bytes(r, RELAY_BA) > s->out_mark &&
	                relay_line_start(r, RELAY_BA, false);
	loop_timer_start(s->sh->lp, &s->timer,
	                 answered ? SHARE_QUIET_MS : SHARE_NO_REPLY_MS,
	                 on_end_timer, s);
}

static void on_exit_grace(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	if (s->inst)
		unit_stop(s->inst->u);   /* it did not exit after its EOF */
}

static void on_moved(void *ctx, enum relay_dir dir, size_t n)
{
	(void)n;
	struct session *s = ctx;
	struct share_inst *i = s->inst;
	unit_activity(i->u);
	if (dir == RELAY_AB)
		s->out_mark = relay_bytes(i->r, RELAY_BA);
	else if (s->in_eof && !s->sh->per_client)
		arm_end(s);
}

static void gone(struct session *s, const char *why)
{
	finish(s, reply_err(1, "service \"%s\": %s", svc_name(s->sh), why));
}

/* The session's run is over (main reaped) and its output read (or no
 * longer awaited): the session ends with what happened. */
static void check_run_end(struct session *s)
{
	struct share_inst *i = s->inst;
	if (!i || s->paused)
		return;
	enum unit_state st = unit_state(i->u);
	if (!s->linked) {
		/* Waiting for its program: only a program at rest ends that,
		 * not one passing through stopped on its way back (a restart:
		 * want_up). */
		if (unit_down_for_good(i->u))
			finish(s, run_end_line(s, i->u, false));
		return;
	}
	if (i->live || st == US_RUNNING || st == US_STARTING ||
	    (i->r && !i->out_eof))
		return;   /* its output is read to the end first */
	finish(s, run_end_line(s, i->u, true));
}

/* Has the reader of FD (a pipe's or socket's write side) gone away? */
static bool reader_gone(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLOUT };
	return poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP));
}

static void on_ended(void *ctx, enum relay_dir dir, int err)
{
	struct session *s = ctx;
	struct share_inst *i = s->inst;
	char m[160];
	if (err && !reader_gone(s->out) &&
	    (dir == RELAY_BA || (i->in_w >= 0 && reader_gone(i->in_w)))) {
		/* The program's side failed (it closed its stdin: it is on its
		 * way out), not the client's: the end of its run decides. */
		if (dir == RELAY_BA)
			i->out_eof = true;
		check_run_end(s);
		return;
	}
	if (err) {
		snprintf(m, sizeof(m), "the client went away (%s %s)",
		         dir == RELAY_AB ? "reading its input:" : "writing to it:",
		         strerror(err));
		gone(s, m);
		return;
	}
	if (dir == RELAY_BA) {
		i->out_eof = true;
		check_run_end(s);
		return;
	}
	s->in_eof = true;
	if (s->sh->per_client) {
		close_fd(&i->in_w);   /* EOF to the instance; it may finish */
		loop_timer_start(s->sh->lp, &s->timer, unit_cfg(i->u)->stop_timeout_ms,
		                 on_exit_grace, s);
	} else {
		arm_end(s);
	}
}

static void wake_for(struct session *s)
{
	struct share_inst *i = s->inst;
	loop_io_del(s->sh->lp, &s->wake_io);
	/* A start that fails at once ends S from inside unit_wake. */
	if (!unit_wake(s->sh->u, "connect") && i->s == s)
		gone(s, "it failed; see tend status");
}

static void on_wake_input(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	(void)events;
	wake_for(io->data);
}

/* A paused session whose input epoll refuses (a regular file): always
 * ready. */
static void on_wake_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	wake_for(t->data);
}

/* The session and its program's run meet, when both are there. */
static void link_session(struct share_inst *i)
{
	struct session *s = i->s;
	if (!s || i->r || !i->live || unit_state(i->u) != US_RUNNING || i->in_w < 0 ||
	    i->out_r < 0)
		return;
	if (i->mid_line && !i->out_eof) {
		drain_start(i);   /* first the rest of a line nobody wants */
		return;
	}
	loop_io_del(i->sh->lp, &i->drain);
	loop_io_del(i->sh->lp, &s->wake_io);
	loop_timer_stop(i->sh->lp, &s->timer);
	s->paused = false;
	s->linked = true;
	static const struct relay_cb cb = { on_moved, on_ended, NULL };
	struct relay_cb c = cb;
	c.ctx = s;
	unsigned flags = s->sh->per_client ? 0 : RELAY_COPY_AB | RELAY_COPY_BA;
	i->r = relay_new(i->sh->lp, (struct relay_end){ s->in, s->out },
	                 (struct relay_end){ i->out_r, i->in_w }, flags, &c);
	s->out_mark = 0;
	if (!i->r) {
		char m[128];
		snprintf(m, sizeof(m), "cannot relay its stdin and stdout (%s)",
		         strerror(errno));
		gone(s, m);
	}
}

/* A new instance of the service, NAME#N (not started): PER_CLIENT for one
 * client (restart = never), else an mcp instance (the service's policy). */
static struct share_inst *new_instance(struct share *sh, bool per_client)
{
	struct unit *u = sh->u;
	char name[96];
	snprintf(name, sizeof(name), "%s#%llu", unit_name(u), ++sh->next_id);
	struct unit *iu = unit_host(u)->ops->add_instance(unit_host(u)->ctx, u, name,
	                                             per_client);
	struct share_inst *i = xcalloc(1, sizeof(*i));
	i->sh = sh;
	i->u = iu;
	i->in_w = i->out_r = i->child_in = i->child_out = -1;
	unit_ext(iu)->share = sh;
	unit_ext(iu)->inst = i;
	return i;
}

/* --- stdio = mcp: every session at once, through the multiplexer --- */

#define SHARE_LINE_MAX ((size_t)64 << 20)     /* the longest message */
#define SHARE_BACKLOG_MAX ((size_t)64 << 20)  /* a client's unread output */
#define SHARE_SERVER_HIGH ((size_t)4 << 20)   /* the server's unread input */
#define SHARE_CACHES_MAX 16                   /* keys whose results are kept */
#define SHARE_HELD_MAX 1000                   /* lines of a client waiting for its instance */
#define SHARE_ROOTS_MS 10000                  /* a client's answer to roots/list */
/* After a client was answered from the cache (its initialize, its lists)
 * the server is started this much later: its start blocks the daemon for
 * a few ms, which the client's next questions, answered from the cache
 * too, need not wait for. */
#define SHARE_WARM_MS 50

/* One server instance of a stdio = mcp service and its multiplexer: the
 * service's own runs (the primary) or those of an instance NAME#N, for
 * the clients of one key (the protocol version they asked for, and what
 * share = ... makes them need in common). */
struct srv {
	struct share *sh;
	struct srv *next;
	struct share_inst *inst;  /* its runs' pipes: &sh->excl, or its own */
	struct mcp *mcp;
	char *key;                /* NULL: the primary, before its first client */
	size_t nclients;
	struct line_reader rd;    /* the server's stdout */
	struct line_writer wr;    /* its stdin */
	bool open;                /* rd and wr run */
	bool clients_paused;      /* its stdin is backed up */
	bool waking;
	bool dying;               /* its unit is being freed */
	struct loop_timer warm;   /* a start asked for soon (mcp_warm) */
};

/* The results kept for one key (mcp.h): they outlive the instances. */
struct keycache {
	char *key;
	struct mcp_cache *cache;
	struct keycache *next;
};

/* "--- tend: mcp: MSG" among the service's output lines (its log). */
static void log_mark(struct share *sh, const char *msg)
{
	struct output *o = unit_output_open(sh->u);
	if (!o)
		return;
	char *t = xasprintf("--- tend: mcp: %s", msg);
	output_mark(o, t);
	free(t);
}

/* Ends S at the loop's next turn with WHY (never from inside the
 * multiplexer, which may be walking its clients). */
static void on_bye(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	gone(s, s->bye);
}

static void bye_later(struct session *s, const char *why)
{
	if (s->bye)
		return;
	s->bye = xstrdup(why);
	loop_timer_start(s->sh->lp, &s->timer, 0, on_bye, s);
}

/* V's stdin is backed up past SHARE_SERVER_HIGH: its clients wait (their
 * pipes fill, their writes block) until it drains. */
static void pause_clients(struct srv *v, bool pause)
{
	if (v->clients_paused == pause)
		return;
	v->clients_paused = pause;
	list_each(s, &v->sh->sessions, struct session, link)
		if (s->srv == v && !s->in_eof && !s->hs)
			lines_pause(&s->rd, pause);
}

/* Why V's server ended or failed, for its clients' errors: how the run
 * ended, its own last words (its stderr), and where to read more. */
static char *server_why(const struct srv *v, const char *how)
{
	struct share *sh = v->sh;
	struct output *o = unit_output(sh->u);
	char *tail = o ? output_tail(o) : NULL;
	char *why = xasprintf("%s%s%s%s; see tend logs %s", how,
	                      tail ? "; it said: \"" : "", tail ? tail : "",
	                      tail ? "\"" : "", svc_name(sh));
	free(tail);
	return why;
}

/* A line for S's client: its stdout, or its HTTP session. */
static void to_client(struct session *s, const char *line, size_t len)
{
	if (s->hs)
		mcp_http_to_client(s->hs, line, len);
	else if (s->out >= 0)
		lines_write(&s->wr, line, len);
}

static void mcp_to_client(void *ctx, void *data, const char *line, size_t len)
{
	(void)ctx;
	struct session *s = data;
	if (s->bye)
		return;
	to_client(s, line, len);
	if (lines_pending(&s->wr) > SHARE_BACKLOG_MAX)
		bye_later(s, "the client does not read its output (64 MiB wait "
		          "for it); disconnected");
}

static void mcp_to_server(void *ctx, const char *line, size_t len)
{
	struct srv *v = ctx;
	unit_activity(v->inst->u);
	if (!v->open)
		return;   /* the process is gone; mcp knows it from share_on_state */
	lines_write(&v->wr, line, len);
	if (lines_pending(&v->wr) > SHARE_SERVER_HIGH)
		pause_clients(v, true);
}

static void mcp_log(void *ctx, const char *msg)
{
	struct srv *v = ctx;
	log_mark(v->sh, msg);
}

static bool mcp_wake(void *ctx)
{
	struct srv *v = ctx;
	if (v->waking)
		return true;   /* a start failing at once tells mcp itself */
	v->waking = true;
	bool ok = unit_wake(v->inst->u, "connect");
	v->waking = false;
	return ok;
}

static void on_warm(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct srv *v = t->data;
	if (!unit_run_info(v->inst->u)->pid)
		mcp_wake(v);
}

static void mcp_warm(void *ctx)
{
	struct srv *v = ctx;
	if (!v->warm.armed)
		loop_timer_start(v->sh->lp, &v->warm, SHARE_WARM_MS, on_warm, v);
}

/* After the client's EOF: the session ends once every answer it waits
 * for is written out (or SHARE_DRAIN_MS passed). */
static void on_drained_end(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	finish(s, reply_ok(json_pack("{s:b}", "done", 1)));
}

static void end_when_written(struct session *s)
{
	if (!s->bye && lines_pending(&s->wr) == 0)
		loop_timer_start(s->sh->lp, &s->timer, 0, on_drained_end, s);
}

static void client_written(void *ctx)
{
	struct session *s = ctx;
	if (s->settled)
		end_when_written(s);
}

static void on_drain_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	char b[32];
	char *m = xasprintf("the client's input ended and its requests in "
	                    "flight were not all answered within %s",
	                    format_duration(SHARE_DRAIN_MS, b));
	gone(s, m);
	free(m);
}

static void on_move(struct loop *lp, struct loop_timer *t);

static void mcp_settled(void *ctx, void *data)
{
	(void)ctx;
	struct session *s = data;
	if (s->moving) {
		/* from inside the multiplexer: it leaves from the loop */
		loop_timer_start(s->sh->lp, &s->timer, 0, on_move, s);
		return;
	}
	s->settled = true;
	end_when_written(s);
}

static void tools_changed(struct share *sh);

static void srv_line(void *ctx, const char *line, size_t len)
{
	struct srv *v = ctx;
	unit_activity(v->inst->u);
	struct jrpc_msg m;
	if (v->sh->neps && memmem(line, len, "tools/list_changed", 18) &&
	    jrpc_scan(line, len, &m) == JRPC_NOTIFICATION &&
	    jrpc_str_eq(line, m.method, "notifications/tools/list_changed"))
		tools_changed(v->sh);
	mcp_server_line(v->mcp, line, len);
}

static void srv_long(void *ctx, size_t len)
{
	struct srv *v = ctx;
	char m[128];
	snprintf(m, sizeof(m), "a message of more than %zu bytes from the "
	         "server was dropped", len);
	log_mark(v->sh, m);
}

static void srv_end(void *ctx, int err)
{
	(void)ctx;
	(void)err;   /* its exit (share_on_state) says what happened */
}

static void srv_drained(void *ctx)
{
	pause_clients(ctx, false);
}

static void srv_werr(void *ctx, int err)
{
	(void)ctx;
	(void)err;   /* it closed its stdin: on its way out */
}

/* A run of V's server began: tend reads and writes its pipes by lines. */
static void srv_open(struct srv *v)
{
	struct share_inst *i = v->inst;
	v->rd = (struct line_reader){ .on_line = srv_line, .on_long = srv_long,
	                              .on_end = srv_end, .ctx = v };
	v->wr = (struct line_writer){ .on_error = srv_werr,
	                              .on_drained = srv_drained, .ctx = v };
	if (lines_read(&v->rd, v->sh->lp, i->out_r, SHARE_LINE_MAX) < 0 ||
	    lines_write_start(&v->wr, v->sh->lp, i->in_w) < 0) {
		lines_read_stop(&v->rd);
		lines_write_stop(&v->wr);
		log_mark(v->sh, "cannot watch the server's pipes");
		return;
	}
	v->open = true;
	pause_clients(v, false);
	tools_changed(v->sh);   /* a new process: its tools are asked again */
	mcp_server_up(v->mcp);
}

static void srv_close(struct srv *v)
{
	if (!v->open)
		return;
	lines_read_stop(&v->rd);
	lines_write_stop(&v->wr);
	v->open = false;
}

/* The results kept for KEY (made, or the least recently made dropped,
 * when there are SHARE_CACHES_MAX already). */
static struct mcp_cache *cache_for(struct share *sh, const char *key)
{
	struct keycache **pp = &sh->caches, *last = NULL, **lastp = NULL;
	size_t n = 0;
	for (; *pp; pp = &(*pp)->next, n++) {
		if (strcmp((*pp)->key, key) == 0)
			return (*pp)->cache;
		lastp = pp;
		last = *pp;
	}
	if (n >= SHARE_CACHES_MAX && last) {
		bool used = false;
		for (struct srv *v = sh->srvs; v; v = v->next)
			used |= v->key && strcmp(v->key, last->key) == 0;
		if (!used) {
			*lastp = NULL;
			mcp_cache_free(last->cache);
			free(last->key);
			free(last);
		}
	}
	struct keycache *k = xcalloc(1, sizeof(*k));
	k->key = xstrdup(key);
	k->cache = mcp_cache_new();
	k->next = sh->caches;   /* newest first */
	sh->caches = k;
	return k->cache;
}

/* The protocol version in KEY ("VERSION cCAPS ..."). */
static char *key_version(const char *key)
{
	size_t n = strcspn(key, " ");
	return n ? strndup(key, n) : NULL;
}

/* The capabilities in KEY. */
static unsigned key_caps(const char *key)
{
	const char *c = strstr(key, " c");
	return c ? (unsigned)strtoul(c + 2, NULL, 10) & MCP_CAPS_ALL : MCP_CAPS_ALL;
}

/* V serves KEY from now on: a multiplexer for it (V has no client, and no
 * run of the old key's). */
static void srv_key(struct srv *v, const char *key)
{
	static const struct mcp_ops ops = { NULL, mcp_to_client, mcp_to_server,
	                                    mcp_log, mcp_wake, mcp_settled,
	                                    mcp_warm };
	struct mcp_ops o = ops;
	o.ctx = v;
	char *version = key_version(key);
	mcp_free(v->mcp);
	free(v->key);
	v->key = xstrdup(key);
	v->mcp = mcp_new(&o, TEND_VERSION, version, key_caps(key),
	                 cache_for(v->sh, key));
	if (strstr(key, " stateless"))
		mcp_open_stateless(v->mcp);   /* server/discover first */
	free(version);
}

static struct srv *srv_new(struct share *sh, struct share_inst *i)
{
	struct srv *v = xcalloc(1, sizeof(*v));
	v->sh = sh;
	v->inst = i;
	i->srv = v;
	/* after the primary, in creation order */
	struct srv **pp = &sh->srvs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = v;
	return v;
}

static void srv_free(struct srv *v)
{
	struct srv **pp = &v->sh->srvs;
	while (*pp != v)
		pp = &(*pp)->next;
	*pp = v->next;
	srv_close(v);
	loop_timer_stop(v->sh->lp, &v->warm);
	v->inst->srv = NULL;
	mcp_free(v->mcp);
	free(v->key);
	free(v);
}

/* An instance without clients goes: its tree is stopped, and the unit
 * forgotten once it is gone (the primary stays, asleep or not). */
static void srv_drop(struct srv *v)
{
	struct share_inst *i = v->inst;
	struct unit *u = i->u;
	srv_free(v);
	inst_close(i);
	unit_ext(u)->inst = NULL;
	unit_ext(u)->share = NULL;
	free(i);
	unit_host(u)->ops->drop(unit_host(u)->ctx, u);
}

static size_t srv_count(const struct share *sh)
{
	size_t n = 0;
	for (const struct srv *v = sh->srvs; v; v = v->next)
		n++;
	return n;
}

/* The instance for clients of KEY: the one that serves KEY, else the
 * primary when it has no client and no run (it takes KEY), else a new
 * instance NAME#N.  NULL with *ERR when max-instances are in use. */
static struct srv *srv_for(struct share *sh, const char *key, char **err)
{
	for (struct srv *v = sh->srvs; v; v = v->next)
		if (v->key && strcmp(v->key, key) == 0)
			return v;
	struct srv *p = sh->srvs;   /* the primary: always there */
	if (p && (!p->key || (p->nclients == 0 && unit_run_info(p->inst->u)->pid == 0 &&
	                !p->inst->live && !unit_up(p->inst->u)))) {
		srv_key(p, key);
		return p;
	}
	struct unit *u = sh->u;
	if (srv_count(sh) >= unit_cfg(u)->max_instances) {
		char *version = key_version(key);
		*err = xasprintf("service \"%s\" runs max-instances %u instances "
		                 "for clients that cannot share one (protocol "
		                 "version %s, or share = %s); raise max-instances",
		                 svc_name(sh), unit_cfg(u)->max_instances,
		                 version ? version : "?", share_kind_name(unit_cfg(u)->share));
		free(version);
		return NULL;
	}
	struct srv *v = srv_new(sh, new_instance(sh, false));
	srv_key(v, key);
	return v;
}

/* A new key for a client of protocol VERSION: with share = all the
 * version alone, with roots its set of roots (SET; NULL: it declared no
 * roots capability), with none its own number. */
static char *make_key(const struct session *s, const char *version,
                      const char *set)
{
	switch (unit_cfg(s->sh->u)->share) {
	case SHARE_NONE:
		return xasprintf("%s c%u client-%llu", version, s->caps, s->id);
	case SHARE_ROOTS:
		return xasprintf("%s c%u roots:%s", version, s->caps, set ? set : "-");
	default:
		/* all: whatever their capabilities; tend declares them all,
		 * and routes each server request to a client that has it */
		return xasprintf("%s c%u", version, MCP_CAPS_ALL);
	}
}

/* An initialize result kept for protocol VERSION and capabilities CAPS,
 * under any key. */
static const char *cached_init(const struct share *sh, const char *version,
                               unsigned caps, size_t *len)
{
	char *prefix = xasprintf("%s c%u ", version, caps);
	size_t n = strlen(prefix);
	const char *r = NULL;
	for (const struct keycache *k = sh->caches; k && !r; k = k->next)
		if (strncmp(k->key, prefix, n) == 0)
			r = mcp_cache_init(k->cache, len);
	free(prefix);
	return r;
}

/* S joins the instance of KEY, whose unit is woken (a new client: one
 * that had given up starts again).  False when it cannot: *ERR says why. */
static bool join(struct session *s, const char *key, char **err)
{
	struct srv *v = srv_for(s->sh, key, err);
	if (!v)
		return false;
	s->srv = v;
	v->nclients++;
	s->mc = mcp_client_add(v->mcp, s);
	if (v->clients_paused && !s->in_eof && !s->hs)
		lines_pause(&s->rd, true);
	/* A service that gave up starts again for a new client; else its
	 * multiplexer wakes it when a message needs it. */
	struct unit *u = v->inst->u;
	if (unit_state(u) != US_FAILED)
		return true;
	v->waking = true;
	bool ok = unit_revive(u, "connect");
	v->waking = false;
	if (!ok && unit_state(u) == US_FAILED) {
		char how[160];
		run_how(u, how, sizeof(how));
		char *why = server_why(v, how);
		char *m = xasprintf("the server has failed (%s)", why);
		mcp_server_failed(v->mcp, m);
		free(m);
		free(why);
	}
	return true;
}

/* S leaves its instance (nothing of its is pending there, or it is going
 * away: its requests are cancelled); an instance left without clients
 * goes. */
static void leave(struct session *s)
{
	struct srv *v = s->srv;
	if (!v)
		return;
	mcp_client_remove(v->mcp, s->mc);
	s->mc = NULL;
	s->srv = NULL;
	if (--v->nclients == 0 && v != v->sh->srvs && !v->dying)
		srv_drop(v);
}

/* Is LINE a ping request (a keep-alive: no traffic for idle-stop)? */
static bool is_ping(const char *line, size_t len)
{
	struct jrpc_msg m;
	return jrpc_scan(line, len, &m) == JRPC_REQUEST &&
	       jrpc_str_eq(line, m.method, "ping");
}

static void deliver(struct session *s, const char *line, size_t len)
{
	if (!s->hs || !is_ping(line, len))
		unit_activity(s->srv->inst->u);
	mcp_client_line(s->srv->mcp, s->mc, line, len);
}

static void hold(struct session *s, const char *line, size_t len)
{
	if (s->nheld >= SHARE_HELD_MAX) {
		bye_later(s, "too many messages wait for the client's roots; "
		          "answer tend's roots/list");
		return;
	}
	buf_add(&s->held, line, len);
	buf_addc(&s->held, '\n');
	s->nheld++;
}

/* S, answered its initialize from the cache (or moving), joins the
 * instance of KEY: it counts as initialized there, and what it said
 * meanwhile follows. */
static void join_held(struct session *s, const char *key)
{
	char *err = NULL;
	s->holding = false;
	if (!join(s, key, &err)) {
		bye_later(s, err);
		free(err);
		return;
	}
	mcp_client_adopt(s->srv->mcp, s->mc, s->init, s->init_len);
	struct buf b = s->held;
	s->held = (struct buf){ 0 };
	s->nheld = 0;
	for (size_t at = 0; at < b.len && s->srv && !s->holding; ) {
		char *nl = memchr(b.s + at, '\n', b.len - at);
		deliver(s, b.s + at, (size_t)(nl - (b.s + at)));
		at = (size_t)(nl - b.s) + 1;
	}
	free(b.s);
}

static void on_move(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	char *key = s->move_key;
	s->move_key = NULL;
	s->moving = false;
	leave(s);
	join_held(s, key);
	free(key);
	if (s->in_eof && s->srv && mcp_client_close(s->srv->mcp, s->mc))
		mcp_settled(s->sh, s);
}

/* S's roots are SET: it belongs to the instance of that set.  Alone on
 * its instance, the instance takes the set (its server asks again); else
 * S moves once nothing of its is pending where it is. */
static void roots_known(struct session *s, const char *set)
{
	char *key = make_key(s, s->version, set);
	struct srv *v = s->srv;
	if (!v && s->holding && !s->moving) {
		join_held(s, key);
	} else if (v && !s->moving && strcmp(v->key, key) != 0) {
		if (v->nclients == 1) {
			free(v->key);
			v->key = key;
			key = NULL;
		} else {
			s->moving = s->holding = true;
			s->move_key = key;
			key = NULL;
			if (mcp_client_close(v->mcp, s->mc))
				loop_timer_start(s->sh->lp, &s->timer, 0, on_move, s);
		}
	}
	free(key);
}

static void on_roots_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	s->asked = 0;
	roots_known(s, NULL);   /* no answer: as a client without roots */
}

/* tend asks S for its roots (share = roots). */
static void ask_roots(struct session *s)
{
	struct share *sh = s->sh;
	if (s->asked) {
		s->reask = true;   /* once this answer is in */
		return;
	}
	s->asked = ++sh->next_ask;
	char *l = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":\"tend-roots-%llu\","
	                    "\"method\":\"roots/list\"}", s->asked);
	to_client(s, l, strlen(l));
	free(l);
	loop_timer_start(sh->lp, &s->roots_timer, SHARE_ROOTS_MS,
	                 on_roots_timeout, s);
}

/* share = roots: what tend itself takes of S's lines (true: consumed):
 * the answer to its roots/list; and after notifications/initialized or
 * notifications/roots/list_changed it asks for the roots. */
static bool roots_line(struct session *s, const char *line, size_t len)
{
	struct jrpc_msg msg;
	enum jrpc_kind k = jrpc_scan(line, len, &msg);
	if (k == JRPC_RESPONSE && s->asked) {
		char id[48];
		int n = snprintf(id, sizeof(id), "\"tend-roots-%llu\"", s->asked);
		if (msg.id.len != (size_t)n || memcmp(line + msg.id.off, id, (size_t)n) != 0)
			return false;
		loop_timer_stop(s->sh->lp, &s->roots_timer);
		s->asked = 0;
		char *set = mcp_roots_set(line, len);
		roots_known(s, set);
		free(set);
		if (s->reask) {
			s->reask = false;
			ask_roots(s);
		}
		return true;
	}
	if (k != JRPC_NOTIFICATION)
		return false;
	if (jrpc_str_eq(line, msg.method, "notifications/initialized")) {
		ask_roots(s);
		return s->holding;   /* its instance knows it initialized */
	}
	if (jrpc_str_eq(line, msg.method, "notifications/roots/list_changed")) {
		ask_roots(s);
		/* Alone on its instance the server asks again; shared, the
		 * others' roots stay the server's and S moves. */
		return !s->srv || s->srv->nclients > 1;
	}
	return false;
}

/* S (served by no instance yet) sent its first message LINE.  It joins
 * the instance of its key; with share = roots and the roots capability
 * its key waits for its roots: its initialize is answered from the cache
 * when a result for its version is kept (its lines then wait for its
 * roots), else it joins an instance of its own until they are known.
 * False when LINE was answered here. */
static bool first_line(struct session *s, const char *line, size_t len)
{
	struct share *sh = s->sh;
	struct mcp_hello h;
	mcp_hello(line, len, &h);
	char *version = h.version ? h.version
	                : key_version(sh->srvs->key ? sh->srvs->key : MCP_PROTOCOL);
	bool init = h.initialize;
	s->version = version;
	s->caps = h.caps;
	char *key, *err = NULL;
	if (unit_cfg(sh->u)->share == SHARE_ROOTS && init && (s->caps & MCP_CAP_ROOTS)) {
		s->want_roots = true;
		s->init = xmalloc(len + 1);
		memcpy(s->init, line, len);
		s->init_len = len;
		size_t rlen;
		const char *r = cached_init(sh, version, s->caps, &rlen);
		if (r) {
			char *answer = mcp_result_for(line, len, r, rlen);
			to_client(s, answer, strlen(answer));
			free(answer);
			s->holding = true;
			return false;
		}
		key = xasprintf("%s c%u pending-%llu", version, s->caps, s->id);
	} else if (!init && mcp_stateless(version)) {
		/* a client of the stateless era: no initialize (its own
		 * instance, opened with server/discover) */
		char *k = make_key(s, version, NULL);
		key = xasprintf("%s stateless", k);
		free(k);
	} else {
		key = make_key(s, version, NULL);
	}
	bool ok = join(s, key, &err);
	free(key);
	if (!ok) {
		char *e = mcp_error_for(line, len, -32603, err);
		if (e)
			to_client(s, e, strlen(e));
		free(e);
		free(err);
	}
	return ok;
}

static void client_line(void *ctx, const char *line, size_t len)
{
	struct session *s = ctx;
	if (s->bye || (s->want_roots && roots_line(s, line, len)))
		return;
	if (s->holding) {
		hold(s, line, len);
		return;
	}
	if (!s->srv && !first_line(s, line, len))
		return;
	deliver(s, line, len);
}

static void client_long(void *ctx, size_t len)
{
	struct session *s = ctx;
	char m[128];
	snprintf(m, sizeof(m), "a message of more than %zu bytes from a client "
	         "was dropped", len);
	log_mark(s->sh, m);
}

static void client_end(void *ctx, int err)
{
	struct session *s = ctx;
	if (!err) {
		s->in_eof = true;
		lines_read_stop(&s->rd);
		if (s->moving)
			return;   /* closed where it goes (on_move) */
		if (s->holding) {
			/* Its roots will not come now: what it asked is answered
			 * as for a client without roots. */
			loop_timer_stop(s->sh->lp, &s->roots_timer);
			s->asked = 0;
			roots_known(s, NULL);
		}
		if (!s->srv || mcp_client_close(s->srv->mcp, s->mc))
			mcp_settled(s->sh, s);
		else
			loop_timer_start(s->sh->lp, &s->timer, SHARE_DRAIN_MS,
			                 on_drain_timeout, s);
		return;
	}
	char m[160];
	snprintf(m, sizeof(m), "the client went away (reading its input: %s)",
	         strerror(err));
	gone(s, m);
}

static void client_werr(void *ctx, int err)
{
	char m[160];
	snprintf(m, sizeof(m), "the client went away (writing to it: %s)",
	         strerror(err));
	gone(ctx, m);
}

/* S's lines are read and written from now on; it joins an instance with
 * its first message. */
static void mcp_attach(struct session *s)
{
	struct share *sh = s->sh;
	loop_timer_stop(sh->lp, &s->timer);
	s->attached = true;
	sh->nattached++;
	s->rd = (struct line_reader){ .on_line = client_line, .on_long = client_long,
	                              .on_end = client_end, .ctx = s };
	s->wr = (struct line_writer){ .on_error = client_werr,
	                              .on_drained = client_written, .ctx = s };
	if (lines_read(&s->rd, sh->lp, s->in, SHARE_LINE_MAX) < 0 ||
	    lines_write_start(&s->wr, sh->lp, s->out) < 0) {
		char m[160];
		snprintf(m, sizeof(m), "cannot watch the client's stdin and stdout "
		         "(%s); give tend connect pipes, ttys or sockets",
		         strerror(errno));
		gone(s, m);
	}
}

/* The session leaves its instance (its requests are cancelled); an
 * instance left without clients goes. */
static void mcp_detach(struct session *s)
{
	leave(s);
	loop_timer_stop(s->sh->lp, &s->roots_timer);
	free(s->init);
	free(s->version);
	free(s->move_key);
	free(s->held.s);
	s->init = s->version = s->move_key = NULL;
	s->held = (struct buf){ 0 };
	lines_read_stop(&s->rd);
	lines_write_stop(&s->wr);
	free(s->bye);
	s->bye = NULL;
}

/* V's server run ended (main reaped): its last lines are read, then the
 * multiplexer fails what was in flight. */
static void srv_gone(struct srv *v)
{
	if (v->open)
		lines_drain(&v->rd);
	inst_close(v->inst);
	pause_clients(v, false);   /* what they send now waits in mcp's queue */
	char how[160];
	run_how(v->inst->u, how, sizeof(how));
	enum exit_reason r = unit_last_exit(v->inst->u)->reason;
	bool said = r != EXIT_CLEAN && r != EXIT_STOPPED &&
	            !unit_idle_stopped(v->inst->u);
	char *why = said ? server_why(v, how) : xstrdup(how);
	mcp_server_down(v->mcp, why);
	free(why);
}

/* --- sessions --- */

/* Who is at the other end of S's control connection: tend connect's pid
 * (SO_PEERCRED), the name of its parent (the client that started it) and
 * its working directory; what cannot be read stays empty. */
static void peer_info(struct session *s)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(s->ctl, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid <= 0)
		return;
	s->pid = cr.pid;
	char b[4096];
	proc_cwd(cr.pid, b, sizeof(b));
	if (b[0])
		s->cwd = xstrdup(b);
	struct proc_stat st;
	if (proc_read_stat(cr.pid, &st) < 0 || st.ppid <= 0)
		return;
	proc_comm(st.ppid, s->program, sizeof(s->program));
}

/* An instance is done with its session: it goes (stopped first if need
 * be; the supervisor frees it once its tree is gone). */
static void drop_instance(struct share_inst *i)
{
	struct unit *u = i->u;
	inst_close(i);
	unit_ext(u)->inst = NULL;
	unit_ext(u)->share = NULL;
	free(i);
	unit_host(u)->ops->drop(unit_host(u)->ctx, u);
}

/* Ends S with LINE (taken over) as its final line. */
static void finish(struct session *s, char *line)
{
	struct share *sh = s->sh;
	struct share_inst *i = s->inst;
	if (sh->mcp && s->attached) {
		mcp_detach(s);
		sh->nattached--;
	}
	if (s->hs) {
		mcp_http_end(s->hs);   /* 404 from now on */
		s->hs = NULL;
	}
	if (i) {
		if (!sh->per_client && i->r) {
			/* A client that left inside a line it was sending: the
			 * service holds half a request; it starts afresh. */
			if (!relay_line_start(i->r, RELAY_AB, false) && unit_up(i->u)) {
				unit_stop(i->u);
				unit_start(i->u);
			}
			if (!relay_line_start(i->r, RELAY_BA, false))
				i->mid_line = true;
		}
		relay_free(i->r);
		i->r = NULL;
		i->s = NULL;
		sh->nattached--;
		if (sh->per_client)
			drop_instance(i);
		else
			drain_start(i);
	}
	send_line(s, line);
	list_remove(&sh->sessions, &s->link);
	sh->nsessions--;
	loop_io_del(sh->lp, &s->ctl_io);
	loop_io_del(sh->lp, &s->wake_io);
	loop_timer_stop(sh->lp, &s->timer);
	close_fd(&s->ctl);
	close_fd(&s->in);
	close_fd(&s->out);
	free(s->cwd);
	free(s);
	pump_soon(sh);
}

static void on_ctl(struct loop *lp, struct loop_io *io, uint32_t events)
{
	(void)lp;
	struct session *s = io->data;
	char b[256];
	ssize_t n = events & EPOLLIN ? recv(s->ctl, b, sizeof(b), MSG_DONTWAIT) : 0;
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;   /* nothing more is expected from it; ignored */
	close_fd(&s->ctl);
	gone(s, "tend connect went away");
}

static void on_queue_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	struct share *sh = s->sh;
	char b[32];
	const char *d = format_duration(unit_cfg(sh->u)->queue_timeout_ms, b);
	if (sh->per_client)
		finish(s, reply_err(1, "service \"%s\": no free instance within "
		       "queue-timeout %s (max-instances %u in use); raise "
		       "max-instances or queue-timeout", svc_name(sh), d,
		       unit_cfg(sh->u)->max_instances));
	else
		finish(s, reply_err(1, "service \"%s\": another client kept it "
		       "for all of queue-timeout %s (stdio = exclusive serves one "
		       "client at a time); try again, or raise queue-timeout",
		       svc_name(sh), d));
}

static bool attach(struct session *s, struct share_inst *i)
{
	struct share *sh = s->sh;
	loop_timer_stop(sh->lp, &s->timer);
	s->attached = true;
	s->inst = i;
	i->s = s;
	sh->nattached++;
	if (sh->per_client) {
		unit_start(i->u);   /* may end S and free I (a failed spawn) */
		return true;
	}
	/* A start that fails at once ends S from inside unit_wake (its
	 * spawn_failed state change): S is then gone. */
	if (!unit_revive(i->u, "connect")) {
		if (i->s == s)
			finish(s, reply_err(1, "service \"%s\" %s; see tend "
			       "status %s", svc_name(sh), unit_state(i->u) == US_FAILED
			       ? "has failed" : "is going away", svc_name(sh)));
		return false;
	}
	if (i->s == s)
		link_session(i);
	return i->s == s;
}

/* Gives waiting sessions their program, in arrival order. */
static void on_turn(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct share *sh = t->data;
	struct unit *u = sh->u;
	unit_host(u)->ops->clients_changed(unit_host(u)->ctx, u);   /* a client came or went */
	for (struct session *s = list_first(&sh->sessions, struct session, link); s; ) {
		struct session *next = list_next(s, struct session, link);
		if (s->attached) {
			s = next;
			continue;
		}
		if (unit_host(u)->shutting_down || unit_removed(u)) {
			finish(s, reply_err(1, "service \"%s\" is going away (%s)",
			       svc_name(sh), unit_removed(u) ? "removed from the file"
			       : "tend is shutting down"));
			s = next;
			continue;
		}
		if (sh->mcp) {
			mcp_attach(s);   /* may end S */
		} else if (!sh->per_client) {
			if (sh->excl.s || !attach(s, &sh->excl))
				return;   /* one at a time (a refused one pumps again) */
		} else {
			if (sh->nattached >= unit_cfg(u)->max_instances)
				return;
			attach(s, new_instance(sh, true));
		}
		s = next;
	}
}

static void pump_soon(struct share *sh)
{
	if (!sh->closing)
		loop_timer_start(sh->lp, &sh->turn, 0, on_turn, sh);
}

int share_connect(struct share *sh, int ctl, int in, int out, char **err)
{
	in = own_fd(in, O_RDONLY);
	out = out >= 0 ? own_fd(out, O_WRONLY) : -1;
	if (in < 0 || out < 0) {
		*err = xasprintf("cannot use the client's stdin and stdout (%s)",
		                 strerror(errno));
		close_fd(&in);
		close_fd(&out);
		return -1;
	}
	struct session *s = xcalloc(1, sizeof(*s));
	s->sh = sh;
	s->id = ++sh->next_session;
	s->ctl = ctl;
	peer_info(s);
	s->in = in;
	s->out = out;
	if (loop_io_add(sh->lp, &s->ctl_io, ctl, EPOLLIN | EPOLLRDHUP, on_ctl, s) < 0) {
		*err = xasprintf("cannot watch the connection (%s)", strerror(errno));
		close(in);
		close(out);
		free(s);
		return -1;
	}
	list_push_back(&sh->sessions, &s->link);
	sh->nsessions++;
	send_line(s, reply_ok(NULL));
	loop_timer_start(sh->lp, &s->timer, unit_cfg(sh->u)->queue_timeout_ms,
	                 on_queue_timeout, s);
	pump_soon(sh);
	return 0;
}

/* --- HTTP sessions (listen = http:..., mcp_http.h) --- */

/* A new HTTP session: a session of the multiplexer as a tend connect's
 * is, without descriptors, attached at once. */
static void *http_open(void *ctx, struct mcp_http_sess *hs, char **why)
{
	struct share *sh = ctx;
	struct unit *u = sh->u;
	if (sh->closing || unit_host(u)->shutting_down || unit_removed(u)) {
		*why = xasprintf("service \"%s\" is going away (%s)", svc_name(sh),
		                 unit_removed(u) ? "removed from the file"
		                 : "tend is shutting down");
		return NULL;
	}
	struct session *s = xcalloc(1, sizeof(*s));
	s->sh = sh;
	s->id = ++sh->next_session;
	s->ctl = s->in = s->out = -1;
	s->hs = hs;
	snprintf(s->program, sizeof(s->program), "http");
	list_push_back(&sh->sessions, &s->link);
	sh->nsessions++;
	s->attached = true;
	sh->nattached++;
	pump_soon(sh);   /* tells the supervisor a client came */
	return s;
}

static void http_line(void *ctx, void *sess, const char *line, size_t len)
{
	(void)ctx;
	client_line(sess, line, len);
}

static void http_close(void *ctx, void *sess)
{
	(void)ctx;
	struct session *s = sess;
	s->hs = NULL;   /* mcp_http forgets it itself */
	finish(s, xstrdup(""));
}

static void http_log(void *ctx, const char *msg)
{
	log_mark(ctx, msg);
}

/* The server's tools may have changed: the HTTP endpoints forget their
 * Mcp-Param declarations. */
static void tools_changed(struct share *sh)
{
	for (size_t i = 0; i < sh->neps; i++)
		mcp_http_tools_changed(sh->eps[i]);
}

static bool wants_http(const struct unit_config *c, const char *spec)
{
	for (size_t i = 0; i < c->http.n; i++)
		if (strcmp(c->http.v[i], spec) == 0)
			return true;
	return false;
}

void share_listen(struct share *sh, const struct held_set *held)
{
	const struct unit_config *c = unit_cfg_next(sh->u);
	bool on = sh->mcp && !sh->closing && !unit_removed(sh->u);
	size_t k = 0;
	for (size_t i = 0; i < sh->neps; i++) {
		struct mcp_http *e = sh->eps[i];
		const char *spec = mcp_http_spec(e);
		if (on && wants_http(c, spec) && held_fd(held, spec) == mcp_http_fd(e)) {
			mcp_http_configure(e, c);
			sh->eps[k++] = e;
		} else {
			mcp_http_free(e);   /* its sessions end */
		}
	}
	sh->neps = k;
	for (size_t i = 0; on && i < c->http.n; i++) {
		const char *spec = c->http.v[i];
		bool have = false;
		for (size_t j = 0; j < sh->neps; j++)
			have |= strcmp(mcp_http_spec(sh->eps[j]), spec) == 0;
		int fd = held_fd(held, spec);
		if (have || fd < 0)
			continue;
		static const struct mcp_http_ops ops = { NULL, http_open, http_line,
		                                         http_close, http_log };
		struct mcp_http_ops o = ops;
		o.ctx = sh;
		char *why = NULL;
		struct mcp_http *e = mcp_http_new(sh->lp, spec, fd, c, &o, &why);
		if (!e) {
			char *m = xasprintf("listen = %s: %s", spec, why);
			log_mark(sh, m);
			free(m);
			free(why);
			continue;
		}
		sh->eps = xrealloc(sh->eps, (sh->neps + 1) * sizeof(*sh->eps));
		sh->eps[sh->neps++] = e;
	}
}

/* --- the programs' runs --- */

static struct share_inst *inst_of(struct share *sh, struct unit *u)
{
	return u == sh->u ? (sh->per_client ? NULL : &sh->excl) : unit_ext(u)->inst;
}

int share_spawn_fds(struct share *sh, struct unit *u, int *in, int *out)
{
	struct share_inst *i = inst_of(sh, u);
	if (!i) {
		*in = *out = -1;   /* per-client: the service itself has none */
		return 0;
	}
	if (i->s && i->s->linked && !i->s->paused)
		finish(i->s, run_end_line(i->s, u, true));   /* the last run's */
	inst_close(i);
	int pi[2], po[2];
	if (pipe2(pi, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(po, O_CLOEXEC) < 0) {
		int e = errno;
		close(pi[0]);
		close(pi[1]);
		errno = e;
		return -1;
	}
	fd_nonblock(pi[1]);
	fd_nonblock(po[0]);
	i->child_in = *in = pi[0];
	i->in_w = pi[1];
	i->out_r = po[0];
	i->child_out = *out = po[1];
	return 0;
}

void share_spawned(struct share *sh, struct unit *u, bool ok)
{
	struct share_inst *i = inst_of(sh, u);
	if (!i)
		return;
	close_fd(&i->child_in);
	close_fd(&i->child_out);
	i->live = ok;
	if (!ok)
		inst_close(i);
	else if (i->srv)
		srv_open(i->srv);
	else if (!i->s)
		drain_start(i);
}

/* stdio = mcp: the server's runs come and go under the multiplexer; its
 * clients stay. */
static void mcp_on_state(struct srv *v, struct unit *u)
{
	struct share_inst *i = v->inst;
	if (i->live && unit_run_info(u)->pid == 0) {
		i->live = false;
		srv_gone(v);
	} else if (unit_state(u) == US_STOPPING && v->open && i->in_w >= 0) {
		/* A stop closes the server's stdin first. */
		lines_write_stop(&v->wr);
		close_fd(&i->in_w);
		mcp_server_closing(v->mcp);
	}
	if (unit_state(u) == US_FAILED) {
		char how[160];
		run_how(u, how, sizeof(how));
		char *why = server_why(v, how);
		char *m = xasprintf("the server has failed (%s); a new client starts "
		                    "it again, or tend start %s", why, svc_name(v->sh));
		mcp_server_failed(v->mcp, m);
		free(m);
		free(why);
	}
}

void share_on_state(struct share *sh, struct unit *u)
{
	if (sh->mcp) {
		struct share_inst *i = inst_of(sh, u);
		if (i && i->srv && i->srv->mcp)
			mcp_on_state(i->srv, u);
		pump_soon(sh);
		return;
	}
	struct share_inst *i = inst_of(sh, u);
	if (i && i->live && unit_run_info(u)->pid == 0) {
		/* The run's main process is gone: no more input. */
		i->live = false;
		close_fd(&i->in_w);
		struct session *s = i->s;
		if (s && !sh->per_client && unit_idle_stopped(u)) {
			/* An idle stop: the session waits, its next input wakes
			 * the service. */
			relay_free(i->r);
			i->r = NULL;
			s->paused = true;
			if (loop_io_add(sh->lp, &s->wake_io, s->in, EPOLLIN,
			                on_wake_input, s) < 0 && errno == EPERM)
				loop_timer_start(sh->lp, &s->timer, 0, on_wake_timer, s);
		}
	}
	if (i && i->s) {
		if (unit_state(u) == US_RUNNING)
			link_session(i);
		else if (i->s->paused && unit_state(u) == US_FAILED)
			gone(i->s, "it failed; see tend status");
		else
			check_run_end(i->s);
	}
	if (u == sh->u)
		pump_soon(sh);
}

void share_unit_gone(struct share *sh, struct unit *u)
{
	struct share_inst *i = unit_ext(u)->inst;
	if (!i)
		return;
	if (i->srv) {
		/* An mcp instance's unit is freed under its clients. */
		struct srv *v = i->srv;
		v->dying = true;
		for (struct session *s = list_first(&sh->sessions, struct session, link),
		     *next; s; s = next) {
			next = list_next(s, struct session, link);
			if (s->srv == v)
				gone(s, "its instance went away");
		}
		srv_free(v);
	}
	struct session *s = i->s;
	inst_close(i);
	unit_ext(u)->inst = NULL;
	unit_ext(u)->share = NULL;
	free(i);
	if (s) {
		s->inst = NULL;
		sh->nattached--;
		gone(s, "its instance went away");
	}
}

struct share *share_new(struct unit *u, enum stdio_mode mode)
{
	struct share *sh = xcalloc(1, sizeof(*sh));
	sh->u = u;
	sh->lp = unit_host(u)->loop;
	sh->mode = mode;
	sh->per_client = mode == STDIO_PER_CLIENT;
	sh->excl = (struct share_inst){ .sh = sh, .u = u, .in_w = -1, .out_r = -1,
	                                .child_in = -1, .child_out = -1 };
	if (mode == STDIO_MCP) {
		sh->mcp = true;
		srv_new(sh, &sh->excl);   /* the primary; keyed by its first client */
	}
	return sh;
}

void share_free(struct share *sh, const char *why)
{
	if (!sh)
		return;
	sh->closing = true;
	for (size_t i = 0; i < sh->neps; i++)
		mcp_http_free(sh->eps[i]);   /* their sessions end */
	free(sh->eps);
	sh->eps = NULL;
	sh->neps = 0;
	while (!list_empty(&sh->sessions))
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): finish unlinks the client from its share, SH */
		finish(list_first(&sh->sessions, struct session, link),
		       reply_err(1, "service \"%s\": %s", svc_name(sh), why));
	/* Instances went with their last clients: the primary is left. */
	for (struct srv *v = sh->srvs, *next; v; v = next) {
		next = v->next;
		srv_free(v);
	}
	inst_close(&sh->excl);
	loop_timer_stop(sh->lp, &sh->turn);
	while (sh->caches) {
		struct keycache *k = sh->caches;
		sh->caches = k->next;
		mcp_cache_free(k->cache);
		free(k->key);
		free(k);
	}
	free(sh);
}

enum stdio_mode share_mode(const struct share *sh)
{
	return sh->mode;
}

bool share_busy(const struct share *sh, const struct unit *u)
{
	for (const struct srv *v = sh->srvs; v; v = v->next)
		if (v->inst->u == u)
			return v->mcp && mcp_in_flight(v->mcp) > 0;
	return false;
}

size_t share_in_flight(const struct share *sh)
{
	size_t n = 0;
	for (const struct srv *v = sh->srvs; v; v = v->next)
		n += v->mcp ? mcp_in_flight(v->mcp) : 0;
	return n;
}

json_t *share_sessions_json(const struct share *sh, const struct unit *u)
{
	json_t *a = json_array();
	list_each(s, &sh->sessions, const struct session, link) {
		const struct unit *of = s->srv ? s->srv->inst->u
		                       : s->inst ? s->inst->u : sh->u;
		if (u != sh->u && of != u)
			continue;   /* an instance: its own clients */
		json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:b}",
		                      "pid", s->pid ? json_integer(s->pid) : json_null(),
		                      "program", s->program[0] ? events_text(s->program)
		                                               : json_null(),
		                      "cwd", s->cwd ? events_text(s->cwd) : json_null(),
		                      "instance", unit_name(of),
		                      "queued", !s->attached);
		if (s->version)
			json_object_set_new(o, "protocol", events_text(s->version));
		if (s->hs)
			json_object_set_new(o, "http", json_stringn(mcp_http_sess_id(s->hs), 8));
		json_array_append_new(a, o);
	}
	return a;
}

size_t share_clients(const struct share *sh)
{
	return sh->nattached;
}

size_t share_queued(const struct share *sh)
{
	return sh->nsessions - sh->nattached;
}
