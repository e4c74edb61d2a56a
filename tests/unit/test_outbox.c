/* test_outbox: the device outbox on real SQLite files (no broker): it keeps
 * pending events and the sequence across close/reopen, refuses locally what
 * the aggregator would refuse, applies receipts, selects what to resend, and
 * stores payloads that decode back to the same event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "outbox.h"

#define REASON(x) KDC__V1__REJECT_REASON__REJECT_REASON_##x

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
	snprintf(f->path, sizeof f->path, "%s/outbox-%d-%d.db", dir && *dir ? dir : "/tmp",
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

/* An event with its body storage, filled with valid values of one kind. */
struct test_event {
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited visit;
	Kdc__V1__AccountCreated account;
	Kdc__V1__PaymentMade payment;
	Kdc__V1__ServiceUsed service;
	Kdc__V1__Need needs[3];
	uint8_t id[KDC_UUID_LEN];
};

static void make_event(struct test_event *t, int kind, int64_t occurred_ms)
{
	memset(t, 0, sizeof *t);
	kdc__v1__event__init(&t->ev);
	t->ev.ward = "31975";
	t->ev.khom = "6";
	t->ev.team = "T1";
	t->ev.device = "D1";
	t->ev.household = "H0042";
	t->ev.member = 2;
	t->ev.occurred_ms = occurred_ms;
	switch (kind) {
	case KDC_KIND_VISIT:
		kdc__v1__household_visited__init(&t->visit);
		t->visit.outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
		t->visit.members = 5;
		t->visit.members_15plus = 3;
		t->visit.smartphones = 2;
		t->needs[0] = KDC__V1__NEED__NEED_INSTALL_APP;
		t->needs[1] = KDC__V1__NEED__NEED_PAYMENT_ACCOUNT;
		t->needs[2] = KDC__V1__NEED__NEED_DIGITAL_SKILLS;
		t->visit.needs = t->needs;
		t->visit.n_needs = 3;
		t->ev.member = 0;
		t->ev.body_case = KDC__V1__EVENT__BODY_VISIT;
		t->ev.visit = &t->visit;
		break;
	case KDC_KIND_ACCOUNT:
		kdc__v1__account_created__init(&t->account);
		t->account.kind = KDC__V1__ACCOUNT_KIND__ACCOUNT_KIND_VNEID_LEVEL2;
		t->ev.body_case = KDC__V1__EVENT__BODY_ACCOUNT;
		t->ev.account = &t->account;
		break;
	case KDC_KIND_PAYMENT:
		kdc__v1__payment_made__init(&t->payment);
		t->payment.purpose = KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_ELECTRICITY;
		t->payment.method = KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_QR_CODE;
		t->payment.amount_vnd = 354000;
		t->ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
		t->ev.payment = &t->payment;
		break;
	default:
		kdc__v1__service_used__init(&t->service);
		t->service.kind = KDC__V1__SERVICE_KIND__SERVICE_KIND_MEDICAL_BOOKING;
		t->ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
		t->ev.service = &t->service;
		break;
	}
}

/* Records a valid event of `kind`; returns its seq. */
static int64_t record_ok(struct fx *f, struct test_event *t, int kind)
{
	struct kdc_verdict v;
	int64_t seq = 0;
	int rc;

	make_event(t, kind, f->now - 60000);
	rc = kdc_outbox_record(f->ob, &t->ev, f->now, t->id, &seq, &v);
	if (rc != KDC_OK)
		fail_msg("recording a valid %s: expected 0, got %d (%s) %s", kdc_kind_name(kind),
		         rc, kdc_strerror(rc), rc == KDC_ERR_INVAL ? v.detail : kdc_outbox_errmsg(f->ob));
	return seq;
}

/* Collects rows of a listing. */
#define MAX_ROWS 64
struct rows {
	int n;
	struct kdc_outbox_row row[MAX_ROWS];
	char detail[MAX_ROWS][200];
	uint8_t payload[MAX_ROWS][KDC_MAX_EVENT_BYTES];
};

