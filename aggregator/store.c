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

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "store.h"

/* The store's statements (ST_ADD_EVENTS: KDC_STORE_ROWS_PER_INSERT rows). */
enum store_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_ADD_EVENT, ST_ADD_EVENTS,
	ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO, ST_ADD_REJECTED,
	ST_PURGE_REJECTED, ST_COUNT_DROPPED, ST_N
};

struct kdc_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
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
	/* 2 -> 3: the household register, its history, and voids. An event is
	 * counted unless voided_by names the void that took it out. */
	"ALTER TABLE events ADD COLUMN voided_by BLOB;"
	"CREATE INDEX events_voided ON events(voided_by) WHERE voided_by IS NOT NULL;"
	"CREATE TABLE register("
	" khom TEXT NOT NULL, household TEXT NOT NULL,"
	" people_15plus INTEGER,"             /* NULL: not given */
	" source TEXT NOT NULL,"              /* import | ward | field */
	" added_by TEXT NOT NULL, added_ms INTEGER NOT NULL,"
	" retired_ms INTEGER, retired_by TEXT, retired_reason TEXT," /* NULL while active */
	" PRIMARY KEY(khom, household)) WITHOUT ROWID;"
	"CREATE TABLE register_log("
	" lid INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, by TEXT NOT NULL,"
	" action TEXT NOT NULL,"              /* import add field_add retire change forget void */
	" khom TEXT, household TEXT, detail TEXT NOT NULL);"
	"CREATE TABLE voids("
	" void_id BLOB PRIMARY KEY, target BLOB NOT NULL, reason TEXT NOT NULL,"
	" team TEXT NOT NULL,"                /* of the voiding device; '' for the ward */
	" by TEXT NOT NULL, at_ms INTEGER NOT NULL,"
	" state INTEGER NOT NULL"             /* 0 waits for its target, 1 applied, 2 refused */
	") WITHOUT ROWID;"
	"CREATE INDEX voids_target ON voids(target);",
	/* 3 -> 4: closed months (kdc-report close): a month's official figures,
	 * frozen, and the log of closes and reopens. Written by kdc-report only;
	 * the aggregator reads them (stats/closed). */
	"CREATE TABLE closed_months("
	" month TEXT PRIMARY KEY NOT NULL,"   /* YYYY-MM of the ward's calendar */
	" closed_by TEXT NOT NULL, closed_ms INTEGER NOT NULL,"
	" figures TEXT NOT NULL,"             /* JSON: the month's end, every scope */
	" sha256 TEXT NOT NULL"               /* of figures, hex */
	") WITHOUT ROWID;"
	"CREATE TABLE period_log("
	" pid INTEGER PRIMARY KEY, month TEXT NOT NULL,"
	" action TEXT NOT NULL,"              /* close | reopen */
	" by TEXT NOT NULL, at_ms INTEGER NOT NULL,"
	" reason TEXT,"                       /* reopen: why */
	" sha256 TEXT NOT NULL);",            /* the figures closed or given up */
	/* 4 -> 5: a register entry is a household (0) or a business (1): a
	 * household business or an enterprise; entries made before are
	 * households */
	"ALTER TABLE register ADD COLUMN business INTEGER NOT NULL DEFAULT 0;",
	/* 5 -> 6: what a business visit saw and whether a service was used with
	 * VNeID level 2 (KDC_FLAG_*) */
	"ALTER TABLE events ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;",
};

/* The insert of one row and of KDC_STORE_ROWS_PER_INSERT rows are written
 * from the column table of event_row.h. */
#define SQL_EVENT_ROW_MAX (2 * KDC_EVENT_NCOLS + 1)
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

/* Maps an SQLite result to kdc_err (kdc_db_rc) and remembers SQLite's
 * words. */
