/* mcpconf — see mcpconf.h. */
#include "mcpconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "words.h"

/* --- the report ---------------------------------------------------------- */

void mcpconf_report_add(struct mcpconf_report *rep, const char *scope,
                        const char *name, enum mcpconf_outcome outcome,
                        const char *detail)
{
	if (rep->n == rep->cap) {
		rep->cap = rep->cap ? rep->cap * 2 : 8;
		rep->v = xrealloc(rep->v, rep->cap * sizeof(*rep->v));
	}
	struct mcpconf_entry *e = &rep->v[rep->n++];
	e->scope = scope ? xstrdup(scope) : NULL;
	e->name = xstrdup(name);
	e->outcome = outcome;
	e->detail = xstrdup(detail ? detail : "");
}

void mcpconf_report_free(struct mcpconf_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		free(rep->v[i].scope);
		free(rep->v[i].name);
		free(rep->v[i].detail);
	}
	free(rep->v);
	rep->v = NULL;
	rep->n = rep->cap = 0;
}

/* --- tend's own command lines -------------------------------------------- */

bool mcpconf_is_tend(const char *command)
{
	size_t n = strlen(command);
	return strcmp(command, "tend") == 0 ||
	       (n > 5 && strcmp(command + n - 5, "/tend") == 0);
}

long mcpconf_connect_at(const char *const *args, size_t n, long *cmd)
{
	size_t i = 0;
	/* tend's global options that may come before the command */
	while (i < n) {
		if (strcmp(args[i], "-c") == 0 || strcmp(args[i], "--config") == 0)
			i += 2;
		else if (strncmp(args[i], "--config=", 9) == 0)
			i++;
		else
			break;
	}
	if (i >= n || strcmp(args[i], "connect") != 0)
		return -1;
	*cmd = -1;
	for (size_t j = i + 1; j < n; j++)
		if (strcmp(args[j], "--") == 0) {
			*cmd = (long)j + 1;
			break;
		}
	return (long)i + 1;
}

char *mcpconf_cmdline(const char *command, const char *const *args, size_t n)
{
	char **argv = xcalloc(n + 2, sizeof(*argv));
	argv[0] = (char *)command;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	char *s = words_join(argv);
	free(argv);
	return s;
}

/* --- the decision ------------------------------------------------------- */

static bool has_blank(const char *s)
{
	return strpbrk(s, " \t\n\r\v\f") != NULL;
}

static enum mcpconf_outcome decide_import(const char *tend, const char *command,
                                          const char *const *args, size_t n,
                                          struct mcpconf_argv *to, char **detail)
{
	if (mcpconf_is_tend(command)) {
		long cmd = -1;
		long at = mcpconf_connect_at(args, n, &cmd);
		if (at < 0) {
			*detail = xstrdup("it runs tend itself, not tend connect");
			return MCPCONF_UNUSABLE;
		}
		if (cmd < 0)
			*detail = xasprintf("service %s", at < (long)n ? args[at] : "?");
		else if (cmd < (long)n)
			*detail = mcpconf_cmdline(args[cmd], args + cmd + 1,
			                          n - (size_t)cmd - 1);
		else
			*detail = xstrdup("nothing after \"--\"");
		return MCPCONF_TEND;
	}
	if (!*command) {
		*detail = xstrdup("the command is empty");
		return MCPCONF_UNUSABLE;
	}
	/* A client that runs "command" through a shell splits it; tend
	 * connect would not.  A full path may hold blanks. */
	if (command[0] != '/' && has_blank(command)) {
		*detail = xstrdup("the command holds blanks: put the program alone "
		                  "in the command and its words in the arguments");
		return MCPCONF_UNUSABLE;
	}
	to->command = tend;
	to->nargs = n + 3;
	to->args = xcalloc(n + 4, sizeof(*to->args));
	to->args[0] = "connect";
	to->args[1] = "--";
	to->args[2] = command;
	for (size_t i = 0; i < n; i++)
		to->args[i + 3] = args[i];
	*detail = mcpconf_cmdline(command, args, n);
	return MCPCONF_CHANGED;
}