static int collect(void *ud, const struct kdc_outbox_row *row)
{
	struct rows *r = ud;

	assert_true(r->n < MAX_ROWS);
	assert_true(row->payload_len <= KDC_MAX_EVENT_BYTES);
	r->row[r->n] = *row;
	snprintf(r->detail[r->n], sizeof r->detail[r->n], "%s", row->reject_detail);
	memcpy(r->payload[r->n], row->payload, row->payload_len);
	r->row[r->n].reject_detail = r->detail[r->n];
	r->row[r->n].payload = r->payload[r->n];
	r->n++;
	return 0;
}

static struct rows *list(kdc_outbox *ob, int state)
{
	struct rows *r = calloc(1, sizeof *r);

	assert_non_null(r);
	assert_int_equal(kdc_outbox_list(ob, state, collect, r), KDC_OK);
	return r;
}

static struct rows *due(kdc_outbox *ob, int64_t after, int64_t upto, int64_t before, int64_t now,
                        int limit)
{
	struct rows *r = calloc(1, sizeof *r);
	int n = -1;

	assert_non_null(r);
	assert_int_equal(kdc_outbox_due(ob, after, upto, before, now, limit, collect, r, &n), KDC_OK);
	assert_int_equal(n, r->n);
	return r;
}

static int64_t count(kdc_outbox *ob, int state)
{
	int64_t n = -1;

	assert_int_equal(kdc_outbox_count(ob, state, &n), KDC_OK);
	return n;
}

/* ---- tests -------------------------------------------------------------------- */

static void outbox_survives_reopen_with_pending_rows_and_sequence(void **state)
{
	struct fx *f = *state;
	struct test_event t[4];
	struct rows *r;
	struct stat sb;
	char err[256], wal[600];
	int64_t next = 0;

	assert_int_equal(record_ok(f, &t[0], KDC_KIND_VISIT), 1);
	assert_int_equal(record_ok(f, &t[1], KDC_KIND_ACCOUNT), 2);
	assert_int_equal(record_ok(f, &t[2], KDC_KIND_PAYMENT), 3);
	kdc_outbox_close(f->ob);
	f->ob = NULL;

	assert_int_equal(stat(f->path, &sb), 0);
	if ((sb.st_mode & 0777) != 0600)
		fail_msg("outbox file mode: expected 0600, got %03o", (unsigned)(sb.st_mode & 0777));

	if (kdc_outbox_open(f->path, &f->ob, err, sizeof err) != KDC_OK)
		fail_msg("reopen failed: %s", err);
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	if (stat(wal, &sb) == 0 && (sb.st_mode & 0777) != 0600)
		fail_msg("WAL file mode: expected 0600, got %03o", (unsigned)(sb.st_mode & 0777));
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 3);
	r = list(f->ob, KDC_OUTBOX_PENDING);
	assert_int_equal(r->n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->row[i].seq, i + 1);
		assert_memory_equal(r->row[i].id, t[i].id, KDC_UUID_LEN);
		assert_int_equal(r->row[i].state, KDC_OUTBOX_PENDING);
		assert_int_equal(r->row[i].sent_count, 0);
	}
	assert_int_equal(r->row[0].kind, KDC_KIND_VISIT);
	assert_int_equal(r->row[2].kind, KDC_KIND_PAYMENT);
	free(r);
	assert_int_equal(kdc_outbox_next_seq(f->ob, &next), KDC_OK);
	assert_int_equal(next, 4);
	assert_int_equal(record_ok(f, &t[3], KDC_KIND_SERVICE), 4);
}

