/* rollup.c: the roll-up of ward snapshots (the province profile is in
 * province_profile.c).
 *
 * Exactness: every additive field is an integer in the ward snapshot (the
 * aggregator prints them as raw integers) and is summed here in int64. cJSON
 * reads numbers as doubles, which hold every integer up to 2^53 exactly; a
 * larger or fractional value makes the snapshot invalid rather than silently
 * rounded. The province's percentages are recomputed from the summed counts,
 * never averaged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "calendar.h"
#include "kdc_err.h"
#include "kdc_util.h"
#include "jsonout.h"
#include "rollup.h"
#include "snapshot.h"

#define SERIES_DAYS 60
#define MAX_EXACT 9007199254740992.0 /* 2^53 */

/* ---- what is summed ------------------------------------------------------- */

/* The additive fields of a ward snapshot (ward/snapshot.h, docs/province.md):
 * counts of distinct households and people, and counts and amounts of events.
 * A household and its people belong to exactly one ward, and an event to the
 * ward it was sent to, so the province's number is the sum of its wards'. */
#define NFIELDS KDC_SF_COUNT

static const char *const series_kinds[] = { "visit", "account", "payment", "service",
	                                     "business_visit", "einvoice", "business_account" };
#define NKINDS 7
/* every ward publishes the first four; the business kinds came later: a
 * ward not publishing them yet counts 0 (as for the business fields) */
#define NKINDS_ALWAYS 4

/* ---- the roll-up state -------------------------------------------------------- */

enum link_state { LINK_UNKNOWN = -1, LINK_DOWN = 0, LINK_UP = 1 };

struct ward_state {
	/* the last snapshot */
	int has_snap;
	int64_t seq, as_of_ms;
	int64_t v[NFIELDS];
	int has_gained[KDC_IND_COUNT];
	int64_t gained[KDC_IND_COUNT];
	int has_series;
	int64_t series_start;               /* day number */
	int64_t series[NKINDS][SERIES_DAYS];
	int has_latest;
	int64_t latest_ms;
	int64_t window_days;                /* regular_window_days, 0 if absent */
	int64_t devices;
	char snap_name[KDC_PROFILE_NAME_MAX];
	/* the aggregator's status and the bridge */
	char status[16];                    /* "" until one arrives */
	int has_since;
	int64_t since_ms;
	int link;
};

struct kdc_rollup {
	const struct kdc_province *prov;
	struct ward_state *w; /* one per prov->wards[i] */
};

kdc_rollup *kdc_rollup_new(const struct kdc_province *prov)
{
	kdc_rollup *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->prov = prov;
	if (!(r->w = calloc(prov->nwards ? prov->nwards : 1, sizeof *r->w))) {
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < prov->nwards; i++)
		r->w[i].link = LINK_UNKNOWN;
	return r;
}

void kdc_rollup_free(kdc_rollup *r)
{
	if (!r)
		return;
	free(r->w);
	free(r);
}

static struct ward_state *rollup__find(const kdc_rollup *r, const char *ward)
{
	/* a province has about a hundred wards; messages come about once a
	 * second per ward: a linear scan costs nothing worth indexing */
	for (size_t i = 0; i < r->prov->nwards; i++)
		if (strcmp(r->prov->wards[i].code, ward) == 0)
			return &r->w[i];
	return NULL;
}

/* The member at a dotted path, or NULL. */
static const cJSON *json_path(const cJSON *o, const char *path)
{
	char part[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof part)
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, part) : NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

/* A whole number from 0 to 2^53 (exact in a double). */
static int json_count(const cJSON *o, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(o))
		return KDC_ERR_INVAL;
	d = o->valuedouble;
	if (!(d >= 0 && d <= MAX_EXACT) || floor(d) != d)
		return KDC_ERR_INVAL;
	*out = (int64_t)d;
	return KDC_OK;
}

/* A whole number from -2^53 to 2^53. */
static int json_whole(const cJSON *o, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(o))
		return KDC_ERR_INVAL;
	d = o->valuedouble;
	if (!(d >= -MAX_EXACT && d <= MAX_EXACT) || floor(d) != d)
		return KDC_ERR_INVAL;
	*out = (int64_t)d;
	return KDC_OK;
}