static enum mcpconf_outcome decide_unimport(const char *command,
                                            const char *const *args, size_t n,
                                            struct mcpconf_argv *to, char **detail)
{
	long cmd = -1;
	long at = mcpconf_is_tend(command) ? mcpconf_connect_at(args, n, &cmd) : -1;
	if (at < 0) {
		*detail = xstrdup("not through tend");
		return MCPCONF_NOT_TEND;
	}
	if (cmd < 0) {
		*detail = xasprintf("it connects to the service %s of a tend.ini, "
		                    "not to a command line",
		                    at < (long)n ? args[at] : "?");
		return MCPCONF_NOT_TEND;
	}
	if (cmd >= (long)n || !*args[cmd]) {
		*detail = xstrdup("no command after \"--\"");
		return MCPCONF_UNUSABLE;
	}
	to->command = args[cmd];
	to->nargs = n - (size_t)cmd - 1;
	to->args = xcalloc(to->nargs + 1, sizeof(*to->args));
	for (size_t i = 0; i < to->nargs; i++)
		to->args[i] = args[(size_t)cmd + 1 + i];
	*detail = mcpconf_cmdline(to->command, to->args, to->nargs);
	return MCPCONF_CHANGED;
}

enum mcpconf_outcome mcpconf_decide(enum mcpconf_op op, const char *tend,
                                    const char *command, const char *const *args,
                                    size_t n, struct mcpconf_argv *to,
                                    char **detail)
{
	memset(to, 0, sizeof(*to));
	if (op == MCPCONF_IMPORT)
		return decide_import(tend, command, args, n, to, detail);
	return decide_unimport(command, args, n, to, detail);
}

/* --- one entry ----------------------------------------------------------- */

enum kind { KIND_STDIO, KIND_REMOTE, KIND_UNUSABLE };

/* A stdio entry as read: pointers into the document's strings. */
struct stdio_entry {
	const char *command;
	const char **args;
	size_t nargs;
	bool has_args;
};

static const char *const remote_types[] = {
	"http", "sse", "streamable-http", "streamableHttp", "streamable_http", "ws",
};

