/* status_view — tend status's table and --json shapes (status_view.h). */
#include "status_view.h"
#include "cmd.h"
#include "parse.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* --- pieces --- */

bool status_colour(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(1) && !(nc && *nc);
}

size_t status_width(void)
{
	const char *c = getenv("COLUMNS");
	if (c && *c) {
		char *end;
		long v = strtol(c, &end, 10);
		if (!*end && v > 0 && v < 100000)
			return (size_t)v;
	}
	struct winsize ws;
	if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

const char *status_age(uint64_t ms, char b[32])
{
	unsigned long long s = ms / 1000;
	if (s < 60)
		snprintf(b, 32, "%llus", s);
	else if (s < 3600)
		snprintf(b, 32, "%llum%llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(b, 32, "%lluh%llum", s / 3600, s % 3600 / 60);
	else
		snprintf(b, 32, "%llud%lluh", s / 86400, s % 86400 / 3600);
	return b;
}

/* Is the locale's character set UTF-8 (as the environment says)? */
static bool utf8_locale(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };
	for (size_t i = 0; i < ARRAY_LEN(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

size_t text_cols(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

char *text_cut(const char *s, size_t cols)
{
	if (text_cols(s) <= cols)
		return xstrdup(s);
	bool u = utf8_locale();
	const char *ell = u ? "\u2026" : "...";
	size_t ell_cols = u ? 1 : 3;
	if (cols < ell_cols)
		return xasprintf("%.*s", (int)cols, ell);
	size_t keep = cols - ell_cols, n = 0, i = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == keep)
			break;
	}
	return xasprintf("%.*s%s", (int)i, s, ell);
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

const char *status_state_shown(json_t *u)
{
	const char *r = str(u, "reason");
	if (strcmp(r, "no-fds") == 0 || strcmp(r, "no-resources") == 0)
		return "waiting";
	return str(u, "state");
}

/* How long ago the last exit was ("3m"), into B; NULL without one. */
static const char *exit_age(json_t *u, char b[32])
{
	json_t *le = json_object_get(u, "last_exit");
	if (!json_is_object(le))
		return NULL;
	uint64_t at = (uint64_t)json_integer_value(json_object_get(le, "at"));
	uint64_t now = wall_ms();
	return status_age(now > at ? now - at : 0, b);
}

static char *last_exit_text(json_t *u)
{
	json_t *le = json_object_get(u, "last_exit");
	if (!json_is_object(le))
		return xstrdup("-");
	const char *reason = str(le, "reason");
	const char *sig = json_string_value(json_object_get(le, "signal"));
	const char *err = json_string_value(json_object_get(le, "error"));
	char b[32];
	exit_age(u, b);
	if (err)
		return xasprintf("%s: %s, %s ago", reason, err, b);
	if (sig)
		return xasprintf("%s (SIG%s), %s ago", reason, sig, b);
	return xasprintf("%s (code %lld), %s ago", reason,
	                 (long long)json_integer_value(json_object_get(le, "code")), b);
}

char *status_why_text(json_t *u)
{
	const char *text = json_string_value(json_object_get(u, "reason_text"));
	if (!text)
		return last_exit_text(u);
	const char *r = str(u, "reason");
	char b[32];
	/* an age where the moment matters: when it went down */
	bool plain = strcmp(r, "idle") == 0 || strcmp(r, "stopped") == 0;
	if ((plain || strcmp(r, "exited") == 0 || strcmp(r, "gave-up") == 0 ||
	     strcmp(r, "failed") == 0) && exit_age(u, b))
		return xasprintf("%s%s %s ago", text, plain ? "" : ",", b);
	return xstrdup(text);
}

/* --- the table --- */

enum { C_NAME, C_KIND, C_STATE, C_PID, C_UPTIME, C_RESTARTS, C_PROCS, C_MEM,
       C_CLIENTS, C_WHY, NCOLS };

static const struct {
	const char *head;
	bool right;        /* numbers: right-aligned */
} cols[NCOLS] = {
	[C_NAME] = { "NAME", false }, [C_KIND] = { "KIND", false },
	[C_STATE] = { "STATE", false }, [C_PID] = { "PID", true },
	[C_UPTIME] = { "UPTIME", true }, [C_RESTARTS] = { "RESTARTS", true },
	[C_PROCS] = { "PROCS", true }, [C_MEM] = { "MEM", true },
	[C_CLIENTS] = { "CLIENTS", true }, [C_WHY] = { "WHY / LAST EXIT", false },
};

/* When the table is wider than the terminal: the columns dropped first,
 * then names cut to NAME_CUT, then the columns dropped next, then names
 * cut to NAME_MIN; the WHY column counts at WHY_MIN meanwhile and takes
 * what is left. */
static const int drop_first[] = { C_PROCS, C_KIND };
static const int drop_next[] = { C_RESTARTS, C_CLIENTS, C_PID, C_UPTIME };
#define NAME_CUT 24
#define NAME_MIN 8
#define WHY_MIN 16

struct row {
	char *cell[NCOLS];
	const char *state;   /* for its colour */
	char **detail;       /* lines under the row */
	size_t ndetail;
};

static void add_detail(struct row *r, char *line)
{
	r->detail = xrealloc(r->detail, (r->ndetail + 1) * sizeof(*r->detail));
	r->detail[r->ndetail++] = line;
}

/* "3 connected, 1 queued" for services that serve clients, when there
 * are any (*ANY); NULL for those that serve none. */
static char *clients_text(json_t *u, bool *any)
{
	static const struct { const char *key, *what; } parts[] = {
		{ "clients", "connected" }, { "held", "held until ready" },
		{ "queued", "queued" }, { "in_flight", "requests in flight (mcp)" },
	};
	char line[256] = "";
	size_t n = 0;
	*any = false;
	bool some = false;
	for (size_t k = 0; k < ARRAY_LEN(parts) && n < sizeof(line); k++) {
		json_t *v = json_object_get(u, parts[k].key);
		if (!json_is_integer(v))
			continue;
		some = true;
		*any = *any || json_integer_value(v) > 0;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%lld %s",
		                      n ? ", " : "", (long long)json_integer_value(v),
		                      parts[k].what);
	}
	return some ? xstrdup(line) : NULL;
}

/* The lines under a unit's row: where it listens, its next run, its
 * status text, command, clients and a failing health check. */
static void unit_details(json_t *u, struct row *r)
{
	size_t i;
	json_t *a, *v;
	char b[32], c[32];
	if (json_array_size(a = json_object_get(u, "listen"))) {
		char *l = xstrdup("listen:");
		json_array_foreach(a, i, v) {
			char *m = xasprintf("%s%s %s", l, i ? "," : "", json_string_value(v));
			free(l);
			l = m;
		}
		add_detail(r, l);
	}
	if (json_is_integer(v = json_object_get(u, "next_run_in_ms")))
		add_detail(r, xasprintf("next run: in %s (every %s)",
		           status_age((uint64_t)json_integer_value(v) + 999, b),
		           format_duration((uint64_t)json_integer_value(
		                   json_object_get(u, "every_ms")), c)));
	const char *text = json_string_value(json_object_get(u, "status_text"));
	if (text)
		add_detail(r, xasprintf("status: %s", text));
	const char *cmd = json_string_value(json_object_get(u, "command"));
	if (cmd)
		add_detail(r, xasprintf("command: %s (tend connect, in %s)", cmd,
		                        str(u, "cwd")));
	bool any;
	char *cl = clients_text(u, &any);
	if (cl && any)
		add_detail(r, xasprintf("clients: %s", cl));
	free(cl);
	/* stdio = mcp: each client, by pid, program and directory */
	json_array_foreach(json_object_get(u, "sessions"), i, v) {
		json_t *pid = json_object_get(v, "pid");
		const char *proto = json_string_value(json_object_get(v, "protocol"));
		const char *inst = json_string_value(json_object_get(v, "instance"));
		bool other = inst && strcmp(inst, str(u, "name")) != 0;
		char pids[24] = "?";
		if (json_is_integer(pid))
			snprintf(pids, sizeof(pids), "%lld", (long long)json_integer_value(pid));
		const char *prog = json_string_value(json_object_get(v, "program"));
		const char *cwd = json_string_value(json_object_get(v, "cwd"));
		const char *http = json_string_value(json_object_get(v, "http"));
		if (http) {   /* an HTTP session: its id's start, no process */
			add_detail(r, xasprintf("client http session %s%s%s%s%s%s", http,
			           proto ? " (" : "", proto ? proto : "", other ? ", " : "",
			           other ? inst : "", proto ? ")" : ""));
			continue;
		}
		add_detail(r, xasprintf("client %s %s in %s%s%s%s%s%s", pids,
		           prog ? prog : "?", cwd ? cwd : "?", proto ? " (" : "",
		           proto ? proto : "", other ? ", " : "", other ? inst : "",
		           proto ? ")" : ""));
	}
	json_t *h = json_object_get(u, "health");
	if (json_is_object(h) && !json_is_true(json_object_get(h, "ok")))
		add_detail(r, xasprintf("health: failing (%lld in a row): %s",
		           (long long)json_integer_value(json_object_get(h, "strikes")),
		           str(h, "detail")));
}

static void unit_row(json_t *u, struct row *r)
{
	json_t *pid = json_object_get(u, "pid"), *up = json_object_get(u, "uptime_ms");
	char b[80] = "-", lb[32];
	r->state = status_state_shown(u);
	r->cell[C_NAME] = xstrdup(str(u, "name"));
	r->cell[C_KIND] = xstrdup(str(u, "kind"));
	r->cell[C_STATE] = xstrdup(r->state);
	r->cell[C_PID] = json_is_integer(pid) ? xasprintf("%lld",
	                 (long long)json_integer_value(pid)) : xstrdup("-");
	r->cell[C_UPTIME] = xstrdup(json_is_integer(up) ? status_age((uint64_t)
	                    json_integer_value(up), lb) : "-");
	r->cell[C_RESTARTS] = xasprintf("%lld", (long long)json_integer_value(
	                                json_object_get(u, "restarts")));
	long long procs = json_integer_value(json_object_get(u, "procs"));
	r->cell[C_PROCS] = xasprintf("%lld", procs);
	if (procs > 0)
		format_size_approx((uint64_t)json_integer_value(
		                   json_object_get(u, "mem_bytes")), b);
	json_t *max = json_object_get(u, "mem_max");
	if (json_is_integer(max)) {
		/* "120M/300M": the figure against its limit */
		size_t l = strlen(b);
		snprintf(b + l, sizeof(b) - l, "/%s",
		         format_size_approx((uint64_t)json_integer_value(max), lb));
	}
	r->cell[C_MEM] = xstrdup(b);
	json_t *cl = json_object_get(u, "clients");
	r->cell[C_CLIENTS] = json_is_integer(cl) ? xasprintf("%lld",
	                     (long long)json_integer_value(cl)) : xstrdup("-");
	r->cell[C_WHY] = status_why_text(u);
	unit_details(u, r);
}

/* Which columns show, and how wide, for rows R[0..N) in WIDTH (0: any). */
struct layout {
	bool show[NCOLS];
	size_t w[NCOLS];
	size_t indent;       /* of the detail lines */
};

static size_t layout_total(const struct layout *l)
{
	size_t t = 0, n = 0;
	for (int c = 0; c < NCOLS; c++)
		if (l->show[c]) {
			t += l->w[c];
			n++;
		}
	return t + (n ? 2 * (n - 1) : 0);
}

/* The NAME column made narrower, to LEAST at most, while the table is
 * wider than WIDTH. */
static void name_shrink(struct layout *l, size_t width, size_t least)
{
	size_t total = layout_total(l);
	if (total <= width || l->w[C_NAME] <= least)
		return;
	size_t over = total - width;
	l->w[C_NAME] = l->w[C_NAME] - least < over ? least : l->w[C_NAME] - over;
}

static void layout_fit(struct layout *l, const struct row *r, size_t n,
                       size_t width)
{
	for (int c = 0; c < NCOLS; c++) {
		l->show[c] = true;
		l->w[c] = text_cols(cols[c].head);
		for (size_t i = 0; i < n; i++)
			if (text_cols(r[i].cell[c]) > l->w[c])
				l->w[c] = text_cols(r[i].cell[c]);
	}
	l->indent = l->w[C_NAME] + 2;
	if (!width)
		return;
	/* the WHY column counts at its least while columns are dropped */
	size_t why = l->w[C_WHY];
	if (l->w[C_WHY] > WHY_MIN)
		l->w[C_WHY] = WHY_MIN;
	for (size_t k = 0; k < ARRAY_LEN(drop_first) && layout_total(l) > width; k++)
		l->show[drop_first[k]] = false;
	name_shrink(l, width, NAME_CUT);
	for (size_t k = 0; k < ARRAY_LEN(drop_next) && layout_total(l) > width; k++)
		l->show[drop_next[k]] = false;
	name_shrink(l, width, NAME_MIN);
	size_t rest = layout_total(l) - l->w[C_WHY];
	l->w[C_WHY] = width > rest + WHY_MIN ? width - rest : WHY_MIN;
	if (l->w[C_WHY] > why)
		l->w[C_WHY] = why;
	l->indent = l->w[C_NAME] + 2 > width / 3 ? 4 : l->w[C_NAME] + 2;
}

/* One line of the table: the cells, each cut to its column; the state in
 * colour (COL) when it is whole on the line; the line cut to WIDTH. */
static void print_line(char *const *cell, const char *state,
                       const struct layout *l, size_t width, bool col)
{
	char *line = xstrdup("");
	size_t state_at = 0, state_len = 0;
	bool first = true;
	for (int c = 0; c < NCOLS; c++) {
		if (!l->show[c])
			continue;
		char *v = text_cut(cell[c], l->w[c]);
		size_t pad = l->w[c] - text_cols(v);
		if (c == C_STATE) {
			state_at = strlen(line) + (first ? 0 : 2);
			state_len = strlen(v);
		}
		char *m = c == NCOLS - 1 && !cols[c].right
		          ? xasprintf("%s%s%s", line, first ? "" : "  ", v)
		          : xasprintf("%s%s%*s%s%*s", line, first ? "" : "  ",
		                      cols[c].right ? (int)pad : 0, "", v,
		                      cols[c].right ? 0 : (int)pad, "");
		free(line);
		free(v);
		line = m;
		first = false;
	}
	char *cut = width ? text_cut(line, width) : xstrdup(line);
	const char *on = !col || !state ? "" : strcmp(state, "running") == 0
	                 ? "\033[32m" : strcmp(state, "failed") == 0 ? "\033[31m"
	                 : strcmp(state, "backoff") == 0 || strcmp(state, "starting") == 0
	                 || strcmp(state, "stopping") == 0 || strcmp(state, "waiting") == 0
	                 ? "\033[33m" : "";
	if (*on && state_len && strncmp(cut, line, state_at + state_len) == 0 &&
	    strlen(cut) >= state_at + state_len)
		printf("%.*s%s%.*s\033[0m%s\n", (int)state_at, cut, on, (int)state_len,
		       cut + state_at, cut + state_at + state_len);
	else
		printf("%s\n", cut);
	free(cut);
	free(line);
}

/* A line of text, cut to WIDTH (0: whole). */
static void print_cut(size_t width, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void print_cut(size_t width, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	char *cut = width ? text_cut(s, width) : xstrdup(s);
	printf("%s\n", cut);
	free(cut);
	free(s);
}

/* The daemon's own lines under the table. */
static void print_daemon(json_t *daemon, size_t width)
{
	char ub[32], mb[32];
	bool file = !json_is_false(json_object_get(daemon, "file"));
	printf("\n");
	print_cut(width, "%sdaemon pid %lld, up %s, memory %s (anon+shmem), %lld "
	          "fds, %lld wakeups; %s%s",
	          json_is_true(json_object_get(daemon, "default")) ? "default " : "",
	          (long long)json_integer_value(json_object_get(daemon, "pid")),
	          status_age((uint64_t)json_integer_value(json_object_get(daemon,
	                     "uptime_ms")), ub),
	          format_size_approx((uint64_t)json_integer_value(json_object_get(
	                             daemon, "mem_bytes")), mb),
	          (long long)json_integer_value(json_object_get(daemon, "fds")),
	          (long long)json_integer_value(json_object_get(daemon, "wakeups")),
	          str(daemon, "config"), file ? "" : " (no such file: an empty "
	          "configuration)");
	const char *cg = json_string_value(json_object_get(daemon, "cgroup"));
	const char *why = json_string_value(json_object_get(daemon, "cgroup_why"));
	json_t *k = json_object_get(daemon, "keeper");
	if (json_is_object(k)) {
		const char *nwhy = json_string_value(json_object_get(k, "pidns_why"));
		bool say = nwhy && strcmp(nwhy, "pid-namespace = no") != 0;
		print_cut(width, "keeper pid %lld, memory %s (anon+shmem): the parent "
		          "of every run%s%s%s",
		          (long long)json_integer_value(json_object_get(k, "pid")),
		          format_size_approx((uint64_t)json_integer_value(
		                  json_object_get(k, "mem_bytes")), mb),
		          json_is_true(json_object_get(k, "pidns"))
		          ? ", in a pid namespace of their own" : "",
		          say ? ", no pid namespace: " : "", say ? nwhy : "");
	}
	if (cg)
		print_cut(width, "containment: a cgroup per run, in %s", cg);
	else if (why)
		print_cut(width, "containment: sessions and run ids, no cgroup (%s)", why);
}

static void print_table(json_t *daemon, json_t *units)
{
	size_t n = json_array_size(units), width = status_width();
	struct row *rows = xcalloc(n + 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++)
		unit_row(json_array_get(units, i), &rows[i]);
	struct layout l;
	layout_fit(&l, rows, n, width);
	char *head[NCOLS];
	for (int c = 0; c < NCOLS; c++)
		head[c] = (char *)cols[c].head;
	print_line(head, NULL, &l, width, false);
	bool col = status_colour();
	for (size_t i = 0; i < n; i++) {
		print_line(rows[i].cell, rows[i].state, &l, width, col);
		for (size_t k = 0; k < rows[i].ndetail; k++) {
			print_cut(width, "%*s%s", (int)l.indent, "", rows[i].detail[k]);
			free(rows[i].detail[k]);
		}
		free(rows[i].detail);
		for (int c = 0; c < NCOLS; c++)
			free(rows[i].cell[c]);
	}
	free(rows);
	if (daemon)
		print_daemon(daemon, width);
}

/* --- the reply --- */

void status_show(json_t *reply, unsigned json_flags, bool named)
{
	json_t *daemon = json_object_get(reply, "daemon");
	json_t *units = json_object_get(reply, "units");
	if (!json_flags) {
		print_table(named ? NULL : daemon, units);   /* NAME: it alone */
		return;
	}
	json_t *out;
	if (json_flags & CMD_JSON1) {
		/* the old shape, deprecated: the daemon first, unless NAME */
		out = json_array();
		if (daemon && !named)
			json_array_append(out, daemon);
		json_array_extend(out, units);
	} else {
		out = json_pack("{s:O, s:O, s:O}", "version", json_object_get(reply,
		                "version"), "daemon", daemon, "units", units);
	}
	char *s = json_dumps(out, JSON_INDENT(2));
	printf("%s\n", s ? s : "[]");
	free(s);
	json_decref(out);
}


/* --- tend status --json without parsing --- */

static void indent(struct buf *out, int depth)
{
	buf_addc(out, '\n');
	for (int i = 0; i < depth; i++)
		buf_add(out, "  ", 2);
}

/* The string at S (at its '"'), up to END, in the forms jansson writes
 * (so that it prints back the same): bytes from 0x20 on but '"' and '\'
 * as they are, UTF-8 valid; escapes \" \\ \b \f \n \r \t, and \u00XX
 * (upper-case hex) below 0x20.  Its length with the quotes, or 0 when it
 * is not such a string. */
static size_t string_len(const char *s, const char *end)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s + 1;
	const unsigned char *e = (const unsigned char *)end;
	while (p < e && *p != '"') {
		unsigned c = *p;
		if (c == '\\') {
			if (e - p < 2)
				return 0;
			if (strchr("\"\\bfnrt", p[1]) && p[1]) {
				p += 2;
				continue;
			}
			if (e - p < 6 || p[1] != 'u' || p[2] != '0' || p[3] != '0' ||
			    (p[4] != '0' && p[4] != '1') || !p[5] ||
			    !strchr(hex, p[5]))
				return 0;
			p += 6;
			continue;
		}
		if (c < 0x20)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		/* UTF-8: 2 to 4 bytes, no overlong form, no surrogate, at
		 * most U+10FFFF */
		size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
		         : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!n || (size_t)(e - p) < n)
			return 0;
		for (size_t k = 1; k < n; k++)
			if ((p[k] & 0xc0) != 0x80)
				return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
		    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;
		p += n;
	}
	if (p >= e)
		return 0;
	return (size_t)(p + 1 - (const unsigned char *)s);
}

/* The literal at S, up to END, as jansson writes it: true, false, null,
 * or an integer within 64 bits without a leading zero.  Its length, or 0
 * when it is none of those (a real number: the caller parses). */
static size_t literal_len(const char *s, const char *end)
{
	static const char *const words[] = { "true", "false", "null" };
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(end - s) >= n && memcmp(s, words[i], n) == 0)
			return n;
	}
	const char *p = s + (s < end && *s == '-');
	const char *d = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	size_t digits = (size_t)(p - d);
	if (!digits || (digits > 1 && *d == '0') || digits > 19 ||
	    (digits == 19 && memcmp(d, *s == '-' ? "9223372036854775808"
	                                         : "9223372036854775807", 19) > 0))
		return 0;
	return (size_t)(p - s);
}

