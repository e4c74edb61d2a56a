/* store.c: SQLite storage of events and rejected payloads. See store.h.
 *
 * Speed comes from the caller batching (one transaction per batch) and from
 * the statements being prepared once; the events table is WITHOUT ROWID on
 * the 16-byte id, and ids are UUIDv7 (time-ordered), so inserts append to the
 * right edge of the b-tree instead of dirtying a random page per row. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "store.h"

struct kdc_store {
	sqlite3 *db;
	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	sqlite3_stmt *add_event;
	sqlite3_stmt *add_events;      /* KDC_STORE_ROWS_PER_INSERT rows */
	sqlite3_stmt *savepoint, *release, *rollback_to;
	sqlite3_stmt *add_rejected;
	sqlite3_stmt *purge_rejected, *count_dropped;
	int64_t rejected_dropped;      /* rows purged since open */
	int version;
	char errmsg[256];
};

/* Migration i takes the schema from version i to i + 1. Append only: a
 * released step is never edited, a change is a new step. */
static const char *const store_migrations[KDC_STORE_SCHEMA_VERSION] = {
	/* 0 -> 1: events and rejected payloads */
	"CREATE TABLE events("
	" id BLOB PRIMARY KEY,"
	" seq INTEGER NOT NULL, occurred_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
	" ward TEXT NOT NULL, khom TEXT NOT NULL, team TEXT NOT NULL, device TEXT NOT NULL,"
	" household TEXT NOT NULL, member INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, subkind INTEGER NOT NULL,"
	" method INTEGER NOT NULL, amount_vnd INTEGER NOT NULL,"
	" members INTEGER NOT NULL, members_15plus INTEGER NOT NULL, smartphones INTEGER NOT NULL,"
	" needs INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE rejected("
	" rid INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL,"
	" device TEXT, event_id BLOB,"
	" reason INTEGER NOT NULL, reason_name TEXT NOT NULL, detail TEXT NOT NULL,"
	" payload_len INTEGER NOT NULL, payload BLOB NOT NULL"
	");",
	/* 1 -> 2: a budget of refused payloads per device */
	"CREATE INDEX rejected_device ON rejected(device, rid);"
	"CREATE TABLE rejected_dropped(device TEXT PRIMARY KEY NOT NULL,"
	" dropped INTEGER NOT NULL) WITHOUT ROWID;",
};

#define SQL_EVENT_COLUMNS \
	"INSERT OR IGNORE INTO events(id, seq, occurred_ms, received_ms, ward, khom, team," \
	" device, household, member, kind, subkind, method, amount_vnd, members," \
	" members_15plus, smartphones, needs) VALUES"
#define SQL_EVENT_ROW "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define EVENT_NCOLS 18
#define SQL_ADD_EVENT SQL_EVENT_COLUMNS SQL_EVENT_ROW
#define SQL_ADD_REJECTED \
	"INSERT INTO rejected(received_ms, topic, device, event_id, reason, reason_name," \
	" detail, payload_len, payload) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
/* Keeps the newest ?2 rows of device ?1 (NULL: rows without a device). */
#define SQL_PURGE_REJECTED \
	"DELETE FROM rejected WHERE device IS ?1 AND rid <= (SELECT rid FROM rejected" \
	" WHERE device IS ?1 ORDER BY rid DESC LIMIT 1 OFFSET ?2)"
#define SQL_COUNT_DROPPED \
	"INSERT INTO rejected_dropped(device, dropped) VALUES(?1, ?2)" \
	" ON CONFLICT(device) DO UPDATE SET dropped = dropped + excluded.dropped"

/* Maps an SQLite result to kdc_err and remembers SQLite's words. A full disk
 * shows up as SQLITE_FULL, or as an I/O error whose errno is ENOSPC (WAL and
 * shm growth). */
