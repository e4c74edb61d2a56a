/* test_ingest.c: the hand-off queue between the MQTT callback and the writer:
 * order and bytes survive the ring's wrap-around, a full queue makes the
 * producer wait instead of dropping, oversized payloads keep their length and
 * first 64 KiB, and closing refuses (and counts) what comes after. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "ingest.h"
#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"

static void test_order_and_bytes_survive_wraparound(void **state)
{
	kdc_ingest *q = kdc_ingest_new(16);
	int next_put = 0, next_get = 0;

	assert_non_null(q);
	assert_int_equal(kdc_ingest_capacity(q), 16);
	while (next_get < 100) {
		/* fill a varying amount, take a varying amount */
		for (int k = 0; k < 1 + next_put % 7 && next_put < 100 && kdc_ingest_depth(q) < 16; k++) {
			char topic[64], payload[600];
			size_t len = (size_t)(next_put * 13 % 590) + 1; /* some over the inline size */
			snprintf(topic, sizeof topic, "kdc/v1/31975/events/T1/D%d", next_put);
			memset(payload, 'a' + next_put % 26, len);
			assert_int_equal(kdc_ingest_put(q, topic, payload, len), KDC_OK);
			next_put++;
		}
		size_t n = kdc_ingest_wait(q, 5, 100, 0);
		assert_true(n > 0 && n <= 5);
		for (size_t i = 0; i < n; i++) {
			const struct kdc_ingest_msg *m = kdc_ingest_at(q, i);
			char topic[64];
			size_t len = (size_t)(next_get * 13 % 590) + 1;
			snprintf(topic, sizeof topic, "kdc/v1/31975/events/T1/D%d", next_get);
			assert_string_equal(m->topic, topic);
			assert_int_equal(m->payload_len, len);
			assert_int_equal(m->payload_kept, len);
			assert_false(m->lost);
			for (size_t b = 0; b < len; b++)
				if (m->payload[b] != 'a' + next_get % 26)
					fail_msg("message %d byte %zu: expected '%c', got '%c'", next_get, b,
					         'a' + next_get % 26, m->payload[b]);
			next_get++;
		}
		kdc_ingest_release(q, n);
	}
	assert_int_equal(kdc_ingest_depth(q), 0);
	kdc_ingest_free(q);
}

static void test_oversized_payload_and_long_topic(void **state)
{
	kdc_ingest *q = kdc_ingest_new(16);
	size_t big_len = 300000;
	uint8_t *big = malloc(big_len);
	char topic[400];
	const struct kdc_ingest_msg *m;

	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 7);
	memset(topic, 'x', sizeof topic - 1);
	topic[sizeof topic - 1] = '\0';
	assert_int_equal(kdc_ingest_put(q, "kdc/v1/31975/events/T1/D1", big, big_len), KDC_OK);
	assert_int_equal(kdc_ingest_put(q, topic, "p", 1), KDC_OK);
	assert_int_equal(kdc_ingest_put(q, "kdc/v1/31975/events/T1/D1", NULL, 0), KDC_OK);
	assert_int_equal(kdc_ingest_wait(q, 10, 100, 0), 3);
	m = kdc_ingest_at(q, 0);
	assert_int_equal(m->payload_len, big_len);
	assert_int_equal(m->payload_kept, KDC_INGEST_KEEP_MAX);
	assert_memory_equal(m->payload, big, KDC_INGEST_KEEP_MAX);
	m = kdc_ingest_at(q, 1);
	assert_true(m->topic_truncated);
	assert_int_equal(m->topic_len, KDC_TOPIC_MAX + 1);
	assert_int_equal(strlen(m->topic), KDC_TOPIC_MAX + 1);
	m = kdc_ingest_at(q, 2);
	assert_int_equal(m->payload_len, 0);
	assert_false(m->topic_truncated);
	kdc_ingest_release(q, 3);
	free(big);
	kdc_ingest_free(q);
}

