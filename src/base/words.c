/* words — see words.h. */
#include "words.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Longest excerpt of the input quoted in an error message. */
#define QUOTE_MAX 40

struct ctx {
	const struct words_env *env;
	char *err; /* malloc'd reason once something failed */
	unsigned depth; /* ${VAR:-default} being read inside one another */
};

static int fail(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	c->err = xvasprintf(fmt, ap);
	va_end(ap);
	return -1;
}

/* Between words: a blank or a newline (ini.c's blanks have no newline). */
static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static const char *lookup(const struct words_env *env, const char *name)
{
	if (env && env->lookup)
		return env->lookup(env->ctx, name);
	return getenv(name);
}

/* Length of an excerpt of S: up to N characters, at most QUOTE_MAX. */
static int excerpt_len(size_t n)
{
	return (int)(n > QUOTE_MAX ? QUOTE_MAX : n);
}

static int scan_default(struct ctx *c, const char **pp, struct buf *b,
                        bool in_dq, const char *open);

/* The value of the variable named S[0..N), or NULL when it is unset. */
static const char *var_value(struct ctx *c, const char *s, size_t n)
{
	char *name = xasprintf("%.*s", (int)n, s);
	const char *v = lookup(c->env, name);
	free(name);
	return v;
}

/* Is a '$' followed by Q literal: at the end, before a blank, or (IN_DQ)
 * just before the closing double quote? */
static bool dollar_is_literal(const char *q, bool in_dq)
{
	return *q == '\0' || is_sep(*q) || (in_dq && *q == '"');
}

/* $NAME, Q after the '$': its value into B.  Returns the end of NAME. */
static const char *expand_name(struct ctx *c, const char *q, struct buf *b)
{
	const char *e = q;
	while (is_name_char(*e))
		e++;
	const char *v = var_value(c, q, (size_t)(e - q));
	if (v)
		buf_adds(b, v);
	return e;
}

/* What is wrong with the "${" at P, its would-be name ending at E. */
static int bad_braces(struct ctx *c, const char *p, const char *e,
                      bool good_name)
{
	const char *close = strchr(e, '}');
	if (!close)
		return fail(c, "\"${\" without \"}\" in \"%.*s\"",
		            excerpt_len(strlen(p)), p);
	size_t n = (size_t)(close - p) + 1;
	if (!good_name)
		return fail(c, "bad variable name in \"%.*s\"", excerpt_len(n), p);
	return fail(c, "bad variable reference \"%.*s\"; "
	            "write ${VAR} or ${VAR:-default}", excerpt_len(n), p);
}

/* Reads the default at *PP of the "${VAR:-" at OPEN into DEF.  Each
 * nested default is a level of recursion: they are bounded. */
/* NOLINTNEXTLINE(misc-no-recursion): at most WORDS_NEST_MAX deep */
static int read_default(struct ctx *c, const char **pp, struct buf *def,
                        bool in_dq, const char *open)
{
	if (c->depth == WORDS_NEST_MAX)
		return fail(c, "defaults nested more than %d deep in \"%.*s\"",
		            WORDS_NEST_MAX, excerpt_len(strlen(open)), open);
	c->depth++;
	int r = scan_default(c, pp, def, in_dq, open);
	c->depth--;
	return r;
}

/* ${NAME} or ${NAME:-default} at *PP into B; *PP moves past it.  The
 * default is read (and checked) even when it is not used. */
/* NOLINTNEXTLINE(misc-no-recursion): at most WORDS_NEST_MAX deep */
static int expand_braced(struct ctx *c, const char **pp, struct buf *b,
                         bool in_dq)
{
	const char *p = *pp, *name = p + 2, *e = name;
	while (is_name_char(*e))
		e++;
	bool good_name = e > name && is_name_start(*name);
	bool has_default = e[0] == ':' && e[1] == '-';
	if (!good_name || (*e != '}' && !has_default))
		return bad_braces(c, p, e, good_name);

	const char *v = var_value(c, name, (size_t)(e - name));
	if (!has_default) {
		if (v)
			buf_adds(b, v);
		*pp = e + 1;
		return 0;
	}
	struct buf def = { 0 };
	const char *d = e + 2;
	if (read_default(c, &d, &def, in_dq, p) < 0) {
		free(def.s);
		return -1;
	}
	if (v && *v)
		buf_adds(b, v);
	else if (def.s)
		buf_add(b, def.s, def.len);
	free(def.s);
	*pp = d;
	return 0;
}

