/* mcpimport — see mcpimport.h. */
#include "mcpimport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "mcpconf.h"
#include "mcphttp.h"
#include "mcptoml.h"
#include "proc_os.h"
#include "udiff.h"
#include "util.h"

#define EXIT_USAGE 2
/* Larger files are not configuration files tend reads. */
#define CONF_SIZE_MAX (64u << 20)
/* Backups: FILE.tend-backup, then FILE.tend-backup.1 up to this. */
#define BACKUP_MAX 999
/* Backups read for unimport's hints, newest first. */
#define HINTS_MAX 16

static const char usage_mcp[] =
	"usage: tend mcp import [CLIENT ...] [--dry-run]\n"
	"       tend mcp import --http [--port N] [--no-auth] [CLIENT ...] [--dry-run]\n"
	"       tend mcp unimport [CLIENT ...] [--dry-run]\n"
	"\n"
	"import rewrites the stdio MCP servers of the MCP clients' own\n"
	"configuration files so that each runs through tend:\n"
	"  {\"command\": CMD, \"args\": [ARG, ...]}  becomes\n"
	"  {\"command\": \"tend\", \"args\": [\"connect\", \"--\", CMD, ARG, ...]}\n"
	"(env, cwd and every other member stay as they are), so that the\n"
	"sessions that start the same server share one supervised instance.\n"
	"unimport turns such entries back into {\"command\": CMD, \"args\": [ARG, ...]},\n"
	"and the URL entries of the sections import --http wrote as well.\n"
	"The command is \"tend\" when tend is on PATH, else this tend's full path.\n"
	"\n"
	"CLIENT (default: every client whose files exist):\n"
	"  claude   ~/.claude.json (user and project scopes), ./.mcp.json\n"
	"  cursor   ~/.cursor/mcp.json, ./.cursor/mcp.json\n"
	"  vscode   ./.vscode/mcp.json, $XDG_CONFIG_HOME/Code/User/mcp.json\n"
	"  gemini   ~/.gemini/settings.json, ./.gemini/settings.json\n"
	"  codex    $CODEX_HOME/config.toml (~/.codex/config.toml): never\n"
	"           edited; the tables to paste in its place are printed\n"
	"\n"
	"  --dry-run   show each file's change as a unified diff; write nothing\n"
	"\n"
	"--http: each stdio server becomes a section of the default daemon's\n"
	"tend.ini ($TEND_CONFIG when set), served by tend over Streamable HTTP\n"
	"(listen = http:127.0.0.1:PORT), and the client's entry its URL:\n"
	"  {\"type\": \"http\", \"url\": \"http://127.0.0.1:PORT/mcp\", \"headers\": {...}}\n"
	"(Cursor: \"url\"; Gemini CLI: \"httpUrl\"); a server that a section\n"
	"serves already gets its URL, so every client shares one server.  Then\n"
	"the daemon is reloaded (started when it is not running): run tend enable\n"
	"so that it is up at login.  Codex's TOML is left as it is.\n"
	"  --port N    the first port tried for a new section (default 7431)\n"
	"  --no-auth   no bearer token (else one file beside tend.ini, mode 0600,\n"
	"              shared by every section, sent in the entries' headers)\n"
	"\n"
	"Left alone, and listed: HTTP and SSE servers; servers already through\n"
	"tend (import) or not through tend (unimport); files that are not strict\n"
	"JSON, such as JSON with comments (tend would lose the comments).  Every\n"
	"file written gets a backup next to it first (FILE.tend-backup, then .1,\n"
	".2, ...) and is replaced atomically, its mode kept; for a symlink, its\n"
	"target is edited.  Quit the clients first: they read their files when\n"
	"they start, and some (Claude Code) write theirs back.\n"
	"\n"
	"Exit: 0 done; 1 a file could not be read, parsed or written (the\n"
	"others are still processed); 2 bad usage.\n";

/* --- the clients and their files ---------------------------------------- */

enum base { AT_HOME, AT_CWD, AT_CONFIG, AT_CODEX };

