/* probe_spec — what a health check is, parsed from the health key of
 * tend.ini (probe.h runs it): exec:CMD, tcp:HOST:PORT, unix:PATH or
 * http://HOST:PORT/PATH.  Pure: the configuration reads it without
 * anything that runs a check.
 */
#ifndef TEND_PROBE_SPEC_H
#define TEND_PROBE_SPEC_H

#include <stddef.h>

#include "addr.h"
#include "util.h"
#include "words.h"

enum probe_kind { PROBE_EXEC, PROBE_TCP, PROBE_UNIX, PROBE_HTTP };

struct probe_spec {
	enum probe_kind kind;
	struct strv argv;   /* exec: the command, split like exec = */
	struct addr addr;   /* tcp, unix, http */
	char *host;         /* http: the Host header, "HOST:PORT" as written */
	char *path;         /* http: "/..." ("/" when none was written) */
};

/* Parses TEXT ("exec:CMD", "tcp:HOST:PORT", "unix:PATH" or
 * "http://HOST:PORT/PATH") into SPEC.  ENV expands ~ and ${VAR} in CMD the
 * way the exec key does (NULL: tend's own environment and home).  Returns
 * 0, or -1 with *WHY a malloc'd one-line reason (SPEC then holds nothing to
 * free). */
int probe_parse(const char *text, const struct words_env *env,
                struct probe_spec *spec, char **why);
void probe_spec_free(struct probe_spec *spec);

/* The status code of an HTTP response whose first LEN bytes are BUF: >0
 * once the status line ("HTTP/1.x NNN reason", NNN 100..599) is complete
 * up to its newline, 0 when more bytes are needed, -1 when it is not an
 * HTTP response.  Pure. */
int probe_http_status(const char *buf, size_t len);

/* The end of a check: OK and a one-line DETAIL (valid during the call).
 * FN may start the next check on the same probe, or free it. */

#endif
