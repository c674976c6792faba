#include "mcp.h"
#include "jrpc.h"
#include "list.h"
#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CAP_ROOTS = MCP_CAP_ROOTS, CAP_SAMPLING = MCP_CAP_SAMPLING,
       CAP_ELICITATION = MCP_CAP_ELICITATION };
/* S_CLOSING: its stdin is closed (it is being stopped); what it still
 * answers goes out, new messages wait for the next process. */
enum srv_state { S_DOWN, S_INIT, S_READY, S_REFUSED, S_CLOSING };

/* MCP's log levels, lowest first (RFC 5424's order). */
static const char *const levels[] = { "debug", "info", "notice", "warning",
                                      "error", "critical", "alert",
                                      "emergency" };

/* A resource URI with subscribers; the server is subscribed while N > 0. */
struct sub {
	char *uri;
	size_t n;
	struct sub *next;
};

/* The lists a server's clients ask for first, cached (mcp_cache). */
enum { L_TOOLS, L_PROMPTS, L_RESOURCES, L_TEMPLATES, L_N };
static const struct {
	const char *method;    /* the request */
	const char *changed;   /* the notification that makes it stale */
} lists[L_N] = {
	{ "tools/list", "notifications/tools/list_changed" },
	{ "prompts/list", "notifications/prompts/list_changed" },
	{ "resources/list", "notifications/resources/list_changed" },
	{ "resources/templates/list", "notifications/resources/list_changed" },
};

struct mcp_cache {
	char *init;                  /* the server's initialize result */
	size_t init_len;
	char *list[L_N];             /* first pages of the lists, NULL: none */
	size_t list_len[L_N];
	unsigned long gen[L_N];      /* bumped at each invalidation */
	bool wanted[L_N];            /* a client asked for it once: kept filled */
};

/* One id tend minted, and what it stands for. */
enum pend_kind {
	P_CLIENT,   /* a client's request at the server */
	P_SERVER,   /* the server's request at a client */
	P_INIT,     /* tend's initialize */
	P_TEND,     /* tend's other requests (subscribe, setLevel...) */
	P_REFRESH,  /* tend asks a cached list again (a new server process) */
	P_LISTEN,   /* a client's subscriptions/listen (MCP 2026-07-28): not
	               in flight; kept, and sent again, across restarts */
	P_DISCOVER, /* tend's server/discover, after a refused initialize */
};

struct pend {
	unsigned long long id;
	enum pend_kind kind;
	struct mcp_client *c;      /* P_CLIENT, P_SERVER */
	char *orig;                /* the client's id / the server's id */
	size_t orig_len;
	char *token;               /* the client's progress token */
	size_t token_len;
	struct sub *sub;           /* a client's first subscribe to it */
	int slot;                  /* a cacheable list request: L_* + 1; 0: none */
	bool refill;               /* P_REFRESH of a list the clients were told
	                              changed: stored, not told again */
	unsigned long gen;         /* the slot's generation when it was sent */
	int msg_level;             /* P_CLIENT: 1 + the index in levels of its
	                              _meta log level (2026-07-28); 0: none */
	char *line;                /* P_LISTEN: the request as the server got
	                              it (tend's id in it) */
	size_t line_len;
	unsigned lists;            /* P_LISTEN: the list_changed it acknowledged */
	bool relisten;             /* P_LISTEN: sent again to a new process; its
	                              acknowledgment is not the client's news */
	struct pend *hnext;        /* the id table's chain */
	struct list_link link;     /* on its client's reqs, or m->own */
};

struct mcp_client {
	struct mcp *m;
	void *data;
	struct list_link link;     /* on m->clients */
	struct list reqs;          /* P_CLIENT and P_SERVER, newest first */
	size_t in_flight;          /* its P_CLIENT */
	unsigned caps;
	int level;                 /* index in levels, -1: never set */
	bool initialized;          /* its initialize was answered */
	bool closed;               /* its input ended (mcp_client_close) */
	bool told;                 /* ops.settled was called for it */
	size_t queued;             /* its requests in m's queue */
	unsigned long long active; /* m->seq at its last message */
	struct sub **subs;
	size_t nsubs, capsubs;
};

/* A client's message waiting for the server to be initialized. */
struct qmsg {
	struct mcp_client *c;
	char *line;
	size_t len;
	bool request;
	struct qmsg *next;
};

struct mcp {
	struct mcp_ops ops;
	char *version;             /* tend's, for clientInfo */
	char *protocol;            /* what tend asks the server for */
	unsigned caps;             /* the client capabilities tend declares */
	struct list clients;       /* struct mcp_client, newest first */
	enum srv_state state;
	struct mcp_cache *cache;   /* initialize and list results */
	bool own_cache;
	char *refusal;             /* S_REFUSED: what the server said */
	bool modern_only;          /* it refused tend's initialize and answered
	                              server/discover: MCP 2026-07-28 only */
	char *discover;            /* then: its server/discover result */
	size_t discover_len;
	bool stateless_first;      /* open each process with server/discover
	                              (mcp_open_stateless) */
	bool asked_init, asked_discover;   /* of this process, by tend */
	int srv_level;             /* set at this process, -1: not yet */
	bool woken;                /* S_DOWN: wake asked for already */
	unsigned long long next_id, seq;
	struct pend **tab;         /* tend id -> pend; ids are sequential */
	size_t tabsize, npend;
	struct list own;           /* P_INIT, P_TEND */
	size_t in_flight;
	struct sub *subs;
	struct qmsg *qhead, **qtail;
	size_t nq;
};

/* --- sending --- */

static void send_to(struct mcp *m, struct mcp_client *c, const char *line,
                    size_t len)
{
	if (c)
		m->ops.to_client(m->ops.ctx, c->data, line, len);
	else
		m->ops.to_server(m->ops.ctx, line, len);
}

static void send_str(struct mcp *m, struct mcp_client *c, const char *line)
{
	send_to(m, c, line, strlen(line));
}

/* LINE with the N edits made, to C (NULL: the server). */
static void send_edited(struct mcp *m, struct mcp_client *c, const char *line,
                        size_t len, const struct jrpc_edit *e, size_t n)
{
	size_t ol;
	char *o = jrpc_splice(line, len, e, n, &ol);
	if (o)
		send_to(m, c, o, ol);   /* (tend's spans always fit) */
	free(o);
}

static void mlog(struct mcp *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void mlog(struct mcp *m, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	m->ops.log(m->ops.ctx, b);
}

/* {"jsonrpc":"2.0","id":ID,"result":RESULT} to C (NULL: the server). */
static void reply_result(struct mcp *m, struct mcp_client *c, const char *id,
                         size_t idlen, const char *result, size_t rlen)
{
	struct buf b = { 0 };
	buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
	buf_add(&b, id, idlen);
	buf_adds(&b, ",\"result\":");
	buf_add(&b, result, rlen);
	buf_addc(&b, '}');
	send_to(m, c, b.s, b.len);
	free(b.s);
}

/* An error answer to ID (JSON text) with MSG (cleaned to valid UTF-8). */
static char *error_line(const char *id, size_t idlen, int code, char *msg)
{
	str_clean(msg);   /* valid UTF-8, whatever went into it */
	json_t *s = json_string(msg);
	char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	char *line = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"error\":"
	                       "{\"code\":%d,\"message\":%s}}", (int)idlen, id,
	                       code, q ? q : "\"tend: error\"");
	free(q);
	json_decref(s);
	return line;
}

static void reply_error(struct mcp *m, struct mcp_client *c, const char *id,
                        size_t idlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void reply_error(struct mcp *m, struct mcp_client *c, const char *id,
                        size_t idlen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	char *line = error_line(id, idlen, code, msg);
	send_str(m, c, line);
	free(line);
	free(msg);
}

char *mcp_error_for(const char *line, size_t len, int code, const char *why)
{
	struct jrpc_msg msg;
	if (jrpc_scan(line, len, &msg) != JRPC_REQUEST)
		return NULL;
	char *text = xasprintf("tend: %s", why);
	char *e = error_line(line + msg.id.off, msg.id.len, code, text);
	free(text);
	return e;
}

#define SPAN(line, s) (line) + (s).off, (s).len

/* --- ids tend minted --- */

/* The span as one of tend's ids (a plain non-negative integer). */
static bool tend_id(const char *line, struct jspan s, unsigned long long *id)
{
	if (s.len == 0 || s.len > 19 || (s.len > 1 && line[s.off] == '0'))
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < s.len; i++) {
		char ch = line[s.off + i];
		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (unsigned)(ch - '0');
	}
	*id = v;
	return true;
}

