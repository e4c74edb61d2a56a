/* test_worklist: the device side of the household register, on real SQLite
 * outbox files (no broker): the nearest-code suggestion, the stored worklist
 * (decode checks, replace by a newer list, filters, households added on the
 * device kept until the server lists them, the check before recording), and
 * corrections (finding an event by its id, voids recorded together with the
 * corrected event or not at all, a voided event recognised), and the history
 * of stored events (copied in the receipt's transaction, purged after
 * history-days, found by id for a void or an amendment, listed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "correct.h"
#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "outbox.h"
#include "worklist.h"

#define ST(x) KDC__V1__HOUSEHOLD_STATUS__HOUSEHOLD_STATUS_##x
#define NX(x) KDC__V1__NEXT_STEP__NEXT_STEP_##x

/* ---- fixtures --------------------------------------------------------------- */

struct fx {
	char path[512];
	kdc_outbox *ob;
	int64_t now;
};

static void fx_unlink(const char *path)
{
	char p[600];

	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

static int fx_setup(void **state)
{
	static int counter;
	const char *dir = getenv("KDC_TEST_TMP");
	struct fx *f = calloc(1, sizeof *f);
	char err[256];

	assert_non_null(f);
	snprintf(f->path, sizeof f->path, "%s/worklist-%d-%d.db", dir && *dir ? dir : "/tmp",
	         (int)getpid(), ++counter);
	fx_unlink(f->path);
	if (kdc_outbox_open(f->path, &f->ob, err, sizeof err) != KDC_OK)
		fail_msg("cannot open a fresh outbox: %s", err);
	f->now = kdc_now_ms();
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	kdc_outbox_close(f->ob);
	fx_unlink(f->path);
	free(f);
	return 0;
}

/* ---- worklists built here --------------------------------------------------- */

#define WL_MAX 8
struct test_wl {
	kdc_worklist_pb wl;
	Kdc__V1__WorklistEntry e[WL_MAX], *ptr[WL_MAX];
};

/* A list of "khom/household/status" items. */
static void make_wl(struct test_wl *t, const char *team, uint64_t seq, int64_t as_of,
                    const char *const *items, size_t n)
{
	static char codes[WL_MAX][2][KDC_CODE_MAX + 1];

	assert_true(n <= WL_MAX);
	memset(t, 0, sizeof *t);
	kdc__v1__worklist__init(&t->wl);
	t->wl.ward = "31975";
	t->wl.team = (char *)team;
	t->wl.seq = seq;
	t->wl.from_register = 1;
	t->wl.as_of_ms = as_of;
	for (size_t i = 0; i < n; i++) {
		int status = 0;
		kdc__v1__worklist_entry__init(&t->e[i]);
		assert_int_equal(sscanf(items[i], "%32[^/]/%32[^/]/%d", codes[i][0], codes[i][1],
		                        &status), 3);
		t->e[i].khom = codes[i][0];
		t->e[i].household = codes[i][1];
		t->e[i].status = (Kdc__V1__HouseholdStatus)status;
		t->e[i].next = NX(VISIT);
		t->ptr[i] = &t->e[i];
	}
	t->wl.households = t->ptr;
	t->wl.n_households = n;
}

/* Encodes, decodes (the path a list from the broker takes) and stores. */
static int store(struct fx *f, struct test_wl *t, int *stored)
{
	uint8_t buf[4096];
	size_t len = kdc__v1__worklist__get_packed_size(&t->wl);
	char err[256];
	kdc_worklist_pb *wl;
	int rc;

	assert_true(len <= sizeof buf);
	kdc__v1__worklist__pack(&t->wl, buf);
	wl = kdc_worklist_decode(buf, len, "31975", "T1", err, sizeof err);
	if (!wl)
		fail_msg("a valid list did not decode: %s", err);
	rc = kdc_worklist_store(f->ob, wl, f->now, stored);
	kdc__v1__worklist__free_unpacked(wl, NULL);
	return rc;
}

struct seen {
	int n;
	char text[512];
};

static int seen_cb(void *ud, const struct kdc_wl_entry *e)
{
	struct seen *s = ud;
	size_t o = strlen(s->text);

	snprintf(s->text + o, sizeof s->text - o, "%s%s/%s%s", s->n ? " " : "", e->khom,
	         e->household, e->local ? "*" : "");
	s->n++;
	return 0;
}

static const char *listed(struct fx *f, const char *khom, int status)
{
	static struct seen s;

	memset(&s, 0, sizeof s);
	assert_int_equal(kdc_worklist_list(f->ob, khom, status, seen_cb, &s), KDC_OK);
	return s.text;
}

/* ---- the nearest code (pure) ---------------------------------------------------- */

static void nearest_prefers_case_then_distance_then_order(void **state)
{
	const char *list[] = { "H0041", "H0042", "H0043", "h0050", "AB12" };
	(void)state;

	/* H0O42: one substitution from H0042, two from H0041 and H0043 */
	assert_int_equal(kdc_nearest("H0O42", list, 5), 1);
	/* equal ignoring case wins over anything at distance 1 */
	assert_int_equal(kdc_nearest("H0050", list, 5), 3);
	assert_int_equal(kdc_nearest("ab12", list, 5), 4);
	/* ties at the same distance: the first in list order */
	assert_int_equal(kdc_nearest("H0044", list, 5), 0);
	/* a deletion and an insertion count too */
	assert_int_equal(kdc_nearest("H042", list, 5), 1);
	assert_int_equal(kdc_nearest("H00423", list, 5), 1);
	/* more than 2 away: nothing suggested */
	assert_int_equal(kdc_nearest("X9", list, 5), -1);
	assert_int_equal(kdc_nearest("H0042", list, 0), -1);

	assert_int_equal(kdc_edit_distance("H0042", "H0042", 2), 0);
	assert_int_equal(kdc_edit_distance("kitten", "sitting", 5), 3);
	assert_int_equal(kdc_edit_distance("kitten", "sitting", 2), 3); /* capped: more than 2 */
	assert_int_equal(kdc_edit_distance("", "ab", 2), 2);
	/* two neighbours swapped: one slip of the finger, one edit */
	assert_int_equal(kdc_edit_distance("H0024", "H0042", 2), 1);
	assert_int_equal(kdc_edit_distance("--houshold", "--household", 2), 1);
}

/* ---- the stored list -------------------------------------------------------------- */

static void decode_refuses_lists_not_for_this_device(void **state)
{
	struct test_wl t;
	const char *items[] = { "6/H0042/1" };
	uint8_t buf[512], junk[] = { 0x67, 0x01, 0x02 };
	char err[256];
	size_t len;
	(void)state;

	make_wl(&t, "T2", 1, 1000, items, 1);
	len = kdc__v1__worklist__get_packed_size(&t.wl);
	kdc__v1__worklist__pack(&t.wl, buf);
	assert_null(kdc_worklist_decode(buf, len, "31975", "T1", err, sizeof err));
	assert_non_null(strstr(err, "team 'T2'"));

	make_wl(&t, "T1", 1, 1000, items, 1);
	t.e[0].household = "H 42";
	len = kdc__v1__worklist__get_packed_size(&t.wl);
	kdc__v1__worklist__pack(&t.wl, buf);
	assert_null(kdc_worklist_decode(buf, len, "31975", "T1", err, sizeof err));
	assert_non_null(strstr(err, "invalid code"));

	make_wl(&t, "T1", 1, 1000, items, 1);
	t.e[0].status = (Kdc__V1__HouseholdStatus)42;
	len = kdc__v1__worklist__get_packed_size(&t.wl);
	kdc__v1__worklist__pack(&t.wl, buf);
	assert_null(kdc_worklist_decode(buf, len, "31975", "T1", err, sizeof err));

	assert_null(kdc_worklist_decode(junk, sizeof junk, "31975", "T1", err, sizeof err));
	assert_null(kdc_worklist_decode(buf, KDC_MAX_WORKLIST_BYTES + 1, "31975", "T1", err,
	                                sizeof err));
	assert_non_null(strstr(err, "more than"));
}

static void newer_list_replaces_older_is_ignored_and_filters_work(void **state)
{
	struct fx *f = *state;
	struct test_wl t;
	struct kdc_wl_info info;
	const char *v5[] = { "6/H0041/1", "6/H0042/2", "7/H0001/4" };
	const char *v4[] = { "6/H0099/1" };
	const char *v6[] = { "6/H0042/5", "6/H0043/1" };
	int stored = -1;

	assert_int_equal(kdc_worklist_info(f->ob, &info), KDC_ERR_NOT_FOUND);
	make_wl(&t, "T1", 5, 5000, v5, 3);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(stored, 1);
	assert_int_equal(kdc_worklist_info(f->ob, &info), KDC_OK);
	assert_string_equal(info.team, "T1");
	assert_int_equal(info.seq, 5);
	assert_int_equal(info.as_of_ms, 5000);
	assert_string_equal(listed(f, NULL, 0), "6/H0041 6/H0042 7/H0001");
	assert_string_equal(listed(f, "6", 0), "6/H0041 6/H0042");
	assert_string_equal(listed(f, NULL, ST(NOT_HOME)), "6/H0042");
	assert_string_equal(listed(f, "7", ST(NOT_HOME)), "");

	/* an older list (a late copy) changes nothing; the same one neither */
	make_wl(&t, "T1", 4, 4000, v4, 1);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(stored, 0);
	make_wl(&t, "T1", 5, 5000, v4, 1);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(stored, 0);
	assert_string_equal(listed(f, NULL, 0), "6/H0041 6/H0042 7/H0001");

	/* a newer one replaces the whole list */
	make_wl(&t, "T1", 6, 6000, v6, 2);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(stored, 1);
	assert_string_equal(listed(f, NULL, 0), "6/H0042 6/H0043");
	assert_string_equal(listed(f, NULL, ST(REACHED)), "6/H0042");
	assert_int_equal(kdc_worklist_info(f->ob, &info), KDC_OK);
	assert_int_equal(info.seq, 6);

	/* a restarted aggregator's seq starts again, with a later as_of */
	make_wl(&t, "T1", 1, 7000, v5, 3);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(stored, 1);
	assert_string_equal(listed(f, NULL, 0), "6/H0041 6/H0042 7/H0001");
}

static void households_added_on_the_device_stay_until_the_server_lists_them(void **state)
{
	struct fx *f = *state;
	struct test_wl t;
	const char *v1[] = { "6/H0041/1", "6/H0042/1" };
	const char *v2[] = { "6/H0041/4" };
	const char *v3[] = { "6/H0041/4", "6/H0099/1" };
	int added = -1, stored;

	make_wl(&t, "T1", 1, 1000, v1, 2);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(kdc_worklist_add_local(f->ob, "6", "H0099", 3, &added), KDC_OK);
	assert_int_equal(added, 1);
	assert_int_equal(kdc_worklist_add_local(f->ob, "6", "H0042", 0, &added), KDC_OK);
	assert_int_equal(added, 0); /* on the list already */
	assert_string_equal(listed(f, NULL, 0), "6/H0041 6/H0042 6/H0099*");
	assert_string_equal(listed(f, NULL, ST(NOT_VISITED)), "6/H0041 6/H0042 6/H0099*");

	/* the server's next list lacks it (not processed yet): kept */
	make_wl(&t, "T1", 2, 2000, v2, 1);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(stored, 1);
	assert_string_equal(listed(f, NULL, 0), "6/H0041 6/H0099*");
	/* then it lists it: one row, the server's */
	make_wl(&t, "T1", 3, 3000, v3, 2);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_string_equal(listed(f, NULL, 0), "6/H0041 6/H0099");
	/* and the next list without it drops it like any other */
	make_wl(&t, "T1", 4, 4000, v2, 1);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_string_equal(listed(f, NULL, 0), "6/H0041");
}

static void check_refuses_unknown_households_with_a_suggestion(void **state)
{
	struct fx *f = *state;
	struct test_wl t;
	const char *v1[] = { "6/H0041/1", "6/H0042/1", "7/H0001/1" };
	char msg[512] = "";
	int stored, added;

	/* no list yet: nothing is checked */
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "6", "ANY", msg, sizeof msg),
	                 KDC_OK);
	make_wl(&t, "T1", 1, 1000, v1, 3);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "6", "H0042", msg, sizeof msg),
	                 KDC_OK);
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "6", "H0O42", msg, sizeof msg),
	                 KDC_ERR_NOT_FOUND);
	assert_string_equal(msg, "household 'H0O42' is not on team T1's list for khóm 6; did you "
	                    "mean H0042? A household that is new: kdc-event household add "
	                    "--khom 6 --household H0O42");
	/* exact comparison: another case is another code, and suggested */
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "6", "h0041", msg, sizeof msg),
	                 KDC_ERR_NOT_FOUND);
	assert_non_null(strstr(msg, "did you mean H0041?"));
	/* the household of another khóm is not this khóm's */
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "7", "H0042", msg, sizeof msg),
	                 KDC_ERR_NOT_FOUND);
	assert_non_null(strstr(msg, "did you mean H0001?"));
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "6", "ZZZZ99", msg, sizeof msg),
	                 KDC_ERR_NOT_FOUND);
	assert_null(strstr(msg, "did you mean"));
	assert_non_null(strstr(msg, "for khóm 6. A household that is new"));
	/* added on the device: accepted */
	assert_int_equal(kdc_worklist_add_local(f->ob, "6", "H0O42", 0, &added), KDC_OK);
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T1", "6", "H0O42", msg, sizeof msg),
	                 KDC_OK);
	/* a list of another team (the device moved): not checked against */
	assert_int_equal(kdc_worklist_check(f->ob, "31975", "T2", "6", "NOPE", msg, sizeof msg),
	                 KDC_OK);
}