static int json_time_ms(const cJSON *o, int64_t *out)
{
	return cJSON_IsString(o) && kdc_time_parse(o->valuestring, out) == KDC_OK ? KDC_OK
	                                                                        : KDC_ERR_INVAL;
}

/* Parses a ward snapshot into ns. Returns KDC_ROLLUP_CHANGED-compatible 0 or
 * KDC_ROLLUP_INVALID with a reason. */
static int rollup__parse_snap(const char *ward, const cJSON *root, struct ward_state *ns,
                              char *err, size_t errlen)
{
	const cJSON *o, *t;
	int64_t ms;

	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "not a JSON object");
		return KDC_ROLLUP_INVALID;
	}
	o = cJSON_GetObjectItemCaseSensitive(root, "schema");
	if (!cJSON_IsString(o) || strcmp(o->valuestring, KDC_STATS_SCHEMA) != 0) {
		snprintf(err, errlen, "schema is not " KDC_STATS_SCHEMA);
		return KDC_ROLLUP_INVALID;
	}
	o = cJSON_GetObjectItemCaseSensitive(root, "scope");
	if (o && (!cJSON_IsString(o) || strcmp(o->valuestring, "ward") != 0)) {
		snprintf(err, errlen, "scope is not \"ward\"");
		return KDC_ROLLUP_INVALID;
	}
	o = cJSON_GetObjectItemCaseSensitive(root, "ward");
	if (cJSON_IsString(o) && strcmp(o->valuestring, ward) != 0) {
		snprintf(err, errlen, "snapshot of ward %.40s on the topic of ward %s", o->valuestring,
		         ward);
		return KDC_ROLLUP_INVALID;
	}
	if (json_count(cJSON_GetObjectItemCaseSensitive(root, "seq"), &ns->seq) != KDC_OK ||
	    json_count(cJSON_GetObjectItemCaseSensitive(root, "as_of_ms"), &ns->as_of_ms) != KDC_OK) {
		snprintf(err, errlen, "seq or as_of_ms missing or not a whole number");
		return KDC_ROLLUP_INVALID;
	}
	for (size_t i = 0; i < NFIELDS; i++) {
		const cJSON *f = json_path(root, kdc_snap_fields[i]);
		/* a ward not updated yet lacks the fields added later (events.voided
		 * came with the register, the rest after KDC_SF_ADDED): 0 */
		if (!f && (i >= KDC_SF_ADDED || i == KDC_SF_VOIDED)) {
			ns->v[i] = 0;
			continue;
		}
		if (json_count(f, &ns->v[i]) != KDC_OK) {
			snprintf(err, errlen, "%s missing or not a whole number from 0 to 2^53",
			         kdc_snap_fields[i]);
			return KDC_ROLLUP_INVALID;
		}
	}
	/* the 30-day gain of each target, for the province's pace */
	t = cJSON_GetObjectItemCaseSensitive(root, "targets");
	if (!cJSON_IsArray(t))
		t = NULL;
	cJSON_ArrayForEach(o, t) {
		const cJSON *ind = cJSON_GetObjectItemCaseSensitive(o, "indicator");
		int k = cJSON_IsString(ind) ? kdc_indicator_parse(ind->valuestring) : -1;
		/* a gain is negative when counts shrank (events deleted on request) */
		if (k >= 0 && json_whole(cJSON_GetObjectItemCaseSensitive(o, "gained_30d"),
		                         &ns->gained[k]) == KDC_OK)
			ns->has_gained[k] = 1;
	}
	/* the daily series, summed by date */
	t = cJSON_GetObjectItemCaseSensitive(root, "series");
	o = json_path(t, "start");
	ns->has_series = 0;
	if (cJSON_IsString(o) && strlen(o->valuestring) == 10 &&
	    kdc_time_parse(o->valuestring, &ms) == KDC_OK) {
		int64_t days;
		ns->series_start = kdc_local_day(ms, 0);
		ns->has_series = json_count(json_path(t, "days"), &days) == KDC_OK && days == SERIES_DAYS;
		for (int k = 0; k < NKINDS && ns->has_series; k++) {
			const cJSON *arr = cJSON_GetObjectItemCaseSensitive(t, series_kinds[k]);
			if (!arr && k >= NKINDS_ALWAYS) {
				memset(ns->series[k], 0, sizeof ns->series[k]);
				continue;
			}
			if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != SERIES_DAYS) {
				ns->has_series = 0;
				break;
			}
			for (int d = 0; d < SERIES_DAYS; d++)
				if (json_count(cJSON_GetArrayItem(arr, d), &ns->series[k][d]) != KDC_OK) {
					ns->has_series = 0;
					break;
				}
		}
	}
	ns->has_latest = json_time_ms(cJSON_GetObjectItemCaseSensitive(root, "latest_event"),
	                              &ns->latest_ms) == KDC_OK;
	if (json_count(cJSON_GetObjectItemCaseSensitive(root, "regular_window_days"),
	               &ns->window_days) != KDC_OK)
		ns->window_days = 0;
	t = cJSON_GetObjectItemCaseSensitive(root, "devices");
	ns->devices = cJSON_IsArray(t) ? cJSON_GetArraySize(t) : 0;
	o = cJSON_GetObjectItemCaseSensitive(root, "ward_name");
	if (cJSON_IsString(o))
		snprintf(ns->snap_name, sizeof ns->snap_name, "%s", o->valuestring);
	ns->has_snap = 1;
	return KDC_ROLLUP_CHANGED;
}

