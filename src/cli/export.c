/* export — the command, and what its engines share (export_int.h). */
#include "export.h"
#include "export_int.h"

#include "addr.h"
#include "cmd.h"
#include "parse.h"
#include "probe_spec.h"
#include "suggest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_USAGE 2

static const char usage_export[] =
	"usage: tend [-c FILE] export systemd|kubernetes|compose [NAME ...] [-o DIR]\n"
	"                            [--user]\n"
	"\n"
	"Writes, from the file, what another engine runs: every setting that\n"
	"has a counterpart there is kept; a key set in the file that has none\n"
	"is named, one line on stderr and a comment in the output.\n"
	"\n"
	"  systemd      a .service per unit; a .socket per service with listen\n"
	"               (with backend, NAME-proxy.socket and NAME-proxy.service\n"
	"               of systemd-socket-proxyd); a .timer for every, a .path\n"
	"               for watch.  --user: user units (default: system units)\n"
	"  kubernetes   one manifest: a Deployment per service, a Job per job (a\n"
	"               CronJob for every), a Service per tcp listen, a ConfigMap\n"
	"               of the env-file variables\n"
	"  compose      a compose.yaml\n"
	"\n"
	"NAME: units (names, shell-style globs, all; default: every unit).\n"
	"-o DIR: write the files into DIR (made when missing; files of the same\n"
	"names are replaced); else to stdout, each after a header comment.\n"
	"Exit 0; 1 when a file could not be written; 2 for bad usage or a file\n"
	"with an error.  docs/beyond-one-machine.md: which key becomes what.\n";

static const char *const engine_names[] = { "systemd", "kubernetes", "compose",
                                            NULL };

/* [tend]'s keys: none has a counterpart in any of the engines. */
static const struct exp_lost global_lost[] = {
	{ "log-max", "the engine keeps the output itself, rotated by its own "
	  "settings" },
	{ "memory-interval", "the engine's memory limit is the kernel's (a "
	  "cgroup), enforced at each allocation, not sampled" },
	{ "max-jobs", "no cap on the runs of all jobs at once" },
	{ "pid-namespace", "the engine contains each tree itself (a cgroup; a "
	  "container's own pid namespace)" },
	{ NULL, NULL },
};

/* --- notes --- */

static char *where_of(const struct exp *x, const struct unit_config *u,
                      const char *key)
{
	int line = u ? config_key_line(u, key) : config_global_line(x->cfg, key);
	if (!line && u)
		line = u->line;
	return line ? xasprintf("%s:%d", x->cfg->path, line) : xstrdup(x->cfg->path);
}

/* The value of KEY in TEXT (tend check's lines "KEY = VALUE"), the values
 * of a repeated key joined with blanks (malloc'd). */
static char *value_in(const char *text, const char *key)
{
	struct buf b = { 0 };
	size_t kl = strlen(key);
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (n > kl + 3 && strncmp(l, key, kl) == 0 &&
		    strncmp(l + kl, " = ", 3) == 0) {
			if (b.len)
				buf_addc(&b, ' ');
			buf_add(&b, l + kl + 3, n - kl - 3);
		}
		l = nl ? nl + 1 : NULL;
	}
	return b.len ? buf_take(&b) : xstrdup("");
}

char *exp_value(const struct unit_config *u, const char *key)
{
	char *text = config_unit_text(u);
	char *v = value_in(text ? text : "", key);
	free(text);
	return v;
}

static char *global_value(const struct tend_config *cfg, const char *key)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		return xstrdup("");
	config_print(cfg, f);
	if (fclose(f) != 0) {
		free(s);
		return xstrdup("");
	}
	/* the [tend] section comes first, up to its blank line */
	char *end = strstr(s, "\n\n");
	if (end)
		end[1] = '\0';
	char *v = value_in(s, key);
	free(s);
	return v;
}

void exp_note(struct exp *x, const struct unit_config *u, const char *key,
              const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *why = xvasprintf(fmt, ap);
	va_end(ap);
	char *val = u ? exp_value(u, key) : global_value(x->cfg, key);
	char *at = where_of(x, u, key);
	char *sect = u ? xasprintf("[%s %s]", unit_kind_name(u->kind), u->name)
	               : xstrdup("[tend]");
	errline("%s: %s %s = %s: not exported to %s: %s", at, sect, key, val,
	        x->engine_name, why);
	int line = u ? config_key_line(u, key) : config_global_line(x->cfg, key);
	char *note = line ? xasprintf("%s = %s (line %d): %s", key, val, line, why)
	                  : xasprintf("%s = %s: %s", key, val, why);
	strv_push(u ? &x->notes : &x->gnotes, note);
	free(sect);
	free(at);
	free(val);
	free(why);
}

