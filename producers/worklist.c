/* worklist.c: the device's copy of its team's worklist. See worklist.h.
 *
 * These calls are rare (a sync stores a list, a command reads it once), so
 * each prepares its statements when it runs instead of at open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "worklist.h"

#define WL_LIST_SQL "SELECT khom, household, status, attempts, last_attempt_ms, next, " \
                    "people_15plus, field_added, local FROM worklist "
#define WL_ORDER " ORDER BY local, pos"

/* ---- decode -------------------------------------------------------------------------- */

kdc_worklist_pb *kdc_worklist_decode(const void *buf, size_t len, const char *ward,
                                     const char *team, char *err, size_t errlen)
{
	kdc_worklist_pb *wl;

	if (len > KDC_MAX_WORKLIST_BYTES) {
		snprintf(err, errlen, "the worklist is %zu bytes, more than the %d allowed", len,
		         KDC_MAX_WORKLIST_BYTES);
		return NULL;
	}
	if (!(wl = kdc__v1__worklist__unpack(NULL, len, buf))) {
		snprintf(err, errlen, "not a kdc.v1.Worklist (%zu bytes)", len);
		return NULL;
	}
	if (!wl->ward || strcmp(wl->ward, ward) != 0 || !wl->team || strcmp(wl->team, team) != 0) {
		snprintf(err, errlen, "the worklist is for ward '%.32s' team '%.32s', not ward %s "
		         "team %s", wl->ward ? wl->ward : "", wl->team ? wl->team : "", ward, team);
		goto fail;
	}
	for (size_t i = 0; i < wl->n_households; i++) {
		const Kdc__V1__WorklistEntry *e = wl->households[i];
		if (!e || !e->khom || !kdc_code_valid(e->khom) || !e->household ||
		    !kdc_code_valid(e->household)) {
			snprintf(err, errlen, "household %zu of the worklist has an invalid code", i + 1);
			goto fail;
		}
		if (!kdc_status_name(e->status) || !kdc_next_step_name(e->next)) {
			snprintf(err, errlen, "household %s of khom %s has a status or next step this "
			         "device does not know", e->household, e->khom);
			goto fail;
		}
	}
	return wl;
fail:
	kdc__v1__worklist__free_unpacked(wl, NULL);
	return NULL;
}

/* ---- store ----------------------------------------------------------------------- */

/* Prepares sql on the outbox's connection. */
static int wl__prepare(kdc_outbox *ob, const char *sql, sqlite3_stmt **st)
{
	int src = sqlite3_prepare_v2(kdc_outbox_sqlite(ob), sql, -1, st, NULL);

	return src == SQLITE_OK ? KDC_OK : kdc_outbox_fail(ob, src, sql);
}

/* Steps a statement that returns no row, then resets it. */
static int wl__step(kdc_outbox *ob, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return src == SQLITE_DONE || src == SQLITE_ROW ? KDC_OK : kdc_outbox_fail(ob, src, what);
}

static int wl__bound(kdc_outbox *ob, int src)
{
	return src == SQLITE_OK ? KDC_OK : kdc_outbox_fail(ob, src, "bind");
}

