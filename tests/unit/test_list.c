/* Unit tests for list.h: the intrusive list, its ends and links kept
 * consistent through pushes and removals at every place, checked against
 * a plain array of what the list should hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "list.h"

struct item {
	int v;
	struct list_link link;   /* not first: list_item must find the item */
	int w;
};

/* L holds the items WANT, in order: forwards and backwards, every prev and
 * next agreeing, and the ends NULL-terminated. */
static void check(const struct list *l, struct item *const *want, size_t n)
{
	assert_int_equal(list_empty(l), n == 0);
	size_t i = 0;
	list_each(p, l, struct item, link) {
		assert_true(i < n);
		assert_ptr_equal(p, want[i]);
		assert_ptr_equal(p->link.prev, i ? &want[i - 1]->link : NULL);
		i++;
	}
	assert_int_equal(i, n);
	assert_ptr_equal(l->tail, n ? &want[n - 1]->link : NULL);
	i = n;
	for (const struct list_link *k = l->tail; k; k = k->prev) {
		assert_true(i > 0);
		assert_ptr_equal(list_item(k, struct item, link), want[--i]);
	}
	assert_int_equal(i, 0);
}

static struct item *const none[1];

static void test_empty(void **state)
{
	(void)state;
	struct list l = { 0 };
	check(&l, none, 0);
	assert_null(list_first(&l, struct item, link));
	assert_null(list_item(NULL, struct item, link));
}

static void test_push_both_ends(void **state)
{
	(void)state;
	struct item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	struct list l = { 0 };
	list_push_back(&l, &b.link);
	check(&l, (struct item *[]){ &b }, 1);
	list_push_front(&l, &a.link);
	check(&l, (struct item *[]){ &a, &b }, 2);
	list_push_back(&l, &c.link);
	check(&l, (struct item *[]){ &a, &b, &c }, 3);
	assert_ptr_equal(list_first(&l, struct item, link), &a);
	assert_ptr_equal(list_next(&a, struct item, link), &b);
	assert_null(list_next(&c, struct item, link));
	assert_int_equal(list_first(&l, struct item, link)->v, 1);
}

static void test_remove_each_place(void **state)
{
	(void)state;
	/* Three items, each removed from the head, the middle and the tail:
	 * what is left stays in order, the removed link is cleared. */
	for (size_t gone = 0; gone < 3; gone++) {
		struct item it[3] = { { .v = 0 }, { .v = 1 }, { .v = 2 } };
		struct list l = { 0 };
		for (size_t i = 0; i < 3; i++)
			list_push_back(&l, &it[i].link);
		list_remove(&l, &it[gone].link);
		assert_null(it[gone].link.prev);
		assert_null(it[gone].link.next);
		struct item *left[2];
		size_t n = 0;
		for (size_t i = 0; i < 3; i++)
			if (i != gone)
				left[n++] = &it[i];
		check(&l, left, n);
		/* and back in, at the front: it can be linked again */
		list_push_front(&l, &it[gone].link);
		check(&l, (struct item *[]){ &it[gone], left[0], left[1] }, 3);
	}
}

static void test_remove_last_one(void **state)
{
	(void)state;
	struct item a = { .v = 1 };
	struct list l = { 0 };
	list_push_front(&l, &a.link);
	list_remove(&l, &a.link);
	check(&l, none, 0);
	assert_null(l.head);
	assert_null(l.tail);
}

/* Removing while iterating, as the owners do: the next one is read first. */
static void test_remove_while_walking(void **state)
{
	(void)state;
	struct item it[6];
	struct list l = { 0 };
	for (int i = 0; i < 6; i++) {
		it[i] = (struct item){ .v = i, .w = -i };
		list_push_back(&l, &it[i].link);
	}
	for (struct item *p = list_first(&l, struct item, link), *next; p; p = next) {
		next = list_next(p, struct item, link);
		if (p->v % 2 == 0)
			list_remove(&l, &p->link);
	}
	check(&l, (struct item *[]){ &it[1], &it[3], &it[5] }, 3);
	assert_int_equal(it[3].w, -3);   /* the item around the link untouched */
}

/* A random mix of pushes and removals against an array model. */
static void test_against_model(void **state)
{
	(void)state;
	enum { N = 32 };
	struct item it[N];
	struct item *model[N];
	bool on[N] = { false };
	size_t n = 0;
	struct list l = { 0 };
	uint32_t seed = 12345;
	for (int i = 0; i < N; i++)
		it[i] = (struct item){ .v = i };
	for (int round = 0; round < 5000; round++) {
		seed = seed * 1103515245u + 12345u;
		int i = (int)((seed >> 16) % N);
		bool front = (seed >> 8) & 1;
		if (on[i]) {
			list_remove(&l, &it[i].link);
			size_t at = 0;
			while (model[at] != &it[i])
				at++;
			memmove(&model[at], &model[at + 1], (n - at - 1) * sizeof(*model));
			n--;
		} else if (front) {
			list_push_front(&l, &it[i].link);
			memmove(&model[1], &model[0], n * sizeof(*model));
			model[0] = &it[i];
			n++;
		} else {
			list_push_back(&l, &it[i].link);
			model[n++] = &it[i];
		}
		on[i] = !on[i];
		check(&l, model, n);
	}
}

/* A const item type walks a const list. */
static int sum(const struct list *l)
{
	int s = 0;
	list_each(p, l, const struct item, link)
		s += p->v;
	return s;
}

static void test_const_walk(void **state)
{
	(void)state;
	struct item a = { .v = 4 }, b = { .v = 5 };
	struct list l = { 0 };
	list_push_back(&l, &a.link);
	list_push_back(&l, &b.link);
	assert_int_equal(sum(&l), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_push_both_ends),
		cmocka_unit_test(test_remove_each_place),
		cmocka_unit_test(test_remove_last_one),
		cmocka_unit_test(test_remove_while_walking),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_const_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
