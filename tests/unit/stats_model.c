/* stats_model.c: see stats_model.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kdc_util.h"
#include "stats_model.h"

#define NKIND 7
/* the activities: a household's four, a business's three */
static const int kind_num[NKIND] = { 0, 1, 2, 3, 6, 7, 8 };
static const char *const kind_str[NKIND] = { "visit", "account", "payment", "service",
                                             "business_visit", "einvoice", "business_account" };

/* ---- the straightforward computation ---------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static int64_t day_of(const struct world *w, int64_t ms)
{
	return floor_div(ms + (int64_t)w->offset_min * 60000, DAY);
}

static int64_t hour_of(const struct world *w, int64_t ms)
{
	return floor_div(ms + (int64_t)w->offset_min * 60000, HOUR);
}

static void add_int(cJSON *o, const char *name, long long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", v);
	cJSON_AddRawToObject(o, name, buf);
}

static void add_day(cJSON *o, const char *name, int64_t day)
{
	char buf[40];
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
	cJSON_AddStringToObject(o, name, buf);
}

static void add_time(cJSON *o, const char *name, int has, int64_t ms)
{
	char buf[40];

	if (!has) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	kdc_time_format(ms, buf, sizeof buf);
	cJSON_AddStringToObject(o, name, buf);
}


static int in_scope(const struct kdc_event_row *e, int kind, const char *code)
{
	return kind == SC_WARD || strcmp(kind == SC_KHOM ? e->khom : e->team, code) == 0;
}

static int same_household(const struct kdc_event_row *a, const struct kdc_event_row *b)
{
	return strcmp(a->khom, b->khom) == 0 && strcmp(a->household, b->household) == 0;
}

static int same_person(const struct kdc_event_row *a, const struct kdc_event_row *b)
{
	return same_household(a, b) && a->member == b->member;
}

/* Counts distinct households (person = 0) or people (person = 1) among the
 * events of S that satisfy pred, where a household or person is counted
 * once, at its first such event in the list. */
typedef int (*pred_fn)(const struct world *w, const struct kdc_event_row *ev, size_t n,
                       const struct kdc_event_row *e, int64_t arg);

static long long count_distinct(const struct world *w, const struct kdc_event_row *ev, size_t n,
                                int person, pred_fn pred, int64_t arg)
{
	char *ok = calloc(n ? n : 1, 1);
	long long c = 0;

	assert_non_null(ok);
	for (size_t i = 0; i < n; i++)
		ok[i] = (char)pred(w, ev, n, &ev[i], arg);
	for (size_t i = 0; i < n; i++) {
		int first = ok[i];
		for (size_t j = 0; j < i && first; j++)
			if (ok[j] && (person ? same_person(&ev[i], &ev[j]) : same_household(&ev[i], &ev[j])))
				first = 0;
		c += first;
	}
	free(ok);
	return c;
}

static int p_visit(const struct world *w, const struct kdc_event_row *ev, size_t n,
                   const struct kdc_event_row *e, int64_t max_day)
{
	return e->kind == 0 && day_of(w, e->occurred_ms) <= max_day;
}

static int p_surveyed(const struct world *w, const struct kdc_event_row *ev, size_t n,
                      const struct kdc_event_row *e, int64_t unused)
{
	return e->kind == 0 && e->subkind == 1;
}

static int p_account(const struct world *w, const struct kdc_event_row *ev, size_t n,
                     const struct kdc_event_row *e, int64_t max_day)
{
	return e->kind == 1 && day_of(w, e->occurred_ms) <= max_day;
}

static int p_account_kind(const struct world *w, const struct kdc_event_row *ev, size_t n,
                          const struct kdc_event_row *e, int64_t kind)
{
	return e->kind == 1 && e->subkind == kind;
}

static int p_payacct(const struct world *w, const struct kdc_event_row *ev, size_t n,
                     const struct kdc_event_row *e, int64_t max_day)
{
	return e->kind == 1 && e->subkind == 4 && day_of(w, e->occurred_ms) <= max_day;
}

static int has_payacct(const struct world *w, const struct kdc_event_row *ev, size_t n,
                       const struct kdc_event_row *p, int64_t max_day)
{
	for (size_t j = 0; j < n; j++)
		if (same_person(&ev[j], p) && p_payacct(w, ev, n, &ev[j], max_day))
			return 1;
	return 0;
}

