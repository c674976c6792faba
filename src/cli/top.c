/* top — tend top (top.h). */
#include "top.h"
#include "client.h"
#include "cmd.h"
#include "ctl.h"
#include "parse.h"
#include "status_view.h"
#include "util.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOP_REFRESH_MS 1000
#define TOP_PENDING 8

static const char usage_top[] =
	"usage: tend [-c FILE] top\n"
	"\n"
	"A live view of the units, refreshed every second: state, pid, uptime,\n"
	"restarts, CPU, memory with a sparkline of the last minutes, clients.\n"
	"Keys: up/down (or k/j) select a unit; s start it (a job: run it),\n"
	"x stop it, r restart it; l or Enter follows its log (tend logs -f\n"
	"NAME; Ctrl-C comes back); q quits.  While it runs the daemon samples\n"
	"the memory of every unit that is up each memory-interval.  Colour\n"
	"unless NO_COLOR is set.  Needs a terminal (scripts: tend status\n"
	"--json).  Exit 3 when no daemon runs.\n";

/* A unit's CPU figure from the last two samples. */
struct cpu_seen {
	char *name;
	uint64_t ticks;
};

struct pending {
	struct client_conn *c;
	char what[96];
};

struct top {
	const char *cfgarg;
	struct client_conn *conn;
	json_t *doc;                 /* the last status reply */
	struct cpu_seen *seen;       /* ticks of each unit at SEEN_AT */
	size_t nseen;
	uint64_t seen_at;
	double *cpu;                 /* per unit of DOC: %, < 0 unknown */
	size_t sel, first;           /* the selected row, the first shown */
	char *sel_name;              /* kept across refreshes */
	bool colour, utf8;
	char msg[256];
	struct pending pend[TOP_PENDING];
	size_t npend;
	long clk_tck;
	int saved_err;               /* stderr, while curses has the screen */
};

static json_t *units_of(const struct top *t)
{
	return json_object_get(t->doc, "units");
}

static const char *jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* --- the figures --- */

static uint64_t seen_ticks(const struct top *t, const char *name, bool *found)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (strcmp(t->seen[i].name, name) == 0) {
			*found = true;
			return t->seen[i].ticks;
		}
	*found = false;
	return 0;
}

/* CPU of each unit of the new reply R since the last one, then R's ticks
 * kept for the next. */
static void take_cpu(struct top *t, json_t *r)
{
	json_t *units = json_object_get(r, "units");
	size_t n = json_array_size(units);
	uint64_t now = mono_ms();
	double secs = t->seen_at ? (double)(now - t->seen_at) / 1000.0 : 0;
	free(t->cpu);
	t->cpu = xcalloc(n + 1, sizeof(*t->cpu));
	struct cpu_seen *seen = xcalloc(n + 1, sizeof(*seen));
	for (size_t i = 0; i < n; i++) {
		json_t *u = json_array_get(units, i);
		uint64_t ticks = (uint64_t)json_integer_value(json_object_get(u, "cpu_ticks"));
		bool found;
		uint64_t before = seen_ticks(t, jstr(u, "name"), &found);
		t->cpu[i] = -1;
		if (found && secs > 0.05 && json_is_integer(json_object_get(u, "pid")))
			t->cpu[i] = ticks >= before ? (double)(ticks - before) * 100.0
			                              / (secs * (double)t->clk_tck) : 0;
		seen[i] = (struct cpu_seen){ .name = xstrdup(jstr(u, "name")),
		                             .ticks = ticks };
	}
	for (size_t i = 0; i < t->nseen; i++)
		free(t->seen[i].name);
	free(t->seen);
	t->seen = seen;
	t->nseen = n;
	t->seen_at = now;
}

/* A status reply, with history: 0, or -1 when the daemon is gone. */
static int fetch(struct top *t)
{
	struct ctl_req req = { .cmd = CTL_STATUS, .version = 2, .history = true };
	json_t *r = client_ask(t->conn, &req);
	if (!r)
		return -1;
	if (!json_is_true(json_object_get(r, "ok"))) {
		snprintf(t->msg, sizeof(t->msg), "status: %s", jstr(r, "error"));
		json_decref(r);
		return 0;
	}
	take_cpu(t, r);
	json_decref(t->doc);
	t->doc = r;
	/* the selection stays on its unit */
	json_t *units = units_of(t);
	size_t n = json_array_size(units);
	for (size_t i = 0; t->sel_name && i < n; i++)
		if (strcmp(jstr(json_array_get(units, i), "name"), t->sel_name) == 0)
			t->sel = i;
	if (t->sel >= n)
		t->sel = n ? n - 1 : 0;
	if (!t->sel_name && n)
		t->sel_name = xstrdup(jstr(json_array_get(units, t->sel), "name"));
	return 0;
}