static bool is_plain_string(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static enum kind unusable(char **why, const char *reason)
{
	*why = xstrdup(reason);
	return KIND_UNUSABLE;
}

/* An entry whose "type" is TYPE, not stdio: remote (true), or one tend
 * does not know; *WHY says which. */
static bool remote_type(const char *type, char **why)
{
	for (size_t i = 0; i < ARRAY_LEN(remote_types); i++)
		if (strcmp(type, remote_types[i]) == 0) {
			*why = xasprintf("type %s", remote_types[i]);
			return true;
		}
	*why = xasprintf("type \"%s\" is not one tend knows", type);
	return false;
}

/* Without a "type", a url or an httpUrl says the entry E is remote. */
static bool untyped_remote(const json_t *e, char **why)
{
	static const char *const url_keys[] = { "url", "httpUrl" };
	for (size_t i = 0; i < ARRAY_LEN(url_keys); i++)
		if (json_object_get(e, url_keys[i])) {
			*why = xstrdup(url_keys[i]);
			return true;
		}
	return false;
}

/* The "args" of E, if it has them, into S: a list of strings. */
static enum kind read_args(const json_t *e, struct stdio_entry *s, char **why)
{
	const json_t *args = json_object_get(e, "args");
	if (!args)
		return KIND_STDIO;
	if (!json_is_array(args))
		return unusable(why, "\"args\" is not a list");
	s->has_args = true;
	s->nargs = json_array_size(args);
	s->args = xcalloc(s->nargs + 1, sizeof(*s->args));
	for (size_t i = 0; i < s->nargs; i++) {
		const json_t *a = json_array_get(args, i);
		if (!is_plain_string(a)) {
			free(s->args);
			memset(s, 0, sizeof(*s));
			return unusable(why, "\"args\" holds a value that is not a "
			                "string");
		}
		s->args[i] = json_string_value(a);
	}
	return KIND_STDIO;
}

/* The command and arguments of the stdio entry E into S. */
static enum kind read_stdio(const json_t *e, struct stdio_entry *s, char **why)
{
	const json_t *command = json_object_get(e, "command");
	if (!command)
		return unusable(why, "no \"command\"");
	if (!is_plain_string(command) || !*json_string_value(command))
		return unusable(why, "\"command\" is not a non-empty string");
	s->command = json_string_value(command);
	return read_args(e, s, why);
}

/* Reads the kind of entry E; a stdio one into *S (free s->args), the reason
 * why not (malloc'd) into *WHY for the others. */
static enum kind classify(const json_t *e, struct stdio_entry *s, char **why)
{
	memset(s, 0, sizeof(*s));
	*why = NULL;
	if (!json_is_object(e))
		return unusable(why, "not an object");
	const json_t *type = json_object_get(e, "type");
	if (type && !json_is_string(type))
		return unusable(why, "\"type\" is not a string");
	if (type && strcmp(json_string_value(type), "stdio") != 0)
		return remote_type(json_string_value(type), why) ? KIND_REMOTE
		                                                 : KIND_UNUSABLE;
	if (!type && untyped_remote(e, why))
		return KIND_REMOTE;
	return read_stdio(e, s, why);
}

static json_t *string_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* Sets E's "args" to ARGS; a new member goes right after "command", where
 * a reader expects it (jansson would append it). */
static void set_args(json_t *e, json_t *args)
{
	if (json_object_get(e, "args")) {
		json_object_set_new(e, "args", args);
		return;
	}
	json_t *copy = json_object();
	const char *key;
	json_t *v;
	json_object_foreach(e, key, v) {
		json_object_set(copy, key, v);
		if (strcmp(key, "command") == 0)
			json_object_set_new(copy, "args", args);
	}
	json_object_clear(e);
	json_object_update(e, copy);
	json_decref(copy);
}

/* --- the documents' server maps ------------------------------------------ */

struct map {
	const char *scope; /* into the document */
	json_t *servers;
};

struct maps {
	struct map *v;
	size_t n, cap;
};

static void maps_add(struct maps *m, const char *scope, json_t *servers)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 4;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n++] = (struct map){ scope, servers };
}

static const char *servers_key(enum mcpconf_layout layout)
{
	return layout == MCPCONF_VSCODE ? "servers" : "mcpServers";
}

/* Every server map of DOC, or -1 with *ERR. */
static int find_maps(json_t *doc, enum mcpconf_layout layout, struct maps *m,
                     char **err)
{
	const char *key = servers_key(layout);
	if (!json_is_object(doc)) {
		*err = xstrdup("the top level is not an object");
		return -1;
	}
	json_t *top = json_object_get(doc, key);
	if (top && !json_is_object(top)) {
		*err = xasprintf("\"%s\" is not an object", key);
		return -1;
	}
	if (top)
		maps_add(m, NULL, top);
	json_t *projects = layout == MCPCONF_CLAUDE_USER ?
	                   json_object_get(doc, "projects") : NULL;
	if (!json_is_object(projects))
		return 0;
	const char *path;
	json_t *p;
	json_object_foreach(projects, path, p) {
		json_t *servers = json_is_object(p) ? json_object_get(p, key) : NULL;
		if (servers && !json_is_object(servers)) {
			*err = xasprintf("\"%s\" of project %s is not an object", key, path);
			return -1;
		}
		if (servers)
			maps_add(m, path, servers);
	}
	return 0;
}