/* a payment on or after `from` by a payment-account holder (any day) */
static int p_regular_now(const struct world *w, const struct kdc_event_row *ev, size_t n,
                         const struct kdc_event_row *e, int64_t from)
{
	return e->kind == 2 && day_of(w, e->occurred_ms) >= from && has_payacct(w, ev, n, e, INT64_MAX);
}

static int64_t g_window; /* for p_regular_then */

/* a payment in [d0 - W + 1, d0] by someone who had a payment account by d0 */
static int p_regular_then(const struct world *w, const struct kdc_event_row *ev, size_t n,
                          const struct kdc_event_row *e, int64_t d0)
{
	int64_t d = day_of(w, e->occurred_ms);

	return e->kind == 2 && d >= d0 - g_window + 1 && d <= d0 && has_payacct(w, ev, n, e, d0);
}

/* docs/stats.md, service_users_e_identified: a use of an online public
 * service is a person's service event or a business's visit that saw it use
 * them; it is e-identified when the service event says VNeID level 2 or the
 * same person (business) has a VNeID level 2 account (a business account)
 * on a day before or on the use's day. */
static int is_use(const struct kdc_event_row *e)
{
	return e->kind == 3 || (e->kind == 6 && (e->flags & 2));
}

static int is_eid(const struct kdc_event_row *e)
{
	return (e->kind == 1 && e->subkind == 2) || e->kind == 8;
}

static int p_use(const struct world *w, const struct kdc_event_row *ev, size_t n,
                 const struct kdc_event_row *e, int64_t unused)
{
	return is_use(e);
}

/* an e-identified use on or before max_day */
static int p_eid_use(const struct world *w, const struct kdc_event_row *ev, size_t n,
                     const struct kdc_event_row *e, int64_t max_day)
{
	int64_t d = day_of(w, e->occurred_ms);

	if (!is_use(e) || d > max_day)
		return 0;
	if (e->kind == 3 && (e->flags & 4))
		return 1;
	for (size_t j = 0; j < n; j++)
		if (same_person(&ev[j], e) && is_eid(&ev[j]) && day_of(w, ev[j].occurred_ms) <= d)
			return 1;
	return 0;
}

/* a business known to issue e-invoices, on or before max_day */
static int p_einvoice(const struct world *w, const struct kdc_event_row *ev, size_t n,
                      const struct kdc_event_row *e, int64_t max_day)
{
	return (e->kind == 7 || (e->kind == 6 && (e->flags & 1))) &&
	       day_of(w, e->occurred_ms) <= max_day;
}

static void model_target(const struct world *w, const struct kdc_profile_target *t, cJSON *arr,
                         long long value, long long then, long long denom, int64_t today)
{
	cJSON *o = cJSON_CreateObject();
	char buf[32];
	long long need = (t->percent_x100 * denom + 9999) / 10000;

	cJSON_AddItemToArray(arr, o);
	cJSON_AddStringToObject(o, "indicator", kdc_indicator_name(t->indicator));
	if (t->percent_x100 % 100)
		snprintf(buf, sizeof buf, "%lld.%02lld", t->percent_x100 / 100, t->percent_x100 % 100);
	else
		snprintf(buf, sizeof buf, "%lld", t->percent_x100 / 100);
	cJSON_AddRawToObject(o, "percent", buf);
	cJSON_AddStringToObject(o, "deadline", t->deadline);
	if (denom > 0) {
		long long c = value * 10000 / denom; /* rounded down */
		snprintf(buf, sizeof buf, "%lld.%02lld", c / 100, c % 100);
		cJSON_AddRawToObject(o, "current", buf);
	} else {
		cJSON_AddNullToObject(o, "current");
	}
	add_int(o, "value", value);
	add_int(o, "denominator", denom);
	add_int(o, "gained_30d", value - then);
	if (denom <= 0) {
		cJSON_AddNullToObject(o, "projected");
		cJSON_AddBoolToObject(o, "on_track", 0);
		cJSON_AddBoolToObject(o, "met", 0);
	} else if (value >= need) {
		add_day(o, "projected", today);
		cJSON_AddBoolToObject(o, "on_track", 1);
		cJSON_AddBoolToObject(o, "met", 1);
	} else {
		long long gained = value - then, days = -1;
		/* the first whole day d with value + gained * d / 30 >= need */
		for (long long d = 1; gained > 0 && d <= 3650; d++)
			if (value * 30 + gained * d >= need * 30) {
				days = d;
				break;
			}
		if (days > 0)
			add_day(o, "projected", today + days);
		else
			cJSON_AddNullToObject(o, "projected");
		cJSON_AddBoolToObject(o, "on_track", days > 0 && today + days <= t->deadline_day);
		cJSON_AddBoolToObject(o, "met", 0);
	}
}