/* --- drawing --- */

enum { K_NAME, K_STATE, K_PID, K_UPTIME, K_RESTARTS, K_CPU, K_MEM, K_CLIENTS,
       K_HIST, NK };

static const struct { const char *head; int w; bool right; } kcol[NK] = {
	[K_NAME] = { "NAME", 0, false }, [K_STATE] = { "STATE", 8, false },
	[K_PID] = { "PID", 7, true }, [K_UPTIME] = { "UPTIME", 7, true },
	[K_RESTARTS] = { "RESTARTS", 8, true }, [K_CPU] = { "CPU%", 6, true },
	[K_MEM] = { "MEM", 9, true }, [K_CLIENTS] = { "CLIENTS", 7, true },
	[K_HIST] = { "MEMORY (last minutes)", 0, false },
};

/* Dropped, in this order, when the terminal is too narrow. */
static const int kdrop[] = { K_CLIENTS, K_RESTARTS, K_PID, K_UPTIME, K_HIST };
#define HIST_MIN 8
#define TNAME_MAX 24
#define TNAME_MIN 8

struct tlayout {
	bool show[NK];
	int w[NK];
};

static int tl_total(const struct tlayout *l)
{
	int t = 2, n = 0;   /* the mark of the selected row */
	for (int c = 0; c < NK; c++)
		if (l->show[c]) {
			t += l->w[c];
			n++;
		}
	return t + (n ? 2 * (n - 1) : 0);
}

static void tl_fit(struct tlayout *l, json_t *units, int width)
{
	int nw = 4;
	size_t i;
	json_t *u;
	json_array_foreach(units, i, u) {
		int w = (int)text_cols(jstr(u, "name"));
		nw = w > nw ? w : nw;
	}
	for (int c = 0; c < NK; c++) {
		l->show[c] = true;
		l->w[c] = kcol[c].w;
	}
	l->w[K_NAME] = nw > TNAME_MAX ? TNAME_MAX : nw;
	l->w[K_HIST] = HIST_MIN;
	for (size_t k = 0; k < ARRAY_LEN(kdrop) && tl_total(l) > width; k++)
		l->show[kdrop[k]] = false;
	if (tl_total(l) > width) {
		int nm = l->w[K_NAME] - (tl_total(l) - width);
		l->w[K_NAME] = nm < TNAME_MIN ? TNAME_MIN : nm;
	}
	if (l->show[K_HIST]) {
		int rest = width - tl_total(l) + HIST_MIN;
		l->w[K_HIST] = rest > 60 ? 60 : rest;
	}
}

/* The sparkline of HIST (bytes, oldest first) in W cells: each the
 * largest sample of its share, scaled to the largest of all (malloc'd). */
static char *sparkline(json_t *hist, int w, bool utf8)
{
	static const char *const bars[] = { "\u2581", "\u2582", "\u2583", "\u2584",
	                                    "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "_.-:=+*#";
	size_t n = json_array_size(hist);
	struct buf b = { 0 };
	if (!n || w <= 0) {
		buf_add(&b, "", 1);
		return b.s;
	}
	size_t cells = n < (size_t)w ? n : (size_t)w;
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = (uint64_t)json_integer_value(json_array_get(hist, i));
		max = v > max ? v : max;
	}
	for (size_t c = 0; c < cells; c++) {
		size_t from = c * n / cells, to = (c + 1) * n / cells;
		uint64_t v = 0;
		for (size_t i = from; i < to; i++) {
			uint64_t x = (uint64_t)json_integer_value(json_array_get(hist, i));
			v = x > v ? x : v;
		}
		if (!v || !max) {
			buf_add(&b, " ", 1);
			continue;
		}
		size_t level = (size_t)(v * 7 / max);
		if (utf8)
			buf_add(&b, bars[level], strlen(bars[level]));
		else
			buf_add(&b, &ascii[level], 1);
	}
	buf_add(&b, "", 1);
	return b.s;
}

