/* stats.h: adoption statistics, folded incrementally from stored events.
 *
 * Changes from the first draft of this interface (for the daemon core):
 *  - kdc_stats_open borrows the profile: it must stay alive (unchanged)
 *    until kdc_stats_free. Pass kdc_profile_new_default(ward) when the
 *    aggregator runs without --profile (NULL still works but then the JSON
 *    has no ward code).
 *  - kdc_stats_open needs table `events` to exist already (create the store's
 *    schema first): when the statistics tables are new, or the profile's
 *    utc_offset changed, it rebuilds them from `events` at once.
 *  - Call kdc_stats_publish OUTSIDE the writer's transaction (after COMMIT):
 *    it persists each scope's seq in its own small write, and its cached
 *    values must not see rows that a later ROLLBACK removes.
 *  - kdc_stats_rejected(n): n = rows inserted into table `rejected` (rebuild
 *    recounts that table).
 *  - kdc_stats_rebuild works inside or outside a transaction (SAVEPOINT).
 *  - kdc_stats_open takes the connection's rollback hook (sqlite3_rollback_hook)
 *    until kdc_stats_free: the statistics cache rows they wrote and must
 *    forget them when a transaction is rolled back. Do not set another one.
 * What the numbers mean: docs/stats.md.
 *
 * The derived state lives in SQLite tables (st_*) next to `events` and is
 * changed in the same transaction as the events it counts, so a restart needs
 * no replay. All functions run on the aggregator's writer thread (the owner of
 * the db handle); none of them begins or commits a transaction except
 * kdc_stats_rebuild (and kdc_stats_open when it rebuilds). No function reads
 * the clock: time comes in as now_ms. */
#ifndef KDC_STATS_H
#define KDC_STATS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "event_row.h"

struct kdc_profile; /* profile.h: ward profile (denominators, targets) */
typedef struct kdc_stats kdc_stats;

/* Creates/migrates the statistics tables and prepares statements. profile is
 * borrowed (see above) and may be NULL (then denominators are 0 and there are
 * no targets). Returns NULL with a reason in err. The db handle stays owned
 * by the caller and must outlive the kdc_stats. */
kdc_stats *kdc_stats_open(sqlite3 *db, const struct kdc_profile *profile,
                          char *err, size_t errlen);
/* Finalizes statements and frees memory (not the db). NULL is fine. */
void kdc_stats_free(kdc_stats *s);

/* Folds newly stored events (never ones already counted) into the derived
 * state. Called inside the writer's open transaction, once per batch: work is
 * per distinct key of the batch (day, hour, device, household, person), and
 * never grows with the history stored. rows is read only during the call.
 * 0, KDC_ERR_DB, KDC_ERR_DISK_FULL or KDC_ERR_NOMEM; after an error the
 * caller must roll the transaction back. */
int kdc_stats_apply(kdc_stats *s, const struct kdc_event_row *rows, size_t n);
/* Counts rejected payloads (for the rejected total). Inside the transaction. */
int kdc_stats_rejected(kdc_stats *s, size_t n);

/* Called by the writer after each batch and at least once a second with the
 * wall clock. Calls emit(ud, scope, id, json) for every scope whose snapshot
 * changed (or whose windows rolled) and was last emitted at least
 * min_interval_ms ago; scope is "ward", "khom" or "team", id the code (NULL
 * for ward); json is valid only during the call. Windows are re-evaluated at
 * least every minute and at every hour boundary even when nothing arrives;
 * a snapshot whose numbers did not change is not emitted again. The first
 * call after kdc_stats_open emits every scope. Returns 0 or KDC_ERR_DB (then
 * nothing was emitted and the next call retries). */
typedef void (*kdc_stats_emit_cb)(void *ud, const char *scope, const char *id,
                                  const char *json);
int kdc_stats_publish(kdc_stats *s, int64_t now_ms, int64_t min_interval_ms,
                      kdc_stats_emit_cb emit, void *ud);

/* Recomputes all derived state from table `events` in one transaction
 * (clears st_*, keeps each scope's seq, re-folds the COUNTED events in
 * (occurred_ms, id) order in chunks, recounts table `rejected`). Counted:
 * an activity kind (kind < KDC_KIND_COUNT), voided_by NULL, and, when table
 * `register` has any row, (khom, household) an active register entry. It
 * also records in st_meta (register_lid) the last register_log row it saw
 * (kdc_stats_register_lid). Every scope is emitted at the next publish. 0,
 * KDC_ERR_DB, KDC_ERR_DISK_FULL or KDC_ERR_NOMEM. */
int kdc_stats_rebuild(kdc_stats *s);
/* The figures as they stood at a moment, computed by this module itself:
 * folds into s the counted events (as kdc_stats_rebuild counts them) of
 * another database src, only read, whose event time (occurred_ms) is in
 * [from_ms, until_ms), in (occurred_ms, id) order. Called with from_ms
 * rising from INT64_MIN and each until_ms the next call's from_ms, on an s
 * over a new database (nothing counted yet), it leaves the tables that a
 * rebuild of src's events before until_ms would make, as if each had been
 * stored by until_ms - 1 (a stored time after it is taken as until_ms - 1:
 * which day and hour rows a fold keeps depends on when the event arrived,
 * stats_fold.c). Read them with kdc_stats_publish at now_ms = until_ms - 1.
 * One transaction of s's database; src's statements run on src's handle.
 * 0, KDC_ERR_DB, KDC_ERR_DISK_FULL or KDC_ERR_NOMEM (then s's tables are as
 * before the call). */
int kdc_stats_fold_from(kdc_stats *s, sqlite3 *src, int64_t from_ms, int64_t until_ms);
/* How many rebuilds succeeded since open: whoever keeps something derived
 * from the statistics' tables (the worklists) recomputes it all when this
 * moves. */
uint64_t kdc_stats_rebuilds(const kdc_stats *s);

/* The register. kdc_stats_apply folds what it is given: the caller (the
 * writer) passes only counted events (see kdc_stats_rebuild). The
 * denominators come from the profile unless set here: households[i] and
 * people[i] for the profile's khom i (arrays of profile->nkhoms, copied);
 * NULL, NULL goes back to the profile's. Scopes are re-evaluated at the next
 * publish. 0 or KDC_ERR_NOMEM (then the previous ones stay). */
int kdc_stats_set_denominators(kdc_stats *s, const int64_t *households, const int64_t *people);
/* Businesses per profile khóm (the register's active business entries), as
 * kdc_stats_set_denominators; NULL: the profile's `businesses` (0 when not
 * given). 0 or KDC_ERR_NOMEM. */
int kdc_stats_set_businesses(kdc_stats *s, const int64_t *businesses);
/* Every scope is evaluated again at the next publish (and emitted if its
 * numbers changed): for what the folds do not see, such as events.voided
 * after a void of an event that was not counted. */
void kdc_stats_touch(kdc_stats *s);
/* The register_log lid the figures reflect (0 when none recorded); the
 * writer moves it when it changes the register itself in a batch whose
 * figures it keeps exact without a rebuild. Inside the writer's transaction
 * for the setter. 0 or KDC_ERR_DB. */
int kdc_stats_register_lid(kdc_stats *s, int64_t *lid);
int kdc_stats_set_register_lid(kdc_stats *s, int64_t lid);

#endif