cJSON *model_snapshot(const struct world *w, const struct kdc_event_row *all, size_t nall,
                      int kind, const char *code, long long rejected, const struct model_extra *x)
{
	static const char *const accts[] = { NULL, "public_service_portal", "vneid_level2", "provincial_app", "payment" };
	static const char *const svcs[] = { NULL, "birth_registration", "marital_status", "medical_booking",
	                                    "field_report", "other" };
	const struct kdc_profile *p = w->profile;
	struct kdc_event_row *ev = malloc((nall ? nall : 1) * sizeof *ev);
	const int64_t today = day_of(w, w->now), hour = hour_of(w, w->now), d0 = today - 30;
	long long hh_total = 0, people_total = 0, biz_total = 0, latest = 0;
	long pidx = kind == SC_KHOM ? kdc_profile_khom_find(p, code) :
	            kind == SC_TEAM ? kdc_profile_team_find(p, code) : 0;
	cJSON *root = cJSON_CreateObject(), *o, *e;
	size_t n = 0;

	assert_non_null(ev);
	for (size_t i = 0; i < nall; i++)
		if (in_scope(&all[i], kind, code))
			ev[n++] = all[i];
	g_window = w->window;

	cJSON_AddStringToObject(root, "schema", "kdc.stats.v1");
	cJSON_AddStringToObject(root, "ward", "31975");
	cJSON_AddStringToObject(root, "ward_name", "Phường 1");
	cJSON_AddStringToObject(root, "scope", kind == SC_WARD ? "ward" : kind == SC_KHOM ? "khom" : "team");
	if (kind == SC_WARD)
		cJSON_AddNullToObject(root, "id");
	else
		cJSON_AddStringToObject(root, "id", code);
	cJSON_AddStringToObject(root, "name", kind == SC_WARD ? "Phường 1" : pidx < 0 ? code :
	                        kind == SC_KHOM ? p->khoms[pidx].name : p->teams[pidx].name);
	cJSON_AddBoolToObject(root, "unassigned", pidx < 0);

	for (size_t i = 0; i < p->nkhoms; i++) {
		int counts = kind == SC_WARD || (kind == SC_KHOM && (long)i == pidx);
		for (size_t j = 0; kind == SC_TEAM && pidx >= 0 && j < p->teams[pidx].nkhoms; j++)
			counts |= p->teams[pidx].khoms[j] == i;
		if (counts) {
			hh_total += x && x->den_hh ? x->den_hh[i] : p->khoms[i].households;
			people_total += x && x->den_people ? x->den_people[i] : p->khoms[i].people_15plus;
			biz_total += x && x->den_biz ? x->den_biz[i] : p->khoms[i].businesses;
		}
	}
	o = cJSON_AddObjectToObject(root, "households");
	add_int(o, "total", hh_total);
	add_int(o, "visited", count_distinct(w, ev, n, 0, p_visit, INT64_MAX));
	add_int(o, "surveyed", count_distinct(w, ev, n, 0, p_surveyed, 0));
	add_int(o, "reached", count_distinct(w, ev, n, 0, p_account, INT64_MAX));
	o = cJSON_AddObjectToObject(root, "people_15plus");
	add_int(o, "total", people_total);
	add_int(o, "with_payment_account", count_distinct(w, ev, n, 1, p_account_kind, 4));
	add_int(o, "paying_regularly", count_distinct(w, ev, n, 1, p_regular_now, today - w->window + 1));
	o = cJSON_AddObjectToObject(root, "accounts");
	for (int k = 1; k <= 4; k++)
		add_int(o, accts[k], count_distinct(w, ev, n, 1, p_account_kind, k));

	o = cJSON_AddObjectToObject(root, "events");
	for (int k = 0; k < NKIND; k++) {
		long long h24 = 0, d7 = 0, d30 = 0, tot = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t d = day_of(w, ev[i].occurred_ms), h = hour_of(w, ev[i].occurred_ms);
			if (ev[i].kind != kind_num[k])
				continue;
			tot++;
			h24 += h >= hour - 23 && h <= hour;
			d7 += d >= today - 6 && d <= today;
			d30 += d >= today - 29 && d <= today;
		}
		e = cJSON_AddObjectToObject(o, kind_str[k]);
		add_int(e, "24h", h24);
		add_int(e, "7d", d7);
		add_int(e, "30d", d30);
		add_int(e, "total", tot);
	}
	{
		long long nv = 0;
		for (size_t i = 0; x && i < x->nvoided; i++)
			nv += in_scope(&x->voided[i], kind, code);
		add_int(o, "voided", nv);
	}
	o = cJSON_AddObjectToObject(root, "businesses");
	add_int(o, "total", biz_total);
	add_int(o, "using_einvoice", count_distinct(w, ev, n, 1, p_einvoice, INT64_MAX));
	o = cJSON_AddObjectToObject(root, "service_users");
	add_int(o, "total", count_distinct(w, ev, n, 1, p_use, 0));
	add_int(o, "e_identified", count_distinct(w, ev, n, 1, p_eid_use, INT64_MAX));
	o = cJSON_AddObjectToObject(root, "services");
	for (int s = 1; s <= 5; s++) {
		long long c = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t d = day_of(w, ev[i].occurred_ms);
			c += ev[i].kind == 3 && ev[i].subkind == s && d >= today - 29 && d <= today;
		}
		add_int(o, svcs[s], c);
	}
	{
		long long c30 = 0, a30 = 0, c = 0, a = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t d = day_of(w, ev[i].occurred_ms);
			if (ev[i].kind != 2)
				continue;
			c++;
			a += ev[i].amount_vnd;
			if (d >= today - 29 && d <= today) {
				c30++;
				a30 += ev[i].amount_vnd;
			}
		}
		o = cJSON_AddObjectToObject(root, "payments");
		add_int(o, "count_30d", c30);
		add_int(o, "amount_vnd_30d", a30);
		add_int(o, "count_total", c);
		add_int(o, "amount_vnd_total", a);
	}
	o = cJSON_AddArrayToObject(root, "targets");
	for (size_t i = 0; i < p->ntargets; i++) {
		const struct kdc_profile_target *t = &p->targets[i];
		long long value = 0, then = 0, denom = 0;
		switch (t->indicator) {
		case KDC_IND_HOUSEHOLDS_VISITED:
			value = count_distinct(w, ev, n, 0, p_visit, INT64_MAX);
			then = count_distinct(w, ev, n, 0, p_visit, d0);
			denom = hh_total;
			break;
		case KDC_IND_HOUSEHOLDS_REACHED:
			value = count_distinct(w, ev, n, 0, p_account, INT64_MAX);
			then = count_distinct(w, ev, n, 0, p_account, d0);
			denom = hh_total;
			break;
		case KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT:
			value = count_distinct(w, ev, n, 1, p_payacct, INT64_MAX);
			then = count_distinct(w, ev, n, 1, p_payacct, d0);
			denom = people_total;
			break;
		case KDC_IND_SERVICE_USERS_E_IDENTIFIED:
			value = count_distinct(w, ev, n, 1, p_eid_use, INT64_MAX);
			then = count_distinct(w, ev, n, 1, p_eid_use, d0);
			denom = count_distinct(w, ev, n, 1, p_use, 0);
			break;
		case KDC_IND_BUSINESSES_USING_EINVOICE:
			value = count_distinct(w, ev, n, 1, p_einvoice, INT64_MAX);
			then = count_distinct(w, ev, n, 1, p_einvoice, d0);
			denom = biz_total;
			break;
		default:
			value = count_distinct(w, ev, n, 1, p_regular_now, today - w->window + 1);
			then = count_distinct(w, ev, n, 1, p_regular_then, d0);
			denom = people_total;
			break;
		}
		model_target(w, t, o, value, then, denom, today);
	}
	o = cJSON_AddObjectToObject(root, "series");
	add_day(o, "start", today - 59);
	add_int(o, "days", 60);
	for (int k = 0; k < NKIND; k++) {
		e = cJSON_AddArrayToObject(o, kind_str[k]);
		for (int64_t d = today - 59; d <= today; d++) {
			long long c = 0;
			char buf[32];
			for (size_t i = 0; i < n; i++)
				c += ev[i].kind == kind_num[k] && day_of(w, ev[i].occurred_ms) == d;
			snprintf(buf, sizeof buf, "%lld", c);
			cJSON_AddItemToArray(e, cJSON_CreateRaw(buf));
		}
	}
	/* devices, sorted by code: seen ones, then the profile's silent ones */
	{
		const char *names[32];
		size_t nn = 0;
		for (size_t i = 0; i < n; i++) {
			size_t j;
			for (j = 0; j < nn && strcmp(names[j], ev[i].device) != 0; j++)
				;
			if (j == nn)
				names[nn++] = ev[i].device;
		}
		for (size_t t = 0; kind != SC_KHOM && t < p->nteams; t++) {
			if (kind == SC_TEAM && (long)t != pidx)
				continue;
			for (size_t d = 0; d < p->teams[t].ndevices; d++) {
				size_t j;
				for (j = 0; j < nn && strcmp(names[j], p->teams[t].devices[d]) != 0; j++)
					;
				if (j == nn)
					names[nn++] = p->teams[t].devices[d];
			}
		}
		for (size_t i = 1; i < nn; i++)
			for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
				const char *tmp = names[j];
				names[j] = names[j - 1];
				names[j - 1] = tmp;
			}
		o = cJSON_AddArrayToObject(root, "devices");
		for (size_t j = 0; j < nn; j++) {
			long long cnt = 0, last = 0;
			const char *team = NULL;
			for (size_t i = 0; i < n; i++) {
				if (strcmp(ev[i].device, names[j]) != 0)
					continue;
				if (!cnt || ev[i].occurred_ms > last ||
				    (ev[i].occurred_ms == last && strcmp(ev[i].team, team) > 0)) {
					last = ev[i].occurred_ms;
					team = ev[i].team;
				}
				cnt++;
			}
			if (!team) /* a silent device of the profile */
				for (size_t t = 0; t < p->nteams && !team; t++)
					for (size_t d = 0; d < p->teams[t].ndevices && !team; d++)
						if (strcmp(p->teams[t].devices[d], names[j]) == 0 &&
						    (kind != SC_TEAM || (long)t == pidx))
							team = p->teams[t].code;
			e = cJSON_CreateObject();
			cJSON_AddItemToArray(o, e);
			cJSON_AddStringToObject(e, "device", names[j]);
			cJSON_AddStringToObject(e, "team", team);
			add_time(e, "last_event", cnt > 0, last);
			add_int(e, "events", cnt);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (i == 0 || ev[i].occurred_ms > latest)
			latest = ev[i].occurred_ms;
	add_int(root, "stored_total", (long long)n);
	add_int(root, "rejected_total", rejected);
	add_time(root, "latest_event", n > 0, latest);
	add_int(root, "regular_window_days", w->window);
	add_int(root, "utc_offset_min", w->offset_min);
	free(ev);
	/* round-trip so raw numbers compare as numbers */
	{
		char *txt = cJSON_PrintUnformatted(root);
		cJSON *back = cJSON_Parse(txt);
		cJSON_free(txt);
		cJSON_Delete(root);
		return back;
	}
}

