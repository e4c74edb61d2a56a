/* correct.c: finding events in the outbox and its history for a void or an
 * amendment, and listing the history. See correct.h. A device holds what it
 * has not delivered yet and what was stored in the last history-days
 * (thousands of rows, not millions), so finding by a piece of an id scans. */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "correct.h"
#include "kdc_err.h"
#include "kdc_util.h"

/* The hex digits of s, upper case, without dashes, into hex (33 bytes).
 * Returns their number, or -1 when s holds anything else. */
static int correct__hex(const char *s, char hex[2 * KDC_UUID_LEN + 1])
{
	int n = 0;

	for (; *s; s++) {
		char ch = *s;
		if (ch == '-')
			continue;
		if (ch >= 'a' && ch <= 'f')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F')) || n == 2 * KDC_UUID_LEN)
			return -1;
		hex[n++] = ch;
	}
	hex[n] = '\0';
	return n;
}

int kdc_outbox_find(kdc_outbox *ob, const char *idtext, uint8_t id[KDC_UUID_LEN],
                    kdc_event_pb **ev, int *state, char *err, size_t errlen)
{
	static const char sql[] = "SELECT id, state, payload FROM outbox "
	                          "WHERE substr(hex(id), 1, ?2) = ?1 OR substr(hex(id), 33 - ?2) = ?1 "
	                          "UNION ALL SELECT id, 1, payload FROM history "
	                          "WHERE substr(hex(id), 1, ?2) = ?1 OR substr(hex(id), 33 - ?2) = ?1 "
	                          "LIMIT 2";
	char hex[2 * KDC_UUID_LEN + 1];
	struct kdc_verdict v;
	sqlite3_stmt *st = NULL;
	int n = correct__hex(idtext, hex), rc = KDC_OK, src, found = 0;

	*ev = NULL;
	if (n < KDC_ID_PREFIX_MIN) {
		snprintf(err, errlen, "'%.60s' is not an event id: give the id that 'kdc-event "
		         "history', 'kdc-event pending' or 'kdc-event rejected' shows (at least its "
		         "first or last %d digits)",
		         idtext, KDC_ID_PREFIX_MIN);
		return KDC_ERR_INVAL;
	}
	if ((src = sqlite3_prepare_v2(kdc_outbox_sqlite(ob), sql, -1, &st, NULL)) != SQLITE_OK)
		return kdc_outbox_fail(ob, src, "find event");
	if ((src = sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (src = sqlite3_bind_int(st, 2, n)) != SQLITE_OK) {
		rc = kdc_outbox_fail(ob, src, "bind");
		goto cleanup;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (++found > 1) {
			snprintf(err, errlen, "'%.60s' is the start of more than one event's id: give "
			         "more of it", idtext);
			rc = KDC_ERR_INVAL;
			goto cleanup;
		}
		if (sqlite3_column_bytes(st, 0) != KDC_UUID_LEN) {
			found--;
			continue;
		}
		memcpy(id, sqlite3_column_blob(st, 0), KDC_UUID_LEN);
		*state = sqlite3_column_int(st, 1);
		kdc_event_free(*ev);
		*ev = kdc_event_decode(sqlite3_column_blob(st, 2),
		                       (size_t)sqlite3_column_bytes(st, 2), &v);
		if (!*ev) {
			snprintf(err, errlen, "event %.60s on this device cannot be read: %s", idtext,
			         v.detail);
			rc = KDC_ERR_INVAL;
			goto cleanup;
		}
	}
	if (src != SQLITE_DONE && src != SQLITE_ROW) {
		rc = kdc_outbox_fail(ob, src, "find event");
		goto cleanup;
	}
	if (found == 0) {
		int days = kdc_outbox_history_days(ob);
		if (days > 0)
			snprintf(err, errlen, "no event %.60s on this device: events older than %d "
			         "day%s are not kept here; the ward office can void it: kdc-ward void "
			         "--event ID --reason TEXT", idtext, days, days == 1 ? "" : "s");
		else
			snprintf(err, errlen, "no event %.60s on this device: it keeps no stored "
			         "events (history-days = 0); the ward office can void it: kdc-ward "
			         "void --event ID --reason TEXT", idtext);
		rc = KDC_ERR_NOT_FOUND;
	}
cleanup:
	if (rc != KDC_OK) {
		kdc_event_free(*ev);
		*ev = NULL;
	}
	sqlite3_finalize(st);
	return rc;
}

int kdc_outbox_voided(kdc_outbox *ob, const uint8_t target[KDC_UUID_LEN],
                      uint8_t void_id[KDC_UUID_LEN], int *voided)
{
	sqlite3_stmt *st = NULL;
	int src, rc = KDC_OK;

	*voided = 0;
	if ((src = sqlite3_prepare_v2(kdc_outbox_sqlite(ob),
	                              "SELECT id, payload FROM outbox WHERE kind = ?1 UNION ALL "
	                              "SELECT id, payload FROM history WHERE kind = ?1", -1, &st,
	                              NULL)) != SQLITE_OK)
		return kdc_outbox_fail(ob, src, "find voids");
	if ((src = sqlite3_bind_int(st, 1, KDC_KIND_VOID)) != SQLITE_OK) {
		rc = kdc_outbox_fail(ob, src, "bind");
		goto cleanup;
	}
	while (!*voided && (src = sqlite3_step(st)) == SQLITE_ROW) {
		kdc_event_pb *ev = kdc_event_decode(sqlite3_column_blob(st, 1),
		                                    (size_t)sqlite3_column_bytes(st, 1), NULL);
		if (ev && ev->body_case == KDC__V1__EVENT__BODY_VOID && ev->void_ &&
		    ev->void_->target.len == KDC_UUID_LEN &&
		    memcmp(ev->void_->target.data, target, KDC_UUID_LEN) == 0) {
			*voided = 1;
			if (void_id && sqlite3_column_bytes(st, 0) == KDC_UUID_LEN)
				memcpy(void_id, sqlite3_column_blob(st, 0), KDC_UUID_LEN);
		}
		kdc_event_free(ev);
	}
	if (!*voided && src != SQLITE_DONE)
		rc = kdc_outbox_fail(ob, src, "find voids");
cleanup:
	sqlite3_finalize(st);
	return rc;
}

int kdc_outbox_record_all(kdc_outbox *ob, kdc_event_pb *const *evs, size_t n, int64_t now_ms,
                          uint8_t (*ids)[KDC_UUID_LEN], struct kdc_verdict *v)
{
	int rc;

	if ((rc = kdc_outbox_begin(ob)) != KDC_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = kdc_outbox_record(ob, evs[i], now_ms, ids[i], NULL, v)) != KDC_OK) {
			kdc_outbox_rollback(ob);
			return rc;
		}
	}
	return kdc_outbox_commit(ob);
}

