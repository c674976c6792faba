#include "zeroconf.h"
#include "notify.h"
#include "words.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the environment --- */

/* Variables that say which terminal, tab, pane or shell the client runs
 * in: a server that talks JSON-RPC on a pipe never looks at them, and they
 * differ between two sessions of one client configuration.  docs/mcp.md
 * gives the reason for each, and for the ones left out (DISPLAY,
 * SSH_AUTH_SOCK: a server may use them, and they name resources of one
 * session). */
static const char *const per_terminal[] = {
	"_", "PWD", "OLDPWD", "SHLVL",
	"TERM", "COLORTERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION",
	"TERM_SESSION_ID", "ITERM_SESSION_ID", "WINDOWID", "COLUMNS", "LINES",
	"TMUX", "TMUX_PANE", "STY", "WINDOW",
	"SSH_TTY", "SSH_CLIENT", "SSH_CONNECTION", "GPG_TTY",
};

bool zc_per_terminal(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(per_terminal); i++)
		if (strcmp(name, per_terminal[i]) == 0)
			return true;
	return false;
}

static bool matches(const char *name, const struct strv *globs)
{
	for (size_t i = 0; i < globs->n; i++)
		if (fnmatch(globs->v[i], name, 0) == 0)
			return true;
	return false;
}

bool zc_env_compared(const char *name, const struct strv *ignore,
                     const struct strv *require)
{
	if (matches(name, ignore))
		return false;
	if (require->n)
		return matches(name, require);
	return !zc_per_terminal(name);
}

void zc_client_env(char *const *env, struct strv *out)
{
	static const char *const own[] = { "TEND_UNIT=", "TEND_RUN=", "LISTEN_FDS=",
	                                   "LISTEN_PID=", "LISTEN_FDNAMES=" };
	for (char *const *e = env; e && *e; e++) {
		size_t len = strcspn(*e, "=");
		bool skip = len == 0 || !(*e)[len] || notify_env_owns(*e);
		for (size_t i = 0; i < ARRAY_LEN(own) && !skip; i++)
			skip = strncmp(*e, own[i], strlen(own[i])) == 0;
		/* A variable set twice is what getenv sees: the first. */
		for (size_t i = 0; i < out->n && !skip; i++)
			skip = strncmp(out->v[i], *e, len + 1) == 0;
		if (!skip)
			strv_push(out, xstrdup(*e));
	}
}

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "LEN:TEXT": no separator can be forged by a value. */
static void add_field(struct buf *b, char tag, const char *s)
{
	char head[32];
	snprintf(head, sizeof(head), "%c%zu:", tag, strlen(s));
	buf_adds(b, head);
	buf_adds(b, s);
}

char *zc_key(const char *settings, char *const *env,
             const struct strv *ignore, const struct strv *require)
{
	size_t n = 0;
	for (char *const *e = env; e && *e; e++)
		n++;
	const char **vars = xcalloc(n + 1, sizeof(*vars));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char *name = strndup(env[i], strcspn(env[i], "="));
		if (!name)
			abort();
		if (zc_env_compared(name, ignore, require))
			vars[k++] = env[i];
		free(name);
	}
	qsort(vars, k, sizeof(*vars), by_bytes);
	struct buf b = { 0 };
	add_field(&b, 'S', settings);
	for (size_t i = 0; i < k; i++)
		add_field(&b, 'E', vars[i]);
	free(vars);
	buf_addc(&b, 0);
	return buf_take(&b);
}

/* --- names --- */

/* Programs that run another program, named by one of their arguments:
 * that argument names the service.  Per family, the options whose value
 * is the next argument (not the service), and those whose value IS the
 * service (python -m MODULE, java -jar FILE). */
