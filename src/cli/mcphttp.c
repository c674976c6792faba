/* mcphttp — see mcphttp.h. */
#include "mcphttp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "ini.h"
#include "util.h"
#include "words.h"

struct mcphttp {
	char *path;                /* tend.ini */
	char *dir;                 /* its directory */
	char *then;                /* its text as last written (or read) */
	struct buf now;            /* then, and the sections made since */
	struct tend_config *cfg;   /* now, loaded */
	int base_port;
	bool dry;
	char *token_path, *token;  /* auth; NULL: --no-auth */
	bool token_exists;
	char *token_check;         /* a copy of it to load the text with, made
	                              while the file does not exist yet: a
	                              memfd's /proc/self/fd path, never a file */
	int token_fd;              /* that memfd, or -1 */
	size_t served;             /* URLs of its sections mcphttp_served found */
	/* the client file whose servers come */
	char *file, *title, *project;
};

/* --- the token ---------------------------------------------------------- */

static int token_read(struct mcphttp *h)
{
	char *text = NULL, *err = NULL;
	if (ini_read_file(h->token_path, &text, &err) < 0) {
		if (errno == ENOENT) {
			free(err);
			return 0;
		}
		errline("mcp import --http: %s; remove it, and the next import makes "
		        "another", err);
		free(err);
		return -1;
	}
	text[strcspn(text, "\r\n")] = 0;
	if (!*text) {
		errline("mcp import --http: %s is empty; remove it, and the next import "
		        "makes another", h->token_path);
		free(text);
		return -1;
	}
	h->token = text;
	h->token_exists = true;
	return 0;
}

static int token_new(struct mcphttp *h)
{
	char hex[65];
	if (random_hex(hex, 32) < 0) {
		errline("mcp import --http: no random bytes for a token: %s", strerror(errno));
		return -1;
	}
	h->token = xstrdup(hex);
	return 0;
}

/* --- opening ------------------------------------------------------------ */

/* The auth line of a section: the token file's path as one word. */
static char *auth_line(const char *path)
{
	char *argv[] = { (char *)path, NULL };
	char *w = words_join(argv), *line = xasprintf("auth = token-file:%s\n", w);
	free(w);
	return line;
}

/* TEXT with its auth lines naming the copy of the token in memory, which
 * is made the first time: the file itself is written only with tend.ini,
 * and the secret never lands anywhere else. */
static char *with_token_check(struct mcphttp *h, const char *text)
{
	if (!h->token_check) {
		int fd = memfd_create("tend-token", MFD_CLOEXEC);
		if (fd < 0)
			return NULL;
		if (write(fd, h->token, strlen(h->token)) != (ssize_t)strlen(h->token)) {
			close(fd);
			return NULL;
		}
		h->token_fd = fd;
		h->token_check = xasprintf("/proc/self/fd/%d", fd);
	}
	char *real = auth_line(h->token_path), *check = auth_line(h->token_check);
	struct buf b = { 0 };
	for (const char *p = text, *at; *p; p = at + strlen(real)) {
		at = strstr(p, real);
		if (!at) {
			buf_adds(&b, p);
			break;
		}
		buf_add(&b, p, (size_t)(at - p));
		buf_adds(&b, check);
	}
	free(real);
	free(check);
	return b.s ? buf_take(&b) : xstrdup("");
}

static int load_now(struct mcphttp *h, char **err)
{
	const char *text = h->now.s ? h->now.s : "";
	char *check = NULL;
	if (h->token && !h->token_exists && !(check = with_token_check(h, text))) {
		*err = xasprintf("cannot keep the new token in memory to check "
		                 "tend.ini with: %s", strerror(errno));
		return -1;
	}
	struct tend_config *cfg = config_load_text(h->path, h->dir, check ? check : text,
	                                           err);
	free(check);
	if (!cfg)
		return -1;
	config_free(h->cfg);
	h->cfg = cfg;
	return 0;
}

/* The file at PATH read (none: empty) and loaded; NULL with *ERR
 * (malloc'd) when it cannot be read, or does not load (*LOADS false). */
