/* test_writer.c: the writer thread between a real ingest queue, a real SQLite
 * file and the publish queue (no broker): events are stored once and
 * receipted (duplicates too), bad payloads are kept as rejected and receipted
 * with their reason, one receipt goes to each device, and a batch that cannot
 * be committed sends no receipt and reports the writer degraded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ingest.h"
#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "outq.h"
#include "store.h"
#include "writer.h"

#define WARD "31975"

struct fixture {
	char path[512];
	kdc_store *store;
	kdc_ingest *in;
	kdc_outq *out;
	kdc_writer *w;
};

static void fixture_open(struct fixture *f, const char *name)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char err[512] = "", side[600];

	snprintf(f->path, sizeof f->path, "%s/writer-%d-%s.db", dir && *dir ? dir : "/tmp",
	         (int)getpid(), name);
	unlink(f->path);
	snprintf(side, sizeof side, "%s-wal", f->path);
	unlink(side);
	f->store = kdc_store_open(f->path, NULL, err, sizeof err);
	if (!f->store)
		fail_msg("store: %s", err);
	f->in = kdc_ingest_new(1024);
	f->out = kdc_outq_new(1 << 20);
	assert_non_null(f->in);
	assert_non_null(f->out);
}

static void fixture_start_with(struct fixture *f, size_t batch_max, int batch_ms)
{
	struct kdc_writer_conf c = KDC_WRITER_CONF_INIT;
	char err[256] = "";

	c.ward = WARD;
	c.batch_max = batch_max;
	c.batch_ms = batch_ms;
	f->w = kdc_writer_start(&c, f->store, NULL, f->in, f->out, err, sizeof err);
	if (!f->w)
		fail_msg("writer: %s", err);
}

static void fixture_start(struct fixture *f)
{
	fixture_start_with(f, 100, 20);
}

static void fixture_close(struct fixture *f)
{
	char side[600];

	kdc_writer_stop(f->w);
	kdc_store_close(f->store);
	kdc_ingest_free(f->in);
	kdc_outq_free(f->out);
	unlink(f->path);
	snprintf(side, sizeof side, "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", f->path);
	unlink(side);
}

/* Packs a valid payment event of device dev (team T1) into buf. */
static size_t make_event(uint8_t *buf, const char *dev, uint64_t seq, uint8_t id[KDC_UUID_LEN])
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__PaymentMade pay = KDC__V1__PAYMENT_MADE__INIT;
	int64_t now = kdc_now_ms();

	assert_int_equal(kdc_uuid7(id, now), KDC_OK);
	ev.id.data = id;
	ev.id.len = KDC_UUID_LEN;
	ev.seq = seq;
	ev.occurred_ms = now - 3600 * 1000;
	ev.ward = WARD;
	ev.khom = "6";
	ev.team = "T1";
	ev.device = (char *)dev;
	ev.household = "H001";
	ev.member = 1;
	ev.body_case = KDC__V1__EVENT__BODY_PAYMENT;
	pay.purpose = KDC__V1__PAYMENT_PURPOSE__PAYMENT_PURPOSE_WATER;
	pay.method = KDC__V1__PAYMENT_METHOD__PAYMENT_METHOD_QR_CODE;
	pay.amount_vnd = 120000;
	ev.payment = &pay;
	return kdc__v1__event__pack(&ev, buf);
}

