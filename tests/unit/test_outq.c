/* test_outq.c: the writer-to-publisher queue: one retained message per topic
 * (the newest), receipts in order, and requeue_retained, which queues the
 * newest snapshot of every topic again after a reconnect without doubling
 * one that is still queued; bulk retained messages (worklists) after every
 * receipt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "outq.h"

static void push(kdc_outq *q, const char *topic, const char *payload, int retain)
{
	assert_int_equal(kdc_outq_push(q, topic, payload, strlen(payload), retain), KDC_OK);
}

/* Pops the next message and checks its topic and payload. */
static void expect(kdc_outq *q, const char *topic, const char *payload)
{
	struct kdc_outq_msg *m = kdc_outq_pop(q);

	assert_non_null(m);
	assert_string_equal(m->topic, topic);
	assert_int_equal(m->len, strlen(payload));
	assert_memory_equal(m->payload, payload, m->len);
	kdc_outq_msg_free(m);
}

static void test_newest_retained_replaces_queued_one(void **state)
{
	kdc_outq *q = kdc_outq_new(1024);

	(void)state;
	assert_non_null(q);
	push(q, "r/a", "a1", 1);
	push(q, "p", "receipt1", 0);
	push(q, "r/a", "a2", 1);
	push(q, "r/b", "b1", 1);
	push(q, "p", "receipt2", 0);
	expect(q, "r/a", "a2");
	expect(q, "r/b", "b1");
	expect(q, "p", "receipt1");
	expect(q, "p", "receipt2");
	assert_null(kdc_outq_pop(q));
	assert_true(kdc_outq_empty(q));
	kdc_outq_free(q);
}

static void test_requeue_brings_back_the_newest_of_each_topic(void **state)
{
	kdc_outq *q = kdc_outq_new(1024);
	size_t n = 99;

	(void)state;
	assert_non_null(q);
	/* nothing retained yet: nothing to queue again */
	push(q, "p", "receipt", 0);
	expect(q, "p", "receipt");
	assert_int_equal(kdc_outq_requeue_retained(q, &n), KDC_OK);
	assert_int_equal(n, 0);
	assert_true(kdc_outq_empty(q));

	push(q, "r/a", "a1", 1);
	push(q, "r/b", "b1", 1);
	expect(q, "r/a", "a1");
	expect(q, "r/b", "b1");
	push(q, "r/a", "a2", 1);
	expect(q, "r/a", "a2");
	assert_true(kdc_outq_empty(q));

	/* published and gone: both come back, each as its newest */
	assert_int_equal(kdc_outq_requeue_retained(q, &n), KDC_OK);
	assert_int_equal(n, 2);
	expect(q, "r/a", "a2");
	expect(q, "r/b", "b1");
	assert_null(kdc_outq_pop(q));

	/* one still queued (newer than any published): not doubled */
	push(q, "r/b", "b2", 1);
	assert_int_equal(kdc_outq_requeue_retained(q, &n), KDC_OK);
	assert_int_equal(n, 1);
	expect(q, "r/b", "b2");
	expect(q, "r/a", "a2");
	assert_null(kdc_outq_pop(q));

	/* receipts are never remembered */
	push(q, "p", "receipt", 0);
	expect(q, "p", "receipt");
	assert_int_equal(kdc_outq_requeue_retained(q, NULL), KDC_OK);
	expect(q, "r/a", "a2");
	expect(q, "r/b", "b2");
	assert_null(kdc_outq_pop(q));

	/* freed with copies queued and remembered (ASan checks the leaks) */
	assert_int_equal(kdc_outq_requeue_retained(q, &n), KDC_OK);
	assert_int_equal(n, 2);
	kdc_outq_free(q);
}

static void test_unpop_keeps_a_newer_push(void **state)
{
	kdc_outq *q = kdc_outq_new(1024);
	struct kdc_outq_msg *m;
	size_t n;

	(void)state;
	assert_non_null(q);
	push(q, "r/a", "a1", 1);
	m = kdc_outq_pop(q);
	assert_non_null(m);
	push(q, "r/a", "a2", 1);
	kdc_outq_unpop(q, m); /* stale: dropped */
	expect(q, "r/a", "a2");
	assert_null(kdc_outq_pop(q));
	assert_int_equal(kdc_outq_requeue_retained(q, &n), KDC_OK);
	assert_int_equal(n, 1);
	expect(q, "r/a", "a2");
	kdc_outq_free(q);
}

/* Worklists (bulk) wait behind every receipt, replace their own topic's
 * queued one, keep the retain flag, and come back after a reconnect. */
static void test_bulk_goes_after_the_receipts(void **state)
{
	kdc_outq *q = kdc_outq_new(1024);
	struct kdc_outq_msg *m;
	size_t n;

	(void)state;
	assert_non_null(q);
	push(q, "w/T1", "list1", KDC_OUTQ_BULK);
	push(q, "p", "receipt1", 0);
	push(q, "r/a", "a1", 1);
	push(q, "w/T1", "list2", KDC_OUTQ_BULK);
	push(q, "p", "receipt2", 0);
	expect(q, "r/a", "a1");
	expect(q, "p", "receipt1");
	expect(q, "p", "receipt2");
	m = kdc_outq_pop(q);
	assert_non_null(m);
	assert_string_equal(m->topic, "w/T1");
	assert_memory_equal(m->payload, "list2", 5);
	assert_int_equal(m->retain, 1);
	assert_int_equal(m->bulk, 1);
	/* broker busy: back at the front of the bulk list, still behind a receipt */
	kdc_outq_unpop(q, m);
	push(q, "p", "receipt3", 0);
	expect(q, "p", "receipt3");
	expect(q, "w/T1", "list2");
	assert_true(kdc_outq_empty(q));
	/* a reconnect queues it again, as bulk */
	assert_int_equal(kdc_outq_requeue_retained(q, &n), KDC_OK);
	assert_int_equal(n, 2);
	push(q, "p", "receipt4", 0);
	expect(q, "r/a", "a1");
	expect(q, "p", "receipt4");
	expect(q, "w/T1", "list2");
	assert_null(kdc_outq_pop(q));
	kdc_outq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newest_retained_replaces_queued_one),
		cmocka_unit_test(test_requeue_brings_back_the_newest_of_each_topic),
		cmocka_unit_test(test_unpop_keeps_a_newer_push),
		cmocka_unit_test(test_bulk_goes_after_the_receipts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