struct client_file {
	const char *client; /* as named on the command line */
	const char *title;  /* what the file is, for the output */
	enum base base;
	const char *rel;
	bool toml;
	enum mcpconf_layout layout;
	enum mcpconf_url_style url;   /* import --http */
};

static const struct client_file files[] = {
	{ "claude", "Claude Code, user and projects", AT_HOME, ".claude.json", false,
	  MCPCONF_CLAUDE_USER, MCPCONF_URL_TYPED },
	{ "claude", "Claude Code, project", AT_CWD, ".mcp.json", false, MCPCONF_MCPSERVERS,
	  MCPCONF_URL_TYPED },
	{ "cursor", "Cursor, user", AT_HOME, ".cursor/mcp.json", false, MCPCONF_MCPSERVERS,
	  MCPCONF_URL_PLAIN },
	{ "cursor", "Cursor, project", AT_CWD, ".cursor/mcp.json", false, MCPCONF_MCPSERVERS,
	  MCPCONF_URL_PLAIN },
	{ "vscode", "VS Code, workspace", AT_CWD, ".vscode/mcp.json", false, MCPCONF_VSCODE,
	  MCPCONF_URL_TYPED },
	{ "vscode", "VS Code, user", AT_CONFIG, "Code/User/mcp.json", false, MCPCONF_VSCODE,
	  MCPCONF_URL_TYPED },
	{ "gemini", "Gemini CLI, user", AT_HOME, ".gemini/settings.json", false,
	  MCPCONF_MCPSERVERS, MCPCONF_URL_HTTPURL },
	{ "gemini", "Gemini CLI, project", AT_CWD, ".gemini/settings.json", false,
	  MCPCONF_MCPSERVERS, MCPCONF_URL_HTTPURL },
	{ "codex", "Codex", AT_CODEX, "config.toml", true, MCPCONF_MCPSERVERS,
	  MCPCONF_URL_TYPED },
};

static const char *const client_names[] = { "claude", "cursor", "vscode", "gemini",
	                                     "codex" };

struct run {
	enum mcpconf_op op;
	bool dry;
	const char *tend; /* what import writes as the command */
	/* import --http */
	bool http, no_auth;
	int port;
	struct mcphttp *h;
	bool ini_written;
	char *home, *cwd, *config, *codex;
	struct stat *seen; /* the files done, by device and inode */
	size_t nseen;
	/* the summary */
	int failed, found, written, changed, left, by_hand;
};

/* --- output ------------------------------------------------------------- */

/* Prints TEXT (lines) with what a terminal would take for a control
 * sequence as '?': C0 but tab and newline, DEL, C1, bytes that are not
 * UTF-8.  Configuration files are the user's, yet printing one must not
 * act on the terminal. */
static void print_text(const char *text, size_t len)
{
	struct buf b = { 0 };
	for (size_t i = 0; i < len;) {
		const unsigned char *c = (const unsigned char *)text + i;
		size_t l = utf8_len(c, len - i);
		bool bad = l == 0 || (l == 1 && ((c[0] < 0x20 && c[0] != '\t' && c[0] != '\n') ||
		                                 c[0] == 0x7f)) ||
		           (l == 2 && c[0] == 0xc2 && c[1] < 0xa0);
		if (bad)
			buf_addc(&b, '?');
		else
			buf_add(&b, text + i, l);
		i += l ? l : 1;
	}
	if (b.s) /* cleaned: no NUL byte in it */
		fputs(b.s, stdout);
	free(b.s);
}

/* Prints one line of output, cleaned (see one_line). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	str_clean(m);
	printf("%s\n", m);
	free(m);
}

/* What happens to a server that OP changes: DONE (written), or not (dry
 * run, a file that could not be written). */
static const char *changed_verb(const struct run *r, bool done)
{
	if (r->http)
		return done ? "served by tend over HTTP now" : "would be served by tend over HTTP";
	if (r->op == MCPCONF_IMPORT)
		return done ? "runs through tend now" : "would run through tend";
	return done ? "runs directly again" : "would run directly again";
}

/* One line per server; those changed are counted in *CHANGED (if not
 * NULL), the others as left alone. */