int kdc_rollup_ward_stats(kdc_rollup *r, const char *ward, const char *json, size_t len,
                          char *err, size_t errlen)
{
	struct ward_state *w = rollup__find(r, ward), *ns = NULL;
	cJSON *root = NULL;
	int rc;

	if (!w)
		return KDC_ROLLUP_UNLISTED;
	if (len == 0) {
		/* an emptied retained topic: the ward withdrew its numbers */
		if (!w->has_snap)
			return KDC_ROLLUP_SAME;
		w->has_snap = 0;
		return KDC_ROLLUP_CHANGED;
	}
	if (!(ns = calloc(1, sizeof *ns))) {
		snprintf(err, errlen, "out of memory");
		return KDC_ROLLUP_INVALID;
	}
	if (!(root = cJSON_ParseWithLength(json, len))) {
		snprintf(err, errlen, "not JSON");
		rc = KDC_ROLLUP_INVALID;
		goto cleanup;
	}
	if ((rc = rollup__parse_snap(ward, root, ns, err, errlen)) != KDC_ROLLUP_CHANGED)
		goto cleanup;
	if (w->has_snap && ns->seq == w->seq && ns->as_of_ms == w->as_of_ms) {
		rc = KDC_ROLLUP_SAME;
		goto cleanup;
	}
	/* seq goes up by one per publish and survives restarts and rebuilds; a
	 * lower seq with a later as_of means the ward's database was recreated */
	if (w->has_snap && ns->seq <= w->seq && ns->as_of_ms <= w->as_of_ms) {
		rc = KDC_ROLLUP_OLDER;
		goto cleanup;
	}
	/* keep the status, which comes from another topic */
	memcpy(ns->status, w->status, sizeof ns->status);
	ns->has_since = w->has_since;
	ns->since_ms = w->since_ms;
	ns->link = w->link;
	*w = *ns;
	rc = KDC_ROLLUP_CHANGED;
cleanup:
	cJSON_Delete(root);
	free(ns);
	return rc;
}

