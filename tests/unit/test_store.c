/* test_store.c: the aggregator's SQLite store, on real files: an event id is
 * stored once, rejected payloads keep their reason and bytes, reopening
 * migrates once and refuses newer schemas, the file is private, and a full
 * database is reported as a full disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kdc_err.h"
#include "kdc_proto.h"
#include "kdc_util.h"
#include "store.h"

static char test_path[512];

/* A fresh database path under KDC_TEST_TMP (or /tmp), with no leftovers. */
static const char *fresh_db(const char *name)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char side[600];

	snprintf(test_path, sizeof test_path, "%s/store-%d-%s.db", dir && *dir ? dir : "/tmp",
	         (int)getpid(), name);
	unlink(test_path);
	snprintf(side, sizeof side, "%s-wal", test_path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", test_path);
	unlink(side);
	return test_path;
}

static void drop_db(const char *path)
{
	char side[600];

	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

static kdc_store *open_ok(const char *path)
{
	char err[512] = "";
	kdc_store *s = kdc_store_open(path, NULL, err, sizeof err);

	if (!s)
		fail_msg("kdc_store_open(%s) failed: %s", path, err);
	return s;
}

static void make_row(struct kdc_event_row *r, int n)
{
	memset(r, 0, sizeof *r);
	assert_int_equal(kdc_uuid7(r->id, 1795000000000LL + n), KDC_OK);
	r->seq = n + 1;
	r->occurred_ms = 1795000000000LL + n;
	r->received_ms = 1795000001000LL + n;
	strcpy(r->ward, "31975");
	strcpy(r->khom, "6");
	strcpy(r->team, "T1");
	strcpy(r->device, "D1");
	snprintf(r->household, sizeof r->household, "H%03d", n);
	r->kind = KDC_KIND_PAYMENT;
	r->member = 2;
	r->subkind = 1;
	r->method = 2;
	r->amount_vnd = 150000;
}

static long long query_ll(kdc_store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(kdc_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_store_refuses_second_copy_of_event_id(void **state)
{
	const char *path = fresh_db("dup");
	struct kdc_event_row a, b;
	kdc_store *s = open_ok(path);
	int inserted = -1;

	make_row(&a, 1);
	make_row(&b, 2);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &a, &inserted), KDC_OK);
	assert_int_equal(inserted, 1);
	/* the same id again in the same transaction, with other values */
	a.seq = 99;
	assert_int_equal(kdc_store_add_event(s, &a, &inserted), KDC_OK);
	assert_int_equal(inserted, 0);
	assert_int_equal(kdc_store_add_event(s, &b, &inserted), KDC_OK);
	assert_int_equal(inserted, 1);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	kdc_store_close(s);

	/* and again after a reopen, as after a crash and a device's resend */
	s = open_ok(path);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &b, &inserted), KDC_OK);
	assert_int_equal(inserted, 0);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM events"), 2);
	/* the first copy's values were kept, not the second's */
	assert_int_equal(query_ll(s, "SELECT seq FROM events WHERE household = 'H001'"), 2);
	assert_int_equal(query_ll(s, "SELECT amount_vnd FROM events WHERE household = 'H002'"), 150000);
	kdc_store_close(s);
	drop_db(path);
}

/* Many rows to a statement: new rows, ids stored before, and ids repeated
 * within the call, across whole statements and a remainder; the flags and the
 * table agree, and the first copy of each id is the one kept. */