static int store__fail(kdc_store *s, int src, const char *what)
{
	int sys = s->db ? sqlite3_system_errno(s->db) : 0;

	snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what,
	         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
	switch (src & 0xff) {
	case SQLITE_FULL:
		return KDC_ERR_DISK_FULL;
	case SQLITE_IOERR:
		return sys == ENOSPC || sys == EDQUOT ? KDC_ERR_DISK_FULL : KDC_ERR_DB;
	case SQLITE_NOMEM:
		return KDC_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KDC_ERR_BUSY;
	default:
		return KDC_ERR_DB;
	}
}

/* Runs a statement that returns no rows and resets it. */
static int store__step_done(kdc_store *s, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);
	int rc = src == SQLITE_DONE ? KDC_OK : store__fail(s, src, what);

	/* reset's own return repeats the step error; the step result is the one */
	sqlite3_reset(st);
	return rc;
}

static int store__exec(kdc_store *s, const char *sql, const char *what)
{
	int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return src == SQLITE_OK ? KDC_OK : store__fail(s, src, what);
}

/* Creates the file with mode 0600 before SQLite sees it (SQLite would use
 * 0644 under the usual umask), or tightens an existing file. SQLite gives the
 * -wal and -shm files the database file's mode. */
static int store__private_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open or create database %s: %s", path, strerror(errno));
		return KDC_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat database %s: %s", path, strerror(errno));
		close(fd);
		return KDC_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "database %s is not a regular file", path);
		close(fd);
		return KDC_ERR_IO;
	}
	if ((st.st_mode & 077) != 0) {
		if (fchmod(fd, 0600) != 0) {
			snprintf(err, errlen, "database %s is readable by others (mode %03o) and cannot be made private: %s",
			         path, (unsigned)(st.st_mode & 0777), strerror(errno));
			close(fd);
			return KDC_ERR_IO;
		}
		kdc_warn("database %s was readable by others (mode %03o): changed to 600",
		         path, (unsigned)(st.st_mode & 0777));
	}
	close(fd);
	return KDC_OK;
}

/* The -wal and -shm files of a database copied or created by another tool
 * may have a looser mode than the database itself. */
static void store__private_sidecars(const char *path)
{
	static const char *const sfx[] = { "-wal", "-shm" };
	char p[4096];
	struct stat st;

	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		if (snprintf(p, sizeof p, "%s%s", path, sfx[i]) >= (int)sizeof p)
			continue;
		if (stat(p, &st) == 0 && (st.st_mode & 077) != 0 && chmod(p, 0600) == 0)
			kdc_warn("%s was readable by others: changed to mode 600", p);
	}
}

static int store__pragmas(kdc_store *s, const struct kdc_store_opts *o, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[128];
	int src, rc;

	src = sqlite3_busy_timeout(s->db, o->busy_timeout_ms);
	if (src != SQLITE_OK) {
		rc = store__fail(s, src, "busy timeout");
		goto cleanup;
	}
	/* journal_mode answers with the mode it got: an in-memory or read-only
	 * file can silently stay in another mode */
	src = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = store__fail(s, src, "journal_mode");
		goto cleanup;
	}
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = store__fail(s, src, "journal_mode");
		goto cleanup;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		snprintf(s->errmsg, sizeof s->errmsg, "journal_mode: SQLite kept '%s', WAL is required",
		         (const char *)sqlite3_column_text(st, 0));
		rc = KDC_ERR_DB;
		goto cleanup;
	}
	snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", o->synchronous_full ? "FULL" : "NORMAL");
	if ((rc = store__exec(s, sql, "synchronous")) != KDC_OK)
		goto cleanup;
	/* a page cache bigger than SQLite's 2 MiB default keeps the right edge
	 * of the id index and the statistics tables in memory during large
	 * batches; it fills as the file grows and is most of the daemon's
	 * resident memory after that */
	snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", o->cache_kib > 0 ? o->cache_kib : 2048);
	if ((rc = store__exec(s, sql, "cache_size")) != KDC_OK ||
	    (rc = store__exec(s, "PRAGMA temp_store=MEMORY", "temp_store")) != KDC_OK)
		goto cleanup;
	rc = KDC_OK;
cleanup:
	if (st)
		sqlite3_finalize(st);
	if (rc != KDC_OK)
		snprintf(err, errlen, "%s", s->errmsg);
	return rc;
}