static void tab_grow(struct mcp *m)
{
	size_t n = m->tabsize ? m->tabsize * 2 : 64;
	struct pend **t = xcalloc(n, sizeof(*t));
	for (size_t i = 0; i < m->tabsize; i++)
		for (struct pend *p = m->tab[i], *next; p; p = next) {
			next = p->hnext;
			p->hnext = t[p->id & (n - 1)];
			t[p->id & (n - 1)] = p;
		}
	free(m->tab);
	m->tab = t;
	m->tabsize = n;
}

static struct list *pend_list(struct mcp *m, struct pend *p)
{
	return p->c ? &p->c->reqs : &m->own;
}

/* The first (newest) pend of the list L, NULL if none. */
static struct pend *pend_first(const struct list *l)
{
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): a loop that frees the first pend until none is left: pend_free takes it off its list, pend_list(m, p), which the analyzer does not see is L */
	return list_first(l, struct pend, link);
}

static struct pend *pend_new(struct mcp *m, enum pend_kind kind,
                             struct mcp_client *c)
{
	struct pend *p = xcalloc(1, sizeof(*p));
	p->id = ++m->next_id;
	p->kind = kind;
	p->c = c;
	if (m->npend >= m->tabsize)
		tab_grow(m);
	struct pend **slot = &m->tab[p->id & (m->tabsize - 1)];
	p->hnext = *slot;
	*slot = p;
	m->npend++;
	list_push_front(pend_list(m, p), &p->link);
	if (kind == P_CLIENT) {
		c->in_flight++;
		m->in_flight++;
	}
	return p;
}

static struct pend *pend_find(struct mcp *m, unsigned long long id)
{
	if (!m->tabsize)
		return NULL;
	struct pend *p = m->tab[id & (m->tabsize - 1)];
	while (p && p->id != id)
		p = p->hnext;
	return p;
}

/* A closed client with nothing pending is told once: it can go. */
static void note_settled(struct mcp *m, struct mcp_client *c)
{
	if (c->closed && !c->told && c->in_flight == 0 && c->queued == 0) {
		c->told = true;
		if (m->ops.settled)
			m->ops.settled(m->ops.ctx, c->data);
	}
}

static void note_all_settled(struct mcp *m)
{
	list_each(c, &m->clients, struct mcp_client, link)
		note_settled(m, c);
}

static void pend_free(struct mcp *m, struct pend *p)
{
	struct pend **slot = &m->tab[p->id & (m->tabsize - 1)];
	while (*slot != p)
		slot = &(*slot)->hnext;
	*slot = p->hnext;
	m->npend--;
	list_remove(pend_list(m, p), &p->link);
	struct mcp_client *settle = NULL;
	if (p->kind == P_CLIENT) {
		p->c->in_flight--;
		m->in_flight--;
		settle = p->c;
	}
	free(p->orig);
	free(p->token);
	free(p->line);
	free(p);
	if (settle)
		note_settled(m, settle);
}

static char *dup_span(const char *line, struct jspan s, size_t *len)
{
	char *d = xmalloc(s.len + 1);
	memcpy(d, line + s.off, s.len);
	d[s.len] = '\0';
	*len = s.len;
	return d;
}

/* A pend of KIND (of client C) for the request LINE, whose id ID it keeps
 * for the answer; *E then puts tend's id (written into NUM) in its place. */
static struct pend *pend_mapped(struct mcp *m, enum pend_kind kind,
                                struct mcp_client *c, const char *line,
                                struct jspan id, char num[24],
                                struct jrpc_edit *e)
{
	struct pend *p = pend_new(m, kind, c);
	p->orig = dup_span(line, id, &p->orig_len);
	size_t nl = (size_t)snprintf(num, 24, "%llu", p->id);
	*e = (struct jrpc_edit){ id, num, nl };
	return p;
}

/* A request of tend's own to the server: METHOD with PARAMS (JSON text). */
static void tend_request(struct mcp *m, enum pend_kind kind, const char *method,
                         const char *params)
{
	struct pend *p = pend_new(m, kind, NULL);
	char *line = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"%s\","
	                       "\"params\":%s}", p->id, method, params);
	send_str(m, NULL, line);
	free(line);
}

/* --- subscriptions and log levels --- */

static struct sub *sub_find(struct mcp *m, const char *uri)
{
	struct sub *s = m->subs;
	while (s && strcmp(s->uri, uri) != 0)
		s = s->next;
	return s;
}

static size_t client_sub(const struct mcp_client *c, const struct sub *s)
{
	size_t i = 0;
	while (i < c->nsubs && c->subs[i] != s)
		i++;
	return i;
}

static char *json_quote(const char *s)
{
	json_t *j = json_string(s);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	return q;
}

static void tend_subscribe(struct mcp *m, struct sub *s, bool on)
{
	char *q = json_quote(s->uri);
	char *params = xasprintf("{\"uri\":%s}", q ? q : "\"\"");
	tend_request(m, P_TEND, on ? "resources/subscribe" : "resources/unsubscribe",
	             params);
	free(params);
	free(q);
}

/* C no longer subscribes to S; the last subscriber gone, the server is
 * unsubscribed (TELL) and S goes. */
static void sub_release(struct mcp *m, struct mcp_client *c, struct sub *s,
                        bool tell)
{
	size_t i = client_sub(c, s);
	if (i == c->nsubs)
		return;
	c->subs[i] = c->subs[--c->nsubs];
	if (--s->n > 0)
		return;
	if (tell && m->state == S_READY)
		tend_subscribe(m, s, false);
	/* A first subscribe still unanswered no longer stands for S. */
	list_each(k, &m->clients, struct mcp_client, link)
		list_each(p, &k->reqs, struct pend, link)
			if (p->sub == s)
				p->sub = NULL;
	struct sub **pp = &m->subs;
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	free(s->uri);
	free(s);
}

static int level_index(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_LEN(levels); i++)
		if (strcmp(levels[i], name) == 0)
			return (int)i;
	return -1;
}

/* The server runs at the lowest level any client asked for. */
static void apply_level(struct mcp *m)
{
	int low = -1;
	list_each(c, &m->clients, struct mcp_client, link)
		if (c->level >= 0 && (low < 0 || c->level < low))
			low = c->level;
	if (low < 0 || low == m->srv_level || m->state != S_READY)
		return;
	m->srv_level = low;
	char *params = xasprintf("{\"level\":\"%s\"}", levels[low]);
	tend_request(m, P_TEND, "logging/setLevel", params);
	free(params);
}

/* --- the queue before the server is initialized --- */

static void dispatch(struct mcp *m, struct mcp_client *c, const char *line,
                     size_t len);

/* The waiting messages, taken out of the queue. */
static struct qmsg *take_waiting(struct mcp *m)
{
	struct qmsg *q = m->qhead;
	for (struct qmsg *k = q; k; k = k->next)
		if (k->request)
			k->c->queued--;
	m->qhead = NULL;
	m->qtail = &m->qhead;
	m->nq = 0;
	return q;
}

static void fail_waiting(struct mcp *m, const char *why)
{
	struct qmsg *q = take_waiting(m);
	while (q) {
		struct qmsg *next = q->next;
		struct jrpc_msg msg;
		if (jrpc_scan(q->line, q->len, &msg) == JRPC_REQUEST)
			reply_error(m, q->c, SPAN(q->line, msg.id), -32603,
			            "tend: %s", why);
		free(q->line);
		free(q);
		q = next;
	}
	note_all_settled(m);
}