/* The cells of unit U (index I) into CELL (malloc'd each). */
static void unit_cells(const struct top *t, json_t *u, size_t i, int hist_w,
                       char *cell[NK])
{
	json_t *pid = json_object_get(u, "pid"), *up = json_object_get(u, "uptime_ms");
	json_t *cl = json_object_get(u, "clients");
	char b[32];
	cell[K_NAME] = xstrdup(jstr(u, "name"));
	cell[K_STATE] = xstrdup(status_state_shown(u));
	cell[K_PID] = json_is_integer(pid) ? xasprintf("%lld",
	              (long long)json_integer_value(pid)) : xstrdup("-");
	cell[K_UPTIME] = xstrdup(json_is_integer(up) ? status_age((uint64_t)
	                 json_integer_value(up), b) : "-");
	cell[K_RESTARTS] = xasprintf("%lld", (long long)json_integer_value(
	                             json_object_get(u, "restarts")));
	cell[K_CPU] = t->cpu && t->cpu[i] >= 0 ? xasprintf("%.1f", t->cpu[i])
	                                       : xstrdup("-");
	cell[K_MEM] = json_integer_value(json_object_get(u, "procs")) > 0
	              ? xstrdup(format_size_approx((uint64_t)json_integer_value(
	                        json_object_get(u, "mem_bytes")), b)) : xstrdup("-");
	cell[K_CLIENTS] = json_is_integer(cl) ? xasprintf("%lld",
	                  (long long)json_integer_value(cl)) : xstrdup("-");
	cell[K_HIST] = sparkline(json_object_get(u, "mem_history"), hist_w, t->utf8);
}

enum { P_RUN = 1, P_WARN, P_BAD };

static int state_pair(const char *st)
{
	if (strcmp(st, "running") == 0)
		return P_RUN;
	if (strcmp(st, "failed") == 0)
		return P_BAD;
	if (strcmp(st, "stopped") == 0 || strcmp(st, "idle") == 0)
		return 0;
	return P_WARN;
}

/* One row at Y: MARK, then the cells as L lays them out; the state in
 * colour when there is colour, the whole row reversed when SEL. */
static void draw_row(const struct top *t, int y, const struct tlayout *l,
                     char *const cell[NK], bool sel, bool head)
{
	int width = COLS, x = 2;
	if (t->colour && (sel || head))
		attron(sel ? A_REVERSE : A_BOLD);
	mvhline(y, 0, ' ', width);
	mvaddstr(y, 0, sel ? ">" : " ");
	for (int c = 0; c < NK && x < width; c++) {
		if (!l->show[c])
			continue;
		char *v = text_cut(cell[c], (size_t)l->w[c]);
		int pad = l->w[c] - (int)text_cols(v);
		int at = x + (kcol[c].right ? pad : 0);
		int pair = !head && c == K_STATE && t->colour ? state_pair(cell[c]) : 0;
		if (pair)
			attron(COLOR_PAIR(pair));
		if (at < width)
			mvaddnstr(y, at, v, -1);
		if (pair)
			attroff(COLOR_PAIR(pair));
		free(v);
		x += l->w[c] + 2;
	}
	if (t->colour && (sel || head))
		attroff(sel ? A_REVERSE : A_BOLD);
}

/* A line of text at Y, cut to the width. */
static void draw_text(int y, const char *s)
{
	char *c = text_cut(s, (size_t)COLS);
	mvaddstr(y, 0, c);
	free(c);
}

static void draw(struct top *t)
{
	erase();
	int h = LINES;
	json_t *d = json_object_get(t->doc, "daemon"), *units = units_of(t);
	size_t n = json_array_size(units);
	char ub[32], mb[32];
	char *top = xasprintf("tend top: %s  daemon pid %lld, up %s, memory %s; "
	                      "%zu units", jstr(d, "config"),
	                      (long long)json_integer_value(json_object_get(d, "pid")),
	                      status_age((uint64_t)json_integer_value(
	                                 json_object_get(d, "uptime_ms")), ub),
	                      format_size_approx((uint64_t)json_integer_value(
	                                 json_object_get(d, "mem_bytes")), mb), n);
	draw_text(0, top);
	free(top);
	struct tlayout l;
	tl_fit(&l, units, COLS);
	char *head[NK];
	for (int c = 0; c < NK; c++)
		head[c] = (char *)kcol[c].head;
	draw_row(t, 1, &l, head, false, true);
	int rows = h - 4;   /* the top line, the heads, the message, the keys */
	if (rows < 1)
		rows = 1;
	if (t->sel < t->first)
		t->first = t->sel;
	if (t->sel >= t->first + (size_t)rows)
		t->first = t->sel - (size_t)rows + 1;
	for (size_t i = t->first; i < n && (int)(i - t->first) < rows; i++) {
		char *cell[NK];
		unit_cells(t, json_array_get(units, i), i, l.w[K_HIST], cell);
		draw_row(t, 2 + (int)(i - t->first), &l, cell, i == t->sel, false);
		for (int c = 0; c < NK; c++)
			free(cell[c]);
	}
	if (h >= 4) {
		draw_text(h - 2, t->msg);
		draw_text(h - 1, "up/down select  s start  x stop  r restart  "
		          "l logs  q quit");
	}
	refresh();
}