int kdc_rollup_ward_status(kdc_rollup *r, const char *ward, const char *json, size_t len,
                           char *err, size_t errlen)
{
	struct ward_state *w = rollup__find(r, ward);
	const cJSON *st, *since;
	cJSON *root;
	char status[sizeof w->status];
	int64_t since_ms = 0;
	int has_since, rc;

	if (!w)
		return KDC_ROLLUP_UNLISTED;
	if (len == 0) {
		if (!w->status[0])
			return KDC_ROLLUP_SAME;
		w->status[0] = '\0';
		w->has_since = 0;
		return KDC_ROLLUP_CHANGED;
	}
	if (!(root = cJSON_ParseWithLength(json, len))) {
		snprintf(err, errlen, "status is not JSON");
		return KDC_ROLLUP_INVALID;
	}
	st = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(st) || (strcmp(st->valuestring, "online") != 0 &&
	                            strcmp(st->valuestring, "offline") != 0 &&
	                            strcmp(st->valuestring, "degraded") != 0)) {
		snprintf(err, errlen, "status is not online, offline or degraded");
		rc = KDC_ROLLUP_INVALID;
		goto cleanup;
	}
	snprintf(status, sizeof status, "%s", st->valuestring);
	since = cJSON_GetObjectItemCaseSensitive(root, "since");
	has_since = json_time_ms(since, &since_ms) == KDC_OK;
	if (strcmp(status, w->status) == 0 && has_since == w->has_since &&
	    (!has_since || since_ms == w->since_ms)) {
		rc = KDC_ROLLUP_SAME;
		goto cleanup;
	}
	memcpy(w->status, status, sizeof status);
	w->has_since = has_since;
	w->since_ms = since_ms;
	rc = KDC_ROLLUP_CHANGED;
cleanup:
	cJSON_Delete(root);
	return rc;
}

int kdc_rollup_ward_link(kdc_rollup *r, const char *ward, const char *payload, size_t len,
                         char *err, size_t errlen)
{
	struct ward_state *w = rollup__find(r, ward);
	int link;

	if (!w)
		return KDC_ROLLUP_UNLISTED;
	if (len == 0)
		link = LINK_UNKNOWN;
	else if (len == 1 && (payload[0] == '0' || payload[0] == '1'))
		link = payload[0] == '1' ? LINK_UP : LINK_DOWN;
	else {
		snprintf(err, errlen, "bridge state is not 0 or 1");
		return KDC_ROLLUP_INVALID;
	}
	if (link == w->link)
		return KDC_ROLLUP_SAME;
	w->link = link;
	return KDC_ROLLUP_CHANGED;
}

static int ward_online(const struct ward_state *w)
{
	return strcmp(w->status, "online") == 0 && w->link != LINK_DOWN;
}

void kdc_rollup_counts(const kdc_rollup *r, size_t *listed, size_t *reporting, size_t *online)
{
	size_t rep = 0, on = 0;

	for (size_t i = 0; i < r->prov->nwards; i++) {
		rep += r->w[i].has_snap;
		on += ward_online(&r->w[i]);
	}
	if (listed)
		*listed = r->prov->nwards;
	if (reporting)
		*reporting = rep;
	if (online)
		*online = on;
}

/* ---- JSON out ------------------------------------------------------------------ */

/* One target, from the summed counts, with the ward aggregator's formulas
 * (docs/stats.md "Targets and the projected date"). */
static int rollup__target(const kdc_rollup *r, const struct kdc_profile_target *t,
                          const int64_t *sum, int64_t today, cJSON *arr)
{
	const struct kdc_province *p = r->prov;
	int64_t value = sum[kdc_snap_indicators[t->indicator].value];
	int64_t denom = sum[kdc_snap_indicators[t->indicator].denom];
	int64_t gained = 0;
	int has_gained = 0, reporting = 0;
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return KDC_ERR_NOMEM;
	}
	/* the pace is known only when every reporting ward published it */
	has_gained = 1;
	for (size_t i = 0; i < p->nwards; i++) {
		const struct ward_state *w = &r->w[i];
		if (!w->has_snap)
			continue;
		reporting++;
		if (!w->has_gained[t->indicator])
			has_gained = 0;
		else
			gained += w->gained[t->indicator];
	}
	has_gained = has_gained && reporting > 0;
	kdc_json_target(o, t, value, denom, has_gained, gained, today);
	return KDC_OK;
}

/* The daily series of the province: the 60 days ending on the latest day any
 * ward's series ends, each day the sum of the wards' values for that date. */