static void enqueue(struct mcp *m, struct mcp_client *c, const char *line,
                    size_t len, const struct jrpc_msg *msg)
{
	if (m->state == S_REFUSED) {
		if (msg->kind == JRPC_REQUEST)
			reply_error(m, c, SPAN(line, msg->id), -32603, "tend: the "
			            "server refused tend's initialize (%s); fix the "
			            "server, then tend restart it", m->refusal);
		return;
	}
	if (m->nq >= MCP_QUEUE_MAX) {
		if (msg->kind == JRPC_REQUEST)
			reply_error(m, c, SPAN(line, msg->id), -32603, "tend: %d "
			            "messages already wait for the server to start; "
			            "try again", MCP_QUEUE_MAX);
		return;
	}
	struct qmsg *q = xcalloc(1, sizeof(*q));
	q->c = c;
	q->line = xmalloc(len ? len : 1);
	memcpy(q->line, line, len);
	q->len = len;
	q->request = msg->kind == JRPC_REQUEST;
	if (q->request)
		c->queued++;
	*m->qtail = q;
	m->qtail = &q->next;
	m->nq++;
	if (m->state == S_DOWN && !m->woken) {
		m->woken = true;
		if (!m->ops.wake(m->ops.ctx))
			mcp_server_failed(m, "the server cannot start; see tend status");
	}
}

/* The server is initialized: what waited goes, in arrival order. */
static void flush_waiting(struct mcp *m)
{
	struct qmsg *q = take_waiting(m);
	while (q) {
		struct qmsg *next = q->next;
		dispatch(m, q->c, q->line, q->len);
		free(q->line);
		free(q);
		q = next;
	}
	note_all_settled(m);
}

/* --- the cache --- */

struct mcp_cache *mcp_cache_new(void)
{
	return xcalloc(1, sizeof(struct mcp_cache));
}

static void cache_drop(struct mcp_cache *k, int i)
{
	free(k->list[i]);
	k->list[i] = NULL;
	k->list_len[i] = 0;
	k->gen[i]++;
}

void mcp_cache_free(struct mcp_cache *k)
{
	if (!k)
		return;
	for (int i = 0; i < L_N; i++)
		free(k->list[i]);
	free(k->init);
	free(k);
}

/* LINE's method as one of the cached lists: its index, or -1.  Only a
 * first page is cached: a request with params other than _meta is not,
 * nor one of MCP 2026-07-28. */
static int cacheable(const char *line, const struct jrpc_msg *msg)
{
	int slot = -1;
	for (int i = 0; i < L_N && slot < 0; i++)
		if (jrpc_str_eq(line, msg->method, lists[i].method))
			slot = i;
	if (slot < 0 || !msg->params.len)
		return slot;
	json_t *p = json_loadb(line + msg->params.off, msg->params.len, 0, NULL);
	json_t *meta = json_object_get(p, "_meta");
	bool plain = json_is_object(p) && json_object_size(p) == (meta ? 1u : 0u) &&
	             /* not of MCP 2026-07-28, whose answers may depend on the
	              * capabilities each request carries */
	             !json_object_get(meta, "io.modelcontextprotocol/protocolVersion");
	json_decref(p);
	return plain ? slot : -1;
}

/* A list result the server sent: cached unless it went stale meanwhile
 * (GEN) or is too big to keep. */
static void cache_store(struct mcp_cache *k, int i, unsigned long gen,
                        const char *line, struct jspan result)
{
	if (gen != k->gen[i] || result.len > MCP_CACHE_ITEM_MAX)
		return;
	free(k->list[i]);
	k->list[i] = dup_span(line, result, &k->list_len[i]);
}

/* Asks the server for list I again, for the cache (P_REFRESH); REFILL:
 * the clients were told it changed already. */
static void ask_list(struct mcp *m, int i, bool refill)
{
	struct pend *p = pend_new(m, P_REFRESH, NULL);
	p->slot = i + 1;
	p->gen = m->cache->gen[i];
	p->refill = refill;
	char *l = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":"
	                    "\"%s\"}", p->id, lists[i].method);
	send_str(m, NULL, l);
	free(l);
}

/* --- what clients say --- */

/* The capabilities an initialize request declares (CAP_*). */
/* The routable capabilities of an initialize's params (CAP_*). */
static unsigned caps_of(json_t *params)
{
	json_t *caps = json_object_get(params, "capabilities");
	return (json_is_object(json_object_get(caps, "roots")) ? CAP_ROOTS : 0) |
	       (json_is_object(json_object_get(caps, "sampling")) ? CAP_SAMPLING : 0) |
	       (json_is_object(json_object_get(caps, "elicitation")) ? CAP_ELICITATION : 0);
}

static unsigned init_caps(const char *line, const struct jrpc_msg *msg)
{
	json_t *params = msg->params.len
	                 ? json_loadb(line + msg->params.off, msg->params.len, 0, NULL)
	                 : NULL;
	unsigned c = caps_of(params);
	json_decref(params);
	return c;
}

static void client_initialize(struct mcp *m, struct mcp_client *c,
                              const char *line, const struct jrpc_msg *msg)
{
	c->caps = init_caps(line, msg);
	c->initialized = true;
	reply_result(m, c, SPAN(line, msg->id), m->cache->init, m->cache->init_len);
}

void mcp_client_adopt(struct mcp *m, struct mcp_client *c, const char *line,
                      size_t len)
{
	(void)m;
	struct jrpc_msg msg;
	if (jrpc_scan(line, len, &msg) == JRPC_REQUEST)
		c->caps = init_caps(line, &msg);
	c->initialized = true;
}

/* Sends C's request on with tend's id (and progress token).  NULL when C
 * has too many in flight (answered). */
static struct pend *forward(struct mcp *m, struct mcp_client *c,
                            const char *line, size_t len,
                            const struct jrpc_msg *msg)
{
	if (c->in_flight >= MCP_CLIENT_IN_FLIGHT_MAX) {
		reply_error(m, c, SPAN(line, msg->id), -32603, "tend: %d requests "
		            "of this client are in flight; wait for answers",
		            MCP_CLIENT_IN_FLIGHT_MAX);
		return NULL;
	}
	char num[24];
	struct jrpc_edit e[2];
	struct pend *p = pend_mapped(m, P_CLIENT, c, line, msg->id, num, &e[0]);
	int slot = cacheable(line, msg);
	if (slot >= 0) {
		p->slot = slot + 1;
		p->gen = m->cache->gen[slot];
		m->cache->wanted[slot] = true;
	}
	if (msg->meta_level.len) {   /* 2026-07-28: log messages asked for */
		char *name = jrpc_str(line, msg->meta_level);
		p->msg_level = 1 + level_index(name);
		free(name);
	}
	size_t n = 1;
	if (msg->meta_progress.len) {
		p->token = dup_span(line, msg->meta_progress, &p->token_len);
		e[n++] = (struct jrpc_edit){ msg->meta_progress, num, e[0].len };
	}
	send_edited(m, NULL, line, len, e, n);
	return p;
}

static void client_set_level(struct mcp *m, struct mcp_client *c,
                             const char *line, const struct jrpc_msg *msg)
{
	char *name = jrpc_str(line, msg->level);
	int i = level_index(name);
	free(name);
	if (i < 0) {
		reply_error(m, c, SPAN(line, msg->id), -32602, "tend: params.level "
		            "must be one of debug, info, notice, warning, error, "
		            "critical, alert, emergency");
		return;
	}
	c->level = i;
	reply_result(m, c, SPAN(line, msg->id), "{}", 2);
	apply_level(m);
}