struct launcher {
	const char *const *names;
	const char *const *value_opts;
	const char *const *subject_opts;
};

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct launcher launchers[] = {
	{ LIST("npx", "pnpx", "bunx", "npm", "pnpm", "yarn", "bun", "deno", "node",
	       "nodejs", "tsx", "ts-node"),
	  LIST("-p", "--package", "-r", "--require", "--import", "--loader", "-c",
	       "--call", "-e", "--eval"),
	  LIST("") },
	{ LIST("python", "uv", "uvx", "pipx"),
	  LIST("-X", "-W", "-c", "--with", "--from", "--directory", "--python",
	       "-p", "--project", "--spec"),
	  LIST("-m") },
	{ LIST("docker", "podman"),
	  LIST("-e", "--env", "--env-file", "-v", "--volume", "--name", "--network",
	       "-w", "--workdir", "-u", "--user", "--entrypoint", "--mount",
	       "--platform", "-p", "--publish", "-l", "--label", "--pull", "-m",
	       "--memory", "--cpus", "-h", "--hostname", "--add-host", "--device"),
	  LIST("") },
	{ LIST("java"), LIST("-cp", "-classpath", "--class-path"), LIST("-jar") },
	{ LIST("sh", "bash", "dash", "zsh", "ruby", "perl", "php"),
	  LIST("-c", "-e", "-r", "-I"), LIST("") },
};

/* Their subcommands, skipped on the way to the argument. */
static const char *const subcommands[] = { "exec", "dlx", "x", "run", "tool",
                                           "--" };

static bool in_vec(const char *s, const char *const *v)
{
	for (; *v; v++)
		if (**v && strcmp(s, *v) == 0)
			return true;
	return false;
}

/* File names that say nothing of what they run: their directory does. */
static const char *const generic_files[] = {
	"index.js", "index.mjs", "index.cjs", "index.ts", "main.js", "main.py",
	"__main__.py", "server.js", "cli.js",
};
static const char *const build_dirs[] = { "dist", "build", "src", "lib",
                                          "bin", "out", "." };

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}
#define IN(s, list) in_list((s), (list), ARRAY_LEN(list))

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The launcher family of WORD, or NULL. */
static const struct launcher *launcher_of(const char *word)
{
	const char *b = base_of(word);
	/* python, python3, python3.12 */
	if (strncmp(b, "python", 6) == 0 && strspn(b + 6, "0123456789.") == strlen(b + 6))
		b = "python";
	for (size_t i = 0; i < ARRAY_LEN(launchers); i++)
		if (in_vec(b, launchers[i].names))
			return &launchers[i];
	return NULL;
}

/* The argument of ARGV (run by launcher L) that names the service, or
 * NULL. */
static const char *subject(const struct launcher *l, char *const *argv)
{
	bool first = true;
	for (size_t i = 1; argv[i]; i++) {
		const char *a = argv[i];
		if (in_vec(a, l->subject_opts))
			return argv[i + 1];
		if (in_vec(a, l->value_opts)) {
			if (!argv[i + 1])
				return NULL;
			i++;
			continue;
		}
		if (a[0] == '-' || !a[0])
			continue;
		if (first && IN(a, subcommands)) {
			first = false;
			continue;
		}
		return a;
	}
	return NULL;
}

/* The name in a package spec or path S, into OUT (at least strlen(S) + 1
 * bytes). */
static void subject_name(const char *s, char *out)
{
	char *copy = xstrdup(s);
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = 0;
	/* In the last component: a package's version (@scope/name@1,
	 * name@1, pkg==1.2 as uvx takes it), a docker image's digest or tag
	 * (name@sha256:..., name:latest). */
	char *slash = strrchr(copy, '/');
	char *last = slash ? slash + 1 : copy;
	char *cut = *last ? strpbrk(last + 1, "@:") : NULL;
	if (cut)
		*cut = 0;
	char *eq = strstr(last, "==");
	if (eq)
		*eq = 0;
	const char *name = base_of(copy);
	if (IN(name, generic_files) && strchr(copy, '/')) {
		/* .../weather/build/index.js: "weather" */
		char *end = strrchr(copy, '/');
		while (end && end > copy) {
			*end = 0;
			const char *dir = base_of(copy);
			if (*dir && !IN(dir, build_dirs)) {
				name = dir;
				break;
			}
			end = strrchr(copy, '/');
		}
	}
	memcpy(out, name, strlen(name) + 1);   /* OUT holds strlen(S) + 1 */
	free(copy);
}

/* OUT made a valid unit name: other bytes become "-", runs of "-" one,
 * no "-" or "." at either end, at most ZC_NAME_MAX bytes. */
