#include "sup.h"
#include "unit.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Signals tend exec passes on to the whole tree, as tini does: all the
 * asynchronous ones except those it acts on itself and job control. */
static const int forwarded[] = { SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                                 SIGALRM, SIGPWR, SIGURG, SIGCONT, SIGVTALRM,
                                 SIGPROF, SIGXCPU, SIGXFSZ, SIGIO };

static struct unit *unit_by_pid(struct sup *s, pid_t pid)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (s->units[i]->pid == pid)
			return s->units[i];
	return NULL;
}

static bool all_settled(const struct sup *s)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (!unit_settled(s->units[i]))
			return false;
	return true;
}

/* A fresh process table, each process assigned to one of ROOTS. */
static int scan_assign(struct sup *s, const struct tree_root *roots,
                       size_t nroots, bool adopt)
{
	if (proc_table_scan(&s->table) < 0)
		return -1;
	if (s->table.n > s->owner_cap) {
		s->owner_cap = s->table.n * 2;
		s->owner = xrealloc(s->owner, s->owner_cap * sizeof(*s->owner));
	}
	tree_assign(&s->table, getpid(), roots, nroots, adopt, s->owner);
	return 0;
}

size_t sup_tree(struct sup *s, const struct unit *u,
                const struct proc_stat **members)
{
	*members = s->members;
	int me = -1;
	for (size_t i = 0; i < s->nunits; i++) {
		const struct unit *x = s->units[i];
		s->roots[i] = (struct tree_root){ .main = x->pid, .sid = x->sid,
		                                  .cookie = x->cookie };
		if (x == u)
			me = (int)i;
	}
	if (scan_assign(s, s->roots, s->nunits, s->exec_mode) < 0)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < s->table.n; i++) {
		if (s->owner[i] != me)
			continue;
		if (n == s->members_cap) {
			s->members_cap = s->members_cap ? s->members_cap * 2 : 16;
			s->members = xrealloc(s->members, s->members_cap * sizeof(*s->members));
		}
		s->members[n++] = s->table.p[i];
	}
	*members = s->members;
	return n;
}

double sup_jitter(struct sup *s)
{
	(void)s;
	return (double)random() / ((double)RAND_MAX + 1.0);
}

void sup_unit_settled(struct sup *s, struct unit *u)
{
	(void)u;
	if ((s->exec_mode || s->shutting_down) && all_settled(s))
		loop_stop(s->loop);
}

/* --- signals --- */

static void on_sigchld(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct sup *s = data;
	int st;
	pid_t pid;
	bool others = false;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct unit *u = unit_by_pid(s, pid);
		if (u)
			unit_on_exit(u, st);
		else
			others = true;
	}
	if (others)
		for (size_t i = 0; i < s->nunits; i++)
			unit_on_reaped(s->units[i]);
}

static void shutdown_all(struct sup *s)
{
	s->shutting_down = true;
	for (size_t i = 0; i < s->nunits; i++)
		unit_stop(s->units[i]);
	if (all_settled(s))
		loop_stop(s->loop);
}

static void on_stop_signal(struct loop *lp, int signo, void *data)
{
	(void)lp;
	struct sup *s = data;
	if (signo == SIGINT && ++s->sigints > 1) {
		for (size_t i = 0; i < s->nunits; i++)
			unit_kill(s->units[i]);
		return;
	}
	if (!s->shutting_down)
		shutdown_all(s);
}

static void on_forward(struct loop *lp, int signo, void *data)
{
	(void)lp;
	struct sup *s = data;
	for (size_t i = 0; i < s->nunits; i++)
		unit_signal(s->units[i], signo);
}

static void on_hup_daemon(struct loop *lp, int signo, void *data)
{
	(void)lp;
	(void)signo;
	struct sup *s = data;
	events_emit(s->ev, "tend", "warn", json_pack("{s:s}", "message",
	            "SIGHUP: reload needs the daemon (tend up -d), not available "
	            "in this version; restart tend to apply changes"));
}

/* --- life --- */