/* ---- corrections -------------------------------------------------------------------- */

struct tev {
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited visit;
	Kdc__V1__EventVoided vd;
	uint8_t id[KDC_UUID_LEN];
};

static void make_visit(struct tev *t, const char *household, int64_t occurred)
{
	memset(t, 0, sizeof *t);
	kdc__v1__event__init(&t->ev);
	kdc__v1__household_visited__init(&t->visit);
	t->ev.ward = "31975";
	t->ev.team = "T1";
	t->ev.device = "D1";
	t->ev.khom = "6";
	t->ev.household = (char *)household;
	t->ev.occurred_ms = occurred;
	t->visit.outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
	t->ev.body_case = KDC__V1__EVENT__BODY_VISIT;
	t->ev.visit = &t->visit;
}

static void make_void(struct tev *t, const uint8_t target[KDC_UUID_LEN], const char *reason,
                      int64_t occurred)
{
	make_visit(t, "H0042", occurred);
	kdc__v1__event_voided__init(&t->vd);
	t->vd.target.data = (uint8_t *)target;
	t->vd.target.len = KDC_UUID_LEN;
	t->vd.reason = (char *)reason;
	t->ev.body_case = KDC__V1__EVENT__BODY_VOID;
	t->ev.void_ = &t->vd;
}

