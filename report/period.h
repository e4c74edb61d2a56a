/* period.h: closing a month (`kdc-report close` and `reopen`), and reading
 * the closed months back for the monthly report.
 *
 * A closed month's official figures are frozen in the ward's database, in
 * table closed_months (store migration 3 -> 4): the month, who closed it and
 * when, the figures (a JSON array of the kdc.stats.v1 snapshot of every
 * scope, ward first, as the monthly report computes them for the month's
 * end: figures.h) and the SHA-256 of that text. Every close and reopen is
 * appended to period_log (who, when, why, the hash). Nothing else writes
 * those tables: a closed month's row is never updated, only deleted by a
 * reopen (which logs the hash it gave up).
 *
 * Writing: one short IMMEDIATE transaction on the database opened through
 * kdc_db_open (WAL, busy timeout), safe beside a running aggregator, which
 * never writes these tables (it only reads them, for its stats/closed
 * topic, polling MAX(pid) of period_log). The figures are computed before,
 * from a read of the database, so the write lock is held for two inserts
 * only. No need for the aggregator's lock file (dblock.h): that keeps
 * `forget` from deleting events under a running aggregator; a close takes
 * nothing away from the aggregator.
 *
 * Late events (dated in a closed month, stored after it was closed) change
 * the figures recomputed now, never the frozen ones: kdc_period_compare
 * gives the differences, which the monthly report lists as adjustments.
 * Main thread only. */
#ifndef KDC_REPORT_PERIOD_H
#define KDC_REPORT_PERIOD_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "figures.h"

#define KDC_PERIOD_BY_MAX 128

struct kdc_closed_month {
	char month[8];                 /* YYYY-MM */
	int64_t first_day, last_day;   /* its ward-local days */
	char by[KDC_PERIOD_BY_MAX];
	int64_t at_ms;                 /* when it was closed (UTC ms) */
	char sha256[65];               /* hex */
	int sha_ok;                    /* the stored figures still have that hash */
	struct kdc_scope_figs *scopes; /* the frozen figures, parsed (json NULL) */
	size_t n;
};

struct kdc_closed_list {
	struct kdc_closed_month *m;    /* by month, oldest first */
	size_t n;
};

/* Reads every closed month of db. KDC_OK, or KDC_ERR_DB / KDC_ERR_NOMEM /
 * KDC_ERR_INVAL (stored figures that do not parse) with err. */
int kdc_period_load(sqlite3 *db, struct kdc_closed_list *l, char *err, size_t errlen);
void kdc_period_list_free(struct kdc_closed_list *l);
/* The closed month "YYYY-MM", or NULL. */
const struct kdc_closed_month *kdc_period_find(const struct kdc_closed_list *l, const char *month);

/* "[snapshot,snapshot,...]" of the n scopes' json, malloc'd (NULL: out of memory). */
char *kdc_period_figures_json(const struct kdc_scope_figs *g, size_t n);
/* The SHA-256 of s in lowercase hex. */
void kdc_period_sha256(const char *s, char hex[65]);

/* Freezes month's figures (text, from kdc_period_figures_json) in the
 * database at path: KDC_OK; KDC_ERR_BUSY if the month is already closed;
 * or an error, each with a plain sentence in err. */
int kdc_period_close(const char *path, const char *month, const char *by, const char *figures,
                     int64_t now_ms, char *err, size_t errlen);
/* Reopens a closed month (reason and by required): KDC_OK; KDC_ERR_NOT_FOUND
 * if it is not closed; or an error, with err. */
int kdc_period_reopen(const char *path, const char *month, const char *reason, const char *by,
                      int64_t now_ms, char *err, size_t errlen);

/* What differs between a month's frozen figures and those recomputed now. */
enum kdc_diff_item { KDC_DIFF_FIGURE = 0, KDC_DIFF_TARGET_VALUE, KDC_DIFF_TARGET_DENOM };
struct kdc_period_diff {
	int kind;                      /* enum kdc_scope_kind */
	char code[KDC_CODE_MAX + 1];
	char name[KDC_PROFILE_NAME_MAX];
	int item;                      /* enum kdc_diff_item */
	int which;                     /* FIGURE: index into kdc_fig_columns; else the indicator */
	int64_t official, now;
};
/* The differences, scope by scope (the official scopes' order, then scopes
 * only the recomputed figures have), in *out (free()), *n of them. A scope
 * missing on one side counts as zeros there. KDC_OK or KDC_ERR_NOMEM. */
int kdc_period_compare(const struct kdc_scope_figs *official, size_t nofficial,
                       const struct kdc_scope_figs *now, size_t nnow,
                       struct kdc_period_diff **out, size_t *n);

#endif
