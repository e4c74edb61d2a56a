/* outbox.c: the device's durable SQLite outbox. See outbox.h for the contract.
 *
 * Every statement is prepared once at open (table `outbox__sql`). Writes run in
 * IMMEDIATE transactions so that two processes on one file queue up on the
 * write lock at BEGIN instead of failing half way; inside a transaction the
 * next sequence number is cached and written back once at commit. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "outbox.h"

#define OUTBOX_BUSY_TIMEOUT_MS 10000
/* last_sent_ms this far ahead of now means the clock went back: resend */
#define OUTBOX_CLOCK_BACK_MS 60000

enum outbox_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SYNC_FULL, ST_SYNC_NORMAL,
	ST_SEQ_GET, ST_SEQ_SET, ST_INSERT, ST_DELETE, ST_REJECT,
	ST_DUE_ALL, ST_DUE_SENT, ST_MARK, ST_LIST, ST_COUNT, ST_KEEP, ST_PURGE,
	ST_PURGE_ANY,
	ST_COUNT_ALL
};

#define OUTBOX_COLS "id, seq, created_ms, occurred_ms, kind, state, sent_count, " \
                    "last_sent_ms, reject_reason, reject_detail, payload, topic"

static const char *const outbox__sql[ST_COUNT_ALL] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SYNC_FULL] = "PRAGMA synchronous=FULL",
	[ST_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
	[ST_SEQ_GET] = "SELECT value FROM meta WHERE key = 'next_seq'",
	[ST_SEQ_SET] = "UPDATE meta SET value = ?1 WHERE key = 'next_seq'",
	[ST_INSERT] = "INSERT INTO outbox(id, seq, created_ms, occurred_ms, kind, payload, topic, "
	              "khom, household, member) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_DELETE] = "DELETE FROM outbox WHERE id = ?1",
	[ST_REJECT] = "UPDATE outbox SET state = 2, reject_reason = ?2, reject_detail = ?3 "
	              "WHERE id = ?1 AND state = 0",
	[ST_DUE_ALL] = "SELECT " OUTBOX_COLS " FROM outbox WHERE state = 0 AND seq > ?1 AND "
	               "seq <= ?2 ORDER BY seq LIMIT ?3",
	/* last_sent_ms 0 is a row never sent: the first send is not a resend */
	[ST_DUE_SENT] = "SELECT " OUTBOX_COLS " FROM outbox WHERE state = 0 AND seq > ?1 AND "
	                "seq <= ?2 AND last_sent_ms > 0 AND (last_sent_ms < ?3 OR last_sent_ms > ?4) "
	                "ORDER BY seq LIMIT ?5",
	[ST_MARK] = "UPDATE outbox SET sent_count = sent_count + 1, last_sent_ms = ?2 "
	            "WHERE seq = ?1",
	[ST_LIST] = "SELECT " OUTBOX_COLS " FROM outbox WHERE state = ?1 ORDER BY seq",
	[ST_COUNT] = "SELECT count(*) FROM outbox WHERE state = ?1 AND seq <= ?2",
	/* a receipted row's copy, in the receipt's transaction, before its delete */
	[ST_KEEP] = "INSERT OR IGNORE INTO history(id, seq, occurred_ms, kind, khom, household, "
	            "member, payload, stored_ms) SELECT id, seq, occurred_ms, kind, khom, "
	            "household, member, payload, ?2 FROM outbox WHERE id = ?1",
	[ST_PURGE] = "DELETE FROM history WHERE stored_ms < ?1",
	[ST_PURGE_ANY] = "SELECT count(*) FROM (SELECT 1 FROM history WHERE stored_ms < ?1 LIMIT 1)",
};

/* Version 1 (the schema_version table is kdc_db_migrate's). Later versions
 * append to outbox__migrations. */