static void sanitize(char *out)
{
	size_t n = 0;
	for (const char *c = out; *c && n < ZC_NAME_MAX; c++) {
		bool keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		            (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
		            *c == '@';
		char ch = '-';
		if (keep)
			ch = *c;
		if (ch == '-' && n && out[n - 1] == '-')
			continue;
		out[n++] = ch;
	}
	out[n] = 0;
	size_t lead = strspn(out, "-.@");
	memmove(out, out + lead, n - lead + 1);
	n -= lead;
	while (n && (out[n - 1] == '-' || out[n - 1] == '.'))
		out[--n] = 0;
}

char *zc_name_base(char *const *argv)
{
	const char *s = argv[0];
	const struct launcher *l = launcher_of(argv[0]);
	const char *sub = l ? subject(l, argv) : NULL;
	if (sub)
		s = sub;
	char *out = xcalloc(1, strlen(s) + 1);
	subject_name(s, out);
	sanitize(out);
	if (!*out) {
		free(out);
		return xstrdup("connect");
	}
	return out;
}

static bool reserved(const char *name)
{
	return strcmp(name, "tend") == 0 || strcmp(name, "events") == 0 ||
	       strcmp(name, "daemon") == 0;
}

char *zc_name(const char *base, const char *key,
              bool (*taken)(void *ctx, const char *name), void *ctx)
{
	if (!reserved(base) && !taken(ctx, base))
		return xstrdup(base);
	unsigned long long h = (unsigned long long)fnv1a(key);
	char *name = xasprintf("%s-%04llx", base, h & 0xffff);
	if (!taken(ctx, name))
		return name;
	free(name);
	char *longer = xasprintf("%s-%08llx", base, h & 0xffffffffull);
	name = xstrdup(longer);
	for (unsigned n = 2; taken(ctx, name); n++) {
		free(name);
		name = xasprintf("%s-%u", longer, n);
	}
	free(longer);
	return name;
}

/* --- the program --- */

/* Is DIR/PROG (DIR relative to CWD unless absolute) a program one may
 * run?  0, or -1/errno. */
static int runnable(const char *cwd, const char *dir, const char *prog)
{
	char *path = prog[0] == '/' ? xstrdup(prog)
	             : dir[0] == '/' ? xasprintf("%s/%s", dir, prog)
	             : xasprintf("%s/%s%s%s", cwd, dir, *dir ? "/" : "", prog);
	struct stat st;
	int r = -1;
	if (stat(path, &st) < 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto out;
	}
	r = access(path, X_OK);
out:
	free(path);
	return r;
}

int zc_which(const char *prog, const char *path, const char *cwd, char **why)
{
	if (!*prog) {
		*why = xstrdup("the command is empty");
		return -1;
	}
	if (strchr(prog, '/')) {
		if (runnable(cwd, "", prog) == 0)
			return 0;
		*why = xasprintf("cannot run \"%s\": %s", prog, strerror(errno));
		return -1;
	}
	char def[256] = "/bin:/usr/bin";
	if (!path) {
		size_t n = confstr(_CS_PATH, def, sizeof(def));
		if (n == 0 || n > sizeof(def))
			snprintf(def, sizeof(def), "/bin:/usr/bin");
	}
	const char *p = path ? path : def;
	int denied = 0;
	for (;;) {
		size_t len = strcspn(p, ":");
		char *dir = strndup(p, len);
		if (!dir)
			abort();
		int r = runnable(cwd, dir, prog);
		if (r < 0 && errno == EACCES)
			denied = EACCES;
		free(dir);
		if (r == 0)
			return 0;
		if (!p[len])
			break;
		p += len + 1;
	}
	*why = denied
	       ? xasprintf("\"%s\" is in PATH (%s) but cannot be run: %s", prog,
	                   p == def ? def : path, strerror(denied))
	       : xasprintf("command \"%s\" not found in PATH (%s)", prog,
	                   path ? path : def);
	return -1;
}

/* --- the unit --- */

static const char *env_get(const struct strv *sv, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], name, len) == 0 && sv->v[i][len] == '=')
			return sv->v[i] + len + 1;
	return NULL;
}

