/* stats_rebuild.c: kdc_stats_rebuild, the statistics recomputed from every
 * stored event with the same fold (stats_fold.c) in event-time order, and
 * kdc_stats_fold_from, that fold over another database's events up to a
 * moment (the figures as they stood then, for the reports). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "stats_int.h"

/* ---- rebuild ------------------------------------------------------------- */

/* The counted events (docs/stats.md) of src with an event time in
 * [from_ms, until_ms), folded in (occurred_ms, id) order in chunks: counted
 * means an activity, not voided, and of an active register entry when the
 * ward has a register (src's tables). clamp_ms: a row's received_ms is taken
 * as at most clamp_ms (INT64_MAX: as stored), see kdc_stats_fold_from.
 * *total: the rows folded. */
static int stats__refold(kdc_stats *s, sqlite3 *src, int64_t from_ms, int64_t until_ms,
                         int64_t clamp_ms, int64_t *total)
{
	sqlite3_stmt *st = NULL;
	struct kdc_event_row *rows = NULL;
	char cols[512], sql[1024];
	size_t n = 0;
	int rc = KDC_OK, step;

	*total = 0;
	rows = malloc(REBUILD_CHUNK * sizeof *rows);
	if (!rows)
		return KDC_ERR_NOMEM;
	kdc_event_row_columns(cols, sizeof cols);
	/* the counted events (docs/stats.md): activities, not voided, and of an
	 * active register entry when the ward has a register */
	snprintf(sql, sizeof sql, "SELECT %s FROM events WHERE " KDC_KIND_ACTIVITY_SQL
	         " AND voided_by IS NULL AND occurred_ms >= ?1 AND occurred_ms < ?2"
	         " AND (NOT EXISTS (SELECT 1 FROM register) OR EXISTS (SELECT 1 FROM register r"
	         " WHERE r.khom = events.khom AND r.household = events.household"
	         " AND r.retired_ms IS NULL)) ORDER BY occurred_ms, id", cols);
	if (sqlite3_prepare_v2(src, sql, -1, &st, NULL) != SQLITE_OK) {
		kdc_error("stats: read events: %s", sqlite3_errmsg(src));
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		kdc_event_row_read(st, 0, &rows[n]);
		if (rows[n].received_ms > clamp_ms)
			rows[n].received_ms = clamp_ms;
		if (++n == REBUILD_CHUNK) {
			if ((rc = kdc_stats_apply(s, rows, n)))
				goto cleanup;
			*total += (int64_t)n;
			n = 0;
		}
	}
	if (step != SQLITE_DONE) {
		kdc_error("stats: read events: %s", sqlite3_errmsg(src));
		rc = kdc_db_rc(src, step);
		if (rc == KDC_OK)
			rc = KDC_ERR_DB;
		goto cleanup;
	}
	if (n && (rc = kdc_stats_apply(s, rows, n)))
		goto cleanup;
	*total += (int64_t)n;
cleanup:
	sqlite3_finalize(st);
	free(rows);
	return rc;
}

/* Adds the one number that sql returns to *n, when table exists. */
static int stats__add_count(kdc_stats *s, const char *table, const char *sql, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	int exists = 0, rc;

	if ((rc = stats__table_exists(s, table, &exists)) || !exists)
		return rc;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return stats__dberr(s, SQLITE_ERROR, sql);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = stats__dberr(s, rc, sql);
		sqlite3_finalize(st);
		return rc;
	}
	*n += sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return KDC_OK;
}

/* rejected_total: the refused payloads kept, and those purged by the
 * per-device budget (table rejected_dropped). */
static int stats__recount_rejected(kdc_stats *s)
{
	int64_t n = 0;
	int rc;

	if ((rc = stats__add_count(s, "rejected", "SELECT COUNT(*) FROM rejected", &n)) ||
	    (rc = stats__add_count(s, "rejected_dropped",
	                           "SELECT COALESCE(SUM(dropped), 0) FROM rejected_dropped", &n)) ||
	    (rc = stats__meta_set(s, "rejected_total", n)))
		return rc;
	s->rejected_total = n;
	return KDC_OK;
}

/* The register change (register_log lid) the rebuilt figures reflect. */
static int stats__mark_register(kdc_stats *s)
{
	sqlite3_stmt *st = stats__stmt(s, Q_MAX_LID);
	int64_t lid = 0;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		lid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return stats__dberr(s, rc, "read register_log");
	return stats__meta_set(s, "register_lid", lid);
}

int kdc_stats_rebuild(kdc_stats *s)
{
	int64_t total;
	int rc;

	if ((rc = stats__exec(s, "SAVEPOINT st_rebuild")))
		return rc;
	if ((rc = stats__exec(s, "DELETE FROM st_day; DELETE FROM st_hour; DELETE FROM st_device;"
	                         "DELETE FROM st_household; DELETE FROM st_person; DELETE FROM st_payday;"
	                         "DELETE FROM st_hist; DELETE FROM st_useday;"
	                         "UPDATE st_scope SET ev_visit=0, ev_account=0, ev_payment=0, ev_service=0,"
	                         " pay_amount=0, hh_visited=0, hh_surveyed=0, hh_reached=0, acct_portal=0,"
	                         " acct_vneid=0, acct_app=0, acct_payment=0, latest_ms=NULL, ev_bvisit=0,"
	                         " ev_einvoice=0, ev_baccount=0, biz_einvoice=0, su_total=0, su_eid=0;")))
		goto fail;
	stats__cache_drop(s);
	if ((rc = stats__refold(s, s->db, INT64_MIN, INT64_MAX, INT64_MAX, &total)))
		goto fail;
	kdc_info("stats: rebuilt from %lld stored events", (long long)total);
	if ((rc = stats__recount_rejected(s)) ||
	    (rc = stats__mark_register(s)))
		goto fail;
	if ((rc = stats__exec(s, "RELEASE st_rebuild")))
		goto fail;
	/* publish everything again, even where the numbers did not change:
	 * whoever asked for a rebuild wants to see its result */
	for (size_t i = 0; i < s->nscopes; i++) {
		s->scopes[i].dirty = 1;
		s->scopes[i].d0_valid = 0;
		cJSON_free(s->scopes[i].last_body);
		s->scopes[i].last_body = NULL;
	}
	s->rebuilds++;
	return KDC_OK;
fail:
	sqlite3_exec(s->db, "ROLLBACK TO st_rebuild", NULL, NULL, NULL);
	sqlite3_exec(s->db, "RELEASE st_rebuild", NULL, NULL, NULL);
	/* a savepoint's rollback does not call the rollback hook */
	stats__cache_drop(s);
	for (size_t i = 0; i < s->nscopes; i++)
		s->scopes[i].d0_valid = 0;
	return rc;
}

uint64_t kdc_stats_rebuilds(const kdc_stats *s)
{
	return s ? s->rebuilds : 0;
}

int kdc_stats_fold_from(kdc_stats *s, sqlite3 *src, int64_t from_ms, int64_t until_ms)
{
	int64_t total;
	int rc;

	if (from_ms >= until_ms)
		return KDC_OK;
	if ((rc = stats__exec(s, "SAVEPOINT st_fold_from")))
		return rc;
	if ((rc = stats__refold(s, src, from_ms, until_ms, until_ms - 1, &total)) ||
	    (rc = stats__exec(s, "RELEASE st_fold_from"))) {
		sqlite3_exec(s->db, "ROLLBACK TO st_fold_from", NULL, NULL, NULL);
		sqlite3_exec(s->db, "RELEASE st_fold_from", NULL, NULL, NULL);
		stats__cache_drop(s);
		return rc;
	}
	return KDC_OK;
}