static long long count(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	/* a second connection, as the tests' sqlite3 would read it */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static kdc_receipt_pb *receipt_for(struct fixture *f, const char *device)
{
	struct kdc_outq_msg *m;
	char topic[128];

	snprintf(topic, sizeof topic, "kdc/v1/" WARD "/receipts/%s", device);
	while ((m = kdc_outq_pop(f->out))) {
		if (!m->retain && strcmp(m->topic, topic) == 0) {
			kdc_receipt_pb *r = kdc__v1__receipt__unpack(NULL, m->len, m->payload);
			kdc_outq_msg_free(m);
			assert_non_null(r);
			return r;
		}
		kdc_outq_msg_free(m);
	}
	fail_msg("no receipt on %s", topic);
	return NULL;
}

static void test_events_stored_once_and_all_receipted(void **state)
{
	struct fixture f;
	uint8_t buf[512], id1[16], id2[16], id3[16];
	size_t n1, n2, n3;
	kdc_receipt_pb *r;

	fixture_open(&f, "ok");
	fixture_start(&f);
	n1 = make_event(buf, "D1", 1, id1);
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", buf, n1), KDC_OK);
	/* the same event again (a resend), in the same batch */
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", buf, n1), KDC_OK);
	n2 = make_event(buf, "D1", 2, id2);
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", buf, n2), KDC_OK);
	n3 = make_event(buf, "D2", 1, id3);
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D2", buf, n3), KDC_OK);
	/* garbage, a bad topic, a payload naming another device, one too large */
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", "\xff\xff\xff", 3), KDC_OK);
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T 1/D3", "x", 1), KDC_OK);
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D3", buf, n3), KDC_OK);
	{
		static uint8_t big[KDC_MAX_EVENT_BYTES + 1];
		assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D3", big, sizeof big), KDC_OK);
	}
	kdc_writer_stop(f.w); /* drains and commits everything queued */
	f.w = NULL;

	assert_int_equal(count(&f, "SELECT count(*) FROM events"), 3);
	assert_int_equal(count(&f, "SELECT count(*) FROM rejected"), 4);
	assert_int_equal(count(&f, "SELECT count(*) FROM rejected WHERE reason_name = 'malformed' AND device = 'D1'"), 1);
	assert_int_equal(count(&f, "SELECT count(*) FROM rejected WHERE reason_name = 'bad_topic' AND device = 'D3'"), 1);
	assert_int_equal(count(&f, "SELECT count(*) FROM rejected WHERE reason_name = 'topic_mismatch' AND event_id IS NOT NULL"), 1);
	assert_int_equal(count(&f, "SELECT payload_len FROM rejected WHERE reason_name = 'too_large'"), KDC_MAX_EVENT_BYTES + 1);
	assert_int_equal(count(&f, "SELECT amount_vnd FROM events WHERE device = 'D2'"), 120000);

	/* retained stats are popped first; receipts per device follow */
	r = receipt_for(&f, "D1");
	assert_string_equal(r->device, "D1");
	assert_int_equal(r->n_committed, 3); /* id1 twice (the duplicate is receipted), id2 */
	assert_memory_equal(r->committed[0].data, id1, 16);
	assert_memory_equal(r->committed[1].data, id1, 16);
	assert_memory_equal(r->committed[2].data, id2, 16);
	assert_int_equal(r->n_rejected, 1);
	assert_int_equal(r->rejected[0]->reason, KDC__V1__REJECT_REASON__REJECT_REASON_MALFORMED);
	assert_int_equal(r->rejected[0]->id.len, 0);
	kdc__v1__receipt__free_unpacked(r, NULL);
	r = receipt_for(&f, "D2");
	assert_int_equal(r->n_committed, 1);
	assert_memory_equal(r->committed[0].data, id3, 16);
	kdc__v1__receipt__free_unpacked(r, NULL);
	r = receipt_for(&f, "D3");
	assert_int_equal(r->n_committed, 0);
	assert_int_equal(r->n_rejected, 3);
	assert_int_equal(r->rejected[0]->reason, KDC__V1__REJECT_REASON__REJECT_REASON_BAD_TOPIC);
	assert_int_equal(r->rejected[1]->reason, KDC__V1__REJECT_REASON__REJECT_REASON_TOPIC_MISMATCH);
	assert_memory_equal(r->rejected[1]->id.data, id3, 16);
	assert_non_null(strstr(r->rejected[1]->detail, "device D2"));
	assert_int_equal(r->rejected[2]->reason, KDC__V1__REJECT_REASON__REJECT_REASON_TOO_LARGE);
	kdc__v1__receipt__free_unpacked(r, NULL);
	assert_true(kdc_outq_empty(f.out));
	fixture_close(&f);
}

static void test_failed_commit_sends_no_receipt_and_degrades(void **state)
{
	struct fixture f;
	uint8_t buf[512], id[16];
	char reason[128] = "";
	struct kdc_writer_counters c;
	uint64_t gen0, gen1;

	fixture_open(&f, "full");
	/* as good as a full disk: SQLite answers SQLITE_FULL */
	assert_int_equal(sqlite3_exec(kdc_store_db(f.store), "PRAGMA max_page_count = 4", NULL, NULL, NULL),
	                 SQLITE_OK);
	fixture_start(&f);
	assert_int_equal(kdc_writer_health(f.w, NULL, 0, &gen0), 0);
	for (int i = 0; i < 300; i++) {
		size_t n = make_event(buf, "D1", (uint64_t)i + 1, id);
		assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", buf, n), KDC_OK);
	}
	/* until every message is judged (30 s at most: a loaded machine) */
	for (int64_t t0 = kdc_mono_ms();; usleep(10000)) {
		kdc_writer_counters(f.w, &c);
		if (c.not_stored + c.stored == 300)
			break;
		if (kdc_mono_ms() - t0 > 30000)
			fail_msg("the writer judged %llu of 300 messages within 30 s",
			         (unsigned long long)(c.not_stored + c.stored));
	}
	assert_int_equal(kdc_writer_health(f.w, reason, sizeof reason, &gen1), 1);
	assert_string_equal(reason, "disk full: events are not being stored");
	assert_true(gen1 != gen0);
	kdc_writer_counters(f.w, &c);
	assert_true(c.failed_batches >= 1);
	assert_int_equal(c.not_stored + c.stored, 300);
	kdc_writer_stop(f.w);
	f.w = NULL;
	/* receipts name exactly the events committed; the rest must be resent */
	{
		struct kdc_outq_msg *m;
		long long receipted = 0;
		while ((m = kdc_outq_pop(f.out))) {
			if (!m->retain) {
				kdc_receipt_pb *r = kdc__v1__receipt__unpack(NULL, m->len, m->payload);
				assert_non_null(r);
				receipted += (long long)r->n_committed;
				kdc__v1__receipt__free_unpacked(r, NULL);
			}
			kdc_outq_msg_free(m);
		}
		assert_int_equal(receipted, (long long)c.stored);
	}
	assert_int_equal(count(&f, "SELECT count(*) FROM events"), (long long)c.stored);
	fixture_close(&f);
}

/* The decoder keeps one event's fields in a fixed arena; a payload under the
 * size limit that unpacks into more than that (thousands of repeated needs)
 * spills to the heap and is still judged: rejected for its values, with its
 * id, and nothing leaks (the sanitizer build checks). */
static void test_event_bigger_than_the_decode_arena_is_judged(void **state)
{
	struct fixture f;
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__HouseholdVisited visit = KDC__V1__HOUSEHOLD_VISITED__INIT;
	Kdc__V1__Need needs[4000];
	uint8_t buf[KDC_MAX_EVENT_BYTES], id[16];
	int64_t now = kdc_now_ms();
	size_t n;
	kdc_receipt_pb *r;

	(void)state;
	for (size_t i = 0; i < 4000; i++)
		needs[i] = KDC__V1__NEED__NEED_INSTALL_APP;
	assert_int_equal(kdc_uuid7(id, now), KDC_OK);
	ev.id.data = id;
	ev.id.len = 16;
	ev.seq = 1;
	ev.occurred_ms = now - 60000;
	ev.ward = WARD;
	ev.khom = "6";
	ev.team = "T1";
	ev.device = "D1";
	ev.household = "H001";
	ev.body_case = KDC__V1__EVENT__BODY_VISIT;
	visit.outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_SURVEYED;
	visit.n_needs = 4000;
	visit.needs = needs;
	ev.visit = &visit;
	assert_true(kdc__v1__event__get_packed_size(&ev) <= sizeof buf);
	n = kdc__v1__event__pack(&ev, buf);
	fixture_open(&f, "arena");
	fixture_start(&f);
	assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", buf, n), KDC_OK);
	kdc_writer_stop(f.w);
	f.w = NULL;
	assert_int_equal(count(&f, "SELECT count(*) FROM events"), 0);
	assert_int_equal(count(&f, "SELECT count(*) FROM rejected WHERE reason_name = 'bad_value'"), 1);
	r = receipt_for(&f, "D1");
	assert_int_equal(r->n_rejected, 1);
	assert_int_equal(r->rejected[0]->reason, KDC__V1__REJECT_REASON__REJECT_REASON_BAD_VALUE);
	assert_memory_equal(r->rejected[0]->id.data, id, 16);
	kdc__v1__receipt__free_unpacked(r, NULL);
	fixture_close(&f);
}

/* A batch that stops growing (the end of a backlog, a lone event) is
 * committed and receipted once the flow pauses, not after the whole window. */
static void test_paused_flow_is_committed_before_the_window_ends(void **state)
{
	struct fixture f;
	uint8_t buf[512], id[16];
	struct kdc_outq_msg *m;
	struct kdc_writer_counters c;
	long long receipted = 0;
	int64_t t0, waited;

	fixture_open(&f, "gap");
	/* a window far longer than any scheduling delay of a loaded machine */
	fixture_start_with(&f, 1000, 30000);
	t0 = kdc_mono_ms();
	for (int i = 0; i < 5; i++) {
		size_t n = make_event(buf, "D1", (uint64_t)i + 1, id);
		assert_int_equal(kdc_ingest_put(f.in, "kdc/v1/" WARD "/events/T1/D1", buf, n), KDC_OK);
	}
	while (receipted < 5 && kdc_mono_ms() - t0 < 40000) {
		kdc_outq_wait(f.out, 100);
		while ((m = kdc_outq_pop(f.out))) {
			if (!m->retain) {
				kdc_receipt_pb *r = kdc__v1__receipt__unpack(NULL, m->len, m->payload);
				assert_non_null(r);
				receipted += (long long)r->n_committed;
				kdc__v1__receipt__free_unpacked(r, NULL);
			}
			kdc_outq_msg_free(m);
		}
	}
	waited = kdc_mono_ms() - t0;
	assert_int_equal(receipted, 5);
	if (waited >= 15000)
		fail_msg("receipts came after %lld ms: the 30000 ms window was not cut short by "
		         "the pause", (long long)waited);
	kdc_writer_counters(f.w, &c);
	assert_int_equal(c.stored, 5);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_stored_once_and_all_receipted),
		cmocka_unit_test(test_failed_commit_sends_no_receipt_and_degrades),
		cmocka_unit_test(test_paused_flow_is_committed_before_the_window_ends),
		cmocka_unit_test(test_event_bigger_than_the_decode_arena_is_judged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