bool status_print_json(const char *line, size_t len, struct buf *out)
{
	static const char *const top[] = { "\"ok\"", "\"version\"",
	                                   "\"daemon\"", "\"units\"" };
	static const char head[] = "{\"ok\":true,";
	const char *p = line, *end = line + len;
	if (len < sizeof(head) || memcmp(line, head, sizeof(head) - 1) != 0)
		return false;
	size_t start = out->len;
	/* stack: the containers open; want: what may come next */
	enum { VALUE, KEY, COLON, AFTER } want = VALUE;
	int depth = 0, ntop = 0;
	char stack[64];
	bool empty = false, skip = false;
	for (; p < end; p++) {
		char c = *p;
		bool closing = c == '}' || c == ']';
		if (empty && !closing) {
			indent(out, depth);
			empty = false;
		}
		if (closing) {
			char open = c == '}' ? '{' : '[';
			if (!depth || stack[depth - 1] != open ||
			    !(want == AFTER || (empty && want == (open == '{' ? KEY
			                                                    : VALUE))))
				goto bad;
			depth--;
			if (!empty)
				indent(out, depth);
			empty = false;
			buf_addc(out, c);
			want = AFTER;
			if (!depth) {
				if (p + 1 != end || ntop != 4)
					goto bad;
				buf_addc(out, '\n');
				return true;
			}
		} else if (c == '{' || c == '[') {
			if (want != VALUE || depth == (int)sizeof(stack))
				goto bad;
			stack[depth++] = c;
			buf_addc(out, c);
			empty = true;
			want = c == '{' ? KEY : VALUE;
		} else if (c == ',') {
			if (want != AFTER || !depth)
				goto bad;
			if (!skip) {
				buf_addc(out, ',');
				indent(out, depth);
			}
			skip = false;
			want = stack[depth - 1] == '{' ? KEY : VALUE;
		} else if (c == ':') {
			if (want != COLON)
				goto bad;
			if (!skip)
				buf_add(out, ": ", 2);
			want = VALUE;
		} else if (c == '"') {
			size_t n = string_len(p, end);
			if (!n || (want != KEY && want != VALUE))
				goto bad;
			if (depth == 1 && want == KEY) {
				/* the keys of the reply, in order; "ok" is not
				 * shown (nor its comma) */
				if (ntop == 4 || n != strlen(top[ntop]) ||
				    memcmp(p, top[ntop], n) != 0)
					goto bad;
				skip = ntop++ == 0;
			}
			if (!skip)
				buf_add(out, p, n);
			want = want == KEY ? COLON : AFTER;
			p += n - 1;
		} else {
			/* true, false, null, an integer; anything else (a
			 * real, white space) is parsed by the caller */
			size_t n = want == VALUE ? literal_len(p, end) : 0;
			if (!n)
				goto bad;
			if (!skip)
				buf_add(out, p, n);
			want = AFTER;
			p += n - 1;
		}
	}
bad:
	out->len = start;
	if (out->s)
		out->s[start] = 0;
	return false;
}