/* Expands the "$..." at *PP into B and moves *PP past it.  IN_DQ: inside
 * double quotes, where a '$' just before the closing quote is literal. */
/* NOLINTNEXTLINE(misc-no-recursion): at most WORDS_NEST_MAX deep (expand) */
static int expand(struct ctx *c, const char **pp, struct buf *b, bool in_dq)
{
	const char *q = *pp + 1; /* after the '$' */
	if (dollar_is_literal(q, in_dq)) {
		buf_addc(b, '$');
		*pp = q;
		return 0;
	}
	if (is_name_start(*q)) {
		*pp = expand_name(c, q, b);
		return 0;
	}
	if (*q == '{')
		return expand_braced(c, pp, b, in_dq);
	size_t n = 1;
	while (q[n] && !is_sep(q[n]))
		n++;
	return fail(c, "bad variable name in \"$%.*s\"", excerpt_len(n), q);
}

/* Reads "..." at *PP (after the opening quote) up to and past the closing
 * one. */
/* NOLINTNEXTLINE(misc-no-recursion): at most WORDS_NEST_MAX deep (expand) */
static int scan_dq(struct ctx *c, const char **pp, struct buf *b)
{
	const char *p = *pp;
	for (;;) {
		if (*p == '\0')
			return fail(c, "unterminated double quote");
		if (*p == '"') {
			*pp = p + 1;
			return 0;
		}
		if (*p == '\\' && p[1] && strchr("\\\"$`", p[1])) {
			buf_addc(b, p[1]);
			p += 2;
		} else if (*p == '$') {
			if (expand(c, &p, b, true) < 0)
				return -1;
		} else {
			buf_addc(b, *p++);
		}
	}
}

/* Reads '...' at *PP (after the opening quote) up to and past the closing
 * one. */
static int scan_sq(struct ctx *c, const char **pp, struct buf *b)
{
	const char *close = strchr(*pp, '\'');
	if (!close)
		return fail(c, "unterminated single quote");
	buf_add(b, *pp, (size_t)(close - *pp));
	*pp = close + 1;
	return 0;
}

/* Reads the default of "${VAR:-default}" at *PP up to and past its '}'.
 * Outside double quotes, quotes and backslashes work as in a word (blanks
 * included, nothing is split); inside, as between double quotes.  OPEN
 * points at the "${" for messages. */
/* NOLINTNEXTLINE(misc-no-recursion): at most WORDS_NEST_MAX deep (expand) */
static int scan_default(struct ctx *c, const char **pp, struct buf *b,
                        bool in_dq, const char *open)
{
	const char *p = *pp;
	for (;;) {
		if (*p == '\0')
			return fail(c, "\"${\" without \"}\" in \"%.*s\"",
			            excerpt_len(strlen(open)), open);
		if (*p == '}') {
			*pp = p + 1;
			return 0;
		}
		if (*p == '$') {
			if (expand(c, &p, b, in_dq) < 0)
				return -1;
		} else if (in_dq) {
			if (*p == '\\' && p[1] && strchr("\\\"$`}", p[1])) {
				buf_addc(b, p[1]);
				p += 2;
			} else {
				buf_addc(b, *p++);
			}
		} else if (*p == '\\') {
			if (!p[1])
				return fail(c, "trailing backslash");
			buf_addc(b, p[1]);
			p += 2;
		} else if (*p == '\'') {
			p++;
			if (scan_sq(c, &p, b) < 0)
				return -1;
		} else if (*p == '"') {
			p++;
			if (scan_dq(c, &p, b) < 0)
				return -1;
		} else {
			buf_addc(b, *p++);
		}
	}
}