void exp_notes_begin(struct exp *x, const struct unit_config *u,
                     const struct exp_lost *table)
{
	if (u) {
		strv_free(&x->notes);
		x->notes = (struct strv){ 0 };
	}
	for (const struct exp_lost *l = table; l && l->key; l++) {
		if (u ? config_key_line(u, l->key) > 0 &&
		        config_is_key(l->key, u->kind)
		      : config_global_line(x->cfg, l->key) > 0)
			exp_note(x, u, l->key, "%s", l->why);
	}
}

void exp_notes_write(const struct exp *x, FILE *f, const char *prefix,
                     bool globals)
{
	size_t ng = globals ? x->gnotes.n : 0;
	if (x->notes.n + ng == 0)
		return;
	fprintf(f, "%s# Not exported (no counterpart in %s):\n", prefix,
	        x->engine_name);
	for (size_t i = 0; i < ng; i++)
		fprintf(f, "%s#   [tend] %s\n", prefix, x->gnotes.v[i]);
	for (size_t i = 0; i < x->notes.n; i++)
		fprintf(f, "%s#   %s\n", prefix, x->notes.v[i]);
}

/* --- files --- */

FILE *exp_open(struct exp *x, const char *name)
{
	if (!x->outdir) {
		fprintf(stdout, "%s# ==> %s <==\n", x->nfiles ? "\n" : "", name);
		x->nfiles++;
		return stdout;
	}
	char *path = xasprintf("%s/%s", x->outdir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		errline("export: cannot write %s: %s", path, strerror(errno));
		x->failed = 1;
	} else {
		x->nfiles++;
	}
	free(path);
	return f;
}

void exp_close(struct exp *x, FILE *f)
{
	if (f == stdout) {
		fflush(stdout);
		return;
	}
	if (ferror(f) | (fclose(f) != 0)) {
		errline("export: cannot write a file in %s: %s", x->outdir,
		        strerror(errno));
		x->failed = 1;
	}
}

void exp_head(const struct exp *x, FILE *f, const struct unit_config *u)
{
	fprintf(f, "# Exported by tend %s (tend export %s) from %s", TEND_VERSION,
	        x->engine_name, x->cfg->path);
	if (u)
		fprintf(f, ": [%s %s], line %d", unit_kind_name(u->kind), u->name,
		        u->line);
	fputs(".\n", f);
	exp_notes_write(x, f, "", true);
}

bool exp_exported(const struct exp *x, const char *name)
{
	for (size_t i = 0; i < x->nunits; i++)
		if (strcmp(x->units[i]->name, name) == 0)
			return true;
	return false;
}

/* --- values --- */

char *exp_dns_name(const char *name)
{
	struct buf b = { 0 };
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		buf_adds(&b, "u-");
	for (const char *p = name; *p && b.len < 63; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		buf_addc(&b, c);
	}
	char *s = buf_take(&b);
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '-')
		s[--n] = '\0';
	return s;
}

long long exp_seconds(uint64_t ms)
{
	uint64_t s = (ms + 999) / 1000;
	return s ? (long long)s : 1;
}

const char *exp_go_duration(uint64_t ms, char buf[32])
{
	if (ms % 1000)
		snprintf(buf, 32, "%llums", (unsigned long long)ms);
	else if (ms % 60000 || ms == 0)
		snprintf(buf, 32, "%llus", (unsigned long long)(ms / 1000));
	else if (ms % 3600000)
		snprintf(buf, 32, "%llum", (unsigned long long)(ms / 60000));
	else
		snprintf(buf, 32, "%lluh", (unsigned long long)(ms / 3600000));
	return buf;
}

int exp_addr(const char *text, char *host, size_t hostsz, unsigned *port,
             char *path, size_t pathsz)
{
	struct addr *a = xcalloc(1, sizeof(*a));
	char *why = NULL;
	int r = addr_parse(text, a, &why);
	free(why);
	host[0] = path[0] = '\0';
	*port = 0;
	if (r == 0 && a->family == AF_UNIX) {
		snprintf(path, pathsz, "%s", a->text);
	} else if (r == 0) {
		char ip[64] = "";
		const void *src = a->family == AF_INET
			? (const void *)&((struct sockaddr_in *)&a->sa)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)&a->sa)->sin6_addr;
		inet_ntop(a->family, src, ip, sizeof(ip));
		snprintf(host, hostsz, a->family == AF_INET6 ? "[%s]" : "%s", ip);
		*port = addr_port(a);
	}
	free(a);
	return r;
}

