/* outq.h: messages the writer wants published (receipts, stats), handed to
 * the thread that owns the MQTT client.
 *
 * Why a queue and not a direct publish from the writer: Paho's send takes
 * Paho's global mutex, which the receive thread holds while our message
 * callback waits for room in the ingest queue; a writer blocked on that
 * mutex would never make the room. The writer therefore never calls Paho: it
 * pushes here (never blocking) and the main thread publishes.
 *
 * Two kinds of message:
 *  - plain (receipts): FIFO, bounded in bytes; a push beyond the bound is
 *    refused (the receipt is dropped; its device resends and gets another);
 *  - retained (stats snapshots): at most one per topic; a newer push replaces
 *    the queued one, so a slow or absent broker costs no memory growth and
 *    gets the latest snapshot when it is back. Bulk retained messages (the
 *    worklists, up to some hundred KiB each) are the same but wait until no
 *    receipt is queued: they never delay one. The queue also remembers the
 *    newest retained message of each topic after it was taken, so that the
 *    consumer can queue them all again when it reconnects: a broker that
 *    restarted from an older persistence file serves older snapshots until
 *    then.
 *
 * Threads: push from any thread; pop/unpop/drop_plain/requeue_retained from
 * one consumer thread; wait from the consumer. */
#ifndef KDC_OUTQ_H
#define KDC_OUTQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct kdc_outq kdc_outq;

struct kdc_outq_msg {
	struct kdc_outq_msg *next;
	char *topic;      /* owned by the message */
	uint8_t *payload; /* owned by the message */
	size_t len;
	int retain;       /* 1: retained, replace-by-topic */
	int bulk;         /* retained, taken after the plain ones */
};

/* kdc_outq_push's retain: a bulk retained message. */
#define KDC_OUTQ_BULK 2

/* max_plain_bytes bounds the queued receipts. NULL when out of memory. */
kdc_outq *kdc_outq_new(size_t max_plain_bytes);
/* Frees the queue and whatever is still in it. */
void kdc_outq_free(kdc_outq *q);

/* Copies a message in; retain is 0 (plain), 1 (retained) or KDC_OUTQ_BULK.
 * Returns 0, KDC_ERR_BUSY when a plain message does not
 * fit under the bound (not queued), or KDC_ERR_NOMEM. Never blocks. */
int kdc_outq_push(kdc_outq *q, const char *topic, const void *payload, size_t len, int retain);

/* Waits up to timeout_ms until something is queued. Returns 1 if so. */
int kdc_outq_wait(kdc_outq *q, int timeout_ms);
/* Takes the next message (retained ones first, then plain, then bulk), or NULL. The caller owns it:
 * kdc_outq_msg_free, or kdc_outq_unpop to put it back at the front (for a
 * retained one, only if no newer one for its topic arrived meanwhile). */
struct kdc_outq_msg *kdc_outq_pop(kdc_outq *q);
void kdc_outq_unpop(kdc_outq *q, struct kdc_outq_msg *m);
void kdc_outq_msg_free(struct kdc_outq_msg *m);
/* Queues again the newest retained message of each topic that has none
 * queued now (a copy of what was last pushed for it), e.g. after a
 * reconnect; *queued (if not NULL) says how many. Returns 0, or
 * KDC_ERR_NOMEM (those queued before it ran out stay queued). */
int kdc_outq_requeue_retained(kdc_outq *q, size_t *queued);
/* Drops every plain message (the broker is away); returns how many. */
size_t kdc_outq_drop_plain(kdc_outq *q);
/* 1 when nothing is queued. */
int kdc_outq_empty(kdc_outq *q);

#endif
