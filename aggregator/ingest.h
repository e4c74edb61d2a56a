/* ingest.h: the bounded hand-off from the MQTT receive callback to the
 * writer thread.
 *
 * Paho calls the message callback on its receive thread with its global
 * mutex held, and sends the PUBACK only after the callback returns. So the
 * callback must be quick, and must not lose what it was given: kdc_ingest_put
 * copies topic and payload into a preallocated slot (no allocation for
 * ordinary events) and returns. When every slot is taken it waits for the
 * writer: that back-pressure delays the PUBACKs and so slows the broker's
 * delivery, and nothing is dropped. Acknowledged messages that die with the
 * process are not lost either: their devices get no receipt and send them
 * again.
 *
 * Threads: one or more producers (Paho's receive thread) call put; one
 * consumer (the writer) calls wait/at/release; close and the counters may be
 * called from any thread. */
#ifndef KDC_INGEST_H
#define KDC_INGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct kdc_ingest kdc_ingest;

/* One queued message, as the writer sees it. Valid from kdc_ingest_wait
 * until kdc_ingest_release of it. */
struct kdc_ingest_msg {
	const char *topic;          /* NUL-terminated; cut at KDC_TOPIC_MAX + 1 chars */
	size_t topic_len;           /* length kept */
	int topic_truncated;        /* the topic was longer than KDC_TOPIC_MAX */
	const uint8_t *payload;     /* the bytes kept */
	size_t payload_kept;        /* == payload_len, or less for oversized payloads
	                               (first KDC_INGEST_KEEP_MAX bytes kept) */
	size_t payload_len;         /* length as received */
	int lost;                   /* no memory to copy a large payload: neither
	                               stored nor receipted (its device resends) */
};

/* Oversized payloads are only kept this far, for the rejected table. */
#define KDC_INGEST_KEEP_MAX (64 * 1024)

/* Makes a queue of `slots` messages (rounded up to a power of two). Returns
 * NULL when out of memory. Free with kdc_ingest_free once no thread uses it. */
kdc_ingest *kdc_ingest_new(size_t slots);
void kdc_ingest_free(kdc_ingest *q);

/* Producer: copies one message in, waiting while the queue is full. Returns
 * 0, or KDC_ERR_BUSY after kdc_ingest_close (the message was not taken and
 * is counted in kdc_ingest_refused). topic and payload are only read during
 * the call. */
int kdc_ingest_put(kdc_ingest *q, const char *topic, const void *payload, size_t len);

/* Consumer: waits up to timeout_ms for a first message, then up to fill_ms
 * more for the queue to hold `max` messages. Returns how many (0..max) are
 * ready: read them with kdc_ingest_at(q, 0 .. n-1) and give them back with
 * kdc_ingest_release(q, n). Returns 0 at once when the queue is closed and
 * empty. */
size_t kdc_ingest_wait(kdc_ingest *q, size_t max, int timeout_ms, int fill_ms);
/* The same, but the fill window also ends as soon as no message arrived for
 * gap_ms (the flow paused: the tail of a backlog, a quiet moment). A backlog
 * then fills big batches at once, and its last messages are not held for the
 * whole fill_ms. gap_ms <= 0 behaves like kdc_ingest_wait. */
size_t kdc_ingest_wait_gap(kdc_ingest *q, size_t max, int timeout_ms, int fill_ms, int gap_ms);
const struct kdc_ingest_msg *kdc_ingest_at(const kdc_ingest *q, size_t i);
void kdc_ingest_release(kdc_ingest *q, size_t n);

/* Stops intake: waiting and later producers return KDC_ERR_BUSY; what is
 * already queued stays for the consumer. Wakes the consumer. */
void kdc_ingest_close(kdc_ingest *q);
/* Wakes a consumer waiting in kdc_ingest_wait (it returns what it has). */
void kdc_ingest_wake(kdc_ingest *q);

/* Counters (approximate when read while producers run). */
size_t kdc_ingest_depth(kdc_ingest *q);
size_t kdc_ingest_capacity(const kdc_ingest *q);
uint64_t kdc_ingest_refused(kdc_ingest *q);
/* Times a producer found the queue full and had to wait. */
uint64_t kdc_ingest_full_waits(kdc_ingest *q);
int kdc_ingest_closed(kdc_ingest *q);

#endif