static struct mcphttp *read_file(const char *path, char **err, bool *loads)
{
	char *text = NULL;
	*loads = true;
	if (ini_read_file(path, &text, err) < 0) {
		if (errno != ENOENT)
			return NULL;
		free(*err);
		*err = NULL;
		text = xstrdup("");
	}
	struct mcphttp *h = xcalloc(1, sizeof(*h));
	h->token_fd = -1;
	h->path = xstrdup(path);
	const char *slash = strrchr(path, '/');
	h->dir = slash == path ? xstrdup("/") : strndup(path, (size_t)(slash - path));
	h->then = text;
	buf_adds(&h->now, text);
	if (load_now(h, err) < 0) {
		*loads = false;
		mcphttp_free(h);
		return NULL;
	}
	return h;
}

struct mcphttp *mcphttp_open(const char *path, int base_port, bool auth, bool dry)
{
	char *err = NULL;
	bool loads;
	struct mcphttp *h = read_file(path, &err, &loads);
	if (!h && !loads) {
		errline("%s", err);
		errline("mcp import --http: %s does not load; tend adds its sections to "
		        "it: fix it first (tend -c %s check)", path, path);
	} else if (!h) {
		errline("mcp import --http: %s", err);
	}
	free(err);
	if (!h)
		return NULL;
	h->dry = dry;
	h->base_port = base_port;
	if (auth) {
		h->token_path = xasprintf("%s/mcp-http.token", h->dir);
		if (token_read(h) < 0 || (!h->token && token_new(h) < 0)) {
			mcphttp_free(h);
			return NULL;
		}
	}
	return h;
}

struct mcphttp *mcphttp_load(const char *path, char **why)
{
	bool loads;
	*why = NULL;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return NULL;   /* no file: no section */
	struct mcphttp *h = read_file(path, why, &loads);
	if (!h && *why)
		(*why)[strcspn(*why, "\n")] = 0;
	return h;
}

