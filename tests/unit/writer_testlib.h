/* writer_testlib.h: the aggregator's writer driven as the daemon drives it,
 * for the register and void tests: a real store file, the statistics on it,
 * the ingest queue in front and the publish queue behind (no broker).
 * Events are made from rows (event_row.h) and packed as kdc.v1 protobuf;
 * receipts and retained snapshots are collected from the publish queue. */
#ifndef KDC_WRITER_TESTLIB_H
#define KDC_WRITER_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "event_row.h"
#include "ingest.h"
#include "outq.h"
#include "profile.h"
#include "stats.h"
#include "stats_testlib.h"
#include "store.h"
#include "writer.h"

#define WL_MAX_OUTCOMES 4096

struct wl_outcome {
	uint8_t id[KDC_UUID_LEN];
	int reason;                  /* 0: committed */
	char detail[192];
};

struct wl {
	char path[512];
	struct kdc_profile *profile;
	kdc_store *store;
	kdc_stats *stats;
	kdc_ingest *in;
	kdc_outq *out;
	kdc_writer *w;
	struct kdc_writer_conf conf;
	uint64_t sent;               /* messages put since the writer started */
	struct tl_retained ret;      /* latest snapshot per scope */
	struct wl_outcome *outcomes; /* latest receipt outcome per event id */
	size_t noutcomes;
};

/* Opens a new store at a temporary path named after tag, with profile_text
 * as the ward profile (NULL: none), and the statistics. */
void wl_open(struct wl *l, const char *tag, const char *profile_text);
/* Runs SQL on a second connection (as the ward's tools would). */
void wl_sql(struct wl *l, const char *sql);
/* One number from SQL on a second connection. */
long long wl_count(struct wl *l, const char *sql);
void wl_start(struct wl *l);
/* Packs the event of row r (kind from r->kind; a void names target with
 * reason, a household addition has people) and queues it on the topic of
 * its team and device. */
void wl_put(struct wl *l, const struct kdc_event_row *r, const uint8_t *target,
            const char *reason, uint32_t people);
/* Waits (30 s at most) until every message put was judged. */
void wl_wait(struct wl *l);
/* Takes receipts and snapshots off the publish queue. */
void wl_collect(struct wl *l);
/* Stops the writer (it commits and publishes what it has), then collects. */
void wl_stop(struct wl *l);
void wl_close(struct wl *l);
/* The last outcome for an event id: 0 committed, a reason, or -1 none. */
int wl_outcome(const struct wl *l, const uint8_t *id, const char **detail);
/* With the writer stopped: the retained snapshots equal (numbers) those
 * after kdc_stats_rebuild; fails the test otherwise. */
void wl_check_rebuild(struct wl *l, const char *what);
/* Integer at path of the retained snapshot key ("ward", "khom/6"). */
long long wl_int(struct wl *l, const char *key, const char *path);

#endif