/* --- acting --- */

static const char *selected(const struct top *t)
{
	json_t *u = json_array_get(units_of(t), t->sel);
	return u ? jstr(u, "name") : NULL;
}

/* Sends CMD for the selected unit on a connection of its own; the answer
 * comes to the message line. */
static void act(struct top *t, enum ctl_cmd cmd)
{
	const char *name = selected(t);
	json_t *u = json_array_get(units_of(t), t->sel);
	if (!name)
		return;
	bool job = strcmp(jstr(u, "kind"), "job") == 0;
	if (job && cmd == CTL_START)
		cmd = CTL_RUN;
	if (job && cmd == CTL_RESTART) {
		snprintf(t->msg, sizeof(t->msg), "%s is a job: s runs it", name);
		return;
	}
	if (t->npend == TOP_PENDING) {
		snprintf(t->msg, sizeof(t->msg), "%zu requests wait for answers "
		         "already", t->npend);
		return;
	}
	int code;
	struct client_conn *c = client_open(t->cfgarg, &code);
	struct ctl_req req = { .cmd = cmd, .name = (char *)name };
	if (!c || client_send(c, &req) < 0) {
		snprintf(t->msg, sizeof(t->msg), "%s %s: cannot reach the daemon",
		         ctl_cmd_name(cmd), name);
		client_close(c);
		return;
	}
	struct pending *p = &t->pend[t->npend++];
	p->c = c;
	snprintf(p->what, sizeof(p->what), "%s %s", ctl_cmd_name(cmd), name);
	snprintf(t->msg, sizeof(t->msg), "%s ...", p->what);
}

/* The answer of pending request I has come. */
static void answered(struct top *t, size_t i)
{
	struct pending *p = &t->pend[i];
	json_t *r = client_recv(p->c);
	if (!r)
		snprintf(t->msg, sizeof(t->msg), "%s: the daemon closed the "
		         "connection", p->what);
	else if (json_is_true(json_object_get(r, "ok")))
		snprintf(t->msg, sizeof(t->msg), "%s: done", p->what);
	else
		snprintf(t->msg, sizeof(t->msg), "%s: %s", p->what, jstr(r, "error"));
	json_decref(r);
	client_close(p->c);
	t->pend[i] = t->pend[--t->npend];
}

/* stderr to /dev/null while curses has the screen (ON), back (off). */
static void quiet_stderr(struct top *t, bool on)
{
	if (on) {
		t->saved_err = dup(2);
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, 2);
			close(nul);
		}
	} else if (t->saved_err >= 0) {
		dup2(t->saved_err, 2);
		close(t->saved_err);
		t->saved_err = -1;
	}
}

/* tend logs -f NAME in this terminal until it ends (Ctrl-C), then back. */
static void follow_log(struct top *t)
{
	const char *name = selected(t);
	if (!name)
		return;
	char *nm = xstrdup(name);
	def_prog_mode();
	endwin();
	quiet_stderr(t, false);
	printf("tend top: the log of %s (tend logs -f %s); Ctrl-C comes back\n",
	       nm, nm);
	fflush(stdout);
	struct sigaction ign = { .sa_handler = SIG_IGN }, oint, oquit;
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	char *tend = exe_sibling("tend");   /* this is tend-top (top_main.c) */
	pid_t pid = tend ? fork() : -1;
	if (pid == 0) {
		(void)signal(SIGINT, SIG_DFL);   /* cannot fail for these */
		(void)signal(SIGQUIT, SIG_DFL);
		char *argv[8];
		int k = 0;
		argv[k++] = "tend";
		if (t->cfgarg) {
			argv[k++] = "-c";
			argv[k++] = (char *)t->cfgarg;
		}
		argv[k++] = "logs";
		argv[k++] = "-f";
		argv[k++] = nm;
		argv[k] = NULL;
		execv(tend, argv);
		_exit(127);
	}
	free(tend);
	int st;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGQUIT, &oquit, NULL);
	snprintf(t->msg, sizeof(t->msg), pid < 0 ? "cannot start tend logs: %s"
	         : "back from the log of %s", pid < 0 ? strerror(errno) : nm);
	free(nm);
	quiet_stderr(t, true);
	reset_prog_mode();
	clear();
}

