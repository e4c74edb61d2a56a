/* test_rollup.c: the province roll-up without a broker. The province profile
 * (accepted and refused files, with file:line), sums of every additive field
 * (large VND amounts included), which snapshot wins (newer, repeated, older,
 * a recreated ward database), refused input, unlisted wards, targets
 * recomputed from sums, the daily series summed by date, status and bridge
 * state. Ward snapshots are built here with cJSON from the field list of
 * docs/stats.md, not with the code under test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cJSON.h>

#include "kdc_err.h"
#include "kdc_util.h"
#include "rollup.h"
#include "snapshot.h"


/* The additive fields of a ward snapshot: the one table (ward/snapshot.h). */
#define fields kdc_snap_fields
#define NF ((size_t)KDC_SF_COUNT)

/* ---- helpers ------------------------------------------------------------------ */

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct kdc_province *load(const char *text)
{
	struct kdc_province *p = NULL;
	char err[256];

	assert_int_equal(kdc_province_load(write_file("p.ini", text), &p, err, sizeof err), KDC_OK);
	return p;
}

static void load_fails(const char *text, const char *needle)
{
	struct kdc_province *p = NULL;
	char err[256] = "";

	assert_int_not_equal(kdc_province_load(write_file("bad.ini", text), &p, err, sizeof err),
	                     KDC_OK);
	assert_null(p);
	if (!strstr(err, needle))
		fail_msg("expected an error containing '%s', got '%s'", needle, err);
}

static void set_path(cJSON *root, const char *path, double v)
{
	char buf[128], *save = NULL, *part, *next;
	cJSON *o = root;

	snprintf(buf, sizeof buf, "%s", path);
	part = strtok_r(buf, ".", &save);
	while ((next = strtok_r(NULL, ".", &save))) {
		cJSON *c = cJSON_GetObjectItemCaseSensitive(o, part);
		if (!c)
			c = cJSON_AddObjectToObject(o, part);
		o = c;
		part = next;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, part);
	cJSON_AddNumberToObject(o, part, v);
}

/* A ward snapshot whose field i is vals[i]; targets give gained_30d for
 * households_reached (and people_paying_regularly when gained_ppr >= 0). */
static cJSON *snapshot(const char *ward, long long seq, long long as_of_ms, const double *vals,
                       double gained_hr, double gained_ppr)
{
	cJSON *root = cJSON_CreateObject(), *targets, *t;

	cJSON_AddStringToObject(root, "schema", "kdc.stats.v1");
	cJSON_AddStringToObject(root, "ward", ward);
	cJSON_AddStringToObject(root, "ward_name", "from the snapshot");
	cJSON_AddStringToObject(root, "scope", "ward");
	cJSON_AddNullToObject(root, "id");
	cJSON_AddNumberToObject(root, "seq", (double)seq);
	cJSON_AddNumberToObject(root, "as_of_ms", (double)as_of_ms);
	for (size_t i = 0; i < NF; i++)
		set_path(root, fields[i], vals[i]);
	targets = cJSON_AddArrayToObject(root, "targets");
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "indicator", "households_reached");
	cJSON_AddNumberToObject(t, "gained_30d", gained_hr);
	cJSON_AddItemToArray(targets, t);
	if (gained_ppr >= 0) {
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "indicator", "people_paying_regularly");
		cJSON_AddNumberToObject(t, "gained_30d", gained_ppr);
		cJSON_AddItemToArray(targets, t);
	}
	cJSON_AddItemToObject(root, "devices", cJSON_CreateArray());
	cJSON_AddItemToArray(cJSON_GetObjectItem(root, "devices"), cJSON_CreateObject());
	cJSON_AddStringToObject(root, "latest_event", "2026-11-20T01:02:03.000Z");
	cJSON_AddNumberToObject(root, "regular_window_days", 30);
	return root;
}

static int feed(kdc_rollup *r, const char *ward, cJSON *snap)
{
	char *text = cJSON_PrintUnformatted(snap), err[200] = "";
	int rc = kdc_rollup_ward_stats(r, ward, text, strlen(text), err, sizeof err);

	free(text);
	cJSON_Delete(snap);
	return rc;
}