static const char outbox__schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"INSERT INTO meta(key, value) VALUES ('next_seq', 1);"
	/* WITHOUT ROWID: the time-ordered id is the table's own key, so an insert
	 * appends to one b-tree (plus the seq index) instead of three */
	"CREATE TABLE outbox("
	" id BLOB PRIMARY KEY,"
	" seq INTEGER UNIQUE NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" occurred_ms INTEGER NOT NULL,"
	" kind INTEGER NOT NULL,"
	" payload BLOB NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0,"
	" sent_count INTEGER NOT NULL DEFAULT 0,"
	" last_sent_ms INTEGER NOT NULL DEFAULT 0,"
	" reject_reason INTEGER NOT NULL DEFAULT 0,"
	" reject_detail TEXT NOT NULL DEFAULT ''"
	") WITHOUT ROWID;";

/* Migration i takes the schema from version i to i + 1 (kdc_db_migrate). */
static const char *const outbox__migrations[] = {
	outbox__schema_v1,    /* 0 -> 1: create */
	/* 1 -> 2: the topic an event is published on, kept with it so that
	 * publishing never unpacks the payload; rows of version 1 get theirs
	 * from their payload once (outbox__fill_topics) */
	"ALTER TABLE outbox ADD COLUMN topic TEXT NOT NULL DEFAULT ''",
	/* 2 -> 3: the team's worklist, as the last sync downloaded it, and the
	 * households added on this device (worklist.h) */
	"CREATE TABLE worklist_info("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" ward TEXT NOT NULL, team TEXT NOT NULL,"
	" as_of_ms INTEGER NOT NULL, seq INTEGER NOT NULL, received_ms INTEGER NOT NULL);"
	"CREATE TABLE worklist("
	" khom TEXT NOT NULL, household TEXT NOT NULL,"
	" status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" last_attempt_ms INTEGER NOT NULL DEFAULT 0, next INTEGER NOT NULL,"
	" people_15plus INTEGER NOT NULL DEFAULT 0, field_added INTEGER NOT NULL DEFAULT 0,"
	" pos INTEGER NOT NULL, local INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(khom, household)) WITHOUT ROWID;",
	/* 3 -> 4: the codes of each event beside its payload (rows of earlier
	 * versions get theirs from their payload once, outbox__fill), and the
	 * history: what a receipt took out of the outbox, kept history-days for
	 * corrections (void, amend) and `kdc-event history`; purged by stored_ms */
	"ALTER TABLE outbox ADD COLUMN khom TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE outbox ADD COLUMN household TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE outbox ADD COLUMN member INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE history("
	" id BLOB PRIMARY KEY, seq INTEGER NOT NULL, occurred_ms INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, khom TEXT NOT NULL, household TEXT NOT NULL,"
	" member INTEGER NOT NULL, payload BLOB NOT NULL,"
	" stored_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX history_stored ON history(stored_ms);",
	/* 4 -> 5: whether the stored worklist is the ward's register (only then
	 * is a household missing from it refused when recording) */
	"ALTER TABLE worklist_info ADD COLUMN from_register INTEGER NOT NULL DEFAULT 1;",
};

struct kdc_outbox {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT_ALL];
	char *path;
	int in_tx;           /* a transaction is open */
	int batch;           /* ... opened by kdc_outbox_begin */
	int64_t seq;         /* cached next_seq inside a transaction, 0 = not read */
	int seq_dirty;       /* seq must be written back before commit */
	int history_days;    /* receipted events kept this long; 0 = not kept */
	char msg[256];
};

/* ---- helpers -------------------------------------------------------------- */

/* Turns a failed SQLite call into a kdc error and remembers why. */
static int outbox__fail(kdc_outbox *ob, int src, const char *what)
{
	snprintf(ob->msg, sizeof ob->msg, "%s: %s (%s)", what, sqlite3_errmsg(ob->db),
	         sqlite3_errstr(src));
	kdc_debug("outbox %s: %s", ob->path, ob->msg);
	return kdc_db_rc(ob->db, src);
}

/* Binds parameters 1..n by a format (kdc_db_bind). */
#define outbox__bind(ob, st, ...) outbox__bound((ob), kdc_db_bind((st), __VA_ARGS__))