static void expect_refused(struct fx *f, struct test_event *t, int reason, const char *word)
{
	struct kdc_verdict v;
	int64_t seq = -1;
	int rc = kdc_outbox_record(f->ob, &t->ev, f->now, t->id, &seq, &v);

	if (rc != KDC_ERR_INVAL)
		fail_msg("expected the event to be refused (KDC_ERR_INVAL), got %d", rc);
	if (v.reason != reason)
		fail_msg("refusal reason: expected %s, got %s (%s)", kdc_reason_name(reason),
		         kdc_reason_name(v.reason), v.detail);
	if (!strstr(v.detail, word))
		fail_msg("refusal detail should mention '%s', got '%s'", word, v.detail);
	assert_int_equal(seq, -1);
}

static void record_refuses_invalid_input_with_the_reason(void **state)
{
	struct fx *f = *state;
	struct test_event t;

	make_event(&t, KDC_KIND_SERVICE, f->now);
	t.ev.household = "H 42";
	expect_refused(f, &t, REASON(BAD_CODE), "household");

	make_event(&t, KDC_KIND_ACCOUNT, f->now);
	t.ev.member = 0;
	expect_refused(f, &t, REASON(MISSING_FIELD), "member");

	make_event(&t, KDC_KIND_PAYMENT, f->now + 2 * 86400000LL);
	expect_refused(f, &t, REASON(CLOCK_SKEW), "future");

	make_event(&t, KDC_KIND_VISIT, f->now);
	t.visit.members_15plus = 7;
	expect_refused(f, &t, REASON(BAD_VALUE), "15+");

	make_event(&t, KDC_KIND_PAYMENT, f->now);
	t.payment.method = 0;
	expect_refused(f, &t, REASON(MISSING_FIELD), "method");

	make_event(&t, KDC_KIND_SERVICE, f->now);
	t.ev.khom = "";
	expect_refused(f, &t, REASON(MISSING_FIELD), "khom");

	/* nothing written, no sequence number used up */
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 0);
	assert_int_equal(record_ok(f, &t, KDC_KIND_VISIT), 1);
}

static void receipt_deletes_committed_and_marks_rejected(void **state)
{
	struct fx *f = *state;
	struct test_event t[5];
	kdc_receipt_pb r = KDC__V1__RECEIPT__INIT;
	ProtobufCBinaryData committed[4];
	Kdc__V1__Rejection rej = KDC__V1__REJECTION__INIT, *rejp[1] = { &rej };
	struct kdc_outbox_applied a;
	uint8_t stranger[KDC_UUID_LEN];
	struct rows *rows;

	for (int i = 0; i < 5; i++)
		record_ok(f, &t[i], i % 4);
	assert_int_equal(kdc_uuid7(stranger, f->now), KDC_OK);
	committed[0] = (ProtobufCBinaryData){ KDC_UUID_LEN, t[0].id };
	committed[1] = (ProtobufCBinaryData){ KDC_UUID_LEN, t[1].id };
	committed[2] = (ProtobufCBinaryData){ KDC_UUID_LEN, stranger };
	committed[3] = (ProtobufCBinaryData){ 3, t[3].id }; /* not an id at all */
	rej.id = (ProtobufCBinaryData){ KDC_UUID_LEN, t[2].id };
	rej.reason = REASON(BAD_VALUE);
	rej.detail = "member index must be 1 to 100";
	r.device = "D1";
	r.committed = committed;
	r.n_committed = 4;
	r.rejected = rejp;
	r.n_rejected = 1;

	assert_int_equal(kdc_outbox_apply_receipt(f->ob, &r, &a), KDC_OK);
	assert_int_equal(a.committed, 2);
	assert_int_equal(a.rejected, 1);
	assert_int_equal(a.unknown, 2);

	rows = list(f->ob, KDC_OUTBOX_PENDING);
	assert_int_equal(rows->n, 2);
	assert_int_equal(rows->row[0].seq, 4);
	assert_int_equal(rows->row[1].seq, 5);
	free(rows);
	rows = list(f->ob, KDC_OUTBOX_REJECTED);
	assert_int_equal(rows->n, 1);
	assert_int_equal(rows->row[0].seq, 3);
	assert_memory_equal(rows->row[0].id, t[2].id, KDC_UUID_LEN);
	assert_int_equal(rows->row[0].reject_reason, REASON(BAD_VALUE));
	assert_string_equal(rows->row[0].reject_detail, "member index must be 1 to 100");
	free(rows);

	/* the same receipt again (a redelivery) changes nothing */
	assert_int_equal(kdc_outbox_apply_receipt(f->ob, &r, &a), KDC_OK);
	assert_int_equal(a.committed, 0);
	assert_int_equal(a.rejected, 0);
	assert_int_equal(a.unknown, 5);
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 2);
	assert_int_equal(count(f->ob, KDC_OUTBOX_REJECTED), 1);
	/* rejected rows are not sent again */
	rows = due(f->ob, 0, INT64_MAX, INT64_MAX, f->now, 100);
	assert_int_equal(rows->n, 2);
	free(rows);
}

