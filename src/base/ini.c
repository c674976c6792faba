/* ini — see ini.h. */
#include "ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Longest excerpt of the input quoted in an error message. */
#define QUOTE_MAX 60

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* S[0..N) with the blanks at both ends removed, as a malloc'd string. */
static char *trimmed(const char *s, size_t n)
{
	while (n > 0 && is_blank(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	char *r = xmalloc(n + 1);
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* S as a message excerpt, shortened with "..." when it is long. */
static char *excerpt(const char *s)
{
	size_t n = strlen(s);
	if (n <= QUOTE_MAX)
		return xstrdup(s);
	return xasprintf("%.*s...", QUOTE_MAX, s);
}

/* Scans one physical line LINE[0..N): finds where an inline comment starts
 * (or N) and whether the line ends with a continuation backslash.  Quotes
 * and backslashes are tracked the way words.c reads them, so that what is
 * a comment here is never a quoted ';' or '#' there.  Returns the length of
 * the content kept, without the continuation backslash and trailing blanks. */
static size_t scan_line(const char *line, size_t n, bool *cont)
{
	enum { OUT, SQ, DQ } st = OUT;
	bool prev_blank = true; /* the start of a line counts as blank */
	size_t cut = n;
	size_t last_bs = (size_t)-1; /* last backslash outside quotes */

	for (size_t i = 0; i < n; i++) {
		char c = line[i];
		if (st == SQ) {
			if (c == '\'')
				st = OUT;
			prev_blank = false;
			continue;
		}
		if (st == DQ) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				st = OUT;
			prev_blank = false;
			continue;
		}
		if ((c == ';' || c == '#') && prev_blank) {
			cut = i;
			break;
		}
		if (c == '\\') {
			last_bs = i;
			if (i + 1 < n)
				i++; /* the escaped character, never blank */
			prev_blank = false;
			continue;
		}
		if (c == '\'')
			st = SQ;
		else if (c == '"')
			st = DQ;
		prev_blank = is_blank(c);
	}

	size_t end = cut;
	while (end > 0 && is_blank(line[end - 1]))
		end--;
	*cont = st == OUT && end > 0 && last_bs == end - 1;
	if (*cont) {
		end--;
		while (end > 0 && is_blank(line[end - 1]))
			end--;
	}
	return end;
}

/* One parse: where the input is from, who hears of it, what was read. */
struct ini_reader {
	const char *path;             /* for messages */
	const struct ini_handler *h;
	void *user;
	bool in_section;              /* a header has been read */
	char **err;
	int errors;                   /* handed to h->error */
};

/* After a failed line: with an error callback, hand the error over and
 * go on (0); else stop (-1). */
static int reported(struct ini_reader *rd, int line)
{
	if (!rd->h->error)
		return -1;
	rd->h->error(rd->user, line, *rd->err);
	*rd->err = NULL;
	rd->errors++;
	return 0;
}

static int fail(struct ini_reader *rd, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ini_reader *rd, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = xvasprintf(fmt, ap);
	va_end(ap);
	*rd->err = xasprintf("%s:%d: %s", rd->path, line, what);
	free(what);
	return -1;
}

/* fail() with TEXT, shortened, in the place of FMT's one "%s". */
static int fail_quoting(struct ini_reader *rd, int line, const char *text,
                        const char *fmt)
	__attribute__((format(printf, 4, 0)));
static int fail_quoting(struct ini_reader *rd, int line, const char *text,
                        const char *fmt)
{
	char *q = excerpt(text);
	fail(rd, line, fmt, q);
	free(q);
	return -1;
}

/* A callback said no: it should have said why, else this says it. */
static int rejected(struct ini_reader *rd, int line, const char *what,
                    const char *name)
{
	if (!*rd->err)
		*rd->err = xasprintf("%s:%d: %s \"%s\" rejected", rd->path, line,
		                     what, name);
	return -1;
}

static bool valid_key(const char *key)
{
	for (const char *k = key; *k; k++)
		if (!is_key_char(*k))
			return false;
	return true;
}

/* "[NAME]", T trimmed. */
static int do_section(struct ini_reader *rd, const char *t, int line)
{
	const char *close = strchr(t, ']');
	if (!close)
		return fail_quoting(rd, line, t, "unterminated section header "
		                    "\"%s\"; close it with ']'");
	if (close[1] != '\0')
		return fail_quoting(rd, line, t, "text after the section header in "
		                    "\"%s\"; put comments after ';' or '#'");
	char *name = trimmed(t + 1, (size_t)(close - t - 1));
	int r = 0;
	if (name[0] == '\0') {
		r = fail(rd, line, "empty section header \"[]\"; name it, e.g. "
		         "[service NAME]");
	} else {
		rd->in_section = true;
		if (rd->h->section && rd->h->section(rd->user, name, line, rd->err))
			r = rejected(rd, line, "section", name);
	}
	free(name);
	return r;
}

/* Is KEY (of the entry T) one that may be handed over here? */
static int check_key(struct ini_reader *rd, const char *key, const char *t,
                     int line)
{
	if (key[0] == '\0')
		return fail_quoting(rd, line, t, "no key before '=' in \"%s\"; "
		                    "write key = value");
	if (!valid_key(key))
		return fail_quoting(rd, line, key, "invalid key \"%s\"; keys are made "
		                    "of letters, digits, '_', '.' and '-'");
	if (!rd->in_section)
		return fail(rd, line, "entry \"%s\" before any section; put it "
		            "under a [service NAME] header", key);
	return 0;
}

/* "key = value", T trimmed. */
static int do_entry(struct ini_reader *rd, const char *t, int line)
{
	const char *eq = strchr(t, '=');
	if (!eq)
		return fail_quoting(rd, line, t, "\"%s\" has no '='; write key = "
		                    "value");
	char *key = trimmed(t, (size_t)(eq - t));
	int r = check_key(rd, key, t, line);
	if (r == 0) {
		char *value = trimmed(eq + 1, strlen(eq + 1));
		if (rd->h->entry && rd->h->entry(rd->user, key, value, line, rd->err))
			r = rejected(rd, line, "entry", key);
		free(value);
	}
	free(key);
	return r;
}

/* Handles one logical line (already without comment and continuations). */
static int do_line(struct ini_reader *rd, const char *text, int line)
{
	char *t = trimmed(text, strlen(text));
	int r = t[0] == '\0' ? 0
	      : t[0] == '[' ? do_section(rd, t, line)
	      : do_entry(rd, t, line);
	free(t);
	return r;
}

int ini_parse_string(const char *text, const char *path,
                     const struct ini_handler *h, void *user, char **err)
{
	*err = NULL;
	if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;

	struct ini_reader rd = { .path = path, .h = h, .user = user, .err = err };
	struct buf logical = { 0 };
	bool continuing = false;
	int lineno = 0, start = 0, r = 0;
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;

		bool cont;
		size_t keep = scan_line(p, n, &cont);
		if (continuing) {
			size_t skip = 0;
			while (skip < keep && is_blank(p[skip]))
				skip++;
			buf_add(&logical, " ", 1);
			buf_add(&logical, p + skip, keep - skip);
		} else {
			logical.len = 0;
			buf_add(&logical, p, keep);
			start = lineno;
		}
		p = nl ? nl + 1 : p + strlen(p);

		if (cont && *p) {
			continuing = true;
			continue;
		}
		continuing = false;
		r = do_line(&rd, logical.s, start);
		if (r < 0 && (r = reported(&rd, start)) < 0)
			break;
	}
	free(logical.s);
	return r < 0 || rd.errors ? -1 : 0;
}

int ini_read_file(const char *path, char **text, char **err)
{
	*err = NULL;
	*text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*err = xasprintf("%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	struct buf b = { 0 };
	char chunk[65536];
	for (;;) {
		ssize_t got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			*err = xasprintf("%s: %s", path, strerror(e));
			close(fd);
			free(b.s);
			errno = e;
			return -1;
		}
		if (got == 0)
			break;
		buf_add(&b, chunk, (size_t)got);
	}
	close(fd);
	if (!b.s)
		buf_add(&b, "", 0);

	const char *nul = memchr(b.s, '\0', b.len);
	if (nul) {
		int line = 1;
		for (const char *q = b.s; q < nul; q++)
			line += *q == '\n';
		*err = xasprintf("%s:%d: NUL byte in the file; it must be text",
		                 path, line);
		free(b.s);
		return -1;
	}
	*text = b.s;
	return 0;
}

int ini_parse_file(const char *path, const struct ini_handler *h, void *user,
                   char **err)
{
	char *text;
	if (ini_read_file(path, &text, err) < 0)
		return -1;
	int r = ini_parse_string(text, path, h, user, err);
	free(text);
	return r;
}