static int rollup__series(const kdc_rollup *r, cJSON *root)
{
	int64_t end = INT64_MIN, sum[NKINDS][SERIES_DAYS];
	cJSON *o, *arr;

	for (size_t i = 0; i < r->prov->nwards; i++)
		if (r->w[i].has_snap && r->w[i].has_series &&
		    r->w[i].series_start + SERIES_DAYS - 1 > end)
			end = r->w[i].series_start + SERIES_DAYS - 1;
	if (end == INT64_MIN)
		return cJSON_AddNullToObject(root, "series") ? KDC_OK : KDC_ERR_NOMEM;
	memset(sum, 0, sizeof sum);
	for (size_t i = 0; i < r->prov->nwards; i++) {
		const struct ward_state *w = &r->w[i];
		if (!w->has_snap || !w->has_series)
			continue;
		for (int d = 0; d < SERIES_DAYS; d++) {
			int64_t at = w->series_start + d - (end - SERIES_DAYS + 1);
			if (at < 0 || at >= SERIES_DAYS)
				continue;
			for (int k = 0; k < NKINDS; k++)
				sum[k][at] += w->series[k][d];
		}
	}
	if (!(o = cJSON_AddObjectToObject(root, "series")))
		return KDC_ERR_NOMEM;
	kdc_json_day(o, "start", end - SERIES_DAYS + 1);
	kdc_json_int(o, "days", SERIES_DAYS);
	for (int k = 0; k < NKINDS; k++) {
		if (!(arr = cJSON_AddArrayToObject(o, series_kinds[k])))
			return KDC_ERR_NOMEM;
		for (int d = 0; d < SERIES_DAYS; d++) {
			char buf[32];
			cJSON *num;
			snprintf(buf, sizeof buf, "%lld", (long long)sum[k][d]);
			if (!(num = cJSON_CreateRaw(buf)) || !cJSON_AddItemToArray(arr, num)) {
				cJSON_Delete(num);
				return KDC_ERR_NOMEM;
			}
		}
	}
	return KDC_OK;
}

/* The fields of a ward's row in the province table. */
static const int row_fields[] = { KDC_SF_HH_TOTAL, KDC_SF_HH_VISITED, KDC_SF_HH_REACHED, KDC_SF_P_TOTAL,
                                  KDC_SF_P_ACCOUNT, KDC_SF_P_REGULAR, KDC_SF_STORED };

static int rollup__ward_row(const kdc_rollup *r, size_t i, int64_t now_ms, cJSON *arr)
{
	const struct kdc_province_ward *pw = &r->prov->wards[i];
	const struct ward_state *w = &r->w[i];
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return KDC_ERR_NOMEM;
	}
	cJSON_AddStringToObject(o, "ward", pw->code);
	cJSON_AddStringToObject(o, "name", pw->name);
	cJSON_AddBoolToObject(o, "reporting", w->has_snap);
	cJSON_AddStringToObject(o, "status", w->status[0] ? w->status : "unknown");
	kdc_json_time(o, "status_since", w->has_since, w->since_ms);
	if (w->link == LINK_UNKNOWN)
		cJSON_AddNullToObject(o, "link");
	else
		cJSON_AddStringToObject(o, "link", w->link == LINK_UP ? "up" : "down");
	cJSON_AddBoolToObject(o, "online", ward_online(w));
	if (!w->has_snap) {
		static const char *const nulls[] = { "seq", "as_of", "as_of_ms", "age_s",
		                                     "households", "people_15plus", "stored_total",
		                                     "latest_event", "devices" };
		for (size_t k = 0; k < sizeof nulls / sizeof nulls[0]; k++)
			cJSON_AddNullToObject(o, nulls[k]);
		return KDC_OK;
	}
	kdc_json_int(o, "seq", w->seq);
	kdc_json_time(o, "as_of", 1, w->as_of_ms);
	kdc_json_int(o, "as_of_ms", w->as_of_ms);
	/* a snapshot "from the future" (clocks apart) shows age 0 */
	kdc_json_int(o, "age_s", now_ms > w->as_of_ms ? (now_ms - w->as_of_ms) / 1000 : 0);
	for (size_t k = 0; k < sizeof row_fields / sizeof row_fields[0]; k++)
		if (kdc_snap_put(o, row_fields[k], w->v[row_fields[k]]) != KDC_OK)
			return KDC_ERR_NOMEM;
	kdc_json_time(o, "latest_event", w->has_latest, w->latest_ms);
	kdc_json_int(o, "devices", w->devices);
	return KDC_OK;
}

