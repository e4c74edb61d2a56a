/* test_worklist.c: where a household stands and its next step (the rules of
 * kdc.v1.HouseholdStatus and NextStep), the statistics' household facts the
 * worklists read (declined, "not at home" attempts and the latest one:
 * folded in batches = rebuilt; an older statistics schema is rebuilt at
 * open), and the lists themselves: a team's kdc.v1.Worklist from the
 * register, the khóm's kdc.households.v1 JSON, published again only when
 * they change. Real SQLite files, no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "profile.h"
#include "stats.h"
#include "stats_testlib.h"
#include "worklist.h"

#define DAY 86400000LL
#define HOUR 3600000LL
#define T0 1795000000000LL /* 2026-11-18T11:06:40Z */
#define SURVEYED 1
#define NOT_HOME 2
#define DECLINED 3
#define ACCT_PORTAL 1
#define ACCT_PAYMENT 4

#define ST(x) KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_##x
#define NX(x) KDC__V1__NEXT_STEP__NEXT_STEP_##x

static const char *const test_profile =
	"[ward]\ncode = 31975\nname = Phường 1\n[settings]\nregular_window_days = 30\n"
	"[khom 6]\nhouseholds = 186\npeople_15plus = 520\n"
	"[khom 7]\nname = Khóm Bảy\nhouseholds = 100\npeople_15plus = 300\n"
	"[team T1]\nkhoms = 6\ndevices = D1\n"
	"[team T2]\nkhoms = 7\ndevices = D2\n";

/* The register tables of store schema 3 (the store creates them when the
 * test opens one; IF NOT EXISTS for a bare database). */
static const char *const register_sql =
	"CREATE TABLE IF NOT EXISTS register(khom TEXT NOT NULL, household TEXT NOT NULL, people_15plus INTEGER,"
	" source TEXT NOT NULL, added_by TEXT NOT NULL, added_ms INTEGER NOT NULL,"
	" retired_ms INTEGER, retired_by TEXT, retired_reason TEXT,"
	" business INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(khom, household)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS register_log(lid INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, by TEXT NOT NULL,"
	" action TEXT NOT NULL, khom TEXT, household TEXT, detail TEXT NOT NULL);";

struct fixture {
	char db_path[512], profile_path[512];
	sqlite3 *db;
	struct kdc_profile *profile;
	kdc_stats *stats;
	kdc_worklist *wl;
	/* the last payload per topic, like retained messages */
	struct { char topic[128]; uint8_t *p; size_t len; } got[16];
	size_t ngot, emitted;
};