static int feed_text(kdc_rollup *r, const char *ward, const char *text, char *err, size_t errlen)
{
	return kdc_rollup_ward_stats(r, ward, text, strlen(text), err, errlen);
}

static cJSON *build(kdc_rollup *r, int64_t now_ms, int64_t seq)
{
	char *json = NULL;
	cJSON *out;

	assert_int_equal(kdc_rollup_build(r, now_ms, seq, &json), KDC_OK);
	out = cJSON_Parse(json);
	assert_non_null(out);
	free(json);
	return out;
}

static const cJSON *path(const cJSON *o, const char *p)
{
	char buf[128], *save = NULL, *part;

	snprintf(buf, sizeof buf, "%s", p);
	for (part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, part);
	return o;
}

static double num(const cJSON *o, const char *p)
{
	const cJSON *x = path(o, p);
	if (!cJSON_IsNumber(x))
		fail_msg("%s is not a number", p);
	return x->valuedouble;
}

static const cJSON *target(const cJSON *prov, const char *ind)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItem(prov, "targets"))
		if (strcmp(cJSON_GetObjectItem(t, "indicator")->valuestring, ind) == 0)
			return t;
	fail_msg("no target %s", ind);
	return NULL;
}

static const cJSON *ward_row(const cJSON *prov, const char *ward)
{
	const cJSON *w;

	cJSON_ArrayForEach(w, cJSON_GetObjectItem(prov, "wards"))
		if (strcmp(cJSON_GetObjectItem(w, "ward")->valuestring, ward) == 0)
			return w;
	fail_msg("no row for ward %s", ward);
	return NULL;
}

static const char *three_wards =
	"[province]\ncode = 96\nname = Tỉnh Cà Mau\n"
	"[wards]\n31975 = Phường 1\n31978 = Phường 2\n31981 = Phường 4\n";

/* ---- the profile ------------------------------------------------------------------ */

static void test_profile_accepted(void **state)
{
	struct kdc_province *p = load(
		"# comment\n[province]\ncode = 96\nname = Tỉnh Cà Mau\nutc_offset = +07:00\n"
		"[wards]\n31975 = Phường 1\n31978 = Phường 2\n"
		"[target people_paying_regularly]\npercent = 80\ndeadline = 2025-12-31\n"
		"[target households_visited]\npercent = 92.5\ndeadline = 2024-06-30\n");

	assert_string_equal(p->code, "96");
	assert_string_equal(p->name, "Tỉnh Cà Mau");
	assert_int_equal(p->utc_offset_min, 420);
	assert_int_equal(p->nwards, 2);
	assert_string_equal(p->wards[1].code, "31978");
	assert_string_equal(p->wards[1].name, "Phường 2");
	/* in indicator order, whatever the file's order */
	assert_int_equal(p->ntargets, 2);
	assert_int_equal(p->targets[0].indicator, KDC_IND_HOUSEHOLDS_VISITED);
	assert_int_equal(p->targets[0].percent_x100, 9250);
	assert_string_equal(p->targets[1].deadline, "2025-12-31");
	kdc_province_free(p);

	/* no [target]: the programme's four that kdc measures */
	p = load(three_wards);
	assert_int_equal(p->ntargets, 4);
	assert_int_equal(p->targets[0].indicator, KDC_IND_HOUSEHOLDS_REACHED);
	assert_int_equal(p->targets[0].percent_x100, 8500);
	assert_string_equal(p->targets[0].deadline, "2023-12-31");
	assert_int_equal(p->targets[1].indicator, KDC_IND_PEOPLE_PAYING_REGULARLY);
	assert_int_equal(p->targets[2].indicator, KDC_IND_SERVICE_USERS_E_IDENTIFIED);
	assert_int_equal(p->targets[2].percent_x100, 10000);
	assert_int_equal(p->targets[3].indicator, KDC_IND_BUSINESSES_USING_EINVOICE);
	assert_string_equal(p->targets[3].deadline, "2025-12-31");
	kdc_province_free(p);
}