/* Brings the schema to KDC_STORE_SCHEMA_VERSION in one transaction. Two
 * processes opening a new file at once serialize on BEGIN IMMEDIATE; the
 * second finds the work done. */
static int store__migrate(kdc_store *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *get = NULL, *set = NULL;
	int src, rc, version = 0;

	if ((rc = store__exec(s, "BEGIN IMMEDIATE", "begin migration")) != KDC_OK)
		goto fail;
	if ((rc = store__exec(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
	                      "schema_version")) != KDC_OK)
		goto rollback;
	src = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &get, NULL);
	if (src != SQLITE_OK) {
		rc = store__fail(s, src, "read schema_version");
		goto rollback;
	}
	src = sqlite3_step(get);
	if (src == SQLITE_ROW) {
		version = sqlite3_column_int(get, 0);
		src = sqlite3_step(get);
		if (src == SQLITE_ROW) {
			snprintf(s->errmsg, sizeof s->errmsg, "schema_version has more than one row");
			rc = KDC_ERR_DB;
			goto rollback;
		}
	} else if (src == SQLITE_DONE) {
		if ((rc = store__exec(s, "INSERT INTO schema_version(version) VALUES(0)",
		                      "init schema_version")) != KDC_OK)
			goto rollback;
	}
	if (src != SQLITE_DONE) {
		rc = store__fail(s, src, "read schema_version");
		goto rollback;
	}
	if (version < 0 || version > KDC_STORE_SCHEMA_VERSION) {
		snprintf(s->errmsg, sizeof s->errmsg,
		         "the database has schema version %d, this kdc-aggregator knows versions up to %d "
		         "(it was written by a newer version: upgrade kdc-aggregator)",
		         version, KDC_STORE_SCHEMA_VERSION);
		rc = KDC_ERR_DB;
		goto rollback;
	}
	src = sqlite3_prepare_v2(s->db, "UPDATE schema_version SET version = ?1", -1, &set, NULL);
	if (src != SQLITE_OK) {
		rc = store__fail(s, src, "prepare schema_version update");
		goto rollback;
	}
	for (int v = version; v < KDC_STORE_SCHEMA_VERSION; v++) {
		if ((rc = store__exec(s, store_migrations[v], "migration")) != KDC_OK)
			goto rollback;
		if ((src = sqlite3_bind_int(set, 1, v + 1)) != SQLITE_OK) {
			rc = store__fail(s, src, "bind schema_version");
			goto rollback;
		}
		if ((rc = store__step_done(s, set, "update schema_version")) != KDC_OK)
			goto rollback;
		kdc_info("database %s: schema migrated from version %d to %d", path, v, v + 1);
	}
	if ((rc = store__exec(s, "COMMIT", "commit migration")) != KDC_OK)
		goto rollback;
	s->version = KDC_STORE_SCHEMA_VERSION;
	rc = KDC_OK;
	goto cleanup;
rollback:
	/* the failure is what matters; a failing ROLLBACK adds nothing */
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	snprintf(err, errlen, "database %s: %s", path, s->errmsg);
cleanup:
	if (get)
		sqlite3_finalize(get);
	if (set)
		sqlite3_finalize(set);
	return rc;
}

