/* source.c: see source.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdc_err.h"
#include "kdc_log.h"
#include "source.h"

#define SOURCE_SCHEMA_VERSION 6 /* aggregator/store.h KDC_STORE_SCHEMA_VERSION */
/* the closed months (4), the register's business column (5) and the events'
 * flags (6) are all read: an older database must be opened once by this
 * build's aggregator, which migrates it */
#define SOURCE_SCHEMA_MIN 6

/* "file:" URI of path with every byte outside [A-Za-z0-9/._~-] escaped as
 * %XX, so '?', '#' and '%' in a path stay part of it. malloc'd or NULL. */
static char *source__uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *uri = malloc(5 + 3 * n + strlen(query) + 1), *p;

	if (!uri)
		return NULL;
	p = uri + sprintf(uri, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    strchr("/._~-", *c)) {
			*p++ = (char)*c;
		} else {
			*p++ = '%';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 15];
		}
	}
	strcpy(p, query);
	return uri;
}

static int source__exists(const char *path, const char *suffix)
{
	char name[4096];
	struct stat st;

	if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix) >= sizeof name)
		return 1; /* cannot tell: take the careful path */
	return stat(name, &st) == 0;
}

/* The schema version, and the columns this program reads. */
static int source__check(struct kdc_source *s, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &st, NULL);

	if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW)
		s->version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (src == SQLITE_NOTADB || src == SQLITE_CORRUPT) {
		snprintf(err, errlen, "%s is not an SQLite database (not a kdc events database)", path);
		return KDC_ERR_DB;
	}
	if (src != SQLITE_ROW) {
		snprintf(err, errlen, "%s is not a kdc events database (no schema version: %s)", path,
		         sqlite3_errmsg(s->db));
		return src == SQLITE_ERROR ? KDC_ERR_DB : KDC_ERR_IO;
	}
	if (s->version < SOURCE_SCHEMA_MIN || s->version > SOURCE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s has schema version %d; this kdc-report reads version %d (%s)",
		         path, s->version, SOURCE_SCHEMA_VERSION,
		         s->version < SOURCE_SCHEMA_VERSION
		                 ? "start this version's kdc-aggregator on it once, to bring it up to date"
		                 : "use the kdc-report of the kdc that wrote it");
		return KDC_ERR_DB;
	}
	src = sqlite3_prepare_v2(s->db, "SELECT e.id, e.voided_by, v.target, v.reason FROM events e"
	                         " JOIN voids v ON v.void_id = e.id LIMIT 0", -1, &st, NULL);
	sqlite3_finalize(st);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "%s is not a kdc events database: %s", path, sqlite3_errmsg(s->db));
		return KDC_ERR_DB;
	}
	return KDC_OK;
}

static int source__open_db(struct kdc_source *s, const char *path, char *err, size_t errlen)
{
	char *uri = source__uri(path, s->immutable ? "?mode=ro&immutable=1" : "?mode=ro");
	int src;

	if (!uri) {
		snprintf(err, errlen, "out of memory");
		return KDC_ERR_NOMEM;
	}
	src = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	free(uri);
	if (src == SQLITE_OK)
		src = sqlite3_busy_timeout(s->db, 5000);
	if (src != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
		return KDC_ERR_IO;
	}
	return KDC_OK;
}

int kdc_source_open(struct kdc_source *s, const char *path, char *err, size_t errlen)
{
	int rc;

	memset(s, 0, sizeof *s);
	if (access(path, F_OK) != 0) {
		snprintf(err, errlen, "there is no database %s (give the aggregator's --db, or --config "
		         "with its aggregator.conf)", path);
		return KDC_ERR_NOT_FOUND;
	}
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "cannot read %s: %s (run as the ward's service user, or root)", path,
		         strerror(errno));
		return KDC_ERR_IO;
	}
	if (!source__exists(path, "-wal")) {
		s->immutable = 1;
		if (stat(path, &s->st) != 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			return KDC_ERR_IO;
		}
	}
	if ((rc = source__open_db(s, path, err, errlen)) != KDC_OK ||
	    (rc = source__check(s, path, err, errlen)) != KDC_OK)
		kdc_source_close(s);
	return rc;
}

int kdc_source_changed(const struct kdc_source *s, const char *path)
{
	struct stat now;

	if (!s->immutable)
		return 0;
	if (stat(path, &now) != 0)
		return 1;
	return now.st_ino != s->st.st_ino || now.st_size != s->st.st_size ||
	       now.st_mtim.tv_sec != s->st.st_mtim.tv_sec || now.st_mtim.tv_nsec != s->st.st_mtim.tv_nsec;
}

/* Every statement is finalized by then: close cannot be busy. */
void kdc_source_close(struct kdc_source *s)
{
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		kdc_warn("closing the database: %s", sqlite3_errmsg(s->db));
	s->db = NULL;
}
