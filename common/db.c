/* db.c: see kdc_db.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdc_db.h"
#include "kdc_err.h"
#include "kdc_log.h"
#include "kdc_prog.h"
#include "kdc_util.h"

int kdc_db_rc(sqlite3 *db, int src)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return KDC_OK;
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

/* Creates the file with mode 0600 before SQLite sees it (SQLite would use
 * 0644 under the usual umask), or tightens an existing file: kdc's files hold
 * household-level personal data. SQLite gives the -wal and -shm files the
 * database file's mode. */
static int db__private_file(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open or create %s %s: %s", what, path, strerror(errno));
		return KDC_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat %s %s: %s", what, path, strerror(errno));
		close(fd);
		return KDC_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a regular file", what, path);
		close(fd);
		return KDC_ERR_IO;
	}
	if ((st.st_mode & 077) != 0) {
		if (fchmod(fd, 0600) != 0) {
			snprintf(err, errlen, "%s %s is readable by others (mode %03o) and cannot be made private: %s",
			         what, path, (unsigned)(st.st_mode & 0777), strerror(errno));
			close(fd);
			return KDC_ERR_IO;
		}
		kdc_warn("%s %s was readable by others (mode %03o): changed to 600",
		         what, path, (unsigned)(st.st_mode & 0777));
	}
	close(fd);
	return KDC_OK;
}

/* The -wal and -shm files of a file copied or created by another tool may
 * have a looser mode than the file itself. */
static void db__private_sidecars(const char *path)
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

static int db__exec(sqlite3 *db, const char *sql, const char *what, const char *path,
                    char *err, size_t errlen)
{
	int src = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (src == SQLITE_OK)
		return KDC_OK;
	snprintf(err, errlen, "%s %s: %s: %s", what, path, sql, sqlite3_errmsg(db));
	return kdc_db_rc(db, src);
}

static int db__pragmas(sqlite3 *db, const struct kdc_db_opts *o, const char *path,
                       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	char sql[128];
	int src, rc;

	if ((src = sqlite3_busy_timeout(db, o->busy_timeout_ms)) != SQLITE_OK) {
		snprintf(err, errlen, "%s %s: busy timeout: %s", o->what, path, sqlite3_errmsg(db));
		return kdc_db_rc(db, src);
	}
	/* journal_mode answers with the mode it got: an in-memory or read-only
	 * file, or a file system without shared memory, can stay in another.
	 * While another connection opens the same new file (a device recording
	 * while it syncs), it can answer SQLITE_BUSY without calling the busy
	 * handler: asked again until the busy timeout. */
	src = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (src == SQLITE_OK) {
		int64_t until = kdc_mono_ms() + o->busy_timeout_ms;
		while ((src = sqlite3_step(st)) == SQLITE_BUSY && kdc_mono_ms() < until) {
			sqlite3_reset(st);
			kdc_sleep_ms(10);
		}
	}
	if (src != SQLITE_ROW) {
		snprintf(err, errlen, "%s %s: journal_mode: %s", o->what, path, sqlite3_errmsg(db));
		rc = kdc_db_rc(db, src);
		sqlite3_finalize(st);
		return rc == KDC_OK ? KDC_ERR_DB : rc;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "%s %s: journal_mode: SQLite kept '%s', WAL is required",
		         o->what, path, mode ? mode : "");
		sqlite3_finalize(st);
		return KDC_ERR_DB;
	}
	sqlite3_finalize(st);
	snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", o->synchronous_full ? "FULL" : "NORMAL");
	if ((rc = db__exec(db, sql, o->what, path, err, errlen)) != KDC_OK)
		return rc;
	if (o->cache_kib > 0) {
		snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", o->cache_kib);
		if ((rc = db__exec(db, sql, o->what, path, err, errlen)) != KDC_OK ||
		    (rc = db__exec(db, "PRAGMA temp_store=MEMORY", o->what, path, err, errlen)) != KDC_OK)
			return rc;
	}
	return KDC_OK;
}

int kdc_db_open(const char *path, const struct kdc_db_opts *o, sqlite3 **out,
                char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int src, rc;

	*out = NULL;
	if (!path || !*path) {
		snprintf(err, errlen, "no %s path given", o->what);
		return KDC_ERR_CONFIG;
	}
	if ((rc = db__private_file(path, o->what, err, errlen)) != KDC_OK)
		return rc;
	db__private_sidecars(path);
	/* NOMUTEX: one thread uses the handle; SQLite's own locking is wasted */
	src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                      SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s %s: %s", o->what, path,
		         db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
		sqlite3_close(db);
		return KDC_ERR_DB;
	}
	sqlite3_extended_result_codes(db, 1);
	if ((rc = db__pragmas(db, o, path, err, errlen)) != KDC_OK) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return KDC_OK;
}

