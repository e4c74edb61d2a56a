/* writer_receipts.c: the receipts of a batch, one per device (in chunks of
 * RECEIPT_CHUNK), pushed to the outgoing queue after the commit. Writer
 * thread; see writer_int.h for the other parts of the writer. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_hmap.h"
#include "kdc_log.h"
#include "kdc_proto.h"
#include "writer_int.h"

static void writer__send_receipt(kdc_writer *w, const char *device, const uint32_t *idx, size_t n)
{
	Kdc__V1__Receipt r = KDC__V1__RECEIPT__INIT;
	char topic[KDC_TOPIC_MAX + 1];
	size_t nc = 0, nr = 0, size;
	int rc;

	for (size_t k = 0; k < n; k++) {
		struct writer_outcome *o = &w->outcomes[idx[k]];
		if (o->reason == OUTCOME_COMMITTED) {
			w->committed[nc].data = o->id;
			w->committed[nc].len = KDC_UUID_LEN;
			nc++;
		} else {
			Kdc__V1__Rejection *j = &w->rej[nr];
			kdc__v1__rejection__init(j);
			if (o->has_id) {
				j->id.data = o->id;
				j->id.len = KDC_UUID_LEN;
			}
			j->reason = (Kdc__V1__RejectReason)o->reason;
			j->detail = o->detail;
			w->rejp[nr++] = j;
		}
	}
	r.device = (char *)device;
	r.n_committed = nc;
	r.committed = w->committed;
	r.n_rejected = nr;
	r.rejected = w->rejp;
	size = kdc__v1__receipt__get_packed_size(&r);
	if (size > w->pack_cap) {
		uint8_t *p = realloc(w->pack, size);
		if (!p) {
			kdc_warn("out of memory for a receipt to %s: not sent (the device resends)", device);
			goto dropped;
		}
		w->pack = p;
		w->pack_cap = size;
	}
	kdc__v1__receipt__pack(&r, w->pack);
	if (kdc_topic_receipts(topic, sizeof topic, w->ward, device) < 0)
		goto dropped;
	rc = kdc_outq_push(w->out, topic, w->pack, size, 0);
	if (rc != KDC_OK)
		goto dropped;
	pthread_mutex_lock(&w->lock);
	w->totals.receipts++;
	pthread_mutex_unlock(&w->lock);
	return;
dropped:
	pthread_mutex_lock(&w->lock);
	w->totals.receipts_dropped++;
	pthread_mutex_unlock(&w->lock);
}

/* Groups the batch's outcomes by device (a hash map on the device code,
 * then a counting sort) and sends one receipt per device, in chunks. */
void writer__receipts(kdc_writer *w, size_t n)
{
	struct kdc_hmap *m = &w->groups;
	size_t start = 0, lost = 0;

	for (size_t i = 0; i < n; i++) {
		struct writer_outcome *o = &w->outcomes[i];
		struct writer_group_key k;
		struct writer_group *g;
		int created;

		if (o->reason == OUTCOME_SKIP || !o->device[0])
			continue;
		memset(&k, 0, sizeof k);
		memcpy(k.device, o->device, strnlen(o->device, KDC_CODE_MAX));
		if (!(g = kdc_hmap_get(m, &k, &created))) {
			o->group = -1;   /* no receipt: the device sends it again */
			lost++;
			continue;
		}
		if (created)
			g->index = (int32_t)(m->len - 1);
		o->group = g->index;
		g->n++;
	}
	if (lost) {
		kdc_warn("out of memory for the receipts of %zu events: not sent (the devices resend)", lost);
		pthread_mutex_lock(&w->lock);
		w->totals.receipts_dropped++;
		pthread_mutex_unlock(&w->lock);
	}
	for (size_t i = 0; i < m->len; i++) {
		struct writer_group *g = KDC_HMAP_VAL(m, i);
		g->start = (uint32_t)start;
		start += g->n;
		g->n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct writer_group *g;
		if (w->outcomes[i].group < 0)
			continue;
		g = KDC_HMAP_VAL(m, (size_t)w->outcomes[i].group);
		w->order[g->start + g->n++] = (uint32_t)i;
	}
	for (size_t i = 0; i < m->len; i++) {
		const struct writer_group_key *k = KDC_HMAP_KEY(m, i);
		const struct writer_group *g = KDC_HMAP_VAL(m, i);
		for (size_t off = 0; off < g->n; off += RECEIPT_CHUNK) {
			size_t left = g->n - off;
			writer__send_receipt(w, k->device, w->order + g->start + off,
			                     left < RECEIPT_CHUNK ? left : RECEIPT_CHUNK);
		}
	}
	kdc_hmap_clear(m);
}