/* The server map of scope SCOPE in DOC, or NULL. */
static json_t *map_of(json_t *doc, enum mcpconf_layout layout, const char *scope)
{
	if (!json_is_object(doc))
		return NULL;
	json_t *holder = doc;
	if (scope) {
		json_t *projects = layout == MCPCONF_CLAUDE_USER ?
		                   json_object_get(doc, "projects") : NULL;
		holder = json_is_object(projects) ? json_object_get(projects, scope) : NULL;
	}
	json_t *m = json_is_object(holder) ?
	            json_object_get(holder, servers_key(layout)) : NULL;
	return json_is_object(m) ? m : NULL;
}

static bool same_words(const char *const *a, size_t na, const char *const *b,
                       size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* Did the newest hint that has entry SCOPE/NAME running COMMAND + ARGS
 * directly give it an "args" member?  Yes when no hint says. */
static bool hint_has_args(json_t *const *hints, size_t nhints,
                          enum mcpconf_layout layout, const char *scope,
                          const char *name, const char *command,
                          const char *const *args, size_t nargs)
{
	for (size_t h = 0; h < nhints; h++) {
		json_t *m = map_of(hints[h], layout, scope);
		json_t *e = m ? json_object_get(m, name) : NULL;
		if (!e)
			continue;
		struct stdio_entry s;
		char *why = NULL;
		bool match = classify(e, &s, &why) == KIND_STDIO &&
		             !mcpconf_is_tend(s.command) &&
		             strcmp(s.command, command) == 0 &&
		             same_words(s.args, s.nargs, args, nargs);
		bool had = s.has_args;
		free(s.args);
		free(why);
		if (match)
			return had;
	}
	return true;
}

struct rewrite {
	enum mcpconf_layout layout;
	enum mcpconf_op op;
	const char *tend;
	json_t *const *hints;
	size_t nhints;
	struct mcpconf_report *rep;
	int changed;
	const struct mcpconf_http *http;   /* import --http */
	mcpconf_served_fn served;          /* unimport of what it wrote */
	void *served_ctx;
};

/* Rewrites the stdio entry E (read as S) by the decision. */
static void rewrite_stdio(json_t *e, const struct stdio_entry *s, const char *scope,
                          const char *name, struct rewrite *r)
{
	struct mcpconf_argv to;
	char *detail = NULL;
	enum mcpconf_outcome o = mcpconf_decide(r->op, r->tend, s->command, s->args,
	                                        s->nargs, &to, &detail);
	if (o == MCPCONF_CHANGED) {
		bool keep_args = r->op == MCPCONF_IMPORT || to.nargs > 0 ||
		                 hint_has_args(r->hints, r->nhints, r->layout, scope,
		                               name, to.command, to.args, to.nargs);
		/* TO points into E's members: read it all before they change */
		json_t *command = json_string(to.command);
		json_t *args = keep_args ? string_array(to.args, to.nargs) : NULL;
		json_object_set_new(e, "command", command);
		if (args)
			set_args(e, args);
		else
			json_object_del(e, "args");
		r->changed++;
	}
	mcpconf_report_add(r->rep, scope, name, o, detail);
	free(to.args);
	free(detail);
}

/* --- import --http -------------------------------------------------------- */

/* Is V an object of strings (without NUL bytes)? */
static bool string_object(const json_t *v)
{
	if (!json_is_object(v))
		return false;
	const char *k;
	const json_t *x;
	json_object_foreach((json_t *)v, k, x)
		if (!is_plain_string(x))
			return false;
	return true;
}

/* The server entry S runs, into SRV; NULL, or why tend cannot serve it
 * (*OUTCOME: UNUSABLE, or TEND for a connect to a configured section). */
static char *server_of(const json_t *e, const struct stdio_entry *s,
                       struct mcpconf_server *srv, enum mcpconf_outcome *outcome)
{
	*outcome = MCPCONF_UNUSABLE;
	srv->command = s->command;
	srv->args = s->args;
	srv->nargs = s->nargs;
	if (mcpconf_is_tend(s->command)) {
		long cmd = -1;
		long at = mcpconf_connect_at(s->args, s->nargs, &cmd);
		if (at < 0)
			return xstrdup("it runs tend itself, not tend connect");
		if (cmd < 0) {
			*outcome = MCPCONF_TEND;
			return xasprintf("service %s of a tend.ini: give its section a "
			                 "listen = http:127.0.0.1:PORT instead",
			                 at < (long)s->nargs ? s->args[at] : "?");
		}
		if (cmd >= (long)s->nargs || !*s->args[cmd])
			return xstrdup("nothing after \"--\"");
		srv->command = s->args[cmd];
		srv->args = s->args + cmd + 1;
		srv->nargs = s->nargs - (size_t)cmd - 1;
		srv->flags = s->args + at;
		srv->nflags = (size_t)(cmd - 1 - at);
	} else if (s->command[0] != '/' && has_blank(s->command)) {
		return xstrdup("the command holds blanks: put the program alone in the "
		               "command and its words in the arguments");
	}
	const json_t *env = json_object_get(e, "env");
	if (env && !string_object(env))
		return xstrdup("\"env\" is not an object of strings");
	srv->env = env;
	const json_t *cwd = json_object_get(e, "cwd");
	if (cwd && !is_plain_string(cwd))
		return xstrdup("\"cwd\" is not a string");
	srv->cwd = cwd ? json_string_value(cwd) : NULL;
	return NULL;
}

/* E's members named in GONE (N of them) replaced by WITH's (taken), in
 * the place of the first of them; every other member stays where it is. */
static void replace_members(json_t *e, const char *const *gone, size_t n, json_t *with)
{
	json_t *copy = json_object();
	bool placed = false;
	const char *key;
	json_t *v;
	json_object_foreach(e, key, v) {
		bool drop = false;
		for (size_t i = 0; i < n; i++)
			drop = drop || strcmp(key, gone[i]) == 0;
		if (drop && !placed) {
			json_object_update(copy, with);
			placed = true;
		}
		if (!drop)
			json_object_set(copy, key, v);
	}
	if (!placed)
		json_object_update(copy, with);
	json_object_clear(e);
	json_object_update(e, copy);
	json_decref(copy);
	json_decref(with);
}

/* Makes E the remote entry of URL (the place of its "command" or "type"
 * kept, every member tend does not run the server with kept). */
static void set_remote(json_t *e, enum mcpconf_url_style style, const char *url,
                       const char *token)
{
	static const char *const gone[] = { "command", "args", "env", "cwd", "type",
	                                    "url", "httpUrl" };
	json_t *with = json_object();
	if (style == MCPCONF_URL_TYPED)
		json_object_set_new(with, "type", json_string("http"));
	json_object_set_new(with, style == MCPCONF_URL_HTTPURL ? "httpUrl" : "url",
	                    json_string(url));
	replace_members(e, gone, ARRAY_LEN(gone), with);
	if (token) {
		json_t *h = json_object_get(e, "headers");
		if (!json_is_object(h)) {
			h = json_object();
			json_object_set_new(e, "headers", h);
		}
		char *bearer = xasprintf("Bearer %s", token);
		json_object_set_new(h, "Authorization", json_string(bearer));
		free(bearer);
	}
}

static void rewrite_http(json_t *e, const struct stdio_entry *s, const char *scope,
                         const char *name, struct rewrite *r)
{
	struct mcpconf_server srv = { .scope = scope, .name = name };
	enum mcpconf_outcome o;
	char *why = server_of(e, s, &srv, &o), *url = NULL;
	const char *token = NULL;
	if (!why) {
		url = r->http->url(r->http->ctx, &srv, &token, &why);
		o = url ? MCPCONF_CHANGED : MCPCONF_UNUSABLE;
	}
	char *detail = why;
	if (url) {
		char *line = mcpconf_cmdline(srv.command, srv.args, srv.nargs);
		detail = xasprintf("%s (%s)", url, line);
		free(line);
		set_remote(e, r->http->style, url, token);
		r->changed++;
	}
	mcpconf_report_add(r->rep, scope, name, o, detail);
	free(detail);
	free(url);
}

/* --- unimport of import --http's entries ----------------------------------- */

/* The URL of the remote entry E, or NULL. */
static const char *url_of(const json_t *e)
{
	const json_t *u = json_object_get(e, "url");
	if (!u)
		u = json_object_get(e, "httpUrl");
	return is_plain_string(u) ? json_string_value(u) : NULL;
}

/* Does the stdio entry S (direct, or through tend connect --) run ARGV? */
static bool runs(const struct stdio_entry *s, const struct mcpconf_served *v,
                 const char **cmd, const char *const **args, size_t *nargs)
{
	*cmd = s->command;
	*args = s->args;
	*nargs = s->nargs;
	if (mcpconf_is_tend(s->command)) {
		long at, c = -1;
		at = mcpconf_connect_at(s->args, s->nargs, &c);
		if (at < 0 || c < 0 || c >= (long)s->nargs)
			return false;
		*cmd = s->args[c];
		*args = s->args + c + 1;
		*nargs = s->nargs - (size_t)c - 1;
	}
	return v->argc == *nargs + 1 && strcmp(v->argv[0], *cmd) == 0 &&
	       same_words(v->argv + 1, v->argc - 1, *args, *nargs);
}

/* The newest hint's entry SCOPE/NAME that ran V, or NULL. */
static const json_t *hint_running(const struct rewrite *r, const char *scope,
                                  const char *name, const struct mcpconf_served *v)
{
	for (size_t h = 0; h < r->nhints; h++) {
		json_t *m = map_of(r->hints[h], r->layout, scope);
		json_t *e = m ? json_object_get(m, name) : NULL;
		struct stdio_entry s;
		char *why = NULL;
		const char *cmd;
		const char *const *args;
		size_t n;
		bool match = e && classify(e, &s, &why) == KIND_STDIO &&
		             runs(&s, v, &cmd, &args, &n);
		if (e)
			free(s.args);
		free(why);
		if (match)
			return e;
	}
	return NULL;
}

/* The stdio members of the entry that runs V, in the order import found
 * them: from HINT's entry, else made from V. */
static json_t *stdio_members(const struct mcpconf_served *v, const json_t *hint,
                             const char *scope)
{
	json_t *m = json_object();
	if (hint) {
		const json_t *type = json_object_get(hint, "type");
		if (type)
			json_object_set(m, "type", (json_t *)type);
	}
	json_object_set_new(m, "command", json_string(v->argv[0]));
	if (!hint || json_object_get(hint, "args") || v->argc > 1)
		json_object_set_new(m, "args", string_array(v->argv + 1, v->argc - 1));
	if (hint) {
		static const char *const keep[] = { "env", "cwd" };
		for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
			const json_t *x = json_object_get(hint, keep[i]);
			if (x)
				json_object_set(m, keep[i], (json_t *)x);
		}
		return m;
	}
	if (v->nenv) {
		json_t *env = json_object();
		for (size_t i = 0; i < v->nenv; i++) {
			const char *eq = strchr(v->env[i], '=');
			char *k = eq ? strndup(v->env[i], (size_t)(eq - v->env[i])) : NULL;
			if (k)
				json_object_set_new(env, k, json_string(eq + 1));
			free(k);
		}
		json_object_set_new(m, "env", env);
	}
	if (v->cwd && !(scope && strcmp(scope, v->cwd) == 0))
		json_object_set_new(m, "cwd", json_string(v->cwd));
	return m;
}

