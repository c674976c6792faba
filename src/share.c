#include "share.h"
#include "ctl.h"
#include "lines.h"
#include "mcp.h"
#include "parse.h"
#include "relay.h"
#include "sup.h"
#include "unit.h"
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
};

struct session {
	struct share *sh;
	struct session *prev, *next;
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
	/* stdio = mcp */
	struct mcp_client *mc;
	struct line_reader rd;    /* the client's messages */
	struct line_writer wr;    /* messages for it */
	char *bye;                /* why it ends, at the loop's next turn */
	bool settled;             /* after its EOF: every request answered */
};

struct share {
	struct unit *u;           /* the service */
	struct loop *lp;
	enum stdio_mode mode;
	bool per_client;
	struct session *head, *tail;
	size_t nsessions, nattached;
	struct share_inst excl;   /* exclusive: the service's runs */
	unsigned long long next_id;
	bool closing;             /* share_free: no more turns */
	struct loop_timer turn;   /* pump, from the loop (never re-entered) */
	/* stdio = mcp: the multiplexer and the server's stdout and stdin */
	struct mcp *mcp;
	struct line_reader srv_rd;
	struct line_writer srv_wr;
	bool srv_open;            /* srv_rd and srv_wr run */
	bool clients_paused;      /* the server's stdin is backed up */
	bool waking;
};

static void finish(struct session *s, char *line);
static void pump_soon(struct share *sh);

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
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		int nb = open(path, mode | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
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
	return sh->u->cfg->name;
}

/* The final line for session S, whose program U ended (LINKED: after it
 * had served S; else before it was up for S). */