static int64_t rows(struct fx *f)
{
	int64_t n = -1;

	assert_int_equal(kdc_outbox_count(f->ob, KDC_OUTBOX_PENDING, &n), KDC_OK);
	return n;
}

static void find_by_id_start_or_end_and_refuse_what_is_not_one(void **state)
{
	struct fx *f = *state;
	struct tev a, b;
	struct kdc_verdict v;
	uint8_t id[KDC_UUID_LEN];
	char text[KDC_UUID_STR_LEN], err[512];
	kdc_event_pb *ev = NULL;
	int st = -1;

	make_visit(&a, "H0042", f->now - 1000);
	make_visit(&b, "H0043", f->now - 1000);
	assert_int_equal(kdc_outbox_record(f->ob, &a.ev, f->now, a.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_record(f->ob, &b.ev, f->now, b.id, NULL, &v), KDC_OK);

	kdc_uuid_format(b.id, text);
	assert_int_equal(kdc_outbox_find(f->ob, text, id, &ev, &st, err, sizeof err), KDC_OK);
	assert_memory_equal(id, b.id, KDC_UUID_LEN);
	assert_int_equal(st, KDC_OUTBOX_PENDING);
	assert_string_equal(ev->household, "H0043");
	kdc_event_free(ev);
	/* the last 12 digits, upper case */
	for (char *p = text; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(kdc_outbox_find(f->ob, text + 24, id, &ev, &st, err, sizeof err), KDC_OK);
	assert_string_equal(ev->household, "H0043");
	kdc_event_free(ev);
	/* the first 8: the same millisecond's time for both: ambiguous */
	kdc_uuid_format(a.id, text);
	text[8] = '\0';
	assert_int_equal(kdc_outbox_find(f->ob, text, id, &ev, &st, err, sizeof err), KDC_ERR_INVAL);
	assert_null(ev);
	assert_non_null(strstr(err, "more than one"));
	/* too short, not hex, unknown */
	assert_int_equal(kdc_outbox_find(f->ob, "01a2", id, &ev, &st, err, sizeof err), KDC_ERR_INVAL);
	assert_int_equal(kdc_outbox_find(f->ob, "not-an-id-at-all", id, &ev, &st, err, sizeof err),
	                 KDC_ERR_INVAL);
	assert_int_equal(kdc_outbox_find(f->ob, "00000000-0000-7000-8000-000000000000", id, &ev,
	                                 &st, err, sizeof err), KDC_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "no event"));
}

static void void_and_corrected_event_are_recorded_together_or_not_at_all(void **state)
{
	struct fx *f = *state;
	struct tev orig, nev, vd;
	struct kdc_verdict v;
	uint8_t ids[2][KDC_UUID_LEN], vid[KDC_UUID_LEN];
	kdc_event_pb *evs[2];
	int voided = -1;

	make_visit(&orig, "H0O42", f->now - 5000);
	assert_int_equal(kdc_outbox_record(f->ob, &orig.ev, f->now, orig.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_voided(f->ob, orig.id, vid, &voided), KDC_OK);
	assert_int_equal(voided, 0);

	/* the corrected event is invalid (no household): neither is written */
	make_visit(&nev, "", f->now - 5000);
	make_void(&vd, orig.id, "amended", f->now);
	evs[0] = &nev.ev;
	evs[1] = &vd.ev;
	assert_int_equal(kdc_outbox_record_all(f->ob, evs, 2, f->now, ids, &v), KDC_ERR_INVAL);
	assert_int_equal(rows(f), 1);
	assert_int_equal(kdc_outbox_voided(f->ob, orig.id, vid, &voided), KDC_OK);
	assert_int_equal(voided, 0);
	/* a void without a reason: neither is written either */
	make_visit(&nev, "H0042", f->now - 5000);
	make_void(&vd, orig.id, "", f->now);
	assert_int_equal(kdc_outbox_record_all(f->ob, evs, 2, f->now, ids, &v), KDC_ERR_INVAL);
	assert_int_equal(rows(f), 1);

	/* both valid: both, in one go, seq following each other */
	make_void(&vd, orig.id, "amended", f->now);
	assert_int_equal(kdc_outbox_record_all(f->ob, evs, 2, f->now, ids, &v), KDC_OK);
	assert_int_equal(rows(f), 3);
	assert_int_equal(kdc_outbox_voided(f->ob, orig.id, vid, &voided), KDC_OK);
	assert_int_equal(voided, 1);
	assert_memory_equal(vid, ids[1], KDC_UUID_LEN);
	/* the corrected event is not voided */
	assert_int_equal(kdc_outbox_voided(f->ob, ids[0], vid, &voided), KDC_OK);
	assert_int_equal(voided, 0);
	/* inside a batch it is refused, not half-joined */
	assert_int_equal(kdc_outbox_begin(f->ob), KDC_OK);
	assert_int_equal(kdc_outbox_record_all(f->ob, evs, 2, f->now, ids, &v), KDC_ERR_BUSY);
	kdc_outbox_rollback(f->ob);
	assert_int_equal(rows(f), 3);
}

/* ---- the history of stored events ---------------------------------------------------- */

#define DAY_MS 86400000LL

/* Applies a receipt saying id is stored, at `at`. */
static int receipted(struct fx *f, const uint8_t id[KDC_UUID_LEN], int64_t at)
{
	kdc_receipt_pb r = KDC__V1__RECEIPT__INIT;
	ProtobufCBinaryData c = { KDC_UUID_LEN, (uint8_t *)id };

	r.device = "D1";
	r.committed = &c;
	r.n_committed = 1;
	return kdc_outbox_apply_receipt_at(f->ob, &r, at, NULL);
}

/* One integer from SQL on the outbox's connection. */
static int64_t sql_int(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(kdc_outbox_sqlite(f->ob), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void receipt_copies_stored_events_to_the_history_in_its_transaction(void **state)
{
	struct fx *f = *state;
	struct tev a, b;
	struct kdc_verdict v;
	sqlite3_stmt *st;
	uint8_t buf[KDC_MAX_EVENT_BYTES];
	size_t len;
	int64_t at = f->now + 5000;

	make_visit(&a, "H0042", f->now - 3 * DAY_MS);
	make_visit(&b, "H0043", f->now - 1000);
	assert_int_equal(kdc_outbox_record(f->ob, &a.ev, f->now, a.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_record(f->ob, &b.ev, f->now, b.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_history_days(f->ob), KDC_OUTBOX_HISTORY_DAYS);

	/* a receipt applied in a batch that is rolled back leaves both as they were */
	assert_int_equal(kdc_outbox_begin(f->ob), KDC_OK);
	assert_int_equal(receipted(f, a.id, at), KDC_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 1);
	kdc_outbox_rollback(f->ob);
	assert_int_equal(rows(f), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 0);

	/* committed: a leaves the outbox, its copy is in the history, whole */
	assert_int_equal(receipted(f, a.id, at), KDC_OK);
	assert_int_equal(rows(f), 1);
	assert_int_equal(sqlite3_prepare_v2(kdc_outbox_sqlite(f->ob),
	                                    "SELECT id, seq, occurred_ms, kind, khom, household, "
	                                    "member, payload, stored_ms FROM history", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(st, 0), KDC_UUID_LEN);
	assert_memory_equal(sqlite3_column_blob(st, 0), a.id, KDC_UUID_LEN);
	assert_int_equal(sqlite3_column_int64(st, 1), 1);
	assert_int_equal(sqlite3_column_int64(st, 2), f->now - 3 * DAY_MS);
	assert_int_equal(sqlite3_column_int(st, 3), KDC_KIND_VISIT);
	assert_string_equal((const char *)sqlite3_column_text(st, 4), "6");
	assert_string_equal((const char *)sqlite3_column_text(st, 5), "H0042");
	assert_int_equal(sqlite3_column_int64(st, 6), 0);
	a.ev.seq = 1;
	len = kdc__v1__event__get_packed_size(&a.ev);
	assert_true(len <= sizeof buf);
	kdc__v1__event__pack(&a.ev, buf);
	assert_int_equal((size_t)sqlite3_column_bytes(st, 7), len);
	assert_memory_equal(sqlite3_column_blob(st, 7), buf, len);
	assert_int_equal(sqlite3_column_int64(st, 8), at);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);

	/* the same receipt again (a duplicate) changes nothing */
	assert_int_equal(receipted(f, a.id, at + 1000), KDC_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 1);
	assert_int_equal(sql_int(f, "SELECT stored_ms FROM history"), at);

	/* history-days 0: a receipt only deletes */
	kdc_outbox_set_history_days(f->ob, 0);
	assert_int_equal(receipted(f, b.id, at), KDC_OK);
	assert_int_equal(rows(f), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 1);
}

static void history_is_purged_after_history_days(void **state)
{
	struct fx *f = *state;
	struct tev old, recent, edge;
	struct kdc_verdict v;
	int64_t purged = -1;

	make_visit(&old, "H0041", f->now - 1000);
	make_visit(&recent, "H0042", f->now - 1000);
	make_visit(&edge, "H0043", f->now - 1000);
	assert_int_equal(kdc_outbox_record(f->ob, &old.ev, f->now, old.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_record(f->ob, &recent.ev, f->now, recent.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_record(f->ob, &edge.ev, f->now, edge.id, NULL, &v), KDC_OK);
	kdc_outbox_set_history_days(f->ob, 60);
	assert_int_equal(receipted(f, old.id, f->now - 61 * DAY_MS), KDC_OK);
	assert_int_equal(receipted(f, edge.id, f->now - 60 * DAY_MS), KDC_OK);
	assert_int_equal(receipted(f, recent.id, f->now - DAY_MS), KDC_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 3);

	assert_int_equal(kdc_outbox_purge_history(f->ob, f->now, &purged), KDC_OK);
	assert_int_equal(purged, 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history WHERE household = 'H0041'"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 2);
	/* nothing older: nothing purged */
	assert_int_equal(kdc_outbox_purge_history(f->ob, f->now, &purged), KDC_OK);
	assert_int_equal(purged, 0);
	/* the purge reads the index, not the table */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pragma_index_list('history') "
	                          "WHERE name = 'history_stored'"), 1);
	/* history-days 0 keeps none */
	kdc_outbox_set_history_days(f->ob, 0);
	assert_int_equal(kdc_outbox_purge_history(f->ob, f->now, &purged), KDC_OK);
	assert_int_equal(purged, 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history"), 0);
}

struct hseen {
	int n;
	char text[256];
};

static int hseen_cb(void *ud, const struct kdc_history_row *row)
{
	struct hseen *s = ud;
	size_t o = strlen(s->text);

	snprintf(s->text + o, sizeof s->text - o, "%s%s/%s", s->n ? " " : "", row->khom,
	         row->household);
	s->n++;
	return 0;
}

static void stored_events_are_found_voided_and_listed_from_the_history(void **state)
{
	struct fx *f = *state;
	struct tev a, b, c, vd;
	struct kdc_verdict v;
	struct hseen hs;
	uint8_t id[KDC_UUID_LEN], vid[KDC_UUID_LEN];
	char text[KDC_UUID_STR_LEN], err[512];
	kdc_event_pb *ev = NULL;
	int st = -1, voided = -1;

	make_visit(&a, "H0042", f->now - 2 * DAY_MS);
	make_visit(&b, "H0043", f->now - DAY_MS);
	make_visit(&c, "H0044", f->now - 3 * DAY_MS);
	assert_int_equal(kdc_outbox_record(f->ob, &a.ev, f->now, a.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_record(f->ob, &b.ev, f->now, b.id, NULL, &v), KDC_OK);
	assert_int_equal(kdc_outbox_record(f->ob, &c.ev, f->now, c.id, NULL, &v), KDC_OK);
	assert_int_equal(receipted(f, a.id, f->now), KDC_OK);
	assert_int_equal(receipted(f, c.id, f->now), KDC_OK);

	/* a stored event is found by its full id and by its end, as stored */
	kdc_uuid_format(a.id, text);
	assert_int_equal(kdc_outbox_find(f->ob, text, id, &ev, &st, err, sizeof err), KDC_OK);
	assert_memory_equal(id, a.id, KDC_UUID_LEN);
	assert_int_equal(st, KDC_OUTBOX_STORED);
	assert_string_equal(ev->household, "H0042");
	kdc_event_free(ev);
	assert_int_equal(kdc_outbox_find(f->ob, text + 28, id, &ev, &st, err, sizeof err), KDC_OK);
	assert_memory_equal(id, a.id, KDC_UUID_LEN);
	kdc_event_free(ev);
	/* the start of a's id is also b's (pending) and c's (stored): ambiguous */
	text[8] = '\0';
	assert_int_equal(kdc_outbox_find(f->ob, text, id, &ev, &st, err, sizeof err), KDC_ERR_INVAL);
	assert_non_null(strstr(err, "more than one"));
	/* b, still pending, is found as before */
	kdc_uuid_format(b.id, text);
	assert_int_equal(kdc_outbox_find(f->ob, text + 24, id, &ev, &st, err, sizeof err), KDC_OK);
	assert_int_equal(st, KDC_OUTBOX_PENDING);
	kdc_event_free(ev);

	/* a void of a stored event, itself stored: a is voided already */
	assert_int_equal(kdc_outbox_voided(f->ob, a.id, vid, &voided), KDC_OK);
	assert_int_equal(voided, 0);
	make_void(&vd, a.id, "wrong household", f->now);
	assert_int_equal(kdc_outbox_record(f->ob, &vd.ev, f->now, vd.id, NULL, &v), KDC_OK);
	assert_int_equal(receipted(f, vd.id, f->now), KDC_OK);
	assert_int_equal(rows(f), 1);
	assert_int_equal(kdc_outbox_voided(f->ob, a.id, vid, &voided), KDC_OK);
	assert_int_equal(voided, 1);
	assert_memory_equal(vid, vd.id, KDC_UUID_LEN);
	assert_int_equal(kdc_outbox_voided(f->ob, c.id, vid, &voided), KDC_OK);
	assert_int_equal(voided, 0);

	/* listing: newest first, filtered, limited */
	memset(&hs, 0, sizeof hs);
	assert_int_equal(kdc_history_list(f->ob, NULL, NULL, 0, hseen_cb, &hs), KDC_OK);
	assert_string_equal(hs.text, "6/H0042 6/H0042 6/H0044");
	memset(&hs, 0, sizeof hs);
	assert_int_equal(kdc_history_list(f->ob, "6", "H0044", 0, hseen_cb, &hs), KDC_OK);
	assert_string_equal(hs.text, "6/H0044");
	memset(&hs, 0, sizeof hs);
	assert_int_equal(kdc_history_list(f->ob, "7", NULL, 0, hseen_cb, &hs), KDC_OK);
	assert_int_equal(hs.n, 0);
	memset(&hs, 0, sizeof hs);
	assert_int_equal(kdc_history_list(f->ob, NULL, NULL, 1, hseen_cb, &hs), KDC_OK);
	assert_int_equal(hs.n, 1);

	/* purged: no longer on this device, said with what to do */
	kdc_uuid_format(c.id, text);
	kdc_outbox_set_history_days(f->ob, 30);
	assert_int_equal(kdc_outbox_purge_history(f->ob, f->now + 31 * DAY_MS, NULL), KDC_OK);
	assert_int_equal(kdc_outbox_find(f->ob, text, id, &ev, &st, err, sizeof err),
	                 KDC_ERR_NOT_FOUND);
	assert_null(ev);
	assert_non_null(strstr(err, "events older than 30 days are not kept here"));
	assert_non_null(strstr(err, "kdc-ward void"));
}

static void outbox_of_version_2_gets_the_worklist_tables(void **state)
{
	struct fx *f = *state;
	struct test_wl t;
	struct tev a;
	struct kdc_verdict v;
	const char *v1[] = { "6/H0041/1" };
	char err[256];
	sqlite3 *db;
	int stored;

	/* an outbox as version 2 left it, with a pending event */
	make_visit(&a, "H0042", f->now - 1000);
	assert_int_equal(kdc_outbox_record(f->ob, &a.ev, f->now, a.id, NULL, &v), KDC_OK);
	kdc_outbox_close(f->ob);
	f->ob = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE worklist; DROP TABLE worklist_info; "
	                              "DROP TABLE history; ALTER TABLE outbox DROP COLUMN khom; "
	                              "ALTER TABLE outbox DROP COLUMN household; "
	                              "ALTER TABLE outbox DROP COLUMN member; "
	                              "UPDATE schema_version SET version = 2", NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	if (kdc_outbox_open(f->path, &f->ob, err, sizeof err) != KDC_OK)
		fail_msg("opening a version 2 outbox: %s", err);
	assert_int_equal(rows(f), 1);
	/* the pending event's codes come from its payload, so its copy in the
	 * history has them once it is stored */
	assert_int_equal(receipted(f, a.id, f->now), KDC_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM history WHERE khom = '6' AND "
	                          "household = 'H0042'"), 1);
	make_wl(&t, "T1", 1, 1000, v1, 1);
	assert_int_equal(store(f, &t, &stored), KDC_OK);
	assert_string_equal(listed(f, NULL, 0), "6/H0041");
	/* and the list survives a reopen */
	kdc_outbox_close(f->ob);
	f->ob = NULL;
	if (kdc_outbox_open(f->path, &f->ob, err, sizeof err) != KDC_OK)
		fail_msg("reopen: %s", err);
	assert_string_equal(listed(f, NULL, 0), "6/H0041");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nearest_prefers_case_then_distance_then_order),
		cmocka_unit_test(decode_refuses_lists_not_for_this_device),
		cmocka_unit_test_setup_teardown(newer_list_replaces_older_is_ignored_and_filters_work, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(households_added_on_the_device_stay_until_the_server_lists_them, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(check_refuses_unknown_households_with_a_suggestion, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(find_by_id_start_or_end_and_refuse_what_is_not_one, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(void_and_corrected_event_are_recorded_together_or_not_at_all, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(receipt_copies_stored_events_to_the_history_in_its_transaction, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(history_is_purged_after_history_days, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(stored_events_are_found_voided_and_listed_from_the_history, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(outbox_of_version_2_gets_the_worklist_tables, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
