/* closed.h: the ward's closed months, as the aggregator publishes them
 * (retained, kdc/v1/{ward}/stats/closed, JSON kdc.closed.v1: docs/report.md).
 *
 * `kdc-report close` and `reopen` write tables closed_months and period_log
 * of the aggregator's database while it runs (report/period.h); the
 * aggregator never writes them. It notices them as it notices the ward
 * tools' register changes: by polling the log's highest row id, one indexed
 * read, once a second on the writer thread; the first poll (at start)
 * always publishes. Writer thread only (the store's handle). */
#ifndef KDC_CLOSED_H
#define KDC_CLOSED_H

#include <sqlite3.h>

typedef struct kdc_closed kdc_closed;

/* Borrows db (the store's handle, which must outlive it). NULL when out of
 * memory. */
kdc_closed *kdc_closed_new(sqlite3 *db, const char *ward);
void kdc_closed_free(kdc_closed *c);

/* KDC_OK with *json (malloc'd, the caller frees) when the closed months
 * changed since the last successful call (or on the first), *json NULL when
 * not; an error (KDC_ERR_DB, KDC_ERR_NOMEM) otherwise: the next call tries
 * again. */
int kdc_closed_poll(kdc_closed *c, char **json);

#endif