struct producer {
	kdc_ingest *q;
	int count;
	int refused;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < p->count; i++) {
		char payload[16];
		snprintf(payload, sizeof payload, "%d", i);
		if (kdc_ingest_put(p->q, "kdc/v1/31975/events/T1/D1", payload, strlen(payload) + 1) != KDC_OK)
			p->refused++;
	}
	return NULL;
}

/* Waits (30 s at most: a loaded machine) until the producer thread has found
 * the queue full and waits for room, however late the thread ran. */
static void wait_until_full(kdc_ingest *q)
{
	int64_t t0 = kdc_mono_ms();

	while (kdc_ingest_full_waits(q) == 0) {
		if (kdc_mono_ms() - t0 > 30000)
			fail_msg("the producer thread did not fill the queue within 30 s");
		usleep(1000);
	}
}

static void test_full_queue_waits_and_drops_nothing(void **state)
{
	kdc_ingest *q = kdc_ingest_new(16);
	struct producer p = { q, 5000, 0 };
	pthread_t t;
	int expect = 0;

	assert_int_equal(pthread_create(&t, NULL, producer_main, &p), 0);
	/* a slow consumer: the producer must find the queue full and wait */
	wait_until_full(q);
	assert_int_equal(kdc_ingest_depth(q), 16);
	while (expect < p.count) {
		size_t n = kdc_ingest_wait(q, 7, 2000, 1);
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++) {
			char want[16];
			snprintf(want, sizeof want, "%d", expect++);
			assert_string_equal((const char *)kdc_ingest_at(q, i)->payload, want);
		}
		kdc_ingest_release(q, n);
	}
	pthread_join(t, NULL);
	assert_int_equal(p.refused, 0);
	assert_true(kdc_ingest_full_waits(q) > 0);
	kdc_ingest_free(q);
}

static void test_batch_window_waits_for_more(void **state)
{
	kdc_ingest *q = kdc_ingest_new(64);
	int64_t t0;
	size_t n;

	assert_int_equal(kdc_ingest_put(q, "t", "a", 1), KDC_OK);
	t0 = kdc_mono_ms();
	n = kdc_ingest_wait(q, 10, 1000, 80);
	/* one message and nobody adding: the window runs out, then it is taken */
	assert_int_equal(n, 1);
	assert_true(kdc_mono_ms() - t0 >= 70);
	kdc_ingest_release(q, n);
	/* nothing at all: returns after the timeout with nothing */
	t0 = kdc_mono_ms();
	assert_int_equal(kdc_ingest_wait(q, 10, 50, 80), 0);
	assert_true(kdc_mono_ms() - t0 >= 40);
	kdc_ingest_free(q);
}

static void test_close_refuses_later_messages_keeps_queued(void **state)
{
	kdc_ingest *q = kdc_ingest_new(16);
	struct producer p = { q, 40, 0 };
	pthread_t t;
	size_t n;

	assert_int_equal(pthread_create(&t, NULL, producer_main, &p), 0);
	wait_until_full(q); /* 16 queued, the producer waits for room */
	kdc_ingest_close(q);
	pthread_join(t, NULL);
	assert_int_equal(p.refused, 40 - 16);
	assert_int_equal(kdc_ingest_refused(q), 40 - 16);
	assert_true(kdc_ingest_closed(q));
	/* what was queued is still there for the writer's last batch */
	n = kdc_ingest_wait(q, 100, 1000, 1000);
	assert_int_equal(n, 16);
	assert_string_equal((const char *)kdc_ingest_at(q, 15)->payload, "15");
	kdc_ingest_release(q, n);
	assert_int_equal(kdc_ingest_wait(q, 100, 1000, 1000), 0);
	kdc_ingest_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bytes_survive_wraparound),
		cmocka_unit_test(test_oversized_payload_and_long_topic),
		cmocka_unit_test(test_full_queue_waits_and_drops_nothing),
		cmocka_unit_test(test_batch_window_waits_for_more),
		cmocka_unit_test(test_close_refuses_later_messages_keeps_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
