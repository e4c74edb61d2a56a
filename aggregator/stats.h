/* stats.h: adoption statistics, folded incrementally from stored events.
 *
 * The derived state lives in SQLite tables next to `events` and is changed in
 * the same transaction as the events it counts, so a restart needs no replay.
 * All functions run on the aggregator's writer thread (the owner of the db
 * handle); none of them begins or commits a transaction except
 * kdc_stats_rebuild. */
#ifndef KDC_STATS_H
#define KDC_STATS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "event_row.h"

struct kdc_profile; /* profile.h: ward profile (denominators, targets) */
typedef struct kdc_stats kdc_stats;

/* Creates/migrates the statistics tables and prepares statements. profile may
 * be NULL (then denominators are 0 and there are no targets). */
kdc_stats *kdc_stats_open(sqlite3 *db, const struct kdc_profile *profile,
                          char *err, size_t errlen);
void kdc_stats_free(kdc_stats *s);

/* Folds newly stored events (never ones already counted) into the derived
 * state. Called inside the writer's open transaction. 0 or KDC_ERR_DB. */
int kdc_stats_apply(kdc_stats *s, const struct kdc_event_row *rows, size_t n);
/* Counts rejected payloads (for the rejected total). Inside the transaction. */
int kdc_stats_rejected(kdc_stats *s, size_t n);

/* Called by the writer after each batch and at least once a second with the
 * wall clock. Calls emit(ud, scope, id, json) for every scope whose snapshot
 * changed (or whose windows rolled) and was last emitted at least
 * min_interval_ms ago; scope is "ward", "khom" or "team", id the code (NULL
 * for ward); json is valid only during the call. Returns 0 or KDC_ERR_DB. */
typedef void (*kdc_stats_emit_cb)(void *ud, const char *scope, const char *id,
                                  const char *json);
int kdc_stats_publish(kdc_stats *s, int64_t now_ms, int64_t min_interval_ms,
                      kdc_stats_emit_cb emit, void *ud);

/* Recomputes all derived state from table `events` in one transaction. */
int kdc_stats_rebuild(kdc_stats *s);

#endif
