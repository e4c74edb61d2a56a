/* stats_json.c: a scope's snapshot as kdc.stats.v1 JSON (docs/stats.md). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "profile.h"
#include "stats_int.h"

/* ---- JSON ------------------------------------------------------------------ */

/* One target: the indicator's value now and 30 days ago give the pace; the
 * projection is the first day at which that pace reaches the target. */
static int stats__json_target(kdc_stats *s, struct scope *sc, const struct snapshot *sn,
                              const struct kdc_profile_target *t, cJSON *arr)
{
	const int64_t d0 = sn->today - KDC_PACE_DAYS;
	int64_t value = 0, denom = 0, then = 0, after = 0;
	cJSON *o = cJSON_CreateObject();
	int rc = KDC_OK;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return KDC_ERR_NOMEM;
	}
	switch (t->indicator) {
	case KDC_IND_HOUSEHOLDS_VISITED:
		value = sn->c.hh_visited;
		denom = sn->hh_total;
		rc = stats__hist_from(s, sc->sid, HIST_VISIT, d0 + 1, &after);
		then = value - after;
		break;
	case KDC_IND_HOUSEHOLDS_REACHED:
		value = sn->c.hh_reached;
		denom = sn->hh_total;
		rc = stats__hist_from(s, sc->sid, HIST_REACH, d0 + 1, &after);
		then = value - after;
		break;
	case KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT:
		value = sn->c.acct[ACCT_PAYMENT];
		denom = sn->people_total;
		rc = stats__hist_from(s, sc->sid, HIST_PAYACCT, d0 + 1, &after);
		then = value - after;
		break;
	case KDC_IND_PEOPLE_PAYING_REGULARLY:
		value = sn->regular_now;
		denom = sn->people_total;
		rc = stats__regular_at(s, sc, d0, s->profile->regular_window_days, &then);
		break;
	default:
		return KDC_OK;
	}
	if (rc)
		return rc;
	kdc_json_target(o, t, value, denom, 1, value - then, sn->today);
	return KDC_OK;
}

struct dev_entry {
	char device[KDC_CODE_MAX + 1];
	char team[KDC_CODE_MAX + 1];
	int64_t last_ms, n;
	int seen;
};

static int dev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dev_entry *)a)->device, ((const struct dev_entry *)b)->device);
}

static int dev_push(struct dev_entry **v, size_t *n, size_t *cap, const char *device,
                    const char *team, int64_t last_ms, int64_t count, int seen)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct dev_entry *nv = realloc(*v, ncap * sizeof *nv);
		if (!nv)
			return KDC_ERR_NOMEM;
		*v = nv;
		*cap = ncap;
	}
	memset(&(*v)[*n], 0, sizeof **v);
	COPY_CODE((*v)[*n].device, device);
	COPY_CODE((*v)[*n].team, team);
	(*v)[*n].last_ms = last_ms;
	(*v)[*n].n = count;
	(*v)[*n].seen = seen;
	(*n)++;
	return KDC_OK;
}

/* Devices seen in the scope, plus the profile's devices of the scope's teams
 * that never sent anything (a silent device is news too). */
static int stats__json_devices(kdc_stats *s, const struct scope *sc, cJSON *obj)
{
	const struct kdc_profile *p = s->profile;
	struct dev_entry *v = NULL;
	size_t n = 0, cap = 0, nseen;
	sqlite3_stmt *st = stats__stmt(s, Q_DEVICES);
	cJSON *arr;
	int rc = KDC_OK, step;

	sqlite3_bind_int64(st, 1, sc->sid);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dev = (const char *)sqlite3_column_text(st, 0);
		const char *team = (const char *)sqlite3_column_text(st, 1);
		if ((rc = dev_push(&v, &n, &cap, dev ? dev : "", team ? team : "",
		                   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), 1)))
			break;
	}
	sqlite3_reset(st);
	if (rc)
		goto cleanup;
	if (step != SQLITE_DONE) {
		rc = stats__dberr(s, step, "read st_device");
		goto cleanup;
	}
	nseen = n;
	for (size_t t = 0; t < p->nteams && sc->kind != SCOPE_KHOM; t++) {
		if (sc->kind == SCOPE_TEAM && (long)t != sc->pidx)
			continue;
		for (size_t d = 0; d < p->teams[t].ndevices; d++) {
			int known = 0;
			for (size_t i = 0; i < n && !known; i++)
				known = strcmp(v[i].device, p->teams[t].devices[d]) == 0;
			if (!known && (rc = dev_push(&v, &n, &cap, p->teams[t].devices[d],
			                             p->teams[t].code, 0, 0, 0)))
				goto cleanup;
		}
	}
	if (n > nseen)
		qsort(v, n, sizeof *v, dev_cmp);
	if (!(arr = cJSON_AddArrayToObject(obj, "devices"))) {
		rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = KDC_ERR_NOMEM;
			goto cleanup;
		}
		cJSON_AddStringToObject(o, "device", v[i].device);
		cJSON_AddStringToObject(o, "team", v[i].team);
		kdc_json_time(o, "last_event", v[i].seen, v[i].last_ms);
		kdc_json_int(o, "events", v[i].n);
	}
cleanup:
	free(v);
	return rc;
}

static const char *scope_name(const kdc_stats *s, const struct scope *sc)
{
	const struct kdc_profile *p = s->profile;

	if (sc->kind == SCOPE_WARD)
		return p->ward_name[0] ? p->ward_name : sc->code;
	if (sc->pidx < 0)
		return sc->code;
	return sc->kind == SCOPE_KHOM ? p->khoms[sc->pidx].name : p->teams[sc->pidx].name;
}

