/* closed.c: see closed.h. The message:
 *   {"schema":"kdc.closed.v1","ward":"31975","months":[{"month":"2026-11",
 *    "closed_by":"...","closed_at":"2026-12-01T02:03:04.000Z","sha256":"...",
 *    "targets":[{"indicator":"households_visited","value":412,
 *                "denominator":500,"current":82.4}, ...]}, ...]}
 * months oldest first; the targets are the ward's, as frozen. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "closed.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"

enum { Q_MAX_PID, Q_MONTHS, Q_N };

static const char *const closed_sql[Q_N] = {
	[Q_MAX_PID] = "SELECT COALESCE(MAX(pid), 0) FROM period_log",
	[Q_MONTHS] = "SELECT month, closed_by, closed_ms, sha256, figures FROM closed_months"
	             " ORDER BY month",
};

struct kdc_closed {
	sqlite3 *db;
	char ward[64];
	sqlite3_stmt *st[Q_N];
	long long published_pid;    /* -1: nothing published yet */
};

kdc_closed *kdc_closed_new(sqlite3 *db, const char *ward)
{
	kdc_closed *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->db = db;
	snprintf(c->ward, sizeof c->ward, "%s", ward);
	c->published_pid = -1;
	return c;
}

void kdc_closed_free(kdc_closed *c)
{
	if (!c)
		return;
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(c->st[i]);
	free(c);
}

/* Prepared on first use, kept. */
static sqlite3_stmt *closed__stmt(kdc_closed *c, int q)
{
	if (!c->st[q] && sqlite3_prepare_v3(c->db, closed_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
	                                    &c->st[q], NULL) != SQLITE_OK) {
		kdc_warn("closed months: %s", sqlite3_errmsg(c->db));
		return NULL;
	}
	return c->st[q];
}

/* The ward's frozen targets (the first scope of figures) into arr. */
static int closed__targets(cJSON *arr, const char *figures)
{
	cJSON *root = cJSON_Parse(figures), *t;
	const cJSON *ward = cJSON_GetArrayItem(root, 0);
	int rc = KDC_OK;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(ward, "targets")) {
		static const char *const keep[] = { "indicator", "percent", "deadline", "value",
			                            "denominator", "current" };
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = KDC_ERR_NOMEM;
			break;
		}
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, keep[i]);
			cJSON *dup = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
			if (!dup || !cJSON_AddItemToObject(o, keep[i], dup)) {
				cJSON_Delete(dup);
				rc = KDC_ERR_NOMEM;
			}
		}
	}
	cJSON_Delete(root);
	return rc;
}

static int closed__month(cJSON *months, sqlite3_stmt *st)
{
	const char *figures = (const char *)sqlite3_column_text(st, 4);
	cJSON *m = cJSON_CreateObject(), *targets;
	char at[32];

	if (!m || !cJSON_AddItemToArray(months, m)) {
		cJSON_Delete(m);
		return KDC_ERR_NOMEM;
	}
	kdc_time_format(sqlite3_column_int64(st, 2), at, sizeof at);
	if (!cJSON_AddStringToObject(m, "month", (const char *)sqlite3_column_text(st, 0)) ||
	    !cJSON_AddStringToObject(m, "closed_by", (const char *)sqlite3_column_text(st, 1)) ||
	    !cJSON_AddStringToObject(m, "closed_at", at) ||
	    !cJSON_AddStringToObject(m, "sha256", (const char *)sqlite3_column_text(st, 3)) ||
	    !(targets = cJSON_AddArrayToObject(m, "targets")))
		return KDC_ERR_NOMEM;
	return closed__targets(targets, figures ? figures : "[]");
}

static int closed__render(kdc_closed *c, char **json)
{
	sqlite3_stmt *st = closed__stmt(c, Q_MONTHS);
	cJSON *root = cJSON_CreateObject(), *months;
	int src = SQLITE_OK, rc = KDC_OK;

	if (!st) {
		cJSON_Delete(root);
		return KDC_ERR_DB;
	}
	if (!root || !cJSON_AddStringToObject(root, "schema", "kdc.closed.v1") ||
	    !cJSON_AddStringToObject(root, "ward", c->ward) ||
	    !(months = cJSON_AddArrayToObject(root, "months")))
		rc = KDC_ERR_NOMEM;
	while (rc == KDC_OK && (src = sqlite3_step(st)) == SQLITE_ROW)
		rc = closed__month(months, st);
	if (rc == KDC_OK && src != SQLITE_DONE) {
		kdc_warn("closed months: %s", sqlite3_errmsg(c->db));
		rc = KDC_ERR_DB;
	}
	sqlite3_reset(st);
	if (rc == KDC_OK && !(*json = cJSON_PrintUnformatted(root)))
		rc = KDC_ERR_NOMEM;
	cJSON_Delete(root);
	return rc;
}

int kdc_closed_poll(kdc_closed *c, char **json)
{
	sqlite3_stmt *st = closed__stmt(c, Q_MAX_PID);
	long long pid;
	int src, rc;

	*json = NULL;
	if (!st)
		return KDC_ERR_DB;
	src = sqlite3_step(st);
	pid = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	if (src != SQLITE_ROW) {
		kdc_warn("closed months: %s", sqlite3_errmsg(c->db));
		return KDC_ERR_DB;
	}
	if (pid == c->published_pid)
		return KDC_OK;
	/* the months and the pid may see different commits (autocommit reads):
	 * a close between them is published now and once more at the next poll */
	if ((rc = closed__render(c, json)) != KDC_OK)
		return rc;
	c->published_pid = pid;
	return KDC_OK;
}