static void test_profile_refused(void **state)
{
	load_fails("[wards]\n1 = A\n", "missing [province] code");
	load_fails("[province]\ncode = 96\n", "no wards");
	load_fails("[province]\ncode = 96\n[wards]\n1 = A\n1 = B\n", "bad.ini:5: ward 1 is listed twice");
	load_fails("[province]\ncode = 96\n[wards]\nx.y = A\n", "bad.ini:4: ward code 'x.y' is not a code");
	load_fails("[province]\ncode = 96\n[wards]\nprovince = A\n", "cannot be a ward code");
	load_fails("[province]\ncode = 96\n[ward]\n1 = A\n", "bad.ini:4: unknown section [ward]");
	load_fails("[province]\ncode = 96\nzone = 7\n", "bad.ini:3: unknown key 'zone'");
	load_fails("[province]\ncode = 96\nutc_offset = 7\n", "utc_offset must look like");
	load_fails("[province]\ncode = 96\n[wards]\n1 = A\n[target households_reached]\npercent = 85\n",
	           "bad.ini:6: [target households_reached] needs both");
	load_fails("[province]\ncode = 96\n[wards]\n1 = A\n[target households]\npercent = 85\n",
	           "unknown indicator 'households'");
	load_fails("[province]\ncode = 96\n[wards]\n1 = A\n[target households_reached]\npercent = 101\n",
	           "percent must be");
	load_fails("[province]\ncode = 96\n[wards]\n1 = A\n[target households_reached]\n"
	           "deadline = 2023-02-30\n", "deadline must be a date");
}

/* ---- sums ------------------------------------------------------------------------------ */

static void test_every_additive_field_is_summed(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	const char *wards[] = { "31975", "31978", "31981" };
	double vals[3][NF], big = 2251799813685248.0; /* 2^51: three of them still exact */
	cJSON *prov;

	for (int w = 0; w < 3; w++) {
		for (size_t i = 0; i < NF; i++)
			vals[w][i] = (double)((w + 1) * 1000 + (long long)i * 7);
		vals[w][35] = big + w; /* payments.amount_vnd_total */
		assert_int_equal(feed(r, wards[w], snapshot(wards[w], 5, 1000, vals[w], 1, 1)),
		                 KDC_ROLLUP_CHANGED);
	}
	prov = build(r, 2000, 17);
	for (size_t i = 0; i < NF; i++) {
		const cJSON *x = path(prov, fields[i]);
		long long want = 0;
		char text[32];
		for (int w = 0; w < 3; w++)
			want += (long long)vals[w][i];
		/* compare the printed integers: a double would hide rounding */
		assert_non_null(x);
		snprintf(text, sizeof text, "%lld", want);
		{
			char *printed = cJSON_PrintUnformatted(x);
			if (strcmp(printed, text) != 0)
				fail_msg("%s: expected %s, got %s", fields[i], text, printed);
			free(printed);
		}
	}
	assert_string_equal(cJSON_GetObjectItem(prov, "schema")->valuestring, "kdc.province.v1");
	assert_string_equal(cJSON_GetObjectItem(prov, "province")->valuestring, "96");
	assert_int_equal((int)num(prov, "seq"), 17);
	assert_int_equal((int)num(prov, "wards_listed"), 3);
	assert_int_equal((int)num(prov, "wards_reporting"), 3);
	assert_int_equal((int)num(prov, "devices"), 3);
	assert_int_equal((int)num(prov, "regular_window_days"), 30);
	cJSON_Delete(prov);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

static void test_which_snapshot_wins(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	double v1[NF] = { 0 }, v2[NF] = { 0 }, v3[NF] = { 0 };
	cJSON *prov;

	v1[36] = 10; /* stored_total */
	v2[36] = 20;
	v3[36] = 3;
	assert_int_equal(feed(r, "31975", snapshot("31975", 5, 5000, v1, 0, 0)), KDC_ROLLUP_CHANGED);
	/* the retained copy again (reconnect): nothing new */
	assert_int_equal(feed(r, "31975", snapshot("31975", 5, 5000, v1, 0, 0)), KDC_ROLLUP_SAME);
	assert_int_equal(feed(r, "31975", snapshot("31975", 6, 6000, v2, 0, 0)), KDC_ROLLUP_CHANGED);
	/* an older one arriving late (a bridge flushing its queue) */
	assert_int_equal(feed(r, "31975", snapshot("31975", 5, 5000, v1, 0, 0)), KDC_ROLLUP_OLDER);
	prov = build(r, 7000, 1);
	assert_int_equal((int)num(prov, "stored_total"), 20);
	assert_int_equal((int)num(ward_row(prov, "31975"), "seq"), 6);
	assert_int_equal((int)num(ward_row(prov, "31975"), "age_s"), 1);
	cJSON_Delete(prov);
	/* the ward's database was recreated: seq starts again, as_of is later */
	assert_int_equal(feed(r, "31975", snapshot("31975", 1, 8000, v3, 0, 0)), KDC_ROLLUP_CHANGED);
	prov = build(r, 9000, 2);
	assert_int_equal((int)num(prov, "stored_total"), 3);
	cJSON_Delete(prov);
	/* an emptied retained topic withdraws the ward's numbers */
	{
		char err[100];
		assert_int_equal(kdc_rollup_ward_stats(r, "31975", "", 0, err, sizeof err),
		                 KDC_ROLLUP_CHANGED);
	}
	prov = build(r, 9000, 3);
	assert_int_equal((int)num(prov, "stored_total"), 0);
	assert_int_equal((int)num(prov, "wards_reporting"), 0);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ward_row(prov, "31975"), "reporting")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(ward_row(prov, "31975"), "age_s")));
	cJSON_Delete(prov);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