static void fx_exec(struct fixture *f, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(f->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static struct fixture *fx_open(const char *tag, int with_register)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[512];

	assert_non_null(f);
	tl_tmp_path(f->db_path, sizeof f->db_path, tag);
	tl_tmp_path(f->profile_path, sizeof f->profile_path, "wlprofile");
	tl_write_file(f->profile_path, test_profile);
	if (kdc_profile_load(f->profile_path, &f->profile, err, sizeof err) != 0)
		fail_msg("profile: %s", err);
	f->db = tl_db_open(f->db_path);
	if (with_register)
		fx_exec(f, register_sql);
	if (!(f->stats = kdc_stats_open(f->db, f->profile, err, sizeof err)))
		fail_msg("kdc_stats_open: %s", err);
	if (!(f->wl = kdc_worklist_new(f->db, f->profile, "31975", err, sizeof err)))
		fail_msg("kdc_worklist_new: %s", err);
	return f;
}

static void fx_close(struct fixture *f)
{
	kdc_worklist_free(f->wl);
	kdc_stats_free(f->stats);
	tl_db_close(f->db);
	kdc_profile_free(f->profile);
	for (size_t i = 0; i < f->ngot; i++)
		free(f->got[i].p);
	remove(f->db_path);
	remove(f->profile_path);
	free(f);
}

static void fx_emit(void *ud, const char *topic, const void *payload, size_t len)
{
	struct fixture *f = ud;
	size_t i;

	for (i = 0; i < f->ngot && strcmp(f->got[i].topic, topic) != 0; i++)
		;
	assert_true(i < 16);
	if (i == f->ngot) {
		snprintf(f->got[i].topic, sizeof f->got[i].topic, "%s", topic);
		f->ngot++;
	}
	free(f->got[i].p);
	f->got[i].p = malloc(len + 1);
	assert_non_null(f->got[i].p);
	memcpy(f->got[i].p, payload, len);
	f->got[i].p[len] = 0;
	f->got[i].len = len;
	f->emitted++;
}

static size_t fx_publish(struct fixture *f, int64_t now, int64_t interval)
{
	size_t before = f->emitted;

	assert_int_equal(kdc_worklist_publish(f->wl, now, interval, 0, kdc_stats_rebuilds(f->stats),
	                                      fx_emit, f), 0);
	return f->emitted - before;
}

static const uint8_t *fx_got(struct fixture *f, const char *topic, size_t *len)
{
	for (size_t i = 0; i < f->ngot; i++)
		if (strcmp(f->got[i].topic, topic) == 0) {
			*len = f->got[i].len;
			return f->got[i].p;
		}
	fail_msg("nothing was published on %s", topic);
	return NULL;
}

static void fx_add(struct fixture *f, struct kdc_event_row r)
{
	assert_int_equal(tl_ingest(f->db, f->stats, &r, 1), 1);
	kdc_worklist_touch(f->wl, r.khom);
}

static struct kdc_event_row ev(int64_t t, const char *khom, const char *hh, int member, int kind,
                               int sub)
{
	return tl_row(t, khom, strcmp(khom, "7") == 0 ? "T2" : "T1",
	              strcmp(khom, "7") == 0 ? "D2" : "D1", hh, member, kind, sub,
	              kind == KDC_KIND_PAYMENT ? 50000 : 0);
}

/* ---- status rules ---------------------------------------------------------------- */

static void expect_status(const struct kdc_household_facts *f, int64_t today, int status, int next)
{
	int s = -1, n = -1;

	kdc_worklist_status(f, today, 30, &s, &n);
	if (s != status || n != next)
		fail_msg("expected status %s next %s, got %s next %s", kdc_status_name(status),
		         kdc_next_step_name(next), kdc_status_name(s), kdc_next_step_name(n));
}

static void test_status_and_next_step(void **state)
{
	struct kdc_household_facts f;
	const int64_t today = 20000;

	(void)state;
	memset(&f, 0, sizeof f);
	expect_status(&f, today, ST(NOT_VISITED), NX(VISIT));
	f.not_home = 2;
	expect_status(&f, today, ST(NOT_HOME), NX(REVISIT));
	f.declined = 1; /* a declined visit after not-home ones */
	expect_status(&f, today, ST(DECLINED), NX(NONE));
	f.surveyed = 1; /* surveyed wins over declined */
	expect_status(&f, today, ST(SURVEYED), NX(OPEN_ACCOUNT));
	f.reached = 1;
	expect_status(&f, today, ST(REACHED), NX(PAYMENT_ACCOUNT));
	/* reached without a visit at all */
	memset(&f, 0, sizeof f);
	f.reached = 1;
	expect_status(&f, today, ST(REACHED), NX(PAYMENT_ACCOUNT));
	f.payment_account = 1;
	expect_status(&f, today, ST(REACHED), NX(PAY_CASHLESS));
	/* the window is the 30 days ending today: today-29 is in, today-30 out */
	f.has_pay = 1;
	f.last_pay_day = today - 30;
	expect_status(&f, today, ST(REACHED), NX(PAY_CASHLESS));
	f.last_pay_day = today - 29;
	expect_status(&f, today, ST(REACHED), NX(NONE));
	f.last_pay_day = today;
	expect_status(&f, today, ST(REACHED), NX(NONE));
}

/* ---- the household facts of the statistics -------------------------------------------- */

/* st_household as text, one line per row, in key order. */
static char *dump_households(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap);

	assert_non_null(out);
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT s.kind, s.code, h.khom, h.household, h.visit_day, h.reach_day, h.surveyed,"
		" h.declined, h.not_home, h.last_attempt_ms FROM st_household h"
		" JOIN st_scope s ON s.sid=h.sid ORDER BY s.kind, s.code, h.khom, h.household",
		-1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		len += (size_t)snprintf(out + len, cap - len, "%d %s %s %s %s %s %d %d %lld %s\n",
		                        sqlite3_column_int(st, 0), sqlite3_column_text(st, 1),
		                        sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
		                        sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "-",
		                        sqlite3_column_text(st, 5) ? (const char *)sqlite3_column_text(st, 5) : "-",
		                        sqlite3_column_int(st, 6), sqlite3_column_int(st, 7),
		                        (long long)sqlite3_column_int64(st, 8),
		                        sqlite3_column_text(st, 9) ? (const char *)sqlite3_column_text(st, 9) : "-");
		assert_true(len < cap);
	}
	sqlite3_finalize(st);
	return out;
}