/* resources/subscribe: only the first subscriber reaches the server. */
static void client_subscribe(struct mcp *m, struct mcp_client *c,
                             const char *line, size_t len,
                             const struct jrpc_msg *msg)
{
	char *uri = jrpc_str(line, msg->uri);
	if (!uri) {
		forward(m, c, line, len, msg);   /* the server says what is wrong */
		return;
	}
	struct sub *s = sub_find(m, uri);
	if (s && client_sub(c, s) < c->nsubs) {
		free(uri);
		reply_result(m, c, SPAN(line, msg->id), "{}", 2);
		return;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->uri = uri;
		s->next = m->subs;
		m->subs = s;
	} else {
		free(uri);
	}
	if (c->nsubs == c->capsubs) {
		c->capsubs = c->capsubs ? c->capsubs * 2 : 4;
		c->subs = xrealloc(c->subs, c->capsubs * sizeof(*c->subs));
	}
	c->subs[c->nsubs++] = s;
	if (++s->n > 1) {
		reply_result(m, c, SPAN(line, msg->id), "{}", 2);
		return;
	}
	struct pend *p = forward(m, c, line, len, msg);
	if (p)
		p->sub = s;
	else
		sub_release(m, c, s, false);
}

/* resources/unsubscribe: only the last subscriber reaches the server. */
static void client_unsubscribe(struct mcp *m, struct mcp_client *c,
                               const char *line, size_t len,
                               const struct jrpc_msg *msg)
{
	char *uri = jrpc_str(line, msg->uri);
	struct sub *s = uri ? sub_find(m, uri) : NULL;
	free(uri);
	if (!s || client_sub(c, s) == c->nsubs) {
		reply_result(m, c, SPAN(line, msg->id), "{}", 2);
		return;
	}
	if (s->n > 1) {
		sub_release(m, c, s, false);
		reply_result(m, c, SPAN(line, msg->id), "{}", 2);
		return;
	}
	sub_release(m, c, s, false);
	forward(m, c, line, len, msg);
}

/* tend's initialize of the server process. */
static void tend_initialize(struct mcp *m)
{
	m->asked_init = true;
	char *proto = json_quote(m->protocol);
	/* The capabilities of the clients it serves, so that the server
	 * offers them what it would offer them directly. */
	char *params = xasprintf("{\"protocolVersion\":%s,\"capabilities\":{%s%s%s%s%s},"
	                         "\"clientInfo\":{\"name\":\"tend\",\"version\":\"%s\"}}",
	                         proto ? proto : "\"" MCP_PROTOCOL "\"",
	                         m->caps & CAP_ROOTS ? "\"roots\":{\"listChanged\":true}" : "",
	                         (m->caps & CAP_ROOTS) && (m->caps & ~CAP_ROOTS) ? "," : "",
	                         m->caps & CAP_SAMPLING ? "\"sampling\":{}" : "",
	                         (m->caps & CAP_SAMPLING) && (m->caps & CAP_ELICITATION) ? "," : "",
	                         m->caps & CAP_ELICITATION ? "\"elicitation\":{}" : "",
	                         m->version);
	free(proto);
	tend_request(m, P_INIT, "initialize", params);
	free(params);
}

/* --- MCP 2026-07-28: the stateless revision (docs/mcp-2026.md) --- */

/* An error of the revision's own (-32020..-32022: header mismatch, missing
 * client capability, unsupported protocol version): the server is of the
 * stateless era, whatever it refused. */
static bool modern_error(const char *line, const struct jrpc_msg *msg)
{
	if (!msg->error.len)
		return false;
	json_t *e = json_loadb(line + msg->error.off, msg->error.len, 0, NULL);
	json_t *code = json_object_get(e, "code");
	bool modern = json_is_integer(code) && json_integer_value(code) <= -32020 &&
	              json_integer_value(code) >= -32022;
	json_decref(e);
	return modern;
}

/* The server refused tend's initialize: is it a server of the stateless
 * era?  Its answer to server/discover says (discover_done). */
static void discover_probe(struct mcp *m)
{
	m->asked_discover = true;
	char *params = xasprintf("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
	                         "\"" MCP_PROTOCOL_STATELESS "\",\"io.modelcontextprotocol/"
	                         "clientInfo\":{\"name\":\"tend\",\"version\":\"%s\"},"
	                         "\"io.modelcontextprotocol/clientCapabilities\":{}}}",
	                         m->version);
	tend_request(m, P_DISCOVER, "server/discover", params);
	free(params);
}

/* The server refused initialize and is no server of the stateless era
 * either: what waits for it fails, and so will what comes. */
static void refused(struct mcp *m)
{
	mlog(m, "the server refused tend's initialize: %s", m->refusal);
	m->state = S_REFUSED;
	char *why = xasprintf("the server refused tend's initialize (%s); fix "
	                      "the server, then tend restart it", m->refusal);
	fail_waiting(m, why);
	free(why);
}

/* The list_changed notifications a listen stream acknowledged (bits of
 * lists[] below). */
static const char *const listen_lists[] = { "tools", "prompts", "resources" };

static unsigned acked_lists(const char *line, const struct jrpc_msg *msg)
{
	static const char *const keys[] = { "toolsListChanged", "promptsListChanged",
	                                    "resourcesListChanged" };
	json_t *p = msg->params.len
	            ? json_loadb(line + msg->params.off, msg->params.len, 0, NULL)
	            : NULL;
	json_t *n = json_object_get(p, "notifications");
	unsigned bits = 0;
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (json_is_true(json_object_get(n, keys[i])))
			bits |= 1u << i;
	json_decref(p);
	return bits;
}

/* subscriptions/listen: each client's stream is its own at the server
 * (tend's id is its subscription id there); it is not in flight, and
 * tend opens it again at the next process after a restart. */
static void client_listen(struct mcp *m, struct mcp_client *c, const char *line,
                          size_t len, const struct jrpc_msg *msg)
{
	size_t n = 0;
	for (struct pend *q = pend_first(&c->reqs); q && n < MCP_CLIENT_LISTEN_MAX;
	     q = list_next(q, struct pend, link))
		n += q->kind == P_LISTEN;
	if (n >= MCP_CLIENT_LISTEN_MAX) {
		reply_error(m, c, SPAN(line, msg->id), -32603, "tend: %d listen "
		            "streams of this client are open; cancel one first",
		            MCP_CLIENT_LISTEN_MAX);
		return;
	}
	char num[24];
	struct jrpc_edit e;
	struct pend *p = pend_mapped(m, P_LISTEN, c, line, msg->id, num, &e);
	p->line = jrpc_splice(line, len, &e, 1, &p->line_len);
	if (p->line)
		send_to(m, NULL, p->line, p->line_len);
}

/* A new process: every listen stream is opened again. */
static void relisten(struct mcp *m)
{
	list_each(c, &m->clients, struct mcp_client, link)
		list_each(p, &c->reqs, struct pend, link)
			if (p->kind == P_LISTEN && p->line) {
				p->relisten = true;
				send_to(m, NULL, p->line, p->line_len);
			}
}

/* What the server offers changed across a restart: each listen stream
 * that acknowledged a list_changed gets it (as rule 8 for the others). */
static void listen_changed(struct mcp *m)
{
	list_each(c, &m->clients, struct mcp_client, link)
		list_each(p, &c->reqs, struct pend, link) {
			if (p->kind != P_LISTEN)
				continue;
			for (size_t i = 0; i < ARRAY_LEN(listen_lists); i++) {
				if (!(p->lists & (1u << i)))
					continue;
				char *n = xasprintf("{\"jsonrpc\":\"2.0\",\"method\":"
				                    "\"notifications/%s/list_changed\","
				                    "\"params\":{\"_meta\":{\""
				                    JRPC_META_SUBSCRIPTION "\":%.*s}}}",
				                    listen_lists[i], (int)p->orig_len, p->orig);
				send_str(m, c, n);
				free(n);
			}
		}
}

/* The server ends a listen stream: the response carries the subscription
 * id in result._meta too. */
static void listen_response(struct mcp *m, struct pend *p, const char *line,
                            size_t len, const struct jrpc_msg *msg)
{
	struct jrpc_edit e[2] = { { msg->id, p->orig, p->orig_len } };
	size_t n = 1;
	unsigned long long sid;
	if (msg->result_sub.len && tend_id(line, msg->result_sub, &sid) && sid == p->id)
		e[n++] = (struct jrpc_edit){ msg->result_sub, p->orig, p->orig_len };
	send_edited(m, p->c, line, len, e, n);
	pend_free(m, p);
}

