#include "events.h"
#include "logfile.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct events {
	int fd;
	bool json;
	struct logfile file;
	bool filing;      /* file is open */
	bool failing;     /* the last write to it failed (reported once) */
};

struct events *events_new(int fd, bool json)
{
	struct events *ev = xcalloc(1, sizeof(*ev));
	ev->fd = fd;
	ev->json = json;
	ev->file.fd = -1;
	return ev;
}

int events_open_file(struct events *ev, int dirfd, const char *name,
                     uint64_t max)
{
	if (logfile_openat(&ev->file, dirfd, name, max, LOGFILE_KEEP) < 0)
		return -1;
	ev->filing = true;
	return 0;
}

void events_set_max(struct events *ev, uint64_t max)
{
	if (ev->filing)
		logfile_set_max(&ev->file, max);
}

void events_free(struct events *ev)
{
	if (ev && ev->filing)
		logfile_close(&ev->file);
	free(ev);
}

static bool plain_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '\\' || *s == 0x7f)
			return false;
	return true;
}

/* "key=value" for one field; strings quoted (JSON style) when needed. */
static char *human_field(const char *key, json_t *v)
{
	if (json_is_string(v) && plain_word(json_string_value(v)))
		return xasprintf(" %s=%s", key, json_string_value(v));
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	char *f = xasprintf(" %s=%s", key, s ? s : "?");
	free(s);
	return f;
}

char *events_human(json_t *o)
{
	struct buf b = { 0 };
	const char *unit = json_string_value(json_object_get(o, "unit"));
	const char *event = json_string_value(json_object_get(o, "event"));
	char *head = xasprintf("tend: %s: %s", unit ? unit : "?", event ? event : "?");
	buf_adds(&b, head);
	free(head);
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (strcmp(key, "ts") == 0 || strcmp(key, "unit") == 0 ||
		    strcmp(key, "event") == 0 || json_is_null(v))
			continue;
		char *f = human_field(key, v);
		buf_adds(&b, f);
		free(f);
	}
	buf_addc(&b, '\n');
	return buf_take(&b);
}

static void write_all(int fd, const char *s)
{
	/* One write per line: lines from tend never interleave. */
	ssize_t r = write(fd, s, strlen(s));
	(void)r;
}

void events_emit(struct events *ev, const char *unit, const char *event,
                 json_t *fields)
{
	json_t *o = json_pack("{s:I, s:s, s:s}", "ts", (json_int_t)wall_ms(),
	                      "unit", unit, "event", event);
	if (fields)
		json_object_update(o, fields);
	json_decref(fields);
	char *s = json_dumps(o, JSON_COMPACT);
	char *line = xasprintf("%s\n", s ? s : "{}");
	free(s);
	if (ev->filing) {
		if (logfile_write(&ev->file, line, strlen(line)) < 0) {
			if (!ev->failing)
				errline("cannot write %s: %s; events are lost until this is "
				        "fixed", ev->file.path, strerror(errno));
			ev->failing = true;
		} else {
			ev->failing = false;
		}
	}
	if (ev->fd >= 0) {
		if (ev->json) {
			write_all(ev->fd, line);
		} else {
			char *h = events_human(o);
			write_all(ev->fd, h);
			free(h);
		}
	}
	free(line);
	json_decref(o);
}
