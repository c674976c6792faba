/* udiff — see udiff.h. */
#include "udiff.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line {
	const char *s;
	size_t len;   /* without the newline */
	bool newline; /* ends with one (only the last line may not) */
};

struct lines {
	struct line *v;
	size_t n;
};

/* One step of the edit script: a line kept (' '), removed ('-'), added ('+'). */
struct op {
	char kind;
	size_t a, b; /* the line of A (' ', '-') and of B (' ', '+') */
};

struct ops {
	struct op *v;
	size_t n, cap;
};

static struct lines split(const char *t, size_t len)
{
	/* never NULL, even for no lines */
	size_t cap = 16;
	struct lines l = { xmalloc(cap * sizeof(*l.v)), 0 };
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - t) : len;
		if (l.n == cap) {
			cap = cap ? cap * 2 : 64;
			l.v = xrealloc(l.v, cap * sizeof(*l.v));
		}
		l.v[l.n++] = (struct line){ t + i, end - i, nl != NULL };
		i = end + 1;
	}
	return l;
}

static bool same(const struct line *x, const struct line *y)
{
	return x->len == y->len && x->newline == y->newline &&
	       memcmp(x->s, y->s, x->len) == 0;
}

static void push(struct ops *o, char kind, size_t a, size_t b)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 64;
		o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
	}
	o->v[o->n++] = (struct op){ kind, a, b };
}

/* The shortest edit script from A[0..N) to B[0..M), pushed in reverse
 * order (Myers 1986, with the V of every round kept to walk back); false
 * past UDIFF_EDITS_MAX edits. */
static bool myers(const struct line *a, long n, const struct line *b, long m,
                  size_t a0, size_t b0, struct ops *rev)
{
	long max = n + m < UDIFF_EDITS_MAX ? n + m : UDIFF_EDITS_MAX;
	long **trace = xcalloc((size_t)max + 1, sizeof(*trace));
	long *prev = NULL, d = 0;
	bool found = false;
	for (; d <= max && !found; d++) {
		long *v = xcalloc((size_t)(2 * d + 1), sizeof(*v));
		trace[d] = v;
		for (long k = -d; k <= d; k += 2) {
			long x;
			if (d == 0)
				x = 0;
			else if (k == -d || (k != d && prev[k - 1 + d - 1] < prev[k + 1 + d - 1]))
				x = prev[k + 1 + d - 1];
			else
				x = prev[k - 1 + d - 1] + 1;
			long y = x - k;
			while (x < n && y < m && same(&a[x], &b[y]))
				x++, y++;
			v[k + d] = x;
			if (x >= n && y >= m) {
				found = true;
				break;
			}
		}
		prev = v;
	}
	if (found) {
		long x = n, y = m;
		for (d--; d > 0; d--) {
			long *pv = trace[d - 1], k = x - y, pk;
			if (k == -d || (k != d && pv[k - 1 + d - 1] < pv[k + 1 + d - 1]))
				pk = k + 1;
			else
				pk = k - 1;
			long px = pv[pk + d - 1], py = px - pk;
			for (; x > px && y > py; x--, y--)
				push(rev, ' ', a0 + (size_t)x - 1, b0 + (size_t)y - 1);
			if (pk == k + 1)
				push(rev, '+', a0 + (size_t)x, b0 + (size_t)--y);
			else
				push(rev, '-', a0 + (size_t)--x, b0 + (size_t)y);
		}
		for (; x > 0 && y > 0; x--, y--)
			push(rev, ' ', a0 + (size_t)x - 1, b0 + (size_t)y - 1);
	}
	for (long i = 0; i <= max; i++)
		free(trace[i]);
	free(trace);
	return found;
}