bool exp_probe(const struct unit_config *u, struct probe_spec *spec)
{
	if (!u->health)
		return false;
	char *why = NULL;
	if (config_probe(u, u->health, spec, &why) < 0) {
		free(why);
		return false;
	}
	return true;
}

/* --- YAML --- */

static void yaml_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void yaml_key(FILE *f, const char *k)
{
	bool plain = (k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z');
	for (const char *p = k; *p && plain; p++)
		plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		               "0123456789_.-/", *p) != NULL;
	if (plain)
		fputs(k, f);
	else
		yaml_string(f, k);
}

static bool yaml_scalar(FILE *f, const json_t *v)
{
	if (json_is_object(v) && json_object_size(v) == 0)
		fputs("{}", f);
	else if (json_is_array(v) && json_array_size(v) == 0)
		fputs("[]", f);
	else if (json_is_string(v))
		yaml_string(f, json_string_value(v));
	else if (json_is_integer(v))
		fprintf(f, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v))
		fputs("true", f);
	else if (json_is_false(v))
		fputs("false", f);
	else if (json_is_null(v))
		fputs("null", f);
	else
		return false;
	return true;
}

static void pad(FILE *f, int n)
{
	fprintf(f, "%*s", n, "");
}

static bool nonempty(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) ||
	       (json_is_array(v) && json_array_size(v));
}

/* An object or array being written: where it is, how it is indented,
 * and whether its first line goes where the cursor is (after "- "). */
struct yframe {
	const json_t *v;
	void *it;          /* an object's next key */
	size_t i;          /* an array's next item */
	int ind;
	bool inline_first, first;
};

static void yaml_push(struct yframe **st, size_t *n, size_t *cap,
                      const json_t *v, int ind, bool inline_first)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*st = xrealloc(*st, *cap * sizeof(**st));
	}
	(*st)[(*n)++] = (struct yframe){
		.v = v, .ind = ind, .inline_first = inline_first, .first = true,
		.it = json_is_object(v) ? json_object_iter((json_t *)v) : NULL,
	};
}

void exp_yaml(FILE *f, const json_t *v, int ind)
{
	struct yframe *st = NULL;
	size_t n = 0, cap = 0;
	yaml_push(&st, &n, &cap, v, ind, false);
	while (n) {
		struct yframe *y = &st[n - 1];
		const json_t *c;
		const char *key = NULL;
		if (json_is_object(y->v) ? !y->it
		                         : y->i >= json_array_size(y->v)) {
			n--;
			continue;
		}
		if (json_is_object(y->v)) {
			key = json_object_iter_key(y->it);
			c = json_object_iter_value(y->it);
			y->it = json_object_iter_next((json_t *)y->v, y->it);
		} else {
			c = json_array_get(y->v, y->i++);
		}
		if (!(y->first && y->inline_first))
			pad(f, y->ind);
		y->first = false;
		int cind = y->ind + 2;
		if (key) {
			yaml_key(f, key);
			fputc(':', f);
			fputc(nonempty(c) ? '\n' : ' ', f);
		} else {
			fputs("- ", f);
		}
		if (nonempty(c)) {
			yaml_push(&st, &n, &cap, c, cind, !key);
		} else {
			yaml_scalar(f, c);
			fputc('\n', f);
		}
	}
	free(st);
}

json_t *exp_literal(json_t *v)
{
	json_t **todo = xcalloc(1, sizeof(*todo));
	size_t n = 0, cap = 1;
	todo[n++] = v;
	while (n) {
		json_t *c = todo[--n];
		size_t i;
		const char *k;
		json_t *e;
		if (json_is_string(c) && strchr(json_string_value(c), '$')) {
			struct buf b = { 0 };
			for (const char *p = json_string_value(c); *p; p++)
				buf_adds(&b, *p == '$' ? "$$" : (char[2]){ *p, 0 });
			json_string_set(c, b.s);
			free(b.s);
			continue;
		}
		size_t more = json_is_array(c) ? json_array_size(c)
		            : json_is_object(c) ? json_object_size(c) : 0;
		if (n + more > cap) {
			cap = (n + more) * 2;
			todo = xrealloc(todo, cap * sizeof(*todo));
		}
		if (json_is_array(c)) {
			json_array_foreach(c, i, e)
				todo[n++] = e;
		} else if (json_is_object(c)) {
			json_object_foreach(c, k, e)
				todo[n++] = e;
		}
	}
	free(todo);
	return v;
}