/* The version in schema_version, creating the table (version 0) in a new
 * file. */
static int db__version(sqlite3 *db, int *version, char *msg, size_t msglen)
{
	sqlite3_stmt *get = NULL;
	int src, rc = KDC_OK;

	*version = 0;
	src = sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
	                   NULL, NULL, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &get, NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(get)) == SQLITE_ROW) {
		*version = sqlite3_column_int(get, 0);
		if ((src = sqlite3_step(get)) == SQLITE_ROW) {
			snprintf(msg, msglen, "schema_version has more than one row");
			rc = KDC_ERR_DB;
		}
	} else if (src == SQLITE_DONE) {
		src = sqlite3_exec(db, "INSERT INTO schema_version(version) VALUES(0)", NULL, NULL, NULL);
		if (src == SQLITE_OK)
			src = SQLITE_DONE;
	}
	if (rc == KDC_OK && src != SQLITE_DONE) {
		snprintf(msg, msglen, "read schema_version: %s", sqlite3_errmsg(db));
		rc = kdc_db_rc(db, src);
		if (rc == KDC_OK)
			rc = KDC_ERR_DB;
	}
	sqlite3_finalize(get);
	return rc;
}

int kdc_db_migrate(sqlite3 *db, const char *what, const char *path,
                   const char *const *steps, int nsteps, int *found, int *version,
                   char *err, size_t errlen)
{
	sqlite3_stmt *set = NULL;
	char msg[512];
	int src, rc, v = 0;

	if ((src = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		snprintf(msg, sizeof msg, "begin migration: %s", sqlite3_errmsg(db));
		rc = kdc_db_rc(db, src);
		goto fail;
	}
	if ((rc = db__version(db, &v, msg, sizeof msg)) != KDC_OK)
		goto rollback;
	if (found)
		*found = v;
	if (v < 0 || v > nsteps) {
		snprintf(msg, sizeof msg, "has schema version %d, this %s knows versions up to %d "
		         "(it was written by a newer version: upgrade %s)", v, kdc_prog_name(), nsteps,
		         kdc_prog_name());
		rc = KDC_ERR_DB;
		goto rollback;
	}
	if ((src = sqlite3_prepare_v2(db, "UPDATE schema_version SET version = ?1", -1, &set,
	                              NULL)) != SQLITE_OK)
		goto sqlfail;
	for (; v < nsteps; v++) {
		if ((src = sqlite3_exec(db, steps[v], NULL, NULL, NULL)) != SQLITE_OK ||
		    (src = sqlite3_bind_int(set, 1, v + 1)) != SQLITE_OK ||
		    (src = sqlite3_step(set)) != SQLITE_DONE)
			goto sqlfail;
		sqlite3_reset(set);
		kdc_info("%s %s: schema migrated from version %d to %d", what, path, v, v + 1);
	}
	if ((src = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto sqlfail;
	sqlite3_finalize(set);
	*version = v;
	return KDC_OK;
sqlfail:
	snprintf(msg, sizeof msg, "migration to version %d: %s", v + 1, sqlite3_errmsg(db));
	rc = kdc_db_rc(db, src);
	if (rc == KDC_OK)
		rc = KDC_ERR_DB;
rollback:
	/* the failure is what matters; a failing ROLLBACK adds nothing */
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
fail:
	sqlite3_finalize(set);
	snprintf(err, errlen, "%s %s: %s", what, path, msg);
	return rc;
}

int kdc_db_prepare(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, size_t n,
                   char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int src = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
		if (src != SQLITE_OK) {
			int rc = kdc_db_rc(db, src);
			snprintf(err, errlen, "cannot prepare '%s': %s", sql[i], sqlite3_errmsg(db));
			return rc == KDC_OK ? KDC_ERR_DB : rc;
		}
	}
	return KDC_OK;
}

void kdc_db_finalize(sqlite3_stmt **st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
}

int kdc_db_bind(sqlite3_stmt *st, const char *fmt, ...)
{
	va_list ap;
	int src = SQLITE_OK, i = 1;

	va_start(ap, fmt);
	for (; *fmt && src == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			src = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			src = sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
			break;
		}
		case 't':
			src = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		default:
			src = SQLITE_MISUSE;
		}
	}
	va_end(ap);
	return src;
}