struct sup *sup_new(const struct tend_config *cfg, struct events *ev,
                    bool exec_mode)
{
	struct sup *s = xcalloc(1, sizeof(*s));
	s->loop = loop_new();
	if (!s->loop) {
		free(s);
		return NULL;
	}
	s->ev = ev;
	s->cfg = cfg;
	s->exec_mode = exec_mode;
	srandom((unsigned)(getpid() ^ wall_ms()));
	s->units = xcalloc(cfg->nunits, sizeof(*s->units));
	s->roots = xcalloc(cfg->nunits, sizeof(*s->roots));
	size_t width = 0;
	for (size_t i = 0; i < cfg->nunits; i++) {
		s->units[s->nunits++] = unit_new(s, cfg->units[i]);
		size_t len = strlen(cfg->units[i]->name);
		width = len > width ? len : width;
	}
	/* tend exec is transparent: its command writes to tend's own stdout and
	 * stderr.  tend up labels each line with the unit it came from. */
	s->out_fd = exec_mode ? -1 : output_nonblocking(1);
	for (size_t i = 0; i < s->nunits && !exec_mode; i++)
		if (unit_capture_output(s->units[i], width, s->out_fd) < 0)
			errline("%s: cannot capture output (%s); it goes to tend's "
			        "stdout unlabelled", cfg->units[i]->name, strerror(errno));
	return s;
}

void sup_free(struct sup *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nunits; i++)
		unit_free(s->units[i]);
	free(s->units);
	if (s->out_fd >= 0)
		close(s->out_fd);
	free(s->roots);
	free(s->owner);
	free(s->members);
	proc_table_free(&s->table);
	loop_free(s->loop);
	free(s);
}

static int setup_signals(struct sup *s)
{
	int r = 0;
	r |= loop_signal(s->loop, SIGCHLD, on_sigchld, s);
	r |= loop_signal(s->loop, SIGTERM, on_stop_signal, s);
	r |= loop_signal(s->loop, SIGINT, on_stop_signal, s);
	if (s->exec_mode) {
		for (size_t i = 0; i < ARRAY_LEN(forwarded); i++)
			r |= loop_signal(s->loop, forwarded[i], on_forward, s);
	} else {
		r |= loop_signal(s->loop, SIGHUP, on_hup_daemon, s);
	}
	signal(SIGPIPE, SIG_IGN);
	return r;
}

/* After every unit stopped: anything still below tend that no unit claims
 * (a process that left its session and cleared its environment) must not
 * outlive tend either. */
static void kill_strays(struct sup *s)
{
	if (scan_assign(s, NULL, 0, false) < 0)
		return;
	for (size_t i = 0; i < s->table.n; i++)
		if (s->owner[i] == TREE_STRAY)
			proc_signal(&s->table.p[i], SIGKILL);
}

static int exec_exit_code(const struct unit *u)
{
	const struct exit_info *e = &u->last_exit;
	if (e->reason == EXIT_SPAWN_FAILED)
		return e->err == ENOENT ? 127 : 126;
	if (u->gave_up)
		return 1;
	if (e->signal)
		return 128 + e->signal;
	return e->code >= 0 ? e->code : 1;
}

int sup_run(struct sup *s)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		errline("cannot become a child subreaper (%s); daemonized "
		        "descendants may escape", strerror(errno));
	if (setup_signals(s) < 0) {
		errline("cannot set up signal handling: %s", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < s->nunits; i++) {
		struct unit *u = s->units[i];
		const char *names[CONFIG_MAX_KEYS];
		size_t n = config_unenforced(u->cfg, names, ARRAY_LEN(names));
		for (size_t k = 0; k < n; k++) {
			char *m = xasprintf("key \"%s\" is accepted but not acted on by "
			                    "this version", names[k]);
			events_emit(s->ev, u->cfg->name, "warn",
			            json_pack("{s:s}", "message", m));
			free(m);
		}
		if (u->cfg->kind == KIND_SERVICE && u->cfg->start == START_BOOT)
			unit_start(u);
	}
	if (!(s->exec_mode && all_settled(s)) && loop_run(s->loop) < 0) {
		errline("event loop failed: %s", strerror(errno));
		shutdown_all(s);
	}
	if (!s->exec_mode)
		kill_strays(s);
	return s->exec_mode ? exec_exit_code(s->units[0]) : 0;
}