static void test_add_events_flags_duplicates_in_and_across_calls(void **state)
{
	const char *path = fresh_db("many");
	enum { N = 3 * KDC_STORE_ROWS_PER_INSERT + 5 };
	struct kdc_event_row rows[N], old;
	uint8_t inserted[N];
	kdc_store *s = open_ok(path);
	int one = -1, want_new = 0;

	(void)state;
	make_row(&old, 1000);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &old, &one), KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	for (int i = 0; i < N; i++)
		make_row(&rows[i], i);
	/* the second statement meets a stored id, the third an id of the first,
	 * the remainder an id of its own */
	rows[KDC_STORE_ROWS_PER_INSERT + 3] = old;
	rows[2 * KDC_STORE_ROWS_PER_INSERT + 7] = rows[4];
	rows[2 * KDC_STORE_ROWS_PER_INSERT + 7].seq = 777;
	rows[N - 1] = rows[N - 3];
	memset(inserted, 0xee, sizeof inserted);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_events(s, rows, N, inserted), KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	for (int i = 0; i < N; i++) {
		int dup = i == KDC_STORE_ROWS_PER_INSERT + 3 || i == 2 * KDC_STORE_ROWS_PER_INSERT + 7 ||
		          i == N - 1;
		if (inserted[i] != !dup)
			fail_msg("row %d: inserted %d, expected %d", i, inserted[i], !dup);
		want_new += !dup;
	}
	assert_int_equal(query_ll(s, "SELECT count(*) FROM events"), want_new + 1);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM events WHERE seq = 777"), 0);
	/* all of them again: nothing new */
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_events(s, rows, N, inserted), KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	for (int i = 0; i < N; i++)
		assert_int_equal(inserted[i], 0);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM events"), want_new + 1);
	kdc_store_close(s);
	drop_db(path);
}

static void test_rolled_back_event_is_not_stored(void **state)
{
	const char *path = fresh_db("rollback");
	struct kdc_event_row a;
	kdc_store *s = open_ok(path);
	int inserted;

	make_row(&a, 7);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &a, &inserted), KDC_OK);
	kdc_store_rollback(s);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM events"), 0);
	/* the id is free again: a resend after the failure is stored as new */
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &a, &inserted), KDC_OK);
	assert_int_equal(inserted, 1);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	kdc_store_close(s);
	drop_db(path);
}

static void test_rejected_row_kept_with_reason(void **state)
{
	const char *path = fresh_db("rejected");
	static uint8_t big[100000];
	const uint8_t raw[] = { 0x0a, 0x00, 0xff, 0x00, 0x42 };
	uint8_t id[KDC_UUID_LEN];
	kdc_store *s = open_ok(path);
	sqlite3_stmt *st;
	struct kdc_rejected_row r = {
		.received_ms = 1795000000123LL,
		.topic = "kdc/v1/31975/events/T1/D1",
		.device = "D1",
		.event_id = id,
		.reason = KDC__V1__REJECT_REASON__REJECT_REASON_TOPIC_MISMATCH,
		.detail = "event names device D2, its topic another",
		.payload = raw,
		.payload_kept = sizeof raw,
		.payload_len = sizeof raw,
	};

	assert_int_equal(kdc_uuid7(id, 1795000000000LL), KDC_OK);
	memset(big, 0x5a, sizeof big);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_rejected(s, &r), KDC_OK);
	/* no device, no id, an oversized payload of which the first
	 * KDC_STORE_REJECTED_PAYLOAD_MAX bytes are kept */
	r.device = NULL;
	r.event_id = NULL;
	r.reason = KDC__V1__REJECT_REASON__REJECT_REASON_TOO_LARGE;
	r.detail = "payload is 100000 bytes, the limit is 4096";
	r.payload = big;
	r.payload_kept = sizeof big;
	r.payload_len = sizeof big;
	assert_int_equal(kdc_store_add_rejected(s, &r), KDC_OK);
	/* an empty payload is still a blob */
	r.reason = KDC__V1__REJECT_REASON__REJECT_REASON_MALFORMED;
	r.payload_kept = r.payload_len = 0;
	assert_int_equal(kdc_store_add_rejected(s, &r), KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);

	assert_int_equal(sqlite3_prepare_v2(kdc_store_db(s),
	                 "SELECT received_ms, topic, device, event_id, reason, reason_name, detail,"
	                 " payload_len, payload FROM rejected ORDER BY rid", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1795000000123LL);
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "kdc/v1/31975/events/T1/D1");
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "D1");
	assert_int_equal(sqlite3_column_bytes(st, 3), KDC_UUID_LEN);
	assert_memory_equal(sqlite3_column_blob(st, 3), id, KDC_UUID_LEN);
	assert_int_equal(sqlite3_column_int(st, 4), 8);
	assert_string_equal((const char *)sqlite3_column_text(st, 5), "topic_mismatch");
	assert_string_equal((const char *)sqlite3_column_text(st, 6),
	                    "event names device D2, its topic another");
	assert_int_equal(sqlite3_column_int(st, 7), sizeof raw);
	assert_int_equal(sqlite3_column_bytes(st, 8), sizeof raw);
	assert_memory_equal(sqlite3_column_blob(st, 8), raw, sizeof raw);

	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
	assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
	assert_string_equal((const char *)sqlite3_column_text(st, 5), "too_large");
	assert_int_equal(sqlite3_column_int(st, 7), 100000);
	assert_int_equal(sqlite3_column_bytes(st, 8), KDC_STORE_REJECTED_PAYLOAD_MAX);

	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 5), "malformed");
	assert_int_equal(sqlite3_column_type(st, 8), SQLITE_BLOB);
	assert_int_equal(sqlite3_column_bytes(st, 8), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	kdc_store_close(s);
	drop_db(path);
}