static void print_report(struct run *r, const struct mcpconf_report *rep,
                         const char *verb, int *changed)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct mcpconf_entry *e = &rep->v[i];
		char *who = e->scope ? xasprintf("[project %s] %s", e->scope, e->name)
		                     : xstrdup(e->name);
		switch (e->outcome) {
		case MCPCONF_CHANGED:
			say("  %s: %s: %s", who, verb, e->detail);
			if (changed)
				(*changed)++;
			break;
		case MCPCONF_REMOTE:
			say("  %s: left alone: a remote server (%s)", who, e->detail);
			r->left++;
			break;
		case MCPCONF_TEND:
			say("  %s: left alone: already through tend (%s)", who, e->detail);
			r->left++;
			break;
		case MCPCONF_NOT_TEND:
		case MCPCONF_UNUSABLE:
			say("  %s: left alone: %s", who, e->detail);
			r->left++;
			break;
		}
		free(who);
	}
}

/* --- reading and writing files ------------------------------------------ */

/* The whole regular file PATH into *TEXT / *LEN, and its stat; -1 with
 * *ERR. */
static int read_file(const char *path, char **text, size_t *len, struct stat *st,
                     char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		*err = xasprintf("cannot open it: %s", strerror(errno));
		return -1;
	}
	const char *bad = fstat(fd, st) < 0 ? "cannot stat it"
	                : !S_ISREG(st->st_mode) ? "not a regular file"
	                : st->st_size > CONF_SIZE_MAX ? "larger than 64 MiB: not a "
	                                                "configuration file tend reads"
	                : NULL;
	if (bad) {
		*err = xstrdup(bad);
		close(fd);
		return -1;
	}
	struct buf b = { 0 };
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = xasprintf("cannot read it: %s", strerror(errno));
			free(b.s);
			close(fd);
			return -1;
		}
		if (n == 0 || b.len + (size_t)n > CONF_SIZE_MAX)
			break;
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	*len = b.len;
	*text = buf_take(&b);
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes TEXT to a new file FD (mode and owner of ST), syncs, closes. */
static int fill(int fd, const struct stat *st, const char *text, size_t len)
{
	int r = fchmod(fd, st->st_mode & 07777);
	if (r == 0 && st->st_uid != geteuid())
		r = fchown(fd, st->st_uid, st->st_gid);
	if (r == 0)
		r = write_all(fd, text, len);
	if (r == 0)
		r = fsync(fd);
	int e = errno;
	if (close(fd) < 0 && r == 0)
		return -1;
	errno = e;
	return r;
}

static char *backup_name(const char *target, int n)
{
	return n ? xasprintf("%s.tend-backup.%d", target, n) : xasprintf("%s.tend-backup", target);
}

/* Writes TEXT as the first free backup of TARGET; returns its name, or
 * NULL with *ERR. */
static char *write_backup(const char *target, const struct stat *st, const char *text,
                          size_t len, char **err)
{
	for (int n = 0; n <= BACKUP_MAX; n++) {
		char *name = backup_name(target, n);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			free(name);
			continue;
		}
		if (fd < 0 || fill(fd, st, text, len) < 0) {
			*err = xasprintf("cannot write the backup %s: %s", name, strerror(errno));
			if (fd >= 0)
				unlink(name);
			free(name);
			return NULL;
		}
		return name;
	}
	*err = xasprintf("%d backups of it exist already: remove old ones", BACKUP_MAX + 1);
	return NULL;
}