int kdc_rollup_build(const kdc_rollup *r, int64_t now_ms, int64_t seq, char **out)
{
	const struct kdc_province *p = r->prov;
	int64_t sum[NFIELDS], latest = 0, oldest = 0, newest = 0, window = -1, devices = 0;
	size_t reporting = 0, online = 0;
	int has_latest = 0, rc = KDC_ERR_NOMEM;
	cJSON *root = cJSON_CreateObject(), *arr;

	*out = NULL;
	if (!root)
		return KDC_ERR_NOMEM;
	memset(sum, 0, sizeof sum);
	for (size_t i = 0; i < p->nwards; i++) {
		const struct ward_state *w = &r->w[i];
		online += ward_online(w);
		if (!w->has_snap)
			continue;
		for (size_t k = 0; k < NFIELDS; k++)
			sum[k] += w->v[k];
		if (w->has_latest && (!has_latest || w->latest_ms > latest)) {
			latest = w->latest_ms;
			has_latest = 1;
		}
		if (reporting == 0 || w->as_of_ms < oldest)
			oldest = w->as_of_ms;
		if (reporting == 0 || w->as_of_ms > newest)
			newest = w->as_of_ms;
		/* the same window everywhere, or the province's number mixes them */
		if (window == -1)
			window = w->window_days;
		else if (window != w->window_days)
			window = 0;
		devices += w->devices;
		reporting++;
	}
	cJSON_AddStringToObject(root, "schema", KDC_ROLLUP_SCHEMA);
	cJSON_AddStringToObject(root, "province", p->code);
	cJSON_AddStringToObject(root, "province_name", p->name);
	kdc_json_int(root, "seq", seq);
	kdc_json_time(root, "as_of", 1, now_ms);
	kdc_json_int(root, "as_of_ms", now_ms);
	kdc_json_int(root, "wards_listed", (int64_t)p->nwards);
	kdc_json_int(root, "wards_reporting", (int64_t)reporting);
	kdc_json_int(root, "wards_online", (int64_t)online);
	kdc_json_time(root, "oldest_ward_as_of", reporting > 0, oldest);
	kdc_json_time(root, "newest_ward_as_of", reporting > 0, newest);
	for (size_t k = 0; k < NFIELDS; k++)
		if ((rc = kdc_snap_put(root, (int)k, sum[k])) != KDC_OK)
			goto cleanup;
	rc = KDC_ERR_NOMEM;
	kdc_json_int(root, "devices", devices);
	kdc_json_time(root, "latest_event", has_latest, latest);
	if (window > 0)
		kdc_json_int(root, "regular_window_days", window);
	else
		cJSON_AddNullToObject(root, "regular_window_days");
	kdc_json_int(root, "utc_offset_min", p->utc_offset_min);
	if (!(arr = cJSON_AddArrayToObject(root, "targets")))
		goto cleanup;
	for (size_t i = 0; i < p->ntargets; i++)
		if ((rc = rollup__target(r, &p->targets[i], sum,
		                         kdc_local_day(now_ms, p->utc_offset_min),
		                         arr)) != KDC_OK)
			goto cleanup;
	if ((rc = rollup__series(r, root)) != KDC_OK)
		goto cleanup;
	rc = KDC_ERR_NOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "wards")))
		goto cleanup;
	for (size_t i = 0; i < p->nwards; i++)
		if ((rc = rollup__ward_row(r, i, now_ms, arr)) != KDC_OK)
			goto cleanup;
	*out = cJSON_PrintUnformatted(root);
	rc = *out ? KDC_OK : KDC_ERR_NOMEM;
cleanup:
	cJSON_Delete(root);
	return rc;
}
