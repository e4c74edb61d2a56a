/* outbox.h: the device's durable outbox, one SQLite file per device.
 *
 * An event is written here before anything else happens to it, so recording
 * works offline and survives any crash; a row leaves the outbox only when the
 * aggregator's receipt says it is stored (deleted) or refused (kept, state 2,
 * with the reason, so the team member can see why). In the transaction that
 * deletes a stored row, a copy goes to the history, kept history-days after
 * the receipt so that the team member can still void or amend it.
 *
 * File: WAL, synchronous=FULL, mode 0600, a schema_version table.
 *   outbox(id BLOB PRIMARY KEY, seq INTEGER UNIQUE NOT NULL, created_ms,
 *          occurred_ms, kind, payload BLOB NOT NULL, state (0 pending,
 *          2 rejected), sent_count, last_sent_ms, reject_reason, reject_detail,
 *          topic, khom, household, member)
 *   history(id BLOB PRIMARY KEY, seq, occurred_ms, kind, khom, household,
 *          member, payload, stored_ms): the stored events, stored_ms the
 *          receipt's time (device clock), indexed for the purge.
 *   meta(key, value): 'next_seq', the device's next sequence number.
 *   worklist_info, worklist: the team's worklist (worklist.h).
 * Several processes may open the same file (a team member records a visit
 * while `kdc-event sync` runs): every write is one short IMMEDIATE
 * transaction and waits up to 10 s for the other writer.
 *
 * Threads: a kdc_outbox is one SQLite connection; use it from one thread at a
 * time (the owner). Different outboxes are independent. */
#ifndef KDC_OUTBOX_H
#define KDC_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "kdc_proto.h"
#include "kdc_util.h"

#define KDC_OUTBOX_SCHEMA_VERSION 5
/* days a stored event stays in the history by default */
#define KDC_OUTBOX_HISTORY_DAYS 60

enum kdc_outbox_state {
	KDC_OUTBOX_PENDING = 0,   /* waiting for a receipt */
	KDC_OUTBOX_STORED = 1,    /* receipted as stored: in the history, not the outbox */
	KDC_OUTBOX_REJECTED = 2,  /* the aggregator refused it; kept to be shown */
};

typedef struct kdc_outbox kdc_outbox;

/* One outbox row as seen by a listing callback. Pointers are valid only
 * during the callback. */
struct kdc_outbox_row {
	uint8_t id[KDC_UUID_LEN];
	int64_t seq;
	int64_t created_ms;      /* when it was recorded (device clock) */
	int64_t occurred_ms;     /* when it happened */
	int kind;                /* enum kdc_kind */
	int state;               /* enum kdc_outbox_state */
	int64_t sent_count;      /* publishes so far */
	int64_t last_sent_ms;    /* 0 = never sent */
	int reject_reason;       /* kdc.v1.RejectReason, 0 unless rejected */
	const char *reject_detail; /* "" unless rejected */
	const void *payload;     /* packed kdc.v1.Event */
	size_t payload_len;
	const char *topic;       /* the events topic it is published on ("" unknown) */
};

/* Return 0 to go on, non-zero to stop the listing (that value is returned). */
typedef int (*kdc_outbox_row_cb)(void *ud, const struct kdc_outbox_row *row);

/* What one receipt changed. */
struct kdc_outbox_applied {
	int64_t committed;  /* rows deleted: the aggregator has them */
	int64_t rejected;   /* rows now in state 2 */
	int64_t unknown;    /* ids not (or no longer) pending here: duplicates */
};

/* Opens (creating if needed, mode 0600) the outbox at path and migrates its
 * schema. On failure returns KDC_ERR_DB/IO/NOMEM/DISK_FULL with a reason in
 * err and *out NULL. The caller owns *out and frees it with kdc_outbox_close. */
int kdc_outbox_open(const char *path, kdc_outbox **out, char *err, size_t errlen);
/* Closes; rolls back an open batch. NULL is fine. */
void kdc_outbox_close(kdc_outbox *ob);

/* The outbox of a device whose configuration names none: a file in the
 * user's data folder, $XDG_DATA_HOME/kdc/outbox-{device}.db, else
 * ~/.local/share/kdc/outbox-{device}.db (the XDG base directory default).
 * Creates the folders that are missing, mode 0700: the outbox holds
 * household-level personal data. Returns a malloc'd path in *out, or
 * KDC_ERR_CONFIG/IO/NOMEM with a reason in err. */
int kdc_outbox_default_path(const char *device, char **out, char *err, size_t errlen);

/* Last SQLite message of this connection (static until the next call). */
const char *kdc_outbox_errmsg(kdc_outbox *ob);

/* For the modules that keep their tables in the outbox file (worklist.c,
 * correct.c): its connection, and the error of a failed SQLite call src
 * (remembered for kdc_outbox_errmsg) as a kdc error. */
