/* producer_int.h: what the parts of the producer share (producer.c,
 * connection, publishing and the owner's loop; producer_sync.c, receipts,
 * the worklist and the sync): the struct behind kdc_producer. Nobody else
 * includes it; see producer.h. */
#ifndef KDC_PRODUCER_INT_H
#define KDC_PRODUCER_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "producer.h"

#define PROD_RECEIPT_QUEUE_MAX (64u * 1024 * 1024) /* bytes of undecoded receipts */
#define PROD_MARKS_FLUSH_MS 250
#define PROD_MARKS_FLUSH_N 2000
#define PROD_RESEND_CHECK_MS 1000
#define PROD_COUNT_EVERY_MS 2000     /* sync: pending counted in SQL this often */
#define PROD_WAIT_MAX_MS 100         /* kdc_mqtt_tick wants ~10 calls a second */
#define PROD_RECEIPTS_PER_TX 256     /* receipts applied per transaction */
#define PROD_REFUSED_MIN_MS 5000     /* first pause after a refused publish */
#define PROD_REFUSED_MAX_MS 60000    /* longest pause: one try a minute */
/* sync: how long to wait for the retained worklist once the broker granted
 * the subscription (it follows the grant at once when there is one) */
#define PROD_WORKLIST_WAIT_MS 1500

/* A receipt as it arrived, waiting for the owner thread. */
struct prod_receipt {
	struct prod_receipt *next;
	size_t len;
	uint8_t data[];
};

/* One publish awaiting its callback (kdc_mqtt holds a pointer to it). */
struct prod_pub {
	kdc_producer *p;
	int64_t seq;
	int probe;                       /* sent to try whether refusals are over */
};

struct kdc_producer {
	struct kdc_producer_conf conf;   /* owned copies */
	kdc_outbox *ob;
	kdc_mqtt *mqtt;
	char receipts_topic[KDC_TOPIC_MAX];
	char events_topic[KDC_TOPIC_MAX];
	char worklist_topic[KDC_TOPIC_MAX];
	int want_worklist;               /* kdc_producer_want_worklist was called */

	/* shared with Paho's threads, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct prod_receipt *rq_head, *rq_tail;
	size_t rq_bytes;
	int64_t rq_dropped;
	int inflight;                    /* publishes awaiting their callback */
	int connected;
	int reconnected;                 /* a connect happened since the owner looked */
	int session_lost;                /* ... and one of them found no session */
	int64_t failed_min_seq;          /* lowest seq whose publish failed, 0 = none */
	int64_t refused_min_seq;         /* lowest seq the broker refused, 0 = none */
	int refused_rc;                  /* KDC_ERR_TOPIC_REFUSED or _BUSY */
	int probe_acked;                 /* a probe's ack came since the owner looked */
	int64_t acked;
	int64_t connects;
	struct prod_receipt *wl_msg;     /* the latest worklist not yet stored */

	/* owner thread only */
	int64_t cursor;
	int64_t upto;                    /* highest seq to send (a sync's start), else INT64_MAX */
	int64_t next_resend_check;       /* mono ms */
	int64_t *marks;                  /* seqs published, not yet marked in the outbox */
	size_t nmarks, cap_marks;
	int64_t marks_since;             /* mono ms of the oldest unflushed mark */
	int resend_pass;                 /* in producer__send_row: 1 when resending */
	int64_t resent;                  /* events resent in the current resend round */
	int send_rc;                     /* why producer__send_row stopped */
	int window_full;                 /* the last round stopped at our own window */
	int refusing;                    /* 0, or why the broker refuses (pause on) */
	int64_t refused_backoff_ms;      /* the pause after the next refusal */
	int64_t paused_until;            /* mono ms: no publish before */
	int wl_state;                    /* enum kdc_producer_worklist */
	struct kdc_producer_stats st;
};

/* producer.c */
int producer__flush_marks(kdc_producer *p);

/* producer_sync.c: what the owner's loop applies (owner thread) */
int producer__store_worklist(kdc_producer *p, struct prod_receipt *r);
int producer__apply_receipts(kdc_producer *p, struct prod_receipt *list);

#endif