/* A notification tagged with a subscription id goes to the client whose
 * stream it is, with its own id back; one of no open stream, nowhere. */
static void listen_notification(struct mcp *m, const char *line, size_t len,
                                const struct jrpc_msg *msg)
{
	unsigned long long id;
	struct pend *p = tend_id(line, msg->meta_sub, &id) ? pend_find(m, id) : NULL;
	if (!p || p->kind != P_LISTEN)
		return;
	if (jrpc_str_eq(line, msg->method, "notifications/subscriptions/acknowledged")) {
		p->lists = acked_lists(line, msg);
		if (p->relisten) {
			p->relisten = false;   /* the client had its acknowledgment */
			return;
		}
	}
	struct jrpc_edit e = { msg->meta_sub, p->orig, p->orig_len };
	send_edited(m, p->c, line, len, &e, 1);
}

/* The server's notifications/cancelled of a listen stream (the only one
 * the revision lets it send).  False: it is no listen's. */
static bool listen_cancelled(struct mcp *m, const char *line, size_t len,
                             const struct jrpc_msg *msg)
{
	unsigned long long id;
	struct pend *p = tend_id(line, msg->request_id, &id) ? pend_find(m, id) : NULL;
	if (!p || p->kind != P_LISTEN)
		return false;
	struct jrpc_edit e = { msg->request_id, p->orig, p->orig_len };
	send_edited(m, p->c, line, len, &e, 1);
	pend_free(m, p);
	return true;
}

/* notifications/message of the revision belongs to a request whose _meta
 * asked for a log level, and stdio says not which: it goes to each client
 * of the stateless era with such a request in flight at or below LEVEL
 * (-1: a level tend does not know, to all of them). */
static void modern_log(struct mcp *m, const char *line, size_t len, int level)
{
	list_each(c, &m->clients, struct mcp_client, link) {
		if (c->initialized)
			continue;   /* a client of the session era: rule 6 */
		list_each(p, &c->reqs, struct pend, link)
			if (p->kind == P_CLIENT && p->msg_level &&
			    (level < 0 || p->msg_level - 1 <= level)) {
				send_to(m, c, line, len);
				break;
			}
	}
}

/* The server will not come back: the listen streams end with WHY. */
static void fail_listens(struct mcp *m, const char *why)
{
	list_each(c, &m->clients, struct mcp_client, link)
		for (struct pend *p = pend_first(&c->reqs), *next; p; p = next) {
			next = list_next(p, struct pend, link);
			if (p->kind != P_LISTEN)
				continue;
			reply_error(m, c, p->orig, p->orig_len, -32603, "tend: %s", why);
			pend_free(m, p);
		}
}

static void discover_done(struct mcp *m, const char *line,
                          const struct jrpc_msg *msg)
{
	if (!msg->result.len && !modern_error(line, msg)) {
		if (m->asked_init)
			refused(m);
		else
			tend_initialize(m);   /* a server of the session era */
		return;
	}
	bool changed = msg->result.len && m->discover &&
	               (m->discover_len != msg->result.len ||
	                memcmp(m->discover, line + msg->result.off, msg->result.len) != 0);
	if (msg->result.len) {
		free(m->discover);
		m->discover = dup_span(line, msg->result, &m->discover_len);
	}
	if (m->asked_init)
		mlog(m, "the server refused initialize (%s) and answered server/"
		     "discover: it is served as a server of MCP " MCP_PROTOCOL_STATELESS
		     " (stateless)", m->refusal ? m->refusal : "no message");
	m->modern_only = true;
	m->state = S_READY;
	relisten(m);
	if (changed)
		listen_changed(m);
	flush_waiting(m);
}

static void client_request(struct mcp *m, struct mcp_client *c,
                           const char *line, size_t len,
                           const struct jrpc_msg *msg)
{
	/* A server of the stateless era only answers all itself (initialize
	 * too: it is its to refuse). */
	bool session = !m->modern_only;
	if (jrpc_str_eq(line, msg->method, "subscriptions/listen"))
		client_listen(m, c, line, len, msg);
	else if (session && jrpc_str_eq(line, msg->method, "initialize"))
		client_initialize(m, c, line, msg);
	else if (session && jrpc_str_eq(line, msg->method, "logging/setLevel"))
		client_set_level(m, c, line, msg);
	else if (session && jrpc_str_eq(line, msg->method, "resources/subscribe"))
		client_subscribe(m, c, line, len, msg);
	else if (session && jrpc_str_eq(line, msg->method, "resources/unsubscribe"))
		client_unsubscribe(m, c, line, len, msg);
	else
		forward(m, c, line, len, msg);
}

static struct pend *find_by_orig(const struct list *l, enum pend_kind kind,
                                 const char *id, size_t len)
{
	list_each(p, l, struct pend, link)
		if (p->kind == kind && p->orig_len == len &&
		    memcmp(p->orig, id, len) == 0)
			return p;
	return NULL;
}

static void client_notification(struct mcp *m, struct mcp_client *c,
                                 const char *line, size_t len,
                                 const struct jrpc_msg *msg)
{
	if (jrpc_str_eq(line, msg->method, "notifications/initialized"))
		return;   /* the server had tend's, once */
	if (jrpc_str_eq(line, msg->method, "notifications/cancelled")) {
		/* The newest of C's requests with that id (C may reuse one). */
		struct pend *p = msg->request_id.len
		                 ? find_by_orig(&c->reqs, P_CLIENT, SPAN(line, msg->request_id))
		                 : NULL;
		if (!p && msg->request_id.len)   /* its listen stream ends */
			p = find_by_orig(&c->reqs, P_LISTEN, SPAN(line, msg->request_id));
		if (!p)
			return;   /* answered already, or never asked */
		char num[24];
		size_t nl = (size_t)snprintf(num, sizeof(num), "%llu", p->id);
		struct jrpc_edit e = { msg->request_id, num, nl };
		send_edited(m, NULL, line, len, &e, 1);
		pend_free(m, p);   /* a cancelled request gets no answer */
		return;
	}
	send_to(m, NULL, line, len);
}

/* C answers a request of the server's. */
static void client_response(struct mcp *m, struct mcp_client *c,
                            const char *line, size_t len,
                            const struct jrpc_msg *msg)
{
	unsigned long long id;
	struct pend *p = tend_id(line, msg->id, &id) ? pend_find(m, id) : NULL;
	if (!p || p->kind != P_SERVER || p->c != c)
		return;   /* not asked of it (or the server is gone since) */
	struct jrpc_edit e = { msg->id, p->orig, p->orig_len };
	send_edited(m, NULL, line, len, &e, 1);
	pend_free(m, p);
}

/* A scanned message of C's, the server being initialized. */
static void handle(struct mcp *m, struct mcp_client *c, const char *line,
                   size_t len, const struct jrpc_msg *msg)
{
	if (msg->kind == JRPC_REQUEST)
		client_request(m, c, line, len, msg);
	else if (msg->kind == JRPC_NOTIFICATION)
		client_notification(m, c, line, len, msg);
	else
		client_response(m, c, line, len, msg);
}

/* A request answered from the cache (initialize while the server starts,
 * a list it answered before): no round trip.  The server is woken all the
 * same: what the client asks next needs it. */
static bool from_cache(struct mcp *m, struct mcp_client *c, const char *line,
                       const struct jrpc_msg *msg)
{
	struct mcp_cache *k = m->cache;
	if (jrpc_str_eq(line, msg->method, "initialize")) {
		if (m->state == S_READY || !k->init || m->state == S_REFUSED)
			return false;
		client_initialize(m, c, line, msg);
	} else {
		int i = c->initialized ? cacheable(line, msg) : -1;
		if (i < 0 || !k->list[i])
			return false;
		reply_result(m, c, SPAN(line, msg->id), k->list[i], k->list_len[i]);
	}
	if (m->state == S_DOWN && !m->woken) {
		if (m->ops.warm) {
			m->ops.warm(m->ops.ctx);   /* needed soon, not now */
		} else {
			m->woken = true;
			if (!m->ops.wake(m->ops.ctx))
				m->woken = false;
		}
	}
	return true;
}

