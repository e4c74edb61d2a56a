/* writer_int.h: what the parts of the writer share (writer.c, the thread;
 * writer_register.c, the household register and voids in a batch;
 * writer_receipts.c, the batch's receipts): the struct behind kdc_writer.
 * Nobody else includes it; see writer.h. */
#ifndef KDC_WRITER_INT_H
#define KDC_WRITER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "closed.h"
#include "kdc_hmap.h"
#include "kdc_proto.h"
#include "register.h"
#include "writer.h"

enum { OUTCOME_SKIP = -1, OUTCOME_COMMITTED = 0 };

/* Entries per receipt. Worst case (all rejected with the longest detail)
 * ~225 bytes each, so a receipt stays under KDC_MAX_RECEIPT_BYTES. */
#define RECEIPT_CHUNK 1000

/* What happened to one message of the batch, kept past the release of its
 * ingest slot so that receipts can be sent after the queue moved on. */
struct writer_outcome {
	int32_t group;                   /* receipt group, -1 for none */
	int reason;                      /* OUTCOME_* or a RejectReason */
	int has_id;
	uint8_t id[KDC_UUID_LEN];
	char device[KDC_CODE_MAX + 1];   /* from the topic: who gets the receipt */
	char detail[sizeof(((struct kdc_verdict *)0)->detail)];
};

/* Receipt groups: one per device of a batch, in a map keyed by the device
 * code (zero-padded) whose entries, in insertion order, are the groups. */
struct writer_group_key {
	char device[KDC_CODE_MAX + 1];
};
struct writer_group {
	int32_t index;               /* of the entry in the map */
	uint32_t start, n;
};

/* Where protobuf-c puts the fields of the event being decoded: a bump
 * allocator emptied before the next message, so that decoding costs no
 * malloc/free per field. What does not fit goes to malloc, chained for the
 * reset. */
struct writer_arena {
	uint8_t *buf;
	size_t used;
	void *spilled;               /* malloc'ed blocks, each starting with the link */
};

struct writer_period {
	uint64_t stored, duplicates, rejected, failed;
};

struct kdc_writer {
	struct kdc_writer_conf conf;
	char ward[KDC_CODE_MAX + 1];
	kdc_store *store;
	kdc_stats *stats;
	kdc_register *reg;
	kdc_closed *closed;          /* stats/closed (writer thread) */
	kdc_ingest *in;
	kdc_outq *out;
	pthread_t thread;
	atomic_int stopping;

	/* batch scratch, batch_max entries each (writer thread only) */
	struct writer_outcome *outcomes;
	struct kdc_event_row *rows;
	uint8_t *inserted;
	uint32_t *order;
	struct kdc_hmap groups;      /* writer_group_key -> writer_group */
	struct writer_arena arena;
	ProtobufCAllocator pb_alloc;
	/* this batch: rows[0, nfold) are stored, new and counted (to fold);
	 * rows[nfold, nvalid) are judged valid and not stored yet */
	size_t nfold, nnew, ndup;
	int rebuild;                 /* the counted set changed: recompute */
	int voided;                  /* a void was stored: events.voided may move */
	int reg_changed;             /* denominators to push after the commit */
	int reg_reloaded;            /* cross-check to log after the commit */
	/* receipt scratch, RECEIPT_CHUNK entries */
	ProtobufCBinaryData *committed;
	Kdc__V1__Rejection *rej;
	Kdc__V1__Rejection **rejp;
	uint8_t *pack;
	size_t pack_cap;

	/* writer thread only */
	size_t limit;                /* size of the next batch at most */
	int failing;
	int fail_rc;
	int ok_since_fail;           /* a commit worked after the last failure */
	int64_t last_fail_ms;        /* monotonic */
	uint64_t episode_batches, episode_msgs;
	struct writer_period period;
	int64_t period_start_ms;
	uint64_t period_full_waits;
	int64_t reject_log_ms;
	int64_t flood_log_ms;        /* monotonic: last "floods" line */
	uint64_t rejects_unlogged;
	int64_t stats_fail_log_ms;
	int64_t worklist_fail_log_ms;

	/* shared with other threads, under lock */
	pthread_mutex_t lock;
	int degraded;
	char reason[128];
	uint64_t generation;
	struct kdc_writer_counters totals;
};

/* writer.c */
int writer__reject(kdc_writer *w, const struct kdc_ingest_msg *m, struct writer_outcome *o,
                   int64_t now, int reason, const char *detail);
void writer__failed(kdc_writer *w, int rc, size_t n);

/* writer_receipts.c: one receipt per device of the batch's outcomes[0, n) */
void writer__receipts(kdc_writer *w, size_t n);

/* writer_register.c: the register's part of a batch (inside its
 * transaction unless said otherwise) */
int writer__flush(kdc_writer *w, size_t *nvalid);
int writer__special(kdc_writer *w, const struct kdc_ingest_msg *m, struct writer_outcome *o,
                    const kdc_event_pb *ev, int64_t now, size_t *nvalid, size_t *nrej);
int writer__register_sync(kdc_writer *w);
int writer__stats(kdc_writer *w, int64_t lid0, size_t nrej);
/* after the commit; once a second when idle (its own transaction); at start */
void writer__push_register(kdc_writer *w);
void writer__idle_register(kdc_writer *w);
int writer__open_register(kdc_writer *w, char *err, size_t errlen);

#endif