static void test_bad_input_is_refused_and_kept_out(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	double v[NF] = { 0 };
	char err[200];
	cJSON *s, *prov;
	char *text;

	v[36] = 42;
	assert_int_equal(feed(r, "31975", snapshot("31975", 1, 1000, v, 0, 0)), KDC_ROLLUP_CHANGED);
	/* a ward not in the profile */
	assert_int_equal(feed(r, "99999", snapshot("99999", 1, 1000, v, 0, 0)), KDC_ROLLUP_UNLISTED);
	/* payload of one ward on another's topic */
	assert_int_equal(feed(r, "31978", snapshot("31975", 2, 2000, v, 0, 0)), KDC_ROLLUP_INVALID);
	/* not JSON, truncated, wrong schema, a khóm scope */
	assert_int_equal(feed_text(r, "31978", "garbage", err, sizeof err), KDC_ROLLUP_INVALID);
	assert_int_equal(feed_text(r, "31978", "{\"schema\":\"kdc.stats.v1\",\"seq\":", err, sizeof err),
	                 KDC_ROLLUP_INVALID);
	s = snapshot("31978", 1, 1000, v, 0, 0);
	cJSON_ReplaceItemInObject(s, "schema", cJSON_CreateString("kdc.stats.v2"));
	assert_int_equal(feed(r, "31978", s), KDC_ROLLUP_INVALID);
	s = snapshot("31978", 1, 1000, v, 0, 0);
	cJSON_ReplaceItemInObject(s, "scope", cJSON_CreateString("khom"));
	assert_int_equal(feed(r, "31978", s), KDC_ROLLUP_INVALID);
	/* a missing field, a fraction, a negative count, beyond 2^53, a string */
	s = snapshot("31978", 1, 1000, v, 0, 0);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(s, "households"), "reached");
	text = cJSON_PrintUnformatted(s);
	assert_int_equal(feed_text(r, "31978", text, err, sizeof err), KDC_ROLLUP_INVALID);
	assert_non_null(strstr(err, "households.reached"));
	free(text);
	cJSON_Delete(s);
	v[3] = 1.5;
	assert_int_equal(feed(r, "31978", snapshot("31978", 1, 1000, v, 0, 0)), KDC_ROLLUP_INVALID);
	v[3] = -1;
	assert_int_equal(feed(r, "31978", snapshot("31978", 1, 1000, v, 0, 0)), KDC_ROLLUP_INVALID);
	v[3] = 1e17;
	assert_int_equal(feed(r, "31978", snapshot("31978", 1, 1000, v, 0, 0)), KDC_ROLLUP_INVALID);
	v[3] = 0;
	s = snapshot("31978", 1, 1000, v, 0, 0);
	cJSON_ReplaceItemInObject(s, "stored_total", cJSON_CreateString("7"));
	assert_int_equal(feed(r, "31978", s), KDC_ROLLUP_INVALID);
	/* none of it counted; the good snapshot still is */
	prov = build(r, 2000, 1);
	assert_int_equal((int)num(prov, "stored_total"), 42);
	assert_int_equal((int)num(prov, "wards_reporting"), 1);
	cJSON_Delete(prov);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

