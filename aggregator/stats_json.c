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
static int stats__json_target(const struct snapshot *sn, const struct kdc_profile_target *t,
                              cJSON *arr)
{
	cJSON *o;

	if (t->indicator < 0 || t->indicator >= KDC_IND_COUNT)
		return KDC_OK;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return KDC_ERR_NOMEM;
	}
	kdc_json_target(o, t, sn->ind[t->indicator].value, sn->ind[t->indicator].denom, 1,
	                sn->ind[t->indicator].value - sn->ind[t->indicator].then, sn->today);
	return KDC_OK;
}

static int stats__json_devices(const struct snapshot *sn, cJSON *obj)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, "devices");

	if (!arr)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < sn->ndevs; i++) {
		const struct stats_device *d = &sn->devs[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return KDC_ERR_NOMEM;
		}
		cJSON_AddStringToObject(o, "device", d->device);
		cJSON_AddStringToObject(o, "team", d->team);
		kdc_json_time(o, "last_event", d->seen, d->last_ms);
		kdc_json_int(o, "events", d->n);
	}
	return KDC_OK;
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
	for (int i = 0; i < NACT; i++) {
		int k = stats_kinds[i];
		int64_t *e = &v[k < KDC_KIND_COUNT ? KDC_SF_EVENTS + k * KDC_SNAP_NWINDOW :
		                KDC_SF_BIZ_EVENTS + (k - KDC_KIND_BUSINESS_VISIT) * KDC_SNAP_NWINDOW];
		e[KDC_SNAP_W24H] = sn->ev24[k];
		e[KDC_SNAP_W7D] = sn->ev7[k];
		e[KDC_SNAP_W30D] = sn->ev30[k];
		e[KDC_SNAP_WTOTAL] = sn->c.ev[k];
		v[KDC_SF_STORED] += sn->c.ev[k];
	}
	v[KDC_SF_BIZ_TOTAL] = sn->biz_total;
	v[KDC_SF_BIZ_EINVOICE] = sn->c.biz_einvoice;
	v[KDC_SF_SU_TOTAL] = sn->c.su_total;
	v[KDC_SF_SU_EID] = sn->c.su_eid;
	for (int k = 1; k < NSVC; k++)
		v[KDC_SF_SERVICES + k - 1] = sn->svc30[k];
	v[KDC_SF_PAY_COUNT_30D] = sn->pay30_n;
	v[KDC_SF_PAY_AMOUNT_30D] = sn->pay30_amount;
	v[KDC_SF_PAY_COUNT_TOTAL] = sn->c.ev[KDC_KIND_PAYMENT];
	v[KDC_SF_PAY_AMOUNT_TOTAL] = sn->c.pay_amount;
	v[KDC_SF_REJECTED] = s->rejected_total;
	v[KDC_SF_VOIDED] = sn->voided;
}

/* The snapshot of one scope as a JSON tree, without seq and as_of (so that
 * it compares with the previous one); NULL when out of memory. */
cJSON *stats__render(const kdc_stats *s, const struct scope *sc, const struct snapshot *sn)
{
	const struct kdc_profile *p = s->profile;
	cJSON *root = cJSON_CreateObject(), *o, *e;
	int64_t v[KDC_SF_COUNT];

	if (!root)
		return NULL;
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
	stats__fields(s, sn, v);
	for (int f = 0; f < KDC_SF_STORED; f++)
		if (kdc_snap_put(root, f, v[f]) != KDC_OK)
			goto cleanup;
	if (!(o = cJSON_AddArrayToObject(root, "targets")))
		goto cleanup;
	for (size_t i = 0; i < p->ntargets; i++)
		if (stats__json_target(sn, &p->targets[i], o) != KDC_OK)
			goto cleanup;
	if (!(o = cJSON_AddObjectToObject(root, "series")))
		goto cleanup;
	kdc_json_day(o, "start", sn->today - (SERIES_DAYS - 1));
	kdc_json_int(o, "days", SERIES_DAYS);
	for (int i = 0; i < NACT; i++) {
		int k = stats_kinds[i];
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
	if (stats__json_devices(sn, root) != KDC_OK)
		goto cleanup;
	for (int f = KDC_SF_STORED; f < KDC_SF_COUNT; f++)
		if (kdc_snap_put(root, f, v[f]) != KDC_OK)
			goto cleanup;
	kdc_json_time(root, "latest_event", sn->c.has_latest, sn->c.latest_ms);
	kdc_json_int(root, "regular_window_days", p->regular_window_days);
	if (!kdc_json_int(root, "utc_offset_min", p->utc_offset_min))
		goto cleanup;
	return root;
cleanup:
	cJSON_Delete(root);
	return NULL;
}

/* Adds seq, as_of and as_of_ms to a rendered snapshot, after "unassigned"
 * where readers find them. KDC_OK or KDC_ERR_NOMEM. */
int stats__render_meta(cJSON *root, int64_t seq, int64_t now_ms)
{
	cJSON *meta = cJSON_CreateObject(), *after = root->child, *item;

	if (!meta || !kdc_json_int(meta, "seq", seq) || !kdc_json_time(meta, "as_of", 1, now_ms) ||
	    !kdc_json_int(meta, "as_of_ms", now_ms)) {
		cJSON_Delete(meta);
		return KDC_ERR_NOMEM;
	}
	while (after && !(after->string && strcmp(after->string, "unassigned") == 0))
		after = after->next;
	/* spliced by hand: cJSON_InsertItemInArray of libcjson 1.7.15 as Debian
	 * 12 ships it returns false here. A child list is linked both ways, and
	 * the first child's prev is the last one. */
	while ((item = cJSON_DetachItemViaPointer(meta, meta->child))) {
		if (!after || !root->child) {
			cJSON_AddItemToArray(root, item);
			continue;
		}
		item->prev = after;
		item->next = after->next;
		if (after->next)
			after->next->prev = item;
		else
			root->child->prev = item;
		after->next = item;
		after = item;
	}
	cJSON_Delete(meta);
	return KDC_OK;
}