int kdc_worklist_info(kdc_outbox *ob, struct kdc_wl_info *info)
{
	sqlite3_stmt *st = NULL;
	int rc, src;

	memset(info, 0, sizeof *info);
	if ((rc = wl__prepare(ob, "SELECT ward, team, as_of_ms, seq, received_ms, from_register FROM "
	                      "worklist_info WHERE id = 1", &st)) != KDC_OK)
		return rc;
	if ((src = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(info->ward, sizeof info->ward, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(info->team, sizeof info->team, "%s", (const char *)sqlite3_column_text(st, 1));
		info->as_of_ms = sqlite3_column_int64(st, 2);
		info->seq = sqlite3_column_int64(st, 3);
		info->received_ms = sqlite3_column_int64(st, 4);
		info->from_register = sqlite3_column_int(st, 5);
		rc = KDC_OK;
	} else {
		rc = src == SQLITE_DONE ? KDC_ERR_NOT_FOUND : kdc_outbox_fail(ob, src, "worklist_info");
	}
	sqlite3_finalize(st);
	return rc;
}

/* Stored info, or an empty one when nothing is stored. */
static int wl__info_or_none(kdc_outbox *ob, struct kdc_wl_info *info, int *have)
{
	int rc = kdc_worklist_info(ob, info);

	*have = rc == KDC_OK;
	return rc == KDC_ERR_NOT_FOUND ? KDC_OK : rc;
}

int kdc_worklist_store(kdc_outbox *ob, const kdc_worklist_pb *wl, int64_t now_ms, int *stored)
{
	static const char ins_sql[] =
		"INSERT INTO worklist(khom, household, status, attempts, last_attempt_ms, next, "
		"people_15plus, field_added, pos, local) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0) "
		"ON CONFLICT(khom, household) DO UPDATE SET status = ?3, attempts = ?4, "
		"last_attempt_ms = ?5, next = ?6, people_15plus = ?7, field_added = ?8, pos = ?9, "
		"local = 0";
	static const char info_sql[] =
		"INSERT OR REPLACE INTO worklist_info(id, ward, team, as_of_ms, seq, received_ms, "
		"from_register) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)";
	sqlite3_stmt *ins = NULL, *del = NULL, *info_st = NULL;
	struct kdc_wl_info old;
	int have, rc, own_tx = 0;

	if (stored)
		*stored = 0;
	if ((rc = kdc_outbox_begin(ob)) == KDC_OK)
		own_tx = 1;
	else if (rc != KDC_ERR_BUSY) /* KDC_ERR_BUSY: joins the caller's batch */
		return rc;
	if ((rc = wl__info_or_none(ob, &old, &have)) != KDC_OK)
		goto cleanup;
	if (have && strcmp(old.ward, wl->ward) == 0 && strcmp(old.team, wl->team) == 0 &&
	    (int64_t)wl->seq <= old.seq && wl->as_of_ms <= old.as_of_ms)
		goto cleanup; /* not newer: keep what we have */
	if ((rc = wl__prepare(ob, "DELETE FROM worklist WHERE local = 0", &del)) != KDC_OK ||
	    (rc = wl__step(ob, del, "worklist delete")) != KDC_OK ||
	    (rc = wl__prepare(ob, ins_sql, &ins)) != KDC_OK)
		goto cleanup;
	for (size_t i = 0; i < wl->n_households; i++) {
		const Kdc__V1__WorklistEntry *e = wl->households[i];
		if ((rc = wl__bound(ob, kdc_db_bind(ins, "ttiiiiiii", e->khom, e->household,
		                                    (int64_t)e->status, (int64_t)e->attempts,
		                                    (int64_t)e->last_attempt_ms, (int64_t)e->next,
		                                    (int64_t)e->people_15plus,
		                                    (int64_t)(e->field_added != 0), (int64_t)i))) != KDC_OK ||
		    (rc = wl__step(ob, ins, "worklist insert")) != KDC_OK)
			goto cleanup;
	}
	if ((rc = wl__prepare(ob, info_sql, &info_st)) != KDC_OK ||
	    (rc = wl__bound(ob, kdc_db_bind(info_st, "ttiiii", wl->ward, wl->team, wl->as_of_ms,
	                                    (int64_t)wl->seq, now_ms,
	                                    (int64_t)(wl->from_register != 0)))) != KDC_OK ||
	    (rc = wl__step(ob, info_st, "worklist_info")) != KDC_OK)
		goto cleanup;
	if (stored)
		*stored = 1;
cleanup:
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	sqlite3_finalize(info_st);
	if (!own_tx)
		return rc;
	if (rc != KDC_OK) {
		kdc_outbox_rollback(ob);
		if (stored)
			*stored = 0;
		return rc;
	}
	return kdc_outbox_commit(ob);
}

/* ---- read ------------------------------------------------------------------------------ */

static void wl__entry(sqlite3_stmt *st, struct kdc_wl_entry *e)
{
	memset(e, 0, sizeof *e);
	snprintf(e->khom, sizeof e->khom, "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(e->household, sizeof e->household, "%s", (const char *)sqlite3_column_text(st, 1));
	e->status = sqlite3_column_int(st, 2);
	e->attempts = sqlite3_column_int64(st, 3);
	e->last_attempt_ms = sqlite3_column_int64(st, 4);
	e->next = sqlite3_column_int(st, 5);
	e->people_15plus = sqlite3_column_int64(st, 6);
	e->field_added = sqlite3_column_int(st, 7);
	e->local = sqlite3_column_int(st, 8);
}

int kdc_worklist_list(kdc_outbox *ob, const char *khom, int status, kdc_wl_cb cb, void *ud)
{
	static const char sql[] = WL_LIST_SQL "WHERE (?1 IS NULL OR khom = ?1) AND "
	                          "(?2 <= 0 OR status = ?2)" WL_ORDER;
	struct kdc_wl_entry e;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if ((rc = wl__prepare(ob, sql, &st)) != KDC_OK)
		return rc;
	if ((rc = wl__bound(ob, kdc_db_bind(st, "ti", khom, (int64_t)status))) != KDC_OK)
		goto cleanup;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		wl__entry(st, &e);
		if ((rc = cb(ud, &e)) != 0)
			goto cleanup;
	}
	if (src != SQLITE_DONE)
		rc = kdc_outbox_fail(ob, src, "worklist list");
cleanup:
	sqlite3_finalize(st);
	return rc;
}

int kdc_worklist_add_local(kdc_outbox *ob, const char *khom, const char *household,
                           int64_t people_15plus, int *added)
{
	static const char sql[] =
		"INSERT INTO worklist(khom, household, status, attempts, last_attempt_ms, next, "
		"people_15plus, field_added, pos, local) SELECT ?1, ?2, ?3, 0, 0, ?4, ?5, 1, "
		"coalesce(max(pos), -1) + 1, 1 FROM worklist WHERE 1 "
		"ON CONFLICT(khom, household) DO NOTHING";
	sqlite3_stmt *st = NULL;
	int rc;

	*added = 0;
	if ((rc = wl__prepare(ob, sql, &st)) != KDC_OK)
		return rc;
	if ((rc = wl__bound(ob, kdc_db_bind(st, "ttiii", khom, household,
	                                    (int64_t)KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_NOT_VISITED,
	                                    (int64_t)KDC__V1__NEXT_STEP__NEXT_STEP_VISIT,
	                                    people_15plus))) == KDC_OK &&
	    (rc = wl__step(ob, st, "worklist add")) == KDC_OK)
		*added = sqlite3_changes(kdc_outbox_sqlite(ob)) > 0;
	sqlite3_finalize(st);
	return rc;
}

/* ---- check before recording ----------------------------------------------------------- */

struct wl_codes {
	char (*codes)[KDC_CODE_MAX + 1];
	size_t n, cap;
};

static int wl__collect(void *ud, const struct kdc_wl_entry *e)
{
	struct wl_codes *c = ud;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *p = realloc(c->codes, cap * sizeof *c->codes);
		if (!p)
			return KDC_ERR_NOMEM;
		c->codes = p;
		c->cap = cap;
	}
	memcpy(c->codes[c->n++], e->household, sizeof e->household);
	return 0;
}

int kdc_worklist_nearest(kdc_outbox *ob, const char *ward, const char *team, const char *khom,
                         const char *household, int *listed, char near[KDC_CODE_MAX + 1])
{
	struct kdc_wl_info info;
	struct wl_codes c = { NULL, 0, 0 };
	const char **ptrs = NULL;
	int have, rc, i;

	*listed = -1;
	near[0] = '\0';
	if ((rc = wl__info_or_none(ob, &info, &have)) != KDC_OK)
		return rc;
	/* a list of another ward or team (the device moved), or of a ward
	 * without a register (the households seen so far), says nothing here */
	if (!have || !info.from_register || strcmp(info.ward, ward) != 0 ||
	    strcmp(info.team, team) != 0)
		return KDC_OK;
	if ((rc = kdc_worklist_list(ob, khom, 0, wl__collect, &c)) != KDC_OK)
		goto cleanup;
	*listed = 0;
	for (size_t k = 0; k < c.n; k++)
		if (strcmp(c.codes[k], household) == 0) {
			*listed = 1;
			goto cleanup;
		}
	if (c.n > 0) {
		if (!(ptrs = malloc(c.n * sizeof *ptrs))) {
			rc = KDC_ERR_NOMEM;
			goto cleanup;
		}
		for (size_t k = 0; k < c.n; k++)
			ptrs[k] = c.codes[k];
		if ((i = kdc_nearest(household, ptrs, c.n)) >= 0)
			memcpy(near, c.codes[i], KDC_CODE_MAX + 1);
	}
cleanup:
	free(ptrs);
	free(c.codes);
	return rc;
}

int kdc_worklist_check(kdc_outbox *ob, const char *ward, const char *team, const char *khom,
                       const char *household, char *msg, size_t len)
{
	char near[KDC_CODE_MAX + 1];
	int listed, rc = kdc_worklist_nearest(ob, ward, team, khom, household, &listed, near);

	if (rc != KDC_OK) {
		if (rc == KDC_ERR_NOMEM)
			snprintf(msg, len, "out of memory");
		return rc;
	}
	if (listed != 0)
		return KDC_OK; /* on the list, or no register list to check against */
	snprintf(msg, len, "household '%s' is not on team %s's list for khóm %s%s%s%s "
	         "A household that is new: kdc-event household add --khom %s --household %s",
	         household, team, khom, *near ? "; did you mean " : "", near, *near ? "?" : ".",
	         khom, household);
	return KDC_ERR_NOT_FOUND;
}
