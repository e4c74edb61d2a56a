/* stats_publish.c: kdc_stats_publish. Each scope's snapshot is compared
 * with the last one emitted and emitted when it changed: the snapshot is
 * read (stats_read.c), rendered once (stats_json.c) and printed without and
 * with its seq and time. */
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "profile.h"
#include "stats_int.h"

/* ---- publish --------------------------------------------------------------- */

struct pending {
	size_t scope;
	char *body, *json;
};

int kdc_stats_publish(kdc_stats *s, int64_t now_ms, int64_t min_interval_ms,
                      kdc_stats_emit_cb emit, void *ud)
{
	struct pending *pend = NULL;
	size_t npend = 0;
	int64_t hour = kdc_local_hour(now_ms, s->profile->utc_offset_min);
	int rc = KDC_OK, in_sp = 0;

	pend = calloc(s->nscopes ? s->nscopes : 1, sizeof *pend);
	if (!pend)
		return KDC_ERR_NOMEM;
	{
		int found;
		if ((rc = stats__meta_get(s, "rejected_total", &s->rejected_total, &found)))
			goto cleanup;
	}
	for (size_t i = 0; i < s->nscopes; i++) {
		struct scope *sc = &s->scopes[i];
		struct snapshot sn;
		cJSON *tree;
		char *body = NULL;
		int due = sc->dirty || !sc->last_body || hour != sc->eval_hour ||
		          now_ms - sc->last_eval_ms >= REEVAL_MS || now_ms < sc->last_eval_ms;

		if (!due)
			continue;
		/* coalesce: at most one snapshot per scope per min_interval_ms (a
		 * clock that went backwards does not hold publishing back) */
		if (sc->last_body && now_ms >= sc->last_emit_ms &&
		    now_ms - sc->last_emit_ms < min_interval_ms)
			continue;
		if ((rc = stats__snapshot(s, sc, now_ms, &sn)))
			goto cleanup;
		tree = stats__render(s, sc, &sn);
		stats__snapshot_free(&sn);
		if (!tree || !(body = cJSON_PrintUnformatted(tree))) {
			cJSON_Delete(tree);
			rc = KDC_ERR_NOMEM;
			goto cleanup;
		}
		sc->dirty = 0;
		sc->last_eval_ms = now_ms;
		sc->eval_hour = hour;
		/* unchanged numbers are still republished once a minute, so that a
		 * viewer can tell a quiet ward from a stopped aggregator by as_of */
		if (sc->last_body && strcmp(body, sc->last_body) == 0 &&
		    now_ms >= sc->last_emit_ms && now_ms - sc->last_emit_ms < REEVAL_MS) {
			cJSON_Delete(tree);
			cJSON_free(body);
			continue;
		}
		/* the same tree, with seq and as_of: rendered once */
		pend[npend].scope = i;
		pend[npend].body = body;
		npend++;
		rc = stats__render_meta(tree, sc->seq + 1, now_ms);
		if (rc == KDC_OK && !(pend[npend - 1].json = cJSON_PrintUnformatted(tree)))
			rc = KDC_ERR_NOMEM;
		cJSON_Delete(tree);
		if (rc)
			goto cleanup;
	}
	if (npend == 0)
		goto cleanup;
	/* seq is made durable before anyone sees it, so that it never repeats */
	if ((rc = stats__exec(s, "SAVEPOINT st_publish")))
		goto cleanup;
	in_sp = 1;
	for (size_t i = 0; i < npend; i++) {
		const struct scope *sc = &s->scopes[pend[i].scope];
		sqlite3_stmt *st = stats__stmt(s, Q_SEQ_SET);

		sqlite3_bind_int64(st, 1, sc->sid);
		sqlite3_bind_int64(st, 2, sc->seq + 1);
		if ((rc = stats__run(s, st, "write st_scope.seq")))
			goto cleanup;
	}
	if ((rc = stats__exec(s, "RELEASE st_publish")))
		goto cleanup;
	in_sp = 0;
	for (size_t i = 0; i < npend; i++) {
		struct scope *sc = &s->scopes[pend[i].scope];

		sc->seq++;
		sc->last_emit_ms = now_ms;
		cJSON_free(sc->last_body);
		sc->last_body = pend[i].body;
		pend[i].body = NULL;
		if (emit)
			emit(ud, stats_scope_names[sc->kind], sc->kind == SCOPE_WARD ? NULL : sc->code,
			     pend[i].json);
	}
cleanup:
	if (in_sp) {
		sqlite3_exec(s->db, "ROLLBACK TO st_publish", NULL, NULL, NULL);
		sqlite3_exec(s->db, "RELEASE st_publish", NULL, NULL, NULL);
	}
	if (rc) {
		/* nothing was emitted: evaluate these scopes again next time */
		for (size_t i = 0; i < npend; i++)
			s->scopes[pend[i].scope].dirty = 1;
	}
	for (size_t i = 0; i < npend; i++) {
		cJSON_free(pend[i].body);
		cJSON_free(pend[i].json);
	}
	free(pend);
	return rc;
}