/* The remote entry E, when tend serves its URL, runs its server again. */
static bool rewrite_served(json_t *e, const char *scope, const char *name,
                           struct rewrite *r)
{
	const char *url = url_of(e);
	struct mcpconf_served v = { 0 };
	if (!url || !r->served || !r->served(r->served_ctx, url, &v) || !v.argc)
		return false;
	static const char *const gone[] = { "url", "httpUrl", "type" };
	replace_members(e, gone, ARRAY_LEN(gone),
	                stdio_members(&v, hint_running(r, scope, name, &v), scope));
	json_t *h = json_object_get(e, "headers");
	if (json_is_object(h)) {
		json_object_del(h, "Authorization");
		if (!json_object_size(h))
			json_object_del(e, "headers");
	}
	char *line = mcpconf_cmdline(v.argv[0], v.argv + 1, v.argc - 1);
	mcpconf_report_add(r->rep, scope, name, MCPCONF_CHANGED, line);
	free(line);
	r->changed++;
	return true;
}

/* --- the documents -------------------------------------------------------- */

static int rewrite_doc(json_t *doc, struct rewrite *r, char **err)
{
	struct maps maps = { 0 };
	if (find_maps(doc, r->layout, &maps, err) < 0) {
		free(maps.v);
		return -1;
	}
	for (size_t i = 0; i < maps.n; i++) {
		const char *name;
		json_t *e;
		json_object_foreach(maps.v[i].servers, name, e) {
			struct stdio_entry s;
			char *why = NULL;
			enum kind k = classify(e, &s, &why);
			if (k == KIND_STDIO && r->http)
				rewrite_http(e, &s, maps.v[i].scope, name, r);
			else if (k == KIND_STDIO)
				rewrite_stdio(e, &s, maps.v[i].scope, name, r);
			else if (!(k == KIND_REMOTE && r->op == MCPCONF_UNIMPORT &&
			           rewrite_served(e, maps.v[i].scope, name, r)))
				mcpconf_report_add(r->rep, maps.v[i].scope, name,
				                   k == KIND_REMOTE ? MCPCONF_REMOTE
				                                    : MCPCONF_UNUSABLE, why);
			free(s.args);
			free(why);
		}
	}
	free(maps.v);
	return r->changed;
}

