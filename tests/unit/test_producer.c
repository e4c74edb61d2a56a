/* test_producer: the device library with no broker at all. Configuration
 * errors are plain words; recording works offline and fills the device's
 * identity; sync gives up at its timeout and loses nothing; two producers in
 * one process keep separate outboxes; a sync counts only what was pending
 * when it started; the history of stored events is purged after history-days
 * when a producer opens and after a sync. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_util.h"
#include "correct.h"
#include "producer.h"

static char tmpdir[400];

/* A 127.0.0.1 port nobody listens on (bound, then released). */
static int dead_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void outbox_path(char *buf, size_t len, const char *device)
{
	char p[600];

	snprintf(buf, len, "%s/producer-%d-%s.db", tmpdir, (int)getpid(), device);
	unlink(buf);
	snprintf(p, sizeof p, "%s-wal", buf);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", buf);
	unlink(p);
}

static void set(struct kdc_producer_conf *c, const char *name, const char *value)
{
	char err[256];

	if (kdc_conf_set(kdc_producer_opts, c, name, value, err, sizeof err) != KDC_OK)
		fail_msg("setting %s: %s", name, err);
}

/* A complete conf for device `device` pointing at a dead broker. */
static void make_conf(struct kdc_producer_conf *c, const char *device, char *path, size_t len)
{
	char url[64];

	memset(c, 0, sizeof *c);
	assert_int_equal(kdc_conf_defaults(kdc_producer_opts, c), KDC_OK);
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dead_port());
	outbox_path(path, len, device);
	set(c, "broker", url);
	set(c, "ward", "31975");
	set(c, "team", "T1");
	set(c, "device", device);
	set(c, "outbox", path);
}

static void visit(kdc_event_pb *ev, Kdc__V1__HouseholdVisited *b)
{
	kdc__v1__event__init(ev);
	kdc__v1__household_visited__init(b);
	b->outcome = KDC__V1__VISIT_OUTCOME__VISIT_OUTCOME_NOT_HOME;
	ev->khom = "6";
	ev->household = "H0001";
	ev->body_case = KDC__V1__EVENT__BODY_VISIT;
	ev->visit = b;
}

static void expect_conf_error(struct kdc_producer_conf *c, int need_identity, const char *words)
{
	char err[512] = "";

	if (kdc_producer_check_conf(c, need_identity, err, sizeof err) != KDC_ERR_CONFIG)
		fail_msg("expected a configuration error mentioning '%s', got none", words);
	if (!strstr(err, words))
		fail_msg("expected the error to mention '%s', got '%s'", words, err);
}

static void configuration_errors_are_plain_words(void **state)
{
	struct kdc_producer_conf c;
	char path[512], err[512];

	make_conf(&c, "D1", path, sizeof path);
	assert_int_equal(kdc_producer_check_conf(&c, 1, err, sizeof err), KDC_OK);
	set(&c, "device", "D 1");
	expect_conf_error(&c, 1, "device 'D 1' is not a valid code");
	set(&c, "device", "");
	expect_conf_error(&c, 1, "device is not set");
	/* listing the outbox does not need the identity */
	assert_int_equal(kdc_producer_check_conf(&c, 0, err, sizeof err), KDC_OK);
	set(&c, "device", "D1");
	set(&c, "mqtt-version", "4.0");
	expect_conf_error(&c, 1, "mqtt-version must be auto, 5 or 3.1.1");
	set(&c, "mqtt-version", "3.1.1");
	set(&c, "outbox", "");
	expect_conf_error(&c, 0, "outbox is not set");
	assert_null(kdc_producer_new(&c, err, sizeof err));
	kdc_conf_free(kdc_producer_opts, &c);
}

/* kdc-event --at without an offset means the ward's local time: utc-offset,
 * Vietnam's +07:00 unless the device config says otherwise. */
static void utc_offset_is_the_wards_local_time(void **state)
{
	struct kdc_producer_conf c;
	char path[512], err[512];

	(void)state;
	make_conf(&c, "D1", path, sizeof path);
	assert_int_equal(c.utc_offset_min, 7 * 60);
	set(&c, "utc-offset", "-03:30");
	assert_int_equal(c.utc_offset_min, -210);
	assert_int_equal(kdc_conf_set(kdc_producer_opts, &c, "utc-offset", "+7:00 ICT", err, sizeof err),
	                 KDC_ERR_CONFIG);
	assert_non_null(strstr(err, "utc-offset must look like +07:00"));
	kdc_conf_free(kdc_producer_opts, &c);
}

/* A receipt saying id is stored, applied at `at` on p's outbox. */
static void receipted_at(kdc_producer *p, const uint8_t id[KDC_UUID_LEN], int64_t at)
{
	kdc_receipt_pb r = KDC__V1__RECEIPT__INIT;
	ProtobufCBinaryData c = { KDC_UUID_LEN, (uint8_t *)id };

	r.device = "D1";
	r.committed = &c;
	r.n_committed = 1;
	assert_int_equal(kdc_outbox_apply_receipt_at(kdc_producer_outbox(p), &r, at, NULL), KDC_OK);
}

