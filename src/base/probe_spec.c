/* probe_spec — what a check is (probe_spec.h). */
#include "probe_spec.h"
#include "parse.h"
#include "paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_EXPECTED "expected exec:CMD, tcp:HOST:PORT, unix:PATH or " \
                       "http://HOST:PORT/PATH"

static int parse_http(const char *rest, struct probe_spec *spec, char **why)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	char *hp = strndup(rest, n);
	if (!hp)
		hp = xstrdup("");   /* not reached: strndup only fails on ENOMEM */
	int r = addr_parse_host_port(hp, &spec->addr, why);
	if (r < 0) {
		free(hp);
		return -1;
	}
	const char *path = slash ? slash : "/";
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			*why = xstrdup("the URL path has a space or a control character; "
			               "percent-encode it (%20)");
			free(hp);
			return -1;
		}
	spec->host = hp;
	spec->path = xstrdup(path);
	return 0;
}

int probe_parse(const char *text, const struct words_env *env,
                struct probe_spec *spec, char **why)
{
	*spec = (struct probe_spec){ 0 };
	int r;
	if (strncmp(text, "exec:", 5) == 0) {
		char **argv;
		size_t argc;
		spec->kind = PROBE_EXEC;
		if (words_split(text + 5, env, &argv, &argc, why) < 0)
			return -1;
		if (argc == 0) {
			free(argv);
			*why = xstrdup("the command is empty; expected exec:CMD");
			return -1;
		}
		for (size_t i = 0; i < argc; i++)
			strv_push(&spec->argv, argv[i]);
		free(argv);
		return 0;
	} else if (strncmp(text, "tcp:", 4) == 0) {
		spec->kind = PROBE_TCP;
		r = addr_parse(text, &spec->addr, why);
	} else if (strncmp(text, "unix:", 5) == 0) {
		spec->kind = PROBE_UNIX;
		r = addr_parse(text, &spec->addr, why);
	} else if (strncmp(text, "http://", 7) == 0) {
		spec->kind = PROBE_HTTP;
		r = parse_http(text + 7, spec, why);
	} else if (strncmp(text, "https://", 8) == 0) {
		*why = xstrdup("https is not supported; " PROBE_EXPECTED);
		r = -1;
	} else {
		*why = xstrdup(PROBE_EXPECTED);
		r = -1;
	}
	if (r < 0)
		*spec = (struct probe_spec){ 0 };
	return r;
}

void probe_spec_free(struct probe_spec *spec)
{
	strv_free(&spec->argv);
	free(spec->host);
	free(spec->path);
	*spec = (struct probe_spec){ 0 };
}

int probe_http_status(const char *buf, size_t len)
{
	/* 'D' is a digit; a status code and its line end follow. */
	static const char tmpl[] = "HTTP/D.D DDD";
	size_t n = sizeof(tmpl) - 1;
	for (size_t i = 0; i < n; i++) {
		if (i >= len)
			return 0;
		char c = buf[i];
		if (tmpl[i] == 'D' ? c < '0' || c > '9' : c != tmpl[i])
			return -1;
	}
	int code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (code < 100 || code > 599)
		return -1;
	if (len == n)
		return 0;
	if (buf[n] != ' ' && buf[n] != '\r' && buf[n] != '\n')
		return -1;   /* a fourth digit, or garbage */
	if (buf[n] == '\r' && len > n + 1 && buf[n + 1] != '\n')
		return -1;
	return memchr(buf + n, '\n', len - n) ? code : 0;
}

