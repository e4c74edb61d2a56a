/* figures.h: the ward's figures as they stood at a moment, computed by the
 * statistics module itself (aggregator/stats.h), never a second time here.
 *
 * The ward's database is only read (src, opened by source.c). Its counted
 * events are folded, in event-time order, into the statistics tables of a
 * private scratch database (a temporary file, mode 0600, removed by
 * kdc_figures_free), with kdc_stats_fold_from; each scope's snapshot is then
 * read and rendered by kdc_stats_publish, the code that gives the live
 * aggregator's kdc.stats.v1 JSON, at that moment. The figures are read back
 * out of that JSON. Moments go forward: each call folds only the events
 * since the previous moment, so a day-by-day export costs one pass over the
 * events, not one per day.
 *
 * Which events a moment counts (docs/report.md): those whose event time is
 * at or before it, counted as the statistics count them now (a voided
 * event in no figure, a retired household's in none), with the register's
 * denominators as they stand now. Main thread only. */
#ifndef KDC_REPORT_FIGURES_H
#define KDC_REPORT_FIGURES_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "snapshot.h"

enum kdc_scope_kind { KDC_SCOPE_WARD = 0, KDC_SCOPE_KHOM, KDC_SCOPE_TEAM };

/* One target of a scope, as the snapshot's "targets" array gives it. */
struct kdc_target_figs {
	int indicator;          /* enum kdc_indicator */
	char percent[16];       /* the target, "85" or "85.50" */
	char deadline[11];      /* YYYY-MM-DD */
	int64_t value, denominator;
	char current[16];       /* percent now, 2 decimals rounded down; "" without a denominator */
	int64_t gained_30d;
	char projected[11];     /* YYYY-MM-DD, "" when not reachable at the pace */
	int on_track, met;
};

/* One scope's figures at the moment. */
struct kdc_scope_figs {
	int kind;               /* enum kdc_scope_kind */
	char code[KDC_CODE_MAX + 1]; /* "" for the ward */
	char name[KDC_PROFILE_NAME_MAX];
	int unassigned;         /* a khóm or team the profile does not have */
	int64_t v[KDC_SF_COUNT]; /* the count fields (snapshot.h) */
	struct kdc_target_figs *targets;
	size_t ntargets;
	char *json;             /* the snapshot itself (kdc.stats.v1) */
};

typedef struct kdc_figures kdc_figures;

/* Sets up the scratch database for src (borrowed, read only; the
 * handle must outlive the kdc_figures) with profile (borrowed likewise):
 * copies src's household register there for the denominators. NULL with
 * a plain reason in err. */
kdc_figures *kdc_figures_new(sqlite3 *src, const struct kdc_profile *profile, char *err,
                             size_t errlen);
/* Removes the scratch database. NULL is fine. */
void kdc_figures_free(kdc_figures *f);

/* The figures of every scope as they stood at now_ms (UTC ms; events with
 * an event time up to and including it): the ward first, then the
 * profile's khóms and teams in its order, then khóms and teams it lacks, by
 * code. now_ms must not be before the previous call's. *scopes stays owned
 * by f, valid until the next call. KDC_OK, or KDC_ERR_INVAL (now_ms went
 * back), KDC_ERR_DB, KDC_ERR_DISK_FULL, KDC_ERR_NOMEM with a reason in err. */
int kdc_figures_at(kdc_figures *f, int64_t now_ms, const struct kdc_scope_figs **scopes,
                   size_t *n, char *err, size_t errlen);

/* Parses a JSON array of kdc.stats.v1 snapshots (a closed month's frozen
 * figures, period.h) into *out, n scopes in the array's order, their json
 * NULL. KDC_OK, KDC_ERR_INVAL (not such an array) or KDC_ERR_NOMEM. Free
 * with kdc_figures_list_free. */
int kdc_figures_parse_list(const char *json, struct kdc_scope_figs **out, size_t *n);
void kdc_figures_list_free(struct kdc_scope_figs *g, size_t n);

/* The end of ward-local day `day` (days since 1970-01-01): its last ms. */
int64_t kdc_figures_day_end(const struct kdc_profile *p, int64_t day);

/* The last day of the month that holds day. */
int64_t kdc_month_last_day(int64_t day);
/* The ward-local days of src's first and last activity event (by event
 * time; *found = 0 when there is none). KDC_OK or KDC_ERR_DB with err. */
int kdc_figures_event_days(sqlite3 *src, const struct kdc_profile *p, int64_t *first,
                           int64_t *last, int *found, char *err, size_t errlen);

#endif