static int outbox__bound(kdc_outbox *ob, int src)
{
	return src == SQLITE_OK ? KDC_OK : outbox__fail(ob, src, "bind");
}

/* Steps a statement that returns no row, then resets it. */
static int outbox__exec(kdc_outbox *ob, enum outbox_stmt s)
{
	sqlite3_stmt *st = ob->st[s];
	int src = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (src != SQLITE_DONE && src != SQLITE_ROW)
		return outbox__fail(ob, src, outbox__sql[s]);
	return KDC_OK;
}

/* Steps a statement returning one integer. */
static int outbox__int(kdc_outbox *ob, enum outbox_stmt s, int64_t *out)
{
	sqlite3_stmt *st = ob->st[s];
	int src = sqlite3_step(st), rc = KDC_OK;

	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (src == SQLITE_DONE)
		rc = KDC_ERR_NOT_FOUND;
	else
		rc = outbox__fail(ob, src, outbox__sql[s]);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int outbox__tx_begin(kdc_outbox *ob)
{
	int rc;

	if (ob->in_tx)
		return KDC_OK; /* joins the open batch */
	if ((rc = outbox__exec(ob, ST_BEGIN)) != KDC_OK)
		return rc;
	ob->in_tx = 1;
	ob->seq = 0;
	ob->seq_dirty = 0;
	return KDC_OK;
}

static void outbox__tx_abort(kdc_outbox *ob)
{
	if (!ob->in_tx)
		return;
	/* a failed COMMIT or a full disk may already have rolled back */
	if (!sqlite3_get_autocommit(ob->db) && outbox__exec(ob, ST_ROLLBACK) != KDC_OK)
		kdc_error("outbox %s: rollback failed: %s", ob->path, ob->msg);
	ob->in_tx = 0;
	ob->batch = 0;
	ob->seq = 0;
	ob->seq_dirty = 0;
}

static int outbox__tx_commit(kdc_outbox *ob)
{
	int rc = KDC_OK;

	if (ob->seq_dirty) {
		if ((rc = outbox__bind(ob, ob->st[ST_SEQ_SET], "i", ob->seq)) != KDC_OK ||
		    (rc = outbox__exec(ob, ST_SEQ_SET)) != KDC_OK)
			goto cleanup;
	}
	rc = outbox__exec(ob, ST_COMMIT);
cleanup:
	if (rc != KDC_OK) {
		outbox__tx_abort(ob);
		return rc;
	}
	ob->in_tx = 0;
	ob->batch = 0;
	ob->seq = 0;
	ob->seq_dirty = 0;
	return KDC_OK;
}

/* Ends a transaction that a single call opened; inside a batch it is the
 * batch owner's to commit or roll back. */
static int outbox__tx_end(kdc_outbox *ob, int rc)
{
	if (ob->batch)
		return rc;
	if (rc != KDC_OK) {
		outbox__tx_abort(ob);
		return rc;
	}
	return outbox__tx_commit(ob);
}

/* ---- open and close ----------------------------------------------------- */

/* Rows recorded before the outbox kept topics (schema version 1) and codes
 * (version 3) get them from their payload, once, in one transaction. A
 * payload that does not decode keeps '' and is published on the device's own
 * topic. */
static int outbox__fill(kdc_outbox *ob, char *err, size_t errlen)
{
	sqlite3_stmt *get = NULL, *set = NULL;
	int src, rc = KDC_OK, n = 0;

	if ((src = sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK ||
	    (src = sqlite3_prepare_v2(ob->db, "SELECT id, payload, topic FROM outbox",
	                              -1, &get, NULL)) != SQLITE_OK ||
	    (src = sqlite3_prepare_v2(ob->db, "UPDATE outbox SET topic = ?2, khom = ?3, "
	                              "household = ?4, member = ?5 WHERE id = ?1",
	                              -1, &set, NULL)) != SQLITE_OK)
		goto fail;
	while ((src = sqlite3_step(get)) == SQLITE_ROW) {
		kdc_event_pb *ev = kdc__v1__event__unpack(NULL, (size_t)sqlite3_column_bytes(get, 1),
		                                          sqlite3_column_blob(get, 1));
		const unsigned char *had = sqlite3_column_text(get, 2);
		char topic[KDC_TOPIC_MAX + 1] = "";

		if (!ev)
			continue;
		if (had && *had)
			snprintf(topic, sizeof topic, "%s", (const char *)had);
		else if (!ev->ward || !ev->team || !ev->device ||
		         kdc_topic_events(topic, sizeof topic, ev->ward, ev->team, ev->device) < 0)
			topic[0] = '\0';
		if ((src = sqlite3_bind_blob(set, 1, sqlite3_column_blob(get, 0),
		                             sqlite3_column_bytes(get, 0), SQLITE_TRANSIENT)) != SQLITE_OK ||
		    (src = sqlite3_bind_text(set, 2, topic, -1, SQLITE_TRANSIENT)) != SQLITE_OK ||
		    (src = sqlite3_bind_text(set, 3, ev->khom ? ev->khom : "", -1,
		                             SQLITE_TRANSIENT)) != SQLITE_OK ||
		    (src = sqlite3_bind_text(set, 4, ev->household ? ev->household : "", -1,
		                             SQLITE_TRANSIENT)) != SQLITE_OK ||
		    (src = sqlite3_bind_int64(set, 5, (sqlite3_int64)ev->member)) != SQLITE_OK ||
		    (src = sqlite3_step(set)) != SQLITE_DONE) {
			kdc_event_free(ev);
			goto fail;
		}
		kdc_event_free(ev);
		sqlite3_reset(set);
		n++;
	}
	if (src != SQLITE_DONE || (src = sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if (n)
		kdc_info("outbox %s: the topics and codes of %d events recorded by an earlier "
		         "version are kept now", ob->path, n);
	goto cleanup;
fail:
	snprintf(err, errlen, "outbox %s: keeping the topics and codes of earlier events: %s",
	         ob->path, sqlite3_errmsg(ob->db));
	rc = kdc_db_rc(ob->db, src);
	if (rc == KDC_OK)
		rc = KDC_ERR_DB;
	if (!sqlite3_get_autocommit(ob->db))
		sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
cleanup:
	sqlite3_finalize(get);
	sqlite3_finalize(set);
	return rc;
}

/* mkdir -p with mode 0700 for each folder it makes (existing ones are left
 * as they are). path is changed in place and restored. */
static int outbox__make_folders(char *path, char *err, size_t errlen)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create the folder %s for the outbox: %s",
			         path, strerror(errno));
			*p = c;
			return KDC_ERR_IO;
		}
		*p = c;
		if (c == '\0')
			return KDC_OK;
	}
}