/* First difference between two JSON values, as "path: expected X, got Y". */
int json_diff(const cJSON *want, const cJSON *got, const char *path, char *out, size_t len)
{
	char sub[256];

	if (cJSON_Compare(want, got, 1))
		return 0;
	if (cJSON_IsObject(want) && cJSON_IsObject(got)) {
		const cJSON *c;
		cJSON_ArrayForEach(c, want) {
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, c->string);
			snprintf(sub, sizeof sub, "%s.%s", path, c->string);
			if (!g) {
				snprintf(out, len, "%s: expected it, missing", sub);
				return 1;
			}
			if (json_diff(c, g, sub, out, len))
				return 1;
		}
		cJSON_ArrayForEach(c, got)
			if (!cJSON_GetObjectItemCaseSensitive(want, c->string)) {
				snprintf(out, len, "%s.%s: not expected", path, c->string);
				return 1;
			}
	}
	if (cJSON_IsArray(want) && cJSON_IsArray(got) &&
	    cJSON_GetArraySize(want) == cJSON_GetArraySize(got)) {
		for (int i = 0; i < cJSON_GetArraySize(want); i++) {
			snprintf(sub, sizeof sub, "%s.%d", path, i);
			if (json_diff(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), sub, out, len))
				return 1;
		}
	}
	{
		char *a = cJSON_PrintUnformatted(want), *b = cJSON_PrintUnformatted(got);
		snprintf(out, len, "%s: expected %.300s, got %.300s", path, a, b);
		cJSON_free(a);
		cJSON_free(b);
	}
	return 1;
}