/* --- the command --- */

struct export_args {
	const char *engine;
	const char **names;
	size_t nnames;
	const char *outdir;
	bool user;
};

static int parse_args(int argc, char **argv, struct export_args *a)
{
	a->names = xcalloc((size_t)argc + 1, sizeof(*a->names));
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0) {
			if (++i >= argc) {
				errline("export: %s needs a DIR; see tend export --help", s);
				return -1;
			}
			a->outdir = argv[i];
		} else if (strncmp(s, "--output=", 9) == 0) {
			a->outdir = s + 9;
		} else if (strcmp(s, "--user") == 0) {
			a->user = true;
		} else if (s[0] == '-') {
			errline("export: unknown option \"%s\"; see tend export --help", s);
			return -1;
		} else if (!a->engine) {
			a->engine = s;
		} else {
			a->names[a->nnames++] = s;
		}
	}
	if (!a->engine) {
		errline("export: which engine? tend export systemd|kubernetes|compose "
		        "[NAME ...] [-o DIR]");
		return -1;
	}
	return 0;
}

static int engine_of(const char *name, enum exp_engine *e)
{
	for (int i = 0; engine_names[i]; i++)
		if (strcmp(name, engine_names[i]) == 0) {
			*e = (enum exp_engine)i;
			return 0;
		}
	const char *near = suggest_near(name, (const char *const *)engine_names);
	errline("export: unknown engine \"%s\"; expected systemd | kubernetes | "
	        "compose%s%s%s", name, near ? "; did you mean " : "",
	        near ? near : "", near ? "?" : "");
	return -1;
}

/* The units of CFG that the words of A cover (every unit when none),
 * into X.  Returns 0, or -1 after an error line. */
static int pick_units(struct exp *x, const struct export_args *a)
{
	const struct tend_config *cfg = x->cfg;
	x->units = xcalloc(cfg->nunits + 1, sizeof(*x->units));
	if (a->nnames == 0) {
		for (size_t i = 0; i < cfg->nunits; i++)
			x->units[x->nunits++] = cfg->units[i];
		return 0;
	}
	const char **names = xcalloc(cfg->nunits + 1, sizeof(*names));
	unsigned *kinds = xcalloc(cfg->nunits + 1, sizeof(*kinds));
	for (size_t i = 0; i < cfg->nunits; i++)
		names[i] = cfg->units[i]->name;
	size_t *idx = NULL, n = 0;
	char *err = NULL;
	int r = cmd_expand(a->names, a->nnames, names, kinds, cfg->nunits, 0,
	                   "service or job", cfg->path, &idx, &n, &err);
	if (r < 0) {
		errline("export: %s", err);
		free(err);
	} else {
		/* in the order of the file */
		for (size_t i = 0; i < cfg->nunits; i++)
			for (size_t k = 0; k < n; k++)
				if (idx[k] == i)
					x->units[x->nunits++] = cfg->units[i];
	}
	free(idx);
	free(kinds);
	free(names);
	return r;
}

static int make_outdir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (mkdir(dir, 0755) == 0)
		return 0;
	errline("export: -o %s: %s; give a directory that exists or can be made",
	        dir, strerror(errno));
	return -1;
}

int export_command(const char *cfgarg, int argc, char **argv,
                   struct tend_config *(*open)(const char *cfgarg))
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_export, stdout);
			return 0;
		}
	struct export_args a = { 0 };
	struct exp x = { 0 };
	int code = EXIT_USAGE;
	if (parse_args(argc, argv, &a) < 0 || engine_of(a.engine, &x.engine) < 0)
		goto out;
	x.engine_name = engine_names[x.engine];
	if (a.user && x.engine != ENGINE_SYSTEMD) {
		errline("export: --user is for systemd units; see tend export --help");
		goto out;
	}
	struct tend_config *cfg = open(cfgarg);
	if (!cfg)
		goto out;
	x.cfg = cfg;
	x.user = a.user;
	x.outdir = a.outdir;
	if (pick_units(&x, &a) == 0 && (!a.outdir || make_outdir(a.outdir) == 0)) {
		exp_notes_begin(&x, NULL, global_lost);
		int r = x.engine == ENGINE_SYSTEMD ? export_systemd(&x)
		      : x.engine == ENGINE_KUBERNETES ? export_kubernetes(&x)
		      : export_compose(&x);
		code = r < 0 || x.failed ? 1 : 0;
	}
	strv_free(&x.notes);
	strv_free(&x.gnotes);
	free(x.units);
	config_free(cfg);
out:
	free(a.names);
	return code;
}
