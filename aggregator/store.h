/* store.h: the aggregator's SQLite database: stored events (one row per event
 * id, ever) and rejected payloads (kept with the reason, for the ward's IT
 * officer and the device's team member).
 *
 * The file is created with mode 0600 (it holds household-level data), runs in
 * WAL mode with `synchronous` from the configuration, and carries a
 * schema_version table that migrations move forward one step at a time.
 * Statements are prepared once at open.
 *
 * Threads: a kdc_store is used by one thread at a time (the writer thread in
 * kdc-aggregator). The sqlite3 handle it exposes belongs to the same thread.
 *
 * Errors: every function that can fail returns 0 or a kdc_err code:
 * KDC_ERR_DISK_FULL when SQLite (or the file system under it) ran out of
 * space, KDC_ERR_BUSY when another process held the database longer than
 * the busy timeout, KDC_ERR_NOMEM, else KDC_ERR_DB. kdc_store_errmsg() then
 * says what SQLite said. */
#ifndef KDC_STORE_H
#define KDC_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "event_row.h"

/* The schema version this build creates and understands. */
#define KDC_STORE_SCHEMA_VERSION 6
/* Rejected payloads are kept up to this many bytes (payload_len keeps the
 * full length): an event is at most 4 KiB, so this shows all of any event
 * and the start of anything larger. */
#define KDC_STORE_REJECTED_PAYLOAD_MAX (8 * 1024)
/* Refused payloads kept per device (by the device level of their topic):
 * the newest this many; older ones are deleted and counted in the table
 * rejected_dropped. At most about 200 x 8.4 KiB = 1.7 MiB per device, so a
 * device flooding junk cannot fill the disk: 3 devices of the pilot 5 MiB,
 * 40 devices of a large ward 67 MiB. A device with a real problem (a wrong
 * clock, an old version) shows it in its first few refusals. */
#define KDC_STORE_REJECTED_PER_DEVICE 200

typedef struct kdc_store kdc_store;

struct kdc_store_opts {
	int synchronous_full;   /* 1: PRAGMA synchronous=FULL (safe default); 0: NORMAL */
	int busy_timeout_ms;    /* wait this long for another process's lock */
	int cache_kib;          /* SQLite page cache, KiB */
};
#define KDC_STORE_OPTS_INIT { 1, 5000, 8192 }

/* Opens (creating if needed, mode 0600; a looser existing mode is tightened
 * with a warning) the database at path, switches it to WAL, and migrates the
 * schema to KDC_STORE_SCHEMA_VERSION. A database made by a newer version is
 * refused. opts may be NULL for the defaults. Returns NULL with a plain
 * reason in err. The caller owns the result: kdc_store_close(). */
kdc_store *kdc_store_open(const char *path, const struct kdc_store_opts *opts,
                          char *err, size_t errlen);
/* Finalizes the statements and closes the handle. Rolls back an open
 * transaction. NULL is fine. */
void kdc_store_close(kdc_store *s);

/* The SQLite handle (for the statistics tables, which live in the same file
 * and change in the same transactions). Owned by the store. While the
 * statistics are open its rollback hook is theirs (stats.h). */
sqlite3 *kdc_store_db(kdc_store *s);
/* The schema version found in the file (after migrations). */
int kdc_store_schema_version(kdc_store *s);
/* SQLite's message for the last failure (static until the next call). */
const char *kdc_store_errmsg(kdc_store *s);

/* Transactions. begin takes the write lock at once (BEGIN IMMEDIATE), so a
 * busy database is found here rather than halfway through a batch. After any
 * failure inside a transaction call kdc_store_rollback (safe even when SQLite
 * already rolled back by itself, as it may on a full disk). */
int kdc_store_begin(kdc_store *s);
int kdc_store_commit(kdc_store *s);
void kdc_store_rollback(kdc_store *s);

/* INSERT OR IGNORE of one event. *inserted is 1 when the row is new, 0 when
 * the id was already stored (a duplicate: still counts as committed). The row
 * is only read during the call. */
int kdc_store_add_event(kdc_store *s, const struct kdc_event_row *row, int *inserted);

/* The same for rows[0..n), in order, inside the open transaction:
 * inserted[i] = 1 when row i was new, 0 when its id was already stored or
 * came earlier in rows. Rows go KDC_STORE_ROWS_PER_INSERT to a statement;
 * a statement that meets a duplicate is undone (savepoint) and its rows are
 * stored one by one, so duplicates cost more than new rows. After an error
 * roll the transaction back. */
#define KDC_STORE_ROWS_PER_INSERT 16
int kdc_store_add_events(kdc_store *s, const struct kdc_event_row *rows, size_t n,
                         uint8_t *inserted);

/* One refused payload. Pointers are only read during kdc_store_add_rejected. */
struct kdc_rejected_row {
	int64_t received_ms;
	const char *topic;        /* as received (may be truncated) */
	const char *device;       /* NULL or "" when the topic did not say */
	const uint8_t *event_id;  /* NULL, or KDC_UUID_LEN bytes */
	int reason;               /* KDC__V1__REJECT_REASON__* */
	const char *detail;       /* plain words */
	const void *payload;      /* the bytes kept (at most 64 KiB are stored) */
	size_t payload_kept;      /* bytes at payload */
	size_t payload_len;       /* the payload's full length */
};
int kdc_store_add_rejected(kdc_store *s, const struct kdc_rejected_row *r);
/* Refused payloads deleted by the per-device budget since the store was
 * opened (their count per device is in rejected_dropped). */
int64_t kdc_store_rejected_dropped(const kdc_store *s);

/* Deletes a household's data, as personal-data law asks: every event of
 * that household code in that khóm (the same code in another khóm is another
 * household), the voids naming those events, and every refused payload whose
 * bytes or reason contain the code (a refused payload may not decode, so its
 * bytes are searched, in every khóm; a short code can match unrelated
 * garbage, which is then deleted too). Call inside a transaction
 * (kdc_store_begin), after kdc_store_secure_delete(s, 1) so that the deleted
 * rows are overwritten in the file, not just unlinked. The counts of deleted
 * rows go to *events and *rejected. The register and its log are
 * register_edit.h's. */
int kdc_store_forget_household(kdc_store *s, const char *khom, const char *household,
                               int64_t *events, int64_t *rejected);

/* Turns SQLite's secure_delete on or off for this connection: when on, every
 * deleted row is overwritten with zeros in the file. */
int kdc_store_secure_delete(kdc_store *s, int on);

/* Copies the write-ahead log into the database and truncates it, so that no
 * deleted data stays behind in the -wal file. Outside a transaction. */
int kdc_store_checkpoint(kdc_store *s);

#endif