/* ---- targets ------------------------------------------------------------------------- */

static void test_targets_from_summed_counts(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	double a[NF] = { 0 }, b[NF] = { 0 };
	/* 2026-11-27 12:00 +07:00 */
	const int64_t now = 1795755600000LL;
	const cJSON *t;
	cJSON *prov;

	/* households: 186 + 300 = 486, reached 80 + 101 = 181 -> 37.24% */
	a[0] = 186; a[3] = 80;
	b[0] = 300; b[3] = 101;
	/* people: 520 + 777 = 1297, paying regularly 150 + 250 = 400 */
	a[4] = 520; a[6] = 150;
	b[4] = 777; b[6] = 250;
	assert_int_equal(feed(r, "31975", snapshot("31975", 1, now, a, 30, 10)), KDC_ROLLUP_CHANGED);
	assert_int_equal(feed(r, "31978", snapshot("31978", 1, now, b, 60, -1)), KDC_ROLLUP_CHANGED);
	prov = build(r, now, 1);
	t = target(prov, "households_reached");
	assert_int_equal((int)num(t, "value"), 181);
	assert_int_equal((int)num(t, "denominator"), 486);
	assert_true(fabs(num(t, "current") - 37.24) < 1e-9);
	assert_int_equal((int)num(t, "gained_30d"), 90);
	/* need ceil(0.85 * 486) = 414 (413.1); 233 more at 90 per 30 days:
	 * ceil(233 * 30 / 90) = 78 days after 2026-11-27 */
	assert_string_equal(cJSON_GetObjectItem(t, "projected")->valuestring, "2027-02-13");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "on_track")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "met")));
	/* one ward does not publish a pace for this one: unknown, not guessed */
	t = target(prov, "people_paying_regularly");
	assert_int_equal((int)num(t, "value"), 400);
	assert_int_equal((int)num(t, "denominator"), 1297);
	assert_true(fabs(num(t, "current") - 30.84) < 1e-9);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "gained_30d")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "projected")));
	cJSON_Delete(prov);

	/* met: 414 of 486 */
	b[3] = 334;
	assert_int_equal(feed(r, "31978", snapshot("31978", 2, now, b, 60, 5)), KDC_ROLLUP_CHANGED);
	prov = build(r, now, 2);
	t = target(prov, "households_reached");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "met")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "on_track")));
	assert_string_equal(cJSON_GetObjectItem(t, "projected")->valuestring, "2026-11-27");
	assert_int_equal((int)num(target(prov, "people_paying_regularly"), "gained_30d"), 15);
	cJSON_Delete(prov);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

/* The two targets added later (service users e-identified, businesses on
 * e-invoices) are ratios of the wards' sums too, with the default targets
 * (100% by 2025-12-31); a ward that does not publish their counts yet (an
 * older aggregator) counts 0 in them and is not refused; nor is a ward from
 * before the register, without events.voided. */