static int store__fail(kdc_store *s, int src, const char *what)
{
	snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what,
	         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
	return kdc_db_rc(s->db, src);
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

/* "INSERT OR IGNORE INTO events(id, ...) VALUES(?, ...), ..." for nrows rows;
 * NULL when out of memory (free it). */
static char *store__insert_sql(int nrows)
{
	char cols[512], row[SQL_EVENT_ROW_MAX + 1], *sql, *p;
	size_t len;

	if (kdc_event_row_columns(cols, sizeof cols) >= (int)sizeof cols)
		return NULL;
	p = row;
	for (int i = 0; i < KDC_EVENT_NCOLS; i++) {
		*p++ = i ? ',' : '(';
		*p++ = '?';
	}
	*p++ = ')';
	*p = '\0';
	len = strlen(cols) + 64 + (size_t)nrows * (strlen(row) + 1);
	if (!(sql = malloc(len)))
		return NULL;
	p = sql + sprintf(sql, "INSERT OR IGNORE INTO events(%s) VALUES", cols);
	for (int r = 0; r < nrows; r++)
		p += sprintf(p, "%s%s", r ? "," : "", row);
	return sql;
}

static int store__prepare(kdc_store *s, char *err, size_t errlen)
{
	const char *sql[ST_N] = {
		[ST_BEGIN] = "BEGIN IMMEDIATE",
		[ST_COMMIT] = "COMMIT",
		[ST_ROLLBACK] = "ROLLBACK",
		[ST_ADD_REJECTED] = SQL_ADD_REJECTED,
		[ST_PURGE_REJECTED] = SQL_PURGE_REJECTED,
		[ST_COUNT_DROPPED] = SQL_COUNT_DROPPED,
		[ST_SAVEPOINT] = "SAVEPOINT kdc_rows",
		[ST_RELEASE] = "RELEASE kdc_rows",
		[ST_ROLLBACK_TO] = "ROLLBACK TO kdc_rows",
	};
	char *one = store__insert_sql(1), *many = store__insert_sql(KDC_STORE_ROWS_PER_INSERT);
	int rc = KDC_ERR_NOMEM;

	if (!one || !many) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	sql[ST_ADD_EVENT] = one;
	sql[ST_ADD_EVENTS] = many;
	if ((rc = kdc_db_prepare(s->db, sql, s->st, ST_N, err, errlen)) != KDC_OK)
		snprintf(s->errmsg, sizeof s->errmsg, "%s", err);
cleanup:
	free(one);
	free(many);
	return rc;
}

kdc_store *kdc_store_open(const char *path, const struct kdc_store_opts *opts,
                          char *err, size_t errlen)
{
	const struct kdc_store_opts defaults = KDC_STORE_OPTS_INIT;
	struct kdc_db_opts dbo = { "database", 1, 5000, 2048 };
	kdc_store *s = NULL;

	if (!opts)
		opts = &defaults;
	/* a page cache bigger than SQLite's 2 MiB default keeps the right edge
	 * of the id index and the statistics tables in memory during large
	 * batches; it fills as the file grows and is most of the daemon's
	 * resident memory after that */
	dbo.synchronous_full = opts->synchronous_full;
	dbo.busy_timeout_ms = opts->busy_timeout_ms;
	if (opts->cache_kib > 0)
		dbo.cache_kib = opts->cache_kib;
	if (!(s = calloc(1, sizeof *s))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (kdc_db_open(path, &dbo, &s->db, err, errlen) != KDC_OK ||
	    kdc_db_migrate(s->db, "database", path, store_migrations, KDC_STORE_SCHEMA_VERSION,
	                   NULL, &s->version, err, errlen) != KDC_OK)
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
	kdc_db_finalize(s->st, ST_N);
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
	return store__step_done(s, s->st[ST_BEGIN], "begin");
}

int kdc_store_commit(kdc_store *s)
{
	return store__step_done(s, s->st[ST_COMMIT], "commit");
}

void kdc_store_rollback(kdc_store *s)
{
	/* SQLite rolls back by itself after some errors (SQLITE_FULL among
	 * them); a second ROLLBACK would only fail */
	if (sqlite3_get_autocommit(s->db))
		return;
	if (store__step_done(s, s->st[ST_ROLLBACK], "rollback") != KDC_OK)
		kdc_error("rollback failed: %s", s->errmsg);
}

int kdc_store_add_event(kdc_store *s, const struct kdc_event_row *r, int *inserted)
{
	sqlite3_stmt *st = s->st[ST_ADD_EVENT];
	int src, rc;

	*inserted = 0;
	if ((src = kdc_event_row_bind(st, 0, r)) != SQLITE_OK)
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

	if ((rc = store__step_done(s, s->st[ST_SAVEPOINT], "savepoint")) != KDC_OK)
		return rc;
	for (int i = 0; i < k; i++)
		if ((src = kdc_event_row_bind(s->st[ST_ADD_EVENTS], i * KDC_EVENT_NCOLS, &rows[i])) != SQLITE_OK)
			return store__fail(s, src, "bind event");
	if ((rc = store__step_done(s, s->st[ST_ADD_EVENTS], "insert events")) != KDC_OK)
		return rc;
	all = sqlite3_changes(s->db) == k;
	if (!all) {
		if ((rc = store__step_done(s, s->st[ST_ROLLBACK_TO], "rollback to savepoint")) != KDC_OK)
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
	return store__step_done(s, s->st[ST_RELEASE], "release savepoint");
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
	sqlite3_stmt *st = s->st[ST_PURGE_REJECTED];
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
	st = s->st[ST_COUNT_DROPPED];
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
	sqlite3_stmt *st = s->st[ST_ADD_REJECTED];
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

/* Runs sql (parameters ?1 khom, ?2 household) and adds the rows it changed
 * to *changed (when not NULL). */
static int store__exec_kh(kdc_store *s, const char *sql, const char *khom, const char *household,
                          int64_t *changed)
{
	sqlite3_stmt *st = NULL;
	int src, rc;

	if ((src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return store__fail(s, src, "prepare delete");
	if ((src = kdc_db_bind(st, "tt", khom, household)) != SQLITE_OK) {
		rc = store__fail(s, src, "bind household");
		goto cleanup;
	}
	if ((rc = store__step_done(s, st, "delete household rows")) == KDC_OK && changed)
		*changed += sqlite3_changes64(s->db);
cleanup:
	sqlite3_finalize(st);
	return rc;
}

int kdc_store_forget_household(kdc_store *s, const char *khom, const char *household,
                               int64_t *events, int64_t *rejected)
{
	int rc;

	*events = *rejected = 0;
	/* the voids naming its events (a ward void has no event of its own) and
	 * its own void events, which the events delete below removes */
	rc = store__exec_kh(s, "DELETE FROM voids WHERE target IN (SELECT id FROM events"
	                       " WHERE khom = ?1 AND household = ?2) OR void_id IN (SELECT id"
	                       " FROM events WHERE khom = ?1 AND household = ?2)",
	                    khom, household, NULL);
	if (rc == KDC_OK)
		rc = store__exec_kh(s, "DELETE FROM events WHERE khom = ?1 AND household = ?2", khom,
		                    household, events);
	/* a refused payload may not decode: its bytes (and the words of its
	 * reason, which may quote the code) are searched, whatever the khóm */
	if (rc == KDC_OK)
		rc = store__exec_kh(s, "DELETE FROM rejected WHERE"
		                       " instr(payload, CAST(?2 AS BLOB)) > 0 OR instr(detail, ?2) > 0",
		                    khom, household, rejected);
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