static void sync_dir(const char *file)
{
	char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Does TARGET still hold OLD? */
static bool unchanged(const char *target, const char *old, size_t oldlen)
{
	char *now = NULL, *why = NULL;
	size_t nowlen = 0;
	struct stat st;
	bool same = read_file(target, &now, &nowlen, &st, &why) == 0 && nowlen == oldlen &&
	            memcmp(now, old, oldlen) == 0;
	free(now);
	free(why);
	return same;
}

/* Replaces TARGET (read as OLD, stat ST) by NEW: backup, temporary file
 * beside it, rename.  Returns the backup's name, or NULL with *ERR. */
static char *replace_file(const char *target, const struct stat *st, const char *old,
                          size_t oldlen, const char *new, char **err)
{
	char *backup = write_backup(target, st, old, oldlen, err);
	if (!backup)
		return NULL;
	const char *slash = strrchr(target, '/');
	char *tmp = xasprintf("%.*s.%s.tend-XXXXXX", slash ? (int)(slash - target + 1) : 0,
	                      target, slash ? slash + 1 : target);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fill(fd, st, new, strlen(new)) < 0) {
		*err = xasprintf("cannot write a temporary file beside it: %s", strerror(errno));
		goto fail;
	}
	/* the last moment to see that someone else wrote it meanwhile */
	if (!unchanged(target, old, oldlen)) {
		*err = xstrdup("it changed while tend was editing it (is a client writing "
		               "it?); nothing written: run the command again");
		goto fail;
	}
	if (rename(tmp, target) < 0) {
		*err = xasprintf("cannot replace it: %s", strerror(errno));
		goto fail;
	}
	sync_dir(target);
	free(tmp);
	return backup;
fail:
	if (fd >= 0)
		unlink(tmp);
	unlink(backup);
	free(tmp);
	free(backup);
	return NULL;
}

/* --- tend.ini (import --http) ------------------------------------------- */

/* Makes DIR and its parents (mode 0700, as $XDG_CONFIG_HOME/tend is);
 * -1 with errno. */
static int make_dirs(const char *dir)
{
	char *d = xstrdup(dir);
	int r = 0;
	for (char *p = d + 1; r == 0; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			r = -1;
		if (end)
			break;
		*p = '/';
	}
	free(d);
	return r;
}

/* A new file PATH (mode 0600) holding TEXT; NULL, or why not (malloc'd). */
static char *create_file(const char *path, const char *text)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash && slash != path ? strndup(path, (size_t)(slash - path)) : NULL;
	int r = dir ? make_dirs(dir) : 0;
	free(dir);
	int fd = r < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                           0600);
	struct stat st = { .st_mode = 0600, .st_uid = geteuid() };
	if (fd < 0 || fill(fd, &st, text, strlen(text)) < 0) {
		char *why = xasprintf("cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(path);
		return why;
	}
	sync_dir(path);
	return NULL;
}

/* The sections made for the file being done go to tend.ini (dry: are
 * shown): before the client's file, so that its URLs work once it is
 * written.  0, or -1 after an error line (nothing of them written). */
static int write_ini(struct run *r)
{
	const char *then, *now, *path = mcphttp_path(r->h);
	mcphttp_texts(r->h, &then, &now);
	if (!now)
		return 0;
	if (r->dry) {
		struct buf d = { 0 };
		udiff(then, strlen(then), now, strlen(now), path, path, &d);
		print_text(d.s, d.len);
		free(d.s);
		mcphttp_done(r->h, true);
		return 0;
	}
	const char *tpath, *token;
	char *err = NULL, *backup = NULL;
	mcphttp_token_file(r->h, &tpath, &token);
	if (tpath) {
		char *line = xasprintf("%s\n", token);
		err = create_file(tpath, line);
		free(line);
		if (!err)
			mcphttp_token_made(r->h);
	}
	struct stat st;
	if (!err && stat(path, &st) == 0) {
		backup = replace_file(path, &st, then, strlen(then), now, &err);
		if (backup)
			say("  %s: its sections written; backup of the file as it was: %s",
			    path, backup);
	} else if (!err && errno == ENOENT) {
		err = create_file(path, now);
		if (!err)
			say("  %s: written, with its sections", path);
	} else if (!err) {
		err = xasprintf("cannot stat it: %s", strerror(errno));
	}
	if (err)
		errline("%s: %s; the servers of this file are left as they were", path, err);
	mcphttp_done(r->h, !err);
	r->ini_written = r->ini_written || !err;
	free(backup);
	free(err);
	return err ? -1 : 0;
}

/* The file's backups, newest first, parsed (those that parse), at most
 * HINTS_MAX. */