/* How U's last run ended, in a few words ("crash, exit code 3"). */
static void run_how(const struct unit *u, char *how, size_t n)
{
	const struct exit_info *e = &u->last_exit;
	char b[32];
	if (u->idling)
		snprintf(how, n, "idle-stop: no traffic for %s",
		         format_duration(u->cfg->idle_stop_ms, b));
	else if (e->reason == EXIT_SPAWN_FAILED)
		snprintf(how, n, "cannot start: %s", strerror(e->err));
	else if (e->reason == EXIT_NONE)
		snprintf(how, n, "%s", unit_state_name(u->state));
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
	const struct exit_info *e = &u->last_exit;
	if (linked && e->reason == EXIT_CLEAN && s->in_eof && !u->idling)
		return ctl_reply_ok(json_pack("{s:b}", "done", 1));
	char how[160];
	run_how(u, how, sizeof(how));
	return ctl_reply_err(1, "service \"%s\" %s (%s); see tend logs %s",
	                     u->cfg->name, linked ? "ended while connected"
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
	if (i == &i->sh->excl && i->sh->srv_open) {
		lines_read_stop(&i->sh->srv_rd);
		lines_write_stop(&i->sh->srv_wr);
		i->sh->srv_open = false;
	}
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
	finish(s, ctl_reply_ok(json_pack("{s:b}", "done", 1)));
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
	finish(s, ctl_reply_err(1, "service \"%s\": %s", svc_name(s->sh), why));
}

/* The session's run is over (main reaped) and its output read (or no
 * longer awaited): the session ends with what happened. */
static void check_run_end(struct session *s)
{
	struct share_inst *i = s->inst;
	if (!i || s->paused)
		return;
	enum unit_state st = i->u->state;
	if (!s->linked) {
		/* Waiting for its program: only a program at rest ends that,
		 * not one passing through stopped on its way back (a restart:
		 * want_up). */
		if (st == US_FAILED || st == US_IDLE ||
		    (st == US_STOPPED && !i->u->want_up))
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
		loop_timer_start(s->sh->lp, &s->timer, i->u->cfg->stop_timeout_ms,
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
	if (!s || i->r || !i->live || i->u->state != US_RUNNING || i->in_w < 0 ||
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

/* --- stdio = mcp: every session at once, through the multiplexer --- */

#define SHARE_LINE_MAX ((size_t)64 << 20)     /* the longest message */
#define SHARE_BACKLOG_MAX ((size_t)64 << 20)  /* a client's unread output */
#define SHARE_SERVER_HIGH ((size_t)4 << 20)   /* the server's unread input */

static void log_line(struct share *sh, const char *msg)
{
	char *t = xasprintf("--- tend: mcp: %s", msg);
	output_mark(&sh->u->out, t);
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

/* The server's stdin is backed up past SHARE_SERVER_HIGH: clients wait
 * (their pipes fill, their writes block) until it drains. */
static void pause_clients(struct share *sh, bool pause)
{
	if (sh->clients_paused == pause)
		return;
	sh->clients_paused = pause;
	for (struct session *s = sh->head; s; s = s->next)
		if (s->mc)
			lines_pause(&s->rd, pause);
}

static void mcp_to_client(void *ctx, void *data, const char *line, size_t len)
{
	(void)ctx;
	struct session *s = data;
	if (s->bye)
		return;
	lines_write(&s->wr, line, len);
	if (lines_pending(&s->wr) > SHARE_BACKLOG_MAX)
		bye_later(s, "the client does not read its output (64 MiB wait "
		          "for it); disconnected");
}

static void mcp_to_server(void *ctx, const char *line, size_t len)
{
	struct share *sh = ctx;
	unit_activity(sh->u);
	if (!sh->srv_open)
		return;   /* the process is gone; mcp knows it from share_on_state */
	lines_write(&sh->srv_wr, line, len);
	if (lines_pending(&sh->srv_wr) > SHARE_SERVER_HIGH)
		pause_clients(sh, true);
}

static void mcp_log(void *ctx, const char *msg)
{
	log_line(ctx, msg);
}

static bool mcp_wake(void *ctx)
{
	struct share *sh = ctx;
	if (sh->waking)
		return true;   /* a start failing at once tells mcp itself */
	sh->waking = true;
	bool ok = unit_wake(sh->u, "connect");
	sh->waking = false;
	return ok;
}

static void srv_line(void *ctx, const char *line, size_t len)
{
	struct share *sh = ctx;
	unit_activity(sh->u);
	mcp_server_line(sh->mcp, line, len);
}

static void srv_long(void *ctx, size_t len)
{
	char m[128];
	snprintf(m, sizeof(m), "a message of more than %zu bytes from the "
	         "server was dropped", len);
	log_line(ctx, m);
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

/* A run of the server began: tend reads and writes its pipes by lines. */
static void srv_open(struct share *sh)
{
	struct share_inst *i = &sh->excl;
	sh->srv_rd = (struct line_reader){ .on_line = srv_line, .on_long = srv_long,
	                                   .on_end = srv_end, .ctx = sh };
	sh->srv_wr = (struct line_writer){ .on_error = srv_werr,
	                                   .on_drained = srv_drained, .ctx = sh };
	if (lines_read(&sh->srv_rd, sh->lp, i->out_r, SHARE_LINE_MAX) < 0 ||
	    lines_write_start(&sh->srv_wr, sh->lp, i->in_w) < 0) {
		lines_read_stop(&sh->srv_rd);
		lines_write_stop(&sh->srv_wr);
		log_line(sh, "cannot watch the server's pipes");
		return;
	}
	sh->srv_open = true;
	pause_clients(sh, false);
	mcp_server_up(sh->mcp);
}

static void client_line(void *ctx, const char *line, size_t len)
{
	struct session *s = ctx;
	unit_activity(s->sh->u);
	if (!s->bye)
		mcp_client_line(s->sh->mcp, s->mc, line, len);
}

static void client_long(void *ctx, size_t len)
{
	struct session *s = ctx;
	char m[128];
	snprintf(m, sizeof(m), "a message of more than %zu bytes from a client "
	         "was dropped", len);
	log_line(s->sh, m);
}

/* After the client's EOF: the session ends once every answer it waits
 * for is written out (or SHARE_DRAIN_MS passed). */
static void on_drained_end(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = t->data;
	finish(s, ctl_reply_ok(json_pack("{s:b}", "done", 1)));
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

static void mcp_settled(void *ctx, void *data)
{
	(void)ctx;
	struct session *s = data;
	s->settled = true;
	end_when_written(s);
}

static void client_end(void *ctx, int err)
{
	struct session *s = ctx;
	if (!err) {
		s->in_eof = true;
		lines_read_stop(&s->rd);
		if (mcp_client_close(s->sh->mcp, s->mc))
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

/* S joins the multiplexer; the server starts if it is not running. */
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
		return;
	}
	if (sh->clients_paused)
		lines_pause(&s->rd, true);
	s->mc = mcp_client_add(sh->mcp, s);
	if (!mcp_wake(sh) && sh->u->state == US_FAILED)
		bye_later(s, "it has failed; see tend status");
}

/* The session leaves the multiplexer (its requests are cancelled). */
static void mcp_detach(struct session *s)
{
	if (s->mc)
		mcp_client_remove(s->sh->mcp, s->mc);
	s->mc = NULL;
	lines_read_stop(&s->rd);
	lines_write_stop(&s->wr);
	free(s->bye);
	s->bye = NULL;
}

/* The server's run ended (main reaped): its last lines are read, then
 * the multiplexer fails what was in flight. */
static void srv_gone(struct share *sh)
{
	if (sh->srv_open)
		lines_drain(&sh->srv_rd);
	inst_close(&sh->excl);
	pause_clients(sh, false);   /* what they send now waits in mcp's queue */
	char how[160];
	run_how(sh->u, how, sizeof(how));
	mcp_server_down(sh->mcp, how);
}

/* --- sessions --- */

static void list_remove(struct share *sh, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		sh->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		sh->tail = s->prev;
	s->prev = s->next = NULL;
}

/* An instance is done with its session: it goes (stopped first if need
 * be; the supervisor frees it once its tree is gone). */
static void drop_instance(struct share_inst *i)
{
	struct unit *u = i->u;
	inst_close(i);
	u->inst = NULL;
	u->share = NULL;
	free(i);
	sup_drop(u->sup, u);
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
	list_remove(sh, s);
	sh->nsessions--;
	loop_io_del(sh->lp, &s->ctl_io);
	loop_io_del(sh->lp, &s->wake_io);
	loop_timer_stop(sh->lp, &s->timer);
	close_fd(&s->ctl);
	close_fd(&s->in);
	close_fd(&s->out);
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
	const char *d = format_duration(sh->u->cfg->queue_timeout_ms, b);
	if (sh->per_client)
		finish(s, ctl_reply_err(1, "service \"%s\": no free instance within "
		       "queue-timeout %s (max-instances %u in use); raise "
		       "max-instances or queue-timeout", svc_name(sh), d,
		       sh->u->cfg->max_instances));
	else
		finish(s, ctl_reply_err(1, "service \"%s\": another client kept it "
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
	if (!unit_wake(i->u, "connect")) {
		if (i->s == s)
			finish(s, ctl_reply_err(1, "service \"%s\" %s; see tend "
			       "status %s", svc_name(sh), i->u->state == US_FAILED
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
	for (struct session *s = sh->head; s; ) {
		struct session *next = s->next;
		if (s->attached) {
			s = next;
			continue;
		}
		if (u->sup->shutting_down || u->removed) {
			finish(s, ctl_reply_err(1, "service \"%s\" is going away (%s)",
			       svc_name(sh), u->removed ? "removed from the file"
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
			if (sh->nattached >= u->cfg->max_instances)
				return;
			char name[96];
			snprintf(name, sizeof(name), "%s#%llu", u->cfg->name, ++sh->next_id);
			struct unit *iu = sup_add_instance(u->sup, u, name);
			struct share_inst *i = xcalloc(1, sizeof(*i));
			i->sh = sh;
			i->u = iu;
			i->in_w = i->out_r = i->child_in = i->child_out = -1;
			iu->share = sh;
			iu->inst = i;
			attach(s, i);
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
	s->ctl = ctl;
	s->in = in;
	s->out = out;
	if (loop_io_add(sh->lp, &s->ctl_io, ctl, EPOLLIN | EPOLLRDHUP, on_ctl, s) < 0) {
		*err = xasprintf("cannot watch the connection (%s)", strerror(errno));
		close(in);
		close(out);
		free(s);
		return -1;
	}
	s->prev = sh->tail;
	if (sh->tail)
		sh->tail->next = s;
	else
		sh->head = s;
	sh->tail = s;
	sh->nsessions++;
	send_line(s, ctl_reply_ok(NULL));
	loop_timer_start(sh->lp, &s->timer, sh->u->cfg->queue_timeout_ms,
	                 on_queue_timeout, s);
	pump_soon(sh);
	return 0;
}

/* --- the programs' runs --- */

static struct share_inst *inst_of(struct share *sh, struct unit *u)
{
	return u == sh->u ? (sh->per_client ? NULL : &sh->excl) : u->inst;
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
	else if (sh->mcp && i == &sh->excl)
		srv_open(sh);
	else if (!i->s)
		drain_start(i);
}

/* stdio = mcp: the server's runs come and go under the multiplexer; its
 * clients stay. */
static void mcp_on_state(struct share *sh, struct unit *u)
{
	struct share_inst *i = &sh->excl;
	if (i->live && u->pid == 0) {
		i->live = false;
		srv_gone(sh);
	} else if (u->state == US_STOPPING && sh->srv_open && i->in_w >= 0) {
		/* A stop closes the server's stdin first. */
		lines_write_stop(&sh->srv_wr);
		close_fd(&i->in_w);
		mcp_server_closing(sh->mcp);
	}
	if (u->state == US_FAILED) {
		char how[160], m[256];
		run_how(u, how, sizeof(how));
		snprintf(m, sizeof(m), "the server has failed (%s); see tend status %s",
		         how, svc_name(sh));
		mcp_server_failed(sh->mcp, m);
	}
}

void share_on_state(struct share *sh, struct unit *u)
{
	if (sh->mcp && u == sh->u) {
		mcp_on_state(sh, u);
		pump_soon(sh);
		return;
	}
	struct share_inst *i = inst_of(sh, u);
	if (i && i->live && u->pid == 0) {
		/* The run's main process is gone: no more input. */
		i->live = false;
		close_fd(&i->in_w);
		struct session *s = i->s;
		if (s && !sh->per_client && u->idling) {
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
		if (u->state == US_RUNNING)
			link_session(i);
		else if (i->s->paused && u->state == US_FAILED)
			gone(i->s, "it failed; see tend status");
		else
			check_run_end(i->s);
	}
	if (u == sh->u)
		pump_soon(sh);
}

void share_unit_gone(struct share *sh, struct unit *u)
{
	struct share_inst *i = u->inst;
	if (!i)
		return;
	struct session *s = i->s;
	inst_close(i);
	u->inst = NULL;
	u->share = NULL;
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
	sh->lp = u->sup->loop;
	sh->mode = mode;
	sh->per_client = mode == STDIO_PER_CLIENT;
	if (mode == STDIO_MCP) {
		static const struct mcp_ops ops = { NULL, mcp_to_client, mcp_to_server,
		                                    mcp_log, mcp_wake, mcp_settled };
		struct mcp_ops o = ops;
		o.ctx = sh;
		sh->mcp = mcp_new(&o, TEND_VERSION);
	}
	sh->excl = (struct share_inst){ .sh = sh, .u = u, .in_w = -1, .out_r = -1,
	                                .child_in = -1, .child_out = -1 };
	return sh;
}

void share_free(struct share *sh, const char *why)
{
	if (!sh)
		return;
	sh->closing = true;
	while (sh->head)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): finish unlinks the client from its share, SH */
		finish(sh->head, ctl_reply_err(1, "service \"%s\": %s", svc_name(sh),
		                               why));
	inst_close(&sh->excl);
	loop_timer_stop(sh->lp, &sh->turn);
	mcp_free(sh->mcp);
	free(sh);
}

enum stdio_mode share_mode(const struct share *sh)
{
	return sh->mode;
}

bool share_busy(const struct share *sh)
{
	return sh->mcp && mcp_in_flight(sh->mcp) > 0;
}

size_t share_in_flight(const struct share *sh)
{
	return sh->mcp ? mcp_in_flight(sh->mcp) : 0;
}

size_t share_clients(const struct share *sh)
{
	return sh->nattached;
}

size_t share_queued(const struct share *sh)
{
	return sh->nsessions - sh->nattached;
}
