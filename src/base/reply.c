/* reply — the control protocol's answer lines (reply.h). */
#include "reply.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>

static int to_buf(const char *s, size_t n, void *data)
{
	buf_add(data, s, n);
	return 0;
}

char *reply_line(json_t *o)
{
	/* Written once, straight into the line (a status of 1 000 units is
	 * about 400 KB: no second copy of it to add the newline). */
	struct buf b = { 0 };
	int r = json_dump_callback(o, to_buf, &b, JSON_COMPACT);
	json_decref(o);
	if (r < 0 || !b.len) {
		b.len = 0;
		buf_adds(&b, "{\"ok\":false,\"error\":\"out of memory\",\"exit\":1}");
	}
	buf_addc(&b, '\n');
	return b.s;
}

char *reply_ok(json_t *fields)
{
	json_t *o = json_pack("{s:b}", "ok", 1);
	if (fields)
		json_object_update(o, fields);
	json_decref(fields);
	json_object_set_new(o, "ok", json_true());  /* whatever FIELDS said */
	return reply_line(o);
}

/* The error reply of MSG: cleaned as one line, or with LINES as lines. */
static char *err_reply(int exit_code, bool lines, char *raw)
{
	/* A file name in the message need not be UTF-8; JSON must be. */
	char *msg = lines ? lines_clean(raw) : one_line(raw);
	free(raw);
	json_t *o = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", msg, "exit",
	                      exit_code);
	free(msg);
	return reply_line(o);
}

char *reply_err(int exit_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *raw = xvasprintf(fmt, ap);
	va_end(ap);
	return err_reply(exit_code, false, raw);
}

char *reply_err_lines(int exit_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *raw = xvasprintf(fmt, ap);
	va_end(ap);
	return err_reply(exit_code, true, raw);
}
