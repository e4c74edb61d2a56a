/* ingest.c: a ring of preallocated slots between Paho's receive thread and
 * the writer. See ingest.h.
 *
 * One mutex guards the indices; the producer copies under it (an event is
 * about 100 bytes: cheaper than any lock-free dance), the consumer holds it
 * only to learn how many slots are ready and to give them back, once per
 * batch. Signals are sent only to a side that is actually waiting, so the
 * common path is one uncontended lock/unlock per message. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "kdc_err.h"
#include "kdc_proto.h"

/* Topic, NUL and payload fit inline for any ordinary event (~30 + 100
 * bytes); bigger ones get a heap buffer, freed again on release. A slot is
 * then 288 bytes: the default 32768 slots take 9 MiB once the ring has gone
 * round (17 MiB with the 464 inline bytes of before). */
#define SLOT_INLINE 224

struct ingest_slot {
	struct kdc_ingest_msg msg;
	uint8_t *heap;
	uint8_t buf[SLOT_INLINE];
};

struct kdc_ingest {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;  /* consumer waits here */
	pthread_cond_t not_full;   /* producers wait here */
	struct ingest_slot *slots;
	size_t cap, mask;
	size_t head;               /* oldest slot not yet released */
	size_t tail;               /* next slot to fill; count = tail - head */
	size_t want;               /* consumer asleep until count >= want; 0 = awake */
	int producers_waiting;
	int closed;
	int woken;
	uint64_t refused;
	uint64_t full_waits;
};

static void ingest__deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