int mcpconf_rewrite(json_t *doc, enum mcpconf_layout layout, enum mcpconf_op op,
                    const char *tend, json_t *const *hints, size_t nhints,
                    struct mcpconf_report *rep, char **err)
{
	struct rewrite r = { layout, op, tend, hints, nhints, rep, 0, NULL, NULL, NULL };
	return rewrite_doc(doc, &r, err);
}

int mcpconf_unimport(json_t *doc, enum mcpconf_layout layout, json_t *const *hints,
                     size_t nhints, mcpconf_served_fn served, void *ctx,
                     struct mcpconf_report *rep, char **err)
{
	struct rewrite r = { layout, MCPCONF_UNIMPORT, NULL, hints, nhints, rep, 0, NULL,
	                     served, ctx };
	return rewrite_doc(doc, &r, err);
}

int mcpconf_rewrite_http(json_t *doc, enum mcpconf_layout layout,
                         const struct mcpconf_http *http,
                         struct mcpconf_report *rep, char **err)
{
	struct rewrite r = { layout, MCPCONF_IMPORT, NULL, NULL, 0, rep, 0, http, NULL, NULL };
	return rewrite_doc(doc, &r, err);
}

/* --- text ---------------------------------------------------------------- */

static void dump_string(struct buf *b, const char *s, size_t n)
{
	buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\b': buf_adds(b, "\\b"); break;
		case '\f': buf_adds(b, "\\f"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default:
			if (c < 0x20) {
				char u[8];
				snprintf(u, sizeof(u), "\\u%04x", c);
				buf_adds(b, u);
			} else {
				buf_addc(b, (char)c);
			}
		}
	}
	buf_addc(b, '"');
}