static void resend_selection_honours_resend_after(void **state)
{
	struct fx *f = *state;
	struct test_event t[4];
	const int64_t resend_ms = 30000;
	int64_t t0 = f->now, seqs[2] = { 1, 2 }, later = t0 + 10 * 60000, three = 3;
	struct rows *r;

	for (int i = 0; i < 4; i++)
		record_ok(f, &t[i], i);

	/* first sends: every pending row after the cursor, in seq order, limited */
	r = due(f->ob, 0, INT64_MAX, INT64_MAX, t0, 100);
	assert_int_equal(r->n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r->row[i].seq, i + 1);
	free(r);
	r = due(f->ob, 0, INT64_MAX, INT64_MAX, t0, 3);
	assert_int_equal(r->n, 3);
	free(r);
	/* ... and no further than a sync's last seq */
	r = due(f->ob, 0, 3, INT64_MAX, t0, 100);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->row[2].seq, 3);
	free(r);

	/* a row never sent is never a resend, however old it is */
	r = due(f->ob, 0, INT64_MAX, t0 + 24 * 3600000LL, t0, 100);
	assert_int_equal(r->n, 0);
	free(r);

	/* 1 and 2 sent at t0: 10 s later nothing is due again */
	assert_int_equal(kdc_outbox_mark_sent(f->ob, seqs, 2, t0), KDC_OK);
	r = due(f->ob, 0, INT64_MAX, t0 + 10000 - resend_ms, t0 + 10000, 100);
	assert_int_equal(r->n, 0);
	free(r);

	/* resend-after passed: 1 and 2 are due again, the never-sent 3 and 4 not */
	r = due(f->ob, 0, INT64_MAX, t0 + 1, t0 + resend_ms + 1, 100);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->row[0].seq, 1);
	assert_int_equal(r->row[0].sent_count, 1);
	assert_int_equal(r->row[0].last_sent_ms, t0);
	assert_int_equal(r->row[1].seq, 2);
	free(r);
	r = due(f->ob, 0, 1, t0 + 1, t0 + resend_ms + 1, 100);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->row[0].seq, 1);
	free(r);

	/* after_seq skips what this connection already sent */
	r = due(f->ob, 2, INT64_MAX, INT64_MAX, t0, 100);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->row[0].seq, 3);
	free(r);

	/* a mark from a clock that has since gone back 10 minutes still resends */
	assert_int_equal(kdc_outbox_mark_sent(f->ob, &three, 1, later), KDC_OK);
	r = due(f->ob, 0, INT64_MAX, t0 - resend_ms, t0, 100);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->row[0].seq, 3);
	assert_int_equal(r->row[0].sent_count, 1);
	free(r);
}

/* Applies a receipt committing `ok` and (when not NULL) rejecting `bad`. */
static void receipt_for(struct fx *f, struct test_event *ok, struct test_event *bad)
{
	kdc_receipt_pb r = KDC__V1__RECEIPT__INIT;
	ProtobufCBinaryData committed[1] = { { KDC_UUID_LEN, ok->id } };
	Kdc__V1__Rejection rej = KDC__V1__REJECTION__INIT, *rejp[1] = { &rej };

	r.device = "D1";
	r.committed = committed;
	r.n_committed = 1;
	if (bad) {
		rej.id = (ProtobufCBinaryData){ KDC_UUID_LEN, bad->id };
		rej.reason = REASON(BAD_VALUE);
		rej.detail = "refused for the test";
		r.rejected = rejp;
		r.n_rejected = 1;
	}
	assert_int_equal(kdc_outbox_apply_receipt(f->ob, &r, NULL), KDC_OK);
}

