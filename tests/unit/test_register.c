/* test_register.c: the household register and voids through the real
 * writer (a real SQLite file, the statistics, receipts decoded back): events
 * of households the register lacks or retired are refused with their reason
 * and move no figure; a household added from the field counts at once; voids
 * after, before and twice, of another team's event and of a void; a change of
 * the register by another connection is taken up while the writer runs. In
 * every case the published figures equal those of kdc_stats_rebuild. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kdc_log.h"
#include "kdc_util.h"
#include "writer_testlib.h"

#define R13 KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_HOUSEHOLD
#define R14 KDC__V1__REJECT_REASON__REJECT_REASON_VOID_REFUSED
#define R15 KDC__V1__REJECT_REASON__REJECT_REASON_RETIRED_HOUSEHOLD
#define R16 KDC__V1__REJECT_REASON__REJECT_REASON_WRONG_ENTRY_TYPE

static const char *const profile =
	"[ward]\ncode = 31975\nname = Phường 1\n"
	"[khom 6]\nhouseholds = 186\npeople_15plus = 400\n"
	"[khom 7]\nhouseholds = 50\npeople_15plus = 100\n"
	"[team T1]\nkhoms = 6\ndevices = D1\n"
	"[team T2]\nkhoms = 6, 7\ndevices = D3\n";

/* H001 (3 people) and H002 (people not given) in khóm 6; H010 in khóm 7,
 * retired. */
static const char *const register_sql =
	"INSERT INTO register VALUES('6','H001',3,'import','it',1,NULL,NULL,NULL,0);"
	"INSERT INTO register VALUES('6','H002',NULL,'import','it',1,NULL,NULL,NULL,0);"
	"INSERT INTO register VALUES('7','H010',2,'import','it',1,5,'it','moved away',0);"
	"INSERT INTO register_log(at_ms,by,action,detail) VALUES(1,'it','import','3 households');";

static struct kdc_event_row ev(int kind, const char *dev, const char *team, const char *khom,
                               const char *hh)
{
	int member = kind == KDC_KIND_ACCOUNT || kind == KDC_KIND_PAYMENT ? 1 : 0;
	/* an addition's subkind 0: a household (1 would be a business) */
	struct kdc_event_row r = tl_row(kdc_now_ms() - 3600 * 1000, khom, team, dev, hh, member, kind,
	                                kind == KDC_KIND_ACCOUNT ? 4 : kind == KDC_KIND_HOUSEHOLD_ADDED ? 0 : 1,
	                                0);
	return r;
}

static void put(struct wl *l, const struct kdc_event_row *r)
{
	wl_put(l, r, NULL, NULL, 0);
}

static void put_void(struct wl *l, const struct kdc_event_row *v, const struct kdc_event_row *target)
{
	wl_put(l, v, target->id, "recorded for the wrong household", 0);
}

static void expect_refused(struct wl *l, const struct kdc_event_row *r, int reason, const char *words)
{
	const char *detail = NULL;
	int got = wl_outcome(l, r->id, &detail);

	if (got != reason)
		fail_msg("expected reason %d for the event of %s/%s, got %d (%s)", reason, r->khom,
		         r->household, got, detail ? detail : "");
	if (words && !strstr(detail, words))
		fail_msg("detail '%s' lacks '%s'", detail, words);
}

static void expect_committed(struct wl *l, const struct kdc_event_row *r)
{
	const char *detail = NULL;
	int got = wl_outcome(l, r->id, &detail);

	if (got != 0)
		fail_msg("expected the event of %s/%s committed, got %d (%s)", r->khom, r->household, got,
		         detail ? detail : "no receipt");
}

/* The state of the void v in table voids, -1 when absent. */
static long long void_state(struct wl *l, const struct kdc_event_row *v)
{
	char sql[128];
	int n = snprintf(sql, sizeof sql, "SELECT state FROM voids WHERE void_id = x'");

	for (int i = 0; i < KDC_UUID_LEN; i++)
		n += snprintf(sql + n, sizeof sql - (size_t)n, "%02x", v->id[i]);
	snprintf(sql + n, sizeof sql - (size_t)n, "'");
	return wl_count(l, sql);
}

