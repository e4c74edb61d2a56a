/* writer.h: the aggregator's writer thread, the only user of the database.
 *
 * Loop: take a batch from the ingest queue (up to batch_max messages, or what
 * arrived within batch_ms of the first, or until the flow pauses for a couple
 * of milliseconds), and in ONE transaction: parse each
 * topic, decode and validate the payload, INSERT OR IGNORE the event (new
 * rows are folded into the statistics, duplicates are receipted again), or
 * keep the payload in `rejected` with the reason. Commit. Only then queue one
 * kdc.v1.Receipt per device (ids committed + ids rejected with reasons) on
 * the outq for the MQTT thread to publish, and let the statistics emit their
 * snapshots (coalesced; at least once a second also when idle, so rolling
 * windows move with the clock), then the worklists of the khóms the batches
 * touched (worklist.h; queued as bulk, so they go out after the receipts).
 *
 * When a commit fails (disk full, I/O error, database locked by another
 * process beyond the busy timeout) the batch is rolled back and dropped
 * WITHOUT receipts, so its devices resend; the writer reports itself degraded
 * (kdc_writer_health) and every later batch is a retry. The first success
 * afterwards reports healthy again. Errors are logged once per episode.
 *
 * Threads: start/stop/health/counters are called from the owner thread (or
 * any thread for health and counters); the writer thread owns store and stats
 * while it runs. */
#ifndef KDC_WRITER_H
#define KDC_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "profile.h"
#include "outq.h"
#include "stats.h"
#include "store.h"
#include "worklist.h"

struct kdc_writer_conf {
	const char *ward;           /* this aggregator's ward code (copied) */
	size_t batch_max;           /* messages per transaction at most (reached
	                               when a backlog keeps batches full: each may
	                               be twice the previous one; live traffic
	                               gives what arrived within batch_ms) */
	int batch_ms;               /* wait at most this long to fill a batch */
	int64_t stats_interval_ms;  /* min time between snapshots of one scope */
	const struct kdc_profile *profile; /* NULL, or the ward profile whose
	                               teams, khoms and team devices each event
	                               must fit (read-only; outlives the writer) */
	int count_unknown;          /* 1: a team or khom the profile lacks is
	                               stored (counted as unassigned), not refused */
	int64_t (*clock_ms)(void);  /* NULL: kdc_now_ms. The time a batch is
	                               judged and stored at (tests set it) */
	struct kdc_worklist *worklist; /* NULL, or the worklists to publish after
	                               the statistics (used by the writer thread
	                               only while it runs; freed by the caller) */
	int64_t worklist_interval_ms; /* min time between lists of one team/khóm */
};
#define KDC_WRITER_CONF_INIT { NULL, 4096, 50, 1000, NULL, 0, NULL, NULL, 5000 }

typedef struct kdc_writer kdc_writer;

/* Starts the thread. store, in and out must outlive the writer; stats may be
 * NULL (no statistics: for tests and benchmarks). Returns NULL with a reason
 * in err. */
kdc_writer *kdc_writer_start(const struct kdc_writer_conf *conf, kdc_store *store,
                             kdc_stats *stats, kdc_ingest *in, kdc_outq *out,
                             char *err, size_t errlen);

/* Finishes: the caller has closed the ingest queue (kdc_ingest_close); the
 * writer stores what is still queued, commits, queues the receipts and a last
 * statistics snapshot, and ends. Joins the thread and frees the writer.
 * NULL is fine. */
void kdc_writer_stop(kdc_writer *w);

/* 0 while commits succeed; 1 when degraded, with a plain reason such as
 * "disk full: events are not being stored" copied to reason. *generation
 * (if not NULL) changes whenever the health changes. Any thread. */
int kdc_writer_health(kdc_writer *w, char *reason, size_t len, uint64_t *generation);

struct kdc_writer_counters {
	uint64_t stored;           /* new events committed */
	uint64_t duplicates;       /* events already stored, receipted again */
	uint64_t rejected;         /* payloads kept in `rejected` */
	uint64_t batches;          /* transactions committed */
	uint64_t failed_batches;   /* transactions rolled back */
	uint64_t not_stored;       /* messages dropped with a failed batch */
	uint64_t receipts;         /* receipts queued for publishing */
	uint64_t receipts_dropped; /* receipts the outq refused */
};
/* A snapshot of the totals since start. Any thread. */
void kdc_writer_counters(kdc_writer *w, struct kdc_writer_counters *c);

#endif