/* A sync counts what is left of the events it started with: rows recorded
 * after its start and rejected rows are not among them. */
static void count_upto_counts_a_sync_set(void **state)
{
	struct fx *f = *state;
	struct test_event t[5];
	int64_t n = -1, next = 0;

	for (int i = 0; i < 3; i++)
		record_ok(f, &t[i], i);
	assert_int_equal(kdc_outbox_next_seq(f->ob, &next), KDC_OK);
	assert_int_equal(next, 4);
	for (int i = 3; i < 5; i++)
		record_ok(f, &t[i], i);
	assert_int_equal(kdc_outbox_count_upto(f->ob, KDC_OUTBOX_PENDING, next - 1, &n), KDC_OK);
	assert_int_equal(n, 3);
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 5);
	receipt_for(f, &t[0], NULL);
	receipt_for(f, &t[3], NULL);
	assert_int_equal(kdc_outbox_count_upto(f->ob, KDC_OUTBOX_PENDING, next - 1, &n), KDC_OK);
	assert_int_equal(n, 2);
	receipt_for(f, &t[1], &t[2]);
	assert_int_equal(kdc_outbox_count_upto(f->ob, KDC_OUTBOX_PENDING, next - 1, &n), KDC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(kdc_outbox_count_upto(f->ob, KDC_OUTBOX_REJECTED, next - 1, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 1);
}

/* Decodes a stored payload and compares every field with what was recorded. */
static void check_round_trip(const struct kdc_outbox_row *row, const struct test_event *t)
{
	struct kdc_verdict v;
	struct kdc_event_topic topic;
	char tbuf[KDC_TOPIC_MAX];
	kdc_event_pb *ev = kdc_event_decode(row->payload, row->payload_len, &v);
	const kdc_event_pb *want = &t->ev;

	if (!ev)
		fail_msg("stored payload of seq %lld does not decode: %s", (long long)row->seq, v.detail);
	assert_int_equal(ev->id.len, KDC_UUID_LEN);
	assert_memory_equal(ev->id.data, t->id, KDC_UUID_LEN);
	assert_memory_equal(row->id, t->id, KDC_UUID_LEN);
	assert_int_equal(ev->seq, row->seq);
	assert_int_equal(ev->occurred_ms, want->occurred_ms);
	assert_int_equal(ev->occurred_ms, row->occurred_ms);
	assert_string_equal(ev->ward, want->ward);
	assert_string_equal(ev->khom, want->khom);
	assert_string_equal(ev->team, want->team);
	assert_string_equal(ev->device, want->device);
	assert_string_equal(ev->household, want->household);
	assert_int_equal(ev->member, want->member);
	assert_int_equal(ev->body_case, want->body_case);
	assert_int_equal(kdc_event_kind(ev), row->kind);
	switch (row->kind) {
	case KDC_KIND_VISIT:
		assert_int_equal(ev->visit->outcome, want->visit->outcome);
		assert_int_equal(ev->visit->members, want->visit->members);
		assert_int_equal(ev->visit->members_15plus, want->visit->members_15plus);
		assert_int_equal(ev->visit->smartphones, want->visit->smartphones);
		assert_int_equal(ev->visit->n_needs, want->visit->n_needs);
		for (size_t i = 0; i < ev->visit->n_needs; i++)
			assert_int_equal(ev->visit->needs[i], want->visit->needs[i]);
		break;
	case KDC_KIND_ACCOUNT:
		assert_int_equal(ev->account->kind, want->account->kind);
		break;
	case KDC_KIND_PAYMENT:
		assert_int_equal(ev->payment->purpose, want->payment->purpose);
		assert_int_equal(ev->payment->method, want->payment->method);
		assert_int_equal(ev->payment->amount_vnd, want->payment->amount_vnd);
		break;
	case KDC_KIND_SERVICE:
		assert_int_equal(ev->service->kind, want->service->kind);
		break;
	default:
		fail_msg("unexpected kind %d", row->kind);
	}
	/* and the aggregator, seeing it on the device's topic, accepts it */
	assert_true(kdc_topic_events(tbuf, sizeof tbuf, "31975", "T1", "D1") > 0);
	assert_int_equal(kdc_event_topic_parse(tbuf, &topic), KDC_OK);
	if (kdc_event_validate(ev, &topic, "31975", kdc_now_ms(), &v) != 0)
		fail_msg("decoded event refused by the aggregator's checks: %s", v.detail);
	kdc_event_free(ev);
}

static void every_kind_round_trips_through_the_outbox_payload(void **state)
{
	struct fx *f = *state;
	struct test_event t[KDC_KIND_COUNT];
	struct rows *r;

	for (int k = 0; k < KDC_KIND_COUNT; k++)
		record_ok(f, &t[k], k);
	r = list(f->ob, KDC_OUTBOX_PENDING);
	assert_int_equal(r->n, KDC_KIND_COUNT);
	for (int k = 0; k < KDC_KIND_COUNT; k++) {
		assert_int_equal(r->row[k].kind, k);
		check_round_trip(&r->row[k], &t[k]);
	}
	free(r);
}

static void batch_commits_together_and_rollback_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct test_event t;
	struct kdc_verdict v;
	int64_t next = 0;

	assert_int_equal(kdc_outbox_begin(f->ob), KDC_OK);
	for (int i = 0; i < 500; i++)
		record_ok(f, &t, i % 4);
	kdc_outbox_rollback(f->ob);
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 0);
	assert_int_equal(kdc_outbox_next_seq(f->ob, &next), KDC_OK);
	assert_int_equal(next, 1);

	assert_int_equal(kdc_outbox_begin(f->ob), KDC_OK);
	assert_int_equal(kdc_outbox_begin(f->ob), KDC_ERR_BUSY); /* no nesting */
	for (int i = 0; i < 1000; i++) {
		if (i == 500) {
			/* a refused event inside a batch writes nothing and the batch goes on */
			make_event(&t, KDC_KIND_ACCOUNT, f->now);
			t.ev.member = 0;
			assert_int_equal(kdc_outbox_record(f->ob, &t.ev, f->now, t.id, NULL, &v),
			                 KDC_ERR_INVAL);
		}
		assert_int_equal(record_ok(f, &t, i % 4), i + 1);
	}
	assert_int_equal(kdc_outbox_commit(f->ob), KDC_OK);
	assert_int_equal(count(f->ob, KDC_OUTBOX_PENDING), 1000);
	assert_int_equal(kdc_outbox_next_seq(f->ob, &next), KDC_OK);
	assert_int_equal(next, 1001);
}

static void newer_schema_is_refused(void **state)
{
	struct fx *f = *state;
	kdc_outbox *ob = NULL;
	sqlite3 *db = NULL;
	char err[256];

	kdc_outbox_close(f->ob);
	f->ob = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(kdc_outbox_open(f->path, &ob, err, sizeof err), KDC_ERR_DB);
	assert_null(ob);
	if (!strstr(err, "newer"))
		fail_msg("expected the error to say the outbox is newer, got '%s'", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(outbox_survives_reopen_with_pending_rows_and_sequence, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(record_refuses_invalid_input_with_the_reason, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(receipt_deletes_committed_and_marks_rejected, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(resend_selection_honours_resend_after, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(count_upto_counts_a_sync_set, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(every_kind_round_trips_through_the_outbox_payload, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(batch_commits_together_and_rollback_leaves_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(newer_schema_is_refused, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