/* The count fields of a snapshot (ward/snapshot.h) from what was read. */
static void stats__fields(const kdc_stats *s, const struct snapshot *sn, int64_t *v)
{
	v[KDC_SF_HH_TOTAL] = sn->hh_total;
	v[KDC_SF_HH_VISITED] = sn->c.hh_visited;
	v[KDC_SF_HH_SURVEYED] = sn->c.hh_surveyed;
	v[KDC_SF_HH_REACHED] = sn->c.hh_reached;
	v[KDC_SF_P_TOTAL] = sn->people_total;
	v[KDC_SF_P_ACCOUNT] = sn->c.acct[ACCT_PAYMENT];
	v[KDC_SF_P_REGULAR] = sn->regular_now;
	for (int k = 1; k < NACCT; k++)
		v[KDC_SF_ACCOUNT + k - 1] = sn->c.acct[k];
	v[KDC_SF_STORED] = 0;
	for (int k = 0; k < NKIND; k++) {
		int64_t *e = &v[KDC_SF_EVENTS + k * KDC_SNAP_NWINDOW];
		e[KDC_SNAP_W24H] = sn->ev24[k];
		e[KDC_SNAP_W7D] = sn->ev7[k];
		e[KDC_SNAP_W30D] = sn->ev30[k];
		e[KDC_SNAP_WTOTAL] = sn->c.ev[k];
		v[KDC_SF_STORED] += sn->c.ev[k];
	}
	for (int k = 1; k < NSVC; k++)
		v[KDC_SF_SERVICES + k - 1] = sn->svc30[k];
	v[KDC_SF_PAY_COUNT_30D] = sn->pay30_n;
	v[KDC_SF_PAY_AMOUNT_30D] = sn->pay30_amount;
	v[KDC_SF_PAY_COUNT_TOTAL] = sn->c.ev[KDC_KIND_PAYMENT];
	v[KDC_SF_PAY_AMOUNT_TOTAL] = sn->c.pay_amount;
	v[KDC_SF_REJECTED] = s->rejected_total;
}

/* Builds the snapshot of one scope. with_meta adds seq and as_of (left out
 * when comparing with the previous snapshot). */
int stats__build(kdc_stats *s, struct scope *sc, const struct snapshot *sn,
                        int with_meta, int64_t seq, int64_t now_ms, char **out)
{
	const struct kdc_profile *p = s->profile;
	cJSON *root = cJSON_CreateObject(), *o, *e;
	int rc = KDC_ERR_NOMEM;
	int64_t v[KDC_SF_COUNT];

	*out = NULL;
	if (!root)
		return KDC_ERR_NOMEM;
	cJSON_AddStringToObject(root, "schema", KDC_STATS_SCHEMA);
	if (stats__ward_code(s))
		cJSON_AddStringToObject(root, "ward", stats__ward_code(s));
	else
		cJSON_AddNullToObject(root, "ward");
	cJSON_AddStringToObject(root, "ward_name", p->ward_name[0] ? p->ward_name : "");
	cJSON_AddStringToObject(root, "scope", stats_scope_names[sc->kind]);
	if (sc->kind == SCOPE_WARD)
		cJSON_AddNullToObject(root, "id");
	else
		cJSON_AddStringToObject(root, "id", sc->code);
	cJSON_AddStringToObject(root, "name", scope_name(s, sc));
	cJSON_AddBoolToObject(root, "unassigned", sc->kind != SCOPE_WARD && sc->pidx < 0);
	if (with_meta) {
		kdc_json_int(root, "seq", seq);
		kdc_json_time(root, "as_of", 1, now_ms);
		kdc_json_int(root, "as_of_ms", now_ms);
	}
	stats__fields(s, sn, v);
	for (int f = 0; f < KDC_SF_STORED; f++)
		if (kdc_snap_put(root, f, v[f]) != KDC_OK)
			goto cleanup;
	if (!(o = cJSON_AddArrayToObject(root, "targets")))
		goto cleanup;
	for (size_t i = 0; i < p->ntargets; i++)
		if ((rc = stats__json_target(s, sc, sn, &p->targets[i], o)))
			goto cleanup;
	rc = KDC_ERR_NOMEM;
	if (!(o = cJSON_AddObjectToObject(root, "series")))
		goto cleanup;
	kdc_json_day(o, "start", sn->today - (SERIES_DAYS - 1));
	kdc_json_int(o, "days", SERIES_DAYS);
	for (int k = 0; k < NKIND; k++) {
		if (!(e = cJSON_AddArrayToObject(o, kdc_kind_name(k))))
			goto cleanup;
		for (int d = 0; d < SERIES_DAYS; d++) {
			char buf[32];
			cJSON *num;
			snprintf(buf, sizeof buf, "%lld", (long long)sn->series[k][d]);
			if (!(num = cJSON_CreateRaw(buf)) || !cJSON_AddItemToArray(e, num)) {
				cJSON_Delete(num);
				goto cleanup;
			}
		}
	}
	if ((rc = stats__json_devices(s, sc, root)))
		goto cleanup;
	rc = KDC_ERR_NOMEM;
	for (int f = KDC_SF_STORED; f < KDC_SF_COUNT; f++)
		if (kdc_snap_put(root, f, v[f]) != KDC_OK)
			goto cleanup;
	kdc_json_time(root, "latest_event", sn->c.has_latest, sn->c.latest_ms);
	kdc_json_int(root, "regular_window_days", p->regular_window_days);
	kdc_json_int(root, "utc_offset_min", p->utc_offset_min);
	*out = cJSON_PrintUnformatted(root);
	rc = *out ? KDC_OK : KDC_ERR_NOMEM;
cleanup:
	cJSON_Delete(root);
	return rc;
}