/* What is wrong with REQ before its flags are read (malloc'd), or NULL. */
static char *request_fault(const struct zc_request *req)
{
	if (!req->argv || !req->argv[0] || !req->argv[0][0])
		return xstrdup("connect: no command given; usage: tend connect "
		               "[--KEY VALUE ...] -- CMD [ARG ...]");
	if (!req->cwd || req->cwd[0] != '/')
		return xstrdup("connect: the working directory must be an absolute "
		               "path");
	return NULL;
}

/* Why the flag --K is not one of tend connect -- CMD (malloc'd), or NULL
 * when it is. */
static char *flag_refusal(const char *k)
{
	if (strcmp(k, "exec") == 0)
		return xstrdup("connect: the command comes after \"--\", not from "
		               "--exec");
	if (!config_is_key(k, KIND_SERVICE))
		return xasprintf("connect: unknown flag --%s; see tend connect "
		                 "--help", k);
	if (!config_is_connect_key(k))
		return xasprintf("connect: --%s does not apply to tend connect -- "
		                 "CMD (its service is an MCP server on stdio, "
		                 "started on demand); put the service in tend.ini "
		                 "for that", k);
	return NULL;
}

/* REQ's flags into U (of CFG), up to the first error (*ERR). */
static void set_flags(struct tend_config *cfg, struct unit_config *u,
                      const struct zc_request *req, char **err)
{
	for (size_t i = 0; i < req->nset && !*err; i++) {
		const char *k = req->set[2 * i], *v = req->set[2 * i + 1];
		*err = flag_refusal(k);
		if (!*err)
			config_set(cfg, u, k, v, 0, err);
	}
}

/* Why U's working directory cannot be its (malloc'd), or NULL. */
static char *cwd_fault(const struct unit_config *u)
{
	struct stat st;
	if (stat(u->cwd, &st) < 0)
		return xasprintf("connect: working directory %s: %s", u->cwd,
		                 strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return xasprintf("connect: working directory %s: not a directory",
		                 u->cwd);
	return NULL;
}

/* Why U's program cannot be run (malloc'd), or NULL: looked for as
 * execvp would, with the PATH of the unit's env, else the client's. */
static char *program_fault(const struct unit_config *u)
{
	const char *path = env_get(&u->env, "PATH");
	char *why = NULL;
	if (zc_which(u->argv.v[0], path ? path : env_get(&u->client_env, "PATH"),
	             u->cwd, &why) == 0)
		return NULL;
	char *err = strchr(u->argv.v[0], '/')
	            ? xasprintf("connect: %s (from %s); check the path", why,
	                        u->cwd)
	            : xasprintf("connect: %s; give the full path of the command, "
	                        "or fix PATH", why);
	free(why);
	return err;
}

/* U, the unit of CFG for REQ's command: the client's environment, the
 * flags, the cross-key checks, the working directory (the client's
 * unless a flag says), the program.  *ERR on the first thing wrong. */
static void fill_unit(struct tend_config *cfg, struct unit_config *u,
                      const struct zc_request *req, char **err)
{
	zc_client_env(req->env, &u->client_env);
	/* Marks the unit as tend connect's, for ${VAR} in flags (the
	 * client's environment); set_connect_key replaces it. */
	u->connect_key = xstrdup("");
	set_flags(cfg, u, req, err);
	if (!*err)
		config_finish(cfg, err);
	if (!*err && !u->cwd)
		u->cwd = xstrdup(req->cwd);
	if (!*err)
		*err = cwd_fault(u);
	if (!*err)
		*err = program_fault(u);
}

/* What U's clients must have in common to share it. */
static void set_connect_key(struct unit_config *u)
{
	char *settings = config_unit_text(u);
	if (!settings)
		abort();
	free(u->connect_key);
	u->connect_key = zc_key(settings, u->client_env.v, &u->env_ignore,
	                        &u->env_require);
	free(settings);
}

struct unit_config *zc_build(const struct zc_request *req, char **err)
{
	*err = request_fault(req);
	if (*err)
		return NULL;
	struct tend_config *cfg = config_for_connect(req->argv, req->cwd);
	struct unit_config *u = cfg->units[0];
	fill_unit(cfg, u, req, err);
	if (*err) {
		config_free(cfg);
		return NULL;
	}
	set_connect_key(u);
	cfg->units[0] = NULL;
	config_free(cfg);
	return u;
}
