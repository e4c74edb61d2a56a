/* outq.c: the writer-to-publisher queue. See outq.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kdc_err.h"
#include "outq.h"

struct outq_list {
	struct kdc_outq_msg *first, *last;
};

struct kdc_outq {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct outq_list retained;  /* one per topic; a few hundred at most */
	struct outq_list latest;    /* the newest retained push of each topic,
	                               queued or not (for requeue_retained) */
	struct outq_list plain;
	struct outq_list bulk;      /* retained, after the receipts (worklists) */
	size_t plain_bytes, max_plain_bytes;
	int waiting;
};

kdc_outq *kdc_outq_new(size_t max_plain_bytes)
{
	pthread_condattr_t ca;
	kdc_outq *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	q->max_plain_bytes = max_plain_bytes;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->ready, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

void kdc_outq_msg_free(struct kdc_outq_msg *m)
{
	if (!m)
		return;
	free(m->topic);
	free(m->payload);
	free(m);
}

static void outq__free_list(struct outq_list *l)
{
	while (l->first) {
		struct kdc_outq_msg *m = l->first;
		l->first = m->next;
		kdc_outq_msg_free(m);
	}
	l->last = NULL;
}

void kdc_outq_free(kdc_outq *q)
{
	if (!q)
		return;
	outq__free_list(&q->retained);
	outq__free_list(&q->latest);
	outq__free_list(&q->plain);
	outq__free_list(&q->bulk);
	pthread_cond_destroy(&q->ready);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static void outq__append(struct outq_list *l, struct kdc_outq_msg *m)
{
	m->next = NULL;
	if (l->last)
		l->last->next = m;
	else
		l->first = m;
	l->last = m;
}

static struct kdc_outq_msg *outq__find(struct outq_list *l, const char *topic)
{
	for (struct kdc_outq_msg *m = l->first; m; m = m->next)
		if (strcmp(m->topic, topic) == 0)
			return m;
	return NULL;
}

/* A copy of topic and payload, or NULL when out of memory. */
static struct kdc_outq_msg *outq__msg_new(const char *topic, const void *payload, size_t len,
                                          int retain)
{
	struct kdc_outq_msg *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->topic = strdup(topic);
	m->payload = malloc(len ? len : 1);
	if (!m->topic || !m->payload) {
		kdc_outq_msg_free(m);
		return NULL;
	}
	if (len)
		memcpy(m->payload, payload, len);
	m->len = len;
	m->retain = retain != 0;
	m->bulk = retain == KDC_OUTQ_BULK;
	return m;
}

/* The list a retained message of that kind waits in. */
static struct outq_list *outq__list(kdc_outq *q, int bulk)
{
	return bulk ? &q->bulk : &q->retained;
}

/* Lock held: keeps *copy as the newest push of its topic; *copy is NULL
 * afterwards when kept (else the caller frees it). */
static void outq__remember(kdc_outq *q, struct kdc_outq_msg **copy)
{
	struct kdc_outq_msg *old = outq__find(&q->latest, (*copy)->topic);

	if (old) {
		uint8_t *p = old->payload;
		old->payload = (*copy)->payload;
		old->len = (*copy)->len;
		(*copy)->payload = p;
		return;
	}
	outq__append(&q->latest, *copy);
	*copy = NULL;
}

int kdc_outq_push(kdc_outq *q, const char *topic, const void *payload, size_t len, int retain)
{
	struct kdc_outq_msg *m, *old, *copy = NULL;
	char *t = strdup(topic);
	uint8_t *p = malloc(len ? len : 1);
	int rc = KDC_OK;

	if (retain)
		copy = outq__msg_new(topic, payload, len, retain);
	if (!t || !p || (retain && !copy)) {
		free(t);
		free(p);
		kdc_outq_msg_free(copy);
		return KDC_ERR_NOMEM;
	}
	if (len)
		memcpy(p, payload, len);
	pthread_mutex_lock(&q->lock);
	if (retain)
		outq__remember(q, &copy);
	if (retain && (old = outq__find(outq__list(q, retain == KDC_OUTQ_BULK), topic))) {
		/* only the newest snapshot of a topic matters */
		free(old->payload);
		old->payload = p;
		old->len = len;
		free(t);
		goto signal;
	}
	if (!retain && q->plain_bytes + len > q->max_plain_bytes) {
		rc = KDC_ERR_BUSY;
		goto cleanup;
	}
	if (!(m = calloc(1, sizeof *m))) {
		rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	m->topic = t;
	m->payload = p;
	m->len = len;
	m->retain = retain != 0;
	m->bulk = retain == KDC_OUTQ_BULK;
	if (retain) {
		outq__append(outq__list(q, m->bulk), m);
	} else {
		outq__append(&q->plain, m);
		q->plain_bytes += len;
	}
signal:
	if (q->waiting)
		pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
	kdc_outq_msg_free(copy);
	return KDC_OK;
cleanup:
	pthread_mutex_unlock(&q->lock);
	free(t);
	free(p);
	kdc_outq_msg_free(copy);
	return rc;
}

int kdc_outq_wait(kdc_outq *q, int timeout_ms)
{
	struct timespec until;
	int ready;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->lock);
	while (!q->retained.first && !q->plain.first && !q->bulk.first) {
		int rc;
		q->waiting = 1;
		rc = pthread_cond_timedwait(&q->ready, &q->lock, &until);
		q->waiting = 0;
		if (rc == ETIMEDOUT)
			break;
	}
	ready = q->retained.first || q->plain.first || q->bulk.first;
	pthread_mutex_unlock(&q->lock);
	return ready;
}

struct kdc_outq_msg *kdc_outq_pop(kdc_outq *q)
{
	struct kdc_outq_msg *m = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->retained.first) {
		m = q->retained.first;
		q->retained.first = m->next;
		if (!q->retained.first)
			q->retained.last = NULL;
	} else if (q->plain.first) {
		m = q->plain.first;
		q->plain.first = m->next;
		if (!q->plain.first)
			q->plain.last = NULL;
		q->plain_bytes -= m->len;
	} else if (q->bulk.first) {
		m = q->bulk.first;
		q->bulk.first = m->next;
		if (!q->bulk.first)
			q->bulk.last = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	if (m)
		m->next = NULL;
	return m;
}

void kdc_outq_unpop(kdc_outq *q, struct kdc_outq_msg *m)
{
	struct outq_list *l = m->retain ? outq__list(q, m->bulk) : &q->plain;

	pthread_mutex_lock(&q->lock);
	if (m->retain && outq__find(l, m->topic)) {
		/* a newer snapshot came meanwhile: this one is stale */
		pthread_mutex_unlock(&q->lock);
		kdc_outq_msg_free(m);
		return;
	}
	m->next = l->first;
	l->first = m;
	if (!l->last)
		l->last = m;
	if (!m->retain)
		q->plain_bytes += m->len;
	pthread_mutex_unlock(&q->lock);
}

int kdc_outq_requeue_retained(kdc_outq *q, size_t *queued)
{
	size_t n = 0;
	int rc = KDC_OK;

	pthread_mutex_lock(&q->lock);
	for (const struct kdc_outq_msg *l = q->latest.first; l; l = l->next) {
		struct kdc_outq_msg *m;

		struct outq_list *to = outq__list(q, l->bulk);

		if (outq__find(to, l->topic))
			continue; /* queued already, and at least as new */
		if (!(m = outq__msg_new(l->topic, l->payload, l->len, l->bulk ? KDC_OUTQ_BULK : 1))) {
			rc = KDC_ERR_NOMEM;
			break;
		}
		outq__append(to, m);
		n++;
	}
	if (n && q->waiting)
		pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
	if (queued)
		*queued = n;
	return rc;
}

size_t kdc_outq_drop_plain(kdc_outq *q)
{
	struct outq_list l;
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	l = q->plain;
	q->plain.first = q->plain.last = NULL;
	q->plain_bytes = 0;
	pthread_mutex_unlock(&q->lock);
	for (struct kdc_outq_msg *m = l.first; m; m = m->next)
		n++;
	outq__free_list(&l);
	return n;
}

int kdc_outq_empty(kdc_outq *q)
{
	int e;

	pthread_mutex_lock(&q->lock);
	e = !q->retained.first && !q->plain.first && !q->bulk.first;
	pthread_mutex_unlock(&q->lock);
	return e;
}