/* Handles key CH: false to quit. */
static bool key(struct top *t, int ch)
{
	size_t n = json_array_size(units_of(t));
	switch (ch) {
	case 'q': case 'Q':
		return false;
	case KEY_UP: case 'k':
		if (t->sel > 0)
			t->sel--;
		break;
	case KEY_DOWN: case 'j':
		if (t->sel + 1 < n)
			t->sel++;
		break;
	case 's':
		act(t, CTL_START);
		break;
	case 'x':
		act(t, CTL_STOP);
		break;
	case 'r':
		act(t, CTL_RESTART);
		break;
	case 'l': case '\n': case KEY_ENTER:
		follow_log(t);
		break;
	default:   /* KEY_RESIZE among others: drawn again */
		break;
	}
	free(t->sel_name);
	t->sel_name = selected(t) ? xstrdup(selected(t)) : NULL;
	return true;
}

static void screen_start(struct top *t)
{
	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	const char *nc = getenv("NO_COLOR");
	t->colour = has_colors() && !(nc && *nc);
	if (t->colour) {
		start_color();
		use_default_colors();
		init_pair(P_RUN, COLOR_GREEN, -1);
		init_pair(P_WARN, COLOR_YELLOW, -1);
		init_pair(P_BAD, COLOR_RED, -1);
	}
}

/* The loop: a status each second, keys, answers of actions.  Returns the
 * exit code. */
static int run(struct top *t)
{
	uint64_t next = 0;
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= next) {
			if (fetch(t) < 0)
				return 3;
			next = now + TOP_REFRESH_MS;
			draw(t);
		}
		struct pollfd pf[1 + TOP_PENDING] = { { .fd = 0, .events = POLLIN } };
		for (size_t i = 0; i < t->npend; i++)
			pf[1 + i] = (struct pollfd){ .fd = client_conn_fd(t->pend[i].c),
			                             .events = POLLIN };
		int r = poll(pf, 1 + t->npend, (int)(next - now));
		if (r < 0 && errno != EINTR)
			return 1;
		bool redraw = r < 0;   /* a signal: SIGWINCH, KEY_RESIZE comes */
		for (size_t i = t->npend; i-- > 0;)
			if (r > 0 && pf[1 + i].revents) {
				answered(t, i);
				next = 0;   /* the change, at once */
			}
		int ch;
		while ((ch = getch()) != ERR) {
			if (!key(t, ch))
				return 0;
			redraw = true;
		}
		if (redraw && next)
			draw(t);
	}
}

int top_command(const char *cfgarg, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_top, stdout);
			return 0;
		}
		errline("top: unexpected argument \"%s\"; see tend top --help", argv[i]);
		return 2;
	}
	if (!isatty(0) || !isatty(1)) {
		errline("top needs a terminal; for scripts: tend status --json");
		return 2;
	}
	(void)setlocale(LC_ALL, "");   /* the C locale stays if it fails */
	int code;
	struct top t = { .cfgarg = cfgarg, .saved_err = -1,
	                 .clk_tck = sysconf(_SC_CLK_TCK) };
	if (t.clk_tck <= 0)
		t.clk_tck = 100;
	const char *cs = getenv("LC_ALL");
	cs = cs && *cs ? cs : getenv("LC_CTYPE");
	cs = cs && *cs ? cs : getenv("LANG");
	t.utf8 = cs && (strcasestr(cs, "utf-8") || strcasestr(cs, "utf8"));
	t.conn = client_open(cfgarg, &code);
	if (!t.conn)
		return code;
	(void)signal(SIGPIPE, SIG_IGN);   /* cannot fail for SIGPIPE */
	screen_start(&t);
	quiet_stderr(&t, true);
	code = run(&t);
	endwin();
	quiet_stderr(&t, false);
	if (code == 3)
		errline("the daemon of %s went away", client_conn_config(t.conn));
	for (size_t i = 0; i < t.npend; i++)
		client_close(t.pend[i].c);
	client_close(t.conn);
	json_decref(t.doc);
	for (size_t i = 0; i < t.nseen; i++)
		free(t.seen[i].name);
	free(t.seen);
	free(t.cpu);
	free(t.sel_name);
	return code;
}