/* One household's facts in the khóm's scope: declined, not_home, last_attempt_ms. */
static void expect_hh(sqlite3 *db, const char *hh, int declined, long long not_home, long long last)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT h.declined, h.not_home, COALESCE(h.last_attempt_ms, 0) FROM st_household h"
		" JOIN st_scope s ON s.sid=h.sid AND s.kind=1 WHERE h.household=?1", -1, &st, NULL),
		SQLITE_OK);
	sqlite3_bind_text(st, 1, hh, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		fail_msg("household %s has no st_household row in its khóm", hh);
	if (sqlite3_column_int(st, 0) != declined || sqlite3_column_int64(st, 1) != not_home ||
	    sqlite3_column_int64(st, 2) != last)
		fail_msg("household %s: expected declined %d, not_home %lld, last %lld; got %d, %lld, %lld",
		         hh, declined, not_home, last, sqlite3_column_int(st, 0),
		         (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
}

static void test_attempts_fold_equals_rebuild(void **state)
{
	struct fixture *f = fx_open("wlfold", 0);
	struct kdc_event_row batch1[] = {
		ev(T0 + 1 * HOUR, "6", "H1", 0, KDC_KIND_VISIT, NOT_HOME),
		ev(T0 + 2 * HOUR, "6", "H2", 0, KDC_KIND_VISIT, DECLINED),
		ev(T0 + 3 * HOUR, "6", "H1", 0, KDC_KIND_VISIT, NOT_HOME),
	};
	struct kdc_event_row batch2[] = {
		/* late: older than the latest attempt already folded */
		ev(T0 + 0 * HOUR, "6", "H1", 0, KDC_KIND_VISIT, NOT_HOME),
		ev(T0 + 5 * HOUR, "6", "H3", 0, KDC_KIND_VISIT, NOT_HOME),
		ev(T0 + 6 * HOUR, "6", "H3", 0, KDC_KIND_VISIT, SURVEYED),
		ev(T0 + 7 * HOUR, "7", "H9", 0, KDC_KIND_VISIT, NOT_HOME),
	};
	char *inc, *reb;

	(void)state;
	assert_int_equal(tl_ingest(f->db, f->stats, batch1, 3), 3);
	expect_hh(f->db, "H1", 0, 2, T0 + 3 * HOUR);
	expect_hh(f->db, "H2", 1, 0, 0);
	assert_int_equal(tl_ingest(f->db, f->stats, batch2, 4), 4);
	expect_hh(f->db, "H1", 0, 3, T0 + 3 * HOUR);
	expect_hh(f->db, "H3", 0, 1, T0 + 5 * HOUR);
	expect_hh(f->db, "H9", 0, 1, T0 + 7 * HOUR);
	inc = dump_households(f->db);
	assert_int_equal(kdc_stats_rebuild(f->stats), 0);
	reb = dump_households(f->db);
	assert_string_equal(inc, reb);
	free(inc);
	free(reb);
	fx_close(f);
}

/* A database whose statistics were written by schema 1 (no attempts) is
 * rebuilt when opened. */
static void test_older_schema_is_rebuilt(void **state)
{
	struct fixture *f = fx_open("wlschema", 0);
	char err[512];

	(void)state;
	fx_add(f, ev(T0, "6", "H1", 0, KDC_KIND_VISIT, NOT_HOME));
	kdc_worklist_free(f->wl);
	kdc_stats_free(f->stats);
	f->wl = NULL;
	/* what schema 1 left behind */
	fx_exec(f, "DROP TABLE st_household;"
	           "CREATE TABLE st_household(sid INTEGER NOT NULL, khom TEXT NOT NULL,"
	           " household TEXT NOT NULL, visit_day INTEGER, reach_day INTEGER, surveyed INTEGER NOT NULL,"
	           " PRIMARY KEY(sid, khom, household)) WITHOUT ROWID;"
	           "UPDATE st_meta SET value=1 WHERE key='schema';");
	if (!(f->stats = kdc_stats_open(f->db, f->profile, err, sizeof err)))
		fail_msg("kdc_stats_open of a schema 1 database: %s", err);
	expect_hh(f->db, "H1", 0, 1, T0);
	if (!(f->wl = kdc_worklist_new(f->db, f->profile, "31975", err, sizeof err)))
		fail_msg("kdc_worklist_new: %s", err);
	fx_close(f);
}

/* ---- the lists --------------------------------------------------------------------- */

static Kdc__V1__Worklist *fx_worklist(struct fixture *f, const char *team)
{
	char topic[128];
	const uint8_t *p;
	size_t len = 0;
	Kdc__V1__Worklist *w;

	snprintf(topic, sizeof topic, "kdc/v1/31975/worklist/%s", team);
	p = fx_got(f, topic, &len);
	w = kdc__v1__worklist__unpack(NULL, len, p);
	if (!w)
		fail_msg("the worklist of %s does not decode as kdc.v1.Worklist", team);
	return w;
}

static const Kdc__V1__WorklistEntry *entry(const Kdc__V1__Worklist *w, const char *hh)
{
	for (size_t i = 0; i < w->n_households; i++)
		if (strcmp(w->households[i]->household, hh) == 0)
			return w->households[i];
	fail_msg("household %s is not on team %s's list", hh, w->team);
	return NULL;
}

static void expect_entry(const Kdc__V1__Worklist *w, const char *hh, int status, int next,
                         unsigned attempts)
{
	const Kdc__V1__WorklistEntry *e = entry(w, hh);

	if ((int)e->status != status || (int)e->next != next || e->attempts != attempts)
		fail_msg("%s: expected %s/%s/%u attempts, got %s/%s/%u", hh, kdc_status_name(status),
		         kdc_next_step_name(next), attempts, kdc_status_name((int)e->status),
		         kdc_next_step_name((int)e->next), (unsigned)e->attempts);
}

static void test_lists_from_the_register(void **state)
{
	struct fixture *f = fx_open("wlreg", 1);
	Kdc__V1__Worklist *w;
	const uint8_t *json;
	cJSON *root, *counts, *list, *h2;
	size_t len = 0;
	int64_t now = T0 + 10 * HOUR;

	(void)state;
	fx_exec(f, "INSERT INTO register VALUES('6','H1',3,'import','u',0,NULL,NULL,NULL,0),"
	           "('6','H2',NULL,'import','u',0,NULL,NULL,NULL,0),"
	           "('6','H3',2,'field','D1',0,NULL,NULL,NULL,0),"
	           "('6','H4',1,'import','u',0,5,'u','moved',0),"
	           "('6','H5',1,'import','u',0,NULL,NULL,NULL,0),"
	           "('7','K1',4,'import','u',0,NULL,NULL,NULL,0);"
	           "INSERT INTO register_log VALUES(1,0,'u','import',NULL,NULL,'6 rows');");
	fx_add(f, ev(T0 + 1 * HOUR, "6", "H1", 0, KDC_KIND_VISIT, NOT_HOME));
	fx_add(f, ev(T0 + 2 * HOUR, "6", "H1", 0, KDC_KIND_VISIT, NOT_HOME));
	fx_add(f, ev(T0 + 3 * HOUR, "6", "H2", 0, KDC_KIND_VISIT, SURVEYED));
	fx_add(f, ev(T0 + 4 * HOUR, "6", "H3", 1, KDC_KIND_ACCOUNT, ACCT_PORTAL));
	fx_add(f, ev(T0 + 5 * HOUR, "6", "H5", 1, KDC_KIND_ACCOUNT, ACCT_PAYMENT));
	fx_add(f, ev(T0 + 6 * HOUR, "6", "H5", 2, KDC_KIND_PAYMENT, 1));

	/* first publish: every team and khóm */
	assert_int_equal(fx_publish(f, now, 5000), 4);
	w = fx_worklist(f, "T1");
	assert_string_equal(w->ward, "31975");
	assert_int_equal(w->seq, 1);
	assert_int_equal(w->n_households, 4); /* H4 is retired */
	assert_string_equal(w->households[0]->household, "H1");
	assert_string_equal(w->households[3]->household, "H5");
	expect_entry(w, "H1", ST(NOT_HOME), NX(REVISIT), 2);
	assert_int_equal(entry(w, "H1")->last_attempt_ms, T0 + 2 * HOUR);
	assert_int_equal(entry(w, "H1")->people_15plus, 3);
	expect_entry(w, "H2", ST(SURVEYED), NX(OPEN_ACCOUNT), 0);
	assert_int_equal(entry(w, "H2")->people_15plus, 0);
	expect_entry(w, "H3", ST(REACHED), NX(PAYMENT_ACCOUNT), 0);
	assert_true(entry(w, "H3")->field_added);
	/* a payment account, and a payment today by another member */
	expect_entry(w, "H5", ST(REACHED), NX(NONE), 0);
	kdc__v1__worklist__free_unpacked(w, NULL);
	w = fx_worklist(f, "T2");
	assert_int_equal(w->n_households, 1);
	expect_entry(w, "K1", ST(NOT_VISITED), NX(VISIT), 0);
	kdc__v1__worklist__free_unpacked(w, NULL);

	json = fx_got(f, "kdc/v1/31975/households/khom/6", &len);
	assert_non_null(root = cJSON_Parse((const char *)json));
	assert_string_equal(cJSON_GetObjectItem(root, "schema")->valuestring, "kdc.households.v1");
	assert_string_equal(cJSON_GetObjectItem(root, "name")->valuestring, "Khóm 6");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "register")));
	counts = cJSON_GetObjectItem(root, "counts");
	assert_int_equal(cJSON_GetObjectItem(counts, "total")->valueint, 4);
	assert_int_equal(cJSON_GetObjectItem(counts, "not_home")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(counts, "surveyed")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(counts, "reached")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(counts, "not_visited")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(counts, "field_added")->valueint, 1);
	list = cJSON_GetObjectItem(root, "households");
	assert_int_equal(cJSON_GetArraySize(list), 4);
	h2 = cJSON_GetArrayItem(list, 1);
	assert_string_equal(cJSON_GetObjectItem(h2, "household")->valuestring, "H2");
	assert_string_equal(cJSON_GetObjectItem(h2, "status")->valuestring, "surveyed");
	assert_string_equal(cJSON_GetObjectItem(h2, "next")->valuestring, "open_account");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(h2, "last_attempt")));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "last_attempt")->valuestring,
	                    "2026-11-18T13:06:40.000Z");
	cJSON_Delete(root);

	/* nothing changed: nothing again, even when touched */
	kdc_worklist_touch(f->wl, "6");
	assert_int_equal(fx_publish(f, now + 10000, 5000), 0);
	/* a change within the interval waits for it; then khóm 6 and team T1 only */
	fx_add(f, ev(T0 + 7 * HOUR, "6", "H1", 0, KDC_KIND_VISIT, SURVEYED));
	assert_int_equal(fx_publish(f, now + 12000, 5000), 0);
	assert_int_equal(fx_publish(f, now + 15000, 5000), 2);
	w = fx_worklist(f, "T1");
	assert_int_equal(w->seq, 2);
	expect_entry(w, "H1", ST(SURVEYED), NX(OPEN_ACCOUNT), 2);
	kdc__v1__worklist__free_unpacked(w, NULL);
	/* a register change by another program (a new line in register_log) */
	fx_exec(f, "INSERT INTO register VALUES('7','K2',NULL,'ward','u',1,NULL,NULL,NULL,0);"
	           "INSERT INTO register_log VALUES(2,1,'u','add','7','K2','added');");
	assert_int_equal(fx_publish(f, now + 30000, 5000), 2);
	w = fx_worklist(f, "T2");
	assert_int_equal(w->n_households, 2);
	assert_int_equal(w->seq, 2);
	kdc__v1__worklist__free_unpacked(w, NULL);
	/* 30 days later H5's payment is out of the window */
	assert_int_equal(fx_publish(f, now + 30 * DAY, 5000), 2);
	w = fx_worklist(f, "T1");
	expect_entry(w, "H5", ST(REACHED), NX(PAY_CASHLESS), 0);
	kdc__v1__worklist__free_unpacked(w, NULL);
	fx_close(f);
}

