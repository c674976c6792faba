/* batch — one reply for a request over several units (batch.h). */
#include "batch.h"
#include "reply.h"
#include "server.h"
#include "unit.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct item {
	char *name;
	char *line;              /* its answer; NULL while it waits */
	const struct unit *u;    /* what it waits for */
	enum wait_kind kind;
	unsigned long since;
};

struct batch {
	struct batch *next;
	struct conn *c;
	size_t n;
	struct item items[];
};

struct batch *batch_new(struct conn *c, size_t n)
{
	struct batch *b = xcalloc(1, sizeof(*b) + n * sizeof(b->items[0]));
	b->c = c;
	b->n = n;
	return b;
}

void batch_answer(struct batch *b, size_t i, const char *name, char *line)
{
	b->items[i].name = xstrdup(name);
	b->items[i].line = line;
}

void batch_wait(struct batch *b, size_t i, struct unit *u,
                enum wait_kind kind, unsigned long since)
{
	b->items[i] = (struct item){ .name = xstrdup(unit_name(u)), .u = u,
	                             .kind = kind, .since = since };
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->items[i].name);
		free(b->items[i].line);
	}
	free(b);
}

/* Takes the answers that have come about U (any unit when NULL); true
 * when B has them all. */
static bool settle(struct batch *b, const struct unit *u)
{
	bool all = true;
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		if (!it->line && (!u || it->u == u))
			it->line = waiters_answer_now(it->u, it->kind, it->since);
		all = all && it->line;
	}
	return all;
}

/* B's reply, sent, and B freed. */
static void reply(struct batch *b)
{
	json_t *results = json_array();
	for (size_t i = 0; i < b->n; i++) {
		const struct item *it = &b->items[i];
		json_t *o = json_loads(it->line, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			o = json_pack("{s:b, s:s, s:i}", "ok", 0, "error",
			              "no answer", "exit", 1);
		}
		json_t *r = json_pack("{s:s}", "name", it->name);
		json_object_update(r, o);
		json_decref(o);
		json_array_append_new(results, r);
	}
	server_reply(b->c, reply_ok(json_pack("{s:o}", "results", results)));
	batch_free(b);
}

void batches_add(struct batches *bs, struct batch *b)
{
	if (settle(b, NULL)) {
		reply(b);
		return;
	}
	b->next = bs->head;
	bs->head = b;
}

void batches_unit_changed(struct batches *bs, const struct unit *u)
{
	for (struct batch **p = &bs->head; *p; ) {
		struct batch *b = *p;
		if (!settle(b, u)) {
			p = &b->next;
			continue;
		}
		*p = b->next;
		reply(b);
	}
}

void batches_conn_gone(struct batches *bs, struct conn *c)
{
	for (struct batch **p = &bs->head; *p; ) {
		struct batch *b = *p;
		if (b->c == c) {
			*p = b->next;
			batch_free(b);
		} else {
			p = &b->next;
		}
	}
}

void batches_free(struct batches *bs)
{
	for (struct batch *b = bs->head, *next; b; b = next) {
		next = b->next;
		batch_free(b);
	}
	bs->head = NULL;
}