int kdc_history_list(kdc_outbox *ob, const char *khom, const char *household, int64_t limit,
                     kdc_history_cb cb, void *ud)
{
	static const char sql[] = "SELECT id, seq, occurred_ms, kind, khom, household, member, "
	                          "payload, stored_ms FROM history "
	                          "WHERE (?1 IS NULL OR khom = ?1) AND (?2 IS NULL OR household = ?2) "
	                          "ORDER BY occurred_ms DESC, seq DESC LIMIT ?3";
	struct kdc_history_row row;
	sqlite3_stmt *st = NULL;
	int src, rc = KDC_OK;

	if ((src = sqlite3_prepare_v2(kdc_outbox_sqlite(ob), sql, -1, &st, NULL)) != SQLITE_OK)
		return kdc_outbox_fail(ob, src, "list the history");
	if ((src = khom ? sqlite3_bind_text(st, 1, khom, -1, SQLITE_STATIC)
	                : sqlite3_bind_null(st, 1)) != SQLITE_OK ||
	    (src = household ? sqlite3_bind_text(st, 2, household, -1, SQLITE_STATIC)
	                     : sqlite3_bind_null(st, 2)) != SQLITE_OK ||
	    (src = sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1)) != SQLITE_OK) {
		rc = kdc_outbox_fail(ob, src, "bind");
		goto cleanup;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 4), *h = sqlite3_column_text(st, 5);
		memset(&row, 0, sizeof row);
		if (sqlite3_column_bytes(st, 0) == KDC_UUID_LEN)
			memcpy(row.id, sqlite3_column_blob(st, 0), KDC_UUID_LEN);
		row.seq = sqlite3_column_int64(st, 1);
		row.occurred_ms = sqlite3_column_int64(st, 2);
		row.kind = sqlite3_column_int(st, 3);
		row.khom = k ? (const char *)k : "";
		row.household = h ? (const char *)h : "";
		row.member = sqlite3_column_int64(st, 6);
		row.payload = sqlite3_column_blob(st, 7);
		row.payload_len = (size_t)sqlite3_column_bytes(st, 7);
		row.stored_ms = sqlite3_column_int64(st, 8);
		if ((rc = cb(ud, &row)) != 0)
			goto cleanup;
	}
	if (src != SQLITE_DONE)
		rc = kdc_outbox_fail(ob, src, "list the history");
cleanup:
	sqlite3_finalize(st);
	return rc;
}

int kdc_history_count(kdc_outbox *ob, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	int src, rc = KDC_OK;

	if ((src = sqlite3_prepare_v2(kdc_outbox_sqlite(ob), "SELECT count(*) FROM history", -1,
	                              &st, NULL)) != SQLITE_OK)
		return kdc_outbox_fail(ob, src, "count the history");
	if ((src = sqlite3_step(st)) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = kdc_outbox_fail(ob, src, "count the history");
	sqlite3_finalize(st);
	return rc;
}