struct sqlite3 *kdc_outbox_sqlite(kdc_outbox *ob);
int kdc_outbox_fail(kdc_outbox *ob, int src, const char *what);

/* Batches: between begin and commit, records and receipts join one
 * transaction (one fsync for the lot), which is how bulk loads and simulators
 * reach tens of thousands of records per second. Without a batch each record
 * is its own transaction. Keep batches short: other processes wait. */
int kdc_outbox_begin(kdc_outbox *ob);
int kdc_outbox_commit(kdc_outbox *ob);
/* Undoes the open batch (no-op without one). */
void kdc_outbox_rollback(kdc_outbox *ob);

/* Records ev: assigns the next sequence number (ev->seq) and a fresh UUIDv7
 * made from now_ms (written to id; ev->id then points at id), validates the
 * whole event exactly as the aggregator will (kdc_event_validate with now_ms),
 * packs it and inserts it. Every other field (ward, team, device, khom,
 * household, member, occurred_ms, body) is the caller's. Returns 0;
 * KDC_ERR_INVAL with the reason in v (may be NULL) when the event would be
 * refused, in which case nothing is written and no sequence number is used;
 * or KDC_ERR_DB/DISK_FULL/IO. seq_out may be NULL. */
int kdc_outbox_record(kdc_outbox *ob, kdc_event_pb *ev, int64_t now_ms,
                      uint8_t id[KDC_UUID_LEN], int64_t *seq_out, struct kdc_verdict *v);

/* Applies a decoded receipt in one transaction (or inside the open batch):
 * committed ids are deleted, and copied to the history first (stored_ms =
 * now) unless history-days is 0; rejected ids pending here go to state 2 with
 * reason and detail. Ids that are not 16 bytes are skipped. The caller has
 * checked r->device. res may be NULL. 0 or KDC_ERR_DB/DISK_FULL. */
int kdc_outbox_apply_receipt(kdc_outbox *ob, const kdc_receipt_pb *r,
                             struct kdc_outbox_applied *res);
/* ... with the receipt's time given (tests). */
int kdc_outbox_apply_receipt_at(kdc_outbox *ob, const kdc_receipt_pb *r, int64_t now_ms,
                                struct kdc_outbox_applied *res);

/* How many days a stored event stays in the history after its receipt
 * (KDC_OUTBOX_HISTORY_DAYS until set; 0 = none: receipts only delete). */
void kdc_outbox_set_history_days(kdc_outbox *ob, int days);
int kdc_outbox_history_days(kdc_outbox *ob);
/* Deletes the history rows stored more than history-days before now_ms (all
 * of them when history-days is 0), in one transaction (or inside the open
 * batch); the index on stored_ms makes it cheap when there is nothing to
 * delete. purged (may be NULL) gets the number. 0 or KDC_ERR_DB/DISK_FULL. */
int kdc_outbox_purge_history(kdc_outbox *ob, int64_t now_ms, int64_t *purged);

/* What to send, in seq order, at most limit rows, among the pending rows
 * with after_seq < seq <= upto_seq (INT64_MAX: no upper bound):
 *  - sent_before_ms INT64_MAX: every such row, sent before or not (a first
 *    send, or everything again after the broker lost our session);
 *  - otherwise the resends: rows already sent (last_sent_ms > 0) whose last
 *    send is before sent_before_ms, or (the device clock went back) more
 *    than a minute after now_ms. A row never sent is never a resend.
 * cb must not call other functions of this outbox. Returns 0 (or the
 * callback's non-zero value) and the number of rows given to cb in *n (may
 * be NULL); KDC_ERR_DB on failure. */
int kdc_outbox_due(kdc_outbox *ob, int64_t after_seq, int64_t upto_seq, int64_t sent_before_ms,
                   int64_t now_ms, int limit, kdc_outbox_row_cb cb, void *ud, int *n);

/* Notes that rows were published at now_ms (sent_count + 1), in one
 * transaction. That transaction is committed without its own fsync: the
 * marks only pace resending, losing the last ones in a power cut just means
 * sending again, and the next durable commit syncs them anyway. */
int kdc_outbox_mark_sent(kdc_outbox *ob, const int64_t *seqs, size_t n, int64_t now_ms);

/* Lists rows in state `state`, in seq order. Same callback rules as _due. */
int kdc_outbox_list(kdc_outbox *ob, int state, kdc_outbox_row_cb cb, void *ud);
/* Number of rows in state `state`. */
int kdc_outbox_count(kdc_outbox *ob, int state, int64_t *n);
/* ... of those with seq <= upto_seq (what a sync started with). */
int kdc_outbox_count_upto(kdc_outbox *ob, int state, int64_t upto_seq, int64_t *n);
/* The sequence number the next record will get. */
int kdc_outbox_next_seq(kdc_outbox *ob, int64_t *seq);

#endif