int kdc_outbox_default_path(const char *device, char **out, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char dir[4096];
	size_t len;
	int rc;

	*out = NULL;
	if (!device || !kdc_code_valid(device)) {
		snprintf(err, errlen, "outbox is not set and there is no valid device code to name "
		         "one: give 'device = CODE' (or 'outbox = FILE') in the config file");
		return KDC_ERR_CONFIG;
	}
	/* XDG: a relative XDG_DATA_HOME is invalid and is ignored */
	if (xdg && xdg[0] == '/') {
		snprintf(dir, sizeof dir, "%s/kdc", xdg);
	} else {
		if (!home || home[0] != '/') {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home || home[0] != '/') {
			snprintf(err, errlen, "outbox is not set and this user has no home folder: "
			         "give 'outbox = FILE' in the config file");
			return KDC_ERR_CONFIG;
		}
		snprintf(dir, sizeof dir, "%s/.local/share/kdc", home);
	}
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	if ((rc = outbox__make_folders(dir, err, errlen)) != KDC_OK)
		return rc;
	len += strlen("/outbox-.db") + strlen(device) + 1;
	if (!(*out = malloc(len))) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	snprintf(*out, len, "%s/outbox-%s.db", dir, device);
	return KDC_OK;
}

int kdc_outbox_open(const char *path, kdc_outbox **out, char *err, size_t errlen)
{
	const struct kdc_db_opts dbo = { "outbox", 1, OUTBOX_BUSY_TIMEOUT_MS, 0 };
	kdc_outbox *ob = NULL;
	char msg[400];
	int rc, found = 0, version;

	*out = NULL;
	if (!path || !*path) {
		snprintf(err, errlen, "no outbox path given");
		return KDC_ERR_CONFIG;
	}
	if (!(ob = calloc(1, sizeof *ob)) || !(ob->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		rc = KDC_ERR_NOMEM;
		goto cleanup;
	}
	ob->history_days = KDC_OUTBOX_HISTORY_DAYS;
	if ((rc = kdc_db_open(path, &dbo, &ob->db, err, errlen)) != KDC_OK ||
	    (rc = kdc_db_migrate(ob->db, "outbox", path, outbox__migrations,
	                         (int)(sizeof outbox__migrations / sizeof outbox__migrations[0]),
	                         &found, &version, err, errlen)) != KDC_OK)
		goto cleanup;
	if (found > 0 && found < 4 && (rc = outbox__fill(ob, err, errlen)) != KDC_OK)
		goto cleanup;
	if ((rc = kdc_db_prepare(ob->db, outbox__sql, ob->st, ST_COUNT_ALL, msg, sizeof msg)) != KDC_OK) {
		snprintf(err, errlen, "outbox %s: %s", path, msg);
		goto cleanup;
	}
	*out = ob;
	ob = NULL;
	rc = KDC_OK;
cleanup:
	kdc_outbox_close(ob);
	return rc;
}

void kdc_outbox_close(kdc_outbox *ob)
{
	int src;

	if (!ob)
		return;
	if (ob->db) {
		outbox__tx_abort(ob);
		for (int i = 0; i < ST_COUNT_ALL; i++)
			sqlite3_finalize(ob->st[i]);
		if ((src = sqlite3_close(ob->db)) != SQLITE_OK)
			kdc_error("outbox %s: close failed: %s", ob->path, sqlite3_errstr(src));
	}
	free(ob->path);
	free(ob);
}

const char *kdc_outbox_errmsg(kdc_outbox *ob)
{
	return ob->msg;
}

sqlite3 *kdc_outbox_sqlite(kdc_outbox *ob)
{
	return ob->db;
}

int kdc_outbox_fail(kdc_outbox *ob, int src, const char *what)
{
	return outbox__fail(ob, src, what);
}

/* ---- batches ---------------------------------------------------------------- */

int kdc_outbox_begin(kdc_outbox *ob)
{
	int rc;

	if (ob->in_tx)
		return KDC_ERR_BUSY; /* batches do not nest */
	if ((rc = outbox__tx_begin(ob)) != KDC_OK)
		return rc;
	ob->batch = 1;
	return KDC_OK;
}

int kdc_outbox_commit(kdc_outbox *ob)
{
	if (!ob->batch)
		return KDC_ERR_INVAL;
	return outbox__tx_commit(ob);
}

void kdc_outbox_rollback(kdc_outbox *ob)
{
	if (ob->batch)
		outbox__tx_abort(ob);
}

/* ---- record ------------------------------------------------------------------ */

int kdc_outbox_record(kdc_outbox *ob, kdc_event_pb *ev, int64_t now_ms,
                      uint8_t id[KDC_UUID_LEN], int64_t *seq_out, struct kdc_verdict *v)
{
	uint8_t buf[KDC_MAX_EVENT_BYTES];
	char topic[KDC_TOPIC_MAX + 1];
	size_t len;
	int kind, rc;

	if (kdc_uuid7(id, now_ms) != KDC_OK)
		return KDC_ERR_IO;
	ev->id.data = id;
	ev->id.len = KDC_UUID_LEN;
	/* validate before touching the file: a refused event must not use up a
	 * sequence number (the aggregator watches for gaps); any seq > 0 passes */
	ev->seq = 1;
	if (kdc_event_validate(ev, NULL, NULL, now_ms, v) != 0)
		return KDC_ERR_INVAL;
	kind = kdc_event_kind(ev);

	if ((rc = outbox__tx_begin(ob)) != KDC_OK)
		return rc;
	if (ob->seq == 0 && (rc = outbox__int(ob, ST_SEQ_GET, &ob->seq)) != KDC_OK) {
		if (rc == KDC_ERR_NOT_FOUND) {
			snprintf(ob->msg, sizeof ob->msg, "meta table has no next_seq");
			rc = KDC_ERR_DB;
		}
		goto cleanup;
	}
	ev->seq = (uint64_t)ob->seq;
	len = kdc__v1__event__get_packed_size(ev);
	if (len > sizeof buf) {
		/* cannot happen with validated codes; refuse rather than truncate */
		if (v) {
			v->reason = KDC__V1__REJECT_REASON__REJECT_REASON_TOO_LARGE;
			snprintf(v->detail, sizeof v->detail, "event is %zu bytes, the limit is %d",
			         len, KDC_MAX_EVENT_BYTES);
		}
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	kdc__v1__event__pack(ev, buf);
	/* the server's own check of what it will receive: every string over its
	 * length on the wire, not up to a NUL */
	if (kdc_event_wire_check(buf, len, v) != 0) {
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	if (kdc_topic_events(topic, sizeof topic, ev->ward, ev->team, ev->device) < 0) {
		snprintf(ob->msg, sizeof ob->msg, "codes too long for a topic");
		rc = KDC_ERR_INVAL;
		goto cleanup;
	}
	if ((rc = outbox__bind(ob, ob->st[ST_INSERT], "biiiibttti", (const void *)id,
	                       (size_t)KDC_UUID_LEN, ob->seq, now_ms, (int64_t)ev->occurred_ms,
	                       (int64_t)kind, (const void *)buf, len, (const char *)topic,
	                       (const char *)ev->khom, (const char *)ev->household,
	                       (int64_t)ev->member)) != KDC_OK)
		goto cleanup;
	if ((rc = outbox__exec(ob, ST_INSERT)) != KDC_OK)
		goto cleanup;
	if (seq_out)
		*seq_out = ob->seq;
	ob->seq++;
	ob->seq_dirty = 1;
cleanup:
	/* in a batch a refused event wrote nothing and the batch goes on; after a
	 * database error the batch owner rolls back */
	return outbox__tx_end(ob, rc);
}

/* ---- receipts ------------------------------------------------------------------ */

int kdc_outbox_apply_receipt(kdc_outbox *ob, const kdc_receipt_pb *r,
                             struct kdc_outbox_applied *res)
{
	return kdc_outbox_apply_receipt_at(ob, r, kdc_now_ms(), res);
}

int kdc_outbox_apply_receipt_at(kdc_outbox *ob, const kdc_receipt_pb *r, int64_t now_ms,
                                struct kdc_outbox_applied *res)
{
	struct kdc_outbox_applied a = { 0, 0, 0 };
	int rc;

	if ((rc = outbox__tx_begin(ob)) != KDC_OK)
		return rc;
	for (size_t i = 0; i < r->n_committed; i++) {
		const ProtobufCBinaryData *id = &r->committed[i];
		if (id->len != KDC_UUID_LEN) {
			a.unknown++;
			continue;
		}
		/* the history's copy first, in the same transaction: a stored
		 * event can still be corrected from this device */
		if (ob->history_days > 0 &&
		    ((rc = outbox__bind(ob, ob->st[ST_KEEP], "bi", (const void *)id->data, id->len,
		                        now_ms)) != KDC_OK ||
		     (rc = outbox__exec(ob, ST_KEEP)) != KDC_OK))
			goto cleanup;
		if ((rc = outbox__bind(ob, ob->st[ST_DELETE], "b", (const void *)id->data,
		                       id->len)) != KDC_OK ||
		    (rc = outbox__exec(ob, ST_DELETE)) != KDC_OK)
			goto cleanup;
		if (sqlite3_changes(ob->db) > 0)
			a.committed++;
		else
			a.unknown++;
	}
	for (size_t i = 0; i < r->n_rejected; i++) {
		const Kdc__V1__Rejection *rj = r->rejected[i];
		if (!rj || rj->id.len != KDC_UUID_LEN) {
			a.unknown++;
			continue;
		}
		if ((rc = outbox__bind(ob, ob->st[ST_REJECT], "bit", (const void *)rj->id.data,
		                       rj->id.len, (int64_t)rj->reason,
		                       rj->detail ? rj->detail : "")) != KDC_OK ||
		    (rc = outbox__exec(ob, ST_REJECT)) != KDC_OK)
			goto cleanup;
		if (sqlite3_changes(ob->db) > 0)
			a.rejected++;
		else
			a.unknown++;
	}
cleanup:
	rc = outbox__tx_end(ob, rc);
	if (rc == KDC_OK && res)
		*res = a;
	return rc;
}

/* ---- listing and sending ---------------------------------------------------- */

static void outbox__row(sqlite3_stmt *st, struct kdc_outbox_row *row)
{
	const void *id = sqlite3_column_blob(st, 0);
	const unsigned char *detail, *topic;

	memset(row, 0, sizeof *row);
	if (id && sqlite3_column_bytes(st, 0) == KDC_UUID_LEN)
		memcpy(row->id, id, KDC_UUID_LEN);
	row->seq = sqlite3_column_int64(st, 1);
	row->created_ms = sqlite3_column_int64(st, 2);
	row->occurred_ms = sqlite3_column_int64(st, 3);
	row->kind = sqlite3_column_int(st, 4);
	row->state = sqlite3_column_int(st, 5);
	row->sent_count = sqlite3_column_int64(st, 6);
	row->last_sent_ms = sqlite3_column_int64(st, 7);
	row->reject_reason = sqlite3_column_int(st, 8);
	detail = sqlite3_column_text(st, 9);
	row->reject_detail = detail ? (const char *)detail : "";
	row->payload = sqlite3_column_blob(st, 10);
	row->payload_len = (size_t)sqlite3_column_bytes(st, 10);
	topic = sqlite3_column_text(st, 11);
	row->topic = topic ? (const char *)topic : "";
}

/* Steps a bound row query, handing every row to cb. */
static int outbox__rows(kdc_outbox *ob, enum outbox_stmt s, kdc_outbox_row_cb cb,
                        void *ud, int *n)
{
	sqlite3_stmt *st = ob->st[s];
	struct kdc_outbox_row row;
	int src, rc = KDC_OK, count = 0;

	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		outbox__row(st, &row);
		count++;
		if ((rc = cb(ud, &row)) != 0)
			break;
	}
	if (rc == KDC_OK && src != SQLITE_DONE)
		rc = outbox__fail(ob, src, outbox__sql[s]);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (n)
		*n = count;
	return rc;
}

int kdc_outbox_due(kdc_outbox *ob, int64_t after_seq, int64_t upto_seq, int64_t sent_before_ms,
                   int64_t now_ms, int limit, kdc_outbox_row_cb cb, void *ud, int *n)
{
	int64_t future = now_ms > INT64_MAX - OUTBOX_CLOCK_BACK_MS ? INT64_MAX
	                                                            : now_ms + OUTBOX_CLOCK_BACK_MS;
	int rc;

	if (n)
		*n = 0;
	if (sent_before_ms == INT64_MAX) {
		if ((rc = outbox__bind(ob, ob->st[ST_DUE_ALL], "iii", after_seq, upto_seq,
		                       (int64_t)limit)) != KDC_OK)
			return rc;
		return outbox__rows(ob, ST_DUE_ALL, cb, ud, n);
	}
	if ((rc = outbox__bind(ob, ob->st[ST_DUE_SENT], "iiiii", after_seq, upto_seq,
	                       sent_before_ms, future, (int64_t)limit)) != KDC_OK)
		return rc;
	return outbox__rows(ob, ST_DUE_SENT, cb, ud, n);
}

int kdc_outbox_list(kdc_outbox *ob, int state, kdc_outbox_row_cb cb, void *ud)
{
	int rc;

	if ((rc = outbox__bind(ob, ob->st[ST_LIST], "i", (int64_t)state)) != KDC_OK)
		return rc;
	return outbox__rows(ob, ST_LIST, cb, ud, NULL);
}

int kdc_outbox_mark_sent(kdc_outbox *ob, const int64_t *seqs, size_t n, int64_t now_ms)
{
	int rc, relaxed = 0;

	if (n == 0)
		return KDC_OK;
	if (!ob->in_tx) {
		/* NORMAL in WAL mode: this commit is not fsynced on its own */
		if ((rc = outbox__exec(ob, ST_SYNC_NORMAL)) != KDC_OK)
			return rc;
		relaxed = 1;
	}
	if ((rc = outbox__tx_begin(ob)) != KDC_OK)
		goto cleanup;
	for (size_t i = 0; i < n && rc == KDC_OK; i++) {
		if ((rc = outbox__bind(ob, ob->st[ST_MARK], "ii", seqs[i], now_ms)) == KDC_OK)
			rc = outbox__exec(ob, ST_MARK);
	}
	rc = outbox__tx_end(ob, rc);
cleanup:
	if (relaxed) {
		int rc2 = outbox__exec(ob, ST_SYNC_FULL);
		if (rc == KDC_OK)
			rc = rc2;
	}
	return rc;
}

int kdc_outbox_count(kdc_outbox *ob, int state, int64_t *n)
{
	return kdc_outbox_count_upto(ob, state, INT64_MAX, n);
}

int kdc_outbox_count_upto(kdc_outbox *ob, int state, int64_t upto_seq, int64_t *n)
{
	int rc;

	if ((rc = outbox__bind(ob, ob->st[ST_COUNT], "ii", (int64_t)state, upto_seq)) != KDC_OK)
		return rc;
	return outbox__int(ob, ST_COUNT, n);
}

int kdc_outbox_next_seq(kdc_outbox *ob, int64_t *seq)
{
	if (ob->in_tx && ob->seq) {
		*seq = ob->seq;
		return KDC_OK;
	}
	return outbox__int(ob, ST_SEQ_GET, seq);
}

/* ---- history ---------------------------------------------------------------------- */

void kdc_outbox_set_history_days(kdc_outbox *ob, int days)
{
	ob->history_days = days < 0 ? 0 : days;
}

int kdc_outbox_history_days(kdc_outbox *ob)
{
	return ob->history_days;
}

int kdc_outbox_purge_history(kdc_outbox *ob, int64_t now_ms, int64_t *purged)
{
	int64_t keep_ms = (int64_t)ob->history_days * 86400000;
	int64_t before = ob->history_days == 0 || now_ms < INT64_MIN + keep_ms ? INT64_MAX
	                                                                         : now_ms - keep_ms;
	int64_t any = 0;
	int rc;

	if (purged)
		*purged = 0;
	/* a read first: opening the outbox to record must not queue for the
	 * write lock (a sync may hold it) when there is nothing to purge */
	if ((rc = outbox__bind(ob, ob->st[ST_PURGE_ANY], "i", before)) != KDC_OK ||
	    (rc = outbox__int(ob, ST_PURGE_ANY, &any)) != KDC_OK || any == 0)
		return rc;
	if ((rc = outbox__tx_begin(ob)) != KDC_OK)
		return rc;
	if ((rc = outbox__bind(ob, ob->st[ST_PURGE], "i", before)) == KDC_OK &&
	    (rc = outbox__exec(ob, ST_PURGE)) == KDC_OK && purged)
		*purged = sqlite3_changes(ob->db);
	return outbox__tx_end(ob, rc);
}