static void test_added_targets_are_ratios_of_sums(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	double a[NF] = { 0 }, b[NF] = { 0 }, c[NF] = { 0 };
	const int64_t now = 1795755600000LL;
	const cJSON *t;
	cJSON *prov, *old;
	char *text, err[200] = "";

	a[KDC_SF_SU_TOTAL] = 10; a[KDC_SF_SU_EID] = 7;
	b[KDC_SF_SU_TOTAL] = 30; b[KDC_SF_SU_EID] = 12;
	a[KDC_SF_BIZ_TOTAL] = 20; a[KDC_SF_BIZ_EINVOICE] = 5;
	b[KDC_SF_BIZ_TOTAL] = 3; b[KDC_SF_BIZ_EINVOICE] = 3;
	assert_int_equal(feed(r, "31975", snapshot("31975", 1, now, a, 0, -1)), KDC_ROLLUP_CHANGED);
	assert_int_equal(feed(r, "31978", snapshot("31978", 1, now, b, 0, -1)), KDC_ROLLUP_CHANGED);
	old = snapshot("31981", 1, now, c, 0, -1);
	cJSON_DeleteItemFromObjectCaseSensitive(old, "businesses");
	cJSON_DeleteItemFromObjectCaseSensitive(old, "service_users");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(old, "events"), "einvoice");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItem(old, "events"), "voided");
	assert_null(path(old, "events.voided"));
	text = cJSON_PrintUnformatted(old);
	assert_int_equal(kdc_rollup_ward_stats(r, "31981", text, strlen(text), err, sizeof err),
	                 KDC_ROLLUP_CHANGED);
	free(text);
	cJSON_Delete(old);
	prov = build(r, now, 1);
	assert_int_equal((int)num(prov, "wards_reporting"), 3);
	/* (7 + 12) / (10 + 30) = 47.50%, not the mean of 70% and 40% */
	t = target(prov, "service_users_e_identified");
	assert_non_null(t);
	assert_int_equal((int)num(t, "value"), 19);
	assert_int_equal((int)num(t, "denominator"), 40);
	assert_true(fabs(num(t, "current") - 47.5) < 1e-9);
	assert_string_equal(cJSON_GetObjectItem(t, "deadline")->valuestring, "2025-12-31");
	/* (5 + 3) / (20 + 3) = 34.78% (rounded down), not the mean of 25% and 100% */
	t = target(prov, "businesses_using_einvoice");
	assert_non_null(t);
	assert_int_equal((int)num(t, "value"), 8);
	assert_int_equal((int)num(t, "denominator"), 23);
	assert_true(fabs(num(t, "current") - 34.78) < 1e-9);
	assert_int_equal((int)num(path(prov, "service_users"), "total"), 40);
	assert_int_equal((int)num(path(prov, "businesses"), "using_einvoice"), 8);
	cJSON_Delete(prov);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

/* ---- series, status ------------------------------------------------------------------ */

/* A ward's series of NK kinds (4: a ward from before the business events,
 * 7: with them), kind k's day d = base + k * 100 + d. */
static void add_series(cJSON *s, const char *start, int base, int nk)
{
	cJSON *o = cJSON_AddObjectToObject(s, "series");
	const char *kinds[] = { "visit", "account", "payment", "service",
		                "business_visit", "einvoice", "business_account" };

	cJSON_AddStringToObject(o, "start", start);
	cJSON_AddNumberToObject(o, "days", 60);
	for (int k = 0; k < nk; k++) {
		cJSON *arr = cJSON_AddArrayToObject(o, kinds[k]);
		for (int d = 0; d < 60; d++)
			cJSON_AddItemToArray(arr, cJSON_CreateNumber(base + k * 100 + d));
	}
}