static void test_unknown_and_retired_households_are_refused(void **state)
{
	struct wl l;
	struct kdc_event_row ok, typo, lower, retired, khom9;

	(void)state;
	wl_open(&l, "reg-unknown", profile);
	wl_sql(&l, register_sql);
	wl_start(&l);
	ok = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H001");
	typo = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H0O1");
	lower = ev(KDC_KIND_ACCOUNT, "D1", "T1", "6", "h001");
	retired = ev(KDC_KIND_VISIT, "D3", "T2", "7", "H010");
	khom9 = ev(KDC_KIND_VISIT, "D3", "T2", "9", "H001");
	put(&l, &ok);
	put(&l, &typo);
	put(&l, &lower);
	put(&l, &retired);
	put(&l, &khom9);
	wl_stop(&l);
	expect_committed(&l, &ok);
	expect_refused(&l, &typo, R13, "household H0O1 is not in the ward's register for khóm 6");
	expect_refused(&l, &lower, R13, "h001");
	expect_refused(&l, &retired, R15, "retired");
	expect_refused(&l, &khom9, KDC__V1__REJECT_REASON__REJECT_REASON_UNKNOWN_KHOM, "khom 9");
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM events"), 1);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM rejected WHERE reason_name = 'unknown_household'"), 2);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM rejected WHERE reason_name = 'retired_household'"), 1);
	/* denominators from the register: khóm 6 has 2 active households; one
	 * has no people, so the profile's 400; khóm 7 none active: 0 and 0 */
	assert_int_equal(wl_int(&l, "ward", "households.total"), 2);
	assert_int_equal(wl_int(&l, "khom/6", "households.total"), 2);
	assert_int_equal(wl_int(&l, "khom/7", "households.total"), 0);
	assert_int_equal(wl_int(&l, "khom/6", "people_15plus.total"), 400);
	assert_int_equal(wl_int(&l, "khom/7", "people_15plus.total"), 0);
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 1);
	assert_int_equal(wl_int(&l, "ward", "stored_total"), 1);
	assert_int_equal(wl_int(&l, "ward", "accounts.payment"), 0);
	assert_int_equal(wl_int(&l, "ward", "rejected_total"), 4);
	wl_check_rebuild(&l, "refusals");
	wl_close(&l);
}

static void test_household_added_from_the_field_counts_at_once(void **state)
{
	struct wl l;
	struct kdc_event_row add, visit, again, add_retired, add_known, before;

	(void)state;
	wl_open(&l, "reg-add", profile);
	wl_sql(&l, register_sql);
	wl_start(&l);
	/* refused before the addition, counted after it, in the same batch */
	before = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H003");
	add = ev(KDC_KIND_HOUSEHOLD_ADDED, "D1", "T1", "6", "H003");
	visit = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H003");
	add_retired = ev(KDC_KIND_HOUSEHOLD_ADDED, "D3", "T2", "7", "H010");
	add_known = ev(KDC_KIND_HOUSEHOLD_ADDED, "D1", "T1", "6", "H001");
	put(&l, &before);
	wl_put(&l, &add, NULL, NULL, 2);
	put(&l, &visit);
	wl_put(&l, &add_retired, NULL, NULL, 1);
	wl_put(&l, &add_known, NULL, NULL, 0);
	wl_wait(&l);
	wl_collect(&l);
	expect_refused(&l, &before, R13, "H003");
	expect_committed(&l, &add);
	expect_committed(&l, &visit);
	expect_refused(&l, &add_retired, R15, "retired");
	expect_committed(&l, &add_known);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM register WHERE household = 'H003' AND "
	                              "source = 'field' AND added_by = 'D1' AND people_15plus = 2"), 1);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM register_log WHERE action = 'field_add' "
	                              "AND household = 'H003'"), 1);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM register"), 4);
	/* the addition sent again: a duplicate, receipted, nothing changes */
	again = add;
	wl_put(&l, &again, NULL, NULL, 2);
	wl_stop(&l);
	expect_committed(&l, &again);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM register_log"), 2);
	assert_int_equal(wl_int(&l, "khom/6", "households.total"), 3);
	assert_int_equal(wl_int(&l, "ward", "households.total"), 3);
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 1);
	assert_int_equal(wl_int(&l, "ward", "stored_total"), 1);
	wl_check_rebuild(&l, "field addition");
	/* and after a restart (the register read back from the file) */
	wl_start(&l);
	wl_stop(&l);
	assert_int_equal(wl_int(&l, "ward", "households.total"), 3);
	wl_check_rebuild(&l, "field addition after a restart");
	wl_close(&l);
}

/* A register entry is a household or a business: an event for a household
 * naming a business is refused wrong_entry_type, and so is a business added
 * from the field under a household's code (and the reverse). Businesses are
 * not households: households.total counts households only. */