static size_t read_hints(const char *target, json_t **hints)
{
	int last = -1;
	for (int n = 0; n <= BACKUP_MAX; n++) {
		char *name = backup_name(target, n);
		struct stat st;
		if (lstat(name, &st) == 0)
			last = n;
		free(name);
	}
	size_t k = 0;
	for (int n = last; n >= 0 && k < HINTS_MAX; n--) {
		char *name = backup_name(target, n);
		json_t *doc = json_load_file(name, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		if (doc)
			hints[k++] = doc;
		free(name);
	}
	return k;
}

/* --- one file ----------------------------------------------------------- */

/* Where TARGET is (the file itself, or a symlink's target); prints the
 * file's title line.  Returns 1 when there is a file to do, 0 when there
 * is none (or it was done already under another name), -1 on an error. */
static int locate(struct run *r, const char *path, const struct client_file *f,
                  char **target)
{
	struct stat lst, st;
	if (lstat(path, &lst) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		errline("mcp %s: %s: %s", r->op == MCPCONF_IMPORT ? "import" : "unimport",
		        path, strerror(errno));
		return -1;
	}
	if (stat(path, &st) < 0) {
		errline("%s: a symlink to a file that cannot be reached (%s); left alone", path,
		        strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < r->nseen; i++)
		if (r->seen[i].st_dev == st.st_dev && r->seen[i].st_ino == st.st_ino)
			return 0;
	r->seen = xrealloc(r->seen, (r->nseen + 1) * sizeof(*r->seen));
	r->seen[r->nseen++] = st;
	r->found++;
	*target = S_ISLNK(lst.st_mode) ? realpath(path, NULL) : xstrdup(path);
	if (!*target) {
		errline("%s: cannot resolve the symlink: %s", path, strerror(errno));
		return -1;
	}
	say("%s (%s)", path, f->title);
	if (S_ISLNK(lst.st_mode))
		say("  a symlink: tend %s its target, %s", r->dry ? "would edit" : "edits",
		    *target);
	return 1;
}

static void do_toml(struct run *r, const char *path, const char *target,
                    const char *text, size_t len)
{
	struct mcpconf_report rep = { 0 };
	struct buf out = { 0 };
	char *err = NULL;
	int n = mcptoml_rewrite(text, len, r->op, r->tend, &out, &rep, &err);
	if (n < 0) {
		errline("%s: %s; tend cannot read its servers", target, err);
		r->failed++;
	} else {
		print_report(r, &rep, r->op == MCPCONF_IMPORT
		                      ? "to run through tend, paste its table below"
		                      : "to run directly, paste its table below", &r->by_hand);
		if (n == 0) {
			say("  nothing to change");
		} else {
			say("  tend never edits TOML: in %s, replace %s by:", path,
			    n == 1 ? "this table" : "each of these tables");
			printf("\n");
			print_text(out.s, out.len);
			printf("\n");
		}
	}
	free(err);
	free(out.s);
	mcpconf_report_free(&rep);
}

static void not_json(struct run *r, const char *path, const char *text, size_t len,
                     const json_error_t *e)
{
	const char *jsonc = mcpconf_jsonc_reason(text, len);
	if (jsonc)
		errline("%s:%d:%d: not strict JSON (%s: %s), which tend cannot edit without "
		        "losing what is not JSON; left untouched: change its servers by hand "
		        "(docs/mcp.md)", path, e->line, e->column, jsonc, e->text);
	else
		errline("%s:%d:%d: not JSON (%s); left untouched", path, e->line, e->column,
		        e->text);
	say("  left untouched: not %sJSON (see the error)", jsonc ? "strict " : "");
	r->failed++;
}

/* Writes (or, dry, shows) the new text of a file; prints the servers' lines
 * once it is known whether the change happened. */
static void apply_json(struct run *r, const char *target, const struct stat *st,
                       const char *text, size_t len, const json_t *doc,
                       const struct mcpconf_report *rep)
{
	char *indent = mcpconf_indent_of(text, len);
	char *new = mcpconf_dump(doc, indent), *err = NULL, *backup = NULL;
	if (r->dry) {
		print_report(r, rep, changed_verb(r, false), &r->changed);
		struct buf d = { 0 };
		udiff(text, len, new, strlen(new), target, target, &d);
		print_text(d.s, d.len);
		free(d.s);
		r->written++;
	} else if ((backup = replace_file(target, st, text, len, new, &err))) {
		print_report(r, rep, changed_verb(r, true), &r->changed);
		say("  written; backup of the file as it was: %s", backup);
		r->written++;
	} else {
		errline("%s: %s", target, err);
		print_report(r, rep, changed_verb(r, false), NULL);
		say("  left untouched: could not be written (see the error)");
		r->failed++;
	}
	free(backup);
	free(err);
	free(new);
	free(indent);
}

static void do_json(struct run *r, const struct client_file *f, const char *path,
                    const char *target, const struct stat *st, const char *text,
                    size_t len)
{
	if (strspn(text, " \t\r\n") == len) { /* a client made it, nothing in it yet */
		say("  empty: nothing to change");
		return;
	}
	json_error_t e;
	json_t *doc = json_loadb(text, len, JSON_PRESERVE_ORDER | JSON_REJECT_DUPLICATES |
	                                    JSON_ALLOW_NUL, &e);
	if (!doc) {
		not_json(r, path, text, len, &e);
		return;
	}
	json_t *hints[HINTS_MAX];
	size_t nhints = r->op == MCPCONF_UNIMPORT ? read_hints(target, hints) : 0;
	struct mcpconf_report rep = { 0 };
	char *err = NULL;
	int n;
	if (r->http) {
		mcphttp_source(r->h, path, f->title, f->base == AT_CWD ? r->cwd : NULL);
		struct mcpconf_http http = { f->url, mcphttp_url, r->h };
		n = mcpconf_rewrite_http(doc, f->layout, &http, &rep, &err);
	} else if (r->op == MCPCONF_UNIMPORT) {
		n = mcpconf_unimport(doc, f->layout, hints, nhints,
		                     r->h ? mcphttp_served : NULL, r->h, &rep, &err);
	} else {
		n = mcpconf_rewrite(doc, f->layout, r->op, r->tend, hints, nhints, &rep, &err);
	}
	if (n < 0) {
		errline("%s: %s; left untouched", path, err);
		say("  left untouched: not a configuration of %s (see the error)", f->client);
		r->failed++;
	} else if (n == 0) {
		print_report(r, &rep, NULL, NULL);
		say("  nothing to change");
	} else if (r->http && write_ini(r) < 0) {
		print_report(r, &rep, changed_verb(r, false), NULL);
		say("  left untouched: tend.ini could not be written (see the error)");
		r->failed++;
	} else {
		apply_json(r, target, st, text, len, doc, &rep);
	}
	free(err);
	mcpconf_report_free(&rep);
	for (size_t i = 0; i < nhints; i++)
		json_decref(hints[i]);
	json_decref(doc);
}

static char *file_path(const struct run *r, const struct client_file *f)
{
	const char *base = f->base == AT_HOME ? r->home : f->base == AT_CWD ? r->cwd
	                 : f->base == AT_CONFIG ? r->config : r->codex;
	if (!base)
		return NULL;
	return xasprintf("%s%s%s", base, strcmp(base, "/") ? "/" : "", f->rel);
}

/* Does the files of CLIENT; returns how many there were. */
static int do_client(struct run *r, const char *client)
{
	int there = 0;
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		const struct client_file *f = &files[i];
		if (strcmp(f->client, client) != 0)
			continue;
		char *path = file_path(r, f), *target = NULL;
		int l = path ? locate(r, path, f, &target) : 0;
		if (l < 0)
			r->failed++;
		if (l > 0) {
			there++;
			char *text = NULL, *err = NULL;
			size_t len = 0;
			struct stat st;
			if (read_file(target, &text, &len, &st, &err) < 0) {
				errline("%s: %s; left untouched", target, err);
				r->failed++;
			} else if (f->toml && r->http) {
				say("  left untouched: import --http does not write Codex's "
				    "TOML; its servers stay as they are");
			} else if (f->toml) {
				do_toml(r, path, target, text, len);
			} else {
				do_json(r, f, path, target, &st, text, len);
			}
			free(text);
			free(err);
		}
		free(target);
		free(path);
	}
	return there;
}

/* --- where things are --------------------------------------------------- */

static char *absolute_env(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] == '/' ? xstrdup(v) : NULL;
}

