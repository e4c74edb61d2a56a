/* source.h: the ward's events database, opened for reading only, while the
 * aggregator writes to it or while it is stopped.
 *
 * Never written, never created: a missing file is an error, the file is
 * opened SQLITE_OPEN_READONLY, and no statement that writes is run.
 *  - While an aggregator runs (or after one died) the WAL files exist, and
 *    SQLite reads through them: a snapshot of the last commit, taken when
 *    the read starts, while the aggregator goes on committing (WAL lets one
 *    writer and any number of readers work at once).
 *  - When there is no -wal file (the aggregator stopped cleanly), a plain
 *    read-only open would create an empty -wal and -shm next to the file,
 *    owned by whoever runs the report: root's would keep the aggregator
 *    (user kdc) from opening its database. So the file is read as immutable
 *    then (nothing created, no locks), and kdc_source_changed tells whether
 *    somebody wrote to it meanwhile (an aggregator started, a register
 *    import ran): the rows read may then mix two states, and the caller
 *    says so instead of handing them on.
 * The file must be a kdc events database of schema version 6 (the one this
 * build writes: events with voided_by and flags, voids, closed months, a
 * register of households and businesses). */
#ifndef KDC_REPORT_SOURCE_H
#define KDC_REPORT_SOURCE_H

#include <sqlite3.h>
#include <stddef.h>
#include <sys/stat.h>

struct kdc_source {
	sqlite3 *db;
	int immutable;    /* opened as immutable (no -wal file existed) */
	struct stat st;   /* the file when opened (immutable only) */
	int version;      /* schema_version found */
};

/* Opens path as above. KDC_OK, or KDC_ERR_NOT_FOUND (no such file),
 * KDC_ERR_IO (cannot read it), KDC_ERR_DB (not a kdc events database, or
 * another version) with a plain reason in err; *s is then closed. */
int kdc_source_open(struct kdc_source *s, const char *path, char *err, size_t errlen);
/* 1 when an immutable source's file changed since it was opened (size,
 * modification time or inode), else 0. */
int kdc_source_changed(const struct kdc_source *s, const char *path);
/* Closes the handle. Fine on a closed source. */
void kdc_source_close(struct kdc_source *s);

#endif