static void test_business_and_household_codes_are_not_mixed(void **state)
{
	struct wl l;
	struct kdc_event_row visit_b, acct_b, add_as_b, add_as_h, add_b2, visit_h;

	(void)state;
	wl_open(&l, "reg-biz", profile);
	wl_sql(&l, register_sql);
	wl_sql(&l, "INSERT INTO register(khom, household, source, added_by, added_ms, business) "
	           "VALUES('6','B001','import','it',1,1);"
	           "INSERT INTO register_log(at_ms,by,action,detail) VALUES(1,'it','import','B001');");
	wl_start(&l);
	visit_b = ev(KDC_KIND_VISIT, "D1", "T1", "6", "B001");
	acct_b = ev(KDC_KIND_ACCOUNT, "D1", "T1", "6", "B001");
	add_as_b = ev(KDC_KIND_HOUSEHOLD_ADDED, "D1", "T1", "6", "H001");
	add_as_b.subkind = 1;
	add_as_h = ev(KDC_KIND_HOUSEHOLD_ADDED, "D1", "T1", "6", "B001");
	add_b2 = ev(KDC_KIND_HOUSEHOLD_ADDED, "D1", "T1", "6", "B002");
	add_b2.subkind = 1;
	visit_h = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H001");
	put(&l, &visit_b);
	put(&l, &acct_b);
	put(&l, &add_as_b);
	put(&l, &add_as_h);
	put(&l, &add_b2);
	put(&l, &visit_h);
	wl_stop(&l);
	expect_refused(&l, &visit_b, R16, "B001 of khóm 6 is a business in the ward's register, not a household");
	expect_refused(&l, &acct_b, R16, "is a business");
	expect_refused(&l, &add_as_b, R16, "H001 of khóm 6 is a household in the ward's register, not a business");
	expect_refused(&l, &add_as_h, R16, "is a business");
	expect_committed(&l, &add_b2);
	expect_committed(&l, &visit_h);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM rejected WHERE reason_name = 'wrong_entry_type'"), 4);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM register WHERE household = 'B002' AND "
	                              "business = 1 AND source = 'field'"), 1);
	/* two households active in khóm 6; the two businesses are not counted */
	assert_int_equal(wl_int(&l, "khom/6", "households.total"), 2);
	assert_int_equal(wl_int(&l, "khom/6", "people_15plus.total"), 400);
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 1);
	wl_check_rebuild(&l, "business entries");
	wl_close(&l);
}

static void test_voids(void **state)
{
	struct wl l;
	struct kdc_event_row e1, v1, e2, v2, e3, v3, e4, v4, v5, e6, v6, add7, v7;

	(void)state;
	wl_open(&l, "reg-voids", profile);
	wl_start(&l);
	/* a void after its event (another batch) */
	e1 = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H001");
	put(&l, &e1);
	wl_wait(&l);
	wl_stop(&l);
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 1);
	wl_start(&l);
	v1 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H001");
	put_void(&l, &v1, &e1);
	wl_stop(&l);
	expect_committed(&l, &v1);
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 0);
	assert_int_equal(wl_int(&l, "ward", "events.visit.total"), 0);
	assert_int_equal(wl_int(&l, "ward", "events.voided"), 1);
	assert_int_equal(wl_int(&l, "khom/6", "events.voided"), 1);
	assert_int_equal(wl_int(&l, "team/T1", "events.voided"), 1);
	assert_int_equal(wl_int(&l, "team/T2", "events.voided"), 0);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM voids WHERE state = 1"), 1);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM events WHERE voided_by IS NOT NULL"), 1);
	wl_check_rebuild(&l, "void after its event");

	/* a void before its event; the void sent twice; a void of another
	 * team's event; a void of a void */
	wl_start(&l);
	e2 = ev(KDC_KIND_ACCOUNT, "D1", "T1", "6", "H002");
	v2 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H002");
	put_void(&l, &v2, &e2);
	put_void(&l, &v1, &e1);                 /* v1 again */
	e3 = ev(KDC_KIND_VISIT, "D3", "T2", "6", "H003");
	put(&l, &e3);
	wl_wait(&l);
	wl_collect(&l);
	assert_int_equal(void_state(&l, &v2), 0);   /* waits for e2 */
	put(&l, &e2);
	v3 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H003");
	put_void(&l, &v3, &e3);
	v5 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H001");
	put_void(&l, &v5, &v1);
	/* another team's event, not stored yet: the void waits, then is refused */
	e4 = ev(KDC_KIND_VISIT, "D3", "T2", "6", "H004");
	v4 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H004");
	put_void(&l, &v4, &e4);
	wl_wait(&l);
	put(&l, &e4);
	/* a void right after its event in the same batch */
	e6 = ev(KDC_KIND_PAYMENT, "D1", "T1", "6", "H006");
	v6 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H006");
	put(&l, &e6);
	put_void(&l, &v6, &e6);
	/* a household addition cannot be voided */
	add7 = ev(KDC_KIND_HOUSEHOLD_ADDED, "D1", "T1", "6", "H007");
	v7 = ev(KDC_KIND_VOID, "D1", "T1", "6", "H007");
	wl_put(&l, &add7, NULL, NULL, 0);
	put_void(&l, &v7, &add7);
	wl_stop(&l);
	expect_committed(&l, &v2);
	expect_committed(&l, &v1);
	expect_committed(&l, &e2);
	expect_committed(&l, &e3);
	expect_refused(&l, &v3, R14, "team T2");
	expect_refused(&l, &v5, R14, "itself a void");
	expect_committed(&l, &v4);
	expect_committed(&l, &e4);
	assert_int_equal(void_state(&l, &v2), 1);
	assert_int_equal(void_state(&l, &v4), 2);   /* refused: e4 is of team T2 */
	assert_int_equal(void_state(&l, &v6), 1);
	expect_committed(&l, &e6);
	expect_committed(&l, &v6);
	expect_committed(&l, &add7);
	expect_refused(&l, &v7, R14, "household addition");
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM voids"), 4); /* v1 v2 v4 v6 */
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM voids WHERE state = 1"), 3);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM voids WHERE state = 2"), 1);
	assert_int_equal(wl_count(&l, "SELECT count(*) FROM events WHERE voided_by IS NOT NULL"), 3);
	/* counted: e3 and e4 (two visits of T2) */
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 2);
	assert_int_equal(wl_int(&l, "ward", "households.reached"), 0);
	assert_int_equal(wl_int(&l, "ward", "events.payment.total"), 0);
	assert_int_equal(wl_int(&l, "ward", "stored_total"), 2);
	assert_int_equal(wl_int(&l, "ward", "events.voided"), 3);
	assert_int_equal(wl_int(&l, "ward", "rejected_total"), 3);
	wl_check_rebuild(&l, "voids");
	wl_close(&l);
}