/* Is line LINE of TEXT (from 1) the comment import --http writes? */
static bool import_comment(const char *text, int line)
{
	const char *p = text;
	for (int n = 1; n < line && p; n++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return p && line >= 1 && strncmp(p, MCPHTTP_COMMENT, strlen(MCPHTTP_COMMENT)) == 0;
}

bool mcphttp_served(void *ctx, const char *url, struct mcpconf_served *out)
{
	struct mcphttp *h = ctx;
	for (size_t i = 0; i < h->cfg->nunits; i++) {
		const struct unit_config *u = h->cfg->units[i];
		if (u->kind != KIND_SERVICE || u->stdio != STDIO_MCP || !u->argv.n ||
		    !import_comment(h->then, u->line - 1))
			continue;
		for (size_t k = 0; k < u->http.n; k++) {
			char *mine = addr_http_url(u->http.v[k]);
			bool same = mine && strcmp(mine, url) == 0;
			free(mine);
			if (!same)
				continue;
			*out = (struct mcpconf_served){
				(const char *const *)u->argv.v, u->argv.n,
				(const char *const *)u->env_keys.v, u->env_keys.n, u->cwd };
			h->served++;
			return true;
		}
	}
	return false;
}

size_t mcphttp_served_count(const struct mcphttp *h)
{
	return h->served;
}

void mcphttp_free(struct mcphttp *h)
{
	if (!h)
		return;
	config_free(h->cfg);
	if (h->token_fd >= 0)
		close(h->token_fd);
	free(h->token_check);
	free(h->path);
	free(h->dir);
	free(h->then);
	free(h->now.s);
	free(h->token_path);
	free(h->token);
	free(h->file);
	free(h->title);
	free(h->project);
	free(h);
}

void mcphttp_source(struct mcphttp *h, const char *file, const char *title,
                    const char *project)
{
	free(h->file);
	free(h->title);
	free(h->project);
	h->file = xstrdup(file);
	h->title = xstrdup(title);
	h->project = project ? xstrdup(project) : NULL;
}

const char *mcphttp_path(const struct mcphttp *h)
{
	return h->path;
}

void mcphttp_texts(const struct mcphttp *h, const char **then, const char **now)
{
	*then = h->then;
	*now = h->now.s && strcmp(h->now.s, h->then) != 0 ? h->now.s : NULL;
}

void mcphttp_done(struct mcphttp *h, bool written)
{
	if (written) {
		free(h->then);
		h->then = xstrdup(h->now.s ? h->now.s : "");
		return;
	}
	h->now.len = 0;
	buf_adds(&h->now, h->then);
	char *err = NULL;
	if (load_now(h, &err) < 0)   /* it loaded before */
		free(err);
}

void mcphttp_token_file(const struct mcphttp *h, const char **path, const char **text)
{
	bool make = h->token && !h->token_exists;
	*path = make ? h->token_path : NULL;
	*text = make ? h->token : NULL;
}

void mcphttp_token_made(struct mcphttp *h)
{
	h->token_exists = true;
}

/* --- one server ----------------------------------------------------------- */

/* The entry's environment as env words, "KEY=VALUE", in its order. */
static void env_words(const struct mcpconf_server *s, struct strv *out)
{
	const char *k;
	const json_t *v;
	if (s->env)
		json_object_foreach((json_t *)s->env, k, v)
			strv_push(out, xasprintf("%s=%s", k, json_string_value(v)));
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same words, whatever their order? */
static bool same_set(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return false;
	if (a->n == 0)
		return true;
	char **x = xcalloc(a->n + 1, sizeof(*x)), **y = xcalloc(b->n + 1, sizeof(*y));
	memcpy(x, a->v, a->n * sizeof(*x));
	memcpy(y, b->v, b->n * sizeof(*y));
	qsort(x, a->n, sizeof(*x), by_text);
	qsort(y, b->n, sizeof(*y), by_text);
	bool same = true;
	for (size_t i = 0; i < a->n && same; i++)
		same = strcmp(x[i], y[i]) == 0;
	free(x);
	free(y);
	return same;
}

static bool same_argv(const struct strv *argv, const struct mcpconf_server *s)
{
	if (argv->n != s->nargs + 1 || strcmp(argv->v[0], s->command) != 0)
		return false;
	for (size_t i = 0; i < s->nargs; i++)
		if (strcmp(argv->v[i + 1], s->args[i]) != 0)
			return false;
	return true;
}

/* The section that serves the server of ARGV, CWD and ENV over HTTP on
 * loopback already, or NULL. */
static const struct unit_config *serving(const struct mcphttp *h,
                                         const struct mcpconf_server *s,
                                         const char *cwd, const struct strv *env)
{
	for (size_t i = 0; i < h->cfg->nunits; i++) {
		const struct unit_config *u = h->cfg->units[i];
		if (u->kind != KIND_SERVICE || u->stdio != STDIO_MCP || !u->http.n ||
		    !same_argv(&u->argv, s) || u->env_files.n ||
		    !same_set(&u->env_keys, env) ||
		    (cwd ? !u->cwd || strcmp(u->cwd, cwd) != 0 : u->cwd != NULL))
			continue;
		for (size_t k = 0; k < u->http.n; k++) {
			char *url = addr_http_url(u->http.v[k]);
			bool served = url != NULL;   /* not on a unix socket */
			free(url);
			if (served)
				return u;
		}
	}
	return NULL;
}

/* Where the server runs: its "cwd" (a relative one from the project), else
 * the project its entry belongs to; NULL: the daemon's.  -1 with *WHY. */
static int server_cwd(const struct mcphttp *h, const struct mcpconf_server *s,
                      char **cwd, char **why)
{
	const char *project = s->scope ? s->scope : h->project;
	*cwd = NULL;
	if (s->cwd && s->cwd[0] == '/')
		*cwd = xstrdup(s->cwd);
	else if (s->cwd && !project)
		return *why = xasprintf("its \"cwd\" %s is relative, and to no project "
		                        "directory", s->cwd), -1;
	else if (s->cwd)
		*cwd = xasprintf("%s/%s", project, s->cwd);
	else if (project)
		*cwd = xstrdup(project);
	return 0;
}

/* Can VALUE be written as the value of a line of tend.ini as it is? */
static bool one_line_value(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
	    v[n - 1] == '\t' || v[n - 1] == '\\' || strpbrk(v, "\r\n"))
		return false;
	for (size_t i = 1; i < n; i++)
		if ((v[i] == ';' || v[i] == '#') && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			return false;
	return true;
}

/* tend connect's flags of S as KEY = VALUE lines into OUT.  -1 with *WHY. */
static int flag_lines(const struct mcpconf_server *s, struct buf *out, bool *idle,
                      char **why)
{
	for (size_t i = 0; i < s->nflags; i++) {
		const char *w = s->flags[i];
		if (strncmp(w, "--", 2) != 0 || !w[2])
			return *why = xasprintf("\"%s\" before \"--\" is not a flag of tend "
			                        "connect", w), -1;
		const char *eq = strchr(w, '=');
		char *key = eq ? strndup(w + 2, (size_t)(eq - w - 2)) : xstrdup(w + 2);
		const char *value = eq ? eq + 1 : i + 1 < s->nflags ? s->flags[++i] : NULL;
		int r = 0;
		if (!value)
			r = -1, *why = xasprintf("tend connect's flag --%s has no value", key);
		else if (strcmp(key, "env-ignore") == 0 || strcmp(key, "env-require") == 0)
			;   /* which clients share: over HTTP, every client does */
		else if (!config_is_connect_key(key))
			r = -1, *why = xasprintf("--%s is not a flag of tend connect", key);
		else if (!one_line_value(value))
			r = -1, *why = xasprintf("the value of --%s cannot be written on one "
			                         "line of tend.ini", key);
		else
			buf_addf(out, "%s = %s\n", key, value);
		if (strcmp(key, "idle-stop") == 0)
			*idle = true;
		free(key);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* NAME as a unit's name, one that no unit of the file has. */
static char *section_name(const struct mcphttp *h, const char *name)
{
	struct buf b = { 0 };
	for (const char *c = name; *c && b.len < 48; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		          (*c >= '0' && *c <= '9') || strchr("_.@-", *c);
		if (ok)
			buf_addc(&b, *c);
		else if (b.len && b.s[b.len - 1] != '-')
			buf_addc(&b, '-');
	}
	while (b.len && b.s[b.len - 1] == '-')
		b.s[--b.len] = 0;
	if (!b.len)
		buf_adds(&b, "mcp");
	char *base = buf_take(&b), *n = xstrdup(base);
	for (int k = 2; config_unit_named(h->cfg, n); k++) {
		free(n);
		n = xasprintf("%s-%d", base, k);
	}
	free(base);
	return n;
}

/* The TCP port of SPEC, an address of listen (tcp:, or http: with
 * HTTP), parsed as the daemon parses it; 0 for a unix socket, -1 for an
 * address that does not parse (the loader says so). */
static int spec_port(const char *spec, bool http)
{
	struct addr a;
	char path[256], *why = NULL;
	int r = http ? addr_parse_http(spec, &a, path, sizeof(path), &why)
	             : addr_parse(spec, &a, &why);
	free(why);
	return r < 0 ? -1 : (int)addr_port(&a);
}

/* Does a section of tend.ini listen on PORT already? */
static bool port_in_file(const struct mcphttp *h, int port)
{
	for (size_t i = 0; i < h->cfg->nunits; i++) {
		const struct unit_config *u = h->cfg->units[i];
		for (size_t k = 0; k < u->http.n; k++)
			if (spec_port(u->http.v[k], true) == port)
				return true;
		for (size_t k = 0; k < u->listen.n; k++)
			if (spec_port(u->listen.v[k], false) == port)
				return true;
	}
	return false;
}

/* Can a socket be bound to 127.0.0.1:PORT now? */
static bool port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int next_port(const struct mcphttp *h)
{
	for (int p = h->base_port; p <= 65535; p++)
		if (!port_in_file(h, p) && port_free(p))
			return p;
	return -1;
}

/* Appends to OUT the value WORD as one word of tend.ini's command lines. */
static void add_word(struct buf *out, const char *word)
{
	char *argv[] = { (char *)word, NULL };
	char *w = words_join(argv);
	buf_adds(out, w);
	free(w);
}

/* What a comment may hold of TEXT: one line, no control character. */
static void add_clean(struct buf *out, const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			buf_addc(out, '?');
		else
			buf_addc(out, (char)*c);
}

/* The section for S named NAME on PORT, into OUT; -1 with *WHY. */
static int section(const struct mcphttp *h, const struct mcpconf_server *s,
                   const char *name, int port, const char *cwd,
                   const struct strv *env, struct buf *out, char **why)
{
	struct buf keys = { 0 };
	bool idle = false;
	if (flag_lines(s, &keys, &idle, why) < 0) {
		free(keys.s);
		return -1;
	}
	buf_adds(out, MCPHTTP_COMMENT " \"");
	add_clean(out, s->name);
	buf_adds(out, "\" of ");
	add_clean(out, h->file ? h->file : "?");
	if (s->scope) {
		buf_adds(out, ", project ");
		add_clean(out, s->scope);
	}
	buf_addf(out, " (%s)\n[service %s]\nexec = ", h->title ? h->title : "?", name);
	char *line = mcpconf_cmdline(s->command, s->args, s->nargs);
	buf_adds(out, line);
	free(line);
	buf_addf(out, "\nstdio = mcp\nlisten = http:127.0.0.1:%d\n", port);
	if (h->token_path) {
		char *auth = auth_line(h->token_path);
		buf_adds(out, auth);
		free(auth);
	}
	if (cwd) {
		buf_adds(out, "cwd = ");
		add_word(out, cwd);
		buf_addc(out, '\n');
	}
	for (size_t i = 0; i < env->n; i++) {
		buf_adds(out, "env = ");
		add_word(out, env->v[i]);
		buf_addc(out, '\n');
	}
	if (!idle)
		buf_adds(out, "idle-stop = 10m\n");
	if (keys.s)
		buf_adds(out, keys.s);
	free(keys.s);
	return 0;
}

/* The first line of a loader's message. */
static char *first_line(char *err)
{
	err[strcspn(err, "\n")] = 0;
	return err;
}

char *mcphttp_url(void *ctx, const struct mcpconf_server *s, const char **token,
                  char **why)
{
	struct mcphttp *h = ctx;
	struct strv env = { 0 };
	char *cwd = NULL, *url = NULL;
	*token = NULL;
	env_words(s, &env);
	if (server_cwd(h, s, &cwd, why) < 0)
		goto out;
	const struct unit_config *u = s->nflags ? NULL : serving(h, s, cwd, &env);
	if (u) {
		for (size_t k = 0; k < u->http.n && !url; k++)
			url = addr_http_url(u->http.v[k]);
		*token = u->auth_token;
		goto out;
	}
	int port = next_port(h);
	if (port < 0) {
		*why = xasprintf("no free port on 127.0.0.1 from %d up", h->base_port);
		goto out;
	}
	char *name = section_name(h, s->name);
	size_t len = h->now.len;
	if (len && h->now.s[len - 1] != '\n')
		buf_addc(&h->now, '\n');
	if (len)
		buf_addc(&h->now, '\n');
	int r = section(h, s, name, port, cwd, &env, &h->now, why);
	char *err = NULL;
	if (r == 0 && load_now(h, &err) < 0) {
		*why = xasprintf("its section would not load: %s", first_line(err));
		free(err);
		r = -1;
	}
	if (r < 0) {
		h->now.len = len;
		if (h->now.s)
			h->now.s[len] = 0;
	} else {
		url = xasprintf("http://127.0.0.1:%d%s", port, ADDR_HTTP_PATH);
		*token = h->token;
		if (h->dry && !h->token_exists)
			*token = "NEW-TOKEN";   /* made at the import itself */
	}
	free(name);
out:
	strv_free(&env);
	free(cwd);
	return url;
}