static void dispatch(struct mcp *m, struct mcp_client *c, const char *line,
                     size_t len)
{
	struct jrpc_msg msg;
	enum jrpc_kind k = jrpc_scan(line, len, &msg);
	switch (k) {
	case JRPC_PARSE_ERROR:
		reply_error(m, c, "null", 4, -32700, "tend: parse error: not JSON "
		            "(or nested deeper than %d); send one JSON-RPC message "
		            "per line", JRPC_MAX_DEPTH);
		return;
	case JRPC_BATCH:
		reply_error(m, c, "null", 4, -32600, "tend: batches are not "
		            "supported (removed in MCP 2025-06-18); send one message "
		            "per line");
		return;
	case JRPC_NOT_OBJECT:
	case JRPC_INVALID:
		if (k == JRPC_INVALID && msg.id.len && !jrpc_is_null(line, msg.id))
			reply_error(m, c, SPAN(line, msg.id), -32600, "tend: invalid "
			            "request: a JSON-RPC message has a string method, "
			            "or an id with a result or an error");
		else
			reply_error(m, c, "null", 4, -32600, "tend: invalid request: "
			            "a JSON-RPC message is an object with a string "
			            "method, or an id with a result or an error");
		return;
	default:
		break;
	}
	char first = '"';
	if (msg.id.len)
		first = line[msg.id.off];
	if (k == JRPC_REQUEST && first != '"' && first != '-' &&
	    (first < '0' || first > '9')) {
		reply_error(m, c, "null", 4, -32600, "tend: invalid request: an id "
		            "is a string or a number (MCP: never null)");
		return;
	}
	if (k == JRPC_REQUEST && c->initialized &&
	    jrpc_str_eq(line, msg.method, "ping")) {   /* others: the server's */
		reply_result(m, c, SPAN(line, msg.id), "{}", 2);
		return;
	}
	if (k == JRPC_REQUEST && from_cache(m, c, line, &msg))
		return;
	if (k == JRPC_NOTIFICATION &&
	    jrpc_str_eq(line, msg.method, "notifications/initialized"))
		return;   /* the server had tend's, once: nothing to wait or wake for */
	if (m->state != S_READY && k != JRPC_RESPONSE) {
		enqueue(m, c, line, len, &msg);
		return;
	}
	handle(m, c, line, len, &msg);
}

void mcp_client_line(struct mcp *m, struct mcp_client *c, const char *line,
                     size_t len)
{
	c->active = ++m->seq;
	dispatch(m, c, line, len);
}

/* --- what the server says --- */

static void tell_initialized(struct mcp *m, const char *line)
{
	list_each(c, &m->clients, struct mcp_client, link)
		if (c->initialized)
			send_str(m, c, line);
}


/* The server's initialize result: clients are answered from it. */
static void init_done(struct mcp *m, const char *line,
                      const struct jrpc_msg *msg)
{
	if (!msg->result.len) {
		json_t *e = json_loadb(line + msg->error.off, msg->error.len, 0, NULL);
		const char *text = json_string_value(json_object_get(e, "message"));
		free(m->refusal);
		m->refusal = one_line(text ? text : "no message");
		json_decref(e);
		if (m->asked_discover)
			refused(m);
		else
			discover_probe(m);   /* a server of 2026-07-28 refuses it */
		return;
	}
	struct mcp_cache *k = m->cache;
	bool changed = k->init && (k->init_len != msg->result.len ||
	               memcmp(k->init, line + msg->result.off, msg->result.len) != 0);
	free(k->init);
	k->init = dup_span(line, msg->result, &k->init_len);
	m->state = S_READY;
	send_str(m, NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	for (struct sub *s = m->subs; s; s = s->next)
		tend_subscribe(m, s, true);
	apply_level(m);
	relisten(m);
	if (changed) {
		/* Another server (a new version, say): what was cached is not
		 * its, and the clients' view may be stale: have them list
		 * again. */
		for (int i = 0; i < L_N; i++)
			cache_drop(k, i);
		listen_changed(m);
		json_t *r = json_loadb(k->init, k->init_len, 0, NULL);
		json_t *caps = json_object_get(r, "capabilities");
		static const char *const kinds[] = { "tools", "prompts", "resources" };
		for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
			if (!json_is_true(json_object_get(json_object_get(caps, kinds[i]),
			                                  "listChanged")))
				continue;
			char *n = xasprintf("{\"jsonrpc\":\"2.0\",\"method\":"
			                    "\"notifications/%s/list_changed\"}", kinds[i]);
			tell_initialized(m, n);
			free(n);
		}
		json_decref(r);
	}
	/* Lists answered from the cache while this process started are
	 * checked against what it says now; lists clients asked for are
	 * kept filled. */
	for (int i = 0; i < L_N; i++)
		if (k->wanted[i])   /* quietly when there is nothing to compare */
			ask_list(m, i, !k->list[i]);
	flush_waiting(m);
}

static void server_response(struct mcp *m, const char *line, size_t len,
                            const struct jrpc_msg *msg)
{
	unsigned long long id;
	struct pend *p = tend_id(line, msg->id, &id) ? pend_find(m, id) : NULL;
	if (!p || p->kind == P_SERVER)
		return;   /* a cancelled request's late answer */
	if (p->kind == P_INIT || p->kind == P_DISCOVER) {
		bool init = p->kind == P_INIT;
		pend_free(m, p);
		if (m->state == S_INIT)   /* (not when it is being stopped) */
			(init ? init_done : discover_done)(m, line, msg);
		return;
	}
	if (p->kind == P_LISTEN) {
		listen_response(m, p, line, len, msg);
		return;
	}
	if (p->kind == P_REFRESH) {
		int i = p->slot - 1;
		struct mcp_cache *k = m->cache;
		if (p->gen == k->gen[i]) {
			if (!msg->result.len) {
				cache_drop(k, i);
			} else if (p->refill) {
				cache_store(k, i, k->gen[i], line, msg->result);
			} else if (k->list_len[i] != msg->result.len ||
			           memcmp(k->list[i], line + msg->result.off,
			                  msg->result.len) != 0) {
				/* Clients were answered from the cache: this process
				 * says otherwise. */
				cache_drop(k, i);
				cache_store(k, i, k->gen[i], line, msg->result);
				char *n = xasprintf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\"}",
				                    lists[i].changed);
				tell_initialized(m, n);
				free(n);
			}
		}
		pend_free(m, p);
		return;
	}
	if (p->kind == P_TEND) {
		if (msg->error.len)
			mlog(m, "the server refused tend's request: %.*s",
			     (int)(msg->error.len < 300 ? msg->error.len : 300),
			     line + msg->error.off);
		pend_free(m, p);
		return;
	}
	if (p->sub && msg->error.len)
		sub_release(m, p->c, p->sub, false);   /* the subscribe failed */
	if (p->slot && msg->result.len)
		cache_store(m->cache, p->slot - 1, p->gen, line, msg->result);
	struct jrpc_edit e = { msg->id, p->orig, p->orig_len };
	send_edited(m, p->c, line, len, &e, 1);
	pend_free(m, p);
}

/* The client to put a server request needing capability CAP (0: any) to:
 * the one capable client with a request in flight when only one has, else
 * the capable client heard from last. */
static struct mcp_client *route(struct mcp *m, unsigned cap)
{
	struct mcp_client *busy = NULL, *last = NULL, *last_busy = NULL;
	size_t nbusy = 0;
	list_each(c, &m->clients, struct mcp_client, link) {
		if (!c->initialized || c->closed || (c->caps & cap) != cap)
			continue;
		if (!last || c->active > last->active)
			last = c;
		if (c->in_flight) {
			nbusy++;
			busy = c;
			if (!last_busy || c->active > last_busy->active)
				last_busy = c;
		}
	}
	return nbusy == 1 ? busy : nbusy ? last_busy : last;
}