static char *home_dir(void)
{
	char *h = absolute_env("HOME");
	if (h)
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? xstrdup(pw->pw_dir) : NULL;
}

/* Is there an executable "tend" in a directory of PATH? */
static bool tend_on_path(void)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char *copy = xstrdup(path), *save = NULL;
	bool found = false;
	for (char *dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *f = xasprintf("%s/tend", dir);
		struct stat st;
		found = dir[0] == '/' && stat(f, &st) == 0 && S_ISREG(st.st_mode) &&
		        access(f, X_OK) == 0;
		free(f);
	}
	free(copy);
	return found;
}

static char *self_path(void)
{
	char p[PATH_MAX];
	return proc_self_exe(p, sizeof(p)) < 0 ? NULL : xstrdup(p);
}

static void print_summary(const struct run *r)
{
	const char *done = r->http ? (r->dry ? "would be served by tend over HTTP"
	                                     : "served by tend over HTTP now")
	                 : r->op == MCPCONF_IMPORT
	                   ? (r->dry ? "would run through tend" : "run through tend now")
	                   : (r->dry ? "would run directly again" : "run directly again");
	char *hand = r->by_hand ? xasprintf(", %d to change by hand (codex)", r->by_hand)
	                        : xstrdup("");
	char *failed = r->failed ? xasprintf("; %d file%s could not be read, parsed or "
	                                     "written", r->failed, r->failed == 1 ? "" : "s")
	                         : xstrdup("");
	say("summary%s: %d server%s %s, %d left alone%s; %d file%s %s%s",
	    r->dry ? " (dry run, nothing written)" : "", r->changed,
	    r->changed == 1 ? "" : "s", done, r->left, hand, r->written,
	    r->written == 1 ? "" : "s", r->dry ? "would be written" : "written", failed);
	free(hand);
	free(failed);
}