/* The whole edit script from A to B: head and tail in common, the middle. */
static struct ops script(const struct lines *a, const struct lines *b)
{
	size_t head = 0, tail = 0;
	while (head < a->n && head < b->n && same(&a->v[head], &b->v[head]))
		head++;
	while (tail < a->n - head && tail < b->n - head &&
	       same(&a->v[a->n - 1 - tail], &b->v[b->n - 1 - tail]))
		tail++;
	size_t an = a->n - head - tail, bn = b->n - head - tail;
	struct ops o = { 0 }, rev = { 0 };
	for (size_t i = 0; i < head; i++)
		push(&o, ' ', i, i);
	if (myers(a->v + head, (long)an, b->v + head, (long)bn, head, head, &rev)) {
		for (size_t i = rev.n; i > 0; i--)
			push(&o, rev.v[i - 1].kind, rev.v[i - 1].a, rev.v[i - 1].b);
	} else {
		for (size_t i = 0; i < an; i++)
			push(&o, '-', head + i, head);
		for (size_t i = 0; i < bn; i++)
			push(&o, '+', head + an, head + i);
	}
	free(rev.v);
	for (size_t i = 0; i < tail; i++)
		push(&o, ' ', head + an + i, head + bn + i);
	return o;
}

static void add_line(struct buf *out, char kind, const struct line *l)
{
	buf_addc(out, kind);
	buf_add(out, l->s, l->len);
	buf_addc(out, '\n');
	if (!l->newline)
		buf_adds(out, "\\ No newline at end of file\n");
}

/* "-START,COUNT" as diff -u writes it (",1" left out; an empty range
 * starts at the line before it). */
static void add_range(struct buf *out, char sign, size_t first, size_t count)
{
	char r[64];
	if (count == 1)
		snprintf(r, sizeof(r), "%c%zu", sign, first + 1);
	else
		snprintf(r, sizeof(r), "%c%zu,%zu", sign, count ? first + 1 : first, count);
	buf_adds(out, r);
}

/* The hunk of ops [FROM, TO). */
static void add_hunk(struct buf *out, const struct ops *o, size_t from, size_t to,
                     const struct lines *a, const struct lines *b)
{
	size_t na = 0, nb = 0;
	for (size_t i = from; i < to; i++) {
		na += o->v[i].kind != '+';
		nb += o->v[i].kind != '-';
	}
	buf_adds(out, "@@ ");
	add_range(out, '-', o->v[from].a, na);
	buf_addc(out, ' ');
	add_range(out, '+', o->v[from].b, nb);
	buf_adds(out, " @@\n");
	for (size_t i = from; i < to; i++)
		add_line(out, o->v[i].kind,
		         o->v[i].kind == '+' ? &b->v[o->v[i].b] : &a->v[o->v[i].a]);
}

size_t udiff(const char *a, size_t alen, const char *b, size_t blen,
             const char *label_a, const char *label_b, struct buf *out)
{
	struct lines la = split(a, alen), lb = split(b, blen);
	struct ops o = script(&la, &lb);
	size_t hunks = 0;
	for (size_t i = 0; i < o.n;) {
		if (o.v[i].kind == ' ') {
			i++;
			continue;
		}
		/* a hunk: from the context before this change to the context
		 * after the last change less than 2 * context apart */
		size_t from = i > UDIFF_CONTEXT ? i - UDIFF_CONTEXT : 0, last = i;
		for (size_t j = i + 1; j < o.n && j <= last + 2 * (size_t)UDIFF_CONTEXT + 1; j++)
			if (o.v[j].kind != ' ')
				last = j;
		size_t to = last + 1 + UDIFF_CONTEXT < o.n ? last + 1 + UDIFF_CONTEXT : o.n;
		if (!hunks++) {
			buf_adds(out, "--- ");
			buf_adds(out, label_a);
			buf_adds(out, "\n+++ ");
			buf_adds(out, label_b);
			buf_addc(out, '\n');
		}
		add_hunk(out, &o, from, to, &la, &lb);
		i = last + 1;
	}
	free(o.v);
	free(la.v);
	free(lb.v);
	return hunks;
}