static void server_request(struct mcp *m, const char *line, size_t len,
                           const struct jrpc_msg *msg)
{
	static const struct { const char *prefix, *name; unsigned cap; } needs[] = {
		{ "\"sampling/", "sampling", CAP_SAMPLING },
		{ "\"roots/", "roots", CAP_ROOTS },
		{ "\"elicitation/", "elicitation", CAP_ELICITATION },
	};
	if (jrpc_str_eq(line, msg->method, "ping")) {
		reply_result(m, NULL, SPAN(line, msg->id), "{}", 2);
		return;
	}
	unsigned cap = 0;
	const char *capname = "";
	for (size_t i = 0; i < ARRAY_LEN(needs); i++)
		if (strlen(needs[i].prefix) <= msg->method.len &&
		    strncmp(line + msg->method.off, needs[i].prefix,
		            strlen(needs[i].prefix)) == 0) {
			cap = needs[i].cap;
			capname = needs[i].name;
		}
	struct mcp_client *c = route(m, cap);
	if (!c) {
		if (jrpc_str_eq(line, msg->method, "roots/list"))
			reply_result(m, NULL, SPAN(line, msg->id), "{\"roots\":[]}", 12);
		else
			reply_error(m, NULL, SPAN(line, msg->id), -32601, "tend: no "
			            "connected client can answer %.*s (none declared the "
			            "%s capability)", (int)(msg->method.len < 100
			            ? msg->method.len : 100), line + msg->method.off,
			            *capname ? capname : "needed");
		return;
	}
	char num[24];
	struct jrpc_edit e;
	pend_mapped(m, P_SERVER, c, line, msg->id, num, &e);
	send_edited(m, c, line, len, &e, 1);
}

/* Is tend asking the server again for cached list I (a new process)? */
static bool refreshing(const struct mcp *m, int i)
{
	list_each(p, &m->own, const struct pend, link)
		if (p->kind == P_REFRESH && p->slot == i + 1 && p->gen == m->cache->gen[i])
			return true;
	return false;
}

/* A list changed: its cached answer goes (and is asked for again, so
 * that the next client has it without a round trip).  While tend is
 * asking a new process for that list anyway (servers that say
 * list_changed after every initialize), the answer decides, and clients
 * are told only when it differs from what they were given.  Returns
 * whether MSG said a list changed and every such cache was kept (clients
 * need not hear of it). */
static bool list_change_kept(struct mcp *m, const char *line,
                             const struct jrpc_msg *msg)
{
	bool matched = false, kept = true;
	for (int i = 0; i < L_N; i++) {
		if (!jrpc_str_eq(line, msg->method, lists[i].changed))
			continue;
		matched = true;
		/* (before its initialize is answered, the process is new: the
		 * refresh that follows decides too) */
		if (m->state != S_INIT && !refreshing(m, i)) {
			cache_drop(m->cache, i);
			kept = false;
			if (m->cache->wanted[i] && m->state == S_READY)
				ask_list(m, i, true);
		}
	}
	return matched && kept;
}

/* Progress of a client's request goes to that client, with its token. */
static void server_progress(struct mcp *m, const char *line, size_t len,
                            const struct jrpc_msg *msg)
{
	unsigned long long id;
	struct pend *p = tend_id(line, msg->progress_token, &id)
	                 ? pend_find(m, id) : NULL;
	if (p && p->kind == P_CLIENT && p->token) {
		struct jrpc_edit e = { msg->progress_token, p->token, p->token_len };
		send_edited(m, p->c, line, len, &e, 1);
	}
}

/* The server gives up a request: of a listen stream, or of its own at a
 * client (which is told with the id it was asked by). */
static void server_cancelled(struct mcp *m, const char *line, size_t len,
                             const struct jrpc_msg *msg)
{
	if (listen_cancelled(m, line, len, msg) || !msg->request_id.len)
		return;
	list_each(c, &m->clients, struct mcp_client, link) {
		struct pend *p = find_by_orig(&c->reqs, P_SERVER,
		                              SPAN(line, msg->request_id));
		if (!p)
			continue;
		char num[24];
		size_t nl = (size_t)snprintf(num, sizeof(num), "%llu", p->id);
		struct jrpc_edit e = { msg->request_id, num, nl };
		send_edited(m, c, line, len, &e, 1);
		pend_free(m, p);
		return;
	}
}

/* Who hears a notification of the server. */
struct audience {
	struct sub *sub;   /* resources/updated: the subscribers of its uri */
	int level;         /* message: those whose level it reaches; else -1 */
	bool log;          /* message: a log line (modern_log) */
};

/* MSG's audience; false when nobody subscribes to the resource updated. */
static bool audience_of(struct mcp *m, const char *line,
                        const struct jrpc_msg *msg, struct audience *a)
{
	*a = (struct audience){ .sub = NULL, .level = -1, .log = false };
	if (jrpc_str_eq(line, msg->method, "notifications/resources/updated")) {
		char *uri = jrpc_str(line, msg->uri);
		a->sub = uri ? sub_find(m, uri) : NULL;
		free(uri);
		return a->sub != NULL;
	}
	if (jrpc_str_eq(line, msg->method, "notifications/message")) {
		a->log = true;
		char *name = jrpc_str(line, msg->level);
		a->level = level_index(name);
		free(name);
	}
	return true;
}

static bool hears(const struct mcp_client *c, const struct audience *a)
{
	return c->initialized &&
	       !(a->sub && client_sub(c, a->sub) == c->nsubs) &&
	       !(a->level >= 0 && c->level > a->level);
}

/* Any other notification goes to every client that hears it. */
static void server_broadcast(struct mcp *m, const char *line, size_t len,
                             const struct jrpc_msg *msg)
{
	struct audience a;
	if (!audience_of(m, line, msg, &a))
		return;
	list_each(c, &m->clients, struct mcp_client, link)
		if (hears(c, &a))
			send_to(m, c, line, len);
	if (a.log)
		modern_log(m, line, len, a.level);
}

static void server_notification(struct mcp *m, const char *line, size_t len,
                                const struct jrpc_msg *msg)
{
	if (list_change_kept(m, line, msg) && !msg->meta_sub.len)
		return;
	if (msg->meta_sub.len)   /* 2026-07-28: on a listen stream */
		listen_notification(m, line, len, msg);
	else if (jrpc_str_eq(line, msg->method, "notifications/progress"))
		server_progress(m, line, len, msg);
	else if (jrpc_str_eq(line, msg->method, "notifications/cancelled"))
		server_cancelled(m, line, len, msg);
	else
		server_broadcast(m, line, len, msg);
}

void mcp_server_line(struct mcp *m, const char *line, size_t len)
{
	struct jrpc_msg msg;
	switch (jrpc_scan(line, len, &msg)) {
	case JRPC_RESPONSE:
		server_response(m, line, len, &msg);
		return;
	case JRPC_REQUEST:
		server_request(m, line, len, &msg);
		return;
	case JRPC_NOTIFICATION:
		server_notification(m, line, len, &msg);
		return;
	default:
		break;
	}
	char head[160];
	size_t n = len < sizeof(head) - 1 ? len : sizeof(head) - 1;
	memcpy(head, line, n);
	head[n] = '\0';
	str_clean(head);
	mlog(m, "not a JSON-RPC message on the server's stdout, skipped "
	     "(%zu bytes): %s%s", len, head, n < len ? "..." : "");
}

/* --- the server process --- */

void mcp_server_up(struct mcp *m)
{
	m->state = S_INIT;
	m->woken = false;
	m->srv_level = -1;
	m->modern_only = false;
	m->asked_init = m->asked_discover = false;
	if (m->stateless_first)
		discover_probe(m);
	else
		tend_initialize(m);
}

void mcp_open_stateless(struct mcp *m)
{
	m->stateless_first = true;
}