/* --- the command -------------------------------------------------------- */

static bool is_client(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(client_names); i++)
		if (strcmp(client_names[i], name) == 0)
			return true;
	return false;
}

static int run_op(struct run *r, const char *verb, int argc, char **argv)
{
	bool want[ARRAY_LEN(client_names)] = { false }, any = false;
	bool port_given = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--dry-run") == 0) {
			r->dry = true;
		} else if (strcmp(a, "--http") == 0 && r->op == MCPCONF_IMPORT) {
			r->http = true;
		} else if (strcmp(a, "--no-auth") == 0 && r->op == MCPCONF_IMPORT) {
			r->no_auth = true;
		} else if ((strcmp(a, "--port") == 0 || strncmp(a, "--port=", 7) == 0) &&
		           r->op == MCPCONF_IMPORT) {
			const char *v = a[6] == '=' ? a + 7 : i + 1 < argc ? argv[++i] : "";
			char *end = NULL;
			long port = strtol(v, &end, 10);
			if (!*v || *end || port < 1 || port > 65535) {
				errline("mcp %s: --port \"%s\" is not a port; give 1..65535", verb,
				        v);
				return EXIT_USAGE;
			}
			r->port = (int)port;
			port_given = true;
		} else if (a[0] == '-') {
			errline("mcp %s: unknown flag \"%s\"; see tend mcp --help", verb, a);
			return EXIT_USAGE;
		} else if (!is_client(a)) {
			errline("mcp %s: unknown client \"%s\"; the clients are claude, cursor, "
			        "vscode, gemini, codex", verb, a);
			return EXIT_USAGE;
		} else {
			for (size_t k = 0; k < ARRAY_LEN(client_names); k++)
				if (strcmp(client_names[k], a) == 0)
					want[k] = any = true;
		}
	}
	if ((port_given || r->no_auth) && !r->http) {
		errline("mcp %s: %s goes with --http; see tend mcp --help", verb,
		        port_given ? "--port" : "--no-auth");
		return EXIT_USAGE;
	}
	if (r->http) {
		char *ini = config_locate_default(NULL);
		char *real = ini[0] == '/' ? NULL : realpath(".", NULL);
		char *abs = real ? xasprintf("%s/%s", real, ini) : xstrdup(ini);
		r->h = mcphttp_open(abs, r->port ? r->port : MCPHTTP_PORT, !r->no_auth, r->dry);
		free(real);
		free(abs);
		free(ini);
		if (!r->h)
			return 1;
	}
	if (r->op == MCPCONF_UNIMPORT) {
		/* the URL entries import --http wrote run directly again */
		char *ini = config_locate_default(NULL), *why = NULL;
		r->h = ini[0] == '/' ? mcphttp_load(ini, &why) : NULL;
		if (why)
			say("note: %s does not load (%s): the URL entries of its sections "
			    "are left as they are", ini, why);
		free(why);
		free(ini);
	}
	r->home = home_dir();
	r->cwd = getcwd(NULL, 0);
	char *xdg = absolute_env("XDG_CONFIG_HOME");
	r->config = xdg ? xdg : r->home ? xasprintf("%s/.config", r->home) : NULL;
	char *codex = absolute_env("CODEX_HOME");
	r->codex = codex ? codex : r->home ? xasprintf("%s/.codex", r->home) : NULL;
	if (!r->home)
		errline("mcp %s: no home directory ($HOME is not set); the files under it "
		        "are not looked at", verb);
	char *self = NULL;
	if (r->op == MCPCONF_IMPORT && !tend_on_path()) {
		self = self_path();
		r->tend = self ? self : "tend";
		if (self)
			say("note: tend is not on PATH: the entries name %s", self);
	}
	for (size_t k = 0; k < ARRAY_LEN(client_names); k++) {
		if (any && !want[k])
			continue;
		if (!do_client(r, client_names[k]) && any)
			say("%s: no configuration file found", client_names[k]);
	}
	if (!r->found)
		say("no MCP client configuration file found (tend mcp --help says where "
		    "tend looks)");
	else
		print_summary(r);
	if (r->http && r->dry && r->changed)
		say("tend would then reload the daemon of %s (starting it)",
		    mcphttp_path(r->h));
	if (r->op == MCPCONF_UNIMPORT && r->h && r->changed &&
	    mcphttp_served_count(r->h))
		say("the sections of %s that import --http wrote stay: remove those no "
		    "client uses any more, then tend reload", mcphttp_path(r->h));
	if (r->ini_written) {
		/* The URLs work from now on: the daemon serves its new sections. */
		say("reloading the daemon of %s (started if it is not running); "
		    "tend enable starts it at login", mcphttp_path(r->h));
		fflush(stdout);
		if (client_reload(mcphttp_path(r->h)) != 0)
			r->failed++;
	}
	mcphttp_free(r->h);
	free(self);
	free(r->home);
	free(r->cwd);
	free(r->config);
	free(r->codex);
	free(r->seen);
	return r->failed ? 1 : 0;
}

int mcp_command(int argc, char **argv)
{
	if (argc == 0) {
		fputs(usage_mcp, stderr);
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    (i == 0 && strcmp(argv[i], "help") == 0)) {
			fputs(usage_mcp, stdout);
			return 0;
		}
	struct run r = { .tend = "tend" };
	if (strcmp(argv[0], "import") == 0) {
		r.op = MCPCONF_IMPORT;
	} else if (strcmp(argv[0], "unimport") == 0) {
		r.op = MCPCONF_UNIMPORT;
	} else {
		errline("mcp: unknown command \"%s\"; tend mcp import or tend mcp unimport, "
		        "see tend mcp --help", argv[0]);
		return EXIT_USAGE;
	}
	return run_op(&r, argv[0], argc - 1, argv + 1);
}