kdc_ingest *kdc_ingest_new(size_t slots)
{
	pthread_condattr_t ca;
	kdc_ingest *q;
	size_t cap = 16;

	while (cap < slots)
		cap <<= 1;
	if (!(q = calloc(1, sizeof *q)))
		return NULL;
	if (!(q->slots = calloc(cap, sizeof *q->slots))) {
		free(q);
		return NULL;
	}
	q->cap = cap;
	q->mask = cap - 1;
	pthread_mutex_init(&q->lock, NULL);
	/* timed waits on the monotonic clock: a wall-clock step must not
	 * stretch or cut a batch window */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->not_empty, &ca);
	pthread_cond_init(&q->not_full, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

void kdc_ingest_free(kdc_ingest *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->cap; i++)
		free(q->slots[i].heap);
	free(q->slots);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int kdc_ingest_put(kdc_ingest *q, const char *topic, const void *payload, size_t len)
{
	size_t tlen = strnlen(topic, KDC_TOPIC_MAX + 1);
	size_t keep = len < KDC_INGEST_KEEP_MAX ? len : KDC_INGEST_KEEP_MAX;
	size_t need = tlen + 1 + keep;
	uint8_t *heap = NULL, *dst;
	struct ingest_slot *slot;
	int lost = 0;

	/* allocate before taking the lock: malloc may be slow, the lock is hot */
	if (need > SLOT_INLINE) {
		heap = malloc(need);
		if (!heap) {
			lost = 1;
			keep = 0;
			need = tlen + 1;
		}
	}
	pthread_mutex_lock(&q->lock);
	while (!q->closed && q->tail - q->head == q->cap) {
		q->producers_waiting++;
		q->full_waits++;
		pthread_cond_wait(&q->not_full, &q->lock);
		q->producers_waiting--;
	}
	if (q->closed) {
		q->refused++;
		pthread_mutex_unlock(&q->lock);
		free(heap);
		return KDC_ERR_BUSY;
	}
	slot = &q->slots[q->tail & q->mask];
	dst = heap ? heap : slot->buf;
	memcpy(dst, topic, tlen);
	dst[tlen] = '\0';
	if (keep)
		memcpy(dst + tlen + 1, payload, keep);
	slot->heap = heap;
	slot->msg.topic = (const char *)dst;
	slot->msg.topic_len = tlen;
	slot->msg.topic_truncated = tlen > KDC_TOPIC_MAX;
	slot->msg.payload = dst + tlen + 1;
	slot->msg.payload_kept = keep;
	slot->msg.payload_len = len;
	slot->msg.lost = lost;
	q->tail++;
	if (q->want && q->tail - q->head >= q->want)
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	return KDC_OK;
}

/* Waits on not_empty until cond holds, the deadline passes, or someone
 * closes/wakes the queue. Returns 0 on timeout. Lock held. */
static int ingest__wait_count(kdc_ingest *q, size_t want, const struct timespec *until)
{
	while (q->tail - q->head < want && !q->closed && !q->woken) {
		int rc;
		q->want = want;
		rc = pthread_cond_timedwait(&q->not_empty, &q->lock, until);
		q->want = 0;
		if (rc == ETIMEDOUT)
			return 0;
	}
	return 1;
}

/* The earlier of two monotonic deadlines. */
static const struct timespec *ingest__earlier(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? a : b;
	return a->tv_nsec <= b->tv_nsec ? a : b;
}

/* The fill window with a pause detector: waits in slices of gap_ms and stops
 * when a whole slice brought nothing new. Lock held. */
static void ingest__fill_gap(kdc_ingest *q, size_t max, const struct timespec *until, int gap_ms)
{
	for (;;) {
		struct timespec slice;
		size_t seen = q->tail;

		ingest__deadline(&slice, gap_ms);
		if (ingest__earlier(until, &slice) == until) {
			ingest__wait_count(q, max, until);
			return;
		}
		if (ingest__wait_count(q, max, &slice) || q->tail == seen)
			return;
	}
}

size_t kdc_ingest_wait_gap(kdc_ingest *q, size_t max, int timeout_ms, int fill_ms, int gap_ms)
{
	struct timespec until;
	size_t n;

	if (max == 0)
		return 0;
	/* a batch bigger than the ring could never fill: take what fits */
	if (max > q->cap)
		max = q->cap;
	pthread_mutex_lock(&q->lock);
	if (q->tail == q->head && timeout_ms > 0) {
		ingest__deadline(&until, timeout_ms);
		ingest__wait_count(q, 1, &until);
	}
	/* a batch window: more events per commit means fewer fsyncs */
	if (q->tail != q->head && q->tail - q->head < max && fill_ms > 0) {
		ingest__deadline(&until, fill_ms);
		if (gap_ms > 0 && gap_ms < fill_ms)
			ingest__fill_gap(q, max, &until, gap_ms);
		else
			ingest__wait_count(q, max, &until);
	}
	q->woken = 0;
	n = q->tail - q->head;
	pthread_mutex_unlock(&q->lock);
	return n < max ? n : max;
}

size_t kdc_ingest_wait(kdc_ingest *q, size_t max, int timeout_ms, int fill_ms)
{
	return kdc_ingest_wait_gap(q, max, timeout_ms, fill_ms, 0);
}

const struct kdc_ingest_msg *kdc_ingest_at(const kdc_ingest *q, size_t i)
{
	/* head only moves in release, on this same (consumer) thread */
	return &q->slots[(q->head + i) & q->mask].msg;
}

void kdc_ingest_release(kdc_ingest *q, size_t n)
{
	/* free the large buffers outside the lock; the slots stay ours until
	 * head moves */
	for (size_t i = 0; i < n; i++) {
		struct ingest_slot *s = &q->slots[(q->head + i) & q->mask];
		if (s->heap) {
			free(s->heap);
			s->heap = NULL;
		}
	}
	pthread_mutex_lock(&q->lock);
	q->head += n;
	if (q->producers_waiting)
		pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

void kdc_ingest_close(kdc_ingest *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

void kdc_ingest_wake(kdc_ingest *q)
{
	pthread_mutex_lock(&q->lock);
	q->woken = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

size_t kdc_ingest_depth(kdc_ingest *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->tail - q->head;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t kdc_ingest_capacity(const kdc_ingest *q)
{
	return q->cap;
}

uint64_t kdc_ingest_refused(kdc_ingest *q)
{
	uint64_t n;

	pthread_mutex_lock(&q->lock);
	n = q->refused;
	pthread_mutex_unlock(&q->lock);
	return n;
}

uint64_t kdc_ingest_full_waits(kdc_ingest *q)
{
	uint64_t n;

	pthread_mutex_lock(&q->lock);
	n = q->full_waits;
	pthread_mutex_unlock(&q->lock);
	return n;
}

int kdc_ingest_closed(kdc_ingest *q)
{
	int c;

	pthread_mutex_lock(&q->lock);
	c = q->closed;
	pthread_mutex_unlock(&q->lock);
	return c;
}