static int store__prepare(kdc_store *s, char *err, size_t errlen)
{
	const struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{ &s->begin, "BEGIN IMMEDIATE" },
		{ &s->commit, "COMMIT" },
		{ &s->rollback, "ROLLBACK" },
		{ &s->add_event, SQL_ADD_EVENT },
		{ &s->add_rejected, SQL_ADD_REJECTED },
		{ &s->purge_rejected, SQL_PURGE_REJECTED },
		{ &s->count_dropped, SQL_COUNT_DROPPED },
		{ &s->savepoint, "SAVEPOINT kdc_rows" },
		{ &s->release, "RELEASE kdc_rows" },
		{ &s->rollback_to, "ROLLBACK TO kdc_rows" },
	};
	char sql[sizeof SQL_EVENT_COLUMNS + KDC_STORE_ROWS_PER_INSERT * sizeof SQL_EVENT_ROW];
	char *p = sql;
	int msrc;

	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
		int src = sqlite3_prepare_v3(s->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
		                             stmts[i].st, NULL);
		if (src != SQLITE_OK) {
			int rc = store__fail(s, src, "prepare");
			snprintf(err, errlen, "%s (%s)", s->errmsg, stmts[i].sql);
			return rc;
		}
	}
	p += sprintf(p, "%s", SQL_EVENT_COLUMNS);
	for (int r = 0; r < KDC_STORE_ROWS_PER_INSERT; r++)
		p += sprintf(p, "%s%s", r ? "," : "", SQL_EVENT_ROW);
	msrc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->add_events, NULL);
	if (msrc != SQLITE_OK) {
		int rc = store__fail(s, msrc, "prepare");
		snprintf(err, errlen, "%s (multi-row insert)", s->errmsg);
		return rc;
	}
	return KDC_OK;
}