void mcp_server_down(struct mcp *m, const char *why)
{
	m->state = S_DOWN;
	free(m->refusal);
	m->refusal = NULL;
	list_each(c, &m->clients, struct mcp_client, link)
		for (struct pend *p = pend_first(&c->reqs), *next; p; p = next) {
			next = list_next(p, struct pend, link);
			if (p->kind == P_LISTEN)
				continue;   /* opened again at the next process */
			if (p->kind == P_CLIENT)
				reply_error(m, c, p->orig, p->orig_len, -32603, "tend: the "
				            "server ended before answering (%s); try again",
				            why);
			pend_free(m, p);
		}
	while (!list_empty(&m->own))
		pend_free(m, pend_first(&m->own));
	m->woken = m->qhead != NULL;
	if (m->qhead && !m->ops.wake(m->ops.ctx))
		fail_waiting(m, "the server cannot start; see tend status");
}

void mcp_server_closing(struct mcp *m)
{
	if (m->state != S_DOWN)
		m->state = S_CLOSING;
}

void mcp_server_failed(struct mcp *m, const char *why)
{
	if (m->state != S_DOWN)
		mcp_server_down(m, why);
	m->woken = false;
	fail_waiting(m, why);
	fail_listens(m, why);
}

/* --- clients --- */

struct mcp_client *mcp_client_add(struct mcp *m, void *data)
{
	struct mcp_client *c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->data = data;
	c->level = -1;
	list_push_front(&m->clients, &c->link);
	return c;
}

bool mcp_client_close(struct mcp *m, struct mcp_client *c)
{
	c->closed = true;
	/* It will answer nothing more: what the server asked of it fails. */
	for (struct pend *p = pend_first(&c->reqs), *next; p; p = next) {
		next = list_next(p, struct pend, link);
		if (p->kind != P_SERVER)
			continue;
		reply_error(m, NULL, p->orig, p->orig_len, -32603, "tend: the "
		            "client closed its input before answering");
		pend_free(m, p);
	}
	c->told = c->in_flight == 0 && c->queued == 0;
	return c->told;
}

void mcp_client_remove(struct mcp *m, struct mcp_client *c)
{
	c->told = true;   /* no settled call while it goes */
	/* Its waiting messages go. */
	for (struct qmsg **qq = &m->qhead; *qq; ) {
		struct qmsg *q = *qq;
		if (q->c != c) {
			qq = &q->next;
			continue;
		}
		*qq = q->next;
		m->nq--;
		if (q->request)
			c->queued--;
		free(q->line);
		free(q);
	}
	m->qtail = &m->qhead;
	while (*m->qtail)
		m->qtail = &(*m->qtail)->next;
	struct pend *p;
	while ((p = pend_first(&c->reqs))) {
		if ((p->kind == P_CLIENT || p->kind == P_LISTEN) &&
		    m->state == S_READY) {
			char *n = xasprintf("{\"jsonrpc\":\"2.0\",\"method\":"
			                    "\"notifications/cancelled\",\"params\":"
			                    "{\"requestId\":%llu,\"reason\":\"client "
			                    "went away\"}}", p->id);
			send_str(m, NULL, n);
			free(n);
		} else if (p->kind == P_SERVER) {
			reply_error(m, NULL, p->orig, p->orig_len, -32603, "tend: the "
			            "client went away before answering");
		}
		pend_free(m, p);
	}
	while (c->nsubs)
		sub_release(m, c, c->subs[c->nsubs - 1], true);
	free(c->subs);
	list_remove(&m->clients, &c->link);
	free(c);
	apply_level(m);
}

const char *mcp_cache_init(const struct mcp_cache *k, size_t *len)
{
	*len = k->init_len;
	return k->init;
}

char *mcp_result_for(const char *line, size_t len, const char *result,
                     size_t rlen)
{
	struct jrpc_msg msg;
	if (jrpc_scan(line, len, &msg) != JRPC_REQUEST)
		return NULL;
	struct buf b = { 0 };
	buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
	buf_add(&b, line + msg.id.off, msg.id.len);
	buf_adds(&b, ",\"result\":");
	buf_add(&b, result, rlen);
	buf_addc(&b, '}');
	return b.s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *mcp_roots_set(const char *line, size_t len)
{
	json_t *j = json_loadb(line, len, 0, NULL);
	json_t *roots = json_object_get(json_object_get(j, "result"), "roots");
	if (!json_is_array(roots)) {
		json_decref(j);
		return NULL;
	}
	size_t n = json_array_size(roots), k = 0;
	const char **uris = xcalloc(n ? n : 1, sizeof(*uris));
	for (size_t i = 0; i < n; i++) {
		const char *u = json_string_value(json_object_get(json_array_get(roots, i), "uri"));
		if (u)
			uris[k++] = u;
	}
	qsort(uris, k, sizeof(*uris), cmp_str);
	struct buf b = { 0 };
	buf_adds(&b, "");
	for (size_t i = 0; i < k; i++) {
		if (i && strcmp(uris[i], uris[i - 1]) == 0)
			continue;   /* a set: the same root twice is once */
		if (b.len)
			buf_addc(&b, '\n');
		buf_adds(&b, uris[i]);
	}
	free(uris);
	json_decref(j);
	return b.s;
}

void mcp_hello(const char *line, size_t len, struct mcp_hello *h)
{
	*h = (struct mcp_hello){ .caps = MCP_CAPS_ALL };
	struct jrpc_msg msg;
	if (jrpc_scan(line, len, &msg) != JRPC_REQUEST)
		return;
	h->initialize = jrpc_str_eq(line, msg.method, "initialize");
	json_t *p = msg.params.len ? json_loadb(line + msg.params.off,
	                                        msg.params.len, 0, NULL) : NULL;
	const char *v;
	if (h->initialize) {
		h->caps = caps_of(p);
		v = json_string_value(json_object_get(p, "protocolVersion"));
	} else {
		v = json_string_value(json_object_get(json_object_get(p, "_meta"),
		                      "io.modelcontextprotocol/protocolVersion"));
		if (!v && jrpc_str_eq(line, msg.method, "server/discover"))
			v = MCP_PROTOCOL_STATELESS;
	}
	if (v && *v && strlen(v) < 64 && !strchr(v, ' '))
		h->version = xstrdup(v);
	json_decref(p);
}

bool mcp_stateless(const char *version)
{
	return strcmp(version, MCP_PROTOCOL_STATELESS) >= 0;
}

size_t mcp_in_flight(const struct mcp *m)
{
	return m->in_flight;
}

size_t mcp_client_in_flight(const struct mcp_client *c)
{
	return c->in_flight;
}

struct mcp *mcp_new(const struct mcp_ops *ops, const char *version,
                    const char *protocol, unsigned caps, struct mcp_cache *cache)
{
	struct mcp *m = xcalloc(1, sizeof(*m));
	m->caps = caps & MCP_CAPS_ALL;
	m->ops = *ops;
	m->version = xstrdup(version);
	m->protocol = xstrdup(protocol ? protocol : MCP_PROTOCOL);
	m->own_cache = !cache;
	m->cache = cache ? cache : mcp_cache_new();
	m->srv_level = -1;
	m->qtail = &m->qhead;
	return m;
}

void mcp_free(struct mcp *m)
{
	if (!m)
		return;
	struct mcp_client *c;
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): C, the first, was taken off the list before it was freed (its prev is NULL) */
	while ((c = list_first(&m->clients, struct mcp_client, link))) {
		c->told = true;   /* no settled call from here */
		while (!list_empty(&c->reqs))
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): pend_free unlinks the head it frees (whose prev is NULL) */
			pend_free(m, pend_first(&c->reqs));
		while (c->nsubs)
			sub_release(m, c, c->subs[c->nsubs - 1], false);
		free(c->subs);
		list_remove(&m->clients, &c->link);
		free(c);
	}
	while (!list_empty(&m->own))
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): pend_free unlinks the head it frees (whose prev is NULL) */
		pend_free(m, pend_first(&m->own));
	for (struct qmsg *q = m->qhead, *next; q; q = next) {
		next = q->next;
		free(q->line);
		free(q);
	}
	free(m->tab);
	if (m->own_cache)
		mcp_cache_free(m->cache);
	free(m->discover);
	free(m->refusal);
	free(m->version);
	free(m->protocol);
	free(m);
}