/* A device that floods refused payloads keeps only its newest
 * KDC_STORE_REJECTED_PER_DEVICE; what was deleted is counted per device,
 * and other devices' rows are untouched. */
static void test_rejected_budget_per_device(void **state)
{
	const char *path = fresh_db("budget");
	const uint8_t raw[] = { 0xff };
	kdc_store *s = open_ok(path);
	struct kdc_rejected_row r = {
		.received_ms = 1795000000123LL,
		.topic = "kdc/v1/31975/events/T1/D1",
		.device = "D1",
		.reason = KDC__V1__REJECT_REASON__REJECT_REASON_MALFORMED,
		.detail = "junk",
		.payload = raw,
		.payload_kept = sizeof raw,
		.payload_len = sizeof raw,
	};
	const int extra = 50;

	(void)state;
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	r.device = "D2";
	for (int i = 0; i < 3; i++)
		assert_int_equal(kdc_store_add_rejected(s, &r), KDC_OK);
	r.device = "D1";
	for (int i = 0; i < KDC_STORE_REJECTED_PER_DEVICE + extra; i++) {
		r.received_ms = i;
		assert_int_equal(kdc_store_add_rejected(s, &r), KDC_OK);
	}
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM rejected WHERE device = 'D1'"),
	                 KDC_STORE_REJECTED_PER_DEVICE);
	assert_int_equal(query_ll(s, "SELECT min(received_ms) FROM rejected WHERE device = 'D1'"), extra);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM rejected WHERE device = 'D2'"), 3);
	assert_int_equal(query_ll(s, "SELECT dropped FROM rejected_dropped WHERE device = 'D1'"), extra);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM rejected_dropped"), 1);
	assert_int_equal(kdc_store_rejected_dropped(s), extra);
	kdc_store_close(s);
	drop_db(path);
}

static void test_schema_reopen_and_migration_idempotent(void **state)
{
	const char *path = fresh_db("schema");
	struct kdc_event_row a;
	kdc_store *s;
	sqlite3 *db;
	char err[512] = "";
	int inserted;

	s = open_ok(path);
	assert_int_equal(kdc_store_schema_version(s), KDC_STORE_SCHEMA_VERSION);
	make_row(&a, 3);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &a, &inserted), KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	kdc_store_close(s);

	for (int i = 0; i < 3; i++) {
		s = open_ok(path);
		assert_int_equal(kdc_store_schema_version(s), KDC_STORE_SCHEMA_VERSION);
		assert_int_equal(query_ll(s, "SELECT count(*) FROM schema_version"), 1);
		assert_int_equal(query_ll(s, "SELECT version FROM schema_version"), KDC_STORE_SCHEMA_VERSION);
		assert_int_equal(query_ll(s, "SELECT count(*) FROM events"), 1);
		kdc_store_close(s);
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	{
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
	}
	/* a database written by a newer kdc-aggregator is refused, untouched */
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	s = kdc_store_open(path, NULL, err, sizeof err);
	assert_null(s);
	if (!strstr(err, "schema version 99"))
		fail_msg("expected a message naming schema version 99, got: %s", err);
	drop_db(path);

	/* a file that only has an empty version table (version 0) is migrated */
	path = fresh_db("schema0");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
	                              "INSERT INTO schema_version VALUES(0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_ok(path);
	assert_int_equal(query_ll(s, "SELECT version FROM schema_version"), KDC_STORE_SCHEMA_VERSION);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM sqlite_schema WHERE name IN ('events', 'rejected')"), 2);
	kdc_store_close(s);
	drop_db(path);
}