kdc_store *kdc_store_open(const char *path, const struct kdc_store_opts *opts,
                          char *err, size_t errlen)
{
	const struct kdc_store_opts defaults = KDC_STORE_OPTS_INIT;
	kdc_store *s = NULL;
	int src;

	if (!opts)
		opts = &defaults;
	if (!path || !*path) {
		snprintf(err, errlen, "no database path given");
		return NULL;
	}
	if (store__private_file(path, err, errlen) != KDC_OK)
		return NULL;
	store__private_sidecars(path);
	if (!(s = calloc(1, sizeof *s))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* NOMUTEX: one thread uses the handle; SQLite's own locking is wasted */
	src = sqlite3_open_v2(path, &s->db,
	                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (store__pragmas(s, opts, err, errlen) != KDC_OK)
		goto fail;
	if (store__migrate(s, path, err, errlen) != KDC_OK)
		goto fail;
	if (store__prepare(s, err, errlen) != KDC_OK)
		goto fail;
	return s;
fail:
	kdc_store_close(s);
	return NULL;
}

void kdc_store_close(kdc_store *s)
{
	if (!s)
		return;
	if (s->db && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->rollback);
	sqlite3_finalize(s->add_event);
	sqlite3_finalize(s->add_events);
	sqlite3_finalize(s->savepoint);
	sqlite3_finalize(s->release);
	sqlite3_finalize(s->rollback_to);
	sqlite3_finalize(s->add_rejected);
	sqlite3_finalize(s->purge_rejected);
	sqlite3_finalize(s->count_dropped);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		kdc_error("closing the database failed: %s", sqlite3_errmsg(s->db));
	free(s);
}

sqlite3 *kdc_store_db(kdc_store *s)
{
	return s->db;
}

int kdc_store_schema_version(kdc_store *s)
{
	return s->version;
}

const char *kdc_store_errmsg(kdc_store *s)
{
	return s->errmsg;
}

int kdc_store_begin(kdc_store *s)
{
	return store__step_done(s, s->begin, "begin");
}

int kdc_store_commit(kdc_store *s)
{
	return store__step_done(s, s->commit, "commit");
}

void kdc_store_rollback(kdc_store *s)
{
	/* SQLite rolls back by itself after some errors (SQLITE_FULL among
	 * them); a second ROLLBACK would only fail */
	if (sqlite3_get_autocommit(s->db))
		return;
	if (store__step_done(s, s->rollback, "rollback") != KDC_OK)
		kdc_error("rollback failed: %s", s->errmsg);
}

/* Binds row r at parameters base + 1 .. base + EVENT_NCOLS. Text columns
 * are bound SQLITE_STATIC: the caller's row outlives the step. */
static int store__bind_event(sqlite3_stmt *st, int base, const struct kdc_event_row *r)
{
	int src;

	if ((src = sqlite3_bind_blob(st, base + 1, r->id, KDC_UUID_LEN, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_int64(st, base + 2, r->seq)) ||
	    (src = sqlite3_bind_int64(st, base + 3, r->occurred_ms)) ||
	    (src = sqlite3_bind_int64(st, base + 4, r->received_ms)) ||
	    (src = sqlite3_bind_text(st, base + 5, r->ward, -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_text(st, base + 6, r->khom, -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_text(st, base + 7, r->team, -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_text(st, base + 8, r->device, -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_text(st, base + 9, r->household, -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_int(st, base + 10, r->member)) ||
	    (src = sqlite3_bind_int(st, base + 11, r->kind)) ||
	    (src = sqlite3_bind_int(st, base + 12, r->subkind)) ||
	    (src = sqlite3_bind_int(st, base + 13, r->method)) ||
	    (src = sqlite3_bind_int64(st, base + 14, r->amount_vnd)) ||
	    (src = sqlite3_bind_int(st, base + 15, r->members)) ||
	    (src = sqlite3_bind_int(st, base + 16, r->members_15plus)) ||
	    (src = sqlite3_bind_int(st, base + 17, r->smartphones)) ||
	    (src = sqlite3_bind_int64(st, base + 18, (sqlite3_int64)r->needs)))
		return src;
	return SQLITE_OK;
}

int kdc_store_add_event(kdc_store *s, const struct kdc_event_row *r, int *inserted)
{
	sqlite3_stmt *st = s->add_event;
	int src, rc;

	*inserted = 0;
	if ((src = store__bind_event(st, 0, r)) != SQLITE_OK)
		return store__fail(s, src, "bind event");
	if ((rc = store__step_done(s, st, "insert event")) != KDC_OK)
		return rc;
	*inserted = sqlite3_changes(s->db) > 0;
	return KDC_OK;
}

/* One statement of KDC_STORE_ROWS_PER_INSERT rows under a savepoint: when
 * fewer rows than that were new, which ones is unknown, so the statement is
 * undone and the rows are stored one at a time. */
static int store__add_chunk(kdc_store *s, const struct kdc_event_row *rows, uint8_t *inserted)
{
	const int k = KDC_STORE_ROWS_PER_INSERT;
	int src, rc, all;

	if ((rc = store__step_done(s, s->savepoint, "savepoint")) != KDC_OK)
		return rc;
	for (int i = 0; i < k; i++)
		if ((src = store__bind_event(s->add_events, i * EVENT_NCOLS, &rows[i])) != SQLITE_OK)
			return store__fail(s, src, "bind event");
	if ((rc = store__step_done(s, s->add_events, "insert events")) != KDC_OK)
		return rc;
	all = sqlite3_changes(s->db) == k;
	if (!all) {
		if ((rc = store__step_done(s, s->rollback_to, "rollback to savepoint")) != KDC_OK)
			return rc;
		for (int i = 0; i < k; i++) {
			int one;
			if ((rc = kdc_store_add_event(s, &rows[i], &one)) != KDC_OK)
				return rc;
			inserted[i] = (uint8_t)one;
		}
	} else {
		memset(inserted, 1, (size_t)k);
	}
	return store__step_done(s, s->release, "release savepoint");
}

int kdc_store_add_events(kdc_store *s, const struct kdc_event_row *rows, size_t n,
                         uint8_t *inserted)
{
	size_t i = 0;
	int rc;

	for (; n - i >= KDC_STORE_ROWS_PER_INSERT; i += KDC_STORE_ROWS_PER_INSERT)
		if ((rc = store__add_chunk(s, rows + i, inserted + i)) != KDC_OK)
			return rc;
	for (; i < n; i++) {
		int one;
		if ((rc = kdc_store_add_event(s, &rows[i], &one)) != KDC_OK)
			return rc;
		inserted[i] = (uint8_t)one;
	}
	return KDC_OK;
}

/* Applies the per-device budget (KDC_STORE_REJECTED_PER_DEVICE) to device
 * (NULL: the rows without one) and counts what it deleted. */
static int store__purge_rejected(kdc_store *s, const char *device)
{
	sqlite3_stmt *st = s->purge_rejected;
	sqlite3_int64 n;
	int src, rc;

	if ((src = device ? sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC)
	                  : sqlite3_bind_null(st, 1)) ||
	    (src = sqlite3_bind_int(st, 2, KDC_STORE_REJECTED_PER_DEVICE)))
		return store__fail(s, src, "bind purge rejected");
	if ((rc = store__step_done(s, st, "purge rejected")) != KDC_OK)
		return rc;
	n = sqlite3_changes64(s->db);
	if (n == 0)
		return KDC_OK;
	st = s->count_dropped;
	if ((src = sqlite3_bind_text(st, 1, device ? device : "", -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_int64(st, 2, n)))
		return store__fail(s, src, "bind count dropped");
	if ((rc = store__step_done(s, st, "count dropped")) != KDC_OK)
		return rc;
	s->rejected_dropped += n;
	return KDC_OK;
}

int kdc_store_add_rejected(kdc_store *s, const struct kdc_rejected_row *r)
{
	sqlite3_stmt *st = s->add_rejected;
	size_t kept = r->payload_kept;
	int src;

	if (kept > KDC_STORE_REJECTED_PAYLOAD_MAX)
		kept = KDC_STORE_REJECTED_PAYLOAD_MAX;
	if ((src = sqlite3_bind_int64(st, 1, r->received_ms)) ||
	    (src = sqlite3_bind_text(st, 2, r->topic ? r->topic : "", -1, SQLITE_STATIC)) ||
	    (src = r->device && *r->device
	               ? sqlite3_bind_text(st, 3, r->device, -1, SQLITE_STATIC)
	               : sqlite3_bind_null(st, 3)) ||
	    (src = r->event_id ? sqlite3_bind_blob(st, 4, r->event_id, KDC_UUID_LEN, SQLITE_STATIC)
	                       : sqlite3_bind_null(st, 4)) ||
	    (src = sqlite3_bind_int(st, 5, r->reason)) ||
	    (src = sqlite3_bind_text(st, 6, kdc_reason_name(r->reason), -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_text(st, 7, r->detail ? r->detail : "", -1, SQLITE_STATIC)) ||
	    (src = sqlite3_bind_int64(st, 8, (sqlite3_int64)r->payload_len)) ||
	    /* a zero-length blob must still be a blob, not NULL (NOT NULL column) */
	    (src = sqlite3_bind_blob(st, 9, kept ? r->payload : "", (int)kept, SQLITE_STATIC)))
		return store__fail(s, src, "bind rejected");
	if ((src = store__step_done(s, st, "insert rejected")) != KDC_OK)
		return src;
	return store__purge_rejected(s, r->device && *r->device ? r->device : NULL);
}

int64_t kdc_store_rejected_dropped(const kdc_store *s)
{
	return s->rejected_dropped;
}

static int store__delete_where(kdc_store *s, const char *sql, const char *household,
                               int64_t *deleted)
{
	sqlite3_stmt *st = NULL;
	int src, rc;

	if ((src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return store__fail(s, src, "prepare delete");
	if ((src = sqlite3_bind_text(st, 1, household, -1, SQLITE_STATIC)) != SQLITE_OK) {
		rc = store__fail(s, src, "bind household");
		goto cleanup;
	}
	if ((rc = store__step_done(s, st, "delete household rows")) == KDC_OK)
		*deleted = sqlite3_changes64(s->db);
cleanup:
	sqlite3_finalize(st);
	return rc;
}

int kdc_store_forget_household(kdc_store *s, const char *household,
                               int64_t *events, int64_t *rejected)
{
	int rc;

	*events = *rejected = 0;
	rc = store__delete_where(s, "DELETE FROM events WHERE household = ?1", household, events);
	if (rc == KDC_OK)
		rc = store__delete_where(s, "DELETE FROM rejected WHERE instr(payload, CAST(?1 AS BLOB)) > 0",
		                         household, rejected);
	return rc;
}

int kdc_store_secure_delete(kdc_store *s, int on)
{
	return store__exec(s, on ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF",
	                   "secure_delete");
}

int kdc_store_checkpoint(kdc_store *s)
{
	int src = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	return src == SQLITE_OK ? KDC_OK : store__fail(s, src, "checkpoint");
}