/* Home directory for "~" (USER empty) or "~USER". */
static int home_of(struct ctx *c, const char *user, size_t n, struct buf *b)
{
	if (n == 0) {
		const char *h = c->env ? c->env->home : NULL;
		if (!h || !*h)
			h = lookup(c->env, "HOME");
		if (!h || !*h) {
			struct passwd *pw = getpwuid(getuid());
			h = pw ? pw->pw_dir : NULL;
		}
		if (!h || !*h)
			return fail(c, "no home directory for \"~\"; set HOME");
		buf_adds(b, h);
		return 0;
	}
	char *name = xasprintf("%.*s", (int)n, user);
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		fail(c, "unknown user \"~%.*s\"", excerpt_len(n), name);
		free(name);
		return -1;
	}
	free(name);
	buf_adds(b, pw->pw_dir);
	return 0;
}

/* Reads one word starting at *PP (not a blank, not the end). */
static int scan_word(struct ctx *c, const char **pp, struct buf *b,
                     bool *quoted)
{
	const char *p = *pp;
	*quoted = false;

	if (*p == '~') {
		const char *e = p + 1;
		while (*e && !is_sep(*e) && *e != '/' && !strchr("'\"\\$", *e))
			e++;
		if (*e == '\0' || is_sep(*e) || *e == '/') {
			if (home_of(c, p + 1, (size_t)(e - p - 1), b) < 0)
				return -1;
			p = e;
		}
	}

	while (*p && !is_sep(*p)) {
		if (*p == '\'') {
			*quoted = true;
			p++;
			if (scan_sq(c, &p, b) < 0)
				return -1;
		} else if (*p == '"') {
			*quoted = true;
			p++;
			if (scan_dq(c, &p, b) < 0)
				return -1;
		} else if (*p == '\\') {
			if (!p[1])
				return fail(c, "trailing backslash");
			buf_addc(b, p[1]);
			p += 2;
		} else if (*p == '$') {
			if (expand(c, &p, b, false) < 0)
				return -1;
		} else {
			buf_addc(b, *p++);
		}
	}
	*pp = p;
	return 0;
}

int words_split(const char *line, const struct words_env *env, char ***argv,
                size_t *argc, char **err)
{
	struct ctx c = { .env = env, .err = NULL };
	struct strv out = { 0 };
	const char *p = line;

	*err = NULL;
	for (;;) {
		while (is_sep(*p))
			p++;
		if (!*p)
			break;
		struct buf b = { 0 };
		bool quoted;
		if (scan_word(&c, &p, &b, &quoted) < 0) {
			free(b.s);
			strv_free(&out);
			*argv = NULL;
			*argc = 0;
			*err = c.err;
			return -1;
		}
		if (b.len > 0 || quoted)
			strv_push(&out, buf_take(&b));
		else
			free(b.s);
	}
	if (!out.v)
		out.v = xcalloc(1, sizeof(*out.v));
	*argv = out.v;
	*argc = out.n;
	return 0;
}

int words_one(const char *text, const struct words_env *env, char **out,
              char **err)
{
	char **argv;
	size_t argc;

	*out = NULL;
	if (words_split(text, env, &argv, &argc, err) < 0)
		return -1;
	if (argc != 1) {
		if (argc == 0)
			*err = xstrdup("expected one word, got none");
		else
			*err = xasprintf("expected one word, got %zu; quote or escape "
			                 "the blanks", argc);
		words_free(argv);
		return -1;
	}
	*out = argv[0];
	free(argv);
	return 0;
}

void words_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/* Whether W must be quoted to come back as the same single word: anything
 * beyond a conservative set of characters no shell treats specially. */
static bool needs_quotes(const char *w)
{
	if (*w == '\0' || *w == '~')
		return true;
	for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
		unsigned char ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch >= 0x80 ||
		    strchr("_-./:=@%+,~", ch))
			continue;
		return true;
	}
	return false;
}

char *words_join(char *const *argv)
{
	struct buf b = { 0 };
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *w = argv[i];
		if (i > 0)
			buf_addc(&b, ' ');
		if (!needs_quotes(w)) {
			buf_adds(&b, w);
			continue;
		}
		buf_addc(&b, '\'');
		for (; *w; w++) {
			if (*w == '\'')
				buf_adds(&b, "'\\''");
			else
				buf_addc(&b, *w);
		}
		buf_addc(&b, '\'');
	}
	return buf_take(&b);
}