static void test_series_summed_by_date(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	double v[NF] = { 0 };
	cJSON *s, *prov;
	const cJSON *visit;

	/* ward 1 is current; ward 2 went quiet yesterday, so its series starts a
	 * day earlier: its day d is the province's day d - 1 */
	s = snapshot("31975", 1, 1000, v, 0, 0);
	add_series(s, "2026-09-29", 0, 7);
	assert_int_equal(feed(r, "31975", s), KDC_ROLLUP_CHANGED);
	s = snapshot("31978", 1, 1000, v, 0, 0);
	add_series(s, "2026-09-28", 10000, 4);
	assert_int_equal(feed(r, "31978", s), KDC_ROLLUP_CHANGED);
	prov = build(r, 2000, 1);
	assert_string_equal(path(prov, "series.start")->valuestring, "2026-09-29");
	visit = path(prov, "series.visit");
	assert_int_equal(cJSON_GetArraySize(visit), 60);
	assert_int_equal((int)cJSON_GetArrayItem(visit, 0)->valuedouble, 0 + 10001);
	assert_int_equal((int)cJSON_GetArrayItem(visit, 58)->valuedouble, 58 + 10059);
	/* the quiet ward's series does not reach today */
	assert_int_equal((int)cJSON_GetArrayItem(visit, 59)->valuedouble, 59);
	assert_int_equal((int)cJSON_GetArrayItem(path(prov, "series.service"), 1)->valuedouble,
	                 301 + 10302);
	/* the business kinds: ward 2 publishes none of them, so they are ward 1's */
	assert_int_equal(cJSON_GetArraySize(path(prov, "series.business_account")), 60);
	assert_int_equal((int)cJSON_GetArrayItem(path(prov, "series.business_visit"), 0)->valuedouble,
	                 400);
	assert_int_equal((int)cJSON_GetArrayItem(path(prov, "series.einvoice"), 7)->valuedouble, 507);
	assert_int_equal((int)cJSON_GetArrayItem(path(prov, "series.business_account"), 59)->valuedouble,
	                 659);
	cJSON_Delete(prov);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

static void test_status_and_bridge(void **state)
{
	struct kdc_province *p = load(three_wards);
	kdc_rollup *r = kdc_rollup_new(p);
	double v[NF] = { 0 };
	size_t listed, reporting, online;
	char err[100];
	const char *on = "{\"status\":\"online\",\"ward\":\"31975\",\"since\":\"2026-11-27T01:00:00.000Z\"}";
	const char *off = "{\"status\":\"offline\",\"ward\":\"31978\",\"since\":\"2026-11-27T02:00:00.000Z\"}";
	cJSON *prov;
	const cJSON *row;

	v[36] = 5;
	assert_int_equal(feed(r, "31975", snapshot("31975", 1, 1000, v, 0, 0)), KDC_ROLLUP_CHANGED);
	assert_int_equal(feed(r, "31978", snapshot("31978", 1, 1000, v, 0, 0)), KDC_ROLLUP_CHANGED);
	assert_int_equal(kdc_rollup_ward_status(r, "31975", on, strlen(on), err, sizeof err),
	                 KDC_ROLLUP_CHANGED);
	assert_int_equal(kdc_rollup_ward_status(r, "31975", on, strlen(on), err, sizeof err),
	                 KDC_ROLLUP_SAME);
	assert_int_equal(kdc_rollup_ward_status(r, "31978", off, strlen(off), err, sizeof err),
	                 KDC_ROLLUP_CHANGED);
	assert_int_equal(kdc_rollup_ward_status(r, "31978", "{\"status\":1}", 12, err, sizeof err),
	                 KDC_ROLLUP_INVALID);
	kdc_rollup_counts(r, &listed, &reporting, &online);
	assert_int_equal(listed, 3);
	assert_int_equal(reporting, 2);
	assert_int_equal(online, 1);
	/* the bridge of ward 1 goes down: offline whatever its last status said */
	assert_int_equal(kdc_rollup_ward_link(r, "31975", "0", 1, err, sizeof err), KDC_ROLLUP_CHANGED);
	assert_int_equal(kdc_rollup_ward_link(r, "31975", "2", 1, err, sizeof err), KDC_ROLLUP_INVALID);
	prov = build(r, 61000, 1);
	row = ward_row(prov, "31975");
	assert_string_equal(cJSON_GetObjectItem(row, "status")->valuestring, "online");
	assert_string_equal(cJSON_GetObjectItem(row, "link")->valuestring, "down");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(row, "online")));
	assert_int_equal((int)num(row, "age_s"), 60);
	assert_string_equal(cJSON_GetObjectItem(row, "name")->valuestring, "Phường 1");
	/* offline wards still count, with their last snapshot */
	assert_int_equal((int)num(prov, "stored_total"), 10);
	assert_int_equal((int)num(prov, "wards_online"), 0);
	row = ward_row(prov, "31981");
	assert_string_equal(cJSON_GetObjectItem(row, "status")->valuestring, "unknown");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(row, "link")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(row, "reporting")));
	cJSON_Delete(prov);
	assert_int_equal(kdc_rollup_ward_link(r, "31975", "1", 1, err, sizeof err), KDC_ROLLUP_CHANGED);
	kdc_rollup_counts(r, &listed, &reporting, &online);
	assert_int_equal(online, 1);
	kdc_rollup_free(r);
	kdc_province_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_accepted),
		cmocka_unit_test(test_profile_refused),
		cmocka_unit_test(test_every_additive_field_is_summed),
		cmocka_unit_test(test_which_snapshot_wins),
		cmocka_unit_test(test_bad_input_is_refused_and_kept_out),
		cmocka_unit_test(test_targets_from_summed_counts),
		cmocka_unit_test(test_added_targets_are_ratios_of_sums),
		cmocka_unit_test(test_series_summed_by_date),
		cmocka_unit_test(test_status_and_bridge),
	};
	int rc;

	snprintf(dir, sizeof dir, "/tmp/kdc-test-rollup-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(write_file("p.ini", ""));
	unlink(write_file("bad.ini", ""));
	rmdir(dir);
	return rc;
}
