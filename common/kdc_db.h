/* kdc_db.h: the one SQLite layer of kdc, used by the aggregator's store and
 * statistics and by the device's outbox:
 *  - kdc_db_open: a private file (mode 0600, created so before SQLite sees
 *    it, a looser one tightened), WAL, the synchronous level, busy timeout
 *    and page cache;
 *  - kdc_db_migrate: one migration scheme, a one-row `schema_version` table
 *    and a list of steps, step i taking the schema from version i to i + 1,
 *    all in one IMMEDIATE transaction;
 *  - kdc_db_prepare/kdc_db_finalize: tables of statements prepared once;
 *  - kdc_db_rc: SQLite's result codes as kdc errors (a full disk is
 *    KDC_ERR_DISK_FULL whether SQLite says SQLITE_FULL or an I/O error with
 *    ENOSPC);
 *  - kdc_db_bind: parameters 1..n bound by a format.
 * A handle belongs to one thread at a time (opened NOMUTEX). */
#ifndef KDC_DB_H
#define KDC_DB_H

#include <sqlite3.h>
#include <stddef.h>

struct kdc_db_opts {
	const char *what;       /* "database", "outbox": how messages name the file */
	int synchronous_full;   /* 1: PRAGMA synchronous=FULL; 0: NORMAL */
	int busy_timeout_ms;    /* wait this long for another process's lock */
	int cache_kib;          /* page cache in KiB; 0: SQLite's default */
};

/* Opens (creating if needed) the file at path as described above. KDC_OK
 * with *out set, or an error with a plain reason in err (and *out NULL). */
int kdc_db_open(const char *path, const struct kdc_db_opts *o, sqlite3 **out,
                char *err, size_t errlen);

/* Brings the schema to version nsteps: steps[v] (SQL, several statements
 * allowed) takes it from v to v + 1. A file of a newer version is refused and
 * left untouched. *found (when not NULL) is the version the file had, and
 * *version the version after. Two processes opening a new
 * file at once serialize on BEGIN IMMEDIATE; the second finds the work done.
 * Errors name what and path. */
int kdc_db_migrate(sqlite3 *db, const char *what, const char *path,
                   const char *const *steps, int nsteps, int *found, int *version,
                   char *err, size_t errlen);

/* Prepares n statements (persistent) into st[]; on failure st[] holds what
 * was prepared (finalize it) and err says which statement failed. */
int kdc_db_prepare(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, size_t n,
                   char *err, size_t errlen);
void kdc_db_finalize(sqlite3_stmt **st, size_t n);

/* The kdc error for SQLite result src on db (db may be NULL). */
int kdc_db_rc(sqlite3 *db, int src);

/* Binds parameters 1..n of st by fmt: 'i' int64_t, 'b' (const void *,
 * size_t), 't' const char * (NULL binds NULL); static data, not copied.
 * Returns SQLite's result code. */
int kdc_db_bind(sqlite3_stmt *st, const char *fmt, ...);

#endif
