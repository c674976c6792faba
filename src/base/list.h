/* list — an intrusive doubly-linked list: an item embeds a struct
 * list_link, the owner holds a struct list (its two ends).  Linking and
 * unlinking are O(1) and allocate nothing; the item's type is found back
 * from its link with list_item (offsetof, as container_of does).
 *
 * All zeros is an empty list and a link on no list, so an owner and its
 * items from calloc need no set-up.  The list is NULL-terminated at both
 * ends (not circular): list_remove needs the list the item is on.  An item
 * is on one list per link it embeds; removing one that is not on L, or
 * pushing one that is on a list already, corrupts L (not checked).
 *
 * Iterating: list_each(p, &owner->things, struct thing, link) { ... }
 * visits head to tail; the body must not remove P (keep its list_next
 * first, then P may go). */
#ifndef TEND_LIST_H
#define TEND_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_link {
	struct list_link *prev, *next;
};

struct list {
	struct list_link *head, *tail;
};

static inline bool list_empty(const struct list *l)
{
	return !l->head;
}

/* Links K between PREV and NEXT, neighbours on L (NULL: L's end there). */
static inline void list_link_between(struct list *l, struct list_link *prev,
                                     struct list_link *next, struct list_link *k)
{
	k->prev = prev;
	k->next = next;
	if (prev)
		prev->next = k;
	else
		l->head = k;
	if (next)
		next->prev = k;
	else
		l->tail = k;
}

/* K becomes L's first item, or its last. */
static inline void list_push_front(struct list *l, struct list_link *k)
{
	list_link_between(l, NULL, l->head, k);
}

static inline void list_push_back(struct list *l, struct list_link *k)
{
	list_link_between(l, l->tail, NULL, k);
}

/* Takes K off L; K is then on no list (all zeros). */
static inline void list_remove(struct list *l, struct list_link *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		l->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NULL;
}

/* The item that embeds K at offset OFF, or NULL for no K. */
static inline void *list_item_at(const struct list_link *k, size_t off)
{
	return k ? (void *)((const char *)k - off) : NULL;
}

/* The TYPE whose MEMBER is the link K (NULL for NULL). */
#define list_item(k, type, member) \
	((type *)list_item_at((k), offsetof(type, member)))
/* L's first item, and the item after P: NULL past the end. */
#define list_first(l, type, member) list_item((l)->head, type, member)
#define list_next(p, type, member) list_item((p)->member.next, type, member)
/* Declares P (a TYPE *) and runs the statement after it for each item of
 * L, head to tail. */
/* NOLINTBEGIN(bugprone-macro-parentheses): P and TYPE make a declaration */
#define list_each(p, l, type, member) \
	for (type *p = list_first(l, type, member); p; \
	     p = list_next(p, type, member))
/* NOLINTEND(bugprone-macro-parentheses) */

#endif
