#include "events.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct events {
	int fd;
	bool json;
};

struct events *events_new(int fd, bool json)
{
	struct events *ev = xcalloc(1, sizeof(*ev));
	ev->fd = fd;
	ev->json = json;
	return ev;
}

void events_free(struct events *ev) { free(ev); }

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

static char *human_line(const char *unit, const char *event, json_t *fields)
{
	struct buf b = { 0 };
	char *head = xasprintf("tend: %s: %s", unit, event);
	buf_adds(&b, head);
	free(head);
	const char *key;
	json_t *v;
	json_object_foreach(fields, key, v) {
		char *f = human_field(key, v);
		buf_adds(&b, f);
		free(f);
	}
	buf_addc(&b, '\n');
	return buf_take(&b);
}

void events_emit(struct events *ev, const char *unit, const char *event,
                 json_t *fields)
{
	if (!fields)
		fields = json_object();
	char *line;
	if (ev->json) {
		json_t *o = json_pack("{s:I, s:s, s:s}", "ts", (json_int_t)wall_ms(),
		                      "unit", unit, "event", event);
		json_object_update(o, fields);
		char *s = json_dumps(o, JSON_COMPACT);
		line = xasprintf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		line = human_line(unit, event, fields);
	}
	/* One write per line: lines from tend never interleave. */
	ssize_t r = write(ev->fd, line, strlen(line));
	(void)r;
	free(line);
	json_decref(fields);
}