/* Without a register: the households seen in the khóm's events. */
static void test_lists_without_a_register(void **state)
{
	struct fixture *f = fx_open("wlnoreg", 1);
	Kdc__V1__Worklist *w;
	const uint8_t *json;
	cJSON *root;
	size_t len = 0;

	(void)state;
	fx_add(f, ev(T0, "6", "H7", 0, KDC_KIND_VISIT, DECLINED));
	fx_add(f, ev(T0, "6", "H8", 1, KDC_KIND_PAYMENT, 1));
	assert_int_equal(fx_publish(f, T0 + HOUR, 5000), 4);
	w = fx_worklist(f, "T1");
	assert_int_equal(w->n_households, 2);
	expect_entry(w, "H7", ST(DECLINED), NX(NONE), 0);
	expect_entry(w, "H8", ST(NOT_VISITED), NX(VISIT), 0);
	kdc__v1__worklist__free_unpacked(w, NULL);
	json = fx_got(f, "kdc/v1/31975/households/khom/6", &len);
	assert_non_null(root = cJSON_Parse((const char *)json));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(root, "register")));
	cJSON_Delete(root);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_and_next_step),
		cmocka_unit_test(test_attempts_fold_equals_rebuild),
		cmocka_unit_test(test_older_schema_is_rebuilt),
		cmocka_unit_test(test_lists_from_the_register),
		cmocka_unit_test(test_lists_without_a_register),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