/* The shortest text that reads back as D, still a real ("1.0", not "1"). */
static void dump_real(struct buf *b, double d)
{
	char s[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	buf_adds(b, s);
	if (!strpbrk(s, ".eEn"))
		buf_adds(b, ".0");
}

static void dump_indent(struct buf *b, const char *indent, int depth)
{
	for (int i = 0; i < depth; i++)
		buf_adds(b, indent);
}

static void dump_value(struct buf *b, const json_t *v, const char *indent,
                       int depth);

/* NOLINTNEXTLINE(misc-no-recursion): as deep as jansson parses (2048 levels) */
static void dump_object(struct buf *b, const json_t *v, const char *indent,
                        int depth)
{
	size_t left = json_object_size(v);
	if (left == 0) {
		buf_adds(b, "{}");
		return;
	}
	buf_adds(b, "{\n");
	const char *key;
	const json_t *m;
	json_object_foreach((json_t *)v, key, m) {
		dump_indent(b, indent, depth + 1);
		dump_string(b, key, strlen(key));
		buf_adds(b, ": ");
		dump_value(b, m, indent, depth + 1);
		buf_adds(b, --left ? ",\n" : "\n");
	}
	dump_indent(b, indent, depth);
	buf_addc(b, '}');
}

/* NOLINTNEXTLINE(misc-no-recursion): as deep as jansson parses (2048 levels) */
static void dump_array(struct buf *b, const json_t *v, const char *indent,
                       int depth)
{
	size_t n = json_array_size(v);
	if (n == 0) {
		buf_adds(b, "[]");
		return;
	}
	buf_adds(b, "[\n");
	for (size_t i = 0; i < n; i++) {
		dump_indent(b, indent, depth + 1);
		dump_value(b, json_array_get(v, i), indent, depth + 1);
		buf_adds(b, i + 1 < n ? ",\n" : "\n");
	}
	dump_indent(b, indent, depth);
	buf_addc(b, ']');
}

/* A string, a number, true, false or null. */
static void dump_scalar(struct buf *b, const json_t *v)
{
	char num[32];
	switch (json_typeof(v)) {
	case JSON_STRING:
		dump_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		buf_adds(b, num);
		break;
	case JSON_REAL:
		dump_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		buf_adds(b, "true");
		break;
	case JSON_FALSE:
		buf_adds(b, "false");
		break;
	case JSON_NULL:
		buf_adds(b, "null");
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;   /* not scalars: dump_value's */
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): as deep as jansson parses (2048 levels) */
static void dump_value(struct buf *b, const json_t *v, const char *indent,
                       int depth)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		dump_object(b, v, indent, depth);
		break;
	case JSON_ARRAY:
		dump_array(b, v, indent, depth);
		break;
	default:
		dump_scalar(b, v);
		break;
	}
}

char *mcpconf_dump(const json_t *doc, const char *indent)
{
	struct buf b = { 0 };
	dump_value(&b, doc, indent, 0);
	buf_addc(&b, '\n');
	return buf_take(&b);
}

char *mcpconf_indent_of(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] != '\n')
			continue;
		size_t j = i + 1;
		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		if (j == i + 1 || j == len || text[j] == '\n' || text[j] == '\r')
			continue;
		size_t n = j - i - 1 < 8 ? j - i - 1 : 8;
		char *s = xmalloc(n + 1);
		memcpy(s, text + i + 1, n);
		s[n] = '\0';
		return s;
	}
	return xstrdup("  ");
}

const char *mcpconf_jsonc_reason(const char *text, size_t len)
{
	bool in_string = false, comma = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '/' && i + 1 < len && (text[i + 1] == '/' || text[i + 1] == '*'))
			return "it has comments";
		if ((c == '}' || c == ']') && comma)
			return "it has a trailing comma";
		if (c == '"')
			in_string = true;
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			comma = c == ',';
	}
	return NULL;
}
