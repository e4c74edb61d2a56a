/* test_db: the SQLite layer (common/db.c) with the files kdc wrote before it
 * existed: an outbox and an aggregator database in the layout of schema
 * version 1, written here with plain SQLite as the earlier code wrote them,
 * open with their rows intact (the outbox migrating to version 2, which keeps
 * each event's topic); result codes map alike for every user (a full disk is
 * KDC_ERR_DISK_FULL). */
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

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_proto.h"
#include "outbox.h"
#include "store.h"

static void tmp_path(char *out, size_t len, const char *name)
{
	const char *dir = getenv("KDC_TEST_TMP");
	char p[600];

	snprintf(out, len, "%s/db-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
	unlink(out);
	snprintf(p, sizeof p, "%s-wal", out);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", out);
	unlink(p);
}

static void write_file(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *emsg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &emsg) != SQLITE_OK)
		fail_msg("writing the old file: %s", emsg);
	sqlite3_close(db);
	chmod(path, 0600);
}

static int64_t query(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static char *query_text(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A row of a version-1 outbox holding a real event of team T9, device D9. */
static void insert_event(const char *path, int64_t seq)
{
	kdc_event_pb ev = KDC__V1__EVENT__INIT;
	Kdc__V1__ServiceUsed svc = KDC__V1__SERVICE_USED__INIT;
	uint8_t id[16] = { 0xaa }, buf[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t len;

	ev.id.data = id;
	ev.id.len = sizeof id;
	ev.seq = (uint64_t)seq;
	ev.occurred_ms = 1000;
	ev.ward = "31975";
	ev.khom = "6";
	ev.team = "T9";
	ev.device = "D9";
	ev.household = "H1";
	ev.member = 1;
	svc.kind = KDC__V1__SERVICE_KIND__SERVICE_KIND_OTHER;
	ev.body_case = KDC__V1__EVENT__BODY_SERVICE;
	ev.service = &svc;
	len = kdc__v1__event__pack(&ev, buf);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO outbox(id, seq, created_ms, occurred_ms,"
	                                        " kind, payload) VALUES (?1, ?2, 1, 1, 3, ?3)",
	                                    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, id, sizeof id, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_blob(st, 3, buf, (int)len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* An outbox as kdc-event wrote it at schema version 1: schema_version was
 * created by the first migration step itself, and rows had no topic. It
 * opens, keeps its rows, and its events get the topic of their own codes. */
static void test_outbox_v1_opens(void **state)
{
	char path[700], err[512], *topic;
	kdc_outbox *ob = NULL;
	int64_t n = -1;

	(void)state;
	tmp_path(path, sizeof path, "outbox-v1.db");
	write_file(path,
	           "PRAGMA journal_mode=WAL;"
	           "CREATE TABLE schema_version(version INTEGER NOT NULL);"
	           "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	           "INSERT INTO meta(key, value) VALUES ('next_seq', 1);"
	           "CREATE TABLE outbox(id BLOB PRIMARY KEY, seq INTEGER UNIQUE NOT NULL,"
	           " created_ms INTEGER NOT NULL, occurred_ms INTEGER NOT NULL, kind INTEGER NOT NULL,"
	           " payload BLOB NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
	           " sent_count INTEGER NOT NULL DEFAULT 0, last_sent_ms INTEGER NOT NULL DEFAULT 0,"
	           " reject_reason INTEGER NOT NULL DEFAULT 0, reject_detail TEXT NOT NULL DEFAULT ''"
	           ") WITHOUT ROWID;"
	           "INSERT INTO schema_version VALUES (1);"
	           "UPDATE meta SET value = 3 WHERE key = 'next_seq';"
	           "INSERT INTO outbox(id, seq, created_ms, occurred_ms, kind, payload)"
	           " VALUES (x'01', 1, 1, 1, 0, x'00'), (x'02', 2, 2, 2, 0, x'00');");
	insert_event(path, 3);
	if (kdc_outbox_open(path, &ob, err, sizeof err) != KDC_OK)
		fail_msg("an outbox of schema version 1 does not open: %s", err);
	assert_int_equal(kdc_outbox_count(ob, 0, &n), KDC_OK);
	assert_int_equal(n, 3);
	kdc_outbox_close(ob);
	assert_int_equal(query(path, "SELECT count(*) FROM schema_version"), 1);
	assert_int_equal(query(path, "SELECT version FROM schema_version"), KDC_OUTBOX_SCHEMA_VERSION);
	assert_int_equal(query(path, "SELECT value FROM meta WHERE key = 'next_seq'"), 3);
	topic = query_text(path, "SELECT topic FROM outbox WHERE seq = 3");
	assert_non_null(topic);
	assert_string_equal(topic, "kdc/v1/31975/events/T9/D9");
	free(topic);
	/* a payload that does not decode keeps no topic (the device's own is used) */
	assert_int_equal(query(path, "SELECT count(*) FROM outbox WHERE topic = ''"), 2);
	/* version 4: the codes beside the payload, for the history's copy */
	topic = query_text(path, "SELECT khom || '/' || household || '/' || member FROM outbox "
	                         "WHERE seq = 3");
	assert_non_null(topic);
	assert_string_equal(topic, "6/H1/1");
	free(topic);
	assert_int_equal(query(path, "SELECT count(*) FROM history"), 0);
}

/* An aggregator database as kdc-aggregator wrote it at schema version 1. */
static void test_store_v1_opens(void **state)
{
	char path[700], err[512];
	kdc_store *s;

	(void)state;
	tmp_path(path, sizeof path, "store-v1.db");
	write_file(path,
	           "PRAGMA journal_mode=WAL;"
	           "CREATE TABLE schema_version(version INTEGER NOT NULL);"
	           "INSERT INTO schema_version(version) VALUES(1);"
	           "CREATE TABLE events(id BLOB PRIMARY KEY,"
	           " seq INTEGER NOT NULL, occurred_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
	           " ward TEXT NOT NULL, khom TEXT NOT NULL, team TEXT NOT NULL, device TEXT NOT NULL,"
	           " household TEXT NOT NULL, member INTEGER NOT NULL,"
	           " kind INTEGER NOT NULL, subkind INTEGER NOT NULL,"
	           " method INTEGER NOT NULL, amount_vnd INTEGER NOT NULL,"
	           " members INTEGER NOT NULL, members_15plus INTEGER NOT NULL, smartphones INTEGER NOT NULL,"
	           " needs INTEGER NOT NULL) WITHOUT ROWID;"
	           "CREATE TABLE rejected(rid INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL,"
	           " topic TEXT NOT NULL, device TEXT, event_id BLOB,"
	           " reason INTEGER NOT NULL, reason_name TEXT NOT NULL, detail TEXT NOT NULL,"
	           " payload_len INTEGER NOT NULL, payload BLOB NOT NULL);"
	           "INSERT INTO events VALUES(x'0102', 1, 1000, 1000, '31975', '6', 'T1', 'D1', 'H1',"
	           " 0, 0, 1, 0, 0, 3, 2, 1, 0);");
	s = kdc_store_open(path, NULL, err, sizeof err);
	if (!s)
		fail_msg("a database of schema version 1 does not open: %s", err);
	assert_int_equal(kdc_store_schema_version(s), KDC_STORE_SCHEMA_VERSION);
	kdc_store_close(s);
	assert_int_equal(query(path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(query(path, "SELECT count(*) FROM schema_version"), 1);
}

/* The same refusal of a newer file for every user of the layer. */
static void test_newer_file_refused(void **state)
{
	static const char *const steps[] = { "CREATE TABLE t(x)" };
	char path[700], err[512];
	sqlite3 *db = NULL;
	const struct kdc_db_opts o = { "test file", 1, 1000, 0 };
	int version = -1;

	(void)state;
	tmp_path(path, sizeof path, "newer.db");
	write_file(path, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
	                 "INSERT INTO schema_version VALUES(7);");
	assert_int_equal(kdc_db_open(path, &o, &db, err, sizeof err), KDC_OK);
	assert_int_equal(kdc_db_migrate(db, "test file", path, steps, 1, NULL, &version, err, sizeof err),
	                 KDC_ERR_DB);
	assert_non_null(strstr(err, "schema version 7"));
	assert_non_null(strstr(err, "newer"));
	sqlite3_close(db);
	assert_int_equal(query(path, "SELECT count(*) FROM sqlite_master WHERE name = 't'"), 0);
}

static void test_rc_mapping(void **state)
{
	(void)state;
	assert_int_equal(kdc_db_rc(NULL, SQLITE_FULL), KDC_ERR_DISK_FULL);
	assert_int_equal(kdc_db_rc(NULL, SQLITE_BUSY), KDC_ERR_BUSY);
	assert_int_equal(kdc_db_rc(NULL, SQLITE_NOMEM), KDC_ERR_NOMEM);
	assert_int_equal(kdc_db_rc(NULL, SQLITE_CORRUPT), KDC_ERR_DB);
	assert_int_equal(kdc_db_rc(NULL, SQLITE_DONE), KDC_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_v1_opens),
		cmocka_unit_test(test_store_v1_opens),
		cmocka_unit_test(test_newer_file_refused),
		cmocka_unit_test(test_rc_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