static void test_db_file_mode_0600(void **state)
{
	const char *path = fresh_db("mode");
	char side[600];
	struct kdc_event_row r;
	struct stat st;
	mode_t old = umask(022);
	kdc_store *s = open_ok(path);
	int inserted;

	make_row(&r, 1);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	assert_int_equal(kdc_store_add_event(s, &r, &inserted), KDC_OK);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(side, sizeof side, "%s-wal", path);
	assert_int_equal(stat(side, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	kdc_store_close(s);

	/* a copy made readable by others is made private again on open */
	assert_int_equal(chmod(path, 0644), 0);
	s = open_ok(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	kdc_store_close(s);
	umask(old);
	drop_db(path);
}

static void test_full_database_is_reported_as_disk_full(void **state)
{
	const char *path = fresh_db("full");
	struct kdc_event_row r;
	kdc_store *s = open_ok(path);
	int inserted, rc = KDC_OK, n = 0;

	/* the same error SQLite gives when the file system is full */
	assert_int_equal(sqlite3_exec(kdc_store_db(s), "PRAGMA max_page_count = 8", NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	while (rc == KDC_OK && n < 100000) {
		make_row(&r, n++);
		rc = kdc_store_add_event(s, &r, &inserted);
	}
	if (rc == KDC_OK)
		rc = kdc_store_commit(s);
	assert_int_equal(rc, KDC_ERR_DISK_FULL);
	assert_non_null(strstr(kdc_store_errmsg(s), "full"));
	kdc_store_rollback(s);
	assert_int_equal(query_ll(s, "SELECT count(*) FROM events"), 0);
	/* space again: the store works on */
	assert_int_equal(sqlite3_exec(kdc_store_db(s), "PRAGMA max_page_count = 1000000", NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(kdc_store_begin(s), KDC_OK);
	make_row(&r, 1);
	assert_int_equal(kdc_store_add_event(s, &r, &inserted), KDC_OK);
	assert_int_equal(inserted, 1);
	assert_int_equal(kdc_store_commit(s), KDC_OK);
	kdc_store_close(s);
	drop_db(path);
}

static void test_open_reports_unusable_path(void **state)
{
	char err[512] = "";
	kdc_store *s = kdc_store_open("/nonexistent-dir-kdc/x.db", NULL, err, sizeof err);

	assert_null(s);
	if (!strstr(err, "/nonexistent-dir-kdc/x.db") || !strstr(err, "No such file"))
		fail_msg("expected the path and the system's reason, got: %s", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_refuses_second_copy_of_event_id),
		cmocka_unit_test(test_add_events_flags_duplicates_in_and_across_calls),
		cmocka_unit_test(test_rolled_back_event_is_not_stored),
		cmocka_unit_test(test_rejected_row_kept_with_reason),
		cmocka_unit_test(test_rejected_budget_per_device),
		cmocka_unit_test(test_schema_reopen_and_migration_idempotent),
		cmocka_unit_test(test_db_file_mode_0600),
		cmocka_unit_test(test_full_database_is_reported_as_disk_full),
		cmocka_unit_test(test_open_reports_unusable_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