static int64_t history_rows(kdc_producer *p)
{
	int64_t n = -1;

	assert_int_equal(kdc_history_count(kdc_producer_outbox(p), &n), KDC_OK);
	return n;
}

#define DAY_MS 86400000LL

static void history_is_purged_at_open_and_after_a_sync(void **state)
{
	struct kdc_producer_conf c;
	struct kdc_verdict v;
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited b;
	uint8_t old[KDC_UUID_LEN], recent[KDC_UUID_LEN], later[KDC_UUID_LEN];
	char path[512], err[512];
	kdc_producer *p;
	int64_t now = kdc_now_ms();

	(void)state;
	make_conf(&c, "D1", path, sizeof path);
	assert_int_equal(c.history_days, 60);
	p = kdc_producer_new(&c, err, sizeof err);
	if (!p)
		fail_msg("kdc_producer_new: %s", err);
	visit(&ev, &b);
	assert_int_equal(kdc_producer_record(p, &ev, old, &v), KDC_OK);
	visit(&ev, &b);
	assert_int_equal(kdc_producer_record(p, &ev, recent, &v), KDC_OK);
	receipted_at(p, old, now - 61 * DAY_MS);
	receipted_at(p, recent, now - DAY_MS);
	assert_int_equal(history_rows(p), 2);
	kdc_producer_free(p);

	/* opening purges what was stored more than 60 days ago */
	p = kdc_producer_new(&c, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(history_rows(p), 1);
	/* so does the end of a sync (nothing pending: it ends at once) */
	visit(&ev, &b);
	assert_int_equal(kdc_producer_record(p, &ev, later, &v), KDC_OK);
	receipted_at(p, later, now - 70 * DAY_MS);
	assert_int_equal(history_rows(p), 2);
	assert_int_equal(kdc_producer_sync(p, 5000, NULL, NULL, NULL), KDC_OK);
	assert_int_equal(history_rows(p), 1);
	kdc_producer_free(p);

	/* history-days 0 keeps none */
	set(&c, "history-days", "0");
	p = kdc_producer_new(&c, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(history_rows(p), 0);
	kdc_producer_free(p);
	kdc_conf_free(kdc_producer_opts, &c);
	outbox_path(path, sizeof path, "D1");
}

struct progress {
	int calls;
	struct kdc_producer_stats last;
};

static void on_progress(void *ud, const struct kdc_producer_stats *s)
{
	struct progress *pr = ud;

	pr->calls++;
	pr->last = *s;
}

static void offline_record_then_sync_times_out_keeping_everything(void **state)
{
	struct kdc_producer_conf c;
	struct kdc_verdict v;
	struct progress pr = { 0 };
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited b;
	uint8_t id[KDC_UUID_LEN];
	char path[512], err[512];
	kdc_producer *p;
	int64_t n = -1, t0, took;

	make_conf(&c, "D1", path, sizeof path);
	p = kdc_producer_new(&c, err, sizeof err);
	if (!p)
		fail_msg("kdc_producer_new: %s", err);
	for (int i = 0; i < 3; i++) {
		visit(&ev, &b);
		ev.device = "SOMEONE_ELSE"; /* a device records only as itself */
		if (kdc_producer_record(p, &ev, id, &v) != KDC_OK)
			fail_msg("offline record refused: %s", v.detail);
		assert_string_equal(ev.device, "D1");
		assert_string_equal(ev.ward, "31975");
		assert_string_equal(ev.team, "T1");
		assert_true(ev.occurred_ms > 0);
		assert_int_equal(ev.seq, i + 1);
	}
	assert_int_equal(kdc_producer_pending(p, &n), KDC_OK);
	assert_int_equal(n, 3);

	t0 = kdc_mono_ms();
	/* it gives up at the timeout, naming why: nothing listens on that port */
	assert_int_equal(kdc_producer_sync(p, 1500, NULL, on_progress, &pr), KDC_ERR_CONN_REFUSED);
	took = kdc_mono_ms() - t0;
	if (took < 1400 || took > 10000) /* the upper bound allows a loaded machine */
		fail_msg("sync with a 1.5 s timeout took %lld ms", (long long)took);
	assert_true(pr.calls >= 1);
	assert_int_equal(pr.last.connected, 0);
	assert_int_equal(pr.last.published, 0);
	assert_int_equal(pr.last.pending, 3);
	assert_int_equal(kdc_producer_connected(p), 0);
	kdc_producer_free(p);

	/* everything is still there for the next try */
	p = kdc_producer_new(&c, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(kdc_producer_pending(p, &n), KDC_OK);
	assert_int_equal(n, 3);
	kdc_producer_free(p);
	kdc_conf_free(kdc_producer_opts, &c);
	outbox_path(path, sizeof path, "D1");
}

/* Another connection to the same outbox (another kdc-event process) records
 * one event at every progress call of a running sync. */
struct recorder {
	kdc_producer *other;
	int recorded;
	struct kdc_producer_stats last;
};

static void record_on_progress(void *ud, const struct kdc_producer_stats *s)
{
	struct recorder *r = ud;
	struct kdc_verdict v;
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited b;
	uint8_t id[KDC_UUID_LEN];

	r->last = *s;
	visit(&ev, &b);
	if (kdc_producer_record(r->other, &ev, id, &v) != KDC_OK)
		fail_msg("recording during the sync refused: %s", v.detail);
	r->recorded++;
}

/* A sync's set is what was pending when it started: events recorded while it
 * runs (by another process) neither count as its pending events nor keep it
 * from ending. Offline it times out, still counting only its own 3 (it used
 * to recount the whole outbox every 2 s and wait for all of it). */
static void sync_waits_only_for_what_was_pending_at_its_start(void **state)
{
	struct kdc_producer_conf c;
	struct recorder rec = { 0 };
	struct kdc_verdict v;
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited b;
	uint8_t id[KDC_UUID_LEN];
	char path[512], err[512];
	kdc_producer *p;
	int64_t n = -1;

	make_conf(&c, "D3", path, sizeof path);
	p = kdc_producer_new(&c, err, sizeof err);
	if (!p)
		fail_msg("kdc_producer_new: %s", err);
	rec.other = kdc_producer_new(&c, err, sizeof err);
	if (!rec.other)
		fail_msg("kdc_producer_new (second connection): %s", err);
	for (int i = 0; i < 3; i++) {
		visit(&ev, &b);
		if (kdc_producer_record(p, &ev, id, &v) != KDC_OK)
			fail_msg("offline record refused: %s", v.detail);
	}
	/* past the 2 s recount, with a progress call every 250 ms */
	assert_int_equal(kdc_producer_sync(p, 2600, NULL, record_on_progress, &rec),
	                 KDC_ERR_CONN_REFUSED);
	assert_true(rec.recorded >= 5);
	assert_int_equal(rec.last.pending, 3);
	assert_int_equal(rec.last.published, 0);
	/* all of them are in the outbox, for the next sync */
	assert_int_equal(kdc_producer_pending(p, &n), KDC_OK);
	assert_int_equal(n, 3 + rec.recorded);
	kdc_producer_free(rec.other);
	kdc_producer_free(p);
	kdc_conf_free(kdc_producer_opts, &c);
	outbox_path(path, sizeof path, "D3");
}

static void two_producers_in_one_process_keep_separate_outboxes(void **state)
{
	struct kdc_producer_conf c1, c2;
	struct kdc_producer_stats s;
	struct kdc_verdict v;
	kdc_event_pb ev;
	Kdc__V1__HouseholdVisited b;
	uint8_t id[KDC_UUID_LEN];
	char path1[512], path2[512], err[512];
	kdc_producer *p1, *p2;
	int64_t n = -1;

	make_conf(&c1, "D1", path1, sizeof path1);
	make_conf(&c2, "D2", path2, sizeof path2);
	p1 = kdc_producer_new(&c1, err, sizeof err);
	p2 = kdc_producer_new(&c2, err, sizeof err);
	assert_non_null(p1);
	assert_non_null(p2);
	/* a batch in one does not block the other */
	assert_int_equal(kdc_outbox_begin(kdc_producer_outbox(p1)), KDC_OK);
	for (int i = 0; i < 5; i++) {
		visit(&ev, &b);
		assert_int_equal(kdc_producer_record(p1, &ev, id, &v), KDC_OK);
	}
	visit(&ev, &b);
	assert_int_equal(kdc_producer_record(p2, &ev, id, &v), KDC_OK);
	assert_int_equal(kdc_outbox_commit(kdc_producer_outbox(p1)), KDC_OK);
	/* both poll without a broker and without blocking each other */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kdc_producer_poll(p1, 0), KDC_OK);
		assert_int_equal(kdc_producer_poll(p2, 0), KDC_OK);
	}
	assert_int_equal(kdc_producer_pending(p1, &n), KDC_OK);
	assert_int_equal(n, 5);
	assert_int_equal(kdc_producer_pending(p2, &n), KDC_OK);
	assert_int_equal(n, 1);
	kdc_producer_stats(p1, &s);
	assert_int_equal(s.recorded, 5);
	assert_int_equal(s.pending, 5);
	kdc_producer_free(p1);
	kdc_producer_free(p2);
	kdc_conf_free(kdc_producer_opts, &c1);
	kdc_conf_free(kdc_producer_opts, &c2);
	outbox_path(path1, sizeof path1, "D1");
	outbox_path(path2, sizeof path2, "D2");
}

int main(void)
{
	const char *dir = getenv("KDC_TEST_TMP");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(configuration_errors_are_plain_words),
		cmocka_unit_test(utc_offset_is_the_wards_local_time),
		cmocka_unit_test(offline_record_then_sync_times_out_keeping_everything),
		cmocka_unit_test(two_producers_in_one_process_keep_separate_outboxes),
		cmocka_unit_test(sync_waits_only_for_what_was_pending_at_its_start),
		cmocka_unit_test(history_is_purged_at_open_and_after_a_sync),
	};

	snprintf(tmpdir, sizeof tmpdir, "%s", dir && *dir ? dir : "/tmp");
	kdc_log_set_level(KDC_LOG_ERROR); /* "cannot connect" warnings are expected here */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