/* The ward's tools change the register while the writer runs: the figures
 * follow without any event arriving, and events are judged by the new
 * register. */
static void test_register_change_by_another_connection(void **state)
{
	struct wl l;
	struct kdc_event_row e1, e2, e3;
	int64_t t0;

	(void)state;
	wl_open(&l, "reg-other", profile);
	wl_sql(&l, register_sql);
	wl_start(&l);
	e1 = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H001");
	put(&l, &e1);
	wl_wait(&l);
	wl_sql(&l, "BEGIN;"
	           "INSERT INTO register VALUES('6','H003',4,'ward','it',2,NULL,NULL,NULL,0);"
	           "INSERT INTO register_log(at_ms,by,action,khom,household,detail) "
	           " VALUES(2,'it','add','6','H003','added');"
	           "UPDATE register SET retired_ms=3, retired_by='it', retired_reason='moved' "
	           " WHERE household='H001';"
	           "INSERT INTO register_log(at_ms,by,action,khom,household,detail) "
	           " VALUES(3,'it','retire','6','H001','moved');"
	           "COMMIT;");
	/* taken up on the writer's tick (about once a second) */
	for (t0 = kdc_mono_ms();; usleep(20000)) {
		wl_collect(&l);
		if (tl_get(&l.ret, "ward") && wl_int(&l, "ward", "households.total") == 2 &&
		    wl_int(&l, "ward", "households.visited") == 0)
			break;
		if (kdc_mono_ms() - t0 > 30000)
			fail_msg("the register change was not taken up within 30 s");
	}
	e2 = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H003");
	e3 = ev(KDC_KIND_VISIT, "D1", "T1", "6", "H001");
	put(&l, &e2);
	put(&l, &e3);
	wl_stop(&l);
	expect_committed(&l, &e2);
	expect_refused(&l, &e3, R15, "H001");
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 1);
	assert_int_equal(wl_int(&l, "khom/6", "households.total"), 2);
	/* H002 has no people: the profile's */
	assert_int_equal(wl_int(&l, "khom/6", "people_15plus.total"), 400);
	wl_check_rebuild(&l, "register changed by another connection");
	/* a ward void written by the tools while the aggregator is down is
	 * taken up at start */
	wl_sql(&l, "BEGIN;"
	           "UPDATE events SET voided_by = x'00000000000000000000000000000001' WHERE household='H003';"
	           "INSERT INTO voids VALUES(x'00000000000000000000000000000001', "
	           " (SELECT id FROM events WHERE household='H003'), 'wrong house', '', 'ward:it', 4, 1);"
	           "INSERT INTO register_log(at_ms,by,action,khom,household,detail) "
	           " VALUES(4,'it','void','6','H003','voided');"
	           "COMMIT;");
	wl_start(&l);
	wl_stop(&l);
	assert_int_equal(wl_int(&l, "ward", "households.visited"), 0);
	assert_int_equal(wl_int(&l, "ward", "events.voided"), 1);
	wl_check_rebuild(&l, "ward void while stopped");
	wl_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_and_retired_households_are_refused),
		cmocka_unit_test(test_household_added_from_the_field_counts_at_once),
		cmocka_unit_test(test_business_and_household_codes_are_not_mixed),
		cmocka_unit_test(test_voids),
		cmocka_unit_test(test_register_change_by_another_connection),
	};

	kdc_log_set_level(KDC_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
